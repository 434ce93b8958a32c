//! Tabular sources and query operators: each KQL operator becomes one or a few IR relations,
//! keeping KQL's column order and naming, and the row order of `sort` through the operators
//! that preserve it (hidden carrier columns keep a sort key that a `project` drops).

use std::collections::HashSet;

use arrow::datatypes::DataType;

use super::functions::aggregate_name;
use super::scalar::{Ctx, datetime_from_ns, duration_from_ns, ns_of};
use super::{B, Binder, Failed, LetBinding, RenderHint, TExpr, empty_rel};
use crate::diagnostic::Span;
use crate::kql::ast::{self, ExprKind, OperatorKind, SourceKind};
use crate::kql::ir::{BinOp, Column, Expr, JoinKind, Lit, Rel, RelKind, Side, SortKey, SqlType};
use crate::kql::types::Ty;

/// The output name of `[Name =] expr`: the written name, else the name KQL infers from the
/// expression, else the next `ColumnN`.
fn column_name(written: Option<&ast::Ident>, t: &TExpr, counter: &mut usize) -> String {
    match (written, &t.name) {
        (Some(n), _) => n.name.clone(),
        (None, Some(n)) => n.clone(),
        (None, None) => {
            *counter += 1;
            format!("Column{counter}")
        }
    }
}

/// The relation reduced to its visible columns, unordered (for joins, unions, subqueries).
pub(crate) fn visible_only(rel: Rel) -> Rel {
    if rel.columns.iter().all(|c| !c.hidden) {
        return Rel {
            order: Vec::new(),
            ..rel
        };
    }
    let columns: Vec<Column> = rel.visible().cloned().collect();
    let exprs = columns.iter().map(|c| Expr::Col(c.name.clone())).collect();
    Rel {
        kind: RelKind::Project {
            input: Box::new(rel),
            exprs,
        },
        columns,
        order: Vec::new(),
    }
}

/// The relation reduced to its first visible column (for `toscalar`).
pub(crate) fn first_column_only(rel: Rel) -> Rel {
    let first = rel
        .visible()
        .next()
        .cloned()
        .expect("checked by the caller");
    let order = rel.order.clone();
    let mut columns = vec![first.clone()];
    let mut exprs = vec![Expr::Col(first.name.clone())];
    // Keep the order keys so that `toscalar(T | top 1 by x)` reads the right row.
    for k in &order {
        if let Expr::Col(n) = &k.expr
            && n != &first.name
            && let Some(c) = rel.columns.iter().find(|c| &c.name == n)
        {
            columns.push(Column {
                hidden: true,
                ..c.clone()
            });
            exprs.push(Expr::Col(n.clone()));
        }
    }
    Rel {
        kind: RelKind::Project {
            input: Box::new(rel),
            exprs,
        },
        columns,
        order,
    }
}

/// A glob over column names (`*` matches any run of characters).
fn glob(pattern: &str, name: &str) -> bool {
    fn rec(p: &[u8], n: &[u8]) -> bool {
        match (p.first(), n.first()) {
            (None, None) => true,
            (Some(b'*'), _) => rec(&p[1..], n) || (!n.is_empty() && rec(p, &n[1..])),
            (Some(a), Some(b)) if a == b => rec(&p[1..], &n[1..]),
            _ => false,
        }
    }
    rec(pattern.as_bytes(), name.as_bytes())
}

/// A column name not used by `taken`: `base`, `base1`, `base2`, ...
fn fresh(base: &str, taken: &dyn Fn(&str) -> bool) -> String {
    if !taken(base) {
        return base.to_string();
    }
    (1..)
        .map(|i| format!("{base}{i}"))
        .find(|n| !taken(n))
        .expect("unbounded")
}

/// A hidden column name not used in `rel`.
fn hidden_name(rel: &Rel, prefix: &str) -> String {
    fresh(prefix, &|n| rel.columns.iter().any(|c| c.name == n))
}

impl Binder<'_> {
    pub(crate) fn serialized(&self, input: &Rel) -> bool {
        self.serial || !input.order.is_empty()
    }

    /// Binds a tabular expression; `implicit` is the input of an `mv-apply` body.
    pub(crate) fn tabular(&mut self, t: &ast::TabularExpr, implicit: Option<Rel>) -> B<Rel> {
        if self.depth > 60 {
            return self.error("KQL0105", "the query nests too deep", t.span);
        }
        self.depth += 1;
        let saved = std::mem::replace(&mut self.serial, false);
        let out = (|| {
            let mut rel = match (&t.source, implicit) {
                (Some(s), _) => self.source(s)?,
                (None, Some(rel)) => rel,
                (None, None) => {
                    return self.error("KQL0206", "a tabular expression needs a source", t.span);
                }
            };
            for op in &t.ops {
                rel = self.operator(op, rel)?;
            }
            Ok(rel)
        })();
        self.serial = saved;
        self.depth -= 1;
        out
    }

    fn source(&mut self, s: &ast::Source) -> B<Rel> {
        match &s.kind {
            SourceKind::Table(id) => self.table_or_call(id),
            SourceKind::Call { name, args } => match name.name.as_str() {
                "table" => match args.first().map(|a| &a.kind) {
                    Some(ExprKind::Literal(ast::Literal::String { value, .. })) => {
                        let id = ast::Ident {
                            name: value.clone(),
                            span: args[0].span,
                        };
                        match self.table_by_name(value) {
                            Some(rel) => Ok(rel),
                            None => self.unknown_table(&id),
                        }
                    }
                    _ => self.error("KQL0204", "`table()` takes a table name string", s.span),
                },
                "materialize" => match args.first() {
                    Some(a) => {
                        let input = self.tabular_arg_pub(a)?;
                        Ok(Rel {
                            columns: input.columns.clone(),
                            order: input.order.clone(),
                            kind: RelKind::Materialized {
                                input: Box::new(input),
                            },
                        })
                    }
                    None => self.error(
                        "KQL0204",
                        "`materialize()` takes a tabular expression",
                        s.span,
                    ),
                },
                _ => match self.lookup(&name.name) {
                    Some(LetBinding::Function { .. }) => {
                        self.call_tabular_function(name, args, None)
                    }
                    _ => self.error(
                        "KQL0203",
                        format!("unknown tabular function `{}()`", name.name),
                        name.span,
                    ),
                },
            },
            SourceKind::Datatable { columns, values } => self.datatable(columns, values, s.span),
            SourceKind::Print(items) => {
                let input = empty_rel();
                let mut outs = Vec::new();
                for (i, item) in items.iter().enumerate() {
                    let t = self.expr(&item.expr, &input, Ctx::value())?;
                    let name = item
                        .names
                        .first()
                        .map(|n| n.name.clone())
                        .unwrap_or_else(|| format!("print_{i}"));
                    outs.push((name, t));
                }
                let columns = outs.iter().map(|(n, t)| visible(n, t)).collect();
                Ok(Rel {
                    kind: RelKind::Values {
                        rows: vec![outs.into_iter().map(|(_, t)| t.e).collect()],
                    },
                    columns,
                    order: Vec::new(),
                })
            }
            SourceKind::Range {
                column,
                from,
                to,
                step,
            } => {
                let input = empty_rel();
                let from = self.expr(from, &input, Ctx::value())?;
                let to = self.expr(to, &input, Ctx::value())?;
                let step = self.expr(step, &input, Ctx::value())?;
                let ty = from.ty.clone();
                // Reals: a series of step numbers, scaled (`from + i * step`).
                if from.ty == Ty::Real || step.ty == Ty::Real || to.ty == Ty::Real {
                    let lit = |t: &TExpr| match t.e.as_lit() {
                        Some(Lit::Real(f)) => Some(*f),
                        Some(Lit::Long(n)) => Some(*n as f64),
                        _ => None,
                    };
                    let (Some(a), Some(b), Some(st)) = (lit(&from), lit(&to), lit(&step)) else {
                        return self.error(
                            "KQL0210",
                            "`range` over reals needs constant bounds and step",
                            s.span,
                        );
                    };
                    if st == 0.0 || !(b - a).is_finite() {
                        return self.error("KQL0210", "`range` needs a non-zero step", s.span);
                    }
                    let n = ((b - a) / st + 1e-9).floor() as i64;
                    let series = Rel {
                        kind: RelKind::Series {
                            start: Expr::long(0),
                            stop: Expr::long(n),
                            step: Expr::long(1),
                        },
                        columns: vec![Column {
                            name: "value".into(),
                            ty: Ty::Long,
                            nullable: false,
                            hidden: false,
                        }],
                        order: Vec::new(),
                    };
                    let v = Expr::bin(
                        BinOp::Plus,
                        Expr::Lit(Lit::Real(a), Ty::Real),
                        Expr::bin(
                            BinOp::Mul,
                            Expr::cast(Expr::col("value"), SqlType::Double),
                            Expr::Lit(Lit::Real(st), Ty::Real),
                        ),
                    );
                    let rel = self.project(
                        series,
                        vec![(column.name.clone(), TExpr::new(v, Ty::Real, false))],
                    );
                    let key = SortKey {
                        expr: Expr::Col(column.name.clone()),
                        asc: st > 0.0,
                        nulls_first: true,
                    };
                    return Ok(Rel {
                        order: vec![key],
                        ..rel
                    });
                }
                let (start, stop, st) =
                    match (&from.ty, &step.ty) {
                        (Ty::Long | Ty::Int, Ty::Long | Ty::Int) => (from.e, to.e, step.e),
                        (Ty::Datetime | Ty::Timespan, Ty::Timespan) => {
                            (ns_of(from.e), ns_of(to.e), ns_of(step.e))
                        }
                        _ => return self.error(
                            "KQL0205",
                            "`range` takes numbers, or datetimes/timespans with a timespan step",
                            s.span,
                        ),
                    };
                let series = Rel {
                    kind: RelKind::Series {
                        start,
                        stop,
                        step: st,
                    },
                    columns: vec![Column {
                        name: "value".into(),
                        ty: Ty::Long,
                        nullable: false,
                        hidden: false,
                    }],
                    order: Vec::new(),
                };
                let v = Expr::col("value");
                let e = match ty {
                    Ty::Datetime => datetime_from_ns(v),
                    Ty::Timespan => duration_from_ns(v),
                    Ty::Int => Expr::cast(v, SqlType::Int),
                    _ => v,
                };
                let t = TExpr::new(e, ty, false);
                let rel = self.project(series, vec![(column.name.clone(), t)]);
                let key = SortKey {
                    expr: Expr::Col(column.name.clone()),
                    asc: true,
                    nulls_first: true,
                };
                Ok(Rel {
                    order: vec![key],
                    ..rel
                })
            }
            SourceKind::Union(args) => self.union(None, args, s.span),
            SourceKind::Parens(t) => self.tabular(t, None),
        }
    }

    pub(crate) fn tabular_arg_pub(&mut self, a: &ast::Expr) -> B<Rel> {
        match &a.kind {
            ExprKind::Name(id) => match self.table_by_name(&id.name) {
                Some(rel) => Ok(rel),
                None => self.unknown_table(id),
            },
            ExprKind::Subquery(t) => self.tabular(t, None),
            _ => self.error("KQL0205", "expected a tabular expression", a.span),
        }
    }

    fn datatable(
        &mut self,
        columns: &[(ast::Ident, ast::TypeName)],
        values: &[ast::Expr],
        span: Span,
    ) -> B<Rel> {
        if columns.is_empty() || !values.len().is_multiple_of(columns.len()) {
            return self.error(
                "KQL0204",
                format!(
                    "`datatable` has {} columns but {} values (not a whole number of rows)",
                    columns.len(),
                    values.len()
                ),
                span,
            );
        }
        let input = empty_rel();
        let mut cols = Vec::new();
        for (id, t) in columns {
            let Some(ty) = Ty::from_type_name(*t) else {
                return self.error("KQL0206", "the decimal type is not supported", id.span);
            };
            cols.push(Column {
                name: id.name.clone(),
                ty,
                nullable: true,
                hidden: false,
            });
        }
        let mut rows = Vec::new();
        for chunk in values.chunks(columns.len()) {
            let mut row = Vec::new();
            for (v, c) in chunk.iter().zip(&cols) {
                let t = self.expr(v, &input, Ctx::value())?;
                if t.references_columns_or_not_const() {
                    return self.error("KQL0210", "`datatable` values must be literals", v.span);
                }
                let t = if t.ty == c.ty {
                    t
                } else {
                    self.convert(t, &c.ty, v.span)?
                };
                row.push(t.e);
            }
            rows.push(row);
        }
        for c in cols.iter_mut() {
            c.nullable = !matches!(c.ty, Ty::String);
        }
        Ok(Rel {
            kind: RelKind::Values { rows },
            columns: cols,
            order: Vec::new(),
        })
    }

    /// A projection: the visible `items`, plus hidden carriers for the input's sort keys that
    /// the items drop or redefine.
    pub(crate) fn project(&mut self, input: Rel, items: Vec<(String, TExpr)>) -> Rel {
        let mut columns: Vec<Column> = Vec::new();
        let mut exprs: Vec<Expr> = Vec::new();
        for (n, t) in items {
            columns.push(visible(&n, &t));
            exprs.push(t.e);
        }
        let mut order = Vec::new();
        for key in &input.order {
            let Expr::Col(kn) = &key.expr else {
                order.clear();
                break;
            };
            if let Some(i) = columns.iter().position(|c| &c.name == kn)
                && exprs[i] == Expr::Col(kn.clone())
            {
                order.push(key.clone());
                continue;
            }
            let Some(src) = input.columns.iter().find(|c| &c.name == kn).cloned() else {
                order.clear();
                break;
            };
            let hn = fresh("__order", &|n| columns.iter().any(|c| c.name == n));
            columns.push(Column {
                name: hn.clone(),
                hidden: true,
                ..src
            });
            exprs.push(Expr::Col(kn.clone()));
            order.push(SortKey {
                expr: Expr::Col(hn),
                ..key.clone()
            });
        }
        Rel {
            kind: RelKind::Project {
                input: Box::new(input),
                exprs,
            },
            columns,
            order,
        }
    }

    /// All visible columns of `rel` as projection items.
    pub(crate) fn passthrough(rel: &Rel) -> Vec<(String, TExpr)> {
        rel.visible()
            .map(|c| {
                (
                    c.name.clone(),
                    TExpr::new(Expr::Col(c.name.clone()), c.ty.clone(), c.nullable),
                )
            })
            .collect()
    }

    /// `extend`: new columns at the end; a column of the same name is removed and re-added at
    /// the end (KQL extend operator documentation). Items may refer to earlier items.
    fn extend(&mut self, input: Rel, items: &[ast::NamedExpr]) -> B<Rel> {
        let mut cur = input;
        let mut pending: Vec<(String, TExpr)> = Vec::new();
        let mut counter = 0;
        let mut failed = false;
        for item in items {
            if item.names.len() > 1 {
                self.error::<()>(
                    "KQL0206",
                    "several names for one expression are not supported here",
                    item.span,
                )
                .ok();
                failed = true;
                continue;
            }
            let view = extend_view(&cur, &pending);
            let t = match self.expr(&item.expr, &view, Ctx::value()) {
                Ok(t) => t,
                Err(Failed) => {
                    failed = true;
                    continue;
                }
            };
            let refs_pending = {
                let mut found = false;
                t.e.visit(&mut |e| {
                    if let Expr::Col(n) = e {
                        found |= pending.iter().any(|(p, _)| p == n);
                    }
                });
                found
            };
            if refs_pending {
                cur = self.extend_layer(cur, std::mem::take(&mut pending));
            }
            let name = match item.names.first() {
                Some(n) => n.name.clone(),
                None => match &t.name {
                    Some(n) => n.clone(),
                    None => {
                        let v = extend_view(&cur, &pending);
                        loop {
                            counter += 1;
                            let n = format!("Column{counter}");
                            if v.column(&n).is_none() {
                                break n;
                            }
                        }
                    }
                },
            };
            pending.retain(|(n, _)| n != &name);
            pending.push((name, t));
        }
        if failed {
            return Err(Failed);
        }
        Ok(self.extend_layer(cur, pending))
    }

    fn extend_layer(&mut self, input: Rel, new: Vec<(String, TExpr)>) -> Rel {
        if new.is_empty() {
            return input;
        }
        let mut items: Vec<(String, TExpr)> = Self::passthrough(&input)
            .into_iter()
            .filter(|(n, _)| !new.iter().any(|(m, _)| m == n))
            .collect();
        items.extend(new);
        self.project(input, items)
    }

    fn operator(&mut self, op: &ast::Operator, input: Rel) -> B<Rel> {
        match &op.kind {
            OperatorKind::Where(p) => {
                let t = self.expr(p, &input, Ctx::pred())?;
                let t = self.bool_of(t, p.span)?;
                let columns = input.columns.clone();
                let order = input.order.clone();
                Ok(Rel {
                    kind: RelKind::Filter {
                        input: Box::new(input),
                        predicate: t.e,
                    },
                    columns,
                    order,
                })
            }
            OperatorKind::Extend(items) => self.extend(input, items),
            OperatorKind::Project(items) => {
                let mut outs = Vec::new();
                let mut failed = false;
                let mut counter = 0;
                for item in items {
                    match self.expr(&item.expr, &input, Ctx::value()) {
                        Ok(t) => {
                            let name = column_name(item.names.first(), &t, &mut counter);
                            if outs.iter().any(|(n, _): &(String, TExpr)| n == &name) {
                                self.error::<()>(
                                    "KQL0209",
                                    format!("column `{name}` appears twice in `project`"),
                                    item.span,
                                )
                                .ok();
                                failed = true;
                            }
                            outs.push((name, t));
                        }
                        Err(Failed) => failed = true,
                    }
                }
                if failed {
                    return Err(Failed);
                }
                Ok(self.project(input, outs))
            }
            OperatorKind::ProjectAway(patterns) | OperatorKind::ProjectKeep(patterns) => {
                let keep_mode = matches!(op.kind, OperatorKind::ProjectKeep(_));
                let mut matched = HashSet::new();
                for p in patterns {
                    let hits: Vec<String> = input
                        .visible()
                        .filter(|c| glob(&p.pattern, &c.name))
                        .map(|c| c.name.clone())
                        .collect();
                    if hits.is_empty() && !p.pattern.contains('*') {
                        return self.unknown_column(&p.pattern, p.span, &input);
                    }
                    matched.extend(hits);
                }
                let items = Self::passthrough(&input)
                    .into_iter()
                    .filter(|(n, _)| matched.contains(n) == keep_mode)
                    .collect();
                Ok(self.project(input, items))
            }
            OperatorKind::ProjectRename(pairs) => {
                let mut items = Self::passthrough(&input);
                for (new, old) in pairs {
                    let Some(i) = items.iter().position(|(n, _)| n == &old.name) else {
                        return self.unknown_column(&old.name, old.span, &input);
                    };
                    items[i].0 = new.name.clone();
                }
                let mut seen = HashSet::new();
                for (n, _) in &items {
                    if !seen.insert(n.clone()) {
                        return self.error(
                            "KQL0209",
                            format!("`project-rename` makes two columns named `{n}`"),
                            op.span,
                        );
                    }
                }
                Ok(self.project(input, items))
            }
            OperatorKind::ProjectReorder(specs) => {
                let all = Self::passthrough(&input);
                let mut first: Vec<(String, TExpr)> = Vec::new();
                for (p, dir) in specs {
                    let mut hits: Vec<(String, TExpr)> = all
                        .iter()
                        .filter(|(n, _)| glob(&p.pattern, n) && !first.iter().any(|(f, _)| f == n))
                        .cloned()
                        .collect();
                    if hits.is_empty() && !p.pattern.contains('*') {
                        return self.unknown_column(&p.pattern, p.span, &input);
                    }
                    match dir.as_ref().map(|d| d.name.as_str()) {
                        Some("asc") | Some("granny-asc") => hits.sort_by(|a, b| a.0.cmp(&b.0)),
                        Some("desc") | Some("granny-desc") => hits.sort_by(|a, b| b.0.cmp(&a.0)),
                        _ => {}
                    }
                    first.extend(hits);
                }
                let rest: Vec<_> = all
                    .into_iter()
                    .filter(|(n, _)| !first.iter().any(|(f, _)| f == n))
                    .collect();
                first.extend(rest);
                Ok(self.project(input, first))
            }
            OperatorKind::Summarize { aggregates, by, .. } => {
                self.serial = false;
                self.summarize(input, aggregates, by)
            }
            OperatorKind::Sort { keys, .. } => self.sort(input, keys),
            OperatorKind::Top { count, key } => {
                let n = self.const_count(count, &input)?;
                let sorted = self.sort(input, std::slice::from_ref(key))?;
                Ok(limit(sorted, n))
            }
            OperatorKind::Take { count, .. } => {
                let n = self.const_count(count, &input)?;
                Ok(limit(input, n))
            }
            OperatorKind::Distinct(cols) => {
                self.serial = false;
                let base = if cols.is_empty() {
                    visible_only(input)
                } else {
                    let mut items = Vec::new();
                    let mut counter = 0;
                    for c in cols {
                        let t = self.expr(c, &input, Ctx::value())?;
                        let name = t.name.clone().unwrap_or_else(|| {
                            counter += 1;
                            format!("Column{counter}")
                        });
                        items.push((name, t));
                    }
                    visible_only(self.project(input, items))
                };
                let columns = base.columns.clone();
                Ok(Rel {
                    kind: RelKind::Distinct {
                        input: Box::new(base),
                    },
                    columns,
                    order: Vec::new(),
                })
            }
            OperatorKind::Count => {
                self.serial = false;
                let agg = Expr::Agg {
                    name: "count".into(),
                    args: vec![Expr::long(1)],
                    distinct: false,
                    filter: None,
                    order_by: vec![],
                };
                Ok(Rel {
                    kind: RelKind::Aggregate {
                        input: Box::new(visible_only(input)),
                        keys: vec![],
                        aggregates: vec![agg],
                    },
                    columns: vec![Column {
                        name: "Count".into(),
                        ty: Ty::Long,
                        nullable: false,
                        hidden: false,
                    }],
                    order: Vec::new(),
                })
            }
            OperatorKind::MvExpand {
                legacy,
                params,
                item_index,
                columns,
                limit: lim,
            } => {
                let kind = self.bag_kind(params)?;
                let limit = match lim {
                    Some(e) => Some(self.const_count(e, &input)?),
                    None if *legacy => Some(128),
                    None => None,
                };
                let (rel, _) = self.mv_expand(input, columns, item_index.as_ref(), limit, &kind)?;
                Ok(rel)
            }
            OperatorKind::MvApply {
                params,
                item_index,
                columns,
                limit: lim,
                body,
            } => {
                let kind = self.bag_kind(params)?;
                let limit = match lim {
                    Some(e) => Some(self.const_count(e, &input)?),
                    None => None,
                };
                self.mv_apply(
                    input,
                    columns,
                    item_index.as_ref(),
                    limit,
                    &kind,
                    body,
                    op.span,
                )
            }
            OperatorKind::Join { params, right, on } => {
                self.join(input, params, right, on, op.span, false)
            }
            OperatorKind::Lookup { params, right, on } => {
                self.join(input, params, right, on, op.span, true)
            }
            OperatorKind::Union(args) => self.union(Some(input), args, op.span),
            OperatorKind::Parse {
                filter,
                params,
                source,
                pattern,
            } => self.parse(input, *filter, params, source, pattern, op.span),
            OperatorKind::Serialize(items) => {
                self.serial = true;
                if items.is_empty() {
                    Ok(input)
                } else {
                    self.extend(input, items)
                }
            }
            OperatorKind::Render {
                visualization,
                properties,
            } => {
                let properties = properties
                    .iter()
                    .map(|p| (p.name.name.clone(), expr_text(&p.value)))
                    .collect();
                self.render = Some(RenderHint {
                    visualization: visualization.name.clone(),
                    properties,
                });
                Ok(input)
            }
            OperatorKind::Evaluate { plugin, args, .. } => self.evaluate(input, plugin, args),
            OperatorKind::Invoke { function, args } => {
                self.call_tabular_function(function, args, Some(input))
            }
            OperatorKind::As { name, .. } => {
                self.define(&name.name, LetBinding::Tabular(visible_only(input.clone())));
                Ok(input)
            }
            OperatorKind::GetSchema => {
                let rows = input
                    .visible()
                    .enumerate()
                    .map(|(i, c)| {
                        let arrow = c.ty.arrow();
                        vec![
                            Expr::str(&c.name),
                            Expr::Lit(Lit::Int(i as i32), Ty::Int),
                            Expr::str(&format!("System.{}", dotnet_type(&c.ty))),
                            Expr::str(c.ty.kql_name()),
                            Expr::str(&arrow.to_string()),
                        ]
                    })
                    .collect();
                let col = |n: &str, ty: Ty| Column {
                    name: n.into(),
                    ty,
                    nullable: false,
                    hidden: false,
                };
                Ok(Rel {
                    kind: RelKind::Values { rows },
                    columns: vec![
                        col("ColumnName", Ty::String),
                        col("ColumnOrdinal", Ty::Int),
                        col("DataType", Ty::String),
                        col("ColumnType", Ty::String),
                        col("ArrowType", Ty::String),
                    ],
                    order: vec![SortKey {
                        expr: Expr::col("ColumnOrdinal"),
                        asc: true,
                        nulls_first: true,
                    }],
                })
            }
            OperatorKind::MakeSeries {
                aggregates,
                on,
                from,
                to,
                step,
                by,
                ..
            } => {
                self.serial = false;
                self.make_series(
                    input,
                    aggregates,
                    on,
                    from.as_ref(),
                    to.as_ref(),
                    step,
                    by,
                    op.span,
                )
            }
        }
    }

    fn const_count(&mut self, e: &ast::Expr, input: &Rel) -> B<u64> {
        let t = self.expr(e, input, Ctx::value())?;
        match t.e.as_lit() {
            Some(Lit::Long(n)) if *n >= 0 => Ok(*n as u64),
            _ => self.error(
                "KQL0210",
                "expected a constant count (a non-negative integer)",
                e.span,
            ),
        }
    }

    fn bag_kind(&mut self, params: &[ast::OpParam]) -> B<String> {
        for p in params {
            if p.name.name == "kind" {
                let v = expr_text(&p.value);
                if v != "bag" && v != "array" {
                    return self.error(
                        "KQL0106",
                        format!("`kind` is `bag` or `array`, not `{v}`"),
                        p.value.span,
                    );
                }
                return Ok(v);
            }
        }
        Ok("bag".into())
    }

    fn summarize(
        &mut self,
        input: Rel,
        aggregates: &[ast::NamedExpr],
        by: &[ast::NamedExpr],
    ) -> B<Rel> {
        let input = visible_only(input);
        let mut keys: Vec<(String, TExpr)> = Vec::new();
        let mut counter = 0;
        let mut failed = false;
        for b in by {
            match self.expr(&b.expr, &input, Ctx::value()) {
                Ok(t) => {
                    let name = column_name(b.names.first(), &t, &mut counter);
                    keys.push((name, t));
                }
                Err(Failed) => failed = true,
            }
        }
        let mut aggs: Vec<(String, TExpr)> = Vec::new();
        for a in aggregates {
            match self.aggregate_item(&input, a, &keys) {
                Ok(items) => aggs.extend(items),
                Err(Failed) => failed = true,
            }
        }
        if failed {
            return Err(Failed);
        }
        if keys.is_empty() && aggs.is_empty() {
            return self.error(
                "KQL0204",
                "`summarize` needs an aggregate or a `by` clause",
                Span::default(),
            );
        }
        // Output names are unique: later duplicates get a numeric suffix.
        let mut columns: Vec<Column> = Vec::new();
        for (n, t) in keys.iter().chain(aggs.iter()) {
            let taken = |x: &str| columns.iter().any(|c| c.name == x);
            let generated = n
                .strip_prefix("Column")
                .is_some_and(|d| d.parse::<u32>().is_ok());
            let name = if generated && taken(n) {
                (1..)
                    .map(|i| format!("Column{i}"))
                    .find(|c| !taken(c))
                    .expect("unbounded")
            } else {
                fresh(n, &taken)
            };
            let nullable = t.nullable || matches!(t.e, Expr::Agg { .. });
            columns.push(Column {
                name,
                ty: t.ty.clone(),
                nullable,
                hidden: false,
            });
        }
        // An empty group list over no rows still gives one row; strings stay non-null.
        Ok(Rel {
            kind: RelKind::Aggregate {
                input: Box::new(input),
                keys: keys.into_iter().map(|(_, t)| t.e).collect(),
                aggregates: aggs.into_iter().map(|(_, t)| t.e).collect(),
            },
            columns,
            order: Vec::new(),
        })
    }

    /// One `summarize` aggregate item; `arg_max`/`arg_min`/`percentiles` expand to several.
    fn aggregate_item(
        &mut self,
        input: &Rel,
        a: &ast::NamedExpr,
        keys: &[(String, TExpr)],
    ) -> B<Vec<(String, TExpr)>> {
        if let ExprKind::Call { name, args } = &a.expr.kind {
            let f = name.name.as_str();
            if (f == "arg_max" || f == "arg_min")
                && !matches!(self.lookup(f), Some(LetBinding::Function { .. }))
            {
                if args.len() < 2 {
                    return self.error(
                        "KQL0204",
                        format!(
                            "`{f}()` takes the expression to maximize and the columns to return"
                        ),
                        name.span,
                    );
                }
                let x = self.expr(&args[0], input, Ctx::value())?;
                let x_name = a
                    .names
                    .first()
                    .map(|n| n.name.clone())
                    .or(x.name.clone())
                    .unwrap_or_else(|| "Column1".into());
                let asc = f == "arg_min";
                let order = vec![SortKey {
                    expr: x.e.clone(),
                    asc,
                    nulls_first: false,
                }];
                let pick = |e: Expr| Expr::Agg {
                    name: "first_value".into(),
                    args: vec![e],
                    distinct: false,
                    filter: Some(Box::new(Expr::is_not_null(x.e.clone()))),
                    order_by: order.clone(),
                };
                let mut out = vec![(
                    x_name.clone(),
                    TExpr::new(
                        Expr::Agg {
                            name: if asc { "min" } else { "max" }.into(),
                            args: vec![x.e.clone()],
                            distinct: false,
                            filter: None,
                            order_by: vec![],
                        },
                        x.ty.clone(),
                        true,
                    ),
                )];
                for r in &args[1..] {
                    if matches!(r.kind, ExprKind::Star) {
                        for c in input.visible() {
                            if c.name == x_name
                                || keys.iter().any(|(k, _)| k == &c.name)
                                || out.iter().any(|(o, _)| o == &c.name)
                            {
                                continue;
                            }
                            out.push((
                                c.name.clone(),
                                TExpr::new(pick(Expr::Col(c.name.clone())), c.ty.clone(), true),
                            ));
                        }
                    } else {
                        let t = self.expr(r, input, Ctx::value())?;
                        let n = match (&r.kind, &t.name) {
                            (ExprKind::NamedArg { name, .. }, _) => name.name.clone(),
                            (_, Some(n)) => n.clone(),
                            _ => format!("Column{}", out.len()),
                        };
                        out.push((n, TExpr::new(pick(t.e), t.ty, true)));
                    }
                }
                // Strings stay non-null in KQL.
                for (_, t) in out.iter_mut() {
                    if t.ty == Ty::String {
                        t.e = Expr::coalesce(t.e.clone(), Expr::str(""));
                        t.nullable = false;
                    }
                }
                return Ok(out);
            }
            if f == "percentiles" {
                if args.len() < 2 {
                    return self.error(
                        "KQL0204",
                        "`percentiles()` takes an expression and one or more percentiles",
                        name.span,
                    );
                }
                let x = self.expr(&args[0], input, Ctx::value())?;
                let base = x.name.clone().unwrap_or_default();
                let mut out = Vec::new();
                for p in &args[1..] {
                    let pv = self.expr(p, input, Ctx::value())?;
                    let t = self.percentile(x.clone(), pv, p.span)?;
                    let suffix = match &p.kind {
                        ExprKind::Literal(ast::Literal::Long(n)) => n.to_string(),
                        ExprKind::Literal(ast::Literal::Real(f)) => f.to_string().replace('.', "_"),
                        _ => "p".into(),
                    };
                    out.push((format!("percentile_{base}_{suffix}"), t));
                }
                return Ok(out);
            }
        }
        let t = self.expr(&a.expr, input, Ctx::agg())?;
        if !t.e.has_aggregate() {
            return self.error_hint(
                "KQL0208",
                "a `summarize` expression must use an aggregate function",
                a.expr.span,
                "group columns go after `by`",
            );
        }
        let name = match a.names.first() {
            Some(n) => n.name.clone(),
            None => match &a.expr.kind {
                ExprKind::Call { name, args }
                    if super::functions::AGGREGATE_FUNCTIONS.contains(&name.name.as_str()) =>
                {
                    let arg_name = args.first().and_then(super::functions::expr_name_hint);
                    aggregate_name(&name.name, args, arg_name.as_deref())
                }
                _ => "Column1".into(),
            },
        };
        // KQL strings are never null: an aggregate of strings over no value is "".
        let t = if t.ty == Ty::String && t.nullable {
            TExpr::new(Expr::coalesce(t.e, Expr::str("")), Ty::String, false)
        } else {
            t
        };
        Ok(vec![(name, t)])
    }

    fn sort(&mut self, input: Rel, keys: &[ast::SortKey]) -> B<Rel> {
        self.serial = true;
        let mut cur = visible_only(input);
        let mut bound = Vec::new();
        for k in keys {
            let t = self.expr(&k.expr, &cur, Ctx::value())?;
            bound.push((
                t,
                k.effective_order() == ast::SortOrder::Asc,
                k.effective_nulls() == ast::Nulls::First,
            ));
        }
        // Non-column keys become hidden columns.
        let mut extra = Vec::new();
        let mut sort_keys = Vec::new();
        for (i, (t, asc, nulls_first)) in bound.into_iter().enumerate() {
            let col = match &t.e {
                Expr::Col(n) => n.clone(),
                _ => {
                    let n = hidden_name(&cur, &format!("__sort{i}"));
                    extra.push((n.clone(), t));
                    n
                }
            };
            sort_keys.push(SortKey {
                expr: Expr::Col(col),
                asc,
                nulls_first,
            });
        }
        if !extra.is_empty() {
            let mut items = Self::passthrough(&cur);
            let hidden: Vec<String> = extra.iter().map(|(n, _)| n.clone()).collect();
            items.extend(extra);
            let mut rel = self.project(cur, items);
            for c in rel.columns.iter_mut() {
                if hidden.contains(&c.name) {
                    c.hidden = true;
                }
            }
            cur = rel;
        }
        let columns = cur.columns.clone();
        Ok(Rel {
            kind: RelKind::Sort {
                input: Box::new(cur),
                keys: sort_keys.clone(),
            },
            columns,
            order: sort_keys,
        })
    }

    /// `mv-expand`: one row per element (a null expands to one null row, an empty array to no
    /// row); several columns expand in parallel. Returns the relation and the expanded names.
    fn mv_expand(
        &mut self,
        input: Rel,
        columns: &[ast::ExpandColumn],
        item_index: Option<&ast::Ident>,
        limit: Option<u64>,
        kind: &str,
    ) -> B<(Rel, Vec<String>)> {
        let mut lists: Vec<(String, TExpr, Ty, Option<Ty>)> = Vec::new();
        for (i, c) in columns.iter().enumerate() {
            let t = self.expr(&c.expr, &input, Ctx::value())?;
            let name = match (&c.name, &t.name) {
                (Some(n), _) => n.name.clone(),
                (None, Some(n)) => n.clone(),
                (None, None) => format!("Column{}", i + 1),
            };
            let (list, item_ty) = match &t.ty {
                Ty::Dyn(DataType::List(f) | DataType::LargeList(f)) => {
                    (t.clone(), Ty::Dyn(f.data_type().clone()))
                }
                Ty::Json => (
                    TExpr::new(
                        Expr::call("kql_json_items", vec![t.e.clone(), Expr::str(kind)]),
                        Ty::Json,
                        true,
                    ),
                    Ty::Json,
                ),
                Ty::Dyn(_) => {
                    let j = self.jsonify(t.clone());
                    (
                        TExpr::new(
                            Expr::call("kql_json_items", vec![j.e, Expr::str(kind)]),
                            Ty::Json,
                            true,
                        ),
                        Ty::Json,
                    )
                }
                Ty::Null => (t.clone(), Ty::Null),
                other => {
                    return self.error(
                        "KQL0205",
                        format!(
                            "`mv-expand` needs a dynamic array or bag, found {}",
                            other.kql_name()
                        ),
                        c.expr.span,
                    );
                }
            };
            let to = match c.to_type {
                Some(tn) => match Ty::from_type_name(tn) {
                    Some(Ty::Json) => None,
                    Some(t) => Some(t),
                    None => {
                        return self.error("KQL0206", "the decimal type is not supported", c.span);
                    }
                },
                None => None,
            };
            lists.push((name, list, item_ty, to));
        }
        // One typed list without an index: DataFusion's `unnest` of the list itself.
        if lists.len() == 1
            && item_index.is_none()
            && matches!(lists[0].1.ty, Ty::Dyn(DataType::List(_)))
        {
            let (name, list, item_ty, to) = lists.pop().expect("one list");
            return self.mv_expand_unnest(input, name, list, item_ty, to, limit);
        }
        // Layer 1: the row count per input row, expanded as an index column.
        let idx = hidden_name(&input, "__idx");
        let mut listcols = Vec::new();
        let mut items = Self::passthrough(&input);
        // DataFusion 55 keeps uniqueness facts through unnest (see `udf::barrier`): columns
        // that may come out of an aggregate or a distinct go through the barrier first.
        if derives_from_grouping(&input) {
            for (_, t) in items.iter_mut() {
                t.e = Expr::call("kql_barrier", vec![t.e.clone()]);
            }
        }
        for (i, (_, list, _, _)) in lists.iter().enumerate() {
            let n = hidden_name(&input, &format!("__list{i}"));
            items.push((n.clone(), list.clone()));
            listcols.push(n);
        }
        let layer1 = self.project(input, items);
        let lens: Vec<Expr> = listcols
            .iter()
            .zip(&lists)
            .map(|(n, (_, l, _, _))| match l.ty {
                Ty::Null => Expr::long(1),
                _ => Expr::case(
                    vec![(Expr::is_null(Expr::col(n)), Expr::long(1))],
                    Some(Expr::cast(
                        Expr::call("cardinality", vec![Expr::col(n)]),
                        SqlType::BigInt,
                    )),
                ),
            })
            .collect();
        let count = if lens.len() == 1 {
            lens.into_iter().next().expect("1")
        } else {
            Expr::call("greatest", lens)
        };
        let mut items2 = Self::passthrough_all(&layer1);
        items2.push((
            idx.clone(),
            TExpr::new(
                Expr::Unnest(Box::new(Expr::call("range", vec![Expr::long(0), count]))),
                Ty::Long,
                false,
            ),
        ));
        let mut layer2 = self.project(layer1, items2);
        for c in layer2.columns.iter_mut() {
            if c.name == idx || listcols.contains(&c.name) {
                c.hidden = true;
            }
        }
        // Layer 3: elements by index, in place of (or after) the input columns.
        let mut out: Vec<(String, TExpr)> = Vec::new();
        let element = |b: &mut Self, i: usize| -> B<TExpr> {
            let (_, list, item_ty, to) = &lists[i];
            let e = match list.ty {
                Ty::Null => Expr::null(Ty::Null),
                _ => Expr::Index(
                    Box::new(Expr::col(&listcols[i])),
                    Box::new(Expr::bin(BinOp::Plus, Expr::col(&idx), Expr::long(1))),
                ),
            };
            let t = TExpr::new(e, item_ty.clone(), true);
            match to {
                Some(ty) => b.convert(t, ty, Span::default()),
                None => Ok(t),
            }
        };
        let names: Vec<String> = lists.iter().map(|(n, ..)| n.clone()).collect();
        for (n, t) in Self::passthrough(&layer2) {
            match names.iter().position(|m| m == &n) {
                Some(i) => out.push((n, element(self, i)?)),
                None => out.push((n, t)),
            }
        }
        for (i, n) in names.iter().enumerate() {
            if !out.iter().any(|(o, _)| o == n) {
                out.push((n.clone(), element(self, i)?));
            }
        }
        if let Some(ix) = item_index {
            out.push((
                ix.name.clone(),
                TExpr::new(Expr::col(&idx), Ty::Long, false),
            ));
        }
        let layer2 = match limit {
            Some(n) => {
                let columns = layer2.columns.clone();
                let order = layer2.order.clone();
                Rel {
                    kind: RelKind::Filter {
                        input: Box::new(layer2),
                        predicate: Expr::bin(BinOp::Lt, Expr::col(&idx), Expr::long(n as i64)),
                    },
                    columns,
                    order,
                }
            }
            None => layer2,
        };
        Ok((self.project(layer2, out), names))
    }

    /// `mv-expand` of one typed list, no item index: `unnest` of the list, with a null list made
    /// one null element (Kusto's one null row; `unnest` drops nulls) and the list cut to
    /// `limit` first (`kql_expandable`, [`crate::kql::udf::expand`]). The list is not carried through the expansion, so the input's other
    /// columns are the only ones repeated per element.
    fn mv_expand_unnest(
        &mut self,
        input: Rel,
        name: String,
        list: TExpr,
        item_ty: Ty,
        to: Option<Ty>,
        limit: Option<u64>,
    ) -> B<(Rel, Vec<String>)> {
        // DataFusion 55 keeps uniqueness facts through unnest (see `udf::barrier`); the barrier
        // gets its own projection (an aliased column beside `unnest` confuses its planner).
        let input = if derives_from_grouping(&input) {
            let mut items = Self::passthrough(&input);
            for (_, t) in items.iter_mut() {
                t.e = Expr::call("kql_barrier", vec![t.e.clone()]);
            }
            self.project(input, items)
        } else {
            input
        };
        let elem = hidden_name(&input, "__elem");
        let order: Vec<String> = input.visible().map(|c| c.name.clone()).collect();
        let mut items: Vec<(String, TExpr)> = Self::passthrough(&input)
            .into_iter()
            .filter(|(n, _)| n != &name)
            .collect();
        let prepared = Expr::call(
            "kql_expandable",
            vec![list.e, Expr::long(limit.map_or(i64::MAX, |n| n as i64))],
        );
        items.push((
            elem.clone(),
            TExpr::new(Expr::Unnest(Box::new(prepared)), item_ty.clone(), true),
        ));
        let mut layer = self.project(input, items);
        for c in layer.columns.iter_mut() {
            if c.name == elem {
                c.hidden = true;
            }
        }
        let element = TExpr::new(Expr::col(&elem), item_ty, true);
        let element = match to {
            Some(ty) => self.convert(element, &ty, Span::default())?,
            None => element,
        };
        let mut out: Vec<(String, TExpr)> = Vec::new();
        for n in &order {
            if n == &name {
                out.push((name.clone(), element.clone()));
            } else if let Some(c) = layer.columns.iter().find(|c| &c.name == n) {
                out.push((
                    n.clone(),
                    TExpr::new(Expr::col(n), c.ty.clone(), c.nullable),
                ));
            }
        }
        if !order.contains(&name) {
            out.push((name.clone(), element));
        }
        Ok((self.project(layer, out), vec![name]))
    }

    /// Visible and hidden columns (for layers that must keep hidden ones).
    fn passthrough_all(rel: &Rel) -> Vec<(String, TExpr)> {
        rel.columns
            .iter()
            .map(|c| {
                (
                    c.name.clone(),
                    TExpr::new(Expr::Col(c.name.clone()), c.ty.clone(), c.nullable),
                )
            })
            .collect()
    }

    #[allow(clippy::too_many_arguments)]
    fn mv_apply(
        &mut self,
        input: Rel,
        columns: &[ast::ExpandColumn],
        item_index: Option<&ast::Ident>,
        limit: Option<u64>,
        kind: &str,
        body: &ast::TabularExpr,
        span: Span,
    ) -> B<Rel> {
        // Row-wise bodies (filters and new columns) apply to the expanded rows directly.
        let rowwise = body.ops.iter().all(|o| {
            matches!(
                o.kind,
                OperatorKind::Where(_) | OperatorKind::Extend(_) | OperatorKind::Parse { .. }
            )
        });
        if rowwise {
            let (expanded, _) = self.mv_expand(input, columns, item_index, limit, kind)?;
            return self.tabular(body, Some(expanded));
        }
        // Otherwise each input row is a group: number the rows, expand, run the body per row
        // number (aggregates and limits are partitioned by it), and join back.
        for o in &body.ops {
            if !matches!(
                o.kind,
                OperatorKind::Where(_)
                    | OperatorKind::Extend(_)
                    | OperatorKind::Parse { .. }
                    | OperatorKind::Project(_)
                    | OperatorKind::ProjectRename(_)
                    | OperatorKind::Summarize { .. }
                    | OperatorKind::Top { .. }
                    | OperatorKind::Take { .. }
                    | OperatorKind::Sort { .. }
                    | OperatorKind::Count
            ) {
                return self.error_hint(
                    "KQL0206",
                    format!("`{}` inside `mv-apply` is not supported", o.kind.name()),
                    o.span,
                    "supported in the subquery: where, extend, parse, project, project-rename, summarize, top, take, sort, count",
                );
            }
        }
        let input = visible_only(input);
        let rid = hidden_name(&input, "__rid");
        let mut items = Self::passthrough(&input);
        items.push((
            rid.clone(),
            TExpr::new(
                Expr::Window {
                    name: "row_number".into(),
                    args: vec![],
                    partition_by: vec![],
                    order_by: vec![],
                },
                Ty::Long,
                false,
            ),
        ));
        let base = self.project(input, items);
        let outer: Vec<String> = base
            .visible()
            .map(|c| c.name.clone())
            .filter(|n| n != &rid)
            .collect();
        let (expanded, names) = self.mv_expand(base, columns, item_index, limit, kind)?;
        // The input's columns ride along (aggregates keep them with `take_any`): the row number
        // is computed once, so no join back is needed.
        let outer: Vec<String> = outer.into_iter().filter(|n| !names.contains(n)).collect();
        let mut cur = expanded;
        let saved = std::mem::replace(&mut self.serial, false);
        for o in &body.ops {
            cur = match self.apply_operator(o, cur, &rid, &outer) {
                Ok(r) => r,
                Err(e) => {
                    self.serial = saved;
                    return Err(e);
                }
            };
        }
        self.serial = saved;
        // Input columns first, then the subquery's, without the row number.
        let mut items: Vec<(String, TExpr)> = Vec::new();
        let all = Self::passthrough(&cur);
        for n in &outer {
            if let Some(it) = all.iter().find(|(c, _)| c == n) {
                items.push(it.clone());
            }
        }
        for it in all {
            if it.0 != rid && !outer.contains(&it.0) {
                items.push(it);
            }
        }
        let _ = span;
        Ok(self.project(cur, items))
    }

    /// One operator of a per-row `mv-apply` subquery: `rid` numbers the input rows, `outer`
    /// are the input's columns carried through.
    fn apply_operator(
        &mut self,
        op: &ast::Operator,
        input: Rel,
        rid: &str,
        outer: &[String],
    ) -> B<Rel> {
        let name_expr = |n: &str| ast::Expr {
            kind: ExprKind::Name(ast::Ident {
                name: n.to_string(),
                span: op.span,
            }),
            span: op.span,
        };
        let item = |n: &str| ast::NamedExpr {
            names: vec![],
            expr: name_expr(n),
            span: op.span,
        };
        let carried = |defined: &dyn Fn(&str) -> bool| -> Vec<ast::NamedExpr> {
            outer
                .iter()
                .filter(|n| !defined(n))
                .map(|n| ast::NamedExpr {
                    names: vec![ast::Ident {
                        name: n.clone(),
                        span: op.span,
                    }],
                    expr: ast::Expr {
                        kind: ExprKind::Call {
                            name: ast::Ident {
                                name: "take_any".into(),
                                span: op.span,
                            },
                            args: vec![name_expr(n)],
                        },
                        span: op.span,
                    },
                    span: op.span,
                })
                .collect()
        };
        match &op.kind {
            OperatorKind::Summarize { aggregates, by, .. } => {
                let mut by = by.clone();
                by.insert(0, item(rid));
                let defined = |n: &str| {
                    aggregates
                        .iter()
                        .chain(by.iter())
                        .any(|a| a.names.first().is_some_and(|x| x.name == n))
                };
                let mut aggs = aggregates.clone();
                aggs.extend(carried(&defined));
                self.summarize(input, &aggs, &by)
            }
            OperatorKind::Count => {
                let count = ast::NamedExpr {
                    names: vec![ast::Ident {
                        name: "Count".into(),
                        span: op.span,
                    }],
                    expr: ast::Expr {
                        kind: ExprKind::Call {
                            name: ast::Ident {
                                name: "count".into(),
                                span: op.span,
                            },
                            args: vec![],
                        },
                        span: op.span,
                    },
                    span: op.span,
                };
                let mut aggs = vec![count];
                aggs.extend(carried(&|n: &str| n == "Count"));
                self.summarize(input, &aggs, &[item(rid)])
            }
            OperatorKind::Project(items) => {
                let mut items = items.clone();
                let named = |n: &str, it: &ast::NamedExpr| {
                    it.names.first().is_some_and(|x| x.name == n)
                        || (it.names.is_empty()
                            && matches!(&it.expr.kind, ExprKind::Name(id) if id.name == n))
                };
                for n in std::iter::once(rid).chain(outer.iter().map(String::as_str)) {
                    if !items.iter().any(|it| named(n, it)) {
                        items.push(item(n));
                    }
                }
                let p = ast::Operator {
                    kind: OperatorKind::Project(items),
                    span: op.span,
                };
                self.operator(&p, input)
            }
            OperatorKind::Take { count, .. } => {
                let n = self.const_count(count, &input)?;
                Ok(self.limit_per(input, rid, n))
            }
            OperatorKind::Top { count, key } => {
                let n = self.const_count(count, &input)?;
                let sorted = self.sort(input, std::slice::from_ref(key))?;
                Ok(self.limit_per(sorted, rid, n))
            }
            _ => self.operator(op, input),
        }
    }

    /// The first `n` rows (in the input's order) of each `rid` group.
    fn limit_per(&mut self, input: Rel, rid: &str, n: u64) -> Rel {
        let rn = hidden_name(&input, "__rn");
        let mut items = Self::passthrough(&input);
        items.push((
            rn.clone(),
            TExpr::new(
                Expr::Window {
                    name: "row_number".into(),
                    args: vec![],
                    partition_by: vec![Expr::col(rid)],
                    order_by: input.order.clone(),
                },
                Ty::Long,
                false,
            ),
        ));
        let numbered = self.project(input, items);
        let columns = numbered.columns.clone();
        let order = numbered.order.clone();
        let filtered = Rel {
            kind: RelKind::Filter {
                input: Box::new(numbered),
                predicate: Expr::bin(BinOp::LtEq, Expr::col(&rn), Expr::long(n as i64)),
            },
            columns,
            order,
        };
        let items = Self::passthrough(&filtered)
            .into_iter()
            .filter(|(c, _)| c != &rn)
            .collect();
        self.project(filtered, items)
    }

    fn join(
        &mut self,
        left: Rel,
        params: &[ast::OpParam],
        right: &ast::TabularExpr,
        on: &[ast::Expr],
        span: Span,
        lookup: bool,
    ) -> B<Rel> {
        self.serial = false;
        let mut kind_text = if lookup {
            "leftouter".to_string()
        } else {
            "innerunique".to_string()
        };
        for p in params {
            if p.name.name == "kind" {
                kind_text = expr_text(&p.value);
            }
        }
        let kind = match (kind_text.as_str(), lookup) {
            ("inner", _) => JoinKind::Inner,
            ("innerunique", false) => JoinKind::Inner,
            ("leftouter", _) => JoinKind::Left,
            ("rightouter", false) => JoinKind::Right,
            ("fullouter", false) => JoinKind::Full,
            ("leftsemi", false) => JoinKind::LeftSemi,
            ("leftanti" | "anti" | "leftantisemi", false) => JoinKind::LeftAnti,
            ("rightsemi", false) => JoinKind::RightSemi,
            ("rightanti" | "rightantisemi", false) => JoinKind::RightAnti,
            (k, _) => {
                return self.error(
                    "KQL0106",
                    format!(
                        "unsupported `kind={k}` for `{}`",
                        if lookup { "lookup" } else { "join" }
                    ),
                    span,
                );
            }
        };
        let left = visible_only(left);
        let right = visible_only(self.tabular(right, None)?);
        if on.is_empty() {
            return self.error("KQL0204", "a join needs `on` keys", span);
        }
        let mut pairs: Vec<(TExpr, TExpr)> = Vec::new();
        let mut key_names = Vec::new();
        for cond in on {
            let (l, r) = match &cond.kind {
                ExprKind::Name(id) => {
                    let Some(lc) = left.column(&id.name) else {
                        return self.unknown_column(&id.name, id.span, &left);
                    };
                    let Some(rc) = right.column(&id.name) else {
                        return self.unknown_column(&id.name, id.span, &right);
                    };
                    key_names.push(id.name.clone());
                    (
                        TExpr::new(Expr::col(&lc.name), lc.ty.clone(), lc.nullable),
                        TExpr::new(Expr::col(&rc.name), rc.ty.clone(), rc.nullable),
                    )
                }
                ExprKind::Binary {
                    op: ast::BinaryOp::Eq,
                    lhs,
                    rhs,
                } => {
                    let (a_side, a) = side_of(lhs);
                    let (b_side, b) = side_of(rhs);
                    let (l_e, r_e) = match (a_side, b_side) {
                        (Some(Side::Left), Some(Side::Right)) => (a, b),
                        (Some(Side::Right), Some(Side::Left)) => (b, a),
                        _ => {
                            return self.error(
                                "KQL0204",
                                "join conditions compare `$left.X` with `$right.Y`",
                                cond.span,
                            );
                        }
                    };
                    let l = self.expr(&l_e, &left, Ctx::value())?;
                    let r = self.expr(&r_e, &right, Ctx::value())?;
                    if lookup
                        && let (ExprKind::Name(a), ExprKind::Name(b)) = (&l_e.kind, &r_e.kind)
                        && a.name == b.name
                    {
                        key_names.push(a.name.clone());
                    }
                    (l, r)
                }
                _ => {
                    return self.error(
                        "KQL0204",
                        "join keys are column names or `$left.X == $right.Y`",
                        cond.span,
                    );
                }
            };
            let (l, r) = self.unify_compare(l, r, cond.span)?;
            pairs.push((l, r));
        }
        // innerunique: one left row per key (KQL join documentation).
        let left = if kind_text == "innerunique" {
            let rn = hidden_name(&left, "__rn");
            let mut items = Self::passthrough(&left);
            items.push((
                rn.clone(),
                TExpr::new(
                    Expr::Window {
                        name: "row_number".into(),
                        args: vec![],
                        partition_by: pairs.iter().map(|(l, _)| l.e.clone()).collect(),
                        order_by: vec![],
                    },
                    Ty::Long,
                    false,
                ),
            ));
            let with_rn = self.project(left, items);
            let columns = with_rn.columns.clone();
            let filtered = Rel {
                kind: RelKind::Filter {
                    input: Box::new(with_rn),
                    predicate: Expr::bin(BinOp::Eq, Expr::col(&rn), Expr::long(1)),
                },
                columns,
                order: vec![],
            };
            let items = Self::passthrough(&filtered)
                .into_iter()
                .filter(|(n, _)| n != &rn)
                .collect();
            self.project(filtered, items)
        } else {
            left
        };
        // Output columns (right-side names that clash get a numeric suffix).
        let mut outputs: Vec<(Side, String)> = Vec::new();
        let mut columns: Vec<Column> = Vec::new();
        let (left_nullable, right_nullable) = match kind {
            JoinKind::Left => (false, true),
            JoinKind::Right => (true, false),
            JoinKind::Full => (true, true),
            _ => (false, false),
        };
        let with_left = !matches!(kind, JoinKind::RightSemi | JoinKind::RightAnti);
        let with_right = !matches!(kind, JoinKind::LeftSemi | JoinKind::LeftAnti);
        if with_left {
            for c in left.visible() {
                outputs.push((Side::Left, c.name.clone()));
                columns.push(Column {
                    nullable: c.nullable || left_nullable,
                    ..c.clone()
                });
            }
        }
        if with_right {
            for c in right.visible() {
                if lookup && key_names.contains(&c.name) {
                    continue;
                }
                let name = fresh(&c.name, &|n| columns.iter().any(|x| x.name == n));
                outputs.push((Side::Right, c.name.clone()));
                columns.push(Column {
                    name,
                    nullable: c.nullable || right_nullable,
                    ..c.clone()
                });
            }
        }
        let on_pairs = pairs.into_iter().map(|(l, r)| (l.e, r.e)).collect();
        let rel = Rel {
            kind: RelKind::Join {
                left: Box::new(left),
                right: Box::new(right),
                kind,
                on: on_pairs,
                null_safe: false,
                outputs,
            },
            columns,
            order: vec![],
        };
        // Strings of the missing side of an outer join are "" in KQL, not null.
        if left_nullable || right_nullable {
            let items = Self::passthrough(&rel)
                .into_iter()
                .map(|(n, t)| {
                    if matches!(t.ty, Ty::String | Ty::Guid) && t.nullable {
                        let ty = t.ty.clone();
                        (n, TExpr::new(Expr::coalesce(t.e, Expr::str("")), ty, false))
                    } else {
                        (n, t)
                    }
                })
                .collect();
            return Ok(self.project(rel, items));
        }
        Ok(rel)
    }

    fn union(&mut self, first: Option<Rel>, args: &ast::UnionArgs, span: Span) -> B<Rel> {
        self.serial = false;
        let mut inner = false;
        let mut fuzzy = false;
        let mut withsource = None;
        for p in &args.params {
            match p.name.name.as_str() {
                "kind" => inner = expr_text(&p.value) == "inner",
                "isfuzzy" => fuzzy = expr_text(&p.value) == "true",
                "withsource" => withsource = Some(expr_text(&p.value)),
                _ => {}
            }
        }
        let mut inputs: Vec<(String, Rel)> = Vec::new();
        if let Some(f) = first {
            inputs.push(("union_arg0".into(), visible_only(f)));
        }
        for (i, t) in args.tables.iter().enumerate() {
            let label = match (&t.source, t.ops.is_empty()) {
                (
                    Some(ast::Source {
                        kind: SourceKind::Table(id),
                        ..
                    }),
                    true,
                ) => id.name.clone(),
                _ => format!("union_arg{}", inputs.len()),
            };
            if fuzzy
                && let Some(ast::Source {
                    kind: SourceKind::Table(id),
                    ..
                }) = &t.source
                && self.table_by_name(&id.name).is_none()
            {
                self.warn(
                    "KQL0251",
                    format!(
                        "`union isfuzzy=true`: table `{}` does not exist and is skipped",
                        id.name
                    ),
                    id.span,
                );
                continue;
            }
            let _ = i;
            inputs.push((label, visible_only(self.tabular(t, None)?)));
        }
        if inputs.is_empty() {
            return self.error("KQL0204", "`union` has no table", span);
        }
        // The union's columns: in order of first appearance (outer), or common to all (inner).
        let mut cols: Vec<Column> = Vec::new();
        for (_, r) in &inputs {
            for c in r.visible() {
                match cols.iter_mut().find(|x| x.name == c.name) {
                    Some(x) if x.ty == c.ty || c.ty == Ty::Null => x.nullable |= c.nullable,
                    Some(x) if x.ty == Ty::Null => *x = c.clone(),
                    Some(x) => {
                        let (a, b) = (x.ty.kql_name(), c.ty.kql_name());
                        let name = c.name.clone();
                        return self.error(
                            "KQL0205",
                            format!("column `{name}` is {a} in one union input and {b} in another"),
                            span,
                        );
                    }
                    None => cols.push(Column {
                        nullable: true,
                        ..c.clone()
                    }),
                }
            }
        }
        if inner {
            cols.retain(|c| inputs.iter().all(|(_, r)| r.column(&c.name).is_some()));
        }
        for c in cols.iter_mut() {
            c.nullable = inputs
                .iter()
                .any(|(_, r)| r.column(&c.name).is_none_or(|x| x.nullable))
                && !matches!(c.ty, Ty::String);
        }
        if let Some(ws) = &withsource {
            cols.insert(
                0,
                Column {
                    name: ws.clone(),
                    ty: Ty::String,
                    nullable: false,
                    hidden: false,
                },
            );
        }
        let mut projected = Vec::new();
        for (label, r) in inputs {
            let mut items = Vec::new();
            for c in &cols {
                if Some(&c.name) == withsource.as_ref() {
                    items.push((
                        c.name.clone(),
                        TExpr::new(Expr::str(&label), Ty::String, false),
                    ));
                    continue;
                }
                let t = match r.column(&c.name) {
                    Some(x) if x.ty == c.ty => {
                        TExpr::new(Expr::col(&x.name), x.ty.clone(), x.nullable)
                    }
                    Some(x) => TExpr::new(Expr::null(c.ty.clone()), c.ty.clone(), true)
                        .named(Some(x.name.clone())),
                    None if matches!(c.ty, Ty::String) => {
                        TExpr::new(Expr::str(""), Ty::String, false)
                    }
                    None => TExpr::new(Expr::null(c.ty.clone()), c.ty.clone(), true),
                };
                items.push((c.name.clone(), t));
            }
            projected.push(self.project(r, items));
        }
        Ok(Rel {
            kind: RelKind::Union { inputs: projected },
            columns: cols,
            order: vec![],
        })
    }

    fn parse(
        &mut self,
        input: Rel,
        filter: bool,
        params: &[ast::OpParam],
        source: &ast::Expr,
        pattern: &[ast::ParsePart],
        span: Span,
    ) -> B<Rel> {
        let mut kind = "simple".to_string();
        for p in params {
            if p.name.name == "kind" {
                kind = expr_text(&p.value);
            }
        }
        if !matches!(kind.as_str(), "simple" | "regex" | "relaxed") {
            return self.error(
                "KQL0106",
                format!("unsupported `kind={kind}` for `parse`"),
                span,
            );
        }
        let src = self.expr(source, &input, Ctx::value())?;
        let src = self.tostring(src);
        // The pattern as one regex: literals (escaped unless kind=regex), `*` skips, columns capture.
        let mut re = String::from("(?s)^");
        let mut captures: Vec<(String, Ty)> = Vec::new();
        let n = pattern.len();
        for (i, part) in pattern.iter().enumerate() {
            let last = i + 1 == n;
            match part {
                ast::ParsePart::Wildcard => re.push_str(if last { ".*" } else { ".*?" }),
                ast::ParsePart::Literal(s) => {
                    if kind == "regex" {
                        re.push_str(&format!("(?:{s})"));
                    } else {
                        re.push_str(&regex::escape(s));
                    }
                }
                ast::ParsePart::Column(id, t) => {
                    let ty = match t {
                        Some(t) => match Ty::from_type_name(*t) {
                            Some(Ty::Json) | None => Ty::String,
                            Some(ty) => ty,
                        },
                        None => Ty::String,
                    };
                    let body = match (&ty, kind.as_str()) {
                        (Ty::Long | Ty::Int, "simple") => r"-?\d+",
                        (Ty::Real, "simple") => r"-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?",
                        _ if last => ".*",
                        _ => ".*?",
                    };
                    re.push_str(&format!("({body})"));
                    captures.push((id.name.clone(), ty));
                }
            }
        }
        if let Err(e) = regex::Regex::new(&re) {
            return self.error(
                "KQL0205",
                format!("the `parse` pattern is not a valid regex: {e}"),
                span,
            );
        }
        let mut new = Vec::new();
        for (i, (name, ty)) in captures.iter().enumerate() {
            let g = Expr::call(
                "kql_extract",
                vec![Expr::str(&re), Expr::long(i as i64 + 1), src.e.clone()],
            );
            let t = TExpr::new(Expr::coalesce(g, Expr::str("")), Ty::String, false);
            let t = if *ty == Ty::String {
                t
            } else {
                self.convert(t, ty, span)?
            };
            new.push((name.clone(), t));
        }
        let input = if filter {
            let columns = input.columns.clone();
            let order = input.order.clone();
            Rel {
                kind: RelKind::Filter {
                    input: Box::new(input),
                    predicate: Expr::call("regexp_like", vec![src.e.clone(), Expr::str(&re)]),
                },
                columns,
                order,
            }
        } else {
            input
        };
        Ok(self.extend_layer(input, new))
    }

    fn evaluate(&mut self, input: Rel, plugin: &ast::Ident, args: &[ast::Expr]) -> B<Rel> {
        match plugin.name.as_str() {
            "bag_unpack" => {
                let Some(a) = args.first() else {
                    return self.error("KQL0204", "`bag_unpack` takes a column", plugin.span);
                };
                let t = self.expr(a, &input, Ctx::value())?;
                let prefix = match args.get(1).map(|p| &p.kind) {
                    Some(ExprKind::Literal(ast::Literal::String { value, .. })) => value.clone(),
                    _ => String::new(),
                };
                let Ty::Dyn(DataType::Struct(fields)) = &t.ty else {
                    return self.error_hint(
                        "KQL0206",
                        "`bag_unpack` needs a column whose properties are known",
                        a.span,
                        "bags built from JSON text have no fixed columns; extract properties with `extend X = bag.X`",
                    );
                };
                let col_name = t.name.clone().unwrap_or_default();
                let mut items: Vec<(String, TExpr)> = Self::passthrough(&input)
                    .into_iter()
                    .filter(|(n, _)| n != &col_name)
                    .collect();
                for f in fields.iter() {
                    let name = format!("{prefix}{}", f.name());
                    let e = Expr::Field(Box::new(t.e.clone()), f.name().clone());
                    items.retain(|(n, _)| n != &name);
                    items.push((name, TExpr::new(e, Ty::Dyn(f.data_type().clone()), true)));
                }
                Ok(self.project(input, items))
            }
            other => self.error_hint(
                "KQL0206",
                format!("`evaluate {other}` is not supported"),
                plugin.span,
                "supported plugins: bag_unpack (on typed columns)",
            ),
        }
    }
}

/// Whether a relation's rows may come out of an aggregate or a distinct (whose keys DataFusion
/// records as unique).
fn derives_from_grouping(rel: &Rel) -> bool {
    match &rel.kind {
        RelKind::Aggregate { .. } | RelKind::Distinct { .. } => true,
        RelKind::Scan { .. } | RelKind::Values { .. } | RelKind::Series { .. } => false,
        RelKind::Project { input, .. }
        | RelKind::Filter { input, .. }
        | RelKind::Sort { input, .. }
        | RelKind::Limit { input, .. }
        | RelKind::Materialized { input } => derives_from_grouping(input),
        RelKind::Join { left, right, .. } => {
            derives_from_grouping(left) || derives_from_grouping(right)
        }
        RelKind::Union { inputs } => inputs.iter().any(derives_from_grouping),
    }
}

pub(crate) fn limit(input: Rel, n: u64) -> Rel {
    let columns = input.columns.clone();
    let order = input.order.clone();
    Rel {
        kind: RelKind::Limit {
            input: Box::new(input),
            count: n,
        },
        columns,
        order,
    }
}

pub(crate) fn visible(name: &str, t: &TExpr) -> Column {
    Column {
        name: name.to_string(),
        ty: t.ty.clone(),
        nullable: t.nullable,
        hidden: false,
    }
}

/// The columns an `extend` item sees: the input's, with earlier items of the same `extend`.
fn extend_view(cur: &Rel, pending: &[(String, TExpr)]) -> Rel {
    let mut columns: Vec<Column> = cur
        .columns
        .iter()
        .filter(|c| !pending.iter().any(|(n, _)| n == &c.name))
        .cloned()
        .collect();
    for (n, t) in pending {
        columns.push(visible(n, t));
    }
    Rel {
        kind: RelKind::Values { rows: vec![] },
        columns,
        order: cur.order.clone(),
    }
}

/// `$left.X` / `$right.X`: the side and the expression `X`.
fn side_of(e: &ast::Expr) -> (Option<Side>, ast::Expr) {
    if let ExprKind::Member { expr, name } = &e.kind
        && let ExprKind::Name(id) = &expr.kind
    {
        let side = match id.name.as_str() {
            "$left" => Some(Side::Left),
            "$right" => Some(Side::Right),
            _ => None,
        };
        if side.is_some() {
            let column = ast::Expr {
                kind: ExprKind::Name(name.clone()),
                span: name.span,
            };
            return (side, column);
        }
    }
    (None, e.clone())
}

/// The text of a parameter value as written (`kind=inner`, `withsource=T`, `isfuzzy=true`).
fn expr_text(e: &ast::Expr) -> String {
    match &e.kind {
        ExprKind::Name(id) => id.name.clone(),
        ExprKind::Literal(ast::Literal::Bool(b)) => b.to_string(),
        ExprKind::Literal(ast::Literal::Long(n)) => n.to_string(),
        ExprKind::Literal(ast::Literal::Real(f)) => f.to_string(),
        ExprKind::Literal(ast::Literal::String { value, .. }) => value.clone(),
        _ => String::new(),
    }
}

fn dotnet_type(t: &Ty) -> &'static str {
    match t {
        Ty::Bool => "Boolean",
        Ty::Int => "Int32",
        Ty::Long => "Int64",
        Ty::Real => "Double",
        Ty::String => "String",
        Ty::Datetime => "DateTime",
        Ty::Timespan => "TimeSpan",
        Ty::Guid => "Guid",
        _ => "Object",
    }
}

impl TExpr {
    /// True unless the expression is a literal (datatable cells).
    fn references_columns_or_not_const(&self) -> bool {
        !matches!(self.e, Expr::Lit(..))
            && !matches!(&self.e, Expr::Call(f, args) if f == "make_array" && args.iter().all(|a| a.as_lit().is_some()))
    }
}
