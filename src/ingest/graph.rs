//! Microsoft Graph `directoryAudit` records (GET /auditLogs/directoryAudits) into `AuditRecord`.
//!
//! The same record shape is the `properties` of a diagnostic-settings record and the admin
//! center's JSON download, and the dynamic columns of Log Analytics exports hold its pieces; the
//! functions for those pieces (`initiated_by`, `target_resources`, `additional_details`) are
//! shared with those readers. Property names are matched case-insensitively (`"Type"` happens).

use serde_json::{Map, Value};

use crate::record::{
    AppIdentity, AuditRecord, InitiatedBy, KeyValue, ModifiedProperty, TargetResource, Text,
    UserIdentity,
};
use crate::time::parse_timestamp;

/// A JSON object with case-insensitive member lookup.
#[derive(Clone, Copy)]
pub struct Obj<'a>(pub &'a Map<String, Value>);

impl<'a> Obj<'a> {
    /// The member named `name`, matched exactly first, then ignoring ASCII case.
    pub fn get(&self, name: &str) -> Option<&'a Value> {
        self.0.get(name).or_else(|| {
            self.0
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v)
        })
    }

    /// A member as text: strings as they are, numbers and booleans written out, null or missing as
    /// `None`. Objects and arrays are an error: they are not text.
    pub fn text(&self, name: &str) -> Result<Option<String>, String> {
        scalar_text(self.get(name), name)
    }

    /// Like [`Obj::text`], with `""` for null or missing (top-level strings are never null in KQL).
    pub fn string(&self, name: &str) -> Result<String, String> {
        Ok(self.text(name)?.unwrap_or_default())
    }

    /// A member as text, where JSON values (objects, arrays) are kept as compact JSON text.
    pub fn text_or_json(&self, name: &str) -> Option<String> {
        match self.get(name)? {
            Value::Null => None,
            Value::String(s) => Some(s.clone()),
            other => Some(other.to_string()),
        }
    }

    /// A member that must be an object, or null/missing.
    pub fn object(&self, name: &str) -> Result<Option<Obj<'a>>, String> {
        match self.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Object(m)) => Ok(Some(Obj(m))),
            Some(other) => Err(format!("`{name}` must be an object, found {}", kind(other))),
        }
    }
}

/// The JSON kind of a value, for messages.
pub fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn scalar_text(v: Option<&Value>, name: &str) -> Result<Option<String>, String> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        Some(Value::Bool(b)) => Ok(Some(b.to_string())),
        Some(other) => Err(format!("`{name}` must be a string, found {}", kind(other))),
    }
}

/// Graph's `operationResult` enum, which one old example writes as an integer.
pub fn result_text(o: Obj, name: &str) -> Result<String, String> {
    match o.get(name) {
        Some(Value::Number(n)) => Ok(match n.as_i64() {
            Some(0) => "success",
            Some(1) => "failure",
            Some(2) => "timeout",
            Some(3) => "unknownFutureValue",
            _ => return Err(format!("`{name}` has unknown value {n}")),
        }
        .to_string()),
        _ => o.string(name),
    }
}

/// A required timestamp member, in nanoseconds.
pub fn timestamp(o: Obj, name: &str) -> Result<i64, String> {
    match o.text(name)? {
        Some(t) => parse_timestamp(&t).map_err(|e| format!("`{name}`: {e}")),
        None => Err(format!("missing `{name}`")),
    }
}

/// `initiatedBy`: `{user, app}`; `{}` or null gives `None`.
pub fn initiated_by(v: Option<&Value>) -> Result<Option<InitiatedBy>, String> {
    let o = match v {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Object(m)) => Obj(m),
        Some(other) => {
            return Err(format!(
                "`initiatedBy` must be an object, found {}",
                kind(other)
            ));
        }
    };
    let user = match o.object("user")? {
        Some(u) => Some(UserIdentity {
            id: u.text("id")?,
            display_name: u.text("displayName")?,
            user_principal_name: u.text("userPrincipalName")?,
            ip_address: u.text("ipAddress")?,
            user_type: u.text("userType")?,
            home_tenant_id: u.text("homeTenantId")?,
            home_tenant_name: u.text("homeTenantName")?,
        }),
        None => None,
    };
    let app = match o.object("app")? {
        Some(a) => Some(AppIdentity {
            app_id: a.text("appId")?,
            display_name: a.text("displayName")?,
            service_principal_id: a.text("servicePrincipalId")?,
            service_principal_name: a.text("servicePrincipalName")?,
        }),
        None => None,
    };
    if user.is_none() && app.is_none() {
        return Ok(None);
    }
    Ok(Some(InitiatedBy { user, app }))
}

fn array<'a>(v: Option<&'a Value>, name: &str) -> Result<Option<&'a Vec<Value>>, String> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(a)) => Ok(Some(a)),
        Some(other) => Err(format!("`{name}` must be an array, found {}", kind(other))),
    }
}

fn element<'a>(v: &'a Value, name: &str, i: usize) -> Result<Obj<'a>, String> {
    match v {
        Value::Object(m) => Ok(Obj(m)),
        other => Err(format!(
            "`{name}[{i}]` must be an object, found {}",
            kind(other)
        )),
    }
}

/// `targetResources`: null stays null, `[]` stays empty.
pub fn target_resources(v: Option<&Value>) -> Result<Option<Vec<TargetResource>>, String> {
    let Some(items) = array(v, "targetResources")? else {
        return Ok(None);
    };
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let t = element(item, "targetResources", i)?;
        let props = match array(t.get("modifiedProperties"), "modifiedProperties")? {
            None => None,
            Some(ps) => Some(
                ps.iter()
                    .enumerate()
                    .map(|(j, p)| {
                        let p = element(p, "modifiedProperties", j)?;
                        Ok(ModifiedProperty {
                            display_name: p.text("displayName")?,
                            old_value: p.text_or_json("oldValue"),
                            new_value: p.text_or_json("newValue"),
                        })
                    })
                    .collect::<Result<Vec<_>, String>>()?,
            ),
        };
        out.push(TargetResource {
            id: t.text("id")?,
            display_name: t.text("displayName")?,
            type_: t.text("type")?,
            user_principal_name: t.text("userPrincipalName")?,
            group_type: t.text_or_json("groupType"),
            modified_properties: props,
        });
    }
    Ok(Some(out))
}

/// `additionalDetails`: a list of `{key, value}`; non-string values are kept as JSON text.
pub fn additional_details(v: Option<&Value>) -> Result<Option<Vec<KeyValue>>, String> {
    let Some(items) = array(v, "additionalDetails")? else {
        return Ok(None);
    };
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let d = element(item, "additionalDetails", i)?;
            Ok(KeyValue {
                key: d.text("key")?,
                value: d.text_or_json("value"),
            })
        })
        .collect::<Result<Vec<_>, String>>()
        .map(Some)
}

/// Converts one Graph `directoryAudit` object. Errors say which field is wrong and how.
pub fn record_from_graph(o: Obj) -> Result<AuditRecord, String> {
    let id = o.string("id")?;
    if id.trim().is_empty() {
        return Err("record has no `id`".into());
    }
    let activity = timestamp(o, "activityDateTime")?;
    let mut r = AuditRecord {
        time_generated: activity,
        activity_date_time: activity,
        id,
        category: o.string("category")?,
        correlation_id: o.string("correlationId")?,
        result: result_text(o, "result")?,
        result_reason: o.string("resultReason")?,
        activity_display_name: o.string("activityDisplayName")?,
        logged_by_service: o.string("loggedByService")?,
        aad_operation_type: o.string("operationType")?,
        initiated_by: initiated_by(o.get("initiatedBy"))?,
        target_resources: target_resources(o.get("targetResources"))?,
        additional_details: additional_details(o.get("additionalDetails"))?,
        ..Default::default()
    };
    if let Some(agent) = o.text("userAgent")?.filter(|a| !a.is_empty()) {
        add_detail(&mut r, "User-Agent", agent);
    }
    Ok(r)
}

/// Adds `key` to `AdditionalDetails` unless a detail of that key is already there.
pub fn add_detail<S: Text>(r: &mut AuditRecord<S>, key: &'static str, value: S) {
    let details = r.additional_details.get_or_insert_with(Vec::new);
    if !details
        .iter()
        .any(|d| d.key.as_ref().map(AsRef::as_ref) == Some(key))
    {
        details.push(KeyValue {
            key: Some(S::from_static(key)),
            value: Some(value),
        });
    }
}

/// Whether a JSON object looks like a Graph `directoryAudit` record.
pub fn is_graph_record(o: Obj) -> bool {
    o.get("activityDateTime").is_some()
        || (o.get("activityDisplayName").is_some() && o.get("id").is_some())
}

#[cfg(test)]
mod tests {
    use super::super::graph_fast::fast_record;
    use super::*;
    use serde_json::json;

    fn conv(v: Value) -> Result<AuditRecord, String> {
        record_from_graph(Obj(v.as_object().unwrap()))
    }

    #[test]
    fn full_record_with_capital_type_and_integer_result() {
        let r = conv(json!({
            "id": "Directory_da159bfb_ABCDE_1", "category": "UserManagement",
            "correlationId": "da159bfb-54fa-4092-8a38-6e1fa7870e30", "result": 0,
            "resultReason": null, "activityDisplayName": "Add member to group",
            "activityDateTime": "2024-01-09T21:20:02.72Z", "loggedByService": "Core Directory",
            "operationType": "Assign",
            "initiatedBy": {"user": {"id": "u1", "displayName": "Ada", "userPrincipalName": "ada@x"}, "app": null},
            "targetResources": [{"id": "g1", "displayName": null, "Type": "Group",
                "modifiedProperties": [{"displayName": "Group.DisplayName", "oldValue": null, "newValue": "\"Sales\""}],
                "groupType": "unifiedGroups"}],
            "additionalDetails": [{"key": "k", "value": 5}],
            "userAgent": "Mozilla/5.0"
        }))
        .unwrap();
        assert_eq!(r.result, "success");
        assert_eq!(r.result_reason, "");
        assert_eq!(r.activity_date_time, 1_704_835_202_720_000_000);
        let t = &r.target_resources.as_ref().unwrap()[0];
        assert_eq!(t.type_.as_deref(), Some("Group"));
        assert_eq!(t.display_name, None);
        let p = &t.modified_properties.as_ref().unwrap()[0];
        assert_eq!(p.new_value.as_deref(), Some("\"Sales\""));
        assert_eq!(p.old_value, None);
        let details = r.additional_details.unwrap();
        assert_eq!(details[0].value.as_deref(), Some("5"));
        assert_eq!(details[1].key.as_deref(), Some("User-Agent"));
        assert_eq!(
            r.initiated_by
                .unwrap()
                .user
                .unwrap()
                .display_name
                .as_deref(),
            Some("Ada")
        );
    }

    #[test]
    fn fast_path_equals_the_general_path_or_declines() {
        let cases = [
            r#"{"id":"a","activityDateTime":"2024-01-09T21:20:02.7215374Z","category":"C","correlationId":"x","result":"success","resultReason":"","activityDisplayName":"Add","loggedByService":"S","operationType":"Assign","initiatedBy":{"user":{"id":"u","displayName":"Ada","userPrincipalName":"a@x","ipAddress":null,"userType":"Member","homeTenantId":null,"homeTenantName":null},"app":null},"targetResources":[{"id":"g","displayName":null,"type":"Group","userPrincipalName":null,"groupType":null,"modifiedProperties":[{"displayName":"P","oldValue":null,"newValue":"\"v\""}]},{"id":"t"}],"additionalDetails":[{"key":"k","value":"v"}],"userAgent":"UA"}"#,
            r#"{"id":"b","activityDateTime":"2024-01-09T21:20:02Z","initiatedBy":{},"targetResources":null,"additionalDetails":[]}"#,
            r#"{"id":"c","activityDateTime":"2024-01-09T21:20:02Z","initiatedBy":{"app":{"appId":"1"}},"userAgent":""}"#,
            r#"{"id":"d","activityDateTime":"2024-01-09T21:20:02Z","additionalDetails":[{"key":"User-Agent","value":"x"}],"userAgent":"y"}"#,
            r#"{"id":"e\u00e9","activityDateTime":"2024-01-09T21:20:02Z","category":"\"q\""}"#,
        ];
        for c in cases {
            let v: Value = serde_json::from_str(c).unwrap();
            let slow = conv(v).unwrap();
            let fast = fast_record(c.as_bytes()).map(AuditRecord::into_owned);
            assert_eq!(fast, Some(slow), "{c}");
        }
        let declined = [
            r#"{"id":"a","activityDateTime":"2024-01-09T21:20:02Z","result":0}"#,
            r#"{"id":"a","activityDateTime":"2024-01-09T21:20:02Z","targetResources":[{"Type":"User"}]}"#,
            r#"{"id":"a","activityDateTime":"2024-01-09T21:20:02Z","extra":1}"#,
            r#"{"id":"a","id":"b","activityDateTime":"2024-01-09T21:20:02Z"}"#,
            r#"{"id":" ","activityDateTime":"2024-01-09T21:20:02Z"}"#,
            r#"{"id":"a","activityDateTime":"soon"}"#,
            r#"{"id":"a"}"#,
            r#"{"value":[]}"#,
            r#"{"id":"a","activityDateTime":"2024-01-09T21:20:02Z","additionalDetails":[{"key":"k","value":5}]}"#,
        ];
        for c in declined {
            assert_eq!(fast_record(c.as_bytes()), None, "{c}");
        }
    }

    /// The scanner reads JSON as serde_json does: whitespace anywhere, escapes (surrogate pairs
    /// included) in values; and declines what is not JSON or not a Graph record as written.
    #[test]
    fn fast_path_reads_json_as_serde_json_does() {
        let accepted = [
            " {\t\"id\" : \"a\" ,\r\n \"activityDateTime\":\"2024-01-09T21:20:02Z\", \"targetResources\" : [ { \"id\" : null } , {} ] , \"initiatedBy\" : { \"user\" : { } } } \n",
            r#"{"id":"a","activityDateTime":"2024-01-09T21:20:02Z","category":"tab\there \"q\" \\ \/ \b\f\n\r \u00e9 \ud83d\ude00 end"}"#,
            r#"{"id":"a","activityDateTime":"2024-01-09T21:20:02Z","targetResources":[{"modifiedProperties":[{"displayName":"X","oldValue":"[\"1\"]","newValue":"[]"}]}],"additionalDetails":[{"key":"k","value":null}]}"#,
            r#"{"id":"é—ü","activityDateTime":"2024-01-09T21:20:02Z","initiatedBy":{"user":null,"app":{"displayName":"Ω"}}}"#,
            r#"{"id":"a","activityDateTime":"2024-01-09T21:20:02Z","initiatedBy":null,"targetResources":[],"additionalDetails":null}"#,
        ];
        for c in accepted {
            let slow = conv(serde_json::from_str(c).unwrap()).unwrap();
            let fast = fast_record(c.as_bytes()).map(AuditRecord::into_owned);
            assert_eq!(fast, Some(slow), "{c}");
        }
        let declined = [
            // Not JSON.
            r#"{"id":"a","activityDateTime":"2024-01-09T21:20:02Z",}"#,
            r#"{"id":"a","activityDateTime":"2024-01-09T21:20:02Z"} x"#,
            r#"{"id":"a","activityDateTime":"2024-01-09T21:20:02Z","targetResources":[{},]}"#,
            "{\"id\":\"a\tb\",\"activityDateTime\":\"2024-01-09T21:20:02Z\"}",
            r#"{"id":"a\ud83d","activityDateTime":"2024-01-09T21:20:02Z"}"#,
            r#"{"id":"a\ude00","activityDateTime":"2024-01-09T21:20:02Z"}"#,
            r#"{"id":"a\x","activityDateTime":"2024-01-09T21:20:02Z"}"#,
            r#"{"id":"a","activityDateTime":"2024-01-09T21:20:02Z""#,
            r#"{"id":"a","activityDateTime":"2024-01-09T21:20:02Z","category":nul}"#,
            r#"{"id":"a" "activityDateTime":"2024-01-09T21:20:02Z"}"#,
            // JSON, but not as Graph writes it: the general path decides.
            r#"{"\u0069d":"a","activityDateTime":"2024-01-09T21:20:02Z"}"#,
            r#"{"id":"a","activityDateTime":"2024-01-09T21:20:02Z","initiatedBy":{"user":{"id":"u","id":"v"}}}"#,
            r#"{"id":"a","activityDateTime":"2024-01-09T21:20:02Z","targetResources":[null]}"#,
            r#"{"id":"a","activityDateTime":"2024-01-09T21:20:02Z","category":true}"#,
            r#"{"id":"a","activityDateTime":"2024-01-09T21:20:02Z","initiatedBy":[]}"#,
            r#"{"id":"a","activityDateTime":"2024-01-09T21:20:02Z","targetResources":{}}"#,
            r#"[{"id":"a","activityDateTime":"2024-01-09T21:20:02Z"}]"#,
            "",
        ];
        for c in declined {
            assert_eq!(fast_record(c.as_bytes()), None, "{c}");
        }
        assert_eq!(fast_record(b"{\"id\":\"\xff\"}"), None);
    }

    #[test]
    fn null_and_empty_lists_stay_distinct() {
        let base = json!({"id": "x", "activityDateTime": "2024-01-01T00:00:00Z", "targetResources": null, "additionalDetails": []});
        let r = conv(base).unwrap();
        assert_eq!(r.target_resources, None);
        assert_eq!(r.additional_details, Some(vec![]));
        assert_eq!(r.initiated_by, None);
    }

    #[test]
    fn wrong_types_name_the_field() {
        let e = conv(json!({"id": "x", "activityDateTime": "2024-01-01T00:00:00Z", "targetResources": "[REMOVED]"})).unwrap_err();
        assert_eq!(e, "`targetResources` must be an array, found a string");
        let e = conv(json!({"id": "x", "activityDateTime": "soon"})).unwrap_err();
        assert!(e.contains("activityDateTime") && e.contains("soon"), "{e}");
        let e = conv(json!({"activityDateTime": "2024-01-01T00:00:00Z"})).unwrap_err();
        assert_eq!(e, "record has no `id`");
        let e = conv(json!({"id": {"a": 1}})).unwrap_err();
        assert_eq!(e, "`id` must be a string, found an object");
    }
}
