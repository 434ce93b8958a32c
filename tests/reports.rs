//! The entitlement-management reports (`auditbook report NAME`, built-in workbooks
//! `workbooks/{assignments,user-packages,user-resources,request-status,connected-orgs,access-at}.yaml`)
//! through the real binary.
//!
//! - `request-status` over `sample-data/`: the expected status of every request is computed here,
//!   independently, from the Graph NDJSON files with serde_json and the seed's table.
//! - The snapshot reports over a hand-written tenant (`tests/fixtures/reports/tenant.json`: two
//!   snapshots of the ten `Entra*` tables, written as the snapshot contract's Parquet layout by
//!   this file), built so that every rule of the seed shows: group-only admission (nested),
//!   a guest admitted only through a connected organization, a hidden package, an auto-assignment
//!   policy, an unpublished catalog, a resource reached through two packages, the `At` snapshot.
//! - `check` passes on every report; CSV output has the header and RFC 4180 quoting.
//!
//! Every run fixes `now()` at 2026-11-01T00:00:00Z.

mod util;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use serde_json::Value;
use util::Run;

const NOW: &str = "2026-11-01T00:00:00Z";
const REPORTS: [&str; 6] = [
    "access-at",
    "assignments",
    "connected-orgs",
    "request-status",
    "user-packages",
    "user-resources",
];

/// Writes the snapshots of `tests/fixtures/reports/tenant.json` (`{SnapshotDate: {Table:
/// [rows]}}`) as `DATA/<Table>/snapshot=<date>/part-0.parquet`, typed by the snapshot contract.
fn write_snapshots(data: &Path, tenant: &Value) {
    use auditbook::snapshot_schema::{snapshot_partition_value, snapshot_schema};
    for (date, tables) in tenant.as_object().unwrap() {
        let nanos = auditbook::time::parse_timestamp(date).unwrap();
        for (table, rows) in tables.as_object().unwrap() {
            let schema = snapshot_schema(table).unwrap_or_else(|| panic!("{table}"));
            let mut ndjson = String::new();
            for row in rows.as_array().unwrap() {
                let mut row = row.clone();
                let raw = row.to_string();
                row["SnapshotDate"] = Value::String(date.clone());
                row["Raw"] = Value::String(raw);
                ndjson.push_str(&row.to_string());
                ndjson.push('\n');
            }
            let mut reader = arrow::json::ReaderBuilder::new(schema.clone())
                .build(std::io::Cursor::new(ndjson))
                .unwrap();
            let dir = data
                .join(table)
                .join(format!("snapshot={}", snapshot_partition_value(nanos)));
            std::fs::create_dir_all(&dir).unwrap();
            let file = std::fs::File::create(dir.join("part-0.parquet")).unwrap();
            let mut w = parquet::arrow::ArrowWriter::try_new(file, schema, None).unwrap();
            for batch in reader.by_ref() {
                w.write(&batch.unwrap()).unwrap();
            }
            w.close().unwrap();
        }
    }
}

fn fixture_tenant() -> Value {
    let path = util::repo("tests/fixtures/reports/tenant.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The hand-written tenant's snapshots, written once for the whole test binary.
fn tenant_data() -> &'static Path {
    static DATA: OnceLock<PathBuf> = OnceLock::new();
    DATA.get_or_init(|| {
        let dir = util::kept_temp_dir("reports-tenant-");
        write_snapshots(&dir, &fixture_tenant());
        dir
    })
}

/// Development aid: `REPORTS_FIXTURE_DIR=/tmp/x cargo test --test reports -- --ignored` writes
/// the tenant there, for trying queries by hand.
#[test]
#[ignore]
fn write_fixture_for_development() {
    if let Some(dir) = std::env::var_os("REPORTS_FIXTURE_DIR") {
        write_snapshots(Path::new(&dir), &fixture_tenant());
    }
}

fn report(data: &Path, args: &[&str]) -> Run {
    let mut all = vec!["report"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--now", NOW]);
    util::run(data, &all)
}

/// `report ... --format json`: the steps by name → rows (objects).
fn report_json(data: &Path, args: &[&str]) -> BTreeMap<String, Vec<Value>> {
    let mut a = args.to_vec();
    a.extend_from_slice(&["--format", "json"]);
    let r = report(data, &a);
    assert_eq!(r.code, 0, "{args:?}\n{}\n{}", r.stdout, r.stderr);
    let doc = r.json();
    doc["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            let (_, rows) = util::step_table(s);
            (s["name"].as_str().unwrap().to_string(), rows)
        })
        .collect()
}

fn col<'a>(rows: &'a [Value], name: &str) -> Vec<&'a str> {
    rows.iter()
        .map(|r| r[name].as_str().unwrap_or(""))
        .collect()
}

#[test]
fn check_passes_on_every_report() {
    let data = tenant_data();
    for name in REPORTS {
        let r = util::run(data, &["check", name]);
        assert_eq!(r.code, 0, "{name}\n{}\n{}", r.stdout, r.stderr);
        assert!(r.stdout.contains(", 0 with errors"), "{name}: {}", r.stdout);
        assert!(!r.stdout.contains("warning"), "{name}: {}", r.stdout);
    }
    // Listed by `report` and by `workbooks`, with a description.
    let r = util::run(data, &["report"]);
    assert_eq!(r.code, 0);
    let w = util::run(data, &["workbooks", "--format", "json"]).json();
    for name in REPORTS {
        assert!(r.stdout.contains(&format!("{name}\n")), "{}", r.stdout);
        let wb = w.as_array().unwrap().iter().find(|b| b["name"] == name);
        assert!(
            wb.is_some_and(|b| b["description"].as_str().is_some_and(|d| !d.is_empty())),
            "{name}"
        );
    }
}

#[test]
fn report_flags_are_validated() {
    let data = tenant_data();
    // An unknown user is an error naming close matches.
    let r = report(data, &["user-packages", "--user", "bob@contoso.con"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("bob@contoso.com"), "{}", r.stderr);
    let r = report(data, &["assignments", "--package", "Finance Tool"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("Finance Tools"), "{}", r.stderr);
    // A flag the report does not take, a bad date, an unknown report.
    let r = report(data, &["connected-orgs", "--user", "bob@contoso.com"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("does not take --user"), "{}", r.stderr);
    let r = report(data, &["connected-orgs", "--at", "yesterday-ish"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("--at"), "{}", r.stderr);
    let r = report(data, &["asignments"]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("did you mean `assignments`"),
        "{}",
        r.stderr
    );
}

#[test]
fn assignments_csv_header_quoting_and_at() {
    let data = tenant_data();
    // By name, any case; CSV with the portal's columns, RFC 4180 quoting, UTF-8.
    let r = report(
        data,
        &[
            "assignments",
            "--package",
            "finance TOOLS",
            "--format",
            "csv",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let mut lines = r.stdout.lines();
    assert_eq!(
        lines.next().unwrap(),
        "DisplayName,Email,PrincipalName,ObjectId,SubjectType,ConnectedOrganization,\
         AccessPackage,Policy,State,Status,StartDate,EndDate,AssignmentId"
    );
    assert!(
        r.stdout
            .contains("\"Erin Evans, \"\"Ext\"\"\",erin@other.com,erin_other.com#EXT#@contoso.onmicrosoft.com,u-erin,user,,Finance Tools,Admin only,expired,Expired,"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("Zoë Żak,zoe@contoso.com"), "{}", r.stdout);
    let mut reader = csv::Reader::from_reader(r.stdout.as_bytes());
    let ids: BTreeSet<String> = reader
        .records()
        .map(|rec| rec.unwrap().get(12).unwrap().to_string())
        .collect();
    assert_eq!(
        ids,
        ["as-1", "as-2", "as-6", "as-7"]
            .map(String::from)
            .into_iter()
            .collect()
    );
    // --at: the snapshot in force then (2026-10-15), where Erin's assignment was delivered.
    let steps = report_json(
        data,
        &["assignments", "--package", "p-fin", "--at", "2026-10-20"],
    );
    let rows = &steps["assignments"];
    assert_eq!(col(rows, "AssignmentId"), ["as-1", "as-6"]);
    assert_eq!(col(rows, "State"), ["delivered", "delivered"]);
    // Before the first snapshot: nothing.
    let steps = report_json(
        data,
        &["assignments", "--package", "p-fin", "--at", "2026-01-01"],
    );
    assert!(steps["assignments"].is_empty());
}

#[test]
fn connected_orgs_csv() {
    let r = report(tenant_data(), &["connected-orgs", "--format", "csv"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(
        lines[0],
        "Id,DisplayName,Description,State,IdentitySourceTypes,Domains,TenantIds,\
         InternalSponsors,ExternalSponsors,CreatedDateTime,ModifiedDateTime"
    );
    assert!(
        lines[1].starts_with(
            "co-fab,Fabrikam,\"Partner, \"\"preferred\"\"\",configured,\
             azureActiveDirectoryTenant; domainIdentitySource,fabrikam.com,tid-fab,Alice Adams,Dana Diaz,2026-03-01"
        ),
        "{}",
        lines[1]
    );
    // An organization without sponsors keeps its row.
    assert!(
        lines[2].starts_with("co-other,Other Ltd,,proposed,domainIdentitySource,other.com,,,,")
    );
    assert_eq!(lines.len(), 3);
}

/// (package, policy, admitted-by) of the Can request step.
fn can_request(user: &str, extra: &[&str]) -> BTreeSet<(String, String, String, bool)> {
    let mut args = vec!["user-packages", "--user", user];
    args.extend_from_slice(extra);
    let steps = report_json(tenant_data(), &args);
    steps["can-request"]
        .iter()
        .map(|r| {
            (
                r["AccessPackage"].as_str().unwrap().to_string(),
                r["PolicyId"].as_str().unwrap().to_string(),
                r["AdmittedBy"].as_str().unwrap().to_string(),
                r["Hidden"].as_bool().unwrap(),
            )
        })
        .collect()
}

fn set(items: &[(&str, &str, &str, bool)]) -> BTreeSet<(String, String, String, bool)> {
    items
        .iter()
        .map(|(a, b, c, d)| (a.to_string(), b.to_string(), c.to_string(), *d))
        .collect()
}

#[test]
fn user_packages_follow_the_policies() {
    let everyone = (
        "Everyone, \"Basics\"",
        "pol-all",
        "all users (members and guests)",
        false,
    );
    // Admitted through a group only; Draft Package's catalog is unpublished; the admin-only
    // policy does not let requestors add themselves.
    assert_eq!(
        can_request("alice@contoso.com", &[]),
        set(&[
            everyone,
            (
                "Finance Tools",
                "pol-fin-grp",
                "member of group Finance",
                false
            )
        ])
    );
    // Through a nested group (Platform Team ⊂ Engineering): only with Transitive; the package
    // is hidden and flagged.
    let eng = (
        "Engineering Access",
        "pol-eng",
        "member of group Engineering",
        true,
    );
    assert_eq!(can_request("BOB@contoso.com", &[]), set(&[eng, everyone]));
    assert_eq!(
        can_request("u-bob", &["--param", "Transitive=false"]),
        set(&[everyone])
    );
    // The auto-assignment policy naming Carol does not count; her single-user policy does.
    assert_eq!(
        can_request("carol@contoso.com", &[]),
        set(&[
            everyone,
            (
                "Carol Special",
                "pol-carol",
                "the user (single user)",
                false
            )
        ])
    );
    // A guest of a configured connected organization (by domain) and one of no organization.
    let guests = ("Guests Only", "pol-guest", "all external users", false);
    assert_eq!(
        can_request("dana_fabrikam.com#EXT#@contoso.onmicrosoft.com", &[]),
        set(&[
            everyone,
            guests,
            (
                "Partner Portal",
                "pol-partner-all",
                "configured connected organization Fabrikam",
                false
            ),
            (
                "Partner Portal",
                "pol-partner-fab",
                "connected organization Fabrikam",
                false
            ),
        ])
    );
    assert_eq!(can_request("u-erin", &[]), set(&[everyone, guests]));
    // One row per admitting policy and resource role.
    let steps = report_json(
        tenant_data(),
        &["user-packages", "--user", "alice@contoso.com"],
    );
    let fin: Vec<&Value> = steps["can-request"]
        .iter()
        .filter(|r| r["AccessPackageId"] == "p-fin")
        .collect();
    assert_eq!(fin.len(), 2);
    // Assigned: current assignments only (Erin's is expired), with policy and dates.
    assert_eq!(col(&steps["assigned"], "AssignmentId"), ["as-1"]);
    let steps = report_json(tenant_data(), &["user-packages", "--user", "u-erin"]);
    assert!(steps["assigned"].is_empty());
    let steps = report_json(tenant_data(), &["user-packages", "--user", "u-carol"]);
    assert_eq!(col(&steps["assigned"], "Policy"), ["Auto for Carol"]);
}

#[test]
fn user_resources_group_a_resource_reached_through_two_packages() {
    let steps = report_json(
        tenant_data(),
        &["user-resources", "--user", "bob@contoso.com"],
    );
    let rows = &steps["resources"];
    let got: Vec<(&str, &str, &str, i64)> = rows
        .iter()
        .map(|r| {
            (
                r["Resource"].as_str().unwrap(),
                r["AccessPackage"].as_str().unwrap(),
                r["ResourceType"].as_str().unwrap(),
                r["Packages"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("Finance Site", "Finance Tools", "SharePoint Online site", 1),
            ("GitHub", "Engineering Access", "Application", 1),
            ("Shared Drive", "Engineering Access", "Group", 2),
            ("Shared Drive", "Finance Tools", "Group", 2),
        ]
    );
    assert_eq!(col(rows, "Policy")[3], "Admin only");
    assert_eq!(rows[3]["StartDate"], "2026-10-20T00:00:00.000000000Z");
}

#[test]
fn access_at_compares_the_log_with_the_nearest_snapshot() {
    // No audit log here: everyone the snapshot nearest At (2026-10-15) has is "in snapshot,
    // not in log".
    let steps = report_json(
        tenant_data(),
        &[
            "access-at",
            "--package",
            "Finance Tools",
            "--at",
            "2026-10-20",
        ],
    );
    assert!(steps["holders"].is_empty());
    let d = &steps["disagreements"];
    assert_eq!(col(d, "ObjectId"), ["u-alice", "u-erin"]);
    assert!(
        col(d, "Disagreement")
            .iter()
            .all(|s| *s == "in snapshot, not in log")
    );
    assert!(
        d.iter()
            .all(|r| r["ComparedSnapshot"] == "2026-10-15T00:00:00.000000000Z")
    );
}

// ---------------------------------------------------------------------------------------------
// request-status over the sample data's Graph export, against the seed's table applied here.

fn sample_data() -> &'static Path {
    static DATA: OnceLock<PathBuf> = OnceLock::new();
    DATA.get_or_init(|| {
        let dir = util::kept_temp_dir("reports-sample-");
        let (_, r) = util::ingest(&dir, &[util::repo("sample-data/graph")]);
        assert_eq!(r.code, 0, "{}", r.stderr);
        dir
    })
}

fn sample_records() -> Vec<Value> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(util::repo("sample-data/graph"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files
        .iter()
        .flat_map(|f| {
            std::fs::read_to_string(f)
                .unwrap()
                .lines()
                .filter(|l| !l.trim().is_empty())
                .map(|l| serde_json::from_str::<Value>(l).unwrap())
                .collect::<Vec<_>>()
        })
        .collect()
}

fn target<'a>(r: &'a Value, ty: &str, field: &str) -> &'a str {
    r["targetResources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["type"] == ty)
        .and_then(|t| t[field].as_str())
        .unwrap_or("")
}

/// The seed's table: the status a request has after its last lifecycle record.
fn seed_status(activity: &str, result: &str) -> Option<&'static str> {
    Some(match activity {
        "User requests access package assignment"
        | "Administrator directly assigns user to access package" => "requested",
        "Auto approve access package assignment request" => "no approval needed",
        "Create request approval" | "Add approver to request approval" => "needs approval",
        "Approve access package assignment request" => "approved",
        "Deny access package assignment request" => "denied",
        "Access package assignment request timed out (no approver action taken)" => "timed out",
        "Ready to fulfill access package assignment request" => "ready to fulfil",
        "Fulfill access package assignment" | "Fulfill access package assignment request"
            if result == "success" =>
        {
            "fulfilled"
        }
        "Fulfill access package assignment"
        | "Fulfill access package assignment request"
        | "Failed access package assignment request" => "failed",
        _ => return None,
    })
}

/// user id → correlation id → (package id, expected status).
fn expected_statuses() -> BTreeMap<String, BTreeMap<String, (String, String)>> {
    let records = sample_records();
    let mut chains: BTreeMap<&str, Vec<&Value>> = BTreeMap::new();
    for r in &records {
        chains
            .entry(r["correlationId"].as_str().unwrap())
            .or_default()
            .push(r);
    }
    let mut out: BTreeMap<String, BTreeMap<String, (String, String)>> = BTreeMap::new();
    // (user, package) → fulfilment times, and removal times.
    let mut fulfils: Vec<(String, String, String, String)> = Vec::new();
    for (corr, mut recs) in chains {
        recs.sort_by_key(|r| r["activityDateTime"].as_str().unwrap().to_string());
        let Some(request) = recs.iter().find(|r| {
            seed_status(r["activityDisplayName"].as_str().unwrap(), "success") == Some("requested")
        }) else {
            continue;
        };
        let user = target(request, "User", "id").to_string();
        let package = target(request, "AccessPackage", "id").to_string();
        let mut status = "requested";
        for r in &recs {
            if let Some(s) = seed_status(
                r["activityDisplayName"].as_str().unwrap(),
                r["result"].as_str().unwrap(),
            ) {
                status = s;
                if s == "fulfilled" {
                    fulfils.push((
                        user.clone(),
                        package.clone(),
                        r["activityDateTime"].as_str().unwrap().to_string(),
                        corr.to_string(),
                    ));
                }
            }
        }
        out.entry(user)
            .or_default()
            .insert(corr.to_string(), (package, status.to_string()));
    }
    // A removal ends the latest fulfilment of that user and package before it.
    for r in &records {
        if r["activityDisplayName"] != "Remove access package assignment" {
            continue;
        }
        let (user, package) = (target(r, "User", "id"), target(r, "AccessPackage", "id"));
        let at = r["activityDateTime"].as_str().unwrap();
        if let Some((_, _, _, corr)) = fulfils
            .iter()
            .filter(|(u, p, t, _)| u == user && p == package && t.as_str() < at)
            .max_by_key(|(_, _, t, _)| t.clone())
            && let Some(e) = out.get_mut(user).and_then(|m| m.get_mut(corr))
        {
            e.1 = "removed".to_string();
        }
    }
    out
}

#[test]
fn request_status_follows_the_seed_table_on_the_sample_data() {
    let expected = expected_statuses();
    let upn_of = |id: &str| -> String {
        sample_records()
            .iter()
            .flat_map(|r| r["targetResources"].as_array().unwrap().clone())
            .find(|t| t["type"] == "User" && t["id"] == id)
            .and_then(|t| t["userPrincipalName"].as_str().map(String::from))
            .unwrap()
    };
    // For each status, the first user who has a request in it (and every status is covered).
    let mut by_status: BTreeMap<String, String> = BTreeMap::new();
    for (user, reqs) in &expected {
        for (_, status) in reqs.values() {
            by_status
                .entry(status.clone())
                .or_insert_with(|| user.clone());
        }
    }
    for s in ["denied", "failed", "fulfilled", "needs approval", "removed"] {
        assert!(
            by_status.contains_key(s),
            "no {s} request in the sample: {by_status:?}"
        );
    }
    let users: BTreeSet<&String> = by_status.values().collect();
    for user in users {
        // By UPN (a label of the drop-down), all time.
        let upn = upn_of(user);
        let steps = report_json(
            sample_data(),
            &["request-status", "--user", &upn, "--since", "2000-01-01"],
        );
        let got: BTreeMap<String, (String, String)> = steps["requests"]
            .iter()
            .filter(|r| !r["Status"].as_str().unwrap().starts_with("removed ("))
            .map(|r| {
                (
                    r["CorrelationId"].as_str().unwrap().to_string(),
                    (
                        r["AccessPackageId"].as_str().unwrap().to_string(),
                        r["Status"].as_str().unwrap().to_string(),
                    ),
                )
            })
            .collect();
        assert_eq!(&got, &expected[user], "{upn}");
    }
}

#[test]
fn request_status_timeline_lists_every_step_in_order() {
    let expected = expected_statuses();
    let (user, corr) = expected
        .iter()
        .find_map(|(u, reqs)| {
            reqs.iter()
                .find(|(_, (_, s))| s == "removed")
                .map(|(c, _)| (u.clone(), c.clone()))
        })
        .unwrap();
    let steps = report_json(
        sample_data(),
        &[
            "request-status",
            "--user",
            &user,
            "--timeline",
            "--since",
            "2000-01-01",
        ],
    );
    let rows: Vec<&Value> = steps["timeline"]
        .iter()
        .filter(|r| r["CorrelationId"] == corr.as_str())
        .collect();
    let activities: Vec<&str> = rows
        .iter()
        .map(|r| r["Activity"].as_str().unwrap())
        .collect();
    assert_eq!(
        activities.first(),
        Some(&"User requests access package assignment").or(activities.first())
    );
    assert_eq!(
        activities.last(),
        Some(&"Remove access package assignment"),
        "{activities:?}"
    );
    assert!(
        activities.contains(&"Fulfill access package assignment"),
        "{activities:?}"
    );
    let times: Vec<&str> = rows.iter().map(|r| r["Time"].as_str().unwrap()).collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "{times:?}");
    assert!(rows.iter().all(|r| r["Status"] == "removed"));
    // The removal has its own correlation id.
    assert_ne!(rows.last().unwrap()["RecordCorrelationId"], corr.as_str());
    // Without --timeline the step is not shown.
    let steps = report_json(sample_data(), &["request-status", "--user", &user]);
    assert!(!steps.contains_key("timeline"));
}
