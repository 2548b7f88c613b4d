//! `allot balance` as a user runs it (issue #5): files in, design, scheme, pictures, figures out;
//! bad input refused with its place.

use super::allot;

/// A `;`-separated file with decimal commas, as Excel saves it in Russia: 40 clients in two
/// clusters (west and east), potentials 1..=4.
fn clients_csv() -> String {
    let mut s = String::from("id;lat;lon;potential;workload;region\n");
    for i in 0..40 {
        let (lat, lon) = if i < 20 {
            (55.0 + (i % 5) as f64 * 0.3, 37.0 + (i / 5) as f64 * 0.4)
        } else {
            (56.0 + (i % 5) as f64 * 0.3, 49.0 + (i / 5) as f64 * 0.4)
        };
        let region = format!("R{}", i / 4);
        s.push_str(&format!(
            "к{i:02};{};{};{};{};{region}\n",
            format!("{lat:.2}").replace('.', ","),
            format!("{lon:.2}").replace('.', ","),
            1 + i % 4,
            2
        ));
    }
    s
}

#[test]
fn balance_writes_a_design_a_scheme_pictures_and_figures_that_assign_runs_on() {
    let dir = tempfile::tempdir().unwrap();
    let clients = dir.path().join("clients.csv");
    std::fs::write(&clients, clients_csv()).unwrap();
    std::fs::write(dir.path().join("employees.csv"), "id,name,teams,weight\nanna,Анна,field,1\nboris,Борис,field,1\n").unwrap();
    let out = allot()
        .args(["balance", "--contiguous", "--role", "sales", "--clients"])
        .arg(&clients)
        .arg("--employees")
        .arg(dir.path().join("employees.csv"))
        .arg("-o")
        .arg(dir.path().join("design.csv"))
        .arg("--clients-out")
        .arg(dir.path().join("clients-with-territory.csv"))
        .arg("--scheme-out")
        .arg(dir.path().join("territories.toml"))
        .args(["--map"])
        .arg(dir.path().join("map.svg"))
        .args(["--map"])
        .arg(dir.path().join("map.png"))
        .args(["--chart"])
        .arg(dir.path().join("chart.png"))
        .args(["--json"])
        .arg(dir.path().join("figures.json"))
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(report.contains("within tolerance"), "{report}");
    // The design: every client once, two owners, potentials equal within 1% (total 100 → 50 each).
    let design = std::fs::read_to_string(dir.path().join("design.csv")).unwrap();
    assert_eq!(design.lines().next().unwrap(), "id,territory,employee");
    assert_eq!(design.lines().count(), 41);
    let figures: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.path().join("figures.json")).unwrap()).unwrap();
    assert!(figures["criteria"][0]["deviation"].as_f64().unwrap() <= 0.01);
    assert_eq!(figures["pieces"], 0);
    assert!(std::fs::read_to_string(dir.path().join("map.svg")).unwrap().starts_with("<svg"));
    assert_eq!(&std::fs::read(dir.path().join("map.png")).unwrap()[1..4], b"PNG");
    assert_eq!(&std::fs::read(dir.path().join("chart.png")).unwrap()[1..4], b"PNG");
    // The scheme form runs as it is: territories owned in `sales`, one rule.
    let scheme = std::fs::read_to_string(dir.path().join("territories.toml")).unwrap()
        + "\n[[rules]]\nid = \"by-territory\"\nrole = \"sales\"\nterritory_owner = true\n";
    std::fs::write(dir.path().join("scheme.toml"), scheme).unwrap();
    std::fs::rename(dir.path().join("clients-with-territory.csv"), dir.path().join("clients.csv")).unwrap();
    let out = allot().args(["assign", "-q", "--dir"]).arg(dir.path()).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let assigned = String::from_utf8_lossy(&out.stdout);
    for line in design.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        assert!(assigned.contains(&format!("{},sales,{},", f[0], f[2])), "{line} not assigned as designed");
    }
}

#[test]
fn balance_by_units_keeps_each_unit_whole_and_same_seed_same_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let clients = dir.path().join("clients.csv");
    std::fs::write(&clients, clients_csv()).unwrap();
    let run = || {
        let out = allot()
            .args(["balance", "-k", "2", "--unit", "region", "--tolerance", "10", "-q", "--clients"])
            .arg(&clients)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        out.stdout
    };
    let a = run();
    assert_eq!(a, run());
    let text = String::from_utf8(a).unwrap();
    assert_eq!(text.lines().next().unwrap(), "region,territory,clients");
    assert_eq!(text.lines().count(), 11, "{text}");
}

#[test]
fn balance_rebalances_a_current_design_and_reports_the_moves() {
    let dir = tempfile::tempdir().unwrap();
    let clients = dir.path().join("clients.csv");
    std::fs::write(&clients, clients_csv()).unwrap();
    // Last year's design: the west cluster plus two eastern clients in t1, the rest in t2.
    let mut cur = String::from("id,territory\n");
    for i in 0..40 {
        cur.push_str(&format!("к{i:02},{}\n", if i < 22 { "t1" } else { "t2" }));
    }
    std::fs::write(dir.path().join("current.csv"), cur).unwrap();
    let out = allot()
        .args(["balance", "-k", "2", "--tolerance", "0", "--json"])
        .arg(dir.path().join("f.json"))
        .arg("--clients")
        .arg(&clients)
        .arg("--current")
        .arg(dir.path().join("current.csv"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let f: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.path().join("f.json")).unwrap()).unwrap();
    // t1 holds 50 + clients 20 and 21 (potentials 1 and 2) = 53 of 100: exactly 3 must move.
    assert!((f["moves"]["lower_bound"].as_f64().unwrap() - 0.03).abs() < 1e-9, "{f}");
    assert!((f["moves"]["potential_share"].as_f64().unwrap() - 0.03).abs() < 1e-9, "{f}");
    assert_eq!(f["criteria"][0]["deviation"].as_f64().unwrap(), 0.0);
}

#[test]
fn balance_speaks_russian_in_its_report_design_and_chart_and_reads_its_russian_design_back() {
    // Issue #16: `--lang ru` (or a Russian locale) — the report, the design file's headers and the
    // chart's title, scale and legend in Russian; the design is still a `--current` input.
    let dir = tempfile::tempdir().unwrap();
    let clients = dir.path().join("clients.csv");
    std::fs::write(&clients, clients_csv()).unwrap();
    let (design, chart) = (dir.path().join("design.csv"), dir.path().join("chart.svg"));
    let out = allot()
        .args(["balance", "-k", "2", "--clients"])
        .arg(&clients)
        .arg("-o")
        .arg(&design)
        .arg("--chart")
        .arg(&chart)
        .env("LANG", "ru_RU.UTF-8")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(report.contains("Новый раскрой — единиц: 40, территорий: 2") && report.contains("в пределах допуска"), "{report}");
    assert!(report.contains("допуск 1,00\u{a0}%") && !report.contains("within"), "{report}");
    let text = std::fs::read_to_string(&design).unwrap();
    assert_eq!(text.lines().next().unwrap(), "id,территория");
    let svg = std::fs::read_to_string(&chart).unwrap();
    for want in [">potential по территориям<", ">цель (равная доля)<", ">допуск ±1,0 %<", ">0<"] {
        assert!(svg.contains(want), "{want} in {svg}");
    }
    // The Russian design read back as the current one: nothing has to move.
    let out =
        allot().args(["balance", "-k", "2", "--lang", "en", "--clients"]).arg(&clients).arg("--current").arg(&design).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // Without -o the design goes to standard output (its headers in English now), the report to
    // standard error.
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("id,territory\n"));
    let report = String::from_utf8_lossy(&out.stderr);
    assert!(report.contains("Re-balanced 40 units into 2 territories") && report.contains("0.00% of the potential"), "{report}");
}

#[test]
fn balance_refuses_bad_input_with_its_place_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let clients = dir.path().join("clients.csv");
    std::fs::write(&clients, "id,lat,lon,potential\na,55.7,37.6,100\nb,55.8,37.7,много\nc,95,37.7,5\n").unwrap();
    let out = allot().args(["balance", "-k", "2", "-o"]).arg(dir.path().join("d.csv")).arg("--clients").arg(&clients).output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("clients.csv:3:4"), "{err}");
    assert!(err.contains("`много` is not a number"), "{err}");
    assert!(err.contains("clients.csv:4:2") && err.contains("latitude 95 is out of range"), "{err}");
    assert!(!dir.path().join("d.csv").exists());
    // A missing column names the columns there are.
    std::fs::write(&clients, "id,lat,lon,potental\na,55.7,37.6,100\n").unwrap();
    let out = allot().args(["balance", "-k", "1", "--clients"]).arg(&clients).args(["--by", "potential"]).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("did you mean `potental`?"), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn balance_meets_several_criteria_at_once_where_single_moves_cannot() {
    // Issue #5, point 1: potential, count and workload, each with its own tolerance. Two clusters
    // of 20 clients, potentials chosen so that 4 territories of exactly 10 clients and exactly 25
    // of potential exist but a potential-only design has other counts.
    let mut s = String::from("id,lat,lon,potential,workload\n");
    for i in 0..40u32 {
        let (lat, lon) = if i < 20 {
            (55.0 + (i % 5) as f64 * 0.3, 37.0 + (i / 5) as f64 * 0.4)
        } else {
            (56.0 + (i % 5) as f64 * 0.3, 49.0 + (i / 5) as f64 * 0.4)
        };
        let potential = if i < 20 { 1 + (i * i) % 7 } else { 1 + i % 3 - (i == 39) as u32 };
        s.push_str(&format!("c{i:02},{lat:.2},{lon:.2},{potential},{}\n", 1 + (i * 5) % 4));
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("c.csv"), s).unwrap();
    let run = |by: &[&str]| -> serde_json::Value {
        let json = dir.path().join("f.json");
        let out = allot()
            .args(["balance", "-k", "4", "-q", "--contiguous", "-o"])
            .arg(dir.path().join("d.csv"))
            .arg("--json")
            .arg(&json)
            .arg("--clients")
            .arg(dir.path().join("c.csv"))
            .args(by.iter().flat_map(|b| ["--by", b]))
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap()
    };
    let counts =
        |f: &serde_json::Value| f["per_territory"].as_array().unwrap().iter().map(|t| t["clients"].as_u64().unwrap()).collect::<Vec<_>>();
    let alone = run(&["potential:1"]);
    assert_eq!(alone["criteria"][0]["deviation"].as_f64(), Some(0.0), "{alone}");
    assert_ne!(counts(&alone), [10, 10, 10, 10], "potential alone does not equalise counts here");
    let f = run(&["potential:1", "count:0", "workload:5"]);
    let names: Vec<&str> = f["criteria"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["potential", "count", "workload"]);
    for c in f["criteria"].as_array().unwrap() {
        assert!(c["met"].as_bool().unwrap() && c["deviation"].as_f64().unwrap() <= c["tolerance"].as_f64().unwrap() + 1e-12, "{f}");
    }
    assert_eq!(counts(&f), [10, 10, 10, 10]);
    assert_eq!(f["pieces"].as_u64(), Some(0), "{f}");
}

#[test]
fn balance_follows_a_given_adjacency_file_for_contiguity() {
    // Issue #5, point 2: the neighbour graph from a file of unit adjacencies. Ten regions of equal
    // potential (10 each); the file chains them R0-R5-R1-R6-R2-R7-R3-R8-R4-R9, across the two
    // clusters, so the only contiguous halves are the two ends of the chain — not west and east.
    let dir = tempfile::tempdir().unwrap();
    let clients = dir.path().join("clients.csv");
    std::fs::write(&clients, clients_csv()).unwrap();
    let chain = ["R0", "R5", "R1", "R6", "R2", "R7", "R3", "R8", "R4", "R9"];
    let mut adj = String::from("a;b\n");
    for w in chain.windows(2) {
        adj.push_str(&format!("{};{}\n", w[0], w[1]));
    }
    let adjacency = dir.path().join("adjacency.csv");
    std::fs::write(&adjacency, &adj).unwrap();
    let run = |adjacency: &std::path::Path| {
        allot()
            .args(["balance", "-k", "2", "--unit", "region", "--tolerance", "0", "--contiguous", "-q", "--clients"])
            .arg(&clients)
            .arg("--adjacency")
            .arg(adjacency)
            .output()
            .unwrap()
    };
    let out = run(&adjacency);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    let of = |r: &str| text.lines().find(|l| l.starts_with(&format!("{r},"))).unwrap().split(',').nth(1).unwrap().to_string();
    for half in [&chain[..5], &chain[5..]] {
        assert!(half.iter().all(|r| of(r) == of(half[0])), "{half:?} together: {text}");
    }
    assert_ne!(of("R0"), of("R9"), "{text}");
    // An adjacency naming an unknown unit is refused with its line.
    std::fs::write(&adjacency, format!("{adj}R9;R77\n")).unwrap();
    let out = run(&adjacency);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("adjacency.csv:11") && err.contains("R77"), "{err}");
}

#[test]
fn balance_where_keeps_only_the_clients_a_condition_holds_for() {
    let dir = tempfile::tempdir().unwrap();
    let clients = dir.path().join("clients.csv");
    std::fs::write(&clients, clients_csv()).unwrap();
    let run = |cond: &str| allot().args(["balance", "-k", "2", "--where", cond, "--clients"]).arg(&clients).output().unwrap();
    // Potentials cycle 1..=4: `potential >= 3` keeps 20 clients (7 of potential each pair, 70 in all).
    let out = run("potential >= 3");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let design = String::from_utf8(out.stdout).unwrap();
    assert_eq!(design.lines().count() - 1, 20, "{design}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("the condition keeps 20 of 40 clients"));
    let bad = run("potentail >= 3");
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(!bad.status.success() && err.contains("--where:1:1") && err.contains("did you mean `potential`"), "{err}");
    let none = run("potential > 100");
    assert!(!none.status.success() && String::from_utf8_lossy(&none.stderr).contains("no client"), "nothing to balance is an error");
}
