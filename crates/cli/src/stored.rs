//! The store commands: import, plan, apply, the as-of questions, pins, absences, leavers and
//! scheme versions. Wiring only; the work is in `allot_app::stored` and `allot-store`.

use std::path::PathBuf;

use allot_app::stored::{self, AppError, Plan, PlanRequest};
use allot_store::{Actor, LinkEntry, Location, PinRequest, Store, Subject};
use clap::{Args, Subcommand, ValueEnum};

use crate::{parse_day, parse_encoding, today, write_output, Reported};
use allot_io::Encodings;

/// Prints to standard output; a reader that closed the pipe (`| head`) ends the command quietly.
macro_rules! out {
    ($($t:tt)*) => {
        crate::emit(&format!($($t)*))?
    };
}
macro_rules! outln {
    () => { crate::emit("\n")? };
    ($($t:tt)*) => {
        crate::emit(&format!("{}\n", format!($($t)*)))?
    };
}

/// Where the store is and who is acting.
#[derive(Args, Clone)]
pub struct StoreOpt {
    /// The store: a SQLite file (created on first use) or a postgres:// URL.
    #[arg(long, env = "ALLOT_DB", default_value = "allot.db", value_name = "FILE|URL")]
    db: String,
    /// Who makes the change, for the history (default: $ALLOT_USER, else $USER).
    #[arg(long, env = "ALLOT_USER", value_name = "NAME")]
    by: Option<String>,
}

impl StoreOpt {
    pub fn db(&self) -> &str {
        &self.db
    }
    pub fn open(&self) -> Result<Box<dyn Store>, Reported> {
        allot_store::open(&Location::parse(&self.db)).map_err(|e| {
            eprintln!("error: {e}");
            Reported
        })
    }
    pub fn actor(&self) -> Actor {
        let by = self
            .by
            .clone()
            .filter(|s| !s.trim().is_empty())
            .or_else(|| std::env::var("USER").ok().filter(|s| !s.trim().is_empty()))
            .or_else(os_account)
            .unwrap_or_else(|| "unknown".into());
        Actor { by, at: allot_app::clock::now_utc() }
    }
}

/// The name of the operating-system account running allot, when `$USER` is not set (a service, a
/// container, cron): the account of this process's user id in /etc/passwd.
fn os_account() -> Option<String> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let uid = std::fs::metadata("/proc/self").ok()?.uid().to_string();
        let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
        passwd.lines().map(|l| l.split(':').collect::<Vec<_>>()).find(|f| f.len() > 2 && f[2] == uid).map(|f| f[0].to_string())
    }
    #[cfg(not(unix))]
    {
        std::env::var("USERNAME").ok()
    }
}

#[derive(Clone, Copy, ValueEnum)]
pub enum What {
    Clients,
    Employees,
    Deals,
}

#[derive(Args)]
pub struct ImportArgs {
    /// What the file holds.
    what: What,
    /// CSV, XLSX or JSON Lines with an `id` column (deals: also `client_id`).
    file: PathBuf,
    /// Text encoding of a CSV file that is not UTF-8: cp1251 (1C, old Excel). UTF-8, with or
    /// without a BOM, is recognised on its own.
    #[arg(long, value_name = "[FILE=]ENCODING", value_parser = parse_encoding)]
    encoding: Vec<Encodings>,
    #[command(flatten)]
    store: StoreOpt,
}

#[derive(Args)]
pub struct PlanArgs {
    /// Plan with this scheme (it becomes a new version when applied); default: the active one.
    #[arg(long, value_name = "FILE")]
    scheme: Option<PathBuf>,
    /// The day the plan takes effect (YYYY-MM-DD); today by default.
    #[arg(long, value_name = "DATE", value_parser = parse_day)]
    date: Option<i32>,
    /// Ignore current owners (pins and absence covers stay) and distribute from scratch.
    #[arg(long)]
    rebalance: bool,
    /// Save the plan here, for `allot apply`.
    #[arg(long, short = 'o', value_name = "FILE")]
    out: Option<PathBuf>,
    /// Print the plan's summary as JSON.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    store: StoreOpt,
}

#[derive(Args)]
pub struct ApplyArgs {
    /// A plan saved by `allot plan -o FILE`.
    plan: PathBuf,
    #[command(flatten)]
    store: StoreOpt,
}

#[derive(Args)]
pub struct HistoryArgs {
    /// The client's id.
    client: String,
    /// Print JSON Lines instead of a table.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    store: StoreOpt,
}

#[derive(Args)]
pub struct OwnersArgs {
    /// The day (YYYY-MM-DD); today by default.
    #[arg(long, value_name = "DATE", value_parser = parse_day)]
    at: Option<i32>,
    /// Only this client.
    #[arg(long, value_name = "ID")]
    client: Option<String>,
    /// Write the CSV here (default: standard output).
    #[arg(long, short = 'o', value_name = "FILE")]
    out: Option<PathBuf>,
    #[command(flatten)]
    store: StoreOpt,
}

/// The sales period of `allot credit` and `allot report`, and the scheme to credit by.
#[derive(Args)]
pub struct PeriodOpt {
    /// The first sale date of the period (YYYY-MM-DD).
    #[arg(long, value_name = "DATE", value_parser = parse_day)]
    from: i32,
    /// The last sale date of the period, and the day holdings are counted (YYYY-MM-DD); today by
    /// default.
    #[arg(long, value_name = "DATE", value_parser = parse_day)]
    to: Option<i32>,
    /// Credit by this scheme's [credit] section instead of the active scheme's.
    #[arg(long, value_name = "FILE")]
    scheme: Option<PathBuf>,
}

impl PeriodOpt {
    fn request(&self) -> Result<allot_app::credit::CreditRequest, Reported> {
        Ok(allot_app::credit::CreditRequest { first: self.from, last: self.to.unwrap_or_else(today), scheme: scheme_arg(&self.scheme)? })
    }
}

#[derive(Args)]
pub struct CreditArgs {
    #[command(flatten)]
    period: PeriodOpt,
    /// Write every credited part as CSV here (deal, client, date, kind, role, employee, amount in
    /// kopecks, currency).
    #[arg(long, short = 'o', value_name = "FILE")]
    out: Option<PathBuf>,
    /// Write the deals of the period that were not credited, with the reason, as CSV here.
    #[arg(long, value_name = "FILE")]
    uncredited: Option<PathBuf>,
    #[command(flatten)]
    store: StoreOpt,
}

fn parse_lang(s: &str) -> Result<allot_i18n::Lang, String> {
    allot_i18n::Lang::parse(s).ok_or_else(|| format!("`{s}` is not a language of allot; expected ru or en"))
}

/// `--lang` of every command whose output a person reads (report, explain, balance).
#[derive(Args, Clone, Copy)]
pub struct LangOpt {
    /// The language of what is written: ru or en (default: the locale's — LC_ALL, LC_MESSAGES,
    /// LANG —, English when it names neither).
    #[arg(long, value_name = "ru|en", value_parser = parse_lang)]
    lang: Option<allot_i18n::Lang>,
}

impl LangOpt {
    /// `--lang`, or the locale's language (English when it names neither).
    pub fn get(self) -> allot_i18n::Lang {
        self.lang.unwrap_or_else(|| {
            let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
            let (all, messages, lang) = (var("LC_ALL"), var("LC_MESSAGES"), var("LANG"));
            allot_i18n::Lang::from_locale_or([all.as_deref(), messages.as_deref(), lang.as_deref()], allot_i18n::Lang::En)
        })
    }
}

#[derive(Args)]
pub struct ReportArgs {
    #[command(flatten)]
    period: PeriodOpt,
    /// Rows per employee, team, territory, or a client column (a segment: significance,
    /// industry, ownership, channel, …).
    #[arg(long, default_value = "employee", value_name = "employee|team|territory|COLUMN")]
    per: String,
    /// Only credit in this currency (needed when the period's sales have several).
    #[arg(long, value_name = "CODE")]
    currency: Option<String>,
    /// Write the table here: .csv or .xlsx (with number formats and a balance sheet).
    #[arg(long, short = 'o', value_name = "FILE")]
    out: Option<PathBuf>,
    /// Draw potential held and revenue credited per employee of --role (.svg or .png).
    #[arg(long, value_name = "FILE")]
    load_chart: Option<PathBuf>,
    /// Draw credited revenue against potential, one point per employee of --role (.svg or .png).
    #[arg(long, value_name = "FILE")]
    revenue_chart: Option<PathBuf>,
    /// The role the charts show.
    #[arg(long, default_value = "sales")]
    role: String,
    /// Write the deals of the period that were not credited, with the reason, as CSV here.
    #[arg(long, value_name = "FILE")]
    uncredited: Option<PathBuf>,
    #[command(flatten)]
    lang: LangOpt,
    #[command(flatten)]
    store: StoreOpt,
}

#[derive(Args)]
pub struct BookArgs {
    /// The employee's id.
    employee: String,
    /// The day (YYYY-MM-DD); today by default.
    #[arg(long, value_name = "DATE", value_parser = parse_day)]
    at: Option<i32>,
    /// Write the list as CSV (client_id, name, region, potential ..., role, since, cause, rule).
    #[arg(long, short = 'o', value_name = "FILE")]
    out: Option<PathBuf>,
    #[command(flatten)]
    store: StoreOpt,
}

#[derive(Args)]
pub struct PinArgs {
    client: String,
    role: String,
    employee: String,
    /// Why (kept in the history).
    #[arg(long)]
    reason: String,
    /// The day the pinned employee takes over, if someone else holds the client (default today).
    #[arg(long, value_name = "DATE", value_parser = parse_day)]
    date: Option<i32>,
    #[command(flatten)]
    store: StoreOpt,
}

#[derive(Args)]
pub struct UnpinArgs {
    client: String,
    role: String,
    #[command(flatten)]
    store: StoreOpt,
}

#[derive(Args)]
#[command(group = clap::ArgGroup::new("how").args(["cover", "spread"]))]
pub struct AbsentArgs {
    employee: String,
    /// First day of the absence (YYYY-MM-DD).
    #[arg(long, value_name = "DATE", value_parser = parse_day)]
    from: i32,
    /// Last day of the absence (YYYY-MM-DD); the owner is back the day after.
    #[arg(long, value_name = "DATE", value_parser = parse_day)]
    to: i32,
    /// One employee covers every client.
    #[arg(long, value_name = "EMPLOYEE")]
    cover: Option<String>,
    /// The rules pick the covers, balanced; teammates take what no rule can place (the default).
    #[arg(long)]
    spread: bool,
    #[command(flatten)]
    store: StoreOpt,
}

#[derive(Args)]
pub struct LeaveArgs {
    employee: String,
    /// The first day the employee no longer holds clients (YYYY-MM-DD).
    #[arg(long, value_name = "DATE", value_parser = parse_day)]
    on: i32,
    #[command(flatten)]
    store: StoreOpt,
}

#[derive(Subcommand)]
pub enum SchemeCommand {
    /// What FILE changes against the active version: the parts (rules, territories, roles,
    /// teams, settings), then the text.
    Diff {
        /// The scheme file (default: scheme.toml).
        #[arg(default_value = "scheme.toml")]
        file: PathBuf,
        #[command(flatten)]
        store: StoreOpt,
    },
    /// Print a stored version (default: the active one).
    Show {
        #[arg(long)]
        version: Option<i64>,
        #[command(flatten)]
        store: StoreOpt,
    },
    /// List the stored versions.
    Log {
        #[command(flatten)]
        store: StoreOpt,
    },
}

#[derive(Args)]
pub struct RedateArgs {
    /// The client's id.
    client: String,
    /// The day its links start on (YYYY-MM-DD), not after today.
    #[arg(value_parser = parse_day)]
    day: i32,
    #[command(flatten)]
    store: StoreOpt,
}

#[derive(Args)]
pub struct LogArgs {
    #[command(flatten)]
    store: StoreOpt,
}

pub(crate) fn report(e: AppError) -> Reported {
    match e {
        AppError::Input(d) => {
            crate::fail(&d);
        }
        other => eprintln!("error: {other}"),
    }
    Reported
}

fn read(path: &PathBuf) -> Result<String, Reported> {
    std::fs::read_to_string(path).map_err(|e| {
        eprintln!("error: cannot read {}: {e}", path.display());
        Reported
    })
}

pub fn import(a: &ImportArgs) -> Result<(), Reported> {
    let mut store = a.store.open()?;
    let subject = match a.what {
        What::Clients => Subject::Client,
        What::Employees => Subject::Employee,
        What::Deals => Subject::Deal,
    };
    let r = stored::import(store.as_mut(), subject, &a.file, &Encodings::merge(&a.encoding), &a.store.actor()).map_err(report)?;
    say_imported(&r, &a.file)
}

fn say_imported(r: &stored::ImportReport, file: &std::path::Path) -> Result<(), Reported> {
    for w in &r.warnings {
        eprintln!("{w}");
    }
    outln!(
        "imported {} {} rows from {}: {} new, {} updated, {} unchanged (change {})",
        r.rows,
        r.subject.as_str(),
        file.display(),
        r.imported.inserted,
        r.imported.updated,
        r.imported.unchanged,
        r.imported.change
    );
    Ok(())
}

#[derive(Args)]
pub struct SyncArgs {
    /// Folder holding scheme.toml, employees.*, clients.* and, if present, deals.*.
    #[arg(long, short = 'd', value_name = "DIR")]
    dir: PathBuf,
    /// The day the plan takes effect (YYYY-MM-DD); today by default.
    #[arg(long, value_name = "DATE", value_parser = parse_day)]
    date: Option<i32>,
    /// Text encoding of CSV inputs that are not UTF-8: cp1251 for every file, or per file as
    /// `clients=cp1251` (repeatable). UTF-8, with or without a BOM, is recognised on its own.
    #[arg(long, value_name = "[FILE=]ENCODING", value_parser = parse_encoding)]
    encoding: Vec<Encodings>,
    /// Show the plan and write nothing (the imports included).
    #[arg(long)]
    dry_run: bool,
    #[command(flatten)]
    store: StoreOpt,
}

/// Brings the store up to date with a folder: import its files, plan with its scheme, apply.
pub fn sync(a: &SyncArgs) -> Result<(), Reported> {
    let find = |stem: &str| crate::find(&a.dir, stem);
    let scheme_path = a.dir.join("scheme.toml");
    let scheme = read(&scheme_path)?;
    let (Some(employees), Some(clients)) = (find("employees"), find("clients")) else {
        eprintln!("error: {} needs employees.* and clients.* (csv, xlsx or jsonl) beside scheme.toml", a.dir.display());
        return Err(Reported);
    };
    let mut store = a.store.open()?;
    let req = stored::SyncRequest {
        scheme: (scheme, scheme_path.display().to_string()),
        employees,
        clients,
        deals: find("deals"),
        encodings: Encodings::merge(&a.encoding),
        date: a.date.unwrap_or_else(today),
        dry_run: a.dry_run,
    };
    let done = stored::sync(store.as_mut(), &req, &a.store.actor()).map_err(report)?;
    if a.dry_run {
        eprintln!("dry run: the files are checked, the plan is shown against the store as it is, nothing is written");
    }
    for (file, r) in &done.imported {
        say_imported(r, file)?;
    }
    out!("{}", allot_app::report::plan(&done.plan));
    if let Some(applied) = &done.applied {
        outln!(
            "\napplied: {} links opened, {} closed{} (change {}). Ask `allot history CLIENT`, `allot owners --at DATE` or `allot book EMPLOYEE`.",
            applied.opened,
            applied.closed,
            applied.scheme.map_or(String::new(), |v| format!(", scheme version {v} active")),
            applied.change
        );
    }
    Ok(())
}

/// A `--scheme FILE` as (text, file name) for the use cases; none: the store's active scheme.
fn scheme_arg(p: &Option<PathBuf>) -> Result<Option<(String, String)>, Reported> {
    p.as_ref().map(|p| Ok((read(p)?, p.display().to_string()))).transpose()
}

pub fn plan(a: &PlanArgs) -> Result<(), Reported> {
    let mut store = a.store.open()?;
    let scheme = scheme_arg(&a.scheme)?;
    let req = PlanRequest { date: a.date.unwrap_or_else(today), scheme, rebalance: a.rebalance };
    let plan = {
        let spinner = crate::Spinner::new();
        allot_app::Progress::stage(&spinner, "planning");
        stored::plan(store.as_mut(), &req, &a.store.actor()).map_err(report)?
    };
    if a.json {
        outln!("{}", serde_json::to_string_pretty(&plan.summary).unwrap_or_default());
    } else {
        out!("{}", allot_app::report::plan(&plan));
    }
    match &a.out {
        Some(p) => {
            // A name ending in .gz: the same JSON, gzip-compressed (a whole book's first plan is
            // tens of times smaller: BENCHMARKS.md §3).
            let gz = p.extension().is_some_and(|e| e == "gz");
            write_output(p, |w| {
                let mut buf = std::io::BufWriter::new(w);
                if gz {
                    let mut z = flate2::write::GzEncoder::new(buf, flate2::Compression::fast());
                    serde_json::to_writer(&mut z, &plan).map_err(std::io::Error::other)?;
                    let mut buf = z.finish()?;
                    return std::io::Write::flush(&mut buf);
                }
                serde_json::to_writer(&mut buf, &plan).map_err(std::io::Error::other)?;
                std::io::Write::flush(&mut buf)
            })
            .map_err(|e| {
                eprintln!("error: cannot write {}: {e}", p.display());
                Reported
            })?;
            eprintln!("\nSaved the plan to {}. Apply it with: allot apply {}", p.display(), p.display());
        }
        None if !plan.is_empty() => {
            eprintln!("\nNothing was written. To apply this plan, save it with -o FILE, then run allot apply FILE.")
        }
        None => {}
    }
    Ok(())
}

/// A plan file's text: as written, or gunzipped when it is gzip (`allot plan -o plan.json.gz`).
fn read_plan(path: &PathBuf) -> Result<String, Reported> {
    let bytes = std::fs::read(path).map_err(|e| {
        eprintln!("error: cannot read {}: {e}", path.display());
        Reported
    })?;
    if bytes.starts_with(&[0x1f, 0x8b]) {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&bytes[..]), &mut text).map_err(|e| {
            eprintln!("error: {} is not a whole gzip-compressed plan: {e}", path.display());
            Reported
        })?;
        return Ok(text);
    }
    String::from_utf8(bytes).map_err(|_| {
        eprintln!("error: {} is neither a plan file nor a gzip-compressed one (not UTF-8 text)", path.display());
        Reported
    })
}

pub fn apply(a: &ApplyArgs) -> Result<(), Reported> {
    let text = read_plan(&a.plan)?;
    let plan = Plan::parse(&text, &a.plan.display().to_string()).map_err(report)?;
    let mut store = a.store.open()?;
    if plan.store != store.backend() {
        eprintln!("note: the plan was made on a {} store; applying it to {}", plan.store, store.backend());
    }
    eprintln!("applying {} closes and {} opens of the plan of {} …", plan.closes.len(), plan.opens.len(), plan.date);
    let done = stored::apply(store.as_mut(), &plan, &a.store.actor()).map_err(report)?;
    outln!(
        "applied the plan of {}: {} links opened, {} closed{} (change {})",
        plan.date,
        done.opened,
        done.closed,
        done.scheme.map_or(String::new(), |v| format!(", scheme version {v} active")),
        done.change
    );
    Ok(())
}

fn spells_json(rows: &[LinkEntry]) -> String {
    let mut out = String::new();
    for r in rows {
        let v = serde_json::json!({
            "client": r.client, "role": r.role, "employee": r.employee,
            "from": r.from.to_string(), "to": r.to.map(|d| d.to_string()),
            "cause": r.cause.as_str(), "rule": r.rule, "scheme": r.scheme, "note": r.note_in(allot_i18n::Lang::En),
            "opened_by": r.opened_by, "opened_at": r.opened_at, "closed_by": r.closed_by, "closed_at": r.closed_at,
        });
        out.push_str(&v.to_string());
        out.push('\n');
    }
    out
}

pub fn history(a: &HistoryArgs) -> Result<(), Reported> {
    let mut store = a.store.open()?;
    let rows = stored::history(store.as_mut(), &a.client).map_err(report)?;
    if a.json {
        out!("{}", spells_json(&rows));
    } else if rows.is_empty() {
        outln!("{} has never had an employee", a.client);
    } else {
        out!("{}", allot_app::report::link_entries(&rows, false));
    }
    Ok(())
}

fn owners_csv(rows: &[LinkEntry], w: &mut dyn std::io::Write) -> std::io::Result<()> {
    let mut csv = csv::Writer::from_writer(w);
    csv.write_record(["client_id", "role", "employee_id", "since", "until", "cause", "rule", "scheme_version", "note"])?;
    for r in rows {
        csv.write_record([
            r.client.as_str(),
            &r.role,
            &r.employee,
            &r.from.to_string(),
            &r.to.map(|d| d.to_string()).unwrap_or_default(),
            r.cause.as_str(),
            r.rule.as_deref().unwrap_or(""),
            &r.scheme.map(|v| v.to_string()).unwrap_or_default(),
            &r.note_in(allot_i18n::Lang::En),
        ])?;
    }
    csv.flush()
}

pub fn owners(a: &OwnersArgs) -> Result<(), Reported> {
    let mut store = a.store.open()?;
    let rows = stored::owners_at(store.as_mut(), a.at.unwrap_or_else(today), a.client.as_deref()).map_err(report)?;
    match &a.out {
        Some(p) => write_output(p, |w| owners_csv(&rows, w)).map_err(|e| {
            eprintln!("error: cannot write {}: {e}", p.display());
            Reported
        }),
        None => match owners_csv(&rows, &mut std::io::stdout().lock()) {
            Err(e) if crate::broken_pipe(&e) => Ok(()),
            Err(e) => {
                eprintln!("error: cannot write to standard output: {e}");
                Err(Reported)
            }
            Ok(()) => Ok(()),
        },
    }
}

pub fn credit(a: &CreditArgs) -> Result<(), Reported> {
    use allot_app::credit::{credit_sales, open_period, CsvLines, Summary};
    let mut store = a.store.open()?;
    let req = a.period.request()?;
    let mut book = open_period(store.as_mut(), &req).map_err(report)?;
    let mut summary = Summary::default();
    // The lines stream to the file as the sales are credited; the file appears only when all went well.
    let outcome = match &a.out {
        None => credit_sales(store.as_mut(), &mut book, &req, &mut |s| summary.add(s)).map_err(report)?,
        Some(p) => {
            // Crediting fails → the writer is told so, and no file appears.
            let mut credited = None;
            let written = write_output(p, |w| {
                let mut lines = CsvLines::new(w)?;
                let result = credit_sales(store.as_mut(), &mut book, &req, &mut |s| {
                    summary.add(s);
                    lines.add(s);
                });
                lines.finish()?;
                let failed = result.is_err();
                credited = Some(result);
                if failed {
                    Err(std::io::Error::other("the sales were not credited"))
                } else {
                    Ok(())
                }
            });
            match (credited, written) {
                (Some(Err(e)), _) => return Err(report(e)),
                (Some(Ok(o)), Ok(())) => o,
                (_, written) => {
                    let why = written.err().map_or_else(String::new, |e| format!(": {e}"));
                    eprintln!("error: cannot write {}{why}", p.display());
                    return Err(Reported);
                }
            }
        }
    };
    write_uncredited(a.uncredited.as_ref(), &outcome.uncredited)?;
    out!("{}", summary.text(&outcome));
    Ok(())
}

/// `--uncredited FILE`: every deal not credited, with the reason.
fn write_uncredited(path: Option<&PathBuf>, list: &[allot_app::credit::Uncredited]) -> Result<(), Reported> {
    let Some(p) = path else { return Ok(()) };
    write_output(p, |w| allot_app::credit::write_uncredited(list, w)).map_err(|e| {
        eprintln!("error: cannot write {}: {e}", p.display());
        Reported
    })
}

pub fn contribution(a: &ReportArgs) -> Result<(), Reported> {
    use allot_app::contribution as c;
    let mut store = a.store.open()?;
    let period = a.period.request()?;
    let lang = a.lang.get();
    let r = c::report(store.as_mut(), &c::ReportRequest { period, group: c::Group::parse(&a.per), currency: a.currency.clone() })
        .map_err(report)?;
    let fail = |p: &PathBuf, e: String| {
        eprintln!("error: cannot write {}: {e}", p.display());
        Reported
    };
    // Everything is drawn first; files are written only when all of them could be.
    let mut files: Vec<(&PathBuf, Vec<u8>)> = Vec::new();
    if let Some(p) = &a.out {
        let bytes = match p.extension().and_then(|x| x.to_str()).map(str::to_ascii_lowercase).as_deref() {
            Some("xlsx") => allot_render::contribution::xlsx(&r, lang).map_err(|e| fail(p, e.to_string()))?,
            Some("csv") => {
                let mut buf = Vec::new();
                c::write_csv(&r, lang, &mut buf).map_err(|e| fail(p, e.to_string()))?;
                buf
            }
            _ => {
                eprintln!("error: {}: expected a .csv or .xlsx file name", p.display());
                return Err(Reported);
            }
        };
        files.push((p, bytes));
    }
    for (p, draw) in [
        (&a.load_chart, allot_render::contribution::load_chart as fn(&_, &str, &std::path::Path, _) -> _),
        (&a.revenue_chart, allot_render::contribution::revenue_chart),
    ] {
        if let Some(p) = p {
            let bytes = draw(&r, &a.role, p, lang).map_err(|e| {
                eprintln!("error: {e}");
                Reported
            })?;
            files.push((p, bytes));
        }
    }
    for (p, bytes) in files {
        write_output(p, |w| w.write_all(&bytes)).map_err(|e| fail(p, e.to_string()))?;
    }
    write_uncredited(a.uncredited.as_ref(), &r.uncredited)?;
    out!("{}", c::text(&r));
    Ok(())
}

pub fn book_of(a: &BookArgs) -> Result<(), Reported> {
    let mut store = a.store.open()?;
    let at = a.at.unwrap_or_else(today);
    let (rows, clients) = stored::book_with_clients(store.as_mut(), &a.employee, at).map_err(report)?;
    if let Some(p) = &a.out {
        let table = allot_app::report::book_rows(&rows, &clients);
        return write_output(p, |w| {
            let mut csv = csv::Writer::from_writer(w);
            for row in &table {
                csv.write_record(row)?;
            }
            csv.flush()
        })
        .map_err(|e| {
            eprintln!("error: cannot write {}: {e}", p.display());
            Reported
        });
    }
    outln!("{} holds {} (client, role) links on {}", a.employee, rows.len(), allot_rules::civil_from_days(at));
    if !rows.is_empty() {
        out!("{}", allot_app::report::book(&rows, &clients));
    }
    Ok(())
}

pub fn redate(a: &RedateArgs) -> Result<(), Reported> {
    stored::redate_day(a.day, today()).map_err(report)?;
    let mut store = a.store.open()?;
    let (change, moved) = stored::redate(store.as_mut(), &a.client, a.day, today(), &a.store.actor()).map_err(report)?;
    outln!("{}: {moved} link(s) now start on {} (change {change})", a.client, allot_rules::civil_from_days(a.day));
    Ok(())
}

pub fn pin(a: &PinArgs) -> Result<(), Reported> {
    let mut store = a.store.open()?;
    let date = a.date.unwrap_or_else(today);
    let req = PinRequest { client: &a.client, role: &a.role, employee: &a.employee, reason: &a.reason, date: allot_store::Day(date) };
    let done = stored::pin(store.as_mut(), &req, &a.store.actor()).map_err(report)?;
    match &done.moved_from {
        Some(old) => outln!(
            "pinned {} {} to {} from {} (was {old}); rules will not move it",
            a.client,
            a.role,
            a.employee,
            allot_rules::civil_from_days(date)
        ),
        None => outln!("pinned {} {} to {}; rules will not move it", a.client, a.role, a.employee),
    }
    Ok(())
}

pub fn unpin(a: &UnpinArgs) -> Result<(), Reported> {
    let mut store = a.store.open()?;
    stored::unpin(store.as_mut(), &a.client, &a.role, &a.store.actor()).map_err(report)?;
    outln!("unpinned {} {}; the next plan may move it by the rules", a.client, a.role);
    Ok(())
}

pub fn absent(a: &AbsentArgs) -> Result<(), Reported> {
    let mut store = a.store.open()?;
    stored::absent(store.as_mut(), &a.employee, a.from, a.to, a.cover.as_deref(), &a.store.actor()).map_err(report)?;
    let (f, t) = (allot_rules::civil_from_days(a.from), allot_rules::civil_from_days(a.to));
    let how = a.cover.as_ref().map_or("spread over eligible peers".to_string(), |c| format!("covered by {c}"));
    outln!(
        "registered: {} absent {f} to {t}, {how}. Run `allot plan --date {f}` (or later) to see the cover; it ends by itself after {t}.",
        a.employee
    );
    Ok(())
}

pub fn leave(a: &LeaveArgs) -> Result<(), Reported> {
    let mut store = a.store.open()?;
    stored::leave(store.as_mut(), &a.employee, a.on, &a.store.actor()).map_err(report)?;
    let on = allot_rules::civil_from_days(a.on);
    outln!("registered: {} leaves on {on}. Run `allot plan --date {on}` (or later) to see who takes their clients.", a.employee);
    Ok(())
}

pub fn scheme(c: &SchemeCommand) -> Result<(), Reported> {
    match c {
        SchemeCommand::Diff { file, store } => {
            let mut s = store.open()?;
            let text = read(file)?;
            let active = stored::active_scheme(s.as_mut()).map_err(report)?;
            let (old, name) = match &active {
                Some(v) => (v.text.clone(), format!("version {} (active)", v.version)),
                None => (String::new(), "no active version".into()),
            };
            let parts = stored::scheme_diff_lines(&old, &text);
            if parts.is_empty() && old == text {
                outln!("{} is the same as {name}", file.display());
                return Ok(());
            }
            outln!("{} against {name}:", file.display());
            for p in &parts {
                outln!("  {p}");
            }
            outln!();
            out!("{}", stored::scheme_text_diff(&old, &text, &name, &file.display().to_string()));
            outln!("\nRun `allot plan --scheme {}` to see which moves these changes cause.", file.display());
        }
        SchemeCommand::Show { version, store } => {
            let mut s = store.open()?;
            let all = s.schemes().map_err(|e| report(e.into()))?;
            let pick = match version {
                Some(v) => all.iter().find(|x| x.version == *v),
                None => all.last(),
            };
            match pick {
                Some(v) => out!("{}", v.text),
                None => {
                    eprintln!(
                        "error: no such scheme version (stored: {})",
                        all.iter().map(|v| v.version.to_string()).collect::<Vec<_>>().join(", ")
                    );
                    return Err(Reported);
                }
            }
        }
        SchemeCommand::Log { store } => {
            let mut s = store.open()?;
            let all = s.schemes().map_err(|e| report(e.into()))?;
            let changes = s.changes().map_err(|e| report(e.into()))?;
            let applies: Vec<_> = changes.iter().filter(|c| c.kind == "apply" && c.summary.contains("scheme version")).collect();
            for v in &all {
                let when = applies.iter().find(|c| c.summary.ends_with(&format!("scheme version {}", v.version)));
                outln!(
                    "version {}  {} lines{}",
                    v.version,
                    v.text.lines().count(),
                    when.map_or(String::new(), |c| format!("  applied by {} at {}", c.by, c.at))
                );
            }
        }
    }
    Ok(())
}

pub fn log(a: &LogArgs) -> Result<(), Reported> {
    let mut store = a.store.open()?;
    for c in stored::changes(store.as_mut()).map_err(report)? {
        outln!("{c}");
    }
    Ok(())
}
