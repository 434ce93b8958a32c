//! Output formats: query results (a schema and record batches) printed as a table, CSV, JSON,
//! NDJSON, Parquet, a GitHub markdown table or a self-contained HTML page. Renderers know only
//! batches (DESIGN §1); whole workbook runs are laid out by `workbook::output` from the same
//! pieces.
//!
//! Every format converts values through [`value::value_to_json`] / [`value::value_to_text`]:
//! - timestamps: RFC 3339 with nine fractional digits and `Z` (`2026-01-02T03:04:05.123456700Z`);
//! - nested values (structs, lists, maps): real JSON in `json`/`ndjson`, compact JSON text in CSV,
//!   table, markdown and HTML cells; nulls inside them are `null`;
//! - `Utf8` columns marked with the field metadata `auditbook.dynamic=json` (KQL `dynamic`s held
//!   as JSON text) are real JSON in `json`/`ndjson` and stay text everywhere else (Parquet too);
//! - top-level nulls: `null` in JSON, empty cells elsewhere;
//! - integers stay integers; NaN and infinities are `null` in JSON.
//!
//! Column names are made unique the way Kusto does it (`Id`, `Id1`, ...), so that a join's two
//! `Id` columns stay two keys of a JSON object.

use std::collections::HashSet;
use std::io::Write;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;

use crate::{Error, Result};

pub mod csv;
pub mod html;
pub mod json;
pub mod markdown;
pub mod parquet;
pub mod table;
pub mod value;

pub use value::{value_to_json, value_to_text};

/// How results are printed (`--format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, clap::ValueEnum)]
pub enum OutputFormat {
    /// Aligned text table for a terminal, long cells cut with `…`, a `(N rows)` footer; fits
    /// the terminal's width.
    Table,
    /// RFC 4180 CSV with a header row; nested values as JSON text.
    Csv,
    /// One JSON array of row objects (`[]` when no rows), keys in column order.
    Json,
    /// One JSON object per line.
    Ndjson,
    /// One Parquet file (zstd), the schema and its field metadata kept.
    Parquet,
    /// A GitHub-flavoured markdown table.
    Markdown,
    /// One self-contained HTML page (inline CSS, no scripts, no external assets).
    Html,
}

impl OutputFormat {
    /// The format used when none is given: `table` when stdout is a terminal, `csv` otherwise.
    pub fn default_for_stdout() -> OutputFormat {
        use std::io::IsTerminal;
        if std::io::stdout().is_terminal() {
            OutputFormat::Table
        } else {
            OutputFormat::Csv
        }
    }

    /// The file name extension (without the dot) of a file in this format.
    pub fn extension(self) -> &'static str {
        match self {
            OutputFormat::Table => "txt",
            OutputFormat::Csv => "csv",
            OutputFormat::Json => "json",
            OutputFormat::Ndjson => "ndjson",
            OutputFormat::Parquet => "parquet",
            OutputFormat::Markdown => "md",
            OutputFormat::Html => "html",
        }
    }
}

impl std::fmt::Display for OutputFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use clap::ValueEnum;
        match self.to_possible_value() {
            Some(v) => f.write_str(v.get_name()),
            None => write!(f, "{self:?}"),
        }
    }
}

/// Layout choices that depend on where the output goes rather than on the data.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RenderOptions {
    /// Widest line of a `table`, in terminal columns: long cells are cut (widest columns first)
    /// so that no line wraps. `None`: no limit (files, pipes of unknown width).
    pub width: Option<usize>,
}

impl RenderOptions {
    /// Options for printing to stdout: the terminal's width when stdout is a terminal (env
    /// `COLUMNS`, else the terminal size, else 120), `COLUMNS` when set for a pipe, else no limit.
    pub fn for_stdout() -> RenderOptions {
        RenderOptions {
            width: table::stdout_width(),
        }
    }
}

/// Prints `batches` (all of `schema`) to `out` in `format`, laid out for stdout
/// ([`RenderOptions::for_stdout`]). `schema` matters when there are no batches: the table, CSV,
/// markdown and HTML headers still show the columns, and Parquet keeps the schema.
pub fn print_batches(
    format: OutputFormat,
    schema: &SchemaRef,
    batches: &[RecordBatch],
    out: &mut dyn Write,
) -> Result<()> {
    print_batches_with(format, schema, batches, out, &RenderOptions::for_stdout())
}

/// [`print_batches`] with explicit layout options.
pub fn print_batches_with(
    format: OutputFormat,
    schema: &SchemaRef,
    batches: &[RecordBatch],
    out: &mut dyn Write,
    options: &RenderOptions,
) -> Result<()> {
    let names = unique_names(schema);
    match format {
        OutputFormat::Table => table::write(&names, schema, batches, out, options.width)?,
        OutputFormat::Csv => csv::write(schema, batches, out)?,
        OutputFormat::Json => json::write(schema, batches, out, true)?,
        OutputFormat::Ndjson => json::write(schema, batches, out, false)?,
        OutputFormat::Parquet => parquet::write(schema, batches, out)?,
        OutputFormat::Markdown => markdown::write_table(&names, schema, batches, out)?,
        OutputFormat::Html => {
            let title = "auditbook query result";
            html::write_page_start(title, out)?;
            html::write_table(None, &names, schema, batches, None, out)?;
            html::write_count(row_count(batches), out)?;
            html::write_page_end(out)?;
        }
    }
    out.flush().map_err(io_error)
}

/// An I/O error while writing results (a closed pipe shows up as `ErrorKind::BrokenPipe`).
pub(crate) fn io_error(e: std::io::Error) -> Error {
    Error::io("<output>", e)
}

/// Column names, made unique the way Kusto does (`Id`, `Id1`, `Id2`, ...): a later duplicate gets
/// the smallest numeric suffix that names no other column.
pub fn unique_names(schema: &SchemaRef) -> Vec<String> {
    unique_names_reserving(schema, &[])
}

/// [`unique_names`], where the `reserved` names count as taken already (a column named like one
/// of them gets a suffix too): NDJSON of a workbook adds a `step` key to every row.
pub fn unique_names_reserving(schema: &SchemaRef, reserved: &[&str]) -> Vec<String> {
    let all: HashSet<&str> = schema
        .fields()
        .iter()
        .map(|f| f.name().as_str())
        .chain(reserved.iter().copied())
        .collect();
    let mut used: HashSet<String> = reserved.iter().map(|r| r.to_string()).collect();
    let mut names = Vec::with_capacity(schema.fields().len());
    for field in schema.fields() {
        let mut name = field.name().clone();
        if used.contains(&name) {
            name = (1..)
                .map(|i| format!("{}{i}", field.name()))
                .find(|n| !used.contains(n) && !all.contains(n.as_str()))
                .expect("an unused suffix exists");
        }
        used.insert(name.clone());
        names.push(name);
    }
    names
}

/// Number of rows in `batches`.
pub(crate) fn row_count(batches: &[RecordBatch]) -> usize {
    batches.iter().map(RecordBatch::num_rows).sum()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{ArrayRef, Float64Array, Int64Array, StringArray};
    use arrow::datatypes::{DataType, Field, Schema};
    use serde_json::Value;

    use super::*;
    use crate::record::{
        AuditRecord, InitiatedBy, ModifiedProperty, TargetResource, UserIdentity, records_to_batch,
    };

    /// Output as for a pipe of unknown width (stdout may be a terminal while tests run).
    fn render(format: OutputFormat, schema: &SchemaRef, batches: &[RecordBatch]) -> String {
        let mut out = Vec::new();
        print_batches_with(format, schema, batches, &mut out, &RenderOptions::default()).unwrap();
        String::from_utf8(out).unwrap()
    }

    /// Two audit records, projected to a few columns (timestamp, string, int, nested).
    fn audit_batch() -> RecordBatch {
        let records: Vec<AuditRecord> = vec![
            AuditRecord {
                time_generated: 1_767_323_045_123_456_700,
                activity_date_time: 1_767_323_045_123_456_700,
                id: "Directory_1".into(),
                category: "GroupManagement".into(),
                duration_ms: 12,
                initiated_by: Some(InitiatedBy {
                    user: Some(UserIdentity {
                        display_name: Some("Ada, \"the\" admin".into()),
                        ..Default::default()
                    }),
                    app: None,
                }),
                target_resources: Some(vec![TargetResource {
                    id: Some("g1".into()),
                    type_: Some("Group".into()),
                    modified_properties: Some(vec![ModifiedProperty {
                        display_name: Some("Name".into()),
                        old_value: None,
                        new_value: Some("\"x\"".into()),
                    }]),
                    ..Default::default()
                }]),
                ..Default::default()
            },
            AuditRecord {
                time_generated: 1_767_323_046_000_000_000,
                activity_date_time: 1_767_323_046_000_000_000,
                id: "Directory_2".into(),
                category: "Policy".into(),
                duration_ms: 0,
                initiated_by: None,
                target_resources: Some(vec![]),
                ..Default::default()
            },
        ];
        let batch = records_to_batch(&records).unwrap();
        let schema = batch.schema();
        let pick = [
            "TimeGenerated",
            "Id",
            "Category",
            "DurationMs",
            "InitiatedBy",
            "TargetResources",
        ]
        .map(|n| schema.index_of(n).unwrap());
        batch.project(&pick).unwrap()
    }

    fn small_initiated_by(b: &RecordBatch) -> RecordBatch {
        // InitiatedBy.user has seven fields; keep the expected text short by selecting columns.
        b.project(&[0, 1, 3]).unwrap()
    }

    #[test]
    fn json_is_one_array_of_row_objects_with_nested_json() {
        let b = audit_batch();
        let text = render(OutputFormat::Json, &b.schema(), std::slice::from_ref(&b));
        let parsed: Value = serde_json::from_str(&text).unwrap();
        let rows = parsed.as_array().unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0]["TimeGenerated"], "2026-01-02T03:04:05.123456700Z");
        assert_eq!(rows[1]["TimeGenerated"], "2026-01-02T03:04:06.000000000Z");
        assert_eq!(rows[0]["DurationMs"], 12);
        assert_eq!(
            rows[0]["InitiatedBy"]["user"]["displayName"],
            "Ada, \"the\" admin"
        );
        assert_eq!(rows[0]["InitiatedBy"]["app"], Value::Null);
        assert_eq!(
            rows[0]["TargetResources"][0]["modifiedProperties"][0]["newValue"],
            "\"x\""
        );
        assert_eq!(
            rows[0]["TargetResources"][0]["modifiedProperties"][0]["oldValue"],
            Value::Null
        );
        assert_eq!(rows[1]["InitiatedBy"], Value::Null);
        assert_eq!(rows[1]["TargetResources"], serde_json::json!([]));
        let keys: Vec<_> = rows[0].as_object().unwrap().keys().cloned().collect();
        assert_eq!(
            keys,
            [
                "TimeGenerated",
                "Id",
                "Category",
                "DurationMs",
                "InitiatedBy",
                "TargetResources"
            ]
        );

        let small = small_initiated_by(&b);
        assert_eq!(
            render(
                OutputFormat::Json,
                &small.schema(),
                std::slice::from_ref(&small)
            ),
            "[\n\
             {\"TimeGenerated\":\"2026-01-02T03:04:05.123456700Z\",\"Id\":\"Directory_1\",\"DurationMs\":12},\n\
             {\"TimeGenerated\":\"2026-01-02T03:04:06.000000000Z\",\"Id\":\"Directory_2\",\"DurationMs\":0}\n\
             ]\n"
        );
    }

    #[test]
    fn empty_results() {
        let b = small_initiated_by(&audit_batch());
        let schema = b.schema();
        assert_eq!(render(OutputFormat::Json, &schema, &[]), "[]\n");
        assert_eq!(
            render(OutputFormat::Json, &schema, &[b.slice(0, 0)]),
            "[]\n"
        );
        assert_eq!(render(OutputFormat::Ndjson, &schema, &[]), "");
        assert_eq!(
            render(OutputFormat::Csv, &schema, &[]),
            "TimeGenerated,Id,DurationMs\n"
        );
        assert_eq!(
            render(OutputFormat::Table, &schema, &[]),
            " TimeGenerated | Id | DurationMs \n\
             ---------------+----+------------\n\
             (0 rows)\n"
        );
    }

    #[test]
    fn ndjson_is_one_object_per_line() {
        let b = audit_batch();
        let text = render(
            OutputFormat::Ndjson,
            &b.schema(),
            &[b.slice(1, 1), b.slice(0, 1)],
        );
        assert_eq!(
            text,
            "{\"TimeGenerated\":\"2026-01-02T03:04:06.000000000Z\",\"Id\":\"Directory_2\",\"Category\":\"Policy\",\
             \"DurationMs\":0,\"InitiatedBy\":null,\"TargetResources\":[]}\n\
             {\"TimeGenerated\":\"2026-01-02T03:04:05.123456700Z\",\"Id\":\"Directory_1\",\"Category\":\"GroupManagement\",\
             \"DurationMs\":12,\"InitiatedBy\":{\"user\":{\"id\":null,\"displayName\":\"Ada, \\\"the\\\" admin\",\
             \"userPrincipalName\":null,\"ipAddress\":null,\"userType\":null,\"homeTenantId\":null,\"homeTenantName\":null},\
             \"app\":null},\"TargetResources\":[{\"id\":\"g1\",\"displayName\":null,\"type\":\"Group\",\
             \"userPrincipalName\":null,\"groupType\":null,\"modifiedProperties\":[{\"displayName\":\"Name\",\
             \"oldValue\":null,\"newValue\":\"\\\"x\\\"\"}]}]}\n"
        );
    }

    #[test]
    fn csv_quotes_per_rfc4180_and_embeds_nested_json() {
        let b = audit_batch();
        let b = b.project(&[1, 4, 5]).unwrap();
        assert_eq!(
            render(OutputFormat::Csv, &b.schema(), std::slice::from_ref(&b)),
            "Id,InitiatedBy,TargetResources\n\
             Directory_1,\"{\"\"user\"\":{\"\"id\"\":null,\"\"displayName\"\":\"\"Ada, \\\"\"the\\\"\" admin\"\",\
             \"\"userPrincipalName\"\":null,\"\"ipAddress\"\":null,\"\"userType\"\":null,\"\"homeTenantId\"\":null,\
             \"\"homeTenantName\"\":null},\"\"app\"\":null}\",\"[{\"\"id\"\":\"\"g1\"\",\"\"displayName\"\":null,\
             \"\"type\"\":\"\"Group\"\",\"\"userPrincipalName\"\":null,\"\"groupType\"\":null,\"\"modifiedProperties\"\":\
             [{\"\"displayName\"\":\"\"Name\"\",\"\"oldValue\"\":null,\"\"newValue\"\":\"\"\\\"\"x\\\"\"\"\"}]}]\"\n\
             Directory_2,,[]\n"
        );
    }

    #[test]
    fn csv_nulls_are_empty_and_text_is_quoted_when_needed() {
        let schema = Arc::new(Schema::new(vec![
            Field::new("s", DataType::Utf8, true),
            Field::new("n", DataType::Int64, true),
            Field::new("f", DataType::Float64, true),
        ]));
        let columns: Vec<ArrayRef> = vec![
            Arc::new(StringArray::from(vec![
                Some("a,b"),
                Some("line1\nline2"),
                None,
                Some(""),
            ])),
            Arc::new(Int64Array::from(vec![Some(1), None, Some(-3), Some(0)])),
            Arc::new(Float64Array::from(vec![
                Some(0.5),
                Some(f64::NAN),
                None,
                Some(1e21),
            ])),
        ];
        let b = RecordBatch::try_new(schema.clone(), columns).unwrap();
        assert_eq!(
            render(OutputFormat::Csv, &schema, std::slice::from_ref(&b)),
            "s,n,f\n\"a,b\",1,0.5\n\"line1\nline2\",,NaN\n,-3,\n,0,1e+21\n"
        );
        assert_eq!(
            render(OutputFormat::Ndjson, &schema, &[b]),
            "{\"s\":\"a,b\",\"n\":1,\"f\":0.5}\n\
             {\"s\":\"line1\\nline2\",\"n\":null,\"f\":null}\n\
             {\"s\":null,\"n\":-3,\"f\":null}\n\
             {\"s\":\"\",\"n\":0,\"f\":1e+21}\n"
        );
    }

    #[test]
    fn table_is_aligned_with_a_row_count() {
        let b = small_initiated_by(&audit_batch());
        assert_eq!(
            render(OutputFormat::Table, &b.schema(), std::slice::from_ref(&b)),
            " TimeGenerated                  | Id          | DurationMs \n\
             --------------------------------+-------------+------------\n\
             \x202026-01-02T03:04:05.123456700Z | Directory_1 |         12 \n\
             \x202026-01-02T03:04:06.000000000Z | Directory_2 |          0 \n\
             (2 rows)\n"
        );
        let one = b.slice(0, 1);
        assert!(render(OutputFormat::Table, &b.schema(), &[one]).ends_with("(1 row)\n"));
    }

    #[test]
    fn table_truncates_long_nested_cells() {
        let b = audit_batch().project(&[1, 5]).unwrap();
        let text = render(OutputFormat::Table, &b.schema(), std::slice::from_ref(&b));
        let line = text.lines().nth(2).unwrap();
        assert!(
            line.contains(r#"[{"id":"g1","displayName":null,"type":"Group","userPrincipa…"#),
            "{text}"
        );
        assert!(text.lines().nth(3).unwrap().contains("[]"), "{text}");
    }

    #[test]
    fn duplicate_names_get_kusto_suffixes() {
        let schema = Arc::new(Schema::new(vec![
            Field::new("Id", DataType::Int64, true),
            Field::new("Id", DataType::Int64, true),
            Field::new("Id1", DataType::Int64, true),
            Field::new("Id", DataType::Int64, true),
        ]));
        assert_eq!(unique_names(&schema), ["Id", "Id2", "Id1", "Id3"]);
        let columns: Vec<ArrayRef> = (0..4)
            .map(|i| Arc::new(Int64Array::from(vec![i])) as ArrayRef)
            .collect();
        let b = RecordBatch::try_new(schema.clone(), columns).unwrap();
        assert_eq!(
            render(OutputFormat::Ndjson, &schema, &[b]),
            "{\"Id\":0,\"Id2\":1,\"Id1\":2,\"Id3\":3}\n"
        );
    }

    #[test]
    fn format_names() {
        assert_eq!(OutputFormat::Ndjson.to_string(), "ndjson");
        assert_eq!(OutputFormat::Table.to_string(), "table");
    }
}
