//! `allot serve` over real HTTP on a real store (SQLite, and PostgreSQL when it answers; always
//! under CI): fair shares under concurrency, idempotency, scopes, bad input.

#![allow(clippy::unwrap_used)] // tests stop at the first surprise

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;

use allot_server::Config;
use allot_store::{testing, Actor, Location, Subject};
use serde_json::{json, Value as J};

#[path = "suite/faults.rs"]
mod faults;

#[path = "suite/amocrm.rs"]
mod amocrm;
#[path = "suite/bitrix24.rs"]
mod bitrix24;
#[path = "suite/browser.rs"]
mod browser;
#[path = "suite/notify.rs"]
mod notify;

pub(crate) const SCHEME: &str = r#"
[columns]
source = "text"

[deal_columns]
amount = "number"
date = "date"
currency = "text"

# Issue #6: the seller gets each sale.
[credit]
[[credit.shares]]
revenue = { sales = 100 }

# MISSION.md S4.4: small deals are administered by vera; their other roles follow the client.
[[rules]]
id = "small-deals"
role = "admin"
on = "deal"
when = "amount < 1000"
employee = "vera"

[[rules]]
id = "desk"
role = "sales"
employees = ["anna", "boris", "vera"]
strategy = "balance-count"
weights = { anna = 3, boris = 2, vera = 1 }
caps = { day = 3600 }
"#;

const EMPLOYEES: &str = "id,name,teams\nanna,Анна,desk\nboris,Борис,desk\nvera,Вера,desk\nmgr,Manager,desk\noutsider,Other,field\n";

fn actor() -> Actor {
    Actor { by: "test".into(), at: "2026-11-27T00:00:00Z".into() }
}

/// A token as `allot token create` asks for one; made "in 1970", so that a test may make one that
/// expires today.
fn token_request<'a>(
    scope: &'a str,
    employee: Option<&'a str>,
    label: &'a str,
    expires: Option<i32>,
) -> allot_app::tokens::TokenRequest<'a> {
    allot_app::tokens::TokenRequest { scope, employee, label, expires: expires.map(allot_store::Day), today: allot_store::Day(0) }
}

/// A store with the desk's employees and the scheme active; tokens by scope.
struct World {
    location: Location,
    _dir: tempfile::TempDir,
    pg: Option<(String, String)>,
    tokens: BTreeMap<&'static str, String>,
}

impl Drop for World {
    fn drop(&mut self) {
        if let Some((url, schema)) = self.pg.clone() {
            // The blocking client must not run on the test's async threads.
            let _ = std::thread::spawn(move || testing::drop_schema(&url, &schema)).join();
        }
    }
}

/// Runs blocking store work off the async threads.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(f).await.unwrap()
}

fn world_blocking(pg: Option<&str>) -> World {
    world_of(pg, SCHEME)
}

fn world_of(pg: Option<&str>, scheme: &str) -> World {
    let dir = tempfile::tempdir().unwrap();
    let (location, pgs) = match pg {
        Some(url) => {
            let schema = testing::fresh_schema();
            allot_store::pg::PgStore::connect(url, Some(&schema)).unwrap();
            (Location::Postgres(testing::url_with_schema(url, &schema)), Some((url.to_string(), schema)))
        }
        None => (Location::Sqlite(dir.path().join("allot.db")), None),
    };
    let mut store = allot_store::open(&location).unwrap();
    let employees = dir.path().join("employees.csv");
    std::fs::write(&employees, EMPLOYEES).unwrap();
    allot_app::stored::import(store.as_mut(), Subject::Employee, &employees, &allot_io::Encodings::default(), &actor()).unwrap();
    let req =
        allot_app::stored::PlanRequest { date: day("2026-03-01"), scheme: Some((scheme.into(), "scheme.toml".into())), rebalance: false };
    let plan = allot_app::stored::plan(store.as_mut(), &req, &actor()).unwrap();
    allot_app::stored::apply(store.as_mut(), &plan, &actor()).unwrap();
    let mut tokens = BTreeMap::new();
    for (name, scope, emp) in [
        ("admin", "admin", None),
        ("router", "router", None),
        ("manager", "manager", Some("mgr")),
        ("anna", "employee", Some("anna")),
        ("outsider", "employee", Some("outsider")),
    ] {
        tokens.insert(name, allot_app::tokens::create(store.as_mut(), &token_request(scope, emp, name, None), &actor()).unwrap());
    }
    World { location, _dir: dir, pg: pgs, tokens }
}

async fn world(pg: Option<&str>) -> World {
    let pg = pg.map(String::from);
    blocking(move || world_blocking(pg.as_deref())).await
}

/// A world whose scheme counts deals routed over HTTP as sales (`[credit] routed_sales = true`).
async fn world_routing_sales() -> World {
    blocking(|| world_of(None, &SCHEME.replace("[credit]\n", "[credit]\nrouted_sales = true\n"))).await
}

/// Plans and applies `scheme` as of today in the store at `location`: the store's revision after.
async fn apply_today(location: &Location, scheme: &'static str) -> i64 {
    let l = location.clone();
    blocking(move || {
        let mut store = allot_store::open(&l).unwrap();
        let req = allot_app::stored::PlanRequest {
            date: allot_app::clock::today(),
            scheme: Some((scheme.into(), "scheme.toml".into())),
            rebalance: false,
        };
        let plan = allot_app::stored::plan(store.as_mut(), &req, &actor()).unwrap();
        allot_app::stored::apply(store.as_mut(), &plan, &actor()).unwrap();
        store.revision().unwrap()
    })
    .await
}

/// The connector of `kind` in the store at `location`.
async fn connector_in(location: &Location, kind: &'static str) -> allot_store::Webhook {
    let l = location.clone();
    blocking(move || allot_store::open(&l).unwrap().webhooks().unwrap().into_iter().find(|h| h.kind == kind).unwrap()).await
}

/// Waits (up to `secs`) until `done` holds of what `shared` holds (a stand-in's state).
async fn until<T>(shared: &std::sync::Mutex<T>, secs: u64, done: impl Fn(&T) -> bool) -> bool {
    for _ in 0..secs * 20 {
        if done(&shared.lock().unwrap()) {
            return true;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    false
}

fn day(s: &str) -> i32 {
    allot_rules::parse_iso_date(s).unwrap()
}

struct Server {
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    running: Option<allot_server::Running>,
}

impl Server {
    async fn start(w: &World) -> Server {
        Server::start_with(w, |_| {}).await
    }
    async fn start_with(w: &World, set: impl FnOnce(&mut Config)) -> Server {
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let mut config = Config { listen: "127.0.0.1:0".parse().unwrap(), store: w.location.clone(), ..Config::default() };
        set(&mut config);
        let running = allot_server::start(config, async {
            let _ = rx.await;
        })
        .await
        .unwrap();
        Server { addr: running.addr, stop: Some(tx), running: Some(running) }
    }
    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
    async fn stop(mut self) {
        let _ = self.stop.take().unwrap().send(());
        self.running.take().unwrap().wait().await.unwrap();
    }
}

fn lead(i: usize) -> J {
    json!({"id": format!("lead{i:05}"), "date": "2026-03-02", "attributes": {"source": "web"}})
}

/// 10,000 requests from 64 concurrent clients: 9,000 leads, 1,000 of them sent twice with the same
/// Idempotency-Key. Weights 3:2:1 and a cap of 3,600 a day: anna takes 3,600 (3:2:1 until her cap
/// at item 7,200), then boris and vera share 2:1 until boris reaches 3,600 at item 9,000.
async fn fair_and_exact(servers: &[Server], w: &World) {
    let client = reqwest::Client::new();
    let token = Arc::new(w.tokens["router"].clone());
    let mut requests: Vec<(usize, bool)> = (0..9000).map(|i| (i, false)).collect();
    requests.extend((0..9000).step_by(9).map(|i| (i, true)));
    assert_eq!(requests.len(), 10_000);
    let requests = Arc::new(requests);
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let answers = Arc::new(std::sync::Mutex::new(BTreeMap::<usize, Vec<String>>::new()));
    let urls: Arc<Vec<String>> = Arc::new(servers.iter().map(|s| s.url("/v1/route")).collect());
    let mut tasks = Vec::new();
    for t in 0..64 {
        let (client, token, requests, next, answers, urls) =
            (client.clone(), token.clone(), requests.clone(), next.clone(), answers.clone(), urls.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let n = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(&(i, _retry)) = requests.get(n) else { break };
                let url = &urls[(t + n) % urls.len()];
                let resp = client
                    .post(url)
                    .bearer_auth(token.as_str())
                    .header("Idempotency-Key", format!("key-{i}"))
                    .json(&lead(i))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(resp.status(), 200);
                let body = resp.text().await.unwrap();
                answers.lock().unwrap().entry(i).or_default().push(body);
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let answers = std::mem::take(&mut *answers.lock().unwrap());
    assert_eq!(answers.len(), 9000, "no lead lost");
    let mut shares: BTreeMap<String, u32> = BTreeMap::new();
    for (i, bodies) in answers.iter() {
        // A retry gets exactly the first answer.
        assert!(bodies.windows(2).all(|w| w[0] == w[1]), "lead {i}: {bodies:?}");
        let v: J = serde_json::from_str(&bodies[0]).unwrap();
        assert_eq!(v["client"], format!("lead{i:05}"));
        *shares.entry(v["roles"][0]["employee"].as_str().unwrap_or("-").to_string()).or_default() += 1;
    }
    assert_eq!(shares, BTreeMap::from([("anna".into(), 3600), ("boris".into(), 3600), ("vera".into(), 1800)]));
    // None assigned twice: one sales link per lead in the store, and the pool agrees.
    let location = w.location.clone();
    let book = blocking(move || allot_store::open(&location).unwrap().owners_at(allot_store::Day(day("2026-03-02")), None).unwrap()).await;
    assert_eq!(book.len(), 9000);
    let mut per: BTreeMap<String, u32> = BTreeMap::new();
    for s in &book {
        *per.entry(s.employee.clone()).or_default() += 1;
    }
    assert_eq!(per, shares);
    let pool: J = client.get(servers[0].url("/v1/pools/desk")).bearer_auth(&w.tokens["admin"]).send().await.unwrap().json().await.unwrap();
    assert_eq!(pool["items"], 9000, "{pool}");
    let today: BTreeMap<String, u64> = pool["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["employee"].as_str().unwrap().to_string(), m["today_items"].as_u64().unwrap()))
        .collect();
    assert_eq!(today, BTreeMap::from([("anna".into(), 3600), ("boris".into(), 3600), ("vera".into(), 1800)]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_concurrent_routes_keep_exact_shares_caps_and_idempotency_on_sqlite() {
    let w = world(None).await;
    let s = Server::start(&w).await;
    fair_and_exact(std::slice::from_ref(&s), &w).await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_concurrent_routes_on_postgres_with_one_server_and_with_two() {
    let Some(url) = blocking(|| testing::postgres("concurrent routes")).await else { return };
    let w = world(Some(&url)).await;
    let s = Server::start(&w).await;
    fair_and_exact(std::slice::from_ref(&s), &w).await;
    s.stop().await;
    // Two servers sharing one database take turns with the pool: still exact.
    let w = world(Some(&url)).await;
    let (a, b) = (Server::start(&w).await, Server::start(&w).await);
    let both = [a, b];
    fair_and_exact(&both, &w).await;
    for s in both {
        s.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_scope_gets_403_and_no_data_outside_itself() {
    let w = world(None).await;
    let s = Server::start(&w).await;
    let client = reqwest::Client::new();
    // One routed lead, owned by someone on the desk; anna's own book.
    let r = client.post(s.url("/v1/route")).bearer_auth(&w.tokens["router"]).json(&lead(1)).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let owner = r.json::<J>().await.unwrap()["roles"][0]["employee"].as_str().unwrap().to_string();
    assert_eq!(owner, "anna", "the first item of a 3:2:1 pool goes to the heaviest weight");
    let get = |path: &str, who: &str| {
        let req = client.get(s.url(path)).bearer_auth(&w.tokens[who]);
        async move { req.send().await.unwrap().status().as_u16() }
    };
    let post = |path: &str, who: &str, body: J| {
        let req = client.post(s.url(path)).bearer_auth(&w.tokens[who]).json(&body);
        async move { req.send().await.unwrap().status().as_u16() }
    };
    let owners = "/v1/clients/lead00001/owners?at=2026-03-02";
    let history = "/v1/clients/lead00001/history";
    let book = "/v1/employees/anna/book?at=2026-03-02";
    let pool = "/v1/pools/desk";
    let explain = "/v1/clients/lead00001/explain?at=2026-03-02";
    // (endpoint, admin, router, manager (desk), anna (own), outsider)
    let table: Vec<(&str, [u16; 5])> = vec![
        (owners, [200, 403, 200, 200, 403]),
        (history, [200, 403, 200, 200, 403]),
        (book, [200, 403, 200, 200, 403]),
        (pool, [200, 403, 200, 200, 403]),
        (explain, [200, 403, 200, 200, 403]),
    ];
    for (path, expected) in table {
        let got = [
            get(path, "admin").await,
            get(path, "router").await,
            get(path, "manager").await,
            get(path, "anna").await,
            get(path, "outsider").await,
        ];
        assert_eq!(got, expected, "{path}");
    }
    let route = [
        post("/v1/route", "admin", lead(2)).await,
        post("/v1/route", "router", lead(3)).await,
        post("/v1/route", "manager", lead(4)).await,
        post("/v1/route", "anna", lead(5)).await,
        post("/v1/route", "outsider", lead(6)).await,
    ];
    assert_eq!(route, [200, 200, 403, 403, 403]);
    let plan = [
        post("/v1/plan", "admin", json!({"date": "2026-03-03"})).await,
        post("/v1/plan", "router", json!({})).await,
        post("/v1/plan", "manager", json!({})).await,
        post("/v1/plan", "anna", json!({})).await,
    ];
    assert_eq!(plan, [200, 403, 403, 403]);
    // Apply: the admin's edited plan is refused as a bad request; every other scope is forbidden first.
    let apply = [
        post("/v1/apply", "admin", json!({"allot_plan": 1})).await,
        post("/v1/apply", "router", json!({})).await,
        post("/v1/apply", "manager", json!({})).await,
        post("/v1/apply", "anna", json!({})).await,
    ];
    assert_eq!(apply, [400, 403, 403, 403]);
    let x: J = client.get(s.url(explain)).bearer_auth(&w.tokens["admin"]).send().await.unwrap().json().await.unwrap();
    assert!(x["explanation"].as_str().unwrap().contains("desk"), "{x}");
    // A forbidden answer carries no data.
    let r = client.get(s.url(owners)).bearer_auth(&w.tokens["outsider"]).send().await.unwrap();
    let body = r.text().await.unwrap();
    assert!(!body.contains("anna") && body.contains("\"forbidden\""), "{body}");
    // No token, a wrong token.
    assert_eq!(client.get(s.url(owners)).send().await.unwrap().status(), 401);
    assert_eq!(client.get(s.url(owners)).bearer_auth("allot_nope").send().await.unwrap().status(), 401);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_a_4xx_with_a_stable_code_and_the_field_and_writes_nothing() {
    let w = world(None).await;
    let s = Server::start(&w).await;
    let client = reqwest::Client::new();
    let send = |body: Vec<u8>, key: Option<&str>| {
        let mut req =
            client.post(s.url("/v1/route")).bearer_auth(&w.tokens["router"]).header("content-type", "application/json").body(body);
        if let Some(k) = key {
            req = req.header("Idempotency-Key", k);
        }
        async move {
            let r = req.send().await.unwrap();
            let status = r.status().as_u16();
            (status, r.json::<J>().await.unwrap_or(J::Null))
        }
    };
    let cases: Vec<(Vec<u8>, u16, &str, Option<&str>)> = vec![
        (b"{".to_vec(), 400, "bad_json", None),
        (b"[]".to_vec(), 400, "bad_json", None),
        (br#"{"attributes": {"source": "web"}, "priority": 1}"#.to_vec(), 422, "unknown_field", Some("priority")),
        (br#"{"id": "x"}"#.to_vec(), 422, "missing_field", Some("attributes")),
        (br#"{"attributes": 5}"#.to_vec(), 422, "wrong_type", Some("attributes")),
        // An undeclared attribute is kept, never a lost lead (issue #14); the answer names it.
        (br#"{"attributes": {"sourse": "web"}}"#.to_vec(), 200, "", None),
        (br#"{"attributes": {"region": {"code": "RU-TA"}}}"#.to_vec(), 422, "wrong_type", Some("attributes.region")),
        (br#"{"attributes": {"note": "a\u0000b"}}"#.to_vec(), 422, "bad_value", Some("attributes.note")),
        (br#"{"attributes": {"potential": 123456789012345678901234567}}"#.to_vec(), 422, "bad_value", Some("attributes.potential")),
        (br#"{"attributes": {"source": 5}}"#.to_vec(), 200, "", None),
        (br#"{"attributes": {"source": ["a"]}}"#.to_vec(), 422, "wrong_type", Some("attributes.source")),
        (br#"{"id": 7, "attributes": {}}"#.to_vec(), 422, "wrong_type", Some("id")),
        (br#"{"date": "02.03.2026", "attributes": {}}"#.to_vec(), 422, "bad_date", Some("date")),
        (vec![b' '; 70_000], 413, "body_too_large", None),
    ];
    for (body, status, code, field) in cases {
        let shown = String::from_utf8_lossy(&body[..body.len().min(60)]).to_string();
        let (got, json) = send(body, None).await;
        assert_eq!(got, status, "{shown}: {json}");
        if status != 200 {
            assert_eq!(json["error"]["code"], code, "{shown}: {json}");
            assert_eq!(json["error"]["field"].as_str(), field, "{shown}: {json}");
        }
    }
    // The same key with another body is a conflict, and nothing new is routed.
    assert_eq!(send(br#"{"id": "k1", "attributes": {}}"#.to_vec(), Some("same")).await.0, 200);
    let (st, j) = send(br#"{"id": "k2", "attributes": {}}"#.to_vec(), Some("same")).await;
    assert_eq!((st, j["error"]["code"].as_str()), (409, Some("idempotency_conflict")));
    let location = w.location.clone();
    assert!(blocking(move || allot_store::open(&location).unwrap().history("k2").is_err()).await, "the conflicting request routed nothing");
    // Random bodies never get a 5xx.
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let atoms = [
        "{",
        "}",
        "[",
        "]",
        "\"attributes\"",
        "\"id\"",
        ":",
        ",",
        "\"source\"",
        "1",
        "null",
        "true",
        "\"x\"",
        "\"date\"",
        "\"2026-03-02\"",
        "\u{0}",
        "\"\\u0000\"",
    ];
    for _ in 0..300 {
        let mut body = String::new();
        for _ in 0..(seed % 12 + 1) {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            body.push_str(atoms[(seed >> 33) as usize % atoms.len()]);
        }
        let (st, _) = send(body.clone().into_bytes(), None).await;
        assert!(st < 500, "{body:?} got {st}");
    }
    // The documents.
    let doc: J = client.get(s.url("/openapi.json")).send().await.unwrap().json().await.unwrap();
    assert!(doc["paths"]["/v1/route"]["post"].is_object());
    let html = client.get(s.url("/docs")).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("/v1/pools/{rule}") && html.contains("idempotency_conflict"));
    let metrics = client.get(s.url("/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("allot_routes_total") && metrics.contains("allot_route_batch_size"), "{metrics}");
    assert_eq!(client.get(s.url("/health")).send().await.unwrap().status(), 200);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lead_from_a_web_form_keeps_its_extra_fields_and_its_region_name_becomes_a_code() {
    // Issue #14, items 6 and 7: a form field the scheme does not declare is stored with the lead and
    // shown by explain; "Республика Татарстан" is stored as RU-TA; the book lists the client's name.
    let w = world(None).await;
    let s = Server::start(&w).await;
    let client = reqwest::Client::new();
    let body = json!({"id": "form1", "date": "2026-03-02",
        "attributes": {"source": "web", "name": "ООО «Ромашка»", "region": "Республика Татарстан", "utm_campaign": "весна"}});
    let r: J = client.post(s.url("/v1/route")).bearer_auth(&w.tokens["router"]).json(&body).send().await.unwrap().json().await.unwrap();
    assert_eq!(r["new_client"], true, "{r}");
    assert_eq!(r["unused_attributes"], json!(["region", "utm_campaign"]), "{r}");
    let get = |path: String| {
        let req = client.get(s.url(&path)).bearer_auth(&w.tokens["admin"]);
        async move { req.send().await.unwrap().json::<J>().await.unwrap() }
    };
    let x = get("/v1/clients/form1/explain?at=2026-03-02".into()).await;
    let text = x["explanation"].as_str().unwrap_or_default();
    assert!(text.contains("stored, not used by the scheme: name=ООО «Ромашка», region=RU-TA, utm_campaign=весна"), "{x}");
    let owner = r["roles"][0]["employee"].as_str().unwrap().to_string();
    let b = get(format!("/v1/employees/{owner}/book?at=2026-03-02")).await;
    let link = b["links"].as_array().unwrap().iter().find(|l| l["client"] == "form1").cloned().unwrap_or(J::Null);
    assert_eq!(link["client_name"], "ООО «Ромашка»", "{b}");
    assert_eq!(link["client_attributes"]["region"], "RU-TA", "{b}");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shutdown_answers_every_request_it_accepted() {
    let w = world(None).await;
    let s = Server::start(&w).await;
    let client = reqwest::Client::new();
    let url = s.url("/v1/route");
    let token = w.tokens["router"].clone();
    let mut sent = Vec::new();
    for i in 0..200 {
        let req = client.post(&url).bearer_auth(&token).json(&lead(i));
        sent.push(tokio::spawn(async move { req.send().await.map(|r| r.status().as_u16()) }));
    }
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    s.stop().await;
    let mut answered = 0;
    for t in sent {
        // Accepted requests are answered 200; the rest were never accepted (connection refused).
        match t.await.unwrap() {
            Ok(200) => answered += 1,
            Ok(other) => panic!("an accepted request got {other}"),
            Err(_) => {}
        }
    }
    let location = w.location.clone();
    let stored =
        blocking(move || allot_store::open(&location).unwrap().owners_at(allot_store::Day(day("2026-03-02")), None).unwrap().len()).await;
    assert_eq!(stored, answered, "every answer is in the store, and nothing else");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deals_go_by_deal_rules_then_to_their_clients_owners() {
    let w = world(None).await;
    let s = Server::start(&w).await;
    let client = reqwest::Client::new();
    let send = |body: J| {
        let req = client.post(s.url("/v1/route")).bearer_auth(&w.tokens["router"]).json(&body);
        async move {
            let r = req.send().await.unwrap();
            (r.status().as_u16(), r.json::<J>().await.unwrap())
        }
    };
    let (st, lead) = send(lead(1)).await;
    assert_eq!((st, lead["roles"][0]["employee"].as_str()), (200, Some("anna")));
    let role = |v: &J, r: &str| v["roles"].as_array().unwrap().iter().find(|x| x["role"] == r).cloned().unwrap_or(J::Null);
    let (st, small) = send(json!({"id": "d1", "client": "lead00001", "date": "2026-03-02", "attributes": {"amount": 500}})).await;
    assert_eq!(st, 200, "{small}");
    assert_eq!(small["deal"], "d1");
    assert_eq!(role(&small, "admin")["employee"], "vera", "{small}");
    assert_eq!(role(&small, "sales")["employee"], "anna", "the client's own employee: {small}");
    let (st, big) = send(json!({"id": "d2", "client": "lead00001", "date": "2026-03-02", "attributes": {"amount": 5000}})).await;
    assert_eq!(st, 200);
    assert_eq!(role(&big, "admin")["employee"], J::Null, "no deal rule, and the client has no administrator: {big}");
    let (st, e) = send(json!({"id": "d1", "client": "lead00001", "attributes": {"amount": 1}})).await;
    assert_eq!((st, e["error"]["code"].as_str(), e["error"]["field"].as_str()), (409, Some("duplicate_id"), Some("id")));
    let (st, e) = send(json!({"client": "nobody", "attributes": {"amount": 1}})).await;
    assert_eq!((st, e["error"]["code"].as_str(), e["error"]["field"].as_str()), (422, Some("unknown_client"), Some("client")));
    // A misspelt attribute no longer loses the deal: it is stored, and the answer names it.
    let (st, e) = send(json!({"client": "lead00001", "date": "2026-03-02", "attributes": {"amout": 1}})).await;
    assert_eq!((st, e["unused_attributes"].clone()), (200, json!(["amout"])), "{e}");
    // The deals are stored with their client.
    let location = w.location.clone();
    let deals =
        blocking(move || allot_store::open(&location).unwrap().snapshot(allot_store::Day(day("2026-03-02"))).unwrap().deals.len()).await;
    assert_eq!(deals, 3);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_report_credits_sales_over_http_and_each_scope_sees_its_own_rows() {
    // Issue #6, point 4: the same report through the HTTP API (the scheme counts routed deals as
    // sales; by default they are not: see faults::a_router_token_routes_only_within_its_scope).
    let w = world_routing_sales().await;
    let s = Server::start(&w).await;
    let client = reqwest::Client::new();
    let r = client.post(s.url("/v1/route")).bearer_auth(&w.tokens["router"]).json(&lead(1)).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let sale = json!({"id": "s1", "client": "lead00001", "attributes": {"amount": 100001, "date": "2026-03-10", "currency": "RUB"}});
    let r = client.post(s.url("/v1/route")).bearer_auth(&w.tokens["router"]).json(&sale).send().await.unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let get = |path: &str, who: &str| {
        let req = client.get(s.url(path)).bearer_auth(&w.tokens[who]);
        async move {
            let r = req.send().await.unwrap();
            (r.status().as_u16(), r.json::<J>().await.unwrap_or(J::Null))
        }
    };
    let path = "/v1/report?from=2026-03-01&to=2026-03-31";
    let (st, all) = get(path, "admin").await;
    assert_eq!(st, 200, "{all}");
    let anna = all["rows"].as_array().unwrap().iter().find(|r| r["role"] == "sales" && r["employee"] == "anna").cloned().unwrap();
    assert_eq!((anna["revenue"].as_i64(), anna["deals"].as_u64(), anna["clients"].as_u64()), (Some(100_001), Some(1), Some(1)), "{all}");
    assert_eq!(all["currency"], "RUB");
    assert!(all["balance"].as_array().is_some_and(|b| !b.is_empty()), "{all}");
    // anna sees her own rows only, and no balance; the outsider sees none; the router may not ask.
    let (st, own) = get(path, "anna").await;
    assert_eq!(st, 200);
    assert!(own["rows"].as_array().unwrap().iter().all(|r| r["employee"] == "anna") && own.get("balance").is_none(), "{own}");
    let (_, none) = get(path, "outsider").await;
    assert_eq!(none["rows"].as_array().map(Vec::len), Some(0), "{none}");
    assert_eq!(get(path, "router").await.0, 403);
    assert_eq!(get("/v1/report?from=2026-03-01&per=team", "manager").await.0, 403);
    assert_eq!(get("/v1/report?from=2026-03-01&per=team", "admin").await.0, 200);
    // Bad input: a 422 that names the field.
    let (st, e) = get("/v1/report?from=2026-13-01", "admin").await;
    assert_eq!((st, e["error"]["code"].as_str(), e["error"]["field"].as_str()), (422, Some("bad_date"), Some("from")));
    let (st, e) = get("/v1/report", "admin").await;
    assert_eq!((st, e["error"]["code"].as_str(), e["error"]["field"].as_str()), (422, Some("missing_field"), Some("from")));
    s.stop().await;
}

/// Posts a form with a session's cookie: the status and the page.
async fn post_form(http: &reqwest::Client, url: String, cookie: &str, fields: &[(&'static str, String)]) -> (u16, String) {
    let body = form(&fields.iter().map(|(k, v)| (*k, v.as_str())).collect::<Vec<_>>());
    let r = http
        .post(url)
        .header("cookie", cookie)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

/// A form body, percent-encoded.
fn form(fields: &[(&str, &str)]) -> String {
    let enc = |s: &str| {
        s.bytes().map(|b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("%{b:02X}") }).collect::<String>()
    };
    fields.iter().map(|(k, v)| format!("{k}={}", enc(v))).collect::<Vec<_>>().join("&")
}

/// The value a response sets for cookie `name`, with the whole `Set-Cookie` line.
fn set_cookie(resp: &reqwest::Response, name: &str) -> Option<(String, String)> {
    resp.headers().get_all("set-cookie").iter().filter_map(|v| v.to_str().ok()).find_map(|line| {
        let value = line.strip_prefix(&format!("{name}="))?.split(';').next()?.to_string();
        Some((value, line.to_string()))
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_workspace_signs_people_in_in_their_language_and_shows_each_their_own_clients() {
    // Issue #16, in part: sign-in, sessions, CSRF, Russian first, My clients.
    let w = world(None).await;
    add_users(&w, &[("anna", "employee", Some("anna")), ("outsider", "employee", Some("outsider"))]).await;
    let server = Server::start(&w).await;
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    for i in 0..6 {
        let r = http.post(server.url("/v1/route")).bearer_auth(&w.tokens["router"]).json(&lead(i)).send().await.unwrap();
        assert_eq!(r.status(), 200);
    }
    // The form, in Russian unless the browser asks for English, with its double-submit token.
    let r = http.get(server.url("/sign-in")).header("accept-language", "ru-RU,ru;q=0.9").send().await.unwrap();
    assert_eq!(r.status(), 200);
    let (csrf, line) = set_cookie(&r, "allot_csrf").unwrap();
    assert!(line.contains("HttpOnly") && line.contains("SameSite=Lax") && !line.contains("Secure"), "{line}");
    let body = r.text().await.unwrap();
    assert!(
        body.contains(r#"<html lang="ru">"#) && body.contains("Вход") && body.contains(&csrf) && body.contains(r#"<label for="login">"#),
        "{body}"
    );
    let en = http.get(server.url("/sign-in")).header("accept-language", "en-GB,en;q=0.8").send().await.unwrap().text().await.unwrap();
    assert!(en.contains(r#"<html lang="en">"#) && en.contains("Sign in") && !en.contains("Вход"));
    let sign_in = |login: &'static str, password: &'static str, token: String, cookie: Option<String>| {
        let mut req = http.post(server.url("/sign-in")).header("content-type", "application/x-www-form-urlencoded").body(form(&[
            ("login", login),
            ("password", password),
            ("csrf", &token),
        ]));
        if let Some(c) = cookie {
            req = req.header("cookie", c);
        }
        req.send()
    };
    // No token cookie: another site's form; refused.
    assert_eq!(sign_in("anna", "пароль-на-весь-день", csrf.clone(), None).await.unwrap().status(), 403);
    let cookie = format!("allot_csrf={csrf}");
    let wrong = sign_in("anna", "не тот пароль", csrf.clone(), Some(cookie.clone())).await.unwrap();
    assert_eq!(wrong.status(), 401);
    let text = wrong.text().await.unwrap();
    assert!(text.contains("Неверный логин или пароль") && !text.contains("не тот пароль"), "{text}");
    let ok = sign_in("anna", "пароль-на-весь-день", csrf.clone(), Some(cookie.clone())).await.unwrap();
    assert_eq!((ok.status().as_u16(), ok.headers()["location"].to_str().unwrap()), (303, "/home"));
    let (session, line) = set_cookie(&ok, "allot_session").unwrap();
    assert!(session.starts_with("session_") && line.contains("HttpOnly") && line.contains("SameSite=Lax"), "{line}");
    // Home: what changed since the last visit; a first visit shows the latest changes.
    let home = |session: String| http.get(server.url("/home")).header("cookie", format!("allot_session={session}")).send();
    let page = home(session.clone()).await.unwrap().text().await.unwrap();
    assert!(page.contains("Это ваш первый вход") && page.contains("Получено 3 клиента, передано 0 клиентов."), "{page}");
    let again = sign_in("anna", "пароль-на-весь-день", csrf.clone(), Some(cookie.clone())).await.unwrap();
    let (second, _) = set_cookie(&again, "allot_session").unwrap();
    let page = home(second).await.unwrap().text().await.unwrap();
    assert!(
        page.contains("С вашего прошлого входа") && page.contains("Получено 0 клиентов") && page.contains("Ничего не изменилось"),
        "{page}"
    );
    // My clients: anna's three of the six leads (3:2:1), in Russian, with Russian dates.
    let mine = |cookie: String, query: &'static str| http.get(server.url(&format!("/my-clients{query}"))).header("cookie", cookie).send();
    let r = mine(format!("allot_session={session}"), "").await.unwrap();
    assert_eq!(r.status(), 200);
    let page = r.text().await.unwrap();
    assert!(page.contains("3 клиента") && page.contains("02.03.2026") && page.contains("desk"), "{page}");
    let held: Vec<String> = (0..6).map(|i| format!("lead{i:05}")).filter(|id| page.contains(id.as_str())).collect();
    assert_eq!(held.len(), 3, "only anna's own clients: {page}");
    // Sorted by the column asked for (the store's test checks the orders).
    let since = mine(format!("allot_session={session}"), "?sort=since").await.unwrap().text().await.unwrap();
    assert!(held.iter().all(|h| since.contains(h.as_str())) && since.contains(r#"href="/my-clients?sort=role&amp;q=""#), "{since}");
    // Search, by any part of the id, whatever its case.
    let query = format!("?q={}", held[1].to_uppercase());
    let one = http
        .get(server.url(&format!("/my-clients{query}")))
        .header("cookie", format!("allot_session={session}"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(one.contains("1 клиент,") && one.contains(&held[1]) && !one.contains(&held[0]) && !one.contains(&held[2]), "{one}");
    // The whole list as a file for Excel: a BOM, `;`, the reader's headers.
    let file = mine(format!("allot_session={session}"), ".csv").await.unwrap();
    assert_eq!(file.headers()["content-type"], "text/csv; charset=utf-8");
    let text = file.text().await.unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "\u{feff}Клиент;Название;Регион;Потенциал;Роль;С какого дня;Почему");
    assert_eq!(lines.len(), 4, "{text}");
    assert!(lines[1..].iter().all(|l| l.ends_with(";продажи;02.03.2026;desk") && held.iter().any(|h| l.starts_with(h.as_str()))), "{text}");
    // And as a workbook, read back as a user's XLSX is.
    let book = mine(format!("allot_session={session}"), ".xlsx").await.unwrap().bytes().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("my-clients.xlsx"), &book).unwrap();
    let sheet = allot_io::read_table(&dir.path().join("my-clients.xlsx"), allot_io::Encoding::Utf8).unwrap();
    assert_eq!(sheet.headers, ["Клиент", "Название", "Регион", "Потенциал", "Роль", "С какого дня", "Почему"]);
    assert_eq!(sheet.len(), 3);
    // The switch: English from then on.
    let r = http.get(server.url("/lang/en")).header("referer", server.url("/my-clients")).send().await.unwrap();
    assert_eq!((r.status().as_u16(), r.headers()["location"].to_str().unwrap()), (303, "/my-clients"));
    let (lang, _) = set_cookie(&r, "allot_lang").unwrap();
    let page = mine(format!("allot_session={session}; allot_lang={lang}"), "").await.unwrap().text().await.unwrap();
    assert!(page.contains("3 clients") && page.contains("2026-03-02") && page.contains("Sign out"), "{page}");
    // Someone else sees only their own: none.
    let other = sign_in("outsider", "пароль-на-весь-день", csrf.clone(), Some(cookie.clone())).await.unwrap();
    let (other_session, _) = set_cookie(&other, "allot_session").unwrap();
    let page = mine(format!("allot_session={other_session}"), "").await.unwrap().text().await.unwrap();
    assert!(page.contains("У вас пока нет клиентов") && !page.contains("lead0000"), "{page}");
    // Without a session: to the form. Signing out needs the session's token, and ends it.
    let r = mine(String::new(), "").await.unwrap();
    assert_eq!((r.status().as_u16(), r.headers()["location"].to_str().unwrap()), (303, "/sign-in"));
    let out = |token: &str| {
        http.post(server.url("/sign-out"))
            .header("cookie", format!("allot_session={session}"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form(&[("csrf", token)]))
            .send()
    };
    assert_eq!(out("forged").await.unwrap().status(), 403);
    let token = page_csrf(&mine(format!("allot_session={session}"), "").await.unwrap().text().await.unwrap());
    let r = out(&token).await.unwrap();
    assert_eq!(r.status(), 303);
    assert!(set_cookie(&r, "allot_session").is_some_and(|(v, line)| v.is_empty() && line.contains("Max-Age=0")));
    let r = mine(format!("allot_session={session}"), "").await.unwrap();
    assert_eq!(r.headers()["location"].to_str().unwrap(), "/sign-in", "the session ended");
    // Behind a TLS proxy the cookies are Secure.
    let r = http.get(server.url("/sign-in")).header("x-forwarded-proto", "https").send().await.unwrap();
    assert!(set_cookie(&r, "allot_csrf").is_some_and(|(_, line)| line.contains("; Secure")));
    server.stop().await;
}

/// The CSRF token of a page's sign-out form.
fn page_csrf(page: &str) -> String {
    let at = page.find(r#"name="csrf" value=""#).unwrap() + r#"name="csrf" value=""#.len();
    page[at..].split('"').next().unwrap().to_string()
}

/// Two employees of two teams, the desk's manager and the head of sales.
const STAFF: &[(&str, &str, Option<&str>)] = &[
    ("anna", "employee", Some("anna")),
    ("outsider", "employee", Some("outsider")),
    ("mgr", "manager", Some("mgr")),
    ("boss", "admin", None),
    ("chief", "admin", None),
];

/// The workspace as most of its tests need it: the world with its people (STAFF), a server, a
/// client that does not follow redirects, six routed leads (employee → client), and `logins`
/// signed in (cookie, CSRF token).
async fn staffed(
    logins: &[&'static str],
) -> (World, Server, reqwest::Client, BTreeMap<String, String>, BTreeMap<&'static str, (String, String)>) {
    staffed_with(logins, |_| {}).await
}

/// [`staffed`] with the server configured by `set`.
async fn staffed_with(
    logins: &[&'static str],
    set: impl FnOnce(&mut Config),
) -> (World, Server, reqwest::Client, BTreeMap<String, String>, BTreeMap<&'static str, (String, String)>) {
    let w = world(None).await;
    add_users(&w, STAFF).await;
    let server = Server::start_with(&w, set).await;
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let owner = route_six(&http, &server, &w).await;
    let who = sign_in_all(&http, &server, logins).await;
    (w, server, http, owner, who)
}

/// Does `f` with the world's store, as an operator at the command line would, beside the server.
async fn in_store(w: &World, f: impl FnOnce(&mut dyn allot_store::Store) + Send + 'static) {
    let location = w.location.clone();
    blocking(move || f(allot_store::open(&location).unwrap().as_mut())).await
}

/// Adds the workspace's people (login, role, employee), all with one password.
async fn add_users(w: &World, users: &'static [(&'static str, &'static str, Option<&'static str>)]) {
    let location = w.location.clone();
    blocking(move || {
        let mut store = allot_store::open(&location).unwrap();
        for &(login, role, employee) in users {
            let req = allot_app::users::UserRequest { login, employee, role, password: "пароль-на-весь-день" };
            allot_app::users::add(store.as_mut(), &req, &actor()).unwrap();
        }
    })
    .await;
}

/// Routes six leads (3:2:1 over anna, boris, vera); the lead id each employee got last.
async fn route_six(http: &reqwest::Client, server: &Server, w: &World) -> BTreeMap<String, String> {
    // Leads as a web form sends them: a company's name, its region and what it may buy.
    const NAMES: [(&str, &str, u32); 6] = [
        ("ООО «Ромашка»", "Москва", 1_200_000),
        ("АО «Северсталь-Сервис»", "Вологодская область", 850_000),
        ("ИП Петров", "Татарстан", 90_000),
        ("ООО «Уралхим»", "Свердловская область", 2_400_000),
        ("ООО «Балтика-Трейд»", "Санкт-Петербург", 640_000),
        ("АО «Кубань-Агро»", "Краснодарский край", 1_750_000),
    ];
    let mut owner = BTreeMap::new();
    for (i, (name, region, potential)) in NAMES.into_iter().enumerate() {
        let mut lead = lead(i);
        lead["attributes"] = json!({"source": "web", "name": name, "region": region, "potential": potential});
        let r: J =
            http.post(server.url("/v1/route")).bearer_auth(&w.tokens["router"]).json(&lead).send().await.unwrap().json().await.unwrap();
        owner.insert(r["roles"][0]["employee"].as_str().unwrap().to_string(), format!("lead{i:05}"));
    }
    owner
}

/// Signs each login in through the form: its session cookie and the session's CSRF token.
async fn sign_in_all(http: &reqwest::Client, server: &Server, logins: &[&'static str]) -> BTreeMap<&'static str, (String, String)> {
    let token = http.get(server.url("/sign-in")).send().await.unwrap();
    let (csrf, _) = set_cookie(&token, "allot_csrf").unwrap();
    let mut who = BTreeMap::new();
    for &login in logins {
        let r = http
            .post(server.url("/sign-in"))
            .header("cookie", format!("allot_csrf={csrf}"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form(&[("login", login), ("password", "пароль-на-весь-день"), ("csrf", &csrf)]))
            .send()
            .await
            .unwrap();
        let cookie = format!("allot_session={}", set_cookie(&r, "allot_session").unwrap().0);
        let page = http.get(server.url("/my-clients")).header("cookie", &cookie).send().await.unwrap().text().await.unwrap();
        who.insert(login, (cookie, page_csrf(&page)));
    }
    who
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_card_is_shown_to_those_who_may_see_the_client_and_to_nobody_else() {
    // Issue #16: the same access rules as the API's scopes, on every page; a refusal shows nothing
    // of the client.
    let w = world(None).await;
    add_users(&w, STAFF).await;
    let server = Server::start(&w).await;
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let owner: BTreeMap<String, String> = route_six(&http, &server, &w).await.into_iter().map(|(e, c)| (c, e)).collect();
    let who = sign_in_all(&http, &server, &["anna", "outsider", "mgr", "boss"]).await;
    let sessions: BTreeMap<&str, String> = who.iter().map(|(l, (c, _))| (*l, c.trim_start_matches("allot_session=").to_string())).collect();
    let card = |login: &'static str, client: String| {
        let cookie = format!("allot_session={}", sessions[login]);
        let url = server.url(&format!("/clients/{client}"));
        let http = http.clone();
        async move {
            let r = http.get(url).header("cookie", cookie).send().await.unwrap();
            (r.status().as_u16(), r.text().await.unwrap())
        }
    };
    let annas = owner.iter().find(|(_, e)| *e == "anna").unwrap().0.clone();
    let boris = owner.iter().find(|(_, e)| *e == "boris").unwrap().0.clone();
    // A deal of anna's client, routed as a CRM would send it: the card lists it.
    let deal = json!({"id": "deal-1", "client": annas, "date": "2026-03-02", "attributes": {"amount": 500, "date": "2026-03-02", "currency": "RUB"}});
    assert_eq!(http.post(server.url("/v1/route")).bearer_auth(&w.tokens["router"]).json(&deal).send().await.unwrap().status(), 200);
    let (status, page) = card("anna", annas.clone()).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("Сделки") && page.contains("deal-1") && page.contains("amount: 500"), "{page}");
    assert!(
        page.contains("Клиент ") && page.contains("source") && page.contains("web") && page.contains("История") && page.contains("desk"),
        "{page}"
    );
    let (status, page) = card("anna", boris.clone()).await;
    assert_eq!(status, 403);
    assert!(page.contains("недоступна") && !page.contains(&boris) && !page.contains("boris") && !page.contains("web"), "{page}");
    assert_eq!(card("outsider", annas.clone()).await.0, 403, "another team's employee");
    assert_eq!(card("mgr", boris.clone()).await.0, 200, "the desk's manager sees the desk's clients");
    assert_eq!(card("boss", boris.clone()).await.0, 200, "the head of sales sees every client");
    assert_eq!(card("boss", "nobody".into()).await.0, 404);
    let r = http.get(server.url(&format!("/clients/{annas}"))).send().await.unwrap();
    assert_eq!((r.status().as_u16(), r.headers()["location"].to_str().unwrap()), (303, "/sign-in"), "no session, no card");
    // Pins from the card: a manager or the head of sales, the session's token, people within reach.
    let change = |login: &'static str, client: String, action: &'static str, fields: Vec<(&'static str, String)>| {
        let (http, cookie, url) =
            (http.clone(), format!("allot_session={}", sessions[login]), server.url(&format!("/clients/{client}/{action}")));
        async move { post_form(&http, url, &cookie, &fields).await }
    };
    let token_of = |login: &'static str| {
        let (http, cookie, url) = (http.clone(), format!("allot_session={}", sessions[login]), server.url("/my-clients"));
        async move { page_csrf(&http.get(url).header("cookie", cookie).send().await.unwrap().text().await.unwrap()) }
    };
    let (mgr_token, anna_token) = (token_of("mgr").await, token_of("anna").await);
    let pin_to = |token: &str, employee: &str, reason: &str| {
        vec![("csrf", token.to_string()), ("role", "sales".to_string()), ("employee", employee.to_string()), ("reason", reason.to_string())]
    };
    assert_eq!(change("anna", annas.clone(), "pin", pin_to(&anna_token, "anna", "mine")).await.0, 403, "an employee pins nothing");
    assert_eq!(change("mgr", boris.clone(), "pin", pin_to("forged", "anna", "x")).await.0, 403, "a forged token");
    assert_eq!(change("mgr", boris.clone(), "pin", pin_to(&mgr_token, "outsider", "x")).await.0, 403, "out of the manager's reach");
    let (status, why) = change("mgr", boris.clone(), "pin", pin_to(&mgr_token, "anna", " ")).await;
    assert_eq!(status, 422, "a pin needs a reason");
    assert!(why.contains("для закрепления нужна причина"), "said in the user's language: {why}");
    assert_eq!(change("mgr", boris.clone(), "pin", pin_to(&mgr_token, "anna", "просьба клиента")).await.0, 303);
    let (_, page) = card("mgr", boris.clone()).await;
    assert!(page.contains("продажи → anna: просьба клиента") && page.contains("user:mgr") && page.contains("закреплён вручную"), "{page}");
    // Why routing chose boris, kept with the link, is said in the reader's language too.
    assert!(page.contains("группа «desk»: boris больше всех недополучил до своей доли") && !page.contains("furthest below"), "{page}");
    let unpin = vec![("csrf", mgr_token.clone()), ("role", "sales".to_string())];
    assert_eq!(change("mgr", boris.clone(), "unpin", unpin).await.0, 303);
    assert!(!card("mgr", boris.clone()).await.1.contains("sales → anna: просьба клиента"), "unpinned");
    // The team: loads as bars and a table; an absence shows its plan, which lands only when applied.
    let get = |login: &'static str, path: String| {
        let (http, cookie, url) = (http.clone(), format!("allot_session={}", sessions[login]), server.url(&path));
        async move {
            let r = http.get(url).header("cookie", cookie).send().await.unwrap();
            (r.status().as_u16(), r.headers().get("location").map(|l| l.to_str().unwrap().to_string()), r.text().await.unwrap())
        }
    };
    assert_eq!(get("anna", "/team".into()).await.0, 403, "an employee has no team page");
    let (status, _, page) = get("mgr", "/team".into()).await;
    assert_eq!(status, 200);
    assert!(
        page.contains("Нагрузка по ролям") && page.contains("<svg") && page.contains("anna · продажи") && !page.contains("outsider"),
        "{page}"
    );
    let today = allot_rules::civil_from_days(allot_app::clock::today());
    let week = allot_rules::civil_from_days(allot_app::clock::today() + 6);
    let absence = |employee: &str, cover: &str| {
        vec![
            ("csrf", mgr_token.clone()),
            ("employee", employee.to_string()),
            ("first", today.clone()),
            ("last", week.clone()),
            ("cover", cover.to_string()),
        ]
    };
    let post_absence = |fields: Vec<(&'static str, String)>| {
        http.post(server.url("/team/absence"))
            .header("cookie", format!("allot_session={}", sessions["mgr"]))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form(&fields.iter().map(|(k, v)| (*k, v.as_str())).collect::<Vec<_>>()))
            .send()
    };
    assert_eq!(post_absence(absence("outsider", "")).await.unwrap().status(), 403, "not the manager's team");
    let r = post_absence(absence("anna", "boris")).await.unwrap();
    assert_eq!(r.status(), 303, "{}", r.text().await.unwrap());
    let plan = r.headers()["location"].to_str().unwrap().to_string();
    assert!(plan.starts_with("/plans/plan_"), "{plan}");
    let (_, _, page) = get("mgr", plan.clone()).await;
    assert!(
        page.contains("План изменений")
            && page.contains("<td>anna</td>")
            && page.contains("<td>boris</td>")
            && page.contains("Применить план"),
        "{page}"
    );
    assert!(card("mgr", annas.clone()).await.1.contains("<td>anna</td>"), "nothing lands before it is applied");
    let apply = |plan: String| {
        let (http, url, cookie, fields) = (
            http.clone(),
            server.url(&format!("{plan}/apply")),
            format!("allot_session={}", sessions["mgr"]),
            [("csrf", mgr_token.clone())],
        );
        async move { post_form(&http, url, &cookie, &fields).await }
    };
    let (status, text) = apply(plan.clone()).await;
    assert_eq!(status, 200);
    assert!(text.contains("План применён"));
    let (_, page) = card("mgr", annas.clone()).await;
    let now = &page[page.find("Ответственные сейчас").unwrap()..page.find("История").unwrap()];
    assert!(now.contains("<td>boris</td>") && !now.contains("<td>anna</td>"), "boris covers for anna: {now}");
    let (_, _, team) = get("mgr", "/team".into()).await;
    assert!(team.contains("применено"), "{team}");
    // anna is back early: the absence ends today (not in a week); what changes is shown first.
    let action = team[team.find("/team/absences/").unwrap()..].split('"').next().unwrap().to_string();
    let end = |confirm: &'static str| {
        http.post(server.url(&action))
            .header("cookie", format!("allot_session={}", sessions["mgr"]))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form(&[("csrf", &mgr_token), ("last", &today), ("confirm", confirm)]))
            .send()
    };
    let preview = end("").await.unwrap().text().await.unwrap();
    assert!(preview.contains("anna возвращается раньше") && preview.contains("4 клиента, которых замещали"), "{preview}");
    let tomorrow = allot_i18n::format::date(allot_i18n::Lang::Ru, allot_app::clock::today() + 1);
    assert!(preview.contains(&format!("anna возвращается {tomorrow}")), "{preview}");
    let (_, page) = card("mgr", annas.clone()).await;
    assert!(
        page.contains(&allot_i18n::format::date(allot_i18n::Lang::Ru, allot_app::clock::today() + 7)),
        "a preview changes nothing: {page}"
    );
    let r = end("yes").await.unwrap();
    assert_eq!((r.status().as_u16(), r.headers()["location"].to_str().unwrap()), (303, "/team"));
    let (_, page) = card("mgr", annas.clone()).await;
    let history = &page[page.find("История").unwrap()..];
    assert!(history.contains(&tomorrow), "boris's cover ends, anna's link begins tomorrow: {history}");
    assert!(!history.contains(&allot_i18n::format::date(allot_i18n::Lang::Ru, allot_app::clock::today() + 7)), "{history}");
    let r = end("yes").await.unwrap();
    assert_eq!(r.status(), 422, "ended already: it would not shorten it");
    let why = r.text().await.unwrap();
    assert!(why.contains("Не получилось: отсутствие anna и так заканчивается") && why.contains("его не сокращает"), "in Russian: {why}");
    // A leaver: vera's clients are handed over by a plan shown first, applied on confirmation.
    let leave = http
        .post(server.url("/team/leaver"))
        .header("cookie", format!("allot_session={}", sessions["mgr"]))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(&[("csrf", &mgr_token), ("employee", "vera"), ("on", &today)]))
        .send()
        .await
        .unwrap();
    assert_eq!(leave.status(), 303);
    let plan = leave.headers()["location"].to_str().unwrap().to_string();
    let (_, _, page) = get("mgr", plan.clone()).await;
    assert!(page.contains("<td>vera</td>"), "{page}");
    assert!(apply(plan.clone()).await.1.contains("План применён"));
    let (_, _, team) = get("mgr", "/team".into()).await;
    let leavers = &team[team.find("Уходящие сотрудники").unwrap()..team.find("Отметить уход").unwrap()];
    assert!(leavers.contains("<td>vera</td>") && leavers.contains("применено"), "{leavers}");
    assert!(!team.contains("vera · продажи"), "vera holds nothing any more: {team}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_and_action_of_the_workspace_answers_each_role_as_its_scope_allows() {
    // Issue #16 §5: each role tries every page and action; a refusal carries nothing of the data.
    // (cookie, the session's CSRF token) per login; "nobody" has neither.
    let (_w, server, http, owner, mut who) = staffed(&["anna", "outsider", "mgr", "boss"]).await;
    let (annas, boris) = (owner["anna"].clone(), owner["boris"].clone());
    who.insert("nobody", (String::new(), "none".into()));
    // A plan to look at and apply: the head of sales plans anna's absence covered by boris.
    let today = allot_rules::civil_from_days(allot_app::clock::today());
    let r = http
        .post(server.url("/team/absence"))
        .header("cookie", &who["boss"].0)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(&[("csrf", &who["boss"].1), ("employee", "anna"), ("first", &today), ("last", &today), ("cover", "boris")]))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let plan = r.headers()["location"].to_str().unwrap().to_string();
    let pages = [
        "/home".to_string(),
        "/my-clients".to_string(),
        "/my-clients.csv".to_string(),
        format!("/clients/{annas}"),
        format!("/clients/{boris}"),
        "/team".to_string(),
        plan.clone(),
    ];
    // Expected status per login, page by page (303: to the sign-in form). A plan is seen by an
    // admin and by whoever made it: the manager is not shown the head of sales' plan.
    let expected: [(&str, [u16; 7]); 5] = [
        ("nobody", [303, 303, 303, 303, 303, 303, 303]),
        ("anna", [200, 200, 200, 200, 403, 403, 403]),
        ("outsider", [200, 200, 200, 403, 403, 403, 403]),
        ("mgr", [200, 200, 200, 200, 200, 200, 404]),
        ("boss", [200, 200, 200, 200, 200, 200, 200]),
    ];
    for (login, statuses) in expected {
        for (path, want) in pages.iter().zip(statuses) {
            let r = http.get(server.url(path)).header("cookie", &who[login].0).send().await.unwrap();
            let status = r.status().as_u16();
            let body = r.text().await.unwrap();
            assert_eq!(status, want, "{login} GET {path}: {body}");
            if status == 403 {
                for other in owner.values() {
                    assert!(!body.contains(other.as_str()), "{login} GET {path} shows {other}: {body}");
                }
            }
        }
    }
    // Actions: only a manager (within reach) or the head of sales changes anything; every form
    // needs its session's token.
    let post = |login: &'static str, path: String, fields: Vec<(&'static str, String)>| {
        let (http, cookie, url) = (http.clone(), who[login].0.clone(), server.url(&path));
        async move {
            let body = form(&fields.iter().map(|(k, v)| (*k, v.as_str())).collect::<Vec<_>>());
            http.post(url)
                .header("cookie", cookie)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(body)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    let pin = |login: &'static str, employee: &str| {
        vec![
            ("csrf", who[login].1.clone()),
            ("role", "sales".to_string()),
            ("employee", employee.to_string()),
            ("reason", "проверка".to_string()),
        ]
    };
    assert_eq!(post("nobody", format!("/clients/{annas}/pin"), pin("nobody", "anna")).await, 303);
    assert_eq!(post("anna", format!("/clients/{annas}/pin"), pin("anna", "anna")).await, 403);
    assert_eq!(post("outsider", format!("/clients/{annas}/pin"), pin("outsider", "outsider")).await, 403);
    assert_eq!(post("mgr", format!("/clients/{annas}/pin"), pin("anna", "anna")).await, 403, "anna's token is not mgr's");
    assert_eq!(post("mgr", format!("/clients/{annas}/pin"), pin("mgr", "outsider")).await, 403, "outsider is no teammate");
    assert_eq!(post("mgr", format!("/clients/{annas}/pin"), pin("mgr", "boris")).await, 303);
    assert_eq!(post("boss", format!("/clients/{annas}/unpin"), vec![("csrf", who["boss"].1.clone()), ("role", "sales".into())]).await, 303);
    let absence = |login: &'static str| {
        vec![
            ("csrf", who[login].1.clone()),
            ("employee", "boris".to_string()),
            ("first", today.clone()),
            ("last", today.clone()),
            ("cover", String::new()),
        ]
    };
    assert_eq!(post("anna", "/team/absence".into(), absence("anna")).await, 403);
    assert_eq!(post("outsider", "/team/absence".into(), absence("outsider")).await, 403);
    let end = |login: &'static str| vec![("csrf", who[login].1.clone()), ("last", today.clone())];
    assert_eq!(post("nobody", "/team/absences/1/end".into(), end("nobody")).await, 303);
    assert_eq!(post("anna", "/team/absences/1/end".into(), end("anna")).await, 403);
    assert_eq!(post("outsider", "/team/absences/1/end".into(), end("outsider")).await, 403);
    assert_eq!(post("mgr", "/team/absences/1/end".into(), end("anna")).await, 403, "anna's token is not mgr's");
    assert_eq!(post("mgr", "/team/absences/99/end".into(), end("mgr")).await, 403, "no such absence: refused alike");
    assert_eq!(post("anna", format!("{plan}/apply"), vec![("csrf", who["anna"].1.clone())]).await, 403);
    assert_eq!(post("mgr", format!("{plan}/apply"), vec![("csrf", "forged".into())]).await, 403);
    assert_eq!(post("mgr", format!("{plan}/apply"), vec![("csrf", who["mgr"].1.clone())]).await, 422, "not the manager's plan");
    assert_eq!(post("nobody", "/sign-out".into(), vec![("csrf", "none".into())]).await, 303);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_head_of_sales_sees_each_one_s_contribution_and_its_balance_and_downloads_it() {
    // Issue #17 §4: for a period, per employee — holdings, credited revenue, realisation — the
    // balance per role with what its figures mean, the charts, and the workbook, in Russian.
    let w = world_routing_sales().await;
    add_users(&w, STAFF).await;
    let server = Server::start(&w).await;
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let r = http.post(server.url("/v1/route")).bearer_auth(&w.tokens["router"]).json(&lead(1)).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let sale = json!({"id": "s1", "client": "lead00001", "attributes": {"amount": 100001, "date": "2026-03-10", "currency": "RUB"}});
    assert_eq!(http.post(server.url("/v1/route")).bearer_auth(&w.tokens["router"]).json(&sale).send().await.unwrap().status(), 200);
    let who = sign_in_all(&http, &server, &["boss", "mgr", "anna"]).await;
    // The screen says when its report is still being made and renews itself (`Refresh`): followed.
    let get = |login: &'static str, path: &'static str| {
        let (http, cookie, url) = (http.clone(), who[login].0.clone(), server.url(path));
        async move {
            loop {
                let r = http.get(&url).header("cookie", &cookie).send().await.unwrap();
                let (status, kind) = (r.status().as_u16(), r.headers().get("content-type").map(|v| v.to_str().unwrap().to_string()));
                let renews = r.headers().contains_key("refresh");
                let body = r.bytes().await.unwrap().to_vec();
                let text = String::from_utf8_lossy(&body).to_string();
                // Figures kept from before a change are shown as they are (and renewed).
                if !renews || text.contains("Эти цифры посчитаны") {
                    return (status, kind, body);
                }
                assert!(text.contains("Отчёт готовится"), "says why it renews: {text}");
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            }
        }
    };
    let (status, _, page) = get("boss", "/contribution?from=2026-03-01&to=2026-03-31").await;
    let page = String::from_utf8(page).unwrap();
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("Вклад сотрудников") && page.contains("Период 01.03.2026 — 31.03.2026"), "{page}");
    assert!(page.contains("1\u{202f}000,01\u{a0}₽"), "anna's sale, as Russian writes money: {page}");
    assert!(page.contains("Баланс по ролям") && page.contains("Джини") && page.contains("Коэффициент Джини — 0"), "{page}");
    assert!(page.matches("<svg").count() >= 2, "both charts are drawn: {page}");
    assert!(page.contains("href=\"/contribution\""), "the head of sales has it in the menu");
    assert!(page.contains("<option value=\"source\">по полю source</option>"), "the clients' own columns are the segments: {page}");
    // A person changes the store: the report kept is shown at once, dated, while the new one is made.
    in_store(&w, |store| {
        allot_app::stored::absent(store, "vera", day("2026-03-20"), day("2026-03-21"), None, &actor()).unwrap();
    })
    .await;
    let (status, _, page) = get("boss", "/contribution?from=2026-03-01&to=2026-03-31").await;
    let page = String::from_utf8(page).unwrap();
    assert!(status == 200 && page.contains("Эти цифры посчитаны") && page.contains("1\u{202f}000,01\u{a0}₽"), "{page}");
    let mut fresh = false;
    for _ in 0..100 {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        let (_, _, page) = get("boss", "/contribution?from=2026-03-01&to=2026-03-31").await;
        if !String::from_utf8(page).unwrap().contains("Эти цифры посчитаны") {
            fresh = true;
            break;
        }
    }
    assert!(fresh, "the new report replaces it");
    // The workbook, read back as a user's XLSX is: the reader's headers, anna's revenue.
    let (status, kind, book) = get("boss", "/contribution.xlsx?from=2026-03-01&to=2026-03-31").await;
    assert_eq!((status, kind.as_deref()), (200, Some("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")));
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("c.xlsx"), &book).unwrap();
    let sheet = allot_io::read_table(&dir.path().join("c.xlsx"), allot_io::Encoding::Utf8).unwrap();
    assert_eq!(sheet.headers[0], "Роль");
    // A bad date is said, in Russian, and nothing is computed.
    let (status, _, page) = get("boss", "/contribution?from=2026-13-01").await;
    assert_eq!(status, 422);
    assert!(String::from_utf8(page).unwrap().contains("«2026-13-01» — не дата"));
    // A manager and an employee: refused, with nothing of it in the body, and no menu entry.
    for login in ["mgr", "anna"] {
        for path in ["/contribution?from=2026-03-01&to=2026-03-31", "/contribution.xlsx?from=2026-03-01&to=2026-03-31"] {
            let (status, _, body) = get(login, path).await;
            let body = String::from_utf8_lossy(&body);
            assert_eq!(status, 403, "{login} {path}");
            assert!(!body.contains("000,01") && !body.contains("lead00001") && !body.contains("Джини"), "{login}: {body}");
        }
        let (_, _, home) = get(login, "/home").await;
        assert!(!String::from_utf8_lossy(&home).contains("href=\"/contribution\""), "{login} has no menu entry");
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_head_of_sales_watches_the_pools_and_makes_and_revokes_an_integration_s_token() {
    // Issue #17 §5: each pool's fairness state, and API tokens made (the secret shown once),
    // listed and revoked from the workspace; nobody else sees any of it.
    let (w, server, http, _, who) = staffed(&["boss", "mgr"]).await;
    // Everyone of the pool away on 2 March: a lead of that day finds nobody (and waits).
    in_store(&w, |store| {
        for e in ["anna", "boris", "vera"] {
            allot_app::stored::absent(store, e, day("2026-03-02"), day("2026-03-02"), None, &actor()).unwrap();
        }
    })
    .await;
    let r = http.post(server.url("/v1/route")).bearer_auth(&w.tokens["router"]).json(&lead(50)).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let get = |login: &'static str, path: &'static str| {
        let (http, cookie, url) = (http.clone(), who[login].0.clone(), server.url(path));
        async move {
            let r = http.get(url).header("cookie", cookie).send().await.unwrap();
            (r.status().as_u16(), r.text().await.unwrap())
        }
    };
    let post = |login: &'static str, path: String, fields: Vec<(&'static str, String)>| {
        let (http, cookie, url) = (http.clone(), who[login].0.clone(), server.url(&path));
        async move { post_form(&http, url, &cookie, &fields).await }
    };
    let (status, page) = get("boss", "/routing").await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("Группа desk") && page.contains("распределено 6 обращений"), "six leads went through the pool: {page}");
    for member in ["<td>anna</td>", "<td>boris</td>", "<td>vera</td>"] {
        assert!(page.contains(member), "{member}: {page}");
    }
    assert!(page.contains("Недополучено") && page.contains("больше всех недополучил"), "{page}");
    // The lead nobody took waits, with a way to its card; the latest leads say who took them and why.
    let waiting = &page[page.find("Обращения, которые никто не принял").unwrap()..page.find("Последние распределённые").unwrap()];
    assert!(waiting.contains("href=\"/clients/lead00050\"") && waiting.contains("продажи") && !waiting.contains("lead00001"), "{waiting}");
    let recent = &page[page.find("Последние распределённые").unwrap()..page.find("Ключи API").unwrap()];
    assert!(recent.contains("lead00005") && recent.contains("больше всех недополучил"), "{recent}");
    let tokens = &page[page.find("Ключи API").unwrap()..];
    assert!(
        tokens.contains("<td>router</td>") && tokens.contains("<td>outsider</td>") && tokens.contains("действует"),
        "the world's tokens: {tokens}"
    );
    // A token for an integration: its secret is shown once, and it routes.
    let csrf = who["boss"].1.clone();
    let made = |label: &str, scope: &str, employee: &str| {
        vec![
            ("csrf", csrf.clone()),
            ("label", label.to_string()),
            ("scope", scope.to_string()),
            ("employee", employee.to_string()),
            ("expires", String::new()),
        ]
    };
    let (status, page) = post("boss", "/routing/tokens".into(), made("Битрикс24", "router", "")).await;
    assert_eq!(status, 200, "{page}");
    let secret = page.split("<code id=\"secret\">").nth(1).and_then(|r| r.split("</code>").next()).unwrap().to_string();
    assert!(secret.starts_with("allot_") && page.contains("показывается один раз"), "{page}");
    let route = |secret: String| {
        let (http, url) = (http.clone(), server.url("/v1/route"));
        async move { http.post(url).bearer_auth(secret).json(&lead(77)).send().await.unwrap().status().as_u16() }
    };
    assert_eq!(route(secret.clone()).await, 200, "the new token routes");
    // Refusals in Russian: no label, a manager's token without its employee.
    let (status, page) = post("boss", "/routing/tokens".into(), made(" ", "router", "")).await;
    assert!(status == 422 && page.contains("У ключа должно быть название"), "{page}");
    let (status, page) = post("boss", "/routing/tokens".into(), made("отчёты", "manager", "")).await;
    assert!(status == 422 && page.contains("укажите сотрудника"), "{page}");
    // Revoked from the list: it stops working (the servers' caches forget within a second).
    let (_, page) = get("boss", "/routing").await;
    let at = page.find("Отозвать ключ Битрикс24").unwrap();
    let action = page[..at].rsplit("action=\"").next().unwrap().split('"').next().unwrap().to_string();
    assert!(action.starts_with("/routing/tokens/") && action.ends_with("/revoke"), "{action}");
    assert_eq!(post("mgr", action.clone(), vec![("csrf", who["mgr"].1.clone())]).await.0, 403, "a manager revokes nothing");
    assert_eq!(post("boss", action.clone(), vec![("csrf", "forged".into())]).await.0, 403, "a forged form");
    assert_eq!(post("boss", action, vec![("csrf", csrf.clone())]).await.0, 303);
    let mut status = 0;
    for _ in 0..40 {
        status = route(secret.clone()).await;
        if status == 401 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(status, 401, "a revoked token routes nothing");
    assert!(get("boss", "/routing").await.1.contains("отозван: user:boss"));
    // A manager: refused everything here, with nothing of it in the body.
    let (status, page) = get("mgr", "/routing").await;
    assert!(status == 403 && !page.contains("desk") && !page.contains("Битрикс24"), "{page}");
    assert_eq!(
        post("mgr", "/routing/tokens".into(), vec![("csrf", who["mgr"].1.clone()), ("label", "x".into()), ("scope", "admin".into())])
            .await
            .0,
        403
    );
    server.stop().await;
}

/// A `multipart/form-data` body as a browser sends a form with a file: (content type, body).
fn multipart(fields: &[(&str, &str)], file: (&str, &[u8])) -> (String, Vec<u8>) {
    let boundary = "----allot-test-boundary-7MA4YWxkTrZu0gW";
    let mut body = Vec::new();
    for (name, value) in fields {
        body.extend_from_slice(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n").as_bytes());
    }
    body.extend_from_slice(
        format!("--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{}\"\r\nContent-Type: text/csv\r\n\r\n", file.0)
            .as_bytes(),
    );
    body.extend_from_slice(file.1);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_with_a_bad_line_imports_nothing_and_says_where_and_a_good_one_shows_its_plan() {
    // Issue #17 §6: a file as users have it (`;`, Windows-1251 from 1C); every error with its
    // line and nothing imported; a good file imported and its plan shown, applied on confirmation.
    let (_w, server, http, _, who) = staffed(&["boss", "mgr"]).await;
    let send = |login: &'static str, csrf: String, what: &'static str, encoding: &'static str, file: (&'static str, Vec<u8>)| {
        let (http, cookie, url) = (http.clone(), who[login].0.clone(), server.url("/imports"));
        async move {
            let (kind, body) = multipart(&[("csrf", &csrf), ("kind", what), ("encoding", encoding)], (file.0, &file.1));
            let r = http.post(url).header("cookie", cookie).header("content-type", kind).body(body).send().await.unwrap();
            let location = r.headers().get("location").map(|v| v.to_str().unwrap().to_string());
            (r.status().as_u16(), location, r.text().await.unwrap())
        }
    };
    let upload = |login: &'static str, csrf: String, encoding: &'static str, file: (&'static str, Vec<u8>)| {
        send(login, csrf, "clients", encoding, file)
    };
    let csrf = who["boss"].1.clone();
    // The same client twice: line 3 repeats line 2's id.
    let bad = "id;name;region\nk-1;ООО Север;RU-MOW\nk-1;ООО Юг;RU-KDA\n".as_bytes().to_vec();
    let (status, _, page) = upload("boss", csrf.clone(), "", ("клиенты.csv", bad)).await;
    assert_eq!(status, 422, "{page}");
    assert!(page.starts_with("<!DOCTYPE html>"), "a refusal of the workspace is a page, not the API's JSON: {page}");
    assert!(!page.contains("/tmp") && !page.contains(".tmp"), "the file is named as the user named it: {page}");
    assert!(page.contains("клиенты.csv:3") && page.contains("Ничего не загружено"), "the place of the error: {page}");
    assert_eq!(http.get(server.url("/clients/k-1")).header("cookie", &who["boss"].0).send().await.unwrap().status(), 404, "nothing landed");
    // The same file as 1C writes it, in Windows-1251, fixed: imported, then its plan.
    let good: Vec<u8> = "id;name;region\nk-1;ООО Север;RU-MOW\nk-2;ООО Юг;RU-KDA\n"
        .chars()
        .map(|c| match c {
            'А'..='я' => (c as u32 - 'А' as u32 + 0xC0) as u8,
            c => c as u8,
        })
        .collect();
    let (status, location, page) = upload("boss", csrf.clone(), "cp1251", ("клиенты.csv", good)).await;
    assert_eq!(status, 303, "{page}");
    let plan = location.unwrap();
    assert!(plan.starts_with("/plans/"), "{plan}");
    let page = http.get(server.url(&plan)).header("cookie", &who["boss"].0).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("План изменений") && page.contains("загрузка файла клиенты.csv") && page.contains("Предложить"), "{page}");
    let card = http.get(server.url("/clients/k-2")).header("cookie", &who["boss"].0).send().await.unwrap().text().await.unwrap();
    assert!(card.contains("ООО Юг"), "read as Windows-1251: {card}");
    // Deals, read a chunk at a time as `allot import` reads them (issue #19): a client the store
    // does not know is told at its line, and nothing lands.
    let deals = "id;client_id;date;amount\nd-1;k-1;2026-02-01;100\nd-2;k-9;2026-02-02;200\n".as_bytes().to_vec();
    let (status, _, page) = send("boss", csrf.clone(), "deals", "", ("сделки.csv", deals)).await;
    assert_eq!(status, 422, "{page}");
    assert!(page.contains("сделки.csv:3") && page.contains("k-9"), "the unknown client at its line: {page}");
    let deals = "id;client_id;date;amount\nd-1;k-1;2026-02-01;100\nd-2;k-2;2026-02-02;200\n".as_bytes().to_vec();
    let (status, _, page) = send("boss", csrf.clone(), "deals", "", ("сделки.csv", deals)).await;
    assert!(status == 303 || status == 200, "{status}: {page}");
    let card = http.get(server.url("/clients/k-2")).header("cookie", &who["boss"].0).send().await.unwrap().text().await.unwrap();
    assert!(card.contains("d-2"), "the deal landed: {card}");
    // Only the head of sales, with the session's own token.
    assert_eq!(upload("mgr", who["mgr"].1.clone(), "", ("c.csv", b"id\nk-9\n".to_vec())).await.0, 403);
    assert_eq!(upload("boss", "forged".into(), "", ("c.csv", b"id\nk-9\n".to_vec())).await.0, 403);
    assert_eq!(http.get(server.url("/imports")).header("cookie", &who["mgr"].0).send().await.unwrap().status(), 403);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rule_builder_edits_the_scheme_checks_it_as_it_goes_and_makes_its_plan() {
    // Issue #17 §1: a rule built from the data's columns and values (no TOML typed), shown in the
    // text too; the check says who gains and loses; a located error; the plan for approval.
    let (_w, server, http, _, who) = staffed(&["boss", "mgr"]).await;
    let (cookie, csrf) = who["boss"].clone();
    let (status, page) = {
        let r = http.get(server.url("/rules")).header("cookie", &cookie).send().await.unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    };
    assert_eq!(status, 200, "{page}");
    assert!(
        page.contains("Правила распределения") && page.contains("<code>desk</code>") && page.contains("Схема проверяется"),
        "the check follows: {page}"
    );
    assert!(page.contains("Москва (RU-MOW)"), "regions offered by their Russian names: {page}");
    let text = page[page.find("name=\"toml\"").unwrap()..].split_once('>').unwrap().1.split("</textarea>").next().unwrap();
    let text = text.replace("&quot;", "\"").replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&");
    assert!(text.contains("[[rules]]") && text.contains("id = \"desk\""), "{text}");
    let post = |path: &'static str, fields: Vec<(&'static str, String)>| {
        let (http, cookie, url) = (http.clone(), cookie.clone(), server.url(path));
        async move { post_form(&http, url, &cookie, &fields).await }
    };
    let (status, live) = post("/rules/check", vec![("csrf", csrf.clone()), ("toml", text.clone())]).await;
    assert!(status == 200 && live.contains("Схема читается") && live.contains("Охват по ролям"), "{live}");
    // Moscow's clients to boris, before the pool: built, not typed.
    let add = vec![
        ("csrf", csrf.clone()),
        ("toml", text.clone()),
        ("action", "add-rule".into()),
        ("rule_role", "sales".into()),
        ("rule_id", "moscow".into()),
        ("a1", "region".into()),
        ("o1", "eq".into()),
        ("v1", "RU-MOW".into()),
        ("join", "all".into()),
        ("target", "employee".into()),
        ("employee", "boris".into()),
        ("before", "desk".into()),
    ];
    let (status, page) = post("/rules", add.clone()).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("Правило moscow добавлено"), "{page}");
    assert!(page.contains("region = &quot;text&quot;"), "a column the store does not type is declared: {page}");
    assert!(
        page.contains("when = &#39;region == &quot;RU-MOW&quot;&#39;") || page.contains("when = 'region == &quot;RU-MOW&quot;'"),
        "in the text view: {page}"
    );
    // The six leads went 3:2:1 to anna, boris and vera; Moscow's (the first) was anna's.
    let gains = &page[page.find("Кто получает и кто передаёт").unwrap()..];
    let row =
        |who: &str| gains[gains.find(&format!("<td>{who}</td><td>продажи</td>")).unwrap()..].split("</tr>").next().unwrap().to_string();
    assert!(
        row("boris").contains("<td class=\"num\">2</td><td class=\"num\">3</td><td class=\"num\">+1</td>"),
        "boris gains Moscow's client: {gains}"
    );
    assert!(
        row("anna").contains("<td class=\"num\">3</td><td class=\"num\">2</td><td class=\"num\"></td><td class=\"num\">−1</td>"),
        "anna hands it over: {gains}"
    );
    let by_rule = &gains[gains.find("Переходы по правилам").unwrap()..];
    assert!(by_rule.contains("<code>moscow</code></td><td class=\"num\">1</td>"), "{by_rule}");
    let first = page.find("<code>moscow</code>").unwrap();
    assert!(first < page.find("<code>desk</code>").unwrap(), "before the pool, as asked: {page}");
    // The same identifier again is refused, saying why; the text stays as it was.
    let new_text = {
        let t = page[page.find("name=\"toml\"").unwrap()..].split_once('>').unwrap().1.split("</textarea>").next().unwrap().to_string();
        t.replace("&quot;", "\"").replace("&#39;", "'").replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    };
    let mut again = add.clone();
    again[1] = ("toml", new_text.clone());
    let (status, page) = post("/rules", again).await;
    assert!(status == 200 && page.contains("Правило moscow уже есть"), "{page}");
    // A test turned round: "not".
    let not = vec![
        ("csrf", csrf.clone()),
        ("toml", new_text.clone()),
        ("action", "add-rule".into()),
        ("rule_role", "service".into()),
        ("rule_id", "outside-moscow".into()),
        ("a1", "region".into()),
        ("o1", "eq".into()),
        ("v1", "RU-MOW".into()),
        ("n1", "on".into()),
        ("target", "employee".into()),
        ("employee", "vera".into()),
    ];
    let (status, page) = post("/rules", not).await;
    assert!(status == 200 && page.contains("<code>not (region == &quot;RU-MOW&quot;)</code>"), "{page}");
    // An edit of the text shows in the lists, and an error is located.
    let typed = format!("{new_text}\n[[rules]]\nid = \"typed\"\nrole = \"service\"\nemployee = \"vera\"\n");
    let (status, live) = post("/rules/check", vec![("csrf", csrf.clone()), ("toml", typed)]).await;
    assert!(status == 200 && live.contains("<code>typed</code>") && live.contains("сервис <code>service</code>"), "{live}");
    // Checked against the store as the previous check read it (the same columns): still exact.
    assert!(live.contains("<td>сервис</td><td class=\"num\">6</td><td class=\"num\">6</td>"), "vera covers the six in service: {live}");
    let broken = new_text.replace("employee = \"boris\"", "employee = \"borys\"");
    let (status, live) = post("/rules/check", vec![("csrf", csrf.clone()), ("toml", broken)]).await;
    assert!(status == 200 && live.contains("черновик:") && live.contains("borys") && live.contains("Исправьте"), "{live}");
    // The plan of the draft, kept for approval.
    let r = http
        .post(server.url("/rules"))
        .header("cookie", &cookie)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(&[("csrf", &csrf), ("toml", &new_text), ("action", "plan")]))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let plan = r.headers()["location"].to_str().unwrap().to_string();
    let page = http.get(server.url(&plan)).header("cookie", &cookie).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("новая версия схемы") && page.contains("правило moscow: добавлено") && page.contains("Предложить"), "{page}");
    // The head of sales' screen only.
    let (mc, mt) = who["mgr"].clone();
    assert_eq!(http.get(server.url("/rules")).header("cookie", &mc).send().await.unwrap().status(), 403);
    let (status, body) = post_form(&http, server.url("/rules/check"), &mc, &[("csrf", mt), ("toml", new_text.clone())]).await;
    assert!(status == 403 && !body.contains("moscow"), "{body}");
    server.stop().await;
}

/// The store's reads for the rule builder's checks so far (`allot_draft_reads_total`).
async fn draft_reads(http: &reqwest::Client, server: &Server) -> u64 {
    let text = http.get(server.url("/metrics")).send().await.unwrap().text().await.unwrap();
    text.lines().find_map(|l| l.strip_prefix("allot_draft_reads_total ")).map_or(0, |n| n.trim().parse().unwrap())
}

/// The reads once they stop moving: the same count for longer than the keeper's 5 s between looks.
async fn settled_draft_reads(http: &reqwest::Client, server: &Server) -> u64 {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let (mut last, mut since) = (draft_reads(http, server).await, std::time::Instant::now());
    loop {
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
        let n = draft_reads(http, server).await;
        if n != last {
            (last, since) = (n, std::time::Instant::now());
        } else if since.elapsed() > std::time::Duration::from_secs(6) {
            return n;
        }
        assert!(std::time::Instant::now() < deadline, "the reads never settled ({n})");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_store_is_read_ahead_of_the_rule_builder_s_checks_and_again_after_a_person_changes_it() {
    // Issue #17 §7: reading the store is the slow part of a check (seconds on a million clients):
    // the server reads it ahead — when the builder is opened, and again after a person changed the
    // store — so that the check of an edit finds it read.
    let (w, server, http, _, who) = staffed(&["boss"]).await;
    let (cookie, csrf) = who["boss"].clone();
    assert_eq!(settled_draft_reads(&http, &server).await, 0, "nothing read before anyone opens the builder");
    let page = http.get(server.url("/rules")).header("cookie", &cookie).send().await.unwrap().text().await.unwrap();
    let before = settled_draft_reads(&http, &server).await;
    assert_eq!(before, 1, "read ahead once the builder is opened");
    let text = page[page.find("name=\"toml\"").unwrap()..].split_once('>').unwrap().1.split("</textarea>").next().unwrap();
    let text = text.replace("&quot;", "\"").replace("&#39;", "'").replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&");
    let check = || {
        let (http, cookie, url, fields) =
            (http.clone(), cookie.clone(), server.url("/rules/check"), [("csrf", csrf.clone()), ("toml", text.clone())]);
        async move { post_form(&http, url, &cookie, &fields).await }
    };
    let (status, live) = check().await;
    assert!(status == 200 && live.contains("Охват по ролям") && live.contains("<td class=\"num\">6</td>"), "the six routed leads: {live}");
    assert_eq!(draft_reads(&http, &server).await, before, "the check used the read made ahead");
    // A person's change beside the server (an absence registered at the command line): read
    // again, unasked, once.
    in_store(&w, |store| {
        allot_app::stored::absent(store, "vera", day("2026-03-02"), day("2026-03-03"), None, &actor()).unwrap();
    })
    .await;
    let after = settled_draft_reads(&http, &server).await;
    assert_eq!(after, before + 1, "read again after the change");
    assert_eq!(check().await.0, 200);
    assert_eq!(draft_reads(&http, &server).await, after, "and that read serves the next check");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_territory_run_refuses_bad_options_and_every_territory_screen_is_the_head_of_sales_alone() {
    // Issue #17 §3: options are checked before anything runs; manager and employee are refused
    // every territory screen and action (403, nothing of the data).
    let (_w, server, http, _, who) = staffed(&["boss", "mgr", "anna"]).await;
    let run = |login: &'static str, fields: Vec<(&'static str, &'static str)>| {
        let (http, cookie, csrf, url) = (http.clone(), who[login].0.clone(), who[login].1.clone(), server.url("/territories/runs"));
        async move {
            let mut all = vec![("csrf", csrf)];
            all.extend(fields.into_iter().map(|(k, v)| (k, v.to_string())));
            post_form(&http, url, &cookie, &all).await
        }
    };
    let (status, page) = run("boss", vec![("k", "3"), ("tolerance", "сто")]).await;
    assert!(status == 422 && page.contains("«сто» — не процент"), "{page}");
    let (status, page) = run("boss", vec![("k", "1")]).await;
    assert!(status == 422 && page.contains("«1» — не число территорий"), "{page}");
    let (status, page) = run("boss", vec![]).await;
    assert!(status == 422 && page.contains("Выберите команду"), "{page}");
    let (status, page) = run("boss", vec![("k", "2"), ("seconds", "9999")]).await;
    assert!(status == 422 && page.contains("не число секунд"), "{page}");
    // Clients without places: the run says so, located, instead of a map.
    let (status, _) = run("boss", vec![("k", "2"), ("unit", "")]).await;
    assert_eq!(status, 303);
    let mut page = String::new();
    for _ in 0..100 {
        let r = http.get(server.url("/territories")).header("cookie", &who["boss"].0).send().await.unwrap().text().await.unwrap();
        let link = r.split("href=\"/territories/runs/").nth(1).map(|x| x.split('"').next().unwrap().to_string());
        if let Some(id) = link {
            page = http
                .get(server.url(&format!("/territories/runs/{id}")))
                .header("cookie", &who["boss"].0)
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            if page.contains("расчёт не удался") {
                break;
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(page.contains("расчёт не удался") && page.contains("lat"), "no places, said: {page}");
    for login in ["mgr", "anna"] {
        let r = http.get(server.url("/territories")).header("cookie", &who[login].0).send().await.unwrap();
        assert_eq!(r.status(), 403, "{login}");
        assert_eq!(run(login, vec![("k", "2")]).await.0, 403, "{login}");
        for path in ["/rules", "/plans/nope"] {
            let r = http.get(server.url(path)).header("cookie", &who[login].0).send().await.unwrap();
            let status = r.status().as_u16();
            assert!(status == 403 || (path.starts_with("/plans") && login == "mgr" && status == 404), "{login} {path}: {status}");
        }
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scheme_plan_is_proposed_with_a_comment_and_applied_by_another_admin() {
    // Issue #17 §2, as a company that wants four eyes on its scheme configures it.
    let (w, server, http, _, who) =
        staffed_with(&["boss", "chief", "mgr"], |c| c.approval = allot_app::approval::Approval::parse("scheme=other-admin").unwrap()).await;
    // boss made a plan of a new scheme version (the Rules screen makes it so).
    let id = "plan_scheme_test_0001";
    in_store(&w, move |store| {
        let scheme = format!("{SCHEME}\n[[roles]]\nid = \"desk-lead\"\nname = \"старший смены\"\n");
        let req =
            allot_app::stored::PlanRequest { date: allot_app::clock::today(), scheme: Some((scheme, "rules".into())), rebalance: false };
        let plan = allot_app::stored::plan(store, &req, &actor()).unwrap();
        let title = allot_i18n::kept::encode(&[allot_i18n::Message::new("plan-for-scheme")]);
        let boss = Actor { by: "user:boss".into(), at: "2026-11-30T09:00:00Z".into() };
        store.save_plan(id, &serde_json::to_string(&plan).unwrap(), allot_store::PlanKind::Scheme, &title, &boss).unwrap();
    })
    .await;
    let url = |step: &str| server.url(&format!("/plans/{id}{step}"));
    let get = |login: &'static str, path: String| {
        let (http, cookie) = (http.clone(), who[login].0.clone());
        async move {
            let r = http.get(path).header("cookie", cookie).send().await.unwrap();
            (r.status().as_u16(), r.text().await.unwrap())
        }
    };
    let step = |login: &'static str, step: &'static str, comment: &'static str| {
        let (http, cookie, csrf, u) = (http.clone(), who[login].0.clone(), who[login].1.clone(), url(step));
        async move { post_form(&http, u, &cookie, &[("csrf", csrf), ("comment", comment.to_string())]).await }
    };
    let (status, page) = get("boss", url("")).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("новая версия схемы") && page.contains("роль desk-lead: добавлено") && page.contains("Предложить"), "{page}");
    assert!(page.contains("другой администратор"), "the policy is said: {page}");
    let (status, page) = step("boss", "/apply", "").await;
    assert!(status == 422 && page.contains("сначала предложите"), "{status}: {page}");
    let (status, page) = step("boss", "/propose", "  ").await;
    assert!(status == 422 && page.contains("Напишите в комментарии"), "a proposal says why: {page}");
    assert_eq!(step("boss", "/propose", "Старший смены отвечает за дежурства").await.0, 303);
    let (_, page) = get("boss", url("")).await;
    assert!(page.contains("предложен, ждёт решения") && page.contains("Старший смены отвечает за дежурства"), "{page}");
    let (status, page) = step("boss", "/apply", "сам себе").await;
    assert!(status == 422 && page.contains("утверждает его другой администратор"), "{page}");
    // A manager neither sees nor decides it.
    let (status, page) = get("mgr", url("")).await;
    assert!(status == 404 && !page.contains("desk-lead"), "{page}");
    assert_eq!(step("mgr", "/apply", "").await.0, 422);
    let (_, list) = get("mgr", server.url("/plans")).await;
    assert!(!list.contains(id), "{list}");
    // The other admin finds it waiting and approves it with a comment: applied.
    let (_, list) = get("chief", server.url("/plans")).await;
    let waiting = &list[list.find("Ждут решения").unwrap()..list.find("Составлены, не предложены").unwrap()];
    assert!(waiting.contains(id) && waiting.contains("Старший смены отвечает за дежурства"), "{list}");
    let (status, page) = step("chief", "/apply", "согласовано").await;
    assert!(status == 200 && page.contains("План применён"), "{page}");
    let (_, page) = get("chief", url("")).await;
    assert!(
        page.contains("Утвердил") && page.contains("chief") && page.contains("согласовано") && !page.contains("Утвердить и применить"),
        "{page}"
    );
    assert!(step("chief", "/apply", "").await.1.contains("уже применён"), "once");
    let (_, log) = get("boss", server.url("/changes")).await;
    assert!(
        log.contains(&format!("/plans/{id}")) && log.contains("«Старший смены отвечает за дежурства»") && log.contains("«согласовано»"),
        "{log}"
    );
    let (_, schemes) = get("boss", server.url("/schemes")).await;
    assert!(schemes.contains("Версия 2"), "{schemes}");

    // Two plans on one revision: the second is stale once the first lands; it says so, and is
    // rejected with a comment.
    for n in ["a", "b"] {
        let id = format!("plan_team_test_{n}");
        in_store(&w, move |store| {
            let req = allot_app::stored::PlanRequest { date: allot_app::clock::today(), scheme: None, rebalance: true };
            let plan = allot_app::stored::plan(store, &req, &actor()).unwrap();
            let boss = Actor { by: "user:boss".into(), at: "2026-11-30T10:00:00Z".into() };
            store.save_plan(&id, &serde_json::to_string(&plan).unwrap(), allot_store::PlanKind::Team, "", &boss).unwrap();
        })
        .await;
    }
    let post = |login: &'static str, path: &'static str, comment: &'static str| {
        let (http, cookie, csrf, u) = (http.clone(), who[login].0.clone(), who[login].1.clone(), server.url(path));
        async move { post_form(&http, u, &cookie, &[("csrf", csrf), ("comment", comment.to_string())]).await }
    };
    assert_eq!(post("boss", "/plans/plan_team_test_a/apply", "").await.0, 200);
    let (status, page) = post("boss", "/plans/plan_team_test_b/apply", "").await;
    assert!(status == 422 && page.contains("изменились"), "stale, and why: {page}");
    assert_eq!(post("boss", "/plans/plan_team_test_b/reject", "устарел").await.0, 303);
    let (_, page) = get("boss", server.url("/plans/plan_team_test_b")).await;
    assert!(page.contains("отклонён") && page.contains("Отклонил") && page.contains("устарел"), "{page}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_head_of_sales_reads_the_log_of_changes_and_what_each_scheme_version_changed() {
    // Issue #17 §2: every change — who, when, what —, newest first, routing's batches on request;
    // each scheme version with what it changed against the one before, and its text.
    let (w, server, http, _, who) = staffed(&["boss", "mgr"]).await;
    // A second version of the scheme: a role of the scheme's own, named in Russian.
    in_store(&w, |store| {
        let scheme = format!("{SCHEME}\n[[roles]]\nid = \"desk-lead\"\nname = \"старший смены\"\n");
        let req =
            allot_app::stored::PlanRequest { date: day("2026-03-05"), scheme: Some((scheme, "scheme.toml".into())), rebalance: false };
        let plan = allot_app::stored::plan(store, &req, &actor()).unwrap();
        allot_app::stored::apply(store, &plan, &actor()).unwrap();
    })
    .await;
    let get = |login: &'static str, path: &'static str| {
        let (http, cookie, url) = (http.clone(), who[login].0.clone(), server.url(path));
        async move {
            let r = http.get(url).header("cookie", cookie).send().await.unwrap();
            (r.status().as_u16(), r.text().await.unwrap())
        }
    };
    let (status, page) = get("boss", "/changes").await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("Журнал изменений") && page.contains("<td>загрузка</td>") && page.contains("<td>применён план</td>"), "{page}");
    assert!(page.contains("<td>ключ API</td>") && !page.contains("<td>распределение</td>"), "routing's batches hidden: {page}");
    assert!(
        page.contains("строк сотрудников: 5; новых 5") && page.contains("план на 05.03.2026: открыто связей"),
        "said in Russian: {page}"
    );
    let newest = page.find("<td>применён план</td>").unwrap();
    assert!(newest < page.find("<td>загрузка</td>").unwrap(), "newest first");
    let (_, all) = get("boss", "/changes?routing=1").await;
    assert!(all.contains("<td>распределение</td>"), "{all}");
    let (status, page) = get("boss", "/schemes").await;
    assert_eq!(status, 200);
    assert!(page.contains("Версия 2") && page.contains("действует") && page.contains("Первая версия."), "{page}");
    assert!(page.contains("По сравнению с версией 1: 1 изменение") && page.contains("роль desk-lead: добавлено"), "{page}");
    let (status, text) = get("boss", "/schemes?version=2").await;
    assert!(status == 200 && text.contains("старший смены") && text.contains("id = &quot;desk&quot;"), "{text}");
    assert!(
        text.contains("Что изменилось по сравнению с версией 1")
            && text.contains("+[[roles]]")
            && text.contains("+name = &quot;старший смены&quot;"),
        "the diff: {text}"
    );
    assert_eq!(get("boss", "/schemes?version=9").await.0, 404);
    for path in ["/changes", "/schemes", "/schemes?version=1"] {
        let (status, body) = get("mgr", path).await;
        assert!(status == 403 && !body.contains("desk") && !body.contains("загрузка"), "{path}: {body}");
    }
    server.stop().await;
}

/// What a stand-in receiver of webhook deliveries was sent: event, delivery id, body, whether the
/// signature was right, and the status it answered.
#[derive(Debug, Clone)]
struct Got {
    event: String,
    delivery: String,
    body: J,
    signed: bool,
    status: u16,
}

/// A receiver of webhook deliveries on `addr` (a real HTTP server on loopback, as a company's own
/// service would be): checks each signature against `secret` independently of allot's code,
/// answers 503 to the first `refuse` deliveries, 200 to the rest.
async fn receiver(addr: SocketAddr, secret: &'static str, refuse: usize) -> (Arc<std::sync::Mutex<Vec<Got>>>, tokio::task::JoinHandle<()>) {
    use hmac::{KeyInit, Mac};
    let got: Arc<std::sync::Mutex<Vec<Got>>> = Arc::default();
    let seen = got.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: axum::http::HeaderMap, body: String| {
            let seen = seen.clone();
            async move {
                let h = |k: &str| headers.get(k).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
                // t=<unix seconds>,sha256=<hex of HMAC-SHA256(secret, "<t>.<body>")>
                let sig = h("x-allot-signature");
                let (t, hex) =
                    sig.split_once(',').map(|(t, s)| (t.trim_start_matches("t="), s.trim_start_matches("sha256="))).unwrap_or_default();
                let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
                mac.update(format!("{t}.{body}").as_bytes());
                let want: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
                let mut seen = seen.lock().unwrap();
                let status = if seen.len() < refuse { 503 } else { 200 };
                seen.push(Got {
                    event: h("x-allot-event"),
                    delivery: h("x-allot-delivery"),
                    body: serde_json::from_str(&body).unwrap_or(J::Null),
                    signed: want == hex,
                    status,
                });
                axum::http::StatusCode::from_u16(status).unwrap()
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
    let task = tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    (got, task)
}

async fn webhook_state(w: &World, id: i64) -> allot_store::Webhook {
    let location = w.location.clone();
    blocking(move || allot_store::open(&location).unwrap().webhooks().unwrap().into_iter().find(|h| h.id == id).unwrap()).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_is_told_each_change_signed_and_in_order_and_loses_nothing_while_its_receiver_is_down() {
    // Issue #18 §3: the change log is the outbox. A receiver that is down holds its deliveries in
    // the log (the last answer recorded); once up, it gets every change in order, each delivery
    // signed, one refused with 503 sent again with the same id and body.
    const SECRET: &str = "a-test-signing-key-of-the-receiver";
    let w = world(None).await;
    let server = Server::start(&w).await;
    // The receiver's address, not listening yet: it is down.
    let addr = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let url = format!("http://{addr}/hook");
    let location = w.location.clone();
    let id = blocking(move || {
        allot_store::open(&location)
            .unwrap()
            .add_webhook(&url, &["link.opened".to_string(), "lead.routed".to_string()], SECRET, &actor())
            .unwrap()
    })
    .await;
    let http = reqwest::Client::new();
    let owners = route_six(&http, &server, &w).await;
    // Tried, not reached, nothing marked.
    let mut hook = webhook_state(&w, id).await;
    for _ in 0..100 {
        if hook.attempts > 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        hook = webhook_state(&w, id).await;
    }
    assert!(hook.attempts > 0 && hook.last_status == Some(0), "{hook:?}");
    let marked = hook.delivered;
    let revision = {
        let location = w.location.clone();
        blocking(move || allot_store::open(&location).unwrap().revision().unwrap()).await
    };
    assert!(marked < revision, "the six routings wait");
    // Up, refusing the first delivery once; the operator's resend skips the back-off.
    let (got, task) = receiver(addr, SECRET, 1).await;
    for _ in 0..100 {
        let location = w.location.clone();
        blocking(move || allot_store::open(&location).unwrap().retry_webhook(id).unwrap()).await;
        if webhook_state(&w, id).await.delivered == revision {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let hook = webhook_state(&w, id).await;
    assert_eq!((hook.delivered, hook.attempts, hook.last_status), (revision, 0, Some(200)), "{hook:?}");
    let got = got.lock().unwrap().clone();
    assert!(got.iter().all(|g| g.signed), "every delivery signed with the key: {got:?}");
    assert_eq!(got[0].status, 503);
    let again: Vec<&Got> = got.iter().filter(|g| g.delivery == got[0].delivery).collect();
    assert!(again.len() == 2 && again[1].status == 200 && again[1].body == again[0].body, "sent again, the same: {again:?}");
    // Each change once taken, in order; both events for each routing; every lead's owner told.
    let taken: Vec<&Got> = got.iter().filter(|g| g.status == 200).collect();
    let ids: Vec<&str> = taken.iter().map(|g| g.delivery.as_str()).collect();
    let unique: std::collections::BTreeSet<&str> = ids.iter().copied().collect();
    assert_eq!(unique.len(), ids.len(), "nothing taken twice: {ids:?}");
    let changes: Vec<i64> = taken.iter().map(|g| g.body["change"]["id"].as_i64().unwrap()).collect();
    assert!(changes.windows(2).all(|p| p[0] <= p[1]), "in the log's order: {changes:?}");
    assert_eq!(taken.iter().filter(|g| g.event == "lead.routed").count(), 6);
    let opened: BTreeMap<String, String> = taken
        .iter()
        .filter(|g| g.event == "link.opened")
        .flat_map(|g| g.body["links"].as_array().unwrap().clone())
        .filter(|l| l["role"] == "sales")
        .map(|l| (l["client"].as_str().unwrap().to_string(), l["employee"].as_str().unwrap().to_string()))
        .collect();
    assert_eq!(opened.len(), 6, "{opened:?}");
    for (employee, lead) in &owners {
        assert_eq!(opened.get(lead), Some(employee), "the owner of {lead} as routing gave it");
    }
    assert!(taken.iter().all(|g| g.event != "plan.applied" && g.event != "link.closed"), "only what it subscribed to");
    task.abort();
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lead_left_with_nobody_is_told_to_a_webhook_with_its_role_and_why() {
    // Issue #18 §3: everyone of the pool away, a routed lead waits for a person: `lead.unassigned`.
    const SECRET: &str = "another-test-signing-key-0123";
    let w = world(None).await;
    let server = Server::start(&w).await;
    let receiver_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = receiver_listener.local_addr().unwrap();
    drop(receiver_listener);
    let (got, task) = receiver(addr, SECRET, 0).await;
    in_store(&w, move |store| {
        store.add_webhook(&format!("http://{addr}/hook"), &["lead.unassigned".to_string()], SECRET, &actor()).unwrap();
        for e in ["anna", "boris", "vera"] {
            allot_app::stored::absent(store, e, day("2026-03-02"), day("2026-03-02"), None, &actor()).unwrap();
        }
    })
    .await;
    let http = reqwest::Client::new();
    let r = http.post(server.url("/v1/route")).bearer_auth(&w.tokens["router"]).json(&lead(50)).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let mut told = None;
    for _ in 0..100 {
        told = got.lock().unwrap().iter().find(|g| g.event == "lead.unassigned").cloned();
        if told.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let told = told.expect("told");
    assert!(told.signed);
    let leads = told.body["leads"].as_array().unwrap();
    assert_eq!(leads.len(), 1, "{}", told.body);
    assert_eq!(leads[0]["client"], "lead00050");
    assert_eq!(leads[0]["roles"][0]["role"], "sales");
    assert!(leads[0]["roles"][0]["why"].as_str().is_some_and(|w| !w.is_empty()), "{}", told.body);
    assert!(got.lock().unwrap().iter().all(|g| g.event == "lead.unassigned"), "nothing it did not subscribe to");
    task.abort();
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_absence_registered_and_ended_early_is_told_to_a_webhook_with_its_days_and_cover() {
    // Issue #18 §3: `absence.started` when an absence is registered, `absence.ended` when it is
    // ended early — the employee, the days, the cover.
    const SECRET: &str = "a-third-test-signing-key-4567";
    let w = world(None).await;
    let server = Server::start(&w).await;
    let addr = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let (got, task) = receiver(addr, SECRET, 0).await;
    let events = ["absence.started".to_string(), "absence.ended".to_string()];
    in_store(&w, move |store| {
        store.add_webhook(&format!("http://{addr}/hook"), &events, SECRET, &actor()).unwrap();
        let id = allot_app::stored::absent(store, "anna", day("2026-03-10"), day("2026-03-20"), Some("boris"), &actor()).unwrap();
        allot_app::stored::end_absence(store, id, day("2026-03-15"), day("2026-03-01"), true, &actor()).unwrap();
    })
    .await;
    for _ in 0..100 {
        if got.lock().unwrap().len() >= 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let got = got.lock().unwrap().clone();
    assert_eq!(got.iter().map(|g| g.event.as_str()).collect::<Vec<_>>(), ["absence.started", "absence.ended"], "{got:?}");
    assert!(got.iter().all(|g| g.signed));
    assert_eq!(got[0].body["absence"], json!({"employee": "anna", "first": "2026-03-10", "last": "2026-03-20", "cover": "boris"}));
    assert_eq!(got[1].body["absence"], json!({"employee": "anna", "first": "2026-03-10", "last": "2026-03-15", "cover": "boris"}));
    task.abort();
    server.stop().await;
}
