//! `allot balance` (issue #5): from a sheet of clients to a territory design and its figures.
//! Reads the columns, builds units and the neighbour graph, runs `allot-territory`, and renders
//! the outputs: the design as CSV, as scheme territories, the report, JSON figures.

#![allow(clippy::needless_range_loop)] // rows, units and territories are parallel arrays

use std::collections::BTreeMap;
use std::fmt::Write as _;

use allot_core::diag::Diagnostic;
use allot_i18n::{Arg, Lang};
use allot_io::sheet::{CellRef, Sheet};
use allot_territory::geo::{dist, unit, Vec3};
use allot_territory::{measure, solve, Criterion, Graph, Observer, Problem, Settings, Solution, Stop};

/// One balancing criterion: a numeric column of the clients, or `count` (one per client).
#[derive(Clone, Debug, PartialEq)]
pub struct By {
    pub column: String,
    pub tolerance: f64,
}

/// Who owns the territories: an employees sheet (id; optional weight or fte, lat and lon of home).
pub struct Owners {
    pub ids: Vec<String>,
    pub weights: Vec<f64>,
    pub homes: Vec<Option<Vec3>>,
}

pub struct Request {
    pub clients: Sheet,
    /// Group clients by this column into units that stay whole (a city, a region).
    pub unit: Option<String>,
    pub by: Vec<By>,
    pub territories: Option<usize>,
    pub owners: Option<Owners>,
    /// Current design: (client or unit id, territory or owner id, fixed).
    pub current: Option<Vec<(String, String, bool, Diagnostic)>>,
    /// Given unit adjacencies (a, b); otherwise built from the points.
    pub adjacency: Option<Vec<(String, String, Diagnostic)>>,
    pub settings: Settings,
}

/// A unit: one client, or all clients sharing the unit column's value.
pub struct Unit {
    pub id: String,
    pub rows: Vec<usize>,
    pub pos: Vec3,
}

pub struct Design {
    pub units: Vec<Unit>,
    pub unit_column: Option<String>,
    /// Client positions (for the map) and each client's unit.
    pub client_pos: Vec<Vec3>,
    pub client_unit: Vec<u32>,
    pub labels: Vec<String>,
    pub owners: Option<Vec<String>>,
    pub problem: Problem,
    pub solution: Solution,
    pub figures: Figures,
    pub rebalanced: bool,
}

/// The clients of `sheet` for which `expr` — a condition in the scheme's language, e.g.
/// `significance != "vip"` — holds (a missing value does not hold). Errors point into `--where`.
pub fn select_clients(sheet: &Sheet, expr: &str) -> Result<Sheet, Vec<Diagnostic>> {
    use allot_core::data::{Data, DataSchema, RowRef, Subject};
    let mut data = Data::default();
    allot_io::tables::load_clients(sheet, &BTreeMap::new(), &allot_io::values::ValueMaps::builtin(), &mut data)?;
    let cond = allot_rules::compile_text(expr, &DataSchema { data: &data, subject: Subject::Client }).map_err(|es| {
        es.into_iter()
            .map(|e| {
                let mut d = Diagnostic::error(e.message).file("--where").span_in(expr, e.span.start, e.span.end.max(e.span.start + 1));
                d.expected = e.expected;
                d.found = e.found;
                d.help = e.help;
                d
            })
            .collect::<Vec<_>>()
    })?;
    let m = allot_rules::Matcher::compile(&cond, &data.dict);
    let keep: Vec<usize> =
        (0..sheet.len()).filter(|&r| m.eval(&RowRef { data: &data, client: r as u32, deal: None }) == allot_rules::Tri::True).collect();
    if keep.is_empty() {
        return Err(vec![Diagnostic::error(format!("no client of {} meets --where `{expr}`", sheet.file))]);
    }
    Ok(sheet.select(&keep))
}

/// The figures of a design, per criterion and overall (ANCHORS.md's measures).
#[derive(Clone, Debug, serde::Serialize)]
pub struct Figures {
    pub units: usize,
    pub clients: usize,
    pub territories: usize,
    pub criteria: Vec<CriterionFigures>,
    /// Σ potential × km to each territory's potential-weighted centroid.
    pub compactness: f64,
    /// Σ km to each territory's unweighted centroid.
    pub compactness_unweighted: f64,
    /// Mean potential-weighted distance to the centroid, km.
    pub mean_distance_km: f64,
    /// Σ_t min over unit sites of Σ potential × km (for up to 20,000 units).
    pub p_median: Option<f64>,
    /// Extra connected pieces over the neighbour graph (0 = every territory contiguous).
    pub pieces: usize,
    pub contiguous_required: bool,
    pub moves: Option<MoveFigures>,
    pub giants: Vec<String>,
    pub restarts: usize,
    pub stopped: String,
    pub seconds: f64,
    pub per_territory: Vec<TerritoryFigures>,
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct CriterionFigures {
    pub name: String,
    pub tolerance: Option<f64>,
    pub total: f64,
    /// max |x_t − target_t| / target_t.
    pub deviation: f64,
    /// The same without the territories of giants.
    pub giant_free_deviation: f64,
    /// No design can do better than this.
    pub lower_bound: f64,
    pub met: bool,
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct MoveFigures {
    pub potential_share: f64,
    pub clients: usize,
    pub client_share: f64,
    pub units: usize,
    /// The least potential share any design within the tolerance must move; none when giants make
    /// the tolerance unreachable.
    pub lower_bound: Option<f64>,
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct TerritoryFigures {
    pub id: String,
    pub owner: Option<String>,
    pub units: usize,
    pub clients: usize,
    pub totals: Vec<f64>,
    pub deviations: Vec<f64>,
    pub mean_distance_km: f64,
    pub pieces: usize,
    pub centre: (f64, f64),
}

fn number(sheet: &Sheet, row: usize, col: usize, what: &str) -> Result<Option<f64>, Diagnostic> {
    let bad = |found: &str| {
        sheet.at(
            row,
            col,
            Diagnostic::error(format!("`{found}` is not a number")).help(format!("{what} must be a number, e.g. 1250.5 or 1 250,5")),
        )
    };
    match sheet.cell(row, col) {
        CellRef::Empty => Ok(None),
        CellRef::Number(x) => Ok(Some(x)),
        CellRef::Text(t) => {
            let clean: String = t.trim().chars().filter(|c| !c.is_whitespace() && *c != '\u{a0}').collect::<String>().replace(',', ".");
            clean.parse::<f64>().ok().filter(|x| x.is_finite()).map(Some).ok_or_else(|| bad(t))
        }
        CellRef::Bool(b) => Err(bad(&b.to_string())),
        CellRef::Date(_) | CellRef::List(_) => Err(bad("a date or list")),
    }
}

/// A cell as text (numbers without a needless fraction, dates as ISO), or none when empty.
pub fn cell_text(sheet: &Sheet, row: usize, col: usize) -> Option<String> {
    match sheet.cell(row, col) {
        CellRef::Empty => None,
        CellRef::Text(t) => Some(t.trim().to_string()),
        CellRef::Number(x) if x.fract() == 0.0 && x.abs() < 1e15 => Some(format!("{}", x as i64)),
        CellRef::Number(x) => Some(x.to_string()),
        CellRef::Bool(b) => Some(b.to_string()),
        CellRef::Date(d) => Some(allot_rules::civil_from_days(d)),
        CellRef::List(l) => Some(l.join(";")),
    }
}

fn column(sheet: &Sheet, names: &[&str], what: &str) -> Result<usize, Diagnostic> {
    names.iter().find_map(|n| sheet.column(n)).ok_or_else(|| {
        let mut d = Diagnostic::error(format!("{} has no `{}` column ({what})", sheet.file, names[0]))
            .help(format!("the columns are: {}", sheet.headers.join(", ")));
        if let Some(s) = sheet.headers.iter().find(|h| strsim::levenshtein(&h.to_lowercase(), names[0]) <= 2) {
            d = d.help(format!("did you mean `{s}`? the columns are: {}", sheet.headers.join(", ")));
        }
        d
    })
}

/// Reads the owners sheet: `id`, optional `weight` (or `fte`), `lat`/`lon` (or `home_lat`/`home_lon`),
/// `active` (false rows are skipped) and, with `team`, only members of that team (`teams` column).
pub fn read_owners(sheet: &Sheet, team: Option<&str>) -> Result<Owners, Vec<Diagnostic>> {
    let mut errors = Vec::new();
    let id = column(sheet, &["id"], "the employee's id").map_err(|d| vec![d])?;
    let weight = sheet.column("weight").or_else(|| sheet.column("fte"));
    let lat = sheet.column("home_lat").or_else(|| sheet.column("lat"));
    let lon = sheet.column("home_lon").or_else(|| sheet.column("lon"));
    let active = sheet.column("active");
    let teams = sheet.column("teams");
    if team.is_some() && teams.is_none() {
        return Err(vec![Diagnostic::error(format!("{} has no `teams` column, so --team cannot pick owners", sheet.file))]);
    }
    let mut out = Owners { ids: Vec::new(), weights: Vec::new(), homes: Vec::new() };
    for r in 0..sheet.len() {
        if let Some(c) = active {
            if matches!(cell_text(sheet, r, c).as_deref().map(str::to_lowercase).as_deref(), Some("false" | "0" | "no" | "нет")) {
                continue;
            }
        }
        if let (Some(team), Some(c)) = (team, teams) {
            let list = cell_text(sheet, r, c).unwrap_or_default();
            if !list.split([';', ',']).any(|t| t.trim() == team) {
                continue;
            }
        }
        let Some(name) = cell_text(sheet, r, id) else {
            errors.push(sheet.at(r, id, Diagnostic::error("the employee's id is empty")));
            continue;
        };
        let w = match weight.map(|c| number(sheet, r, c, "weight")).transpose() {
            Ok(w) => w.flatten().unwrap_or(1.0),
            Err(d) => {
                errors.push(d);
                continue;
            }
        };
        if w <= 0.0 {
            errors.push(sheet.at(
                r,
                weight.unwrap_or(id),
                Diagnostic::error(format!("weight {w} is not positive")).help("a part-time owner has e.g. 0.5"),
            ));
            continue;
        }
        let home = match (lat, lon) {
            (Some(a), Some(b)) => match (number(sheet, r, a, "lat"), number(sheet, r, b, "lon")) {
                (Ok(Some(la)), Ok(Some(lo))) => Some(unit(la, lo)),
                (Ok(None), Ok(None)) => None,
                (Err(d), _) | (_, Err(d)) => {
                    errors.push(d);
                    None
                }
                _ => {
                    errors.push(sheet.at(r, a, Diagnostic::error("a home needs both lat and lon")));
                    None
                }
            },
            _ => None,
        };
        out.ids.push(name);
        out.weights.push(w);
        out.homes.push(home);
    }
    if errors.is_empty() && out.ids.is_empty() {
        errors.push(Diagnostic::error(format!(
            "{} names no active owner{}",
            sheet.file,
            team.map(|t| format!(" in team `{t}`")).unwrap_or_default()
        )));
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

/// Builds the problem from the request, solves it, and measures the result.
pub fn design(req: Request, observer: &dyn Observer) -> Result<Design, Vec<Diagnostic>> {
    let started = std::time::Instant::now();
    let sheet = &req.clients;
    let cols = Columns::find(&req)?;
    let Points { ids, client_pos, values } = read_points(&req, &cols)?;
    let (mut units, client_unit, index) = group_units(sheet, &cols, &ids)?;
    let n = sheet.len();
    let w0: Vec<f64> = values.first().cloned().unwrap_or_else(|| vec![1.0; n]);
    for u in &mut units {
        let c = allot_territory::geo::centroid(u.rows.iter().map(|&r| (client_pos[r], w0[r] + 1e-9)));
        u.pos = c.unwrap_or(client_pos[u.rows[0]]);
    }
    let nu = units.len();
    let criteria: Vec<Criterion> = req
        .by
        .iter()
        .enumerate()
        .map(|(b, by)| Criterion {
            name: by.column.clone(),
            values: units.iter().map(|u| u.rows.iter().map(|&r| values[b][r]).sum()).collect(),
            tolerance: Some(by.tolerance),
        })
        .collect();
    // Territories: the owners, or `k` numbered ones.
    let (labels, owners, shares, homes) = match (&req.owners, req.territories) {
        (Some(o), _) => (o.ids.clone(), Some(o.ids.clone()), o.weights.clone(), o.homes.clone()),
        (None, Some(k)) => ((1..=k).map(|t| format!("t{t:0w$}", w = k.to_string().len())).collect(), None, vec![1.0; k], vec![None; k]),
        (None, None) => {
            return Err(vec![Diagnostic::error("say how many territories (--territories K) or who owns them (--employees FILE)")])
        }
    };
    let k = labels.len();
    if k > nu {
        return Err(vec![Diagnostic::error(format!("{k} territories asked for, but there are only {nu} units to share"))]);
    }
    let (current, fixed) = read_current(&req, &labels, owners.is_some(), (&index, &ids, &client_unit), nu)?;
    let pos: Vec<Vec3> = units.iter().map(|u| u.pos).collect();
    let graph = neighbours(&req, &index, &client_pos, &client_unit, cols.unit.is_some(), &pos)?;
    let rebalanced = current.is_some();
    let problem = Problem { pos, criteria, graph, shares, homes, fixed, current };
    let solution = solve(&problem, &req.settings, observer).map_err(|e| vec![Diagnostic::error(e.to_string())])?;
    let mut d = Design {
        units,
        unit_column: req.unit.clone(),
        client_pos,
        client_unit,
        labels,
        owners,
        problem,
        solution,
        figures: empty_figures(),
        rebalanced,
    };
    if d.owners.is_none() && !d.rebalanced {
        relabel_west_to_east(&mut d);
    }
    d.figures = figures(&d, req.settings.contiguous, started.elapsed().as_secs_f64());
    Ok(d)
}

/// The columns `design` reads: id, position, the unit, the criteria (`None`: count).
struct Columns {
    id: usize,
    lat: usize,
    lon: usize,
    unit: Option<usize>,
    by: Vec<Option<usize>>,
}

impl Columns {
    fn find(req: &Request) -> Result<Columns, Vec<Diagnostic>> {
        let sheet = &req.clients;
        let id = column(sheet, &["id", "client_id"], "the client's id").map_err(|d| vec![d])?;
        let lat = column(sheet, &["lat", "latitude", "широта"], "latitude in degrees");
        let lon = column(sheet, &["lon", "lng", "longitude", "долгота"], "longitude in degrees");
        let (lat, lon) = match (lat, lon) {
            (Ok(a), Ok(b)) => (a, b),
            (a, b) => return Err([a.err(), b.err()].into_iter().flatten().collect()),
        };
        let unit = match &req.unit {
            Some(u) => Some(column(sheet, &[u.as_str()], "the unit each client belongs to").map_err(|d| vec![d])?),
            None => None,
        };
        let by: Vec<Option<usize>> = req
            .by
            .iter()
            .map(|b| if b.column == "count" { Ok(None) } else { column(sheet, &[b.column.as_str()], "a number to balance").map(Some) })
            .collect::<Result<_, _>>()
            .map_err(|d| vec![d])?;
        Ok(Columns { id, lat, lon, unit, by })
    }
}

/// Each client's id, position and criteria values.
struct Points {
    ids: Vec<String>,
    client_pos: Vec<Vec3>,
    /// Per criterion, per client.
    values: Vec<Vec<f64>>,
}

/// Reads every client's position and values; up to 50 located errors.
fn read_points(req: &Request, cols: &Columns) -> Result<Points, Vec<Diagnostic>> {
    let sheet = &req.clients;
    let (id_col, lat_col, lon_col, by_cols) = (cols.id, cols.lat, cols.lon, &cols.by);
    let mut errors = Vec::new();
    let n = sheet.len();
    let mut client_pos = Vec::with_capacity(n);
    let mut values = vec![vec![0.0; n]; req.by.len()];
    let mut ids: Vec<String> = Vec::with_capacity(n);
    for r in 0..n {
        let id = cell_text(sheet, r, id_col).unwrap_or_default();
        if id.is_empty() {
            errors.push(sheet.at(r, id_col, Diagnostic::error("the client's id is empty")));
        }
        ids.push(id);
        let mut coord = |c: usize, lo: f64, hi: f64, what: &str| match number(sheet, r, c, what) {
            Ok(Some(x)) if (lo..=hi).contains(&x) => x,
            Ok(Some(x)) => {
                errors.push(sheet.at(
                    r,
                    c,
                    Diagnostic::error(format!("{what} {x} is out of range")).help(format!("expected degrees from {lo} to {hi}")),
                ));
                0.0
            }
            Ok(None) => {
                errors.push(sheet.at(
                    r,
                    c,
                    Diagnostic::error(format!("{what} is empty")).help("every client needs a position to be placed in a territory"),
                ));
                0.0
            }
            Err(d) => {
                errors.push(d);
                0.0
            }
        };
        let la = coord(lat_col, -90.0, 90.0, "latitude");
        let lo = coord(lon_col, -180.0, 360.0, "longitude");
        client_pos.push(unit(la, lo));
        for (b, col) in by_cols.iter().enumerate() {
            values[b][r] = match col {
                None => 1.0,
                Some(c) => match number(sheet, r, *c, &req.by[b].column) {
                    Ok(Some(x)) if x >= 0.0 => x,
                    Ok(Some(x)) => {
                        errors.push(sheet.at(
                            r,
                            *c,
                            Diagnostic::error(format!("{} {x} is negative", req.by[b].column)).help("expected a number ≥ 0"),
                        ));
                        0.0
                    }
                    Ok(None) => 0.0,
                    Err(d) => {
                        errors.push(d);
                        0.0
                    }
                },
            };
        }
        if errors.len() >= 50 {
            break;
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(Points { ids, client_pos, values })
}

/// The units, each client's unit, and the units by id.
type Grouped = (Vec<Unit>, Vec<u32>, BTreeMap<String, u32>);

/// Each unit's current territory (if a current design is given), and the units fixed to one.
type CurrentDesign = (Option<Vec<Option<u32>>>, Vec<Option<u32>>);

/// Units: one per client, or one per value of the unit column (first-seen order); each client's
/// unit; units by id.
fn group_units(sheet: &Sheet, cols: &Columns, ids: &[String]) -> Result<Grouped, Vec<Diagnostic>> {
    let (id_col, unit_col) = (cols.id, cols.unit);
    let n = sheet.len();
    let mut errors = Vec::new();
    let mut units: Vec<Unit> = Vec::new();
    let mut client_unit = vec![0u32; n];
    let mut index: BTreeMap<String, u32> = BTreeMap::new();
    for r in 0..n {
        let key = match unit_col {
            Some(c) => match cell_text(sheet, r, c) {
                Some(v) => v,
                None => {
                    errors
                        .push(sheet.at(r, c, Diagnostic::error("the unit is empty")).help("every client must name the unit it belongs to"));
                    continue;
                }
            },
            None => ids[r].clone(),
        };
        let u = *index.entry(key.clone()).or_insert_with(|| {
            units.push(Unit { id: key.clone(), rows: Vec::new(), pos: [0.0; 3] });
            (units.len() - 1) as u32
        });
        if unit_col.is_none() && !units[u as usize].rows.is_empty() {
            errors.push(sheet.at(r, id_col, Diagnostic::error(format!("client `{key}` appears twice"))));
        }
        units[u as usize].rows.push(r);
        client_unit[r] = u;
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok((units, client_unit, index))
}

/// The current design, by territory label or owner id: each unit's territory and the fixed ones.
/// Unknown labels are new territories only when no owners are given.
fn read_current(
    req: &Request,
    labels: &[String],
    owned: bool,
    (index, ids, client_unit): (&BTreeMap<String, u32>, &[String], &[u32]),
    nu: usize,
) -> Result<CurrentDesign, Vec<Diagnostic>> {
    let k = labels.len();
    let mut errors = Vec::new();
    let label_of: BTreeMap<&str, u32> = labels.iter().enumerate().map(|(i, l)| (l.as_str(), i as u32)).collect();
    let mut current: Option<Vec<Option<u32>>> = None;
    let mut fixed = vec![None; nu];
    if let Some(rows) = &req.current {
        let mut cur = vec![None; nu];
        let mut extra: BTreeMap<String, u32> = BTreeMap::new();
        let mut used = false;
        for (id, terr, fix, at) in rows {
            let Some(&u) = index.get(id.as_str()).or_else(|| ids.iter().position(|x| x == id).map(|r| &client_unit[r])) else {
                errors.push(at.clone().message_prefix(format!("`{id}` is neither a client nor a unit of the clients file")));
                continue;
            };
            let t = match label_of.get(terr.as_str()) {
                Some(&t) => t,
                None if !owned => {
                    let next = extra.len() as u32;
                    *extra.entry(terr.clone()).or_insert(next)
                }
                None => {
                    errors.push(at.clone().message_prefix(format!("`{terr}` is not one of the owners ({})", labels.join(", "))));
                    continue;
                }
            };
            cur[u as usize] = Some(t);
            used = true;
            if *fix {
                fixed[u as usize] = Some(t);
            }
        }
        // Territories named in the current file but not asked for, when counting by number:
        // the file's own labels in their order of appearance map onto t1..tk.
        if !owned && !extra.is_empty() {
            let mut names: Vec<(&String, &u32)> = extra.iter().collect();
            names.sort_by_key(|x| *x.1);
            if names.len() > k {
                errors.push(
                    Diagnostic::error(format!("the current design has {} territories but {k} were asked for", names.len()))
                        .help("give --territories with the current design's count, or re-balance into as many territories"),
                );
            }
            let mut sorted: Vec<String> = names.iter().map(|x| x.0.clone()).collect();
            sorted.sort_by_key(|a| natural(a));
            let remap: BTreeMap<u32, u32> =
                names.iter().map(|(name, &i)| (i, sorted.iter().position(|s| s == *name).unwrap_or(0) as u32)).collect();
            for c in cur.iter_mut().chain(fixed.iter_mut()).flatten() {
                if let Some(&m) = remap.get(c) {
                    *c = m;
                }
            }
        }
        if used {
            current = Some(cur);
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok((current, fixed))
}

/// The units' neighbour graph: the adjacency file, or Delaunay over the points (of clients,
/// merged into their units).
fn neighbours(
    req: &Request,
    index: &BTreeMap<String, u32>,
    client_pos: &[Vec3],
    client_unit: &[u32],
    grouped: bool,
    pos: &[Vec3],
) -> Result<Graph, Vec<Diagnostic>> {
    let nu = pos.len();
    let mut errors = Vec::new();
    let graph = match &req.adjacency {
        Some(pairs) => {
            let mut edges = Vec::new();
            for (a, b, at) in pairs {
                match (index.get(a.as_str()), index.get(b.as_str())) {
                    (Some(&x), Some(&y)) => edges.push((x, y)),
                    _ => {
                        let missing = if index.contains_key(a.as_str()) { b } else { a };
                        errors.push(at.clone().message_prefix(format!("`{missing}` is not a unit of the clients file")));
                    }
                }
            }
            Graph::from_edges(nu, edges)
        }
        None if grouped => Graph::delaunay(client_pos).quotient(client_unit, nu),
        None => Graph::delaunay(pos),
    };
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(graph)
}

/// `t2` before `t10`.
fn natural(s: &str) -> (String, u64, String) {
    let digits: String = s.chars().filter(|c| c.is_ascii_digit()).collect();
    (s.trim_end_matches(|c: char| c.is_ascii_digit()).to_string(), digits.parse().unwrap_or(0), s.to_string())
}

/// Numbered territories read west to east, so that t1 is the westernmost: stable and readable.
fn relabel_west_to_east(d: &mut Design) {
    let k = d.labels.len();
    let lon = |t: usize| {
        let (_, lo) = allot_territory::geo::lat_lon(d.solution.centres[t]);
        // Russia crosses the antimeridian: Chukotka's −170° is east of Kamchatka's 160°.
        if lo < -100.0 {
            lo + 360.0
        } else {
            lo
        }
    };
    let mut order: Vec<usize> = (0..k).collect();
    order.sort_by(|&a, &b| lon(a).total_cmp(&lon(b)).then(a.cmp(&b)));
    let mut new_of = vec![0u32; k];
    for (new, &old) in order.iter().enumerate() {
        new_of[old] = new as u32;
    }
    for t in d.solution.territory.iter_mut() {
        *t = new_of[*t as usize];
    }
    d.solution.centres = order.iter().map(|&o| d.solution.centres[o]).collect();
}

fn empty_figures() -> Figures {
    Figures {
        units: 0,
        clients: 0,
        territories: 0,
        criteria: vec![],
        compactness: 0.0,
        compactness_unweighted: 0.0,
        mean_distance_km: 0.0,
        p_median: None,
        pieces: 0,
        contiguous_required: false,
        moves: None,
        giants: vec![],
        restarts: 0,
        stopped: String::new(),
        seconds: 0.0,
        per_territory: vec![],
    }
}

fn figures(d: &Design, contiguous: bool, seconds: f64) -> Figures {
    let p = &d.problem;
    let k = d.labels.len();
    let a = &d.solution.territory;
    let ones = vec![1.0; a.len()];
    let w = p.criteria.first().map(|c| &c.values).unwrap_or(&ones);
    let criteria: Vec<CriterionFigures> = p
        .criteria
        .iter()
        .map(|c| {
            let tot = measure::totals(a, &c.values, k);
            let tg = measure::targets(&c.values, &p.shares);
            let dev = measure::deviation(&tot, &tg, &vec![false; k]);
            let lb = if c.name == "count" && d.unit_column.is_none() {
                measure::count_lower_bound(a.len(), k)
            } else {
                measure::deviation_lower_bound(&c.values, k)
            };
            CriterionFigures {
                name: c.name.clone(),
                tolerance: c.tolerance,
                total: c.values.iter().sum(),
                deviation: dev,
                giant_free_deviation: measure::giant_free_deviation(a, &c.values, k),
                lower_bound: lb,
                met: c.tolerance.is_none_or(|t| dev <= t + 1e-12),
            }
        })
        .collect();
    let comp = measure::compactness(&p.pos, a, w, k);
    let total_w: f64 = w.iter().sum();
    let per_piece = measure::pieces_per_territory(&p.graph, a, k);
    let moves = p.current.as_ref().map(|cur| {
        let m = measure::moves(a, cur, w, k, false);
        let clients_moved: usize = (0..a.len()).filter(|&u| cur[u].is_some_and(|c| c != a[u])).map(|u| d.units[u].rows.len()).sum();
        let clients_total: usize = (0..a.len()).filter(|&u| cur[u].is_some()).map(|u| d.units[u].rows.len()).sum();
        let tol = p.criteria.first().and_then(|c| c.tolerance).unwrap_or(0.0);
        MoveFigures {
            potential_share: m.weight_share,
            clients: clients_moved,
            client_share: if clients_total > 0 { clients_moved as f64 / clients_total as f64 } else { 0.0 },
            units: m.units,
            lower_bound: d.solution.giants.is_empty().then(|| measure::rebalance_lower_bound(cur, w, &p.shares, tol)),
        }
    });
    let mut per_territory = Vec::with_capacity(k);
    let mut members = vec![Vec::new(); k];
    for (u, &t) in a.iter().enumerate() {
        members[t as usize].push(u);
    }
    let targets: Vec<Vec<f64>> = p.criteria.iter().map(|c| measure::targets(&c.values, &p.shares)).collect();
    for t in 0..k {
        let totals: Vec<f64> = p.criteria.iter().map(|c| members[t].iter().map(|&u| c.values[u]).sum()).collect();
        let deviations: Vec<f64> = targets.iter().zip(&totals).map(|(tg, x)| if tg[t] > 0.0 { x / tg[t] - 1.0 } else { 0.0 }).collect();
        let wsum: f64 = members[t].iter().map(|&u| w[u]).sum();
        let centre = allot_territory::geo::centroid(members[t].iter().map(|&u| (p.pos[u], w[u] + 1e-9))).unwrap_or(d.solution.centres[t]);
        let md = if wsum > 0.0 { members[t].iter().map(|&u| w[u] * dist(p.pos[u], centre)).sum::<f64>() / wsum } else { 0.0 };
        per_territory.push(TerritoryFigures {
            id: d.labels[t].clone(),
            owner: d.owners.as_ref().map(|o| o[t].clone()),
            units: members[t].len(),
            clients: members[t].iter().map(|&u| d.units[u].rows.len()).sum(),
            totals,
            deviations,
            mean_distance_km: md,
            pieces: per_piece[t],
            centre: allot_territory::geo::lat_lon(centre),
        });
    }
    Figures {
        units: a.len(),
        clients: d.client_pos.len(),
        territories: k,
        criteria,
        compactness: comp,
        compactness_unweighted: measure::compactness(&p.pos, a, &ones, k),
        mean_distance_km: if total_w > 0.0 { comp / total_w } else { 0.0 },
        p_median: (a.len() <= 20_000).then(|| measure::p_median_cost(&p.pos, a, w, k)),
        pieces: per_piece.iter().map(|c| c.saturating_sub(1)).sum(),
        contiguous_required: contiguous,
        moves,
        giants: d.solution.giants.iter().map(|&g| d.units[g as usize].id.clone()).collect(),
        restarts: d.solution.restarts,
        stopped: match d.solution.stop {
            Stop::Done => "done",
            Stop::TimeLimit => "time limit",
            Stop::Interrupted => "interrupted",
            Stop::MoveCap => "move cap",
        }
        .into(),
        seconds,
        per_territory,
    }
}

/// A share as a percentage with two decimals (`1.25%`; `1,25 %` in Russian).
fn pct(lang: Lang, x: f64) -> String {
    match lang {
        Lang::Ru => format!("{}\u{a0}%", allot_i18n::format::number(lang, x * 100.0, 2)),
        Lang::En => format!("{:.2}%", x * 100.0),
    }
}

/// A deviation with its sign and two decimals (`+1.25%`).
fn signed_pct(lang: Lang, x: f64) -> String {
    let sign = if x >= 0.0 { "+" } else { "" };
    format!("{sign}{}", pct(lang, x))
}

/// A whole amount with its digits grouped as the language groups them.
fn big(lang: Lang, x: f64) -> String {
    if lang == Lang::Ru {
        return allot_i18n::format::number(lang, x.round(), 0);
    }
    let s = format!("{:.0}", x.round());
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 && c != '-' && !out.ends_with('-') {
            out.push(' ');
        }
        out.push(c);
    }
    out
}

/// The report a person reads: per territory totals and deviations, then the verdict per criterion,
/// compactness, contiguity, moves, and what could not be met and why.
pub fn report(d: &Design, lang: Lang) -> String {
    let f = &d.figures;
    let t = |key: &str| lang.t(key);
    let mut s = String::new();
    let clients = if d.unit_column.is_some() {
        format!(" {}", lang.text("balance-units-clients", &[("clients", Arg::Count(f.clients as i64))]))
    } else {
        String::new()
    };
    let head = lang.text(
        if d.rebalanced { "balance-rebalanced" } else { "balance-divided" },
        &[
            ("units", Arg::Count(f.units as i64)),
            ("clients", Arg::Text(&clients)),
            ("territories", Arg::Count(f.territories as i64)),
            ("contiguous", Arg::Text(&if f.contiguous_required { t("balance-contiguous") } else { String::new() })),
        ],
    );
    let _ = writeln!(s, "{head}");
    let mut header = format!("{:<14} {:>6} {:>8}", t("balance-col-territory"), t("balance-col-units"), t("balance-col-clients"));
    for c in &f.criteria {
        let _ = write!(header, " {:>16} {:>8}", c.name, t("balance-col-dev"));
    }
    let _ = write!(header, " {:>9} {:>6}", t("balance-col-km"), t("balance-col-pieces"));
    let _ = writeln!(s, "{header}");
    for t in &f.per_territory {
        let name = match &t.owner {
            Some(o) if *o != t.id => format!("{} ({o})", t.id),
            _ => t.id.clone(),
        };
        let mut line = format!("{:<14} {:>6} {:>8}", name, t.units, t.clients);
        for (x, dv) in t.totals.iter().zip(&t.deviations) {
            let _ = write!(line, " {:>16} {:>8}", big(lang, *x), signed_pct(lang, *dv));
        }
        let _ = write!(line, " {:>9.0} {:>6}", t.mean_distance_km, t.pieces);
        let _ = writeln!(s, "{line}");
    }
    s.push('\n');
    for c in &f.criteria {
        let tol = c.tolerance.map(|x| pct(lang, x)).unwrap_or_else(|| "—".into());
        let verdict = t(if c.met { "balance-within" } else { "balance-not-within" });
        let line = lang.text(
            "balance-spread",
            &[("spread", Arg::Text(&pct(lang, c.deviation))), ("tolerance", Arg::Text(&tol)), ("verdict", Arg::Text(&verdict))],
        );
        let _ = writeln!(s, "{:<12} {line}", c.name);
        if c.tolerance.is_some_and(|t| c.lower_bound > t) {
            let why = if f.giants.is_empty() { t("balance-units-whole") } else { giants_phrase(lang, &f.giants) };
            let line = lang.text(
                "balance-impossible",
                &[
                    ("bound", Arg::Text(&pct(lang, c.lower_bound))),
                    ("why", Arg::Text(&why)),
                    ("without", Arg::Text(&pct(lang, c.giant_free_deviation))),
                ],
            );
            let _ = writeln!(s, "             {line}");
        } else if !c.met {
            let line = lang.text(
                "balance-best-found",
                &[("spread", Arg::Text(&pct(lang, c.deviation))), ("bound", Arg::Text(&pct(lang, c.lower_bound)))],
            );
            let _ = writeln!(s, "             {line}");
        }
    }
    let p_median = f.p_median.map(|p| lang.text("balance-p-median", &[("cost", Arg::Text(&format!("{p:.4e}")))])).unwrap_or_default();
    let line = lang.text(
        "balance-compactness",
        &[
            ("total", Arg::Text(&big(lang, f.compactness))),
            ("mean", Arg::Text(&format!("{:.0}", f.mean_distance_km))),
            ("p_median", Arg::Text(&p_median)),
        ],
    );
    let _ = writeln!(s, "{:<12} {line}", t("balance-h-compactness"));
    let contiguity = if f.pieces == 0 {
        t("balance-one-piece")
    } else {
        let how = t(if f.contiguous_required { "balance-pieces-forced" } else { "balance-pieces-allowed" });
        lang.text("balance-pieces", &[("count", Arg::Count(f.pieces as i64)), ("how", Arg::Text(&how))])
    };
    let _ = writeln!(s, "{:<12} {contiguity}", t("balance-h-contiguity"));
    if let Some(m) = &f.moves {
        let least = match m.lower_bound {
            Some(b) => lang.text("balance-least-move", &[("bound", Arg::Text(&pct(lang, b)))]),
            None => t("balance-no-least-move"),
        };
        let line = lang.text(
            "balance-moves",
            &[
                ("potential", Arg::Text(&pct(lang, m.potential_share))),
                ("clients", Arg::Count(m.clients as i64)),
                ("share", Arg::Text(&pct(lang, m.client_share))),
                ("least", Arg::Text(&least)),
            ],
        );
        let _ = writeln!(s, "{:<12} {line}", t("balance-h-moves"));
    }
    if !f.giants.is_empty() {
        let line =
            lang.text("balance-giants", &[("giants", Arg::Text(&f.giants.join(", "))), ("count", Arg::Count(f.giants.len() as i64))]);
        let _ = writeln!(s, "{:<12} {line}", t("balance-h-giants"));
    }
    let stopped = t(&format!("balance-stop-{}", f.stopped.replace(' ', "-")));
    let line = lang.text(
        "balance-search",
        &[
            ("restarts", Arg::Count(f.restarts as i64)),
            ("stopped", Arg::Text(&stopped)),
            ("seconds", Arg::Text(&allot_i18n::format::number(lang, f.seconds, 2))),
        ],
    );
    let _ = writeln!(s, "{:<12} {line}", t("balance-h-search"));
    s
}

/// The design as CSV: unit (or client) → territory and owner.
/// Its headers are in `lang` (the key column keeps the name it has in the clients' file); `--current`
/// reads them back in either language.
pub fn write_csv(d: &Design, w: &mut dyn std::io::Write, lang: Lang) -> std::io::Result<()> {
    let mut out = csv::Writer::from_writer(w);
    let key = d.unit_column.clone().unwrap_or_else(|| "id".into());
    let mut header = vec![key, lang.t("design-territory")];
    if d.owners.is_some() {
        header.push(lang.t("design-employee"));
    }
    if d.unit_column.is_some() {
        header.push(lang.t("design-clients"));
    }
    out.write_record(&header)?;
    for (u, unit) in d.units.iter().enumerate() {
        let t = d.solution.territory[u] as usize;
        let mut row = vec![unit.id.clone(), d.labels[t].clone()];
        if let Some(o) = &d.owners {
            row.push(o[t].clone());
        }
        if d.unit_column.is_some() {
            row.push(unit.rows.len().to_string());
        }
        out.write_record(&row)?;
    }
    out.flush()
}

fn toml_str(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// "X alone exceeds the mean" / "X, Y alone exceed the mean".
fn giants_phrase(lang: Lang, giants: &[String]) -> String {
    lang.text("balance-giants-alone", &[("giants", Arg::Text(&giants.join(", "))), ("count", Arg::Count(giants.len() as i64))])
}

/// The design as scheme territories (`[[territories]]` with `attribute` and `values`), owned in
/// `role` when owners are known: paste or `include` them into a scheme and `allot assign` runs on it.
pub fn scheme_toml(d: &Design, role: &str, parent: Option<&str>, names: &dyn Fn(usize) -> Option<String>) -> String {
    // Single clients are named through a `territory` column (see `write_clients`); units by
    // their own column.
    let attr = d.unit_column.clone().unwrap_or_else(|| "territory".into());
    let mut s = format!(
        "# Territories cut by `allot balance` ({} units, {} territories{}).\n",
        d.units.len(),
        d.labels.len(),
        d.figures
            .criteria
            .first()
            .map(|c| match d.figures.giants.is_empty() {
                // A comment of the scheme file: in English, as the scheme's keys are.
                true => format!(", {} spread {}", c.name, pct(Lang::En, c.deviation)),
                false => format!(
                    ", {} spread {}; {}, without {} {}",
                    c.name,
                    pct(Lang::En, c.deviation),
                    giants_phrase(Lang::En, &d.figures.giants),
                    if d.figures.giants.len() == 1 { "it" } else { "them" },
                    pct(Lang::En, c.giant_free_deviation)
                ),
            })
            .unwrap_or_default()
    );
    for t in 0..d.labels.len() {
        let mut vals: Vec<&str> = if d.unit_column.is_some() {
            d.units.iter().enumerate().filter(|(u, _)| d.solution.territory[*u] as usize == t).map(|(_, x)| x.id.as_str()).collect()
        } else {
            vec![d.labels[t].as_str()]
        };
        vals.sort_by_key(|a| natural(a));
        let _ = write!(s, "\n[[territories]]\nid = {}\n", toml_str(&d.labels[t]));
        if let Some(n) = names(t) {
            let _ = writeln!(s, "name = {}", toml_str(&n));
        }
        if let Some(p) = parent {
            let _ = writeln!(s, "parent = {}", toml_str(p));
        }
        let _ = writeln!(s, "attribute = {}", toml_str(&attr));
        let _ = writeln!(s, "values = [{}]", vals.iter().map(|v| toml_str(v)).collect::<Vec<_>>().join(", "));
        if let Some(o) = &d.owners {
            let _ = writeln!(s, "owners = {{ {role} = {} }}", toml_str(&o[t]));
        }
    }
    s
}

/// Prefixing a located diagnostic's message (the location is kept).
trait Prefix {
    fn message_prefix(self, m: String) -> Diagnostic;
}

impl Prefix for Diagnostic {
    fn message_prefix(mut self, m: String) -> Diagnostic {
        self.message = m;
        self
    }
}

/// The clients sheet with a `territory` column (added, or replaced): with `scheme_toml`'s
/// territories, `allot assign --clients` runs on the design directly.
pub fn write_clients(d: &Design, sheet: &Sheet, w: &mut dyn std::io::Write) -> std::io::Result<()> {
    let mut out = csv::Writer::from_writer(w);
    let replace = sheet.column("territory");
    let mut header = sheet.headers.clone();
    if replace.is_none() {
        header.push("territory".into());
    }
    out.write_record(&header)?;
    for r in 0..sheet.len() {
        let t = d.solution.territory[d.client_unit[r] as usize] as usize;
        let mut row: Vec<String> = (0..sheet.headers.len()).map(|c| cell_text(sheet, r, c).unwrap_or_default()).collect();
        match replace {
            Some(c) => row[c] = d.labels[t].clone(),
            None => row.push(d.labels[t].clone()),
        }
        out.write_record(&row)?;
    }
    out.flush()
}
