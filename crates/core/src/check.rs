//! What `allot check` finds in a scheme run against the data: rules that can never fire, rules that
//! fired for no client, overlapping territories, employees no rule can reach, and per role how many
//! clients no rule covers (with examples).

use allot_rules::{CmpOp, Cond, TestKind};

use crate::data::{Data, RowRef, Subject};
use crate::diag::Diagnostic;
use crate::engine::{How, Outcome, Reason};
use crate::model::{RoleIx, Scheme, Target};

/// Coverage of one role.
#[derive(Debug, Clone, PartialEq)]
pub struct Coverage {
    pub role: RoleIx,
    pub clients: u64,
    pub assigned: u64,
    /// Why the rest is unassigned: reason text, count, up to three example client rows.
    pub unassigned: Vec<(String, u64, Vec<u32>)>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Review {
    pub findings: Vec<Diagnostic>,
    pub coverage: Vec<Coverage>,
}

/// A reason in words, with the names of employees, territories and attributes.
pub fn reason_text(scheme: &Scheme, data: &Data, r: &Reason) -> String {
    match r {
        Reason::NoRuleMatched => "no rule matched".into(),
        Reason::MissingAttribute(a) => format!("no rule matched; `{}` is missing", RowRef::attr_name(data, *a)),
        Reason::NoTerritory => "the client is in no territory".into(),
        Reason::NoTerritoryOwner(t) => format!("territory {} has no owner for this role", scheme.territories[*t as usize].id),
        Reason::Unavailable(e, why) => {
            format!("{} is {}", scheme.employees[*e as usize].id, why.as_str())
        }
        Reason::PoolExhausted { absent, inactive, full } => {
            let mut parts = Vec::new();
            if *absent > 0 {
                parts.push(format!("{absent} absent"));
            }
            if *inactive > 0 {
                parts.push(format!("{inactive} inactive"));
            }
            if *full > 0 {
                parts.push(format!("{full} at capacity"));
            }
            if parts.is_empty() {
                "the pool has no members".into()
            } else {
                format!("every pool member is unavailable ({})", parts.join(", "))
            }
        }
    }
}

/// Where a rule is written, as a diagnostic's location.
fn at_rule(scheme: &Scheme, d: Diagnostic, origin: Option<(usize, usize)>) -> Diagnostic {
    let d = match &scheme.file {
        Some(f) => d.file(f.clone()),
        None => d,
    };
    match origin {
        Some((l, c)) => d.at(l, c),
        None => d,
    }
}

fn interval(op: CmpOp, v: f64) -> Option<(f64, bool, f64, bool)> {
    // (low, low inclusive, high, high inclusive)
    Some(match op {
        CmpOp::Eq => (v, true, v, true),
        CmpOp::Lt => (f64::NEG_INFINITY, false, v, false),
        CmpOp::Le => (f64::NEG_INFINITY, false, v, true),
        CmpOp::Gt => (v, false, f64::INFINITY, false),
        CmpOp::Ge => (v, true, f64::INFINITY, false),
        CmpOp::Ne => return None,
    })
}

fn within(a: (f64, bool, f64, bool), b: (f64, bool, f64, bool)) -> bool {
    let low = a.0 > b.0 || (a.0 == b.0 && (b.1 || !a.1));
    let high = a.2 < b.2 || (a.2 == b.2 && (b.3 || !a.3));
    low && high
}

/// Whether test `a` being true makes test `b` true (sound, not complete).
fn test_implies(a: &TestKind, b: &TestKind) -> bool {
    use TestKind::*;
    if a == b {
        return true;
    }
    match (a, b) {
        (Missing(_), _) | (_, Missing(false)) => false,
        (_, Missing(true)) => true, // any true test on a value means it is present
        (Truthy, BoolEq(true)) | (BoolEq(true), Truthy) => true,
        (TextEq(x), TextIn(s, false)) => s.contains(x),
        (TextEq(x), TextIn(s, true)) => !s.contains(x),
        (TextEq(x), TextNe(y)) => x != y,
        (TextEq(x), TextContains(y)) => x.contains(y.as_str()),
        (TextIn(s, false), TextIn(t, false)) => s.iter().all(|x| t.contains(x)),
        (TextIn(s, false), TextIn(t, true)) => s.iter().all(|x| !t.contains(x)),
        (TextIn(s, false), TextEq(x)) => !s.is_empty() && s.iter().all(|y| y == x),
        (TextIn(s, false), TextNe(x)) => !s.contains(x),
        (ListContains(x), ListAny(s, false)) => s.contains(x),
        (Number(o1, v1), Number(o2, v2)) => match (interval(*o1, *v1), interval(*o2, *v2)) {
            (Some(i1), Some(i2)) => within(i1, i2),
            (Some(i1), None) => !(i1.0 <= *v2 && *v2 <= i1.2), // x in [a,b] implies x != v outside it
            _ => false,
        },
        (Date(o1, v1), Date(o2, v2)) => match (interval(*o1, *v1 as f64), interval(*o2, *v2 as f64)) {
            (Some(i1), Some(i2)) => within(i1, i2),
            _ => false,
        },
        (NumberIn(s, false), Number(o, v)) => s.iter().all(|x| test_implies(&Number(CmpOp::Eq, *x), &Number(*o, *v))),
        (Number(CmpOp::Eq, v), NumberIn(s, false)) => s.contains(v),
        (NumberIn(s, false), NumberIn(t, false)) => s.iter().all(|x| t.contains(x)),
        _ => false,
    }
}

/// Whether `a` being true makes `b` true, for every record (sound, not complete).
pub fn implies(a: &Cond, b: &Cond) -> bool {
    match (a, b) {
        (_, Cond::Const(true)) | (Cond::Const(false), _) => true,
        (_, Cond::And(bs)) => bs.iter().all(|b| implies(a, b)),
        (Cond::Or(as_), _) => as_.iter().all(|a| implies(a, b)),
        (Cond::And(as_), _) => as_.iter().any(|a| implies(a, b)) || matches!(b, Cond::Or(bs) if bs.iter().any(|b| implies(a, b))),
        (_, Cond::Or(bs)) => bs.iter().any(|b| implies(a, b)),
        (Cond::Test(x), Cond::Test(y)) => x.attr == y.attr && test_implies(&x.kind, &y.kind),
        _ => false,
    }
}

/// Reviews a scheme and its outcome over the data.
pub fn review(scheme: &Scheme, data: &Data, outcome: &Outcome) -> Review {
    let mut findings = Vec::new();
    let mut dead = vec![false; scheme.rules.len()];
    for (i, r) in scheme.rules.iter().enumerate() {
        let shadow = scheme.rules[..i].iter().find(|q| q.role == r.role && q.subject == r.subject && implies(&r.cond, &q.cond));
        if let Some(q) = shadow {
            dead[i] = true;
            let d = Diagnostic::warning(format!(
                "rule `{}` can never fire: every {} it matches is taken first by rule `{}` ({})",
                r.id,
                r.subject.as_str(),
                q.id,
                scheme.roles[r.role].id
            ))
            .help(format!("move `{}` above `{}`, or narrow `{}`", r.id, q.id, q.id));
            findings.push(at_rule(scheme, d, r.origin));
        }
    }
    for (i, r) in scheme.rules.iter().enumerate() {
        if !dead[i] && r.subject == Subject::Client && outcome.rule_hits[i] == 0 {
            let d = Diagnostic::warning(format!("rule `{}` matched no client in this data", r.id));
            findings.push(at_rule(scheme, d, r.origin));
        }
    }
    for &(a, b, n, ex) in &outcome.overlaps {
        let (ta, tb) = (&scheme.territories[a as usize], &scheme.territories[b as usize]);
        let d = Diagnostic::warning(format!(
            "territories `{}` and `{}` overlap: {n} client(s) match both (e.g. {}); they go to `{}`, the first",
            ta.id,
            tb.id,
            data.clients.id(ex),
            ta.id
        ));
        findings.push(at_rule(scheme, d, tb.origin));
    }
    let mut reachable = vec![false; scheme.employees.len()];
    for role in 0..scheme.roles.len() {
        for e in scheme.reachable(role) {
            reachable[e as usize] = true;
        }
    }
    for t in &scheme.territories {
        for (_, e) in &t.owners {
            reachable[*e as usize] = true;
        }
    }
    for (e, emp) in scheme.employees.iter().enumerate() {
        if !reachable[e] && emp.active {
            findings.push(Diagnostic::warning(format!("employee `{}` ({}) is reached by no rule and owns no territory", emp.id, emp.name)));
        }
    }
    for r in &scheme.rules {
        if let Target::Pool { members, .. } = &r.target {
            if members.is_empty() {
                findings.push(at_rule(scheme, Diagnostic::warning(format!("rule `{}` hands out to an empty pool", r.id)), r.origin));
            }
        }
    }

    let nr = outcome.roles.len();
    let coverage = outcome
        .roles
        .iter()
        .enumerate()
        .map(|(k, &role)| {
            let mut by: std::collections::BTreeMap<String, (u64, Vec<u32>)> = Default::default();
            let mut assigned = 0;
            for c in 0..data.clients.len() {
                match &outcome.cells[c * nr + k].how {
                    How::Unassigned(r) => {
                        let e = by.entry(reason_text(scheme, data, r)).or_default();
                        e.0 += 1;
                        if e.1.len() < 3 {
                            e.1.push(c as u32);
                        }
                    }
                    _ => assigned += 1,
                }
            }
            let mut unassigned: Vec<_> = by.into_iter().map(|(k, (n, ex))| (k, n, ex)).collect();
            unassigned.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
            Coverage { role, clients: data.clients.len() as u64, assigned, unassigned }
        })
        .collect();
    Review { findings, coverage }
}

/// The `reason` column of an assignment: how the employee was chosen, or why there is none.
pub fn cell_text(scheme: &Scheme, data: &Data, cell: &crate::engine::Cell) -> String {
    match &cell.how {
        How::Pinned => "pinned".into(),
        How::Sticky => "kept: current owner is still valid".into(),
        How::Fixed => match cell.rule().map(|r| &scheme.rules[r].target) {
            Some(Target::TerritoryOwner) => "territory owner".into(),
            _ => "named by rule".into(),
        },
        How::Pool => match cell.rule().map(|r| &scheme.rules[r].target) {
            Some(Target::Pool { strategy, .. }) => format!("pool: {}", strategy.as_str()),
            _ => "pool".into(),
        },
        How::ViaClient => "the client's employee".into(),
        How::Unassigned(r) => format!("unassigned: {}", reason_text(scheme, data, r)),
    }
}
