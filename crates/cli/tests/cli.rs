//! The `allot` binary, run as a user runs it, on the shipped examples of MISSION.md.

#![allow(clippy::unwrap_used)] // tests stop at the first surprise

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use assert_cmd::Command;

#[path = "suite/balance.rs"]
mod balance;
#[path = "suite/exports.rs"]
mod exports;
#[path = "suite/readme.rs"]
mod readme;
#[path = "suite/serve.rs"]
mod serve;
#[path = "suite/stored.rs"]
mod stored;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn example(name: &str) -> PathBuf {
    root().join("examples").join(name)
}

fn allot() -> Command {
    let mut c = Command::cargo_bin("allot").unwrap();
    // What a person reads follows the locale (`--lang` otherwise): the tests read English unless
    // they ask for Russian, whatever the machine's locale.
    c.current_dir(root()).env_remove("LC_ALL").env_remove("LC_MESSAGES").env_remove("LANG");
    c
}

/// Runs `allot assign` and returns `(client, role) → employee` from its CSV.
fn assign(args: &[&str]) -> HashMap<(String, String), String> {
    let out = allot().arg("assign").args(args).arg("--date").arg("2026-11-27").arg("-q").output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let mut rdr = csv::Reader::from_reader(out.stdout.as_slice());
    rdr.records().map(|r| r.unwrap()).map(|r| ((r[0].to_string(), r[1].to_string()), r[2].to_string())).collect()
}

fn sales(map: &HashMap<(String, String), String>, client: &str) -> String {
    map[&(client.to_string(), "sales".to_string())].clone()
}

#[test]
fn s3_vip_in_kazan_goes_to_the_regions_vip_manager() {
    let a = assign(&["--dir", "examples/s3"]);
    assert_eq!(sales(&a, "c00001"), "novikov");
}

#[test]
fn s3_moscow_government_client_goes_to_the_government_manager() {
    let a = assign(&["--dir", "examples/s3"]);
    assert_eq!(sales(&a, "c00002"), "fedorova");
}

#[test]
fn s3_moscow_vip_government_client_goes_to_whichever_the_scheme_says_first() {
    // gov-moscow stands above vip-moscow in the shipped scheme.
    let a = assign(&["--dir", "examples/s3"]);
    assert_eq!(sales(&a, "c00003"), "fedorova");
    assert_eq!(sales(&a, "c00004"), "mikhailova", "a Moscow VIP that is not government");
}

fn t_owner(t: &[(String, Vec<String>, String)], region: &str) -> String {
    t.iter().find(|x| x.1.iter().any(|r| r == region)).map(|x| x.2.clone()).unwrap_or_default()
}

/// The dealer territories of the shipped S3 scheme: (territory id, regions, owner).
fn s3_dealer_territories() -> Vec<(String, Vec<String>, String)> {
    let scheme = std::fs::read_to_string(example("s3/scheme.toml")).unwrap();
    let quoted = |l: &str| l.split('"').skip(1).step_by(2).map(str::to_string).collect::<Vec<_>>();
    let mut out = Vec::new();
    for block in scheme.split("[[territories]]").skip(1) {
        let line = |key: &str| block.lines().find(|l| l.starts_with(key)).map(quoted).unwrap_or_default();
        let id = line("id =").remove(0);
        if id.starts_with("dealers-") {
            out.push((id, line("values ="), line("owners =").remove(0)));
        }
    }
    out
}

#[test]
fn s3_dealer_territories_are_cut_by_balance() {
    // S3, S2.1: seven dealer territories of whole regions, one per dealer manager, covering Russia.
    let t = s3_dealer_territories();
    assert_eq!(t.len(), 7, "{t:?}");
    let owners: std::collections::BTreeSet<&String> = t.iter().map(|x| &x.2).collect();
    assert_eq!(owners.len(), 7, "one territory per dealer manager");
    let regions: Vec<&String> = t.iter().flat_map(|x| &x.1).collect();
    let distinct: std::collections::BTreeSet<&String> = regions.iter().copied().collect();
    assert_eq!(regions.len(), distinct.len(), "a region is in one territory only");
    let all = std::fs::read_to_string("../../data/ru/regions.csv").unwrap().lines().count() - 1;
    assert_eq!(distinct.len(), all, "every federal subject has a dealer manager");
    // Moscow alone outweighs a seventh of the dealer potential: it is a territory of its own, and
    // the other six are within the example's 5% of their mean.
    assert!(t.iter().any(|x| x.1 == ["RU-MOW"]), "{t:?}");
    let clients = std::fs::read_to_string(example("s3/clients.csv")).unwrap();
    let mut rd = csv::Reader::from_reader(clients.as_bytes());
    let mut potential: HashMap<String, f64> = HashMap::new();
    for r in rd.records() {
        let r = r.unwrap();
        if &r[5] != "vip" && !(&r[7] == "government" && &r[3] == "RU-MOW") {
            *potential.entry(r[3].to_string()).or_default() += r[9].parse::<f64>().unwrap();
        }
    }
    let totals: Vec<f64> =
        t.iter().filter(|x| x.1 != ["RU-MOW"]).map(|x| x.1.iter().map(|r| potential.get(r).copied().unwrap_or(0.0)).sum()).collect();
    let mean = totals.iter().sum::<f64>() / totals.len() as f64;
    for x in &totals {
        assert!((x / mean - 1.0).abs() <= 0.05, "{totals:?}");
    }
}

#[test]
fn s3_other_clients_go_to_the_dealer_manager_of_their_territory() {
    let a = assign(&["--dir", "examples/s3"]);
    let owner_of = |region: &str| t_owner(&s3_dealer_territories(), region);
    assert_eq!(sales(&a, "c00005"), owner_of("RU-NVS"), "Novosibirsk: the owner of its territory");
    assert_eq!(sales(&a, "c00006"), owner_of("RU-SVE"), "a government school in Yekaterinburg: not Moscow, so its dealer manager");
    // Every dealer client (not VIP, not Moscow's government sector) goes to its region's owner.
    let clients = std::fs::read_to_string(example("s3/clients.csv")).unwrap();
    let mut rd = csv::Reader::from_reader(clients.as_bytes());
    let t = s3_dealer_territories();
    let mut dealers = 0;
    for r in rd.records() {
        let r = r.unwrap();
        if &r[5] != "vip" && !(&r[7] == "government" && &r[3] == "RU-MOW") {
            assert_eq!(sales(&a, &r[0]), t_owner(&t, &r[3]), "{}", &r[0]);
            dealers += 1;
        }
    }
    assert!(dealers > 1_500, "{dealers}");
    // Every client has exactly one seller, and all ten employees are used.
    let n = std::fs::read_to_string(example("s3/clients.csv")).unwrap().lines().count() - 1;
    assert_eq!(a.len(), n);
    let used: std::collections::BTreeSet<&String> = a.values().collect();
    assert_eq!(used.len(), 10, "{used:?}");
}

#[test]
fn check_warns_when_the_order_of_rules_makes_one_dead() {
    let dir = tempfile::tempdir().unwrap();
    for f in ["clients.csv", "employees.csv"] {
        std::fs::copy(example("s3").join(f), dir.path().join(f)).unwrap();
    }
    let scheme = std::fs::read_to_string(example("s3/scheme.toml")).unwrap();
    // Put "VIP anywhere" above "VIP in Moscow".
    let moscow = scheme.find("[[rules]]\nid = \"vip-moscow\"").unwrap();
    let regions = scheme.find("[[rules]]\nid = \"vip-regions\"").unwrap();
    let dealers = scheme.find("# Everyone else").unwrap();
    let swapped = format!("{}{}{}{}", &scheme[..moscow], &scheme[regions..dealers], &scheme[moscow..regions], &scheme[dealers..]);
    std::fs::write(dir.path().join("scheme.toml"), swapped).unwrap();
    let out = allot().args(["check", "--dir"]).arg(dir.path()).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "warnings are not errors");
    assert!(
        stdout.contains("warning: rule `vip-moscow` can never fire: every client it matches is taken first by rule `vip-regions` (sales)"),
        "{stdout}"
    );
    assert!(stdout.contains("scheme.toml:"), "the warning is located: {stdout}");
    // The shipped order is clean.
    let out = allot().args(["check", "--dir", "examples/s3"]).output().unwrap();
    assert!(out.status.success());
    insta::assert_snapshot!(String::from_utf8_lossy(&out.stdout), @r"
    coverage per role:
      sales      2 006 clients, 2 006 assigned (100.0%), 0 unassigned
    ok: no errors, 0 warning(s)
    ");
}

#[test]
fn s4_1_every_client_has_a_sales_manager_and_a_service_engineer() {
    let a = assign(&["--dir", "examples/s4-service"]);
    let clients = std::fs::read_to_string(example("s4-service/clients.csv")).unwrap();
    for line in clients.lines().skip(1) {
        let id = line.split(',').next().unwrap();
        let s = &a[&(id.to_string(), "sales".to_string())];
        let e = &a[&(id.to_string(), "service".to_string())];
        assert!(["morozov", "volkova", "zaitsev"].contains(&s.as_str()), "{id}: sales {s}");
        assert!(["egorov", "lebedeva", "orlov"].contains(&e.as_str()), "{id}: service {e}");
    }
    assert_eq!(a[&("h001".into(), "service".into())], "egorov", "MRI needs the certified engineer");
    assert_eq!(a[&("h002".into(), "service".into())], "lebedeva", "Kazan is west of 60°E");
    assert_eq!(a[&("h003".into(), "service".into())], "orlov", "Novosibirsk is east");
}

#[test]
fn s4_4_the_phone_desk_sells_small_one_off_deals_and_administers_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let deals = dir.path().join("deals.csv");
    let out = allot().args(["assign", "--dir", "examples/s4-phone-desk", "-q", "--deals-out"]).arg(&deals).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = std::fs::read_to_string(&deals).unwrap();
    let rows: HashMap<(String, String), String> = text
        .lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            ((f[0].to_string(), f[2].to_string()), f[3].to_string())
        })
        .collect();
    let who = |d: &str, r: &str| rows[&(d.to_string(), r.to_string())].clone();
    assert_eq!(who("d001", "sales"), "sidorova", "one-off client, 450");
    assert_eq!(who("d001", "admin"), "");
    assert_eq!(who("d002", "admin"), "sidorova", "one-off client but 12 500");
    assert_ne!(who("d002", "sales"), "sidorova");
    assert_eq!(who("d003", "admin"), "sidorova", "999,99 from a regular client");
    assert_eq!(who("d005", "sales"), "sidorova");
    assert_eq!(who("d007", "admin"), "sidorova", "exactly 1 000 is not less than 1000");
    assert_ne!(who("d007", "sales"), "sidorova");
}

#[test]
fn explain_shows_every_rule_tried_and_why() {
    let out = allot().args(["explain", "--dir", "examples/s3", "c00004"]).output().unwrap();
    assert!(out.status.success());
    insta::assert_snapshot!(String::from_utf8_lossy(&out.stdout), @r#"
    client c00004: name=АО «Меридиан-Трейд», city=Москва, region=RU-MOW, industry=торговля, significance=vip, channel=dealer, ownership=commercial, products=компьютеры;сети, potential=61000000, workload=3, lat=55.74624, lon=37.62817
    territory: russia › dealers-ivanov

    role sales → mikhailova Михайлова Ольга (named by rule)
      client rule gov-moscow           no
          no      ownership == "government"   [ownership = commercial]
      client rule vip-moscow           MATCHES
          yes     significance == "vip"   [significance = vip]
          yes     region == "RU-MOW"   [region = RU-MOW]
    "#);
    let out = allot().args(["explain", "--dir", "examples/s3", "c0004"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("did you mean `c00004`?"));
}

#[test]
fn explain_a_pool_shows_the_loads_at_the_moment_of_choice() {
    let out = allot().args(["explain", "--dir", "examples/s4-phone-desk", "--deal", "d003"]).output().unwrap();
    assert!(out.status.success());
    let s = String::from_utf8_lossy(&out.stdout);
    assert!(s.contains("pool of rule sales-managers (round-robin), loads at the moment of choice:"), "{s}");
    assert!(s.contains("← chosen"), "{s}");
    // In Russian (issue #16): the strategy, the loads and the choice in the reader's words, the
    // numbers grouped as Russian writes them.
    let out = allot().args(["explain", "--dir", "examples/s4-phone-desk", "--deal", "d003", "--lang", "ru"]).output().unwrap();
    assert!(out.status.success());
    let s = String::from_utf8_lossy(&out.stdout);
    assert!(s.contains("группа правила sales-managers (по очереди), нагрузка в момент выбора:"), "{s}");
    assert!(s.contains("← выбран") && s.contains("сделка d003") && !s.contains("chosen"), "{s}");
    let out = allot().args(["explain", "--dir", "examples/s4-phone-desk", "--deal", "d003"]).env("LANG", "ru_RU.UTF-8").output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), s, "the locale chooses Russian as --lang ru does");
    let out = allot().args(["explain", "--dir", "examples/s4-phone-desk", "d001", "--lang", "de"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("expected ru or en"));
}

#[test]
fn assignment_is_byte_identical_across_runs_and_sticky_on_its_own_output() {
    let run = |extra: &[&str]| {
        allot().args(["assign", "--dir", "examples/s4-service", "-q", "--date", "2026-11-27"]).args(extra).output().unwrap().stdout
    };
    let first = run(&[]);
    assert_eq!(first, run(&[]));
    let dir = tempfile::tempdir().unwrap();
    let cur = dir.path().join("current.csv");
    std::fs::write(&cur, &first).unwrap();
    let again = String::from_utf8(run(&["--current", cur.to_str().unwrap()])).unwrap();
    let owners = |s: &str| s.lines().map(|l| l.split(',').take(3).collect::<Vec<_>>().join(",")).collect::<Vec<_>>();
    assert_eq!(owners(&again), owners(&String::from_utf8(first).unwrap()), "everyone keeps their owner");
    assert!(again.lines().skip(1).all(|l| l.ends_with("kept: current owner is still valid")), "{again}");
}

#[test]
fn bad_input_reports_every_error_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("clients.csv"), "id;region;potential\nc1;RU-MOW;много\nc1;RU-TA;5\n").unwrap();
    std::fs::write(dir.path().join("employees.csv"), "id,name\ne1,Иванов\n").unwrap();
    std::fs::write(dir.path().join("scheme.toml"), "[[rules]]\nid = \"all\"\nrole = \"sales\"\nemployee = \"e1\"\n").unwrap();
    let out_file = dir.path().join("out.csv");
    let out = allot().args(["assign", "--dir"]).arg(dir.path()).arg("-o").arg(&out_file).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr).replace(&dir.path().display().to_string(), "DIR");
    insta::assert_snapshot!(err, @r#"
    error: `potential` must be number
      --> DIR/clients.csv:2:3 (column `potential`)
      = expected a number such as 1500 or 1 500,50, found text "много"

    error: id `c1` appears twice
      --> DIR/clients.csv:3:1 (column `id`)
      = expected a unique id in every row, found the same id on line 2

    2 error(s); nothing was written
    "#);
    assert!(!out_file.exists());
    let out = allot().args(["check", "--dir"]).arg(dir.path()).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn windows_1251_clients_are_read_with_the_encoding_flag() {
    let dir = tempfile::tempdir().unwrap();
    let (bytes, _, _) = encoding_rs::WINDOWS_1251.encode("id;регион\nк1;Москва\n");
    std::fs::write(dir.path().join("clients.csv"), &bytes).unwrap();
    std::fs::write(dir.path().join("employees.csv"), "id,name\ne1,Иванов\n").unwrap();
    std::fs::write(
        dir.path().join("scheme.toml"),
        "[[rules]]\nid = \"moscow\"\nrole = \"sales\"\nwhen = 'регион == \"Москва\"'\nemployee = \"e1\"\n",
    )
    .unwrap();
    let out = allot().args(["assign", "-q", "--dir"]).arg(dir.path()).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--encoding cp1251"));
    let out = allot().args(["assign", "-q", "--encoding", "cp1251", "--dir"]).arg(dir.path()).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "client_id,role,employee_id,rule,reason\nк1,sales,e1,moscow,named by rule\n");
}

#[test]
fn the_shipped_examples_are_what_the_generator_makes() {
    for name in ["s3", "s4-service", "s4-phone-desk"] {
        let dir = tempfile::tempdir().unwrap();
        allot().args(["example", name, "--out"]).arg(dir.path()).assert().success();
        for entry in std::fs::read_dir(dir.path()).unwrap() {
            let p = entry.unwrap().path();
            let shipped = example(name).join(p.file_name().unwrap());
            assert_eq!(
                std::fs::read(&p).unwrap(),
                std::fs::read(&shipped).unwrap(),
                "{} differs: run `allot example {name} --out examples/{name}`",
                shipped.display()
            );
        }
    }
}

#[test]
fn help_lists_every_command_with_an_example() {
    let out = allot().arg("--help").output().unwrap();
    let s = String::from_utf8_lossy(&out.stdout);
    for cmd in [
        "check", "assign", "explain", "example", "balance", "bench", "import", "plan", "apply", "history", "owners", "credit", "book",
        "pin", "absent", "leave",
    ] {
        assert!(s.contains(&format!("  {cmd} ")), "{cmd} missing from --help");
        let sub = allot().args([cmd, "--help"]).output().unwrap();
        assert!(String::from_utf8_lossy(&sub.stdout).contains("Example"), "{cmd} --help has no example");
    }
}

#[test]
fn json_output_is_valid_json() {
    let out = allot().args(["assign", "--dir", "examples/s4-phone-desk", "-q", "--json"]).output().unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 6);
    assert_eq!(v[0]["client_id"], "k01");
}

#[test]
fn a_reader_that_stops_early_is_not_an_error() {
    use std::io::Read;
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("allot"))
        .current_dir(root())
        .args(["assign", "--dir", "examples/s3", "-q"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = [0u8; 64];
    child.stdout.take().unwrap().read_exact(&mut first).unwrap(); // then the pipe closes
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).is_empty());
}

#[test]
fn the_credit_benchmark_checks_every_sale_is_exact() {
    // BENCHMARKS §7 at a small size: the run itself fails if a sale's parts do not add up.
    let out = allot().args(["bench", "--credit", "20000", "--clients", "2000", "--repeat", "1"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    let runs: Vec<serde_json::Value> = text.lines().skip(1).map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(runs.len(), 2, "{text}");
    for r in runs {
        assert_eq!(r["exact_sales"], 20000);
        // Revenue credit is the whole revenue; overlay adds 10% of it, give or take a kopeck a sale.
        let (revenue, with_overlay) = (r["revenue"].as_i64().unwrap(), r["credited_with_overlay"].as_i64().unwrap());
        assert!((with_overlay - revenue - revenue / 10).abs() <= 20000, "{r}");
    }
}
