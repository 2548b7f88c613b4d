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
    pub companies: Vec<Value>,
    /// The bucket: its level, when it was last drained, how much it holds, how fast it drains.
    level: f64,
    drained: Instant,
    capacity: f64,
    per_second: f64,
    /// When each request arrived; how many were refused for the limit.
    pub seen: Vec<Instant>,
    pub refused: u64,
    /// Every `crm.company.update` taken, in order: the company's id and the fields written (a
    /// lead's `crm.lead.update` as `lead-ID`).
    pub updates: Vec<(String, Value)>,
    /// The portal's leads, contacts and deals.
    pub leads: Vec<Value>,
    pub contacts: Vec<Value>,
    pub deals: Vec<Value>,
    /// While set, every request is answered 503 (the portal is down for maintenance).
    pub down: bool,
    /// When set, the next `batch` that writes companies writes them and is never answered (the
    /// caller is killed while it waits); then cleared.
    pub hold_next_write: bool,
    /// Every notification sent (`im.notify.personal.add`): the user, the text, the tag.
    pub notified: Vec<(String, String, String)>,
}

impl Stand {
    /// Marks companies modified now (by a person in the portal): a pull since reads them.
    pub fn touch(&mut self, ids: &[&str], field: &str, value: &str) {
        let now = allot_app::clock::now_utc();
        for c in self.companies.iter_mut().filter(|c| ids.contains(&c["ID"].as_str().unwrap_or_default())) {
            c[field] = json!(value);
            c["DATE_MODIFY"] = json!(now);
        }
    }

    /// Where company `id` is kept (ids are given in order from 1).
    fn index(&self, id: &str) -> Option<usize> {
        let i = id.parse::<usize>().ok()?.checked_sub(1)?;
        (self.companies.get(i)?["ID"].as_str() == Some(id)).then_some(i)
    }

    /// The company's fields as the portal holds them now.
    pub fn company(&self, id: &str) -> Option<&Value> {
        self.companies.get(self.index(id)?)
    }

    /// Adds a company (as a person would in the portal): its id.
    pub fn add(&mut self, mut company: Value) -> String {
        let id = (self.companies.len() + 1).to_string();
        company["ID"] = json!(id);
        company["DATE_MODIFY"] = json!(allot_app::clock::now_utc());
        self.companies.push(company);
        id
    }
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
        "DATE_MODIFY": "2026-01-15T09:00:00+03:00",
        "PHONE": [{"ID": "7", "VALUE_TYPE": "WORK", "VALUE": format!("+7 900 000-{:02}-{:02}", i / 100 % 100, i % 100)}],
    })
}

/// A moment as the portal compares them: its UTC seconds (`2026-01-15T09:00:00+03:00` and
/// `2026-01-15T06:00:00Z` are one moment).
fn moment(s: &str) -> Option<i64> {
    let (date, clock) = s.split_once('T')?;
    let day = i64::from(allot_rules::parse_iso_date(date)?);
    let (clock, offset) = match clock.strip_suffix('Z') {
        Some(c) => (c, 0),
        None => {
            let i = clock.rfind(['+', '-'])?;
            let (c, z) = clock.split_at(i);
            let (h, m) = z[1..].split_once(':')?;
            let minutes = h.parse::<i64>().ok()? * 60 + m.parse::<i64>().ok()?;
            (c, if z.starts_with('-') { -minutes } else { minutes })
        }
    };
    let p: Vec<i64> = clock.split(':').filter_map(|x| x.parse().ok()).collect();
    Some(day * 86_400 + p.first()? * 3600 + p.get(1)? * 60 + p.get(2).copied().unwrap_or(0) - offset * 60)
}

/// A list method's page of `records` (50 from `start`, with `next` and `total`).
fn paged(records: &[&Value], params: &Value) -> (StatusCode, Value) {
    let start = params["start"].as_u64().or_else(|| params["start"].as_str().and_then(|s| s.parse().ok())).unwrap_or(0) as usize;
    let page: Vec<Value> = records.iter().skip(start).take(50).map(|r| (*r).clone()).collect();
    let mut body = json!({"result": page, "total": records.len()});
    if start + 50 < records.len() {
        body["next"] = json!(start + 50);
    }
    (StatusCode::OK, body)
}

/// Writes `fields` into record `id` of `records`: whether it is there.
fn write(records: &mut [Value], id: &str, fields: &Value) -> bool {
    let Some(r) = records.iter_mut().find(|r| r["ID"].as_str() == Some(id)) else { return false };
    for (k, v) in fields.as_object().cloned().unwrap_or_default() {
        r[k.as_str()] = v;
    }
    true
}

/// An update's answer: recorded as `client` when the record was there, else "Not found".
fn record(stand: &mut Stand, written: bool, client: String, params: &Value) -> (StatusCode, Value) {
    if !written {
        return not_found();
    }
    stand.updates.push((client, params["fields"].clone()));
    (StatusCode::OK, json!({"result": true}))
}

fn not_found() -> (StatusCode, Value) {
    (StatusCode::BAD_REQUEST, json!({"error": "", "error_description": "Not found"}))
}

/// One call of `method` with `params`, as the portal answers it: (status, body).
fn answer(stand: &mut Stand, method: &str, params: &Value) -> (StatusCode, Value) {
    match method {
        "crm.company.list" => {
            let since = params["filter"][">DATE_MODIFY"].as_str().and_then(moment);
            let found: Vec<&Value> = stand
                .companies
                .iter()
                .filter(|c| since.is_none_or(|s| c["DATE_MODIFY"].as_str().and_then(moment).is_some_and(|m| m > s)))
                .collect();
            paged(&found, params)
        }
        "crm.lead.list" => paged(&stand.leads.iter().collect::<Vec<_>>(), params),
        "crm.contact.list" => paged(&stand.contacts.iter().collect::<Vec<_>>(), params),
        "crm.deal.list" => paged(&stand.deals.iter().collect::<Vec<_>>(), params),
        "crm.contact.update" => {
            let id = cell_id(&params["id"]);
            let written = write(&mut stand.contacts, &id, &params["fields"]);
            record(stand, written, format!("contact-{id}"), params)
        }
        "crm.lead.get" => match stand.leads.iter().find(|l| l["ID"].as_str() == Some(cell_id(&params["id"]).as_str())) {
            Some(l) => (StatusCode::OK, json!({"result": l})),
            None => not_found(),
        },
        "crm.lead.update" => {
            let id = cell_id(&params["id"]);
            let written = write(&mut stand.leads, &id, &params["fields"]);
            record(stand, written, format!("lead-{id}"), params)
        }
        "crm.company.get" => match stand.company(&cell_id(&params["id"])) {
            Some(c) => (StatusCode::OK, json!({"result": c})),
            None => not_found(),
        },
        "im.notify.personal.add" => {
            let (user, message, tag) = (cell_id(&params["USER_ID"]), cell_id(&params["MESSAGE"]), cell_id(&params["TAG"]));
            if user.is_empty() || message.trim().is_empty() {
                return (StatusCode::BAD_REQUEST, json!({"error": "USER_ID_EMPTY", "error_description": "User ID can't be empty"}));
            }
            // A notification with a tag the portal has replaces the earlier one.
            stand.notified.retain(|n| tag.is_empty() || n.2 != tag);
            stand.notified.push((user, message, tag));
            (StatusCode::OK, json!({"result": stand.notified.len()}))
        }
        "crm.company.update" => {
            let id = cell_id(&params["id"]);
            let fields = params["fields"].clone();
            let now = allot_app::clock::now_utc();
            let Some(c) = stand.index(&id).map(|i| &mut stand.companies[i]) else { return not_found() };
            for (k, v) in fields.as_object().cloned().unwrap_or_default() {
                c[k.as_str()] = v;
            }
            c["DATE_MODIFY"] = json!(now);
            stand.updates.push((id, fields));
            (StatusCode::OK, json!({"result": true}))
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

/// An id as a text, whether sent as a number or a text.
fn cell_id(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => String::new(),
    }
}

/// A PHP query string (how a call inside `batch` carries its parameters, and how the portal's
/// events are posted) back to nested parameters: `fields[ASSIGNED_BY_ID]=3` →
/// `{"fields": {"ASSIGNED_BY_ID": "3"}}`; every value a text, `start` a number.
pub fn params_of(query: &str) -> Value {
    let mut p = json!({});
    for (k, v) in form_urlencoded::parse(query.as_bytes()) {
        let mut path: Vec<String> = Vec::new();
        let (head, rest) = k.split_once('[').map_or((k.as_ref(), ""), |(h, r)| (h, r));
        path.push(head.to_string());
        path.extend(rest.split('[').filter(|s| !s.is_empty()).map(|s| s.trim_end_matches(']').to_string()));
        let mut at = &mut p;
        for (i, key) in path.iter().enumerate() {
            if i + 1 == path.len() {
                at[key.as_str()] = if key == "start" { json!(v.parse::<u64>().unwrap_or(0)) } else { json!(v) };
            } else {
                if !at[key.as_str()].is_object() {
                    at[key.as_str()] = json!({});
                }
                at = &mut at[key.as_str()];
            }
        }
    }
    p
}

async fn rest(
    State(stand): State<Arc<Mutex<Stand>>>,
    Path((user, key, method)): Path<(String, String, String)>,
    Json(params): Json<Value>,
) -> (StatusCode, Json<Value>) {
    let (status, body, hold) = respond(&stand, &user, &key, &method, &params);
    if hold {
        // Written, never answered: the caller waits until it is killed.
        std::future::pending::<()>().await;
    }
    (status, body)
}

/// A request to the portal: its answer, and whether it is to be held unanswered.
fn respond(stand: &Mutex<Stand>, user: &str, key: &str, method: &str, params: &Value) -> (StatusCode, Json<Value>, bool) {
    let mut s = stand.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    s.seen.push(Instant::now());
    if s.down {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"error": "PORTAL_DELETED", "error_description": "The portal is under maintenance"})),
            false,
        );
    }
    if user != "1" || key != KEY {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"error": "INVALID_CREDENTIALS", "error_description": "Invalid request credentials"})),
            false,
        );
    }
    // The leaky bucket: drained at its rate, one more per request; full, the request is refused.
    let drained = s.drained.elapsed().as_secs_f64() * s.per_second;
    s.level = (s.level - drained).max(0.0);
    s.drained = Instant::now();
    if s.level + 1.0 > s.capacity {
        s.refused += 1;
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"error": "QUERY_LIMIT_EXCEEDED", "error_description": "Too many requests"})),
            false,
        );
    }
    s.level += 1.0;
    if method != "batch" {
        let (status, body) = answer(&mut s, method, params);
        return (status, Json(body), false);
    }
    let (mut result, mut errors, mut totals, mut nexts) = (json!({}), json!({}), json!({}), json!({}));
    for (name, call) in params["cmd"].as_object().cloned().unwrap_or_default().iter().take(50) {
        let call = call.as_str().unwrap_or_default();
        let (method, query) = call.split_once('?').unwrap_or((call, ""));
        let (status, body) = answer(&mut s, method, &params_of(query));
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
    let wrote = params["cmd"].as_object().is_some_and(|cmd| {
        cmd.values().any(|c| c.as_str().is_some_and(|c| c.starts_with("crm.company.update") || c.starts_with("crm.lead.update")))
    });
    let hold = wrote && std::mem::take(&mut s.hold_next_write);
    (StatusCode::OK, Json(body), hold)
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
        updates: vec![],
        down: false,
        hold_next_write: false,
        notified: vec![],
        leads: vec![],
        contacts: vec![],
        deals: vec![],
    }));
    let app = axum::Router::new().route("/rest/{user}/{key}/{method}", axum::routing::post(rest)).with_state(stand.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("the stand-in portal listens on loopback");
    let addr: SocketAddr = listener.local_addr().expect("a bound listener has an address");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (format!("http://{addr}/rest/1/{KEY}/"), stand)
}

/// Posts the portal's event `event` of record `id` to `hook` as Bitrix24 does (form-encoded, the
/// application token in `auth`): the answer's status and body.
pub async fn fire(hook: &str, event: &str, id: &str, token: &str) -> (u16, String) {
    let form: String = form_urlencoded::Serializer::new(String::new())
        .append_pair("event", event)
        .append_pair("event_handler_id", "733")
        .append_pair("data[FIELDS][ID]", id)
        .append_pair("ts", &allot_app::clock::now_seconds().to_string())
        .append_pair("auth[domain]", "standin.bitrix24.ru")
        .append_pair("auth[client_endpoint]", "https://standin.bitrix24.ru/rest/")
        .append_pair("auth[server_endpoint]", "https://oauth.bitrix.info/rest/")
        .append_pair("auth[member_id]", "a223c6b3710f85df22e9377d6c4f7553")
        .append_pair("auth[application_token]", token)
        .finish();
    let r = reqwest::Client::new()
        .post(hook)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form)
        .send()
        .await
        .expect("the server takes the event");
    let status = r.status().as_u16();
    (status, r.text().await.unwrap_or_default())
}
