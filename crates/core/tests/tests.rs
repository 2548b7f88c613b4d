//! Engine tests: small worlds written inline, concrete owners asserted.

#![allow(clippy::unwrap_used)] // tests stop at the first surprise

use allot_core::data::{Data, DataSchema, Subject, Table, Value};
use allot_core::engine::{CurrentLink, How, Options, Outcome, Reason, Unavailable};
use allot_core::model::{Compiled, Employee, Member, Rule, Scheme, Strategy, Target, Territory};
use allot_rules::Type;

#[path = "suite/architecture.rs"]
mod architecture;
#[path = "suite/check.rs"]
mod check;
#[path = "suite/credit.rs"]
mod credit;
#[path = "suite/props.rs"]
mod props;
#[path = "suite/route.rs"]
mod route;

/// A world: clients from a tiny table format, employees by id.
/// Header cells are `name:type`; `-` is a missing cell; lists use `;`.
pub struct World {
    pub data: Data,
    pub scheme: Scheme,
}

pub fn clients(spec: &str) -> Data {
    let mut lines = spec.trim().lines().map(str::trim);
    let header: Vec<(String, Type)> = lines
        .next()
        .unwrap()
        .split(',')
        .skip(1)
        .map(|h| {
            let (n, t) = h.split_once(':').unwrap();
            (n.to_string(), Type::parse(t).unwrap())
        })
        .collect();
    let mut data = Data::default();
    let mut t = Table::new(&header);
    for l in lines {
        let cells: Vec<&str> = l.split(',').collect();
        let vals: Vec<Value<'_>> = cells[1..]
            .iter()
            .zip(&header)
            .map(|(c, (_, ty))| match (*c, ty) {
                ("-", _) => Value::Missing,
                (c, Type::Number) => Value::Number(c.parse().unwrap()),
                (c, Type::Bool) => Value::Bool(c == "true"),
                (c, Type::Date) => Value::Date(allot_rules::parse_iso_date(c).unwrap()),
                (c, Type::List) => Value::List(c.split(';').collect()),
                (c, Type::Text) => Value::Text(c),
            })
            .collect();
        t.push(cells[0], vals, &mut data.dict, &mut data.lists).unwrap();
    }
    data.clients = t;
    data
}

impl World {
    pub fn new(spec: &str, employees: &[&str]) -> World {
        let data = clients(spec);
        let scheme = Scheme::new(employees.iter().map(|e| Employee::new(e, e)).collect());
        World { data, scheme }
    }
    pub fn emp(&self, id: &str) -> u32 {
        self.scheme.employee(id).unwrap()
    }
    pub fn employee(&mut self, id: &str) -> &mut Employee {
        let e = self.emp(id) as usize;
        &mut self.scheme.employees[e]
    }
    pub fn pool(&self, ids: &[(&str, f64)], strategy: Strategy) -> Target {
        Target::Pool { members: ids.iter().map(|(i, w)| Member { employee: self.emp(i), weight: *w }).collect(), strategy }
    }
    pub fn rule(&mut self, id: &str, role: &str, cond: &str, target: Target) -> &mut Self {
        self.rule_on(id, role, Subject::Client, cond, target)
    }
    pub fn rule_on(&mut self, id: &str, role: &str, subject: Subject, cond: &str, target: Target) -> &mut Self {
        let c = allot_rules::compile_text(cond, &DataSchema { data: &self.data, subject }).unwrap_or_else(|e| panic!("{cond}: {e:?}"));
        let role = self.scheme.role(role).unwrap();
        self.scheme.rules.push(Rule {
            origin: None,
            id: id.into(),
            role,
            subject,
            source: cond.into(),
            cond: c,
            target,
            caps: Default::default(),
            catch_up: 0.0,
            fallback: None,
        });
        self
    }
    pub fn territory(&mut self, id: &str, parent: Option<&str>, cond: &str, owners: &[(&str, &str)]) -> &mut Self {
        let c = allot_rules::compile_text(cond, &DataSchema { data: &self.data, subject: Subject::Client }).unwrap();
        let parent = parent.map(|p| self.scheme.territories.iter().position(|t| t.id == p).unwrap());
        let owners = owners.iter().map(|(r, e)| (self.scheme.role(r).unwrap(), self.emp(e))).collect();
        self.scheme.territories.push(Territory {
            origin: None,
            id: id.into(),
            name: id.into(),
            parent,
            source: cond.into(),
            cond: c,
            owners,
        });
        self
    }
    pub fn run(&self, current: &[CurrentLink], opts: &Options) -> Outcome {
        let compiled = Compiled::new(&self.scheme, &self.data);
        allot_core::assign(&self.scheme, &compiled, &self.data, current, opts)
    }
    /// `client:role` → employee id, or `-reason` for unassigned.
    pub fn owner(&self, o: &Outcome, client: &str, role: &str) -> String {
        let c = self.data.clients.row_of(client).unwrap();
        let k = o.roles.iter().position(|&r| r == self.scheme.role(role).unwrap()).unwrap();
        let cell = o.cell(c, k);
        match cell.employee() {
            Some(e) => self.scheme.employees[e as usize].id.clone(),
            None => format!("-{}", allot_core::check::cell_text(&self.scheme, &self.data, cell)),
        }
    }
    pub fn owners(&self, o: &Outcome, role: &str) -> Vec<String> {
        (0..self.data.clients.len() as u32).map(|c| self.owner(o, self.data.clients.id(c), role)).collect()
    }
    pub fn current(&self, links: &[(&str, &str, &str, bool)]) -> Vec<CurrentLink> {
        links
            .iter()
            .map(|(c, r, e, pinned)| CurrentLink {
                client: self.data.clients.row_of(c).unwrap(),
                role: self.scheme.role(r).unwrap(),
                employee: self.emp(e),
                pinned: *pinned,
            })
            .collect()
    }
}

fn day(s: &str) -> i32 {
    allot_rules::parse_iso_date(s).unwrap()
}

const TEN: &str = "
    id,region:text,potential:number,significance:text
    c1,RU-MOW,100,vip
    c2,RU-MOW,90,regular
    c3,RU-TA,80,regular
    c4,RU-TA,70,vip
    c5,RU-SPE,60,regular
    c6,RU-SPE,50,regular
    c7,RU-MOW,40,regular
    c8,-,30,regular
    c9,RU-TA,20,regular
    c10,RU-SPE,10,regular";

#[test]
fn first_matching_rule_in_priority_order_wins() {
    let mut w = World::new(TEN, &["vip", "moscow", "rest"]);
    let (vip, mow, rest) = (Target::Employee(w.emp("vip")), Target::Employee(w.emp("moscow")), Target::Employee(w.emp("rest")));
    w.rule("vip", "sales", r#"significance == "vip""#, vip)
        .rule("moscow", "sales", r#"region == "RU-MOW""#, mow)
        .rule("rest", "sales", "true", rest);
    let o = w.run(&[], &Options::default());
    assert_eq!(w.owners(&o, "sales"), ["vip", "moscow", "rest", "vip", "rest", "rest", "moscow", "rest", "rest", "rest"]);
}

#[test]
fn a_client_no_rule_covers_is_unassigned_with_the_missing_attribute_named() {
    let mut w = World::new(TEN, &["a"]);
    let t = Target::Employee(w.emp("a"));
    w.rule("regions", "sales", r#"region in ["RU-MOW", "RU-TA"]"#, t);
    let o = w.run(&[], &Options::default());
    assert_eq!(w.owner(&o, "c5", "sales"), "-unassigned: no rule matched");
    assert_eq!(w.owner(&o, "c8", "sales"), "-unassigned: no rule matched; `region` is missing");
    assert_eq!(o.cell(7, 0).how, How::Unassigned(Reason::MissingAttribute(allot_rules::AttrId(0))));
}

#[test]
fn balance_by_potential_gives_equal_potential_to_equal_weights() {
    let mut w = World::new(TEN, &["a", "b"]);
    let p = w.pool(&[("a", 1.0), ("b", 1.0)], Strategy::BalancePotential);
    w.rule("pool", "sales", "true", p);
    let o = w.run(&[], &Options::default());
    // Largest first to the least loaded, ties by id: the spread ends below the smallest client.
    let owners = w.owners(&o, "sales");
    let pot = |who: &str| -> f64 {
        owners.iter().zip([100., 90., 80., 70., 60., 50., 40., 30., 20., 10.]).filter(|(o, _)| *o == who).map(|(_, p)| p).sum()
    };
    assert_eq!((pot("a"), pot("b")), (280.0, 270.0));
    assert_eq!(owners[0], "a");
    assert_eq!(owners[1], "b");
}

#[test]
fn balance_honours_weights() {
    let mut w = World::new(TEN, &["full", "half"]);
    let p = w.pool(&[("full", 2.0), ("half", 1.0)], Strategy::BalanceCount);
    w.rule("pool", "sales", "true", p);
    let o = w.run(&[], &Options::default());
    let owners = w.owners(&o, "sales");
    assert_eq!(owners.iter().filter(|o| *o == "full").count(), 7);
    assert_eq!(owners.iter().filter(|o| *o == "half").count(), 3);
}

#[test]
fn balance_by_workload_uses_the_workload_column() {
    let mut w = World::new(
        "id,workload:number
         c1,9
         c2,1
         c3,1
         c4,1
         c5,1",
        &["a", "b"],
    );
    let p = w.pool(&[("a", 1.0), ("b", 1.0)], Strategy::BalanceWorkload);
    w.rule("pool", "service", "true", p);
    let o = w.run(&[], &Options::default());
    assert_eq!(w.owners(&o, "service"), ["a", "b", "b", "b", "b"]);
}

#[test]
fn round_robin_is_smooth_and_weighted_in_client_order() {
    let mut w = World::new(TEN, &["a", "b", "c"]);
    let p = w.pool(&[("a", 3.0), ("b", 2.0), ("c", 1.0)], Strategy::RoundRobin);
    w.rule("pool", "lead", "true", p);
    let o = w.run(&[], &Options::default());
    // Smooth weighted round-robin 3:2:1 never gives one member a long streak.
    assert_eq!(w.owners(&o, "lead"), ["a", "b", "a", "c", "b", "a", "a", "b", "a", "c"]);
}

#[test]
fn capacity_is_never_exceeded_and_overflow_goes_to_the_rest() {
    let mut w = World::new(TEN, &["a", "b"]);
    w.employee("a").capacity = Some(2);
    let p = w.pool(&[("a", 1.0), ("b", 1.0)], Strategy::BalanceCount);
    w.rule("pool", "sales", "true", p);
    let o = w.run(&[], &Options::default());
    let owners = w.owners(&o, "sales");
    assert_eq!(owners.iter().filter(|o| *o == "a").count(), 2);
    assert_eq!(owners.iter().filter(|o| *o == "b").count(), 8);
}

#[test]
fn a_full_pool_leaves_clients_unassigned_with_the_reason() {
    let mut w = World::new(TEN, &["a", "b"]);
    w.employee("a").capacity = Some(1);
    w.employee("b").active = false;
    let p = w.pool(&[("a", 1.0), ("b", 1.0)], Strategy::RoundRobin);
    w.rule("pool", "sales", "true", p);
    let o = w.run(&[], &Options::default());
    assert_eq!(w.owner(&o, "c1", "sales"), "a");
    assert_eq!(w.owner(&o, "c2", "sales"), "-unassigned: every pool member is unavailable (1 inactive, 1 at capacity)");
}

#[test]
fn absent_employees_get_nothing_new_but_keep_what_they_hold() {
    let mut w = World::new(TEN, &["a", "b"]);
    w.employee("a").absent_from = Some(day("2026-11-20"));
    w.employee("a").absent_to = Some(day("2026-12-05"));
    let p = w.pool(&[("a", 1.0), ("b", 1.0)], Strategy::BalanceCount);
    w.rule("pool", "sales", "true", p);
    let current = w.current(&[("c3", "sales", "a", false)]);
    let o = w.run(&current, &Options { today: day("2026-11-27"), ..Options::default() });
    let owners = w.owners(&o, "sales");
    assert_eq!(owners[2], "a", "sticky client stays with the absent owner");
    assert_eq!(owners.iter().filter(|o| *o == "a").count(), 1);
    // After the absence she is back in the pool.
    let o = w.run(&[], &Options { today: day("2026-12-06"), ..Options::default() });
    assert_eq!(w.owners(&o, "sales").iter().filter(|o| *o == "a").count(), 5);
}

#[test]
fn an_absent_named_employee_leaves_the_client_unassigned_with_the_reason() {
    let mut w = World::new(TEN, &["a"]);
    w.employee("a").absent_from = Some(day("2026-11-01"));
    let t = Target::Employee(w.emp("a"));
    w.rule("all", "sales", "true", t);
    let o = w.run(&[], &Options { today: day("2026-11-27"), ..Options::default() });
    assert_eq!(o.cell(0, 0).how, How::Unassigned(Reason::Unavailable(0, Unavailable::Absent)));
    assert_eq!(w.owner(&o, "c1", "sales"), "-unassigned: a is absent");
}

#[test]
fn sticky_clients_keep_a_still_valid_owner_and_rebalance_reshuffles() {
    let mut w = World::new(TEN, &["a", "b", "z"]);
    let p = w.pool(&[("a", 1.0), ("b", 1.0)], Strategy::BalancePotential);
    w.rule("pool", "sales", "true", p);
    // Last year everything was a's; z is not in the pool any more.
    let links: Vec<(&str, &str, &str, bool)> = vec![("c1", "sales", "a", false), ("c2", "sales", "a", false), ("c3", "sales", "z", false)];
    let current = w.current(&links);
    let o = w.run(&current, &Options::default());
    assert_eq!(w.owner(&o, "c1", "sales"), "a");
    assert_eq!(w.owner(&o, "c2", "sales"), "a");
    assert_ne!(w.owner(&o, "c3", "sales"), "z", "z is no longer a valid target");
    assert_eq!(o.cell(0, 0).how, How::Sticky);
    // a holds 190 already, so the free clients lean to b.
    assert_eq!(w.owner(&o, "c3", "sales"), "b");
    let o = w.run(&current, &Options { rebalance: true, ..Options::default() });
    assert_eq!(w.owner(&o, "c2", "sales"), "b", "rebalance ignores current owners");
}

#[test]
fn pinned_links_are_never_changed_by_rules() {
    let mut w = World::new(TEN, &["a", "b", "outsider"]);
    let t = Target::Employee(w.emp("a"));
    w.rule("all", "sales", "true", t);
    let current = w.current(&[("c4", "sales", "outsider", true)]);
    for rebalance in [false, true] {
        let o = w.run(&current, &Options { rebalance, ..Options::default() });
        assert_eq!(w.owner(&o, "c4", "sales"), "outsider");
        assert_eq!(o.cell(3, 0).how, How::Pinned);
    }
}

#[test]
fn territory_owner_is_found_up_the_hierarchy() {
    let mut w = World::new(TEN, &["head", "kazan", "svc"]);
    w.territory("russia", None, "true", &[("sales", "head"), ("service", "svc")]).territory(
        "tatarstan",
        Some("russia"),
        r#"region == "RU-TA""#,
        &[("sales", "kazan")],
    );
    w.rule("by-territory", "sales", "true", Target::TerritoryOwner).rule("svc", "service", "true", Target::TerritoryOwner);
    let o = w.run(&[], &Options::default());
    assert_eq!(w.owner(&o, "c3", "sales"), "kazan");
    assert_eq!(w.owner(&o, "c1", "sales"), "head");
    assert_eq!(w.owner(&o, "c3", "service"), "svc", "tatarstan has no service owner: its parent's");
    assert_eq!(o.territory_of(2), 1);
}

#[test]
fn a_client_outside_every_territory_is_unassigned_with_the_reason() {
    let mut w = World::new(TEN, &["kazan"]);
    w.territory("tatarstan", None, r#"region == "RU-TA""#, &[("sales", "kazan")]);
    w.rule("by-territory", "sales", "true", Target::TerritoryOwner);
    let o = w.run(&[], &Options::default());
    assert_eq!(w.owner(&o, "c1", "sales"), "-unassigned: the client is in no territory");
}

#[test]
fn several_roles_give_a_client_several_responsible_people() {
    // S4.1: a sales manager and a service engineer for every client.
    let mut w = World::new(TEN, &["s1", "s2", "e1"]);
    let p = w.pool(&[("s1", 1.0), ("s2", 1.0)], Strategy::BalancePotential);
    let e = Target::Employee(w.emp("e1"));
    w.rule("sales", "sales", "true", p).rule("service", "service", "true", e);
    let o = w.run(&[], &Options::default());
    assert_eq!(o.roles.len(), 2);
    for c in 0..10 {
        assert!(o.cell(c, 0).employee().is_some() && o.cell(c, 1).employee() == Some(w.emp("e1")));
    }
}

#[test]
fn the_same_input_gives_the_same_output() {
    let mut w = World::new(TEN, &["a", "b", "c"]);
    let p = w.pool(&[("c", 1.0), ("a", 1.0), ("b", 1.0)], Strategy::BalancePotential);
    w.rule("pool", "sales", "true", p);
    let a = w.run(&[], &Options::default());
    let b = w.run(&[], &Options::default());
    assert_eq!(a.cells, b.cells);
}

#[test]
fn deal_rules_see_the_deal_and_its_client() {
    // S4.4: the phone desk sells to one-off clients under 1000 and administers every other deal.
    let mut w = World::new(
        "id,kind:text
         k1,one-off
         k2,regular",
        &["desk", "manager"],
    );
    let deals_cols = vec![("amount".to_string(), Type::Number)];
    let mut deals = Table::new(&deals_cols);
    for (id, amount) in [("d1", 450.0), ("d2", 12_500.0), ("d3", 999.0)] {
        deals.push(id, vec![Value::Number(amount)], &mut w.data.dict, &mut w.data.lists).unwrap();
    }
    w.data.deals = deals;
    w.data.deal_client = vec![0, 0, 1];
    let (desk, mgr) = (Target::Employee(w.emp("desk")), Target::Employee(w.emp("manager")));
    w.rule_on("desk-sells", "sales", Subject::Deal, r#"client.kind == "one-off" and amount < 1000"#, desk.clone())
        .rule_on("desk-admin", "admin", Subject::Deal, r#"not (client.kind == "one-off" and amount < 1000)"#, desk)
        .rule("managers", "sales", "true", mgr);
    let compiled = Compiled::new(&w.scheme, &w.data);
    let o = allot_core::assign(&w.scheme, &compiled, &w.data, &[], &Options::default());
    let d = allot_core::deals::assign_deals(&w.scheme, &compiled, &w.data, &o, 0, None);
    let who = |deal: u32, role: &str| {
        let k = d.roles.iter().position(|&r| r == w.scheme.role(role).unwrap()).unwrap();
        d.cell(deal, k).employee().map(|e| w.scheme.employees[e as usize].id.clone())
    };
    assert_eq!(who(0, "sales").as_deref(), Some("desk"));
    assert_eq!(who(0, "admin"), None);
    assert_eq!(who(1, "sales").as_deref(), Some("manager"), "falls back to the client's seller");
    assert_eq!(who(1, "admin").as_deref(), Some("desk"));
    assert_eq!(who(2, "sales").as_deref(), Some("manager"), "a regular client is not one-off");
    assert_eq!(who(2, "admin").as_deref(), Some("desk"));
}

#[test]
fn equal_territory_signatures_are_evaluated_once() {
    let mut w = World::new(TEN, &["a", "b"]);
    w.territory("big", None, "potential > 50", &[("sales", "a")]).territory("rest", None, "potential <= 50", &[("sales", "b")]);
    w.rule("by-territory", "sales", "true", Target::TerritoryOwner);
    let o = w.run(&[], &Options::default());
    assert_eq!(o.signatures, 3, "three classes of potential: below 50, exactly 50, above 50");
    assert_eq!(w.owner(&o, "c5", "sales"), "a");
    assert_eq!(w.owner(&o, "c6", "sales"), "b");
}

#[test]
fn a_role_with_more_rules_than_the_summaries_cover_still_finds_the_first_match() {
    // 17,000 rules that match nobody come first: this takes the lead-word walk of the index.
    let mut w = World::new(TEN, &["nobody", "kazan", "moscow", "rest"]);
    for i in 0..17_000 {
        let t = Target::Employee(w.emp("nobody"));
        w.rule(&format!("r{i}"), "sales", &format!(r#"region == "RU-X{}" and potential > {}"#, i % 5, i % 7), t);
    }
    let (k, m, r) = (Target::Employee(w.emp("kazan")), Target::Employee(w.emp("moscow")), Target::Employee(w.emp("rest")));
    w.rule("kazan", "sales", r#"region == "RU-TA" and potential >= 20"#, k)
        .rule("moscow", "sales", r#"region == "RU-MOW""#, m)
        .rule("rest", "sales", "true", r);
    let o = w.run(&[], &Options::default());
    assert_eq!(w.owners(&o, "sales"), ["moscow", "moscow", "kazan", "kazan", "rest", "rest", "moscow", "rest", "kazan", "rest"]);
}

#[test]
fn a_table_typed_on_its_own_and_adopted_numbers_its_values_as_if_typed_in_place() {
    // Issue #19: deals are typed on a second core with a dictionary of their own; adopted after
    // the clients, every symbol and list must be what typing them in place would have given.
    let client_cols = [("city".to_string(), Type::Text), ("products".to_string(), Type::List)];
    let deal_cols = [("stage".to_string(), Type::Text), ("lines".to_string(), Type::List), ("amount".to_string(), Type::Number)];
    let clients = [("c1", "Казань", vec!["сети", "ПО"]), ("c2", "Москва", vec!["ПО"])];
    let deals = [
        ("d1", Some("won"), vec!["ПО", "новое"], 10.0),
        ("d2", None, vec![], 20.0),
        ("d3", Some("Казань"), vec!["новое", "ПО"], 30.0),
        ("d4", Some("lost"), vec!["сети"], 40.0),
    ];
    let type_clients = |d: &mut Data| {
        let mut t = Table::new(&client_cols);
        for (id, city, products) in &clients {
            t.push(id, vec![Value::Text(city), Value::List(products.clone())], &mut d.dict, &mut d.lists).unwrap();
        }
        t
    };
    let type_deals = |d: &mut Data| {
        let mut t = Table::new(&deal_cols);
        for (id, stage, lines, amount) in &deals {
            let stage = stage.map_or(Value::Missing, Value::Text);
            let lines = if lines.is_empty() { Value::Missing } else { Value::List(lines.clone()) };
            t.push(id, vec![stage, lines, Value::Number(*amount)], &mut d.dict, &mut d.lists).unwrap();
        }
        t
    };
    let mut in_place = Data::default();
    in_place.clients = type_clients(&mut in_place);
    in_place.deals = type_deals(&mut in_place);

    let mut own = Data::default();
    let mut apart = type_deals(&mut own);
    let mut data = Data::default();
    data.clients = type_clients(&mut data);
    apart.adopt(&own.dict, &own.lists, &mut data.dict, &mut data.lists);

    let texts = |d: &Data| (0..d.dict.len() as u32).map(|s| d.dict.str(s).to_string()).collect::<Vec<_>>();
    assert_eq!(texts(&data), texts(&in_place));
    assert_eq!(data.lists.len(), in_place.lists.len());
    for row in 0..deals.len() as u32 {
        assert_eq!(apart.text(0, row), in_place.deals.text(0, row), "stage of row {row}");
        let list = |t: &Table, d: &Data| t.list_id(1, row).map(|l| d.lists.get(l).to_vec());
        assert_eq!(list(&apart, &data), list(&in_place.deals, &in_place), "lines of row {row}");
        assert_eq!(apart.number(2, row), in_place.deals.number(2, row));
    }
    // The adopted table's codes still find their symbols: `won` is one value, `Казань` the clients'.
    assert_eq!(apart.text(0, 2), data.dict.get("Казань"));
    assert_eq!(apart.text(0, 1), None);
}
