//! Two `allot serve` processes sharing one PostgreSQL: 10,000 routing requests from 64 concurrent
//! clients keep exact shares, caps and idempotency (issue #4). PostgreSQL only: SQLite is one
//! process's file.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use allot_store::testing;

use super::{allot, root};

const SCHEME: &str = "[columns]\nsource = \"text\"\n\n[[rules]]\nid = \"desk\"\nrole = \"sales\"\nemployees = [\"anna\", \"boris\", \"vera\"]\nstrategy = \"balance-count\"\nweights = { anna = 3, boris = 2, vera = 1 }\ncaps = { day = 3600 }\n";

/// One HTTP/1.1 request on its own connection; (status, body).
fn post(port: u16, token: &str, key: &str, body: &str) -> (u16, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let req = format!(
        "POST /v1/route HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\nIdempotency-Key: {key}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let status = out.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    let body = out.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    (status, body)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

struct Servers(Vec<Child>);

impl Drop for Servers {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// `allot ARGS --db DB`, which must succeed: its standard output.
fn run(db: &str, args: &[&str]) -> String {
    let out = allot().args(args).arg("--db").arg(db).output().unwrap();
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// A folder with three employees in one pool and no clients yet, synced into the store `db` on
/// 2026-03-01: the folder.
fn site(dir: &std::path::Path, db: &str) -> std::path::PathBuf {
    let site = dir.join("site");
    std::fs::create_dir(&site).unwrap();
    std::fs::write(site.join("employees.csv"), "id,name\nanna,Анна\nboris,Борис\nvera,Вера\n").unwrap();
    std::fs::write(site.join("clients.csv"), "id,source\n").unwrap();
    std::fs::write(site.join("scheme.toml"), SCHEME).unwrap();
    run(db, &["sync", "--dir", site.to_str().unwrap(), "--date", "2026-03-01"]);
    site
}

#[test]
fn two_server_processes_on_one_postgres_keep_exact_shares_caps_and_idempotency() {
    let Some(url) = testing::postgres("two server processes") else { return };
    let schema = testing::fresh_schema();
    allot_store::pg::PgStore::connect(&url, Some(&schema)).unwrap();
    let db = testing::url_with_schema(&url, &schema);
    let dir = tempfile::tempdir().unwrap();
    site(dir.path(), &db);
    let run = |args: &[&str]| run(&db, args);
    let token = run(&["token", "create", "--scope", "router", "--label", "two"]).trim().to_string();
    let ports = [free_port(), free_port()];
    let mut servers = Servers(vec![]);
    for p in ports {
        let child = std::process::Command::new(assert_cmd::cargo::cargo_bin("allot"))
            .current_dir(root())
            .args(["serve", "--listen", &format!("127.0.0.1:{p}"), "--db", &db])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        servers.0.push(child);
    }
    for p in ports {
        let up = (0..100).any(|_| {
            std::thread::sleep(std::time::Duration::from_millis(100));
            TcpStream::connect(("127.0.0.1", p)).is_ok()
        });
        assert!(up, "server on {p} did not start");
    }
    // 9,000 leads and 1,000 of them again with the same key: 10,000 requests.
    let mut requests: Vec<usize> = (0..9000).collect();
    requests.extend((0..9000).step_by(9));
    let requests = Arc::new(requests);
    let next = Arc::new(AtomicUsize::new(0));
    let answers = Arc::new(Mutex::new(BTreeMap::<usize, Vec<String>>::new()));
    let threads: Vec<_> = (0..64)
        .map(|t| {
            let (requests, next, answers, token) = (requests.clone(), next.clone(), answers.clone(), token.clone());
            std::thread::spawn(move || loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                let Some(&i) = requests.get(n) else { break };
                let body = format!(r#"{{"id": "lead{i:05}", "date": "2026-03-02", "attributes": {{"source": "web"}}}}"#);
                let (status, answer) = post(ports[(t + n) % 2], &token, &format!("key-{i}"), &body);
                assert_eq!(status, 200, "{answer}");
                answers.lock().unwrap().entry(i).or_default().push(answer);
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let answers = answers.lock().unwrap();
    assert_eq!(answers.len(), 9000, "no lead lost");
    let mut shares: BTreeMap<String, u32> = BTreeMap::new();
    for (i, bodies) in answers.iter() {
        assert!(bodies.windows(2).all(|w| w[0] == w[1]), "lead {i}: a retry got another answer: {bodies:?}");
        let v: serde_json::Value = serde_json::from_str(&bodies[0]).unwrap();
        *shares.entry(v["roles"][0]["employee"].as_str().unwrap_or("-").to_string()).or_default() += 1;
    }
    assert_eq!(shares, BTreeMap::from([("anna".into(), 3600), ("boris".into(), 3600), ("vera".into(), 1800)]));
    drop(servers);
    let book = run(&["owners", "--at", "2026-03-02"]);
    assert_eq!(book.lines().count() - 1, 9000, "one link per lead, none twice");
    testing::drop_schema(&url, &schema);
}

#[test]
fn tokens_are_listed_and_revoked_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("allot.db");
    let run = |args: &[&str]| {
        let out = allot().args(args).arg("--db").arg(&db).env("ALLOT_USER", "ops").output().unwrap();
        (out.status.success(), String::from_utf8_lossy(&out.stdout).to_string(), String::from_utf8_lossy(&out.stderr).to_string())
    };
    let (ok, token, _) = run(&["token", "create", "--scope", "router", "--label", "web-form", "--expires", "2099-01-01"]);
    assert!(ok && token.starts_with("allot_"), "{token}");
    let (ok, list, _) = run(&["token", "list"]);
    assert!(ok && list.contains("router") && list.contains("web-form") && list.contains("works until 2098-12-31"), "{list}");
    assert!(!list.contains(token.trim()), "the secret is never listed");
    let (ok, out, _) = run(&["token", "revoke", "1"]);
    assert!(ok && out.contains("token 1 revoked"), "{out}");
    let (_, list, _) = run(&["token", "list"]);
    assert!(list.contains("revoked by ops"), "{list}");
    let (ok, _, err) = run(&["token", "revoke", "1"]);
    assert!(!ok && err.contains("revoked already"), "{err}");
    let (ok, _, err) = run(&["token", "create", "--scope", "router", "--expires", "2020-01-01"]);
    assert!(!ok && err.contains("not after today"), "{err}");
    // `redate` refuses a day ahead and a client it does not know.
    let (ok, _, err) = run(&["redate", "lead-1", "2999-01-01"]);
    assert!(!ok && err.contains("after today"), "{err}");
    let (ok, _, err) = run(&["redate", "lead-1", "2026-01-01"]);
    assert!(!ok && err.contains("no client `lead-1`"), "{err}");
}

#[test]
fn users_are_added_listed_given_a_password_and_disabled_from_the_command_line() {
    // Issue #16: `allot user add|list|disable|passwd`; passwords only ever on standard input.
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("allot.db");
    std::fs::write(dir.path().join("employees.csv"), "id,name\nivanova,Иванова\n").unwrap();
    let run = |args: &[&str], stdin: &str| -> Result<String, String> {
        let out =
            allot().args(args).arg("--db").arg(&db).env("ALLOT_USER", "ops").current_dir(dir.path()).write_stdin(stdin).output().unwrap();
        let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout).to_string(), String::from_utf8_lossy(&out.stderr).to_string());
        if out.status.success() {
            Ok(stdout)
        } else {
            Err(stderr)
        }
    };
    run(&["import", "employees", "employees.csv"], "").unwrap();
    let out = run(&["user", "add", "ivanova", "--role", "manager", "--employee", "ivanova"], "пароль-менеджера-1\n").unwrap();
    assert!(out.contains("user `ivanova` (manager) added"), "{out}");
    let err = run(&["user", "add", "boss", "--role", "admin"], "").unwrap_err();
    assert!(err.contains("standard input"), "{err}");
    let err = run(&["user", "add", "boss", "--role", "admin"], "short\n").unwrap_err();
    assert!(err.contains("too short"), "{err}");
    let err = run(&["user", "add", "ivanova", "--role", "manager", "--employee", "ivanova"], "пароль-менеджера-1\n").unwrap_err();
    assert!(err.contains("exists already"), "{err}");
    let list = run(&["user", "list"], "").unwrap();
    assert!(list.contains("ivanova") && list.contains("manager") && list.contains("active") && !list.contains("пароль"), "{list}");
    run(&["user", "passwd", "ivanova"], "новый-пароль-2026\n").unwrap();
    run(&["user", "disable", "ivanova"], "").unwrap();
    let list = run(&["user", "list"], "").unwrap();
    assert!(list.contains("disabled by ops"), "{list}");
    let err = run(&["user", "disable", "nobody"], "").unwrap_err();
    assert!(err.contains("no user `nobody`"), "{err}");
}

/// One HTTP request read off `s`: its `X-Allot-Delivery` header and its body.
fn read_request(s: &mut TcpStream) -> Option<(String, String)> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = s.read(&mut chunk).ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(&buf).to_string();
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let header = |name: &str| {
                head.lines()
                    .find_map(|l| l.split_once(':').filter(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.trim().to_string()))
            };
            let length: usize = header("content-length")?.parse().ok()?;
            if body.len() >= length {
                return Some((header("x-allot-delivery")?, body[..length].to_string()));
            }
        }
    }
}

/// Issue #18 §3: `allot serve` killed with SIGKILL after a delivery was sent and before it was
/// marked sends, once started again, the same delivery (id and body) — no different one — and
/// loses none.
#[test]
fn a_server_killed_between_a_delivery_and_its_mark_sends_the_same_delivery_again_and_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("allot.db").display().to_string();
    let site = site(dir.path(), &db);
    let run = |args: &[&str]| run(&db, args);
    // The receiver: the first delivery is read and never answered (the server is killed while it
    // waits); the next ones are taken.
    let receiver = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let rport = receiver.local_addr().unwrap().port();
    run(&["webhook", "add", &format!("http://127.0.0.1:{rport}/hook"), "--events", "link.opened"]);
    std::fs::write(site.join("clients.csv"), "id,source\nk1,web\nk2,web\nk3,web\n").unwrap();
    run(&["sync", "--dir", site.to_str().unwrap(), "--date", "2026-03-02"]);
    let got: Arc<Mutex<Vec<(String, String)>>> = Arc::default();
    let (first_tx, first_rx) = std::sync::mpsc::channel();
    {
        let got = got.clone();
        std::thread::spawn(move || {
            let mut held = Vec::new();
            for stream in receiver.incoming() {
                let Ok(mut s) = stream else { continue };
                let Some(request) = read_request(&mut s) else { continue };
                let first = got.lock().unwrap().is_empty();
                got.lock().unwrap().push(request);
                if first {
                    held.push(s);
                    let _ = first_tx.send(());
                } else {
                    let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
                }
            }
        });
    }
    let serve = |port: u16| {
        std::process::Command::new(assert_cmd::cargo::cargo_bin("allot"))
            .current_dir(root())
            .args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--db", &db])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    };
    let mut servers = Servers(vec![serve(free_port())]);
    first_rx.recv_timeout(std::time::Duration::from_secs(30)).expect("the first delivery was sent");
    // SIGKILL: the delivery is out, its mark is not.
    servers.0[0].kill().unwrap();
    servers.0[0].wait().unwrap();
    assert!(run(&["outbox"]).contains("the later changes wait"), "not marked");
    servers.0.push(serve(free_port()));
    // The killed server's lease on the webhook (30 s) runs out first.
    let delivered = (0..300).any(|_| {
        std::thread::sleep(std::time::Duration::from_millis(200));
        run(&["outbox"]).contains("nothing waits")
    });
    assert!(delivered, "delivered after the restart: {}\n{}", run(&["outbox"]), run(&["log"]));
    drop(servers);
    let got = got.lock().unwrap().clone();
    assert_eq!(got.len(), 2, "sent once before the kill, once after: {got:?}");
    assert_eq!(got[0], got[1], "the same delivery, id and body");
    let body: serde_json::Value = serde_json::from_str(&got[1].1).unwrap();
    let clients: Vec<&str> = body["links"].as_array().unwrap().iter().map(|l| l["client"].as_str().unwrap()).collect();
    assert_eq!(clients, ["k1", "k2", "k3"], "none lost: {body}");
}

/// Issue #18 §1 and §5: `allot serve` killed with SIGKILL after the portal took a write-back and
/// before it was marked writes, once started again, the same owners to the same companies — no
/// different write — and loses none.
#[test]
fn a_server_killed_between_a_write_back_and_its_mark_writes_the_same_owners_again_and_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("allot.db").display().to_string();
    let run = |args: &[&str]| run(&db, args);
    let (url, stand) = super::stored::standin(30);
    stand.lock().unwrap().hold_next_write = true;
    let site = dir.path().join("site");
    std::fs::create_dir(&site).unwrap();
    std::fs::write(site.join("employees.csv"), "id,name,crm_user\nanna,Анна,1\nboris,Борис,2\n").unwrap();
    let clients: String = (1..=30).map(|i| format!("{i},ООО «Компания {i}»\n")).collect();
    std::fs::write(site.join("clients.csv"), format!("id,name\n{clients}")).unwrap();
    std::fs::write(
        site.join("scheme.toml"),
        "[crm]\nsystem = \"bitrix24\"\n\n[[rules]]\nid = \"desk\"\nrole = \"sales\"\nemployees = [\"anna\", \"boris\"]\nstrategy = \"balance-count\"\n",
    )
    .unwrap();
    let serve = |port: u16| {
        std::process::Command::new(assert_cmd::cargo::cargo_bin("allot"))
            .current_dir(root())
            .args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--db", &db])
            .env("ALLOT_BITRIX24_WEBHOOK", &url)
            .env("ALLOT_BITRIX24_RATE", "20")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    };
    let wait = |what: &str, done: &dyn Fn() -> bool| {
        let ok = (0..300).any(|_| {
            std::thread::sleep(std::time::Duration::from_millis(200));
            done()
        });
        assert!(ok, "{what}: {}", run(&["outbox"]));
    };
    // The server makes the portal's connector when it starts: told of the changes from then on.
    let mut servers = Servers(vec![serve(free_port())]);
    // The portal's connector's line of `allot outbox` (the server makes a `notify` one beside it).
    let portal_line = || run(&["outbox"]).lines().find(|l| l.starts_with("bitrix24 connector")).unwrap_or_default().to_string();
    wait("the connector is made", &|| !portal_line().is_empty());
    run(&["sync", "--dir", site.to_str().unwrap()]);
    wait("the owners are written and not answered", &|| stand.lock().unwrap().updates.len() == 30);
    // SIGKILL: the portal has the owners, the outbox's mark is not moved.
    servers.0[0].kill().unwrap();
    servers.0[0].wait().unwrap();
    assert!(portal_line().contains("the later changes wait"), "not marked");
    servers.0.push(serve(free_port()));
    // The killed server's lease on the connector (30 s) runs out first.
    wait("written again and marked", &|| portal_line().contains("nothing waits"));
    drop(servers);
    let stand = stand.lock().unwrap();
    assert_eq!(stand.updates.len(), 60, "written before the kill, and once again after it");
    assert_eq!(stand.updates[..30], stand.updates[30..], "the same companies, the same owners, in the same order");
    let companies: std::collections::BTreeSet<&str> = stand.updates.iter().map(|(c, _)| c.as_str()).collect();
    assert_eq!(companies.len(), 30, "none lost");
    let anna = stand.updates[..30].iter().filter(|(_, f)| f["ASSIGNED_BY_ID"] == "1").count();
    assert_eq!(anna, 15, "the desk's balance");
}

/// Issue #19: `allot backup` while `allot serve` routes leads copies one consistent state (it
/// restores and reads); after the load, a backup restores as a book identical to the store's.
#[test]
fn a_backup_under_routing_load_restores_and_a_quiet_one_restores_an_identical_book() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("allot.db").display().to_string();
    site(dir.path(), &db);
    let run = |args: &[&str]| run(&db, args);
    let token = run(&["token", "create", "--scope", "router", "--label", "load"]).trim().to_string();
    let port = free_port();
    let servers = Servers(vec![std::process::Command::new(assert_cmd::cargo::cargo_bin("allot"))
        .current_dir(root())
        .args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--db", &db])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()]);
    let up = (0..100).any(|_| {
        std::thread::sleep(std::time::Duration::from_millis(100));
        TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
    assert!(up, "the server did not start");
    // Four clients route leads until told to stop.
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let routed = Arc::new(AtomicUsize::new(0));
    let load: Vec<_> = (0..4)
        .map(|t| {
            let (stop, routed, token) = (stop.clone(), routed.clone(), token.clone());
            std::thread::spawn(move || {
                let mut i = 0;
                while !stop.load(Ordering::Relaxed) {
                    let body = format!(r#"{{"id": "lead-{t}-{i:05}", "date": "2026-03-02", "attributes": {{"source": "web"}}}}"#);
                    let (status, answer) = post(port, &token, &format!("key-{t}-{i}"), &body);
                    assert_eq!(status, 200, "{answer}");
                    routed.fetch_add(1, Ordering::Relaxed);
                    i += 1;
                }
            })
        })
        .collect();
    while routed.load(Ordering::Relaxed) < 200 {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let busy = dir.path().join("busy.db");
    let said = run(&["backup", busy.to_str().unwrap()]);
    assert!(said.contains("backed up") && said.contains("revision"), "{said}");
    let during = routed.load(Ordering::Relaxed);
    std::thread::sleep(std::time::Duration::from_millis(300));
    stop.store(true, Ordering::Relaxed);
    for t in load {
        t.join().unwrap();
    }
    assert!(routed.load(Ordering::Relaxed) > during, "the load went on while the backup was made");
    // The busy backup restores, whole, and its book is a state the store went through: each of
    // its leads has its owner, and it holds no more than the store.
    let restored_busy = dir.path().join("restored-busy.db").display().to_string();
    let said = super::allot().args(["restore", busy.to_str().unwrap(), "--db", &restored_busy]).output().unwrap();
    assert!(said.status.success(), "{}", String::from_utf8_lossy(&said.stderr));
    let owners_busy = super::allot().args(["owners", "--at", "2026-03-02", "--db", &restored_busy]).output().unwrap();
    let owners_busy = String::from_utf8(owners_busy.stdout).unwrap();
    let owners_now = run(&["owners", "--at", "2026-03-02"]);
    let (busy_lines, now_lines) = (owners_busy.lines().count(), owners_now.lines().count());
    assert!(busy_lines > 200 && busy_lines <= now_lines, "{busy_lines} of {now_lines}");
    assert!(owners_busy.lines().all(|l| owners_now.contains(l)), "every link of the backup is the store's");
    // Quiet: the backup restores as the same book, byte for byte.
    let quiet = dir.path().join("quiet.db");
    run(&["backup", quiet.to_str().unwrap()]);
    drop(servers);
    let restored = dir.path().join("restored.db").display().to_string();
    let out = super::allot().args(["restore", quiet.to_str().unwrap(), "--db", &restored]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let again = super::allot().args(["owners", "--at", "2026-03-02", "--db", &restored]).output().unwrap();
    assert_eq!(String::from_utf8(again.stdout).unwrap(), owners_now, "the same book");
    let log = |db: &str| String::from_utf8(super::allot().args(["log", "--db", db]).output().unwrap().stdout).unwrap();
    assert_eq!(log(&restored), log(&db), "the same history");
    // A restore over a store in use is refused without --replace; an existing backup file too.
    let out = super::allot().args(["restore", quiet.to_str().unwrap(), "--db", &db]).output().unwrap();
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("--replace"));
    let out = super::allot().args(["backup", quiet.to_str().unwrap(), "--db", &db]).output().unwrap();
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("exists already"));
}

/// Issue #19: `allot serve --config FILE` takes every switch from a file of ALLOT_NAME=value lines
/// (systemd's EnvironmentFile, docker's --env-file); the environment wins over the file; `allot
/// health` asks the running server (a container's check); a bad line is said at its place.
#[test]
fn serve_is_configured_by_a_file_of_settings_and_health_asks_it() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("allot.db").display().to_string();
    site(dir.path(), &db);
    let (port, other) = (free_port(), free_port());
    let config = dir.path().join("allot.env");
    std::fs::write(&config, format!("# the server\nALLOT_LISTEN=127.0.0.1:{port}\nALLOT_DB=\"{db}\"\nALLOT_MAX_BATCH=64\n")).unwrap();
    let serve = |env: &[(&str, String)]| {
        let mut c = std::process::Command::new(assert_cmd::cargo::cargo_bin("allot"));
        c.current_dir(root()).args(["serve", "--config", config.to_str().unwrap()]).env_remove("ALLOT_DB").env_remove("ALLOT_LISTEN");
        for (k, v) in env {
            c.env(k, v);
        }
        c.stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap()
    };
    let health = |p: u16| super::allot().args(["health", "--url", &format!("http://127.0.0.1:{p}/health")]).output().unwrap();
    let answers = |p: u16| {
        (0..100).any(|_| {
            std::thread::sleep(std::time::Duration::from_millis(100));
            health(p).status.success()
        })
    };
    let servers = Servers(vec![serve(&[])]);
    assert!(answers(port), "the file's address and store");
    let out = health(port);
    assert!(String::from_utf8_lossy(&out.stdout).contains("\"status\":\"ok\""), "{}", String::from_utf8_lossy(&out.stdout));
    drop(servers);
    let servers = Servers(vec![serve(&[("ALLOT_LISTEN", format!("127.0.0.1:{other}"))])]);
    assert!(answers(other), "the environment wins over the file");
    drop(servers);
    assert!(!health(other).status.success(), "nobody answers now");
    std::fs::write(&config, "ALLOT_LISTEN=127.0.0.1:1\nlisten 8080\n").unwrap();
    let out = super::allot().args(["serve", "--config", config.to_str().unwrap()]).output().unwrap();
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("allot.env:2: expected ALLOT_NAME=value"));
}

/// Issue #19: the Dockerfile's image builds and serves, healthy, as a user who is not root, its
/// store in the volume — where Docker runs; elsewhere skipped with a notice.
#[test]
fn the_container_image_builds_and_serves_where_docker_runs() {
    let docker = |args: &[&str]| std::process::Command::new("docker").args(args).output();
    match docker(&["info", "--format", "{{.ServerVersion}}"]) {
        Ok(out) if out.status.success() => {}
        _ => {
            eprintln!("notice: Docker is not running here: the container image is not built (run `docker build -t allot .` where it is)");
            return;
        }
    }
    let tag = "allot-test:latest";
    let built = docker(&["build", "-t", tag, root().to_str().unwrap()]).unwrap();
    if !built.status.success() {
        let err = String::from_utf8_lossy(&built.stderr);
        if err.contains("pull") || err.contains("resolve") || err.contains("registry") || err.contains("TLS handshake") {
            eprintln!("notice: Docker runs but cannot fetch the base images here: the container image is not built\n{err}");
            return;
        }
        panic!("the image does not build: {err}");
    }
    let port = free_port();
    let run = docker(&["run", "-d", "--rm", "-p", &format!("127.0.0.1:{port}:8080"), "-v", "allot-test-data:/var/lib/allot", tag]).unwrap();
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let id = String::from_utf8_lossy(&run.stdout).trim().to_string();
    let healthy = (0..60).any(|_| {
        std::thread::sleep(std::time::Duration::from_secs(1));
        super::allot().args(["health", "--url", &format!("http://127.0.0.1:{port}/health")]).output().is_ok_and(|o| o.status.success())
    });
    let user = docker(&["exec", &id, "id", "-u"]).unwrap();
    let _ = docker(&["stop", &id]);
    let _ = docker(&["volume", "rm", "allot-test-data"]);
    assert!(healthy, "the container serves");
    assert_eq!(String::from_utf8_lossy(&user.stdout).trim(), "10001", "not root");
}
