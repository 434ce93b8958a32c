//! The KQL commands through the real binary: `query --kql`, `query -f x.kql`, `explain`, their
//! output shapes, warnings and errors (rendered with a caret, exit code 2).

mod util;

use std::path::PathBuf;

use serde_json::json;
use util::{ingest, repo, run};

fn dataset() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let (summary, _) = ingest(&data, &[repo("sample-data/graph")]);
    assert_eq!(summary["written"], 2500, "{summary}");
    (tmp, data)
}

#[test]
fn query_kql_prints_rows_named_as_kql_names_them() {
    let (_tmp, data) = dataset();
    let r = run(
        &data,
        &[
            "query",
            "--kql",
            "AuditLogs | where Category == 'Policy' | count",
            "--format",
            "json",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let sql = run(
        &data,
        &[
            "query",
            "--sql",
            "SELECT count(*) AS n FROM AuditLogs WHERE Category = 'Policy'",
            "--format",
            "json",
        ],
    );
    let n = sql.json()[0]["n"].as_i64().unwrap();
    assert!(n > 0);
    assert_eq!(r.json(), json!([{ "Count": n }]));

    let r = run(
        &data,
        &[
            "query",
            "--kql",
            "AuditLogs | summarize count(), dcount(Identity) by Category | where Category == 'Policy'",
            "--format",
            "json",
        ],
    );
    let row = &r.json()[0];
    assert_eq!(row["Category"], "Policy");
    assert_eq!(row["count_"], n);
    assert!(row["dcount_Identity"].as_i64().unwrap() >= 1);
    let keys: Vec<&String> = row.as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        ["Category", "count_", "dcount_Identity"],
        "column order is KQL's"
    );
}

#[test]
fn query_kql_from_a_file_and_dynamic_values_as_json() {
    let (tmp, data) = dataset();
    let file = tmp.path().join("q.kql");
    std::fs::write(
        &file,
        "print bag = parse_json('{\"a\": [1, 2]}'), arr = dynamic([\"x\", \"y\"]), s = tostring(dynamic({\"k\": 1}))\n",
    )
    .unwrap();
    let r = run(
        &data,
        &["query", "-f", file.to_str().unwrap(), "--format", "json"],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        r.json(),
        json!([{ "bag": { "a": [1, 2] }, "arr": ["x", "y"], "s": "{\"k\":1}" }])
    );
}

#[test]
fn compile_errors_point_at_the_source_with_a_caret_and_exit_2() {
    let (_tmp, data) = dataset();
    let r = run(
        &data,
        &[
            "query",
            "--kql",
            "AuditLogs\n| where Categry == 'x'\n| take 5",
        ],
    );
    assert_eq!(r.code, 2);
    assert!(r.stdout.is_empty());
    assert!(
        r.stderr
            .contains("error[KQL0201]: unknown column `Categry`"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains(" --> <query>:2:9"), "{}", r.stderr);
    assert!(
        r.stderr.contains("2 | | where Categry == 'x'"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("  |         ^^^^^^^"), "{}", r.stderr);
    assert!(
        r.stderr.contains("did you mean `Category`?"),
        "{}",
        r.stderr
    );

    // Machine-readable with --format json: on stdout, still exit code 2.
    let r = run(
        &data,
        &[
            "query",
            "--format",
            "json",
            "--kql",
            "AuditLogs | where Categry == 'x'",
        ],
    );
    assert_eq!(r.code, 2);
    let d = &r.json()["diagnostics"][0];
    assert_eq!(d["code"], "KQL0201");
    assert_eq!(d["severity"], "error");
    assert_eq!(
        (d["line"].as_u64(), d["column"].as_u64()),
        (Some(1), Some(19))
    );
    assert!(d["hints"][0].as_str().unwrap().contains("Category"));

    // Several errors at once.
    let r = run(
        &data,
        &[
            "query",
            "--kql",
            "AuditLogs | project nope, tolowr(Category)",
        ],
    );
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("KQL0201"), "{}", r.stderr);
    assert!(r.stderr.contains("KQL0203"), "{}", r.stderr);
    assert!(
        r.stderr.contains("did you mean `tolower()`?"),
        "{}",
        r.stderr
    );
}

#[test]
fn warnings_go_to_stderr_and_the_query_still_runs() {
    let (_tmp, data) = dataset();
    let r = run(
        &data,
        &[
            "query",
            "--kql",
            "AuditLogs | where isnull(InitiatedBy.app.appid) | count",
            "--format",
            "json",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.contains("warning[KQL0250]"), "{}", r.stderr);
    assert!(r.stderr.contains("did you mean `appId`?"), "{}", r.stderr);
    let all = run(
        &data,
        &["query", "--kql", "AuditLogs | count", "--format", "json"],
    );
    assert_eq!(
        r.json(),
        all.json(),
        "a missing property is null on every row"
    );
}

#[test]
fn explain_prints_the_sql_and_the_plan() {
    let (_tmp, data) = dataset();
    let r = run(
        &data,
        &[
            "explain",
            "--kql",
            "AuditLogs | where Category has 'Policy' | summarize count() by bin(TimeGenerated, 1d)",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("WITH \"_1\" AS ("), "{}", r.stdout);
    assert!(
        r.stdout.contains("kql_has(\"Category\", 'Policy')"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("AS \"count_\""), "{}", r.stdout);
    assert!(!r.stdout.contains("-- physical plan"));

    let r = run(&data, &["explain", "--plan", "--kql", "AuditLogs | take 3"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.contains("-- optimized logical plan"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("-- physical plan"), "{}", r.stdout);
    assert!(r.stdout.contains("DataSourceExec"), "{}", r.stdout);

    let r = run(
        &data,
        &[
            "explain",
            "--format",
            "json",
            "--kql",
            "AuditLogs | count | render barchart",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let j = r.json();
    assert!(j["sql"].as_str().unwrap().contains("count(1)"));
    assert_eq!(j["columns"], json!([{ "name": "Count", "type": "long" }]));
    assert_eq!(j["render"]["visualization"], "barchart");

    let r = run(
        &data,
        &[
            "explain",
            "--format",
            "json",
            "--kql",
            "AuditLogs | extend x = nope",
        ],
    );
    assert_eq!(r.code, 2);
    let d = &r.json()["diagnostics"][0];
    assert_eq!(d["code"], "KQL0201");
    assert_eq!(
        (d["line"].as_u64(), d["column"].as_u64()),
        (Some(1), Some(24))
    );
}

#[test]
fn memory_limit_spills_a_large_sort_and_keeps_every_row() {
    let (_tmp, data) = dataset();
    let q = "AuditLogs | sort by Id asc | project Id, TargetResources, AdditionalDetails";
    let free = run(&data, &["query", "--kql", q, "--format", "json"]);
    assert_eq!(free.code, 0, "{}", free.stderr);
    // A tight limit: the sort runs within it (spilling as needed), every row comes back.
    let tight = run(
        &data,
        &[
            "--memory-limit",
            "8M",
            "query",
            "--kql",
            q,
            "--format",
            "json",
        ],
    );
    assert_eq!(tight.code, 0, "{}", tight.stderr);
    let rows = |s: &str| serde_json::from_str::<Vec<serde_json::Value>>(s).unwrap();
    assert_eq!(rows(&tight.stdout).len(), 2500);
    assert_eq!(rows(&tight.stdout), rows(&free.stdout));

    let bad = run(&data, &["--memory-limit", "12X", "query", "--kql", q]);
    assert_eq!(bad.code, 2);
    assert!(
        bad.stderr.contains("unknown unit (use K, M, G or T)"),
        "{}",
        bad.stderr
    );
}

#[test]
fn explain_shows_partition_pruning_and_narrowed_columns() {
    let (_tmp, data) = dataset();
    let q = "AuditLogs | where TimeGenerated > datetime(2026-10-20) | mv-expand TargetResources \
             | where TargetResources.id == 'x' | project Id";
    let r = run(&data, &["explain", "--kql", q]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.contains("\"date\" >= '2026-10-19'"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .contains("kql_list_has(\"TargetResources\", 'id', 'x')"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .contains("-- reads only AuditLogs.TargetResources: List(Struct(\"id\": Utf8))"),
        "{}",
        r.stdout
    );
    let a = run(&data, &["explain", "--analyze", "--kql", q]);
    assert_eq!(a.code, 0, "{}", a.stderr);
    assert!(a.stdout.contains("output_rows="), "{}", a.stdout);
}
