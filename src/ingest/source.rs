//! Input files: walking the paths given on the command line, opening files (`.gz` transparently,
//! UTF-8 BOM skipped, plain files memory-mapped), and counting the bytes read so a progress bar
//! can follow.

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

/// A plain file read through a memory map. Its buffer is the whole rest of the file, so a line
/// is handed on borrowed from the page cache: no `read` copying it into a buffer, no copy out of
/// the buffer (together about 5 % of an ingest's CPU, `BENCHMARKS.md`). Every [`RELEASE_STEP`]
/// bytes the pages behind the reader are unmapped again (they stay in the page cache), so the
/// process's resident memory does not grow with the file.
///
/// Like every reader of a mapped file (ripgrep maps files the same way), this assumes the file is
/// not truncated while it is read: an export being written is read up to its length at opening.
struct Mapped {
    map: memmap2::Mmap,
    pos: usize,
    /// Bytes before this offset are unmapped and counted; a multiple of [`RELEASE_STEP`].
    released: usize,
    counter: Arc<AtomicU64>,
}

/// Bytes read between releases of the pages behind a [`Mapped`] reader: a multiple of every page
/// size, small enough to keep a mapped file's share of resident memory at a few MB.
const RELEASE_STEP: usize = 4 << 20;

impl Mapped {
    /// Maps `file` if it is a regular, non-empty file (not a pipe, a terminal, or `/dev/stdin`).
    fn new(file: &File, counter: &Arc<AtomicU64>) -> Option<Self> {
        let meta = file.metadata().ok()?;
        if !meta.is_file() || meta.len() == 0 {
            return None;
        }
        // SAFETY: the map is only read, through `fill_buf` and `read`. Its contents changing
        // under the reader (another process truncating or rewriting the file) is the caveat every
        // mapped reader carries; see the type's documentation.
        let map = unsafe { memmap2::Mmap::map(file) }.ok()?;
        // Read-ahead in large steps; a failed hint changes nothing.
        let _ = map.advise(memmap2::Advice::Sequential);
        Some(Self {
            map,
            pos: 0,
            released: 0,
            counter: Arc::clone(counter),
        })
    }

    /// Unmaps the whole steps before `pos` and counts their bytes as read.
    fn release(&mut self) {
        let upto = self.pos / RELEASE_STEP * RELEASE_STEP;
        if upto > self.released {
            // SAFETY: a read-only shared mapping of a file: `DONTNEED` only drops the page table
            // entries; a later access maps the same page-cache contents again. No slice handed
            // out by `fill_buf` outlives the `consume` that led here (`&mut self`).
            let _ = unsafe {
                self.map.unchecked_advise_range(
                    memmap2::UncheckedAdvice::DontNeed,
                    self.released,
                    upto - self.released,
                )
            };
            self.counter
                .fetch_add((upto - self.released) as u64, Ordering::Relaxed);
            self.released = upto;
        }
    }
}

impl Read for Mapped {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let n = (&self.map[self.pos..]).read(out)?;
        self.consume(n);
        Ok(n)
    }
}

impl BufRead for Mapped {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        Ok(&self.map[self.pos..])
    }

    fn consume(&mut self, n: usize) {
        self.pos = (self.pos + n).min(self.map.len());
        if self.pos - self.released >= RELEASE_STEP {
            self.release();
        }
    }
}

impl Drop for Mapped {
    /// The file is done with: the rest of its bytes count as read.
    fn drop(&mut self) {
        self.counter
            .fetch_add((self.map.len() - self.released) as u64, Ordering::Relaxed);
    }
}

/// Bytes of a file's start that format detection looks at.
pub const HEAD_BYTES: usize = 1 << 16;

/// The first bytes of a reader (at most [`HEAD_BYTES`]), left unconsumed.
pub fn head(reader: &mut dyn BufRead) -> io::Result<Vec<u8>> {
    reader
        .fill_buf()
        .map(|buf| buf[..buf.len().min(HEAD_BYTES)].to_vec())
}

/// Opens a file for reading: decompressed if `.gz`, memory-mapped if a plain regular file,
/// buffered otherwise, with a leading UTF-8 BOM removed. `counter` receives the number of bytes
/// read from disk.
pub fn open(path: &Path, counter: Arc<AtomicU64>) -> Result<Box<dyn BufRead>> {
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    let gzip = is_gzip(path);
    let mapped = if gzip {
        None
    } else {
        Mapped::new(&file, &counter)
    };
    let mut reader: Box<dyn BufRead> = match mapped {
        Some(mapped) => Box::new(mapped),
        None => {
            let counted = Counting {
                inner: file,
                counter,
            };
            if gzip {
                Box::new(BufReader::with_capacity(
                    HEAD_BYTES,
                    MultiGzDecoder::new(BufReader::new(counted)),
                ))
            } else {
                Box::new(BufReader::with_capacity(HEAD_BYTES, counted))
            }
        }
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
    fn plain_files_are_mapped_and_read_as_a_buffered_reader_reads_them() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big.ndjson");
        // Past two release steps, with a BOM and no final newline.
        let mut text = b"\xEF\xBB\xBF".to_vec();
        let mut n = 0;
        while text.len() < 2 * RELEASE_STEP + 12_345 {
            text.extend_from_slice(format!("{{\"n\":{n}}}\n").as_bytes());
            n += 1;
        }
        text.extend_from_slice(b"{\"last\":true}");
        std::fs::write(&path, &text).unwrap();

        let file = File::open(&path).unwrap();
        let unused = Arc::new(AtomicU64::new(0));
        assert!(
            Mapped::new(&file, &unused).is_some(),
            "a plain file is mapped"
        );
        let counter = Arc::new(AtomicU64::new(0));
        let mut reader = open(&path, counter.clone()).unwrap();
        assert_eq!(head(&mut reader).unwrap(), text[3..3 + HEAD_BYTES]);
        let mut lines = Vec::new();
        loop {
            let mut line = Vec::new();
            if reader.read_until(b'\n', &mut line).unwrap() == 0 {
                break;
            }
            lines.push(line);
            if lines.len() == 3 {
                // `Read` too, for the CSV readers.
                let mut some = [0u8; 5];
                reader.read_exact(&mut some).unwrap();
                lines.push(some.to_vec());
            }
        }
        assert_eq!(lines.concat(), text[3..]);
        assert!(
            counter.load(Ordering::Relaxed) >= 2 * RELEASE_STEP as u64,
            "released steps are counted as they go"
        );
        drop(reader);
        assert_eq!(counter.load(Ordering::Relaxed), text.len() as u64);
    }

    #[test]
    fn empty_files_and_pipes_are_not_mapped() {
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty.json");
        std::fs::write(&empty, b"").unwrap();
        let counter = Arc::new(AtomicU64::new(0));
        assert!(Mapped::new(&File::open(&empty).unwrap(), &counter).is_none());
        assert!(
            head(&mut open(&empty, counter.clone()).unwrap())
                .unwrap()
                .is_empty()
        );
        assert!(Mapped::new(&File::open("/dev/null").unwrap(), &counter).is_none());
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
