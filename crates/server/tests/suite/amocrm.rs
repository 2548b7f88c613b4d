//! The amoCRM connector against the stand-in account (`allot_server::crm::standin_amo`, issue #18
//! §2 and §5): OAuth 2 with refresh tokens kept, 7 requests a second, the pull, the write-back of
//! `responsible_user_id`, and the account's webhooks.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use allot_server::crm::amocrm::{self, Account, Auth, Client, Tokens};
use allot_server::crm::standin_amo::{self as standin, Amo};
use allot_server::crm::AmoConfig;
use allot_store::{Location, Subject};
use serde_json::{json, Value};

use super::{actor, blocking, Server, World};

const SCHEME: &str = r#"
[columns]
potential = "number"

[crm]
system = "amocrm"
employee = "EMAIL"

[crm.clients]
name = "name"
cf_512345 = "potential"
PHONE = "phone"

[[rules]]
id = "desk"
role = "sales"
employees = ["anna@example.ru", "boris@example.ru"]
strategy = "balance-count"
"#;

const HOOK_KEY: &str = "the-server-s-key-for-amocrm-hooks";

fn client() -> Client {
    Client { id: standin::CLIENT_ID.into(), secret: standin::CLIENT_SECRET.into(), redirect_uri: standin::REDIRECT_URI.into() }
}

struct Connected {
    location: Location,
    url: String,
    amo: Arc<Mutex<Amo>>,
    _dir: tempfile::TempDir,
}

/// An account connected by its authorization code, its users and companies pulled into a store
/// (the access token run out first: the pull refreshes it and the new pair is kept).
async fn connected(companies: usize) -> Connected {
    let (url, amo) = standin::account(companies, 7.0).await;
    let tokens = amocrm::connect(&url, &client(), standin::CODE).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let location = Location::Sqlite(dir.path().join("allot.db"));
    let (l, u, t) = (location.clone(), url.clone(), serde_json::to_string(&tokens).unwrap());
    let connector = blocking(move || {
        let mut store = allot_store::open(&l).unwrap();
        let (id, made) = store.add_connector("amocrm", &format!("{u}/"), &actor()).unwrap();
        assert!(made);
        store.set_connector_secret(id, &t).unwrap();
        id
    })
    .await;
    amo.lock().unwrap().expire_access();
    let map = allot_io::SchemeFile::parse(SCHEME, "scheme.toml").unwrap().crm().unwrap();
    let mut account = Account::new(&url, Auth::OAuth { client: client(), tokens }, amocrm::pace()).unwrap();
    let pulled = amocrm::pull(&mut account, &map, None, |_, _| {}).await.unwrap();
    assert_eq!((pulled.users, pulled.companies), (2, companies), "the inactive user is not an employee");
    let fresh = account.take_refreshed().expect("the run-out access token was refreshed");
    assert_eq!(fresh.refresh, amo.lock().unwrap().refresh, "the pair the account gave last");
    let (employees, clients) = (dir.path().join("employees.csv"), dir.path().join("clients.csv"));
    std::fs::write(&employees, &pulled.employees).unwrap();
    std::fs::write(&clients, &pulled.clients).unwrap();
    let (l, secret) = (location.clone(), serde_json::to_string(&fresh).unwrap());
    blocking(move || {
        let mut store = allot_store::open(&l).unwrap();
        store.set_connector_secret(connector, &secret).unwrap();
        let enc = allot_io::Encodings::default();
        allot_app::stored::import(store.as_mut(), Subject::Employee, &employees, &enc, &actor()).unwrap();
        allot_app::stored::import(store.as_mut(), Subject::Client, &clients, &enc, &actor()).unwrap();
    })
    .await;
    Connected { location, url, amo, _dir: dir }
}

impl Connected {
    async fn serve(&self) -> Server {
        let url = self.url.clone();
        let w = World { location: self.location.clone(), _dir: tempfile::tempdir().unwrap(), pg: None, tokens: Default::default() };
        let server = Server::start_with(&w, |c| {
            c.amocrm =
                Some(AmoConfig { url, long_lived: None, client: Some(client()), hook_key: Some(HOOK_KEY.into()), pace: amocrm::pace() });
        })
        .await;
        drop(w);
        server
    }

    async fn apply(&self) -> i64 {
        super::apply_today(&self.location, SCHEME).await
    }

    async fn connector(&self) -> allot_store::Webhook {
        super::connector_in(&self.location, "amocrm").await
    }

    /// Waits (up to `secs`) until `done` holds of the stand-in.
    async fn until(&self, secs: u64, done: impl Fn(&Amo) -> bool) -> bool {
        super::until(&self.amo, secs, done).await
    }

    /// The store's sales owner of each client today, as the account's user id.
    async fn owners(&self) -> std::collections::BTreeMap<String, u64> {
        let l = self.location.clone();
        blocking(move || {
            let mut store = allot_store::open(&l).unwrap();
            let mut out = std::collections::BTreeMap::new();
            for (e, user) in [("anna@example.ru", 100), ("boris@example.ru", 200)] {
                for link in store.book(e, allot_store::Day(allot_app::clock::today())).unwrap() {
                    out.insert(link.client, user);
                }
            }
            out
        })
        .await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_thousand_companies_are_written_back_at_seven_requests_a_second_and_a_refreshed_token_pair_is_kept() {
    let c = connected(2_000).await;
    let server = c.serve().await;
    let started = std::time::Instant::now();
    let revision = c.apply().await;
    // The access token runs out in the middle: refreshed once, the new pair kept in the store.
    assert!(c.until(60, |a| a.updates.len() >= 500).await);
    c.amo.lock().unwrap().expire_access();
    assert!(c.until(120, |a| a.updates.len() >= 2_000).await, "written: {}", c.amo.lock().unwrap().updates.len());
    let took = started.elapsed();
    for _ in 0..100 {
        if c.connector().await.delivered == revision {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let hook = c.connector().await;
    assert_eq!((hook.delivered, hook.attempts), (revision, 0), "{:?}", hook.last_error);
    let kept: Tokens = serde_json::from_str(&hook.secret).unwrap();
    let owners = c.owners().await;
    {
        let amo = c.amo.lock().unwrap();
        assert_eq!(kept.refresh, amo.refresh, "the pair in the store is the one that works");
        assert_eq!(amo.issued, 3, "the code, the pull's refresh, the worker's refresh");
        assert_eq!(amo.refused, 0, "never past 7 requests a second");
        assert_eq!(amo.updates.len(), 2_000, "each company once");
        for (entity, id, user) in &amo.updates {
            assert_eq!(entity, "companies");
            assert_eq!(owners.get(&id.to_string()), Some(user), "company {id}");
        }
        assert_eq!(amo.updates.iter().filter(|u| u.2 == 100).count(), 1_000);
    }
    println!("2,000 companies written back in {took:?}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_company_sent_three_times_by_amocrm_is_routed_once_and_a_lead_becomes_a_client_of_its_own() {
    let c = connected(4).await;
    let server = c.serve().await;
    c.apply().await;
    assert!(c.until(30, |a| a.updates.len() >= 4).await);
    let hook = server.url(&format!("/v1/hooks/amocrm/{HOOK_KEY}"));
    assert_eq!(standin::fire(&server.url("/v1/hooks/amocrm/not-the-key"), "companies", &[1]).await.0, 403);
    let id = c.amo.lock().unwrap().add_company("ООО «Новая»", 7_000);
    let ids = [id];
    let (a, b, d) = tokio::join!(
        standin::fire(&hook, "companies", &ids),
        standin::fire(&hook, "companies", &ids),
        standin::fire(&hook, "companies", &ids)
    );
    let answers: Vec<Value> = [a, b, d]
        .into_iter()
        .map(|(status, body)| {
            assert_eq!(status, 200, "{body}");
            serde_json::from_str(&body).unwrap()
        })
        .collect();
    assert_eq!(answers.iter().filter(|a| a["records"][0]["replayed"] == false).count(), 1, "{answers:?}");
    assert!(c.until(10, |a| a.updates.iter().any(|u| u.1 == id)).await, "written back");
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let owner = c.owners().await.get(&id.to_string()).copied().expect("routed");
    {
        let amo = c.amo.lock().unwrap();
        let writes: Vec<&(String, u64, u64)> = amo.updates.iter().filter(|u| u.1 == id).collect();
        assert_eq!(writes, [&("companies".to_string(), id, owner)], "written once");
    }
    // A lead: its own client (`lead-ID`), its owner written to the lead.
    c.amo.lock().unwrap().leads.push(json!({"id": 77, "name": "Заявка с сайта", "price": 120000, "updated_at": 1_760_000_000}));
    let (status, body) = standin::fire(&hook, "leads", &[77]).await;
    assert!(status == 200 && body.contains("\"id\":\"lead-77\""), "{body}");
    assert!(c.until(10, |a| a.updates.iter().any(|u| u.0 == "leads" && u.1 == 77)).await, "the lead's owner written back");
    server.stop().await;
}

/// The rates of BENCHMARKS.md §4h at amoCRM's limit (7 requests a second): a 10,000-company pull
/// and its write-back. A bench command, not a check of speed:
/// `cargo test --release -p allot-server --test tests -- --ignored --nocapture crm_rates`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a bench: a minute at amoCRM's real rate"]
async fn crm_rates_amocrm() {
    let started = std::time::Instant::now();
    let c = connected(10_000).await;
    let pull_took = started.elapsed();
    let server = c.serve().await;
    let started = std::time::Instant::now();
    c.apply().await;
    let applied = started.elapsed();
    assert!(c.until(300, |a| a.updates.len() >= 10_000).await);
    let wrote = started.elapsed() - applied;
    let refused = c.amo.lock().unwrap().refused;
    println!(
        "amocrm at 7 requests/s: connect and pull of 10,000 companies {pull_took:.1?}; apply {applied:.1?}, then 10,000 owners written in {wrote:.1?} ({:.0} companies/s); refused {refused}",
        10_000.0 / wrote.as_secs_f64()
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_account_s_leads_are_pulled_as_clients_of_their_own_when_the_map_says_so() {
    let (url, amo) = standin::account(2, 7.0).await;
    amo.lock().unwrap().leads =
        (1..=3).map(|i| json!({"id": i, "name": format!("Сделка {i}"), "price": 5000, "updated_at": 1_760_000_000})).collect();
    let tokens = amocrm::connect(&url, &client(), standin::CODE).await.unwrap();
    let scheme = "[crm]\nsystem = \"amocrm\"\nleads = true\n\n[crm.clients]\nname = \"name\"\nprice = \"price\"\n";
    let map = allot_io::SchemeFile::parse(scheme, "scheme.toml").unwrap().crm().unwrap();
    let mut account = Account::new(&url, Auth::OAuth { client: client(), tokens }, amocrm::pace()).unwrap();
    let pulled = amocrm::pull(&mut account, &map, None, |_, _| {}).await.unwrap();
    assert_eq!((pulled.companies, pulled.leads), (2, 3));
    assert!(
        pulled.clients.ends_with("2,ООО «Компания 2»,\nlead-1,Сделка 1,5000\nlead-2,Сделка 2,5000\nlead-3,Сделка 3,5000\n"),
        "{}",
        pulled.clients
    );
}
