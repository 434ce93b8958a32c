//! A whole workbook run ([`RunResult`]) written in every output format: a readable report
//! (`table`, `markdown`, `html`), the tables' data (`csv`, `ndjson`, `parquet`), or the JSON
//! contract other tools read (`json`); to a stream ([`write_run`]) or to files ([`write_run_to`]).
//! Cells, rows and tables come from [`crate::render`], so values print exactly as `query` prints
//! them.

use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::{Map, Value, json};

use crate::render::json::{RowEncoder, write_compact, write_pretty};
use crate::render::{
    OutputFormat, RenderOptions, csv, html, io_error, markdown, parquet, print_batches_with, table,
    unique_names,
};
use crate::time::format_rfc3339_nanos;
use crate::workbook::model::{RunResult, StepResult, TableResult};
use crate::{Error, Result};

/// Shown for a table without rows when the step sets no `noDataMessage`.
pub const NO_ROWS: &str = "No rows.";

/// Writes `result` to `out` in `format`, tables fitted to the terminal when `out` is stdout on
/// one (see [`RenderOptions::for_stdout`]; use [`write_run_with`] for other streams).
///
/// - `table`: the title (underlined), description, time range and parameters, then every step in
///   order: text items as plain text (markdown markers removed, links as `text (url)`), tables
///   under their title (the item name when untitled) with column labels as headers, the
///   `noDataMessage` (else `No rows.`) instead of an empty table, each warning as a
///   `warning: ...` line after the table, notices as `note: ...` lines.
/// - `markdown`: the title as `# `, text items verbatim, tables as GitHub tables under `## `
///   titles with labels as headers, warnings and notices as block quotes.
/// - `html`: one self-contained page (inline CSS, no scripts, no external assets): text items
///   converted from markdown with raw HTML escaped, tables with a caption and labels as headers,
///   warnings and notices; every value escaped.
/// - `csv`: one table step: that table (header = column names). Several: each table preceded by
///   a line `# <step name>` and followed by a blank line (a comment line most CSV readers can
///   skip). Text items and notices are omitted; no table steps write nothing.
/// - `json`: one pretty-printed object, this contract: `{"workbook": TITLE, "parameters": {NAME:
///   VALUE}, "time": {"start", "end"} | null, "steps": [{"name", "title", "columns": [{"name",
///   "type"}], "rows": [{COLUMN: VALUE}], "truncated"}]}` with only table steps in `steps`; after
///   the contract's keys each step adds `total_rows`, `warnings` and `no_data_message`, and the
///   object adds `description`, `text` (`[{"name", "markdown"}]`) and `notices` (`[{"name",
///   "message"}]`).
/// - `ndjson`: one object per row, `{"step": NAME, COLUMN: VALUE, ...}`, steps in order (a
///   column named `step` becomes `step1`).
/// - `parquet`: the one table step's rows; a run with another number of tables is an
///   [`Error::Usage`] (write them with [`write_run_to`] into a directory).
pub fn write_run(result: &RunResult, format: OutputFormat, out: &mut dyn Write) -> Result<()> {
    write_run_with(result, format, out, &RenderOptions::for_stdout())
}

/// [`write_run`] with explicit layout options (the width of `table` output).
pub fn write_run_with(
    result: &RunResult,
    format: OutputFormat,
    out: &mut dyn Write,
    options: &RenderOptions,
) -> Result<()> {
    match format {
        OutputFormat::Table => write_text_report(result, out, options),
        OutputFormat::Markdown => write_markdown_report(result, out),
        OutputFormat::Html => write_html_report(result, out),
        OutputFormat::Csv => write_csv(result, out),
        OutputFormat::Json => write_pretty(&run_json(result)?, out),
        OutputFormat::Ndjson => write_ndjson(result, out),
        OutputFormat::Parquet => match tables(result).as_slice() {
            [only] => parquet::write(&only.schema, &only.batches, out),
            many => Err(Error::Usage(format!(
                "parquet output of a workbook with {} tables needs --output DIR",
                many.len()
            ))),
        },
    }?;
    out.flush().map_err(io_error)
}

/// Writes `result` to files under `path` and returns their paths, in order.
///
/// When `path` is an existing directory or ends with `/` (the directory is created when
/// missing):
/// - `csv`, `json`, `ndjson`, `parquet`: one file per table step, `<step>.<ext>`, holding that
///   table as `auditbook query` prints it (JSON: an array of row objects). `<step>` is the item
///   name made a safe file name ([`file_stem`]; `-2`, `-3`, ... when two names meet). Text
///   items and notices have no file.
/// - `table`, `markdown`, `html`: a report is one document, so one file `<workbook>.<ext>`
///   (`<workbook>` the title made a file name) holds the whole report, as [`write_run`] writes it.
///
/// Otherwise `path` is one file written as [`write_run`] writes (tables not fitted to a width).
/// Every file is written atomically: a temporary file in the same directory, synced, then
/// renamed over the target, so a reader never sees half a file and a failed run leaves none.
pub fn write_run_to(result: &RunResult, format: OutputFormat, path: &Path) -> Result<Vec<PathBuf>> {
    let options = RenderOptions::default();
    let is_dir = path.is_dir() || {
        let text = path.as_os_str().to_string_lossy();
        text.ends_with('/') || text.ends_with(std::path::MAIN_SEPARATOR)
    };
    if !is_dir {
        write_atomic(path, |out| write_run_with(result, format, out, &options))?;
        return Ok(vec![path.to_path_buf()]);
    }
    std::fs::create_dir_all(path).map_err(|e| Error::io(path, e))?;
    let ext = format.extension();
    if matches!(
        format,
        OutputFormat::Table | OutputFormat::Markdown | OutputFormat::Html
    ) {
        let file = path.join(format!("{}.{ext}", file_stem(&result.title, "workbook")));
        write_atomic(&file, |out| write_run_with(result, format, out, &options))?;
        return Ok(vec![file]);
    }
    let mut taken = HashSet::new();
    let mut written = Vec::new();
    for t in tables(result) {
        let stem = unique_stem(file_stem(&t.name, "step"), &mut taken);
        let file = path.join(format!("{stem}.{ext}"));
        write_atomic(&file, |out| {
            print_batches_with(format, &t.schema, &t.batches, out, &options)
        })?;
        written.push(file);
    }
    Ok(written)
}

/// `name` as a safe file name stem: lowercase, runs of other characters than letters and digits
/// replaced by one `-`, no `-` at either end, at most 80 characters; `fallback` when nothing is
/// left (`"Failed sign-ins (24h)"` → `failed-sign-ins-24h`).
pub fn file_stem(name: &str, fallback: &str) -> String {
    const MAX_CHARS: usize = 80;
    let mut stem = String::new();
    let mut gap = false;
    for c in name.chars().flat_map(char::to_lowercase) {
        if c.is_alphanumeric() {
            if gap && !stem.is_empty() {
                stem.push('-');
            }
            gap = false;
            stem.push(c);
        } else {
            gap = true;
        }
    }
    let stem: String = stem.chars().take(MAX_CHARS).collect();
    let stem = stem.trim_end_matches('-');
    if stem.is_empty() {
        fallback.to_string()
    } else {
        stem.to_string()
    }
}

/// `stem`, or `stem-2`, `stem-3`, ... : the first not in `taken` (which then holds it).
fn unique_stem(stem: String, taken: &mut HashSet<String>) -> String {
    let name = if taken.contains(&stem) {
        (2..)
            .map(|i| format!("{stem}-{i}"))
            .find(|n| !taken.contains(n))
            .expect("an unused suffix exists")
    } else {
        stem
    };
    taken.insert(name.clone());
    name
}

/// Writes the file `path` through `write`, atomically: into a new temporary file beside it
/// (`.<name>.<pid>-<n>.tmp`), synced, renamed over `path`, the directory synced. When `write`
/// fails, the temporary file is removed and `path` is untouched; I/O errors of the stream
/// (`<output>`) are reported against `path`.
pub fn write_atomic(path: &Path, write: impl FnOnce(&mut dyn Write) -> Result<()>) -> Result<()> {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let name = path
        .file_name()
        .ok_or_else(|| Error::Usage(format!("{}: not a file name", path.display())))?;
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let tmp = dir.join(format!(
        ".{}.{}-{}.tmp",
        name.to_string_lossy(),
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&tmp)
        .map_err(|e| Error::io(&tmp, e))?;
    let written = (|| {
        let mut out = BufWriter::new(file);
        write(&mut out)?;
        let file = out.into_inner().map_err(|e| io_error(e.into_error()))?;
        file.sync_all().map_err(io_error)?;
        std::fs::rename(&tmp, path).map_err(io_error)
    })();
    match written {
        Ok(()) => {
            // Makes the rename durable; not every platform can open a directory.
            if let Ok(d) = File::open(dir) {
                let _ = d.sync_all();
            }
            Ok(())
        }
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            // Errors of the output stream name the file they were writing.
            Err(match e {
                Error::Io { path: p, source } if p == Path::new("<output>") => {
                    Error::io(path, source)
                }
                e => e,
            })
        }
    }
}

/// The table steps, in order.
fn tables(result: &RunResult) -> Vec<&TableResult> {
    result
        .steps
        .iter()
        .filter_map(|s| match s {
            StepResult::Table(t) => Some(t),
            _ => None,
        })
        .collect()
}

/// A table's heading: its title, else its item name.
fn heading(t: &TableResult) -> &str {
    t.title.as_deref().unwrap_or(&t.name)
}

/// Column headers of a report: the label of each column, else its (unique) name.
fn headers(t: &TableResult) -> Vec<String> {
    unique_names(&t.schema)
        .into_iter()
        .zip(t.schema.fields())
        .map(
            |(unique, field)| match t.labels.iter().find(|(id, _)| id == field.name()) {
                Some((_, label)) => label.clone(),
                None => unique,
            },
        )
        .collect()
}

/// What to say about a table besides its rows: its warnings, and the row-limit cut when no
/// warning mentions it already.
fn warnings(t: &TableResult) -> Vec<String> {
    let mut warnings = t.warnings.clone();
    if t.truncated && !warnings.iter().any(|w| w.contains("rowLimit")) {
        warnings.push(format!(
            "showing {} of {} rows (gridSettings.rowLimit)",
            t.num_rows(),
            t.total_rows
        ));
    }
    warnings
}

/// The text of a table without rows.
fn no_data(t: &TableResult) -> &str {
    t.no_data_message.as_deref().unwrap_or(NO_ROWS)
}

/// A parameter value for people: strings as they are, a time range by its label, else JSON.
fn parameter_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => "(unset)".to_string(),
        Value::Array(items) if items.iter().all(Value::is_string) => items
            .iter()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join(", "),
        Value::Object(o) if o.get("label").is_some_and(Value::is_string) => {
            o["label"].as_str().unwrap_or_default().to_string()
        }
        other => other.to_string(),
    }
}

/// `Time range: START .. END` and `Parameters: A = x, B = y` lines (either may be absent).
fn context_lines(result: &RunResult) -> Vec<String> {
    let mut lines = Vec::new();
    if let Some((start, end)) = result.time {
        lines.push(format!(
            "Time range: {} .. {}",
            format_rfc3339_nanos(start),
            format_rfc3339_nanos(end)
        ));
    }
    if !result.parameters.is_empty() {
        let params: Vec<String> = result
            .parameters
            .iter()
            .map(|(name, value)| format!("{name} = {}", parameter_text(value)))
            .collect();
        lines.push(format!("Parameters: {}", params.join(", ")));
    }
    lines
}

fn write_text_report(
    result: &RunResult,
    out: &mut dyn Write,
    options: &RenderOptions,
) -> Result<()> {
    let mut head = format!(
        "{}\n{}\n",
        result.title,
        "=".repeat(result.title.chars().count().max(1))
    );
    if let Some(description) = &result.description {
        head.push_str(&format!("\n{}\n", markdown::to_plain_text(description)));
    }
    let context = context_lines(result);
    if !context.is_empty() {
        head.push('\n');
        for line in context {
            head.push_str(&line);
            head.push('\n');
        }
    }
    out.write_all(head.as_bytes()).map_err(io_error)?;
    for step in &result.steps {
        out.write_all(b"\n").map_err(io_error)?;
        match step {
            StepResult::Text { markdown: text, .. } => {
                let plain = markdown::to_plain_text(text);
                if !plain.is_empty() {
                    writeln!(out, "{plain}").map_err(io_error)?;
                }
            }
            StepResult::Table(t) => {
                writeln!(out, "{}", heading(t)).map_err(io_error)?;
                if t.num_rows() == 0 {
                    writeln!(out, "{}", no_data(t)).map_err(io_error)?;
                } else {
                    table::write(&headers(t), &t.schema, &t.batches, out, options.width)?;
                }
                for warning in warnings(t) {
                    writeln!(out, "warning: {warning}").map_err(io_error)?;
                }
            }
            StepResult::Notice { message, .. } => {
                writeln!(out, "note: {}", message.replace('\n', "\n      ")).map_err(io_error)?;
            }
        }
    }
    Ok(())
}

/// `text` as a markdown block quote, every line prefixed.
fn block_quote(text: &str) -> String {
    text.lines()
        .map(|l| format!("> {l}").trim_end().to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

fn write_markdown_report(result: &RunResult, out: &mut dyn Write) -> Result<()> {
    let mut head = format!("# {}\n", result.title);
    if let Some(description) = &result.description {
        head.push_str(&format!("\n{}\n", description.trim_end()));
    }
    let context = context_lines(result);
    if !context.is_empty() {
        head.push('\n');
        let lines: Vec<String> = context.iter().map(|l| markdown::escape_cell(l)).collect();
        // Two trailing spaces: a hard line break between the lines.
        head.push_str(&lines.join("  \n"));
        head.push('\n');
    }
    out.write_all(head.as_bytes()).map_err(io_error)?;
    for step in &result.steps {
        out.write_all(b"\n").map_err(io_error)?;
        match step {
            StepResult::Text { markdown: text, .. } => {
                writeln!(out, "{}", text.trim_end()).map_err(io_error)?;
            }
            StepResult::Table(t) => {
                writeln!(out, "## {}\n", heading(t)).map_err(io_error)?;
                if t.num_rows() == 0 {
                    writeln!(out, "{}", no_data(t)).map_err(io_error)?;
                } else {
                    markdown::write_table(&headers(t), &t.schema, &t.batches, out)?;
                }
                for warning in warnings(t) {
                    let text = format!("**Warning:** {}", markdown::escape_cell(&warning));
                    writeln!(out, "\n{}", block_quote(&text)).map_err(io_error)?;
                }
            }
            StepResult::Notice { message, .. } => {
                writeln!(out, "{}", block_quote(&format!("**Note:** {message}")))
                    .map_err(io_error)?;
            }
        }
    }
    Ok(())
}

fn write_html_report(result: &RunResult, out: &mut dyn Write) -> Result<()> {
    html::write_page_start(&result.title, out)?;
    let mut head = format!("<h1>{}</h1>\n", html::escape(&result.title));
    if let Some(description) = &result.description {
        head.push_str(&format!(
            "<div class=\"meta\">{}</div>\n",
            html::markdown_to_html(description)
        ));
    }
    for line in context_lines(result) {
        head.push_str(&format!("<p class=\"meta\">{}</p>\n", html::escape(&line)));
    }
    out.write_all(head.as_bytes()).map_err(io_error)?;
    for step in &result.steps {
        match step {
            StepResult::Text { markdown: text, .. } => {
                write!(
                    out,
                    "<section class=\"text\">\n{}</section>\n",
                    html::markdown_to_html(text)
                )
                .map_err(io_error)?;
            }
            StepResult::Table(t) => {
                out.write_all(b"<section class=\"step\">\n")
                    .map_err(io_error)?;
                html::write_table(
                    Some(heading(t)),
                    &headers(t),
                    &t.schema,
                    &t.batches,
                    Some(no_data(t)),
                    out,
                )?;
                if t.num_rows() > 0 {
                    html::write_count(t.num_rows(), out)?;
                }
                for warning in warnings(t) {
                    writeln!(
                        out,
                        "<p class=\"warning\">warning: {}</p>",
                        html::escape(&warning)
                    )
                    .map_err(io_error)?;
                }
                out.write_all(b"</section>\n").map_err(io_error)?;
            }
            StepResult::Notice { message, .. } => {
                writeln!(
                    out,
                    "<p class=\"notice\">note: {}</p>",
                    html::escape(message).replace('\n', "<br>\n")
                )
                .map_err(io_error)?;
            }
        }
    }
    html::write_page_end(out)
}

fn write_csv(result: &RunResult, out: &mut dyn Write) -> Result<()> {
    match tables(result).as_slice() {
        [only] => csv::write(&only.schema, &only.batches, out),
        many => {
            for (i, t) in many.iter().enumerate() {
                if i > 0 {
                    out.write_all(b"\n").map_err(io_error)?;
                }
                writeln!(out, "# {}", t.name.replace(['\n', '\r'], " ")).map_err(io_error)?;
                csv::write(&t.schema, &t.batches, out)?;
            }
            Ok(())
        }
    }
}

fn write_ndjson(result: &RunResult, out: &mut dyn Write) -> Result<()> {
    for t in tables(result) {
        let encoder = RowEncoder::reserving(&t.schema, &["step"]);
        for batch in &t.batches {
            for row in 0..batch.num_rows() {
                let mut object = Map::with_capacity(encoder.names().len() + 1);
                object.insert("step".into(), Value::String(t.name.clone()));
                encoder.push_row(batch, row, &mut object)?;
                write_compact(&Value::Object(object), out)?;
                out.write_all(b"\n").map_err(io_error)?;
            }
        }
    }
    Ok(())
}

/// The `json` contract (see [`write_run`]).
fn run_json(result: &RunResult) -> Result<Value> {
    let parameters: Map<String, Value> = result.parameters.iter().cloned().collect();
    let time = match result.time {
        Some((start, end)) => json!({
            "start": format_rfc3339_nanos(start),
            "end": format_rfc3339_nanos(end),
        }),
        None => Value::Null,
    };
    let steps = tables(result)
        .into_iter()
        .map(table_json)
        .collect::<Result<Vec<_>>>()?;
    let mut text = Vec::new();
    let mut notices = Vec::new();
    for step in &result.steps {
        match step {
            StepResult::Text { name, markdown } => {
                text.push(json!({"name": name, "markdown": markdown}))
            }
            StepResult::Notice { name, message } => {
                notices.push(json!({"name": name, "message": message}))
            }
            StepResult::Table(_) => {}
        }
    }
    Ok(json!({
        "workbook": result.title,
        "parameters": parameters,
        "time": time,
        "steps": steps,
        "description": result.description,
        "text": text,
        "notices": notices,
    }))
}

/// One table step of the `json` contract.
fn table_json(t: &TableResult) -> Result<Value> {
    let encoder = RowEncoder::new(&t.schema);
    let columns: Vec<Value> = encoder
        .names()
        .iter()
        .zip(t.schema.fields())
        .enumerate()
        .map(|(i, (name, field))| {
            let kql_type = t
                .columns
                .get(i)
                .filter(|(n, _)| n == field.name())
                .or_else(|| t.columns.iter().find(|(n, _)| n == field.name()))
                .map(|(_, ty)| ty.clone())
                .unwrap_or_else(|| field.data_type().to_string());
            json!({"name": name, "type": kql_type})
        })
        .collect();
    let mut rows = Vec::with_capacity(t.num_rows());
    for batch in &t.batches {
        for row in 0..batch.num_rows() {
            rows.push(Value::Object(encoder.row(batch, row)?));
        }
    }
    Ok(json!({
        "name": t.name,
        "title": t.title,
        "columns": columns,
        "rows": rows,
        "truncated": t.truncated,
        "total_rows": t.total_rows,
        "warnings": t.warnings,
        "no_data_message": t.no_data_message,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_stems_are_safe_and_unique() {
        assert_eq!(
            file_stem("Failed sign-ins (24h)", "step"),
            "failed-sign-ins-24h"
        );
        assert_eq!(file_stem("query - 1", "step"), "query-1");
        assert_eq!(file_stem("../../etc/passwd", "step"), "etc-passwd");
        assert_eq!(file_stem(" --- ", "step"), "step");
        assert_eq!(file_stem("Übersicht", "step"), "übersicht");
        assert_eq!(file_stem(&"x".repeat(200), "step").len(), 80);
        let mut taken = HashSet::new();
        let names: Vec<String> = ["a", "a", "a-2", "a"]
            .iter()
            .map(|n| unique_stem(n.to_string(), &mut taken))
            .collect();
        assert_eq!(names, ["a", "a-2", "a-2-2", "a-3"]);
    }

    #[test]
    fn parameter_values_read_plainly() {
        assert_eq!(parameter_text(&json!("x")), "x");
        assert_eq!(parameter_text(&json!(["a", "b"])), "a, b");
        assert_eq!(
            parameter_text(&json!({"start": "s", "end": "e", "label": "Last 7 days"})),
            "Last 7 days"
        );
        assert_eq!(parameter_text(&Value::Null), "(unset)");
    }
}
