//! `allot serve` and `allot token`: wiring only; the server is `allot-server`.

use allot_app::tokens::{self, TokenRequest, TokenState};
use std::net::SocketAddr;

use allot_server::Config;
use allot_store::Location;
use clap::{Args, Subcommand};

use crate::stored::StoreOpt;
use crate::Reported;

#[derive(Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "ALLOT_LISTEN", default_value = "127.0.0.1:8080", value_name = "ADDR:PORT")]
    listen: SocketAddr,
    /// Keys that recognise a returning client, in order (id, inn, email_domain, phone).
    #[arg(long, env = "ALLOT_MATCH_KEYS", value_delimiter = ',', default_value = "id,inn,email_domain,phone", value_name = "KEYS")]
    match_keys: Vec<String>,
    /// The most routed items committed in one transaction.
    #[arg(long, env = "ALLOT_MAX_BATCH", default_value_t = 512)]
    max_batch: usize,
    /// The largest request body, in bytes.
    #[arg(long, env = "ALLOT_BODY_LIMIT", default_value_t = 65_536)]
    body_limit: usize,
    /// The largest file the workspace imports (Imports page), in MiB.
    #[arg(long, env = "ALLOT_UPLOAD_LIMIT_MIB", default_value_t = 256, value_name = "MIB")]
    upload_limit_mib: usize,
    /// Connections open at once; more wait in the kernel's queue until one closes.
    #[arg(long, env = "ALLOT_MAX_CONNECTIONS", default_value_t = 1024, value_name = "N")]
    max_connections: usize,
    /// Seconds for a request's headers to arrive (and for an idle connection to send its next
    /// request) before the connection is closed.
    #[arg(long, env = "ALLOT_HEADER_TIMEOUT", default_value_t = 10.0, value_name = "SECONDS")]
    header_timeout: f64,
    /// Seconds for a request's body to arrive before the request is answered 408.
    #[arg(long, env = "ALLOT_BODY_TIMEOUT", default_value_t = 10.0, value_name = "SECONDS")]
    body_timeout: f64,
    /// SQLite: megabytes the write-ahead log may grow to before the router checkpoints it so that
    /// it starts over.
    #[arg(long, env = "ALLOT_WAL_LIMIT", default_value_t = 64, value_name = "MB")]
    wal_limit: u32,
    /// Who applies a plan in the workspace, per kind (team, import, scheme, territories, api, or
    /// all): `maker` (whoever made it, at once), `admin` (proposed with a comment, then any admin —
    /// the proposer too: a small company), `other-admin` (four eyes). Default:
    /// team=maker,api=maker, the rest admin.
    #[arg(long, value_name = "KIND=WHO,...", env = "ALLOT_APPROVAL", default_value = "")]
    approval: String,
    /// Threads for HTTP (default: the cores but one, which is left to the router thread).
    #[arg(long, env = "ALLOT_WORKERS", value_name = "N")]
    workers: Option<usize>,
    /// A file of ALLOT_NAME=value lines (systemd's EnvironmentFile, docker's --env-file): every
    /// switch here and the CRM's and mail server's settings. The command line wins over the
    /// environment, the environment over the file.
    #[arg(long, env = "ALLOT_CONFIG", value_name = "FILE")]
    #[allow(dead_code)]
    config: Option<std::path::PathBuf>,
    #[command(flatten)]
    store: StoreOpt,
}

#[derive(Subcommand)]
pub enum TokenCommand {
    /// Make a token and print it once (only its hash is stored).
    Create {
        /// admin (everything), manager (the clients of their teams), employee (own clients),
        /// router (POST /v1/route only).
        #[arg(long)]
        scope: String,
        /// The manager or employee the token belongs to.
        #[arg(long, value_name = "ID")]
        employee: Option<String>,
        /// A name for the token, kept in the history of what it does.
        #[arg(long, default_value = "api")]
        label: String,
        /// The day the token stops working (YYYY-MM-DD; it works through the day before).
        #[arg(long, value_name = "DATE", value_parser = crate::parse_day)]
        expires: Option<i32>,
        #[command(flatten)]
        store: StoreOpt,
    },
    /// Every token: id, scope, employee, label, who made it and when, expiry, revocation. Never the
    /// secret (only its hash is stored).
    List {
        #[command(flatten)]
        store: StoreOpt,
    },
    /// Revoke a token by its id (from `allot token list`): refused within a second by every server
    /// sharing the store.
    #[command(after_help = "Example:\n  allot token list\n  allot token revoke 3")]
    Revoke {
        /// The token's id.
        id: i64,
        #[command(flatten)]
        store: StoreOpt,
    },
}

#[derive(Args)]
pub struct HealthArgs {
    /// The server's /health (for a container's health check: exit 0 when it answers 200).
    #[arg(long, env = "ALLOT_HEALTH_URL", default_value = "http://127.0.0.1:8080/health", value_name = "URL")]
    url: String,
}

/// `allot health`: asks a running server whether it and its store work (a container's health
/// check needs no curl); says the answer, exits 1 unless it is 200.
pub fn health(a: &HealthArgs) -> Result<(), Reported> {
    let fail = |e: String| {
        eprintln!("error: {e}");
        Reported
    };
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| fail(e.to_string()))?;
    allot_server::outbox::install_tls();
    runtime.block_on(async {
        let http = reqwest::Client::builder().timeout(std::time::Duration::from_secs(5)).build().map_err(|e| fail(e.to_string()))?;
        let r = http.get(&a.url).send().await.map_err(|e| fail(format!("{} does not answer: {}", a.url, e.without_url())))?;
        let status = r.status().as_u16();
        let body = r.text().await.unwrap_or_default();
        if status == 200 {
            crate::emit(&format!("{body}\n"))
        } else {
            Err(fail(format!("{} answered {status}: {body}", a.url)))
        }
    })
}

pub fn serve(a: &ServeArgs) -> Result<(), Reported> {
    for k in &a.match_keys {
        if !["id", "inn", "email_domain", "phone"].contains(&k.as_str()) {
            eprintln!("error: unknown match key `{k}`; expected id, inn, email_domain or phone");
            return Err(Reported);
        }
    }
    let config = Config {
        listen: a.listen,
        store: Location::parse(a.store.db()),
        match_keys: a.match_keys.clone(),
        max_batch: a.max_batch.max(1),
        body_limit: a.body_limit,
        upload_limit: a.upload_limit_mib.saturating_mul(1024 * 1024),
        max_connections: a.max_connections.max(1),
        header_timeout: seconds(a.header_timeout, "--header-timeout")?,
        body_timeout: seconds(a.body_timeout, "--body-timeout")?,
        wal_frames_limit: i64::from(a.wal_limit.max(1)) * 256,
        approval: allot_app::approval::Approval::parse(&a.approval).map_err(|e| {
            eprintln!("error: --approval: {e}");
            Reported
        })?,
        bitrix24: bitrix24_config()?,
        smtp: smtp_config()?,
        amocrm: crate::crm::amo_config()?,
        ..Config::default()
    };
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let workers = a.workers.unwrap_or(cores.saturating_sub(1)).max(1);
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(workers).enable_all().build().map_err(|e| {
        eprintln!("error: cannot start the runtime: {e}");
        Reported
    })?;
    rt.block_on(async move {
        let running = allot_server::start(config, shutdown_signal()).await.map_err(|e| {
            eprintln!("error: {e}");
            Reported
        })?;
        eprintln!(
            "allot serves on http://{} (docs: http://{}/docs); Ctrl-C stops it after answering every accepted request",
            running.addr, running.addr
        );
        if let Some(host) = &running.crm {
            eprintln!("owners are written back to {host}; its events are taken at http://{}/v1/hooks/bitrix24", running.addr);
        }
        if let Some(host) = &running.amocrm {
            eprintln!(
                "owners are written back to {host}; its webhooks are taken at http://{}/v1/hooks/amocrm/<ALLOT_AMOCRM_HOOK_KEY>",
                running.addr
            );
        }
        running.wait().await.map_err(|e| {
            eprintln!("error: {e}");
            Reported
        })
    })
}

/// The Bitrix24 portal the server writes back to and hears from (issue #18): from the
/// environment only — its webhook address holds a key (`ALLOT_BITRIX24_WEBHOOK`), its events a
/// token (`ALLOT_BITRIX24_APP_TOKEN`); `ALLOT_BITRIX24_RATE` requests a second (default 2, the
/// portal's own limit).
fn bitrix24_config() -> Result<Option<allot_server::crm::Bitrix24Config>, Reported> {
    let Some(webhook) = crate::settings::get("ALLOT_BITRIX24_WEBHOOK") else { return Ok(None) };
    let fail = |e: String| {
        eprintln!("error: {e}");
        Reported
    };
    allot_server::crm::bitrix24::check_webhook(&webhook).map_err(|e| fail(format!("ALLOT_BITRIX24_WEBHOOK: {e}")))?;
    let mut pace = allot_server::crm::bitrix24::Pace::default();
    if let Some(rate) = crate::settings::get("ALLOT_BITRIX24_RATE") {
        pace.per_second = rate
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|r| r.is_finite() && *r > 0.0 && *r <= 1000.0)
            .ok_or_else(|| fail(format!("ALLOT_BITRIX24_RATE is `{rate}`; expected requests per second, e.g. 2")))?;
    }
    let app_token = crate::settings::get("ALLOT_BITRIX24_APP_TOKEN");
    Ok(Some(allot_server::crm::Bitrix24Config { webhook, app_token, pace }))
}

/// The mail server people are told by (issue #18 §4), from the environment: `ALLOT_SMTP_HOST`,
/// `ALLOT_SMTP_PORT` (587), `ALLOT_SMTP_TLS` (starttls, tls or none), `ALLOT_SMTP_USER`,
/// `ALLOT_SMTP_PASSWORD`, `ALLOT_SMTP_FROM` (the letters' sender).
fn smtp_config() -> Result<Option<allot_server::notify::SmtpConfig>, Reported> {
    let Some(host) = crate::settings::get("ALLOT_SMTP_HOST") else { return Ok(None) };
    let fail = |e: String| {
        eprintln!("error: {e}");
        Reported
    };
    let var = crate::settings::get;
    let tls = match var("ALLOT_SMTP_TLS") {
        None => allot_server::notify::SmtpTls::StartTls,
        Some(t) => allot_server::notify::SmtpTls::parse(&t)
            .ok_or_else(|| fail(format!("ALLOT_SMTP_TLS is `{t}`; expected starttls, tls or none")))?,
    };
    let port = match var("ALLOT_SMTP_PORT") {
        None if tls == allot_server::notify::SmtpTls::Tls => 465,
        None => 587,
        Some(p) => p
            .trim()
            .parse::<u16>()
            .ok()
            .filter(|p| *p > 0)
            .ok_or_else(|| fail(format!("ALLOT_SMTP_PORT is `{p}`; expected a port such as 587")))?,
    };
    let from = var("ALLOT_SMTP_FROM").ok_or_else(|| fail("set ALLOT_SMTP_FROM to the letters' sender, e.g. allot@example.ru".into()))?;
    Ok(Some(allot_server::notify::SmtpConfig {
        host: host.trim().to_string(),
        port,
        tls,
        user: var("ALLOT_SMTP_USER"),
        password: var("ALLOT_SMTP_PASSWORD"),
        from,
    }))
}

fn seconds(x: f64, flag: &str) -> Result<std::time::Duration, Reported> {
    if x.is_finite() && x > 0.0 && x <= 3600.0 {
        Ok(std::time::Duration::from_secs_f64(x))
    } else {
        eprintln!("error: {flag} takes seconds between 0 and 3600, such as 10 or 0.5");
        Err(Reported)
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    eprintln!("stopping: no new connections; answering what was accepted");
}

pub fn token(c: &TokenCommand) -> Result<(), Reported> {
    match c {
        TokenCommand::Create { scope, employee, label, expires, store } => {
            let mut s = store.open()?;
            let today = allot_store::Day(allot_app::clock::today());
            let req = TokenRequest { scope, employee: employee.as_deref(), label, expires: expires.map(allot_store::Day), today };
            let token = tokens::create(s.as_mut(), &req, &store.actor()).map_err(|e| {
                eprintln!("error: {e}");
                Reported
            })?;
            crate::emit(&format!("{token}\n"))?;
            eprintln!("a {scope} token `{label}`: keep it now, it is not shown again (only its hash is stored)");
            Ok(())
        }
        TokenCommand::List { store } => {
            let mut s = store.open()?;
            let list = tokens::list(s.as_mut(), allot_store::Day(allot_app::clock::today())).map_err(|e| {
                eprintln!("error: {e}");
                Reported
            })?;
            let mut out = String::from("id  scope     employee      label                 made by / at                         state\n");
            for (t, state) in &list {
                let state = match state {
                    TokenState::Revoked { by, at } => format!("revoked by {by} at {at}"),
                    TokenState::Expired(e) => format!("expired {e}"),
                    TokenState::WorksUntil(e) => format!("works until {e}"),
                    TokenState::Works => "works".into(),
                };
                out.push_str(&format!(
                    "{:<3} {:<9} {:<13} {:<21} {:<36} {state}\n",
                    t.token.id,
                    t.token.scope,
                    t.token.employee.as_deref().unwrap_or("-"),
                    t.token.label,
                    format!("{} {}", t.created_by, t.created_at)
                ));
            }
            crate::emit(&out)
        }
        TokenCommand::Revoke { id, store } => {
            let mut s = store.open()?;
            let change = tokens::revoke(s.as_mut(), *id, &store.actor()).map_err(|e| {
                eprintln!("error: {e}");
                Reported
            })?;
            crate::emit(&format!("token {id} revoked (change {change}); servers refuse it within a second\n"))
        }
    }
}
