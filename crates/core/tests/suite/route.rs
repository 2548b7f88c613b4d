//! Real-time routing: weighted fair shares, caps, absence without a flood, fallbacks.

use std::collections::BTreeMap;

use allot_core::model::{Caps, Compiled, Strategy};
use allot_core::route::{route, PoolState};

use super::World;

fn day(s: &str) -> i32 {
    allot_rules::parse_iso_date(s).unwrap()
}

/// A pool of three with weights 3:2:1 for `sales`, and a named fallback employee.
fn world() -> World {
    let mut w = World::new("id,potential:number\nlead,100", &["anna", "boris", "vera", "queue"]);
    let pool = w.pool(&[("anna", 3.0), ("boris", 2.0), ("vera", 1.0)], Strategy::BalanceCount);
    w.rule("desk", "sales", "true", pool);
    let queue = allot_core::Target::Employee(w.emp("queue"));
    w.rule("queue", "sales", "false", queue);
    w
}

fn run(w: &World, n: usize, days: &[(usize, &str)], pools: &mut BTreeMap<String, PoolState>) -> BTreeMap<String, u32> {
    let compiled = Compiled::new(&w.scheme, &w.data);
    let mut got = BTreeMap::new();
    let mut today = day(days[0].1);
    for i in 0..n {
        if let Some((_, d)) = days.iter().find(|(at, _)| *at == i) {
            today = day(d);
        }
        let c = route(&w.scheme, &compiled, &w.data, 0, today, pools);
        let who = c[0].employee.map_or("-".to_string(), |e| w.scheme.employees[e as usize].id.clone());
        *got.entry(who).or_default() += 1;
    }
    got
}

#[test]
fn a_3_2_1_pool_gets_exactly_3_2_1_of_the_items() {
    let w = world();
    let mut pools = BTreeMap::new();
    let got = run(&w, 6000, &[(0, "2026-03-02")], &mut pools);
    assert_eq!(got, BTreeMap::from([("anna".into(), 3000), ("boris".into(), 2000), ("vera".into(), 1000)]));
    // In every prefix of six the shares are exact too: the deficit rule never lets anyone run ahead.
    let mut pools = BTreeMap::new();
    let got = run(&w, 6, &[(0, "2026-03-02")], &mut pools);
    assert_eq!(got, BTreeMap::from([("anna".into(), 3), ("boris".into(), 2), ("vera".into(), 1)]));
    assert_eq!(pools["desk"].seq, 6);
}

#[test]
fn a_daily_cap_is_kept_and_the_others_share_the_rest_by_weight() {
    let mut w = world();
    w.scheme.rules[0].caps = Caps { day: Some(1000), ..Default::default() };
    w.scheme.rules[0].fallback = Some(1);
    let mut pools = BTreeMap::new();
    let got = run(&w, 3000, &[(0, "2026-03-02")], &mut pools);
    // Until anna's cap (at item 2000: 1000/2000/... in 3:2:1), then boris and vera share 2:1, then
    // boris reaches his cap too.
    assert_eq!(got["anna"], 1000);
    assert_eq!(got["boris"], 1000);
    assert_eq!(got["vera"], 1000, "{got:?}");
    // Everyone capped: the fallback rule takes the next one; a new day resets the caps.
    let c = route(&w.scheme, &Compiled::new(&w.scheme, &w.data), &w.data, 0, day("2026-03-02"), &mut pools);
    assert_eq!(c[0].employee, Some(w.emp("queue")));
    let why = c[0].said(allot_i18n::Lang::En);
    assert!(why.contains("at their cap") && why.contains("falling back to `queue`"), "{why}");
    // The same steps in Russian, from the same catalogue (issue #16).
    let ru = c[0].said(allot_i18n::Lang::Ru);
    assert!(ru.contains("достигли предела: 3") && ru.contains("переход к правилу «queue»"), "{ru}");
    assert_eq!((c[0].rule, c[0].matched), (Some(1), Some(0)));
    let next_day = run(&w, 3, &[(0, "2026-03-03")], &mut pools);
    assert_eq!(next_day.get("queue"), None, "a new day resets the caps: {next_day:?}");
}

#[test]
fn a_member_back_from_an_absence_is_not_flooded() {
    let mut w = world();
    w.employee("anna").absent_from = Some(day("2026-03-02"));
    w.employee("anna").absent_to = Some(day("2026-03-08"));
    let mut pools = BTreeMap::new();
    let away = run(&w, 300, &[(0, "2026-03-02")], &mut pools);
    assert_eq!(away.get("anna"), None);
    assert_eq!((away["boris"], away["vera"]), (200, 100));
    // Back on the 9th: the next 60 items go 3:2:1 again, not all to anna.
    let back = run(&w, 60, &[(0, "2026-03-09")], &mut pools);
    assert_eq!(back, BTreeMap::from([("anna".into(), 30), ("boris".into(), 20), ("vera".into(), 10)]));
}

#[test]
fn routing_is_the_same_for_the_same_sequence() {
    let w = world();
    let (mut a, mut b) = (BTreeMap::new(), BTreeMap::new());
    assert_eq!(run(&w, 777, &[(0, "2026-03-02")], &mut a), run(&w, 777, &[(0, "2026-03-02")], &mut b));
    assert_eq!(a, b);
}

#[test]
fn off_duty_members_get_nothing_when_the_time_is_known() {
    use allot_core::model::WorkingHours;
    let mut w = world();
    // anna works 09:00–18:00 Moscow time (UTC+3), Monday to Friday.
    w.employee("anna").hours = Some(WorkingHours { from: 9 * 60, to: 18 * 60, utc_offset: 180, days: 0b0001_1111 });
    let compiled = Compiled::new(&w.scheme, &w.data);
    let batch = allot_core::route::Batch::new(&w.scheme, &compiled, &w.data);
    let minute = |d: &str, h: i64, m: i64| day(d) as i64 * 1440 + h * 60 + m;
    let who = |at: Option<i64>, pools: &mut BTreeMap<String, PoolState>| {
        let c = batch.route(&w.scheme, 0, day("2026-03-02"), at, pools);
        w.scheme.employees[c[0].employee.unwrap() as usize].id.clone()
    };
    // Monday 2026-03-02 05:59 UTC is 08:59 in Moscow: anna is not at work yet; 06:00 UTC she is.
    let mut pools = BTreeMap::new();
    assert_ne!(who(Some(minute("2026-03-02", 5, 59)), &mut pools), "anna");
    let mut pools = BTreeMap::new();
    assert_eq!(who(Some(minute("2026-03-02", 6, 0)), &mut pools), "anna");
    // Saturday: off all day; a whole-day request (no time) does not look at hours.
    let mut pools = BTreeMap::new();
    assert_ne!(who(Some(minute("2026-03-07", 9, 0)), &mut pools), "anna");
    let mut pools = BTreeMap::new();
    assert_eq!(who(None, &mut pools), "anna");
    // A night shift, 22:00–06:00 UTC on weekdays: Friday 23:30 is on, Saturday 02:00 belongs to
    // Friday's shift, Saturday 23:30 is off.
    let night = WorkingHours { from: 22 * 60, to: 6 * 60, utc_offset: 0, days: 0b0001_1111 };
    assert!(night.at(minute("2026-03-06", 23, 30)));
    assert!(night.at(minute("2026-03-07", 2, 0)));
    assert!(!night.at(minute("2026-03-07", 23, 30)));
    assert!(!night.at(minute("2026-03-06", 12, 0)));
}

#[test]
fn with_catch_up_a_returning_member_makes_up_what_was_missed_at_a_bounded_rate() {
    let mut w = world();
    w.scheme.rules[0].catch_up = 0.5;
    w.employee("anna").absent_from = Some(day("2026-03-02"));
    w.employee("anna").absent_to = Some(day("2026-03-08"));
    let mut pools = BTreeMap::new();
    let away = run(&w, 300, &[(0, "2026-03-02")], &mut pools);
    assert_eq!(away.get("anna"), None);
    let owed = pools["desk"].members["anna"].owed;
    assert!((owed - 150.0).abs() < 1e-6, "half of 300 items were hers: {owed}");
    // Back: more than her share (30 of 60), at most 1.5 times it (45), and the debt shrinks.
    let back = run(&w, 60, &[(0, "2026-03-09")], &mut pools);
    assert!(back["anna"] > 30 && back["anna"] <= 45, "{back:?}");
    assert!(pools["desk"].members["anna"].owed < owed);
    // Once caught up, 3:2:1 again.
    let _ = run(&w, 600, &[(0, "2026-03-09")], &mut pools);
    assert!(pools["desk"].members["anna"].owed < 1e-9);
    let later = run(&w, 60, &[(0, "2026-03-10")], &mut pools);
    assert!((29..=31).contains(&later["anna"]), "{later:?}");
}
