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
pub const ROUTED_EVENTS: &[&str] = &["ONCRMCOMPANYADD"];

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
        return Ok(json!({"event": event, "id": id, "taken": false, "why": "allot routes new companies (ONCRMCOMPANYADD) only"}));
    }
    // The map and the clients' columns as the store has them now (not as the router last loaded
    // them: a scheme applied a moment ago counts).
    let (map, columns) = state.read(|st| Ok((crate::crm::bitrix24::active_map(st)?, st.columns(allot_store::Subject::Client)?))).await?;
    let map = map.map_err(|why| ApiError::unavailable(format!("cannot route: {why}")))?;
    let columns: Vec<(String, allot_rules::Type)> =
        columns.into_iter().filter_map(|c| allot_rules::Type::parse(&c.ty).map(|t| (c.name, t))).collect();
    // The company as the portal has it now, its list fields named as a pull names them.
    let (company, names) = {
        let mut portal = crm.portal.lock().await;
        let company = portal.call("crm.company.get", &json!({"id": id})).await.map_err(|e| portal_error(&e))?;
        let names = crm.names(&mut portal, &map).await.map_err(|e| portal_error(&e))?;
        (company["result"].clone(), names)
    };
    let mut attrs = Map::new();
    for ((_, attribute), value) in map.clients.iter().zip(crate::crm::bitrix24::company_cells(&names, &map, &company)) {
        if value.is_empty() {
            continue;
        }
        attrs.insert(attribute.clone(), typed(&columns, attribute, value));
    }
    let attrs = crate::api::check_attributes(state, &state.columns, attrs)?;
    let key = format!("bitrix24:{}:company:{id}", crm.host);
    let minute = allot_app::clock::minute();
    let request = RouteRequest {
        id: Some(id.clone()),
        deal_of: None,
        attrs,
        idempotency_key: Some(key.clone()),
        hash: allot_app::tokens::sha256_hex(key.as_bytes()),
        date: minute.div_euclid(1440) as i32,
        minute: Some(minute),
        by: format!("bitrix24:{}", crm.host),
        router: true,
    };
    let (tx, rx) = tokio::sync::oneshot::channel();
    state.jobs.send(Job { request, reply: tx }).await.map_err(|_| ApiError::unavailable("the server is shutting down".into()))?;
    let (answer, replayed) = rx.await.map_err(|_| ApiError::unavailable("the router stopped".into()))??;
    // The owners go back to the portal now, not at the worker's next look.
    state.outbox_wake.notify_one();
    let answer: Value = serde_json::from_str(&answer).unwrap_or(Value::Null);
    Ok(json!({"event": event, "id": id, "taken": true, "replayed": replayed, "routed": answer}))
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
