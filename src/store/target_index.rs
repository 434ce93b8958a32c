//! The target index: a file written with every `AuditLogs` Parquet file, mapping each
//! `TargetResources[].id` and `TargetResources[].displayName` value to the rows of that file
//! whose targets hold it ("events by access package", "events by target user or app").
//!
//! `DATA/AuditLogs/date=D/part-T.parquet` has its index in
//! `DATA/_auditbook/index/AuditLogs/date=D/part-T.tidx` ([`index_path`]): outside the table's
//! directories, which other engines list as they are. Ingest and `compact` write it beside the
//! new file in their staging, and the journal moves both; the query engine
//! ([`crate::engine`]) turns a `kql_list_has(TargetResources, 'id' | 'displayName', 'V')`
//! filter into a row selection of each file, so the Parquet reader decodes only those rows.
//! The filter still runs on them: the index only narrows what is read. A file without a
//! usable index (none, unreadable, or written for a file of another size) is read in full.
//!
//! Format (little-endian), built so that a lookup reads three small ranges of the file:
//! ```text
//! 0    b"ABTIDX03"                   magic and version
//! 8    u64  size of the Parquet file in bytes       } the index is valid only for the file
//! 16   i64  its modification time (ns since 1970)  } of that size and time
//! 24   u64  rows of the Parquet file
//! 32   u32  B, the number of buckets (a power of two)
//! 36   u32  0
//! 40   u64 × (B + 1)                 offset of each bucket's entries, then the end
//! ...  entries: u64 key hash, u32 n, u32 × n rows (ascending)
//! ```
//! A key is a 64-bit hash ([`key_hash`]) of its field (0 id, 1 displayName) and value; its bucket
//! is that hash modulo B. Keys are stored as their hash only: two values with one hash would
//! select the rows of both, which the filter then tells apart, so a collision costs time,
//! never rows.

use std::collections::HashMap;
use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use arrow::array::{Array, AsArray, RecordBatch, StringArray};

use super::io;
use crate::Result;
use crate::schema::AUDIT_LOGS;

/// The file name extension of a target index.
pub const EXTENSION: &str = "tidx";
const MAGIC: &[u8; 8] = b"ABTIDX03";
const HEADER: usize = 40;

/// The target fields that are indexed, by their code in the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TargetField {
    Id = 0,
    DisplayName = 1,
}

impl TargetField {
    /// The field of `TargetResources[]` called `name`, when it is indexed.
    pub fn from_name(name: &str) -> Option<TargetField> {
        match name {
            "id" => Some(TargetField::Id),
            "displayName" => Some(TargetField::DisplayName),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            TargetField::Id => "id",
            TargetField::DisplayName => "displayName",
        }
    }
}

/// Where the index of the Parquet file `file` lives. For a file of the table of the dataset
/// at `root` (`root/AuditLogs/date=D/part-T.parquet`): `root/_auditbook/index/AuditLogs/date=D/
/// part-T.tidx`, so the table's directories hold only Parquet files. For a work file anywhere
/// else (an ingest's or a compaction's staging): beside it, `part-T.tidx`.
pub fn index_path(root: &Path, file: &Path) -> PathBuf {
    match file.strip_prefix(root.join(AUDIT_LOGS)) {
        Ok(rel) => super::meta_dir(root)
            .join("index")
            .join(AUDIT_LOGS)
            .join(rel)
            .with_extension(EXTENSION),
        Err(_) => file.with_extension(EXTENSION),
    }
}

/// The key of `field = value`: a 64-bit hash of the field's code and the value's bytes, 8 bytes
/// at a time (multiply-xor rounds, then the MurmurHash3 finalizer). Defined here, so an index
/// written by one build is read the same by another.
fn key_hash(field: TargetField, value: &[u8]) -> u64 {
    const K: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut h = (field as u64 + 1).wrapping_mul(K) ^ value.len() as u64;
    let mut chunks = value.chunks_exact(8);
    for c in &mut chunks {
        let w = u64::from_le_bytes(c.try_into().expect("8"));
        h = (h ^ w).wrapping_mul(K).rotate_left(29);
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        let mut last = [0u8; 8];
        last[..rest.len()].copy_from_slice(rest);
        h = (h ^ u64::from_le_bytes(last))
            .wrapping_mul(K)
            .rotate_left(29);
    }
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

/// Keys are hashes already: the map uses them as they are.
#[derive(Default)]
struct KeyHasher(u64);

impl std::hash::Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 << 8) | u64::from(*b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// The identity of a Parquet file an index is valid for: its size and modification time (ns),
/// which renames keep and a rewrite changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileStamp {
    pub size: u64,
    pub modified: i64,
}

impl FileStamp {
    /// The stamp of the file at `path`.
    pub fn of(path: &Path) -> Result<FileStamp> {
        let meta = io(path, fs::metadata(path))?;
        let modified = io(path, meta.modified())?
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as i64)
            .unwrap_or(0);
        Ok(FileStamp {
            size: meta.len(),
            modified,
        })
    }
}

/// Writes the index of `batches` (the rows of the Parquet work file `data`, in file order)
/// beside `data`, which must be written (and closed) already: its stamp goes into the index.
pub fn write(data: &Path, batches: &[RecordBatch]) -> Result<()> {
    let bytes = encode(batches, FileStamp::of(data)?);
    let path = data.with_extension(EXTENSION);
    let mut f = io(&path, File::create(&path))?;
    io(&path, f.write_all(&bytes))
}

/// Key hash → the rows holding it, ascending.
type Keys = HashMap<u64, Vec<u32>, std::hash::BuildHasherDefault<KeyHasher>>;

/// The index of `batches` (one file's rows, in order) as the bytes of an index file for the
/// Parquet file `stamp`.
fn encode(batches: &[RecordBatch], stamp: FileStamp) -> Vec<u8> {
    let mut keys = Keys::default();
    let mut first_row = 0;
    for batch in batches {
        index_targets(batch, first_row, &mut keys);
        first_row += batch.num_rows();
    }
    let buckets = (keys.len() as u64 / 4).max(1).next_power_of_two();
    let mut by_bucket: Vec<Vec<(u64, Vec<u32>)>> = (0..buckets).map(|_| Vec::new()).collect();
    for (key, rows) in keys {
        by_bucket[(key & (buckets - 1)) as usize].push((key, rows));
    }
    let mut out = Vec::with_capacity(HEADER + 8 * (buckets as usize + 1));
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&stamp.size.to_le_bytes());
    out.extend_from_slice(&stamp.modified.to_le_bytes());
    out.extend_from_slice(&(first_row as u64).to_le_bytes());
    out.extend_from_slice(&(buckets as u32).to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    let offsets_at = out.len();
    out.resize(offsets_at + 8 * (buckets as usize + 1), 0);
    for (b, mut entries) in by_bucket.into_iter().enumerate() {
        let at = out.len() as u64;
        out[offsets_at + 8 * b..offsets_at + 8 * b + 8].copy_from_slice(&at.to_le_bytes());
        entries.sort_by_key(|(key, _)| *key);
        for (key, rows) in entries {
            out.extend_from_slice(&key.to_le_bytes());
            out.extend_from_slice(&(rows.len() as u32).to_le_bytes());
            for r in rows {
                out.extend_from_slice(&r.to_le_bytes());
            }
        }
    }
    let end = out.len() as u64;
    let last = offsets_at + 8 * buckets as usize;
    out[last..last + 8].copy_from_slice(&end.to_le_bytes());
    out
}

/// Adds the target keys of `batch`, whose first row is row `first_row` of its file, to `keys`.
fn index_targets(batch: &RecordBatch, first_row: usize, keys: &mut Keys) {
    if let Some(targets) = batch
        .column_by_name("TargetResources")
        .and_then(|c| c.as_list_opt::<i32>())
    {
        let elements = targets.values().as_struct();
        let fields: Vec<(TargetField, &StringArray)> = [TargetField::Id, TargetField::DisplayName]
            .into_iter()
            .filter_map(|f| {
                let column = elements.column_by_name(f.name())?;
                Some((f, column.as_string_opt::<i32>()?))
            })
            .collect();
        let offsets = targets.value_offsets();
        for row in 0..targets.len() {
            // Masked elements are indexed too: an index may hold more rows than match, never fewer.
            for e in offsets[row] as usize..offsets[row + 1] as usize {
                for (field, values) in &fields {
                    if values.is_valid(e) {
                        let key = key_hash(*field, values.value(e).as_bytes());
                        let rows = keys.entry(key).or_default();
                        let row = (first_row + row) as u32;
                        if rows.last() != Some(&row) {
                            rows.push(row);
                        }
                    }
                }
            }
        }
    }
}

/// Whether `index` is an index written for the Parquet file `data` (for its stamp).
pub fn is_current(data: &Path, index: &Path) -> bool {
    FileStamp::of(data).is_ok_and(|stamp| lookup(index, stamp, &[]).is_some())
}

/// Writes `index`, the index of an existing Parquet file `data` (an `AuditLogs` file written
/// before indexes existed), reading only the indexed leaves of `TargetResources`. It is written
/// to a temporary name and renamed, so a reader sees none or all of it.
pub fn rebuild(data: &Path, index: &Path) -> Result<()> {
    use parquet::arrow::ProjectionMask;
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    let file = io(data, File::open(data))?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| {
        crate::Error::Invalid(format!("{}: unreadable Parquet file: {e}", data.display()))
    })?;
    let leaves: Vec<usize> = builder
        .parquet_schema()
        .columns()
        .iter()
        .enumerate()
        .filter(|(_, c)| {
            let parts = c.path().parts();
            parts.first().is_some_and(|p| p == "TargetResources")
                && parts.len() == 4
                && parts
                    .last()
                    .is_some_and(|l| TargetField::from_name(l).is_some())
        })
        .map(|(i, _)| i)
        .collect();
    let mask = ProjectionMask::leaves(builder.parquet_schema(), leaves);
    let batches = builder
        .with_projection(mask)
        .with_batch_size(64 * 1024)
        .build()?
        .collect::<std::result::Result<Vec<_>, _>>()?;
    if batches.is_empty() {
        return Ok(());
    }
    if let Some(dir) = index.parent() {
        io(dir, fs::create_dir_all(dir))?;
    }
    let tmp = index.with_extension("tidx.tmp");
    io(
        &tmp,
        fs::write(&tmp, encode(&batches, FileStamp::of(data)?)),
    )?;
    io(&tmp, fs::rename(&tmp, index))
}

/// What the index of one Parquet file says about a set of keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selected {
    /// Rows of the file.
    pub rows: u64,
    /// The rows holding every key, ascending.
    pub matching: Vec<u32>,
}

/// The rows of a Parquet file (with `stamp`) whose targets hold every one of `keys`, from its
/// `index`; `None` when that is not a usable index for that file (the caller reads the whole
/// file).
pub fn lookup(index: &Path, stamp: FileStamp, keys: &[(TargetField, &str)]) -> Option<Selected> {
    use std::os::unix::fs::FileExt;
    let file = File::open(index).ok()?;
    let read = |at: u64, len: usize| -> Option<Vec<u8>> {
        let mut buf = vec![0; len];
        file.read_exact_at(&mut buf, at).ok()?;
        Some(buf)
    };
    let header = read(0, HEADER)?;
    let u64_at = |b: &[u8], at: usize| u64::from_le_bytes(b[at..at + 8].try_into().expect("8"));
    if &header[..8] != MAGIC
        || u64_at(&header, 8) != stamp.size
        || u64_at(&header, 16) != stamp.modified as u64
    {
        return None;
    }
    let rows = u64_at(&header, 24);
    let buckets = u64::from(u32::from_le_bytes(header[32..36].try_into().expect("4")));
    if buckets == 0 || !buckets.is_power_of_two() {
        return None;
    }
    let mut matching: Option<Vec<u32>> = None;
    for (field, value) in keys {
        let key = key_hash(*field, value.as_bytes());
        let range = read(HEADER as u64 + 8 * (key & (buckets - 1)), 16)?;
        let (start, end) = (u64_at(&range, 0), u64_at(&range, 8));
        let entries = read(start, usize::try_from(end.checked_sub(start)?).ok()?)?;
        let found = find(&entries, key)?;
        matching = Some(match matching {
            None => found,
            Some(m) => intersect(&m, &found),
        });
        if matching.as_ref().is_some_and(Vec::is_empty) {
            break;
        }
    }
    Some(Selected {
        rows,
        matching: matching.unwrap_or_default(),
    })
}

/// The rows of `key` in one bucket's entries (none when absent); `None` when the entries are
/// malformed.
fn find(mut entries: &[u8], key: u64) -> Option<Vec<u32>> {
    while !entries.is_empty() {
        let k = u64::from_le_bytes(entries.get(..8)?.try_into().expect("8"));
        let n = u32::from_le_bytes(entries.get(8..12)?.try_into().expect("4")) as usize;
        let rows = entries.get(12..12 + 4 * n)?;
        if k == key {
            return Some(
                rows.chunks_exact(4)
                    .map(|r| u32::from_le_bytes(r.try_into().expect("4")))
                    .collect(),
            );
        }
        entries = &entries[12 + 4 * n..];
    }
    Some(Vec::new())
}

fn intersect(a: &[u32], b: &[u32]) -> Vec<u32> {
    let (mut i, mut j, mut out) = (0, 0, Vec::new());
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                out.push(a[i]);
                i += 1;
                j += 1;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{AuditRecord, records_to_batch};

    fn record(id: &str, targets: &[(&str, &str)]) -> AuditRecord {
        let mut r = AuditRecord {
            id: id.into(),
            target_resources: Some(
                targets
                    .iter()
                    .map(|(i, n)| crate::record::TargetResource {
                        id: Some(i.to_string()),
                        display_name: Some(n.to_string()),
                        ..Default::default()
                    })
                    .collect(),
            ),
            ..Default::default()
        };
        r.fill_derived();
        r
    }

    /// A file written from several batches is indexed by its row numbers, not each batch's.
    #[test]
    fn a_file_of_several_batches_is_indexed_as_one() {
        let records = vec![
            record("a", &[("P1", "Sales")]),
            record("b", &[("P2", "Sales")]),
            record("c", &[("P1", "Sales")]),
            record("d", &[("P2", "Ops")]),
        ];
        let whole = records_to_batch(&records).unwrap();
        let parts = [whole.slice(0, 1), whole.slice(1, 3)];
        let stamp = FileStamp {
            size: 1,
            modified: 2,
        };
        assert_eq!(encode(&parts, stamp), encode(&[whole], stamp));
    }

    #[test]
    fn finds_the_rows_of_each_key_and_their_intersection() {
        let records = vec![
            record("a", &[("P1", "Sales"), ("U1", "Ann")]),
            record("b", &[("P2", "Sales")]),
            record("c", &[("P1", "Sales"), ("P1", "Sales again")]),
            record("d", &[]),
        ];
        let batch = records_to_batch(&records).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("part.parquet");
        fs::write(&data, b"0123456789").unwrap();
        write(&data, std::slice::from_ref(&batch)).unwrap();
        let stamp = FileStamp::of(&data).unwrap();
        let index = data.with_extension(EXTENSION);
        let get = |keys: &[(TargetField, &str)]| lookup(&index, stamp, keys).unwrap().matching;
        assert_eq!(get(&[(TargetField::Id, "P1")]), vec![0, 2]);
        assert_eq!(get(&[(TargetField::DisplayName, "Sales")]), vec![0, 1, 2]);
        assert_eq!(
            get(&[(TargetField::DisplayName, "Sales"), (TargetField::Id, "P2")]),
            vec![1]
        );
        assert_eq!(get(&[(TargetField::Id, "Sales")]), Vec::<u32>::new());
        assert_eq!(get(&[(TargetField::Id, "p1")]), Vec::<u32>::new());
        assert_eq!(lookup(&index, stamp, &[]).unwrap().rows, 4);
        assert!(is_current(&data, &index));
        // An index written for a file of another size or time is not used.
        let other = |size, modified| FileStamp { size, modified };
        assert_eq!(
            lookup(
                &index,
                other(11, stamp.modified),
                &[(TargetField::Id, "P1")]
            ),
            None
        );
        assert_eq!(
            lookup(
                &data,
                other(10, stamp.modified + 1),
                &[(TargetField::Id, "P1")]
            ),
            None
        );
        assert_eq!(lookup(&dir.path().join("other.tidx"), stamp, &[]), None);
        // Rewriting the file makes its index stale.
        std::thread::sleep(std::time::Duration::from_millis(10));
        fs::write(&data, b"9876543210").unwrap();
        assert!(!is_current(&data, &index));
    }

    #[test]
    fn a_truncated_index_is_not_used() {
        let batch = records_to_batch(&[record("a", &[("P1", "Sales")])]).unwrap();
        let stamp = FileStamp {
            size: 10,
            modified: 7,
        };
        let bytes = encode(std::slice::from_ref(&batch), stamp);
        let dir = tempfile::tempdir().unwrap();
        let index = dir.path().join("part.tidx");
        fs::write(&index, &bytes[..bytes.len() - 3]).unwrap();
        assert_eq!(lookup(&index, stamp, &[(TargetField::Id, "P1")]), None);
        fs::write(&index, &bytes).unwrap();
        assert!(lookup(&index, stamp, &[(TargetField::Id, "P1")]).is_some());
    }
}
