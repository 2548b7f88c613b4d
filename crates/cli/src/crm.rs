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
    /// and import them: every row checked first; on any error nothing is imported. Then only what
    /// changed since the last pull (--full: everything).
    #[command(
        after_help = "The portal's incoming webhook (Bitrix24: Developer resources → Other → Incoming webhook, scopes crm and user):\n  export ALLOT_BITRIX24_WEBHOOK='https://PORTAL.bitrix24.ru/rest/1/KEY/'\n  allot crm pull --scheme scheme.toml\n\namoCRM: ALLOT_AMOCRM_URL and ALLOT_AMOCRM_TOKEN (or OAuth: allot crm connect --help).\nThe map is the scheme's [crm] section (docs/scheme.md, docs/crm.md)."
    )]
    Pull(PullArgs),
    /// Connect an amoCRM account by OAuth 2: exchange the integration's authorization code for
    /// the first token pair, kept in the store (the server refreshes it from then on).
    #[command(
        after_help = "The integration (amoCRM: Settings → Integrations → Create integration) gives its id, secret and redirect address, and an authorization code valid 20 minutes:\n  export ALLOT_AMOCRM_URL=https://SUBDOMAIN.amocrm.ru\n  export ALLOT_AMOCRM_CLIENT_ID=… ALLOT_AMOCRM_CLIENT_SECRET=… ALLOT_AMOCRM_REDIRECT_URI=…\n  allot crm connect --code def50200…\nA private integration's long-lived token needs no connecting: ALLOT_AMOCRM_TOKEN."
    )]
    Connect {
        /// The authorization code (it is used once, and runs out within 20 minutes).
        #[arg(long, value_name = "CODE")]
        code: String,
        #[command(flatten)]
        store: StoreOpt,
    },
}

/// The amoCRM account of the environment (issue #18 §2): `ALLOT_AMOCRM_URL`, and
/// `ALLOT_AMOCRM_TOKEN` (a long-lived token) or `ALLOT_AMOCRM_CLIENT_ID`,
/// `ALLOT_AMOCRM_CLIENT_SECRET` and `ALLOT_AMOCRM_REDIRECT_URI` (OAuth 2); `ALLOT_AMOCRM_HOOK_KEY`
/// (the key in the address of its webhooks) and `ALLOT_AMOCRM_RATE` (requests a second, 7).
pub fn amo_config() -> Result<Option<allot_server::crm::AmoConfig>, Reported> {
    let var = crate::settings::get;
    let Some(url) = var("ALLOT_AMOCRM_URL") else { return Ok(None) };
    allot_server::crm::amocrm::check_account(&url).map_err(|e| fail(format!("ALLOT_AMOCRM_URL: {e}")))?;
    let client = match (var("ALLOT_AMOCRM_CLIENT_ID"), var("ALLOT_AMOCRM_CLIENT_SECRET"), var("ALLOT_AMOCRM_REDIRECT_URI")) {
        (Some(id), Some(secret), Some(redirect_uri)) => Some(allot_server::crm::amocrm::Client { id, secret, redirect_uri }),
        (None, None, None) => None,
        _ => return Err(fail("set all three of ALLOT_AMOCRM_CLIENT_ID, ALLOT_AMOCRM_CLIENT_SECRET and ALLOT_AMOCRM_REDIRECT_URI (the integration's settings show them)")),
    };
    let mut pace = allot_server::crm::amocrm::pace();
    if let Some(rate) = var("ALLOT_AMOCRM_RATE") {
        pace.per_second = rate
            .parse::<f64>()
            .ok()
            .filter(|r| r.is_finite() && *r > 0.0 && *r <= 1000.0)
            .ok_or_else(|| fail(format!("ALLOT_AMOCRM_RATE is `{rate}`; expected requests per second, e.g. 7")))?;
    }
    Ok(Some(allot_server::crm::AmoConfig {
        url,
        long_lived: var("ALLOT_AMOCRM_TOKEN"),
        client,
        hook_key: var("ALLOT_AMOCRM_HOOK_KEY"),
        pace,
    }))
}

fn connect(code: &str, store_opt: &StoreOpt) -> Result<(), Reported> {
    let config = amo_config()?.ok_or_else(|| fail("set ALLOT_AMOCRM_URL to the account's address (https://SUBDOMAIN.amocrm.ru)"))?;
    let client = config.client.clone().ok_or_else(|| {
        fail("set ALLOT_AMOCRM_CLIENT_ID, ALLOT_AMOCRM_CLIENT_SECRET and ALLOT_AMOCRM_REDIRECT_URI: the integration's settings show them")
    })?;
    let (base, host) = allot_server::crm::amocrm::check_account(&config.url).map_err(fail)?;
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(fail)?;
    let tokens = runtime.block_on(allot_server::crm::amocrm::connect(&config.url, &client, code.trim())).map_err(fail)?;
    let mut store = store_opt.open()?;
    let (id, _) = store.add_connector("amocrm", &base, &store_opt.actor()).map_err(fail)?;
    store.set_connector_secret(id, &serde_json::to_string(&tokens).map_err(fail)?).map_err(fail)?;
    crate::emit(&format!(
        "connected to {host}: the token pair is kept in the store (connector {id}) and refreshed by allot from now on\nNext: allot crm pull --scheme scheme.toml\n"
    ))
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
        CrmCommand::Connect { code, store } => connect(code, store),
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
    let started = allot_app::clock::now_utc();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(fail)?;
    let bar = indicatif::ProgressBar::new(0);
    bar.set_style(indicatif::ProgressStyle::with_template("{msg} {pos}/{len}").unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()));
    // Since when to read (the last pull's start, less the overlap), or everything.
    let since_of = |last: Option<String>| match (last, a.full) {
        (Some(at), false) => allot_app::clock::parse_rfc3339(&at).map(|t| t.saturating_sub(OVERLAP_SECONDS)),
        _ => None,
    };
    let (pulled, host, connector, since, sources) = if map.system == "amocrm" {
        let config = amo_config()?.ok_or_else(|| fail("set ALLOT_AMOCRM_URL to the account's address (https://SUBDOMAIN.amocrm.ru)"))?;
        let (base, host) = allot_server::crm::amocrm::check_account(&config.url).map_err(fail)?;
        // The account's connector: its token pair, how far the owners were written, the last pull.
        let (connector, _) = store.add_connector("amocrm", &base, &a.store.actor()).map_err(fail)?;
        let row = store.webhooks().map_err(fail)?.into_iter().find(|h| h.id == connector);
        let auth = allot_server::crm::amo_auth(&config, row.as_ref().map(|h| h.secret.as_str())).map_err(fail)?;
        let since = since_of(row.and_then(|h| h.pulled_at));
        let mut account = allot_server::crm::amocrm::Account::new(&config.url, auth, config.pace).map_err(fail)?;
        let pulled = runtime.block_on(allot_server::crm::amocrm::pull(&mut account, &map, since, |what, done| {
            bar.set_message(format!("{host}: {what}"));
            bar.set_length(done);
            bar.set_position(done);
        }));
        // A refresh voided the old refresh token: the new pair is kept whatever came of the pull.
        if let Some(tokens) = account.take_refreshed() {
            store.set_connector_secret(connector, &serde_json::to_string(&tokens).unwrap_or_default()).map_err(fail)?;
        }
        let pulled = pulled.map_err(fail)?;
        (pulled, host.clone(), connector, since, [format!("{host} users"), format!("{host} companies")])
    } else {
        let url = crate::settings::get("ALLOT_BITRIX24_WEBHOOK").ok_or_else(|| {
            fail("set ALLOT_BITRIX24_WEBHOOK to the portal's incoming webhook address (https://PORTAL/rest/USER/KEY/); it is not taken on the command line, where others could read the key")
        })?;
        let mut portal = Portal::new(&url, Pace::default()).map_err(fail)?;
        let host = portal.host().to_string();
        // The portal's connector: how far the owners were written back, and when it was last read.
        let (connector, _) = store.add_connector("bitrix24", &format!("https://{host}/"), &a.store.actor()).map_err(fail)?;
        let last = store.webhooks().map_err(fail)?.into_iter().find(|h| h.id == connector).and_then(|h| h.pulled_at);
        let since = since_of(last);
        let since_text = since.map(allot_app::clock::rfc3339);
        let pulled = runtime
            .block_on(pull_portal(&mut portal, &map, since_text.as_deref(), |what, done, of| {
                bar.set_message(format!("{host}: {what}"));
                bar.set_length(of);
                bar.set_position(done);
            }))
            .map_err(fail)?;
        (pulled, host.clone(), connector, since, [format!("{host} user.get"), format!("{host} crm.company.list")])
    };
    bar.finish_and_clear();
    // The files as an import reads them, named in errors as what they came from.
    let dir = tempfile::tempdir().map_err(|e| fail(format!("cannot make a working folder: {e}")))?;
    let mut files = vec![(Subject::Employee, dir.path().join("users.csv"), &pulled.employees, sources[0].clone())];
    // Only what changed: no company modified since the last pull leaves the clients as they are.
    if pulled.companies + pulled.leads + pulled.contacts > 0 || since.is_none() {
        files.push((Subject::Client, dir.path().join("companies.csv"), &pulled.clients, sources[1].clone()));
    }
    // The deals after the clients they belong to (each checked against the store and the file).
    if pulled.deal_count > 0 {
        files.push((Subject::Deal, dir.path().join("deals.csv"), &pulled.deals, format!("{host} deals")));
    }
    let mut prepared = Vec::new();
    for (subject, path, csv, name) in &files {
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
    let mut more = String::new();
    if map.leads {
        more.push_str(&format!(", {} leads", pulled.leads));
    }
    if map.contacts {
        more.push_str(&format!(", {} contacts", pulled.contacts));
    }
    if !map.deals.is_empty() {
        more.push_str(&format!(", {} deals", pulled.deal_count));
    }
    let what = match since {
        Some(at) => format!("{} companies{more} modified since {}", pulled.companies, allot_app::clock::rfc3339(at)),
        None => format!("{} companies{more}", pulled.companies),
    };
    let mut said = format!("pulled from {host}: {} active users, {what}\n", pulled.users);
    if pulled.deals_without_client > 0 {
        said.push_str(&format!(
            "  {} deals have neither a company nor a contact that is a client: left out (contacts = true in [crm] makes contacts clients)\n",
            pulled.deals_without_client
        ));
    }
    for p in prepared {
        let r = commit_import(store.as_mut(), p, &actor).map_err(fail)?;
        said.push_str(&format!(
            "  {} {}: {} new, {} updated, {} unchanged (change {})\n",
            r.rows,
            match r.subject {
                Subject::Employee => "employees",
                Subject::Client => "clients",
                Subject::Deal => "deals",
            },
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
