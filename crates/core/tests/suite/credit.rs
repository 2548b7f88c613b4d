//! Sales credit (issue #6, point 3): exact to the kopeck, by largest remainder, for any sale and
//! any shares; ties by id, so order of input does not matter.

use allot_core::credit::{split, Crediting, LinkSpan, Policy, RoleShare};
use proptest::prelude::*;

fn weights() -> impl Strategy<Value = Vec<(String, u64)>> {
    prop::collection::vec(0u64..1_000, 1..12)
        .prop_map(|v| v.into_iter().enumerate().map(|(i, w)| (format!("e{i:02}"), w)).collect())
        .prop_filter("some weight", |v: &Vec<(String, u64)>| v.iter().any(|x| x.1 > 0))
}

proptest! {
    #[test]
    fn parts_add_up_to_the_sale_and_each_is_within_a_kopeck_of_its_share(amount in -10_000_000_000i64..10_000_000_000, w in weights()) {
        let parts = split(amount, &w);
        prop_assert_eq!(parts.iter().map(|p| p.1).sum::<i64>(), amount);
        let total: u64 = w.iter().map(|x| x.1).sum();
        for ((_, part), (_, weight)) in parts.iter().zip(&w) {
            let exact = amount as f64 * *weight as f64 / total as f64;
            prop_assert!((*part as f64 - exact).abs() < 1.0 + 1e-6 * exact.abs(), "{} vs {}", part, exact);
            if *weight == 0 {
                prop_assert_eq!(*part, 0);
            }
        }
    }

    #[test]
    fn the_order_of_the_input_does_not_change_anyone_s_kopecks(amount in 0i64..1_000_000, w in weights(), rot in 0usize..12) {
        let mut turned = w.clone();
        let n = turned.len();
        turned.rotate_left(rot % n);
        let mut a = split(amount, &w);
        let mut b = split(amount, &turned);
        a.sort();
        b.sort();
        prop_assert_eq!(a, b);
    }

    #[test]
    fn revenue_credit_is_the_whole_sale_under_both_policies(
        amount in 0i64..100_000_000,
        sales_bp in 0u32..=10_000,
        changes in prop::collection::vec(0i32..60, 0..4),
        opened in 0i32..60,
        len in 0i32..60,
        vacant_from in prop::option::of(0i32..120),
    ) {
        // sales: holders changing hands on the given days; service: the rest of 100%, one holder
        // who may leave (a vacancy).
        let mut days: Vec<i32> = changes.clone();
        days.sort();
        days.dedup();
        let mut sales: Vec<LinkSpan> = Vec::new();
        let mut from = 0;
        for (i, d) in days.iter().enumerate() {
            sales.push(LinkSpan { employee: format!("s{i}"), from, until: Some(*d) });
            from = *d;
        }
        sales.push(LinkSpan { employee: "s-last".into(), from, until: None });
        let service = [LinkSpan { employee: "svc".into(), from: 0, until: vacant_from }];
        let shares = [
            RoleShare { basis_points: sales_bp, spans: &sales },
            RoleShare { basis_points: 10_000 - sales_bp, spans: &service },
        ];
        let mut lines = Vec::new();
        for policy in [Policy::SaleDate, Policy::TimeInRole] {
            Crediting::default().credit(amount, opened + len, Some(opened), &shares, policy, &mut lines);
            prop_assert_eq!(lines.iter().map(|l| l.amount).sum::<i64>(), amount, "{:?}", lines);
            let role = |r: usize| lines.iter().filter(|l| l.share == r).map(|l| l.amount).sum::<i64>();
            prop_assert!((role(0) as f64 - amount as f64 * sales_bp as f64 / 1e4).abs() < 1.0);
            if policy == Policy::SaleDate {
                prop_assert!(lines.iter().filter(|l| l.share == 0).count() == 1, "one holder on the sale date");
            }
        }
    }
}

#[test]
fn overlay_credit_is_kept_apart_and_may_exceed_the_sale() {
    // A VIP head credited 60% and a regional head 50% on top of revenue credit: 110% in all.
    let head = [LinkSpan { employee: "head".to_string(), from: 0, until: None }];
    let region = [LinkSpan { employee: "region".to_string(), from: 0, until: None }];
    let overlay = [RoleShare { basis_points: 6_000, spans: &head }, RoleShare { basis_points: 5_000, spans: &region }];
    let mut lines = Vec::new();
    Crediting::default().credit(1_001, 3, None, &overlay, Policy::SaleDate, &mut lines);
    // 600.6 and 500.5 kopecks: each rounds on its own, a tie towards the credited person.
    assert_eq!(lines.iter().map(|l| (l.employee.as_deref().unwrap(), l.amount)).collect::<Vec<_>>(), [("head", 601), ("region", 501)]);
}
