//! Property tests: random schemes and data never panic, every (client, role) gets exactly one
//! outcome, the fast matcher agrees with trying every rule in order, capacity holds, and the same
//! input gives the same output.

use allot_core::data::{DataSchema, Subject};
use allot_core::engine::{CurrentLink, How, Options};
use allot_core::model::{Compiled, Strategy as Strat, Target};
use allot_rules::{Matcher, Tri};
use proptest::prelude::*;

use crate::World;

const REGIONS: [&str; 5] = ["RU-MOW", "RU-SPE", "RU-TA", "RU-NVS", "-"];
const STRATS: [Strat; 4] = [Strat::BalancePotential, Strat::BalanceWorkload, Strat::BalanceCount, Strat::RoundRobin];

fn cond() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        proptest::sample::select(&REGIONS[..4]).prop_map(|r| format!("region == \"{r}\"")),
        proptest::sample::subsequence(&REGIONS[..4], 1..3)
            .prop_map(|v| format!("region in [{}]", v.iter().map(|r| format!("\"{r}\"")).collect::<Vec<_>>().join(", "))),
        (0u32..5, prop_oneof![Just("<"), Just("<="), Just(">"), Just(">="), Just("=="), Just("!=")])
            .prop_map(|(n, op)| format!("potential {op} {}", n * 25)),
        Just("vip".to_string()),
        Just("region is missing".to_string()),
        Just("products contains \"a\"".to_string()),
        Just("true".to_string()),
    ];
    leaf.prop_recursive(3, 12, 3, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a}) and ({b})")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a}) or ({b})")),
            inner.prop_map(|a| format!("not ({a})")),
        ]
    })
}

#[derive(Debug, Clone)]
struct Spec {
    clients: Vec<(usize, Option<u32>, bool, bool)>,
    rules: Vec<(usize, String, u8, Vec<usize>, usize)>,
    capacity: Vec<Option<u32>>,
    active: Vec<bool>,
    current: Vec<(usize, usize, usize, bool)>,
    rebalance: bool,
}

fn spec() -> impl Strategy<Value = Spec> {
    (
        proptest::collection::vec((0usize..5, proptest::option::of(0u32..5), any::<bool>(), any::<bool>()), 1..40),
        proptest::collection::vec((0usize..2, cond(), 0u8..3, proptest::collection::vec(0usize..4, 0..4), 0usize..4), 1..6),
        proptest::collection::vec(proptest::option::of(0u32..6), 4),
        proptest::collection::vec(proptest::bool::weighted(0.85), 4),
        proptest::collection::vec((0usize..40, 0usize..2, 0usize..4, any::<bool>()), 0..10),
        any::<bool>(),
    )
        .prop_map(|(clients, rules, capacity, active, current, rebalance)| Spec {
            clients,
            rules,
            capacity,
            active,
            current,
            rebalance,
        })
}

fn world(s: &Spec) -> World {
    let mut text = String::from("id,region:text,potential:number,vip:bool,products:list\n");
    for (i, (r, p, vip, a)) in s.clients.iter().enumerate() {
        let p = p.map_or("-".to_string(), |p| (p * 25).to_string());
        text.push_str(&format!("c{i},{},{p},{vip},{}\n", REGIONS[*r], if *a { "a;b" } else { "b" }));
    }
    let mut w = World::new(&text, &["e0", "e1", "e2", "e3"]);
    for (i, (cap, act)) in s.capacity.iter().zip(&s.active).enumerate() {
        w.scheme.employees[i].capacity = *cap;
        w.scheme.employees[i].active = *act;
    }
    w.territory("t-moscow", None, r#"region == "RU-MOW""#, &[("sales", "e0"), ("service", "e1")]).territory(
        "t-all",
        None,
        "true",
        &[("sales", "e2")],
    );
    for (i, (role, c, kind, members, strat)) in s.rules.iter().enumerate() {
        let target = match kind {
            0 => Target::Employee((i % 4) as u32),
            1 => Target::TerritoryOwner,
            _ => {
                let m: Vec<(&str, f64)> = members.iter().map(|&m| (["e0", "e1", "e2", "e3"][m], 1.0 + (m % 2) as f64)).collect();
                let mut seen = std::collections::HashSet::new();
                let m: Vec<(&str, f64)> = m.into_iter().filter(|x| seen.insert(x.0)).collect();
                w.pool(&m, STRATS[*strat])
            }
        };
        w.rule(&format!("r{i}"), ["sales", "service"][*role], c, target);
    }
    w
}

fn current(w: &World, s: &Spec) -> Vec<CurrentLink> {
    let mut seen = std::collections::HashSet::new();
    s.current
        .iter()
        .filter(|(c, _, _, _)| *c < w.data.clients.len())
        .filter(|(c, r, _, _)| seen.insert((*c, *r)))
        .map(|&(c, r, e, pinned)| CurrentLink {
            client: c as u32,
            role: w.scheme.role(["sales", "service"][r]).unwrap(),
            employee: e as u32,
            pinned,
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn every_client_role_gets_exactly_one_valid_outcome(s in spec()) {
        let w = world(&s);
        let cur = current(&w, &s);
        let opts = Options { rebalance: s.rebalance, ..Options::default() };
        let compiled = Compiled::new(&w.scheme, &w.data);
        let o = allot_core::assign(&w.scheme, &compiled, &w.data, &cur, &opts);
        let again = allot_core::assign(&w.scheme, &compiled, &w.data, &cur, &opts);
        prop_assert_eq!(&o.cells, &again.cells, "deterministic");
        prop_assert_eq!(o.cells.len(), w.data.clients.len() * o.roles.len());

        let schema = DataSchema { data: &w.data, subject: Subject::Client };
        let matchers: Vec<Matcher> = w.scheme.rules.iter().map(|r| Matcher::compile(&allot_rules::compile_text(&r.source, &schema).unwrap(), &w.data.dict)).collect();
        let mut held = [0u32; 4];
        for c in 0..w.data.clients.len() as u32 {
            let row = allot_core::data::RowRef { data: &w.data, client: c, deal: None };
            for (k, &role) in o.roles.iter().enumerate() {
                let cell = o.cell(c, k);
                // The first rule that holds, found by trying every rule in order.
                let first = (0..w.scheme.rules.len()).find(|&r| w.scheme.rules[r].role == role && matchers[r].eval(&row) == Tri::True);
                match cell.how {
                    How::Pinned => {
                        let pin = cur.iter().find(|l| l.client == c && l.role == role && l.pinned).unwrap();
                        prop_assert_eq!(cell.employee(), Some(pin.employee));
                    }
                    _ => prop_assert_eq!(cell.rule(), first, "client c{} role {}", c, role),
                }
                if let Some(e) = cell.employee() {
                    held[e as usize] += 1;
                    if let (How::Pool, Some(Target::Pool { members, .. })) = (cell.how, cell.rule().map(|r| &w.scheme.rules[r].target)) {
                        prop_assert!(members.iter().any(|m| m.employee == e));
                        prop_assert!(w.scheme.employees[e as usize].active);
                    }
                }
            }
        }
        for (e, n) in held.iter().enumerate() {
            let pinned = cur.iter().filter(|l| l.pinned && l.employee == e as u32).count() as u32;
            if let Some(cap) = w.scheme.employees[e].capacity {
                prop_assert!(*n <= cap.max(pinned), "e{} holds {} over capacity {}", e, n, cap);
            }
        }
    }
}
