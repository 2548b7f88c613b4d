//! The figures a design is judged by — the same measures as ../shared/data/territory/ANCHORS.md,
//! so that allot's report and the peers' table can be read side by side.

use crate::geo::{centroid, dist, Vec3};
use crate::graph::Graph;
use crate::solve::giants;

/// max_t |x_t − target_t| / target_t over territories with a positive target (0 when none).
pub fn deviation(totals: &[f64], targets: &[f64], skip: &[bool]) -> f64 {
    totals.iter().zip(targets).zip(skip).filter(|((_, &t), &s)| t > 0.0 && !s).map(|((&x, &t), _)| (x - t).abs() / t).fold(0.0, f64::max)
}

/// Per territory sums of `values`.
pub fn totals(territory: &[u32], values: &[f64], k: usize) -> Vec<f64> {
    let mut out = vec![0.0; k];
    for (&t, &v) in territory.iter().zip(values) {
        out[t as usize] += v;
    }
    out
}

/// Targets: the total split by shares.
pub fn targets(values: &[f64], shares: &[f64]) -> Vec<f64> {
    let total: f64 = values.iter().sum();
    let s: f64 = shares.iter().sum();
    shares.iter().map(|x| total * x / s).collect()
}

/// The giant-free deviation (ANCHORS.md): territories holding a giant are left out, and the others
/// are judged against the mean of what is left.
pub fn giant_free_deviation(territory: &[u32], values: &[f64], k: usize) -> f64 {
    let g = giants(values, k);
    let tot = totals(territory, values, k);
    let mut skip = vec![false; k];
    for &i in &g {
        skip[territory[i as usize] as usize] = true;
    }
    let kept = skip.iter().filter(|s| !**s).count();
    if kept == 0 {
        return 0.0;
    }
    let rest: f64 = tot.iter().zip(&skip).filter(|(_, s)| !**s).map(|(x, _)| x).sum();
    let mean = rest / kept as f64;
    deviation(&tot, &vec![mean; k], &skip)
}

/// The least deviation any design can have: giants alone already miss the mean by this much.
pub fn deviation_lower_bound(values: &[f64], k: usize) -> f64 {
    let total: f64 = values.iter().sum();
    if total <= 0.0 || k == 0 {
        return 0.0;
    }
    let mean = total / k as f64;
    giants(values, k).iter().map(|&g| values[g as usize] / mean - 1.0).fold(0.0, f64::max)
}

/// Count deviation bound: with n units in k territories, some territory has ⌈n/k⌉.
pub fn count_lower_bound(n: usize, k: usize) -> f64 {
    if n == 0 || k == 0 {
        return 0.0;
    }
    let mean = n as f64 / k as f64;
    (n.div_ceil(k) as f64 - mean).max(mean - (n / k) as f64) / mean
}

/// Σ w_i · d(i, weighted spherical centroid of its territory), km × weight.
pub fn compactness(pos: &[Vec3], territory: &[u32], w: &[f64], k: usize) -> f64 {
    let mut sums = vec![[0.0; 3]; k];
    for ((&p, &t), &wi) in pos.iter().zip(territory).zip(w) {
        for d in 0..3 {
            sums[t as usize][d] += p[d] * wi;
        }
    }
    let centres: Vec<Option<Vec3>> = sums.iter().map(|&s| centroid([(s, 1.0)])).collect();
    pos.iter().zip(territory).zip(w).map(|((&p, &t), &wi)| centres[t as usize].map_or(0.0, |c| wi * dist(p, c))).sum()
}

/// The discrete p-median cost: for each territory the best median among all unit sites,
/// Σ_t min_j Σ_{i∈t} w_i d(i, j). Quadratic; for a few thousand units.
pub fn p_median_cost(pos: &[Vec3], territory: &[u32], w: &[f64], k: usize) -> f64 {
    let mut members = vec![Vec::new(); k];
    for (i, &t) in territory.iter().enumerate() {
        members[t as usize].push(i);
    }
    members
        .iter()
        .filter(|m| !m.is_empty())
        .map(|m| {
            let mut best = f64::INFINITY;
            for j in 0..pos.len() {
                let mut s = 0.0;
                for &i in m {
                    s += w[i] * dist(pos[i], pos[j]);
                    if s >= best {
                        break;
                    }
                }
                best = best.min(s);
            }
            best
        })
        .sum()
}

/// Extra connected pieces over the graph: Σ_t (pieces of t − 1); 0 = every territory contiguous.
pub fn pieces(graph: &Graph, territory: &[u32], k: usize) -> usize {
    pieces_per_territory(graph, territory, k).iter().map(|c| c.saturating_sub(1)).sum()
}

/// Pieces per territory (connected components over the graph; 0 for an empty territory), in one
/// pass over the units.
pub fn pieces_per_territory(graph: &Graph, territory: &[u32], k: usize) -> Vec<usize> {
    let n = territory.len();
    let mut seen = vec![false; n];
    let mut count = vec![0usize; k];
    let mut stack = Vec::new();
    for s in 0..n {
        if seen[s] {
            continue;
        }
        seen[s] = true;
        count[territory[s] as usize] += 1;
        stack.push(s as u32);
        while let Some(x) = stack.pop() {
            for &y in graph.neighbours(x as usize) {
                if !seen[y as usize] && territory[y as usize] == territory[s] {
                    seen[y as usize] = true;
                    stack.push(y);
                }
            }
        }
    }
    count
}

/// Moves against a current design: the weight and the units whose territory differs after the
/// best relabelling (the matching of new territories to old ones that keeps the most weight).
#[derive(Clone, Debug, PartialEq)]
pub struct Moves {
    pub weight_share: f64,
    pub weight: f64,
    pub units: usize,
    pub unit_share: f64,
    /// `relabel[new] = old` territory.
    pub relabel: Vec<u32>,
}

pub fn moves(territory: &[u32], current: &[Option<u32>], w: &[f64], k: usize, relabel: bool) -> Moves {
    let kc = current.iter().flatten().map(|&t| t as usize + 1).max().unwrap_or(0).max(k);
    let mut overlap = vec![vec![0.0; kc]; k];
    for ((&t, c), &wi) in territory.iter().zip(current).zip(w) {
        if let Some(c) = c {
            overlap[t as usize][*c as usize] += wi;
        }
    }
    let map: Vec<u32> = if relabel { max_matching(&overlap) } else { (0..k as u32).collect() };
    let mut out = Moves { weight_share: 0.0, weight: 0.0, units: 0, unit_share: 0.0, relabel: map.clone() };
    let (mut total, mut counted) = (0.0, 0usize);
    for ((&t, c), &wi) in territory.iter().zip(current).zip(w) {
        if let Some(c) = c {
            total += wi;
            counted += 1;
            if map[t as usize] != *c {
                out.weight += wi;
                out.units += 1;
            }
        }
    }
    out.weight_share = if total > 0.0 { out.weight / total } else { 0.0 };
    out.unit_share = if counted > 0 { out.units as f64 / counted as f64 } else { 0.0 };
    out
}

/// The assignment of rows to columns maximising the sum (Hungarian method, O(k²·m)); rows ≤ columns.
fn max_matching(m: &[Vec<f64>]) -> Vec<u32> {
    let rows = m.len();
    let cols = m.first().map_or(0, |r| r.len());
    let big = m.iter().flatten().fold(0.0f64, |a, &b| a.max(b));
    // Minimise (big − value), 1-based potentials as in the textbook shortest augmenting path form.
    let cost = |i: usize, j: usize| big - m[i - 1][j - 1];
    let (mut u, mut v) = (vec![0.0; rows + 1], vec![0.0; cols + 1]);
    let (mut p, mut way) = (vec![0usize; cols + 1], vec![0usize; cols + 1]);
    for i in 1..=rows {
        p[0] = i;
        let mut j0 = 0;
        let mut minv = vec![f64::INFINITY; cols + 1];
        let mut used = vec![false; cols + 1];
        loop {
            used[j0] = true;
            let i0 = p[j0];
            let (mut delta, mut j1) = (f64::INFINITY, 0);
            for j in 1..=cols {
                if !used[j] {
                    let cur = cost(i0, j) - u[i0] - v[j];
                    if cur < minv[j] {
                        minv[j] = cur;
                        way[j] = j0;
                    }
                    if minv[j] < delta {
                        delta = minv[j];
                        j1 = j;
                    }
                }
            }
            for j in 0..=cols {
                if used[j] {
                    u[p[j]] += delta;
                    v[j] -= delta;
                } else {
                    minv[j] -= delta;
                }
            }
            j0 = j1;
            if p[j0] == 0 {
                break;
            }
        }
        loop {
            let j1 = way[j0];
            p[j0] = p[j1];
            j0 = j1;
            if j0 == 0 {
                break;
            }
        }
    }
    let mut out = vec![0u32; rows];
    for j in 1..=cols {
        if p[j] > 0 {
            out[p[j] - 1] = (j - 1) as u32;
        }
    }
    out
}

/// The least share of weight a re-balancing to tolerance `tol` must move: every territory above
/// its band sheds at least its excess, every one below gains at least its deficit.
pub fn rebalance_lower_bound(current: &[Option<u32>], w: &[f64], shares: &[f64], tol: f64) -> f64 {
    let k = shares.len();
    let cur: Vec<u32> = current.iter().map(|c| c.unwrap_or(u32::MAX)).collect();
    let mut tot = vec![0.0; k];
    let mut total = 0.0;
    for (&c, &wi) in cur.iter().zip(w) {
        total += wi;
        if (c as usize) < k {
            tot[c as usize] += wi;
        }
    }
    if total <= 0.0 {
        return 0.0;
    }
    let tg = targets(w, shares);
    let (mut excess, mut deficit) = (0.0, 0.0);
    for t in 0..k {
        excess += (tot[t] - tg[t] * (1.0 + tol)).max(0.0);
        deficit += (tg[t] * (1.0 - tol) - tot[t]).max(0.0);
    }
    // Units with no current territory must be placed, but moving them costs nothing.
    excess.max(deficit) / total
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matching_finds_the_relabelling_that_keeps_most() {
        let m = vec![vec![1.0, 9.0, 0.0], vec![8.0, 7.0, 0.0], vec![0.0, 0.0, 5.0]];
        assert_eq!(max_matching(&m), vec![1, 0, 2]);
    }

    #[test]
    fn count_bound() {
        assert!((count_lower_bound(10, 3) - (4.0 / (10.0 / 3.0) - 1.0)).abs() < 1e-12);
        assert_eq!(count_lower_bound(9, 3), 0.0);
    }
}
