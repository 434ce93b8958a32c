//! `auditbook report NAME`: the seed's entitlement-management reports, which are built-in
//! workbooks (`workbooks/*.yaml`). The report flags (`--package`, `--user`, `--since`, `--at`,
//! `--timeline`) become the workbook's parameters, and the workbook runs exactly as
//! `auditbook run` runs it ([`workbook::run`]): same validation (a user or package outside the
//! drop-down's values is an error naming close matches), outputs and exit codes.

use std::io::{BufWriter, Write};
use std::path::PathBuf;

use crate::cli::GlobalArgs;
use crate::cli::workbook::{self, InputArgs, RunArgs, parse_time};
use crate::render::OutputFormat;
use crate::{Error, Outcome, Result};

/// A report: its workbook and the flags it takes (flag → workbook parameter).
struct Report {
    name: &'static str,
    package: Option<&'static str>,
    user: Option<&'static str>,
    since: Option<&'static str>,
    at: Option<&'static str>,
    timeline: Option<&'static str>,
}

const fn report(name: &'static str) -> Report {
    Report {
        name,
        package: None,
        user: None,
        since: None,
        at: None,
        timeline: None,
    }
}

static REPORTS: &[Report] = &[
    Report {
        package: Some("Package"),
        at: Some("At"),
        ..report("assignments")
    },
    Report {
        user: Some("User"),
        at: Some("At"),
        ..report("user-packages")
    },
    Report {
        user: Some("User"),
        at: Some("At"),
        ..report("user-resources")
    },
    Report {
        user: Some("User"),
        package: Some("Package"),
        since: Some("Since"),
        timeline: Some("Timeline"),
        ..report("request-status")
    },
    Report {
        at: Some("At"),
        ..report("connected-orgs")
    },
    Report {
        package: Some("Package"),
        at: Some("At"),
        ..report("access-at")
    },
];

impl Report {
    fn flags(&self) -> Vec<&'static str> {
        [
            (self.package, "--package"),
            (self.user, "--user"),
            (self.since, "--since"),
            (self.at, "--at"),
            (self.timeline, "--timeline"),
        ]
        .into_iter()
        .filter_map(|(p, f)| p.map(|_| f))
        .collect()
    }
}

/// Run one of the entitlement-management reports (built-in workbooks), or list them.
///
/// Reports on the snapshot tables (assignments, user-packages, user-resources, connected-orgs)
/// read the latest snapshot, or with --at the latest one taken at or before that time;
/// request-status reads the audit log alone; access-at reads both. Exit codes as `run`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The report (omit to list them): assignments, user-packages, user-resources,
    /// request-status, connected-orgs, access-at.
    pub name: Option<String>,
    /// The access package: its id or its name (any case).
    #[arg(long, value_name = "ID|NAME")]
    pub package: Option<String>,
    /// The user: user principal name or object id.
    #[arg(long, value_name = "UPN|ID")]
    pub user: Option<String>,
    /// request-status: requests since a duration ago (`30d`) or a date (`2026-10-01`).
    #[arg(long, value_name = "D", conflicts_with_all = ["time", "from", "to"])]
    pub since: Option<String>,
    /// The moment: snapshot reports use the latest snapshot at or before it; access-at
    /// reconstructs the holders at it (RFC 3339 or YYYY-MM-DD).
    #[arg(long, value_name = "DATE")]
    pub at: Option<String>,
    /// request-status: list every step of every request, in order.
    #[arg(long)]
    pub timeline: bool,
    #[command(flatten)]
    pub inputs: InputArgs,
    /// Output format [default: table on a terminal, csv otherwise].
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub format: Option<OutputFormat>,
    /// Write to this file, or to this directory (one file per step).
    #[arg(long, short = 'o', value_name = "PATH")]
    pub output: Option<PathBuf>,
}

pub fn run(args: Args, global: &GlobalArgs) -> Result<Outcome> {
    let Some(name) = args.name.as_deref() else {
        return list();
    };
    let Some(report) = REPORTS.iter().find(|r| r.name == name) else {
        let names: Vec<&str> = REPORTS.iter().map(|r| r.name).collect();
        let hint = crate::kql::parser::did_you_mean(name, &names)
            .map(|m| format!("; did you mean `{m}`?"))
            .unwrap_or_default();
        return Err(Error::Usage(format!(
            "no report named `{name}`{hint} (reports: {})",
            names.join(", ")
        )));
    };
    let mut inputs = args.inputs.clone();
    let mut set = |flag: &str, param: Option<&'static str>, value: String| -> Result<()> {
        let Some(param) = param else {
            return Err(Error::Usage(format!(
                "report `{}` does not take {flag} (it takes: {})",
                report.name,
                report.flags().join(", ")
            )));
        };
        inputs.params.push(format!("{param}={value}"));
        Ok(())
    };
    if let Some(p) = &args.package {
        set("--package", report.package, p.clone())?;
    }
    if let Some(u) = &args.user {
        set("--user", report.user, u.clone())?;
    }
    if let Some(at) = &args.at {
        // Checked here: the workbook takes any text, and a date it cannot read selects nothing.
        let nanos = parse_time("--at", at, false)?;
        set("--at", report.at, crate::time::format_rfc3339_nanos(nanos))?;
    }
    if args.timeline {
        set("--timeline", report.timeline, "true".to_string())?;
    }
    if let Some(since) = &args.since {
        if report.since.is_none() {
            set("--since", None, String::new())?;
        }
        match crate::workbook::params::TimeArg::parse_last(since) {
            Ok(_) => inputs.time = Some(since.clone()),
            Err(_) => {
                parse_time("--since", since, false).map_err(|_| {
                    Error::Usage(format!(
                        "--since {since:?}: expected a duration (30d, 12h) or a date/time \
                         (YYYY-MM-DD, RFC 3339)"
                    ))
                })?;
                let now = match &inputs.now {
                    Some(n) => parse_time("--now", n, false)?,
                    None => chrono::Utc::now().timestamp_nanos_opt().unwrap_or(i64::MAX),
                };
                inputs.from = Some(since.clone());
                inputs.to = Some(crate::time::format_rfc3339_nanos(now));
            }
        }
    }
    workbook::run(
        RunArgs {
            workbook: report.name.to_string(),
            inputs,
            format: args.format,
            output: args.output,
        },
        global,
    )
}

/// `auditbook report`: the reports, what they answer, and their flags.
fn list() -> Result<Outcome> {
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    for r in REPORTS {
        let wb = crate::workbook::load_builtin_or_path(r.name)?;
        let summary = wb
            .description
            .as_deref()
            .and_then(|d| d.split("\n\n").next())
            .map(|d| d.split_whitespace().collect::<Vec<_>>().join(" "))
            .unwrap_or_default();
        writeln!(out, "{}\n  {}", r.name, wb.title).map_err(crate::render::io_error)?;
        if !summary.is_empty() {
            writeln!(out, "  {summary}").map_err(crate::render::io_error)?;
        }
        writeln!(out, "  flags: {}", r.flags().join(" ")).map_err(crate::render::io_error)?;
    }
    writeln!(
        out,
        "\nauditbook report NAME [flags] [--param P=V] [--format F] [--output PATH]"
    )
    .map_err(crate::render::io_error)?;
    out.flush().map_err(crate::render::io_error)?;
    Ok(Outcome::Success)
}
