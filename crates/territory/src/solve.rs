//! The territory designer: balanced, compact, optionally contiguous territories, and re-balancing
//! an existing design with as few moves as possible.
//!
//! # How a design is found
//! 1. **Giants** (S2.1 cannot be met for them): a unit whose primary weight is at least the mean of
//!    the territories still to be formed gets a territory of its own; the rest is balanced among
//!    the others. The report states the bound this puts on the spread.
//! 2. **Location–allocation with prices.** Centres start by k-means++ (or at the owners' homes).
//!    Each unit goes to the territory minimising `distance − price`; the prices are the duals of the
//!    balanced transportation problem, found by exact coordinate ascent (for one territory, the
//!    price that brings its total closest to its target is a weighted quantile of the thresholds at
//!    which units would switch to it). The regions this draws are additively weighted Voronoi cells:
//!    compact and, in the plane, connected. Centres then move to the territories' medians (at unit
//!    sites, when that is cheap) or weighted spherical centroids, and the two steps alternate.
//! 3. **Contiguity** (on request): pieces cut off from their territory join the neighbour they
//!    share most edges with.
//! 4. **Repair** to the tolerance of every criterion: the worst territory gives or takes a boundary
//!    unit, the move that removes the most violation at the least loss of compactness (and, when
//!    re-balancing, the least potential taken from its owner); a move never splits a territory.
//!    When no neighbour has room, potential is pushed towards the nearest territory that has some.
//! 5. **Improvement**: boundary moves that shorten distances without leaving the tolerance.
//!
//! Restarts with different seeds run while the restart count and the time limit allow; the best
//! design (least violation, then least cost) is kept, and is what a stop returns.
//!
//! Re-balancing (`current` given) skips 1–2 and 5: it starts from the current design and repairs
//! it, so only what the tolerance needs moves (Zoltners & Sinha's continuity; S1.3).

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use rayon::prelude::*;

use crate::geo::{centroid, dist, dot, Vec3};
use crate::graph::Graph;

/// One balancing criterion: a value per unit and, when it is balanced, the tolerance (a fraction:
/// 0.01 = 1%). The first criterion is the primary one; it also weighs compactness.
#[derive(Clone, Debug)]
pub struct Criterion {
    pub name: String,
    pub values: Vec<f64>,
    pub tolerance: Option<f64>,
}

/// What to design. Every vector indexed by unit has `pos.len()` entries; by territory, `shares.len()`.
#[derive(Clone, Debug, Default)]
pub struct Problem {
    pub pos: Vec<Vec3>,
    pub criteria: Vec<Criterion>,
    pub graph: Graph,
    /// Each territory's share of every criterion's total (weights of part-time owners); positive.
    pub shares: Vec<f64>,
    /// A fixed centre per territory (the owner's home), if any.
    pub homes: Vec<Option<Vec3>>,
    /// Units that must stay in a territory (pinned clients, fixed units).
    pub fixed: Vec<Option<u32>>,
    /// The current design, for re-balancing.
    pub current: Option<Vec<Option<u32>>>,
}

#[derive(Clone, Debug)]
pub struct Settings {
    pub contiguous: bool,
    pub seed: u64,
    /// Designs tried from different starting centres; the best is kept.
    pub restarts: usize,
    /// How long the design may take, by the caller's clock (this crate reads none).
    pub time_limit: Option<TimeLimit>,
    /// Re-balancing: the most primary weight (share of the total) that may leave its current territory.
    pub max_moved_share: Option<f64>,
    /// Re-balancing: the most units that may leave their current territory.
    pub max_moved_units: Option<usize>,
}

/// A time limit and the clock it is measured by: the caller's (`allot-app::clock::instant`), so
/// that this crate stays pure computation and a test can give a clock of its own.
#[derive(Clone, Copy, Debug)]
pub struct TimeLimit {
    pub limit: Duration,
    pub clock: fn() -> Instant,
}

/// When a design must stop.
#[derive(Clone, Copy, Debug)]
struct Deadline {
    at: Instant,
    clock: fn() -> Instant,
}

impl Deadline {
    fn passed(&self) -> bool {
        (self.clock)() > self.at
    }
}

impl Default for Settings {
    fn default() -> Settings {
        Settings { contiguous: false, seed: 1, restarts: 8, time_limit: None, max_moved_share: None, max_moved_units: None }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stop {
    /// Every restart ran.
    Done,
    TimeLimit,
    Interrupted,
    /// Re-balancing reached its cap on moves before the tolerance.
    MoveCap,
}

/// Progress and cancellation: the designer reports each restart and polls `cancelled`.
pub trait Observer: Sync {
    fn restart(&self, _done: usize, _of: usize) {}
    fn cancelled(&self) -> bool {
        false
    }
}

impl Observer for () {}

impl Observer for AtomicBool {
    fn cancelled(&self) -> bool {
        self.load(Ordering::Relaxed)
    }
}

#[derive(Clone, Debug)]
pub struct Solution {
    /// The territory of each unit.
    pub territory: Vec<u32>,
    /// Each territory's centre (median, centroid or home).
    pub centres: Vec<Vec3>,
    /// Units that got a territory of their own because they alone reach the mean.
    pub giants: Vec<u32>,
    pub restarts: usize,
    pub stop: Stop,
    /// The repair could not reach every tolerance (the report says how far it got).
    pub stalled: bool,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ProblemError {
    #[error("no units to divide")]
    NoUnits,
    #[error("{0} territories asked for, but there are only {1} units")]
    TooFewUnits(usize, usize),
    #[error("at least one territory is needed")]
    NoTerritories,
    #[error("`{0}` has {1} values for {2} units")]
    Length(String, usize, usize),
    #[error("`{criterion}` of unit #{unit} is {value}; expected a finite number ≥ 0")]
    BadValue { criterion: String, unit: usize, value: f64 },
    #[error("the share of territory #{0} is {1}; expected a number > 0")]
    BadShare(usize, f64),
    #[error("unit #{0} is fixed to territory #{1}, but there are only {2}")]
    FixedOutOfRange(usize, u32, usize),
}

impl Problem {
    pub fn validate(&self) -> Result<(), ProblemError> {
        let (n, k) = (self.pos.len(), self.shares.len());
        if n == 0 {
            return Err(ProblemError::NoUnits);
        }
        if k == 0 {
            return Err(ProblemError::NoTerritories);
        }
        if k > n {
            return Err(ProblemError::TooFewUnits(k, n));
        }
        for c in &self.criteria {
            if c.values.len() != n {
                return Err(ProblemError::Length(c.name.clone(), c.values.len(), n));
            }
            if let Some((unit, &value)) = c.values.iter().enumerate().find(|(_, v)| !v.is_finite() || **v < 0.0) {
                return Err(ProblemError::BadValue { criterion: c.name.clone(), unit, value });
            }
        }
        if let Some((t, &s)) = self.shares.iter().enumerate().find(|(_, s)| !(s.is_finite() && **s > 0.0)) {
            return Err(ProblemError::BadShare(t, s));
        }
        for (i, f) in self.fixed.iter().enumerate() {
            if let Some(t) = f.filter(|&t| t as usize >= k) {
                return Err(ProblemError::FixedOutOfRange(i, t, k));
            }
        }
        Ok(())
    }
}

/// Giants: units whose primary weight is at least the mean of the territories still to be formed
/// (taken largest first). Such a territory cannot come within any tolerance; each gets its own.
pub fn giants(weights: &[f64], k: usize) -> Vec<u32> {
    let mut order: Vec<u32> = (0..weights.len() as u32).collect();
    order.sort_by(|&a, &b| weights[b as usize].total_cmp(&weights[a as usize]).then(a.cmp(&b)));
    let mut rest: f64 = weights.iter().sum();
    let mut out = Vec::new();
    for &i in &order {
        let left = k - out.len();
        if left <= 1 || rest <= 0.0 || weights[i as usize] < rest / left as f64 {
            break;
        }
        out.push(i);
        rest -= weights[i as usize];
    }
    out
}

/// Fixed facts derived from the problem: targets, bands, which territories are open to units.
struct Ctx<'p> {
    p: &'p Problem,
    n: usize,
    k: usize,
    w: &'p [f64],
    /// Targets per criterion and territory: `tgt[c][t]`.
    tgt: Vec<Vec<f64>>,
    /// The tolerance the repair aims at (a little inside the asked one, against rounding).
    tol: Vec<Option<f64>>,
    open: Vec<bool>,
    fixed: Vec<Option<u32>>,
    /// A typical distance (km), to put compactness on the scale of violation.
    scale: f64,
    contiguous: bool,
    medians: bool,
}

impl<'p> Ctx<'p> {
    fn new(p: &'p Problem, settings: &Settings, giants: &[u32]) -> Ctx<'p> {
        let (n, k) = (p.pos.len(), p.shares.len());
        let mut fixed = p.fixed.clone();
        fixed.resize(n, None);
        let mut open = vec![true; k];
        // A giant takes its current territory, else the one whose home is nearest, else the
        // free territory with the largest share.
        for &g in giants {
            let g = g as usize;
            let cur = p.current.as_ref().and_then(|c| c.get(g).copied().flatten()).filter(|&t| open[t as usize]);
            let t = fixed[g].filter(|&t| open[t as usize]).or(cur).or_else(|| {
                (0..k)
                    .filter(|&t| open[t])
                    .filter_map(|t| p.homes.get(t).copied().flatten().map(|h| (t, dist(h, p.pos[g]))))
                    .min_by(|a, b| a.1.total_cmp(&b.1))
                    .map(|(t, _)| t as u32)
            });
            let t = t.unwrap_or_else(|| {
                (0..k).filter(|&t| open[t]).max_by(|&a, &b| p.shares[a].total_cmp(&p.shares[b]).then(b.cmp(&a))).unwrap_or(0) as u32
            });
            fixed[g] = Some(t);
            open[t as usize] = false;
        }
        let open_share: f64 = (0..k).filter(|&t| open[t]).map(|t| p.shares[t]).sum();
        let tgt = p
            .criteria
            .iter()
            .map(|c| {
                let giant_total: f64 = giants.iter().map(|&g| c.values[g as usize]).sum();
                let rest: f64 = c.values.iter().sum::<f64>() - giant_total;
                (0..k)
                    .map(|t| {
                        if open[t] {
                            rest * p.shares[t] / open_share
                        } else {
                            giants.iter().filter(|&&g| fixed[g as usize] == Some(t as u32)).map(|&g| c.values[g as usize]).sum()
                        }
                    })
                    .collect()
            })
            .collect();
        let w = p.criteria.first().map(|c| c.values.as_slice()).unwrap_or(&[]);
        let centre = centroid(p.pos.iter().map(|&x| (x, 1.0))).unwrap_or([1.0, 0.0, 0.0]);
        let spread = p.pos.iter().map(|&x| dist(x, centre)).sum::<f64>() / n as f64;
        let scale = (spread / (k as f64).sqrt()).max(1e-3);
        Ctx {
            p,
            n,
            k,
            w,
            tgt,
            // Re-balancing aims at the asked band's very edge (every extra unit moved is a client
            // taken from its manager); a fresh design keeps a margin for the later rounds.
            tol: p.criteria.iter().map(|c| c.tolerance.map(|t| t * if p.current.is_some() { 0.999 } else { 0.98 })).collect(),
            open,
            fixed,
            scale,
            contiguous: settings.contiguous,
            medians: (n as f64) * (n as f64) / (k as f64) <= 4.0e6,
        }
    }

    /// How far territory `t` is outside its bands, if its totals were `tot(c)`.
    fn viol(&self, t: usize, tot: impl Fn(usize) -> f64) -> f64 {
        if !self.open[t] {
            return 0.0;
        }
        let mut v = 0.0;
        for (c, tol) in self.tol.iter().enumerate() {
            if let Some(tol) = tol {
                let target = self.tgt[c][t];
                if target <= 0.0 {
                    continue;
                }
                let x = tot(c);
                v += ((x - target * (1.0 + tol)).max(0.0) + (target * (1.0 - tol) - x).max(0.0)) / target;
            }
        }
        v
    }
}

/// A design being worked on: the territory of each unit, totals, member lists, centres.
struct State<'c, 'p> {
    ctx: &'c Ctx<'p>,
    a: Vec<u32>,
    tot: Vec<f64>,
    members: Vec<Vec<u32>>,
    slot: Vec<u32>,
    centres: Vec<Vec3>,
    stamp: Vec<u32>,
    gen: u32,
    moved_units: usize,
    moved_weight: f64,
    /// The `NEAR` nearest open centres of each unit (moves without contiguity may go there).
    near: Vec<u32>,
}

const NEAR: usize = 4;

impl<'c, 'p> State<'c, 'p> {
    fn new(ctx: &'c Ctx<'p>, a: Vec<u32>, centres: Vec<Vec3>) -> Self {
        let (k, nc) = (ctx.k, ctx.p.criteria.len());
        let mut tot = vec![0.0; nc * k];
        let mut members = vec![Vec::new(); k];
        let mut slot = vec![0u32; ctx.n];
        for (i, &t) in a.iter().enumerate() {
            for c in 0..nc {
                tot[c * k + t as usize] += ctx.p.criteria[c].values[i];
            }
            slot[i] = members[t as usize].len() as u32;
            members[t as usize].push(i as u32);
        }
        let mut s = State {
            ctx,
            a,
            tot,
            members,
            slot,
            centres,
            stamp: vec![0; ctx.n],
            gen: 0,
            moved_units: 0,
            moved_weight: 0.0,
            near: Vec::new(),
        };
        s.count_moves();
        s.find_near();
        s
    }

    fn count_moves(&mut self) {
        self.moved_units = 0;
        self.moved_weight = 0.0;
        if let Some(cur) = &self.ctx.p.current {
            for i in 0..self.ctx.n {
                if cur[i].is_some_and(|c| c != self.a[i]) {
                    self.moved_units += 1;
                    self.moved_weight += self.ctx.w[i];
                }
            }
        }
    }

    fn total(&self, c: usize, t: usize) -> f64 {
        self.tot[c * self.ctx.k + t]
    }

    fn viol(&self, t: usize) -> f64 {
        self.ctx.viol(t, |c| self.total(c, t))
    }

    fn total_viol(&self) -> f64 {
        (0..self.ctx.k).map(|t| self.viol(t)).sum()
    }

    /// Change in violation if unit `i` moved from its territory to `s`.
    fn delta_viol(&self, i: usize, s: usize) -> f64 {
        let t = self.a[i] as usize;
        let crit = &self.ctx.p.criteria;
        let after_t = self.ctx.viol(t, |c| self.total(c, t) - crit[c].values[i]);
        let after_s = self.ctx.viol(s, |c| self.total(c, s) + crit[c].values[i]);
        after_t + after_s - self.viol(t) - self.viol(s)
    }

    /// Change in cost (weighted distance, plus the price of moving a unit off its current owner).
    fn delta_cost(&self, i: usize, s: usize) -> f64 {
        let t = self.a[i] as usize;
        let pos = self.ctx.p.pos[i];
        let w = self.ctx.w[i].max(1e-9);
        let mut d = w * (dist(pos, self.centres[s]) - dist(pos, self.centres[t]));
        if let Some(cur) = self.ctx.p.current.as_ref().and_then(|c| c[i]) {
            let stay = 4.0 * self.ctx.scale * w;
            d += stay * ((s as u32 != cur) as i32 - (t as u32 != cur) as i32) as f64;
        }
        d
    }

    fn move_unit(&mut self, i: usize, s: usize) {
        let t = self.a[i] as usize;
        let k = self.ctx.k;
        for (c, crit) in self.ctx.p.criteria.iter().enumerate() {
            self.tot[c * k + t] -= crit.values[i];
            self.tot[c * k + s] += crit.values[i];
        }
        let at = self.slot[i] as usize;
        self.members[t].swap_remove(at);
        if let Some(&other) = self.members[t].get(at) {
            self.slot[other as usize] = at as u32;
        }
        self.slot[i] = self.members[s].len() as u32;
        self.members[s].push(i as u32);
        if let Some(cur) = self.ctx.p.current.as_ref().and_then(|c| c[i]) {
            let (was, now) = (t as u32 != cur, s as u32 != cur);
            if was != now {
                let sign = if now { 1.0 } else { -1.0 };
                self.moved_units = (self.moved_units as i64 + sign as i64) as usize;
                self.moved_weight += sign * self.ctx.w[i];
            }
        }
        self.a[i] = s as u32;
    }

    fn next_gen(&mut self) -> u32 {
        self.gen = self.gen.wrapping_add(1);
        if self.gen == 0 {
            self.stamp.iter_mut().for_each(|x| *x = 0);
            self.gen = 1;
        }
        self.gen
    }

    /// Whether taking `i` out of its territory keeps the territory's other units as connected as
    /// they are (its neighbours there still reach each other), and leaves it non-empty.
    fn removable(&mut self, i: usize) -> bool {
        let t = self.a[i];
        if self.members[t as usize].len() <= 1 || self.ctx.fixed[i].is_some() {
            return false;
        }
        if !self.ctx.contiguous {
            return true;
        }
        let g = &self.ctx.p.graph;
        let nb: Vec<u32> = g.neighbours(i).iter().copied().filter(|&j| self.a[j as usize] == t).collect();
        if nb.len() <= 1 {
            return true;
        }
        let gen = self.next_gen();
        self.stamp[i] = gen;
        let mut queue = vec![nb[0]];
        self.stamp[nb[0] as usize] = gen;
        let mut left = nb.len() - 1;
        let mut head = 0;
        while head < queue.len() {
            let x = queue[head] as usize;
            head += 1;
            for &y in g.neighbours(x) {
                if self.a[y as usize] == t && self.stamp[y as usize] != gen {
                    self.stamp[y as usize] = gen;
                    if nb[1..].contains(&y) {
                        left -= 1;
                        if left == 0 {
                            return true;
                        }
                    }
                    queue.push(y);
                }
            }
        }
        false
    }

    /// Territories `i` could move to: those of its graph neighbours, and without contiguity also
    /// the territories of the nearest centres.
    fn targets_of(&self, i: usize, out: &mut Vec<u32>) {
        out.clear();
        let t = self.a[i];
        for &j in self.ctx.p.graph.neighbours(i) {
            let s = self.a[j as usize];
            if s != t && self.ctx.open[s as usize] && !out.contains(&s) {
                out.push(s);
            }
        }
        if !self.ctx.contiguous {
            for &s in &self.near[i * NEAR..(i + 1) * NEAR] {
                if s != t && s != u32::MAX && !out.contains(&s) {
                    out.push(s);
                }
            }
        }
    }

    /// Pieces of territory `t` (connected components over the graph), largest weight first.
    fn pieces(&mut self, t: usize) -> Vec<Vec<u32>> {
        let gen = self.next_gen();
        let g = &self.ctx.p.graph;
        let mut out: Vec<(f64, Vec<u32>)> = Vec::new();
        for &start in &self.members[t] {
            if self.stamp[start as usize] == gen {
                continue;
            }
            self.stamp[start as usize] = gen;
            let mut piece = vec![start];
            let mut head = 0;
            while head < piece.len() {
                let x = piece[head] as usize;
                head += 1;
                for &y in g.neighbours(x) {
                    if self.a[y as usize] == t as u32 && self.stamp[y as usize] != gen {
                        self.stamp[y as usize] = gen;
                        piece.push(y);
                    }
                }
            }
            let w: f64 = piece.iter().map(|&x| self.ctx.w[x as usize]).sum::<f64>() + piece.len() as f64 * 1e-9;
            out.push((w, piece));
        }
        out.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1[0].cmp(&b.1[0])));
        out.into_iter().map(|(_, p)| p).collect()
    }

    /// Joins every piece cut off from its territory to the neighbouring territory it shares most
    /// edges with. Pieces holding a fixed unit stay.
    fn make_contiguous(&mut self) {
        for _ in 0..self.ctx.k * 4 {
            let mut changed = false;
            for t in 0..self.ctx.k {
                if !self.ctx.open[t] {
                    continue;
                }
                let pieces = self.pieces(t);
                for piece in pieces.iter().skip(1) {
                    if piece.iter().any(|&x| self.ctx.fixed[x as usize].is_some()) {
                        continue;
                    }
                    let mut count: Vec<(u32, u32)> = Vec::new();
                    for &x in piece {
                        for &y in self.ctx.p.graph.neighbours(x as usize) {
                            let s = self.a[y as usize];
                            if s as usize != t && self.ctx.open[s as usize] {
                                match count.iter_mut().find(|c| c.0 == s) {
                                    Some(c) => c.1 += 1,
                                    None => count.push((s, 1)),
                                }
                            }
                        }
                    }
                    if let Some(&(s, _)) = count.iter().max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(&a.0))) {
                        for &x in piece {
                            self.move_unit(x as usize, s as usize);
                        }
                        changed = true;
                    }
                }
            }
            if !changed {
                break;
            }
        }
    }

    /// Moves boundary units until every territory is within every tolerance, or no move helps.
    /// Returns whether it got there. Kept whole (a little over 120 lines): one loop whose single
    /// moves, pair exchanges and stopping tests share the move bookkeeping.
    fn repair(&mut self, settings: &Settings, deadline: Option<Deadline>) -> Result<bool, Stop> {
        let ctx = self.ctx;
        let total_w: f64 = ctx.w.iter().sum::<f64>().max(1e-12);
        let norm = ctx.tgt.first().map(|t| t.iter().sum::<f64>() / ctx.k as f64).unwrap_or(1.0).max(1e-12) * ctx.scale;
        let mu = 0.5 / norm;
        let mut tabu = vec![false; ctx.n];
        let mut targets = Vec::new();
        let max_steps = 20 * ctx.n + 1000;
        let several = ctx.tol.iter().filter(|t| t.is_some()).count() > 1;
        for step in 0..max_steps {
            if step % 64 == 0 && deadline.is_some_and(|d| d.passed()) {
                return Err(Stop::TimeLimit);
            }
            let Some((worst, v)) = (0..ctx.k).map(|t| (t, self.viol(t))).max_by(|a, b| a.1.total_cmp(&b.1).then(b.0.cmp(&a.0))) else {
                return Ok(true);
            };
            if v <= 0.0 {
                return Ok(true);
            }
            // Candidate moves touching `worst`: its boundary units out, its neighbours' units in.
            let mut cands: Vec<(f64, f64, u32, u32)> = Vec::new();
            for m in 0..self.members[worst].len() {
                let i = self.members[worst][m] as usize;
                if ctx.fixed[i].is_some() {
                    continue;
                }
                self.targets_of(i, &mut targets);
                for &s in &targets {
                    cands.push((self.delta_viol(i, s as usize), self.delta_cost(i, s as usize), i as u32, s));
                }
            }
            // Each neighbour once: stamped with this step's generation.
            let gen = self.next_gen();
            for m in 0..self.members[worst].len() {
                let i = self.members[worst][m] as usize;
                for &j in ctx.p.graph.neighbours(i) {
                    let j = j as usize;
                    let s = self.a[j] as usize;
                    if s == worst || ctx.fixed[j].is_some() || self.stamp[j] == gen {
                        continue;
                    }
                    self.stamp[j] = gen;
                    cands.push((self.delta_viol(j, worst), self.delta_cost(j, worst), j as u32, worst as u32));
                }
            }
            let capped = |s: &Self, i: usize, to: usize| -> bool {
                let Some(cur) = ctx.p.current.as_ref().and_then(|c| c[i]) else { return false };
                let leaves = s.a[i] == cur && to as u32 != cur;
                leaves
                    && (settings.max_moved_units.is_some_and(|m| s.moved_units + 1 > m)
                        || settings.max_moved_share.is_some_and(|m| (s.moved_weight + ctx.w[i]) / total_w > m + 1e-12))
            };
            let mut improving: Vec<(f64, u32, u32)> =
                cands.iter().filter(|c| c.0 < -1e-12).map(|&(dv, dc, i, s)| (dv + mu * dc, i, s)).collect();
            improving.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
            // Take the best moves in order while each still helps (totals change as they land).
            let mut done = 0;
            let mut hit_cap = false;
            for &(_, i, s) in &improving {
                if done >= if ctx.p.current.is_some() { 1 } else { 32 } || self.viol(worst) <= 0.0 {
                    break;
                }
                if self.a[i as usize] == s || self.delta_viol(i as usize, s as usize) >= -1e-12 {
                    continue;
                }
                if capped(self, i as usize, s as usize) {
                    hit_cap = true;
                    continue;
                }
                if self.removable(i as usize) {
                    self.move_unit(i as usize, s as usize);
                    done += 1;
                }
            }
            if done > 0 {
                continue;
            }
            if hit_cap {
                return Err(Stop::MoveCap);
            }
            // Several criteria: a move that helps one band hurts another, so first try exchanging
            // a unit of `worst` with one of a neighbouring territory.
            if several && self.swap(worst, &cands, &capped) {
                continue;
            }
            // No move helps directly: push weight towards (or pull it from) the nearest territory
            // with room, through a neighbour; each unit moves at most once this way.
            let over = (0..ctx.tol.len()).any(|c| ctx.tol[c].is_some_and(|tol| self.total(c, worst) > ctx.tgt[c][worst] * (1.0 + tol)));
            let hops = self.hops(over);
            let mut chain: Vec<(u32, f64, u32, u32)> = cands
                .iter()
                .filter(|&&(_, _, i, _)| !tabu[i as usize] && ((self.a[i as usize] as usize == worst) == over))
                .map(|&(_, dc, i, s)| {
                    let other = if over { s } else { self.a[i as usize] };
                    (hops[other as usize], dc, i, s)
                })
                .collect();
            // Downhill first (towards room); sideways or uphill only when no downhill move keeps
            // contiguity. Each unit is pushed at most once, so the walk ends.
            chain.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.total_cmp(&b.1)).then(a.2.cmp(&b.2)));
            let mut moved = false;
            for &(_, _, i, s) in &chain {
                if capped(self, i as usize, s as usize) {
                    continue;
                }
                if self.removable(i as usize) {
                    tabu[i as usize] = true;
                    self.move_unit(i as usize, s as usize);
                    moved = true;
                    break;
                }
            }
            // No push either (coarse units): an exchange is the last resort (on small instances;
            // on large ones the next round's contiguity fix and repair do better for the time).
            if !moved && !several && ctx.n <= 20_000 && self.swap(worst, &cands, &capped) {
                continue;
            }
            if !moved {
                tracing::debug!(territory = worst, violation = v, "repair stalled: no move keeps contiguity");
                return Ok(false);
            }
        }
        Ok(self.total_viol() <= 0.0)
    }

    /// The best exchange of a unit of `worst` (moving to `s`) with a unit of `s` (moving to
    /// `worst`) among the candidate moves, if it lowers the two territories' violation; both
    /// territories stay as connected as they were. Evaluates at most `SWAP_PAIRS` pairs.
    fn swap(&mut self, worst: usize, cands: &[(f64, f64, u32, u32)], capped: &dyn Fn(&Self, usize, usize) -> bool) -> bool {
        const SWAP_PAIRS: usize = 200_000;
        let ctx = self.ctx;
        let crit = &ctx.p.criteria;
        let (outs, ins): (Vec<_>, Vec<_>) = cands.iter().partition(|c| self.a[c.2 as usize] as usize == worst);
        let mut best: Option<(f64, u32, u32)> = None;
        let mut tried = 0;
        for &&(_, dci, i, s) in &outs {
            for &&(_, dcj, j, _) in ins.iter().filter(|c| self.a[c.2 as usize] == s) {
                tried += 1;
                if tried > SWAP_PAIRS {
                    break;
                }
                let (i, j, su) = (i as usize, j as usize, s as usize);
                let d = |c: usize| crit[c].values[j] - crit[c].values[i];
                let dv = ctx.viol(worst, |c| self.total(c, worst) + d(c)) + ctx.viol(su, |c| self.total(c, su) - d(c))
                    - self.viol(worst)
                    - self.viol(su);
                if dv >= -1e-12 {
                    continue;
                }
                let score = (dv, dci + dcj);
                if best.map_or(true, |b| score.0 < b.0 - 1e-12) {
                    best = Some((score.0, i as u32, j as u32));
                }
            }
        }
        let Some((_, i, j)) = best else { return false };
        let (i, j, s) = (i as usize, j as usize, self.a[j as usize] as usize);
        if capped(self, i, s) || capped(self, j, worst) || !self.removable(i) {
            return false;
        }
        // With contiguity, each unit must still touch its new territory once the other has left.
        let touches = |st: &Self, x: usize, t: usize, not: usize| {
            !ctx.contiguous || ctx.p.graph.neighbours(x).iter().any(|&y| y as usize != not && st.a[y as usize] as usize == t)
        };
        if !touches(self, i, s, j) || !touches(self, j, worst, i) {
            return false;
        }
        self.move_unit(i, s);
        if !self.removable(j) {
            self.move_unit(i, worst);
            return false;
        }
        self.move_unit(j, worst);
        true
    }

    /// Hops in the territory graph from each territory to the nearest one with room for more
    /// primary weight (`over`), or with weight to spare.
    fn hops(&self, over: bool) -> Vec<u32> {
        let ctx = self.ctx;
        let k = ctx.k;
        let mut adj = vec![Vec::<u32>::new(); k];
        for (a, b) in ctx.p.graph.edges() {
            let (s, t) = (self.a[a as usize], self.a[b as usize]);
            if s != t && ctx.open[s as usize] && ctx.open[t as usize] {
                if !adj[s as usize].contains(&t) {
                    adj[s as usize].push(t);
                }
                if !adj[t as usize].contains(&s) {
                    adj[t as usize].push(s);
                }
            }
        }
        let tol = ctx.tol.first().copied().flatten().unwrap_or(0.0);
        let mut h = vec![u32::MAX; k];
        let mut queue = Vec::new();
        for t in 0..k {
            if !ctx.open[t] {
                continue;
            }
            let (x, target) = (self.total(0, t), ctx.tgt[0][t]);
            let has = if over { x < target * (1.0 + tol) * 0.999 } else { x > target * (1.0 - tol) * 1.001 };
            if has {
                h[t] = 0;
                queue.push(t as u32);
            }
        }
        let mut head = 0;
        while head < queue.len() {
            let t = queue[head] as usize;
            head += 1;
            for &s in &adj[t] {
                if h[s as usize] == u32::MAX {
                    h[s as usize] = h[t] + 1;
                    queue.push(s);
                }
            }
        }
        h
    }

    /// Boundary moves that shorten distances and keep every territory within its bands.
    fn improve(&mut self, passes: usize) {
        let mut targets = Vec::new();
        for _ in 0..passes {
            let mut gained = false;
            for i in 0..self.ctx.n {
                if self.ctx.fixed[i].is_some() {
                    continue;
                }
                self.targets_of(i, &mut targets);
                let mut best: Option<(f64, u32)> = None;
                for &s in &targets {
                    let dc = self.delta_cost(i, s as usize);
                    if dc < -1e-9 && self.delta_viol(i, s as usize) <= 1e-15 && best.map_or(true, |b| dc < b.0) {
                        best = Some((dc, s));
                    }
                }
                if let Some((_, s)) = best {
                    if self.removable(i) {
                        self.move_unit(i, s as usize);
                        gained = true;
                    }
                }
            }
            if !gained {
                break;
            }
        }
    }

    fn cost(&self) -> f64 {
        (0..self.ctx.n).map(|i| self.ctx.w[i] * dist(self.ctx.p.pos[i], self.centres[self.a[i] as usize])).sum()
    }

    fn recentre(&mut self) {
        self.centres = centres_of(self.ctx, &self.members, &self.centres);
        self.find_near();
    }

    fn find_near(&mut self) {
        if self.ctx.contiguous {
            return;
        }
        let cands = candidates(self.ctx, &self.centres, NEAR);
        self.near = vec![u32::MAX; self.ctx.n * NEAR];
        for i in 0..self.ctx.n {
            for s in 0..cands.c {
                self.near[i * NEAR + s] = cands.t[i * cands.c + s];
            }
        }
    }
}

/// Each territory's centre: the owner's home; else the median at a unit site (when affordable)
/// or the weighted spherical centroid.
fn centres_of(ctx: &Ctx, members: &[Vec<u32>], old: &[Vec3]) -> Vec<Vec3> {
    (0..ctx.k)
        .into_par_iter()
        .map(|t| {
            if let Some(h) = ctx.p.homes.get(t).copied().flatten() {
                return h;
            }
            let m = &members[t];
            if m.is_empty() {
                return old[t];
            }
            let c = centroid(m.iter().map(|&i| (ctx.p.pos[i as usize], ctx.w[i as usize] + 1e-9))).unwrap_or(old[t]);
            if !ctx.medians {
                return c;
            }
            let mut best = (f64::INFINITY, c);
            for &j in m {
                let pj = ctx.p.pos[j as usize];
                let mut s = 0.0;
                for &i in m {
                    s += ctx.w[i as usize] * dist(ctx.p.pos[i as usize], pj);
                    if s >= best.0 {
                        break;
                    }
                }
                if s < best.0 {
                    best = (s, pj);
                }
            }
            best.1
        })
        .collect()
}

/// A small deterministic generator (SplitMix64): designs must not change when a dependency does.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// k-means++ seeding weighted by the primary weight; homes where given.
fn seed_centres(ctx: &Ctx, rng: &mut Rng) -> Vec<Vec3> {
    let p = ctx.p;
    let mut centres: Vec<Option<Vec3>> = (0..ctx.k).map(|t| p.homes.get(t).copied().flatten()).collect();
    let mut best_d2 = vec![f64::INFINITY; ctx.n];
    let chosen: Vec<Vec3> = centres.iter().flatten().copied().collect();
    let update = |best: &mut [f64], c: Vec3| {
        best.par_iter_mut().zip(&p.pos).for_each(|(b, &x)| {
            let d = 1.0 - dot(x, c);
            if d < *b {
                *b = d;
            }
        });
    };
    for c in chosen {
        update(&mut best_d2, c);
    }
    for t in 0..ctx.k {
        if centres[t].is_some() || !ctx.open[t] {
            continue;
        }
        let weights: Vec<f64> =
            (0..ctx.n).map(|i| if ctx.fixed[i].is_some() { 0.0 } else { (ctx.w[i] + 1e-9) * best_d2[i].min(4.0) }).collect();
        let sum: f64 = weights.iter().sum();
        let pick = if sum > 0.0 && sum.is_finite() {
            let mut r = rng.unit() * sum;
            let mut pick = ctx.n - 1;
            for (i, w) in weights.iter().enumerate() {
                if r < *w {
                    pick = i;
                    break;
                }
                r -= w;
            }
            pick
        } else {
            (rng.next() % ctx.n as u64) as usize
        };
        let c = p.pos[pick];
        centres[t] = Some(c);
        update(&mut best_d2, c);
    }
    // Closed territories (giants) sit on their giant.
    for (i, f) in ctx.fixed.iter().enumerate() {
        if let Some(t) = f {
            if !ctx.open[*t as usize] {
                centres[*t as usize] = Some(p.pos[i]);
            }
        }
    }
    centres.into_iter().map(|c| c.unwrap_or(p.pos[0])).collect()
}

/// Balanced starting centres by successive dichotomies: the units are cut in two along their
/// widest axis (turned by a random angle on restarts) at the weighted quantile that matches the
/// two halves' shares, recursively, and each part's centroid is a centre. Every part starts at
/// its target, so the prices start near balance. Homes, where given, are kept.
fn bisect_centres(ctx: &Ctx, rng: &mut Rng, jitter: bool) -> Vec<Vec3> {
    let p = ctx.p;
    let open: Vec<u32> =
        (0..ctx.k as u32).filter(|&t| ctx.open[t as usize] && p.homes.get(t as usize).copied().flatten().is_none()).collect();
    let units: Vec<u32> = (0..ctx.n as u32).filter(|&i| ctx.fixed[i as usize].is_none()).collect();
    let mut centres = seed_centres(ctx, rng);
    let mut stack = vec![(units, open)];
    while let Some((units, terrs)) = stack.pop() {
        if terrs.is_empty() || units.is_empty() {
            continue;
        }
        if terrs.len() == 1 {
            let c = centroid(units.iter().map(|&i| (p.pos[i as usize], ctx.w[i as usize] + 1e-9)));
            if let Some(c) = c {
                centres[terrs[0] as usize] = c;
            }
            continue;
        }
        let (left, right) = terrs.split_at(terrs.len() / 2);
        let share = |ts: &[u32]| ts.iter().map(|&t| p.shares[t as usize]).sum::<f64>();
        let frac = share(left) / (share(left) + share(right));
        let c = centroid(units.iter().map(|&i| (p.pos[i as usize], 1.0))).unwrap_or([1.0, 0.0, 0.0]);
        let f = crate::geo::Frame::at(c);
        let xy: Vec<(f64, f64)> = units.iter().map(|&i| (dot(p.pos[i as usize], f.e1), dot(p.pos[i as usize], f.e2))).collect();
        // The widest axis: the principal direction of the weighted 2×2 covariance.
        let (mut sxx, mut syy, mut sxy, mut sw, mut mx, mut my) = (0.0, 0.0, 0.0, 0.0, 0.0, 0.0);
        for (k, &(x, y)) in xy.iter().enumerate() {
            let w = ctx.w[units[k] as usize] + 1e-9;
            sw += w;
            mx += w * x;
            my += w * y;
        }
        (mx, my) = (mx / sw, my / sw);
        for (k, &(x, y)) in xy.iter().enumerate() {
            let w = ctx.w[units[k] as usize] + 1e-9;
            sxx += w * (x - mx) * (x - mx);
            syy += w * (y - my) * (y - my);
            sxy += w * (x - mx) * (y - my);
        }
        let mut angle = 0.5 * (2.0 * sxy).atan2(sxx - syy);
        if jitter {
            angle += (rng.unit() - 0.5) * std::f64::consts::FRAC_PI_2;
        }
        let (ca, sa) = (angle.cos(), angle.sin());
        let mut order: Vec<(f64, u32)> = xy.iter().zip(&units).map(|(&(x, y), &i)| (x * ca + y * sa, i)).collect();
        order.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        let total: f64 = order.iter().map(|&(_, i)| ctx.w[i as usize] + 1e-9).sum();
        let mut cum = 0.0;
        let mut cut = order.len();
        for (m, &(_, i)) in order.iter().enumerate() {
            if cum >= total * frac {
                cut = m;
                break;
            }
            cum += ctx.w[i as usize] + 1e-9;
        }
        let cut = cut.clamp(1.min(order.len()), order.len().saturating_sub(1).max(1));
        let (a, b): (Vec<u32>, Vec<u32>) = (order[..cut].iter().map(|x| x.1).collect(), order[cut..].iter().map(|x| x.1).collect());
        stack.push((a, left.to_vec()));
        stack.push((b, right.to_vec()));
    }
    centres
}

/// The nearest `c` open centres of every unit, and their distances.
struct Cands {
    c: usize,
    t: Vec<u32>,
    d: Vec<f64>,
}

fn candidates(ctx: &Ctx, centres: &[Vec3], most: usize) -> Cands {
    let open: Vec<u32> = (0..ctx.k as u32).filter(|&t| ctx.open[t as usize]).collect();
    let c = open.len().min(most);
    let rows: Vec<(Vec<u32>, Vec<f64>)> = ctx
        .p
        .pos
        .par_iter()
        .map(|&x| {
            let mut near: Vec<(f64, u32)> = open.iter().map(|&t| (-dot(x, centres[t as usize]), t)).collect();
            if c < near.len() {
                near.select_nth_unstable_by(c - 1, |a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
                near.truncate(c);
            }
            near.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            (near.iter().map(|n| n.1).collect(), near.iter().map(|n| dist(x, centres[n.1 as usize])).collect())
        })
        .collect();
    let mut out = Cands { c, t: Vec::with_capacity(ctx.n * c), d: Vec::with_capacity(ctx.n * c) };
    for (t, d) in rows {
        out.t.extend(t);
        out.d.extend(d);
    }
    out
}

/// Arranges `v` (theta, weight) so that `v[..m]` are the `m` smallest thetas, `m` the most whose
/// weights sum to at most `need`, and `v[m]` (if any) the next smallest; returns `m` and that sum.
/// A weighted quickselect: expected linear time, where a sort was the allocation's hot spot.
fn take_by_weight(v: &mut [(f64, f64)], need: f64) -> (usize, f64) {
    let cmp = |a: &(f64, f64), b: &(f64, f64)| a.0.total_cmp(&b.0);
    let (mut lo, mut hi, mut cum) = (0, v.len(), 0.0);
    while hi - lo > 32 {
        let mid = lo + (hi - lo) / 2;
        v[lo..hi].select_nth_unstable_by(mid - lo, cmp);
        let left: f64 = v[lo..mid].iter().map(|x| x.1).sum();
        if cum + left <= need {
            cum += left;
            lo = mid;
        } else {
            hi = mid;
        }
    }
    v[lo..hi].sort_unstable_by(cmp);
    let mut m = lo;
    while m < hi && cum + v[m].1 <= need {
        cum += v[m].1;
        m += 1;
    }
    if m == hi && hi < v.len() {
        // Everything in the window fits, so the next smallest lies beyond it.
        let next = (hi..v.len()).min_by(|&a, &b| cmp(&v[a], &v[b])).unwrap_or(hi);
        v.swap(hi, next);
    }
    (m, cum)
}

/// Balanced allocation for fixed centres: prices by exact coordinate ascent on the dual of the
/// transportation problem (see the module docs). `u` is warm-started across calls.
fn allocate(ctx: &Ctx, cands: &Cands, u: &mut [f64], sweeps: usize) -> Vec<u32> {
    let (n, k, c) = (ctx.n, ctx.k, cands.c);
    let mut inv: Vec<Vec<(u32, u8)>> = vec![Vec::new(); k];
    let mut fixed_load = vec![0.0; k];
    for i in 0..n {
        match ctx.fixed[i] {
            Some(t) => fixed_load[t as usize] += ctx.w[i],
            None => {
                for s in 0..c {
                    inv[cands.t[i * c + s] as usize].push((i as u32, s as u8));
                }
            }
        }
    }
    let assign = |u: &[f64]| -> Vec<u32> {
        (0..n)
            .into_par_iter()
            .map(|i| {
                if let Some(t) = ctx.fixed[i] {
                    return t;
                }
                let mut best = (f64::INFINITY, 0u32);
                for s in 0..c {
                    let t = cands.t[i * c + s];
                    let v = cands.d[i * c + s] - u[t as usize];
                    if v < best.0 {
                        best = (v, t);
                    }
                }
                best.1
            })
            .collect()
    };
    let tol = ctx.tol.first().copied().flatten().unwrap_or(0.01).max(1e-4);
    let mut thetas: Vec<(f64, f64)> = Vec::new();
    for _ in 0..sweeps {
        for t in 0..k {
            if !ctx.open[t] || inv[t].is_empty() {
                continue;
            }
            thetas.clear();
            for &(i, slot) in &inv[t] {
                let i = i as usize;
                let mut alt = f64::INFINITY;
                for s in 0..c {
                    if s != slot as usize {
                        alt = alt.min(cands.d[i * c + s] - u[cands.t[i * c + s] as usize]);
                    }
                }
                thetas.push((cands.d[i * c + slot as usize] - alt, ctx.w[i]));
            }
            let need = ctx.tgt[0][t] - fixed_load[t];
            // The cheapest units (by theta) whose weight fits `need`, one more if that lands
            // closer; the price sits between the last taken and the first left.
            let (mut m, cum) = take_by_weight(&mut thetas, need);
            if m < thetas.len() && cum + thetas[m].1 - need < need - cum {
                m += 1;
            }
            let last_in = thetas[..m].iter().map(|x| x.0).fold(f64::NEG_INFINITY, f64::max);
            let first_out = thetas[m..].iter().map(|x| x.0).fold(f64::INFINITY, f64::min);
            u[t] = if thetas.iter().any(|x| x.0 == f64::NEG_INFINITY) {
                0.0
            } else if m == 0 {
                first_out - 1e-3
            } else if m == thetas.len() {
                last_in + 1e-3
            } else {
                (last_in + first_out) / 2.0
            };
        }
        let a = assign(u);
        let mut load = vec![0.0; k];
        for (i, &t) in a.iter().enumerate() {
            load[t as usize] += ctx.w[i];
        }
        let worst =
            (0..k).filter(|&t| ctx.open[t] && ctx.tgt[0][t] > 0.0).map(|t| (load[t] / ctx.tgt[0][t] - 1.0).abs()).fold(0.0, f64::max);
        if worst <= tol * 0.5 {
            return a;
        }
    }
    assign(u)
}

/// Designs territories from scratch, or re-balances `problem.current` when it is given.
pub fn solve(problem: &Problem, settings: &Settings, observer: &dyn Observer) -> Result<Solution, ProblemError> {
    problem.validate()?;
    let deadline = settings.time_limit.map(|t| Deadline { at: (t.clock)() + t.limit, clock: t.clock });
    let k = problem.shares.len();
    let no_weights = Vec::new();
    let w = problem.criteria.first().map(|c| &c.values).unwrap_or(&no_weights);
    let giants = if w.is_empty() { Vec::new() } else { giants(w, k) };
    // Without criteria, every unit weighs 1 (a copy is made only then).
    let plain: std::borrow::Cow<Problem> = if problem.criteria.is_empty() {
        let mut p = problem.clone();
        p.criteria.push(Criterion { name: "units".into(), values: vec![1.0; problem.pos.len()], tolerance: None });
        std::borrow::Cow::Owned(p)
    } else {
        std::borrow::Cow::Borrowed(problem)
    };
    let ctx = Ctx::new(&plain, settings, &giants);
    if let Some(cur) = &plain.current {
        return Ok(rebalance(&ctx, cur, settings, deadline, giants));
    }
    // (violation, cost, territories, centres, stalled) of the best restart so far.
    type Best = (f64, f64, Vec<u32>, Vec<Vec3>, bool);
    let mut best: Option<Best> = None;
    let mut stop = Stop::Done;
    let mut done = 0;
    for r in 0..settings.restarts.max(1) {
        if observer.cancelled() {
            stop = Stop::Interrupted;
            break;
        }
        if r > 0 && deadline.is_some_and(|d| d.passed()) {
            stop = Stop::TimeLimit;
            break;
        }
        observer.restart(r, settings.restarts.max(1));
        let mut rng = Rng(settings.seed.wrapping_mul(0x2545_F491_4F6C_DD1D).wrapping_add(r as u64));
        // Even restarts start from successive dichotomies (balanced from the first step), odd ones
        // from k-means++ (different shapes); the best design wins.
        let mut centres = if r % 2 == 0 { bisect_centres(&ctx, &mut rng, r > 0) } else { seed_centres(&ctx, &mut rng) };
        let mut u = vec![0.0; k];
        let mut a: Vec<u32> = Vec::new();
        // Large instances: fewer alternations with shorter warm-started allocations (each
        // allocation is the expensive step); 8 × 10 sweeps measured best for the time on synth100k.
        let (iterations, first, later) = if ctx.n > 20_000 { (8, 40, 10) } else { (30, 60, 20) };
        for it in 0..iterations {
            let cands = candidates(&ctx, &centres, 10);
            let next = allocate(&ctx, &cands, &mut u, if it == 0 { first } else { later });
            tracing::debug!(restart = r, iteration = it, "allocated");
            let changed = if a.is_empty() { ctx.n } else { a.iter().zip(&next).filter(|(x, y)| x != y).count() };
            a = next;
            let mut members = vec![Vec::new(); k];
            for (i, &t) in a.iter().enumerate() {
                members[t as usize].push(i as u32);
            }
            centres = centres_of(&ctx, &members, &centres);
            if changed * 1000 <= ctx.n {
                break;
            }
        }
        let mut s = State::new(&ctx, a, centres);
        tracing::debug!(restart = r, violation = s.total_viol(), "location-allocation done");
        let mut finished = true;
        for round in 0..8 {
            if ctx.contiguous {
                s.make_contiguous();
            }
            match s.repair(settings, deadline) {
                Ok(ok) => finished = ok,
                Err(_) => {
                    stop = Stop::TimeLimit;
                    finished = s.total_viol() <= 0.0;
                    break;
                }
            }
            tracing::debug!(restart = r, round, violation = s.total_viol(), cost = s.cost(), "repaired");
            let before = s.cost();
            s.improve(8);
            s.recentre();
            if round > 0 && s.cost() > before * 0.998 {
                break;
            }
        }
        let (viol, cost) = (s.total_viol(), s.cost());
        done = r + 1;
        if best.as_ref().map_or(true, |b| (viol, cost) < (b.0, b.1)) {
            best = Some((viol, cost, s.a.clone(), s.centres.clone(), !finished));
        }
        if stop != Stop::Done {
            break;
        }
    }
    let (_, _, territory, centres, stalled) = best.unwrap_or_else(|| {
        let mut rng = Rng(settings.seed);
        let centres = seed_centres(&ctx, &mut rng);
        let cands = candidates(&ctx, &centres, 10);
        let mut u = vec![0.0; k];
        (f64::INFINITY, f64::INFINITY, allocate(&ctx, &cands, &mut u, 1), centres, true)
    });
    Ok(Solution { territory, centres, giants, restarts: done, stop, stalled })
}

fn rebalance(ctx: &Ctx, current: &[Option<u32>], settings: &Settings, deadline: Option<Deadline>, giants: Vec<u32>) -> Solution {
    let k = ctx.k;
    // Units without a current territory (new clients) start in the nearest current centre.
    let mut members = vec![Vec::new(); k];
    for (i, c) in current.iter().enumerate() {
        if let Some(t) = ctx.fixed[i].or(*c) {
            members[t as usize].push(i as u32);
        }
    }
    let centres = centres_of(ctx, &members, &vec![ctx.p.pos[0]; k]);
    let a: Vec<u32> = (0..ctx.n)
        .map(|i| {
            ctx.fixed[i].or(current[i]).unwrap_or_else(|| {
                (0..k)
                    .filter(|&t| ctx.open[t])
                    .min_by(|&x, &y| dist(ctx.p.pos[i], centres[x]).total_cmp(&dist(ctx.p.pos[i], centres[y])))
                    .unwrap_or(0) as u32
            })
        })
        .collect();
    let mut s = State::new(ctx, a, centres);
    let (stop, stalled) = match s.repair(settings, deadline) {
        Ok(ok) => (Stop::Done, !ok),
        Err(stop) => (stop, true),
    };
    Solution { territory: s.a, centres: s.centres, giants, restarts: 1, stop, stalled }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn take_by_weight_agrees_with_sorting() {
        let mut rng = Rng(7);
        for case in 0..500 {
            let len = 1 + (rng.next() % 300) as usize;
            let mut v: Vec<(f64, f64)> = (0..len).map(|_| ((rng.next() >> 11) as f64, 1.0 + (rng.next() % 9) as f64)).collect();
            let need = (rng.next() % (6 * len as u64)) as f64;
            let mut sorted = v.clone();
            sorted.sort_by(|a, b| a.0.total_cmp(&b.0));
            let (mut m0, mut cum0) = (0, 0.0);
            while m0 < len && cum0 + sorted[m0].1 <= need {
                cum0 += sorted[m0].1;
                m0 += 1;
            }
            let (m, cum) = take_by_weight(&mut v, need);
            // Distinct thetas (with ties, which of the tied units come first is arbitrary).
            assert_eq!(m, m0, "case {case}");
            assert!(cum <= need, "case {case}");
            let mut taken: Vec<f64> = v[..m].iter().map(|x| x.0).collect();
            taken.sort_by(f64::total_cmp);
            assert_eq!(taken, sorted[..m].iter().map(|x| x.0).collect::<Vec<_>>(), "case {case}");
            if m < len {
                assert_eq!(v[m].0, sorted[m].0, "case {case}");
            }
        }
    }
}
