//! KQL compile time: parse + bind + prune + SQL generation + SQL text (`compile(..).sql()`), for
//! every query of `tests/kql/ok/` and `tests/kql/parse-ok/` that compiles (the rest, mostly
//! unfilled workbook placeholders, are skipped), and separately for the main queries of the two
//! Microsoft workbooks (Access Package Activity, Application role assignment activity), as the
//! corpus fills their placeholders. The SQL is never run.
//!
//! At the end it prints the median time of each query (criterion's median estimate) and the
//! median over the corpus.

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use auditbook::kql::{Catalog, compile};
use criterion::Criterion;

/// 2026-11-01T00:00:00Z, the `now` of the KQL corpus tests.
const NOW: i64 = 1_793_491_200_000_000_000;

const CORPUS_GROUP: &str = "kql_compile";
const WORKBOOK_GROUP: &str = "kql_compile_workbook";

fn catalog() -> Catalog {
    Catalog::new().with_table("AuditLogs", auditbook::schema::audit_logs_schema())
}

/// `(id, source)` of every `.kql` file of `tests/kql/{ok,parse-ok}/`, sorted; ids are
/// `dir.name`.
fn corpus() -> Vec<(String, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/kql");
    let mut out = Vec::new();
    for dir in ["ok", "parse-ok"] {
        let mut files: Vec<PathBuf> = std::fs::read_dir(root.join(dir))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "kql"))
            .collect();
        files.sort();
        for path in files {
            let stem = path.file_stem().unwrap().to_string_lossy();
            out.push((
                format!("{dir}.{stem}"),
                std::fs::read_to_string(&path).unwrap(),
            ));
        }
    }
    out
}

/// The main queries of the two workbooks, placeholders filled in as in the corpus (`tests/kql/ok/`).
fn workbooks() -> Vec<(&'static str, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/kql/ok");
    let read = |p: &str| std::fs::read_to_string(root.join(p)).unwrap();
    vec![
        (
            "access-package-activity",
            read("wb-accesspackage-activity.kql"),
        ),
        ("approle-assignments", read("wb-approle-assignments.kql")),
    ]
}

fn bench(c: &mut Criterion, catalog: &Catalog) -> Vec<(String, String)> {
    let mut ran = Vec::new();
    let mut group = c.benchmark_group(CORPUS_GROUP);
    for (id, src) in corpus() {
        if let Err(diagnostics) = compile(&src, catalog, NOW) {
            let first = diagnostics
                .first()
                .map(|d| d.message.as_str())
                .unwrap_or("");
            eprintln!("skipped {id}: does not compile ({first})");
            continue;
        }
        group.bench_function(&id, |b| {
            b.iter(|| compile(black_box(&src), catalog, NOW).unwrap().sql())
        });
        ran.push((CORPUS_GROUP.to_string(), id));
    }
    group.finish();

    let mut group = c.benchmark_group(WORKBOOK_GROUP);
    for (id, src) in workbooks() {
        compile(&src, catalog, NOW).unwrap_or_else(|d| panic!("workbook query {id}: {d:?}"));
        group.bench_function(id, |b| {
            b.iter(|| compile(black_box(&src), catalog, NOW).unwrap().sql())
        });
        ran.push((WORKBOOK_GROUP.to_string(), id.to_string()));
    }
    group.finish();
    ran
}

/// Criterion's output directory, as criterion finds it.
fn criterion_dir() -> PathBuf {
    if let Some(home) = std::env::var_os("CRITERION_HOME") {
        return home.into();
    }
    if let Some(target) = std::env::var_os("CARGO_TARGET_DIR") {
        return PathBuf::from(target).join("criterion");
    }
    // TARGET/release/deps/kql_compile-HASH
    let exe = std::env::current_exe().unwrap();
    exe.ancestors().nth(3).unwrap().join("criterion")
}

/// Median estimate (ns) of a benchmark measured by this run (older results are ignored).
fn median_ns(group: &str, id: &str, since: SystemTime) -> Option<f64> {
    let path = criterion_dir()
        .join(group)
        .join(id)
        .join("new/estimates.json");
    if std::fs::metadata(&path).ok()?.modified().ok()? < since {
        return None;
    }
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).ok()?).ok()?;
    json["median"]["point_estimate"].as_f64()
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn main() {
    let start = SystemTime::now();
    let catalog = catalog();
    let mut c = Criterion::default().configure_from_args();
    let ran = bench(&mut c, &catalog);
    c.final_summary();

    let mut corpus = Vec::new();
    let mut lines = Vec::new();
    for (group, id) in &ran {
        if let Some(ns) = median_ns(group, id, start) {
            lines.push(format!("{:>10.1} µs  {group}/{id}", ns / 1e3));
            if group == CORPUS_GROUP {
                corpus.push(ns);
            }
        }
    }
    if lines.is_empty() {
        return; // --test, --list, or a filter that matched nothing
    }
    println!("\nmedian compile time (compile + sql()) per query:");
    for l in &lines {
        println!("{l}");
    }
    if !corpus.is_empty() {
        let n = corpus.len();
        let (min, max) = (
            corpus.iter().copied().fold(f64::INFINITY, f64::min),
            corpus.iter().copied().fold(0.0, f64::max),
        );
        println!(
            "corpus: {n} queries; median of the per-query medians {:.1} µs (min {:.1} µs, max {:.1} µs)",
            median(&mut corpus) / 1e3,
            min / 1e3,
            max / 1e3
        );
    }
}
