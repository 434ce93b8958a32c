//! The generator's clock: how activity is spread over the window `[end - days, end)`.
//!
//! Directory activity follows office hours (tenant-local weekdays, a trickle at night and on
//! weekends). The window is cut into hour segments weighted by that profile; a position `u` in
//! `[0, 1)` of the cumulative weight maps to an instant, so evenly spaced positions give a
//! realistic, deterministic spread of scenario starts.

use chrono::{DateTime, Datelike, Timelike};

/// 100 ns, the resolution of Entra timestamps.
pub const TICK: i64 = 100;
pub const SECOND: i64 = 1_000_000_000;
pub const HOUR: i64 = 3600 * SECOND;
pub const DAY: i64 = 24 * HOUR;

/// A duration of `secs` seconds in nanoseconds, rounded down to whole ticks.
pub fn seconds(secs: f64) -> i64 {
    (secs * 1e7) as i64 * TICK
}

/// Activity weight of a tenant-local hour (`weekday` 0 = Monday).
fn weight(weekday: u32, hour: u32) -> f64 {
    if weekday >= 5 {
        return 0.12;
    }
    match hour {
        0..=5 => 0.12,
        6 => 0.3,
        7 => 0.6,
        8..=11 => 1.0,
        12 => 0.8,
        13..=16 => 1.0,
        17 => 0.7,
        18..=20 => 0.35,
        _ => 0.18,
    }
}

/// The weighted window.
#[derive(Debug, Clone)]
pub struct Timeline {
    start: i64,
    end: i64,
    /// Segment start instants (hour boundaries, clipped to the window).
    starts: Vec<i64>,
    /// Cumulative weight before each segment.
    cumulative: Vec<f64>,
    weights: Vec<f64>,
    total: f64,
}

impl Timeline {
    /// The window `[start, end)` (nanoseconds), with office hours at UTC+`utc_offset_hours`.
    pub fn new(start: i64, end: i64, utc_offset_hours: i64) -> Timeline {
        assert!(start < end, "empty time window");
        let mut starts = Vec::new();
        let mut cumulative = Vec::new();
        let mut weights = Vec::new();
        let mut total = 0.0;
        let mut t = start;
        while t < end {
            let next = ((t.div_euclid(HOUR)) + 1) * HOUR;
            let seg_end = next.min(end);
            let local = DateTime::from_timestamp_nanos(t + utc_offset_hours * HOUR);
            let w = weight(local.weekday().num_days_from_monday(), local.hour())
                * (seg_end - t) as f64
                / HOUR as f64;
            starts.push(t);
            cumulative.push(total);
            weights.push(w);
            total += w;
            t = seg_end;
        }
        Timeline {
            start,
            end,
            starts,
            cumulative,
            weights,
            total,
        }
    }

    pub fn start(&self) -> i64 {
        self.start
    }

    pub fn end(&self) -> i64 {
        self.end
    }

    /// The instant at position `u` in `[0, 1)` of the weighted window, on a whole tick,
    /// non-decreasing in `u` and always inside the window.
    pub fn at(&self, u: f64) -> i64 {
        let target = u.clamp(0.0, 1.0) * self.total;
        // Last segment whose cumulative weight is <= target.
        let i = self
            .cumulative
            .partition_point(|c| *c <= target)
            .saturating_sub(1);
        let seg_end = self.starts.get(i + 1).copied().unwrap_or(self.end);
        let len = (seg_end - self.starts[i]) as f64;
        let frac = if self.weights[i] > 0.0 {
            (target - self.cumulative[i]) / self.weights[i]
        } else {
            0.0
        };
        let t = self.starts[i] + (frac.clamp(0.0, 1.0) * len) as i64;
        let t = t - t.rem_euclid(TICK);
        t.clamp(self.start, self.end - TICK)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::parse_timestamp;

    #[test]
    fn positions_map_into_the_window_monotonically_with_office_hours_busier() {
        let end = parse_timestamp("2026-11-01T00:00:00Z").unwrap();
        let tl = Timeline::new(end - 28 * DAY, end, 1);
        assert_eq!(tl.at(0.0), end - 28 * DAY);
        assert!(tl.at(0.999_999_999) < end);
        assert_eq!(tl.at(1.0), end - TICK);
        let mut prev = i64::MIN;
        let mut office = 0;
        let n = 100_000;
        for k in 0..n {
            let t = tl.at(k as f64 / n as f64);
            assert!(t >= prev);
            assert_eq!(t % TICK, 0);
            prev = t;
            let local = DateTime::from_timestamp_nanos(t + HOUR);
            if local.weekday().num_days_from_monday() < 5 && (8..17).contains(&local.hour()) {
                office += 1;
            }
        }
        // Weekday office hours are 45 of 168 hours a week but carry most of the weight.
        assert!(office as f64 / n as f64 > 0.6, "{office}");
    }

    #[test]
    fn unaligned_windows_work() {
        let tl = Timeline::new(1_000_000_000_123, 1_000_000_000_123 + 90 * 60 * SECOND, 0);
        let t = tl.at(0.5);
        assert!(t > tl.start() && t < tl.end());
    }
}
