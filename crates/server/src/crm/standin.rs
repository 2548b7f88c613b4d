//! A stand-in Bitrix24 portal (issue #18 §5), for the tests of this crate and of the binary: a
//! real HTTP server on loopback that answers the documented subset allot uses — methods on an
//! incoming webhook's address, list methods of 50 records a page with `next` and `total`, `batch`
//! of up to 50 calls given as query strings, and the rate limit (a leaky bucket;
//! `QUERY_LIMIT_EXCEEDED` with HTTP 503 past it) — written from the vendor's public REST
//! documentation (`bitrix-tools/b24-rest-docs`). Not part of allot's service.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde_json::{json, Value};

/// The portal's state: its companies, its bucket, and what it saw.
pub struct Stand {
    companies: Vec<Value>,
    /// The bucket: its level, when it was last drained, how much it holds, how fast it drains.
    level: f64,
    drained: Instant,
    capacity: f64,
    per_second: f64,
    /// When each request arrived; how many were refused for the limit.
    pub seen: Vec<Instant>,
    pub refused: u64,
}

pub const KEY: &str = "k3y-of-the-stand-in";

pub fn company(i: usize) -> Value {
    json!({
        "ID": (i + 1).to_string(),
        "TITLE": format!("ООО «Компания {}»", i + 1),
        "INDUSTRY": "IT",
        "ASSIGNED_BY_ID": "1",
        "UF_CRM_POTENTIAL": ((i + 1) * 1000).to_string(),
        "UF_CRM_SEGMENT": if i.is_multiple_of(2) { "11" } else { "12" },
        "PHONE": [{"ID": "7", "VALUE_TYPE": "WORK", "VALUE": format!("+7 900 000-{:02}-{:02}", i / 100 % 100, i % 100)}],
    })
}

/// One call of `method` with `params`, as the portal answers it: (status, body).
fn answer(stand: &Stand, method: &str, params: &Value) -> (StatusCode, Value) {
    match method {
        "crm.company.list" => {
            let start = params["start"].as_u64().or_else(|| params["start"].as_str().and_then(|s| s.parse().ok())).unwrap_or(0) as usize;
            let page: Vec<Value> = stand.companies.iter().skip(start).take(50).cloned().collect();
            let mut body = json!({"result": page, "total": stand.companies.len()});
            if start + 50 < stand.companies.len() {
                body["next"] = json!(start + 50);
            }
            (StatusCode::OK, body)
        }
        "crm.status.list" => {
            // The reference lists, by ENTITY_ID (the industries only here).
            let items: Vec<Value> = match params["filter"]["ENTITY_ID"].as_str() {
                Some("INDUSTRY") => [("IT", "Информационные технологии"), ("MANUFACTURING", "Производство")]
                    .iter()
                    .map(|(id, name)| json!({"ENTITY_ID": "INDUSTRY", "STATUS_ID": id, "NAME": name}))
                    .collect(),
                _ => vec![],
            };
            (StatusCode::OK, json!({"result": items, "total": items.len()}))
        }
        "crm.company.userfield.list" => {
            // One user field of a list: the companies' segment.
            let fields = vec![json!({
                "ENTITY_ID": "CRM_COMPANY",
                "FIELD_NAME": "UF_CRM_SEGMENT",
                "USER_TYPE_ID": "enumeration",
                "MULTIPLE": "N",
                "LIST": [{"ID": "11", "VALUE": "Ключевой"}, {"ID": "12", "VALUE": "Обычный"}],
            })];
            (StatusCode::OK, json!({"result": fields, "total": 1}))
        }
        "user.get" => {
            // Three employees, one of them dismissed (ACTIVE false, left out by the filter asked).
            let users = [
                ("1", "Анна", "Смирнова", "anna@example.ru", true),
                ("2", "Борис", "Кузнецов", "boris@example.ru", true),
                ("3", "Вера", "Ушла", "vera@example.ru", false),
            ];
            let active = params["FILTER"]["ACTIVE"].as_bool();
            let result: Vec<Value> = users
                .iter()
                .filter(|u| active.is_none_or(|a| a == u.4))
                .map(|u| json!({"ID": u.0, "NAME": u.1, "LAST_NAME": u.2, "EMAIL": u.3, "ACTIVE": u.4}))
                .collect();
            (StatusCode::OK, json!({"result": result, "total": result.len()}))
        }
        _ => (StatusCode::BAD_REQUEST, json!({"error": "ERROR_METHOD_NOT_FOUND", "error_description": "Method not found!"})),
    }
}

/// A query string of a call inside `batch` back to parameters (the stand-in reads `start` only).
fn params_of(query: &str) -> Value {
    let Ok(url) = reqwest::Url::parse(&format!("http://x/?{query}")) else { return json!({}) };
    let mut p = json!({});
    for (k, v) in url.query_pairs() {
        if k == "start" {
            p["start"] = json!(v.parse::<u64>().unwrap_or(0));
        }
    }
    p
}

async fn rest(
    State(stand): State<Arc<Mutex<Stand>>>,
    Path((user, key, method)): Path<(String, String, String)>,
    Json(params): Json<Value>,
) -> (StatusCode, Json<Value>) {
    let mut s = stand.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    s.seen.push(Instant::now());
    if user != "1" || key != KEY {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"error": "INVALID_CREDENTIALS", "error_description": "Invalid request credentials"})),
        );
    }
    // The leaky bucket: drained at its rate, one more per request; full, the request is refused.
    let drained = s.drained.elapsed().as_secs_f64() * s.per_second;
    s.level = (s.level - drained).max(0.0);
    s.drained = Instant::now();
    if s.level + 1.0 > s.capacity {
        s.refused += 1;
        return (StatusCode::SERVICE_UNAVAILABLE, Json(json!({"error": "QUERY_LIMIT_EXCEEDED", "error_description": "Too many requests"})));
    }
    s.level += 1.0;
    if method != "batch" {
        let (status, body) = answer(&s, &method, &params);
        return (status, Json(body));
    }
    let (mut result, mut errors, mut totals, mut nexts) = (json!({}), json!({}), json!({}), json!({}));
    for (name, call) in params["cmd"].as_object().cloned().unwrap_or_default().iter().take(50) {
        let call = call.as_str().unwrap_or_default();
        let (method, query) = call.split_once('?').unwrap_or((call, ""));
        let (status, body) = answer(&s, method, &params_of(query));
        if status.is_success() {
            result[name] = body["result"].clone();
            totals[name] = body["total"].clone();
            if let Some(n) = body.get("next") {
                nexts[name] = n.clone();
            }
        } else {
            errors[name] = body;
        }
    }
    let body = json!({"result": {"result": result, "result_error": errors, "result_total": totals, "result_next": nexts, "result_time": {}}, "time": {}});
    (StatusCode::OK, Json(body))
}

/// Starts a stand-in portal of `companies` companies whose bucket holds `capacity` requests and
/// drains `per_second`: its address (`http://…/rest/1/KEY/`) and its state.
pub async fn portal(companies: usize, capacity: f64, per_second: f64) -> (String, Arc<Mutex<Stand>>) {
    let stand = Arc::new(Mutex::new(Stand {
        companies: (0..companies).map(company).collect(),
        level: 0.0,
        drained: Instant::now(),
        capacity,
        per_second,
        seen: vec![],
        refused: 0,
    }));
    let app = axum::Router::new().route("/rest/{user}/{key}/{method}", axum::routing::post(rest)).with_state(stand.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("the stand-in portal listens on loopback");
    let addr: SocketAddr = listener.local_addr().expect("a bound listener has an address");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (format!("http://{addr}/rest/1/{KEY}/"), stand)
}
