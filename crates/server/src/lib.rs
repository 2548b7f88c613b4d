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
pub mod model;
pub mod openapi;
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

use crate::api::{ApiError, Scope};

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
}

impl Default for Config {
    fn default() -> Config {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            store: Location::Sqlite("allot.db".into()),
            match_keys: vec!["id".into(), "inn".into(), "email_domain".into(), "phone".into()],
            max_batch: 512,
            body_limit: 64 * 1024,
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
}

impl Metrics {
    fn new(registry: &mut Registry) -> Metrics {
        let m = Metrics {
            routes: Family::default(),
            route_seconds: Histogram::new(exponential_buckets(0.0001, 2.0, 16)),
            batch_size: Histogram::new(exponential_buckets(1.0, 2.0, 11)),
            requests: Family::default(),
        };
        registry.register("allot_routes", "Routing requests by outcome (routed, replayed, or an error code)", m.routes.clone());
        registry.register("allot_route_seconds", "Time to answer a routing request, durable", m.route_seconds.clone());
        registry.register("allot_route_batch_size", "Routed items committed together", m.batch_size.clone());
        registry.register("allot_http_requests", "HTTP requests by path and status", m.requests.clone());
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
    pub tokens: Mutex<HashMap<String, (Scope, String)>>,
    readers: Mutex<Vec<Box<dyn Store>>>,
    pub metrics: Metrics,
    registry: Registry,
}

impl AppState {
    /// Runs `f` with a store connection on a blocking thread.
    pub async fn read<T: Send + 'static>(
        self: &Arc<Self>,
        f: impl FnOnce(&mut dyn Store) -> allot_store::Result<T> + Send + 'static,
    ) -> Result<T, ApiError> {
        self.with_store(move |s| f(s).map_err(ApiError::store)).await
    }

    pub async fn with_store<T: Send + 'static>(
        self: &Arc<Self>,
        f: impl FnOnce(&mut dyn Store) -> Result<T, ApiError> + Send + 'static,
    ) -> Result<T, ApiError> {
        let me = self.clone();
        tokio::task::spawn_blocking(move || {
            let pooled = me.readers.lock().ok().and_then(|mut r| r.pop());
            let mut store = match pooled {
                Some(s) => s,
                None => allot_store::open(&me.store).map_err(ApiError::store)?,
            };
            let out = f(store.as_mut());
            if let Ok(mut r) = me.readers.lock() {
                r.push(store);
            }
            out
        })
        .await
        .map_err(|_| ApiError::unavailable("a worker failed".into()))?
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

/// A new API token: 32 random bytes from the OS, hex, with a recognisable prefix. Only its hash
/// is stored.
pub fn new_token() -> Result<String, String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| format!("no randomness from the OS: {e}"))?;
    Ok(format!("allot_{}", bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()))
}

/// Stores a token for `scope` and returns its secret (shown once).
pub fn create_token(
    store: &mut dyn Store,
    scope: &str,
    employee: Option<&str>,
    label: &str,
    actor: &allot_store::Actor,
) -> Result<String, String> {
    if !["admin", "manager", "employee", "router"].contains(&scope) {
        return Err(format!("unknown scope `{scope}`; expected admin, manager, employee or router"));
    }
    if matches!(scope, "manager" | "employee") && employee.is_none() {
        return Err(format!("a {scope} token needs --employee ID (whose clients it may see)"));
    }
    let token = new_token()?;
    store.add_token(&api::hash_token(&token), scope, employee, label, actor).map_err(|e| e.to_string())?;
    Ok(token)
}

/// The running server's handle: its address, and the task to await.
pub struct Running {
    pub addr: SocketAddr,
    pub done: tokio::task::JoinHandle<Result<(), String>>,
    router: std::thread::JoinHandle<()>,
    checkpointing: Arc<std::sync::atomic::AtomicBool>,
    checkpointer: std::thread::JoinHandle<()>,
}

impl Running {
    /// Waits for the server to stop and the router to answer everything it took.
    pub async fn wait(self) -> Result<(), String> {
        let r = self.done.await.map_err(|e| e.to_string())?;
        let (router, flag, checkpointer) = (self.router, self.checkpointing, self.checkpointer);
        tokio::task::spawn_blocking(move || {
            let routed = router.join();
            flag.store(false, std::sync::atomic::Ordering::Relaxed);
            let _ = checkpointer.join();
            routed
        })
        .await
        .map_err(|e| e.to_string())?
        .map_err(|_| "the router thread failed".to_string())?;
        r
    }
}

/// Binds, starts the router thread and serves until `shutdown` resolves.
pub async fn start(config: Config, shutdown: impl std::future::Future<Output = ()> + Send + 'static) -> Result<Running, String> {
    // The store's clients block (PostgreSQL's runs its own small runtime): open off the async threads.
    let location = config.store.clone();
    let (store, model) = tokio::task::spawn_blocking(move || -> Result<_, String> {
        let mut store = allot_store::open(&location).map_err(|e| e.to_string())?;
        store.defer_checkpoints().map_err(|e| e.to_string())?;
        let model = model::Model::load(store.as_mut()).ok();
        Ok((store, model))
    })
    .await
    .map_err(|e| e.to_string())??;
    let loaded_revision = model.as_ref().map(|m| m.revision);
    let columns = model.as_ref().map(|m| m.columns.clone()).unwrap_or_default();
    let deal_columns = model.as_ref().map(|m| m.deal_columns.clone()).unwrap_or_else(Vec::new);
    let values = model.as_ref().map_or_else(allot_io::values::ValueMaps::builtin, |m| m.values.clone());
    let mut registry = Registry::default();
    let metrics = Metrics::new(&mut registry);
    let (tx, rx) = mpsc::channel::<writer::Job>(65_536);
    let w = writer::Writer { store, model, match_keys: config.match_keys.clone(), max_batch: config.max_batch, metrics: metrics.clone() };
    let router = std::thread::Builder::new().name("allot-router".into()).spawn(move || w.run(rx)).map_err(|e| e.to_string())?;
    // Checkpoints on their own connection and thread, so that commits never wait for them.
    let checkpointing = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let running = checkpointing.clone();
    let location = config.store.clone();
    let checkpointer = std::thread::Builder::new()
        .name("allot-checkpoint".into())
        .spawn(move || {
            let Ok(mut store) = allot_store::open(&location) else { return };
            while running.load(std::sync::atomic::Ordering::Relaxed) {
                std::thread::sleep(std::time::Duration::from_millis(200));
                if let Err(e) = store.checkpoint() {
                    tracing::warn!(error = %e, "checkpoint");
                }
            }
            let _ = store.checkpoint();
        })
        .map_err(|e| e.to_string())?;
    let state = Arc::new(AppState {
        store: config.store.clone(),
        jobs: tx,
        columns: RwLock::new(Arc::new(columns)),
        deal_columns: RwLock::new(Arc::new(deal_columns)),
        values: RwLock::new(Arc::new(values)),
        tokens: Mutex::new(HashMap::new()),
        readers: Mutex::new(Vec::new()),
        metrics,
        registry,
    });
    let app = app(state.clone(), config.body_limit);
    let listener = tokio::net::TcpListener::bind(config.listen).await.map_err(|e| format!("cannot listen on {}: {e}", config.listen))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    tracing::info!(%addr, store = %config.store, "serving");
    // Columns follow the router's model: refreshed in the background.
    let refresher = Arc::downgrade(&state);
    let mut seen = loaded_revision;
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
    let done = tokio::spawn(async move {
        // Dropping the state's sender (with the app) lets the router finish its queue and stop.
        let r = axum::serve(listener, app).with_graceful_shutdown(shutdown).await.map_err(|e| e.to_string());
        drop(state);
        r
    });
    Ok(Running { addr, done, router, checkpointing, checkpointer })
}

/// The routes.
pub fn app(state: Arc<AppState>, body_limit: usize) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .route("/openapi.json", get(|| async { ([("content-type", "application/json")], openapi::document().to_string()) }))
        .route("/docs", get(|| async { Html(openapi::html()) }))
        .route("/v1/route", post(api::route))
        .route("/v1/clients/{id}/owners", get(api::owners))
        .route("/v1/clients/{id}/history", get(api::history))
        .route("/v1/clients/{id}/explain", get(api::explain))
        .route("/v1/employees/{id}/book", get(api::book))
        .route("/v1/pools/{rule}", get(api::pool))
        .route("/v1/report", get(api::report))
        .route("/v1/plan", post(api::plan))
        .route("/v1/apply", post(api::apply))
        .fallback(|| async { ApiError::new("not_found", "no such endpoint; see /docs", None) })
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(axum::middleware::from_fn_with_state(state.clone(), observe))
        .with_state(state)
}

/// Counts every request by path and status, turns the body limit's plain-text 413 into the
/// JSON error, and logs one line per request.
async fn observe(State(state): State<Arc<AppState>>, req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let path = req.extensions().get::<axum::extract::MatchedPath>().map_or_else(|| "unmatched".to_string(), |p| p.as_str().to_string());
    let method = req.method().clone();
    let started = std::time::Instant::now();
    let mut resp = next.run(req).await;
    if resp.status() == StatusCode::PAYLOAD_TOO_LARGE && resp.headers().get("content-type").is_none_or(|c| c != "application/json") {
        resp = ApiError::new("body_too_large", "the body is larger than the server accepts", None).into_response();
    }
    let status = resp.status().as_u16();
    state.metrics.requests.get_or_create(&Endpoint { path: path.clone(), status }).inc();
    tracing::info!(%method, path, status, micros = started.elapsed().as_micros() as u64, "request");
    resp
}

async fn health(State(state): State<Arc<AppState>>) -> Response {
    match state.read(|s| s.revision()).await {
        Ok(rev) => {
            ([("content-type", "application/json")], serde_json::json!({"status": "ok", "revision": rev}).to_string()).into_response()
        }
        Err(e) => e.into_response(),
    }
}

async fn metrics(State(state): State<Arc<AppState>>) -> Response {
    let mut out = String::new();
    match prometheus_client::encoding::text::encode(&mut out, &state.registry) {
        Ok(()) => ([("content-type", "application/openmetrics-text; version=1.0.0; charset=utf-8")], out).into_response(),
        Err(_) => ApiError::unavailable("metrics".into()).into_response(),
    }
}
