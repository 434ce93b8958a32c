//! Ground truth: deterministic, consistent with the audit records the same config emits, and
//! holding every special case the reports need.

use std::collections::{BTreeMap, HashMap, HashSet};

use super::model::TargetScope;
use super::*;
use crate::generate::timeline::DAY;
use crate::record::AuditRecord;

fn config(events: u64, seed: u64) -> Config {
    Config {
        seed,
        ..Config::new(events)
    }
}

fn detail<'a>(r: &'a AuditRecord, key: &str) -> Option<&'a str> {
    r.additional_details
        .as_ref()?
        .iter()
        .find(|kv| kv.key.as_deref() == Some(key))?
        .value
        .as_deref()
}

fn target_id<'a>(r: &'a AuditRecord, ty: &str) -> Option<&'a str> {
    r.target_resources
        .as_ref()?
        .iter()
        .find(|t| t.type_.as_deref() == Some(ty))?
        .id
        .as_deref()
}

#[test]
fn truth_is_deterministic_per_seed() {
    let a = GroundTruth::new(&config(3_000, 7));
    let b = GroundTruth::new(&config(3_000, 7));
    let c = GroundTruth::new(&config(3_000, 8));
    assert_eq!(a.users, b.users);
    assert_eq!(a.requests, b.requests);
    assert_eq!(a.special, b.special);
    assert_ne!(a.special, c.special);
}

/// Assignments in force = fulfilments in the log − removals − expired (policy duration), read
/// from the records themselves (activity names, targets and additional details).
#[test]
fn assignments_are_the_logs_fulfilments_minus_removals_and_expiries() {
    for (events, seed) in [(5_000, 42), (20_000, 3)] {
        let cfg = config(events, seed);
        let truth = GroundTruth::new(&cfg);
        let g = &truth.governance;
        let recs: Vec<AuditRecord> = cfg.events().collect();
        // Correlation -> request id (from the request record's details).
        let mut request_of: HashMap<&str, &str> = HashMap::new();
        for r in &recs {
            if let Some(id) = detail(r, "RequestId")
                && r.category == "EntitlementManagement"
            {
                request_of.insert(&r.correlation_id, id);
            }
        }
        let duration: HashMap<&str, Option<u32>> = g
            .policies
            .iter()
            .map(|p| (p.id.as_str(), p.expiration_days))
            .collect();
        // (user, package, policy) -> fulfilment times, removal count.
        let mut fulfilled: BTreeMap<(String, String, String), Vec<i64>> = BTreeMap::new();
        let mut removals: BTreeMap<(String, String, String), usize> = BTreeMap::new();
        for r in &recs {
            let key = || {
                (
                    target_id(r, "User").unwrap().to_string(),
                    target_id(r, "AccessPackage").unwrap().to_string(),
                    target_id(r, "AccessPackageAssignmentPolicy")
                        .unwrap()
                        .to_string(),
                )
            };
            match r.activity_display_name.as_str() {
                "Fulfill access package assignment" => {
                    fulfilled
                        .entry(key())
                        .or_default()
                        .push(r.activity_date_time);
                    // The request's id names the assignment in the truth.
                    let req = truth
                        .request(request_of[r.correlation_id.as_str()])
                        .unwrap();
                    assert_eq!(req.status, RequestStatus::Fulfilled);
                    assert_eq!(req.completed, Some(r.activity_date_time));
                }
                "Remove access package assignment" => *removals.entry(key()).or_default() += 1,
                _ => {}
            }
        }
        let mut actual: BTreeMap<(String, String, String), usize> = BTreeMap::new();
        for a in &truth.assignments {
            let policy = &g.policies[a.policy];
            if policy.automatic {
                assert!(a.start < g.window_start, "auto-assignments predate the log");
                continue;
            }
            let key = (a.user_id.clone(), a.package_id.clone(), a.policy_id.clone());
            assert!(fulfilled[&key].contains(&a.start));
            *actual.entry(key).or_default() += 1;
        }
        // One fulfilment per key (nearly all): exact. Several: between the unexpired count
        // minus the removals and the unexpired count.
        let mut exact = 0;
        for (k, starts) in &fulfilled {
            let days = duration[k.2.as_str()];
            let unexpired = starts
                .iter()
                .filter(|&&s| days.is_none_or(|d| s + d as i64 * DAY > cfg.end))
                .count();
            let removed = removals.get(k).copied().unwrap_or(0);
            let live = actual.get(k).copied().unwrap_or(0);
            if starts.len() == 1 {
                exact += 1;
                assert_eq!(live, usize::from(unexpired == 1 && removed == 0), "{k:?}");
            } else {
                assert!(live <= unexpired && live >= unexpired.saturating_sub(removed));
            }
        }
        assert!(actual.keys().all(|k| fulfilled.contains_key(k)));
        assert!(exact > 100 && actual.len() > 50, "{exact} {}", actual.len());
    }
}

#[test]
fn requests_match_the_logs_requests() {
    let cfg = config(5_000, 42);
    let truth = GroundTruth::new(&cfg);
    let recs: Vec<AuditRecord> = cfg.events().collect();
    let mut seen = HashSet::new();
    for r in &recs {
        let request = match r.activity_display_name.as_str() {
            "User requests access package assignment"
            | "Administrator directly assigns user to access package"
            | "User requests to remove access package assignment"
            | "Administrator directly removes user access package assignment" => {
                detail(r, "RequestId").unwrap()
            }
            _ => continue,
        };
        let t = truth
            .request(request)
            .expect("every logged request is listed");
        assert_eq!(t.correlation_id.as_deref(), Some(r.correlation_id.as_str()));
        assert_eq!(Some(t.policy_id.as_str()), detail(r, "PolicyId"));
        assert_eq!(Some(t.request_type), detail(r, "RequestType"));
        assert_eq!(t.created, r.activity_date_time);
        seen.insert(request);
    }
    // Outcomes, by the records of each correlation.
    let last_outcome: HashMap<&str, &str> = recs
        .iter()
        .filter(|r| r.category == "EntitlementManagement")
        .map(|r| (r.correlation_id.as_str(), r.activity_display_name.as_str()))
        .collect();
    for t in truth.requests.iter().filter(|t| t.correlation_id.is_some()) {
        let act = last_outcome[t.correlation_id.as_deref().unwrap()];
        let expect = match act {
            "Fulfill access package assignment" => RequestStatus::Fulfilled,
            "Deny access package assignment request" => RequestStatus::Denied,
            "Access package assignment request timed out (no approver action taken)" => {
                RequestStatus::TimedOut
            }
            "Failed access package assignment request" => RequestStatus::Failed,
            "Remove access package assignment" => RequestStatus::Removed,
            _ => continue,
        };
        assert_eq!(t.status, expect, "{act}");
    }
    assert!(seen.len() > 200);
    let statuses: HashSet<RequestStatus> = truth.requests.iter().map(|r| r.status).collect();
    for s in [
        RequestStatus::Fulfilled,
        RequestStatus::Denied,
        RequestStatus::TimedOut,
        RequestStatus::Failed,
        RequestStatus::Removed,
    ] {
        assert!(statuses.contains(&s), "{s:?}");
    }
    assert!(truth.requests.iter().any(|r| r.needs_approval));
    assert!(truth.requests.iter().any(|r| r.auto_approved));
}

#[test]
fn special_cases_are_present_and_mean_what_they_say() {
    let truth = GroundTruth::new(&config(5_000, 42));
    let g = &truth.governance;
    let s = &truth.special;
    let policy = |id: &str| g.policies.iter().find(|p| p.id == id).unwrap();

    // Group membership only, through a nested group.
    let u = truth.user(&s.group_member_upn).unwrap();
    let req = u
        .can_request
        .iter()
        .find(|r| r.package_id == s.group_package_id)
        .expect("admitted through the nested group");
    assert_eq!(req.policy_ids, std::slice::from_ref(&s.group_policy_id));
    let p = policy(&s.group_policy_id);
    assert_eq!(p.scope, TargetScope::SpecificDirectoryUsers);
    let admitting = truth
        .groups
        .iter()
        .find(|x| x.id == s.admitting_group_id)
        .unwrap();
    assert!(!admitting.users.contains(&u.user));
    assert!(admitting.transitive_users.contains(&u.user));
    let nested = truth
        .groups
        .iter()
        .find(|x| x.id == s.nested_group_id)
        .unwrap();
    assert!(nested.users.contains(&u.user));
    // Other members cannot request that package.
    let other = truth
        .users
        .iter()
        .find(|x| !x.guest && !admitting.transitive_users.contains(&x.user))
        .unwrap();
    assert!(
        !other
            .can_request
            .iter()
            .any(|r| r.package_id == s.group_package_id)
    );

    // Hidden, still requestable by link (flagged).
    assert!(truth.users.iter().any(|u| {
        u.can_request
            .iter()
            .any(|r| r.package_id == s.hidden_package_id && r.hidden)
    }));
    // Auto-assignment: in scope, assigned, never requestable.
    assert!(policy(&s.auto_policy_id).automatic);
    let auto_user = truth.user(&s.auto_target_upn).unwrap();
    assert!(
        auto_user
            .assignments
            .iter()
            .any(|a| a.policy_id == s.auto_policy_id)
    );
    // Unpublished catalog and self-requests disabled: nobody can request.
    for u in &truth.users {
        for r in &u.can_request {
            assert!(!r.policy_ids.contains(&s.auto_policy_id));
            assert!(!r.policy_ids.contains(&s.admin_only_policy_id));
            assert_ne!(r.package_id, s.unpublished_package_id);
        }
    }
    let unpublished = &g.packages[g.special.unpublished_package];
    assert_eq!(g.catalogs[unpublished.catalog].id, s.unpublished_catalog_id);
    assert!(!g.catalogs[unpublished.catalog].published);
    assert!(!policy(&s.admin_only_policy_id).self_add);

    // A guest admitted only through a configured connected organization.
    let guest = truth
        .user(s.connected_org_guest_upn.as_deref().unwrap())
        .unwrap();
    assert!(guest.guest && !guest.can_request.is_empty());
    let org = &truth.connected_organizations[guest.connected_org.unwrap()];
    assert!(org.configured && org.guests.contains(&guest.user));
    for r in &guest.can_request {
        for id in &r.policy_ids {
            assert!(policy(id).scope.is_connected_organization());
        }
    }
    // Every business partner domain with guests has an organization, with sponsors.
    assert!(truth.connected_organizations.len() >= 3);
    for o in &truth.connected_organizations {
        assert!(!o.internal_sponsor_ids.is_empty());
        assert!(!o.guests.is_empty());
    }
    assert!(truth.connected_organizations.iter().any(|o| !o.configured));

    // One resource, two packages, one user.
    let upn = s
        .two_package_user_upn
        .as_deref()
        .expect("two-package resource");
    let (p1, p2) = s.two_package_package_ids.clone().unwrap();
    let held: Vec<&HeldResource> = truth
        .user(upn)
        .unwrap()
        .resources
        .iter()
        .filter(|r| Some(&r.resource_id) == s.two_package_resource_id.as_ref())
        .collect();
    assert!(held.iter().any(|r| r.package_id == p1) && held.iter().any(|r| r.package_id == p2));

    // Outcomes.
    for (id, status) in [
        (&s.denied_request, RequestStatus::Denied),
        (&s.timed_out_request, RequestStatus::TimedOut),
        (&s.failed_request, RequestStatus::Failed),
        (&s.removal_request, RequestStatus::Removed),
    ] {
        let r = truth.request(id.as_deref().expect("present")).unwrap();
        assert_eq!(r.status, status);
        assert!(r.completed.is_some());
    }
    let (state, status) = RequestStatus::Failed.graph();
    assert_eq!((state, status), ("deliveryFailed", "DeliveryFailed"));
    let ended = truth.request(s.ended_request.as_deref().unwrap()).unwrap();
    let aid = ended.assignment_id.as_ref().unwrap();
    assert!(!truth.assignments.iter().any(|a| &a.id == aid));
}

#[test]
fn earlier_instants_see_earlier_state() {
    let cfg = config(5_000, 42);
    let h = History::new(&cfg);
    let mid = cfg.end - 45 * DAY;
    let early = h.truth_at(mid);
    let late = h.truth_at(cfg.end);
    assert!(early.requests.len() < late.requests.len());
    for r in &early.requests {
        assert!(r.created < mid);
        assert!(r.completed.is_none_or(|c| c < mid));
        // A request's history only moves forward.
        let later = late.request(&r.id).unwrap();
        assert!(later.created == r.created);
    }
    for a in &early.assignments {
        assert!(a.start < mid && a.end.is_none_or(|e| e > mid));
    }
    assert_eq!(
        History::new(&cfg).truth_at(cfg.end).assignments,
        late.assignments
    );
}

#[test]
fn events_are_unchanged_by_the_tap() {
    let cfg = config(4_000, 11);
    let plain: Vec<AuditRecord> = cfg.events().collect();
    let mut tapped = cfg.events().with_facts();
    let mut n = 0;
    let mut facts = 0;
    while let Some(r) = tapped.next() {
        assert_eq!(r, plain[n]);
        n += 1;
        facts += tapped.take_fact().is_some() as usize;
    }
    assert_eq!(n, plain.len());
    assert!(facts > 100);
}
