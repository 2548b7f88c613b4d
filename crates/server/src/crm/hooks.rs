//! A CRM's outgoing events (issue #18 §1): `POST /v1/hooks/bitrix24` takes the portal's event of
//! a new company (`ONCRMCOMPANYADD`, form-encoded as Bitrix24 sends them, its
//! `auth[application_token]` checked), reads the company, routes it as `POST /v1/route` does (the
//! same continuity by id, INN, e-mail domain and phone) and wakes the outbox's worker, which
//! writes the owners back to the portal. The event is keyed by the portal and the company: the
//! portal repeating it routes nothing again and writes nothing new.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{json, Map, Value};

use crate::error::{ApiError, Code};
use crate::writer::{Job, RouteRequest};
use crate::AppState;

/// The events that route a record; the others are taken and passed over (an update is what
/// allot's own write-back makes: routing it again would echo).
pub const ROUTED_EVENTS: &[&str] = &["ONCRMCOMPANYADD", "ONCRMLEADADD"];

/// Whether two secrets are equal, in time that does not depend on where they differ.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// `POST /v1/hooks/bitrix24`.
pub async fn bitrix24(State(state): State<Arc<AppState>>, body: Bytes) -> Response {
    match bitrix24_inner(&state, &body).await {
        Ok(answer) => (StatusCode::OK, [("content-type", "application/json")], answer.to_string()).into_response(),
        Err(e) => e.into_response(),
    }
}

async fn bitrix24_inner(state: &Arc<AppState>, body: &[u8]) -> Result<Value, ApiError> {
    let Some(crm) = state.bitrix24.as_ref() else {
        return Err(ApiError::new(
            Code::NotFound,
            "this server is not connected to a Bitrix24 portal (set ALLOT_BITRIX24_WEBHOOK and ALLOT_BITRIX24_APP_TOKEN for `allot serve`)",
            None,
        ));
    };
    let form: Vec<(String, String)> = form_urlencoded::parse(body).into_owned().collect();
    let get = |k: &str| form.iter().find(|(key, _)| key == k).map(|(_, v)| v.as_str());
    let Some(expected) = crm.app_token.as_deref() else {
        return Err(ApiError::new(
            Code::Forbidden,
            "the server has no application token to check the portal's events by (ALLOT_BITRIX24_APP_TOKEN)",
            Some("auth[application_token]"),
        ));
    };
    match get("auth[application_token]") {
        Some(t) if same(t, expected) => {}
        Some(_) => {
            return Err(ApiError::new(Code::Forbidden, "the application token is not this portal's", Some("auth[application_token]")))
        }
        None => {
            return Err(ApiError::new(
                Code::Unauthorized,
                "an event carries its portal's application token (auth[application_token])",
                Some("auth[application_token]"),
            ))
        }
    }
    let event = get("event").map(str::to_uppercase).ok_or_else(|| {
        ApiError::new(Code::MissingField, "`event` is required: the portal's event code, e.g. ONCRMCOMPANYADD", Some("event"))
    })?;
    let id = get("data[FIELDS][ID]").map(str::trim).unwrap_or_default().to_string();
    if id.is_empty() || !id.chars().all(|c| c.is_ascii_digit()) || id.len() > 18 {
        return Err(ApiError::new(Code::BadValue, "`data[FIELDS][ID]` must be the record's id (digits)", Some("data[FIELDS][ID]")));
    }
    if !ROUTED_EVENTS.contains(&event.as_str()) {
        return Ok(
            json!({"event": event, "id": id, "taken": false, "why": "allot routes new companies and leads (ONCRMCOMPANYADD, ONCRMLEADADD) only"}),
        );
    }
    let (map, columns) = map_and_columns(state, "bitrix24").await?;
    // The record as the portal has it now, its list fields named as a pull names them; a lead is
    // a client of its own, `lead-ID`.
    let lead = event == "ONCRMLEADADD";
    let (record, names) = {
        let mut portal = crm.portal.lock().await;
        let method = if lead { "crm.lead.get" } else { "crm.company.get" };
        let record = portal.call(method, &json!({"id": id})).await.map_err(|e| portal_error(&e))?;
        let names = crm.names(&mut portal, &map).await.map_err(|e| portal_error(&e))?;
        (record["result"].clone(), names)
    };
    let client = if lead { format!("lead-{id}") } else { id.clone() };
    let cells: Vec<String> = crate::crm::bitrix24::company_cells(&names, &map, &record).collect();
    let (answer, replayed) = route_record(state, &map, &columns, &format!("bitrix24:{}", crm.host), &client, cells).await?;
    Ok(json!({"event": event, "id": client, "taken": true, "replayed": replayed, "routed": answer}))
}

/// The active scheme's map for CRM `system` and the clients' columns, as the store has them now
/// (not as the router last loaded them: a scheme applied a moment ago counts).
async fn map_and_columns(
    state: &Arc<AppState>,
    system: &'static str,
) -> Result<(allot_io::scheme::CrmMap, Vec<(String, allot_rules::Type)>), ApiError> {
    let (map, columns) = state.read(move |st| Ok((crate::crm::active_map(st, system)?, st.columns(allot_store::Subject::Client)?))).await?;
    let map = map.map_err(|why| ApiError::unavailable(format!("cannot route: {why}")))?;
    let columns = columns.into_iter().filter_map(|c| allot_rules::Type::parse(&c.ty).map(|t| (c.name, t))).collect();
    Ok((map, columns))
}

/// Routes a CRM's new record `id` (its mapped fields' cells, in the map's order) as
/// `POST /v1/route` does — keyed by the CRM and the record, so that a repeated event replays the
/// first answer — and wakes the outbox's worker to write the owners back now: the answer and
/// whether it was a replay.
async fn route_record(
    state: &Arc<AppState>,
    map: &allot_io::scheme::CrmMap,
    columns: &[(String, allot_rules::Type)],
    by: &str,
    id: &str,
    cells: Vec<String>,
) -> Result<(Value, bool), ApiError> {
    let mut attrs = Map::new();
    for ((_, attribute), value) in map.clients.iter().zip(cells) {
        if value.is_empty() {
            continue;
        }
        attrs.insert(attribute.clone(), typed(columns, attribute, value));
    }
    let attrs = crate::api::check_attributes(state, &state.columns, attrs)?;
    let key = format!("{by}:record:{id}");
    let minute = allot_app::clock::minute();
    let request = RouteRequest {
        id: Some(id.to_string()),
        deal_of: None,
        attrs,
        idempotency_key: Some(key.clone()),
        hash: allot_app::tokens::sha256_hex(key.as_bytes()),
        date: minute.div_euclid(1440) as i32,
        minute: Some(minute),
        by: by.to_string(),
        router: true,
    };
    let (tx, rx) = tokio::sync::oneshot::channel();
    state.jobs.send(Job { request, reply: tx }).await.map_err(|_| ApiError::unavailable("the server is shutting down".into()))?;
    let (answer, replayed) = rx.await.map_err(|_| ApiError::unavailable("the router stopped".into()))??;
    // The owners go back to the CRM now, not at the worker's next look.
    state.outbox_wake.notify_one();
    Ok((serde_json::from_str(&answer).unwrap_or(Value::Null), replayed))
}

/// `POST /v1/hooks/amocrm/{key}`: amoCRM's webhook of new companies and leads (`companies[add]`,
/// `leads[add]`, form-encoded), its address holding the server's key (amoCRM signs nothing). Each
/// new record is read, routed once (a lead as client `lead-ID`) and its owner written back.
pub async fn amocrm(State(state): State<Arc<AppState>>, axum::extract::Path(key): axum::extract::Path<String>, body: Bytes) -> Response {
    match amocrm_inner(&state, &key, &body).await {
        Ok(answer) => (StatusCode::OK, [("content-type", "application/json")], answer.to_string()).into_response(),
        Err(e) => e.into_response(),
    }
}

async fn amocrm_inner(state: &Arc<AppState>, key: &str, body: &[u8]) -> Result<Value, ApiError> {
    let Some(amo) = state.amocrm.as_ref() else {
        return Err(ApiError::new(Code::NotFound, "this server is not connected to an amoCRM account (ALLOT_AMOCRM_URL)", None));
    };
    match amo.hook_key.as_deref() {
        Some(k) if same(k, key) => {}
        Some(_) => return Err(ApiError::new(Code::Forbidden, "the key in the address is not this server's", None)),
        None => {
            return Err(ApiError::new(Code::Forbidden, "the server has no key for amoCRM's webhooks (ALLOT_AMOCRM_HOOK_KEY)", None));
        }
    }
    let form: Vec<(String, String)> = form_urlencoded::parse(body).into_owned().collect();
    // `companies[add][0][id]`, `leads[add][1][id]`: the records added, in order.
    let mut added: Vec<(&str, String)> = Vec::new();
    for (k, v) in &form {
        for (entity, path) in [("companies", "companies[add]["), ("leads", "leads[add][")] {
            if k.starts_with(path) && k.ends_with("][id]") && v.chars().all(|c| c.is_ascii_digit()) && !v.is_empty() {
                added.push((entity, v.clone()));
            }
        }
    }
    if added.is_empty() {
        return Ok(json!({"taken": false, "why": "allot routes new companies and leads (companies[add], leads[add]) only"}));
    }
    let (map, columns) = map_and_columns(state, "amocrm").await?;
    let mut routed = Vec::new();
    for (entity, id) in added {
        let record = {
            let mut account = amo.account.lock().await;
            let got = account.request(reqwest::Method::GET, &format!("api/v4/{entity}/{id}"), &[], None).await;
            drop(account);
            amo.keep_tokens(state).await?;
            got.map_err(|e| portal_error(&e))?.unwrap_or(Value::Null)
        };
        let client = if entity == "leads" { format!("lead-{id}") } else { id.clone() };
        let cells = crate::crm::amocrm::company_cells(&map, &record);
        let (answer, replayed) = route_record(state, &map, &columns, &format!("amocrm:{}", amo.host), &client, cells).await?;
        routed.push(json!({"id": client, "replayed": replayed, "routed": answer}));
    }
    Ok(json!({"taken": true, "records": routed}))
}

/// A cell as the attribute's declared type reads it: a number, a yes/no, a list (`;`-joined); text.
fn typed(columns: &[(String, allot_rules::Type)], attribute: &str, value: String) -> Value {
    use allot_rules::Type as T;
    match columns.iter().find(|(c, _)| c == attribute).map(|c| c.1) {
        Some(T::Number) => match allot_io::tables::read_number(&value) {
            Ok(n) if n.fract() == 0.0 && n.abs() < 9e15 => Value::from(n as i64),
            Ok(n) => serde_json::Number::from_f64(n).map_or(Value::String(value), Value::Number),
            Err(_) => Value::String(value),
        },
        Some(T::List) => Value::Array(value.split(';').map(|s| Value::String(s.trim().to_string())).collect()),
        _ => Value::String(value),
    }
}

/// The portal's failure as the caller's answer: 503, with what the portal said (the portal sends
/// the event again, or `allot crm pull` reads the company).
fn portal_error(e: &crate::crm::bitrix24::CallError) -> ApiError {
    ApiError::unavailable(format!("the company could not be read: {e}"))
}
