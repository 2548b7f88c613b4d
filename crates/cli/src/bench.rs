//! `allot bench`: the engine on the anchor harness's generated data, timed the way the anchors
//! were (data already loaded, result materialised), with the same checksums.
//!
//! Prepare the data once with the anchor harness (../shared/bench/assign/gen_data.py) and
//! `bench/prepare.py`; see BENCHMARKS.md.

use std::path::{Path, PathBuf};
use std::time::Instant;

use allot_core::data::{Column, Data, Table, TextCol};
use allot_core::engine::NONE;
use allot_core::{Compiled, Options};

#[derive(clap::Args)]
pub struct BenchArgs {
    /// Folder written by bench/prepare.py.
    #[arg(long, default_value = "/tmp/assign-data/allot")]
    data: PathBuf,
    /// Client counts to run (a prepared clients_<N> folder each).
    #[arg(long, num_args = 1.., default_value = "1000000")]
    clients: Vec<usize>,
    /// Rule-set sizes to run (a prepared scheme_<R>.toml each).
    #[arg(long, num_args = 1.., default_value = "10 1000 10000", value_delimiter = ' ')]
    rules: Vec<usize>,
    /// Runs per measurement; the best is reported, as the anchors do.
    #[arg(long, default_value_t = 3)]
    repeat: usize,
    /// Instead: credit generated sales against a generated ownership history (issue #6), with
    /// --clients clients (the first count) and this many sales.
    #[arg(long, value_name = "SALES")]
    credit: Option<usize>,
}

/// Reads a raw little-endian column in 1 MB blocks (no whole-file buffer next to the result).
fn read_bin<T: Copy>(dir: &Path, name: &str, rows: usize, conv: impl Fn(&[u8]) -> T, width: usize) -> Result<Vec<T>, String> {
    use std::io::Read;
    let p = dir.join(format!("{name}.bin"));
    let fail = |e: std::io::Error| format!("cannot read {}: {e} (run bench/prepare.py first)", p.display());
    let mut f = std::fs::File::open(&p).map_err(fail)?;
    let len = f.metadata().map_err(fail)?.len() as usize;
    if len != rows * width {
        return Err(format!("{} has {len} bytes, expected {}", p.display(), rows * width));
    }
    let mut out = Vec::with_capacity(rows);
    let mut block = vec![0u8; (1 << 20) / width * width];
    let mut left = len;
    while left > 0 {
        let take = left.min(block.len());
        f.read_exact(&mut block[..take]).map_err(fail)?;
        out.extend(block[..take].chunks_exact(width).map(&conv));
        left -= take;
    }
    Ok(out)
}

/// Loads a prepared client folder into columns: categorical codes become interned texts.
/// Loads a prepared client folder; also returns each client's `id mod 1000` for the checksums.
fn load_clients(dir: &Path) -> Result<(Data, Vec<u16>), String> {
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).map_err(|e| format!("{}: {e}", dir.display()))?)
            .map_err(|e| e.to_string())?;
    let rows = manifest["rows"].as_u64().ok_or("manifest without rows")? as usize;
    let ids = read_bin(dir, "client_id", rows, |b| i64::from_le_bytes(b.try_into().unwrap_or_default()), 8)?;
    let mut data = Data::default();
    // Categorical codes become interned texts ("77" for Moscow), straight from the bytes.
    let text = |name: &str, width: usize, data: &mut Data| -> Result<Column, String> {
        let codes =
            read_bin(dir, name, rows, |b| if width == 2 { i16::from_le_bytes([b[0], b[1]]) as i32 } else { b[0] as i8 as i32 }, width)?;
        let mut lut: std::collections::BTreeMap<i32, u32> = Default::default();
        Ok(Column::Text(TextCol::from_syms(codes.iter().map(|c| *lut.entry(*c).or_insert_with(|| data.dict.intern(&c.to_string()))))))
    };
    let region = text("region", 2, &mut data)?;
    let industry = text("industry", 1, &mut data)?;
    let product = text("product", 1, &mut data)?;
    let channel = text("channel", 1, &mut data)?;
    let ownership = text("ownership", 1, &mut data)?;
    let vip = Column::Bool(read_bin(dir, "vip", rows, |b| (b[0] != 0) as u8, 1)?);
    let tags_raw = read_bin(dir, "tags", rows, |b| i32::from_le_bytes(b.try_into().unwrap_or_default()), 4)?;
    let bits: Vec<u32> = (0..32).map(|b| data.dict.intern(&format!("t{b}"))).collect();
    let mut list_of = std::collections::HashMap::new();
    let tags = Column::List(
        tags_raw
            .iter()
            .map(|&t| {
                *list_of
                    .entry(t)
                    .or_insert_with(|| data.lists.intern((0..32).filter(|b| t >> b & 1 == 1).map(|b| bits[b as usize]).collect()))
            })
            .collect(),
    );
    let potential = Column::Number(read_bin(dir, "potential", rows, |b| f64::from_le_bytes(b.try_into().unwrap_or_default()), 8)?);
    let names = ["region", "industry", "product", "channel", "ownership", "vip", "tags", "potential"].map(String::from).to_vec();
    data.clients = Table::from_columns(
        names,
        vec![region, industry, product, channel, ownership, vip, tags, potential],
        ids.iter().map(|i| i.to_string()),
    )
    .map_err(|e| format!("repeated client id {}", e.0))?;
    let id_mod = ids.iter().map(|i| i.rem_euclid(1000) as u16).collect();
    Ok((data, id_mod))
}

fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok()))
        .map_or(0.0, |kb| kb / 1024.0)
}

/// Resident memory now, in MB.
fn rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmRSS:")).and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok()))
        .map_or(0.0, |kb| kb / 1024.0)
}

/// Resets the peak-resident mark (Linux), so that the next peak is the run's, not the load's.
fn reset_peak() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn best(repeat: usize, mut f: impl FnMut()) -> f64 {
    (0..repeat.max(1))
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64()
        })
        .fold(f64::INFINITY, f64::min)
}

pub fn run(a: &BenchArgs) -> Result<(), String> {
    println!("{{\"threads\": {}}}", rayon::current_num_threads());
    if let Some(sales) = a.credit {
        return credit(a.clients.first().copied().unwrap_or(1_000_000), sales, a.repeat);
    }
    for &n in &a.clients {
        let t = Instant::now();
        let (data, id_mod) = load_clients(&a.data.join(format!("clients_{n}")))?;
        let load_s = t.elapsed().as_secs_f64();
        let load_peak = peak_rss_mb();
        for &r in &a.rules {
            let scheme_path = a.data.join(format!("scheme_{r}.toml"));
            let text = std::fs::read_to_string(&scheme_path).map_err(|e| format!("{}: {e}", scheme_path.display()))?;
            let sf =
                allot_io::SchemeFile::parse(&text, &scheme_path.display().to_string()).map_err(|d| allot_core::diag::render_all(&d))?;
            let emps = allot_io::read_table(&a.data.join(format!("employees_{r}.csv")), allot_io::Encoding::Utf8)
                .and_then(|s| allot_io::tables::load_employees(&s))
                .map_err(|d| allot_core::diag::render_all(&d))?;
            let scheme = sf.build(&data, emps).map_err(|d| allot_core::diag::render_all(&d))?;
            let compiled = Compiled::new(&scheme, &data);
            let territory: Vec<i64> =
                scheme.rules.iter().map(|r| r.id.rsplit("_t").next().and_then(|t| t.parse().ok()).unwrap_or(0)).collect();
            let emp_no: Vec<i64> = scheme.employees.iter().map(|e| e.id.trim_start_matches('e').parse().unwrap_or(0)).collect();

            reset_peak();
            let data_mb = rss_mb();
            let mut rules = Vec::new();
            let match_s = best(a.repeat, || {
                rules = Vec::new(); // the previous result goes before the next is made
                rules = allot_core::engine::match_rules(&scheme, &compiled, &data).1;
            });
            // The anchors' checksums: count, Σterritory, Σ(id mod 1000)·territory, matched count;
            // and for the full stage Σemployee, Σ(id mod 1000)·employee.
            let (mut st, mut smt, mut matched) = (0i64, 0i64, 0i64);
            for (i, &rule) in rules.iter().enumerate() {
                if rule != NONE {
                    let t = territory[rule as usize];
                    st += t;
                    smt += id_mod[i] as i64 * t;
                    matched += 1;
                }
            }
            drop(rules);
            let mut outcome = None;
            let full_s = best(a.repeat, || {
                outcome = None;
                outcome = Some(allot_core::assign(&scheme, &compiled, &data, &[], &Options::default()));
            });
            let o = outcome.ok_or("no run")?;
            let run_peak = peak_rss_mb();
            let (mut se, mut sme, mut assigned) = (0i64, 0i64, 0i64);
            for (i, cell) in o.cells.iter().enumerate() {
                if let Some(e) = cell.employee() {
                    se += emp_no[e as usize];
                    sme += id_mod[i] as i64 * emp_no[e as usize];
                    assigned += 1;
                }
            }
            // Balance inside each balanced territory: max/min of potential per unit of weight.
            let loads = allot_core::stats::loads(&scheme, &data, &o);
            let pot_of: std::collections::HashMap<u32, f64> =
                loads.first().map(|l| l.employees.iter().map(|(e, l)| (*e, l.potential)).collect()).unwrap_or_default();
            let mut ratios: Vec<f64> = Vec::new();
            let mut seen = std::collections::HashSet::new();
            for rule in &scheme.rules {
                if let allot_core::Target::Pool { members, strategy: allot_core::Strategy::BalancePotential } = &rule.target {
                    let key: Vec<u32> = members.iter().map(|m| m.employee).collect();
                    if members.len() < 2 || !seen.insert(key) {
                        continue;
                    }
                    let per: Vec<f64> = members.iter().map(|m| pot_of.get(&m.employee).copied().unwrap_or(0.0) / m.weight).collect();
                    let (lo, hi) = per.iter().fold((f64::INFINITY, 0.0f64), |(lo, hi), &x| (lo.min(x), hi.max(x)));
                    if lo > 0.0 {
                        ratios.push(hi / lo);
                    }
                }
            }
            ratios.sort_by(f64::total_cmp);
            let median = ratios.get(ratios.len() / 2).copied().unwrap_or(1.0);
            let worst = ratios.last().copied().unwrap_or(1.0);
            println!(
                "{{\"engine\": \"allot\", \"n\": {n}, \"r\": {r}, \"load_s\": {load_s:.3}, \"match_s\": {match_s:.4}, \"full_s\": {full_s:.4}, \"signatures\": {}, \"load_peak_mb\": {load_peak:.0}, \"data_mb\": {data_mb:.0}, \"run_peak_mb\": {run_peak:.0}, \"check_match\": [{}, {st}, {smt}, {matched}], \"check_full\": [{}, {se}, {sme}], \"assigned\": {assigned}, \"balanced_pools\": {}, \"pool_potential_max_min_median\": {median:.4}, \"pool_potential_max_min_worst\": {worst:.4}}}",
                o.signatures,
                id_mod.len(),
                id_mod.len(),
                ratios.len()
            );
        }
    }
    Ok(())
}

/// Crediting `sales` sales against the history of `clients` clients (issue #6, point 7): three
/// roles (sales 70%, account 20%, service 10%) plus a 10% overlay; every client's sales role
/// changed hands once or twice during the year, the others are held all year. Generated in
/// memory (a fixed seed), credited by both policies; the time is the crediting alone, the result
/// materialised as per-employee totals, and every sale's parts are checked to add up.
fn credit(clients: usize, sales: usize, repeat: usize) -> Result<(), String> {
    use allot_core::credit::{Crediting, LinkSpan, Policy, RoleShare};
    use rayon::prelude::*;
    let employees = (clients / 1_000).max(10) as u32;
    let mut rng = crate::example::Rng::new(2026);
    let t = Instant::now();
    // history[c] = [sales spans.., account, service]; the year is days 0..365.
    let history: Vec<[Vec<LinkSpan<u32>>; 3]> = (0..clients)
        .map(|_| {
            let mut sales = Vec::new();
            let mut from = -400;
            for _ in 0..1 + rng.below(2) {
                let until = 30 + rng.below(300) as i32;
                let until = until.max(from + 1);
                sales.push(LinkSpan { employee: rng.below(employees as usize) as u32, from, until: Some(until) });
                from = until;
            }
            sales.push(LinkSpan { employee: rng.below(employees as usize) as u32, from, until: None });
            let all_year = |e: u32| vec![LinkSpan { employee: e, from: -400, until: None }];
            [sales, all_year(rng.below(employees as usize) as u32), all_year(rng.below(employees as usize) as u32)]
        })
        .collect();
    // (client, sale day, opened, amount in kopecks)
    let deals: Vec<(u32, i32, i32, i64)> = (0..sales)
        .map(|_| {
            let day = rng.below(365) as i32;
            (rng.below(clients) as u32, day, day - rng.below(90) as i32, 1 + rng.below(5_000_000) as i64)
        })
        .collect();
    let gen_s = t.elapsed().as_secs_f64();
    let data_mb = rss_mb();
    reset_peak();
    for policy in [Policy::SaleDate, Policy::TimeInRole] {
        let mut totals = vec![0i64; employees as usize + 1];
        let mut checked = 0usize;
        let secs = best(repeat, || {
            let chunks: Vec<(Vec<i64>, usize)> = deals
                .par_chunks(1 << 16)
                .map(|chunk| {
                    let mut local = vec![0i64; employees as usize + 1];
                    let (mut out, mut over, mut crediting) = (Vec::new(), Vec::new(), Crediting::default());
                    let mut ok = 0;
                    for &(c, day, opened, amount) in chunk {
                        let h = &history[c as usize];
                        let revenue = [
                            RoleShare { basis_points: 7_000, spans: &h[0] },
                            RoleShare { basis_points: 2_000, spans: &h[1] },
                            RoleShare { basis_points: 1_000, spans: &h[2] },
                        ];
                        crediting.credit(amount, day, Some(opened), &revenue, policy, &mut out);
                        crediting.credit(amount, day, Some(opened), &[RoleShare { basis_points: 1_000, spans: &h[1] }], policy, &mut over);
                        let mut sum = 0;
                        for l in out.iter().chain(&over) {
                            local[l.employee.map_or(employees as usize, |e| e as usize)] += l.amount;
                        }
                        for l in &out {
                            sum += l.amount;
                        }
                        ok += (sum == amount) as usize;
                    }
                    (local, ok)
                })
                .collect();
            totals = vec![0i64; employees as usize + 1];
            checked = 0;
            for (local, ok) in chunks {
                for (t, l) in totals.iter_mut().zip(local) {
                    *t += l;
                }
                checked += ok;
            }
        });
        let revenue: i64 = deals.iter().map(|d| d.3).sum();
        println!(
            "{{\"bench\": \"credit\", \"policy\": \"{}\", \"clients\": {clients}, \"sales\": {sales}, \"employees\": {employees}, \
             \"seconds\": {secs:.3}, \"sales_per_second\": {:.0}, \"exact_sales\": {checked}, \"revenue\": {revenue}, \
             \"credited_with_overlay\": {}, \"unassigned\": {}, \"generate_seconds\": {gen_s:.2}, \"data_mb\": {data_mb:.0}, \"peak_mb\": {:.0}}}",
            match policy {
                Policy::SaleDate => "sale-date",
                Policy::TimeInRole => "time-in-role",
            },
            sales as f64 / secs,
            totals.iter().sum::<i64>(),
            totals[employees as usize],
            peak_rss_mb()
        );
        if checked != sales {
            return Err(format!("{} of {sales} sales were not credited exactly", sales - checked));
        }
    }
    Ok(())
}
