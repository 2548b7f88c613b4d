//! `allot serve` and `allot token`: wiring only; the server is `allot-server`.

use std::net::SocketAddr;

use allot_server::Config;
use allot_store::Location;
use clap::{Args, Subcommand};

use crate::book::StoreOpt;
use crate::Reported;

#[derive(Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080", value_name = "ADDR:PORT")]
    listen: SocketAddr,
    /// Keys that recognise a returning client, in order (id, inn, email_domain, phone).
    #[arg(long, value_delimiter = ',', default_value = "id,inn,email_domain,phone", value_name = "KEYS")]
    match_keys: Vec<String>,
    /// The most routed items committed in one transaction.
    #[arg(long, default_value_t = 512)]
    max_batch: usize,
    /// The largest request body, in bytes.
    #[arg(long, default_value_t = 65_536)]
    body_limit: usize,
    /// Threads for HTTP (default: the cores but one, which is left to the router thread).
    #[arg(long, value_name = "N")]
    workers: Option<usize>,
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
        #[command(flatten)]
        store: StoreOpt,
    },
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
        running.wait().await.map_err(|e| {
            eprintln!("error: {e}");
            Reported
        })
    })
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
        TokenCommand::Create { scope, employee, label, store } => {
            let mut s = store.open()?;
            let token = allot_server::create_token(s.as_mut(), scope, employee.as_deref(), label, &store.actor()).map_err(|e| {
                eprintln!("error: {e}");
                Reported
            })?;
            crate::emit(&format!("{token}\n"))?;
            eprintln!("a {scope} token `{label}`: keep it now, it is not shown again (only its hash is stored)");
            Ok(())
        }
    }
}
