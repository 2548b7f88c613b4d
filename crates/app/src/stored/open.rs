//! The state on a day ([`State`]): the store's snapshot turned into the engine's inputs.

use std::sync::Arc;

use super::*;

/// The store's state on a day, ready for the engine.
pub struct State {
    /// Shared with a [`Base`] when the state was made from one.
    pub snap: Arc<Snapshot>,
    pub loaded: Loaded,
    /// Client row → store key (rows are in key order).
    pub client_keys: Vec<ClientKey>,
    /// Employee index → store key.
    pub employee_keys: Vec<EmployeeKey>,
    /// Store key → employee index.
    employee_of_key: FxHashMap<EmployeeKey, EmpIx>,
    /// The scheme's text and where it came from.
    pub scheme_text: String,
    pub scheme_file: String,
    /// The version the plan's links name, and whether it is a new one.
    pub scheme_version: i64,
    pub scheme_is_new: bool,
}

impl State {
    pub fn row_of_key(&self, key: ClientKey) -> Option<u32> {
        self.client_keys.binary_search(&key).ok().map(|r| r as u32)
    }
    pub fn emp_of_key(&self, key: EmployeeKey) -> Option<EmpIx> {
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
pub fn open_state(store: &mut dyn Store, date: i32, scheme: Option<(&str, &str)>) -> Result<State, AppError> {
    let _span = tracing::info_span!("open_state").entered();
    state_from(store.snapshot(allot_store::Day(date))?, date, scheme)
}

/// [`open_state`] with an empty deals table (of the declared columns): for reading the deals one
/// chunk at a time afterwards ([`Store::read_sales`]).
pub(crate) fn open_state_without_deals(store: &mut dyn Store, date: i32, scheme: Option<(&str, &str)>) -> Result<State, AppError> {
    let _span = tracing::info_span!("open_state").entered();
    state_from(store.snapshot_without_deals(allot_store::Day(date))?, date, scheme)
}

pub(crate) fn state_from(snap: Snapshot, date: i32, scheme: Option<(&str, &str)>) -> Result<State, AppError> {
    let (scheme_text, scheme_file) = scheme_of(&snap, scheme)?;
    let sf = SchemeFile::parse(&scheme_text, &scheme_file).map_err(AppError::Input)?;
    let data = load_data(&snap, &sf)?;
    let client_keys: Vec<ClientKey> = snap.clients.iter().map(|c| c.key).collect();
    finish(Arc::new(snap), data, client_keys, sf, scheme_text, scheme_file, date)
}

/// The scheme a state is made with: the one given, or the active one.
fn scheme_of(snap: &Snapshot, scheme: Option<(&str, &str)>) -> Result<(String, String), AppError> {
    match (scheme, &snap.scheme) {
        (Some((t, f)), _) => Ok((t.to_string(), f.to_string())),
        (None, Some(v)) => Ok((v.text.clone(), format!("scheme version {}", v.version))),
        (None, None) => Err(AppError::Refused("the store has no scheme yet: give one with --scheme FILE".into())),
    }
}

/// The clients and deals as the engine's typed tables, by the scheme's declared columns.
fn load_data(snap: &Snapshot, sf: &SchemeFile) -> Result<Data, AppError> {
    let mut data = Data::default();
    let client_columns = readable(&snap.client_columns, &sf.columns);
    let sheet =
        tracing::info_span!("read_json").in_scope(|| sheet_of("client", &client_columns, &snap.clients, None)).map_err(AppError::Input)?;
    // Stored values were normalised when they were imported or routed.
    let _typing = tracing::info_span!("type").entered();
    allot_io::tables::load_clients(&sheet, &declared(&snap.client_columns, &sf.columns), &ValueMaps::none(), &mut data)
        .map_err(AppError::Input)?;
    let deal_clients: Vec<String> = if snap.deals.is_empty() {
        vec![]
    } else {
        let by_key: FxHashMap<ClientKey, &str> = snap.clients.iter().map(|c| (c.key, c.id.as_str())).collect();
        snap.deals.iter().map(|d| d.client.and_then(|k| by_key.get(&k)).unwrap_or(&"").to_string()).collect()
    };
    let deal_declared = declared(&snap.deal_columns, &sf.deal_columns);
    if snap.deals.is_empty() {
        let cols: Vec<(String, Type)> = deal_declared.iter().map(|(k, v)| (k.clone(), *v)).collect();
        data.deals = Table::new(&cols);
    } else {
        let columns = readable(&snap.deal_columns, &sf.deal_columns);
        let sheet = sheet_of("deal", &columns, &snap.deals, Some(("client_id", deal_clients))).map_err(AppError::Input)?;
        allot_io::tables::load_deals(&sheet, &deal_declared, &ValueMaps::none(), &mut data).map_err(AppError::Input)?;
    }
    Ok(data)
}

/// The store read once for checking scheme drafts (issue #17 §7): its snapshot (without the
/// clients' raw attributes, which are in `data` now) and the typed tables, for the drafts whose
/// declared columns are those it was typed by ([`Base::fits`]). A draft that only changes rules,
/// roles or territories is checked without reading the store again.
pub struct Base {
    pub snap: Arc<Snapshot>,
    data: Data,
    client_keys: Vec<ClientKey>,
    /// The declared columns and value maps the data was typed by.
    columns: String,
    pub date: i32,
    /// The store's backend (`sqlite`, `postgres`), as a plan names it.
    pub backend: &'static str,
}

/// The parts of a scheme that decide how the data is typed.
fn columns_key(text: &str) -> String {
    allot_io::scheme::outline(text)
        .map(|o| {
            o.into_iter()
                .filter(|(k, _)| matches!(k.as_str(), "columns" | "deal_columns" | "values"))
                .map(|(k, v)| format!("{k}={v}\n"))
                .collect()
        })
        .unwrap_or_default()
}

impl Base {
    /// Reads the store on `date` and types its data by `scheme` (text, file name).
    pub fn read(store: &mut dyn Store, date: i32, scheme: (&str, &str)) -> Result<Base, AppError> {
        let _span = tracing::info_span!("draft_base").entered();
        // A draft that does not parse is said before the store is read.
        let sf = SchemeFile::parse(scheme.0, scheme.1).map_err(AppError::Input)?;
        let mut snap = store.snapshot(allot_store::Day(date))?;
        let data = load_data(&snap, &sf)?;
        let client_keys: Vec<ClientKey> = snap.clients.iter().map(|c| c.key).collect();
        snap.clients = Vec::new();
        snap.deals = Vec::new();
        Ok(Base { snap: Arc::new(snap), data, client_keys, columns: columns_key(scheme.0), date, backend: store.backend() })
    }
    /// Whether a draft types the data as this base did.
    pub fn fits(&self, text: &str) -> bool {
        columns_key(text) == self.columns
    }
    /// The state of the base's day with the draft `scheme` (text, file name).
    pub fn state(&self, scheme: (&str, &str)) -> Result<State, AppError> {
        let _span = tracing::info_span!("draft_state").entered();
        let sf = SchemeFile::parse(scheme.0, scheme.1).map_err(AppError::Input)?;
        finish(self.snap.clone(), self.data.clone(), self.client_keys.clone(), sf, scheme.0.to_string(), scheme.1.to_string(), self.date)
    }
}

/// The rest of a state: employees with their leaves and absences, the scheme built against the
/// data, the links of the day as the engine's current assignments.
fn finish(
    snap: Arc<Snapshot>,
    data: Data,
    client_keys: Vec<ClientKey>,
    sf: SchemeFile,
    scheme_text: String,
    scheme_file: String,
    date: i32,
) -> Result<State, AppError> {
    let (scheme_version, scheme_is_new) = match &snap.scheme {
        Some(v) if v.text == scheme_text => (v.version, false),
        Some(v) => (v.version + 1, true),
        None => (1, true),
    };
    let sheet = sheet_of("employee", &snap.employee_columns, &snap.employees, None).map_err(AppError::Input)?;
    let mut employees = allot_io::tables::load_employees(&sheet).map_err(AppError::Input)?;
    let employee_keys: Vec<EmployeeKey> = snap.employees.iter().map(|e| e.key).collect();
    let employee_of_key: FxHashMap<EmployeeKey, EmpIx> = employee_keys.iter().enumerate().map(|(i, &k)| (k, i as EmpIx)).collect();
    let ix_of = |key: EmployeeKey| employee_of_key.get(&key).map(|&i| i as usize);
    // Registered leavers are inactive from their day; registered absences make the employee
    // absent for the engine on the days they cover.
    for l in &snap.leavers {
        if let (true, Some(i)) = (l.on <= allot_store::Day(date), ix_of(l.employee)) {
            employees[i].active = false;
        }
    }
    for a in &snap.absences {
        if let (true, Some(i)) = (a.first.0 <= date && date <= a.last.0, ix_of(a.employee)) {
            employees[i].absent_from = Some(a.first.0);
            employees[i].absent_to = Some(a.last.0);
        }
    }
    let scheme = sf.build(&data, employees).map_err(AppError::Input)?;
    let pinned: BTreeSet<(ClientKey, &str, EmployeeKey)> = snap.pins.iter().map(|p| (p.client, p.role.as_str(), p.employee)).collect();
    let mut current = Vec::new();
    for l in snap.links.iter().filter(|l| l.from <= allot_store::Day(date)) {
        let (Ok(row), Some(role), Some(emp)) = (client_keys.binary_search(&l.client), scheme.role(&l.role), ix_of(l.employee)) else {
            continue;
        };
        // A pin holds while its employee holds the link and has not left; a cover holds until
        // the absence ends, whatever the rules say.
        let pinned = (pinned.contains(&(l.client, l.role.as_str(), l.employee)) && scheme.employees[emp].active) || l.cause == Cause::Cover;
        current.push(CurrentLink { client: row as u32, role, employee: emp as EmpIx, pinned });
    }
    let compiled = Compiled::new(&scheme, &data);
    let loaded = Loaded { scheme, data, compiled, current, warnings: vec![] };
    Ok(State { snap, loaded, client_keys, employee_keys, employee_of_key, scheme_text, scheme_file, scheme_version, scheme_is_new })
}
