//! Sync: bring the store up to date with a folder — its employees, clients and deals imported
//! (read by the folder's scheme, checked whole before any lands), then the plan of a day with that
//! scheme, applied unless it is a dry run.

use std::path::PathBuf;

use super::*;

/// A folder to bring into the store.
#[derive(Debug, Clone)]
pub struct SyncRequest {
    /// The folder's scheme: (text, file name).
    pub scheme: (String, String),
    pub employees: PathBuf,
    pub clients: PathBuf,
    pub deals: Option<PathBuf>,
    pub encodings: Encodings,
    /// The day the plan is made for.
    pub date: i32,
    /// Check the files and show the plan against the store as it is; write nothing.
    pub dry_run: bool,
}

/// What a sync did.
#[derive(Debug)]
pub struct Synced {
    /// Each file landed, with what its import did (none in a dry run).
    pub imported: Vec<(PathBuf, ImportReport)>,
    pub plan: Plan,
    /// The plan applied (none in a dry run, or when it changes nothing).
    pub applied: Option<Applied>,
}

/// Imports the folder's files, plans with its scheme and applies the plan. The employees and
/// clients files are both checked before either lands; the folder's `[columns]` and `[values]`
/// read them even before its scheme is active.
pub fn sync(store: &mut dyn Store, req: &SyncRequest, actor: &Actor) -> Result<Synced, AppError> {
    let scheme = Some((req.scheme.0.as_str(), req.scheme.1.as_str()));
    let e = prepare_import_with(store, Subject::Employee, &req.employees, &req.encodings, scheme)?;
    let c = prepare_import_with(store, Subject::Client, &req.clients, &req.encodings, scheme)?;
    let mut imported = Vec::new();
    if !req.dry_run {
        imported.push((req.employees.clone(), commit_import(store, e, actor)?));
        imported.push((req.clients.clone(), commit_import(store, c, actor)?));
        if let Some(deals) = &req.deals {
            // Deals name clients: checked once the clients are in.
            let d = prepare_import_with(store, Subject::Deal, deals, &req.encodings, scheme)?;
            imported.push((deals.clone(), commit_import(store, d, actor)?));
        }
    }
    let plan = super::plan(store, &PlanRequest { date: req.date, scheme: Some(req.scheme.clone()), rebalance: false }, actor)?;
    let applied = if req.dry_run || plan.is_empty() { None } else { Some(apply(store, &plan, actor)?) };
    Ok(Synced { imported, plan, applied })
}
