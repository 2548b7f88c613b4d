//! `allot bench`: the engine on the anchor harness's generated data, timed the way the anchors
//! were (data already loaded, result materialised), with the same checksums.
//!
//! Prepare the data once with the anchor harness (../shared/bench/assign/gen_data.py) and
//! `bench/prepare.py`; see BENCHMARKS.md.

use std::path::{Path, PathBuf};
use std::time::Instant;

use allot_core::data::{Column, Data, Table};
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
}

fn read_bin<T: Copy>(dir: &Path, name: &str, rows: usize, conv: impl Fn(&[u8]) -> T, width: usize) -> Result<Vec<T>, String> {
    let p = dir.join(format!("{name}.bin"));
    let bytes = std::fs::read(&p).map_err(|e| format!("cannot read {}: {e} (run bench/prepare.py first)", p.display()))?;
    if bytes.len() != rows * width {
        return Err(format!("{} has {} bytes, expected {}", p.display(), bytes.len(), rows * width));
    }
    Ok(bytes.chunks_exact(width).map(conv).collect())
}

/// Loads a prepared client folder into columns: categorical codes become interned texts.
fn load_clients(dir: &Path) -> Result<(Data, Vec<i64>), String> {
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).map_err(|e| format!("{}: {e}", dir.display()))?)
            .map_err(|e| e.to_string())?;
    let rows = manifest["rows"].as_u64().ok_or("manifest without rows")? as usize;
    let i64s = |n| read_bin(dir, n, rows, |b| i64::from_le_bytes(b.try_into().unwrap_or_default()), 8);
    let i16s = |n| read_bin(dir, n, rows, |b| i16::from_le_bytes(b.try_into().unwrap_or_default()) as i64, 2);
    let i8s = |n| read_bin(dir, n, rows, |b| b[0] as i8 as i64, 1);
    let ids = i64s("client_id")?;
    let mut data = Data::default();
    let text = |codes: Vec<i64>, data: &mut Data| -> Column {
        let mut lut: std::collections::BTreeMap<i64, u32> = Default::default();
        Column::Text(codes.iter().map(|c| *lut.entry(*c).or_insert_with(|| data.dict.intern(&c.to_string()))).collect())
    };
    let region = text(i16s("region")?, &mut data);
    let industry = text(i8s("industry")?, &mut data);
    let product = text(i8s("product")?, &mut data);
    let channel = text(i8s("channel")?, &mut data);
    let ownership = text(i8s("ownership")?, &mut data);
    let vip = Column::Bool(i8s("vip")?.into_iter().map(|v| (v != 0) as u8).collect());
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
    let id_text: Vec<String> = ids.iter().map(|i| i.to_string()).collect();
    data.clients = Table::from_columns(
        names,
        vec![region, industry, product, channel, ownership, vip, tags, potential],
        id_text.iter().map(|s| s.as_str()),
    )
    .map_err(|id| format!("repeated client id {id}"))?;
    Ok((data, ids))
}

fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok()))
        .map_or(0.0, |kb| kb / 1024.0)
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
    for &n in &a.clients {
        let t = Instant::now();
        let (data, ids) = load_clients(&a.data.join(format!("clients_{n}")))?;
        let load_s = t.elapsed().as_secs_f64();
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

            let mut rules = Vec::new();
            let match_s = best(a.repeat, || rules = allot_core::engine::match_rules(&scheme, &compiled, &data).1);
            let mut outcome = None;
            let full_s = best(a.repeat, || outcome = Some(allot_core::assign(&scheme, &compiled, &data, &[], &Options::default())));
            let o = outcome.ok_or("no run")?;

            // The anchors' checksums: count, Σterritory, Σ(id mod 1000)·territory, matched count;
            // and for the full stage Σemployee, Σ(id mod 1000)·employee.
            let (mut st, mut smt, mut matched, mut se, mut sme, mut assigned) = (0i64, 0i64, 0i64, 0i64, 0i64, 0i64);
            for (i, &rule) in rules.iter().enumerate() {
                if rule != NONE {
                    let t = territory[rule as usize];
                    st += t;
                    smt += (ids[i] % 1000) * t;
                    matched += 1;
                }
                if let Some(e) = o.cells[i].employee() {
                    se += emp_no[e as usize];
                    sme += (ids[i] % 1000) * emp_no[e as usize];
                    assigned += 1;
                }
            }
            let loads = allot_core::stats::loads(&scheme, &data, &o);
            let pot_ratio = loads.first().map_or(1.0, |l| l.potential.ratio);
            println!(
                "{{\"engine\": \"allot\", \"n\": {n}, \"r\": {r}, \"load_s\": {load_s:.3}, \"match_s\": {match_s:.4}, \"full_s\": {full_s:.4}, \"signatures\": {}, \"peak_mb\": {:.0}, \"check_match\": [{}, {st}, {smt}, {matched}], \"check_full\": [{}, {se}, {sme}], \"assigned\": {assigned}, \"potential_max_min_all_employees\": {pot_ratio:.3}}}",
                o.signatures,
                peak_rss_mb(),
                ids.len(),
                ids.len()
            );
        }
    }
    Ok(())
}
