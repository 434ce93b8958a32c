//! The snapshot folder: Graph list responses, one JSON file per collection (pages of
//! [`PAGE_SIZE`]), rendered from a [`GroundTruth`].
//!
//! ```text
//! OUT/snapshot-YYYY-MM-DD/
//!   users.json                         GET /users
//!   groups.json                        GET /groups
//!   groups/<id>/members.json           GET /groups/{id}/members
//!   groups/<id>/transitiveMembers.json GET /groups/{id}/transitiveMembers
//!   catalogs.json                      GET /identityGovernance/entitlementManagement/catalogs
//!   accessPackages.json                ... /accessPackages?$expand=catalog,assignmentPolicies
//!   assignmentPolicies.json            ... /assignmentPolicies?$expand=accessPackage
//!   assignments.json                   ... /assignments?$expand=target,accessPackage,assignmentPolicy
//!   accessPackages/<id>/resourceRoleScopes.json
//!                                      ... /accessPackages/{id}/resourceRoleScopes?$expand=role($expand=resource),scope
//!   assignmentRequests.json            ... /assignmentRequests?$expand=requestor,accessPackage,assignment
//!   connectedOrganizations.json        ... /connectedOrganizations?$expand=internalSponsors,externalSponsors
//! ```
//! Each file is `{"@odata.context": ".../$metadata#<entity set path>", "value": [...]}`; a
//! collection longer than a page continues in `users.2.json`, `users.3.json`, ..., every page
//! but the last carrying `@odata.nextLink` (the next page's URL, with a `$skiptoken`). Empty
//! collections are one page with `"value": []`.

use std::io::Write;
use std::path::{Path, PathBuf};

use base64::Engine;
use serde_json::{Map, Value, json};

use super::model::{AllowedTarget, Governance, IdentitySource, Policy, mail_of};
use super::model::{RESOURCE, ROLE, SCOPE};
use super::{AssignmentTruth, GroundTruth, RequestTruth};
use crate::generate::Config;
use crate::generate::tenant::{Resource, UserType};
use crate::generate::timeline::DAY;
use crate::time::format_graph;
use crate::{Error, Result};

/// Objects per page (Graph's default page size for these lists).
pub const PAGE_SIZE: usize = 100;

const GRAPH: &str = "https://graph.microsoft.com/v1.0";
const EM: &str = "identityGovernance/entitlementManagement";

/// What [`write_snapshot`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotFiles {
    /// `OUT/snapshot-YYYY-MM-DD`.
    pub dir: PathBuf,
    /// The snapshot's instant.
    pub at: i64,
    /// Files written, in order.
    pub files: Vec<PathBuf>,
}

/// The instants of the snapshots `generate` writes: the window's end, and with `every` days,
/// also every `every` days before it while inside the window (ascending).
pub fn snapshot_instants(config: &Config, every: Option<u32>) -> Vec<i64> {
    let start = config.end - config.days as i64 * DAY;
    let mut out = vec![config.end];
    if let Some(d) = every.filter(|&d| d > 0) {
        let mut t = config.end - d as i64 * DAY;
        while t > start {
            out.push(t);
            t -= d as i64 * DAY;
        }
    }
    out.reverse();
    out
}

/// The folder name of a snapshot taken at `at`: `snapshot-YYYY-MM-DD` (UTC day).
pub fn snapshot_dir_name(at: i64) -> String {
    format!("snapshot-{}", crate::time::utc_day(at))
}

/// Writes `truth` as `out/snapshot-<day of truth.at>/` (see the module documentation).
pub fn write_snapshot(truth: &GroundTruth, out: &Path) -> Result<SnapshotFiles> {
    let dir = out.join(snapshot_dir_name(truth.at));
    let mut w = Writer {
        dir: dir.clone(),
        files: Vec::new(),
    };
    let g = truth.governance.as_ref();
    let t = g.tenant.as_ref();

    let users: Vec<Value> = (0..t.users.len()).map(|u| user_json(g, u)).collect();
    w.collection("users", "users", "users", &users)?;

    let groups: Vec<Value> = (0..g.groups.len()).map(|gi| group_json(g, gi)).collect();
    w.collection("groups", "groups", "groups", &groups)?;
    for gt in &truth.groups {
        let id = &g.groups[gt.group].id;
        let lists = [
            ("members", &gt.groups, &gt.users),
            (
                "transitiveMembers",
                &gt.transitive_groups,
                &gt.transitive_users,
            ),
        ];
        for (kind, groups, users) in lists {
            let members: Vec<Value> = groups
                .iter()
                .map(|&c| member_group_json(g, c))
                .chain(users.iter().map(|&u| member_user_json(g, u)))
                .collect();
            let path = format!("groups/{id}/{kind}");
            w.collection(&path, "directoryObjects", &path, &members)?;
        }
    }

    let catalogs: Vec<Value> = (0..g.catalogs.len()).map(|c| catalog_json(g, c)).collect();
    w.collection(
        "catalogs",
        &format!("{EM}/catalogs"),
        &format!("{EM}/catalogs"),
        &catalogs,
    )?;

    let packages: Vec<Value> = (0..g.packages.len())
        .map(|pi| {
            let mut v = package_json(g, pi);
            let p = &g.packages[pi];
            v["catalog"] = catalog_json(g, p.catalog);
            v["assignmentPolicies"] =
                Value::Array(p.policies.iter().map(|&x| policy_json(g, x)).collect());
            v
        })
        .collect();
    w.collection(
        "accessPackages",
        &format!("{EM}/accessPackages"),
        &format!("{EM}/accessPackages?$expand=catalog,assignmentPolicies"),
        &packages,
    )?;

    let policies: Vec<Value> = (0..g.policies.len())
        .map(|x| {
            let mut v = policy_json(g, x);
            v["accessPackage"] = package_json(g, g.policies[x].package);
            v
        })
        .collect();
    w.collection(
        "assignmentPolicies",
        &format!("{EM}/assignmentPolicies"),
        &format!("{EM}/assignmentPolicies?$expand=accessPackage"),
        &policies,
    )?;

    let assignments: Vec<Value> = truth
        .assignments
        .iter()
        .map(|a| assignment_json(g, a))
        .collect();
    w.collection(
        "assignments",
        &format!("{EM}/assignments"),
        &format!("{EM}/assignments?$expand=target,accessPackage,assignmentPolicy"),
        &assignments,
    )?;

    for (pi, p) in g.packages.iter().enumerate() {
        let scopes: Vec<Value> = p
            .resources
            .iter()
            .map(|&r| role_scope_json(g, pi, r))
            .collect();
        let path = format!("{EM}/accessPackages/{}/resourceRoleScopes", p.id);
        w.collection(
            &format!("accessPackages/{}/resourceRoleScopes", p.id),
            &format!("{EM}/accessPackages('{}')/resourceRoleScopes", p.id),
            &format!("{path}?$expand=role($expand=resource),scope"),
            &scopes,
        )?;
    }

    let requests: Vec<Value> = truth.requests.iter().map(|r| request_json(g, r)).collect();
    w.collection(
        "assignmentRequests",
        &format!("{EM}/assignmentRequests"),
        &format!("{EM}/assignmentRequests?$expand=requestor,accessPackage,assignment"),
        &requests,
    )?;

    let orgs: Vec<Value> = (0..g.connected_orgs.len())
        .map(|o| {
            let mut v = org_json(g, o);
            let org = &g.connected_orgs[o];
            v["internalSponsors"] = org
                .internal_sponsors
                .iter()
                .map(|&u| sponsor_json(g, u))
                .collect();
            v["externalSponsors"] = org
                .external_sponsors
                .iter()
                .map(|&u| sponsor_json(g, u))
                .collect();
            v
        })
        .collect();
    w.collection(
        "connectedOrganizations",
        &format!("{EM}/connectedOrganizations"),
        &format!("{EM}/connectedOrganizations?$expand=internalSponsors,externalSponsors"),
        &orgs,
    )?;

    Ok(SnapshotFiles {
        dir,
        at: truth.at,
        files: w.files,
    })
}

struct Writer {
    dir: PathBuf,
    files: Vec<PathBuf>,
}

impl Writer {
    /// Writes `values` as pages `<base>.json`, `<base>.2.json`, ...: `context` is the
    /// `$metadata#` entity set path, `url` the request (path and query, no host) pages continue.
    fn collection(&mut self, base: &str, context: &str, url: &str, values: &[Value]) -> Result<()> {
        let pages: Vec<&[Value]> = if values.is_empty() {
            vec![&[]]
        } else {
            values.chunks(PAGE_SIZE).collect()
        };
        let n = pages.len();
        for (i, page) in pages.into_iter().enumerate() {
            let mut obj = Map::new();
            obj.insert(
                "@odata.context".into(),
                Value::String(format!("{GRAPH}/$metadata#{context}")),
            );
            if i + 1 < n {
                let last = page
                    .last()
                    .and_then(|v| v["id"].as_str())
                    .unwrap_or_default();
                let sep = if url.contains('?') { '&' } else { '?' };
                obj.insert(
                    "@odata.nextLink".into(),
                    Value::String(format!(
                        "{GRAPH}/{url}{sep}$skiptoken={}",
                        skiptoken(i + 2, last)
                    )),
                );
            }
            obj.insert("value".into(), Value::Array(page.to_vec()));
            let path = self.dir.join(page_file(base, i + 1));
            write_json(&path, &Value::Object(obj))?;
            self.files.push(path);
        }
        Ok(())
    }
}

/// `users.json` for page 1, `users.2.json` for page 2, ...
pub fn page_file(base: &str, page: usize) -> String {
    if page == 1 {
        format!("{base}.json")
    } else {
        format!("{base}.{page}.json")
    }
}

/// An opaque continuation token shaped like Graph's (`RFNwdAIAAQAAA...`).
fn skiptoken(page: usize, last_id: &str) -> String {
    let mut bytes = b"DSpt\x02\x00\x01\x00\x00\x00".to_vec();
    bytes.extend_from_slice(format!("{page}:{last_id}").as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn write_json(path: &Path, v: &Value) -> Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    }
    let mut bytes = serde_json::to_vec(v).expect("json serializes");
    bytes.push(b'\n');
    std::fs::File::create(path)
        .and_then(|mut f| f.write_all(&bytes))
        .map_err(|e| Error::io(path, e))
}

fn ts(nanos: i64) -> Value {
    Value::String(format_graph(nanos))
}

fn opt_ts(nanos: Option<i64>) -> Value {
    nanos.map(ts).unwrap_or(Value::Null)
}

fn fnv(parts: &[&str]) -> u64 {
    parts
        .iter()
        .flat_map(|p| p.bytes().chain([0u8]))
        .fold(0xCBF2_9CE4_8422_2325u64, |h, b| {
            (h ^ b as u64).wrapping_mul(0x0100_0000_01B3)
        })
}

fn user_json(g: &Governance, u: usize) -> Value {
    let t = &g.tenant;
    let user = &t.users[u];
    let p = &g.profiles[u];
    let guest = user.user_type == UserType::Guest;
    let (given, surname) = user
        .display_name
        .split_once(' ')
        .unwrap_or((&user.display_name, ""));
    let company = if guest {
        g.org_of(u)
            .map(|o| Value::String(g.connected_orgs[o].display_name.clone()))
            .unwrap_or(Value::Null)
    } else {
        Value::String(t.name.clone())
    };
    json!({
        "id": user.id,
        "displayName": user.display_name,
        "givenName": given,
        "surname": surname,
        "userPrincipalName": user.upn,
        "mail": mail_of(&user.upn),
        "userType": user.user_type.as_str(),
        "accountEnabled": p.account_enabled,
        "department": if guest { Value::Null } else { Value::String(t.departments[user.department].to_string()) },
        "jobTitle": p.job_title,
        "companyName": company,
        "createdDateTime": ts(p.created),
        "creationType": if guest { Value::String("Invitation".into()) } else { Value::Null },
        "externalUserState": p.external_state,
        "externalUserStateChangeDateTime": if guest { ts(p.created) } else { Value::Null },
    })
}

fn nickname(name: &str) -> String {
    name.chars().filter(|c| c.is_ascii_alphanumeric()).collect()
}

fn group_json(g: &Governance, gi: usize) -> Value {
    let gr = &g.groups[gi];
    let nick = nickname(&gr.display_name);
    json!({
        "id": gr.id,
        "createdDateTime": ts(gr.created),
        "description": gr.description,
        "displayName": gr.display_name,
        "groupTypes": if gr.unified { vec!["Unified"] } else { vec![] },
        "mail": if gr.unified { Value::String(format!("{nick}@{}", g.tenant.domain)) } else { Value::Null },
        "mailEnabled": gr.unified,
        "mailNickname": nick,
        "securityEnabled": !gr.unified,
        "visibility": if gr.unified { Value::String("Private".into()) } else { Value::Null },
    })
}

fn member_user_json(g: &Governance, u: usize) -> Value {
    let user = &g.tenant.users[u];
    json!({
        "@odata.type": "#microsoft.graph.user",
        "id": user.id,
        "displayName": user.display_name,
        "userPrincipalName": user.upn,
        "mail": mail_of(&user.upn),
        "userType": user.user_type.as_str(),
    })
}

fn member_group_json(g: &Governance, gi: usize) -> Value {
    let gr = &g.groups[gi];
    json!({
        "@odata.type": "#microsoft.graph.group",
        "id": gr.id,
        "displayName": gr.display_name,
        "securityEnabled": !gr.unified,
    })
}

fn catalog_json(g: &Governance, c: usize) -> Value {
    let cat = &g.catalogs[c];
    json!({
        "id": cat.id,
        "displayName": cat.display_name,
        "description": cat.description,
        "catalogType": "userManaged",
        "state": if cat.published { "published" } else { "unpublished" },
        "isExternallyVisible": cat.externally_visible,
        "createdDateTime": ts(cat.created),
        "modifiedDateTime": ts(cat.modified),
    })
}

fn package_json(g: &Governance, pi: usize) -> Value {
    let p = &g.packages[pi];
    json!({
        "id": p.id,
        "displayName": p.display_name,
        "description": p.description,
        "isHidden": p.hidden,
        "createdDateTime": ts(p.created),
        "modifiedDateTime": ts(p.modified),
    })
}

fn expiration_json(days: Option<u32>, end: Option<i64>) -> Value {
    match days {
        Some(d) => {
            json!({"endDateTime": opt_ts(end), "duration": format!("P{d}D"), "type": "afterDuration"})
        }
        None => json!({"endDateTime": null, "duration": null, "type": "noExpiration"}),
    }
}

fn policy_json(g: &Governance, x: usize) -> Value {
    let p: &Policy = &g.policies[x];
    let t = &g.tenant;
    let targets: Vec<Value> = p
        .targets
        .iter()
        .map(|tg| match *tg {
            AllowedTarget::SingleUser(u) => json!({
                "@odata.type": "#microsoft.graph.singleUser",
                "userId": t.users[u].id,
                "description": t.users[u].display_name,
            }),
            AllowedTarget::GroupMembers(gi) => json!({
                "@odata.type": "#microsoft.graph.groupMembers",
                "groupId": g.groups[gi].id,
                "description": g.groups[gi].display_name,
            }),
            AllowedTarget::ConnectedOrganizationMembers(o) => json!({
                "@odata.type": "#microsoft.graph.connectedOrganizationMembers",
                "connectedOrganizationId": g.connected_orgs[o].id,
                "description": g.connected_orgs[o].display_name,
            }),
        })
        .collect();
    let stages: Vec<Value> = if p.requires_approval {
        vec![json!({
            "durationBeforeAutomaticDenial": "P14D",
            "isApproverJustificationRequired": false,
            "isEscalationEnabled": false,
            "durationBeforeEscalation": "PT0S",
            "primaryApprovers": p.approvers.iter().map(|&a| json!({
                "@odata.type": "#microsoft.graph.singleUser",
                "userId": t.users[a].id,
                "description": t.users[a].display_name,
            })).collect::<Vec<_>>(),
            "fallbackPrimaryApprovers": [],
            "escalationApprovers": [],
            "fallbackEscalationApprovers": [],
        })]
    } else {
        vec![]
    };
    json!({
        "id": p.id,
        "displayName": p.display_name,
        "description": p.description,
        "allowedTargetScope": p.scope.as_str(),
        "specificAllowedTargets": targets,
        "createdDateTime": ts(p.created),
        "modifiedDateTime": ts(p.modified),
        "expiration": expiration_json(p.expiration_days, None),
        "requestorSettings": {
            "enableTargetsToSelfAddAccess": p.self_add,
            "enableTargetsToSelfUpdateAccess": false,
            "enableTargetsToSelfRemoveAccess": p.self_remove,
            "allowCustomAssignmentSchedule": false,
            "enableOnBehalfRequestorsToAddAccess": false,
            "enableOnBehalfRequestorsToUpdateAccess": false,
            "enableOnBehalfRequestorsToRemoveAccess": false,
            "onBehalfRequestors": [],
        },
        "requestApprovalSettings": {
            "isApprovalRequiredForAdd": p.requires_approval,
            "isApprovalRequiredForUpdate": false,
            "stages": stages,
        },
        "automaticRequestSettings": if p.automatic {
            json!({
                "requestAccessForAllowedTargets": true,
                "removeAccessWhenTargetLeavesAllowedTargets": true,
                "gracePeriodBeforeAccessRemoval": "P7D",
            })
        } else {
            Value::Null
        },
        "reviewSettings": null,
    })
}

fn org_json(g: &Governance, o: usize) -> Value {
    let org = &g.connected_orgs[o];
    let source = match &org.source {
        IdentitySource::AzureAdTenant {
            tenant_id,
            display_name,
        } => json!({
            "@odata.type": "#microsoft.graph.azureActiveDirectoryTenant",
            "displayName": display_name,
            "tenantId": tenant_id,
        }),
        IdentitySource::Domain {
            domain_name,
            display_name,
        } => json!({
            "@odata.type": "#microsoft.graph.domainIdentitySource",
            "displayName": display_name,
            "domainName": domain_name,
        }),
    };
    json!({
        "id": org.id,
        "displayName": org.display_name,
        "description": org.description,
        "createdDateTime": ts(org.created),
        "modifiedDateTime": ts(org.modified),
        "identitySources": [source],
        "state": if org.configured { "configured" } else { "proposed" },
    })
}

fn sponsor_json(g: &Governance, u: usize) -> Value {
    let user = &g.tenant.users[u];
    json!({
        "@odata.type": "#microsoft.graph.user",
        "id": user.id,
        "displayName": user.display_name,
        "userPrincipalName": user.upn,
        "mail": mail_of(&user.upn),
    })
}

fn subject_json(g: &Governance, u: usize) -> Value {
    let user = &g.tenant.users[u];
    json!({
        "id": g.subject_id(u),
        "objectId": user.id,
        "displayName": user.display_name,
        "principalName": user.upn,
        "email": mail_of(&user.upn),
        "subjectType": "user",
        "onPremisesSecurityIdentifier": null,
        "connectedOrganization": g.org_of(u).map(|o| org_json(g, o)).unwrap_or(Value::Null),
    })
}

fn schedule_json(start: i64, days: Option<u32>, end: Option<i64>) -> Value {
    json!({
        "startDateTime": ts(start),
        "recurrence": null,
        "expiration": expiration_json(days, end),
    })
}

fn assignment_json(g: &Governance, a: &AssignmentTruth) -> Value {
    let pol = &g.policies[a.policy];
    let mut policy = policy_json(g, a.policy);
    // The expanded policy: its own properties (no nested targets' expansion).
    if let Some(o) = policy.as_object_mut() {
        o.retain(|k, _| {
            matches!(
                k.as_str(),
                "id" | "displayName"
                    | "description"
                    | "allowedTargetScope"
                    | "createdDateTime"
                    | "modifiedDateTime"
                    | "expiration"
            )
        });
    }
    json!({
        "id": a.id,
        "state": "delivered",
        "status": "Delivered",
        "expiredDateTime": null,
        "schedule": schedule_json(a.start, pol.expiration_days, a.end),
        "target": subject_json(g, a.user),
        "accessPackage": package_json(g, a.package),
        "assignmentPolicy": policy,
    })
}

/// `accessPackageResource`, `accessPackageResourceRole` and `accessPackageResourceScope` of a
/// package's resource role (ids are per catalog, as in Entra).
fn role_scope_json(g: &Governance, pi: usize, r: Resource) -> Value {
    let t = &g.tenant;
    let p = &g.packages[pi];
    let catalog = &g.catalogs[p.catalog].id;
    let (system, origin, name, role_origin, role_name, role_desc) = match r {
        Resource::Group(gi) => {
            let gr = &t.groups[gi];
            (
                "AadGroup",
                gr.id.clone(),
                gr.display_name.clone(),
                format!("Member_{}", gr.id),
                "Member".to_string(),
                format!("Member of {}", gr.display_name),
            )
        }
        Resource::AppRole { app, role } => {
            let a = &t.apps[app];
            (
                "AadApplication",
                a.id.clone(),
                a.display_name.clone(),
                a.roles[role].id.clone(),
                a.roles[role].display_name.clone(),
                a.roles[role].display_name.clone(),
            )
        }
    };
    let resource_id = t.derived_guid(RESOURCE, fnv(&[catalog, &origin]));
    let role_id = t.derived_guid(ROLE, fnv(&[catalog, &origin, &role_origin]));
    let scope_id = t.derived_guid(SCOPE, fnv(&[catalog, &origin]));
    let created = ts(p.created + 600_000_000_000);
    let resource = json!({
        "id": resource_id,
        "displayName": name,
        "description": name,
        "originId": origin,
        "originSystem": system,
        "createdDateTime": created,
        "modifiedDateTime": created,
    });
    json!({
        "id": format!("{role_id}_{scope_id}"),
        "createdDateTime": created,
        "role": {
            "id": role_id,
            "displayName": role_name,
            "description": role_desc,
            "originId": role_origin,
            "originSystem": system,
            "resource": resource,
        },
        "scope": {
            "id": scope_id,
            "displayName": "Root",
            "description": "Root Scope",
            "originId": origin,
            "originSystem": system,
            "isRootScope": true,
        },
    })
}

fn request_json(g: &Governance, r: &RequestTruth) -> Value {
    let pi = g
        .packages
        .iter()
        .position(|p| p.id == r.package_id)
        .expect("request's package exists");
    let pol = g
        .policies
        .iter()
        .find(|p| p.id == r.policy_id)
        .expect("request's policy exists");
    let add = r.request_type.ends_with("Add");
    let end = pol
        .expiration_days
        .filter(|_| add)
        .map(|d| r.created + d as i64 * DAY);
    json!({
        "id": r.id,
        "requestType": r.request_type,
        "state": r.state,
        "status": r.graph_status,
        "createdDateTime": ts(r.created),
        "completedDateTime": opt_ts(r.completed),
        "justification": r.justification,
        "schedule": schedule_json(r.created, pol.expiration_days.filter(|_| add), end),
        "answers": [],
        "customExtensionCalloutInstances": [],
        "requestor": subject_json(g, r.target),
        "accessPackage": package_json(g, pi),
        // The assignment requested (`id` null until one exists: denied, failed, pending).
        "assignment": {
            "id": r.assignment_id,
            "accessPackageId": r.package_id,
            "assignmentPolicyId": r.policy_id,
            "targetId": r.target_id,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_files_and_tokens() {
        assert_eq!(page_file("users", 1), "users.json");
        assert_eq!(page_file("groups/x/members", 3), "groups/x/members.3.json");
        assert!(skiptoken(2, "abc").starts_with("RFNwdAIAAQAAA"));
        let c = Config::new(100);
        let v = snapshot_instants(&c, Some(30));
        assert_eq!(v, vec![c.end - 60 * DAY, c.end - 30 * DAY, c.end]);
        assert_eq!(snapshot_instants(&c, None), vec![c.end]);
        assert_eq!(snapshot_dir_name(c.end), "snapshot-2026-11-01");
    }
}
