//! `auditbook explain --kql QUERY | -f FILE [--plan] [--format text|json]`: the SQL a KQL query
//! compiles to (indented), its warnings, and with `--plan` DataFusion's optimized plan.
//! `auditbook explain WORKBOOK [--param ...] [--plan|--analyze]`: every visible step of a
//! workbook, its query with the parameters bound, the SQL it runs as, and its plans.

use std::path::PathBuf;

use crate::cli::GlobalArgs;
use crate::cli::query::{load_kql, runtime};
use crate::{Error, Outcome, Result};

/// Show the DataFusion SQL a KQL query compiles to.
#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("source").required(true).args(["workbook", "kql", "file"])))]
pub struct Args {
    /// A workbook (file or built-in name): explain each of its visible steps.
    pub workbook: Option<String>,
    #[command(flatten)]
    pub inputs: crate::cli::workbook::InputArgs,
    /// The KQL query.
    #[arg(long, value_name = "QUERY")]
    pub kql: Option<String>,
    /// Read the KQL query from FILE (`-` for stdin).
    #[arg(long, short = 'f', value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// Also print DataFusion's optimized logical and physical plans.
    #[arg(long)]
    pub plan: bool,
    /// Run the query and print the physical plan with its metrics (rows, time, bytes scanned,
    /// files and pages pruned): where a slow query spends its time.
    #[arg(long)]
    pub analyze: bool,
    /// `text` (default) or `json` (`{"sql", "columns", "render", "warnings", "plan"}`; compile
    /// errors as `{"diagnostics": [...]}` on stdout, exit code 2).
    #[arg(long, value_enum, default_value = "text")]
    pub format: ExplainFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ExplainFormat {
    Text,
    Json,
}

pub fn run(args: Args, global: &GlobalArgs) -> Result<Outcome> {
    if let Some(wb) = &args.workbook {
        return explain_workbook(wb, &args, global);
    }
    let (file, kql) = load_kql(args.kql.as_deref(), args.file.as_deref())?;
    let engine = global.engine()?;
    // `--now` fixes `now()`/`ago()` as it does for workbooks, so plans are reproducible.
    let now = args.inputs.inputs()?.now;
    let compiled = match engine.compile_kql_at(&kql, &file, now) {
        Ok(c) => c,
        Err(Error::Diagnostics {
            diagnostics, text, ..
        }) if args.format == ExplainFormat::Json => {
            let json: Vec<_> = diagnostics.iter().map(|d| d.to_json(&text)).collect();
            println!("{}", serde_json::json!({ "diagnostics": json }));
            return Err(Error::Usage("the query does not compile".into()));
        }
        Err(e) => return Err(e),
    };
    let plan = if args.plan || args.analyze {
        let rt = runtime()?;
        let df = rt.block_on(engine.kql_dataframe(&compiled))?;
        Some(plans(&engine, rt, df, args.analyze)?)
    } else {
        None
    };
    match args.format {
        ExplainFormat::Text => {
            for w in &compiled.warnings {
                eprint!("{}", w.render(&file, &kql));
            }
            println!("{}", compiled.pretty_sql());
            for (table, schema) in &compiled.narrowed {
                for f in schema.fields() {
                    let full = engine
                        .catalog()
                        .table(table)
                        .and_then(|s| s.field_with_name(f.name()).ok().cloned());
                    if full.is_some_and(|full| full.data_type() != f.data_type()) {
                        println!("-- reads only {table}.{}: {}", f.name(), f.data_type());
                    }
                }
            }
            if let Some(plan) = &plan {
                print_plans(plan);
            }
        }
        ExplainFormat::Json => {
            let columns: Vec<_> = compiled
                .columns
                .iter()
                .map(|(n, t)| serde_json::json!({"name": n, "type": t.kql_name()}))
                .collect();
            let warnings: Vec<_> = compiled.warnings.iter().map(|d| d.to_json(&kql)).collect();
            let out = serde_json::json!({
                "sql": compiled.sql(),
                "materialized": compiled.materialized.iter()
                    .map(|(name, q)| serde_json::json!({"table": name, "sql": q.to_string()}))
                    .collect::<Vec<_>>(),
                "columns": columns,
                "render": compiled.render,
                "warnings": warnings,
                "plan": plan.map(|(l, p)| serde_json::json!({"logical": l, "physical": p})),
            });
            println!("{}", serde_json::to_string_pretty(&out).expect("json"));
        }
    }
    Ok(Outcome::Success)
}

/// The optimized logical plan of `df` and its physical plan; with `analyze`, the physical plan
/// is run (its materialized tables were computed when `df` was made) and shown with its metrics.
fn plans(
    engine: &crate::engine::Engine,
    rt: &tokio::runtime::Runtime,
    df: datafusion::dataframe::DataFrame,
    analyze: bool,
) -> Result<(String, String)> {
    use datafusion::physical_plan::display::DisplayableExecutionPlan;
    let state = engine.context().state();
    let logical = state.optimize(df.logical_plan())?;
    let physical = rt.block_on(state.create_physical_plan(&logical))?;
    let shown = if analyze {
        rt.block_on(datafusion::physical_plan::collect(
            physical.clone(),
            engine.context().task_ctx(),
        ))?;
        DisplayableExecutionPlan::with_metrics(physical.as_ref())
            .indent(true)
            .to_string()
    } else {
        datafusion::physical_plan::displayable(physical.as_ref())
            .indent(true)
            .to_string()
    };
    Ok((logical.display_indent().to_string(), shown))
}

fn print_plans((logical, physical): &(String, String)) {
    println!("\n-- optimized logical plan\n{logical}\n-- physical plan\n{physical}");
}

/// The workbook form: parameters resolved (their queries run), each visible step bound and
/// compiled, nothing else run.
fn explain_workbook(arg: &str, args: &Args, global: &GlobalArgs) -> Result<Outcome> {
    use crate::workbook::run::Mode;
    let (wb, walked) =
        crate::cli::workbook::walk_workbook(arg, &args.inputs, global, Mode::Explain)?;
    // --plan / --analyze: each step's plans, the way `run` would plan (and run) it.
    let mut step_plans = Vec::new();
    if args.plan || args.analyze {
        let engine = global.engine()?;
        let rt = runtime()?;
        for s in &walked.explained {
            let df = match &s.kql {
                Some(c) => rt.block_on(engine.kql_dataframe(c))?,
                None => rt.block_on(engine.dataframe(&s.sql))?,
            };
            step_plans.push(Some(plans(&engine, rt, df, args.analyze)?));
        }
    }
    step_plans.resize(walked.explained.len(), None);
    let time = |t: Option<(i64, i64)>| {
        t.map(|(s, e)| {
            serde_json::json!({
                "start": crate::time::format_rfc3339_nanos(s),
                "end": crate::time::format_rfc3339_nanos(e),
            })
        })
    };
    match args.format {
        ExplainFormat::Json => {
            let steps: Vec<_> = walked
                .explained
                .iter()
                .zip(&step_plans)
                .map(|(s, plan)| {
                    serde_json::json!({
                        "name": s.name,
                        "title": s.title,
                        "language": match s.lang { crate::workbook::Lang::Kql => "kql", crate::workbook::Lang::Sql => "sql" },
                        "query": s.bound,
                        "sql": s.sql,
                        "time": time(s.time),
                        "plan": plan.as_ref().map(|(l, p)| serde_json::json!({"logical": l, "physical": p})),
                    })
                })
                .collect();
            let params: serde_json::Map<String, serde_json::Value> =
                walked.result.parameters.iter().cloned().collect();
            let out = serde_json::json!({
                "workbook": wb.title,
                "parameters": params,
                "steps": steps,
            });
            println!("{}", serde_json::to_string_pretty(&out).expect("json"));
        }
        ExplainFormat::Text => {
            println!("-- workbook: {}", wb.title);
            for (name, value) in &walked.result.parameters {
                println!("-- parameter {name} = {value}");
            }
            for (s, plan) in walked.explained.iter().zip(&step_plans) {
                println!(
                    "\n-- step `{}`{}",
                    s.name,
                    s.title
                        .as_ref()
                        .map(|t| format!(": {t}"))
                        .unwrap_or_default()
                );
                if let Some(t) = time(s.time) {
                    println!("-- time range: {} .. {}", t["start"], t["end"]);
                }
                println!("-- query:");
                for line in s.bound.lines() {
                    println!("--   {line}");
                }
                println!("{}", s.sql);
                if let Some(plan) = plan {
                    print_plans(plan);
                }
            }
        }
    }
    Ok(Outcome::Success)
}
