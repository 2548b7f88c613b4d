//! `allot check` findings: dead rules, rules that never fired, overlaps, unreachable employees,
//! coverage.

use allot_core::check::{implies, review};
use allot_core::data::{DataSchema, Subject};
use allot_core::engine::Options;
use allot_core::model::Target;

use crate::{World, TEN};

fn findings(w: &World) -> Vec<String> {
    let o = w.run(&[], &Options::default());
    review(&w.scheme, &w.data, &o).findings.iter().map(|d| d.message.clone()).collect()
}

#[test]
fn a_rule_shadowed_by_an_earlier_broader_rule_is_dead() {
    // S3 in the wrong order: "VIP anywhere" above "VIP in Moscow" makes the latter dead.
    let mut w = World::new(TEN, &["regions", "moscow", "rest"]);
    let (r, m, x) = (Target::Employee(w.emp("regions")), Target::Employee(w.emp("moscow")), Target::Employee(w.emp("rest")));
    w.rule("vip-regions", "sales", r#"significance == "vip""#, r)
        .rule("vip-moscow", "sales", r#"significance == "vip" and region == "RU-MOW""#, m)
        .rule("rest", "sales", "true", x);
    let f = findings(&w);
    assert_eq!(f, ["rule `vip-moscow` can never fire: every client it matches is taken first by rule `vip-regions` (sales)"]);
}

#[test]
fn the_right_order_has_no_dead_rule() {
    let mut w = World::new(TEN, &["regions", "moscow", "rest"]);
    let (r, m, x) = (Target::Employee(w.emp("regions")), Target::Employee(w.emp("moscow")), Target::Employee(w.emp("rest")));
    w.rule("vip-moscow", "sales", r#"significance == "vip" and region == "RU-MOW""#, m)
        .rule("vip-regions", "sales", r#"significance == "vip""#, r)
        .rule("rest", "sales", "true", x);
    assert!(findings(&w).is_empty(), "{:?}", findings(&w));
}

#[test]
fn a_rule_of_another_role_does_not_shadow() {
    let mut w = World::new(TEN, &["a", "b"]);
    let (a, b) = (Target::Employee(w.emp("a")), Target::Employee(w.emp("b")));
    w.rule("all-sales", "sales", "true", a).rule("all-service", "service", "true", b);
    assert!(findings(&w).is_empty());
}

#[test]
fn implication_handles_sets_and_number_bands() {
    let w = World::new(TEN, &[]);
    let c = |s: &str| allot_rules::compile_text(s, &DataSchema { data: &w.data, subject: Subject::Client }).unwrap();
    let yes = [
        (r#"region == "RU-MOW""#, r#"region in ["RU-MOW", "RU-TA"]"#),
        (r#"region in ["RU-MOW"]"#, r#"region == "RU-MOW""#),
        ("potential > 100", "potential >= 50"),
        ("potential >= 100 and potential < 200", "potential > 99"),
        (r#"region == "RU-MOW" or region == "RU-TA""#, r#"region in ["RU-MOW", "RU-TA", "RU-SPE"]"#),
        (r#"region == "RU-MOW""#, "region is not missing"),
        ("false", r#"region == "x""#),
    ];
    for (a, b) in yes {
        assert!(implies(&c(a), &c(b)), "{a}  ⇒  {b}");
    }
    let no = [
        (r#"region in ["RU-MOW", "RU-TA"]"#, r#"region == "RU-MOW""#),
        ("potential >= 50", "potential > 50"),
        (r#"region != "RU-MOW""#, r#"region == "RU-TA""#),
        ("region is missing", r#"region == "RU-MOW""#),
        (r#"not (region == "RU-MOW")"#, r#"region == "RU-TA""#),
    ];
    for (a, b) in no {
        assert!(!implies(&c(a), &c(b)), "{a}  ⇏  {b}");
    }
}

#[test]
fn rules_that_match_nothing_overlaps_and_unreachable_employees_are_reported() {
    let mut w = World::new(TEN, &["a", "b", "idle"]);
    let (a, b) = (Target::Employee(w.emp("a")), Target::Employee(w.emp("b")));
    w.territory("east", None, r#"region in ["RU-TA", "RU-MOW"]"#, &[]).territory("capital", None, r#"region == "RU-MOW""#, &[]);
    w.rule("ghost", "sales", r#"region == "RU-NOWHERE""#, a).rule("all", "sales", "true", b);
    let f = findings(&w);
    assert!(f.contains(&"rule `ghost` matched no client in this data".to_string()), "{f:?}");
    assert!(
        f.contains(&"territories `east` and `capital` overlap: 3 client(s) match both (e.g. c1); they go to `east`, the first".to_string()),
        "{f:?}"
    );
    assert!(f.contains(&"employee `idle` (idle) is reached by no rule and owns no territory".to_string()), "{f:?}");
}

#[test]
fn coverage_counts_unassigned_clients_per_role_with_examples() {
    let mut w = World::new(TEN, &["a"]);
    let a = Target::Employee(w.emp("a"));
    w.rule("moscow", "sales", r#"region == "RU-MOW""#, a);
    let o = w.run(&[], &Options::default());
    let r = review(&w.scheme, &w.data, &o);
    assert_eq!(r.coverage.len(), 1);
    let cov = &r.coverage[0];
    assert_eq!((cov.clients, cov.assigned), (10, 3));
    let reasons: Vec<(&str, u64, usize)> = cov.unassigned.iter().map(|(t, n, ex)| (t.as_str(), *n, ex.len())).collect();
    assert_eq!(reasons, [("no rule matched", 6, 3), ("no rule matched; `region` is missing", 1, 1)]);
}
