//! End-to-end workbook queries, in process: what one `auditbook run` / `params` / `query --kql`
//! / `report` invocation does, through the same library entry points the CLI calls, minus
//! writing the output. One run = open the dataset (`Engine::open`) + bind + compile + plan +
//! execute + collect; the engine is opened again for every run, as every invocation does.
//!
//! ```text
//! cargo bench --bench workbook_queries -- --data DIR [--now RFC3339] [--runs N] [--warmup N]
//!     [--budget SECONDS] [--package ID] [--app NAME] [--user UPN] [--target ID] [--only CASE,...]
//!     [--list]
//! ```
//!
//! Cases (a case whose flag is missing is skipped):
//! - `apa-30d`: `run access-package-activity --param AccessPackageId=ID --param Since=30d`
//! - `apa-all`: the same with `Since=3653d` (the workbook's "all")
//! - `apa-dropdown`: `params access-package-activity` (runs the AccessPackageId choice query,
//!   all time)
//! - `approle-30d`: `run app-role-assignment-activity --param Appname=NAME --param Time=30d`
//! - `approle-dropdown`: `params app-role-assignment-activity --param Time=30d` (its Appname
//!   choices)
//! - `daily-by-category`: `query --kql 'AuditLogs | summarize count() by bin(TimeGenerated, 1d),
//!   Category'`
//! - `request-status`: `report request-status --user UPN` (= `run request-status --param
//!   User=UPN`)
//! - `target-events`: `query --kql 'AuditLogs | mv-expand TargetResources | where
//!   TargetResources.id == "ID" | project ... | order by TimeGenerated desc'`: every event that
//!   targets one object, all time
//!
//! Each case runs `--warmup` times (default 1) untimed, then `--runs` times (default 5); a
//! warm-up slower than 5 s counts as a run (the caches it warms matter little then), and runs
//! stop early once their total passes `--budget` seconds (default 60; at least one run).
//!
//! Prints one JSON line per case on stdout: `{"name", "command", "runs": [seconds...],
//! "median", "min", "rows"}`. `rows` counts the rows the step queries produced (before a row
//! limit cut) for `run`, the allowed values of the drop-down for `params`, the result rows for
//! `query`. Without `--data` it prints this usage and exits 0, so a plain `cargo bench` passes.
//! `benches/compare.py` drives it.

use std::path::PathBuf;
use std::time::Instant;

use auditbook::cli::GlobalArgs;
use auditbook::cli::query::runtime;
use auditbook::cli::workbook::{InputArgs, walk_workbook};
use auditbook::engine::Engine;
use auditbook::workbook::run::{Mode, walk_lenient};
use auditbook::workbook::{StepResult, load_builtin_or_path};

// The binary's allocator (src/main.rs): in process means the same code as the CLI, allocator
// included.
#[global_allocator]
static ALLOCATOR: auditbook::allocator::Allocator = auditbook::allocator::Allocator {};

/// A warm-up run slower than this (seconds) counts as a measured run.
const SLOW_WARMUP: f64 = 5.0;

const DAILY_KQL: &str = "AuditLogs | summarize count() by bin(TimeGenerated, 1d), Category";

/// Every event that targets one object (a user, a group, ...), all time: a security reader's
/// question, which the target index answers without reading the other events.
fn target_kql(id: &str) -> String {
    format!(
        "AuditLogs | mv-expand TargetResources | where TargetResources.id == {id:?} \
         | project TimeGenerated, Category, OperationName, Result, InitiatedBy, AdditionalDetails, TargetResources \
         | order by TimeGenerated desc"
    )
}

/// What one invocation does.
enum Kind {
    /// `auditbook run WORKBOOK --param ...`
    Run {
        workbook: &'static str,
        params: Vec<String>,
    },
    /// `auditbook params WORKBOOK --param ...`; rows = the allowed values of `listed`.
    Params {
        workbook: &'static str,
        params: Vec<String>,
        listed: &'static str,
    },
    /// `auditbook query --kql QUERY`
    Kql(String),
}

struct Case {
    name: &'static str,
    command: String,
    kind: Kind,
}

#[derive(Default)]
struct Args {
    data: Option<PathBuf>,
    now: Option<String>,
    runs: Option<usize>,
    budget: Option<f64>,
    warmup: Option<usize>,
    package: Option<String>,
    app: Option<String>,
    user: Option<String>,
    target: Option<String>,
    only: Vec<String>,
    list: bool,
}

fn parse_args() -> Args {
    let mut args = Args::default();
    let mut it = std::env::args().skip(1).peekable();
    while let Some(arg) = it.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(v.to_string())),
            _ => (arg.clone(), None),
        };
        let takes_value = matches!(
            flag.as_str(),
            "--data"
                | "--now"
                | "--runs"
                | "--warmup"
                | "--package"
                | "--app"
                | "--user"
                | "--target"
                | "--only"
        );
        let value = if takes_value {
            inline.or_else(|| it.next())
        } else {
            None
        };
        let number = |v: Option<String>| -> Option<usize> {
            let v = v?;
            Some(v.parse().unwrap_or_else(|_| {
                eprintln!("{flag} {v}: expected a number");
                std::process::exit(2)
            }))
        };
        match flag.as_str() {
            "--data" => args.data = value.map(PathBuf::from),
            "--now" => args.now = value,
            "--runs" => args.runs = number(value),
            "--budget" => {
                args.budget = value.map(|v| {
                    v.parse().unwrap_or_else(|_| {
                        eprintln!("--budget {v}: expected seconds");
                        std::process::exit(2)
                    })
                })
            }
            "--warmup" => args.warmup = number(value),
            "--package" => args.package = value,
            "--app" => args.app = value,
            "--user" => args.user = value,
            "--target" => args.target = value,
            "--only" => args.only.extend(
                value
                    .unwrap_or_default()
                    .split(',')
                    .filter(|s| !s.is_empty())
                    .map(str::to_string),
            ),
            "--list" => args.list = true,
            // `cargo bench` adds `--bench`; anything else unknown is ignored too.
            _ => {}
        }
    }
    args
}

fn cases(args: &Args) -> Vec<Case> {
    let mut out = Vec::new();
    let now = args.now.as_deref().unwrap_or("2026-11-01T00:00:00Z");
    let run = |name, workbook: &'static str, params: Vec<String>| {
        let flags: Vec<String> = params.iter().map(|p| format!("--param {p:?}")).collect();
        Case {
            name,
            command: format!("run {workbook} {} --now {now}", flags.join(" ")),
            kind: Kind::Run { workbook, params },
        }
    };
    let missing = |name: &str, flag: &str| eprintln!("skipped {name}: no {flag} given");
    match &args.package {
        Some(p) => {
            out.push(run(
                "apa-30d",
                "access-package-activity",
                vec![format!("AccessPackageId={p}"), "Since=30d".into()],
            ));
            out.push(run(
                "apa-all",
                "access-package-activity",
                vec![format!("AccessPackageId={p}"), "Since=3653d".into()],
            ));
        }
        None => {
            missing("apa-30d", "--package");
            missing("apa-all", "--package");
        }
    }
    out.push(Case {
        name: "apa-dropdown",
        command: format!("params access-package-activity --now {now}"),
        kind: Kind::Params {
            workbook: "access-package-activity",
            params: vec![],
            listed: "AccessPackageId",
        },
    });
    match &args.app {
        Some(a) => out.push(run(
            "approle-30d",
            "app-role-assignment-activity",
            vec![format!("Appname={a}"), "Time=30d".into()],
        )),
        None => missing("approle-30d", "--app"),
    }
    out.push(Case {
        name: "approle-dropdown",
        command: format!("params app-role-assignment-activity --param Time=30d --now {now}"),
        kind: Kind::Params {
            workbook: "app-role-assignment-activity",
            params: vec!["Time=30d".into()],
            listed: "Appname",
        },
    });
    out.push(Case {
        name: "daily-by-category",
        command: format!("query --kql {DAILY_KQL:?}"),
        kind: Kind::Kql(DAILY_KQL.to_string()),
    });
    match &args.user {
        Some(u) => out.push(Case {
            name: "request-status",
            command: format!("report request-status --user {u:?} --now {now}"),
            kind: Kind::Run {
                workbook: "request-status",
                params: vec![format!("User={u}")],
            },
        }),
        None => missing("request-status", "--user"),
    }
    match &args.target {
        Some(t) => {
            let kql = target_kql(t);
            out.push(Case {
                name: "target-events",
                command: format!("query --kql {kql:?}"),
                kind: Kind::Kql(kql),
            })
        }
        None => missing("target-events", "--target"),
    }
    if !args.only.is_empty() {
        out.retain(|c| args.only.iter().any(|o| o == c.name));
    }
    out
}

/// The global flags as the CLI parses them from `--data DIR` (every other global flag at its
/// default, whatever flags the CLI gains).
fn global_args(data: &std::path::Path) -> GlobalArgs {
    #[derive(clap::Parser)]
    struct Flags {
        #[command(flatten)]
        global: GlobalArgs,
    }
    <Flags as clap::Parser>::parse_from([
        std::ffi::OsStr::new("workbook_queries"),
        "--data".as_ref(),
        data.as_os_str(),
    ])
    .global
}

fn inputs(params: &[String], now: &str) -> InputArgs {
    InputArgs {
        params: params.to_vec(),
        time: None,
        from: None,
        to: None,
        now: Some(now.to_string()),
    }
}

/// One invocation, output not written: the number of rows it produced.
fn run_once(case: &Case, global: &GlobalArgs, now: &str) -> auditbook::Result<usize> {
    match &case.kind {
        Kind::Run { workbook, params } => {
            // What `auditbook run` and `auditbook report` call before writing the output.
            let (_, walked) = walk_workbook(workbook, &inputs(params, now), global, Mode::Run)?;
            Ok(walked
                .result
                .steps
                .iter()
                .map(|s| match s {
                    StepResult::Table(t) => t.total_rows,
                    _ => 0,
                })
                .sum())
        }
        Kind::Params {
            workbook,
            params,
            listed,
        } => {
            // `cli::workbook::params`, up to the listing.
            let wb = load_builtin_or_path(workbook)?;
            let inputs = inputs(params, now).inputs()?;
            let engine = Engine::open(&global.data)?;
            let rt = runtime()?;
            let walked = walk_lenient(&engine, rt, &wb, &inputs)?;
            let param = walked
                .iter()
                .find(|p| p.param.name == *listed)
                .ok_or_else(|| auditbook::Error::Invalid(format!("no parameter {listed}")))?;
            Ok(param.allowed.as_ref().map_or(0, Vec::len))
        }
        Kind::Kql(text) => {
            // `cli::query::run` with --kql, up to printing.
            let engine = Engine::open(&global.data)?;
            let rt = runtime()?;
            let compiled = engine.compile_kql(text, "<query>")?;
            let result = rt.block_on(engine.run_kql(&compiled))?;
            Ok(result.num_rows())
        }
    }
}

fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n == 0 {
        f64::NAN
    } else if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn main() {
    auditbook::allocator::keep_freed_memory();
    let args = parse_args();
    if args.list {
        for c in cases(&args) {
            println!("{}\t{}", c.name, c.command);
        }
        return;
    }
    let Some(data) = args.data.clone() else {
        eprintln!(
            "workbook_queries: nothing to do without --data DIR (see benches/workbook_queries.rs; \
             benches/compare.py runs it)"
        );
        return;
    };
    let now = args
        .now
        .clone()
        .unwrap_or_else(|| "2026-11-01T00:00:00Z".to_string());
    let runs = args.runs.unwrap_or(5).max(1);
    let warmup = args.warmup.unwrap_or(1);
    let budget = args.budget.unwrap_or(60.0);
    let global = global_args(&data);
    let mut failed = false;
    for case in cases(&args) {
        let mut rows = 0;
        let mut times: Vec<f64> = Vec::with_capacity(runs);
        let mut error = None;
        let mut i = 0;
        while times.len() < runs && (times.is_empty() || times.iter().sum::<f64>() < budget) {
            let start = Instant::now();
            match run_once(&case, &global, &now) {
                Ok(n) => rows = n,
                Err(e) => {
                    error = Some(e.to_string());
                    break;
                }
            }
            let secs = start.elapsed().as_secs_f64();
            if i >= warmup || secs > SLOW_WARMUP {
                times.push(secs);
            }
            i += 1;
        }
        let line = match error {
            Some(e) => {
                failed = true;
                eprintln!("{}: {e}", case.name);
                serde_json::json!({"name": case.name, "command": case.command, "error": e})
            }
            None => serde_json::json!({
                "name": case.name,
                "command": case.command,
                "runs": times,
                "median": median(&times),
                "min": times.iter().copied().fold(f64::INFINITY, f64::min),
                "rows": rows,
            }),
        };
        println!("{line}");
    }
    if failed {
        std::process::exit(1);
    }
}
