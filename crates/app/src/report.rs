//! Text reports a person reads: check findings and coverage, loads and balance, explanations.

use std::fmt::Write;

use allot_core::check::Review;
use allot_core::data::{Data, RowRef};
use allot_core::engine::{Cell, How, Reason, Unavailable};
use allot_core::explain::Explanation;
use allot_core::stats::{RoleLoad, Spread};
use allot_core::{Scheme, Target};
use allot_i18n::{Arg, Lang};
use allot_rules::Tri;
use serde::{Deserialize, Serialize};

/// `12 345 678` — digits grouped by thin spaces as Russian readers (and most others) expect.
pub fn group(n: f64) -> String {
    let neg = n < 0.0;
    let s = format!("{:.0}", n.abs());
    let mut out = String::new();
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(' ');
        }
        out.push(ch);
    }
    if neg {
        format!("-{out}")
    } else {
        out
    }
}

fn ratio(x: f64) -> String {
    if x.is_infinite() {
        "∞ (someone holds none)".into()
    } else {
        format!("{x:.3}")
    }
}

fn spread(name: &str, s: &Spread) -> String {
    format!("{name} max/min {} cv {:.3}", ratio(s.ratio), s.cv)
}

/// Per role: a table of employees with their clients, potential and workload, then the balance.
pub fn loads(scheme: &Scheme, loads: &[RoleLoad]) -> String {
    let mut out = String::new();
    for rl in loads {
        let role = &scheme.roles[rl.role];
        let _ = writeln!(out, "role {} ({}) — {} employee(s)", role.id, role.name, rl.employees.len());
        let width = rl.employees.iter().map(|(e, _)| label(scheme, *e).chars().count()).max().unwrap_or(8).max(8);
        let _ = writeln!(out, "  {:<width$}  {:>9}  {:>16}  {:>10}", "employee", "clients", "potential", "workload");
        for (e, l) in &rl.employees {
            let mut note = String::new();
            let emp = &scheme.employees[*e as usize];
            if !emp.active {
                note.push_str("  (inactive)");
            }
            let lab = label(scheme, *e);
            let pad = width - lab.chars().count();
            let _ = writeln!(
                out,
                "  {lab}{}  {:>9}  {:>16}  {:>10}{note}",
                " ".repeat(pad),
                group(l.clients as f64),
                group(l.potential),
                group(l.workload)
            );
        }
        let _ = writeln!(
            out,
            "  balance: {} · {} · {}",
            spread("clients", &rl.clients),
            spread("potential", &rl.potential),
            spread("workload", &rl.workload)
        );
    }
    out
}

fn label(scheme: &Scheme, e: u32) -> String {
    let emp = &scheme.employees[e as usize];
    if emp.name == emp.id {
        emp.id.clone()
    } else {
        format!("{} {}", emp.id, emp.name)
    }
}

/// Findings, then coverage per role, then a closing line.
pub fn review(scheme: &Scheme, data: &Data, r: &Review, extra_warnings: usize) -> String {
    let mut out = String::new();
    for d in &r.findings {
        let _ = writeln!(out, "{d}");
    }
    let _ = writeln!(out, "coverage per role:");
    for c in &r.coverage {
        let role = &scheme.roles[c.role];
        let pct = if c.clients == 0 { 100.0 } else { c.assigned as f64 * 100.0 / c.clients as f64 };
        let _ = writeln!(
            out,
            "  {:<10} {} clients, {} assigned ({pct:.1}%), {} unassigned",
            role.id,
            group(c.clients as f64),
            group(c.assigned as f64),
            group((c.clients - c.assigned) as f64)
        );
        for (why, n, ex) in &c.unassigned {
            let ex: Vec<&str> = ex.iter().map(|&x| data.clients.id(x)).collect();
            let _ = writeln!(out, "  {:<10} {:>8}  {why}  (e.g. {})", "", group(*n as f64), ex.join(", "));
        }
    }
    let warnings = r.findings.len() + extra_warnings;
    let _ = writeln!(out, "ok: no errors, {warnings} warning(s)");
    out
}

/// The explanation of one client (or deal), rule by rule, in `lang` (the CLI's `explain`, the
/// API's and the client card's explanation).
pub fn explanation(scheme: &Scheme, data: &Data, x: &Explanation, lang: Lang) -> String {
    let mut out = String::new();
    let t = &data.clients;
    let attrs: Vec<String> =
        t.columns().enumerate().filter_map(|(i, (name, _))| t.display(i, x.client, data).map(|v| format!("{name}={v}"))).collect();
    let attrs = attrs.join(", ");
    match x.deal {
        Some(d) => {
            let dt = &data.deals;
            let dattrs: Vec<String> =
                dt.columns().enumerate().filter_map(|(i, (name, _))| dt.display(i, d, data).map(|v| format!("{name}={v}"))).collect();
            let dattrs = dattrs.join(", ");
            let _ = writeln!(out, "{}", lang.text("why-deal", &[("id", Arg::Text(dt.id(d))), ("attrs", Arg::Text(&dattrs))]));
            let _ = writeln!(out, "  {}", lang.text("why-of-client", &[("id", Arg::Text(t.id(x.client))), ("attrs", Arg::Text(&attrs))]));
        }
        None => {
            let _ = writeln!(out, "{}", lang.text("why-client", &[("id", Arg::Text(t.id(x.client))), ("attrs", Arg::Text(&attrs))]));
        }
    }
    let terr: Vec<String> = x.territories.iter().map(|&i| scheme.territories[i].id.clone()).collect();
    let path = if terr.is_empty() { lang.t("why-territory-none") } else { terr.join(" › ") };
    let _ = writeln!(out, "{}", lang.text("why-territory", &[("path", Arg::Text(&path))]));
    for rw in &x.roles {
        let role = &scheme.roles[rw.role];
        let who = rw.cell.employee().map_or_else(|| lang.t("why-nobody"), |e| label(scheme, e));
        let how = how_text(scheme, data, &rw.cell, lang);
        let _ = writeln!(
            out,
            "\n{}",
            lang.text("why-role", &[("role", Arg::Text(&role.id)), ("who", Arg::Text(&who)), ("how", Arg::Text(&how))])
        );
        if rw.trials.is_empty() {
            let _ = writeln!(out, "  {}", lang.t(if x.deal.is_some() { "why-no-rule-deal" } else { "why-no-rule-client" }));
        }
        for tr in &rw.trials {
            let rule = &scheme.rules[tr.rule];
            let verdict = lang.t(match tr.result {
                Tri::True => "why-matches",
                Tri::False => "why-no",
                Tri::Unknown => "why-undecided",
            });
            let kind = lang.t(if rule.subject.as_str() == "deal" { "why-rule-deal" } else { "why-rule-client" });
            let _ = writeln!(out, "  {kind} {:<20} {verdict}", rule.id);
            if tr.tests.is_empty() {
                let _ = writeln!(out, "      {}", lang.t("why-no-condition"));
            }
            for test in &tr.tests {
                let actual = match &test.actual {
                    Some(v) => lang.text("why-attr-value", &[("attr", Arg::Text(&test.attribute)), ("value", Arg::Text(v))]),
                    None => lang.text("why-attr-missing", &[("attr", Arg::Text(&test.attribute))]),
                };
                let value = lang.t(match test.value {
                    Tri::True => "why-yes",
                    Tri::False => "why-no",
                    Tri::Unknown => "why-unknown",
                });
                let _ = writeln!(out, "      {value:<7} {}   [{actual}]", test.text);
            }
        }
        match rw.cell.how {
            How::Pinned => {
                let _ = writeln!(out, "  {}", lang.t("why-pinned"));
            }
            How::Sticky => {
                let _ = writeln!(out, "  {}", lang.t("why-sticky"));
            }
            _ => {}
        }
        if let Some(d) = &rw.decision {
            let strategy = lang.t(&format!("strategy-{}", d.strategy.as_str()));
            let rule = &scheme.rules[d.rule].id;
            let _ = writeln!(out, "  {}", lang.text("why-pool", &[("rule", Arg::Text(rule)), ("strategy", Arg::Text(&strategy))]));
            let (load_word, weight_word, per_word) = (lang.t("why-load"), lang.t("why-weight"), lang.t("why-per-weight"));
            for (e, load, w, why) in &d.members {
                let mark = if Some(*e) == d.chosen { format!("  ← {}", lang.t("why-chosen")) } else { String::new() };
                let why = why.map_or(String::new(), |w| format!("  ({})", unavailable(lang, w)));
                let per = if *w > 0.0 { amount(lang, load / w) } else { "∞".to_string() };
                let _ = writeln!(
                    out,
                    "      {:<24} {load_word} {:>14}  {weight_word} {w}  {per_word} {per:>14}{why}{mark}",
                    label(scheme, *e),
                    amount(lang, *load),
                );
            }
        } else if let Some(r) = rw.cell.rule() {
            if let Target::TerritoryOwner = scheme.rules[r].target {
                let _ = writeln!(out, "  {}", lang.t("why-territory-owner"));
            }
        }
    }
    out
}

/// A whole amount as its language writes it (`12 345 678` in both: English output kept its spaces).
fn amount(lang: Lang, x: f64) -> String {
    match lang {
        Lang::Ru if x.is_finite() => allot_i18n::format::number(lang, x, 0),
        _ => group(x),
    }
}

fn unavailable(lang: Lang, why: Unavailable) -> String {
    lang.t(match why {
        Unavailable::Inactive => "unavailable-inactive",
        Unavailable::Absent => "unavailable-absent",
        Unavailable::AtCapacity => "unavailable-at-capacity",
    })
}

/// How the employee was chosen, or why there is none, in `lang` (the `reason` column of an
/// assignment file stays in English: [`allot_core::check::cell_text`]).
pub fn how_text(scheme: &Scheme, data: &Data, cell: &Cell, lang: Lang) -> String {
    match &cell.how {
        How::Pinned => lang.t("how-pinned"),
        How::Sticky => lang.t("how-sticky"),
        How::Fixed => match cell.rule().map(|r| &scheme.rules[r].target) {
            Some(Target::TerritoryOwner) => lang.t("how-territory-owner"),
            _ => lang.t("how-named"),
        },
        How::Pool => match cell.rule().map(|r| &scheme.rules[r].target) {
            Some(Target::Pool { strategy, .. }) => {
                let s = lang.t(&format!("strategy-{}", strategy.as_str()));
                lang.text("how-pool-of", &[("strategy", Arg::Text(&s))])
            }
            _ => lang.t("how-pool"),
        },
        How::ViaClient => lang.t("how-via-client"),
        How::Unassigned(r) => {
            let reason = reason_in(scheme, data, r, lang);
            lang.text("how-unassigned", &[("reason", Arg::Text(&reason))])
        }
    }
}

/// Why no one holds a client for a role, in `lang`.
pub fn reason_in(scheme: &Scheme, data: &Data, r: &Reason, lang: Lang) -> String {
    Why::of(scheme, data, r).text(lang)
}

/// Why no one (or not the rule's choice) holds a client for a role, by the ids a person knows
/// rather than the engine's indexes: kept in a plan, said in either language.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum Why {
    NoRuleMatched,
    Missing {
        attribute: String,
    },
    NoTerritory,
    NoOwner {
        territory: String,
    },
    /// `why`: inactive, absent or at-capacity.
    Unavailable {
        employee: String,
        why: String,
    },
    PoolExhausted {
        absent: u16,
        inactive: u16,
        full: u16,
    },
    /// A leaver's or absentee's client nobody is eligible to take over (a plan's reason).
    NoTakeOver {
        employee: String,
    },
    /// The scheme no longer has the role: its links end (a plan's reason).
    RoleDropped,
}

impl Why {
    pub fn of(scheme: &Scheme, data: &Data, r: &Reason) -> Why {
        match r {
            Reason::NoRuleMatched => Why::NoRuleMatched,
            Reason::MissingAttribute(a) => Why::Missing { attribute: RowRef::attr_name(data, *a) },
            Reason::NoTerritory => Why::NoTerritory,
            Reason::NoTerritoryOwner(t) => Why::NoOwner { territory: scheme.territories[*t as usize].id.clone() },
            Reason::Unavailable(e, why) => {
                let why = match why {
                    Unavailable::Inactive => "inactive",
                    Unavailable::Absent => "absent",
                    Unavailable::AtCapacity => "at-capacity",
                };
                Why::Unavailable { employee: scheme.employees[*e as usize].id.clone(), why: why.to_string() }
            }
            &Reason::PoolExhausted { absent, inactive, full } => Why::PoolExhausted { absent, inactive, full },
        }
    }

    pub fn text(&self, lang: Lang) -> String {
        match self {
            Why::NoRuleMatched => lang.t("reason-no-rule"),
            Why::Missing { attribute } => lang.text("reason-missing", &[("attr", Arg::Text(attribute))]),
            Why::NoTerritory => lang.t("reason-no-territory"),
            Why::NoOwner { territory } => lang.text("reason-no-owner", &[("territory", Arg::Text(territory))]),
            Why::Unavailable { employee, why } => {
                let why = lang.t(&format!("unavailable-{why}"));
                lang.text("reason-unavailable", &[("employee", Arg::Text(employee)), ("why", Arg::Text(&why))])
            }
            Why::PoolExhausted { absent, inactive, full } => {
                let parts: Vec<String> = [("reason-n-absent", *absent), ("reason-n-inactive", *inactive), ("reason-n-full", *full)]
                    .into_iter()
                    .filter(|(_, n)| *n > 0)
                    .map(|(key, n)| lang.text(key, &[("count", Arg::Count(i64::from(n)))]))
                    .collect();
                if parts.is_empty() {
                    lang.t("reason-pool-empty")
                } else {
                    lang.text("reason-pool-exhausted", &[("parts", Arg::Text(&parts.join(", ")))])
                }
            }
            Why::NoTakeOver { employee } => lang.text("reason-no-takeover", &[("employee", Arg::Text(employee))]),
            Why::RoleDropped => lang.t("reason-role-dropped"),
        }
    }
}

/// What a plan tells the person who reads it beside its moves, said in either language.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "note", rename_all = "snake_case")]
pub enum Note {
    /// An absence registered for later: plan on or after its first day.
    AbsenceAhead { employee: String, first: String, last: String },
    /// An absence over before the plan's day: nothing to cover.
    AbsenceOver { employee: String, first: String, last: String },
    /// A leaver registered for later: plan on or after that day.
    LeavesAhead { employee: String, on: String },
    /// Links kept by their holder because the rule's choice cannot take them.
    Kept { count: u64, role: String, why: Why },
}

impl Note {
    pub fn text(&self, lang: Lang) -> String {
        let day = |iso: &str| allot_rules::parse_iso_date(iso).map_or_else(|| iso.to_string(), |d| allot_i18n::format::date(lang, d));
        match self {
            Note::AbsenceAhead { employee, first, last } => lang.text(
                "note-absence-ahead",
                &[("employee", Arg::Text(employee)), ("first", Arg::Text(&day(first))), ("last", Arg::Text(&day(last)))],
            ),
            Note::AbsenceOver { employee, first, last } => lang.text(
                "note-absence-over",
                &[("employee", Arg::Text(employee)), ("first", Arg::Text(&day(first))), ("last", Arg::Text(&day(last)))],
            ),
            Note::LeavesAhead { employee, on } => {
                lang.text("note-leaves-ahead", &[("employee", Arg::Text(employee)), ("on", Arg::Text(&day(on)))])
            }
            Note::Kept { count, role, why } => {
                let why = why.text(lang);
                lang.text("note-kept", &[("count", Arg::Count(*count as i64)), ("role", Arg::Text(role)), ("why", Arg::Text(&why))])
            }
        }
    }
}

/// What a plan would change, as a head of sales reads it before applying.
pub fn plan(p: &crate::stored::Plan) -> String {
    let s = &p.summary;
    let mut out = String::new();
    let scheme = if p.new_scheme.is_some() {
        format!("scheme version {} (new)", p.scheme_version)
    } else {
        format!("scheme version {}", p.scheme_version)
    };
    let _ = writeln!(out, "Plan for {} on store revision {} ({}), {}; {} clients", p.date, p.base_revision, p.store, scheme, s.clients);
    if p.rebalance {
        let _ = writeln!(out, "Rebalance: current owners were ignored (pins and covers kept).");
    }
    if !s.scheme_changes.is_empty() {
        let _ = writeln!(out, "\nScheme changes against the active version:");
        for c in &s.scheme_changes {
            let _ = writeln!(out, "  {c}");
        }
    }
    let _ = writeln!(
        out,
        "\nMoves: {} links opened, {} closed ({} left without an employee)",
        p.opens.len(),
        p.closes.len(),
        s.closed_unassigned
    );
    if !s.moves_by_cause.is_empty() {
        let causes: Vec<String> = s.moves_by_cause.iter().map(|(c, n)| format!("{c} {n}")).collect();
        let _ = writeln!(out, "  by cause: {}", causes.join(", "));
    }
    if !s.moves_by_rule.is_empty() {
        let rules: Vec<String> = s
            .moves_by_rule
            .iter()
            .map(|(r, what, n)| if what.is_empty() { format!("{r} {n}") } else { format!("{r} ({what}) {n}") })
            .collect();
        let _ = writeln!(out, "  by rule: {}", rules.join(", "));
    }
    let moved: Vec<&crate::stored::Delta> = s.employees.iter().filter(|d| d.gained > 0 || d.lost > 0).collect();
    if !moved.is_empty() {
        let _ = writeln!(out, "\nPer employee and role (clients before → after, gained, lost, potential gained, lost):");
        let w = moved.iter().map(|d| d.employee.chars().count()).max().unwrap_or(0);
        let wr = moved.iter().map(|d| d.role.chars().count()).max().unwrap_or(0);
        for d in &moved {
            let _ = writeln!(
                out,
                "  {:<w$}  {:<wr$}  {:>6} → {:<6} +{:<5} -{:<5} +{:<14} -{}",
                d.employee,
                d.role,
                d.clients_before,
                d.clients_after,
                d.gained,
                d.lost,
                group(d.potential_gained),
                group(d.potential_lost),
            );
        }
        let same = s.employees.len() - moved.len();
        if same > 0 {
            let _ = writeln!(out, "  ({same} more employee-role pairs unchanged)");
        }
    }
    if !s.unassigned.is_empty() {
        let _ = writeln!(out, "\nUnassigned after this plan:");
        for u in &s.unassigned {
            let ex = if u.examples.is_empty() { String::new() } else { format!(" (e.g. {})", u.examples.join(", ")) };
            let _ = writeln!(out, "  {}: {} — {}{ex}", u.role, u.reason, u.count);
        }
    }
    if !p.absences.is_empty() || !p.leavers.is_empty() {
        let _ = writeln!(out, "\nCarries out {} registered absence(s) and {} leaver(s).", p.absences.len(), p.leavers.len());
    }
    if !s.notes.is_empty() {
        let _ = writeln!(out, "\nNotes:");
        for n in s.notes.iter().map(|n| n.text(Lang::En)) {
            let _ = writeln!(out, "  {n}");
        }
    }
    if p.is_empty() {
        let _ = writeln!(out, "\nNothing to change.");
    }
    out
}

/// A client's (or an employee's) links as a table: role, employee, from, to, cause, rule, who.
pub fn link_entries(rows: &[allot_store::LinkEntry], client_column: bool) -> String {
    let mut out = String::new();
    let header = ["client", "role", "employee", "from", "to", "cause", "rule", "scheme", "opened by", "note"];
    let mut table: Vec<Vec<String>> = vec![header.iter().map(|s| s.to_string()).collect()];
    for r in rows {
        table.push(vec![
            r.client.clone(),
            r.role.clone(),
            r.employee.clone(),
            r.from.to_string(),
            r.to.map_or("…".into(), |d| d.to_string()),
            r.cause.to_string(),
            r.rule.clone().unwrap_or_default(),
            r.scheme.map_or(String::new(), |v| format!("v{v}")),
            format!("{} {}", r.opened_by, r.opened_at),
            r.note_in(Lang::En),
        ]);
    }
    out.push_str(&aligned(&table, usize::from(!client_column)));
    out
}

/// Rows of cells as text columns two spaces apart, each as wide as its widest cell, from column
/// `skip` on.
fn aligned(table: &[Vec<String>], skip: usize) -> String {
    let mut out = String::new();
    let n = table.first().map_or(0, Vec::len);
    let widths: Vec<usize> = (0..n).map(|c| table.iter().map(|r| r[c].chars().count()).max().unwrap_or(0)).collect();
    for row in table {
        let cells: Vec<String> = (skip..n).map(|c| format!("{:<w$}", row[c], w = widths[c])).collect();
        let _ = writeln!(out, "{}", cells.join("  ").trim_end());
    }
    out
}

/// An employee's book as rows (the first is the header): each client with its name and key
/// attributes, then the link. The text table and the CSV of `allot book` are made from it.
pub fn book_rows(
    rows: &[allot_store::LinkEntry],
    clients: &std::collections::BTreeMap<String, crate::stored::ClientSummary>,
) -> Vec<Vec<String>> {
    let mut extra: Vec<&str> = Vec::new();
    for c in clients.values() {
        for (k, _) in &c.attributes {
            if !extra.contains(&k.as_str()) {
                extra.push(k);
            }
        }
    }
    extra.sort_by_key(|k| crate::stored::KEY_ATTRIBUTES.iter().position(|x| x == k));
    let mut header: Vec<String> = vec!["client_id".into(), "name".into()];
    header.extend(extra.iter().map(|s| s.to_string()));
    header.extend(["role", "since", "cause", "rule"].iter().map(|s| s.to_string()));
    let mut table: Vec<Vec<String>> = vec![header];
    for r in rows {
        let c = clients.get(&r.client);
        let mut row = vec![r.client.clone(), c.and_then(|c| c.name.clone()).unwrap_or_default()];
        for k in &extra {
            row.push(c.and_then(|c| c.attributes.iter().find(|a| a.0 == *k)).map_or(String::new(), |a| a.1.clone()));
        }
        row.extend([r.role.clone(), r.from.to_string(), r.cause.to_string(), r.rule.clone().unwrap_or_default()]);
        table.push(row);
    }
    table
}

/// An employee's book as a text table ([`book_rows`]).
pub fn book(rows: &[allot_store::LinkEntry], clients: &std::collections::BTreeMap<String, crate::stored::ClientSummary>) -> String {
    aligned(&book_rows(rows, clients), 0)
}

/// A line of [`crate::stored::scheme_diff_lines`] (`rule vip: added`, `columns: changed`) as
/// `lang` says it: the part (with its id as written) and what happened to it.
pub fn scheme_change_text(line: &str, lang: Lang) -> String {
    let Some((part, what)) = line.rsplit_once(": ") else { return line.to_string() };
    let what_key = match what {
        "added" => "scheme-change-added",
        "removed" => "scheme-change-removed",
        "changed" => "scheme-change-changed",
        "moved in priority" => "scheme-change-moved",
        _ => return line.to_string(),
    };
    let part = match part.split_once(' ') {
        Some((kind @ ("rule" | "territory" | "role" | "team"), id)) => lang.text(&format!("scheme-part-{kind}"), &[("id", Arg::Text(id))]),
        _ if matches!(part, "columns" | "deal_columns" | "measures" | "name" | "credit" | "values") => {
            lang.t(&format!("scheme-part-{part}"))
        }
        _ => part.to_string(),
    };
    lang.text(what_key, &[("part", Arg::Text(&part))])
}
