//! The synthetic tenant: directory objects the event stream talks about. Users (members and B2B
//! guests), administrators, groups, enterprise applications (service principals with app roles),
//! entitlement-management catalogs, access packages and their assignment policies, and the
//! Microsoft first-party apps that initiate automated changes.
//!
//! Everything is drawn from the seed: the tenant id depends on the seed only; the number of users
//! grows with the number of events asked for, so large logs do not revolve around a handful of people.

use super::rng::Rng;

/// Display name of the first-party app that performs entitlement management's directory changes
/// (the Application role assignment workbook filters on it).
pub const GOVERNANCE_APP: &str = "Azure AD Identity Governance - User Management";

/// App role id of an application's default access (assignment without a specific role).
pub const DEFAULT_ACCESS_ROLE_ID: &str = "00000000-0000-0000-0000-000000000000";

/// `userType` of a directory user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserType {
    Member,
    Guest,
}

impl UserType {
    pub fn as_str(self) -> &'static str {
        match self {
            UserType::Member => "Member",
            UserType::Guest => "Guest",
        }
    }
}

#[derive(Debug, Clone)]
pub struct User {
    pub id: String,
    pub display_name: String,
    pub upn: String,
    pub user_type: UserType,
    /// Passport unique id: 16 uppercase hex digits (`1003...` members, `10037FFE...` guests).
    pub puid: String,
    /// The tenant the account lives in (the guest's own tenant for guests).
    pub home_tenant_id: String,
    /// The address the user usually signs in from.
    pub ip_address: String,
    /// Department, used to pick plausible access packages.
    pub department: usize,
}

#[derive(Debug, Clone)]
pub struct Group {
    pub id: String,
    pub display_name: String,
    /// `unifiedGroups` (Microsoft 365) or `azureAD` (security).
    pub group_type: &'static str,
}

#[derive(Debug, Clone)]
pub struct AppRole {
    pub id: String,
    pub value: String,
    pub display_name: String,
}

/// An application's service principal in this tenant.
#[derive(Debug, Clone)]
pub struct App {
    /// Service principal object id.
    pub id: String,
    pub app_id: String,
    pub display_name: String,
    /// `servicePrincipalNames`, as the `TargetId.ServicePrincipalNames` property lists them.
    pub service_principal_names: Vec<String>,
    /// Roles, the default access role (all-zero id) first when the app has one.
    pub roles: Vec<AppRole>,
}

/// An automated actor: a first-party service principal (no roles of its own here).
#[derive(Debug, Clone)]
pub struct SystemApp {
    pub app_id: String,
    pub display_name: String,
    pub service_principal_id: String,
}

#[derive(Debug, Clone)]
pub struct Catalog {
    pub id: String,
    pub display_name: String,
}

/// A resource role an access package hands out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resource {
    AppRole { app: usize, role: usize },
    Group(usize),
}

#[derive(Debug, Clone)]
pub struct AccessPackage {
    pub id: String,
    pub display_name: String,
    pub catalog: usize,
    pub policies: Vec<usize>,
    pub resources: Vec<Resource>,
    /// Department most requesters come from (`None`: anyone).
    pub department: Option<usize>,
}

#[derive(Debug, Clone)]
pub struct Policy {
    pub id: String,
    pub display_name: String,
    pub package: usize,
    pub requires_approval: bool,
    /// Guests (connected organizations) may request through this policy.
    pub for_guests: bool,
    /// Approvers (indices into `users`).
    pub approvers: Vec<usize>,
    /// Days until assignments expire (removed by the service).
    pub expiration_days: Option<u32>,
}

/// The whole synthetic directory.
#[derive(Debug, Clone)]
pub struct Tenant {
    pub id: String,
    /// Salt for ids derived on demand (devices, policies) rather than stored.
    pub salt: u64,
    /// Organization name (`Contoso`).
    pub name: String,
    /// Verified domain of members (`contoso.com`).
    pub domain: String,
    /// `<name>.onmicrosoft.com`, the domain of guest UPNs.
    pub initial_domain: String,
    /// Azure Monitor `Location` of the tenant's logs (`EU`, `NA`, ...).
    pub location: &'static str,
    /// Offset of the tenant's office hours from UTC, in hours.
    pub utc_offset_hours: i64,
    /// Members first, then guests.
    pub users: Vec<User>,
    /// Number of members (`users[..members]`).
    pub members: usize,
    /// Administrator accounts (indices into `users`).
    pub admins: Vec<usize>,
    pub groups: Vec<Group>,
    pub apps: Vec<App>,
    pub catalogs: Vec<Catalog>,
    pub packages: Vec<AccessPackage>,
    pub policies: Vec<Policy>,
    /// The first-party app that executes entitlement management's changes.
    pub governance: SystemApp,
    /// Other first-party actors of background activity.
    pub system_apps: Vec<SystemApp>,
    /// Microsoft Graph's service principal (the resource of application permission grants).
    pub graph: App,
    /// Departments (names), for users and packages.
    pub departments: Vec<&'static str>,
}

const ORGS: &[(&str, &str)] = &[
    ("Contoso", "contoso"),
    ("Fabrikam", "fabrikam"),
    ("Northwind Traders", "northwindtraders"),
    ("Woodgrove Bank", "woodgrovebank"),
    ("Tailspin Toys", "tailspintoys"),
    ("Wingtip Toys", "wingtiptoys"),
    ("Adatum", "adatum"),
    ("Litware", "litware"),
];

const PARTNER_DOMAINS: &[&str] = &[
    "fabrikam.com",
    "adventure-works.com",
    "proseware.com",
    "lucernepublishing.com",
    "margiestravel.com",
    "gmail.com",
    "outlook.com",
    "treyresearch.net",
    "alpineskihouse.com",
    "coho.com",
];

const FIRST_NAMES: &[&str] = &[
    "Ada",
    "Adele",
    "Alex",
    "Allan",
    "Amelia",
    "Ana",
    "Anders",
    "Ben",
    "Bianca",
    "Carlos",
    "Chen",
    "Chloe",
    "Christie",
    "Dana",
    "Daniel",
    "Diego",
    "Eva",
    "Emily",
    "Fatima",
    "Felix",
    "Grady",
    "Hana",
    "Henrik",
    "Irvin",
    "Isaiah",
    "Jana",
    "Johanna",
    "Joni",
    "Jun",
    "Kenji",
    "Lars",
    "Lee",
    "Lidia",
    "Lynne",
    "Maria",
    "Megan",
    "Miriam",
    "Mohammed",
    "Nestor",
    "Nina",
    "Noah",
    "Olga",
    "Omar",
    "Patti",
    "Pradeep",
    "Priya",
    "Quinn",
    "Raul",
    "Rina",
    "Sakura",
    "Sam",
    "Sofia",
    "Tomas",
    "Ulla",
    "Valentina",
    "Wei",
    "Xavier",
    "Yara",
    "Yusuf",
    "Zoe",
];

const LAST_NAMES: &[&str] = &[
    "Adams",
    "Bauer",
    "Becker",
    "Brown",
    "Castillo",
    "Chen",
    "Costa",
    "Dubois",
    "Eriksson",
    "Fernandez",
    "Fischer",
    "Garcia",
    "Gonzalez",
    "Hansen",
    "Hoffmann",
    "Ito",
    "Jensen",
    "Johansson",
    "Kim",
    "Kowalski",
    "Kumar",
    "Larsen",
    "Lopez",
    "Martin",
    "Meyer",
    "Moreau",
    "Muller",
    "Nakamura",
    "Nguyen",
    "Novak",
    "Olsen",
    "Patel",
    "Petrov",
    "Quintero",
    "Rossi",
    "Santos",
    "Schmidt",
    "Silva",
    "Singh",
    "Smith",
    "Sorensen",
    "Suzuki",
    "Tanaka",
    "Thomas",
    "Vargas",
    "Vogel",
    "Wagner",
    "Wang",
    "Weber",
    "Wilson",
    "Yamamoto",
    "Young",
    "Zhang",
    "Zimmermann",
];

const DEPARTMENTS: &[&str] = &[
    "Sales",
    "Marketing",
    "Finance",
    "Engineering",
    "Human Resources",
    "Legal",
    "Operations",
    "Support",
];

/// (value, display name) pairs; a `""` value is the default access role.
type Roles = &'static [(&'static str, &'static str)];

/// (display name, identifier URI or empty, roles).
#[rustfmt::skip]
const APPS: &[(&str, &str, Roles)] = &[
    ("AWS Gateway API", "https://signin.aws.amazon.com/saml", &[
        ("ReadOnly", "Read Only"), ("PowerUser", "Power User"), ("Admin", "Administrator"), ("Billing", "Billing"),
    ]),
    ("Salesforce", "https://contoso.my.salesforce.com", &[
        ("", "Default Access"), ("StandardUser", "Standard User"), ("SalesManager", "Sales Manager"),
        ("SystemAdministrator", "System Administrator"),
    ]),
    ("ServiceNow", "https://contoso.service-now.com", &[
        ("itil", "ITIL User"), ("approver_user", "Approver"), ("admin", "Administrator"),
    ]),
    ("Workday", "http://www.workday.com", &[("", "Default Access"), ("Employee", "Employee"), ("Manager", "Manager")]),
    ("SAP Concur", "https://www.concursolutions.com", &[("", "Default Access"), ("Traveler", "Traveler"), ("Approver", "Expense Approver")]),
    ("Zoom", "https://contoso.zoom.us", &[("", "Default Access"), ("Licensed", "Licensed User")]),
    ("Slack", "https://slack.com", &[("", "Default Access"), ("member", "Member"), ("admin", "Workspace Admin")]),
    ("GitHub Enterprise Cloud", "https://github.com/orgs/contoso", &[("", "Default Access"), ("User", "User"), ("Owner", "Owner")]),
    ("Atlassian Cloud", "https://id.atlassian.com/login", &[("", "Default Access"), ("jira-users", "Jira User"), ("confluence-users", "Confluence User")]),
    ("DocuSign", "https://account.docusign.com", &[("DS_Sender", "DS Sender"), ("DS_Admin", "DS Admin"), ("DS_Viewer", "DS Viewer")]),
    ("Tableau Server", "", &[("Viewer", "Viewer"), ("Explorer", "Explorer"), ("Creator", "Creator")]),
    ("{org} Expense Portal", "api://contoso-expenses", &[("Expenses.Submit", "Submitter"), ("Expenses.Approve", "Approver"), ("Expenses.Admin", "Finance Administrator")]),
];

#[rustfmt::skip]
const GROUP_NAMES: &[(&str, &str)] = &[
    ("Sales Team", "unifiedGroups"), ("Marketing", "unifiedGroups"), ("Finance Readers", "azureAD"),
    ("Engineering", "unifiedGroups"), ("HR Confidential", "azureAD"), ("Legal Hold Reviewers", "azureAD"),
    ("Support Tier 1", "azureAD"), ("Support Tier 2", "azureAD"), ("All Company", "unifiedGroups"),
    ("Project Phoenix", "unifiedGroups"), ("External Partners", "azureAD"), ("VPN Users", "azureAD"),
    ("Data Science", "unifiedGroups"), ("Executive Leadership", "azureAD"), ("Contractors", "azureAD"),
    ("Field Sales EMEA", "unifiedGroups"), ("Field Sales Americas", "unifiedGroups"), ("Procurement", "azureAD"),
    ("Developers - Build Agents", "azureAD"), ("Office Managers", "unifiedGroups"), ("Security Champions", "azureAD"),
    ("License - E5", "azureAD"), ("License - E3", "azureAD"), ("Travel Desk", "unifiedGroups"),
];

/// (app display name or `group:<name>`, role value) pairs.
type PackageResources = &'static [(&'static str, &'static str)];

/// (display name, catalog index, department or usize::MAX for anyone, resources).
#[rustfmt::skip]
const PACKAGES: &[(&str, usize, usize, PackageResources)] = &[
    ("Sales Onboarding", 1, 0, &[("Salesforce", "StandardUser"), ("group:Sales Team", ""), ("SAP Concur", "Traveler")]),
    ("{org} Finance Tools", 2, 2, &[("SAP Concur", "Approver"), ("{org} Expense Portal", "Expenses.Approve"), ("group:Finance Readers", "")]),
    ("AWS Production Access", 3, 3, &[("AWS Gateway API", "PowerUser")]),
    ("AWS Read Only", 3, 3, &[("AWS Gateway API", "ReadOnly")]),
    ("Engineering Onboarding", 3, 3, &[("GitHub Enterprise Cloud", "User"), ("Atlassian Cloud", "jira-users"), ("group:Engineering", "")]),
    ("Marketing Campaign Tools", 1, 1, &[("Salesforce", ""), ("Tableau Server", "Viewer"), ("group:Marketing", "")]),
    ("Support Desk Tools", 0, 7, &[("ServiceNow", "itil"), ("group:Support Tier 1", "")]),
    ("ServiceNow Approvers", 0, usize::MAX, &[("ServiceNow", "approver_user")]),
    ("New Hire Starter Kit", 0, usize::MAX, &[("Workday", "Employee"), ("Zoom", "Licensed"), ("Slack", "member"), ("group:All Company", "")]),
    ("External Partner Collaboration", 4, usize::MAX, &[("group:External Partners", ""), ("Slack", ""), ("Atlassian Cloud", "confluence-users")]),
    ("Project Phoenix", 3, 3, &[("group:Project Phoenix", ""), ("GitHub Enterprise Cloud", "User")]),
    ("Data Science Workbench", 3, 3, &[("Tableau Server", "Creator"), ("group:Data Science", "")]),
    ("Legal Document Vault", 0, 5, &[("DocuSign", "DS_Sender"), ("group:Legal Hold Reviewers", "")]),
    ("HR Self-Service", 0, 4, &[("Workday", "Manager"), ("group:HR Confidential", "")]),
    ("Executive Reporting", 2, usize::MAX, &[("Tableau Server", "Explorer"), ("group:Executive Leadership", "")]),
    ("Contract Signing", 0, 5, &[("DocuSign", "DS_Viewer")]),
    ("Guest Vendor Access", 4, usize::MAX, &[("ServiceNow", "itil"), ("group:Contractors", "")]),
];

const CATALOGS: &[&str] = &[
    "General",
    "Sales and Marketing",
    "{org} Applications",
    "Engineering",
    "Partner Collaboration",
];

/// First-party actors of background activity.
const SYSTEM_APPS: &[&str] = &[
    "Microsoft Substrate Management",
    "Azure AD Cloud Sync",
    "Microsoft Azure AD Group-Based Licensing",
    "MS-PIM",
    "Microsoft Intune",
    "Office 365 Exchange Online",
    "Microsoft Graph Command Line Tools",
];

/// Well-known Microsoft Graph application permissions (real ids).
const GRAPH_ROLES: &[(&str, &str, &str)] = &[
    (
        "df021288-bdef-4463-88db-98f22de89214",
        "User.Read.All",
        "Read all users' full profiles",
    ),
    (
        "5b567255-7703-4780-807c-7be8301ae99b",
        "Group.Read.All",
        "Read all groups",
    ),
    (
        "7ab1d382-f21e-4acd-a863-ba3e13f7da61",
        "Directory.Read.All",
        "Read directory data",
    ),
    (
        "b633e1c5-b582-4048-a93e-9f11b44c7e96",
        "Mail.Send",
        "Send mail as any user",
    ),
];

/// Seed of the ids Microsoft's first-party apps share across all tenants.
const FIRST_PARTY_SEED: u64 = 0x00E1_7A1D;

/// A plausible public IPv4 address (home and mobile connections): never private or loopback.
pub fn public_ip(rng: &mut Rng) -> String {
    const FIRST: &[u64] = &[
        20, 31, 40, 51, 52, 62, 77, 80, 81, 84, 88, 91, 93, 104, 109, 145, 151, 176, 185, 188, 194,
        212, 217,
    ];
    format!(
        "{}.{}.{}.{}",
        rng.pick(FIRST),
        rng.range(0, 255),
        rng.range(0, 255),
        rng.range(1, 254)
    )
}

/// FNV-1a: a stable hash of a name (partner tenants get the same id whatever the seed).
fn fnv1a(s: &str) -> u64 {
    s.bytes().fold(0xCBF2_9CE4_8422_2325, |h, b| {
        (h ^ b as u64).wrapping_mul(0x0100_0000_01B3)
    })
}

impl Tenant {
    /// The tenant for `seed`, sized for a log of about `events` events.
    pub fn new(seed: u64, events: u64) -> Tenant {
        let mut id_rng = Rng::new(seed, 0x7E4A);
        let id = id_rng.guid();
        let mut rng = Rng::new(seed, 0x7E4B);
        let (org, short) = *rng.pick(ORGS);
        let name = org.to_string();
        let domain = format!("{short}.com");
        let initial_domain = format!("{short}.onmicrosoft.com");
        let (location, utc_offset_hours) =
            *rng.pick(&[("EU", 1), ("NA", -5), ("EU", 1), ("AS", 8)]);
        let expand = |s: &str| s.replace("{org}", org.split(' ').next().unwrap_or(org));

        // First-party app ids are the same in every tenant; their service principals are not.
        let mut fp = Rng::new(FIRST_PARTY_SEED, 0);
        let mut system_app = |display_name: &str, rng: &mut Rng| SystemApp {
            app_id: fp.guid(),
            display_name: display_name.to_string(),
            service_principal_id: rng.guid(),
        };
        let governance = system_app(GOVERNANCE_APP, &mut rng);
        let system_apps: Vec<SystemApp> = SYSTEM_APPS
            .iter()
            .map(|n| system_app(n, &mut rng))
            .collect();

        // Users: members, then guests (~12%).
        let members = ((events / 40).clamp(150, 25_000)) as usize;
        let guests = (members / 8).max(10);
        let mut users = Vec::with_capacity(members + guests);
        let mut seen = std::collections::HashSet::new();
        let office_prefix = ["203.0.113", "198.51.100"];
        for i in 0..members + guests {
            let first = *rng.pick(FIRST_NAMES);
            let last = *rng.pick(LAST_NAMES);
            let guest = i >= members;
            let mut local = format!("{}.{}", first.to_lowercase(), last.to_lowercase());
            let home_domain = if guest {
                *rng.pick(PARTNER_DOMAINS)
            } else {
                domain.as_str()
            };
            let base = local.clone();
            let mut n = 1;
            while !seen.insert(format!("{local}@{home_domain}")) {
                n += 1;
                local = format!("{base}{n}");
            }
            let (upn, user_type, puid, home_tenant_id) = if guest {
                let upn = format!("{local}_{home_domain}#EXT#@{initial_domain}");
                let puid = format!("10037FFE{:08X}", rng.next_u64() as u32);
                let home = if home_domain.ends_with("mail.com") || home_domain == "outlook.com" {
                    "9188040d-6c67-4c5b-b112-36a304b66dad".to_string() // consumer (MSA) tenant
                } else {
                    Rng::new(FIRST_PARTY_SEED, fnv1a(home_domain)).guid()
                };
                (upn, UserType::Guest, puid, home)
            } else {
                (
                    format!("{local}@{domain}"),
                    UserType::Member,
                    format!("1003{:012X}", rng.next_u64() >> 16),
                    id.clone(),
                )
            };
            let ip_address = if !guest && rng.chance(0.6) {
                format!("{}.{}", rng.pick(&office_prefix), rng.range(2, 254))
            } else {
                public_ip(&mut rng)
            };
            users.push(User {
                id: rng.guid(),
                display_name: format!("{first} {last}"),
                upn,
                user_type,
                puid,
                home_tenant_id,
                ip_address,
                department: rng.index(DEPARTMENTS.len()),
            });
        }
        // Administrators: dedicated `adm-` accounts.
        let admin_count = rng.range(4, 8) as usize;
        let mut admins = Vec::with_capacity(admin_count);
        for _ in 0..admin_count {
            let first = *rng.pick(FIRST_NAMES);
            let last = *rng.pick(LAST_NAMES);
            let mut local = format!("adm-{}{}", first[..1].to_lowercase(), last.to_lowercase());
            let base = local.clone();
            let mut n = 1;
            while !seen.insert(format!("{local}@{domain}")) {
                n += 1;
                local = format!("{base}{n}");
            }
            admins.push(users.len());
            users.push(User {
                id: rng.guid(),
                display_name: format!("{first} {last} (Admin)"),
                upn: format!("{local}@{domain}"),
                user_type: UserType::Member,
                puid: format!("1003{:012X}", rng.next_u64() >> 16),
                home_tenant_id: id.clone(),
                ip_address: format!("{}.{}", office_prefix[0], rng.range(2, 254)),
                department: 6,
            });
        }

        let groups: Vec<Group> = GROUP_NAMES
            .iter()
            .map(|(n, t)| Group {
                id: rng.guid(),
                display_name: n.to_string(),
                group_type: t,
            })
            .collect();

        let apps: Vec<App> = APPS
            .iter()
            .map(|(name, uri, roles)| {
                let app_id = rng.guid();
                let mut spns = vec![app_id.clone()];
                if !uri.is_empty() {
                    spns.insert(0, uri.replace("contoso", short));
                }
                App {
                    id: rng.guid(),
                    app_id,
                    display_name: expand(name),
                    service_principal_names: spns,
                    roles: roles
                        .iter()
                        .map(|(value, dn)| AppRole {
                            id: if value.is_empty() {
                                DEFAULT_ACCESS_ROLE_ID.to_string()
                            } else {
                                rng.guid()
                            },
                            value: value.to_string(),
                            display_name: dn.to_string(),
                        })
                        .collect(),
                }
            })
            .collect();
        let graph = App {
            id: rng.guid(),
            app_id: "00000003-0000-0000-c000-000000000000".into(),
            display_name: "Microsoft Graph".into(),
            service_principal_names: vec![
                "https://graph.microsoft.com".into(),
                "00000003-0000-0000-c000-000000000000".into(),
            ],
            roles: GRAPH_ROLES
                .iter()
                .map(|(id, v, dn)| AppRole {
                    id: id.to_string(),
                    value: v.to_string(),
                    display_name: dn.to_string(),
                })
                .collect(),
        };

        let catalogs: Vec<Catalog> = CATALOGS
            .iter()
            .map(|n| Catalog {
                id: rng.guid(),
                display_name: expand(n),
            })
            .collect();

        let mut packages = Vec::with_capacity(PACKAGES.len());
        let mut policies = Vec::new();
        for (pi, (pname, catalog, dept, resources)) in PACKAGES.iter().enumerate() {
            let resources: Vec<Resource> = resources
                .iter()
                .map(|(target, value)| match target.strip_prefix("group:") {
                    Some(g) => Resource::Group(
                        groups
                            .iter()
                            .position(|x| x.display_name == g)
                            .expect("package group exists"),
                    ),
                    None => {
                        let target = expand(target);
                        let app = apps
                            .iter()
                            .position(|a| a.display_name == target)
                            .expect("package app exists");
                        let role = apps[app]
                            .roles
                            .iter()
                            .position(|r| r.value == *value)
                            .expect("app role exists");
                        Resource::AppRole { app, role }
                    }
                })
                .collect();
            let partner = pname.contains("Partner") || pname.contains("Guest");
            let mut own = Vec::new();
            let policy_specs: Vec<(&str, bool, bool)> = if partner {
                vec![
                    ("Connected organizations", true, true),
                    ("Internal sponsors", false, true),
                ]
            } else {
                match rng.below(3) {
                    0 => vec![("Initial Policy", false, false)],
                    1 => vec![("Employees - manager approval", false, true)],
                    _ => vec![
                        ("Employees - self-service", false, false),
                        ("Contractors - approval required", false, true),
                    ],
                }
            };
            for (policy_name, for_guests, requires_approval) in policy_specs {
                let approvers = if requires_approval {
                    (0..rng.range(1, 3)).map(|_| rng.index(members)).collect()
                } else {
                    Vec::new()
                };
                own.push(policies.len());
                policies.push(Policy {
                    id: rng.guid(),
                    display_name: policy_name.to_string(),
                    package: pi,
                    requires_approval,
                    for_guests,
                    approvers,
                    expiration_days: if partner || rng.chance(0.4) {
                        Some(*rng.pick(&[30, 90, 180, 365]))
                    } else {
                        None
                    },
                });
            }
            packages.push(AccessPackage {
                id: rng.guid(),
                display_name: expand(pname),
                catalog: *catalog,
                policies: own,
                resources,
                department: (*dept != usize::MAX).then_some(*dept),
            });
        }

        Tenant {
            id,
            salt: rng.next_u64(),
            name,
            domain,
            initial_domain,
            location,
            utc_offset_hours,
            users,
            members,
            admins,
            groups,
            apps,
            catalogs,
            packages,
            policies,
            governance,
            system_apps,
            graph,
            departments: DEPARTMENTS.to_vec(),
        }
    }

    /// Indices of the guests in `users`.
    pub fn guests(&self) -> std::ops::Range<usize> {
        self.members..self.members + (self.users.len() - self.members - self.admins.len())
    }

    /// A GUID derived from (`kind`, `index`) for objects the model does not store (devices,
    /// policies): the same object gets the same id every time it is mentioned.
    pub fn derived_guid(&self, kind: u64, index: u64) -> String {
        Rng::new(self.salt ^ kind.wrapping_mul(0x9E37_79B9_7F4A_7C15), index).guid()
    }

    /// A first-party app by display name.
    pub fn system_app(&self, display_name: &str) -> &SystemApp {
        self.system_apps
            .iter()
            .find(|a| a.display_name == display_name)
            .unwrap_or(&self.governance)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenant_is_deterministic_and_well_formed() {
        let a = Tenant::new(42, 10_000);
        let b = Tenant::new(42, 10_000);
        assert_eq!(a.id, b.id);
        assert_eq!(
            a.users.iter().map(|u| &u.upn).collect::<Vec<_>>(),
            b.users.iter().map(|u| &u.upn).collect::<Vec<_>>()
        );
        // The tenant id depends on the seed only.
        assert_eq!(Tenant::new(42, 1_000_000).id, a.id);
        assert_ne!(Tenant::new(43, 10_000).id, a.id);

        assert_eq!(a.members, 250);
        let guests: Vec<&User> = a.users[a.guests()].iter().collect();
        assert!(!guests.is_empty());
        for g in &guests {
            assert_eq!(g.user_type, UserType::Guest);
            assert!(
                g.upn.contains("#EXT#@") && g.upn.ends_with(&a.initial_domain),
                "{}",
                g.upn
            );
            assert!(g.puid.starts_with("10037FFE") && g.puid.len() == 16);
        }
        for &i in &a.admins {
            assert!(a.users[i].upn.starts_with("adm-"));
            assert_eq!(a.users[i].user_type, UserType::Member);
        }
        let upns: std::collections::HashSet<_> = a.users.iter().map(|u| &u.upn).collect();
        assert_eq!(upns.len(), a.users.len(), "UPNs are unique");

        let aws = a
            .apps
            .iter()
            .find(|x| x.display_name == "AWS Gateway API")
            .unwrap();
        assert!(aws.roles.iter().any(|r| r.value == "ReadOnly"));
        let sf = a
            .apps
            .iter()
            .find(|x| x.display_name == "Salesforce")
            .unwrap();
        assert_eq!(sf.roles[0].id, DEFAULT_ACCESS_ROLE_ID);
        assert_eq!(sf.roles[0].value, "");
        assert!(
            a.packages
                .iter()
                .any(|p| p.display_name == "Sales Onboarding")
        );
        for p in &a.packages {
            assert!(!p.policies.is_empty() && !p.resources.is_empty());
            for &pol in &p.policies {
                let pol = &a.policies[pol];
                assert_eq!(a.packages[pol.package].id, p.id);
                assert_eq!(pol.requires_approval, !pol.approvers.is_empty());
            }
        }
        assert_eq!(a.governance.display_name, GOVERNANCE_APP);
        // First-party app ids do not depend on the tenant.
        assert_eq!(Tenant::new(7, 100).governance.app_id, a.governance.app_id);
        assert_ne!(
            Tenant::new(7, 100).governance.service_principal_id,
            a.governance.service_principal_id
        );
    }
}
