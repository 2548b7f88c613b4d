//! Lexer and parser of the condition language.
//!
//! # Grammar
//!
//! ```text
//! condition := or
//! or        := and ( ("or" | "||") and )*
//! and       := unary ( ("and" | "&&") unary )*
//! unary     := ("not" | "!") unary | test
//! test      := operand ( cmp_op operand
//!                      | "in" list | "not" "in" list
//!                      | "contains" operand
//!                      | "is" "missing" | "is" "not" "missing" )?
//! operand   := literal | path | "(" condition ")"
//! path      := ident ( "." ident )*          e.g. region, client.region
//! list      := "[" ( literal ( "," literal )* ","? )? "]"
//! literal   := string | number | date | "true" | "false"
//! cmp_op    := "==" | "=" | "!=" | "<" | "<=" | ">" | ">="
//! string    := '"' chars '"' | "'" chars "'"   (escapes: \" \' \\ \n \t)
//! number    := "-"? digits ( "." digits )?
//! date      := digit{4} "-" digit{2} "-" digit{2}
//! ident     := (letter | "_") (letter | digit | "_")*   (any Unicode letter, so Cyrillic names work)
//!            | "`" any character but "`" ... "`"     (a header as written: `Сфера деятельности`)
//! ```
//!
//! Keywords (`and or not in contains is missing true false`) are matched case-insensitively.
//! Nesting is limited to [`MAX_DEPTH`] levels so that hostile input cannot overflow the stack.

use crate::{Error, Span};

/// Deepest nesting of parentheses and `not` the parser accepts.
pub const MAX_DEPTH: usize = 64;

#[derive(Debug, Clone, PartialEq)]
pub enum Tok {
    Ident(String),
    Str(String),
    Num(f64),
    Date(i32),
    True,
    False,
    And,
    Or,
    Not,
    In,
    Contains,
    Is,
    Missing,
    Op(CmpOp),
    LParen,
    RParen,
    LBracket,
    RBracket,
    Comma,
    Dot,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl CmpOp {
    pub fn as_str(self) -> &'static str {
        match self {
            CmpOp::Eq => "==",
            CmpOp::Ne => "!=",
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
        }
    }
    /// The operator with its operands swapped (`5 < x` is `x > 5`).
    pub fn flipped(self) -> CmpOp {
        match self {
            CmpOp::Lt => CmpOp::Gt,
            CmpOp::Le => CmpOp::Ge,
            CmpOp::Gt => CmpOp::Lt,
            CmpOp::Ge => CmpOp::Le,
            o => o,
        }
    }
}

fn describe(t: &Tok) -> String {
    match t {
        Tok::Ident(s) => format!("name `{s}`"),
        Tok::Str(s) => format!("text \"{s}\""),
        Tok::Num(n) => format!("number {n}"),
        Tok::Date(_) => "a date".into(),
        Tok::True => "`true`".into(),
        Tok::False => "`false`".into(),
        Tok::And => "`and`".into(),
        Tok::Or => "`or`".into(),
        Tok::Not => "`not`".into(),
        Tok::In => "`in`".into(),
        Tok::Contains => "`contains`".into(),
        Tok::Is => "`is`".into(),
        Tok::Missing => "`missing`".into(),
        Tok::Op(o) => format!("`{}`", o.as_str()),
        Tok::LParen => "`(`".into(),
        Tok::RParen => "`)`".into(),
        Tok::LBracket => "`[`".into(),
        Tok::RBracket => "`]`".into(),
        Tok::Comma => "`,`".into(),
        Tok::Dot => "`.`".into(),
    }
}

/// Whether a name can be written bare in a condition (else it goes in backticks).
pub fn is_plain_name(name: &str) -> bool {
    let mut cs = name.chars();
    cs.next().is_some_and(|c| c.is_alphabetic() || c == '_')
        && cs.all(|c| c.is_alphanumeric() || c == '_')
        && !["and", "or", "not", "in", "contains", "is", "missing", "true", "false"].contains(&name.to_lowercase().as_str())
}

/// A name as it is written in a condition: bare, or in backticks when it holds spaces or symbols.
pub fn write_name(name: &str) -> String {
    if is_plain_name(name) {
        name.to_string()
    } else {
        format!("`{name}`")
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date, or `None` if the date does not exist.
pub fn days_from_civil(y: i32, m: u32, d: u32) -> Option<i32> {
    if !(1..=12).contains(&m) || d == 0 {
        return None;
    }
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let dim = [31, if leap { 29 } else { 28 }, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    if d > dim[(m - 1) as usize] {
        return None;
    }
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let m = m as i32;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d as i32 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Some(era * 146097 + doe - 719468)
}

/// The `YYYY-MM-DD` text of a day number made by [`days_from_civil`].
pub fn civil_from_days(z: i32) -> String {
    let z = z + 719468;
    let era = if z >= 0 { z } else { z - 146096 } / 146097;
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!("{y:04}-{m:02}-{d:02}")
}

/// Parses `YYYY-MM-DD` exactly.
pub fn parse_iso_date(s: &str) -> Option<i32> {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let y: i32 = s[0..4].parse().ok()?;
    let m: u32 = s[5..7].parse().ok()?;
    let d: u32 = s[8..10].parse().ok()?;
    days_from_civil(y, m, d)
}

/// The tokens of a condition with their spans. One state machine over the characters, kept whole:
/// each arm is one kind of token, and splitting it would scatter the position bookkeeping.
pub fn lex(src: &str) -> Result<Vec<(Tok, Span)>, Error> {
    let mut out = Vec::new();
    let chars: Vec<(usize, char)> = src.char_indices().collect();
    let end_of = |i: usize| chars.get(i).map_or(src.len(), |c| c.0);
    let mut i = 0;
    while i < chars.len() {
        let (start, c) = chars[i];
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        let single = |t: Tok| (t, Span::new(start, start + c.len_utf8()));
        match c {
            '(' => out.push(single(Tok::LParen)),
            ')' => out.push(single(Tok::RParen)),
            '[' => out.push(single(Tok::LBracket)),
            ']' => out.push(single(Tok::RBracket)),
            ',' => out.push(single(Tok::Comma)),
            '.' => out.push(single(Tok::Dot)),
            '=' | '!' | '<' | '>' | '&' | '|' => {
                let next = chars.get(i + 1).map(|c| c.1);
                let (tok, len) =
                    match (c, next) {
                        ('=', Some('=')) => (Tok::Op(CmpOp::Eq), 2),
                        ('=', _) => (Tok::Op(CmpOp::Eq), 1),
                        ('!', Some('=')) => (Tok::Op(CmpOp::Ne), 2),
                        ('!', _) => (Tok::Not, 1),
                        ('<', Some('=')) => (Tok::Op(CmpOp::Le), 2),
                        ('<', Some('>')) => (Tok::Op(CmpOp::Ne), 2),
                        ('<', _) => (Tok::Op(CmpOp::Lt), 1),
                        ('>', Some('=')) => (Tok::Op(CmpOp::Ge), 2),
                        ('>', _) => (Tok::Op(CmpOp::Gt), 1),
                        ('&', Some('&')) => (Tok::And, 2),
                        ('|', Some('|')) => (Tok::Or, 2),
                        _ => {
                            return Err(Error::new(Span::new(start, start + 1), format!("unexpected character `{c}`"))
                                .expected(if c == '&' { "`&&`" } else { "`||`" }))
                        }
                    };
                out.push((tok, Span::new(start, end_of(i + len))));
                i += len;
                continue;
            }
            '"' | '\'' => {
                let quote = c;
                let mut s = String::new();
                let mut j = i + 1;
                loop {
                    let Some(&(_, ch)) = chars.get(j) else {
                        return Err(Error::new(Span::new(start, src.len()), "unterminated text").expected(format!("a closing {quote}")));
                    };
                    if ch == quote {
                        break;
                    }
                    if ch == '\\' {
                        let esc = chars.get(j + 1).map(|c| c.1);
                        let e = match esc {
                            Some('n') => '\n',
                            Some('t') => '\t',
                            Some(e @ ('\\' | '"' | '\'')) => e,
                            _ => {
                                return Err(Error::new(Span::new(chars[j].0, end_of(j + 2)), "unknown escape in text")
                                    .expected(r#"one of \" \' \\ \n \t"#))
                            }
                        };
                        s.push(e);
                        j += 2;
                        continue;
                    }
                    s.push(ch);
                    j += 1;
                }
                out.push((Tok::Str(s), Span::new(start, end_of(j + 1))));
                i = j + 1;
                continue;
            }
            '`' => {
                // A quoted name: any column header as people write it (`Сфера деятельности`).
                let Some(len) = chars[i + 1..].iter().position(|c| c.1 == '`') else {
                    return Err(Error::new(Span::new(start, src.len()), "unterminated name in backticks").expected("a closing `"));
                };
                let j = i + 1 + len;
                let name = &src[end_of(i + 1)..chars[j].0];
                if name.trim().is_empty() {
                    return Err(Error::new(Span::new(start, end_of(j + 1)), "empty name in backticks")
                        .expected("a column name between the backticks"));
                }
                out.push((Tok::Ident(name.to_string()), Span::new(start, end_of(j + 1))));
                i = j + 1;
                continue;
            }
            c if c.is_ascii_digit() || (c == '-' && chars.get(i + 1).is_some_and(|n| n.1.is_ascii_digit())) => {
                let mut j = i + 1;
                while j < chars.len() && (chars[j].1.is_ascii_digit() || chars[j].1 == '.' || chars[j].1 == '-' || chars[j].1 == '_') {
                    // A '-' only continues a date (YYYY-MM-...), never a subtraction.
                    if chars[j].1 == '-' && !(j - i == 4 || j - i == 7) {
                        break;
                    }
                    j += 1;
                }
                let text = &src[start..end_of(j)];
                let span = Span::new(start, end_of(j));
                if text.len() == 10 && text.as_bytes()[4] == b'-' {
                    let d = parse_iso_date(text)
                        .ok_or_else(|| Error::new(span, format!("`{text}` is not a valid date")).expected("a date as YYYY-MM-DD"))?;
                    out.push((Tok::Date(d), span));
                } else {
                    let n: f64 = text
                        .replace('_', "")
                        .parse()
                        .map_err(|_| Error::new(span, format!("`{text}` is not a number")).expected("a number such as 1000 or 2.5"))?;
                    out.push((Tok::Num(n), span));
                }
                i = j;
                continue;
            }
            c if c.is_alphabetic() || c == '_' => {
                let mut j = i + 1;
                while j < chars.len() && (chars[j].1.is_alphanumeric() || chars[j].1 == '_') {
                    j += 1;
                }
                let word = &src[start..end_of(j)];
                let tok = match word.to_lowercase().as_str() {
                    "and" => Tok::And,
                    "or" => Tok::Or,
                    "not" => Tok::Not,
                    "in" => Tok::In,
                    "contains" => Tok::Contains,
                    "is" => Tok::Is,
                    "missing" => Tok::Missing,
                    "true" => Tok::True,
                    "false" => Tok::False,
                    _ => Tok::Ident(word.to_string()),
                };
                out.push((tok, Span::new(start, end_of(j))));
                i = j;
                continue;
            }
            _ => {
                return Err(Error::new(Span::new(start, start + c.len_utf8()), format!("unexpected character `{c}`"))
                    .expected("a name, a value, an operator or a parenthesis"))
            }
        }
        i += 1;
    }
    Ok(out)
}

/// A literal value as written.
#[derive(Debug, Clone, PartialEq)]
pub enum Lit {
    Text(String),
    Number(f64),
    Bool(bool),
    Date(i32),
}

impl Lit {
    pub fn kind(&self) -> &'static str {
        match self {
            Lit::Text(_) => "text",
            Lit::Number(_) => "number",
            Lit::Bool(_) => "bool",
            Lit::Date(_) => "date",
        }
    }
}

impl std::fmt::Display for Lit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Lit::Text(s) => write!(f, "{s:?}"),
            Lit::Number(n) => write!(f, "{n}"),
            Lit::Bool(b) => write!(f, "{b}"),
            Lit::Date(d) => f.write_str(&civil_from_days(*d)),
        }
    }
}

/// Untyped syntax tree, with the span of every node.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Lit(Lit, Span),
    Path(String, Span),
    And(Vec<Expr>, Span),
    Or(Vec<Expr>, Span),
    Not(Box<Expr>, Span),
    Cmp(Box<Expr>, CmpOp, Box<Expr>, Span),
    In { item: Box<Expr>, list: Vec<(Lit, Span)>, negated: bool, span: Span },
    Contains(Box<Expr>, Box<Expr>, Span),
    IsMissing { item: Box<Expr>, negated: bool, span: Span },
}

impl Expr {
    pub fn span(&self) -> Span {
        match self {
            Expr::Lit(_, s)
            | Expr::Path(_, s)
            | Expr::And(_, s)
            | Expr::Or(_, s)
            | Expr::Not(_, s)
            | Expr::Cmp(_, _, _, s)
            | Expr::Contains(_, _, s) => *s,
            Expr::In { span, .. } | Expr::IsMissing { span, .. } => *span,
        }
    }
}

struct Parser<'a> {
    toks: &'a [(Tok, Span)],
    pos: usize,
    src_len: usize,
    depth: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos).map(|t| &t.0)
    }
    fn here(&self) -> Span {
        self.toks.get(self.pos).map_or(Span::new(self.src_len, self.src_len), |t| t.1)
    }
    fn found(&self) -> String {
        self.peek().map_or("the end of the condition".into(), describe)
    }
    fn err(&self, expected: &str) -> Error {
        let what = match self.peek() {
            None => "the condition ends too early".to_string(),
            Some(t) => format!("unexpected {}", describe(t)),
        };
        Error::new(self.here(), what).expected(expected).found(self.found())
    }
    fn bump(&mut self) -> Span {
        let s = self.here();
        self.pos += 1;
        s
    }
    fn eat(&mut self, t: &Tok) -> bool {
        if self.peek() == Some(t) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn or(&mut self) -> Result<Expr, Error> {
        let first = self.and()?;
        let mut items = vec![first];
        while self.eat(&Tok::Or) {
            items.push(self.and()?);
        }
        Ok(if items.len() == 1 {
            items.pop().expect("one item")
        } else {
            let span = items[0].span().to(items[items.len() - 1].span());
            Expr::Or(items, span)
        })
    }

    fn and(&mut self) -> Result<Expr, Error> {
        let first = self.unary()?;
        let mut items = vec![first];
        while self.eat(&Tok::And) {
            items.push(self.unary()?);
        }
        Ok(if items.len() == 1 {
            items.pop().expect("one item")
        } else {
            let span = items[0].span().to(items[items.len() - 1].span());
            Expr::And(items, span)
        })
    }

    fn deeper(&mut self) -> Result<(), Error> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(Error::new(self.here(), "the condition is nested too deeply")
                .expected(format!("at most {MAX_DEPTH} levels of parentheses and `not`")));
        }
        Ok(())
    }

    fn unary(&mut self) -> Result<Expr, Error> {
        if self.peek() == Some(&Tok::Not) {
            let start = self.bump();
            self.deeper()?;
            let inner = self.unary()?;
            self.depth -= 1;
            let span = start.to(inner.span());
            return Ok(Expr::Not(Box::new(inner), span));
        }
        self.test()
    }

    fn test(&mut self) -> Result<Expr, Error> {
        let left = self.operand()?;
        match self.peek() {
            Some(Tok::Op(op)) => {
                let op = *op;
                self.bump();
                let right = self.operand()?;
                let span = left.span().to(right.span());
                Ok(Expr::Cmp(Box::new(left), op, Box::new(right), span))
            }
            Some(Tok::In) => {
                self.bump();
                let (list, end) = self.list()?;
                let span = left.span().to(end);
                Ok(Expr::In { item: Box::new(left), list, negated: false, span })
            }
            Some(Tok::Not) if self.toks.get(self.pos + 1).map(|t| &t.0) == Some(&Tok::In) => {
                self.pos += 2;
                let (list, end) = self.list()?;
                let span = left.span().to(end);
                Ok(Expr::In { item: Box::new(left), list, negated: true, span })
            }
            Some(Tok::Contains) => {
                self.bump();
                let right = self.operand()?;
                let span = left.span().to(right.span());
                Ok(Expr::Contains(Box::new(left), Box::new(right), span))
            }
            Some(Tok::Is) => {
                self.bump();
                let negated = self.eat(&Tok::Not);
                if self.peek() != Some(&Tok::Missing) {
                    return Err(self.err("`missing` (as in `x is missing` or `x is not missing`)"));
                }
                let end = self.bump();
                let span = left.span().to(end);
                Ok(Expr::IsMissing { item: Box::new(left), negated, span })
            }
            _ => Ok(left),
        }
    }

    fn literal(&mut self) -> Option<(Lit, Span)> {
        let lit = match self.peek()? {
            Tok::Str(s) => Lit::Text(s.clone()),
            Tok::Num(n) => Lit::Number(*n),
            Tok::Date(d) => Lit::Date(*d),
            Tok::True => Lit::Bool(true),
            Tok::False => Lit::Bool(false),
            _ => return None,
        };
        Some((lit, self.bump()))
    }

    fn list(&mut self) -> Result<(Vec<(Lit, Span)>, Span), Error> {
        if !self.eat(&Tok::LBracket) {
            return Err(self.err("a list of values in brackets, such as [\"RU-MOW\", \"RU-SPE\"]"));
        }
        let mut items = Vec::new();
        loop {
            if self.peek() == Some(&Tok::RBracket) {
                break;
            }
            match self.literal() {
                Some(l) => items.push(l),
                None => return Err(self.err("a value (text, number, date, true or false) or `]`")),
            }
            if !self.eat(&Tok::Comma) {
                break;
            }
        }
        if self.peek() != Some(&Tok::RBracket) {
            return Err(self.err("`,` or `]`"));
        }
        Ok((items, self.bump()))
    }

    fn operand(&mut self) -> Result<Expr, Error> {
        if let Some((lit, span)) = self.literal() {
            return Ok(Expr::Lit(lit, span));
        }
        match self.peek() {
            Some(Tok::Ident(_)) => {
                let mut span = self.here();
                let mut path = match self.peek() {
                    Some(Tok::Ident(s)) => s.clone(),
                    _ => unreachable!("checked above"),
                };
                self.bump();
                while self.peek() == Some(&Tok::Dot) {
                    self.bump();
                    match self.peek() {
                        Some(Tok::Ident(s)) => {
                            path.push('.');
                            path.push_str(s);
                            span = span.to(self.bump());
                        }
                        _ => return Err(self.err("an attribute name after `.`")),
                    }
                }
                Ok(Expr::Path(path, span))
            }
            Some(Tok::LParen) => {
                let start = self.bump();
                self.deeper()?;
                let inner = self.or()?;
                self.depth -= 1;
                if self.peek() != Some(&Tok::RParen) {
                    return Err(self.err("`)`"));
                }
                let end = self.bump();
                // Keep the inner node; widen nothing so that spans point at the test itself.
                let _ = start.to(end);
                Ok(inner)
            }
            _ => Err(self.err("an attribute name, a value or `(`")),
        }
    }
}

/// Parses a condition into its syntax tree.
pub fn parse(src: &str) -> Result<Expr, Error> {
    let toks = lex(src)?;
    if toks.is_empty() {
        return Err(
            Error::new(Span::new(0, src.len()), "the condition is empty").expected("a condition such as region == \"RU-MOW\", or `true`")
        );
    }
    let mut p = Parser { toks: &toks, pos: 0, src_len: src.len(), depth: 0 };
    let e = p.or()?;
    if p.pos < toks.len() {
        return Err(p.err("`and`, `or` or the end of the condition"));
    }
    Ok(e)
}
