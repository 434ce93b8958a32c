//! Diagnostic-settings records (storage-account archive `PT1H.json`, Event Hub `{"records":[...]}`):
//! an envelope (`time`, `tenantId`, `Level`/`level`, `identity`, ...) around the Graph record in
//! `properties`. The 2018 legacy shape (no `properties.id`, `targetResourceName` strings) is
//! accepted too, with a stable id derived from its content.

use serde_json::Value;
use sha2::{Digest, Sha256};

use super::graph::{self, Obj};
use crate::record::AuditRecord;

/// Whether an object is a diagnostic envelope.
pub fn is_envelope(o: Obj) -> bool {
    o.get("properties").is_some_and(Value::is_object)
        && (o.get("time").is_some() || o.get("operationName").is_some())
}

/// The tenant id of a `resourceId` like `/tenants/<tid>/providers/Microsoft.aadiam`.
fn tenant_of_resource(resource_id: &str) -> Option<&str> {
    let rest = resource_id
        .strip_prefix("/tenants/")
        .or_else(|| resource_id.strip_prefix("/TENANTS/"))?;
    rest.split('/').next().filter(|s| !s.is_empty())
}

/// Converts one envelope.
pub fn record_from_envelope(o: Obj) -> Result<AuditRecord, String> {
    let props = o
        .object("properties")?
        .ok_or("diagnostic record has no `properties` object")?;
    let mut r = if props.get("id").is_some() {
        graph::record_from_graph(props).map_err(|e| format!("properties: {e}"))?
    } else {
        legacy(o, props)?
    };
    let resource_id = o.string("resourceId")?;
    r.tenant_id = o.string("tenantId")?;
    if r.tenant_id.is_empty() {
        r.tenant_id = tenant_of_resource(&resource_id)
            .unwrap_or_default()
            .to_string();
    }
    r.resource_id = resource_id;
    r.operation_version = o.string("operationVersion")?;
    r.result_signature = o.string("resultSignature")?;
    r.result_type = o.string("resultType")?;
    r.result_description = o.string("resultDescription")?;
    r.identity = o.string("identity")?;
    r.level = o.string("Level")?; // `Level` (4) or the older `level` ("Informational").
    r.location = o.string("location")?;
    r.duration_ms = match o.get("durationMs") {
        None | Some(Value::Null) => 0,
        Some(Value::Number(n)) => n
            .as_i64()
            .ok_or_else(|| format!("`durationMs` is not an integer: {n}"))?,
        Some(Value::String(s)) => s
            .trim()
            .parse()
            .map_err(|_| format!("`durationMs` is not an integer: {s:?}"))?,
        Some(other) => {
            return Err(format!(
                "`durationMs` must be a number, found {}",
                graph::kind(other)
            ));
        }
    };
    if r.correlation_id.is_empty() {
        r.correlation_id = o.string("correlationId")?;
    }
    if r.operation_name.is_empty() {
        r.operation_name = o.string("operationName")?;
    }
    Ok(r)
}

/// The 2018 shape: activity in the envelope, category in `properties.auditEventCategory`.
fn legacy(o: Obj, props: Obj) -> Result<AuditRecord, String> {
    let time = graph::timestamp(o, "time")?;
    let operation = o.string("operationName")?;
    let category = props.string("auditEventCategory")?;
    let mut hasher = Sha256::new();
    for part in [
        &operation,
        &category,
        &o.string("correlationId")?,
        &o.text_or_json("time").unwrap_or_default(),
        &serde_json::to_string(props.0).unwrap_or_default(),
    ] {
        hasher.update(part.as_bytes());
        hasher.update([0]);
    }
    let digest = hasher.finalize();
    let id = format!("legacy_{}", hex(&digest[..16]));
    Ok(AuditRecord {
        time_generated: time,
        activity_date_time: time,
        id,
        category,
        activity_display_name: operation.clone(),
        operation_name: operation,
        result: o.string("resultType")?.to_ascii_lowercase(),
        aad_operation_type: props.string("operationType")?,
        ..Default::default()
    })
}

/// Lowercase hex of bytes.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn conv(v: Value) -> Result<AuditRecord, String> {
        record_from_envelope(Obj(v.as_object().unwrap()))
    }

    #[test]
    fn envelope_fields_and_properties() {
        let r = conv(json!({
            "time": "2026-10-01T10:00:02.5168093Z",
            "resourceId": "/tenants/7918d4b5-0442-4a97-be2d-36f9f9962ece/providers/Microsoft.aadiam",
            "operationName": "Update policy", "operationVersion": "1.0", "category": "AuditLogs",
            "resultSignature": "None", "durationMs": "-1", "correlationId": "c1",
            "identity": "MS-PIM", "level": "Informational", "location": "EU",
            "properties": {"id": "Directory_VNXV4_28148892", "category": "Policy", "correlationId": "c1",
                "result": 0, "activityDisplayName": "Update policy",
                "activityDateTime": "2026-10-01T10:00:02.5168093+00:00", "initiatedBy": {},
                "targetResources": [], "additionalDetails": []}
        }))
        .unwrap();
        assert_eq!(r.tenant_id, "7918d4b5-0442-4a97-be2d-36f9f9962ece");
        assert_eq!(r.level, "Informational");
        assert_eq!(r.duration_ms, -1);
        assert_eq!(r.result, "success");
        assert_eq!(r.category, "Policy");
        assert_eq!(r.identity, "MS-PIM");
        assert_eq!(r.initiated_by, None);
        assert_eq!(r.activity_date_time % 1_000_000_000, 516_809_300);
    }

    #[test]
    fn integer_level_and_legacy_shape() {
        let r = conv(json!({
            "time": "2018-03-17T00:14:31.2585575Z", "operationName": "Change password (self-service)",
            "tenantId": "t", "resultType": "Success", "durationMs": 0, "Level": 4, "correlationId": "c",
            "properties": {"operationType": "Update", "auditEventCategory": "UserManagement"}
        }))
        .unwrap();
        assert_eq!(r.level, "4");
        assert!(r.id.starts_with("legacy_"), "{}", r.id);
        assert_eq!(r.category, "UserManagement");
        assert_eq!(r.result, "success");
        assert_eq!(r.activity_display_name, "Change password (self-service)");
    }
}
