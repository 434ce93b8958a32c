//! `auditbook ingest PATH... [--format F] [--json]`: exports into the dataset, with a summary whose
//! counts add up (read = written + duplicates + rejected). Exit 0 when nothing was rejected, 1 when
//! some records were quarantined, 2 on errors. `--format snapshot` (or `auto` on a snapshot
//! folder) reads Graph entitlement-management state into the `Entra*` tables, dated by
//! `--snapshot-date` or the folder's name, and prints per-table counts as well.

use std::io::IsTerminal;
use std::path::PathBuf;

use crate::cli::GlobalArgs;
use crate::ingest::{self, IngestOptions, InputFormat};
use crate::{Outcome, Result};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Export files or directories (walked recursively); `.gz` files are read transparently.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Input format; `auto` detects it per file and says what it detected.
    #[arg(long, value_enum, default_value_t = InputFormat::Auto)]
    pub format: InputFormat,
    /// Tenant id for records whose export carries none (Graph API, admin center downloads);
    /// fills `TenantId`, `AADTenantId` and the resource columns.
    #[arg(long, value_name = "GUID")]
    pub tenant: Option<String>,
    /// When an entitlement snapshot was taken (`--format snapshot` files): RFC 3339 or
    /// YYYY-MM-DD (midnight UTC). Without it, the date in each snapshot folder's name
    /// (`snapshot-2026-11-01`) is used; a folder without one is an error.
    #[arg(long, value_name = "T")]
    pub snapshot_date: Option<String>,
    /// Print the summary as JSON on stdout (for batch jobs).
    #[arg(long)]
    pub json: bool,
    /// No per-file lines on stderr.
    #[arg(long, short)]
    pub quiet: bool,
}

pub fn run(args: Args, global: &GlobalArgs) -> Result<Outcome> {
    if args.tenant.as_deref().is_some_and(|t| t.trim().is_empty()) {
        return Err(crate::Error::Usage("--tenant must not be empty".into()));
    }
    let snapshot_date = args
        .snapshot_date
        .as_deref()
        .map(ingest::snapshot::parse_snapshot_date)
        .transpose()
        .map_err(|e| crate::Error::Usage(format!("--snapshot-date: {e}")))?;
    let opts = IngestOptions {
        format: args.format,
        tenant: args.tenant,
        progress: std::io::stderr().is_terminal(),
        snapshot_date,
    };
    let quiet = args.quiet;
    let summary = ingest::ingest(&global.data, &args.paths, &opts, &mut |line| {
        if !quiet {
            eprintln!("{line}");
        }
    })?;
    if !quiet {
        eprintln!("{}", summary.rate_line());
    }
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&summary).expect("serializable")
        );
    } else {
        println!("{}", summary.counts_line());
        for line in summary.snapshot_lines() {
            println!("{line}");
        }
        if let Some(q) = &summary.quarantine {
            println!("rejected records kept in {}", q.display());
        }
    }
    Ok(if summary.rejected > 0 {
        Outcome::Partial
    } else {
        Outcome::Success
    })
}
