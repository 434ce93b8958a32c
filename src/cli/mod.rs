//! Command-line interface: one file per subcommand (an `Args` struct and a `run` function);
//! this module holds the top-level parser and the global flags.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::{Outcome, Result};

pub mod compact;
pub mod explain;
pub mod generate;
pub mod ingest;
pub mod query;
pub mod report;
pub mod workbook;

/// Offline analytics for Microsoft Entra ID audit logs.
#[derive(Debug, Parser)]
#[command(name = "auditbook", version, about, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Flags every subcommand accepts, before or after its name.
#[derive(Debug, Clone, clap::Args)]
pub struct GlobalArgs {
    /// Dataset directory (holds `AuditLogs/date=YYYY-MM-DD/*.parquet`).
    #[arg(
        long,
        global = true,
        env = "AUDITBOOK_DATA",
        default_value = "auditbook-data",
        value_name = "DIR"
    )]
    pub data: PathBuf,
    /// Memory the query engine may use (`512M`, `2G`, `1.5GB`): sorts, joins and aggregations
    /// that need more spill to temporary files instead of growing; without it, no limit.
    #[arg(long, global = true, env = "AUDITBOOK_MEMORY_LIMIT", value_name = "SIZE", value_parser = parse_size)]
    pub memory_limit: Option<usize>,
}

impl GlobalArgs {
    /// The query engine over `--data`, with `--memory-limit`.
    pub fn engine(&self) -> crate::Result<crate::engine::Engine> {
        crate::engine::Engine::open_with(
            &self.data,
            &crate::engine::EngineOptions {
                memory_limit: self.memory_limit,
            },
        )
    }
}

/// `512M`, `2G`, `1.5GB`, `1048576` (bytes; K, M, G, T are powers of 1024).
fn parse_size(text: &str) -> Result<usize, String> {
    let t = text.trim();
    let t = t.strip_suffix(['B', 'b']).unwrap_or(t);
    let (number, unit) = match t.char_indices().find(|(_, c)| c.is_ascii_alphabetic()) {
        Some((i, _)) => (&t[..i], &t[i..]),
        None => (t, ""),
    };
    let scale: f64 = match unit.to_ascii_uppercase().as_str() {
        "" => 1.0,
        "K" => 1024.0,
        "M" => 1024.0 * 1024.0,
        "G" => 1024.0 * 1024.0 * 1024.0,
        "T" => 1024.0 * 1024.0 * 1024.0 * 1024.0,
        _ => return Err(format!("`{text}`: unknown unit (use K, M, G or T)")),
    };
    let n: f64 = number
        .trim()
        .parse()
        .map_err(|_| format!("`{text}`: not a size such as 512M or 2G"))?;
    if !(n.is_finite() && n > 0.0) {
        return Err(format!("`{text}`: the size must be positive"));
    }
    Ok((n * scale) as usize)
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Ingest Entra audit-log exports into the dataset.
    Ingest(ingest::Args),
    /// Merge the days holding several Parquet files (incremental ingests) into one file each.
    Compact(compact::Args),
    /// Run a SQL or KQL query over the dataset.
    Query(query::Args),
    /// Show the SQL a KQL query or a workbook's steps compile to (and DataFusion's plan).
    Explain(explain::Args),
    /// Write realistic synthetic Entra audit-log exports.
    Generate(generate::Args),
    /// Run a workbook (Azure `.workbook`/`.json`, native `.yaml`, or a built-in name).
    Run(workbook::RunArgs),
    /// List a workbook's parameters, their values and allowed values.
    Params(workbook::ParamsArgs),
    /// Compile every query of workbooks without running them; exit 1 on errors.
    Check(workbook::CheckArgs),
    /// Print a workbook in the native YAML format (or back as Azure JSON).
    Convert(workbook::ConvertArgs),
    /// List the built-in workbooks.
    Workbooks(workbook::WorkbooksArgs),
    /// Run an entitlement-management report (assignments, user-packages, user-resources,
    /// request-status, connected-orgs, access-at); without a name, list them.
    Report(report::Args),
}

/// Parses the process arguments and runs the command.
pub fn run() -> Result<Outcome> {
    let cli = Cli::parse();
    match cli.command {
        Command::Ingest(args) => ingest::run(args, &cli.global),
        Command::Compact(args) => compact::run(args, &cli.global),
        Command::Query(args) => query::run(args, &cli.global),
        Command::Explain(args) => explain::run(args, &cli.global),
        Command::Generate(args) => generate::run(args, &cli.global),
        Command::Run(args) => workbook::run(args, &cli.global),
        Command::Params(args) => workbook::params(args, &cli.global),
        Command::Check(args) => workbook::check(args, &cli.global),
        Command::Convert(args) => workbook::convert(args, &cli.global),
        Command::Workbooks(args) => workbook::workbooks(args, &cli.global),
        Command::Report(args) => report::run(args, &cli.global),
    }
}
