//! Data-driven tests: one `check` helper turns a condition and a row into the printed outcome.

use super::*;

struct TestSchema;

const ATTRS: &[(&str, Type)] = &[
    ("region", Type::Text),
    ("industry", Type::Text),
    ("potential", Type::Number),
    ("vip", Type::Bool),
    ("products", Type::List),
    ("since", Type::Date),
    ("client.ownership", Type::Text),
    ("регион", Type::Text),
];

impl Schema for TestSchema {
    fn resolve(&self, path: &str) -> Option<(AttrId, Type)> {
        ATTRS.iter().position(|(n, _)| *n == path).map(|i| (AttrId(i as u32), ATTRS[i].1))
    }
    fn names(&self) -> Vec<String> {
        ATTRS.iter().map(|(n, _)| n.to_string()).collect()
    }
}

const SYMS: &[&str] = &["RU-MOW", "RU-TA", "servers", "printers", "government", "Москва", "C"];

struct Syms;
impl Interner for Syms {
    fn lookup(&self, text: &str) -> Option<Sym> {
        SYMS.iter().position(|s| *s == text).map(|i| i as Sym)
    }
}

/// A row: region, industry, potential, vip, products, since, client.ownership, регион.
#[derive(Default)]
struct R {
    region: Option<Sym>,
    industry: Option<Sym>,
    potential: Option<f64>,
    vip: Option<bool>,
    products: Option<Vec<Sym>>,
    since: Option<i32>,
    ownership: Option<Sym>,
}

impl Row for R {
    fn number(&self, a: AttrId) -> Option<f64> {
        (a.0 == 2).then_some(self.potential).flatten()
    }
    fn date(&self, a: AttrId) -> Option<i32> {
        (a.0 == 5).then_some(self.since).flatten()
    }
    fn boolean(&self, a: AttrId) -> Option<bool> {
        (a.0 == 3).then_some(self.vip).flatten()
    }
    fn text(&self, a: AttrId) -> Option<Sym> {
        match a.0 {
            0 | 7 => self.region,
            1 => self.industry,
            6 => self.ownership,
            _ => None,
        }
    }
    fn text_str(&self, a: AttrId) -> Option<&str> {
        self.text(a).map(|s| SYMS[s as usize])
    }
    fn list(&self, a: AttrId) -> Option<&[Sym]> {
        (a.0 == 4).then_some(self.products.as_deref()).flatten()
    }
    fn present(&self, a: AttrId) -> bool {
        self.number(a).is_some() || self.date(a).is_some() || self.boolean(a).is_some() || self.text(a).is_some() || self.list(a).is_some()
    }
}

fn moscow_vip() -> R {
    R {
        region: Some(0),
        industry: None,
        potential: Some(1500.0),
        vip: Some(true),
        products: Some(vec![2]),
        since: parse_iso_date("2024-03-01"),
        ownership: Some(4),
    }
}

/// Evaluates `src` on `row`, or renders the errors as `col..col: message; help`.
fn check(src: &str, row: &R) -> String {
    match compile_text(src, &TestSchema) {
        Ok(c) => format!("{:?}", Matcher::compile(&c, &Syms).eval(row)),
        Err(errs) => errs
            .iter()
            .map(|e| {
                let mut s = format!("{}..{}: {e}", e.span.start, e.span.end);
                if let Some(h) = &e.help {
                    s.push_str(&format!(" (help: {h})"));
                }
                s
            })
            .collect::<Vec<_>>()
            .join("\n"),
    }
}

#[test]
fn comparisons_and_sets_follow_the_data() {
    let r = moscow_vip();
    for (src, want) in [
        (r#"region == "RU-MOW""#, "True"),
        (r#"region = "RU-MOW""#, "True"),
        (r#"region != "RU-MOW""#, "False"),
        (r#"region in ["RU-TA", "RU-MOW"]"#, "True"),
        (r#"region not in ["RU-TA", "RU-MOW"]"#, "False"),
        (r#"region == "nowhere""#, "False"),
        ("potential >= 1500", "True"),
        ("potential > 1500", "False"),
        ("1000 < potential", "True"),
        ("potential in [1, 1500]", "True"),
        ("potential < 1_000", "False"),
        ("vip", "True"),
        ("!vip", "False"),
        ("vip == false", "False"),
        (r#"products contains "servers""#, "True"),
        (r#"products contains "printers""#, "False"),
        (r#"products in ["printers", "servers"]"#, "True"),
        (r#"region contains "MO""#, "True"),
        ("since < 2024-03-02", "True"),
        (r#"since >= "2024-03-02""#, "False"),
        ("since in [2024-03-01]", "True"),
        ("industry is missing", "True"),
        ("industry is not missing", "False"),
        (r#"client.ownership == "government" AND (vip || potential < 10)"#, "True"),
        ("true", "True"),
        ("not true or false", "False"),
    ] {
        assert_eq!(check(src, &r), want, "{src}");
    }
}

#[test]
fn a_test_on_a_missing_value_is_unknown_not_false() {
    let r = moscow_vip();
    assert_eq!(check(r#"industry == "C""#, &r), "Unknown");
    assert_eq!(check(r#"not (industry == "C")"#, &r), "Unknown");
    assert_eq!(check(r#"industry == "C" and vip == false"#, &r), "False");
    assert_eq!(check(r#"industry == "C" or vip"#, &r), "True");
    assert_eq!(check(r#"industry == "C" or not vip"#, &r), "Unknown");
}

#[test]
fn cyrillic_names_and_values_work() {
    let r = R { region: Some(5), ..Default::default() };
    assert_eq!(check(r#"регион == "Москва""#, &r), "True");
}

#[test]
fn errors_point_at_the_spot_and_say_what_was_expected() {
    let r = moscow_vip();
    insta::assert_snapshot!(check(r#"regoin == "RU-MOW""#, &r), @"0..6: unknown attribute `regoin`; expected the name of a column of the data or an attribute declared in the scheme (help: did you mean `region`?)");
    insta::assert_snapshot!(check("region == 77", &r), @r#"0..12: `region` is text and cannot be used with `==` number; expected text in quotes, found number 77 (help: put the value in quotes: "77")"#);
    insta::assert_snapshot!(check(r#"potential > "big""#, &r), @r#"0..17: `potential` is number and cannot be used with `>` text; expected a number, found text "big""#);
    insta::assert_snapshot!(check(r#"products == "servers""#, &r), @r#"0..21: `products` is list and cannot be used with `==` text; expected `contains` or `in` for a list, found text "servers" (help: write `products contains "servers"` to test one value)"#);
    insta::assert_snapshot!(check(r#"region == "RU-MOW" and"#, &r), @"22..22: the condition ends too early; expected an attribute name, a value or `(`, found the end of the condition");
    insta::assert_snapshot!(check(r#"region == "RU-MOW"#, &r), @"10..17: unterminated text; expected a closing \"");
    insta::assert_snapshot!(check("potential >= 10 potential", &r), @"16..25: unexpected name `potential`; expected `and`, `or` or the end of the condition, found name `potential`");
    insta::assert_snapshot!(check("since > 2024-02-30", &r), @"8..18: `2024-02-30` is not a valid date; expected a date as YYYY-MM-DD");
    insta::assert_snapshot!(check("", &r), @"0..0: the condition is empty; expected a condition such as region == \"RU-MOW\", or `true`");
    insta::assert_snapshot!(check("region in [1, \"RU-TA\"]", &r), @r#"11..12: `region` is text, so its list must hold text values in quotes; expected text values in quotes, found number 1 (help: put the value in quotes: "1")"#);
}

#[test]
fn every_error_in_a_condition_is_reported_at_once() {
    let out = check(r#"regoin == "x" and potentail > 5"#, &moscow_vip());
    assert_eq!(out.lines().count(), 2, "{out}");
    assert!(out.contains("`potential`"), "{out}");
}

#[test]
fn deep_nesting_is_refused_not_overflowed() {
    let src = format!("{}true{}", "(".repeat(10_000), ")".repeat(10_000));
    assert!(check(&src, &moscow_vip()).contains("nested too deeply"));
    let src = format!("{}true", "not ".repeat(10_000));
    assert!(check(&src, &moscow_vip()).contains("nested too deeply"));
}

#[test]
fn index_keys_come_from_top_level_equalities() {
    let c = compile_text(r#"region in ["RU-TA", "RU-MOW"] and potential > 5 and industry == "C""#, &TestSchema).unwrap();
    let m = Matcher::compile(&c, &Syms);
    assert_eq!(m.index_keys(), vec![(AttrId(0), vec![0, 1]), (AttrId(1), vec![6])]);
    let c = compile_text(r#"region == "RU-TA" or vip"#, &TestSchema).unwrap();
    assert!(Matcher::compile(&c, &Syms).index_keys().is_empty());
}

#[test]
fn trace_records_each_test_looked_at() {
    let c = compile_text(r#"vip and region == "RU-TA""#, &TestSchema).unwrap();
    let (t, tr) = Matcher::compile(&c, &Syms).trace(&moscow_vip());
    assert_eq!(t, Tri::False);
    assert_eq!(tr, vec![(Span::new(0, 3), Tri::True), (Span::new(8, 25), Tri::False)]);
}

#[test]
fn dates_round_trip() {
    for s in ["1970-01-01", "2000-02-29", "2024-12-31", "1899-03-01"] {
        assert_eq!(civil_from_days(parse_iso_date(s).unwrap()), s);
    }
    assert_eq!(parse_iso_date("2023-02-29"), None);
}

proptest::proptest! {
    #[test]
    fn parsing_any_text_never_panics(s in "\\PC{0,80}") {
        let _ = check(&s, &moscow_vip());
        crate::fuzzing::check_one(&s);
    }

    #[test]
    fn parsing_token_soup_never_panics(toks in proptest::collection::vec(proptest::sample::select(vec![
        "region", "potential", "vip", "products", "(", ")", "[", "]", ",", "and", "or", "not", "in",
        "contains", "is", "missing", "==", "!=", "<", ">=", "\"RU-MOW\"", "5", "2024-01-01", "true", "!", "&&", "||", "client.ownership", ".",
    ]), 0..20)) {
        let _ = check(&toks.join(" "), &moscow_vip());
    }
}

#[test]
fn the_fuzz_corpus_replays_without_a_panic() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/condition");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        if let Ok(text) = std::str::from_utf8(&bytes) {
            crate::fuzzing::check_one(text);
            n += 1;
        }
    }
    assert!(n >= 8, "the corpus at {} has {n} entries", dir.display());
}

#[test]
fn names_in_backticks_hold_spaces_and_symbols() {
    use crate::syntax::{lex, write_name, Tok};
    let toks: Vec<Tok> =
        lex("`Сфера деятельности` == \"ИТ\" and client.`Тип (CRM)` is missing").unwrap().into_iter().map(|t| t.0).collect();
    assert_eq!(toks[0], Tok::Ident("Сфера деятельности".into()));
    assert_eq!(toks[6], Tok::Ident("Тип (CRM)".into()));
    assert!(lex("`open").unwrap_err().message.contains("unterminated name"));
    assert!(lex("`` == 1").unwrap_err().message.contains("empty name"));
    assert_eq!(write_name("region"), "region");
    assert_eq!(write_name("Сфера деятельности"), "`Сфера деятельности`");
    assert_eq!(write_name("in"), "`in`", "a keyword as a column name needs backticks too");
}
