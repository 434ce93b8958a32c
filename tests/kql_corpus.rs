//! KQL compiler corpus: queries compiled and run over `sample-data/`, with reviewed snapshots.
//!
//! - `tests/kql/ok/NAME.kql` must compile and run. `NAME.sql.snap` holds the generated SQL
//!   (indented) and any warnings; `NAME.result.snap` the result: column names with KQL types,
//!   then the rows as JSON (the rows of an unordered result are sorted, so the snapshot is
//!   stable; an ordered result keeps its order), at most 60 rows plus the total count.
//! - `tests/kql/err/NAME.kql` must fail to compile; `NAME.err.snap` holds the rendered
//!   diagnostics.
//!
//! Every query runs with `now()` fixed at 2026-11-01T00:00:00Z (the end of the sample data).
//! `UPDATE_SNAPSHOTS=1 cargo test --test kql_corpus` rewrites the snapshots; a mismatch fails
//! with both texts. `KQL_CORPUS=prefix` limits a run to the files whose names start with
//! `prefix`. Snapshots are reviewed before they are committed.

mod util;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use auditbook::engine::Engine;

/// `now()` for every corpus query: 2026-11-01T00:00:00Z.
pub const NOW: i64 = 1_793_491_200_000_000_000;

const MAX_ROWS: usize = 60;

fn corpus(dir: &str) -> Vec<PathBuf> {
    util::kql_files(dir)
        .into_iter()
        .filter(|p| match std::env::var("KQL_CORPUS") {
            Ok(prefix) => p
                .file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with(&prefix),
            Err(_) => true,
        })
        .collect()
}

fn updating() -> bool {
    std::env::var_os("UPDATE_SNAPSHOTS").is_some_and(|v| v == "1")
}

fn check_snapshot(path: &Path, actual: &str) -> Option<String> {
    let expected = std::fs::read_to_string(path).ok();
    if updating() {
        std::fs::write(path, actual).unwrap();
        return None;
    }
    if expected.as_deref() == Some(actual) {
        return None;
    }
    Some(format!(
        "snapshot {} differs\n--- expected\n{}\n+++ actual\n{}\n",
        path.display(),
        expected
            .as_deref()
            .unwrap_or("<no snapshot: run with UPDATE_SNAPSHOTS=1 and review it>"),
        actual
    ))
}

/// The sample data, ingested once per test run.
pub fn sample_engine() -> Engine {
    static DATA: OnceLock<tempfile::TempDir> = OnceLock::new();
    let dir = DATA.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let (summary, _) = util::ingest(dir.path(), &[util::repo("sample-data")]);
        assert_eq!(summary["written"], 5000, "{summary}");
        dir
    });
    let engine = Engine::open(dir.path()).unwrap();
    // One partition: DataFusion 55 sometimes loses a partition's value in `min` when the same
    // aggregate has another `min`/`max` (tests/datafusion_bugs.rs); the corpus checks the
    // compiler, so its results must not depend on that race.
    engine
        .context()
        .state_ref()
        .write()
        .config_mut()
        .options_mut()
        .execution
        .target_partitions = 1;
    engine
}

/// Compiles and runs `kql`; returns (sql snapshot, result snapshot) or the rendered error.
pub fn run_kql(engine: &Engine, kql: &str, name: &str) -> Result<(String, String), String> {
    let compiled = engine
        .compile_kql_at(kql, name, NOW)
        .map_err(|e| e.to_string())?;
    let mut sql = compiled.pretty_sql();
    sql.push('\n');
    for w in &compiled.warnings {
        sql.push('\n');
        sql.push_str(&w.render(name, kql));
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let result = rt
        .block_on(engine.run_kql(&compiled))
        .map_err(|e| format!("execution failed: {e}\nSQL:\n{}", compiled.pretty_sql()))?;
    let mut out = String::new();
    let cols: Vec<String> = compiled
        .columns
        .iter()
        .map(|(n, t)| format!("{n}:{}", t.kql_name()))
        .collect();
    out.push_str(&cols.join(", "));
    out.push('\n');
    let mut buf = Vec::new();
    auditbook::render::print_batches(
        auditbook::render::OutputFormat::Ndjson,
        &result.schema,
        &result.batches,
        &mut buf,
    )
    .unwrap();
    let mut rows: Vec<String> = String::from_utf8(buf)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    let ordered = compiled.query.order_by.is_some();
    if !ordered {
        rows.sort();
    }
    let total = rows.len();
    for r in rows.iter().take(MAX_ROWS) {
        out.push_str(r);
        out.push('\n');
    }
    out.push_str(&format!(
        "({total} rows{}{})\n",
        if ordered { ", ordered" } else { "" },
        if total > MAX_ROWS {
            format!(", first {MAX_ROWS} shown")
        } else {
            String::new()
        }
    ));
    Ok((sql, out))
}

#[test]
fn ok_corpus_compiles_runs_and_matches_snapshots() {
    let engine = sample_engine();
    let files = corpus("ok");
    let mut failures = Vec::new();
    for path in &files {
        let kql = std::fs::read_to_string(path).unwrap();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        match run_kql(&engine, &kql, &name) {
            Err(e) => failures.push(format!("{name}: {e}")),
            Ok((sql, result)) => {
                failures.extend(check_snapshot(&path.with_extension("sql.snap"), &sql));
                failures.extend(check_snapshot(&path.with_extension("result.snap"), &result));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} ok queries failed:\n{}",
        failures.len(),
        files.len(),
        failures.join("\n")
    );
}

#[test]
fn err_corpus_fails_with_diagnostics_matching_snapshots() {
    let engine = sample_engine();
    let files = corpus("err");
    let mut failures = Vec::new();
    for path in &files {
        let kql = std::fs::read_to_string(path).unwrap();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        match engine.compile_kql_at(&kql, &name, NOW) {
            Ok(c) => failures.push(format!(
                "{name}: compiled, but must not:\n{}",
                c.pretty_sql()
            )),
            Err(e) => {
                let text = format!("{e}\n");
                assert!(text.contains("error["), "{name}: {text}");
                failures.extend(check_snapshot(&path.with_extension("err.snap"), &text));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} err queries failed:\n{}",
        failures.len(),
        files.len(),
        failures.join("\n")
    );
}
