//! From the store back to the engine's inputs: stored JSON attributes read straight into cells.

use super::*;

/// Where the attributes of a stored row go, by their positions in `index`.
pub(crate) trait AttrSink {
    /// Takes the value of the attribute at `slot` from `m`.
    fn put<'de, A: serde::de::MapAccess<'de>>(&mut self, slot: usize, m: &mut A) -> Result<(), A::Error>;
}

/// Walks a stored attribute object once, handing the values of `index`'s attributes to `sink`
/// and skipping the others unread.
pub(crate) fn read_attrs(attrs: &str, index: &FxHashMap<&str, usize>, sink: &mut impl AttrSink) -> Result<(), serde_json::Error> {
    use serde::de::DeserializeSeed;
    let mut de = serde_json::Deserializer::from_str(attrs);
    AttrsSeed { index, sink }.deserialize(&mut de)?;
    de.end()
}

pub(crate) struct AttrsSeed<'c, S> {
    index: &'c FxHashMap<&'c str, usize>,
    sink: &'c mut S,
}

impl<'de, S: AttrSink> serde::de::DeserializeSeed<'de> for AttrsSeed<'_, S> {
    type Value = ();
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de, S: AttrSink> serde::de::Visitor<'de> for AttrsSeed<'_, S> {
    type Value = ();
    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("an object of attributes")
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut m: A) -> Result<(), A::Error> {
        while let Some(col) = m.next_key_seed(KeySeed(self.index))? {
            match col {
                Some(i) => self.sink.put(i, &mut m)?,
                None => {
                    m.next_value::<serde::de::IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
}

/// A key, looked up as it is read: the column's position, if it is one of the columns.
pub(crate) struct KeySeed<'c>(&'c FxHashMap<&'c str, usize>);

impl<'de> serde::de::DeserializeSeed<'de> for KeySeed<'_> {
    type Value = Option<usize>;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Option<usize>, D::Error> {
        d.deserialize_str(self)
    }
}

impl serde::de::Visitor<'_> for KeySeed<'_> {
    type Value = Option<usize>;
    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("an attribute name")
    }
    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Option<usize>, E> {
        Ok(self.0.get(v).copied())
    }
}

/// One stored attribute value (JSON null, true/false, a number, text, a list of texts), its text
/// kept where a [`TextSink`] puts it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Wire<T> {
    Empty,
    Text(T),
    Number(f64),
    Bool(bool),
    List(Vec<String>),
}

/// Where the text of a stored value goes: a string of its own, or a shared buffer.
pub(crate) trait TextSink {
    type Text;
    fn text(&mut self, s: &str) -> Self::Text;
}

/// Reads one stored value, its text into the sink.
pub(crate) struct WireSeed<'a, S>(pub &'a mut S);

impl<'de, S: TextSink> serde::de::DeserializeSeed<'de> for WireSeed<'_, S> {
    type Value = Wire<S::Text>;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de, S: TextSink> serde::de::Visitor<'de> for WireSeed<'_, S> {
    type Value = Wire<S::Text>;
    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a number, text, true/false, a list or null")
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(Wire::Empty)
    }
    fn visit_none<E>(self) -> Result<Self::Value, E> {
        Ok(Wire::Empty)
    }
    fn visit_bool<E>(self, v: bool) -> Result<Self::Value, E> {
        Ok(Wire::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Wire::Number(v as f64))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Wire::Number(v as f64))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Self::Value, E> {
        Ok(Wire::Number(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Wire::Text(self.0.text(v)))
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut a: A) -> Result<Self::Value, A::Error> {
        let mut items = Vec::new();
        while let Some(x) = a.next_element::<String>()? {
            items.push(x);
        }
        Ok(Wire::List(items))
    }
}

/// A sheet of stored rows (id, then `extra`'s column if given, then `columns` read from each
/// row's JSON attributes), built with no allocation per cell.
pub(crate) fn sheet_of<K>(
    what: &str,
    columns: &[Column],
    rows: &[allot_store::Stored<K>],
    extra: Option<(&str, Vec<String>)>,
) -> Result<Sheet, Vec<Diagnostic>> {
    let mut headers = vec!["id".to_string()];
    if let Some((name, _)) = &extra {
        headers.push(name.to_string());
    }
    let first = headers.len();
    headers.extend(columns.iter().map(|c| c.name.clone()));
    let index: FxHashMap<&str, usize> = columns.iter().enumerate().map(|(i, c)| (c.name.as_str(), first + i)).collect();
    let mut b = allot_io::sheet::SheetBuilder::new(&format!("the store's {what}s"), headers, rows.len());
    let too_big = || vec![Diagnostic::error(format!("the store's {what}s hold more than 4 GiB of text, more than allot reads at once"))];
    for (i, r) in rows.iter().enumerate() {
        let row = b.row();
        let id = b.push_text(&r.id).ok_or_else(too_big)?;
        b.set_text(row, 0, id);
        if let Some((_, values)) = &extra {
            let v = b.push_text(&values[i]).ok_or_else(too_big)?;
            b.set_text(row, 1, v);
        }
        let mut sink = Built { b: &mut b, row, full: false };
        let read = read_attrs(&r.attrs, &index, &mut sink);
        if sink.full {
            return Err(too_big());
        }
        read.map_err(|e| vec![Diagnostic::error(format!("stored {what} `{}` is not readable: {e}", r.id))])?;
    }
    Ok(b.finish())
}

/// Puts a stored row's attributes into the sheet being built.
struct Built<'a> {
    b: &'a mut allot_io::sheet::SheetBuilder,
    row: usize,
    /// Whether the sheet's text grew past what it can hold.
    full: bool,
}

impl TextSink for Built<'_> {
    type Text = Option<allot_io::sheet::TextAt>;
    fn text(&mut self, s: &str) -> Self::Text {
        let at = self.b.push_text(s);
        self.full |= at.is_none();
        at
    }
}

impl AttrSink for Built<'_> {
    fn put<'de, A: serde::de::MapAccess<'de>>(&mut self, slot: usize, m: &mut A) -> Result<(), A::Error> {
        match m.next_value_seed(WireSeed(&mut *self))? {
            Wire::Empty | Wire::Text(None) => {}
            Wire::Text(Some(t)) => self.b.set_text(self.row, slot, t),
            Wire::Number(n) => self.b.set_number(self.row, slot, n),
            Wire::Bool(v) => self.b.set_bool(self.row, slot, v),
            Wire::List(l) => self.b.set_list(self.row, slot, l),
        }
        Ok(())
    }
}
