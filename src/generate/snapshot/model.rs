//! The tenant's entitlement-management configuration as Graph lists it: what the audit log does
//! not say (catalog states, hidden packages, who each policy admits, connected organizations,
//! group nesting, memberships older than the window) and a few objects the log never touches,
//! added for the reports' special cases.
//!
//! Indices are shared with [`Tenant`]: `groups`, `catalogs`, `packages` and `policies` start
//! with the tenant's own, in the same order (so the event stream's indices are valid here), then
//! the extras. Everything is drawn from its own random stream, so the audit log is unchanged.

use std::collections::{BTreeSet, HashSet};
use std::sync::Arc;

use super::super::Config;
use super::super::rng::Rng;
use super::super::tenant::{Resource, Tenant, UserType};
use super::super::timeline::DAY;

/// Salts of [`Tenant::derived_guid`] for snapshot objects derived from other ids.
pub(crate) const SUBJECT: u64 = 101;
pub(crate) const ASSIGNMENT: u64 = 102;
pub(crate) const RESOURCE: u64 = 103;
pub(crate) const ROLE: u64 = 104;
pub(crate) const SCOPE: u64 = 105;

/// Random stream of the snapshot model (the event stream and the tenant use others).
const MODEL_STREAM: u64 = 0x5A47_0001;

#[derive(Debug, Clone)]
pub struct Catalog {
    pub id: String,
    pub display_name: String,
    pub description: String,
    /// `state`: `published` (true) or `unpublished`.
    pub published: bool,
    pub externally_visible: bool,
    pub created: i64,
    pub modified: i64,
}

#[derive(Debug, Clone)]
pub struct Group {
    pub id: String,
    pub display_name: String,
    pub description: String,
    /// Microsoft 365 group (`groupTypes: ["Unified"]`, mail-enabled) or security group.
    pub unified: bool,
    pub created: i64,
}

#[derive(Debug, Clone)]
pub struct Package {
    pub id: String,
    pub display_name: String,
    pub description: String,
    /// Index into [`Governance::catalogs`].
    pub catalog: usize,
    pub hidden: bool,
    /// Indices into [`Governance::policies`].
    pub policies: Vec<usize>,
    /// Resource roles (indices into the tenant's groups and apps).
    pub resources: Vec<Resource>,
    pub created: i64,
    pub modified: i64,
}

/// `allowedTargetScope` of a policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TargetScope {
    AllMemberUsers,
    AllDirectoryUsers,
    AllExternalUsers,
    SpecificDirectoryUsers,
    AllConfiguredConnectedOrganizationUsers,
    SpecificConnectedOrganizationUsers,
}

impl TargetScope {
    pub fn as_str(self) -> &'static str {
        match self {
            TargetScope::AllMemberUsers => "allMemberUsers",
            TargetScope::AllDirectoryUsers => "allDirectoryUsers",
            TargetScope::AllExternalUsers => "allExternalUsers",
            TargetScope::SpecificDirectoryUsers => "specificDirectoryUsers",
            TargetScope::AllConfiguredConnectedOrganizationUsers => {
                "allConfiguredConnectedOrganizationUsers"
            }
            TargetScope::SpecificConnectedOrganizationUsers => "specificConnectedOrganizationUsers",
        }
    }

    /// Scopes that admit guests only through connected organizations.
    pub fn is_connected_organization(self) -> bool {
        matches!(
            self,
            TargetScope::AllConfiguredConnectedOrganizationUsers
                | TargetScope::SpecificConnectedOrganizationUsers
        )
    }
}

/// An entry of `specificAllowedTargets` (a `subjectSet`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AllowedTarget {
    /// `singleUser` (index into the tenant's users).
    SingleUser(usize),
    /// `groupMembers` (index into [`Governance::groups`]): direct and transitive members.
    GroupMembers(usize),
    /// `connectedOrganizationMembers` (index into [`Governance::connected_orgs`]).
    ConnectedOrganizationMembers(usize),
}

#[derive(Debug, Clone)]
pub struct Policy {
    pub id: String,
    pub display_name: String,
    pub description: String,
    /// Index into [`Governance::packages`].
    pub package: usize,
    pub scope: TargetScope,
    pub targets: Vec<AllowedTarget>,
    /// `requestorSettings.enableTargetsToSelfAddAccess`.
    pub self_add: bool,
    /// `requestorSettings.enableTargetsToSelfRemoveAccess`.
    pub self_remove: bool,
    /// `requestApprovalSettings.isApprovalRequiredForAdd`.
    pub requires_approval: bool,
    /// Primary approvers of the single stage (indices into the tenant's users).
    pub approvers: Vec<usize>,
    /// `automaticRequestSettings.requestAccessForAllowedTargets`: an auto-assignment policy.
    pub automatic: bool,
    /// `expiration`: `afterDuration` of this many days, or `noExpiration`.
    pub expiration_days: Option<u32>,
    pub created: i64,
    pub modified: i64,
}

/// How a connected organization's users are recognised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdentitySource {
    /// `azureActiveDirectoryTenant`: guests whose home tenant is `tenant_id`.
    AzureAdTenant {
        tenant_id: String,
        display_name: String,
    },
    /// `domainIdentitySource`: guests whose address is in `domain_name`.
    Domain {
        domain_name: String,
        display_name: String,
    },
}

#[derive(Debug, Clone)]
pub struct ConnectedOrg {
    pub id: String,
    pub display_name: String,
    pub description: String,
    /// The partner's mail domain.
    pub domain: String,
    pub source: IdentitySource,
    /// `configured` (true) or `proposed`.
    pub configured: bool,
    /// Indices into the tenant's users (members).
    pub internal_sponsors: Vec<usize>,
    /// Indices into the tenant's users (guests of this organization).
    pub external_sponsors: Vec<usize>,
    pub created: i64,
    pub modified: i64,
}

/// Directory attributes of a user that the audit log does not carry.
#[derive(Debug, Clone)]
pub struct Profile {
    pub created: i64,
    pub job_title: &'static str,
    pub account_enabled: bool,
    /// Guests: `Accepted` or `PendingAcceptance`.
    pub external_state: Option<&'static str>,
}

/// An assignment delivered before the window by the auto-assignment policy (the log cannot show
/// it: it starts inside the window).
#[derive(Debug, Clone)]
pub struct PreWindowAssignment {
    pub user: usize,
    pub policy: usize,
    pub start: i64,
    /// The `systemAdd` request that created it.
    pub request_id: String,
    pub assignment_id: String,
}

/// Indices of the objects built for the reports' special cases.
#[derive(Debug, Clone)]
pub struct SpecialObjects {
    /// A package whose only policy admits members of `admitting_group` (`specificDirectoryUsers`
    /// with a `groupMembers` target).
    pub group_package: usize,
    pub group_policy: usize,
    pub admitting_group: usize,
    /// Nested in `admitting_group`: its members are admitted transitively.
    pub nested_group: usize,
    /// A user who is a member of `nested_group` only (admitted through nesting alone).
    pub nested_user: usize,
    /// `isHidden: true`.
    pub hidden_package: usize,
    /// The auto-assignment policy and the group it targets.
    pub auto_policy: usize,
    pub auto_group: usize,
    /// An unpublished catalog and its package (in scope of everyone, requestable by no one).
    pub unpublished_catalog: usize,
    pub unpublished_package: usize,
    /// A policy with self-requests disabled (administrators assign), alone in its package.
    pub admin_only_policy: usize,
}

/// The tenant's entitlement-management configuration (see the module documentation).
#[derive(Debug, Clone)]
pub struct Governance {
    pub tenant: Arc<Tenant>,
    /// Start and (exclusive) end of the audit log's window.
    pub window_start: i64,
    pub window_end: i64,
    /// One per tenant user, same order.
    pub profiles: Vec<Profile>,
    pub catalogs: Vec<Catalog>,
    pub groups: Vec<Group>,
    pub packages: Vec<Package>,
    pub policies: Vec<Policy>,
    pub connected_orgs: Vec<ConnectedOrg>,
    /// `(parent, child)`: group `child` is a member of group `parent`.
    pub nesting: Vec<(usize, usize)>,
    /// `(group, user)` memberships in place when the window starts.
    pub base_members: Vec<(usize, usize)>,
    pub pre_window: Vec<PreWindowAssignment>,
    pub special: SpecialObjects,
}

const CONSUMER_TENANT: &str = "9188040d-6c67-4c5b-b112-36a304b66dad";

const JOB_TITLES: &[&str] = &[
    "Analyst",
    "Engineer",
    "Manager",
    "Consultant",
    "Specialist",
    "Coordinator",
    "Director",
    "Associate",
];

/// The part of a guest's UPN that names their home domain (`ana.silva_fabrikam.com#EXT#@...`).
pub fn guest_domain(upn: &str) -> Option<&str> {
    let ext = upn.find("#EXT#")?;
    let local = &upn[..ext];
    Some(&local[local.rfind('_')? + 1..])
}

/// A guest's own address (`ana.silva@fabrikam.com`); members: their UPN.
pub fn mail_of(upn: &str) -> String {
    match upn.find("#EXT#") {
        Some(ext) => {
            let local = &upn[..ext];
            match local.rfind('_') {
                Some(i) => format!("{}@{}", &local[..i], &local[i + 1..]),
                None => local.to_string(),
            }
        }
        None => upn.to_string(),
    }
}

/// `fabrikam.com` → `Fabrikam`, `adventure-works.com` → `Adventure Works`.
fn org_name(domain: &str) -> String {
    const KNOWN: &[(&str, &str)] = &[
        ("lucernepublishing.com", "Lucerne Publishing"),
        ("margiestravel.com", "Margie's Travel"),
        ("treyresearch.net", "Trey Research"),
        ("alpineskihouse.com", "Alpine Ski House"),
        ("coho.com", "Coho Winery"),
    ];
    if let Some((_, name)) = KNOWN.iter().find(|(d, _)| *d == domain) {
        return name.to_string();
    }
    domain
        .split('.')
        .next()
        .unwrap_or(domain)
        .split('-')
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
                .unwrap_or_default()
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn resource(tenant: &Tenant, app: &str, value: &str) -> Resource {
    let app_index = tenant
        .apps
        .iter()
        .position(|a| a.display_name == app)
        .expect("app exists");
    let role = tenant.apps[app_index]
        .roles
        .iter()
        .position(|r| r.value == value)
        .expect("app role exists");
    Resource::AppRole {
        app: app_index,
        role,
    }
}

impl Governance {
    /// The configuration of `config`'s tenant (the same tenant the event stream uses).
    pub fn new(config: &Config, tenant: Arc<Tenant>) -> Governance {
        let t = tenant.as_ref();
        let window_start = config.end - config.days as i64 * DAY;
        let mut rng = Rng::new(config.seed, MODEL_STREAM);
        // Objects predate the window by 1 to 3 years.
        let before = |rng: &mut Rng, min_days: u64, max_days: u64| {
            let secs = rng.range(min_days * 86_400, max_days * 86_400) as i64;
            window_start - secs * 1_000_000_000
        };

        let profiles: Vec<Profile> = t
            .users
            .iter()
            .map(|u| {
                let guest = u.user_type == UserType::Guest;
                Profile {
                    created: before(&mut rng, 10, 1_100),
                    job_title: rng.choose(JOB_TITLES),
                    account_enabled: !rng.chance(0.02),
                    external_state: guest.then(|| {
                        if rng.chance(0.1) {
                            "PendingAcceptance"
                        } else {
                            "Accepted"
                        }
                    }),
                }
            })
            .collect();

        let mut catalogs: Vec<Catalog> = t
            .catalogs
            .iter()
            .map(|c| {
                let created = before(&mut rng, 400, 1_100);
                Catalog {
                    id: c.id.clone(),
                    display_name: c.display_name.clone(),
                    description: format!("Access packages of {}", c.display_name),
                    published: true,
                    externally_visible: c.display_name.contains("Partner"),
                    created,
                    modified: created + rng.range(0, 200) as i64 * DAY,
                }
            })
            .collect();
        let created = before(&mut rng, 700, 1_100);
        let unpublished_catalog = catalogs.len();
        catalogs.push(Catalog {
            id: rng.guid(),
            display_name: "Legacy Applications".into(),
            description: "Retired applications, kept for reference".into(),
            published: false,
            externally_visible: false,
            created,
            modified: created + 300 * DAY,
        });

        let mut groups: Vec<Group> = t
            .groups
            .iter()
            .map(|g| Group {
                id: g.id.clone(),
                display_name: g.display_name.clone(),
                description: format!("{} ({})", g.display_name, t.name),
                unified: g.group_type == "unifiedGroups",
                created: before(&mut rng, 200, 1_100),
            })
            .collect();
        let new_group = |rng: &mut Rng, groups: &mut Vec<Group>, name: &str, desc: &str| {
            groups.push(Group {
                id: rng.guid(),
                display_name: name.into(),
                description: desc.into(),
                unified: false,
                created: window_start - rng.range(60 * 86_400, 400 * 86_400) as i64 * 1_000_000_000,
            });
            groups.len() - 1
        };
        let admitting_group = new_group(
            &mut rng,
            &mut groups,
            "Platform Engineering",
            "Platform engineers (includes Site Reliability)",
        );
        let nested_group = new_group(
            &mut rng,
            &mut groups,
            "Site Reliability",
            "On-call site reliability engineers",
        );
        let auto_group = new_group(
            &mut rng,
            &mut groups,
            "Field Sales Leads",
            "Regional field sales leads",
        );

        // Memberships older than the window, in groups entitlement management does not manage.
        let managed: HashSet<usize> = t
            .packages
            .iter()
            .flat_map(|p| p.resources.iter())
            .filter_map(|r| match r {
                Resource::Group(g) => Some(*g),
                _ => None,
            })
            .collect();
        let dept = |name: &str| t.departments.iter().position(|d| *d == name);
        let mut base = BTreeSet::new();
        for (gi, g) in t.groups.iter().enumerate() {
            if managed.contains(&gi) {
                continue;
            }
            let (department, share) = match g.display_name.as_str() {
                "License - E5" => (None, 0.45),
                "License - E3" => (None, 0.5),
                "VPN Users" => (None, 0.3),
                "Field Sales EMEA" | "Field Sales Americas" => (dept("Sales"), 0.5),
                "Procurement" => (dept("Finance"), 0.3),
                "Security Champions" => (dept("Engineering"), 0.15),
                "Office Managers" => (dept("Operations"), 0.2),
                "Support Tier 2" => (dept("Support"), 0.3),
                "Developers - Build Agents" => continue,
                _ => (None, 0.05),
            };
            for (ui, u) in t.users[..t.members].iter().enumerate() {
                if department.is_none_or(|d| d == u.department) && rng.chance(share) {
                    base.insert((gi, ui));
                }
            }
        }
        // The special groups: engineers in Platform Engineering and Site Reliability (nested),
        // sales people in Field Sales Leads.
        // (Departments have ~1/8 of at least 150 members; all members if one is ever too small.)
        let in_dept = |d: Option<usize>| -> Vec<usize> {
            let v: Vec<usize> = (0..t.members)
                .filter(|&u| d.is_none_or(|d| t.users[u].department == d))
                .collect();
            if v.len() >= 8 {
                v
            } else {
                (0..t.members).collect()
            }
        };
        let engineers = in_dept(dept("Engineering"));
        let sales = in_dept(dept("Sales"));
        let pick_distinct = |rng: &mut Rng, from: &[usize], n: usize, taken: &mut Vec<usize>| {
            let mut out = Vec::new();
            while out.len() < n {
                let u = *rng.pick(from);
                if !taken.contains(&u) {
                    taken.push(u);
                    out.push(u);
                }
            }
            out
        };
        let mut taken = Vec::new();
        let platform = pick_distinct(&mut rng, &engineers, 2, &mut taken);
        let sre = pick_distinct(&mut rng, &engineers, 2, &mut taken);
        let leads = pick_distinct(&mut rng, &sales, 3, &mut taken);
        for &u in &platform {
            base.insert((admitting_group, u));
        }
        for &u in &sre {
            base.insert((nested_group, u));
        }
        for &u in &leads {
            base.insert((auto_group, u));
        }
        let nesting = vec![(admitting_group, nested_group)];

        // Connected organizations: one per partner domain guests come from (consumer mail
        // providers have none); the last one only proposed.
        let mut domains: Vec<(String, String)> = Vec::new();
        for u in &t.users[t.guests()] {
            let Some(d) = guest_domain(&u.upn) else {
                continue;
            };
            if u.home_tenant_id == CONSUMER_TENANT
                || d == t.domain
                || domains.iter().any(|(x, _)| x == d)
            {
                continue;
            }
            domains.push((d.to_string(), u.home_tenant_id.clone()));
        }
        let n_orgs = domains.len();
        let connected_orgs: Vec<ConnectedOrg> = domains
            .into_iter()
            .enumerate()
            .map(|(i, (domain, tenant_id))| {
                let name = org_name(&domain);
                let source = if i % 3 == 2 {
                    IdentitySource::Domain {
                        domain_name: domain.clone(),
                        display_name: domain.clone(),
                    }
                } else {
                    IdentitySource::AzureAdTenant {
                        tenant_id,
                        display_name: name.clone(),
                    }
                };
                let guests: Vec<usize> = t
                    .guests()
                    .filter(|&g| guest_domain(&t.users[g].upn) == Some(domain.as_str()))
                    .collect();
                let internal = (0..rng.range(1, 3))
                    .map(|_| rng.index(t.members))
                    .collect::<BTreeSet<_>>()
                    .into_iter()
                    .collect();
                let external = guests.first().copied().into_iter().collect();
                let created = before(&mut rng, 100, 900);
                ConnectedOrg {
                    id: rng.guid(),
                    display_name: name.clone(),
                    description: format!("{name} ({domain})"),
                    domain,
                    source,
                    configured: n_orgs < 3 || i + 1 < n_orgs,
                    internal_sponsors: internal,
                    external_sponsors: external,
                    created,
                    modified: created + rng.range(0, 60) as i64 * DAY,
                }
            })
            .collect();
        let configured: Vec<usize> = (0..connected_orgs.len())
            .filter(|&i| connected_orgs[i].configured)
            .collect();

        let contractors = t
            .groups
            .iter()
            .position(|g| g.display_name == "Contractors");
        let mut packages = Vec::new();
        for p in &t.packages {
            let created = before(&mut rng, 60, 700);
            packages.push(Package {
                id: p.id.clone(),
                display_name: p.display_name.clone(),
                description: format!("Access to {}", p.display_name),
                catalog: p.catalog,
                hidden: p.display_name == "Executive Reporting",
                policies: p.policies.clone(),
                resources: p.resources.clone(),
                created,
                modified: created + rng.range(0, 60) as i64 * DAY,
            });
        }
        let mut policies = Vec::new();
        let mut guest_policy = 0;
        for pol in &t.policies {
            let (scope, targets) = if pol.for_guests {
                guest_policy += 1;
                if guest_policy % 2 == 0 && !configured.is_empty() {
                    (
                        TargetScope::SpecificConnectedOrganizationUsers,
                        configured
                            .iter()
                            .take(2)
                            .map(|&o| AllowedTarget::ConnectedOrganizationMembers(o))
                            .collect(),
                    )
                } else {
                    (TargetScope::AllConfiguredConnectedOrganizationUsers, vec![])
                }
            } else if pol.display_name.starts_with("Contractors") && contractors.is_some() {
                (
                    TargetScope::SpecificDirectoryUsers,
                    vec![AllowedTarget::GroupMembers(contractors.expect("checked"))],
                )
            } else {
                (TargetScope::AllMemberUsers, vec![])
            };
            let created =
                packages[pol.package].created + rng.range(0, 86_400) as i64 * 1_000_000_000;
            policies.push(Policy {
                id: pol.id.clone(),
                display_name: pol.display_name.clone(),
                description: match scope {
                    TargetScope::AllMemberUsers => "Members of the directory can request".into(),
                    TargetScope::SpecificDirectoryUsers => {
                        "Members of the Contractors group can request".into()
                    }
                    _ => "Users of connected organizations can request".into(),
                },
                package: pol.package,
                scope,
                targets,
                self_add: true,
                self_remove: true,
                requires_approval: pol.requires_approval,
                approvers: pol.approvers.clone(),
                automatic: false,
                expiration_days: pol.expiration_days,
                created,
                modified: created + rng.range(0, 30) as i64 * DAY,
            });
        }

        // Extra packages, each with one policy.
        let add_package = |rng: &mut Rng,
                           packages: &mut Vec<Package>,
                           policies: &mut Vec<Policy>,
                           (name, catalog, resources): (&str, usize, Vec<Resource>),
                           policy: Policy| {
            let created =
                window_start - rng.range(30 * 86_400, 500 * 86_400) as i64 * 1_000_000_000;
            let pi = packages.len();
            packages.push(Package {
                id: rng.guid(),
                display_name: name.into(),
                description: format!("Access to {name}"),
                catalog,
                hidden: false,
                policies: vec![policies.len()],
                resources,
                created,
                modified: created + rng.range(0, 20) as i64 * DAY,
            });
            policies.push(Policy {
                id: rng.guid(),
                package: pi,
                created: created + 3_600_000_000_000,
                modified: created + rng.range(1, 20) as i64 * DAY,
                ..policy
            });
            (pi, policies.len() - 1)
        };
        let base_policy = Policy {
            id: String::new(),
            display_name: String::new(),
            description: String::new(),
            package: 0,
            scope: TargetScope::AllMemberUsers,
            targets: vec![],
            self_add: true,
            self_remove: true,
            requires_approval: false,
            approvers: vec![],
            automatic: false,
            expiration_days: None,
            created: 0,
            modified: 0,
        };
        let catalog = |name: &str| {
            t.catalogs
                .iter()
                .position(|c| c.display_name.contains(name))
                .unwrap_or(0)
        };
        let (group_package, group_policy) = add_package(
            &mut rng,
            &mut packages,
            &mut policies,
            (
                "Platform Engineering Tools",
                catalog("Engineering"),
                vec![
                    resource(t, "AWS Gateway API", "Admin"),
                    resource(t, "GitHub Enterprise Cloud", "Owner"),
                ],
            ),
            Policy {
                display_name: "Platform team members".into(),
                description: "Members of Platform Engineering (and its nested groups) can request"
                    .into(),
                scope: TargetScope::SpecificDirectoryUsers,
                targets: vec![AllowedTarget::GroupMembers(admitting_group)],
                requires_approval: true,
                approvers: vec![platform[0]],
                expiration_days: Some(180),
                ..base_policy.clone()
            },
        );
        let (_, auto_policy) = add_package(
            &mut rng,
            &mut packages,
            &mut policies,
            (
                "Field Sales Enablement",
                catalog("Sales"),
                vec![
                    resource(t, "Salesforce", "SalesManager"),
                    resource(t, "Tableau Server", "Viewer"),
                ],
            ),
            Policy {
                display_name: "Auto-assign field sales leads".into(),
                description: "Assigned automatically to members of Field Sales Leads".into(),
                scope: TargetScope::SpecificDirectoryUsers,
                targets: vec![AllowedTarget::GroupMembers(auto_group)],
                self_add: false,
                self_remove: false,
                automatic: true,
                ..base_policy.clone()
            },
        );
        let (_, admin_only_policy) = add_package(
            &mut rng,
            &mut packages,
            &mut policies,
            (
                "Break-glass ServiceNow Admin",
                catalog("Applications"),
                vec![resource(t, "ServiceNow", "admin")],
            ),
            Policy {
                display_name: "Assigned by administrators only".into(),
                description: "Administrators assign; users cannot request".into(),
                self_add: false,
                self_remove: false,
                expiration_days: Some(30),
                ..base_policy.clone()
            },
        );
        let (unpublished_package, _) = add_package(
            &mut rng,
            &mut packages,
            &mut policies,
            (
                "Legacy CRM Access",
                unpublished_catalog,
                vec![resource(t, "Salesforce", "")],
            ),
            Policy {
                display_name: "All employees (retired)".into(),
                description: "Members of the directory could request".into(),
                ..base_policy
            },
        );
        let hidden_package = packages
            .iter()
            .position(|p| p.hidden)
            .expect("Executive Reporting exists");

        let pre_window = leads
            .iter()
            .map(|&user| PreWindowAssignment {
                user,
                policy: auto_policy,
                start: policies[auto_policy].created + rng.range(600, 7_200) as i64 * 1_000_000_000,
                request_id: rng.guid(),
                assignment_id: rng.guid(),
            })
            .collect();

        Governance {
            tenant: tenant.clone(),
            window_start,
            window_end: config.end,
            profiles,
            catalogs,
            groups,
            packages,
            policies,
            connected_orgs,
            nesting,
            base_members: base.into_iter().collect(),
            pre_window,
            special: SpecialObjects {
                group_package,
                group_policy,
                admitting_group,
                nested_group,
                nested_user: sre[0],
                hidden_package,
                auto_policy,
                auto_group,
                unpublished_catalog,
                unpublished_package,
                admin_only_policy,
            },
        }
    }

    /// The connected organization guest `user` belongs to (by home tenant or mail domain).
    pub fn org_of(&self, user: usize) -> Option<usize> {
        let u = &self.tenant.users[user];
        if u.user_type != UserType::Guest {
            return None;
        }
        let domain = guest_domain(&u.upn)?;
        self.connected_orgs.iter().position(|o| match &o.source {
            IdentitySource::AzureAdTenant { tenant_id, .. } => *tenant_id == u.home_tenant_id,
            IdentitySource::Domain { domain_name, .. } => domain_name == domain,
        })
    }

    /// The accessPackageSubject id of a user (stable, distinct from the object id).
    pub fn subject_id(&self, user: usize) -> String {
        self.tenant.derived_guid(SUBJECT, user as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guest_addresses_and_org_names() {
        let upn = "ana.silva2_adventure-works.com#EXT#@contoso.onmicrosoft.com";
        assert_eq!(guest_domain(upn), Some("adventure-works.com"));
        assert_eq!(mail_of(upn), "ana.silva2@adventure-works.com");
        assert_eq!(mail_of("a.b@contoso.com"), "a.b@contoso.com");
        assert_eq!(guest_domain("a.b@contoso.com"), None);
        assert_eq!(org_name("adventure-works.com"), "Adventure Works");
        assert_eq!(org_name("fabrikam.com"), "Fabrikam");
    }
}
