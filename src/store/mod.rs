//! The dataset on disk (placeholder; see DESIGN §4).
use std::path::{Path, PathBuf};

/// `DATA/AuditLogs`: the directory holding the `date=YYYY-MM-DD` partitions.
pub fn audit_logs_dir(data: &Path) -> PathBuf {
    data.join(crate::schema::AUDIT_LOGS)
}

/// Completes an interrupted commit, if any, so readers see the dataset as one ingest left it.
pub fn recover(_data: &Path) -> crate::Result<()> {
    Ok(())
}
