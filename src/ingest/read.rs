//! Reading one file: detect (or take) its format, split it into records, convert each to an
//! `AuditRecord`, and hand every record to the sink, accepted or rejected with its position and
//! reason. Nothing read is dropped silently.

use std::borrow::Cow;
use std::io::BufRead;
use std::path::Path;

use serde_json::Value;

use super::detect::{self, Detected, InputFormat, Layout};
use super::graph::{self, Obj};
use super::graph_fast;
use super::json_stream::{self, Element, Slot};
use super::snapshot::{self, FileTarget, Links, SnapshotRow, TargetError};
use super::{diagnostic, log_analytics, portal_csv, source};
use crate::record::AuditRecord;
use crate::{Error, Result};

/// Where a record sat in its file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Position {
    /// 1-based line the record (or its enclosing page) starts on.
    pub line: u64,
    /// 1-based ordinal of the record in the file.
    pub record: u64,
}

/// Receives the records of a file.
pub trait Sink {
    fn accept(&mut self, record: AuditRecord) -> Result<()>;
    /// A record whose text is borrowed from the input line (the Graph fast path). A sink that
    /// builds Arrow columns copies the text once, straight into them.
    fn accept_borrowed(&mut self, record: AuditRecord<Cow<'_, str>>) -> Result<()> {
        self.accept(record.into_owned())
    }
    /// A row of an entitlement snapshot table (`--format snapshot`).
    fn accept_snapshot(&mut self, row: SnapshotRow) -> Result<()> {
        Err(Error::Invalid(format!(
            "this reader does not take snapshot rows ({})",
            row.table
        )))
    }
    /// The file being read holds snapshot `table` at `snapshot` (sent before its rows, even
    /// when it has none: an ingested collection replaces that snapshot of the table).
    fn snapshot_collection(&mut self, table: &'static str, snapshot: i64) -> Result<()> {
        let _ = (table, snapshot);
        Ok(())
    }
    fn reject(
        &mut self,
        file: &Path,
        format: &str,
        at: Position,
        reason: &str,
        raw: &[u8],
    ) -> Result<()>;
}

/// What reading one file found.
#[derive(Debug, Clone, serde::Serialize)]
pub struct FileReport {
    pub path: String,
    /// The format used (detected or given); `None` when the file is empty or unreadable.
    pub format: Option<InputFormat>,
    pub layout: Option<Layout>,
    pub detected: bool,
    pub read: u64,
    pub rejected: u64,
    /// Warnings worth a reader's attention (lossy source, unknown columns, empty file, ...).
    pub notes: Vec<String>,
    /// Snapshot files: the table the file fills.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub table: Option<String>,
    /// Snapshot files: `SnapshotDate` (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub snapshot_date: Option<String>,
    /// Snapshot files: `SnapshotDate`, ns since the epoch.
    #[serde(skip)]
    pub snapshot: Option<i64>,
}

/// State of snapshot reading carried across the files of one ingest.
#[derive(Debug, Default)]
pub struct SnapshotState {
    /// `--snapshot-date`: overrides the date in folder names.
    pub date: Option<i64>,
    /// Package and policy names learnt from earlier files.
    pub links: Links,
}

/// Reads one file into `sink`.
pub fn read_file(
    path: &Path,
    reader: &mut dyn BufRead,
    format: InputFormat,
    sink: &mut dyn Sink,
) -> Result<FileReport> {
    read_file_with(path, reader, format, &mut SnapshotState::default(), sink)
}

/// [`read_file`] with the snapshot state of the ingest (its `--snapshot-date`, names learnt
/// from earlier files).
pub fn read_file_with(
    path: &Path,
    reader: &mut dyn BufRead,
    format: InputFormat,
    snapshots: &mut SnapshotState,
    sink: &mut dyn Sink,
) -> Result<FileReport> {
    let head = source::head(reader);
    let mut file = FileReader {
        path,
        format_name: String::new(),
        columns: Vec::new(),
        report: FileReport {
            path: path.display().to_string(),
            format: None,
            layout: None,
            detected: format == InputFormat::Auto,
            read: 0,
            rejected: 0,
            notes: Vec::new(),
            table: None,
            snapshot_date: None,
            snapshot: None,
        },
        sink,
    };
    let head = match head {
        Ok(head) => head,
        Err(e) => {
            file.format_name = "unknown".into();
            file.reject(
                Position { line: 1, record: 1 },
                &format!("whole file rejected: read error: {e}"),
                b"",
            )?;
            return Ok(file.report);
        }
    };
    let detected = if format == InputFormat::Auto {
        detect::detect(path, &head)
    } else {
        detect::layout(&head).map(|l| l.map_or(Detected::Empty, |l| Detected::Export(format, l)))
    };
    let (format, layout) = match detected {
        Ok(Detected::Empty) => {
            file.report.notes.push("empty file: no records".into());
            return Ok(file.report);
        }
        Ok(Detected::Export(f, l)) => (f, l),
        Err(detect::Undetectable(reason)) => {
            file.format_name = "unknown".into();
            let mut raw = head;
            raw.truncate(4096);
            file.reject(
                Position { line: 1, record: 1 },
                &format!("whole file rejected: {reason}"),
                &raw,
            )?;
            return Ok(file.report);
        }
    };
    file.report.format = Some(format);
    file.report.layout = Some(layout);
    file.format_name = format.to_string();
    match (format, layout) {
        (InputFormat::PortalCsv, Layout::Csv) => file.portal_csv(reader)?,
        (InputFormat::LogAnalytics, Layout::Csv) => file.la_csv(reader)?,
        (_, Layout::Csv) => {
            file.reject(
                Position { line: 1, record: 1 },
                &format!("whole file rejected: --format {format} is JSON, but the file is CSV"),
                &head[..head.len().min(4096)],
            )?;
        }
        (InputFormat::Snapshot, layout) => file.snapshot(reader, layout, &head, snapshots)?,
        (InputFormat::PortalCsv, _) => {
            file.reject(
                Position { line: 1, record: 1 },
                "whole file rejected: --format portal-csv, but the file is JSON (use portal-json)",
                &head[..head.len().min(4096)],
            )?;
        }
        (_, Layout::JsonLines) => {
            let mut ctx = JsonContext::default();
            let mut last_line = 0;
            let outcome = json_stream::split_lines(reader, &mut |el| {
                last_line = el.line;
                file.element(format, el, &mut ctx)
            });
            match outcome {
                Ok(Some(r)) => r?,
                Ok(None) => {}
                Err(e) => {
                    let at = file.next_position(last_line + 1);
                    file.reject(at, &format!("read error after line {last_line}: {e}; the rest of the file could not be read"), b"")?;
                }
            }
        }
        (_, Layout::JsonDocument) => {
            let mut ctx = JsonContext::default();
            let broken =
                json_stream::split_document(reader, &mut |el| file.element(format, el, &mut ctx))?;
            if let Some(b) = broken {
                let at = Position {
                    line: b.line,
                    record: file.report.read + 1,
                };
                file.reject(at, &format!("broken JSON document: {}; the rest of the file could not be split into records", b.reason), &b.tail)?;
            }
        }
    }
    Ok(file.report)
}

/// State carried across the elements of one JSON file: query-API table columns.
#[derive(Default)]
struct JsonContext {
    tables: Vec<Option<Vec<String>>>,
}

struct FileReader<'a> {
    path: &'a Path,
    format_name: String,
    /// Column names of a Log Analytics CSV, from its header.
    columns: Vec<String>,
    report: FileReport,
    sink: &'a mut dyn Sink,
}

impl FileReader<'_> {
    fn next_position(&self, line: u64) -> Position {
        Position {
            line,
            record: self.report.read + 1,
        }
    }

    fn reject(&mut self, at: Position, reason: &str, raw: &[u8]) -> Result<()> {
        self.report.read += 1;
        self.report.rejected += 1;
        self.sink
            .reject(self.path, &self.format_name, at, reason, raw)
    }

    fn accept_or_reject(
        &mut self,
        line: u64,
        converted: std::result::Result<AuditRecord, String>,
        raw: &dyn Fn() -> Vec<u8>,
    ) -> Result<()> {
        match converted {
            Ok(mut r) => {
                r.fill_derived();
                self.report.read += 1;
                self.sink.accept(r)
            }
            Err(reason) => {
                let at = self.next_position(line);
                self.reject(at, &reason, &raw())
            }
        }
    }

    /// One JSON element: a record, or a page/wrapper of records, or a table's columns or row.
    fn element(&mut self, format: InputFormat, el: Element, ctx: &mut JsonContext) -> Result<()> {
        // A line holding one Graph record as Entra writes it: converted in one pass.
        if format == InputFormat::Graph
            && el.slot == Slot::Line
            && let Some(mut r) = graph_fast::fast_record(el.text)
        {
            r.fill_derived();
            self.report.read += 1;
            return self.sink.accept_borrowed(r);
        }
        let value: Value = match serde_json::from_slice(el.text) {
            Ok(v) => v,
            Err(e) => {
                let at = self.next_position(el.line);
                return self.reject(at, &format!("invalid JSON: {e}"), el.text);
            }
        };
        match el.slot {
            Slot::TableColumns(t) => {
                match log_analytics::table_columns(&value).and_then(|cols| {
                    let cols = cols
                        .iter()
                        .map(|c| log_analytics::column_name(c))
                        .collect::<std::result::Result<Vec<_>, _>>()?;
                    let unknown = log_analytics::check_columns(&cols)?;
                    Ok((cols, unknown))
                }) {
                    Ok((cols, unknown)) => {
                        if !unknown.is_empty() {
                            self.report.notes.push(format!(
                                "table {t}: columns not in AuditLogs, ignored: {}",
                                unknown.join(", ")
                            ));
                        }
                        ctx.tables.resize(ctx.tables.len().max(t + 1), None);
                        ctx.tables[t] = Some(cols);
                    }
                    Err(e) => {
                        return Err(Error::Invalid(format!(
                            "{}:{}: {e}",
                            self.path.display(),
                            el.line
                        )));
                    }
                }
                Ok(())
            }
            Slot::TableRow(t) => {
                let converted = match (ctx.tables.get(t).cloned().flatten(), value) {
                    (None, _) => Err("table row before the table's `columns`".to_string()),
                    (Some(cols), Value::Array(row)) => log_analytics::zip_row(&cols, row)
                        .and_then(|m| log_analytics::record_from_row(Obj(&m))),
                    (Some(_), other) => Err(format!(
                        "a table row must be an array, found {}",
                        graph::kind(&other)
                    )),
                };
                self.accept_or_reject(el.line, converted, &|| el.text.to_vec())
            }
            Slot::Line | Slot::TopArray | Slot::Keyed(_) => {
                self.json_value(format, el.line, value, el.text, 0, ctx)
            }
        }
    }

    /// A JSON value that is a record, or a container of records (a Graph page, a diagnostic
    /// `{"records":[...]}` wrapper, an array of those).
    fn json_value(
        &mut self,
        format: InputFormat,
        line: u64,
        value: Value,
        raw: &[u8],
        depth: u8,
        ctx: &mut JsonContext,
    ) -> Result<()> {
        // A whole query-API response on one line: its tables go through the streaming path.
        if let Value::Object(m) = &value
            && let Some(Value::Array(tables)) = Obj(m).get("tables")
        {
            let base = ctx.tables.len();
            for (t, table) in tables.iter().enumerate() {
                let cols = table.get("columns").cloned().unwrap_or(Value::Null);
                let text = serde_json::to_vec(&cols).unwrap_or_default();
                self.element(
                    format,
                    Element {
                        slot: Slot::TableColumns(base + t),
                        line,
                        text: &text,
                    },
                    ctx,
                )?;
                for row in table
                    .get("rows")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    let text = serde_json::to_vec(row).unwrap_or_default();
                    self.element(
                        format,
                        Element {
                            slot: Slot::TableRow(base + t),
                            line,
                            text: &text,
                        },
                        ctx,
                    )?;
                }
            }
            return Ok(());
        }
        if depth < 3 {
            let container = match &value {
                Value::Array(_) => true,
                Value::Object(m) => {
                    let o = Obj(m);
                    ["value", "records"]
                        .iter()
                        .any(|k| matches!(o.get(k), Some(Value::Array(_))))
                }
                _ => false,
            };
            if container {
                let items = match value {
                    Value::Array(items) => items,
                    Value::Object(mut m) => {
                        let key = m
                            .keys()
                            .find(|k| {
                                k.eq_ignore_ascii_case("value") || k.eq_ignore_ascii_case("records")
                            })
                            .cloned()
                            .unwrap();
                        match m.remove(&key) {
                            Some(Value::Array(items)) => items,
                            _ => unreachable!("checked above"),
                        }
                    }
                    _ => unreachable!("checked above"),
                };
                for item in items {
                    let text = serde_json::to_vec(&item).unwrap_or_default();
                    self.json_value(format, line, item, &text, depth + 1, ctx)?;
                }
                return Ok(());
            }
        }
        let converted = match &value {
            Value::Object(m) => convert_object(format, Obj(m)),
            other => Err(format!(
                "expected a record (a JSON object), found {}",
                graph::kind(other)
            )),
        };
        self.accept_or_reject(line, converted, &|| raw.to_vec())
    }

    fn csv_reader(reader: &mut dyn BufRead) -> csv::Reader<&mut dyn BufRead> {
        csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(reader)
    }

    /// Iterates the data rows of a CSV file after its header, as text fields with their line.
    fn csv_rows(
        &mut self,
        reader: &mut dyn BufRead,
        mut header: impl FnMut(&mut Self, &[String]) -> Result<()>,
        mut row: impl FnMut(&mut Self, u64, Vec<String>) -> Result<()>,
    ) -> Result<()> {
        let mut csv = Self::csv_reader(reader);
        let mut record = csv::ByteRecord::new();
        let mut first = true;
        loop {
            let line = csv.position().line();
            match csv.read_byte_record(&mut record) {
                Ok(false) => return Ok(()),
                Ok(true) => {}
                Err(e) => {
                    let at = self.next_position(line);
                    self.reject(at, &format!("unreadable CSV: {e}"), b"")?;
                    if matches!(e.kind(), csv::ErrorKind::Io(_)) {
                        return Ok(());
                    }
                    continue;
                }
            }
            let line = record.position().map_or(line, |p| p.line());
            let fields: std::result::Result<Vec<String>, usize> = record
                .iter()
                .enumerate()
                .map(|(i, f)| String::from_utf8(f.to_vec()).map_err(|_| i))
                .collect();
            match fields {
                Ok(fields) if first => {
                    first = false;
                    header(self, &fields)?;
                }
                Ok(fields) => row(self, line, fields)?,
                Err(i) => {
                    let at = self.next_position(line);
                    let raw = csv_line(&record);
                    self.reject(at, &format!("field {} is not UTF-8 text", i + 1), &raw)?;
                }
            }
        }
    }

    fn portal_csv(&mut self, reader: &mut dyn BufRead) -> Result<()> {
        let mut truncated = 0u64;
        self.csv_rows(
            reader,
            |me, header| match portal_csv::check_header(header) {
                Ok(note) => {
                    me.report.notes.extend(note);
                    Ok(())
                }
                Err(e) => Err(Error::Invalid(format!("{}:1: {e}", me.path.display()))),
            },
            |me, line, fields| {
                let converted = portal_csv::record_from_row(&fields).map(|row| {
                    truncated += u64::from(row.possibly_truncated);
                    row.record
                });
                me.accept_or_reject(line, converted, &|| csv_fields_line(&fields))
            },
        )?;
        self.report.notes.push(format!(
            "lossy source: the admin center download keeps at most {} targets, {} modified properties each and {} additional details, seconds only, and no record id (ids derived from content){}",
            portal_csv::TARGETS,
            portal_csv::PROPERTIES_PER_TARGET,
            portal_csv::DETAILS,
            if truncated > 0 { format!("; {truncated} record(s) fill a capped slot and may have lost data") } else { String::new() }
        ));
        Ok(())
    }

    fn la_csv(&mut self, reader: &mut dyn BufRead) -> Result<()> {
        self.csv_rows(
            reader,
            |me, header| {
                let cols = header
                    .iter()
                    .map(|h| log_analytics::column_name(h))
                    .collect::<std::result::Result<Vec<_>, _>>()
                    .and_then(|cols| {
                        log_analytics::check_columns(&cols).map(|unknown| (cols, unknown))
                    });
                match cols {
                    Ok((cols, unknown)) => {
                        if !unknown.is_empty() {
                            me.report.notes.push(format!(
                                "columns not in AuditLogs, ignored: {}",
                                unknown.join(", ")
                            ));
                        }
                        me.columns = cols;
                        Ok(())
                    }
                    Err(e) => Err(Error::Invalid(format!("{}:1: {e}", me.path.display()))),
                }
            },
            |me, line, fields| {
                let converted = if fields.len() != me.columns.len() {
                    Err(format!(
                        "row has {} fields, the header has {}",
                        fields.len(),
                        me.columns.len()
                    ))
                } else {
                    let m: serde_json::Map<String, Value> = me
                        .columns
                        .iter()
                        .cloned()
                        .zip(fields.iter().cloned().map(Value::String))
                        .collect();
                    log_analytics::record_from_row(Obj(&m))
                };
                me.accept_or_reject(line, converted, &|| csv_fields_line(&fields))
            },
        )
    }
}

impl FileReader<'_> {
    /// A snapshot collection file: its target (collection, parent, date), then its objects.
    fn snapshot(
        &mut self,
        reader: &mut dyn BufRead,
        layout: Layout,
        head: &[u8],
        state: &mut SnapshotState,
    ) -> Result<()> {
        let target = match snapshot::resolve_target(self.path, head, state.date) {
            Ok(t) => t,
            Err(TargetError::NoDate(message)) => return Err(Error::Usage(message)),
            Err(TargetError::Unknown(reason)) => {
                return self.reject(
                    Position { line: 1, record: 1 },
                    &format!("whole file rejected: {reason}"),
                    &head[..head.len().min(4096)],
                );
            }
        };
        let table = target.collection.table();
        self.report.table = Some(table.to_string());
        self.report.snapshot = Some(target.snapshot);
        self.report.snapshot_date = Some(crate::time::format_rfc3339_nanos(target.snapshot));
        self.sink.snapshot_collection(table, target.snapshot)?;
        let mut on_element = |me: &mut Self, el: Element| -> Result<()> {
            match serde_json::from_slice::<Value>(el.text) {
                Ok(v) => me.snapshot_value(&target, el.line, v, 0, &mut state.links),
                Err(e) => {
                    let at = me.next_position(el.line);
                    me.reject(at, &format!("invalid JSON: {e}"), el.text)
                }
            }
        };
        if layout == Layout::JsonLines {
            let mut last_line = 0;
            let outcome = json_stream::split_lines(reader, &mut |el| {
                last_line = el.line;
                on_element(self, el)
            });
            match outcome {
                Ok(Some(r)) => r?,
                Ok(None) => {}
                Err(e) => {
                    let at = self.next_position(last_line + 1);
                    self.reject(at, &format!("read error after line {last_line}: {e}; the rest of the file could not be read"), b"")?;
                }
            }
        } else {
            let broken = json_stream::split_document(reader, &mut |el| on_element(self, el))?;
            if let Some(b) = broken {
                let at = Position {
                    line: b.line,
                    record: self.report.read + 1,
                };
                self.reject(at, &format!("broken JSON document: {}; the rest of the file could not be split into records", b.reason), &b.tail)?;
            }
        }
        Ok(())
    }

    /// A Graph object of a snapshot collection, or a page / array of them.
    fn snapshot_value(
        &mut self,
        target: &FileTarget,
        line: u64,
        value: Value,
        depth: u8,
        links: &mut Links,
    ) -> Result<()> {
        if depth < 3 {
            match value {
                Value::Array(items) => {
                    for item in items {
                        self.snapshot_value(target, line, item, depth + 1, links)?;
                    }
                    return Ok(());
                }
                Value::Object(mut m) => {
                    let o = Obj(&m);
                    let page_key = (o.get("id").is_none())
                        .then(|| {
                            m.iter()
                                .find(|(k, v)| k.eq_ignore_ascii_case("value") && v.is_array())
                                .map(|(k, _)| k.clone())
                        })
                        .flatten();
                    if let Some(key) = page_key {
                        let Some(Value::Array(items)) = m.remove(&key) else {
                            unreachable!("checked above")
                        };
                        for item in items {
                            self.snapshot_value(target, line, item, depth + 1, links)?;
                        }
                        return Ok(());
                    }
                    return self.snapshot_object(target, line, &m, links);
                }
                _ => {}
            }
        }
        match value {
            Value::Object(m) => self.snapshot_object(target, line, &m, links),
            other => {
                let at = self.next_position(line);
                let raw = serde_json::to_vec(&other).unwrap_or_default();
                let reason = format!(
                    "expected a Graph object (a JSON object), found {}",
                    graph::kind(&other)
                );
                self.reject(at, &reason, &raw)
            }
        }
    }

    fn snapshot_object(
        &mut self,
        target: &FileTarget,
        line: u64,
        m: &serde_json::Map<String, Value>,
        links: &mut Links,
    ) -> Result<()> {
        match snapshot::map_object(target, m, links) {
            Ok(row) => {
                self.report.read += 1;
                self.sink.accept_snapshot(row)
            }
            Err(reason) => {
                let at = self.next_position(line);
                let raw = serde_json::to_vec(m).unwrap_or_default();
                self.reject(at, &reason, &raw)
            }
        }
    }
}

/// Converts a JSON object according to the file's format; a record of another kind is refused.
fn convert_object(format: InputFormat, o: Obj) -> std::result::Result<AuditRecord, String> {
    match format {
        InputFormat::Diagnostic => {
            if diagnostic::is_envelope(o) {
                diagnostic::record_from_envelope(o)
            } else {
                Err(not_a(format, o))
            }
        }
        InputFormat::LogAnalytics => {
            if log_analytics::is_row(o) {
                log_analytics::record_from_row(o)
            } else {
                Err(not_a(format, o))
            }
        }
        _ => {
            if diagnostic::is_envelope(o)
                || (log_analytics::is_row(o) && !graph::is_graph_record(o))
            {
                Err(not_a(format, o))
            } else {
                graph::record_from_graph(o)
            }
        }
    }
}

fn not_a(format: InputFormat, o: Obj) -> String {
    let what = if diagnostic::is_envelope(o) {
        "a diagnostic-settings record"
    } else if log_analytics::is_row(o) {
        "a Log Analytics row"
    } else if graph::is_graph_record(o) {
        "a Graph directoryAudit record"
    } else {
        "an object of unknown shape"
    };
    let keys: Vec<&str> = o.0.keys().map(String::as_str).take(8).collect();
    format!(
        "not a {format} record: found {what} (members: {})",
        keys.join(", ")
    )
}

/// A row's fields written back as one CSV line (for the quarantine).
fn csv_fields_line(fields: &[String]) -> Vec<u8> {
    let mut w = csv::WriterBuilder::new().from_writer(Vec::new());
    let _ = w.write_record(fields);
    w.into_inner().unwrap_or_default()
}

fn csv_line(record: &csv::ByteRecord) -> Vec<u8> {
    let mut w = csv::WriterBuilder::new().from_writer(Vec::new());
    let _ = w.write_byte_record(record);
    w.into_inner().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default)]
    struct Collect {
        ok: Vec<AuditRecord>,
        bad: Vec<(Position, String, String)>,
    }

    impl Sink for Collect {
        fn accept(&mut self, record: AuditRecord) -> Result<()> {
            self.ok.push(record);
            Ok(())
        }
        fn reject(
            &mut self,
            _: &Path,
            _: &str,
            at: Position,
            reason: &str,
            raw: &[u8],
        ) -> Result<()> {
            self.bad.push((
                at,
                reason.to_string(),
                String::from_utf8_lossy(raw).into_owned(),
            ));
            Ok(())
        }
    }

    fn read(name: &str, content: &str, format: InputFormat) -> (FileReport, Collect) {
        let mut sink = Collect::default();
        let report =
            read_file(Path::new(name), &mut content.as_bytes(), format, &mut sink).unwrap();
        (report, sink)
    }

    const REC: &str =
        r#"{"id":"a1","activityDateTime":"2026-01-02T03:04:05Z","activityDisplayName":"X"}"#;

    #[test]
    fn ndjson_with_garbage_lines_keeps_positions() {
        let content = format!("{REC}\r\nnot json\r\n\r\n{}\r\n", REC.replace("a1", "a2"));
        let (report, sink) = read("x.ndjson", &content, InputFormat::Auto);
        assert_eq!(report.format, Some(InputFormat::Graph));
        assert_eq!(report.layout, Some(Layout::JsonLines));
        assert_eq!((report.read, report.rejected), (3, 1));
        assert_eq!(sink.ok.len(), 2);
        assert_eq!(sink.bad[0].0, Position { line: 2, record: 2 });
        assert!(
            sink.bad[0].1.starts_with("invalid JSON"),
            "{}",
            sink.bad[0].1
        );
        assert_eq!(sink.bad[0].2, "not json");
    }

    #[test]
    fn array_of_pages_and_bare_array() {
        let pages = format!(
            "[{{\"@odata.context\":\"c\",\"value\":[{REC}]}},{{\"value\":[{}]}}]",
            REC.replace("a1", "a2")
        );
        let (report, sink) = read("p.json", &pages, InputFormat::Auto);
        assert_eq!((report.read, report.rejected), (2, 0));
        assert_eq!(sink.ok[1].id, "a2");
        let (report, _) = read("b.json", &format!("[{REC},{REC}]"), InputFormat::Graph);
        assert_eq!(report.read, 2);
    }

    #[test]
    fn wrong_kind_of_record_for_explicit_format() {
        let (report, sink) = read("d.json", REC, InputFormat::Diagnostic);
        assert_eq!(report.rejected, 1);
        assert!(
            sink.bad[0]
                .1
                .contains("not a diagnostic record: found a Graph directoryAudit record"),
            "{}",
            sink.bad[0].1
        );
    }

    #[test]
    fn empty_and_binary_files() {
        let (report, sink) = read("e.json", "", InputFormat::Auto);
        assert_eq!((report.read, report.rejected), (0, 0));
        assert!(report.notes[0].contains("empty"));
        assert!(sink.bad.is_empty());
        let (report, sink) = read("b.bin", "\u{1}\u{0}\u{0}x", InputFormat::Auto);
        assert_eq!((report.read, report.rejected), (1, 1));
        assert!(sink.bad[0].1.contains("binary"));
    }

    #[test]
    fn query_api_tables() {
        let doc = r#"{"tables":[{"name":"PrimaryResult","columns":[{"name":"Id","type":"string"},{"name":"ActivityDateTime","type":"datetime"},{"name":"OperationName","type":"string"},{"name":"TargetResources","type":"dynamic"}],
"rows":[["i1","2026-01-01T00:00:00Z","Op","[{\"id\":\"t\"}]"],
["i2","bad time","Op",""],
["i3"]]}]}"#;
        let (report, sink) = read("la.json", doc, InputFormat::Auto);
        assert_eq!(report.format, Some(InputFormat::LogAnalytics));
        assert_eq!((report.read, report.rejected), (3, 2));
        assert_eq!(
            sink.ok[0].target_resources.as_ref().unwrap()[0]
                .id
                .as_deref(),
            Some("t")
        );
        assert_eq!(sink.bad[0].0.line, 3);
        assert!(
            sink.bad[1].1.contains("row has 1 values"),
            "{}",
            sink.bad[1].1
        );
    }
}

#[cfg(test)]
mod robustness {
    //! Whatever the bytes, reading never panics and every record is either accepted or rejected.
    use super::*;
    use proptest::prelude::*;

    #[derive(Default)]
    struct Count {
        accepted: u64,
        rejected: u64,
    }

    impl Sink for Count {
        fn accept(&mut self, _: AuditRecord) -> Result<()> {
            self.accepted += 1;
            Ok(())
        }
        fn reject(&mut self, _: &Path, _: &str, _: Position, _: &str, _: &[u8]) -> Result<()> {
            self.rejected += 1;
            Ok(())
        }
    }

    const SEEDS: &[&str] = &[
        r#"{"value":[{"id":"a","activityDateTime":"2026-01-01T00:00:00Z","targetResources":[{"Type":"User"}]}]}"#,
        "{\"time\":\"2026-01-01T00:00:00Z\",\"operationName\":\"x\",\"properties\":{\"id\":\"p\",\"activityDateTime\":\"2026-01-01T00:00:00+00:00\"}}\r\n{\"records\":[]}\r\n",
        r#"{"tables":[{"columns":[{"name":"Id"},{"name":"ActivityDateTime"},{"name":"OperationName"}],"rows":[["i","2026-01-01T00:00:00Z","o"]]}]}"#,
        "TimeGenerated [UTC],Id,ActivityDateTime,OperationName\n2026-01-01T00:00:00Z,i,1/1/2026 1:00:00 AM,o\n",
    ];

    fn check(bytes: &[u8], format: InputFormat) -> std::result::Result<(), TestCaseError> {
        let mut sink = Count::default();
        // Whole-input errors (a CSV header that cannot be mapped) are fine; panics are not.
        if let Ok(report) = read_file(Path::new("fuzz.json"), &mut &bytes[..], format, &mut sink) {
            prop_assert_eq!(report.read, sink.accepted + sink.rejected);
            prop_assert_eq!(report.rejected, sink.rejected);
        }
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1500))]

        #[test]
        fn random_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
            check(&bytes, InputFormat::Auto)?;
        }

        #[test]
        fn mutated_exports(seed in 0..SEEDS.len(), edits in proptest::collection::vec((any::<usize>(), any::<u8>(), 0..3u8), 1..6)) {
            let mut bytes = SEEDS[seed].as_bytes().to_vec();
            for (at, byte, op) in edits {
                let at = at % (bytes.len() + 1);
                match op {
                    0 if at < bytes.len() => { bytes.remove(at); }
                    1 => bytes.insert(at, byte),
                    _ => bytes.truncate(at),
                }
            }
            for format in [InputFormat::Auto, InputFormat::Graph, InputFormat::Diagnostic, InputFormat::LogAnalytics, InputFormat::PortalCsv] {
                check(&bytes, format)?;
            }
        }
    }
}
