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
