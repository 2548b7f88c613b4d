//! `allot`: the command line. Argument parsing and wiring only; the work is in `allot-app`.

mod backup;
mod balance;
mod bench;
mod crm;
mod example;
mod output;
mod serve;
mod settings;
mod stored;
mod users;
mod webhooks;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use allot_app::clock::today;
use allot_app::{Inputs, Loaded, Progress};
use allot_core::diag::{render_all, Diagnostic};
use allot_core::Options;
use allot_io::write::Format;
use allot_io::Encodings;
use clap::{Args, Parser, Subcommand};
pub(crate) use output::write_output;

/// mimalloc keeps freed memory for reuse instead of handing every large block back to the kernel.
/// With glibc's allocator, each run at ten million clients page-faults its buffers anew:
/// measured 10M × 10 rules, match 45 → 27 ms (BENCHMARKS.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "allot",
    version,
    about = "Decide which employee is responsible for which client, in which role — and explain why.",
    long_about = "allot reads a scheme (roles, territories, rules), clients and employees, and decides for every \
client and role the responsible employee. Inputs: CSV (`,` or `;`, UTF-8 or --encoding cp1251), XLSX \
(first sheet) or JSON Lines.",
    after_help = "Examples:\n  allot check   --dir examples/s3\n  allot assign  --dir examples/s3 -o assignments.csv\n  allot explain --dir examples/s3 c00042\n  allot example s3 --out my-example\n\nSee docs/scheme.md for the scheme file and the condition language."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Validate the scheme against the data: every error at once, dead rules, overlapping
    /// territories, unreachable employees, coverage per role. Exit 0 when clean, 1 on errors.
    #[command(after_help = "Example:\n  allot check --dir examples/s3")]
    Check(Common),
    /// Assign every client (and deal) for every role; write `client_id,role,employee_id,rule,reason`.
    #[command(
        after_help = "Examples:\n  allot assign --dir examples/s3 -o assignments.csv\n  allot assign --dir examples/s3 --current assignments.csv   # sticky (S1.3)\n  allot assign --dir examples/s4-phone-desk --deals-out deal-assignments.csv"
    )]
    Assign(AssignArgs),
    /// Explain, rule by rule, why a client (or with --deal, a deal) is whose.
    #[command(
        after_help = "Examples:\n  allot explain --dir examples/s3 c00042\n  allot explain --dir examples/s4-phone-desk --deal d003\n  allot explain --db allot.db c00042              # a stored client, by the active scheme"
    )]
    Explain(ExplainArgs),
    /// Write a runnable example of MISSION.md: s3 (the 10-person department), s4-service
    /// (sales manager and service engineer) or s4-phone-desk.
    #[command(after_help = "Example:\n  allot example s3 --out /tmp/s3 && allot assign --dir /tmp/s3")]
    Example(example::ExampleArgs),
    /// Cut territories of equal potential (and workload, count) that are compact and, on request,
    /// contiguous; or re-balance a current design moving as little as the tolerance needs (S2.1, S1.3).
    #[command(
        after_help = "Examples:\n  allot balance --clients clients.csv -k 7 --contiguous -o design.csv --map map.svg --map map.png --chart totals.svg\n  allot balance --clients examples/s3/clients.csv --unit region --employees examples/s3/employees.csv --team dealers --contiguous --tolerance 5 --scheme-out territories.toml\n  allot balance --clients clients.csv -k 7 --current last-year.csv --contiguous -o design.csv\n  allot balance --from-store --rebalance --employees examples/s3/employees.csv --team dealers\n\nSee docs/balance.md for the method, the figures and their meaning."
    )]
    Balance(Box<balance::BalanceArgs>),
    /// Measure the engine on generated data (see BENCHMARKS.md).
    #[command(after_help = "Example:\n  allot bench --clients 1000000 --rules 1000")]
    Bench(bench::BenchArgs),
    /// Bring the store (./allot.db unless --db) up to date with a folder: import its employees,
    /// clients and deals, plan with its scheme, show the plan and apply it.
    #[command(after_help = "Examples:\n  allot sync --dir examples/s3\n  allot sync --dir examples/s3 --dry-run\n  allot history c00001")]
    Sync(stored::SyncArgs),
    /// Import clients, employees or deals into the store: the whole file is checked first; on any
    /// error nothing is imported. Rows are upserted by id in one transaction.
    #[command(
        after_help = "Examples:\n  allot import employees examples/s3/employees.csv\n  allot import clients examples/s3/clients.csv\n  allot import clients export-1c.csv --encoding cp1251\n\nThe store is ./allot.db unless --db (or ALLOT_DB) says otherwise, e.g. postgres://user@host/db."
    )]
    Import(stored::ImportArgs),
    /// Compute the assignments of a day from the stored data and scheme, and show what would
    /// change against the stored links — per employee, by cause, by rule. Writes nothing to the store.
    #[command(
        after_help = "Examples:\n  allot plan --scheme examples/s3/scheme.toml -o plan.json\n  allot plan --date 2027-01-01 -o plan.json\n  allot apply plan.json"
    )]
    Plan(stored::PlanArgs),
    /// Apply a saved plan exactly, all or nothing; refused if the store changed since it was made.
    #[command(after_help = "Example:\n  allot plan -o plan.json && allot apply plan.json")]
    Apply(stored::ApplyArgs),
    /// Every employee a client ever had, per role, with dates, causes and who made each change.
    #[command(after_help = "Example:\n  allot history c00042")]
    History(stored::HistoryArgs),
    /// The whole book on a day as CSV: client, role, employee, since, cause, rule.
    #[command(
        after_help = "Examples:\n  allot owners --at 2026-06-30 -o book-2026-06-30.csv\n  allot owners --at 2026-06-30 --client c00042"
    )]
    Owners(stored::OwnersArgs),
    /// Credit the stored sales of a period to whoever held each role, by the scheme's [credit]
    /// section: exact to the kopeck; sales that cannot be credited are listed with the reason.
    #[command(after_help = "Example:\n  allot credit --from 2026-01-01 --to 2026-03-31 -o credit-q1.csv")]
    Credit(stored::CreditArgs),
    /// Who carries what and who contributed what: per role and employee, clients, potential and
    /// workload held, revenue credited, realisation, and the balance of the distribution.
    #[command(
        after_help = "Examples:\n  allot report --from 2026-01-01 --to 2026-03-31\n  allot report --from 2026-01-01 --to 2026-03-31 -o q1.xlsx --revenue-chart q1.svg"
    )]
    Report(stored::ReportArgs),
    /// An employee's clients on a day.
    #[command(after_help = "Example:\n  allot book ivanov --at 2026-06-30")]
    Book(stored::BookArgs),
    /// Pin a client's role to an employee (moved at once if someone else holds it); rules never
    /// move a pinned link.
    #[command(after_help = "Example:\n  allot pin c00042 sales ivanov --reason \"the director asked for Ivanov\"")]
    Pin(stored::PinArgs),
    /// Remove a pin; the next plan may move the client by the rules.
    Unpin(stored::UnpinArgs),
    /// Register an absence. The next plan within it hands the employee's clients to a cover
    /// until it ends; they come back by themselves the day after.
    #[command(
        after_help = "Examples:\n  allot absent ivanov --from 2026-07-01 --to 2026-07-14 --cover petrov\n  allot absent ivanov --from 2026-07-01 --to 2026-07-14 --spread\n  allot plan --date 2026-07-01 -o plan.json && allot apply plan.json"
    )]
    Absent(stored::AbsentArgs),
    /// Register a leaver. The next plan on or after that day hands their clients over for good,
    /// balanced over eligible peers; everyone else keeps their clients.
    #[command(after_help = "Example:\n  allot leave ivanov --on 2026-09-01 && allot plan --date 2026-09-01 -o plan.json")]
    Leave(stored::LeaveArgs),
    /// Scheme versions: diff a file against the active one, show or list the stored versions.
    #[command(subcommand)]
    Scheme(stored::SchemeCommand),
    /// The store's change log: imports, plans applied, pins, absences, leavers — who and when.
    Log(stored::LogArgs),
    /// Correct a routed lead dated wrongly ahead (e.g. 9999-12-31 by an integration, before routed
    /// dates were checked): its links start on DATE instead. Only a client whose every link routing
    /// opened and none is closed; the correction is recorded in the change log.
    #[command(after_help = "Example:\n  allot redate lead-4711 2026-11-29")]
    Redate(stored::RedateArgs),
    /// Serve the HTTP API: route new leads in real time (POST /v1/route), read the book, plan and
    /// apply. OpenAPI at /openapi.json, docs at /docs, metrics at /metrics.
    #[command(
        after_help = "Examples:\n  allot token create --scope router --label web-form\n  allot serve --listen 127.0.0.1:8080\n  curl -H \"Authorization: Bearer $TOKEN\" -d '{\"attributes\":{\"region\":\"RU-TA\"}}' http://127.0.0.1:8080/v1/route"
    )]
    Serve(serve::ServeArgs),
    /// API tokens for `allot serve`.
    #[command(subcommand)]
    Token(serve::TokenCommand),
    /// The people who sign in to the workspace: add, list, disable, set a password.
    #[command(subcommand)]
    User(users::UserCommand),
    /// Tell other systems of the book's changes: subscribe an address to events (signed JSON,
    /// sent by `allot serve`, in order, retried until taken), list, remove, test.
    #[command(subcommand)]
    Webhook(webhooks::WebhookCommand),
    /// What waits to be delivered to each webhook, the receivers' last answers; --resend ID.
    Outbox(webhooks::OutboxArgs),
    /// The CRM where the sales team works (Bitrix24, amoCRM): pull its users and companies into
    /// the store, connect an amoCRM account.
    #[command(subcommand)]
    Crm(crm::CrmCommand),
    /// Copy the store to a new file while `allot serve` goes on (SQLite's online backup: one
    /// consistent state, checked); for PostgreSQL, says the pg_dump line.
    #[command(
        after_help = "Example:\n  allot backup /var/backups/allot-2026-11-30.db\n  allot restore /var/backups/allot-2026-11-30.db --db allot.db --replace"
    )]
    Backup(backup::BackupArgs),
    /// Put a backup back as the store: checked first, moved into place in one step.
    Restore(backup::RestoreArgs),
    /// Ask a running server whether it and its store work (exit 0 on 200): a container's check.
    Health(serve::HealthArgs),
}

#[derive(Args, Clone)]
struct Common {
    /// Folder holding scheme.toml, clients.*, employees.* and, if present, deals.* and current.csv.
    #[arg(long, short = 'd', value_name = "DIR")]
    dir: Option<PathBuf>,
    /// The scheme file (TOML).
    #[arg(long, value_name = "FILE")]
    scheme: Option<PathBuf>,
    /// Clients: CSV, XLSX or JSON Lines with an `id` column.
    #[arg(long, value_name = "FILE")]
    clients: Option<PathBuf>,
    /// Employees: id, name, position, teams, skills, capacity, active, absent_from, absent_to.
    #[arg(long, value_name = "FILE")]
    employees: Option<PathBuf>,
    /// Deals (orders, leads): id, client_id, amount, date and any attributes.
    #[arg(long, value_name = "FILE")]
    deals: Option<PathBuf>,
    /// Current assignments `client_id,role,employee_id[,pinned]`: clients keep valid owners.
    #[arg(long, value_name = "FILE")]
    current: Option<PathBuf>,
    /// Text encoding of CSV inputs that are not UTF-8: cp1251 (1C, old Excel) for every file, or
    /// per file as `clients=cp1251` (repeatable). UTF-8, with or without a BOM, is recognised on its own.
    #[arg(long, value_name = "[FILE=]ENCODING", value_parser = parse_encoding)]
    encoding: Vec<Encodings>,
    /// The day absences are judged on (YYYY-MM-DD); today by default.
    #[arg(long, value_name = "DATE", value_parser = parse_day)]
    date: Option<i32>,
}

#[derive(Args)]
struct AssignArgs {
    #[command(flatten)]
    common: Common,
    /// Ignore current owners (except pinned ones) and distribute from scratch.
    #[arg(long)]
    rebalance: bool,
    /// Write JSON instead of CSV.
    #[arg(long)]
    json: bool,
    /// Where to write client assignments (default: standard output).
    #[arg(long, short = 'o', value_name = "FILE")]
    out: Option<PathBuf>,
    /// Where to write deal assignments (with --deals; default: not written).
    #[arg(long, value_name = "FILE")]
    deals_out: Option<PathBuf>,
    /// Do not print the load and balance summary.
    #[arg(long, short = 'q')]
    quiet: bool,
}

#[derive(Args)]
struct ExplainArgs {
    #[command(flatten)]
    common: Common,
    /// The id of the client (or deal, with --deal).
    id: String,
    /// Explain a deal instead of a client.
    #[arg(long)]
    deal: bool,
    /// Ignore current owners, as `assign --rebalance` does.
    #[arg(long)]
    rebalance: bool,
    /// Explain a client of the store (a SQLite file or a postgres:// URL) by its stored data and
    /// active scheme, on --date (today by default), instead of the files.
    #[arg(long, value_name = "FILE|URL")]
    db: Option<String>,
    #[command(flatten)]
    lang: stored::LangOpt,
}

fn parse_encoding(s: &str) -> Result<Encodings, String> {
    Encodings::parse(&[s.to_string()]).map_err(|e| e.to_string())
}

fn parse_day(s: &str) -> Result<i32, String> {
    allot_rules::parse_iso_date(s).ok_or_else(|| format!("`{s}` is not a date; expected YYYY-MM-DD"))
}

/// The first existing file `stem.{csv,xlsx,jsonl}` in `dir`.
pub(crate) fn find(dir: &Path, stem: &str) -> Option<PathBuf> {
    ["csv", "xlsx", "jsonl", "ndjson"].iter().map(|e| dir.join(format!("{stem}.{e}"))).find(|p| p.exists())
}

impl Common {
    fn inputs(&self) -> Result<Inputs, String> {
        let dir = self.dir.clone();
        let pick = |given: &Option<PathBuf>, stem: &str, required: bool| -> Result<Option<PathBuf>, String> {
            if let Some(p) = given {
                return Ok(Some(p.clone()));
            }
            let found = match &dir {
                Some(d) if stem == "scheme" => Some(d.join("scheme.toml")).filter(|p| p.exists()),
                Some(d) => find(d, stem),
                None => None,
            };
            if found.is_none() && required {
                return Err(match &dir {
                    Some(d) => format!("no {stem} file in {} (looked for {stem}.toml/.csv/.xlsx/.jsonl); give --{stem} FILE", d.display()),
                    None => format!("missing --{stem} FILE (or --dir DIR holding it)"),
                });
            }
            Ok(found)
        };
        Ok(Inputs {
            scheme: pick(&self.scheme, "scheme", true)?.unwrap_or_default(),
            clients: pick(&self.clients, "clients", true)?.unwrap_or_default(),
            employees: pick(&self.employees, "employees", true)?.unwrap_or_default(),
            deals: pick(&self.deals, "deals", false)?,
            current: pick(&self.current, "current", false)?,
            encodings: Encodings::merge(&self.encoding),
        })
    }
    fn options(&self) -> Options {
        Options { today: self.date.unwrap_or_else(today), ..Options::default() }
    }
}

/// A spinner on standard error while loading; invisible when standard error is not a terminal.
struct Spinner(indicatif::ProgressBar);

impl Spinner {
    fn new() -> Spinner {
        let pb = indicatif::ProgressBar::with_draw_target(None, indicatif::ProgressDrawTarget::stderr());
        pb.set_style(
            indicatif::ProgressStyle::with_template("{spinner} {msg} ({elapsed})")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
        );
        pb.enable_steady_tick(std::time::Duration::from_millis(120));
        Spinner(pb)
    }
}

impl Progress for Spinner {
    fn stage(&self, what: &str) {
        self.0.set_message(what.to_string());
    }
}

impl Drop for Spinner {
    fn drop(&mut self) {
        self.0.finish_and_clear();
    }
}

/// A failure already explained to the user on standard error.
struct Reported;

/// Whether a write failed because the reader went away (`| head`), directly or inside a CSV error.
pub(crate) fn broken_pipe(e: &std::io::Error) -> bool {
    e.kind() == std::io::ErrorKind::BrokenPipe
        || e.get_ref()
            .and_then(|inner| inner.downcast_ref::<csv::Error>())
            .is_some_and(|c| matches!(c.kind(), csv::ErrorKind::Io(io) if io.kind() == std::io::ErrorKind::BrokenPipe))
}

/// Writes text to standard output. A closed pipe stops the command quietly (exit 0 would hide
/// nothing: the reader asked for no more); any other failure is reported.
pub(crate) fn emit(text: &str) -> Result<(), Reported> {
    match std::io::stdout().lock().write_all(text.as_bytes()) {
        Ok(()) => Ok(()),
        Err(e) if broken_pipe(&e) => std::process::exit(0),
        Err(e) => {
            eprintln!("error: cannot write to standard output: {e}");
            Err(Reported)
        }
    }
}

fn fail(diags: &[Diagnostic]) -> Reported {
    let errors = diags.iter().filter(|d| d.is_error()).count();
    eprintln!("{}", render_all(diags));
    eprintln!("{errors} error(s); nothing was written");
    Reported
}

fn load(common: &Common, spinner: &Spinner) -> Result<Loaded, Reported> {
    let inputs = common.inputs().map_err(|m| {
        eprintln!("error: {m}");
        Reported
    })?;
    allot_app::load(&inputs, spinner).map_err(|d| fail(&d))
}

fn run(cli: Cli) -> Result<(), Reported> {
    let io_fail = |what: &str, e: std::io::Error| {
        eprintln!("error: cannot write {what}: {e}");
        Reported
    };
    match cli.command {
        Command::Check(common) => {
            let l = {
                let spinner = Spinner::new();
                let l = load(&common, &spinner)?;
                spinner.stage("assigning");
                l
            };
            let o = allot_core::assign(&l.scheme, &l.compiled, &l.data, &l.current, &common.options());
            let review = allot_core::check::review(&l.scheme, &l.data, &o);
            for w in &l.warnings {
                println!("{w}");
            }
            print!("{}", allot_app::report::review(&l.scheme, &l.data, &review, l.warnings.len()));
        }
        Command::Assign(a) => {
            let l = {
                let spinner = Spinner::new();
                load(&a.common, &spinner)?
            };
            let opts = Options { rebalance: a.rebalance, ..a.common.options() };
            let done = allot_app::assign(&l, &opts);
            let format = if a.json { Format::Json } else { Format::Csv };
            let write = |w: &mut dyn Write| allot_io::write::write_assignments(w, &l.scheme, &l.data, &done.clients, format);
            match &a.out {
                Some(p) => write_output(p, write).map_err(|e| io_fail(&p.display().to_string(), e))?,
                // A reader that stops early (`| head`) is not an error: stop quietly.
                None => match write(&mut std::io::stdout().lock()) {
                    Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => return Ok(()),
                    r => r.map_err(|e| io_fail("to standard output", e))?,
                },
            }
            if let (Some(p), Some(d)) = (&a.deals_out, &done.deals) {
                write_output(p, |w| allot_io::write::write_deal_assignments(w, &l.scheme, &l.data, d, format))
                    .map_err(|e| io_fail(&p.display().to_string(), e))?;
            } else if a.deals_out.is_some() {
                eprintln!("note: --deals-out given but no deals were loaded (--deals FILE)");
            }
            if !a.quiet {
                for w in &l.warnings {
                    eprintln!("{w}");
                }
                let loads = allot_core::stats::loads(&l.scheme, &l.data, &done.clients);
                eprint!("{}", allot_app::report::loads(&l.scheme, &loads));
            }
        }
        Command::Explain(x) if x.db.is_some() => {
            if x.deal {
                eprintln!("error: --deal explains a deal of the files; with --db give a client's id");
                return Err(Reported);
            }
            let db = x.db.as_deref().unwrap_or_default();
            let mut store = allot_store::open(&allot_store::Location::parse(db)).map_err(|e| {
                eprintln!("error: {e}");
                Reported
            })?;
            let text = allot_app::stored::explain_stored(store.as_mut(), &x.id, x.common.date.unwrap_or_else(today), x.lang.get())
                .map_err(stored::report)?;
            emit(&text)?;
        }
        Command::Explain(x) => {
            let l = {
                let spinner = Spinner::new();
                load(&x.common, &spinner)?
            };
            let opts = Options { rebalance: x.rebalance, ..x.common.options() };
            match allot_app::explain(&l, &x.id, x.deal, &opts) {
                Ok(e) => print!("{}", allot_app::report::explanation(&l.scheme, &l.data, &e, x.lang.get())),
                Err(e) => {
                    let mut d = Diagnostic::error(e.to_string());
                    let ids: Vec<&str> = if x.deal {
                        (0..l.data.deals.len() as u32).map(|r| l.data.deals.id(r)).collect()
                    } else {
                        (0..l.data.clients.len() as u32).map(|r| l.data.clients.id(r)).collect()
                    };
                    if let Some(s) = ids.iter().filter(|i| strsim::levenshtein(i, &x.id) <= 2).min_by_key(|i| strsim::levenshtein(i, &x.id))
                    {
                        d = d.help(format!("did you mean `{s}`?"));
                    }
                    eprint!("{d}");
                    return Err(Reported);
                }
            }
        }
        Command::Example(e) => example::run(&e).map_err(|m| {
            eprintln!("error: {m}");
            Reported
        })?,
        Command::Balance(b) => balance::run(&b)?,
        Command::Bench(b) => bench::run(&b).map_err(|m| {
            eprintln!("error: {m}");
            Reported
        })?,
        Command::Sync(a) => stored::sync(&a)?,
        Command::Import(a) => stored::import(&a)?,
        Command::Plan(a) => stored::plan(&a)?,
        Command::Apply(a) => stored::apply(&a)?,
        Command::History(a) => stored::history(&a)?,
        Command::Owners(a) => stored::owners(&a)?,
        Command::Credit(a) => stored::credit(&a)?,
        Command::Report(a) => stored::contribution(&a)?,
        Command::Book(a) => stored::book_of(&a)?,
        Command::Pin(a) => stored::pin(&a)?,
        Command::Unpin(a) => stored::unpin(&a)?,
        Command::Absent(a) => stored::absent(&a)?,
        Command::Leave(a) => stored::leave(&a)?,
        Command::Scheme(c) => stored::scheme(&c)?,
        Command::Log(a) => stored::log(&a)?,
        Command::Redate(a) => stored::redate(&a)?,
        Command::Serve(a) => serve::serve(&a)?,
        Command::Token(c) => serve::token(&c)?,
        Command::User(c) => users::user(&c)?,
        Command::Webhook(c) => webhooks::webhook(&c)?,
        Command::Outbox(a) => webhooks::outbox_status(&a)?,
        Command::Crm(c) => crm::crm(&c)?,
        Command::Backup(a) => backup::backup(&a)?,
        Command::Restore(a) => backup::restore(&a)?,
        Command::Health(a) => serve::health(&a)?,
    }
    Ok(())
}

fn main() -> ExitCode {
    let logs = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("ALLOT_LOG").unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        // With ALLOT_LOG=info, each use case's span reports its time when it closes.
        .with_span_events(tracing_subscriber::fmt::format::FmtSpan::CLOSE);
    // ALLOT_LOG_FORMAT=json: one JSON object per line, for a log collector (`allot serve`).
    if std::env::var("ALLOT_LOG_FORMAT").is_ok_and(|f| f == "json") {
        logs.json().init();
    } else {
        logs.init();
    }
    // The config file (`--config FILE`, ALLOT_CONFIG) fills what neither the command line nor the
    // environment says.
    let args = match settings::args(&<Cli as clap::CommandFactory>::command()) {
        Ok(a) => a,
        Err(Reported) => return ExitCode::from(1),
    };
    match run(Cli::parse_from(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Reported) => ExitCode::from(1),
    }
}
