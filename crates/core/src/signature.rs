//! Matching a million clients against thousands of rules without trying each rule on each client.
//!
//! **Value classes.** A rule can only tell clients apart through the tests it makes. For every
//! client attribute the scheme's conditions read, its values are cut into classes that no test can
//! split ([`Part`]): a number becomes its band between the thresholds the conditions use (with a
//! class of its own for each threshold), a text the literal it equals (or "any other"), a list the
//! set of tested literals it holds, a bool stays a bool; a text searched with `contains` keeps its
//! exact value. Every class also has "missing".
//!
//! **Rule bitsets** ([`RoleMatcher`]). A rule is an `and` of conjuncts; a conjunct that reads one
//! attribute is decided by that attribute's class alone. So for each attribute and each class we
//! precompute, once, the bitset of rules (in priority order) whose conjuncts on that attribute hold
//! for that class — evaluated on a one-attribute stand-in value of the class. A client's candidate
//! rules are the AND of its classes' bitsets; the first set bit is the first matching rule, unless
//! that rule also has conjuncts over several attributes, which are then evaluated on the client.
//! How the AND is taken depends on the size of the role:
//! - when no rule needs the client itself and the tuples of classes are few (≤ 65,536), a
//!   [`ClassTable`] holds every role's answer per tuple: a client costs one packed key and a load;
//! - up to 2,048 rules: whole rows of words are ANDed (the compiler vectorises it), then scanned;
//! - up to 16,384 rules: per class, a summary marks the non-empty words; ANDing the summaries
//!   picks the only words worth looking at;
//! - beyond: the most selective table's non-empty words are walked in order.
//!
//! **Signatures** ([`Signer::key`]). The classes of all attributes packed into a `u64`: clients
//! with equal signatures get equal answers from every condition, so territories are computed once
//! per signature.
//!
//! Exactness: the property test in `tests/suite/props.rs` compares every answer with trying every
//! rule in order.

use allot_rules::{AttrId, Cond, Matcher, Row, Sym, TestKind, Tri};

use crate::data::{Codes, Column, Data, RowRef, NO_SYM};

/// At most this many `u64` words in one attribute's bitset table; a larger attribute (a text
/// searched with `contains` over a million names, say) is evaluated per client instead.
const TABLE_WORDS_MAX: usize = 1 << 21;
/// A list attribute keeps a bitmask class when its conditions test at most this many values.
const LIST_LITS_MAX: usize = 12;

#[derive(Debug, Clone)]
enum PartKind {
    /// `lut[code]` (the column's local code): 0 = any other value, k = the k-th literal;
    /// `lits[k-1]` is its symbol.
    TextLits {
        lut: Vec<u32>,
        lits: Vec<Sym>,
    },
    /// Class = sym + 1; 0 = missing.
    TextExact,
    /// Bands around sorted thresholds: 2i = below t[i] (above t[i-1]), 2i+1 = t[i] itself.
    Number(Vec<f64>),
    Date(Vec<i32>),
    Bool,
    /// Bitmask of which of `lits` the list holds; `lut[list id]` caches it.
    ListLits {
        lits: Vec<Sym>,
        lut: Vec<u32>,
    },
    /// Class = list id + 1; 0 = missing.
    ListExact,
}

/// One attribute's value classes.
#[derive(Debug, Clone)]
pub struct Part {
    pub col: usize,
    kind: PartKind,
    /// Number of classes, missing included.
    pub classes: u64,
    shift: u32,
}

/// Runs `$body` for each row `$i` of `$r0..$r0 + $n` of a text column, with `$code` its local
/// code (`None` for missing), monomorphised for each code width.
macro_rules! text_loop {
    ($codes:expr, $r0:expr, $n:expr, |$i:ident, $code:ident| $body:expr) => {
        match $codes {
            Codes::U8(v) => {
                for ($i, &c) in v[$r0..$r0 + $n].iter().enumerate() {
                    let $code = if c == u8::MAX { None } else { Some(c as u32) };
                    $body;
                }
            }
            Codes::U16(v) => {
                for ($i, &c) in v[$r0..$r0 + $n].iter().enumerate() {
                    let $code = if c == u16::MAX { None } else { Some(c as u32) };
                    $body;
                }
            }
            Codes::U32(v) => {
                for ($i, &c) in v[$r0..$r0 + $n].iter().enumerate() {
                    let $code = if c == u32::MAX { None } else { Some(c) };
                    $body;
                }
            }
        }
    };
}

fn band<T: PartialOrd + Copy>(t: &[T], v: T) -> u64 {
    let i = t.partition_point(|x| *x < v);
    if i < t.len() && t[i] == v {
        2 * i as u64 + 1
    } else {
        2 * i as u64
    }
}

/// A value inside band class `c` of thresholds `t` (see [`band`]), or `None` for the missing class:
/// the threshold itself for odd classes, else a value strictly between its neighbours.
fn band_value<T: Copy>(t: &[T], c: u64, below: impl Fn(T) -> T, above: impl Fn(T) -> T, between: impl Fn(T, T) -> T, any: T) -> Option<T> {
    let k = t.len() as u64;
    if c == 2 * k + 1 {
        return None;
    }
    if c % 2 == 1 {
        return Some(t[(c / 2) as usize]);
    }
    let i = (c / 2) as usize;
    Some(match (i.checked_sub(1).map(|j| t[j]), t.get(i)) {
        (None, Some(&hi)) => below(hi),
        (Some(lo), None) => above(lo),
        (Some(lo), Some(&hi)) => between(lo, hi),
        (None, None) => any,
    })
}

fn bits_for(classes: u64) -> u32 {
    64 - classes.saturating_sub(1).leading_zeros()
}

impl Part {
    /// The class of a client's value.
    #[inline]
    pub fn class(&self, data: &Data, row: u32) -> u64 {
        let t = &data.clients;
        let r = row as usize;
        match (&self.kind, t.column(self.col)) {
            (PartKind::TextLits { lut, lits }, Column::Text(v)) => v.code(r).map_or(lits.len() as u64 + 1, |c| lut[c as usize] as u64),
            (PartKind::TextExact, _) => t.text(self.col, row).map_or(0, |s| s as u64 + 1),
            (PartKind::Number(th), Column::Number(v)) => {
                let x = v[r];
                if x.is_nan() {
                    2 * th.len() as u64 + 1
                } else {
                    band(th, x)
                }
            }
            (PartKind::Date(th), _) => t.date(self.col, row).map_or(2 * th.len() as u64 + 1, |d| band(th, d)),
            (PartKind::Bool, _) => t.boolean(self.col, row).map_or(2, |b| b as u64),
            (PartKind::ListLits { lits, lut }, _) => t.list_id(self.col, row).map_or(1u64 << lits.len(), |l| lut[l as usize] as u64),
            (PartKind::ListExact, _) => t.list_id(self.col, row).map_or(0, |l| l as u64 + 1),
            _ => 0,
        }
    }

    /// Classes of the rows `start..start + out.len()/stride`, written to `out[i * stride]`:
    /// one tight loop per column, cheaper than asking row by row.
    pub fn classes_into(&self, data: &Data, start: u32, out: &mut [u32], stride: usize) {
        let t = &data.clients;
        let n = out.len().div_ceil(stride);
        let r0 = start as usize;
        match (&self.kind, t.column(self.col)) {
            (PartKind::TextLits { lut, lits }, Column::Text(v)) => {
                let missing = lits.len() as u32 + 1;
                text_loop!(v.codes(), r0, n, |i, code| out[i * stride] = code.map_or(missing, |c| lut[c as usize]));
            }
            (PartKind::Number(th), Column::Number(v)) => {
                let missing = 2 * th.len() as u32 + 1;
                for (o, &x) in out.iter_mut().step_by(stride).zip(&v[r0..r0 + n]) {
                    *o = if x.is_nan() { missing } else { band(th, x) as u32 };
                }
            }
            (PartKind::Bool, Column::Bool(v)) => {
                for (o, &b) in out.iter_mut().step_by(stride).zip(&v[r0..r0 + n]) {
                    *o = b as u32;
                }
            }
            (PartKind::ListLits { lits, lut }, Column::List(v)) => {
                let missing = 1u32 << lits.len();
                for (o, &l) in out.iter_mut().step_by(stride).zip(&v[r0..r0 + n]) {
                    *o = if l == u32::MAX { missing } else { lut[l as usize] };
                }
            }
            _ => {
                for (i, o) in out.iter_mut().step_by(stride).enumerate() {
                    *o = self.class(data, start + i as u32) as u32;
                }
            }
        }
    }

    /// Adds `class × radix` of the rows `start..start + keys.len()` to `keys`: one pass per
    /// attribute, for packed keys of small class spaces.
    pub fn add_keys(&self, data: &Data, start: u32, keys: &mut [u32], radix: u32) {
        let t = &data.clients;
        let r0 = start as usize;
        let n = keys.len();
        match (&self.kind, t.column(self.col)) {
            (PartKind::TextLits { lut, lits }, Column::Text(v)) => {
                let missing = (lits.len() as u32 + 1) * radix;
                text_loop!(v.codes(), r0, n, |i, code| keys[i] += code.map_or(missing, |c| lut[c as usize] * radix));
            }
            (PartKind::Bool, Column::Bool(v)) => {
                for (k, &b) in keys.iter_mut().zip(&v[r0..r0 + n]) {
                    *k += b as u32 * radix;
                }
            }
            _ => {
                for (i, k) in keys.iter_mut().enumerate() {
                    *k += self.class(data, start + i as u32) as u32 * radix;
                }
            }
        }
    }

    /// A one-attribute stand-in holding a value of class `c`.
    fn stand_in<'a>(&self, data: &'a Data, c: u64) -> StandIn<'a> {
        let attr = AttrId(self.col as u32);
        let v = match &self.kind {
            PartKind::TextLits { lits, .. } => match c as usize {
                0 => Val::Text(NO_SYM - 1, ""),
                k if k <= lits.len() => Val::Text(lits[k - 1], data.dict.str(lits[k - 1])),
                _ => Val::Missing,
            },
            PartKind::TextExact => match c {
                0 => Val::Missing,
                s => Val::Text(s as Sym - 1, data.dict.str(s as Sym - 1)),
            },
            PartKind::Number(t) => band_value(t, c, |hi| hi - hi.abs() - 1.0, |lo| lo + lo.abs() + 1.0, |lo, hi| lo + (hi - lo) / 2.0, 0.0)
                .map_or(Val::Missing, Val::Number),
            PartKind::Date(t) => band_value(t, c, |hi| hi.saturating_sub(1), |lo| lo.saturating_add(1), |lo, hi| lo + (hi - lo) / 2, 0)
                .map_or(Val::Missing, Val::Date),
            PartKind::Bool => match c {
                0 => Val::Bool(false),
                1 => Val::Bool(true),
                _ => Val::Missing,
            },
            PartKind::ListLits { lits, .. } => {
                if c == 1 << lits.len() {
                    Val::Missing
                } else {
                    let mut v: Vec<Sym> = (0..lits.len()).filter(|b| c >> b & 1 == 1).map(|b| lits[b]).collect();
                    v.sort_unstable();
                    Val::List(v)
                }
            }
            PartKind::ListExact => match c {
                0 => Val::Missing,
                id => Val::List(data.lists.get(id as u32 - 1).to_vec()),
            },
        };
        StandIn { attr, v }
    }
}

enum Val<'a> {
    Missing,
    Number(f64),
    Date(i32),
    Bool(bool),
    Text(Sym, &'a str),
    List(Vec<Sym>),
}

/// A record with one attribute, for evaluating one-attribute conjuncts on a class.
struct StandIn<'a> {
    attr: AttrId,
    v: Val<'a>,
}

impl Row for StandIn<'_> {
    fn number(&self, a: AttrId) -> Option<f64> {
        match self.v {
            Val::Number(x) if a == self.attr => Some(x),
            _ => None,
        }
    }
    fn date(&self, a: AttrId) -> Option<i32> {
        match self.v {
            Val::Date(x) if a == self.attr => Some(x),
            _ => None,
        }
    }
    fn boolean(&self, a: AttrId) -> Option<bool> {
        match self.v {
            Val::Bool(x) if a == self.attr => Some(x),
            _ => None,
        }
    }
    fn text(&self, a: AttrId) -> Option<Sym> {
        match self.v {
            Val::Text(s, _) if a == self.attr => Some(s),
            _ => None,
        }
    }
    fn text_str(&self, a: AttrId) -> Option<&str> {
        match self.v {
            Val::Text(_, s) if a == self.attr => Some(s),
            _ => None,
        }
    }
    fn list(&self, a: AttrId) -> Option<&[Sym]> {
        match &self.v {
            Val::List(v) if a == self.attr => Some(v),
            _ => None,
        }
    }
    fn present(&self, a: AttrId) -> bool {
        a == self.attr && !matches!(self.v, Val::Missing)
    }
}

/// The value classes of every client attribute read by a set of conditions.
pub struct Signer {
    pub parts: Vec<Part>,
    /// Whether all classes fit in one `u64` key.
    pub packed: bool,
}

impl Signer {
    pub fn new(conds: &[&Cond], data: &Data) -> Signer {
        #[derive(Default)]
        struct Acc {
            texts: Vec<String>,
            text_exact: bool,
            list_lits: Vec<String>,
            nums: Vec<f64>,
            dates: Vec<i32>,
        }
        let ncols = data.clients.columns().count() as u32;
        let mut acc: std::collections::BTreeMap<u32, Acc> = Default::default();
        for c in conds {
            for t in c.tests() {
                if t.attr.0 >= ncols {
                    continue; // a deal's own attribute: not a client's
                }
                let a = acc.entry(t.attr.0).or_default();
                match &t.kind {
                    TestKind::TextEq(s) | TestKind::TextNe(s) => a.texts.push(s.clone()),
                    TestKind::TextIn(v, _) => a.texts.extend(v.iter().cloned()),
                    TestKind::TextContains(_) => a.text_exact = true,
                    TestKind::Number(_, n) => a.nums.push(*n),
                    TestKind::NumberIn(v, _) => a.nums.extend(v),
                    TestKind::Date(_, d) => a.dates.push(*d),
                    TestKind::DateIn(v, _) => a.dates.extend(v),
                    TestKind::ListContains(s) => a.list_lits.push(s.clone()),
                    TestKind::ListAny(v, _) => a.list_lits.extend(v.iter().cloned()),
                    TestKind::Truthy | TestKind::BoolEq(_) | TestKind::Missing(_) => {}
                }
            }
        }
        let syms = |v: &[String]| -> Vec<Sym> {
            let mut s: Vec<Sym> = v.iter().filter_map(|x| data.dict.get(x)).collect();
            s.sort_unstable();
            s.dedup();
            s
        };
        let mut parts = Vec::new();
        let mut shift = 0u32;
        for (col, a) in acc {
            let col = col as usize;
            let (kind, classes) = match data.clients.column(col) {
                Column::Text(_) if a.text_exact => (PartKind::TextExact, data.dict.len() as u64 + 1),
                Column::Text(tc) => {
                    let lits = syms(&a.texts);
                    let mut by_sym = vec![0u32; data.dict.len()];
                    for (k, s) in lits.iter().enumerate() {
                        by_sym[*s as usize] = k as u32 + 1;
                    }
                    // Class of each of the column's own codes.
                    let lut = tc.syms().iter().map(|&s| by_sym[s as usize]).collect();
                    let n = lits.len() as u64;
                    (PartKind::TextLits { lut, lits }, n + 2)
                }
                Column::Number(_) => {
                    let mut t = a.nums;
                    t.sort_by(f64::total_cmp);
                    t.dedup();
                    let n = t.len() as u64;
                    (PartKind::Number(t), 2 * n + 2)
                }
                Column::Date(_) => {
                    let mut t = a.dates;
                    t.sort_unstable();
                    t.dedup();
                    let n = t.len() as u64;
                    (PartKind::Date(t), 2 * n + 2)
                }
                Column::Bool(_) => (PartKind::Bool, 3),
                Column::List(_) => {
                    let lits = syms(&a.list_lits);
                    if lits.len() <= LIST_LITS_MAX {
                        let lut = (0..data.lists.len() as u32)
                            .map(|id| {
                                let l = data.lists.get(id);
                                lits.iter().enumerate().filter(|(_, s)| l.binary_search(s).is_ok()).fold(0u32, |m, (b, _)| m | 1 << b)
                            })
                            .collect();
                        let n = lits.len();
                        (PartKind::ListLits { lits, lut }, (1u64 << n) + 1)
                    } else {
                        (PartKind::ListExact, data.lists.len() as u64 + 1)
                    }
                }
            };
            parts.push(Part { col, kind, classes, shift });
            shift += bits_for(classes);
        }
        Signer { parts, packed: shift <= 64 }
    }

    /// The signature of a client: every class packed (only meaningful when `packed`).
    pub fn key(&self, data: &Data, row: u32) -> u64 {
        self.parts.iter().fold(0u64, |k, p| k | p.class(data, row) << p.shift)
    }
}

/// The top-level conjuncts of a condition.
fn conjuncts(c: &Cond) -> Vec<&Cond> {
    match c {
        Cond::And(v) => v.iter().flat_map(conjuncts).collect(),
        Cond::Const(true) => vec![],
        c => vec![c],
    }
}

struct Table {
    part: usize,
    words: Vec<u64>,
    /// Per class, `SUMMARY` words: bit w set when rule word w has any rule allowed.
    summary: Vec<u64>,
}

/// Roles of up to 64 × DENSE rules AND whole rows of words at once.
const DENSE: usize = 32;

/// Rule words a summary covers: up to 64 × 4 × 64 = 16,384 rules per role use summaries; larger
/// roles walk the lead table's word list.
const SUMMARY: usize = 4;

/// The rules of one role as bitset tables; see the module docs.
pub struct RoleMatcher {
    /// Scheme rule index of each local bit.
    pub rules: Vec<u32>,
    nwords: usize,
    tables: Vec<Table>,
    /// Per local rule: the conjuncts no single table decides, or `None`.
    residual: Vec<Option<Matcher>>,
    /// Bit i set: rule i has residual conjuncts.
    has_residual: Vec<u64>,
    /// (part, table offset) of every table, the lead's part first; `usize::MAX` part = none.
    parts: Vec<usize>,
    /// Per class of the lead table: the words with any rule allowed.
    lead_words: Vec<Vec<u32>>,
}

impl RoleMatcher {
    pub fn new(rules: Vec<u32>, conds: &[&Cond], signer: &Signer, data: &Data) -> RoleMatcher {
        let n = rules.len();
        let nwords = n.div_ceil(64).max(1);
        let part_of_col = |col: u32| signer.parts.iter().position(|p| p.col as u32 == col);
        // Which parts get a table.
        let tabled: Vec<bool> = signer.parts.iter().map(|p| (p.classes as usize).saturating_mul(nwords) <= TABLE_WORDS_MAX).collect();
        // Per rule: decidable conjuncts per part, and the residual ones.
        let mut per_part: Vec<Vec<(usize, Matcher)>> = (0..signer.parts.len()).map(|_| Vec::new()).collect();
        let mut residual = Vec::with_capacity(n);
        for (i, &r) in rules.iter().enumerate() {
            let mut rest = Vec::new();
            for c in conjuncts(conds[r as usize]) {
                let mut attrs: Vec<u32> = c.tests().iter().map(|t| t.attr.0).collect();
                attrs.sort_unstable();
                attrs.dedup();
                match (attrs.as_slice(), attrs.first().and_then(|&a| part_of_col(a))) {
                    ([_], Some(p)) if tabled[p] => per_part[p].push((i, Matcher::compile(c, &data.dict))),
                    _ => rest.push(c.clone()),
                }
            }
            residual.push((!rest.is_empty()).then(|| Matcher::compile(&Cond::And(rest), &data.dict)));
        }
        let mut tables = Vec::new();
        for (p, conds) in per_part.iter().enumerate() {
            if !tabled[p] || conds.is_empty() {
                continue;
            }
            let part = &signer.parts[p];
            let mut words = vec![!0u64; part.classes as usize * nwords];
            for c in 0..part.classes {
                let row = part.stand_in(data, c);
                let w = &mut words[c as usize * nwords..(c as usize + 1) * nwords];
                for (i, m) in conds {
                    if m.eval(&row) != Tri::True {
                        w[i / 64] &= !(1u64 << (i % 64));
                    }
                }
            }
            tables.push(Table { part: p, words, summary: Vec::new() });
        }
        if tables.is_empty() {
            tables.push(Table { part: usize::MAX, words: vec![!0u64; nwords], summary: Vec::new() });
        }
        // Bits past the last rule are never candidates.
        if !n.is_multiple_of(64) || n == 0 {
            let mask = if n == 0 { 0 } else { (1u64 << (n % 64)) - 1 };
            let t = &mut tables[0];
            for c in 0..t.words.len() / nwords {
                t.words[c * nwords + nwords - 1] &= mask;
            }
        }
        // The lead table: the one that leaves the fewest words to look at on average.
        let density = |t: &Table| t.words.iter().filter(|w| **w != 0).count() as f64 / (t.words.len() / nwords).max(1) as f64;
        if let Some(best) = (0..tables.len()).min_by(|&a, &b| density(&tables[a]).total_cmp(&density(&tables[b]))) {
            tables.swap(0, best);
        }
        // Only roles too large for summaries walk the lead table's word lists.
        let lead_words = match tables.first() {
            Some(t) if nwords > SUMMARY * 64 => (0..t.words.len() / nwords)
                .map(|c| (0..nwords as u32).filter(|&w| t.words[c * nwords + w as usize] != 0).collect())
                .collect(),
            _ => vec![],
        };
        let mut has_residual = vec![0u64; nwords];
        for (i, r) in residual.iter().enumerate() {
            if r.is_some() {
                has_residual[i / 64] |= 1 << (i % 64);
            }
        }
        let parts = tables.iter().map(|t| t.part).collect();
        if nwords <= SUMMARY * 64 {
            for t in tables.iter_mut() {
                let classes = t.words.len() / nwords;
                t.summary = vec![0u64; classes * SUMMARY];
                for c in 0..classes {
                    for w in 0..nwords {
                        if t.words[c * nwords + w] != 0 {
                            t.summary[c * SUMMARY + w / 64] |= 1 << (w % 64);
                        }
                    }
                }
            }
        }
        RoleMatcher { rules, nwords, tables, residual, has_residual, parts, lead_words }
    }

    /// The first rule whose condition is true for the client, as a scheme rule index.
    #[inline]
    pub fn first_match(&self, data: &Data, classes: &[u32], row: u32) -> Option<u32> {
        let nw = self.nwords;
        let class = |p: usize| if p == usize::MAX { 0 } else { classes[p] as usize };
        if nw == 1 {
            // Up to 64 rules: one word per table, no lead list to walk.
            let mut m = !0u64;
            for (t, &p) in self.tables.iter().zip(&self.parts) {
                m &= t.words[class(p)];
            }
            return self.first_in_word(data, row, 0, m);
        }
        if nw <= DENSE {
            // Up to 2,048 rules: AND whole rows (the compiler vectorises this), then scan.
            let mut acc = [!0u64; DENSE];
            let acc = &mut acc[..nw];
            for (t, &p) in self.tables.iter().zip(&self.parts) {
                let row_words = &t.words[class(p) * nw..class(p) * nw + nw];
                for (a, b) in acc.iter_mut().zip(row_words) {
                    *a &= b;
                }
            }
            for (w, &m) in acc.iter().enumerate() {
                if m != 0 {
                    if let Some(r) = self.first_in_word(data, row, w, m) {
                        return Some(r);
                    }
                }
            }
            return None;
        }
        if nw <= SUMMARY * 64 {
            // The words where every attribute allows some rule, in order.
            let mut sum = [!0u64; SUMMARY];
            for (t, &p) in self.tables.iter().zip(&self.parts) {
                let s = &t.summary[class(p) * SUMMARY..class(p) * SUMMARY + SUMMARY];
                for (a, b) in sum.iter_mut().zip(s) {
                    *a &= b;
                }
            }
            for (sw, mut bits) in sum.into_iter().enumerate() {
                while bits != 0 {
                    let w = sw * 64 + bits.trailing_zeros() as usize;
                    bits &= bits - 1;
                    let mut m = !0u64;
                    for (t, &p) in self.tables.iter().zip(&self.parts) {
                        m &= t.words[class(p) * nw + w];
                    }
                    if let Some(r) = self.first_in_word(data, row, w, m) {
                        return Some(r);
                    }
                }
            }
            return None;
        }
        let lead = &self.tables[0];
        let lead_class = class(self.parts[0]);
        for &w in &self.lead_words[lead_class] {
            let w = w as usize;
            let mut m = lead.words[lead_class * nw + w];
            for (t, &p) in self.tables[1..].iter().zip(&self.parts[1..]) {
                m &= t.words[class(p) * nw + w];
                if m == 0 {
                    break;
                }
            }
            if let Some(r) = self.first_in_word(data, row, w, m) {
                return Some(r);
            }
        }
        None
    }

    /// The first candidate in word `w` whose residual conjuncts (if any) hold for the client.
    #[inline]
    fn first_in_word(&self, data: &Data, row: u32, w: usize, mut m: u64) -> Option<u32> {
        while m != 0 {
            let b = m.trailing_zeros() as usize;
            let i = w * 64 + b;
            if self.has_residual[w] >> b & 1 == 0 {
                return Some(self.rules[i]);
            }
            if let Some(r) = &self.residual[i] {
                if r.eval(&RowRef { data, client: row, deal: None }) == Tri::True {
                    return Some(self.rules[i]);
                }
            }
            m &= m - 1;
        }
        None
    }
}

impl RoleMatcher {
    /// Whether the answer depends on the client's classes alone (no conjunct reads several
    /// attributes).
    pub fn classes_decide(&self) -> bool {
        self.residual.iter().all(Option::is_none)
    }
}

/// Most class tuples a [`ClassTable`] holds.
const CLASS_TABLE_MAX: u64 = 1 << 16;

/// For small rule sets: every role's first rule for every tuple of classes, computed once. A client
/// then costs one packed key and one load.
pub struct ClassTable {
    radix: Vec<u32>,
    roles: usize,
    table: Vec<u32>,
}

impl ClassTable {
    /// `None` when the class space is too large or a rule needs the client itself.
    pub fn new(signer: &Signer, matchers: &[RoleMatcher], data: &Data) -> Option<ClassTable> {
        if !matchers.iter().all(RoleMatcher::classes_decide) {
            return None;
        }
        let mut size = 1u64;
        let mut radix = Vec::with_capacity(signer.parts.len());
        for p in &signer.parts {
            radix.push(size as u32);
            size = size.checked_mul(p.classes).filter(|s| *s <= CLASS_TABLE_MAX)?;
        }
        let roles = matchers.len();
        let mut table = vec![u32::MAX; size as usize * roles];
        let mut classes = vec![0u32; signer.parts.len()];
        for key in 0..size as usize {
            let mut rest = key as u64;
            for (c, p) in classes.iter_mut().zip(&signer.parts) {
                *c = (rest % p.classes) as u32;
                rest /= p.classes;
            }
            for (k, m) in matchers.iter().enumerate() {
                table[key * roles + k] = m.first_match(data, &classes, 0).unwrap_or(u32::MAX);
            }
        }
        Some(ClassTable { radix, roles, table })
    }

    /// The weight of part `p`'s class in a packed key.
    pub fn radix(&self, p: usize) -> u32 {
        self.radix[p]
    }

    /// The first rule of the only role, for a packed key (when there is one role).
    #[inline]
    pub fn rule_at(&self, key: u32) -> u32 {
        self.table[key as usize]
    }

    /// Every role's first rule (u32::MAX for none) for a packed key of classes.
    #[inline]
    pub fn rules_at(&self, key: u32) -> &[u32] {
        let key = key as usize;
        &self.table[key * self.roles..key * self.roles + self.roles]
    }
}
