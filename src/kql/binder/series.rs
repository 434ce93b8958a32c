//! `make-series`: aggregates per bin of an axis over a fixed range, as arrays with a default for
//! empty bins. Built from plain relations: filter to the range, aggregate by (keys, bin index),
//! a grid of every (keys, bin) pair, a null-safe left join of the grid with the aggregates, and
//! an ordered `array_agg` per group.

use std::sync::Arc;

use arrow::datatypes::{DataType, Field};

use super::functions::aggregate_name;
use super::scalar::{Ctx, ns_of};
use super::tabular::{visible, visible_only};
use super::{B, Binder, TExpr};
use crate::diagnostic::Span;
use crate::kql::ast::{self, ExprKind};
use crate::kql::ir::{BinOp, Column, Expr, JoinKind, Lit, Rel, RelKind, Side, SortKey, SqlType};
use crate::kql::types::Ty;

/// The most bins a series may have.
const MAX_BINS: i64 = 100_000;

fn list_of(ty: &Ty) -> Ty {
    let item = match ty {
        Ty::Dyn(dt) => dt.clone(),
        t => t.arrow(),
    };
    Ty::Dyn(DataType::List(Arc::new(Field::new("item", item, true))))
}

impl Binder<'_> {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn make_series(
        &mut self,
        input: Rel,
        aggregates: &[(ast::NamedExpr, Option<ast::Expr>)],
        on: &ast::Expr,
        from: Option<&ast::Expr>,
        to: Option<&ast::Expr>,
        step: &ast::Expr,
        by: &[ast::NamedExpr],
        span: Span,
    ) -> B<Rel> {
        let input = visible_only(input);
        let axis = self.expr(on, &input, Ctx::value())?;
        let axis_name = axis.name.clone().unwrap_or_else(|| "Column1".into());
        let (Some(from), Some(to)) = (from, to) else {
            return self.error_hint(
                "KQL0206",
                "`make-series` needs the range of its axis",
                span,
                "write `from START to END step STEP` (or `in range(START, END, STEP)`)",
            );
        };
        let empty = super::empty_rel();
        let start = self.expr(from, &empty, Ctx::value())?;
        let end = self.expr(to, &empty, Ctx::value())?;
        let stepv = self.expr(step, &empty, Ctx::value())?;
        // The range as integers (nanoseconds for datetimes), and the bin index of a row.
        let (lo, hi, st) = match (start.e.as_lit(), end.e.as_lit(), stepv.e.as_lit(), &axis.ty) {
            (
                Some(Lit::Datetime(a)),
                Some(Lit::Datetime(b)),
                Some(Lit::Timespan(s)),
                Ty::Datetime,
            ) => (*a, *b, *s),
            (Some(Lit::Long(a)), Some(Lit::Long(b)), Some(Lit::Long(s)), Ty::Long | Ty::Int) => {
                (*a, *b, *s)
            }
            _ => {
                return self.error(
                    "KQL0210",
                    "`make-series` needs constant bounds and step of the axis's type (datetimes with a timespan step, or longs)",
                    span,
                );
            }
        };
        if st <= 0 || hi <= lo {
            return self.error(
                "KQL0210",
                "`make-series` needs `from` < `to` and a positive step",
                span,
            );
        }
        let bins = (hi - lo + st - 1) / st;
        if bins > MAX_BINS {
            return self.error(
                "KQL0210",
                format!("`make-series` would make {bins} bins (at most {MAX_BINS})"),
                span,
            );
        }
        let is_time = axis.ty == Ty::Datetime;
        let axis_int = if is_time {
            ns_of(axis.e.clone())
        } else {
            Expr::cast(axis.e.clone(), SqlType::BigInt)
        };
        // 1. Rows inside [from, to).
        let in_range = Expr::and(
            Expr::bin(BinOp::GtEq, axis_int.clone(), Expr::long(lo)),
            Expr::bin(BinOp::Lt, axis_int.clone(), Expr::long(hi)),
        );
        let columns = input.columns.clone();
        let filtered = Rel {
            kind: RelKind::Filter {
                input: Box::new(input),
                predicate: in_range,
            },
            columns,
            order: vec![],
        };
        // 2. Aggregates by (keys, bin index).
        let mut keys: Vec<(String, TExpr)> = Vec::new();
        for (i, b) in by.iter().enumerate() {
            let t = self.expr(&b.expr, &filtered, Ctx::value())?;
            let name = b
                .names
                .first()
                .map(|n| n.name.clone())
                .or(t.name.clone())
                .unwrap_or_else(|| format!("Column{}", i + 1));
            keys.push((name, t));
        }
        let mut aggs: Vec<(String, TExpr, Expr)> = Vec::new();
        for (a, default) in aggregates {
            let t = self.expr(&a.expr, &filtered, Ctx::agg())?;
            if !t.e.has_aggregate() {
                return self.error(
                    "KQL0208",
                    "a `make-series` expression must use an aggregate function",
                    a.expr.span,
                );
            }
            let name = match (a.names.first(), &a.expr.kind) {
                (Some(n), _) => n.name.clone(),
                (None, ExprKind::Call { name, args }) => {
                    let arg = args.first().and_then(|x| match &x.kind {
                        ExprKind::Name(id) => Some(id.name.clone()),
                        _ => None,
                    });
                    aggregate_name(&name.name, args, arg.as_deref())
                }
                _ => format!("Column{}", aggs.len() + 1),
            };
            let default = match default {
                Some(d) => {
                    let v = self.expr(d, &empty, Ctx::value())?;
                    let v = if v.ty == t.ty {
                        v
                    } else {
                        self.convert(v, &t.ty, d.span)?
                    };
                    v.e
                }
                None => match t.ty {
                    Ty::Long => Expr::long(0),
                    Ty::Int => Expr::Lit(Lit::Int(0), Ty::Int),
                    Ty::Real => Expr::Lit(Lit::Real(0.0), Ty::Real),
                    _ => Expr::null(t.ty.clone()),
                },
            };
            aggs.push((name, t, default));
        }
        let bin_idx = Expr::bin(
            BinOp::Div,
            Expr::bin(BinOp::Minus, axis_int, Expr::long(lo)),
            Expr::long(st),
        );
        let mut agg_cols: Vec<Column> = keys.iter().map(|(n, t)| visible(n, t)).collect();
        agg_cols.push(Column {
            name: "__bin".into(),
            ty: Ty::Long,
            nullable: false,
            hidden: false,
        });
        let agg_names: Vec<String> = (0..aggs.len()).map(|i| format!("__agg{i}")).collect();
        for ((_, t, _), n) in aggs.iter().zip(&agg_names) {
            agg_cols.push(Column {
                name: n.clone(),
                ty: t.ty.clone(),
                nullable: true,
                hidden: false,
            });
        }
        let mut key_exprs: Vec<Expr> = keys.iter().map(|(_, t)| t.e.clone()).collect();
        key_exprs.push(bin_idx);
        let agg_rel = Rel {
            kind: RelKind::Aggregate {
                input: Box::new(filtered),
                keys: key_exprs,
                aggregates: aggs.iter().map(|(_, t, _)| t.e.clone()).collect(),
            },
            columns: agg_cols.clone(),
            order: vec![],
        };
        // 3. The grid of every (keys, bin).
        let series = Rel {
            kind: RelKind::Series {
                start: Expr::long(0),
                stop: Expr::long(bins - 1),
                step: Expr::long(1),
            },
            columns: vec![Column {
                name: "value".into(),
                ty: Ty::Long,
                nullable: false,
                hidden: false,
            }],
            order: vec![],
        };
        let key_cols: Vec<Column> = agg_cols[..keys.len()].to_vec();
        let grid = if keys.is_empty() {
            series
        } else {
            let key_items: Vec<(String, TExpr)> = key_cols
                .iter()
                .map(|c| {
                    (
                        c.name.clone(),
                        TExpr::new(Expr::col(&c.name), c.ty.clone(), c.nullable),
                    )
                })
                .collect();
            let projected = self.project(agg_rel.clone(), key_items);
            let distinct_keys = Rel {
                kind: RelKind::Distinct {
                    input: Box::new(projected),
                },
                columns: key_cols.clone(),
                order: vec![],
            };
            let mut cols = key_cols.clone();
            cols.push(series.columns[0].clone());
            let mut outputs: Vec<(Side, String)> = key_cols
                .iter()
                .map(|c| (Side::Left, c.name.clone()))
                .collect();
            outputs.push((Side::Right, "value".into()));
            Rel {
                kind: RelKind::Join {
                    left: Box::new(distinct_keys),
                    right: Box::new(series),
                    kind: JoinKind::Inner,
                    on: vec![],
                    null_safe: false,
                    outputs,
                },
                columns: cols,
                order: vec![],
            }
        };
        // 4. The grid with the aggregates of its bins (null where a bin has no row).
        let mut on: Vec<(Expr, Expr)> = key_cols
            .iter()
            .map(|c| (Expr::col(&c.name), Expr::col(&c.name)))
            .collect();
        on.push((Expr::col("value"), Expr::col("__bin")));
        let mut outputs: Vec<(Side, String)> = grid
            .columns
            .iter()
            .map(|c| (Side::Left, c.name.clone()))
            .collect();
        let mut cols = grid.columns.clone();
        for n in &agg_names {
            outputs.push((Side::Right, n.clone()));
            let c = agg_cols
                .iter()
                .find(|c| &c.name == n)
                .expect("agg column")
                .clone();
            cols.push(c);
        }
        let joined = Rel {
            kind: RelKind::Join {
                left: Box::new(grid),
                right: Box::new(agg_rel),
                kind: JoinKind::Left,
                on,
                null_safe: true,
                outputs,
            },
            columns: cols,
            order: vec![],
        };
        // 5. One row per group: ordered arrays, then the axis.
        let by_bin = vec![SortKey {
            expr: Expr::col("value"),
            asc: true,
            nulls_first: false,
        }];
        let array_agg = |e: Expr| Expr::Agg {
            name: "array_agg".into(),
            args: vec![e],
            distinct: false,
            filter: None,
            order_by: by_bin.clone(),
        };
        let mut out_cols: Vec<Column> = key_cols.clone();
        let mut out_aggs = Vec::new();
        for ((name, t, default), n) in aggs.iter().zip(&agg_names) {
            out_aggs.push(array_agg(Expr::coalesce(Expr::col(n), default.clone())));
            out_cols.push(Column {
                name: name.clone(),
                ty: list_of(&t.ty),
                nullable: false,
                hidden: false,
            });
        }
        let bin_value = Expr::bin(
            BinOp::Plus,
            Expr::long(lo),
            Expr::bin(BinOp::Mul, Expr::col("value"), Expr::long(st)),
        );
        let axis_value = if is_time {
            super::scalar::datetime_from_ns(bin_value)
        } else {
            bin_value
        };
        out_aggs.push(array_agg(axis_value));
        out_cols.push(Column {
            name: axis_name,
            ty: list_of(if is_time { &Ty::Datetime } else { &Ty::Long }),
            nullable: false,
            hidden: false,
        });
        Ok(Rel {
            kind: RelKind::Aggregate {
                input: Box::new(joined),
                keys: key_cols.iter().map(|c| Expr::col(&c.name)).collect(),
                aggregates: out_aggs,
            },
            columns: out_cols,
            order: vec![],
        })
    }
}
