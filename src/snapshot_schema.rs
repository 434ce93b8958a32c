//! The entitlement-management snapshot tables (contract): one table per Graph collection, named
//! after Microsoft's ADX reporting tutorial (`EntraUsers`, `EntraGroups`, `EntraGroupMembership`,
//! `EntraAccessPackages`, `EntraAccessPackageAssignments`) plus the ones the seed's reports need.
//!
//! Every row carries `SnapshotDate` (when the snapshot was taken, UTC): several snapshots coexist
//! in one table, and a report reads the latest one (or the one in force at `--at`). Columns are
//! flat PascalCase scalars where Graph has one value, typed lists of structs where it has several
//! (`SpecificAllowedTargets`, `IdentitySources`, sponsors), and `Raw` keeps the whole Graph object
//! as JSON text (nothing is lost). Enum values are normalised to Graph's camelCase (`delivered`,
//! `allMemberUsers`) whatever casing the export used; `Status` keeps Graph's PascalCase.
//!
//! On disk: `DATA/<Table>/snapshot=<YYYY-MM-DDTHH-MM-SSZ>/*.parquet` (hive style; the partition
//! value is `SnapshotDate` in a file-name-safe form).

use std::sync::{Arc, LazyLock};

use arrow::datatypes::{DataType, Field, Fields, Schema, SchemaRef};

use crate::schema::timestamp_type;

/// The hive partition column of snapshot tables.
pub const SNAPSHOT_PARTITION: &str = "snapshot";

pub const ENTRA_USERS: &str = "EntraUsers";
pub const ENTRA_GROUPS: &str = "EntraGroups";
pub const ENTRA_GROUP_MEMBERSHIP: &str = "EntraGroupMembership";
pub const ENTRA_ACCESS_PACKAGE_CATALOGS: &str = "EntraAccessPackageCatalogs";
pub const ENTRA_ACCESS_PACKAGES: &str = "EntraAccessPackages";
pub const ENTRA_ACCESS_PACKAGE_POLICIES: &str = "EntraAccessPackagePolicies";
pub const ENTRA_ACCESS_PACKAGE_ASSIGNMENTS: &str = "EntraAccessPackageAssignments";
pub const ENTRA_ACCESS_PACKAGE_RESOURCE_ROLE_SCOPES: &str = "EntraAccessPackageResourceRoleScopes";
pub const ENTRA_ACCESS_PACKAGE_ASSIGNMENT_REQUESTS: &str = "EntraAccessPackageAssignmentRequests";
pub const ENTRA_CONNECTED_ORGANIZATIONS: &str = "EntraConnectedOrganizations";

fn s(name: &str) -> Field {
    Field::new(name, DataType::Utf8, true)
}

fn b(name: &str) -> Field {
    Field::new(name, DataType::Boolean, true)
}

fn t(name: &str) -> Field {
    Field::new(name, timestamp_type(), true)
}

fn list(name: &str, fields: Vec<Field>) -> Field {
    Field::new(
        name,
        DataType::List(Arc::new(Field::new(
            "item",
            DataType::Struct(Fields::from(fields)),
            true,
        ))),
        true,
    )
}

fn table(columns: Vec<Field>) -> SchemaRef {
    let mut fields = vec![Field::new("SnapshotDate", timestamp_type(), false)];
    fields.extend(columns);
    fields.push(s("Raw"));
    Arc::new(Schema::new(fields))
}

static SCHEMAS: LazyLock<Vec<(&'static str, SchemaRef)>> = LazyLock::new(|| {
    vec![
        (
            ENTRA_USERS,
            table(vec![
                s("Id"),
                s("DisplayName"),
                s("UserPrincipalName"),
                s("Mail"),
                // `Member` or `Guest`.
                s("UserType"),
                b("AccountEnabled"),
                s("Department"),
                s("JobTitle"),
                s("CompanyName"),
                // Guests: `PendingAcceptance` / `Accepted`.
                s("ExternalUserState"),
                t("CreatedDateTime"),
            ]),
        ),
        (
            ENTRA_GROUPS,
            table(vec![
                s("Id"),
                s("DisplayName"),
                s("Description"),
                s("Mail"),
                b("MailEnabled"),
                b("SecurityEnabled"),
                Field::new(
                    "GroupTypes",
                    DataType::List(Arc::new(Field::new("item", DataType::Utf8, true))),
                    true,
                ),
                t("CreatedDateTime"),
            ]),
        ),
        (
            ENTRA_GROUP_MEMBERSHIP,
            table(vec![
                s("GroupId"),
                s("MemberId"),
                // `user`, `group`, `servicePrincipal`, ... (from `@odata.type`).
                s("MemberType"),
                s("MemberDisplayName"),
                // From `transitiveMembers` (true) or `members` (false).
                b("Transitive"),
            ]),
        ),
        (
            ENTRA_ACCESS_PACKAGE_CATALOGS,
            table(vec![
                s("Id"),
                s("DisplayName"),
                s("Description"),
                // `published` / `unpublished`.
                s("State"),
                b("IsExternallyVisible"),
                s("CatalogType"),
                t("CreatedDateTime"),
                t("ModifiedDateTime"),
            ]),
        ),
        (
            ENTRA_ACCESS_PACKAGES,
            table(vec![
                s("Id"),
                s("DisplayName"),
                s("Description"),
                b("IsHidden"),
                s("CatalogId"),
                s("CatalogName"),
                t("CreatedDateTime"),
                t("ModifiedDateTime"),
            ]),
        ),
        (
            ENTRA_ACCESS_PACKAGE_POLICIES,
            table(vec![
                s("Id"),
                s("AccessPackageId"),
                s("DisplayName"),
                s("Description"),
                // `allMemberUsers`, `specificDirectoryUsers`, `allConfiguredConnectedOrganizationUsers`, ...
                s("AllowedTargetScope"),
                list(
                    "SpecificAllowedTargets",
                    vec![
                        // `singleUser`, `groupMembers`, `connectedOrganizationMembers`,
                        // `attributeRuleMembers`, ... (from `@odata.type`).
                        s("Type"),
                        s("UserId"),
                        s("GroupId"),
                        s("ConnectedOrganizationId"),
                        s("Description"),
                    ],
                ),
                // `requestorSettings.enableTargetsToSelfAddAccess`.
                b("SelfAddEnabled"),
                // `requestorSettings.enableTargetsToSelfRemoveAccess`.
                b("SelfRemoveEnabled"),
                // `requestApprovalSettings.isApprovalRequiredForAdd`.
                b("ApprovalRequired"),
                // `automaticRequestSettings.requestAccessForAllowedTargets`: an auto-assignment
                // policy, not a request policy.
                b("IsAutomatic"),
                // `expiration.type`: `afterDuration`, `afterDateTime`, `noExpiration`.
                s("ExpirationType"),
                // ISO 8601 duration (`P365D`) or null.
                s("ExpirationDuration"),
                t("CreatedDateTime"),
                t("ModifiedDateTime"),
            ]),
        ),
        (
            ENTRA_ACCESS_PACKAGE_ASSIGNMENTS,
            table(vec![
                s("Id"),
                s("AccessPackageId"),
                s("AccessPackageName"),
                s("PolicyId"),
                s("PolicyName"),
                // `delivering`, `partiallyDelivered`, `delivered`, `expired`, `deliveryFailed`.
                s("State"),
                // `Delivered`, `Expired`, ... as Graph writes it.
                s("Status"),
                t("StartDateTime"),
                t("EndDateTime"),
                s("ExpirationType"),
                s("TargetId"),
                s("TargetObjectId"),
                s("TargetDisplayName"),
                s("TargetPrincipalName"),
                s("TargetEmail"),
                // `user`, `servicePrincipal`.
                s("TargetSubjectType"),
                s("ConnectedOrganizationId"),
                s("ConnectedOrganizationName"),
            ]),
        ),
        (
            ENTRA_ACCESS_PACKAGE_RESOURCE_ROLE_SCOPES,
            table(vec![
                s("Id"),
                s("AccessPackageId"),
                s("RoleId"),
                s("RoleDisplayName"),
                s("RoleOriginId"),
                // `AadGroup`, `AadApplication`, `SharePointOnline`.
                s("RoleOriginSystem"),
                s("ResourceId"),
                s("ResourceDisplayName"),
                s("ResourceOriginId"),
                s("ResourceOriginSystem"),
                s("ScopeId"),
                s("ScopeDisplayName"),
                s("ScopeOriginId"),
                s("ScopeOriginSystem"),
            ]),
        ),
        (
            ENTRA_ACCESS_PACKAGE_ASSIGNMENT_REQUESTS,
            table(vec![
                s("Id"),
                // `userAdd`, `adminAdd`, `userRemove`, `adminRemove`, `systemRemove`, ...
                s("RequestType"),
                // `submitted`, `pendingApproval`, `delivering`, `delivered`, `denied`, ...
                s("State"),
                s("Status"),
                t("CreatedDateTime"),
                t("CompletedDateTime"),
                s("AccessPackageId"),
                s("PolicyId"),
                s("RequestorId"),
                s("TargetId"),
                s("TargetObjectId"),
                s("TargetPrincipalName"),
                s("Justification"),
            ]),
        ),
        (
            ENTRA_CONNECTED_ORGANIZATIONS,
            table(vec![
                s("Id"),
                s("DisplayName"),
                s("Description"),
                // `configured` / `proposed`.
                s("State"),
                list(
                    "IdentitySources",
                    vec![
                        // `azureActiveDirectoryTenant`, `domainIdentitySource`,
                        // `externalDomainFederation`, `crossCloudAzureActiveDirectoryTenant`.
                        s("Type"),
                        s("DisplayName"),
                        s("TenantId"),
                        s("DomainName"),
                        s("IssuerUri"),
                    ],
                ),
                list(
                    "InternalSponsors",
                    vec![s("Id"), s("Type"), s("DisplayName")],
                ),
                list(
                    "ExternalSponsors",
                    vec![s("Id"), s("Type"), s("DisplayName")],
                ),
                t("CreatedDateTime"),
                t("ModifiedDateTime"),
            ]),
        ),
    ]
});

/// Every snapshot table: name and schema (without the `snapshot` partition column).
pub fn snapshot_schemas() -> &'static [(&'static str, SchemaRef)] {
    &SCHEMAS
}

/// The schema of snapshot table `name`.
pub fn snapshot_schema(name: &str) -> Option<SchemaRef> {
    SCHEMAS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, s)| s.clone())
}

/// The partition directory value for a snapshot taken at `nanos`: `2026-11-01T00-00-00Z`.
pub fn snapshot_partition_value(nanos: i64) -> String {
    chrono::DateTime::from_timestamp_nanos(nanos)
        .format("%Y-%m-%dT%H-%M-%SZ")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_table_has_snapshot_date_first_and_raw_last() {
        assert_eq!(snapshot_schemas().len(), 10);
        for (name, schema) in snapshot_schemas() {
            assert!(name.starts_with("Entra"));
            assert_eq!(schema.field(0).name(), "SnapshotDate", "{name}");
            assert_eq!(schema.fields().last().unwrap().name(), "Raw", "{name}");
        }
        assert_eq!(
            snapshot_partition_value(1_793_491_200_000_000_000),
            "2026-11-01T00-00-00Z"
        );
    }
}
