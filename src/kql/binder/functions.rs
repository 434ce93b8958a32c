//! KQL scalar and aggregate functions: each maps to a DataFusion function, a `kql_*` UDF, or an
//! expression over them, with KQL's result type and null rules.

use arrow::datatypes::{DataType, Field};
use std::sync::Arc;

use super::scalar::{
    Ctx, EPOCH_TICKS, TICK_NS, datetime_from_ns, duration_from_ns, lower_expr, ns_of,
};
use super::{B, Binder, LetBinding, TExpr};
use crate::diagnostic::Span;
use crate::kql::ast::{self, ExprKind};
use crate::kql::ir::{BinOp, Expr, Lit, Rel, SqlType};
use crate::kql::types::Ty;

/// Every scalar function name the binder knows (for "did you mean").
pub(crate) const SCALAR_FUNCTIONS: &[&str] = &[
    "abs",
    "ago",
    "array_concat",
    "array_length",
    "array_slice",
    "bag_keys",
    "bag_pack",
    "base64_decode_tostring",
    "base64_encode_tostring",
    "bin",
    "bin_at",
    "case",
    "ceiling",
    "coalesce",
    "column_ifexists",
    "countof",
    "datetime_add",
    "datetime_diff",
    "datetime_part",
    "dayofmonth",
    "dayofweek",
    "dayofyear",
    "endofday",
    "endofmonth",
    "endofweek",
    "endofyear",
    "exp",
    "extract",
    "extract_all",
    "floor",
    "format_datetime",
    "format_timespan",
    "getmonth",
    "getyear",
    "hourofday",
    "iff",
    "iif",
    "indexof",
    "isempty",
    "isnotempty",
    "isnotnull",
    "isnull",
    "log",
    "log10",
    "max_of",
    "min_of",
    "monthofyear",
    "new_guid",
    "not",
    "now",
    "pack",
    "pack_array",
    "parse_json",
    "pow",
    "replace",
    "replace_regex",
    "replace_string",
    "round",
    "row_number",
    "set_difference",
    "set_intersect",
    "set_union",
    "split",
    "sqrt",
    "startofday",
    "startofmonth",
    "startofweek",
    "startofyear",
    "strcat",
    "strcat_array",
    "strcat_delim",
    "strlen",
    "substring",
    "tobool",
    "toboolean",
    "todatetime",
    "todouble",
    "todynamic",
    "toint",
    "tolong",
    "tolower",
    "toreal",
    "toscalar",
    "tostring",
    "totimespan",
    "toupper",
    "trim",
    "trim_end",
    "trim_start",
    "unixtime_milliseconds_todatetime",
    "unixtime_seconds_todatetime",
    "week_of_year",
];

/// Aggregate function names (allowed in `summarize`).
pub(crate) const AGGREGATE_FUNCTIONS: &[&str] = &[
    "any",
    "arg_max",
    "arg_min",
    "avg",
    "avgif",
    "count",
    "countif",
    "count_distinct",
    "dcount",
    "dcountif",
    "make_bag",
    "make_list",
    "make_list_if",
    "make_set",
    "make_set_if",
    "max",
    "maxif",
    "min",
    "minif",
    "percentile",
    "percentiles",
    "stdev",
    "stdevif",
    "sum",
    "sumif",
    "take_any",
    "variance",
];

/// Functions whose unnamed result takes the name of their first argument (`tostring(x.y)` is
/// `x_y`, `bin(TimeGenerated, 1h)` is `TimeGenerated`).
const FIRST_ARG_NAMED: &[&str] = &[
    "tostring",
    "toint",
    "tolong",
    "todouble",
    "toreal",
    "tobool",
    "toboolean",
    "todatetime",
    "totimespan",
    "toguid",
    "todynamic",
    "parse_json",
    "bin",
    "bin_at",
    "floor",
];

/// The default column name of an aggregate call (`count_`, `dcount_X`, `set_X`, ...).
pub(crate) fn aggregate_name(name: &str, args: &[ast::Expr], arg_name: Option<&str>) -> String {
    let x = arg_name.unwrap_or("");
    let with = |prefix: &str| {
        if x.is_empty() {
            format!("{prefix}_")
        } else {
            format!("{prefix}_{x}")
        }
    };
    match name {
        "count" => "count_".into(),
        "countif" => "countif_".into(),
        "make_set" | "make_set_if" => with("set"),
        "make_list" | "make_list_if" => with("list"),
        "make_bag" => with("bag"),
        "take_any" | "any" => with("any"),
        "percentile" => {
            let p = args.get(1).map(literal_text).unwrap_or_default();
            format!("{}_{p}", with("percentile"))
        }
        other => with(other),
    }
}

fn literal_text(e: &ast::Expr) -> String {
    match &e.kind {
        ExprKind::Literal(ast::Literal::Long(n)) => n.to_string(),
        ExprKind::Literal(ast::Literal::Real(f)) => f.to_string().replace('.', "_"),
        _ => String::new(),
    }
}

fn list_of(item: DataType) -> Ty {
    Ty::Dyn(DataType::List(Arc::new(Field::new("item", item, true))))
}

impl Binder<'_> {
    pub(crate) fn call(
        &mut self,
        id: &ast::Ident,
        args: &[ast::Expr],
        input: &Rel,
        ctx: Ctx,
        span: Span,
    ) -> B<TExpr> {
        let name = id.name.as_str();
        // User functions first (a `let` may shadow a built-in).
        if let Some(LetBinding::Function { .. }) = self.lookup(name) {
            return self.call_scalar_function(id, args, input, ctx);
        }
        if AGGREGATE_FUNCTIONS.contains(&name) && !SCALAR_FUNCTIONS.contains(&name) {
            if !ctx.agg {
                return self.error_hint(
                    "KQL0208",
                    format!("aggregate function `{name}()` outside `summarize`"),
                    id.span,
                    "aggregates belong in `summarize ... by ...` (or `make-series`)",
                );
            }
            return self.aggregate(id, args, input, span);
        }
        let named = if FIRST_ARG_NAMED.contains(&name) {
            match args.first() {
                Some(a) => expr_name_hint(a),
                None => None,
            }
        } else {
            None
        };
        Ok(self.scalar_call(id, args, input, ctx, span)?.named(named))
    }

    fn call_scalar_function(
        &mut self,
        id: &ast::Ident,
        args: &[ast::Expr],
        input: &Rel,
        _ctx: Ctx,
    ) -> B<TExpr> {
        let Some(LetBinding::Function {
            params,
            body,
            result,
        }) = self.lookup(&id.name).cloned()
        else {
            unreachable!("checked by the caller")
        };
        // Arguments are bound in the caller's row context, then the body sees them as values.
        let mut bound = Vec::new();
        for a in args {
            bound.push(self.expr(a, input, Ctx::value())?);
        }
        let mut scope = std::collections::HashMap::new();
        for (i, p) in params.iter().enumerate() {
            let v = match (bound.get(i), &p.default) {
                (Some(v), _) => v.clone(),
                (None, Some(d)) => self.expr(d, input, Ctx::value())?,
                (None, None) => {
                    return self.error(
                        "KQL0204",
                        format!("`{}`: missing argument `{}`", id.name, p.name.name),
                        id.span,
                    );
                }
            };
            scope.insert(p.name.name.clone(), LetBinding::Scalar(v));
        }
        if bound.len() > params.len() {
            return self.error(
                "KQL0204",
                format!("`{}` takes {} arguments", id.name, params.len()),
                id.span,
            );
        }
        if self.depth > 48 {
            return self.error(
                "KQL0206",
                format!("`{}`: functions nest too deep", id.name),
                id.span,
            );
        }
        self.scopes.push(scope);
        let out = (|| {
            for s in &body {
                if let ast::Statement::Let { name, value, .. } = s {
                    self.let_statement(name, value)?;
                }
            }
            match &result {
                ast::LetBodyResult::Scalar(e) => self.expr(e, input, Ctx::value()),
                ast::LetBodyResult::Tabular(t) => self.error(
                    "KQL0205",
                    format!(
                        "`{}` returns a table; use it as a table, not a value",
                        id.name
                    ),
                    t.span,
                ),
            }
        })();
        self.scopes.pop();
        out
    }

    fn arity(&mut self, id: &ast::Ident, args: &[ast::Expr], min: usize, max: usize) -> B<()> {
        if args.len() < min || args.len() > max {
            let expected = if min == max {
                format!("{min}")
            } else if max == usize::MAX {
                format!("at least {min}")
            } else {
                format!("{min} to {max}")
            };
            let noun = if expected == "1" {
                "argument"
            } else {
                "arguments"
            };
            return self.error(
                "KQL0204",
                format!(
                    "`{}()` takes {expected} {noun}, got {}",
                    id.name,
                    args.len()
                ),
                id.span,
            );
        }
        Ok(())
    }

    fn args(&mut self, args: &[ast::Expr], input: &Rel, ctx: Ctx) -> B<Vec<TExpr>> {
        let mut out = Vec::new();
        let mut failed = false;
        for a in args {
            match self.expr(a, input, ctx.inner()) {
                Ok(t) => out.push(t),
                Err(_) => failed = true,
            }
        }
        if failed { Err(super::Failed) } else { Ok(out) }
    }

    /// A constant timespan argument, in nanoseconds.
    fn const_timespan(&mut self, t: &TExpr, span: Span) -> B<i64> {
        match t.e.as_lit() {
            Some(Lit::Timespan(n)) => Ok(*n),
            _ => self.error("KQL0210", "expected a constant timespan (like `1d`)", span),
        }
    }

    fn const_string(&mut self, t: &TExpr, span: Span) -> B<String> {
        match t.e.as_lit() {
            Some(Lit::Str(s)) => Ok(s.clone()),
            _ => self.error("KQL0210", "expected a constant string", span),
        }
    }

    fn scalar_call(
        &mut self,
        id: &ast::Ident,
        args: &[ast::Expr],
        input: &Rel,
        ctx: Ctx,
        span: Span,
    ) -> B<TExpr> {
        let name = id.name.as_str();
        let str_t = |e: Expr| TExpr::new(e, Ty::String, false);
        macro_rules! arity {
            ($min:expr, $max:expr) => {
                self.arity(id, args, $min, $max)?
            };
        }
        match name {
            "long" | "int" | "real" | "double" | "bool" | "boolean" if args.len() == 1 => {
                // Typed literals of negative numbers: `long(-1)`, `real(-2.5)`.
                let a = self.args(args, input, ctx)?.remove(0);
                if a.e.as_lit().is_none() {
                    return self.error("KQL0210", format!("`{name}(...)` takes a literal"), args[0].span);
                }
                let ty = match name {
                    "long" => Ty::Long,
                    "int" => Ty::Int,
                    "bool" | "boolean" => Ty::Bool,
                    _ => Ty::Real,
                };
                let folded = match (a.e.as_lit(), &ty) {
                    (Some(Lit::Long(n)), Ty::Long) => Some(Lit::Long(*n)),
                    (Some(Lit::Long(n)), Ty::Int) => i32::try_from(*n).ok().map(Lit::Int),
                    (Some(Lit::Long(n)), Ty::Real) => Some(Lit::Real(*n as f64)),
                    (Some(Lit::Real(f)), Ty::Real) => Some(Lit::Real(*f)),
                    (Some(Lit::Bool(b)), Ty::Bool) => Some(Lit::Bool(*b)),
                    _ => None,
                };
                match folded {
                    Some(l) => Ok(TExpr::new(Expr::Lit(l, ty.clone()), ty, false)),
                    None => self.error("KQL0107", format!("invalid `{name}` literal"), args[0].span),
                }
            }
            "tostring" => {
                arity!(1, 1);
                let a = self.args(args, input, ctx)?.remove(0);
                Ok(self.tostring(a))
            }
            "tolong" | "toint" | "todouble" | "toreal" | "tobool" | "toboolean" | "todatetime"
            | "totimespan" | "toguid" => {
                arity!(1, 1);
                let a = self.args(args, input, ctx)?.remove(0);
                let ty = match name {
                    "tolong" => Ty::Long,
                    "toint" => Ty::Int,
                    "todouble" | "toreal" => Ty::Real,
                    "tobool" | "toboolean" => Ty::Bool,
                    "todatetime" => Ty::Datetime,
                    "totimespan" => Ty::Timespan,
                    _ => Ty::Guid,
                };
                self.convert(a, &ty, args[0].span)
            }
            "parse_json" | "todynamic" => {
                arity!(1, 1);
                let a = self.args(args, input, ctx)?.remove(0);
                if let Some(inner) = a.json_of {
                    return Ok(*inner);
                }
                match a.ty {
                    Ty::String => Ok(TExpr::new(Expr::call("kql_parse_json", vec![a.e]), Ty::Json, true)),
                    t if t.is_dynamic() => Ok(TExpr { ty: t, ..a }),
                    _ => Ok(self.jsonify(a)),
                }
            }
            "strcat" => {
                arity!(1, 64);
                let parts = self.args(args, input, ctx)?;
                let parts = parts.into_iter().map(|p| self.tostring(p).e).collect();
                Ok(str_t(Expr::call("concat", parts)))
            }
            "strcat_array" => {
                // Typed lists only (`make_list`/`make_set` results, list columns): DataFusion's
                // `array_to_string`, which skips null items. Items that are not strings are
                // written as their text.
                arity!(2, 2);
                let mut a = self.args(args, input, ctx)?;
                let arr = a.remove(0);
                let delim = self.tostring(a.remove(0));
                let Some(item) = arr.ty.list_item() else {
                    return self.error(
                        "KQL0205",
                        "`strcat_array` needs a typed array (a list column or a make_list/make_set result)",
                        args[0].span,
                    );
                };
                if matches!(item, DataType::Struct(_) | DataType::List(_) | DataType::LargeList(_)) {
                    return self.error(
                        "KQL0205",
                        "`strcat_array` needs an array of scalars, not of objects or arrays",
                        args[0].span,
                    );
                }
                Ok(str_t(Expr::coalesce(
                    Expr::call("array_to_string", vec![arr.e, delim.e]),
                    Expr::str(""),
                )))
            }
            "strcat_delim" => {
                arity!(3, 65);
                let parts = self.args(args, input, ctx)?;
                let parts = parts.into_iter().map(|p| self.tostring(p).e).collect();
                Ok(str_t(Expr::call("concat_ws", parts)))
            }
            "strlen" => {
                arity!(1, 1);
                let a = self.args(args, input, ctx)?.remove(0);
                let s = self.tostring(a);
                Ok(TExpr::new(
                    Expr::cast(Expr::call("character_length", vec![s.e]), SqlType::BigInt),
                    Ty::Long,
                    false,
                ))
            }
            "tolower" | "toupper" => {
                arity!(1, 1);
                let a = self.args(args, input, ctx)?.remove(0);
                let s = self.tostring(a);
                Ok(str_t(Expr::call(if name == "tolower" { "lower" } else { "upper" }, vec![s.e])))
            }
            "substring" => {
                arity!(2, 3);
                let mut a = self.args(args, input, ctx)?;
                let s = self.tostring(a.remove(0));
                let start = a.remove(0);
                // A negative start counts from the end (KQL substring documentation).
                let len_s = Expr::cast(Expr::call("character_length", vec![s.e.clone()]), SqlType::BigInt);
                let start = match start.e.as_lit() {
                    Some(Lit::Long(n)) if *n >= 0 => Expr::long(n + 1),
                    _ => {
                        let from_end = Expr::bin(BinOp::Plus, len_s, start.e.clone());
                        let zero_based = Expr::case(
                            vec![(Expr::bin(BinOp::Lt, start.e.clone(), Expr::long(0)), from_end)],
                            Some(start.e),
                        );
                        Expr::bin(BinOp::Plus, Expr::call("greatest", vec![zero_based, Expr::long(0)]), Expr::long(1))
                    }
                };
                let mut call = vec![s.e, start];
                if let Some(len) = a.pop() {
                    call.push(Expr::call("greatest", vec![len.e, Expr::long(0)]));
                }
                Ok(str_t(Expr::coalesce(Expr::call("substr", call), Expr::str(""))))
            }
            "split" => {
                arity!(2, 3);
                let mut a = self.args(args, input, ctx)?;
                let s = self.tostring(a.remove(0));
                let d = self.tostring(a.remove(0));
                let list = Expr::call("kql_split", vec![s.e, d.e]);
                match a.pop() {
                    None => Ok(TExpr::new(list, list_of(DataType::Utf8), false)),
                    Some(i) => {
                        let idx = match i.e.as_lit() {
                            Some(Lit::Long(n)) if *n >= 0 => Expr::long(n + 1),
                            _ => return self.error("KQL0210", "the index of `split` must be a constant >= 0", args[2].span),
                        };
                        let item = Expr::Index(Box::new(list), Box::new(idx));
                        Ok(TExpr::new(
                            Expr::case(
                                vec![(Expr::is_null(item.clone()), Expr::call("make_array", vec![]))],
                                Some(Expr::call("make_array", vec![item])),
                            ),
                            list_of(DataType::Utf8),
                            false,
                        ))
                    }
                }
            }
            "trim" | "trim_start" | "trim_end" => {
                arity!(2, 2);
                let mut a = self.args(args, input, ctx)?;
                let re = self.tostring(a.remove(0));
                self.check_regex(&re, args[0].span)?;
                let s = self.tostring(a.remove(0));
                Ok(str_t(Expr::call(&format!("kql_{name}"), vec![re.e, s.e])))
            }
            "replace_string" => {
                arity!(3, 3);
                let a = self.args(args, input, ctx)?;
                let a: Vec<Expr> = a.into_iter().map(|x| self.tostring(x).e).collect();
                Ok(str_t(Expr::call("replace", a)))
            }
            "replace_regex" | "replace" => {
                arity!(3, 3);
                let a = self.args(args, input, ctx)?;
                let mut a: Vec<TExpr> = a.into_iter().map(|x| self.tostring(x)).collect();
                // replace_regex(source, re, rewrite); legacy replace(re, rewrite, source).
                let (src, re, rewrite) = if name == "replace" {
                    let s = a.pop().expect("3");
                    let rw = a.pop().expect("3");
                    (s, a.pop().expect("3"), rw)
                } else {
                    let rw = a.pop().expect("3");
                    let re = a.pop().expect("3");
                    (a.pop().expect("3"), re, rw)
                };
                let re_span = if name == "replace" { args[0].span } else { args[1].span };
                self.check_regex(&re, re_span)?;
                let rewrite = match rewrite.e.as_lit() {
                    Some(Lit::Str(s)) => Expr::str(&kql_rewrite_to_rust(s)),
                    _ => return self.error("KQL0210", "the rewrite of `replace_regex` must be a constant string", span),
                };
                Ok(str_t(Expr::call("regexp_replace", vec![src.e, re.e, rewrite, Expr::str("g")])))
            }
            "extract" => {
                arity!(3, 4);
                let mut a = self.args(&args[..3], input, ctx)?;
                let re = self.tostring(a.remove(0));
                self.check_regex(&re, args[0].span)?;
                let group = a.remove(0);
                let s = self.tostring(a.remove(0));
                let e = Expr::call("kql_extract", vec![re.e, group.e, s.e]);
                if args.len() == 4 {
                    let ty = match &args[3].kind {
                        ExprKind::Call { name: f, args: targ } if f.name == "typeof" && targ.len() == 1 => {
                            match &targ[0].kind {
                                ExprKind::Name(t) => ast::TypeName::from_name(&t.name).and_then(Ty::from_type_name),
                                _ => None,
                            }
                        }
                        _ => None,
                    };
                    let Some(ty) = ty else {
                        return self.error("KQL0204", "the 4th argument of `extract` is `typeof(T)`", args[3].span);
                    };
                    let t = TExpr::new(Expr::coalesce(e, Expr::str("")), Ty::String, false);
                    return self.convert(t, &ty, args[3].span);
                }
                Ok(str_t(Expr::coalesce(e, Expr::str(""))))
            }
            "extract_all" => {
                arity!(2, 2);
                let mut a = self.args(args, input, ctx)?;
                let re = self.tostring(a.remove(0));
                self.check_regex(&re, args[0].span)?;
                if let Some(Lit::Str(r)) = re.e.as_lit()
                    && regex::Regex::new(r).map(|r| r.captures_len() > 2).unwrap_or(false)
                {
                    return self.error("KQL0206", "`extract_all` with more than one capture group is not supported", args[0].span);
                }
                let s = self.tostring(a.remove(0));
                Ok(TExpr::new(Expr::call("kql_extract_all", vec![re.e, s.e]), list_of(DataType::Utf8), true))
            }
            "indexof" => {
                arity!(2, 2);
                let a = self.args(args, input, ctx)?;
                let mut a: Vec<Expr> = a.into_iter().map(|x| self.tostring(x).e).collect();
                let lookup = a.pop().expect("2");
                let s = a.pop().expect("2");
                Ok(TExpr::new(
                    Expr::bin(BinOp::Minus, Expr::cast(Expr::call("strpos", vec![s, lookup]), SqlType::BigInt), Expr::long(1)),
                    Ty::Long,
                    false,
                ))
            }
            "countof" => {
                arity!(2, 3);
                let a = self.args(args, input, ctx)?;
                let mut a: Vec<TExpr> = a.into_iter().map(|x| self.tostring(x)).collect();
                let kind = match a.get(2).map(|k| k.e.as_lit()) {
                    None => "normal".to_string(),
                    Some(Some(Lit::Str(k))) => k.clone(),
                    Some(_) => return self.error("KQL0210", "the kind of `countof` must be \"normal\" or \"regex\"", args[2].span),
                };
                a.truncate(2);
                let sub = a.pop().expect("2");
                let s = a.pop().expect("2");
                let e = match kind.as_str() {
                    "normal" => Expr::call("kql_countof", vec![s.e, sub.e]),
                    "regex" => {
                        self.check_regex(&sub, args[1].span)?;
                        Expr::cast(Expr::call("regexp_count", vec![s.e, sub.e]), SqlType::BigInt)
                    }
                    _ => return self.error("KQL0210", "the kind of `countof` must be \"normal\" or \"regex\"", args[2].span),
                };
                Ok(TExpr::new(Expr::coalesce(e, Expr::long(0)), Ty::Long, false))
            }
            "iff" | "iif" => {
                arity!(3, 3);
                let mut a = self.args(args, input, ctx)?;
                let c = self.bool_of(a.remove(0), args[0].span)?;
                let (t, f) = self.unify_values(a.remove(0), a.remove(0), span)?;
                Ok(TExpr::new(
                    Expr::case(vec![(c.e, t.e)], Some(f.e)),
                    t.ty,
                    t.nullable || f.nullable,
                ))
            }
            "case" => {
                if args.len() < 3 || args.len().is_multiple_of(2) {
                    return self.error("KQL0204", "`case()` takes pairs of (predicate, value) and a final else value", id.span);
                }
                let a = self.args(args, input, ctx)?;
                let mut a = a.into_iter();
                let mut pairs = Vec::new();
                let mut values = Vec::new();
                for i in 0..args.len() / 2 {
                    let c = a.next().expect("pair");
                    let c = self.bool_of(c, args[2 * i].span)?;
                    pairs.push(c);
                    values.push(a.next().expect("pair"));
                }
                let mut otherwise = a.next().expect("else");
                for v in values.iter_mut() {
                    let (x, y) = self.unify_values(v.clone(), otherwise.clone(), span)?;
                    *v = x;
                    otherwise = y;
                }
                let nullable = otherwise.nullable || values.iter().any(|v| v.nullable);
                let ty = otherwise.ty.clone();
                Ok(TExpr::new(
                    Expr::case(
                        pairs.into_iter().map(|c| c.e).zip(values.into_iter().map(|v| v.e)).collect(),
                        Some(otherwise.e),
                    ),
                    ty,
                    nullable,
                ))
            }
            "coalesce" => {
                arity!(2, 64);
                let a = self.args(args, input, ctx)?;
                let mut it = a.into_iter();
                let mut acc = it.next().expect("2");
                let mut rest = Vec::new();
                for x in it {
                    let (l, r) = self.unify_values(acc, x, span)?;
                    acc = l;
                    rest.push(r);
                }
                let ty = acc.ty.clone();
                if matches!(ty, Ty::String) {
                    // For strings, KQL's coalesce takes the first non-empty value.
                    let mut all = vec![acc];
                    all.extend(rest);
                    let last = all.pop().expect("2");
                    let whens = all
                        .into_iter()
                        .map(|x| (Expr::bin(BinOp::NotEq, x.e.clone(), Expr::str("")), x.e))
                        .collect();
                    return Ok(str_t(Expr::case(whens, Some(last.e))));
                }
                let nullable = acc.nullable && rest.iter().all(|r| r.nullable);
                let mut exprs = vec![acc.e];
                exprs.extend(rest.into_iter().map(|r| r.e));
                Ok(TExpr::new(Expr::call("coalesce", exprs), ty, nullable))
            }
            "isempty" | "isnotempty" => {
                arity!(1, 1);
                let a = self.args(args, input, ctx)?.remove(0);
                let e = match &a.ty {
                    Ty::String | Ty::Guid => {
                        if a.nullable {
                            Expr::bin(BinOp::Eq, Expr::coalesce(a.e, Expr::str("")), Expr::str(""))
                        } else {
                            Expr::bin(BinOp::Eq, a.e, Expr::str(""))
                        }
                    }
                    Ty::Dyn(DataType::Utf8) => Expr::bin(BinOp::Eq, Expr::coalesce(a.e, Expr::str("")), Expr::str("")),
                    Ty::Json => Expr::or(
                        Expr::is_null(a.e.clone()),
                        Expr::bin(BinOp::Eq, a.e, Expr::str("\"\"")),
                    ),
                    Ty::Null => Expr::bool(true),
                    _ => Expr::is_null(a.e),
                };
                let e = if name == "isnotempty" { Expr::not(e) } else { e };
                Ok(TExpr::new(e, Ty::Bool, false))
            }
            "isnull" | "isnotnull" => {
                arity!(1, 1);
                let a = self.args(args, input, ctx)?.remove(0);
                let e = Expr::IsNull(Box::new(a.e), name == "isnotnull");
                Ok(TExpr::new(e, Ty::Bool, false))
            }
            "not" => {
                arity!(1, 1);
                let a = self.args(args, input, Ctx::value())?.remove(0);
                let a = self.bool_of(a, args[0].span)?;
                Ok(TExpr::new(Expr::not(a.e), Ty::Bool, a.nullable))
            }
            "array_length" => {
                arity!(1, 1);
                let a = self.args(args, input, ctx)?.remove(0);
                let e = match &a.ty {
                    Ty::Dyn(DataType::List(_) | DataType::LargeList(_)) => {
                        Expr::cast(Expr::call("array_length", vec![a.e]), SqlType::BigInt)
                    }
                    Ty::Json => Expr::call("kql_json_array_length", vec![a.e]),
                    _ => Expr::null(Ty::Long),
                };
                Ok(TExpr::new(e, Ty::Long, true))
            }
            "array_slice" => {
                arity!(3, 3);
                let mut a = self.args(args, input, ctx)?;
                let arr = a.remove(0);
                let (s, e) = (a.remove(0), a.remove(0));
                let (Some(Lit::Long(s)), Some(Lit::Long(e))) = (s.e.as_lit(), e.e.as_lit()) else {
                    return self.error("KQL0210", "`array_slice` needs constant bounds", span);
                };
                if arr.ty.list_item().is_none() {
                    return self.error("KQL0205", "`array_slice` needs a typed array", args[0].span);
                }
                let conv = |n: i64| if n >= 0 { n + 1 } else { n };
                Ok(TExpr::new(
                    Expr::call("array_slice", vec![arr.e, Expr::long(conv(*s)), Expr::long(conv(*e))]),
                    arr.ty,
                    true,
                ))
            }
            "set_union" | "set_intersect" | "set_difference" | "array_concat" => {
                arity!(2, 64);
                let a = self.args(args, input, ctx)?;
                let item = a[0].ty.list_item();
                if item.is_none() || a.iter().any(|x| x.ty.list_item() != item) {
                    return self.error(
                        "KQL0206",
                        format!("`{name}` needs arrays of the same element type (typed arrays)"),
                        span,
                    );
                }
                let ty = a[0].ty.clone();
                let f = match name {
                    "set_union" => "array_union",
                    "set_intersect" => "array_intersect",
                    "set_difference" => "array_except",
                    _ => "array_concat",
                };
                let mut it = a.into_iter().map(|x| x.e);
                let first = it.next().expect("2");
                let e = if f == "array_concat" {
                    let mut all = vec![first];
                    all.extend(it);
                    Expr::call(f, all)
                } else {
                    it.fold(first, |acc, x| Expr::call(f, vec![acc, x]))
                };
                let e = if name == "set_union" { Expr::call("array_distinct", vec![e]) } else { e };
                Ok(TExpr::new(e, ty, true))
            }
            "pack" | "bag_pack" => {
                if !args.len().is_multiple_of(2) {
                    return self.error("KQL0204", format!("`{name}()` takes key, value pairs"), id.span);
                }
                let a = self.args(args, input, ctx)?;
                let mut parts = Vec::new();
                for (i, x) in a.into_iter().enumerate() {
                    parts.push(if i % 2 == 0 { self.tostring(x).e } else { self.jsonify(x).e });
                }
                Ok(TExpr::new(Expr::call("kql_bag_pack", parts), Ty::Json, false))
            }
            "pack_array" => {
                let a = self.args(args, input, ctx)?;
                let same = a.first().map(|f| f.ty.clone());
                if let Some(t) = same.filter(|t| !t.is_dynamic() && *t != Ty::Null && a.iter().all(|x| &x.ty == t)) {
                    let dt = t.arrow();
                    return Ok(TExpr::new(
                        Expr::call("make_array", a.into_iter().map(|x| x.e).collect()),
                        list_of(dt),
                        false,
                    ));
                }
                let parts = a.into_iter().map(|x| self.jsonify(x).e).collect();
                Ok(TExpr::new(Expr::call("kql_pack_array", parts), Ty::Json, false))
            }
            "bag_keys" => {
                arity!(1, 1);
                let a = self.args(args, input, ctx)?.remove(0);
                match &a.ty {
                    Ty::Json => Ok(TExpr::new(Expr::call("kql_json_keys", vec![a.e]), list_of(DataType::Utf8), true)),
                    Ty::Dyn(DataType::Struct(fields)) => {
                        let keys = fields.iter().map(|f| Expr::str(f.name())).collect();
                        Ok(TExpr::new(
                            Expr::case(vec![(Expr::is_null(a.e), Expr::null(list_of(DataType::Utf8)))], Some(Expr::call("make_array", keys))),
                            list_of(DataType::Utf8),
                            true,
                        ))
                    }
                    _ => Ok(TExpr::new(Expr::null(Ty::Null), Ty::Null, true)),
                }
            }
            "column_ifexists" => {
                arity!(2, 2);
                let col = match &args[0].kind {
                    ExprKind::Literal(ast::Literal::String { value, .. }) => value.clone(),
                    _ => return self.error("KQL0210", "`column_ifexists` needs a column name string", args[0].span),
                };
                match input.column(&col) {
                    Some(c) => Ok(TExpr::new(Expr::Col(c.name.clone()), c.ty.clone(), c.nullable).named(Some(col))),
                    None => self.expr(&args[1], input, ctx.inner()),
                }
            }
            "ago" | "now" => {
                let max = 1;
                arity!(if name == "ago" { 1 } else { 0 }, max);
                let offset = match args.first() {
                    Some(a) => {
                        let t = self.expr(a, input, ctx.inner())?;
                        self.const_timespan(&t, a.span)?
                    }
                    None => 0,
                };
                let ns = if name == "ago" { self.now - offset } else { self.now + offset };
                Ok(TExpr::new(Expr::Lit(Lit::Datetime(ns), Ty::Datetime), Ty::Datetime, false))
            }
            "bin" | "floor" | "bin_at" => {
                arity!(if name == "bin_at" { 3 } else { 2 }, if name == "bin_at" { 3 } else { 2 });
                let mut a = self.args(args, input, ctx)?;
                let x = a.remove(0);
                let size = a.remove(0);
                let at = a.pop();
                self.bin(x, size, at, span)
            }
            "startofday" | "startofmonth" | "startofyear" | "startofweek" | "endofday" | "endofweek"
            | "endofmonth" | "endofyear" => {
                arity!(1, 2);
                let mut a = self.args(args, input, ctx)?;
                let x = self.convert(a.remove(0), &Ty::Datetime, args[0].span)?;
                let e = match name {
                    "startofday" => Expr::call("date_trunc", vec![Expr::str("day"), x.e]),
                    "startofmonth" => Expr::call("date_trunc", vec![Expr::str("month"), x.e]),
                    "startofyear" => Expr::call("date_trunc", vec![Expr::str("year"), x.e]),
                    other => Expr::call(&format!("kql_{other}"), vec![x.e]),
                };
                let e = match a.pop() {
                    None => e,
                    Some(off) => {
                        let unit = match &name[name.len() - 3..] {
                            "day" => "day",
                            "eek" => "week",
                            "nth" => "month",
                            _ => "year",
                        };
                        Expr::call("kql_datetime_add", vec![Expr::str(unit), off.e, e])
                    }
                };
                Ok(TExpr::new(e, Ty::Datetime, x.nullable))
            }
            "dayofweek" => {
                arity!(1, 1);
                let x = self.args(args, input, ctx)?.remove(0);
                let x = self.convert(x, &Ty::Datetime, args[0].span)?;
                Ok(TExpr::new(Expr::call("kql_dayofweek", vec![x.e]), Ty::Timespan, x.nullable))
            }
            "hourofday" | "dayofmonth" | "dayofyear" | "monthofyear" | "getyear" | "getmonth" | "week_of_year" => {
                arity!(1, 1);
                let x = self.args(args, input, ctx)?.remove(0);
                let x = self.convert(x, &Ty::Datetime, args[0].span)?;
                let f = if name == "getmonth" { "monthofyear" } else { name };
                Ok(TExpr::new(Expr::call(&format!("kql_{f}"), vec![x.e]), Ty::Int, x.nullable))
            }
            "datetime_part" => {
                arity!(2, 2);
                let mut a = self.args(args, input, ctx)?;
                let part = self.const_string(&a[0], args[0].span)?.to_lowercase();
                let x = self.convert(a.remove(1), &Ty::Datetime, args[1].span)?;
                let sql_part = match part.as_str() {
                    "year" | "quarter" | "month" | "day" | "hour" | "minute" | "second" | "millisecond" | "microsecond" | "nanosecond" => part.clone(),
                    "weekofyear" | "week_of_year" => "week".into(),
                    "dayofyear" => "doy".into(),
                    _ => return self.error("KQL0204", format!("unknown datetime part `{part}`"), args[0].span),
                };
                Ok(TExpr::new(
                    Expr::cast(Expr::call("date_part", vec![Expr::str(&sql_part), x.e]), SqlType::Int),
                    Ty::Int,
                    x.nullable,
                ))
            }
            "datetime_diff" => {
                arity!(3, 3);
                let mut a = self.args(args, input, ctx)?;
                let part = self.tostring(a.remove(0));
                let x = self.convert(a.remove(0), &Ty::Datetime, args[1].span)?;
                let y = self.convert(a.remove(0), &Ty::Datetime, args[2].span)?;
                Ok(TExpr::new(Expr::call("kql_datetime_diff", vec![lower_expr(part.e), x.e, y.e]), Ty::Long, true))
            }
            "datetime_add" => {
                arity!(3, 3);
                let mut a = self.args(args, input, ctx)?;
                let part = self.tostring(a.remove(0));
                let n = self.convert(a.remove(0), &Ty::Long, args[1].span)?;
                let x = self.convert(a.remove(0), &Ty::Datetime, args[2].span)?;
                Ok(TExpr::new(Expr::call("kql_datetime_add", vec![lower_expr(part.e), n.e, x.e]), Ty::Datetime, true))
            }
            "format_datetime" => {
                arity!(2, 2);
                let mut a = self.args(args, input, ctx)?;
                let x = self.convert(a.remove(0), &Ty::Datetime, args[0].span)?;
                let f = self.tostring(a.remove(0));
                Ok(str_t(Expr::call("kql_format_datetime", vec![x.e, f.e])))
            }
            "format_timespan" => {
                arity!(2, 2);
                let mut a = self.args(args, input, ctx)?;
                let x = self.convert(a.remove(0), &Ty::Timespan, args[0].span)?;
                let f = self.tostring(a.remove(0));
                Ok(str_t(Expr::call("kql_format_timespan", vec![x.e, f.e])))
            }
            "unixtime_seconds_todatetime" | "unixtime_milliseconds_todatetime" => {
                arity!(1, 1);
                let x = self.args(args, input, ctx)?.remove(0);
                let x = self.convert(x, &Ty::Real, args[0].span)?;
                let scale = if name.starts_with("unixtime_seconds") { 1e9 } else { 1e6 };
                Ok(TExpr::new(
                    datetime_from_ns(Expr::cast(
                        Expr::bin(BinOp::Mul, x.e, Expr::Lit(Lit::Real(scale), Ty::Real)),
                        SqlType::BigInt,
                    )),
                    Ty::Datetime,
                    true,
                ))
            }
            "base64_encode_tostring" | "base64_decode_tostring" => {
                arity!(1, 1);
                let x = self.args(args, input, ctx)?.remove(0);
                let s = self.tostring(x);
                let f = if name.starts_with("base64_encode") { "kql_base64_encode" } else { "kql_base64_decode" };
                Ok(str_t(Expr::coalesce(Expr::call(f, vec![s.e]), Expr::str(""))))
            }
            "abs" | "sqrt" | "exp" | "log" | "log10" | "ceiling" | "round" | "pow" => {
                let (min, max) = match name {
                    "round" => (1, 2),
                    "pow" => (2, 2),
                    _ => (1, 1),
                };
                arity!(min, max);
                let a = self.args(args, input, ctx)?;
                let ty = if name == "abs" && matches!(a[0].ty, Ty::Long | Ty::Int) { a[0].ty.clone() } else { Ty::Real };
                let f = match name {
                    "log" => "ln",
                    "ceiling" => "ceil",
                    "pow" => "power",
                    f => f,
                };
                let mut exprs: Vec<Expr> = a.into_iter().map(|x| x.e).collect();
                if ty == Ty::Real {
                    exprs[0] = Expr::cast(exprs[0].clone(), SqlType::Double);
                }
                Ok(TExpr::new(Expr::call(f, exprs), ty, true))
            }
            "min_of" | "max_of" => {
                arity!(2, 64);
                let a = self.args(args, input, ctx)?;
                let ty = if a.iter().any(|x| x.ty == Ty::Real) { Ty::Real } else { a[0].ty.clone() };
                Ok(TExpr::new(
                    Expr::call(if name == "min_of" { "least" } else { "greatest" }, a.into_iter().map(|x| x.e).collect()),
                    ty,
                    true,
                ))
            }
            "new_guid" => {
                arity!(0, 0);
                Ok(TExpr::new(Expr::call("uuid", vec![]), Ty::Guid, false))
            }
            "toscalar" => {
                arity!(1, 1);
                let rel = match &args[0].kind {
                    ExprKind::Subquery(t) => self.tabular(t, None)?,
                    ExprKind::Name(n) => match self.table_by_name(&n.name) {
                        Some(r) => r,
                        None => return self.unknown_table(n),
                    },
                    _ => return self.error("KQL0205", "`toscalar()` takes a tabular expression", args[0].span),
                };
                let Some(first) = rel.visible().next().cloned() else {
                    return self.error("KQL0205", "the tabular expression has no columns", args[0].span);
                };
                let rel = super::tabular::first_column_only(rel);
                Ok(TExpr::new(Expr::ScalarRel(Box::new(rel)), first.ty, true))
            }
            "row_number" => self.row_number(id, args, input, span),
            "hash" | "hash_sha256" | "hash_md5" => self.error_hint(
                "KQL0206",
                format!("`{name}()` is not supported"),
                id.span,
                "Kusto's hash values cannot be reproduced exactly; a different hash would give wrong answers",
            ),
            _ => {
                let mut all: Vec<&str> = SCALAR_FUNCTIONS.to_vec();
                all.extend(AGGREGATE_FUNCTIONS);
                let mut d = crate::diagnostic::Diagnostic::error(
                    "KQL0203",
                    format!("unknown function `{name}()`"),
                    id.span,
                )
                .with_label(id.span, "not a KQL function auditbook supports");
                if let Some(s) = crate::kql::parser::did_you_mean(name, &all) {
                    d = d.with_hint(format!("did you mean `{s}()`?"));
                }
                self.diags.push(d);
                Err(super::Failed)
            }
        }
    }

    fn check_regex(&mut self, re: &TExpr, span: Span) -> B<()> {
        if let Some(Lit::Str(r)) = re.e.as_lit()
            && let Err(e) = regex::Regex::new(r)
        {
            return self.error("KQL0205", super::scalar::regex_message(&e), span);
        }
        Ok(())
    }

    /// Two values of a conditional as one type.
    pub(crate) fn unify_values(&mut self, a: TExpr, b: TExpr, span: Span) -> B<(TExpr, TExpr)> {
        if a.ty == b.ty {
            return Ok((a, b));
        }
        if a.ty == Ty::Null {
            let ty = b.ty.clone();
            return Ok((TExpr::new(Expr::null(ty.clone()), ty, true), b));
        }
        if b.ty == Ty::Null {
            let ty = a.ty.clone();
            return Ok((a, TExpr::new(Expr::null(ty.clone()), ty, true)));
        }
        if a.ty.is_numeric() && b.ty.is_numeric() {
            let ty = if a.ty == Ty::Real || b.ty == Ty::Real {
                Ty::Real
            } else {
                Ty::Long
            };
            let a = self.convert(a, &ty, span)?;
            let b = self.convert(b, &ty, span)?;
            return Ok((a, b));
        }
        if a.ty.is_dynamic() || b.ty.is_dynamic() {
            if a.ty.dyn_scalar() == Some(b.ty.clone()) || b.ty.dyn_scalar() == Some(a.ty.clone()) {
                let ty = if a.ty.is_dynamic() {
                    a.ty.clone()
                } else {
                    b.ty.clone()
                };
                return Ok((
                    TExpr {
                        ty: ty.clone(),
                        ..a
                    },
                    TExpr { ty, ..b },
                ));
            }
            let a = self.jsonify(a);
            let b = self.jsonify(b);
            return Ok((a, b));
        }
        if matches!(a.ty, Ty::String | Ty::Guid) && matches!(b.ty, Ty::String | Ty::Guid) {
            return Ok((
                TExpr {
                    ty: Ty::String,
                    ..a
                },
                TExpr {
                    ty: Ty::String,
                    ..b
                },
            ));
        }
        self.error(
            "KQL0205",
            format!(
                "the branches have different types: {} and {}",
                a.ty.kql_name(),
                b.ty.kql_name()
            ),
            span,
        )
    }

    /// `bin(x, size)`: KQL rounds down to a multiple of `size`; datetimes count from
    /// 0001-01-01 (so week bins start on Mondays), unless `bin_at` gives the origin.
    fn bin(&mut self, x: TExpr, size: TExpr, at: Option<TExpr>, span: Span) -> B<TExpr> {
        let x = match x.ty.dyn_scalar() {
            Some(t) => TExpr { ty: t, ..x },
            None if x.ty.is_dynamic() => self.convert(x, &Ty::Real, span)?,
            None => x,
        };
        let nullable = x.nullable;
        match x.ty {
            Ty::Datetime | Ty::Timespan => {
                let step = self.const_timespan(&size, span)?;
                if step <= 0 {
                    return self.error("KQL0210", "the bin size must be positive", span);
                }
                let origin = match at {
                    Some(a) => match a.e.as_lit() {
                        Some(Lit::Datetime(n) | Lit::Timespan(n)) => *n,
                        _ => {
                            return self.error(
                                "KQL0210",
                                "the origin of `bin_at` must be a constant",
                                span,
                            );
                        }
                    },
                    // Multiples of `step` counted from 0001-01-01 (in ticks), as Kusto aligns bins.
                    None if x.ty == Ty::Datetime => {
                        let step_ticks = (step / TICK_NS).max(1);
                        -((EPOCH_TICKS % step_ticks) * TICK_NS)
                    }
                    None => 0,
                };
                let v = ns_of(x.e);
                let shifted = Expr::bin(BinOp::Minus, v.clone(), Expr::long(origin));
                // v - ((v - origin) mod step + step) mod step: floors toward -infinity.
                let rem = Expr::bin(
                    BinOp::Mod,
                    Expr::bin(
                        BinOp::Plus,
                        Expr::bin(BinOp::Mod, shifted, Expr::long(step)),
                        Expr::long(step),
                    ),
                    Expr::long(step),
                );
                let floored = Expr::bin(BinOp::Minus, v, rem);
                let e = if x.ty == Ty::Datetime {
                    datetime_from_ns(floored)
                } else {
                    duration_from_ns(floored)
                };
                Ok(TExpr::new(e, x.ty, nullable))
            }
            Ty::Long | Ty::Int => {
                let origin = match at.as_ref().map(|a| a.e.as_lit()) {
                    None => 0,
                    Some(Some(Lit::Long(n))) => *n,
                    Some(Some(Lit::Real(_))) => {
                        let xr = self.convert(x, &Ty::Real, span)?;
                        return self.bin(xr, size, at, span);
                    }
                    Some(_) => {
                        return self.error(
                            "KQL0210",
                            "the origin of `bin_at` must be a constant",
                            span,
                        );
                    }
                };
                let step = match size.e.as_lit() {
                    Some(Lit::Long(n)) if *n > 0 => *n,
                    Some(Lit::Real(_)) => {
                        let xr = self.convert(x, &Ty::Real, span)?;
                        return self.bin(xr, size, at, span);
                    }
                    _ => {
                        return self.error(
                            "KQL0210",
                            "the bin size must be a positive constant",
                            span,
                        );
                    }
                };
                let shifted = Expr::bin(BinOp::Minus, x.e.clone(), Expr::long(origin));
                let rem = Expr::bin(
                    BinOp::Mod,
                    Expr::bin(
                        BinOp::Plus,
                        Expr::bin(BinOp::Mod, shifted, Expr::long(step)),
                        Expr::long(step),
                    ),
                    Expr::long(step),
                );
                Ok(TExpr::new(
                    Expr::bin(BinOp::Minus, x.e, rem),
                    x.ty,
                    nullable,
                ))
            }
            Ty::Real => {
                let step = match size.e.as_lit() {
                    Some(Lit::Long(n)) if *n > 0 => *n as f64,
                    Some(Lit::Real(f)) if *f > 0.0 => *f,
                    _ => {
                        return self.error(
                            "KQL0210",
                            "the bin size must be a positive constant",
                            span,
                        );
                    }
                };
                let origin = match at.as_ref().map(|a| a.e.as_lit()) {
                    None => 0.0,
                    Some(Some(Lit::Long(n))) => *n as f64,
                    Some(Some(Lit::Real(f))) => *f,
                    Some(_) => {
                        return self.error(
                            "KQL0210",
                            "the origin of `bin_at` must be a constant",
                            span,
                        );
                    }
                };
                let step = Expr::Lit(Lit::Real(step), Ty::Real);
                let o = Expr::Lit(Lit::Real(origin), Ty::Real);
                let shifted = Expr::bin(BinOp::Minus, Expr::cast(x.e, SqlType::Double), o.clone());
                let floored = Expr::bin(
                    BinOp::Mul,
                    Expr::call("floor", vec![Expr::bin(BinOp::Div, shifted, step.clone())]),
                    step,
                );
                Ok(TExpr::new(
                    Expr::bin(BinOp::Plus, floored, o),
                    Ty::Real,
                    nullable,
                ))
            }
            Ty::Null => Ok(x),
            t => self.error(
                "KQL0205",
                format!("`bin` is not defined for {}", t.kql_name()),
                span,
            ),
        }
    }

    fn row_number(
        &mut self,
        id: &ast::Ident,
        args: &[ast::Expr],
        input: &Rel,
        span: Span,
    ) -> B<TExpr> {
        self.arity(id, args, 0, 2)?;
        if !self.serialized(input) {
            return self.error_hint(
                "KQL0206",
                "`row_number()` needs a serialized input",
                span,
                "put `serialize` or `sort by` / `order by` before it",
            );
        }
        let start = match args.first() {
            Some(a) => {
                let t = self.expr(a, input, Ctx::value())?;
                match t.e.as_lit() {
                    Some(Lit::Long(n)) => *n,
                    _ => {
                        return self.error(
                            "KQL0210",
                            "the start of `row_number` must be a constant",
                            a.span,
                        );
                    }
                }
            }
            None => 1,
        };
        let w = Expr::Window {
            name: "row_number".into(),
            args: vec![],
            partition_by: vec![],
            order_by: input.order.clone(),
        };
        let e = if start == 1 {
            Expr::cast(w, SqlType::BigInt)
        } else {
            Expr::bin(
                BinOp::Plus,
                Expr::cast(w, SqlType::BigInt),
                Expr::long(start - 1),
            )
        };
        Ok(TExpr::new(e, Ty::Long, false))
    }

    /// Aggregate calls inside `summarize` (single-column ones; `arg_max`/`arg_min` and
    /// `percentiles` are expanded by the operator).
    fn aggregate(
        &mut self,
        id: &ast::Ident,
        args: &[ast::Expr],
        input: &Rel,
        span: Span,
    ) -> B<TExpr> {
        let name = id.name.as_str();
        let agg = |name: &str, args: Vec<Expr>, distinct: bool, filter: Option<Expr>| Expr::Agg {
            name: name.into(),
            args,
            distinct,
            filter: filter.map(Box::new),
            order_by: vec![],
        };
        // Arguments of aggregates are row expressions (no nested aggregates).
        let bind = |b: &mut Self, a: &ast::Expr| b.expr(a, input, Ctx::value());
        let pred = |b: &mut Self, a: &ast::Expr| -> B<Expr> {
            let p = b.expr(a, input, Ctx::pred())?;
            Ok(b.bool_of(p, a.span)?.e)
        };
        match name {
            "count" => {
                self.arity(id, args, 0, 1)?;
                let e = match args.first() {
                    None => agg("count", vec![Expr::long(1)], false, None),
                    Some(a) => {
                        let x = bind(self, a)?;
                        agg("count", vec![x.e], false, None)
                    }
                };
                Ok(TExpr::new(e, Ty::Long, false))
            }
            "countif" => {
                self.arity(id, args, 1, 1)?;
                let p = pred(self, &args[0])?;
                Ok(TExpr::new(
                    agg("count", vec![Expr::long(1)], false, Some(p)),
                    Ty::Long,
                    false,
                ))
            }
            "dcount" | "count_distinct" | "dcountif" => {
                let (min, max) = match name {
                    "dcountif" => (2, 3),
                    "dcount" => (1, 2),
                    _ => (1, 1),
                };
                self.arity(id, args, min, max)?;
                let x = bind(self, &args[0])?;
                let x = if x.ty.is_dynamic() && x.ty.dyn_scalar().is_none() {
                    self.tostring(x)
                } else {
                    x
                };
                let filter = if name == "dcountif" {
                    Some(pred(self, &args[1])?)
                } else {
                    None
                };
                Ok(TExpr::new(
                    agg("count", vec![x.e], true, filter),
                    Ty::Long,
                    false,
                ))
            }
            "sum" | "avg" | "min" | "max" | "stdev" | "variance" | "sumif" | "avgif" | "minif"
            | "maxif" | "stdevif" => {
                let conditional = name.ends_with("if");
                self.arity(id, args, 1 + conditional as usize, 1 + conditional as usize)?;
                let x = bind(self, &args[0])?;
                let x = match x.ty.dyn_scalar() {
                    Some(t) => TExpr { ty: t, ..x },
                    None if x.ty.is_dynamic() => self.convert(x, &Ty::Real, args[0].span)?,
                    None => x,
                };
                let filter = if conditional {
                    Some(pred(self, &args[1])?)
                } else {
                    None
                };
                let base = name.trim_end_matches("if");
                let (f, ty) = match base {
                    "sum" => (
                        "sum",
                        if x.ty == Ty::Int {
                            Ty::Long
                        } else {
                            x.ty.clone()
                        },
                    ),
                    "avg" => (
                        "avg",
                        if x.ty == Ty::Timespan || x.ty == Ty::Datetime {
                            x.ty.clone()
                        } else {
                            Ty::Real
                        },
                    ),
                    "min" => ("min", x.ty.clone()),
                    "max" => ("max", x.ty.clone()),
                    "stdev" => ("stddev", Ty::Real),
                    _ => ("var_samp", Ty::Real),
                };
                if matches!(f, "sum" | "avg" | "stddev" | "var_samp")
                    && !(x.ty.is_numeric() || (f == "sum" && x.ty == Ty::Timespan))
                {
                    return self.error(
                        "KQL0205",
                        format!("`{name}()` needs a number, found {}", x.ty.kql_name()),
                        args[0].span,
                    );
                }
                let arg = if f == "sum" && x.ty == Ty::Timespan {
                    ns_of(x.e)
                } else {
                    x.e
                };
                let e = agg(f, vec![arg], false, filter);
                let e = if f == "sum" && ty == Ty::Timespan {
                    duration_from_ns(e)
                } else {
                    e
                };
                // Over no rows, sum, variance and stdev are 0, not null (KQL summarize
                // documentation, "Default values of aggregations").
                let zero = match (&ty, f) {
                    (_, "sum" | "stddev" | "var_samp") => match ty {
                        Ty::Long => Some(Expr::long(0)),
                        Ty::Int => Some(Expr::Lit(Lit::Int(0), Ty::Int)),
                        Ty::Real => Some(Expr::Lit(Lit::Real(0.0), Ty::Real)),
                        Ty::Timespan => Some(Expr::Lit(Lit::Timespan(0), Ty::Timespan)),
                        _ => None,
                    },
                    _ => None,
                };
                match zero {
                    Some(z) => Ok(TExpr::new(Expr::coalesce(e, z), ty, false)),
                    None => Ok(TExpr::new(e, ty, true)),
                }
            }
            "make_set" | "make_list" | "make_set_if" | "make_list_if" => {
                let conditional = name.ends_with("_if");
                self.arity(id, args, 1 + conditional as usize, 2 + conditional as usize)?;
                let x = bind(self, &args[0])?;
                let x = match &x.ty {
                    Ty::Json => self.tostring(x),
                    _ => x,
                };
                let mut filter = Expr::is_not_null(x.e.clone());
                if conditional {
                    filter = Expr::and(filter, pred(self, &args[1])?);
                }
                let limit = match args.get(1 + conditional as usize) {
                    Some(a) => match bind(self, a)?.e.as_lit() {
                        Some(Lit::Long(n)) if *n > 0 => *n,
                        _ => {
                            return self.error(
                                "KQL0210",
                                "the size limit must be a positive constant",
                                a.span,
                            );
                        }
                    },
                    None => 1_048_576,
                };
                let item = match &x.ty {
                    Ty::Dyn(dt) => dt.clone(),
                    t => t.arrow(),
                };
                let ty = list_of(item);
                let e = agg(
                    "array_agg",
                    vec![x.e],
                    name.starts_with("make_set"),
                    Some(filter),
                );
                let e = Expr::call("array_slice", vec![e, Expr::long(1), Expr::long(limit)]);
                // Over no rows the list is `[]`, not null (for lists of scalars).
                let nested = matches!(
                    ty.list_item(),
                    Some(DataType::Struct(_) | DataType::List(_))
                );
                if nested {
                    return Ok(TExpr::new(e, ty, true));
                }
                Ok(TExpr::new(
                    Expr::coalesce(e, Expr::call("make_array", vec![])),
                    ty,
                    false,
                ))
            }
            "make_bag" => {
                self.arity(id, args, 1, 2)?;
                let x = bind(self, &args[0])?;
                let j = self.jsonify(x);
                Ok(TExpr::new(
                    agg("kql_make_bag", vec![j.e], false, None),
                    Ty::Json,
                    false,
                ))
            }
            "take_any" | "any" => {
                self.arity(id, args, 1, 1)?;
                let x = bind(self, &args[0])?;
                let ty = x.ty.clone();
                Ok(TExpr::new(
                    agg("kql_take_any", vec![x.e], false, None),
                    ty,
                    true,
                ))
            }
            "percentile" => {
                self.arity(id, args, 2, 2)?;
                let x = bind(self, &args[0])?;
                let p = bind(self, &args[1])?;
                self.percentile(x, p, args[1].span)
            }
            _ => self.error_hint(
                "KQL0208",
                format!("`{name}()` expands into several columns and must stand alone"),
                span,
                format!("write it as its own aggregate: `summarize {name}(...)`"),
            ),
        }
    }

    pub(crate) fn percentile(&mut self, x: TExpr, p: TExpr, span: Span) -> B<TExpr> {
        let pv = match p.e.as_lit() {
            Some(Lit::Long(n)) => *n as f64,
            Some(Lit::Real(f)) => *f,
            _ => return self.error("KQL0210", "the percentile must be a constant number", span),
        };
        if !(0.0..=100.0).contains(&pv) {
            return self.error("KQL0210", "the percentile must be between 0 and 100", span);
        }
        let x = match x.ty.dyn_scalar() {
            Some(t) => TExpr { ty: t, ..x },
            None => x,
        };
        let pe = Expr::Lit(Lit::Real(pv), Ty::Real);
        let agg = |arg: Expr| Expr::Agg {
            name: "kql_percentile".into(),
            args: vec![arg, pe.clone()],
            distinct: false,
            filter: None,
            order_by: vec![],
        };
        let (e, ty) = match x.ty {
            Ty::Real => (agg(x.e), Ty::Real),
            Ty::Long | Ty::Int => (
                Expr::cast(agg(Expr::cast(x.e, SqlType::Double)), SqlType::BigInt),
                Ty::Long,
            ),
            Ty::Timespan => (
                duration_from_ns(Expr::cast(
                    agg(Expr::cast(ns_of(x.e), SqlType::Double)),
                    SqlType::BigInt,
                )),
                Ty::Timespan,
            ),
            Ty::Datetime => (
                datetime_from_ns(Expr::cast(
                    agg(Expr::cast(ns_of(x.e), SqlType::Double)),
                    SqlType::BigInt,
                )),
                Ty::Datetime,
            ),
            t => {
                return self.error(
                    "KQL0205",
                    format!("`percentile` needs numbers, found {}", t.kql_name()),
                    span,
                );
            }
        };
        Ok(TExpr::new(e, ty, true))
    }
}

/// KQL rewrite strings use `\1`; Rust's regex uses `${1}`.
fn kql_rewrite_to_rust(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek().is_some_and(|d| d.is_ascii_digit()) => {
                let d = chars.next().expect("peeked");
                out.push_str(&format!("${{{d}}}"));
            }
            '$' => out.push_str("$$"),
            c => out.push(c),
        }
    }
    out
}

/// The name KQL gives an expression as a column when none is written: a column's name, a member
/// path joined with `_` (`TargetResources_id`), or the first argument's of `tostring`, `bin`, ...
pub(crate) fn expr_name_hint(a: &ast::Expr) -> Option<String> {
    match &a.kind {
        ExprKind::Name(id) => Some(id.name.clone()),
        ExprKind::Member { expr, name } => Some(format!("{}_{}", expr_name_hint(expr)?, name.name)),
        ExprKind::Index { expr, index } => {
            let s = match &index.kind {
                ExprKind::Literal(ast::Literal::String { value, .. }) => value.clone(),
                ExprKind::Literal(ast::Literal::Long(n)) => n.to_string(),
                _ => return None,
            };
            Some(format!("{}_{s}", expr_name_hint(expr)?))
        }
        ExprKind::Call { name, args } if FIRST_ARG_NAMED.contains(&name.name.as_str()) => {
            expr_name_hint(args.first()?)
        }
        _ => None,
    }
}
