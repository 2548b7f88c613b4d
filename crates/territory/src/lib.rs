//! Territory design (issue #5, MISSION.md S2.1): cut clients or geographic units into territories of
//! equal potential (and, optionally, workload and count) that are compact and contiguous, and
//! re-balance an existing design moving as little as the tolerance needs (S1.3).
//!
//! Pure computation: no files, no store. `allot-app` reads the inputs and renders the outputs.
//! - [`geo`]: unit vectors, great-circle distances, centroids, the map projection.
//! - [`graph`]: the neighbour graph (Delaunay on the sphere, or given adjacencies).
//! - [`solve`]: the designer and the re-balancer (the method is in that module's docs).
//! - [`measure`]: the figures a design is judged by (deviation, compactness, pieces, moves, bounds).

// Units, territories and criteria are parallel arrays indexed by number; index loops read best.
#![allow(clippy::needless_range_loop)]

pub mod geo;
pub mod graph;
pub mod measure;
pub mod solve;

pub use geo::Vec3;
pub use graph::Graph;
pub use solve::{solve, Criterion, Observer, Problem, ProblemError, Settings, Solution, Stop, TimeLimit};
