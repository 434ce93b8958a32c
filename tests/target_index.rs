//! The target index (`_auditbook/index/AuditLogs/date=D/part-T.tidx` for each `AuditLogs` file):
//! ingest and `compact` write it, a KQL filter on `TargetResources.id` / `.displayName` reads only the rows it selects,
//! and the rows are the same with the index, without it, and with a damaged one.

mod util;

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use util::*;

const PACKAGES: u64 = 7;

/// A Graph NDJSON export of records `from..to` (about 5 per hour over a few days): each targets
/// access package `pkg-{i % 7}` ("Package {i % 7}") and a user of its own.
fn export(path: &Path, from: u64, to: u64) -> PathBuf {
    export_every(path, from, to, 701)
}

/// [`export`] with records `step` seconds apart.
fn export_every(path: &Path, from: u64, to: u64, step: i64) -> PathBuf {
    let mut w = BufWriter::new(std::fs::File::create(path).unwrap());
    for i in from..to {
        let t = chrono::DateTime::from_timestamp(1_790_000_000 + i as i64 * step, 0).unwrap();
        writeln!(
            w,
            r#"{{"id":"EM_{i:06}","category":"EntitlementManagement","correlationId":"c-{i}","result":"success","activityDisplayName":"Create request","activityDateTime":"{t}","loggedByService":"Access Reviews","operationType":"Add","initiatedBy":{{"user":{{"id":"u-{i}","userPrincipalName":"user{i}@fabrikam.example"}}}},"targetResources":[{{"id":"pkg-{p}","displayName":"Package {p}","type":"AccessPackage"}},{{"id":"u-{i}","displayName":"User {i}","type":"User"}}],"additionalDetails":[]}}"#,
            p = i % PACKAGES,
            t = t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        )
        .unwrap();
    }
    path.to_path_buf()
}

/// `(parquet files, index files)` of the dataset, by name; the table's day directories hold
/// Parquet files only.
fn files(data: &Path) -> (Vec<PathBuf>, Vec<PathBuf>) {
    let (mut parquet, mut index) = (Vec::new(), Vec::new());
    for day in std::fs::read_dir(data.join("AuditLogs")).unwrap() {
        for f in std::fs::read_dir(day.unwrap().path()).unwrap() {
            let p = f.unwrap().path();
            assert_eq!(p.extension().unwrap(), "parquet", "{p:?}");
            parquet.push(p);
        }
    }
    let index_dir = data.join("_auditbook/index/AuditLogs");
    for day in std::fs::read_dir(&index_dir).into_iter().flatten() {
        for f in std::fs::read_dir(day.unwrap().path()).unwrap() {
            index.push(f.unwrap().path());
        }
    }
    parquet.sort();
    index.sort();
    (parquet, index)
}

/// The index file each Parquet file should have:
/// `_auditbook/index/AuditLogs/date=D/part-T.tidx` for `AuditLogs/date=D/part-T.parquet`.
fn expected_index(data: &Path, parquet: &[PathBuf]) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = parquet
        .iter()
        .map(|p| {
            let rel = p.strip_prefix(data).unwrap().with_extension("tidx");
            data.join("_auditbook/index").join(rel)
        })
        .collect();
    v.sort();
    v
}

/// The ids a KQL query returns, sorted.
fn ids(data: &Path, kql: &str) -> Vec<String> {
    let r = run(data, &["query", "--format", "json", "--kql", kql]);
    assert_eq!(r.code, 0, "{kql}\n{}\n{}", r.stdout, r.stderr);
    let mut ids: Vec<String> = r
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|row| row["Id"].as_str().unwrap().to_string())
        .collect();
    ids.sort();
    ids
}

fn expected_ids(range: std::ops::Range<u64>, package: u64) -> Vec<String> {
    let mut v: Vec<String> = range
        .filter(|i| i % PACKAGES == package)
        .map(|i| format!("EM_{i:06}"))
        .collect();
    v.sort();
    v
}

/// The text after `metric=` in each Parquet scan of `explain --analyze`.
fn scan_metrics(data: &Path, kql: &str, metric: &str) -> Vec<String> {
    let r = run(data, &["explain", "--analyze", "--kql", kql]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let key = format!("{metric}=");
    r.stdout
        .lines()
        .filter(|l| l.contains("DataSourceExec"))
        .map(|l| l.split(&key).nth(1).expect("metrics").to_string())
        .collect()
}

/// Rows the Parquet scan produced (summed over the scans).
fn scanned_rows(data: &Path, kql: &str) -> u64 {
    scan_metrics(data, kql, "output_rows")
        .iter()
        .map(|m| {
            let n: String = m.chars().take_while(|c| c.is_ascii_digit()).collect();
            assert!(!m[n.len()..].starts_with('.'), "a small count: {m}");
            n.parse::<u64>().unwrap()
        })
        .sum()
}

/// Bytes the Parquet scans read (`bytes_scanned=18.35 M`, summed).
fn scanned_bytes(data: &Path, kql: &str) -> f64 {
    scan_metrics(data, kql, "bytes_scanned")
        .iter()
        .map(|m| {
            let n: String = m
                .chars()
                .take_while(|c| c.is_ascii_digit() || *c == '.')
                .collect();
            let unit = match m[n.len()..].trim_start().chars().next() {
                Some('K') => 1e3,
                Some('M') => 1e6,
                Some('G') => 1e9,
                _ => 1.0,
            };
            n.parse::<f64>().unwrap() * unit
        })
        .sum()
}

const BY_ID: &str =
    r#"AuditLogs | mv-expand TargetResources | where TargetResources.id == "pkg-3" | project Id"#;
const BY_NAME: &str = r#"AuditLogs | mv-expand TargetResources | where tostring(TargetResources.displayName) == "Package 5" and TargetResources.type == "AccessPackage" | project Id"#;

#[test]
fn the_index_narrows_the_scan_and_never_changes_the_rows() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    // Two overlapping ingests: some days get a second file.
    for (name, from, to) in [("a.ndjson", 0, 400), ("b.ndjson", 300, 700)] {
        let (summary, r) = ingest(&data, &[export(&tmp.path().join(name), from, to)]);
        assert_eq!(r.code, 0, "{}", r.stderr);
        assert_eq!(counts(&summary).3, 0);
    }
    let (parquet, index) = files(&data);
    assert!(parquet.len() > 3, "{parquet:?}");
    assert_eq!(
        index,
        expected_index(&data, &parquet),
        "one index per file, no other"
    );

    let want_3 = expected_ids(0..700, 3);
    let want_5 = expected_ids(0..700, 5);
    assert_eq!(ids(&data, BY_ID), want_3);
    assert_eq!(ids(&data, BY_NAME), want_5);
    // Only the selected rows are read: 100 of 700.
    assert_eq!(scanned_rows(&data, BY_ID), want_3.len() as u64);
    // A value in no file reads nothing and finds nothing.
    let none = r#"AuditLogs | mv-expand TargetResources | where TargetResources.id == "pkg-9" | project Id"#;
    assert_eq!(ids(&data, none), Vec::<String>::new());
    assert_eq!(scanned_rows(&data, none), 0);

    // A damaged index (truncated) and a missing one: that file is read in full, same rows.
    let damaged = &index[0];
    let bytes = std::fs::read(damaged).unwrap();
    std::fs::write(damaged, &bytes[..bytes.len() / 2]).unwrap();
    std::fs::remove_file(&index[1]).unwrap();
    assert_eq!(ids(&data, BY_ID), want_3);
    assert_eq!(ids(&data, BY_NAME), want_5);
    assert!(scanned_rows(&data, BY_ID) > want_3.len() as u64);
    // An index of another file (another size) is not used either.
    std::fs::copy(&index[2], &index[1]).unwrap();
    assert_eq!(ids(&data, BY_ID), want_3);

    // `compact` merges the days with two files (their new file comes with its index) and
    // writes the index of the other files where it is missing or stale.
    for i in &index {
        let _ = std::fs::remove_file(i);
    }
    let r = run(&data, &["compact", "--json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let s = r.json();
    let merged = s["days"].as_array().unwrap().len();
    assert!(merged > 0, "{s}");
    let (parquet, index) = files(&data);
    assert_eq!(
        s["indexed"].as_u64().unwrap() as usize,
        parquet.len() - merged
    );
    assert_eq!(index, expected_index(&data, &parquet));
    assert_eq!(ids(&data, BY_ID), want_3);
    assert_eq!(scanned_rows(&data, BY_ID), want_3.len() as u64);
    // Nothing left to do.
    let r = run(&data, &["compact"]);
    assert!(r.stdout.starts_with("nothing to do"), "{}", r.stdout);
}

#[test]
fn a_selection_reads_only_the_pages_of_its_rows() {
    // 20,000 records 4 s apart (under a day, so one or two files of 2,048-row pages); one user is
    // named by one record. The index selects that row, and the scan reads the pages holding it
    // (through the files' offset index), not every page of the wide columns.
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let (_, r) = ingest(
        &data,
        &[export_every(&tmp.path().join("a.ndjson"), 0, 20_000, 4)],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let q = r#"AuditLogs | mv-expand TargetResources | where TargetResources.id == "u-12345" | project Id, InitiatedBy, TargetResources"#;
    assert_eq!(ids(&data, q), ["EM_012345"]);
    let with_index = scanned_bytes(&data, q);
    std::fs::remove_dir_all(data.join("_auditbook/index")).unwrap();
    assert_eq!(ids(&data, q), ["EM_012345"]);
    let without = scanned_bytes(&data, q);
    assert!(
        with_index * 4.0 < without,
        "with the index {with_index} bytes, without {without}"
    );
}

/// The Parquet files a query's scans read, from `explain --analyze`'s file groups (day
/// directory and file name).
fn scanned_files(data: &Path, kql: &str) -> Vec<String> {
    let r = run(data, &["explain", "--analyze", "--kql", kql]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let mut files: Vec<String> = r
        .stdout
        .split(|c: char| c.is_whitespace() || c == '[' || c == ',')
        .filter_map(|w| {
            let w = w
                .split(".parquet")
                .next()
                .filter(|_| w.contains(".parquet"))?;
            let mut parts: Vec<&str> = w.rsplit('/').take(2).collect();
            parts.reverse();
            Some(parts.join("/"))
        })
        .collect();
    files.sort();
    files.dedup();
    files
}

#[test]
fn a_time_range_lists_and_reads_only_its_days() {
    // Records 5 h apart over about 25 days, ingested twice with an overlap so that some days
    // hold two files. A time range lists only its days (not every `date=` directory, as
    // DataFusion's listing table does), and the rows are the ones whose time is in range.
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let step = 5 * 3600;
    for (name, from, to) in [("a.ndjson", 0, 90), ("b.ndjson", 70, 120)] {
        let (_, r) = ingest(
            &data,
            &[export_every(&tmp.path().join(name), from, to, step)],
        );
        assert_eq!(r.code, 0, "{}", r.stderr);
    }
    let time = |i: u64| 1_790_000_000 + (i as i64) * step;
    let day = |t: i64| {
        chrono::DateTime::from_timestamp(t, 0)
            .unwrap()
            .format("date=%Y-%m-%d")
            .to_string()
    };
    let (parquet, _) = files(&data);
    let all_days: std::collections::BTreeSet<String> = (0..120).map(|i| day(time(i))).collect();
    assert!(all_days.len() >= 24, "{all_days:?}");
    assert!(parquet.len() > all_days.len(), "some day holds two files");

    // Three days from the middle of day 5 (bounds between records) to the middle of day 8.
    let (from, to) = (time(20) + 60, time(40) - 60);
    let iso = |t: i64| {
        chrono::DateTime::from_timestamp(t, 0)
            .unwrap()
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    };
    let q = format!(
        "AuditLogs | where TimeGenerated between (datetime({}) .. datetime({})) | project Id",
        iso(from),
        iso(to)
    );
    let want: Vec<String> = (21..40).map(|i| format!("EM_{i:06}")).collect();
    assert_eq!(ids(&data, &q), want);
    // The files read are those of the days in range (the compiler widens the range by a day
    // each side, as `TimeGenerated` may lag `ActivityDateTime`'s day), both files of a day
    // with two, and no other.
    let lo = day(from - 86_400);
    let hi = day(to + 86_400);
    let mut want_files: Vec<String> = parquet
        .iter()
        .map(|p| {
            let d = p.parent().unwrap().file_name().unwrap().to_str().unwrap();
            let f = p.file_stem().unwrap().to_str().unwrap();
            format!("{d}/{f}")
        })
        .filter(|f| f.as_str() >= lo.as_str() && f.as_str() <= format!("{hi}/~").as_str())
        .collect();
    want_files.sort();
    assert!(want_files.len() < parquet.len() / 2, "{want_files:?}");
    assert_eq!(scanned_files(&data, &q), want_files);

    // With the target index too: the package's records in range.
    let q = format!(
        "AuditLogs | where TimeGenerated between (datetime({}) .. datetime({})) \
         | mv-expand TargetResources | where TargetResources.id == \"pkg-3\" | project Id",
        iso(from),
        iso(to)
    );
    let want: Vec<String> = (21..40)
        .filter(|i| i % PACKAGES == 3)
        .map(|i| format!("EM_{i:06}"))
        .collect();
    assert!(!want.is_empty());
    assert_eq!(ids(&data, &q), want);

    // A range of days the dataset does not hold: no rows, no file read.
    let q = "AuditLogs | where TimeGenerated between (datetime(2020-01-01) .. datetime(2020-01-03)) | project Id";
    assert!(ids(&data, q).is_empty());
    assert!(scanned_files(&data, q).is_empty());
    // No range: every file.
    assert_eq!(
        scanned_files(&data, "AuditLogs | project Id").len(),
        parquet.len()
    );
}
