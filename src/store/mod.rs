//! The dataset on disk (DESIGN §4): layout, lock, staging, deduplication and atomic commit.
//!
//! ```text
//! DATA/AuditLogs/date=YYYY-MM-DD/part-<txn>.parquet   the table (hive layout, UTC day of ActivityDateTime,
//!                                                    sorted by TimeGenerated, zstd)
//! DATA/<Table>/snapshot=<when>/part-<txn>.parquet     an entitlement snapshot table (`snapshot_schema`):
//!                                                    one partition per SnapshotDate, sorted by Id
//! DATA/_quarantine/<txn>.ndjson                      rejected records: file, line, record, reason, raw text
//! DATA/_auditbook/lock                               held by the one writer
//! DATA/_auditbook/journal.json                       present only while a commit is being applied
//! DATA/_auditbook/ingests/<txn>.json                 one summary per committed ingest
//! DATA/_auditbook/index/AuditLogs/date=.../part-<txn>.tidx   the target index of each AuditLogs
//!                                                    file ([`target_index`])
//! DATA/_auditbook/staging/<txn>/                     work files of an ingest in progress
//! ```
//! An ingest buffers records per day as Arrow batches and, while it is still reading, seals days
//! into staging ([`days`]): drops the records whose `Id` the day already holds or that came
//! earlier in the same ingest, sorts the rest by `TimeGenerated` and writes a Parquet part. At
//! commit a day with several parts (records that came late) is merged into one new file.
//! The commit writes a journal of renames, applies it, and removes it; a crash before the journal
//! leaves the dataset untouched, a crash after it is rolled forward by the next writer or reader.
//!
//! Snapshot rows (entitlement state, [`crate::ingest::snapshot`]) ride in the same transaction:
//! staged per table and `SnapshotDate`, deduplicated on their key inside the ingest, and at commit
//! they *replace* the partition of that table and date: the journal first moves the partition's
//! existing files into the ingest's staging (deleted with it), then moves the new file in. So a
//! snapshot ingested again replaces itself, and audit records and snapshot tables of one ingest
//! become visible together.

use std::collections::{BTreeMap, HashSet};
use std::fs::{self, File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{BooleanArray, RecordBatch};
use arrow::compute::{
    SortColumn, concat_batches, filter_record_batch, lexsort_to_indices, take_record_batch,
};
use arrow::ipc::reader::FileReader as IpcReader;
use arrow::ipc::writer::FileWriter as IpcWriter;
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::basic::{Compression, Encoding, ZstdLevel};
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use serde::{Deserialize, Serialize};

use crate::ingest::snapshot::{SnapshotRow, key_columns, rows_to_batch};
use crate::record::{AuditRecord, records_to_batch};
use crate::schema::{AUDIT_LOGS, DATE_PARTITION, audit_logs_schema};
use crate::snapshot_schema::{SNAPSHOT_PARTITION, snapshot_partition_value, snapshot_schema};
use crate::time::utc_day;
use crate::{Error, Result};

pub mod compact;
pub mod days;
pub mod target_index;
use days::Days;

const META_DIR: &str = "_auditbook";
const QUARANTINE_DIR: &str = "_quarantine";
const JOURNAL: &str = "journal.json";
/// Records buffered in memory before they are staged to disk.
const STAGE_ROWS: usize = 20_000;
/// Rows per Parquet row group.
const ROW_GROUP_ROWS: usize = 128 * 1024;
/// Rows per data page (at most): a time range on the sorted `TimeGenerated` prunes pages.
const DATA_PAGE_ROWS: usize = 2048;
/// Bytes buffered before a write to a Parquet file being written.
const WRITE_BUFFER: usize = 1 << 20;

/// `DATA/AuditLogs`: the directory holding the `date=YYYY-MM-DD` partitions.
pub fn audit_logs_dir(data: &Path) -> PathBuf {
    data.join(AUDIT_LOGS)
}

/// `DATA/_quarantine`: rejected records, one NDJSON file per ingest.
pub fn quarantine_dir(data: &Path) -> PathBuf {
    data.join(QUARANTINE_DIR)
}

fn meta_dir(data: &Path) -> PathBuf {
    data.join(META_DIR)
}

fn day_dir(data: &Path, day: &str) -> PathBuf {
    audit_logs_dir(data).join(format!("{DATE_PARTITION}={day}"))
}

/// `DATA/<Table>/snapshot=<when>`: one snapshot of an entitlement table.
pub fn snapshot_dir(data: &Path, table: &str, snapshot: i64) -> PathBuf {
    data.join(table).join(format!(
        "{SNAPSHOT_PARTITION}={}",
        snapshot_partition_value(snapshot)
    ))
}

fn io<T>(path: &Path, r: std::io::Result<T>) -> Result<T> {
    r.map_err(|e| Error::io(path, e))
}

/// Flushes a directory entry to disk, so a rename in it survives a power cut.
fn sync_dir(dir: &Path) -> Result<()> {
    io(dir, File::open(dir).and_then(|d| d.sync_all()))
}

/// The renames that make one ingest visible, written down before they start.
#[derive(Debug, Serialize, Deserialize)]
struct Journal {
    txn: String,
    moves: Vec<(PathBuf, PathBuf)>,
}

/// Applies a journal: every rename not yet done is done (so applying twice is harmless).
fn apply_journal(data: &Path, journal: &Journal) -> Result<()> {
    let mut dirs = HashSet::new();
    for (from, to) in &journal.moves {
        let (from, to) = (data.join(from), data.join(to));
        if !from.exists() {
            continue;
        }
        let parent = to.parent().expect("journal targets live in the dataset");
        io(parent, fs::create_dir_all(parent))?;
        io(&from, fs::rename(&from, &to))?;
        dirs.insert(parent.to_path_buf());
    }
    let dirs: Vec<PathBuf> = dirs.into_iter().collect();
    for_each_io(&dirs, |d| sync_dir(d))
        .into_iter()
        .collect::<Result<()>>()?;
    let path = meta_dir(data).join(JOURNAL);
    io(&path, fs::remove_file(&path))?;
    let staging = meta_dir(data).join("staging").join(&journal.txn);
    if staging.exists() {
        io(&staging, fs::remove_dir_all(&staging))?;
    }
    Ok(())
}

fn read_journal(data: &Path) -> Result<Option<Journal>> {
    let path = meta_dir(data).join(JOURNAL);
    match fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|e| {
            Error::Invalid(format!("{}: corrupt commit journal: {e}", path.display()))
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io(&path, e)),
    }
}

/// A new transaction's name: its start time (UTC) and the process id.
fn new_txn_id() -> String {
    let now = chrono::Utc::now();
    format!(
        "{}-{:09}-{}",
        now.format("%Y%m%dT%H%M%S"),
        now.timestamp_subsec_nanos(),
        std::process::id()
    )
}

/// The dataset's lock file (created if missing), not yet locked.
fn open_lock(data: &Path) -> Result<(File, PathBuf)> {
    let path = meta_dir(data).join("lock");
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path);
    Ok((io(&path, file)?, path))
}

/// Completes an interrupted commit, if any, so readers see the dataset as one ingest left it.
/// When a writer holds the lock it is left to that writer.
pub fn recover(data: &Path) -> Result<()> {
    if !meta_dir(data).join(JOURNAL).exists() {
        return Ok(());
    }
    let (lock, _) = open_lock(data)?;
    if lock.try_lock().is_err() {
        // A writer is applying its journal (a few renames): wait for it to finish, so this
        // reader sees the dataset before or after, not halfway.
        let started = std::time::Instant::now();
        while meta_dir(data).join(JOURNAL).exists() && started.elapsed().as_secs() < 10 {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        return Ok(());
    }
    if let Some(j) = read_journal(data)? {
        apply_journal(data, &j)?;
    }
    Ok(())
}

/// A dataset opened for writing: holds the lock for as long as it lives.
pub struct Dataset {
    root: PathBuf,
    _lock: File,
}

impl Dataset {
    /// Opens (creating if needed) the dataset at `root` for writing. When another writer holds
    /// the lock, `on_wait` is called once and this waits for it. Completes any interrupted commit
    /// and clears the staging left by killed ingests.
    pub fn open_for_write(root: &Path, on_wait: impl FnOnce()) -> Result<Self> {
        let meta = meta_dir(root);
        io(&meta, fs::create_dir_all(&meta))?;
        let (lock, lock_path) = open_lock(root)?;
        if lock.try_lock().is_err() {
            on_wait();
            io(&lock_path, lock.lock())?;
        }
        if let Some(j) = read_journal(root)? {
            apply_journal(root, &j)?;
        }
        let staging = meta.join("staging");
        if staging.exists() {
            io(&staging, fs::remove_dir_all(&staging))?;
        }
        Ok(Dataset {
            root: root.to_path_buf(),
            _lock: lock,
        })
    }

    /// Starts an ingest.
    pub fn begin(&self) -> Result<Transaction<'_>> {
        let txn = new_txn_id();
        let staging = meta_dir(&self.root).join("staging").join(&txn);
        io(&staging, fs::create_dir_all(&staging))?;
        Ok(Transaction {
            dataset: self,
            txn,
            days: Days::new(&self.root, &staging),
            staging,
            buffers: BTreeMap::new(),
            buffered: 0,
            snapshot_buffers: BTreeMap::new(),
            snapshot_chunks: BTreeMap::new(),
            chunk_seq: 0,
            quarantine: None,
            rejected: 0,
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }
}

/// A rejected record, as stored in the quarantine.
#[derive(Debug, Serialize, Deserialize)]
pub struct Rejected {
    pub file: String,
    pub format: String,
    pub line: u64,
    pub record: u64,
    pub reason: String,
    pub raw: String,
}

/// What a commit did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CommitStats {
    pub written: u64,
    pub duplicates: u64,
    pub rejected: u64,
    /// Days that received records.
    pub days: Vec<String>,
    /// The quarantine file of this ingest, when records were rejected.
    pub quarantine: Option<PathBuf>,
    pub txn: String,
    /// The snapshot partitions written (or emptied) by this ingest, by table and date.
    pub snapshots: Vec<SnapshotCommit>,
}

/// What a commit did to one snapshot of one table.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SnapshotCommit {
    pub table: String,
    /// `SnapshotDate`, ns since the epoch (UTC).
    pub snapshot: i64,
    /// The partition directory value (`2026-11-01T00-00-00Z`).
    pub partition: String,
    pub written: u64,
    pub duplicates: u64,
    /// Rows of an earlier ingest of the same snapshot that this one replaced.
    pub replaced: u64,
}

/// A snapshot partition's key in a transaction: table and `SnapshotDate`.
type SnapshotKey = (&'static str, i64);

/// One ingest in progress. Dropped without `commit`, it leaves the dataset untouched.
pub struct Transaction<'a> {
    dataset: &'a Dataset,
    txn: String,
    staging: PathBuf,
    buffers: BTreeMap<String, Vec<AuditRecord>>,
    buffered: usize,
    days: Days,
    /// Snapshot rows buffered, and staged chunks, per table and date. A key present in
    /// `snapshot_chunks` (even with no chunk) means the ingest holds that collection.
    snapshot_buffers: BTreeMap<SnapshotKey, Vec<SnapshotRow>>,
    snapshot_chunks: BTreeMap<SnapshotKey, Vec<PathBuf>>,
    chunk_seq: u64,
    quarantine: Option<BufWriter<File>>,
    rejected: u64,
}

impl Transaction<'_> {
    /// Adds an accepted record. Its day is the UTC day of `ActivityDateTime`: the event's own time,
    /// the same in every export of it, so one `Id` always lands in one partition and per-day
    /// deduplication is exact. (`TimeGenerated` equals it except in Log Analytics exports, where
    /// it is the workspace's ingestion time, seconds later; a time range on `TimeGenerated`
    /// prunes days with a margin of one day.)
    pub fn add(&mut self, record: AuditRecord) -> Result<()> {
        let day = utc_day(record.activity_date_time);
        self.buffers.entry(day).or_default().push(record);
        self.buffered += 1;
        if self.buffered >= STAGE_ROWS {
            self.stage()?;
        }
        Ok(())
    }

    /// Adds accepted records of one day (the UTC day of their `ActivityDateTime`), as a batch of
    /// the `AuditLogs` schema, in input order.
    pub fn add_batch(&mut self, day: String, batch: RecordBatch) -> Result<()> {
        self.days.add(day, batch)
    }

    /// Declares that this ingest holds snapshot `table` at `snapshot`: at commit its rows replace
    /// that partition, even when there are none (an empty collection empties it).
    pub fn snapshot_collection(&mut self, table: &'static str, snapshot: i64) {
        self.snapshot_chunks.entry((table, snapshot)).or_default();
    }

    /// Adds an accepted snapshot row.
    pub fn add_snapshot(&mut self, row: SnapshotRow) -> Result<()> {
        let key = (row.table, row.snapshot);
        self.snapshot_chunks.entry(key).or_default();
        self.snapshot_buffers.entry(key).or_default().push(row);
        self.buffered += 1;
        if self.buffered >= STAGE_ROWS {
            self.stage()?;
        }
        Ok(())
    }

    /// Keeps a rejected record in the quarantine.
    pub fn reject(&mut self, rejected: &Rejected) -> Result<()> {
        let path = self.staging.join("quarantine.ndjson");
        if self.quarantine.is_none() {
            self.quarantine = Some(BufWriter::new(io(&path, File::create(&path))?));
        }
        let w = self.quarantine.as_mut().expect("just opened");
        let line = serde_json::to_string(rejected).expect("serializable");
        io(&path, writeln!(w, "{line}"))?;
        self.rejected += 1;
        Ok(())
    }

    /// Hands the buffered records to the day buffers (as Arrow batches) and writes the buffered
    /// snapshot rows to staging, one Arrow IPC chunk per table and date.
    fn stage(&mut self) -> Result<()> {
        for (day, records) in std::mem::take(&mut self.buffers) {
            let batch = records_to_batch(&records)?;
            self.days.add(day, batch)?;
        }
        for ((table, snapshot), rows) in std::mem::take(&mut self.snapshot_buffers) {
            let batch = rows_to_batch(table, snapshot, &rows)?;
            self.chunk_seq += 1;
            let dir = self
                .staging
                .join("snapshot-chunks")
                .join(table)
                .join(snapshot_partition_value(snapshot));
            io(&dir, fs::create_dir_all(&dir))?;
            let path = dir.join(format!("{:06}.arrow", self.chunk_seq));
            let file = io(&path, File::create(&path))?;
            let mut w = IpcWriter::try_new(BufWriter::new(file), &batch.schema())?;
            w.write(&batch)?;
            w.finish()?;
            self.snapshot_chunks
                .entry((table, snapshot))
                .or_default()
                .push(path);
        }
        self.buffered = 0;
        Ok(())
    }

    /// Deduplicates, writes and atomically publishes everything added.
    pub fn commit(mut self, summary: &impl Serialize) -> Result<CommitStats> {
        self.stage()?;
        let data = self.dataset.root.clone();
        let mut stats = CommitStats {
            txn: self.txn.clone(),
            ..Default::default()
        };
        let mut moves: Vec<(PathBuf, PathBuf)> = Vec::new();
        let out_dir = self.staging.join("out");
        let name = format!("part-{}.parquet", self.txn);
        // Days still open are sealed on every core; a day sealed more than once (records that
        // came late) has its parts merged into one file.
        let days: Vec<(String, (Vec<PathBuf>, days::Sealed))> =
            std::mem::replace(&mut self.days, Days::new(&data, &self.staging))
                .finish()?
                .into_iter()
                .collect();
        let outcomes = for_each_parallel(&days, |(day, (parts, _))| -> Result<Option<PathBuf>> {
            match parts.as_slice() {
                [] => Ok(None),
                [one] => Ok(Some(one.clone())),
                several => {
                    let merged = days::merge_files(several)?;
                    let path = out_dir.join(format!("{DATE_PARTITION}={day}")).join(&name);
                    write_parquet(&path, &merged)?;
                    Ok(Some(path))
                }
            }
        });
        for ((day, (_, sealed)), outcome) in days.into_iter().zip(outcomes) {
            stats.duplicates += sealed.staged - sealed.kept;
            let Some(path) = outcome? else {
                continue;
            };
            stats.written += sealed.kept;
            moves.push((
                rel(&data, &path),
                rel(&data, &day_dir(&data, &day).join(&name)),
            ));
            stats.days.push(day);
        }
        // Snapshot partitions: dedupe and sort each, then replace the stored partition with it.
        let snapshots: Vec<(SnapshotKey, Vec<PathBuf>)> = std::mem::take(&mut self.snapshot_chunks)
            .into_iter()
            .collect();
        let outcomes = for_each_parallel(&snapshots, |((table, snapshot), chunks)| {
            let (batch, staged) = dedupe_snapshot(table, chunks)?;
            if batch.num_rows() > 0 {
                let staged_path = out_dir
                    .join(table)
                    .join(snapshot_partition_value(*snapshot))
                    .join(&name);
                write_parquet(&staged_path, std::slice::from_ref(&batch))?;
            }
            let old = stored_files(&snapshot_dir(&data, table, *snapshot))?;
            Ok::<_, crate::Error>((staged, batch.num_rows() as u64, old))
        });
        for (((table, snapshot), _), outcome) in snapshots.into_iter().zip(outcomes) {
            let (staged, kept, old) = outcome?;
            let partition = snapshot_partition_value(snapshot);
            let target_dir = snapshot_dir(&data, table, snapshot);
            let mut replaced = 0;
            for (path, rows) in old {
                replaced += rows;
                let file_name = path.file_name().expect("a file");
                let aside = self
                    .staging
                    .join("replaced")
                    .join(table)
                    .join(&partition)
                    .join(file_name);
                moves.push((rel(&data, &path), rel(&data, &aside)));
            }
            if kept > 0 {
                let staged_path = out_dir.join(table).join(&partition).join(&name);
                moves.push((
                    rel(&data, &staged_path),
                    rel(&data, &target_dir.join(&name)),
                ));
            }
            stats.written += kept;
            stats.duplicates += staged - kept;
            stats.snapshots.push(SnapshotCommit {
                table: table.to_string(),
                snapshot,
                partition,
                written: kept,
                duplicates: staged - kept,
                replaced,
            });
        }
        stats.rejected = self.rejected;
        if let Some(mut q) = self.quarantine.take() {
            let path = self.staging.join("quarantine.ndjson");
            io(&path, q.flush().and_then(|_| q.get_ref().sync_all()))?;
            let target = quarantine_dir(&data).join(format!("{}.ndjson", self.txn));
            moves.push((rel(&data, &path), rel(&data, &target)));
            stats.quarantine = Some(target);
        }
        let log = self.staging.join("ingest.json");
        let entry = serde_json::json!({ "txn": self.txn, "stats": &stats, "summary": summary });
        io(
            &log,
            fs::write(
                &log,
                serde_json::to_vec_pretty(&entry).expect("serializable"),
            ),
        )?;
        moves.push((
            rel(&data, &log),
            rel(
                &data,
                &meta_dir(&data)
                    .join("ingests")
                    .join(format!("{}.json", self.txn)),
            ),
        ));

        let moves = with_indexes(&data, moves);
        let published: Vec<PathBuf> = moves
            .iter()
            .map(|(from, _)| data.join(from))
            .filter(|p| {
                p.extension()
                    .is_some_and(|e| e == "parquet" || e == target_index::EXTENSION)
            })
            .filter(|p| p.starts_with(&self.staging))
            .collect();
        sync_files(&published)?;
        let journal = Journal {
            txn: self.txn.clone(),
            moves,
        };
        let meta = meta_dir(&data);
        let tmp = meta.join("journal.json.tmp");
        {
            let mut f = io(&tmp, File::create(&tmp))?;
            io(
                &tmp,
                f.write_all(&serde_json::to_vec(&journal).expect("serializable")),
            )?;
            io(&tmp, f.sync_all())?;
        }
        io(&tmp, fs::rename(&tmp, meta.join(JOURNAL)))?;
        sync_dir(&meta)?;
        apply_journal(&data, &journal)?;
        Ok(stats)
    }
}

/// Runs `work` on every item, on as many threads as there are cores; results in item order.
fn for_each_parallel<T: Sync, R: Send>(items: &[T], work: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    for_each_on(cores, items, work)
}

/// Threads waiting on the disk at once for [`for_each_io`].
const IO_THREADS: usize = 16;

/// [`for_each_parallel`] for work that waits on the disk (`fsync`): more threads than cores, so
/// the file system gathers their flushes into fewer journal commits.
fn for_each_io<T: Sync, R: Send>(items: &[T], work: impl Fn(&T) -> R + Sync) -> Vec<R> {
    for_each_on(IO_THREADS, items, work)
}

/// Runs `work` on every item on at most `threads` threads; results in item order.
fn for_each_on<T: Sync, R: Send>(
    threads: usize,
    items: &[T],
    work: impl Fn(&T) -> R + Sync,
) -> Vec<R> {
    let threads = threads.min(items.len().max(1));
    let next = std::sync::atomic::AtomicUsize::new(0);
    let mut results: Vec<(usize, R)> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut done = Vec::new();
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some(item) = items.get(i) else { break done };
                        done.push((i, work(item)));
                    }
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().expect("a commit worker does not panic"))
            .collect()
    });
    results.sort_by_key(|(i, _)| *i);
    results.into_iter().map(|(_, r)| r).collect()
}

fn rel(root: &Path, path: &Path) -> PathBuf {
    path.strip_prefix(root).unwrap_or(path).to_path_buf()
}

/// The `Id`s already stored for a day.
#[cfg(test)]
fn existing_ids(_data: &Path, dir: &Path) -> Result<HashSet<String>> {
    let mut ids = HashSet::new();
    days::ids_of(&days::parquet_files(dir)?, &mut ids)?;
    Ok(ids)
}

/// The Parquet files of a directory, with their row counts (from the footers).
fn stored_files(dir: &Path) -> Result<Vec<(PathBuf, u64)>> {
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io(dir, e)),
    };
    let mut files = Vec::new();
    for entry in entries {
        let path = io(dir, entry)?.path();
        if path.extension().and_then(|e| e.to_str()) != Some("parquet") {
            continue;
        }
        let file = io(&path, File::open(&path))?;
        let rows = ParquetRecordBatchReaderBuilder::try_new(file)
            .map(|b| b.metadata().file_metadata().num_rows() as u64)
            .unwrap_or(0);
        files.push((path, rows));
    }
    files.sort();
    Ok(files)
}

/// Reads a snapshot partition's staged chunks, drops rows whose key came earlier in this ingest
/// (overlapping pages), and returns the rest sorted by key, with the number of staged rows.
fn dedupe_snapshot(table: &str, chunks: &[PathBuf]) -> Result<(RecordBatch, u64)> {
    let schema = snapshot_schema(table)
        .ok_or_else(|| Error::Invalid(format!("unknown snapshot table {table}")))?;
    let keys = key_columns(table);
    let mut seen = HashSet::new();
    let mut kept = Vec::new();
    let mut staged = 0u64;
    for chunk in chunks {
        let reader = IpcReader::try_new(io(chunk, File::open(chunk))?, None)?;
        for batch in reader {
            let batch = batch?;
            staged += batch.num_rows() as u64;
            let cols: Vec<_> = keys
                .iter()
                .map(|k| {
                    arrow::util::display::ArrayFormatter::try_new(
                        batch.column_by_name(k).expect("snapshot schema"),
                        &Default::default(),
                    )
                })
                .collect::<std::result::Result<_, _>>()?;
            let keep: BooleanArray = (0..batch.num_rows())
                .map(|i| {
                    let key: Vec<String> = cols.iter().map(|c| c.value(i).to_string()).collect();
                    Some(seen.insert(key.join("\u{1f}")))
                })
                .collect();
            kept.push(filter_record_batch(&batch, &keep)?);
        }
    }
    let all = concat_batches(&schema, &kept)?;
    let sort: Vec<SortColumn> = keys
        .iter()
        .map(|k| SortColumn {
            values: Arc::clone(all.column_by_name(k).expect("snapshot schema")),
            options: None,
        })
        .collect();
    let order = lexsort_to_indices(&sort, None)?;
    Ok((take_record_batch(&all, &order)?, staged))
}

/// Writer settings of the dataset's Parquet files (chosen by measurement on 1M generated
/// records, `benches/ingest.rs` and the README's figures): zstd level 1 (level 3 costs 15% more
/// time for 1% less size), page statistics and bloom filters where they prune, small data pages
/// so a time range reads only the pages it needs.
pub(crate) fn writer_properties() -> WriterProperties {
    writer_properties_builder().build()
}

fn writer_properties_builder() -> parquet::file::properties::WriterPropertiesBuilder {
    WriterProperties::builder()
        .set_compression(Compression::ZSTD(
            ZstdLevel::try_new(1).expect("valid level"),
        ))
        .set_statistics_enabled(EnabledStatistics::Page)
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
        .set_data_page_row_count_limit(DATA_PAGE_ROWS)
        .set_created_by(format!("auditbook {}", env!("CARGO_PKG_VERSION")))
}

/// `AuditLogs` columns with page statistics (min/max per page and column chunk). Computing
/// min/max of every string leaf took as long as the rest of the encoding; nested leaves and the
/// long free-text columns are never pruned on, so they go without.
const AUDIT_STATISTICS: &[&str] = &[
    "TimeGenerated",
    "ActivityDateTime",
    "Id",
    "CorrelationId",
    "Category",
    "OperationName",
    "ActivityDisplayName",
    "Result",
    "LoggedByService",
    "AADOperationType",
    "Identity",
    "TenantId",
];

/// `AuditLogs` leaves dictionary-encoded: the short ones of few distinct values, and the two
/// nested leaves the app role queries read on every page (`TargetResources.displayName`, about
/// 1,200 distinct in a day's 26,000; `modifiedProperties.newValue`, 7,000 in 38,000). A query
/// selecting a few rows per page then decompresses a day's dictionary (a fifth of the plain
/// values) and skips the others' indexes instead of walking plain values: approle-30d 110 → 101
/// ms in process at 1M, ingest time unchanged, files 4 % smaller (alternating runs). For the
/// other leaves (ids, names, JSON values) building the dictionary cost about 8 % more ingest CPU
/// for no measured query gain. (The writer falls back to plain encoding by itself when a chunk's
/// dictionary passes its page size limit.)
const AUDIT_DICTIONARY: &[&str] = &[
    "Category",
    "OperationName",
    "ActivityDisplayName",
    "Result",
    "ResultReason",
    "LoggedByService",
    "AADOperationType",
    "Level",
    "Location",
    "ResultType",
    "ResultSignature",
    "ResultDescription",
    "InitiatedBy.user.userType",
    "TargetResources.list.item.displayName",
    "TargetResources.list.item.type",
    "TargetResources.list.item.modifiedProperties.list.item.displayName",
    "TargetResources.list.item.modifiedProperties.list.item.newValue",
    "AdditionalDetails.list.item.key",
];

/// `AuditLogs` leaves delta-encoded: the timestamps, in nanoseconds, sorted within a file (by
/// `TimeGenerated`; `ActivityDateTime` is close to it). Plain, they took 8 bytes a value and zstd
/// saved 15 % of that; their deltas take about half, and decode in one pass. (Every column stays
/// zstd-compressed, as DESIGN §4 states; without it the reader would skip creating a zstd
/// context per column chunk, a few percent of a short query.)
const AUDIT_DELTA: &[&str] = &["TimeGenerated", "ActivityDateTime"];

/// Writer settings of `AuditLogs` files: [`writer_properties`] with per-column statistics,
/// dictionaries and bloom filters on `Id` (deduplication checks, point lookups) and
/// `CorrelationId`.
pub(crate) fn audit_writer_properties() -> WriterProperties {
    let schema = parquet::arrow::ArrowSchemaConverter::new()
        .convert(&audit_logs_schema())
        .expect("the canonical schema converts");
    let mut b = writer_properties_builder()
        .set_dictionary_enabled(false)
        .set_column_bloom_filter_enabled("Id".into(), true)
        .set_column_bloom_filter_enabled("CorrelationId".into(), true);
    for leaf in schema.columns() {
        let path = leaf.path().string();
        if !AUDIT_STATISTICS.contains(&path.as_str()) {
            b = b.set_column_statistics_enabled(leaf.path().clone(), EnabledStatistics::None);
        }
        if AUDIT_DICTIONARY.contains(&path.as_str()) {
            b = b.set_column_dictionary_enabled(leaf.path().clone(), true);
        }
        if AUDIT_DELTA.contains(&path.as_str()) {
            b = b.set_column_encoding(leaf.path().clone(), Encoding::DELTA_BINARY_PACKED);
        }
    }
    b.build()
}

/// Writes `batches`, in order, as one Parquet file (with its target index for `AuditLogs`).
fn write_parquet(path: &Path, batches: &[RecordBatch]) -> Result<()> {
    let Some(first) = batches.first() else {
        return Err(Error::Invalid(format!(
            "internal error: {}: no rows to write",
            path.display()
        )));
    };
    let dir = path.parent().expect("file in a directory");
    io(dir, fs::create_dir_all(dir))?;
    let file = io(path, File::create(path))?;
    let audit = first.schema_ref().field_with_name("TimeGenerated").is_ok();
    let props = if audit {
        audit_writer_properties()
    } else {
        writer_properties()
    };
    // The Parquet writer writes through a buffer of 8 KiB; a file of a few MB would take
    // hundreds of `write` calls (14,000 for a 1M-event ingest), this one a few.
    let out = BufWriter::with_capacity(WRITE_BUFFER, file);
    let mut w = ArrowWriter::try_new(out, Arc::clone(first.schema_ref()), Some(props))?;
    for batch in batches {
        w.write(batch)?;
    }
    let file = w
        .into_inner()?
        .into_inner()
        .map_err(|e| Error::io(path, e.into_error()))?;
    start_writeback(&file);
    if audit {
        target_index::write(path, batches)?;
    }
    Ok(())
}

/// Starts writing `file`'s pages to disk without waiting for them (Linux `sync_file_range` with
/// `SYNC_FILE_RANGE_WRITE`): the disk then works while the ingest goes on reading, and the
/// `fsync` before the commit ([`sync_files`]) finds little left to write. A hint only: it does
/// not make anything durable, and its errors are the `fsync`'s to report.
#[cfg(target_os = "linux")]
fn start_writeback(file: &File) {
    use std::os::fd::AsRawFd;
    use std::os::raw::{c_int, c_uint};
    unsafe extern "C" {
        fn sync_file_range(fd: c_int, offset: i64, nbytes: i64, flags: c_uint) -> c_int;
    }
    /// `SYNC_FILE_RANGE_WRITE` in `linux/fs.h`: start writeback of the dirty pages of the range.
    const SYNC_FILE_RANGE_WRITE: c_uint = 2;
    // SAFETY: the descriptor is open for as long as `file` is borrowed; offset 0 and length 0
    // mean the whole file; the call only schedules I/O and touches no memory of ours.
    unsafe {
        sync_file_range(file.as_raw_fd(), 0, 0, SYNC_FILE_RANGE_WRITE);
    }
}

#[cfg(not(target_os = "linux"))]
fn start_writeback(_file: &File) {}

/// `moves` (relative to `data`) with, before each move of a Parquet file that has a
/// [`target_index`], the move of its index from where it is to where it belongs beside the
/// target ([`target_index::index_path`]): a file and its index go (and are journaled) together.
fn with_indexes(data: &Path, moves: Vec<(PathBuf, PathBuf)>) -> Vec<(PathBuf, PathBuf)> {
    let index = |p: &Path| rel(data, &target_index::index_path(data, &data.join(p)));
    let mut out = Vec::with_capacity(moves.len());
    for (from, to) in moves {
        let side_from = index(&from);
        if from.extension().is_some_and(|e| e == "parquet") && data.join(&side_from).exists() {
            out.push((side_from, index(&to)));
        }
        out.push((from, to));
    }
    out
}

/// Flushes files to disk (on several threads: each flush waits for the disk), before a journal
/// makes them part of the dataset.
fn sync_files(files: &[PathBuf]) -> Result<()> {
    for_each_io(files, |path| {
        io(path, File::open(path).and_then(|f| f.sync_all()))
    })
    .into_iter()
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::AsArray;

    fn rec(id: &str, day: u32, hour: u32) -> AuditRecord {
        let t = chrono::NaiveDate::from_ymd_opt(2026, 10, day)
            .unwrap()
            .and_hms_opt(hour, 0, 0)
            .unwrap()
            .and_utc()
            .timestamp_nanos_opt()
            .unwrap();
        let mut r = AuditRecord {
            id: id.into(),
            time_generated: t,
            activity_date_time: t,
            ..Default::default()
        };
        r.fill_derived();
        r
    }

    fn ingest(data: &Path, records: Vec<AuditRecord>) -> CommitStats {
        let ds = Dataset::open_for_write(data, || {}).unwrap();
        let mut tx = ds.begin().unwrap();
        for r in records {
            tx.add(r).unwrap();
        }
        tx.commit(&()).unwrap()
    }

    fn stored_ids(data: &Path, day: &str) -> Vec<String> {
        let mut ids: Vec<_> = existing_ids(data, &day_dir(data, day))
            .unwrap()
            .into_iter()
            .collect();
        ids.sort();
        ids
    }

    #[test]
    fn dedupes_within_and_across_ingests_and_merges_late_records() {
        let dir = tempfile::tempdir().unwrap();
        let s = ingest(
            dir.path(),
            vec![
                rec("a", 1, 5),
                rec("b", 1, 3),
                rec("a", 1, 5),
                rec("c", 2, 1),
            ],
        );
        assert_eq!((s.written, s.duplicates), (3, 1));
        assert_eq!(s.days, vec!["2026-10-01", "2026-10-02"]);
        let s = ingest(dir.path(), vec![rec("a", 1, 5), rec("d", 1, 1)]);
        assert_eq!((s.written, s.duplicates), (1, 1));
        assert_eq!(stored_ids(dir.path(), "2026-10-01"), ["a", "b", "d"]);
        assert!(!meta_dir(dir.path()).join(JOURNAL).exists());
        assert_eq!(
            fs::read_dir(meta_dir(dir.path()).join("ingests"))
                .unwrap()
                .count(),
            2
        );
    }

    #[test]
    fn files_are_sorted_by_time_generated() {
        let dir = tempfile::tempdir().unwrap();
        ingest(
            dir.path(),
            vec![rec("late", 1, 9), rec("early", 1, 1), rec("mid", 1, 4)],
        );
        let files = days::parquet_files(&day_dir(dir.path(), "2026-10-01")).unwrap();
        let [path] = files.as_slice() else {
            panic!("one file: {files:?}")
        };
        // Its target index is in the dataset's index directory.
        let index = target_index::index_path(dir.path(), path);
        assert!(
            index.starts_with(
                dir.path()
                    .join("_auditbook/index/AuditLogs/date=2026-10-01")
            )
        );
        assert!(target_index::is_current(path, &index));
        let reader = ParquetRecordBatchReaderBuilder::try_new(File::open(path).unwrap())
            .unwrap()
            .build()
            .unwrap();
        let batch = reader.into_iter().next().unwrap().unwrap();
        let ids: Vec<_> = batch
            .column_by_name("Id")
            .unwrap()
            .as_string::<i32>()
            .iter()
            .flatten()
            .collect();
        assert_eq!(ids, ["early", "mid", "late"]);
    }

    /// Every leaf named in the writer's per-column settings is a leaf of `AuditLogs` (a wrong
    /// path, such as `list.element` for Arrow's `list.item`, would silently set nothing).
    #[test]
    fn per_column_settings_name_leaves_of_the_schema() {
        let schema = parquet::arrow::ArrowSchemaConverter::new()
            .convert(&audit_logs_schema())
            .unwrap();
        let leaves: Vec<String> = schema.columns().iter().map(|c| c.path().string()).collect();
        for list in [AUDIT_STATISTICS, AUDIT_DICTIONARY, AUDIT_DELTA] {
            for name in list {
                assert!(leaves.contains(&name.to_string()), "{name} is not a leaf");
            }
        }
    }

    /// The written file carries the settings: dictionaries (nested leaves too), delta-encoded
    /// timestamps, zstd everywhere.
    #[test]
    fn files_carry_the_per_column_encodings() {
        let dir = tempfile::tempdir().unwrap();
        ingest(dir.path(), vec![rec("a", 1, 9), rec("b", 1, 1)]);
        let files = days::parquet_files(&day_dir(dir.path(), "2026-10-01")).unwrap();
        let reader =
            parquet::file::reader::SerializedFileReader::new(File::open(&files[0]).unwrap())
                .unwrap();
        use parquet::file::reader::FileReader;
        let meta = reader.metadata();
        let column = |name: &str| {
            meta.row_group(0)
                .columns()
                .iter()
                .find(|c| c.column_path().string() == name)
                .unwrap_or_else(|| panic!("{name}"))
                .clone()
        };
        let time = column("TimeGenerated");
        assert!(time.encodings().any(|e| e == Encoding::DELTA_BINARY_PACKED));
        assert!(column("Category").dictionary_page_offset().is_some());
        assert!(
            column("TargetResources.list.item.type")
                .dictionary_page_offset()
                .is_some()
        );
        assert!(
            column("AdditionalDetails.list.item.key")
                .dictionary_page_offset()
                .is_some()
        );
        assert!(column("Id").dictionary_page_offset().is_none());
        for c in meta.row_group(0).columns() {
            assert!(
                matches!(c.compression(), Compression::ZSTD(_)),
                "{:?}",
                c.column_path()
            );
        }
    }

    #[test]
    fn uncommitted_transaction_leaves_nothing_and_journal_rolls_forward() {
        let dir = tempfile::tempdir().unwrap();
        {
            let ds = Dataset::open_for_write(dir.path(), || {}).unwrap();
            let mut tx = ds.begin().unwrap();
            tx.add(rec("x", 1, 1)).unwrap();
            tx.stage().unwrap();
            // dropped: a crash before the commit
        }
        ingest(dir.path(), vec![]);
        assert!(!audit_logs_dir(dir.path()).exists());
        // A journal whose renames were cut short is completed by the next reader.
        let staged = meta_dir(dir.path()).join("staging/t1/part.parquet");
        fs::create_dir_all(staged.parent().unwrap()).unwrap();
        write_parquet(&staged, &[records_to_batch(&[rec("y", 3, 1)]).unwrap()]).unwrap();
        let j = Journal {
            txn: "t1".into(),
            moves: vec![(
                rel(dir.path(), &staged),
                rel(
                    dir.path(),
                    &day_dir(dir.path(), "2026-10-03").join("part-t1.parquet"),
                ),
            )],
        };
        fs::write(
            meta_dir(dir.path()).join(JOURNAL),
            serde_json::to_vec(&j).unwrap(),
        )
        .unwrap();
        recover(dir.path()).unwrap();
        assert_eq!(stored_ids(dir.path(), "2026-10-03"), ["y"]);
        assert!(!meta_dir(dir.path()).join(JOURNAL).exists());
    }
}
