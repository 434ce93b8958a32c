//! The event stream: an iterator of [`AuditRecord`]s in `activityDateTime` order, exactly as many
//! as asked for, in bounded memory.
//!
//! Activity is a sequence of *scenarios* (an entitlement-management request lifecycle, an
//! administrator's app role grant, a user deletion, a single background change, ...). Scenario
//! starts are laid out over the [`Timeline`] by the number of events they contribute, so the log
//! fills the whole window with exactly the requested count. When a scenario starts, all its events
//! are decided at once and queued in a min-heap as compact [`Ev`] descriptions (time, sequence);
//! the stream pops the earliest event whenever no scenario can start before it, and only then
//! builds the full record. Memory holds the tenant and the in-flight future events (approvals
//! hours away, removals weeks away), never the log.

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;
use std::sync::Arc;

use crate::record::{
    AppIdentity, AuditRecord, InitiatedBy, KeyValue, ModifiedProperty, TargetResource, UserIdentity,
};

use super::rng::{Rng, format_guid};
use super::tenant::{GOVERNANCE_APP, Resource, Tenant, UserType, public_ip};
use super::timeline::{DAY, TICK, Timeline, seconds};
use super::{Config, format_us_datetime};

/// Who started an activity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Actor {
    /// A user (index into `Tenant::users`).
    User(u32),
    /// Entitlement management's first-party app.
    Governance,
    /// Another first-party app (index into `Tenant::system_apps`).
    System(u8),
    /// Nobody recorded (`initiatedBy` with both sides null).
    Nobody,
}

/// Kind of entitlement-management request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestKind {
    UserAdd,
    AdminAdd,
    UserRemove,
    AdminRemove,
    /// The assignment expired: the service removes it.
    SystemRemove,
}

impl RequestKind {
    /// Graph's `requestType` (`userAdd`, `adminRemove`, ...).
    pub fn graph_name(self) -> &'static str {
        match self {
            RequestKind::UserAdd => "userAdd",
            RequestKind::AdminAdd => "adminAdd",
            RequestKind::UserRemove => "userRemove",
            RequestKind::AdminRemove => "adminRemove",
            RequestKind::SystemRemove => "systemRemove",
        }
    }
}

/// One access package assignment request: the context every event of its lifecycle shares.
#[derive(Debug)]
pub struct Request {
    /// Correlation id of every record of the lifecycle.
    pub corr: u128,
    /// The request's id (`RequestId` in additional details).
    pub request_id: String,
    pub kind: RequestKind,
    /// Index into `Tenant::packages`.
    pub package: usize,
    /// Index into `Tenant::policies`.
    pub policy: usize,
    /// The user who gets (or loses) the assignment (index into `Tenant::users`).
    pub beneficiary: usize,
    /// The user who filed it (the beneficiary, or an administrator).
    pub requestor: usize,
    pub approval_id: String,
    pub justification: Option<&'static str>,
    /// Removal requests: the `request_id` of the add request whose assignment they end.
    pub removes: Option<String>,
}

/// A step of an access package request's lifecycle (user indices into `Tenant::users`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmStep {
    Requested,
    AutoApproved,
    /// UserManagement "Create request approval".
    ApprovalCreated,
    /// UserManagement "Add approver to request approval" (the approver).
    ApproverAdded(u32),
    /// (approver)
    Approved(u32),
    StageCompleted(u32),
    Denied(u32),
    TimedOut,
    ReadyToFulfill,
    Fulfilled,
    Failed,
    /// "Remove access package assignment".
    Removed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Principal {
    User(u32),
    Group(u16),
    /// The service principal of one of the tenant's apps (index into `Tenant::apps`).
    App(u16),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RoleOp {
    Grant,
    Remove,
    DeletionMarked,
}

/// The resource side of an app role assignment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RoleResource {
    /// `Tenant::apps[app].roles[role]`.
    App { app: u16, role: u16 },
    /// `Tenant::graph.roles[role]` (application permissions of Microsoft Graph).
    Graph { role: u16 },
}

/// One app role assignment change.
#[derive(Debug, Clone, Copy)]
struct RoleChange {
    corr: u128,
    op: RoleOp,
    resource: RoleResource,
    principal: Principal,
    actor: Actor,
    /// When the assignment was created (for removals: earlier than the event).
    created: i64,
}

/// An event waiting in the heap, described compactly; materialized into a record when emitted.
#[derive(Debug, Clone)]
enum Ev {
    Em(EmStep, Arc<Request>),
    Role(RoleChange),
    Member {
        corr: u128,
        user: u32,
        group: u16,
        actor: Actor,
        add: bool,
    },
    /// A background event of `NOISE[kind]`; `subject` indexes `users`, or `groups`/`apps` for the
    /// deletions of those.
    Noise {
        corr: u128,
        kind: u16,
        subject: u32,
        actor: Actor,
        failed: bool,
    },
}

struct Pending {
    time: i64,
    seq: u64,
    ev: Ev,
}

impl PartialEq for Pending {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Pending {}
impl PartialOrd for Pending {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Pending {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.time, self.seq).cmp(&(other.time, other.seq))
    }
}

/// What a background event's target is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Nt {
    User,
    Guest,
    Member,
    Owner,
    Group,
    ServicePrincipal,
    Application,
    CaPolicy,
    DefaultPolicy,
    Role,
    Device,
    /// SSGM's all-zero "N/A" target.
    Empty,
    AccessPackage,
    AccessPackagePolicy,
}

/// Who starts a background event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Na {
    Admin,
    /// The subject user.
    Subject,
    /// A named first-party app.
    System(&'static str),
    /// Usually an administrator, sometimes the named first-party app.
    AdminOr(&'static str),
    Nobody,
}

/// A kind of background directory activity.
struct NoiseKind {
    category: &'static str,
    activity: &'static str,
    service: &'static str,
    op: &'static str,
    target: Nt,
    actor: Na,
    /// Relative frequency.
    weight: f64,
    /// `resultReason` when it fails (empty: never fails).
    failure: &'static str,
}

#[allow(clippy::too_many_arguments)]
const fn nk(
    category: &'static str,
    activity: &'static str,
    service: &'static str,
    op: &'static str,
    target: Nt,
    actor: Na,
    weight: f64,
    failure: &'static str,
) -> NoiseKind {
    NoiseKind {
        category,
        activity,
        service,
        op,
        target,
        actor,
        weight,
        failure,
    }
}

const CORE: &str = "Core Directory";
const EM: &str = "Entitlement Management";
const INSUFFICIENT: &str = "Insufficient privileges to complete the operation.";

/// Background activity (about half of the log). Indices below are referenced by scenarios.
#[rustfmt::skip]
const NOISE: &[NoiseKind] = &[
    nk("UserManagement", "Update user", CORE, "Update", Nt::User, Na::AdminOr("Microsoft Substrate Management"), 30.0, "Microsoft.Online.Workflows.ObjectConflictException"),
    nk("UserManagement", "Add user", CORE, "Add", Nt::User, Na::AdminOr("Azure AD Cloud Sync"), 3.0, "Microsoft.Online.Workflows.ObjectAlreadyExistsException"),
    nk("UserManagement", "Delete user", CORE, "Delete", Nt::User, Na::Admin, 0.0, ""),
    nk("GroupManagement", "Delete group", CORE, "Delete", Nt::Group, Na::Admin, 0.0, ""),
    nk("ApplicationManagement", "Remove service principal", CORE, "Delete", Nt::ServicePrincipal, Na::Admin, 0.0, ""),
    nk("UserManagement", "Change user license", CORE, "Update", Nt::User, Na::AdminOr("Microsoft Azure AD Group-Based Licensing"), 3.0, "License assignment failed because service plans are mutually exclusive."),
    nk("UserManagement", "Reset user password", CORE, "Update", Nt::User, Na::Admin, 2.0, INSUFFICIENT),
    nk("UserManagement", "Change user password", CORE, "Update", Nt::User, Na::Subject, 2.0, "Password does not meet complexity requirements."),
    nk("UserManagement", "Reset password (self-service)", "Self-service Password Management", "Update", Nt::User, Na::Subject, 2.0, "User's account is locked"),
    nk("UserManagement", "User registered security info", "Authentication Methods", "Add", Nt::User, Na::Subject, 4.0, "User canceled the flow"),
    nk("UserManagement", "User started security info registration", "Authentication Methods", "Add", Nt::User, Na::Subject, 2.0, ""),
    nk("UserManagement", "Invite external user", "Invited Users", "Add", Nt::Guest, Na::Admin, 1.5, "Guest invitations are not allowed for the domain."),
    nk("GroupManagement", "Add member to group", CORE, "Assign", Nt::Member, Na::AdminOr("Microsoft Azure AD Group-Based Licensing"), 10.0, "One or more added object references already exist for the following modified properties: 'members'."),
    nk("GroupManagement", "Remove member from group", CORE, "Unassign", Nt::Member, Na::Admin, 5.0, INSUFFICIENT),
    nk("GroupManagement", "Update group", CORE, "Update", Nt::Group, Na::AdminOr("Office 365 Exchange Online"), 4.0, INSUFFICIENT),
    nk("GroupManagement", "Add owner to group", CORE, "Assign", Nt::Owner, Na::Admin, 1.0, ""),
    nk("GroupManagement", "GroupLifecyclePolicies_Get", "Self-service Group Management", "Update", Nt::Empty, Na::Subject, 3.0, ""),
    nk("ApplicationManagement", "Update service principal", CORE, "Update", Nt::ServicePrincipal, Na::AdminOr("Microsoft Graph Command Line Tools"), 6.0, INSUFFICIENT),
    nk("ApplicationManagement", "Update application", CORE, "Update", Nt::Application, Na::Admin, 2.0, INSUFFICIENT),
    // The real activity name has an en dash and a trailing space.
    nk("ApplicationManagement", "Update application \u{2013} Certificates and secrets management ", CORE, "Update", Nt::Application, Na::Admin, 1.0, ""),
    nk("ApplicationManagement", "Consent to application", CORE, "Assign", Nt::ServicePrincipal, Na::Subject, 1.0, "Microsoft.Online.Security.UserConsentBlockedForRiskyAppsException"),
    nk("Policy", "Update conditional access policy", "Conditional Access", "Update", Nt::CaPolicy, Na::Admin, 0.8, ""),
    nk("Policy", "Update policy", CORE, "Update", Nt::DefaultPolicy, Na::Nobody, 1.0, ""),
    nk("Policy", "Add policy", CORE, "Add", Nt::CaPolicy, Na::Admin, 0.2, ""),
    nk("RoleManagement", "Add member to role", CORE, "Assign", Nt::Role, Na::AdminOr("MS-PIM"), 1.0, INSUFFICIENT),
    nk("RoleManagement", "Add member to role completed (PIM activation)", "PIM", "Assign", Nt::Role, Na::Subject, 1.5, ""),
    nk("RoleManagement", "Remove member from role", CORE, "Unassign", Nt::Role, Na::System("MS-PIM"), 0.8, ""),
    nk("Device", "Update device", CORE, "Update", Nt::Device, Na::System("Microsoft Intune"), 3.0, ""),
    nk("Device", "Add registered owner to device", CORE, "Assign", Nt::Device, Na::Subject, 0.7, ""),
    nk("EntitlementManagement", "Update access package", EM, "Update", Nt::AccessPackage, Na::Admin, 0.25, ""),
    nk("EntitlementManagement", "Update access package assignment policy", EM, "UpdateEntitlementGrantPolicy", Nt::AccessPackagePolicy, Na::Admin, 0.2, ""),
    nk("EntitlementManagement", "Create access package assignment policy", EM, "CreateEntitlementGrantPolicy", Nt::AccessPackagePolicy, Na::Admin, 0.05, ""),
];

const NOISE_UPDATE_USER: u16 = 0;
const NOISE_ADD_USER: u16 = 1;
const NOISE_DELETE_USER: u16 = 2;
const NOISE_DELETE_GROUP: u16 = 3;
const NOISE_REMOVE_SP: u16 = 4;
const NOISE_ADD_MEMBER: u16 = 12;

const CA_POLICIES: &[&str] = &[
    "Require MFA for administrators",
    "Block legacy authentication",
    "Require compliant device for Finance",
    "Guests - require MFA",
    "Sign-in risk policy",
];

/// Built-in directory roles (template ids).
const ROLES: &[(&str, &str)] = &[
    (
        "62e90394-69f5-4237-9190-012177145e10",
        "Global Administrator",
    ),
    ("fe930be7-5e62-47db-91af-98c3a49a38b1", "User Administrator"),
    ("f2ef992c-3afb-46b9-b7cf-a126ee74c451", "Global Reader"),
    (
        "9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3",
        "Application Administrator",
    ),
    (
        "45d8d3c5-c802-45c6-b32a-1d70b5e1e86e",
        "Identity Governance Administrator",
    ),
];

const JUSTIFICATIONS: &[&str] = &[
    "Joining the team next week",
    "Need access for the Q4 project",
    "Replacing a colleague on leave",
    "Required for customer onboarding",
    "Audit preparation",
];

const FULFILMENT_FAILURES: &[&str] = &[
    "The user could not be added to the resource: the user is not licensed for this application.",
    "Resource provisioning failed: the group is synchronized from on-premises and cannot be modified.",
    "Assignment failed because the target user was deleted.",
    "The application's service principal was not found.",
];

const UPPER_ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

/// Salts of [`Tenant::derived_guid`].
const DEVICE: u64 = 1;
const CA_POLICY: u64 = 2;
const APPLICATION_OBJECT: u64 = 3;
const DEFAULT_POLICY: u64 = 4;

/// The synthetic audit log, one record at a time (see the module documentation).
pub struct EventStream {
    tenant: Arc<Tenant>,
    timeline: Timeline,
    rng: Rng,
    heap: BinaryHeap<Reverse<Pending>>,
    seq: u64,
    total: u64,
    emitted: u64,
    /// In-window events queued so far: the position of the next scenario start.
    slots: u64,
    next_start: Option<i64>,
    /// Base of the numeric suffix of record ids (plus the emission index: ids are unique).
    id_base: u64,
    noise_weights: Vec<f64>,
    /// Record [`Fact`]s as events are emitted ([`EventStream::with_facts`]).
    tap: bool,
    fact: Option<Fact>,
}

/// What an emitted event did to the entitlement-management state, for consumers that rebuild
/// the directory at a point in time (the snapshot and its ground truth). Reading facts never
/// changes the records: the stream consumes its random numbers exactly as without them.
#[derive(Debug, Clone)]
pub enum Fact {
    /// A step of an access package assignment request's lifecycle, at `time`.
    Em {
        time: i64,
        step: EmStep,
        request: Arc<Request>,
    },
    /// A user added to or removed from a group (entitlement management's fulfilments and
    /// removals, and background "Add/Remove member to/from group"), successfully, at `time`.
    Membership {
        time: i64,
        corr: u128,
        /// Index into `Tenant::users`.
        user: usize,
        /// Index into `Tenant::groups`.
        group: usize,
        add: bool,
    },
}

impl EventStream {
    /// The stream `config` describes.
    pub fn new(config: &Config) -> EventStream {
        let tenant = Arc::new(Tenant::new(config.seed, config.events));
        let start = config.end - config.days as i64 * DAY;
        let timeline = Timeline::new(start, config.end, tenant.utc_offset_hours);
        let mut rng = Rng::new(config.seed, 0xE7E7);
        let id_base = rng.range(10_000_000, 90_000_000);
        let mut stream = EventStream {
            tenant,
            timeline,
            rng,
            heap: BinaryHeap::new(),
            seq: 0,
            total: config.events,
            emitted: 0,
            slots: 0,
            next_start: None,
            id_base,
            noise_weights: NOISE.iter().map(|k| k.weight).collect(),
            tap: false,
            fact: None,
        };
        stream.plan_next_start();
        stream
    }

    /// The same stream, recording what each emitted event did: after each `next()`,
    /// [`EventStream::take_fact`] returns it (records are unchanged).
    pub fn with_facts(mut self) -> EventStream {
        self.tap = true;
        self
    }

    /// The [`Fact`] of the last record `next()` returned, if it changed entitlement-management
    /// state (only when built [`EventStream::with_facts`]).
    pub fn take_fact(&mut self) -> Option<Fact> {
        self.fact.take()
    }

    /// The tenant the events are about.
    pub fn tenant(&self) -> &Arc<Tenant> {
        &self.tenant
    }

    /// Events queued for the future right now (a measure of the stream's memory).
    pub fn in_flight(&self) -> usize {
        self.heap.len()
    }

    fn plan_next_start(&mut self) {
        self.next_start = (self.slots < self.total).then(|| {
            let u = (self.slots as f64 + self.rng.f64()) / self.total as f64;
            self.timeline.at(u)
        });
    }

    /// Queues `ev` at `time` if it falls inside the window (later events have not happened yet).
    fn push(&mut self, time: i64, ev: Ev) {
        let time = time - time.rem_euclid(TICK);
        if time < self.timeline.end() {
            self.seq += 1;
            self.slots += 1;
            self.heap.push(Reverse(Pending {
                time,
                seq: self.seq,
                ev,
            }));
        }
    }

    fn corr(&mut self) -> u128 {
        self.rng.guid_bits()
    }

    fn admin(&mut self) -> usize {
        let i = self.rng.index(self.tenant.admins.len());
        self.tenant.admins[i]
    }

    fn member(&mut self) -> usize {
        self.rng.index(self.tenant.members)
    }

    fn any_user(&mut self) -> usize {
        let guests = self.tenant.guests();
        if self.rng.chance(0.1) {
            guests.start + self.rng.index(guests.len())
        } else {
            self.member()
        }
    }

    /// Starts one scenario at `t0`: its first event is at `t0` itself.
    fn start_scenario(&mut self, t0: i64) {
        let x = self.rng.f64();
        if x < 0.10 {
            self.request_lifecycle(t0);
        } else if x < 0.145 {
            self.direct_role_grant(t0);
        } else if x < 0.152 {
            self.deletion(t0);
        } else {
            self.noise(t0);
        }
    }

    fn noise(&mut self, t0: i64) {
        let kind = self.rng.weighted(&self.noise_weights) as u16;
        let subject = self.any_user();
        let corr = self.corr();
        let actor = self.noise_actor(kind, subject);
        let failed = !NOISE[kind as usize].failure.is_empty() && self.rng.chance(0.03);
        self.push(
            t0,
            Ev::Noise {
                corr,
                kind,
                subject: subject as u32,
                actor,
                failed,
            },
        );
        // A new user is usually followed by a few updates in the same operation.
        if kind == NOISE_ADD_USER && !failed {
            let mut t = t0;
            for next in [NOISE_UPDATE_USER, NOISE_ADD_MEMBER] {
                if self.rng.chance(0.7) {
                    t += seconds(0.2 + self.rng.exp(1.5));
                    self.push(
                        t,
                        Ev::Noise {
                            corr,
                            kind: next,
                            subject: subject as u32,
                            actor,
                            failed: false,
                        },
                    );
                }
            }
        }
    }

    fn noise_actor(&mut self, kind: u16, subject: usize) -> Actor {
        match NOISE[kind as usize].actor {
            Na::Admin => Actor::User(self.admin() as u32),
            Na::Subject => Actor::User(subject as u32),
            Na::System(name) => self.system_actor(name),
            Na::AdminOr(name) => {
                if self.rng.chance(0.6) {
                    Actor::User(self.admin() as u32)
                } else {
                    self.system_actor(name)
                }
            }
            Na::Nobody => Actor::Nobody,
        }
    }

    fn system_actor(&self, name: &str) -> Actor {
        match self
            .tenant
            .system_apps
            .iter()
            .position(|a| a.display_name == name)
        {
            Some(i) => Actor::System(i as u8),
            None => Actor::Nobody,
        }
    }

    /// An access package request, from submission to fulfilment (and maybe, later, removal).
    fn request_lifecycle(&mut self, t0: i64) {
        let tenant = self.tenant.clone();
        let direct = self.rng.chance(0.15);
        let guest = !direct && self.rng.chance(0.12);
        let beneficiary = if guest {
            let g = tenant.guests();
            g.start + self.rng.index(g.len())
        } else {
            self.member()
        };
        // A package the user's department asks for, or one open to anyone (guests: partner packages).
        let candidates: Vec<(usize, usize)> = tenant
            .policies
            .iter()
            .enumerate()
            .filter(|(_, p)| p.for_guests == guest)
            .filter(|(_, p)| {
                guest || direct || {
                    let dept = tenant.packages[p.package].department;
                    dept.is_none() || dept == Some(tenant.users[beneficiary].department)
                }
            })
            .map(|(i, p)| (p.package, i))
            .collect();
        let (package, policy) = if candidates.is_empty() || self.rng.chance(0.1) {
            let p = self.rng.index(tenant.policies.len());
            (tenant.policies[p].package, p)
        } else {
            *self.rng.pick(&candidates)
        };
        let requestor = if direct { self.admin() } else { beneficiary };
        let request = Arc::new(Request {
            corr: self.corr(),
            request_id: self.rng.guid(),
            kind: if direct {
                RequestKind::AdminAdd
            } else {
                RequestKind::UserAdd
            },
            package,
            policy,
            beneficiary,
            requestor,
            approval_id: self.rng.guid(),
            justification: (!direct && self.rng.chance(0.5))
                .then(|| *self.rng.pick(JUSTIFICATIONS)),
            removes: None,
        });
        let em = |step| Ev::Em(step, request.clone());
        self.push(t0, em(EmStep::Requested));
        let mut t = t0;
        let pol = &tenant.policies[policy];
        if direct || !pol.requires_approval {
            if !direct {
                t += seconds(0.3 + self.rng.exp(1.0));
                self.push(t, em(EmStep::AutoApproved));
            }
        } else {
            t += seconds(1.0 + self.rng.exp(2.0));
            self.push(t, em(EmStep::ApprovalCreated));
            for &a in &pol.approvers {
                t += seconds(0.1 + self.rng.exp(0.4));
                self.push(t, em(EmStep::ApproverAdded(a as u32)));
            }
            let approver = *self.rng.pick(&pol.approvers) as u32;
            let x = self.rng.f64();
            if x < 0.06 {
                // Nobody acted within the policy's 14 days.
                let t = t0 + 14 * DAY + seconds(60.0 + self.rng.exp(600.0));
                self.push(t, em(EmStep::TimedOut));
                return;
            }
            t += seconds(
                self.rng
                    .log_normal(3.0 * 3600.0, 1.3)
                    .clamp(60.0, 13.0 * 86400.0),
            );
            if x < 0.17 {
                self.push(t, em(EmStep::Denied(approver)));
                return;
            }
            self.push(t, em(EmStep::Approved(approver)));
            if self.rng.chance(0.4) {
                t += seconds(0.05 + self.rng.exp(0.2));
                self.push(t, em(EmStep::StageCompleted(approver)));
            }
        }
        t += seconds(0.5 + self.rng.exp(2.0));
        self.push(t, em(EmStep::ReadyToFulfill));
        let failed = self.rng.chance(0.03);
        let resources = tenant.packages[package].resources.clone();
        let granted = if failed {
            self.rng.index(resources.len())
        } else {
            resources.len()
        };
        for &res in &resources[..granted] {
            t += seconds(2.0 + self.rng.exp(8.0));
            self.resource_change(
                t,
                request.corr,
                res,
                beneficiary,
                true,
                Actor::Governance,
                t,
            );
        }
        t += seconds(1.0 + self.rng.exp(3.0));
        if failed {
            self.push(t, em(EmStep::Failed));
            return;
        }
        self.push(t, em(EmStep::Fulfilled));
        let fulfilled = t;

        // Later: expiry, the user giving it back, or an administrator taking it away.
        let expiry = pol.expiration_days.map(|d| d as i64 * DAY);
        let removal = match expiry {
            Some(e) if self.rng.chance(0.8) => {
                Some((RequestKind::SystemRemove, e + seconds(self.rng.exp(1800.0))))
            }
            _ if self.rng.chance(0.3) => {
                let kind = if self.rng.chance(0.5) {
                    RequestKind::UserRemove
                } else {
                    RequestKind::AdminRemove
                };
                let after = self
                    .rng
                    .log_normal(12.0 * 86400.0, 0.9)
                    .clamp(3600.0, 200.0 * 86400.0);
                Some((kind, seconds(after)))
            }
            _ => None,
        };
        let Some((kind, after)) = removal else { return };
        let requestor = match kind {
            RequestKind::AdminRemove => self.admin(),
            _ => beneficiary,
        };
        let removal = Arc::new(Request {
            corr: self.corr(),
            request_id: self.rng.guid(),
            kind,
            package,
            policy,
            beneficiary,
            requestor,
            approval_id: String::new(),
            justification: None,
            removes: Some(request.request_id.clone()),
        });
        let em = |step| Ev::Em(step, removal.clone());
        let mut t = fulfilled + after;
        if kind != RequestKind::SystemRemove {
            self.push(t, em(EmStep::Requested));
            t += seconds(1.0 + self.rng.exp(4.0));
        }
        self.push(t, em(EmStep::Removed));
        for &res in &resources {
            t += seconds(2.0 + self.rng.exp(8.0));
            self.resource_change(
                t,
                removal.corr,
                res,
                beneficiary,
                false,
                Actor::Governance,
                fulfilled,
            );
        }
    }

    /// The directory change an access package resource role causes for `user`.
    #[allow(clippy::too_many_arguments)]
    fn resource_change(
        &mut self,
        t: i64,
        corr: u128,
        res: Resource,
        user: usize,
        add: bool,
        actor: Actor,
        created: i64,
    ) {
        match res {
            Resource::AppRole { app, role } => self.push(
                t,
                Ev::Role(RoleChange {
                    corr,
                    op: if add { RoleOp::Grant } else { RoleOp::Remove },
                    resource: RoleResource::App {
                        app: app as u16,
                        role: role as u16,
                    },
                    principal: Principal::User(user as u32),
                    actor,
                    created,
                }),
            ),
            Resource::Group(group) => self.push(
                t,
                Ev::Member {
                    corr,
                    user: user as u32,
                    group: group as u16,
                    actor,
                    add,
                },
            ),
        }
    }

    /// An administrator assigns an app role directly (to a user, a group, or an app's service
    /// principal), and sometimes takes it back weeks later.
    fn direct_role_grant(&mut self, t0: i64) {
        let tenant = self.tenant.clone();
        let admin = self.admin() as u32;
        let x = self.rng.f64();
        let (principal, resource) = if x < 0.6 {
            let app = self.rng.index(tenant.apps.len());
            let role = self.rng.index(tenant.apps[app].roles.len());
            (
                Principal::User(self.any_user() as u32),
                RoleResource::App {
                    app: app as u16,
                    role: role as u16,
                },
            )
        } else if x < 0.85 {
            let app = self.rng.index(tenant.apps.len());
            let role = self.rng.index(tenant.apps[app].roles.len());
            (
                Principal::Group(self.rng.index(tenant.groups.len()) as u16),
                RoleResource::App {
                    app: app as u16,
                    role: role as u16,
                },
            )
        } else {
            let client = self.rng.index(tenant.apps.len()) as u16;
            (
                Principal::App(client),
                RoleResource::Graph {
                    role: self.rng.index(tenant.graph.roles.len()) as u16,
                },
            )
        };
        let change = RoleChange {
            corr: self.corr(),
            op: RoleOp::Grant,
            resource,
            principal,
            actor: Actor::User(admin),
            created: t0,
        };
        self.push(t0, Ev::Role(change));
        if self.rng.chance(0.25) {
            let after = seconds(
                self.rng
                    .log_normal(10.0 * 86400.0, 1.0)
                    .clamp(600.0, 120.0 * 86400.0),
            );
            let actor = Actor::User(self.admin() as u32);
            let corr = self.corr();
            self.push(
                t0 + after,
                Ev::Role(RoleChange {
                    corr,
                    op: RoleOp::Remove,
                    actor,
                    ..change
                }),
            );
        }
    }

    /// A user, group or service principal is deleted; the directory marks its app role
    /// assignments deleted "as part of link removal" in the same operation.
    fn deletion(&mut self, t0: i64) {
        let tenant = self.tenant.clone();
        let corr = self.corr();
        let admin = Actor::User(self.admin() as u32);
        let x = self.rng.f64();
        let (kind, principal, subject) = if x < 0.7 {
            let u = self.any_user();
            (NOISE_DELETE_USER, Principal::User(u as u32), u)
        } else if x < 0.9 {
            let g = self.rng.index(tenant.groups.len());
            (NOISE_DELETE_GROUP, Principal::Group(g as u16), g)
        } else {
            let a = self.rng.index(tenant.apps.len());
            (NOISE_REMOVE_SP, Principal::App(a as u16), a)
        };
        let mut t = t0;
        self.push(
            t,
            Ev::Noise {
                corr,
                kind,
                subject: subject as u32,
                actor: admin,
                failed: false,
            },
        );
        for _ in 0..self.rng.range(1, 3) {
            t += seconds(0.05 + self.rng.exp(0.3));
            let resource = if let Principal::App(_) = principal {
                RoleResource::Graph {
                    role: self.rng.index(tenant.graph.roles.len()) as u16,
                }
            } else {
                let app = self.rng.index(tenant.apps.len());
                RoleResource::App {
                    app: app as u16,
                    role: self.rng.index(tenant.apps[app].roles.len()) as u16,
                }
            };
            let created = t0 - seconds(self.rng.exp(200.0 * 86400.0));
            self.push(
                t,
                Ev::Role(RoleChange {
                    corr,
                    op: RoleOp::DeletionMarked,
                    resource,
                    principal,
                    actor: admin,
                    created,
                }),
            );
        }
    }

    // ---------------------------------------------------------------- materialization

    fn materialize(&mut self, p: Pending) -> AuditRecord {
        if self.tap {
            self.fact = match &p.ev {
                Ev::Em(step, req) => Some(Fact::Em {
                    time: p.time,
                    step: *step,
                    request: req.clone(),
                }),
                Ev::Member {
                    corr,
                    user,
                    group,
                    add,
                    ..
                } => Some(Fact::Membership {
                    time: p.time,
                    corr: *corr,
                    user: *user as usize,
                    group: *group as usize,
                    add: *add,
                }),
                // Background membership changes pick their group while materializing (below).
                _ => None,
            };
        }
        let mut b = match &p.ev {
            Ev::Em(step, req) => self.em_record(*step, req),
            Ev::Role(change) => self.role_record(change),
            Ev::Member {
                corr,
                user,
                group,
                actor,
                add,
            } => self.member_record(*corr, *user as usize, *group as usize, *actor, *add),
            Ev::Noise {
                corr,
                kind,
                subject,
                actor,
                failed,
            } => self.noise_record(
                *corr,
                *kind as usize,
                *subject as usize,
                *actor,
                *failed,
                p.time,
            ),
        };
        let lag = seconds(0.2 + self.rng.exp(2.0));
        let id = self.record_id(b.id_style, b.corr);
        let mut r = AuditRecord {
            time_generated: p.time + lag,
            tenant_id: self.tenant.id.clone(),
            category: b.category.to_string(),
            result_signature: "None".into(),
            correlation_id: format_guid(b.corr),
            level: "4".into(),
            location: self.tenant.location.into(),
            additional_details: Some(std::mem::take(&mut b.details)),
            id,
            logged_by_service: b.service.to_string(),
            result: if b.failure.is_some() {
                "failure"
            } else {
                "success"
            }
            .into(),
            result_reason: b.failure.unwrap_or(b.reason).to_string(),
            activity_display_name: b.activity.to_string(),
            activity_date_time: p.time,
            aad_operation_type: b.op.to_string(),
            initiated_by: Some(self.initiated_by(b.actor)),
            target_resources: Some(std::mem::take(&mut b.targets)),
            ..Default::default()
        };
        r.fill_derived();
        r
    }

    fn record_id(&mut self, style: IdStyle, corr: u128) -> String {
        let n = self.id_base + self.emitted;
        let token = self.rng.token(UPPER_ALNUM, 5);
        match style {
            IdStyle::Directory => format!("Directory_{}_{token}_{n}", format_guid(corr)),
            IdStyle::Ssgm => format!("SSGM_{}_{token}_{n}", format_guid(corr)),
            IdStyle::Pim => format!("PIM_{}_{token}_{n}", format_guid(corr)),
            IdStyle::Guid => self.rng.guid(),
        }
    }

    fn initiated_by(&mut self, actor: Actor) -> InitiatedBy {
        match actor {
            Actor::User(i) => {
                let u = &self.tenant.users[i as usize];
                let ip = if self.rng.chance(0.15) {
                    None
                } else if u.user_type == UserType::Member && self.rng.chance(0.1) {
                    Some(public_ip(&mut self.rng))
                } else {
                    Some(u.ip_address.clone())
                };
                InitiatedBy {
                    user: Some(UserIdentity {
                        id: Some(u.id.clone()),
                        display_name: Some(u.display_name.clone()),
                        user_principal_name: Some(u.upn.clone()),
                        ip_address: ip,
                        user_type: Some(u.user_type.as_str().into()),
                        home_tenant_id: Some(u.home_tenant_id.clone()),
                        home_tenant_name: None,
                    }),
                    app: None,
                }
            }
            Actor::Governance => InitiatedBy {
                user: None,
                app: Some(app_identity(&self.tenant.governance)),
            },
            Actor::System(i) => InitiatedBy {
                user: None,
                app: Some(app_identity(&self.tenant.system_apps[i as usize])),
            },
            Actor::Nobody => InitiatedBy {
                user: None,
                app: None,
            },
        }
    }

    fn user_target(&self, user: usize, with_name: bool) -> TargetResource {
        let u = &self.tenant.users[user];
        TargetResource {
            id: Some(u.id.clone()),
            display_name: with_name.then(|| u.display_name.clone()),
            type_: Some("User".into()),
            user_principal_name: Some(u.upn.clone()),
            group_type: None,
            modified_properties: Some(vec![]),
        }
    }

    fn em_record(&mut self, step: EmStep, req: &Request) -> Built {
        let tenant = self.tenant.clone();
        let package = &tenant.packages[req.package];
        let policy = &tenant.policies[req.policy];
        let requestor = Actor::User(req.requestor as u32);
        let beneficiary = Actor::User(req.beneficiary as u32);
        let (activity, op, actor) = match step {
            EmStep::Requested => match req.kind {
                RequestKind::UserAdd => (
                    "User requests access package assignment",
                    "CreateEntitlementGrantUserAddRequest",
                    requestor,
                ),
                RequestKind::AdminAdd => (
                    "Administrator directly assigns user to access package",
                    "CreateEntitlementGrantAdminAddRequest",
                    requestor,
                ),
                RequestKind::UserRemove => (
                    "User requests to remove access package assignment",
                    "CreateEntitlementGrantUserRemoveRequest",
                    requestor,
                ),
                RequestKind::AdminRemove | RequestKind::SystemRemove => (
                    "Administrator directly removes user access package assignment",
                    "CreateEntitlementGrantAdminRemoveRequest",
                    requestor,
                ),
            },
            EmStep::AutoApproved => (
                "Auto approve access package assignment request",
                "AutoApproveEntitlementGrantRequest",
                requestor,
            ),
            EmStep::ApprovalCreated => ("Create request approval", "Add", Actor::Governance),
            EmStep::ApproverAdded(_) => {
                ("Add approver to request approval", "Add", Actor::Governance)
            }
            EmStep::Approved(a) => (
                "Approve access package assignment request",
                "Update",
                Actor::User(a),
            ),
            EmStep::StageCompleted(a) => (
                "Approval stage completed for access package assignment request",
                "Update",
                Actor::User(a),
            ),
            EmStep::Denied(a) => (
                "Deny access package assignment request",
                "Update",
                Actor::User(a),
            ),
            EmStep::TimedOut => (
                "Access package assignment request timed out (no approver action taken)",
                "Update",
                Actor::Governance,
            ),
            EmStep::ReadyToFulfill => (
                "Ready to fulfill access package assignment request",
                "Update",
                beneficiary,
            ),
            // The docs: the user who received the access is the actor of the fulfilment.
            EmStep::Fulfilled => ("Fulfill access package assignment", "Assign", beneficiary),
            EmStep::Failed => (
                "Failed access package assignment request",
                "Update",
                beneficiary,
            ),
            EmStep::Removed => {
                let actor = if req.kind == RequestKind::SystemRemove {
                    Actor::Governance
                } else {
                    requestor
                };
                ("Remove access package assignment", "Delete", actor)
            }
        };
        // Approvals are logged as UserManagement by the directory.
        let (category, service) = match step {
            EmStep::ApprovalCreated | EmStep::ApproverAdded(_) => ("UserManagement", CORE),
            _ => ("EntitlementManagement", EM),
        };
        let kv = |k: &str, v: &str| KeyValue {
            key: Some(k.into()),
            value: Some(v.into()),
        };
        let (targets, details) = if category == "UserManagement" {
            // The approval object, then the user it concerns (the beneficiary, or the approver).
            let user = match step {
                EmStep::ApproverAdded(a) => a as usize,
                _ => req.beneficiary,
            };
            let approval = TargetResource {
                id: Some(req.approval_id.clone()),
                display_name: Some(package.display_name.clone()),
                type_: Some("Request".into()),
                modified_properties: Some(vec![]),
                ..Default::default()
            };
            (
                vec![approval, self.user_target(user, true)],
                vec![
                    kv("RequestId", &req.request_id),
                    kv("AccessPackageId", &package.id),
                ],
            )
        } else {
            let mut targets = vec![
                TargetResource {
                    id: Some(package.id.clone()),
                    display_name: Some(package.display_name.clone()),
                    type_: Some("AccessPackage".into()),
                    modified_properties: Some(vec![]),
                    ..Default::default()
                },
                TargetResource {
                    id: Some(policy.id.clone()),
                    display_name: Some(policy.display_name.clone()),
                    type_: Some("AccessPackageAssignmentPolicy".into()),
                    modified_properties: Some(vec![]),
                    ..Default::default()
                },
                self.user_target(req.beneficiary, true),
            ];
            let mut details = Vec::new();
            if step == EmStep::Requested {
                let catalog = &tenant.catalogs[package.catalog];
                if self.rng.chance(0.3) {
                    targets.push(TargetResource {
                        id: Some(catalog.id.clone()),
                        display_name: Some(catalog.display_name.clone()),
                        type_: Some("AccessPackageCatalog".into()),
                        modified_properties: Some(vec![]),
                        ..Default::default()
                    });
                }
                details.push(kv("AccessPackageId", &package.id));
                details.push(kv("RequestId", &req.request_id));
                details.push(kv("PolicyId", &policy.id));
                details.push(kv("RequestType", req.kind.graph_name()));
                if let Some(j) = req.justification {
                    details.push(kv("Justification", j));
                }
                if self.rng.chance(0.3) {
                    details.push(kv("AccessPackageCatalogId", &catalog.id));
                    details.push(kv("RequestorId", &tenant.users[req.requestor].id));
                }
            } else if self.rng.chance(0.5) {
                details.push(kv("AccessPackageId", &package.id));
                details.push(kv("RequestId", &req.request_id));
                if self.rng.chance(0.5) {
                    details.push(kv("PolicyId", &policy.id));
                }
            }
            (targets, details)
        };
        Built {
            corr: req.corr,
            category,
            activity,
            service,
            op,
            actor,
            targets,
            details,
            reason: "",
            failure: (step == EmStep::Failed).then(|| *self.rng.pick(FULFILMENT_FAILURES)),
            id_style: IdStyle::Directory,
        }
    }

    fn role_record(&mut self, c: &RoleChange) -> Built {
        let tenant = self.tenant.clone();
        let (sp, role) = match c.resource {
            RoleResource::App { app, role } => {
                let app = &tenant.apps[app as usize];
                (app, &app.roles[role as usize])
            }
            RoleResource::Graph { role } => (&tenant.graph, &tenant.graph.roles[role as usize]),
        };
        let (noun, category) = match c.principal {
            Principal::User(_) => ("user", "UserManagement"),
            Principal::Group(_) => ("group", "GroupManagement"),
            Principal::App(_) => ("service principal", "ApplicationManagement"),
        };
        let activity: &'static str = match (c.op, c.principal) {
            (RoleOp::Grant, Principal::User(_)) => "Add app role assignment grant to user",
            (RoleOp::Grant, Principal::Group(_)) => "Add app role assignment to group",
            (RoleOp::Grant, Principal::App(_)) => "Add app role assignment to service principal",
            (RoleOp::DeletionMarked, Principal::User(_)) => {
                "Add a deletion-marked app role assignment grant to user as part of link removal"
            }
            (RoleOp::DeletionMarked, Principal::Group(_)) => {
                "Add a deletion-marked app role assignment grant to group as part of link removal"
            }
            (RoleOp::DeletionMarked, Principal::App(_)) => {
                "Add a deletion-marked app role assignment grant to service principal as part of link removal"
            }
            (RoleOp::Remove, Principal::User(_)) => "Remove app role assignment from user",
            (RoleOp::Remove, Principal::Group(_)) => "Remove app role assignment from group",
            (RoleOp::Remove, Principal::App(_)) => {
                "Remove app role assignment from service principal"
            }
        };
        debug_assert!(activity.contains(noun));
        // Values are JSON-encoded strings. Additions carry newValue (oldValue is one of the
        // "empty" spellings), removals carry oldValue.
        let empty_old = match self.rng.below(10) {
            0 => Some(String::new()),
            1 => Some("[]".to_string()),
            _ => None,
        };
        let removal = c.op == RoleOp::Remove;
        let prop = |name: &str, value: String| {
            let value = json_string(&value);
            if removal {
                ModifiedProperty {
                    display_name: Some(name.into()),
                    old_value: Some(value),
                    new_value: None,
                }
            } else {
                ModifiedProperty {
                    display_name: Some(name.into()),
                    old_value: empty_old.clone(),
                    new_value: Some(value),
                }
            }
        };
        let mut props = vec![
            prop("AppRole.Id", role.id.clone()),
            prop("AppRole.Value", role.value.clone()),
            prop("AppRole.DisplayName", role.display_name.clone()),
        ];
        let principal_target = match c.principal {
            Principal::User(u) => {
                let user = &tenant.users[u as usize];
                props.push(prop("User.ObjectID", user.id.clone()));
                props.push(prop("User.UPN", user.upn.clone()));
                props.push(prop("User.PUID", user.puid.clone()));
                self.user_target(u as usize, false)
            }
            Principal::Group(g) => {
                let group = &tenant.groups[g as usize];
                props.push(prop("Group.ObjectID", group.id.clone()));
                props.push(prop("Group.DisplayName", group.display_name.clone()));
                TargetResource {
                    id: Some(group.id.clone()),
                    display_name: Some(group.display_name.clone()),
                    type_: Some("Group".into()),
                    group_type: Some(group.group_type.into()),
                    modified_properties: Some(vec![]),
                    ..Default::default()
                }
            }
            Principal::App(a) => {
                let client = &tenant.apps[a as usize];
                TargetResource {
                    id: Some(client.id.clone()),
                    display_name: Some(client.display_name.clone()),
                    type_: Some("ServicePrincipal".into()),
                    modified_properties: Some(vec![]),
                    ..Default::default()
                }
            }
        };
        let created = format_us_datetime(c.created);
        props.push(prop("AppRoleAssignment.CreatedDateTime", created.clone()));
        props.push(prop("AppRoleAssignment.LastModifiedDateTime", created));
        props.push(prop("ServicePrincipal.ObjectID", sp.id.clone()));
        props.push(prop("ServicePrincipal.AppId", sp.app_id.clone()));
        props.push(prop(
            "TargetId.ServicePrincipalNames",
            sp.service_principal_names.join(";"),
        ));
        let resource_target = TargetResource {
            id: Some(sp.id.clone()),
            display_name: Some(sp.display_name.clone()),
            type_: Some("ServicePrincipal".into()),
            modified_properties: Some(props),
            ..Default::default()
        };
        let details = if c.actor == Actor::Governance || self.rng.chance(0.5) {
            vec![]
        } else {
            vec![KeyValue {
                key: Some("User-Agent".into()),
                value: Some(user_agent(&mut self.rng).into()),
            }]
        };
        Built {
            corr: c.corr,
            category,
            activity,
            service: CORE,
            op: if c.op == RoleOp::Grant {
                "Assign"
            } else {
                "Unassign"
            },
            actor: c.actor,
            targets: vec![resource_target, principal_target],
            details,
            reason: "",
            failure: None,
            id_style: IdStyle::Directory,
        }
    }

    fn member_record(
        &mut self,
        corr: u128,
        user: usize,
        group: usize,
        actor: Actor,
        add: bool,
    ) -> Built {
        let group = &self.tenant.groups[group];
        let mut user_target = self.user_target(user, false);
        user_target.modified_properties =
            Some(group_membership_props(&group.id, &group.display_name, add));
        let group_target = TargetResource {
            id: Some(group.id.clone()),
            display_name: None,
            type_: Some("Group".into()),
            group_type: Some(group.group_type.into()),
            modified_properties: Some(vec![]),
            ..Default::default()
        };
        Built {
            corr,
            category: "GroupManagement",
            activity: if add {
                "Add member to group"
            } else {
                "Remove member from group"
            },
            service: CORE,
            op: if add { "Assign" } else { "Unassign" },
            actor,
            targets: vec![user_target, group_target],
            details: vec![],
            reason: "",
            failure: None,
            id_style: IdStyle::Directory,
        }
    }

    fn noise_record(
        &mut self,
        corr: u128,
        kind: usize,
        subject: usize,
        actor: Actor,
        failed: bool,
        time: i64,
    ) -> Built {
        let tenant = self.tenant.clone();
        let k = &NOISE[kind];
        let deleting = matches!(kind as u16, NOISE_DELETE_GROUP | NOISE_REMOVE_SP);
        let mut details = Vec::new();
        let kv = |k: &str, v: String| KeyValue {
            key: Some(k.into()),
            value: Some(v),
        };
        let user = &tenant.users[subject];
        let targets = match k.target {
            Nt::User | Nt::Guest => {
                let props = user_update_props(&mut self.rng, k.activity, user.user_type, time);
                details.push(kv("UserType", user.user_type.as_str().into()));
                let mut t = self.user_target(subject, false);
                t.modified_properties = Some(props);
                vec![t]
            }
            Nt::Member | Nt::Owner => {
                let gi = self.rng.index(tenant.groups.len());
                let g = &tenant.groups[gi];
                let add = !k.activity.starts_with("Remove");
                if self.tap && k.target == Nt::Member && !failed {
                    self.fact = Some(Fact::Membership {
                        time,
                        corr,
                        user: subject,
                        group: gi,
                        add,
                    });
                }
                let mut t = self.user_target(subject, false);
                t.modified_properties = Some(group_membership_props(&g.id, &g.display_name, add));
                vec![
                    t,
                    TargetResource {
                        id: Some(g.id.clone()),
                        display_name: None,
                        type_: Some("Group".into()),
                        group_type: Some(g.group_type.into()),
                        modified_properties: Some(vec![]),
                        ..Default::default()
                    },
                ]
            }
            Nt::Group => {
                let g = &tenant.groups[if deleting {
                    subject
                } else {
                    self.rng.index(tenant.groups.len())
                }];
                let props = if deleting {
                    vec![]
                } else {
                    let field =
                        *self
                            .rng
                            .pick(&["Description", "DisplayName", "Mail", "Visibility"]);
                    vec![
                        ModifiedProperty {
                            display_name: Some(field.into()),
                            old_value: Some("[]".into()),
                            new_value: Some(format!("[{}]", json_string(&g.display_name))),
                        },
                        included(&[field]),
                    ]
                };
                vec![TargetResource {
                    id: Some(g.id.clone()),
                    display_name: Some(g.display_name.clone()),
                    type_: Some("Group".into()),
                    group_type: Some(g.group_type.into()),
                    modified_properties: Some(props),
                    ..Default::default()
                }]
            }
            Nt::ServicePrincipal | Nt::Application => {
                let ai = if deleting {
                    subject
                } else {
                    self.rng.index(tenant.apps.len())
                };
                let a = &tenant.apps[ai];
                let (id, ty) = if k.target == Nt::Application {
                    (
                        tenant.derived_guid(APPLICATION_OBJECT, ai as u64),
                        "Application",
                    )
                } else {
                    (a.id.clone(), "ServicePrincipal")
                };
                let props = if deleting {
                    vec![]
                } else if k.target == Nt::Application {
                    vec![
                        ModifiedProperty {
                            display_name: Some("KeyDescription".into()),
                            old_value: Some("[]".into()),
                            new_value: Some(format!("[\"[KeyIdentifier={}]\"]", self.rng.guid())),
                        },
                        included(&["KeyDescription"]),
                    ]
                } else {
                    vec![
                        ModifiedProperty {
                            display_name: Some("AccountEnabled".into()),
                            old_value: Some("[true]".into()),
                            new_value: Some("[true]".into()),
                        },
                        included(&["AccountEnabled"]),
                        ModifiedProperty {
                            display_name: Some("TargetId.ServicePrincipalNames".into()),
                            old_value: None,
                            new_value: Some(a.service_principal_names.join(";")),
                        },
                    ]
                };
                vec![TargetResource {
                    id: Some(id),
                    display_name: Some(a.display_name.clone()),
                    type_: Some(ty.into()),
                    modified_properties: Some(props),
                    ..Default::default()
                }]
            }
            Nt::CaPolicy => {
                let i = self.rng.index(CA_POLICIES.len());
                vec![TargetResource {
                    id: Some(tenant.derived_guid(CA_POLICY, i as u64)),
                    display_name: Some(CA_POLICIES[i].into()),
                    type_: Some("Policy".into()),
                    modified_properties: Some(vec![ModifiedProperty {
                        display_name: Some("ConditionalAccessPolicy".into()),
                        old_value: Some(format!(
                            "{{\"displayName\":\"{}\",\"state\":\"enabledForReportingButNotEnforced\"}}",
                            CA_POLICIES[i]
                        )),
                        new_value: Some(format!(
                            "{{\"displayName\":\"{}\",\"state\":\"enabled\"}}",
                            CA_POLICIES[i]
                        )),
                    }]),
                    ..Default::default()
                }]
            }
            Nt::DefaultPolicy => vec![TargetResource {
                id: Some(tenant.derived_guid(DEFAULT_POLICY, 0)),
                display_name: Some("Default Policy".into()),
                type_: Some("Policy".into()),
                modified_properties: Some(vec![]),
                ..Default::default()
            }],
            Nt::Role => {
                let (id, name) = *self.rng.pick(ROLES);
                let mut u = self.user_target(subject, false);
                u.modified_properties = Some(vec![
                    ModifiedProperty {
                        display_name: Some("Role.DisplayName".into()),
                        old_value: None,
                        new_value: Some(json_string(name)),
                    },
                    ModifiedProperty {
                        display_name: Some("Role.TemplateId".into()),
                        old_value: None,
                        new_value: Some(json_string(id)),
                    },
                ]);
                vec![
                    TargetResource {
                        id: Some(id.into()),
                        display_name: Some(name.into()),
                        type_: Some("Role".into()),
                        modified_properties: Some(vec![]),
                        ..Default::default()
                    },
                    u,
                ]
            }
            Nt::Device => {
                let device = subject as u64;
                let id = tenant.derived_guid(DEVICE, device);
                let name = format!("DESKTOP-{}", &id.replace('-', "")[..7].to_uppercase());
                vec![TargetResource {
                    id: Some(id),
                    display_name: Some(name),
                    type_: Some("Device".into()),
                    modified_properties: Some(vec![included(&[
                        "DeviceOSVersion",
                        "ComplianceExpiryTime",
                    ])]),
                    ..Default::default()
                }]
            }
            Nt::Empty => vec![TargetResource {
                id: Some("00000000-0000-0000-0000-000000000000".into()),
                display_name: None,
                type_: Some("N/A".into()),
                modified_properties: Some(vec![]),
                ..Default::default()
            }],
            Nt::AccessPackage | Nt::AccessPackagePolicy => {
                let pol = &tenant.policies[self.rng.index(tenant.policies.len())];
                let pkg = &tenant.packages[pol.package];
                let mut t = vec![TargetResource {
                    id: Some(pkg.id.clone()),
                    display_name: Some(pkg.display_name.clone()),
                    type_: Some("AccessPackage".into()),
                    modified_properties: Some(vec![]),
                    ..Default::default()
                }];
                if k.target == Nt::AccessPackagePolicy {
                    t.push(TargetResource {
                        id: Some(pol.id.clone()),
                        display_name: Some(pol.display_name.clone()),
                        type_: Some("AccessPackageAssignmentPolicy".into()),
                        modified_properties: Some(vec![]),
                        ..Default::default()
                    });
                }
                t
            }
        };
        if k.service == CORE && k.category != "UserManagement" && self.rng.chance(0.3) {
            details.push(kv("User-Agent", user_agent(&mut self.rng).into()));
        }
        let id_style = match k.service {
            "Self-service Group Management" => IdStyle::Ssgm,
            "PIM" => IdStyle::Pim,
            CORE | EM | "Conditional Access" => IdStyle::Directory,
            _ => IdStyle::Guid,
        };
        Built {
            corr,
            category: k.category,
            activity: k.activity,
            service: k.service,
            op: k.op,
            actor,
            targets,
            details,
            reason: if k.service == "Self-service Group Management" {
                "OK"
            } else {
                ""
            },
            failure: failed.then_some(k.failure),
            id_style,
        }
    }
}

impl Iterator for EventStream {
    type Item = AuditRecord;

    fn next(&mut self) -> Option<AuditRecord> {
        loop {
            if self.emitted >= self.total {
                return None;
            }
            let due = match (self.heap.peek(), self.next_start) {
                (Some(Reverse(p)), Some(s)) => p.time <= s,
                (Some(_), None) => true,
                (None, Some(_)) => false,
                (None, None) => return None,
            };
            if due {
                let Reverse(p) = self.heap.pop().expect("peeked");
                let r = self.materialize(p);
                self.emitted += 1;
                return Some(r);
            }
            let s = self.next_start.expect("a scenario is due");
            self.start_scenario(s);
            self.plan_next_start();
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = (self.total - self.emitted) as usize;
        (left, Some(left))
    }
}

/// How a record's `id` is spelled (real ids are not always GUIDs).
#[derive(Debug, Clone, Copy)]
enum IdStyle {
    Directory,
    Ssgm,
    Pim,
    Guid,
}

/// A record before the common columns are filled in.
struct Built {
    corr: u128,
    category: &'static str,
    activity: &'static str,
    service: &'static str,
    op: &'static str,
    actor: Actor,
    targets: Vec<TargetResource>,
    details: Vec<KeyValue>,
    /// `resultReason` on success.
    reason: &'static str,
    /// `Some(resultReason)` when the activity failed.
    failure: Option<&'static str>,
    id_style: IdStyle,
}

fn app_identity(app: &super::tenant::SystemApp) -> AppIdentity {
    AppIdentity {
        app_id: Some(app.app_id.clone()),
        display_name: Some(app.display_name.clone()),
        service_principal_id: Some(app.service_principal_id.clone()),
        service_principal_name: Some(if app.display_name == GOVERNANCE_APP {
            app.app_id.clone()
        } else {
            app.display_name.clone()
        }),
    }
}

/// A string as a JSON string literal: how Entra writes modified property values (`"\"Reader\""`).
pub(crate) fn json_string(s: &str) -> String {
    serde_json::Value::String(s.to_string()).to_string()
}

/// `Included Updated Properties`: the comma-separated names of what changed.
fn included(names: &[&str]) -> ModifiedProperty {
    ModifiedProperty {
        display_name: Some("Included Updated Properties".into()),
        old_value: None,
        new_value: Some(json_string(&names.join(", "))),
    }
}

fn group_membership_props(id: &str, name: &str, add: bool) -> Vec<ModifiedProperty> {
    let p = |n: &str, v: Option<String>| {
        if add {
            ModifiedProperty {
                display_name: Some(n.into()),
                old_value: None,
                new_value: v,
            }
        } else {
            ModifiedProperty {
                display_name: Some(n.into()),
                old_value: v,
                new_value: None,
            }
        }
    };
    vec![
        p("Group.ObjectID", Some(json_string(id))),
        p("Group.DisplayName", Some(json_string(name))),
        p("Group.WellKnownObjectName", None),
    ]
}

/// Modified properties of a user change; sometimes more than the admin center's 5.
fn user_update_props(
    rng: &mut Rng,
    activity: &str,
    user_type: UserType,
    time: i64,
) -> Vec<ModifiedProperty> {
    let stamp = chrono::DateTime::from_timestamp_nanos(time)
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    let mp = |n: &str, old: &str, new: &str| ModifiedProperty {
        display_name: Some(n.into()),
        old_value: Some(old.into()),
        new_value: Some(new.into()),
    };
    match activity {
        "Update user" => {
            let pool: [(&str, String, String); 7] = [
                (
                    "StsRefreshTokensValidFrom",
                    "[]".into(),
                    format!("[\"{stamp}\"]"),
                ),
                (
                    "Department",
                    "[]".into(),
                    format!("[{}]", json_string(rng.choose(DEPARTMENT_VALUES))),
                ),
                (
                    "JobTitle",
                    "[]".into(),
                    format!("[{}]", json_string(rng.choose(JOB_TITLES))),
                ),
                (
                    "Mobile",
                    "[]".into(),
                    format!("[\"+1 425 555 {:04}\"]", rng.below(10_000)),
                ),
                ("LastDirSyncTime", "[]".into(), format!("[\"{stamp}\"]")),
                ("AccountEnabled", "[true]".into(), "[true]".into()),
                (
                    "UserType",
                    "[]".into(),
                    format!("[{}]", json_string(user_type.as_str())),
                ),
            ];
            let n = if rng.chance(0.05) {
                7
            } else {
                rng.range(1, 3) as usize
            };
            let start = rng.index(pool.len() - n + 1);
            let chosen = &pool[start..start + n];
            let mut props: Vec<ModifiedProperty> =
                chosen.iter().map(|(n, o, v)| mp(n, o, v)).collect();
            let names: Vec<&str> = chosen.iter().map(|(n, _, _)| *n).collect();
            props.push(included(&names));
            props
        }
        "Add user" | "Invite external user" => vec![
            mp("AccountEnabled", "[]", "[true]"),
            mp(
                "UserType",
                "[]",
                &format!("[{}]", json_string(user_type.as_str())),
            ),
            mp("UserPrincipalName", "[]", "[]"),
            included(&["AccountEnabled", "UserType", "UserPrincipalName"]),
        ],
        "Change user license" => vec![
            mp(
                "AssignedLicense",
                "[]",
                "[\"[SkuName=ENTERPRISEPREMIUM, AccountId=..., SkuId=06ebc4ee-1bb5-47dd-8120-11324bc54e06, DisabledPlans=[]]\"]",
            ),
            included(&["AssignedLicense", "AssignedPlan"]),
        ],
        "Delete user" => vec![],
        _ => vec![],
    }
}

const USER_AGENTS: &[&str] = &[
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36 Edg/130.0.0.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Safari/605.1.15",
    "Microsoft Graph PowerShell",
    "azure-cli/2.66.0",
];
const DEPARTMENT_VALUES: &[&str] = &["Sales", "Finance", "Engineering", "Support"];
const JOB_TITLES: &[&str] = &["Analyst", "Engineer", "Manager", "Consultant"];

fn user_agent(rng: &mut Rng) -> &'static str {
    rng.choose(USER_AGENTS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn noise_indices_name_their_activities() {
        let name = |i: u16| NOISE[i as usize].activity;
        assert_eq!(name(NOISE_UPDATE_USER), "Update user");
        assert_eq!(name(NOISE_ADD_USER), "Add user");
        assert_eq!(name(NOISE_DELETE_USER), "Delete user");
        assert_eq!(name(NOISE_DELETE_GROUP), "Delete group");
        assert_eq!(name(NOISE_REMOVE_SP), "Remove service principal");
        assert_eq!(name(NOISE_ADD_MEMBER), "Add member to group");
        // Deletions only happen inside the deletion scenario (weight 0 as background).
        for i in [NOISE_DELETE_USER, NOISE_DELETE_GROUP, NOISE_REMOVE_SP] {
            assert_eq!(NOISE[i as usize].weight, 0.0);
        }
    }

    #[test]
    fn json_string_values_are_quoted_like_entra_writes_them() {
        assert_eq!(json_string("Reader"), "\"Reader\"");
        assert_eq!(json_string(""), "\"\"");
        assert_eq!(json_string("a\"b"), "\"a\\\"b\"");
    }
}
