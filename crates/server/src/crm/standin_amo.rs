//! A stand-in amoCRM account (issue #18 §5), for the tests of this crate and of the binary: a
//! real HTTP server on loopback answering the subset of API v4 allot uses, as the vendor's public
//! documentation and clients describe it — users and companies (and leads) listed 250 a page with
//! `_links.next` (204 when none), one company or lead by id, `PATCH` of many, OAuth 2's token
//! endpoint (an authorization code or a refresh token for a new pair; a refresh voids the old
//! refresh token), bearer tokens that run out (401), and 7 requests a second (429 past it).
//! Not part of allot's service.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

/// The integration's client in the stand-in.
pub const CLIENT_ID: &str = "standin-client-id";
pub const CLIENT_SECRET: &str = "standin-client-secret";
pub const REDIRECT_URI: &str = "https://allot.example.ru/amocrm";
/// The authorization code the account's settings show.
pub const CODE: &str = "def50200-standin-code";

pub struct Amo {
    pub companies: Vec<Value>,
    pub leads: Vec<Value>,
    /// The access token that works now, and the refresh token that does.
    pub access: String,
    pub refresh: String,
    /// Token pairs given so far.
    pub issued: u64,
    level: f64,
    drained: Instant,
    capacity: f64,
    per_second: f64,
    pub refused: u64,
    pub seen: Vec<Instant>,
    /// Every record written (`PATCH`), in order: (entity, id, responsible user).
    pub updates: Vec<(String, u64, u64)>,
}

impl Amo {
    /// Voids the access token (it ran out): the next request is refused with 401.
    pub fn expire_access(&mut self) {
        self.access = format!("expired-{}", self.issued);
    }

    fn issue(&mut self) -> Value {
        self.issued += 1;
        self.access = format!("access-{}", self.issued);
        self.refresh = format!("refresh-{}", self.issued);
        json!({"token_type": "Bearer", "expires_in": 86400, "access_token": self.access, "refresh_token": self.refresh})
    }

    /// Adds a company (as a person would in the account): its id.
    pub fn add_company(&mut self, name: &str, potential: u64) -> u64 {
        let id = self.companies.len() as u64 + 1;
        self.companies.push(company(id, name, potential));
        id
    }
}

fn company(id: u64, name: &str, potential: u64) -> Value {
    json!({
        "id": id,
        "name": name,
        "responsible_user_id": 100,
        "updated_at": 1_760_000_000,
        "custom_fields_values": [
            {"field_id": 512345, "field_name": "Потенциал", "field_code": null, "field_type": "numeric", "values": [{"value": potential.to_string()}]},
            {"field_id": 11, "field_name": "Телефон", "field_code": "PHONE", "field_type": "multitext", "values": [{"value": format!("+7 900 {id:07}"), "enum_code": "WORK"}]}
        ]
    })
}

type Shared = Arc<Mutex<Amo>>;

fn lock(a: &Shared) -> std::sync::MutexGuard<'_, Amo> {
    a.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The bucket and the token of one API request: `Err` with the answer when refused.
fn admit(a: &mut Amo, headers: &HeaderMap) -> Result<(), Response> {
    a.seen.push(Instant::now());
    let drained = a.drained.elapsed().as_secs_f64() * a.per_second;
    a.level = (a.level - drained).max(0.0);
    a.drained = Instant::now();
    if a.level + 1.0 > a.capacity {
        a.refused += 1;
        return Err((StatusCode::TOO_MANY_REQUESTS, Json(json!({"title": "Too Many Requests", "status": 429}))).into_response());
    }
    a.level += 1.0;
    let bearer = headers.get("authorization").and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer ")).unwrap_or_default();
    if bearer != a.access {
        return Err(
            (StatusCode::UNAUTHORIZED, Json(json!({"title": "Unauthorized", "status": 401, "detail": "Token expired"}))).into_response()
        );
    }
    Ok(())
}

fn page_of(records: &[Value], key: &str, q: &HashMap<String, String>, path: &str) -> Response {
    let page: usize = q.get("page").and_then(|p| p.parse().ok()).unwrap_or(1).max(1);
    let limit: usize = q.get("limit").and_then(|p| p.parse().ok()).unwrap_or(50).clamp(1, 250);
    let from: Option<i64> = q.get("filter[updated_at][from]").and_then(|p| p.parse().ok());
    let found: Vec<&Value> = records.iter().filter(|r| from.is_none_or(|f| r["updated_at"].as_i64().unwrap_or(0) >= f)).collect();
    let chunk: Vec<Value> = found.iter().skip((page - 1) * limit).take(limit).map(|r| (*r).clone()).collect();
    if chunk.is_empty() {
        return StatusCode::NO_CONTENT.into_response();
    }
    let mut links = json!({"self": {"href": format!("/{path}?page={page}")}});
    if page * limit < found.len() {
        links["next"] = json!({"href": format!("/{path}?page={}", page + 1)});
    }
    Json(json!({"_page": page, "_links": links, "_embedded": {key: chunk}})).into_response()
}

async fn users(State(a): State<Shared>, headers: HeaderMap, Query(q): Query<HashMap<String, String>>) -> Response {
    let mut a = lock(&a);
    if let Err(r) = admit(&mut a, &headers) {
        return r;
    }
    let users = vec![
        json!({"id": 100, "name": "Анна Смирнова", "email": "anna@example.ru", "rights": {"is_active": true}}),
        json!({"id": 200, "name": "Борис Кузнецов", "email": "boris@example.ru", "rights": {"is_active": true}}),
        json!({"id": 300, "name": "Вера Ушла", "email": "vera@example.ru", "rights": {"is_active": false}}),
    ];
    page_of(&users, "users", &q, "api/v4/users")
}

async fn list(
    State(a): State<Shared>,
    Path(entity): Path<String>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let mut a = lock(&a);
    if let Err(r) = admit(&mut a, &headers) {
        return r;
    }
    match entity.as_str() {
        "companies" => page_of(&a.companies, "companies", &q, "api/v4/companies"),
        "leads" => page_of(&a.leads, "leads", &q, "api/v4/leads"),
        _ => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn one(State(a): State<Shared>, Path((entity, id)): Path<(String, u64)>, headers: HeaderMap) -> Response {
    let mut a = lock(&a);
    if let Err(r) = admit(&mut a, &headers) {
        return r;
    }
    let records = if entity == "leads" { &a.leads } else { &a.companies };
    match records.iter().find(|r| r["id"].as_u64() == Some(id)) {
        Some(r) => Json(r.clone()).into_response(),
        None => StatusCode::NO_CONTENT.into_response(),
    }
}

async fn patch(State(a): State<Shared>, Path(entity): Path<String>, headers: HeaderMap, Json(body): Json<Value>) -> Response {
    let mut a = lock(&a);
    if let Err(r) = admit(&mut a, &headers) {
        return r;
    }
    let Some(items) = body.as_array() else {
        return (StatusCode::BAD_REQUEST, Json(json!({"title": "Bad Request", "detail": "an array of records is expected"})))
            .into_response();
    };
    let mut done = Vec::new();
    for item in items {
        let (Some(id), Some(user)) = (item["id"].as_u64(), item["responsible_user_id"].as_u64()) else {
            return (StatusCode::BAD_REQUEST, Json(json!({"title": "Bad Request", "detail": "id and responsible_user_id"})))
                .into_response();
        };
        let records = if entity == "leads" { &mut a.leads } else { &mut a.companies };
        if let Some(r) = records.iter_mut().find(|r| r["id"].as_u64() == Some(id)) {
            r["responsible_user_id"] = json!(user);
            r["updated_at"] = json!(allot_app::clock::now_seconds());
        }
        a.updates.push((entity.clone(), id, user));
        done.push(json!({"id": id}));
    }
    Json(json!({"_embedded": {entity: done}})).into_response()
}

async fn token(State(a): State<Shared>, Json(body): Json<Value>) -> Response {
    let mut a = lock(&a);
    let client_ok = body["client_id"] == CLIENT_ID && body["client_secret"] == CLIENT_SECRET && body["redirect_uri"] == REDIRECT_URI;
    let grant_ok = match body["grant_type"].as_str() {
        Some("authorization_code") => body["code"] == CODE,
        Some("refresh_token") => body["refresh_token"].as_str() == Some(a.refresh.as_str()),
        _ => false,
    };
    if !client_ok || !grant_ok {
        return (StatusCode::BAD_REQUEST, Json(json!({"title": "Bad Request", "status": 400, "hint": "Token has been revoked"})))
            .into_response();
    }
    Json(a.issue()).into_response()
}

/// Starts a stand-in account of `companies` companies taking `per_second` requests a second:
/// its address (`http://127.0.0.1:PORT`) and its state. No token works until one is issued.
pub async fn account(companies: usize, per_second: f64) -> (String, Arc<Mutex<Amo>>) {
    let amo = Arc::new(Mutex::new(Amo {
        companies: (1..=companies as u64).map(|i| company(i, &format!("ООО «Компания {i}»"), i * 1000)).collect(),
        leads: vec![],
        access: "none-issued".into(),
        refresh: "none-issued".into(),
        issued: 0,
        level: 0.0,
        drained: Instant::now(),
        capacity: per_second,
        per_second,
        refused: 0,
        seen: vec![],
        updates: vec![],
    }));
    let app = axum::Router::new()
        .route("/api/v4/users", axum::routing::get(users))
        .route("/api/v4/{entity}", axum::routing::get(list).patch(patch))
        .route("/api/v4/{entity}/{id}", axum::routing::get(one))
        .route("/oauth2/access_token", axum::routing::post(token))
        .with_state(amo.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("the stand-in account listens on loopback");
    let addr: SocketAddr = listener.local_addr().expect("a bound listener has an address");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (format!("http://{addr}"), amo)
}

/// Posts amoCRM's webhook of added records (`companies[add]` or `leads[add]`) to `hook`,
/// form-encoded as amoCRM sends it: the answer's status and body.
pub async fn fire(hook: &str, entity: &str, ids: &[u64]) -> (u16, String) {
    let mut form = form_urlencoded::Serializer::new(String::new());
    for (i, id) in ids.iter().enumerate() {
        form.append_pair(&format!("{entity}[add][{i}][id]"), &id.to_string());
        form.append_pair(&format!("{entity}[add][{i}][name]"), "новая запись");
    }
    form.append_pair("account[subdomain]", "standin");
    form.append_pair("account[id]", "29000000");
    let r = reqwest::Client::new()
        .post(hook)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form.finish())
        .send()
        .await
        .expect("the server takes the webhook");
    let status = r.status().as_u16();
    (status, r.text().await.unwrap_or_default())
}
