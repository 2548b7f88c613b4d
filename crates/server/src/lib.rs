//! `allot serve`: the HTTP API over the store — route new leads in real time (fair pools, caps,
//! fallbacks, continuity, idempotency), read the book (owners on a day, history, an employee's
//! book, a pool's fairness), plan and apply. Knows HTTP; the use cases are `allot-app`'s and the
//! decisions `allot-core`'s.
//!
//! Shape: axum handlers on tokio for the network; one **router thread** ([`writer`]) owns the
//! routing state and a store connection and commits routed items in batches (group commit): an
//! answer is sent only after its batch is durable. Reads run on blocking threads with their own
//! connections. Graceful shutdown stops accepting, lets the router drain its queue, and answers
//! every request it accepted.

pub mod api;
pub mod crm;
pub mod error;
pub mod model;
pub mod notify;
pub mod openapi;
pub mod outbox;
pub mod web;
pub mod writer;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, RwLock};

use allot_rules::Type;
use allot_store::{Location, Store};
use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use tokio::sync::mpsc;

use crate::error::ApiError;

/// How to serve.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    pub store: Location,
    /// Keys that recognise a returning client, in order: `id`, `inn`, `email_domain`, `phone`.
    pub match_keys: Vec<String>,
    /// The most routed items committed together.
    pub max_batch: usize,
    /// The largest request body, in bytes.
    pub body_limit: usize,
    /// The largest file the workspace's import takes (`POST /imports`), in bytes.
    pub upload_limit: usize,
    /// Connections open at once; a further one waits in the kernel's queue until one closes.
    pub max_connections: usize,
    /// Time for a request's headers to arrive (and for an idle kept-alive connection to send the
    /// next request); a slower connection is closed.
    pub header_timeout: std::time::Duration,
    /// Time for a request's body to arrive; a slower request gets 408.
    pub body_timeout: std::time::Duration,
    /// SQLite: the write-ahead log's bound in frames, past which the router checkpoints it.
    pub wal_frames_limit: i64,
    /// Who applies a plan of each kind: its maker, any admin after a proposal, or another admin.
    pub approval: allot_app::approval::Approval,
    /// The Bitrix24 portal written back to and heard from (issue #18), if any.
    pub bitrix24: Option<crm::Bitrix24Config>,
    /// The mail server people are told by (issue #18 §4), if any.
    pub smtp: Option<notify::SmtpConfig>,
    /// The amoCRM account written back to and heard from (issue #18 §2), if any.
    pub amocrm: Option<crm::AmoConfig>,
    /// How often leads left waiting are looked for (the scheme's `[notify] unassigned_after`).
    pub alert_every: std::time::Duration,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            store: Location::Sqlite("allot.db".into()),
            match_keys: vec!["id".into(), "inn".into(), "email_domain".into(), "phone".into()],
            max_batch: 512,
            body_limit: 64 * 1024,
            upload_limit: 256 * 1024 * 1024,
            max_connections: 1024,
            header_timeout: std::time::Duration::from_secs(10),
            body_timeout: std::time::Duration::from_secs(10),
            wal_frames_limit: allot_store::sqlite::WAL_FRAMES_LIMIT,
            approval: allot_app::approval::Approval::default(),
            bitrix24: None,
            smtp: None,
            amocrm: None,
            alert_every: std::time::Duration::from_secs(60),
        }
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Outcome {
    pub outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Endpoint {
    pub path: String,
    pub status: u16,
}

/// The server's metrics (Prometheus text format at `/metrics`).
#[derive(Clone)]
pub struct Metrics {
    pub routes: Family<Outcome, Counter>,
    pub route_seconds: Histogram,
    pub batch_size: Histogram,
    pub requests: Family<Endpoint, Counter>,
    /// Store connections found lost (reader or router).
    pub connections_lost: Counter,
    /// The router thread's store connection reopened after a loss.
    pub reconnects: Counter,
    /// Routing batches the store refused as a whole, then routed item by item.
    pub batches_split: Counter,
    /// Reads of the whole store for the rule builder's checks (at a check, or kept fresh ahead).
    pub draft_reads: Counter,
}

impl Metrics {
    fn new(registry: &mut Registry) -> Metrics {
        let m = Metrics {
            routes: Family::default(),
            route_seconds: Histogram::new(exponential_buckets(0.0001, 2.0, 16)),
            batch_size: Histogram::new(exponential_buckets(1.0, 2.0, 11)),
            requests: Family::default(),
            connections_lost: Counter::default(),
            reconnects: Counter::default(),
            batches_split: Counter::default(),
            draft_reads: Counter::default(),
        };
        registry.register("allot_routes", "Routing requests by outcome (routed, replayed, or an error code)", m.routes.clone());
        registry.register("allot_route_seconds", "Time to answer a routing request, durable", m.route_seconds.clone());
        registry.register("allot_route_batch_size", "Routed items committed together", m.batch_size.clone());
        registry.register("allot_http_requests", "HTTP requests by path and status", m.requests.clone());
        registry.register("allot_store_connections_lost", "Store connections found lost (reader or router)", m.connections_lost.clone());
        registry.register("allot_store_reconnects", "The router's store connection reopened after a loss", m.reconnects.clone());
        registry.register(
            "allot_route_batches_split",
            "Routing batches the store refused whole, routed again item by item",
            m.batches_split.clone(),
        );
        registry.register(
            "allot_draft_reads",
            "Reads of the whole store for the rule builder's checks (at a check, or kept fresh ahead)",
            m.draft_reads.clone(),
        );
        m
    }
}

/// Shared by the handlers.
pub struct AppState {
    pub store: Location,
    pub jobs: mpsc::Sender<writer::Job>,
    /// Attribute types a routed item may carry (refreshed by the router).
    pub columns: RwLock<Arc<Vec<(String, Type)>>>,
    /// Attribute types a routed deal may carry.
    pub deal_columns: RwLock<Arc<Vec<(String, Type)>>>,
    /// Value dictionaries routed attributes are normalised with (regions, the scheme's `[values]`).
    pub values: RwLock<Arc<allot_io::values::ValueMaps>>,
    /// Token hashes seen lately: the caller, or none for an unknown one, and until when to trust it.
    pub tokens: Mutex<HashMap<String, (Option<api::Caller>, std::time::Instant)>>,
    readers: Mutex<Vec<Box<dyn Store>>>,
    /// Permits for reader connections ([`MAX_READERS`]).
    reader_slots: Arc<tokio::sync::Semaphore>,
    /// Permits for reads of the whole book ([`MAX_HEAVY`]).
    heavy: Arc<tokio::sync::Semaphore>,
    /// Whether the router thread holds a working store connection (for `/health`).
    pub router_up: Arc<std::sync::atomic::AtomicBool>,
    /// Whether the store refused the router's latest transaction (for `/health`).
    pub writes_failing: Arc<std::sync::atomic::AtomicBool>,
    pub metrics: Metrics,
    registry: Registry,
    /// Who applies a plan of each kind (issue #17 §2).
    pub approval: allot_app::approval::Approval,
    /// Territory designs run from the workspace (issue #17 §3).
    pub runs: web::Runs,
    /// The store as the rule builder's check last read it, with when, at which revision and how
    /// long the read took: a draft that types the data alike is checked against it without
    /// reading the book again.
    pub draft_base: Mutex<Option<web::DraftBase>>,
    /// One scheme check at a time.
    pub checking: tokio::sync::Mutex<()>,
    /// Contribution reports made for the screen, and those being made (issue #17 §7).
    pub reports: Mutex<web::Reports>,
    pub reporting: Mutex<std::collections::HashSet<web::ReportKey>>,
    /// The columns and values the rule builder offers, as last sampled from the store.
    pub builder_columns: Mutex<Option<web::BuilderColumns>>,
    /// When the rule builder was last opened or checked a draft: for an hour after it,
    /// `draft_base` is kept fresh in the background; then it is let go.
    pub draft_wanted: Mutex<Option<std::time::Instant>>,
    /// The Bitrix24 portal of the server's configuration (issue #18 §1).
    pub bitrix24: Option<crm::Connection>,
    /// The mail server of the server's configuration (issue #18 §4).
    pub mailer: Option<notify::Mailer>,
    /// The amoCRM account of the server's configuration (issue #18 §2).
    pub amocrm: Option<crm::AmoConnection>,
    /// Wakes the outbox's worker (a routed lead is written back at once, not at its next look).
    pub outbox_wake: Arc<tokio::sync::Notify>,
}

/// Store connections for reads, at most this many at once (the router has its own): a flood of
/// requests waits for one instead of opening more (issue #13).
pub const MAX_READERS: usize = 8;
/// Reads of the whole book (report, plan, apply) at once: the rest wait, so that routing keeps
/// its share of the cores.
pub const MAX_HEAVY: usize = 1;
/// How long a request waits for a reader connection before it is answered 503.
const READER_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

impl AppState {
    /// Runs `f` with a store connection on a blocking thread.
    pub async fn read<T: Send + 'static>(
        self: &Arc<Self>,
        f: impl Fn(&mut dyn Store) -> allot_store::Result<T> + Send + 'static,
    ) -> Result<T, ApiError> {
        self.with_store(move |s| f(s).map_err(ApiError::store)).await
    }

    /// Runs `f` with one of at most [`MAX_READERS`] pooled connections. A connection whose store
    /// went away (a database restart, a terminated session) is dropped, never pooled again, and
    /// `f` is tried once more on a new one: a read is safe to repeat.
    pub async fn with_store<T: Send + 'static>(
        self: &Arc<Self>,
        f: impl Fn(&mut dyn Store) -> Result<T, ApiError> + Send + 'static,
    ) -> Result<T, ApiError> {
        let permit = tokio::time::timeout(READER_WAIT, self.reader_slots.clone().acquire_owned())
            .await
            .map_err(|_| ApiError::unavailable("every store connection is busy; retry shortly".into()))?
            .map_err(|_| ApiError::unavailable("the server is stopping".into()))?;
        let me = self.clone();
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let mut last = None;
            for attempt in 0..2 {
                let pooled = if attempt == 0 { me.readers.lock().ok().and_then(|mut r| r.pop()) } else { None };
                let mut store = match pooled {
                    Some(s) => s,
                    None => match allot_store::open(&me.store) {
                        Ok(s) => s,
                        Err(e) => return Err(ApiError::store(e)),
                    },
                };
                match f(store.as_mut()) {
                    Err(e) if e.lost => {
                        me.metrics.connections_lost.inc();
                        tracing::warn!(attempt, "a reader connection to the store was lost; it is dropped");
                        last = Some(e);
                    }
                    out => {
                        if let Ok(mut r) = me.readers.lock() {
                            r.push(store);
                        }
                        return out;
                    }
                }
            }
            Err(last.unwrap_or_else(|| ApiError::unavailable("the store cannot be reached; retry shortly".into())))
        })
        .await
        .map_err(|_| ApiError::unavailable("a worker failed".into()))?
    }

    /// [`AppState::with_store`] for a read of the whole book: one at a time ([`MAX_HEAVY`]), and
    /// the next only after a pause twice as long as this one took, so that back-to-back whole-book
    /// reads take at most a third of a core and routing keeps the rest (issue #13: 8 clients asking
    /// for reports without pause cut routing by a third; with the pause, see BENCHMARKS.md §4).
    pub async fn with_whole_store<T: Send + 'static>(
        self: &Arc<Self>,
        f: impl Fn(&mut dyn Store) -> Result<T, ApiError> + Send + 'static,
    ) -> Result<T, ApiError> {
        let turn = self.heavy.clone().acquire_owned().await.map_err(|_| ApiError::unavailable("the server is stopping".into()))?;
        let started = std::time::Instant::now();
        let out = self.with_store(f).await;
        let took = started.elapsed();
        tokio::spawn(async move {
            tokio::time::sleep(took * 2).await;
            drop(turn);
        });
        out
    }

    /// [`AppState::with_whole_store`] for a read that nobody waits for (the rule builder's read
    /// ahead): it takes its turn like the others, but leaves no pause behind for the next one — a
    /// person's report does not wait for it; the caller paces itself.
    pub async fn with_whole_store_unpaced<T: Send + 'static>(
        self: &Arc<Self>,
        f: impl Fn(&mut dyn Store) -> Result<T, ApiError> + Send + 'static,
    ) -> Result<T, ApiError> {
        let _turn = self.heavy.clone().acquire_owned().await.map_err(|_| ApiError::unavailable("the server is stopping".into()))?;
        self.with_store(f).await
    }
}

impl Drop for AppState {
    fn drop(&mut self) {
        // A PostgreSQL client closes by blocking on its own runtime, which must not happen on an
        // async thread: the pooled connections are closed on a plain thread.
        let readers = self.readers.lock().map(|mut r| std::mem::take(&mut *r)).unwrap_or_default();
        if !readers.is_empty() {
            let _ = std::thread::spawn(move || drop(readers)).join();
        }
    }
}

pub use allot_app::clock::{now_utc, today};

/// Why the server or a token could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    Store(#[from] allot_store::StoreError),
    #[error("cannot listen on {addr}: {source}")]
    Listen { addr: SocketAddr, source: std::io::Error },
    /// A thread or task of the server could not start or ended in a panic.
    #[error("the server's {0} failed")]
    Worker(&'static str),
    /// The configuration cannot be used (said without secrets).
    #[error("{0}")]
    Config(String),
}

/// The running server's handle: its address, and the task to await.
pub struct Running {
    pub addr: SocketAddr,
    /// The CRM portal written back to (its host), if any.
    pub crm: Option<String>,
    /// The amoCRM account written back to (its host), if any.
    pub amocrm: Option<String>,
    pub done: tokio::task::JoinHandle<Result<(), ServeError>>,
    router: std::thread::JoinHandle<()>,
    checkpointing: Arc<std::sync::atomic::AtomicBool>,
    checkpointer: std::thread::JoinHandle<()>,
}

impl Running {
    /// Waits for the server to stop and the router to answer everything it took.
    pub async fn wait(self) -> Result<(), ServeError> {
        let r = self.done.await.map_err(|_| ServeError::Worker("HTTP task"))?;
        let (router, flag, checkpointer) = (self.router, self.checkpointing, self.checkpointer);
        tokio::task::spawn_blocking(move || {
            let routed = router.join();
            flag.store(false, std::sync::atomic::Ordering::Relaxed);
            let _ = checkpointer.join();
            routed
        })
        .await
        .map_err(|_| ServeError::Worker("shutdown task"))?
        .map_err(|_| ServeError::Worker("router thread"))?;
        r
    }
}

/// The checkpointer: copies the SQLite log back into the database every 200 ms on its own
/// connection (often near the bound), and tells the router when the log is past it.
fn spawn_checkpointer(
    location: allot_store::Location,
    wal_limit: i64,
    running: Arc<std::sync::atomic::AtomicBool>,
    wal_full_set: Arc<std::sync::atomic::AtomicBool>,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new().name("allot-checkpoint".into()).spawn(move || {
        let mut store = None;
        let mut pause = std::time::Duration::from_millis(200);
        while running.load(std::sync::atomic::Ordering::Relaxed) {
            std::thread::sleep(pause);
            // Reopened if lost, like every connection of the server.
            if store.is_none() {
                store = allot_store::open(&location).ok();
            }
            let done = store.as_mut().map(|s| s.checkpoint());
            // Near the bound, copy often: what is left for the router's own checkpoint (which
            // holds up one batch) is then only what was committed in the last few milliseconds.
            pause = std::time::Duration::from_millis(match &done {
                Some(Ok(frames)) if *frames > wal_limit / 2 => 10,
                _ => 200,
            });
            match done {
                Some(Ok(frames)) if frames > wal_limit => {
                    wal_full_set.store(true, std::sync::atomic::Ordering::Relaxed);
                }
                Some(Err(e)) => {
                    tracing::warn!(error = %e, "checkpoint");
                    if e.is_connection() {
                        store = None;
                    }
                }
                _ => {}
            }
        }
        if let Some(s) = store.as_mut() {
            let _ = s.checkpoint();
        }
    })
}

/// Every 2 s, while the server lives: when something routing depends on changed, the columns,
/// deal columns and value maps that requests are checked against are reloaded.
fn spawn_refresher(refresher: std::sync::Weak<AppState>, mut seen: Option<i64>) {
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(std::time::Duration::from_secs(2)).await;
            // Only while the server lives: a strong reference here would keep the router waiting.
            let Some(refresher) = refresher.upgrade() else { break };
            // One cheap query; the model is rebuilt only when something it depends on changed.
            let Ok(now) = refresher.read(|s| s.routing_revision()).await else { continue };
            if Some(now) == seen {
                continue;
            }
            if let Ok(Ok(m)) = refresher.read(|s| Ok(model::Model::load(s))).await {
                seen = Some(m.revision);
                if let Ok(mut c) = refresher.columns.write() {
                    *c = Arc::new(m.columns);
                }
                if let Ok(mut c) = refresher.deal_columns.write() {
                    *c = Arc::new(m.deal_columns);
                }
                if let Ok(mut v) = refresher.values.write() {
                    *v = Arc::new(m.values);
                }
            }
        }
    });
}

/// Binds, starts the router thread and serves until `shutdown` resolves.
pub async fn start(config: Config, shutdown: impl std::future::Future<Output = ()> + Send + 'static) -> Result<Running, ServeError> {
    // The process's TLS provider, before any HTTP client is built (webhooks, connectors).
    outbox::install_tls();
    let bitrix24 = match &config.bitrix24 {
        Some(c) => Some(crm::Connection::new(c).map_err(ServeError::Config)?),
        None => None,
    };
    let mailer = match &config.smtp {
        Some(c) => Some(notify::Mailer::new(c).map_err(ServeError::Config)?),
        None => None,
    };
    // The store's clients block (PostgreSQL's runs its own small runtime): open off the async threads.
    let location = config.store.clone();
    let (store, model) = tokio::task::spawn_blocking(move || -> Result<_, ServeError> {
        let mut store = allot_store::open(&location)?;
        store.defer_checkpoints()?;
        let model = model::Model::load(store.as_mut()).ok();
        Ok((store, model))
    })
    .await
    .map_err(|_| ServeError::Worker("start-up task"))??;
    // The portal written back to has its connector in the store: made now if there is none (told
    // of the changes from now on).
    let crm = bitrix24.as_ref().map(|c| c.host.clone());
    // So has the way people are told: the mail server, else the portal.
    let mut connectors: Vec<(&str, String)> = Vec::new();
    if let Some(c) = &bitrix24 {
        connectors.push(("bitrix24", c.address()));
    }
    if let Some(address) = mailer.as_ref().map(|m| m.address.clone()).or_else(|| bitrix24.as_ref().map(crm::Connection::address)) {
        connectors.push(("notify", address));
    }
    if !connectors.is_empty() {
        let location = config.store.clone();
        let connectors: Vec<(String, String)> = connectors.into_iter().map(|(k, a)| (k.to_string(), a)).collect();
        tokio::task::spawn_blocking(move || -> Result<(), ServeError> {
            let mut store = allot_store::open(&location)?;
            let actor = allot_store::Actor { by: "allot serve".into(), at: allot_app::clock::now_utc() };
            for (kind, address) in &connectors {
                store.add_connector(kind, address, &actor)?;
            }
            Ok(())
        })
        .await
        .map_err(|_| ServeError::Worker("start-up task"))??;
    }
    // The amoCRM account: its connector (made now if there is none) keeps the OAuth token pair.
    let amocrm = match &config.amocrm {
        None => None,
        Some(c) => {
            let (base, host) = crm::amocrm::check_account(&c.url).map_err(ServeError::Config)?;
            let location = config.store.clone();
            let (id, kept) = tokio::task::spawn_blocking(move || -> Result<_, ServeError> {
                let mut store = allot_store::open(&location)?;
                let actor = allot_store::Actor { by: "allot serve".into(), at: allot_app::clock::now_utc() };
                let (id, _) = store.add_connector("amocrm", &base, &actor)?;
                let kept = store.webhooks()?.into_iter().find(|h| h.id == id).map(|h| h.secret);
                Ok((id, kept))
            })
            .await
            .map_err(|_| ServeError::Worker("start-up task"))??;
            let auth = crm::amo_auth(c, kept.as_deref()).map_err(ServeError::Config)?;
            let account = crm::amocrm::Account::new(&c.url, auth, c.pace).map_err(ServeError::Config)?;
            Some(crm::AmoConnection { account: tokio::sync::Mutex::new(account), host, hook_key: c.hook_key.clone(), connector: id })
        }
    };
    let amocrm_host = amocrm.as_ref().map(|a| a.host.clone());
    let loaded_revision = model.as_ref().map(|m| m.revision);
    let columns = model.as_ref().map(|m| m.columns.clone()).unwrap_or_default();
    let deal_columns = model.as_ref().map(|m| m.deal_columns.clone()).unwrap_or_else(Vec::new);
    let values = model.as_ref().map_or_else(allot_io::values::ValueMaps::builtin, |m| m.values.clone());
    let mut registry = Registry::default();
    let metrics = Metrics::new(&mut registry);
    let (tx, rx) = mpsc::channel::<writer::Job>(65_536);
    let router_up = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let writes_failing = Arc::new(std::sync::atomic::AtomicBool::new(false));
    // Set by the checkpointer when the log has grown past its bound; the router checkpoints then.
    let wal_full = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let w = writer::Writer {
        store: Some(store),
        location: config.store.clone(),
        model,
        match_keys: config.match_keys.clone(),
        max_batch: config.max_batch,
        metrics: metrics.clone(),
        up: router_up.clone(),
        retry_at: std::time::Instant::now(),
        backoff: std::time::Duration::from_millis(50),
        wal_full: wal_full.clone(),
        writes_failing: writes_failing.clone(),
    };
    let router = std::thread::Builder::new()
        .name("allot-router".into())
        .spawn(move || w.run(rx))
        .map_err(|_| ServeError::Worker("router thread"))?;
    // Checkpoints on their own connection and thread, so that commits never wait for them.
    let checkpointing = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let checkpointer = spawn_checkpointer(config.store.clone(), config.wal_frames_limit, checkpointing.clone(), wal_full)
        .map_err(|_| ServeError::Worker("checkpoint thread"))?;
    let state = Arc::new(AppState {
        store: config.store.clone(),
        jobs: tx,
        columns: RwLock::new(Arc::new(columns)),
        deal_columns: RwLock::new(Arc::new(deal_columns)),
        values: RwLock::new(Arc::new(values)),
        tokens: Mutex::new(HashMap::new()),
        readers: Mutex::new(Vec::new()),
        reader_slots: Arc::new(tokio::sync::Semaphore::new(MAX_READERS)),
        heavy: Arc::new(tokio::sync::Semaphore::new(MAX_HEAVY)),
        router_up: router_up.clone(),
        writes_failing,
        metrics,
        registry,
        approval: config.approval.clone(),
        runs: web::Runs::default(),
        draft_base: Mutex::new(None),
        checking: tokio::sync::Mutex::new(()),
        builder_columns: Mutex::new(None),
        reports: Mutex::new(Vec::new()),
        reporting: Mutex::new(std::collections::HashSet::new()),
        draft_wanted: Mutex::new(None),
        bitrix24,
        mailer,
        amocrm,
        outbox_wake: Arc::new(tokio::sync::Notify::new()),
    });
    let app = app(state.clone(), &config);
    let listener =
        tokio::net::TcpListener::bind(config.listen).await.map_err(|source| ServeError::Listen { addr: config.listen, source })?;
    let addr = listener.local_addr().map_err(|source| ServeError::Listen { addr: config.listen, source })?;
    tracing::info!(%addr, store = %config.store, "serving");
    // Columns follow the router's model: refreshed in the background.
    spawn_refresher(Arc::downgrade(&state), loaded_revision);
    // The rule builder's read of the store, made ready before the first check asks for it.
    web::spawn_draft_keeper(Arc::downgrade(&state));
    // Webhooks are sent their changes (issue #18 §3).
    let holder = allot_app::tokens::random_hex().unwrap_or_default();
    outbox::spawn(Arc::downgrade(&state), format!("{}:{addr}:{}", std::process::id(), holder.get(..12).unwrap_or_default()));
    // Leads left waiting for a person are told to the managers (issue #18 §4).
    if state.mailer.is_some() || state.bitrix24.is_some() {
        notify::spawn_alerts(Arc::downgrade(&state), config.alert_every);
    }
    let limits = config.clone();
    let done = tokio::spawn(async move {
        // Dropping the state's sender (with the app) lets the router finish its queue and stop.
        let r = serve_bounded(listener, app, &limits, shutdown).await;
        drop(state);
        r
    });
    Ok(Running { addr, crm, amocrm: amocrm_host, done, router, checkpointing, checkpointer })
}

/// Serves connections until `shutdown`, then lets every open one finish what it accepted.
/// At most `max_connections` are open at once (a permit each; the next waits in the kernel's
/// queue), and hyper closes one whose headers do not arrive within `header_timeout`.
async fn serve_bounded(
    listener: tokio::net::TcpListener,
    app: Router,
    limits: &Config,
    shutdown: impl std::future::Future<Output = ()> + Send,
) -> Result<(), ServeError> {
    use hyper_util::rt::{TokioIo, TokioTimer};
    let slots = Arc::new(tokio::sync::Semaphore::new(limits.max_connections.max(1)));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            p = slots.clone().acquire_owned() => p.map_err(|_| ServeError::Worker("connection slots"))?,
            () = &mut shutdown => break,
        };
        let stream = tokio::select! {
            r = listener.accept() => match r {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // Out of file descriptors, or a connection reset before it was taken: wait a
                    // little rather than spin.
                    tracing::warn!(error = %e, "accept");
                    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let mut builder = hyper::server::conn::http1::Builder::new();
        // hyper answers requests past its own limits itself, in plain text; its limits are set well
        // above ours (see `bounded_head`), which answer in JSON.
        builder
            .timer(TokioTimer::new())
            .header_read_timeout(limits.header_timeout)
            .max_headers(MAX_HEADERS * 4)
            .max_buf_size(MAX_HEAD_BYTES * 4);
        let conn = builder.serve_connection(TokioIo::new(stream), hyper_util::service::TowerToHyperService::new(app.clone()));
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            let _ = conn.await;
            drop(permit);
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

/// The routes.
pub fn app(state: Arc<AppState>, config: &Config) -> Router {
    let (body_limit, upload_limit) = (config.body_limit, config.upload_limit);
    let body_timeout = config.body_timeout;
    Router::new()
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .route("/openapi.json", get(|| async { ([("content-type", "application/json")], openapi::document().to_string()) }))
        .route("/docs", get(|| async { Html(openapi::html()) }))
        .route("/v1/route", post(api::route))
        .route("/v1/hooks/bitrix24", post(crm::hooks::bitrix24))
        .route("/v1/hooks/amocrm/{key}", post(crm::hooks::amocrm))
        .route("/v1/clients/{id}/owners", get(api::owners))
        .route("/v1/clients/{id}/history", get(api::history))
        .route("/v1/clients/{id}/explain", get(api::explain))
        .route("/v1/employees/{id}/book", get(api::book))
        .route("/v1/pools/{rule}", get(api::pool))
        .route("/v1/report", get(api::report))
        .route("/v1/plan", post(api::plan))
        .route("/v1/apply", post(api::apply))
        .merge(web::routes())
        .fallback(|| async { ApiError::new(crate::error::Code::NotFound, "no such endpoint; see /docs", None) })
        .layer(DefaultBodyLimit::max(body_limit.max(upload_limit)))
        .layer(axum::middleware::from_fn(move |req: axum::extract::Request, next: axum::middleware::Next| {
            // An uploaded file may be larger than a request of the API, and take longer to arrive.
            let upload = req.uri().path() == web::UPLOAD_PATH;
            let (limit, timeout) = if upload { (upload_limit, body_timeout * 30) } else { (body_limit, body_timeout) };
            bounded_body(req, next, limit, timeout)
        }))
        .layer(axum::middleware::from_fn(bounded_head))
        .layer(axum::middleware::from_fn_with_state(state.clone(), observe))
        .with_state(state)
}

/// Most headers a request may carry, and most bytes of its path and query, and of its head.
pub const MAX_HEADERS: usize = 100;
pub const MAX_URI: usize = 8 * 1024;
pub const MAX_HEAD_BYTES: usize = 64 * 1024;

/// Refuses, in the JSON error shape, a request whose path and query or headers are too large.
async fn bounded_head(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let uri = req.uri().path_and_query().map_or(0, |p| p.as_str().len());
    if uri > MAX_URI {
        return ApiError::new(crate::error::Code::UriTooLong, format!("the path and query are {uri} bytes; at most {MAX_URI}"), None)
            .into_response();
    }
    let headers = req.headers();
    let bytes: usize = headers.iter().map(|(k, v)| k.as_str().len() + v.len() + 4).sum();
    if headers.len() > MAX_HEADERS || bytes > MAX_HEAD_BYTES {
        return ApiError::new(
            crate::error::Code::HeadersTooLarge,
            format!("{} headers of {bytes} bytes; at most {MAX_HEADERS} headers and {MAX_HEAD_BYTES} bytes", headers.len()),
            None,
        )
        .into_response();
    }
    next.run(req).await
}

/// Reads a request's whole body within `timeout` and `limit` before the handler runs: a client
/// that sends its body slowly gets 408 and its connection back, never a worker held for minutes.
async fn bounded_body(req: axum::extract::Request, next: axum::middleware::Next, limit: usize, timeout: std::time::Duration) -> Response {
    let (parts, body) = req.into_parts();
    match tokio::time::timeout(timeout, axum::body::to_bytes(body, limit)).await {
        Err(_) => ApiError::new(crate::error::Code::Timeout, format!("the body did not arrive within {} s", timeout.as_secs_f64()), None)
            .into_response(),
        Ok(Err(_)) => ApiError::new(crate::error::Code::BodyTooLarge, format!("the body is larger than {limit} bytes, or broke off"), None)
            .into_response(),
        Ok(Ok(bytes)) => next.run(axum::extract::Request::from_parts(parts, axum::body::Body::from(bytes))).await,
    }
}

/// The JSON error for a response that left the router as plain text or empty (a rejected path,
/// query or method): every error a client gets has the same shape.
async fn as_json_error(resp: Response) -> Response {
    let status = resp.status();
    use crate::error::Code;
    let code = match status.as_u16() {
        404 => Code::NotFound,
        405 => Code::MethodNotAllowed,
        408 => Code::Timeout,
        413 => Code::BodyTooLarge,
        414 => Code::UriTooLong,
        431 => Code::HeadersTooLarge,
        422 => Code::BadJson,
        s if s >= 500 => Code::Unavailable,
        _ => Code::BadRequest,
    };
    let text =
        axum::body::to_bytes(resp.into_body(), 4096).await.map(|b| String::from_utf8_lossy(&b).trim().to_string()).unwrap_or_default();
    let message = if text.is_empty() { status.canonical_reason().unwrap_or("error").to_lowercase() } else { text };
    let mut e = ApiError::new(code, message, None);
    e.status = status.as_u16();
    e.into_response()
}

/// Counts every request by path and status, turns plain-text errors (the body limit's 413, a
/// rejected path or query) into the JSON error, and logs one line per request.
async fn observe(State(state): State<Arc<AppState>>, req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let path = req.extensions().get::<axum::extract::MatchedPath>().map_or_else(|| "unmatched".to_string(), |p| p.as_str().to_string());
    let method = req.method().clone();
    let started = std::time::Instant::now();
    let mut resp = next.run(req).await;
    // The API's errors are JSON already, and the workspace's refusals are pages of their own
    // (HTML, in the reader's language): anything else — axum's plain-text rejections — is made
    // the JSON error.
    let shaped = resp
        .headers()
        .get("content-type")
        .and_then(|c| c.to_str().ok())
        .is_some_and(|c| c == "application/json" || c.starts_with("text/html"));
    if resp.status().as_u16() >= 400 && !shaped {
        resp = as_json_error(resp).await;
    }
    let status = resp.status().as_u16();
    state.metrics.requests.get_or_create(&Endpoint { path: path.clone(), status }).inc();
    tracing::info!(%method, path, status, micros = started.elapsed().as_micros() as u64, "request");
    resp
}

/// `/health`: 200 only when the store answers and takes writes. Otherwise 503 with what is wrong:
/// `unreachable`, `read_only`, `writes_failing` (the store refused the router's latest
/// transaction) or `schema_newer` (a newer allot migrated the store), and whether the router's own
/// connection is up (it reconnects at its next request).
async fn health(State(state): State<Arc<AppState>>) -> Response {
    let router = if state.router_up.load(std::sync::atomic::Ordering::Relaxed) { "connected" } else { "reconnecting" };
    let failing = state.writes_failing.load(std::sync::atomic::Ordering::Relaxed);
    let (status, body) = match state.read(|s| s.health()).await {
        Ok(h) if h.writable && failing => (
            StatusCode::SERVICE_UNAVAILABLE,
            serde_json::json!({"status": "writes_failing", "message": "the store refused the latest routing transaction (a read-only or full file or disk?); the reason is logged", "revision": h.revision, "router": router}),
        ),
        Ok(h) if h.writable => (StatusCode::OK, serde_json::json!({"status": "ok", "revision": h.revision, "router": router})),
        Ok(h) => (
            StatusCode::SERVICE_UNAVAILABLE,
            serde_json::json!({"status": "read_only", "message": "the store refuses writes (a read-only file or file system, or a standby server): routing fails", "revision": h.revision, "router": router}),
        ),
        Err(_) => {
            // Why: opened afresh, the store says whether it is gone or newer than this binary.
            let location = state.store.clone();
            let why = tokio::task::spawn_blocking(move || allot_store::open(&location).err().map(|e| e.to_string())).await.ok().flatten();
            let (status, message) = match why {
                Some(m) if m.contains("newer allot") => ("schema_newer", "the store was migrated by a newer allot; run that version"),
                _ => ("unreachable", "the store cannot be reached"),
            };
            (StatusCode::SERVICE_UNAVAILABLE, serde_json::json!({"status": status, "message": message, "router": router}))
        }
    };
    let mut resp = (status, [("content-type", "application/json")], body.to_string()).into_response();
    if status == StatusCode::SERVICE_UNAVAILABLE {
        resp.headers_mut().insert("retry-after", axum::http::HeaderValue::from_static("1"));
    }
    resp
}

async fn metrics(State(state): State<Arc<AppState>>) -> Response {
    let mut out = String::new();
    match prometheus_client::encoding::text::encode(&mut out, &state.registry) {
        Ok(()) => ([("content-type", "application/openmetrics-text; version=1.0.0; charset=utf-8")], out).into_response(),
        Err(_) => ApiError::unavailable("metrics".into()).into_response(),
    }
}
