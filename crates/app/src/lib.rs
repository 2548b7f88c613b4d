//! Use cases shared by every front end (the CLI today, the HTTP server later): load the inputs,
//! check a scheme, assign, explain — and the text reports a person reads.
//!
//! This crate wires `allot-io` readers to the `allot-core` engine. It defines the [`Progress`]
//! port that front ends implement; it knows no command-line flags and no HTTP.

pub mod approval;
pub mod balance;
pub mod clock;
pub mod contribution;
pub mod credit;
pub mod report;
pub mod routing;
pub mod stored;
pub mod territory;
pub mod tokens;
pub mod users;

use std::path::{Path, PathBuf};

use rustc_hash::FxHashMap;

use allot_core::data::{Data, Table};
use allot_core::deals::{assign_deals, DealOutcome};
use allot_core::diag::Diagnostic;
use allot_core::explain::{explain_client, explain_deal, Explanation};
use allot_core::{Compiled, CurrentLink, Options, Outcome, Scheme};
use allot_io::values::ValueMaps;
use allot_io::{read_table, Encoding, Encodings, SchemeFile, Sheet};

/// Reports the stages of long work; front ends draw it (or not).
pub trait Progress {
    fn stage(&self, what: &str);
}

/// No progress display.
pub struct Silent;
impl Progress for Silent {
    fn stage(&self, _: &str) {}
}

/// The files of one run.
#[derive(Debug, Clone, Default)]
pub struct Inputs {
    pub scheme: PathBuf,
    pub clients: PathBuf,
    pub employees: PathBuf,
    pub deals: Option<PathBuf>,
    pub current: Option<PathBuf>,
    pub encodings: Encodings,
}

/// Everything loaded and validated.
pub struct Loaded {
    pub scheme: Scheme,
    pub data: Data,
    pub compiled: Compiled,
    pub current: Vec<CurrentLink>,
    /// Problems that are not errors (e.g. unused columns).
    pub warnings: Vec<Diagnostic>,
}

fn read_text(path: &Path) -> Result<String, Vec<Diagnostic>> {
    let file = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|e| vec![Diagnostic::error(format!("cannot read the file: {e}")).file(file.clone())])?;
    allot_io::sheet::decode(&bytes, &file, Encoding::Utf8).map_err(|d| vec![d])
}

/// Reads a table and gives its headers the names the scheme's `[columns]` maps them to.
fn read_sheet(path: &Path, inputs: &Inputs, sf: Option<&SchemeFile>, deals: bool) -> Result<Sheet, Vec<Diagnostic>> {
    let _span = tracing::info_span!("read", deals).entered();
    let mut sheet = read_table(path, inputs.encodings.for_file(path))?;
    if let Some(sf) = sf {
        let errors = sf.rename_headers(&mut sheet, deals);
        if !errors.is_empty() {
            return Err(errors);
        }
    }
    Ok(sheet)
}

/// Problems found while loading, errors apart from warnings.
#[derive(Default)]
struct Found {
    errors: Vec<Diagnostic>,
    warnings: Vec<Diagnostic>,
    /// Whether some file could not be read at all (then the scheme cannot be checked against it).
    unreadable: bool,
}

impl Found {
    fn add(&mut self, found: Vec<Diagnostic>) {
        let (err, warn): (Vec<_>, Vec<_>) = found.into_iter().partition(|d| d.is_error());
        self.errors.extend(err);
        self.warnings.extend(warn);
    }
}

/// Types a read clients (or deals) file into `data` with `load`; when some cell is bad, returns
/// the file's columns without rows, to check the scheme against (typing them again only then).
fn read_subject(
    sheet: Result<Sheet, Vec<Diagnostic>>,
    deals: bool,
    declared: &std::collections::BTreeMap<String, allot_rules::Type>,
    found: &mut Found,
    load: impl FnOnce(&Sheet) -> Result<Vec<Diagnostic>, Vec<Diagnostic>>,
) -> Option<Table> {
    match sheet {
        Ok(sheet) => match load(&sheet) {
            Ok(w) => {
                found.add(w);
                None
            }
            Err(e) => {
                found.add(e);
                Some(Table::new(&allot_io::tables::shape(&sheet, declared, deals)))
            }
        },
        Err(e) => {
            found.unreadable = true;
            found.add(e);
            None
        }
    }
}

/// Loads and validates every input. All problems of all files are returned at once: the scheme is
/// checked against the files' columns even when some of their cells are bad, so a typo in a
/// condition is reported beside a bad number (issue #14).
pub fn load(inputs: &Inputs, progress: &dyn Progress) -> Result<Loaded, Vec<Diagnostic>> {
    let _span = tracing::info_span!("load").entered();
    let mut found = Found::default();
    progress.stage("reading the scheme");
    let sf = read_text(&inputs.scheme).and_then(|t| SchemeFile::parse(&t, &inputs.scheme.display().to_string()));
    let sf = match sf {
        Ok(sf) => Some(sf),
        Err(e) => {
            found.add(e);
            None
        }
    };
    let empty = Default::default();
    let declared = sf.as_ref().map_or(&empty, |s| &s.columns);
    let deal_declared = sf.as_ref().map_or(&empty, |s| &s.deal_columns);
    let builtin = ValueMaps::builtin();
    let values = sf.as_ref().map_or(&builtin, |s| &s.values);
    let mut data = Data::default();
    // The deals file is read and typed on a second core while the clients are read and typed;
    // their clients are looked up after.
    let (bad_clients, employees, check_employees, bad_deals) = std::thread::scope(|scope| {
        let deal_sheet = inputs.deals.as_ref().map(|p| {
            let sf = sf.as_ref();
            scope.spawn(move || {
                let sheet = read_sheet(p, inputs, sf, true)?;
                let _span = tracing::info_span!("type", deals = true).entered();
                let typed = allot_io::tables::type_deals(&sheet, deal_declared, values);
                Ok((sheet, typed))
            })
        });
        progress.stage("reading clients");
        let bad_clients = read_subject(read_sheet(&inputs.clients, inputs, sf.as_ref(), false), false, declared, &mut found, |sheet| {
            let _span = tracing::info_span!("type", deals = false).entered();
            allot_io::tables::load_clients(sheet, declared, values, &mut data)
        });
        progress.stage("reading employees");
        let mut check_employees = vec![];
        let employees = match read_table(&inputs.employees, inputs.encodings.for_file(&inputs.employees)) {
            Ok(sheet) => {
                found.warnings.extend(allot_io::tables::no_rows(&sheet, "employees"));
                match allot_io::tables::load_employees(&sheet) {
                    Ok(e) => e,
                    Err(e) => {
                        check_employees = allot_io::tables::employees_for_check(&sheet);
                        found.add(e);
                        vec![]
                    }
                }
            }
            Err(e) => {
                found.unreadable = true;
                found.add(e);
                vec![]
            }
        };
        let bad_deals = match deal_sheet {
            Some(reading) => {
                progress.stage("reading deals");
                let read = reading.join().unwrap_or_else(|_| Err(vec![Diagnostic::error("reading the deals file failed")]));
                let (sheet, typed) = match read {
                    Ok((sheet, typed)) => (Ok(sheet), Some(typed)),
                    Err(e) => (Err(e), None),
                };
                read_subject(sheet, true, deal_declared, &mut found, |sheet| {
                    let _span = tracing::info_span!("attach").entered();
                    typed.map_or(Ok(vec![]), |typed| typed?.attach(sheet, &mut data))
                })
            }
            None => {
                // No deals: deal rules are still type-checked against the declared deal columns.
                let cols: Vec<(String, allot_rules::Type)> = deal_declared.iter().map(|(k, v)| (k.clone(), *v)).collect();
                data.deals = Table::new(&cols);
                None
            }
        };
        (bad_clients, employees, check_employees, bad_deals)
    });
    let Found { mut errors, warnings, unreadable } = found;
    if !errors.is_empty() {
        if let (Some(sf), false) = (&sf, unreadable) {
            // What the scheme is checked against: a file with bad cells by its columns alone, a
            // good one as it was read.
            let mut shapes = std::mem::take(&mut data);
            if let Some(t) = bad_clients {
                shapes.clients = t;
            }
            if let Some(t) = bad_deals {
                shapes.deals = t;
            }
            let employees = if check_employees.is_empty() { employees } else { check_employees };
            if let Err(e) = sf.build(&shapes, employees) {
                errors.extend(e.into_iter().filter(|d| d.is_error()));
            }
        }
        return Err(errors);
    }
    let Some(sf) = sf else { return Err(errors) };
    progress.stage("checking the scheme");
    let scheme = sf.build(&data, employees)?;
    let current = match &inputs.current {
        Some(p) => {
            progress.stage("reading current assignments");
            read_table(p, inputs.encodings.for_file(p)).and_then(|s| allot_io::tables::load_current(&s, &data, &scheme))?
        }
        None => vec![],
    };
    let compiled = Compiled::new(&scheme, &data);
    Ok(Loaded { scheme, data, compiled, current, warnings })
}

/// Result of an assignment run.
pub struct Assigned {
    pub clients: Outcome,
    pub deals: Option<DealOutcome>,
}

/// Assigns every client, and every deal when deals were loaded.
pub fn assign(l: &Loaded, opts: &Options) -> Assigned {
    let clients = allot_core::assign(&l.scheme, &l.compiled, &l.data, &l.current, opts);
    let deals = (!l.data.deals.is_empty()).then(|| assign_deals(&l.scheme, &l.compiled, &l.data, &clients, opts.today, None));
    Assigned { clients, deals }
}

/// What `explain` was asked about was not found.
#[derive(Debug, thiserror::Error)]
pub enum ExplainError {
    #[error("no client with id `{0}` in the clients file")]
    NoClient(String),
    #[error("no deal with id `{0}` in the deals file")]
    NoDeal(String),
}

/// Explains one client, or one deal when `deal` is set.
pub fn explain(l: &Loaded, id: &str, deal: bool, opts: &Options) -> Result<Explanation, ExplainError> {
    if deal {
        let d = l.data.deals.row_of(id).ok_or_else(|| ExplainError::NoDeal(id.into()))?;
        let client = l.data.deal_client[d as usize];
        let clients = allot_core::assign(&l.scheme, &l.compiled, &l.data, &l.current, &Options { watch: Some(client), ..opts.clone() });
        let deals = assign_deals(&l.scheme, &l.compiled, &l.data, &clients, opts.today, Some(d));
        Ok(explain_deal(&l.scheme, &l.compiled, &l.data, &clients, &deals, d))
    } else {
        let c = l.data.clients.row_of(id).ok_or_else(|| ExplainError::NoClient(id.into()))?;
        let o = allot_core::assign(&l.scheme, &l.compiled, &l.data, &l.current, &Options { watch: Some(c), ..opts.clone() });
        Ok(explain_client(&l.scheme, &l.compiled, &l.data, &o, c))
    }
}

/// Names numbered densely in the order they are first seen (employees, groups of a report).
#[derive(Debug, Default)]
pub(crate) struct Names {
    list: Vec<String>,
    index: FxHashMap<String, u32>,
}

impl Names {
    pub(crate) fn intern(&mut self, name: &str) -> u32 {
        if let Some(&i) = self.index.get(name) {
            return i;
        }
        self.list.push(name.to_string());
        self.index.insert(name.to_string(), self.list.len() as u32 - 1);
        self.list.len() as u32 - 1
    }
    pub(crate) fn get(&self, name: &str) -> Option<u32> {
        self.index.get(name).copied()
    }
    pub(crate) fn name(&self, i: u32) -> &str {
        &self.list[i as usize]
    }
    /// Every name, in number order.
    pub(crate) fn all(&self) -> &[String] {
        &self.list
    }
}
