//! The condition language of allot: what a rule or a territory says about a client or a deal.
//!
//! `region in ["RU-MOW", "RU-MOS"] and significance == "vip" and potential >= 1_000_000`
//!
//! This crate does three things, all pure (no IO, no clock, no global state):
//! 1. [`parse`] turns text into a syntax tree with a [`Span`] on every node; the grammar is written
//!    at the top of [`syntax`].
//! 2. [`check`] type-checks that tree against a [`Schema`] (the attributes the data has and their
//!    [`Type`]s) and gives a [`Cond`]; every error points at the offending text and names what was
//!    expected, with "did you mean" for unknown names.
//! 3. [`Matcher::compile`] resolves text literals against the data's interned symbols and gives a
//!    matcher that evaluates a [`Row`] in three-valued logic ([`Tri`]): a test on a missing value is
//!    *unknown*, never silently false, so the engine can say "a needed attribute is missing".
//!
//! It does not know what a client, a rule or a CSV file is; `allot-core` gives it rows.
//!
//! Invariant: nothing here panics on any input text (a property test and a fuzz target hold it).

pub mod fuzzing;
pub mod syntax;

use std::fmt;

pub use syntax::{civil_from_days, days_from_civil, parse, parse_iso_date, CmpOp, Expr, Lit};

/// Byte range in the condition's text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}

impl Span {
    pub fn new(start: usize, end: usize) -> Span {
        Span { start, end }
    }
    pub fn to(self, other: Span) -> Span {
        Span::new(self.start.min(other.start), self.end.max(other.end))
    }
}

/// A located problem in a condition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    pub span: Span,
    pub message: String,
    pub expected: Option<String>,
    pub found: Option<String>,
    pub help: Option<String>,
}

impl Error {
    pub fn new(span: Span, message: impl Into<String>) -> Error {
        Error { span, message: message.into(), expected: None, found: None, help: None }
    }
    pub fn expected(mut self, e: impl Into<String>) -> Error {
        self.expected = Some(e.into());
        self
    }
    pub fn found(mut self, f: impl Into<String>) -> Error {
        self.found = Some(f.into());
        self
    }
    pub fn help(mut self, h: impl Into<String>) -> Error {
        self.help = Some(h.into());
        self
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        if let Some(e) = &self.expected {
            write!(f, "; expected {e}")?;
        }
        if let Some(x) = &self.found {
            write!(f, ", found {x}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {}

/// The type of an attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Type {
    Number,
    Text,
    Bool,
    Date,
    /// A list of texts, e.g. the product lines a client buys.
    List,
}

impl Type {
    pub fn name(self) -> &'static str {
        match self {
            Type::Number => "number",
            Type::Text => "text",
            Type::Bool => "bool",
            Type::Date => "date",
            Type::List => "list",
        }
    }
    pub fn parse(s: &str) -> Option<Type> {
        Some(match s {
            "number" => Type::Number,
            "text" => Type::Text,
            "bool" => Type::Bool,
            "date" => Type::Date,
            "list" => Type::List,
            _ => return None,
        })
    }
}

/// Opaque id of an attribute, given by the [`Schema`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AttrId(pub u32);

/// Interned text value.
pub type Sym = u32;

/// The attributes a condition may name.
pub trait Schema {
    /// The attribute a (possibly dotted) name refers to.
    fn resolve(&self, path: &str) -> Option<(AttrId, Type)>;
    /// Every name that [`Schema::resolve`] accepts, for "did you mean".
    fn names(&self) -> Vec<String>;
}

/// Text values of the data, interned.
pub trait Interner {
    fn lookup(&self, text: &str) -> Option<Sym>;
}

/// One record as the matcher sees it. Every getter returns `None` for a missing value.
pub trait Row {
    fn number(&self, a: AttrId) -> Option<f64>;
    fn date(&self, a: AttrId) -> Option<i32>;
    fn boolean(&self, a: AttrId) -> Option<bool>;
    fn text(&self, a: AttrId) -> Option<Sym>;
    fn text_str(&self, a: AttrId) -> Option<&str>;
    fn list(&self, a: AttrId) -> Option<&[Sym]>;
    /// Whether the attribute has a value at all.
    fn present(&self, a: AttrId) -> bool;
}

/// Three-valued truth.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Tri {
    True,
    False,
    /// A value the test needs is missing.
    Unknown,
}

impl Tri {
    fn from(b: bool) -> Tri {
        if b {
            Tri::True
        } else {
            Tri::False
        }
    }
    fn not(self) -> Tri {
        match self {
            Tri::True => Tri::False,
            Tri::False => Tri::True,
            Tri::Unknown => Tri::Unknown,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Tri::True => "true",
            Tri::False => "false",
            Tri::Unknown => "unknown (missing value)",
        }
    }
}

/// A type-checked test on one attribute.
#[derive(Debug, Clone, PartialEq)]
pub enum TestKind {
    /// A bare boolean attribute used as a condition.
    Truthy,
    Number(CmpOp, f64),
    Date(CmpOp, i32),
    BoolEq(bool),
    TextEq(String),
    TextNe(String),
    TextIn(Vec<String>, bool),
    NumberIn(Vec<f64>, bool),
    DateIn(Vec<i32>, bool),
    TextContains(String),
    ListContains(String),
    /// The list shares at least one value with the given ones (`products in [...]`).
    ListAny(Vec<String>, bool),
    Missing(bool),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Test {
    pub attr: AttrId,
    pub name: String,
    pub span: Span,
    pub kind: TestKind,
}

/// A type-checked condition.
#[derive(Debug, Clone, PartialEq)]
pub enum Cond {
    Const(bool),
    And(Vec<Cond>),
    Or(Vec<Cond>),
    Not(Box<Cond>),
    Test(Test),
}

impl Cond {
    /// Every test in the condition, left to right.
    pub fn tests(&self) -> Vec<&Test> {
        let mut out = Vec::new();
        fn walk<'a>(c: &'a Cond, out: &mut Vec<&'a Test>) {
            match c {
                Cond::Const(_) => {}
                Cond::And(v) | Cond::Or(v) => v.iter().for_each(|c| walk(c, out)),
                Cond::Not(c) => walk(c, out),
                Cond::Test(t) => out.push(t),
            }
        }
        walk(self, &mut out);
        out
    }
}

fn suggest(name: &str, schema: &dyn Schema) -> Option<String> {
    let lower = name.to_lowercase();
    schema
        .names()
        .into_iter()
        .map(|n| {
            let d = if n.to_lowercase() == lower { 0 } else { strsim::levenshtein(&n.to_lowercase(), &lower) };
            (d, n)
        })
        .filter(|(d, n)| *d <= (n.chars().count() / 3).max(2))
        .min()
        .map(|(_, n)| n)
}

fn type_error(span: Span, name: &str, ty: Type, what: &str, expected: &str, found: String) -> Error {
    Error::new(span, format!("`{name}` is {} and cannot be used {what}", ty.name())).expected(expected).found(found)
}

/// Type-checks a syntax tree against the schema. All errors found are returned, in order.
pub fn check(expr: &Expr, schema: &dyn Schema) -> Result<Cond, Vec<Error>> {
    let mut errors = Vec::new();
    let c = check_node(expr, schema, &mut errors);
    if errors.is_empty() {
        Ok(c)
    } else {
        Err(errors)
    }
}

/// [`parse`] then [`check`].
pub fn compile_text(src: &str, schema: &dyn Schema) -> Result<Cond, Vec<Error>> {
    let e = parse(src).map_err(|e| vec![e])?;
    check(&e, schema)
}

fn resolve(path: &str, span: Span, schema: &dyn Schema, errors: &mut Vec<Error>) -> Option<(AttrId, Type)> {
    match schema.resolve(path) {
        Some(r) => Some(r),
        None => {
            let mut e = Error::new(span, format!("unknown attribute `{path}`"))
                .expected("the name of a column of the data or an attribute declared in the scheme");
            if let Some(s) = suggest(path, schema) {
                e = e.help(if syntax::is_plain_name(&s) {
                    format!("did you mean `{s}`?")
                } else {
                    format!("did you mean `{s}`? A name with spaces or symbols is written in backticks: `{s}` == \"…\"")
                });
            }
            errors.push(e);
            None
        }
    }
}

/// Type-checks one node and compiles it. Long by nature, and kept whole: one arm per kind of
/// node, each short, and the arms read best side by side (the same checks for `=`, `in`, `has`).
fn check_node(expr: &Expr, schema: &dyn Schema, errors: &mut Vec<Error>) -> Cond {
    match expr {
        Expr::Lit(Lit::Bool(b), _) => Cond::Const(*b),
        Expr::Lit(l, span) => {
            errors.push(
                Error::new(*span, "a value alone is not a condition")
                    .expected("a test such as `attribute == value`")
                    .found(format!("{} {l}", l.kind())),
            );
            Cond::Const(false)
        }
        Expr::Path(p, span) => match resolve(p, *span, schema, errors) {
            Some((attr, Type::Bool)) => Cond::Test(Test { attr, name: p.clone(), span: *span, kind: TestKind::Truthy }),
            Some((_, t)) => {
                errors.push(
                    Error::new(*span, format!("`{p}` is {} and is not a condition by itself", t.name()))
                        .expected("a test such as `attribute == value` or `attribute is missing`"),
                );
                Cond::Const(false)
            }
            None => Cond::Const(false),
        },
        Expr::And(v, _) => Cond::And(v.iter().map(|e| check_node(e, schema, errors)).collect()),
        Expr::Or(v, _) => Cond::Or(v.iter().map(|e| check_node(e, schema, errors)).collect()),
        Expr::Not(e, _) => Cond::Not(Box::new(check_node(e, schema, errors))),
        Expr::Cmp(l, op, r, span) => {
            let (path, pspan, lit, lspan, op) = match (&**l, &**r) {
                (Expr::Path(p, ps), Expr::Lit(v, vs)) => (p, *ps, v, *vs, *op),
                (Expr::Lit(v, vs), Expr::Path(p, ps)) => (p, *ps, v, *vs, op.flipped()),
                _ => {
                    errors.push(
                        Error::new(*span, "a comparison needs an attribute on one side and a value on the other")
                            .expected("e.g. potential >= 1000 or region == \"RU-MOW\""),
                    );
                    return Cond::Const(false);
                }
            };
            let Some((attr, ty)) = resolve(path, pspan, schema, errors) else {
                return Cond::Const(false);
            };
            let kind = match (ty, lit, op) {
                (Type::Number, Lit::Number(n), op) => Some(TestKind::Number(op, *n)),
                (Type::Date, Lit::Date(d), op) => Some(TestKind::Date(op, *d)),
                (Type::Date, Lit::Text(s), op) => parse_iso_date(s).map(|d| TestKind::Date(op, d)),
                (Type::Bool, Lit::Bool(b), CmpOp::Eq) => Some(TestKind::BoolEq(*b)),
                (Type::Bool, Lit::Bool(b), CmpOp::Ne) => Some(TestKind::BoolEq(!*b)),
                (Type::Text, Lit::Text(s), CmpOp::Eq) => Some(TestKind::TextEq(s.clone())),
                (Type::Text, Lit::Text(s), CmpOp::Ne) => Some(TestKind::TextNe(s.clone())),
                _ => None,
            };
            match kind {
                Some(kind) => Cond::Test(Test { attr, name: path.clone(), span: *span, kind }),
                None => {
                    let (expected, help) = match (ty, op) {
                        (Type::Text, CmpOp::Eq | CmpOp::Ne) => ("text in quotes".to_string(), lit_hint(lit)),
                        (Type::Text, _) => ("`==`, `!=`, `in` or `contains`".into(), None),
                        (Type::Bool, CmpOp::Eq | CmpOp::Ne) => ("true or false".into(), None),
                        (Type::Bool, _) => ("`==` or `!=` with true or false".into(), None),
                        (Type::List, _) => {
                            ("`contains` or `in` for a list".into(), Some(format!("write `{path} contains {lit}` to test one value")))
                        }
                        (Type::Number, _) => ("a number".into(), None),
                        (Type::Date, _) => ("a date as YYYY-MM-DD".into(), None),
                    };
                    let e = type_error(
                        lspan.to(pspan),
                        path,
                        ty,
                        &format!("with `{}` {}", op.as_str(), lit.kind()),
                        &expected,
                        format!("{} {lit}", lit.kind()),
                    );
                    errors.push(match help {
                        Some(h) => e.help(h),
                        None => e,
                    });
                    Cond::Const(false)
                }
            }
        }
        Expr::In { item, list, negated, span } => {
            let Expr::Path(path, pspan) = &**item else {
                errors.push(
                    Error::new(item.span(), "`in` needs an attribute on its left").expected("e.g. region in [\"RU-MOW\", \"RU-SPE\"]"),
                );
                return Cond::Const(false);
            };
            let Some((attr, ty)) = resolve(path, *pspan, schema, errors) else {
                return Cond::Const(false);
            };
            let mut texts = Vec::new();
            let mut nums = Vec::new();
            let mut dates = Vec::new();
            let mut ok = true;
            for (l, lspan) in list {
                match (ty, l) {
                    (Type::Text | Type::List, Lit::Text(s)) => texts.push(s.clone()),
                    (Type::Number, Lit::Number(n)) => nums.push(*n),
                    (Type::Date, Lit::Date(d)) => dates.push(*d),
                    _ => {
                        ok = false;
                        let expected = match ty {
                            Type::Number => "numbers",
                            Type::Date => "dates",
                            Type::Text | Type::List => "text values in quotes",
                            Type::Bool => "`== true` or `== false` instead of a list",
                        };
                        let mut e = Error::new(*lspan, format!("`{path}` is {}, so its list must hold {expected}", ty.name()))
                            .expected(expected)
                            .found(format!("{} {l}", l.kind()));
                        if let Some(h) = lit_hint(l) {
                            e = e.help(h);
                        }
                        errors.push(e);
                    }
                }
            }
            if !ok {
                return Cond::Const(false);
            }
            let kind = match ty {
                Type::Text => TestKind::TextIn(texts, *negated),
                Type::List => TestKind::ListAny(texts, *negated),
                Type::Number => TestKind::NumberIn(nums, *negated),
                Type::Date => TestKind::DateIn(dates, *negated),
                Type::Bool => unreachable!("bool lists are rejected above"),
            };
            Cond::Test(Test { attr, name: path.clone(), span: *span, kind })
        }
        Expr::Contains(l, r, span) => {
            let (Expr::Path(path, pspan), Expr::Lit(lit, lspan)) = (&**l, &**r) else {
                errors.push(
                    Error::new(*span, "`contains` needs an attribute on its left and a value on its right")
                        .expected("e.g. products contains \"servers\""),
                );
                return Cond::Const(false);
            };
            let Some((attr, ty)) = resolve(path, *pspan, schema, errors) else {
                return Cond::Const(false);
            };
            let kind = match (ty, lit) {
                (Type::List, Lit::Text(s)) => TestKind::ListContains(s.clone()),
                (Type::Text, Lit::Text(s)) => TestKind::TextContains(s.clone()),
                _ => {
                    let mut e = type_error(
                        *lspan,
                        path,
                        ty,
                        "with `contains`",
                        "a list or text attribute and a text value",
                        format!("{} {lit}", lit.kind()),
                    );
                    if let Some(h) = lit_hint(lit) {
                        e = e.help(h);
                    }
                    errors.push(e);
                    return Cond::Const(false);
                }
            };
            Cond::Test(Test { attr, name: path.clone(), span: *span, kind })
        }
        Expr::IsMissing { item, negated, span } => {
            let Expr::Path(path, pspan) = &**item else {
                errors.push(Error::new(item.span(), "`is missing` needs an attribute on its left").expected("e.g. industry is missing"));
                return Cond::Const(false);
            };
            let Some((attr, _)) = resolve(path, *pspan, schema, errors) else {
                return Cond::Const(false);
            };
            Cond::Test(Test { attr, name: path.clone(), span: *span, kind: TestKind::Missing(*negated) })
        }
    }
}

fn lit_hint(l: &Lit) -> Option<String> {
    match l {
        Lit::Number(n) => Some(format!("put the value in quotes: \"{n}\"")),
        _ => None,
    }
}

#[derive(Debug, Clone)]
enum Leaf {
    Truthy,
    Number(CmpOp, f64),
    BoolEq(bool),
    TextEq(Option<Sym>),
    TextNe(Option<Sym>),
    TextIn(Box<[Sym]>, bool),
    NumberIn(Box<[f64]>, bool),
    DateIn(Box<[i32]>, bool),
    Date(CmpOp, i32),
    TextContains(Box<str>),
    ListContains(Option<Sym>),
    ListAny(Box<[Sym]>, bool),
    Missing(bool),
}

#[derive(Debug, Clone)]
enum Node {
    Const(bool),
    And(Box<[Node]>),
    Or(Box<[Node]>),
    Not(Box<Node>),
    Leaf(AttrId, Leaf, Span),
}

/// A condition ready to evaluate rows of one data set.
#[derive(Debug, Clone)]
pub struct Matcher {
    root: Node,
}

fn cmp<T: PartialOrd>(op: CmpOp, a: T, b: T) -> bool {
    match op {
        CmpOp::Eq => a == b,
        CmpOp::Ne => a != b,
        CmpOp::Lt => a < b,
        CmpOp::Le => a <= b,
        CmpOp::Gt => a > b,
        CmpOp::Ge => a >= b,
    }
}

/// The (attribute, symbols) keys a rule can be indexed by: from the top-level `and` of a condition,
/// each test of the form `text == "x"` or `text in ["x", "y"]`. A row can only match if its value
/// of that attribute is one of the symbols.
pub type IndexKey = (AttrId, Vec<Sym>);

impl Matcher {
    pub fn compile(cond: &Cond, interner: &dyn Interner) -> Matcher {
        Matcher { root: compile_node(cond, interner) }
    }

    pub fn eval(&self, row: &dyn Row) -> Tri {
        eval_node(&self.root, row, &mut None)
    }

    /// Evaluates and records the value of every test that was looked at, in order.
    pub fn trace(&self, row: &dyn Row) -> (Tri, Vec<(Span, Tri)>) {
        let mut out = Vec::new();
        let t = eval_node(&self.root, row, &mut Some(&mut out));
        (t, out)
    }

    /// Index keys; see [`IndexKey`].
    pub fn index_keys(&self) -> Vec<IndexKey> {
        let items: &[Node] = match &self.root {
            Node::And(v) => v,
            n => std::slice::from_ref(n),
        };
        items
            .iter()
            .filter_map(|n| match n {
                Node::Leaf(a, Leaf::TextEq(s), _) => Some((*a, s.iter().copied().collect())),
                Node::Leaf(a, Leaf::TextIn(v, false), _) => Some((*a, v.to_vec())),
                _ => None,
            })
            .collect()
    }

    /// True when the condition is the constant `false` (e.g. `region == "X"` where no row has X
    /// still is not constant; only literal `false` or an empty `in []` is).
    pub fn is_const(&self) -> Option<bool> {
        match self.root {
            Node::Const(b) => Some(b),
            _ => None,
        }
    }
}

fn compile_node(c: &Cond, i: &dyn Interner) -> Node {
    match c {
        Cond::Const(b) => Node::Const(*b),
        Cond::And(v) => Node::And(v.iter().map(|c| compile_node(c, i)).collect()),
        Cond::Or(v) => Node::Or(v.iter().map(|c| compile_node(c, i)).collect()),
        Cond::Not(c) => Node::Not(Box::new(compile_node(c, i))),
        Cond::Test(t) => {
            let syms = |v: &[String]| -> Box<[Sym]> {
                let mut s: Vec<Sym> = v.iter().filter_map(|x| i.lookup(x)).collect();
                s.sort_unstable();
                s.dedup();
                s.into()
            };
            let leaf = match &t.kind {
                TestKind::Truthy => Leaf::Truthy,
                TestKind::Number(op, n) => Leaf::Number(*op, *n),
                TestKind::Date(op, d) => Leaf::Date(*op, *d),
                TestKind::BoolEq(b) => Leaf::BoolEq(*b),
                TestKind::TextEq(s) => Leaf::TextEq(i.lookup(s)),
                TestKind::TextNe(s) => Leaf::TextNe(i.lookup(s)),
                TestKind::TextIn(v, neg) => Leaf::TextIn(syms(v), *neg),
                TestKind::NumberIn(v, neg) => Leaf::NumberIn(v.clone().into(), *neg),
                TestKind::DateIn(v, neg) => Leaf::DateIn(v.clone().into(), *neg),
                TestKind::TextContains(s) => Leaf::TextContains(s.as_str().into()),
                TestKind::ListContains(s) => Leaf::ListContains(i.lookup(s)),
                TestKind::ListAny(v, neg) => Leaf::ListAny(syms(v), *neg),
                TestKind::Missing(neg) => Leaf::Missing(*neg),
            };
            Node::Leaf(t.attr, leaf, t.span)
        }
    }
}

fn eval_leaf(a: AttrId, leaf: &Leaf, row: &dyn Row) -> Tri {
    macro_rules! get {
        ($e:expr) => {
            match $e {
                Some(v) => v,
                None => return Tri::Unknown,
            }
        };
    }
    match leaf {
        Leaf::Truthy => Tri::from(get!(row.boolean(a))),
        Leaf::Number(op, n) => Tri::from(cmp(*op, get!(row.number(a)), *n)),
        Leaf::Date(op, d) => Tri::from(cmp(*op, get!(row.date(a)), *d)),
        Leaf::BoolEq(b) => Tri::from(get!(row.boolean(a)) == *b),
        Leaf::TextEq(s) => {
            let v = get!(row.text(a));
            Tri::from(Some(v) == *s)
        }
        Leaf::TextNe(s) => {
            let v = get!(row.text(a));
            Tri::from(Some(v) != *s)
        }
        Leaf::TextIn(set, neg) => Tri::from(set.binary_search(&get!(row.text(a))).is_ok() != *neg),
        Leaf::NumberIn(set, neg) => {
            let v = get!(row.number(a));
            Tri::from(set.contains(&v) != *neg)
        }
        Leaf::DateIn(set, neg) => Tri::from(set.contains(&get!(row.date(a))) != *neg),
        Leaf::TextContains(s) => Tri::from(get!(row.text_str(a)).contains(&**s)),
        Leaf::ListContains(s) => {
            let l = get!(row.list(a));
            Tri::from(s.is_some_and(|s| l.contains(&s)))
        }
        Leaf::ListAny(set, neg) => {
            let l = get!(row.list(a));
            Tri::from(l.iter().any(|x| set.binary_search(x).is_ok()) != *neg)
        }
        Leaf::Missing(neg) => Tri::from(row.present(a) == *neg),
    }
}

fn eval_node(n: &Node, row: &dyn Row, trace: &mut Option<&mut Vec<(Span, Tri)>>) -> Tri {
    match n {
        Node::Const(b) => Tri::from(*b),
        Node::And(v) => {
            let mut acc = Tri::True;
            for c in v.iter() {
                match eval_node(c, row, trace) {
                    Tri::False => return Tri::False,
                    Tri::Unknown => acc = Tri::Unknown,
                    Tri::True => {}
                }
            }
            acc
        }
        Node::Or(v) => {
            let mut acc = Tri::False;
            for c in v.iter() {
                match eval_node(c, row, trace) {
                    Tri::True => return Tri::True,
                    Tri::Unknown => acc = Tri::Unknown,
                    Tri::False => {}
                }
            }
            acc
        }
        Node::Not(c) => eval_node(c, row, trace).not(),
        Node::Leaf(a, l, span) => {
            let t = eval_leaf(*a, l, row);
            if let Some(out) = trace {
                out.push((*span, t));
            }
            t
        }
    }
}

#[cfg(test)]
mod tests;
