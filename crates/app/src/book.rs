//! The book of business over time (S1.1–S1.3): import files into the store, plan the
//! assignments of a day against the stored ones, apply a saved plan all or nothing, pins,
//! absences with a cover that ends by itself, leavers, and the as-of questions.
//!
//! The plan is computed here, by the same engine as `allot assign`, from a [`Snapshot`] of the
//! store; the store only lands it. A plan names the revision it was made on: any write in between
//! (an import, a pin, another plan) makes the store refuse it.
//!
//! Dating: every change of a plan takes effect on the plan's day `D`. A changed (client, role)
//! link is closed on `D` and the new one opened on `D`, up to the start of the next scheduled link
//! (an owner's return from an absence), if any. A cover for an absence runs from `D` to the day
//! after the absence and is followed by the owner's return link, written at the same time — so
//! the book reverts by itself, and the history on any date is right without another plan.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use rustc_hash::FxHashMap;
use std::path::Path;

use allot_core::check::reason_text;
use allot_core::data::{Column as DataColumn, Data, Table};
use allot_core::diag::Diagnostic;
use allot_core::engine::{client_roles, id_ranks, measures, Current, Options, Outcome};
use allot_core::model::{EmpIx, RoleIx};
use allot_core::{Compiled, Employee, How, Reason};
use allot_io::sheet::Cell;
use allot_io::values::ValueMaps;
use allot_io::{read_table, Encodings, SchemeFile, Sheet};
use allot_rules::{civil_from_days, Type};
use allot_store::{
    Actor, Applied, Cause, Change, Changes, Close, Column, Imported, Link, Open, Row, SchemeVersion, Snapshot, Spell, Store, StoreError,
    Subject,
};
use serde::{Deserialize, Serialize};

use crate::Loaded;

/// What went wrong, for the user to fix.
#[derive(Debug, thiserror::Error)]
pub enum BookError {
    /// Problems in an input file or the scheme, each located.
    #[error("{}", allot_core::diag::render_all(.0))]
    Input(Vec<Diagnostic>),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Refused(String),
    /// What was asked about is not in the store.
    #[error("{0}")]
    NotFound(String),
}

/// Attribute types: the store's (authoritative once a column is stored), then the scheme's for
/// columns the store does not have yet.
pub(crate) fn declared(stored: &[Column], scheme: &BTreeMap<String, Type>) -> BTreeMap<String, Type> {
    let mut out: BTreeMap<String, Type> = stored.iter().filter_map(|c| Type::parse(&c.ty).map(|t| (c.name.clone(), t))).collect();
    for (k, v) in scheme {
        out.entry(k.clone()).or_insert(*v);
    }
    out
}

/// The columns to read back from the store: the stored ones in their order, then those the scheme
/// declares that the store has not registered — rows routed over HTTP carry them, but only imports
/// register columns.
fn readable(stored: &[Column], scheme: &BTreeMap<String, Type>) -> Vec<Column> {
    let mut out = stored.to_vec();
    for (name, ty) in scheme {
        if !stored.iter().any(|c| &c.name == name) {
            out.push(Column { name: name.clone(), ty: ty.name().to_string() });
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Import

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
fn cell_json(table: &Table, col: usize, row: u32, data: &Data) -> serde_json::Value {
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
fn declared_types(store: &mut dyn Store, subject: Subject, active: Option<&SchemeFile>) -> Result<BTreeMap<String, Type>, BookError> {
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
pub fn import(
    store: &mut dyn Store,
    subject: Subject,
    path: &Path,
    encoding: &Encodings,
    actor: &Actor,
) -> Result<ImportReport, BookError> {
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
pub fn commit_import(store: &mut dyn Store, p: PreparedImport, actor: &Actor) -> Result<ImportReport, BookError> {
    let imported = store.import(&allot_store::Import { subject: p.subject, file: &p.file, columns: &p.columns, rows: &p.rows }, actor)?;
    Ok(ImportReport { subject: p.subject, rows: p.rows.len(), imported, columns: p.columns, warnings: p.warnings })
}

/// Reads and validates a whole file against the store's column types; writes nothing.
pub fn prepare_import(store: &mut dyn Store, subject: Subject, path: &Path, encoding: &Encodings) -> Result<PreparedImport, BookError> {
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
) -> Result<PreparedImport, BookError> {
    let _span = tracing::info_span!("import", subject = subject.as_str()).entered();
    let file = path.display().to_string();
    let mut sheet = read_table(path, encoding.for_file(path)).map_err(BookError::Input)?;
    let mut warnings: Vec<Diagnostic> = Vec::new();
    // The scheme's `[columns]` name the file's headers and `[values]` normalise its values.
    let active = match scheme {
        Some((text, name)) => Some(SchemeFile::parse(text, name).map_err(BookError::Input)?),
        None => store.active_scheme()?.and_then(|a| SchemeFile::parse(&a.text, "the active scheme").ok()),
    };
    let builtin = ValueMaps::builtin();
    let values = active.as_ref().map_or(&builtin, |sf| &sf.values);
    if let (Some(sf), Subject::Client | Subject::Deal) = (&active, subject) {
        let renamed = sf.rename_headers(&mut sheet, subject == Subject::Deal);
        if !renamed.is_empty() {
            return Err(BookError::Input(renamed));
        }
    }
    let (columns, rows) = match subject {
        Subject::Client | Subject::Deal => {
            let declared = declared_types(store, subject, active.as_ref())?;
            let mut data = Data::default();
            if subject == Subject::Deal {
                let snap = store.snapshot(0)?;
                let mut known = Table::new(&[]);
                for c in &snap.clients {
                    let _ = known.begin_row(&c.id);
                }
                data.clients = known;
                warnings = allot_io::tables::load_deals(&sheet, &declared, values, &mut data).map_err(BookError::Input)?;
            } else {
                warnings = allot_io::tables::load_clients(&sheet, &declared, values, &mut data).map_err(BookError::Input)?;
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
            let employees = allot_io::tables::load_employees(&sheet).map_err(BookError::Input)?;
            // The loader succeeds despite unused columns; say which they were.
            warnings.extend(allot_io::tables::no_rows(&sheet, "employees"));
            warnings.extend(allot_io::tables::unused_employee_columns(&sheet));
            let present: Vec<&str> = EMPLOYEE_COLUMNS.iter().map(|(n, _)| *n).filter(|n| sheet.column(n).is_some()).collect();
            let columns = EMPLOYEE_COLUMNS
                .iter()
                .filter(|(n, _)| present.contains(n))
                .map(|(n, t)| Column { name: n.to_string(), ty: t.name().to_string() })
                .collect();
            let rows =
                employees.iter().map(|e| Row { id: e.id.clone(), attrs: employee_json(e, &present), client: None, keys: vec![] }).collect();
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
const EMPLOYEE_COLUMNS: [(&str, Type); 11] = [
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

fn employee_json(e: &Employee, present: &[&str]) -> String {
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
            _ => continue,
        };
        obj.insert(name.to_string(), v);
    }
    J::Object(obj).to_string()
}

// ---------------------------------------------------------------------------------------------
// From the store back to the engine's inputs

/// Reads a stored attribute object straight into cells in column order (no intermediate map: a
/// million clients are read in a fraction of the time).
pub(crate) fn json_cells(attrs: &str, index: &FxHashMap<&str, usize>, width: usize) -> Result<Vec<Cell>, String> {
    struct Cells(Vec<Cell>);
    /// Each text its own string.
    struct Owned;
    impl TextSink for Owned {
        type Text = String;
        fn text(&mut self, s: &str) -> String {
            s.to_string()
        }
    }
    impl AttrSink for Cells {
        fn put<'de, A: serde::de::MapAccess<'de>>(&mut self, slot: usize, m: &mut A) -> Result<(), A::Error> {
            self.0[slot] = match m.next_value_seed(WireSeed(&mut Owned))? {
                Wire::Empty => Cell::Empty,
                Wire::Text(s) => Cell::Text(s),
                Wire::Number(n) => Cell::Number(n),
                Wire::Bool(b) => Cell::Bool(b),
                Wire::List(l) => Cell::List(l),
            };
            Ok(())
        }
    }
    let mut cells = Cells(vec![Cell::Empty; width]);
    read_attrs(attrs, index, &mut cells)?;
    Ok(cells.0)
}

/// Where the attributes of a stored row go, by their positions in `index`.
pub(crate) trait AttrSink {
    /// Takes the value of the attribute at `slot` from `m`.
    fn put<'de, A: serde::de::MapAccess<'de>>(&mut self, slot: usize, m: &mut A) -> Result<(), A::Error>;
}

/// Walks a stored attribute object once, handing the values of `index`'s attributes to `sink`
/// and skipping the others unread.
pub(crate) fn read_attrs(attrs: &str, index: &FxHashMap<&str, usize>, sink: &mut impl AttrSink) -> Result<(), String> {
    use serde::de::DeserializeSeed;
    let mut de = serde_json::Deserializer::from_str(attrs);
    AttrsSeed { index, sink }.deserialize(&mut de).map_err(|e| e.to_string())?;
    de.end().map_err(|e| e.to_string())
}

struct AttrsSeed<'c, S> {
    index: &'c FxHashMap<&'c str, usize>,
    sink: &'c mut S,
}

impl<'de, S: AttrSink> serde::de::DeserializeSeed<'de> for AttrsSeed<'_, S> {
    type Value = ();
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de, S: AttrSink> serde::de::Visitor<'de> for AttrsSeed<'_, S> {
    type Value = ();
    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("an object of attributes")
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut m: A) -> Result<(), A::Error> {
        while let Some(col) = m.next_key_seed(KeySeed(self.index))? {
            match col {
                Some(i) => self.sink.put(i, &mut m)?,
                None => {
                    m.next_value::<serde::de::IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
}

/// A key, looked up as it is read: the column's position, if it is one of the columns.
struct KeySeed<'c>(&'c FxHashMap<&'c str, usize>);

impl<'de> serde::de::DeserializeSeed<'de> for KeySeed<'_> {
    type Value = Option<usize>;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Option<usize>, D::Error> {
        d.deserialize_str(self)
    }
}

impl serde::de::Visitor<'_> for KeySeed<'_> {
    type Value = Option<usize>;
    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("an attribute name")
    }
    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Option<usize>, E> {
        Ok(self.0.get(v).copied())
    }
}

/// One stored attribute value (JSON null, true/false, a number, text, a list of texts), its text
/// kept where a [`TextSink`] puts it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Wire<T> {
    Empty,
    Text(T),
    Number(f64),
    Bool(bool),
    List(Vec<String>),
}

/// Where the text of a stored value goes: a string of its own, or a shared buffer.
pub(crate) trait TextSink {
    type Text;
    fn text(&mut self, s: &str) -> Self::Text;
}

/// Reads one stored value, its text into the sink.
pub(crate) struct WireSeed<'a, S>(pub &'a mut S);

impl<'de, S: TextSink> serde::de::DeserializeSeed<'de> for WireSeed<'_, S> {
    type Value = Wire<S::Text>;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de, S: TextSink> serde::de::Visitor<'de> for WireSeed<'_, S> {
    type Value = Wire<S::Text>;
    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a number, text, true/false, a list or null")
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(Wire::Empty)
    }
    fn visit_none<E>(self) -> Result<Self::Value, E> {
        Ok(Wire::Empty)
    }
    fn visit_bool<E>(self, v: bool) -> Result<Self::Value, E> {
        Ok(Wire::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Wire::Number(v as f64))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Wire::Number(v as f64))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Self::Value, E> {
        Ok(Wire::Number(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Wire::Text(self.0.text(v)))
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut a: A) -> Result<Self::Value, A::Error> {
        let mut items = Vec::new();
        while let Some(x) = a.next_element::<String>()? {
            items.push(x);
        }
        Ok(Wire::List(items))
    }
}

fn sheet_of(
    what: &str,
    columns: &[Column],
    rows: &[allot_store::Stored],
    extra: Option<(&str, Vec<String>)>,
) -> Result<Sheet, Vec<Diagnostic>> {
    let mut headers = vec!["id".to_string()];
    if let Some((name, _)) = &extra {
        headers.push(name.to_string());
    }
    headers.extend(columns.iter().map(|c| c.name.clone()));
    let index: FxHashMap<&str, usize> = columns.iter().enumerate().map(|(i, c)| (c.name.as_str(), i)).collect();
    let mut out = Vec::with_capacity(rows.len());
    for (i, r) in rows.iter().enumerate() {
        let mut cells = vec![Cell::Text(r.id.clone())];
        if let Some((_, values)) = &extra {
            cells.push(Cell::Text(values[i].clone()));
        }
        let attrs = json_cells(&r.attrs, &index, columns.len())
            .map_err(|e| vec![Diagnostic::error(format!("stored {what} `{}` is not readable: {e}", r.id))])?;
        cells.extend(attrs);
        out.push(cells);
    }
    Ok(Sheet::from_cells(&format!("the store's {what}s"), headers, out))
}

/// The store's state on a day, ready for the engine.
pub struct Book {
    pub snap: Snapshot,
    pub loaded: Loaded,
    /// Client row → store key (rows are in key order).
    pub client_keys: Vec<i64>,
    /// Employee index → store key.
    pub employee_keys: Vec<i64>,
    /// Store key → employee index.
    employee_of_key: FxHashMap<i64, EmpIx>,
    /// The scheme's text and where it came from.
    pub scheme_text: String,
    pub scheme_file: String,
    /// The version the plan's links name, and whether it is a new one.
    pub scheme_version: i64,
    pub scheme_is_new: bool,
}

impl Book {
    pub fn row_of_key(&self, key: i64) -> Option<u32> {
        self.client_keys.binary_search(&key).ok().map(|r| r as u32)
    }
    pub fn emp_of_key(&self, key: i64) -> Option<EmpIx> {
        self.employee_of_key.get(&key).copied()
    }
    /// Links valid on the day (not the scheduled ones).
    pub fn valid_links(&self) -> impl Iterator<Item = &Link> {
        let d = self.snap.date;
        self.snap.links.iter().filter(move |l| l.from <= d)
    }
}

/// Reads the store as of `date` and builds the engine's inputs, with `scheme` (text, file name)
/// or the active stored scheme.
pub fn open_book(store: &mut dyn Store, date: i32, scheme: Option<(&str, &str)>) -> Result<Book, BookError> {
    let _span = tracing::info_span!("open_book").entered();
    book_from(store.snapshot(date)?, date, scheme)
}

/// [`open_book`] with an empty deals table (of the declared columns): for reading the deals one
/// chunk at a time afterwards ([`Store::read_sales`]).
pub(crate) fn open_book_without_deals(store: &mut dyn Store, date: i32, scheme: Option<(&str, &str)>) -> Result<Book, BookError> {
    let _span = tracing::info_span!("open_book").entered();
    book_from(store.snapshot_without_deals(date)?, date, scheme)
}

fn book_from(snap: Snapshot, date: i32, scheme: Option<(&str, &str)>) -> Result<Book, BookError> {
    let (scheme_text, scheme_file) = match (scheme, &snap.scheme) {
        (Some((t, f)), _) => (t.to_string(), f.to_string()),
        (None, Some(v)) => (v.text.clone(), format!("scheme version {}", v.version)),
        (None, None) => return Err(BookError::Refused("the store has no scheme yet: give one with --scheme FILE".into())),
    };
    let (scheme_version, scheme_is_new) = match &snap.scheme {
        Some(v) if v.text == scheme_text => (v.version, false),
        Some(v) => (v.version + 1, true),
        None => (1, true),
    };
    let sf = SchemeFile::parse(&scheme_text, &scheme_file).map_err(BookError::Input)?;
    let mut data = Data::default();
    let client_columns = readable(&snap.client_columns, &sf.columns);
    let sheet = sheet_of("client", &client_columns, &snap.clients, None).map_err(BookError::Input)?;
    // Stored values were normalised when they were imported or routed.
    allot_io::tables::load_clients(&sheet, &declared(&snap.client_columns, &sf.columns), &ValueMaps::none(), &mut data)
        .map_err(BookError::Input)?;
    let deal_clients: Vec<String> = if snap.deals.is_empty() {
        vec![]
    } else {
        let by_key: FxHashMap<i64, &str> = snap.clients.iter().map(|c| (c.key, c.id.as_str())).collect();
        snap.deals.iter().map(|d| d.client.and_then(|k| by_key.get(&k)).unwrap_or(&"").to_string()).collect()
    };
    let deal_declared = declared(&snap.deal_columns, &sf.deal_columns);
    if snap.deals.is_empty() {
        let cols: Vec<(String, Type)> = deal_declared.iter().map(|(k, v)| (k.clone(), *v)).collect();
        data.deals = Table::new(&cols);
    } else {
        let columns = readable(&snap.deal_columns, &sf.deal_columns);
        let sheet = sheet_of("deal", &columns, &snap.deals, Some(("client_id", deal_clients))).map_err(BookError::Input)?;
        allot_io::tables::load_deals(&sheet, &deal_declared, &ValueMaps::none(), &mut data).map_err(BookError::Input)?;
    }
    let sheet = sheet_of("employee", &snap.employee_columns, &snap.employees, None).map_err(BookError::Input)?;
    let mut employees = allot_io::tables::load_employees(&sheet).map_err(BookError::Input)?;
    let employee_keys: Vec<i64> = snap.employees.iter().map(|e| e.key).collect();
    let employee_of_key: FxHashMap<i64, EmpIx> = employee_keys.iter().enumerate().map(|(i, &k)| (k, i as EmpIx)).collect();
    let ix_of = |key: i64| employee_of_key.get(&key).map(|&i| i as usize);
    // Registered leavers are inactive from their day; registered absences make the employee
    // absent for the engine on the days they cover.
    for l in &snap.leavers {
        if let (true, Some(i)) = (l.on <= date, ix_of(l.employee)) {
            employees[i].active = false;
        }
    }
    for a in &snap.absences {
        if let (true, Some(i)) = (a.first <= date && date <= a.last, ix_of(a.employee)) {
            employees[i].absent_from = Some(a.first);
            employees[i].absent_to = Some(a.last);
        }
    }
    let scheme = sf.build(&data, employees).map_err(BookError::Input)?;
    let client_keys: Vec<i64> = snap.clients.iter().map(|c| c.key).collect();
    let pinned: BTreeSet<(i64, &str, i64)> = snap.pins.iter().map(|p| (p.client, p.role.as_str(), p.employee)).collect();
    let mut current = Vec::new();
    for l in snap.links.iter().filter(|l| l.from <= date) {
        let (Ok(row), Some(role), Some(emp)) = (client_keys.binary_search(&l.client), scheme.role(&l.role), ix_of(l.employee)) else {
            continue;
        };
        // A pin holds while its employee holds the link and has not left; a cover holds until
        // the absence ends, whatever the rules say.
        let pinned = (pinned.contains(&(l.client, l.role.as_str(), l.employee)) && scheme.employees[emp].active) || l.cause == Cause::Cover;
        current.push(Current { client: row as u32, role, employee: emp as EmpIx, pinned });
    }
    let compiled = Compiled::new(&scheme, &data);
    let loaded = Loaded { scheme, data, compiled, current, warnings: vec![] };
    Ok(Book { snap, loaded, client_keys, employee_keys, employee_of_key, scheme_text, scheme_file, scheme_version, scheme_is_new })
}

// ---------------------------------------------------------------------------------------------
// Plan

/// How to plan.
#[derive(Debug, Clone, Default)]
pub struct PlanRequest {
    /// The day the plan takes effect.
    pub date: i32,
    /// A scheme (text, file name) to plan with instead of the active one.
    pub scheme: Option<(String, String)>,
    /// Ignore current (unpinned) links and distribute from scratch.
    pub rebalance: bool,
}

/// One open of a plan, as the plan file keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlannedOpen {
    pub client: i64,
    pub role: String,
    pub employee: i64,
    pub from: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    pub cause: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub note: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub absence: Option<i64>,
}

/// Gains and losses of one employee in one role.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Delta {
    pub employee: String,
    pub role: String,
    pub clients_before: u64,
    pub clients_after: u64,
    pub gained: u64,
    pub lost: u64,
    pub potential_gained: f64,
    pub potential_lost: f64,
}

/// (client, role) pairs that stay or become unassigned, by reason.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Unassigned {
    pub role: String,
    pub reason: String,
    pub count: u64,
    pub examples: Vec<String>,
}

/// What a plan changes, for people.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub clients: u64,
    /// Links opened by cause (`new`, `rule`, `leaver`, `cover`, ...).
    pub moves_by_cause: BTreeMap<String, u64>,
    /// Links closed with no successor (the pair becomes unassigned).
    pub closed_unassigned: u64,
    /// Moves decided by each rule (cause `rule`/`new`/`rebalance`), with what the scheme change
    /// did to that rule.
    pub moves_by_rule: Vec<(String, String, u64)>,
    /// The scheme's changes against the active version (`rule x: changed`).
    pub scheme_changes: Vec<String>,
    pub employees: Vec<Delta>,
    pub unassigned: Vec<Unassigned>,
    pub notes: Vec<String>,
}

/// A plan: what to close and open, made on a revision; applied exactly, or refused.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    /// The plan file format.
    pub allot_plan: u32,
    pub made_by: String,
    pub made_at: String,
    pub store: String,
    pub base_revision: i64,
    pub date: String,
    pub rebalance: bool,
    pub scheme_version: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_scheme: Option<String>,
    pub roles: Vec<String>,
    pub closes: Vec<(i64, String)>,
    pub opens: Vec<PlannedOpen>,
    pub absences: Vec<i64>,
    pub leavers: Vec<i64>,
    pub summary: Summary,
    /// FNV-1a 64 of the plan without this field: a file edited after planning is refused.
    #[serde(default)]
    pub digest: String,
}

const PLAN_FORMAT: u32 = 1;

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| (h ^ b as u64).wrapping_mul(0x0100_0000_01b3))
}

impl Plan {
    fn compute_digest(&self) -> String {
        let mut copy = self.clone();
        copy.digest.clear();
        let text = serde_json::to_string(&copy).unwrap_or_default();
        format!("{:016x}", fnv1a(text.as_bytes()))
    }
    pub fn seal(mut self) -> Plan {
        self.digest = self.compute_digest();
        self
    }
    /// Reads a plan file and checks it is whole and unedited.
    pub fn parse(text: &str, file: &str) -> Result<Plan, BookError> {
        let plan: Plan = serde_json::from_str(text).map_err(|e| {
            BookError::Input(vec![Diagnostic::error(format!("not a plan file: {e}"))
                .file(file)
                .at(e.line(), e.column())
                .expected("the JSON that `allot plan -o FILE` writes")])
        })?;
        if plan.allot_plan != PLAN_FORMAT {
            return Err(BookError::Refused(format!("{file}: plan format {} is not {PLAN_FORMAT}; make a new plan", plan.allot_plan)));
        }
        if plan.digest != plan.compute_digest() {
            return Err(BookError::Refused(format!(
                "{file} was changed after it was made (its digest does not match); make a new plan with `allot plan`"
            )));
        }
        Ok(plan)
    }
    pub fn moves(&self) -> usize {
        self.opens.len()
    }
    pub fn is_empty(&self) -> bool {
        self.opens.is_empty() && self.closes.is_empty() && self.new_scheme.is_none() && self.absences.is_empty() && self.leavers.is_empty()
    }
}

struct Pending<'a> {
    /// Absences to arrange now, by employee index.
    absences: HashMap<EmpIx, &'a allot_store::Absence>,
    leavers: HashMap<EmpIx, &'a allot_store::Leaver>,
}

/// Computes the plan of `req.date`: the engine's assignments against the stored links.
pub fn plan(store: &mut dyn Store, req: &PlanRequest, actor: &Actor) -> Result<Plan, BookError> {
    let _span = tracing::info_span!("plan").entered();
    let book = open_book(store, req.date, req.scheme.as_ref().map(|(t, f)| (t.as_str(), f.as_str())))?;
    let d = req.date;
    let snap = &book.snap;
    // History is never rewritten: a plan cannot be dated before a change already applied.
    if let Some(later) = snap.links.iter().filter(|l| l.from > d && !matches!(l.cause, Cause::Return)).map(|l| l.from).max() {
        return Err(BookError::Refused(format!(
            "the book already has changes dated {}; plan on that day or later (history is never rewritten)",
            civil_from_days(later)
        )));
    }
    let l = &book.loaded;
    let scheme = &l.scheme;
    let mut notes = Vec::new();
    let mut pending = Pending { absences: HashMap::new(), leavers: HashMap::new() };
    for a in snap.absences.iter().filter(|a| !a.applied) {
        let Some(e) = book.emp_of_key(a.employee) else { continue };
        let who = &scheme.employees[e as usize].id;
        let (f, t) = (civil_from_days(a.first), civil_from_days(a.last));
        if d < a.first {
            notes.push(format!("{who} is registered absent from {f} to {t}: plan on or after {f} to arrange the cover"));
        } else if d > a.last {
            notes.push(format!("{who}'s absence from {f} to {t} ended before this plan's day: nothing to cover"));
        } else {
            pending.absences.insert(e, a);
        }
    }
    for lv in snap.leavers.iter().filter(|x| !x.applied) {
        let Some(e) = book.emp_of_key(lv.employee) else { continue };
        let who = &scheme.employees[e as usize].id;
        if d < lv.on {
            notes.push(format!("{who} leaves on {}: plan on or after that day to hand their clients over", civil_from_days(lv.on)));
        } else {
            pending.leavers.insert(e, lv);
        }
    }
    // An absent owner keeps clients by stickiness (S1.3); for an absence arranged now, their
    // links are left out so that the rules pick the covers (the absentee is not eligible).
    let current: Vec<Current> = l.current.iter().filter(|c| !pending.absences.contains_key(&c.employee)).copied().collect();
    let outcome = allot_core::assign(scheme, &l.compiled, &l.data, &current, &Options { today: d, rebalance: req.rebalance, watch: None });
    let scheme_changes = match &snap.scheme {
        Some(active) if book.scheme_is_new => scheme_diff_lines(&active.text, &book.scheme_text),
        _ => vec![],
    };
    let changed_rules: HashMap<String, String> = scheme_changes
        .iter()
        .filter_map(|s| s.strip_prefix("rule ").and_then(|r| r.split_once(": ")).map(|(id, what)| (id.to_string(), what.to_string())))
        .collect();
    let mut out = Diff::new(&book, &outcome, &pending, req.rebalance);
    out.run();
    let Diff { closes, opens, by_rule, unassigned, deltas, closed_unassigned, kept, .. } = out;
    for ((role, why), n) in kept {
        notes.push(format!("{n} {role} link(s) stay with their current employee because the rule's choice cannot take them ({why}); change the scheme to move them"));
    }

    let mut moves_by_cause: BTreeMap<String, u64> = BTreeMap::new();
    for o in &opens {
        *moves_by_cause.entry(o.cause.clone()).or_default() += 1;
    }
    let moves_by_rule = by_rule
        .into_iter()
        .map(|(rule, n)| {
            let what = changed_rules.get(&rule).cloned().unwrap_or_else(|| {
                if book.scheme_is_new && snap.scheme.is_some() {
                    "unchanged".into()
                } else {
                    String::new()
                }
            });
            (rule, what, n)
        })
        .collect();
    let summary = Summary {
        clients: l.data.clients.len() as u64,
        moves_by_cause,
        closed_unassigned,
        moves_by_rule,
        scheme_changes,
        employees: deltas,
        unassigned,
        notes,
    };
    let plan = Plan {
        allot_plan: PLAN_FORMAT,
        made_by: actor.by.clone(),
        made_at: actor.at.clone(),
        store: store.backend().to_string(),
        base_revision: snap.revision,
        date: civil_from_days(d),
        rebalance: req.rebalance,
        scheme_version: book.scheme_version,
        new_scheme: book.scheme_is_new.then(|| book.scheme_text.clone()),
        roles: scheme.roles.iter().map(|r| r.id.clone()).collect(),
        closes: closes.into_iter().map(|c| (c.link, civil_from_days(c.at))).collect(),
        opens,
        absences: pending.absences.values().map(|a| a.id).collect::<BTreeSet<_>>().into_iter().collect(),
        leavers: pending.leavers.values().map(|x| x.id).collect::<BTreeSet<_>>().into_iter().collect(),
        summary,
        digest: String::new(),
    };
    Ok(plan.seal())
}

/// Per (employee, role k): links held before and after the plan, and what moved.
struct Tally {
    nr: usize,
    before: Vec<u64>,
    after: Vec<u64>,
    gained: Vec<(u64, f64)>,
    lost: Vec<(u64, f64)>,
}

impl Tally {
    fn new(employees: usize, nr: usize) -> Tally {
        let n = employees * nr;
        Tally { nr, before: vec![0; n], after: vec![0; n], gained: vec![(0, 0.0); n], lost: vec![(0, 0.0); n] }
    }
    fn at(&self, e: EmpIx, k: usize) -> usize {
        e as usize * self.nr + k
    }
    fn held(&mut self, e: EmpIx, k: usize) {
        let i = self.at(e, k);
        self.before[i] += 1;
    }
    fn keeps(&mut self, e: EmpIx, k: usize) {
        let i = self.at(e, k);
        self.after[i] += 1;
    }
    /// A (client, role) of potential `p` leaves `from` (if anyone held it) for `to` (if anyone).
    fn moves(&mut self, from: Option<EmpIx>, to: Option<EmpIx>, k: usize, p: f64) {
        if let Some(x) = from {
            let i = self.at(x, k);
            self.lost[i].0 += 1;
            self.lost[i].1 += p;
        }
        if let Some(n) = to {
            let i = self.at(n, k);
            self.gained[i].0 += 1;
            self.gained[i].1 += p;
            self.after[i] += 1;
        }
    }
}

/// Walks every (client, role) and writes down what changes.
struct Diff<'a> {
    book: &'a Book,
    outcome: &'a Outcome,
    pending: &'a Pending<'a>,
    rebalance: bool,
    closes: Vec<Close>,
    opens: Vec<PlannedOpen>,
    by_rule: BTreeMap<String, u64>,
    unassigned: Vec<Unassigned>,
    deltas: Vec<Delta>,
    closed_unassigned: u64,
    /// Pairs kept by their holder because the rule's target cannot take them: (role, why) → count.
    kept: BTreeMap<(String, String), u64>,
}

impl<'a> Diff<'a> {
    fn new(book: &'a Book, outcome: &'a Outcome, pending: &'a Pending<'a>, rebalance: bool) -> Diff<'a> {
        Diff {
            book,
            outcome,
            pending,
            rebalance,
            closes: vec![],
            opens: vec![],
            by_rule: BTreeMap::new(),
            unassigned: vec![],
            deltas: vec![],
            closed_unassigned: 0,
            kept: BTreeMap::new(),
        }
    }

    fn run(&mut self) {
        let book = self.book;
        let scheme = &book.loaded.scheme;
        let data = &book.loaded.data;
        let d = book.snap.date;
        let roles = client_roles(scheme);
        let nr = roles.len();
        let role_k: HashMap<RoleIx, usize> = roles.iter().enumerate().map(|(k, r)| (*r, k)).collect();
        let (potential, _) = measures(scheme, data);
        let ne = scheme.employees.len();

        // The link valid on the day and the next scheduled one, per (client row, role k).
        let n = data.clients.len();
        let mut held: Vec<Option<&Link>> = vec![None; n * nr];
        let mut next: Vec<Option<&Link>> = vec![None; n * nr];
        let mut dropped_roles: BTreeMap<String, u64> = BTreeMap::new();
        for link in &book.snap.links {
            let Some(row) = book.row_of_key(link.client) else { continue };
            let k = scheme.role(&link.role).and_then(|r| role_k.get(&r).copied());
            let Some(k) = k else {
                // A role the scheme no longer has (or no longer assigns): its links end today.
                if link.from <= d {
                    self.closes.push(Close { link: link.id, at: d });
                    *dropped_roles.entry(link.role.clone()).or_default() += 1;
                    self.closed_unassigned += 1;
                }
                continue;
            };
            let i = row as usize * nr + k;
            if link.from <= d {
                held[i] = Some(link);
            } else if next[i].is_none_or(|n| link.from < n.from) {
                next[i] = Some(link);
            }
        }
        let past: BTreeSet<(i64, &str)> = book.snap.past.iter().map(|(c, r)| (*c, r.as_str())).collect();
        let ranks = id_ranks(scheme);
        // Per (employee, role k): links before and after, gains and losses.
        let mut tally = Tally::new(ne, nr);
        let mut unassigned: BTreeMap<(usize, String), (u64, Vec<String>)> = BTreeMap::new();
        // Leavers' and absentees' pairs the rules could not place: handed to peers at the end.
        let mut orphans: Vec<(u32, usize, &Link)> = Vec::new();
        let d_text = civil_from_days(d);
        let rule_id = |cell: &allot_core::Cell| cell.rule().map(|r| scheme.rules[r].id.clone());
        for row in 0..data.clients.len() as u32 {
            for (k, &role) in roles.iter().enumerate() {
                let cell = self.outcome.cell(row, k);
                let old = held[row as usize * nr + k];
                let old_emp = old.and_then(|l| book.emp_of_key(l.employee));
                if let Some(e) = old_emp {
                    tally.held(e, k);
                }
                let new_emp = cell.employee();
                let nxt = next[row as usize * nr + k];
                let p = potential.get(row as usize);
                let role_id = &scheme.roles[role].id;
                // The owner's absence is arranged now: a cover until the day after, then back.
                if let (Some(link), Some(x)) = (old, old_emp) {
                    if let Some(a) = self.pending.absences.get(&x) {
                        if link.cause != Cause::Cover {
                            let cover = a.cover.and_then(|k| book.emp_of_key(k)).or(new_emp.filter(|&n| n != x));
                            match cover {
                                Some(c) => {
                                    self.cover(link, row, role_id, c, x, a, nxt, k, p, &mut tally);
                                }
                                None => orphans.push((row, k, link)),
                            }
                            continue;
                        }
                    }
                }
                if old_emp.is_some() && old_emp == new_emp {
                    tally.keeps(new_emp.unwrap_or(0), k);
                    continue;
                }
                let cause = match (old, old_emp) {
                    (None, _) if !past.contains(&(book.client_keys[row as usize], role_id.as_str())) => Cause::New,
                    (None, _) => Cause::Rule,
                    (Some(_), Some(x)) if self.pending.leavers.contains_key(&x) || !scheme.employees[x as usize].active => Cause::Leaver,
                    (Some(_), Some(x)) if scheme.employees[x as usize].absent_on(d) => Cause::Absence,
                    _ if self.rebalance => Cause::Rebalance,
                    _ => Cause::Rule,
                };
                match new_emp {
                    Some(n) => {
                        if let Some(link) = old {
                            self.closes.push(Close { link: link.id, at: d });
                        }
                        tally.moves(old_emp, Some(n), k, p);
                        let rule = rule_id(cell);
                        if let Some(r) = &rule {
                            *self.by_rule.entry(r.clone()).or_default() += 1;
                        }
                        self.opens.push(PlannedOpen {
                            client: book.client_keys[row as usize],
                            role: role_id.clone(),
                            employee: book.employee_keys[n as usize],
                            from: d_text.clone(),
                            to: nxt.map(|l| civil_from_days(l.from)),
                            cause: cause.as_str().into(),
                            rule,
                            note: String::new(),
                            absence: None,
                        });
                    }
                    None if cause == Cause::Leaver && old.is_some() => {
                        if let Some(link) = old {
                            orphans.push((row, k, link));
                        }
                    }
                    // The rule's target cannot take it (the territory owner left, a pool is
                    // full): a holder who still can keeps it, rather than nobody.
                    None if old_emp.is_some_and(|x| {
                        let e = &scheme.employees[x as usize];
                        e.active && !e.absent_on(d) && !self.pending.leavers.contains_key(&x)
                    }) && matches!(cell.how, How::Unassigned(Reason::Unavailable(..) | Reason::PoolExhausted { .. })) =>
                    {
                        let x = old_emp.unwrap_or(0);
                        tally.keeps(x, k);
                        let why = match cell.how {
                            How::Unassigned(r) => reason_text(scheme, data, &r),
                            _ => String::new(),
                        };
                        *self.kept.entry((role_id.clone(), why)).or_default() += 1;
                    }
                    None => {
                        if let Some(link) = old {
                            self.closes.push(Close { link: link.id, at: d });
                            self.closed_unassigned += 1;
                            tally.moves(old_emp, None, k, p);
                        }
                        let why = match cell.how {
                            How::Unassigned(r) => reason_text(scheme, data, &r),
                            _ => reason_text(scheme, data, &Reason::NoRuleMatched),
                        };
                        let e = unassigned.entry((k, why)).or_default();
                        e.0 += 1;
                        if e.1.len() < 3 {
                            e.1.push(data.clients.id(row).to_string());
                        }
                    }
                }
            }
        }
        // Orphans go to the peers of their owner (teammates who are active and present),
        // largest potential first, each to the peer with the least potential in that role.
        let mut load_p = vec![0f64; ne * nr];
        for row in 0..data.clients.len() as u32 {
            for k in 0..nr {
                if let Some(e) = self.outcome.cell(row, k).employee() {
                    load_p[e as usize * nr + k] += potential.get(row as usize);
                }
            }
        }
        orphans.sort_by(|a, b| potential.get(b.0 as usize).total_cmp(&potential.get(a.0 as usize)).then(a.0.cmp(&b.0)).then(a.1.cmp(&b.1)));
        for (row, k, link) in orphans {
            let role = roles[k];
            let role_id = &scheme.roles[role].id;
            let Some(x) = book.emp_of_key(link.employee) else { continue };
            let p = potential.get(row as usize);
            let peers = self.peers(x);
            let pick = peers.iter().copied().min_by(|&a, &b| {
                load_p[a as usize * nr + k].total_cmp(&load_p[b as usize * nr + k]).then(ranks[a as usize].cmp(&ranks[b as usize]))
            });
            let nxt = next[row as usize * nr + k];
            match pick {
                Some(c) => {
                    load_p[c as usize * nr + k] += p;
                    if let Some(a) = self.pending.absences.get(&x) {
                        self.cover(link, row, role_id, c, x, a, nxt, k, p, &mut tally);
                    } else {
                        self.closes.push(Close { link: link.id, at: d });
                        tally.moves(Some(x), Some(c), k, p);
                        self.opens.push(PlannedOpen {
                            client: link.client,
                            role: role_id.clone(),
                            employee: book.employee_keys[c as usize],
                            from: d_text.clone(),
                            to: nxt.map(|l| civil_from_days(l.from)),
                            cause: Cause::Leaver.as_str().into(),
                            rule: None,
                            note: format!(
                                "taken over from {} (a teammate; no rule names another employee)",
                                scheme.employees[x as usize].id
                            ),
                            absence: None,
                        });
                    }
                }
                None => {
                    // Nobody can take it: it stays with the owner (an absence) or ends (a leaver).
                    let why = format!("nobody eligible to take over from {}", scheme.employees[x as usize].id);
                    if self.pending.leavers.contains_key(&x) || !scheme.employees[x as usize].active {
                        self.closes.push(Close { link: link.id, at: d });
                        self.closed_unassigned += 1;
                        tally.moves(Some(x), None, k, p);
                    } else {
                        tally.keeps(x, k);
                    }
                    let e = unassigned.entry((k, why)).or_default();
                    e.0 += 1;
                    if e.1.len() < 3 {
                        e.1.push(data.clients.id(row).to_string());
                    }
                }
            }
        }
        // A leaver's scheduled links (a return from an absence) are cancelled.
        for link in book.snap.links.iter().filter(|l| l.from > d) {
            if let Some(x) = book.emp_of_key(link.employee) {
                if self.pending.leavers.contains_key(&x) {
                    self.closes.push(Close { link: link.id, at: link.from });
                }
            }
        }
        for (role, n) in dropped_roles {
            self.unassigned.push(Unassigned {
                role,
                reason: "the role is no longer in the scheme; its links end".into(),
                count: n,
                examples: vec![],
            });
        }
        for ((k, reason), (count, examples)) in unassigned {
            self.unassigned.push(Unassigned { role: scheme.roles[roles[k]].id.clone(), reason, count, examples });
        }
        for e in 0..ne {
            for (k, &role) in roles.iter().enumerate() {
                let i = e * nr + k;
                let (before, after, gained, lost) = (tally.before[i], tally.after[i], tally.gained[i], tally.lost[i]);
                if before == 0 && after == 0 && gained.0 == 0 && lost.0 == 0 {
                    continue;
                }
                self.deltas.push(Delta {
                    employee: scheme.employees[e].id.clone(),
                    role: scheme.roles[role].id.clone(),
                    clients_before: before,
                    clients_after: after,
                    gained: gained.0,
                    lost: lost.0,
                    potential_gained: gained.1,
                    potential_lost: lost.1,
                });
            }
        }
        self.deltas.sort_by(|a, b| a.employee.cmp(&b.employee).then(a.role.cmp(&b.role)));
        self.closes.sort_by_key(|c| c.link);
    }

    /// Employees who may take over from `x`: active, present on the day, not leaving, sharing a
    /// team with `x`.
    fn peers(&self, x: EmpIx) -> Vec<EmpIx> {
        let scheme = &self.book.loaded.scheme;
        let d = self.book.snap.date;
        let me = &scheme.employees[x as usize];
        (0..scheme.employees.len() as EmpIx)
            .filter(|&e| e != x)
            .filter(|&e| {
                let p = &scheme.employees[e as usize];
                p.active
                    && !p.absent_on(d)
                    && !self.pending.leavers.contains_key(&e)
                    && !self.pending.absences.contains_key(&e)
                    && p.teams.iter().any(|t| me.teams.contains(t))
            })
            .collect()
    }

    #[allow(clippy::too_many_arguments)]
    fn cover(
        &mut self,
        link: &Link,
        row: u32,
        role_id: &str,
        cover: EmpIx,
        owner: EmpIx,
        a: &allot_store::Absence,
        nxt: Option<&Link>,
        k: usize,
        p: f64,
        tally: &mut Tally,
    ) {
        let book = self.book;
        let scheme = &book.loaded.scheme;
        let d = book.snap.date;
        let back = a.last + 1;
        let ends = nxt.map_or(back, |l| l.from.min(back));
        self.closes.push(Close { link: link.id, at: d });
        tally.moves(Some(owner), Some(cover), k, p);
        let owner_id = &scheme.employees[owner as usize].id;
        self.opens.push(PlannedOpen {
            client: book.client_keys[row as usize],
            role: role_id.to_string(),
            employee: book.employee_keys[cover as usize],
            from: civil_from_days(d),
            to: Some(civil_from_days(ends)),
            cause: Cause::Cover.as_str().into(),
            rule: None,
            note: format!("covers for {owner_id}, absent {} to {}", civil_from_days(a.first), civil_from_days(a.last)),
            absence: Some(a.id),
        });
        if nxt.is_none_or(|l| l.from > back) {
            self.opens.push(PlannedOpen {
                client: book.client_keys[row as usize],
                role: role_id.to_string(),
                employee: link.employee,
                from: civil_from_days(back),
                to: nxt.map(|l| civil_from_days(l.from)),
                cause: Cause::Return.as_str().into(),
                rule: link.rule.clone(),
                note: format!("back from the absence of {} to {}", civil_from_days(a.first), civil_from_days(a.last)),
                absence: Some(a.id),
            });
        }
    }
}

/// The parts a new scheme changes against the active one, one line each (`rule x: changed`).
pub fn scheme_diff_lines(active: &str, new: &str) -> Vec<String> {
    let (Ok(a), Ok(b)) = (allot_io::scheme::outline(active), allot_io::scheme::outline(new)) else {
        return vec!["the scheme text changed".into()];
    };
    let mut out = Vec::new();
    for (k, v) in &b {
        match a.get(k) {
            None => out.push(format!("{k}: added")),
            Some(old) if old != v => {
                let what = if k.starts_with("rule ") && strip_priority(old) == strip_priority(v) { "moved in priority" } else { "changed" };
                out.push(format!("{k}: {what}"));
            }
            _ => {}
        }
    }
    for k in a.keys().filter(|k| !b.contains_key(*k)) {
        out.push(format!("{k}: removed"));
    }
    out
}

fn strip_priority(s: &str) -> &str {
    s.rsplit_once(" (priority ").map_or(s, |(a, _)| a)
}

/// A unified diff of two scheme texts.
pub fn scheme_text_diff(active: &str, new: &str, active_name: &str, new_name: &str) -> String {
    similar::TextDiff::from_lines(active, new).unified_diff().context_radius(2).header(active_name, new_name).to_string()
}

// ---------------------------------------------------------------------------------------------
// Apply

/// Lands a saved plan exactly, all or nothing; the store refuses it if anything changed since.
pub fn apply(store: &mut dyn Store, plan: &Plan, actor: &Actor) -> Result<Applied, BookError> {
    let _span = tracing::info_span!("apply").entered();
    let day = |s: &str| allot_rules::parse_iso_date(s).ok_or_else(|| BookError::Refused(format!("the plan holds a bad date `{s}`")));
    let mut closes = Vec::with_capacity(plan.closes.len());
    for (link, at) in &plan.closes {
        closes.push(Close { link: *link, at: day(at)? });
    }
    let mut opens = Vec::with_capacity(plan.opens.len());
    for o in &plan.opens {
        opens.push(Open {
            client: o.client,
            role: o.role.clone(),
            employee: o.employee,
            from: day(&o.from)?,
            to: o.to.as_deref().map(day).transpose()?,
            cause: Cause::parse(&o.cause).map_err(|_| BookError::Refused(format!("the plan holds an unknown cause `{}`", o.cause)))?,
            rule: o.rule.clone(),
            scheme: Some(plan.scheme_version),
            note: o.note.clone(),
            absence: o.absence,
        });
    }
    let s = &plan.summary;
    let causes: Vec<String> = s.moves_by_cause.iter().map(|(c, n)| format!("{n} {c}")).collect();
    let summary = format!(
        "plan of {}: {} links opened ({}), {} closed{}",
        plan.date,
        plan.opens.len(),
        if causes.is_empty() { "none".into() } else { causes.join(", ") },
        plan.closes.len(),
        if plan.new_scheme.is_some() { format!(", scheme version {}", plan.scheme_version) } else { String::new() }
    );
    let changes = Changes {
        base: plan.base_revision,
        scheme: plan.new_scheme.clone(),
        roles: plan.roles.iter().map(|r| (r.clone(), false)).collect(),
        closes,
        opens,
        absences: plan.absences.clone(),
        leavers: plan.leavers.clone(),
        summary,
    };
    Ok(store.apply(&changes, actor)?)
}

// ---------------------------------------------------------------------------------------------
// Questions and registrations

/// Every link a client ever had.
pub fn history(store: &mut dyn Store, client: &str) -> Result<Vec<Spell>, BookError> {
    Ok(store.history(client)?)
}

/// The book on a day: every link, or one client's.
pub fn owners_at(store: &mut dyn Store, date: i32, client: Option<&str>) -> Result<Vec<Spell>, BookError> {
    let _span = tracing::info_span!("owners_at").entered();
    Ok(store.owners_at(date, client)?)
}

/// An employee's clients on a day.
pub fn book_of(store: &mut dyn Store, employee: &str, date: i32) -> Result<Vec<Spell>, BookError> {
    Ok(store.book(employee, date)?)
}

/// The attributes a person needs to recognise a client in a list: its name and the segmentation
/// attributes of MISSION.md S2 with its potential, those it has.
pub const KEY_ATTRIBUTES: [&str; 7] = ["name", "region", "industry", "significance", "channel", "ownership", "potential"];

/// A client as a list shows it: id, name and [`KEY_ATTRIBUTES`] (as text).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ClientSummary {
    pub id: String,
    pub name: Option<String>,
    pub attributes: Vec<(String, String)>,
}

/// Summaries of stored clients, by id (those not stored are left out).
pub fn client_summaries(store: &mut dyn Store, ids: &[String]) -> Result<BTreeMap<String, ClientSummary>, BookError> {
    let mut out = BTreeMap::new();
    for (id, attrs) in store.client_attributes(ids)? {
        let map: serde_json::Map<String, serde_json::Value> = serde_json::from_str(&attrs).unwrap_or_default();
        let text = |v: &serde_json::Value| match v {
            serde_json::Value::String(s) => Some(s.clone()),
            serde_json::Value::Number(n) => n.as_f64().map(allot_core::data::fmt_number),
            serde_json::Value::Bool(b) => Some(b.to_string()),
            serde_json::Value::Array(a) => Some(a.iter().filter_map(|x| x.as_str()).collect::<Vec<_>>().join("; ")),
            _ => None,
        };
        let name = map.get("name").and_then(text);
        let attributes = KEY_ATTRIBUTES[1..].iter().filter_map(|k| map.get(*k).and_then(text).map(|v| (k.to_string(), v))).collect();
        out.insert(id.clone(), ClientSummary { id, name, attributes });
    }
    Ok(out)
}

/// Explains a stored client on a day: every rule tried and why its employees are its employees,
/// then the attributes stored with the client that no column declares (a routed lead's extra
/// form fields), so that nothing sent is invisible.
///
/// Bounded by the client, not the book (issue #13): the routing model (scheme, employees, their
/// absences on the day), the client's own attributes and its links on the day — never every client.
/// The explanation is the engine's over that one client: rules, territory, and its current
/// owners kept (or pinned) as the book keeps them.
pub fn explain_stored(store: &mut dyn Store, id: &str, day: i32) -> Result<String, BookError> {
    let mut model = crate::routing::Model::load(store).map_err(|e| match e {
        crate::routing::LoadError::Store(s) => BookError::Store(s),
        crate::routing::LoadError::Scheme(m) => BookError::Refused(m),
    })?;
    model.on(day);
    let Some((_, attrs)) = store.client_attributes(&[id.to_string()])?.pop() else {
        return Err(BookError::NotFound(format!("no client with id `{id}` in the store")));
    };
    let map: serde_json::Map<String, serde_json::Value> = serde_json::from_str(&attrs).unwrap_or_default();
    let mut data = Data::default();
    let mut table = Table::with_capacity(&model.columns, 1);
    let _ = table.begin_row(id);
    for (c, (name, ty)) in model.columns.iter().enumerate() {
        crate::routing::push_json(&mut table, c, *ty, map.get(name), &mut data);
    }
    data.clients = table;
    data.deals = Table::new(&model.deal_columns);
    let scheme = model.scheme;
    let current = store
        .owners_at(day, Some(id))?
        .iter()
        .filter_map(|s| {
            Some(Current {
                client: 0,
                role: scheme.role(&s.role)?,
                employee: scheme.employee(&s.employee)?,
                pinned: matches!(s.cause, Cause::Pin | Cause::Cover),
            })
        })
        .collect();
    let compiled = Compiled::new(&scheme, &data);
    let loaded = Loaded { scheme, data, compiled, current, warnings: vec![] };
    let opts = Options { today: day, ..Default::default() };
    let x = crate::explain(&loaded, id, false, &opts)
        .map_err(|e| BookError::NotFound(e.to_string().replace("the clients file", "the store")))?;
    let mut text = crate::report::explanation(&loaded.scheme, &loaded.data, &x);
    let other: Vec<String> = map
        .iter()
        .filter(|(k, v)| loaded.data.clients.column_index(k).is_none() && !v.is_null())
        .map(|(k, v)| format!("{}={}", k, v.as_str().map_or_else(|| v.to_string(), str::to_string)))
        .collect();
    if !other.is_empty() {
        text.push_str(&format!("\nstored, not used by the scheme: {}\n", other.join(", ")));
    }
    Ok(text)
}

/// An employee's clients on a day with what identifies each (name, region, potential ...).
pub fn book_with_clients(
    store: &mut dyn Store,
    employee: &str,
    date: i32,
) -> Result<(Vec<Spell>, BTreeMap<String, ClientSummary>), BookError> {
    let rows = store.book(employee, date)?;
    let mut ids: Vec<String> = rows.iter().map(|r| r.client.clone()).collect();
    ids.dedup();
    let clients = client_summaries(store, &ids)?;
    Ok((rows, clients))
}

/// Roles the active scheme knows (standard ones when there is no scheme yet).
fn known_roles(store: &mut dyn Store) -> Result<Vec<String>, BookError> {
    let mut roles: Vec<String> = allot_core::model::STANDARD_ROLES.iter().map(|(id, _)| id.to_string()).collect();
    if let Some(active) = store.active_scheme()? {
        if let Ok(outline) = allot_io::scheme::outline(&active.text) {
            roles.extend(outline.keys().filter_map(|k| k.strip_prefix("role ")).map(String::from));
        }
    }
    Ok(roles)
}

/// Pins a (client, role) to an employee; rules never move it until it is unpinned.
pub fn pin(store: &mut dyn Store, req: &allot_store::PinRequest<'_>, actor: &Actor) -> Result<allot_store::Pinned, BookError> {
    let roles = known_roles(store)?;
    if !roles.iter().any(|r| r == req.role) {
        let hint =
            roles.iter().min_by_key(|r| strsim::levenshtein(r, req.role)).map(|r| format!(" (did you mean `{r}`?)")).unwrap_or_default();
        return Err(BookError::Refused(format!("unknown role `{}`{hint}; roles: {}", req.role, roles.join(", "))));
    }
    if req.reason.trim().is_empty() {
        return Err(BookError::Refused("a pin needs a reason (--reason \"…\"): history keeps it".into()));
    }
    Ok(store.pin(req, actor)?)
}

/// Registers an absence; the next plan on a day within it arranges the cover.
pub fn absent(store: &mut dyn Store, employee: &str, first: i32, last: i32, cover: Option<&str>, actor: &Actor) -> Result<i64, BookError> {
    if last < first {
        return Err(BookError::Refused(format!(
            "the absence ends ({}) before it starts ({})",
            civil_from_days(last),
            civil_from_days(first)
        )));
    }
    if cover == Some(employee) {
        return Err(BookError::Refused("an employee cannot cover their own absence".into()));
    }
    Ok(store.add_absence(employee, first, last, cover, actor)?)
}

/// Registers a leaver; the next plan on or after `on` hands their clients over for good.
pub fn leave(store: &mut dyn Store, employee: &str, on: i32, actor: &Actor) -> Result<i64, BookError> {
    Ok(store.add_leaver(employee, on, actor)?)
}

/// The change log.
pub fn changes(store: &mut dyn Store) -> Result<Vec<Change>, BookError> {
    Ok(store.changes()?)
}

/// The active scheme version.
pub fn active_scheme(store: &mut dyn Store) -> Result<Option<SchemeVersion>, BookError> {
    Ok(store.active_scheme()?)
}

// ---------------------------------------------------------------------------------------------
// What real-time routing needs

/// The scheme and employees to route by, built from [`Store::people`]: the scheme is checked
/// against the stored client columns (no clients are loaded), and `columns` are the attribute
/// types a routed item may carry (stored, then declared by the scheme).
pub struct RoutingParts {
    pub scheme: allot_core::Scheme,
    pub columns: Vec<(String, Type)>,
    /// The attribute types a routed deal may carry.
    pub deal_columns: Vec<(String, Type)>,
    /// The value dictionaries a routed item's attributes are normalised with (regions, `[values]`).
    pub values: ValueMaps,
    pub version: i64,
    pub employee_keys: Vec<i64>,
}

pub fn routing_parts(snap: &Snapshot) -> Result<RoutingParts, BookError> {
    let Some(active) = &snap.scheme else {
        return Err(BookError::Refused("the store has no scheme yet: apply a plan (allot plan --scheme FILE, allot apply) first".into()));
    };
    let sf = SchemeFile::parse(&active.text, &format!("scheme version {}", active.version)).map_err(BookError::Input)?;
    let columns: Vec<(String, Type)> = declared(&snap.client_columns, &sf.columns).into_iter().collect();
    let deal_cols: Vec<(String, Type)> = declared(&snap.deal_columns, &sf.deal_columns).into_iter().collect();
    let data = Data { clients: Table::new(&columns), deals: Table::new(&deal_cols), ..Default::default() };
    let sheet = sheet_of("employee", &snap.employee_columns, &snap.employees, None).map_err(BookError::Input)?;
    let mut employees = allot_io::tables::load_employees(&sheet).map_err(BookError::Input)?;
    let employee_keys: Vec<i64> = snap.employees.iter().map(|e| e.key).collect();
    let scheme = sf.build(&data, std::mem::take(&mut employees)).map_err(BookError::Input)?;
    Ok(RoutingParts { scheme, columns, deal_columns: deal_cols, values: sf.values.clone(), version: active.version, employee_keys })
}

/// (client id, employee id, pinned).
pub type OwnerRow = (String, String, bool);

/// The stored clients on `date` as a sheet (every attribute a column), and the current design of
/// `role`: (client id, employee id, pinned). For `allot balance --from-store`. With `only`, the
/// clients owned in `role` by someone else are left out (their count is returned): re-balancing
/// the dealer managers' territories leaves the VIP managers' clients alone. Clients without an
/// owner in `role` are always in.
pub fn clients_and_owners(
    store: &mut dyn Store,
    date: i32,
    role: &str,
    only: Option<&[String]>,
) -> Result<(Sheet, Vec<OwnerRow>, usize), BookError> {
    let mut snap = store.snapshot(date)?;
    let employee: FxHashMap<i64, &str> = snap.employees.iter().map(|e| (e.key, e.id.as_str())).collect();
    let owner: FxHashMap<i64, &str> = snap
        .links
        .iter()
        .filter(|l| l.role == role && l.from <= date)
        .filter_map(|l| Some((l.client, *employee.get(&l.employee)?)))
        .collect();
    let before = snap.clients.len();
    if let Some(only) = only {
        let keep = |c: &allot_store::Stored| owner.get(&c.key).is_none_or(|e| only.iter().any(|o| o == e));
        snap.clients.retain(keep);
    }
    let left_out = before - snap.clients.len();
    let sheet = sheet_of("client", &snap.client_columns, &snap.clients, None).map_err(BookError::Input)?;
    let client: FxHashMap<i64, &str> = snap.clients.iter().map(|c| (c.key, c.id.as_str())).collect();
    let pinned: rustc_hash::FxHashSet<i64> = snap.pins.iter().filter(|p| p.role == role).map(|p| p.client).collect();
    let owners = owner
        .iter()
        .filter_map(|(c, e)| Some((client.get(c)?.to_string(), e.to_string(), pinned.contains(c))))
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    Ok((sheet, owners, left_out))
}
