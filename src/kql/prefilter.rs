//! Filtering before `mv-expand`: a `where` that compares a field of the expanded elements with
//! string constants (`x.f == "a"`, or `x.f == "a" or x.f == "b"`) also keeps, before the
//! expansion, only the rows whose list has such an element (`kql_list_has`), and only those
//! elements of each list (`kql_list_filter`, both in [`crate::kql::udf::list_has`]).
//!
//! `mv-expand TargetResources | extend Id = TargetResources.id | where Id == "X"` would
//! otherwise expand every row (repeating its other columns once per element) to keep one in a
//! hundred, and `mv-apply p = Props on (where p.displayName == "X")` would repeat each row once
//! per property to keep one. The added filters are implied by the `where`, which stays: they
//! only remove rows and elements that could not have produced a match, so results never change.
//! The elements are filtered only for an expansion of the whole list (no `limit`, which counts
//! the elements before the `where`).
//!
//! [`add_prefilters`] follows each such comparison down from the `where` through projections
//! (substituting their definitions) and filters, to the projection that expands the list, and
//! adds the filters there. It never crosses a projection that computes a window function (row
//! numbers depend on the rows present), nor a limit, aggregate, distinct, join, union or sort
//! boundary where it stops looking.

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

/// A comparison `expr == "value"` (or with one of several values) wanted below: `expr` in
/// terms of the current relation.
type Wanted = (Expr, Vec<String>);

fn conjuncts(predicate: &Expr, out: &mut Vec<Wanted>) {
    match predicate {
        Expr::Binary(BinOp::And, a, b) => {
            conjuncts(a, out);
            conjuncts(b, out);
        }
        other => {
            if let Some((e, values)) = equals_any(other)
                && matches!(e, Expr::Col(_) | Expr::Field(..))
            {
                out.push((e, values));
            }
        }
    }
}

/// `e == "a"`, or a disjunction of such comparisons of one expression: `(e, ["a", ...])`.
fn equals_any(predicate: &Expr) -> Option<(Expr, Vec<String>)> {
    match predicate {
        Expr::Binary(BinOp::Eq, a, b) => match (a.as_ref(), b.as_ref()) {
            (e, Expr::Lit(Lit::Str(v), _)) | (Expr::Lit(Lit::Str(v), _), e) => {
                let values = vec![v.clone()];
                Some((without_default(e, &values).clone(), values))
            }
            _ => None,
        },
        Expr::Binary(BinOp::Or, a, b) => {
            let (ea, mut va) = equals_any(a)?;
            let (eb, vb) = equals_any(b)?;
            if ea != eb {
                return None;
            }
            // Equal after dropping defaults means each dropped default equals neither side's
            // values, so none of the union's.
            va.extend(vb);
            Some((ea, va))
        }
        _ => None,
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
            // Element filters per expanded column: (field path, values).
            let mut elements: Vec<(usize, Vec<String>, Vec<String>)> = Vec::new();
            for (e, values) in wanted {
                let e = e.map_columns(&definition);
                let (path, base) = peel(without_default(&e, &values));
                match base {
                    Expr::Unnest(list) if !path.is_empty() => {
                        // `whole`: the expansion has no limit.
                        let (list, whole) = match list.as_ref() {
                            Expr::Call(f, args) if f == "kql_expandable" => {
                                (unfiltered(&args[0]), args[1] == Expr::long(i64::MAX))
                            }
                            other => (unfiltered(other), false),
                        };
                        let has = values.iter().map(|v| {
                            let mut args = vec![list.clone()];
                            args.extend(path.iter().map(|p| Expr::str(p)));
                            args.push(Expr::str(v));
                            Expr::call("kql_list_has", args)
                        });
                        here.extend(has.reduce(Expr::or));
                        // The one expansion of this projection, of the whole list.
                        let unnests = exprs.iter().filter(|x| x.has_unnest()).count();
                        let at = exprs.iter().position(|x| x == base);
                        if let (true, Some(at), 1) = (whole, at, unnests) {
                            elements.push((at, path, values));
                        }
                    }
                    Expr::Col(_) => below.push((e, values)),
                    _ => {}
                }
            }
            let mut exprs = exprs;
            for (at, path, values) in elements {
                exprs[at] = filter_elements(&exprs[at], &path, &values);
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

/// `e` without the defaults that cannot equal any of `values`: `coalesce(x, "")` (`tostring(x)`
/// of a string) equals a non-empty value exactly where `x` does.
fn without_default<'a>(e: &'a Expr, values: &[String]) -> &'a Expr {
    match e {
        Expr::Call(f, args) if f == "coalesce" && args.len() == 2 => match &args[1] {
            Expr::Lit(Lit::Str(d), _) if !values.contains(d) => without_default(&args[0], values),
            _ => e,
        },
        _ => e,
    }
}

/// `list` without the element filters an earlier `where` added: a row whose filtered list has a
/// match has it in the whole list too, and the target index recognizes `kql_list_has` on a
/// table's own column only.
fn unfiltered(list: &Expr) -> Expr {
    match list {
        Expr::Call(f, args) if f == "kql_list_filter" && !args.is_empty() => unfiltered(&args[0]),
        other => other.clone(),
    }
}

/// `unnest(kql_expandable(list, all))` expanding only the elements of `list` whose `path` holds
/// one of `values`.
fn filter_elements(unnest: &Expr, path: &[String], values: &[String]) -> Expr {
    let Expr::Unnest(prepared) = unnest else {
        return unnest.clone();
    };
    let Expr::Call(f, args) = prepared.as_ref() else {
        return unnest.clone();
    };
    let mut filter = vec![args[0].clone(), Expr::long(path.len() as i64)];
    filter.extend(path.iter().chain(values).map(|s| Expr::str(s)));
    let list = Expr::call("kql_list_filter", filter);
    Expr::Unnest(Box::new(Expr::call(f, vec![list, args[1].clone()])))
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
