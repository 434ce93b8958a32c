//! `auditbook compact [--days FROM..TO] [--json]`: merges the days holding several Parquet files
//! (one per incremental ingest) into one file each, atomically, writes the target index of
//! files that have none, and says what it did.

use crate::cli::GlobalArgs;
use crate::store::Dataset;
use crate::{Outcome, Result};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Only these days: `FROM..TO` (`YYYY-MM-DD`, inclusive; either side may be left out),
    /// or one day.
    #[arg(long, value_name = "FROM..TO")]
    pub days: Option<String>,
    /// Print the summary as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

fn day_arg(s: &str) -> Result<Option<String>> {
    if s.is_empty() {
        return Ok(None);
    }
    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .map(|d| Some(d.format("%Y-%m-%d").to_string()))
        .map_err(|_| crate::Error::Usage(format!("--days: `{s}` is not a YYYY-MM-DD date")))
}

pub fn run(args: Args, global: &GlobalArgs) -> Result<Outcome> {
    let (from, to) = match args.days.as_deref() {
        None => (None, None),
        Some(r) => match r.split_once("..") {
            Some((a, b)) => (day_arg(a)?, day_arg(b)?),
            None => (day_arg(r)?, day_arg(r)?),
        },
    };
    let dataset = Dataset::open_for_write(&global.data, || {
        eprintln!(
            "waiting: another auditbook writer holds the lock on {}",
            global.data.display()
        )
    })?;
    let s = dataset.compact(from.as_deref(), to.as_deref())?;
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&s).expect("serializable")
        );
    } else if s.days.is_empty() {
        if s.indexed > 0 {
            println!(
                "indexed {} file(s) that had no target index, in {:.1} s",
                s.indexed, s.seconds
            );
        }
        println!(
            "nothing {}: {} day(s), {} file(s), none with more than one file",
            if s.indexed > 0 { "to merge" } else { "to do" },
            s.days_seen,
            s.files_before
        );
    } else {
        if s.indexed > 0 {
            println!("indexed {} file(s) that had no target index", s.indexed);
        }
        for d in &s.days {
            println!(
                "{}: {} files → 1, {} rows, {:.1} MB → {:.1} MB",
                d.day,
                d.files_before,
                d.rows,
                d.bytes_before as f64 / 1e6,
                d.bytes_after as f64 / 1e6
            );
        }
        println!(
            "compacted {} of {} day(s): files {} → {}, rows {} (unchanged), {:.1} MB → {:.1} MB in {:.1} s",
            s.days.len(),
            s.days_seen,
            s.files_before,
            s.files_after,
            s.rows,
            s.bytes_before as f64 / 1e6,
            s.bytes_after as f64 / 1e6,
            s.seconds
        );
    }
    Ok(Outcome::Success)
}
