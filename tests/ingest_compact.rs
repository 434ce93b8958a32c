//! `auditbook compact`: three overlapping incremental ingests leave several files per day;
//! compaction merges them into one file per day, sorted by `TimeGenerated`, with the same rows
//! and content, and a second compaction has nothing to do.

mod util;

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use serde_json::Value;
use util::*;

/// A Graph NDJSON export of records `from..to` (about 5 per hour, over a few days), written in
/// reverse order so files are not in time order.
fn export(path: &Path, from: u64, to: u64) -> PathBuf {
    let mut w = BufWriter::new(std::fs::File::create(path).unwrap());
    for i in (from..to).rev() {
        let secs = 1_790_000_000 + i * 701;
        let t = chrono::DateTime::from_timestamp(secs as i64, (i * 1000) as u32).unwrap();
        writeln!(
            w,
            r#"{{"id":"Directory_compact_{i:06}","category":"UserManagement","correlationId":"c-{i}","result":"success","resultReason":"","activityDisplayName":"Update user","activityDateTime":"{t}","loggedByService":"Core Directory","operationType":"Update","initiatedBy":{{"user":{{"id":"u-{u}","displayName":"User {u}","userPrincipalName":"user{u}@fabrikam.example"}}}},"targetResources":[{{"id":"t-{i}","displayName":"Target {i}","type":"User","modifiedProperties":[{{"displayName":"AccountEnabled","oldValue":"[false]","newValue":"[true]"}}]}}],"additionalDetails":[{{"key":"n","value":"{i}"}}]}}"#,
            u = i % 17,
            t = t.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true),
        )
        .unwrap();
    }
    path.to_path_buf()
}

fn files_per_day(data: &Path) -> Vec<(String, usize)> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(data.join("AuditLogs")).unwrap() {
        let dir = e.unwrap().path();
        let n = std::fs::read_dir(&dir)
            .unwrap()
            .filter(|f| {
                f.as_ref()
                    .unwrap()
                    .path()
                    .extension()
                    .is_some_and(|x| x == "parquet")
            })
            .count();
        out.push((dir.file_name().unwrap().to_string_lossy().into_owned(), n));
    }
    out.sort();
    out
}

/// Every row, as JSON, in a stable order.
fn content(data: &Path) -> Vec<Value> {
    query(data, r#"SELECT * FROM "AuditLogs" ORDER BY "Id""#)
}

#[test]
fn compact_merges_each_day_into_one_sorted_file_with_the_same_rows() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let exports = [
        export(&tmp.path().join("a.ndjson"), 0, 300),
        export(&tmp.path().join("b.ndjson"), 200, 500),
        export(&tmp.path().join("c.ndjson"), 450, 700),
    ];
    let mut written = 0;
    for e in &exports {
        let (summary, run) = ingest(&data, std::slice::from_ref(e));
        assert_eq!(run.code, 0, "{}", run.stderr);
        written += counts(&summary).1;
    }
    assert_eq!(written, 700);
    let before = files_per_day(&data);
    assert!(before.iter().any(|(_, n)| *n > 1), "{before:?}");
    let rows_before = content(&data);
    assert_eq!(rows_before.len(), 700);

    let r = run(&data, &["compact", "--json"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let s = r.json();
    let multi = before.iter().filter(|(_, n)| *n > 1).count() as u64;
    assert_eq!(s["days"].as_array().unwrap().len() as u64, multi);
    assert_eq!(
        s["files_before"].as_u64().unwrap(),
        before.iter().map(|(_, n)| *n as u64).sum::<u64>()
    );
    assert_eq!(s["files_after"].as_u64().unwrap(), before.len() as u64);
    let merged_rows: u64 = before
        .iter()
        .filter(|(_, n)| *n > 1)
        .map(|(d, _)| {
            one(
                &data,
                &format!(
                    r#"SELECT count(*) AS n FROM "AuditLogs" WHERE "date" = '{}'"#,
                    d.trim_start_matches("date=")
                ),
            )["n"]
                .as_u64()
                .unwrap()
        })
        .sum();
    assert_eq!(s["rows"].as_u64().unwrap(), merged_rows);

    // One file per day, same rows and content, each file sorted by TimeGenerated.
    let after = files_per_day(&data);
    assert!(after.iter().all(|(_, n)| *n == 1), "{after:?}");
    assert_eq!(
        after.iter().map(|(d, _)| d).collect::<Vec<_>>(),
        before.iter().map(|(d, _)| d).collect::<Vec<_>>()
    );
    assert_eq!(content(&data), rows_before);
    let unsorted = one(
        &data,
        r#"SELECT count(*) AS n FROM (SELECT "TimeGenerated" < lag("TimeGenerated") OVER (PARTITION BY "date" ORDER BY "TimeGenerated") AS bad FROM "AuditLogs") WHERE bad"#,
    );
    assert_eq!(unsorted["n"], 0);
    // The file order itself: read back through DuckDB when available.
    if let Some(out) = python_duckdb(
        "import duckdb,sys; print(duckdb.connect().execute(f\"SELECT count(*) FROM (SELECT TimeGenerated < lag(TimeGenerated) OVER (PARTITION BY filename ORDER BY file_row_number) AS bad FROM read_parquet('{sys.argv[1]}/AuditLogs/*/*.parquet', filename=true, file_row_number=true)) WHERE bad\").fetchone()[0])",
        &[data.as_os_str()],
    ) {
        assert_eq!(out.trim(), "0", "files are sorted by TimeGenerated");
    }
    assert!(!data.join("_auditbook/journal.json").exists());
    let staging = data.join("_auditbook/staging");
    assert!(!staging.exists() || std::fs::read_dir(&staging).unwrap().count() == 0);

    // Idempotent: nothing left to do.
    let r = run(&data, &["compact"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.starts_with("nothing to do"), "{}", r.stdout);
    // Re-ingesting after compaction still adds nothing.
    let (again, _) = ingest(&data, &exports);
    assert_eq!(counts(&again), (850, 0, 850, 0));

    // A day range limits the work; a bad range is a usage error.
    let r = run(&data, &["compact", "--days", "2026-09-01..2026-09-02"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = run(&data, &["compact", "--days", "yesterday.."]);
    assert_eq!(r.code, 2, "{}", r.stderr);
}
