//! Timestamps as Entra exports write them, and as auditbook prints them.
//!
//! Input forms seen in real exports (FORMATS.md): RFC 3339 with 0 to 9 fractional digits and `Z` or
//! `+00:00` (or any offset), the same without a zone (taken as UTC), a space instead of `T`, and the
//! admin center's US form `M/D/YYYY h:mm:ss AM`. Everything becomes nanoseconds since the epoch, UTC.

use chrono::{DateTime, NaiveDate, NaiveDateTime, SecondsFormat, TimeZone, Utc};

/// Parses any timestamp form seen in Entra exports into nanoseconds since the epoch (UTC).
///
/// ```
/// use auditbook::time::parse_timestamp;
/// let graph = parse_timestamp("2026-10-05T14:10:02.5168093Z").unwrap();
/// assert_eq!(parse_timestamp("2026-10-05T14:10:02.5168093+00:00").unwrap(), graph);
/// assert_eq!(parse_timestamp("10/5/2026 2:10:02 PM").unwrap(), graph - 516_809_300);
/// ```
pub fn parse_timestamp(text: &str) -> Result<i64, String> {
    let s = text.trim();
    if s.is_empty() {
        return Err("empty timestamp".into());
    }
    let parsed = DateTime::parse_from_rfc3339(s)
        .map(|d| d.with_timezone(&Utc))
        .or_else(|_| {
            DateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f%:z").map(|d| d.with_timezone(&Utc))
        })
        .or_else(|_| {
            [
                "%Y-%m-%dT%H:%M:%S%.f",
                "%Y-%m-%d %H:%M:%S%.f",
                "%Y-%m-%dT%H:%M",
            ]
            .iter()
            .find_map(|f| NaiveDateTime::parse_from_str(s, f).ok())
            .map(|n| Utc.from_utc_datetime(&n))
            .ok_or(())
        })
        .or_else(|_| parse_us(s).ok_or(()));
    let dt = parsed.map_err(|_| format!("unrecognised timestamp {s:?}"))?;
    dt.timestamp_nanos_opt()
        .ok_or_else(|| format!("timestamp {s:?} is out of range"))
}

/// `M/D/YYYY h:mm:ss AM` (seconds and the AM/PM part optional, fractional seconds allowed).
fn parse_us(s: &str) -> Option<DateTime<Utc>> {
    // Log Analytics' portal export writes `10/8/2026, 11:30:00.250 AM`.
    let s = &s.replacen(", ", " ", 1);
    for f in [
        "%m/%d/%Y %I:%M:%S%.f %p",
        "%m/%d/%Y %I:%M %p",
        "%m/%d/%Y %H:%M:%S%.f",
        "%m/%d/%Y %H:%M",
    ] {
        if let Ok(n) = NaiveDateTime::parse_from_str(s, f) {
            return Some(Utc.from_utc_datetime(&n));
        }
    }
    NaiveDate::parse_from_str(s, "%m/%d/%Y")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|n| Utc.from_utc_datetime(&n))
}

fn to_datetime(nanos: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_nanos(nanos)
}

/// RFC 3339 with all nine fractional digits and `Z`: how auditbook prints timestamps.
pub fn format_rfc3339_nanos(nanos: i64) -> String {
    to_datetime(nanos).to_rfc3339_opts(SecondsFormat::Nanos, true)
}

/// As Graph writes `activityDateTime`: seven fractional digits with trailing zeros dropped, `Z`.
pub fn format_graph(nanos: i64) -> String {
    let dt = to_datetime(nanos);
    let ticks = dt.timestamp_subsec_nanos() / 100;
    let mut out = dt.format("%Y-%m-%dT%H:%M:%S").to_string();
    if ticks != 0 {
        let frac = format!("{ticks:07}");
        out.push('.');
        out.push_str(frac.trim_end_matches('0'));
    }
    out.push('Z');
    out
}

/// Nanoseconds in a (UTC) day: `nanos.div_euclid(NANOS_PER_DAY)` numbers the day of [`utc_day`].
pub const NANOS_PER_DAY: i64 = 86_400 * 1_000_000_000;

/// The UTC day (`YYYY-MM-DD`) a timestamp falls on: the dataset's partition key.
pub fn utc_day(nanos: i64) -> String {
    to_datetime(nanos).format("%Y-%m-%d").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: i64 = 1_515_532_802_000_000_000; // 2018-01-09T21:20:02Z

    #[test]
    fn zero_to_nine_fractional_digits() {
        assert_eq!(parse_timestamp("2018-01-09T21:20:02Z").unwrap(), BASE);
        assert_eq!(
            parse_timestamp("2018-01-09T21:20:02.7Z").unwrap(),
            BASE + 700_000_000
        );
        assert_eq!(
            parse_timestamp("2018-01-09T21:20:02.72Z").unwrap(),
            BASE + 720_000_000
        );
        assert_eq!(
            parse_timestamp("2018-01-09T21:20:02.721537Z").unwrap(),
            BASE + 721_537_000
        );
        assert_eq!(
            parse_timestamp("2018-01-09T21:20:02.7215374Z").unwrap(),
            BASE + 721_537_400
        );
        assert_eq!(
            parse_timestamp("2018-01-09T21:20:02.721537412Z").unwrap(),
            BASE + 721_537_412
        );
    }

    #[test]
    fn offsets_and_zoneless_forms_are_utc() {
        assert_eq!(
            parse_timestamp("2018-01-09T21:20:02.7215374+00:00").unwrap(),
            BASE + 721_537_400
        );
        assert_eq!(parse_timestamp("2018-01-09T23:20:02+02:00").unwrap(), BASE);
        assert_eq!(
            parse_timestamp("2018-01-09 21:20:02.5").unwrap(),
            BASE + 500_000_000
        );
        assert_eq!(parse_timestamp("2018-01-09T21:20:02").unwrap(), BASE);
    }

    #[test]
    fn us_admin_center_form() {
        assert_eq!(parse_timestamp("1/9/2018 9:20:02 PM").unwrap(), BASE);
        assert_eq!(parse_timestamp("01/09/2018 09:20:02 PM").unwrap(), BASE);
        assert_eq!(
            parse_timestamp("1/9/2018, 9:20:02.250 PM").unwrap(),
            BASE + 250_000_000
        );
        assert_eq!(
            parse_timestamp("1/9/2018 12:05:00 AM").unwrap(),
            parse_timestamp("2018-01-09T00:05:00Z").unwrap()
        );
    }

    #[test]
    fn garbage_is_an_error_naming_the_text() {
        let e = parse_timestamp("yesterday").unwrap_err();
        assert!(e.contains("yesterday"), "{e}");
        assert!(parse_timestamp("").is_err());
    }

    #[test]
    fn formats() {
        let t = BASE + 721_537_400;
        assert_eq!(format_graph(t), "2018-01-09T21:20:02.7215374Z");
        assert_eq!(format_graph(BASE + 500_000_000), "2018-01-09T21:20:02.5Z");
        assert_eq!(format_graph(BASE), "2018-01-09T21:20:02Z");
        assert_eq!(format_rfc3339_nanos(t), "2018-01-09T21:20:02.721537400Z");
        assert_eq!(utc_day(t), "2018-01-09");
    }
}
