//! Workbook commands: `run`, `params`, `check`, `convert`, `workbooks` (and the workbook form of
//! `explain`, which lives in `explain.rs` and shares [`InputArgs`] and [`walk_workbook`]).

use std::io::{BufWriter, Write};
use std::path::PathBuf;

use crate::cli::GlobalArgs;
use crate::cli::query::runtime;
use crate::render::OutputFormat;
use crate::workbook::params::{Inputs, TimeArg};
use crate::workbook::run::{Mode, Walk, walk};
use crate::workbook::{self, StepResult, Workbook};
use crate::{Error, Outcome, Result};

/// Parameter values and time range given on the command line.
#[derive(Debug, Clone, clap::Args)]
pub struct InputArgs {
    /// Set a parameter: `--param NAME=VALUE` (repeatable; multi-select values as `NAME=a,b` or
    /// the flag repeated; `NAME=value::all` selects All).
    #[arg(long = "param", short = 'p', value_name = "NAME=VALUE")]
    pub params: Vec<String>,
    /// Time range for the workbook's time-range parameters: `30d`, `12h`, ... or `all`.
    /// A workbook without one gets it applied to every step.
    #[arg(long, value_name = "RANGE", conflicts_with_all = ["from", "to"])]
    pub time: Option<String>,
    /// Start of a custom time range (RFC 3339 or YYYY-MM-DD), with --to.
    #[arg(long, value_name = "TIME", requires = "to")]
    pub from: Option<String>,
    /// End of a custom time range (RFC 3339, or YYYY-MM-DD for the end of that day), with --from.
    #[arg(long, value_name = "TIME", requires = "from")]
    pub to: Option<String>,
    /// Evaluate `now()`, `ago()` and relative ranges at this instant (RFC 3339) instead of the
    /// current time: reproducible runs.
    #[arg(long, value_name = "TIME")]
    pub now: Option<String>,
}

impl InputArgs {
    /// The walk's inputs.
    pub fn inputs(&self) -> Result<Inputs> {
        let params = self
            .params
            .iter()
            .map(|p| match p.split_once('=') {
                Some((n, v)) if !n.trim().is_empty() => Ok((n.trim().to_string(), v.to_string())),
                _ => Err(Error::Usage(format!("--param {p:?}: expected NAME=VALUE"))),
            })
            .collect::<Result<Vec<_>>>()?;
        let now = match &self.now {
            Some(t) => parse_time("--now", t, false)?,
            None => chrono::Utc::now()
                .timestamp_nanos_opt()
                .expect("the current time fits in nanoseconds"),
        };
        let time = match (&self.time, &self.from, &self.to) {
            (Some(t), _, _) => Some(TimeArg::parse_last(t)?),
            (None, Some(f), Some(t)) => {
                let (start, end) = (
                    parse_time("--from", f, false)?,
                    parse_time("--to", t, true)?,
                );
                if end < start {
                    return Err(Error::Usage(format!("--to {t} is before --from {f}")));
                }
                Some(TimeArg::Range(start, end))
            }
            _ => None,
        };
        Ok(Inputs { params, time, now })
    }
}

/// RFC 3339 (or the other forms exports use), or a date: midnight UTC, or with `end_of_day` the
/// last instant of that day.
pub(crate) fn parse_time(flag: &str, text: &str, end_of_day: bool) -> Result<i64> {
    if let Ok(d) = chrono::NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d") {
        let midnight = d
            .and_hms_opt(0, 0, 0)
            .and_then(|t| t.and_utc().timestamp_nanos_opt())
            .ok_or_else(|| Error::Usage(format!("{flag} {text}: out of range")))?;
        return Ok(if end_of_day {
            midnight + 86_400_000_000_000 - 1
        } else {
            midnight
        });
    }
    crate::time::parse_timestamp(text).map_err(|e| {
        Error::Usage(format!(
            "{flag} {text:?}: {e} (expected RFC 3339 or YYYY-MM-DD)"
        ))
    })
}

/// Loads the workbook (a file or a built-in name) and walks it.
pub fn walk_workbook(
    arg: &str,
    inputs: &InputArgs,
    global: &GlobalArgs,
    mode: Mode,
) -> Result<(Workbook, Walk)> {
    let wb = workbook::load_builtin_or_path(arg)?;
    let inputs = inputs.inputs()?;
    let engine = global.engine()?;
    let rt = runtime()?;
    let walked = walk(&engine, rt, &wb, &inputs, mode)?;
    Ok((wb, walked))
}

/// Run a workbook's visible steps and print or write the results.
///
/// WORKBOOK is a file (`.workbook`/`.json` Azure, `.yaml` native) or a built-in name (see
/// `auditbook workbooks`). Exit codes: 0 every step ran; 1 it ran, but a step was cut by its
/// row limit or an item type auditbook does not run was skipped; 2 error (bad workbook,
/// parameter or query: nothing is written).
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// Workbook file or built-in name.
    pub workbook: String,
    #[command(flatten)]
    pub inputs: InputArgs,
    /// Output format [default: table on a terminal, csv otherwise].
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub format: Option<OutputFormat>,
    /// Write to this file, or to this directory (existing, or ending in `/`): one file per step
    /// (`<step-name>.<ext>`), each written atomically.
    #[arg(long, short = 'o', value_name = "PATH")]
    pub output: Option<PathBuf>,
}

pub fn run(args: RunArgs, global: &GlobalArgs) -> Result<Outcome> {
    let (_, walked) = walk_workbook(&args.workbook, &args.inputs, global, Mode::Run)?;
    let result = &walked.result;
    for p in &walked.parameters {
        for note in &p.notes {
            eprintln!("note: {note}");
        }
    }
    let format = args.format.unwrap_or_else(|| match &args.output {
        Some(_) => OutputFormat::Csv,
        None => OutputFormat::default_for_stdout(),
    });
    match &args.output {
        Some(path) => {
            let written = workbook::output::write_run_to(result, format, path)?;
            for p in written {
                eprintln!("wrote {}", p.display());
            }
        }
        None => {
            let stdout = std::io::stdout();
            let mut out = BufWriter::new(stdout.lock());
            workbook::output::write_run(result, format, &mut out)?;
            out.flush().map_err(crate::render::io_error)?;
        }
    }
    let mut partial = false;
    for step in &result.steps {
        match step {
            StepResult::Table(t) => {
                // Warnings go to stderr too, so a cron job's log shows them.
                for w in &t.warnings {
                    eprintln!("warning: {}: {w}", t.name);
                }
                partial |= t.truncated;
            }
            StepResult::Notice { message, .. } if message.contains("does not run") => {
                eprintln!("note: {message}");
                partial = true;
            }
            _ => {}
        }
    }
    Ok(if partial {
        Outcome::Partial
    } else {
        Outcome::Success
    })
}

/// `text` or `json`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ReportFormat {
    Text,
    Json,
}

/// List a workbook's parameters: type, whether required, current value, allowed values
/// (query-backed drop-downs run their query over the dataset).
#[derive(Debug, clap::Args)]
pub struct ParamsArgs {
    /// Workbook file or built-in name.
    pub workbook: String,
    #[command(flatten)]
    pub inputs: InputArgs,
    /// `text` (default) or `json`: `{"parameters": [{"name", "label", "type", "required",
    /// "multi", "value", "values": [{"value", "label"}]}]}`.
    #[arg(long, value_enum, default_value = "text")]
    pub format: ReportFormat,
}

pub fn params(args: ParamsArgs, global: &GlobalArgs) -> Result<Outcome> {
    let wb = workbook::load_builtin_or_path(&args.workbook)?;
    let inputs = args.inputs.inputs()?;
    let engine = global.engine()?;
    let rt = runtime()?;
    // Required parameters may be unset here: that is what `params` is for. Resolve with the
    // allowed values listed, and report a missing value as null.
    let walked = crate::workbook::run::walk_lenient(&engine, rt, &wb, &inputs)?;
    let listed: Vec<serde_json::Value> = walked
        .iter()
        .map(|p| {
            let values: Vec<serde_json::Value> = match (&p.param.kind, &p.allowed) {
                (crate::workbook::ParamKind::TimeRange, _) => p
                    .param
                    .time
                    .iter()
                    .flat_map(|t| t.durations.iter())
                    .map(|ms| {
                        let ns = ms * 1_000_000;
                        let t = crate::workbook::bind::TimeRange {
                            range: None,
                            duration: Some(ns),
                        };
                        serde_json::json!({
                            "value": crate::workbook::bind::timespan_literal(ns),
                            "label": t.label(),
                        })
                    })
                    .collect(),
                (_, Some(allowed)) => allowed
                    .iter()
                    .map(|c| serde_json::json!({"value": c.value, "label": c.label}))
                    .collect(),
                _ => Vec::new(),
            };
            serde_json::json!({
                "name": p.param.name,
                "label": p.param.label,
                "type": p.param.kind.name(),
                "required": p.param.required,
                "multi": p.param.multi,
                "value": p.json_value(),
                "values": values,
            })
        })
        .collect();
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    match args.format {
        ReportFormat::Json => {
            let doc = serde_json::json!({ "parameters": listed });
            writeln!(out, "{}", serde_json::to_string_pretty(&doc).expect("json"))
                .map_err(crate::render::io_error)?;
        }
        ReportFormat::Text => {
            for p in &listed {
                let name = p["name"].as_str().unwrap_or("");
                let label = p["label"]
                    .as_str()
                    .map(|l| format!(" ({l})"))
                    .unwrap_or_default();
                let flags = format!(
                    "{}{}{}",
                    p["type"].as_str().unwrap_or(""),
                    if p["required"] == true {
                        ", required"
                    } else {
                        ""
                    },
                    if p["multi"] == true {
                        ", multi-select"
                    } else {
                        ""
                    },
                );
                writeln!(out, "{name}{label}: {flags}").map_err(crate::render::io_error)?;
                writeln!(out, "  value: {}", p["value"]).map_err(crate::render::io_error)?;
                let values = p["values"].as_array().cloned().unwrap_or_default();
                if !values.is_empty() {
                    writeln!(out, "  allowed values ({}):", values.len())
                        .map_err(crate::render::io_error)?;
                    for v in values {
                        let value = v["value"].as_str().unwrap_or("");
                        match v["label"].as_str() {
                            Some(l) if l != value => writeln!(out, "    {value}  ({l})"),
                            _ => writeln!(out, "    {value}"),
                        }
                        .map_err(crate::render::io_error)?;
                    }
                }
            }
        }
    }
    out.flush().map_err(crate::render::io_error)?;
    Ok(Outcome::Success)
}

/// Compile every query of workbooks without running them; report problems with file, line and
/// column. Exit 1 when any query has an error.
#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// Workbook files, directories (searched for `.workbook`, `.json`, `.yaml`, `.yml`), or
    /// built-in names.
    #[arg(required = true)]
    pub paths: Vec<String>,
    /// `text` (default) or `json`: `{"files": [{"path", "items": [{"name", "kind", "status",
    /// "diagnostics": [{"code", "message", "line", "column"}]}]}]}`.
    #[arg(long, value_enum, default_value = "text")]
    pub format: ReportFormat,
}

pub fn check(args: CheckArgs, global: &GlobalArgs) -> Result<Outcome> {
    let mut files: Vec<String> = Vec::new();
    for p in &args.paths {
        let path = std::path::Path::new(p);
        if path.is_dir() {
            let mut found = Vec::new();
            collect_workbooks(path, &mut found)?;
            found.sort();
            files.extend(found.into_iter().map(|f| f.display().to_string()));
        } else {
            files.push(p.clone());
        }
    }
    let engine = global.engine()?;
    let rt = runtime()?;
    let inputs = Inputs {
        now: chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0),
        ..Inputs::default()
    };
    let mut failed = false;
    let mut reports = Vec::new();
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    for file in &files {
        let (path, items) = match workbook::load_builtin_or_path(file) {
            Ok(wb) => {
                let path = wb.source.path.display().to_string();
                match walk(&engine, rt, &wb, &inputs, Mode::Check) {
                    Ok(w) => (path, w.checked),
                    Err(e) => (path, vec![whole_file_error(file, &e)]),
                }
            }
            Err(e) => (file.clone(), vec![whole_file_error(file, &e)]),
        };
        let errors = items.iter().filter(|i| i.status == "error").count();
        failed |= errors > 0;
        match args.format {
            ReportFormat::Text => {
                for item in &items {
                    if item.status != "ok" || !item.rendered.is_empty() {
                        write!(out, "{}", item.rendered).map_err(crate::render::io_error)?;
                        if !item.rendered.ends_with('\n') {
                            writeln!(out).map_err(crate::render::io_error)?;
                        }
                    }
                }
                let unsupported = items.iter().filter(|i| i.status == "unsupported").count();
                writeln!(
                    out,
                    "{path}: {} checked, {} ok, {errors} with errors{}",
                    items.len(),
                    items.iter().filter(|i| i.status == "ok").count(),
                    if unsupported > 0 {
                        format!(", {unsupported} unsupported")
                    } else {
                        String::new()
                    }
                )
                .map_err(crate::render::io_error)?;
            }
            ReportFormat::Json => {
                let items: Vec<serde_json::Value> = items
                    .iter()
                    .map(|i| {
                        let diagnostics: Vec<serde_json::Value> = i
                            .diagnostics
                            .iter()
                            .map(|d| {
                                serde_json::json!({
                                    "code": d.code,
                                    "severity": d.severity,
                                    "message": d.message,
                                    "line": d.line,
                                    "column": d.column,
                                })
                            })
                            .collect();
                        let mut v = serde_json::json!({
                            "name": i.name,
                            "kind": i.kind,
                            "status": i.status,
                            "diagnostics": diagnostics,
                        });
                        if i.diagnostics.is_empty() && !i.rendered.is_empty() {
                            v["message"] = serde_json::json!(i.rendered.trim_end());
                        }
                        v
                    })
                    .collect();
                reports.push(serde_json::json!({"path": path, "items": items}));
            }
        }
    }
    if args.format == ReportFormat::Json {
        let doc = serde_json::json!({ "files": reports });
        writeln!(out, "{}", serde_json::to_string_pretty(&doc).expect("json"))
            .map_err(crate::render::io_error)?;
    }
    out.flush().map_err(crate::render::io_error)?;
    Ok(if failed {
        Outcome::Partial
    } else {
        Outcome::Success
    })
}

/// A file that cannot be loaded (or walked) as one `error` entry.
fn whole_file_error(file: &str, e: &Error) -> crate::workbook::run::Checked {
    let diagnostics = match e {
        Error::Diagnostics {
            text, diagnostics, ..
        } => diagnostics.iter().map(|d| d.to_json(text)).collect(),
        _ => Vec::new(),
    };
    let rendered = match e {
        Error::Diagnostics { .. } => e.to_string(),
        _ => format!("error: {e}"),
    };
    crate::workbook::run::Checked {
        name: file.to_string(),
        kind: "workbook".to_string(),
        status: "error",
        diagnostics,
        rendered,
    }
}

fn collect_workbooks(dir: &std::path::Path, out: &mut Vec<PathBuf>) -> Result<()> {
    for entry in std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
        let path = entry.map_err(|e| Error::io(dir, e))?.path();
        if path.is_dir() {
            collect_workbooks(&path, out)?;
        } else if matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("workbook" | "json" | "yaml" | "yml")
        ) {
            out.push(path);
        }
    }
    Ok(())
}

/// Print a workbook in the native YAML format (or, with `--to azure`, as Azure JSON).
#[derive(Debug, clap::Args)]
pub struct ConvertArgs {
    /// Workbook file or built-in name.
    pub workbook: String,
    /// Target format.
    #[arg(long, value_enum, default_value = "native")]
    pub to: ConvertTo,
    /// Write to this file (atomically) instead of stdout.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ConvertTo {
    /// auditbook's YAML.
    Native,
    /// Azure Monitor `Notebook/1.0` JSON.
    Azure,
}

pub fn convert(args: ConvertArgs, _global: &GlobalArgs) -> Result<Outcome> {
    let wb = workbook::load_builtin_or_path(&args.workbook)?;
    let text = match args.to {
        ConvertTo::Native => workbook::native::to_native(&wb),
        ConvertTo::Azure => {
            let mut t =
                serde_json::to_string_pretty(&workbook::azure::to_azure(&wb)).expect("json");
            t.push('\n');
            t
        }
    };
    match &args.output {
        Some(path) => workbook::output::write_atomic(path, |out| {
            out.write_all(text.as_bytes())
                .map_err(crate::render::io_error)
        })?,
        None => {
            let stdout = std::io::stdout();
            let mut out = stdout.lock();
            out.write_all(text.as_bytes())
                .and_then(|_| out.flush())
                .map_err(crate::render::io_error)?;
        }
    }
    Ok(Outcome::Success)
}

/// List the built-in workbooks.
#[derive(Debug, clap::Args)]
pub struct WorkbooksArgs {
    /// `text` (default) or `json`.
    #[arg(long, value_enum, default_value = "text")]
    pub format: ReportFormat,
}

pub fn workbooks(args: WorkbooksArgs, _global: &GlobalArgs) -> Result<Outcome> {
    let mut listed = Vec::new();
    for b in workbook::builtin::all() {
        let wb = workbook::load_builtin_or_path(b.name)?;
        let params: Vec<String> = wb
            .items
            .iter()
            .filter_map(|i| match &i.kind {
                crate::workbook::ItemKind::Parameters(ps) => {
                    Some(ps.iter().map(|p| p.name.clone()).collect::<Vec<_>>())
                }
                _ => None,
            })
            .flatten()
            .collect();
        listed.push((b.name, wb.title, wb.description, params));
    }
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    match args.format {
        ReportFormat::Json => {
            let v: Vec<_> = listed
                .iter()
                .map(|(n, t, d, p)| {
                    serde_json::json!({"name": n, "title": t, "description": d, "parameters": p})
                })
                .collect();
            writeln!(out, "{}", serde_json::to_string_pretty(&v).expect("json"))
        }
        ReportFormat::Text => listed.iter().try_for_each(|(n, t, d, p)| {
            writeln!(out, "{n}\n  {t}")?;
            if let Some(d) = d {
                for line in d.trim().lines() {
                    writeln!(out, "  {line}")?;
                }
            }
            writeln!(out, "  parameters: {}", p.join(", "))
        }),
    }
    .map_err(crate::render::io_error)?;
    out.flush().map_err(crate::render::io_error)?;
    Ok(Outcome::Success)
}
