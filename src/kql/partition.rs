//! Partition pruning: time predicates on a day-partitioned table become predicates on its
//! partition column, so a 30-day query opens 30 days of files whatever the history holds.
//!
//! `AuditLogs` is stored as `date=YYYY-MM-DD` directories, the UTC day of `ActivityDateTime`
//! (DESIGN §4). A bound on `ActivityDateTime` gives the days exactly; a bound on `TimeGenerated`
//! (equal to it, or the workspace's ingestion time seconds later in Log Analytics exports) gives
//! them with a margin of one day on each side. [`add_partition_filters`] collects the bounds of
//! the filters above a scan (through projections that pass the time column on, renamed or not,
//! and through sorts, never through a limit, aggregate, distinct, join or union, which a filter
//! does not commute with) and adds `date >= 'D1' AND date <= 'D2'` to the scan.

use crate::kql::binder::Catalog;
use crate::kql::ir::{BinOp, Expr, Lit, Rel, RelKind};
use crate::kql::types::Ty;
use crate::time::utc_day;

const DAY_NS: i64 = 86_400_000_000_000;

/// A bound on a column of the current relation: `(column, value, is_lower)`.
type Bound = (String, i64, bool);

/// Adds partition predicates under every filter chain that bounds a partitioned table's time.
pub fn add_partition_filters(rel: Rel, catalog: &Catalog) -> Rel {
    rewrite(rel, Vec::new(), catalog)
}

fn rewrite(rel: Rel, mut bounds: Vec<Bound>, catalog: &Catalog) -> Rel {
    let Rel {
        kind,
        columns,
        order,
    } = rel;
    let kind = match kind {
        RelKind::Scan { table } => {
            let scan = Rel {
                kind: RelKind::Scan {
                    table: table.clone(),
                },
                columns,
                order,
            };
            return match catalog
                .day_partition(&table)
                .and_then(|p| partition_predicate(p, &bounds))
            {
                Some(predicate) => Rel {
                    columns: scan.columns.clone(),
                    order: scan.order.clone(),
                    kind: RelKind::Filter {
                        input: Box::new(scan),
                        predicate,
                    },
                },
                None => scan,
            };
        }
        RelKind::Filter { input, predicate } => {
            collect(&predicate, &mut bounds);
            let input = rewrite(*input, bounds, catalog);
            // Filters stacked on a scan become one (the generator keeps it in the scan's SELECT).
            match input.kind {
                RelKind::Filter {
                    input: scan,
                    predicate: inner,
                } if matches!(scan.kind, RelKind::Scan { .. }) => RelKind::Filter {
                    input: scan,
                    predicate: Expr::and(inner, predicate),
                },
                kind => RelKind::Filter {
                    input: Box::new(Rel {
                        kind,
                        columns: input.columns,
                        order: input.order,
                    }),
                    predicate,
                },
            }
        }
        RelKind::Project { input, exprs } => {
            // Bounds follow the columns that are passed on as they are.
            let renamed = bounds
                .into_iter()
                .filter_map(|(name, v, lower)| {
                    let i = columns.iter().position(|c| c.name == name)?;
                    match &exprs[i] {
                        Expr::Col(inner) => Some((inner.clone(), v, lower)),
                        _ => None,
                    }
                })
                .collect();
            RelKind::Project {
                input: Box::new(rewrite(*input, renamed, catalog)),
                exprs: exprs.into_iter().map(|e| subqueries(e, catalog)).collect(),
            }
        }
        RelKind::Sort { input, keys } => RelKind::Sort {
            input: Box::new(rewrite(*input, bounds, catalog)),
            keys,
        },
        // A filter does not commute with the others: their inputs start afresh.
        kind => {
            return Rel {
                kind,
                columns,
                order,
            }
            .map_inputs(&mut |r| rewrite(r, Vec::new(), catalog));
        }
    };
    Rel {
        kind,
        columns,
        order,
    }
}

/// Subqueries inside an expression get their own partition filters.
fn subqueries(e: Expr, catalog: &Catalog) -> Expr {
    match e {
        Expr::ScalarRel(r) => Expr::ScalarRel(Box::new(add_partition_filters(*r, catalog))),
        Expr::InRel(a, r, n) => Expr::InRel(a, Box::new(add_partition_filters(*r, catalog)), n),
        e => e,
    }
}

/// The time bounds among the conjuncts of `predicate`.
fn collect(predicate: &Expr, out: &mut Vec<Bound>) {
    let time = |e: &Expr| match e {
        Expr::Lit(Lit::Datetime(v), _) => Some(*v),
        _ => None,
    };
    match predicate {
        Expr::Binary(BinOp::And, a, b) => {
            collect(a, out);
            collect(b, out);
        }
        Expr::Binary(op, a, b) => {
            let (col, v, lower) = match (a.as_ref(), b.as_ref()) {
                (Expr::Col(c), other) => match (op, time(other)) {
                    (BinOp::Gt | BinOp::GtEq, Some(v)) => (c, v, true),
                    (BinOp::Lt | BinOp::LtEq, Some(v)) => (c, v, false),
                    (BinOp::Eq, Some(v)) => {
                        out.push((c.clone(), v, true));
                        (c, v, false)
                    }
                    _ => return,
                },
                (other, Expr::Col(c)) => match (op, time(other)) {
                    (BinOp::Lt | BinOp::LtEq, Some(v)) => (c, v, true),
                    (BinOp::Gt | BinOp::GtEq, Some(v)) => (c, v, false),
                    (BinOp::Eq, Some(v)) => {
                        out.push((c.clone(), v, true));
                        (c, v, false)
                    }
                    _ => return,
                },
                _ => return,
            };
            out.push((col.clone(), v, lower));
        }
        Expr::Between(a, lo, hi, false) => {
            if let (Expr::Col(c), Some(lo), Some(hi)) = (a.as_ref(), time(lo), time(hi)) {
                out.push((c.clone(), lo, true));
                out.push((c.clone(), hi, false));
            }
        }
        _ => {}
    }
}

/// `date >= 'D1' AND date <= 'D2'` for the bounds on the partition's time columns.
fn partition_predicate(p: &DayPartition, bounds: &[Bound]) -> Option<Expr> {
    let (mut lo, mut hi): (Option<i64>, Option<i64>) = (None, None);
    for (col, v, lower) in bounds {
        let margin = if col == p.exact_column {
            0
        } else if p.near_columns.contains(&col.as_str()) {
            DAY_NS
        } else {
            continue;
        };
        if *lower {
            let v = v.saturating_sub(margin);
            lo = Some(lo.map_or(v, |l| l.max(v)));
        } else {
            let v = v.saturating_add(margin);
            hi = Some(hi.map_or(v, |h| h.min(v)));
        }
    }
    let day = |v: i64, op| {
        Expr::bin(
            op,
            Expr::col(p.column),
            Expr::Lit(Lit::Str(utc_day(v)), Ty::String),
        )
    };
    match (lo, hi) {
        (Some(l), Some(h)) => Some(Expr::and(day(l, BinOp::GtEq), day(h, BinOp::LtEq))),
        (Some(l), None) => Some(day(l, BinOp::GtEq)),
        (None, Some(h)) => Some(day(h, BinOp::LtEq)),
        (None, None) => None,
    }
}

/// A table stored in day partitions: the partition column (`YYYY-MM-DD`, UTC), the time column
/// it is the day of, and the columns within a day of that one.
#[derive(Clone, Debug)]
pub struct DayPartition {
    pub column: &'static str,
    pub exact_column: &'static str,
    pub near_columns: &'static [&'static str],
}
