//! What real-time routing and `allot balance --from-store` read from the store.

use super::*;

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
    pub employee_keys: Vec<EmployeeKey>,
}

pub fn routing_parts(snap: &Snapshot) -> Result<RoutingParts, AppError> {
    let Some(active) = &snap.scheme else {
        return Err(AppError::Refused("the store has no scheme yet: apply a plan (allot plan --scheme FILE, allot apply) first".into()));
    };
    let sf = SchemeFile::parse(&active.text, &format!("scheme version {}", active.version)).map_err(AppError::Input)?;
    let columns: Vec<(String, Type)> = declared(&snap.client_columns, &sf.columns).into_iter().collect();
    let deal_cols: Vec<(String, Type)> = declared(&snap.deal_columns, &sf.deal_columns).into_iter().collect();
    let data = Data { clients: Table::new(&columns), deals: Table::new(&deal_cols), ..Default::default() };
    let sheet = sheet_of("employee", &snap.employee_columns, &snap.employees, None).map_err(AppError::Input)?;
    let mut employees = allot_io::tables::load_employees(&sheet).map_err(AppError::Input)?;
    let employee_keys: Vec<EmployeeKey> = snap.employees.iter().map(|e| e.key).collect();
    let scheme = sf.build(&data, std::mem::take(&mut employees)).map_err(AppError::Input)?;
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
) -> Result<(Sheet, Vec<OwnerRow>, usize), AppError> {
    let mut snap = store.snapshot(allot_store::Day(date))?;
    let employee: FxHashMap<EmployeeKey, &str> = snap.employees.iter().map(|e| (e.key, e.id.as_str())).collect();
    let owner: FxHashMap<ClientKey, &str> = snap
        .links
        .iter()
        .filter(|l| l.role == role && l.from <= allot_store::Day(date))
        .filter_map(|l| Some((l.client, *employee.get(&l.employee)?)))
        .collect();
    let before = snap.clients.len();
    if let Some(only) = only {
        let keep = |c: &allot_store::Stored<ClientKey>| owner.get(&c.key).is_none_or(|e| only.iter().any(|o| o == e));
        snap.clients.retain(keep);
    }
    let left_out = before - snap.clients.len();
    let sheet = sheet_of("client", &snap.client_columns, &snap.clients, None).map_err(AppError::Input)?;
    let client: FxHashMap<ClientKey, &str> = snap.clients.iter().map(|c| (c.key, c.id.as_str())).collect();
    let pinned: rustc_hash::FxHashSet<ClientKey> = snap.pins.iter().filter(|p| p.role == role).map(|p| p.client).collect();
    let owners = owner
        .iter()
        .filter_map(|(c, e)| Some((client.get(c)?.to_string(), e.to_string(), pinned.contains(c))))
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    Ok((sheet, owners, left_out))
}
