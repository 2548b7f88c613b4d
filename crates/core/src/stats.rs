//! Load per employee and balance figures per role, so a head of sales sees whether the shares are
//! comparable (S2.1: territories of similar potential capacity).

use crate::data::Data;
use crate::engine::{measures, Outcome};
use crate::model::{EmpIx, RoleIx, Scheme};

/// What one employee holds in one role.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Load {
    pub clients: u64,
    pub potential: f64,
    pub workload: f64,
}

/// Spread of one measure over the employees of a role.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Spread {
    pub min: f64,
    pub max: f64,
    /// max / min; infinite when someone holds nothing and someone something.
    pub ratio: f64,
    /// Coefficient of variation: standard deviation / mean (0 when the mean is 0).
    pub cv: f64,
    /// Gini coefficient: 0 when everyone holds the same, towards 1 when one holds everything
    /// (0 when nobody holds anything).
    pub gini: f64,
}

impl Spread {
    pub fn of(values: &[f64]) -> Spread {
        if values.is_empty() {
            return Spread { min: 0.0, max: 0.0, ratio: 1.0, cv: 0.0, gini: 0.0 };
        }
        let min = values.iter().copied().fold(f64::INFINITY, f64::min);
        let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let n = values.len() as f64;
        let mean = values.iter().sum::<f64>() / n;
        let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
        let ratio = if max == 0.0 {
            1.0
        } else if min == 0.0 {
            f64::INFINITY
        } else {
            max / min
        };
        let cv = if mean == 0.0 { 0.0 } else { var.sqrt() / mean };
        let mut sorted = values.to_vec();
        sorted.sort_by(f64::total_cmp);
        let total: f64 = sorted.iter().sum();
        let gini = if total == 0.0 {
            0.0
        } else {
            let ranked: f64 = sorted.iter().enumerate().map(|(i, v)| (i as f64 + 1.0) * v).sum();
            2.0 * ranked / (n * total) - (n + 1.0) / n
        };
        Spread { min, max, ratio, cv, gini }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct RoleLoad {
    pub role: RoleIx,
    /// Every employee that holds clients in the role or that its rules can reach, in id order.
    pub employees: Vec<(EmpIx, Load)>,
    pub clients: Spread,
    pub potential: Spread,
    pub workload: Spread,
}

/// Loads and spreads per covered role.
pub fn loads(scheme: &Scheme, data: &Data, outcome: &Outcome) -> Vec<RoleLoad> {
    let (pot, work) = measures(scheme, data);
    let nr = outcome.roles.len();
    let ne = scheme.employees.len();
    let mut per = vec![Load::default(); ne * nr];
    for (i, cell) in outcome.cells.iter().enumerate() {
        if let Some(e) = cell.employee() {
            let c = i / nr;
            let l = &mut per[e as usize * nr + i % nr];
            l.clients += 1;
            l.potential += pot.get(c);
            l.workload += work.get(c);
        }
    }
    let mut order: Vec<EmpIx> = (0..ne as EmpIx).collect();
    order.sort_by(|&a, &b| scheme.employees[a as usize].id.cmp(&scheme.employees[b as usize].id));
    outcome
        .roles
        .iter()
        .enumerate()
        .map(|(k, &role)| {
            let reach = scheme.reachable(role);
            let employees: Vec<(EmpIx, Load)> = order
                .iter()
                .filter(|&&e| per[e as usize * nr + k].clients > 0 || reach.contains(&e))
                .map(|&e| (e, per[e as usize * nr + k]))
                .collect();
            let active: Vec<&Load> = employees.iter().filter(|(e, _)| scheme.employees[*e as usize].active).map(|(_, l)| l).collect();
            let f = |g: fn(&Load) -> f64| Spread::of(&active.iter().map(|l| g(l)).collect::<Vec<_>>());
            RoleLoad { role, clients: f(|l| l.clients as f64), potential: f(|l| l.potential), workload: f(|l| l.workload), employees }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::Spread;

    #[test]
    fn gini_is_zero_when_equal_and_grows_with_concentration() {
        assert_eq!(Spread::of(&[3.0, 3.0, 3.0, 3.0]).gini, 0.0);
        assert!((Spread::of(&[0.0, 0.0, 0.0, 4.0]).gini - 0.75).abs() < 1e-12);
        assert!((Spread::of(&[3.0, 1.0, 2.0]).gini - 2.0 / 9.0).abs() < 1e-12);
        assert_eq!(Spread::of(&[0.0, 0.0]).gini, 0.0);
    }
}
