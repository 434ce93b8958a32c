//! The queries of Microsoft's two entitlement workbooks (placeholders filled by hand, as in
//! `tests/kql/ok/wb-*.kql`) return the same rows as hand-written DuckDB SQL over the same
//! Parquet files.

mod util;

use std::path::Path;

use auditbook::engine::Engine;

/// `now()` of the corpus: 2026-11-01T00:00:00Z.
const NOW: i64 = 1_793_491_200_000_000_000;

/// Runs `kql` through auditbook; returns the rows as sorted `a|b|c` lines over `columns`.
fn kql_rows(engine: &Engine, kql: &str, columns: &[&str]) -> Vec<String> {
    let compiled = engine.compile_kql_at(kql, "q.kql", NOW).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let result = rt.block_on(engine.run_kql(&compiled)).unwrap();
    let mut rows = Vec::new();
    for b in &result.batches {
        for r in 0..b.num_rows() {
            let cells: Vec<String> = columns
                .iter()
                .map(|c| {
                    let col = b
                        .column_by_name(c)
                        .unwrap_or_else(|| panic!("no column {c}"));
                    auditbook::render::value_to_text(col.as_ref(), r)
                        .unwrap()
                        .unwrap_or_default()
                })
                .collect();
            rows.push(cells.join("|"));
        }
    }
    rows.sort();
    rows
}

/// Runs `sql` in DuckDB over `data` (`logs` is the AuditLogs view); sorted `a|b|c` lines, or
/// `None` when DuckDB is not installed (allowed only outside CI).
fn duckdb_rows(data: &Path, sql: &str) -> Option<Vec<String>> {
    let script = r#"
import sys, duckdb
con = duckdb.connect()
con.execute(f"SET TimeZone = 'UTC'")
con.execute(f"CREATE VIEW logs AS SELECT * FROM read_parquet('{sys.argv[1]}/AuditLogs/*/*.parquet', hive_partitioning = true)")
for r in con.execute(sys.argv[2]).fetchall():
    print("|".join("" if v is None else (v.strftime('%Y-%m-%dT%H:%M:%S.%f') if hasattr(v, 'strftime') else str(v)) for v in r))
"#;
    let stdout = util::python_duckdb(script, &[data.as_os_str(), std::ffi::OsStr::new(sql)])?;
    let mut rows: Vec<String> = stdout.lines().map(str::to_string).collect();
    rows.sort();
    Some(rows)
}

/// auditbook prints nanoseconds; DuckDB microseconds: compare at microseconds.
fn micros(rows: Vec<String>) -> Vec<String> {
    let re = regex::Regex::new(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6})\d{3}Z").unwrap();
    let mut v: Vec<String> = rows
        .into_iter()
        .map(|r| re.replace_all(&r, "$1").into_owned())
        .collect();
    v.sort();
    v
}

fn setup() -> (tempfile::TempDir, Engine) {
    let tmp = tempfile::tempdir().unwrap();
    let (summary, _) = util::ingest(tmp.path(), &[util::repo("sample-data")]);
    assert_eq!(summary["written"], 5000);
    let engine = Engine::open(tmp.path()).unwrap();
    (tmp, engine)
}

fn kql_file(name: &str) -> String {
    std::fs::read_to_string(util::repo(&format!("tests/kql/ok/{name}.kql"))).unwrap()
}

#[test]
fn workbook_queries_match_duckdb() {
    let (tmp, engine) = setup();
    let data = tmp.path();
    let cases: &[(&str, &[&str], &str)] = &[
        (
            "wb-accesspackage-activity",
            &["Time", "AccessPackageId", "OperationName", "InitiatedById", "InitiatedByUPN", "InitiatedByDisplayName"],
            "SELECT TimeGenerated, t.id, OperationName, InitiatedBy.user.id, InitiatedBy.user.userPrincipalName, Identity
             FROM (SELECT *, unnest(TargetResources) AS t FROM logs
                   WHERE TimeGenerated > TIMESTAMPTZ '2026-08-03 00:00:00+00' AND Category = 'EntitlementManagement' AND Result = 'success')
             WHERE t.type = 'AccessPackage' AND t.id = '3b95e5d5-5390-4d44-a911-8d41cb3629f8'",
        ),
        (
            "wb-accesspackage-list",
            &["AccessPackageId", "TD"],
            "SELECT DISTINCT t.id, coalesce(t.displayName, '') || ' ' || coalesce(t.id, '')
             FROM (SELECT unnest(TargetResources) AS t FROM logs
                   WHERE TimeGenerated > TIMESTAMPTZ '2026-08-03 00:00:00+00' AND Category = 'EntitlementManagement' AND Result = 'success')
             WHERE t.type = 'AccessPackage'",
        ),
        (
            "wb-approle-apps",
            &["targetAppName"],
            "SELECT DISTINCT t.displayName
             FROM (SELECT unnest(TargetResources) AS t FROM logs
                   WHERE TimeGenerated > TIMESTAMPTZ '2026-08-03 00:00:00+00'
                     AND Category IN ('UserManagement', 'GroupManagement', 'ApplicationManagement') AND Result = 'success'
                     AND ActivityDisplayName IN ('Add app role assignment grant to user', 'Add app role assignment to group'))
             WHERE coalesce(t.displayName, '') <> ''",
        ),
        (
            "wb-approle-assignments",
            &["DateTime", "ActivityDisplayName", "ByUPN", "ByServicePrincipal", "ByApp", "App", "AppRoleName", "Subject", "SubjectId"],
            "WITH x AS (
               SELECT ActivityDateTime, ActivityDisplayName, InitiatedBy, unnest(TargetResources) AS t FROM logs
               WHERE Category IN ('UserManagement', 'GroupManagement', 'ApplicationManagement') AND Result = 'success'
                 AND ActivityDisplayName IN ('Add app role assignment grant to user', 'Add app role assignment to group'))
             SELECT x.ActivityDateTime, x.ActivityDisplayName, x.InitiatedBy.user.userPrincipalName,
                    x.InitiatedBy.app.servicePrincipalName, x.InitiatedBy.app.displayName, x.t.displayName,
                    trim(coalesce(a.m.newValue, ''), '\"'), trim(coalesce(u.m.newValue, ''), '\"'), trim(coalesce(o.m.newValue, ''), '\"')
             FROM x
               CROSS JOIN LATERAL (SELECT unnest(x.t.modifiedProperties) AS m) a
               CROSS JOIN LATERAL (SELECT unnest(x.t.modifiedProperties) AS m) u
               CROSS JOIN LATERAL (SELECT unnest(x.t.modifiedProperties) AS m) o
             WHERE x.t.displayName = 'Slack'
               AND a.m.displayName = 'AppRole.DisplayName'
               AND u.m.displayName IN ('User.UPN', 'Group.DisplayName')
               AND o.m.displayName IN ('User.ObjectID', 'Group.ObjectID')",
        ),
    ];
    for (name, columns, sql) in cases {
        let ours = micros(kql_rows(&engine, &kql_file(name), columns));
        assert!(!ours.is_empty(), "{name}: no rows");
        let Some(theirs) = duckdb_rows(data, sql) else {
            return;
        };
        assert_eq!(ours.len(), theirs.len(), "{name}: row counts differ");
        assert_eq!(ours, theirs, "{name}: rows differ");
    }
}
