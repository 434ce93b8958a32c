//! Shared helpers of the integration tests: run the real `auditbook` binary in temp dirs.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

/// The binary under test.
pub fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_auditbook"));
    c.env_remove("AUDITBOOK_DATA");
    c
}

/// The repository's test fixtures.
pub fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(rel)
}

/// The repository root.
pub fn repo(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

/// A finished run: exit code, stdout, stderr.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e}):\n{}\nstderr:\n{}",
                self.stdout, self.stderr
            )
        })
    }
}

impl From<Output> for Run {
    fn from(o: Output) -> Self {
        Run {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

/// Runs `auditbook --data DATA ARGS...`.
pub fn run(data: &Path, args: &[&str]) -> Run {
    bin()
        .arg("--data")
        .arg(data)
        .args(args)
        .output()
        .expect("auditbook runs")
        .into()
}

/// `auditbook ingest --json PATHS...`: the summary, and the run.
pub fn ingest(data: &Path, paths: &[PathBuf]) -> (Value, Run) {
    let mut c = bin();
    c.arg("--data")
        .arg(data)
        .arg("ingest")
        .arg("--json")
        .args(paths);
    let r: Run = c.output().expect("auditbook runs").into();
    assert!(
        r.code == 0 || r.code == 1,
        "ingest failed ({}):\n{}\n{}",
        r.code,
        r.stdout,
        r.stderr
    );
    let summary = r.json();
    let n = |k: &str| summary[k].as_u64().unwrap();
    assert_eq!(
        n("read"),
        n("written") + n("duplicates") + n("rejected"),
        "counts reconcile: {summary}"
    );
    (summary, r)
}

/// `auditbook query --sql SQL --format json`: the rows.
pub fn query(data: &Path, sql: &str) -> Vec<Value> {
    let r = run(data, &["query", "--format", "json", "--sql", sql]);
    assert_eq!(r.code, 0, "query failed: {sql}\n{}\n{}", r.stdout, r.stderr);
    match r.json() {
        Value::Array(rows) => rows,
        other => panic!("not an array: {other}"),
    }
}

/// The single row of a query.
pub fn one(data: &Path, sql: &str) -> Value {
    let rows = query(data, sql);
    assert_eq!(rows.len(), 1, "expected one row for {sql}, got {rows:?}");
    rows.into_iter().next().unwrap()
}

/// Counts as `(read, written, duplicates, rejected)`.
pub fn counts(summary: &Value) -> (u64, u64, u64, u64) {
    let n = |k: &str| summary[k].as_u64().unwrap();
    (n("read"), n("written"), n("duplicates"), n("rejected"))
}

/// Runs a Python script that imports `duckdb`, with `args`; its stdout, or `None` when the
/// module is missing (allowed only outside CI, which installs it).
pub fn python_duckdb(script: &str, args: &[&std::ffi::OsStr]) -> Option<String> {
    let out = std::process::Command::new("python3")
        .arg("-c")
        .arg(script)
        .args(args)
        .output()
        .expect("python3 runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    if stderr.contains("No module named 'duckdb'") {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must install duckdb (pip install duckdb): {stderr}"
        );
        eprintln!("skipped: python duckdb is not installed here");
        return None;
    }
    assert!(out.status.success(), "{stderr}");
    Some(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The `.kql` files of `tests/kql/DIR`, sorted.
pub fn kql_files(dir: &str) -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/kql")
        .join(dir);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap_or_else(|e| panic!("{}: {e}", root.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "kql"))
        .collect();
    files.sort();
    files
}

/// One step of a `run --format json` document: its column names and its rows, each an object
/// keyed by column (rows written as arrays are keyed by the column list).
pub fn step_table(step: &Value) -> (Vec<String>, Vec<Value>) {
    let columns: Vec<String> = step["columns"]
        .as_array()
        .expect("columns")
        .iter()
        .map(|c| c["name"].as_str().expect("a column name").to_string())
        .collect();
    let rows = step["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|row| match row {
            Value::Array(cells) => {
                Value::Object(columns.iter().cloned().zip(cells.iter().cloned()).collect())
            }
            other => other.clone(),
        })
        .collect();
    (columns, rows)
}

/// A temp directory under Cargo's per-target temp dir that outlives the test (shared by the tests
/// of one binary through a `OnceLock`); left-overs of runs older than an hour with the same
/// `prefix` are removed first.
pub fn kept_temp_dir(prefix: &str) -> PathBuf {
    let root = Path::new(env!("CARGO_TARGET_TMPDIR"));
    if let Ok(entries) = std::fs::read_dir(root) {
        for e in entries.flatten() {
            let stale = e
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|age| age.as_secs() > 3600);
            if stale && e.file_name().to_string_lossy().starts_with(prefix) {
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
    }
    tempfile::Builder::new()
        .prefix(prefix)
        .tempdir_in(root)
        .unwrap()
        .keep()
}
