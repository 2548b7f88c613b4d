//! One batch of real-time routing, decided inside the store's transaction: the use case behind
//! `POST /v1/route`. The server keeps HTTP, the queue and group commit (its router thread calls
//! [`route_batch`] inside `Store::route`); every decision is made here and in `allot-core::route`.

use std::collections::{BTreeMap, HashMap};

use allot_core::data::{Data, Table};
use allot_core::route::{Batch, MemberState, PoolState};
use allot_core::Compiled;
use allot_store::{Cause, ClientKey, ClientRef, NewClient, NewDeal, Open, RouteTx, RouteWrites, Routed, StoreError};
use serde_json::{json, Map, Value as J};

use super::{push_json, Model};

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

/// Why a routed item was not routed: the request's fault, answered with a 4xx by a front end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The Idempotency-Key was used with another request.
    IdempotencyConflict,
    /// A deal names a client the store does not have.
    UnknownClient(String),
    /// A deal with this id is stored already (or came twice in the batch).
    DuplicateId(String),
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::IdempotencyConflict => f.write_str("this Idempotency-Key was used with a different request"),
            Refusal::UnknownClient(c) => write!(f, "no client `{c}` in the store: a deal needs its client"),
            Refusal::DuplicateId(id) => write!(f, "a deal `{id}` is stored already"),
        }
    }
}

/// An answer: the response body and whether it is a replay of an earlier one.
pub type Answer = Result<(String, bool), Refusal>;

/// Builds one table of the batch's items so that the scheme's conditions compile once: a client
/// row per item (a lead's own attributes, or a deal's stored client), and a deal row per deal.
/// Returns the deal row of each item that is a deal.
fn batch_data(model: &Model, jobs: &[&RouteRequest], deal_clients: &HashMap<usize, Map<String, J>>) -> (Data, Vec<Option<u32>>) {
    let mut data = Data::default();
    let mut table = Table::with_capacity(&model.columns, jobs.len());
    let mut deals = Table::new(&model.deal_columns);
    let mut deal_rows = vec![None; jobs.len()];
    for (i, job) in jobs.iter().enumerate() {
        let _ = table.begin_row(&format!("#{i}"));
        let client = deal_clients.get(&i).unwrap_or(&job.attrs);
        for (c, (name, ty)) in model.columns.iter().enumerate() {
            push_json(&mut table, c, *ty, client.get(name), &mut data);
        }
        if deal_clients.contains_key(&i) {
            if let Ok(d) = deals.begin_row(&format!("#{i}")) {
                for (c, (name, ty)) in model.deal_columns.iter().enumerate() {
                    push_json(&mut deals, c, *ty, job.attrs.get(name), &mut data);
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

pub fn pool_json(p: &PoolState) -> String {
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

/// Routes a batch of requests inside one transaction of the store: every read at once (stored
/// answers of idempotency keys, known clients by id and by key, deals' clients, pools), each item
/// routed in order (replays, continuity, deals by deal rules, new leads by the scheme's pools),
/// every write at once. `answers[i]` is the answer to `jobs[i]`; an error means nothing of the
/// batch may be kept (the caller's transaction rolls back).
pub fn route_batch(
    model: &mut Model,
    match_keys: &[String],
    jobs: &[&RouteRequest],
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

    let Reads { replays, known, item_keys, deal_clients_found, deal_clients, mut deals_taken } = Reads::of(tx, jobs, match_keys)?;
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
        let r: &RouteRequest = job;
        if let Some(key) = &r.idempotency_key {
            let earlier = replays.get(key).map(|(h, resp)| (h.clone(), resp.clone())).or_else(|| {
                answered.get(key).and_then(|(h, j)| match &answers[*j] {
                    Some(Ok((resp, _))) => Some((h.clone(), resp.clone())),
                    _ => None,
                })
            });
            if let Some((hash, response)) = earlier {
                answers[i] = Some(if hash == r.hash { Ok((response, true)) } else { Err(Refusal::IdempotencyConflict) });
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
            (ClientRef::Stored(key), id, router_roles(model), Some(by))
        } else if let Some(((key, id), by)) = stored {
            let owners = tx.owners(key, allot_store::Day(r.date))?;
            (ClientRef::Stored(key), id, owners_roles(model, &owners, &by), Some(by))
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
            let lead = Lead { request: r, item: i, change, keys: &item_keys[i] };
            let (n, id, roles) = new_lead(model, &batch, &lead, &mut pools, &mut writes, &mut added, &mut added_roles);
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

/// Everything a batch reads before routing: stored answers of idempotency keys, known clients by
/// id and by key, deals' clients with their attributes, deal ids already stored.
struct Reads {
    replays: HashMap<String, (String, String)>,
    known: HashMap<(String, String), (ClientKey, String)>,
    item_keys: Vec<Vec<(String, String)>>,
    deal_clients_found: HashMap<String, (ClientKey, String)>,
    deal_clients: HashMap<usize, Map<String, J>>,
    deals_taken: std::collections::HashSet<String>,
}

impl Reads {
    fn of(tx: &mut dyn RouteTx, jobs: &[&RouteRequest], match_keys: &[String]) -> Result<Reads, StoreError> {
        // Every read of the batch at once: stored answers, known clients by id and by key.
        let idem: Vec<String> = jobs.iter().filter_map(|j| j.idempotency_key.clone()).collect();
        let replays: HashMap<String, (String, String)> = tx.replays(&idem)?.into_iter().map(|r| (r.key, (r.hash, r.response))).collect();
        let ids: Vec<String> = jobs.iter().filter_map(|j| j.id.clone()).collect();
        let mut known: HashMap<(String, String), (ClientKey, String)> =
            tx.find_clients("id", &ids)?.into_iter().map(|c| (("id".to_string(), c.value), (c.key, c.id))).collect();
        let item_keys: Vec<Vec<(String, String)>> = jobs.iter().map(|j| crate::stored::client_keys(&j.attrs)).collect();
        for kind in match_keys.iter().filter(|k| *k != "id") {
            let values: Vec<String> = item_keys.iter().flatten().filter(|(k, _)| k == kind).map(|(_, v)| v.clone()).collect();
            for c in tx.find_clients(kind, &values)? {
                known.insert((kind.clone(), c.value), (c.key, c.id));
            }
        }

        // Deals: their clients must be stored; their attributes feed `client.x` conditions.
        let deal_client_ids: Vec<String> = jobs.iter().filter_map(|j| j.deal_of.clone()).collect();
        let deal_clients_found: HashMap<String, (ClientKey, String)> =
            tx.find_clients("id", &deal_client_ids)?.into_iter().map(|c| (c.value, (c.key, c.id))).collect();
        let keys: Vec<ClientKey> = deal_clients_found.values().map(|c| c.0).collect();
        let attrs_of: HashMap<ClientKey, Map<String, J>> = tx
            .client_attrs(&keys)?
            .into_iter()
            .filter_map(|c| serde_json::from_str::<Map<String, J>>(&c.attrs).ok().map(|m| (c.key, m)))
            .collect();
        let mut deal_clients: HashMap<usize, Map<String, J>> = HashMap::new();
        for (i, j) in jobs.iter().enumerate() {
            if let Some((key, _)) = j.deal_of.as_ref().and_then(|c| deal_clients_found.get(c)) {
                deal_clients.insert(i, attrs_of.get(key).cloned().unwrap_or_default());
            }
        }
        let deal_ids: Vec<String> = jobs.iter().filter(|j| j.deal_of.is_some()).filter_map(|j| j.id.clone()).collect();
        let deals_taken: std::collections::HashSet<String> = tx.find_deals(&deal_ids)?.into_iter().collect();
        Ok(Reads { replays, known, item_keys, deal_clients_found, deal_clients, deals_taken })
    }
}

/// A stored client named by a router token: routed to its owners, whom a router may not read.
fn router_roles(model: &Model) -> Vec<J> {
    allot_core::route::routed_roles(&model.scheme)
        .into_iter()
        .map(|role| json!({"role": model.scheme.roles[role].id, "why": "a stored client (matched by id): it stays with its owners, whom a router token may not read"}))
        .collect()
}

/// A stored client's owners per routed role (continuity).
fn owners_roles(model: &Model, owners: &[allot_store::Holder], by: &str) -> Vec<J> {
    allot_core::route::routed_roles(&model.scheme)
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
        .collect()
}

/// One new lead of the batch.
struct Lead<'r> {
    request: &'r RouteRequest,
    item: usize,
    change: i64,
    keys: &'r [(String, String)],
}

/// Routes a new lead by the scheme's rules and pools: its client and links join the batch's
/// writes; returns its index among the added clients, its id and its roles.
fn new_lead(
    model: &Model,
    batch: &Batch,
    lead: &Lead<'_>,
    pools: &mut BTreeMap<String, PoolState>,
    writes: &mut RouteWrites,
    added: &mut HashMap<(String, String), usize>,
    added_roles: &mut Vec<(String, Vec<J>)>,
) -> (usize, String, Vec<J>) {
    let (r, i, change) = (lead.request, lead.item, lead.change);
    let id = r.id.clone().unwrap_or_else(|| format!("lead-{change}-{i}"));
    let choices = batch.route(&model.scheme, i as u32, r.date, r.minute, pools);
    let n = writes.clients.len();
    let attrs: Map<String, J> = r.attrs.iter().filter(|(_, v)| !v.is_null()).map(|(k, v)| (k.clone(), v.clone())).collect();
    writes.clients.push(NewClient { id: id.clone(), attrs: J::Object(attrs).to_string(), keys: lead.keys.to_vec() });
    added.insert(("id".to_string(), id.clone()), n);
    for k in lead.keys {
        added.entry(k.clone()).or_insert(n);
    }
    let mut roles = Vec::with_capacity(choices.len());
    for c in &choices {
        let rid = &model.scheme.roles[c.role].id;
        let rule = c.rule.map(|x| model.scheme.rules[x].id.clone());
        if let Some(e) = c.employee {
            let open = Open {
                client: ClientKey(0),
                role: rid.clone(),
                employee: model.employee_keys[e as usize],
                from: allot_store::Day(r.date),
                to: None,
                cause: Cause::New,
                rule: rule.clone(),
                scheme: Some(model.version),
                note: allot_i18n::kept::encode(&c.why),
                absence: None,
            };
            writes.links.push((ClientRef::New(n), open));
        }
        let employee = c.employee.map(|e| model.scheme.employees[e as usize].id.clone());
        roles.push(json!({"role": rid, "employee": employee, "rule": rule, "why": c.said(allot_i18n::Lang::En)}));
    }
    added_roles.push((id.clone(), roles.clone()));
    (n, id, roles)
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
    r: &RouteRequest,
    client: &str,
    found: &HashMap<String, (ClientKey, String)>,
    deal_row: Option<u32>,
    taken: &mut std::collections::HashSet<String>,
    pools: &mut BTreeMap<String, PoolState>,
    writes: &mut RouteWrites,
    change: i64,
    i: usize,
) -> Result<Answer, StoreError> {
    let (Some((key, client_id)), Some(d)) = (found.get(client), deal_row) else {
        return Ok(Err(Refusal::UnknownClient(client.to_string())));
    };
    let id = r.id.clone().unwrap_or_else(|| format!("deal-{change}-{i}"));
    if !taken.insert(id.clone()) {
        return Ok(Err(Refusal::DuplicateId(id)));
    }
    let owners = tx.owners(*key, allot_store::Day(r.date))?;
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
            json!({"role": model.scheme.roles[c.role].id, "employee": employee, "rule": c.rule.map(|x| model.scheme.rules[x].id.clone()), "why": c.said(allot_i18n::Lang::En)})
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
