//! Writing assignments as CSV or JSON, in a stable order: clients (or deals) in input order, roles
//! in scheme order.

use std::io::Write;

use allot_core::check::cell_text;
use allot_core::deals::DealOutcome;
use allot_core::{Data, Outcome, Scheme};

/// Output format of `allot assign`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    Json,
}

/// Reason texts, made once per distinct (how, rule): a million rows share a handful of them.
#[derive(Default)]
struct Reasons(std::collections::HashMap<(allot_core::How, u32), String>);

impl Reasons {
    fn get(&mut self, scheme: &Scheme, data: &Data, cell: &allot_core::Cell) -> &str {
        self.0.entry((cell.how, cell.rule)).or_insert_with(|| cell_text(scheme, data, cell))
    }
}

fn row_fields<'a>(scheme: &'a Scheme, cell: &allot_core::Cell) -> (&'a str, &'a str) {
    (cell.employee().map_or("", |e| scheme.employees[e as usize].id.as_str()), cell.rule().map_or("", |r| scheme.rules[r].id.as_str()))
}

/// Writes `client_id,role,employee_id,rule,reason` rows.
pub fn write_assignments(out: &mut dyn Write, scheme: &Scheme, data: &Data, o: &Outcome, format: Format) -> std::io::Result<()> {
    let nr = o.roles.len();
    let mut w = std::io::BufWriter::with_capacity(1 << 16, out);
    let mut reasons = Reasons::default();
    match format {
        Format::Csv => {
            let mut c = csv::Writer::from_writer(&mut w);
            c.write_record(["client_id", "role", "employee_id", "rule", "reason"])?;
            for client in 0..data.clients.len() as u32 {
                for (k, &role) in o.roles.iter().enumerate() {
                    let cell = &o.cells[client as usize * nr + k];
                    let (emp, rule) = row_fields(scheme, cell);
                    c.write_record([data.clients.id(client), &scheme.roles[role].id, emp, rule, reasons.get(scheme, data, cell)])?;
                }
            }
            c.flush()?;
        }
        Format::Json => {
            w.write_all(b"[\n")?;
            let mut first = true;
            for client in 0..data.clients.len() as u32 {
                for (k, &role) in o.roles.iter().enumerate() {
                    let cell = &o.cells[client as usize * nr + k];
                    let (emp, rule) = row_fields(scheme, cell);
                    let v = serde_json::json!({
                        "client_id": data.clients.id(client),
                        "role": scheme.roles[role].id,
                        "employee_id": cell.employee().map(|_| emp),
                        "rule": cell.rule().map(|_| rule),
                        "reason": reasons.get(scheme, data, cell),
                    });
                    if !first {
                        w.write_all(b",\n")?;
                    }
                    first = false;
                    serde_json::to_writer(&mut w, &v)?;
                }
            }
            w.write_all(b"\n]\n")?;
        }
    }
    w.flush()
}

/// Writes `deal_id,client_id,role,employee_id,rule,reason` rows.
pub fn write_deal_assignments(out: &mut dyn Write, scheme: &Scheme, data: &Data, o: &DealOutcome, format: Format) -> std::io::Result<()> {
    let nr = o.roles.len();
    let mut w = std::io::BufWriter::new(out);
    let rows = (0..data.deals.len() as u32).flat_map(|d| o.roles.iter().enumerate().map(move |(k, &role)| (d, k, role)));
    match format {
        Format::Csv => {
            let mut c = csv::Writer::from_writer(&mut w);
            c.write_record(["deal_id", "client_id", "role", "employee_id", "rule", "reason"])?;
            for (d, k, role) in rows {
                let cell = &o.cells[d as usize * nr + k];
                let (emp, rule) = row_fields(scheme, cell);
                let client = data.clients.id(data.deal_client[d as usize]);
                c.write_record([data.deals.id(d), client, &scheme.roles[role].id, emp, rule, &cell_text(scheme, data, cell)])?;
            }
            c.flush()?;
        }
        Format::Json => {
            let v: Vec<serde_json::Value> = rows
                .map(|(d, k, role)| {
                    let cell = &o.cells[d as usize * nr + k];
                    let (emp, rule) = row_fields(scheme, cell);
                    serde_json::json!({
                        "deal_id": data.deals.id(d),
                        "client_id": data.clients.id(data.deal_client[d as usize]),
                        "role": scheme.roles[role].id,
                        "employee_id": cell.employee().map(|_| emp),
                        "rule": cell.rule().map(|_| rule),
                        "reason": cell_text(scheme, data, cell),
                    })
                })
                .collect();
            serde_json::to_writer_pretty(&mut w, &v)?;
            w.write_all(b"\n")?;
        }
    }
    w.flush()
}
