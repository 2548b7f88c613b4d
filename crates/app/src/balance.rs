//! The balance use case (S2.1, issue #5): where the clients come from (a file or the store), the
//! `--where` subset, the criteria and their tolerances, the current design to re-balance, the
//! restarts for the instance's size — then [`territory::design`]. A front end reads the files,
//! shows progress, offers a stop and writes what it is asked for.

use std::collections::HashSet;
use std::time::Duration;

use allot_core::diag::Diagnostic;
use allot_io::sheet::Sheet;
use allot_store::Store;
pub use allot_territory::Observer;
use allot_territory::{Settings, TimeLimit};

use crate::stored::AppError;
use crate::territory::{self, By, Design, Owners, Request};

/// Where the clients are.
pub enum Clients<'a> {
    /// A file as read: `id`, `lat`, `lon` and the columns to balance.
    Sheet(Sheet),
    /// The stored clients with their owners in `role` on `date` (the current design when
    /// re-balancing).
    Store { store: &'a mut dyn Store, role: &'a str, date: i32 },
}

pub struct BalanceRequest<'a> {
    pub clients: Clients<'a>,
    /// Only the clients this condition (the scheme's language) holds for.
    pub filter: Option<&'a str>,
    /// Who will own the territories (otherwise `territories` unnamed ones are cut).
    pub owners: Option<Owners>,
    pub territories: Option<usize>,
    /// Clients with the same value of this column stay together.
    pub unit: Option<String>,
    /// What to balance, most important first: a numeric column or `count`, each with an optional
    /// `:PERCENT` tolerance. Empty: `potential` when there is such a column, else `count`.
    pub by: &'a [String],
    /// The first criterion's tolerance (a share: 0.01 is 1%) unless its spec gives one.
    pub tolerance: f64,
    /// The current design (`id,territory[,fixed]`) to re-balance.
    pub current: Option<Sheet>,
    /// With clients from the store and no `current`: re-balance the stored owners.
    pub rebalance: bool,
    /// Unit adjacencies (unit, neighbouring unit); otherwise Delaunay over the points.
    pub adjacency: Option<Sheet>,
    pub contiguous: bool,
    pub seed: u64,
    /// Designs tried from different starts; by default fewer as the instance grows.
    pub restarts: Option<usize>,
    pub time_limit: Duration,
    pub max_moved_share: Option<f64>,
    pub max_moved_units: Option<usize>,
    /// Return the clients as balanced (for writing them with their territory).
    pub keep_clients: bool,
}

/// A design, the clients it was cut from (when asked for), and notes for the person.
pub struct Balanced {
    pub design: Design,
    pub clients: Option<Sheet>,
    /// Said in the reader's language (`Message::say`).
    pub notes: Vec<allot_i18n::Message>,
}

#[derive(Debug, thiserror::Error)]
pub enum BalanceError {
    #[error("{}", allot_core::diag::render_all(.0))]
    Input(Vec<Diagnostic>),
    #[error(transparent)]
    App(#[from] AppError),
    #[error("{0}")]
    Refused(String),
}

impl From<Vec<Diagnostic>> for BalanceError {
    fn from(d: Vec<Diagnostic>) -> Self {
        BalanceError::Input(d)
    }
}

/// Text that is not a percentage.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a percentage; expected e.g. 1 or 2.5%")]
pub struct NotAPercentage(pub String);

/// A percentage as people write it (`1`, `2.5%`, `2,5`), as a share.
pub fn percent(s: &str) -> Result<f64, NotAPercentage> {
    let t = s.trim().trim_end_matches('%').replace(',', ".");
    match t.parse::<f64>() {
        Ok(x) if x.is_finite() && x >= 0.0 => Ok(x / 100.0),
        _ => Err(NotAPercentage(s.to_string())),
    }
}

/// The criteria from their specs: the first takes `tolerance` unless it gives its own, the
/// others 5%.
pub fn criteria(specs: &[String], tolerance: f64, clients: &Sheet) -> Result<Vec<By>, BalanceError> {
    let default = [if clients.column("potential").is_some() { "potential" } else { "count" }.to_string()];
    let specs = if specs.is_empty() { &default[..] } else { specs };
    specs
        .iter()
        .enumerate()
        .map(|(i, spec)| match spec.split_once(':') {
            Some((c, t)) => Ok(By {
                column: c.trim().to_string(),
                tolerance: percent(t).map_err(|m| BalanceError::Refused(format!("--by {spec}: {m}")))?,
            }),
            None => Ok(By { column: spec.trim().to_string(), tolerance: if i == 0 { tolerance } else { 0.05 } }),
        })
        .collect()
}

/// Restarts for `n` clients: 8 up to 5,000, 3 up to 50,000, else 1.
pub fn restarts_for(n: usize) -> usize {
    match n {
        0..=5_000 => 8,
        5_001..=50_000 => 3,
        _ => 1,
    }
}

/// Rows of a two-or-three column file with located diagnostics: (first, second, fixed, where).
pub fn pairs(sheet: &Sheet, first: &[&str], second: &[&str]) -> Result<Vec<(String, String, bool, Diagnostic)>, BalanceError> {
    let pick = |names: &[&str], fallback: usize| {
        names.iter().find_map(|n| sheet.column(n)).or((sheet.headers.len() > fallback).then_some(fallback))
    };
    let (Some(a), Some(b)) = (pick(first, 0), pick(second, 1)) else {
        return Err(BalanceError::Refused(format!("{} needs two columns ({} and {})", sheet.file, first[0], second[0])));
    };
    let flag = sheet.column("fixed").or_else(|| sheet.column("pinned"));
    let cell = |r: usize, c: usize| territory::cell_text(sheet, r, c).unwrap_or_default();
    let mut out = Vec::with_capacity(sheet.len());
    let mut errors = Vec::new();
    for r in 0..sheet.len() {
        let (x, y) = (cell(r, a), cell(r, b));
        if x.is_empty() || y.is_empty() {
            errors.push(sheet.at(r, if x.is_empty() { a } else { b }, Diagnostic::error("empty cell").help("every row needs both values")));
            continue;
        }
        let fixed = flag.is_some_and(|c| matches!(cell(r, c).to_lowercase().as_str(), "true" | "1" | "yes" | "да"));
        out.push((x, y, fixed, sheet.at(r, a, Diagnostic::error(""))));
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(BalanceError::Input(errors))
    }
}

fn ids(s: &Sheet) -> HashSet<String> {
    let c = s.column("id").unwrap_or(0);
    (0..s.len()).filter_map(|r| territory::cell_text(s, r, c)).collect()
}

/// Cuts (or re-balances) the territories.
pub fn balance(req: BalanceRequest<'_>, observer: &dyn Observer) -> Result<Balanced, BalanceError> {
    let mut notes = Vec::new();
    let (clients, stored) = match req.clients {
        Clients::Sheet(s) => (s, None),
        Clients::Store { store, role, date } => {
            let only = req.owners.as_ref().map(|o| o.ids.as_slice());
            let (sheet, owners, left_out) = crate::stored::clients_and_owners(store, date, role, only)?;
            if left_out > 0 {
                notes.push(allot_i18n::Message::new("balance-note-left-out").count("count", left_out as i64).text("role", role));
            }
            (sheet, Some(owners))
        }
    };
    // --where: the clients left out, so that rows naming them in the current design go too.
    let (clients, left_out) = match req.filter {
        Some(expr) => {
            let kept = territory::select_clients(&clients, expr)?;
            notes.push(allot_i18n::Message::new("balance-note-where").count("kept", kept.len() as i64).count("of", clients.len() as i64));
            let kept_ids = ids(&kept);
            (kept, ids(&clients).difference(&kept_ids).cloned().collect())
        }
        None => (clients, HashSet::new()),
    };
    let by = criteria(req.by, req.tolerance, &clients)?;
    let current = match (req.current, stored) {
        (Some(sheet), _) => {
            // The headers `allot balance -o` writes, in either language, and the usual others.
            let rows = pairs(
                &sheet,
                &["id", "client_id"],
                &["territory", "current_territory", "employee", "employee_id", "территория", "сотрудник"],
            )?;
            Some(rows.into_iter().filter(|r| !left_out.contains(&r.0)).collect())
        }
        (None, Some(owners)) if req.rebalance => Some(
            owners
                .into_iter()
                .filter(|r| !left_out.contains(&r.0))
                .map(|(c, e, f)| (c, e, f, Diagnostic::error("").file("the store")))
                .collect(),
        ),
        _ => None,
    };
    let adjacency = match req.adjacency {
        Some(sheet) => {
            Some(pairs(&sheet, &["a", "unit"], &["b", "neighbour", "neighbor"])?.into_iter().map(|(x, y, _, d)| (x, y, d)).collect())
        }
        None => None,
    };
    let settings = Settings {
        contiguous: req.contiguous,
        seed: req.seed,
        restarts: req.restarts.unwrap_or_else(|| restarts_for(clients.len())),
        time_limit: Some(TimeLimit { limit: req.time_limit, clock: crate::clock::instant }),
        max_moved_share: req.max_moved_share,
        max_moved_units: req.max_moved_units,
    };
    let kept = req.keep_clients.then(|| clients.clone());
    let request = Request { clients, unit: req.unit, by, territories: req.territories, owners: req.owners, current, adjacency, settings };
    let design = territory::design(request, observer)?;
    Ok(Balanced { design, clients: kept, notes })
}
