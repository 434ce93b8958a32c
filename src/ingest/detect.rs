//! Which export format a file holds, from its path and its first bytes.

use std::fmt;
use std::path::Path;

use super::json_stream::looks_like_json_lines;
use super::{log_analytics, portal_csv, snapshot};

/// The export formats auditbook reads (`--format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum InputFormat {
    /// Detect per file.
    Auto,
    /// Microsoft Graph directoryAudits: a page, an array of pages, an array of records, or NDJSON.
    Graph,
    /// Log Analytics workspace export: JSON rows, the query API's tables, or CSV.
    LogAnalytics,
    /// Diagnostic settings: storage archive PT1H.json (JSON lines) or {"records":[...]}.
    Diagnostic,
    /// Admin center download as CSV (86 columns).
    PortalCsv,
    /// Admin center download as JSON (Graph-shaped records).
    PortalJson,
    /// Entitlement-management state from Graph: a snapshot folder of collection files
    /// (users.json, assignments.json, groups/<id>/members.json, ...) into the Entra* tables.
    Snapshot,
}

impl fmt::Display for InputFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use clap::ValueEnum;
        f.write_str(self.to_possible_value().unwrap().get_name())
    }
}

/// How a file's records are laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Layout {
    /// One JSON value a line.
    JsonLines,
    /// One JSON document (array or object).
    JsonDocument,
    /// Comma-separated values with a header row.
    Csv,
}

impl fmt::Display for Layout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Layout::JsonLines => "JSON lines",
            Layout::JsonDocument => "JSON document",
            Layout::Csv => "CSV",
        })
    }
}

/// What detection concluded about a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Detected {
    Empty,
    Export(InputFormat, Layout),
}

/// Why a file is not an export auditbook can read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Undetectable(pub String);

fn contains(head: &[u8], needle: &str) -> bool {
    head.windows(needle.len()).any(|w| w == needle.as_bytes())
}

/// The layout of a file's content (JSON lines, JSON document or CSV), or why it is none of them.
pub fn layout(head: &[u8]) -> Result<Option<Layout>, Undetectable> {
    let text = head.trim_ascii_start();
    if text.is_empty() {
        return Ok(None);
    }
    if head.contains(&0) {
        return Err(Undetectable(
            "binary content (NUL bytes): not a text export".into(),
        ));
    }
    if let Err(e) = std::str::from_utf8(head)
        && e.error_len().is_some()
    {
        return Err(Undetectable(format!(
            "not UTF-8 text (invalid byte at offset {}): not a text export",
            e.valid_up_to()
        )));
    }
    Ok(Some(match text[0] {
        b'{' if looks_like_json_lines(text) => Layout::JsonLines,
        b'{' | b'[' => Layout::JsonDocument,
        _ => Layout::Csv,
    }))
}

/// Detects the format of a file from its path and first bytes (BOM already removed).
pub fn detect(path: &Path, head: &[u8]) -> Result<Detected, Undetectable> {
    let Some(layout) = layout(head)? else {
        return Ok(Detected::Empty);
    };
    let path_text = path.to_string_lossy().to_ascii_lowercase();
    let format = match layout {
        Layout::Csv => {
            let first_line = head.split(|&b| b == b'\n').next().unwrap_or_default();
            let fields = csv_fields(first_line);
            if portal_csv::is_portal_header(&fields) {
                InputFormat::PortalCsv
            } else if fields
                .iter()
                .any(|f| f.starts_with("TimeGenerated") || f == "ActivityDateTime")
            {
                InputFormat::LogAnalytics
            } else {
                return Err(Undetectable(format!(
                    "unrecognised CSV header (neither the admin center's 86-column download nor a Log Analytics export): {}",
                    fields
                        .iter()
                        .take(8)
                        .map(|f| format!("`{f}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            }
        }
        Layout::JsonLines | Layout::JsonDocument => {
            if snapshot::looks_like_snapshot(path, head) {
                InputFormat::Snapshot
            } else if path_text.contains("insights-logs-auditlogs")
                || contains(head, "\"records\"")
                || (contains(head, "\"properties\"") && contains(head, "\"operationName\""))
            {
                InputFormat::Diagnostic
            } else if contains(head, "\"tables\"") || contains(head, "\"TimeGenerated\"") {
                InputFormat::LogAnalytics
            } else if contains(head, "\"activityDateTime\"")
                || contains(head, "\"@odata.context\"")
                || contains(head, "\"value\"")
                || contains(head, "\"activityDisplayName\"")
            {
                InputFormat::Graph
            } else {
                return Err(Undetectable(
                    "JSON without the members of any known export (activityDateTime, records/properties, TimeGenerated, tables)".into(),
                ));
            }
        }
    };
    Ok(Detected::Export(format, layout))
}

/// The fields of one CSV line (the header), unquoted.
fn csv_fields(line: &[u8]) -> Vec<String> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(line);
    reader
        .records()
        .next()
        .and_then(Result::ok)
        .map(|r| {
            r.iter()
                .map(|f| log_analytics::column_name(f).unwrap_or_else(|_| f.to_string()))
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn det(path: &str, head: &str) -> Result<Detected, Undetectable> {
        detect(Path::new(path), head.as_bytes())
    }

    #[test]
    fn json_forms() {
        use InputFormat::*;
        use Layout::*;
        assert_eq!(
            det("a.json", "{\"@odata.context\": \"x\",\n\"value\": [").unwrap(),
            Detected::Export(Graph, JsonDocument)
        );
        assert_eq!(
            det("a.json", "[{\"id\":\"1\",\"activityDateTime\":\"x\"}]").unwrap(),
            Detected::Export(Graph, JsonDocument)
        );
        assert_eq!(
            det("a.ndjson", "{\"id\":\"1\",\"activityDateTime\":\"x\"}\n{}").unwrap(),
            Detected::Export(Graph, JsonLines)
        );
        assert_eq!(
            det(
                "x/insights-logs-auditlogs/tenantId=t/y=2026/m=01/d=01/h=00/m=00/PT1H.json",
                "{\"time\":\"t\",\"properties\":{}}\r\n"
            )
            .unwrap(),
            Detected::Export(Diagnostic, JsonLines)
        );
        assert_eq!(
            det("eh.json", "{\"records\": [").unwrap(),
            Detected::Export(Diagnostic, JsonDocument)
        );
        assert_eq!(
            det("la.json", "{\"tables\":[{").unwrap(),
            Detected::Export(LogAnalytics, JsonDocument)
        );
        assert_eq!(
            det("la.json", "[{\"TimeGenerated\":\"x\"}]").unwrap(),
            Detected::Export(LogAnalytics, JsonDocument)
        );
        // Snapshot collections: by context, or by name when nothing looks like an audit log.
        assert_eq!(
            det(
                "x.json",
                "{\"@odata.context\": \"https://graph.microsoft.com/v1.0/$metadata#identityGovernance/entitlementManagement/assignments(target(),accessPackage(),assignmentPolicy())\",\"value\":["
            )
            .unwrap(),
            Detected::Export(Snapshot, JsonDocument)
        );
        assert_eq!(
            det(
                "snap/users.2.json",
                "{\"value\":[{\"id\":\"u\"}]}\n{\"value\":[]}\n"
            )
            .unwrap(),
            Detected::Export(Snapshot, JsonLines)
        );
        assert_eq!(
            det(
                "users.json",
                "{\"@odata.context\": \"https://graph.microsoft.com/v1.0/$metadata#auditLogs/directoryAudits\",\n\"value\": ["
            )
            .unwrap(),
            Detected::Export(Graph, JsonDocument)
        );
    }

    #[test]
    fn csv_forms_and_failures() {
        let portal = crate::ingest::portal_csv::header()
            .iter()
            .map(|h| format!("\"{h}\""))
            .collect::<Vec<_>>()
            .join(",");
        assert_eq!(
            det("a.csv", &portal).unwrap(),
            Detected::Export(InputFormat::PortalCsv, Layout::Csv)
        );
        assert_eq!(
            det("a.csv", "TimeGenerated [UTC],Id,OperationName\n").unwrap(),
            Detected::Export(InputFormat::LogAnalytics, Layout::Csv)
        );
        assert!(
            det("a.csv", "name,age\n")
                .unwrap_err()
                .0
                .contains("`name`, `age`")
        );
        assert_eq!(det("a.json", "  \n").unwrap(), Detected::Empty);
        assert!(
            det("a.bin", "PK\u{3}\u{4}\0\0")
                .unwrap_err()
                .0
                .contains("binary")
        );
    }
}
