//! The router thread: one owner of the routing state, one store connection, **group commit**.
//! Requests queue up while a batch commits; the next batch takes everything waiting (up to a
//! limit) and routes it in one transaction, in arrival order, then answers each. Every answer is
//! durable before it is sent, and a disk sync is shared by the whole batch.

use std::collections::{BTreeMap, HashMap};

use allot_core::data::{Data, Table};
use allot_core::route::{Batch, MemberState, PoolState};
use allot_core::Compiled;

use allot_store::{Actor, Cause, ClientRef, NewClient, NewDeal, Open, RouteTx, RouteWrites, Routed, Store, StoreError};
use serde_json::{json, Map, Value as J};
use tokio::sync::{mpsc, oneshot};

use crate::api::ApiError;
use crate::model::{push_json, Model};

/// A validated routing request.
#[derive(Debug, Clone)]
pub struct RouteRequest {
    pub id: Option<String>,
    /// For a deal: its client's id (the client must be stored).
    pub deal_of: Option<String>,
    /// Typed attributes, canonical JSON (numbers, texts, booleans, ISO dates, lists).
    pub attrs: Map<String, J>,
    pub idempotency_key: Option<String>,
    /// SHA-256 of the request body: a retried key must carry the same request.
    pub hash: String,
    pub date: i32,
    /// Minutes since 1970-01-01 UTC, when the time of day is known (working hours apply).
    pub minute: Option<i64>,
    pub by: String,
    /// Sent with a router token, which may route but not read a stored client's owners.
    pub router: bool,
}

/// An answer: the response body and whether it is a replay of an earlier one.
pub type Answer = Result<(String, bool), ApiError>;

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
                crate::api::Code::Refused,
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
        let mut answers: Vec<Option<Answer>> = vec![None; jobs.len()];
        let match_keys = self.match_keys.clone();
        let by = jobs.first().map_or_else(|| "router".to_string(), |j| j.request.by.clone());
        let actor = Actor { by, at: crate::now_utc() };
        let result = store.route(&actor, &roles, &mut |tx: &mut dyn RouteTx| {
            answers.iter_mut().for_each(|a| *a = None);
            route_batch(model, &match_keys, jobs, tx, &mut answers)
        });
        match result {
            Ok(_) => {
                self.writes_failing.store(false, std::sync::atomic::Ordering::Relaxed);
                Ok(answers.into_iter().map(|a| a.unwrap_or_else(|| Err(ApiError::unavailable("not routed".into())))).collect())
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

/// Builds one table of the batch's items so that the scheme's conditions compile once: a client
/// row per item (a lead's own attributes, or a deal's stored client), and a deal row per deal.
/// Returns the deal row of each item that is a deal.
fn batch_data(model: &Model, jobs: &[Job], deal_clients: &HashMap<usize, Map<String, J>>) -> (Data, Vec<Option<u32>>) {
    let mut data = Data::default();
    let mut table = Table::with_capacity(&model.columns, jobs.len());
    let mut deals = Table::new(&model.deal_columns);
    let mut deal_rows = vec![None; jobs.len()];
    for (i, job) in jobs.iter().enumerate() {
        let _ = table.begin_row(&format!("#{i}"));
        let client = deal_clients.get(&i).unwrap_or(&job.request.attrs);
        for (c, (name, ty)) in model.columns.iter().enumerate() {
            push_json(&mut table, c, *ty, client.get(name), &mut data);
        }
        if deal_clients.contains_key(&i) {
            if let Ok(d) = deals.begin_row(&format!("#{i}")) {
                for (c, (name, ty)) in model.deal_columns.iter().enumerate() {
                    push_json(&mut deals, c, *ty, job.request.attrs.get(name), &mut data);
                }
                data.deal_client.push(i as u32);
                deal_rows[i] = Some(d);
            }
        }
    }
    data.clients = table;
    data.deals = deals;
    (data, deal_rows)
}

/// A pool's state as stored (JSON): the sequence number and each member's counters.
#[derive(serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct PoolWire {
    seq: u64,
    members: BTreeMap<String, MemberWire>,
}

#[derive(serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct MemberWire {
    items: u64,
    received: f64,
    entitled: f64,
    last_seq: u64,
    owed: f64,
    day: i32,
    day_items: u32,
    week: i32,
    week_items: u32,
    month: i32,
    month_items: u32,
}

fn pool_json(p: &PoolState) -> String {
    let members = p
        .members
        .values()
        .map(|m| {
            let w = MemberWire {
                items: m.items,
                received: m.received,
                entitled: m.entitled,
                last_seq: m.last_seq,
                owed: m.owed,
                day: m.day,
                day_items: m.day_items,
                week: m.week,
                week_items: m.week_items,
                month: m.month,
                month_items: m.month_items,
            };
            (m.employee.clone(), w)
        })
        .collect();
    serde_json::to_string(&PoolWire { seq: p.seq, members }).unwrap_or_default()
}

/// A pool's stored state. Unreadable state is an error, never a silent reset of everyone's
/// fairness counters to zero (issue #15).
pub fn pool_from_json(text: &str) -> Result<PoolState, serde_json::Error> {
    let w: PoolWire = serde_json::from_str(text)?;
    let members = w
        .members
        .into_iter()
        .map(|(id, m)| {
            let state = MemberState {
                employee: id.clone(),
                items: m.items,
                received: m.received,
                entitled: m.entitled,
                last_seq: m.last_seq,
                owed: m.owed,
                day: m.day,
                day_items: m.day_items,
                week: m.week,
                week_items: m.week_items,
                month: m.month,
                month_items: m.month_items,
            };
            (id, state)
        })
        .collect();
    Ok(PoolState { seq: w.seq, members })
}

fn route_batch(
    model: &mut Model,
    match_keys: &[String],
    jobs: &[Job],
    tx: &mut dyn RouteTx,
    answers: &mut [Option<Answer>],
) -> Result<(), StoreError> {
    let mut pools = BTreeMap::new();
    for row in tx.pools()? {
        let p = pool_from_json(&row.state)
            .map_err(|e| allot_store::StoreError::Refused(format!("the stored state of pool `{}` is unreadable: {e}", row.rule)))?;
        pools.insert(row.rule, p);
    }
    let before = pools.clone();
    let change = tx.change();

    // Every read of the batch at once: stored answers, known clients by id and by key.
    let idem: Vec<String> = jobs.iter().filter_map(|j| j.request.idempotency_key.clone()).collect();
    let replays: HashMap<String, (String, String)> = tx.replays(&idem)?.into_iter().map(|r| (r.key, (r.hash, r.response))).collect();
    let ids: Vec<String> = jobs.iter().filter_map(|j| j.request.id.clone()).collect();
    let mut known: HashMap<(String, String), (i64, String)> =
        tx.find_clients("id", &ids)?.into_iter().map(|c| (("id".to_string(), c.value), (c.key, c.id))).collect();
    let item_keys: Vec<Vec<(String, String)>> = jobs.iter().map(|j| allot_app::book::client_keys(&j.request.attrs)).collect();
    for kind in match_keys.iter().filter(|k| *k != "id") {
        let values: Vec<String> = item_keys.iter().flatten().filter(|(k, _)| k == kind).map(|(_, v)| v.clone()).collect();
        for c in tx.find_clients(kind, &values)? {
            known.insert((kind.clone(), c.value), (c.key, c.id));
        }
    }

    // Deals: their clients must be stored; their attributes feed `client.x` conditions.
    let deal_client_ids: Vec<String> = jobs.iter().filter_map(|j| j.request.deal_of.clone()).collect();
    let deal_clients_found: HashMap<String, (i64, String)> =
        tx.find_clients("id", &deal_client_ids)?.into_iter().map(|c| (c.value, (c.key, c.id))).collect();
    let keys: Vec<i64> = deal_clients_found.values().map(|c| c.0).collect();
    let attrs_of: HashMap<i64, Map<String, J>> = tx
        .client_attrs(&keys)?
        .into_iter()
        .filter_map(|c| serde_json::from_str::<Map<String, J>>(&c.attrs).ok().map(|m| (c.key, m)))
        .collect();
    let mut deal_clients: HashMap<usize, Map<String, J>> = HashMap::new();
    for (i, j) in jobs.iter().enumerate() {
        if let Some((key, _)) = j.request.deal_of.as_ref().and_then(|c| deal_clients_found.get(c)) {
            deal_clients.insert(i, attrs_of.get(key).cloned().unwrap_or_default());
        }
    }
    let deal_ids: Vec<String> = jobs.iter().filter(|j| j.request.deal_of.is_some()).filter_map(|j| j.request.id.clone()).collect();
    let mut deals_taken: std::collections::HashSet<String> = tx.find_deals(&deal_ids)?.into_iter().collect();
    let (data, deal_rows) = batch_data(model, jobs, &deal_clients);
    let compiled = Compiled::new(&model.scheme, &data);
    // Matched once for the batch; availability follows each item's day.
    let batch = Batch::new(&model.scheme, &compiled, &data);

    let mut writes = RouteWrites::default();
    // Within the batch: keys already answered, and clients added (by id and by key).
    let mut answered: HashMap<String, (String, usize)> = HashMap::new();
    let mut added: HashMap<(String, String), usize> = HashMap::new();
    let mut added_roles: Vec<(String, Vec<J>)> = Vec::new();
    for (i, job) in jobs.iter().enumerate() {
        let r = &job.request;
        if let Some(key) = &r.idempotency_key {
            let earlier = replays.get(key).map(|(h, resp)| (h.clone(), resp.clone())).or_else(|| {
                answered.get(key).and_then(|(h, j)| match &answers[*j] {
                    Some(Ok((resp, _))) => Some((h.clone(), resp.clone())),
                    _ => None,
                })
            });
            if let Some((hash, response)) = earlier {
                answers[i] = Some(if hash == r.hash {
                    Ok((response, true))
                } else {
                    Err(ApiError::conflict(
                        crate::api::Code::IdempotencyConflict,
                        "this Idempotency-Key was used with a different request",
                        "Idempotency-Key",
                    ))
                });
                continue;
            }
        }
        model.on(r.date);
        let date = allot_rules::civil_from_days(r.date);
        if let Some(client) = &r.deal_of {
            answers[i] = Some(route_deal(
                model,
                &batch,
                tx,
                job,
                client,
                &deal_clients_found,
                deal_rows[i],
                &mut deals_taken,
                &mut pools,
                &mut writes,
                change,
                i,
            )?);
            if let (Some(key), Some(Ok(_))) = (&r.idempotency_key, &answers[i]) {
                answered.insert(key.clone(), (r.hash.clone(), i));
            }
            continue;
        }
        // Continuity: a known client (in the store, or added earlier in this batch) keeps its owners.
        let lookups: Vec<(String, String)> =
            r.id.iter()
                .map(|id| ("id".to_string(), id.clone()))
                .chain(match_keys.iter().filter(|k| *k != "id").filter_map(|kind| item_keys[i].iter().find(|(k, _)| k == kind).cloned()))
                .collect();
        let stored = lookups.iter().find_map(|l| known.get(l).map(|c| (c.clone(), l.0.clone())));
        let in_batch = if stored.is_none() { lookups.iter().find_map(|l| added.get(l).map(|&n| (n, l.0.clone()))) } else { None };
        let (client, client_id, roles, matched_by) = if let Some(((key, id), by)) = stored.clone().filter(|(_, by)| by == "id" && r.router)
        {
            // A router token names a stored client by its id: routed to its owners as any return,
            // but a router may not read who they are (issue #13: GET owners is 403 for it too).
            let roles = allot_core::route::routed_roles(&model.scheme)
                .into_iter()
                .map(|role| json!({"role": model.scheme.roles[role].id, "why": "a stored client (matched by id): it stays with its owners, whom a router token may not read"}))
                .collect::<Vec<J>>();
            (ClientRef::Stored(key), id, roles, Some(by))
        } else if let Some(((key, id), by)) = stored {
            let owners = tx.owners(key, r.date)?;
            let roles = allot_core::route::routed_roles(&model.scheme)
                .into_iter()
                .map(|role| {
                    let rid = &model.scheme.roles[role].id;
                    match owners.iter().find(|o| &o.role == rid) {
                        Some(allot_store::Holder { employee: emp, rule, .. }) => {
                            let e = model.employee_keys.iter().position(|k| k == emp).map_or("?", |i| model.scheme.employees[i].id.as_str());
                            json!({"role": rid, "employee": e, "rule": rule, "why": format!("an existing client (matched by {by}): its current owner")})
                        }
                        None => json!({"role": rid, "employee": null, "rule": null, "why": format!("an existing client (matched by {by}) with no employee in this role; the next plan assigns one")}),
                    }
                })
                .collect::<Vec<J>>();
            (ClientRef::Stored(key), id, roles, Some(by))
        } else if let Some((n, by)) = in_batch {
            let (id, earlier) = &added_roles[n];
            let roles = earlier
                .iter()
                .map(|x| {
                    let mut x = x.clone();
                    x["why"] = J::String(format!("an existing client (matched by {by}): its current owner"));
                    x
                })
                .collect();
            (ClientRef::New(n), id.clone(), roles, Some(by))
        } else {
            let id = r.id.clone().unwrap_or_else(|| format!("lead-{change}-{i}"));
            let choices = batch.route(&model.scheme, i as u32, r.date, r.minute, &mut pools);
            let n = writes.clients.len();
            let attrs: Map<String, J> = r.attrs.iter().filter(|(_, v)| !v.is_null()).map(|(k, v)| (k.clone(), v.clone())).collect();
            writes.clients.push(NewClient { id: id.clone(), attrs: J::Object(attrs).to_string(), keys: item_keys[i].clone() });
            added.insert(("id".to_string(), id.clone()), n);
            for k in &item_keys[i] {
                added.entry(k.clone()).or_insert(n);
            }
            let mut roles = Vec::with_capacity(choices.len());
            for c in &choices {
                let rid = &model.scheme.roles[c.role].id;
                let rule = c.rule.map(|x| model.scheme.rules[x].id.clone());
                if let Some(e) = c.employee {
                    let open = Open {
                        client: 0,
                        role: rid.clone(),
                        employee: model.employee_keys[e as usize],
                        from: r.date,
                        to: None,
                        cause: Cause::New,
                        rule: rule.clone(),
                        scheme: Some(model.version),
                        note: c.why.clone(),
                        absence: None,
                    };
                    writes.links.push((ClientRef::New(n), open));
                }
                let employee = c.employee.map(|e| model.scheme.employees[e as usize].id.clone());
                roles.push(json!({"role": rid, "employee": employee, "rule": rule, "why": c.why}));
            }
            added_roles.push((id.clone(), roles.clone()));
            (ClientRef::New(n), id, roles, None)
        };
        let body = json!({
            "client": client_id,
            "new_client": matched_by.is_none(),
            "matched_by": matched_by,
            "date": date,
            "scheme_version": model.version,
            "roles": roles,
            "unused_attributes": unused_attributes(&model.columns, &r.attrs),
        })
        .to_string();
        writes.routed.push(Routed { key: r.idempotency_key.clone(), hash: r.hash.clone(), client, response: body.clone() });
        if let Some(key) = &r.idempotency_key {
            answered.insert(key.clone(), (r.hash.clone(), i));
        }
        answers[i] = Some(Ok((body, false)));
    }
    tx.write(&writes)?;
    for (rule, state) in &pools {
        if before.get(rule) != Some(state) {
            tx.save_pool(rule, &pool_json(state))?;
        }
    }
    Ok(())
}

/// The attributes of a routed item that no column declares: stored with it, read by no rule, and
/// named in the answer so that an integration sees a misspelt field at once (issue #14).
fn unused_attributes(columns: &[(String, allot_rules::Type)], attrs: &Map<String, J>) -> Vec<String> {
    attrs
        .keys()
        .filter(|k| !columns.iter().any(|c| &c.0 == *k) && !["inn", "email", "phone", "name"].contains(&k.as_str()))
        .cloned()
        .collect()
}

/// Routes one deal: deal rules first, its client's owners for the other roles (S4.4).
#[allow(clippy::too_many_arguments)]
fn route_deal(
    model: &Model,
    batch: &Batch<'_>,
    tx: &mut dyn RouteTx,
    job: &Job,
    client: &str,
    found: &HashMap<String, (i64, String)>,
    deal_row: Option<u32>,
    taken: &mut std::collections::HashSet<String>,
    pools: &mut BTreeMap<String, PoolState>,
    writes: &mut RouteWrites,
    change: i64,
    i: usize,
) -> Result<Answer, StoreError> {
    let r = &job.request;
    let (Some((key, client_id)), Some(d)) = (found.get(client), deal_row) else {
        return Ok(Err(ApiError::new(
            crate::api::Code::UnknownClient,
            format!("no client `{client}` in the store: a deal needs its client"),
            Some("client"),
        )));
    };
    let id = r.id.clone().unwrap_or_else(|| format!("deal-{change}-{i}"));
    if !taken.insert(id.clone()) {
        return Ok(Err(ApiError::new(crate::api::Code::DuplicateId, format!("a deal `{id}` is stored already"), Some("id"))));
    }
    let owners = tx.owners(*key, r.date)?;
    let via = |role: allot_core::model::RoleIx| {
        let rid = &model.scheme.roles[role].id;
        owners.iter().find(|o| &o.role == rid).and_then(|o| {
            let e = model.employee_keys.iter().position(|k| *k == o.employee)? as u32;
            Some((e, o.rule.as_ref().map_or_else(|| "held".to_string(), |x| format!("rule `{x}`"))))
        })
    };
    let choices = batch.route_deal(&model.scheme, d, r.date, r.minute, &via, pools);
    let attrs: Map<String, J> = r.attrs.iter().filter(|(_, v)| !v.is_null()).map(|(k, v)| (k.clone(), v.clone())).collect();
    writes.deals.push(NewDeal { id: id.clone(), client: *key, attrs: J::Object(attrs).to_string() });
    let roles: Vec<J> = choices
        .iter()
        .map(|c| {
            let employee = c.employee.map(|e| model.scheme.employees[e as usize].id.clone());
            json!({"role": model.scheme.roles[c.role].id, "employee": employee, "rule": c.rule.map(|x| model.scheme.rules[x].id.clone()), "why": c.why})
        })
        .collect();
    let body = json!({
        "deal": id,
        "client": client_id,
        "date": allot_rules::civil_from_days(r.date),
        "scheme_version": model.version,
        "roles": roles,
        "unused_attributes": unused_attributes(&model.deal_columns, &r.attrs),
    })
    .to_string();
    writes.routed.push(Routed {
        key: r.idempotency_key.clone(),
        hash: r.hash.clone(),
        client: ClientRef::Stored(*key),
        response: body.clone(),
    });
    Ok(Ok((body, false)))
}

#[cfg(test)]
mod tests {
    use super::{pool_from_json, pool_json};

    #[test]
    fn a_pool_state_reads_back_exactly_and_garbage_is_an_error_not_zeros() {
        let text = r#"{"seq":7,"members":{"anna":{"items":3,"received":3.5,"entitled":3.0,"last_seq":7,"owed":0.25,"day":20514,"day_items":2,"week":2930,"week_items":3,"month":674,"month_items":3}}}"#;
        let p = pool_from_json(text).unwrap_or_default();
        assert_eq!((p.seq, p.members["anna"].items, p.members["anna"].owed), (7, 3, 0.25));
        assert_eq!(pool_json(&p), text, "written back byte for byte");
        for bad in ["", "null", "{\"seq\": -1, \"members\": {}}", "{\"seq\": 1}", "{\"seq\": 1, \"members\": {\"a\": {\"items\": \"x\"}}}"]
        {
            assert!(pool_from_json(bad).is_err(), "{bad}");
        }
    }
}
