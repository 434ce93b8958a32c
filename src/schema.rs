//! The canonical `AuditLogs` table: Log Analytics column names, nanosecond UTC timestamps and the
//! dynamic columns (`InitiatedBy`, `TargetResources`, `AdditionalDetails`) as typed nested Arrow.
//!
//! This schema is a contract (DESIGN §3): Microsoft's KQL runs unchanged against it, and the Parquet
//! files under `DATA/AuditLogs/` are written with exactly these columns (the `date` partition lives
//! in the path only).

use std::sync::{Arc, LazyLock};

use arrow::datatypes::{DataType, Field, Fields, Schema, SchemaRef, TimeUnit};

/// Name of the table, as KQL queries spell it.
pub const AUDIT_LOGS: &str = "AuditLogs";

/// Name of the hive partition column (`date=YYYY-MM-DD`, UTC day of `ActivityDateTime`).
pub const DATE_PARTITION: &str = "date";

/// Arrow type of every timestamp column: nanoseconds since the epoch, UTC.
pub fn timestamp_type() -> DataType {
    DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into()))
}

fn utf8(name: &str) -> Field {
    Field::new(name, DataType::Utf8, true)
}

/// `InitiatedBy.user`.
pub fn user_identity_fields() -> Fields {
    Fields::from(vec![
        utf8("id"),
        utf8("displayName"),
        utf8("userPrincipalName"),
        utf8("ipAddress"),
        utf8("userType"),
        utf8("homeTenantId"),
        utf8("homeTenantName"),
    ])
}

/// `InitiatedBy.app`.
pub fn app_identity_fields() -> Fields {
    Fields::from(vec![
        utf8("appId"),
        utf8("displayName"),
        utf8("servicePrincipalId"),
        utf8("servicePrincipalName"),
    ])
}

/// `InitiatedBy`: `{user, app}`, either may be null.
pub fn initiated_by_type() -> DataType {
    DataType::Struct(Fields::from(vec![
        Field::new("user", DataType::Struct(user_identity_fields()), true),
        Field::new("app", DataType::Struct(app_identity_fields()), true),
    ]))
}

/// `TargetResources[].modifiedProperties[]`.
pub fn modified_property_type() -> DataType {
    DataType::Struct(Fields::from(vec![
        utf8("displayName"),
        utf8("oldValue"),
        utf8("newValue"),
    ]))
}

fn list_of(item: DataType) -> DataType {
    DataType::List(Arc::new(Field::new("item", item, true)))
}

/// `TargetResources[]`.
pub fn target_resource_type() -> DataType {
    DataType::Struct(Fields::from(vec![
        utf8("id"),
        utf8("displayName"),
        utf8("type"),
        utf8("userPrincipalName"),
        utf8("groupType"),
        Field::new(
            "modifiedProperties",
            list_of(modified_property_type()),
            true,
        ),
    ]))
}

/// `AdditionalDetails[]`.
pub fn key_value_type() -> DataType {
    DataType::Struct(Fields::from(vec![utf8("key"), utf8("value")]))
}

/// The string columns of the table, in schema order after the leading timestamp columns.
/// Strings are never null in KQL: missing values are stored as `""`.
const STRING_COLUMNS: &[&str] = &[
    "TenantId",
    "SourceSystem",
    "ResourceId",
    "OperationName",
    "OperationVersion",
    "Category",
    "ResultType",
    "ResultSignature",
    "ResultDescription",
];

const STRING_COLUMNS_2: &[&str] = &[
    "CorrelationId",
    "Resource",
    "ResourceGroup",
    "ResourceProvider",
    "Identity",
    "Level",
    "Location",
];

const STRING_COLUMNS_3: &[&str] = &[
    "Id",
    "LoggedByService",
    "Result",
    "ResultReason",
    "AADTenantId",
    "ActivityDisplayName",
];

static AUDIT_LOGS_SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
    let mut fields = vec![Field::new("TimeGenerated", timestamp_type(), false)];
    fields.extend(
        STRING_COLUMNS
            .iter()
            .map(|c| Field::new(*c, DataType::Utf8, false)),
    );
    fields.push(Field::new("DurationMs", DataType::Int64, false));
    fields.extend(
        STRING_COLUMNS_2
            .iter()
            .map(|c| Field::new(*c, DataType::Utf8, false)),
    );
    fields.push(Field::new(
        "AdditionalDetails",
        list_of(key_value_type()),
        true,
    ));
    fields.extend(
        STRING_COLUMNS_3
            .iter()
            .map(|c| Field::new(*c, DataType::Utf8, false)),
    );
    fields.push(Field::new("ActivityDateTime", timestamp_type(), false));
    fields.push(Field::new("AADOperationType", DataType::Utf8, false));
    fields.push(Field::new("InitiatedBy", initiated_by_type(), true));
    fields.push(Field::new(
        "TargetResources",
        list_of(target_resource_type()),
        true,
    ));
    fields.push(Field::new("Type", DataType::Utf8, false));
    Arc::new(Schema::new(fields))
});

/// The canonical `AuditLogs` schema (without the `date` partition column).
pub fn audit_logs_schema() -> SchemaRef {
    AUDIT_LOGS_SCHEMA.clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_has_log_analytics_columns_and_nested_types() {
        let schema = audit_logs_schema();
        for name in [
            "TimeGenerated",
            "ActivityDateTime",
            "Id",
            "Category",
            "OperationName",
            "ActivityDisplayName",
            "Result",
            "ResultReason",
            "ResultDescription",
            "ResultSignature",
            "LoggedByService",
            "AADOperationType",
            "CorrelationId",
            "Identity",
            "Level",
            "Location",
            "OperationVersion",
            "DurationMs",
            "TenantId",
            "AADTenantId",
            "SourceSystem",
            "Type",
            "InitiatedBy",
            "TargetResources",
            "AdditionalDetails",
        ] {
            assert!(
                schema.field_with_name(name).is_ok(),
                "missing column {name}"
            );
        }
        assert_eq!(
            schema.field_with_name("TimeGenerated").unwrap().data_type(),
            &timestamp_type()
        );
        assert_eq!(
            schema.field_with_name("DurationMs").unwrap().data_type(),
            &DataType::Int64
        );
        let DataType::List(item) = schema
            .field_with_name("TargetResources")
            .unwrap()
            .data_type()
        else {
            panic!("TargetResources is not a list")
        };
        let DataType::Struct(fields) = item.data_type() else {
            panic!("not a struct")
        };
        assert!(fields.find("modifiedProperties").is_some());
        assert!(fields.find("userPrincipalName").is_some());
    }
}
