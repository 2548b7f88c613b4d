//! The Bitrix24 connector against the stand-in portal (`allot_server::crm::standin`, issue #18 §5).

use std::time::Duration;

use allot_server::crm::bitrix24::{CallError, Pace, Portal};
use allot_server::crm::standin::{portal, KEY};
use serde_json::json;

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
    let scheme = "[columns]\npotential = \"number\"\n\n[crm]\nsystem = \"bitrix24\"\nemployee = \"EMAIL\"\n\n[crm.clients]\nTITLE = \"name\"\nUF_CRM_POTENTIAL = \"potential\"\nPHONE = \"phone\"\nINDUSTRY = \"industry\"\nUF_CRM_SEGMENT = \"segment\"\n";
    let map = allot_io::SchemeFile::parse(scheme, "scheme.toml").unwrap().crm().unwrap();
    let mut p = Portal::new(&url, Pace::default()).unwrap();
    let mut steps = vec![];
    let pulled = allot_server::crm::bitrix24::pull(&mut p, &map, |what, done, of| steps.push((what.to_string(), done, of))).await.unwrap();
    assert_eq!((pulled.users, pulled.companies), (2, 120), "the dismissed user is not an employee");
    assert_eq!(pulled.employees, "id,name\nanna@example.ru,Анна Смирнова\nboris@example.ru,Борис Кузнецов\n");
    // The fields in the map's order (by field code): INDUSTRY (named from the portal's reference
    // list, not its id "IT"), PHONE, TITLE, UF_CRM_POTENTIAL, UF_CRM_SEGMENT (a user field's list:
    // its items' names, not their ids 11 and 12).
    let want = "id,industry,phone,name,potential,segment\n\
                1,Информационные технологии,+7 900 000-00-00,ООО «Компания 1»,1000,Ключевой\n\
                2,Информационные технологии,+7 900 000-00-01,ООО «Компания 2»,2000,Обычный\n";
    assert!(pulled.clients.starts_with(want), "{}", pulled.clients);
    assert!(steps.contains(&("crm.company.list".to_string(), 120, 120)), "{steps:?}");
    assert_eq!(steps.last(), Some(&("crm.status.list".to_string(), 2, 2)), "the industries' names read once");
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
