//! Audit records of an ingest in progress, per day: Arrow batches in memory, written out
//! ("sealed") as deduplicated, sorted Parquet parts while the input is still being read.
//!
//! A day is sealed when it has not received records for a while (exports are mostly in time
//! order, so a day is usually complete by then) or when the batches held in memory pass a budget
//! (the least recently fed days go first). Sealing runs on background threads, one per core;
//! a day is always sealed by the same thread, so the parts of one day are written in order: each
//! part drops the `Id`s stored already for its day and those of the day's earlier parts. A day
//! fed again after its seal gets another part; at commit the parts of such a day are merged into
//! one file. Memory is bounded by the budget plus the days being sealed (two per thread: one
//! written, one waiting), whatever the input's size.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::JoinHandle;

use arrow::array::{Array, AsArray, BooleanArray, RecordBatch, TimestampNanosecondArray};
use arrow::compute::{filter_record_batch, interleave_record_batch};
use arrow::datatypes::TimestampNanosecondType;
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use super::{day_dir, io, write_parquet};
use crate::schema::DATE_PARTITION;
use crate::{Error, Result};

/// Arrow bytes of buffered days past which the least recently fed days are sealed.
pub const MEMORY_BUDGET: usize = 192 << 20;
/// A day not fed by the latest this many records is sealed (time-ordered input: it is done).
const IDLE_ROWS: u64 = 40_000;

/// What sealing one buffer of a day found.
#[derive(Debug, Default, Clone, Copy)]
pub struct Sealed {
    pub staged: u64,
    pub kept: u64,
}

struct Day {
    batches: Vec<RecordBatch>,
    bytes: usize,
    last_add: u64,
}

struct Job {
    day: String,
    batches: Vec<RecordBatch>,
}

/// A background sealing thread: its queue, its handle, and the jobs sent to it and not done yet.
struct SealingThread {
    jobs: SyncSender<Job>,
    handle: JoinHandle<Result<Writer>>,
    pending: Arc<AtomicUsize>,
}

/// The days of one ingest.
pub struct Days {
    data: PathBuf,
    parts_dir: PathBuf,
    open: BTreeMap<String, Day>,
    bytes: usize,
    adds: u64,
    /// The background sealing threads (started on the first seal), one channel each.
    writers: Vec<SealingThread>,
    /// The sealing thread of each day sealed so far: a day's parts are written by one thread,
    /// in order (each drops the `Id`s of the ones before); different days seal in parallel.
    assigned: HashMap<String, usize>,
}

/// The background writer's state: the parts written per day, and what each seal found.
#[derive(Default)]
pub struct Writer {
    pub parts: BTreeMap<String, Vec<PathBuf>>,
    pub stats: BTreeMap<String, Sealed>,
}

impl Writer {
    fn seal(
        &mut self,
        data: &Path,
        parts_dir: &Path,
        day: &str,
        batches: &[RecordBatch],
    ) -> Result<()> {
        let parts = self.parts.entry(day.to_string()).or_default();
        let (kept, staged) = dedupe_sort(data, day, parts, batches)?;
        let rows: usize = kept.iter().map(RecordBatch::num_rows).sum();
        let s = self.stats.entry(day.to_string()).or_default();
        s.staged += staged;
        s.kept += rows as u64;
        if rows > 0 {
            let path = parts_dir
                .join(format!("{DATE_PARTITION}={day}"))
                .join(format!("{:04}.parquet", parts.len()));
            write_parquet(&path, &kept)?;
            parts.push(path);
        }
        Ok(())
    }
}

impl Days {
    pub fn new(data: &Path, staging: &Path) -> Days {
        Days {
            data: data.to_path_buf(),
            parts_dir: staging.join("parts"),
            open: BTreeMap::new(),
            bytes: 0,
            adds: 0,
            writers: Vec::new(),
            assigned: HashMap::new(),
        }
    }

    /// Adds records of `day` (in input order).
    pub fn add(&mut self, day: String, batch: RecordBatch) -> Result<()> {
        if batch.num_rows() == 0 {
            return Ok(());
        }
        self.adds += batch.num_rows() as u64;
        let bytes = batch.get_array_memory_size();
        self.bytes += bytes;
        let d = self.open.entry(day).or_insert_with(|| Day {
            batches: Vec::new(),
            bytes: 0,
            last_add: 0,
        });
        d.batches.push(batch);
        d.bytes += bytes;
        d.last_add = self.adds;
        // Idle days first, then the least recently fed while over the budget.
        let idle: Vec<String> = self
            .open
            .iter()
            .filter(|(_, d)| d.last_add + IDLE_ROWS < self.adds)
            .map(|(k, _)| k.clone())
            .collect();
        for day in idle {
            self.seal(&day)?;
        }
        while self.bytes > MEMORY_BUDGET {
            let oldest = self
                .open
                .iter()
                .min_by_key(|(_, d)| d.last_add)
                .map(|(k, _)| k.clone())
                .expect("over budget means a day is open");
            self.seal(&oldest)?;
        }
        Ok(())
    }

    fn seal(&mut self, day: &str) -> Result<()> {
        let Some(d) = self.open.remove(day) else {
            return Ok(());
        };
        if std::env::var_os("AUDITBOOK_DEBUG_SEAL").is_some() {
            eprintln!(
                "seal {day}: {} batches, {} MB, total {} MB",
                d.batches.len(),
                d.bytes >> 20,
                self.bytes >> 20
            );
        }
        self.bytes -= d.bytes;
        if self.writers.is_empty() {
            let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
            for _ in 0..threads {
                let (tx, rx) = sync_channel::<Job>(1);
                let (data, parts_dir) = (self.data.clone(), self.parts_dir.clone());
                let pending = Arc::new(AtomicUsize::new(0));
                let done = Arc::clone(&pending);
                let handle = std::thread::spawn(move || write_jobs(&data, &parts_dir, rx, &done));
                self.writers.push(SealingThread {
                    jobs: tx,
                    handle,
                    pending,
                });
            }
        }
        // A day sealed before goes to the same thread (its parts in order); a new day to the
        // thread with the fewest jobs waiting, so neither thread idles while the other has a queue
        // (the last days of an ingest are sealed side by side with the queued ones).
        let worker = match self.assigned.get(day) {
            Some(&w) => w,
            None => {
                let w = (0..self.writers.len())
                    .min_by_key(|&w| self.writers[w].pending.load(Ordering::Acquire))
                    .expect("at least one sealing thread");
                self.assigned.insert(day.to_string(), w);
                w
            }
        };
        let job = Job {
            day: day.to_string(),
            batches: d.batches,
        };
        let thread = &self.writers[worker];
        thread.pending.fetch_add(1, Ordering::AcqRel);
        if thread.jobs.send(job).is_err() {
            // The writer stopped on an error: report it.
            return Err(self.join_writers().err().unwrap_or_else(|| {
                Error::Invalid("the background Parquet writer stopped".into())
            }));
        }
        Ok(())
    }

    /// Waits for the sealing threads; their parts and counts together (their days are disjoint).
    fn join_writers(&mut self) -> Result<Writer> {
        let mut all = Writer::default();
        let mut first_error = None;
        // Every channel is closed first, so no thread waits for a job while another is joined.
        let handles: Vec<_> = self.writers.drain(..).map(|t| t.handle).collect();
        for h in handles {
            match h.join().expect("the Parquet writer does not panic") {
                Ok(w) => {
                    all.parts.extend(w.parts);
                    all.stats.extend(w.stats);
                }
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        match first_error {
            Some(e) => Err(e),
            None => Ok(all),
        }
    }

    /// Seals every day still open and returns, per day, its parts (in order) and the counts.
    /// Days whose records were all duplicates have no part. The open days are queued on the
    /// sealing threads like the others, so they are sealed while those threads finish their
    /// queues, not after.
    pub fn finish(mut self) -> Result<BTreeMap<String, (Vec<PathBuf>, Sealed)>> {
        let open: Vec<String> = self.open.keys().cloned().collect();
        for day in open {
            self.seal(&day)?;
        }
        let Writer { mut parts, stats } = self.join_writers()?;
        Ok(stats
            .into_iter()
            .map(|(day, s)| {
                let p = parts.remove(&day).unwrap_or_default();
                (day, (p, s))
            })
            .collect())
    }
}

fn write_jobs(
    data: &Path,
    parts_dir: &Path,
    jobs: Receiver<Job>,
    pending: &AtomicUsize,
) -> Result<Writer> {
    let mut w = Writer::default();
    for job in jobs {
        let sealed = w.seal(data, parts_dir, &job.day, &job.batches);
        drop(job);
        pending.fetch_sub(1, Ordering::AcqRel);
        sealed?;
    }
    Ok(w)
}

/// The `Id`s of Parquet files.
pub fn ids_of(files: &[PathBuf], ids: &mut HashSet<String>) -> Result<()> {
    for path in files {
        let file = io(path, File::open(path))?;
        let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| {
            Error::Invalid(format!("{}: unreadable Parquet file: {e}", path.display()))
        })?;
        let mask = ProjectionMask::columns(builder.parquet_schema(), ["Id"]);
        for batch in builder.with_projection(mask).build()? {
            let batch = batch?;
            let col = batch.column(0).as_string::<i32>();
            ids.extend(col.iter().flatten().map(str::to_string));
        }
    }
    Ok(())
}

/// The Parquet files of a directory, in name order (none when it does not exist).
pub fn parquet_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io(dir, e)),
    };
    let mut files = Vec::new();
    for entry in entries {
        let path = io(dir, entry)?.path();
        if path.extension().and_then(|e| e.to_str()) == Some("parquet") {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

/// Drops the records whose `Id` the day holds already (stored files, earlier `parts` of this
/// ingest) or that came earlier in `batches`, and sorts the rest by `TimeGenerated` (ties keep
/// input order). Returns them, as batches in file order, with the number of records given.
fn dedupe_sort(
    data: &Path,
    day: &str,
    parts: &[PathBuf],
    batches: &[RecordBatch],
) -> Result<(Vec<RecordBatch>, u64)> {
    let mut seen = HashSet::new();
    ids_of(&parquet_files(&day_dir(data, day))?, &mut seen)?;
    ids_of(parts, &mut seen)?;
    let staged = batches.iter().map(|b| b.num_rows() as u64).sum();
    // The batches' own ids are borrowed, not copied: one hash set entry per record.
    let mut batch_ids: HashSet<&str> = HashSet::with_capacity(staged as usize);
    let mut kept = Vec::with_capacity(batches.len());
    for batch in batches {
        let ids = batch
            .column_by_name("Id")
            .expect("canonical schema")
            .as_string::<i32>();
        let mut dup = false;
        let keep: BooleanArray = ids
            .iter()
            .map(|id| {
                let id = id.unwrap_or_default();
                let new = !seen.contains(id) && batch_ids.insert(id);
                dup |= !new;
                Some(new)
            })
            .collect();
        kept.push(if dup {
            filter_record_batch(batch, &keep)?
        } else {
            batch.clone()
        });
    }
    Ok((sort_by_time(kept)?, staged))
}

/// Sorts batches (one file's rows) by `TimeGenerated`; rows of equal time keep their order.
/// Batches already in order (the usual case: exports come in time order) are returned as they
/// are, without a copy; otherwise the rows are gathered once into one sorted batch.
pub fn sort_by_time(batches: Vec<RecordBatch>) -> Result<Vec<RecordBatch>> {
    let batches: Vec<RecordBatch> = batches.into_iter().filter(|b| b.num_rows() > 0).collect();
    let times: Vec<&TimestampNanosecondArray> = batches
        .iter()
        .map(|b| {
            b.column_by_name("TimeGenerated")
                .expect("canonical schema")
                .as_primitive::<TimestampNanosecondType>()
        })
        .collect();
    let sorted = |t: &&TimestampNanosecondArray| {
        t.null_count() == 0 && t.values().windows(2).all(|w| w[0] <= w[1])
    };
    let in_order = times.iter().all(sorted)
        && times
            .windows(2)
            .all(|w| w[0].values().last() <= w[1].values().first());
    if in_order {
        return Ok(batches);
    }
    let mut order: Vec<(usize, usize)> = times
        .iter()
        .enumerate()
        .flat_map(|(b, t)| (0..t.len()).map(move |r| (b, r)))
        .collect();
    order.sort_by_key(|&(b, r)| (times[b].is_null(r), times[b].values()[r]));
    let refs: Vec<&RecordBatch> = batches.iter().collect();
    Ok(vec![interleave_record_batch(&refs, &order)?])
}

/// Merges a day's parts (disjoint by `Id`) into batches sorted by `TimeGenerated`.
pub fn merge_files(files: &[PathBuf]) -> Result<Vec<RecordBatch>> {
    let mut batches = Vec::new();
    for path in files {
        let file = io(path, File::open(path))?;
        let reader = ParquetRecordBatchReaderBuilder::try_new(file)
            .map_err(|e| {
                Error::Invalid(format!("{}: unreadable Parquet file: {e}", path.display()))
            })?
            .with_batch_size(64 * 1024)
            .build()?;
        for batch in reader {
            batches.push(batch?);
        }
    }
    sort_by_time(batches)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{AuditRecord, records_to_batch};

    fn batch(day: u32, ids: std::ops::Range<u32>) -> RecordBatch {
        let t = chrono::NaiveDate::from_ymd_opt(2026, 10, day)
            .unwrap()
            .and_hms_opt(12, 0, 0)
            .unwrap()
            .and_utc()
            .timestamp_nanos_opt()
            .unwrap();
        let records: Vec<AuditRecord> = ids
            .map(|i| AuditRecord {
                id: format!("d{day}-{i}"),
                time_generated: t + i64::from(i),
                activity_date_time: t + i64::from(i),
                ..Default::default()
            })
            .collect();
        records_to_batch(&records).unwrap()
    }

    fn times(batches: &[RecordBatch]) -> Vec<i64> {
        batches
            .iter()
            .flat_map(|b| {
                b.column_by_name("TimeGenerated")
                    .unwrap()
                    .as_primitive::<TimestampNanosecondType>()
                    .values()
                    .to_vec()
            })
            .collect()
    }

    /// Batches in time order are kept as they are (no copy); out of order (a newest-first
    /// export, or late records), their rows are gathered into one sorted batch.
    #[test]
    fn batches_are_sorted_by_time_without_a_copy_when_in_order() {
        let (a, b) = (batch(1, 0..3), batch(1, 3..6));
        let same = sort_by_time(vec![a.clone(), b.clone()]).unwrap();
        assert_eq!(same.len(), 2);
        assert!(same[0].column(0).to_data().ptr_eq(&a.column(0).to_data()));
        let sorted = sort_by_time(vec![b.clone(), a.clone()]).unwrap();
        assert_eq!(sorted.len(), 1);
        assert_eq!(times(&sorted), times(&[a.clone(), b.clone()]));
        // Newest first within a batch.
        let reversed = take_rows(&b, &[2, 1, 0]);
        let sorted = sort_by_time(vec![a.clone(), reversed]).unwrap();
        assert_eq!(times(&sorted), times(&[a, b]));
    }

    fn take_rows(batch: &RecordBatch, rows: &[u32]) -> RecordBatch {
        let idx = arrow::array::UInt32Array::from(rows.to_vec());
        arrow::compute::take_record_batch(batch, &idx).unwrap()
    }

    /// Days seal on several threads; a day fed again after its seal gets a second part, written
    /// after the first by the same thread, so it drops the ids the first part holds.
    #[test]
    fn a_day_sealed_twice_keeps_its_parts_in_order_across_threads() {
        let dir = tempfile::tempdir().unwrap();
        let (data, staging) = (dir.path().join("data"), dir.path().join("staging"));
        let mut days = Days::new(&data, &staging);
        let big = IDLE_ROWS as u32 + 1_000;
        days.add("2026-10-01".into(), batch(1, 0..1_000)).unwrap();
        days.add("2026-10-02".into(), batch(2, 0..big)).unwrap(); // day 1 idle: sealed
        days.add("2026-10-03".into(), batch(3, 0..big)).unwrap(); // day 2 idle: sealed
        // Day 1 again: 500 ids of its first part and 500 new ones.
        days.add("2026-10-01".into(), batch(1, 500..1_500)).unwrap();
        days.add("2026-10-04".into(), batch(4, 0..big)).unwrap(); // days 1 and 3 sealed
        let sealed = days.finish().unwrap();
        let (parts, s) = &sealed["2026-10-01"];
        assert_eq!(parts.len(), 2);
        assert_eq!((s.staged, s.kept), (2_000, 1_500));
        let mut ids = HashSet::new();
        ids_of(parts, &mut ids).unwrap();
        assert_eq!(ids.len(), 1_500);
        for day in ["2026-10-02", "2026-10-03", "2026-10-04"] {
            let (parts, s) = &sealed[day];
            assert_eq!((parts.len(), s.staged, s.kept), (1, big as u64, big as u64));
        }
    }
}
