//! Entitlement-management snapshots end to end: a Graph export folder into the `Entra*` tables
//! (every table and its values, paging across files and NDJSON pages, enum casing, quarantine,
//! idempotent re-ingest, two snapshot dates, `--format auto`, the missing-date error).

mod util;

use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use util::*;

const NOV: &str = "snapshot/snapshot-2026-11-01";
const DEC: &str = "snapshot/snapshot-2026-12-01";

/// `auditbook ingest --json ARGS...`: the summary (counts checked to add up) and the run.
fn ingest_args(data: &Path, args: &[&str], paths: &[PathBuf]) -> (Value, Run) {
    let r: Run = bin()
        .arg("--data")
        .arg(data)
        .arg("ingest")
        .arg("--json")
        .args(args)
        .args(paths)
        .output()
        .expect("auditbook runs")
        .into();
    assert!(
        r.code == 0 || r.code == 1,
        "ingest failed ({}):\n{}\n{}",
        r.code,
        r.stdout,
        r.stderr
    );
    let summary = r.json();
    let n = |v: &Value, k: &str| v[k].as_u64().unwrap();
    assert_eq!(
        n(&summary, "read"),
        n(&summary, "written") + n(&summary, "duplicates") + n(&summary, "rejected"),
        "{summary}"
    );
    for t in summary["snapshots"].as_array().into_iter().flatten() {
        assert_eq!(
            n(t, "read"),
            n(t, "written") + n(t, "duplicates") + n(t, "rejected"),
            "per table: {t}"
        );
    }
    (summary, r)
}

/// The exit code an ingest with this summary ends with.
fn first_code(summary: &Value) -> i32 {
    i32::from(summary["rejected"].as_u64().unwrap() > 0)
}

/// `auditbook query --kql KQL --format json`: the rows.
fn kql(data: &Path, query: &str) -> Vec<Value> {
    let r = run(data, &["query", "--format", "json", "--kql", query]);
    assert_eq!(
        r.code, 0,
        "query failed: {query}\n{}\n{}",
        r.stdout, r.stderr
    );
    match r.json() {
        Value::Array(rows) => rows,
        other => panic!("not an array: {other}"),
    }
}

fn kql_one(data: &Path, query: &str) -> Value {
    let rows = kql(data, query);
    assert_eq!(rows.len(), 1, "one row expected for {query}: {rows:?}");
    rows.into_iter().next().unwrap()
}

/// Per-table counts of a summary: table → (read, written, duplicates, rejected).
fn table_counts(summary: &Value, table: &str, date: &str) -> (u64, u64, u64, u64) {
    let t = summary["snapshots"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["table"] == table && t["snapshot_date"].as_str().unwrap().starts_with(date))
        .unwrap_or_else(|| panic!("no {table} @ {date} in {summary}"));
    let n = |k: &str| t[k].as_u64().unwrap();
    (n("read"), n("written"), n("duplicates"), n("rejected"))
}

#[test]
fn every_table_gets_its_rows_and_values() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let (summary, run) = ingest_args(&data, &[], &[fixture(NOV)]);
    assert_eq!(run.code, 1, "two records are quarantined: {}", run.stderr);
    // users 4 (one repeated across pages), groups 2, membership 2 + 4 (one repeated), catalogs 2,
    // packages 2, policies 3, assignments 5 (2 bad), role scopes 2 + 1 (the same role scope id in
    // a second package is not a duplicate), requests 2, organizations 2.
    assert_eq!(counts(&summary), (31, 27, 2, 2));
    assert!(
        summary["files"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["format"] == "snapshot" && f["detected"] == true),
        "{summary}"
    );
    assert_eq!(
        table_counts(&summary, "EntraUsers", "2026-11-01"),
        (4, 3, 1, 0)
    );
    assert_eq!(
        table_counts(&summary, "EntraGroupMembership", "2026-11-01"),
        (6, 5, 1, 0)
    );
    assert_eq!(
        table_counts(&summary, "EntraAccessPackageAssignments", "2026-11-01"),
        (5, 3, 0, 2)
    );
    assert_eq!(summary["snapshots"].as_array().unwrap().len(), 10);
    assert!(
        run.stderr.contains(
            "users.2.json: detected snapshot (JSON document) → EntraUsers @ 2026-11-01T00:00:00Z, 2 record(s)"
        ),
        "{}",
        run.stderr
    );

    // Users: paging across users.json and users.2.json; UserType and ExternalUserState casing.
    let rows = kql(
        &data,
        "EntraUsers | project Id, DisplayName, UserType, AccountEnabled, ExternalUserState, CreatedDateTime, SnapshotDate | order by Id asc",
    );
    assert_eq!(rows.len(), 3);
    assert_eq!(
        rows[0],
        json!({"Id": "0b6e4a2d-1c3f-4e5a-9b7c-8d9e0f1a2b3c", "DisplayName": "Maya Lindqvist", "UserType": "Member",
            "AccountEnabled": true, "ExternalUserState": "", "CreatedDateTime": "2024-03-11T09:30:00.000000000Z",
            "SnapshotDate": "2026-11-01T00:00:00.000000000Z"})
    );
    assert_eq!(rows[1]["UserType"], "Member", "`member` normalised");
    assert_eq!(rows[1]["AccountEnabled"], false);
    assert_eq!(rows[2]["UserType"], "Guest", "`GUEST` normalised");
    assert_eq!(rows[2]["ExternalUserState"], "PendingAcceptance");
    assert_eq!(rows[2]["CreatedDateTime"], "2026-09-30T14:05:06.123456700Z");

    // Groups: a bare array without @odata.context, identified by its file name.
    let r = kql_one(
        &data,
        "EntraGroups | where DisplayName == 'Sales Team' | project Id, MailEnabled, GroupTypes",
    );
    assert_eq!(
        r,
        json!({"Id": "0f5c1a2b-0001-4000-8000-00000000a001", "MailEnabled": true, "GroupTypes": ["Unified"]})
    );

    // Membership: direct members (context directoryObjects + folder layout) and transitive ones
    // from NDJSON pages; the group id comes from the folder.
    let rows = kql(
        &data,
        "EntraGroupMembership | project GroupId, MemberId, MemberType, Transitive | order by Transitive asc, MemberId asc",
    );
    let g = "0f5c1a2b-0001-4000-8000-00000000a001";
    assert_eq!(
        rows,
        vec![
            json!({"GroupId": g, "MemberId": "0b6e4a2d-1c3f-4e5a-9b7c-8d9e0f1a2b3c", "MemberType": "user", "Transitive": false}),
            json!({"GroupId": g, "MemberId": "0f5c1a2b-0002-4000-8000-00000000a002", "MemberType": "group", "Transitive": false}),
            json!({"GroupId": g, "MemberId": "0b6e4a2d-1c3f-4e5a-9b7c-8d9e0f1a2b3c", "MemberType": "user", "Transitive": true}),
            json!({"GroupId": g, "MemberId": "0f5c1a2b-0002-4000-8000-00000000a002", "MemberType": "group", "Transitive": true}),
            json!({"GroupId": g, "MemberId": "2d8a6c4f-3e51-4a7c-9d9e-0f1a2b3c4d5e", "MemberType": "user", "Transitive": true}),
        ]
    );

    // Catalogs: state and catalogType casing.
    let rows = kql(
        &data,
        "EntraAccessPackageCatalogs | project DisplayName, State, CatalogType, IsExternallyVisible | order by DisplayName asc",
    );
    assert_eq!(
        rows,
        vec![
            json!({"DisplayName": "Finance", "State": "unpublished", "CatalogType": "userManaged", "IsExternallyVisible": false}),
            json!({"DisplayName": "General", "State": "published", "CatalogType": "serviceDefault", "IsExternallyVisible": true}),
        ]
    );

    // Access packages: catalog expanded.
    let r = kql_one(
        &data,
        "EntraAccessPackages | where IsHidden == true | project DisplayName, CatalogId, CatalogName",
    );
    assert_eq!(
        r,
        json!({"DisplayName": "Finance Reports", "CatalogId": "c0ffee00-0002-4000-8000-0000000000c2", "CatalogName": "Finance"})
    );

    // Policies: scope casing, specific targets, requestor/approval settings, auto-assignment,
    // and the access package of a policy that did not expand it (from the package's expansion).
    let rows = kql(
        &data,
        "EntraAccessPackagePolicies | project Id, AccessPackageId, AllowedTargetScope, SelfAddEnabled, ApprovalRequired, IsAutomatic, ExpirationType, ExpirationDuration | order by Id asc",
    );
    assert_eq!(
        rows,
        vec![
            json!({"Id": "b0b0b0b0-0001-4000-8000-0000000000p1", "AccessPackageId": "a1b2c3d4-0001-4000-8000-000000000001", "AllowedTargetScope": "specificDirectoryUsers",
                "SelfAddEnabled": true, "ApprovalRequired": true, "IsAutomatic": false, "ExpirationType": "afterDuration", "ExpirationDuration": "P365D"}),
            json!({"Id": "b0b0b0b0-0002-4000-8000-0000000000p2", "AccessPackageId": "a1b2c3d4-0001-4000-8000-000000000001", "AllowedTargetScope": "specificConnectedOrganizationUsers",
                "SelfAddEnabled": true, "ApprovalRequired": false, "IsAutomatic": false, "ExpirationType": "noExpiration", "ExpirationDuration": ""}),
            json!({"Id": "b0b0b0b0-0003-4000-8000-0000000000p3", "AccessPackageId": "a1b2c3d4-0002-4000-8000-000000000002", "AllowedTargetScope": "allMemberUsers",
                "SelfAddEnabled": false, "ApprovalRequired": null, "IsAutomatic": true, "ExpirationType": "", "ExpirationDuration": ""}),
        ]
    );
    let r = kql_one(
        &data,
        "EntraAccessPackagePolicies | where Id == 'b0b0b0b0-0001-4000-8000-0000000000p1' | mv-expand t = SpecificAllowedTargets | project Type = tostring(t.Type), GroupId = tostring(t.GroupId)",
    );
    assert_eq!(
        r,
        json!({"Type": "groupMembers", "GroupId": "0f5c1a2b-0001-4000-8000-00000000a001"})
    );

    // Assignments: State/Status casing whatever the export wrote, schedule, target, names
    // filled in from the package and policy files when not expanded.
    let rows = kql(
        &data,
        "EntraAccessPackageAssignments | project Id, State, Status, AccessPackageName, PolicyName, TargetObjectId, TargetSubjectType, StartDateTime, EndDateTime, ExpirationType, ConnectedOrganizationName | order by Id asc",
    );
    assert_eq!(
        rows,
        vec![
            json!({"Id": "d0d0d0d0-0001-4000-8000-0000000000a1", "State": "delivered", "Status": "Delivered", "AccessPackageName": "Sales Onboarding",
                "PolicyName": "Employees self-request", "TargetObjectId": "0b6e4a2d-1c3f-4e5a-9b7c-8d9e0f1a2b3c", "TargetSubjectType": "user",
                "StartDateTime": "2026-10-01T09:20:00.000000000Z", "EndDateTime": "2027-10-01T09:20:00.000000000Z", "ExpirationType": "afterDateTime", "ConnectedOrganizationName": ""}),
            json!({"Id": "d0d0d0d0-0002-4000-8000-0000000000a2", "State": "delivered", "Status": "Delivered", "AccessPackageName": "Sales Onboarding",
                "PolicyName": "Contoso partners", "TargetObjectId": "2d8a6c4f-3e51-4a7c-9d9e-0f1a2b3c4d5e", "TargetSubjectType": "user",
                "StartDateTime": "2026-10-05T10:00:00.500000000Z", "EndDateTime": null, "ExpirationType": "noExpiration", "ConnectedOrganizationName": "Contoso"}),
            json!({"Id": "d0d0d0d0-0003-4000-8000-0000000000a3", "State": "delivering", "Status": "Delivering", "AccessPackageName": "Finance Reports",
                "PolicyName": "Auto-assign Finance", "TargetObjectId": "1c7f5b3e-2d40-4f6b-8c8d-9e0f1a2b3c4d", "TargetSubjectType": "user",
                "StartDateTime": "2026-10-31T23:59:59.999999900Z", "EndDateTime": null, "ExpirationType": "", "ConnectedOrganizationName": ""}),
        ]
    );
    // Raw keeps the whole Graph object.
    let r = kql_one(
        &data,
        "EntraAccessPackageAssignments | where Id == 'd0d0d0d0-0002-4000-8000-0000000000a2' | project Raw",
    );
    let raw: Value = serde_json::from_str(r["Raw"].as_str().unwrap()).unwrap();
    assert_eq!(
        raw["target"]["connectedOrganization"]["id"],
        "e0e0e0e0-0001-4000-8000-0000000000o1"
    );
    assert_eq!(raw["state"], "DELIVERED", "Raw is the object as exported");

    // Resource role scopes: the package id from the folder (and context); one role scope id
    // granted by two packages gives two rows.
    let rows = kql(
        &data,
        "EntraAccessPackageResourceRoleScopes | project AccessPackageId, Id | order by AccessPackageId asc, Id asc",
    );
    assert_eq!(
        rows,
        vec![
            json!({"AccessPackageId": "a1b2c3d4-0001-4000-8000-000000000001", "Id": "9a9a9a9a-0001-4000-8000-0000000000r1"}),
            json!({"AccessPackageId": "a1b2c3d4-0001-4000-8000-000000000001", "Id": "9a9a9a9a-0002-4000-8000-0000000000r2"}),
            json!({"AccessPackageId": "a1b2c3d4-0002-4000-8000-000000000002", "Id": "9a9a9a9a-0001-4000-8000-0000000000r1"}),
        ]
    );
    let rows = kql(
        &data,
        "EntraAccessPackageResourceRoleScopes | where AccessPackageId == 'a1b2c3d4-0001-4000-8000-000000000001' | project AccessPackageId, RoleDisplayName, RoleOriginSystem, ResourceDisplayName, ScopeOriginId | order by RoleDisplayName asc",
    );
    assert_eq!(
        rows,
        vec![
            json!({"AccessPackageId": "a1b2c3d4-0001-4000-8000-000000000001", "RoleDisplayName": "Member", "RoleOriginSystem": "AadGroup",
                "ResourceDisplayName": "Sales Team", "ScopeOriginId": "0f5c1a2b-0001-4000-8000-00000000a001"}),
            json!({"AccessPackageId": "a1b2c3d4-0001-4000-8000-000000000001", "RoleDisplayName": "Sales User", "RoleOriginSystem": "AadApplication",
                "ResourceDisplayName": "Fabrikam CRM", "ScopeOriginId": "4f4f4f4f-0001-4000-8000-0000000000sp"}),
        ]
    );

    // Requests.
    let rows = kql(
        &data,
        "EntraAccessPackageAssignmentRequests | project Id, RequestType, State, Status, PolicyId, RequestorId, TargetObjectId, CompletedDateTime | order by Id asc",
    );
    assert_eq!(
        rows,
        vec![
            json!({"Id": "3e3e3e3e-0001-4000-8000-0000000000q1", "RequestType": "userAdd", "State": "delivered", "Status": "Delivered",
                "PolicyId": "b0b0b0b0-0001-4000-8000-0000000000p1", "RequestorId": "0b6e4a2d-1c3f-4e5a-9b7c-8d9e0f1a2b3c",
                "TargetObjectId": "0b6e4a2d-1c3f-4e5a-9b7c-8d9e0f1a2b3c", "CompletedDateTime": "2026-10-01T09:20:00.000000000Z"}),
            json!({"Id": "3e3e3e3e-0002-4000-8000-0000000000q2", "RequestType": "userAdd", "State": "pendingApproval", "Status": "PendingApproval",
                "PolicyId": "", "RequestorId": "1c7f5b3e-2d40-4f6b-8c8d-9e0f1a2b3c4d",
                "TargetObjectId": "1c7f5b3e-2d40-4f6b-8c8d-9e0f1a2b3c4d", "CompletedDateTime": null}),
        ]
    );

    // Connected organizations: identity sources and sponsors as lists of structs.
    let r = kql_one(
        &data,
        "EntraConnectedOrganizations | where DisplayName == 'Contoso' | project State, n = array_length(IdentitySources), t0 = tostring(IdentitySources[0].Type), tenant = tostring(IdentitySources[0].TenantId), d1 = tostring(IdentitySources[1].DomainName), sponsor = tostring(InternalSponsors[0].Type), ext = array_length(ExternalSponsors)",
    );
    assert_eq!(
        r,
        json!({"State": "configured", "n": 2, "t0": "azureActiveDirectoryTenant", "tenant": "11111111-2222-4333-8444-555555555555",
            "d1": "contoso.example", "sponsor": "user", "ext": 0})
    );
    let r = kql_one(
        &data,
        "EntraConnectedOrganizations | where DisplayName == 'Northwind' | project State, t0 = tostring(IdentitySources[0].Type), issuer = tostring(IdentitySources[0].IssuerUri), ext = tostring(ExternalSponsors[0].Type)",
    );
    assert_eq!(
        r,
        json!({"State": "proposed", "t0": "externalDomainFederation", "issuer": "https://sts.northwind.example/adfs", "ext": "group"})
    );

    // The layout on disk: one sorted, zstd file per table and snapshot.
    let part = data.join("EntraUsers/snapshot=2026-11-01T00-00-00Z");
    let files: Vec<_> = std::fs::read_dir(&part).unwrap().collect();
    assert_eq!(files.len(), 1);
}

#[test]
fn bad_records_are_quarantined_with_file_record_and_reason() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let (summary, _) = ingest_args(&data, &[], &[fixture(NOV)]);
    let q = summary["quarantine"].as_str().expect("a quarantine file");
    let rejected: Vec<Value> = std::fs::read_to_string(q)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rejected.len(), 2);
    for r in &rejected {
        assert!(
            r["file"].as_str().unwrap().ends_with("assignments.json"),
            "{r}"
        );
        assert_eq!(r["format"], "snapshot");
    }
    assert_eq!(rejected[0]["record"], 4);
    assert_eq!(rejected[0]["reason"], "missing `id`");
    assert!(
        rejected[0]["raw"]
            .as_str()
            .unwrap()
            .contains("f0f0f0f0-0009")
    );
    assert_eq!(rejected[1]["record"], 5);
    assert!(
        rejected[1]["reason"]
            .as_str()
            .unwrap()
            .contains("`schedule` must be an object"),
        "{}",
        rejected[1]
    );
}

#[test]
fn reingest_replaces_the_snapshot_and_counts_stay_the_same() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let (first, _) = ingest_args(&data, &[], &[fixture(NOV)]);
    let (second, again) = ingest_args(&data, &[], &[fixture(NOV)]);
    assert_eq!(counts(&second), counts(&first));
    let users = second["snapshots"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["table"] == "EntraUsers")
        .unwrap();
    assert_eq!(users["replaced"], 3);
    assert_eq!(again.code, first_code(&first), "{}", again.stderr);
    let r = kql_one(
        &data,
        "EntraUsers | summarize n = count(), ids = dcount(Id)",
    );
    assert_eq!(r, json!({"n": 3, "ids": 3}));
    // (A column is aggregated: `| count` alone trips a column-pruning bug of the KQL compiler,
    // which falls back to `TimeGenerated`, a column snapshot tables lack.)
    let r = kql_one(
        &data,
        "EntraGroupMembership | summarize n = count(), groups = dcount(GroupId)",
    );
    assert_eq!(r, json!({"n": 5, "groups": 1}));
    // The replaced files are gone: one file per partition.
    for table in ["EntraUsers", "EntraAccessPackageAssignments"] {
        let part = data.join(table).join("snapshot=2026-11-01T00-00-00Z");
        assert_eq!(std::fs::read_dir(&part).unwrap().count(), 1, "{table}");
    }
    // The text summary prints one line per table.
    let r = run(&data, &["ingest", &fixture(NOV).to_string_lossy()]);
    assert!(
        r.stdout.contains(
            "EntraUsers @ 2026-11-01T00:00:00Z: read 4, written 3, duplicates 1, rejected 0 (replaced 3 row(s) of an earlier ingest of this snapshot)"
        ),
        "{}",
        r.stdout
    );
}

#[test]
fn two_snapshot_dates_coexist() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let (summary, _) = ingest_args(&data, &[], &[fixture(NOV), fixture(DEC)]);
    assert_eq!(
        table_counts(&summary, "EntraAccessPackageAssignments", "2026-12-01"),
        (1, 1, 0, 0)
    );
    let rows = kql(
        &data,
        "EntraAccessPackageAssignments | where Id == 'd0d0d0d0-0001-4000-8000-0000000000a1' | project SnapshotDate, State, Status | order by SnapshotDate asc",
    );
    assert_eq!(
        rows,
        vec![
            json!({"SnapshotDate": "2026-11-01T00:00:00.000000000Z", "State": "delivered", "Status": "Delivered"}),
            json!({"SnapshotDate": "2026-12-01T00:00:00.000000000Z", "State": "expired", "Status": "Expired"}),
        ]
    );
    // Re-ingesting the later snapshot leaves the earlier one alone.
    ingest_args(&data, &[], &[fixture(DEC)]);
    let rows = kql(
        &data,
        "EntraAccessPackageAssignments | summarize n = count() by SnapshotDate | order by SnapshotDate asc",
    );
    assert_eq!(
        rows,
        vec![
            json!({"SnapshotDate": "2026-11-01T00:00:00.000000000Z", "n": 3}),
            json!({"SnapshotDate": "2026-12-01T00:00:00.000000000Z", "n": 1}),
        ]
    );
}

#[test]
fn missing_snapshot_date_is_an_error_and_writes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let r = run(
        &data,
        &["ingest", &fixture("snapshot/undated").to_string_lossy()],
    );
    assert_eq!(r.code, 2, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("--snapshot-date"), "{}", r.stderr);
    assert!(!data.join("EntraUsers").exists());
    // A bad --snapshot-date is a usage error too.
    let r = run(
        &data,
        &[
            "ingest",
            "--snapshot-date",
            "last tuesday",
            &fixture("snapshot/undated").to_string_lossy(),
        ],
    );
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("--snapshot-date"), "{}", r.stderr);
}

#[test]
fn snapshot_date_flag_and_explicit_format() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let (summary, run) = ingest_args(
        &data,
        &[
            "--format",
            "snapshot",
            "--snapshot-date",
            "2026-10-15T06:30:00+02:00",
        ],
        &[fixture("snapshot/undated")],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(counts(&summary), (1, 1, 0, 0));
    assert_eq!(summary["files"][0]["detected"], false);
    let r = kql_one(&data, "EntraUsers | project SnapshotDate, DisplayName");
    assert_eq!(
        r,
        json!({"SnapshotDate": "2026-10-15T04:30:00.000000000Z", "DisplayName": "Maya Lindqvist"})
    );
    let part = data.join("EntraUsers/snapshot=2026-10-15T04-30-00Z");
    let names: Vec<String> = std::fs::read_dir(&part)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 1);
    assert!(names[0].starts_with("part-") && names[0].ends_with(".parquet"));
    // The flag wins over a date in the folder name.
    let (summary, _) = ingest_args(&data, &["--snapshot-date", "2027-01-01"], &[fixture(DEC)]);
    assert_eq!(
        table_counts(&summary, "EntraAccessPackageAssignments", "2027-01-01"),
        (1, 1, 0, 0)
    );
}

#[test]
fn auto_detects_snapshots_beside_audit_exports_in_one_ingest() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let (summary, _) = ingest_args(
        &data,
        &[],
        &[fixture("ingest/graph_page.json"), fixture(DEC)],
    );
    let formats: Vec<_> = summary["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["format"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(formats, ["graph", "snapshot"]);
    assert_eq!(counts(&summary), (4, 4, 0, 0));
    let r = one(&data, r#"SELECT count(*) AS n FROM "AuditLogs""#);
    assert_eq!(r["n"], 3);
    let r = kql_one(
        &data,
        "EntraAccessPackageAssignments | summarize n = count(), a = dcount(Id)",
    );
    assert_eq!(r, json!({"n": 1, "a": 1}));
    // A snapshot file given alone, outside its folder layout, is still recognised by its
    // @odata.context (the date comes from the folder name).
    let (summary, _) = ingest_args(
        &data,
        &[],
        &[fixture(NOV)
            .join("accessPackages/a1b2c3d4-0001-4000-8000-000000000001/resourceRoleScopes.json")],
    );
    assert_eq!(
        summary["files"][0]["table"],
        "EntraAccessPackageResourceRoleScopes"
    );
    assert_eq!(counts(&summary), (2, 2, 0, 0));
}

#[test]
fn audit_exports_are_not_taken_for_snapshots() {
    // A directoryAudits page named like a snapshot collection stays an audit export.
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("snapshot-2026-11-01");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(fixture("ingest/graph_page.json"), dir.join("users.json")).unwrap();
    let data = tmp.path().join("data");
    let (summary, _) = ingest_args(&data, &[], &[dir]);
    assert_eq!(summary["files"][0]["format"], "graph");
    assert_eq!(counts(&summary), (3, 3, 0, 0));
}
