//! `allot balance`: territory design and re-balancing (issue #5). Flags and files here; the work
//! is in `allot_app::territory` and `allot-territory`.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use allot_app::balance::{self, BalanceError, BalanceRequest, Balanced, Clients};
use allot_app::territory;
use allot_io::Encodings;
use allot_territory::Observer;
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
    #[command(flatten)]
    lang: crate::stored::LangOpt,
    /// Text encoding of CSV inputs that are not UTF-8: cp1251 for every file, or per file as
    /// `clients=cp1251` (repeatable). UTF-8, with or without a BOM, is recognised on its own.
    #[arg(long, value_name = "[FILE=]ENCODING", value_parser = crate::parse_encoding)]
    encoding: Vec<Encodings>,
    /// Do not print the report.
    #[arg(long, short = 'q')]
    quiet: bool,
}

fn percent(s: &str) -> Result<f64, String> {
    allot_app::balance::percent(s).map_err(|e| e.to_string())
}

fn read(path: &std::path::Path, enc: &[Encodings]) -> Result<allot_io::sheet::Sheet, Reported> {
    allot_io::read_table(path, Encodings::merge(enc).for_file(path)).map_err(|d| fail(&d))
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
    let mut store = None;
    if a.from_store {
        store = Some(allot_store::open(&allot_store::Location::parse(&a.db)).map_err(|e| {
            eprintln!("error: {e}");
            Reported
        })?);
    }
    let clients = match store.as_mut() {
        Some(store) => Clients::Store { store: store.as_mut(), role: &a.role, date: allot_app::clock::today() },
        None => {
            let path = a.clients.as_ref().ok_or_else(|| {
                eprintln!("error: give --clients FILE or --from-store");
                Reported
            })?;
            Clients::Sheet(read(path, &a.encoding)?)
        }
    };
    let req = BalanceRequest {
        clients,
        filter: a.filter.as_deref(),
        owners,
        territories: a.territories,
        unit: a.unit.clone(),
        by: &a.by,
        tolerance: a.tolerance,
        current: a.current.as_deref().map(|p| read(p, &a.encoding)).transpose()?,
        rebalance: a.rebalance,
        adjacency: a.adjacency.as_deref().map(|p| read(p, &a.encoding)).transpose()?,
        contiguous: a.contiguous,
        seed: a.seed,
        restarts: a.restarts,
        time_limit: Duration::from_secs_f64(a.time_limit.max(0.0)),
        max_moved_share: a.max_moved,
        max_moved_units: a.max_moved_units,
        keep_clients: a.clients_out.is_some(),
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
    let bar = indicatif::ProgressBar::with_draw_target(None, indicatif::ProgressDrawTarget::stderr());
    bar.set_style(
        indicatif::ProgressStyle::with_template("{spinner} designing: restart {pos}/{len} ({elapsed})")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
    );
    bar.enable_steady_tick(Duration::from_millis(120));
    let watch = Watch { bar, stop };
    let result = balance::balance(req, &watch);
    watch.bar.finish_and_clear();
    let Balanced { design: d, clients: sheet_copy, notes } = result.map_err(|e| match e {
        BalanceError::Input(d) => fail(&d),
        BalanceError::App(e) => crate::stored::report(e),
        BalanceError::Refused(m) => {
            eprintln!("error: {m}");
            Reported
        }
    })?;
    if !a.quiet {
        for n in &notes {
            eprintln!("note: {}", n.say(a.lang.get()));
        }
    }
    write_files(a, &d, sheet_copy.as_ref())?;
    // Without -o or --scheme-out the design itself goes to standard output, and the report to
    // standard error.
    let design_to_stdout = a.out.is_none() && a.scheme_out.is_none();
    if design_to_stdout {
        let mut buf = Vec::new();
        territory::write_csv(&d, &mut buf, a.lang.get()).map_err(|e| {
            eprintln!("error: cannot write the design: {e}");
            Reported
        })?;
        crate::emit(&String::from_utf8_lossy(&buf))?;
    }
    if !a.quiet {
        let r = territory::report(&d, a.lang.get());
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

/// Writes the files asked for: the design, the clients with their territory, the territories as
/// a scheme, maps and charts, the figures as JSON.
fn write_files(a: &BalanceArgs, d: &territory::Design, sheet_copy: Option<&allot_io::sheet::Sheet>) -> Result<(), Reported> {
    let io_fail = |what: &PathBuf, e: std::io::Error| {
        eprintln!("error: cannot write {}: {e}", what.display());
        Reported
    };
    if let Some(p) = &a.out {
        write_output(p, |w| territory::write_csv(d, w, a.lang.get())).map_err(|e| io_fail(p, e))?;
    }
    if let (Some(p), Some(sheet)) = (&a.clients_out, sheet_copy) {
        write_output(p, |w| territory::write_clients(d, sheet, w)).map_err(|e| io_fail(p, e))?;
    }
    if let Some(p) = &a.scheme_out {
        let text = territory::scheme_toml(d, &a.role, a.parent.as_deref(), &|_| None);
        write_output(p, |w| w.write_all(text.as_bytes())).map_err(|e| io_fail(p, e))?;
    }
    for (paths, draw) in [(&a.map, allot_render::map as fn(&_, &_, _) -> _), (&a.chart, allot_render::chart)] {
        for p in paths {
            let bytes = draw(d, p.as_path(), a.lang.get()).map_err(|m| {
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
    Ok(())
}
