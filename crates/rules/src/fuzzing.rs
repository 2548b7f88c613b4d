//! The body of the fuzz target (`fuzz/fuzz_targets/condition.rs`), kept here so that stable tests
//! replay its corpus through exactly the same code.

use crate::{compile_text, AttrId, Interner, Matcher, Row, Schema, Sym, Type};

struct FuzzSchema;

const ATTRS: [(&str, Type); 6] = [
    ("region", Type::Text),
    ("potential", Type::Number),
    ("vip", Type::Bool),
    ("products", Type::List),
    ("since", Type::Date),
    ("client.kind", Type::Text),
];

impl Schema for FuzzSchema {
    fn resolve(&self, path: &str) -> Option<(AttrId, Type)> {
        ATTRS.iter().position(|a| a.0 == path).map(|i| (AttrId(i as u32), ATTRS[i].1))
    }
    fn names(&self) -> Vec<String> {
        ATTRS.iter().map(|a| a.0.to_string()).collect()
    }
}

struct FuzzRow;

impl Interner for FuzzRow {
    fn lookup(&self, text: &str) -> Option<Sym> {
        (text == "RU-MOW").then_some(0)
    }
}

impl Row for FuzzRow {
    fn number(&self, a: AttrId) -> Option<f64> {
        (a.0 == 1).then_some(1500.0)
    }
    fn date(&self, _: AttrId) -> Option<i32> {
        None
    }
    fn boolean(&self, a: AttrId) -> Option<bool> {
        (a.0 == 2).then_some(true)
    }
    fn text(&self, a: AttrId) -> Option<Sym> {
        (a.0 == 0).then_some(0)
    }
    fn text_str(&self, a: AttrId) -> Option<&str> {
        (a.0 == 0).then_some("RU-MOW")
    }
    fn list(&self, a: AttrId) -> Option<&[Sym]> {
        (a.0 == 3).then_some(&[0])
    }
    fn present(&self, a: AttrId) -> bool {
        a.0 <= 3
    }
}

/// Parses, type-checks and evaluates `text`; panics only if an invariant breaks (an error span
/// outside the text, or a trace span outside it).
pub fn check_one(text: &str) {
    match compile_text(text, &FuzzSchema) {
        Ok(cond) => {
            let m = Matcher::compile(&cond, &FuzzRow);
            let (_, trace) = m.trace(&FuzzRow);
            for (span, _) in trace {
                assert!(span.start <= span.end && span.end <= text.len(), "trace span {span:?} outside {text:?}");
            }
            let _ = m.index_keys();
        }
        Err(errors) => {
            assert!(!errors.is_empty());
            for e in errors {
                assert!(e.span.start <= e.span.end && e.span.end <= text.len(), "error span {:?} outside {text:?}", e.span);
            }
        }
    }
}
