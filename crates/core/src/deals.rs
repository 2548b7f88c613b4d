//! Responsibility for deals (orders, leads): deal rules first, then the client's own employee.
//!
//! A deal rule's condition reads the deal's attributes and its client's (`client.region`). This is
//! how the phone desk of MISSION.md S4.4 is written: the desk employee is the *seller* of deals of
//! one-off clients under 1000, and the *administrator* of every other deal. For a role where no
//! deal rule matches, the deal takes its client's employee for that role.

use allot_rules::Tri;

use crate::data::{Data, RowRef, Subject};
use crate::engine::{
    id_ranks, missing_reason, sort_desc, territory_owner, unavailable, Cell, Decision, How, Loads, Outcome, Pool, PoolItem, Reason, NONE,
};
use crate::model::{Compiled, RoleIx, Scheme, Strategy, Target};

/// Deal cells, `deals × roles`, deal-major.
#[derive(Debug, Clone)]
pub struct DealOutcome {
    pub roles: Vec<RoleIx>,
    pub cells: Vec<Cell>,
    pub watch: Vec<Decision>,
}

impl DealOutcome {
    pub fn cell(&self, deal: u32, k: usize) -> &Cell {
        &self.cells[deal as usize * self.roles.len() + k]
    }
}

/// Deal amounts (missing = 0), from the scheme's amount column.
pub fn amounts(scheme: &Scheme, data: &Data) -> Vec<f64> {
    let t = &data.deals;
    match t.column_index(scheme.amount.as_deref().unwrap_or("amount")) {
        Some(c) => (0..t.len() as u32).map(|r| t.number(c, r).unwrap_or(0.0)).collect(),
        None => vec![0.0; t.len()],
    }
}

/// Assigns every deal for every role that any rule covers. `clients` is the client outcome.
pub fn assign_deals(
    scheme: &Scheme,
    compiled: &Compiled,
    data: &Data,
    clients: &Outcome,
    today: i32,
    watch_deal: Option<u32>,
) -> DealOutcome {
    let roles = scheme.active_roles();
    let nr = roles.len();
    let n = data.deals.len();
    let mut cells = vec![Cell { employee: NONE, rule: NONE, how: How::Unassigned(Reason::NoRuleMatched) }; n * nr];
    let amount = amounts(scheme, data);
    let mut loads = Loads::new(scheme, today, nr, false);
    let mut pool_items: Vec<Vec<PoolItem>> = vec![Vec::new(); scheme.rules.len()];
    let deal_rules: Vec<Vec<usize>> = roles
        .iter()
        .map(|&role| {
            (0..scheme.rules.len()).filter(|&r| scheme.rules[r].role == role && scheme.rules[r].subject == Subject::Deal).collect()
        })
        .collect();

    for d in 0..n as u32 {
        let c = data.deal_client[d as usize];
        let row = RowRef { data, client: c, deal: Some(d) };
        for (k, &role) in roles.iter().enumerate() {
            let i = d as usize * nr + k;
            let hit = deal_rules[k].iter().copied().find(|&r| compiled.rules[r].eval(&row) == Tri::True);
            let Some(r) = hit else {
                cells[i] = match clients.roles.iter().position(|&x| x == role) {
                    Some(ck) => {
                        let cc = *clients.cell(c, ck);
                        match cc.how {
                            How::Unassigned(_) => cc,
                            _ => Cell { how: How::ViaClient, ..cc },
                        }
                    }
                    None => Cell {
                        employee: NONE,
                        rule: NONE,
                        how: How::Unassigned(missing_reason(scheme, compiled, role, Subject::Deal, &row)),
                    },
                };
                continue;
            };
            let fixed = match &scheme.rules[r].target {
                Target::Employee(e) => Ok(*e),
                Target::TerritoryOwner => match clients.territory_of(c) {
                    NONE => Err(Reason::NoTerritory),
                    t => territory_owner(scheme, t, role).ok_or(Reason::NoTerritoryOwner(t)),
                },
                Target::Pool { .. } => {
                    pool_items[r].push(PoolItem { id: d, pos: 0, pot: amount[d as usize], work: 1.0 });
                    continue;
                }
            };
            cells[i] = match fixed.and_then(|e| match unavailable(&loads, e) {
                None => Ok(e),
                Some(why) => Err(Reason::Unavailable(e, why)),
            }) {
                Ok(e) => {
                    loads.add(e, k, amount[d as usize], 1.0);
                    Cell { employee: e, rule: r as u32, how: How::Fixed }
                }
                Err(reason) => Cell { employee: NONE, rule: r as u32, how: How::Unassigned(reason) },
            };
        }
    }

    let rank = id_ranks(scheme);
    let mut watch = Vec::new();
    for (r, items) in pool_items.iter_mut().enumerate() {
        let rule = &scheme.rules[r];
        let Target::Pool { members, strategy } = &rule.target else {
            continue;
        };
        if *strategy != Strategy::RoundRobin && *strategy != Strategy::BalanceCount {
            sort_desc(items, |i| i.pot);
        }
        let k = roles.iter().position(|&x| x == rule.role).expect("rule roles are covered");
        let pool = Pool { members, strategy: *strategy, k, role: rule.role, rule: r, rank: &rank };
        pool.run(items, &mut loads, watch_deal, &mut watch, |item, res| {
            cells[item.id as usize * nr + k] = match res {
                Ok(e) => Cell { employee: e, rule: r as u32, how: How::Pool },
                Err(reason) => Cell { employee: NONE, rule: r as u32, how: How::Unassigned(reason) },
            };
        });
    }
    DealOutcome { roles, cells, watch }
}
