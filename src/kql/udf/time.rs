//! KQL `datetime` (`Timestamp(ns, UTC)`) and `timespan` (`Duration(ns)`) functions: their KQL
//! text forms, `todatetime`/`totimespan` parsing, `format_datetime`/`format_timespan`,
//! `datetime_diff`, `datetime_add`, the start/end of weeks, days, months and years, and calendar
//! parts (`dayofweek`, `getyear`, ISO `week_of_year`, ...).

use std::sync::Arc;

use arrow::array::{
    ArrayRef, DurationNanosecondArray, Int32Array, Int64Array, StringBuilder,
    TimestampNanosecondArray,
};
use arrow::datatypes::DataType;
use chrono::{DateTime, Datelike, Months, NaiveDate, NaiveDateTime, TimeZone, Timelike, Utc};
use datafusion::common::{Result, exec_err};
use datafusion::logical_expr::ScalarUDF;

use super::common::{Args, Kind, KqlScalar, Memo, Params, UTC, dur_type, ts_type};

const NS_PER_TICK: i64 = 100;
const NS_PER_SEC: i64 = 1_000_000_000;
const NS_PER_MIN: i64 = 60 * NS_PER_SEC;
const NS_PER_HOUR: i64 = 60 * NS_PER_MIN;
const NS_PER_DAY: i64 = 24 * NS_PER_HOUR;

const TS: Params = Params::Fixed(&[Kind::Ts]);
const STR: Params = Params::Fixed(&[Kind::Str]);

/// Every UDF of this module.
pub fn functions() -> Vec<ScalarUDF> {
    vec![
        kql_todatetime(),
        kql_totimespan(),
        kql_format_datetime(),
        kql_format_timespan(),
        kql_datetime_diff(),
        kql_datetime_add(),
        kql_startofweek(),
        kql_endofweek(),
        kql_endofday(),
        kql_endofmonth(),
        kql_endofyear(),
        kql_dayofweek(),
        kql_dayofmonth(),
        kql_dayofyear(),
        kql_hourofday(),
        kql_monthofyear(),
        kql_getyear(),
        kql_week_of_year(),
    ]
}

// ---------------------------------------------------------------------------------------------
// Text forms
// ---------------------------------------------------------------------------------------------

fn utc(ns: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_nanos(ns)
}

/// Nanoseconds since the epoch of a UTC date and time; `None` outside the `i64` range.
fn nanos(dt: NaiveDateTime) -> Option<i64> {
    Utc.from_utc_datetime(&dt).timestamp_nanos_opt()
}

/// A KQL datetime as KQL prints it: `2026-10-08T11:30:00.2500000Z` (seven fractional digits).
pub fn datetime_text(ns: i64) -> String {
    let dt = utc(ns);
    format!(
        "{}.{:07}Z",
        dt.format("%Y-%m-%dT%H:%M:%S"),
        dt.timestamp_subsec_nanos() / 100
    )
}

/// A KQL timespan as KQL prints it: `[-][d.]hh:mm:ss[.fffffff]` (fraction only when non-zero).
pub fn timespan_text(ns: i64) -> String {
    let neg = ns < 0;
    let ticks = (i128::from(ns).abs() / i128::from(NS_PER_TICK)) as u128;
    let tps = 10_000_000u128;
    let (days, rem) = (ticks / (86_400 * tps), ticks % (86_400 * tps));
    let (h, m, s, f) = (
        rem / (3_600 * tps),
        rem / (60 * tps) % 60,
        rem / tps % 60,
        rem % tps,
    );
    let mut out = String::with_capacity(24);
    if neg {
        out.push('-');
    }
    if days > 0 {
        out.push_str(&format!("{days}."));
    }
    out.push_str(&format!("{h:02}:{m:02}:{s:02}"));
    if f > 0 {
        out.push_str(&format!(".{f:07}"));
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Parsing
// ---------------------------------------------------------------------------------------------

/// KQL `todatetime` of text: every form of [`crate::time::parse_timestamp`], plus a bare date,
/// `YYYY-MM-DD HH:MM`, a trailing `Z` on zoneless forms, and RFC 822/2822 (`Sat, 8 Nov 2026
/// 10:00:00 GMT`, the weekday not checked).
pub fn parse_datetime(text: &str) -> Option<i64> {
    if let Ok(ns) = crate::time::parse_timestamp(text) {
        return Some(ns);
    }
    let s = text.trim();
    if s.is_empty() {
        return None;
    }
    let naive = |s: &str| {
        [
            "%Y-%m-%dT%H:%M:%S%.f",
            "%Y-%m-%d %H:%M:%S%.f",
            "%Y-%m-%dT%H:%M",
            "%Y-%m-%d %H:%M",
        ]
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(s, f).ok())
        .or_else(|| {
            NaiveDate::parse_from_str(s, "%Y-%m-%d")
                .ok()
                .and_then(|d| d.and_hms_opt(0, 0, 0))
        })
    };
    if let Some(dt) = naive(s).or_else(|| s.strip_suffix(['Z', 'z']).and_then(naive)) {
        return nanos(dt);
    }
    parse_rfc822(s)
}

/// RFC 822/2822 with an optional (unchecked) weekday and zone (`GMT`, `UT`, `UTC`, `Z`, `+hhmm`;
/// none = UTC).
fn parse_rfc822(s: &str) -> Option<i64> {
    let s = match s.split_once(',') {
        Some((day, rest)) if day.trim().chars().all(|c| c.is_ascii_alphabetic()) => rest.trim(),
        _ => s,
    };
    let mut t = s.to_string();
    for (zone, gmt) in [(" UTC", " GMT"), (" Z", " GMT")] {
        if let Some(head) = t.strip_suffix(zone) {
            t = format!("{head}{gmt}");
        }
    }
    DateTime::parse_from_rfc2822(&t)
        .or_else(|_| DateTime::parse_from_rfc2822(&format!("{t} GMT")))
        .ok()
        .and_then(|d| d.with_timezone(&Utc).timestamp_nanos_opt())
}

/// Nanoseconds per timespan literal unit (as the KQL lexer's table).
fn unit_nanos(unit: &str) -> Option<i64> {
    Some(match unit.to_ascii_lowercase().as_str() {
        "d" | "day" | "days" => NS_PER_DAY,
        "h" | "hr" | "hrs" | "hour" | "hours" => NS_PER_HOUR,
        "m" | "min" | "minute" | "minutes" => NS_PER_MIN,
        "s" | "sec" | "second" | "seconds" => NS_PER_SEC,
        "ms" | "milli" | "millis" | "millisecond" | "milliseconds" => 1_000_000,
        "microsecond" | "microseconds" => 1_000,
        "tick" | "ticks" => NS_PER_TICK,
        _ => return None,
    })
}

/// Digits only, at least one.
fn digits(s: &str) -> Option<i128> {
    (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
        .then(|| s.parse().ok())
        .flatten()
}

/// `digits` of a fraction (up to 9) in nanoseconds.
fn fraction_nanos(f: &str) -> Option<i128> {
    if f.len() > 9 {
        return None;
    }
    Some(digits(f)? * 10i128.pow(9 - f.len() as u32))
}

/// KQL `totimespan` of text: `[-][d.]hh:mm[:ss[.fffffff]]` or a literal (`1d`, `1.5h`, `30m`,
/// `100ms`, `5microseconds`, `1tick`, ...). Hours below 24, minutes and seconds below 60.
pub fn parse_timespan(text: &str) -> Option<i64> {
    let s = text.trim();
    let (neg, s) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    let total: i128 = if s.contains(':') {
        let parts: Vec<&str> = s.split(':').collect();
        if !(2..=3).contains(&parts.len()) {
            return None;
        }
        let (days, hours) = match parts[0].split_once('.') {
            Some((d, h)) => (digits(d)?, digits(h)?),
            None => (0, digits(parts[0])?),
        };
        let minutes = digits(parts[1])?;
        let (secs, frac) = match parts.get(2) {
            None => (0, 0),
            Some(p) => match p.split_once('.') {
                Some((sec, f)) => (digits(sec)?, fraction_nanos(f)?),
                None => (digits(p)?, 0),
            },
        };
        if hours >= 24 || minutes >= 60 || secs >= 60 || parts[1].len() > 2 {
            return None;
        }
        let secs = ((days * 24 + hours) * 60 + minutes) * 60 + secs;
        secs.checked_mul(i128::from(NS_PER_SEC))? + frac
    } else {
        let split = s
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(s.len());
        let (number, unit) = s.split_at(split);
        let unit = i128::from(unit_nanos(unit)?);
        let (int, frac) = match number.split_once('.') {
            Some((i, f)) if !f.is_empty() && f.len() <= 18 => (
                if i.is_empty() { 0 } else { digits(i)? },
                Some((digits(f)?, 10i128.pow(f.len() as u32))),
            ),
            Some(_) => return None,
            None => (digits(number)?, None),
        };
        let whole = int.checked_mul(unit)?;
        whole + frac.map_or(0, |(f, scale)| f * unit / scale)
    };
    let total = if neg { -total } else { total };
    i64::try_from(total).ok()
}

// ---------------------------------------------------------------------------------------------
// Format strings
// ---------------------------------------------------------------------------------------------

/// A piece of a format string: literal text, or a run of one specifier letter.
#[derive(Debug, Clone, PartialEq)]
enum Piece {
    Lit(String),
    Spec(char, usize),
}

/// Splits `fmt` into literal text and runs of the letters in `letters` (with the largest run
/// each allows); `'...'`/`"..."` quote literal text and `\` escapes one character.
fn parse_format(func: &str, fmt: &str, letters: &[(char, usize)]) -> Result<Vec<Piece>> {
    let mut out: Vec<Piece> = Vec::new();
    let lit = |out: &mut Vec<Piece>, c: char| match out.last_mut() {
        Some(Piece::Lit(s)) => s.push(c),
        _ => out.push(Piece::Lit(c.to_string())),
    };
    let mut chars = fmt.chars().peekable();
    while let Some(c) = chars.next() {
        if let Some(&(_, max)) = letters.iter().find(|(l, _)| *l == c) {
            let mut n = 1;
            while chars.peek() == Some(&c) {
                chars.next();
                n += 1;
            }
            if n > max {
                return exec_err!(
                    "{func}: unsupported format specifier {:?} in {fmt:?}",
                    c.to_string().repeat(n)
                );
            }
            out.push(Piece::Spec(c, n));
        } else if c == '\'' || c == '"' {
            for q in chars.by_ref() {
                if q == c {
                    break;
                }
                lit(&mut out, q);
            }
        } else if c == '\\' {
            if let Some(e) = chars.next() {
                lit(&mut out, e);
            }
        } else {
            lit(&mut out, c);
        }
    }
    Ok(out)
}

/// Appends `n` fractional digits of `nanos` (`f`), or without trailing zeros (`F`, which also
/// drops a `.` just before it when nothing is left).
fn push_fraction(out: &mut String, nanos: u32, n: usize, trim: bool) {
    let digits = format!("{nanos:09}");
    let mut d = &digits[..n];
    if trim {
        d = d.trim_end_matches('0');
        if d.is_empty() && out.ends_with('.') {
            out.pop();
        }
    }
    out.push_str(d);
}

fn push_num(out: &mut String, v: i64, width: usize) {
    out.push_str(&format!("{v:0width$}"));
}

const DATETIME_LETTERS: &[(char, usize)] = &[
    ('d', 2),
    ('f', 7),
    ('F', 7),
    ('h', 2),
    ('H', 2),
    ('m', 2),
    ('M', 2),
    ('s', 2),
    ('t', 2),
    ('y', 5),
];

fn format_datetime(ns: i64, pieces: &[Piece]) -> String {
    let dt = utc(ns);
    let mut out = String::with_capacity(32);
    for p in pieces {
        match p {
            Piece::Lit(s) => out.push_str(s),
            Piece::Spec(c, n) => {
                let n = *n;
                match c {
                    'd' => push_num(&mut out, dt.day().into(), n),
                    'M' => push_num(&mut out, dt.month().into(), n),
                    'y' if n <= 2 => push_num(&mut out, (dt.year() % 100).into(), n),
                    'y' => push_num(&mut out, dt.year().into(), n),
                    'H' => push_num(&mut out, dt.hour().into(), n),
                    'h' => push_num(&mut out, ((dt.hour() + 11) % 12 + 1).into(), n),
                    'm' => push_num(&mut out, dt.minute().into(), n),
                    's' => push_num(&mut out, dt.second().into(), n),
                    'f' | 'F' => push_fraction(&mut out, dt.nanosecond(), n, *c == 'F'),
                    't' => {
                        let ampm = if dt.hour() < 12 { "AM" } else { "PM" };
                        out.push_str(&ampm[..n]);
                    }
                    _ => {}
                }
            }
        }
    }
    out
}

const TIMESPAN_LETTERS: &[(char, usize)] = &[
    ('d', 8),
    ('f', 7),
    ('F', 7),
    ('h', 2),
    ('H', 2),
    ('m', 2),
    ('s', 2),
];

fn format_timespan(ns: i64, pieces: &[Piece]) -> String {
    let abs = i128::from(ns).abs();
    let secs = abs / i128::from(NS_PER_SEC);
    let sub = (abs % i128::from(NS_PER_SEC)) as u32;
    let mut out = String::with_capacity(24);
    if ns < 0 {
        out.push('-');
    }
    for p in pieces {
        match p {
            Piece::Lit(s) => out.push_str(s),
            Piece::Spec(c, n) => {
                let n = *n;
                let v = match c {
                    'd' => secs / 86_400,
                    'h' | 'H' => secs / 3_600 % 24,
                    'm' => secs / 60 % 60,
                    's' => secs % 60,
                    _ => {
                        push_fraction(&mut out, sub, n, *c == 'F');
                        continue;
                    }
                };
                out.push_str(&format!("{v:0n$}"));
            }
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Calendar
// ---------------------------------------------------------------------------------------------

/// Days since Sunday.
fn weekday(ns: i64) -> i64 {
    // 1970-01-01 was a Thursday.
    (ns.div_euclid(NS_PER_DAY) + 4).rem_euclid(7)
}

fn start_of_day(ns: i64) -> i64 {
    ns.div_euclid(NS_PER_DAY) * NS_PER_DAY
}

fn start_of_week(ns: i64) -> Option<i64> {
    start_of_day(ns).checked_sub(weekday(ns) * NS_PER_DAY)
}

/// A date at midnight, in nanoseconds.
fn date_nanos(d: NaiveDate) -> Option<i64> {
    nanos(d.and_hms_opt(0, 0, 0)?)
}

fn start_of_next_month(ns: i64) -> Option<i64> {
    let dt = utc(ns);
    let first = NaiveDate::from_ymd_opt(dt.year(), dt.month(), 1)?;
    date_nanos(first.checked_add_months(Months::new(1))?)
}

fn start_of_next_year(ns: i64) -> Option<i64> {
    date_nanos(NaiveDate::from_ymd_opt(utc(ns).year() + 1, 1, 1)?)
}

/// A `datetime_diff`/`datetime_add` part.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Part {
    Year,
    Quarter,
    Month,
    Week,
    /// A fixed length in nanoseconds (day and below).
    Fixed(i64),
}

fn part(func: &str, name: &str) -> Result<Part> {
    Ok(match name.trim().to_ascii_lowercase().as_str() {
        "year" => Part::Year,
        "quarter" => Part::Quarter,
        "month" => Part::Month,
        "week" => Part::Week,
        "day" => Part::Fixed(NS_PER_DAY),
        "hour" => Part::Fixed(NS_PER_HOUR),
        "minute" => Part::Fixed(NS_PER_MIN),
        "second" => Part::Fixed(NS_PER_SEC),
        "millisecond" => Part::Fixed(1_000_000),
        "microsecond" => Part::Fixed(1_000),
        "nanosecond" => Part::Fixed(1),
        _ => {
            return exec_err!(
                "{func}: unknown part {name:?} (expected year, quarter, month, week, day, hour, \
                 minute, second, millisecond, microsecond or nanosecond)"
            );
        }
    })
}

/// Part boundaries crossed from `b` to `a` (negative when `a` is earlier).
fn datetime_diff(p: Part, a: i64, b: i64) -> Option<i64> {
    let months = |ns: i64| {
        let d = utc(ns);
        i64::from(d.year()) * 12 + i64::from(d.month0())
    };
    match p {
        Part::Year => Some(i64::from(utc(a).year() - utc(b).year())),
        Part::Quarter => Some(months(a).div_euclid(3) - months(b).div_euclid(3)),
        Part::Month => Some(months(a) - months(b)),
        Part::Week => Some((start_of_week(a)? - start_of_week(b)?) / (7 * NS_PER_DAY)),
        Part::Fixed(1) => a.checked_sub(b),
        Part::Fixed(len) => Some(a.div_euclid(len) - b.div_euclid(len)),
    }
}

/// `ts` plus `n` parts; calendar months clamp the day to the month's length.
fn datetime_add(p: Part, n: i64, ts: i64) -> Option<i64> {
    let add_months = |months: i64| {
        let dt = utc(ts).naive_utc();
        let m = Months::new(u32::try_from(months.unsigned_abs()).ok()?);
        let moved = if months >= 0 {
            dt.checked_add_months(m)
        } else {
            dt.checked_sub_months(m)
        };
        nanos(moved?)
    };
    match p {
        Part::Year => add_months(n.checked_mul(12)?),
        Part::Quarter => add_months(n.checked_mul(3)?),
        Part::Month => add_months(n),
        Part::Week => ts.checked_add(n.checked_mul(7 * NS_PER_DAY)?),
        Part::Fixed(len) => ts.checked_add(n.checked_mul(len)?),
    }
}

// ---------------------------------------------------------------------------------------------
// UDFs
// ---------------------------------------------------------------------------------------------

fn ts_array(values: Vec<Option<i64>>) -> ArrayRef {
    Arc::new(TimestampNanosecondArray::from(values).with_timezone(UTC))
}

/// One timestamp per row of the single timestamp argument.
fn map_ts(a: &Args, f: fn(i64) -> Option<i64>) -> Result<ArrayRef> {
    let t = a.ts(0)?;
    Ok(ts_array(
        (0..a.rows()).map(|i| t.get(i).and_then(f)).collect(),
    ))
}

/// One Int32 calendar field per row of the single timestamp argument.
fn map_field(a: &Args, f: fn(DateTime<Utc>) -> i32) -> Result<ArrayRef> {
    let t = a.ts(0)?;
    Ok(Arc::new(Int32Array::from_iter(
        (0..a.rows()).map(|i| t.get(i).map(|ns| f(utc(ns)))),
    )))
}

/// `kql_todatetime(s) -> Timestamp(ns, UTC)`: ISO 8601/RFC 3339, dates, RFC 822 text; else null.
pub fn kql_todatetime() -> ScalarUDF {
    KqlScalar::udf("kql_todatetime", STR, ts_type(), |a| {
        let s = a.str(0)?;
        Ok(ts_array(
            (0..a.rows())
                .map(|i| s.get(i).and_then(parse_datetime))
                .collect(),
        ))
    })
}

/// `kql_totimespan(s) -> Duration(ns)`: `[-][d.]hh:mm[:ss[.f]]` or a literal like `1.5h`; else null.
pub fn kql_totimespan() -> ScalarUDF {
    KqlScalar::udf("kql_totimespan", STR, dur_type(), |a| {
        let s = a.str(0)?;
        Ok(Arc::new(DurationNanosecondArray::from_iter(
            (0..a.rows()).map(|i| s.get(i).and_then(parse_timespan)),
        )))
    })
}

/// `kql_format_datetime(ts, format) -> Utf8` (never null): KQL `format_datetime`; null ts → `""`.
pub fn kql_format_datetime() -> ScalarUDF {
    KqlScalar::non_null(
        "kql_format_datetime",
        Params::Fixed(&[Kind::Ts, Kind::Str]),
        DataType::Utf8,
        |a| {
            let (t, f) = (a.ts(0)?, a.str(1)?);
            let mut out = StringBuilder::with_capacity(a.rows(), 0);
            let mut memo = Memo::new();
            for i in 0..a.rows() {
                match (t.get(i), f.get(i)) {
                    (Some(ns), Some(fmt)) => {
                        let pieces = memo.get(fmt, |fmt| {
                            parse_format("kql_format_datetime", fmt, DATETIME_LETTERS)
                        })?;
                        out.append_value(format_datetime(ns, &pieces));
                    }
                    _ => out.append_value(""),
                }
            }
            Ok(Arc::new(out.finish()))
        },
    )
}

/// `kql_format_timespan(d, format) -> Utf8` (never null): KQL `format_timespan`; null → `""`.
pub fn kql_format_timespan() -> ScalarUDF {
    KqlScalar::non_null(
        "kql_format_timespan",
        Params::Fixed(&[Kind::Dur, Kind::Str]),
        DataType::Utf8,
        |a| {
            let (d, f) = (a.dur(0)?, a.str(1)?);
            let mut out = StringBuilder::with_capacity(a.rows(), 0);
            let mut memo = Memo::new();
            for i in 0..a.rows() {
                match (d.get(i), f.get(i)) {
                    (Some(ns), Some(fmt)) => {
                        let pieces = memo.get(fmt, |fmt| {
                            parse_format("kql_format_timespan", fmt, TIMESPAN_LETTERS)
                        })?;
                        out.append_value(format_timespan(ns, &pieces));
                    }
                    _ => out.append_value(""),
                }
            }
            Ok(Arc::new(out.finish()))
        },
    )
}

/// `kql_datetime_diff(part, dt1, dt2) -> Int64`: `part` boundaries crossed from `dt2` to `dt1`.
pub fn kql_datetime_diff() -> ScalarUDF {
    KqlScalar::udf(
        "kql_datetime_diff",
        Params::Fixed(&[Kind::Str, Kind::Ts, Kind::Ts]),
        DataType::Int64,
        |a| {
            let (p, t1, t2) = (a.str(0)?, a.ts(1)?, a.ts(2)?);
            let mut memo = Memo::new();
            let mut out = Vec::with_capacity(a.rows());
            for i in 0..a.rows() {
                let v = match (p.get(i), t1.get(i), t2.get(i)) {
                    (Some(name), Some(x), Some(y)) => {
                        let part = memo.get(name, |n| part("kql_datetime_diff", n))?;
                        datetime_diff(*part, x, y)
                    }
                    _ => None,
                };
                out.push(v);
            }
            Ok(Arc::new(Int64Array::from(out)))
        },
    )
}

/// `kql_datetime_add(part, n, ts) -> Timestamp(ns, UTC)`: `ts` plus `n` parts (null on overflow).
pub fn kql_datetime_add() -> ScalarUDF {
    KqlScalar::udf(
        "kql_datetime_add",
        Params::Fixed(&[Kind::Str, Kind::Int, Kind::Ts]),
        ts_type(),
        |a| {
            let (p, n, t) = (a.str(0)?, a.i64(1)?, a.ts(2)?);
            let mut memo = Memo::new();
            let mut out = Vec::with_capacity(a.rows());
            for i in 0..a.rows() {
                let v = match (p.get(i), n.get(i), t.get(i)) {
                    (Some(name), Some(n), Some(ts)) => {
                        let part = memo.get(name, |n| part("kql_datetime_add", n))?;
                        datetime_add(*part, n, ts)
                    }
                    _ => None,
                };
                out.push(v);
            }
            Ok(ts_array(out))
        },
    )
}

/// `kql_startofweek(ts) -> Timestamp(ns, UTC)`: the preceding Sunday, 00:00 UTC.
pub fn kql_startofweek() -> ScalarUDF {
    KqlScalar::udf("kql_startofweek", TS, ts_type(), |a| {
        map_ts(a, start_of_week)
    })
}

/// `kql_endofweek(ts) -> Timestamp(ns, UTC)`: the next Sunday 00:00 UTC minus one tick.
pub fn kql_endofweek() -> ScalarUDF {
    KqlScalar::udf("kql_endofweek", TS, ts_type(), |a| {
        map_ts(a, |ns| {
            start_of_week(ns)?.checked_add(7 * NS_PER_DAY - NS_PER_TICK)
        })
    })
}

/// `kql_endofday(ts) -> Timestamp(ns, UTC)`: the next midnight UTC minus one tick.
pub fn kql_endofday() -> ScalarUDF {
    KqlScalar::udf("kql_endofday", TS, ts_type(), |a| {
        map_ts(a, |ns| {
            start_of_day(ns).checked_add(NS_PER_DAY - NS_PER_TICK)
        })
    })
}

/// `kql_endofmonth(ts) -> Timestamp(ns, UTC)`: the first of the next month minus one tick.
pub fn kql_endofmonth() -> ScalarUDF {
    KqlScalar::udf("kql_endofmonth", TS, ts_type(), |a| {
        map_ts(a, |ns| Some(start_of_next_month(ns)? - NS_PER_TICK))
    })
}

/// `kql_endofyear(ts) -> Timestamp(ns, UTC)`: January 1st of the next year minus one tick.
pub fn kql_endofyear() -> ScalarUDF {
    KqlScalar::udf("kql_endofyear", TS, ts_type(), |a| {
        map_ts(a, |ns| Some(start_of_next_year(ns)? - NS_PER_TICK))
    })
}

/// `kql_dayofweek(ts) -> Duration(ns)`: days since the preceding Sunday, as a timespan.
pub fn kql_dayofweek() -> ScalarUDF {
    KqlScalar::udf("kql_dayofweek", TS, dur_type(), |a| {
        let t = a.ts(0)?;
        Ok(Arc::new(DurationNanosecondArray::from_iter(
            (0..a.rows()).map(|i| t.get(i).map(|ns| weekday(ns) * NS_PER_DAY)),
        )))
    })
}

/// `kql_dayofmonth(ts) -> Int32`: day of the month, 1 to 31.
pub fn kql_dayofmonth() -> ScalarUDF {
    KqlScalar::udf("kql_dayofmonth", TS, DataType::Int32, |a| {
        map_field(a, |d| d.day() as i32)
    })
}

/// `kql_dayofyear(ts) -> Int32`: day of the year, 1 to 366.
pub fn kql_dayofyear() -> ScalarUDF {
    KqlScalar::udf("kql_dayofyear", TS, DataType::Int32, |a| {
        map_field(a, |d| d.ordinal() as i32)
    })
}

/// `kql_hourofday(ts) -> Int32`: hour of the day, 0 to 23.
pub fn kql_hourofday() -> ScalarUDF {
    KqlScalar::udf("kql_hourofday", TS, DataType::Int32, |a| {
        map_field(a, |d| d.hour() as i32)
    })
}

/// `kql_monthofyear(ts) -> Int32`: month, 1 to 12.
pub fn kql_monthofyear() -> ScalarUDF {
    KqlScalar::udf("kql_monthofyear", TS, DataType::Int32, |a| {
        map_field(a, |d| d.month() as i32)
    })
}

/// `kql_getyear(ts) -> Int32`: the year.
pub fn kql_getyear() -> ScalarUDF {
    KqlScalar::udf("kql_getyear", TS, DataType::Int32, |a| {
        map_field(a, |d| d.year())
    })
}

/// `kql_week_of_year(ts) -> Int32`: ISO 8601 week number, 1 to 53.
pub fn kql_week_of_year() -> ScalarUDF {
    KqlScalar::udf("kql_week_of_year", TS, DataType::Int32, |a| {
        map_field(a, |d| d.iso_week().week() as i32)
    })
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::{parse_timespan, timespan_text};

    /// `kql_tostring` of a one-row timestamp/duration expression.
    fn text(expr: &str) -> Option<String> {
        str1(&format!("SELECT kql_tostring({expr})"))
    }

    fn dt(s: &str) -> String {
        format!("kql_todatetime('{s}')")
    }

    #[test]
    fn timespan_text_forms() {
        assert_eq!(timespan_text(86_400_000_000_000), "1.00:00:00");
        assert_eq!(timespan_text(5_400_000_000_000), "01:30:00");
        assert_eq!(timespan_text(1_500_000_000), "00:00:01.5000000");
        assert_eq!(timespan_text(0), "00:00:00");
        assert_eq!(timespan_text(-100), "-00:00:00.0000001");
        assert_eq!(timespan_text(i64::MIN), "-106751.23:47:16.8547758");
        assert_eq!(parse_timespan("1.5h"), Some(5_400_000_000_000));
    }

    #[test]
    fn todatetime_forms() {
        assert_eq!(
            text(&dt("2026-10-08T11:30:00.25Z")),
            s("2026-10-08T11:30:00.2500000Z")
        );
        assert_eq!(
            text(&dt("2026-10-08T11:30:00+02:00")),
            s("2026-10-08T09:30:00.0000000Z")
        );
        assert_eq!(text(&dt("2026-10-08")), s("2026-10-08T00:00:00.0000000Z"));
        assert_eq!(
            text(&dt("2026-10-08 11:30")),
            s("2026-10-08T11:30:00.0000000Z")
        );
        assert_eq!(
            text(&dt("2026-10-08T11:30Z")),
            s("2026-10-08T11:30:00.0000000Z")
        );
        assert_eq!(
            text(&dt("2026-10-08 11:30:00.1234567")),
            s("2026-10-08T11:30:00.1234567Z")
        );
        assert_eq!(
            text(&dt("Sat, 8 Nov 2026 10:00:00 GMT")),
            s("2026-11-08T10:00:00.0000000Z")
        );
        assert_eq!(
            text(&dt("8 Nov 2026 10:00 +0200")),
            s("2026-11-08T08:00:00.0000000Z")
        );
        assert_eq!(
            text(&dt("10/8/2026 11:30:00 AM")),
            s("2026-10-08T11:30:00.0000000Z")
        );
        assert_eq!(
            text(&dt("2026-10-08T11:30:00.123456789012Z")),
            s("2026-10-08T11:30:00.1234567Z")
        );
        assert_eq!(
            text(&dt("2026-10-08 11:30:00Z")),
            s("2026-10-08T11:30:00.0000000Z")
        );
        assert_eq!(int1(&format!("SELECT {}", dt("garbage"))), None);
        assert_eq!(int1(&format!("SELECT {}", dt(""))), None);
        assert_eq!(int1("SELECT kql_todatetime(NULL)"), None);
        assert_eq!(
            field("SELECT kql_todatetime('2026-01-01')").0,
            super::ts_type()
        );
        let v = ints(
            "SELECT kql_todatetime(s) FROM (VALUES ('1970-01-01T00:00:01Z'), ('x'), \
             ('1969-12-31T23:59:59Z')) AS v(s)",
        );
        assert_eq!(v, [Some(1_000_000_000), None, Some(-1_000_000_000)]);
    }

    #[test]
    fn totimespan_forms() {
        let ns = |s: &str| int1(&format!("SELECT kql_totimespan('{s}')"));
        assert_eq!(ns("1d"), Some(86_400_000_000_000));
        assert_eq!(ns("2h"), Some(7_200_000_000_000));
        assert_eq!(ns("30m"), Some(1_800_000_000_000));
        assert_eq!(ns("10s"), Some(10_000_000_000));
        assert_eq!(ns("100ms"), Some(100_000_000));
        assert_eq!(ns("5microsecond"), Some(5_000));
        assert_eq!(ns("1tick"), Some(100));
        assert_eq!(ns("1.5h"), Some(5_400_000_000_000));
        assert_eq!(ns("01:30"), Some(5_400_000_000_000));
        assert_eq!(ns("00:00:01.5"), Some(1_500_000_000));
        assert_eq!(
            ns("-1.02:03:04.5"),
            Some(-(((26 * 60 + 3) * 60 + 4) * 1_000_000_000 + 500_000_000))
        );
        assert_eq!(ns("25:00:00"), None);
        assert_eq!(ns("1x"), None);
        assert_eq!(ns("abc"), None);
        assert_eq!(ns(""), None);
        assert_eq!(int1("SELECT kql_totimespan(NULL)"), None);
        assert_eq!(text("kql_totimespan('90m')"), s("01:30:00"));
        assert_eq!(field("SELECT kql_totimespan('1d')").0, super::dur_type());
    }

    #[test]
    fn format_datetime_specifiers() {
        let t = dt("2009-06-15T13:45:30.6170000Z");
        let f = |fmt: &str| str1(&format!("SELECT kql_format_datetime({t}, '{fmt}')"));
        assert_eq!(f("yyyy-MM-dd HH:mm:ss.fff"), s("2009-06-15 13:45:30.617"));
        assert_eq!(f("y yy yyyy M MM d dd"), s("9 09 2009 6 06 15 15"));
        assert_eq!(f("h:mm tt"), s("1:45 PM"));
        assert_eq!(f("hh H t"), s("01 13 P"));
        assert_eq!(f("ss.f ss.fffffff"), s("30.6 30.6170000"));
        assert_eq!(f("ss.FFFFFFF"), s("30.617"));
        assert_eq!(f("[yyyy/MM/dd]_m,s"), s("[2009/06/15]_45,30"));
        assert_eq!(f("yyyy-MM-ddTHH:mm:ssZ"), s("2009-06-15T13:45:30Z"));
        assert_eq!(f(r#""day" d"#), s("day 15"));
        assert_eq!(f("''on'' d, \\h"), s("on 15, h"));
        assert_eq!(
            str1(&format!(
                "SELECT kql_format_datetime({}, 'HH:mm:ss.FFF')",
                dt("2009-06-15T00:05:30Z")
            )),
            s("00:05:30")
        );
        assert_eq!(str1("SELECT kql_format_datetime(NULL, 'yyyy')"), s(""));
        let e = error(&format!("SELECT kql_format_datetime({t}, 'dddd')"));
        assert!(
            e.contains("unsupported format specifier") && e.contains("dddd"),
            "{e}"
        );
        let v = strs(
            "SELECT kql_format_datetime(kql_todatetime(t), f) FROM (VALUES \
             ('2026-01-02T03:04:05Z', 'yyyyMMdd'), ('2026-01-02T03:04:05Z', 'HHmm'), \
             (NULL, 'yyyy')) AS v(t, f)",
        );
        assert_eq!(v, [s("20260102"), s("0304"), s("")]);
    }

    #[test]
    fn format_timespan_specifiers() {
        let d = "kql_totimespan('1.02:03:04.5')";
        let f = |fmt: &str| str1(&format!("SELECT kql_format_timespan({d}, '{fmt}')"));
        assert_eq!(f("d.hh:mm:ss.fff"), s("1.02:03:04.500"));
        assert_eq!(f("dd:h:m:s"), s("01:2:3:4"));
        assert_eq!(f("ddd HH FF"), s("001 02 5"));
        assert_eq!(
            str1("SELECT kql_format_timespan(kql_totimespan('00:00:01'), 'hh:mm:ss.FFF')"),
            s("00:00:01")
        );
        assert_eq!(
            str1("SELECT kql_format_timespan(kql_totimespan('-90s'), 'hh:mm:ss')"),
            s("-00:01:30")
        );
        assert_eq!(str1("SELECT kql_format_timespan(NULL, 'hh')"), s(""));
        assert!(!field("SELECT kql_format_timespan(NULL, 'hh')").1);
    }

    #[test]
    fn datetime_diff_parts() {
        let diff = |p: &str, a: &str, b: &str| {
            int1(&format!(
                "SELECT kql_datetime_diff('{p}', {}, {})",
                dt(a),
                dt(b)
            ))
        };
        assert_eq!(diff("year", "2017-01-01", "2016-12-31"), Some(1));
        assert_eq!(diff("Year", "2016-12-31", "2017-01-01"), Some(-1));
        assert_eq!(diff("quarter", "2017-07-01", "2017-03-25"), Some(2));
        assert_eq!(diff("month", "2017-01-01", "2015-12-30"), Some(13));
        assert_eq!(
            diff("week", "2017-10-29 00:00", "2017-09-30 23:59"),
            Some(5)
        );
        assert_eq!(
            diff("day", "2017-10-30 00:00", "2017-09-30 23:59"),
            Some(30)
        );
        assert_eq!(
            diff("hour", "2017-10-31 01:00", "2017-10-30 23:59"),
            Some(2)
        );
        assert_eq!(
            diff("minute", "2017-10-30 23:05:01", "2017-10-30 23:00:59"),
            Some(5)
        );
        assert_eq!(
            diff(
                "second",
                "2017-10-30 23:00:10.100",
                "2017-10-30 23:00:00.900"
            ),
            Some(10)
        );
        assert_eq!(
            diff(
                "millisecond",
                "2017-10-30 23:00:00.200100",
                "2017-10-30 23:00:00.100900"
            ),
            Some(100)
        );
        assert_eq!(
            diff(
                "microsecond",
                "2017-10-30 23:00:00.1009001",
                "2017-10-30 23:00:00.1008009"
            ),
            Some(100)
        );
        assert_eq!(
            diff(
                "nanosecond",
                "2017-10-30 23:00:00.0000000",
                "2017-10-30 23:00:00.0000010"
            ),
            Some(-1000)
        );
        assert_eq!(
            diff("day", "1970-01-01T00:00:00Z", "1969-12-31T23:59:59Z"),
            Some(1)
        );
        assert_eq!(
            int1(&format!(
                "SELECT kql_datetime_diff('day', NULL, {})",
                dt("2017-01-01")
            )),
            None
        );
        let e = error(&format!(
            "SELECT kql_datetime_diff('fortnight', {}, {})",
            dt("2017-01-01"),
            dt("2017-01-01")
        ));
        assert!(e.contains("unknown part") && e.contains("fortnight"), "{e}");
        let v = ints(
            "SELECT kql_datetime_diff(p, kql_todatetime('2020-03-01'), kql_todatetime('2019-12-31')) \
             FROM (VALUES ('year'), ('month'), ('day')) AS v(p)",
        );
        assert_eq!(v, [Some(1), Some(3), Some(61)]);
    }

    #[test]
    fn datetime_add_parts() {
        let add =
            |p: &str, n: i64, t: &str| text(&format!("kql_datetime_add('{p}', {n}, {})", dt(t)));
        assert_eq!(
            add("month", 1, "2017-01-31"),
            s("2017-02-28T00:00:00.0000000Z")
        );
        assert_eq!(
            add("year", 1, "2016-02-29"),
            s("2017-02-28T00:00:00.0000000Z")
        );
        assert_eq!(
            add("quarter", -1, "2017-05-31 10:00"),
            s("2017-02-28T10:00:00.0000000Z")
        );
        assert_eq!(
            add("week", 1, "2017-01-01"),
            s("2017-01-08T00:00:00.0000000Z")
        );
        assert_eq!(
            add("day", -1, "2017-01-01"),
            s("2016-12-31T00:00:00.0000000Z")
        );
        assert_eq!(
            add("hour", 25, "2017-01-01"),
            s("2017-01-02T01:00:00.0000000Z")
        );
        assert_eq!(
            add("millisecond", 5, "2017-01-01"),
            s("2017-01-01T00:00:00.0050000Z")
        );
        assert_eq!(add("year", 1000, "2017-01-01"), s(""));
        assert_eq!(int1("SELECT kql_datetime_add('day', 1, NULL)"), None);
        let e = error(&format!(
            "SELECT kql_datetime_add('eon', 1, {})",
            dt("2017-01-01")
        ));
        assert!(e.contains("eon"), "{e}");
        let v = strs(
            "SELECT kql_tostring(kql_datetime_add('day', n, kql_todatetime('2020-01-01'))) \
             FROM (VALUES (1), (-1), (NULL)) AS v(n)",
        );
        assert_eq!(
            v,
            [
                s("2020-01-02T00:00:00.0000000Z"),
                s("2019-12-31T00:00:00.0000000Z"),
                s("")
            ]
        );
    }

    #[test]
    fn start_and_end_of_periods() {
        let t = dt("2026-10-08T11:30:00Z"); // a Thursday
        let f = |func: &str| text(&format!("{func}({t})"));
        assert_eq!(f("kql_startofweek"), s("2026-10-04T00:00:00.0000000Z"));
        assert_eq!(f("kql_endofweek"), s("2026-10-10T23:59:59.9999999Z"));
        assert_eq!(f("kql_endofday"), s("2026-10-08T23:59:59.9999999Z"));
        assert_eq!(f("kql_endofmonth"), s("2026-10-31T23:59:59.9999999Z"));
        assert_eq!(f("kql_endofyear"), s("2026-12-31T23:59:59.9999999Z"));
        assert_eq!(
            text(&format!("kql_endofmonth({})", dt("2024-02-10"))),
            s("2024-02-29T23:59:59.9999999Z")
        );
        assert_eq!(
            text(&format!("kql_endofmonth({})", dt("2024-12-10"))),
            s("2024-12-31T23:59:59.9999999Z")
        );
        // Before the epoch: 1969-12-31 was a Wednesday.
        assert_eq!(
            text(&format!("kql_startofweek({})", dt("1969-12-31T12:00:00Z"))),
            s("1969-12-28T00:00:00.0000000Z")
        );
        // A Sunday is its own start of week.
        assert_eq!(
            text(&format!("kql_startofweek({})", dt("2026-10-04T00:00:00Z"))),
            s("2026-10-04T00:00:00.0000000Z")
        );
        assert_eq!(int1("SELECT kql_endofday(NULL)"), None);
        let v = strs(
            "SELECT kql_tostring(kql_endofday(kql_todatetime(t))) FROM (VALUES ('2020-01-01 05:00'), \
             ('2020-02-29 23:59:59.9999999'), (NULL)) AS v(t)",
        );
        assert_eq!(
            v,
            [
                s("2020-01-01T23:59:59.9999999Z"),
                s("2020-02-29T23:59:59.9999999Z"),
                s("")
            ]
        );
    }

    #[test]
    fn calendar_parts() {
        let t = dt("2026-10-08T11:30:00Z");
        let f = |func: &str| int1(&format!("SELECT {func}({t})"));
        assert_eq!(text(&format!("kql_dayofweek({t})")), s("4.00:00:00"));
        assert_eq!(
            text(&format!("kql_dayofweek({})", dt("2026-10-04T23:00:00Z"))),
            s("00:00:00")
        );
        assert_eq!(f("kql_dayofmonth"), Some(8));
        assert_eq!(f("kql_dayofyear"), Some(281));
        assert_eq!(f("kql_hourofday"), Some(11));
        assert_eq!(f("kql_monthofyear"), Some(10));
        assert_eq!(f("kql_getyear"), Some(2026));
        assert_eq!(f("kql_week_of_year"), Some(41));
        assert_eq!(
            int1(&format!("SELECT kql_week_of_year({})", dt("2021-01-01"))),
            Some(53)
        );
        assert_eq!(
            field(&format!("SELECT kql_getyear({t})")).0,
            arrow::datatypes::DataType::Int32
        );
        assert_eq!(int1("SELECT kql_getyear(NULL)"), None);
        // Dates and timestamps of other units are accepted.
        assert_eq!(int1("SELECT kql_dayofmonth(DATE '2026-02-03')"), Some(3));
        assert_eq!(
            int1("SELECT kql_hourofday(arrow_cast(3600, 'Timestamp(Second, None)'))"),
            Some(1)
        );
        let v = ints(
            "SELECT kql_monthofyear(kql_todatetime(t)) FROM (VALUES ('2026-01-31'), ('2026-12-01'), \
             (NULL)) AS v(t)",
        );
        assert_eq!(v, [Some(1), Some(12), None]);
    }
}
