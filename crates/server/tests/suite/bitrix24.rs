//! A stand-in Bitrix24 portal (issue #18 §5): a real HTTP server on loopback that answers the
//! documented subset allot uses — methods on an incoming webhook's address, list methods of 50
//! records a page with `next` and `total`, `batch` of up to 50 calls given as query strings, and
//! the rate limit (a leaky bucket; `QUERY_LIMIT_EXCEEDED` with HTTP 503 past it) — written from the
//! vendor's public REST documentation.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use allot_server::crm::bitrix24::{CallError, Pace, Portal};
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

fn company(i: usize) -> Value {
    json!({
        "ID": (i + 1).to_string(),
        "TITLE": format!("ООО «Компания {}»", i + 1),
        "INDUSTRY": "IT",
        "ASSIGNED_BY_ID": "1",
        "UF_CRM_POTENTIAL": ((i + 1) * 1000).to_string(),
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
    let url = reqwest::Url::parse(&format!("http://x/?{query}")).unwrap();
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
    let mut s = stand.lock().unwrap();
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
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr: SocketAddr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    (format!("http://{addr}/rest/1/{KEY}/"), stand)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_companies_are_read_in_five_requests_at_the_portal_s_pace() {
    // The real portal's bucket (50 requests, 2 a second); allot's pace, 2 a second.
    let (url, stand) = portal(10_000, 50.0, 2.0).await;
    let mut p = Portal::new(&url, Pace::default()).unwrap();
    let mut told = vec![];
    let companies = p.list("crm.company.list", &json!({"select": ["ID", "TITLE"]}), |done, total| told.push((done, total))).await.unwrap();
    assert_eq!(companies.len(), 10_000);
    let ids: Vec<u64> = companies.iter().map(|c| c["ID"].as_str().unwrap().parse().unwrap()).collect();
    assert_eq!(ids, (1..=10_000).collect::<Vec<_>>(), "every company once, in the portal's order");
    assert_eq!(p.counts.requests, 5, "the first page, then 199 pages in four batches of up to 50");
    assert_eq!((p.counts.limited, stand.lock().unwrap().refused), (0, 0));
    assert_eq!(told.first(), Some(&(50, 10_000)));
    assert_eq!(told.last(), Some(&(10_000, 10_000)));
    let seen = stand.lock().unwrap().seen.clone();
    assert!(seen.windows(2).all(|w| w[1] - w[0] >= Duration::from_millis(450)), "two requests a second at most");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_portal_refusing_for_its_limit_is_waited_for_and_nothing_is_lost() {
    // A stricter portal (a bucket of one, drained once a second) and a client set too fast: the
    // refusals are waited out, every company still arrives once.
    let (url, stand) = portal(1_000, 1.0, 1.0).await;
    let pace = Pace { per_second: 20.0, first_wait: Duration::from_millis(200), max_wait: Duration::from_secs(2) };
    let mut p = Portal::new(&url, pace).unwrap();
    let companies = p.list("crm.company.list", &json!({}), |_, _| {}).await.unwrap();
    let mut ids: Vec<u64> = companies.iter().map(|c| c["ID"].as_str().unwrap().parse().unwrap()).collect();
    ids.dedup();
    assert_eq!(ids.len(), 1_000);
    let refused = stand.lock().unwrap().refused;
    assert!(refused > 0 && p.counts.limited == refused, "refused {refused}, waited {}", p.counts.limited);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_key_and_an_unknown_method_are_said_by_the_portal_s_code_without_the_key() {
    let (url, _) = portal(10, 50.0, 2.0).await;
    let wrong = url.replace(KEY, "not-the-key");
    let err = Portal::new(&wrong, Pace::default()).unwrap().call("crm.company.list", &json!({})).await.unwrap_err();
    assert!(matches!(&err, CallError::Refused { code, .. } if code == "INVALID_CREDENTIALS"), "{err:?}");
    assert!(!err.to_string().contains("not-the-key"), "{err}");
    let mut p = Portal::new(&url, Pace::default()).unwrap();
    let calls = vec![
        ("a".to_string(), "crm.company.list".to_string(), json!({"start": 0})),
        ("b".to_string(), "crm.company.nothing".to_string(), json!({})),
    ];
    let out = p.batch(&calls).await.unwrap();
    assert_eq!(out[0].1.as_ref().unwrap().as_array().unwrap().len(), 10);
    assert!(
        matches!(&out[1].1, Err(CallError::Refused { code, method, .. }) if code == "ERROR_METHOD_NOT_FOUND" && method == "crm.company.nothing")
    );
    assert!(!format!("{p:?}").contains(KEY), "{p:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pull_reads_the_active_users_and_the_companies_as_the_field_map_says_and_imports_them() {
    // Issue #18 §1: users → employees (by e-mail), companies → clients (TITLE → name, a user
    // field → potential, a multiple field → phones), into the store by the import use case.
    let (url, _) = portal(120, 50.0, 2.0).await;
    let scheme = "[columns]\npotential = \"number\"\n\n[crm]\nsystem = \"bitrix24\"\nemployee = \"EMAIL\"\n\n[crm.clients]\nTITLE = \"name\"\nUF_CRM_POTENTIAL = \"potential\"\nPHONE = \"phone\"\n";
    let map = allot_io::SchemeFile::parse(scheme, "scheme.toml").unwrap().crm().unwrap();
    let mut p = Portal::new(&url, Pace::default()).unwrap();
    let mut steps = vec![];
    let pulled = allot_server::crm::bitrix24::pull(&mut p, &map, |what, done, of| steps.push((what.to_string(), done, of))).await.unwrap();
    assert_eq!((pulled.users, pulled.companies), (2, 120), "the dismissed user is not an employee");
    assert_eq!(pulled.employees, "id,name\nanna@example.ru,Анна Смирнова\nboris@example.ru,Борис Кузнецов\n");
    // The fields in the map's order (by field code): PHONE, TITLE, UF_CRM_POTENTIAL.
    assert!(pulled.clients.starts_with("id,phone,name,potential\n1,+7 900 000-00-00,ООО «Компания 1»,1000\n"), "{}", pulled.clients);
    assert_eq!(steps.last(), Some(&("crm.company.list".to_string(), 120, 120)));
    // Into a store, as `allot import` reads files: checked whole, then landed.
    let dir = tempfile::tempdir().unwrap();
    let store_path = dir.path().join("allot.db");
    let (employees, clients) = (dir.path().join("employees.csv"), dir.path().join("clients.csv"));
    std::fs::write(&employees, &pulled.employees).unwrap();
    std::fs::write(&clients, &pulled.clients).unwrap();
    let mut store = allot_store::open(&allot_store::Location::Sqlite(store_path)).unwrap();
    let actor = allot_store::Actor { by: "test".into(), at: "2026-11-30T10:00:00Z".into() };
    let enc = allot_io::Encodings::default();
    allot_app::stored::import(store.as_mut(), allot_store::Subject::Employee, &employees, &enc, &actor).unwrap();
    allot_app::stored::import(store.as_mut(), allot_store::Subject::Client, &clients, &enc, &actor).unwrap();
    let snap = store.snapshot(allot_store::Day(0)).unwrap();
    assert_eq!(snap.employees.len(), 2);
    assert_eq!(snap.clients.len(), 120);
    let attrs = store.client_attributes(&["7".to_string()]).unwrap();
    assert!(attrs[0].1.contains("\"potential\":7000") && attrs[0].1.contains("Компания 7"), "{attrs:?}");
}
