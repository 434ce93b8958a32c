//! Log Analytics workspace exports of the `AuditLogs` table: rows as JSON objects, the query API's
//! `{"tables":[{"columns","rows"}]}`, or CSV. Column names are the table's own (a portal export's
//! `TimeGenerated [UTC]` is understood); the dynamic columns arrive as JSON text or JSON values.

use serde_json::{Map, Value};

use super::graph::{self, Obj};
use crate::record::AuditRecord;
use crate::schema::audit_logs_schema;

/// Columns Log Analytics adds that carry nothing of the event (ignored without a warning).
const SYSTEM_COLUMNS: &[&str] = &[
    "_BilledSize",
    "_IsBillable",
    "_ResourceId",
    "_SubscriptionId",
    "_TimeReceived",
    "_ItemId",
    "TenantId1",
];

/// Normalizes a header: `TimeGenerated [UTC]` → `TimeGenerated`. Local-time columns are refused.
pub fn column_name(header: &str) -> Result<String, String> {
    let h = header.trim();
    let Some((name, suffix)) = h.strip_suffix(']').and_then(|rest| rest.split_once(" [")) else {
        return Ok(h.to_string());
    };
    if suffix.eq_ignore_ascii_case("UTC") {
        Ok(name.to_string())
    } else {
        Err(format!(
            "column `{h}` is in {suffix} time, which cannot be converted to UTC; export with UTC timestamps"
        ))
    }
}

/// Checks a header: the columns auditbook needs are there; returns the unknown ones (for a warning).
pub fn check_columns(names: &[String]) -> Result<Vec<String>, String> {
    let has = |c: &str| names.iter().any(|n| n.eq_ignore_ascii_case(c));
    let missing: Vec<&str> = ["Id", "ActivityDateTime"]
        .into_iter()
        .filter(|c| !has(c))
        .collect();
    if !missing.is_empty() || !(has("OperationName") || has("ActivityDisplayName")) {
        let mut m = missing.iter().map(|c| format!("`{c}`")).collect::<Vec<_>>();
        if !(has("OperationName") || has("ActivityDisplayName")) {
            m.push("`OperationName` or `ActivityDisplayName`".into());
        }
        return Err(format!(
            "not an AuditLogs export: missing column(s) {}; columns found: {}",
            m.join(", "),
            names.join(", ")
        ));
    }
    Ok(names
        .iter()
        .filter(|n| {
            // The canonical table's columns are the ones auditbook reads.
            audit_logs_schema().column_with_name(n).is_none()
                && !audit_logs_schema()
                    .fields()
                    .iter()
                    .any(|f| f.name().eq_ignore_ascii_case(n))
                && !SYSTEM_COLUMNS.iter().any(|k| k.eq_ignore_ascii_case(n))
        })
        .cloned()
        .collect())
}

/// A dynamic column: JSON text (possibly empty) or an inline JSON value.
fn dynamic(o: Obj, name: &str) -> Result<Option<Value>, String> {
    match o.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Value::String(s)) => serde_json::from_str(s)
            .map(Some)
            .map_err(|e| format!("`{name}` is not valid JSON text: {e}")),
        Some(v) => Ok(Some(v.clone())),
    }
}

/// `DurationMs`: a number or numeric text.
fn long(o: Obj, name: &str) -> Result<i64, String> {
    match o.get(name) {
        None | Some(Value::Null) => Ok(0),
        Some(Value::Number(n)) => n
            .as_i64()
            .ok_or_else(|| format!("`{name}` is not an integer: {n}")),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(0),
        Some(Value::String(s)) => s
            .trim()
            .parse()
            .map_err(|_| format!("`{name}` is not an integer: {s:?}")),
        Some(v) => Err(format!(
            "`{name}` must be a number, found {}",
            graph::kind(v)
        )),
    }
}

/// Converts one row, given as an object of column name → value.
pub fn record_from_row(o: Obj) -> Result<AuditRecord, String> {
    let id = o.string("Id")?;
    if id.trim().is_empty() {
        return Err("row has no `Id`".into());
    }
    let activity = graph::timestamp(o, "ActivityDateTime")?;
    let generated = match o.text("TimeGenerated")? {
        Some(t) if !t.trim().is_empty() => graph::timestamp(o, "TimeGenerated")?,
        _ => activity,
    };
    let s = |name: &str| o.string(name);
    Ok(AuditRecord {
        time_generated: generated,
        activity_date_time: activity,
        tenant_id: s("TenantId")?,
        source_system: s("SourceSystem")?,
        resource_id: s("ResourceId")?,
        operation_name: s("OperationName")?,
        operation_version: s("OperationVersion")?,
        category: s("Category")?,
        result_type: s("ResultType")?,
        result_signature: s("ResultSignature")?,
        result_description: s("ResultDescription")?,
        duration_ms: long(o, "DurationMs")?,
        correlation_id: s("CorrelationId")?,
        resource: s("Resource")?,
        resource_group: s("ResourceGroup")?,
        resource_provider: s("ResourceProvider")?,
        identity: s("Identity")?,
        level: s("Level")?,
        location: s("Location")?,
        additional_details: graph::additional_details(dynamic(o, "AdditionalDetails")?.as_ref())?,
        id,
        logged_by_service: s("LoggedByService")?,
        result: graph::result_text(o, "Result")?,
        result_reason: s("ResultReason")?,
        aad_tenant_id: s("AADTenantId")?,
        activity_display_name: s("ActivityDisplayName")?,
        aad_operation_type: s("AADOperationType")?,
        initiated_by: graph::initiated_by(dynamic(o, "InitiatedBy")?.as_ref())?,
        target_resources: graph::target_resources(dynamic(o, "TargetResources")?.as_ref())?,
        type_: s("Type")?,
    })
}

/// Zips a query-API row (an array) with its table's column names into a row object.
pub fn zip_row(columns: &[String], row: Vec<Value>) -> Result<Map<String, Value>, String> {
    if row.len() != columns.len() {
        return Err(format!(
            "row has {} values but the table has {} columns",
            row.len(),
            columns.len()
        ));
    }
    Ok(columns.iter().cloned().zip(row).collect())
}

/// Column names of a query-API table's `columns` (`[{"name":..,"type":..}]`).
pub fn table_columns(v: &Value) -> Result<Vec<String>, String> {
    let cols = v.as_array().ok_or("`columns` must be an array")?;
    cols.iter()
        .map(|c| {
            c.get("name")
                .or_else(|| c.get("ColumnName"))
                .and_then(Value::as_str)
                .map(str::to_string)
                .ok_or_else(|| "a column has no `name`".to_string())
        })
        .collect()
}

/// Whether an object looks like a Log Analytics row.
pub fn is_row(o: Obj) -> bool {
    o.get("TimeGenerated").is_some()
        || (o.get("OperationName").is_some() && o.get("ActivityDateTime").is_some())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn row_with_dynamic_text_columns() {
        let v = json!({
            "TenantId": "t1", "TimeGenerated": "2026-10-01T10:00:05.1Z", "Id": "Directory_1",
            "ActivityDateTime": "2026-10-01T10:00:02.5168093Z", "OperationName": "Approve access package assignment request",
            "ActivityDisplayName": "Approve access package assignment request", "Category": "EntitlementManagement",
            "DurationMs": "0", "Result": "success", "Level": "4",
            "InitiatedBy": "{\"user\":{\"id\":\"u\",\"userPrincipalName\":\"a@b\"}}",
            "TargetResources": "[{\"id\":\"ap1\",\"type\":\"AccessPackage\",\"modifiedProperties\":[]}]",
            "AdditionalDetails": ""
        });
        let r = record_from_row(Obj(v.as_object().unwrap())).unwrap();
        assert_eq!(r.time_generated - r.activity_date_time, 2_583_190_700);
        assert_eq!(
            r.target_resources.unwrap()[0].type_.as_deref(),
            Some("AccessPackage")
        );
        assert_eq!(r.additional_details, None);
        assert_eq!(
            r.initiated_by
                .unwrap()
                .user
                .unwrap()
                .user_principal_name
                .as_deref(),
            Some("a@b")
        );
    }

    #[test]
    fn headers() {
        assert_eq!(column_name("TimeGenerated [UTC]").unwrap(), "TimeGenerated");
        assert!(
            column_name("TimeGenerated [Local Time]")
                .unwrap_err()
                .contains("UTC")
        );
        let cols: Vec<String> = [
            "Id",
            "ActivityDateTime",
            "OperationName",
            "Foo",
            "_BilledSize",
        ]
        .map(String::from)
        .to_vec();
        assert_eq!(check_columns(&cols).unwrap(), vec!["Foo".to_string()]);
        let e = check_columns(&["Foo".to_string()]).unwrap_err();
        assert!(e.contains("`Id`") && e.contains("Foo"), "{e}");
    }

    #[test]
    fn bad_dynamic_text_names_column() {
        let v =
            json!({"Id": "x", "ActivityDateTime": "2026-01-01T00:00:00Z", "TargetResources": "[{"});
        let e = record_from_row(Obj(v.as_object().unwrap())).unwrap_err();
        assert!(
            e.starts_with("`TargetResources` is not valid JSON text"),
            "{e}"
        );
    }
}
