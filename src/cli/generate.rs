//! `auditbook generate`: write a realistic synthetic Entra tenant's audit log in one export format.
//! Output is a pure function of the arguments (same flags, byte-identical files).

use std::path::PathBuf;

use crate::cli::GlobalArgs;
use crate::generate::{self, Config, Format};
use crate::{Error, Outcome, Result};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Number of unique events to write (exactly this many).
    #[arg(long, value_name = "N")]
    pub events: u64,
    /// Seed of the synthetic tenant and its activity.
    #[arg(long, default_value_t = Config::DEFAULT_SEED, value_name = "S")]
    pub seed: u64,
    /// End of the time window (exclusive): a date (midnight UTC) or an RFC 3339 timestamp.
    #[arg(long, default_value = Config::DEFAULT_END, value_name = "DATE")]
    pub end: String,
    /// Length of the time window, in days before --end.
    #[arg(long, default_value_t = Config::DEFAULT_DAYS, value_name = "D")]
    pub days: u32,
    /// Export format to write.
    #[arg(long, value_enum, default_value_t = Format::Graph)]
    pub format: Format,
    /// Output directory (created if missing; files of the format are written under it).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Also write an entitlement-management snapshot of the same tenant, consistent with the
    /// log: Graph list responses (users, groups and members, catalogs, access packages,
    /// policies, assignments, resource role scopes, requests, connected organizations) in
    /// DIR/snapshot-YYYY-MM-DD/, taken at the window's end.
    #[arg(long)]
    pub snapshot: bool,
    /// With --snapshot: also a snapshot every D days before the window's end, inside the window
    /// (point-in-time states). Implies --snapshot.
    #[arg(long, value_name = "D")]
    pub snapshot_every: Option<u32>,
}

pub fn run(args: Args, _global: &GlobalArgs) -> Result<Outcome> {
    if args.days == 0 {
        return Err(Error::Usage("--days must be at least 1".into()));
    }
    let end = generate::parse_end(&args.end).map_err(|e| Error::Usage(format!("--end: {e}")))?;
    let config = Config {
        events: args.events,
        seed: args.seed,
        end,
        days: args.days,
    };
    if args.snapshot_every == Some(0) {
        return Err(Error::Usage("--snapshot-every must be at least 1".into()));
    }
    let summary = generate::generate(&config, args.format, &args.out)?;
    let snapshots = if args.snapshot || args.snapshot_every.is_some() {
        generate::generate_snapshots(&config, args.snapshot_every, &args.out)?
    } else {
        Vec::new()
    };
    let dups = if args.format == Format::Diagnostic {
        format!(
            " + {} duplicate copies ({} lines)",
            summary.duplicates,
            summary.events + summary.duplicates
        )
    } else {
        String::new()
    };
    eprintln!(
        "generate: {} events{dups} written to {} files in {}, format {}, tenant {}, seed {}",
        summary.events,
        summary.files.len(),
        args.out.display(),
        args.format.name(),
        summary.tenant_id,
        args.seed,
    );
    for s in &snapshots {
        eprintln!(
            "generate: snapshot at {} written to {} ({} files)",
            crate::time::format_graph(s.at),
            s.dir.display(),
            s.files.len(),
        );
    }
    Ok(Outcome::Success)
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::cli::{Cli, Command};

    fn parse(args: &[&str]) -> (Args, GlobalArgs) {
        let cli = Cli::try_parse_from([&["auditbook", "generate"], args].concat()).unwrap();
        match cli.command {
            Command::Generate(a) => (a, cli.global),
            other => panic!("parsed as {other:?}"),
        }
    }

    #[test]
    fn defaults_are_fixed_so_output_does_not_depend_on_today() {
        let (a, _) = parse(&["--events", "10", "--out", "x"]);
        assert_eq!(
            (a.events, a.seed, a.days, a.end.as_str(), a.format),
            (10, 42, 90, "2026-11-01", Format::Graph)
        );
        let (a, _) = parse(&[
            "--events",
            "5",
            "--out",
            "x",
            "--format",
            "log-analytics",
            "--seed",
            "7",
            "--days",
            "3",
        ]);
        assert_eq!((a.format, a.seed, a.days), (Format::LogAnalytics, 7, 3));
        for (flag, format) in [
            ("portal-csv", Format::PortalCsv),
            ("portal-json", Format::PortalJson),
            ("diagnostic", Format::Diagnostic),
        ] {
            assert_eq!(
                parse(&["--events", "1", "--out", "x", "--format", flag])
                    .0
                    .format,
                format
            );
        }
        assert!(
            Cli::try_parse_from(["auditbook", "generate", "--out", "x"]).is_err(),
            "--events is required"
        );
        assert_eq!((a.snapshot, a.snapshot_every), (false, None));
        let (a, _) = parse(&["--events", "1", "--out", "x", "--snapshot-every", "7"]);
        assert_eq!((a.snapshot, a.snapshot_every), (false, Some(7)));
        assert!(
            parse(&["--events", "1", "--out", "x", "--snapshot"])
                .0
                .snapshot
        );
    }

    #[test]
    fn run_writes_the_files_and_rejects_bad_arguments() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().to_str().unwrap();
        let (a, g) = parse(&[
            "--events",
            "300",
            "--days",
            "2",
            "--format",
            "portal-json",
            "--out",
            out,
        ]);
        assert_eq!(run(a, &g).unwrap(), Outcome::Success);
        let v: serde_json::Value = serde_json::from_slice(
            &std::fs::read(dir.path().join("portal/AuditLogs.json")).unwrap(),
        )
        .unwrap();
        assert_eq!(v.as_array().unwrap().len(), 300);

        let (a, g) = parse(&["--events", "3", "--end", "soon", "--out", out]);
        assert!(matches!(run(a, &g), Err(Error::Usage(m)) if m.contains("--end")));
        let (a, g) = parse(&["--events", "3", "--days", "0", "--out", out]);
        assert!(matches!(run(a, &g), Err(Error::Usage(_))));
    }
}
