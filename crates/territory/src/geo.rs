//! Points on the sphere: unit vectors, great-circle distances, centres, projections.
//!
//! Every distance allot reports is a great-circle distance in kilometres. Points are kept as unit
//! vectors so that "nearest" is a dot product and a centre is a normalised weighted sum; that also
//! makes the antimeridian (Chukotka lies on both sides of it) a non-event.

/// The mean Earth radius (IUGG), kilometres.
pub const EARTH_RADIUS_KM: f64 = 6371.0088;

/// A point on the unit sphere.
pub type Vec3 = [f64; 3];

/// The unit vector of a latitude and longitude in degrees.
pub fn unit(lat: f64, lon: f64) -> Vec3 {
    let (la, lo) = (lat.to_radians(), lon.to_radians());
    [la.cos() * lo.cos(), la.cos() * lo.sin(), la.sin()]
}

/// Latitude and longitude in degrees of a (not necessarily unit) vector.
pub fn lat_lon(v: Vec3) -> (f64, f64) {
    let h = (v[0] * v[0] + v[1] * v[1]).sqrt();
    (v[2].atan2(h).to_degrees(), v[1].atan2(v[0]).to_degrees())
}

pub fn dot(a: Vec3, b: Vec3) -> f64 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}

pub fn cross(a: Vec3, b: Vec3) -> Vec3 {
    [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]]
}

pub fn norm(a: Vec3) -> f64 {
    dot(a, a).sqrt()
}

/// Great-circle distance in km between two unit vectors (atan2 form: exact for near and antipodal points).
pub fn dist(a: Vec3, b: Vec3) -> f64 {
    norm(cross(a, b)).atan2(dot(a, b)) * EARTH_RADIUS_KM
}

/// The normalised weighted sum of points: the spherical centroid. `None` when the weights cancel
/// (no points, zero weights, or points spread evenly around the sphere).
pub fn centroid(points: impl IntoIterator<Item = (Vec3, f64)>) -> Option<Vec3> {
    let mut s = [0.0; 3];
    for (p, w) in points {
        for k in 0..3 {
            s[k] += p[k] * w;
        }
    }
    let n = norm(s);
    (n > 1e-12).then(|| [s[0] / n, s[1] / n, s[2] / n])
}

/// A tangent frame at a centre: `c` and two orthonormal vectors perpendicular to it.
#[derive(Clone, Copy, Debug)]
pub struct Frame {
    pub c: Vec3,
    pub e1: Vec3,
    pub e2: Vec3,
}

impl Frame {
    /// East and north at `c`; at a pole, any perpendicular pair.
    pub fn at(c: Vec3) -> Frame {
        let east = cross([0.0, 0.0, 1.0], c);
        let e1 = if norm(east) < 1e-9 { [1.0, 0.0, 0.0] } else { scale(east, 1.0 / norm(east)) };
        let e2 = cross(c, e1);
        Frame { c, e1, e2 }
    }

    /// Stereographic projection from the antipode of the centre. It maps circles on the sphere to
    /// circles in the plane, so the planar Delaunay triangulation of the projected points is the
    /// spherical one.
    pub fn stereographic(&self, v: Vec3) -> (f64, f64) {
        let d = 1.0 + dot(v, self.c);
        let d = if d < 1e-12 { 1e-12 } else { d };
        (dot(v, self.e1) / d, dot(v, self.e2) / d)
    }
}

fn scale(a: Vec3, s: f64) -> Vec3 {
    [a[0] * s, a[1] * s, a[2] * s]
}

/// Albers equal-area conic projection, fitted to the data: the central meridian at the points'
/// mean longitude, the standard parallels at one sixth and five sixths of their latitude range.
/// For Russia this gives the familiar fan-shaped map rather than a stretched rectangle.
#[derive(Clone, Copy, Debug)]
pub struct Albers {
    lon0: f64,
    n: f64,
    c: f64,
    rho0: f64,
}

impl Albers {
    pub fn fit(points: &[Vec3]) -> Albers {
        let centre = centroid(points.iter().map(|&p| (p, 1.0))).unwrap_or([1.0, 0.0, 0.0]);
        let (_, mid) = lat_lon(centre);
        // The central meridian halfway across the points' longitudes (measured from their centre,
        // so that a span across the antimeridian is one span): for Russia about 100°E.
        let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
        let (mut west, mut east) = (0.0f64, 0.0f64);
        for &p in points {
            let (lat, lon) = lat_lon(p);
            lo = lo.min(lat);
            hi = hi.max(lat);
            let d = (lon - mid + 540.0).rem_euclid(360.0) - 180.0;
            west = west.min(d);
            east = east.max(d);
        }
        let lon0 = mid + (west + east) / 2.0;
        if !lo.is_finite() {
            (lo, hi) = (40.0, 70.0);
        }
        let span = (hi - lo).max(1.0);
        let (mut p1, mut p2) = (lo + span / 6.0, hi - span / 6.0);
        // On (or across) the equator a conic degenerates; fall back to parallels of one sign.
        if p1 * p2 <= 0.0 || (p1 + p2).abs() < 1e-6 {
            (p1, p2) = if hi.abs() >= lo.abs() { (1.0_f64.max(lo), hi.max(2.0)) } else { (lo.min(-2.0), (-1.0_f64).min(hi)) };
        }
        let (f1, f2) = (p1.to_radians(), p2.to_radians());
        let n = (f1.sin() + f2.sin()) / 2.0;
        let c = f1.cos().powi(2) + 2.0 * n * f1.sin();
        let lat0 = ((lo + hi) / 2.0).to_radians();
        let rho0 = (c - 2.0 * n * lat0.sin()).max(0.0).sqrt() / n;
        Albers { lon0, n, c, rho0 }
    }

    /// Projected (x, y) of a point, y growing northwards; unit: Earth radii.
    pub fn project(&self, v: Vec3) -> (f64, f64) {
        let (lat, lon) = lat_lon(v);
        let mut dl = lon - self.lon0;
        while dl > 180.0 {
            dl -= 360.0;
        }
        while dl < -180.0 {
            dl += 360.0;
        }
        let rho = (self.c - 2.0 * self.n * lat.to_radians().sin()).max(0.0).sqrt() / self.n;
        let theta = self.n * dl.to_radians();
        (rho * theta.sin(), self.rho0 - rho * theta.cos())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moscow_to_saint_petersburg_is_about_634_km() {
        let d = dist(unit(55.7558, 37.6173), unit(59.9386, 30.3141));
        assert!((d - 634.0).abs() < 5.0, "{d}");
    }

    #[test]
    fn across_the_antimeridian_is_short() {
        let d = dist(unit(65.0, 179.5), unit(65.0, -179.5));
        assert!(d < 60.0, "{d}");
    }

    #[test]
    fn albers_keeps_north_up_and_west_left() {
        let pts = [unit(55.75, 37.6), unit(43.1, 131.9), unit(69.0, 33.0)];
        let a = Albers::fit(&pts);
        let (mx, my) = a.project(pts[0]);
        let (vx, _) = a.project(pts[1]);
        let (_, ny) = a.project(pts[2]);
        assert!(mx < vx, "Moscow is west of Vladivostok");
        assert!(ny > my, "Murmansk is north of Moscow");
    }
}
