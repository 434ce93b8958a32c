//! Synthetic Entra ID audit logs: a realistic tenant, its activity as a stream of canonical
//! [`AuditRecord`]s, and one writer per export format.
//!
//! This module owns everything `auditbook generate` produces:
//! - [`tenant`]: the synthetic directory (users and guests, administrators, groups, enterprise apps
//!   with app roles, catalogs, access packages, assignment policies, first-party apps);
//! - [`events`]: the event stream ([`EventStream`]), entitlement-management request lifecycles,
//!   the app role assignments they cause, administrators' direct grants, deletions and
//!   background noise, in time order, streaming;
//! - [`write`]: the export formats (Graph NDJSON, diagnostic-settings storage archive, Log
//!   Analytics CSV, admin center CSV and JSON), all built on [`to_graph_json`]'s record shape;
//! - [`snapshot`]: entitlement-management snapshots (Graph list responses) of the same tenant,
//!   consistent with the log, and the [`snapshot::GroundTruth`] tests compare reports with;
//! - [`timeline`] and [`rng`]: the clock and the PRNG that make output a pure function of the
//!   arguments: same [`Config`] and [`Format`], byte-identical files.

pub mod events;
pub mod rng;
pub mod snapshot;
pub mod tenant;
pub mod timeline;
pub mod write;

use std::path::{Path, PathBuf};

use chrono::{DateTime, TimeZone, Utc};

use crate::Result;
use crate::record::AuditRecord;

pub use events::EventStream;
pub use tenant::Tenant;
pub use write::{WriteStats, to_graph_json};

/// What to generate: how many events, from which seed, over which window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Number of unique events (exactly this many are written).
    pub events: u64,
    pub seed: u64,
    /// End of the window (exclusive), nanoseconds since the epoch, UTC.
    pub end: i64,
    /// Length of the window in days.
    pub days: u32,
}

impl Config {
    pub const DEFAULT_SEED: u64 = 42;
    pub const DEFAULT_DAYS: u32 = 90;
    /// The default end of the window: fixed, so output does not depend on today's date.
    pub const DEFAULT_END: &str = "2026-11-01";

    /// `events` events with the default seed and window.
    pub fn new(events: u64) -> Config {
        Config {
            events,
            seed: Self::DEFAULT_SEED,
            end: parse_end(Self::DEFAULT_END).expect("valid default end"),
            days: Self::DEFAULT_DAYS,
        }
    }

    /// The generated events, in time order.
    pub fn events(&self) -> EventStream {
        EventStream::new(self)
    }
}

/// Parses `--end`: a date (`2026-11-01`, midnight UTC) or any timestamp [`crate::time`] accepts.
pub fn parse_end(text: &str) -> std::result::Result<i64, String> {
    if let Ok(d) = chrono::NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d") {
        let midnight = d.and_hms_opt(0, 0, 0).expect("midnight exists");
        return Utc
            .from_utc_datetime(&midnight)
            .timestamp_nanos_opt()
            .ok_or_else(|| format!("date {text:?} is out of range"));
    }
    crate::time::parse_timestamp(text)
}

/// The export formats `generate` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Graph `directoryAudit` records, NDJSON, one file a day: `graph/directoryAudits-YYYY-MM-DD.ndjson`.
    Graph,
    /// Diagnostic settings archive in a storage account (JSON Lines, CRLF, hour blobs, duplicates).
    Diagnostic,
    /// Log Analytics `AuditLogs` query export as CSV: `log-analytics/AuditLogs.csv`.
    LogAnalytics,
    /// Admin center download, 86-column CSV: `portal/AuditLogs.csv`.
    PortalCsv,
    /// Admin center download, JSON array of Graph records: `portal/AuditLogs.json`.
    PortalJson,
}

impl Format {
    pub fn name(self) -> &'static str {
        match self {
            Format::Graph => "graph",
            Format::Diagnostic => "diagnostic",
            Format::LogAnalytics => "log-analytics",
            Format::PortalCsv => "portal-csv",
            Format::PortalJson => "portal-json",
        }
    }
}

/// What [`generate`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    pub format: Format,
    pub tenant_id: String,
    /// Unique events (= `Config::events`).
    pub events: u64,
    /// Extra copies written by at-least-once delivery (diagnostic format only).
    pub duplicates: u64,
    /// Files written, in the order they were created.
    pub files: Vec<PathBuf>,
}

/// Writes `config`'s events under `out` in `format`.
pub fn generate(config: &Config, format: Format, out: &Path) -> Result<Summary> {
    let stream = config.events();
    let tenant_id = stream.tenant().id.clone();
    let stats = write_records(stream, format, out, config.seed)?;
    Ok(Summary {
        format,
        tenant_id,
        events: stats.records,
        duplicates: stats.duplicates,
        files: stats.files,
    })
}

/// Writes the entitlement-management snapshots of `config`'s tenant under `out`
/// (`out/snapshot-YYYY-MM-DD/`): at the window's end and, with `every` days, every `every` days
/// before it inside the window (see [`snapshot::write`]). The audit log is not written here.
pub fn generate_snapshots(
    config: &Config,
    every: Option<u32>,
    out: &Path,
) -> Result<Vec<snapshot::SnapshotFiles>> {
    let history = snapshot::History::new(config);
    snapshot::snapshot_instants(config, every)
        .into_iter()
        .map(|at| snapshot::write_snapshot(&history.truth_at(at), out))
        .collect()
}

/// Writes any record stream under `out` in `format` (`seed` drives the diagnostic format's
/// delivery duplicates).
pub fn write_records(
    records: impl IntoIterator<Item = AuditRecord>,
    format: Format,
    out: &Path,
    seed: u64,
) -> Result<WriteStats> {
    match format {
        Format::Graph => write::write_graph(records, out),
        Format::Diagnostic => write::write_diagnostic(records, out, seed),
        Format::LogAnalytics => write::write_log_analytics(records, out),
        Format::PortalCsv => write::write_portal_csv(records, out),
        Format::PortalJson => write::write_portal_json(records, out),
    }
}

/// `M/D/YYYY h:mm:ss AM`, seconds precision: the US form of the admin center and of .NET dates
/// inside modified property values.
pub fn format_us_datetime(nanos: i64) -> String {
    DateTime::from_timestamp_nanos(nanos)
        .format("%-m/%-d/%Y %-I:%M:%S %p")
        .to_string()
}

#[cfg(test)]
mod tests;
