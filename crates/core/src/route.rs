//! Real-time routing of one item (a lead, a new client) as it arrives: for every role, the
//! employee, the rule that decided, and why.
//!
//! Pools route by **weighted fair share**: every eligible member's entitlement grows by their
//! share of each item (weight ÷ the eligible members' total weight, times the item's measure: 1
//! for counting strategies, the potential or workload for the balancing ones), and the item goes
//! to the member furthest below their entitlement; ties go to the member who has waited longest,
//! then to the lower employee id. Absent, inactive, off-duty (outside their working hours, when
//! the time of the item is known) and capped members are not eligible and earn no entitlement
//! meanwhile, so nobody comes back to a flood; with the rule's `catch_up` (say 0.5), what they
//! missed is made up at most that much faster than their share (1.5 times) until it is. A member's caps per day, week and month
//! (the rule's `caps`) are kept. When a rule's target cannot take the item, the rule's `fallback`
//! is tried, and so on; at the end of the chain the role stays unassigned with the reason.
//!
//! The state of each pool ([`PoolState`]) is the caller's to load and keep; everything here is
//! deterministic in the sequence of items.

use std::collections::BTreeMap;

use allot_i18n::{Lang, Message};

use crate::data::{Data, RowRef};
use crate::engine::{client_roles, id_ranks, match_rules, measures, territory_of, territory_owner, NONE};
use crate::model::{Compiled, EmpIx, RoleIx, Scheme, Strategy, Target};

/// One pool member's counters.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MemberState {
    pub employee: String,
    /// Items received, ever.
    pub items: u64,
    /// Measure received (items, potential or workload, as the rule balances).
    pub received: f64,
    /// Measure the member was entitled to while eligible.
    pub entitled: f64,
    /// The pool's sequence number of the last item received (0: never).
    pub last_seq: u64,
    /// Measure missed while away (absent or off duty), still to catch up (with the rule's
    /// `catch_up`).
    pub owed: f64,
    /// Items in the current day, week (Monday-based) and month, and which they are.
    pub day: i32,
    pub day_items: u32,
    pub week: i32,
    pub week_items: u32,
    pub month: i32,
    pub month_items: u32,
}

impl MemberState {
    /// Below the gap between entitlement and what was received, the member is owed the next item.
    pub fn deficit(&self) -> f64 {
        self.entitled - self.received
    }
}

/// A pool's counters: members by employee id, and the number of items routed through it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PoolState {
    pub seq: u64,
    pub members: BTreeMap<String, MemberState>,
}

/// The days of a period, for caps: (day, Monday-based week, month index).
pub fn periods(day: i32) -> (i32, i32, i32) {
    let civil = allot_rules::civil_from_days(day);
    let y: i32 = civil[..4].parse().unwrap_or(1970);
    let m: i32 = civil[5..7].parse().unwrap_or(1);
    // 1970-01-01 was a Thursday.
    (day, (day + 3).div_euclid(7), y * 12 + m - 1)
}

/// What routing decided for one role.
#[derive(Debug, Clone, PartialEq)]
pub struct Choice {
    pub role: RoleIx,
    pub employee: Option<EmpIx>,
    /// The rule whose target took the item (after fallbacks).
    pub rule: Option<usize>,
    /// The rule that matched first, when a fallback took the item.
    pub matched: Option<usize>,
    /// Why, step by step (a fallback's refusal, then what took it), said in either language.
    pub why: Vec<Message>,
}

impl Choice {
    /// Why, in `lang`: the steps joined by `; `.
    pub fn said(&self, lang: Lang) -> String {
        self.why.iter().map(|m| m.say(lang)).collect::<Vec<_>>().join("; ")
    }
}

/// Routes row `row` of `data` (its only client, usually) on day `today`. `pools` holds the state of
/// every pool rule by rule id (missing ones start empty) and is updated. For many rows of one
/// table, make a [`Batch`] once instead.
pub fn route(
    scheme: &Scheme,
    compiled: &Compiled,
    data: &Data,
    row: u32,
    today: i32,
    pools: &mut BTreeMap<String, PoolState>,
) -> Vec<Choice> {
    Batch::new(scheme, compiled, data).route(scheme, row, today, None, pools)
}

/// The rows of one table matched once, to be routed one by one in order. The scheme given to
/// [`Batch::route`] must be the one it was made with (employees' availability may change).
pub struct Batch<'a> {
    compiled: &'a Compiled,
    data: &'a Data,
    roles: Vec<RoleIx>,
    matched: Vec<u32>,
    ranks: Vec<u32>,
}

impl<'a> Batch<'a> {
    pub fn new(scheme: &Scheme, compiled: &'a Compiled, data: &'a Data) -> Batch<'a> {
        let (roles, matched) = match_rules(scheme, compiled, data);
        Batch { compiled, data, roles, matched, ranks: id_ranks(scheme) }
    }

    /// Routes one row on day `today`, at `minute` (since 1970-01-01 00:00 UTC) when known, which
    /// also checks employees' working hours; see the module docs.
    pub fn route(
        &self,
        scheme: &Scheme,
        row: u32,
        today: i32,
        minute: Option<i64>,
        pools: &mut BTreeMap<String, PoolState>,
    ) -> Vec<Choice> {
        let (compiled, data) = (self.compiled, self.data);
        let nr = self.roles.len();
        let rref = RowRef { data, client: row, deal: None };
        let (territory, _) = territory_of(scheme, compiled, &rref);
        let (potential, workload) = measures(scheme, data);
        let amount = |strategy: Strategy| match strategy {
            Strategy::BalancePotential => potential.get(row as usize).max(0.0),
            Strategy::BalanceWorkload => workload.get(row as usize).max(0.0),
            Strategy::BalanceCount | Strategy::RoundRobin => 1.0,
        };
        let at = Moment { today, minute, territory };
        self.roles
            .iter()
            .enumerate()
            .map(|(k, &role)| match self.matched[row as usize * nr + k] {
                NONE => Choice { role, employee: None, rule: None, matched: None, why: vec![Message::new("route-no-rule")] },
                first => self.decide(scheme, role, first as usize, &amount, &at, pools),
            })
            .collect()
    }

    /// Routes deal `deal` (of client row `data.deal_client[deal]`) for every role: the first deal
    /// rule that holds decides; a role no deal rule covers goes to `via_client` — the client's own
    /// employee in that role, with the rule that made them so (MISSION.md S4.4).
    pub fn route_deal(
        &self,
        scheme: &Scheme,
        deal: u32,
        today: i32,
        minute: Option<i64>,
        via_client: &dyn Fn(RoleIx) -> Option<(EmpIx, String)>,
        pools: &mut BTreeMap<String, PoolState>,
    ) -> Vec<Choice> {
        let (compiled, data) = (self.compiled, self.data);
        let client = data.deal_client[deal as usize];
        let rref = RowRef { data, client, deal: Some(deal) };
        let (territory, _) = territory_of(scheme, compiled, &rref);
        let amounts = crate::deals::amounts(scheme, data);
        let amount = |strategy: Strategy| match strategy {
            Strategy::BalanceCount | Strategy::RoundRobin => 1.0,
            _ => amounts.get(deal as usize).copied().unwrap_or(0.0).max(0.0),
        };
        let at = Moment { today, minute, territory };
        scheme
            .active_roles()
            .into_iter()
            .map(|role| {
                let hit = (0..scheme.rules.len()).find(|&r| {
                    let rule = &scheme.rules[r];
                    rule.role == role
                        && rule.subject == crate::data::Subject::Deal
                        && compiled.rules[r].eval(&rref) == allot_rules::Tri::True
                });
                match hit {
                    Some(r) => self.decide(scheme, role, r, &amount, &at, pools),
                    None => match via_client(role) {
                        Some((e, how)) => Choice {
                            role,
                            employee: Some(e),
                            rule: None,
                            matched: None,
                            why: vec![Message::new("route-via-client").text("how", how)],
                        },
                        None => {
                            Choice { role, employee: None, rule: None, matched: None, why: vec![Message::new("route-no-client-employee")] }
                        }
                    },
                }
            })
            .collect()
    }

    /// The rule `first` and its fallbacks, until one's target can take the item.
    fn decide(
        &self,
        scheme: &Scheme,
        role: RoleIx,
        first: usize,
        amount: &dyn Fn(Strategy) -> f64,
        at: &Moment,
        pools: &mut BTreeMap<String, PoolState>,
    ) -> Choice {
        let Moment { today, minute, territory } = *at;
        let mut rule = first;
        let mut notes: Vec<Message> = Vec::new();
        let mut seen = vec![rule];
        loop {
            let r = &scheme.rules[rule];
            let tried = match &r.target {
                Target::Employee(e) => available(scheme, *e, today, minute).map(|()| {
                    (
                        *e,
                        Message::new("route-named").text("rule", r.id.as_str()).text("employee", scheme.employees[*e as usize].id.as_str()),
                    )
                }),
                Target::TerritoryOwner => match (territory != NONE).then(|| territory_owner(scheme, territory, role)).flatten() {
                    Some(e) => available(scheme, e, today, minute).map(|()| {
                        let m = Message::new("route-owner")
                            .text("rule", r.id.as_str())
                            .text("employee", scheme.employees[e as usize].id.as_str())
                            .text("territory", scheme.territories[territory as usize].id.as_str());
                        (e, m)
                    }),
                    None if territory == NONE => Err(Unavailable::NoTerritory),
                    None => Err(Unavailable::NoOwner(scheme.territories[territory as usize].id.clone())),
                },
                Target::Pool { members, strategy } => {
                    let state = pools.entry(r.id.clone()).or_default();
                    pick(scheme, r, members, amount(*strategy), (today, minute), &self.ranks, state)
                }
            };
            match tried {
                Ok((e, why)) => {
                    notes.push(why);
                    return Choice { role, employee: Some(e), rule: Some(rule), matched: (rule != first).then_some(first), why: notes };
                }
                Err(why) => {
                    notes.push(Message::new("route-could-not").text("rule", r.id.as_str()));
                    notes.push(why.message());
                    match r.fallback {
                        Some(f) if !seen.contains(&f) => {
                            seen.push(f);
                            notes.push(Message::new("route-fallback").text("rule", scheme.rules[f].id.as_str()));
                            rule = f;
                        }
                        _ => return Choice { role, employee: None, rule: None, matched: Some(first), why: notes },
                    }
                }
            }
        }
    }
}

/// When an item arrives, and where its client is.
#[derive(Clone, Copy)]
struct Moment {
    today: i32,
    minute: Option<i64>,
    territory: u32,
}

/// The roles `route` answers for, in order.
pub fn routed_roles(scheme: &Scheme) -> Vec<RoleIx> {
    client_roles(scheme)
}

/// Why a rule's target could not take a routed item (said in its explanation).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Unavailable {
    Inactive(String),
    Absent(String),
    OffDuty(String),
    NoTerritory,
    NoOwner(String),
    NoMember {
        absent: usize,
        inactive: usize,
        off: usize,
        capped: usize,
    },
    /// The pool's state lost a member it was just given (a fault of this code, said rather than
    /// panicked).
    StateLost,
}

impl Unavailable {
    fn message(&self) -> Message {
        match self {
            Unavailable::Inactive(e) => Message::new("route-inactive").text("employee", e.as_str()),
            Unavailable::Absent(e) => Message::new("route-absent").text("employee", e.as_str()),
            Unavailable::OffDuty(e) => Message::new("route-off-duty").text("employee", e.as_str()),
            Unavailable::NoTerritory => Message::new("reason-no-territory"),
            Unavailable::NoOwner(t) => Message::new("route-no-owner").text("territory", t.as_str()),
            &Unavailable::NoMember { absent, inactive, off, capped } => Message::new("route-no-member")
                .count("absent", absent as i64)
                .count("inactive", inactive as i64)
                .count("off", off as i64)
                .count("capped", capped as i64),
            Unavailable::StateLost => Message::new("route-state-lost"),
        }
    }
}

fn available(scheme: &Scheme, e: EmpIx, today: i32, minute: Option<i64>) -> Result<(), Unavailable> {
    let emp = &scheme.employees[e as usize];
    if !emp.active {
        Err(Unavailable::Inactive(emp.id.clone()))
    } else if emp.absent_on(today) {
        Err(Unavailable::Absent(emp.id.clone()))
    } else if off_duty(emp, minute) {
        Err(Unavailable::OffDuty(emp.id.clone()))
    } else {
        Ok(())
    }
}

fn off_duty(emp: &crate::model::Employee, minute: Option<i64>) -> bool {
    matches!((emp.hours, minute), (Some(h), Some(m)) if !h.at(m))
}

fn pick(
    scheme: &Scheme,
    rule: &crate::model::Rule,
    members: &[crate::model::Member],
    amount: f64,
    (today, minute): (i32, Option<i64>),
    ranks: &[u32],
    state: &mut PoolState,
) -> Result<(EmpIx, Message), Unavailable> {
    let (day, week, month) = periods(today);
    let caps = rule.caps;
    let mut eligible: Vec<(EmpIx, f64)> = Vec::new();
    let mut away: Vec<(EmpIx, f64)> = Vec::new();
    let (mut absent, mut inactive, mut capped, mut off) = (0, 0, 0, 0);
    for m in members {
        let emp = &scheme.employees[m.employee as usize];
        let st = state.members.entry(emp.id.clone()).or_insert_with(|| MemberState { employee: emp.id.clone(), ..Default::default() });
        // Periods roll over.
        if st.day != day {
            st.day = day;
            st.day_items = 0;
        }
        if st.week != week {
            st.week = week;
            st.week_items = 0;
        }
        if st.month != month {
            st.month = month;
            st.month_items = 0;
        }
        if !emp.active {
            inactive += 1;
        } else if emp.absent_on(today) {
            absent += 1;
            away.push((m.employee, m.weight));
        } else if off_duty(emp, minute) {
            off += 1;
            away.push((m.employee, m.weight));
        } else if caps.day.is_some_and(|c| st.day_items >= c)
            || caps.week.is_some_and(|c| st.week_items >= c)
            || caps.month.is_some_and(|c| st.month_items >= c)
        {
            capped += 1;
        } else if m.weight > 0.0 {
            eligible.push((m.employee, m.weight));
        }
    }
    if eligible.is_empty() {
        return Err(Unavailable::NoMember { absent, inactive, off, capped });
    }
    let total: f64 = eligible.iter().map(|e| e.1).sum();
    for (e, w) in &eligible {
        let st = state.members.get_mut(&scheme.employees[*e as usize].id).ok_or(Unavailable::StateLost)?;
        let share = w / total * amount;
        st.entitled += share;
        // Catching up what was missed, at most `catch_up` times the share per item: no flood.
        if rule.catch_up > 0.0 && st.owed > 0.0 {
            let extra = st.owed.min(rule.catch_up * share);
            st.entitled += extra;
            st.owed -= extra;
        }
    }
    if rule.catch_up > 0.0 {
        // What those away would have had, were they here.
        let all = total + away.iter().map(|a| a.1).sum::<f64>();
        for (e, w) in &away {
            if let Some(st) = state.members.get_mut(&scheme.employees[*e as usize].id) {
                st.owed += w / all * amount;
            }
        }
    }
    // Furthest below their share; ties (within rounding) to the longest waiting, then the lower id.
    let key = |e: EmpIx| {
        let st = &state.members[&scheme.employees[e as usize].id];
        (st.deficit(), st.last_seq, ranks[e as usize])
    };
    let mut best = eligible[0].0;
    for &(e, _) in &eligible[1..] {
        let (d, seq, rank) = key(e);
        let (bd, bseq, brank) = key(best);
        let tol = 1e-9 * (1.0 + d.abs().max(bd.abs()));
        let better = if (d - bd).abs() > tol { d > bd } else { (seq, rank) < (bseq, brank) };
        if better {
            best = e;
        }
    }
    state.seq += 1;
    let seq = state.seq;
    let st = state.members.get_mut(&scheme.employees[best as usize].id).ok_or(Unavailable::StateLost)?;
    let why = Message::new("route-pool")
        .text("rule", rule.id.as_str())
        .text("employee", st.employee.as_str())
        .amount("received", st.received)
        .amount("share", st.entitled)
        .count("eligible", eligible.len() as i64)
        .count("members", members.len() as i64);
    st.items += 1;
    st.received += amount;
    st.last_seq = seq;
    st.day_items += 1;
    st.week_items += 1;
    st.month_items += 1;
    Ok((best, why))
}
