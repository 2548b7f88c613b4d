//! `allot credit` (issue #6): the stored deals of a period credited to whoever held each role,
//! by the scheme's `[credit]` section. Sales that cannot be credited are listed with the reason,
//! never skipped silently.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use allot_core::credit::{credit_sale, Policy, RoleShare, Tenure};
use allot_core::data::RowRef;
use allot_rules::{Matcher, Tri};
use allot_store::Store;
use rustc_hash::FxHashMap;

use crate::book::{open_book, Book, BookError};

/// What to credit: the sales dated `first..=last`, by the active scheme or `scheme` (text, file).
pub struct CreditRequest {
    pub first: i32,
    pub last: i32,
    pub scheme: Option<(String, String)>,
}

/// One credited part of a sale.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreditLine {
    pub deal: String,
    pub client: String,
    /// The client's row in the book's data (reports group by its attributes).
    pub client_row: u32,
    pub date: i32,
    /// `revenue` (the parts of a sale add up to it) or `overlay` (extra, kept apart).
    pub kind: &'static str,
    pub role: String,
    /// Empty: nobody held the role (unassigned).
    pub employee: String,
    /// Minor units (kopecks).
    pub amount: i64,
    pub currency: String,
}

/// A sale that was not credited, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Uncredited {
    pub deal: String,
    pub reason: String,
}

pub struct Credited {
    pub lines: Vec<CreditLine>,
    pub uncredited: Vec<Uncredited>,
    /// Sales credited (of the period).
    pub sales: usize,
    pub policy: Policy,
}

/// Deal columns the credit reads; `owner_<role>` names an explicit owner for a role.
const DATE: &str = "date";
const OPENED: &str = "opened";
const CURRENCY: &str = "currency";
const STAGE: &str = "stage";

pub fn credit(store: &mut dyn Store, req: &CreditRequest) -> Result<Credited, BookError> {
    let book = open_period(store, req)?;
    credit_in(store, &book, req)
}

/// The book as of the period's last day, with the request's scheme; a period that ends before it
/// starts is refused.
pub fn open_period(store: &mut dyn Store, req: &CreditRequest) -> Result<Book, BookError> {
    if req.first > req.last {
        return Err(BookError::Refused(format!(
            "the period ends ({}) before it starts ({})",
            allot_rules::civil_from_days(req.last),
            allot_rules::civil_from_days(req.first)
        )));
    }
    open_book(store, req.last, req.scheme.as_ref().map(|(t, f)| (t.as_str(), f.as_str())))
}

/// Credits the period's sales of an opened book (see [`open_period`]).
pub fn credit_in(store: &mut dyn Store, book: &Book, req: &CreditRequest) -> Result<Credited, BookError> {
    let (scheme, data) = (&book.loaded.scheme, &book.loaded.data);
    let Some(cs) = &scheme.credit else {
        return Err(BookError::Refused(format!(
            "{} has no [credit] section: add one to say how sales are credited (docs/scheme.md, Credit)",
            book.scheme_file
        )));
    };
    let deals = &data.deals;
    let col = |n: &str| deals.column_index(n);
    let amount_col = scheme.amount.as_deref().unwrap_or("amount");
    let Some(amount) = col(amount_col) else {
        return Err(BookError::Refused(format!("the stored deals have no `{amount_col}` column (the amount in kopecks)")));
    };
    let Some(date) = col(DATE) else {
        return Err(BookError::Refused("the stored deals have no `date` column (the sale date)".into()));
    };
    let (opened, currency, stage) = (col(OPENED), col(CURRENCY), col(STAGE));
    let explicit: Vec<(usize, usize)> =
        scheme.roles.iter().enumerate().filter_map(|(r, role)| col(&format!("owner_{}", role.id)).map(|c| (r, c))).collect();
    let day = |c: usize, row: u32| -> Result<Option<i32>, String> {
        if let Some(d) = deals.date(c, row) {
            return Ok(Some(d));
        }
        match deals.display(c, row, data) {
            None => Ok(None),
            Some(t) => allot_rules::parse_iso_date(t.trim())
                .map(Some)
                .ok_or_else(|| format!("`{}` = `{t}` is not a date (YYYY-MM-DD)", deals.column_name(c))),
        }
    };
    let matchers: Vec<Matcher> = cs.rules.iter().map(|r| Matcher::compile(&r.cond, &data.dict)).collect();

    // Which sales of the period, and from when their history is needed.
    let mut todo: Vec<(u32, i32, Option<i32>)> = Vec::new();
    let mut uncredited = Vec::new();
    for row in 0..deals.len() as u32 {
        let id = deals.id(row).to_string();
        let (d, o) = match (day(date, row), opened.map(|c| day(c, row)).transpose()) {
            (Ok(Some(d)), Ok(o)) => (d, o.flatten()),
            (Ok(None), _) => {
                uncredited.push(Uncredited { deal: id, reason: "no sale date".into() });
                continue;
            }
            (Err(e), _) | (_, Err(e)) => {
                uncredited.push(Uncredited { deal: id, reason: e });
                continue;
            }
        };
        if d < req.first || d > req.last {
            continue;
        }
        if let Some(c) = stage {
            match deals.display(c, row, data) {
                Some(st) if cs.stages.contains(&st) => {}
                st => {
                    let said = st.map_or_else(|| "no stage".to_string(), |s| format!("stage `{s}`"));
                    let reason = format!("{said} is not a sale ([credit] stages = {:?})", cs.stages);
                    uncredited.push(Uncredited { deal: id, reason });
                    continue;
                }
            }
        }
        todo.push((row, d, o));
    }
    let start = todo.iter().map(|t| t.2.unwrap_or(t.1).min(t.1)).min().unwrap_or(req.first);
    let mut tenures: FxHashMap<(&str, &str), Vec<Tenure>> = FxHashMap::default();
    let spells = store.spells_between(start, req.last)?;
    for s in &spells {
        tenures.entry((s.client.as_str(), s.role.as_str())).or_default().push(Tenure {
            employee: s.employee.clone(),
            from: s.from,
            until: s.to,
        });
    }
    let mut lines = Vec::new();
    let mut parts = Vec::new();
    let mut sales = 0;
    for (row, d, o) in todo {
        let id = deals.id(row);
        let client_row = data.deal_client[row as usize];
        let client = data.clients.id(client_row);
        let a = match deals.number(amount, row) {
            Some(x) if x.fract() != 0.0 || !x.is_finite() => {
                uncredited.push(Uncredited { deal: id.into(), reason: format!("amount {x} is not a whole number of kopecks") });
                continue;
            }
            Some(x) if x < 0.0 => {
                uncredited.push(Uncredited { deal: id.into(), reason: format!("amount {x} is negative") });
                continue;
            }
            Some(x) => x as i64,
            None => {
                let shown = deals.display(amount, row, data).unwrap_or_else(|| "empty".into());
                uncredited.push(Uncredited { deal: id.into(), reason: format!("amount `{shown}` is not a number") });
                continue;
            }
        };
        let row_ref = RowRef { data, client: client_row, deal: Some(row) };
        let Some(rule) = matchers.iter().position(|m| m.eval(&row_ref) == Tri::True) else {
            uncredited.push(Uncredited { deal: id.into(), reason: "no [[credit.shares]] applies".into() });
            continue;
        };
        let cur = currency.and_then(|c| deals.display(c, row, data)).unwrap_or_default();
        let owned: Vec<(usize, Vec<Tenure>)> = explicit
            .iter()
            .filter_map(|&(r, c)| deals.display(c, row, data).map(|e| (r, vec![Tenure { employee: e, from: i32::MIN, until: None }])))
            .collect();
        let none = Vec::new();
        let held = |r: usize| -> &[Tenure] {
            owned
                .iter()
                .find(|x| x.0 == r)
                .map(|x| x.1.as_slice())
                .unwrap_or_else(|| tenures.get(&(client, scheme.roles[r].id.as_str())).unwrap_or(&none))
        };
        for (kind, shares) in [("revenue", &cs.rules[rule].revenue), ("overlay", &cs.rules[rule].overlay)] {
            let rs: Vec<RoleShare> = shares.iter().map(|&(r, bp)| RoleShare { basis_points: bp, tenures: held(r) }).collect();
            credit_sale(a, d, o, &rs, cs.policy, &mut parts);
            for c in parts.drain(..) {
                lines.push(CreditLine {
                    deal: id.into(),
                    client: client.into(),
                    client_row,
                    date: d,
                    kind,
                    role: scheme.roles[shares[c.share].0].id.clone(),
                    employee: c.employee.unwrap_or_default(),
                    amount: c.amount,
                    currency: cur.clone(),
                });
            }
        }
        sales += 1;
    }
    Ok(Credited { lines, uncredited, sales, policy: cs.policy })
}

/// The credit lines as CSV: deal, client, date, kind, role, employee, amount (kopecks), currency.
pub fn write_csv(c: &Credited, w: &mut dyn std::io::Write) -> std::io::Result<()> {
    let mut out = csv::Writer::from_writer(w);
    out.write_record(["deal_id", "client_id", "date", "kind", "role", "employee_id", "amount", "currency"])?;
    for l in &c.lines {
        out.write_record([
            l.deal.as_str(),
            l.client.as_str(),
            &allot_rules::civil_from_days(l.date),
            l.kind,
            l.role.as_str(),
            l.employee.as_str(),
            &l.amount.to_string(),
            l.currency.as_str(),
        ])?;
    }
    out.flush()
}

/// Kopecks as roubles, digits grouped as in the other reports: 1234567 → "12 345,67".
pub fn money(minor: i64) -> String {
    let sign = if minor < 0 { "-" } else { "" };
    let abs = minor.unsigned_abs();
    format!("{sign}{},{:02}", crate::report::group((abs / 100) as f64), abs % 100)
}

/// Revenue credit by role, overlay credit, and the sales an employee was credited for.
type Tally<'a> = (BTreeMap<&'a str, i64>, i64, std::collections::BTreeSet<&'a str>);

/// Per employee and currency: revenue credit by role, overlay, and the number of sales.
pub fn summary(c: &Credited) -> String {
    let mut by: BTreeMap<(&str, &str), Tally> = BTreeMap::new();
    for l in &c.lines {
        let e = by.entry((if l.employee.is_empty() { "(unassigned)" } else { l.employee.as_str() }, l.currency.as_str())).or_default();
        match l.kind {
            "revenue" => *e.0.entry(l.role.as_str()).or_default() += l.amount,
            _ => e.1 += l.amount,
        }
        e.2.insert(l.deal.as_str());
    }
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{} sales credited ({}); {} not credited",
        c.sales,
        match c.policy {
            Policy::SaleDate => "to the holder on the sale date",
            Policy::TimeInRole => "by time in role",
        },
        c.uncredited.len()
    );
    let _ = writeln!(s, "{:<24} {:>4} {:>18} {:>18}  {:>6}  by role", "employee", "cur", "revenue credit", "overlay", "sales");
    for ((e, cur), (roles, overlay, deals)) in &by {
        let total: i64 = roles.values().sum();
        let parts: Vec<String> = roles.iter().map(|(r, a)| format!("{r} {}", money(*a))).collect();
        let _ = writeln!(s, "{e:<24} {cur:>4} {:>18} {:>18}  {:>6}  {}", money(total), money(*overlay), deals.len(), parts.join(", "));
    }
    if !c.uncredited.is_empty() {
        let _ = writeln!(s, "\nnot credited:");
        for u in &c.uncredited {
            let _ = writeln!(s, "  {:<16} {}", u.deal, u.reason);
        }
    }
    s
}
