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
