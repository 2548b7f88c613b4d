//! Import: a whole file validated against the store's column types and the scheme's `[columns]`
//! and `[values]`, then landed in one transaction.

use super::*;

/// What an import did.
#[derive(Debug)]
pub struct ImportReport {
    pub subject: Subject,
    pub rows: usize,
    pub imported: Imported,
    pub columns: Vec<Column>,
    /// Problems that are not errors (e.g. unused columns of an employees file).
    pub warnings: Vec<Diagnostic>,
}

/// A table cell as stored JSON.
pub(crate) fn cell_json(table: &Table, col: usize, row: u32, data: &Data) -> serde_json::Value {
    use serde_json::Value as J;
    if !table.present(col, row) {
        return J::Null;
    }
    let r = row as usize;
    match table.column(col) {
        DataColumn::Number(v) => serde_json::Number::from_f64(v[r]).map_or(J::Null, J::Number),
        DataColumn::Text(v) => v.get(r).map_or(J::Null, |s| J::String(data.dict.str(s).to_string())),
        DataColumn::Bool(v) => J::Bool(v[r] == 1),
        DataColumn::Date(v) => J::String(civil_from_days(v[r])),
        DataColumn::List(v) => J::Array(data.lists.get(v[r]).iter().map(|s| J::String(data.dict.str(*s).to_string())).collect()),
    }
}

/// The types declared for a subject, by the store and the active scheme.
pub(crate) fn declared_types(
    store: &mut dyn Store,
    subject: Subject,
    active: Option<&SchemeFile>,
) -> Result<BTreeMap<String, Type>, AppError> {
    let stored = store.columns(subject)?;
    let empty = BTreeMap::new();
    let scheme = match active {
        Some(sf) if subject == Subject::Deal => &sf.deal_columns,
        Some(sf) => &sf.columns,
        None => &empty,
    };
    Ok(declared(&stored, scheme))
}

/// Validates the whole file, then upserts it by id in one transaction. On any error nothing is
/// imported and every error is returned, located by line and column.
pub fn import(store: &mut dyn Store, subject: Subject, path: &Path, encoding: &Encodings, actor: &Actor) -> Result<ImportReport, AppError> {
    let prepared = prepare_import(store, subject, path, encoding)?;
    commit_import(store, prepared, actor)
}

/// A file read and validated, ready to land.
pub struct PreparedImport {
    subject: Subject,
    file: String,
    columns: Vec<Column>,
    rows: Vec<Row>,
    warnings: Vec<Diagnostic>,
}

/// Lands a validated file in one transaction.
pub fn commit_import(store: &mut dyn Store, p: PreparedImport, actor: &Actor) -> Result<ImportReport, AppError> {
    let imported = store.import(&allot_store::Import { subject: p.subject, file: &p.file, columns: &p.columns, rows: &p.rows }, actor)?;
    Ok(ImportReport { subject: p.subject, rows: p.rows.len(), imported, columns: p.columns, warnings: p.warnings })
}

/// Reads and validates a whole file against the store's column types; writes nothing.
pub fn prepare_import(store: &mut dyn Store, subject: Subject, path: &Path, encoding: &Encodings) -> Result<PreparedImport, AppError> {
    prepare_import_with(store, subject, path, encoding, None)
}

/// [`prepare_import`] with the scheme that is about to be applied (`allot sync`), whose `[columns]`
/// and `[values]` read the file, instead of the store's active one.
pub fn prepare_import_with(
    store: &mut dyn Store,
    subject: Subject,
    path: &Path,
    encoding: &Encodings,
    scheme: Option<(&str, &str)>,
) -> Result<PreparedImport, AppError> {
    let _span = tracing::info_span!("import", subject = subject.as_str()).entered();
    let file = path.display().to_string();
    let mut sheet = read_table(path, encoding.for_file(path)).map_err(AppError::Input)?;
    let mut warnings: Vec<Diagnostic> = Vec::new();
    // The scheme's `[columns]` name the file's headers and `[values]` normalise its values.
    // (An employees file has fixed columns: no scheme reads it.)
    let active = match (subject, scheme) {
        (Subject::Employee, _) => None,
        (_, Some((text, name))) => Some(SchemeFile::parse(text, name).map_err(AppError::Input)?),
        (_, None) => store.active_scheme()?.and_then(|a| SchemeFile::parse(&a.text, "the active scheme").ok()),
    };
    let builtin = ValueMaps::builtin();
    let values = active.as_ref().map_or(&builtin, |sf| &sf.values);
    if let (Some(sf), Subject::Client | Subject::Deal) = (&active, subject) {
        let renamed = sf.rename_headers(&mut sheet, subject == Subject::Deal);
        if !renamed.is_empty() {
            return Err(AppError::Input(renamed));
        }
    }
    let (columns, rows) = match subject {
        Subject::Client | Subject::Deal => {
            let declared = declared_types(store, subject, active.as_ref())?;
            let mut data = Data::default();
            if subject == Subject::Deal {
                let snap = store.snapshot(allot_store::Day(0))?;
                let mut known = Table::new(&[]);
                for c in &snap.clients {
                    let _ = known.begin_row(&c.id);
                }
                data.clients = known;
                warnings = allot_io::tables::load_deals(&sheet, &declared, values, &mut data).map_err(AppError::Input)?;
            } else {
                warnings = allot_io::tables::load_clients(&sheet, &declared, values, &mut data).map_err(AppError::Input)?;
            }
            let table = if subject == Subject::Deal { &data.deals } else { &data.clients };
            // Only the file's own columns: a column it lacks keeps its stored values.
            let id_col = allot_io::tables::key_column(&sheet, "id");
            let client_col = allot_io::tables::key_column(&sheet, "client_id");
            let cols: Vec<(usize, Column)> = sheet
                .headers
                .iter()
                .enumerate()
                .filter(|(i, _)| Some(*i) != id_col && !(subject == Subject::Deal && Some(*i) == client_col))
                .map(|(_, h)| h)
                .filter_map(|h| table.column_index(h).map(|i| (i, Column { name: h.clone(), ty: table.column(i).ty().name().to_string() })))
                .collect();
            let mut rows = Vec::with_capacity(table.len());
            for r in 0..table.len() as u32 {
                let mut obj = serde_json::Map::with_capacity(cols.len());
                for (i, c) in &cols {
                    obj.insert(c.name.clone(), cell_json(table, *i, r, &data));
                }
                let client = (subject == Subject::Deal).then(|| data.clients.id(data.deal_client[r as usize]).to_string());
                let keys = if subject == Subject::Client { client_keys(&obj) } else { vec![] };
                rows.push(Row { id: table.id(r).to_string(), attrs: serde_json::Value::Object(obj).to_string(), client, keys });
            }
            (cols.into_iter().map(|c| c.1).collect::<Vec<_>>(), rows)
        }
        Subject::Employee => {
            let employees = allot_io::tables::load_employees(&sheet).map_err(AppError::Input)?;
            let contacts = allot_io::tables::employee_contacts(&sheet).map_err(AppError::Input)?;
            // The loader succeeds despite unused columns; say which they were.
            warnings.extend(allot_io::tables::no_rows(&sheet, "employees"));
            warnings.extend(allot_io::tables::unused_employee_columns(&sheet));
            let present: Vec<&str> = EMPLOYEE_COLUMNS.iter().map(|(n, _)| *n).filter(|n| sheet.column(n).is_some()).collect();
            let columns = EMPLOYEE_COLUMNS
                .iter()
                .filter(|(n, _)| present.contains(n))
                .map(|(n, t)| Column { name: n.to_string(), ty: t.name().to_string() })
                .collect();
            // One employee per row (the loader refuses a file otherwise), its contacts beside it.
            let rows = employees
                .iter()
                .zip(contacts)
                .map(|(e, contacts)| Row { id: e.id.clone(), attrs: employee_json(e, &present, &contacts), client: None, keys: vec![] })
                .collect();
            (columns, rows)
        }
    };
    Ok(PreparedImport { subject, file, columns, rows, warnings })
}

/// The keys that recognise a returning client (continuity): `inn` (tax number, digits),
/// `email_domain` (from `email`, lower case; public mail services excluded) and `phone` (digits,
/// a Russian leading 8 read as 7).
pub fn client_keys(attrs: &serde_json::Map<String, serde_json::Value>) -> Vec<(String, String)> {
    let text = |k: &str| match attrs.get(k) {
        Some(serde_json::Value::String(s)) => Some(s.trim().to_string()),
        Some(serde_json::Value::Number(n)) => Some(n.to_string()),
        _ => None,
    };
    let digits = |s: &str| s.chars().filter(char::is_ascii_digit).collect::<String>();
    let mut keys = Vec::new();
    if let Some(inn) = text("inn").map(|s| digits(&s)).filter(|d| d.len() >= 10) {
        keys.push(("inn".to_string(), inn));
    }
    const PUBLIC: [&str; 8] = ["gmail.com", "mail.ru", "yandex.ru", "ya.ru", "bk.ru", "inbox.ru", "list.ru", "rambler.ru"];
    if let Some(domain) = text("email").and_then(|e| e.rsplit_once('@').map(|(_, d)| d.to_lowercase())) {
        if !domain.is_empty() && !PUBLIC.contains(&domain.as_str()) {
            keys.push(("email_domain".to_string(), domain));
        }
    }
    if let Some(mut phone) = text("phone").map(|s| digits(&s)).filter(|d| d.len() >= 7) {
        if phone.len() == 11 && phone.starts_with('8') {
            phone.replace_range(0..1, "7");
        }
        keys.push(("phone".to_string(), phone));
    }
    keys
}

/// How the columns of `allot_io::tables::EMPLOYEE_COLUMNS` (but `id`) are stored.
pub(crate) const EMPLOYEE_COLUMNS: [(&str, Type); 14] = [
    ("email", Type::Text),
    ("language", Type::Text),
    ("crm_user", Type::Text),
    ("hours", Type::Text),
    ("timezone", Type::Text),
    ("workdays", Type::Text),
    ("name", Type::Text),
    ("position", Type::Text),
    ("teams", Type::List),
    ("skills", Type::List),
    ("capacity", Type::Number),
    ("active", Type::Bool),
    ("absent_from", Type::Date),
    ("absent_to", Type::Date),
];

pub(crate) fn employee_json(e: &Employee, present: &[&str], contacts: &[(&str, String)]) -> String {
    use serde_json::Value as J;
    let mut obj = serde_json::Map::new();
    let list = |v: &[String]| J::Array(v.iter().cloned().map(J::String).collect());
    for &name in present {
        let v = match name {
            "name" => J::String(e.name.clone()),
            "position" => e.position.clone().map_or(J::Null, J::String),
            "teams" => list(&e.teams),
            "skills" => list(&e.skills),
            "capacity" => e.capacity.map_or(J::Null, J::from),
            "active" => J::Bool(e.active),
            "absent_from" => e.absent_from.map_or(J::Null, |d| J::String(civil_from_days(d))),
            "absent_to" => e.absent_to.map_or(J::Null, |d| J::String(civil_from_days(d))),
            "hours" => {
                e.hours.map_or(J::Null, |h| J::String(format!("{:02}:{:02}-{:02}:{:02}", h.from / 60, h.from % 60, h.to / 60, h.to % 60)))
            }
            "timezone" => e.hours.map_or(J::Null, |h| {
                let (sign, m) = if h.utc_offset < 0 { ('-', -h.utc_offset) } else { ('+', h.utc_offset) };
                J::String(format!("{sign}{:02}:{:02}", m / 60, m % 60))
            }),
            "workdays" => e.hours.map_or(J::Null, |h| {
                const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
                J::String((0..7).filter(|d| h.days & (1 << d) != 0).map(|d| DAYS[d]).collect::<Vec<_>>().join(","))
            }),
            "email" | "language" | "crm_user" => contacts.iter().find(|(n, _)| *n == name).map_or(J::Null, |(_, v)| J::String(v.clone())),
            _ => continue,
        };
        obj.insert(name.to_string(), v);
    }
    J::Object(obj).to_string()
}
