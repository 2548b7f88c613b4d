//! The wall clock, in the calendar units allot uses: the only place front ends read the time (the
//! engine and the store take days and times as inputs).

fn seconds() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// Today in UTC, as days since 1970-01-01.
pub fn today() -> i32 {
    (seconds() / 86_400) as i32
}

/// Minutes since 1970-01-01 00:00 UTC.
pub fn minute() -> i64 {
    (seconds() / 60) as i64
}

/// Seconds since 1970-01-01 00:00 UTC.
pub fn now_seconds() -> u64 {
    seconds()
}

/// Now, UTC, RFC 3339 to the second.
pub fn now_utc() -> String {
    rfc3339(seconds())
}

/// A moment (seconds since 1970, UTC) as RFC 3339 to the second; such texts sort as the moments do.
pub fn rfc3339(secs: u64) -> String {
    let (days, rem) = ((secs / 86_400) as i32, secs % 86_400);
    format!("{}T{:02}:{:02}:{:02}Z", allot_rules::civil_from_days(days), rem / 3600, rem % 3600 / 60, rem % 60)
}

/// A monotonic instant, for time limits (territory design takes this clock as its own).
pub fn instant() -> std::time::Instant {
    std::time::Instant::now()
}

/// An RFC 3339 moment as [`rfc3339`] writes it (`2026-11-30T09:15:00Z`) back to seconds since 1970.
pub fn parse_rfc3339(s: &str) -> Option<u64> {
    let (date, clock) = s.trim().strip_suffix('Z')?.split_once('T')?;
    let days = u64::try_from(allot_rules::parse_iso_date(date)?).ok()?;
    let mut parts = clock.split(':').map(|p| p.parse::<u64>().ok());
    let (h, m, sec) = (parts.next()??, parts.next()??, parts.next()??);
    (h < 24 && m < 60 && sec < 61).then_some(days * 86_400 + h * 3600 + m * 60 + sec)
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_moment_written_is_read_back() {
        assert_eq!(super::parse_rfc3339(&super::rfc3339(1_796_000_123)), Some(1_796_000_123));
        assert_eq!(super::parse_rfc3339("2026-11-30T09:15:00+03:00"), None);
    }
}
