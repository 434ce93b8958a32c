//! Workbooks through the real binary: `run`, `params`, `check`, `convert`, `explain` on
//! Microsoft's two entitlement workbooks (Azure JSON fixtures with the same parameters and
//! queries, `tests/workbooks/ms-*.workbook`), the built-ins, and small fixtures for errors,
//! injection, row limits, groups and visibility. Result rows are compared with hand-written
//! DuckDB SQL over the same Parquet files (skipped when DuckDB is missing, outside CI only).
//!
//! Every run fixes `now()` at 2026-11-01T00:00:00Z, as `tests/kql_workbooks.rs` does.

mod util;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use serde_json::{Value, json};
use util::Run;

const NOW: &str = "2026-11-01T00:00:00Z";
/// An access package with entitlement management activity in the sample data.
const PACKAGE: &str = "3b95e5d5-5390-4d44-a911-8d41cb3629f8";
const IDENTITY_GOVERNANCE: &str = "Azure AD Identity Governance - User Management";
/// The `Activities` choices of the app role assignments workbook.
const ACTIVITIES: [&str; 9] = [
    "Add app role assignment grant to user",
    "Add app role assignment to group",
    "Add app role assignment to service principal",
    "Add a deletion-marked app role assignment grant to user as part of link removal",
    "Add a deletion-marked app role assignment grant to group as part of link removal",
    "Add a deletion-marked app role assignment grant to service principal as part of link removal",
    "Remove app role assignment from user",
    "Remove app role assignment from group",
    "Remove app role assignment from service principal",
];
const ACCESS_COLUMNS: [&str; 6] = [
    "Time",
    "AccessPackageId",
    "OperationName",
    "InitiatedById",
    "InitiatedByUPN",
    "InitiatedByDisplayName",
];
const ROLE_COLUMNS: [&str; 9] = [
    "DateTime",
    "ActivityDisplayName",
    "ByUPN",
    "ByServicePrincipal",
    "ByApp",
    "App",
    "AppRoleName",
    "Subject",
    "SubjectId",
];

/// The sample data ingested once for the whole test binary (5000 AuditLogs events). The
/// directory lives under Cargo's per-target temp dir; left-overs of earlier runs are removed.
fn data() -> &'static Path {
    static DATA: OnceLock<PathBuf> = OnceLock::new();
    DATA.get_or_init(|| {
        let dir = util::kept_temp_dir("workbooks-data-");
        let (summary, _) = util::ingest(&dir, &[util::repo("sample-data")]);
        assert_eq!(summary["written"], 5000, "{summary}");
        dir
    })
}

/// A fixture of `tests/workbooks/`.
fn wb(name: &str) -> String {
    util::repo("tests/workbooks")
        .join(name)
        .display()
        .to_string()
}

/// `auditbook --data DATA ARGS...`.
fn ab(args: &[&str]) -> Run {
    util::run(data(), args)
}

/// A run that must succeed (exit 0) with `--format json`: its document.
fn run_json(args: &[&str]) -> Value {
    let r = ab(args);
    assert_eq!(
        r.code, 0,
        "{args:?}\nstdout:\n{}\nstderr:\n{}",
        r.stdout, r.stderr
    );
    r.json()
}

/// Runs each of `sqls` in DuckDB over the dataset (`logs` is the AuditLogs view), all in one
/// Python process: per query, its rows, each cell a string (timestamps at microseconds, UTC) or
/// null. `None` when DuckDB is not installed (allowed only outside CI).
fn duckdb(sqls: &[&str]) -> Option<Vec<Vec<Vec<Value>>>> {
    let script = r#"
import sys, json, duckdb
con = duckdb.connect()
con.execute("SET TimeZone = 'UTC'")
con.execute("CREATE VIEW logs AS SELECT * FROM read_parquet('" + sys.argv[1].replace("'", "''") + "/AuditLogs/*/*.parquet', hive_partitioning = true)")
def cell(v):
    if v is None:
        return None
    if hasattr(v, 'strftime'):
        return v.strftime('%Y-%m-%dT%H:%M:%S.%f')
    return str(v)
print(json.dumps([[[cell(v) for v in r] for r in con.execute(q).fetchall()] for q in json.loads(sys.argv[2])]))
"#;
    let queries = serde_json::to_string(sqls).unwrap();
    let out = util::python_duckdb(
        script,
        &[data().as_os_str(), std::ffi::OsStr::new(&queries)],
    )?;
    let v: Vec<Vec<Vec<Value>>> = serde_json::from_str(&out).unwrap();
    Some(v)
}

/// A result cell as text for comparison with DuckDB: null and "" alike (KQL strings have no
/// null), numbers as written, auditbook's nanosecond timestamps cut to microseconds.
fn cell(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => {
            let b = s.as_bytes();
            let timestamp =
                s.len() == 30 && b[4] == b'-' && b[10] == b'T' && b[19] == b'.' && s.ends_with('Z');
            if timestamp {
                s[..26].to_string()
            } else {
                s.clone()
            }
        }
        Value::Number(n) => n.to_string(),
        other => other.to_string(),
    }
}

/// A step's rows over `columns` as sorted tuples (a multiset).
fn step_rows(step: &Value, columns: &[&str]) -> Vec<Vec<String>> {
    let mut rows: Vec<Vec<String>> = step["rows"]
        .as_array()
        .unwrap_or_else(|| panic!("no rows in {step}"))
        .iter()
        .map(|r| {
            columns
                .iter()
                .map(|c| {
                    let v = r
                        .get(*c)
                        .unwrap_or_else(|| panic!("row has no column {c}: {r}"));
                    cell(v)
                })
                .collect()
        })
        .collect();
    rows.sort();
    rows
}

/// DuckDB rows as sorted tuples, cells as [`cell`] makes them.
fn db_rows(rows: &[Vec<Value>]) -> Vec<Vec<String>> {
    let mut rows: Vec<Vec<String>> = rows.iter().map(|r| r.iter().map(cell).collect()).collect();
    rows.sort();
    rows
}

/// The top-level shape of `run --format json`, and each table step's.
fn assert_run_contract(doc: &Value) {
    assert!(doc["workbook"].is_string(), "{doc}");
    assert!(doc["parameters"].is_object(), "{doc}");
    assert!(doc["time"].is_null() || doc["time"].is_object(), "{doc}");
    for step in doc["steps"].as_array().expect("steps") {
        assert!(step["name"].is_string(), "{step}");
        assert!(
            step["title"].is_null() || step["title"].is_string(),
            "{step}"
        );
        assert!(step["truncated"].is_boolean(), "{step}");
        let columns: Vec<&str> = step["columns"]
            .as_array()
            .expect("columns")
            .iter()
            .map(|c| {
                assert!(c["type"].is_string(), "{c}");
                c["name"].as_str().expect("column name")
            })
            .collect();
        for row in step["rows"].as_array().expect("rows") {
            let keys: Vec<&str> = row
                .as_object()
                .expect("a row is an object")
                .keys()
                .map(String::as_str)
                .collect();
            assert_eq!(keys, columns, "row keys are the columns, in order");
        }
    }
}

/// Values of one column, in row order.
fn column<'a>(step: &'a Value, name: &str) -> Vec<&'a Value> {
    step["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| &r[name])
        .collect()
}

fn step_names(doc: &Value) -> Vec<&str> {
    doc["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect()
}

/// Independent SQL for the access package activity query: events after `cutoff`.
fn access_sql(cutoff: &str) -> String {
    format!(
        "SELECT TimeGenerated, t.id, OperationName, InitiatedBy.user.id,
                InitiatedBy.user.userPrincipalName, Identity
         FROM (SELECT *, unnest(TargetResources) AS t FROM logs
               WHERE TimeGenerated > TIMESTAMPTZ '{cutoff}' AND Category = 'EntitlementManagement'
                 AND Result = 'success')
         WHERE t.type = 'AccessPackage' AND t.id = '{PACKAGE}'"
    )
}

/// Independent SQL for the app role assignments query over `[start, end]`.
///
/// The workbook's `(InitiatedBy.app.displayName != "<excluded>" or InitiatedBy.app.appid != "")`
/// filters nothing here: the records' property is `appId`; KQL property names are
/// case-sensitive, so `appid` is null, and in KQL `null != ""` is true (null compared with a
/// non-null value: `==` false, `!=` true). The test checks the schema has no `appid`.
fn role_sql(start: &str, end: &str, activities: &[&str], app: &str) -> String {
    let list: Vec<String> = activities.iter().map(|a| format!("'{a}'")).collect();
    format!(
        "WITH x AS (
           SELECT ActivityDateTime, ActivityDisplayName, InitiatedBy, unnest(TargetResources) AS t
           FROM logs
           WHERE TimeGenerated >= TIMESTAMPTZ '{start}' AND TimeGenerated <= TIMESTAMPTZ '{end}'
             AND Category IN ('UserManagement', 'GroupManagement', 'ApplicationManagement')
             AND Result = 'success' AND ActivityDisplayName IN ({}))
         SELECT x.ActivityDateTime, x.ActivityDisplayName, x.InitiatedBy.user.userPrincipalName,
                x.InitiatedBy.app.servicePrincipalName, x.InitiatedBy.app.displayName,
                x.t.displayName, trim(coalesce(a.m.newValue, ''), '\"'),
                trim(coalesce(u.m.newValue, ''), '\"'), trim(coalesce(o.m.newValue, ''), '\"')
         FROM x
           CROSS JOIN LATERAL (SELECT unnest(x.t.modifiedProperties) AS m) a
           CROSS JOIN LATERAL (SELECT unnest(x.t.modifiedProperties) AS m) u
           CROSS JOIN LATERAL (SELECT unnest(x.t.modifiedProperties) AS m) o
         WHERE x.t.displayName = '{app}'
           AND a.m.displayName = 'AppRole.DisplayName'
           AND u.m.displayName IN ('User.UPN', 'Group.DisplayName')
           AND o.m.displayName IN ('User.ObjectID', 'Group.ObjectID')",
        list.join(", ")
    )
}

/// Timestamps (`…Z`, nanoseconds) are non-increasing.
fn assert_descending(values: &[&Value], what: &str) {
    let times: Vec<&str> = values.iter().map(|v| v.as_str().unwrap()).collect();
    for w in times.windows(2) {
        assert!(
            w[0] >= w[1],
            "{what}: not in descending order: {} < {}",
            w[0],
            w[1]
        );
    }
}

#[test]
fn access_package_activity_matches_duckdb() {
    let fixture = wb("ms-access-package-activity.workbook");
    let args = |since: &'static str, workbook: &str| -> Vec<String> {
        [
            "run",
            workbook,
            "--param",
            &format!("AccessPackageId={PACKAGE}"),
            "--param",
            &format!("Since={since}"),
            "--now",
            NOW,
            "--format",
            "json",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    };
    let run = |a: Vec<String>| run_json(&a.iter().map(String::as_str).collect::<Vec<_>>());

    let doc = run(args("30d", &fixture));
    assert_run_contract(&doc);
    assert_eq!(
        doc["workbook"],
        "Entitlement Management Access Package Activity"
    );
    assert_eq!(
        doc["parameters"],
        json!({"Since": "30d", "AccessPackageId": PACKAGE})
    );
    // `ago()` in the query; no time-range parameter, no --time: no range applied.
    assert_eq!(doc["time"], Value::Null);
    assert_eq!(step_names(&doc), ["query - 1"]);
    let step = &doc["steps"][0];
    assert_eq!(step["truncated"], false);
    let names: Vec<&str> = step["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [&ACCESS_COLUMNS[..], &["AdditionalDetails"]].concat(),
        "the query's final project"
    );
    assert_eq!(step["columns"][0]["type"], "datetime");
    assert_eq!(step["columns"][2]["type"], "string");
    let ours = step_rows(step, &ACCESS_COLUMNS);
    assert!(ours.len() > 10, "{} rows", ours.len());
    assert!(ours.iter().all(|r| r[1] == PACKAGE));
    assert!(
        ours.iter().all(|r| r[0].as_str() > "2026-10-02T00:00:00"),
        "only the last 30 days"
    );
    assert_descending(&column(step, "Time"), "order by Time desc");

    let all = run(args("3653d", &fixture));
    let all_rows = step_rows(&all["steps"][0], &ACCESS_COLUMNS);
    assert_descending(&column(&all["steps"][0], "Time"), "order by Time desc");
    assert!(
        all_rows.len() > ours.len(),
        "the data goes back to September: {} vs {}",
        all_rows.len(),
        ours.len()
    );

    // The built-in, by name: the same rows as Microsoft's workbook.
    let builtin = run(args("30d", "access-package-activity"));
    assert_eq!(builtin["parameters"], doc["parameters"]);
    assert_eq!(builtin["steps"][0]["columns"], step["columns"]);
    assert_eq!(builtin["steps"][0]["rows"], step["rows"]);

    // 30 days before now: 2026-10-02; 3653 days: 2016-10-31.
    let Some(db) = duckdb(&[
        &access_sql("2026-10-02 00:00:00+00"),
        &access_sql("2016-10-31 00:00:00+00"),
    ]) else {
        return;
    };
    assert_eq!(
        ours,
        db_rows(&db[0]),
        "Since=30d: rows differ from DuckDB's"
    );
    assert_eq!(
        all_rows.len(),
        db[1].len(),
        "Since=3653d: row counts differ"
    );
    assert_eq!(
        all_rows,
        db_rows(&db[1]),
        "Since=3653d: rows differ from DuckDB's"
    );
}

#[test]
fn app_role_assignments_match_duckdb() {
    let fixture = wb("ms-app-role-assignments.workbook");
    let base = [
        "run",
        fixture.as_str(),
        "--param",
        "Appname=Slack",
        "--now",
        NOW,
    ];
    let with = |extra: &[&str]| -> Value {
        let mut a: Vec<&str> = base.to_vec();
        a.extend_from_slice(extra);
        a.extend_from_slice(&["--format", "json"]);
        run_json(&a)
    };

    // Defaults: Time = last 30 days (the step's timeContextFromParameter), Activities = All.
    let doc = with(&[]);
    assert_run_contract(&doc);
    assert_eq!(doc["workbook"], "Application role assignment activity");
    let window = json!({
        "start": "2026-10-02T00:00:00.000000000Z",
        "end": "2026-11-01T00:00:00.000000000Z",
    });
    assert_eq!(doc["time"], window);
    let p = &doc["parameters"];
    assert_eq!(p["Time"]["label"], "Last 30 days");
    assert_eq!(p["Time"]["start"], window["start"]);
    assert_eq!(p["Activities"], json!(ACTIVITIES), "All: every choice");
    assert_eq!(p["Appname"], "Slack");
    assert_eq!(p["ExcludedInitiatorAppName"], IDENTITY_GOVERNANCE);
    let step = &doc["steps"][0];
    assert_eq!(step["name"], "query - 0");
    assert_eq!(
        step["title"],
        "Recent app role assignments to users and groups"
    );
    assert_eq!(step["truncated"], false);
    let names: Vec<&str> = step["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ROLE_COLUMNS);
    let ours = step_rows(step, &ROLE_COLUMNS);
    assert!(ours.len() > 10, "{} rows", ours.len());
    assert!(ours.iter().all(|r| r[5] == "Slack"));
    assert!(
        ours.iter().any(|r| r[4] == IDENTITY_GOVERNANCE),
        "`appid` is null, so `appid != \"\"` keeps Identity Governance's changes"
    );
    assert_descending(&column(step, "DateTime"), "order by DateTime desc");

    let ninety = with(&["--time", "90d"]);
    assert_eq!(ninety["time"]["start"], "2026-08-03T00:00:00.000000000Z");
    assert_eq!(ninety["parameters"]["Time"]["label"], "Last 90 days");
    let ninety_rows = step_rows(&ninety["steps"][0], &ROLE_COLUMNS);
    assert!(ninety_rows.len() > ours.len(), "data from September too");

    let one = with(&[
        "--param",
        "Activities=Add app role assignment grant to user",
    ]);
    assert_eq!(
        one["parameters"]["Activities"],
        json!(["Add app role assignment grant to user"])
    );
    let one_rows = step_rows(&one["steps"][0], &ROLE_COLUMNS);
    assert!(!one_rows.is_empty() && one_rows.len() < ours.len());
    assert!(
        one_rows
            .iter()
            .all(|r| r[1] == "Add app role assignment grant to user")
    );

    // The table shows the grid's column labels.
    let table = ab(&[&base[..], &["--format", "table"]].concat());
    assert_eq!(table.code, 0, "{}", table.stderr);
    for label in [
        "Date and Time",
        "Activity",
        "Service Principal",
        "Subject Name",
        "Subject ID",
    ] {
        assert!(
            table.stdout.contains(label),
            "no `{label}` in:\n{}",
            table.stdout
        );
    }
    assert!(
        table
            .stdout
            .contains("Recent app role assignments to users and groups")
    );

    let Some(db) = duckdb(&[
        "SELECT column_type FROM (DESCRIBE logs) WHERE column_name = 'InitiatedBy'",
        &role_sql(
            "2026-10-02 00:00:00+00",
            "2026-11-01 00:00:00+00",
            &ACTIVITIES,
            "Slack",
        ),
        &role_sql(
            "2026-08-03 00:00:00+00",
            "2026-11-01 00:00:00+00",
            &ACTIVITIES,
            "Slack",
        ),
        &role_sql(
            "2026-10-02 00:00:00+00",
            "2026-11-01 00:00:00+00",
            &["Add app role assignment grant to user"],
            "Slack",
        ),
    ]) else {
        return;
    };
    let initiated_by = db[0][0][0].as_str().unwrap();
    assert!(
        initiated_by.contains("appId VARCHAR") && !initiated_by.contains("appid VARCHAR"),
        "the expectation assumes no lowercase `appid`: {initiated_by}"
    );
    assert_eq!(ours, db_rows(&db[1]), "Time=30d: rows differ from DuckDB's");
    assert_eq!(ninety_rows, db_rows(&db[2]), "--time 90d: rows differ");
    assert_eq!(one_rows, db_rows(&db[3]), "one activity: rows differ");
}

#[test]
fn params_list_types_flags_and_allowed_values() {
    let access = run_json(&[
        "params",
        &wb("ms-access-package-activity.workbook"),
        "--now",
        NOW,
        "--format",
        "json",
    ]);
    let ps = access["parameters"].as_array().unwrap();
    assert_eq!(ps.len(), 2);
    let since = &ps[0];
    assert_eq!(since["name"], "Since");
    assert_eq!(since["label"], "Activity since last");
    assert_eq!(since["type"], "dropdown");
    assert_eq!(since["required"], true);
    assert_eq!(since["multi"], false);
    assert_eq!(since["value"], "3653d");
    assert_eq!(
        since["values"],
        json!([
            {"value": "1d", "label": "24 hours"},
            {"value": "7d", "label": "7 days"},
            {"value": "30d", "label": "30 days"},
            {"value": "90d", "label": "90 days"},
            {"value": "3653d", "label": "all"},
        ])
    );
    let package = &ps[1];
    assert_eq!(package["name"], "AccessPackageId");
    assert_eq!(package["label"], "Access package");
    assert_eq!(package["type"], "dropdown");
    assert_eq!(package["required"], true);
    assert_eq!(package["value"], Value::Null, "required, no saved value");
    let packages: Vec<(String, String)> = package["values"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            (
                v["value"].as_str().unwrap().to_string(),
                v["label"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert!(packages.iter().any(|(v, _)| v == PACKAGE));
    assert!(
        packages.iter().all(|(v, l)| l.ends_with(&format!(" {v}"))),
        "\"name id\" labels"
    );
    let labels: Vec<&String> = packages.iter().map(|(_, l)| l).collect();
    assert!(labels.is_sorted(), "sort by TD asc: {labels:?}");

    let role = run_json(&[
        "params",
        &wb("ms-app-role-assignments.workbook"),
        "--now",
        NOW,
        "--format",
        "json",
    ]);
    let ps = role["parameters"].as_array().unwrap();
    let names: Vec<&str> = ps.iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        ["Time", "Activities", "Appname", "ExcludedInitiatorAppName"]
    );
    let time = &ps[0];
    assert_eq!(time["type"], "time");
    assert_eq!(time["label"], "Time Range");
    assert_eq!(time["required"], true);
    assert_eq!(
        time["value"],
        json!({
            "start": "2026-10-02T00:00:00.000000000Z",
            "end": "2026-11-01T00:00:00.000000000Z",
            "label": "Last 30 days",
        })
    );
    let durations: Vec<(&str, &str)> = time["values"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| (v["value"].as_str().unwrap(), v["label"].as_str().unwrap()))
        .collect();
    assert_eq!(
        durations,
        [
            ("1d", "Last 24 hours"),
            ("7d", "Last 7 days"),
            ("30d", "Last 30 days"),
            ("60d", "Last 60 days"),
            ("90d", "Last 90 days"),
        ]
    );
    let activities = &ps[1];
    assert_eq!(activities["type"], "dropdown");
    assert_eq!(activities["multi"], true);
    assert_eq!(activities["required"], false);
    assert_eq!(activities["value"], json!(ACTIVITIES));
    let offered: Vec<&str> = activities["values"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["value"].as_str().unwrap())
        .collect();
    assert_eq!(offered, ACTIVITIES);
    let appname = &ps[2];
    assert_eq!(appname["required"], true);
    assert_eq!(appname["multi"], false);
    assert_eq!(appname["value"], "AWS Gateway API");
    let apps: Vec<&str> = appname["values"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["value"].as_str().unwrap())
        .collect();
    assert!(apps.contains(&"Slack") && apps.is_sorted(), "{apps:?}");
    assert_eq!(
        ps[3]["values"],
        json!([
            {"value": IDENTITY_GOVERNANCE, "label": "Omit"},
            {"value": format!("{IDENTITY_GOVERNANCE} - Not Excluded"), "label": "Include"},
        ])
    );
    assert_eq!(ps[3]["value"], IDENTITY_GOVERNANCE);

    let list: Vec<String> = ACTIVITIES.iter().map(|a| format!("'{a}'")).collect();
    let Some(db) = duckdb(&[
        // Since's saved value, 3653d: after 2016-10-31.
        "SELECT DISTINCT t.id, coalesce(t.displayName, '') || ' ' || coalesce(t.id, '') AS td
         FROM (SELECT unnest(TargetResources) AS t FROM logs
               WHERE TimeGenerated > TIMESTAMPTZ '2016-10-31 00:00:00+00'
                 AND Category = 'EntitlementManagement' AND Result = 'success')
         WHERE t.type = 'AccessPackage' ORDER BY td",
        // `TimeGenerated {Time:value}` with the last 30 days: `> ago(30d)`.
        &format!(
            "SELECT DISTINCT t.displayName AS n
             FROM (SELECT unnest(TargetResources) AS t FROM logs
                   WHERE TimeGenerated > TIMESTAMPTZ '2026-10-02 00:00:00+00'
                     AND Category IN ('UserManagement', 'GroupManagement', 'ApplicationManagement')
                     AND Result = 'success' AND ActivityDisplayName IN ({}))
             WHERE coalesce(t.displayName, '') <> '' ORDER BY n",
            list.join(", ")
        ),
    ]) else {
        return;
    };
    let expected: Vec<(String, String)> =
        db[0].iter().map(|r| (cell(&r[0]), cell(&r[1]))).collect();
    assert_eq!(packages, expected, "access packages differ from DuckDB's");
    let expected: Vec<String> = db[1].iter().map(|r| cell(&r[0])).collect();
    assert_eq!(apps, expected, "application names differ from DuckDB's");
}

#[test]
fn parameter_errors_exit_2_and_name_the_allowed_values() {
    let fixture = wb("ms-access-package-activity.workbook");
    let package = format!("AccessPackageId={PACKAGE}");
    let fails = |args: &[&str]| -> String {
        let r = ab(args);
        assert_eq!(r.code, 2, "{args:?}\n{}\n{}", r.stdout, r.stderr);
        assert!(r.stdout.is_empty(), "nothing is written: {}", r.stdout);
        r.stderr
    };

    let e = fails(&["run", &fixture, "--now", NOW, "--format", "json"]);
    assert!(
        e.contains("`AccessPackageId`") && e.contains("required"),
        "{e}"
    );
    assert!(e.contains("--param AccessPackageId=VALUE"), "{e}");
    assert!(
        e.contains(&format!(
            "{PACKAGE} (External Partner Collaboration {PACKAGE})"
        )),
        "{e}"
    );
    assert!(e.contains("(AWS Read Only "), "{e}");

    let e = fails(&[
        "run", &fixture, "--now", NOW, "-p", &package, "-p", "Since=5d",
    ]);
    assert!(e.contains("`Since`") && e.contains("\"5d\""), "{e}");
    for allowed in [
        "1d (24 hours)",
        "7d (7 days)",
        "30d (30 days)",
        "90d (90 days)",
        "3653d (all)",
    ] {
        assert!(e.contains(allowed), "{allowed} not in {e}");
    }

    let e = fails(&[
        "run",
        &fixture,
        "--now",
        NOW,
        "-p",
        "AccessPackageId=not-a-package",
    ]);
    assert!(
        e.contains("\"not-a-package\" is not one of the allowed values"),
        "{e}"
    );
    assert!(e.contains(PACKAGE), "{e}");

    let e = fails(&[
        "run", &fixture, "--now", NOW, "-p", &package, "-p", "Sinc=30d",
    ]);
    assert!(e.contains("no parameter named `Sinc`"), "{e}");
    assert!(e.contains("did you mean `Since`?"), "{e}");

    // A time-range parameter offering 1d, 7d, 30d and no custom range.
    let fixed = wb("time-fixed.workbook");
    let e = fails(&["run", &fixed, "--now", NOW, "--time", "45d"]);
    assert!(e.contains("`Window`") && e.contains("1d, 7d, 30d"), "{e}");
    let e = fails(&["run", &fixed, "--now", NOW, "--param", "Window=45d"]);
    assert!(e.contains("`Window`"), "{e}");
    fails(&[
        "run",
        &fixed,
        "--now",
        NOW,
        "--from",
        "2026-10-01",
        "--to",
        "2026-10-10",
    ]);
    let doc = run_json(&[
        "run", &fixed, "--now", NOW, "--time", "7d", "--format", "json",
    ]);
    assert_eq!(
        doc["time"],
        json!({"start": "2026-10-25T00:00:00.000000000Z", "end": "2026-11-01T00:00:00.000000000Z"})
    );
    let events = doc["steps"][0]["rows"][0]["Events"].as_i64().unwrap();
    let Some(db) = duckdb(&[
        "SELECT count(*) FROM logs WHERE TimeGenerated >= TIMESTAMPTZ '2026-10-25 00:00:00+00'
         AND TimeGenerated <= TIMESTAMPTZ '2026-11-01 00:00:00+00'",
    ]) else {
        return;
    };
    assert_eq!(events.to_string(), cell(&db[0][0][0]));
}

#[test]
fn check_passes_valid_workbooks_and_locates_errors_in_the_file() {
    let r = ab(&[
        "check",
        "access-package-activity",
        "app-role-assignment-activity",
        "--format",
        "json",
    ]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let files = r.json()["files"].as_array().unwrap().clone();
    assert_eq!(files.len(), 2);
    for f in &files {
        let items = f["items"].as_array().unwrap();
        // One query-backed parameter and one query step each.
        let kinds: BTreeSet<&str> = items.iter().map(|i| i["kind"].as_str().unwrap()).collect();
        assert_eq!(kinds, BTreeSet::from(["parameter", "query"]), "{f}");
        assert_eq!(items.len(), 2, "{f}");
        assert!(items.iter().all(|i| i["status"] == "ok"), "{f}");
    }

    let r = ab(&["check", &util::repo("workbooks").display().to_string()]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);

    // The fixtures meant to be valid (`broken/` holds the invalid ones).
    let valid = [
        "access-basic.workbook",
        "arm-template.json",
        "role-time.workbook",
        "structure.workbook",
        "ms-access-package-activity.workbook",
        "ms-app-role-assignments.workbook",
        "time-fixed.workbook",
        "row-limit.workbook",
        "groups.workbook",
        "injection.yaml",
    ];
    let mut args = vec!["check".to_string()];
    args.extend(valid.iter().map(|f| wb(f)));
    args.extend(["--format".into(), "json".into()]);
    let r = ab(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let doc = r.json();
    assert_eq!(doc["files"].as_array().unwrap().len(), valid.len());
    for f in doc["files"].as_array().unwrap() {
        for i in f["items"].as_array().unwrap() {
            assert_ne!(i["status"], "error", "{}: {i}", f["path"]);
        }
    }
    let structure = &doc["files"][3];
    let unsupported = structure["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["status"] == "unsupported")
        .count();
    assert_eq!(
        unsupported, 3,
        "resource picker, metrics, Resource Graph: {structure}"
    );

    // A typo'd column and an unknown table: exit 1, positions in the workbook file.
    let broken = util::repo("tests/workbooks/broken/unknown-column.workbook");
    let text = std::fs::read_to_string(&broken).unwrap();
    let position = |needle: &str| -> (u64, u64) {
        let at = text.find(needle).unwrap();
        let line = text[..at].matches('\n').count() + 1;
        let column = at - text[..at].rfind('\n').map_or(0, |n| n + 1) + 1;
        (line as u64, column as u64)
    };
    let r = ab(&["check", &broken.display().to_string(), "--format", "json"]);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    let doc = r.json();
    let items = doc["files"][0]["items"].as_array().unwrap();
    let names: Vec<&str> = items.iter().map(|i| i["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["typo", "signins", "fine"]);
    let statuses: Vec<&str> = items
        .iter()
        .map(|i| i["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["error", "error", "ok"]);
    let d = &items[0]["diagnostics"][0];
    assert_eq!(d["code"], "KQL0201");
    assert!(
        d["message"].as_str().unwrap().contains("OperatonName"),
        "{d}"
    );
    assert_eq!(
        (d["line"].as_u64().unwrap(), d["column"].as_u64().unwrap()),
        position("OperatonName"),
        "{d}"
    );
    let d = &items[1]["diagnostics"][0];
    assert!(d["message"].as_str().unwrap().contains("SigninLogs"), "{d}");
    assert_eq!(
        (d["line"].as_u64().unwrap(), d["column"].as_u64().unwrap()),
        position("SigninLogs"),
        "{d}"
    );
    // The text report too, and a directory holding the broken file fails.
    let r = ab(&[
        "check",
        &util::repo("tests/workbooks/broken").display().to_string(),
    ]);
    assert_eq!(r.code, 1);
    let (line, col) = position("OperatonName");
    assert!(
        r.stdout
            .contains(&format!("unknown-column.workbook:{line}:{col}")),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("did you mean `OperationName`?"),
        "{}",
        r.stdout
    );
}

/// `print a = "{P}", b = '{P}', c = @"{P}", d = {P}`: one row; a, b, c (and d when the value is
/// not a number) are the value itself.
fn probe(value: &str) -> Value {
    let arg = format!("P={value}");
    let doc = run_json(&[
        "run",
        &wb("injection.yaml"),
        "--param",
        &arg,
        "--format",
        "json",
    ]);
    assert_eq!(step_names(&doc), ["probe", "package"], "{value:?}");
    let probe = &doc["steps"][0];
    let columns: Vec<&str> = probe["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(columns, ["a", "b", "c", "d"], "{value:?}");
    let rows = probe["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 1, "{value:?}: {rows:?}");
    for c in ["a", "b", "c"] {
        assert_eq!(rows[0][c], value, "{value:?} in {c}");
    }
    assert_eq!(doc["steps"][1]["rows"].as_array().unwrap().len(), 1);
    rows[0].clone()
}

#[test]
fn hostile_parameter_values_stay_literals() {
    let hostile = [
        "x\"; | union AuditLogs",
        "it's",
        "'; print e = 1 //",
        "a\\b\\\\c\\\"",
        "line1\nline2\r\n| take 1000",
        "1 | take 0",
        "\"\"\" ``` @\" @'",
        "héllo ✓ 日本 🎉 \u{202e}",
        "a\", e = \"b",
        ") | project x = (1",
        "// not a comment",
        "{",
    ];
    for v in hostile {
        let row = probe(v);
        assert_eq!(row["d"], v, "d for {v:?}");
    }
    // Outside a string literal a number stays a number.
    let row = probe("42");
    assert_eq!(row["d"], 42);

    // A query-backed drop-down accepts only the values its query returns.
    let r = ab(&[
        "run",
        &wb("injection.yaml"),
        "--param",
        "Pkg=x\" or 1 == 1 or \"",
        "--format",
        "json",
    ]);
    assert_eq!(r.code, 2, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stdout.is_empty());
    assert!(
        r.stderr.contains("is not one of the allowed values"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains(PACKAGE), "{}", r.stderr);
    let doc = run_json(&[
        "run",
        &wb("injection.yaml"),
        "--param",
        &format!("Pkg={PACKAGE}"),
        "--format",
        "json",
    ]);
    assert!(doc["steps"][1]["rows"][0]["Events"].as_i64().unwrap() > 0);
}

#[test]
fn values_that_look_like_placeholders_stay_literals() {
    for v in ["{Other}", "{P}", "a{b}c", "{Pkg:value}"] {
        let row = probe(v);
        assert_eq!(row["d"], v, "d for {v:?}");
    }
}

#[test]
fn batch_output_files_per_step() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let dir = format!("{}/", out.display());
    let base = [
        "run",
        "app-role-assignment-activity",
        "--param",
        "Appname=Slack",
        "--now",
        NOW,
    ];
    let listing = || -> BTreeSet<String> {
        std::fs::read_dir(&out)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect()
    };

    let doc = run_json(&[&base[..], &["--format", "json"]].concat());
    let step = &doc["steps"][0];
    assert_eq!(step["name"], "assignments");
    let names: Vec<&str> = step["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    let rows = step["rows"].as_array().unwrap();
    assert!(!rows.is_empty());

    let r = ab(&[&base[..], &["--format", "csv", "--output", &dir]].concat());
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.is_empty(), "{}", r.stdout);
    assert_eq!(listing(), BTreeSet::from(["assignments.csv".to_string()]));
    let mut csv = csv::Reader::from_path(out.join("assignments.csv")).unwrap();
    let header: Vec<String> = csv.headers().unwrap().iter().map(str::to_string).collect();
    assert_eq!(header, names);
    let records: Vec<csv::StringRecord> = csv.records().map(Result::unwrap).collect();
    assert_eq!(records.len(), rows.len());
    for (rec, row) in records.iter().zip(rows) {
        assert_eq!(rec.get(0), row["DateTime"].as_str(), "same order as JSON");
        assert_eq!(rec.get(7).unwrap(), cell(&row["Subject"]));
    }

    let r = ab(&[&base[..], &["--format", "parquet", "--output", &dir]].concat());
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        listing(),
        BTreeSet::from([
            "assignments.csv".to_string(),
            "assignments.parquet".to_string()
        ]),
        "one file per step, no temp files left"
    );
    let file = std::fs::File::open(out.join("assignments.parquet")).unwrap();
    let builder =
        parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file).unwrap();
    let fields: Vec<String> = builder
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    assert_eq!(fields, names);
    let n: usize = builder
        .build()
        .unwrap()
        .map(|b| b.unwrap().num_rows())
        .sum();
    assert_eq!(n, rows.len());

    // A failed run writes nothing.
    let failed = tmp.path().join("failed");
    let r = ab(&[
        "run",
        "app-role-assignment-activity",
        "--param",
        "Appname=No Such App",
        "--now",
        NOW,
        "--format",
        "csv",
        "--output",
        &format!("{}/", failed.display()),
    ]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    let left = std::fs::read_dir(&failed).map(|d| d.count()).unwrap_or(0);
    assert_eq!(left, 0, "no file after a failed run");

    // A step cut by its row limit: exit 1, `truncated`, the first 3 rows.
    let r = ab(&["run", &wb("row-limit.workbook"), "--format", "json"]);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("rowLimit"), "{}", r.stderr);
    let doc = r.json();
    assert_run_contract(&doc);
    let cut = &doc["steps"][0];
    assert_eq!(cut["truncated"], true);
    assert_eq!(cut["rows"].as_array().unwrap().len(), 3);
    assert_eq!(doc["steps"][1]["truncated"], false);
    assert_eq!(doc["steps"][1]["rows"], json!([{"Events": 5000}]));
    let Some(db) = duckdb(&[
        "SELECT Category, count(*) FROM logs GROUP BY Category ORDER BY Category LIMIT 3",
    ]) else {
        return;
    };
    let expected: Vec<Vec<String>> = db[0].iter().map(|r| r.iter().map(cell).collect()).collect();
    let got: Vec<Vec<String>> = cut["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| vec![cell(&r["Category"]), cell(&r["Events"])])
        .collect();
    assert_eq!(got, expected);
}

/// Steps without the warnings' locations (they name the file and its line).
fn comparable_steps(doc: &Value) -> Value {
    let mut steps = doc["steps"].clone();
    for s in steps.as_array_mut().unwrap() {
        if let Some(ws) = s.get_mut("warnings").and_then(Value::as_array_mut) {
            for w in ws {
                let text = w.as_str().unwrap();
                let at = text.find("warning[").unwrap_or(0);
                *w = Value::String(text[at..].to_string());
            }
        }
    }
    steps
}

#[test]
fn convert_round_trips_run_identically() {
    let tmp = tempfile::tempdir().unwrap();
    let cases = [
        (
            "ms-access-package-activity.workbook",
            vec![
                format!("AccessPackageId={PACKAGE}"),
                "Since=30d".to_string(),
            ],
        ),
        (
            "ms-app-role-assignments.workbook",
            vec!["Appname=Slack".to_string()],
        ),
    ];
    for (name, params) in cases {
        let run = |path: &str| -> Value {
            let mut a = vec!["run", path, "--now", NOW, "--format", "json"];
            for p in &params {
                a.extend(["--param", p.as_str()]);
            }
            run_json(&a)
        };
        let azure = wb(name);
        let native = tmp.path().join(name).with_extension("yaml");
        let native = native.display().to_string();
        let back = tmp.path().join(name).with_extension("json");
        let back = back.display().to_string();
        let r = ab(&["convert", &azure, "-o", &native]);
        assert_eq!(r.code, 0, "{}", r.stderr);
        let yaml = std::fs::read_to_string(&native).unwrap();
        assert!(yaml.starts_with("title: "), "{yaml}");
        assert!(yaml.contains("kql: "), "{yaml}");
        let r = ab(&["convert", &native, "--to", "azure", "-o", &back]);
        assert_eq!(r.code, 0, "{}", r.stderr);
        let json: Value = serde_json::from_str(&std::fs::read_to_string(&back).unwrap()).unwrap();
        assert_eq!(json["version"], "Notebook/1.0");

        let original = run(&azure);
        assert!(!original["steps"][0]["rows"].as_array().unwrap().is_empty());
        for converted in [&native, &back] {
            let doc = run(converted);
            assert_eq!(doc["workbook"], original["workbook"], "{converted}");
            assert_eq!(doc["parameters"], original["parameters"], "{converted}");
            assert_eq!(doc["time"], original["time"], "{converted}");
            assert_eq!(
                comparable_steps(&doc),
                comparable_steps(&original),
                "{converted}"
            );
        }
    }
}

#[test]
fn explain_shows_the_bound_query_and_its_sql() {
    let fixture = wb("ms-access-package-activity.workbook");
    let package = format!("AccessPackageId={PACKAGE}");
    let args = [
        "explain",
        fixture.as_str(),
        "-p",
        package.as_str(),
        "-p",
        "Since=30d",
        "--now",
        NOW,
    ];
    let r = ab(&args);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let text = &r.stdout;
    assert!(
        text.contains(&format!("AccessPackageId == \"{PACKAGE}\"")),
        "{text}"
    );
    assert!(text.contains("TimeGenerated > ago(30d)"), "{text}");
    assert!(
        !text.contains("{AccessPackageId"),
        "no placeholder left: {text}"
    );
    assert!(text.contains("WITH \"_1\" AS ("), "{text}");
    assert!(
        text.contains("2026-10-02T00:00:00"),
        "ago(30d) at --now: {text}"
    );

    let doc = run_json(&[&args[..], &["--format", "json"]].concat());
    assert_eq!(
        doc["parameters"],
        json!({"Since": "30d", "AccessPackageId": PACKAGE})
    );
    let step = &doc["steps"][0];
    assert_eq!(step["name"], "query - 1");
    assert!(
        step["query"]
            .as_str()
            .unwrap()
            .contains(&format!("AccessPackageId == \"{PACKAGE}\"")),
        "{step}"
    );
    let sql = step["sql"].as_str().unwrap();
    assert!(sql.starts_with("WITH \"_1\" AS ("), "{sql}");
    assert!(
        sql.contains(&format!("'{PACKAGE}'")),
        "the value as a SQL literal: {sql}"
    );

    // --analyze runs each step as `run` would and shows its plan with metrics (rows, time).
    let r = ab(&[&args[..], &["--analyze"]].concat());
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("-- physical plan"), "{}", r.stdout);
    assert!(r.stdout.contains("DataSourceExec"), "{}", r.stdout);
    assert!(r.stdout.contains("output_rows="), "metrics: {}", r.stdout);
    let doc = run_json(&[&args[..], &["--analyze", "--format", "json"]].concat());
    let physical = doc["steps"][0]["plan"]["physical"].as_str().unwrap();
    assert!(physical.contains("output_rows="), "{physical}");
    // Without --plan/--analyze, no plan.
    assert!(run_json(&[&args[..], &["--format", "json"]].concat())["steps"][0]["plan"].is_null());
}

#[test]
fn groups_visibility_and_unsupported_items() {
    let groups = wb("groups.workbook");
    let run = |extra: &[&str]| -> (i32, Value) {
        let r = ab(&[&["run", groups.as_str(), "--format", "json"][..], extra].concat());
        (r.code, r.json())
    };

    // Tab=summary: the `details` group is hidden, its steps are not run.
    let (code, doc) = run(&[]);
    assert_eq!(code, 1, "a metrics item is skipped: exit 1");
    assert_run_contract(&doc);
    assert_eq!(step_names(&doc), ["top categories", "after groups"]);
    assert_eq!(
        doc["steps"][1]["rows"],
        json!([{"Env": "outer", "Exported": "from the group"}]),
        "exportParameters makes `Exported` visible after its group"
    );
    let notices: Vec<&str> = doc["notices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["message"].as_str().unwrap())
        .collect();
    assert_eq!(notices.len(), 2, "{notices:?}");
    assert!(
        notices[0].contains("Governance docs")
            && notices[0].contains("https://learn.microsoft.com/entra/id-governance/")
    );
    assert!(notices[1].contains("metrics") && notices[1].contains("does not run"));
    let caption = doc["text"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "caption")
        .unwrap();
    assert_eq!(caption["markdown"], "Tab: Summary, Env: outer");
    let top = step_rows(&doc["steps"][0], &["Category", "Events"]);
    assert_eq!(top.len(), 2, "take {{Top}} with Top=2");

    // Tab=details: the group runs with its own `Env`; it does not leak out of the group.
    let (_, doc) = run(&["--param", "Tab=details"]);
    assert_eq!(
        step_names(&doc),
        ["top categories", "env in details", "after groups"]
    );
    assert_eq!(doc["steps"][1]["rows"], json!([{"Env": "inner"}]));
    assert_eq!(doc["steps"][2]["rows"][0]["Env"], "outer");

    // A step's own condition: Top=0 hides it.
    let (_, doc) = run(&["--param", "Tab=details", "--param", "Top=0"]);
    assert_eq!(step_names(&doc), ["env in details", "after groups"]);

    // structure.workbook: Tab is not declared, so the group stays hidden; the options parameter
    // takes its `selected` choice; links, metrics and Resource Graph are listed as notices.
    let r = ab(&[
        "run",
        &wb("structure.workbook"),
        "--now",
        NOW,
        "--format",
        "json",
    ]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let doc = r.json();
    assert_eq!(doc["steps"], json!([]));
    assert_eq!(doc["parameters"]["Env"], "prod");
    assert_eq!(doc["parameters"]["Top"], "10");
    let notices: Vec<&str> = doc["notices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["name"].as_str().unwrap())
        .collect();
    assert_eq!(notices, ["tabs", "item - 6", "arg"]);
    assert!(r.stderr.contains("Azure Resource Graph"), "{}", r.stderr);

    let Some(db) = duckdb(&[
        "SELECT Category, count(*) AS n FROM logs GROUP BY Category ORDER BY n DESC LIMIT 2",
    ]) else {
        return;
    };
    assert_eq!(top, db_rows(&db[0]));
}

/// The complete example of `docs/workbook-format.md` and the sampler fixture check clean: the
/// documentation shows only what runs.
#[test]
fn documented_example_checks_clean() {
    let doc = std::fs::read_to_string(util::repo("docs/workbook-format.md")).unwrap();
    let start = doc.find("```yaml\n").expect("a yaml example") + "```yaml\n".len();
    let end = start + doc[start..].find("\n```").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let example = dir.path().join("example.yaml");
    std::fs::write(&example, &doc[start..end + 1]).unwrap();
    for file in [example.display().to_string(), wb("sampler.yaml")] {
        let r = ab(&["check", &file, "--format", "json"]);
        assert_eq!(r.code, 0, "{file}: {}{}", r.stdout, r.stderr);
        let json: Value = serde_json::from_str(&r.stdout).unwrap();
        let items = json["files"][0]["items"].as_array().unwrap().clone();
        assert!(
            items.iter().any(|i| i["status"] == "ok"),
            "{file}: {items:?}"
        );
        assert!(
            items.iter().all(|i| i["status"] != "error"),
            "{file}: {items:?}"
        );
    }
}

/// A drop-down value given on the command line is checked by asking the drop-down's query for
/// that value only (`kql::restrict`): the choice picked, label included, is the one the full
/// list gives. A label, or the value in another case, still resolves through the full list, and
/// a value outside it is still rejected with the list.
#[test]
fn a_given_dropdown_value_resolves_as_the_full_list_does() {
    let fixture = wb("label-pick.yaml");
    let listed = run_json(&["params", &fixture, "--now", NOW, "--format", "json"]);
    let values = listed["parameters"][0]["values"]
        .as_array()
        .unwrap()
        .clone();
    assert!(values.len() > 1, "{listed}");
    let entry = values
        .iter()
        .find(|v| v["value"] == PACKAGE)
        .unwrap_or_else(|| panic!("{PACKAGE} not in {listed}"));
    let label = entry["label"].as_str().unwrap().to_string();
    assert!(
        label.ends_with(PACKAGE) && label.len() > PACKAGE.len() + 1,
        "{label}"
    );

    // `run FIXTURE --now NOW -p P...`, then more arguments.
    let run_args = |params: &[String], more: &[&str]| -> Vec<String> {
        let mut args: Vec<String> = ["run", fixture.as_str(), "--now", NOW]
            .iter()
            .map(|a| a.to_string())
            .collect();
        for p in params {
            args.extend(["-p".to_string(), p.clone()]);
        }
        args.extend(more.iter().map(|a| a.to_string()));
        args
    };
    let first_row = |params: &[String]| -> Value {
        let args = run_args(params, &["--format", "json"]);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        run_json(&args)["steps"][0]["rows"][0].clone()
    };
    let picked = |given: &str| -> (String, String) {
        let row = first_row(&[format!("Pkg={given}")]);
        (
            row["value"].as_str().unwrap().to_string(),
            row["label"].as_str().unwrap().to_string(),
        )
    };
    let expected = (PACKAGE.to_string(), label.clone());
    assert_eq!(picked(PACKAGE), expected);
    assert_eq!(picked(&PACKAGE.to_uppercase()), expected);
    assert_eq!(picked(&label.to_lowercase()), expected);
    // Every listed choice resolves to itself with its own label.
    for v in &values {
        let (value, label) = (v["value"].as_str().unwrap(), v["label"].as_str().unwrap());
        assert_eq!(picked(value), (value.to_string(), label.to_string()));
    }

    // `Other` (label never shown): checked by any one row with the value, while the step runs
    // (`run::walk`). Given in another case or by its label, the check finds no row and the walk
    // is done again through the full list, which resolves it to the value.
    for v in &values {
        let (value, label) = (v["value"].as_str().unwrap(), v["label"].as_str().unwrap());
        for given in [
            value.to_string(),
            value.to_uppercase(),
            label.to_lowercase(),
        ] {
            let row = first_row(&[format!("Pkg={PACKAGE}"), format!("Other={given}")]);
            assert_eq!(row["other"], *value, "Other={given}: {row}");
        }
    }

    for param in ["Pkg", "Other"] {
        let args = run_args(
            &[format!("Pkg={PACKAGE}"), format!("{param}=no-such-package")],
            &[],
        );
        let r = ab(&args.iter().map(String::as_str).collect::<Vec<_>>());
        assert_ne!(r.code, 0);
        assert!(
            r.stderr
                .contains("\"no-such-package\" is not one of the allowed values")
                && r.stderr.contains(&format!("`{param}`"))
                && r.stderr.contains(PACKAGE),
            "{}",
            r.stderr
        );
    }
}
