//! The small database layer the store's logic is written once over: statements in one dialect,
//! values that both drivers bind and read, and rows read by column type.
//!
//! Statements are written for PostgreSQL (`$1` placeholders, `= ANY($1)` for a list,
//! `COLLATE "C"`, `FOR UPDATE`, `CAST(x AS TEXT)`, `strpos`); [`sqlite_dialect`] rewrites the few
//! forms SQLite spells otherwise (`?1`, `IN (SELECT value FROM json_each(?1))`, `COLLATE BINARY`,
//! `instr`, no row locks: its write transaction locks the file). Dates are bound and read as [`Day`]s: PostgreSQL
//! keeps them as `date`, SQLite as `YYYY-MM-DD` text, which orders the same way.

use std::borrow::Cow;
use std::fmt::Write as _;

use crate::{Day, Result, StoreError};

/// A value bound to a statement.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Param<'a> {
    Null,
    Int(i64),
    Text(&'a str),
    Bool(bool),
    Day(Day),
    /// A list, for `= ANY($n)`.
    Ints(&'a [i64]),
    Texts(&'a [String]),
}

impl From<i64> for Param<'_> {
    fn from(v: i64) -> Self {
        Param::Int(v)
    }
}
impl<'a> From<&'a str> for Param<'a> {
    fn from(v: &'a str) -> Self {
        Param::Text(v)
    }
}
impl<'a> From<&'a String> for Param<'a> {
    fn from(v: &'a String) -> Self {
        Param::Text(v)
    }
}
impl From<bool> for Param<'_> {
    fn from(v: bool) -> Self {
        Param::Bool(v)
    }
}
impl From<Day> for Param<'_> {
    fn from(v: Day) -> Self {
        Param::Day(v)
    }
}
impl<'a> From<&'a [i64]> for Param<'a> {
    fn from(v: &'a [i64]) -> Self {
        Param::Ints(v)
    }
}
impl<'a> From<&'a [String]> for Param<'a> {
    fn from(v: &'a [String]) -> Self {
        Param::Texts(v)
    }
}
impl<'a, T: Into<Param<'a>>> From<Option<T>> for Param<'a> {
    fn from(v: Option<T>) -> Self {
        v.map_or(Param::Null, Into::into)
    }
}

/// The parameters of a statement: `params![a, b]`.
macro_rules! params {
    ($($p:expr),* $(,)?) => { &[$($crate::sql::Param::from($p)),*] as &[$crate::sql::Param<'_>] };
}
pub(crate) use params;

/// A value read from a row.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    Null,
    Int(i64),
    Text(String),
    Bool(bool),
    Day(Day),
}

/// A row, its cells taken out by position and type.
#[derive(Debug)]
pub(crate) struct SqlRow(pub(crate) Vec<Value>);

impl SqlRow {
    fn take(&mut self, i: usize) -> Result<Value> {
        match self.0.get_mut(i) {
            Some(v) => Ok(std::mem::replace(v, Value::Null)),
            None => Err(StoreError::Db(format!("the query returned no column {i}"))),
        }
    }
    fn wrong(i: usize, want: &str, got: &Value) -> StoreError {
        StoreError::Db(format!("column {i} holds {got:?} where {want} was expected"))
    }
    pub(crate) fn int(&mut self, i: usize) -> Result<i64> {
        self.opt_int(i)?.ok_or_else(|| Self::wrong(i, "a number", &Value::Null))
    }
    pub(crate) fn opt_int(&mut self, i: usize) -> Result<Option<i64>> {
        match self.take(i)? {
            Value::Null => Ok(None),
            Value::Int(v) => Ok(Some(v)),
            v => Err(Self::wrong(i, "a number", &v)),
        }
    }
    pub(crate) fn text(&mut self, i: usize) -> Result<String> {
        self.opt_text(i)?.ok_or_else(|| Self::wrong(i, "text", &Value::Null))
    }
    pub(crate) fn opt_text(&mut self, i: usize) -> Result<Option<String>> {
        match self.take(i)? {
            Value::Null => Ok(None),
            Value::Text(v) => Ok(Some(v)),
            v => Err(Self::wrong(i, "text", &v)),
        }
    }
    pub(crate) fn day(&mut self, i: usize) -> Result<Day> {
        self.opt_day(i)?.ok_or_else(|| Self::wrong(i, "a date", &Value::Null))
    }
    pub(crate) fn opt_day(&mut self, i: usize) -> Result<Option<Day>> {
        match self.take(i)? {
            Value::Null => Ok(None),
            Value::Day(d) => Ok(Some(d)),
            Value::Text(s) => Day::parse(&s).map(Some).ok_or_else(|| StoreError::Db(format!("a stored date is not YYYY-MM-DD: `{s}`"))),
            v => Err(Self::wrong(i, "a date", &v)),
        }
    }
}

/// A connection or a transaction, as the written-once logic sees it.
pub(crate) trait Db {
    /// Runs a statement; the rows it changed.
    fn exec(&mut self, sql: &str, params: &[Param<'_>]) -> Result<u64>;
    /// Hands each row of a query to `visit`, one at a time, in one reused [`SqlRow`] (a whole
    /// book is millions of rows: none is collected here).
    fn each(&mut self, sql: &str, params: &[Param<'_>], visit: &mut dyn FnMut(&mut SqlRow) -> Result<()>) -> Result<()>;
    /// Every row of a query.
    fn rows(&mut self, sql: &str, params: &[Param<'_>]) -> Result<Vec<SqlRow>> {
        let mut out = Vec::new();
        self.each(sql, params, &mut |r| {
            out.push(SqlRow(std::mem::take(&mut r.0)));
            Ok(())
        })?;
        Ok(out)
    }
    /// The first row, if any.
    fn row(&mut self, sql: &str, params: &[Param<'_>]) -> Result<Option<SqlRow>> {
        Ok(self.rows(sql, params)?.into_iter().next())
    }
    /// The first row, which must be there (an aggregate, `INSERT … RETURNING`).
    fn one(&mut self, sql: &str, params: &[Param<'_>]) -> Result<SqlRow> {
        self.row(sql, params)?.ok_or_else(|| StoreError::Db(format!("no row from `{sql}`")))
    }
}

/// A statement of this module's dialect as SQLite spells it.
pub(crate) fn sqlite_dialect(sql: &str) -> Cow<'_, str> {
    if !sql.contains(['$', '"']) && !sql.contains("FOR UPDATE") && !sql.contains("strpos(") {
        return Cow::Borrowed(sql);
    }
    let mut out = String::with_capacity(sql.len() + 32);
    let mut rest = sql;
    while let Some(c) = rest.chars().next() {
        if c == '\'' {
            // A string literal, copied as it is.
            let end = rest[1..].find('\'').map_or(rest.len(), |e| e + 2);
            out.push_str(&rest[..end]);
            rest = &rest[end..];
        } else if let Some(after) = rest.strip_prefix("= ANY($") {
            let digits = after.bytes().take_while(u8::is_ascii_digit).count();
            let _ = write!(out, "IN (SELECT value FROM json_each(?{}))", &after[..digits]);
            rest = after[digits..].strip_prefix(')').unwrap_or(&after[digits..]);
        } else if let Some(after) = rest.strip_prefix('$').filter(|a| a.starts_with(|c: char| c.is_ascii_digit())) {
            let digits = after.bytes().take_while(u8::is_ascii_digit).count();
            out.push('?');
            out.push_str(&after[..digits]);
            rest = &after[digits..];
        } else if let Some(after) = rest.strip_prefix("COLLATE \"C\"") {
            out.push_str("COLLATE BINARY");
            rest = after;
        } else if let Some(after) = rest.strip_prefix(" FOR UPDATE") {
            rest = after;
        } else if let Some(after) = rest.strip_prefix("strpos(") {
            // Where a text occurs in another (1-based, 0 when it does not), arguments alike.
            out.push_str("instr(");
            rest = after;
        } else {
            out.push(c);
            rest = &rest[c.len_utf8()..];
        }
    }
    Cow::Owned(out)
}

/// A list as a JSON array, the form SQLite's `json_each` reads.
fn json_list<T>(items: &[T], mut each: impl FnMut(&mut String, &T)) -> String {
    let mut out = String::from("[");
    for (i, v) in items.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        each(&mut out, v);
    }
    out.push(']');
    out
}

fn json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

impl rusqlite::ToSql for Param<'_> {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, Value as V, ValueRef};
        Ok(match *self {
            Param::Null => ToSqlOutput::Owned(V::Null),
            Param::Int(v) => ToSqlOutput::Owned(V::Integer(v)),
            Param::Text(s) => ToSqlOutput::Borrowed(ValueRef::Text(s.as_bytes())),
            Param::Bool(b) => ToSqlOutput::Owned(V::Integer(i64::from(b))),
            Param::Day(d) => ToSqlOutput::Owned(V::Text(d.to_string())),
            Param::Ints(v) => ToSqlOutput::Owned(V::Text(json_list(v, |o, i| {
                let _ = write!(o, "{i}");
            }))),
            Param::Texts(v) => ToSqlOutput::Owned(V::Text(json_list(v, |o, s| json_string(o, s)))),
        })
    }
}

/// Days from 1970-01-01 to 2000-01-01, PostgreSQL's day zero.
const PG_DAY_ZERO: i32 = 10_957;

type BoxError = Box<dyn std::error::Error + Sync + Send>;

impl postgres::types::ToSql for Param<'_> {
    fn to_sql(&self, ty: &postgres::types::Type, out: &mut bytes::BytesMut) -> std::result::Result<postgres::types::IsNull, BoxError> {
        use postgres::types::{IsNull, Type};
        match *self {
            Param::Null => Ok(IsNull::Yes),
            Param::Int(v) if *ty == Type::INT4 => i32::try_from(v)?.to_sql(ty, out),
            Param::Int(v) => v.to_sql(ty, out),
            Param::Text(s) => s.to_sql(ty, out),
            Param::Bool(b) => b.to_sql(ty, out),
            Param::Day(d) if *ty == Type::DATE => (d.0 - PG_DAY_ZERO).to_sql(&Type::INT4, out),
            Param::Day(d) => d.to_string().as_str().to_sql(ty, out),
            Param::Ints(v) => v.to_sql(ty, out),
            Param::Texts(v) => v.to_sql(ty, out),
        }
    }
    fn accepts(_: &postgres::types::Type) -> bool {
        true
    }
    postgres::types::to_sql_checked!();
}

impl<'a> postgres::types::FromSql<'a> for Value {
    fn from_sql(ty: &postgres::types::Type, raw: &'a [u8]) -> std::result::Result<Self, BoxError> {
        use postgres::types::{FromSql, Type};
        Ok(match *ty {
            Type::INT8 => Value::Int(i64::from_sql(ty, raw)?),
            Type::INT4 => Value::Int(i32::from_sql(ty, raw)?.into()),
            Type::INT2 => Value::Int(i16::from_sql(ty, raw)?.into()),
            Type::BOOL => Value::Bool(bool::from_sql(ty, raw)?),
            Type::DATE => {
                let d = i32::from_sql(&Type::INT4, raw)?;
                Value::Day(Day(d.checked_add(PG_DAY_ZERO).ok_or("an infinite date")?))
            }
            _ if <String as FromSql>::accepts(ty) => Value::Text(String::from_sql(ty, raw)?),
            _ => return Err(format!("a column of type {ty}, which the store does not read").into()),
        })
    }
    fn from_sql_null(_: &postgres::types::Type) -> std::result::Result<Self, BoxError> {
        Ok(Value::Null)
    }
    fn accepts(_: &postgres::types::Type) -> bool {
        true
    }
}

/// Fills `out` with a PostgreSQL row's cells.
pub(crate) fn pg_row(r: &postgres::Row, out: &mut SqlRow) -> Result<()> {
    out.0.clear();
    for i in 0..r.len() {
        out.0.push(r.try_get::<_, Value>(i)?);
    }
    Ok(())
}

/// Fills `out` with a SQLite row's cells (read by reference: a whole book is tens of millions of
/// cells, and this is the only conversion each goes through).
pub(crate) fn sqlite_row(r: &rusqlite::Row<'_>, out: &mut SqlRow) -> Result<()> {
    use rusqlite::types::ValueRef;
    out.0.clear();
    for i in 0..r.as_ref().column_count() {
        out.0.push(match r.get_ref(i)? {
            ValueRef::Null => Value::Null,
            ValueRef::Integer(v) => Value::Int(v),
            ValueRef::Text(t) => {
                Value::Text(std::str::from_utf8(t).map_err(|e| StoreError::Db(format!("column {i} is not UTF-8 text: {e}")))?.to_owned())
            }
            ValueRef::Real(_) | ValueRef::Blob(_) => return Err(StoreError::Db(format!("column {i} is neither a number nor text"))),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_spells_the_few_forms_it_spells_otherwise() {
        assert_eq!(
            sqlite_dialect("SELECT a FROM t WHERE k = ANY($2) AND b = $1 AND c = '$3' ORDER BY a COLLATE \"C\" FOR UPDATE"),
            "SELECT a FROM t WHERE k IN (SELECT value FROM json_each(?2)) AND b = ?1 AND c = '$3' ORDER BY a COLLATE BINARY"
        );
        assert_eq!(sqlite_dialect("SELECT strpos(find, $1) > 0"), "SELECT instr(find, ?1) > 0");
        assert!(matches!(sqlite_dialect("SELECT 1"), Cow::Borrowed(_)));
    }

    #[test]
    fn a_list_is_bound_to_sqlite_as_json_that_json_each_reads() {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        let texts = ["a\"b".to_string(), "c\\d".into(), "е\u{1}".into()];
        let n: i64 = conn.query_row(&sqlite_dialect("SELECT count(*) FROM json_each($1)"), [Param::Texts(&texts)], |r| r.get(0)).unwrap();
        assert_eq!(n, 3);
        let back: String =
            conn.query_row(&sqlite_dialect("SELECT value FROM json_each($1) WHERE key = 2"), [Param::Texts(&texts)], |r| r.get(0)).unwrap();
        assert_eq!(back, "е\u{1}");
    }
}
