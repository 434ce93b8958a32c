//! An independent oracle for the KQL compiler: hand-written pairs of (KQL query, DuckDB SQL)
//! over `sample-data/`, run through auditbook's engine and through Python DuckDB, with the
//! results compared as sets (or sequences, for ordered queries) of canonical JSON rows.
//!
//! The SQL is written directly for DuckDB (`unnest`, `list_filter`, `date_trunc`,
//! `time_bucket`, ...), not derived from auditbook's generated SQL, so the two sides fail
//! independently. Canonical form: object keys sorted; datetimes as
//! `YYYY-MM-DDTHH:MM:SS.ffffffZ` (microseconds, as Python's datetime holds them); timespans as
//! `{"$timespan_us": n}`; integral numbers as integers and other numbers rounded to 9 decimals.
//!
//! CI installs `duckdb` for Python (`pip install duckdb`); without it the test fails under CI
//! and is skipped locally with a message.

mod util;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use auditbook::engine::Engine;
use serde_json::{Map, Value};

/// `now()` for every query: 2026-11-01T00:00:00Z (as in the KQL corpus).
const NOW: i64 = 1_793_491_200_000_000_000;

/// One oracle pair.
struct Pair {
    name: &'static str,
    kql: &'static str,
    sql: &'static str,
    /// The result order is part of the answer (`top`, `sort`).
    ordered: bool,
    /// Array values are sets (`make_set`): compare them sorted.
    sort_arrays: bool,
}

const fn pair(name: &'static str, kql: &'static str, sql: &'static str) -> Pair {
    Pair {
        name,
        kql,
        sql,
        ordered: false,
        sort_arrays: false,
    }
}

const fn ordered(name: &'static str, kql: &'static str, sql: &'static str) -> Pair {
    Pair {
        name,
        kql,
        sql,
        ordered: true,
        sort_arrays: false,
    }
}

const fn sets(name: &'static str, kql: &'static str, sql: &'static str) -> Pair {
    Pair {
        name,
        kql,
        sql,
        ordered: false,
        sort_arrays: true,
    }
}

/// Word-boundary pattern for KQL's `has` (terms are runs of letters and digits).
/// Used in the SQL as `regexp_matches(x, '(?i)(^|[^[:alnum:]])TERM($|[^[:alnum:]])')`.
const PAIRS: &[Pair] = &[
    // ---- filters and string operators ----
    pair(
        "filter-equality-count",
        r#"AuditLogs | where Category == "GroupManagement" | count"#,
        r#"SELECT count(*) AS "Count" FROM AuditLogs WHERE Category = 'GroupManagement'"#,
    ),
    pair(
        "filter-and-or-not",
        r#"AuditLogs | where (Category == "UserManagement" or Category == "Device") and not(Result == "success") | summarize n=count() by Category, OperationName"#,
        r#"SELECT Category, OperationName, count(*) AS n FROM AuditLogs
           WHERE (Category = 'UserManagement' OR Category = 'Device') AND NOT (Result = 'success')
           GROUP BY ALL"#,
    ),
    pair(
        "has-whole-term",
        r#"AuditLogs | where OperationName has "group" | summarize n=count() by OperationName"#,
        r#"SELECT OperationName, count(*) AS n FROM AuditLogs
           WHERE regexp_matches(OperationName, '(?i)(^|[^[:alnum:]])group($|[^[:alnum:]])')
           GROUP BY ALL"#,
    ),
    pair(
        "contains-substring",
        r#"AuditLogs | where OperationName contains "assign" | summarize n=count() by OperationName"#,
        r#"SELECT OperationName, count(*) AS n FROM AuditLogs WHERE OperationName ILIKE '%assign%' GROUP BY ALL"#,
    ),
    pair(
        "has-vs-contains-counts",
        r#"AuditLogs | summarize has_assign=countif(OperationName has "assign"), contains_assign=countif(OperationName contains "assign"), has_assignment=countif(OperationName has "assignment"), not_has_user=countif(OperationName !has "user")"#,
        r#"SELECT count(*) FILTER (WHERE regexp_matches(OperationName, '(?i)(^|[^[:alnum:]])assign($|[^[:alnum:]])')) AS has_assign,
                  count(*) FILTER (WHERE OperationName ILIKE '%assign%') AS contains_assign,
                  count(*) FILTER (WHERE regexp_matches(OperationName, '(?i)(^|[^[:alnum:]])assignment($|[^[:alnum:]])')) AS has_assignment,
                  count(*) FILTER (WHERE NOT regexp_matches(OperationName, '(?i)(^|[^[:alnum:]])user($|[^[:alnum:]])')) AS not_has_user
           FROM AuditLogs"#,
    ),
    pair(
        "startswith-endswith-cs",
        r#"AuditLogs | where OperationName startswith "add " and OperationName endswith_cs "group" | summarize n=count() by OperationName"#,
        r#"SELECT OperationName, count(*) AS n FROM AuditLogs
           WHERE starts_with(lower(OperationName), 'add ') AND ends_with(OperationName, 'group')
           GROUP BY ALL"#,
    ),
    pair(
        "in-case-insensitive",
        r#"AuditLogs | where Category in~ ("usermanagement", "DEVICE") | summarize n=count() by Category"#,
        r#"SELECT Category, count(*) AS n FROM AuditLogs WHERE lower(Category) IN ('usermanagement', 'device') GROUP BY ALL"#,
    ),
    pair(
        "not-in-and-not-has",
        r#"AuditLogs | where Result !in ("success") and ResultReason !has "privileges" | summarize n=count() by ResultReason"#,
        r#"SELECT ResultReason, count(*) AS n FROM AuditLogs
           WHERE Result NOT IN ('success')
             AND NOT regexp_matches(ResultReason, '(?i)(^|[^[:alnum:]])privileges($|[^[:alnum:]])')
           GROUP BY ALL"#,
    ),
    pair(
        "has-dotted-term",
        r#"AuditLogs | where ResultReason has "ObjectConflictException" or ResultDescription has "ObjectConflictException" | summarize n=count() by Result"#,
        // Dots separate terms: `Microsoft.Online.Workflows.ObjectConflictException` has the term.
        r#"SELECT Result, count(*) AS n FROM AuditLogs
           WHERE regexp_matches(ResultReason, '(?i)(^|[^[:alnum:]])objectconflictexception($|[^[:alnum:]])')
              OR regexp_matches(ResultDescription, '(?i)(^|[^[:alnum:]])objectconflictexception($|[^[:alnum:]])')
           GROUP BY ALL"#,
    ),
    pair(
        "matches-regex",
        r#"AuditLogs | where OperationName matches regex "^(Add|Remove) member (to|from) (group|role)$" | summarize n=count() by OperationName"#,
        r#"SELECT OperationName, count(*) AS n FROM AuditLogs
           WHERE regexp_full_match(OperationName, '(Add|Remove) member (to|from) (group|role)')
           GROUP BY ALL"#,
    ),
    pair(
        "has-any-countif",
        r#"AuditLogs | summarize n=countif(OperationName has_any ("password", "license")) by Category"#,
        r#"SELECT Category, count(*) FILTER (WHERE regexp_matches(OperationName, '(?i)(^|[^[:alnum:]])(password|license)($|[^[:alnum:]])')) AS n
           FROM AuditLogs GROUP BY ALL"#,
    ),
    // ---- dynamic columns ----
    pair(
        "dynamic-property-equality",
        r#"AuditLogs | where InitiatedBy.user.userPrincipalName == "adm-vnakamura@contoso.com" | summarize n=count() by OperationName"#,
        r#"SELECT OperationName, count(*) AS n FROM AuditLogs
           WHERE InitiatedBy.user.userPrincipalName = 'adm-vnakamura@contoso.com' GROUP BY ALL"#,
    ),
    pair(
        "dynamic-index-type",
        r#"AuditLogs | where TargetResources[0].type == "Group" | summarize n=count() by OperationName"#,
        r#"SELECT OperationName, count(*) AS n FROM AuditLogs WHERE TargetResources[1].type = 'Group' GROUP BY ALL"#,
    ),
    pair(
        "app-initiated-by-app",
        r#"AuditLogs | where isnotempty(InitiatedBy.app.appId) | summarize n=count() by app=tostring(InitiatedBy.app.displayName)"#,
        r#"SELECT coalesce(InitiatedBy.app.displayName, '') AS app, count(*) AS n FROM AuditLogs
           WHERE coalesce(InitiatedBy.app.appId, '') <> '' GROUP BY ALL"#,
    ),
    pair(
        "initiator-kind-iff",
        r#"AuditLogs | summarize n=count() by kind=iff(isnotempty(InitiatedBy.user.id), "user", iff(isnotempty(InitiatedBy.app.appId), "app", "none"))"#,
        r#"SELECT CASE WHEN coalesce(InitiatedBy.user.id, '') <> '' THEN 'user'
                       WHEN coalesce(InitiatedBy.app.appId, '') <> '' THEN 'app' ELSE 'none' END AS kind,
                  count(*) AS n
           FROM AuditLogs GROUP BY ALL"#,
    ),
    pair(
        "array-length-filter",
        r#"AuditLogs | where array_length(TargetResources) >= 3 | summarize n=count() by Category"#,
        r#"SELECT Category, count(*) AS n FROM AuditLogs WHERE len(TargetResources) >= 3 GROUP BY ALL"#,
    ),
    pair(
        "dcount-initiators-empty-counts",
        r#"AuditLogs | summarize users=dcount(tostring(InitiatedBy.user.userPrincipalName)) by Category"#,
        // KQL strings are never null: the missing UPN is "" and counts as one value.
        r#"SELECT Category, count(DISTINCT coalesce(InitiatedBy.user.userPrincipalName, '')) AS users FROM AuditLogs GROUP BY ALL"#,
    ),
    // ---- mv-expand ----
    pair(
        "mv-expand-targets-by-type",
        r#"AuditLogs | mv-expand t = TargetResources | summarize n=count() by type=tostring(t.type)"#,
        r#"SELECT coalesce(t.type, '') AS type, count(*) AS n FROM AuditLogs, unnest(TargetResources) AS u(t) GROUP BY ALL"#,
    ),
    pair(
        "mv-expand-modified-properties",
        r#"AuditLogs | mv-expand t = TargetResources | mv-expand p = t.modifiedProperties | where tostring(p.displayName) == "Group.DisplayName" | summarize n=count() by group=tostring(p.newValue)"#,
        r#"SELECT coalesce(p.newValue, '') AS "group", count(*) AS n
           FROM AuditLogs, unnest(TargetResources) AS u(t), unnest(t.modifiedProperties) AS v(p)
           WHERE p.displayName = 'Group.DisplayName' GROUP BY ALL"#,
    ),
    pair(
        "mv-expand-additional-details",
        r#"AuditLogs | mv-expand d = AdditionalDetails | summarize n=count(), events=dcount(Id) by key=tostring(d.key)"#,
        r#"SELECT d.key AS key, count(*) AS n, count(DISTINCT Id) AS events
           FROM AuditLogs, unnest(AdditionalDetails) AS u(d) GROUP BY ALL"#,
    ),
    pair(
        "mv-expand-group-members",
        r#"AuditLogs | where OperationName == "Add member to group" | mv-expand t = TargetResources | where t.type == "Group" | summarize adds=count() by group=tostring(t.id)"#,
        r#"SELECT coalesce(t.id, '') AS "group", count(*) AS adds
           FROM AuditLogs, unnest(TargetResources) AS u(t)
           WHERE OperationName = 'Add member to group' AND t.type = 'Group' GROUP BY ALL"#,
    ),
    pair(
        "modified-properties-list-filter",
        r#"AuditLogs | where Category == "UserManagement" | extend n = array_length(TargetResources[0].modifiedProperties) | summarize events=count() by n"#,
        r#"SELECT len(TargetResources[1].modifiedProperties) AS n, count(*) AS events
           FROM AuditLogs WHERE Category = 'UserManagement' GROUP BY ALL"#,
    ),
    // ---- summarize ----
    pair(
        "count-countif-by-category",
        r#"AuditLogs | summarize total=count(), failures=countif(Result == "failure") by Category"#,
        r#"SELECT Category, count(*) AS total, count(*) FILTER (WHERE Result = 'failure') AS failures FROM AuditLogs GROUP BY ALL"#,
    ),
    pair(
        "bin-1d",
        r#"AuditLogs | summarize n=count() by bin(TimeGenerated, 1d)"#,
        r#"SELECT date_trunc('day', TimeGenerated) AS TimeGenerated, count(*) AS n FROM AuditLogs GROUP BY ALL"#,
    ),
    pair(
        "bin-7d-monday",
        r#"AuditLogs | summarize n=count(), ops=dcount(OperationName) by week=bin(TimeGenerated, 7d)"#,
        // time_bucket's default origin (2000-01-03) is a Monday, as are KQL's 7d bins.
        r#"SELECT time_bucket(INTERVAL 7 DAY, TimeGenerated) AS week, count(*) AS n, count(DISTINCT OperationName) AS ops
           FROM AuditLogs GROUP BY ALL"#,
    ),
    pair(
        "bin-1h-failures",
        r#"AuditLogs | where Result == "failure" | summarize n=count() by bin(TimeGenerated, 1h)"#,
        r#"SELECT date_trunc('hour', TimeGenerated) AS TimeGenerated, count(*) AS n FROM AuditLogs WHERE Result = 'failure' GROUP BY ALL"#,
    ),
    sets(
        "make-set-by-result",
        r#"AuditLogs | summarize cats=make_set(Category) by Result"#,
        r#"SELECT Result, list(DISTINCT Category) AS cats FROM AuditLogs GROUP BY ALL"#,
    ),
    sets(
        "make-set-failed-operations",
        r#"AuditLogs | where Result == "failure" | summarize ops=make_set(OperationName), n=count() by Category"#,
        r#"SELECT Category, list(DISTINCT OperationName) AS ops, count(*) AS n FROM AuditLogs WHERE Result = 'failure' GROUP BY ALL"#,
    ),
    pair(
        "arg-max-by-category",
        r#"AuditLogs | summarize arg_max(TimeGenerated, OperationName, Id) by Category"#,
        r#"SELECT Category, max(TimeGenerated) AS TimeGenerated, arg_max(OperationName, TimeGenerated) AS OperationName,
                  arg_max(Id, TimeGenerated) AS Id
           FROM AuditLogs GROUP BY ALL"#,
    ),
    pair(
        "arg-min-by-initiator",
        r#"AuditLogs | where isnotempty(InitiatedBy.user.userPrincipalName) | summarize arg_min(TimeGenerated, Id) by upn=tostring(InitiatedBy.user.userPrincipalName)"#,
        r#"SELECT InitiatedBy.user.userPrincipalName AS upn, min(TimeGenerated) AS TimeGenerated, arg_min(Id, TimeGenerated) AS Id
           FROM AuditLogs WHERE coalesce(InitiatedBy.user.userPrincipalName, '') <> '' GROUP BY ALL"#,
    ),
    pair(
        "min-max-span-hours",
        r#"AuditLogs | summarize first=min(TimeGenerated), last=max(TimeGenerated) by Category | extend hours = (last - first) / 1h"#,
        r#"SELECT Category, min(TimeGenerated) AS first, max(TimeGenerated) AS last,
                  (epoch_ns(max(TimeGenerated)) - epoch_ns(min(TimeGenerated))) / 3.6e12 AS hours
           FROM AuditLogs GROUP BY ALL"#,
    ),
    // ---- joins ----
    pair(
        "join-inner-failures-and-totals",
        r#"AuditLogs | where Result == "failure" | summarize failures=count() by upn=tostring(InitiatedBy.user.userPrincipalName)
           | join kind=inner (AuditLogs | summarize total=count() by upn=tostring(InitiatedBy.user.userPrincipalName)) on upn
           | project upn, failures, total"#,
        r#"WITH f AS (SELECT coalesce(InitiatedBy.user.userPrincipalName, '') AS upn, count(*) AS failures FROM AuditLogs WHERE Result = 'failure' GROUP BY ALL),
                t AS (SELECT coalesce(InitiatedBy.user.userPrincipalName, '') AS upn, count(*) AS total FROM AuditLogs GROUP BY ALL)
           SELECT f.upn, failures, total FROM f JOIN t USING (upn)"#,
    ),
    pair(
        "join-leftouter-null-for-missing",
        r#"AuditLogs | summarize total=count() by Category
           | join kind=leftouter (AuditLogs | where Result == "failure" | summarize failures=count() by Category) on Category
           | project Category, total, failures"#,
        r#"WITH t AS (SELECT Category, count(*) AS total FROM AuditLogs GROUP BY ALL),
                f AS (SELECT Category, count(*) AS failures FROM AuditLogs WHERE Result = 'failure' GROUP BY ALL)
           SELECT t.Category, total, failures FROM t LEFT JOIN f ON t.Category = f.Category"#,
    ),
    pair(
        "join-leftanti",
        r#"AuditLogs | distinct OperationName | join kind=leftanti (AuditLogs | where Result == "failure" | distinct OperationName) on OperationName"#,
        r#"SELECT DISTINCT OperationName FROM AuditLogs
           EXCEPT SELECT DISTINCT OperationName FROM AuditLogs WHERE Result = 'failure'"#,
    ),
    pair(
        "join-request-to-approval",
        r#"AuditLogs | where OperationName == "User requests access package assignment" | mv-expand d = AdditionalDetails | where d.key == "RequestId" | project RequestId=tostring(d.value), Requested=TimeGenerated
           | join kind=inner (AuditLogs | where OperationName == "Approve access package assignment request" | mv-expand d = AdditionalDetails | where d.key == "RequestId" | project RequestId=tostring(d.value), Approved=TimeGenerated) on RequestId
           | summarize pairs=count(), requests=dcount(RequestId), max_wait_h=max((Approved - Requested) / 1h)"#,
        r#"WITH r AS (SELECT d.value AS RequestId, TimeGenerated AS Requested FROM AuditLogs, unnest(AdditionalDetails) AS u(d)
                      WHERE OperationName = 'User requests access package assignment' AND d.key = 'RequestId'),
                a AS (SELECT d.value AS RequestId, TimeGenerated AS Approved FROM AuditLogs, unnest(AdditionalDetails) AS u(d)
                      WHERE OperationName = 'Approve access package assignment request' AND d.key = 'RequestId')
           SELECT count(*) AS pairs, count(DISTINCT r.RequestId) AS requests,
                  max((epoch_ns(Approved) - epoch_ns(Requested)) / 3.6e12) AS max_wait_h
           FROM r JOIN a USING (RequestId)"#,
    ),
    // ---- top, sort, distinct ----
    ordered(
        "top-newest",
        r#"AuditLogs | top 5 by TimeGenerated desc | project Id, TimeGenerated, OperationName"#,
        r#"SELECT Id, TimeGenerated, OperationName FROM AuditLogs ORDER BY TimeGenerated DESC LIMIT 5"#,
    ),
    ordered(
        "top-operations-by-count",
        r#"AuditLogs | summarize n=count() by OperationName | top 3 by n"#,
        r#"SELECT OperationName, count(*) AS n FROM AuditLogs GROUP BY ALL ORDER BY n DESC LIMIT 3"#,
    ),
    ordered(
        "sort-categories-asc",
        r#"AuditLogs | summarize n=count() by Category | sort by n asc"#,
        r#"SELECT Category, count(*) AS n FROM AuditLogs GROUP BY ALL ORDER BY n ASC"#,
    ),
    pair(
        "distinct-two-columns",
        r#"AuditLogs | distinct Category, Result"#,
        r#"SELECT DISTINCT Category, Result FROM AuditLogs"#,
    ),
    // ---- datetimes ----
    pair(
        "ago-3d",
        r#"AuditLogs | where TimeGenerated > ago(3d) | summarize n=count() by Category"#,
        r#"SELECT Category, count(*) AS n FROM AuditLogs
           WHERE TimeGenerated > TIMESTAMPTZ '2026-11-01 00:00:00+00' - INTERVAL 3 DAY GROUP BY ALL"#,
    ),
    pair(
        "between-datetimes-inclusive",
        r#"AuditLogs | where TimeGenerated between (datetime(2026-10-10) .. datetime(2026-10-12)) | summarize n=count() by bin(TimeGenerated, 1d)"#,
        r#"SELECT date_trunc('day', TimeGenerated) AS TimeGenerated, count(*) AS n FROM AuditLogs
           WHERE TimeGenerated BETWEEN TIMESTAMPTZ '2026-10-10 00:00:00+00' AND TIMESTAMPTZ '2026-10-12 00:00:00+00'
           GROUP BY ALL"#,
    ),
    pair(
        "between-datetime-and-length",
        r#"AuditLogs | where TimeGenerated between (datetime(2026-10-20 06:00:00) .. 12h) | summarize n=count() by Result"#,
        r#"SELECT Result, count(*) AS n FROM AuditLogs
           WHERE TimeGenerated BETWEEN TIMESTAMPTZ '2026-10-20 06:00:00+00' AND TIMESTAMPTZ '2026-10-20 18:00:00+00'
           GROUP BY ALL"#,
    ),
    pair(
        "hourofday-dayofweek",
        r#"AuditLogs | summarize n=count() by h=hourofday(TimeGenerated), weekend=dayofweek(TimeGenerated) in (0d, 6d)"#,
        r#"SELECT hour(TimeGenerated) AS h, dayofweek(TimeGenerated) IN (0, 6) AS weekend, count(*) AS n FROM AuditLogs GROUP BY ALL"#,
    ),
    pair(
        "startofmonth-startofweek",
        r#"AuditLogs | summarize n=count() by m=startofmonth(TimeGenerated), w=startofweek(TimeGenerated)"#,
        // KQL weeks start on Sunday; DuckDB's date_trunc('week') on Monday, so shift by a day.
        r#"SELECT date_trunc('month', TimeGenerated) AS m,
                  date_trunc('week', TimeGenerated + INTERVAL 1 DAY) - INTERVAL 1 DAY AS w, count(*) AS n
           FROM AuditLogs GROUP BY ALL"#,
    ),
    pair(
        "datetime-arith-age-days",
        r#"AuditLogs | where Category == "Policy" | project Id, age_days = toint((now() - TimeGenerated) / 1d), shifted = TimeGenerated + 36h"#,
        r#"SELECT Id, CAST(trunc((epoch_ns(TIMESTAMPTZ '2026-11-01 00:00:00+00') - epoch_ns(TimeGenerated)) / 8.64e13) AS INTEGER) AS age_days,
                  TimeGenerated + INTERVAL 36 HOUR AS shifted
           FROM AuditLogs WHERE Category = 'Policy'"#,
    ),
    // ---- string functions ----
    pair(
        "extract-upn-domain",
        r#"AuditLogs | extend domain = extract("@(.*)$", 1, tostring(InitiatedBy.user.userPrincipalName)) | summarize n=count() by domain"#,
        r#"SELECT coalesce(regexp_extract(InitiatedBy.user.userPrincipalName, '@(.*)$', 1), '') AS domain, count(*) AS n
           FROM AuditLogs GROUP BY ALL"#,
    ),
    pair(
        "split-strlen-words",
        r#"AuditLogs | summarize n=count() by words=array_length(split(OperationName, " ")), first=tostring(split(OperationName, " ")[0]), len=strlen(OperationName) > 30"#,
        r#"SELECT len(string_split(OperationName, ' ')) AS words, string_split(OperationName, ' ')[1] AS first,
                  length(OperationName) > 30 AS len, count(*) AS n
           FROM AuditLogs GROUP BY ALL"#,
    ),
    pair(
        "dynamic-has-term",
        r#"AuditLogs | where TargetResources has "Finance" | summarize n=count() by Category"#,
        // `has` on a dynamic value looks for the term in its JSON text.
        r#"SELECT Category, count(*) AS n FROM AuditLogs
           WHERE regexp_matches(CAST(to_json(TargetResources) AS VARCHAR), '(?i)(^|[^[:alnum:]])finance($|[^[:alnum:]])')
           GROUP BY ALL"#,
    ),
    pair(
        "list-filter-modified-names",
        r#"AuditLogs | mv-expand t = TargetResources | where t.modifiedProperties has "AccountEnabled" | summarize n=count() by OperationName"#,
        r#"SELECT OperationName, count(*) AS n FROM AuditLogs, unnest(TargetResources) AS u(t)
           WHERE len(list_filter(t.modifiedProperties, lambda p: regexp_matches(coalesce(p.displayName, '') || ' ' || coalesce(p.oldValue, '') || ' ' || coalesce(p.newValue, ''),
                                                                           '(?i)(^|[^[:alnum:]])accountenabled($|[^[:alnum:]])'))) > 0
           GROUP BY ALL"#,
    ),
];

const DUCKDB_SCRIPT: &str = r#"
import sys, json, datetime, decimal
try:
    import duckdb
except ImportError as e:
    print("NO_DUCKDB: " + str(e), file=sys.stderr)
    sys.exit(3)
req = json.load(sys.stdin)
con = duckdb.connect()
con.execute("SET TimeZone = 'UTC'")
con.execute(f"""CREATE VIEW AuditLogs AS SELECT * FROM read_parquet('{req["data"]}/AuditLogs/*/*.parquet', hive_partitioning = true)""")
def conv(v):
    if v is None or isinstance(v, (bool, int, str)):
        return v
    if isinstance(v, float):
        return v
    if isinstance(v, decimal.Decimal):
        return float(v)
    if isinstance(v, datetime.datetime):
        if v.tzinfo is None:
            v = v.replace(tzinfo=datetime.timezone.utc)
        return v.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if isinstance(v, datetime.timedelta):
        return {"$timespan_us": (v.days * 86400 + v.seconds) * 1000000 + v.microseconds}
    if isinstance(v, (list, tuple)):
        return [conv(x) for x in v]
    if isinstance(v, dict):
        return {k: conv(x) for k, x in v.items()}
    return str(v)
out = []
for sql in req["queries"]:
    try:
        cur = con.execute(sql)
        names = [d[0] for d in cur.description]
        out.append({"rows": [{n: conv(v) for n, v in zip(names, row)} for row in cur.fetchall()]})
    except Exception as e:
        out.append({"error": f"{type(e).__name__}: {e}"})
json.dump(out, sys.stdout)
"#;

/// Runs every SQL query through Python DuckDB; `None` when the module is missing.
fn duckdb_results(data: &Path, queries: &[&str]) -> Option<Vec<Value>> {
    let mut child = Command::new("python3")
        .arg("-c")
        .arg(DUCKDB_SCRIPT)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 runs");
    let req = serde_json::json!({ "data": data.to_string_lossy(), "queries": queries });
    child
        .stdin
        .take()
        .unwrap()
        .write_all(req.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    if stderr.contains("NO_DUCKDB") {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must install duckdb (pip install duckdb): {stderr}"
        );
        eprintln!(
            "skipped: python duckdb is not installed here ({})",
            stderr.trim()
        );
        return None;
    }
    assert!(out.status.success(), "python duckdb failed:\n{stderr}");
    match serde_json::from_slice(&out.stdout).expect("duckdb output is JSON") {
        Value::Array(v) => Some(v),
        other => panic!("not an array: {other}"),
    }
}

/// The KQL side: compiled at `NOW`, run, rendered as NDJSON rows.
fn kql_rows(engine: &Engine, rt: &tokio::runtime::Runtime, p: &Pair) -> Result<Vec<Value>, String> {
    let compiled = engine
        .compile_kql_at(p.kql, p.name, NOW)
        .map_err(|e| e.to_string())?;
    let result = rt
        .block_on(engine.run_kql(&compiled))
        .map_err(|e| format!("execution failed: {e}\nSQL:\n{}", compiled.pretty_sql()))?;
    let mut buf = Vec::new();
    auditbook::render::print_batches(
        auditbook::render::OutputFormat::Ndjson,
        &result.schema,
        &result.batches,
        &mut buf,
    )
    .map_err(|e| e.to_string())?;
    String::from_utf8(buf)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).map_err(|e| format!("{e}: {l}")))
        .collect()
}

/// `2026-10-31T23:23:29.844940300Z` → `2026-10-31T23:23:29.844940Z` (microseconds, truncated).
fn canonical_datetime(s: &str) -> Option<String> {
    let re = regex::Regex::new(r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d+))?Z$").unwrap();
    let c = re.captures(s)?;
    let frac = c.get(2).map_or("", |m| m.as_str());
    let mut micros: String = frac.chars().take(6).collect();
    while micros.len() < 6 {
        micros.push('0');
    }
    Some(format!("{}.{micros}Z", &c[1]))
}

/// KQL timespan text (`[-][d.]hh:mm:ss[.fffffff]`) → microseconds (truncated).
fn timespan_micros(s: &str) -> Option<i64> {
    let re =
        regex::Regex::new(r"^(-)?(?:(\d+)\.)?(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,7}))?$").unwrap();
    let c = re.captures(s)?;
    let n = |i: usize| c.get(i).map_or(0, |m| m.as_str().parse::<i64>().unwrap());
    let mut frac: String = c
        .get(6)
        .map_or("", |m| m.as_str())
        .chars()
        .take(6)
        .collect();
    while frac.len() < 6 {
        frac.push('0');
    }
    let us =
        (((n(2) * 24 + n(3)) * 60 + n(4)) * 60 + n(5)) * 1_000_000 + frac.parse::<i64>().unwrap();
    Some(if c.get(1).is_some() { -us } else { us })
}

fn canonical(v: &Value, sort_arrays: bool) -> Value {
    match v {
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                return Value::from(i);
            }
            let f = n.as_f64().unwrap();
            if f.fract() == 0.0 && f.abs() < 1e15 {
                Value::from(f as i64)
            } else {
                Value::from((f * 1e9).round() / 1e9)
            }
        }
        Value::String(s) => {
            if let Some(d) = canonical_datetime(s) {
                Value::String(d)
            } else if let Some(us) = timespan_micros(s) {
                serde_json::json!({ "$timespan_us": us })
            } else {
                v.clone()
            }
        }
        Value::Array(items) => {
            let mut items: Vec<Value> = items.iter().map(|x| canonical(x, sort_arrays)).collect();
            if sort_arrays {
                items.sort_by_key(|x| x.to_string());
            }
            Value::Array(items)
        }
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            let mut out = Map::new();
            for k in keys {
                out.insert(k.clone(), canonical(&m[k], sort_arrays));
            }
            Value::Object(out)
        }
        _ => v.clone(),
    }
}

fn canonical_rows(rows: &[Value], p: &Pair) -> Vec<String> {
    let mut out: Vec<String> = rows
        .iter()
        .map(|r| canonical(r, p.sort_arrays).to_string())
        .collect();
    if !p.ordered {
        out.sort();
    }
    out
}

#[test]
fn kql_results_match_duckdb_on_sample_data() {
    assert!(PAIRS.len() >= 30, "at least 30 oracle pairs");
    let tmp = tempfile::tempdir().unwrap();
    let (summary, _) = util::ingest(tmp.path(), &[util::repo("sample-data")]);
    assert_eq!(summary["written"], 5000, "{summary}");
    let sql: Vec<&str> = PAIRS.iter().map(|p| p.sql).collect();
    let Some(expected) = duckdb_results(tmp.path(), &sql) else {
        return;
    };
    let engine = Engine::open(tmp.path()).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut failures = Vec::new();
    for (p, want) in PAIRS.iter().zip(&expected) {
        let want = match (&want["rows"], &want["error"]) {
            (Value::Array(rows), _) => canonical_rows(rows, p),
            (_, e) => {
                failures.push(format!("{}: DuckDB failed: {e}\nSQL: {}", p.name, p.sql));
                continue;
            }
        };
        let got = match kql_rows(&engine, &rt, p) {
            Ok(rows) => canonical_rows(&rows, p),
            Err(e) => {
                failures.push(format!("{}: KQL failed: {e}", p.name));
                continue;
            }
        };
        if want.is_empty() {
            failures.push(format!(
                "{}: the DuckDB query returns no rows; every pair must return some",
                p.name
            ));
        }
        if got != want {
            let diff_got: Vec<&String> = got.iter().filter(|r| !want.contains(r)).take(5).collect();
            let diff_want: Vec<&String> =
                want.iter().filter(|r| !got.contains(r)).take(5).collect();
            failures.push(format!(
                "{}: results differ ({} KQL rows, {} DuckDB rows)\nKQL: {}\nonly in KQL (first 5):\n  {}\nonly in DuckDB (first 5):\n  {}",
                p.name,
                got.len(),
                want.len(),
                p.kql,
                diff_got.iter().map(|s| s.as_str()).collect::<Vec<_>>().join("\n  "),
                diff_want.iter().map(|s| s.as_str()).collect::<Vec<_>>().join("\n  "),
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} oracle pairs failed:\n\n{}",
        failures.len(),
        PAIRS.len(),
        failures.join("\n\n")
    );
}
