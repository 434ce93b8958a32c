//! Entitlement-management snapshots of the synthetic tenant, consistent with its audit log, and
//! the ground truth reports are checked against.
//!
//! - [`model`]: the configuration Graph lists and the log does not carry ([`Governance`]):
//!   catalog states, hidden packages, each policy's `allowedTargetScope` and targets, connected
//!   organizations, group nesting and older memberships, plus the special cases' objects.
//! - [`History`]: the event stream's [`Fact`]s (request lifecycle steps, group membership
//!   changes), recorded once; [`History::truth_at`] replays them up to an instant.
//! - [`GroundTruth`]: the state at that instant, computed from the model and the timeline
//!   (never from written files): per user what they can request (and through which policies),
//!   their assignments and the resources those give them; every request's status; connected
//!   organizations; group memberships; and where the special cases are.
//! - [`write`]: the snapshot folder, Graph list responses rendered from a [`GroundTruth`].
//!
//! Rules (documented once, used by the truth and the files):
//! - An assignment exists for each add request whose "Fulfill access package assignment" record
//!   is before the instant, until the "Remove access package assignment" of the removal request
//!   naming it, or until its policy's expiration (`start + duration`), whichever is first; only
//!   assignments in force are listed (state `delivered`). The auto-assignment policy's
//!   assignments were delivered before the window and have no record in the log.
//! - Group memberships: memberships older than the window, then every successful "Add member to
//!   group" / "Remove member from group" record, in order. Deletions of users, groups and apps
//!   in the log are not reflected (the objects stay listed).
//! - "Can request" (the admin center's *Can request* tab): a policy admits a user when it is not
//!   an auto-assignment policy, its requestor settings enable self-add, its package's catalog is
//!   published, and its `allowedTargetScope` includes the user (members for `allMemberUsers`;
//!   `groupMembers` targets include transitive members; connected-organization scopes include
//!   guests whose home tenant or domain is a *configured* connected organization). Hidden
//!   packages are requestable (by link) and flagged. Current assignments do not matter.

pub mod model;
pub mod write;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

pub use model::Governance;
pub use write::{SnapshotFiles, snapshot_instants, write_snapshot};

use super::Config;
use super::events::{EmStep, Fact, Request, RequestKind};
use super::rng::format_guid;
use super::tenant::{Resource, UserType};
use model::{ASSIGNMENT, AllowedTarget, TargetScope};

/// The audit log's entitlement-management facts, in time order, and the model they act on.
#[derive(Debug, Clone)]
pub struct History {
    pub governance: Arc<Governance>,
    /// Request steps and membership changes, in emission (time) order.
    pub facts: Vec<Fact>,
}

impl History {
    /// Runs `config`'s event stream once and keeps its facts.
    pub fn new(config: &Config) -> History {
        let mut stream = config.events().with_facts();
        let governance = Arc::new(Governance::new(config, stream.tenant().clone()));
        let mut facts = Vec::new();
        while stream.next().is_some() {
            if let Some(f) = stream.take_fact() {
                facts.push(f);
            }
        }
        History { governance, facts }
    }

    /// The state at `at` (nanoseconds since the epoch; facts at or after it have not happened).
    pub fn truth_at(&self, at: i64) -> GroundTruth {
        Replay::new(self, at).finish()
    }
}

/// A request's status at the instant, in the terms of Microsoft's table of audit records
/// ("Determine the status of a user's request"): the last lifecycle step reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RequestStatus {
    /// Filed, nothing else yet (the window ended right after).
    Submitted,
    /// "Create request approval" / "Add approver to request approval": waiting for an approver.
    NeedsApproval,
    /// "Auto approve access package assignment request".
    AutoApproved,
    /// "Approve access package assignment request" (and "Approval stage completed").
    Approved,
    /// "Deny access package assignment request".
    Denied,
    /// "Access package assignment request timed out (no approver action taken)".
    TimedOut,
    /// "Ready to fulfill access package assignment request".
    ReadyToFulfil,
    /// "Fulfill access package assignment".
    Fulfilled,
    /// "Failed access package assignment request" (fulfilment failed).
    Failed,
    /// A removal request whose "Remove access package assignment" happened.
    Removed,
}

impl RequestStatus {
    /// Graph's `state` (camelCase) and `status` (PascalCase) of the request.
    pub fn graph(self) -> (&'static str, &'static str) {
        match self {
            RequestStatus::Submitted => ("submitted", "Accepted"),
            RequestStatus::NeedsApproval => ("pendingApproval", "PendingApproval"),
            RequestStatus::AutoApproved
            | RequestStatus::Approved
            | RequestStatus::ReadyToFulfil => ("delivering", "Delivering"),
            RequestStatus::Fulfilled | RequestStatus::Removed => ("delivered", "Delivered"),
            RequestStatus::Failed => ("deliveryFailed", "DeliveryFailed"),
            RequestStatus::Denied => ("denied", "Denied"),
            RequestStatus::TimedOut => ("canceled", "TimedOut"),
        }
    }

    /// Whether the request is finished (Graph sets `completedDateTime`).
    pub fn is_final(self) -> bool {
        matches!(
            self,
            RequestStatus::Denied
                | RequestStatus::TimedOut
                | RequestStatus::Fulfilled
                | RequestStatus::Failed
                | RequestStatus::Removed
        )
    }
}

/// One access package assignment request, as of the instant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestTruth {
    /// The request id (`RequestId` in the log's additional details).
    pub id: String,
    /// The log's correlation id of the request's records (`None`: before the window, no record).
    pub correlation_id: Option<String>,
    /// Graph `requestType`: `userAdd`, `adminAdd`, `userRemove`, `adminRemove`, `systemRemove`,
    /// `systemAdd` (auto-assignment, before the window).
    pub request_type: &'static str,
    pub package_id: String,
    pub policy_id: String,
    /// Index into the tenant's users, and object id, of the user the request is for.
    pub target: usize,
    pub target_id: String,
    /// Graph's `requestor`: "the subject who requested or, if a direct assignment, was
    /// assigned": the target, object id (administrators' and system requests included).
    pub requestor_id: String,
    /// Who filed it (the log's initiator): the target, or an administrator (object id).
    pub filed_by_id: String,
    pub justification: Option<String>,
    /// When it was filed (first record), and when it finished (`None`: still in progress).
    pub created: i64,
    pub completed: Option<i64>,
    /// The policy requires approval and the user filed it (administrators' and removal
    /// requests never need one).
    pub needs_approval: bool,
    /// Approved without an approver ("Auto approve ...").
    pub auto_approved: bool,
    /// The approver who approved or denied it, object id.
    pub decided_by: Option<String>,
    pub status: RequestStatus,
    /// Graph `state` and `status` (see [`RequestStatus::graph`]).
    pub state: &'static str,
    pub graph_status: &'static str,
    /// Add requests: the assignment they created (fulfilled ones). Removal requests: the
    /// assignment they end.
    pub assignment_id: Option<String>,
}

/// An assignment in force at the instant (Graph state `delivered`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssignmentTruth {
    pub id: String,
    pub package: usize,
    pub package_id: String,
    pub policy: usize,
    pub policy_id: String,
    /// Index into the tenant's users, and object id.
    pub user: usize,
    pub user_id: String,
    /// The add request that created it.
    pub request_id: String,
    /// `schedule.startDateTime`: the fulfilment's time.
    pub start: i64,
    /// `schedule.expiration.endDateTime` (from the policy's duration), `None`: no expiration.
    pub end: Option<i64>,
}

/// A package a user can request and the policies that admit them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requestable {
    pub package: usize,
    pub package_id: String,
    pub package_name: String,
    /// Ids of the admitting policies, in the package's order.
    pub policy_ids: Vec<String>,
    pub hidden: bool,
}

/// A resource role a user holds through an assignment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldResource {
    pub resource: Resource,
    /// `AadGroup` or `AadApplication`.
    pub origin_system: &'static str,
    /// Group object id, or the application's service principal id.
    pub resource_id: String,
    pub resource_name: String,
    /// `Member_<groupId>` for groups, the app role id for applications.
    pub role_origin_id: String,
    pub role_name: String,
    pub package_id: String,
    pub policy_id: String,
    pub assignment_id: String,
}

/// Everything one user has and can ask for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserTruth {
    pub user: usize,
    pub id: String,
    pub upn: String,
    pub guest: bool,
    /// The connected organization of a guest (index into [`Governance::connected_orgs`]).
    pub connected_org: Option<usize>,
    pub can_request: Vec<Requestable>,
    pub assignments: Vec<AssignmentTruth>,
    /// One entry per (assignment, resource role): a resource reached through two packages is
    /// listed twice.
    pub resources: Vec<HeldResource>,
}

/// A group's members at the instant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupTruth {
    pub group: usize,
    pub id: String,
    /// Direct user members (indices into the tenant's users, sorted).
    pub users: Vec<usize>,
    /// Direct group members (indices into [`Governance::groups`]).
    pub groups: Vec<usize>,
    /// Users reached directly or through nested groups (sorted), and all nested groups.
    pub transitive_users: Vec<usize>,
    pub transitive_groups: Vec<usize>,
}

/// A connected organization and the guests it stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectedOrgTruth {
    pub org: usize,
    pub id: String,
    pub display_name: String,
    pub domain: String,
    /// `configured` (true) or `proposed`.
    pub configured: bool,
    /// `azureActiveDirectoryTenant` identity source's tenant id (`None`: a domain source).
    pub tenant_id: Option<String>,
    pub internal_sponsor_ids: Vec<String>,
    pub external_sponsor_ids: Vec<String>,
    /// Guests of this organization (indices into the tenant's users).
    pub guests: Vec<usize>,
}

/// Where the reports' special cases are, as of the instant (object ids and UPNs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecialCases {
    /// A user admitted to `group_package_id` only because they are in `nested_group_id`, which
    /// is a member of `admitting_group_id` (the `groupMembers` target of `group_policy_id`).
    pub group_member_upn: String,
    pub group_package_id: String,
    pub group_policy_id: String,
    pub admitting_group_id: String,
    pub nested_group_id: String,
    pub hidden_package_id: String,
    /// The auto-assignment policy (never requestable) and a user in its scope.
    pub auto_policy_id: String,
    pub auto_target_upn: String,
    pub unpublished_catalog_id: String,
    pub unpublished_package_id: String,
    /// Self-requests disabled; alone in its package.
    pub admin_only_policy_id: String,
    /// A guest whose only admitting policies have connected-organization scopes.
    pub connected_org_guest_upn: Option<String>,
    /// A user holding one resource (`resource_id`: group or service principal id) through two
    /// packages: the same role when any user has one, else two roles of one application.
    pub two_package_user_upn: Option<String>,
    pub two_package_resource_id: Option<String>,
    pub two_package_package_ids: Option<(String, String)>,
    /// First request (by creation) of each outcome, id.
    pub denied_request: Option<String>,
    pub timed_out_request: Option<String>,
    pub failed_request: Option<String>,
    pub removal_request: Option<String>,
    /// A fulfilled request whose assignment has since been removed or has expired.
    pub ended_request: Option<String>,
}

/// The entitlement-management state at one instant (see the module documentation).
#[derive(Debug, Clone)]
pub struct GroundTruth {
    pub governance: Arc<Governance>,
    /// The instant (nanoseconds since the epoch, UTC): the snapshot's date.
    pub at: i64,
    /// One per tenant user, same order.
    pub users: Vec<UserTruth>,
    /// Every request filed before the instant, in creation order (pre-window `systemAdd` first).
    pub requests: Vec<RequestTruth>,
    /// Assignments in force, ordered by start.
    pub assignments: Vec<AssignmentTruth>,
    /// One per [`Governance::groups`] entry, same order.
    pub groups: Vec<GroupTruth>,
    pub connected_organizations: Vec<ConnectedOrgTruth>,
    pub special: SpecialCases,
}

impl GroundTruth {
    /// The state at the end of `config`'s window: what `generate --snapshot` writes.
    pub fn new(config: &Config) -> GroundTruth {
        History::new(config).truth_at(config.end)
    }

    /// The state at `at`.
    pub fn at(config: &Config, at: i64) -> GroundTruth {
        History::new(config).truth_at(at)
    }

    /// The user with this UPN.
    pub fn user(&self, upn: &str) -> Option<&UserTruth> {
        self.users.iter().find(|u| u.upn == upn)
    }

    /// The request with this id.
    pub fn request(&self, id: &str) -> Option<&RequestTruth> {
        self.requests.iter().find(|r| r.id == id)
    }
}

/// The assignment id an add request's fulfilment creates.
pub fn assignment_id(governance: &Governance, request_id: &str) -> String {
    let h = request_id.bytes().fold(0xCBF2_9CE4_8422_2325u64, |h, b| {
        (h ^ b as u64).wrapping_mul(0x0100_0000_01B3)
    });
    governance.tenant.derived_guid(ASSIGNMENT, h)
}

struct Acc {
    request: Arc<Request>,
    created: i64,
    status: RequestStatus,
    completed: Option<i64>,
    auto_approved: bool,
    decided_by: Option<usize>,
}

struct Replay<'a> {
    h: &'a History,
    at: i64,
}

impl<'a> Replay<'a> {
    fn new(h: &'a History, at: i64) -> Self {
        Replay { h, at }
    }

    fn finish(self) -> GroundTruth {
        let g = self.h.governance.clone();
        let t = g.tenant.clone();
        let at = self.at;

        // Memberships and requests, replayed in order.
        let mut members: BTreeSet<(usize, usize)> = g.base_members.iter().copied().collect();
        let mut order: Vec<String> = Vec::new();
        let mut accs: HashMap<String, Acc> = HashMap::new();
        for f in &self.h.facts {
            match f {
                Fact::Membership {
                    time,
                    user,
                    group,
                    add,
                    ..
                } if *time < at => {
                    if *add {
                        members.insert((*group, *user));
                    } else {
                        members.remove(&(*group, *user));
                    }
                }
                Fact::Em {
                    time,
                    step,
                    request,
                } if *time < at => {
                    let acc = accs.entry(request.request_id.clone()).or_insert_with(|| {
                        order.push(request.request_id.clone());
                        Acc {
                            request: request.clone(),
                            created: *time,
                            status: RequestStatus::Submitted,
                            completed: None,
                            auto_approved: false,
                            decided_by: None,
                        }
                    });
                    let status = match step {
                        EmStep::Requested => RequestStatus::Submitted,
                        EmStep::AutoApproved => {
                            acc.auto_approved = true;
                            RequestStatus::AutoApproved
                        }
                        EmStep::ApprovalCreated | EmStep::ApproverAdded(_) => {
                            RequestStatus::NeedsApproval
                        }
                        EmStep::Approved(a) => {
                            acc.decided_by = Some(*a as usize);
                            RequestStatus::Approved
                        }
                        EmStep::StageCompleted(_) => RequestStatus::Approved,
                        EmStep::Denied(a) => {
                            acc.decided_by = Some(*a as usize);
                            RequestStatus::Denied
                        }
                        EmStep::TimedOut => RequestStatus::TimedOut,
                        EmStep::ReadyToFulfill => RequestStatus::ReadyToFulfil,
                        EmStep::Fulfilled => RequestStatus::Fulfilled,
                        EmStep::Failed => RequestStatus::Failed,
                        EmStep::Removed => RequestStatus::Removed,
                    };
                    acc.status = status;
                    if status.is_final() {
                        acc.completed = Some(*time);
                    }
                }
                _ => {}
            }
        }

        // Requests and assignments.
        let mut requests = Vec::new();
        let mut assignments = Vec::new();
        for pw in &g.pre_window {
            if pw.start >= at {
                continue;
            }
            let pol = &g.policies[pw.policy];
            let user = &t.users[pw.user];
            requests.push(RequestTruth {
                id: pw.request_id.clone(),
                correlation_id: None,
                request_type: "systemAdd",
                package_id: g.packages[pol.package].id.clone(),
                policy_id: pol.id.clone(),
                target: pw.user,
                target_id: user.id.clone(),
                requestor_id: user.id.clone(),
                filed_by_id: user.id.clone(),
                justification: None,
                created: pw.start,
                completed: Some(pw.start),
                needs_approval: false,
                auto_approved: false,
                decided_by: None,
                status: RequestStatus::Fulfilled,
                state: "delivered",
                graph_status: "Delivered",
                assignment_id: Some(pw.assignment_id.clone()),
            });
            assignments.push(AssignmentTruth {
                id: pw.assignment_id.clone(),
                package: pol.package,
                package_id: g.packages[pol.package].id.clone(),
                policy: pw.policy,
                policy_id: pol.id.clone(),
                user: pw.user,
                user_id: user.id.clone(),
                request_id: pw.request_id.clone(),
                start: pw.start,
                end: pol
                    .expiration_days
                    .map(|d| pw.start + d as i64 * super::timeline::DAY),
            });
        }
        // Removals that completed: add request id -> removal time.
        let removed: HashMap<&str, i64> = order
            .iter()
            .filter_map(|id| {
                let a = &accs[id];
                match (&a.request.removes, a.status) {
                    (Some(add), RequestStatus::Removed) => Some((add.as_str(), a.completed?)),
                    _ => None,
                }
            })
            .collect();
        for id in &order {
            let a = &accs[id];
            let r = &a.request;
            let pol = &g.policies[r.policy];
            let add = matches!(r.kind, RequestKind::UserAdd | RequestKind::AdminAdd);
            let (state, graph_status) = a.status.graph();
            let assignment = match (&r.removes, a.status) {
                (Some(add_id), _) => Some(assignment_id(&g, add_id)),
                (None, RequestStatus::Fulfilled) => Some(assignment_id(&g, id)),
                _ => None,
            };
            requests.push(RequestTruth {
                id: id.clone(),
                correlation_id: Some(format_guid(r.corr)),
                request_type: r.kind.graph_name(),
                package_id: g.packages[r.package].id.clone(),
                policy_id: pol.id.clone(),
                target: r.beneficiary,
                target_id: t.users[r.beneficiary].id.clone(),
                requestor_id: t.users[r.beneficiary].id.clone(),
                filed_by_id: t.users[r.requestor].id.clone(),
                justification: r.justification.map(str::to_string),
                created: a.created,
                completed: a.completed,
                needs_approval: r.kind == RequestKind::UserAdd && pol.requires_approval,
                auto_approved: a.auto_approved,
                decided_by: a.decided_by.map(|u| t.users[u].id.clone()),
                status: a.status,
                state,
                graph_status,
                assignment_id: assignment.clone(),
            });
            if add && a.status == RequestStatus::Fulfilled {
                let start = a.completed.expect("fulfilled requests are complete");
                let end = pol
                    .expiration_days
                    .map(|d| start + d as i64 * super::timeline::DAY);
                let ended = removed.contains_key(id.as_str()) || end.is_some_and(|e| e <= at);
                if !ended {
                    assignments.push(AssignmentTruth {
                        id: assignment.expect("fulfilled"),
                        package: r.package,
                        package_id: g.packages[r.package].id.clone(),
                        policy: r.policy,
                        policy_id: pol.id.clone(),
                        user: r.beneficiary,
                        user_id: t.users[r.beneficiary].id.clone(),
                        request_id: id.clone(),
                        start,
                        end,
                    });
                }
            }
        }
        assignments.sort_by(|a, b| (a.start, &a.id).cmp(&(b.start, &b.id)));

        // Groups: direct and transitive members.
        let n_groups = g.groups.len();
        let mut direct_users: Vec<Vec<usize>> = vec![Vec::new(); n_groups];
        for &(gi, u) in &members {
            direct_users[gi].push(u);
        }
        let mut child_groups: Vec<Vec<usize>> = vec![Vec::new(); n_groups];
        for &(parent, child) in &g.nesting {
            child_groups[parent].push(child);
        }
        let groups: Vec<GroupTruth> = (0..n_groups)
            .map(|gi| {
                let mut tg = BTreeSet::new();
                let mut stack = child_groups[gi].clone();
                while let Some(c) = stack.pop() {
                    if c != gi && tg.insert(c) {
                        stack.extend(child_groups[c].iter().copied());
                    }
                }
                let mut tu: BTreeSet<usize> = direct_users[gi].iter().copied().collect();
                for &c in &tg {
                    tu.extend(direct_users[c].iter().copied());
                }
                GroupTruth {
                    group: gi,
                    id: g.groups[gi].id.clone(),
                    users: direct_users[gi].clone(),
                    groups: child_groups[gi].clone(),
                    transitive_users: tu.into_iter().collect(),
                    transitive_groups: tg.into_iter().collect(),
                }
            })
            .collect();
        let transitive: BTreeSet<(usize, usize)> = groups
            .iter()
            .flat_map(|gt| gt.transitive_users.iter().map(move |&u| (gt.group, u)))
            .collect();

        // Per user.
        let admits = |pi: usize, u: usize| -> bool {
            let p = &g.policies[pi];
            if p.automatic || !p.self_add || !g.catalogs[g.packages[p.package].catalog].published {
                return false;
            }
            let user = &t.users[u];
            let guest = user.user_type == UserType::Guest;
            let org = g.org_of(u);
            let configured_org = org.filter(|&o| g.connected_orgs[o].configured);
            match p.scope {
                TargetScope::AllMemberUsers => !guest,
                TargetScope::AllDirectoryUsers => true,
                TargetScope::AllExternalUsers => guest,
                TargetScope::AllConfiguredConnectedOrganizationUsers => configured_org.is_some(),
                TargetScope::SpecificConnectedOrganizationUsers => {
                    configured_org.is_some_and(|o| {
                        p.targets
                            .contains(&AllowedTarget::ConnectedOrganizationMembers(o))
                    })
                }
                TargetScope::SpecificDirectoryUsers => p.targets.iter().any(|tg| match *tg {
                    AllowedTarget::SingleUser(x) => x == u,
                    AllowedTarget::GroupMembers(gr) => transitive.contains(&(gr, u)),
                    AllowedTarget::ConnectedOrganizationMembers(o) => configured_org == Some(o),
                }),
            }
        };
        let mut by_user: Vec<Vec<AssignmentTruth>> = vec![Vec::new(); t.users.len()];
        for a in &assignments {
            by_user[a.user].push(a.clone());
        }
        let users: Vec<UserTruth> = t
            .users
            .iter()
            .enumerate()
            .map(|(u, user)| {
                let can_request = g
                    .packages
                    .iter()
                    .enumerate()
                    .filter_map(|(pi, p)| {
                        let ids: Vec<String> = p
                            .policies
                            .iter()
                            .filter(|&&pol| admits(pol, u))
                            .map(|&pol| g.policies[pol].id.clone())
                            .collect();
                        (!ids.is_empty()).then(|| Requestable {
                            package: pi,
                            package_id: p.id.clone(),
                            package_name: p.display_name.clone(),
                            policy_ids: ids,
                            hidden: p.hidden,
                        })
                    })
                    .collect();
                let resources = by_user[u]
                    .iter()
                    .flat_map(|a| {
                        g.packages[a.package]
                            .resources
                            .iter()
                            .map(|&res| held(&g, res, a))
                    })
                    .collect();
                UserTruth {
                    user: u,
                    id: user.id.clone(),
                    upn: user.upn.clone(),
                    guest: user.user_type == UserType::Guest,
                    connected_org: g.org_of(u),
                    can_request,
                    assignments: std::mem::take(&mut by_user[u]),
                    resources,
                }
            })
            .collect();

        let connected_organizations = g
            .connected_orgs
            .iter()
            .enumerate()
            .map(|(oi, o)| ConnectedOrgTruth {
                org: oi,
                id: o.id.clone(),
                display_name: o.display_name.clone(),
                domain: o.domain.clone(),
                configured: o.configured,
                tenant_id: match &o.source {
                    model::IdentitySource::AzureAdTenant { tenant_id, .. } => {
                        Some(tenant_id.clone())
                    }
                    model::IdentitySource::Domain { .. } => None,
                },
                internal_sponsor_ids: o
                    .internal_sponsors
                    .iter()
                    .map(|&u| t.users[u].id.clone())
                    .collect(),
                external_sponsor_ids: o
                    .external_sponsors
                    .iter()
                    .map(|&u| t.users[u].id.clone())
                    .collect(),
                guests: t.guests().filter(|&u| g.org_of(u) == Some(oi)).collect(),
            })
            .collect();

        let special = special_cases(&g, &users, &requests, &assignments);
        GroundTruth {
            governance: g,
            at,
            users,
            requests,
            assignments,
            groups,
            connected_organizations,
            special,
        }
    }
}

fn held(g: &Governance, res: Resource, a: &AssignmentTruth) -> HeldResource {
    let t = &g.tenant;
    let (origin_system, resource_id, resource_name, role_origin_id, role_name) = match res {
        Resource::Group(gi) => {
            let group = &t.groups[gi];
            (
                "AadGroup",
                group.id.clone(),
                group.display_name.clone(),
                format!("Member_{}", group.id),
                "Member".to_string(),
            )
        }
        Resource::AppRole { app, role } => {
            let app = &t.apps[app];
            (
                "AadApplication",
                app.id.clone(),
                app.display_name.clone(),
                app.roles[role].id.clone(),
                app.roles[role].display_name.clone(),
            )
        }
    };
    HeldResource {
        resource: res,
        origin_system,
        resource_id,
        resource_name,
        role_origin_id,
        role_name,
        package_id: a.package_id.clone(),
        policy_id: a.policy_id.clone(),
        assignment_id: a.id.clone(),
    }
}

fn special_cases(
    g: &Governance,
    users: &[UserTruth],
    requests: &[RequestTruth],
    assignments: &[AssignmentTruth],
) -> SpecialCases {
    let t = &g.tenant;
    let s = &g.special;
    let connected_org_guest_upn = users
        .iter()
        .filter(|u| u.guest)
        .find(|u| {
            !u.can_request.is_empty()
                && u.can_request.iter().all(|r| {
                    r.policy_ids.iter().all(|id| {
                        g.policies
                            .iter()
                            .any(|p| p.id == *id && p.scope.is_connected_organization())
                    })
                })
        })
        .map(|u| u.upn.clone());
    // A resource reached through two packages: the same role if any user has one, else the same
    // group or application with different roles.
    let mut two = None;
    for same_role in [true, false] {
        'users: for u in users {
            let mut seen: BTreeMap<(&str, &str), &str> = BTreeMap::new();
            for r in &u.resources {
                let role = if same_role {
                    r.role_origin_id.as_str()
                } else {
                    ""
                };
                match seen.get(&(r.resource_id.as_str(), role)) {
                    Some(&pkg) if pkg != r.package_id => {
                        two = Some((
                            u.upn.clone(),
                            r.resource_id.clone(),
                            (pkg.to_string(), r.package_id.clone()),
                        ));
                        break 'users;
                    }
                    Some(_) => {}
                    None => {
                        seen.insert((&r.resource_id, role), &r.package_id);
                    }
                }
            }
        }
        if two.is_some() {
            break;
        }
    }
    let first = |status: RequestStatus| {
        requests
            .iter()
            .find(|r| r.status == status)
            .map(|r| r.id.clone())
    };
    let ended_request = requests
        .iter()
        .find(|r| {
            r.status == RequestStatus::Fulfilled
                && r.assignment_id
                    .as_ref()
                    .is_some_and(|a| !assignments.iter().any(|x| &x.id == a))
        })
        .map(|r| r.id.clone());
    let auto_target = g.base_members.iter().find(|(gr, _)| *gr == s.auto_group);
    SpecialCases {
        group_member_upn: t.users[s.nested_user].upn.clone(),
        group_package_id: g.packages[s.group_package].id.clone(),
        group_policy_id: g.policies[s.group_policy].id.clone(),
        admitting_group_id: g.groups[s.admitting_group].id.clone(),
        nested_group_id: g.groups[s.nested_group].id.clone(),
        hidden_package_id: g.packages[s.hidden_package].id.clone(),
        auto_policy_id: g.policies[s.auto_policy].id.clone(),
        auto_target_upn: auto_target
            .map(|&(_, u)| t.users[u].upn.clone())
            .unwrap_or_default(),
        unpublished_catalog_id: g.catalogs[s.unpublished_catalog].id.clone(),
        unpublished_package_id: g.packages[s.unpublished_package].id.clone(),
        admin_only_policy_id: g.policies[s.admin_only_policy].id.clone(),
        connected_org_guest_upn,
        two_package_user_upn: two.as_ref().map(|x| x.0.clone()),
        two_package_resource_id: two.as_ref().map(|x| x.1.clone()),
        two_package_package_ids: two.map(|x| x.2),
        denied_request: first(RequestStatus::Denied),
        timed_out_request: first(RequestStatus::TimedOut),
        failed_request: first(RequestStatus::Failed),
        removal_request: first(RequestStatus::Removed),
        ended_request,
    }
}

#[cfg(test)]
mod tests;
