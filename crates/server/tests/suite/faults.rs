//! `allot serve` through the faults of an ordinary week (issue #13): its database restarting or
//! cutting its sessions, a request the database refuses, hostile dates, a flood of unknown
//! tokens, slow clients, a growing log, revoked tokens — each recovered from by itself.

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use serde_json::{json, Value as J};

use super::*;

/// Sends one routing request; (status, body).
async fn post(client: &reqwest::Client, s: &Server, token: &str, body: &J, key: Option<&str>) -> (u16, J) {
    let mut req = client.post(s.url("/v1/route")).bearer_auth(token).json(body);
    if let Some(k) = key {
        req = req.header("Idempotency-Key", k);
    }
    match req.send().await {
        Ok(r) => {
            let status = r.status().as_u16();
            (status, r.json::<J>().await.unwrap_or(J::Null))
        }
        Err(e) => (0, json!(e.to_string())),
    }
}

/// How many of these leads the store holds.
async fn stored(w: &World, ids: Vec<String>) -> usize {
    let location = w.location.clone();
    blocking(move || {
        let mut s = allot_store::open(&location).unwrap();
        ids.iter().filter(|id| s.history(id).is_ok_and(|h| !h.is_empty())).count()
    })
    .await
}

/// A PostgreSQL world whose server sessions carry the test schema's name as their application
/// name, so that a test can find (and cut, or count) exactly them.
async fn named_world(url: &str) -> (World, String) {
    let mut w = world(Some(url)).await;
    let name = w.pg.as_ref().unwrap().1.clone();
    if let Location::Postgres(u) = &w.location {
        w.location = Location::Postgres(format!("{u}&application_name={name}"));
    }
    (w, name)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routing_resumes_by_itself_after_postgres_terminates_its_sessions_and_loses_no_answered_route() {
    let Some(url) = blocking(|| testing::postgres("reconnect")).await else { return };
    let (w, name) = named_world(&url).await;
    let s = Server::start(&w).await;
    let client = reqwest::Client::new();
    let token = w.tokens["router"].clone();
    // Routing under load, from 8 clients; halfway, every session of the server is terminated.
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let answered = Arc::new(std::sync::Mutex::new(Vec::<(Instant, u16, String)>::new()));
    let mut tasks = Vec::new();
    for t in 0..8 {
        let (client, token, stop, answered, url) = (client.clone(), token.clone(), stop.clone(), answered.clone(), s.url("/v1/route"));
        tasks.push(tokio::spawn(async move {
            let mut i = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                i += 1;
                let id = format!("r{t}-{i}");
                let body = json!({"id": id, "date": "2026-03-02", "attributes": {"source": "web"}});
                let status = match client.post(&url).bearer_auth(&token).json(&body).send().await {
                    Ok(r) => {
                        let st = r.status().as_u16();
                        if st == 503 {
                            assert_eq!(r.headers().get("retry-after").and_then(|v| v.to_str().ok()), Some("1"), "a 503 says when to retry");
                        }
                        st
                    }
                    Err(_) => 0,
                };
                answered.lock().unwrap().push((Instant::now(), status, id));
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }));
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let killed_at = Instant::now();
    let (u, n) = (url.clone(), name.clone());
    let killed = blocking(move || {
        let mut c = postgres::Client::connect(&u, postgres::NoTls).unwrap();
        c.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1", &[&n]).unwrap().len()
    })
    .await;
    assert!(killed > 0, "no session was terminated");
    tokio::time::sleep(Duration::from_secs(6)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for t in tasks {
        t.await.unwrap();
    }
    let answers = answered.lock().unwrap().clone();
    // Routing came back by itself within 5 s of the cut.
    let back = answers.iter().filter(|(at, st, _)| *at > killed_at && *st == 200).map(|(at, _, _)| *at - killed_at).min();
    assert!(back.is_some_and(|d| d < Duration::from_secs(5)), "routing resumed after {back:?}");
    // Nothing answered 200 was lost; nothing else but 503 was answered.
    let ok: Vec<String> = answers.iter().filter(|a| a.1 == 200).map(|a| a.2.clone()).collect();
    assert!(
        answers.iter().all(|a| a.1 == 200 || a.1 == 503),
        "{:?}",
        answers.iter().filter(|a| a.1 != 200 && a.1 != 503).take(3).collect::<Vec<_>>()
    );
    assert_eq!(stored(&w, ok.clone()).await, ok.len(), "every answered route is in the store");
    // The loss and the recovery are counted; health is ok again.
    let metrics = client.get(s.url("/metrics")).send().await.unwrap().text().await.unwrap();
    let count = |name: &str| {
        metrics.lines().find(|l| l.starts_with(name)).and_then(|l| l.split_whitespace().last()?.parse::<f64>().ok()).unwrap_or(0.0)
    };
    assert!(count("allot_store_connections_lost_total") >= 1.0, "{metrics}");
    assert!(count("allot_store_reconnects_total") >= 1.0, "{metrics}");
    let h: J = client.get(s.url("/health")).send().await.unwrap().json().await.unwrap();
    assert_eq!(h["status"], "ok", "{h}");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_the_database_refuses_fails_alone_among_two_hundred_good_ones() {
    for pg in [None, blocking(|| testing::postgres("isolation")).await] {
        let w = world(pg.as_deref()).await;
        // A trigger stands in for whatever a database may refuse that validation let through.
        let location = w.location.clone();
        blocking(move || match &location {
            Location::Sqlite(p) => rusqlite::Connection::open(p)
                .unwrap()
                .execute_batch(
                    "CREATE TRIGGER poison BEFORE INSERT ON clients WHEN json_extract(NEW.attrs, '$.source') = 'poison' \
                     BEGIN SELECT RAISE(ABORT, 'poisoned'); END",
                )
                .unwrap(),
            Location::Postgres(u) => postgres::Client::connect(u, postgres::NoTls)
                .unwrap()
                .batch_execute(
                    "CREATE FUNCTION poison() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN \
                     IF NEW.attrs->>'source' = 'poison' THEN RAISE EXCEPTION 'poisoned'; END IF; RETURN NEW; END $$; \
                     CREATE TRIGGER poison BEFORE INSERT ON clients FOR EACH ROW EXECUTE FUNCTION poison()",
                )
                .unwrap(),
        })
        .await;
        let s = Server::start(&w).await;
        let client = reqwest::Client::new();
        let token = w.tokens["router"].clone();
        let mut tasks = Vec::new();
        for i in 0..201 {
            let (client, token, url) = (client.clone(), token.clone(), s.url("/v1/route"));
            tasks.push(tokio::spawn(async move {
                let source = if i == 100 { "poison" } else { "web" };
                let body = json!({"id": format!("iso{i}"), "date": "2026-03-02", "attributes": {"source": source}});
                let r = client.post(&url).bearer_auth(&token).json(&body).send().await.unwrap();
                (i, r.status().as_u16(), r.text().await.unwrap())
            }));
        }
        for t in tasks {
            let (i, status, body) = t.await.unwrap();
            if i == 100 {
                assert_eq!(status, 422, "{body}");
                assert!(body.contains("\"refused\"") && !body.contains("poisoned"), "no raw database error reaches the client: {body}");
            } else {
                assert_eq!(status, 200, "item {i}: {body}");
            }
        }
        assert_eq!(stored(&w, (0..201).filter(|&i| i != 100).map(|i| format!("iso{i}")).collect()).await, 200);
        // One bad item does not make the store look broken once a good one lands after it.
        assert_eq!(
            post(&client, &s, &token, &json!({"id": "after", "date": "2026-03-02", "attributes": {"source": "web"}}), None).await.0,
            200
        );
        let h: J = client.get(s.url("/health")).send().await.unwrap().json().await.unwrap();
        assert_eq!(h["status"], "ok", "{h}");
        // What validation catches never reaches the database: NUL, huge offsets, dates far out.
        for (body, field) in [
            (json!({"attributes": {"source": "a\u{0}b"}}), "attributes.source"),
            (json!({"at": "2026-12-01T10:00+99999999999:00", "attributes": {}}), "at"),
            (json!({"at": "2026-03-02T10:00+18:01", "attributes": {}}), "at"),
            (json!({"date": "9999-12-31", "attributes": {}}), "date"),
            (json!({"date": "0000-01-01", "attributes": {}}), "date"),
            (json!({"date": "1899-12-31", "attributes": {}}), "date"),
        ] {
            let (st, e) = post(&client, &s, &token, &body, None).await;
            assert_eq!((st, e["error"]["field"].as_str()), (422, Some(field)), "{body}: {e}");
        }
        s.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_router_token_cannot_date_items_ahead_and_a_wrongly_dated_one_is_corrected() {
    let w = world(None).await;
    let s = Server::start(&w).await;
    let client = reqwest::Client::new();
    let tomorrow = allot_rules::civil_from_days(allot_server::today() + 1);
    let (st, e) = post(&client, &s, &w.tokens["router"], &json!({"date": tomorrow, "attributes": {}}), None).await;
    assert_eq!((st, e["error"]["code"].as_str()), (422, Some("bad_date")), "{e}");
    // A plan for today still works after the attack.
    let r = client.post(s.url("/v1/plan")).bearer_auth(&w.tokens["admin"]).send().await.unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    s.stop().await;
    // An item stored far ahead by an older allot blocks plans; `redate` puts it back.
    let location = w.location.clone();
    blocking(move || {
        let mut store = allot_store::open(&location).unwrap();
        let far = allot_rules::parse_iso_date("9999-12-31").unwrap();
        // Routed as an old server did: a new client and its link from 9999-12-31.
        let anna = store.people().unwrap().employees.iter().find(|e| e.id == "anna").unwrap().key;
        let open = allot_store::Open {
            client: allot_store::ClientKey(0),
            role: "sales".into(),
            employee: anna,
            from: allot_store::Day(far),
            to: None,
            cause: allot_store::Cause::New,
            rule: Some("desk".into()),
            scheme: Some(1),
            note: String::new(),
            absence: None,
        };
        store
            .route(&actor(), &["sales".to_string()], &mut |tx| {
                let w = allot_store::RouteWrites {
                    clients: vec![allot_store::NewClient { id: "ahead".into(), attrs: "{\"source\":\"web\"}".into(), keys: vec![] }],
                    links: vec![(allot_store::ClientRef::New(0), open.clone())],
                    ..Default::default()
                };
                tx.write(&w)
            })
            .unwrap();
        let plan = allot_app::stored::plan(
            store.as_mut(),
            &allot_app::stored::PlanRequest { date: day("2026-03-02"), scheme: None, rebalance: false },
            &actor(),
        );
        assert!(plan.is_err_and(|e| e.to_string().contains("9999-12-31")), "the far item blocks plans");
        let (_, moved) = store.redate_routed("ahead", allot_store::Day(day("2026-03-02")), &actor()).unwrap();
        assert_eq!(moved, 1);
        let plan = allot_app::stored::plan(
            store.as_mut(),
            &allot_app::stored::PlanRequest { date: day("2026-03-02"), scheme: None, rebalance: false },
            &actor(),
        );
        assert!(plan.is_ok(), "plans work again: {:?}", plan.err());
        // A client with history other than routing's is refused.
        assert!(store.redate_routed("nobody", allot_store::Day(day("2026-03-02")), &actor()).is_err());
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_unknown_tokens_keeps_postgres_connections_bounded() {
    let Some(url) = blocking(|| testing::postgres("unknown tokens")).await else { return };
    let (w, name) = named_world(&url).await;
    let s = Server::start(&w).await;
    let client = reqwest::Client::new();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    // Sample the server's connections while 200 clients send random tokens.
    let sampler = {
        let (u, n, stop) = (url.clone(), name.clone(), stop.clone());
        tokio::task::spawn_blocking(move || {
            let mut c = postgres::Client::connect(&u, postgres::NoTls).unwrap();
            let mut most = 0i64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let n: i64 = c.query_one("SELECT count(*) FROM pg_stat_activity WHERE application_name = $1", &[&n]).unwrap().get(0);
                most = most.max(n);
                std::thread::sleep(Duration::from_millis(20));
            }
            most
        })
    };
    let mut tasks = Vec::new();
    for t in 0..200 {
        let (client, url, stop) = (client.clone(), s.url("/v1/clients/x/owners"), stop.clone());
        tasks.push(tokio::spawn(async move {
            let mut n = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                n += 1;
                let r = client.get(&url).bearer_auth(format!("allot_random_{t}_{n}")).send().await.unwrap();
                assert_eq!(r.status(), 401);
            }
        }));
    }
    tokio::time::sleep(Duration::from_secs(4)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for t in tasks {
        t.await.unwrap();
    }
    let most = sampler.await.unwrap();
    // The readers' pool, the router and the checkpointer: never more.
    let bound = allot_server::MAX_READERS as i64 + 2;
    assert!(most <= bound, "{most} connections at once, more than {bound}");
    // And the server still serves.
    assert_eq!(post(&client, &s, &w.tokens["router"], &lead(1), None).await.0, 200);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_clients_are_cut_off_and_connections_are_capped() {
    let w = world(None).await;
    let s = Server::start_with(&w, |c| {
        c.header_timeout = Duration::from_millis(700);
        c.body_timeout = Duration::from_millis(700);
        c.max_connections = 3;
    })
    .await;
    let addr = s.addr;
    let outcome = blocking(move || {
        // Half-sent headers: the connection is closed once the header timeout has passed.
        let started = Instant::now();
        let mut slow = std::net::TcpStream::connect(addr).unwrap();
        slow.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        slow.write_all(b"POST /v1/route HTTP/1.1\r\nHost: x\r\n").unwrap();
        let mut buf = [0u8; 1024];
        let n = slow.read(&mut buf).unwrap_or(0);
        let headers_cut = (started.elapsed(), String::from_utf8_lossy(&buf[..n]).to_string());
        // A body that never completes: 408 in the JSON error shape.
        let started = Instant::now();
        let mut body = std::net::TcpStream::connect(addr).unwrap();
        body.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        body.write_all(b"POST /v1/route HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"attr")
            .unwrap();
        let mut text = String::new();
        let _ = body.read_to_string(&mut text);
        let body_cut = (started.elapsed(), text);
        // Three silent connections hold every slot: a fourth is served only when they are cut.
        let silent: Vec<_> = (0..3).map(|_| std::net::TcpStream::connect(addr).unwrap()).collect();
        std::thread::sleep(Duration::from_millis(100));
        let started = Instant::now();
        let mut next = std::net::TcpStream::connect(addr).unwrap();
        next.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        next.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").unwrap();
        let mut text = String::new();
        let _ = next.read_to_string(&mut text);
        drop(silent);
        (headers_cut, body_cut, (started.elapsed(), text))
    })
    .await;
    let ((t1, got1), (t2, got2), (t3, got3)) = outcome;
    assert!(t1 >= Duration::from_millis(600) && t1 < Duration::from_secs(3), "half-sent headers were cut after {t1:?}: {got1:?}");
    assert!(got2.starts_with("HTTP/1.1 408") && got2.contains("\"timeout\""), "{got2}");
    assert!(t2 < Duration::from_secs(3), "{t2:?}");
    assert!(got3.starts_with("HTTP/1.1 200"), "{got3}");
    assert!(t3 >= Duration::from_millis(400), "the fourth connection waited for a slot: {t3:?}");
    s.stop().await;
}

/// Routes from 16 clients for `secs` seconds with a log bound of `frames`; (largest log seen in
/// bytes, routes, database bytes).
async fn route_steadily(frames: i64, secs: u64) -> (u64, usize, u64) {
    let w = world(None).await;
    let s = Server::start_with(&w, |c| c.wal_frames_limit = frames).await;
    let Location::Sqlite(db) = w.location.clone() else { unreachable!() };
    let wal = std::path::PathBuf::from(format!("{}-wal", db.display()));
    let client = reqwest::Client::new();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut tasks = Vec::new();
    for t in 0..16 {
        let (client, token, stop, url) = (client.clone(), w.tokens["router"].clone(), stop.clone(), s.url("/v1/route"));
        tasks.push(tokio::spawn(async move {
            let mut i = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                i += 1;
                let body = json!({"id": format!("w{t}-{i}"), "date": "2026-03-02", "attributes": {"source": "web"}});
                assert_eq!(client.post(&url).bearer_auth(&token).json(&body).send().await.unwrap().status(), 200);
            }
            i
        }));
    }
    let mut largest = 0u64;
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(secs) {
        largest = largest.max(std::fs::metadata(&wal).map_or(0, |m| m.len()));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut routed = 0;
    for t in tasks {
        routed += t.await.unwrap();
    }
    let db_size = std::fs::metadata(&db).unwrap().len();
    s.stop().await;
    (largest, routed, db_size)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sqlite_log_stays_bounded_under_steady_routing() {
    // Without a bound the log only grows under a steady stream of commits; with one (here 64
    // frames, 256 KiB, so that a short run crosses it many times) it starts over again and again.
    let (unbounded, routed_u, _) = route_steadily(i64::MAX, 6).await;
    let (bounded, routed_b, db) = route_steadily(64, 6).await;
    println!("log: unbounded {unbounded} bytes for {routed_u} routes; bounded {bounded} bytes for {routed_b} routes; database {db} bytes");
    let per_route = |log: u64, routed: usize| log as f64 / routed.max(1) as f64;
    assert!(
        per_route(bounded, routed_b) * 4.0 < per_route(unbounded, routed_u),
        "bounded: {bounded} bytes for {routed_b} routes; unbounded: {unbounded} bytes for {routed_u} routes"
    );
    assert!(db > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_or_expired_token_is_refused_within_a_second_on_every_server() {
    for pg in [None, blocking(|| testing::postgres("revocation")).await] {
        let w = world(pg.as_deref()).await;
        let (a, b) = (Server::start(&w).await, Server::start(&w).await);
        let client = reqwest::Client::new();
        let token = w.tokens["router"].clone();
        for s in [&a, &b] {
            assert_eq!(post(&client, s, &token, &lead(1), None).await.0, 200);
        }
        let location = w.location.clone();
        let id = blocking(move || {
            let mut s = allot_store::open(&location).unwrap();
            let id = s.tokens().unwrap().iter().find(|t| t.token.label == "router").unwrap().token.id;
            s.revoke_token(id, &actor()).unwrap();
            assert!(s.revoke_token(id, &actor()).is_err(), "revoked once");
            let listed = s.tokens().unwrap();
            assert!(listed.iter().find(|t| t.token.id == id).unwrap().revoked.is_some());
            id
        })
        .await;
        tokio::time::sleep(allot_server::api::TOKEN_TTL + Duration::from_millis(200)).await;
        for s in [&a, &b] {
            let (st, e) = post(&client, s, &token, &lead(2), None).await;
            assert_eq!(st, 401, "token {id} still works: {e}");
        }
        // A token that expired today is refused too; `bearer` in lower case is the same scheme.
        let location = w.location.clone();
        let expired = blocking(move || {
            let mut s = allot_store::open(&location).unwrap();
            allot_app::tokens::create(s.as_mut(), &crate::token_request("admin", None, "old", Some(allot_server::today())), &actor())
                .unwrap()
        })
        .await;
        let r = client.get(a.url("/v1/pools/desk")).header("Authorization", format!("Bearer {expired}")).send().await.unwrap();
        assert_eq!(r.status(), 401);
        let r = client.get(a.url("/v1/pools/desk")).header("Authorization", format!("bearer {}", w.tokens["admin"])).send().await.unwrap();
        assert_eq!(r.status(), 200, "the scheme's name is case-insensitive (RFC 7235)");
        a.stop().await;
        b.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_router_token_routes_only_within_its_scope() {
    let w = world(None).await;
    let s = Server::start(&w).await;
    let client = reqwest::Client::new();
    let (router, admin) = (w.tokens["router"].clone(), w.tokens["admin"].clone());
    assert_eq!(post(&client, &s, &router, &lead(1), None).await.0, 200);
    // Naming a stored client by its id routes to its owners without naming them to a router…
    let (st, again) = post(&client, &s, &router, &lead(1), None).await;
    assert_eq!((st, again["new_client"].as_bool()), (200, Some(false)), "{again}");
    assert!(again["roles"].as_array().unwrap().iter().all(|r| r.get("employee").is_none()), "{again}");
    // …while the admin, who may read owners, is told.
    let (_, seen) = post(&client, &s, &admin, &lead(1), None).await;
    assert_eq!(seen["roles"][0]["employee"], "anna", "{seen}");
    // A deal a router token sends is a lead in progress, never revenue, unless the scheme says so.
    let sale = json!({"id": "s1", "client": "lead00001", "date": "2026-03-02", "attributes": {"amount": 999999999, "date": "2026-03-02", "stage": "won"}});
    assert_eq!(post(&client, &s, &router, &sale, None).await.0, 200);
    let report: J =
        client.get(s.url("/v1/report?from=2026-03-01&to=2026-03-31")).bearer_auth(&admin).send().await.unwrap().json().await.unwrap();
    assert!(report["rows"].as_array().unwrap().iter().all(|r| r["revenue"] == 0), "{report}");
    assert!(report["uncredited"][0]["reason"].as_str().is_some_and(|r| r.contains("routed over HTTP")), "{report}");
    // An employee's report shows no uncredited deal of the book.
    let own: J = client
        .get(s.url("/v1/report?from=2026-03-01&to=2026-03-31"))
        .bearer_auth(&w.tokens["anna"])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(own.get("uncredited").is_none(), "{own}");
    // Idempotency keys are each token's own: another token's same key is another request.
    let (st, first) = post(&client, &s, &router, &lead(7), Some("k-1")).await;
    assert_eq!(st, 200);
    let (st, other) = post(&client, &s, &admin, &lead(8), Some("k-1")).await;
    assert_eq!((st, other["client"].as_str()), (200, Some("lead00008")), "not a conflict with the router's key: {other}");
    let (st, replay) = post(&client, &s, &router, &lead(7), Some("k-1")).await;
    assert_eq!((st, &replay), (200, &first), "the router's own retry is a replay");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plans_apply_by_id_and_every_error_has_the_json_shape() {
    let w = world(None).await;
    let s = Server::start(&w).await;
    let client = reqwest::Client::new();
    let admin = w.tokens["admin"].clone();
    for i in 1..=30 {
        assert_eq!(post(&client, &s, &w.tokens["router"], &lead(i), None).await.0, 200);
    }
    // A plan kept by the server and applied by its id (a whole book's plan is megabytes).
    let plan: J =
        client.post(s.url("/v1/plan")).bearer_auth(&admin).json(&json!({"rebalance": true})).send().await.unwrap().json().await.unwrap();
    let id = plan["plan_id"].as_str().unwrap().to_string();
    assert!(plan["summary"].is_object() || plan.get("opens").is_some(), "the plan itself follows its id: {plan}");
    let r = client.post(s.url("/v1/apply")).bearer_auth(&admin).json(&json!({"plan": id})).send().await.unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let r = client.post(s.url("/v1/apply")).bearer_auth(&admin).json(&json!({"plan": "plan_nope"})).send().await.unwrap();
    assert_eq!(r.status(), 404);
    // Errors that axum or the extractors raise come in the same JSON shape.
    for (method, path, status, code) in [
        ("GET", "/v1/route", 405, "method_not_allowed"),
        ("GET", "/v1/clients/%FF%FE/owners", 400, "bad_request"),
        ("GET", "/v1/report?from=2026-01-01&bogus=1", 400, "bad_request"),
        ("GET", "/v1/report?from=2026-01-01&from=2026-02-01", 400, "bad_request"),
        ("GET", "/nowhere", 404, "not_found"),
        ("GET", &format!("/v1/clients/{}/owners", "x".repeat(9000)), 414, "uri_too_long"),
    ] {
        let r = client.request(method.parse().unwrap(), s.url(path)).bearer_auth(&admin).send().await.unwrap();
        assert_eq!(r.status().as_u16(), status, "{path}");
        assert_eq!(r.headers().get("content-type").and_then(|v| v.to_str().ok()), Some("application/json"), "{path}");
        let e: J = r.json().await.unwrap();
        assert_eq!(e["error"]["code"], code, "{path}: {e}");
    }
    let mut many = client.get(s.url("/health"));
    for i in 0..150 {
        many = many.header(format!("x-h{i}"), "v");
    }
    let r = many.send().await.unwrap();
    assert_eq!(r.status(), 431);
    assert_eq!(r.json::<J>().await.unwrap()["error"]["code"], "headers_too_large");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_says_what_is_wrong_with_the_store() {
    let Some(url) = blocking(|| testing::postgres("health")).await else { return };
    let mut w = world(Some(&url)).await;
    if let Location::Postgres(u) = &w.location {
        // Every session of this server defaults to read-only transactions: it cannot route.
        w.location = Location::Postgres(format!("{u}%20-cdefault_transaction_read_only%3Don"));
    }
    let s = Server::start(&w).await;
    let client = reqwest::Client::new();
    let r = client.get(s.url("/health")).send().await.unwrap();
    assert_eq!(r.status(), 503);
    let h: J = r.json().await.unwrap();
    assert_eq!(h["status"], "read_only", "{h}");
    let (st, e) = post(&client, &s, &w.tokens["router"], &lead(1), None).await;
    assert!(st == 503 || st == 422, "{st} {e}");
    assert!(!e.to_string().contains("postgres://"), "no URL in an error: {e}");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_says_when_the_sqlite_store_refuses_every_write() {
    let w = world(None).await;
    let s = Server::start(&w).await;
    let client = reqwest::Client::new();
    assert_eq!(post(&client, &s, &w.tokens["router"], &lead(1), None).await.0, 200);
    // Every write refused, as a read-only or full file refuses them (a root test cannot make a file
    // read-only to itself: a trigger stands in).
    let Location::Sqlite(db) = w.location.clone() else { unreachable!() };
    blocking(move || {
        rusqlite::Connection::open(db)
            .unwrap()
            .execute_batch("CREATE TRIGGER ro BEFORE INSERT ON changes BEGIN SELECT RAISE(ABORT, 'read-only'); END")
            .unwrap()
    })
    .await;
    let (st, e) = post(&client, &s, &w.tokens["router"], &lead(2), None).await;
    assert_eq!(st, 422, "{e}");
    let r = client.get(s.url("/health")).send().await.unwrap();
    assert_eq!(r.status(), 503);
    assert_eq!(r.json::<J>().await.unwrap()["status"], "writes_failing");
    s.stop().await;
}
