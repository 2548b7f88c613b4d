//! `allot balance`: territory design and re-balancing (issue #5). Flags and files here; the work
//! is in `allot_app::territory` and `allot-territory`.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use allot_app::territory::{self, By, Request};
use allot_core::diag::Diagnostic;
use allot_io::Encodings;
use allot_territory::{Observer, Settings};
use clap::Args;

use crate::{fail, write_output, Reported};

#[derive(Args)]
pub struct BalanceArgs {
    /// Clients: CSV, XLSX or JSON Lines with `id`, `lat`, `lon` and the columns to balance.
    #[arg(long, value_name = "FILE", required_unless_present = "from_store")]
    clients: Option<PathBuf>,
    /// Read the clients (and, with --rebalance, the current owners in --role) from the store.
    #[arg(long, conflicts_with = "clients")]
    from_store: bool,
    /// Only the clients this condition holds for, in the scheme's language, e.g.
    /// 'significance != "vip"'; the others are left out (also from --current).
    #[arg(long = "where", value_name = "CONDITION")]
    filter: Option<String>,
    /// The store (with --from-store): a SQLite file or postgres://…
    #[arg(long, env = "ALLOT_DB", default_value = "allot.db", value_name = "URL|FILE")]
    db: String,
    /// How many territories to cut.
    #[arg(long, short = 'k', value_name = "K", required_unless_present = "employees", conflicts_with = "employees")]
    territories: Option<usize>,
    /// The employees who will own the territories: `id`, optional `weight` (0.5 = half-time),
    /// optional home `lat`,`lon` (the territory is centred there).
    #[arg(long, value_name = "FILE")]
    employees: Option<PathBuf>,
    /// Only employees of this team (the `teams` column) own territories.
    #[arg(long, value_name = "TEAM", requires = "employees")]
    team: Option<String>,
    /// Keep all clients with the same value of this column together (a city, a region): units.
    #[arg(long, value_name = "COLUMN")]
    unit: Option<String>,
    /// What to balance, in order of importance: a numeric column, or `count`; each may carry its
    /// own tolerance, e.g. `--by potential --by workload:5 --by count:10`. Default: potential.
    #[arg(long = "by", value_name = "COLUMN[:PERCENT]")]
    by: Vec<String>,
    /// Tolerance of the first criterion, in percent.
    #[arg(long, default_value = "1", value_name = "PERCENT", value_parser = percent)]
    tolerance: f64,
    /// Every territory must be one connected piece over the neighbour graph.
    #[arg(long)]
    contiguous: bool,
    /// Unit adjacencies (two columns: unit, neighbouring unit); default: Delaunay over the points.
    #[arg(long, value_name = "FILE")]
    adjacency: Option<PathBuf>,
    /// The current design (`id,territory[,fixed]`; id = client or unit, territory = label or
    /// employee): re-balance it moving as little as the tolerance needs. Rows with fixed=true stay.
    #[arg(long, value_name = "FILE")]
    current: Option<PathBuf>,
    /// With --from-store: re-balance the stored owners of --role instead of designing anew.
    #[arg(long, requires = "from_store")]
    rebalance: bool,
    /// The role whose owners are the current design (--from-store) and who owns the territories
    /// in --scheme-out.
    #[arg(long, default_value = "sales")]
    role: String,
    /// Re-balancing: move at most this share of the potential, in percent.
    #[arg(long, value_name = "PERCENT", value_parser = percent)]
    max_moved: Option<f64>,
    /// Re-balancing: move at most this many units.
    #[arg(long, value_name = "N")]
    max_moved_units: Option<usize>,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Designs tried from different starts; the best is kept. Default: 8 up to 5,000 units, 3 up
    /// to 50,000, else 1.
    #[arg(long)]
    restarts: Option<usize>,
    /// Stop after this many seconds and return the best design found (Ctrl-C does the same).
    #[arg(long, default_value = "300", value_name = "SECONDS")]
    time_limit: f64,
    /// Write the design: unit (or client) → territory, employee.
    #[arg(long, short = 'o', value_name = "FILE")]
    out: Option<PathBuf>,
    /// Write the territories in scheme form ([[territories]] with owners in --role).
    #[arg(long, value_name = "FILE")]
    scheme_out: Option<PathBuf>,
    /// Write the clients with a `territory` column (for --scheme-out's territories when the units
    /// are single clients).
    #[arg(long, value_name = "FILE")]
    clients_out: Option<PathBuf>,
    /// With --scheme-out: the parent territory of the written ones.
    #[arg(long, value_name = "ID")]
    parent: Option<String>,
    /// Draw the map (.svg or .png); may be repeated.
    #[arg(long, value_name = "FILE")]
    map: Vec<PathBuf>,
    /// Draw the bar chart of totals (.svg or .png); may be repeated.
    #[arg(long, value_name = "FILE")]
    chart: Vec<PathBuf>,
    /// Write every figure as JSON.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    /// Text encoding of CSV inputs that are not UTF-8: cp1251 for every file, or per file as
    /// `clients=cp1251` (repeatable). UTF-8, with or without a BOM, is recognised on its own.
    #[arg(long, value_name = "[FILE=]ENCODING", value_parser = crate::parse_encoding)]
    encoding: Vec<Encodings>,
    /// Do not print the report.
    #[arg(long, short = 'q')]
    quiet: bool,
}

fn percent(s: &str) -> Result<f64, String> {
    let t = s.trim().trim_end_matches('%').replace(',', ".");
    match t.parse::<f64>() {
        Ok(x) if x.is_finite() && x >= 0.0 => Ok(x / 100.0),
        _ => Err(format!("`{s}` is not a percentage; expected e.g. 1 or 2.5%")),
    }
}

fn read(path: &std::path::Path, enc: &[Encodings]) -> Result<allot_io::sheet::Sheet, Reported> {
    allot_io::read_table(path, Encodings::merge(enc).for_file(path)).map_err(|d| fail(&d))
}

/// Rows of a two-or-three column file with located diagnostics: (first, second, flag, where).
fn pairs(sheet: &allot_io::sheet::Sheet, first: &[&str], second: &[&str]) -> Result<Vec<(String, String, bool, Diagnostic)>, Reported> {
    let pick = |names: &[&str], fallback: usize| {
        names.iter().find_map(|n| sheet.column(n)).or((sheet.headers.len() > fallback).then_some(fallback))
    };
    let (Some(a), Some(b)) = (pick(first, 0), pick(second, 1)) else {
        eprintln!("error: {} needs two columns ({} and {})", sheet.file, first[0], second[0]);
        return Err(Reported);
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
        Err(fail(&errors))
    }
}

struct Watch {
    bar: indicatif::ProgressBar,
    stop: Arc<AtomicBool>,
}

impl Observer for Watch {
    fn restart(&self, done: usize, of: usize) {
        self.bar.set_length(of as u64);
        self.bar.set_position(done as u64);
    }
    fn cancelled(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }
}

pub fn run(a: &BalanceArgs) -> Result<(), Reported> {
    let owners = match &a.employees {
        Some(p) => Some(territory::read_owners(&read(p, &a.encoding)?, a.team.as_deref()).map_err(|d| fail(&d))?),
        None => None,
    };
    let (clients, stored) = if a.from_store {
        let mut store = allot_store::open(&allot_store::Location::parse(&a.db)).map_err(|e| {
            eprintln!("error: {e}");
            Reported
        })?;
        let only = owners.as_ref().map(|o| o.ids.as_slice());
        let (sheet, owners, left_out) =
            allot_app::book::clients_and_owners(store.as_mut(), allot_app::clock::today(), &a.role, only).map_err(crate::book::report)?;
        if left_out > 0 && !a.quiet {
            eprintln!("note: {left_out} stored clients owned in role {} by someone not in --employees are left out", a.role);
        }
        (sheet, Some(owners))
    } else {
        let path = a.clients.as_ref().ok_or_else(|| {
            eprintln!("error: give --clients FILE or --from-store");
            Reported
        })?;
        (read(path, &a.encoding)?, None)
    };
    // --where: the clients left out, so that rows naming them in the current design go too.
    let (clients, left_out): (_, std::collections::HashSet<String>) = match &a.filter {
        Some(expr) => {
            let kept = territory::select_clients(&clients, expr).map_err(|d| fail(&d))?;
            let ids = |s: &allot_io::sheet::Sheet| -> std::collections::HashSet<String> {
                let c = s.column("id").unwrap_or(0);
                (0..s.len()).filter_map(|r| territory::cell_text(s, r, c)).collect()
            };
            let (all, kept_ids) = (ids(&clients), ids(&kept));
            if !a.quiet {
                eprintln!("--where keeps {} of {} clients", kept.len(), clients.len());
            }
            (kept, all.difference(&kept_ids).cloned().collect())
        }
        None => (clients, Default::default()),
    };
    let stored = stored.map(|o| o.into_iter().filter(|r| !left_out.contains(&r.0)).collect::<Vec<_>>());
    let mut by = Vec::new();
    let specs = if a.by.is_empty() {
        vec![if clients.column("potential").is_some() { "potential".to_string() } else { "count".to_string() }]
    } else {
        a.by.clone()
    };
    for (i, spec) in specs.iter().enumerate() {
        let (col, tol) = match spec.split_once(':') {
            Some((c, t)) => (
                c.trim().to_string(),
                percent(t).map_err(|m| {
                    eprintln!("error: --by {spec}: {m}");
                    Reported
                })?,
            ),
            None => (spec.trim().to_string(), if i == 0 { a.tolerance } else { 0.05 }),
        };
        by.push(By { column: col, tolerance: tol });
    }
    let current = match (&a.current, stored) {
        (Some(p), _) => {
            let rows = pairs(&read(p, &a.encoding)?, &["id", "client_id"], &["territory", "current_territory", "employee", "employee_id"])?;
            Some(rows.into_iter().filter(|r| !left_out.contains(&r.0)).collect())
        }
        (None, Some(owners)) if a.rebalance => {
            Some(owners.into_iter().map(|(c, e, f)| (c, e, f, Diagnostic::error("").file("the store"))).collect())
        }
        _ => None,
    };
    let adjacency = match &a.adjacency {
        Some(p) => Some(
            pairs(&read(p, &a.encoding)?, &["a", "unit"], &["b", "neighbour", "neighbor"])?
                .into_iter()
                .map(|(x, y, _, d)| (x, y, d))
                .collect(),
        ),
        None => None,
    };
    let n = clients.len();
    let restarts = a.restarts.unwrap_or(if n <= 5_000 {
        8
    } else if n <= 50_000 {
        3
    } else {
        1
    });
    let settings = Settings {
        contiguous: a.contiguous,
        seed: a.seed,
        restarts,
        time_limit: Some(allot_territory::TimeLimit {
            limit: Duration::from_secs_f64(a.time_limit.max(0.0)),
            clock: allot_app::clock::instant,
        }),
        max_moved_share: a.max_moved,
        max_moved_units: a.max_moved_units,
    };
    let stop = Arc::new(AtomicBool::new(false));
    {
        // Ctrl-C: stop the search and keep the best design found so far.
        let stop = stop.clone();
        std::thread::spawn(move || {
            if let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() {
                rt.block_on(async {
                    if tokio::signal::ctrl_c().await.is_ok() {
                        stop.store(true, Ordering::Relaxed);
                        eprintln!("stopping: keeping the best design found so far");
                    }
                });
            }
        });
    }
    let bar = indicatif::ProgressBar::with_draw_target(Some(restarts as u64), indicatif::ProgressDrawTarget::stderr());
    bar.set_style(
        indicatif::ProgressStyle::with_template("{spinner} designing: restart {pos}/{len} ({elapsed})")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
    );
    bar.enable_steady_tick(Duration::from_millis(120));
    let watch = Watch { bar, stop };
    let sheet_copy = a.clients_out.as_ref().map(|_| clients.clone());
    let req = Request { clients, unit: a.unit.clone(), by, territories: a.territories, owners, current, adjacency, settings };
    let result = territory::design(req, &watch);
    watch.bar.finish_and_clear();
    let d = result.map_err(|e| fail(&e))?;
    let io_fail = |what: &PathBuf, e: std::io::Error| {
        eprintln!("error: cannot write {}: {e}", what.display());
        Reported
    };
    if let Some(p) = &a.out {
        write_output(p, |w| territory::write_csv(&d, w)).map_err(|e| io_fail(p, e))?;
    }
    if let (Some(p), Some(sheet)) = (&a.clients_out, &sheet_copy) {
        write_output(p, |w| territory::write_clients(&d, sheet, w)).map_err(|e| io_fail(p, e))?;
    }
    if let Some(p) = &a.scheme_out {
        let text = territory::scheme_toml(&d, &a.role, a.parent.as_deref(), &|_| None);
        write_output(p, |w| w.write_all(text.as_bytes())).map_err(|e| io_fail(p, e))?;
    }
    for (paths, draw) in [(&a.map, allot_app::map::map as fn(&_, &_) -> _), (&a.chart, allot_app::map::chart)] {
        for p in paths {
            let bytes = draw(&d, p.as_path()).map_err(|m| {
                eprintln!("error: {m}");
                Reported
            })?;
            write_output(p, |w| w.write_all(&bytes)).map_err(|e| io_fail(p, e))?;
        }
    }
    if let Some(p) = &a.json {
        let text = serde_json::to_string_pretty(&d.figures).unwrap_or_default();
        write_output(p, |w| w.write_all(text.as_bytes())).map_err(|e| io_fail(p, e))?;
    }
    // Without -o or --scheme-out the design itself goes to standard output, and the report to
    // standard error.
    let design_to_stdout = a.out.is_none() && a.scheme_out.is_none();
    if design_to_stdout {
        let mut buf = Vec::new();
        territory::write_csv(&d, &mut buf).map_err(|e| io_fail(&PathBuf::from("standard output"), e))?;
        crate::emit(&String::from_utf8_lossy(&buf))?;
    }
    if !a.quiet {
        let r = territory::report(&d);
        if design_to_stdout {
            eprint!("{r}");
        } else {
            crate::emit(&r)?;
        }
    }
    if d.figures.criteria.iter().any(|c| !c.met) {
        eprintln!("note: not every tolerance was met (see the report); the design is the best found");
    }
    Ok(())
}
