//! From a [`Sheet`] to validated domain data: clients, deals, employees, current assignments.
//!
//! Column types are declared in the scheme, known by name (the columns of MISSION.md S2), or
//! inferred from the values. Every bad cell is reported with its file, line and column; nothing
//! is returned when any is bad.

use std::collections::BTreeMap;

use allot_core::data::{Column, Data, Table, Value};
use allot_core::diag::Diagnostic;
use allot_core::model::{Employee, Scheme};
use allot_core::CurrentLink;
use allot_rules::{Sym, Type};

use crate::sheet::{CellRef, Sheet};
use crate::values::{Lookup, ValueMaps};

/// Types of the well-known client and deal columns.
pub fn well_known(name: &str) -> Option<Type> {
    Some(match name {
        "region" | "industry" | "significance" | "channel" | "ownership" | "city" | "name" | "inn" => Type::Text,
        "products" | "tags" => Type::List,
        "potential" | "workload" | "lat" | "lon" | "amount" => Type::Number,
        "date" => Type::Date,
        _ => return None,
    })
}

/// The largest size a number may have: 10^15 keeps kopecks exact in an f64 and keeps sums and
/// spreads of millions of values finite.
pub const MAX_NUMBER: f64 = 1e15;
/// The most significant digits a number may be written with and still be kept exactly.
pub const MAX_DIGITS: usize = 15;

/// Why a cell is not a number allot can keep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NumberError {
    /// Not a number at all.
    NotANumber,
    /// More significant digits than an f64 keeps exactly (so the value would be rounded silently).
    TooPrecise(usize),
    /// Larger than [`MAX_NUMBER`] (or beyond an f64 altogether).
    TooLarge,
}

impl NumberError {
    /// What a message says was found, for the cell text `s`.
    pub fn found(self, s: &str) -> String {
        match self {
            NumberError::NotANumber => format!("text {s:?}"),
            NumberError::TooPrecise(n) => {
                format!("{s:?}, {n} significant digits: more than {MAX_DIGITS} cannot be kept exactly and would be rounded")
            }
            NumberError::TooLarge => format!("{s:?}, too large: numbers must be below 10^15"),
        }
    }
}

/// Checks that a number read from a spreadsheet or JSON is finite and within [`MAX_NUMBER`].
pub fn check_number(x: f64) -> Result<f64, NumberError> {
    if x.is_finite() && x.abs() < MAX_NUMBER {
        Ok(x)
    } else {
        Err(NumberError::TooLarge)
    }
}

/// Significant digits of a plain decimal mantissa (`-0012.3400e5` → 4): leading zeros and zeros
/// ending a fraction do not count.
fn significant_digits(t: &str) -> usize {
    let mantissa = t.split(['e', 'E']).next().unwrap_or("");
    let fraction = mantissa.contains('.');
    // (digits seen since the first non-zero one, up to the last non-zero one when in a fraction)
    let (mut counted, mut pending) = (0, 0);
    for b in mantissa.bytes().filter(u8::is_ascii_digit) {
        if b != b'0' {
            counted += pending + 1;
            pending = 0;
        } else if counted > 0 {
            pending += 1;
        }
    }
    // Zeros after the last non-zero digit count in a whole number (1000), not in a fraction (1.500).
    if fraction {
        counted
    } else {
        counted + pending
    }
}

/// Reads a number as people type it: `1234.5`, `1 234,5` (Russian Excel), `1,234.5`, `2.5e3`.
/// Refuses what would not be kept exactly (more than 15 significant digits) or is too large.
pub fn read_number(s: &str) -> Result<f64, NumberError> {
    let s = s.trim();
    // Fast path, no allocation: plain digits with an optional sign and decimal point.
    let t: std::borrow::Cow<'_, str> = if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit() || b == b'.' || b == b'-') {
        s.into()
    } else {
        let t: String = s.chars().filter(|c| !matches!(c, ' ' | '\u{a0}' | '\u{202f}' | '_')).collect();
        match (t.rfind(','), t.rfind('.')) {
            (Some(c), Some(d)) if d > c => t.replace(',', "").into(),
            (Some(_), Some(_)) => t.replace('.', "").replace(',', ".").into(),
            (Some(_), None) if t.matches(',').count() == 1 => t.replace(',', ".").into(),
            (Some(_), None) => return Err(NumberError::NotANumber),
            _ => t.into(),
        }
    };
    if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'-' | b'+' | b'e' | b'E')) {
        return Err(NumberError::NotANumber);
    }
    let x: f64 = t.parse().map_err(|_| NumberError::NotANumber)?;
    let digits = significant_digits(&t);
    if digits > MAX_DIGITS {
        return Err(NumberError::TooPrecise(digits));
    }
    check_number(x)
}

/// [`read_number`], when only whether it is a number matters.
pub fn parse_number(s: &str) -> Option<f64> {
    read_number(s).ok()
}

pub fn parse_bool(s: &str) -> Option<bool> {
    match s.trim().to_lowercase().as_str() {
        "true" | "yes" | "y" | "1" | "да" | "истина" => Some(true),
        "false" | "no" | "n" | "0" | "нет" | "ложь" => Some(false),
        _ => None,
    }
}

/// `YYYY-MM-DD` or `DD.MM.YYYY`, optionally followed by a time that is ignored.
pub fn parse_date(s: &str) -> Option<i32> {
    let s = s.trim();
    let day = s.split([' ', 'T']).next()?;
    if let Some(d) = allot_rules::parse_iso_date(day) {
        return Some(d);
    }
    let p: Vec<&str> = day.split('.').collect();
    if p.len() == 3 && p[2].len() == 4 && p[0].len() <= 2 && p[1].len() <= 2 {
        return allot_rules::days_from_civil(p[2].parse().ok()?, p[1].parse().ok()?, p[0].parse().ok()?);
    }
    None
}

/// Splits a list cell on `|` if it has one, else on `;`; trims items and drops empty ones.
pub fn split_list(s: &str) -> Vec<&str> {
    split_list_iter(s).collect()
}

fn split_list_iter(s: &str) -> impl Iterator<Item = &str> {
    let sep = if s.contains('|') { '|' } else { ';' };
    s.split(sep).map(str::trim).filter(|x| !x.is_empty())
}

fn infer(sheet: &Sheet, col: usize) -> Type {
    let (mut num, mut boolean, mut date, mut any) = (true, true, true, false);
    for r in 0..sheet.len() {
        match sheet.cell(r, col) {
            CellRef::Empty => continue,
            CellRef::Number(_) => {
                boolean = false;
                date = false
            }
            CellRef::Bool(_) => {
                num = false;
                date = false
            }
            CellRef::Date(_) => {
                num = false;
                boolean = false
            }
            CellRef::List(_) => return Type::List,
            CellRef::Text(s) => {
                num &= parse_number(s).is_some();
                boolean &= parse_bool(s).is_some() && parse_number(s).is_none();
                date &= parse_date(s).is_some();
            }
        }
        any = true;
        if !num && !boolean && !date {
            return Type::Text;
        }
    }
    match () {
        _ if !any => Type::Text,
        _ if num => Type::Number,
        _ if boolean => Type::Bool,
        _ if date => Type::Date,
        _ => Type::Text,
    }
}

/// A list cell's items (`a; b` or `a|b` in text, or a spreadsheet's list), none when empty.
fn list_items(c: Option<CellRef<'_>>) -> Vec<String> {
    match c {
        Some(CellRef::Text(s)) => split_list(s).into_iter().map(String::from).collect(),
        Some(CellRef::List(l)) => l.to_vec(),
        _ => vec![],
    }
}

/// Id text of a cell: text as is, whole numbers without `.0` (ids typed into Excel become numbers).
pub fn id_text(c: CellRef<'_>) -> Option<String> {
    id_str(c).map(String::from)
}

/// [`id_text`], borrowed where the cell holds text.
fn id_str(c: CellRef<'_>) -> Option<std::borrow::Cow<'_, str>> {
    match c {
        CellRef::Text(s) => Some(s.trim().into()),
        CellRef::Number(n) => Some(allot_core::data::fmt_number(n).into()),
        _ => None,
    }
}

/// A cell that is not of its column's type: what it holds, as a person reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadCell(pub String);

impl std::fmt::Display for BadCell {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for BadCell {}

fn cell_value<'a>(c: CellRef<'a>, ty: Type) -> Result<Value<'a>, BadCell> {
    Ok(match (ty, c) {
        (_, CellRef::Empty) => Value::Missing,
        (Type::Number, CellRef::Number(n)) => {
            Value::Number(check_number(n).map_err(|e| BadCell(e.found(&allot_core::data::fmt_number(n))))?)
        }
        (Type::Number, CellRef::Text(s)) => Value::Number(read_number(s).map_err(|e| BadCell(e.found(s)))?),
        (Type::Bool, CellRef::Bool(b)) => Value::Bool(b),
        (Type::Bool, CellRef::Text(s)) => Value::Bool(parse_bool(s).ok_or_else(|| BadCell(format!("{s:?}")))?),
        (Type::Bool, CellRef::Number(n)) if n == 0.0 || n == 1.0 => Value::Bool(n == 1.0),
        (Type::Date, CellRef::Date(d)) => Value::Date(d),
        (Type::Date, CellRef::Text(s)) => Value::Date(parse_date(s).ok_or_else(|| BadCell(format!("{s:?}")))?),
        (Type::Text, CellRef::Text(s)) => Value::Text(s.trim()),
        (Type::Text, CellRef::Number(_) | CellRef::Bool(_) | CellRef::Date(_)) => return Err(BadCell("a non-text cell".into())),
        (Type::List, CellRef::Text(s)) => Value::List(split_list(s)),
        (Type::List, CellRef::List(l)) => Value::List(l.iter().map(|s| s.as_str()).collect()),
        (_, other) => return Err(BadCell(format!("{other:?}"))),
    })
}

fn expected_of(ty: Type) -> &'static str {
    match ty {
        Type::Number => "a number such as 1500 or 1 500,50",
        Type::Bool => "true/false, yes/no or да/нет",
        Type::Date => "a date as YYYY-MM-DD or DD.MM.YYYY",
        Type::Text => "text",
        Type::List => "a list of values separated by ; or |",
    }
}

/// Texts of non-text XLSX cells for text columns (a region code typed as a number).
fn owned_text(c: CellRef<'_>) -> Option<String> {
    match c {
        CellRef::Number(n) => Some(allot_core::data::fmt_number(n)),
        CellRef::Bool(b) => Some(b.to_string()),
        CellRef::Date(d) => Some(allot_rules::civil_from_days(d)),
        _ => None,
    }
}

/// Converts `cell` to `ty` and appends it to column `col` of `table` (missing, and the error, when
/// it is not one): what reading a file does for every cell, for readers that build a table row by row.
pub fn push_typed(
    table: &mut Table,
    col: usize,
    cell: CellRef<'_>,
    ty: Type,
    data: &mut Data,
    scratch: &mut Vec<Sym>,
) -> Result<(), BadCell> {
    // Only a non-text spreadsheet cell in a text column needs a new string.
    let owned = if ty == Type::Text { owned_text(cell) } else { None };
    let cell = match &owned {
        Some(s) => CellRef::Text(s),
        None => cell,
    };
    let v = match (ty, cell) {
        (Type::List, CellRef::Text(s)) => {
            scratch.clear();
            scratch.extend(split_list_iter(s).map(|item| data.dict.intern(item)));
            Ok(Value::Syms(scratch))
        }
        _ => cell_value(cell, ty),
    };
    let (v, result) = match v {
        Ok(v) => (v, Ok(())),
        Err(found) => (Value::Missing, Err(found)),
    };
    table.push_cell(col, v, &mut data.dict, &mut data.lists);
    result
}

/// A column's dictionary at work over one file: each distinct written value looked up once, and
/// the values it could not place (for the warning), with the row each was first seen on.
struct Normaliser<'v> {
    seen: rustc_hash::FxHashMap<String, Option<&'v str>>,
    known: usize,
    unknown: Vec<(String, usize)>,
    warns: Option<&'v crate::values::ValueMap>,
}

impl<'v> Normaliser<'v> {
    fn map<'c>(&mut self, maps: &'v ValueMaps, column: &str, written: &'c str, row: usize) -> Option<&'v str> {
        if let Some(v) = self.seen.get(written) {
            if v.is_some() {
                self.known += 1;
            }
            return *v;
        }
        let v = match maps.lookup(column, written) {
            Lookup::Known(v) => {
                self.known += 1;
                Some(v)
            }
            Lookup::Unknown(w) => {
                if w.is_some() {
                    self.warns = w;
                    self.unknown.push((written.to_string(), row));
                }
                None
            }
        };
        self.seen.insert(written.to_string(), v);
        v
    }
    /// A warning per value the dictionary could not place, when the column otherwise holds values
    /// it knows (a column of other codes altogether is left alone).
    fn warnings(&self, sheet: &Sheet, col: usize, out: &mut Vec<Diagnostic>) {
        let Some(map) = self.warns.filter(|_| self.known > 0) else { return };
        for (value, row) in self.unknown.iter().take(20) {
            let mut d = Diagnostic::warning(format!("region {value:?} is not a region of Russia allot knows; it is kept as written"))
                .expected("an ISO code such as RU-TA or a name such as Татарстан, Респ. Татарстан, г. Москва");
            let near = map.nearest(value);
            if !near.is_empty() {
                d = d.help(format!("did you mean {}?", near.join(", ")));
            }
            out.push(sheet.at(*row, col, d));
        }
        if self.unknown.len() > 20 {
            out.push(
                Diagnostic::warning(format!("{} more region values are not regions of Russia allot knows", self.unknown.len() - 20))
                    .file(sheet.file.clone()),
            );
        }
    }
}

/// The column holding a key (`id`, `client_id`): by its exact name, else by the same name in
/// another case (`ID`, as a Bitrix24 export writes it).
pub fn key_column(sheet: &Sheet, name: &str) -> Option<usize> {
    sheet.column(name).or_else(|| sheet.headers.iter().position(|h| h.trim().eq_ignore_ascii_case(name)))
}

/// The attribute columns of a sheet with their types: declared, well known by name, or inferred
/// from the values (an inferred type fits every value, so only the first two can refuse a cell).
fn typed_columns(sheet: &Sheet, id_col: usize, declared: &BTreeMap<String, Type>, skip: &[&str]) -> Vec<(usize, String, Type)> {
    sheet
        .headers
        .iter()
        .enumerate()
        .filter(|(i, h)| *i != id_col && !skip.iter().any(|k| h.eq_ignore_ascii_case(k)))
        .map(|(i, h)| (i, h.clone(), declared.get(h).copied().or_else(|| well_known(h)).unwrap_or_else(|| infer(sheet, i))))
        .collect()
}

/// The table's columns: the sheet's, then those declared that the sheet lacks (all missing).
fn shape_of(cols: &[(usize, String, Type)], declared: &BTreeMap<String, Type>, skip: &[&str]) -> Vec<(String, Type)> {
    let mut schema: Vec<(String, Type)> = cols.iter().map(|c| (c.1.clone(), c.2)).collect();
    for (name, ty) in declared {
        if !schema.iter().any(|c| &c.0 == name) && name != "id" && !skip.contains(&name.as_str()) {
            schema.push((name.clone(), *ty)); // declared but absent: every cell missing
        }
    }
    schema
}

/// The columns and types a sheet's rows would be read with, without reading the rows: what the
/// scheme is checked against when some cell is bad, so that its errors are reported too.
pub fn shape(sheet: &Sheet, declared: &BTreeMap<String, Type>, deals: bool) -> Vec<(String, Type)> {
    let skip: &[&str] = if deals { &["client_id"] } else { &[] };
    let id_col = key_column(sheet, "id").unwrap_or(usize::MAX);
    shape_of(&typed_columns(sheet, id_col, declared, skip), declared, skip)
}

/// Employees as far as the scheme needs them (id, name, teams, skills), read leniently from a file
/// that has bad cells elsewhere: the scheme's references are checked against them.
pub fn employees_for_check(sheet: &Sheet) -> Vec<Employee> {
    let Some(id_col) = key_column(sheet, "id") else { return vec![] };
    let list = |r: usize, name: &str| list_items(sheet.column(name).map(|c| sheet.cell(r, c)));
    let mut seen = std::collections::HashSet::new();
    (0..sheet.len())
        .filter_map(|r| {
            let id = id_text(sheet.cell(r, id_col))?;
            seen.insert(id.clone()).then(|| {
                let mut e = Employee::new(&id, &id);
                e.teams = list(r, "teams");
                e.skills = list(r, "skills");
                e
            })
        })
        .collect()
}

/// Reads rows of `sheet` into a table. `skip` names columns that are not attributes (besides id).
fn load_table(
    sheet: &Sheet,
    declared: &BTreeMap<String, Type>,
    values: &ValueMaps,
    skip: &[&str],
    data: &mut Data,
    errors: &mut Vec<Diagnostic>,
    warnings: &mut Vec<Diagnostic>,
) -> (Table, Vec<usize>) {
    let Some(id_col) = key_column(sheet, "id") else {
        errors.push(
            Diagnostic::error("the file has no `id` column")
                .file(sheet.file.clone())
                .at(1, 1)
                .expected("a header row with an `id` column (the key of each row)")
                .found(format!("columns {}", sheet.headers.join(", "))),
        );
        return (Table::default(), vec![]);
    };
    let cols = typed_columns(sheet, id_col, declared, skip);
    let schema = shape_of(&cols, declared, skip);
    let mut table = Table::with_capacity(&schema, sheet.len());
    let mut rows = Vec::with_capacity(sheet.len());
    // Every error keyed by (row, 0 for the id, else 1 + column), told in that order at the end:
    // the file's order, whichever core typed the cell.
    let mut found: Vec<((usize, usize), Diagnostic)> = Vec::new();
    // The ids first, so that a row with a bad cell still takes part in the duplicate check (the
    // table is discarded when there is any error).
    let mut state = Vec::with_capacity(sheet.len());
    for r in 0..sheet.len() {
        let Some(id) = id_str(sheet.cell(r, id_col)) else {
            found.push(((r, 0), sheet.at(r, id_col, Diagnostic::error("the row has no id").expected("a unique id in every row"))));
            state.push(RowIs::WithoutId);
            continue;
        };
        state.push(match table.begin_row(&id) {
            Ok(_) => {
                rows.push(r);
                RowIs::Kept
            }
            Err(first) => {
                let first_line = sheet.lines[rows[first as usize]];
                let what = if sheet.spreadsheet { "row" } else { "line" };
                let d = Diagnostic::error(format!("id `{id}` appears twice"))
                    .expected("a unique id in every row")
                    .found(format!("the same id on {what} {first_line}"));
                found.push(((r, 0), sheet.at(r, id_col, d)));
                RowIs::Repeated
            }
        });
    }
    // Columns that need no dictionary (numbers, dates, yes/no) are typed on a second core while
    // this one types the texts and lists, row by row (so that symbols are numbered as always).
    let apart: Vec<bool> =
        cols.iter().map(|c| sheet.len() >= APART_ROWS && matches!(c.2, Type::Number | Type::Date | Type::Bool)).collect();
    let mut normalisers: Vec<Option<Normaliser<'_>>> = cols
        .iter()
        .map(|(_, name, ty)| {
            (*ty == Type::Text && values.has(name)).then(|| Normaliser { seen: Default::default(), known: 0, unknown: vec![], warns: None })
        })
        .collect();
    let typed_apart = std::thread::scope(|scope| {
        let helper = apart.iter().any(|&a| a).then(|| {
            let (cols, apart, state) = (&cols, &apart, &state);
            scope.spawn(move || {
                let (mut done, mut found) = (Vec::new(), Vec::new());
                let mut own = Data::default();
                for (j, (c, name, ty)) in cols.iter().enumerate().filter(|(j, _)| apart[*j]) {
                    let mut column = Table::new(&[(name.clone(), *ty)]);
                    for r in (0..sheet.len()).filter(|&r| !matches!(state[r], RowIs::WithoutId)) {
                        let cell = sheet.cell(r, *c);
                        let kept = matches!(state[r], RowIs::Kept);
                        if let Some(d) = type_cell(&mut column, 0, kept, cell, name, *ty, &mut own, &mut Vec::new()) {
                            found.push(((r, j + 1), sheet.at(r, *c, d)));
                        }
                    }
                    done.push((j, column.replace_column(0, Column::Number(vec![]))));
                }
                (done, found)
            })
        });
        let mut scratch: Vec<allot_rules::Sym> = Vec::new();
        for (r, row) in state.iter().enumerate() {
            let kept = match row {
                RowIs::WithoutId => continue,
                RowIs::Kept => true,
                RowIs::Repeated => false,
            };
            for (j, (c, name, ty)) in cols.iter().enumerate().filter(|(j, _)| !apart[*j]) {
                let mut cell = sheet.cell(r, *c);
                if let (Some(n), CellRef::Text(t)) = (normalisers[j].as_mut(), cell) {
                    if let Some(v) = n.map(values, name, t.trim(), r) {
                        cell = CellRef::Text(v);
                    }
                }
                if let Some(d) = type_cell(&mut table, j, kept, cell, name, *ty, data, &mut scratch) {
                    found.push(((r, j + 1), sheet.at(r, *c, d)));
                }
            }
            if kept {
                for j in cols.len()..schema.len() {
                    table.push_cell(j, Value::Missing, &mut data.dict, &mut data.lists);
                }
            }
        }
        helper.map(|h| h.join().map_err(|_| Diagnostic::error("typing the file's numbers failed").file(sheet.file.clone())))
    });
    match typed_apart {
        Some(Ok((done, more))) => {
            for (j, column) in done {
                table.replace_column(j, column);
            }
            found.extend(more);
        }
        Some(Err(d)) => found.push(((usize::MAX, 0), d)),
        None => {}
    }
    found.sort_by_key(|(at, _)| *at);
    errors.extend(found.into_iter().map(|(_, d)| d));
    for (j, n) in normalisers.iter().enumerate() {
        if let Some(n) = n {
            n.warnings(sheet, cols[j].0, warnings);
        }
    }
    (table, rows)
}

/// Rows from which a file's numbers, dates and yes/no columns are typed on a second core.
const APART_ROWS: usize = 100_000;

/// What the id check made of a row.
enum RowIs {
    /// No id: the row is told and not read further.
    WithoutId,
    Kept,
    /// Its id came before: its cells are checked, not kept.
    Repeated,
}

/// Types one cell into column `j` of `table` (only checks it when the row is not `kept`); the
/// error when it is not of its column's type.
#[allow(clippy::too_many_arguments)]
fn type_cell(
    table: &mut Table,
    j: usize,
    kept: bool,
    cell: CellRef<'_>,
    name: &str,
    ty: Type,
    data: &mut Data,
    scratch: &mut Vec<allot_rules::Sym>,
) -> Option<Diagnostic> {
    let pushed = if kept {
        push_typed(table, j, cell, ty, data, scratch)
    } else {
        push_typed(&mut Table::new(&[(name.to_string(), ty)]), 0, cell, ty, data, scratch)
    };
    pushed.err().map(|found| Diagnostic::error(format!("`{name}` must be {}", ty.name())).expected(expected_of(ty)).found(found.0))
}

/// Reads clients into `data.clients`, with each column's dictionary (see [`crate::values`]).
/// Returns the warnings (values a dictionary could not place, an empty file).
pub fn load_clients(
    sheet: &Sheet,
    declared: &BTreeMap<String, Type>,
    values: &ValueMaps,
    data: &mut Data,
) -> Result<Vec<Diagnostic>, Vec<Diagnostic>> {
    let (mut errors, mut warnings) = (Vec::new(), Vec::new());
    let (table, _) = load_table(sheet, declared, values, &[], data, &mut errors, &mut warnings);
    if !errors.is_empty() {
        return Err(errors);
    }
    warnings.extend(no_rows(sheet, "clients"));
    data.clients = table;
    Ok(warnings)
}

/// A warning for a file with a header and no rows.
pub fn no_rows(sheet: &Sheet, what: &str) -> Option<Diagnostic> {
    sheet.is_empty().then(|| {
        Diagnostic::warning(format!("the file has a header but no {what}"))
            .file(sheet.file.clone())
            .at(1, 1)
            .expected(format!("a row per {}", what.trim_end_matches('s')))
            .found("the header row alone")
    })
}

/// Reads rows into a table of their own, typed as `declared` says (ids unique, no other column
/// skipped): for reading stored rows a chunk at a time into tables of one shape.
pub fn load_rows(sheet: &Sheet, declared: &BTreeMap<String, Type>, data: &mut Data) -> Result<Table, Vec<Diagnostic>> {
    let (mut errors, mut warnings) = (Vec::new(), Vec::new());
    let (table, _) = load_table(sheet, declared, &ValueMaps::none(), &[], data, &mut errors, &mut warnings);
    if errors.is_empty() {
        Ok(table)
    } else {
        Err(errors)
    }
}

/// Reads deals into `data.deals`, each deal's client looked up in `data.clients` (read first).
pub fn load_deals(
    sheet: &Sheet,
    declared: &BTreeMap<String, Type>,
    values: &ValueMaps,
    data: &mut Data,
) -> Result<Vec<Diagnostic>, Vec<Diagnostic>> {
    type_deals(sheet, declared, values)?.attach(sheet, data)
}

/// A deals sheet typed on its own, before the clients are known (on a second core while they are
/// read): its texts and lists are held in a dictionary of its own until [`TypedDeals::attach`].
pub struct TypedDeals {
    client_col: usize,
    table: Table,
    rows: Vec<usize>,
    own: Data,
    errors: Vec<Diagnostic>,
    warnings: Vec<Diagnostic>,
}

/// Types a deals sheet (the first half of [`load_deals`]); `Err` only when it has no `client_id`
/// column, its bad cells are told by [`TypedDeals::attach`] with the unknown clients.
pub fn type_deals(sheet: &Sheet, declared: &BTreeMap<String, Type>, values: &ValueMaps) -> Result<TypedDeals, Vec<Diagnostic>> {
    let mut own = Data::default();
    let (mut errors, mut warnings) = (Vec::new(), Vec::new());
    let (client_col, table, rows) = deal_table(sheet, declared, values, &mut own, &mut errors, &mut warnings)?;
    Ok(TypedDeals { client_col, table, rows, own, errors, warnings })
}

impl TypedDeals {
    /// Looks up each deal's client in `data.clients` and moves the deals into `data`: every bad
    /// cell and unknown client by line, or the warnings.
    pub fn attach(self, sheet: &Sheet, data: &mut Data) -> Result<Vec<Diagnostic>, Vec<Diagnostic>> {
        let TypedDeals { client_col: cc, mut table, rows, own, mut errors, mut warnings } = self;
        let clients = &data.clients;
        let look_up = |rows: &[usize]| {
            let (mut found, mut errors) = (Vec::with_capacity(rows.len()), Vec::new());
            for &r in rows {
                let cell = sheet.cell(r, cc);
                match id_str(cell).and_then(|id| clients.row_of(&id)) {
                    Some(c) => found.push(c),
                    None => {
                        let id = id_str(cell).map_or("an empty cell".into(), |s| format!("`{s}`"));
                        let d = Diagnostic::error("the deal's client is not in the clients file").expected("the id of a client").found(id);
                        errors.push(sheet.at(r, cc, d));
                    }
                }
            }
            (found, errors)
        };
        // Each look-up is a few misses of the cache: a large file's halves are looked up on two cores.
        let half = if rows.len() >= 100_000 { rows.len() / 2 } else { rows.len() };
        let ((mut deal_client, first), (second, later)) = std::thread::scope(|scope| {
            let second = scope.spawn(|| look_up(&rows[half..]));
            let first = look_up(&rows[..half]);
            let failed = || (vec![], vec![Diagnostic::error("looking up the deals' clients failed").file(sheet.file.clone())]);
            (first, second.join().unwrap_or_else(|_| failed()))
        });
        deal_client.extend(second);
        errors.extend(first.into_iter().chain(later));
        if !errors.is_empty() {
            return Err(errors);
        }
        warnings.extend(no_rows(sheet, "deals"));
        table.adopt(&own.dict, &own.lists, &mut data.dict, &mut data.lists);
        data.deals = table;
        data.deal_client = deal_client;
        Ok(warnings)
    }
}

/// A deals sheet's `client_id` column and its rows typed (the clients not looked up yet).
fn deal_table(
    sheet: &Sheet,
    declared: &BTreeMap<String, Type>,
    values: &ValueMaps,
    data: &mut Data,
    errors: &mut Vec<Diagnostic>,
    warnings: &mut Vec<Diagnostic>,
) -> Result<(usize, Table, Vec<usize>), Vec<Diagnostic>> {
    let Some(cc) = key_column(sheet, "client_id") else {
        return Err(vec![Diagnostic::error("the deals file has no `client_id` column")
            .file(sheet.file.clone())
            .at(1, 1)
            .expected("columns id, client_id, amount, date and any attributes")]);
    };
    let (table, rows) = load_table(sheet, declared, values, &["client_id"], data, errors, warnings);
    Ok((cc, table, rows))
}

/// What [`load_deal_rows`] reads of a chunk: each kept row's client id and its row in the sheet,
/// and the warnings.
pub struct DealRows {
    pub clients: Vec<String>,
    pub rows: Vec<usize>,
    pub warnings: Vec<Diagnostic>,
}

/// A chunk of a deals file read as [`load_deals`] reads a whole one, but for its clients: each
/// kept row's client id is returned (by table row, with the row's place in `sheet`) to be looked
/// up in the store, where the clients are. `declared` should type every column (the first
/// chunk's [`shape`]), so that no chunk infers a type of its own.
pub fn load_deal_rows(
    sheet: &Sheet,
    declared: &BTreeMap<String, Type>,
    values: &ValueMaps,
    data: &mut Data,
) -> Result<DealRows, Vec<Diagnostic>> {
    let (mut errors, mut warnings) = (Vec::new(), Vec::new());
    let (cc, table, rows) = deal_table(sheet, declared, values, data, &mut errors, &mut warnings)?;
    let mut clients = Vec::with_capacity(rows.len());
    for &r in &rows {
        match id_text(sheet.cell(r, cc)) {
            Some(id) => clients.push(id),
            None => errors.push(sheet.at(r, cc, Diagnostic::error("the deal names no client").expected("the id of a client"))),
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    data.deals = table;
    Ok(DealRows { clients, rows, warnings })
}

/// The columns of an employees file.
pub const EMPLOYEE_COLUMNS: [&str; 15] = [
    "id",
    "name",
    "position",
    "teams",
    "skills",
    "capacity",
    "active",
    "absent_from",
    "absent_to",
    "hours",
    "timezone",
    "workdays",
    "email",
    "language",
    "crm_user",
];

/// How an employee is reached (issue #18): `email` (where they are told a client became theirs),
/// `language` (`ru` or `en`: what they are told in) and `crm_user` (their user id in the CRM,
/// written as a record's responsible). Kept as the employee's attributes; rules never read them.
pub const CONTACT_COLUMNS: [&str; 3] = ["email", "language", "crm_user"];

/// An employee's contacts: (column, value), for the columns the file has and the row fills.
pub type Contacts = Vec<(&'static str, String)>;

/// The contact columns of each row of an employees file ([`CONTACT_COLUMNS`] that it has), their
/// values checked: an e-mail address with one `@`, a language `ru` or `en` (also `RU`, `русский`,
/// `English`), a CRM user id of digits.
pub fn employee_contacts(sheet: &Sheet) -> Result<Vec<Contacts>, Vec<Diagnostic>> {
    let cols: Vec<(&'static str, usize)> = CONTACT_COLUMNS.iter().filter_map(|n| sheet.column(n).map(|c| (*n, c))).collect();
    let mut errors = Vec::new();
    let mut out = Vec::with_capacity(sheet.len());
    for r in 0..sheet.len() {
        let mut row = Vec::new();
        for &(name, c) in &cols {
            let Some(v) = id_text(sheet.cell(r, c)) else { continue };
            let checked = match name {
                "email" => {
                    let ok = v.split('@').count() == 2 && v.split('@').all(|p| !p.is_empty()) && !v.contains(char::is_whitespace);
                    ok.then(|| v.clone()).ok_or("an e-mail address such as ivanov@example.ru")
                }
                "language" => match v.to_lowercase().as_str() {
                    "ru" | "rus" | "русский" | "russian" => Ok("ru".to_string()),
                    "en" | "eng" | "english" | "английский" => Ok("en".to_string()),
                    _ => Err("ru or en"),
                },
                _ => v.chars().all(|ch| ch.is_ascii_digit()).then(|| v.clone()).ok_or("the user's id in the CRM, digits such as 17"),
            };
            match checked {
                Ok(v) => row.push((name, v)),
                Err(expected) => errors.push(sheet.at(
                    r,
                    c,
                    Diagnostic::error(format!("`{name}` is not understood")).expected(expected).found(format!("{v:?}")),
                )),
            }
        }
        out.push(row);
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

/// A warning for every column of an employees file that is not one of [`EMPLOYEE_COLUMNS`].
pub fn unused_employee_columns(sheet: &Sheet) -> Vec<Diagnostic> {
    sheet
        .headers
        .iter()
        .enumerate()
        .filter(|(i, h)| !EMPLOYEE_COLUMNS.contains(&h.as_str()) && Some(*i) != key_column(sheet, "id"))
        .map(|(i, h)| {
            Diagnostic::warning(format!("column `{h}` of the employees file is not used"))
                .file(sheet.file.clone())
                .at(1, i + 1)
                .expected(EMPLOYEE_COLUMNS.join(", "))
        })
        .collect()
}

/// Reads employees: `id`, `name`, `position`, `teams`, `skills`, `capacity`, `active`,
/// `absent_from`, `absent_to`.
pub fn load_employees(sheet: &Sheet) -> Result<Vec<Employee>, Vec<Diagnostic>> {
    let mut errors = Vec::new();
    let col = |n: &str| sheet.column(n);
    let Some(id_col) = key_column(sheet, "id") else {
        return Err(vec![Diagnostic::error("the employees file has no `id` column")
            .file(sheet.file.clone())
            .at(1, 1)
            .expected("columns id, name, position, teams, skills, capacity, active, absent_from, absent_to")]);
    };
    errors.extend(unused_employee_columns(sheet));
    let mut out: Vec<Employee> = Vec::with_capacity(sheet.len());
    let mut seen: std::collections::HashMap<String, u64> = Default::default();
    for r in 0..sheet.len() {
        let Some(id) = id_text(sheet.cell(r, id_col)) else {
            errors.push(sheet.at(r, id_col, Diagnostic::error("the employee has no id").expected("a unique id in every row")));
            continue;
        };
        if let Some(first) = seen.insert(id.clone(), sheet.lines[r]) {
            errors.push(sheet.at(
                r,
                id_col,
                Diagnostic::error(format!("employee id `{id}` appears twice")).found(format!("the same id on line {first}")),
            ));
            continue;
        }
        let text = |c: Option<usize>| {
            c.and_then(|c| match sheet.cell(r, c) {
                CellRef::Text(s) => Some(s.trim().to_string()),
                other => owned_text(other),
            })
        };
        let list = |c: Option<usize>| list_items(c.map(|c| sheet.cell(r, c)));
        let mut e = Employee::new(&id, &text(col("name")).unwrap_or_else(|| id.clone()));
        e.position = text(col("position"));
        e.teams = list(col("teams"));
        e.skills = list(col("skills"));
        let mut typed = |name: &str, ty: Type| -> Option<Value<'_>> {
            let c = col(name)?;
            match cell_value(sheet.cell(r, c), ty) {
                Ok(v) => Some(v),
                Err(found) => {
                    errors.push(sheet.at(
                        r,
                        c,
                        Diagnostic::error(format!("`{name}` must be {}", ty.name())).expected(expected_of(ty)).found(found.0),
                    ));
                    None
                }
            }
        };
        let capacity = typed("capacity", Type::Number);
        let active = typed("active", Type::Bool);
        let absent_from = typed("absent_from", Type::Date);
        let absent_to = typed("absent_to", Type::Date);
        if let Some(v) = capacity {
            match v {
                Value::Number(n) if n >= 0.0 && n.fract() == 0.0 && n <= u32::MAX as f64 => e.capacity = Some(n as u32),
                Value::Missing => {}
                Value::Number(n) => {
                    let c = col("capacity").unwrap_or(0);
                    errors.push(
                        sheet.at(
                            r,
                            c,
                            Diagnostic::error("`capacity` must be a whole number of clients, 0 or more")
                                .expected("e.g. 250")
                                .found(format!("{n}")),
                        ),
                    );
                }
                _ => {}
            }
        }
        if let Some(Value::Bool(b)) = active {
            e.active = b;
        }
        if let Some(Value::Date(d)) = absent_from {
            e.absent_from = Some(d);
        }
        if let Some(Value::Date(d)) = absent_to {
            e.absent_to = Some(d);
        }
        // Working time (real-time routing): hours, a UTC offset and working days.
        let (hours, tz, days) = (text(col("hours")), text(col("timezone")), text(col("workdays")));
        e.hours = working_hours(hours.as_deref(), tz.as_deref(), days.as_deref(), &mut |name, expected, found| {
            let c = col(name).unwrap_or(0);
            errors.push(sheet.at(
                r,
                c,
                Diagnostic::error(format!("`{name}` is not understood")).expected(expected).found(format!("{found:?}")),
            ));
        });
        if let (Some(f), Some(t)) = (e.absent_from, e.absent_to) {
            if f > t {
                let c = col("absent_to").unwrap_or(0);
                errors.push(
                    sheet.at(
                        r,
                        c,
                        Diagnostic::error("the absence ends before it starts")
                            .expected(format!("a date on or after {}", allot_rules::civil_from_days(f)))
                            .found(allot_rules::civil_from_days(t)),
                    ),
                );
            }
        }
        out.push(e);
    }
    if errors.iter().any(|d| d.is_error()) {
        return Err(errors);
    }
    Ok(out)
}

/// An employee's working time from the `hours`, `timezone` and `workdays` cells (none given: none;
/// any given: the others default to the whole day, UTC and Monday to Friday). What cannot be read
/// is reported through `bad(column, expected, found)`.
fn working_hours(
    hours: Option<&str>,
    tz: Option<&str>,
    days: Option<&str>,
    bad: &mut dyn FnMut(&str, &str, &str),
) -> Option<allot_core::model::WorkingHours> {
    if hours.is_none() && tz.is_none() && days.is_none() {
        return None;
    }
    let mut wh = allot_core::model::WorkingHours { from: 0, to: 1440, utc_offset: 0, days: 0b0001_1111 };
    if let Some(h) = hours {
        match parse_hours(h) {
            Some((f, t)) => (wh.from, wh.to) = (f, t),
            None => bad("hours", "local working hours such as 09:00-18:00", h),
        }
    }
    if let Some(z) = tz {
        match parse_utc_offset(z) {
            Some(o) => wh.utc_offset = o,
            None => bad("timezone", "an offset from UTC such as +03:00, UTC+5 or MSK", z),
        }
    }
    if let Some(d) = days {
        match parse_workdays(d) {
            Some(b) => wh.days = b,
            None => bad("workdays", "days such as mon-fri, пн-пт or mon,wed,fri", d),
        }
    }
    Some(wh)
}

/// `09:00-18:00`, `9-18` → minutes after midnight (from, to); `to` may be before `from` (a night
/// shift). `24:00` is the end of the day.
pub fn parse_hours(s: &str) -> Option<(u16, u16)> {
    let (a, b) = s.trim().split_once('-')?;
    let minute = |x: &str| -> Option<u16> {
        let x = x.trim();
        let (h, m) = x.split_once(':').unwrap_or((x, "0"));
        let (h, m): (u16, u16) = (h.trim().parse().ok()?, m.trim().parse().ok()?);
        (h <= 24 && m < 60 && h * 60 + m <= 1440).then_some(h * 60 + m)
    };
    let (f, t) = (minute(a)?, minute(b)?);
    (f != t).then_some((f, t))
}

/// `+03:00`, `+3`, `UTC+5`, `GMT-1`, `MSK` → minutes east of UTC.
pub fn parse_utc_offset(s: &str) -> Option<i16> {
    let t = s.trim().to_uppercase();
    if t == "MSK" || t == "МСК" {
        return Some(180);
    }
    let t = t.strip_prefix("UTC").or_else(|| t.strip_prefix("GMT")).unwrap_or(&t);
    if t.is_empty() {
        return Some(0);
    }
    let (sign, rest) = match t.as_bytes().first()? {
        b'+' => (1, &t[1..]),
        b'-' => (-1, &t[1..]),
        _ => return None,
    };
    let (h, m) = rest.split_once(':').unwrap_or((rest, "0"));
    let (h, m): (i16, i16) = (h.parse().ok()?, m.parse().ok()?);
    (h <= 14 && m < 60).then_some(sign * (h * 60 + m))
}

/// `mon-fri`, `пн-пт`, `mon,wed,fri`, `sat;sun` → a bit per day (bit 0 = Monday).
pub fn parse_workdays(s: &str) -> Option<u8> {
    const EN: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
    const RU: [&str; 7] = ["пн", "вт", "ср", "чт", "пт", "сб", "вс"];
    let day = |x: &str| -> Option<u8> {
        let x = x.trim().to_lowercase();
        let short: String = x.chars().take(if x.is_ascii() { 3 } else { 2 }).collect();
        EN.iter().position(|d| *d == short).or_else(|| RU.iter().position(|d| *d == short)).map(|i| i as u8)
    };
    let mut bits = 0u8;
    for part in s.split([',', ';', ' ']).filter(|p| !p.trim().is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b) = (day(a)?, day(b)?);
                let mut d = a;
                loop {
                    bits |= 1 << d;
                    if d == b {
                        break;
                    }
                    d = (d + 1) % 7;
                }
            }
            None => bits |= 1 << day(part)?,
        }
    }
    (bits != 0).then_some(bits)
}

/// Reads current assignments: `client_id,role,employee_id` and optionally `pinned` (an output of
/// `allot assign` is accepted as is; its unassigned rows are skipped).
pub fn load_current(sheet: &Sheet, data: &Data, scheme: &Scheme) -> Result<Vec<CurrentLink>, Vec<Diagnostic>> {
    let mut errors = Vec::new();
    let need = ["client_id", "role", "employee_id"];
    let cols: Vec<Option<usize>> = need.iter().map(|n| sheet.column(n)).collect();
    if cols.iter().any(|c| c.is_none()) {
        return Err(vec![Diagnostic::error("the current assignments file lacks a column")
            .file(sheet.file.clone())
            .at(1, 1)
            .expected("columns client_id, role, employee_id and optionally pinned")
            .found(sheet.headers.join(", "))]);
    }
    let (cc, rc, ec) = (cols[0].unwrap_or(0), cols[1].unwrap_or(0), cols[2].unwrap_or(0));
    let pc = sheet.column("pinned");
    let mut out = Vec::new();
    let mut seen: std::collections::HashMap<(u32, usize), u64> = Default::default();
    for r in 0..sheet.len() {
        let Some(emp) = id_text(sheet.cell(r, ec)) else {
            continue;
        };
        let client = id_text(sheet.cell(r, cc)).and_then(|id| data.clients.row_of(&id));
        let role = id_text(sheet.cell(r, rc)).and_then(|id| scheme.role(&id));
        let employee = scheme.employee(&emp);
        let mut ok = true;
        if client.is_none() {
            ok = false;
            errors.push(
                sheet.at(
                    r,
                    cc,
                    Diagnostic::error("unknown client")
                        .expected("the id of a client in the clients file")
                        .found(format!("{:?}", id_text(sheet.cell(r, cc)).unwrap_or_default())),
                ),
            );
        }
        if role.is_none() {
            ok = false;
            let ids: Vec<&str> = scheme.roles.iter().map(|r| r.id.as_str()).collect();
            errors.push(
                sheet.at(
                    r,
                    rc,
                    Diagnostic::error("unknown role")
                        .expected(format!("one of {}", ids.join(", ")))
                        .found(format!("{:?}", id_text(sheet.cell(r, rc)).unwrap_or_default())),
                ),
            );
        }
        if employee.is_none() {
            ok = false;
            errors.push(sheet.at(
                r,
                ec,
                Diagnostic::error("unknown employee").expected("the id of an employee in the employees file").found(format!("{emp:?}")),
            ));
        }
        let pinned = match pc.map(|c| cell_value(sheet.cell(r, c), Type::Bool)) {
            None | Some(Ok(Value::Missing)) => false,
            Some(Ok(Value::Bool(b))) => b,
            Some(_) => {
                ok = false;
                errors.push(sheet.at(r, pc.unwrap_or(0), Diagnostic::error("`pinned` must be a bool").expected(expected_of(Type::Bool))));
                false
            }
        };
        if let (true, Some(client), Some(role), Some(employee)) = (ok, client, role, employee) {
            if let Some(first) = seen.insert((client, role), sheet.lines[r]) {
                errors.push(
                    sheet.at(
                        r,
                        cc,
                        Diagnostic::error("the client has two current employees in this role")
                            .expected("one row per client and role")
                            .found(format!("another on line {first}")),
                    ),
                );
                continue;
            }
            out.push(CurrentLink { client, role, employee, pinned });
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(out)
}
