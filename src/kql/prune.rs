//! Column pruning on the IR: every relation keeps only the columns its consumers read, so the
//! generated SQL (and `explain`) names only what the query uses. DataFusion would prune the scan
//! anyway; this keeps the text readable and the snapshots reviewable.
//!
//! Row counts never change: `unnest` columns and `DISTINCT` inputs are always kept.

use std::collections::HashSet;

use crate::kql::ir::{Expr, Rel, RelKind, SortKey};

/// Prunes `rel` keeping all of its own columns (the query's result).
pub fn prune(rel: Rel) -> Rel {
    let need: HashSet<String> = rel.columns.iter().map(|c| c.name.clone()).collect();
    prune_rel(rel, &need)
}

fn refs(e: &Expr, out: &mut HashSet<String>) {
    e.visit(&mut |x| {
        if let Expr::Col(n) = x {
            out.insert(n.clone());
        }
    });
}

fn key_refs(keys: &[SortKey], out: &mut HashSet<String>) {
    for k in keys {
        refs(&k.expr, out);
    }
}

/// Prunes the subqueries inside an expression (they keep their own columns).
fn prune_subqueries(e: Expr) -> Expr {
    match e {
        Expr::ScalarRel(r) => Expr::ScalarRel(Box::new(prune(*r))),
        Expr::InRel(a, r, n) => Expr::InRel(Box::new(prune_subqueries(*a)), Box::new(prune(*r)), n),
        Expr::Binary(op, a, b) => Expr::Binary(
            op,
            Box::new(prune_subqueries(*a)),
            Box::new(prune_subqueries(*b)),
        ),
        Expr::Not(a) => Expr::Not(Box::new(prune_subqueries(*a))),
        Expr::Call(f, args) => Expr::Call(f, args.into_iter().map(prune_subqueries).collect()),
        Expr::Case(whens, other) => Expr::Case(
            whens
                .into_iter()
                .map(|(c, v)| (prune_subqueries(c), prune_subqueries(v)))
                .collect(),
            other.map(|o| Box::new(prune_subqueries(*o))),
        ),
        e => e,
    }
}

fn prune_rel(rel: Rel, need: &HashSet<String>) -> Rel {
    let Rel {
        kind,
        columns,
        order,
    } = rel;
    let mut need = need.clone();
    key_refs(&order, &mut need);
    match kind {
        RelKind::Scan { table } => {
            // Keep one column when none is needed, so that the row count survives (`count`):
            // the table's first (`TimeGenerated` in AuditLogs, `SnapshotDate` in snapshots).
            let first = columns.first().cloned();
            let mut columns: Vec<_> = columns
                .into_iter()
                .filter(|c| need.contains(&c.name))
                .collect();
            if columns.is_empty() {
                columns.extend(first);
            }
            Rel {
                kind: RelKind::Scan { table },
                columns,
                order,
            }
        }
        RelKind::Values { .. } | RelKind::Series { .. } => Rel {
            kind,
            columns,
            order,
        },
        RelKind::Project { input, exprs } => {
            let (mut cols, mut es) = (Vec::new(), Vec::new());
            for (c, e) in columns.into_iter().zip(exprs) {
                if need.contains(&c.name) || e.has_unnest() {
                    cols.push(c);
                    es.push(prune_subqueries(e));
                }
            }
            let mut input_need = HashSet::new();
            for e in &es {
                refs(e, &mut input_need);
            }
            let input = prune_rel(*input, &input_need);
            Rel {
                kind: RelKind::Project {
                    input: Box::new(input),
                    exprs: es,
                },
                columns: cols,
                order,
            }
        }
        RelKind::Filter { input, predicate } => {
            let predicate = prune_subqueries(predicate);
            let mut input_need = need.clone();
            refs(&predicate, &mut input_need);
            let input = prune_rel(*input, &input_need);
            let columns = input.columns.clone();
            Rel {
                kind: RelKind::Filter {
                    input: Box::new(input),
                    predicate,
                },
                columns,
                order,
            }
        }
        RelKind::Sort { input, keys } => {
            let mut input_need = need.clone();
            key_refs(&keys, &mut input_need);
            let input = prune_rel(*input, &input_need);
            let columns = input.columns.clone();
            Rel {
                kind: RelKind::Sort {
                    input: Box::new(input),
                    keys,
                },
                columns,
                order,
            }
        }
        RelKind::Limit { input, count } => {
            let mut input_need = need.clone();
            key_refs(&input.order, &mut input_need);
            let input = prune_rel(*input, &input_need);
            let columns = input.columns.clone();
            Rel {
                kind: RelKind::Limit {
                    input: Box::new(input),
                    count,
                },
                columns,
                order,
            }
        }
        // Every use of a materialized relation reads the same rows: it keeps all its columns.
        // (`compile` takes materialized relations out before pruning; this keeps `prune` right
        // on any relation.)
        RelKind::Materialized { input } => {
            let all: HashSet<String> = input.columns.iter().map(|c| c.name.clone()).collect();
            let input = prune_rel(*input, &all);
            Rel {
                kind: RelKind::Materialized {
                    input: Box::new(input),
                },
                columns,
                order,
            }
        }
        RelKind::Distinct { input } => {
            let all: HashSet<String> = input.columns.iter().map(|c| c.name.clone()).collect();
            let input = prune_rel(*input, &all);
            Rel {
                kind: RelKind::Distinct {
                    input: Box::new(input),
                },
                columns,
                order,
            }
        }
        RelKind::Aggregate {
            input,
            keys,
            aggregates,
        } => {
            let keys: Vec<Expr> = keys.into_iter().map(prune_subqueries).collect();
            // Unread aggregates go (the groups stay those of the keys); a global aggregate
            // keeps one, so that its one row survives.
            let mut columns = columns;
            let (key_columns, agg_columns) = columns.split_at(keys.len());
            let mut kept: Vec<_> = agg_columns
                .iter()
                .cloned()
                .zip(aggregates)
                .enumerate()
                .filter(|(i, (c, _))| need.contains(&c.name) || (keys.is_empty() && *i == 0))
                .map(|(_, x)| x)
                .collect();
            columns = key_columns.to_vec();
            columns.extend(kept.iter().map(|(c, _)| c.clone()));
            let aggregates: Vec<Expr> = kept.drain(..).map(|(_, a)| prune_subqueries(a)).collect();
            let mut input_need = HashSet::new();
            for e in keys.iter().chain(&aggregates) {
                refs(e, &mut input_need);
            }
            let input = prune_rel(*input, &input_need);
            Rel {
                kind: RelKind::Aggregate {
                    input: Box::new(input),
                    keys,
                    aggregates,
                },
                columns,
                order,
            }
        }
        RelKind::Join {
            left,
            right,
            kind,
            on,
            null_safe,
            outputs,
        } => {
            // Unread outputs go (one stays, so that the select list is not empty).
            let (columns, outputs): (Vec<_>, Vec<_>) = {
                let pairs: Vec<_> = columns.into_iter().zip(outputs).collect();
                let first = pairs.first().cloned();
                let mut kept: Vec<_> = pairs
                    .into_iter()
                    .filter(|(c, _)| need.contains(&c.name))
                    .collect();
                if kept.is_empty() {
                    kept.extend(first);
                }
                kept.into_iter().unzip()
            };
            let (mut ln, mut rn) = (HashSet::new(), HashSet::new());
            for (l, r) in &on {
                refs(l, &mut ln);
                refs(r, &mut rn);
            }
            for (side, name) in &outputs {
                match side {
                    crate::kql::ir::Side::Left => ln.insert(name.clone()),
                    crate::kql::ir::Side::Right => rn.insert(name.clone()),
                };
            }
            let left = prune_rel(*left, &ln);
            let right = prune_rel(*right, &rn);
            Rel {
                kind: RelKind::Join {
                    left: Box::new(left),
                    right: Box::new(right),
                    kind,
                    on,
                    null_safe,
                    outputs,
                },
                columns,
                order,
            }
        }
        RelKind::Union { inputs } => {
            let inputs = inputs
                .into_iter()
                .map(|r| {
                    let all: HashSet<String> = r.columns.iter().map(|c| c.name.clone()).collect();
                    prune_rel(r, &all)
                })
                .collect();
            Rel {
                kind: RelKind::Union { inputs },
                columns,
                order,
            }
        }
    }
}
