//! The neighbour graph contiguity is judged on: given as unit adjacencies, or built from the
//! points by a Delaunay triangulation on the sphere.

use crate::geo::{centroid, cross, dist, dot, norm, Frame, Vec3};

/// An undirected graph in compressed rows: symmetric, no self-loops, no repeated edges.
#[derive(Clone, Debug, Default)]
pub struct Graph {
    offsets: Vec<u32>,
    targets: Vec<u32>,
}

impl Graph {
    /// The graph of `n` nodes with these edges (either direction, repeats and loops ignored).
    pub fn from_edges(n: usize, edges: impl IntoIterator<Item = (u32, u32)>) -> Graph {
        let mut pairs: Vec<(u32, u32)> = Vec::new();
        for (a, b) in edges {
            if a != b && (a as usize) < n && (b as usize) < n {
                pairs.push((a, b));
                pairs.push((b, a));
            }
        }
        pairs.sort_unstable();
        pairs.dedup();
        let mut offsets = vec![0u32; n + 1];
        for &(a, _) in &pairs {
            offsets[a as usize + 1] += 1;
        }
        for i in 0..n {
            offsets[i + 1] += offsets[i];
        }
        Graph { offsets, targets: pairs.into_iter().map(|(_, b)| b).collect() }
    }

    /// The Delaunay graph of points on the sphere (stereographic projection from the antipode of
    /// their centre). Points at the same place are joined to each other; with fewer than three
    /// distinct places, or all on one great circle, consecutive points are joined along it.
    pub fn delaunay(points: &[Vec3]) -> Graph {
        let n = points.len();
        let frame = Frame::at(centroid(points.iter().map(|&p| (p, 1.0))).unwrap_or([1.0, 0.0, 0.0]));
        let flat: Vec<(f64, f64)> = points.iter().map(|&p| frame.stereographic(p)).collect();
        // One representative per distinct place; the others hang on it.
        let mut order: Vec<u32> = (0..n as u32).collect();
        order.sort_unstable_by(|&a, &b| {
            let (pa, pb) = (flat[a as usize], flat[b as usize]);
            pa.0.total_cmp(&pb.0).then(pa.1.total_cmp(&pb.1)).then(a.cmp(&b))
        });
        let mut edges = Vec::new();
        let mut reps: Vec<u32> = Vec::new();
        for (k, &i) in order.iter().enumerate() {
            if k > 0 && flat[order[k - 1] as usize] == flat[i as usize] {
                edges.push((*reps.last().unwrap_or(&i), i));
            } else {
                reps.push(i);
            }
        }
        let pts: Vec<delaunator::Point> =
            reps.iter().map(|&i| delaunator::Point { x: flat[i as usize].0, y: flat[i as usize].1 }).collect();
        let t = delaunator::triangulate(&pts);
        if t.triangles.is_empty() {
            // Collinear or fewer than three places: a path in sorted order.
            for w in reps.windows(2) {
                edges.push((w[0], w[1]));
            }
        } else {
            for tri in t.triangles.chunks_exact(3) {
                let (a, b, c) = (reps[tri[0]], reps[tri[1]], reps[tri[2]]);
                edges.extend([(a, b), (b, c), (c, a)]);
            }
        }
        Graph::from_edges(n, edges)
    }

    pub fn len(&self) -> usize {
        self.offsets.len().saturating_sub(1)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn neighbours(&self, i: usize) -> &[u32] {
        &self.targets[self.offsets[i] as usize..self.offsets[i + 1] as usize]
    }

    pub fn edges(&self) -> impl Iterator<Item = (u32, u32)> + '_ {
        (0..self.len()).flat_map(move |a| self.neighbours(a).iter().filter(move |&&b| b > a as u32).map(move |&b| (a as u32, b)))
    }

    /// The graph of groups: groups `g[a]` and `g[b]` are neighbours when some edge joins a member
    /// of one to a member of the other (units built from their clients' graph).
    pub fn quotient(&self, group: &[u32], groups: usize) -> Graph {
        Graph::from_edges(groups, self.edges().map(|(a, b)| (group[a as usize], group[b as usize])))
    }
}

/// Where groups of points meet: the Voronoi edges between neighbouring points of different
/// groups (each edge joins the circumcentres of the two Delaunay triangles on either side), on the
/// sphere. Points of a group make its area; the edges between groups approximate their borders —
/// from the places of a country's regions, the regions' borders. Edges longer than `max_km`, or
/// further than `max_km` from the points they part, are left out (the open sea at the hull).
pub fn borders(points: &[Vec3], group: &[u32], max_km: f64) -> Vec<(Vec3, Vec3)> {
    let frame = Frame::at(centroid(points.iter().map(|&p| (p, 1.0))).unwrap_or([1.0, 0.0, 0.0]));
    let flat: Vec<(f64, f64)> = points.iter().map(|&p| frame.stereographic(p)).collect();
    // One representative per distinct place.
    let mut order: Vec<usize> = (0..points.len()).collect();
    order.sort_unstable_by(|&a, &b| flat[a].0.total_cmp(&flat[b].0).then(flat[a].1.total_cmp(&flat[b].1)).then(a.cmp(&b)));
    order.dedup_by(|a, b| flat[*a] == flat[*b]);
    let pts: Vec<delaunator::Point> = order.iter().map(|&i| delaunator::Point { x: flat[i].0, y: flat[i].1 }).collect();
    let t = delaunator::triangulate(&pts);
    let centre = |tri: usize| {
        let [a, b, c] = [0, 1, 2].map(|k| points[order[t.triangles[3 * tri + k]]]);
        let n = cross([b[0] - a[0], b[1] - a[1], b[2] - a[2]], [c[0] - a[0], c[1] - a[1], c[2] - a[2]]);
        let len = norm(n);
        if len == 0.0 {
            return None;
        }
        let n = [n[0] / len, n[1] / len, n[2] / len];
        Some(if dot(n, a) < 0.0 { [-n[0], -n[1], -n[2]] } else { n })
    };
    let mut out = Vec::new();
    for e in 0..t.triangles.len() {
        let twin = t.halfedges[e];
        if twin == delaunator::EMPTY || twin < e {
            continue;
        }
        let (p, q) = (order[t.triangles[e]], order[t.triangles[twin]]);
        if group[p] == group[q] {
            continue;
        }
        let (Some(u), Some(v)) = (centre(e / 3), centre(twin / 3)) else { continue };
        if dist(u, v) <= max_km && dist(u, points[p]) <= max_km && dist(v, points[p]) <= max_km {
            out.push((u, v));
        }
    }
    out
}

#[cfg(test)]
mod borders_tests {
    use super::*;
    use crate::geo::unit;

    #[test]
    fn two_groups_side_by_side_meet_along_the_line_between_them() {
        // A grid west (group 0) and east (group 1) of 40°E: the border runs between them.
        let mut points = Vec::new();
        let mut group = Vec::new();
        for i in 0..6 {
            for j in 0..6 {
                points.push(unit(50.0 + i as f64, 38.0 + j as f64 * 0.8));
                group.push(u32::from(j >= 3));
            }
        }
        let b = borders(&points, &group, 500.0);
        assert!(!b.is_empty());
        for (u, v) in &b {
            for w in [u, v] {
                let (_, lon) = crate::geo::lat_lon(*w);
                assert!((39.6..40.4).contains(&lon), "a border point at {lon}°E lies between the groups");
            }
        }
        assert!(borders(&points, &vec![0; points.len()], 500.0).is_empty(), "one group has no border");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geo::unit;

    #[test]
    fn a_grid_triangulates_to_its_neighbours() {
        let pts: Vec<Vec3> = (0..9).map(|i| unit(55.0 + (i / 3) as f64 * 0.1, 37.0 + (i % 3) as f64 * 0.1)).collect();
        let g = Graph::delaunay(&pts);
        // The centre of a 3×3 grid touches at least its four edge-neighbours.
        for n in [1u32, 3, 5, 7] {
            assert!(g.neighbours(4).contains(&n), "{:?}", g.neighbours(4));
        }
        assert!(g.edges().count() >= 16);
    }

    #[test]
    fn duplicates_and_lines_stay_connected() {
        let p = unit(55.0, 37.0);
        let g = Graph::delaunay(&[p, p, unit(55.0, 38.0), unit(55.0, 39.0)]);
        assert!(g.neighbours(0).contains(&1) || g.neighbours(1).contains(&0));
        assert!(g.edges().count() >= 3);
    }
}
