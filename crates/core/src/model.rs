//! The validated domain: roles, employees, teams, territories, rules and the scheme that holds them.
//!
//! These types are built once, at the edge (`allot-io` reads the scheme file and the employee
//! file), and are trusted from then on: ids are unique, references resolve, conditions type-check.

use allot_rules::{Cond, Matcher};

use crate::data::{Data, Subject};

/// The five roles of MISSION.md S4.2, always present; a scheme may add its own.
pub const STANDARD_ROLES: [(&str, &str); 5] = [
    ("lead", "Lead acquisition specialist"),
    ("sales", "Sales specialist"),
    ("account", "Account support specialist"),
    ("service", "Service manager"),
    ("admin", "Administrator"),
];

/// A role an employee plays for a client (S4.1); not a job title (S4.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Role {
    pub id: String,
    pub name: String,
}

pub type RoleIx = usize;
pub type EmpIx = u32;

/// An employee, from the employees file.
#[derive(Debug, Clone, PartialEq)]
pub struct Employee {
    pub id: String,
    pub name: String,
    /// The job title, for display only: rules never read it (S4.3).
    pub position: Option<String>,
    pub teams: Vec<String>,
    pub skills: Vec<String>,
    /// The most (client, role) links this employee may hold; `None` is no limit.
    pub capacity: Option<u32>,
    pub active: bool,
    /// Absent on the days from..=to (either end open).
    pub absent_from: Option<i32>,
    pub absent_to: Option<i32>,
    /// Working time, for real-time routing: `None` is any time.
    pub hours: Option<WorkingHours>,
}

/// When an employee takes new items in real time: local hours on working days, at a fixed offset
/// from UTC (Russia keeps no summer time; a zone with one needs its offset updated twice a year).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WorkingHours {
    /// Minutes after local midnight: from (inclusive) to (exclusive); `to < from` runs past midnight.
    pub from: u16,
    pub to: u16,
    /// Minutes east of UTC.
    pub utc_offset: i16,
    /// Working days, bit 0 = Monday.
    pub days: u8,
}

impl WorkingHours {
    /// Whether `minute` (minutes since 1970-01-01 00:00 UTC) is working time.
    pub fn at(&self, minute: i64) -> bool {
        let local = minute + self.utc_offset as i64;
        let (day, m) = (local.div_euclid(1440), local.rem_euclid(1440) as u16);
        // 1970-01-01 was a Thursday (index 3 from Monday); a shift past midnight belongs to the
        // day it started.
        let (weekday, on) = if self.to < self.from && m < self.to {
            ((day - 1 + 3).rem_euclid(7), true)
        } else if self.to < self.from {
            ((day + 3).rem_euclid(7), m >= self.from)
        } else {
            ((day + 3).rem_euclid(7), m >= self.from && m < self.to)
        };
        on && self.days & (1 << weekday) != 0
    }
}

impl Employee {
    pub fn new(id: &str, name: &str) -> Employee {
        Employee {
            id: id.into(),
            name: name.into(),
            position: None,
            teams: vec![],
            skills: vec![],
            capacity: None,
            active: true,
            absent_from: None,
            absent_to: None,
            hours: None,
        }
    }
    pub fn absent_on(&self, day: i32) -> bool {
        if self.absent_from.is_none() && self.absent_to.is_none() {
            return false;
        }
        self.absent_from.is_none_or(|f| f <= day) && self.absent_to.is_none_or(|t| day <= t)
    }
}

/// How a pool hands out clients. Every strategy is deterministic and honours capacity and weights.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    /// The next client goes to the eligible member with the least potential per unit of weight.
    BalancePotential,
    /// The same with workload.
    BalanceWorkload,
    /// The same with the number of clients.
    BalanceCount,
    /// Smooth weighted round-robin in client order.
    RoundRobin,
}

impl Strategy {
    pub const ALL: [(&'static str, Strategy); 4] = [
        ("balance-potential", Strategy::BalancePotential),
        ("balance-workload", Strategy::BalanceWorkload),
        ("balance-count", Strategy::BalanceCount),
        ("round-robin", Strategy::RoundRobin),
    ];
    pub fn parse(s: &str) -> Option<Strategy> {
        Strategy::ALL.iter().find(|(n, _)| *n == s).map(|(_, st)| *st)
    }
    pub fn as_str(self) -> &'static str {
        Strategy::ALL.iter().find(|(_, st)| *st == self).map_or("?", |(n, _)| n)
    }
}

/// One member of a pool with its weight (a part-time member might have 0.5).
#[derive(Debug, Clone, PartialEq)]
pub struct Member {
    pub employee: EmpIx,
    pub weight: f64,
}

/// Who a rule hands its clients to.
#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    Employee(EmpIx),
    Pool {
        members: Vec<Member>,
        strategy: Strategy,
    },
    /// The owner, for the rule's role, of the client's territory (or of its nearest ancestor).
    TerritoryOwner,
}

/// A territory: part of a hierarchy, defined by a condition, with an owner per role.
#[derive(Debug, Clone)]
pub struct Territory {
    /// Where it is written (line, column of the scheme file), for messages.
    pub origin: Option<(usize, usize)>,
    pub id: String,
    pub name: String,
    pub parent: Option<usize>,
    /// The condition's source text, for explanations.
    pub source: String,
    pub cond: Cond,
    pub owners: Vec<(RoleIx, EmpIx)>,
}

/// A rule: for clients (or deals) matching `cond`, `role` goes to `target`.
#[derive(Debug, Clone)]
pub struct Rule {
    /// Where it is written (line, column of the scheme file), for messages.
    pub origin: Option<(usize, usize)>,
    pub id: String,
    pub role: RoleIx,
    pub subject: Subject,
    pub source: String,
    pub cond: Cond,
    pub target: Target,
    /// Real-time routing only: the most items each pool member may take per day, week and month
    /// in this rule's role.
    pub caps: Caps,
    /// Real-time routing only: how fast a member back from an absence (or off duty) catches up
    /// what they missed, as extra share: 0.5 takes up to 1.5 times their share until caught up;
    /// 0 (the default) forgives what was missed.
    pub catch_up: f64,
    /// Real-time routing only: the rule (index) whose target is tried when this one's cannot take
    /// the item.
    pub fallback: Option<usize>,
}

/// Caps on the items a pool member may take in a period; `None` is no limit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Caps {
    pub day: Option<u32>,
    pub week: Option<u32>,
    pub month: Option<u32>,
}

/// Everything a head of sales writes down: roles, teams, territories and rules. Rules are kept in
/// priority order: for each (client, role) the first matching rule wins.
#[derive(Debug, Clone, Default)]
pub struct Scheme {
    pub name: String,
    /// The file it was read from, for messages.
    pub file: Option<String>,
    pub roles: Vec<Role>,
    pub employees: Vec<Employee>,
    pub territories: Vec<Territory>,
    pub rules: Vec<Rule>,
    /// Column holding a client's potential, if any (default `potential`).
    pub potential: Option<String>,
    /// Column holding a client's workload, if any (default `workload`).
    pub workload: Option<String>,
    /// Deal column holding the amount that deal pools balance (default `amount`).
    pub amount: Option<String>,
    /// How sales are credited to the people who held each role (issue #6), if the scheme says.
    pub credit: Option<crate::credit::CreditScheme>,
    /// Employee id → index, made on first lookup (ids never change once the scheme is built).
    employee_index: std::sync::OnceLock<rustc_hash::FxHashMap<String, EmpIx>>,
}

impl Scheme {
    /// A scheme with these employees, the five standard roles, and nothing else yet.
    pub fn new(employees: Vec<Employee>) -> Scheme {
        Scheme {
            roles: STANDARD_ROLES.iter().map(|(id, name)| Role { id: id.to_string(), name: name.to_string() }).collect(),
            employees,
            ..Scheme::default()
        }
    }
    pub fn role(&self, id: &str) -> Option<RoleIx> {
        self.roles.iter().position(|r| r.id == id)
    }
    pub fn employee(&self, id: &str) -> Option<EmpIx> {
        let index =
            self.employee_index.get_or_init(|| self.employees.iter().enumerate().map(|(i, e)| (e.id.clone(), i as EmpIx)).collect());
        index.get(id).copied()
    }
    /// Employees a rule of `role` can hand clients to: named, pool members, territory owners.
    pub fn reachable(&self, role: RoleIx) -> Vec<EmpIx> {
        let mut out = Vec::new();
        for r in self.rules.iter().filter(|r| r.role == role) {
            match &r.target {
                Target::Employee(e) => out.push(*e),
                Target::Pool { members, .. } => out.extend(members.iter().map(|m| m.employee)),
                Target::TerritoryOwner => {
                    out.extend(self.territories.iter().flat_map(|t| t.owners.iter().filter(|o| o.0 == role).map(|o| o.1)))
                }
            }
        }
        out.sort_unstable();
        out.dedup();
        out
    }
    /// Roles that at least one rule assigns, in scheme order: the roles an assignment covers.
    pub fn active_roles(&self) -> Vec<RoleIx> {
        (0..self.roles.len()).filter(|r| self.rules.iter().any(|x| x.role == *r)).collect()
    }
}

/// Conditions of a scheme compiled against one data set.
pub struct Compiled {
    pub rules: Vec<Matcher>,
    pub territories: Vec<Matcher>,
}

impl Compiled {
    pub fn new(scheme: &Scheme, data: &Data) -> Compiled {
        Compiled {
            rules: scheme.rules.iter().map(|r| Matcher::compile(&r.cond, &data.dict)).collect(),
            territories: scheme.territories.iter().map(|t| Matcher::compile(&t.cond, &data.dict)).collect(),
        }
    }
}
