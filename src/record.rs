//! `AuditRecord`: one audit event in canonical form, the meeting point of every input format
//! (readers produce it, the generator's writers consume it) and the Arrow `AuditLogs` batches.
//!
//! Field names serialize exactly as the columns of [`crate::schema::audit_logs_schema`] (nested
//! values keep Graph's camelCase, timestamps are nanoseconds since the epoch, UTC), and
//! [`records_to_batch`] builds the Arrow columns directly.

use std::sync::Arc;

use arrow::array::{
    ArrayRef, Int64Array, ListArray, RecordBatch, StringArray, StructArray,
    TimestampNanosecondArray,
};
use arrow::buffer::{NullBuffer, OffsetBuffer};
use arrow::datatypes::{DataType, Field, FieldRef, Fields};
use serde::{Deserialize, Serialize};

use crate::schema::audit_logs_schema;

/// `InitiatedBy.user`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserIdentity {
    pub id: Option<String>,
    pub display_name: Option<String>,
    pub user_principal_name: Option<String>,
    pub ip_address: Option<String>,
    pub user_type: Option<String>,
    pub home_tenant_id: Option<String>,
    pub home_tenant_name: Option<String>,
}

/// `InitiatedBy.app`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AppIdentity {
    pub app_id: Option<String>,
    pub display_name: Option<String>,
    pub service_principal_id: Option<String>,
    pub service_principal_name: Option<String>,
}

/// `InitiatedBy`: a user, an app, or (rarely) neither.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct InitiatedBy {
    pub user: Option<UserIdentity>,
    pub app: Option<AppIdentity>,
}

/// `TargetResources[].modifiedProperties[]`; values are JSON-encoded strings as Entra writes them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ModifiedProperty {
    pub display_name: Option<String>,
    pub old_value: Option<String>,
    pub new_value: Option<String>,
}

/// `TargetResources[]`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TargetResource {
    pub id: Option<String>,
    pub display_name: Option<String>,
    #[serde(rename = "type")]
    pub type_: Option<String>,
    pub user_principal_name: Option<String>,
    pub group_type: Option<String>,
    /// `None` when the source had no list (or `null`), `Some(vec![])` for `[]`.
    pub modified_properties: Option<Vec<ModifiedProperty>>,
}

/// `AdditionalDetails[]`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct KeyValue {
    pub key: Option<String>,
    pub value: Option<String>,
}

/// One audit event, as a row of the canonical `AuditLogs` table.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AuditRecord {
    /// Nanoseconds since the epoch, UTC.
    pub time_generated: i64,
    pub tenant_id: String,
    pub source_system: String,
    pub resource_id: String,
    pub operation_name: String,
    pub operation_version: String,
    pub category: String,
    pub result_type: String,
    pub result_signature: String,
    pub result_description: String,
    pub duration_ms: i64,
    pub correlation_id: String,
    pub resource: String,
    pub resource_group: String,
    pub resource_provider: String,
    pub identity: String,
    pub level: String,
    pub location: String,
    pub additional_details: Option<Vec<KeyValue>>,
    pub id: String,
    pub logged_by_service: String,
    pub result: String,
    pub result_reason: String,
    #[serde(rename = "AADTenantId")]
    pub aad_tenant_id: String,
    pub activity_display_name: String,
    /// Nanoseconds since the epoch, UTC.
    pub activity_date_time: i64,
    #[serde(rename = "AADOperationType")]
    pub aad_operation_type: String,
    pub initiated_by: Option<InitiatedBy>,
    pub target_resources: Option<Vec<TargetResource>>,
    #[serde(rename = "Type")]
    pub type_: String,
}

impl AuditRecord {
    /// Fills the columns Log Analytics derives from the Graph fields, where the source left them
    /// empty: `OperationName`, `Identity`, `Type`, `SourceSystem`, the tenant's resource columns.
    pub fn fill_derived(&mut self) {
        if self.operation_name.is_empty() {
            self.operation_name = self.activity_display_name.clone();
        }
        if self.activity_display_name.is_empty() {
            self.activity_display_name = self.operation_name.clone();
        }
        if self.identity.is_empty() {
            self.identity = self
                .initiator_display_name()
                .unwrap_or_default()
                .to_string();
        }
        if self.type_.is_empty() {
            self.type_ = "AuditLogs".into();
        }
        if self.source_system.is_empty() {
            self.source_system = "Azure".into();
        }
        if self.operation_version.is_empty() {
            self.operation_version = "1.0".into();
        }
        if self.aad_tenant_id.is_empty() {
            self.aad_tenant_id = self.tenant_id.clone();
        }
        if self.tenant_id.is_empty() {
            self.tenant_id = self.aad_tenant_id.clone();
        }
        if !self.tenant_id.is_empty() {
            if self.resource_id.is_empty() {
                self.resource_id =
                    format!("/tenants/{}/providers/Microsoft.aadiam", self.tenant_id);
            }
            for col in [
                &mut self.resource,
                &mut self.resource_group,
                &mut self.resource_provider,
            ] {
                if col.is_empty() {
                    *col = "Microsoft.aadiam".into();
                }
            }
        }
    }

    /// Display name of whoever started the activity: the user's, else the app's.
    pub fn initiator_display_name(&self) -> Option<&str> {
        let by = self.initiated_by.as_ref()?;
        by.user
            .as_ref()
            .and_then(|u| u.display_name.as_deref().filter(|s| !s.is_empty()))
            .or_else(|| by.app.as_ref().and_then(|a| a.display_name.as_deref()))
    }
}

/// Turns canonical records into one `RecordBatch` of the `AuditLogs` schema, building each column
/// directly (nested lists are flattened once per level).
pub fn records_to_batch(records: &[AuditRecord]) -> Result<RecordBatch, arrow::error::ArrowError> {
    let schema = audit_logs_schema();
    let columns = schema
        .fields()
        .iter()
        .map(|field| column(records, field))
        .collect::<Result<Vec<_>, _>>()?;
    RecordBatch::try_new(schema, columns)
}

fn strings<'a>(values: impl Iterator<Item = &'a str>) -> ArrayRef {
    Arc::new(StringArray::from_iter_values(values))
}

fn opt_strings<'a>(values: impl Iterator<Item = Option<&'a str>>) -> ArrayRef {
    Arc::new(StringArray::from_iter(values))
}

fn timestamps(values: impl Iterator<Item = i64>) -> ArrayRef {
    Arc::new(TimestampNanosecondArray::from_iter_values(values).with_timezone("UTC"))
}

fn struct_fields(field: &Field) -> &Fields {
    match field.data_type() {
        DataType::Struct(fields) => fields,
        other => unreachable!("{} is a struct in the schema, not {other}", field.name()),
    }
}

fn list_item(field: &Field) -> &FieldRef {
    match field.data_type() {
        DataType::List(item) => item,
        other => unreachable!("{} is a list in the schema, not {other}", field.name()),
    }
}

/// A list column: `lists[i]` is row i's list (None: null); `items` builds the flattened values.
fn list<T>(
    field: &Field,
    lists: &[Option<&[T]>],
    items: impl FnOnce(&[&T], &Field) -> Result<ArrayRef, arrow::error::ArrowError>,
) -> Result<ArrayRef, arrow::error::ArrowError> {
    let item_field = list_item(field);
    let flat: Vec<&T> = lists.iter().flatten().flat_map(|l| l.iter()).collect();
    let offsets = OffsetBuffer::from_lengths(lists.iter().map(|l| l.map_or(0, <[T]>::len)));
    let nulls = NullBuffer::from_iter(lists.iter().map(Option::is_some));
    let values = items(&flat, item_field)?;
    Ok(Arc::new(ListArray::try_new(
        item_field.clone(),
        offsets,
        values,
        Some(nulls),
    )?))
}

/// A struct column from its children (in schema order) and row validity.
fn structure(
    field: &Field,
    children: Vec<ArrayRef>,
    valid: impl Iterator<Item = bool>,
) -> Result<ArrayRef, arrow::error::ArrowError> {
    let nulls = NullBuffer::from_iter(valid);
    Ok(Arc::new(StructArray::try_new(
        struct_fields(field).clone(),
        children,
        Some(nulls),
    )?))
}

fn key_values(items: &[&KeyValue], field: &Field) -> Result<ArrayRef, arrow::error::ArrowError> {
    structure(
        field,
        vec![
            opt_strings(items.iter().map(|d| d.key.as_deref())),
            opt_strings(items.iter().map(|d| d.value.as_deref())),
        ],
        items.iter().map(|_| true),
    )
}

fn modified_properties(
    items: &[&ModifiedProperty],
    field: &Field,
) -> Result<ArrayRef, arrow::error::ArrowError> {
    structure(
        field,
        vec![
            opt_strings(items.iter().map(|p| p.display_name.as_deref())),
            opt_strings(items.iter().map(|p| p.old_value.as_deref())),
            opt_strings(items.iter().map(|p| p.new_value.as_deref())),
        ],
        items.iter().map(|_| true),
    )
}

fn target_resources(
    items: &[&TargetResource],
    field: &Field,
) -> Result<ArrayRef, arrow::error::ArrowError> {
    let props_field = struct_fields(field)
        .find("modifiedProperties")
        .expect("schema")
        .1;
    let props: Vec<Option<&[ModifiedProperty]>> = items
        .iter()
        .map(|t| t.modified_properties.as_deref())
        .collect();
    structure(
        field,
        vec![
            opt_strings(items.iter().map(|t| t.id.as_deref())),
            opt_strings(items.iter().map(|t| t.display_name.as_deref())),
            opt_strings(items.iter().map(|t| t.type_.as_deref())),
            opt_strings(items.iter().map(|t| t.user_principal_name.as_deref())),
            opt_strings(items.iter().map(|t| t.group_type.as_deref())),
            list(props_field, &props, modified_properties)?,
        ],
        items.iter().map(|_| true),
    )
}

fn initiated_by(
    records: &[AuditRecord],
    field: &Field,
) -> Result<ArrayRef, arrow::error::ArrowError> {
    let fields = struct_fields(field);
    let users: Vec<Option<&UserIdentity>> = records
        .iter()
        .map(|r| r.initiated_by.as_ref().and_then(|b| b.user.as_ref()))
        .collect();
    let apps: Vec<Option<&AppIdentity>> = records
        .iter()
        .map(|r| r.initiated_by.as_ref().and_then(|b| b.app.as_ref()))
        .collect();
    let u = |f: fn(&UserIdentity) -> Option<&str>| {
        opt_strings(users.iter().map(move |x| x.and_then(f)))
    };
    let a =
        |f: fn(&AppIdentity) -> Option<&str>| opt_strings(apps.iter().map(move |x| x.and_then(f)));
    let user = structure(
        &fields[0],
        vec![
            u(|x| x.id.as_deref()),
            u(|x| x.display_name.as_deref()),
            u(|x| x.user_principal_name.as_deref()),
            u(|x| x.ip_address.as_deref()),
            u(|x| x.user_type.as_deref()),
            u(|x| x.home_tenant_id.as_deref()),
            u(|x| x.home_tenant_name.as_deref()),
        ],
        users.iter().map(Option::is_some),
    )?;
    let app = structure(
        &fields[1],
        vec![
            a(|x| x.app_id.as_deref()),
            a(|x| x.display_name.as_deref()),
            a(|x| x.service_principal_id.as_deref()),
            a(|x| x.service_principal_name.as_deref()),
        ],
        apps.iter().map(Option::is_some),
    )?;
    structure(
        field,
        vec![user, app],
        records.iter().map(|r| r.initiated_by.is_some()),
    )
}

/// One column of the canonical schema.
fn column(records: &[AuditRecord], field: &Field) -> Result<ArrayRef, arrow::error::ArrowError> {
    let s = |f: fn(&AuditRecord) -> &str| Ok(strings(records.iter().map(f)));
    match field.name().as_str() {
        "TimeGenerated" => Ok(timestamps(records.iter().map(|r| r.time_generated))),
        "ActivityDateTime" => Ok(timestamps(records.iter().map(|r| r.activity_date_time))),
        "DurationMs" => Ok(Arc::new(Int64Array::from_iter_values(
            records.iter().map(|r| r.duration_ms),
        ))),
        "TenantId" => s(|r| &r.tenant_id),
        "SourceSystem" => s(|r| &r.source_system),
        "ResourceId" => s(|r| &r.resource_id),
        "OperationName" => s(|r| &r.operation_name),
        "OperationVersion" => s(|r| &r.operation_version),
        "Category" => s(|r| &r.category),
        "ResultType" => s(|r| &r.result_type),
        "ResultSignature" => s(|r| &r.result_signature),
        "ResultDescription" => s(|r| &r.result_description),
        "CorrelationId" => s(|r| &r.correlation_id),
        "Resource" => s(|r| &r.resource),
        "ResourceGroup" => s(|r| &r.resource_group),
        "ResourceProvider" => s(|r| &r.resource_provider),
        "Identity" => s(|r| &r.identity),
        "Level" => s(|r| &r.level),
        "Location" => s(|r| &r.location),
        "Id" => s(|r| &r.id),
        "LoggedByService" => s(|r| &r.logged_by_service),
        "Result" => s(|r| &r.result),
        "ResultReason" => s(|r| &r.result_reason),
        "AADTenantId" => s(|r| &r.aad_tenant_id),
        "ActivityDisplayName" => s(|r| &r.activity_display_name),
        "AADOperationType" => s(|r| &r.aad_operation_type),
        "Type" => s(|r| &r.type_),
        "AdditionalDetails" => {
            let lists: Vec<_> = records
                .iter()
                .map(|r| r.additional_details.as_deref())
                .collect();
            list(field, &lists, key_values)
        }
        "TargetResources" => {
            let lists: Vec<_> = records
                .iter()
                .map(|r| r.target_resources.as_deref())
                .collect();
            list(field, &lists, target_resources)
        }
        "InitiatedBy" => initiated_by(records, field),
        other => unreachable!("column {other} of the schema has no builder"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Array, AsArray};
    use arrow::datatypes::TimestampNanosecondType;

    /// The same records through arrow-json's serde decoder: an independent oracle for the builders.
    fn via_arrow_json(records: &[AuditRecord]) -> RecordBatch {
        let mut decoder = arrow::json::reader::ReaderBuilder::new(audit_logs_schema())
            .with_batch_size(records.len())
            .build_decoder()
            .unwrap();
        decoder.serialize(records).unwrap();
        decoder.flush().unwrap().unwrap()
    }

    #[test]
    fn builders_match_the_serde_decoder_on_every_shape() {
        let s = |v: &str| Some(v.to_string());
        let mut records = vec![
            AuditRecord {
                id: "empty".into(),
                ..Default::default()
            },
            AuditRecord {
                id: "full".into(),
                time_generated: 5,
                activity_date_time: 4,
                duration_ms: -1,
                additional_details: Some(vec![
                    KeyValue {
                        key: s("k"),
                        value: None,
                    },
                    KeyValue::default(),
                ]),
                initiated_by: Some(InitiatedBy {
                    user: Some(UserIdentity {
                        id: s("u"),
                        home_tenant_name: s("h"),
                        ..Default::default()
                    }),
                    app: Some(AppIdentity {
                        service_principal_name: s("spn"),
                        ..Default::default()
                    }),
                }),
                target_resources: Some(vec![
                    TargetResource {
                        id: s("t1"),
                        modified_properties: None,
                        ..Default::default()
                    },
                    TargetResource {
                        type_: s("User"),
                        group_type: s("g"),
                        modified_properties: Some(vec![
                            ModifiedProperty {
                                display_name: s("AppRole.Id"),
                                old_value: None,
                                new_value: s("\"x\""),
                            },
                            ModifiedProperty::default(),
                        ]),
                        ..Default::default()
                    },
                    TargetResource {
                        modified_properties: Some(vec![]),
                        ..Default::default()
                    },
                ]),
                ..Default::default()
            },
            AuditRecord {
                id: "app-only".into(),
                initiated_by: Some(InitiatedBy {
                    user: None,
                    app: Some(AppIdentity::default()),
                }),
                target_resources: Some(vec![]),
                additional_details: Some(vec![]),
                ..Default::default()
            },
            AuditRecord {
                id: "neither".into(),
                initiated_by: Some(InitiatedBy::default()),
                ..Default::default()
            },
        ];
        for r in &mut records {
            r.fill_derived();
        }
        assert_eq!(
            records_to_batch(&records).unwrap(),
            via_arrow_json(&records)
        );
        assert_eq!(records_to_batch(&[]).unwrap().num_rows(), 0);
    }

    #[test]
    fn records_become_a_batch_of_the_canonical_schema() {
        let mut r = AuditRecord {
            time_generated: 1_700_000_000_123_456_700,
            activity_date_time: 1_700_000_000_123_456_700,
            id: "Directory_abc_1".into(),
            activity_display_name: "Add member to group".into(),
            initiated_by: Some(InitiatedBy {
                user: Some(UserIdentity {
                    display_name: Some("Ada".into()),
                    ..Default::default()
                }),
                app: None,
            }),
            target_resources: Some(vec![TargetResource {
                id: Some("t1".into()),
                type_: Some("Group".into()),
                modified_properties: Some(vec![]),
                ..Default::default()
            }]),
            additional_details: None,
            ..Default::default()
        };
        r.fill_derived();
        let batch = records_to_batch(&[r]).unwrap();
        assert_eq!(batch.num_rows(), 1);
        let tg = batch
            .column_by_name("TimeGenerated")
            .unwrap()
            .as_primitive::<TimestampNanosecondType>();
        assert_eq!(tg.value(0), 1_700_000_000_123_456_700);
        let identity = batch.column_by_name("Identity").unwrap().as_string::<i32>();
        assert_eq!(identity.value(0), "Ada");
        assert_eq!(
            batch
                .column_by_name("OperationName")
                .unwrap()
                .as_string::<i32>()
                .value(0),
            "Add member to group"
        );
        assert!(
            batch
                .column_by_name("AdditionalDetails")
                .unwrap()
                .is_null(0)
        );
        let targets = batch
            .column_by_name("TargetResources")
            .unwrap()
            .as_list::<i32>();
        assert_eq!(targets.value(0).len(), 1);
    }
}
