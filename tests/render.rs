//! Output formats of query results and of whole workbook runs, through the library: the JSON
//! contract, CSV quoting, Parquet round trips, markdown and HTML escaping, reports with labels,
//! `noDataMessage` and the row-limit warning, width-limited tables, and `--output DIR` files.

use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, Int64Array, RecordBatch, StringArray, StructArray,
    TimestampNanosecondArray,
};
use arrow::datatypes::{DataType, Field, Fields, Schema, SchemaRef, TimeUnit};
use auditbook::Error;
use auditbook::render::{OutputFormat, RenderOptions, print_batches_with};
use auditbook::workbook::output::{write_run_to, write_run_with};
use auditbook::workbook::{RunResult, StepResult, TableResult};
use clap::ValueEnum;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use serde_json::{Value, json};

const T0: i64 = 1_767_323_045_123_456_700; // 2026-01-02T03:04:05.123456700Z
const START: i64 = 1_766_793_600_000_000_000; // 2025-12-27T00:00:00Z
const END: i64 = 1_767_398_400_000_000_000; // 2026-01-03T00:00:00Z

/// The schema of the main table: a timestamp, awkward text, a count, a KQL `dynamic` held as
/// JSON text (field metadata), and a nested struct.
fn events_schema() -> SchemaRef {
    let dynamic = Field::new("Props", DataType::Utf8, true).with_metadata(HashMap::from([(
        "auditbook.dynamic".to_string(),
        "json".to_string(),
    )]));
    Arc::new(Schema::new(vec![
        Field::new(
            "TimeGenerated",
            DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into())),
            true,
        ),
        Field::new("Activity", DataType::Utf8, true),
        Field::new("Count", DataType::Int64, true),
        dynamic,
        Field::new(
            "Target",
            DataType::Struct(Fields::from(vec![
                Field::new("id", DataType::Utf8, true),
                Field::new("n", DataType::Int64, true),
            ])),
            true,
        ),
    ]))
}

const ACTIVITIES: [&str; 3] = [
    "Add member, \"owner\"",
    "line1\nline2 | <script>alert(1)</script>",
    "Update_user",
];

fn events_batch() -> RecordBatch {
    let schema = events_schema();
    let target = StructArray::from(vec![
        (
            Arc::new(Field::new("id", DataType::Utf8, true)),
            Arc::new(StringArray::from(vec![Some("g1"), None, Some("u|3")])) as ArrayRef,
        ),
        (
            Arc::new(Field::new("n", DataType::Int64, true)),
            Arc::new(Int64Array::from(vec![1, 2, 3])) as ArrayRef,
        ),
    ]);
    let columns: Vec<ArrayRef> = vec![
        Arc::new(
            TimestampNanosecondArray::from(vec![T0, T0 + 1_000_000_000, T0 + 7])
                .with_timezone("UTC"),
        ),
        Arc::new(StringArray::from(ACTIVITIES.to_vec())),
        Arc::new(Int64Array::from(vec![Some(12), None, Some(3)])),
        Arc::new(StringArray::from(vec![
            Some(r#"{"a":1,"b":[true,null]}"#),
            Some("[1,2]"),
            None,
        ])),
        Arc::new(target),
    ];
    RecordBatch::try_new(schema, columns).unwrap()
}

fn events_table() -> TableResult {
    let batch = events_batch();
    TableResult {
        name: "query - 2".into(),
        title: Some("Failed operations".into()),
        columns: vec![
            ("TimeGenerated".into(), "datetime".into()),
            ("Activity".into(), "string".into()),
            ("Count".into(), "long".into()),
            ("Props".into(), "dynamic".into()),
            ("Target".into(), "dynamic".into()),
        ],
        labels: vec![
            ("Count".into(), "Events".into()),
            ("TimeGenerated".into(), "When".into()),
        ],
        schema: batch.schema(),
        batches: vec![batch.slice(0, 2), batch.slice(2, 1)],
        truncated: true,
        total_rows: 12345,
        no_data_message: None,
        warnings: vec!["showing 3 of 12345 rows (gridSettings.rowLimit)".into()],
    }
}

fn empty_table() -> TableResult {
    let schema = Arc::new(Schema::new(vec![Field::new("User", DataType::Utf8, true)]));
    TableResult {
        name: "Risky users".into(),
        title: Some("Nothing here".into()),
        columns: vec![("User".into(), "string".into())],
        labels: vec![],
        schema,
        batches: vec![],
        truncated: false,
        total_rows: 0,
        no_data_message: Some("All clear: no risky users".into()),
        warnings: vec![],
    }
}

fn run_result(tables: Vec<TableResult>) -> RunResult {
    let mut steps = vec![StepResult::Text {
        name: "text - 0".into(),
        markdown: "## Overview\n\nSee <script>alert('md')</script> **bold** and \
                   [the docs](https://learn.microsoft.com).\n\n- one\n- two\n"
            .into(),
    }];
    steps.extend(tables.into_iter().map(StepResult::Table));
    steps.push(StepResult::Notice {
        name: "links - 4".into(),
        message: "links: Portal (https://portal.azure.com)".into(),
    });
    RunResult {
        title: "Entra <audit> overview".into(),
        description: None,
        parameters: vec![
            (
                "TimeRange".into(),
                json!({"start": "2025-12-27T00:00:00Z", "end": "2026-01-03T00:00:00Z", "label": "Last 7 days"}),
            ),
            ("Category".into(), json!("GroupManagement")),
            ("Users".into(), json!(["a", "b"])),
        ],
        time: Some((START, END)),
        steps,
    }
}

fn render_run(result: &RunResult, format: OutputFormat, width: Option<usize>) -> String {
    let mut out = Vec::new();
    write_run_with(result, format, &mut out, &RenderOptions { width }).unwrap();
    String::from_utf8(out).unwrap()
}

#[test]
fn json_follows_the_contract() {
    let result = run_result(vec![events_table(), empty_table()]);
    let text = render_run(&result, OutputFormat::Json, None);
    assert!(
        text.starts_with("{\n  \"workbook\""),
        "pretty-printed: {text}"
    );
    let v: Value = serde_json::from_str(&text).unwrap();
    let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(keys[..4], ["workbook", "parameters", "time", "steps"]);
    assert_eq!(v["workbook"], "Entra <audit> overview");
    assert_eq!(v["parameters"]["Category"], "GroupManagement");
    assert_eq!(v["parameters"]["Users"], json!(["a", "b"]));
    assert_eq!(v["parameters"]["TimeRange"]["label"], "Last 7 days");
    assert_eq!(
        v["time"],
        json!({"start": "2025-12-27T00:00:00.000000000Z", "end": "2026-01-03T00:00:00.000000000Z"})
    );

    let steps = v["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 2, "only table steps: {v}");
    let s = &steps[0];
    let step_keys: Vec<&str> = s.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        step_keys[..6],
        [
            "name",
            "title",
            "columns",
            "rows",
            "truncated",
            "total_rows"
        ]
    );
    assert_eq!(s["name"], "query - 2");
    assert_eq!(s["title"], "Failed operations");
    assert_eq!(s["truncated"], true);
    assert_eq!(s["total_rows"], 12345);
    assert_eq!(
        s["columns"],
        json!([
            {"name": "TimeGenerated", "type": "datetime"},
            {"name": "Activity", "type": "string"},
            {"name": "Count", "type": "long"},
            {"name": "Props", "type": "dynamic"},
            {"name": "Target", "type": "dynamic"},
        ])
    );
    let rows = s["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[0]["TimeGenerated"], "2026-01-02T03:04:05.123456700Z");
    assert_eq!(rows[2]["TimeGenerated"], "2026-01-02T03:04:05.123456707Z");
    assert_eq!(rows[0]["Activity"], ACTIVITIES[0]);
    assert_eq!(rows[1]["Activity"], ACTIVITIES[1]);
    assert_eq!(rows[0]["Count"], 12);
    assert_eq!(rows[1]["Count"], Value::Null);
    // `dynamic` JSON text is real JSON, nested structs are objects.
    assert_eq!(rows[0]["Props"], json!({"a": 1, "b": [true, null]}));
    assert_eq!(rows[1]["Props"], json!([1, 2]));
    assert_eq!(rows[2]["Props"], Value::Null);
    assert_eq!(rows[0]["Target"], json!({"id": "g1", "n": 1}));
    let row_keys: Vec<&str> = rows[0]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        row_keys,
        ["TimeGenerated", "Activity", "Count", "Props", "Target"]
    );

    let e = &steps[1];
    assert_eq!(e["title"], "Nothing here");
    assert_eq!(e["rows"], json!([]));
    assert_eq!(e["truncated"], false);
    assert_eq!(e["columns"], json!([{"name": "User", "type": "string"}]));

    assert_eq!(
        v["notices"][0]["message"],
        "links: Portal (https://portal.azure.com)"
    );
    assert_eq!(v["text"][0]["name"], "text - 0");

    let mut untimed = run_result(vec![]);
    untimed.time = None;
    let v: Value = serde_json::from_str(&render_run(&untimed, OutputFormat::Json, None)).unwrap();
    assert_eq!(v["time"], Value::Null);
    assert_eq!(v["steps"], json!([]));
}

#[test]
fn ndjson_is_one_object_per_row_with_the_step() {
    let mut second = empty_table();
    second.name = "second".into();
    let schema = Arc::new(Schema::new(vec![Field::new("step", DataType::Int64, true)]));
    second.schema = schema.clone();
    second.batches = vec![
        RecordBatch::try_new(
            schema,
            vec![Arc::new(Int64Array::from(vec![7])) as ArrayRef],
        )
        .unwrap(),
    ];
    let text = render_run(
        &run_result(vec![events_table(), second]),
        OutputFormat::Ndjson,
        None,
    );
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 4, "{text}");
    assert_eq!(lines[0]["step"], "query - 2");
    assert_eq!(lines[0]["Props"]["b"], json!([true, null]));
    assert_eq!(lines[2]["TimeGenerated"], "2026-01-02T03:04:05.123456707Z");
    // A column named `step` keeps its value under another key.
    assert_eq!(lines[3], json!({"step": "second", "step1": 7}));
    let keys: Vec<&str> = lines[0]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys[0], "step");
}

fn read_csv(text: &str) -> Vec<Vec<String>> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes())
        .records()
        .map(|r| r.unwrap().iter().map(String::from).collect())
        .collect()
}

#[test]
fn csv_of_one_table_is_plain_rfc4180() {
    let text = render_run(&run_result(vec![events_table()]), OutputFormat::Csv, None);
    assert!(
        text.starts_with("TimeGenerated,Activity,Count,Props,Target\n"),
        "header = column names, not labels: {text}"
    );
    assert!(text.contains("\"Add member, \"\"owner\"\"\""), "{text}");
    assert!(text.contains("\"line1\nline2 | <script>"), "{text}");
    let rows = read_csv(&text);
    assert_eq!(rows.len(), 4);
    assert_eq!(
        rows[1],
        [
            "2026-01-02T03:04:05.123456700Z",
            ACTIVITIES[0],
            "12",
            r#"{"a":1,"b":[true,null]}"#,
            r#"{"id":"g1","n":1}"#,
        ]
    );
    assert_eq!(rows[2][1], ACTIVITIES[1]);
    assert_eq!(rows[2][2], "", "null is empty");
    assert_eq!(rows[2][4], r#"{"id":null,"n":2}"#);
}

#[test]
fn csv_of_several_tables_names_each() {
    let text = render_run(
        &run_result(vec![events_table(), empty_table()]),
        OutputFormat::Csv,
        None,
    );
    assert!(text.starts_with("# query - 2\nTimeGenerated,"), "{text}");
    assert!(text.ends_with("\n\n# Risky users\nUser\n"), "{text}");
    assert!(!text.contains("Overview"), "text items are omitted: {text}");
}

fn read_parquet(bytes: Vec<u8>) -> Vec<RecordBatch> {
    let mut file = tempfile::tempfile().unwrap();
    std::io::Write::write_all(&mut file, &bytes).unwrap();
    ParquetRecordBatchReaderBuilder::try_new(file)
        .unwrap()
        .build()
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

#[test]
fn parquet_round_trips_rows_types_and_metadata() {
    let table = events_table();
    let text = {
        let mut out = Vec::new();
        write_run_with(
            &run_result(vec![table.clone()]),
            OutputFormat::Parquet,
            &mut out,
            &RenderOptions::default(),
        )
        .unwrap();
        out
    };
    assert_eq!(&text[..4], b"PAR1");
    let batches = read_parquet(text);
    let back = arrow::compute::concat_batches(&batches[0].schema(), &batches).unwrap();
    let original = arrow::compute::concat_batches(&table.schema, &table.batches).unwrap();
    assert_eq!(back.num_rows(), 3);
    assert_eq!(back.schema().fields(), original.schema().fields());
    let props = back.schema().field_with_name("Props").unwrap().clone();
    assert_eq!(props.data_type(), &DataType::Utf8, "JSON text stays text");
    assert_eq!(props.metadata()["auditbook.dynamic"], "json");
    assert_eq!(back, original);
    assert_eq!(
        back.column(1).as_string::<i32>().value(1),
        ACTIVITIES[1],
        "{back:?}"
    );
    assert!(back.column(2).is_null(1));
}

#[test]
fn parquet_of_query_results_converts_view_strings_to_the_schema() {
    // DataFusion batches may carry Utf8View where the plan says Utf8.
    let schema = Arc::new(Schema::new(vec![Field::new("s", DataType::Utf8, true)]));
    let view = arrow::array::StringViewArray::from(vec!["a long string view value", "b"]);
    let batch_schema = Arc::new(Schema::new(vec![Field::new("s", DataType::Utf8View, true)]));
    let batch = RecordBatch::try_new(batch_schema, vec![Arc::new(view) as ArrayRef]).unwrap();
    let mut out = Vec::new();
    print_batches_with(
        OutputFormat::Parquet,
        &schema,
        &[batch],
        &mut out,
        &RenderOptions::default(),
    )
    .unwrap();
    let back = read_parquet(out);
    assert_eq!(back[0].schema().field(0).data_type(), &DataType::Utf8);
    assert_eq!(
        back[0].column(0).as_string::<i32>().value(0),
        "a long string view value"
    );
}

#[test]
fn parquet_of_several_tables_needs_a_directory() {
    let result = run_result(vec![events_table(), empty_table()]);
    let mut out = Vec::new();
    let err = write_run_with(
        &result,
        OutputFormat::Parquet,
        &mut out,
        &RenderOptions::default(),
    )
    .unwrap_err();
    assert!(
        matches!(&err, Error::Usage(m) if m == "parquet output of a workbook with 2 tables needs --output DIR"),
        "{err}"
    );
    assert!(out.is_empty());
}

#[test]
fn markdown_report_escapes_cells_and_keeps_text() {
    let text = render_run(
        &run_result(vec![events_table(), empty_table()]),
        OutputFormat::Markdown,
        None,
    );
    assert!(text.starts_with("# Entra <audit> overview\n"), "{text}");
    assert!(
        text.contains("\n## Overview\n\nSee <script>alert('md')</script> **bold**"),
        "text items verbatim: {text}"
    );
    assert!(text.contains("\n## Failed operations\n\n| When | Activity | Events | Props | Target |\n| --- | --- | ---: | --- | --- |\n"), "{text}");
    assert!(
        text.contains(
            "| 2026-01-02T03:04:06.123456700Z | line1<br>line2 \\| \\<script>alert(1)\\</script> |  |"
        ),
        "{text}"
    );
    assert!(text.contains("| Update_user |"), "{text}");
    assert!(text.contains(r#"{"id":"u\|3","n":3}"#), "{text}");
    assert!(
        text.contains("\n> **Warning:** showing 3 of 12345 rows (gridSettings.rowLimit)\n"),
        "{text}"
    );
    assert!(
        text.contains("## Nothing here\n\nAll clear: no risky users\n"),
        "{text}"
    );
    assert!(
        text.contains("> **Note:** links: Portal (https://portal.azure.com)"),
        "{text}"
    );
    // Every table row has as many unescaped pipes as the header.
    for line in text.lines().filter(|l| l.starts_with("| ")) {
        let pipes = line.replace("\\|", "").matches('|').count();
        assert!(pipes == 6 || pipes == 2, "{line}");
    }
}

#[test]
fn markdown_of_a_query_result_is_a_github_table() {
    let b = events_batch().project(&[1, 2]).unwrap();
    let mut out = Vec::new();
    print_batches_with(
        OutputFormat::Markdown,
        &b.schema(),
        &[b],
        &mut out,
        &RenderOptions::default(),
    )
    .unwrap();
    assert_eq!(
        String::from_utf8(out).unwrap(),
        "| Activity | Count |\n| --- | ---: |\n\
         | Add member, \"owner\" | 12 |\n\
         | line1<br>line2 \\| \\<script>alert(1)\\</script> |  |\n\
         | Update_user | 3 |\n"
    );
}

#[test]
fn html_report_is_self_contained_and_escaped() {
    let text = render_run(
        &run_result(vec![events_table(), empty_table()]),
        OutputFormat::Html,
        None,
    );
    assert!(text.starts_with("<!DOCTYPE html>"), "{text}");
    assert!(
        text.contains("<title>Entra &lt;audit&gt; overview</title>"),
        "{text}"
    );
    assert!(text.contains("<style>"), "{text}");
    assert!(!text.contains("<script"), "no script at all: {text}");
    assert!(!text.contains("src="), "no external assets: {text}");
    assert!(!text.contains("<link"), "no external assets: {text}");
    // In markdown text and in cells, `<script>` is shown, escaped.
    assert!(
        text.contains("&lt;script&gt;alert('md')&lt;/script&gt;"),
        "{text}"
    );
    assert!(
        text.contains("<td>line1\nline2 | &lt;script&gt;alert(1)&lt;/script&gt;</td>"),
        "{text}"
    );
    assert!(text.contains("<h2>Overview</h2>"), "{text}");
    assert!(
        text.contains("<a href=\"https://learn.microsoft.com\">the docs</a>"),
        "{text}"
    );
    assert!(
        text.contains("<caption>Failed operations</caption>"),
        "{text}"
    );
    assert!(
        text.contains("<th scope=\"col\">When</th><th scope=\"col\">Activity</th><th scope=\"col\">Events</th>"),
        "{text}"
    );
    assert!(text.contains("<td class=\"num\">12</td>"), "{text}");
    assert!(
        text.contains("<td>{&quot;a&quot;:1,&quot;b&quot;:[true,null]}</td>"),
        "{text}"
    );
    assert!(
        text.contains(
            "<p class=\"warning\">warning: showing 3 of 12345 rows (gridSettings.rowLimit)</p>"
        ),
        "{text}"
    );
    assert!(
        text.contains("<td class=\"empty\" colspan=\"1\">All clear: no risky users</td>"),
        "{text}"
    );
    assert!(
        text.contains("<p class=\"notice\">note: links: Portal"),
        "{text}"
    );
    assert!(text.trim_end().ends_with("</html>"));
}

#[test]
fn table_report_shows_labels_no_data_message_and_the_row_limit() {
    let text = render_run(
        &run_result(vec![events_table(), empty_table()]),
        OutputFormat::Table,
        None,
    );
    assert!(
        text.starts_with("Entra <audit> overview\n======================\n\n"),
        "{text}"
    );
    assert!(
        text.contains(
            "Time range: 2025-12-27T00:00:00.000000000Z .. 2026-01-03T00:00:00.000000000Z\n"
        ),
        "{text}"
    );
    assert!(
        text.contains(
            "Parameters: TimeRange = Last 7 days, Category = GroupManagement, Users = a, b\n"
        ),
        "{text}"
    );
    // Markdown text as plain text.
    assert!(text.contains("\nOverview\n--------\n\nSee <script>alert('md')</script> bold and the docs (https://learn.microsoft.com).\n\n- one\n- two\n"), "{text}");
    assert!(!text.contains("**"), "{text}");
    assert!(!text.contains("## "), "{text}");
    // The table under its title, labels as headers, the warning after it.
    let at = text.find("Failed operations\n").expect(&text);
    let rest = &text[at..];
    let header = rest.lines().nth(1).unwrap();
    assert!(header.contains(" When "), "{header}");
    assert!(header.contains(" Events "), "{header}");
    assert!(!header.contains("Count"), "{header}");
    assert!(
        rest.contains("(3 rows)\nwarning: showing 3 of 12345 rows (gridSettings.rowLimit)\n"),
        "{rest}"
    );
    assert!(
        rest.contains("line1\\nline2 | <script>"),
        "cells stay one line: {rest}"
    );
    assert!(
        text.contains("\nNothing here\nAll clear: no risky users\n"),
        "{text}"
    );
    assert!(
        text.contains("\nnote: links: Portal (https://portal.azure.com)\n"),
        "{text}"
    );
}

#[test]
fn the_row_limit_warning_is_shown_even_when_the_run_gave_none() {
    let mut t = events_table();
    t.warnings.clear();
    t.no_data_message = Some("unused".into());
    let text = render_run(&run_result(vec![t]), OutputFormat::Table, None);
    assert!(
        text.contains("warning: showing 3 of 12345 rows (gridSettings.rowLimit)"),
        "{text}"
    );
    let mut empty = empty_table();
    empty.no_data_message = None;
    let text = render_run(&run_result(vec![empty]), OutputFormat::Table, None);
    assert!(text.contains("\nNothing here\nNo rows.\n"), "{text}");
}

#[test]
fn width_limited_tables_never_exceed_the_width() {
    let result = run_result(vec![events_table()]);
    let free = render_run(&result, OutputFormat::Table, None);
    let widest = free.lines().map(|l| l.chars().count()).max().unwrap();
    assert!(widest > 100, "{free}");
    for width in [100, 80, 60, 45] {
        let text = render_run(&result, OutputFormat::Table, Some(width));
        let start = text.find("Failed operations\n").unwrap();
        let table: Vec<&str> = text[start..]
            .lines()
            .skip(1)
            .take_while(|l| !l.starts_with('('))
            .collect();
        assert_eq!(table.len(), 5, "{text}");
        for line in &table {
            assert!(
                line.chars().count() <= width,
                "width {width}: {line:?}\n{text}"
            );
        }
        assert!(table.iter().any(|l| l.contains('…')), "{text}");
        // The narrow `Events` column is left whole; the widest columns are cut.
        assert!(table[0].contains("Events"), "{text}");
    }

    let b = events_batch();
    let mut out = Vec::new();
    print_batches_with(
        OutputFormat::Table,
        &b.schema(),
        &[b],
        &mut out,
        &RenderOptions { width: Some(50) },
    )
    .unwrap();
    let text = String::from_utf8(out).unwrap();
    assert!(text.lines().all(|l| l.chars().count() <= 50), "{text}");
    assert!(text.ends_with("(3 rows)\n"));
}

#[test]
fn output_directory_gets_one_file_per_table_atomically() {
    let tmp = tempfile::tempdir().unwrap();
    let mut second = events_table();
    second.name = "Query - 2!".into(); // the same file name as "query - 2"
    let result = run_result(vec![events_table(), empty_table(), second]);

    let dir = tmp.path().join("out/");
    let dir_text = format!("{}/", tmp.path().join("out").display());
    let written =
        write_run_to(&result, OutputFormat::Csv, std::path::Path::new(&dir_text)).unwrap();
    let names: Vec<String> = written
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["query-2.csv", "risky-users.csv", "query-2-2.csv"]);
    assert!(written.iter().all(|p| p.parent().unwrap() == dir.as_path()));
    let first = std::fs::read_to_string(&written[0]).unwrap();
    assert!(first.starts_with("TimeGenerated,Activity,"), "{first}");
    assert_eq!(std::fs::read_to_string(&written[1]).unwrap(), "User\n");

    // An existing directory (no trailing slash), every format.
    for format in OutputFormat::value_variants() {
        let written = write_run_to(&result, *format, &dir).unwrap();
        match format {
            OutputFormat::Table | OutputFormat::Markdown | OutputFormat::Html => {
                let name = format!("entra-audit-overview.{}", format.extension());
                assert_eq!(written, [dir.join(name)], "{format}");
            }
            _ => assert_eq!(written.len(), 3, "{format}"),
        }
    }
    let parquet = std::fs::read(dir.join("query-2.parquet")).unwrap();
    assert_eq!(read_parquet(parquet)[0].num_rows(), 3);
    let json: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("query-2.json")).unwrap()).unwrap();
    assert_eq!(json[0]["Props"]["a"], 1);

    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert!(
        files
            .iter()
            .all(|f| !f.starts_with('.') && !f.ends_with(".tmp")),
        "temporary files left: {files:?}"
    );
    assert_eq!(files.len(), 4 * 3 + 3, "{files:?}");
}

#[test]
fn output_file_is_written_whole_or_not_at_all() {
    let tmp = tempfile::tempdir().unwrap();
    let result = run_result(vec![events_table()]);
    let path = tmp.path().join("report.md");
    let written = write_run_to(&result, OutputFormat::Markdown, &path).unwrap();
    assert_eq!(written, std::slice::from_ref(&path));
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(text, render_run(&result, OutputFormat::Markdown, None));

    // A failing run (parquet of two tables to one file) leaves neither the file nor a temp file.
    let two = run_result(vec![events_table(), empty_table()]);
    let bad = tmp.path().join("two.parquet");
    assert!(matches!(
        write_run_to(&two, OutputFormat::Parquet, &bad),
        Err(Error::Usage(_))
    ));
    assert!(!bad.exists());
    let left: Vec<_> = std::fs::read_dir(tmp.path()).unwrap().collect();
    assert_eq!(left.len(), 1, "{left:?}");

    // One table to one parquet file works.
    let one = tmp.path().join("one.parquet");
    write_run_to(&result, OutputFormat::Parquet, &one).unwrap();
    assert_eq!(read_parquet(std::fs::read(&one).unwrap())[0].num_rows(), 3);
}

#[test]
fn formats_have_names_and_extensions() {
    let names: Vec<String> = OutputFormat::value_variants()
        .iter()
        .map(|f| f.to_string())
        .collect();
    assert_eq!(
        names,
        [
            "table", "csv", "json", "ndjson", "parquet", "markdown", "html"
        ]
    );
    let exts: Vec<&str> = OutputFormat::value_variants()
        .iter()
        .map(|f| f.extension())
        .collect();
    assert_eq!(
        exts,
        ["txt", "csv", "json", "ndjson", "parquet", "md", "html"]
    );
    assert_eq!(
        OutputFormat::from_str("markdown", false),
        Ok(OutputFormat::Markdown)
    );
}

#[test]
fn html_of_a_query_result_is_one_escaped_page() {
    let b = events_batch().project(&[1, 2]).unwrap();
    let mut out = Vec::new();
    print_batches_with(
        OutputFormat::Html,
        &b.schema(),
        &[b],
        &mut out,
        &RenderOptions::default(),
    )
    .unwrap();
    let text = String::from_utf8(out).unwrap();
    assert!(text.starts_with("<!DOCTYPE html>"), "{text}");
    assert!(!text.contains("<script"), "{text}");
    assert!(
        text.contains("<td>Add member, &quot;owner&quot;</td><td class=\"num\">12</td>"),
        "{text}"
    );
    assert!(text.contains("<p class=\"count\">(3 rows)</p>"), "{text}");
    assert!(text.ends_with("</body>\n</html>\n"), "{text}");
}
