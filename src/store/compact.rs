//! Compaction: incremental ingests leave one `part-<ingest>.parquet` per day and ingest; this
//! merges every day holding more than one file into one file, sorted by `TimeGenerated`, with the
//! dataset's writer settings, published through the commit journal like an ingest (the lock is
//! held; a crash leaves the dataset before or after; the rows are the same rows). The other
//! days' files get their target index ([`super::target_index`]) when they have none.

use std::fs;
use std::path::{Path, PathBuf};

use arrow::array::RecordBatch;
use serde::Serialize;

use super::days::{merge_files, parquet_files};
use super::target_index;
use super::{
    Dataset, JOURNAL, Journal, apply_journal, audit_logs_dir, for_each_parallel, io, meta_dir, rel,
    sync_dir, sync_files, write_parquet,
};
use crate::schema::DATE_PARTITION;
use crate::{Error, Result};

/// What compaction did to one day.
#[derive(Debug, Clone, Serialize)]
pub struct CompactedDay {
    pub day: String,
    pub files_before: usize,
    pub rows: u64,
    pub bytes_before: u64,
    pub bytes_after: u64,
}

/// What a compaction did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CompactSummary {
    /// Days looked at (in the range).
    pub days_seen: usize,
    /// Days merged.
    pub days: Vec<CompactedDay>,
    pub files_before: usize,
    pub files_after: usize,
    pub rows: u64,
    pub bytes_before: u64,
    pub bytes_after: u64,
    /// Files of the other days whose target index was missing or stale, and is now written.
    pub indexed: usize,
    pub seconds: f64,
}

fn rows_of(path: &Path) -> Result<u64> {
    let file = io(path, fs::File::open(path))?;
    let reader = parquet::file::serialized_reader::SerializedFileReader::new(file)
        .map_err(|e| Error::Invalid(format!("{}: unreadable Parquet file: {e}", path.display())))?;
    use parquet::file::reader::FileReader;
    Ok(reader.metadata().file_metadata().num_rows() as u64)
}

impl Dataset {
    /// Merges the files of each day in `from..=to` (`YYYY-MM-DD`, both optional) that holds more
    /// than one file into one.
    pub fn compact(&self, from: Option<&str>, to: Option<&str>) -> Result<CompactSummary> {
        let started = std::time::Instant::now();
        let data = self.root.clone();
        let mut summary = CompactSummary::default();
        let dir = audit_logs_dir(&data);
        let mut days: Vec<(String, Vec<PathBuf>)> = Vec::new();
        // (file, its index) of the days left as they are whose index is missing or stale.
        let mut unindexed: Vec<(PathBuf, PathBuf)> = Vec::new();
        let entries = match fs::read_dir(&dir) {
            Ok(e) => Some(e),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(Error::io(&dir, e)),
        };
        for entry in entries.into_iter().flatten() {
            let path = io(&dir, entry)?.path();
            let Some(day) = path
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.strip_prefix(&format!("{DATE_PARTITION}=")))
                .map(str::to_string)
            else {
                continue;
            };
            if from.is_some_and(|f| day.as_str() < f) || to.is_some_and(|t| day.as_str() > t) {
                continue;
            }
            summary.days_seen += 1;
            let files = parquet_files(&path)?;
            summary.files_before += files.len();
            summary.files_after += files.len();
            if files.len() > 1 {
                days.push((day, files));
            } else {
                for f in files {
                    let index = target_index::index_path(&data, &f);
                    if !target_index::is_current(&f, &index) {
                        unindexed.push((f, index));
                    }
                }
            }
        }
        days.sort();
        // Days left as they are still get their target index when it is missing (files written
        // before indexes existed), under the lock.
        for outcome in for_each_parallel(&unindexed, |(f, index)| target_index::rebuild(f, index)) {
            outcome?;
            summary.indexed += 1;
        }
        if days.is_empty() {
            summary.seconds = started.elapsed().as_secs_f64();
            return Ok(summary);
        }
        let txn = super::new_txn_id();
        let staging = meta_dir(&data).join("staging").join(&txn);
        let name = format!("part-{txn}.parquet");
        let outcomes =
            for_each_parallel(&days, |(day, files)| -> Result<(PathBuf, CompactedDay)> {
                let mut rows = 0;
                let mut bytes_before = 0;
                for f in files {
                    rows += rows_of(f)?;
                    bytes_before += io(f, fs::metadata(f))?.len();
                }
                let merged = merge_files(files)?;
                let merged_rows: usize = merged.iter().map(RecordBatch::num_rows).sum();
                if merged_rows as u64 != rows {
                    return Err(Error::Invalid(format!(
                        "internal error: day {day}: {merged_rows} rows merged from {rows}"
                    )));
                }
                let out = staging
                    .join("out")
                    .join(format!("{DATE_PARTITION}={day}"))
                    .join(&name);
                write_parquet(&out, &merged)?;
                let bytes_after = io(&out, fs::metadata(&out))?.len();
                Ok((
                    out,
                    CompactedDay {
                        day: day.clone(),
                        files_before: files.len(),
                        rows,
                        bytes_before,
                        bytes_after,
                    },
                ))
            });
        let mut moves = Vec::new();
        let mut written = Vec::new();
        for ((_, files), outcome) in days.iter().zip(outcomes) {
            let (out, day) = outcome?;
            // The old files go into this compaction's staging (deleted with it), then the new
            // one comes in: the journal makes the whole set one step.
            for f in files {
                let aside = staging
                    .join("replaced")
                    .join(format!("{DATE_PARTITION}={}", day.day))
                    .join(f.file_name().expect("a file"));
                moves.push((rel(&data, f), rel(&data, &aside)));
            }
            let target = audit_logs_dir(&data)
                .join(format!("{DATE_PARTITION}={}", day.day))
                .join(&name);
            moves.push((rel(&data, &out), rel(&data, &target)));
            written.push(out);
            summary.files_after -= day.files_before - 1;
            summary.rows += day.rows;
            summary.bytes_before += day.bytes_before;
            summary.bytes_after += day.bytes_after;
            summary.days.push(day);
        }
        let indexes: Vec<PathBuf> = written
            .iter()
            .map(|p| target_index::index_path(&data, p))
            .collect();
        written.extend(indexes);
        sync_files(&written)?;
        let moves = super::with_indexes(&data, moves);
        let journal = Journal { txn, moves };
        let meta = meta_dir(&data);
        let tmp = meta.join("journal.json.tmp");
        io(
            &tmp,
            fs::write(&tmp, serde_json::to_vec(&journal).expect("serializable")),
        )?;
        io(&tmp, fs::File::open(&tmp).and_then(|f| f.sync_all()))?;
        io(&tmp, fs::rename(&tmp, meta.join(JOURNAL)))?;
        sync_dir(&meta)?;
        apply_journal(&data, &journal)?;
        summary.seconds = started.elapsed().as_secs_f64();
        Ok(summary)
    }
}
