//! Numbers, money and dates as each language writes them. Russian: a (non-breaking) space
//! between thousands, a decimal comma, `₽` after the sum, dates as DD.MM.YYYY. English: commas
//! between thousands, a decimal point, ISO dates.

use crate::Lang;

/// The narrow no-break space Russian typography puts between thousands.
pub const THIN: char = '\u{202F}';

/// An integer with its thousands grouped.
pub fn integer(lang: Lang, n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let sep = match lang {
        Lang::Ru => THIN,
        Lang::En => ',',
    };
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    if n < 0 {
        out.push('-');
    }
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(sep);
        }
        out.push(c);
    }
    out
}

/// A number with `decimals` places (rounded half away from zero), thousands grouped.
pub fn number(lang: Lang, x: f64, decimals: u32) -> String {
    if !x.is_finite() {
        return "—".into();
    }
    let scale = 10f64.powi(decimals as i32);
    let scaled = (x.abs() * scale).round();
    let (whole, frac) = ((scaled / scale).trunc(), (scaled % scale) as u64);
    let mut out = integer(lang, whole as i64);
    if x < 0.0 && scaled > 0.0 {
        out.insert(0, '-');
    }
    if decimals > 0 {
        out.push(match lang {
            Lang::Ru => ',',
            Lang::En => '.',
        });
        out.push_str(&format!("{frac:0w$}", w = decimals as usize));
    }
    out
}

/// Money in minor units (kopecks, cents), exactly: `1 234 567,89 ₽`; a currency code other than
/// RUB is written after the sum in both languages (`1,234.50 USD`).
pub fn money(lang: Lang, minor: i64, currency: &str) -> String {
    let sign = if minor < 0 { "-" } else { "" };
    let (whole, cents) = (minor.unsigned_abs() / 100, minor.unsigned_abs() % 100);
    let point = match lang {
        Lang::Ru => ',',
        Lang::En => '.',
    };
    let amount = format!("{sign}{}{point}{cents:02}", integer(lang, whole as i64));
    match (lang, currency) {
        (_, "") => amount,
        (Lang::Ru, "RUB" | "₽") => format!("{amount}\u{a0}₽"),
        (Lang::En, "₽") => format!("{amount} RUB"),
        (_, c) => format!("{amount}\u{a0}{c}"),
    }
}

/// A day (days since 1970-01-01): `29.11.2026` in Russian, `2026-11-29` in English.
pub fn date(lang: Lang, days: i32) -> String {
    let (y, m, d) = civil(days);
    match lang {
        Lang::Ru => format!("{d:02}.{m:02}.{y:04}"),
        Lang::En => format!("{y:04}-{m:02}-{d:02}"),
    }
}

/// Year, month, day of a day count (the proleptic Gregorian calendar).
fn civil(z: i32) -> (i32, u32, u32) {
    let z = z as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = (yoe + era * 400 + i64::from(m <= 2)) as i32;
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn russian_and_english_write_numbers_money_and_dates_their_own_way() {
        assert_eq!(integer(Lang::Ru, 1_234_567), "1\u{202F}234\u{202F}567");
        assert_eq!(integer(Lang::En, -1_234_567), "-1,234,567");
        assert_eq!(integer(Lang::En, 999), "999");
        assert_eq!(number(Lang::Ru, 1_234_567.891, 2), "1\u{202F}234\u{202F}567,89");
        assert_eq!(number(Lang::En, 0.005, 2), "0.01");
        assert_eq!(number(Lang::En, -2.5, 0), "-3");
        assert_eq!(money(Lang::Ru, 123_456_789, "RUB"), "1\u{202F}234\u{202F}567,89\u{a0}₽");
        assert_eq!(money(Lang::En, 123_450, "USD"), "1,234.50\u{a0}USD");
        assert_eq!(money(Lang::Ru, -5, ""), "-0,05");
        let day = 20_786; // 2026-11-29
        assert_eq!((date(Lang::Ru, day), date(Lang::En, day)), ("29.11.2026".to_string(), "2026-11-29".to_string()));
        assert_eq!(date(Lang::Ru, 0), "01.01.1970");
        assert_eq!(date(Lang::En, -1), "1969-12-31");
    }
}
