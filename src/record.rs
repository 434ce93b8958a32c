//! `AuditRecord`: one audit event in canonical form, the meeting point of every input format
//! (readers produce it, the generator's writers consume it) and the Arrow `AuditLogs` batches.
//!
//! Field names serialize exactly as the columns of [`crate::schema::audit_logs_schema`] (nested
//! values keep Graph's camelCase, timestamps are nanoseconds since the epoch, UTC), and
//! [`AuditBuilder`] appends records to the Arrow columns directly.
//!
//! The text type is a parameter ([`Text`]): records own their text (`String`, the default), or
//! borrow it from the input line they were parsed from (`Cow<str>`, the Graph fast path), so the
//! common case copies each value once, from the line into the Arrow column.

use std::borrow::Cow;
use std::sync::Arc;

use arrow::array::{
    ArrayBuilder, ArrayRef, Int64Array, ListArray, NullBufferBuilder, RecordBatch, StringBuilder,
    StructArray, TimestampNanosecondArray,
};
use arrow::buffer::{OffsetBuffer, ScalarBuffer};
use arrow::datatypes::{DataType, Field, FieldRef, Fields};
use serde::{Deserialize, Serialize};

use crate::schema::audit_logs_schema;

/// The text of a record's fields: owned (`String`) or borrowed from the input (`Cow<str>`).
pub trait Text: AsRef<str> + Clone + Default {
    fn from_static(s: &'static str) -> Self;
    fn from_string(s: String) -> Self;
}

impl Text for String {
    fn from_static(s: &'static str) -> Self {
        s.to_string()
    }
    fn from_string(s: String) -> Self {
        s
    }
}

impl Text for Cow<'_, str> {
    fn from_static(s: &'static str) -> Self {
        Cow::Borrowed(s)
    }
    fn from_string(s: String) -> Self {
        Cow::Owned(s)
    }
}

fn opt_str<S: AsRef<str>>(s: &Option<S>) -> Option<&str> {
    s.as_ref().map(AsRef::as_ref)
}

/// `InitiatedBy.user`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserIdentity<S = String> {
    pub id: Option<S>,
    pub display_name: Option<S>,
    pub user_principal_name: Option<S>,
    pub ip_address: Option<S>,
    pub user_type: Option<S>,
    pub home_tenant_id: Option<S>,
    pub home_tenant_name: Option<S>,
}

/// `InitiatedBy.app`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AppIdentity<S = String> {
    pub app_id: Option<S>,
    pub display_name: Option<S>,
    pub service_principal_id: Option<S>,
    pub service_principal_name: Option<S>,
}

/// `InitiatedBy`: a user, an app, or (rarely) neither.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct InitiatedBy<S = String> {
    pub user: Option<UserIdentity<S>>,
    pub app: Option<AppIdentity<S>>,
}

/// `TargetResources[].modifiedProperties[]`; values are JSON-encoded strings as Entra writes them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ModifiedProperty<S = String> {
    pub display_name: Option<S>,
    pub old_value: Option<S>,
    pub new_value: Option<S>,
}

/// `TargetResources[]`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TargetResource<S = String> {
    pub id: Option<S>,
    pub display_name: Option<S>,
    #[serde(rename = "type")]
    pub type_: Option<S>,
    pub user_principal_name: Option<S>,
    pub group_type: Option<S>,
    /// `None` when the source had no list (or `null`), `Some(vec![])` for `[]`.
    pub modified_properties: Option<Vec<ModifiedProperty<S>>>,
}

/// `AdditionalDetails[]`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct KeyValue<S = String> {
    pub key: Option<S>,
    pub value: Option<S>,
}

/// One audit event, as a row of the canonical `AuditLogs` table.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AuditRecord<S = String> {
    /// Nanoseconds since the epoch, UTC.
    pub time_generated: i64,
    pub tenant_id: S,
    pub source_system: S,
    pub resource_id: S,
    pub operation_name: S,
    pub operation_version: S,
    pub category: S,
    pub result_type: S,
    pub result_signature: S,
    pub result_description: S,
    pub duration_ms: i64,
    pub correlation_id: S,
    pub resource: S,
    pub resource_group: S,
    pub resource_provider: S,
    pub identity: S,
    pub level: S,
    pub location: S,
    pub additional_details: Option<Vec<KeyValue<S>>>,
    pub id: S,
    pub logged_by_service: S,
    pub result: S,
    pub result_reason: S,
    #[serde(rename = "AADTenantId")]
    pub aad_tenant_id: S,
    pub activity_display_name: S,
    /// Nanoseconds since the epoch, UTC.
    pub activity_date_time: i64,
    #[serde(rename = "AADOperationType")]
    pub aad_operation_type: S,
    pub initiated_by: Option<InitiatedBy<S>>,
    pub target_resources: Option<Vec<TargetResource<S>>>,
    #[serde(rename = "Type")]
    pub type_: S,
}

fn empty<S: AsRef<str>>(s: &S) -> bool {
    s.as_ref().is_empty()
}

impl<S: Text> AuditRecord<S> {
    /// Fills the columns Log Analytics derives from the Graph fields, where the source left them
    /// empty: `OperationName`, `Identity`, `Type`, `SourceSystem`, the tenant's resource columns.
    pub fn fill_derived(&mut self) {
        if empty(&self.operation_name) {
            self.operation_name = self.activity_display_name.clone();
        }
        if empty(&self.activity_display_name) {
            self.activity_display_name = self.operation_name.clone();
        }
        if empty(&self.identity) {
            self.identity = self.initiator_display_name_text().unwrap_or_default();
        }
        if empty(&self.type_) {
            self.type_ = S::from_static("AuditLogs");
        }
        if empty(&self.source_system) {
            self.source_system = S::from_static("Azure");
        }
        if empty(&self.operation_version) {
            self.operation_version = S::from_static("1.0");
        }
        if empty(&self.aad_tenant_id) {
            self.aad_tenant_id = self.tenant_id.clone();
        }
        if empty(&self.tenant_id) {
            self.tenant_id = self.aad_tenant_id.clone();
        }
        if !empty(&self.tenant_id) {
            if empty(&self.resource_id) {
                self.resource_id = S::from_string(format!(
                    "/tenants/{}/providers/Microsoft.aadiam",
                    self.tenant_id.as_ref()
                ));
            }
            for col in [
                &mut self.resource,
                &mut self.resource_group,
                &mut self.resource_provider,
            ] {
                if empty(col) {
                    *col = S::from_static("Microsoft.aadiam");
                }
            }
        }
    }

    /// [`AuditRecord::initiator_display_name`] as a value of the record's text type.
    fn initiator_display_name_text(&self) -> Option<S> {
        let by = self.initiated_by.as_ref()?;
        by.user
            .as_ref()
            .and_then(|u| u.display_name.clone().filter(|s| !empty(s)))
            .or_else(|| by.app.as_ref().and_then(|a| a.display_name.clone()))
    }
}

impl<S: AsRef<str>> AuditRecord<S> {
    /// Display name of whoever started the activity: the user's, else the app's.
    pub fn initiator_display_name(&self) -> Option<&str> {
        let by = self.initiated_by.as_ref()?;
        by.user
            .as_ref()
            .and_then(|u| opt_str(&u.display_name).filter(|s| !s.is_empty()))
            .or_else(|| by.app.as_ref().and_then(|a| opt_str(&a.display_name)))
    }
}

impl AuditRecord<Cow<'_, str>> {
    /// The record with its own copy of every text borrowed from the input.
    pub fn into_owned(self) -> AuditRecord {
        fn o(s: Cow<str>) -> String {
            s.into_owned()
        }
        fn oo(s: Option<Cow<str>>) -> Option<String> {
            s.map(Cow::into_owned)
        }
        let r = self;
        AuditRecord {
            time_generated: r.time_generated,
            tenant_id: o(r.tenant_id),
            source_system: o(r.source_system),
            resource_id: o(r.resource_id),
            operation_name: o(r.operation_name),
            operation_version: o(r.operation_version),
            category: o(r.category),
            result_type: o(r.result_type),
            result_signature: o(r.result_signature),
            result_description: o(r.result_description),
            duration_ms: r.duration_ms,
            correlation_id: o(r.correlation_id),
            resource: o(r.resource),
            resource_group: o(r.resource_group),
            resource_provider: o(r.resource_provider),
            identity: o(r.identity),
            level: o(r.level),
            location: o(r.location),
            additional_details: r.additional_details.map(|ds| {
                ds.into_iter()
                    .map(|d| KeyValue {
                        key: oo(d.key),
                        value: oo(d.value),
                    })
                    .collect()
            }),
            id: o(r.id),
            logged_by_service: o(r.logged_by_service),
            result: o(r.result),
            result_reason: o(r.result_reason),
            aad_tenant_id: o(r.aad_tenant_id),
            activity_display_name: o(r.activity_display_name),
            activity_date_time: r.activity_date_time,
            aad_operation_type: o(r.aad_operation_type),
            initiated_by: r.initiated_by.map(|b| InitiatedBy {
                user: b.user.map(|u| UserIdentity {
                    id: oo(u.id),
                    display_name: oo(u.display_name),
                    user_principal_name: oo(u.user_principal_name),
                    ip_address: oo(u.ip_address),
                    user_type: oo(u.user_type),
                    home_tenant_id: oo(u.home_tenant_id),
                    home_tenant_name: oo(u.home_tenant_name),
                }),
                app: b.app.map(|a| AppIdentity {
                    app_id: oo(a.app_id),
                    display_name: oo(a.display_name),
                    service_principal_id: oo(a.service_principal_id),
                    service_principal_name: oo(a.service_principal_name),
                }),
            }),
            target_resources: r.target_resources.map(|ts| {
                ts.into_iter()
                    .map(|t| TargetResource {
                        id: oo(t.id),
                        display_name: oo(t.display_name),
                        type_: oo(t.type_),
                        user_principal_name: oo(t.user_principal_name),
                        group_type: oo(t.group_type),
                        modified_properties: t.modified_properties.map(|ps| {
                            ps.into_iter()
                                .map(|p| ModifiedProperty {
                                    display_name: oo(p.display_name),
                                    old_value: oo(p.old_value),
                                    new_value: oo(p.new_value),
                                })
                                .collect()
                        }),
                    })
                    .collect()
            }),
            type_: o(r.type_),
        }
    }
}

/// Turns canonical records into one `RecordBatch` of the `AuditLogs` schema.
pub fn records_to_batch<S: AsRef<str>>(
    records: &[AuditRecord<S>],
) -> Result<RecordBatch, arrow::error::ArrowError> {
    let mut b = AuditBuilder::default();
    for r in records {
        b.append(r);
    }
    b.finish()
}

/// Offsets and validity of a list column being built; its items are built beside it.
struct ListParts {
    offsets: Vec<i32>,
    valid: NullBufferBuilder,
}

impl ListParts {
    fn new() -> ListParts {
        ListParts {
            offsets: vec![0],
            valid: NullBufferBuilder::new(0),
        }
    }

    /// Ends a row's list of `len` items (`None`: a null list).
    fn push(&mut self, len: Option<usize>) {
        let last = *self.offsets.last().expect("starts with 0");
        self.offsets.push(last + len.unwrap_or(0) as i32);
        self.valid.append(len.is_some());
    }

    fn finish(
        &mut self,
        field: &Field,
        values: ArrayRef,
    ) -> Result<ArrayRef, arrow::error::ArrowError> {
        let offsets = std::mem::replace(&mut self.offsets, vec![0]);
        Ok(Arc::new(ListArray::try_new(
            list_item(field).clone(),
            OffsetBuffer::new(ScalarBuffer::from(offsets)),
            values,
            self.valid.finish(),
        )?))
    }
}

/// String columns of a struct, in the struct's field order, and the struct's validity.
struct StructParts {
    children: Vec<StringBuilder>,
    valid: NullBufferBuilder,
}

impl StructParts {
    fn new(n: usize) -> StructParts {
        StructParts {
            children: (0..n).map(|_| StringBuilder::new()).collect(),
            valid: NullBufferBuilder::new(0),
        }
    }

    /// One row: the children's values in field order, or `None` for a null struct.
    fn push<const N: usize>(&mut self, values: Option<[Option<&str>; N]>) {
        self.valid.append(values.is_some());
        match values {
            Some(values) => {
                for (b, v) in self.children.iter_mut().zip(values) {
                    b.append_option(v);
                }
            }
            None => self
                .children
                .iter_mut()
                .for_each(StringBuilder::append_null),
        }
    }

    /// The struct array; `extra` are children after the string ones (a nested list).
    fn finish(
        &mut self,
        field: &Field,
        extra: Vec<ArrayRef>,
    ) -> Result<ArrayRef, arrow::error::ArrowError> {
        let mut children: Vec<ArrayRef> = self
            .children
            .iter_mut()
            .map(|b| Arc::new(finish_strings(b)) as ArrayRef)
            .collect();
        children.extend(extra);
        Ok(Arc::new(StructArray::try_new(
            struct_fields(field).clone(),
            children,
            self.valid.finish(),
        )?))
    }
}

/// Builds `AuditLogs` batches one record at a time: every value is copied once, from the record
/// (owned or borrowed from the input) into its Arrow column.
pub struct AuditBuilder {
    rows: usize,
    time_generated: Vec<i64>,
    activity_date_time: Vec<i64>,
    duration_ms: Vec<i64>,
    /// The top-level string columns, in schema order.
    strings: Vec<StringBuilder>,
    details: ListParts,
    detail: StructParts,
    targets: ListParts,
    target: StructParts,
    props: ListParts,
    prop: StructParts,
    by: NullBufferBuilder,
    user: StructParts,
    app: StructParts,
}

/// The top-level string columns of the schema (`TenantId` … `Type`), which
/// [`AuditBuilder::append`] fills in schema order.
const TOP_STRINGS: usize = 24;

impl Default for AuditBuilder {
    fn default() -> Self {
        AuditBuilder {
            rows: 0,
            time_generated: Vec::new(),
            activity_date_time: Vec::new(),
            duration_ms: Vec::new(),
            strings: (0..TOP_STRINGS).map(|_| StringBuilder::new()).collect(),
            details: ListParts::new(),
            detail: StructParts::new(2),
            targets: ListParts::new(),
            target: StructParts::new(5),
            props: ListParts::new(),
            prop: StructParts::new(3),
            by: NullBufferBuilder::new(0),
            user: StructParts::new(7),
            app: StructParts::new(4),
        }
    }
}

impl AuditBuilder {
    /// Rows appended since the last [`AuditBuilder::finish`].
    pub fn len(&self) -> usize {
        self.rows
    }

    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    /// Appends one record as a row.
    pub fn append<S: AsRef<str>>(&mut self, r: &AuditRecord<S>) {
        self.rows += 1;
        self.time_generated.push(r.time_generated);
        self.activity_date_time.push(r.activity_date_time);
        self.duration_ms.push(r.duration_ms);
        // In schema order.
        let top: [&S; TOP_STRINGS] = [
            &r.tenant_id,
            &r.source_system,
            &r.resource_id,
            &r.operation_name,
            &r.operation_version,
            &r.category,
            &r.result_type,
            &r.result_signature,
            &r.result_description,
            &r.correlation_id,
            &r.resource,
            &r.resource_group,
            &r.resource_provider,
            &r.identity,
            &r.level,
            &r.location,
            &r.id,
            &r.logged_by_service,
            &r.result,
            &r.result_reason,
            &r.aad_tenant_id,
            &r.activity_display_name,
            &r.aad_operation_type,
            &r.type_,
        ];
        for (b, v) in self.strings.iter_mut().zip(top) {
            b.append_value(v.as_ref());
        }
        let details = r.additional_details.as_deref();
        for d in details.unwrap_or_default() {
            self.detail.push(Some([opt_str(&d.key), opt_str(&d.value)]));
        }
        self.details.push(details.map(<[_]>::len));
        let targets = r.target_resources.as_deref();
        for t in targets.unwrap_or_default() {
            self.target.push(Some([
                opt_str(&t.id),
                opt_str(&t.display_name),
                opt_str(&t.type_),
                opt_str(&t.user_principal_name),
                opt_str(&t.group_type),
            ]));
            let props = t.modified_properties.as_deref();
            for p in props.unwrap_or_default() {
                self.prop.push(Some([
                    opt_str(&p.display_name),
                    opt_str(&p.old_value),
                    opt_str(&p.new_value),
                ]));
            }
            self.props.push(props.map(<[_]>::len));
        }
        self.targets.push(targets.map(<[_]>::len));
        let by = r.initiated_by.as_ref();
        self.by.append(by.is_some());
        self.user.push(by.and_then(|b| b.user.as_ref()).map(|u| {
            [
                opt_str(&u.id),
                opt_str(&u.display_name),
                opt_str(&u.user_principal_name),
                opt_str(&u.ip_address),
                opt_str(&u.user_type),
                opt_str(&u.home_tenant_id),
                opt_str(&u.home_tenant_name),
            ]
        }));
        self.app.push(by.and_then(|b| b.app.as_ref()).map(|a| {
            [
                opt_str(&a.app_id),
                opt_str(&a.display_name),
                opt_str(&a.service_principal_id),
                opt_str(&a.service_principal_name),
            ]
        }));
    }

    /// The rows appended so far as one batch; the builder is empty again.
    pub fn finish(&mut self) -> Result<RecordBatch, arrow::error::ArrowError> {
        let schema = audit_logs_schema();
        let ts = |v: &mut Vec<i64>| -> ArrayRef {
            Arc::new(TimestampNanosecondArray::from(std::mem::take(v)).with_timezone("UTC"))
        };
        let mut columns = Vec::with_capacity(schema.fields().len());
        let mut next_string = 0;
        for field in schema.fields() {
            let name = field.name().as_str();
            let column: ArrayRef = match name {
                "TimeGenerated" => ts(&mut self.time_generated),
                "ActivityDateTime" => ts(&mut self.activity_date_time),
                "DurationMs" => Arc::new(Int64Array::from(std::mem::take(&mut self.duration_ms))),
                "AdditionalDetails" => {
                    let item = self.detail.finish(list_item(field), vec![])?;
                    self.details.finish(field, item)?
                }
                "TargetResources" => {
                    let item_field = list_item(field);
                    let props_field = struct_fields(item_field)
                        .find("modifiedProperties")
                        .expect("schema")
                        .1;
                    let prop = self.prop.finish(list_item(props_field), vec![])?;
                    let props = self.props.finish(props_field, prop)?;
                    let item = self.target.finish(item_field, vec![props])?;
                    self.targets.finish(field, item)?
                }
                "InitiatedBy" => {
                    let fields = struct_fields(field);
                    let user = self.user.finish(&fields[0], vec![])?;
                    let app = self.app.finish(&fields[1], vec![])?;
                    Arc::new(StructArray::try_new(
                        fields.clone(),
                        vec![user, app],
                        self.by.finish(),
                    )?)
                }
                _ => {
                    let column = self.strings.get_mut(next_string).unwrap_or_else(|| {
                        unreachable!("column {name} of the schema has no builder")
                    });
                    next_string += 1;
                    Arc::new(finish_strings(column))
                }
            };
            columns.push(column);
        }
        self.rows = 0;
        RecordBatch::try_new(schema, columns)
    }
}

/// The builder's strings as an array; the builder starts again with room for as many: chunks
/// are alike, and growing every builder from empty for each chunk cost a tenth of the reading
/// threads' time in copies and fresh pages.
fn finish_strings(b: &mut StringBuilder) -> arrow::array::StringArray {
    let (items, bytes) = (b.len(), b.values_slice().len());
    let array = b.finish();
    *b = StringBuilder::with_capacity(items, bytes);
    array
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
        assert_eq!(records_to_batch::<String>(&[]).unwrap().num_rows(), 0);
    }

    #[test]
    fn records_become_a_batch_of_the_canonical_schema() {
        let mut r: AuditRecord = AuditRecord {
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
