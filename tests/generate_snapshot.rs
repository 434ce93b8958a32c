//! `auditbook generate --snapshot`: the snapshot folders' layout and Graph pages, referential
//! integrity, consistency with the audit log written beside them (read back from the NDJSON),
//! the special cases, determinism, and agreement with the library's ground truth.

mod util;

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use auditbook::generate::Config;
use auditbook::generate::snapshot::GroundTruth;
use auditbook::time::parse_timestamp;
use serde_json::Value;
use util::*;

const DAY: i64 = 86_400_000_000_000;
const SNAPSHOTS: [&str; 3] = [
    "snapshot-2026-09-02",
    "snapshot-2026-10-02",
    "snapshot-2026-11-01",
];

fn generate(out: &Path, seed: &str, extra: &[&str]) {
    let r: Run = bin()
        .args(["generate", "--events", "5000", "--seed", seed, "--out"])
        .arg(out)
        .args(extra)
        .output()
        .unwrap()
        .into();
    assert_eq!(r.code, 0, "{}", r.stderr);
}

/// Seed 42, 5,000 events, snapshots every 30 days: generated once for all tests.
fn out() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join("generate_snapshot_seed42");
        let _ = std::fs::remove_dir_all(&d);
        generate(&d, "42", &["--snapshot", "--snapshot-every", "30"]);
        d
    })
}

fn tree(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.insert(
                    p.strip_prefix(dir).unwrap().to_path_buf(),
                    std::fs::read(&p).unwrap(),
                );
            }
        }
    }
    out
}

fn read(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap_or_else(|e| panic!("{path:?}: {e}")))
        .unwrap_or_else(|e| panic!("{path:?}: {e}"))
}

/// All values of a paged collection `<base>.json`, `<base>.2.json`, ..., checking the pages.
fn collection(snap: &Path, base: &str) -> Vec<Value> {
    let mut values = Vec::new();
    let mut page = 1;
    loop {
        let name = if page == 1 {
            format!("{base}.json")
        } else {
            format!("{base}.{page}.json")
        };
        let v = read(&snap.join(&name));
        let ctx = v["@odata.context"].as_str().unwrap();
        assert!(
            ctx.starts_with("https://graph.microsoft.com/v1.0/$metadata#"),
            "{ctx}"
        );
        let vals = v["value"].as_array().unwrap();
        assert!(vals.len() <= 100, "{name}");
        values.extend(vals.iter().cloned());
        match v.get("@odata.nextLink").and_then(Value::as_str) {
            Some(next) => {
                assert!(
                    next.starts_with("https://graph.microsoft.com/v1.0/")
                        && next.contains("$skiptoken="),
                    "{next}"
                );
                assert_eq!(vals.len(), 100, "only the last page is short");
                page += 1;
            }
            None => {
                let after = format!("{base}.{}.json", page + 1);
                assert!(!snap.join(after).exists(), "{base}: page after the last");
                return values;
            }
        }
    }
}

fn by_id(values: &[Value]) -> HashMap<String, &Value> {
    values
        .iter()
        .map(|v| (v["id"].as_str().unwrap().to_string(), v))
        .collect()
}

fn ts(v: &Value) -> i64 {
    parse_timestamp(v.as_str().unwrap()).unwrap()
}

#[test]
fn layout_pages_and_references() {
    let out = out();
    let names: BTreeSet<String> = std::fs::read_dir(out)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(
        names,
        ["graph"]
            .iter()
            .chain(SNAPSHOTS.iter())
            .map(|s| s.to_string())
            .collect()
    );
    for snap in SNAPSHOTS.map(|s| out.join(s)) {
        let users = collection(&snap, "users");
        let groups = collection(&snap, "groups");
        let catalogs = collection(&snap, "catalogs");
        let packages = collection(&snap, "accessPackages");
        let policies = collection(&snap, "assignmentPolicies");
        let assignments = collection(&snap, "assignments");
        let requests = collection(&snap, "assignmentRequests");
        let orgs = collection(&snap, "connectedOrganizations");
        assert!(users.len() > 100, "users span pages");
        assert!(snap.join("users.2.json").exists());
        let (users, groups, catalogs, packages, policies, orgs) = (
            by_id(&users),
            by_id(&groups),
            by_id(&catalogs),
            by_id(&packages),
            by_id(&policies),
            by_id(&orgs),
        );
        for id in groups.keys() {
            for m in ["members", "transitiveMembers"] {
                for member in collection(&snap, &format!("groups/{id}/{m}")) {
                    let ty = member["@odata.type"].as_str().unwrap();
                    let mid = member["id"].as_str().unwrap();
                    match ty {
                        "#microsoft.graph.user" => assert!(users.contains_key(mid)),
                        "#microsoft.graph.group" => assert!(groups.contains_key(mid)),
                        _ => panic!("{ty}"),
                    }
                }
            }
        }
        for (id, p) in &packages {
            assert!(catalogs.contains_key(p["catalog"]["id"].as_str().unwrap()));
            assert!(p["isHidden"].is_boolean());
            for pol in p["assignmentPolicies"].as_array().unwrap() {
                let pol_id = pol["id"].as_str().unwrap();
                assert_eq!(
                    policies[pol_id]["accessPackage"]["id"].as_str(),
                    Some(id.as_str())
                );
            }
            let scopes = collection(&snap, &format!("accessPackages/{id}/resourceRoleScopes"));
            assert!(!scopes.is_empty());
            for s in scopes {
                let role = &s["role"];
                let system = role["originSystem"].as_str().unwrap();
                assert!(system == "AadGroup" || system == "AadApplication");
                assert_eq!(role["resource"]["originSystem"], system);
                assert_eq!(s["scope"]["isRootScope"], true);
                let origin = role["resource"]["originId"].as_str().unwrap();
                if system == "AadGroup" {
                    assert!(groups.contains_key(origin));
                    assert_eq!(role["originId"], format!("Member_{origin}"));
                }
            }
        }
        for pol in policies.values() {
            for t in pol["specificAllowedTargets"].as_array().unwrap() {
                match t["@odata.type"].as_str().unwrap() {
                    "#microsoft.graph.groupMembers" => {
                        assert!(groups.contains_key(t["groupId"].as_str().unwrap()))
                    }
                    "#microsoft.graph.connectedOrganizationMembers" => {
                        assert!(orgs.contains_key(t["connectedOrganizationId"].as_str().unwrap()))
                    }
                    "#microsoft.graph.singleUser" => {
                        assert!(users.contains_key(t["userId"].as_str().unwrap()))
                    }
                    other => panic!("{other}"),
                }
            }
        }
        let mut assignment_ids = HashSet::new();
        for a in &assignments {
            assert_eq!(
                (a["state"].as_str(), a["status"].as_str()),
                (Some("delivered"), Some("Delivered"))
            );
            assignment_ids.insert(a["id"].as_str().unwrap());
            let pkg = a["accessPackage"]["id"].as_str().unwrap();
            let pol = a["assignmentPolicy"]["id"].as_str().unwrap();
            assert!(packages.contains_key(pkg));
            assert_eq!(policies[pol]["accessPackage"]["id"].as_str(), Some(pkg));
            let target = &a["target"];
            assert!(users.contains_key(target["objectId"].as_str().unwrap()));
            assert_eq!(target["subjectType"], "user");
        }
        for r in &requests {
            assert!(packages.contains_key(r["accessPackage"]["id"].as_str().unwrap()));
            if let Some(a) = r["assignment"].as_object() {
                assert!(policies.contains_key(a["assignmentPolicyId"].as_str().unwrap()));
                assert!(users.contains_key(a["targetId"].as_str().unwrap()));
            }
            if r["state"] == "delivered" && r["requestType"].as_str().unwrap().ends_with("Add") {
                assert!(r["completedDateTime"].is_string());
            }
        }
        for o in orgs.values() {
            assert!(!o["identitySources"].as_array().unwrap().is_empty());
            assert!(!o["internalSponsors"].as_array().unwrap().is_empty());
        }
    }
}

struct LogRecord {
    activity: String,
    time: i64,
    correlation: String,
    user: Option<String>,
    package: Option<String>,
    policy: Option<String>,
    request_id: Option<String>,
}

fn log(out: &Path) -> Vec<LogRecord> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(out.join("graph"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    let mut recs = Vec::new();
    for f in files {
        for line in std::fs::read_to_string(f).unwrap().lines() {
            let v: Value = serde_json::from_str(line).unwrap();
            let target = |ty: &str| {
                v["targetResources"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|t| t["type"] == ty)
                    .and_then(|t| t["id"].as_str())
                    .map(str::to_string)
            };
            let request_id = v["additionalDetails"]
                .as_array()
                .unwrap()
                .iter()
                .find(|kv| kv["key"] == "RequestId")
                .and_then(|kv| kv["value"].as_str())
                .map(str::to_string);
            recs.push(LogRecord {
                activity: v["activityDisplayName"].as_str().unwrap().to_string(),
                time: ts(&v["activityDateTime"]),
                correlation: v["correlationId"].as_str().unwrap().to_string(),
                user: target("User"),
                package: target("AccessPackage"),
                policy: target("AccessPackageAssignmentPolicy"),
                request_id,
            });
        }
    }
    recs
}

#[test]
fn assignments_and_requests_match_the_audit_log() {
    let out = out();
    let recs = log(out);
    let end = auditbook::generate::parse_end("2026-11-01").unwrap();
    let window_start = end - 90 * DAY;
    for (snap_name, at) in SNAPSHOTS.iter().zip([end - 60 * DAY, end - 30 * DAY, end]) {
        let snap = out.join(snap_name);
        let policies = by_id(&collection(&snap, "assignmentPolicies"))
            .into_iter()
            .map(|(k, v)| (k, v.clone()))
            .collect::<HashMap<_, _>>();
        let days = |pol: &str| {
            policies[pol]["expiration"]["duration"]
                .as_str()
                .map(|d| d[1..d.len() - 1].parse::<i64>().unwrap())
        };
        type Key = (String, String, String);
        let mut fulfilled: BTreeMap<Key, Vec<i64>> = BTreeMap::new();
        let mut removed: BTreeMap<Key, usize> = BTreeMap::new();
        for r in recs.iter().filter(|r| r.time < at) {
            let key = || {
                (
                    r.user.clone().unwrap(),
                    r.package.clone().unwrap(),
                    r.policy.clone().unwrap(),
                )
            };
            match r.activity.as_str() {
                "Fulfill access package assignment" => {
                    fulfilled.entry(key()).or_default().push(r.time)
                }
                "Remove access package assignment" => *removed.entry(key()).or_default() += 1,
                _ => {}
            }
        }
        let mut live: BTreeMap<Key, usize> = BTreeMap::new();
        for a in collection(&snap, "assignments") {
            let pol = a["assignmentPolicy"]["id"].as_str().unwrap().to_string();
            let start = ts(&a["schedule"]["startDateTime"]);
            if policies[&pol]["automaticRequestSettings"]["requestAccessForAllowedTargets"] == true
            {
                assert!(start < window_start, "auto-assignments predate the log");
                continue;
            }
            let key = (
                a["target"]["objectId"].as_str().unwrap().to_string(),
                a["accessPackage"]["id"].as_str().unwrap().to_string(),
                pol.clone(),
            );
            assert!(
                fulfilled.get(&key).is_some_and(|f| f.contains(&start)),
                "{key:?} has no fulfilment at its start"
            );
            // Expiration from the policy.
            match days(&pol) {
                Some(d) => {
                    let e = ts(&a["schedule"]["expiration"]["endDateTime"]);
                    assert_eq!(e, start + d * DAY);
                    assert!(e > at);
                }
                None => assert_eq!(a["schedule"]["expiration"]["type"], "noExpiration"),
            }
            *live.entry(key).or_default() += 1;
        }
        let mut exact = 0;
        for (k, starts) in &fulfilled {
            let unexpired = starts
                .iter()
                .filter(|&&s| days(&k.2).is_none_or(|d| s + d * DAY > at))
                .count();
            let rm = removed.get(k).copied().unwrap_or(0);
            let n = live.get(k).copied().unwrap_or(0);
            if starts.len() == 1 {
                exact += 1;
                assert_eq!(
                    n,
                    usize::from(unexpired == 1 && rm == 0),
                    "{snap_name} {k:?}"
                );
            } else {
                assert!(n <= unexpired && n >= unexpired.saturating_sub(rm));
            }
        }
        assert!(exact > 20, "{snap_name}: {exact}");

        // Requests: every logged request is listed under its id, with the policy it names.
        let requests = collection(&snap, "assignmentRequests");
        let requests = by_id(&requests);
        let outcome: HashMap<&str, &str> = recs
            .iter()
            .filter(|r| r.time < at && r.package.is_some())
            .map(|r| (r.correlation.as_str(), r.activity.as_str()))
            .collect();
        let mut checked = 0;
        for r in recs.iter().filter(|r| r.time < at) {
            if !matches!(
                r.activity.as_str(),
                "User requests access package assignment"
                    | "Administrator directly assigns user to access package"
            ) {
                continue;
            }
            let req = requests[r.request_id.as_deref().unwrap()];
            assert_eq!(
                req["assignment"]["assignmentPolicyId"].as_str(),
                r.policy.as_deref()
            );
            assert_eq!(ts(&req["createdDateTime"]), r.time);
            let (state, status) = match outcome[r.correlation.as_str()] {
                "Fulfill access package assignment" => ("delivered", "Delivered"),
                "Deny access package assignment request" => ("denied", "Denied"),
                "Access package assignment request timed out (no approver action taken)" => {
                    ("canceled", "TimedOut")
                }
                "Failed access package assignment request" => ("deliveryFailed", "DeliveryFailed"),
                _ => continue,
            };
            assert_eq!(
                (req["state"].as_str(), req["status"].as_str()),
                (Some(state), Some(status))
            );
            checked += 1;
        }
        assert!(checked > 20, "{snap_name}: {checked}");
    }
}

#[test]
fn special_cases_are_in_the_files() {
    let snap = out().join("snapshot-2026-11-01");
    let catalogs = collection(&snap, "catalogs");
    assert!(catalogs.iter().any(|c| c["state"] == "unpublished"));
    let packages = collection(&snap, "accessPackages");
    assert!(packages.iter().any(|p| p["isHidden"] == true));
    let policies = collection(&snap, "assignmentPolicies");
    let auto = policies
        .iter()
        .find(|p| p["automaticRequestSettings"]["requestAccessForAllowedTargets"] == true)
        .expect("an auto-assignment policy");
    assert_eq!(
        auto["requestorSettings"]["enableTargetsToSelfAddAccess"],
        false
    );
    assert!(
        policies
            .iter()
            .any(|p| p["automaticRequestSettings"].is_null()
                && p["requestorSettings"]["enableTargetsToSelfAddAccess"] == false)
    );
    for scope in [
        "allMemberUsers",
        "specificDirectoryUsers",
        "allConfiguredConnectedOrganizationUsers",
        "specificConnectedOrganizationUsers",
    ] {
        assert!(
            policies.iter().any(|p| p["allowedTargetScope"] == scope),
            "{scope}"
        );
    }
    // A groupMembers target whose group has a nested group: transitive members exceed direct.
    let nested = policies
        .iter()
        .flat_map(|p| p["specificAllowedTargets"].as_array().unwrap())
        .any(|t| {
            t["@odata.type"] == "#microsoft.graph.groupMembers" && {
                let id = t["groupId"].as_str().unwrap();
                let direct = collection(&snap, &format!("groups/{id}/members"));
                let transitive = collection(&snap, &format!("groups/{id}/transitiveMembers"));
                direct
                    .iter()
                    .any(|m| m["@odata.type"] == "#microsoft.graph.group")
                    && transitive.len() > direct.len()
            }
        });
    assert!(nested);
    let requests = collection(&snap, "assignmentRequests");
    let states: HashSet<(&str, &str)> = requests
        .iter()
        .map(|r| {
            (
                r["requestType"].as_str().unwrap(),
                r["state"].as_str().unwrap(),
            )
        })
        .collect();
    for s in [
        ("userAdd", "delivered"),
        ("adminAdd", "delivered"),
        ("userAdd", "denied"),
        ("userAdd", "canceled"),
        ("userAdd", "deliveryFailed"),
        ("userRemove", "delivered"),
        ("adminRemove", "delivered"),
        ("systemRemove", "delivered"),
        ("systemAdd", "delivered"),
    ] {
        assert!(states.contains(&s), "{s:?} in {states:?}");
    }
    let orgs = collection(&snap, "connectedOrganizations");
    assert!(orgs.iter().any(|o| o["state"] == "configured"));
    assert!(orgs.iter().any(|o| o["state"] == "proposed"));
    // Guests' home domains have organizations.
    let users = collection(&snap, "users");
    let org_domains: HashSet<String> = orgs
        .iter()
        .map(|o| o["description"].as_str().unwrap().to_string())
        .collect();
    for u in users.iter().filter(|u| u["userType"] == "Guest") {
        let mail = u["mail"].as_str().unwrap();
        let domain = mail.split('@').nth(1).unwrap();
        if domain != "gmail.com" && domain != "outlook.com" && domain != "hotmail.com" {
            assert!(
                org_domains.iter().any(|d| d.contains(domain)),
                "{domain} has no connected organization"
            );
        }
    }
}

#[test]
fn files_agree_with_the_ground_truth() {
    let snap = out().join("snapshot-2026-11-01");
    let config = Config {
        seed: 42,
        ..Config::new(5_000)
    };
    let truth = GroundTruth::new(&config);
    let files: BTreeSet<String> = collection(&snap, "assignments")
        .iter()
        .map(|a| a["id"].as_str().unwrap().to_string())
        .collect();
    let truth_ids: BTreeSet<String> = truth.assignments.iter().map(|a| a.id.clone()).collect();
    assert_eq!(files, truth_ids);
    let requests = collection(&snap, "assignmentRequests");
    assert_eq!(requests.len(), truth.requests.len());
    for (f, t) in requests.iter().zip(&truth.requests) {
        assert_eq!(f["id"].as_str(), Some(t.id.as_str()));
        assert_eq!(f["state"].as_str(), Some(t.state));
    }
    let special = &truth.special;
    let users = collection(&snap, "users");
    for upn in [
        Some(&special.group_member_upn),
        special.connected_org_guest_upn.as_ref(),
        special.two_package_user_upn.as_ref(),
        Some(&special.auto_target_upn),
    ] {
        let upn = upn.expect("special case present");
        assert!(users.iter().any(|u| u["userPrincipalName"] == upn.as_str()));
    }
}

#[test]
fn deterministic_and_the_log_is_unchanged_by_snapshot() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let c = tempfile::tempdir().unwrap();
    generate(a.path(), "42", &["--snapshot"]);
    generate(b.path(), "42", &[]);
    generate(c.path(), "43", &["--snapshot"]);
    let ta = tree(a.path());
    let tb = tree(b.path());
    // The log is byte-identical with and without --snapshot.
    let log_only: BTreeMap<_, _> = ta
        .iter()
        .filter(|(p, _)| p.starts_with("graph"))
        .map(|(p, v)| (p.clone(), v.clone()))
        .collect();
    assert_eq!(log_only, tb);
    // The same snapshot as the one generated with --snapshot-every.
    let snap = |t: &BTreeMap<PathBuf, Vec<u8>>| -> BTreeMap<PathBuf, Vec<u8>> {
        t.iter()
            .filter(|(p, _)| p.starts_with("snapshot-2026-11-01"))
            .map(|(p, v)| (p.clone(), v.clone()))
            .collect()
    };
    assert_eq!(snap(&ta), snap(&tree(out())));
    assert_ne!(snap(&ta), snap(&tree(c.path())));
}

#[test]
fn rejects_a_zero_interval() {
    let d = tempfile::tempdir().unwrap();
    let r: Run = bin()
        .args([
            "generate",
            "--events",
            "10",
            "--snapshot-every",
            "0",
            "--out",
        ])
        .arg(d.path())
        .output()
        .unwrap()
        .into();
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("--snapshot-every"));
}
