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
    /// Deals whose `stage` is one of these are sales (when the deals have a `stage` column);
    /// the others are listed as not credited.
    pub stages: Vec<String>,
    /// Whether deals routed over HTTP (`POST /v1/route`) are sales. By default they are leads in
    /// progress: an integration's router token cannot make revenue (issue #13).
    pub routed_sales: bool,
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
/// `E` is the employee's key: an id, or an index where millions of sales are credited.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinkSpan<E = String> {
    pub employee: E,
    pub from: i32,
    pub until: Option<i32>,
}

impl<E> LinkSpan<E> {
    /// Days of `[start, end]` (both inclusive) this tenure covers.
    fn days_within(&self, start: i32, end: i32) -> i64 {
        let lo = (self.from as i64).max(start as i64);
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

/// One credited part of a sale: the index of its role share, who (`None`: the role had no
/// holder then — the part is unassigned, never dropped), how much.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Credit<E = String> {
    pub share: usize,
    pub employee: Option<E>,
    pub amount: i64,
}

/// Splits `amount` in proportion to `weights` (non-negative), exactly: every part is the floor of
/// its exact share, and the kopecks left go one each to the largest remainders, ties to the
/// smaller key. Zero total weight gives everything to no one (an empty result) — the caller
/// decides what that means. Amounts may be negative (a refund splits like a sale).
pub fn split<K: Ord + Clone>(amount: i64, weights: &[(K, u64)]) -> Vec<(K, i64)> {
    let mut out = Vec::with_capacity(weights.len());
    split_into(amount, weights, &mut out);
    out
}

/// [`split`] into a reused buffer (cleared first).
pub fn split_into<K: Ord + Clone>(amount: i64, weights: &[(K, u64)], out: &mut Vec<(K, i64)>) {
    split_with(amount, weights, out, &mut Vec::new());
}

/// [`split_into`] with the remainders' buffer reused too.
fn split_with<K: Ord + Clone>(amount: i64, weights: &[(K, u64)], out: &mut Vec<(K, i64)>, best: &mut Vec<(u128, usize)>) {
    out.clear();
    best.clear();
    let total: u128 = weights.iter().map(|w| w.1 as u128).sum();
    if total == 0 {
        return;
    }
    let (sign, abs) = (amount.signum(), amount.unsigned_abs() as u128);
    let mut left = abs;
    for (i, (k, w)) in weights.iter().enumerate() {
        let exact = abs * (*w as u128);
        let q = exact / total;
        left -= q;
        out.push((k.clone(), q as i64));
        if *w > 0 {
            best.push((exact % total, i));
        }
    }
    // `left` < number of parts: one kopeck each to the largest remainders, ties to the smaller key.
    if left > 0 {
        best.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| weights[a.1].0.cmp(&weights[b.1].0)));
        for &(_, i) in best.iter().take(left as usize) {
            out[i].1 += 1;
        }
    }
    for o in out.iter_mut() {
        o.1 *= sign;
    }
}

/// A role's share of a sale, in basis points (70% = 7000), and who held the role for the client.
pub struct RoleShare<'a, E = String> {
    pub basis_points: u32,
    pub spans: &'a [LinkSpan<E>],
}

/// The credit engine; its working buffers are kept from one sale to the next.
pub struct Crediting<E> {
    parts: Vec<(usize, i64)>,
    roles: Vec<(usize, u64)>,
    weights: Vec<(Option<E>, u64)>,
    lines: Vec<(Option<E>, i64)>,
    best: Vec<(u128, usize)>,
}

impl<E> Default for Crediting<E> {
    fn default() -> Self {
        Crediting { parts: Vec::new(), roles: Vec::new(), weights: Vec::new(), lines: Vec::new(), best: Vec::new() }
    }
}

impl<E: Ord + Clone> Crediting<E> {
    /// Credits one sale into `out` (cleared first): `amount` over `shares` (which should sum to 10,000
    /// basis points for revenue credit; overlay credit may not), then each role's part over its
    /// holders by `policy`. `opened` is the deal's first day (for [`Policy::TimeInRole`]; without it
    /// the sale date alone counts). Lines come by share, then employee; a role's unassigned part last.
    pub fn credit(
        &mut self,
        amount: i64,
        sale_date: i32,
        opened: Option<i32>,
        shares: &[RoleShare<E>],
        policy: Policy,
        out: &mut Vec<Credit<E>>,
    ) {
        out.clear();
        let Crediting { parts, roles, weights, lines, best } = self;
        let total_bp: u64 = shares.iter().map(|s| s.basis_points as u64).sum();
        // Up to 100%, one exact split (the rest, if any, is nobody's); overlay shares beyond 100% in
        // all are each exact on their own.
        if total_bp <= 10_000 {
            roles.clear();
            roles.extend(shares.iter().enumerate().map(|(i, s)| (i, s.basis_points as u64)));
            roles.push((usize::MAX, 10_000 - total_bp));
            split_with(amount, roles, parts, best);
            parts.truncate(shares.len());
        } else {
            parts.clear();
            for (i, s) in shares.iter().enumerate() {
                let bp = s.basis_points as u64;
                parts.push((i, split(amount, &[(0, bp), (1, 10_000u64.saturating_sub(bp))])[0].1));
            }
        }
        let start = match policy {
            Policy::SaleDate => sale_date,
            Policy::TimeInRole => opened.unwrap_or(sale_date).min(sale_date),
        };
        for (&(i, part), s) in parts.iter().zip(shares) {
            weights.clear();
            for t in s.spans {
                let d = match policy {
                    Policy::SaleDate => t.holds_on(sale_date) as i64,
                    Policy::TimeInRole => t.days_within(start, sale_date),
                };
                if d > 0 {
                    match weights.iter_mut().find(|x| x.0.as_ref() == Some(&t.employee)) {
                        Some(x) => x.1 += d as u64,
                        None => weights.push((Some(t.employee.clone()), d as u64)),
                    }
                }
            }
            // Days nobody held the role are the unassigned part's weight.
            let covered: u64 = weights.iter().map(|d| d.1).sum();
            let span = (sale_date as i64 - start as i64) as u64 + 1;
            let vacant = span.saturating_sub(covered);
            weights.sort();
            if vacant > 0 || weights.is_empty() {
                weights.push((None, vacant.max(1)));
            }
            split_with(part, weights, lines, best);
            out.extend(lines.drain(..).map(|(employee, amount)| Credit { share: i, employee, amount }));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn credit(amount: i64, day: i32, opened: Option<i32>, shares: &[RoleShare], policy: Policy) -> Vec<Credit> {
        let mut out = Vec::new();
        Crediting::default().credit(amount, day, opened, shares, policy, &mut out);
        out
    }

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
        let sales = [
            LinkSpan { employee: "ivanov".to_string(), from: 0, until: Some(10) },
            LinkSpan { employee: "petrov".to_string(), from: 10, until: None },
        ];
        let shares = [RoleShare { basis_points: 10_000, spans: &sales }];
        let at = credit(100_000, 20, Some(1), &shares, Policy::SaleDate);
        assert_eq!(at, vec![Credit { share: 0, employee: Some("petrov".to_string()), amount: 100_000 }]);
        // 9 days (1..=9) and 11 days (10..=20) of 20.
        let by_time = credit(100_000, 20, Some(1), &shares, Policy::TimeInRole);
        assert_eq!(
            by_time.iter().map(|c| (c.employee.as_deref().unwrap(), c.amount)).collect::<Vec<_>>(),
            [("ivanov", 45_000), ("petrov", 55_000)]
        );
    }

    #[test]
    fn a_vacant_role_is_unassigned_not_lost() {
        let held = [LinkSpan { employee: "e1".to_string(), from: 0, until: None }];
        let shares = [RoleShare { basis_points: 7_000, spans: &held }, RoleShare { basis_points: 3_000, spans: &[] }];
        let c = credit(999, 5, None, &shares, Policy::SaleDate);
        assert_eq!(c.iter().map(|c| c.amount).sum::<i64>(), 999);
        assert_eq!(c[1], Credit { share: 1, employee: None, amount: 300 });
    }
}
