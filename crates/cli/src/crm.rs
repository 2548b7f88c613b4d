//! `allot crm pull` (issue #18 §1): the CRM's users and companies into the store, read by the
//! scheme's `[crm]` map and landed by the import use case — both files checked whole before
//! either lands. The portal's webhook address holds its key: it is read from the environment
//! (`ALLOT_BITRIX24_WEBHOOK`), never from the command line, and never printed.

use std::path::PathBuf;

use allot_app::stored::{commit_import, prepare_import_with, AppError};
use allot_server::crm::bitrix24::{pull as pull_portal, Pace, Portal};
use allot_store::Subject;
use clap::{Args, Subcommand};

use crate::stored::StoreOpt;
use crate::Reported;

#[derive(Subcommand)]
pub enum CrmCommand {
    /// Read the CRM's active users (employees) and companies (clients) by the scheme's [crm] map
    /// and import them: every row checked first; on any error nothing is imported.
    #[command(
        after_help = "The portal's incoming webhook (Bitrix24: Developer resources → Other → Incoming webhook, scopes crm and user):\n  export ALLOT_BITRIX24_WEBHOOK='https://PORTAL.bitrix24.ru/rest/1/KEY/'\n  allot crm pull --scheme scheme.toml\n\nThe map is the scheme's [crm] section (docs/scheme.md)."
    )]
    Pull(PullArgs),
}

/// How far back of the last pull's start a pull reads: a company saved while the last pull read
/// its page is read again (reading one twice changes nothing).
const OVERLAP_SECONDS: u64 = 300;

#[derive(Args)]
pub struct PullArgs {
    /// The scheme whose [crm] section maps the fields (default: the store's active scheme).
    #[arg(long, value_name = "FILE")]
    scheme: Option<PathBuf>,
    /// Read every company, not only those modified since the last pull.
    #[arg(long)]
    full: bool,
    #[command(flatten)]
    store: StoreOpt,
}

fn fail(e: impl std::fmt::Display) -> Reported {
    eprintln!("error: {e}");
    Reported
}

pub fn crm(c: &CrmCommand) -> Result<(), Reported> {
    match c {
        CrmCommand::Pull(a) => pull(a),
    }
}

fn pull(a: &PullArgs) -> Result<(), Reported> {
    let mut store = a.store.open()?;
    let (text, file) = match &a.scheme {
        Some(path) => {
            (std::fs::read_to_string(path).map_err(|e| fail(format!("cannot read {}: {e}", path.display())))?, path.display().to_string())
        }
        None => match store.active_scheme().map_err(fail)? {
            Some(v) => (v.text, format!("the active scheme (version {})", v.version)),
            None => return Err(fail("the store has no scheme yet; give one with --scheme FILE")),
        },
    };
    let sf = allot_io::SchemeFile::parse(&text, &file).map_err(|d| {
        eprint!("{}", allot_core::diag::render_all(&d));
        Reported
    })?;
    let map = sf
        .crm()
        .ok_or_else(|| fail(format!("{file} has no [crm] section: it says which fields become which attributes (docs/scheme.md)")))?;
    let url = std::env::var("ALLOT_BITRIX24_WEBHOOK").map_err(|_| {
        fail("set ALLOT_BITRIX24_WEBHOOK to the portal's incoming webhook address (https://PORTAL/rest/USER/KEY/); it is not taken on the command line, where others could read the key")
    })?;
    let mut portal = Portal::new(&url, Pace::default()).map_err(fail)?;
    let host = portal.host().to_string();
    // The portal's connector: how far the owners were written back, and when it was last read.
    let (connector, _) = store.add_connector("bitrix24", &format!("https://{host}/"), &a.store.actor()).map_err(fail)?;
    let last = store.webhooks().map_err(fail)?.into_iter().find(|h| h.id == connector).and_then(|h| h.pulled_at);
    let since = match (&last, a.full) {
        (Some(at), false) => allot_app::clock::parse_rfc3339(at).map(|t| allot_app::clock::rfc3339(t.saturating_sub(OVERLAP_SECONDS))),
        _ => None,
    };
    let started = allot_app::clock::now_utc();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(fail)?;
    let bar = indicatif::ProgressBar::new(0);
    bar.set_style(indicatif::ProgressStyle::with_template("{msg} {pos}/{len}").unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()));
    let pulled = runtime
        .block_on(pull_portal(&mut portal, &map, since.as_deref(), |what, done, of| {
            bar.set_message(format!("{host}: {what}"));
            bar.set_length(of);
            bar.set_position(done);
        }))
        .map_err(fail)?;
    bar.finish_and_clear();
    // The files as an import reads them, named in errors as what they came from.
    let dir = tempfile::tempdir().map_err(|e| fail(format!("cannot make a working folder: {e}")))?;
    let files = [
        (Subject::Employee, dir.path().join("users.csv"), &pulled.employees, format!("{host} user.get")),
        (Subject::Client, dir.path().join("companies.csv"), &pulled.clients, format!("{host} crm.company.list")),
    ];
    let mut prepared = Vec::new();
    // Only what changed: no company modified since the last pull leaves the clients as they are.
    let files = if pulled.companies == 0 && since.is_some() { &files[..1] } else { &files[..] };
    for (subject, path, csv, name) in files {
        std::fs::write(path, csv).map_err(|e| fail(format!("cannot write a working file: {e}")))?;
        let copy = path.display().to_string();
        match prepare_import_with(store.as_mut(), *subject, path, &allot_io::Encodings::default(), Some((&text, &file))) {
            Ok(p) => prepared.push(p),
            Err(AppError::Input(d)) => {
                eprint!("{}", allot_core::diag::render_all(&d).replace(&copy, name));
                eprintln!("Nothing was imported.");
                return Err(Reported);
            }
            Err(e) => return Err(fail(e.to_string().replace(&copy, name))),
        }
    }
    let actor = a.store.actor();
    let what = match &since {
        Some(at) => format!("{} companies modified since {at}", pulled.companies),
        None => format!("{} companies", pulled.companies),
    };
    let mut said = format!("pulled from {host}: {} active users, {what}\n", pulled.users);
    for p in prepared {
        let r = commit_import(store.as_mut(), p, &actor).map_err(fail)?;
        said.push_str(&format!(
            "  {} {}: {} new, {} updated, {} unchanged (change {})\n",
            r.rows,
            if r.subject == Subject::Employee { "employees" } else { "clients" },
            r.imported.inserted,
            r.imported.updated,
            r.imported.unchanged,
            r.imported.change
        ));
    }
    store.mark_pulled(connector, &started).map_err(fail)?;
    said.push_str("Plan next: allot plan (or the workspace's Plans) shows what the new data changes.\n");
    crate::emit(&said)
}
