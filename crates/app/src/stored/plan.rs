//! Plan: the engine's assignments of a day against the stored links, as closes and opens with
//! their causes; scheme diffs.

use super::*;
use crate::report::{Note, Why};
use allot_i18n::Message;

/// How to plan.
#[derive(Debug, Clone, Default)]
pub struct PlanRequest {
    /// The day the plan takes effect.
    pub date: i32,
    /// A scheme (text, file name) to plan with instead of the active one.
    pub scheme: Option<(String, String)>,
    /// Ignore current (unpinned) links and distribute from scratch.
    pub rebalance: bool,
}

/// One open of a plan, as the plan file keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlannedOpen {
    pub client: i64,
    pub role: String,
    pub employee: i64,
    pub from: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    pub cause: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub note: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub absence: Option<i64>,
}

/// Gains and losses of one employee in one role.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Delta {
    pub employee: String,
    pub role: String,
    pub clients_before: u64,
    pub clients_after: u64,
    pub gained: u64,
    pub lost: u64,
    pub potential_gained: f64,
    pub potential_lost: f64,
}

/// (client, role) pairs that stay or become unassigned, by reason.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Unassigned {
    pub role: String,
    /// The reason in English (the CLI's and the API's words).
    pub reason: String,
    pub count: u64,
    pub examples: Vec<String>,
    /// The reason, to be said in the reader's language (absent in plans made before it was kept).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub why: Option<Why>,
}

/// What a plan changes, for people.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub clients: u64,
    /// Links opened by cause (`new`, `rule`, `leaver`, `cover`, ...).
    pub moves_by_cause: BTreeMap<String, u64>,
    /// Links closed with no successor (the pair becomes unassigned).
    pub closed_unassigned: u64,
    /// Moves decided by each rule (cause `rule`/`new`/`rebalance`), with what the scheme change
    /// did to that rule.
    pub moves_by_rule: Vec<(String, String, u64)>,
    /// The scheme's changes against the active version (`rule x: changed`).
    pub scheme_changes: Vec<String>,
    pub employees: Vec<Delta>,
    pub unassigned: Vec<Unassigned>,
    pub notes: Vec<crate::report::Note>,
}

/// A plan: what to close and open, made on a revision; applied exactly, or refused.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    /// The plan file format.
    pub allot_plan: u32,
    pub made_by: String,
    pub made_at: String,
    pub store: String,
    pub base_revision: i64,
    pub date: String,
    pub rebalance: bool,
    pub scheme_version: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_scheme: Option<String>,
    pub roles: Vec<String>,
    pub closes: Vec<(i64, String)>,
    pub opens: Vec<PlannedOpen>,
    pub absences: Vec<i64>,
    pub leavers: Vec<i64>,
    pub summary: Summary,
    /// FNV-1a 64 of the plan without this field: a file edited after planning is refused.
    #[serde(default)]
    pub digest: String,
}

pub(crate) const PLAN_FORMAT: u32 = 1;

/// FNV-1a 64 as a writer: a plan's JSON is hashed as it is written, never held (a first plan of
/// a whole book is 200 MB of it).
struct Fnv1a(u64);

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;

impl Fnv1a {
    fn add(&mut self, bytes: &[u8]) {
        self.0 = bytes.iter().fold(self.0, |h, &b| (h ^ b as u64).wrapping_mul(0x0100_0000_01b3));
    }
}

impl std::io::Write for Fnv1a {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.add(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Plan {
    /// The digest of the plan's JSON with the digest field empty.
    fn compute_digest(&mut self) -> String {
        let kept = std::mem::take(&mut self.digest);
        let mut h = Fnv1a(FNV_OFFSET);
        let written = serde_json::to_writer(&mut h, &*self);
        self.digest = kept;
        match written {
            Ok(()) => format!("{:016x}", h.0),
            Err(_) => format!("{FNV_OFFSET:016x}"),
        }
    }
    pub fn seal(mut self) -> Plan {
        self.digest = self.compute_digest();
        self
    }
    /// Reads a plan file and checks it is whole and unedited.
    pub fn parse(text: &str, file: &str) -> Result<Plan, AppError> {
        let mut plan: Plan = serde_json::from_str(text).map_err(|e| {
            AppError::Input(vec![Diagnostic::error(format!("not a plan file: {e}"))
                .file(file)
                .at(e.line(), e.column())
                .expected("the JSON that `allot plan -o FILE` writes")])
        })?;
        if plan.allot_plan != PLAN_FORMAT {
            return Err(AppError::Refused(format!("{file}: plan format {} is not {PLAN_FORMAT}; make a new plan", plan.allot_plan)));
        }
        let digest = plan.compute_digest();
        if plan.digest != digest {
            return Err(AppError::Refused(format!(
                "{file} was changed after it was made (its digest does not match); make a new plan with `allot plan`"
            )));
        }
        Ok(plan)
    }
    pub fn moves(&self) -> usize {
        self.opens.len()
    }
    pub fn is_empty(&self) -> bool {
        self.opens.is_empty() && self.closes.is_empty() && self.new_scheme.is_none() && self.absences.is_empty() && self.leavers.is_empty()
    }
}

pub(crate) struct Pending<'a> {
    /// Absences to arrange now, by employee index.
    absences: HashMap<EmpIx, &'a allot_store::Absence>,
    leavers: HashMap<EmpIx, &'a allot_store::Leaver>,
}

/// Computes the plan of `req.date`: the engine's assignments against the stored links.
pub fn plan(store: &mut dyn Store, req: &PlanRequest, actor: &Actor) -> Result<Plan, AppError> {
    Ok(plan_reviewed(store, req, actor, false)?.plan)
}

/// A scheme draft checked against the store (issue #17 §1): the plan it would make (who gains and
/// loses how many clients and how much potential, what stays unassigned and why), what `allot
/// check` finds in it (rules that never fire or are shadowed, overlapping territories), and per
/// role how many clients it covers.
#[derive(Debug, Clone)]
pub struct DraftCheck {
    pub plan: Plan,
    pub findings: Vec<Diagnostic>,
    /// Per role: clients, and how many of them the draft assigns.
    pub coverage: Vec<(String, u64, u64)>,
}

/// Checks a scheme's text against the store on a day: located errors (`AppError::Input`) when it
/// does not read or does not fit the data, else its [`DraftCheck`].
pub fn check_draft(store: &mut dyn Store, text: &str, file: &str, date: i32, actor: &Actor) -> Result<DraftCheck, AppError> {
    let req = PlanRequest { date, scheme: Some((text.to_string(), file.to_string())), rebalance: false };
    plan_reviewed(store, &req, actor, true)
}

/// [`check_draft`] against a [`Base`] read before: nothing is read from the store. The draft
/// must [fit](Base::fits) the base.
pub fn check_draft_on(base: &Base, text: &str, file: &str, actor: &Actor) -> Result<DraftCheck, AppError> {
    let req = PlanRequest { date: base.date, scheme: Some((text.to_string(), file.to_string())), rebalance: false };
    plan_of(base.state((text, file))?, base.backend, &req, actor, true)
}

fn plan_reviewed(store: &mut dyn Store, req: &PlanRequest, actor: &Actor, review: bool) -> Result<DraftCheck, AppError> {
    let book = open_state(store, req.date, req.scheme.as_ref().map(|(t, f)| (t.as_str(), f.as_str())))?;
    plan_of(book, store.backend(), req, actor, review)
}

fn plan_of(book: State, backend: &str, req: &PlanRequest, actor: &Actor, review: bool) -> Result<DraftCheck, AppError> {
    let _span = tracing::info_span!("plan").entered();
    let d = req.date;
    let snap = &book.snap;
    // History is never rewritten: a plan cannot be dated before a change already applied.
    if let Some(later) = snap.links.iter().filter(|l| l.from.0 > d && !matches!(l.cause, Cause::Return)).map(|l| l.from).max() {
        return Err(AppError::Refused(format!(
            "the book already has changes dated {}; plan on that day or later (history is never rewritten)",
            later
        )));
    }
    let l = &book.loaded;
    let scheme = &l.scheme;
    let mut notes = Vec::new();
    let mut pending = Pending { absences: HashMap::new(), leavers: HashMap::new() };
    for a in snap.absences.iter().filter(|a| !a.applied) {
        let Some(e) = book.emp_of_key(a.employee) else { continue };
        let employee = scheme.employees[e as usize].id.clone();
        let (first, last) = (a.first.to_string(), a.last.to_string());
        if d < a.first.0 {
            notes.push(Note::AbsenceAhead { employee, first, last });
        } else if d > a.last.0 {
            notes.push(Note::AbsenceOver { employee, first, last });
        } else {
            pending.absences.insert(e, a);
        }
    }
    for lv in snap.leavers.iter().filter(|x| !x.applied) {
        let Some(e) = book.emp_of_key(lv.employee) else { continue };
        if d < lv.on.0 {
            notes.push(Note::LeavesAhead { employee: scheme.employees[e as usize].id.clone(), on: lv.on.to_string() });
        } else {
            pending.leavers.insert(e, lv);
        }
    }
    // An absent owner keeps clients by stickiness (S1.3); for an absence arranged now, their
    // links are left out so that the rules pick the covers (the absentee is not eligible).
    let current: Vec<CurrentLink> = l.current.iter().filter(|c| !pending.absences.contains_key(&c.employee)).copied().collect();
    let outcome = allot_core::assign(scheme, &l.compiled, &l.data, &current, &Options { today: d, rebalance: req.rebalance, watch: None });
    let (findings, coverage) = if review {
        let r = allot_core::check::review(scheme, &l.data, &outcome);
        let coverage = r.coverage.iter().map(|c| (scheme.roles[c.role].id.clone(), c.clients, c.assigned)).collect();
        (r.findings, coverage)
    } else {
        (vec![], vec![])
    };
    let scheme_changes = match &snap.scheme {
        Some(active) if book.scheme_is_new => scheme_diff_lines(&active.text, &book.scheme_text),
        _ => vec![],
    };
    let changed_rules: HashMap<String, String> = scheme_changes
        .iter()
        .filter_map(|s| s.strip_prefix("rule ").and_then(|r| r.split_once(": ")).map(|(id, what)| (id.to_string(), what.to_string())))
        .collect();
    let mut out = Diff::new(&book, &outcome, &pending, req.rebalance);
    out.run();
    let Diff { closes, opens, by_rule, unassigned, deltas, closed_unassigned, kept, .. } = out;
    for ((role, why), count) in kept {
        notes.push(Note::Kept { count, role, why });
    }

    let mut moves_by_cause: BTreeMap<String, u64> = BTreeMap::new();
    for o in &opens {
        *moves_by_cause.entry(o.cause.clone()).or_default() += 1;
    }
    let moves_by_rule = by_rule
        .into_iter()
        .map(|(rule, n)| {
            let what = changed_rules.get(&rule).cloned().unwrap_or_else(|| {
                if book.scheme_is_new && snap.scheme.is_some() {
                    "unchanged".into()
                } else {
                    String::new()
                }
            });
            (rule, what, n)
        })
        .collect();
    let summary = Summary {
        clients: l.data.clients.len() as u64,
        moves_by_cause,
        closed_unassigned,
        moves_by_rule,
        scheme_changes,
        employees: deltas,
        unassigned,
        notes,
    };
    let plan = Plan {
        allot_plan: PLAN_FORMAT,
        made_by: actor.by.clone(),
        made_at: actor.at.clone(),
        store: backend.to_string(),
        base_revision: snap.revision,
        date: civil_from_days(d),
        rebalance: req.rebalance,
        scheme_version: book.scheme_version,
        new_scheme: book.scheme_is_new.then(|| book.scheme_text.clone()),
        roles: scheme.roles.iter().map(|r| r.id.clone()).collect(),
        closes: closes.into_iter().map(|c| (c.link.0, c.at.to_string())).collect(),
        opens,
        absences: pending.absences.values().map(|a| a.id).collect::<BTreeSet<_>>().into_iter().collect(),
        leavers: pending.leavers.values().map(|x| x.id).collect::<BTreeSet<_>>().into_iter().collect(),
        summary,
        digest: String::new(),
    };
    Ok(DraftCheck { plan: plan.seal(), findings, coverage })
}

/// Per (employee, role k): links held before and after the plan, and what moved.
pub(crate) struct Tally {
    nr: usize,
    before: Vec<u64>,
    after: Vec<u64>,
    gained: Vec<(u64, f64)>,
    lost: Vec<(u64, f64)>,
}

impl Tally {
    fn new(employees: usize, nr: usize) -> Tally {
        let n = employees * nr;
        Tally { nr, before: vec![0; n], after: vec![0; n], gained: vec![(0, 0.0); n], lost: vec![(0, 0.0); n] }
    }
    fn at(&self, e: EmpIx, k: usize) -> usize {
        e as usize * self.nr + k
    }
    fn held(&mut self, e: EmpIx, k: usize) {
        let i = self.at(e, k);
        self.before[i] += 1;
    }
    fn keeps(&mut self, e: EmpIx, k: usize) {
        let i = self.at(e, k);
        self.after[i] += 1;
    }
    /// A (client, role) of potential `p` leaves `from` (if anyone held it) for `to` (if anyone).
    fn moves(&mut self, from: Option<EmpIx>, to: Option<EmpIx>, k: usize, p: f64) {
        if let Some(x) = from {
            let i = self.at(x, k);
            self.lost[i].0 += 1;
            self.lost[i].1 += p;
        }
        if let Some(n) = to {
            let i = self.at(n, k);
            self.gained[i].0 += 1;
            self.gained[i].1 += p;
            self.after[i] += 1;
        }
    }
}

/// What the passes of [`Diff::run`] share.
struct Pass<'a> {
    nr: usize,
    d: i32,
    d_text: String,
    roles: Vec<RoleIx>,
    potential: allot_core::engine::Measure<'a>,
    /// Per (client row × roles + role): the link valid on the day, and the next scheduled one.
    held: Vec<Option<&'a Link>>,
    next: Vec<Option<&'a Link>>,
    /// Links of roles the scheme no longer assigns, closed, by role.
    dropped_roles: BTreeMap<String, u64>,
    tally: Tally,
    /// (role k, why) → (count, a few example client ids).
    unassigned: BTreeMap<(usize, Why), (u64, Vec<String>)>,
    /// Leavers' and absentees' pairs the rules could not place: handed to peers at the end.
    orphans: Vec<(u32, usize, &'a Link)>,
}

/// Walks every (client, role) and writes down what changes.
pub(crate) struct Diff<'a> {
    book: &'a State,
    outcome: &'a Outcome,
    pending: &'a Pending<'a>,
    rebalance: bool,
    closes: Vec<Close>,
    opens: Vec<PlannedOpen>,
    by_rule: BTreeMap<String, u64>,
    unassigned: Vec<Unassigned>,
    deltas: Vec<Delta>,
    closed_unassigned: u64,
    /// Pairs kept by their holder because the rule's target cannot take them: (role, why) → count.
    kept: BTreeMap<(String, Why), u64>,
}

impl<'a> Diff<'a> {
    fn new(book: &'a State, outcome: &'a Outcome, pending: &'a Pending<'a>, rebalance: bool) -> Diff<'a> {
        Diff {
            book,
            outcome,
            pending,
            rebalance,
            closes: vec![],
            opens: vec![],
            by_rule: BTreeMap::new(),
            unassigned: vec![],
            deltas: vec![],
            closed_unassigned: 0,
            kept: BTreeMap::new(),
        }
    }

    /// Compares the engine's outcome with the stored links, cell by cell: what stays, what moves
    /// and why, covers for absences, hand-overs from leavers, what stays unassigned.
    fn run(&mut self) {
        let mut pass = self.index_links();
        self.compare(&mut pass);
        self.hand_over(&mut pass);
        self.cancel_scheduled_of_leavers(pass.d);
        self.summarise(pass);
    }

    /// The link valid on the day and the next scheduled one, per (client row, role); links of a
    /// role the scheme no longer assigns end on the day.
    fn index_links(&mut self) -> Pass<'a> {
        let book = self.book;
        let scheme = &book.loaded.scheme;
        let data = &book.loaded.data;
        let d = book.snap.date.0;
        let roles = client_roles(scheme);
        let nr = roles.len();
        let role_k: HashMap<RoleIx, usize> = roles.iter().enumerate().map(|(k, r)| (*r, k)).collect();
        let (potential, _) = measures(scheme, data);
        let ne = scheme.employees.len();
        let n = data.clients.len();
        let mut held: Vec<Option<&Link>> = vec![None; n * nr];
        let mut next: Vec<Option<&Link>> = vec![None; n * nr];
        let mut dropped_roles: BTreeMap<String, u64> = BTreeMap::new();
        for link in &book.snap.links {
            let Some(row) = book.row_of_key(link.client) else { continue };
            let k = scheme.role(&link.role).and_then(|r| role_k.get(&r).copied());
            let Some(k) = k else {
                // A role the scheme no longer has (or no longer assigns): its links end today.
                if link.from <= allot_store::Day(d) {
                    self.closes.push(Close { link: link.id, at: allot_store::Day(d) });
                    *dropped_roles.entry(link.role.clone()).or_default() += 1;
                    self.closed_unassigned += 1;
                }
                continue;
            };
            let i = row as usize * nr + k;
            if link.from <= allot_store::Day(d) {
                held[i] = Some(link);
            } else if next[i].is_none_or(|n| link.from < n.from) {
                next[i] = Some(link);
            }
        }
        Pass {
            nr,
            d,
            d_text: civil_from_days(d),
            roles,
            potential,
            held,
            next,
            dropped_roles,
            // Per (employee, role k): links before and after, gains and losses.
            tally: Tally::new(ne, nr),
            unassigned: BTreeMap::new(),
            orphans: Vec::new(),
        }
    }

    /// Each (client, role): kept, moved (with its cause), covered, orphaned or unassigned.
    fn compare(&mut self, pass: &mut Pass<'a>) {
        let book = self.book;
        let scheme = &book.loaded.scheme;
        let data = &book.loaded.data;
        let (nr, d) = (pass.nr, pass.d);
        let Pass { roles, d_text, potential, held, next, tally, unassigned, orphans, .. } = pass;
        let past: BTreeSet<(ClientKey, &str)> = book.snap.past.iter().map(|(c, r)| (*c, r.as_str())).collect();
        let rule_id = |cell: &allot_core::Cell| cell.rule().map(|r| scheme.rules[r].id.clone());
        for row in 0..data.clients.len() as u32 {
            for (k, &role) in roles.iter().enumerate() {
                let cell = self.outcome.cell(row, k);
                let old = held[row as usize * nr + k];
                let old_emp = old.and_then(|l| book.emp_of_key(l.employee));
                if let Some(e) = old_emp {
                    tally.held(e, k);
                }
                let new_emp = cell.employee();
                let nxt = next[row as usize * nr + k];
                let p = potential.get(row as usize);
                let role_id = &scheme.roles[role].id;
                // The owner's absence is arranged now: a cover until the day after, then back.
                if let (Some(link), Some(x)) = (old, old_emp) {
                    if let Some(a) = self.pending.absences.get(&x) {
                        if link.cause != Cause::Cover {
                            let cover = a.cover.and_then(|k| book.emp_of_key(k)).or(new_emp.filter(|&n| n != x));
                            match cover {
                                Some(c) => {
                                    self.cover(link, row, role_id, c, x, a, nxt, k, p, tally);
                                }
                                None => orphans.push((row, k, link)),
                            }
                            continue;
                        }
                    }
                }
                if old_emp.is_some() && old_emp == new_emp {
                    tally.keeps(new_emp.unwrap_or(0), k);
                    continue;
                }
                let cause = match (old, old_emp) {
                    (None, _) if !past.contains(&(book.client_keys[row as usize], role_id.as_str())) => Cause::New,
                    (None, _) => Cause::Rule,
                    (Some(_), Some(x)) if self.pending.leavers.contains_key(&x) || !scheme.employees[x as usize].active => Cause::Leaver,
                    (Some(_), Some(x)) if scheme.employees[x as usize].absent_on(d) => Cause::Absence,
                    _ if self.rebalance => Cause::Rebalance,
                    _ => Cause::Rule,
                };
                match new_emp {
                    Some(n) => {
                        if let Some(link) = old {
                            self.closes.push(Close { link: link.id, at: allot_store::Day(d) });
                        }
                        tally.moves(old_emp, Some(n), k, p);
                        let rule = rule_id(cell);
                        if let Some(r) = &rule {
                            *self.by_rule.entry(r.clone()).or_default() += 1;
                        }
                        self.opens.push(PlannedOpen {
                            client: book.client_keys[row as usize].0,
                            role: role_id.clone(),
                            employee: book.employee_keys[n as usize].0,
                            from: d_text.clone(),
                            to: nxt.map(|l| l.from.to_string()),
                            cause: cause.as_str().into(),
                            rule,
                            note: String::new(),
                            absence: None,
                        });
                    }
                    None if cause == Cause::Leaver && old.is_some() => {
                        if let Some(link) = old {
                            orphans.push((row, k, link));
                        }
                    }
                    // The rule's target cannot take it (the territory owner left, a pool is
                    // full): a holder who still can keeps it, rather than nobody.
                    None if old_emp.is_some_and(|x| {
                        let e = &scheme.employees[x as usize];
                        e.active && !e.absent_on(d) && !self.pending.leavers.contains_key(&x)
                    }) && matches!(cell.how, How::Unassigned(Reason::Unavailable(..) | Reason::PoolExhausted { .. })) =>
                    {
                        let x = old_emp.unwrap_or(0);
                        tally.keeps(x, k);
                        let why = match cell.how {
                            How::Unassigned(r) => Why::of(scheme, data, &r),
                            _ => Why::NoRuleMatched,
                        };
                        *self.kept.entry((role_id.clone(), why)).or_default() += 1;
                    }
                    None => {
                        if let Some(link) = old {
                            self.closes.push(Close { link: link.id, at: allot_store::Day(d) });
                            self.closed_unassigned += 1;
                            tally.moves(old_emp, None, k, p);
                        }
                        let why = match cell.how {
                            How::Unassigned(r) => Why::of(scheme, data, &r),
                            _ => Why::NoRuleMatched,
                        };
                        let e = unassigned.entry((k, why)).or_default();
                        e.0 += 1;
                        if e.1.len() < 3 {
                            e.1.push(data.clients.id(row).to_string());
                        }
                    }
                }
            }
        }
    }

    /// Leavers' and absentees' pairs the rules could not place go to the peers of their owner
    /// (teammates who are active and present), largest potential first, each to the peer with the
    /// least potential in that role.
    fn hand_over(&mut self, pass: &mut Pass<'a>) {
        let book = self.book;
        let scheme = &book.loaded.scheme;
        let data = &book.loaded.data;
        let (nr, d) = (pass.nr, pass.d);
        let ne = scheme.employees.len();
        let ranks = id_ranks(scheme);
        let Pass { roles, d_text, potential, next, tally, unassigned, orphans, .. } = pass;
        let orphans = std::mem::take(orphans);
        let mut load_p = vec![0f64; ne * nr];
        for row in 0..data.clients.len() as u32 {
            for k in 0..nr {
                if let Some(e) = self.outcome.cell(row, k).employee() {
                    load_p[e as usize * nr + k] += potential.get(row as usize);
                }
            }
        }
        let mut orphans = orphans;
        orphans.sort_by(|a, b| potential.get(b.0 as usize).total_cmp(&potential.get(a.0 as usize)).then(a.0.cmp(&b.0)).then(a.1.cmp(&b.1)));
        for (row, k, link) in orphans {
            let role = roles[k];
            let role_id = &scheme.roles[role].id;
            let Some(x) = book.emp_of_key(link.employee) else { continue };
            let p = potential.get(row as usize);
            let peers = self.peers(x);
            let pick = peers.iter().copied().min_by(|&a, &b| {
                load_p[a as usize * nr + k].total_cmp(&load_p[b as usize * nr + k]).then(ranks[a as usize].cmp(&ranks[b as usize]))
            });
            let nxt = next[row as usize * nr + k];
            match pick {
                Some(c) => {
                    load_p[c as usize * nr + k] += p;
                    if let Some(a) = self.pending.absences.get(&x) {
                        self.cover(link, row, role_id, c, x, a, nxt, k, p, tally);
                    } else {
                        self.closes.push(Close { link: link.id, at: allot_store::Day(d) });
                        tally.moves(Some(x), Some(c), k, p);
                        self.opens.push(PlannedOpen {
                            client: link.client.0,
                            role: role_id.clone(),
                            employee: book.employee_keys[c as usize].0,
                            from: d_text.clone(),
                            to: nxt.map(|l| l.from.to_string()),
                            cause: Cause::Leaver.as_str().into(),
                            rule: None,
                            note: allot_i18n::kept::encode(&[
                                Message::new("note-taken-over").text("employee", scheme.employees[x as usize].id.as_str())
                            ]),
                            absence: None,
                        });
                    }
                }
                None => {
                    // Nobody can take it: it stays with the owner (an absence) or ends (a leaver).
                    let why = Why::NoTakeOver { employee: scheme.employees[x as usize].id.clone() };
                    if self.pending.leavers.contains_key(&x) || !scheme.employees[x as usize].active {
                        self.closes.push(Close { link: link.id, at: allot_store::Day(d) });
                        self.closed_unassigned += 1;
                        tally.moves(Some(x), None, k, p);
                    } else {
                        tally.keeps(x, k);
                    }
                    let e = unassigned.entry((k, why)).or_default();
                    e.0 += 1;
                    if e.1.len() < 3 {
                        e.1.push(data.clients.id(row).to_string());
                    }
                }
            }
        }
    }

    /// A leaver's scheduled links (a return from an absence) are cancelled.
    fn cancel_scheduled_of_leavers(&mut self, d: i32) {
        let book = self.book;
        for link in book.snap.links.iter().filter(|l| l.from > allot_store::Day(d)) {
            if let Some(x) = book.emp_of_key(link.employee) {
                if self.pending.leavers.contains_key(&x) {
                    self.closes.push(Close { link: link.id, at: link.from });
                }
            }
        }
    }

    /// What stays unassigned and why, and each employee's gains and losses per role.
    fn summarise(&mut self, pass: Pass<'a>) {
        let scheme = &self.book.loaded.scheme;
        let ne = scheme.employees.len();
        let Pass { roles, nr, dropped_roles, unassigned, tally, .. } = pass;
        for (role, n) in dropped_roles {
            let why = Why::RoleDropped;
            self.unassigned.push(Unassigned { role, reason: why.text(allot_i18n::Lang::En), count: n, examples: vec![], why: Some(why) });
        }
        for ((k, why), (count, examples)) in unassigned {
            let (role, reason) = (scheme.roles[roles[k]].id.clone(), why.text(allot_i18n::Lang::En));
            self.unassigned.push(Unassigned { role, reason, count, examples, why: Some(why) });
        }
        for e in 0..ne {
            for (k, &role) in roles.iter().enumerate() {
                let i = e * nr + k;
                let (before, after, gained, lost) = (tally.before[i], tally.after[i], tally.gained[i], tally.lost[i]);
                if before == 0 && after == 0 && gained.0 == 0 && lost.0 == 0 {
                    continue;
                }
                self.deltas.push(Delta {
                    employee: scheme.employees[e].id.clone(),
                    role: scheme.roles[role].id.clone(),
                    clients_before: before,
                    clients_after: after,
                    gained: gained.0,
                    lost: lost.0,
                    potential_gained: gained.1,
                    potential_lost: lost.1,
                });
            }
        }
        self.deltas.sort_by(|a, b| a.employee.cmp(&b.employee).then(a.role.cmp(&b.role)));
        self.closes.sort_by_key(|c| c.link);
    }

    /// Employees who may take over from `x`: active, present on the day, not leaving, sharing a
    /// team with `x`.
    fn peers(&self, x: EmpIx) -> Vec<EmpIx> {
        let scheme = &self.book.loaded.scheme;
        let d = self.book.snap.date.0;
        let me = &scheme.employees[x as usize];
        (0..scheme.employees.len() as EmpIx)
            .filter(|&e| e != x)
            .filter(|&e| {
                let p = &scheme.employees[e as usize];
                p.active
                    && !p.absent_on(d)
                    && !self.pending.leavers.contains_key(&e)
                    && !self.pending.absences.contains_key(&e)
                    && p.teams.iter().any(|t| me.teams.contains(t))
            })
            .collect()
    }

    #[allow(clippy::too_many_arguments)]
    fn cover(
        &mut self,
        link: &Link,
        row: u32,
        role_id: &str,
        cover: EmpIx,
        owner: EmpIx,
        a: &allot_store::Absence,
        nxt: Option<&Link>,
        k: usize,
        p: f64,
        tally: &mut Tally,
    ) {
        let book = self.book;
        let scheme = &book.loaded.scheme;
        let d = book.snap.date.0;
        let back = a.last.0 + 1;
        let ends = nxt.map_or(back, |l| l.from.0.min(back));
        self.closes.push(Close { link: link.id, at: allot_store::Day(d) });
        tally.moves(Some(owner), Some(cover), k, p);
        let owner_id = &scheme.employees[owner as usize].id;
        self.opens.push(PlannedOpen {
            client: book.client_keys[row as usize].0,
            role: role_id.to_string(),
            employee: book.employee_keys[cover as usize].0,
            from: civil_from_days(d),
            to: Some(civil_from_days(ends)),
            cause: Cause::Cover.as_str().into(),
            rule: None,
            note: allot_i18n::kept::encode(&[Message::new("note-covers")
                .text("employee", owner_id.as_str())
                .day("first", a.first.0)
                .day("last", a.last.0)]),
            absence: Some(a.id),
        });
        if nxt.is_none_or(|l| l.from > allot_store::Day(back)) {
            self.opens.push(PlannedOpen {
                client: book.client_keys[row as usize].0,
                role: role_id.to_string(),
                employee: link.employee.0,
                from: civil_from_days(back),
                to: nxt.map(|l| l.from.to_string()),
                cause: Cause::Return.as_str().into(),
                rule: link.rule.clone(),
                note: allot_i18n::kept::encode(&[Message::new("note-back").day("first", a.first.0).day("last", a.last.0)]),
                absence: Some(a.id),
            });
        }
    }
}

/// The parts a new scheme changes against the active one, one line each (`rule x: changed`).
pub fn scheme_diff_lines(active: &str, new: &str) -> Vec<String> {
    let (Ok(a), Ok(b)) = (allot_io::scheme::outline(active), allot_io::scheme::outline(new)) else {
        return vec!["the scheme text changed".into()];
    };
    let mut out = Vec::new();
    for (k, v) in &b {
        match a.get(k) {
            None => out.push(format!("{k}: added")),
            Some(old) if old != v => {
                let what = if k.starts_with("rule ") && strip_priority(old) == strip_priority(v) { "moved in priority" } else { "changed" };
                out.push(format!("{k}: {what}"));
            }
            _ => {}
        }
    }
    for k in a.keys().filter(|k| !b.contains_key(*k)) {
        out.push(format!("{k}: removed"));
    }
    out
}

pub(crate) fn strip_priority(s: &str) -> &str {
    s.rsplit_once(" (priority ").map_or(s, |(a, _)| a)
}

/// A unified diff of two scheme texts.
pub fn scheme_text_diff(active: &str, new: &str, active_name: &str, new_name: &str) -> String {
    similar::TextDiff::from_lines(active, new).unified_diff().context_radius(2).header(active_name, new_name).to_string()
}
