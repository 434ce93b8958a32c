//! The admin center's "Download" of audit logs as CSV: 86 columns in a fixed order (header text
//! follows the portal's language, so columns are taken by position), at most 3 targets with 5
//! modified properties each and 6 additional details, timestamps in the portal's form, and no
//! record id: a stable one is derived from the row's content so re-ingesting stays idempotent.

use sha2::{Digest, Sha256};

use super::diagnostic::hex;
use crate::record::{
    AppIdentity, AuditRecord, InitiatedBy, KeyValue, ModifiedProperty, TargetResource, UserIdentity,
};
use crate::time::parse_timestamp;

pub const TARGETS: usize = 3;
pub const PROPERTIES_PER_TARGET: usize = 5;
pub const DETAILS: usize = 6;
const ACTOR_COLUMNS: [&str; 17] = [
    "Date (UTC)",
    "CorrelationId",
    "Service",
    "Category",
    "Activity",
    "Result",
    "ResultReason",
    "User Agent",
    "ActorType",
    "ActorDisplayName",
    "ActorObjectId",
    "ActorUserPrincipalName",
    "IPAddress",
    "ActorHomeTenantId",
    "ActorHomeTenantName",
    "ActorServicePrincipalId",
    "ActorServicePrincipalName",
];
const TARGET_WIDTH: usize = 4 + PROPERTIES_PER_TARGET * 3;
const DETAILS_START: usize = ACTOR_COLUMNS.len() + TARGETS * TARGET_WIDTH;
/// Number of columns of the download.
pub const COLUMNS: usize = DETAILS_START + DETAILS * 2;

/// The English header of the download, in order.
pub fn header() -> Vec<String> {
    let mut h: Vec<String> = ACTOR_COLUMNS.iter().map(|s| s.to_string()).collect();
    for t in 1..=TARGETS {
        for part in ["Type", "DisplayName", "ObjectId", "UserPrincipalName"] {
            h.push(format!("Target{t}{part}"));
        }
        for p in 1..=PROPERTIES_PER_TARGET {
            for part in ["Name", "OldValue", "NewValue"] {
                h.push(format!("Target{t}ModifiedProperty{p}{part}"));
            }
        }
    }
    for d in 1..=DETAILS {
        h.push(format!("AdditionalDetail{d}Key"));
        h.push(format!("AdditionalDetail{d}Value"));
    }
    h
}

/// Whether a header row is the download's: English names, or 86 columns whose target and detail
/// columns follow the pattern (the portal translates the first ones).
pub fn is_portal_header(fields: &[String]) -> bool {
    fields.len() == COLUMNS
        && (fields[0].contains("UTC")
            || fields[17].starts_with("Target1")
            || fields[1] == "CorrelationId")
}

/// Checks a header. Ok(None): English. Ok(Some(note)): other names, mapped by position.
pub fn check_header(fields: &[String]) -> Result<Option<String>, String> {
    let expected = header();
    if fields.len() != COLUMNS {
        let unknown: Vec<&str> = fields
            .iter()
            .filter(|f| !expected.iter().any(|e| e == *f))
            .map(String::as_str)
            .take(10)
            .collect();
        return Err(format!(
            "expected the admin center's {COLUMNS} columns, found {}{}",
            fields.len(),
            if unknown.is_empty() {
                String::new()
            } else {
                format!(
                    "; unknown column(s): {}",
                    unknown
                        .iter()
                        .map(|u| format!("`{u}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            }
        ));
    }
    let differing: Vec<String> = fields
        .iter()
        .zip(&expected)
        .enumerate()
        .filter(|(_, (f, e))| f != e)
        .map(|(i, (f, e))| format!("column {} `{f}` taken as `{e}`", i + 1))
        .collect();
    if differing.is_empty() {
        Ok(None)
    } else {
        Ok(Some(format!(
            "header names differ from the English download ({} of {COLUMNS}), mapping by position: {}{}",
            differing.len(),
            differing
                .iter()
                .take(3)
                .cloned()
                .collect::<Vec<_>>()
                .join("; "),
            if differing.len() > 3 { "; ..." } else { "" }
        )))
    }
}

fn opt(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_string())
}

/// A converted row, and whether it filled a capped slot (so the source may have had more).
pub struct PortalRow {
    pub record: AuditRecord,
    pub possibly_truncated: bool,
}

/// Converts one data row of exactly [`COLUMNS`] fields.
pub fn record_from_row(f: &[String]) -> Result<PortalRow, String> {
    if f.len() != COLUMNS {
        return Err(format!(
            "row has {} fields, the header has {COLUMNS}",
            f.len()
        ));
    }
    let time = parse_timestamp(&f[0]).map_err(|e| format!("`Date (UTC)`: {e}"))?;
    let actor_type = f[8].to_ascii_lowercase();
    let is_app = actor_type.contains("app") || actor_type.contains("service");
    let user = (!is_app && f[9..15].iter().any(|s| !s.is_empty())).then(|| UserIdentity {
        id: opt(&f[10]),
        display_name: opt(&f[9]),
        user_principal_name: opt(&f[11]),
        ip_address: opt(&f[12]),
        user_type: None,
        home_tenant_id: opt(&f[13]),
        home_tenant_name: opt(&f[14]),
    });
    let app = (is_app || !f[15].is_empty() || !f[16].is_empty()).then(|| AppIdentity {
        app_id: None,
        display_name: if is_app { opt(&f[9]) } else { None },
        service_principal_id: opt(&f[15]).or_else(|| if is_app { opt(&f[10]) } else { None }),
        service_principal_name: opt(&f[16]),
    });
    let initiated_by = (user.is_some() || app.is_some()).then_some(InitiatedBy { user, app });

    let mut truncated = false;
    let mut targets = Vec::new();
    for t in 0..TARGETS {
        let base = ACTOR_COLUMNS.len() + t * TARGET_WIDTH;
        let cols = &f[base..base + TARGET_WIDTH];
        if cols.iter().all(String::is_empty) {
            continue;
        }
        let mut props = Vec::new();
        for p in 0..PROPERTIES_PER_TARGET {
            let pc = &cols[4 + p * 3..4 + p * 3 + 3];
            if pc.iter().any(|s| !s.is_empty()) {
                props.push(ModifiedProperty {
                    display_name: opt(&pc[0]),
                    old_value: opt(&pc[1]),
                    new_value: opt(&pc[2]),
                });
            }
        }
        truncated |= props.len() == PROPERTIES_PER_TARGET;
        truncated |= t == TARGETS - 1;
        targets.push(TargetResource {
            type_: opt(&cols[0]),
            display_name: opt(&cols[1]),
            id: opt(&cols[2]),
            user_principal_name: opt(&cols[3]),
            group_type: None,
            modified_properties: Some(props),
        });
    }
    let mut details: Vec<KeyValue> = (0..DETAILS)
        .map(|d| (&f[DETAILS_START + d * 2], &f[DETAILS_START + d * 2 + 1]))
        .filter(|(k, v)| !k.is_empty() || !v.is_empty())
        .map(|(k, v)| KeyValue {
            key: opt(k),
            value: opt(v),
        })
        .collect();
    truncated |= details.len() == DETAILS;
    if !f[7].is_empty()
        && !details
            .iter()
            .any(|d| d.key.as_deref() == Some("User-Agent"))
    {
        details.push(KeyValue {
            key: Some("User-Agent".into()),
            value: Some(f[7].clone()),
        });
    }

    let mut hasher = Sha256::new();
    for field in f {
        hasher.update(field.as_bytes());
        hasher.update([0x1f]);
    }
    let id = format!("portal_{}", hex(&hasher.finalize()[..16]));
    let record = AuditRecord {
        time_generated: time,
        activity_date_time: time,
        id,
        correlation_id: f[1].clone(),
        logged_by_service: f[2].clone(),
        category: f[3].clone(),
        activity_display_name: f[4].clone(),
        result: f[5].to_ascii_lowercase(),
        result_reason: f[6].clone(),
        initiated_by,
        target_resources: Some(targets),
        additional_details: Some(details),
        ..Default::default()
    };
    Ok(PortalRow {
        record,
        possibly_truncated: truncated,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row() -> Vec<String> {
        let mut f = vec![String::new(); COLUMNS];
        f[0] = "10/1/2026 2:05:09 PM".into();
        f[1] = "corr".into();
        f[2] = "Core Directory".into();
        f[3] = "UserManagement".into();
        f[4] = "Add app role assignment grant to user".into();
        f[5] = "Success".into();
        f[8] = "Application".into();
        f[9] = "Azure AD Identity Governance - User Management".into();
        f[15] = "sp-1".into();
        f[17] = "ServicePrincipal".into();
        f[18] = "Salesforce".into();
        f[19] = "sp-app".into();
        f[21] = "AppRole.DisplayName".into();
        f[23] = "\"Reader\"".into();
        f[DETAILS_START] = "AccessPackageId".into();
        f[DETAILS_START + 1] = "ap-1".into();
        f
    }

    #[test]
    fn header_has_86_columns_matching_the_portal() {
        let h = header();
        assert_eq!(h.len(), 86);
        assert_eq!(h[17], "Target1Type");
        assert_eq!(h[85], "AdditionalDetail6Value");
        assert_eq!(check_header(&h).unwrap(), None);
        let mut es = h.clone();
        es[0] = "Fecha (UTC)".into();
        assert!(
            check_header(&es)
                .unwrap()
                .unwrap()
                .contains("`Fecha (UTC)` taken as `Date (UTC)`")
        );
        let e = check_header(
            &h[..80]
                .iter()
                .cloned()
                .chain(["Bogus".to_string()])
                .collect::<Vec<_>>(),
        )
        .unwrap_err();
        assert!(e.contains("found 81") && e.contains("`Bogus`"), "{e}");
    }

    #[test]
    fn row_maps_by_position_and_id_is_stable() {
        let a = record_from_row(&row()).unwrap();
        let b = record_from_row(&row()).unwrap();
        assert_eq!(a.record.id, b.record.id);
        assert!(a.record.id.starts_with("portal_"));
        let r = a.record;
        assert_eq!(r.result, "success");
        assert_eq!(
            r.activity_date_time,
            parse_timestamp("2026-10-01T14:05:09Z").unwrap()
        );
        let app = r.initiated_by.unwrap().app.unwrap();
        assert_eq!(
            app.display_name.as_deref(),
            Some("Azure AD Identity Governance - User Management")
        );
        assert_eq!(app.service_principal_id.as_deref(), Some("sp-1"));
        let t = &r.target_resources.unwrap()[0];
        assert_eq!(t.id.as_deref(), Some("sp-app"));
        let p = &t.modified_properties.as_ref().unwrap()[0];
        assert_eq!(
            (
                p.display_name.as_deref(),
                p.old_value.as_deref(),
                p.new_value.as_deref()
            ),
            (Some("AppRole.DisplayName"), None, Some("\"Reader\""))
        );
        assert_eq!(
            r.additional_details.unwrap()[0].value.as_deref(),
            Some("ap-1")
        );
        let mut other = row();
        other[4] = "Remove app role assignment from user".into();
        assert_ne!(record_from_row(&other).unwrap().record.id, b.record.id);
    }
}
