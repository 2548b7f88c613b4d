//! The assignment engine: for every (client, role) an employee, or "unassigned" with a reason.
//!
//! Order of work, each step deterministic:
//! 1. **Match.** Each client gets its territory (deepest matching one) and, per role, the first
//!    rule in priority order whose condition is true ([`crate::signature`] makes this fast).
//! 2. **Pins.** Pinned current links stay, whatever the rules say.
//! 3. **Sticky** (S1.3). Unless `rebalance`, a client keeps its current owner while that owner is
//!    still a valid target of the rule that now matches it (named by it, a member of its pool, or
//!    the owner of its territory), is active, and has room under their capacity.
//! 4. **Fixed targets.** One named employee, or the owner of the client's territory.
//! 5. **Pools**, rule by rule in priority order. Balancing strategies hand out the rule's clients
//!    from the largest to the smallest (ties by client order): each goes to the eligible member with
//!    the least load per unit of weight in that role (ties by employee id) — the classic greedy that
//!    keeps the spread below one client's size. Round-robin is smooth weighted round-robin in client
//!    order. Absent and inactive members, and members at capacity, get nothing new.
//!
//! Loads count per role and include everything held (pinned, sticky, fixed); capacity counts the
//! (client, role) links an employee holds across roles.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use allot_rules::{AttrId, Tri};
use rayon::prelude::*;
use rustc_hash::FxHashMap;

use crate::data::{Data, RowRef, Subject};
use crate::model::{Compiled, EmpIx, Member, RoleIx, Scheme, Strategy, Target};
use crate::signature::{ClassTable, RoleMatcher, Signer};

pub const NONE: u32 = u32::MAX;

/// A current link, from the current assignments file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CurrentLink {
    pub client: u32,
    pub role: RoleIx,
    pub employee: EmpIx,
    pub pinned: bool,
}

/// How a run treats the current links and the calendar.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// The day absences are judged on (days since 1970-01-01).
    pub today: i32,
    /// Ignore current (unpinned) links and distribute from scratch.
    pub rebalance: bool,
    /// Record the pool decisions made for this client row (for `explain`).
    pub watch: Option<u32>,
}

/// Why an employee could not take a client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Unavailable {
    Inactive,
    Absent,
    AtCapacity,
}

impl Unavailable {
    pub fn as_str(self) -> &'static str {
        match self {
            Unavailable::Inactive => "inactive",
            Unavailable::Absent => "absent",
            Unavailable::AtCapacity => "at capacity",
        }
    }
}

/// Why a (client, role) has no employee.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reason {
    NoRuleMatched,
    /// No rule matched, and a rule could not be decided because this attribute is missing.
    MissingAttribute(AttrId),
    /// The rule hands out by territory, and the client is in none.
    NoTerritory,
    /// The client's territory (and its ancestors) has no owner for the role.
    NoTerritoryOwner(u32),
    /// The named employee (or territory owner) cannot take it.
    Unavailable(EmpIx, Unavailable),
    /// Every member of the pool is absent, inactive or at capacity.
    PoolExhausted {
        absent: u16,
        inactive: u16,
        full: u16,
    },
}

impl Reason {
    /// A pool whose members are unavailable for these reasons.
    pub fn exhausted_by(whys: &[Unavailable]) -> Reason {
        let count = |u: Unavailable| whys.iter().filter(|w| **w == u).count().min(u16::MAX as usize) as u16;
        Reason::PoolExhausted {
            absent: count(Unavailable::Absent),
            inactive: count(Unavailable::Inactive),
            full: count(Unavailable::AtCapacity),
        }
    }
}

/// How an employee came to hold a (client, role).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum How {
    Pinned,
    Sticky,
    /// Named by the rule, or owner of the client's territory.
    Fixed,
    Pool,
    /// A deal with no deal rule for the role takes its client's employee.
    ViaClient,
    Unassigned(Reason),
}

/// One (client, role) outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cell {
    pub employee: u32,
    pub rule: u32,
    pub how: How,
}

impl Cell {
    const EMPTY: Cell = Cell { employee: NONE, rule: NONE, how: How::Unassigned(Reason::NoRuleMatched) };
    pub fn employee(&self) -> Option<EmpIx> {
        (self.employee != NONE).then_some(self.employee)
    }
    pub fn rule(&self) -> Option<usize> {
        (self.rule != NONE).then_some(self.rule as usize)
    }
}

/// A pool's state when the watched client was handed out.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    pub role: RoleIx,
    pub rule: usize,
    pub strategy: Strategy,
    /// Each member: employee, load in the strategy's measure, weight, and why not eligible.
    pub members: Vec<(EmpIx, f64, f64, Option<Unavailable>)>,
    pub chosen: Option<EmpIx>,
}

/// Two sibling territories that both hold for some clients: (first, second, clients, an example
/// client row).
pub type Overlap = (u32, u32, u64, u32);

/// The result of a run.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The roles covered, in scheme order; cells are `clients × roles`, client-major.
    pub roles: Vec<RoleIx>,
    pub cells: Vec<Cell>,
    /// The deepest territory of each client, or [`NONE`]; empty when the scheme has no
    /// territories (use [`Outcome::territory_of`]).
    pub territory: Vec<u32>,
    /// How many (client, role) pairs each rule matched.
    pub rule_hits: Vec<u64>,
    /// Sibling territories whose conditions both hold for some clients: (first, second, clients,
    /// an example client row).
    pub overlaps: Vec<Overlap>,
    /// Pool decisions for [`Options::watch`].
    pub watch: Vec<Decision>,
    /// Distinct territory signatures evaluated (territories are computed once per signature).
    pub signatures: usize,
}

impl Outcome {
    /// The deepest territory of a client, or [`NONE`].
    pub fn territory_of(&self, client: u32) -> u32 {
        self.territory.get(client as usize).copied().unwrap_or(NONE)
    }
    pub fn cell(&self, client: u32, k: usize) -> &Cell {
        &self.cells[client as usize * self.roles.len() + k]
    }
}

/// A pool member in the balancing heap: (load per weight, id rank, member index).
#[derive(Clone, Copy, PartialEq)]
struct Key(f64, u32, usize);
impl Eq for Key {}
impl PartialOrd for Key {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Key {
    // Reversed: BinaryHeap is a max-heap and we want the least load, then the least id rank.
    fn cmp(&self, o: &Self) -> Ordering {
        o.0.total_cmp(&self.0).then(o.1.cmp(&self.1))
    }
}

/// Per (employee, role) loads, and links held per employee.
pub(crate) struct Loads {
    /// Per employee: why they take nothing new today regardless of load, if so.
    status: Vec<Option<Unavailable>>,
    /// Per employee: the most links they may hold (u32::MAX when capacity does not apply).
    cap: Vec<u32>,
    nroles: usize,
    count: Vec<f64>,
    potential: Vec<f64>,
    workload: Vec<f64>,
    held: Vec<u32>,
}

impl Loads {
    /// `capped`: whether employees' capacity limits these loads (client links: yes; deals: no).
    pub(crate) fn new(scheme: &Scheme, today: i32, nroles: usize, capped: bool) -> Loads {
        let employees = scheme.employees.len();
        let z = vec![0.0; employees * nroles];
        let status = scheme
            .employees
            .iter()
            .map(|e| {
                if !e.active {
                    Some(Unavailable::Inactive)
                } else if e.absent_on(today) {
                    Some(Unavailable::Absent)
                } else {
                    None
                }
            })
            .collect();
        let cap = scheme.employees.iter().map(|e| if capped { e.capacity.unwrap_or(u32::MAX) } else { u32::MAX }).collect();
        Loads { status, cap, nroles, count: z.clone(), potential: z.clone(), workload: z, held: vec![0; employees] }
    }
    /// The loads of some employees only (indexed 0.. in the order given), for a task that hands
    /// out to them alone.
    pub(crate) fn subset(&self, employees: &[EmpIx]) -> Loads {
        let nr = self.nroles;
        let pick =
            |v: &[f64]| -> Vec<f64> { employees.iter().flat_map(|&e| v[e as usize * nr..e as usize * nr + nr].iter().copied()).collect() };
        Loads {
            status: employees.iter().map(|&e| self.status[e as usize]).collect(),
            cap: employees.iter().map(|&e| self.cap[e as usize]).collect(),
            nroles: nr,
            count: pick(&self.count),
            potential: pick(&self.potential),
            workload: pick(&self.workload),
            held: employees.iter().map(|&e| self.held[e as usize]).collect(),
        }
    }

    pub(crate) fn add(&mut self, e: EmpIx, k: usize, pot: f64, work: f64) {
        let i = e as usize * self.nroles + k;
        self.count[i] += 1.0;
        self.potential[i] += pot;
        self.workload[i] += work;
        self.held[e as usize] += 1;
    }
    fn measure(&self, s: Strategy, e: EmpIx, k: usize) -> f64 {
        let i = e as usize * self.nroles + k;
        match s {
            Strategy::BalancePotential => self.potential[i],
            Strategy::BalanceWorkload => self.workload[i],
            Strategy::BalanceCount | Strategy::RoundRobin => self.count[i],
        }
    }
}

/// Everything about one (client or deal) that a strategy weighs.
fn item_measure(s: Strategy, pot: f64, work: f64) -> f64 {
    match s {
        Strategy::BalancePotential => pot,
        Strategy::BalanceWorkload => work,
        Strategy::BalanceCount | Strategy::RoundRobin => 1.0,
    }
}

/// Why an employee cannot take anything new today, if so.
#[inline]
pub(crate) fn unavailable(loads: &Loads, e: EmpIx) -> Option<Unavailable> {
    match loads.status[e as usize] {
        Some(why) => Some(why),
        None if loads.held[e as usize] >= loads.cap[e as usize] => Some(Unavailable::AtCapacity),
        None => None,
    }
}

/// The deepest territory whose condition (and whose ancestors' conditions) hold; the first pair of
/// siblings that both hold, if any.
pub fn territory_of(scheme: &Scheme, compiled: &Compiled, row: &RowRef<'_>) -> (u32, Option<(u32, u32)>) {
    let mut current: Option<usize> = None;
    let mut overlap = None;
    loop {
        let mut first = None;
        for (i, t) in scheme.territories.iter().enumerate() {
            if t.parent != current || compiled.territories[i].eval(row) != Tri::True {
                continue;
            }
            match first {
                None => first = Some(i),
                Some(f) => {
                    overlap.get_or_insert((f as u32, i as u32));
                }
            }
        }
        match first {
            Some(f) => current = Some(f),
            None => break,
        }
    }
    (current.map_or(NONE, |c| c as u32), overlap)
}

/// The owner of territory `t` (or its nearest ancestor with one) for role `role`.
pub fn territory_owner(scheme: &Scheme, mut t: u32, role: RoleIx) -> Option<EmpIx> {
    while t != NONE {
        let terr = &scheme.territories[t as usize];
        if let Some((_, e)) = terr.owners.iter().find(|(r, _)| *r == role) {
            return Some(*e);
        }
        t = terr.parent.map_or(NONE, |p| p as u32);
    }
    None
}

/// Roles covered by client rules, in scheme order.
pub fn client_roles(scheme: &Scheme) -> Vec<RoleIx> {
    (0..scheme.roles.len()).filter(|r| scheme.rules.iter().any(|x| x.role == *r && x.subject == Subject::Client)).collect()
}

struct Matched {
    /// Per (client, role), client-major: the first matching rule, or NONE.
    rules: Vec<u32>,
    /// Per client: the deepest territory, or NONE.
    territory: Vec<u32>,
    /// Sibling territories both holding for some clients: (first, second, clients, example).
    overlaps: Vec<Overlap>,
    /// Distinct territory signatures evaluated.
    signatures: usize,
}

/// Territories of every client, computed once per territory signature.
fn match_territories(scheme: &Scheme, compiled: &Compiled, data: &Data) -> (Vec<u32>, Vec<Overlap>, usize) {
    let n = data.clients.len();
    if scheme.territories.is_empty() {
        return (Vec::new(), vec![], 0); // read as "no territory" for every client
    }
    let conds: Vec<&allot_rules::Cond> = scheme.territories.iter().map(|t| &t.cond).collect();
    let signer = Signer::new(&conds, data);
    let eval = |row: u32| territory_of(scheme, compiled, &RowRef { data, client: row, deal: None });
    let mut overlaps: FxHashMap<(u32, u32), (u64, u32)> = FxHashMap::default();
    let mut note = |ov: Option<(u32, u32)>, count: u64, example: u32| {
        if let Some(pair) = ov {
            let e = overlaps.entry(pair).or_insert((0, example));
            e.0 += count;
        }
    };
    let (territory, groups) = if signer.packed {
        let keys: Vec<u64> = (0..n as u32).into_par_iter().with_min_len(1 << 14).map(|r| signer.key(data, r)).collect();
        let mut map: FxHashMap<u64, u32> = FxHashMap::default();
        let mut reps: Vec<u32> = Vec::new();
        let group_of: Vec<u32> = keys
            .iter()
            .enumerate()
            .map(|(row, k)| {
                *map.entry(*k).or_insert_with(|| {
                    reps.push(row as u32);
                    reps.len() as u32 - 1
                })
            })
            .collect();
        let results: Vec<(u32, Option<(u32, u32)>)> = reps.par_iter().map(|&r| eval(r)).collect();
        let mut sizes = vec![0u64; reps.len()];
        for &g in &group_of {
            sizes[g as usize] += 1;
        }
        for (g, (_, ov)) in results.iter().enumerate() {
            note(*ov, sizes[g], reps[g]);
        }
        (group_of.iter().map(|&g| results[g as usize].0).collect(), reps.len())
    } else {
        let results: Vec<(u32, Option<(u32, u32)>)> = (0..n as u32).into_par_iter().map(eval).collect();
        for (r, (_, ov)) in results.iter().enumerate() {
            note(*ov, 1, r as u32);
        }
        (results.into_iter().map(|x| x.0).collect(), n)
    };
    let mut overlaps: Vec<Overlap> = overlaps.into_iter().map(|((a, b), (c, ex))| (a, b, c, ex)).collect();
    overlaps.sort_unstable();
    (territory, overlaps, groups)
}

fn match_all(scheme: &Scheme, compiled: &Compiled, data: &Data, roles: &[RoleIx]) -> Matched {
    let n = data.clients.len();
    let nr = roles.len();
    let conds: Vec<&allot_rules::Cond> = scheme.rules.iter().map(|r| &r.cond).collect();
    let client_conds: Vec<&allot_rules::Cond> = scheme.rules.iter().filter(|r| r.subject == Subject::Client).map(|r| &r.cond).collect();
    let signer = Signer::new(&client_conds, data);
    let matchers: Vec<RoleMatcher> = roles
        .iter()
        .map(|&k| {
            let rules = (0..scheme.rules.len() as u32)
                .filter(|&r| scheme.rules[r as usize].role == k && scheme.rules[r as usize].subject == Subject::Client)
                .collect();
            RoleMatcher::new(rules, &conds, &signer, data)
        })
        .collect();
    let (territory, overlaps, signatures) = match_territories(scheme, compiled, data);
    let mut rules = vec![NONE; n * nr];
    if nr > 0 {
        const CHUNK: usize = 1 << 11;
        let np = signer.parts.len();
        let class_table = ClassTable::new(&signer, &matchers, data);
        // One class buffer per worker, reused: a fresh one per chunk would be page-faulted anew.
        if let Some(t) = &class_table {
            // Small rule sets: a packed key per client, built column by column, then one load.
            const KEY_CHUNK: usize = 1 << 14;
            rules.par_chunks_mut(KEY_CHUNK * nr).enumerate().for_each_init(Vec::new, |keys: &mut Vec<u32>, (ci, out)| {
                let start = (ci * KEY_CHUNK) as u32;
                let rows = out.len() / nr;
                keys.clear();
                keys.resize(rows, 0);
                for (p, part) in signer.parts.iter().enumerate() {
                    part.add_keys(data, start, keys, t.radix(p));
                }
                if nr == 1 {
                    for (o, &key) in out.iter_mut().zip(keys.iter()) {
                        *o = t.rule_at(key);
                    }
                } else {
                    for (cell, &key) in out.chunks_mut(nr).zip(keys.iter()) {
                        cell.copy_from_slice(t.rules_at(key));
                    }
                }
            });
            return Matched { rules, territory, overlaps, signatures };
        }
        rules.par_chunks_mut(CHUNK * nr).enumerate().for_each_init(Vec::new, |classes: &mut Vec<u32>, (ci, out)| {
            let start = (ci * CHUNK) as u32;
            let rows = out.len() / nr;
            classes.resize(rows * np.max(1), 0);
            for (p, part) in signer.parts.iter().enumerate() {
                part.classes_into(data, start, &mut classes[p..], np);
            }
            for (i, cell) in out.chunks_mut(nr).enumerate() {
                let cl = &classes[i * np..i * np + np];
                for (k, m) in matchers.iter().enumerate() {
                    cell[k] = m.first_match(data, cl, start + i as u32).unwrap_or(NONE);
                }
            }
        });
    }
    Matched { rules, territory, overlaps, signatures }
}

/// The first matching rule of every (client, role), client-major, without choosing employees
/// ([`NONE`] where no rule matches): the match stage alone, for benchmarks.
pub fn match_rules(scheme: &Scheme, compiled: &Compiled, data: &Data) -> (Vec<RoleIx>, Vec<u32>) {
    let roles = client_roles(scheme);
    let m = match_all(scheme, compiled, data, &roles);
    (roles, m.rules)
}

/// Why no rule of `role` matched this row: the first missing attribute that left a rule undecided.
pub fn missing_reason(scheme: &Scheme, compiled: &Compiled, role: RoleIx, subject: Subject, row: &RowRef<'_>) -> Reason {
    use allot_rules::Row as _;
    for (i, r) in scheme.rules.iter().enumerate() {
        if r.role != role || r.subject != subject {
            continue;
        }
        if compiled.rules[i].eval(row) == Tri::Unknown {
            if let Some(t) = r.cond.tests().into_iter().find(|t| !row.present(t.attr)) {
                return Reason::MissingAttribute(t.attr);
            }
        }
    }
    Reason::NoRuleMatched
}

/// A per-client measure read straight from its column (no copy): missing cells, and a column that
/// is not there, read as `missing`.
#[derive(Clone, Copy)]
pub struct Measure<'a> {
    col: Option<&'a [f64]>,
    missing: f64,
}

impl Measure<'_> {
    /// Whether every client has the same value (the column is not there).
    pub fn is_const(&self) -> bool {
        self.col.is_none()
    }
    #[inline]
    pub fn get(&self, i: usize) -> f64 {
        match self.col {
            Some(v) if !v[i].is_nan() => v[i],
            _ => self.missing,
        }
    }
}

fn measure<'a>(data: &'a Data, name: Option<&str>, default: &str, missing: f64) -> Measure<'a> {
    let t = &data.clients;
    let col = t.column_index(name.unwrap_or(default)).and_then(|c| match t.column(c) {
        crate::data::Column::Number(v) => Some(v.as_slice()),
        _ => None,
    });
    Measure { col, missing }
}

/// Client potentials (missing = 0) and workloads (missing = 1), as the scheme names their columns.
pub fn measures<'a>(scheme: &Scheme, data: &'a Data) -> (Measure<'a>, Measure<'a>) {
    (measure(data, scheme.potential.as_deref(), "potential", 0.0), measure(data, scheme.workload.as_deref(), "workload", 1.0))
}

/// Runs the engine over every client. See the module docs for the order of work.
///
/// Kept as one function, on purpose: its phases (2. pins, 3. sticky, 4. fixed targets, 5. pools,
/// each marked below) share the cells, the loads and the matched rules in a fixed order, and this
/// is the hot path of a ten-million-client run; the pools' own work is in [`Pool`].
pub fn assign(scheme: &Scheme, compiled: &Compiled, data: &Data, current: &[CurrentLink], opts: &Options) -> Outcome {
    let _span = tracing::info_span!("assign", clients = data.clients.len(), rules = scheme.rules.len()).entered();
    let roles = client_roles(scheme);
    let nr = roles.len();
    let n = data.clients.len();
    let m = match_all(scheme, compiled, data, &roles);
    let (pot, work) = measures(scheme, data);

    let mut rule_hits = vec![0u64; scheme.rules.len()];
    for &r in &m.rules {
        if r != NONE {
            rule_hits[r as usize] += 1;
        }
    }
    let Matched { rules: matched, territory: terr, overlaps, signatures } = m;
    let territory = &terr;
    let mut cells = vec![Cell::EMPTY; n * nr];
    let mut loads = Loads::new(scheme, opts.today, nr, true);
    let role_k = |role: RoleIx| roles.iter().position(|&x| x == role);
    let rule_of = |c: usize, k: usize| matched[c * nr + k];

    // 2. Pins, and the current owner of every other link.
    let mut cur = if opts.rebalance || current.is_empty() { Vec::new() } else { vec![NONE; n * nr] };
    for l in current {
        let Some(k) = role_k(l.role) else { continue };
        let i = l.client as usize * nr + k;
        if l.pinned {
            if cells[i].how != How::Pinned {
                cells[i] = Cell { employee: l.employee, rule: NONE, how: How::Pinned };
                loads.add(l.employee, k, pot.get(l.client as usize), work.get(l.client as usize));
            }
        } else if !opts.rebalance {
            cur[i] = l.employee;
        }
    }

    // The employee a fixed target names for this client, or why there is none.
    let fixed_target = |c: usize, k: usize, target: &Target| -> Result<EmpIx, Reason> {
        match target {
            Target::Employee(e) => Ok(*e),
            Target::TerritoryOwner => {
                let t = territory.get(c).copied().unwrap_or(NONE);
                if t == NONE {
                    Err(Reason::NoTerritory)
                } else {
                    territory_owner(scheme, t, roles[k]).ok_or(Reason::NoTerritoryOwner(t))
                }
            }
            Target::Pool { .. } => Err(Reason::NoRuleMatched),
        }
    };

    // 3. Sticky.
    if !opts.rebalance && !current.is_empty() {
        for c in 0..n {
            for k in 0..nr {
                let i = c * nr + k;
                let e = cur[i];
                let r = rule_of(c, k);
                if e == NONE || r == NONE || cells[i].how == How::Pinned {
                    continue;
                }
                let target = &scheme.rules[r as usize].target;
                let valid = match target {
                    Target::Pool { members, .. } => members.iter().any(|mb| mb.employee == e),
                    _ => fixed_target(c, k, target) == Ok(e),
                };
                let emp = &scheme.employees[e as usize];
                let room = emp.capacity.is_none_or(|cap| loads.held[e as usize] < cap);
                if valid && emp.active && room {
                    cells[i] = Cell { employee: e, rule: r, how: How::Sticky };
                    loads.add(e, k, pot.get(c), work.get(c));
                }
            }
        }
    }

    // 4. Fixed targets; count the clients waiting for each pool.
    let mut waiting = vec![0usize; scheme.rules.len() + 1];
    for c in 0..n {
        for (k, &role) in roles.iter().enumerate() {
            let i = c * nr + k;
            if cells[i].how == How::Pinned || cells[i].how == How::Sticky {
                continue;
            }
            let r = rule_of(c, k);
            if r == NONE {
                let row = RowRef { data, client: c as u32, deal: None };
                cells[i].how = How::Unassigned(missing_reason(scheme, compiled, role, Subject::Client, &row));
                continue;
            }
            let target = &scheme.rules[r as usize].target;
            if let Target::Pool { members, .. } = target {
                // A pool of one member without a capacity limit needs no balancing: hand out
                // directly (the common "one owner per territory" case). Same result, less work.
                if let [only] = members.as_slice() {
                    let e = only.employee;
                    if only.weight > 0.0 && loads.cap[e as usize] == u32::MAX && opts.watch != Some(c as u32) {
                        cells[i] = match loads.status[e as usize] {
                            None => {
                                loads.add(e, k, pot.get(c), work.get(c));
                                Cell { employee: e, rule: r, how: How::Pool }
                            }
                            Some(why) => Cell { employee: NONE, rule: r, how: How::Unassigned(Reason::exhausted_by(&[why])) },
                        };
                        continue;
                    }
                }
                waiting[r as usize + 1] += 1;
                cells[i] = Cell { employee: NONE, rule: r, how: How::Pool }; // pending
                continue;
            }
            cells[i] = match fixed_target(c, k, target) {
                Ok(e) => match unavailable(&loads, e) {
                    None => {
                        loads.add(e, k, pot.get(c), work.get(c));
                        Cell { employee: e, rule: r, how: How::Fixed }
                    }
                    Some(why) => Cell { employee: NONE, rule: r, how: How::Unassigned(Reason::Unavailable(e, why)) },
                },
                Err(reason) => Cell { employee: NONE, rule: r, how: How::Unassigned(reason) },
            };
        }
    }

    drop(matched); // every rule is in the cells now; free it before the pools' buffers

    // 5. Pools, rule by rule. A counting sort lines the waiting clients up by rule, so that each
    // pool's items are built, sorted and handed out one pool at a time.
    for r in 1..waiting.len() {
        waiting[r] += waiting[r - 1];
    }
    let mut next = waiting.clone();
    let queued = waiting[scheme.rules.len()];
    let mut by_rule = vec![0u32; queued];
    // Measures are gathered here, in client order (a sequential read), rather than later in pool
    // order (a cache miss per client at ten million rows). A measure without a column is a constant.
    let mut pot_q = if pot.is_const() { Vec::new() } else { vec![0.0; queued] };
    let mut work_q = if work.is_const() { Vec::new() } else { vec![0.0; queued] };
    for (i, cell) in cells.iter().enumerate() {
        if cell.how == How::Pool && cell.employee == NONE {
            let slot = &mut next[cell.rule as usize];
            let c = i / nr;
            by_rule[*slot] = c as u32;
            if let Some(p) = pot_q.get_mut(*slot) {
                *p = pot.get(c);
            }
            if let Some(w) = work_q.get_mut(*slot) {
                *w = work.get(c);
            }
            *slot += 1;
        }
    }
    let rank = id_ranks(scheme);
    let mut watch = Vec::new();
    // Pools that share no employee cannot affect each other. Pools joined by a shared member form
    // a component; components are handed out in parallel, each on its own copy of its members'
    // loads, and within a component pools go in rule order. The result is the same as handing out
    // every pool in rule order. Components go in batches of bounded size, to bound memory.
    let pools: Vec<usize> =
        (0..scheme.rules.len()).filter(|&r| matches!(scheme.rules[r].target, Target::Pool { .. }) && waiting[r + 1] > waiting[r]).collect();
    let members_of = |r: usize| -> &[Member] {
        match &scheme.rules[r].target {
            Target::Pool { members, .. } => members,
            _ => &[],
        }
    };
    let components = pool_components(&pools, scheme.employees.len(), members_of);
    let batch_items = (n / 16).max(1 << 18);
    let prepare = |r: usize| -> Vec<PoolItem> {
        let clients = &by_rule[waiting[r]..waiting[r + 1]];
        let mut items: Vec<PoolItem> = clients
            .iter()
            .enumerate()
            .map(|(pos, &c)| {
                let q = waiting[r] + pos;
                let p = pot_q.get(q).copied().unwrap_or_else(|| pot.get(c as usize));
                let w = work_q.get(q).copied().unwrap_or_else(|| work.get(c as usize));
                PoolItem { id: c, pos: pos as u32, pot: p, work: w }
            })
            .collect();
        if let Target::Pool { strategy, .. } = &scheme.rules[r].target {
            if *strategy != Strategy::RoundRobin {
                sort_desc(&mut items, |i| item_measure(*strategy, i.pot, i.work));
            }
        }
        items
    };
    // One component: its pools' results (rule, role index, cells by position) and decisions.
    let run_component = |comp: &Vec<usize>| -> ComponentDone {
        let mut globals: Vec<EmpIx> = comp.iter().flat_map(|&r| members_of(r).iter().map(|m| m.employee)).collect();
        globals.sort_unstable();
        globals.dedup();
        let local = |e: EmpIx| globals.binary_search(&e).map_or(0, |i| i as EmpIx);
        let mut loads = loads.subset(&globals);
        let rank_local: Vec<u32> = globals.iter().map(|&e| rank[e as usize]).collect();
        let mut out = Vec::with_capacity(comp.len());
        let mut decisions = Vec::new();
        for &r in comp {
            let rule = &scheme.rules[r];
            let Target::Pool { members, strategy } = &rule.target else { continue };
            let members_local: Vec<Member> = members.iter().map(|m| Member { employee: local(m.employee), weight: m.weight }).collect();
            let k = role_k(rule.role).expect("client rules' roles are covered");
            let items = prepare(r);
            let pool = Pool { members: &members_local, strategy: *strategy, k, role: rule.role, rule: r, rank: &rank_local };
            // Results land by position in this pool, then go to the cells in client order:
            // writing the big cell array in hand-out order would miss the cache.
            let mut results = vec![Cell::EMPTY; items.len()];
            let before = decisions.len();
            pool.run(&items, &mut loads, opts.watch, &mut decisions, |item, res| {
                results[item.pos as usize] = match res {
                    Ok(e) => Cell { employee: globals[e as usize], rule: r as u32, how: How::Pool },
                    Err(reason) => Cell { employee: NONE, rule: r as u32, how: How::Unassigned(reason) },
                };
            });
            for d in &mut decisions[before..] {
                for m in &mut d.members {
                    m.0 = globals[m.0 as usize];
                }
                d.chosen = d.chosen.map(|e| globals[e as usize]);
            }
            out.push((r, k, results));
        }
        (out, decisions)
    };
    let mut start = 0;
    while start < components.len() {
        let mut end = start;
        let mut size = 0;
        let items_of = |comp: &Vec<usize>| comp.iter().map(|&r| waiting[r + 1] - waiting[r]).sum::<usize>();
        while end < components.len() && (end == start || size + items_of(&components[end]) <= batch_items) {
            size += items_of(&components[end]);
            end += 1;
        }
        let done: Vec<ComponentDone> = components[start..end].par_iter().map(run_component).collect();
        // Write the results back in parallel, each worker owning a range of clients: a pool's
        // clients are sorted, so each range is one slice of them.
        let pools_done: Vec<&(usize, usize, Vec<Cell>)> = done.iter().flat_map(|d| d.0.iter()).collect();
        const SPAN: usize = 1 << 20; // few ranges: every pool is searched once per range
        cells.par_chunks_mut(SPAN * nr).enumerate().for_each(|(ci, chunk)| {
            let (lo, hi) = ((ci * SPAN) as u32, ((ci + 1) * SPAN) as u32);
            for (r, k, results) in &pools_done {
                let clients = &by_rule[waiting[*r]..waiting[*r + 1]];
                let from = clients.partition_point(|&c| c < lo);
                let to = clients.partition_point(|&c| c < hi);
                for (&c, cell) in clients[from..to].iter().zip(&results[from..to]) {
                    chunk[(c - lo) as usize * nr + k] = *cell;
                }
            }
        });
        for (_, decisions) in done {
            watch.extend(decisions);
        }
        start = end;
    }
    // (`loads` is not read after this point; each component worked on its own copy.)

    Outcome { roles, cells, territory: terr, rule_hits, overlaps, watch, signatures }
}

/// One pool rule at work: its members, strategy and role.
pub(crate) struct Pool<'a> {
    pub members: &'a [Member],
    pub strategy: Strategy,
    /// Index of the role in the loads.
    pub k: usize,
    pub role: RoleIx,
    pub rule: usize,
    pub rank: &'a [u32],
}

impl Pool<'_> {
    fn exhausted(&self, loads: &Loads) -> Reason {
        let whys: Vec<Unavailable> = self.members.iter().filter_map(|mb| unavailable(loads, mb.employee)).collect();
        Reason::exhausted_by(&whys)
    }

    fn snapshot(&self, loads: &Loads) -> Vec<(EmpIx, f64, f64, Option<Unavailable>)> {
        self.members
            .iter()
            .map(|mb| (mb.employee, loads.measure(self.strategy, mb.employee, self.k), mb.weight, unavailable(loads, mb.employee)))
            .collect()
    }

    /// Hands out `items` (already in hand-out order) and reports each outcome to `out`.
    pub(crate) fn run(
        &self,
        items: &[PoolItem],
        loads: &mut Loads,
        watch_item: Option<u32>,
        watch: &mut Vec<Decision>,
        mut out: impl FnMut(&PoolItem, Result<EmpIx, Reason>),
    ) {
        let (members, k) = (self.members, self.k);
        let free = |loads: &Loads, e: EmpIx| unavailable(loads, e).is_none();
        let mut credit = vec![0.0f64; members.len()];
        let mut heap: BinaryHeap<Key> = BinaryHeap::new();
        if self.strategy != Strategy::RoundRobin {
            heap = members
                .iter()
                .enumerate()
                .filter(|(_, mb)| mb.weight > 0.0 && free(loads, mb.employee))
                .map(|(j, mb)| Key(loads.measure(self.strategy, mb.employee, k) / mb.weight, self.rank[mb.employee as usize], j))
                .collect();
        }
        for item in items {
            let c = item.id;
            let before = (watch_item == Some(c)).then(|| self.snapshot(loads));
            let chosen = if self.strategy == Strategy::RoundRobin {
                // Smooth weighted round-robin over the members free today.
                let mut total = 0.0;
                let mut best: Option<usize> = None;
                for (j, mb) in members.iter().enumerate() {
                    if mb.weight <= 0.0 || !free(loads, mb.employee) {
                        continue;
                    }
                    credit[j] += mb.weight;
                    total += mb.weight;
                    let better = best.is_none_or(|b| {
                        credit[j] > credit[b]
                            || (credit[j] == credit[b] && self.rank[mb.employee as usize] < self.rank[members[b].employee as usize])
                    });
                    if better {
                        best = Some(j);
                    }
                }
                best.map(|b| {
                    credit[b] -= total;
                    let e = members[b].employee;
                    loads.add(e, k, item.pot, item.work);
                    e
                })
            } else {
                let mut chosen = None;
                while let Some(Key(_, _, j)) = heap.pop() {
                    let e = members[j].employee;
                    if free(loads, e) {
                        chosen = Some((j, e));
                        break;
                    }
                    // else: reached capacity through another pool; it never comes back this run
                }
                if let Some((j, e)) = chosen {
                    loads.add(e, k, item.pot, item.work);
                    if free(loads, e) {
                        heap.push(Key(loads.measure(self.strategy, e, k) / members[j].weight, self.rank[e as usize], j));
                    }
                }
                chosen.map(|(_, e)| e)
            };
            out(item, chosen.ok_or_else(|| self.exhausted(loads)));
            if let Some(members) = before {
                watch.push(Decision { role: self.role, rule: self.rule, strategy: self.strategy, members, chosen });
            }
        }
    }
}

/// A client (or deal) waiting in a pool, with the measures the strategies weigh: carried along so
/// that handing out in sorted order reads memory in order.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PoolItem {
    pub id: u32,
    /// Position in the pool's list of waiting items (in client order).
    pub pos: u32,
    pub pot: f64,
    pub work: f64,
}

/// Sorts items by a measure, largest first, ties by id: the order every balancing strategy hands
/// out in. Large pools sort on both cores.
pub(crate) fn sort_desc(items: &mut [PoolItem], measure: impl Fn(&PoolItem) -> f64 + Sync) {
    let cmp = |a: &PoolItem, b: &PoolItem| measure(b).total_cmp(&measure(a)).then(a.id.cmp(&b.id));
    if items.len() > 1 << 16 {
        items.par_sort_unstable_by(cmp);
    } else {
        items.sort_unstable_by(cmp);
    }
}

/// What one component of pools hands out: per pool (rule, role index, cells by position in the
/// pool), and the decisions recorded for the watched client.
type ComponentDone = (Vec<(usize, usize, Vec<Cell>)>, Vec<Decision>);

/// Pools joined by shared members, each component's pools in rule order; components ordered by
/// their first pool.
fn pool_components<'a>(pools: &[usize], employees: usize, members_of: impl Fn(usize) -> &'a [Member]) -> Vec<Vec<usize>> {
    let mut parent: Vec<u32> = (0..employees as u32).collect();
    fn find(parent: &mut [u32], mut x: u32) -> u32 {
        while parent[x as usize] != x {
            parent[x as usize] = parent[parent[x as usize] as usize];
            x = parent[x as usize];
        }
        x
    }
    for &r in pools {
        let ms = members_of(r);
        if let Some(first) = ms.first() {
            let a = find(&mut parent, first.employee);
            for m in &ms[1..] {
                let b = find(&mut parent, m.employee);
                parent[b as usize] = a;
            }
        }
    }
    let mut by_root: FxHashMap<u32, usize> = FxHashMap::default();
    let mut components: Vec<Vec<usize>> = Vec::new();
    for &r in pools {
        match members_of(r).first() {
            Some(m) => {
                let root = find(&mut parent, m.employee);
                let i = *by_root.entry(root).or_insert_with(|| {
                    components.push(Vec::new());
                    components.len() - 1
                });
                components[i].push(r);
            }
            None => components.push(vec![r]),
        }
    }
    components
}

/// Each employee's position in id order: the tie-break "by id".
pub fn id_ranks(scheme: &Scheme) -> Vec<u32> {
    let mut order: Vec<usize> = (0..scheme.employees.len()).collect();
    order.sort_by(|&a, &b| scheme.employees[a].id.cmp(&scheme.employees[b].id));
    let mut rank = vec![0u32; order.len()];
    for (i, e) in order.into_iter().enumerate() {
        rank[e] = i as u32;
    }
    rank
}

#[cfg(test)]
mod size {
    #[test]
    fn cells_stay_small() {
        assert!(std::mem::size_of::<super::Cell>() <= 16, "{}", std::mem::size_of::<super::Cell>());
    }
}
