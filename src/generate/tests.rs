//! Tests of the generator as a whole: determinism, exact counts, lifecycle order, the shapes the
//! workbooks read, and each writer's file format.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::tenant::{DEFAULT_ACCESS_ROLE_ID, GOVERNANCE_APP};
use super::*;
use crate::record::AuditRecord;
use crate::time::parse_timestamp;

fn config(events: u64, seed: u64) -> Config {
    Config {
        seed,
        ..Config::new(events)
    }
}

fn records(events: u64, seed: u64) -> Vec<AuditRecord> {
    config(events, seed).events().collect()
}

/// Every file under `dir`, relative path → bytes.
fn tree(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<PathBuf, Vec<u8>>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                out.insert(
                    p.strip_prefix(root).unwrap().to_path_buf(),
                    std::fs::read(&p).unwrap(),
                );
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

const FORMATS: [Format; 5] = [
    Format::Graph,
    Format::Diagnostic,
    Format::LogAnalytics,
    Format::PortalCsv,
    Format::PortalJson,
];

const APP_ROLE_ACTIVITIES: &[&str] = &[
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

#[test]
fn same_seed_gives_identical_files_and_another_seed_differs() {
    for format in FORMATS {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        let c = tempfile::tempdir().unwrap();
        let sa = generate(&config(3_000, 7), format, a.path()).unwrap();
        let sb = generate(&config(3_000, 7), format, b.path()).unwrap();
        generate(&config(3_000, 8), format, c.path()).unwrap();
        assert_eq!(
            sa,
            Summary {
                files: sa.files.clone(),
                ..sb.clone()
            },
            "{format:?}"
        );
        let (ta, tb, tc) = (tree(a.path()), tree(b.path()), tree(c.path()));
        assert!(!ta.is_empty());
        assert_eq!(ta, tb, "{format:?}: same seed, different bytes");
        assert_ne!(ta, tc, "{format:?}: different seeds, same bytes");
    }
}

#[test]
fn stream_is_exact_ordered_unique_and_inside_the_window() {
    let cfg = Config {
        days: 30,
        ..config(20_000, 42)
    };
    let recs: Vec<AuditRecord> = cfg.events().collect();
    assert_eq!(recs.len(), 20_000);
    let start = cfg.end - 30 * timeline::DAY;
    let ids: HashSet<&str> = recs.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids.len(), recs.len(), "ids are unique");
    for w in recs.windows(2) {
        assert!(w[0].activity_date_time <= w[1].activity_date_time);
    }
    let tenant = Tenant::new(42, 20_000);
    for r in &recs {
        assert!(r.activity_date_time >= start && r.activity_date_time < cfg.end);
        assert_eq!(r.activity_date_time % 100, 0, "100 ns ticks");
        assert!(
            r.time_generated > r.activity_date_time
                && r.time_generated - r.activity_date_time < 120 * timeline::SECOND
        );
        assert_eq!(r.tenant_id, tenant.id);
        assert_eq!(r.aad_tenant_id, tenant.id);
        assert_eq!(
            r.resource_id,
            format!("/tenants/{}/providers/Microsoft.aadiam", tenant.id)
        );
        assert_eq!(
            (
                r.level.as_str(),
                r.type_.as_str(),
                r.operation_name.as_str()
            ),
            ("4", "AuditLogs", r.activity_display_name.as_str())
        );
        assert!(
            !r.correlation_id.is_empty()
                && !r.category.is_empty()
                && !r.logged_by_service.is_empty()
        );
        if r.result == "failure" {
            assert!(!r.result_reason.is_empty(), "{}", r.activity_display_name);
        } else {
            assert_eq!(r.result, "success");
        }
    }
    // Id forms: not always GUIDs.
    let count = |p: &str| recs.iter().filter(|r| r.id.starts_with(p)).count();
    assert!(count("Directory_") > recs.len() / 2);
    assert!(count("SSGM_") > 0 && count("PIM_") > 0);
    assert!(
        recs.iter()
            .any(|r| r.id.len() == 36 && r.id.matches('-').count() == 4)
    );
    let dir = recs
        .iter()
        .find(|r| r.id.starts_with("Directory_"))
        .unwrap();
    let parts: Vec<&str> = dir.id.split('_').collect();
    assert_eq!(parts.len(), 4);
    assert_eq!(parts[1], dir.correlation_id);
    assert_eq!(parts[2].len(), 5);
    assert!(parts[3].chars().all(|c| c.is_ascii_digit()));
    // Failures happen, with reasons; failed fulfilments are failures.
    assert!(recs.iter().filter(|r| r.result == "failure").count() > 50);
    for r in recs
        .iter()
        .filter(|r| r.activity_display_name == "Failed access package assignment request")
    {
        assert_eq!(r.result, "failure");
    }
    // Office hours are busier than nights.
    let hour = |r: &AuditRecord| {
        chrono::DateTime::from_timestamp_nanos(r.activity_date_time)
            .format("%H")
            .to_string()
    };
    let by_hour: HashMap<String, usize> = recs.iter().fold(HashMap::new(), |mut m, r| {
        *m.entry(hour(r)).or_default() += 1;
        m
    });
    assert!(by_hour["10"] > 3 * by_hour["02"], "{by_hour:?}");
}

/// About half the log is background activity unrelated to entitlement management or app roles.
#[test]
fn background_noise_is_about_half() {
    let recs = records(30_000, 3);
    let governed = |r: &AuditRecord| {
        r.category == "EntitlementManagement"
            || APP_ROLE_ACTIVITIES.contains(&r.activity_display_name.as_str())
            || r.activity_display_name.contains("request approval")
            || r.initiator_display_name() == Some(GOVERNANCE_APP)
    };
    let noise = recs.iter().filter(|r| !governed(r)).count() as f64 / recs.len() as f64;
    assert!((0.4..0.65).contains(&noise), "noise share {noise}");
    let categories: HashSet<&str> = recs.iter().map(|r| r.category.as_str()).collect();
    for c in [
        "UserManagement",
        "GroupManagement",
        "ApplicationManagement",
        "Policy",
        "RoleManagement",
        "EntitlementManagement",
        "Device",
    ] {
        assert!(categories.contains(c), "no {c} events");
    }
}

fn position(acts: &[&str], name: &str) -> Option<usize> {
    acts.iter().position(|a| *a == name)
}

#[test]
fn request_lifecycles_share_a_correlation_id_and_run_in_order() {
    let recs = records(30_000, 42);
    let mut by_corr: HashMap<&str, Vec<&AuditRecord>> = HashMap::new();
    for r in &recs {
        by_corr
            .entry(r.correlation_id.as_str())
            .or_default()
            .push(r);
    }
    let (mut auto, mut approved, mut denied, mut direct, mut removed) = (0, 0, 0, 0, 0);
    for group in by_corr.values() {
        let acts: Vec<&str> = group
            .iter()
            .map(|r| r.activity_display_name.as_str())
            .collect();
        let Some(req) = position(&acts, "User requests access package assignment").or_else(|| {
            position(
                &acts,
                "Administrator directly assigns user to access package",
            )
        }) else {
            continue;
        };
        assert_eq!(req, 0, "the request comes first: {acts:?}");
        // Every EM event of the lifecycle names the same package and beneficiary.
        let package = |r: &AuditRecord| {
            r.target_resources
                .as_ref()
                .unwrap()
                .iter()
                .find(|t| t.type_.as_deref() == Some("AccessPackage"))
                .map(|t| t.id.clone())
        };
        let user = |r: &AuditRecord| {
            r.target_resources
                .as_ref()
                .unwrap()
                .iter()
                .find(|t| t.type_.as_deref() == Some("User"))
                .map(|t| t.id.clone())
        };
        for r in group
            .iter()
            .filter(|r| r.category == "EntitlementManagement")
        {
            assert_eq!(package(r), package(group[0]));
            assert_eq!(user(r), user(group[0]));
            assert_eq!(r.logged_by_service, "Entitlement Management");
            let types: Vec<_> = r
                .target_resources
                .as_ref()
                .unwrap()
                .iter()
                .map(|t| t.type_.clone().unwrap())
                .collect();
            assert_eq!(
                &types[..3],
                ["AccessPackage", "AccessPackageAssignmentPolicy", "User"]
            );
        }
        let ready = position(&acts, "Ready to fulfill access package assignment request");
        let fulfil = position(&acts, "Fulfill access package assignment");
        if let Some(a) = position(&acts, "Auto approve access package assignment request") {
            auto += 1;
            assert_eq!(
                group[a].aad_operation_type,
                "AutoApproveEntitlementGrantRequest"
            );
            assert!(position(&acts, "Create request approval").is_none());
            if let Some(ready) = ready {
                assert!(a < ready);
            }
            // Auto approval takes seconds.
            assert!(
                group[a].activity_date_time - group[0].activity_date_time < 60 * timeline::SECOND
            );
        }
        if let Some(c) = position(&acts, "Create request approval") {
            assert_eq!(group[c].category, "UserManagement");
            let add =
                position(&acts, "Add approver to request approval").expect("approvers are added");
            assert!(c < add);
            if let Some(ap) = position(&acts, "Approve access package assignment request") {
                approved += 1;
                assert!(add < ap);
                if let Some(ready) = ready {
                    assert!(ap < ready);
                }
            }
            if position(&acts, "Deny access package assignment request").is_some() {
                denied += 1;
                assert!(ready.is_none() && fulfil.is_none());
            }
        }
        if req == 0 && acts[0].starts_with("Administrator") {
            direct += 1;
            assert!(
                group[0]
                    .initiated_by
                    .as_ref()
                    .unwrap()
                    .user
                    .as_ref()
                    .unwrap()
                    .user_principal_name
                    .as_ref()
                    .unwrap()
                    .contains("adm-")
            );
        }
        if let Some(f) = fulfil {
            let ready = ready.expect("ready before fulfilment");
            assert!(ready < f);
            // The resource changes happen between "ready" and "fulfilled", by the governance app.
            for (i, r) in group.iter().enumerate() {
                if r.activity_display_name == "Add app role assignment grant to user"
                    || r.activity_display_name == "Add member to group"
                {
                    assert!(ready < i && i < f, "{acts:?}");
                    assert_eq!(r.initiator_display_name(), Some(GOVERNANCE_APP));
                    assert!(r.initiated_by.as_ref().unwrap().user.is_none());
                }
            }
        }
    }
    for group in by_corr.values() {
        let acts: Vec<&str> = group
            .iter()
            .map(|r| r.activity_display_name.as_str())
            .collect();
        if let Some(rm) = position(&acts, "Remove access package assignment") {
            removed += 1;
            assert_eq!(group[rm].aad_operation_type, "Delete");
            for (i, r) in group.iter().enumerate() {
                if r.activity_display_name
                    .starts_with("Remove app role assignment")
                {
                    assert!(i > rm);
                }
            }
        }
    }
    assert!(
        auto > 50 && approved > 50 && denied > 5 && direct > 10 && removed > 20,
        "{auto} {approved} {denied} {direct} {removed}"
    );
}

/// The Application role assignment activity workbook reads `AppRole.DisplayName`, `User.UPN` or
/// `Group.DisplayName`, `User.ObjectID` or `Group.ObjectID` from the first target's
/// modifiedProperties, quotes trimmed; the first target is the app's service principal.
#[test]
fn app_role_events_carry_what_the_workbook_reads() {
    let recs = records(30_000, 42);
    let tenant = Tenant::new(42, 30_000);
    let upn_of: HashMap<&str, &str> = tenant
        .users
        .iter()
        .map(|u| (u.id.as_str(), u.upn.as_str()))
        .collect();
    let group_of: HashMap<&str, &str> = tenant
        .groups
        .iter()
        .map(|g| (g.id.as_str(), g.display_name.as_str()))
        .collect();
    let mut seen: HashSet<&str> = HashSet::new();
    let mut default_access = 0;
    for r in recs
        .iter()
        .filter(|r| APP_ROLE_ACTIVITIES.contains(&r.activity_display_name.as_str()))
    {
        seen.insert(&r.activity_display_name);
        assert!(
            ["UserManagement", "GroupManagement", "ApplicationManagement"]
                .contains(&r.category.as_str())
        );
        let targets = r.target_resources.as_ref().unwrap();
        assert_eq!(targets[0].type_.as_deref(), Some("ServicePrincipal"));
        let app = targets[0].display_name.as_deref().unwrap();
        assert!(
            tenant.apps.iter().any(|a| a.display_name == app) || app == "Microsoft Graph",
            "{app}"
        );
        assert_eq!(
            targets[1].modified_properties.as_deref(),
            Some(&[][..]),
            "only the first target carries properties"
        );
        let props = targets[0].modified_properties.as_ref().unwrap();
        let removal = r.activity_display_name.starts_with("Remove");
        let value = |name: &str| -> Option<String> {
            let p = props
                .iter()
                .find(|p| p.display_name.as_deref() == Some(name))?;
            let v = if removal {
                p.old_value.clone()
            } else {
                p.new_value.clone()
            }?;
            assert!(
                v.starts_with('"') && v.ends_with('"') && v.len() >= 2,
                "{name}: {v} is a JSON string"
            );
            Some(v.trim_matches('"').to_string())
        };
        if !removal {
            for p in props {
                assert!(
                    matches!(p.old_value.as_deref(), None | Some("") | Some("[]")),
                    "{p:?}"
                );
            }
        }
        let role_name = value("AppRole.DisplayName").expect("AppRole.DisplayName");
        assert!(!role_name.is_empty());
        let role_id = value("AppRole.Id").unwrap();
        if role_id == DEFAULT_ACCESS_ROLE_ID {
            default_access += 1;
            let raw = props
                .iter()
                .find(|p| p.display_name.as_deref() == Some("AppRole.Value"))
                .unwrap();
            assert_eq!(
                if removal {
                    &raw.old_value
                } else {
                    &raw.new_value
                }
                .as_deref(),
                Some("\"\"")
            );
        }
        if r.activity_display_name.ends_with("user") || r.activity_display_name.contains("to user")
        {
            let id = value("User.ObjectID").expect("User.ObjectID");
            assert_eq!(value("User.UPN").as_deref(), Some(upn_of[id.as_str()]));
            assert_eq!(targets[1].id.as_deref(), Some(id.as_str()));
            assert_eq!(targets[1].type_.as_deref(), Some("User"));
            assert!(value("User.PUID").is_some());
        } else if r.activity_display_name.ends_with("group")
            || r.activity_display_name.contains("to group")
        {
            let id = value("Group.ObjectID").expect("Group.ObjectID");
            assert_eq!(
                value("Group.DisplayName").as_deref(),
                Some(group_of[id.as_str()])
            );
            assert_eq!(targets[1].type_.as_deref(), Some("Group"));
        } else {
            assert_eq!(targets[1].type_.as_deref(), Some("ServicePrincipal"));
        }
        for name in [
            "AppRole.Value",
            "AppRoleAssignment.CreatedDateTime",
            "AppRoleAssignment.LastModifiedDateTime",
            "ServicePrincipal.ObjectID",
            "ServicePrincipal.AppId",
            "TargetId.ServicePrincipalNames",
        ] {
            assert!(
                value(name).is_some(),
                "{name} missing in {}",
                r.activity_display_name
            );
        }
        let created = value("AppRoleAssignment.CreatedDateTime").unwrap();
        assert!(parse_timestamp(&created).is_ok(), "{created}");
        // Who did it: the governance app (no user) or an administrator (no app).
        let by = r.initiated_by.as_ref().unwrap();
        match &by.app {
            Some(app) => {
                assert_eq!(app.display_name.as_deref(), Some(GOVERNANCE_APP));
                assert!(
                    by.user.is_none()
                        && app.app_id.is_some()
                        && app.service_principal_id.is_some()
                        && app.service_principal_name.is_some()
                );
            }
            None => assert!(
                by.user
                    .as_ref()
                    .unwrap()
                    .user_principal_name
                    .as_ref()
                    .unwrap()
                    .starts_with("adm-")
            ),
        }
    }
    assert_eq!(
        seen.len(),
        APP_ROLE_ACTIVITIES.len(),
        "every workbook activity occurs: {seen:?}"
    );
    assert!(default_access > 0);
    // The workbook's default application has events.
    assert!(recs.iter().any(|r| {
        r.target_resources.as_ref().unwrap()[0]
            .display_name
            .as_deref()
            == Some("AWS Gateway API")
    }));
}

#[test]
fn graph_json_has_the_directory_audit_shape() {
    let recs = records(500, 42);
    let r = recs
        .iter()
        .find(|r| r.category == "EntitlementManagement")
        .unwrap();
    let v = to_graph_json(r);
    let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "id",
            "category",
            "correlationId",
            "result",
            "resultReason",
            "activityDisplayName",
            "activityDateTime",
            "loggedByService",
            "operationType",
            "initiatedBy",
            "targetResources",
            "additionalDetails"
        ]
    );
    assert_eq!(v["id"], r.id.as_str());
    assert_eq!(v["loggedByService"], "Entitlement Management");
    assert_eq!(
        parse_timestamp(v["activityDateTime"].as_str().unwrap()).unwrap(),
        r.activity_date_time
    );
    assert!(v["activityDateTime"].as_str().unwrap().ends_with('Z'));
    let by = v["initiatedBy"].as_object().unwrap();
    assert!(by.contains_key("user") && by.contains_key("app"));
    let t = &v["targetResources"][0];
    assert_eq!(t["type"], "AccessPackage");
    for k in [
        "id",
        "displayName",
        "type",
        "userPrincipalName",
        "groupType",
        "modifiedProperties",
    ] {
        assert!(t.get(k).is_some(), "target key {k}");
    }
    assert!(v["additionalDetails"].is_array());
}

#[test]
fn graph_writes_one_ndjson_file_per_day() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = Config {
        days: 10,
        ..config(4_000, 5)
    };
    let s = generate(&cfg, Format::Graph, dir.path()).unwrap();
    assert_eq!(s.events, 4_000);
    assert_eq!(s.duplicates, 0);
    assert_eq!(s.files.len(), 10);
    let mut ids = HashSet::new();
    for f in &s.files {
        let name = f.file_name().unwrap().to_str().unwrap();
        let day = name
            .strip_prefix("directoryAudits-")
            .unwrap()
            .strip_suffix(".ndjson")
            .unwrap();
        assert!(f.starts_with(dir.path().join("graph")));
        let text = std::fs::read_to_string(f).unwrap();
        assert!(!text.contains('\r'));
        for line in text.lines() {
            let v: Value = serde_json::from_str(line).unwrap();
            assert!(v["activityDateTime"].as_str().unwrap().starts_with(day));
            ids.insert(v["id"].as_str().unwrap().to_string());
        }
    }
    assert_eq!(ids.len(), 4_000);
}

#[test]
fn diagnostic_archive_has_crlf_hour_blobs_and_counted_duplicates() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = Config {
        days: 7,
        ..config(20_000, 11)
    };
    let s = generate(&cfg, Format::Diagnostic, dir.path()).unwrap();
    assert_eq!(s.events, 20_000);
    // ~3% of records, 1 to 3 copies each.
    assert!((300..=1_300).contains(&s.duplicates), "{}", s.duplicates);
    let prefix = dir
        .path()
        .join("insights-logs-auditlogs")
        .join(format!("tenantId={}", s.tenant_id));
    let mut lines = 0u64;
    let mut copies: HashMap<String, (Value, u32)> = HashMap::new();
    let mut late_blob = 0;
    for f in &s.files {
        assert!(f.starts_with(&prefix), "{}", f.display());
        assert_eq!(f.file_name().unwrap(), "PT1H.json");
        let rel = f
            .strip_prefix(&prefix)
            .unwrap()
            .to_str()
            .unwrap()
            .replace('\\', "/");
        // y=YYYY/m=MM/d=DD/h=HH/m=00/PT1H.json
        let hour_prefix: String = {
            let p: Vec<&str> = rel.split('/').collect();
            assert_eq!(p.len(), 6, "{rel}");
            assert_eq!(p[4], "m=00");
            format!(
                "{}-{}-{}T{}",
                &p[0][2..],
                &p[1][2..],
                &p[2][2..],
                &p[3][2..]
            )
        };
        let bytes = std::fs::read(f).unwrap();
        let text = String::from_utf8(bytes).unwrap();
        assert!(text.ends_with("\r\n"));
        assert_eq!(
            text.matches('\n').count(),
            text.matches("\r\n").count(),
            "CRLF only"
        );
        for line in text.split("\r\n").filter(|l| !l.is_empty()) {
            lines += 1;
            let v: Value = serde_json::from_str(line).unwrap();
            let time = v["time"].as_str().unwrap();
            assert!(time.starts_with(&hour_prefix), "{time} in blob {rel}");
            assert!(time.ends_with('Z') && time.len() == "2026-10-01T12:00:00.1234567Z".len());
            assert_eq!(v["category"], "AuditLogs");
            assert_eq!(v["operationVersion"], "1.0");
            assert_eq!(v["resultSignature"], "None");
            assert_eq!(v["durationMs"], 0);
            assert_eq!(v["Level"], 4);
            assert_eq!(v["tenantId"], s.tenant_id.as_str());
            assert_eq!(
                v["resourceId"],
                format!("/tenants/{}/providers/Microsoft.aadiam", s.tenant_id)
            );
            let props = &v["properties"];
            assert_eq!(v["operationName"], props["activityDisplayName"]);
            assert_eq!(v["correlationId"], props["correlationId"]);
            let adt = props["activityDateTime"].as_str().unwrap();
            assert!(adt.ends_with("+00:00"), "{adt}");
            let id = props["id"].as_str().unwrap().to_string();
            let entry = copies.entry(id).or_insert((props.clone(), 0));
            assert_eq!(&entry.0, props, "copies carry the same properties");
            entry.1 += 1;
            let (tt, ta) = (
                parse_timestamp(time).unwrap(),
                parse_timestamp(adt).unwrap(),
            );
            if entry.1 == 1 {
                assert_eq!(tt, ta, "the first delivery's time is the activity instant");
            } else {
                assert!(tt > ta);
                if tt - ta > timeline::HOUR {
                    late_blob += 1;
                }
            }
        }
    }
    assert_eq!(copies.len() as u64, s.events, "unique events");
    assert_eq!(
        lines,
        s.events + s.duplicates,
        "lines = events + duplicates"
    );
    assert!(copies.values().all(|(_, n)| (1..=4).contains(n)));
    assert!(late_blob > 0, "some copies land in a later hour's blob");
}

#[test]
fn log_analytics_csv_has_the_schema_columns_and_json_cells() {
    let dir = tempfile::tempdir().unwrap();
    let s = generate(&config(2_000, 9), Format::LogAnalytics, dir.path()).unwrap();
    assert_eq!(
        s.files,
        [dir.path().join("log-analytics").join("AuditLogs.csv")]
    );
    let mut rd = csv::Reader::from_path(&s.files[0]).unwrap();
    let header: Vec<String> = rd.headers().unwrap().iter().map(String::from).collect();
    let schema: Vec<String> = crate::schema::audit_logs_schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    assert_eq!(header, schema);
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    let mut n = 0;
    let mut ids = HashSet::new();
    for row in rd.records() {
        let row = row.unwrap();
        n += 1;
        ids.insert(row[col("Id")].to_string());
        for c in ["TimeGenerated", "ActivityDateTime"] {
            assert_eq!(
                row[col(c)].len(),
                "2026-10-01T12:00:00.1234567Z".len(),
                "{}",
                &row[col(c)]
            );
        }
        let tg = parse_timestamp(&row[col("TimeGenerated")]).unwrap();
        let at = parse_timestamp(&row[col("ActivityDateTime")]).unwrap();
        assert!(tg >= at);
        let by: Value = serde_json::from_str(&row[col("InitiatedBy")]).unwrap();
        let keys: Vec<&String> = by.as_object().unwrap().keys().collect();
        assert!(keys.len() <= 1, "only the present initiator: {keys:?}");
        assert!(
            serde_json::from_str::<Value>(&row[col("TargetResources")])
                .unwrap()
                .is_array()
        );
        assert!(
            serde_json::from_str::<Value>(&row[col("AdditionalDetails")])
                .unwrap()
                .is_array()
        );
        assert_eq!(&row[col("OperationName")], &row[col("ActivityDisplayName")]);
        assert_eq!(&row[col("Type")], "AuditLogs");
        assert_eq!(&row[col("DurationMs")], "0");
    }
    assert_eq!(n, 2_000);
    assert_eq!(ids.len(), 2_000);
}

#[test]
fn portal_csv_has_a_bom_86_quoted_columns_and_us_dates() {
    let dir = tempfile::tempdir().unwrap();
    let s = generate(&config(3_000, 42), Format::PortalCsv, dir.path()).unwrap();
    let path = dir.path().join("portal").join("AuditLogs.csv");
    assert_eq!(s.files, std::slice::from_ref(&path));
    let bytes = std::fs::read(&path).unwrap();
    assert_eq!(&bytes[..3], b"\xEF\xBB\xBF");
    let text = std::str::from_utf8(&bytes[3..]).unwrap();
    assert!(text.starts_with(
        "\"Date (UTC)\",\"CorrelationId\",\"Service\",\"Category\",\"Activity\",\"Result\""
    ));
    assert!(
        text.split("\r\n")
            .next()
            .unwrap()
            .ends_with("\"AdditionalDetail6Key\",\"AdditionalDetail6Value\"")
    );
    let mut rd = csv::ReaderBuilder::new().from_reader(&bytes[3..]);
    assert_eq!(rd.headers().unwrap().len(), 86);
    let us = regex_like_us_date;
    let mut rows = 0;
    let (mut truncated_targets, mut truncated_details) = (0, 0);
    let recs = records(3_000, 42);
    for (row, r) in rd.records().zip(&recs) {
        let row = row.unwrap();
        rows += 1;
        assert_eq!(row.len(), 86);
        assert!(us(&row[0]), "{}", &row[0]);
        // Seconds precision: the same second as the record.
        assert_eq!(
            parse_timestamp(&row[0]).unwrap(),
            r.activity_date_time - r.activity_date_time % 1_000_000_000
        );
        assert_eq!(&row[1], r.correlation_id);
        assert_eq!(&row[4], r.activity_display_name);
        truncated_targets += (r.target_resources.as_ref().unwrap().len() > 3) as usize;
        truncated_details += (r.additional_details.as_ref().unwrap().len() > 6) as usize;
        if r.activity_display_name == "Add app role assignment grant to user" {
            // The first five properties keep what the workbook needs.
            assert_eq!(&row[17], "ServicePrincipal");
            let names: Vec<&str> = (0..5).map(|p| &row[21 + 3 * p]).collect();
            assert_eq!(
                names,
                [
                    "AppRole.Id",
                    "AppRole.Value",
                    "AppRole.DisplayName",
                    "User.ObjectID",
                    "User.UPN"
                ]
            );
        }
    }
    assert_eq!(rows, 3_000);
    assert!(
        truncated_targets > 0 && truncated_details > 0,
        "the lossy limits are exercised"
    );
    // Every field quoted: each line has 2 × 86 unescaped quotes at least.
    for line in text.split("\r\n").filter(|l| !l.is_empty()).take(200) {
        assert!(line.starts_with('"') && line.ends_with('"'));
    }
}

/// `M/D/YYYY h:mm:ss AM`.
fn regex_like_us_date(s: &str) -> bool {
    let Some((date, rest)) = s.split_once(' ') else {
        return false;
    };
    let d: Vec<&str> = date.split('/').collect();
    let Some((time, ampm)) = rest.split_once(' ') else {
        return false;
    };
    let t: Vec<&str> = time.split(':').collect();
    d.len() == 3
        && d[0].len() <= 2
        && !d[0].starts_with('0')
        && d[2].len() == 4
        && t.len() == 3
        && t[1].len() == 2
        && t[2].len() == 2
        && !t[0].starts_with('0')
        && (ampm == "AM" || ampm == "PM")
}

#[test]
fn portal_json_is_an_array_of_graph_records() {
    let dir = tempfile::tempdir().unwrap();
    let s = generate(&config(1_500, 42), Format::PortalJson, dir.path()).unwrap();
    assert_eq!(s.files, [dir.path().join("portal").join("AuditLogs.json")]);
    let v: Value = serde_json::from_slice(&std::fs::read(&s.files[0]).unwrap()).unwrap();
    let arr = v.as_array().unwrap();
    assert_eq!(arr.len(), 1_500);
    let recs = records(1_500, 42);
    assert_eq!(arr[10], to_graph_json(&recs[10]));
    // Zero events still make valid JSON.
    let empty = tempfile::tempdir().unwrap();
    let s = generate(&config(0, 42), Format::PortalJson, empty.path()).unwrap();
    let v: Value = serde_json::from_slice(&std::fs::read(&s.files[0]).unwrap()).unwrap();
    assert_eq!(v, Value::Array(vec![]));
}

/// Streaming: only in-flight future events are held, not the log.
#[test]
fn memory_is_bounded_by_in_flight_events() {
    let mut stream = config(60_000, 42).events();
    let mut max = 0;
    let mut n = 0;
    while stream.next().is_some() {
        n += 1;
        max = max.max(stream.in_flight());
    }
    assert_eq!(n, 60_000);
    // Weeks-away removals dominate; still a small fraction of the log.
    assert!(max < 6_000, "{max} events in flight");
}

#[test]
fn end_accepts_dates_and_timestamps() {
    assert_eq!(
        parse_end("2026-11-01").unwrap(),
        parse_timestamp("2026-11-01T00:00:00Z").unwrap()
    );
    assert_eq!(
        parse_end("2026-11-01T06:00:00Z").unwrap(),
        parse_timestamp("2026-11-01T06:00:00Z").unwrap()
    );
    assert!(parse_end("someday").is_err());
    let cfg = Config {
        end: parse_end("2025-01-01T12:00:00Z").unwrap(),
        days: 2,
        ..config(1_000, 1)
    };
    let recs: Vec<_> = cfg.events().collect();
    assert_eq!(recs.len(), 1_000);
    assert!(
        recs.iter().all(|r| r.activity_date_time < cfg.end
            && r.activity_date_time >= cfg.end - 2 * timeline::DAY)
    );
}
