//! "Why is this client Ivanov's?" — the facts behind one client's (or deal's) assignment.
//!
//! Per role: every rule tried in priority order with the value of each test in it, the rule that
//! matched, and how the employee was chosen (pinned, sticky, named, territory owner, or a pool's
//! state at the moment of choice). Rendering is left to the caller.

use allot_rules::{Row, Tri};

use crate::data::{Data, RowRef, Subject};
use crate::engine::{territory_of, Cell, Decision, Outcome, NONE};
use crate::model::{Compiled, RoleIx, Scheme};

/// One test of a rule's condition, as evaluated.
#[derive(Debug, Clone, PartialEq)]
pub struct TestTrace {
    /// The test as written, e.g. `region == "RU-MOW"`.
    pub text: String,
    pub value: Tri,
    pub attribute: String,
    /// The attribute's value in the record, `None` if missing.
    pub actual: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Trial {
    pub rule: usize,
    pub result: Tri,
    pub tests: Vec<TestTrace>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RoleWhy {
    pub role: RoleIx,
    pub trials: Vec<Trial>,
    pub cell: Cell,
    pub decision: Option<Decision>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Explanation {
    pub client: u32,
    pub deal: Option<u32>,
    /// Territories from the root down to the client's own.
    pub territories: Vec<usize>,
    pub roles: Vec<RoleWhy>,
}

/// Every rule of `role` for `subject` tried in order until one matches.
pub fn trials(scheme: &Scheme, compiled: &Compiled, data: &Data, row: &RowRef<'_>, role: RoleIx, subject: Subject) -> Vec<Trial> {
    let mut out = Vec::new();
    for (i, rule) in scheme.rules.iter().enumerate() {
        if rule.role != role || rule.subject != subject {
            continue;
        }
        let (result, trace) = compiled.rules[i].trace(row);
        let tests = rule.cond.tests();
        let tests = trace
            .into_iter()
            .map(|(span, value)| {
                let test = tests.iter().find(|t| t.span == span);
                let attr = test.map(|t| t.attr);
                TestTrace {
                    text: rule.source.get(span.start..span.end).unwrap_or("?").to_string(),
                    value,
                    attribute: test.map(|t| t.name.clone()).unwrap_or_default(),
                    actual: attr.and_then(|a| display(data, row, a)),
                }
            })
            .collect();
        out.push(Trial { rule: i, result, tests });
        if result == Tri::True {
            break;
        }
    }
    out
}

fn display(data: &Data, row: &RowRef<'_>, a: allot_rules::AttrId) -> Option<String> {
    if !row.present(a) {
        return None;
    }
    if let Some(n) = row.number(a) {
        return Some(crate::data::fmt_number(n));
    }
    if let Some(s) = row.text_str(a) {
        return Some(s.to_string());
    }
    if let Some(b) = row.boolean(a) {
        return Some(b.to_string());
    }
    if let Some(d) = row.date(a) {
        return Some(allot_rules::civil_from_days(d));
    }
    row.list(a).map(|l| l.iter().map(|s| data.dict.str(*s)).collect::<Vec<_>>().join(";"))
}

/// The territory chain of a client, root first.
pub fn territory_chain(scheme: &Scheme, t: u32) -> Vec<usize> {
    let mut chain = Vec::new();
    let mut t = t;
    while t != NONE {
        chain.push(t as usize);
        t = scheme.territories[t as usize].parent.map_or(NONE, |p| p as u32);
    }
    chain.reverse();
    chain
}

/// Explains a client from an outcome computed with `Options::watch` set to it.
pub fn explain_client(scheme: &Scheme, compiled: &Compiled, data: &Data, outcome: &Outcome, client: u32) -> Explanation {
    let row = RowRef { data, client, deal: None };
    let (t, _) = territory_of(scheme, compiled, &row);
    let roles = outcome
        .roles
        .iter()
        .enumerate()
        .map(|(k, &role)| RoleWhy {
            role,
            trials: trials(scheme, compiled, data, &row, role, Subject::Client),
            cell: *outcome.cell(client, k),
            decision: outcome.watch.iter().find(|d| d.role == role).cloned(),
        })
        .collect();
    Explanation { client, deal: None, territories: territory_chain(scheme, t), roles }
}

/// Explains a deal from a deal outcome computed with its `watch_deal` set to it.
pub fn explain_deal(
    scheme: &Scheme,
    compiled: &Compiled,
    data: &Data,
    clients: &Outcome,
    deals: &crate::deals::DealOutcome,
    deal: u32,
) -> Explanation {
    let client = data.deal_client[deal as usize];
    let row = RowRef { data, client, deal: Some(deal) };
    let (t, _) = territory_of(scheme, compiled, &row);
    let roles = deals
        .roles
        .iter()
        .enumerate()
        .map(|(k, &role)| {
            let mut tr = trials(scheme, compiled, data, &row, role, Subject::Deal);
            let matched = tr.last().is_some_and(|t| t.result == Tri::True);
            if !matched {
                tr.extend(trials(scheme, compiled, data, &RowRef { deal: None, ..row }, role, Subject::Client));
            }
            let cell = *deals.cell(deal, k);
            let decision = if matched {
                deals.watch.iter().find(|d| d.role == role).cloned()
            } else {
                clients.watch.iter().find(|d| d.role == role).cloned()
            };
            RoleWhy { role, trials: tr, cell, decision }
        })
        .collect();
    Explanation { client, deal: Some(deal), territories: territory_chain(scheme, t), roles }
}
