//! Sales credit (issue #6, MISSION.md S1.2, S1.4): who is credited with how much of each sale.
//!
//! A sale's amount (integer minor units: kopecks) is split over roles by the credit shares the
//! scheme gives (e.g. sales 70%, account support 20%, service 10%), then each role's part over the
//! people who held the role: the holder on the sale date, or — by time in role — everyone who held
//! it during the deal's life, in proportion to their days. Both splits are exact: the parts add up
//! to the whole to the last kopeck, by the largest-remainder method with ties broken by id (role
//! name, then employee id), so the same input gives the same kopecks every time.
//!
//! Overlay credit (a VIP head also credited with 10% of their region's sales) is computed the same
//! way but kept apart: it is not part of the 100%.

/// The scheme's credit section: the policy and the share rules, first match wins per deal.
#[derive(Debug, Clone)]
pub struct CreditScheme {
    pub policy: Policy,
    pub rules: Vec<CreditRule>,
}

/// One `[[credit.shares]]`: for the deals its condition holds for, revenue shares per role
/// (summing to exactly 100%) and overlay shares kept apart. Shares are in basis points.
#[derive(Debug, Clone)]
pub struct CreditRule {
    /// Where it is written (line, column of the scheme file), for messages.
    pub origin: Option<(usize, usize)>,
    /// The condition as written (empty: every deal).
    pub source: String,
    pub cond: allot_rules::Cond,
    pub revenue: Vec<(crate::model::RoleIx, u32)>,
    pub overlay: Vec<(crate::model::RoleIx, u32)>,
}

/// Who held a role for a client, over which days (`until` exclusive; `None`: still holds it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tenure {
    pub employee: String,
    pub from: i32,
    pub until: Option<i32>,
}

impl Tenure {
    /// Days of `[start, end]` (both inclusive) this tenure covers.
    fn days_within(&self, start: i32, end: i32) -> i64 {
        let lo = self.from.max(start) as i64;
        let hi = self.until.map_or(end as i64 + 1, |u| (u as i64).min(end as i64 + 1));
        (hi - lo).max(0)
    }
    fn holds_on(&self, day: i32) -> bool {
        self.from <= day && self.until.is_none_or(|u| day < u)
    }
}

/// How a role's part follows the role's holders during the deal's life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Policy {
    /// All of it to whoever held the role on the sale date.
    SaleDate,
    /// Split by days in the role between the deal's opening and its sale date (both counted).
    TimeInRole,
}

/// One credited line of a sale.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Credit {
    pub role: String,
    /// `None`: the role had no holder then; the part is reported as unassigned, never dropped.
    pub employee: Option<String>,
    pub amount: i64,
}

/// Splits `amount` in proportion to `weights` (non-negative), exactly: every part is the floor of
/// its exact share, and the kopecks left go one each to the largest remainders, ties to the
/// smaller key. Zero total weight gives everything to no one (an empty result) — the caller
/// decides what that means. Amounts may be negative (a refund splits like a sale).
pub fn split<K: Ord + Clone>(amount: i64, weights: &[(K, u64)]) -> Vec<(K, i64)> {
    let total: u128 = weights.iter().map(|w| w.1 as u128).sum();
    if total == 0 {
        return Vec::new();
    }
    let (sign, abs) = (amount.signum(), amount.unsigned_abs() as u128);
    let mut parts: Vec<(K, u128, u128)> = weights
        .iter()
        .map(|(k, w)| {
            let exact = abs * (*w as u128);
            (k.clone(), exact / total, exact % total)
        })
        .collect();
    let given: u128 = parts.iter().map(|p| p.1).sum();
    let mut left = abs - given; // < number of parts
    let mut order: Vec<usize> = (0..parts.len()).filter(|&i| weights[i].1 > 0).collect();
    order.sort_by(|&a, &b| parts[b].2.cmp(&parts[a].2).then_with(|| parts[a].0.cmp(&parts[b].0)));
    for &i in &order {
        if left == 0 {
            break;
        }
        parts[i].1 += 1;
        left -= 1;
    }
    parts.into_iter().map(|(k, q, _)| (k, sign * q as i64)).collect()
}

/// A role's share of a sale, in basis points (70% = 7000), and who held the role for the client.
pub struct RoleShare<'a> {
    pub role: &'a str,
    pub basis_points: u32,
    pub tenures: &'a [Tenure],
}

/// Credits one sale: `amount` over `shares` (which should sum to 10,000 basis points for revenue
/// credit; overlay credit may not), then each role's part over its holders by `policy`. `opened`
/// is the deal's first day (for [`Policy::TimeInRole`]; without it the sale date alone counts).
/// The lines are ordered by role, then employee; the unassigned part of a role comes last in it.
pub fn credit_sale(amount: i64, sale_date: i32, opened: Option<i32>, shares: &[RoleShare], policy: Policy) -> Vec<Credit> {
    let weights: Vec<(&str, u64)> = shares.iter().map(|s| (s.role, s.basis_points as u64)).collect();
    let total_bp: u64 = weights.iter().map(|w| w.1).sum();
    // Up to 100%, one exact split (the rest, if any, is nobody's); overlay shares beyond 100% in
    // all are each exact on their own.
    let by_role: Vec<i64> = if total_bp <= 10_000 {
        let mut w = weights.clone();
        w.push(("", 10_000 - total_bp));
        split(amount, &w).into_iter().take(shares.len()).map(|x| x.1).collect()
    } else {
        weights.iter().map(|&(r, bp)| split(amount, &[(r, bp), ("", 10_000u64.saturating_sub(bp))])[0].1).collect()
    };
    let mut out = Vec::new();
    for (s, part) in shares.iter().zip(by_role) {
        let start = match policy {
            Policy::SaleDate => sale_date,
            Policy::TimeInRole => opened.unwrap_or(sale_date).min(sale_date),
        };
        let mut days: Vec<(String, u64)> = Vec::new();
        for t in s.tenures {
            let d = match policy {
                Policy::SaleDate => t.holds_on(sale_date) as i64,
                Policy::TimeInRole => t.days_within(start, sale_date),
            };
            if d > 0 {
                match days.iter_mut().find(|x| x.0 == t.employee) {
                    Some(x) => x.1 += d as u64,
                    None => days.push((t.employee.clone(), d as u64)),
                }
            }
        }
        // Days nobody held the role are the unassigned part's weight.
        let covered: u64 = days.iter().map(|d| d.1).sum();
        let span = (sale_date - start) as u64 + 1;
        let vacant = span.saturating_sub(covered);
        let mut weights: Vec<(Option<String>, u64)> = days.into_iter().map(|(e, d)| (Some(e), d)).collect();
        weights.sort();
        if vacant > 0 || weights.is_empty() {
            weights.push((None, vacant.max(1)));
        }
        out.extend(split(part, &weights).into_iter().map(|(employee, amount)| Credit { role: s.role.to_string(), employee, amount }));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thirds_of_a_hundred_kopecks_go_to_the_smaller_ids_first() {
        let w = [("b", 1), ("a", 1), ("c", 1)];
        assert_eq!(split(100, &w), vec![("b", 33), ("a", 34), ("c", 33)]);
        assert_eq!(split(-100, &w), vec![("b", -33), ("a", -34), ("c", -33)]);
        assert_eq!(split(0, &w), vec![("b", 0), ("a", 0), ("c", 0)]);
    }

    #[test]
    fn a_role_changing_hands_mid_deal() {
        // Ivanov held sales until day 10 (exclusive), Petrov since; the deal ran days 1..=20.
        let sales =
            [Tenure { employee: "ivanov".into(), from: 0, until: Some(10) }, Tenure { employee: "petrov".into(), from: 10, until: None }];
        let shares = [RoleShare { role: "sales", basis_points: 10_000, tenures: &sales }];
        let at = credit_sale(100_000, 20, Some(1), &shares, Policy::SaleDate);
        assert_eq!(at, vec![Credit { role: "sales".into(), employee: Some("petrov".into()), amount: 100_000 }]);
        // 9 days (1..=9) and 11 days (10..=20) of 20.
        let split = credit_sale(100_000, 20, Some(1), &shares, Policy::TimeInRole);
        assert_eq!(
            split.iter().map(|c| (c.employee.as_deref().unwrap(), c.amount)).collect::<Vec<_>>(),
            [("ivanov", 45_000), ("petrov", 55_000)]
        );
    }

    #[test]
    fn a_vacant_role_is_unassigned_not_lost() {
        let shares = [
            RoleShare { role: "sales", basis_points: 7_000, tenures: &[Tenure { employee: "e1".into(), from: 0, until: None }] },
            RoleShare { role: "service", basis_points: 3_000, tenures: &[] },
        ];
        let c = credit_sale(999, 5, None, &shares, Policy::SaleDate);
        assert_eq!(c.iter().map(|c| c.amount).sum::<i64>(), 999);
        assert_eq!(c[1], Credit { role: "service".into(), employee: None, amount: 300 });
    }
}
