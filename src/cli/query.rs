//! `auditbook query --sql QUERY | --kql QUERY | -f FILE [--format F]`: one read-only SQL or KQL
//! query over the dataset, printed to stdout.

use std::io::{BufWriter, Write};
use std::path::PathBuf;

use crate::cli::GlobalArgs;
use crate::render::{OutputFormat, print_batches};
use crate::{Error, Outcome, Result};

/// Run a SQL or KQL query over the dataset.
///
/// Tables: `AuditLogs` (in SQL also the partition column `date`, `YYYY-MM-DD`). SQL names are
/// case-sensitive and need no quotes: `SELECT Category, count(*) FROM AuditLogs GROUP BY
/// Category`; nested columns: `InitiatedBy['user']['displayName']`, `unnest(TargetResources)`.
/// KQL runs as Log Analytics would: `AuditLogs | summarize count() by Category`. Queries are
/// read-only.
#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("source").required(true).args(["sql", "kql", "file"])))]
pub struct Args {
    /// The SQL query (DataFusion dialect).
    #[arg(long, value_name = "QUERY")]
    pub sql: Option<String>,
    /// The KQL query (compiled to SQL; `auditbook explain` shows the SQL).
    #[arg(long, value_name = "QUERY")]
    pub kql: Option<String>,
    /// Read the query from FILE (`-` for stdin): KQL when the name ends in `.kql` or `.csl`
    /// (or with `--lang kql`), SQL otherwise.
    #[arg(long, short = 'f', value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// The language of `--file`.
    #[arg(long, value_enum, value_name = "LANG")]
    pub lang: Option<Lang>,
    /// Output format [default: table when stdout is a terminal, csv otherwise].
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub format: Option<OutputFormat>,
}

/// A query language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Lang {
    Sql,
    Kql,
}

/// The process's multi-threaded runtime for DataFusion (the CLI's, and the in-process
/// benches'), started on first use and kept: every query of the process runs on the same worker
/// threads. A runtime per query started new threads each time, whose memory (mimalloc's
/// per-thread pages, the stacks) the kernel handed out zeroed again: in `perf` of App role
/// assignment activity run repeatedly in one process, 11 % of the cycles were the kernel
/// clearing huge pages for it (`clear_page_erms` under `do_huge_pmd_anonymous_page`). Kept, the
/// page faults stop growing with the runs and the CPU time of a run fell 176 → 164 ms; its wall
/// time stayed within the machine's noise (`BENCHMARKS.md`).
pub fn runtime() -> Result<&'static tokio::runtime::Runtime> {
    static RUNTIME: std::sync::OnceLock<tokio::runtime::Runtime> = std::sync::OnceLock::new();
    if let Some(rt) = RUNTIME.get() {
        return Ok(rt);
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Invalid(format!("cannot start the async runtime: {e}")))?;
    // Two threads starting it at once: one runtime is kept, the other dropped unused.
    Ok(RUNTIME.get_or_init(|| rt))
}

/// A KQL query from `--kql` or a file, with the name its diagnostics show.
pub(crate) fn load_kql(
    kql: Option<&str>,
    file: Option<&std::path::Path>,
) -> Result<(String, String)> {
    let (name, text) = match (kql, file) {
        (Some(q), _) => ("<query>".to_string(), q.to_string()),
        (None, Some(path)) => (path.display().to_string(), read_query(path)?),
        (None, None) => {
            return Err(Error::Usage(
                "give the query with --kql QUERY or --file FILE".into(),
            ));
        }
    };
    if text.trim().trim_end_matches(';').trim().is_empty() {
        return Err(Error::Usage("the query is empty".into()));
    }
    Ok((name, text))
}

pub fn run(args: Args, global: &GlobalArgs) -> Result<Outcome> {
    let is_kql = args.kql.is_some()
        || args.lang == Some(Lang::Kql)
        || (args.lang.is_none()
            && args.file.as_ref().is_some_and(|p| {
                p.extension()
                    .is_some_and(|e| e.eq_ignore_ascii_case("kql") || e.eq_ignore_ascii_case("csl"))
            }));
    let format = args.format.unwrap_or_else(OutputFormat::default_for_stdout);
    let engine = global.engine()?;
    let runtime = runtime()?;
    let result = if is_kql {
        let (name, text) = load_kql(args.kql.as_deref(), args.file.as_deref())?;
        let compiled = match engine.compile_kql(&text, &name) {
            Ok(c) => c,
            // Machine-readable diagnostics for tools: `{"diagnostics": [...]}` on stdout.
            Err(Error::Diagnostics {
                diagnostics,
                text,
                file,
            }) if matches!(format, OutputFormat::Json | OutputFormat::Ndjson) => {
                let json: Vec<_> = diagnostics.iter().map(|d| d.to_json(&text)).collect();
                println!("{}", serde_json::json!({ "diagnostics": json }));
                return Err(Error::Diagnostics {
                    diagnostics,
                    text,
                    file,
                });
            }
            Err(e) => return Err(e),
        };
        for w in &compiled.warnings {
            eprint!("{}", w.render(&name, &text));
        }
        runtime.block_on(engine.run_kql(&compiled))?
    } else {
        let query = match (&args.sql, &args.file) {
            (Some(sql), _) => sql.clone(),
            (None, Some(path)) => read_query(path)?,
            (None, None) => {
                return Err(Error::Usage(
                    "give the query with --sql QUERY, --kql QUERY or --file FILE".into(),
                ));
            }
        };
        if query.trim().trim_end_matches(';').trim().is_empty() {
            return Err(Error::Usage("the query is empty".into()));
        }
        runtime.block_on(engine.query(&query))?
    };

    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let written = print_batches(format, &result.schema, &result.batches, &mut out)
        .and_then(|()| out.flush().map_err(|e| Error::io("<output>", e)));
    match written {
        // `auditbook query ... | head`: the reader has what it wanted.
        Err(Error::Io { source, .. }) if source.kind() == std::io::ErrorKind::BrokenPipe => {
            Ok(Outcome::Success)
        }
        Err(e) => Err(e),
        // Zero rows is an answer, not a failure.
        Ok(()) => Ok(Outcome::Success),
    }
}

pub(crate) fn read_query(path: &std::path::Path) -> Result<String> {
    if path.as_os_str() == "-" {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut text)
            .map_err(|e| Error::io("<stdin>", e))?;
        return Ok(text);
    }
    std::fs::read_to_string(path).map_err(|e| Error::io(path, e))
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        args: Args,
    }

    #[test]
    fn flags() {
        let cli = Cli::try_parse_from(["q", "--sql", "SELECT 1", "--format", "ndjson"]).unwrap();
        assert_eq!(cli.args.sql.as_deref(), Some("SELECT 1"));
        assert_eq!(cli.args.format, Some(OutputFormat::Ndjson));
        let cli = Cli::try_parse_from(["q", "-f", "q.sql"]).unwrap();
        assert_eq!(cli.args.file, Some(PathBuf::from("q.sql")));
        assert_eq!(cli.args.format, None);
        assert!(Cli::try_parse_from(["q"]).is_err(), "a query is required");
        assert!(
            Cli::try_parse_from(["q", "--sql", "x", "-f", "y"]).is_err(),
            "one source only"
        );
        assert!(Cli::try_parse_from(["q", "--sql", "x", "--format", "xml"]).is_err());
    }

    #[test]
    fn runs_against_a_missing_dataset_with_zero_rows() {
        let tmp = tempfile::tempdir().unwrap();
        let global = GlobalArgs {
            data: tmp.path().join("none"),
            memory_limit: None,
        };
        let args = Args {
            sql: Some("SELECT Id FROM AuditLogs WHERE Category = 'x'".into()),
            kql: None,
            lang: None,
            file: None,
            format: Some(OutputFormat::Json),
        };
        assert_eq!(run(args, &global).unwrap(), Outcome::Success);
        let args = Args {
            sql: Some("SELECT nope FROM AuditLogs".into()),
            kql: None,
            lang: None,
            file: None,
            format: None,
        };
        assert!(matches!(run(args, &global), Err(Error::DataFusion(_))));
        let args = Args {
            sql: Some(" ; ".into()),
            kql: None,
            lang: None,
            file: None,
            format: None,
        };
        assert!(matches!(run(args, &global), Err(Error::Usage(_))));
    }
}
