//! `AuditRecord`: one audit event in canonical form, the meeting point of every input format
//! (readers produce it, the generator's writers consume it) and the Arrow `AuditLogs` batches.
//!
//! Field names serialize exactly as the columns of [`crate::schema::audit_logs_schema`], nested
//! values keep Graph's camelCase, and timestamps are nanoseconds since the epoch (UTC), so a slice
//! of records turns into a `RecordBatch` through arrow-json's serde decoder without glue code.

use arrow::array::RecordBatch;
use arrow::json::reader::ReaderBuilder;
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

/// Turns canonical records into one `RecordBatch` of the `AuditLogs` schema.
pub fn records_to_batch(records: &[AuditRecord]) -> Result<RecordBatch, arrow::error::ArrowError> {
    let schema = audit_logs_schema();
    let mut decoder = ReaderBuilder::new(schema.clone())
        .with_batch_size(records.len().max(1))
        .build_decoder()?;
    decoder.serialize(records)?;
    Ok(decoder
        .flush()?
        .unwrap_or_else(|| RecordBatch::new_empty(schema)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Array, AsArray};
    use arrow::datatypes::TimestampNanosecondType;

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
