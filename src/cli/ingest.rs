//! `auditbook ingest PATH... [--format F] [--json]`: exports into the dataset, with a summary whose
//! counts add up (read = written + duplicates + rejected). Exit 0 when nothing was rejected, 1 when
//! some records were quarantined, 2 on errors.

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
    let opts = IngestOptions {
        format: args.format,
        tenant: args.tenant,
        progress: std::io::stderr().is_terminal(),
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
