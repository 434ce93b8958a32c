//! One writer per export format, each consuming a stream of [`AuditRecord`]s and writing as it
//! goes (memory stays bounded whatever the count). They share one record shape: the Graph
//! `directoryAudit` ([`GraphRecord`], [`to_graph_json`]); the formats differ only in envelope,
//! file layout and how timestamps are spelled.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashSet};
use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use chrono::DateTime;
use serde::Serialize;

use crate::record::{AppIdentity, AuditRecord, KeyValue, TargetResource, UserIdentity};
use crate::schema::audit_logs_schema;
use crate::time::{format_graph, utc_day};
use crate::{Error, Result};

use super::format_us_datetime;
use super::rng::Rng;
use super::timeline::SECOND;

/// What a writer wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WriteStats {
    /// Records (unique events) written.
    pub records: u64,
    /// Extra copies (at-least-once delivery); lines/rows = `records + duplicates`.
    pub duplicates: u64,
    /// Files written, in creation order.
    pub files: Vec<PathBuf>,
}

/// How `activityDateTime` is spelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeStyle {
    /// Graph: 0 to 7 fractional digits (trailing zeros dropped), `Z`.
    Graph,
    /// Diagnostic settings: 7 fractional digits, `+00:00`.
    Offset,
}

/// A record in Graph's `directoryAudit` shape, borrowing from the [`AuditRecord`].
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GraphRecord<'a> {
    pub id: &'a str,
    pub category: &'a str,
    pub correlation_id: &'a str,
    pub result: &'a str,
    pub result_reason: &'a str,
    pub activity_display_name: &'a str,
    pub activity_date_time: String,
    pub logged_by_service: &'a str,
    pub operation_type: &'a str,
    pub initiated_by: GraphInitiatedBy<'a>,
    pub target_resources: &'a [TargetResource],
    pub additional_details: &'a [KeyValue],
}

/// `initiatedBy` as Graph writes it: both sides, `null` when absent.
#[derive(Debug, Serialize)]
pub struct GraphInitiatedBy<'a> {
    pub user: Option<&'a UserIdentity>,
    pub app: Option<&'a AppIdentity>,
}

impl<'a> GraphRecord<'a> {
    pub fn new(r: &'a AuditRecord, style: TimeStyle) -> Self {
        let by = r.initiated_by.as_ref();
        GraphRecord {
            id: &r.id,
            category: &r.category,
            correlation_id: &r.correlation_id,
            result: &r.result,
            result_reason: &r.result_reason,
            activity_display_name: &r.activity_display_name,
            activity_date_time: match style {
                TimeStyle::Graph => format_graph(r.activity_date_time),
                TimeStyle::Offset => format_ticks(r.activity_date_time, "+00:00"),
            },
            logged_by_service: &r.logged_by_service,
            operation_type: &r.aad_operation_type,
            initiated_by: GraphInitiatedBy {
                user: by.and_then(|b| b.user.as_ref()),
                app: by.and_then(|b| b.app.as_ref()),
            },
            target_resources: r.target_resources.as_deref().unwrap_or_default(),
            additional_details: r.additional_details.as_deref().unwrap_or_default(),
        }
    }
}

/// The Graph `directoryAudit` JSON of a record (key order as Graph returns it).
pub fn to_graph_json(r: &AuditRecord) -> serde_json::Value {
    serde_json::to_value(GraphRecord::new(r, TimeStyle::Graph)).expect("records serialize")
}

/// RFC 3339 with exactly seven fractional digits and the given zone suffix.
fn format_ticks(nanos: i64, zone: &str) -> String {
    let dt = DateTime::from_timestamp_nanos(nanos);
    format!(
        "{}.{:07}{zone}",
        dt.format("%Y-%m-%dT%H:%M:%S"),
        dt.timestamp_subsec_nanos() / 100
    )
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |e| Error::io(path, e)
}

/// Output files that change as the stream moves on (a day's NDJSON, an hour's blob): one open at
/// a time, created (truncated) the first time, appended to if ever revisited.
struct RollingFiles {
    current: Option<(PathBuf, BufWriter<File>)>,
    seen: HashSet<PathBuf>,
    files: Vec<PathBuf>,
}

impl RollingFiles {
    fn new() -> Self {
        RollingFiles {
            current: None,
            seen: HashSet::new(),
            files: Vec::new(),
        }
    }

    fn get(&mut self, path: PathBuf) -> Result<&mut BufWriter<File>> {
        if self.current.as_ref().map(|(p, _)| p) != Some(&path) {
            self.close()?;
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir).map_err(io(dir))?;
            }
            let first = self.seen.insert(path.clone());
            let file = OpenOptions::new()
                .create(true)
                .write(true)
                .append(!first)
                .truncate(first)
                .open(&path)
                .map_err(io(&path))?;
            if first {
                self.files.push(path.clone());
            }
            self.current = Some((path, BufWriter::with_capacity(1 << 16, file)));
        }
        Ok(&mut self.current.as_mut().expect("just opened").1)
    }

    fn close(&mut self) -> Result<()> {
        if let Some((path, mut w)) = self.current.take() {
            w.flush().map_err(io(&path))?;
        }
        Ok(())
    }

    fn finish(mut self) -> Result<Vec<PathBuf>> {
        self.close()?;
        Ok(self.files)
    }
}

/// A single output file.
fn create(path: &Path) -> Result<BufWriter<File>> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io(dir))?;
    }
    Ok(BufWriter::with_capacity(
        1 << 16,
        File::create(path).map_err(io(path))?,
    ))
}

/// Graph: `OUT/graph/directoryAudits-YYYY-MM-DD.ndjson`, one record a line (LF), one file per UTC
/// day of `activityDateTime`.
pub fn write_graph(
    records: impl IntoIterator<Item = AuditRecord>,
    out: &Path,
) -> Result<WriteStats> {
    let dir = out.join("graph");
    let mut files = RollingFiles::new();
    let mut stats = WriteStats::default();
    for r in records {
        let path = dir.join(format!(
            "directoryAudits-{}.ndjson",
            utc_day(r.activity_date_time)
        ));
        let w = files.get(path.clone())?;
        serde_json::to_writer(&mut *w, &GraphRecord::new(&r, TimeStyle::Graph))
            .map_err(|e| Error::io(&path, e.into()))?;
        w.write_all(b"\n").map_err(io(&path))?;
        stats.records += 1;
    }
    stats.files = files.finish()?;
    Ok(stats)
}

/// The envelope diagnostic settings wrap each record in.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct DiagnosticEnvelope<'a> {
    time: String,
    resource_id: &'a str,
    operation_name: &'a str,
    operation_version: &'a str,
    category: &'static str,
    tenant_id: &'a str,
    result_signature: &'a str,
    duration_ms: i64,
    caller_ip_address: &'a str,
    correlation_id: &'a str,
    identity: &'a str,
    #[serde(rename = "Level")]
    level: u8,
    location: &'a str,
    properties: &'a GraphRecord<'a>,
}

/// Share of records delivered more than once, and how late the extra copies come.
const DUPLICATE_RATE: f64 = 0.03;
const LATE_COPY_RATE: f64 = 0.15;

/// Diagnostic settings archive: `OUT/insights-logs-auditlogs/tenantId=<tid>/y=YYYY/m=MM/d=DD/h=HH/m=00/PT1H.json`,
/// JSON Lines with CRLF. The blob is the hour of the envelope `time`. Delivery is at-least-once:
/// ~3% of records get 1 to 3 extra copies (same `properties`, envelope `time` seconds later, or
/// hours later for some, landing in a later hour's blob); `duplicates` counts them.
pub fn write_diagnostic(
    records: impl IntoIterator<Item = AuditRecord>,
    out: &Path,
    seed: u64,
) -> Result<WriteStats> {
    let root = out.join("insights-logs-auditlogs");
    let mut rng = Rng::new(seed, 0xD1A6);
    let mut files = RollingFiles::new();
    let mut stats = WriteStats::default();
    // Extra copies not yet due: (envelope time, sequence, blob, line).
    let mut late: BinaryHeap<Reverse<(i64, u64, PathBuf, String)>> = BinaryHeap::new();
    let mut seq = 0u64;
    let blob = |tenant: &str, t: i64| {
        let dt = DateTime::from_timestamp_nanos(t);
        root.join(format!("tenantId={tenant}"))
            .join(dt.format("y=%Y/m=%m/d=%d/h=%H/m=00").to_string())
            .join("PT1H.json")
    };
    let write_line = |files: &mut RollingFiles, path: PathBuf, line: &str| -> Result<()> {
        let w = files.get(path.clone())?;
        w.write_all(line.as_bytes()).map_err(io(&path))?;
        w.write_all(b"\r\n").map_err(io(&path))
    };
    for r in records {
        let t = r.activity_date_time;
        while late.peek().is_some_and(|Reverse((lt, ..))| *lt <= t) {
            let Reverse((_, _, path, line)) = late.pop().expect("peeked");
            write_line(&mut files, path, &line)?;
        }
        let properties = GraphRecord::new(&r, TimeStyle::Offset);
        let caller_ip = r
            .initiated_by
            .as_ref()
            .and_then(|b| b.user.as_ref())
            .and_then(|u| u.ip_address.as_deref())
            .unwrap_or("<null>");
        let envelope = |time: i64| DiagnosticEnvelope {
            time: format_ticks(time, "Z"),
            resource_id: &r.resource_id,
            operation_name: &r.operation_name,
            operation_version: &r.operation_version,
            category: "AuditLogs",
            tenant_id: &r.tenant_id,
            result_signature: &r.result_signature,
            duration_ms: r.duration_ms,
            caller_ip_address: caller_ip,
            correlation_id: &r.correlation_id,
            identity: &r.identity,
            level: 4,
            location: &r.location,
            properties: &properties,
        };
        let line = serde_json::to_string(&envelope(t)).expect("records serialize");
        write_line(&mut files, blob(&r.tenant_id, t), &line)?;
        stats.records += 1;
        if rng.chance(DUPLICATE_RATE) {
            for _ in 0..rng.range(1, 3) {
                let delay = if rng.chance(LATE_COPY_RATE) {
                    (3600.0 + rng.f64() * 47.0 * 3600.0) as i64 * SECOND
                } else {
                    (1.0 + rng.f64() * 29.0) as i64 * SECOND
                };
                let dt = t + delay + (rng.below(10_000_000) as i64) * 100;
                seq += 1;
                let line = serde_json::to_string(&envelope(dt)).expect("records serialize");
                late.push(Reverse((dt, seq, blob(&r.tenant_id, dt), line)));
                stats.duplicates += 1;
            }
        }
    }
    while let Some(Reverse((_, _, path, line))) = late.pop() {
        write_line(&mut files, path, &line)?;
    }
    stats.files = files.finish()?;
    Ok(stats)
}

/// `InitiatedBy` as Log Analytics stores it: only the side that is present.
#[derive(Serialize)]
struct LaInitiatedBy<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    user: Option<&'a UserIdentity>,
    #[serde(skip_serializing_if = "Option::is_none")]
    app: Option<&'a AppIdentity>,
}

fn json<T: Serialize + ?Sized>(value: &T) -> String {
    serde_json::to_string(value).expect("records serialize")
}

/// One cell of the Log Analytics export for column `name` (`None`: not an `AuditLogs` column).
fn la_cell(r: &AuditRecord, name: &str) -> Option<String> {
    let s = |v: &String| Some(v.clone());
    match name {
        "TimeGenerated" => Some(format_ticks(r.time_generated, "Z")),
        "ActivityDateTime" => Some(format_ticks(r.activity_date_time, "Z")),
        "TenantId" => s(&r.tenant_id),
        "SourceSystem" => s(&r.source_system),
        "ResourceId" => s(&r.resource_id),
        "OperationName" => s(&r.operation_name),
        "OperationVersion" => s(&r.operation_version),
        "Category" => s(&r.category),
        "ResultType" => s(&r.result_type),
        "ResultSignature" => s(&r.result_signature),
        "ResultDescription" => s(&r.result_description),
        "DurationMs" => Some(r.duration_ms.to_string()),
        "CorrelationId" => s(&r.correlation_id),
        "Resource" => s(&r.resource),
        "ResourceGroup" => s(&r.resource_group),
        "ResourceProvider" => s(&r.resource_provider),
        "Identity" => s(&r.identity),
        "Level" => s(&r.level),
        "Location" => s(&r.location),
        "AdditionalDetails" => Some(json(r.additional_details.as_deref().unwrap_or_default())),
        "Id" => s(&r.id),
        "LoggedByService" => s(&r.logged_by_service),
        "Result" => s(&r.result),
        "ResultReason" => s(&r.result_reason),
        "AADTenantId" => s(&r.aad_tenant_id),
        "ActivityDisplayName" => s(&r.activity_display_name),
        "AADOperationType" => s(&r.aad_operation_type),
        "InitiatedBy" => {
            let by = r.initiated_by.as_ref();
            Some(json(&LaInitiatedBy {
                user: by.and_then(|b| b.user.as_ref()),
                app: by.and_then(|b| b.app.as_ref()),
            }))
        }
        "TargetResources" => Some(json(r.target_resources.as_deref().unwrap_or_default())),
        "Type" => s(&r.type_),
        _ => None,
    }
}

/// Log Analytics query export: `OUT/log-analytics/AuditLogs.csv`, the canonical schema's columns
/// in order, timestamps `...T12:00:00.1234567Z`, dynamic columns as JSON text.
pub fn write_log_analytics(
    records: impl IntoIterator<Item = AuditRecord>,
    out: &Path,
) -> Result<WriteStats> {
    let path = out.join("log-analytics").join("AuditLogs.csv");
    let schema = audit_logs_schema();
    let columns: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    if let Some(c) = columns
        .iter()
        .find(|c| la_cell(&AuditRecord::default(), c).is_none())
    {
        return Err(Error::Invalid(format!(
            "the Log Analytics writer does not know column {c}"
        )));
    }
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(create(&path)?);
    let csv_err = |e: csv::Error| Error::io(&path, e.into());
    w.write_record(&columns).map_err(csv_err)?;
    let mut stats = WriteStats::default();
    for r in records {
        w.write_record(columns.iter().map(|c| la_cell(&r, c).unwrap_or_default()))
            .map_err(csv_err)?;
        stats.records += 1;
    }
    w.flush().map_err(io(&path))?;
    stats.files.push(path.clone());
    Ok(stats)
}

use crate::ingest::portal_csv::{
    DETAILS as PORTAL_DETAILS, PROPERTIES_PER_TARGET as PORTAL_PROPERTIES,
    TARGETS as PORTAL_TARGETS, header as portal_csv_header,
};

/// One admin center CSV row: lossy (seconds, 3 targets × 5 properties, 6 details).
fn portal_row(r: &AuditRecord) -> Vec<String> {
    let o = |v: &Option<String>| v.clone().unwrap_or_default();
    let by = r.initiated_by.as_ref();
    let user = by.and_then(|b| b.user.as_ref());
    let app = by.and_then(|b| b.app.as_ref());
    let details = r.additional_details.as_deref().unwrap_or_default();
    let user_agent = details
        .iter()
        .find(|d| d.key.as_deref() == Some("User-Agent"))
        .and_then(|d| d.value.clone())
        .unwrap_or_default();
    let actor_type = if user.is_some() {
        "User"
    } else if app.is_some() {
        "Application"
    } else {
        ""
    };
    let mut row = vec![
        format_us_datetime(r.activity_date_time),
        r.correlation_id.clone(),
        r.logged_by_service.clone(),
        r.category.clone(),
        r.activity_display_name.clone(),
        r.result.clone(),
        r.result_reason.clone(),
        user_agent,
        actor_type.to_string(),
        user.map(|u| o(&u.display_name))
            .or_else(|| app.map(|a| o(&a.display_name)))
            .unwrap_or_default(),
        user.map(|u| o(&u.id))
            .or_else(|| app.map(|a| o(&a.service_principal_id)))
            .unwrap_or_default(),
        user.map(|u| o(&u.user_principal_name)).unwrap_or_default(),
        user.map(|u| o(&u.ip_address)).unwrap_or_default(),
        user.map(|u| o(&u.home_tenant_id)).unwrap_or_default(),
        user.map(|u| o(&u.home_tenant_name)).unwrap_or_default(),
        app.map(|a| o(&a.service_principal_id)).unwrap_or_default(),
        app.map(|a| o(&a.service_principal_name))
            .unwrap_or_default(),
    ];
    let targets = r.target_resources.as_deref().unwrap_or_default();
    for i in 0..PORTAL_TARGETS {
        let t = targets.get(i);
        row.push(t.map(|t| o(&t.type_)).unwrap_or_default());
        row.push(t.map(|t| o(&t.display_name)).unwrap_or_default());
        row.push(t.map(|t| o(&t.id)).unwrap_or_default());
        row.push(t.map(|t| o(&t.user_principal_name)).unwrap_or_default());
        let props = t
            .and_then(|t| t.modified_properties.as_deref())
            .unwrap_or_default();
        for p in 0..PORTAL_PROPERTIES {
            let p = props.get(p);
            row.push(p.map(|p| o(&p.display_name)).unwrap_or_default());
            row.push(p.map(|p| o(&p.old_value)).unwrap_or_default());
            row.push(p.map(|p| o(&p.new_value)).unwrap_or_default());
        }
    }
    for d in 0..PORTAL_DETAILS {
        let d = details.get(d);
        row.push(d.map(|d| o(&d.key)).unwrap_or_default());
        row.push(d.map(|d| o(&d.value)).unwrap_or_default());
    }
    row
}

/// Admin center CSV download: `OUT/portal/AuditLogs.csv`, UTF-8 BOM, every field quoted, CRLF.
pub fn write_portal_csv(
    records: impl IntoIterator<Item = AuditRecord>,
    out: &Path,
) -> Result<WriteStats> {
    let path = out.join("portal").join("AuditLogs.csv");
    let mut file = create(&path)?;
    file.write_all("\u{feff}".as_bytes()).map_err(io(&path))?;
    let mut w = csv::WriterBuilder::new()
        .quote_style(csv::QuoteStyle::Always)
        .terminator(csv::Terminator::CRLF)
        .from_writer(file);
    let csv_err = |e: csv::Error| Error::io(&path, e.into());
    w.write_record(portal_csv_header()).map_err(csv_err)?;
    let mut stats = WriteStats::default();
    for r in records {
        w.write_record(portal_row(&r)).map_err(csv_err)?;
        stats.records += 1;
    }
    w.flush().map_err(io(&path))?;
    stats.files.push(path.clone());
    Ok(stats)
}

/// Admin center JSON download: `OUT/portal/AuditLogs.json`, a JSON array of Graph records,
/// streamed (`[`, records separated by `,\n`, `]`).
pub fn write_portal_json(
    records: impl IntoIterator<Item = AuditRecord>,
    out: &Path,
) -> Result<WriteStats> {
    let path = out.join("portal").join("AuditLogs.json");
    let mut w = create(&path)?;
    let mut stats = WriteStats::default();
    w.write_all(b"[").map_err(io(&path))?;
    for r in records {
        if stats.records > 0 {
            w.write_all(b",").map_err(io(&path))?;
        }
        w.write_all(b"\n").map_err(io(&path))?;
        serde_json::to_writer(&mut w, &GraphRecord::new(&r, TimeStyle::Graph))
            .map_err(|e| Error::io(&path, e.into()))?;
        stats.records += 1;
    }
    w.write_all(b"\n]\n").map_err(io(&path))?;
    w.flush().map_err(io(&path))?;
    stats.files.push(path.clone());
    Ok(stats)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_seven_digit_timestamps() {
        let t = crate::time::parse_timestamp("2018-01-09T21:20:02.5Z").unwrap();
        assert_eq!(format_ticks(t, "Z"), "2018-01-09T21:20:02.5000000Z");
        assert_eq!(
            format_ticks(t, "+00:00"),
            "2018-01-09T21:20:02.5000000+00:00"
        );
        assert_eq!(format_us_datetime(t), "1/9/2018 9:20:02 PM");
        let morning = crate::time::parse_timestamp("2026-10-05T00:07:09.9Z").unwrap();
        assert_eq!(format_us_datetime(morning), "10/5/2026 12:07:09 AM");
    }

    #[test]
    fn portal_header_has_86_columns() {
        let h = portal_csv_header();
        assert_eq!(h.len(), 86);
        assert_eq!(h[0], "Date (UTC)");
        assert_eq!(h[17], "Target1Type");
        assert_eq!(h[20], "Target1UserPrincipalName");
        assert_eq!(h[21], "Target1ModifiedProperty1Name");
        assert_eq!(h[36], "Target2Type");
        assert_eq!(h[74], "AdditionalDetail1Key");
        assert_eq!(h[85], "AdditionalDetail6Value");
    }
}
