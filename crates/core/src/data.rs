//! Columnar tables of clients and deals, with interned texts and lists.
//!
//! A million clients are a handful of flat vectors: text cells are `u32` symbols, lists are ids of
//! interned sorted lists, numbers `f64` (NaN = missing), dates day numbers. Missing cells are
//! missing (a sentinel per column type), never empty strings.

use allot_rules::{AttrId, Interner, Row, Sym, Type};
use rustc_hash::FxHashMap;

pub const NO_SYM: Sym = Sym::MAX;
const NO_LIST: u32 = u32::MAX;
const NO_DATE: i32 = i32::MIN;
const NO_BOOL: u8 = 2;

/// Interned text values, shared by every table of one data set.
#[derive(Debug, Default, Clone)]
pub struct Dict {
    map: FxHashMap<Box<str>, Sym>,
    strs: Vec<Box<str>>,
}

impl Dict {
    pub fn intern(&mut self, s: &str) -> Sym {
        if let Some(&i) = self.map.get(s) {
            return i;
        }
        let i = self.strs.len() as Sym;
        self.strs.push(s.into());
        self.map.insert(s.into(), i);
        i
    }
    pub fn get(&self, s: &str) -> Option<Sym> {
        self.map.get(s).copied()
    }
    pub fn str(&self, s: Sym) -> &str {
        &self.strs[s as usize]
    }
    pub fn len(&self) -> usize {
        self.strs.len()
    }
    pub fn is_empty(&self) -> bool {
        self.strs.is_empty()
    }
}

impl Interner for Dict {
    fn lookup(&self, text: &str) -> Option<Sym> {
        self.get(text)
    }
}

/// Interned lists of symbols (sorted, without repeats): equal lists share one id.
#[derive(Debug, Default, Clone)]
pub struct Lists {
    ends: Vec<u32>,
    items: Vec<Sym>,
    map: FxHashMap<Box<[Sym]>, u32>,
    scratch: Vec<Sym>,
}

impl Lists {
    pub fn intern(&mut self, v: Vec<Sym>) -> u32 {
        self.intern_slice(&v)
    }
    /// Interns the set of symbols in `v` (any order, repeats allowed); allocates only for a list
    /// not seen before.
    pub fn intern_slice(&mut self, v: &[Sym]) -> u32 {
        let mut v2 = std::mem::take(&mut self.scratch);
        v2.clear();
        v2.extend_from_slice(v);
        v2.sort_unstable();
        v2.dedup();
        let id = self.intern_sorted(&v2);
        self.scratch = v2;
        id
    }
    fn intern_sorted(&mut self, v: &[Sym]) -> u32 {
        if let Some(&i) = self.map.get(v) {
            return i;
        }
        let i = self.ends.len() as u32;
        self.items.extend_from_slice(v);
        self.ends.push(self.items.len() as u32);
        self.map.insert(v.into(), i);
        i
    }
    pub fn len(&self) -> usize {
        self.ends.len()
    }
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }
    pub fn get(&self, id: u32) -> &[Sym] {
        let end = self.ends[id as usize] as usize;
        let start = if id == 0 { 0 } else { self.ends[id as usize - 1] as usize };
        &self.items[start..end]
    }
}

/// Per-row codes of a text column, as narrow as its number of distinct values allows. The largest
/// value of each width means "missing".
#[derive(Debug, Clone)]
pub enum Codes {
    U8(Vec<u8>),
    U16(Vec<u16>),
    U32(Vec<u32>),
}

/// A text column: narrow local codes per row (a region column of a million rows is 1 MB, not 4 MB,
/// which is what matching reads), and the dictionary symbol of each code.
#[derive(Debug, Clone)]
pub struct TextCol {
    codes: Codes,
    syms: Vec<Sym>,
    local: FxHashMap<Sym, u32>,
}

impl TextCol {
    pub fn with_capacity(cap: usize) -> TextCol {
        TextCol { codes: Codes::U8(Vec::with_capacity(cap)), syms: Vec::new(), local: FxHashMap::default() }
    }
    /// A column from symbols ([`NO_SYM`] for missing).
    pub fn from_syms(syms: impl ExactSizeIterator<Item = Sym>) -> TextCol {
        let mut c = TextCol::with_capacity(syms.len());
        for s in syms {
            c.push((s != NO_SYM).then_some(s));
        }
        c
    }
    pub fn push(&mut self, s: Option<Sym>) {
        let Some(s) = s else {
            match &mut self.codes {
                Codes::U8(v) => v.push(u8::MAX),
                Codes::U16(v) => v.push(u16::MAX),
                Codes::U32(v) => v.push(u32::MAX),
            }
            return;
        };
        let next = self.syms.len() as u32;
        let code = *self.local.entry(s).or_insert(next);
        if code == next {
            self.syms.push(s);
        }
        // Widen when the codes outgrow the width (the top value is kept for "missing").
        if let Codes::U8(v) = &self.codes {
            if code >= u8::MAX as u32 {
                self.codes = Codes::U16(v.iter().map(|&c| if c == u8::MAX { u16::MAX } else { c as u16 }).collect());
            }
        }
        if let Codes::U16(v) = &self.codes {
            if code >= u16::MAX as u32 {
                self.codes = Codes::U32(v.iter().map(|&c| if c == u16::MAX { u32::MAX } else { c as u32 }).collect());
            }
        }
        match &mut self.codes {
            Codes::U8(v) => v.push(code as u8),
            Codes::U16(v) => v.push(code as u16),
            Codes::U32(v) => v.push(code),
        }
    }
    /// The local code of a row, `None` if missing.
    #[inline]
    pub fn code(&self, row: usize) -> Option<u32> {
        match &self.codes {
            Codes::U8(v) => Some(v[row]).filter(|&c| c != u8::MAX).map(u32::from),
            Codes::U16(v) => Some(v[row]).filter(|&c| c != u16::MAX).map(u32::from),
            Codes::U32(v) => Some(v[row]).filter(|&c| c != u32::MAX),
        }
    }
    #[inline]
    pub fn get(&self, row: usize) -> Option<Sym> {
        self.code(row).map(|c| self.syms[c as usize])
    }
    /// The symbol of each local code.
    pub fn syms(&self) -> &[Sym] {
        &self.syms
    }
    pub fn codes(&self) -> &Codes {
        &self.codes
    }
}

/// One column of typed cells.
#[derive(Debug, Clone)]
pub enum Column {
    Number(Vec<f64>),
    Text(TextCol),
    Bool(Vec<u8>),
    Date(Vec<i32>),
    List(Vec<u32>),
}

impl Column {
    fn new(t: Type, cap: usize) -> Column {
        match t {
            Type::Number => Column::Number(Vec::with_capacity(cap)),
            Type::Text => Column::Text(TextCol::with_capacity(cap)),
            Type::Bool => Column::Bool(Vec::with_capacity(cap)),
            Type::Date => Column::Date(Vec::with_capacity(cap)),
            Type::List => Column::List(Vec::with_capacity(cap)),
        }
    }
    pub fn ty(&self) -> Type {
        match self {
            Column::Number(_) => Type::Number,
            Column::Text(_) => Type::Text,
            Column::Bool(_) => Type::Bool,
            Column::Date(_) => Type::Date,
            Column::List(_) => Type::List,
        }
    }
    fn push_missing(&mut self) {
        match self {
            Column::Number(v) => v.push(f64::NAN),
            Column::Text(v) => v.push(None),
            Column::Bool(v) => v.push(NO_BOOL),
            Column::Date(v) => v.push(NO_DATE),
            Column::List(v) => v.push(NO_LIST),
        }
    }
}

/// A typed cell value on its way into a table.
#[derive(Debug, Clone, PartialEq)]
pub enum Value<'a> {
    Missing,
    Number(f64),
    Text(&'a str),
    Bool(bool),
    Date(i32),
    List(Vec<&'a str>),
    /// A list already interned as symbols (any order, repeats allowed).
    Syms(&'a [Sym]),
}

/// Row ids: one text buffer, and a hash table of row numbers keyed by the id text (about 13 bytes
/// a row in all, instead of two boxed copies of every id).
#[derive(Clone, Default)]
struct Ids {
    buf: String,
    ends: Vec<u32>,
    index: hashbrown::HashTable<u32>,
}

impl std::fmt::Debug for Ids {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Ids({} rows)", self.ends.len())
    }
}

fn hash_str(s: &str) -> u64 {
    use std::hash::BuildHasher;
    rustc_hash::FxBuildHasher.hash_one(s)
}

impl Ids {
    fn get(&self, row: u32) -> &str {
        let end = self.ends[row as usize] as usize;
        let start = if row == 0 { 0 } else { self.ends[row as usize - 1] as usize };
        &self.buf[start..end]
    }
    fn find(&self, id: &str) -> Option<u32> {
        self.index.find(hash_str(id), |&r| self.get(r) == id).copied()
    }
    /// Adds an id; `Err(row)` if it is already there.
    fn insert(&mut self, id: &str) -> Result<u32, u32> {
        let h = hash_str(id);
        if let Some(&r) = self.index.find(h, |&r| self.get(r) == id) {
            return Err(r);
        }
        let row = self.ends.len() as u32;
        self.buf.push_str(id);
        self.ends.push(self.buf.len() as u32);
        let (buf, ends) = (&self.buf, &self.ends);
        let get = |r: u32| {
            let end = ends[r as usize] as usize;
            let start = if r == 0 { 0 } else { ends[r as usize - 1] as usize };
            &buf[start..end]
        };
        self.index.insert_unique(h, row, |&r| hash_str(get(r)));
        Ok(row)
    }
}

/// An id that appears twice in one table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DuplicateId(pub String);

impl std::fmt::Display for DuplicateId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "id `{}` appears twice", self.0)
    }
}

impl std::error::Error for DuplicateId {}

/// Rows with a unique text id and typed attribute columns.
#[derive(Debug, Clone, Default)]
pub struct Table {
    ids: Ids,
    names: Vec<String>,
    columns: Vec<Column>,
}

impl Table {
    pub fn new(columns: &[(String, Type)]) -> Table {
        Table::with_capacity(columns, 0)
    }
    pub fn with_capacity(columns: &[(String, Type)], cap: usize) -> Table {
        Table {
            ids: Ids { buf: String::new(), ends: Vec::with_capacity(cap), index: hashbrown::HashTable::with_capacity(cap) },
            names: columns.iter().map(|c| c.0.clone()).collect(),
            columns: columns.iter().map(|c| Column::new(c.1, cap)).collect(),
        }
    }
    pub fn len(&self) -> usize {
        self.ids.ends.len()
    }
    pub fn is_empty(&self) -> bool {
        self.ids.ends.is_empty()
    }
    pub fn id(&self, row: u32) -> &str {
        self.ids.get(row)
    }
    pub fn row_of(&self, id: &str) -> Option<u32> {
        self.ids.find(id)
    }
    pub fn columns(&self) -> impl Iterator<Item = (&str, Type)> {
        self.names.iter().map(|n| n.as_str()).zip(self.columns.iter().map(|c| c.ty()))
    }
    pub fn column_index(&self, name: &str) -> Option<usize> {
        self.names.iter().position(|n| n == name)
    }
    pub fn column(&self, i: usize) -> &Column {
        &self.columns[i]
    }
    pub fn column_name(&self, i: usize) -> &str {
        &self.names[i]
    }

    /// Builds a table from finished columns (all of one length) and their row ids, for callers
    /// that hold columnar data already. `Err` names the first repeated id.
    pub fn from_columns<S: AsRef<str>>(
        names: Vec<String>,
        columns: Vec<Column>,
        ids: impl ExactSizeIterator<Item = S>,
    ) -> Result<Table, DuplicateId> {
        let n = ids.len();
        let mut t = Table {
            ids: Ids { buf: String::with_capacity(n * 8), ends: Vec::with_capacity(n), index: hashbrown::HashTable::with_capacity(n) },
            names,
            columns,
        };
        for id in ids {
            t.ids.insert(id.as_ref()).map_err(|_| DuplicateId(id.as_ref().to_string()))?;
        }
        Ok(t)
    }

    /// Appends a row. The id must be new (`Err` with the earlier row otherwise); `values` go to the
    /// columns in order and must match their types, which the caller has checked.
    pub fn push(&mut self, id: &str, values: Vec<Value<'_>>, dict: &mut Dict, lists: &mut Lists) -> Result<u32, u32> {
        let row = self.begin_row(id)?;
        let mut values = values.into_iter();
        for col in 0..self.columns.len() {
            self.push_cell(col, values.next().unwrap_or(Value::Missing), dict, lists);
        }
        Ok(row)
    }

    /// Starts a row: adds its id (`Err` with the earlier row if the id is taken). The caller then
    /// gives every column one [`Table::push_cell`], in column order.
    pub fn begin_row(&mut self, id: &str) -> Result<u32, u32> {
        self.ids.insert(id)
    }

    /// Appends one cell to column `col`; a value of the wrong type is stored as missing (the
    /// readers check types before).
    pub fn push_cell(&mut self, col: usize, v: Value<'_>, dict: &mut Dict, lists: &mut Lists) {
        match (&mut self.columns[col], v) {
            (c, Value::Missing) => c.push_missing(),
            (Column::Number(c), Value::Number(n)) => c.push(n),
            (Column::Text(c), Value::Text(s)) => c.push(Some(dict.intern(s))),
            (Column::Bool(c), Value::Bool(b)) => c.push(b as u8),
            (Column::Date(c), Value::Date(d)) => c.push(d),
            (Column::List(c), Value::List(items)) => {
                let syms: Vec<Sym> = items.iter().map(|s| dict.intern(s)).collect();
                c.push(lists.intern_slice(&syms))
            }
            (Column::List(c), Value::Syms(syms)) => c.push(lists.intern_slice(syms)),
            (Column::List(c), Value::Text(s)) => {
                let sym = dict.intern(s);
                c.push(lists.intern_slice(&[sym]))
            }
            (c, _) => c.push_missing(),
        }
    }

    /// Puts `column` in place of column `i` (of its type, a cell per row), returning the one it held.
    pub fn replace_column(&mut self, i: usize, column: Column) -> Column {
        std::mem::replace(&mut self.columns[i], column)
    }

    /// Moves a table typed against a dictionary of its own (on another thread) onto `dict` and
    /// `lists`: its symbols and lists are numbered as if it had been typed against them, the values
    /// new to `dict` taking the next symbols in the order the table met them.
    pub fn adopt(&mut self, own: &Dict, own_lists: &Lists, dict: &mut Dict, lists: &mut Lists) {
        let syms: Vec<Sym> = own.strs.iter().map(|s| dict.intern(s)).collect();
        let mut items = Vec::new();
        let list_ids: Vec<u32> = (0..own_lists.len() as u32)
            .map(|i| {
                items.clear();
                items.extend(own_lists.get(i).iter().map(|&s| syms[s as usize]));
                lists.intern_slice(&items)
            })
            .collect();
        for c in &mut self.columns {
            match c {
                Column::Text(t) => {
                    t.syms.iter_mut().for_each(|s| *s = syms[*s as usize]);
                    t.local = t.syms.iter().enumerate().map(|(code, &s)| (s, code as u32)).collect();
                }
                Column::List(v) => v.iter_mut().filter(|id| **id != NO_LIST).for_each(|id| *id = list_ids[*id as usize]),
                _ => {}
            }
        }
    }

    pub fn number(&self, col: usize, row: u32) -> Option<f64> {
        match &self.columns[col] {
            Column::Number(v) => Some(v[row as usize]).filter(|x| !x.is_nan()),
            _ => None,
        }
    }
    pub fn text(&self, col: usize, row: u32) -> Option<Sym> {
        match &self.columns[col] {
            Column::Text(v) => v.get(row as usize),
            _ => None,
        }
    }
    pub fn boolean(&self, col: usize, row: u32) -> Option<bool> {
        match &self.columns[col] {
            Column::Bool(v) => match v[row as usize] {
                NO_BOOL => None,
                b => Some(b == 1),
            },
            _ => None,
        }
    }
    pub fn date(&self, col: usize, row: u32) -> Option<i32> {
        match &self.columns[col] {
            Column::Date(v) => Some(v[row as usize]).filter(|&d| d != NO_DATE),
            _ => None,
        }
    }
    pub fn list_id(&self, col: usize, row: u32) -> Option<u32> {
        match &self.columns[col] {
            Column::List(v) => Some(v[row as usize]).filter(|&l| l != NO_LIST),
            _ => None,
        }
    }
    pub fn present(&self, col: usize, row: u32) -> bool {
        let r = row as usize;
        match &self.columns[col] {
            Column::Number(v) => !v[r].is_nan(),
            Column::Text(v) => v.code(r).is_some(),
            Column::Bool(v) => v[r] != NO_BOOL,
            Column::Date(v) => v[r] != NO_DATE,
            Column::List(v) => v[r] != NO_LIST,
        }
    }

    /// The cell as display text (empty for missing), for outputs and explanations.
    pub fn display(&self, col: usize, row: u32, data: &Data) -> Option<String> {
        if !self.present(col, row) {
            return None;
        }
        Some(match &self.columns[col] {
            Column::Number(v) => fmt_number(v[row as usize]),
            Column::Text(v) => v.get(row as usize).map_or(String::new(), |s| data.dict.str(s).to_string()),
            Column::Bool(v) => (v[row as usize] == 1).to_string(),
            Column::Date(v) => allot_rules::civil_from_days(v[row as usize]),
            Column::List(v) => data.lists.get(v[row as usize]).iter().map(|s| data.dict.str(*s)).collect::<Vec<_>>().join(";"),
        })
    }
}

/// Numbers print without a trailing `.0` and without exponent for ordinary magnitudes.
pub fn fmt_number(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{}", x as i64)
    } else {
        let s = format!("{x:.6}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

/// The clients, and optionally deals, of one run.
#[derive(Debug, Clone, Default)]
pub struct Data {
    pub dict: Dict,
    pub lists: Lists,
    pub clients: Table,
    pub deals: Table,
    /// For each deal row, the client row it belongs to.
    pub deal_client: Vec<u32>,
}

/// High bit of an [`AttrId`] in a deal condition marks the deal's own attributes.
const DEAL_BIT: u32 = 1 << 31;

/// Which table a condition reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subject {
    Client,
    Deal,
}

impl Subject {
    pub fn as_str(self) -> &'static str {
        match self {
            Subject::Client => "client",
            Subject::Deal => "deal",
        }
    }
}

/// The attributes a condition on `subject` may name: a client's columns (also as `client.x`), and
/// for deals the deal's own columns plus `client.x`.
pub struct DataSchema<'a> {
    pub data: &'a Data,
    pub subject: Subject,
}

impl allot_rules::Schema for DataSchema<'_> {
    fn resolve(&self, path: &str) -> Option<(AttrId, Type)> {
        let client = |name: &str| self.data.clients.column_index(name).map(|i| (AttrId(i as u32), self.data.clients.column(i).ty()));
        if let Some(rest) = path.strip_prefix("client.") {
            return client(rest);
        }
        match self.subject {
            Subject::Client => client(path),
            Subject::Deal => self.data.deals.column_index(path).map(|i| (AttrId(i as u32 | DEAL_BIT), self.data.deals.column(i).ty())),
        }
    }
    fn names(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        match self.subject {
            Subject::Client => out.extend(self.data.clients.columns().map(|c| c.0.to_string())),
            Subject::Deal => {
                out.extend(self.data.deals.columns().map(|c| c.0.to_string()));
                out.extend(self.data.clients.columns().map(|c| format!("client.{}", c.0)));
            }
        }
        out
    }
}

/// A client or a deal row, as the matcher sees it.
#[derive(Clone, Copy)]
pub struct RowRef<'a> {
    pub data: &'a Data,
    pub client: u32,
    /// The deal row, for deal conditions.
    pub deal: Option<u32>,
}

impl RowRef<'_> {
    fn at(&self, a: AttrId) -> (&Table, usize, u32) {
        match self.deal {
            Some(d) if a.0 & DEAL_BIT != 0 => (&self.data.deals, (a.0 & !DEAL_BIT) as usize, d),
            _ => (&self.data.clients, a.0 as usize, self.client),
        }
    }
    /// The name of an attribute, for messages.
    pub fn attr_name(data: &Data, a: AttrId) -> String {
        if a.0 & DEAL_BIT != 0 {
            data.deals.column_name((a.0 & !DEAL_BIT) as usize).to_string()
        } else {
            data.clients.column_name(a.0 as usize).to_string()
        }
    }
}

impl Row for RowRef<'_> {
    fn number(&self, a: AttrId) -> Option<f64> {
        let (t, c, r) = self.at(a);
        t.number(c, r)
    }
    fn date(&self, a: AttrId) -> Option<i32> {
        let (t, c, r) = self.at(a);
        t.date(c, r)
    }
    fn boolean(&self, a: AttrId) -> Option<bool> {
        let (t, c, r) = self.at(a);
        t.boolean(c, r)
    }
    fn text(&self, a: AttrId) -> Option<Sym> {
        let (t, c, r) = self.at(a);
        t.text(c, r)
    }
    fn text_str(&self, a: AttrId) -> Option<&str> {
        let s = self.text(a)?;
        Some(self.data.dict.str(s))
    }
    fn list(&self, a: AttrId) -> Option<&[Sym]> {
        let (t, c, r) = self.at(a);
        let id = t.list_id(c, r)?;
        Some(self.data.lists.get(id))
    }
    fn present(&self, a: AttrId) -> bool {
        let (t, c, r) = self.at(a);
        t.present(c, r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_codes_widen_as_distinct_values_grow_and_keep_every_value() {
        let mut c = TextCol::with_capacity(0);
        let n = 70_000u32;
        for s in 0..n {
            c.push(if s % 1000 == 7 { None } else { Some(s * 3) });
        }
        c.push(Some(3)); // a repeat keeps its code
        assert!(matches!(c.codes(), Codes::U32(_)), "70,000 distinct values need 4-byte codes");
        for s in 0..n {
            assert_eq!(c.get(s as usize), if s % 1000 == 7 { None } else { Some(s * 3) }, "row {s}");
        }
        assert_eq!(c.get(n as usize), Some(3));
        assert_eq!(c.code(n as usize), c.code(1));
        let mut small = TextCol::from_syms([5, NO_SYM, 5, 9].into_iter());
        assert!(matches!(small.codes(), Codes::U8(_)));
        small.push(None);
        assert_eq!((0..5).map(|r| small.get(r)).collect::<Vec<_>>(), [Some(5), None, Some(5), Some(9), None]);
    }
}
