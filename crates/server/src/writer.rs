//! The router thread: one owner of the routing state, one store connection, **group commit**.
//! Requests queue up while a batch commits; the next batch takes everything waiting (up to a
//! limit) and routes it in one transaction, in arrival order, then answers each. Every answer is
//! durable before it is sent, and a disk sync is shared by the whole batch.

use allot_app::routing::{route_batch, Refusal};
use allot_store::{Actor, RouteTx, Store};
use tokio::sync::{mpsc, oneshot};

use crate::error::{ApiError, Code};
use crate::model::Model;

pub use allot_app::routing::{pool_from_json, RouteRequest};

/// An answer: the response body and whether it is a replay of an earlier one.
pub type Answer = Result<(String, bool), ApiError>;

/// The HTTP error of a request the routing use case refused.
fn refused(r: Refusal) -> ApiError {
    match &r {
        Refusal::IdempotencyConflict => ApiError::conflict(Code::IdempotencyConflict, &r.to_string(), "Idempotency-Key"),
        Refusal::UnknownClient(_) => ApiError::new(Code::UnknownClient, r.to_string(), Some("client")),
        Refusal::DuplicateId(_) => ApiError::new(Code::DuplicateId, r.to_string(), Some("id")),
    }
}

pub struct Job {
    pub request: RouteRequest,
    pub reply: oneshot::Sender<Answer>,
}

pub struct Writer {
    /// The router's own connection; none while the store is unreachable.
    pub store: Option<Box<dyn Store>>,
    /// Where to reconnect.
    pub location: allot_store::Location,
    pub model: Option<Model>,
    pub match_keys: Vec<String>,
    pub max_batch: usize,
    pub metrics: crate::Metrics,
    /// Whether `store` works (for `/health`).
    pub up: std::sync::Arc<std::sync::atomic::AtomicBool>,
    /// When to try reconnecting next, and the wait after that (doubling to [`MAX_BACKOFF`]).
    pub retry_at: std::time::Instant,
    pub backoff: std::time::Duration,
    /// Set when SQLite's log has grown past its bound: the router checkpoints it between two
    /// batches so that it starts over (see `Store::checkpoint`).
    pub wal_full: std::sync::Arc<std::sync::atomic::AtomicBool>,
    /// Whether the latest routing transaction was refused by the store (for `/health`).
    pub writes_failing: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

/// The longest wait between two attempts to reopen a lost store connection.
pub const MAX_BACKOFF: std::time::Duration = std::time::Duration::from_secs(2);
const FIRST_BACKOFF: std::time::Duration = std::time::Duration::from_millis(50);

impl Writer {
    /// Runs until every sender is gone (the server shut down); answers everything it took.
    pub fn run(mut self, mut rx: mpsc::Receiver<Job>) {
        while let Some(first) = rx.blocking_recv() {
            let mut batch = vec![first];
            while batch.len() < self.max_batch {
                match rx.try_recv() {
                    Ok(j) => batch.push(j),
                    Err(_) => break,
                }
            }
            self.metrics.batch_size.observe(batch.len() as f64);
            let answers = self.batch(&batch);
            for (job, answer) in batch.into_iter().zip(answers) {
                // The client may have gone; the item is routed and recorded all the same.
                let _ = job.reply.send(answer);
            }
        }
    }

    /// The store connection, reopened if it was lost (at most once per backoff period, so a
    /// store that is down costs the waiting requests a quick 503, not a hang).
    fn connection(&mut self) -> Result<&mut Box<dyn Store>, ApiError> {
        if self.store.is_none() {
            if std::time::Instant::now() < self.retry_at {
                return Err(ApiError::unavailable("the store cannot be reached; retry shortly".into()));
            }
            match allot_store::open(&self.location).and_then(|mut s| s.defer_checkpoints().map(|()| s)) {
                Ok(s) => {
                    tracing::info!("the router reconnected to the store");
                    self.metrics.reconnects.inc();
                    self.store = Some(s);
                    self.backoff = FIRST_BACKOFF;
                    self.up.store(true, std::sync::atomic::Ordering::Relaxed);
                }
                Err(e) => {
                    self.retry_at = std::time::Instant::now() + self.backoff;
                    tracing::warn!(error = %e, retry_in_ms = self.backoff.as_millis() as u64, "the router cannot reach the store");
                    self.backoff = (self.backoff * 2).min(MAX_BACKOFF);
                    return Err(ApiError::store(e));
                }
            }
        }
        self.store.as_mut().ok_or_else(|| ApiError::unavailable("no store connection".into()))
    }

    /// Forgets a lost connection: the next batch reconnects.
    fn lost(&mut self, e: &ApiError) {
        if e.lost && self.store.take().is_some() {
            tracing::error!("the router lost its store connection; reconnecting");
            self.metrics.connections_lost.inc();
            self.up.store(false, std::sync::atomic::Ordering::Relaxed);
            self.retry_at = std::time::Instant::now();
            self.backoff = FIRST_BACKOFF;
        }
    }

    fn reload(&mut self) -> Result<(), ApiError> {
        let current = self.model.as_ref().map(|m| m.revision);
        let store = self.connection()?;
        let revision = store.routing_revision().map_err(ApiError::store)?;
        if current != Some(revision) {
            let m = Model::load(store.as_mut()).map_err(|e| match e {
                crate::model::LoadError::Store(e) => ApiError::store(e),
                crate::model::LoadError::Scheme(m) => ApiError::unavailable(format!("cannot route yet: {m}")),
            })?;
            tracing::info!(revision, version = m.version, "routing model loaded");
            self.model = Some(m);
        }
        Ok(())
    }

    fn batch(&mut self, jobs: &[Job]) -> Vec<Answer> {
        if self.wal_full.swap(false, std::sync::atomic::Ordering::Relaxed) {
            if let Some(s) = self.store.as_mut() {
                match s.checkpoint() {
                    Ok(frames) => tracing::debug!(frames, "the router checkpointed the log so that it starts over"),
                    Err(e) => tracing::warn!(error = %e, "checkpoint"),
                }
            }
        }
        if let Err(e) = self.reload() {
            self.lost(&e);
            return jobs.iter().map(|_| Err(e.clone())).collect();
        }
        match self.route(jobs) {
            Ok(answers) => answers,
            Err(e) if e.lost => {
                self.lost(&e);
                jobs.iter().map(|_| Err(e.clone())).collect()
            }
            Err(_) if jobs.len() > 1 => {
                // Isolation: one item the database refuses must not fail the others committed with
                // it. Each is routed again in a transaction of its own.
                self.metrics.batches_split.inc();
                tracing::warn!(items = jobs.len(), "the store refused a routing batch; routing its items one by one");
                jobs.chunks(1).flat_map(|one| self.batch(one)).collect()
            }
            Err(_) => vec![Err(ApiError::new(
                Code::Refused,
                "the store could not record this item (the reason is logged on the server); nothing of it was written",
                None,
            ))],
        }
    }

    /// Routes a batch in one transaction; an error means nothing of it was written.
    fn route(&mut self, jobs: &[Job]) -> Result<Vec<Answer>, ApiError> {
        let (Some(model), Some(store)) = (self.model.as_mut(), self.store.as_mut()) else {
            return Err(ApiError::unavailable("no routing model".into()));
        };
        let roles: Vec<String> = model.scheme.roles.iter().map(|r| r.id.clone()).collect();
        let mut answers: Vec<Option<allot_app::routing::BatchAnswer>> = vec![None; jobs.len()];
        let match_keys = self.match_keys.clone();
        let by = jobs.first().map_or_else(|| "router".to_string(), |j| j.request.by.clone());
        let actor = Actor { by, at: crate::now_utc() };
        let requests: Vec<&RouteRequest> = jobs.iter().map(|j| &j.request).collect();
        let result = store.route(&actor, &roles, &mut |tx: &mut dyn RouteTx| {
            answers.iter_mut().for_each(|a| *a = None);
            route_batch(model, &match_keys, &requests, tx, &mut answers)
        });
        match result {
            Ok(_) => {
                self.writes_failing.store(false, std::sync::atomic::Ordering::Relaxed);
                Ok(answers
                    .into_iter()
                    .map(|a| match a {
                        Some(Ok(done)) => Ok(done),
                        Some(Err(r)) => Err(refused(r)),
                        None => Err(ApiError::unavailable("not routed".into())),
                    })
                    .collect())
            }
            Err(e) => {
                // A refusal of a batch of one is the store's (read-only, full) unless the next succeeds.
                if !e.is_connection() && jobs.len() == 1 {
                    self.writes_failing.store(true, std::sync::atomic::Ordering::Relaxed);
                }
                tracing::error!(error = %e, items = jobs.len(), "a routing batch failed; nothing of it was written");
                Err(ApiError::store(e))
            }
        }
    }
}
