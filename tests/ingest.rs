//! Ingestion end to end: every input format and its traps, idempotence, bad input, concurrency,
//! and readability of the dataset by another engine.

mod util;

use std::io::Write;

use serde_json::{Value, json};
use util::*;

/// Every file of an ingest was read as `format`.
fn assert_formats(summary: &Value, format: &str) {
    let files = summary["files"].as_array().unwrap();
    assert!(files.iter().all(|f| f["format"] == format), "{summary}");
}

fn graph_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    // NDJSON is ingested gzipped: `.gz` must be transparent.
    let gz = dir.join("graph.ndjson.gz");
    let mut enc =
        flate2::write::GzEncoder::new(std::fs::File::create(&gz).unwrap(), Default::default());
    enc.write_all(&std::fs::read(fixture("ingest/graph.ndjson")).unwrap())
        .unwrap();
    enc.finish().unwrap();
    vec![
        fixture("ingest/graph_page.json"),
        fixture("ingest/graph_pages.json"),
        fixture("ingest/graph_records.json"),
        gz,
    ]
}

#[test]
fn graph_page_pages_bare_array_and_gzipped_ndjson() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let (summary, run) = ingest(&data, &graph_files(tmp.path()));
    assert_eq!(run.code, 0, "{}", run.stderr);
    // 3 + 2 + 2 + 2 records; the second file repeats one record of the first.
    assert_eq!(counts(&summary), (9, 8, 1, 0));
    let formats: Vec<_> = summary["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["format"].clone(), f["layout"].clone()))
        .collect();
    assert_eq!(formats[0], (json!("graph"), json!("json-document")));
    assert_eq!(formats[3], (json!("graph"), json!("json-lines")));
    assert!(
        run.stderr
            .contains("graph_page.json: detected graph (JSON document), 3 record(s)"),
        "{}",
        run.stderr
    );

    // 7 fractional digits, kept to the 100 ns tick; the day partition follows TimeGenerated.
    let r = one(
        &data,
        r#"SELECT "TimeGenerated", "ActivityDateTime", "OperationName", "Identity", "Type", "date", "Result", "ResultReason",
        "InitiatedBy"['user']['userPrincipalName'] AS upn, "TargetResources"[1]['id'] AS ap, "AdditionalDetails"
        FROM "AuditLogs" WHERE "Id" = 'Directory_7f1c0a2e-9d2b-4f7e-8a51-0c3d5e6f7a81_ZK4QX_11843'"#,
    );
    assert_eq!(r["TimeGenerated"], "2026-10-01T09:15:02.721537400Z");
    assert_eq!(r["ActivityDateTime"], "2026-10-01T09:15:02.721537400Z");
    assert_eq!(
        r["OperationName"],
        "User requests access package assignment"
    );
    assert_eq!(r["Identity"], "Maya Lindqvist");
    assert_eq!(r["Type"], "AuditLogs");
    assert_eq!(r["date"], "2026-10-01");
    assert_eq!(r["upn"], "maya.lindqvist@fabrikam.example");
    assert_eq!(r["ap"], "a1b2c3d4-0001-4000-8000-000000000001");
    assert_eq!(
        r["AdditionalDetails"],
        json!([]),
        "an empty array stays empty, not null"
    );

    // `"Type"` capitalised, resultReason null → "", additionalDetails null stays null, 0 digits.
    let r = one(
        &data,
        r#"SELECT "TimeGenerated", "ResultReason", "TargetResources"[1]['type'] AS t, "AdditionalDetails" IS NULL AS no_details,
        "TargetResources"[1]['modifiedProperties'][1]['newValue'] AS nv, "TargetResources"[1]['modifiedProperties'][1]['oldValue'] IS NULL AS old_null
        FROM "AuditLogs" WHERE "Id" = 'SSGM_b662f17a-4e4d-4e1c-9248-cdec180024b2_MCDC4_88453290'"#,
    );
    assert_eq!(
        r,
        json!({"TimeGenerated": "2026-10-01T10:01:19.000000000Z", "ResultReason": "", "t": "Group", "no_details": true, "nv": "\"Finance Team\"", "old_null": true})
    );

    // result as integer 0, null targets, app initiator, 1 fractional digit.
    let r = one(
        &data,
        r#"SELECT "Result", "TargetResources" IS NULL AS no_targets, "Identity", "InitiatedBy"['user'] IS NULL AS no_user,
        "InitiatedBy"['app']['servicePrincipalId'] AS sp, "TimeGenerated" FROM "AuditLogs" WHERE "Id" = 'PIM_4c1f9e7d_000042'"#,
    );
    assert_eq!(
        r,
        json!({"Result": "success", "no_targets": true, "Identity": "Azure AD Identity Governance - User Management",
        "no_user": true, "sp": "9e2d3c4b-5a69-4788-9a0b-1c2d3e4f5a6b", "TimeGenerated": "2026-10-02T00:00:00.500000000Z"})
    );

    // 9 and 2 fractional digits; failure and timeout results.
    let rows = query(
        &data,
        r#"SELECT "Id", "TimeGenerated", "Result", "ResultReason" FROM "AuditLogs" WHERE "date" = '2026-10-03' ORDER BY "TimeGenerated""#,
    );
    assert_eq!(
        rows,
        vec![
            json!({"Id": "Directory_d1_AAAAA_1", "TimeGenerated": "2026-10-03T08:00:00.123456789Z", "Result": "failure", "ResultReason": "Insufficient privileges"}),
            json!({"Id": "Directory_d2_BBBBB_2", "TimeGenerated": "2026-10-03T08:00:01.120000000Z", "Result": "timeout", "ResultReason": ""}),
        ]
    );
    // userAgent is kept as an additional detail; a 23:59:59.9999999 record stays on its day.
    let r = one(
        &data,
        r#"SELECT "date", "AdditionalDetails" FROM "AuditLogs" WHERE "Id" = 'Directory_f1_CCCCC_3'"#,
    );
    assert_eq!(
        r,
        json!({"date": "2026-09-15", "AdditionalDetails": [{"key": "User-Agent", "value": "Mozilla/5.0 (X11; Linux x86_64)"}]})
    );
    // CRLF NDJSON inside gzip, records of one request share the correlation id.
    let r = one(
        &data,
        r#"SELECT count(*) AS n, min("OperationName") AS first FROM "AuditLogs" WHERE "CorrelationId" = 'c-n1'"#,
    );
    assert_eq!(
        r,
        json!({"n": 2, "first": "Fulfill access package assignment"})
    );
}

#[test]
fn diagnostic_archive_and_event_hub_capture() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let (summary, run) = ingest(
        &data,
        &[
            fixture("ingest/insights-logs-auditlogs"),
            fixture("ingest/eventhub_capture.json"),
        ],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    // 4 + 2 lines in the two PT1H.json blobs (tenantId= and resourceId= paths) + 2 captured records;
    // one at-least-once repeat inside a blob, one across blobs.
    assert_eq!(counts(&summary), (8, 6, 2, 0));
    assert_formats(&summary, "diagnostic");

    let r = one(
        &data,
        r#"SELECT "TenantId", "AADTenantId", "Level", "Location", "DurationMs", "TimeGenerated", "ActivityDateTime", "Identity",
        "ResourceId", "TargetResources"[2]['userPrincipalName'] AS who, "AdditionalDetails"[1]['value'] AS req
        FROM "AuditLogs" WHERE "Id" = 'Directory_x1_FFFFF_6'"#,
    );
    assert_eq!(
        r,
        json!({"TenantId": "11111111-2222-4333-8444-555555555555", "AADTenantId": "11111111-2222-4333-8444-555555555555",
        "Level": "4", "Location": "EU", "DurationMs": 0, "TimeGenerated": "2026-10-05T14:10:02.516809300Z",
        "ActivityDateTime": "2026-10-05T14:10:02.516809300Z", "Identity": "Approver Two",
        "ResourceId": "/tenants/11111111-2222-4333-8444-555555555555/providers/Microsoft.aadiam", "who": "lea@fabrikam.example", "req": "req-77"})
    );
    // `level` in lower case with "Informational", durationMs as the string "-1", result 0.
    let r = one(
        &data,
        r#"SELECT "Level", "DurationMs", "Result", "Category", "ActivityDateTime" FROM "AuditLogs" WHERE "Id" = 'Directory_x3_IIIII_9'"#,
    );
    assert_eq!(
        r,
        json!({"Level": "Informational", "DurationMs": -1, "Result": "success", "Category": "Policy", "ActivityDateTime": "2026-10-05T15:00:00.250000000Z"})
    );
    // 6 fractional digits with +00:00; app-role grant properties stay JSON-encoded strings.
    let r = one(
        &data,
        r#"SELECT "ActivityDateTime", "TargetResources"[1]['modifiedProperties'][3]['newValue'] AS role FROM "AuditLogs" WHERE "Id" = 'Directory_x2_GGGGG_7'"#,
    );
    assert_eq!(
        r,
        json!({"ActivityDateTime": "2026-10-05T14:20:00.250000000Z", "role": "\"Reader\""})
    );
    // A late record in the 5 October blob lands in its own day.
    let r = one(
        &data,
        r#"SELECT "date", "OperationName" FROM "AuditLogs" WHERE "Id" = 'Directory_late_HHHHH_8'"#,
    );
    assert_eq!(
        r,
        json!({"date": "2026-10-01", "OperationName": "Remove access package assignment"})
    );
    // Event Hub capture; an empty identity falls back to the initiator (none here: stays empty).
    let rows = query(
        &data,
        r#"SELECT "Id", "Identity" FROM "AuditLogs" WHERE "date" = '2026-10-06' ORDER BY "Id""#,
    );
    assert_eq!(
        rows,
        vec![
            json!({"Id": "Directory_eh1_JJJJJ_10", "Identity": "Maya Lindqvist"}),
            json!({"Id": "Directory_eh2_KKKKK_11", "Identity": ""})
        ]
    );
}

#[test]
fn log_analytics_query_api_rows_and_csv() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let (summary, run) = ingest(
        &data,
        &[
            fixture("ingest/la_query_api.json"),
            fixture("ingest/la_rows.json"),
            fixture("ingest/la_export.csv"),
        ],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(counts(&summary), (5, 5, 0, 0));
    assert_formats(&summary, "log-analytics");
    assert!(
        run.stderr
            .contains("columns not in AuditLogs, ignored: CustomCol"),
        "{}",
        run.stderr
    );

    // TimeGenerated kept apart from ActivityDateTime; dynamic columns from JSON text.
    let r = one(
        &data,
        r#"SELECT "TimeGenerated", "ActivityDateTime", "TargetResources"[1]['displayName'] AS ap, "InitiatedBy"['user']['userPrincipalName'] AS upn
        FROM "AuditLogs" WHERE "Id" = 'LA_1'"#,
    );
    assert_eq!(
        r,
        json!({"TimeGenerated": "2026-10-07T08:15:04.900000000Z", "ActivityDateTime": "2026-10-07T08:15:02.123456700Z",
        "ap": "Contoso Finance Tools", "upn": "approver2@fabrikam.example"})
    );
    let r = one(
        &data,
        r#"SELECT "AdditionalDetails"[1]['value'] AS v FROM "AuditLogs" WHERE "Id" = 'LA_2'"#,
    );
    assert_eq!(r["v"], "v");
    let r = one(
        &data,
        r#"SELECT "TimeGenerated", "AdditionalDetails" IS NULL AS null_details FROM "AuditLogs" WHERE "Id" = 'LA_3'"#,
    );
    assert_eq!(
        r,
        json!({"TimeGenerated": "2026-10-07T09:00:00.123456789Z", "null_details": true})
    );
    // CSV: quoted JSON cells with commas and quotes, `[UTC]` headers, the portal's US time form.
    let r = one(
        &data,
        r#"SELECT "TargetResources"[1]['displayName'] AS ap, "InitiatedBy"['app']['displayName'] AS app, "DurationMs" FROM "AuditLogs" WHERE "Id" = 'LA_4'"#,
    );
    assert_eq!(
        r,
        json!({"ap": "Contoso \"Finance\", Tools", "app": "Azure AD Identity Governance - User Management", "DurationMs": 0})
    );
    let r = one(
        &data,
        r#"SELECT "TimeGenerated", "ActivityDateTime" FROM "AuditLogs" WHERE "Id" = 'LA_5'"#,
    );
    assert_eq!(
        r,
        json!({"TimeGenerated": "2026-10-08T11:30:01.000000000Z", "ActivityDateTime": "2026-10-08T11:30:00.250000000Z"})
    );
}

#[test]
fn admin_center_csv_and_json_downloads() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let files = [
        fixture("ingest/portal_download.csv"),
        fixture("ingest/portal_download_es.csv"),
        fixture("ingest/portal_download.json"),
    ];
    let (summary, run) = ingest(&data, &files);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(counts(&summary), (4, 4, 0, 0));
    assert_eq!(summary["files"][0]["format"], "portal-csv");
    assert!(run.stderr.contains("lossy source"), "{}", run.stderr);
    assert!(
        run.stderr.contains("1 record(s) fill a capped slot"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("`Fecha (UTC)` taken as `Date (UTC)`"),
        "{}",
        run.stderr
    );

    let r = one(
        &data,
        r#"SELECT "Id", "TimeGenerated", "Result", "LoggedByService", "Identity", "InitiatedBy"['user']['ipAddress'] AS ip,
        "TargetResources"[1]['displayName'] AS ap, "TargetResources"[2]['userPrincipalName'] AS upn, "AdditionalDetails"
        FROM "AuditLogs" WHERE "CorrelationId" = 'c-p1'"#,
    );
    assert!(r["Id"].as_str().unwrap().starts_with("portal_"), "{r}");
    assert_eq!(r["TimeGenerated"], "2026-10-09T14:05:09.000000000Z");
    assert_eq!(r["Result"], "success");
    assert_eq!(r["LoggedByService"], "Entitlement Management");
    assert_eq!(r["Identity"], "Maya Lindqvist");
    assert_eq!(r["ip"], "203.0.113.24");
    assert_eq!(r["ap"], "Sales, EMEA \"Onboarding\"");
    assert_eq!(r["upn"], "maya.lindqvist@fabrikam.example");
    assert_eq!(
        r["AdditionalDetails"],
        json!([{"key": "Justification", "value": "Need access for\nQ4 planning"},
        {"key": "User-Agent", "value": "Mozilla/5.0 (Windows NT 10.0)"}])
    );
    // App actor and the workbook's modified properties; midnight in the US form.
    let r = one(
        &data,
        r#"SELECT "TimeGenerated", "Identity", "InitiatedBy"['app']['servicePrincipalId'] AS sp,
        "TargetResources"[1]['modifiedProperties'][3]['newValue'] AS role FROM "AuditLogs" WHERE "CorrelationId" = 'c-p2'"#,
    );
    assert_eq!(
        r,
        json!({"TimeGenerated": "2026-10-09T00:00:01.000000000Z", "Identity": "Azure AD Identity Governance - User Management",
        "sp": "sp-em", "role": "\"Default Access\""})
    );
    let r = one(
        &data,
        r#"SELECT "OperationName", "Identity" FROM "AuditLogs" WHERE "CorrelationId" = 'c-p3'"#,
    );
    assert_eq!(
        r,
        json!({"OperationName": "Remove access package assignment", "Identity": "Admin One"})
    );
    let r = one(
        &data,
        r#"SELECT "TargetResources"[1]['type'] AS t, "ActivityDateTime" FROM "AuditLogs" WHERE "Id" = 'Directory_pj1_LLLLL_12'"#,
    );
    assert_eq!(
        r,
        json!({"t": "AccessPackage", "ActivityDateTime": "2026-10-10T10:00:00.765432100Z"})
    );

    // No record id in the CSV: the derived one is stable, so a second download adds nothing.
    let (again, _) = ingest(&data, &files[..1]);
    assert_eq!(counts(&again), (2, 0, 2, 0));
}

#[test]
fn reingest_and_overlapping_sets_add_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let all = [fixture("ingest")];
    let (first, run) = ingest(&data, &all);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let (read, written, dups, rejected) = counts(&first);
    assert_eq!((read, rejected), (26, 0));
    assert_eq!(written + dups, 26);
    let total = one(
        &data,
        r#"SELECT count(*) AS n, count(DISTINCT "Id") AS ids FROM "AuditLogs""#,
    );
    assert_eq!(total, json!({"n": written, "ids": written}));

    let (second, run) = ingest(&data, &all);
    assert_eq!(counts(&second), (26, 0, 26, 0));
    assert!(run.stdout.contains("\"written\": 0"), "{}", run.stdout);
    // Human summary says so too.
    let r = run_ingest_plain(&data, &[fixture("ingest/graph_page.json")]);
    assert_eq!(
        r.stdout.trim(),
        "read 3, written 0, duplicates 3, rejected 0"
    );

    // An overlapping set: known records are recognised, the new one is written into an old day.
    let extra = tmp.path().join("extra.json");
    std::fs::write(&extra, r#"[{"id":"Directory_new_ZZZZZ_99","activityDateTime":"2026-10-01T12:00:00Z","activityDisplayName":"Update user"}]"#).unwrap();
    let (third, _) = ingest(&data, &[fixture("ingest/graph_records.json"), extra]);
    assert_eq!(counts(&third), (3, 1, 2, 0));
    let day = one(
        &data,
        r#"SELECT count(*) AS n, count(DISTINCT "Id") AS ids FROM "AuditLogs" WHERE "date" = '2026-10-01'"#,
    );
    assert_eq!(day["n"], day["ids"]);
    assert_eq!(
        one(&data, r#"SELECT count(*) AS n FROM "AuditLogs""#)["n"],
        json!(written + 1)
    );
}

fn run_ingest_plain(data: &std::path::Path, paths: &[std::path::PathBuf]) -> Run {
    bin()
        .arg("--data")
        .arg(data)
        .arg("ingest")
        .args(paths)
        .output()
        .unwrap()
        .into()
}

#[test]
fn bad_input_is_quarantined_with_file_line_and_reason() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let (summary, run) = ingest(&data, &[fixture("bad")]);
    assert_eq!(
        run.code, 1,
        "records were quarantined: exit 1\n{}",
        run.stderr
    );
    // corrupt.json.gz (not gzip): 1; empty.json: nothing; image.json (binary): 1; truncated.json:
    // 2 good + 1 broken; unknown_header.csv: 1; wrong_types.ndjson: 2 good + 4 bad.
    assert_eq!(counts(&summary), (12, 4, 0, 8));
    let quarantine = summary["quarantine"].as_str().unwrap();
    assert!(quarantine.contains("_quarantine"), "{quarantine}");
    let lines: Vec<Value> = std::fs::read_to_string(quarantine)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 8);
    let find = |file: &str, line: u64| {
        lines
            .iter()
            .find(|l| l["file"].as_str().unwrap().ends_with(file) && l["line"] == line)
            .unwrap_or_else(|| panic!("no {file}:{line} in {lines:?}"))
    };
    assert!(
        find("image.json", 1)["reason"]
            .as_str()
            .unwrap()
            .contains("binary content")
    );
    assert!(
        find("corrupt.json.gz", 1)["reason"]
            .as_str()
            .unwrap()
            .contains("invalid gzip header"),
        "{lines:?}"
    );
    let t = find("truncated.json", 51);
    assert!(
        t["reason"]
            .as_str()
            .unwrap()
            .contains("unexpected end of file"),
        "{t}"
    );
    assert!(
        t["raw"].as_str().unwrap().contains("PIM_4c1f9e7d_000042"),
        "the broken tail is kept: {t}"
    );
    assert_eq!(t["record"], 3);
    assert_eq!(
        find("wrong_types.ndjson", 2)["reason"],
        "`targetResources` must be an array, found a string"
    );
    assert!(
        find("wrong_types.ndjson", 3)["reason"]
            .as_str()
            .unwrap()
            .contains("unrecognised timestamp \"last tuesday\"")
    );
    assert!(
        find("wrong_types.ndjson", 4)["reason"]
            .as_str()
            .unwrap()
            .starts_with("invalid JSON")
    );
    assert_eq!(find("wrong_types.ndjson", 4)["raw"], "}{ not json at all");
    assert_eq!(
        find("wrong_types.ndjson", 5)["reason"],
        "`activityDisplayName` must be a string, found an array"
    );
    assert!(
        find("unknown_header.csv", 1)["reason"]
            .as_str()
            .unwrap()
            .contains("unrecognised CSV header")
    );
    assert!(
        run.stderr
            .contains("empty.json: not readable, 0 record(s)\n  note: empty file"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("wrong_types.ndjson: detected graph (JSON lines), 6 record(s), 4 rejected"),
        "{}",
        run.stderr
    );
    // The good records of the bad files are in.
    let ids: Vec<Value> = query(&data, r#"SELECT "Id" FROM "AuditLogs" ORDER BY "Id""#)
        .into_iter()
        .map(|r| r["Id"].clone())
        .collect();
    assert_eq!(
        ids,
        vec![
            json!("Directory_7f1c0a2e-9d2b-4f7e-8a51-0c3d5e6f7a81_ZK4QX_11843"),
            json!("Directory_ok1"),
            json!("Directory_ok2"),
            json!("SSGM_b662f17a-4e4d-4e1c-9248-cdec180024b2_MCDC4_88453290")
        ]
    );
}

#[test]
fn errors_that_stop_the_command_exit_2_and_name_the_path() {
    let tmp = tempfile::tempdir().unwrap();
    let missing = tmp.path().join("nope.json");
    let r = run(
        &tmp.path().join("data"),
        &["ingest", missing.to_str().unwrap()],
    );
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("nope.json") && r.stderr.contains("No such file"),
        "{}",
        r.stderr
    );
    // A portal CSV with a column missing cannot be mapped: the header is named.
    let bad = tmp.path().join("short.csv");
    let header: Vec<String> = (0..85).map(|i| format!("\"c{i}\"")).collect();
    std::fs::write(&bad, format!("\"Date (UTC)\",{}\n", header[1..].join(","))).unwrap();
    let r = run(
        &tmp.path().join("data"),
        &["ingest", "--format", "portal-csv", bad.to_str().unwrap()],
    );
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("short.csv:1: expected the admin center's 86 columns, found 85"),
        "{}",
        r.stderr
    );
}

#[test]
fn explicit_format_mismatch_rejects_with_reason() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let r = run(
        &data,
        &[
            "ingest",
            "--json",
            "--format",
            "diagnostic",
            fixture("ingest/graph_records.json").to_str().unwrap(),
        ],
    );
    assert_eq!(r.code, 1);
    assert_eq!(counts(&r.json()), (2, 0, 0, 2));
}

#[test]
fn concurrent_ingests_wait_for_the_lock_and_both_count() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let spawn = |f: &str| {
        bin()
            .arg("--data")
            .arg(&data)
            .args(["ingest", "--json"])
            .arg(fixture(f))
            .output()
            .unwrap()
    };
    let (a, b) = std::thread::scope(|s| {
        let a = s.spawn(|| spawn("ingest/graph_page.json"));
        let b = s.spawn(|| spawn("ingest/graph_records.json"));
        (Run::from(a.join().unwrap()), Run::from(b.join().unwrap()))
    });
    assert_eq!((a.code, b.code), (0, 0), "{}\n{}", a.stderr, b.stderr);
    let written = a.json()["written"].as_u64().unwrap() + b.json()["written"].as_u64().unwrap();
    assert_eq!(written, 4, "3 + 2 records, one shared");
    assert_eq!(
        one(&data, r#"SELECT count(*) AS n FROM "AuditLogs""#)["n"],
        4
    );
}

#[test]
fn dataset_is_readable_by_duckdb_with_hive_partitioning() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    ingest(&data, &[fixture("ingest")]);
    let script = r#"
import sys, duckdb
con = duckdb.connect()
rows = con.execute(f"""
  SELECT date::VARCHAR, count(*), count(DISTINCT Id),
         max(CASE WHEN Id = 'Directory_x1_FFFFF_6' THEN TargetResources[2].userPrincipalName END),
         max(CASE WHEN Id = 'Directory_x1_FFFFF_6' THEN epoch_ns(TimeGenerated) END)
  FROM read_parquet('{sys.argv[1]}/AuditLogs/*/*.parquet', hive_partitioning = true)
  GROUP BY ALL ORDER BY 1""").fetchall()
for r in rows: print("|".join("" if v is None else str(v) for v in r))
"#;
    let Some(stdout) = util::python_duckdb(script, &[data.as_os_str()]) else {
        return;
    };
    let ours = query(
        &data,
        r#"SELECT "date", count(*) AS n FROM "AuditLogs" GROUP BY "date" ORDER BY "date""#,
    );
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), ours.len(), "{stdout}");
    for (line, row) in lines.iter().zip(&ours) {
        let cols: Vec<&str> = line.split('|').collect();
        assert_eq!(cols[0], row["date"].as_str().unwrap());
        assert_eq!(cols[1], row["n"].to_string());
        assert_eq!(cols[1], cols[2], "no duplicate ids in day {}", cols[0]);
    }
    let x1 = lines.iter().find(|l| l.starts_with("2026-10-05")).unwrap();
    assert!(
        x1.ends_with("|lea@fabrikam.example|1791209402516809300"),
        "{x1}"
    );
}

#[test]
fn data_flag_before_or_after_the_subcommand_and_from_the_environment() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b, c) = (
        tmp.path().join("a"),
        tmp.path().join("b"),
        tmp.path().join("c"),
    );
    let page = fixture("ingest/graph_page.json");
    let r: Run = bin()
        .arg("ingest")
        .arg(&page)
        .arg("--data")
        .arg(&a)
        .output()
        .unwrap()
        .into();
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r: Run = bin()
        .arg("--data")
        .arg(&b)
        .arg("ingest")
        .arg(&page)
        .output()
        .unwrap()
        .into();
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r: Run = bin()
        .env("AUDITBOOK_DATA", &c)
        .arg("ingest")
        .arg(&page)
        .output()
        .unwrap()
        .into();
    assert_eq!(r.code, 0, "{}", r.stderr);
    for d in [&a, &b, &c] {
        assert_eq!(
            one(d, r#"SELECT count(*) AS n FROM "AuditLogs""#)["n"],
            3,
            "{}",
            d.display()
        );
    }
}

#[test]
fn tenant_flag_fills_exports_without_a_tenant_and_keeps_the_others() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let other = "99999999-8888-4777-8666-555555555555";
    let r = run(
        &data,
        &[
            "ingest",
            "--tenant",
            other,
            fixture("ingest/graph_records.json").to_str().unwrap(),
            fixture("ingest/eventhub_capture.json").to_str().unwrap(),
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = one(
        &data,
        r#"SELECT "TenantId", "AADTenantId", "ResourceId", "Resource" FROM "AuditLogs" WHERE "Id" = 'Directory_f1_CCCCC_3'"#,
    );
    assert_eq!(
        r,
        json!({"TenantId": other, "AADTenantId": other,
        "ResourceId": format!("/tenants/{other}/providers/Microsoft.aadiam"), "Resource": "Microsoft.aadiam"})
    );
    // A diagnostic record names its own tenant: the flag does not override it.
    let r = one(
        &data,
        r#"SELECT "TenantId" FROM "AuditLogs" WHERE "Id" = 'Directory_eh1_JJJJJ_10'"#,
    );
    assert_eq!(r["TenantId"], "11111111-2222-4333-8444-555555555555");
}
