//! Import: a whole file validated against the store's column types and the scheme's `[columns]`
//! and `[values]`, then landed in one transaction.

use super::*;
use allot_io::sheet::CsvChunks;

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

/// A row's attributes as the store keeps them: the given columns (table column, name), each cell
/// as JSON (an empty cell as null, which removes the stored attribute).
fn attrs_of(table: &Table, cols: &[(usize, &str)], row: u32, data: &Data) -> serde_json::Map<String, serde_json::Value> {
    let mut obj = serde_json::Map::with_capacity(cols.len());
    for &(i, name) in cols {
        obj.insert(name.to_string(), cell_json(table, i, row, data));
    }
    obj
}

/// The headers of a file's attributes: all but its `id` and (deals) `client_id` columns.
fn attribute_headers(sheet: &Sheet, deals: bool) -> impl Iterator<Item = &String> {
    let id_col = allot_io::tables::key_column(sheet, "id");
    let client_col = if deals { allot_io::tables::key_column(sheet, "client_id") } else { None };
    sheet.headers.iter().enumerate().filter(move |(i, _)| Some(*i) != id_col && Some(*i) != client_col).map(|(_, h)| h)
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
/// imported and every error is returned, located by line and column. A CSV file of deals is read
/// a chunk at a time ([`import_deals_streamed`]); any other file whole.
pub fn import(store: &mut dyn Store, subject: Subject, path: &Path, encoding: &Encodings, actor: &Actor) -> Result<ImportReport, AppError> {
    if subject == Subject::Deal {
        if let Some(chunks) = CsvChunks::open(path, encoding.for_file(path), CHUNK_ROWS).map_err(AppError::Input)? {
            return import_deals_streamed(store, chunks, actor);
        }
    }
    let prepared = prepare_import(store, subject, path, encoding)?;
    commit_import(store, prepared, actor)
}

/// Lines of a file read, checked and landed at a time by a streamed import.
const CHUNK_ROWS: usize = 1 << 16;

/// Errors kept of a streamed import (a file wrong on every line of ten million is told by its
/// first ones and a count).
const ERRORS_KEPT: usize = 10_000;

/// The ids of a streamed import's rows, end to end, each with its line: a duplicate is found
/// across chunks in ~18 bytes a row.
#[derive(Default)]
struct SeenIds {
    text: String,
    ends: Vec<usize>,
    /// Lines past 4,294,967,295 are told as that.
    lines: Vec<u32>,
    /// Where each chunk's ids begin (a chunk's own duplicates are told by its own check).
    chunks: Vec<usize>,
    /// The chunks handed to the store: (the first row's place among the rows it was given, where
    /// the chunk's ids begin here).
    landed: Vec<(u64, usize)>,
}

impl SeenIds {
    fn push(&mut self, id: &str, line: u64) {
        self.text.push_str(id);
        self.ends.push(self.text.len());
        self.lines.push(u32::try_from(line).unwrap_or(u32::MAX));
    }

    fn begin_chunk(&mut self) {
        self.chunks.push(self.ends.len());
    }

    fn chunk_of(&self, i: usize) -> usize {
        self.chunks.partition_point(|&start| start <= i)
    }

    /// The line of the row the store was given at `place`.
    fn line_of_landed(&self, place: u64) -> u32 {
        let k = self.landed.partition_point(|&(first, _)| first <= place) - 1;
        let (first, start) = self.landed[k];
        self.lines[start + (place - first) as usize]
    }

    fn id(&self, i: usize) -> &str {
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.text[start..self.ends[i]]
    }

    /// Each later row whose id an earlier row had: (its row, the earlier row), in file order.
    fn duplicates(&self) -> Vec<(usize, usize)> {
        use std::hash::{BuildHasher, BuildHasherDefault};
        let hasher = BuildHasherDefault::<rustc_hash::FxHasher>::default();
        let mut keyed: Vec<(u64, u32)> = (0..self.ends.len()).map(|i| (hasher.hash_one(self.id(i)), i as u32)).collect();
        keyed.sort_unstable();
        let mut found = Vec::new();
        for run in keyed.chunk_by(|a, b| a.0 == b.0).filter(|r| r.len() > 1) {
            // Equal hashes: the ids themselves say which rows are the same.
            for (k, &(_, later)) in run.iter().enumerate().skip(1) {
                let same = |e: u32| self.id(e as usize) == self.id(later as usize);
                if let Some(&(_, first)) = run[..k].iter().find(|(_, e)| same(*e)) {
                    let (a, b) = (first.min(later) as usize, first.max(later) as usize);
                    if self.chunk_of(a) != self.chunk_of(b) {
                        found.push((b, a));
                    }
                }
            }
        }
        found.sort_unstable();
        found
    }
}

/// What the reader thread of [`import_deals_streamed`] found.
struct Read {
    errors: Vec<Diagnostic>,
    /// Errors found beyond those kept.
    more: usize,
    warnings: Vec<Diagnostic>,
    seen: SeenIds,
    /// Rows handed to the store.
    landed: u64,
}

/// Reads and checks each chunk of a deals file, sending the rows of each valid one to `tx`.
#[allow(clippy::too_many_arguments)]
fn read_deal_chunks(
    chunks: &mut CsvChunks,
    first: Sheet,
    columns: &[Column],
    declared: &BTreeMap<String, Type>,
    values: &ValueMaps,
    renamed: &(dyn Fn(&mut Sheet) -> Vec<Diagnostic> + Sync),
    id_col: Option<usize>,
    tx: std::sync::mpsc::SyncSender<Vec<Row>>,
) -> Read {
    let mut out = Read { errors: Vec::new(), more: 0, warnings: Vec::new(), seen: SeenIds::default(), landed: 0 };
    let seen = &mut out.seen;
    let mut next = Some(Ok(first));
    while let Some(chunk) = next.take() {
        let mut problems = match chunk {
            Ok(mut sheet) => {
                let mut problems = renamed(&mut sheet);
                seen.begin_chunk();
                if problems.is_empty() {
                    // A fresh dictionary per chunk: the texts of ten million deals are not kept.
                    let mut data = Data::default();
                    match allot_io::tables::load_deal_rows(&sheet, declared, values, &mut data) {
                        Ok(allot_io::tables::DealRows { clients, rows: at, warnings: warned }) => {
                            for w in warned {
                                if !out.warnings.iter().any(|k| k.message == w.message) {
                                    out.warnings.push(w);
                                }
                            }
                            let table = &data.deals;
                            let cols: Vec<(usize, &str)> =
                                columns.iter().filter_map(|c| table.column_index(&c.name).map(|i| (i, c.name.as_str()))).collect();
                            let mut rows = Vec::with_capacity(clients.len());
                            for (r, client) in clients.into_iter().enumerate() {
                                let obj = attrs_of(table, &cols, r as u32, &data);
                                let id = table.id(r as u32);
                                seen.push(id, sheet.lines[at[r]]);
                                rows.push(Row {
                                    id: id.to_string(),
                                    attrs: serde_json::Value::Object(obj).to_string(),
                                    client: Some(client),
                                    keys: vec![],
                                });
                            }
                            seen.landed.push((out.landed, seen.ends.len() - rows.len()));
                            out.landed += rows.len() as u64;
                            if tx.send(rows).is_err() {
                                break; // the store failed; its error is told
                            }
                        }
                        Err(e) => problems = e,
                    }
                }
                if !problems.is_empty() {
                    // A chunk with errors lands nothing, but its ids are still compared with the others'.
                    if let Some(c) = id_col {
                        for r in 0..sheet.len() {
                            if let Some(id) = allot_io::tables::id_text(sheet.cell(r, c)) {
                                seen.push(&id, sheet.lines[r]);
                            }
                        }
                    }
                }
                problems
            }
            Err(e) => e,
        };
        let room = ERRORS_KEPT.saturating_sub(out.errors.len());
        out.more += problems.len().saturating_sub(room);
        problems.truncate(room);
        out.errors.append(&mut problems);
        next = chunks.next_chunk();
    }
    out
}

/// A CSV file of deals imported a chunk of lines at a time, so that ten million rows are never
/// held at once (issue #19): each chunk is checked against the column types the first one set
/// (declared, well known, or inferred from it) and handed to the store, which writes it inside
/// the import's transaction (SQLite) or copies it into a staging table (PostgreSQL). After the
/// last chunk, ids seen twice in the file and clients the store does not know are looked for;
/// only when the whole file was valid does the import become visible, in one step. Every error
/// is told by line (the first [`ERRORS_KEPT`], and how many more).
pub fn import_deals_streamed(store: &mut dyn Store, mut chunks: CsvChunks, actor: &Actor) -> Result<ImportReport, AppError> {
    let _span = tracing::info_span!("import_streamed", subject = "deal").entered();
    let active = store.active_scheme()?.and_then(|a| SchemeFile::parse(&a.text, "the active scheme").ok());
    let builtin = ValueMaps::builtin();
    let values = active.as_ref().map_or(&builtin, |sf| &sf.values);
    let mut declared = declared_types(store, Subject::Deal, active.as_ref())?;
    let renamed = |sheet: &mut Sheet| -> Vec<Diagnostic> {
        match &active {
            Some(sf) => sf.rename_headers(sheet, true),
            None => vec![],
        }
    };
    let mut first = match chunks.next_chunk() {
        Some(Ok(sheet)) => sheet,
        Some(Err(e)) => return Err(AppError::Input(e)),
        None => return Err(AppError::Input(vec![Diagnostic::error("the file is empty")])),
    };
    let bad = renamed(&mut first);
    if !bad.is_empty() {
        return Err(AppError::Input(bad));
    }
    // Every chunk is read with the types the first one gives the file's columns.
    let shape = allot_io::tables::shape(&first, &declared, true);
    for (name, ty) in &shape {
        declared.entry(name.clone()).or_insert(*ty);
    }
    let id_col = allot_io::tables::key_column(&first, "id");
    let client_col = allot_io::tables::key_column(&first, "client_id");
    let columns: Vec<Column> = attribute_headers(&first, true)
        .filter_map(|h| shape.iter().find(|(n, _)| n == h).map(|(n, t)| Column { name: n.clone(), ty: t.name().to_string() }))
        .collect();
    let file = first.file.clone();
    let expected = chunks.estimated_lines();
    let mut landing = store.begin_import(Subject::Deal, &file, &columns, expected, actor)?;
    // A reader thread reads and checks the chunks while this one writes them: the file's work
    // and the database's overlap. At most two chunks wait between them.
    let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<Row>>(2);
    let read = std::thread::scope(|scope| {
        let reader = scope.spawn(|| read_deal_chunks(&mut chunks, first, &columns, &declared, values, &renamed, id_col, tx));
        let mut landed = Ok(());
        for rows in rx {
            if landed.is_ok() {
                // Landed even after another chunk's error, so that the store can say which
                // clients it does not know; nothing lands then.
                landed = landing.push(&rows);
            }
        }
        reader.join().map_err(|_| AppError::Refused("reading the deals file failed".into())).and_then(|read| {
            landed?;
            Ok(read)
        })
    })?;
    let Read { mut errors, mut more, mut warnings, seen, landed } = read;
    {
        // Ids the file holds twice, across chunks (within one, the chunk's own check said so).
        for (later, earlier) in seen.duplicates() {
            let d = Diagnostic::error(format!("id `{}` appears twice", seen.id(later)))
                .file(file.clone())
                .at(seen.lines[later] as usize, id_col.map_or(1, |c| c + 1))
                .field("column `id`")
                .expected("a unique id in every row")
                .found(format!("the same id on line {}", seen.lines[earlier]));
            if errors.len() < ERRORS_KEPT {
                errors.push(d);
            } else {
                more += 1;
            }
        }
    }
    let unknown = if errors.is_empty() && more == 0 {
        match landing.finish() {
            Ok(imported) => {
                if landed == 0 {
                    warnings.push(
                        Diagnostic::warning("the file has a header but no deals")
                            .file(file.clone())
                            .at(1, 1)
                            .expected("a row per deal")
                            .found("the header row alone"),
                    );
                }
                let rows = landed as usize;
                return Ok(ImportReport { subject: Subject::Deal, rows, imported, columns, warnings });
            }
            Err(StoreError::UnknownClients(unknown)) => unknown,
            Err(e) => return Err(e.into()),
        }
    } else {
        landing.unknown_clients()?
    };
    let listed = unknown.len();
    for (place, client) in unknown {
        let d = Diagnostic::error("the deal's client is not in the store")
            .file(file.clone())
            .at(seen.line_of_landed(place) as usize, client_col.map_or(1, |c| c + 1))
            .field("column `client_id`")
            .expected("the id of a client imported before (`allot import clients`)")
            .found(format!("`{client}`"));
        errors.push(d);
    }
    if listed >= allot_store::UNKNOWN_CLIENTS_LISTED {
        errors.push(Diagnostic::error(format!("… the first {listed} unknown clients are listed; there may be more")).file(file.clone()));
    }
    // In the file's order, whichever check found them.
    errors.sort_by_key(|d| d.line.unwrap_or(0));
    if more > 0 {
        errors.push(Diagnostic::error(format!("… and {more} more errors (the first {ERRORS_KEPT} are listed)")).file(file));
    }
    Err(AppError::Input(errors))
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
            let cols: Vec<(usize, Column)> = attribute_headers(&sheet, subject == Subject::Deal)
                .filter_map(|h| table.column_index(h).map(|i| (i, Column { name: h.clone(), ty: table.column(i).ty().name().to_string() })))
                .collect();
            let named: Vec<(usize, &str)> = cols.iter().map(|(i, c)| (*i, c.name.as_str())).collect();
            let mut rows = Vec::with_capacity(table.len());
            for r in 0..table.len() as u32 {
                let obj = attrs_of(table, &named, r, &data);
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
