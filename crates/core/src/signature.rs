//! Matching a million clients against thousands of rules without trying each rule on each client.
//!
//! Two ideas, both exact:
//! 1. **Signatures.** A rule can only tell clients apart through the tests it makes. For every
//!    attribute the scheme's conditions read, the values are cut into classes that no test can
//!    split: a number becomes its band between the thresholds the conditions use (with a class of
//!    its own for each threshold itself), a text becomes the literal it equals (or "any other"),
//!    a bool stays a bool; a text that is searched by `contains`, and a list, keep their exact
//!    value. The classes of all those attributes, packed into a `u64`, are the client's signature;
//!    clients with equal signatures get equal answers from every condition, so each distinct
//!    signature is matched once (on a representative client) and the answer is shared.
//! 2. **Index.** Per role, rules are indexed by the attribute that most of them test with `==` or
//!    `in` at their top level (usually the region): a client only tries the rules keyed by its own
//!    value plus the rules that do not test that attribute, merged back into priority order.

use allot_rules::{AttrId, Cond, Matcher, Row, Sym, TestKind, Tri};
use rustc_hash::FxHashMap;

use crate::data::{Column, Data, RowRef};

enum PartKind {
    /// Class by literal: `lut[sym]` (0 = any other value); `missing` for no value.
    TextLits {
        lut: Vec<u32>,
        missing: u64,
    },
    TextExact,
    Number(Vec<f64>),
    Date(Vec<i32>),
    Bool,
    ListExact,
}

struct Part {
    col: usize,
    shift: u32,
    kind: PartKind,
}

/// Computes signatures of client rows; see the module docs.
pub struct Signer {
    parts: Vec<Part>,
}

fn bits_for(classes: u64) -> u32 {
    64 - classes.saturating_sub(1).leading_zeros()
}

fn band<T: PartialOrd + Copy>(t: &[T], v: T) -> u64 {
    let i = t.partition_point(|x| *x < v);
    if i < t.len() && t[i] == v {
        2 * i as u64 + 1
    } else {
        2 * i as u64
    }
}

impl Signer {
    /// A signer for the client attributes read by `conds`, or `None` when their classes do not fit
    /// in 64 bits (then every client is matched on its own).
    pub fn new(conds: &[&Cond], data: &Data) -> Option<Signer> {
        #[derive(Default)]
        struct Acc {
            texts: Vec<String>,
            exact: bool,
            nums: Vec<f64>,
            dates: Vec<i32>,
        }
        let mut acc: std::collections::BTreeMap<u32, Acc> = Default::default();
        for c in conds {
            for t in c.tests() {
                if t.attr.0 >= data.clients.columns().count() as u32 {
                    continue; // a deal's own attribute: not part of a client signature
                }
                let a = acc.entry(t.attr.0).or_default();
                match &t.kind {
                    TestKind::TextEq(s) | TestKind::TextNe(s) => a.texts.push(s.clone()),
                    TestKind::TextIn(v, _) => a.texts.extend(v.iter().cloned()),
                    TestKind::TextContains(_) => a.exact = true,
                    TestKind::Number(_, n) => a.nums.push(*n),
                    TestKind::NumberIn(v, _) => a.nums.extend(v),
                    TestKind::Date(_, d) => a.dates.push(*d),
                    TestKind::DateIn(v, _) => a.dates.extend(v),
                    TestKind::Truthy | TestKind::BoolEq(_) | TestKind::Missing(_) => {}
                    TestKind::ListContains(_) | TestKind::ListAny(..) => a.exact = true,
                }
            }
        }
        let mut parts = Vec::new();
        let mut shift = 0u32;
        for (col, a) in acc {
            let col = col as usize;
            let (kind, classes) = match data.clients.column(col) {
                Column::Text(_) if a.exact => (PartKind::TextExact, data.dict.len() as u64 + 1),
                Column::Text(_) => {
                    let mut lut = vec![0u32; data.dict.len()];
                    let mut k = 0u32;
                    let mut syms: Vec<Sym> =
                        a.texts.iter().filter_map(|s| data.dict.get(s)).collect();
                    syms.sort_unstable();
                    syms.dedup();
                    for s in syms {
                        k += 1;
                        lut[s as usize] = k;
                    }
                    (
                        PartKind::TextLits {
                            lut,
                            missing: k as u64 + 1,
                        },
                        k as u64 + 2,
                    )
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
                Column::List(_) => (PartKind::ListExact, data.lists.len() as u64 + 1),
            };
            let bits = bits_for(classes);
            parts.push(Part { col, shift, kind });
            shift += bits;
            if shift > 64 {
                return None;
            }
        }
        Some(Signer { parts })
    }

    pub fn key(&self, data: &Data, row: u32) -> u64 {
        let t = &data.clients;
        let mut key = 0u64;
        for p in &self.parts {
            let class = match (&p.kind, t.column(p.col)) {
                (PartKind::TextLits { lut, missing }, Column::Text(v)) => {
                    let s = v[row as usize];
                    if s == crate::data::NO_SYM {
                        *missing
                    } else {
                        lut[s as usize] as u64
                    }
                }
                (PartKind::TextExact, _) => t.text(p.col, row).map_or(0, |s| s as u64 + 1),
                (PartKind::Number(th), Column::Number(v)) => {
                    let x = v[row as usize];
                    if x.is_nan() {
                        2 * th.len() as u64 + 1
                    } else {
                        band(th, x)
                    }
                }
                (PartKind::Date(th), _) => t
                    .date(p.col, row)
                    .map_or(2 * th.len() as u64 + 1, |d| band(th, d)),
                (PartKind::Bool, _) => t.boolean(p.col, row).map_or(2, |b| b as u64),
                (PartKind::ListExact, _) => t.list_id(p.col, row).map_or(0, |l| l as u64 + 1),
                _ => 0,
            };
            key |= class << p.shift;
        }
        key
    }
}

/// The rules of one role, indexed by one attribute; see the module docs.
pub struct RoleIndex {
    /// All rules of the role (indices into the scheme's rules), in priority order.
    pub all: Vec<u32>,
    attr: Option<AttrId>,
    keyed: FxHashMap<Sym, Vec<u32>>,
    rest: Vec<u32>,
    /// Rules keyed on the attribute: a client without a value must still try them (for reasons).
    keyed_any: Vec<u32>,
}

impl RoleIndex {
    pub fn new(rules: Vec<u32>, matchers: &[Matcher]) -> RoleIndex {
        let mut counts: std::collections::BTreeMap<AttrId, usize> = Default::default();
        for &r in &rules {
            for (a, _) in matchers[r as usize].index_keys() {
                *counts.entry(a).or_default() += 1;
            }
        }
        let attr = counts
            .iter()
            .filter(|(_, n)| **n >= 2)
            .max_by_key(|(a, n)| (**n, std::cmp::Reverse(**a)))
            .map(|(a, _)| *a);
        let mut keyed: FxHashMap<Sym, Vec<u32>> = FxHashMap::default();
        let mut rest = Vec::new();
        let mut keyed_any = Vec::new();
        for &r in &rules {
            let key = attr.and_then(|a| {
                matchers[r as usize]
                    .index_keys()
                    .into_iter()
                    .find(|k| k.0 == a)
            });
            match key {
                Some((_, syms)) => {
                    keyed_any.push(r);
                    for s in syms {
                        keyed.entry(s).or_default().push(r);
                    }
                }
                None => rest.push(r),
            }
        }
        RoleIndex {
            all: rules,
            attr,
            keyed,
            rest,
            keyed_any,
        }
    }

    /// The first rule whose condition is true for the row, in priority order.
    pub fn first_match(&self, matchers: &[Matcher], row: &RowRef<'_>) -> Option<u32> {
        let Some(attr) = self.attr else {
            return self
                .all
                .iter()
                .copied()
                .find(|&r| matchers[r as usize].eval(row) == Tri::True);
        };
        let keyed: &[u32] = match row.text(attr) {
            Some(s) => self.keyed.get(&s).map_or(&[], |v| v.as_slice()),
            None => &[],
        };
        let (mut i, mut j) = (0, 0);
        let rest = &self.rest;
        loop {
            let r = match (keyed.get(i), rest.get(j)) {
                (Some(&a), Some(&b)) if a < b => {
                    i += 1;
                    a
                }
                (_, Some(&b)) => {
                    j += 1;
                    b
                }
                (Some(&a), None) => {
                    i += 1;
                    a
                }
                (None, None) => return None,
            };
            if matchers[r as usize].eval(row) == Tri::True {
                return Some(r);
            }
        }
    }

    /// Whether the index skips rules for this row (for tests of the index itself).
    pub fn skips(&self) -> usize {
        self.keyed_any.len()
    }
}
