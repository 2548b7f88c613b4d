//! Text reports a person reads: check findings and coverage, loads and balance, explanations.

use std::fmt::Write;

use allot_core::check::{cell_text, Review};
use allot_core::data::Data;
use allot_core::engine::How;
use allot_core::explain::Explanation;
use allot_core::stats::{RoleLoad, Spread};
use allot_core::{Scheme, Target};
use allot_rules::Tri;

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

fn tri(t: Tri) -> &'static str {
    match t {
        Tri::True => "yes",
        Tri::False => "no",
        Tri::Unknown => "unknown",
    }
}

/// The explanation of one client (or deal), rule by rule.
pub fn explanation(scheme: &Scheme, data: &Data, x: &Explanation) -> String {
    let mut out = String::new();
    let t = &data.clients;
    let attrs: Vec<String> =
        t.columns().enumerate().filter_map(|(i, (name, _))| t.display(i, x.client, data).map(|v| format!("{name}={v}"))).collect();
    match x.deal {
        Some(d) => {
            let dt = &data.deals;
            let dattrs: Vec<String> =
                dt.columns().enumerate().filter_map(|(i, (name, _))| dt.display(i, d, data).map(|v| format!("{name}={v}"))).collect();
            let _ = writeln!(out, "deal {}: {}", dt.id(d), dattrs.join(", "));
            let _ = writeln!(out, "  of client {}: {}", t.id(x.client), attrs.join(", "));
        }
        None => {
            let _ = writeln!(out, "client {}: {}", t.id(x.client), attrs.join(", "));
        }
    }
    let terr: Vec<String> = x.territories.iter().map(|&i| scheme.territories[i].id.clone()).collect();
    let _ = writeln!(out, "territory: {}", if terr.is_empty() { "none".to_string() } else { terr.join(" › ") });
    for rw in &x.roles {
        let role = &scheme.roles[rw.role];
        let who = rw.cell.employee().map_or("nobody".to_string(), |e| label(scheme, e));
        let _ = writeln!(out, "\nrole {} → {who} ({})", role.id, cell_text(scheme, data, &rw.cell));
        if rw.trials.is_empty() {
            let _ = writeln!(out, "  no rule of this role applies to {}s", if x.deal.is_some() { "deal" } else { "client" });
        }
        for tr in &rw.trials {
            let rule = &scheme.rules[tr.rule];
            let verdict = match tr.result {
                Tri::True => "MATCHES",
                Tri::False => "no",
                Tri::Unknown => "undecided (missing value)",
            };
            let _ = writeln!(out, "  {} rule {:<20} {verdict}", rule.subject.as_str(), rule.id);
            if tr.tests.is_empty() {
                let _ = writeln!(out, "      (no condition: matches everything)");
            }
            for test in &tr.tests {
                let actual = match &test.actual {
                    Some(v) => format!("{} = {v}", test.attribute),
                    None => format!("{} is missing", test.attribute),
                };
                let _ = writeln!(out, "      {:<7} {}   [{actual}]", tri(test.value), test.text);
            }
        }
        match rw.cell.how {
            How::Pinned => {
                let _ = writeln!(out, "  pinned by hand: rules do not move it");
            }
            How::Sticky => {
                let _ = writeln!(out, "  kept with the current owner: still a valid target of the matching rule (S1.3)");
            }
            _ => {}
        }
        if let Some(d) = &rw.decision {
            let _ = writeln!(out, "  pool of rule {} ({}), loads at the moment of choice:", scheme.rules[d.rule].id, d.strategy.as_str());
            for (e, load, w, why) in &d.members {
                let mark = if Some(*e) == d.chosen { "  ← chosen" } else { "" };
                let why = why.map_or(String::new(), |w| format!("  ({})", w.as_str()));
                let _ = writeln!(
                    out,
                    "      {:<24} load {:>14}  weight {w}  per weight {:>14}{why}{mark}",
                    label(scheme, *e),
                    group(*load),
                    group(if *w > 0.0 { load / w } else { f64::INFINITY })
                );
            }
        } else if let Some(r) = rw.cell.rule() {
            if let Target::TerritoryOwner = scheme.rules[r].target {
                let _ = writeln!(out, "  owner of the client's territory for this role");
            }
        }
    }
    out
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
        for n in &s.notes {
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
            r.note.clone(),
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
