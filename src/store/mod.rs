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
//! DATA/_auditbook/staging/<txn>/                     work files of an ingest in progress
//! ```
//! An ingest stages records per day (Arrow IPC chunks, so memory stays bounded), then, per day,
//! drops the records whose `Id` the day already holds or that came earlier in the same ingest,
//! sorts the rest by `TimeGenerated` and writes one new Parquet file for the day into staging.
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

use arrow::array::{AsArray, BooleanArray, RecordBatch};
use arrow::compute::{
    SortColumn, concat_batches, filter_record_batch, lexsort_to_indices, sort_to_indices,
    take_record_batch,
};
use arrow::ipc::reader::FileReader as IpcReader;
use arrow::ipc::writer::FileWriter as IpcWriter;
use parquet::arrow::ArrowWriter;
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use serde::{Deserialize, Serialize};

use crate::ingest::snapshot::{SnapshotRow, key_columns, rows_to_batch};
use crate::record::{AuditRecord, records_to_batch};
use crate::schema::{AUDIT_LOGS, DATE_PARTITION, audit_logs_schema};
use crate::snapshot_schema::{SNAPSHOT_PARTITION, snapshot_partition_value, snapshot_schema};
use crate::time::utc_day;
use crate::{Error, Result};

const META_DIR: &str = "_auditbook";
const QUARANTINE_DIR: &str = "_quarantine";
const JOURNAL: &str = "journal.json";
/// Records buffered in memory before they are staged to disk.
const STAGE_ROWS: usize = 20_000;
/// Rows per Parquet row group.
const ROW_GROUP_ROWS: usize = 128 * 1024;

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
    for d in dirs {
        sync_dir(&d)?;
    }
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
        let now = chrono::Utc::now();
        let txn = format!(
            "{}-{:09}-{}",
            now.format("%Y%m%dT%H%M%S"),
            now.timestamp_subsec_nanos(),
            std::process::id()
        );
        let staging = meta_dir(&self.root).join("staging").join(&txn);
        io(&staging, fs::create_dir_all(&staging))?;
        Ok(Transaction {
            dataset: self,
            txn,
            staging,
            buffers: BTreeMap::new(),
            buffered: 0,
            chunks: BTreeMap::new(),
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
    chunks: BTreeMap<String, Vec<PathBuf>>,
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

    /// Writes the buffered records to staging, one Arrow IPC chunk per day.
    fn stage(&mut self) -> Result<()> {
        for (day, records) in std::mem::take(&mut self.buffers) {
            let batch = records_to_batch(&records)?;
            self.chunk_seq += 1;
            let dir = self.staging.join("chunks").join(&day);
            io(&dir, fs::create_dir_all(&dir))?;
            let path = dir.join(format!("{:06}.arrow", self.chunk_seq));
            let file = io(&path, File::create(&path))?;
            let mut w = IpcWriter::try_new(BufWriter::new(file), &batch.schema())?;
            w.write(&batch)?;
            w.finish()?;
            self.chunks.entry(day).or_default().push(path);
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
        let days: Vec<(String, Vec<PathBuf>)> =
            std::mem::take(&mut self.chunks).into_iter().collect();
        let name = format!("part-{}.parquet", self.txn);
        // Days are independent: deduplicate, sort and encode them on every core.
        let outcomes = for_each_parallel(&days, |(day, chunks)| -> Result<(u64, u64)> {
            let (batch, staged) = dedupe_day(&data, chunks)?;
            if batch.num_rows() > 0 {
                let staged_path = out_dir.join(format!("{DATE_PARTITION}={day}")).join(&name);
                write_parquet(&staged_path, &batch)?;
            }
            Ok((staged, batch.num_rows() as u64))
        });
        for ((day, _), outcome) in days.into_iter().zip(outcomes) {
            let (staged, kept) = outcome?;
            stats.duplicates += staged - kept;
            if kept == 0 {
                continue;
            }
            stats.written += kept;
            let staged_path = out_dir.join(format!("{DATE_PARTITION}={day}")).join(&name);
            moves.push((
                rel(&data, &staged_path),
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
                write_parquet(&staged_path, &batch)?;
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
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(items.len().max(1));
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
fn existing_ids(data: &Path, dir: &Path) -> Result<HashSet<String>> {
    let mut ids = HashSet::new();
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(ids),
        Err(e) => return Err(Error::io(dir, e)),
    };
    for entry in entries {
        let path = io(dir, entry)?.path();
        if path.extension().and_then(|e| e.to_str()) != Some("parquet") {
            continue;
        }
        let file = io(&path, File::open(&path))?;
        let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| {
            Error::Invalid(format!(
                "{}: unreadable Parquet file in the dataset {}: {e}",
                path.display(),
                data.display()
            ))
        })?;
        let mask = ProjectionMask::columns(builder.parquet_schema(), ["Id"]);
        for batch in builder.with_projection(mask).build()? {
            let batch = batch?;
            let col = batch.column(0).as_string::<i32>();
            ids.extend(col.iter().flatten().map(str::to_string));
        }
    }
    Ok(ids)
}

/// Reads a day's staged chunks, drops records whose `Id` is stored already or came earlier in
/// this ingest, and returns the rest sorted by `TimeGenerated`, with the number of staged rows.
fn dedupe_day(data: &Path, chunks: &[PathBuf]) -> Result<(RecordBatch, u64)> {
    let day = chunks[0]
        .parent()
        .and_then(|p| p.file_name())
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    let mut seen = existing_ids(data, &day_dir(data, day))?;
    let schema = audit_logs_schema();
    let mut kept = Vec::new();
    let mut staged = 0u64;
    for chunk in chunks {
        let reader = IpcReader::try_new(io(chunk, File::open(chunk))?, None)?;
        for batch in reader {
            let batch = batch?;
            staged += batch.num_rows() as u64;
            let ids = batch
                .column_by_name("Id")
                .expect("canonical schema")
                .as_string::<i32>();
            let keep: BooleanArray = ids
                .iter()
                .map(|id| Some(seen.insert(id.unwrap_or_default().to_string())))
                .collect();
            kept.push(filter_record_batch(&batch, &keep)?);
        }
    }
    let all = concat_batches(&schema, &kept)?;
    let order = sort_to_indices(
        all.column_by_name("TimeGenerated")
            .expect("canonical schema"),
        None,
        None,
    )?;
    Ok((take_record_batch(&all, &order)?, staged))
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

/// Writer settings of the dataset's Parquet files.
fn writer_properties() -> WriterProperties {
    WriterProperties::builder()
        .set_compression(Compression::ZSTD(
            ZstdLevel::try_new(3).expect("valid level"),
        ))
        .set_statistics_enabled(EnabledStatistics::Page)
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
        .set_column_bloom_filter_enabled("Id".into(), true)
        .set_column_bloom_filter_enabled("CorrelationId".into(), true)
        .set_created_by(format!("auditbook {}", env!("CARGO_PKG_VERSION")))
        .build()
}

fn write_parquet(path: &Path, batch: &RecordBatch) -> Result<()> {
    let dir = path.parent().expect("file in a directory");
    io(dir, fs::create_dir_all(dir))?;
    let file = io(path, File::create(path))?;
    let mut w = ArrowWriter::try_new(
        file,
        Arc::clone(batch.schema_ref()),
        Some(writer_properties()),
    )?;
    w.write(batch)?;
    let file = w.into_inner()?;
    io(path, file.sync_all())
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let path = fs::read_dir(day_dir(dir.path(), "2026-10-01"))
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .path();
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
        write_parquet(&staged, &records_to_batch(&[rec("y", 3, 1)]).unwrap()).unwrap();
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
