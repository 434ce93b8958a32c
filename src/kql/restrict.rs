//! Restricting a query to the rows whose first column equals one value, with the filter placed
//! as deep in the plan as it commutes.
//!
//! A workbook run that is given a drop-down's value only needs to know whether the drop-down's
//! query returns that value (and its label), not every value it returns. `run` therefore
//! compiles the drop-down's query restricted to the value ([`crate::kql::compile_restricted`]):
//! a filter `first_column == value` moved down through sorts, distincts, projections
//! (substituting their definitions) and the keys of aggregates, to just above the operator that
//! computes the column (an `mv-expand`, a window, an aggregate value), a filter, a limit, a
//! join, a union or the scan. There the pre-filter pass ([`crate::kql::prefilter`]) can see it,
//! and for a field of an expanded list it becomes a `kql_list_has` that the target index
//! answers. It does not cross a filter, so it is evaluated on no row the query would not have
//! computed the column for (a cast that fails on rows a `where` removes stays unevaluated).
//!
//! Every move keeps the result the same: each operator it crosses commutes with a filter on its
//! output (a sort keeps the order of the rows it keeps, a distinct or an aggregate keyed on the
//! column keeps the groups that pass), so the restricted query returns exactly the rows of the
//! full query whose first column equals the value, in the same order.

use crate::kql::ir::{BinOp, Expr, Rel, RelKind};
use crate::kql::types::Ty;

/// Which rows of the query a restriction keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Keep {
    /// Every row whose first column equals the value, in the query's order.
    All,
    /// At most one of them: enough to know whether the value is among the query's values
    /// (a `take 1` right above the placed filter, so the scan stops at the first match).
    AnyOne,
}

/// `rel` restricted to the rows whose first visible column equals `value`, or `None` when that
/// column is not a string (its text form would need the renderer's formatting to compare).
///
/// With [`Keep::AnyOne`] the result is one such row if there is any: every operator the filter
/// crossed (sort, distinct, projection, aggregate on keys) returns at least one row for a
/// non-empty input, so the query has a row with the value exactly when the filtered rows
/// below them do.
pub fn first_column_equals(rel: Rel, value: &str, keep: Keep) -> Option<Rel> {
    let first = rel.visible().next()?;
    if first.ty != Ty::String {
        return None;
    }
    let predicate = Expr::bin(BinOp::Eq, Expr::col(&first.name), Expr::str(value));
    Some(place(rel, predicate, keep))
}

/// `rel` with `predicate` (over `rel`'s columns) applied as deep as it commutes.
fn place(rel: Rel, predicate: Expr, keep: Keep) -> Rel {
    match below(&rel, &predicate) {
        // One input (a sort, distinct, projection or aggregate): the filter goes into it.
        Some(below) => rel.map_inputs(&mut |input| place(input, below.clone(), keep)),
        None => filtered(rel, predicate, keep),
    }
}

/// `predicate` in terms of `rel`'s input, when filtering that input instead keeps the same rows
/// of `rel`: under a sort or a distinct as it is, under a projection with the projected
/// definitions substituted (if they are per-row), under an aggregate when it reads only keys.
fn below(rel: &Rel, predicate: &Expr) -> Option<Expr> {
    let position = |n: &str| rel.columns.iter().position(|c| c.name == n);
    match &rel.kind {
        RelKind::Sort { .. } | RelKind::Distinct { .. } => Some(predicate.clone()),
        RelKind::Project { exprs, .. } => {
            let below = predicate
                .clone()
                .map_columns(&|n| position(n).map(|i| exprs[i].clone()));
            computes_per_row(&below).then_some(below)
        }
        RelKind::Aggregate { keys, .. } => {
            let key = |n: &str| {
                position(n)
                    .filter(|&i| i < keys.len())
                    .map(|i| keys[i].clone())
            };
            let mut only_keys = true;
            predicate.visit(&mut |e| {
                if let Expr::Col(n) = e {
                    only_keys &= key(n).is_some();
                }
            });
            only_keys.then(|| predicate.clone().map_columns(&key))
        }
        _ => None,
    }
}

/// Whether `e` is an ordinary per-row expression over its input, so that a filter on it can be
/// evaluated below the projection that computes it: no expansion, window or aggregate.
fn computes_per_row(e: &Expr) -> bool {
    let mut plain = true;
    e.visit(&mut |x| {
        plain &= !matches!(x, Expr::Unnest(_) | Expr::Window { .. } | Expr::Agg { .. })
    });
    plain
}

/// `rel` under a filter (and a `take 1` for [`Keep::AnyOne`]).
fn filtered(rel: Rel, predicate: Expr, keep: Keep) -> Rel {
    let (columns, order) = (rel.columns.clone(), rel.order.clone());
    let over = |kind| Rel {
        columns: columns.clone(),
        order: order.clone(),
        kind,
    };
    let filter = over(RelKind::Filter {
        input: Box::new(rel),
        predicate,
    });
    match keep {
        Keep::All => filter,
        Keep::AnyOne => over(RelKind::Limit {
            input: Box::new(filter),
            count: 1,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::Keep;
    use crate::kql::{Catalog, compile, compile_restricted};

    fn catalog() -> Catalog {
        Catalog::new().with_table("AuditLogs", crate::schema::audit_logs_schema())
    }

    /// The SQL of `kql` restricted to `value` (keeping every matching row).
    fn restricted_sql(kql: &str, value: &str) -> String {
        compile_restricted(kql, &catalog(), 0, value, Keep::All)
            .unwrap()
            .expect("a string first column")
            .sql()
    }

    /// The access-package drop-down of Microsoft's workbook, as the built-in holds it.
    const DROPDOWN: &str = "AuditLogs\n\
        | where Category == \"EntitlementManagement\" and Result == \"success\"\n\
        | project TargetResources\n\
        | mvexpand TargetResources\n\
        | extend AccessPackageId=tostring(TargetResources.id), TTYPE=TargetResources.type,\n\
          TD=strcat(tostring(TargetResources.displayName), \" \", TargetResources.id)\n\
        | where TTYPE == \"AccessPackage\"\n\
        | project TD, AccessPackageId\n\
        | distinct AccessPackageId, TD\n\
        | sort by TD asc";

    #[test]
    fn a_dropdown_over_an_expanded_list_is_restricted_before_the_expansion() {
        let sql = restricted_sql(DROPDOWN, "pkg-1");
        // Under the sort and the distinct, as a filter on the expanded element, which the
        // pre-filter pass turns into a list test on the unexpanded rows.
        assert!(
            sql.contains("kql_list_has(\"TargetResources\", 'id', 'pkg-1')"),
            "{sql}"
        );
        let full = compile(DROPDOWN, &catalog(), 0).unwrap().sql();
        assert!(!full.contains("pkg-1"), "{full}");
        // The output is the full query's: same columns, still sorted.
        let restricted = compile_restricted(DROPDOWN, &catalog(), 0, "pkg-1", Keep::All);
        assert_eq!(
            restricted.unwrap().unwrap().columns,
            compile(DROPDOWN, &catalog(), 0).unwrap().columns
        );
        assert!(sql.ends_with("ORDER BY \"TD\" ASC NULLS FIRST"), "{sql}");
    }

    #[test]
    fn any_one_row_takes_one_right_above_the_filter() {
        let c = compile_restricted(DROPDOWN, &catalog(), 0, "pkg-1", Keep::AnyOne)
            .unwrap()
            .unwrap();
        let sql = c.sql();
        let limit = sql
            .find("LIMIT 1")
            .unwrap_or_else(|| panic!("no limit: {sql}"));
        // Below the distinct (an earlier common table expression; the outer query keeps its
        // DISTINCT and ORDER BY), after the filter on the expanded element.
        assert!(limit < sql.find("DISTINCT").unwrap(), "{sql}");
        assert!(sql.find("'pkg-1'").unwrap() < limit, "{sql}");
        assert!(
            sql.contains("kql_list_has(\"TargetResources\", 'id', 'pkg-1')"),
            "{sql}"
        );
    }

    #[test]
    fn the_value_is_a_literal_never_query_text() {
        let hostile = "x' OR 1=1 --\") | take 1";
        let sql = restricted_sql(DROPDOWN, hostile);
        assert!(sql.contains("'x'' OR 1=1 --\") | take 1'"), "{sql}");
    }

    #[test]
    fn a_filter_stops_above_a_limit_and_above_an_aggregate_value() {
        // `take` decides which rows exist: filtering first would change them.
        let sql = restricted_sql("AuditLogs | project Category | take 5", "A");
        let limit = sql.find("LIMIT 5").expect("a limit");
        let filter = sql.rfind("= 'A'").expect("a filter");
        assert!(filter > limit, "{sql}");
        // A value computed by the aggregate is filtered after it; a key before it.
        let sql = restricted_sql(
            "AuditLogs | summarize n = count() by Category | project Category, n",
            "A",
        );
        let group_by = sql.find("GROUP BY").unwrap();
        assert!(sql.find("= 'A'").unwrap() < group_by, "{sql}");
        let sql = restricted_sql(
            "AuditLogs | summarize c = tostring(count()) by Category | project c",
            "3",
        );
        let group_by = sql.find("GROUP BY").unwrap();
        assert!(sql.find("= '3'").unwrap() > group_by, "{sql}");
    }

    #[test]
    fn a_first_column_that_is_not_a_string_is_not_restricted() {
        let r = compile_restricted(
            "AuditLogs | summarize n = count() by Category | project n, Category",
            &catalog(),
            0,
            "1",
            Keep::All,
        )
        .unwrap();
        assert!(r.is_none());
    }
}
