//! Value dictionaries: what a file says → what the scheme uses (issue #14).
//!
//! A CRM export writes a region as `Татарстан`, `Респ. Татарстан`, `Республика Татарстан` or
//! `RU-TA`; a scheme names it once, as `RU-TA`. Every text cell of a column that has a dictionary
//! is looked up by its [`key`] (case, `ё`/`е`, punctuation and dashes do not matter) and replaced by
//! the canonical value; a value the dictionary does not know is kept as it is.
//!
//! - The `region` column has a built-in dictionary: the 83 federal subjects of Russia from
//!   `data/ru/regions.csv` (GeoNames, CC BY 4.0) by ISO 3166-2 code, Russian and English name,
//!   the usual short forms (`Респ.`, `обл.`, `кр.`, `АО`, `г.`, in front or behind, or left out)
//!   and the common other names in `data/ru/region_aliases.csv` (ХМАО, Чувашия, СПб, ...). When a
//!   region column holds Russian regions, a value it cannot place is a warning naming the nearest.
//! - A scheme adds maps of its own for any column: `[values.industry]` `"ИТ" = "it"` (see
//!   docs/scheme.md); a scheme's map for `region` is consulted before the built-in one.

use std::collections::{BTreeMap, HashMap};
use std::sync::OnceLock;

const REGIONS: &str = include_str!("../../../data/ru/regions.csv");
const REGION_ALIASES: &str = include_str!("../../../data/ru/region_aliases.csv");

/// The form a value is looked up by: lower case, `ё` as `е`, punctuation, quotes and dashes as
/// spaces, runs of spaces as one.
pub fn key(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut space = true;
    for c in s.chars() {
        let c = match c {
            'ё' | 'Ё' => 'е',
            '.' | ',' | '(' | ')' | '"' | '\'' | '«' | '»' | '—' | '–' | '-' | '/' | '\\' => ' ',
            c if c.is_whitespace() => ' ',
            c => c,
        };
        if c == ' ' {
            if !space {
                out.push(' ');
            }
            space = true;
        } else {
            out.extend(c.to_lowercase());
            space = false;
        }
    }
    if out.ends_with(' ') {
        out.pop();
    }
    out
}

/// One column's dictionary.
#[derive(Debug, Clone, Default)]
pub struct ValueMap {
    by_key: HashMap<String, String>,
    /// Whether this is the built-in region dictionary (unknown values are then warned about).
    regions: bool,
    /// Names offered as "did you mean" (the canonical value with its full name).
    names: Vec<(String, String)>,
}

impl ValueMap {
    /// A map from a scheme: every written form → its canonical value.
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> ValueMap {
        let mut m = ValueMap::default();
        for (from, to) in pairs {
            m.by_key.insert(key(from), to.to_string());
            m.by_key.entry(key(to)).or_insert_with(|| to.to_string());
        }
        m
    }
    /// The canonical value of a written one, if the dictionary knows it.
    pub fn get(&self, written: &str) -> Option<&str> {
        self.by_key.get(&key(written)).map(String::as_str)
    }
    /// The canonical values with their full names (the built-in regions: code and Russian name).
    pub fn names(&self) -> &[(String, String)] {
        &self.names
    }
    /// Whether unknown values deserve a warning (the built-in region dictionary).
    pub fn warns(&self) -> bool {
        self.regions
    }
    /// Up to three known names nearest to a written value, as `Республика Татарстан (RU-TA)`:
    /// by the closest of each value's written forms.
    pub fn nearest(&self, written: &str) -> Vec<String> {
        let k = key(written);
        let mut best: HashMap<&str, usize> = HashMap::new();
        for (form, value) in &self.by_key {
            let d = strsim::levenshtein(form, &k);
            if d <= (form.chars().count() / 3).max(2) {
                let e = best.entry(value.as_str()).or_insert(d);
                *e = (*e).min(d);
            }
        }
        let mut scored: Vec<(usize, &str)> = best.into_iter().map(|(v, d)| (d, v)).collect();
        scored.sort();
        scored
            .into_iter()
            .take(3)
            .map(|(_, v)| match self.names.iter().find(|n| n.0 == v) {
                Some((code, name)) => format!("{name} ({code})"),
                None => v.to_string(),
            })
            .collect()
    }
}

/// Parses a CSV of the shipped data (plain, no quoted commas) into rows of fields.
fn rows(text: &str) -> impl Iterator<Item = Vec<&str>> {
    text.lines().skip(1).filter(|l| !l.trim().is_empty()).map(|l| l.split(',').collect())
}

/// The written forms of a Russian region name: the name, its core without the kind of subject,
/// and the kind's short forms in front of or behind the core.
fn russian_forms(name: &str) -> Vec<String> {
    const KINDS: [(&str, &[&str]); 6] = [
        ("автономный округ", &["автономный округ", "ао", "авт округ"]),
        ("автономная область", &["автономная область", "ао", "аобл"]),
        ("республика", &["республика", "респ"]),
        ("область", &["область", "обл"]),
        ("край", &["край", "кр"]),
        ("", &["г", "город"]),
    ];
    let full = key(name);
    let mut out = vec![full.clone()];
    // The part before a dash stands alone too (Ханты-Мансийский автономный округ — Югра).
    let main = key(name.split(" — ").next().unwrap_or(name));
    for (kind, short) in KINDS {
        let core = if kind.is_empty() {
            main.clone()
        } else if let Some(c) = main.strip_prefix(&format!("{kind} ")) {
            c.to_string()
        } else if let Some(c) = main.strip_suffix(&format!(" {kind}")) {
            c.to_string()
        } else {
            continue;
        };
        out.push(core.clone());
        for s in short {
            out.push(format!("{s} {core}"));
            out.push(format!("{core} {s}"));
        }
        break;
    }
    out
}

/// The forms of an English region name: the name and its core (Tatarstan, Moscow Oblast → Moscow).
fn english_forms(name: &str) -> Vec<String> {
    let full = key(name);
    let mut out = vec![full.clone()];
    for affix in ["republic of ", " republic", " oblast", " krai", " autonomous okrug", " autonomous oblast"] {
        let core = if affix.starts_with(' ') { full.strip_suffix(affix) } else { full.strip_prefix(affix) };
        if let Some(c) = core {
            out.push(c.to_string());
        }
    }
    out
}

/// The built-in dictionary of Russia's regions.
pub fn regions() -> &'static ValueMap {
    static MAP: OnceLock<ValueMap> = OnceLock::new();
    MAP.get_or_init(|| {
        let mut forms: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let mut names = Vec::new();
        for f in rows(REGIONS) {
            let (iso, en, ru) = (f[0], f[1], f[2]);
            let list = forms.entry(iso.to_string()).or_default();
            list.push(key(iso));
            list.extend(russian_forms(ru));
            list.extend(english_forms(en));
            names.push((iso.to_string(), ru.to_string()));
        }
        for f in rows(REGION_ALIASES) {
            forms.entry(f[0].to_string()).or_default().extend(russian_forms(f[1]));
        }
        // A form two regions share names neither (it is left to the scheme's own map).
        let mut owner: HashMap<String, Option<String>> = HashMap::new();
        for (iso, list) in &forms {
            for k in list.iter().filter(|k| !k.is_empty()) {
                owner
                    .entry(k.clone())
                    .and_modify(|o| {
                        if o.as_deref() != Some(iso) {
                            *o = None
                        }
                    })
                    .or_insert_with(|| Some(iso.clone()));
            }
        }
        let by_key = owner.into_iter().filter_map(|(k, o)| o.map(|iso| (k, iso))).collect();
        ValueMap { by_key, regions: true, names }
    })
}

/// The dictionaries of every column of one subject (clients or deals).
#[derive(Debug, Clone, Default)]
pub struct ValueMaps {
    maps: BTreeMap<String, ValueMap>,
    /// Whether `region` is looked up in the built-in dictionary.
    builtin_regions: bool,
}

impl ValueMaps {
    /// No dictionary at all (stored rows, already normalised when they were imported).
    pub fn none() -> ValueMaps {
        ValueMaps::default()
    }
    /// The built-in region dictionary only (a file read without a scheme).
    pub fn builtin() -> ValueMaps {
        ValueMaps { maps: BTreeMap::new(), builtin_regions: true }
    }
    /// The built-in region dictionary and a scheme's own maps.
    pub fn with(maps: BTreeMap<String, ValueMap>) -> ValueMaps {
        ValueMaps { maps, builtin_regions: true }
    }
    /// The canonical value of a written one in `column` (`None`: keep it as written), and whether
    /// the column's dictionary warns about values it does not know.
    pub fn lookup(&self, column: &str, written: &str) -> Lookup<'_> {
        if let Some(v) = self.maps.get(column).and_then(|m| m.get(written)) {
            return Lookup::Known(v);
        }
        if column == "region" && self.builtin_regions {
            return match regions().get(written) {
                Some(v) => Lookup::Known(v),
                None => Lookup::Unknown(Some(regions())),
            };
        }
        Lookup::Unknown(None)
    }
    /// Whether any dictionary applies to `column`.
    pub fn has(&self, column: &str) -> bool {
        self.maps.contains_key(column) || (column == "region" && self.builtin_regions)
    }
}

/// What a dictionary says of a value.
pub enum Lookup<'a> {
    Known(&'a str),
    /// Not known; the dictionary that would warn about it, if it warns.
    Unknown(Option<&'a ValueMap>),
}

/// Normalises a value for a column with the built-in dictionaries alone (values that arrive
/// without a file, e.g. a lead over HTTP): the canonical form, or the value as written.
pub fn normalise<'a>(maps: &'a ValueMaps, column: &str, written: &'a str) -> &'a str {
    match maps.lookup(column, written) {
        Lookup::Known(v) => v,
        Lookup::Unknown(_) => written,
    }
}
