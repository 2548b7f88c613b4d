//! The use cases of `allot-app`, called as a front end calls them (the CLI and the server only
//! parse, authenticate, call and render): loading with every problem at once, the book over time
//! in a SQLite store, the explanation of one stored client, and the routing model on a day.

#![allow(clippy::unwrap_used)] // tests stop at the first surprise

use std::path::Path;

use allot_app::stored::{self, PlanRequest};
use allot_app::{Inputs, Silent};
use allot_io::Encodings;
use allot_store::{Actor, Location, Subject};

const SCHEME: &str = "[[territories]]\nid = \"volga\"\nattribute = \"region\"\nvalues = [\"RU-TA\"]\nowners = { sales = \"ivanov\" }\n\n\
                      [[rules]]\nid = \"by-territory\"\nrole = \"sales\"\nterritory_owner = true\n";

fn actor() -> Actor {
    Actor { by: "test".into(), at: "2026-11-29T00:00:00Z".into() }
}

fn files(dir: &Path, clients: &str) -> Inputs {
    std::fs::write(dir.join("scheme.toml"), SCHEME).unwrap();
    std::fs::write(dir.join("clients.csv"), clients).unwrap();
    std::fs::write(dir.join("employees.csv"), "id,name\nivanov,Иванов\npetrova,Петрова\n").unwrap();
    Inputs {
        scheme: dir.join("scheme.toml"),
        clients: dir.join("clients.csv"),
        employees: dir.join("employees.csv"),
        deals: None,
        current: None,
        encodings: Encodings::default(),
    }
}

#[test]
fn load_returns_the_data_s_and_the_scheme_s_problems_together() {
    let dir = tempfile::tempdir().unwrap();
    let inputs = files(dir.path(), "id;region;potential\nc1;Татарстан;много\n");
    std::fs::write(dir.path().join("scheme.toml"), SCHEME.replace("attribute = \"region\"", "attribute = \"regoin\"")).unwrap();
    let Err(errors) = allot_app::load(&inputs, &Silent) else { panic!("the bad number and the typo are errors") };
    let text = allot_core::diag::render_all(&errors);
    assert!(text.contains("`potential` must be number") && text.contains("regoin"), "{text}");
    // Fixed, the region name is read as its code and the client goes to the territory's owner.
    let inputs = files(dir.path(), "id;region;potential\nc1;Татарстан;1 500\n");
    let l = allot_app::load(&inputs, &Silent).unwrap();
    let done = allot_app::assign(&l, &allot_core::Options { today: 20_000, ..Default::default() });
    assert_eq!(done.clients.cells[0].employee().map(|e| l.scheme.employees[e as usize].id.as_str()), Some("ivanov"));
}

#[test]
fn the_book_imports_plans_applies_and_explains_one_stored_client() {
    let dir = tempfile::tempdir().unwrap();
    let inputs = files(dir.path(), "id,name,region,potential\nc1,ООО Ромашка,Республика Татарстан,100\nc2,ИП Петров,RU-MOW,50\n");
    let mut store = allot_store::open(&Location::Sqlite(dir.path().join("allot.db"))).unwrap();
    let enc = Encodings::default();
    stored::import(store.as_mut(), Subject::Employee, &inputs.employees, &enc, &actor()).unwrap();
    let r = stored::import(store.as_mut(), Subject::Client, &inputs.clients, &enc, &actor()).unwrap();
    assert_eq!(r.rows, 2);
    let day = allot_rules::parse_iso_date("2026-03-02").unwrap();
    let req = PlanRequest { date: day, scheme: Some((SCHEME.into(), "scheme.toml".into())), rebalance: false };
    let plan = stored::plan(store.as_mut(), &req, &actor()).unwrap();
    assert_eq!(plan.opens.len(), 1, "c1 is in the territory; c2 is in none");
    stored::apply(store.as_mut(), &plan, &actor()).unwrap();
    // The stored client is explained from its own row and links, with its name and region code.
    let text = stored::explain_stored(store.as_mut(), "c1", day, allot_i18n::Lang::En).unwrap();
    assert!(text.contains("region=RU-TA") && text.contains("role sales → ivanov"), "{text}");
    assert!(matches!(stored::explain_stored(store.as_mut(), "c9", day, allot_i18n::Lang::En), Err(stored::AppError::NotFound(_))));
    // The same explanation in Russian (issue #16): every word of it from the catalogue.
    let ru = stored::explain_stored(store.as_mut(), "c1", day, allot_i18n::Lang::Ru).unwrap();
    assert!(ru.contains("клиент c1: ") && ru.contains("роль sales → ivanov") && ru.contains("ПОДХОДИТ"), "{ru}");
    for english in ["client", "territory:", "role ", "MATCHES", "rule "] {
        assert!(!ru.contains(english), "`{english}` left in English:\n{ru}");
    }
    // An employee's book names each client.
    let (rows, clients) = stored::book_with_clients(store.as_mut(), "ivanov", day).unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(clients["c1"].name.as_deref(), Some("ООО Ромашка"));
    // The routing model on a day knows an absence registered for it.
    stored::absent(store.as_mut(), "ivanov", day, day + 6, None, &actor()).unwrap();
    let mut model = allot_app::routing::Model::load(store.as_mut()).unwrap();
    model.on(day + 1);
    let ivanov = model.scheme.employee("ivanov").unwrap() as usize;
    assert_eq!((model.scheme.employees[ivanov].absent_from, model.scheme.employees[ivanov].absent_to), (Some(day), Some(day + 6)));
    model.on(day + 7);
    assert_eq!(model.scheme.employees[ivanov].absent_from, None, "back after the absence");
}

#[test]
fn an_absence_ends_early_the_cover_ends_and_the_clients_come_back_that_day() {
    // Issue #16 (Team: absences set, seen and ended): ivanov is away from 2 to 15 March, petrova
    // covers; ivanov is back on the 10th instead.
    let dir = tempfile::tempdir().unwrap();
    let inputs = files(dir.path(), "id,name,region\nc1,ООО Ромашка,RU-TA\n");
    let mut store = allot_store::open(&Location::Sqlite(dir.path().join("allot.db"))).unwrap();
    let enc = Encodings::default();
    stored::import(store.as_mut(), Subject::Employee, &inputs.employees, &enc, &actor()).unwrap();
    stored::import(store.as_mut(), Subject::Client, &inputs.clients, &enc, &actor()).unwrap();
    let day = |s: &str| allot_rules::parse_iso_date(s).unwrap();
    let req = PlanRequest { date: day("2026-03-01"), scheme: Some((SCHEME.into(), "scheme.toml".into())), rebalance: false };
    let plan = stored::plan(store.as_mut(), &req, &actor()).unwrap();
    stored::apply(store.as_mut(), &plan, &actor()).unwrap();
    let id = stored::absent(store.as_mut(), "ivanov", day("2026-03-02"), day("2026-03-15"), Some("petrova"), &actor()).unwrap();
    let req = PlanRequest { date: day("2026-03-02"), scheme: None, rebalance: false };
    let plan = stored::plan(store.as_mut(), &req, &actor()).unwrap();
    stored::apply(store.as_mut(), &plan, &actor()).unwrap();
    let holder = |store: &mut dyn allot_store::Store, d: &str| {
        store.owners_at(allot_store::Day(day(d)), Some("c1")).unwrap().into_iter().map(|l| l.employee).collect::<Vec<_>>()
    };
    assert_eq!(holder(store.as_mut(), "2026-03-12"), ["petrova"]);
    let today = day("2026-03-05");
    // Not in the past, not later than registered, not before the cover began.
    for (last, why) in [("2026-03-03", "in the past"), ("2026-03-15", "would not shorten"), ("2026-03-20", "would not shorten")] {
        let e = stored::end_absence(store.as_mut(), id, day(last), today, true, &actor()).unwrap_err();
        assert!(e.to_string().contains(why), "{last}: {e}");
    }
    // The preview says what would change and changes nothing.
    let preview = stored::end_absence(store.as_mut(), id, day("2026-03-09"), today, false, &actor()).unwrap();
    assert_eq!((preview.covers_ended, preview.returns_moved, preview.was_last), (1, 1, allot_store::Day(day("2026-03-15"))));
    assert_eq!(holder(store.as_mut(), "2026-03-12"), ["petrova"], "a preview changes nothing");
    let done = stored::end_absence(store.as_mut(), id, day("2026-03-09"), today, true, &actor()).unwrap();
    assert_eq!(done, preview);
    assert_eq!(holder(store.as_mut(), "2026-03-09"), ["petrova"], "the last day of the absence is still covered");
    assert_eq!(holder(store.as_mut(), "2026-03-10"), ["ivanov"], "back on the 10th");
    assert_eq!(holder(store.as_mut(), "2026-03-16"), ["ivanov"]);
    // History keeps the cover, now ending on the 10th, and who ended it.
    let history = store.history("c1").unwrap();
    let cover = history.iter().find(|l| l.employee == "petrova").unwrap();
    assert_eq!((cover.from, cover.to), (allot_store::Day(day("2026-03-02")), Some(allot_store::Day(day("2026-03-10")))));
    assert_eq!(cover.closed_by.as_deref(), Some("test"));
    let people = store.people().unwrap();
    assert_eq!(people.absences[0].last, allot_store::Day(day("2026-03-09")));
    // The loads kept by the store's triggers (held_counts) are what counting the book says, on
    // every day around the absence: opens, closes, covers cut short and returns moved earlier.
    for d in day("2026-02-27")..day("2026-03-20") {
        let mut counted: std::collections::BTreeMap<(String, String), u64> = Default::default();
        for l in store.owners_at(allot_store::Day(d), None).unwrap() {
            *counted.entry((l.employee, l.role)).or_default() += 1;
        }
        let counted: Vec<(String, String, u64)> = counted.into_iter().map(|((e, r), n)| (e, r, n)).collect();
        assert_eq!(store.loads(allot_store::Day(d), None).unwrap(), counted, "on {}", allot_rules::civil_from_days(d));
    }
    // Ended once, it cannot be ended later than that again.
    assert!(stored::end_absence(store.as_mut(), id, day("2026-03-12"), today, true, &actor()).is_err());
    assert!(matches!(stored::end_absence(store.as_mut(), 999, day("2026-03-12"), today, true, &actor()), Err(stored::AppError::Store(_))));
}

#[test]
fn sync_checks_everything_first_and_a_dry_run_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let inputs = files(dir.path(), "ID;Регион\nc1;Татарстан\n");
    let mut store = allot_store::open(&Location::Sqlite(dir.path().join("allot.db"))).unwrap();
    let day = allot_rules::parse_iso_date("2026-03-02").unwrap();
    let mut req = stored::SyncRequest {
        scheme: (format!("[columns]\nregion = \"Регион\"\n\n{SCHEME}"), "scheme.toml".into()),
        employees: inputs.employees.clone(),
        clients: inputs.clients.clone(),
        deals: None,
        encodings: Encodings::default(),
        date: day,
        dry_run: true,
    };
    // Against an empty store a dry run cannot plan (no employees are stored yet) and writes nothing.
    assert!(stored::sync(store.as_mut(), &req, &actor()).is_err());
    assert_eq!(store.revision().unwrap(), 0, "a dry run writes nothing");
    req.dry_run = false;
    let done = stored::sync(store.as_mut(), &req, &actor()).unwrap();
    assert_eq!(done.imported.len(), 2);
    assert_eq!(done.applied.map(|a| a.opened), Some(1), "the export's `Регион` read by the folder's [columns] before the scheme is active");
    // A second client, tried dry: the plan shows it, nothing lands.
    std::fs::write(&inputs.clients, "ID;Регион\nc1;Татарстан\nc2;Респ. Татарстан\n").unwrap();
    req.dry_run = true;
    let before = store.revision().unwrap();
    let dry = stored::sync(store.as_mut(), &req, &actor()).unwrap();
    assert!(dry.imported.is_empty() && dry.applied.is_none());
    assert_eq!(store.revision().unwrap(), before, "a dry run writes nothing");
    req.dry_run = false;
    // A bad file stops it before anything lands.
    std::fs::write(&inputs.employees, "id,name,capacity\nivanov,Иванов,много\n").unwrap();
    let before = store.revision().unwrap();
    assert!(stored::sync(store.as_mut(), &req, &actor()).is_err());
    assert_eq!(store.revision().unwrap(), before);
}

/// Runs `test` on a fresh SQLite store and, where PostgreSQL answers, on a fresh schema of it.
fn each_store(name: &str, test: impl Fn(&mut dyn allot_store::Store)) {
    let dir = tempfile::tempdir().unwrap();
    test(allot_store::open(&Location::Sqlite(dir.path().join("allot.db"))).unwrap().as_mut());
    if let Some(url) = allot_store::testing::postgres(name) {
        let schema = allot_store::testing::fresh_schema();
        let mut store = allot_store::pg::PgStore::connect(&url, Some(&schema)).unwrap();
        test(&mut store);
        drop(store);
        allot_store::testing::drop_schema(&url, &schema);
    }
}

#[test]
fn a_pin_moves_the_link_at_once_and_history_says_so() {
    // S1.1: a manual pin wins over the rules from its day on, and history says who pinned and why.
    each_store("a_pin_moves_the_link_at_once_and_history_says_so", |store| {
        let dir = tempfile::tempdir().unwrap();
        let inputs = files(dir.path(), "id,region\nc1,RU-TA\n");
        let enc = Encodings::default();
        stored::import(store, Subject::Employee, &inputs.employees, &enc, &actor()).unwrap();
        stored::import(store, Subject::Client, &inputs.clients, &enc, &actor()).unwrap();
        let day = allot_store::Day::parse("2026-03-02").unwrap();
        let req = PlanRequest { date: day.0, scheme: Some((SCHEME.into(), "scheme.toml".into())), rebalance: false };
        let plan = stored::plan(store, &req, &actor()).unwrap();
        stored::apply(store, &plan, &actor()).unwrap();
        let pin = |employee, reason, date| allot_store::PinRequest { client: "c1", role: "sales", employee, reason, date };
        let on = allot_store::Day(day.0 + 5);
        let p = stored::pin(store, &pin("petrova", "asked for by the client", on), &actor()).unwrap();
        assert_eq!(p.moved_from.as_deref(), Some("ivanov"));
        assert!(!p.replaced_pin);
        let h = store.history("c1").unwrap();
        assert_eq!(h.len(), 2);
        assert_eq!((h[0].to, h[1].from), (Some(on), on), "ivanov's link ends the day petrova's starts");
        assert_eq!(
            (h[1].employee.as_str(), h[1].cause, h[1].note.as_str()),
            ("petrova", allot_store::Cause::Pin, "asked for by the client")
        );
        // Pinning to the holder moves nothing; it replaces the pin.
        let same = stored::pin(store, &pin("petrova", "again", allot_store::Day(on.0 + 1)), &actor()).unwrap();
        assert!(same.replaced_pin && same.moved_from.is_none());
        assert_eq!(store.history("c1").unwrap().len(), 2);
        assert!(matches!(
            stored::pin(store, &pin("nobody", "x", on), &actor()),
            Err(stored::AppError::Store(allot_store::StoreError::NotFound { what: "employee", .. }))
        ));
        assert!(stored::pin(store, &pin("petrova", " ", on), &actor()).is_err(), "a pin needs a reason");
    });
}

#[test]
fn tokens_are_made_with_a_scope_listed_with_their_state_and_revoked_once() {
    each_store("tokens_are_made_with_a_scope_listed_with_their_state_and_revoked_once", |store| {
        use allot_app::tokens::{self, TokenError, TokenRequest, TokenState};
        let dir = tempfile::tempdir().unwrap();
        let inputs = files(dir.path(), "id\nc1\n");
        stored::import(store, Subject::Employee, &inputs.employees, &Encodings::default(), &actor()).unwrap();
        let today = allot_store::Day::parse("2026-11-29").unwrap();
        let req = |scope, employee, expires: Option<&str>| TokenRequest {
            scope,
            employee,
            label: "t",
            expires: expires.map(|d| allot_store::Day::parse(d).unwrap()),
            today,
        };
        assert!(matches!(tokens::create(store, &req("root", None, None), &actor()), Err(TokenError::UnknownScope(_))));
        assert!(matches!(tokens::create(store, &req("employee", None, None), &actor()), Err(TokenError::NeedsEmployee(_))));
        assert!(matches!(tokens::create(store, &req("admin", None, Some("2026-11-29")), &actor()), Err(TokenError::ExpiresBeforeUse(_))));
        assert_eq!(store.revision().unwrap(), 1, "a refused token records nothing");
        let admin = tokens::create(store, &req("admin", None, Some("2026-12-01")), &actor()).unwrap();
        let own = tokens::create(store, &req("employee", Some("ivanov"), None), &actor()).unwrap();
        assert!(admin.starts_with("allot_") && admin.len() == 70 && admin != own);
        assert_eq!(tokens::find(store, &own, today).unwrap().and_then(|t| t.employee).as_deref(), Some("ivanov"));
        assert!(tokens::find(store, &admin, allot_store::Day(today.0 + 2)).unwrap().is_none(), "expired on its day");
        let states: Vec<TokenState> = tokens::list(store, today).unwrap().into_iter().map(|(_, s)| s).collect();
        assert_eq!(states, [TokenState::WorksUntil(allot_store::Day(today.0 + 1)), TokenState::Works]);
        let id = tokens::list(store, today).unwrap()[1].0.token.id;
        tokens::revoke(store, id, &actor()).unwrap();
        assert!(tokens::revoke(store, id, &actor()).is_err(), "revoked once");
        assert!(tokens::find(store, &own, today).unwrap().is_none());
        assert!(matches!(tokens::list(store, today).unwrap()[1].1, TokenState::Revoked { .. }));
    });
}

#[test]
fn a_user_signs_in_is_locked_out_after_failures_and_a_session_ends() {
    // Issue #16: sign-in with argon2id passwords, a growing lock-out, sessions with CSRF tokens.
    each_store("a_user_signs_in_is_locked_out_after_failures_and_a_session_ends", |store| {
        use allot_app::users::{self, UserError, UserRequest};
        let dir = tempfile::tempdir().unwrap();
        let inputs = files(dir.path(), "id\nc1\n");
        stored::import(store, Subject::Employee, &inputs.employees, &Encodings::default(), &actor()).unwrap();
        let req = |login, role, employee, password| UserRequest { login, role, employee, password };
        assert!(matches!(users::add(store, &req("a", "root", None, "long enough pass"), &actor()), Err(UserError::UnknownRole(_))));
        assert!(matches!(users::add(store, &req("a", "employee", None, "long enough pass"), &actor()), Err(UserError::NeedsEmployee(_))));
        assert!(matches!(users::add(store, &req("a", "admin", None, "short"), &actor()), Err(UserError::WeakPassword)));
        users::add(store, &req("ivanov", "employee", Some("ivanov"), "правильный пароль"), &actor()).unwrap();
        let stored = store.user("ivanov").unwrap().unwrap();
        assert!(stored.password.starts_with("$argon2id$") && !stored.password.contains("правильный"), "only the hash is kept");
        let now = 1_796_000_000; // 2026-11-29
        let ok = users::sign_in(store, "ivanov", "правильный пароль", now).unwrap();
        assert!(ok.secret.starts_with("session_") && ok.csrf.starts_with("csrf_") && ok.secret != ok.csrf);
        assert_eq!(
            users::session(store, &ok.secret, now + 60).unwrap().map(|s| (s.user.login, s.csrf)),
            Some(("ivanov".into(), ok.csrf.clone()))
        );
        assert!(users::session(store, &ok.secret, now + users::SESSION_SECONDS).unwrap().is_none(), "a session expires");
        assert!(users::session(store, "session_guess", now).unwrap().is_none());
        assert!(users::sign_out(store, &ok.secret, now + 1).unwrap());
        assert!(users::session(store, &ok.secret, now + 2).unwrap().is_none(), "signed out");
        // Unknown login and wrong password say the same.
        assert!(matches!(users::sign_in(store, "nobody", "x", now), Err(UserError::BadCredentials)));
        for _ in 0..users::FREE_FAILURES - 1 {
            assert!(matches!(users::sign_in(store, "ivanov", "wrong", now), Err(UserError::BadCredentials)));
        }
        // The fifth failure locks for 30 s; meanwhile even the right password is refused.
        assert!(matches!(users::sign_in(store, "ivanov", "wrong", now), Err(UserError::Locked { .. })));
        assert!(matches!(users::sign_in(store, "ivanov", "правильный пароль", now + 29), Err(UserError::Locked { .. })));
        // After it, a wrong password locks for twice as long; then the right one signs in and clears it.
        assert!(
            matches!(users::sign_in(store, "ivanov", "wrong", now + 31), Err(UserError::Locked { until }) if until == allot_app::clock::rfc3339(now + 31 + 60))
        );
        assert!(users::sign_in(store, "ivanov", "правильный пароль", now + 92).is_ok());
        assert_eq!(store.user("ivanov").unwrap().unwrap().failures, 0);
        assert_eq!(
            (users::lock_seconds(4), users::lock_seconds(5), users::lock_seconds(7), users::lock_seconds(40)),
            (None, Some(30), Some(120), Some(3600))
        );
        // Changing one's password needs the old one; disabling ends sign-in.
        assert!(matches!(users::change_password(store, "ivanov", "wrong", "новый пароль 2026", &actor()), Err(UserError::BadCredentials)));
        users::change_password(store, "ivanov", "правильный пароль", "новый пароль 2026", &actor()).unwrap();
        assert!(users::sign_in(store, "ivanov", "новый пароль 2026", now + 200).is_ok());
        users::disable(store, "ivanov", &actor()).unwrap();
        assert!(matches!(users::sign_in(store, "ivanov", "новый пароль 2026", now + 300), Err(UserError::BadCredentials)));
    });
}
