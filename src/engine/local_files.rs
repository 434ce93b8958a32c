//! The object store of `file://` URLs: the local file system, read on the querying thread.
//!
//! DataFusion reads Parquet files through an `ObjectStore`. `object_store`'s `LocalFileSystem`
//! hands every read to tokio's blocking thread pool and waits for it (a plain range read even
//! twice: once to open the file, once to read it). A query over the dataset makes a few hundred
//! to a few thousand such reads (a footer per file, then column chunks and pages), each a few to a
//! few hundred KiB, nearly always from the page cache, where the read itself takes microseconds;
//! the hand-offs cost more: `perf` put 9 % of a daily count by category's cycles in waking and
//! switching threads (`futex`, `try_to_wake_up`, `finish_task_switch`).
//!
//! [`LocalFiles`] reads byte ranges (`get_opts` with a range and no conditions, `get_ranges`) with
//! `pread` on the calling thread, as DuckDB does, lists directories there too (`list`, with
//! `LocalFileSystem`'s walk and rules: a query lists one directory per day of its range, and the
//! pool's hand-offs were 14,760 context switches in 31 runs of a 30-day query), and gives
//! everything else (heads, conditional reads, writes) to `LocalFileSystem`. A read from a cold
//! disk then blocks one worker thread for its duration instead of a pool thread; the query waits
//! for it either way.
//! Unix only (`pread`); elsewhere the engine keeps `LocalFileSystem`.

use std::fmt;
use std::fs::{File, Metadata};
use std::ops::Range;
use std::os::unix::fs::FileExt;
use std::time::SystemTime;

use async_trait::async_trait;
use bytes::Bytes;
use datafusion::object_store::local::LocalFileSystem;
use datafusion::object_store::path::Path;
use datafusion::object_store::{
    CopyOptions, GetOptions, GetResult, GetResultPayload, ListResult, MultipartUpload, ObjectMeta,
    ObjectStore, PutMultipartOptions, PutOptions, PutPayload, PutResult, RenameOptions, Result,
};
use futures::StreamExt;
use futures::stream::BoxStream;

const STORE: &str = "LocalFiles";

/// `LocalFileSystem` whose byte-range reads run on the calling thread.
#[derive(Debug, Default)]
pub struct LocalFiles {
    inner: LocalFileSystem,
}

impl LocalFiles {
    pub fn new() -> LocalFiles {
        LocalFiles::default()
    }

    /// Opens `location` for reading, with its metadata; a directory is "not found", as for
    /// `LocalFileSystem`.
    fn open(&self, location: &Path) -> Result<(File, std::path::PathBuf, Metadata)> {
        let path = self.inner.path_to_filesystem(location)?;
        let opened = File::open(&path).and_then(|f| f.metadata().map(|m| (f, m)));
        match opened {
            Ok((_, m)) if m.is_dir() => Err(not_found(
                &path,
                std::io::Error::new(std::io::ErrorKind::IsADirectory, "is a directory"),
            )),
            Ok((file, m)) => Ok((file, path, m)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(not_found(&path, e)),
            Err(e) => Err(generic(&path, e)),
        }
    }
}

impl fmt::Display for LocalFiles {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{STORE}({})", self.inner)
    }
}

/// A read `LocalFiles` serves itself: a byte range (or the whole object), no condition, no
/// version, not a head.
fn plain_read(options: &GetOptions) -> bool {
    options.if_match.is_none()
        && options.if_none_match.is_none()
        && options.if_modified_since.is_none()
        && options.if_unmodified_since.is_none()
        && options.version.is_none()
        && !options.head
}

fn not_found(path: &std::path::Path, e: std::io::Error) -> datafusion::object_store::Error {
    datafusion::object_store::Error::NotFound {
        path: path.display().to_string(),
        source: Box::new(e),
    }
}

/// Any other failure, with the file's path.
fn generic(path: &std::path::Path, e: impl fmt::Display) -> datafusion::object_store::Error {
    datafusion::object_store::Error::Generic {
        store: STORE,
        source: format!("{}: {e}", path.display()).into(),
    }
}

/// Reads `range` of `file` whole (short only at end of file, which `range` was checked against).
fn read_range(file: &File, path: &std::path::Path, range: Range<u64>) -> Result<Bytes> {
    let mut buf = vec![0u8; (range.end - range.start) as usize];
    let mut done = 0;
    while done < buf.len() {
        match file.read_at(&mut buf[done..], range.start + done as u64) {
            Ok(0) => {
                return Err(generic(
                    path,
                    format!("wanted bytes {range:?}, the file ended after {done}"),
                ));
            }
            Ok(n) => done += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(generic(path, e)),
        }
    }
    Ok(Bytes::from(buf))
}

/// The object's metadata as `LocalFileSystem` gives it (same e-tag scheme).
fn object_meta(location: &Path, m: &Metadata) -> ObjectMeta {
    let modified = m.modified().unwrap_or(SystemTime::UNIX_EPOCH);
    let micros = modified
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
        .as_micros();
    let inode = std::os::unix::fs::MetadataExt::ino(m);
    ObjectMeta {
        location: location.clone(),
        last_modified: modified.into(),
        size: m.len(),
        e_tag: Some(format!("{inode:x}-{micros:x}-{:x}", m.len())),
        version: None,
    }
}

/// The files below `root` (symbolic links followed), with their metadata, by the rules of
/// `LocalFileSystem::list` (`object_store` 0.13, `local.rs`): directories, broken links, entries
/// that vanish during the walk and names `LocalFileSystem` would not accept (`x#123`) are left
/// out; a missing `root` lists nothing.
fn walk(root: &std::path::Path) -> Vec<Result<ObjectMeta>> {
    let mut out = Vec::new();
    for entry in walkdir::WalkDir::new(root).min_depth(1).follow_links(true) {
        let entry = match entry {
            Ok(entry) => entry,
            Err(e)
                if e.io_error().map(std::io::Error::kind) == Some(std::io::ErrorKind::NotFound) =>
            {
                continue;
            }
            Err(e) => {
                let path = e.path().unwrap_or(root).to_path_buf();
                out.push(Err(generic(&path, e)));
                continue;
            }
        };
        let path = entry.path();
        // `is_file` follows links: false for directories and broken links.
        if !path.is_file() {
            continue;
        }
        let location = match Path::from_absolute_path(path) {
            Ok(location) => location,
            Err(e) => {
                out.push(Err(generic(path, e)));
                continue;
            }
        };
        if !listable(&location) {
            continue;
        }
        match entry.metadata() {
            Ok(m) => out.push(Ok(object_meta(&location, &m))),
            Err(e)
                if e.io_error().map(std::io::Error::kind) == Some(std::io::ErrorKind::NotFound) => {
            }
            Err(e) => out.push(Err(generic(path, e))),
        }
    }
    out
}

/// Whether `LocalFileSystem` lists a file of this name: not when it ends in `#` and digits (its
/// names for files in the middle of a multipart upload).
fn listable(location: &Path) -> bool {
    match location.filename() {
        Some(name) => match name.split_once('#') {
            Some((_, suffix)) if !suffix.is_empty() => !suffix.bytes().all(|b| b.is_ascii_digit()),
            _ => true,
        },
        None => false,
    }
}

#[async_trait]
impl ObjectStore for LocalFiles {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> Result<PutResult> {
        self.inner.put_opts(location, payload, opts).await
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> Result<Box<dyn MultipartUpload>> {
        self.inner.put_multipart_opts(location, opts).await
    }

    async fn get_opts(&self, location: &Path, options: GetOptions) -> Result<GetResult> {
        if !plain_read(&options) {
            return self.inner.get_opts(location, options).await;
        }
        let (file, path, metadata) = self.open(location)?;
        let meta = object_meta(location, &metadata);
        let range = match &options.range {
            Some(r) => r.as_range(meta.size).map_err(|e| generic(&path, e))?,
            None => 0..meta.size,
        };
        let bytes = read_range(&file, &path, range.clone())?;
        Ok(GetResult {
            payload: GetResultPayload::Stream(futures::stream::once(async { Ok(bytes) }).boxed()),
            attributes: Default::default(),
            meta,
            range,
        })
    }

    async fn get_ranges(&self, location: &Path, ranges: &[Range<u64>]) -> Result<Vec<Bytes>> {
        let (file, path, _) = self.open(location)?;
        ranges
            .iter()
            .map(|r| read_range(&file, &path, r.clone()))
            .collect()
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, Result<Path>>,
    ) -> BoxStream<'static, Result<Path>> {
        self.inner.delete_stream(locations)
    }

    /// The files below `prefix`, walked on the calling thread (`LocalFileSystem` walks in its
    /// blocking pool, and a query lists one directory per day of its range). Without a prefix,
    /// or with one `LocalFileSystem` cannot map, it lists as `LocalFileSystem` does.
    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, Result<ObjectMeta>> {
        match prefix.map(|p| self.inner.path_to_filesystem(p)) {
            Some(Ok(root)) => futures::stream::iter(walk(&root)).boxed(),
            _ => self.inner.list(prefix),
        }
    }

    fn list_with_offset(
        &self,
        prefix: Option<&Path>,
        offset: &Path,
    ) -> BoxStream<'static, Result<ObjectMeta>> {
        self.inner.list_with_offset(prefix, offset)
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> Result<ListResult> {
        self.inner.list_with_delimiter(prefix).await
    }

    async fn copy_opts(&self, from: &Path, to: &Path, options: CopyOptions) -> Result<()> {
        self.inner.copy_opts(from, to, options).await
    }

    async fn rename_opts(&self, from: &Path, to: &Path, options: RenameOptions) -> Result<()> {
        self.inner.rename_opts(from, to, options).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::object_store::{GetRange, ObjectStoreExt};
    use futures::TryStreamExt;

    fn store_with(content: &[u8]) -> (tempfile::TempDir, LocalFiles, Path) {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("f.parquet");
        std::fs::write(&file, content).unwrap();
        (
            dir,
            LocalFiles::new(),
            Path::from_absolute_path(&file).unwrap(),
        )
    }

    /// Ranges, suffixes and whole reads give the bytes and metadata `LocalFileSystem` gives.
    #[tokio::test]
    async fn reads_what_the_local_file_system_reads() {
        let content: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
        let (_dir, store, path) = store_with(&content);
        let reference = LocalFileSystem::new();
        for range in [
            GetRange::Bounded(0..1),
            GetRange::Bounded(100..9_000),
            GetRange::Bounded(9_990..20_000),
            GetRange::Suffix(64),
            GetRange::Offset(9_000),
        ] {
            let options = GetOptions::new().with_range(Some(range.clone()));
            let ours = store.get_opts(&path, options.clone()).await.unwrap();
            let theirs = reference.get_opts(&path, options).await.unwrap();
            assert_eq!(ours.range, theirs.range, "{range:?}");
            assert_eq!(ours.meta, theirs.meta, "{range:?}");
            let r = ours.range.clone();
            assert_eq!(
                ours.bytes().await.unwrap(),
                content[r.start as usize..r.end as usize],
                "{range:?}"
            );
        }
        let whole = store.get(&path).await.unwrap().bytes().await.unwrap();
        assert_eq!(whole, content);
        let parts = store
            .get_ranges(&path, &[5..10, 0..3, 9_999..10_000])
            .await
            .unwrap();
        assert_eq!(
            parts,
            vec![&content[5..10], &content[0..3], &content[9_999..]]
        );
        assert_eq!(
            store.head(&path).await.unwrap(),
            reference.head(&path).await.unwrap()
        );
    }

    /// Listing a directory gives what `LocalFileSystem` lists: files in subdirectories and
    /// through links, not directories, broken links or upload parts (`x#1`); nothing for a
    /// missing directory.
    #[tokio::test]
    async fn lists_what_the_local_file_system_lists() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("t");
        std::fs::create_dir_all(root.join("date=2026-01-01/deeper")).unwrap();
        std::fs::create_dir_all(root.join("empty")).unwrap();
        for (name, bytes) in [
            ("date=2026-01-01/a.parquet", &b"abc"[..]),
            ("date=2026-01-01/b.tmp", b""),
            ("date=2026-01-01/deeper/c.parquet", b"x"),
            ("date=2026-01-01/part#12", b"yy"),
            ("date=2026-01-01/d#x1", b"z"),
        ] {
            std::fs::write(root.join(name), bytes).unwrap();
        }
        std::os::unix::fs::symlink(
            root.join("date=2026-01-01/a.parquet"),
            root.join("link.parquet"),
        )
        .unwrap();
        std::os::unix::fs::symlink(root.join("nowhere"), root.join("broken.parquet")).unwrap();
        let store = LocalFiles::new();
        let reference = LocalFileSystem::new();
        let sorted = |mut v: Vec<ObjectMeta>| {
            v.sort_by(|a, b| a.location.cmp(&b.location));
            v
        };
        for sub in ["", "date=2026-01-01", "empty", "missing"] {
            let prefix = Path::from_absolute_path(root.join(sub)).unwrap();
            let ours: Vec<ObjectMeta> = store.list(Some(&prefix)).try_collect().await.unwrap();
            let theirs: Vec<ObjectMeta> =
                reference.list(Some(&prefix)).try_collect().await.unwrap();
            assert_eq!(sorted(ours), sorted(theirs), "{sub}");
        }
        let all: Vec<ObjectMeta> = store
            .list(Some(&Path::from_absolute_path(&root).unwrap()))
            .try_collect()
            .await
            .unwrap();
        let mut names: Vec<String> = all
            .iter()
            .map(|m| m.location.filename().unwrap().to_string())
            .collect();
        names.sort();
        assert_eq!(
            names,
            ["a.parquet", "b.tmp", "c.parquet", "d#x1", "link.parquet"]
        );
    }

    /// A missing file and a directory are "not found"; a range past the end is refused.
    #[tokio::test]
    async fn missing_files_and_bad_ranges_are_errors() {
        let (dir, store, path) = store_with(b"abc");
        let missing = Path::from_absolute_path(dir.path().join("gone.parquet")).unwrap();
        let err = store.get_range(&missing, 0..1).await.unwrap_err();
        assert!(
            matches!(err, datafusion::object_store::Error::NotFound { .. }),
            "{err}"
        );
        let as_dir = Path::from_absolute_path(dir.path()).unwrap();
        let err = store
            .get_ranges(&as_dir, std::slice::from_ref(&(0..1)))
            .await
            .unwrap_err();
        assert!(
            matches!(err, datafusion::object_store::Error::NotFound { .. }),
            "{err}"
        );
        let err = store.get_range(&path, 5..9).await.unwrap_err();
        assert!(err.to_string().contains("f.parquet"), "{err}");
        let err = store
            .get_ranges(&path, std::slice::from_ref(&(1..9)))
            .await
            .unwrap_err();
        assert!(err.to_string().contains("the file ended after 2"), "{err}");
    }
}
