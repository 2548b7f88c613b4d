//! `allot report` (issue #6, MISSION.md S1.2, S2.1): per role and employee, what they hold (clients,
//! potential, workload on the period's last day) and what they were credited with (revenue and
//! overlay credit of the period's sales), realisation = credited revenue / potential, and the
//! balance of the distribution per role (max/min, coefficient of variation, Gini). Written as a
//! terminal table, CSV, XLSX, and charts (load per employee; credited revenue against potential).

use std::collections::BTreeMap;

use rustc_hash::FxHashMap;
use std::fmt::Write as _;

use allot_core::stats::Spread;
use allot_store::Store;

use allot_core::data::RowRef;

use crate::credit::{credit_sales, money, not_credited, open_period, CreditRequest, Sale, Uncredited};
use crate::stored::{AppError, State};
use crate::Names;

/// What the rows are: employees, or groups of them (S2: territory, a client column such as
/// significance or industry — a segment —, or team).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Group {
    Employee,
    Team,
    Territory,
    Column(String),
}

impl Group {
    pub fn parse(s: &str) -> Group {
        match s {
            "employee" => Group::Employee,
            "team" => Group::Team,
            "territory" => Group::Territory,
            other => Group::Column(other.to_string()),
        }
    }
    pub fn heading(&self) -> &str {
        match self {
            Group::Employee => "employee",
            Group::Team => "team",
            Group::Territory => "territory",
            Group::Column(c) => c,
        }
    }
}

pub struct ReportRequest {
    pub period: CreditRequest,
    pub group: Group,
    /// Only credit in this currency; required when the period's sales have several.
    pub currency: Option<String>,
}

/// One employee (or group) in one role.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Row {
    pub role: String,
    /// The employee id, or the group's key (team, territory, segment value).
    pub employee: String,
    /// The employee's name (empty for groups).
    pub name: String,
    pub clients: u64,
    pub potential: f64,
    pub workload: f64,
    /// Sales credited in the role.
    pub deals: usize,
    /// Minor units (kopecks).
    pub revenue: i64,
    pub overlay: i64,
    /// Credited revenue (in major units) per unit of potential; none without potential.
    pub realisation: Option<f64>,
}

/// The balance of one role's distribution over its employees.
#[derive(Debug, Clone, PartialEq)]
pub struct Balance {
    pub role: String,
    pub clients: Spread,
    pub potential: Spread,
    pub workload: Spread,
}

pub struct Report {
    pub group: Group,
    pub first: i32,
    pub last: i32,
    pub currency: String,
    pub rows: Vec<Row>,
    pub balance: Vec<Balance>,
    pub uncredited: Vec<Uncredited>,
    /// Revenue credit nobody held the role for, per role (minor units).
    pub unassigned: BTreeMap<String, i64>,
}

pub fn report(store: &mut dyn Store, req: &ReportRequest) -> Result<Report, AppError> {
    let mut book = open_period(store, &req.period)?;
    let mut people = Groups::new(&book, &Group::Employee)?;
    let mut groups = match req.group {
        Group::Employee => None,
        ref g => Some(Groups::new(&book, g)?),
    };
    let (mut by_employee, mut by_group) = (Credited::default(), Credited::default());
    let outcome = credit_sales(store, &mut book, &req.period, &mut |sale| {
        by_employee.add(sale, &mut people);
        if let Some(g) = groups.as_mut() {
            by_group.add(sale, g);
        }
    })?;
    let currency = match (&req.currency, by_employee.currencies.all()) {
        (Some(c), _) => c.clone(),
        (None, []) => String::new(),
        (None, [one]) => one.clone(),
        (None, several) => {
            let mut seen: Vec<&str> = several.iter().map(|c| if c.is_empty() { "(none)" } else { c.as_str() }).collect();
            seen.sort();
            return Err(AppError::Refused(format!(
                "the period's sales are in several currencies ({}); amounts of different currencies are never added: \
                 choose one with --currency",
                seen.join(", ")
            )));
        }
    };
    let (all, unassigned) = accumulate(&book, &by_employee, &currency, &mut people, true);
    let mut balance = Vec::new();
    let mut roles: Vec<&str> = all.iter().map(|r| r.role.as_str()).collect();
    roles.dedup();
    for role in roles {
        // Balance is about what people hold: those holding clients in the role.
        let of = |f: fn(&Row) -> f64| all.iter().filter(|r| r.role == role && r.clients > 0).map(f).collect::<Vec<f64>>();
        balance.push(Balance {
            role: role.to_string(),
            clients: Spread::of(&of(|r| r.clients as f64)),
            potential: Spread::of(&of(|r| r.potential)),
            workload: Spread::of(&of(|r| r.workload)),
        });
    }
    let rows = match groups.as_mut() {
        None => all,
        Some(g) => accumulate(&book, &by_group, &currency, g, false).0,
    };
    Ok(Report {
        group: req.group.clone(),
        first: req.period.first,
        last: req.period.last,
        currency,
        rows,
        balance,
        uncredited: outcome.uncredited,
        unassigned,
    })
}

const NO_TEAM: &str = "(no team)";

/// The groups a report's rows are (employees, teams, territories, values of a client column),
/// interned; which ones a holding or a credited part counts for.
struct Groups {
    group: Group,
    names: Names,
    /// For territories and client columns: each client row's group.
    by_client: Vec<u32>,
    /// For teams: each employee's groups.
    by_employee: FxHashMap<String, Vec<u32>>,
}

impl Groups {
    fn new(book: &State, group: &Group) -> Result<Groups, AppError> {
        let (scheme, data) = (&book.loaded.scheme, &book.loaded.data);
        let mut g = Groups { group: group.clone(), names: Names::default(), by_client: vec![], by_employee: FxHashMap::default() };
        match group {
            Group::Employee => {}
            Group::Team => {
                for e in &scheme.employees {
                    let v: Vec<u32> = if e.teams.is_empty() {
                        vec![g.names.intern(NO_TEAM)]
                    } else {
                        e.teams.iter().map(|t| g.names.intern(t)).collect()
                    };
                    g.by_employee.insert(e.id.clone(), v);
                }
            }
            Group::Territory => {
                for client in 0..data.clients.len() as u32 {
                    let (t, _) = allot_core::engine::territory_of(scheme, &book.loaded.compiled, &RowRef { data, client, deal: None });
                    let name = scheme.territories.get(t as usize).map_or("(no territory)", |t| t.id.as_str());
                    let i = g.names.intern(name);
                    g.by_client.push(i);
                }
            }
            Group::Column(col) => {
                let Some(c) = data.clients.column_index(col) else {
                    let names: Vec<&str> = data.clients.columns().map(|c| c.0).collect();
                    return Err(AppError::Refused(format!(
                        "the clients have no column `{col}` to group by; they have: {}",
                        names.join(", ")
                    )));
                };
                for client in 0..data.clients.len() as u32 {
                    let name = data.clients.display(c, client, data).unwrap_or_else(|| "(empty)".into());
                    let i = g.names.intern(&name);
                    g.by_client.push(i);
                }
            }
        }
        Ok(g)
    }

    /// The groups of a client's holding or credit by `employee` (an employee may be in several teams).
    fn of(&mut self, client: u32, employee: &str, out: &mut Vec<u32>) {
        out.clear();
        match self.group {
            Group::Employee => out.push(self.names.intern(employee)),
            Group::Territory | Group::Column(_) => out.push(self.by_client[client as usize]),
            Group::Team => match self.by_employee.get(employee) {
                Some(v) => out.extend_from_slice(v),
                None => out.push(self.names.intern(NO_TEAM)), // an explicit owner outside the scheme
            },
        }
    }
}

/// Credit of a period's sales summed per (role, group, currency) as the sales stream by; a sale
/// counts once per (role, group) however many parts it has there.
#[derive(Default)]
struct Credited {
    currencies: Names,
    /// (role, group, currency) → revenue credit, overlay credit, sales.
    sums: FxHashMap<(u32, u32, u32), (i64, i64, usize)>,
    /// (role, currency) → revenue credit nobody held the role for.
    unassigned: FxHashMap<(u32, u32), i64>,
    roles: Names,
    scratch: Vec<u32>,
    seen: Vec<(u32, u32)>,
}

impl Credited {
    fn add(&mut self, sale: &Sale<'_>, groups: &mut Groups) {
        let cur = self.currencies.intern(sale.currency);
        self.seen.clear();
        for p in sale.parts {
            let role = self.roles.intern(p.role);
            if p.employee.is_empty() {
                if p.kind == "revenue" {
                    *self.unassigned.entry((role, cur)).or_default() += p.amount;
                }
                continue;
            }
            let mut scratch = std::mem::take(&mut self.scratch);
            groups.of(sale.client_row, p.employee, &mut scratch);
            for &g in &scratch {
                let e = self.sums.entry((role, g, cur)).or_default();
                match p.kind {
                    "revenue" => e.0 += p.amount,
                    _ => e.1 += p.amount,
                }
                if !self.seen.contains(&(role, g)) {
                    self.seen.push((role, g));
                    e.2 += 1;
                }
            }
            self.scratch = scratch;
        }
    }
}

/// Sums holdings (the book on the last day) and the credit in `currency` per role and group.
/// Also returns the revenue credit nobody held the role for.
fn accumulate(book: &State, credited: &Credited, currency: &str, groups: &mut Groups, named: bool) -> (Vec<Row>, BTreeMap<String, i64>) {
    let (scheme, data) = (&book.loaded.scheme, &book.loaded.data);
    let measure = |name: Option<&str>, default: &str| data.clients.column_index(name.unwrap_or(default));
    let (pot, wl) = (measure(scheme.potential.as_deref(), "potential"), measure(scheme.workload.as_deref(), "workload"));
    let mut rows: BTreeMap<(String, String), Row> = BTreeMap::new();
    let blank = |role: &str, k: &str| Row {
        role: role.to_string(),
        employee: k.to_string(),
        name: if named { scheme.employee(k).map(|x| scheme.employees[x as usize].name.clone()).unwrap_or_default() } else { String::new() },
        clients: 0,
        potential: 0.0,
        workload: 0.0,
        deals: 0,
        revenue: 0,
        overlay: 0,
        realisation: None,
    };
    let mut of = Vec::new();
    for c in &book.loaded.current {
        let (role, e) = (&scheme.roles[c.role].id, &scheme.employees[c.employee as usize].id);
        groups.of(c.client, e, &mut of);
        for &g in &of {
            let k = groups.names.name(g);
            let r = rows.entry((role.clone(), k.to_string())).or_insert_with(|| blank(role, k));
            r.clients += 1;
            r.potential += pot.and_then(|p| data.clients.number(p, c.client)).unwrap_or(0.0);
            r.workload += wl.and_then(|w| data.clients.number(w, c.client)).unwrap_or(0.0);
        }
    }
    let cur = credited.currencies.get(currency);
    for (&(role, g, c), &(revenue, overlay, deals)) in &credited.sums {
        if Some(c) != cur {
            continue;
        }
        let (role, k) = (credited.roles.name(role), groups.names.name(g));
        let r = rows.entry((role.to_string(), k.to_string())).or_insert_with(|| blank(role, k));
        r.revenue += revenue;
        r.overlay += overlay;
        r.deals += deals;
    }
    let unassigned: BTreeMap<String, i64> = credited
        .unassigned
        .iter()
        .filter(|((_, c), _)| Some(*c) == cur)
        .map(|((role, _), &a)| (credited.roles.name(*role).to_string(), a))
        .collect();
    let mut out: Vec<Row> = rows
        .into_values()
        .map(|mut r| {
            r.realisation = (r.potential > 0.0).then(|| r.revenue as f64 / 100.0 / r.potential);
            r
        })
        .collect();
    // Roles in the scheme's order, then groups by id.
    let order = |role: &str| scheme.role(role).unwrap_or(usize::MAX);
    out.sort_by(|a, b| order(&a.role).cmp(&order(&b.role)).then_with(|| a.employee.cmp(&b.employee)));
    (out, unassigned)
}

fn ratio(x: f64) -> String {
    if x.is_finite() {
        format!("{x:.2}")
    } else {
        "∞".into()
    }
}

fn spread(s: &Spread) -> String {
    format!("max/min {} cv {:.3} gini {:.3}", ratio(s.ratio), s.cv, s.gini)
}

/// The report as a person reads it in a terminal.
pub fn text(r: &Report) -> String {
    let mut s = String::new();
    let cur = if r.currency.is_empty() { String::new() } else { format!(" ({})", r.currency) };
    let _ = writeln!(
        s,
        "Contribution {} – {}{cur}: holdings on {}, credit of the period's sales",
        allot_rules::civil_from_days(r.first),
        allot_rules::civil_from_days(r.last),
        allot_rules::civil_from_days(r.last)
    );
    let mut role = "";
    for row in &r.rows {
        if row.role != role {
            role = &row.role;
            let _ = writeln!(
                s,
                "\nrole {role}\n  {:<28} {:>7} {:>16} {:>9} {:>6} {:>18} {:>14} {:>11}",
                r.group.heading(),
                "clients",
                "potential",
                "workload",
                "deals",
                "revenue credit",
                "overlay",
                "realisation"
            );
        }
        let who = format!("{} {}", row.employee, row.name);
        let _ = writeln!(
            s,
            "  {:<28} {:>7} {:>16} {:>9} {:>6} {:>18} {:>14} {:>11}",
            who.trim(),
            row.clients,
            crate::report::group(row.potential),
            crate::report::group(row.workload),
            row.deals,
            money(row.revenue),
            money(row.overlay),
            row.realisation.map(|x| format!("{:.2}%", x * 100.0)).unwrap_or_else(|| "—".into())
        );
        if let (Some(b), true) =
            (r.balance.iter().find(|b| b.role == row.role), r.rows.iter().rev().find(|x| x.role == row.role) == Some(row))
        {
            let _ = writeln!(
                s,
                "  balance over the employees: clients {} · potential {} · workload {}",
                spread(&b.clients),
                spread(&b.potential),
                spread(&b.workload)
            );
            if let Some(u) = r.unassigned.get(&row.role) {
                let _ = writeln!(s, "  unassigned revenue credit (nobody held the role): {}", money(*u));
            }
        }
    }
    not_credited(&r.uncredited, &mut s);
    s
}

/// The catalogue keys of the report's columns, in order.
const COLUMNS: [&str; 10] = [
    "report-col-role",
    "report-col-employee",
    "report-col-name",
    "report-col-clients",
    "report-col-potential",
    "report-col-workload",
    "report-col-deals",
    "report-col-revenue",
    "report-col-overlay",
    "report-col-realisation",
];

/// Where the header goes: a CSV's money columns name the currency as `revenue_credit_RUB` in
/// English (what scripts read), a workbook's as `revenue_credit (RUB)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeaderFor {
    Csv,
    Sheet,
}

/// The report's column headers in `lang`: the grouping's name in the second, the currency in the
/// money columns.
pub fn headers(r: &Report, lang: allot_i18n::Lang, to: HeaderFor) -> Vec<String> {
    use allot_i18n::{Arg, Lang};
    let mut h: Vec<String> = COLUMNS.iter().map(|k| lang.t(k)).collect();
    match &r.group {
        Group::Employee => {}
        Group::Team => h[1] = lang.t("report-group-team"),
        Group::Territory => h[1] = lang.t("report-group-territory"),
        Group::Column(c) => h[1] = c.clone(),
    }
    if !r.currency.is_empty() {
        for i in [7, 8] {
            h[i] = match (lang, to) {
                (Lang::En, HeaderFor::Csv) => format!("{}_{}", h[i], r.currency),
                _ => lang.text("report-money-column", &[("column", Arg::Text(&h[i])), ("currency", Arg::Text(&r.currency))]),
            };
        }
    }
    h
}

/// The rows as CSV; money in major units with two decimals (a dot), the currency in the header.
pub fn write_csv(r: &Report, lang: allot_i18n::Lang, w: &mut dyn std::io::Write) -> std::io::Result<()> {
    let mut out = csv::Writer::from_writer(w);
    out.write_record(headers(r, lang, HeaderFor::Csv))?;
    let major = |m: i64| format!("{}{}.{:02}", if m < 0 { "-" } else { "" }, m.unsigned_abs() / 100, m.unsigned_abs() % 100);
    for row in &r.rows {
        out.write_record([
            row.role.clone(),
            row.employee.clone(),
            row.name.clone(),
            row.clients.to_string(),
            row.potential.to_string(),
            row.workload.to_string(),
            row.deals.to_string(),
            major(row.revenue),
            major(row.overlay),
            row.realisation.map(|x| format!("{x:.6}")).unwrap_or_default(),
        ])?;
    }
    out.flush()
}
