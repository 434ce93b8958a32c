#!/usr/bin/env python3
"""auditbook vs DuckDB, side by side, on the same files (issue 6; documented in BENCHMARKS.md).

    python3 benches/compare.py                  # 1M events, the whole comparison (~15 min)
    python3 benches/compare.py --ten-million    # 10M events
    python3 benches/compare.py --events 100000 --runs 2 --skip-history   # a quick try

Steps: build auditbook (release) and the `workbook_queries` bench; generate N Graph NDJSON events
(`auditbook generate`); time the ingest of those files by auditbook and by DuckDB (`read_ndjson`
with the explicit nested schema, `COPY ... PARTITION_BY (date)`), wall time and peak RSS
(`/usr/bin/time`); pick an access package, an application and a user from the data; time each
workbook case as auditbook runs it in process (`workbook_queries`), as a whole `auditbook`
process, and as DuckDB's fastest of several hand-written SQL formulations over auditbook's
Parquet files; a 30-day query on 3 months vs 3 years of history; a cold `auditbook run` on
`sample-data/`. Prints one table and, for a full run, rewrites the results block of
BENCHMARKS.md and benches/results/latest.json.

Needs Python 3.9+, cargo, /usr/bin/time and the `duckdb` package (installed with pip if missing).
Progress goes to stderr, the table to stdout.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
NOW = "2026-11-01T00:00:00Z"  # the generator's window ends here (exclusive)
NOW_SQL = "TIMESTAMPTZ '2026-11-01 00:00:00+00'"
NOW_DT = dt.datetime(2026, 11, 1, tzinfo=dt.timezone.utc)
RESULTS_START = "<!-- results:start -->"
RESULTS_END = "<!-- results:end -->"
# The sample workbook run of the README's quick start.
SAMPLE_PACKAGE = "3b95e5d5-5390-4d44-a911-8d41cb3629f8"

CASES = [
    "apa-30d",
    "apa-all",
    "apa-dropdown",
    "approle-30d",
    "approle-dropdown",
    "daily-by-category",
    "request-status",
    "target-events",
]
DAILY_KQL = "AuditLogs | summarize count() by bin(TimeGenerated, 1d), Category"

# Targets of issue 6 (ratios auditbook / DuckDB measured in the same run).
TARGET_QUERY_IN_PROCESS = 0.5
TARGET_QUERY_PROCESS = 1.0
TARGET_INGEST_THROUGHPUT = 1.5
TARGET_INGEST_RSS = 0.5
TARGET_HISTORY = 1.3
TARGET_COLD_S = 0.200

# The Graph directoryAudit record as DuckDB reads it (explicit nested schema: no sampling).
DUCK_NDJSON_COLUMNS = {
    "id": "VARCHAR",
    "category": "VARCHAR",
    "correlationId": "VARCHAR",
    "result": "VARCHAR",
    "resultReason": "VARCHAR",
    "activityDisplayName": "VARCHAR",
    "activityDateTime": "TIMESTAMPTZ",
    "loggedByService": "VARCHAR",
    "operationType": "VARCHAR",
    "initiatedBy": 'STRUCT("user" STRUCT(id VARCHAR, displayName VARCHAR, userPrincipalName VARCHAR, '
    "ipAddress VARCHAR, userType VARCHAR, homeTenantId VARCHAR, homeTenantName VARCHAR), "
    "app STRUCT(appId VARCHAR, displayName VARCHAR, servicePrincipalId VARCHAR, servicePrincipalName VARCHAR))",
    "targetResources": "STRUCT(id VARCHAR, displayName VARCHAR, type VARCHAR, userPrincipalName VARCHAR, "
    "groupType VARCHAR, modifiedProperties STRUCT(oldValue VARCHAR, newValue VARCHAR, displayName VARCHAR)[])[]",
    "additionalDetails": "STRUCT(key VARCHAR, value VARCHAR)[]",
}

APP_ROLE_ACTIVITIES = [
    "Add app role assignment grant to user",
    "Add app role assignment to group",
    "Add app role assignment to service principal",
    "Add a deletion-marked app role assignment grant to user as part of link removal",
    "Add a deletion-marked app role assignment grant to group as part of link removal",
    "Add a deletion-marked app role assignment grant to service principal as part of link removal",
    "Remove app role assignment from user",
    "Remove app role assignment from group",
    "Remove app role assignment from service principal",
]


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def sh(cmd, **kw) -> subprocess.CompletedProcess:
    """Runs a command, failing loudly."""
    log("$ " + " ".join(str(c) for c in cmd))
    return subprocess.run([str(c) for c in cmd], check=True, **kw)


def median(xs):
    return statistics.median(xs) if xs else None


def sq(s: str) -> str:
    """A SQL string literal."""
    return "'" + s.replace("'", "''") + "'"


def sql_list(xs) -> str:
    return ", ".join(sq(x) for x in xs)


# --------------------------------------------------------------------------------------------
# DuckDB (imported lazily: `--duck-ingest` runs in its own process)


def import_duckdb():
    try:
        import duckdb  # noqa: F401
    except ImportError:
        log("duckdb is missing: pip install duckdb")
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "duckdb"], check=True)
    import duckdb

    return duckdb


def duck_connect(dataset: Path):
    duckdb = import_duckdb()
    con = duckdb.connect()
    con.execute("SET TimeZone='UTC'")
    glob = str(dataset / "AuditLogs" / "*" / "*.parquet")
    con.execute(
        f"CREATE VIEW AuditLogs AS SELECT * FROM read_parquet({sq(glob)}, hive_partitioning=true)"
    )
    return con


def duck_ingest_main(src: str, out: str) -> None:
    """`compare.py --duck-ingest SRC OUT`: DuckDB's ingest, alone in this process (timed outside)."""
    duckdb = import_duckdb()
    con = duckdb.connect()
    con.execute("SET TimeZone='UTC'")
    colspec = "{" + ", ".join(f"{sq(k)}: {sq(v)}" for k, v in DUCK_NDJSON_COLUMNS.items()) + "}"
    glob = str(Path(src) / "*.ndjson")
    t = time.perf_counter()
    con.execute(
        f"COPY (SELECT *, CAST(activityDateTime AS DATE) AS date "
        f"FROM read_ndjson({sq(glob)}, columns={colspec})) "
        f"TO {sq(out)} (FORMAT parquet, PARTITION_BY (date))"
    )
    copy_s = time.perf_counter() - t
    rows = con.execute(
        f"SELECT count(*) FROM read_parquet({sq(str(Path(out) / '*' / '*.parquet'))})"
    ).fetchone()[0]
    print(json.dumps({"copy_seconds": copy_s, "rows": rows}))


# --------------------------------------------------------------------------------------------
# DuckDB formulations of each case. Each returns {formulation name: SQL}.


def since(days: int) -> str:
    return f"TimeGenerated > {NOW_SQL} - INTERVAL {days} DAY"


def date_from(days: int) -> str:
    """A partition predicate covering the last `days` days (the `date` column is the UTC day)."""
    d = (NOW_DT - dt.timedelta(days=days)).date()
    return f"date >= DATE '{d.isoformat()}'"


def q_apa(p: str, days: int) -> dict:
    cols = (
        "Time, tr.id AS AccessPackageId, OperationName, InitiatedBy.user.id AS InitiatedById, "
        "InitiatedBy.user.userPrincipalName AS InitiatedByUPN, Identity AS InitiatedByDisplayName, "
        "AdditionalDetails"
    )
    base = f"{since(days)} AND Category = 'EntitlementManagement' AND Result = 'success'"
    pre = f"list_contains(list_transform(TargetResources, lambda x: x.id), {sq(p)})"

    def select_unnest(extra=""):
        return (
            f"SELECT {cols} FROM (SELECT TimeGenerated AS Time, OperationName, InitiatedBy, Identity, "
            f"AdditionalDetails, unnest(TargetResources) AS tr FROM AuditLogs WHERE {base}{extra}) "
            f"WHERE tr.type = 'AccessPackage' AND tr.id = {sq(p)} ORDER BY Time DESC"
        )

    out = {
        "unnest-select": select_unnest(),
        "lateral": (
            f"SELECT {cols.replace('Time,', 'TimeGenerated AS Time,', 1)} "
            f"FROM AuditLogs, unnest(TargetResources) AS u(tr) WHERE {base} "
            f"AND tr.type = 'AccessPackage' AND tr.id = {sq(p)} ORDER BY Time DESC"
        ),
        "list_contains": select_unnest(f" AND {pre}"),
    }
    if days < 3653:
        out["date-partition"] = select_unnest(f" AND {date_from(days)}")
        out["list_contains+date"] = select_unnest(f" AND {date_from(days)} AND {pre}")
    return out


def q_apa_dropdown(days: int = 3653) -> dict:
    base = f"{since(days)} AND Category = 'EntitlementManagement' AND Result = 'success'"
    td = "concat(tr.displayName, ' ', tr.id)"
    return {
        "unnest-select": (
            f"SELECT DISTINCT tr.id AS AccessPackageId, {td} AS TD FROM (SELECT unnest(TargetResources) AS tr "
            f"FROM AuditLogs WHERE {base}) WHERE tr.type = 'AccessPackage' ORDER BY TD"
        ),
        "lateral": (
            f"SELECT DISTINCT tr.id AS AccessPackageId, {td} AS TD FROM AuditLogs, unnest(TargetResources) AS u(tr) "
            f"WHERE {base} AND tr.type = 'AccessPackage' ORDER BY TD"
        ),
        "list_filter": (
            f"SELECT DISTINCT tr.id AS AccessPackageId, {td} AS TD FROM (SELECT unnest(list_filter("
            f"TargetResources, lambda x: x.type = 'AccessPackage')) AS tr FROM AuditLogs WHERE {base}) ORDER BY TD"
        ),
        "list_contains": (
            f"SELECT DISTINCT tr.id AS AccessPackageId, {td} AS TD FROM (SELECT unnest(TargetResources) AS tr "
            f"FROM AuditLogs WHERE {base} AND list_contains(list_transform(TargetResources, lambda x: x.type), "
            f"'AccessPackage')) WHERE tr.type = 'AccessPackage' ORDER BY TD"
        ),
    }


def q_approle(app: str, days: int = 30) -> dict:
    # The step's time context (`Time`, last 30 days) is a closed range; the workbook's initiator
    # filter `InitiatedBy.app.displayName != X or InitiatedBy.app.appid != ""` is always true
    # (`appid` is not a property: null != "" holds), so it is left out.
    base = (
        f"TimeGenerated BETWEEN {NOW_SQL} - INTERVAL {days} DAY AND {NOW_SQL} "
        f"AND Category IN ('UserManagement', 'GroupManagement', 'ApplicationManagement') "
        f"AND Result = 'success' AND ActivityDisplayName IN ({sql_list(APP_ROLE_ACTIVITIES)})"
    )
    inner_cols = (
        "ActivityDateTime, ActivityDisplayName, InitiatedBy.user.userPrincipalName AS ByUPN, "
        "InitiatedBy.app.servicePrincipalName AS ByServicePrincipal, InitiatedBy.app.displayName AS ByApp"
    )
    out_cols = (
        "ActivityDateTime AS DateTime, ActivityDisplayName, ByUPN, ByServicePrincipal, ByApp, App, "
        "trim(ard.newValue, '\"') AS AppRoleName, trim(upn.newValue, '\"') AS Subject, "
        "trim(uo.newValue, '\"') AS SubjectId"
    )
    f_ard = "lambda m: m.displayName = 'AppRole.DisplayName'"
    f_upn = "lambda m: m.displayName IN ('User.UPN', 'Group.DisplayName')"
    f_uo = "lambda m: m.displayName IN ('User.ObjectID', 'Group.ObjectID')"
    pre = f"list_contains(list_transform(TargetResources, lambda x: x.displayName), {sq(app)})"

    def nested(extra=""):
        # mv-expand, then each mv-apply as one more level of unnest (a cross product, as in KQL).
        return (
            f"SELECT {out_cols} FROM (SELECT *, unnest(list_filter(MP, {f_uo})) AS uo FROM ("
            f"SELECT *, unnest(list_filter(MP, {f_upn})) AS upn FROM ("
            f"SELECT *, unnest(list_filter(MP, {f_ard})) AS ard FROM ("
            f"SELECT * EXCLUDE (tr), tr.displayName AS App, tr.modifiedProperties AS MP FROM ("
            f"SELECT {inner_cols}, unnest(TargetResources) AS tr FROM AuditLogs WHERE {base}{extra}) "
            f"WHERE tr.displayName = {sq(app)} AND len(tr.modifiedProperties) > 0)))) "
            f"ORDER BY DateTime DESC"
        )

    out = {
        "unnest-select": nested(),
        # All four unnests as lateral joins (the mv-apply filters pushed into list_filter: plain
        # lateral unnests of modifiedProperties three times over take minutes).
        "lateral": (
            f"SELECT ActivityDateTime AS DateTime, ActivityDisplayName, "
            f"InitiatedBy.user.userPrincipalName AS ByUPN, InitiatedBy.app.servicePrincipalName AS ByServicePrincipal, "
            f"InitiatedBy.app.displayName AS ByApp, tr.displayName AS App, trim(ard.newValue, '\"') AS AppRoleName, "
            f"trim(upn.newValue, '\"') AS Subject, trim(uo.newValue, '\"') AS SubjectId "
            f"FROM AuditLogs, unnest(TargetResources) AS t1(tr), "
            f"unnest(list_filter(tr.modifiedProperties, {f_ard})) AS t2(ard), "
            f"unnest(list_filter(tr.modifiedProperties, {f_upn})) AS t3(upn), "
            f"unnest(list_filter(tr.modifiedProperties, {f_uo})) AS t4(uo) "
            f"WHERE {base} AND tr.displayName = {sq(app)} ORDER BY DateTime DESC"
        ),
        "list_contains": nested(f" AND {pre}"),
        "date-partition": nested(f" AND {date_from(days)}"),
        "list_contains+date": nested(f" AND {date_from(days)} AND {pre}"),
    }
    return out


def q_approle_dropdown(days: int = 30) -> dict:
    # The Appname drop-down: `TimeGenerated {Time:value}` is `> ago(30d)`.
    base = (
        f"{since(days)} AND Category IN ('UserManagement', 'GroupManagement', 'ApplicationManagement') "
        f"AND Result = 'success' AND ActivityDisplayName IN ({sql_list(APP_ROLE_ACTIVITIES)})"
    )
    return {
        "unnest-select": (
            f"SELECT DISTINCT tr.displayName AS targetAppName FROM (SELECT unnest(TargetResources) AS tr "
            f"FROM AuditLogs WHERE {base}) WHERE tr.displayName <> '' ORDER BY 1"
        ),
        "lateral": (
            f"SELECT DISTINCT tr.displayName AS targetAppName FROM AuditLogs, unnest(TargetResources) AS u(tr) "
            f"WHERE {base} AND tr.displayName <> '' ORDER BY 1"
        ),
        "list_transform": (
            f"SELECT DISTINCT n AS targetAppName FROM (SELECT unnest(list_transform(TargetResources, "
            f"lambda x: x.displayName)) AS n FROM AuditLogs WHERE {base}) WHERE n <> '' ORDER BY 1"
        ),
        "date-partition": (
            f"SELECT DISTINCT tr.displayName AS targetAppName FROM (SELECT unnest(TargetResources) AS tr "
            f"FROM AuditLogs WHERE {base} AND {date_from(days)}) WHERE tr.displayName <> '' ORDER BY 1"
        ),
    }


def q_daily() -> dict:
    return {
        "date_trunc": (
            "SELECT date_trunc('day', TimeGenerated) AS TimeGenerated, Category, count(*) AS count_ "
            "FROM AuditLogs GROUP BY ALL"
        ),
        "time_bucket": (
            "SELECT time_bucket(INTERVAL 1 DAY, TimeGenerated) AS TimeGenerated, Category, count(*) AS count_ "
            "FROM AuditLogs GROUP BY ALL"
        ),
    }


TARGET_COLUMNS = "TimeGenerated, Category, OperationName, Result, InitiatedBy, AdditionalDetails"


def target_kql(tid: str) -> str:
    """Every event that targets one object, all time (benches/workbook_queries.rs `target_kql`)."""
    return (
        f'AuditLogs | mv-expand TargetResources | where TargetResources.id == {json.dumps(tid)} '
        f"| project {TARGET_COLUMNS}, TargetResources | order by TimeGenerated desc"
    )


def q_target(tid: str) -> dict:
    pre = f"list_contains(list_transform(TargetResources, lambda x: x.id), {sq(tid)})"
    return {
        "unnest-select": (
            f"SELECT {TARGET_COLUMNS}, tr AS TargetResources FROM (SELECT {TARGET_COLUMNS}, "
            f"unnest(TargetResources) AS tr FROM AuditLogs) WHERE tr.id = {sq(tid)} ORDER BY TimeGenerated DESC"
        ),
        "list_contains": (
            f"SELECT {TARGET_COLUMNS}, tr AS TargetResources FROM (SELECT {TARGET_COLUMNS}, "
            f"unnest(TargetResources) AS tr FROM AuditLogs WHERE {pre}) WHERE tr.id = {sq(tid)} "
            f"ORDER BY TimeGenerated DESC"
        ),
        "lateral": (
            f"SELECT {TARGET_COLUMNS}, tr AS TargetResources FROM AuditLogs, unnest(TargetResources) AS u(tr) "
            f"WHERE tr.id = {sq(tid)} ORDER BY TimeGenerated DESC"
        ),
    }


REQUEST_OPS = ["User requests access package assignment", "Administrator directly assigns user to access package"]
FULFIL_OPS = ["Fulfill access package assignment", "Fulfill access package assignment request"]
REMOVE_REQUEST_OPS = [
    "User requests to remove access package assignment",
    "Administrator directly removes user access package assignment",
]
APPROVAL_OPS = ["Create request approval", "Add approver to request approval"]


def q_request_status(uid: str) -> dict:
    """The request-status report (workbooks/request-status.yaml, step `requests`) in DuckDB SQL.

    `uid` is the user's object id (the report's `--user UPN` resolves to it through the User
    drop-down; here it is looked up once beforehand). Since and Package are unset: all requests.
    """

    def target(types, field):
        cond = " OR ".join(f"t.type = {sq(x)}" for x in types)
        return f"coalesce(list_max(list_transform(TargetResources, lambda t: CASE WHEN {cond} THEN coalesce(t.{field}, '') ELSE '' END)), '')"

    code = f"""CASE
        WHEN OperationName IN ({sql_list(REQUEST_OPS)}) THEN 'request'
        WHEN OperationName = 'Auto approve access package assignment request' THEN 'auto'
        WHEN OperationName IN ({sql_list(APPROVAL_OPS)}) THEN 'approval'
        WHEN OperationName = 'Approve access package assignment request' THEN 'approve'
        WHEN OperationName = 'Approval stage completed for access package assignment request' THEN 'stage'
        WHEN OperationName = 'Deny access package assignment request' THEN 'deny'
        WHEN OperationName = 'Access package assignment request timed out (no approver action taken)' THEN 'timeout'
        WHEN OperationName = 'Ready to fulfill access package assignment request' THEN 'ready'
        WHEN OperationName IN ({sql_list(FULFIL_OPS)}) AND lower(Result) = 'success' THEN 'fulfill'
        WHEN OperationName IN ({sql_list(FULFIL_OPS)}) OR OperationName = 'Failed access package assignment request' THEN 'fail'
        WHEN OperationName = 'Remove access package assignment' THEN 'remove'
        WHEN OperationName IN ({sql_list(REMOVE_REQUEST_OPS)}) THEN 'removerequest'
        ELSE 'other' END"""
    by = (
        "CASE WHEN coalesce(InitiatedBy.user.userPrincipalName, '') <> '' THEN InitiatedBy.user.userPrincipalName "
        "WHEN coalesce(InitiatedBy.app.displayName, '') <> '' THEN InitiatedBy.app.displayName "
        "ELSE Identity END"
    )
    scope = (
        "(Category = 'EntitlementManagement' OR (Category = 'UserManagement' "
        f"AND OperationName IN ({sql_list(APPROVAL_OPS)}))) AND len(TargetResources) > 0"
    )
    em_lists = f"""SELECT TimeGenerated, CorrelationId, Id AS RecordId, OperationName, Category, Result, ResultReason,
          {target(['AccessPackage'], 'id')} AS PackageId,
          {target(['AccessPackage', 'Request'], 'displayName')} AS PackageName,
          {target(['AccessPackageAssignmentPolicy'], 'displayName')} AS PolicyName,
          {target(['User'], 'id')} AS TargetUserId,
          {target(['User'], 'userPrincipalName')} AS TargetUpn,
          {by} AS ActBy, {code} AS Code
        FROM AuditLogs WHERE {scope}"""
    ids = "list_transform(TargetResources, lambda x: x.id)"
    # Only the records that can matter: those naming the user, and those sharing a correlation
    # id with a record of the entitlement-management category that names the user.
    user_filter = (
        f" AND (list_contains({ids}, {sq(uid)}) OR CorrelationId IN (SELECT CorrelationId FROM AuditLogs "
        f"WHERE Category = 'EntitlementManagement' AND list_contains({ids}, {sq(uid)})))"
    )

    def em_unnest(extra):
        cases = {
            "PackageId": ("t.type = 'AccessPackage'", "t.id"),
            "PackageName": ("t.type IN ('AccessPackage', 'Request')", "t.displayName"),
            "PolicyName": ("t.type = 'AccessPackageAssignmentPolicy'", "t.displayName"),
            "TargetUserId": ("t.type = 'User'", "t.id"),
            "TargetUpn": ("t.type = 'User'", "t.userPrincipalName"),
        }
        aggs = ",\n          ".join(
            f"max(CASE WHEN {c} THEN coalesce({v}, '') ELSE '' END) AS {n}" for n, (c, v) in cases.items()
        )
        return f"""SELECT any_value(TimeGenerated) AS TimeGenerated, any_value(CorrelationId) AS CorrelationId, Id AS RecordId,
          any_value(OperationName) AS OperationName, any_value(Category) AS Category, any_value(Result) AS Result,
          any_value(ResultReason) AS ResultReason, {aggs},
          any_value({by}) AS ActBy, any_value({code}) AS Code
        FROM (SELECT *, unnest(TargetResources) AS t FROM AuditLogs WHERE {scope}{extra}) GROUP BY Id"""

    def report(em_sql: str) -> str:
        u = sq(uid)
        return f"""WITH em AS MATERIALIZED ({em_sql}),
    requests AS (
      SELECT CorrelationId, min(TimeGenerated) AS RequestedAt,
        arg_min({{'op': OperationName, 'pkg': PackageId, 'name': PackageName, 'policy': PolicyName, 'upn': TargetUpn, 'who': ActBy}}, TimeGenerated) AS m
      FROM em WHERE Code = 'request' AND TargetUserId = {u} GROUP BY CorrelationId),
    req AS (SELECT CorrelationId, RequestedAt, m.op AS Request, m.pkg AS RequestPackageId, m.name AS AccessPackage,
        m.policy AS Policy, m.upn AS UserUpn, m.who AS RequestedBy FROM requests),
    chains0 AS (
      SELECT CorrelationId,
        count(*) FILTER (WHERE Code = 'request') AS nReq,
        count(*) FILTER (WHERE Code = 'request' AND OperationName = 'Administrator directly assigns user to access package') AS nAdmin,
        min(TimeGenerated) FILTER (WHERE Code = 'request') AS tReq,
        count(*) FILTER (WHERE Code = 'auto') AS nAuto, max(TimeGenerated) FILTER (WHERE Code = 'auto') AS tAuto,
        count(*) FILTER (WHERE Code = 'approval') AS nAppr, min(TimeGenerated) FILTER (WHERE Code = 'approval') AS tApprFirst,
        max(TimeGenerated) FILTER (WHERE Code = 'approval') AS tApprLast,
        count(*) FILTER (WHERE Code = 'approve') AS nApprove, max(TimeGenerated) FILTER (WHERE Code = 'approve') AS tApproveLast,
        min(TimeGenerated) FILTER (WHERE Code IN ('approve', 'deny', 'timeout')) AS tDecFirst,
        count(*) FILTER (WHERE Code = 'deny') AS nDeny, count(*) FILTER (WHERE Code = 'timeout') AS nTimeout,
        max(TimeGenerated) FILTER (WHERE Code IN ('deny', 'timeout')) AS tNeg,
        count(*) FILTER (WHERE Code = 'ready') AS nReady, min(TimeGenerated) FILTER (WHERE Code = 'ready') AS tReady,
        count(*) FILTER (WHERE Code = 'fulfill') AS nFulfill, min(TimeGenerated) FILTER (WHERE Code = 'fulfill') AS tFulfill,
        count(*) FILTER (WHERE Code = 'fail') AS nFail, min(TimeGenerated) FILTER (WHERE Code = 'fail') AS tFail,
        min(TimeGenerated) FILTER (WHERE Code IN ('fulfill', 'fail')) AS tDone,
        count(*) FILTER (WHERE Code = 'remove') AS nRemove, min(TimeGenerated) FILTER (WHERE Code = 'remove') AS tRemoveIn,
        list(DISTINCT ActBy) FILTER (WHERE Code = 'remove') AS RemovedByIn,
        count(*) FILTER (WHERE Code IN ('other', 'removerequest')) AS nOther,
        min(TimeGenerated) AS tMin, max(TimeGenerated) FILTER (WHERE Code <> 'stage') AS tLast,
        list(DISTINCT OperationName) AS Activities,
        list(DISTINCT ActBy) FILTER (WHERE Code IN ('approve', 'deny')) AS Deciders,
        max(TimeGenerated) FILTER (WHERE Code IN ('auto', 'approve', 'deny', 'timeout')) AS tDecided,
        list(DISTINCT ResultReason) FILTER (WHERE Code = 'fail' AND ResultReason <> '') AS Reasons
      FROM em WHERE CorrelationId IN (SELECT CorrelationId FROM req) GROUP BY CorrelationId),
    chains1 AS (SELECT *, nAdmin > 0 AS isAdmin,
        greatest(tReq, coalesce(tAuto, TIMESTAMPTZ '1900-01-01 00:00:00+00'),
                 coalesce(tApproveLast, TIMESTAMPTZ '1900-01-01 00:00:00+00')) AS tGo FROM chains0),
    chains AS (SELECT *, (nReq = 1 AND tReq <= tMin AND nOther = 0 AND nAuto <= 1
        AND (nAuto = 0 OR (nAppr = 0 AND nApprove + nDeny + nTimeout = 0 AND tAuto >= tReq))
        AND (NOT isAdmin OR nAppr + nApprove + nDeny + nTimeout = 0)
        AND (nApprove + nDeny + nTimeout = 0 OR nAppr = 0 OR tApprFirst <= tDecFirst)
        AND nDeny + nTimeout <= 1
        AND (nDeny + nTimeout = 0 OR (nReady + nFulfill + nFail + nRemove = 0 AND tNeg >= tLast))
        AND (nReady = 0 OR ((nAuto + nApprove > 0 OR isAdmin) AND tReady >= tGo))
        AND nFulfill + nFail <= 1
        AND (nFulfill + nFail = 0 OR (nReady > 0 AND tDone >= tReady))
        AND nRemove <= 1
        AND (nRemove = 0 OR (nFulfill = 1 AND tRemoveIn >= tFulfill))) AS Valid FROM chains1),
    removals AS (SELECT RecordId AS RemovalId, CorrelationId AS RemovalCorrelationId, TimeGenerated AS tRemove,
        ActBy AS RemovedBy, PackageId, PackageName FROM em WHERE Code = 'remove' AND TargetUserId = {u}),
    fulfilled AS (SELECT c.CorrelationId, r.RequestPackageId AS PackageId, c.tFulfill
        FROM chains c JOIN req r USING (CorrelationId) WHERE c.Valid AND c.nFulfill = 1),
    linked AS (SELECT rm.RemovalId, rm.RemovalCorrelationId, rm.tRemove, rm.RemovedBy,
        arg_max(f.CorrelationId, f.tFulfill) AS CorrelationId
        FROM removals rm JOIN fulfilled f ON rm.PackageId = f.PackageId WHERE f.tFulfill < rm.tRemove
        GROUP BY ALL),
    firstRemoval AS (SELECT CorrelationId, min(tRemove) AS tRemove,
        arg_min({{'who': RemovedBy, 'id': RemovalId, 'cid': RemovalCorrelationId}}, tRemove) AS m
        FROM linked GROUP BY CorrelationId),
    report0 AS (SELECT r.*, c.*, fr.tRemove AS frRemove, fr.m.who AS frBy, fr.m.cid AS RemovalCorrelationId,
        CASE WHEN c.nRemove = 1 THEN c.tRemoveIn ELSE fr.tRemove END AS RemovedAt,
        CASE WHEN c.nRemove = 1 THEN array_to_string(c.RemovedByIn, '; ') ELSE fr.m.who END AS RemovedBy
        FROM req r JOIN chains c USING (CorrelationId) LEFT JOIN firstRemoval fr USING (CorrelationId)),
    report AS (SELECT CorrelationId, AccessPackage,
        CASE WHEN NOT Valid THEN 'unknown: ' || array_to_string(Activities, '; ')
             WHEN nFulfill = 1 AND RemovedAt IS NOT NULL THEN 'removed'
             WHEN nFulfill = 1 THEN 'fulfilled'
             WHEN nFail = 1 THEN 'failed'
             WHEN nReady > 0 THEN 'ready to fulfil'
             WHEN nDeny = 1 THEN 'denied'
             WHEN nTimeout = 1 THEN 'timed out'
             WHEN nApprove > 0 AND tApprLast > tApproveLast THEN 'needs approval'
             WHEN nApprove > 0 THEN 'approved'
             WHEN nAuto = 1 THEN 'no approval needed'
             WHEN nAppr > 0 THEN 'needs approval'
             ELSE 'requested' END AS Status,
        RequestedAt, Request, RequestedBy, Policy,
        CASE WHEN nAuto > 0 THEN 'not needed' WHEN nAppr + nApprove + nDeny + nTimeout > 0 THEN 'needed'
             WHEN isAdmin THEN 'direct assignment' ELSE '' END AS Approval,
        CASE WHEN nTimeout > 0 THEN '(timed out: no approver action)' WHEN nAuto > 0 THEN '(auto approved)'
             ELSE array_to_string(Deciders, '; ') END AS DecidedBy,
        tDecided AS DecidedAt, tReady AS ReadyAt, tFulfill AS FulfilledAt, tFail AS FailedAt,
        array_to_string(Reasons, '; ') AS Reason, RemovedAt, RemovedBy, RemovalCorrelationId,
        RequestPackageId AS AccessPackageId FROM report0),
    unlinked AS (SELECT RemovalCorrelationId AS CorrelationId, PackageName AS AccessPackage,
        'removed (the assignment''s request is not in the log)' AS Status, tRemove AS RemovedAt, RemovedBy,
        PackageId AS AccessPackageId FROM removals WHERE RemovalId NOT IN (SELECT RemovalId FROM linked)),
    orphans AS (SELECT CorrelationId, max(PackageName) AS AccessPackage, max(PolicyName) AS Policy,
        max(PackageId) AS AccessPackageId,
        'unknown: ' || array_to_string(list(DISTINCT OperationName), '; ') || ' (the request is not in the log)' AS Status,
        min(TimeGenerated) AS RequestedAt
        FROM em WHERE TargetUserId = {u}
          AND Code IN ('auto', 'approve', 'deny', 'timeout', 'ready', 'fulfill', 'fail', 'stage', 'other')
          AND CorrelationId NOT IN (SELECT CorrelationId FROM req)
        GROUP BY CorrelationId)
    SELECT CorrelationId, AccessPackage, Status, RequestedAt, Request, RequestedBy, Policy, Approval, DecidedBy,
        DecidedAt, ReadyAt, FulfilledAt, FailedAt, Reason, RemovedAt, RemovedBy, RemovalCorrelationId, AccessPackageId
    FROM (SELECT * FROM report UNION ALL BY NAME SELECT * FROM unlinked UNION ALL BY NAME SELECT * FROM orphans)
    ORDER BY coalesce(RequestedAt, RemovedAt), CorrelationId"""

    return {
        "list-functions": report(em_lists),
        "list-functions+user-prefilter": report(em_lists + user_filter),
        "unnest-group+user-prefilter": report(em_unnest(user_filter)),
    }


# --------------------------------------------------------------------------------------------
# Measurement helpers


def measure(fn, runs: int, budget: float, slow: float = 5.0):
    """Times `fn` `runs` times after one warm-up. A warm-up slower than `slow` seconds counts as
    a run (caches matter little then); runs stop once their total passes `budget` seconds (at
    least one run). Returns (times, last value of fn)."""
    t = time.perf_counter()
    value = fn()
    first = time.perf_counter() - t
    times = [first] if first > slow else []
    while len(times) < runs and (not times or sum(times) < budget):
        t = time.perf_counter()
        value = fn()
        times.append(time.perf_counter() - t)
    return times, value


def bracketed(before, after):
    """One in-process result from the runs made before and after the other measurements of a
    case: every run, one median (an error on either side is the result)."""
    for side, other in ((before, after), (after, before)):
        if not side or "error" in side:
            return side or other
    runs = before["runs"] + after["runs"]
    return {**after, "runs": runs, "median": median(runs), "min": min(runs),
            "halves": [before["median"], after["median"]]}


def timed_process(cmd, env=None, stdout=subprocess.DEVNULL, ok=(0,)):
    """Runs `cmd` under /usr/bin/time: (wall seconds, peak RSS in KB, stdout text or None)."""
    with tempfile.NamedTemporaryFile("r", suffix=".time") as tf:
        t = time.perf_counter()
        p = subprocess.run(
            ["/usr/bin/time", "-f", "%e,%M", "-o", tf.name] + [str(c) for c in cmd],
            env=env,
            stdout=stdout,
            stderr=subprocess.PIPE,
            text=True,
        )
        wall = time.perf_counter() - t
        if p.returncode not in ok:
            sys.stderr.write(p.stderr[-4000:])
            raise RuntimeError(f"exit {p.returncode}: {' '.join(str(c) for c in cmd)}")
        line = [l for l in tf.read().strip().splitlines() if "," in l][-1]
        _, rss = line.split(",")
        return wall, int(rss), (p.stdout if stdout == subprocess.PIPE else None)


def run_process(cmd, ok=(0, 1)):
    """Runs a whole auditbook command, output discarded (stderr kept for errors)."""
    p = subprocess.run(
        [str(c) for c in cmd], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    if p.returncode not in ok:
        sys.stderr.write(p.stderr[-4000:])
        raise RuntimeError(f"exit {p.returncode}: {' '.join(str(c) for c in cmd)}")


def parse_json_output(text) -> dict:
    """A command's JSON output: the whole text, or its last line."""
    text = (text or "").strip()
    for candidate in (text, text.splitlines()[-1] if text else ""):
        try:
            value = json.loads(candidate)
            return value if isinstance(value, dict) else {}
        except json.JSONDecodeError:
            continue
    return {}


def dir_bytes(path: Path, pattern="*") -> int:
    return sum(f.stat().st_size for f in path.rglob(pattern) if f.is_file())


# --------------------------------------------------------------------------------------------
# The harness


class LoadSampler:
    """Samples the 1-minute load average every 10 s while the benchmark runs (the machine may be
    shared: the figures are only as good as its quiet)."""

    def __init__(self):
        import threading

        self.samples = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        while not self._stop.is_set():
            self.samples.append(os.getloadavg()[0])
            self._stop.wait(10)

    def summary(self) -> dict:
        self._stop.set()
        xs = self.samples or [os.getloadavg()[0]]
        return {"min": min(xs), "mean": sum(xs) / len(xs), "max": max(xs), "samples": len(xs)}


class Harness:
    def __init__(self, args):
        self.args = args
        self.work = Path(args.work).resolve()
        self.work.mkdir(parents=True, exist_ok=True)
        self.target = Path(os.environ.get("CARGO_TARGET_DIR", "/work/target"))
        self.results: dict = {
            "started": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "loadavg_start": os.getloadavg(),
            "options": {
                k: v for k, v in vars(args).items() if k not in ("duck_ingest",)
            },
        }
        self.state_file = self.work / "state.json"
        self.state = json.loads(self.state_file.read_text()) if self.state_file.exists() else {}

    def save_state(self):
        self.state_file.write_text(json.dumps(self.state, indent=2))

    def wanted(self, name: str) -> bool:
        return not self.args.only or name in self.args.only

    # a. build -----------------------------------------------------------------------------
    def build(self):
        env = dict(os.environ, CARGO_TARGET_DIR=str(self.target))
        sh(["cargo", "build", "--release", "--quiet"], cwd=REPO, env=env)
        self.ab = self.target / "release" / "auditbook"
        p = subprocess.run(
            ["cargo", "bench", "--bench", "workbook_queries", "--no-run", "--message-format=json"],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.wq = None
        for line in p.stdout.splitlines():
            try:
                msg = json.loads(line)
            except json.JSONDecodeError:
                continue
            if msg.get("reason") == "compiler-artifact" and msg["target"]["name"] == "workbook_queries":
                self.wq = msg.get("executable") or self.wq
            elif msg.get("reason") == "compiler-message" and msg["message"].get("level") == "error":
                sys.stderr.write(msg["message"].get("rendered") or "")
        if p.returncode != 0 or not self.wq:
            raise SystemExit("could not build the workbook_queries bench (errors above)")
        log(f"auditbook: {self.ab}\nworkbook_queries: {self.wq}")

    # b. generate ---------------------------------------------------------------------------
    def generated(self, name: str, gen_args: list) -> Path:
        """WORK/NAME/graph from `auditbook generate GEN_ARGS`, reused when made with the same args."""
        out = self.work / name
        key = {"args": gen_args}
        if self.state.get(name) == key and (out / "graph").is_dir():
            log(f"reusing {out} ({' '.join(gen_args)})")
            return out / "graph"
        if out.exists():
            shutil.rmtree(out)
        t = time.perf_counter()
        sh([self.ab, "generate", *gen_args, "--out", out])
        log(f"generated in {time.perf_counter() - t:.1f} s")
        self.state[name] = key
        self.state.pop(f"{name}-dataset", None)
        self.save_state()
        return out / "graph"

    def dataset_key(self, inputs: list) -> dict:
        """What a dataset depends on: its inputs, and the auditbook binary that wrote it (a new
        build may write a different layout, so datasets are not reused across builds)."""
        st = self.ab.stat()
        return {
            "inputs": [str(i) for i in inputs],
            "state": [self.state.get(k) for k in ("gen", "hist")],
            "auditbook": [st.st_size, st.st_mtime_ns],
        }

    def ingest_once(self, data: Path, inputs: list, key: str):
        """An auditbook dataset of `inputs` at `data`, reused when built from the same inputs."""
        want = self.dataset_key(inputs)
        if self.state.get(key) == want and (data / "AuditLogs").is_dir():
            log(f"reusing dataset {data}")
            return
        if data.exists():
            shutil.rmtree(data)
        t = time.perf_counter()
        sh([self.ab, "--data", data, "ingest", "--quiet", *inputs], stdout=subprocess.DEVNULL)
        log(f"ingested {data} in {time.perf_counter() - t:.1f} s")
        self.state[key] = want
        self.save_state()

    # c. ingest ------------------------------------------------------------------------------
    def bench_ingest(self, graph: Path):
        files = sorted(graph.glob("*.ndjson"))
        size = sum(f.stat().st_size for f in files)
        mb = size / 1e6
        log(f"ingest: {len(files)} files, {mb:.0f} MB")
        ab_out, duck_out = self.work / "ingest-ab", self.work / "ingest-duck"
        # Read the input, untimed, before every run, so that each engine starts with it in the
        # page cache: at 10M (13 GB) the first timed run read it from disk (auditbook, timed
        # first, took 80 s against 36 s in its second run), and DuckDB's runs (13 GB of RSS on
        # a 23 GB machine) push part of it out of the cache for the run after them.
        def warm_input() -> None:
            warm = time.monotonic()
            for f in files:
                with open(f, "rb") as fh:
                    while fh.read(16 << 20):
                        pass
            log(f"ingest: input read, untimed ({time.monotonic() - warm:.1f} s)")

        runs = {"auditbook": [], "duckdb": []}
        for i in range(self.args.ingest_runs):
            for name in ("auditbook", "duckdb"):
                out = ab_out if name == "auditbook" else duck_out
                if out.exists():
                    shutil.rmtree(out)
                subprocess.run(["sync"])
                warm_input()
                if name == "auditbook":
                    cmd = [self.ab, "--data", out, "ingest", "--quiet", "--json", graph]
                else:
                    cmd = [sys.executable, __file__, "--duck-ingest", graph, out]
                wall, rss, text = timed_process(cmd, stdout=subprocess.PIPE)
                detail = parse_json_output(text)
                # Keep the summary's counts, not its per-file list.
                detail = {k: v for k, v in detail.items() if not isinstance(v, (list, dict))}
                runs[name].append({"seconds": wall, "rss_kb": rss, "detail": detail})
                log(f"ingest {name} run {i + 1}: {wall:.2f} s, peak RSS {rss / 1024:.0f} MB")
        # Rows written by each, checked against each other.
        con = import_duckdb().connect()
        counts = {}
        for name, out in (("auditbook", ab_out / "AuditLogs"), ("duckdb", duck_out)):
            counts[name] = con.execute(
                f"SELECT count(*) FROM read_parquet({sq(str(out / '*' / '*.parquet'))})"
            ).fetchone()[0]
        sizes = {"auditbook": dir_bytes(ab_out / "AuditLogs", "*.parquet"), "duckdb": dir_bytes(duck_out, "*.parquet")}
        if counts["auditbook"] != counts["duckdb"]:
            log(f"MISMATCH: ingest rows auditbook {counts['auditbook']} != duckdb {counts['duckdb']}")
        res = {"input_bytes": size, "files": len(files), "rows": counts, "parquet_bytes": sizes}
        for name, rs in runs.items():
            secs = median([r["seconds"] for r in rs])
            res[name] = {
                "runs": rs,
                "median_seconds": secs,
                "mb_per_s": mb / secs,
                "peak_rss_kb_median": median([r["rss_kb"] for r in rs]),
                "peak_rss_kb_max": max(r["rss_kb"] for r in rs),
            }
        res["throughput_ratio"] = res["auditbook"]["mb_per_s"] / res["duckdb"]["mb_per_s"]
        res["rss_ratio"] = res["auditbook"]["peak_rss_kb_median"] / res["duckdb"]["peak_rss_kb_median"]
        self.results["ingest"] = res
        shutil.rmtree(duck_out, ignore_errors=True)
        # The last auditbook run becomes the dataset the queries read.
        data = self.work / "ab"
        if data.exists():
            shutil.rmtree(data)
        ab_out.rename(data)
        self.state["ab"] = self.dataset_key([graph])
        self.save_state()

    # d. picks -------------------------------------------------------------------------------
    def pick(self, data: Path) -> dict:
        con = duck_connect(data)
        p = con.execute(
            "SELECT tr.id, count(*) AS n FROM (SELECT unnest(TargetResources) AS tr FROM AuditLogs "
            "WHERE Category = 'EntitlementManagement') WHERE tr.type = 'AccessPackage' "
            "GROUP BY 1 ORDER BY n DESC, 1 LIMIT 1"
        ).fetchone()
        a = con.execute(
            f"SELECT tr.displayName, count(*) AS n FROM (SELECT unnest(TargetResources) AS tr FROM AuditLogs "
            f"WHERE TimeGenerated BETWEEN {NOW_SQL} - INTERVAL 30 DAY AND {NOW_SQL} AND Result = 'success' "
            f"AND Category IN ('UserManagement', 'GroupManagement', 'ApplicationManagement') "
            f"AND ActivityDisplayName IN ({sql_list(APP_ROLE_ACTIVITIES)})) "
            f"WHERE coalesce(tr.displayName, '') <> '' AND len(tr.modifiedProperties) > 0 "
            f"GROUP BY 1 ORDER BY n DESC, 1 LIMIT 1"
        ).fetchone()
        u = con.execute(
            f"SELECT tr.userPrincipalName, tr.id, count(DISTINCT CorrelationId) AS n FROM ("
            f"SELECT CorrelationId, unnest(TargetResources) AS tr FROM AuditLogs WHERE Category = 'EntitlementManagement' "
            f"AND OperationName = 'User requests access package assignment') "
            f"WHERE tr.type = 'User' AND coalesce(tr.userPrincipalName, '') <> '' "
            f"GROUP BY 1, 2 ORDER BY n DESC, 1 LIMIT 1"
        ).fetchone()
        # A user some events target (a few dozen, over months): the security reader's question.
        t = con.execute(
            "SELECT tr.id, count(*) AS n FROM (SELECT unnest(TargetResources) AS tr FROM AuditLogs) "
            "WHERE tr.type = 'User' GROUP BY 1 "
            # The most targeted with at most 60 events; when every user has more (10M events),
            # the least targeted.
            "ORDER BY n > 60, CASE WHEN n <= 60 THEN -n ELSE n END, 1 LIMIT 1"
        ).fetchone()
        picks = {
            "target": t[0],
            "target_events": t[1],
            "package": p[0],
            "package_events": p[1],
            "app": a[0],
            "app_events_30d": a[1],
            "user": u[0],
            "user_id": u[1],
            "user_requests": u[2],
        }
        log(f"picks: {picks}")
        return picks

    # e. queries -----------------------------------------------------------------------------
    def process_cmd(self, case: str, data: Path, picks: dict) -> list:
        ab = [self.ab, "--data", data]
        return {
            "apa-30d": ab + ["run", "access-package-activity", "--param", f"AccessPackageId={picks['package']}",
                             "--param", "Since=30d", "--now", NOW, "--format", "csv"],
            "apa-all": ab + ["run", "access-package-activity", "--param", f"AccessPackageId={picks['package']}",
                             "--param", "Since=3653d", "--now", NOW, "--format", "csv"],
            "apa-dropdown": ab + ["params", "access-package-activity", "--now", NOW, "--format", "json"],
            "approle-30d": ab + ["run", "app-role-assignment-activity", "--param", f"Appname={picks['app']}",
                                 "--param", "Time=30d", "--now", NOW, "--format", "csv"],
            "approle-dropdown": ab + ["params", "app-role-assignment-activity", "--param", "Time=30d",
                                      "--now", NOW, "--format", "json"],
            "daily-by-category": ab + ["query", "--kql", DAILY_KQL, "--format", "csv"],
            "request-status": ab + ["report", "request-status", "--user", picks["user"], "--now", NOW,
                                    "--format", "csv"],
            "target-events": ab + ["query", "--kql", target_kql(picks["target"]), "--format", "csv"],
        }[case]

    def duck_queries(self, case: str, picks: dict) -> dict:
        return {
            "apa-30d": lambda: q_apa(picks["package"], 30),
            "apa-all": lambda: q_apa(picks["package"], 3653),
            "apa-dropdown": lambda: q_apa_dropdown(3653),
            "approle-30d": lambda: q_approle(picks["app"], 30),
            "approle-dropdown": lambda: q_approle_dropdown(30),
            "daily-by-category": q_daily,
            "request-status": lambda: q_request_status(picks["user_id"]),
            "target-events": lambda: q_target(picks["target"]),
        }[case]()

    def in_process(self, data: Path, picks: dict, cases: list, runs=None, quiet=False) -> dict:
        """auditbook in process: the workbook_queries bench, one JSON line per case."""
        if not cases:
            return {}
        cmd = [
            self.wq, "--data", data, "--now", NOW, "--runs", runs or self.args.runs, "--budget", self.args.budget,
            "--package", picks["package"], "--app", picks["app"], "--user", picks["user"],
            "--target", picks["target"],
            "--only", ",".join(cases),
        ]
        if not quiet:
            log("in process: " + " ".join(cases))
        p = subprocess.run([str(c) for c in cmd], stdout=subprocess.PIPE, text=True)
        out = {}
        for line in p.stdout.splitlines():
            line = line.strip()
            if line.startswith("{"):
                r = json.loads(line)
                out[r["name"]] = r
                if "error" in r:
                    log(f"ERROR in process {r['name']}: {r['error']}")
                elif not quiet:
                    log(f"in process {r['name']}: median {r['median']:.3f} s, rows {r['rows']}")
        return out

    def duck_case(self, con, case: str, picks: dict) -> dict:
        forms = {}
        for name, sql in self.duck_queries(case, picks).items():
            rows = None

            def once(sql=sql):
                # execute() runs the query to the end and keeps the whole result inside DuckDB
                # (what auditbook's collect does); converting it to Python objects is not timed.
                return con.execute(sql)

            try:
                t = time.perf_counter()
                rel = once()
                first = time.perf_counter() - t
                rows = len(rel.fetchall())
                best = min((v["median"] for v in forms.values() if "median" in v), default=None)
                if best is not None and first > 1.0 and first > 5 * best:
                    # Hopeless next to a faster formulation: its one run is its figure.
                    times = [first]
                    log(f"duckdb {case} [{name}]: {first:.2f} s, over 5x the best: not repeated")
                else:
                    times, _ = measure(once, self.args.runs, self.args.budget)
            except Exception as e:  # a formulation DuckDB refuses is reported, not fatal
                log(f"duckdb {case} [{name}] failed: {e}")
                forms[name] = {"error": str(e)}
                continue
            forms[name] = {"runs": times, "median": median(times), "rows": rows}
            log(f"duckdb {case} [{name}]: median {median(times):.3f} s, rows {rows}")
        ok = {k: v for k, v in forms.items() if "median" in v}
        best = min(ok, key=lambda k: ok[k]["median"]) if ok else None
        row_counts = {v["rows"] for v in ok.values()}
        if len(row_counts) > 1:
            log(f"MISMATCH: DuckDB formulations of {case} disagree on rows: "
                + ", ".join(f"{k}={v['rows']}" for k, v in ok.items()))
        return {"formulations": forms, "best": best, "median": ok[best]["median"] if best else None,
                "rows": ok[best]["rows"] if best else None}

    def paired(self, data: Path, picks: dict, case: str, con, form: str) -> dict:
        """Paired rounds, `--runs` of them: one in-process run (its own invocation, after its
        warm-up), then one run of DuckDB's best formulation (after a warm-up run too: DuckDB's
        first run after a pause is slower than its next). The two sides of a pair are a second
        apart, so the machine's drift weighs on both alike; the ratio of each pair, and their
        median."""
        sql = self.duck_queries(case, picks)[form]
        pairs = []
        for _ in range(self.args.runs):
            ab = self.in_process(data, picks, [case], runs=1, quiet=True).get(case)
            if not ab or "error" in ab:
                return {"error": (ab or {}).get("error", "no result")}
            con.execute(sql)
            t = time.perf_counter()
            con.execute(sql)
            pairs.append([ab["runs"][0], time.perf_counter() - t])
        ratios = [a / d for a, d in pairs]
        log(f"paired {case}: median ratio {median(ratios):.2f} over {len(pairs)} rounds")
        return {"formulation": form, "pairs": pairs, "ratios": ratios, "median_ratio": median(ratios)}

    def bench_queries(self, data: Path, picks: dict):
        cases = [c for c in CASES if self.wanted(c)]
        res = {}
        con = duck_connect(data)
        for case in cases:
            # The in-process runs bracket the case's process and DuckDB runs (half before, half
            # after, one median over both halves), so a machine whose speed drifts during the
            # run (it is shared) weighs on both sides alike.
            before = self.in_process(data, picks, [case]).get(case)
            r = {}
            cmd = self.process_cmd(case, data, picks)
            r["process_command"] = " ".join(str(c) for c in cmd[1:])
            try:
                times, _ = measure(lambda: run_process(cmd), self.args.runs, self.args.budget)
                r["process"] = {"runs": times, "median": median(times)}
                log(f"process {case}: median {median(times):.3f} s")
            except RuntimeError as e:
                log(f"ERROR process {case}: {e}")
                r["process"] = {"error": str(e)}
            r["duckdb"] = self.duck_case(con, case, picks)
            after = self.in_process(data, picks, [case]).get(case)
            r["in_process"] = bracketed(before, after)
            if r["duckdb"].get("best"):
                r["paired"] = self.paired(data, picks, case, con, r["duckdb"]["best"])
            ab_rows = (r["in_process"] or {}).get("rows")
            duck_rows = r["duckdb"]["rows"]
            r["rows_agree"] = ab_rows == duck_rows
            if not r["rows_agree"]:
                log(f"MISMATCH: {case}: auditbook {ab_rows} rows, DuckDB {duck_rows} rows")
            res[case] = r
        self.results["queries"] = res

    # f. history -----------------------------------------------------------------------------
    def bench_history(self, graph: Path, picks: dict):
        n = self.args.events
        density = self.args.history_density
        if density is None:
            density = 0.25 if n <= 1_000_000 else 0.25 * 1_000_000 / n
        days = 1003
        hist_events = max(1, round(n / 90 * days * density))
        log(f"history: {hist_events} events over {days} days before 2026-08-03 ({density:g} x the per-day density)")
        hgraph = self.generated(
            "hist", ["--events", str(hist_events), "--end", "2026-08-03", "--days", str(days), "--seed", "7"]
        )
        data = self.work / "ab-hist"
        self.ingest_once(data, [graph, hgraph], "ab-hist")
        cases = ["apa-30d", "approle-30d"]
        three_months = self.results.get("queries", {})
        res = {"history_events": hist_events, "density": density, "days": days, "cases": {}}
        # Both datasets measured here, alternately (3 months, 3 years, 3 months, 3 years), each
        # one median over its two batches: the speed of the machine drifts.
        batches = [self.in_process(d, picks, cases) for d in (self.work / "ab", data) * 2]
        inproc_short, inproc_hist = (
            {c: bracketed(first.get(c), second.get(c)) for c in cases}
            for first, second in (batches[0::2], batches[1::2])
        )
        con_short, con_hist = duck_connect(self.work / "ab"), duck_connect(data)
        for case in cases:
            short = inproc_short.get(case) or {}
            long = inproc_hist.get(case) or {}
            entry = {"3m": short, "3y": long}
            # DuckDB's best formulation on both, for reference.
            best = (three_months.get(case) or {}).get("duckdb", {}).get("best")
            queries = self.duck_queries(case, picks)
            form = best or next(iter(queries))
            for label, con in (("duckdb_3m", con_short), ("duckdb_3y", con_hist)):
                times, _ = measure(lambda con=con: con.execute(queries[form]), self.args.runs, self.args.budget)
                entry[label] = {"formulation": form, "median": median(times), "runs": times}
            if short.get("median") and long.get("median"):
                entry["ratio"] = long["median"] / short["median"]
                if short.get("rows") != long.get("rows"):
                    log(f"MISMATCH: {case}: {short.get('rows')} rows on 3 months, {long.get('rows')} on 3 years")
            entry["duckdb_ratio"] = entry["duckdb_3y"]["median"] / entry["duckdb_3m"]["median"]
            log(f"history {case}: ratio {entry.get('ratio')} (DuckDB {entry['duckdb_ratio']:.2f})")
            res["cases"][case] = entry
        self.results["history"] = res

    # g. cold start --------------------------------------------------------------------------
    def bench_cold(self):
        data = self.work / "sample"
        if data.exists():
            shutil.rmtree(data)
        sh([self.ab, "--data", data, "ingest", "--quiet", REPO / "sample-data"], stdout=subprocess.DEVNULL)
        cmd = [self.ab, "--data", data, "run", "access-package-activity",
               "--param", f"AccessPackageId={SAMPLE_PACKAGE}", "--param", "Since=3653d", "--format", "csv"]
        run_process(cmd)  # warm the page cache: "cold" is the process, not the disk
        times, rss = [], []
        for _ in range(self.args.cold_runs):
            wall, kb, _ = timed_process(cmd, ok=(0, 1))
            times.append(wall)
            rss.append(kb)
        self.results["cold"] = {
            "command": " ".join(str(c) for c in cmd[1:]),
            "runs": times,
            "median": median(times),
            "min": min(times),
            "peak_rss_kb_median": median(rss),
        }
        log(f"cold run: median {median(times) * 1000:.0f} ms")

    # h. report ------------------------------------------------------------------------------
    def machine(self) -> dict:
        def out(cmd):
            try:
                return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                                      cwd=REPO).stdout.strip()
            except OSError:
                return ""

        cpu = ""
        for line in out(["lscpu"]).splitlines():
            if line.startswith("Model name:"):
                cpu = line.split(":", 1)[1].strip()
        mem_kb = 0
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_kb = int(line.split()[1])
        os_name = platform.platform()
        try:
            for line in Path("/etc/os-release").read_text().splitlines():
                if line.startswith("PRETTY_NAME="):
                    os_name = line.split("=", 1)[1].strip('"')
        except OSError:
            pass
        status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=REPO,
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True).stdout
        dirty = [l[3:] for l in status.splitlines() if len(l) > 3]
        return {
            "cpu": cpu,
            "cores": os.cpu_count(),
            "ram_gb": round(mem_kb / 1024 / 1024, 1),
            "os": os_name,
            "kernel": platform.release(),
            "rustc": out(["rustc", "--version"]),
            "duckdb": import_duckdb().__version__,
            "python": platform.python_version(),
            "commit": out(["git", "rev-parse", "--short=12", "HEAD"]),
            "uncommitted": dirty,
        }

    def table(self) -> list:
        """Rows of the summary table."""
        rows = []
        ing = self.results.get("ingest")
        if ing:
            # Whole processes: in the "process" column.
            a, d = ing["auditbook"], ing["duckdb"]
            rows.append([
                "ingest throughput (MB/s)", "", f"{a['mb_per_s']:.0f}", f"{d['mb_per_s']:.0f}",
                "", f"{ing['throughput_ratio']:.2f}x", f">= {TARGET_INGEST_THROUGHPUT}x",
                "yes" if ing["throughput_ratio"] >= TARGET_INGEST_THROUGHPUT else "no",
            ])
            rows.append([
                "ingest peak RSS (MB)", "", f"{a['peak_rss_kb_median'] / 1024:.0f}",
                f"{d['peak_rss_kb_median'] / 1024:.0f}", "", f"{ing['rss_ratio']:.2f}x",
                f"<= {TARGET_INGEST_RSS}x", "yes" if ing["rss_ratio"] <= TARGET_INGEST_RSS else "no",
            ])
            rows.append([
                "ingest wall time", "", fmt_s(a["median_seconds"]), fmt_s(d["median_seconds"]),
                "", f"{a['median_seconds'] / d['median_seconds']:.2f}x", "", "",
            ])
            pb = ing["parquet_bytes"]
            rows.append([
                "Parquet written (MB)", "", f"{pb['auditbook'] / 1e6:.0f}", f"{pb['duckdb'] / 1e6:.0f}",
                "", f"{pb['auditbook'] / pb['duckdb']:.2f}x", "", "",
            ])
        for case, r in (self.results.get("queries") or {}).items():
            ip = (r.get("in_process") or {}).get("median")
            pr = (r.get("process") or {}).get("median")
            dk = r["duckdb"].get("median")
            ratio_ip = ip / dk if ip and dk else None
            ratio_pr = pr / dk if pr and dk else None
            met_ip = ratio_ip is not None and ratio_ip <= TARGET_QUERY_IN_PROCESS
            met_pr = ratio_pr is not None and ratio_pr <= TARGET_QUERY_PROCESS
            rows.append([
                case + ("" if r.get("rows_agree") else " (ROWS MISMATCH)"),
                fmt_s(ip), fmt_s(pr),
                f"{fmt_s(dk)} ({r['duckdb'].get('best')})",
                fmt_x(ratio_ip), fmt_x(ratio_pr),
                f"<= {TARGET_QUERY_IN_PROCESS}x / <= {TARGET_QUERY_PROCESS}x",
                f"{'yes' if met_ip else 'no'} / {'yes' if met_pr else 'no'}",
            ])
        hist = self.results.get("history")
        if hist:
            for case, e in hist["cases"].items():
                ratio = e.get("ratio")
                rows.append([
                    f"{case}, 3 years / 3 months of history",
                    f"{fmt_s(e['3y'].get('median'))} / {fmt_s(e['3m'].get('median'))} = {fmt_x(ratio)}", "",
                    f"{fmt_s(e['duckdb_3y']['median'])} / {fmt_s(e['duckdb_3m']['median'])} = "
                    f"{fmt_x(e['duckdb_ratio'])} ({e['duckdb_3y']['formulation']})",
                    "", "", f"<= {TARGET_HISTORY}x",
                    "yes" if ratio is not None and ratio <= TARGET_HISTORY else "no",
                ])
        cold = self.results.get("cold")
        if cold:
            rows.append([
                "cold run on sample-data", "", f"{cold['median'] * 1000:.0f} ms", "", "", "",
                f"< {TARGET_COLD_S * 1000:.0f} ms", "yes" if cold["median"] < TARGET_COLD_S else "no",
            ])
        return rows

    def markdown(self) -> str:
        r = self.results
        m = r["machine"]
        head = ["case", "auditbook in process", "auditbook process", "DuckDB best (formulation)",
                "in process / DuckDB", "process / DuckDB", "target", "met"]
        lines = [
            f"Run of {r['finished'][:10]} — N = {r['events']:,} events"
            + (f" ({r['ingest']['input_bytes'] / 1e6:,.0f} MB of Graph NDJSON)" if r.get("ingest") else "")
            + f"; medians of up to {r['options']['runs']} runs (ingest: {r['options']['ingest_runs']}).",
            "",
            f"- Machine: {m['cpu']}, {m['cores']} cores, {m['ram_gb']} GB RAM; {m['os']}, kernel {m['kernel']}",
            f"- rustc: {m['rustc']}; DuckDB {m['duckdb']} (Python {m['python']})",
            f"- auditbook commit {m['commit']}"
            + (f" plus uncommitted changes in {', '.join(m['uncommitted'])}" if m["uncommitted"] else ""),
            f"- Load average at start / end: {fmt_load(r['loadavg_start'])} / {fmt_load(r['loadavg_end'])}"
            + (f"; 1-minute load during the measurements: mean {r['load_during_run']['mean']:.1f}, "
               f"max {r['load_during_run']['max']:.1f} (on {m['cores']} cores)" if r.get("load_during_run") else ""),
        ]
        if r.get("picks"):
            p = r["picks"]
            lines.append(
                f"- Parameters: package `{p['package']}` ({p['package_events']} events), app `{p['app']}` "
                f"({p['app_events_30d']} target records in 30 days), user `{p['user']}` ({p['user_requests']} requests)"
                + (f", target `{p['target']}` ({p['target_events']} events)" if "target" in p else "")
            )
        if r.get("history"):
            h = r["history"]
            lines.append(
                f"- History: {h['history_events']:,} more events over the {h['days']} days before the 3 months "
                f"({h['density']:g} x their per-day density)"
            )
        lines += ["", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for row in self.table():
            lines.append("| " + " | ".join(row) + " |")
        mism = [c for c, q in (r.get("queries") or {}).items() if not q.get("rows_agree")]
        if mism:
            lines += ["", f"**MISMATCH**: auditbook and DuckDB disagree on the row counts of {', '.join(mism)}."]
        paired = [
            f"{c} {fmt_x(q['paired']['median_ratio'])}"
            for c, q in (r.get("queries") or {}).items()
            if (q.get("paired") or {}).get("median_ratio")
        ]
        if paired:
            lines += ["", f"Paired in-process ratios ({r['options']['runs']} rounds of one auditbook run, then one "
                      "run of DuckDB's best formulation; median of the per-pair ratios; not the `met` column): "
                      + ", ".join(paired) + "."]
        lines += ["", "Row counts and every formulation's median are in `benches/results/latest.json`."]
        q = r.get("queries") or {}
        if q:
            lines += ["", "<details><summary>DuckDB formulations (median seconds, rows)</summary>", ""]
            for case, e in q.items():
                forms = ", ".join(
                    f"{k} {fmt_s(v.get('median'))}" if "median" in v else f"{k} failed"
                    for k, v in e["duckdb"]["formulations"].items()
                )
                lines.append(f"- {case} ({e['duckdb'].get('rows')} rows; auditbook "
                             f"{(e.get('in_process') or {}).get('rows')}): {forms}")
            lines += ["", "</details>"]
        return "\n".join(lines)

    def write(self, text: str):
        md = REPO / "BENCHMARKS.md"
        body = md.read_text() if md.exists() else "# Benchmarks\n\n"
        block = f"{RESULTS_START}\n{text}\n{RESULTS_END}"
        if RESULTS_START in body and RESULTS_END in body:
            pre, rest = body.split(RESULTS_START, 1)
            _, post = rest.split(RESULTS_END, 1)
            body = pre + block + post
        else:
            body = body.rstrip("\n") + "\n\n" + block + "\n"
        md.write_text(body)
        log(f"wrote {md}")

    # ---------------------------------------------------------------------------------------
    def run(self):
        a = self.args
        t0 = time.perf_counter()
        self.build()
        import_duckdb()
        # What was measured: the tree as built (other work may change it during the run).
        self.results["machine"] = self.machine()
        sampler = LoadSampler()
        cores = os.cpu_count() or 1
        if os.getloadavg()[0] > cores:
            log(f"WARNING: the machine is busy (load {os.getloadavg()[0]:.1f} on {cores} cores): "
                "figures will be noisy")
        self.results["events"] = a.events
        if a.graph:
            graph = Path(a.graph).resolve()
            log(f"using existing Graph NDJSON in {graph} (never modified)")
            self.state["gen"] = {"external": str(graph)}
        else:
            graph = self.generated("gen", ["--events", str(a.events)])
        if not a.skip_ingest and self.wanted("ingest"):
            self.bench_ingest(graph)
        else:
            self.ingest_once(self.work / "ab", [graph], "ab")
        data = self.work / "ab"
        picks = self.pick(data)
        self.results["picks"] = picks
        if any(self.wanted(c) for c in CASES):
            self.bench_queries(data, picks)
        if not a.skip_history and self.wanted("history"):
            self.bench_history(graph, picks)
        if self.wanted("cold"):
            self.bench_cold()
        self.results["loadavg_end"] = os.getloadavg()
        self.results["load_during_run"] = sampler.summary()
        self.results["finished"] = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
        self.results["total_seconds"] = time.perf_counter() - t0

        print_table(self.table())
        full = not (a.only or a.skip_ingest or a.skip_history or a.graph)
        out_dir = REPO / "benches" / "results"
        out_dir.mkdir(parents=True, exist_ok=True)
        if full or a.write:
            (out_dir / "latest.json").write_text(json.dumps(self.results, indent=2) + "\n")
            self.write(self.markdown())
        else:
            path = out_dir / "partial.json"
            path.write_text(json.dumps(self.results, indent=2) + "\n")
            log(f"partial run: wrote {path} only (BENCHMARKS.md is rewritten by full runs or with --write)")
        log(f"done in {self.results['total_seconds'] / 60:.1f} min")


def fmt_s(s) -> str:
    if s is None:
        return "-"
    return f"{s * 1000:.0f} ms" if s < 1 else f"{s:.2f} s"


def fmt_x(x) -> str:
    return "-" if x is None else f"{x:.2f}x"


def fmt_load(l) -> str:
    return " ".join(f"{x:.1f}" for x in l) if l else "-"


def print_table(rows):
    head = ["case", "in process", "process", "DuckDB best", "in/duck", "proc/duck", "target", "met"]
    widths = [max(len(str(r[i])) for r in [head] + rows) for i in range(len(head))]
    for r in [head] + rows:
        print("  ".join(str(c).ljust(w) for c, w in zip(r, widths)))


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "--duck-ingest":
        duck_ingest_main(sys.argv[2], sys.argv[3])
        return
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=1_000_000, help="events to generate (default 1M)")
    ap.add_argument("--ten-million", action="store_true", help="10M events")
    ap.add_argument("--runs", type=int, default=5, help="runs per query measurement (median; default 5)")
    ap.add_argument("--ingest-runs", type=int, default=3, help="ingest runs per engine (default 3)")
    ap.add_argument("--cold-runs", type=int, default=10, help="runs of the cold-start case (default 10)")
    ap.add_argument("--budget", type=float, default=60.0,
                    help="seconds per case and engine after which runs stop early (default 60)")
    ap.add_argument("--work", default="/work/bench-run", help="work directory (default /work/bench-run)")
    ap.add_argument("--graph", help="use this existing Graph NDJSON directory instead of generating")
    ap.add_argument("--skip-ingest", action="store_true", help="do not time the ingest (reuse WORK/ab when the same build wrote it)")
    ap.add_argument("--skip-history", action="store_true", help="skip the 3 months vs 3 years case")
    ap.add_argument("--history-density", type=float,
                    help="per-day density of the older history relative to the 3 months "
                         "(default 0.25 at <= 1M events, scaled to the same event count above)")
    ap.add_argument("--only", action="append", default=[],
                    help="only these parts (repeatable or comma-separated): " + ", ".join(CASES + ["ingest", "history", "cold"]))
    ap.add_argument("--write", action="store_true", help="rewrite BENCHMARKS.md even for a partial run")
    ap.add_argument("--render", metavar="JSON",
                    help="measure nothing: print the table of a results file and rewrite BENCHMARKS.md from it")
    args = ap.parse_args()
    if args.ten_million:
        args.events = 10_000_000
    args.only = [x for o in args.only for x in o.split(",") if x]
    unknown = set(args.only) - set(CASES + ["ingest", "history", "cold"])
    if unknown:
        ap.error(f"unknown --only parts: {', '.join(sorted(unknown))}")
    if args.render:
        h = Harness.__new__(Harness)
        h.results = json.loads(Path(args.render).read_text())
        print_table(h.table())
        h.write(h.markdown())
        return
    Harness(args).run()


if __name__ == "__main__":
    main()
