//! The entitlement-management reports end to end over a generated tenant, checked against the
//! generator's ground truth ([`GroundTruth`], computed from the tenant model and the event
//! timeline, never from the written files nor by SQL).
//!
//! `auditbook generate --events 5000 --seed 42 --snapshot-every 30` (snapshots 2026-09-02,
//! 2026-10-02, 2026-11-01) and `auditbook ingest` run once for the whole binary. The special
//! cases (group-only admission, hidden package, auto-assignment policy, unpublished catalog,
//! admin-only policy, connected-organization guest, a resource held through two packages,
//! denied / timed-out / failed / removed requests) are located through `GroundTruth.special`.
//!
//! Every run fixes `now()` at the window's end, 2026-11-01T00:00:00Z.

mod util;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::OnceLock;

use auditbook::generate::Config;
use auditbook::generate::snapshot::{GroundTruth, RequestStatus, RequestTruth, UserTruth};
use serde_json::Value;
use util::Run;

const NOW: &str = "2026-11-01T00:00:00Z";

struct Fixture {
    out: PathBuf,
    data: PathBuf,
    config: Config,
    truth: GroundTruth,
}

/// The `Config` the CLI builds for `generate --events 5000 --seed 42` (default end and days).
fn config() -> Config {
    Config {
        seed: 42,
        ..Config::new(5_000)
    }
}

/// Generated, ingested and the ground truth at the window's end: once per test binary.
fn fx() -> &'static Fixture {
    static FX: OnceLock<Fixture> = OnceLock::new();
    FX.get_or_init(|| {
        let dir = tempfile::Builder::new()
            .prefix("reports_generated")
            .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
            .unwrap()
            .keep();
        let out = dir.join("gen");
        let data = dir.join("data");
        let r: Run = util::bin()
            .args(["generate", "--events", "5000", "--seed", "42"])
            .args(["--snapshot-every", "30", "--out"])
            .arg(&out)
            .output()
            .unwrap()
            .into();
        assert_eq!(r.code, 0, "generate: {}", r.stderr);
        let (summary, _) = util::ingest(&data, &[out.clone()]);
        assert_eq!(util::counts(&summary).3, 0, "nothing rejected: {summary}");
        let config = config();
        let truth = GroundTruth::new(&config);
        Fixture {
            out,
            data,
            config,
            truth,
        }
    })
}

fn report(args: &[&str]) -> Run {
    let mut all = vec!["report"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--now", NOW]);
    util::run(&fx().data, &all)
}

/// A step of `report ... --format json`: its columns and rows (objects).
struct Step {
    columns: Vec<String>,
    rows: Vec<Value>,
}

/// `report ... --format json`: the steps by name.
fn report_json(args: &[&str]) -> BTreeMap<String, Step> {
    let mut a = args.to_vec();
    a.extend_from_slice(&["--format", "json"]);
    let r = report(&a);
    assert_eq!(r.code, 0, "{args:?}\n{}\n{}", r.stdout, r.stderr);
    let doc = r.json();
    for k in ["workbook", "parameters", "time", "steps"] {
        assert!(doc.get(k).is_some(), "{k} in the run contract: {doc}");
    }
    doc["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            assert_eq!(
                s["truncated"],
                Value::Bool(false),
                "{args:?}: {}",
                s["name"]
            );
            let (columns, rows) = util::step_table(s);
            (
                s["name"].as_str().unwrap().to_string(),
                Step { columns, rows },
            )
        })
        .collect()
}

fn step(steps: &BTreeMap<String, Step>, name: &str) -> Vec<Value> {
    steps
        .get(name)
        .unwrap_or_else(|| panic!("step {name} in {:?}", steps.keys().collect::<Vec<_>>()))
        .rows
        .clone()
}

fn s<'a>(row: &'a Value, col: &str) -> &'a str {
    match &row[col] {
        Value::String(s) => s,
        Value::Null => "",
        other => panic!("{col} is not a string: {other} in {row}"),
    }
}

fn user<'a>(t: &'a GroundTruth, upn: &str) -> &'a UserTruth {
    t.user(upn)
        .unwrap_or_else(|| panic!("{upn} in the ground truth"))
}

fn package_index(t: &GroundTruth, id: &str) -> usize {
    t.governance
        .packages
        .iter()
        .position(|p| p.id == id)
        .unwrap_or_else(|| panic!("package {id}"))
}

fn policy_name(t: &GroundTruth, id: &str) -> String {
    t.governance
        .policies
        .iter()
        .find(|p| p.id == id)
        .unwrap_or_else(|| panic!("policy {id}"))
        .display_name
        .clone()
}

/// The package of a policy, id.
fn package_of_policy(t: &GroundTruth, policy_id: &str) -> String {
    let g = &t.governance;
    let p = g.policies.iter().find(|p| p.id == policy_id).unwrap();
    g.packages[p.package].id.clone()
}

// ---------------------------------------------------------------------------------------------
// 1. assignments

const ASSIGNMENT_COLUMNS: [&str; 13] = [
    "DisplayName",
    "Email",
    "PrincipalName",
    "ObjectId",
    "SubjectType",
    "ConnectedOrganization",
    "AccessPackage",
    "Policy",
    "State",
    "Status",
    "StartDate",
    "EndDate",
    "AssignmentId",
];

#[test]
fn assignments_equal_the_ground_truth_for_every_package() {
    let t = &fx().truth;
    let g = &t.governance;
    let auto_package = package_of_policy(t, &t.special.auto_policy_id);
    let guest_packages: BTreeSet<usize> = t
        .assignments
        .iter()
        .filter(|a| t.users[a.user].guest)
        .map(|a| a.package)
        .collect();
    assert!(!guest_packages.is_empty(), "a package has a guest");
    let mut checked_auto = false;
    let mut checked_guest = false;
    for (i, pkg) in g.packages.iter().enumerate() {
        let steps = report_json(&["assignments", "--package", &pkg.id]);
        let st = &steps["assignments"];
        assert_eq!(st.columns, ASSIGNMENT_COLUMNS, "{}", pkg.display_name);
        let rows = &st.rows;
        let got: BTreeSet<(String, String, String)> = rows
            .iter()
            .map(|r| {
                (
                    s(r, "PrincipalName").to_string(),
                    s(r, "Policy").to_string(),
                    s(r, "State").to_string(),
                )
            })
            .collect();
        let want_asg: Vec<_> = t.assignments.iter().filter(|a| a.package == i).collect();
        let want: BTreeSet<(String, String, String)> = want_asg
            .iter()
            .map(|a| {
                (
                    t.users[a.user].upn.clone(),
                    g.policies[a.policy].display_name.clone(),
                    "delivered".to_string(),
                )
            })
            .collect();
        assert_eq!(got, want, "assignments of {}", pkg.display_name);
        assert_eq!(rows.len(), want_asg.len(), "{}", pkg.display_name);
        // Row by row: ids, object ids, package, status, connected organization.
        let by_id: BTreeMap<&str, &Value> =
            rows.iter().map(|r| (s(r, "AssignmentId"), r)).collect();
        for a in &want_asg {
            let r = by_id
                .get(a.id.as_str())
                .unwrap_or_else(|| panic!("assignment {} of {}", a.id, pkg.display_name));
            let u = &t.users[a.user];
            assert_eq!(s(r, "ObjectId"), u.id);
            assert_eq!(s(r, "AccessPackage"), pkg.display_name);
            assert_eq!(s(r, "SubjectType"), "user");
            assert_eq!(s(r, "Status"), "Delivered");
            assert_eq!(
                s(r, "StartDate"),
                auditbook::time::format_rfc3339_nanos(a.start),
                "{r}"
            );
            assert_eq!(
                r["EndDate"].as_str().map(str::to_string),
                a.end.map(auditbook::time::format_rfc3339_nanos),
                "{r}"
            );
            if let Some(o) = u.connected_org {
                assert_eq!(
                    s(r, "ConnectedOrganization"),
                    g.connected_orgs[o].display_name,
                    "{r}"
                );
            }
            if u.guest {
                checked_guest = true;
            }
        }
        if pkg.id == auto_package {
            checked_auto = true;
            let emily = &t.special.auto_target_upn;
            assert!(
                rows.iter().any(|r| s(r, "PrincipalName") == emily
                    && s(r, "Policy") == policy_name(t, &t.special.auto_policy_id)),
                "{emily} auto-assigned: {rows:?}"
            );
        }
    }
    assert!(checked_auto && checked_guest);

    // By name (any case) gives the same rows as by id.
    for id in [
        auto_package.clone(),
        g.packages[*guest_packages.iter().next().unwrap()]
            .id
            .clone(),
    ] {
        let name = &g.packages[package_index(t, &id)].display_name;
        let by_id = step(
            &report_json(&["assignments", "--package", &id]),
            "assignments",
        );
        let by_name = step(
            &report_json(&["assignments", "--package", name]),
            "assignments",
        );
        let lower = step(
            &report_json(&["assignments", "--package", &name.to_lowercase()]),
            "assignments",
        );
        assert_eq!(by_id, by_name, "{name}");
        assert_eq!(by_id, lower, "{name}");
    }
}

// ---------------------------------------------------------------------------------------------
// 2. user-packages

/// (package id, policy id) of the Can request step, the Hidden flag by package, the Assigned
/// step's assignment ids.
struct UserPackages {
    can: BTreeSet<(String, String)>,
    hidden: BTreeMap<String, bool>,
    admitted_by: BTreeMap<(String, String), String>,
    assigned: BTreeSet<String>,
    assigned_rows: Vec<Value>,
}

fn user_packages(upn: &str, extra: &[&str]) -> UserPackages {
    let mut args = vec!["user-packages", "--user", upn];
    args.extend_from_slice(extra);
    let steps = report_json(&args);
    let can_rows = step(&steps, "can-request");
    let assigned_rows = step(&steps, "assigned");
    let mut hidden = BTreeMap::new();
    let mut admitted_by = BTreeMap::new();
    let mut can = BTreeSet::new();
    for r in &can_rows {
        let key = (
            s(r, "AccessPackageId").to_string(),
            s(r, "PolicyId").to_string(),
        );
        let h = r["Hidden"]
            .as_bool()
            .unwrap_or_else(|| panic!("Hidden: {r}"));
        let prev = hidden.insert(key.0.clone(), h);
        assert!(prev.is_none() || prev == Some(h), "{r}");
        admitted_by.insert(key.clone(), s(r, "AdmittedBy").to_string());
        can.insert(key);
    }
    UserPackages {
        can,
        hidden,
        admitted_by,
        assigned: assigned_rows
            .iter()
            .map(|r| s(r, "AssignmentId").to_string())
            .collect(),
        assigned_rows,
    }
}

fn truth_can(u: &UserTruth) -> BTreeSet<(String, String)> {
    u.can_request
        .iter()
        .flat_map(|c| {
            c.policy_ids
                .iter()
                .map(move |p| (c.package_id.clone(), p.clone()))
        })
        .collect()
}

#[test]
fn user_packages_equal_the_ground_truth() {
    let t = &fx().truth;
    let g = &t.governance;
    let sp = &t.special;
    let guest_upn = sp
        .connected_org_guest_upn
        .clone()
        .expect("a connected-organization guest");
    // The special users, a guest of each connected organization (configured, proposed), the
    // guests of none, and every 40th member (each report run takes about a second).
    let mut upns: BTreeSet<String> = [
        sp.group_member_upn.clone(),
        guest_upn.clone(),
        sp.auto_target_upn.clone(),
        sp.two_package_user_upn.clone().unwrap(),
    ]
    .into_iter()
    .collect();
    let mut orgs_seen = BTreeSet::new();
    for u in t.users.iter().filter(|u| u.guest) {
        if u.connected_org.is_none() || orgs_seen.insert(u.connected_org) {
            upns.insert(u.upn.clone());
        }
    }
    upns.extend(
        t.users
            .iter()
            .filter(|u| !u.guest)
            .step_by(40)
            .map(|u| u.upn.clone()),
    );
    assert!(upns.len() >= 10);
    let auto_package = package_of_policy(t, &sp.auto_policy_id);
    let mut hidden_seen = false;
    let mut runs: BTreeMap<String, UserPackages> = BTreeMap::new();
    for upn in &upns {
        let u = user(t, upn);
        let got = runs
            .entry(upn.clone())
            .or_insert_with(|| user_packages(upn, &[]));
        assert_eq!(got.can, truth_can(u), "Can request of {upn}");
        for c in &u.can_request {
            assert_eq!(got.hidden[&c.package_id], c.hidden, "Hidden of {upn}");
            hidden_seen |= c.hidden && c.package_id == sp.hidden_package_id;
        }
        let want_assigned: BTreeSet<String> = u.assignments.iter().map(|a| a.id.clone()).collect();
        assert_eq!(got.assigned, want_assigned, "Assigned of {upn}");
        for r in &got.assigned_rows {
            let a = u.assignments.iter().find(|a| a.id == s(r, "AssignmentId"));
            let a = a.unwrap();
            assert_eq!(s(r, "AccessPackageId"), a.package_id);
            assert_eq!(s(r, "PolicyId"), a.policy_id);
            assert_eq!(s(r, "State"), "delivered");
        }
        // Never requestable: the unpublished catalog's package, the admin-only policy, the
        // auto-assignment policy.
        for (p, pol) in &got.can {
            assert_ne!(p, &sp.unpublished_package_id, "{upn}");
            assert_ne!(pol, &sp.admin_only_policy_id, "{upn}");
            assert_ne!(pol, &sp.auto_policy_id, "{upn}");
            assert_ne!(p, &auto_package, "{upn}");
        }
    }
    assert!(
        hidden_seen,
        "a member can request the hidden package, flagged"
    );

    // A member: the hidden package is listed with Hidden=true.
    let member = t
        .users
        .iter()
        .find(|u| !u.guest && upns.contains(&u.upn) && u.upn != sp.group_member_upn)
        .unwrap();
    let got = &runs[&member.upn];
    assert_eq!(got.hidden.get(&sp.hidden_package_id), Some(&true));
    assert!(!got.hidden.contains_key(&sp.unpublished_package_id));
    assert!(got.can.iter().all(|(_, p)| p != &sp.admin_only_policy_id));

    // Group-only admission (nested): shown with the admitting group; gone without nesting.
    let patti = user(t, &sp.group_member_upn);
    let key = (sp.group_package_id.clone(), sp.group_policy_id.clone());
    assert!(truth_can(patti).contains(&key));
    let gi = g
        .groups
        .iter()
        .position(|x| x.id == sp.admitting_group_id)
        .unwrap();
    let group_name = &g.groups[gi].display_name;
    let got = &runs[&patti.upn];
    assert_eq!(
        got.admitted_by.get(&key).map(String::as_str),
        Some(format!("member of group {group_name}").as_str())
    );
    let nested = !t.groups[gi].users.contains(&patti.user)
        && t.groups[gi].transitive_users.contains(&patti.user);
    assert!(nested, "the admission is through a nested group");
    let flat = user_packages(&patti.upn, &["--param", "Transitive=false"]);
    assert!(!flat.can.contains(&key), "nested membership ignored");
    let mut expect = got.can.clone();
    expect.remove(&key);
    assert_eq!(flat.can, expect, "only the group-only package goes");

    // The connected-organization guest: admitted only through connected-organization scopes.
    let alex = user(t, &guest_upn);
    let got = &runs[&guest_upn];
    assert!(!got.can.is_empty());
    assert_eq!(got.can, truth_can(alex));
    let org = &g.connected_orgs[alex.connected_org.unwrap()].display_name;
    for (key, by) in &got.admitted_by {
        let pol = g.policies.iter().find(|p| p.id == key.1).unwrap();
        assert!(pol.scope.is_connected_organization(), "{pol:?}");
        assert!(
            by.contains(&format!("connected organization {org}")),
            "{by}"
        );
    }

    // The auto-assignment target: the package is Assigned, not requestable.
    let emily = user(t, &sp.auto_target_upn);
    assert!(
        emily
            .assignments
            .iter()
            .any(|a| a.policy_id == sp.auto_policy_id)
    );
    let got = &runs[&emily.upn];
    assert!(got.can.iter().all(|(p, _)| p != &auto_package));
    assert!(
        got.assigned_rows
            .iter()
            .any(|r| s(r, "AccessPackageId") == auto_package
                && s(r, "PolicyId") == sp.auto_policy_id)
    );
}

// ---------------------------------------------------------------------------------------------
// 3. user-resources

#[test]
fn user_resources_equal_the_ground_truth() {
    let t = &fx().truth;
    let sp = &t.special;
    let johanna = sp.two_package_user_upn.clone().unwrap();
    let res_id = sp.two_package_resource_id.clone().unwrap();
    let (p1, p2) = sp.two_package_package_ids.clone().unwrap();

    let rows = step(
        &report_json(&["user-resources", "--user", &johanna]),
        "resources",
    );
    let two: Vec<&Value> = rows
        .iter()
        .filter(|r| s(r, "ResourceId") == res_id)
        .collect();
    assert_eq!(two.len(), 2, "once per package: {rows:?}");
    assert_eq!(
        two.iter()
            .map(|r| s(r, "AccessPackageId").to_string())
            .collect::<BTreeSet<_>>(),
        [p1, p2].into_iter().collect()
    );
    for r in &two {
        assert_eq!(r["Packages"].as_i64(), Some(2), "{r}");
    }
    let held = user(t, &johanna)
        .resources
        .iter()
        .find(|h| h.resource_id == res_id)
        .unwrap();
    assert_eq!(s(two[0], "Resource"), held.resource_name);
    assert_eq!(s(two[0], "Role"), held.role_name);
    assert_eq!(s(two[0], "Resource"), "ServiceNow");
    assert_eq!(s(two[0], "Role"), "ITIL User");

    // The five users holding the most resource roles, and johanna.
    let mut users: Vec<&UserTruth> = t.users.iter().collect();
    users.sort_by_key(|u| (std::cmp::Reverse(u.resources.len()), u.user));
    let mut upns: BTreeSet<String> = users.iter().take(5).map(|u| u.upn.clone()).collect();
    upns.insert(johanna);
    upns.insert(sp.auto_target_upn.clone());
    for upn in &upns {
        let u = user(t, upn);
        let rows = step(
            &report_json(&["user-resources", "--user", upn]),
            "resources",
        );
        let got: Vec<(String, String, String, String, String)> = {
            let mut v: Vec<_> = rows
                .iter()
                .map(|r| {
                    (
                        s(r, "Resource").to_string(),
                        s(r, "Role").to_string(),
                        s(r, "AccessPackageId").to_string(),
                        s(r, "ResourceId").to_string(),
                        s(r, "AssignmentId").to_string(),
                    )
                })
                .collect();
            v.sort();
            v
        };
        let mut want: Vec<_> = u
            .resources
            .iter()
            .map(|h| {
                (
                    h.resource_name.clone(),
                    h.role_name.clone(),
                    h.package_id.clone(),
                    h.resource_id.clone(),
                    h.assignment_id.clone(),
                )
            })
            .collect();
        want.sort();
        assert_eq!(got, want, "resources of {upn}");
        // Packages counts the distinct packages per resource.
        let mut per: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
        for h in &u.resources {
            per.entry(&h.resource_id).or_default().insert(&h.package_id);
        }
        for r in &rows {
            assert_eq!(
                r["Packages"].as_i64(),
                Some(per[s(r, "ResourceId")].len() as i64),
                "{upn}: {r}"
            );
            assert!(
                ["Group", "Application"].contains(&s(r, "ResourceType")),
                "{r}"
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// 4. request-status

/// The report's status of an add request, from the ground truth: the seed table's words, and
/// "removed" when a removal request of the truth ended the assignment it created.
fn expected_status(t: &GroundTruth, r: &RequestTruth) -> (String, Option<String>) {
    let removal = r.assignment_id.as_ref().and_then(|a| {
        t.requests.iter().find(|o| {
            o.request_type.ends_with("Remove")
                && o.status == RequestStatus::Removed
                && o.assignment_id.as_ref() == Some(a)
        })
    });
    let word = match r.status {
        RequestStatus::Submitted => "requested",
        RequestStatus::NeedsApproval => "needs approval",
        RequestStatus::AutoApproved => "no approval needed",
        RequestStatus::Approved => "approved",
        RequestStatus::Denied => "denied",
        RequestStatus::TimedOut => "timed out",
        RequestStatus::ReadyToFulfil => "ready to fulfil",
        RequestStatus::Fulfilled if removal.is_some() => "removed",
        RequestStatus::Fulfilled => "fulfilled",
        RequestStatus::Failed => "failed",
        RequestStatus::Removed => "removed",
    };
    (
        word.to_string(),
        removal.and_then(|o| o.correlation_id.clone()),
    )
}

/// The audit log's records (from the generated NDJSON): correlation id → (time, activity) of
/// the records the report follows (EntitlementManagement, and the approval records).
fn log_steps() -> &'static BTreeMap<String, Vec<(String, String)>> {
    static LOG: OnceLock<BTreeMap<String, Vec<(String, String)>>> = OnceLock::new();
    LOG.get_or_init(|| {
        let mut out: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
        for e in std::fs::read_dir(fx().out.join("graph")).unwrap() {
            let text = std::fs::read_to_string(e.unwrap().path()).unwrap();
            for line in text.lines() {
                let v: Value = serde_json::from_str(line).unwrap();
                let activity = v["activityDisplayName"].as_str().unwrap();
                let cat = v["category"].as_str().unwrap();
                if cat == "EntitlementManagement"
                    || (cat == "UserManagement"
                        && [
                            "Create request approval",
                            "Add approver to request approval",
                        ]
                        .contains(&activity))
                {
                    let time =
                        auditbook::time::parse_timestamp(v["activityDateTime"].as_str().unwrap())
                            .unwrap();
                    out.entry(v["correlationId"].as_str().unwrap().to_string())
                        .or_default()
                        .push((
                            auditbook::time::format_rfc3339_nanos(time),
                            activity.to_string(),
                        ));
                }
            }
        }
        for v in out.values_mut() {
            v.sort();
        }
        out
    })
}

#[test]
fn request_status_equals_the_ground_truth() {
    let t = &fx().truth;
    let sp = &t.special;
    let specials = [
        ("denied", sp.denied_request.clone()),
        ("timed out", sp.timed_out_request.clone()),
        ("failed", sp.failed_request.clone()),
        ("removed", sp.removal_request.clone()),
        ("removed", sp.ended_request.clone()),
    ];
    let mut users = BTreeSet::new();
    for (word, id) in &specials {
        let r = t.request(id.as_ref().expect("special request")).unwrap();
        users.insert(r.target);
        // The special request's own status (a removal request: the add request it ends).
        let add = if r.request_type.ends_with("Remove") {
            t.requests
                .iter()
                .find(|o| o.request_type.ends_with("Add") && o.assignment_id == r.assignment_id)
                .unwrap()
        } else {
            r
        };
        assert_eq!(&expected_status(t, add).0, word, "{r:?}");
    }
    let timeline_users: BTreeSet<usize> = [&sp.denied_request, &sp.removal_request]
        .iter()
        .map(|id| t.request(id.as_deref().unwrap()).unwrap().target)
        .collect();
    let mut seen: BTreeSet<String> = BTreeSet::new();
    for &ui in &users {
        let u = &t.users[ui];
        // The timeline step costs ~5 s a run: only for the denied and removed requests' users.
        let with_timeline = timeline_users.contains(&ui);
        let mut args = vec!["request-status", "--user", &u.upn];
        if with_timeline {
            args.push("--timeline");
        }
        let steps = report_json(&args);
        let rows = step(&steps, "requests");
        let timeline = if with_timeline {
            step(&steps, "timeline")
        } else {
            assert!(
                !steps.contains_key("timeline"),
                "timeline only with --timeline"
            );
            Vec::new()
        };
        let got: BTreeMap<&str, &Value> = rows.iter().map(|r| (s(r, "CorrelationId"), r)).collect();
        assert_eq!(got.len(), rows.len(), "one row per request: {rows:?}");
        let adds: Vec<&RequestTruth> = t
            .requests
            .iter()
            .filter(|r| r.target == ui && r.request_type.ends_with("Add"))
            .filter(|r| r.correlation_id.is_some())
            .collect();
        assert_eq!(
            got.keys().map(|k| k.to_string()).collect::<BTreeSet<_>>(),
            adds.iter()
                .map(|r| r.correlation_id.clone().unwrap())
                .collect::<BTreeSet<_>>(),
            "requests of {}",
            u.upn
        );
        for r in &adds {
            let c = r.correlation_id.as_deref().unwrap();
            let row = got[c];
            let (word, removal) = expected_status(t, r);
            assert_eq!(s(row, "Status"), word, "{} {r:?}", u.upn);
            assert_eq!(s(row, "AccessPackageId"), r.package_id);
            assert_eq!(
                s(row, "RemovalCorrelationId"),
                removal.clone().unwrap_or_default(),
                "{row}"
            );
            seen.insert(word.clone());

            if !with_timeline {
                continue;
            }
            // Timeline: every record of the request, then of its removal, in time order.
            let steps_of: Vec<&Value> = timeline
                .iter()
                .filter(|x| s(x, "CorrelationId") == c)
                .collect();
            let mut want: Vec<(String, String)> = log_steps()[c].clone();
            if let Some(rc) = &removal {
                // The removal's own correlation id: its "Remove access package assignment".
                want.extend(
                    log_steps()[rc]
                        .iter()
                        .filter(|(_, a)| a == "Remove access package assignment")
                        .cloned(),
                );
            }
            let got_steps: Vec<(String, String)> = steps_of
                .iter()
                .map(|x| (s(x, "Time").to_string(), s(x, "Activity").to_string()))
                .collect();
            assert_eq!(got_steps, want, "timeline of {c} ({})", u.upn);
            let times: Vec<&str> = steps_of.iter().map(|x| s(x, "Time")).collect();
            assert!(
                times.windows(2).all(|w| w[0] <= w[1]),
                "in order: {times:?}"
            );
            assert!(steps_of.iter().all(|x| s(x, "Status") == word));
        }
    }
    for w in ["denied", "timed out", "failed", "removed", "fulfilled"] {
        assert!(seen.contains(w), "{w} among {seen:?}");
    }
}

// ---------------------------------------------------------------------------------------------
// 5. connected-orgs

const ORG_COLUMNS: [&str; 11] = [
    "Id",
    "DisplayName",
    "Description",
    "State",
    "IdentitySourceTypes",
    "Domains",
    "TenantIds",
    "InternalSponsors",
    "ExternalSponsors",
    "CreatedDateTime",
    "ModifiedDateTime",
];

fn split(v: &str) -> BTreeSet<String> {
    v.split("; ")
        .filter(|x| !x.is_empty())
        .map(str::to_string)
        .collect()
}

#[test]
fn connected_orgs_equal_the_ground_truth_json_and_csv() {
    let t = &fx().truth;
    let tenant = &t.governance.tenant;
    let name_of = |id: &String| {
        tenant
            .users
            .iter()
            .find(|u| &u.id == id)
            .unwrap_or_else(|| panic!("sponsor {id}"))
            .display_name
            .clone()
    };
    let steps = report_json(&["connected-orgs"]);
    let st = &steps["connected-organizations"];
    assert_eq!(st.columns, ORG_COLUMNS);
    let json_rows = st.rows.clone();

    let r = report(&["connected-orgs", "--format", "csv"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let mut rd = csv::Reader::from_reader(r.stdout.as_bytes());
    assert_eq!(
        rd.headers().unwrap().iter().collect::<Vec<_>>(),
        ORG_COLUMNS
    );
    let csv_rows: Vec<BTreeMap<String, String>> = rd
        .records()
        .map(|rec| {
            let rec = rec.expect("valid UTF-8 CSV record");
            ORG_COLUMNS
                .iter()
                .map(|c| c.to_string())
                .zip(rec.iter().map(str::to_string))
                .collect()
        })
        .collect();
    assert_eq!(csv_rows.len(), json_rows.len());
    assert_eq!(json_rows.len(), t.connected_organizations.len());

    for o in &t.connected_organizations {
        let j = json_rows
            .iter()
            .find(|r| s(r, "Id") == o.id)
            .unwrap_or_else(|| panic!("{} listed", o.display_name));
        let c = csv_rows.iter().find(|r| r["Id"] == o.id).unwrap();
        for row in [
            ORG_COLUMNS
                .iter()
                .map(|k| (k.to_string(), s(j, k).to_string()))
                .collect::<BTreeMap<_, _>>(),
            c.clone(),
        ] {
            assert_eq!(row["DisplayName"], o.display_name);
            let state = if o.configured {
                "configured"
            } else {
                "proposed"
            };
            assert_eq!(row["State"], state, "{}", o.display_name);
            match &o.tenant_id {
                Some(tid) => {
                    assert_eq!(row["TenantIds"], *tid);
                    assert_eq!(row["IdentitySourceTypes"], "azureActiveDirectoryTenant");
                    assert_eq!(row["Domains"], "");
                }
                None => {
                    assert_eq!(row["TenantIds"], "");
                    assert_eq!(row["IdentitySourceTypes"], "domainIdentitySource");
                    assert_eq!(row["Domains"], o.domain);
                }
            }
            let internal: BTreeSet<String> = o.internal_sponsor_ids.iter().map(name_of).collect();
            let external: BTreeSet<String> = o.external_sponsor_ids.iter().map(name_of).collect();
            assert_eq!(
                split(&row["InternalSponsors"]),
                internal,
                "{}",
                o.display_name
            );
            assert_eq!(
                split(&row["ExternalSponsors"]),
                external,
                "{}",
                o.display_name
            );
        }
    }
    // Sorted by name; a proposed organization is listed too.
    let names: Vec<&str> = json_rows.iter().map(|r| s(r, "DisplayName")).collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted);
    assert!(t.connected_organizations.iter().any(|o| !o.configured));
}

// ---------------------------------------------------------------------------------------------
// 6. access-at

/// Assignment ids of the pre-window (auto-assignment) assignments: no record in the log.
fn pre_window_ids(t: &GroundTruth) -> BTreeSet<String> {
    t.governance
        .pre_window
        .iter()
        .map(|p| p.assignment_id.clone())
        .collect()
}

fn holders(package: &str, at: &str) -> (BTreeSet<String>, Vec<Value>) {
    let steps = report_json(&["access-at", "--package", package, "--at", at]);
    let rows = step(&steps, "holders");
    let got: BTreeSet<String> = rows.iter().map(|r| s(r, "ObjectId").to_string()).collect();
    assert_eq!(got.len(), rows.len(), "one row per user: {rows:?}");
    (got, step(&steps, "disagreements"))
}

const SNAPSHOT_AT: &str = "2026-10-02";

/// The holders are the log's view of the ground truth (expiry by the policy's duration counts,
/// with or without the system's removal record); the snapshot taken at At disagrees exactly by
/// the assignments the log cannot see (pre-window auto-assignments: "in snapshot, not in log").
#[test]
fn access_at_follows_the_log_and_the_snapshot_at_at() {
    let f = fx();
    let at = auditbook::generate::parse_end(SNAPSHOT_AT).unwrap();
    let then = GroundTruth::at(&f.config, at);
    let pre = pre_window_ids(&then);
    let mut nonempty = 0;
    for (i, pkg) in then.governance.packages.iter().enumerate() {
        let (got, dis) = holders(&pkg.id, SNAPSHOT_AT);
        let truth: BTreeSet<String> = then
            .assignments
            .iter()
            .filter(|a| a.package == i)
            .map(|a| a.user_id.clone())
            .collect();
        let visible: BTreeSet<String> = then
            .assignments
            .iter()
            .filter(|a| a.package == i && !pre.contains(&a.id))
            .map(|a| a.user_id.clone())
            .collect();
        // The log's view: every assignment it records (fulfilments not ended by a removal or
        // by the policy's duration), i.e. the truth without the pre-window ones.
        let want = visible.clone();
        assert_eq!(
            got, want,
            "holders of {} at {SNAPSHOT_AT}",
            pkg.display_name
        );
        nonempty += usize::from(!got.is_empty());
        let mut want_dis: BTreeSet<(String, String)> = truth
            .difference(&visible)
            .map(|u| ("in snapshot, not in log".to_string(), u.clone()))
            .collect();
        want_dis.extend(
            want.difference(&truth)
                .map(|u| ("in log, not in snapshot".to_string(), u.clone())),
        );
        let got_dis: BTreeSet<(String, String)> = dis
            .iter()
            .map(|r| {
                (
                    s(r, "Disagreement").to_string(),
                    s(r, "ObjectId").to_string(),
                )
            })
            .collect();
        assert_eq!(got_dis, want_dis, "disagreements of {}", pkg.display_name);
        for r in &dis {
            assert!(s(r, "ComparedSnapshot").starts_with(SNAPSHOT_AT), "{r}");
        }
    }
    assert!(nonempty >= 5, "enough packages held at {SNAPSHOT_AT}");

    // Between snapshots, by package name.
    let at_text = "2026-10-15T12:00:00Z";
    let then = GroundTruth::at(
        &f.config,
        auditbook::time::parse_timestamp(at_text).unwrap(),
    );
    let pre = pre_window_ids(&then);
    for (i, pkg) in then.governance.packages.iter().enumerate().step_by(4) {
        let (got, _) = holders(&pkg.display_name, at_text);
        let want: BTreeSet<String> = then
            .assignments
            .iter()
            .filter(|a| a.package == i && !pre.contains(&a.id))
            .map(|a| a.user_id.clone())
            .collect();
        assert_eq!(got, want, "holders of {}", pkg.display_name);
    }
}

/// Holders equal the ground truth's assignments in force (auto-assignments aside) and the
/// snapshot at At agrees apart from the pre-window ones.
#[test]
fn access_at_equals_the_ground_truth_at_a_snapshot_date() {
    let f = fx();
    let at = auditbook::generate::parse_end(SNAPSHOT_AT).unwrap();
    let then = GroundTruth::at(&f.config, at);
    let pre = pre_window_ids(&then);
    for (i, pkg) in then.governance.packages.iter().enumerate() {
        let (got, dis) = holders(&pkg.id, SNAPSHOT_AT);
        let visible: BTreeSet<String> = then
            .assignments
            .iter()
            .filter(|a| a.package == i && !pre.contains(&a.id))
            .map(|a| a.user_id.clone())
            .collect();
        assert_eq!(
            got, visible,
            "holders of {} at {SNAPSHOT_AT}",
            pkg.display_name
        );
        assert!(
            dis.iter()
                .all(|r| s(r, "Disagreement") == "in snapshot, not in log"),
            "{dis:?}"
        );
    }
}
