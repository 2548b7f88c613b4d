//! What a person reads, in Russian (first) and English: one Fluent catalogue per language
//! (`locales/ru.ftl`, `locales/en.ftl`, embedded), and the formats of numbers, money and dates
//! each language writes — 1 234 567,89 ₽ and 29.11.2026 in Russian, 1,234,567.89 and 2026-11-29
//! in English. Pure: no IO, no clock; the language is the caller's choice (a header, a switch,
//! `--lang`, the environment).

use std::sync::OnceLock;

use fluent_bundle::concurrent::FluentBundle;
use fluent_bundle::{FluentArgs, FluentResource, FluentValue};

pub mod format;

/// A language of the catalogue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Lang {
    #[default]
    Ru,
    En,
}

impl Lang {
    pub const ALL: [Lang; 2] = [Lang::Ru, Lang::En];

    pub fn code(self) -> &'static str {
        match self {
            Lang::Ru => "ru",
            Lang::En => "en",
        }
    }

    /// `ru`, `en`, `ru-RU`, `en_US.UTF-8` …; none of ours: `None`.
    pub fn parse(s: &str) -> Option<Lang> {
        let base = s.trim().split(['-', '_', '.', ';']).next()?.to_ascii_lowercase();
        match base.as_str() {
            "ru" => Some(Lang::Ru),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    /// The best of ours for an `Accept-Language` header (by its q-values, in order among equals);
    /// Russian when it names neither.
    pub fn from_accept_language(header: &str) -> Lang {
        let mut best: Option<(f32, usize, Lang)> = None;
        for (i, part) in header.split(',').enumerate() {
            let mut it = part.split(';');
            let Some(lang) = it.next().and_then(Lang::parse) else { continue };
            let q = it.find_map(|p| p.trim().strip_prefix("q=")).and_then(|q| q.trim().parse::<f32>().ok()).unwrap_or(1.0);
            if q > 0.0 && best.is_none_or(|(bq, bi, _)| q > bq || (q == bq && i < bi)) {
                best = Some((q, i, lang));
            }
        }
        best.map_or(Lang::Ru, |b| b.2)
    }

    /// The language of a locale environment (`LC_ALL`, `LC_MESSAGES`, `LANG`, given by the caller
    /// in that order); Russian when none is ours.
    pub fn from_locale<'a>(values: impl IntoIterator<Item = Option<&'a str>>) -> Lang {
        Lang::from_locale_or(values, Lang::Ru)
    }

    /// As [`Lang::from_locale`], with `fallback` when none is ours (a `C` locale, nothing set).
    pub fn from_locale_or<'a>(values: impl IntoIterator<Item = Option<&'a str>>, fallback: Lang) -> Lang {
        values.into_iter().flatten().find_map(Lang::parse).unwrap_or(fallback)
    }

    fn source(self) -> &'static str {
        match self {
            Lang::Ru => include_str!("../locales/ru.ftl"),
            Lang::En => include_str!("../locales/en.ftl"),
        }
    }

    fn bundle(self) -> &'static FluentBundle<FluentResource> {
        static RU: OnceLock<FluentBundle<FluentResource>> = OnceLock::new();
        static EN: OnceLock<FluentBundle<FluentResource>> = OnceLock::new();
        let cell = match self {
            Lang::Ru => &RU,
            Lang::En => &EN,
        };
        cell.get_or_init(|| {
            let id = self.code().parse().unwrap_or_default();
            let mut bundle = FluentBundle::new_concurrent(vec![id]);
            // No bidi isolation marks: the texts go into HTML and files, not mixed-direction UI.
            bundle.set_use_isolating(false);
            // A count is written as the language writes numbers: "1 946 из 2 006", "1,946 of 2,006"
            // (Fluent's own writes digits only).
            bundle.set_formatter(Some(match self {
                Lang::Ru => |v, _| grouped(Lang::Ru, v),
                Lang::En => |v, _| grouped(Lang::En, v),
            }));
            // The catalogue is part of the binary and checked by the tests; a broken entry shows
            // as its key (see `text`), never as a panic.
            let resource = FluentResource::try_new(self.source().to_string()).unwrap_or_else(|(partial, _)| partial);
            let _ = bundle.add_resource(resource);
            bundle
        })
    }

    /// The message `key` with `args`; the key itself when the catalogue lacks it (a test keeps
    /// that from shipping).
    pub fn text(self, key: &str, args: &[(&str, Arg<'_>)]) -> String {
        let bundle = self.bundle();
        let Some(pattern) = bundle.get_message(key).and_then(|m| m.value()) else { return key.to_string() };
        let mut fa = FluentArgs::new();
        for (name, value) in args {
            match value {
                Arg::Text(s) => fa.set(*name, FluentValue::from(*s)),
                Arg::Count(n) => fa.set(*name, FluentValue::from(*n)),
            }
        }
        let mut errors = Vec::new();
        bundle.format_pattern(pattern, Some(&fa), &mut errors).into_owned()
    }

    /// A message without arguments.
    pub fn t(self, key: &str) -> String {
        self.text(key, &[])
    }
}

/// A whole number of four digits or more, grouped as `lang` writes it; else Fluent's own.
fn grouped(lang: Lang, v: &FluentValue<'_>) -> Option<String> {
    match v {
        FluentValue::Number(n) if n.value.fract() == 0.0 && n.value.abs() >= 1000.0 && n.value.abs() < 1e15 => {
            Some(format::integer(lang, n.value as i64))
        }
        _ => None,
    }
}

/// An argument of a message: a text (already formatted), or a count that chooses the plural form.
#[derive(Debug, Clone, Copy)]
pub enum Arg<'a> {
    Text(&'a str),
    Count(i64),
}

/// Every message key of a language's catalogue, in file order.
pub fn keys(lang: Lang) -> Vec<&'static str> {
    lang.source()
        .lines()
        .filter(|l| l.starts_with(|c: char| c.is_ascii_lowercase()))
        .filter_map(|l| l.split_once(" =").map(|(k, _)| k.trim()))
        .collect()
}

/// A message not yet said: its catalogue key and arguments, rendered in whichever language the
/// reader has (an error made deep in the store, shown on a Russian screen and in an English log).
/// Its `Display` is the English text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub key: &'static str,
    pub args: Vec<(String, Value)>,
}

/// An argument of a [`Message`], formatted when it is said: a day as the language writes dates,
/// an amount with the language's decimal mark.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Text(String),
    Count(i64),
    /// Days since 1970-01-01.
    Day(i32),
    /// An amount in hundredths, said with two decimals (`1,67`; `1.67`).
    Hundredths(i64),
}

impl Message {
    pub fn new(key: &'static str) -> Message {
        Message { key, args: Vec::new() }
    }

    pub fn text(mut self, name: &'static str, value: impl Into<String>) -> Message {
        self.args.push((name.to_string(), Value::Text(value.into())));
        self
    }

    pub fn count(mut self, name: &'static str, n: i64) -> Message {
        self.args.push((name.to_string(), Value::Count(n)));
        self
    }

    pub fn day(mut self, name: &'static str, days: i32) -> Message {
        self.args.push((name.to_string(), Value::Day(days)));
        self
    }

    /// An amount, kept to two decimals.
    pub fn amount(mut self, name: &'static str, x: f64) -> Message {
        self.args.push((name.to_string(), Value::Hundredths((x * 100.0).round() as i64)));
        self
    }

    /// The message in `lang`.
    pub fn say(&self, lang: Lang) -> String {
        // Days and amounts are written as the language writes them, then passed as text.
        let days: Vec<String> = self
            .args
            .iter()
            .map(|(_, v)| match v {
                Value::Day(d) => format::date(lang, *d),
                Value::Hundredths(h) => format::number(lang, *h as f64 / 100.0, 2),
                Value::Text(_) | Value::Count(_) => String::new(),
            })
            .collect();
        let args: Vec<(&str, Arg<'_>)> = self
            .args
            .iter()
            .zip(&days)
            .map(|((name, v), day)| {
                let arg = match v {
                    Value::Text(t) => Arg::Text(t),
                    Value::Count(n) => Arg::Count(*n),
                    Value::Day(_) | Value::Hundredths(_) => Arg::Text(day),
                };
                (name.as_str(), arg)
            })
            .collect();
        lang.text(self.key, &args)
    }
}

/// Messages kept as text (a link's note in the store), to be said later in any language:
/// `{"say":[["key",["name","t","text"],["n","c",3],["day","d",20000],["x","h",167]],…]}`.
/// A text that is not such (a note written by a person, an older note) is said as it is.
pub mod kept {
    use super::{Lang, Message, Value};
    use serde_json::{json, Value as J};

    /// `messages` as one text.
    pub fn encode(messages: &[Message]) -> String {
        let list: Vec<J> = messages
            .iter()
            .map(|m| {
                let mut item = vec![J::String(m.key.to_string())];
                item.extend(m.args.iter().map(|(name, v)| match v {
                    Value::Text(t) => json!([name, "t", t]),
                    Value::Count(n) => json!([name, "c", n]),
                    Value::Day(d) => json!([name, "d", d]),
                    Value::Hundredths(h) => json!([name, "h", h]),
                }));
                J::Array(item)
            })
            .collect();
        json!({ "say": list }).to_string()
    }

    /// The messages of a text [`encode`] made; `None` for any other text. Keys and names are the
    /// catalogue's own (`&'static str`): a key no catalogue has is not a kept message.
    pub fn decode(text: &str) -> Option<Vec<Message>> {
        if !text.starts_with("{\"say\":") {
            return None;
        }
        let value: J = serde_json::from_str(text).ok()?;
        static CATALOGUE: std::sync::OnceLock<Vec<&'static str>> = std::sync::OnceLock::new();
        let catalogue = CATALOGUE.get_or_init(|| super::keys(Lang::En));
        value["say"]
            .as_array()?
            .iter()
            .map(|item| {
                let item = item.as_array()?;
                let written = item.first()?.as_str()?;
                let key = *catalogue.iter().find(|k| **k == written)?;
                let args = item[1..]
                    .iter()
                    .map(|a| {
                        let name = a.get(0)?.as_str()?.to_string();
                        let v = match (a.get(1)?.as_str()?, a.get(2)?) {
                            ("t", J::String(t)) => Value::Text(t.clone()),
                            ("c", n) => Value::Count(n.as_i64()?),
                            ("d", n) => Value::Day(i32::try_from(n.as_i64()?).ok()?),
                            ("h", n) => Value::Hundredths(n.as_i64()?),
                            _ => return None,
                        };
                        Some((name, v))
                    })
                    .collect::<Option<Vec<_>>>()?;
                Some(Message { key, args })
            })
            .collect()
    }

    /// A kept text as `lang` says it: its messages joined by `; `, or the text itself.
    pub fn say(text: &str, lang: Lang) -> String {
        match decode(text) {
            Some(messages) => messages.iter().map(|m| m.say(lang)).collect::<Vec<_>>().join("; "),
            None => text.to_string(),
        }
    }
}

impl std::fmt::Display for Message {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.say(Lang::En))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_is_in_both_languages_and_every_entry_parses() {
        for lang in Lang::ALL {
            let parsed = FluentResource::try_new(lang.source().to_string());
            assert!(parsed.is_ok(), "{}.ftl does not parse: {:?}", lang.code(), parsed.err().map(|e| e.1));
        }
        let (ru, en) = (keys(Lang::Ru), keys(Lang::En));
        let missing_en: Vec<_> = ru.iter().filter(|k| !en.contains(k)).collect();
        let missing_ru: Vec<_> = en.iter().filter(|k| !ru.contains(k)).collect();
        assert!(missing_en.is_empty() && missing_ru.is_empty(), "missing in en.ftl: {missing_en:?}; missing in ru.ftl: {missing_ru:?}");
        assert!(ru.len() > 20);
        for lang in Lang::ALL {
            for k in keys(lang) {
                assert_ne!(
                    lang.text(
                        k,
                        &[
                            ("count", Arg::Count(1)),
                            ("shown", Arg::Text("1")),
                            ("login", Arg::Text("x")),
                            ("until", Arg::Text("x")),
                            ("date", Arg::Text("x"))
                        ]
                    ),
                    k,
                    "{k} in {}",
                    lang.code()
                );
            }
        }
    }

    #[test]
    fn a_count_is_written_as_the_language_writes_numbers_and_still_chooses_the_form() {
        let where_ =
            |lang: Lang, kept: i64, of: i64| lang.text("balance-note-where", &[("kept", Arg::Count(kept)), ("of", Arg::Count(of))]);
        assert_eq!(where_(Lang::Ru, 1946, 2006), "условию отвечают клиентов: 1\u{202f}946 из 2\u{202f}006");
        assert_eq!(where_(Lang::En, 1946, 2006), "the condition keeps 1,946 of 2,006 clients");
        assert_eq!(where_(Lang::Ru, 946, 999), "условию отвечают клиентов: 946 из 999", "three digits stay as they are");
        let minutes = |m: i64| Lang::Ru.text("contribution-stale", &[("minutes", Arg::Count(m))]);
        assert!(minutes(1001).contains("1\u{202f}001 минуту назад"), "{}", minutes(1001));
        assert!(minutes(1005).contains("1\u{202f}005 минут назад"), "{}", minutes(1005));
    }

    #[test]
    fn russian_counts_take_their_three_forms() {
        let n = |count: i64| Lang::Ru.text("my-clients-count", &[("count", Arg::Count(count)), ("shown", Arg::Text(&count.to_string()))]);
        assert_eq!(
            [n(1), n(2), n(5), n(11), n(21), n(22), n(25), n(111)],
            ["1 клиент", "2 клиента", "5 клиентов", "11 клиентов", "21 клиент", "22 клиента", "25 клиентов", "111 клиентов"]
        );
        let e = |count: i64| Lang::En.text("my-clients-count", &[("count", Arg::Count(count)), ("shown", Arg::Text(&count.to_string()))]);
        assert_eq!([e(1), e(2), e(21)], ["1 client", "2 clients", "21 clients"]);
        assert_eq!(Lang::Ru.text("signed-in-as", &[("login", Arg::Text("ivanova"))]), "Вы вошли как ivanova");
        assert_eq!(Lang::Ru.t("no-such-key"), "no-such-key");
    }

    #[test]
    fn the_language_comes_from_a_header_or_the_locale() {
        assert_eq!(Lang::from_accept_language("en-US,en;q=0.9,ru;q=0.8"), Lang::En);
        assert_eq!(Lang::from_accept_language("de-DE, ru;q=0.5, en;q=0.4"), Lang::Ru);
        assert_eq!(Lang::from_accept_language("fr, de"), Lang::Ru);
        assert_eq!(Lang::from_accept_language("en;q=0, ru;q=0.1"), Lang::Ru);
        assert_eq!(Lang::from_locale([None, Some("C"), Some("en_US.UTF-8")]), Lang::En);
        assert_eq!(Lang::from_locale([Some("ru_RU.UTF-8")]), Lang::Ru);
        assert_eq!(Lang::from_locale([None]), Lang::Ru);
    }

    #[test]
    fn a_kept_message_is_said_later_in_either_language_and_anything_else_as_written() {
        let kept = kept::encode(&[
            Message::new("route-fallback").text("rule", "queue"),
            Message::new("note-covers").text("employee", "anna").day("first", 20_513).day("last", 20_519),
            Message::new("route-pool")
                .text("rule", "desk")
                .text("employee", "boris")
                .amount("received", 1.0)
                .amount("share", 1.666)
                .count("eligible", 3)
                .count("members", 3),
        ]);
        assert_eq!(kept::decode(&kept).map(|m| m.len()), Some(3));
        let en = kept::say(&kept, Lang::En);
        assert!(en.starts_with("falling back to `queue`; covers for anna, absent 2026-03-01 to 2026-03-07; pool `desk`"), "{en}");
        assert!(en.contains("(1.00 received of 1.67)"), "{en}");
        let ru = kept::say(&kept, Lang::Ru);
        assert!(ru.contains("замещает anna, отсутствующего с 01.03.2026 по 07.03.2026") && ru.contains("получено 1,00 из 1,67"), "{ru}");
        // A person's words, an older note, a key no catalogue has, broken JSON: said as written.
        for text in ["просьба клиента", "covers for anna, absent 2026-03-01 to 2026-03-07", r#"{"say":[["no-such-key"]]}"#, r#"{"say":["#]
        {
            assert_eq!(kept::say(text, Lang::Ru), text);
        }
    }
}
