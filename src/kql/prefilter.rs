//! Filtering before `mv-expand`: a `where` that compares a field of the expanded elements with a
//! string constant also keeps, before the expansion, only the rows whose list has such an
//! element (`kql_list_has`, [`crate::kql::udf::list_has`]).
//!
//! `mv-expand TargetResources | extend Id = TargetResources.id | where Id == "X"` would
//! otherwise expand every row (repeating its other columns once per element) to keep one in a
//! hundred. The added filter is implied by the `where`, which stays: it only removes rows that
//! could not have produced a match, so results never change.
//!
//! [`add_prefilters`] follows each such comparison down from the `where` through projections
//! (substituting their definitions) and filters, to the projection that expands the list, and
//! adds the filter on that projection's input. It never crosses a projection that computes a
//! window function (row numbers depend on the rows present), nor a limit, aggregate, distinct,
//! join, union or sort boundary where it stops looking.

use crate::kql::ir::{BinOp, Expr, Lit, Rel, RelKind};

/// Adds pre-expansion filters for the `where`s of `rel` and of its subqueries (`x in (T | ...)`
/// reads `T` like any other relation).
pub fn add_prefilters(rel: Rel) -> Rel {
    let rel = rel.map_exprs(&mut |e| e.map_subqueries(&mut add_prefilters));
    match rel.kind {
        RelKind::Filter { input, predicate } => {
            let mut wanted = Vec::new();
            conjuncts(&predicate, &mut wanted);
            let input = add_prefilters(*input);
            Rel {
                kind: RelKind::Filter {
                    input: Box::new(push(input, wanted)),
                    predicate,
                },
                columns: rel.columns,
                order: rel.order,
            }
        }
        kind => Rel { kind, ..rel }.map_inputs(&mut add_prefilters),
    }
}

/// A comparison `expr == "value"` wanted below: `expr` in terms of the current relation.
type Wanted = (Expr, String);

fn conjuncts(predicate: &Expr, out: &mut Vec<Wanted>) {
    match predicate {
        Expr::Binary(BinOp::And, a, b) => {
            conjuncts(a, out);
            conjuncts(b, out);
        }
        Expr::Binary(BinOp::Eq, a, b) => match (a.as_ref(), b.as_ref()) {
            (e, Expr::Lit(Lit::Str(v), _)) | (Expr::Lit(Lit::Str(v), _), e) => {
                let e = without_default(e, v);
                if matches!(e, Expr::Col(_) | Expr::Field(..)) {
                    out.push((e.clone(), v.clone()));
                }
            }
            _ => {}
        },
        _ => {}
    }
}

/// `rel` (a chain of projections and filters) with the filters that `wanted` implies added
/// under the projection that expands their list.
fn push(rel: Rel, wanted: Vec<Wanted>) -> Rel {
    if wanted.is_empty() {
        return rel;
    }
    let Rel {
        kind,
        columns,
        order,
    } = rel;
    let kind = match kind {
        RelKind::Filter { input, predicate } => RelKind::Filter {
            input: Box::new(push(*input, wanted)),
            predicate,
        },
        RelKind::Project { input, exprs }
            if !exprs.iter().any(|e| matches!(e, Expr::Window { .. })) =>
        {
            let definition = |n: &str| {
                columns
                    .iter()
                    .position(|c| c.name == n)
                    .map(|i| exprs[i].clone())
            };
            let mut below = Vec::new();
            let mut here = Vec::new();
            for (e, v) in wanted {
                let e = e.map_columns(&definition);
                let (path, base) = peel(without_default(&e, &v));
                match base {
                    Expr::Unnest(list) if !path.is_empty() => {
                        let list = match list.as_ref() {
                            Expr::Call(f, args) if f == "kql_expandable" => args[0].clone(),
                            other => other.clone(),
                        };
                        let mut args = vec![list];
                        args.extend(path.iter().map(|p| Expr::str(p)));
                        args.push(Expr::str(&v));
                        here.push(Expr::call("kql_list_has", args));
                    }
                    Expr::Col(_) => below.push((e, v)),
                    _ => {}
                }
            }
            let mut input = push(*input, below);
            if let Some(predicate) = here.into_iter().reduce(Expr::and) {
                input = Rel {
                    columns: input.columns.clone(),
                    order: input.order.clone(),
                    kind: RelKind::Filter {
                        input: Box::new(input),
                        predicate,
                    },
                };
            }
            RelKind::Project {
                input: Box::new(input),
                exprs,
            }
        }
        other => other,
    };
    Rel {
        kind,
        columns,
        order,
    }
}

/// `e` without the defaults that cannot equal `v`: `coalesce(x, "")` (`tostring(x)` of a string)
/// equals a non-empty `v` exactly where `x` does.
fn without_default<'a>(e: &'a Expr, v: &str) -> &'a Expr {
    match e {
        Expr::Call(f, args) if f == "coalesce" && args.len() == 2 => match &args[1] {
            Expr::Lit(Lit::Str(d), _) if d != v => without_default(&args[0], v),
            _ => e,
        },
        _ => e,
    }
}

/// `e` as a field path over a base expression: `x.a.b` is `(["a", "b"], x)`.
fn peel(e: &Expr) -> (Vec<String>, &Expr) {
    let mut path = Vec::new();
    let mut cur = e;
    while let Expr::Field(inner, name) = cur {
        path.push(name.clone());
        cur = inner;
    }
    path.reverse();
    (path, cur)
}
