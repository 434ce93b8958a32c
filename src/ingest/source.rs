//! Input files: walking the paths given on the command line, opening files (`.gz` transparently,
//! UTF-8 BOM skipped), and counting the bytes read so a progress bar can follow.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use flate2::read::MultiGzDecoder;

use crate::{Error, Result};

/// Extensions of export files, looked for when walking a directory (`.gz` of these too).
const EXPORT_EXTENSIONS: &[&str] = &["json", "ndjson", "jsonl", "csv"];

/// The files to ingest, and the files of walked directories left out.
#[derive(Debug, Default)]
pub struct Expanded {
    pub files: Vec<PathBuf>,
    /// Files inside directories whose name is not an export's (`README.md`, ...).
    pub skipped: Vec<PathBuf>,
}

/// Expands files and directories (walked recursively, in name order) into the files to ingest.
/// Inside directories, hidden entries (`.name`) and files without an export extension
/// (`.json`, `.ndjson`, `.jsonl`, `.csv`, each optionally `.gz`) are left out; a file named
/// explicitly is always read.
pub fn expand_paths(paths: &[PathBuf]) -> Result<Expanded> {
    let mut out = Expanded::default();
    for path in paths {
        let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
        if meta.is_dir() {
            walk(path, &mut out)?;
        } else {
            out.files.push(path.clone());
        }
    }
    Ok(out)
}

fn is_export_name(path: &Path) -> bool {
    let name = logical_name(path).to_ascii_lowercase();
    EXPORT_EXTENSIONS
        .iter()
        .any(|e| name.ends_with(&format!(".{e}")))
}

fn walk(dir: &Path, out: &mut Expanded) -> Result<()> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| Error::io(dir, e))?
        .map(|e| e.map(|e| e.path()).map_err(|e| Error::io(dir, e)))
        .collect::<Result<_>>()?;
    entries.sort();
    for path in entries {
        let hidden = path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with('.'));
        if hidden {
            continue;
        }
        if path.is_dir() {
            walk(&path, out)?;
        } else if is_export_name(&path) {
            out.files.push(path);
        } else {
            out.skipped.push(path);
        }
    }
    Ok(())
}

/// Counts the bytes pulled through a reader (compressed bytes for `.gz` files).
struct Counting<R> {
    inner: R,
    counter: Arc<AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.counter.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// A reader that fails with the same error every time.
struct Failing(io::ErrorKind, String);

impl Read for Failing {
    fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
        Err(io::Error::new(self.0, self.1.clone()))
    }
}

/// Whether a path names a gzip file.
pub fn is_gzip(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("gz"))
}

/// Bytes of a file's start that format detection looks at.
pub const HEAD_BYTES: usize = 1 << 16;

/// The first bytes of a reader (at most [`HEAD_BYTES`]), left unconsumed.
pub fn head(reader: &mut dyn BufRead) -> io::Result<Vec<u8>> {
    reader
        .fill_buf()
        .map(|buf| buf[..buf.len().min(HEAD_BYTES)].to_vec())
}

/// Opens a file for reading: decompressed if `.gz`, buffered, with a leading UTF-8 BOM removed.
/// `counter` receives the number of bytes read from disk.
///
/// (Mapping plain files instead was measured and dropped: it saved the kernel's copy into the
/// buffer, but the scanner then read every line cold from memory instead of from the cache the
/// copy had just filled, and the ingest's CPU time stayed the same or grew.)
pub fn open(path: &Path, counter: Arc<AtomicU64>) -> Result<Box<dyn BufRead>> {
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    let counted = Counting {
        inner: file,
        counter,
    };
    let mut reader: Box<dyn BufRead> = if is_gzip(path) {
        Box::new(BufReader::with_capacity(
            HEAD_BYTES,
            MultiGzDecoder::new(BufReader::new(counted)),
        ))
    } else {
        Box::new(BufReader::with_capacity(HEAD_BYTES, counted))
    };
    match reader.fill_buf() {
        Ok(head) if head.starts_with(b"\xEF\xBB\xBF") => reader.consume(3),
        Ok(_) => {}
        // A corrupt .gz: the reader keeps failing with this error, reported per file by the caller.
        Err(e) => return Ok(Box::new(BufReader::new(Failing(e.kind(), e.to_string())))),
    }
    Ok(reader)
}

/// Name of the format-relevant part of a path: without a trailing `.gz`.
pub fn logical_name(path: &Path) -> String {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    if is_gzip(path) {
        name[..name.len() - 3].to_string()
    } else {
        name.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn gz_and_bom_are_transparent() {
        let dir = tempfile::tempdir().unwrap();
        let plain = dir.path().join("a.csv");
        std::fs::write(&plain, b"\xEF\xBB\xBFhello\n").unwrap();
        let gz = dir.path().join("b.json.gz");
        let mut enc = flate2::write::GzEncoder::new(File::create(&gz).unwrap(), Default::default());
        enc.write_all(b"\xEF\xBB\xBF{\"x\":1}\n").unwrap();
        enc.finish().unwrap();
        let counter = Arc::new(AtomicU64::new(0));
        let mut s = String::new();
        open(&plain, counter.clone())
            .unwrap()
            .read_to_string(&mut s)
            .unwrap();
        assert_eq!(s, "hello\n");
        s.clear();
        open(&gz, counter.clone())
            .unwrap()
            .read_to_string(&mut s)
            .unwrap();
        assert_eq!(s, "{\"x\":1}\n");
        assert!(counter.load(Ordering::Relaxed) > 9);
        assert_eq!(logical_name(&gz), "b.json");
    }

    #[test]
    fn directories_are_walked_in_order_without_hidden_entries() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("x/y")).unwrap();
        std::fs::write(dir.path().join("x/y/2.json"), "").unwrap();
        std::fs::write(dir.path().join("x/1.json"), "").unwrap();
        std::fs::write(dir.path().join("x/.hidden"), "").unwrap();
        std::fs::write(dir.path().join("x/README.md"), "").unwrap();
        std::fs::write(dir.path().join("x/y/3.CSV.gz"), "").unwrap();
        let expanded = expand_paths(&[dir.path().to_path_buf()]).unwrap();
        assert_eq!(expanded.skipped, vec![dir.path().join("x/README.md")]);
        let names: Vec<_> = expanded
            .files
            .iter()
            .map(|p| {
                p.strip_prefix(dir.path())
                    .unwrap()
                    .to_string_lossy()
                    .into_owned()
            })
            .collect();
        assert_eq!(names, ["x/1.json", "x/y/2.json", "x/y/3.CSV.gz"]);
    }
}
