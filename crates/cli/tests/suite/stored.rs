//! The store commands (S1.1–S1.3), run as a user runs them, on SQLite and on PostgreSQL.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};

use allot_store::testing;

use super::{allot, example, root};

/// One store in a scratch folder: SQLite in the folder, or a fresh PostgreSQL schema.
struct Store {
    dir: tempfile::TempDir,
    db: String,
    pg: Option<(String, String)>,
}

impl Drop for Store {
    fn drop(&mut self) {
        if let Some((url, schema)) = &self.pg {
            testing::drop_schema(url, schema);
        }
    }
}

impl Store {
    fn sqlite() -> Store {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("allot.db").display().to_string();
        Store { dir, db, pg: None }
    }
    fn postgres(url: &str) -> Store {
        let schema = testing::fresh_schema();
        allot_store::pg::PgStore::connect(url, Some(&schema)).unwrap();
        Store { dir: tempfile::tempdir().unwrap(), db: testing::url_with_schema(url, &schema), pg: Some((url.to_string(), schema)) }
    }
    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
    fn run(&self, args: &[&str]) -> Output {
        allot().args(args).arg("--db").arg(&self.db).env("ALLOT_USER", "head-of-sales").output().unwrap()
    }
    /// Runs a command that must succeed; returns its standard output.
    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "allot {args:?} failed:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }
    /// Runs a command that must fail; returns its standard error.
    fn fails(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(!out.status.success(), "allot {args:?} should have failed:\n{}", String::from_utf8_lossy(&out.stdout));
        String::from_utf8(out.stderr).unwrap()
    }
    /// `(client, role) → employee` on a day.
    fn owners(&self, date: &str) -> BTreeMap<(String, String), String> {
        let out = self.ok(&["owners", "--at", date]);
        let mut rdr = csv::Reader::from_reader(out.as_bytes());
        rdr.records().map(|r| r.unwrap()).map(|r| ((r[0].to_string(), r[1].to_string()), r[2].to_string())).collect()
    }
    fn plan(&self, extra: &[&str]) -> (String, PathBuf) {
        let file =
            self.path(&format!("plan-{}.json", std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos()));
        let mut args = vec!["plan", "-o", file.to_str().unwrap()];
        args.extend_from_slice(extra);
        (self.ok(&args), file)
    }
    fn apply(&self, plan: &Path) -> String {
        self.ok(&["apply", plan.to_str().unwrap()])
    }
    /// The S3 example imported and its first plan applied on `date`.
    fn s3(&self, date: &str) {
        let e = example("s3");
        self.ok(&["import", "employees", e.join("employees.csv").to_str().unwrap()]);
        self.ok(&["import", "clients", e.join("clients.csv").to_str().unwrap()]);
        let (_, p) = self.plan(&["--scheme", e.join("scheme.toml").to_str().unwrap(), "--date", date]);
        self.apply(&p);
    }
}

/// Runs `test` on SQLite and, when reachable (always under CI), on PostgreSQL.
fn each(name: &str, test: impl Fn(&Store)) {
    test(&Store::sqlite());
    if let Some(url) = testing::postgres(name) {
        test(&Store::postgres(&url));
    }
}

fn sales(book: &BTreeMap<(String, String), String>, client: &str) -> String {
    book.get(&(client.to_string(), "sales".to_string())).cloned().unwrap_or_default()
}

#[test]
fn import_checks_the_whole_file_first_and_imports_nothing_on_any_error() {
    each("import errors", |s| {
        let bad = s.path("clients.csv");
        std::fs::write(&bad, "id;city;potential\nc1;Москва;100\nc2;Казань;много\nc3;Уфа;5\nc1;Пермь;7\n").unwrap();
        let err = s.fails(&["import", "clients", bad.to_str().unwrap()]);
        assert!(err.contains("clients.csv:3:3"), "the bad number, by line and column:\n{err}");
        assert!(err.contains("clients.csv:5:1") && err.contains("appears twice"), "the repeated id:\n{err}");
        assert!(err.contains("nothing was written"), "{err}");
        assert_eq!(s.ok(&["log"]), "", "a refused import records nothing");
        std::fs::write(&bad, "id;city;potential\nc1;Москва;100\nc2;Казань;1 500,50\n").unwrap();
        let out = s.ok(&["import", "clients", bad.to_str().unwrap()]);
        assert!(out.contains("2 client rows") && out.contains("2 new, 0 updated"), "{out}");
        std::fs::write(&bad, "id;potential\nc2;7\nc3;8\n").unwrap();
        let out = s.ok(&["import", "clients", bad.to_str().unwrap()]);
        assert!(out.contains("1 new, 1 updated"), "upsert by id: {out}");
        let log = s.ok(&["log"]);
        assert_eq!(log.lines().count(), 2, "{log}");
        assert!(log.contains("(import) by head-of-sales") && log.contains("clients.csv"), "who, when and the file: {log}");
        // A column keeps its type: text where numbers are stored is refused, by cell.
        std::fs::write(&bad, "id;potential\nc4;нет данных\n").unwrap();
        let err = s.fails(&["import", "clients", bad.to_str().unwrap()]);
        assert!(err.contains("clients.csv:2:2") && err.contains("must be number"), "{err}");
    });
}

#[test]
fn plan_writes_nothing_and_apply_lands_exactly_what_assign_computes() {
    each("plan and apply", |s| {
        let e = example("s3");
        s.ok(&["import", "employees", e.join("employees.csv").to_str().unwrap()]);
        s.ok(&["import", "clients", e.join("clients.csv").to_str().unwrap()]);
        let before = s.ok(&["log"]);
        let (shown, plan) = s.plan(&["--scheme", e.join("scheme.toml").to_str().unwrap(), "--date", "2026-01-12"]);
        assert!(shown.contains("2006 links opened") && shown.contains("new 2006"), "{shown}");
        let ivanov = allot()
            .args(["assign", "--dir", "examples/s3", "--date", "2026-01-12", "-q"])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).lines().filter(|l| l.split(',').nth(2) == Some("ivanov")).count())
            .unwrap();
        assert!(ivanov > 100 && shown.contains(&format!("0 → {ivanov}")), "per employee, ivanov 0 → {ivanov}: {shown}");
        assert_eq!(s.ok(&["log"]), before, "plan writes nothing");
        assert!(s.owners("2026-01-12").is_empty());
        let out = s.apply(&plan);
        assert!(out.contains("2006 links opened") && out.contains("scheme version 1"), "{out}");
        // The stored book is what `allot assign` decides on the same files and day.
        let assigned = allot().args(["assign", "--dir", "examples/s3", "--date", "2026-01-12", "-q"]).output().unwrap();
        let mut rdr = csv::Reader::from_reader(assigned.stdout.as_slice());
        let expected: BTreeMap<(String, String), String> = rdr
            .records()
            .map(|r| r.unwrap())
            .filter(|r| !r[2].is_empty())
            .map(|r| ((r[0].to_string(), r[1].to_string()), r[2].to_string()))
            .collect();
        assert_eq!(s.owners("2026-01-12"), expected);
        let (again, _) = s.plan(&["--date", "2026-01-13"]);
        assert!(again.contains("Nothing to change"), "{again}");
    });
}

#[test]
fn as_of_questions_answer_across_several_applied_plans() {
    each("as-of", |s| {
        s.s3("2026-01-12");
        // A new version of the scheme: Moscow VIPs by city, and the regional VIP rule renamed.
        let text = std::fs::read_to_string(example("s3").join("scheme.toml")).unwrap();
        let v2 = text
            .replace(r#"when = 'significance == "vip" and region == "RU-MOW"'"#, r#"when = 'significance == "vip" and city == "Москва"'"#);
        let v2 = v2.replace(r#"id = "vip-regions""#, r#"id = "vip-rest""#);
        assert_ne!(v2, text);
        let v2_path = s.path("scheme-v2.toml");
        std::fs::write(&v2_path, &v2).unwrap();
        let diff = s.ok(&["scheme", "diff", v2_path.to_str().unwrap()]);
        assert!(
            diff.contains("rule vip-moscow: changed")
                && diff.contains("rule vip-rest: added")
                && diff.contains("rule vip-regions: removed"),
            "{diff}"
        );
        let (shown, plan) = s.plan(&["--scheme", v2_path.to_str().unwrap(), "--date", "2026-03-02"]);
        assert!(
            shown.contains("scheme version 2 (new)") && shown.contains("vip-rest (added)"),
            "the plan says which change moves what: {shown}"
        );
        s.apply(&plan);
        let jan = s.owners("2026-02-01");
        let mar = s.owners("2026-03-02");
        let moved: Vec<&(String, String)> = jan.keys().filter(|k| jan[*k] != mar[*k]).collect();
        assert!(!moved.is_empty(), "the new scheme moved someone");
        let client = &moved[0].0;
        let history = s.ok(&["history", client, "--json"]);
        let spells: Vec<serde_json::Value> = history.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert_eq!(spells.len(), 2, "{history}");
        assert_eq!(spells[0]["employee"], jan[moved[0]].as_str());
        assert_eq!(
            (spells[0]["from"].as_str(), spells[0]["to"].as_str(), spells[0]["scheme"].as_i64()),
            (Some("2026-01-12"), Some("2026-03-02"), Some(1))
        );
        assert_eq!(spells[1]["employee"], mar[moved[0]].as_str());
        assert_eq!((spells[1]["cause"].as_str(), spells[1]["scheme"].as_i64()), (Some("rule"), Some(2)));
        assert_eq!(spells[1]["opened_by"], "head-of-sales");
        // One client on a day, and an employee's book on a day.
        let one = s.ok(&["owners", "--at", "2026-02-01", "--client", client]);
        assert!(one.contains(&jan[moved[0]]), "{one}");
        let book = s.ok(&["book", "ivanov", "--at", "2026-02-01"]);
        let ivanov = jan.values().filter(|e| *e == "ivanov").count();
        assert!(book.starts_with(&format!("ivanov holds {ivanov} (client, role) links on 2026-02-01")), "{book}");
        assert_eq!(s.ok(&["scheme", "show", "--version", "1"]), text);
        assert!(s.ok(&["scheme", "log"]).contains("version 2"));
        assert!(s.fails(&["history", "c99999"]).contains("no client `c99999`"));
        // History is never rewritten: a plan dated before the last change is refused.
        let err = s.fails(&["plan", "--date", "2026-02-01"]);
        assert!(err.contains("history is never rewritten"), "{err}");
    });
}

#[test]
fn a_plan_is_refused_when_the_store_changed_since_and_when_its_file_was_edited() {
    each("stale plan", |s| {
        s.s3("2026-01-12");
        let (_, plan) = s.plan(&["--date", "2026-02-01", "--rebalance"]);
        let text = std::fs::read_to_string(&plan).unwrap();
        let edited = s.path("edited.json");
        std::fs::write(&edited, text.replacen("\"rebalance\":true", "\"rebalance\":false", 1)).unwrap();
        assert!(s.fails(&["apply", edited.to_str().unwrap()]).contains("was changed after it was made"));
        s.ok(&["pin", "c00005", "sales", "ivanov", "--reason", "the director asked", "--date", "2026-01-20"]);
        let before = s.owners("2026-02-01");
        let err = s.fails(&["apply", plan.to_str().unwrap()]);
        assert!(err.contains("changed since the plan was made") && err.contains("(pin)"), "says what changed: {err}");
        assert_eq!(s.owners("2026-02-01"), before, "nothing landed");
    });
}

#[test]
fn rules_never_move_a_pinned_link_until_it_is_unpinned() {
    each("pins", |s| {
        s.s3("2026-01-12");
        assert_eq!(sales(&s.owners("2026-01-12"), "c00001"), "novikov");
        let out = s.ok(&["pin", "c00001", "sales", "ivanov", "--reason", "просьба директора", "--date", "2026-02-01"]);
        assert!(out.contains("was novikov"), "{out}");
        assert_eq!(sales(&s.owners("2026-02-01"), "c00001"), "ivanov");
        assert_eq!(sales(&s.owners("2026-01-31"), "c00001"), "novikov", "the past stays");
        let (shown, plan) = s.plan(&["--date", "2026-02-02", "--rebalance"]);
        assert!(!shown.contains("c00001"), "{shown}");
        s.apply(&plan);
        assert_eq!(sales(&s.owners("2026-02-02"), "c00001"), "ivanov", "a rebalance keeps the pin");
        assert!(s.fails(&["pin", "c00001", "slaes", "ivanov", "--reason", "x"]).contains("did you mean `sales`"));
        s.ok(&["unpin", "c00001", "sales"]);
        assert!(s.fails(&["unpin", "c00001", "sales"]).contains("no pin for"));
        let (_, plan) = s.plan(&["--date", "2026-02-03"]);
        s.apply(&plan);
        assert_eq!(sales(&s.owners("2026-02-03"), "c00001"), "novikov", "unpinned, the rules decide again");
        let h = s.ok(&["history", "c00001"]);
        assert!(h.contains("pin") && h.contains("просьба директора"), "{h}");
    });
}

#[test]
fn an_absence_cover_ends_by_itself_and_the_owner_gets_every_client_back() {
    each("absence", |s| {
        s.s3("2026-01-12");
        let jan = s.owners("2026-01-12");
        let ivanovs: Vec<&(String, String)> = jan.keys().filter(|k| jan[*k] == "ivanov").collect();
        let n = ivanovs.len();
        assert!(n > 100, "{n}");
        s.ok(&["absent", "ivanov", "--from", "2026-07-01", "--to", "2026-07-14", "--cover", "smirnova"]);
        assert!(s.fails(&["absent", "ivanov", "--from", "2026-07-10", "--to", "2026-07-20"]).contains("already registered"));
        let (early, _) = s.plan(&["--date", "2026-06-30"]);
        assert!(early.contains("plan on or after 2026-07-01"), "{early}");
        let (shown, plan) = s.plan(&["--date", "2026-07-01"]);
        assert!(shown.contains(&format!("cover {n}")) && shown.contains(&format!("return {n}")), "{shown}");
        s.apply(&plan);
        let during = s.owners("2026-07-10");
        let after = s.owners("2026-07-15");
        for k in &ivanovs {
            assert_eq!(during[*k], "smirnova");
            assert_eq!(after[*k], "ivanov", "back by itself on the day after the absence");
        }
        // Everyone else's clients never moved.
        for (k, e) in &jan {
            if e != "ivanov" {
                assert_eq!((&during[k], &after[k]), (e, e));
            }
        }
        // A plan during the absence keeps the cover.
        let (mid, _) = s.plan(&["--date", "2026-07-05"]);
        assert!(mid.contains("Nothing to change"), "{mid}");
        let h = s.ok(&["history", &ivanovs[0].0]);
        assert!(h.contains("cover") && h.contains("covers for ivanov") && h.contains("return"), "{h}");
        // Spread: teammates who are present take the absentee's clients, balanced, then give them back.
        s.ok(&["absent", "smirnova", "--from", "2026-08-03", "--to", "2026-08-05", "--spread"]);
        let (_, plan) = s.plan(&["--date", "2026-08-03"]);
        s.apply(&plan);
        let (during, after) = (s.owners("2026-08-04"), s.owners("2026-08-06"));
        let mut covers: BTreeMap<&str, u32> = BTreeMap::new();
        for (k, e) in jan.iter().filter(|(_, e)| *e == "smirnova") {
            assert_ne!(during[k], "smirnova");
            *covers.entry(during[k].as_str()).or_default() += 1;
            assert_eq!(&after[k], e);
        }
        assert!(covers.len() >= 3, "spread over several teammates: {covers:?}");
        assert!(covers.keys().all(|c| ["ivanov", "kuznetsov", "popova", "vasiliev", "petrova", "sokolov"].contains(c)), "{covers:?}");
    });
}

#[test]
fn a_leaver_hands_every_client_to_teammates_balanced_and_nobody_else_moves() {
    each("leaver", |s| {
        s.s3("2026-01-12");
        let before = s.owners("2026-01-12");
        // A pin to the leaver does not keep the client with someone who is gone.
        let pinned = before.iter().find(|(_, e)| *e == "popova").map(|(k, _)| k.0.clone()).unwrap();
        s.ok(&["pin", &pinned, "sales", "popova", "--reason", "the client's wish", "--date", "2026-02-01"]);
        s.ok(&["leave", "popova", "--on", "2026-09-01"]);
        let (shown, plan) = s.plan(&["--date", "2026-09-01"]);
        let hers = before.values().filter(|e| *e == "popova").count();
        assert!(shown.contains(&format!("leaver {hers}")), "{shown}");
        s.apply(&plan);
        let after = s.owners("2026-09-01");
        let dealers = ["ivanov", "smirnova", "kuznetsov", "vasiliev", "petrova", "sokolov"];
        let mut got: BTreeMap<&str, u32> = BTreeMap::new();
        for (k, e) in &before {
            if e == "popova" {
                assert!(dealers.contains(&after[k].as_str()), "{k:?} went to {}", after[k]);
                *got.entry(after[k].as_str()).or_default() += 1;
            } else {
                assert_eq!(&after[k], e, "{k:?} moved though its owner stays");
            }
        }
        assert!(got.len() >= 2, "spread over several peers: {got:?}");
        assert!(!after.values().any(|e| e == "popova"));
        assert_eq!(s.owners("2026-08-31").values().filter(|e| *e == "popova").count(), hers, "the past stays");
        // The next plan does not undo the hand-over, though the scheme still names popova.
        let (next, _) = s.plan(&["--date", "2026-09-02"]);
        assert!(next.contains("Nothing to change") && next.contains("popova is inactive"), "{next}");
    });
}

/// Clients enough for the apply to take a while: `n` rows, deterministic.
fn many_clients(path: &Path, n: usize) {
    use std::fmt::Write;
    let regions = ["RU-MOW", "RU-SPE", "RU-TA", "RU-SVE", "RU-NVS"];
    let mut s = String::from("id,region,potential\n");
    for i in 0..n {
        let _ = writeln!(s, "k{i:07},{},{}", regions[i % regions.len()], (i * 7919 % 1000 + 1) * 1000);
    }
    std::fs::write(path, s).unwrap();
}

/// S1.1–S1.3 and the store's integrity: SIGKILL in the middle of applying a 100,000-client plan
/// leaves exactly the old book or exactly the new one, never a part.
#[test]
fn a_kill_in_the_middle_of_apply_leaves_the_old_book_or_the_new_one() {
    let dir = tempfile::tempdir().unwrap();
    let clients = dir.path().join("clients.csv");
    many_clients(&clients, 100_000);
    let employees = dir.path().join("employees.csv");
    let mut e = String::from("id,name,teams\n");
    for i in 0..20 {
        e.push_str(&format!("m{i:02},Manager {i},sales\n"));
    }
    std::fs::write(&employees, e).unwrap();
    let scheme = dir.path().join("scheme.toml");
    std::fs::write(&scheme, "[[rules]]\nid = \"all\"\nrole = \"sales\"\nteam = \"sales\"\nstrategy = \"balance-potential\"\n").unwrap();
    let date = "2026-05-01";
    let prepare = |s: &Store| -> PathBuf {
        s.ok(&["import", "employees", employees.to_str().unwrap()]);
        s.ok(&["import", "clients", clients.to_str().unwrap()]);
        s.plan(&["--scheme", scheme.to_str().unwrap(), "--date", date]).1
    };
    let kill_trials = |make: &dyn Fn() -> Store| {
        // The whole book as it must be after the plan lands.
        let reference = make();
        let plan = prepare(&reference);
        let start = std::time::Instant::now();
        reference.apply(&plan);
        let full = start.elapsed();
        let new_book = reference.owners(date);
        assert_eq!(new_book.len(), 100_000);
        let mut old_seen = 0;
        for fraction in [0.2, 0.5, 0.8] {
            let s = make();
            let plan = prepare(&s);
            let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("allot"))
                .current_dir(root())
                .args(["apply", plan.to_str().unwrap(), "--db", &s.db])
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            // Wait for the apply to start, then kill it part of the way through.
            let mut line = String::new();
            BufReader::new(child.stderr.take().unwrap()).read_line(&mut line).unwrap();
            assert!(line.starts_with("applying"), "{line}");
            std::thread::sleep(full.mul_f64(fraction));
            let _ = child.kill(); // SIGKILL
            child.wait().unwrap();
            let book = s.owners(date);
            let log = s.ok(&["log"]);
            if book.is_empty() {
                old_seen += 1;
                assert!(!log.contains("(apply)"), "old book, so no apply recorded: {log}");
                // The same plan still applies, in full.
                s.apply(&plan);
                assert_eq!(s.owners(date), new_book);
            } else {
                assert_eq!(book, new_book, "a partial book after a kill at {fraction} of the apply");
                assert!(log.contains("(apply)"));
            }
        }
        assert!(old_seen > 0, "no kill landed before the commit; the apply took {full:?}");
    };
    kill_trials(&Store::sqlite);
    if let Some(url) = testing::postgres("kill test") {
        kill_trials(&|| Store::postgres(&url));
    }
}

/// The README's first command: the shipped example into the embedded store; a second run changes
/// nothing.
#[test]
fn sync_brings_the_store_up_to_the_folder_and_a_second_run_changes_nothing() {
    each("sync", |s| {
        let first = s.ok(&["sync", "--dir", "examples/s3", "--date", "2026-01-12"]);
        assert!(first.contains("2006 new") && first.contains("2006 links opened") && first.contains("applied:"), "{first}");
        let again = s.ok(&["sync", "--dir", "examples/s3", "--date", "2026-01-13"]);
        assert!(again.contains("0 new, 0 updated, 2006 unchanged") && again.contains("Nothing to change"), "{again}");
        assert_eq!(sales(&s.owners("2026-01-13"), "c00001"), "novikov");
        let dry = s.ok(&["sync", "--dir", "examples/s3", "--dry-run", "--date", "2026-01-14"]);
        assert!(dry.contains("Plan for 2026-01-14"), "{dry}");
        assert_eq!(s.ok(&["log"]).lines().count(), 7, "two syncs (three imports each, one apply), and a dry run writes nothing");
    });
}

#[test]
fn balance_from_the_store_rebalances_the_stored_owners_and_keeps_pins() {
    each("balance from store", |s| {
        // S1.3, issue #5: the stored design of the dealer managers is the current one.
        s.s3("2026-01-12");
        let e = example("s3");
        let clients = std::fs::read_to_string(e.join("clients.csv")).unwrap();
        let mut rd = csv::Reader::from_reader(clients.as_bytes());
        let others = rd.records().map(|r| r.unwrap()).filter(|r| &r[5] == "vip" || (&r[7] == "government" && &r[3] == "RU-MOW")).count();
        let emp = e.join("employees.csv");
        let base = ["balance", "--from-store", "--rebalance", "--employees", emp.to_str().unwrap(), "--team", "dealers"];
        // By whole regions, the stored design is the scheme's, cut by balance: nothing needs to move,
        // and Moscow is a giant, so no bound on the moves applies.
        let (json, design) = (s.path("f.json"), s.path("d.csv"));
        let mut args = base.to_vec();
        args.extend(["--unit", "region", "--tolerance", "5", "--contiguous", "--json", json.to_str().unwrap(), "-o"]);
        args.push(design.to_str().unwrap());
        let out = s.run(&args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{err}");
        assert!(err.contains(&format!("note: {others} stored clients held in role sales")), "VIP and government clients left out: {err}");
        let f: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
        assert_eq!(f["clients"].as_u64().unwrap() as usize, 2006 - others, "{f}");
        assert_eq!(f["giants"], serde_json::json!(["RU-MOW"]), "{f}");
        assert!(f["moves"]["lower_bound"].is_null(), "{f}");
        assert_eq!(f["pieces"].as_u64(), Some(0), "{f}");
        // Single clients, 2%: Moscow's surplus has to go; a pinned client stays where it was pinned.
        s.ok(&["pin", "c00005", "sales", "ivanov", "--reason", "the client's wish", "--date", "2026-02-01"]);
        let mut args = base.to_vec();
        args.extend(["--tolerance", "2", "--json", json.to_str().unwrap(), "-o", design.to_str().unwrap(), "-q"]);
        s.ok(&args);
        let f: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
        assert!(f["criteria"][0]["deviation"].as_f64().unwrap() <= 0.02 + 1e-9, "{f}");
        let (moved, bound) = (f["moves"]["potential_share"].as_f64().unwrap(), f["moves"]["lower_bound"].as_f64().unwrap());
        assert!(bound > 0.05 && moved >= bound - 1e-9, "moved {moved}, bound {bound}");
        let design = std::fs::read_to_string(&design).unwrap();
        assert!(design.lines().any(|l| l == "c00005,ivanov,ivanov"), "the pin holds");
        assert_eq!(design.lines().count() - 1, 2006 - others);
    });
}

/// The credit world of issue #6, hand-checked: c1's sales pass from anna to vera on 1 Feb; six
/// deals (two RUB on c1, one USD on c2, a negative, one before the period, a fractional).
/// Returns the rules and the [credit] section of its scheme.
fn credit_world(s: &Store) -> (String, &'static str) {
    let w = |name: &str, text: &str| write(s, name, text);
    let emps = w("e.csv", "id,name\nanna,Анна\nboris,Борис\nvera,Вера\nsergey,Сергей\nhead,Глава\n");
    let clients = w("c.csv", "id,region,potential,workload\nc1,A,5000,3\nc2,B,2000,1\n");
    let rules = "[[rules]]\nid = \"a\"\nrole = \"sales\"\nwhen = 'region == \"A\"'\nemployee = \"anna\"\n\n\
                 [[rules]]\nid = \"b\"\nrole = \"sales\"\nemployee = \"boris\"\n\n\
                 [[rules]]\nid = \"svc\"\nrole = \"service\"\nemployee = \"sergey\"\n\n\
                 [[rules]]\nid = \"acc\"\nrole = \"account\"\nemployee = \"head\"\n\n";
    let credit =
        "[credit]\npolicy = \"sale-date\"\n\n[[credit.shares]]\nrevenue = { sales = 70, service = 30 }\noverlay = { account = 10 }\n";
    let scheme = w("scheme.toml", &format!("{rules}{credit}"));
    s.ok(&["import", "employees", &emps]);
    s.ok(&["import", "clients", &clients]);
    let (_, plan) = s.plan(&["--scheme", &scheme, "--date", "2026-01-01"]);
    s.apply(&plan);
    s.ok(&["pin", "c1", "sales", "vera", "--reason", "hand-over", "--date", "2026-02-01"]);
    let deals = w(
        "d.csv",
        "id,client_id,date,opened,amount,currency\n\
         d1,c1,2026-01-20,2026-01-01,100000,RUB\n\
         d2,c1,2026-02-10,2026-01-22,100001,RUB\n\
         d3,c2,2026-02-15,,50,USD\n\
         d4,c2,2026-03-01,,-5,RUB\n\
         d5,c2,2025-12-01,,1000,RUB\n\
         d6,c2,2026-01-05,,12.5,RUB\n",
    );
    s.ok(&["import", "deals", &deals]);
    (rules.to_string(), credit)
}

fn write(s: &Store, name: &str, text: &str) -> String {
    std::fs::write(s.path(name), text).unwrap();
    s.path(name).display().to_string()
}

#[test]
fn credit_splits_each_sale_by_role_and_holder_to_the_kopeck_under_both_policies() {
    each("credit", |s| {
        // Issue #6, points 2, 3 and 6.
        let (rules, credit) = credit_world(s);
        let w = |name: &str, text: &str| write(s, name, text);
        let run = |extra: &[&str]| -> (String, Vec<String>) {
            let out = s.path("credit.csv");
            let mut args = vec!["credit", "--from", "2026-01-01", "--to", "2026-03-31", "-o", out.to_str().unwrap()];
            args.extend_from_slice(extra);
            let shown = s.ok(&args);
            (shown, std::fs::read_to_string(&out).unwrap().lines().skip(1).map(str::to_string).collect())
        };
        let (shown, at_sale) = run(&[]);
        let d2: Vec<&String> = at_sale.iter().filter(|l| l.starts_with("d2,")).collect();
        // 70% of 100 001 kopecks is 70 000.7 and 30% is 30 000.3: the kopeck goes to sales.
        assert_eq!(
            d2,
            [
                "d2,c1,2026-02-10,revenue,sales,vera,70001,RUB",
                "d2,c1,2026-02-10,revenue,service,sergey,30000,RUB",
                "d2,c1,2026-02-10,overlay,account,head,10000,RUB"
            ]
        );
        assert!(at_sale.contains(&"d1,c1,2026-01-20,revenue,sales,anna,70000,RUB".to_string()), "{at_sale:?}");
        assert!(at_sale.contains(&"d3,c2,2026-02-15,revenue,sales,boris,35,USD".to_string()), "{at_sale:?}");
        assert!(!at_sale.iter().any(|l| l.starts_with("d5,")), "d5 is before the period");
        assert!(shown.contains("3 sales credited") && shown.contains("2 not credited"), "{shown}");
        assert!(shown.contains("d4") && shown.contains("negative") && shown.contains("d6") && shown.contains("whole number"), "{shown}");
        // Currencies are never added up: boris's dollars are a line of their own.
        assert!(shown.lines().any(|l| l.starts_with("boris") && l.contains("USD") && l.contains("0,35")), "{shown}");
        // By time in role: d2 ran 22 Jan – 10 Feb, 10 days each; the tied kopeck goes to anna (id order).
        let by_time = w("scheme-time.toml", &format!("{rules}{}", credit.replace("sale-date", "time-in-role")));
        let (_, split) = run(&["--scheme", &by_time]);
        let d2: Vec<&String> = split.iter().filter(|l| l.starts_with("d2,") && l.contains(",sales,")).collect();
        assert_eq!(d2, ["d2,c1,2026-02-10,revenue,sales,anna,35001,RUB", "d2,c1,2026-02-10,revenue,sales,vera,35000,RUB"]);
        // Revenue credit adds up to each credited sale exactly.
        for (deal, amount) in [("d1", 100_000), ("d2", 100_001), ("d3", 50)] {
            let sum: i64 = split
                .iter()
                .filter(|l| l.starts_with(&format!("{deal},")) && l.contains(",revenue,"))
                .map(|l| l.split(',').nth(6).unwrap().parse::<i64>().unwrap())
                .sum();
            assert_eq!(sum, amount, "{deal}");
        }
        // A sale from before the history (d5, December 2025: nobody held any role yet) is credited
        // as unassigned, in full, not dropped.
        let early_csv = s.path("early.csv");
        let shown = s.ok(&["credit", "--from", "2025-12-01", "--to", "2026-03-31", "-o", early_csv.to_str().unwrap()]);
        let early: Vec<String> = std::fs::read_to_string(&early_csv).unwrap().lines().map(str::to_string).collect();
        let d5: Vec<&String> = early.iter().filter(|l| l.starts_with("d5,") && l.contains(",revenue,")).collect();
        assert_eq!(d5, ["d5,c2,2025-12-01,revenue,sales,,700,RUB", "d5,c2,2025-12-01,revenue,service,,300,RUB"]);
        assert!(shown.contains("(unassigned)"), "{shown}");
        // A scheme without [credit] is refused with what to add.
        let err = s.fails(&["credit", "--from", "2026-01-01", "--scheme", &w("plain.toml", &rules)]);
        assert!(err.contains("has no [credit] section"), "{err}");
    });
}

/// Owned arguments as the `&[&str]` a run takes.
fn as_args(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

#[test]
fn report_shows_who_carries_what_and_contributed_what_in_a_table_a_workbook_and_charts() {
    each("report", |s| {
        // Issue #6, points 4-6, on the hand-checked credit world.
        credit_world(s);
        let err = s.fails(&["report", "--from", "2026-01-01", "--to", "2026-03-31"]);
        assert!(err.contains("several currencies (RUB, USD)") && err.contains("--currency"), "{err}");
        let (xlsx, svg, png) = (s.path("q1.xlsx"), s.path("rev.svg"), s.path("load.png"));
        // The first quarter's report in roubles, with what each run adds.
        let q1 = |more: &[&str]| -> Vec<String> {
            ["report", "--from", "2026-01-01", "--to", "2026-03-31", "--currency", "RUB"]
                .iter()
                .chain(more)
                .map(|a| a.to_string())
                .collect()
        };
        let run = q1(&["-o", xlsx.to_str().unwrap(), "--revenue-chart", svg.to_str().unwrap(), "--load-chart", png.to_str().unwrap()]);
        let shown = s.ok(&as_args(&run));
        // vera holds c1 (potential 5 000) on 31 March and was credited 700,01 for d2: 14.00%.
        let line = |who: &str| shown.lines().find(|l| l.trim_start().starts_with(who)).unwrap_or_default().to_string();
        let vera = line("vera");
        assert!(vera.contains("5 000") && vera.contains("700,01") && vera.contains("14.00%"), "{shown}");
        // anna holds nothing any more but keeps the credit of d1.
        assert!(line("anna").contains("700,00") && line("anna").split_whitespace().nth(2) == Some("0"), "{shown}");
        // Balance of sales: potentials 5 000 and 2 000 → max/min 2.50, Gini (2·(2000+2·5000))/(2·7000) − 3/2 = 0.214.
        assert!(shown.contains("potential max/min 2.50 cv 0.429 gini 0.214"), "{shown}");
        assert!(shown.contains("not credited (2)") && shown.contains("negative"), "{shown}");
        // The workbook, read back: a header row, money in roubles, realisation as a fraction.
        use calamine::{Data, Reader};
        let mut wb: calamine::Xlsx<_> = calamine::open_workbook(&xlsx).unwrap();
        assert_eq!(wb.sheet_names(), ["contribution", "balance"]);
        let range = wb.worksheet_range("contribution").unwrap();
        let rows: Vec<&[Data]> = range.rows().collect();
        assert_eq!(rows[0][0], Data::String("role".into()));
        assert_eq!(rows[0][7], Data::String("revenue_credit (RUB)".into()));
        let vera = rows.iter().find(|r| r[1] == Data::String("vera".into())).unwrap();
        assert_eq!((vera[3].clone(), vera[7].clone()), (Data::Float(1.0), Data::Float(700.01)));
        assert!(matches!(vera[9], Data::Float(x) if (x - 700.01 / 5000.0).abs() < 1e-12), "{:?}", vera[9]);
        // The charts, read back: one point per sales employee in the SVG; a real PNG image.
        let svg = std::fs::read_to_string(&svg).unwrap();
        assert_eq!(svg.matches("<circle").count(), 3, "{svg}");
        assert!(svg.contains(">vera<") && svg.contains("revenue credited, RUB"), "{svg}");
        let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(&png).unwrap()));
        let mut reader = decoder.read_info().unwrap();
        assert!(reader.info().width >= 480 && reader.info().height == 420, "{:?}", reader.info().size());
        // Its labels are drawn: dark pixels where the title (above the bars) and the employees'
        // ids (under the axis) are, and nothing else is drawn there.
        let mut pixels = vec![0; reader.output_buffer_size().unwrap()];
        let frame = reader.next_frame(&mut pixels).unwrap();
        assert_eq!(frame.color_type, png::ColorType::Rgba);
        let dark = |rows: std::ops::Range<usize>| -> usize {
            let w = frame.width as usize;
            rows.flat_map(|y| (0..w).map(move |x| (y * w + x) * 4)).filter(|&i| pixels[i..i + 3].iter().all(|&c| c < 80)).count()
        };
        assert!(dark(8..30) > 200, "the title: {} dark pixels", dark(8..30));
        assert!(dark(336..352) > 60, "the employees' ids: {} dark pixels", dark(336..352));
        // In Russian (issue #16): the file's headers, the workbook's sheets and the charts' texts.
        let (ru_csv, ru_xlsx, ru_svg) = (s.path("q1-ru.csv"), s.path("q1-ru.xlsx"), s.path("q1-ru.svg"));
        for (out, chart) in [(&ru_csv, &ru_svg), (&ru_xlsx, &ru_svg)] {
            s.ok(&as_args(&q1(&["--lang", "ru", "-o", out.to_str().unwrap(), "--load-chart", chart.to_str().unwrap()])));
        }
        let csv = std::fs::read_to_string(&ru_csv).unwrap();
        assert!(csv.starts_with("Роль,Сотрудник,Имя,Клиентов,Потенциал,Нагрузка,Сделок,Выручка (RUB),Оверлей (RUB),Реализация"), "{csv}");
        let mut wb: calamine::Xlsx<_> = calamine::open_workbook(&ru_xlsx).unwrap();
        assert_eq!(wb.sheet_names(), ["Вклад", "Баланс"]);
        assert_eq!(wb.worksheet_range("Вклад").unwrap().rows().next().unwrap()[7], Data::String("Выручка (RUB)".into()));
        let svg = std::fs::read_to_string(&ru_svg).unwrap();
        assert!(svg.contains("Роль sales") && svg.contains("потенциал у сотрудника") && svg.contains(">0<"), "{svg}");
        assert!(s.fails(&["report", "--from", "2026-01-01", "--lang", "de"]).contains("expected ru or en"));
        // Per segment (a client column): region A's sales credit is d1 + d2's sales parts.
        let by = |what: &str| s.ok(&["report", "--from", "2026-01-01", "--to", "2026-03-31", "--currency", "RUB", "--per", what]);
        let regions = by("region");
        let a = regions.lines().find(|l| l.trim_start().starts_with("A ")).unwrap_or_default();
        assert!(a.contains("1 400,01") && a.contains("28.00%"), "{regions}");
        assert!(by("team").contains("(no team)") && by("territory").contains("(no territory)"));
        assert!(s.fails(&["report", "--from", "2026-01-01", "--currency", "RUB", "--per", "regoin"]).contains("no column `regoin`"));
        // A role nobody holds is refused for a chart, and nothing is written.
        let none = s.path("none.svg");
        let err =
            s.fails(&["report", "--from", "2026-01-01", "--currency", "RUB", "--role", "lead", "--load-chart", none.to_str().unwrap()]);
        assert!(err.contains("role `lead`") && !none.exists(), "{err}");
    });
}

#[test]
fn a_share_can_depend_on_the_deal_and_an_explicit_owner_takes_the_role() {
    each("credit conditions", |s| {
        // Issue #6, point 2: shares chosen by a condition on the deal (and its client), and
        // `owner_<role>` naming who gets a role's credit whatever the book says.
        let (rules, _) = credit_world(s);
        let more = write(s, "d9.csv", "id,client_id,date,amount,currency,owner_sales\nd9,c1,2026-02-20,1000,RUB,boris\n");
        s.ok(&["import", "deals", &more]);
        let credit = "[credit]\n\n[[credit.shares]]\nwhen = 'amount >= 100000 and client.region == \"A\"'\n\
                      revenue = { sales = 50, service = 50 }\n\n[[credit.shares]]\nrevenue = { sales = 70, service = 30 }\n";
        let scheme = write(s, "cond.toml", &format!("{rules}{credit}"));
        let out = s.path("cond.csv");
        s.ok(&["credit", "--from", "2026-01-01", "--to", "2026-03-31", "--scheme", &scheme, "-o", out.to_str().unwrap()]);
        let lines: Vec<String> = std::fs::read_to_string(&out).unwrap().lines().skip(1).map(str::to_string).collect();
        let of = |deal: &str| -> Vec<&str> { lines.iter().filter(|l| l.starts_with(&format!("{deal},"))).map(|l| l.as_str()).collect() };
        // d2 (100 001 kopecks on region A) is split half and half: the odd kopeck to the first share.
        assert_eq!(of("d2"), ["d2,c1,2026-02-10,revenue,sales,vera,50001,RUB", "d2,c1,2026-02-10,revenue,service,sergey,50000,RUB"]);
        // d3 (50 cents on region B) takes the other share.
        assert_eq!(of("d3"), ["d3,c2,2026-02-15,revenue,sales,boris,35,USD", "d3,c2,2026-02-15,revenue,service,sergey,15,USD"]);
        // d9 is c1's (vera holds sales on 20 February) but names boris as its sales owner.
        assert_eq!(of("d9"), ["d9,c1,2026-02-20,revenue,sales,boris,700,RUB", "d9,c1,2026-02-20,revenue,service,sergey,300,RUB"]);
    });
}

#[test]
fn a_deals_file_longer_than_a_chunk_lands_whole_or_not_at_all_with_every_error_by_line() {
    each("streamed deals", |s| {
        // Issue #19: deals are read 65,536 lines at a time; the checks still span the file.
        credit_world(s);
        let n = 70_000;
        let deals = |bad: bool| {
            let mut csv = String::from("id,client_id,date,amount,currency\n");
            for i in 0..n {
                let (mut id, mut client, mut amount) = (format!("s{i:05}"), format!("c{}", 1 + i % 2), format!("{}", 100 + i));
                if bad {
                    match i {
                        100 => client = "nobody".into(),  // line 102: a client the store does not know
                        66_000 => amount = "lots".into(), // line 66,002, in the second chunk
                        69_000 => id = "s00005".into(),   // line 69,002: line 7's id again
                        _ => {}
                    }
                }
                csv += &format!("{id},{client},2026-02-{:02},{amount},RUB\n", 1 + i % 28);
            }
            csv
        };
        let before = s.ok(&["log"]);
        let err = s.fails(&["import", "deals", &write(s, "bad.csv", &deals(true))]);
        for (at, what) in [("bad.csv:102:2", "nobody"), ("bad.csv:66002:4", "lots"), ("bad.csv:69002:1", "the same id on line 7")] {
            assert!(err.contains(at) && err.contains(what), "{at} ({what}) is told:\n{err}");
        }
        let first = err.find("bad.csv:102:2").unwrap();
        assert!(
            first < err.find("bad.csv:66002:4").unwrap() && err.find("bad.csv:66002:4").unwrap() < err.find("bad.csv:69002:1").unwrap(),
            "in the file's order:\n{err}"
        );
        assert_eq!(s.ok(&["log"]), before, "nothing landed, not even the valid chunks");
        let out = s.ok(&["import", "deals", &write(s, "good.csv", &deals(false))]);
        assert!(out.contains("70000"), "every row landed: {out}");
        // Every deal is credited: the first chunk's and the second's alike.
        let csv = s.path("credit.csv");
        s.ok(&["credit", "--from", "2026-02-01", "--to", "2026-02-28", "-o", csv.to_str().unwrap()]);
        let text = std::fs::read_to_string(&csv).unwrap();
        for id in ["s00000", "s65535", "s65536", "s69999"] {
            assert!(text.lines().any(|l| l.starts_with(&format!("{id},"))), "{id} credited");
        }
    });
}

#[test]
fn a_quarters_credit_reads_the_quarters_sales_and_the_undated_deals_only() {
    each("quarter", |s| {
        // Issue #19: the sale date is a column of its own, indexed; a deal without one is listed.
        credit_world(s);
        let deals = write(
            s,
            "q.csv",
            "id,client_id,date,amount,currency,stage\nq1,c1,2026-02-10,100,RUB,won\nq2,c2,2026-05-10,200,RUB,won\n\
             q3,c1,2025-12-31,300,RUB,won\nq4,c2,,400,RUB,won\nq5,c1,2026-03-31,500,RUB,won\n",
        );
        s.ok(&["import", "deals", &deals]);
        let (parts, left) = (s.path("parts.csv"), s.path("left.csv"));
        s.ok(&[
            "credit",
            "--from",
            "2026-01-01",
            "--to",
            "2026-03-31",
            "-o",
            parts.to_str().unwrap(),
            "--uncredited",
            left.to_str().unwrap(),
        ]);
        let ids = |p: &PathBuf| -> Vec<String> {
            let mut v: Vec<String> =
                std::fs::read_to_string(p).unwrap().lines().skip(1).filter_map(|l| l.split(',').next()).map(str::to_string).collect();
            v.dedup();
            v
        };
        let credited = ids(&parts);
        assert!(credited.contains(&"q1".into()) && credited.contains(&"q5".into()), "{credited:?}");
        assert!(!credited.iter().any(|d| d == "q2" || d == "q3"), "other quarters' sales stay out: {credited:?}");
        let left = ids(&left);
        assert!(left.contains(&"q4".into()), "the undated deal is listed: {left:?}");
        assert!(!left.iter().any(|d| d == "q2" || d == "q3"), "other quarters' sales are not listed as uncredited: {left:?}");
    });
}

#[test]
fn many_sales_are_credited_exactly_in_the_stores_order_and_the_same_each_time() {
    each("credit many", |s| {
        // More deals than one chunk (32,768), so that chunks and both halves of each are crossed.
        credit_world(s);
        let n = 40_000;
        let mut csv = String::from("id,client_id,date,opened,amount,currency\n");
        let amount = |i: i64| (i * 7919) % 1_000_003 + 1;
        for i in 0..n {
            csv += &format!("m{i:05},c{},2026-{:02}-{:02},2026-01-01,{},RUB\n", 1 + i % 2, 1 + (i % 3), 1 + (i % 28), amount(i));
        }
        s.ok(&["import", "deals", &write(s, "many.csv", &csv)]);
        let run = |name: &str| -> (String, String) {
            let out = s.path(name);
            let shown = s.ok(&["credit", "--from", "2026-01-01", "--to", "2026-03-31", "-o", out.to_str().unwrap()]);
            (shown, std::fs::read_to_string(&out).unwrap())
        };
        let (shown, first) = run("many-1.csv");
        assert!(shown.contains(&format!("{} sales credited", n + 3)), "{shown}");
        let mut revenue: std::collections::BTreeMap<i64, i64> = Default::default();
        let mut order = Vec::new();
        for l in first.lines().skip(1).filter(|l| l.starts_with('m')) {
            let f: Vec<&str> = l.split(',').collect();
            let i: i64 = f[0][1..].parse().unwrap();
            if order.last() != Some(&i) {
                order.push(i);
            }
            if f[3] == "revenue" {
                *revenue.entry(i).or_default() += f[6].parse::<i64>().unwrap();
            }
        }
        assert_eq!(order, (0..n).collect::<Vec<_>>(), "every sale once, in the order the store keeps the deals");
        assert!(revenue.iter().all(|(&i, &r)| r == amount(i)), "revenue parts add up to each sale");
        assert_eq!(run("many-2.csv").1, first, "byte for byte the same");
    });
}

#[test]
fn the_s3_readme_shows_the_report_and_chart_allot_makes() {
    each("s3 report", |s| {
        // Issue #6: the shipped example's README shows a report excerpt and a chart; both are what
        // `allot sync` and `allot report` make from the example's files.
        s.ok(&["sync", "--dir", "examples/s3", "--date", "2026-01-12"]);
        let chart = s.path("revenue.svg");
        let shown = s.ok(&["report", "--from", "2026-01-12", "--to", "2026-06-30", "--revenue-chart", chart.to_str().unwrap()]);
        let readme = std::fs::read_to_string(example("s3").join("README.md")).unwrap();
        let excerpt = readme.split("```\nrole sales\n").nth(1).and_then(|r| r.split("```").next()).unwrap();
        for line in excerpt.lines().filter(|l| !l.trim().is_empty() && l.trim() != "…") {
            assert!(shown.lines().any(|l| l == line), "README line not in the report:\n{line}\n---\n{shown}");
        }
        assert_eq!(
            std::fs::read_to_string(&chart).unwrap(),
            std::fs::read_to_string(example("s3").join("revenue-2026h1.svg")).unwrap(),
            "regenerate examples/s3/revenue-2026h1.svg with the README's commands"
        );
        assert!(!shown.contains("not credited"), "every example sale is credited: {shown}");
    });
}

#[test]
fn only_deals_at_a_sale_stage_are_credited_and_the_others_are_listed() {
    each("credit stages", |s| {
        let (rules, credit) = credit_world(s);
        // Deals with a `stage`: only those at one of [credit] `stages` (default "won") are sales.
        let more =
            write(s, "d2.csv", "id,client_id,date,amount,currency,stage\nd7,c2,2026-02-01,1000,RUB,won\nd8,c2,2026-02-02,2000,RUB,lost\n");
        s.ok(&["import", "deals", &more]);
        let out = s.path("c.csv");
        let shown = s.ok(&["credit", "--from", "2026-01-01", "--to", "2026-03-31", "-o", out.to_str().unwrap()]);
        let csv = std::fs::read_to_string(&out).unwrap();
        assert!(csv.contains("d7,c2,2026-02-01,revenue,sales,boris,700,RUB"), "{csv}");
        assert!(!csv.contains("d8,") && shown.contains("d8") && shown.contains("stage `lost` is not a sale"), "{shown}");
        assert!(shown.contains("no stage is not a sale"), "deals without a stage are listed too: {shown}");
        // All of them, for a file: deal and reason, the same as the terminal lists.
        let list = s.path("uncredited.csv");
        s.ok(&["credit", "--from", "2026-01-01", "--to", "2026-03-31", "--uncredited", list.to_str().unwrap()]);
        let list = std::fs::read_to_string(&list).unwrap();
        assert_eq!(list.lines().next(), Some("deal_id,reason"));
        assert!(list.lines().any(|l| l.starts_with("d8,") && l.contains("stage `lost` is not a sale")), "{list}");
        assert_eq!(list.lines().count() - 1, shown.lines().filter(|l| l.starts_with("  d")).count(), "{list}\n{shown}");
        // A scheme can name its own stages, as exported from the CRM.
        let scheme =
            write(s, "stages.toml", &format!("{rules}{}", credit.replace("[credit]\n", "[credit]\nstages = [\"won\", \"lost\"]\n")));
        let shown = s.ok(&["credit", "--from", "2026-01-01", "--to", "2026-03-31", "--scheme", &scheme]);
        assert!(!shown.contains("stage `lost`"), "{shown}");
    });
}

/// Issue #18 §3: subscribing is checked before anything is stored; the key is shown once and
/// never listed, nor a key in the address; the outbox says what waits and why a try failed.
#[test]
fn a_webhook_is_checked_shown_once_and_its_outbox_says_what_waits() {
    each("webhook", |s| {
        let err = s.fails(&["webhook", "add", "ftp://erp.example.ru/x", "--events", "link.opened"]);
        assert!(err.contains("http:// or https://"), "{err}");
        let err = s.fails(&["webhook", "add", "https://erp.example.ru/x", "--events", "link.opened,link.moved"]);
        assert!(err.contains("--events") && err.contains("link.moved") && err.contains("link.closed"), "{err}");
        assert!(s.ok(&["webhook", "list"]).contains("no webhooks"), "nothing stored by a refusal");
        // Port 9 on loopback: nobody listens.
        let added = s.ok(&["webhook", "add", "http://127.0.0.1:9/hook?token=PRIVATE", "--events", "link.opened,plan.applied"]);
        let key = added.lines().last().unwrap().trim().to_string();
        assert!(key.len() == 64 && key.chars().all(|c| c.is_ascii_hexdigit()), "{added}");
        assert!(!added.contains("PRIVATE"), "{added}");
        let list = s.ok(&["webhook", "list"]);
        assert!(list.contains("http://127.0.0.1:9/hook") && list.contains("link.opened,plan.applied"), "{list}");
        assert!(!list.contains(&key) && !list.contains("PRIVATE"), "never the key: {list}");
        assert!(s.ok(&["outbox"]).contains("nothing waits"));
        s.ok(&["sync", "--dir", "examples/s3", "--date", "2026-01-12"]);
        let waits = s.ok(&["outbox"]);
        assert!(waits.contains("delivered up to change 0 of 4") && waits.contains("the later changes wait"), "{waits}");
        let err = s.fails(&["webhook", "test", "1"]);
        assert!(err.contains("cannot be reached") && !err.contains("PRIVATE"), "{err}");
        s.ok(&["outbox", "--resend", "1"]);
        s.ok(&["webhook", "remove", "1"]);
        assert!(s.fails(&["webhook", "remove", "1"]).contains("no webhook"));
        assert!(s.ok(&["outbox"]).contains("no webhooks"));
    });
}

/// A stand-in Bitrix24 portal of `companies` companies on loopback (allot_server::crm::standin),
/// for the life of the test process: its webhook address.
pub(crate) fn standin(companies: usize) -> (String, std::sync::Arc<std::sync::Mutex<allot_server::crm::standin::Stand>>) {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
        rt.block_on(async move {
            let (url, stand) = allot_server::crm::standin::portal(companies, 50.0, 2.0).await;
            tx.send((url, stand)).unwrap();
            std::future::pending::<()>().await;
        });
    });
    rx.recv().unwrap()
}

/// Issue #18 §1: `allot crm pull` lands the portal's active users and companies by the scheme's
/// map, all rows checked first; a mistake in the map or a value the attribute cannot hold is
/// said at its place and lands nothing; the webhook's key is never printed.
#[test]
fn crm_pull_imports_the_portal_s_users_and_companies_and_a_mistake_imports_nothing() {
    let (url, stand) = standin(120);
    let key = allot_server::crm::standin::KEY;
    let touched = std::sync::atomic::AtomicUsize::new(7);
    each("crm pull", |s| {
        let pull_with = |scheme: &str, webhook: Option<&str>, more: &[&str]| {
            let mut c = allot();
            c.args(["crm", "pull", "--scheme", scheme, "--db", &s.db])
                .args(more)
                .env("ALLOT_USER", "head-of-sales")
                .env_remove("ALLOT_BITRIX24_WEBHOOK");
            if let Some(w) = webhook {
                c.env("ALLOT_BITRIX24_WEBHOOK", w);
            }
            let out = c.output().unwrap();
            let (o, e) = (String::from_utf8_lossy(&out.stdout).to_string(), String::from_utf8_lossy(&out.stderr).to_string());
            assert!(!o.contains(key) && !e.contains(key), "the key is never printed: {o}{e}");
            (out.status.success(), o, e)
        };
        let pull = |scheme: &str, webhook: Option<&str>| pull_with(scheme, webhook, &[]);
        let head =
            "[columns]\npotential = \"number\"\n\n[crm]\nsystem = \"bitrix24\"\nemployee = \"EMAIL\"\n\n[crm.clients]\nTITLE = \"name\"\n";
        let good = write(s, "scheme.toml", &format!("{head}UF_CRM_POTENTIAL = \"potential\"\n"));
        let (ok, _, err) = pull(&good, None);
        assert!(!ok && err.contains("ALLOT_BITRIX24_WEBHOOK"), "{err}");
        let bad_map = write(s, "bad.toml", &format!("{head}UF_CRM_POTENTIAL = \"id\"\n"));
        let (ok, _, err) = pull(&bad_map, Some(&url));
        assert!(!ok && err.contains("bad.toml:10:") && err.contains("a client's id is the company's ID"), "{err}");
        // INDUSTRY ("IT") read as the number `potential`: every row's cell refused, nothing lands.
        let bad_value = write(s, "value.toml", &format!("{head}INDUSTRY = \"potential\"\n"));
        let (ok, _, err) = pull(&bad_value, Some(&url));
        assert!(!ok && err.contains("crm.company.list:2:") && err.contains("Nothing was imported"), "{err}");
        assert_eq!(s.ok(&["log"]).lines().count(), 0, "nothing landed, the users neither");
        let (ok, out, err) = pull(&good, Some(&url));
        assert!(ok, "{err}");
        assert!(
            out.contains("2 active users, 120 companies") && out.contains("2 employees: 2 new") && out.contains("120 clients: 120 new"),
            "{out}"
        );
        // Then only what changed since (DATE_MODIFY): a company renamed in the portal.
        let id = touched.fetch_add(1, std::sync::atomic::Ordering::Relaxed).to_string();
        stand.lock().unwrap().touch(&[&id], "TITLE", &format!("ООО «Переименована {id}»"));
        let (ok, again, err) = pull(&good, Some(&url));
        assert!(ok && again.contains("companies modified since") && again.contains("0 new, 1 updated"), "{again}{err}");
        let (ok, full, _) = pull_with(&good, Some(&url), &["--full"]);
        assert!(ok && full.contains("2 active users, 120 companies\n") && full.contains("120 unchanged"), "{full}");
        // The shipped connected setup reads the same portal.
        let example = super::root().join("examples/bitrix24/scheme.toml").display().to_string();
        let (ok, out, err) = pull_with(&example, Some(&url), &["--full"]);
        assert!(ok && out.contains("120 clients: 0 new, 120 updated"), "{out}{err}");
        // The deals too, each its company's; one with neither company nor contact is left out.
        stand.lock().unwrap().deals = vec![
            serde_json::json!({"ID": "900", "COMPANY_ID": "7", "CONTACT_ID": "0", "OPPORTUNITY": "150000", "CLOSEDATE": "2026-11-20T00:00:00+03:00"}),
            serde_json::json!({"ID": "901", "COMPANY_ID": "0", "CONTACT_ID": "0", "OPPORTUNITY": "1", "CLOSEDATE": ""}),
        ];
        let deals = write(s, "deals.toml", &format!("{head}\n[crm.deals]\nOPPORTUNITY = \"amount\"\nCLOSEDATE = \"date\"\n"));
        let (ok, out, err) = pull(&deals, Some(&url));
        assert!(ok && out.contains(", 1 deals") && out.contains("1 deals have neither a company nor a contact"), "{out}{err}");
        assert!(out.contains("1 deals: 1 new"), "{out}");
        stand.lock().unwrap().deals.clear();
    });
}

/// Issue #18 §2: an amoCRM account connected by OAuth 2 (`allot crm connect --code`), its users
/// and companies pulled — the run-out access token refreshed and the new pair kept in the store,
/// so that the next pull works with it — and a code that was refused says so.
#[test]
fn crm_connect_and_pull_read_an_amocrm_account_and_keep_its_refreshed_tokens() {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
        rt.block_on(async move {
            tx.send(allot_server::crm::standin_amo::account(600, 7.0).await).unwrap();
            std::future::pending::<()>().await;
        });
    });
    let (url, amo) = rx.recv().unwrap();
    use allot_server::crm::standin_amo as sa;
    each("crm amocrm", |s| {
        let run = |args: &[&str]| {
            let out = allot()
                .args(args)
                .args(["--db", &s.db])
                .env("ALLOT_AMOCRM_URL", &url)
                .env("ALLOT_AMOCRM_CLIENT_ID", sa::CLIENT_ID)
                .env("ALLOT_AMOCRM_CLIENT_SECRET", sa::CLIENT_SECRET)
                .env("ALLOT_AMOCRM_REDIRECT_URI", sa::REDIRECT_URI)
                .env_remove("ALLOT_AMOCRM_TOKEN")
                .output()
                .unwrap();
            let (o, e) = (String::from_utf8_lossy(&out.stdout).to_string(), String::from_utf8_lossy(&out.stderr).to_string());
            let pair = amo.lock().unwrap().refresh.clone();
            assert!(!o.contains(&pair) && !e.contains(&pair) && !o.contains(sa::CLIENT_SECRET) && !e.contains(sa::CLIENT_SECRET), "{o}{e}");
            (out.status.success(), o, e)
        };
        let scheme = write(
            s,
            "scheme.toml",
            "[columns]\npotential = \"number\"\n\n[crm]\nsystem = \"amocrm\"\nemployee = \"EMAIL\"\n\n[crm.clients]\nname = \"name\"\ncf_512345 = \"potential\"\n",
        );
        let (ok, _, err) = run(&["crm", "pull", "--scheme", &scheme]);
        assert!(!ok && err.contains("allot crm connect --code"), "not connected yet: {err}");
        let (ok, _, err) = run(&["crm", "connect", "--code", "not-the-code"]);
        assert!(!ok && err.contains("Token has been revoked"), "{err}");
        let (ok, out, err) = run(&["crm", "connect", "--code", sa::CODE]);
        assert!(ok && out.contains("the token pair is kept in the store"), "{out}{err}");
        // The access token runs out: the pull refreshes it and keeps the new pair.
        amo.lock().unwrap().expire_access();
        let (ok, out, err) = run(&["crm", "pull", "--scheme", &scheme]);
        assert!(ok && out.contains("2 active users, 600 companies") && out.contains("600 clients: 600 new"), "{out}{err}");
        amo.lock().unwrap().expire_access();
        let (ok, out, err) = run(&["crm", "pull", "--scheme", &scheme, "--full"]);
        assert!(ok && out.contains("600 unchanged"), "the kept pair refreshed again: {out}{err}");
        // The shipped connected setup reads the same account (its phone numbers added).
        let example = super::root().join("examples/amocrm/scheme.toml").display().to_string();
        let (ok, out, err) = run(&["crm", "pull", "--scheme", &example, "--full"]);
        assert!(ok && out.contains("600 clients: 0 new, 600 updated"), "{out}{err}");
        let bad = write(
            s,
            "bad.toml",
            "[crm]\nsystem = \"amocrm\"\n\n[crm.clients]\nTITLE = \"name\"\nUF_CRM_1 = \"x\"\n\n[crm.roles]\nservice = \"cf_1\"\n",
        );
        let (ok, _, err) = run(&["crm", "pull", "--scheme", &bad]);
        assert!(!ok && err.contains("bad.toml:6:") && err.contains("bad.toml:9:") && err.contains("one responsible user"), "{err}");
    });
}

/// Issue #19: a PostgreSQL store's backup is PostgreSQL's own — the lines `allot backup` says
/// and docs/deploy.md documents: `pg_dump --format=custom` of the store's schema, restored with
/// `pg_restore --no-owner` into an empty database, reads back as the same book and history.
#[test]
fn a_postgres_store_dumped_by_the_documented_line_restores_the_same_book() {
    let Some(url) = testing::postgres("pg_dump and pg_restore") else { return };
    if std::process::Command::new("pg_dump").arg("--version").output().is_err() {
        assert!(std::env::var_os("CI").is_none(), "CI has PostgreSQL's tools");
        eprintln!("SKIPPED: pg_dump is not installed here");
        return;
    }
    let s = Store::postgres(&url);
    let dir = s.path("site");
    std::fs::create_dir(&dir).unwrap();
    for f in ["scheme.toml", "clients.csv", "employees.csv", "deals.csv"] {
        std::fs::copy(super::root().join("examples/s3").join(f), dir.join(f)).unwrap();
    }
    s.ok(&["sync", "--dir", dir.to_str().unwrap(), "--date", "2026-03-01"]);
    let said = s.run(&["backup", s.path("x.db").to_str().unwrap()]);
    let err = String::from_utf8_lossy(&said.stderr);
    assert!(!said.status.success() && err.contains("pg_dump --format=custom") && !err.contains("postgres@"), "{err}");
    let (_, schema) = s.pg.clone().unwrap();
    let dump = s.path("allot.dump");
    let out = std::process::Command::new("pg_dump")
        .args(["--format=custom", "--schema", &schema, "--file", dump.to_str().unwrap(), &url])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // An empty database (with the trigram extension the search index uses), restored into.
    let db = format!("allot_restore_{}", std::process::id());
    let mut admin = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    admin.batch_execute(&format!("DROP DATABASE IF EXISTS {db}")).unwrap();
    admin.batch_execute(&format!("CREATE DATABASE {db}")).unwrap();
    let target = match url.rsplit_once('/') {
        Some((base, _)) => format!("{base}/{db}"),
        None => unreachable!("a PostgreSQL URL names its database"),
    };
    postgres::Client::connect(&target, postgres::NoTls).unwrap().batch_execute("CREATE EXTENSION IF NOT EXISTS pg_trgm").unwrap();
    let out = std::process::Command::new("pg_restore").args(["--no-owner", "--dbname", &target, dump.to_str().unwrap()]).output().unwrap();
    let restored = testing::url_with_schema(&target, &schema);
    let same = |args: &[&str]| {
        let here = s.ok(args);
        let there = allot().args(args).args(["--db", &restored]).output().unwrap();
        (here, String::from_utf8_lossy(&there.stdout).to_string())
    };
    let (book, book_restored) = same(&["owners", "--at", "2026-03-01"]);
    let (log, log_restored) = same(&["log"]);
    drop(admin);
    let mut admin = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    let _ = admin.batch_execute(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(book.lines().count() > 1_000, "{}", book.lines().count());
    assert_eq!(book_restored, book, "the same book");
    assert_eq!(log_restored, log, "the same history");
}

/// Issue #19: `allot plan -o FILE.gz` writes the plan gzip-compressed — the same plan, many times
/// smaller — and `allot apply` reads it as it reads a plain one; a cut-off file is refused.
#[test]
fn a_plan_written_compressed_is_smaller_and_applies_the_same() {
    let s = Store::sqlite();
    let e = example("s3");
    s.ok(&["import", "employees", e.join("employees.csv").to_str().unwrap()]);
    s.ok(&["import", "clients", e.join("clients.csv").to_str().unwrap()]);
    let scheme = e.join("scheme.toml");
    let (plain, gz) = (s.path("plan.json"), s.path("plan.json.gz"));
    for f in [&plain, &gz] {
        s.ok(&["plan", "--scheme", scheme.to_str().unwrap(), "--date", "2026-03-01", "-o", f.to_str().unwrap()]);
    }
    let (plain_bytes, gz_bytes) = (std::fs::read(&plain).unwrap(), std::fs::read(&gz).unwrap());
    assert!(gz_bytes.starts_with(&[0x1f, 0x8b]) && plain_bytes.starts_with(b"{"));
    assert!(gz_bytes.len() * 8 < plain_bytes.len(), "{} of {} bytes", gz_bytes.len(), plain_bytes.len());
    let cut = s.path("cut.json.gz");
    std::fs::write(&cut, &gz_bytes[..gz_bytes.len() / 2]).unwrap();
    let out = s.run(&["apply", cut.to_str().unwrap()]);
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("not a whole gzip-compressed plan"));
    let applied = s.apply(&gz);
    assert!(applied.contains("applied"), "{applied}");
    assert!(s.owners("2026-03-01").len() > 1_000);
}
