//! KQL parser corpus and robustness tests.
//!
//! - `tests/kql/parse-ok/*.kql` must parse without error; `x.ast.snap` holds the AST dump
//!   (`Query::dump`) and, when the parser warns, `x.err.snap` the rendered warnings.
//! - `tests/kql/parse-err/*.kql` must give at least one error; `x.err.snap` holds the rendered
//!   diagnostics.
//!
//! `UPDATE_SNAPSHOTS=1 cargo test --test kql_parse` rewrites the snapshots; otherwise a mismatch
//! fails with the expected and actual text. Every snapshot is reviewed before it is committed.
//!
//! A property test checks that `parse` never panics on random strings and on random byte
//! mutations of the corpus queries.

mod util;

use std::path::{Path, PathBuf};

use auditbook::diagnostic::render_all;
use auditbook::kql::parse;
use proptest::prelude::*;

fn corpus(dir: &str) -> Vec<PathBuf> {
    util::kql_files(dir)
}

fn updating() -> bool {
    std::env::var_os("UPDATE_SNAPSHOTS").is_some_and(|v| v == "1")
}

/// Compares `actual` with the snapshot at `path` (or writes it when updating, or removes it when
/// `actual` is `None`). Returns a failure description.
fn check_snapshot(path: &Path, actual: Option<&str>) -> Option<String> {
    let expected = std::fs::read_to_string(path).ok();
    if updating() {
        match actual {
            Some(a) => std::fs::write(path, a).unwrap(),
            None => {
                let _ = std::fs::remove_file(path);
            }
        }
        return None;
    }
    if expected.as_deref() == actual {
        return None;
    }
    Some(format!(
        "snapshot {} differs\n--- expected\n{}\n+++ actual\n{}\n",
        path.display(),
        expected.as_deref().unwrap_or("<no snapshot>"),
        actual.unwrap_or("<none>")
    ))
}

fn name(p: &Path) -> String {
    format!("{}.kql", p.file_stem().unwrap().to_string_lossy())
}

#[test]
fn parse_ok_corpus() {
    let files = corpus("parse-ok");
    assert!(files.len() >= 60, "only {} parse-ok queries", files.len());
    let mut failures = Vec::new();
    for f in &files {
        let src = std::fs::read_to_string(f).unwrap();
        let (q, diags) = parse(&src);
        let rendered = render_all(&diags, &name(f), &src);
        let Some(q) = q else {
            failures.push(format!("{}: errors\n{rendered}", f.display()));
            continue;
        };
        failures.extend(check_snapshot(
            &f.with_extension("ast.snap"),
            Some(&q.dump()),
        ));
        let warn = (!diags.is_empty()).then_some(rendered.as_str());
        failures.extend(check_snapshot(&f.with_extension("err.snap"), warn));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn parse_err_corpus() {
    let files = corpus("parse-err");
    assert!(files.len() >= 25, "only {} parse-err queries", files.len());
    let mut failures = Vec::new();
    for f in &files {
        let src = std::fs::read_to_string(f).unwrap();
        let (q, diags) = parse(&src);
        if q.is_some() || !diags.iter().any(|d| d.is_error()) {
            failures.push(format!("{}: parsed without error", f.display()));
            continue;
        }
        let rendered = render_all(&diags, &name(f), &src);
        failures.extend(check_snapshot(
            &f.with_extension("err.snap"),
            Some(&rendered),
        ));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn workbook_queries_parse_with_placeholders() {
    for f in corpus("parse-ok") {
        if !name(&f).starts_with("wb-") {
            continue;
        }
        let src = std::fs::read_to_string(&f).unwrap();
        let (q, _) = parse(&src);
        let dump = q.expect("workbook query parses").dump();
        assert!(
            dump.contains(":value}"),
            "{}: placeholder kept",
            f.display()
        );
    }
}

#[test]
fn json_diagnostics_have_positions() {
    let src = "AuditLogs\n| projectaway Id";
    let (_, diags) = parse(src);
    let j = serde_json::to_value(diags[0].to_json(src)).unwrap();
    assert_eq!(j["code"], "KQL0101");
    assert_eq!(j["line"], 2);
    assert_eq!(j["column"], 3);
    assert_eq!(j["end_column"], 14);
    assert_eq!(j["hints"][0], "did you mean `project-away`?");
}

fn corpus_sources() -> &'static [String] {
    static SOURCES: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    SOURCES.get_or_init(|| {
        corpus("parse-ok")
            .into_iter()
            .chain(corpus("parse-err"))
            .map(|f| std::fs::read_to_string(f).unwrap())
            .collect()
    })
}

#[derive(Clone, Debug)]
enum Mutation {
    Delete(usize),
    Insert(usize, u8),
    Swap(usize, usize),
}

fn apply(src: &str, muts: &[Mutation]) -> String {
    let mut b = src.as_bytes().to_vec();
    for m in muts {
        if b.is_empty() {
            break;
        }
        match *m {
            Mutation::Delete(i) => {
                b.remove(i % b.len());
            }
            Mutation::Insert(i, c) => b.insert(i % (b.len() + 1), c),
            Mutation::Swap(i, j) => {
                let n = b.len();
                b.swap(i % n, j % n);
            }
        }
    }
    String::from_utf8_lossy(&b).into_owned()
}

fn mutation() -> impl Strategy<Value = Mutation> {
    // Inserted bytes favour KQL punctuation.
    let byte = prop_oneof![
        prop::sample::select(b"()[]{}|;,.=!~<>\"'`@-*/:$0123456789 \nabz".to_vec()),
        any::<u8>(),
    ];
    prop_oneof![
        any::<usize>().prop_map(Mutation::Delete),
        (any::<usize>(), byte).prop_map(|(i, c)| Mutation::Insert(i, c)),
        (any::<usize>(), any::<usize>()).prop_map(|(i, j)| Mutation::Swap(i, j)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn never_panics_on_random_strings(s in "\\PC{0,200}") {
        let _ = parse(&s);
    }

    #[test]
    fn never_panics_on_kql_shaped_noise(s in "[a-z_\\-|()\\[\\]{}\"'.,;=!~<> 0-9@$*:]{0,120}") {
        let _ = parse(&s);
    }

    #[test]
    fn never_panics_on_mutated_corpus(i in any::<prop::sample::Index>(), muts in prop::collection::vec(mutation(), 1..8)) {
        let srcs = corpus_sources();
        let src = &srcs[i.index(srcs.len())];
        let mutated = apply(src, &muts);
        let (q, diags) = parse(&mutated);
        // Errors and an AST never come together; rendering never panics either.
        prop_assert!(q.is_none() == diags.iter().any(|d| d.is_error()));
        let _ = render_all(&diags, "m.kql", &mutated);
        for d in &diags {
            let _ = d.to_json(&mutated);
        }
    }
}
