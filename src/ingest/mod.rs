//! Ingestion: every real export of Entra audit logs into the dataset.
//!
//! [`source`] walks and opens files (`.gz`, BOM), [`detect`] recognises the format, [`read`] splits
//! a file into records ([`json_stream`] for JSON, the `csv` crate for CSV) and converts them with
//! one module per format ([`graph`], [`diagnostic`], [`log_analytics`], [`portal_csv`]); accepted
//! and rejected records flow into one [`crate::store::Transaction`], committed atomically at the end.
//! Entitlement-management snapshots (Graph collections of a snapshot folder, [`snapshot`]) take the
//! same path into the `Entra*` tables, in the same transaction.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{SyncSender, sync_channel};

use indicatif::ProgressBar;
use serde::Serialize;

use crate::Result;
use crate::record::{AuditBuilder, AuditRecord, Text};
use crate::store::{Dataset, Rejected};
use arrow::array::RecordBatch;
use snapshot::SnapshotRow;

pub mod detect;
pub mod diagnostic;
pub mod graph;
pub mod graph_fast;
pub mod json_stream;
pub mod log_analytics;
pub mod portal_csv;
pub mod read;
pub mod snapshot;
pub mod source;

pub use detect::InputFormat;
pub use read::FileReport;

/// What an ingest did. `read == written + duplicates + rejected` always holds.
#[derive(Debug, Clone, Serialize)]
pub struct IngestSummary {
    pub read: u64,
    pub written: u64,
    pub duplicates: u64,
    pub rejected: u64,
    pub files: Vec<FileReport>,
    /// Files of walked directories left out for their name (README.md, ...).
    pub skipped: Vec<PathBuf>,
    /// Days (`YYYY-MM-DD`) that received new records.
    pub days: Vec<String>,
    /// Snapshot tables written, per table and `SnapshotDate` (counts add up per entry too).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub snapshots: Vec<SnapshotSummary>,
    /// Where this ingest's rejected records are kept, if any were rejected.
    pub quarantine: Option<PathBuf>,
    /// Bytes read from disk (compressed bytes for `.gz`).
    pub bytes: u64,
    /// Wall-clock time of the whole ingest, commit included.
    pub seconds: f64,
    /// Of which the commit (deduplication, sorting, Parquet writing, publishing).
    pub commit_seconds: f64,
}

/// What an ingest did to one snapshot of one table:
/// `read == written + duplicates + rejected`.
#[derive(Debug, Clone, Serialize)]
pub struct SnapshotSummary {
    pub table: String,
    /// `SnapshotDate` (RFC 3339).
    pub snapshot_date: String,
    /// The partition directory value (`2026-11-01T00-00-00Z`).
    pub partition: String,
    pub read: u64,
    pub written: u64,
    pub duplicates: u64,
    pub rejected: u64,
    /// Rows of an earlier ingest of this snapshot, replaced by these.
    pub replaced: u64,
}

/// How to ingest.
pub struct IngestOptions {
    pub format: InputFormat,
    /// Tenant id for records whose export does not carry one (Graph, admin center downloads).
    pub tenant: Option<String>,
    /// Draw a progress bar (on a terminal).
    pub progress: bool,
    /// `SnapshotDate` of snapshot files (ns, UTC); when `None`, taken from each snapshot
    /// folder's name.
    pub snapshot_date: Option<i64>,
}

/// One item read, for the writing thread. (Not boxed: an audit record is the common case, and
/// a box would cost an allocation per record.)
#[allow(clippy::large_enum_variant)]
enum Item {
    Snapshot(SnapshotRow),
    /// A snapshot collection of this table and date is in the ingest.
    Collection(&'static str, i64),
    Rejected(Rejected),
}

/// What the reading thread hands to the writing thread, in input order.
enum Msg {
    /// A file is being read.
    File(String),
    /// Records of the current file: accepted audit records as Arrow batches per day (built on
    /// the reading thread), and the other items in input order.
    Records(Vec<(String, RecordBatch)>, Vec<Item>),
    /// The current file is done.
    Done(FileReport),
}

/// Records of a chunk handed over at once.
const CHUNK: usize = 2048;

/// The reading side: collects a file's records into chunks for the writing thread.
struct ChannelSink {
    chunk: Vec<Item>,
    /// Audit records of the current chunk as Arrow columns, per UTC day number, with that day's
    /// partition value. Each builder is appended to row by row: a record's text is copied once,
    /// from the input line into its column.
    audit: BTreeMap<i64, (String, AuditBuilder)>,
    audit_records: usize,
    to_writer: SyncSender<Msg>,
    tenant: Option<String>,
}

impl ChannelSink {
    fn send(&self, msg: Msg) -> Result<()> {
        // The writer only hangs up when it failed; its own error is the one reported.
        self.to_writer
            .send(msg)
            .map_err(|_| crate::Error::Invalid("the dataset writer stopped".into()))
    }

    fn flush(&mut self) -> Result<()> {
        if self.chunk.is_empty() && self.audit_records == 0 {
            return Ok(());
        }
        let chunk = std::mem::replace(&mut self.chunk, Vec::with_capacity(CHUNK));
        // A day that received nothing since the last flush is dropped; the others keep their
        // builder for the next chunk.
        self.audit.retain(|_, (_, b)| !b.is_empty());
        let batches = self
            .audit
            .values_mut()
            .map(|(day, b)| Ok((day.clone(), b.finish()?)))
            .collect::<Result<Vec<_>>>()?;
        self.audit_records = 0;
        self.send(Msg::Records(batches, chunk))
    }

    fn push(&mut self, item: Item) -> Result<()> {
        self.chunk.push(item);
        if self.chunk.len() >= CHUNK {
            self.flush()?;
        }
        Ok(())
    }

    /// Adds an accepted record (derived columns filled) to its day's builder.
    fn add<S: Text>(&mut self, mut record: AuditRecord<S>) -> Result<()> {
        if let Some(tenant) = &self.tenant
            && record.tenant_id.as_ref().is_empty()
        {
            record.tenant_id = S::from_string(tenant.clone());
            record.fill_derived();
        }
        // The day is the UTC day of `ActivityDateTime` (see `Transaction::add`).
        let day = record
            .activity_date_time
            .div_euclid(crate::time::NANOS_PER_DAY);
        self.audit
            .entry(day)
            .or_insert_with(|| {
                let name = crate::time::utc_day(record.activity_date_time);
                (name, AuditBuilder::default())
            })
            .1
            .append(&record);
        self.audit_records += 1;
        if self.audit_records >= CHUNK {
            self.flush()?;
        }
        Ok(())
    }
}

impl read::Sink for ChannelSink {
    fn accept(&mut self, record: AuditRecord) -> Result<()> {
        self.add(record)
    }

    fn accept_borrowed(&mut self, record: AuditRecord<Cow<'_, str>>) -> Result<()> {
        self.add(record)
    }

    fn accept_snapshot(&mut self, row: SnapshotRow) -> Result<()> {
        self.push(Item::Snapshot(row))
    }

    fn snapshot_collection(&mut self, table: &'static str, snapshot: i64) -> Result<()> {
        self.push(Item::Collection(table, snapshot))
    }

    fn reject(
        &mut self,
        file: &Path,
        format: &str,
        at: read::Position,
        reason: &str,
        raw: &[u8],
    ) -> Result<()> {
        self.push(Item::Rejected(Rejected {
            file: file.display().to_string(),
            format: format.to_string(),
            line: at.line,
            record: at.record,
            reason: reason.to_string(),
            raw: String::from_utf8_lossy(raw).into_owned(),
        }))
    }
}

/// Reads one file, handing its records to the writing thread.
fn read_one(
    file: &Path,
    opts: &IngestOptions,
    bytes: &Arc<AtomicU64>,
    snapshots: &mut read::SnapshotState,
    to_writer: SyncSender<Msg>,
) -> Result<()> {
    let mut sink = ChannelSink {
        chunk: Vec::with_capacity(CHUNK),
        audit: BTreeMap::new(),
        audit_records: 0,
        to_writer,
        tenant: opts.tenant.clone(),
    };
    sink.send(Msg::File(source::logical_name(file)))?;
    let mut reader = source::open(file, bytes.clone())?;
    let report = read::read_file_with(file, &mut reader, opts.format, snapshots, &mut sink)?;
    sink.flush()?;
    sink.send(Msg::Done(report))
}

/// Whether files must be read one after the other: snapshot files carry names learnt from
/// earlier files ([`read::SnapshotState`]).
fn sequential(files: &[PathBuf], opts: &IngestOptions) -> bool {
    match opts.format {
        InputFormat::Snapshot => true,
        InputFormat::Auto => files.iter().any(|f| {
            let Ok(mut r) = source::open(f, Arc::new(AtomicU64::new(0))) else {
                return false;
            };
            let head = source::head(&mut r).unwrap_or_default();
            matches!(
                detect::detect(f, &head),
                Ok(detect::Detected::Export(InputFormat::Snapshot, _))
            )
        }),
        _ => false,
    }
}

/// Reads `files` on as many threads as there are cores, one file per thread at a time; each
/// file's records reach the writing thread through its own bounded channel, taken in file order,
/// so the writer sees the input in order and memory stays bounded.
fn read_files(
    files: &[PathBuf],
    opts: &IngestOptions,
    bytes: &Arc<AtomicU64>,
    to_writer: SyncSender<Msg>,
) -> Result<()> {
    let threads = if sequential(files, opts) {
        1
    } else {
        std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .min(files.len())
    };
    if threads <= 1 {
        let mut snapshots = read::SnapshotState {
            date: opts.snapshot_date,
            ..Default::default()
        };
        for file in files {
            read_one(file, opts, bytes, &mut snapshots, to_writer.clone())?;
        }
        return Ok(());
    }
    let (senders, receivers): (Vec<_>, Vec<_>) =
        files.iter().map(|_| sync_channel::<Msg>(4)).unzip();
    let senders = std::sync::Mutex::new(senders.into_iter().map(Some).collect::<Vec<_>>());
    let next = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|scope| -> Result<()> {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| -> Result<()> {
                    let mut snapshots = read::SnapshotState {
                        date: opts.snapshot_date,
                        ..Default::default()
                    };
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(file) = files.get(i) else {
                            return Ok(());
                        };
                        let Some(tx) = senders
                            .lock()
                            .expect("not poisoned")
                            .get_mut(i)
                            .and_then(Option::take)
                        else {
                            return Ok(()); // another reader failed
                        };
                        if let Err(e) = read_one(file, opts, bytes, &mut snapshots, tx) {
                            // No file is started after an error: their channels close.
                            next.store(files.len(), Ordering::Relaxed);
                            senders.lock().expect("not poisoned").clear();
                            return Err(e);
                        }
                    }
                })
            })
            .collect();
        let mut forwarded = Ok(());
        for rx in receivers {
            for msg in rx.iter() {
                if to_writer.send(msg).is_err() {
                    forwarded = Err(crate::Error::Invalid("the dataset writer stopped".into()));
                    break;
                }
            }
            if forwarded.is_err() {
                break;
            }
        }
        // A worker stopped by an error closes its channel early: its error is the one reported.
        let mut result = Ok(());
        for w in workers {
            let r = w.join().expect("a reading thread does not panic");
            if result.is_ok() {
                result = r;
            }
        }
        result.and(forwarded)
    })
}

/// Ingests `paths` (files and directories) into the dataset at `data`. `say` receives one line per
/// file (what was detected, what was rejected) and notices such as waiting for the lock.
pub fn ingest(
    data: &Path,
    paths: &[PathBuf],
    opts: &IngestOptions,
    say: &mut dyn FnMut(String),
) -> Result<IngestSummary> {
    let started = std::time::Instant::now();
    let source::Expanded { files, skipped } = source::expand_paths(paths)?;
    for s in &skipped {
        say(format!(
            "{}: skipped (not an export file name: .json, .ndjson, .jsonl, .csv, optionally .gz)",
            s.display()
        ));
    }
    let total: u64 = files
        .iter()
        .filter_map(|f| std::fs::metadata(f).ok())
        .map(|m| m.len())
        .sum();
    let mut waited = None;
    let dataset = Dataset::open_for_write(data, || {
        waited = Some(format!(
            "waiting: another auditbook ingest holds the lock on {}",
            data.display()
        ));
    })?;
    if let Some(w) = waited {
        say(w);
    }
    let progress = if opts.progress {
        let pb = ProgressBar::new(total);
        pb.set_style(
            indicatif::ProgressStyle::with_template("{spinner} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} ({bytes_per_sec}, {eta}) {msg}")
                .expect("valid template"),
        );
        pb
    } else {
        ProgressBar::hidden()
    };
    let bytes = Arc::new(AtomicU64::new(0));
    let mut tx = dataset.begin()?;
    let mut reports = Vec::with_capacity(files.len());
    // Two threads: one reads and converts records, this one stages them into the transaction.
    let (to_writer, from_reader) = sync_channel::<Msg>(8);
    std::thread::scope(|scope| -> Result<()> {
        let reader = scope.spawn(|| read_files(&files, opts, &bytes, to_writer));
        let mut write = || -> Result<()> {
            for msg in from_reader.iter() {
                match msg {
                    Msg::File(name) => progress.set_message(name),
                    Msg::Records(batches, chunk) => {
                        for (day, batch) in batches {
                            tx.add_batch(day, batch)?;
                        }
                        for item in chunk {
                            match item {
                                Item::Snapshot(row) => tx.add_snapshot(row)?,
                                Item::Collection(table, date) => {
                                    tx.snapshot_collection(table, date)
                                }
                                Item::Rejected(rejected) => tx.reject(&rejected)?,
                            }
                        }
                        progress.set_position(bytes.load(Ordering::Relaxed));
                    }
                    Msg::Done(report) => {
                        progress.suspend(|| say(describe(&report)));
                        reports.push(report);
                    }
                }
            }
            Ok(())
        };
        let written = write();
        drop(from_reader); // a reader still sending now stops
        let read = reader.join().expect("the reading thread does not panic");
        written.and(read)
    })?;
    progress.set_position(bytes.load(Ordering::Relaxed));
    progress.set_message("committing");
    let read: u64 = reports.iter().map(|r| r.read).sum();
    let commit_started = std::time::Instant::now();
    let stats = tx.commit(&serde_json::json!({ "files": &reports }))?;
    let commit_seconds = commit_started.elapsed().as_secs_f64();
    progress.finish_and_clear();
    let snapshots = stats
        .snapshots
        .iter()
        .map(|c| {
            let files = reports
                .iter()
                .filter(|r| r.table.as_deref() == Some(&c.table) && r.snapshot == Some(c.snapshot));
            let (read, rejected) = files.fold((0, 0), |(a, b), r| (a + r.read, b + r.rejected));
            SnapshotSummary {
                table: c.table.clone(),
                snapshot_date: crate::time::format_rfc3339_nanos(c.snapshot),
                partition: c.partition.clone(),
                read,
                written: c.written,
                duplicates: c.duplicates,
                rejected,
                replaced: c.replaced,
            }
        })
        .collect();
    let summary = IngestSummary {
        read,
        written: stats.written,
        duplicates: stats.duplicates,
        rejected: stats.rejected,
        files: reports,
        skipped,
        days: stats.days,
        snapshots,
        quarantine: stats.quarantine,
        bytes: bytes.load(Ordering::Relaxed),
        seconds: started.elapsed().as_secs_f64(),
        commit_seconds,
    };
    if summary.read != summary.written + summary.duplicates + summary.rejected {
        return Err(crate::Error::Invalid(format!(
            "internal error: counts do not reconcile: read {}, written {}, duplicates {}, rejected {}",
            summary.read, summary.written, summary.duplicates, summary.rejected
        )));
    }
    Ok(summary)
}

/// One line about a file: what it was read as, and what went wrong.
pub fn describe(r: &FileReport) -> String {
    let how = match (r.format, r.layout) {
        (Some(f), Some(l)) => format!(
            "{} {f} ({l})",
            if r.detected { "detected" } else { "read as" }
        ),
        _ => "not readable".to_string(),
    };
    let mut line = format!("{}: {how}, {} record(s)", r.path, r.read);
    if let (Some(table), Some(snapshot)) = (&r.table, r.snapshot) {
        line = format!(
            "{}: {how} → {}, {} record(s)",
            r.path,
            snapshot::label(table, snapshot),
            r.read
        );
    }
    if r.rejected > 0 {
        line.push_str(&format!(", {} rejected", r.rejected));
    }
    for note in &r.notes {
        line.push_str(&format!("\n  note: {note}"));
    }
    line
}

impl IngestSummary {
    /// `3.1 GB in 52.1 s: 60.2 MB/s, 44100 records/s`.
    pub fn rate_line(&self) -> String {
        let secs = self.seconds.max(1e-9);
        format!(
            "{:.1} MB in {:.1} s (commit {:.1} s): {:.1} MB/s, {:.0} records/s",
            self.bytes as f64 / 1e6,
            self.seconds,
            self.commit_seconds,
            self.bytes as f64 / 1e6 / secs,
            self.read as f64 / secs
        )
    }

    /// One line per snapshot table and date:
    /// `EntraUsers @ 2026-11-01T00:00:00Z: read 4, written 3, duplicates 1, rejected 0`.
    pub fn snapshot_lines(&self) -> Vec<String> {
        self.snapshots
            .iter()
            .map(|s| {
                let mut line = format!(
                    "{} @ {}: read {}, written {}, duplicates {}, rejected {}",
                    s.table,
                    s.snapshot_date.replace(".000000000Z", "Z"),
                    s.read,
                    s.written,
                    s.duplicates,
                    s.rejected
                );
                if s.replaced > 0 {
                    line.push_str(&format!(
                        " (replaced {} row(s) of an earlier ingest of this snapshot)",
                        s.replaced
                    ));
                }
                line
            })
            .collect()
    }

    /// `read R, written W, duplicates D, rejected X`.
    pub fn counts_line(&self) -> String {
        format!(
            "read {}, written {}, duplicates {}, rejected {}",
            self.read, self.written, self.duplicates, self.rejected
        )
    }
}
