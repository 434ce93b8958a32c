//! The crate's error type and how a command's outcome maps to an exit code.
//!
//! Per-record problems during ingestion are not errors: they are quarantined and counted. An
//! `Error` stops the command and is printed once, by `main`, with exit code 2.

use std::fmt;
use std::path::{Path, PathBuf};

/// Everything that can stop a command.
#[derive(Debug)]
pub enum Error {
    /// A file or directory could not be read or written.
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The user asked for something that cannot be done (bad flag value, missing input, ...).
    Usage(String),
    /// Input or dataset content that stops the command as a whole.
    Invalid(String),
    Arrow(arrow::error::ArrowError),
    Parquet(parquet::errors::ParquetError),
    DataFusion(datafusion::error::DataFusionError),
    /// Problems found in a source text (a KQL query, a workbook), rendered with carets.
    Diagnostics {
        /// The name shown in `--> file:line:col`.
        file: String,
        text: String,
        diagnostics: Vec<crate::diagnostic::Diagnostic>,
    },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An I/O error about `path`.
    pub fn io(path: impl AsRef<Path>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.as_ref().to_path_buf(),
            source,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io { path, source } => write!(f, "{}: {source}", path.display()),
            Error::Usage(m) | Error::Invalid(m) => f.write_str(m),
            Error::Arrow(e) => write!(f, "arrow: {e}"),
            Error::Parquet(e) => write!(f, "parquet: {e}"),
            Error::DataFusion(e) => write!(f, "{e}"),
            Error::Diagnostics {
                file,
                text,
                diagnostics,
            } => f.write_str(crate::diagnostic::render_all(diagnostics, file, text).trim_end()),
        }
    }
}

impl std::error::Error for Error {}

impl From<arrow::error::ArrowError> for Error {
    fn from(e: arrow::error::ArrowError) -> Self {
        Error::Arrow(e)
    }
}
impl From<parquet::errors::ParquetError> for Error {
    fn from(e: parquet::errors::ParquetError) -> Self {
        Error::Parquet(e)
    }
}
impl From<datafusion::error::DataFusionError> for Error {
    fn from(e: datafusion::error::DataFusionError) -> Self {
        Error::DataFusion(e)
    }
}

/// How a command that did not fail ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Everything went as asked: exit 0.
    Success,
    /// Finished, but not cleanly: some records were quarantined, no data, a failed check: exit 1.
    Partial,
}

impl Outcome {
    pub fn exit_code(self) -> u8 {
        match self {
            Outcome::Success => 0,
            Outcome::Partial => 1,
        }
    }
}
