//! Scalar expressions: names, literals, operators (with KQL's null and case rules), dynamic
//! member access, and the conversions every other part of the binder shares.

use arrow::datatypes::DataType;

use super::{B, Binder, Failed, LetBinding, TExpr};
use crate::diagnostic::{Diagnostic, Span};
use crate::kql::ast::{self, BinaryOp, ExprKind, ListOp, Literal, StringOp, StringOpKind};
use crate::kql::ir::{BinOp, Expr, Lit, Rel, SqlType};
use crate::kql::types::Ty;

/// Where an expression is bound.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Ctx {
    /// A `where` predicate (or a conjunct/disjunct of one): a null result means "drop the row",
    /// so `==` and `!=` can use plain SQL forms that filter pushdown understands.
    pub pred: bool,
    /// Aggregate functions are allowed (in `summarize`).
    pub agg: bool,
}

impl Ctx {
    pub fn value() -> Ctx {
        Ctx {
            pred: false,
            agg: false,
        }
    }

    pub fn pred() -> Ctx {
        Ctx {
            pred: true,
            agg: false,
        }
    }

    pub fn agg() -> Ctx {
        Ctx {
            pred: false,
            agg: true,
        }
    }

    /// The context of an operand of a non-boolean operator or function.
    pub fn inner(self) -> Ctx {
        Ctx {
            pred: false,
            ..self
        }
    }
}

pub(crate) const TICK_NS: i64 = 100;

impl Binder<'_> {
    pub(crate) fn expr(&mut self, e: &ast::Expr, input: &Rel, ctx: Ctx) -> B<TExpr> {
        self.depth += 1;
        let out = self.expr_inner(e, input, ctx);
        self.depth -= 1;
        out
    }

    fn expr_inner(&mut self, e: &ast::Expr, input: &Rel, ctx: Ctx) -> B<TExpr> {
        match &e.kind {
            ExprKind::Literal(l) => self.literal(l, e.span),
            ExprKind::Name(id) => self.name(id, input),
            ExprKind::Star => self.error("KQL0206", "`*` is not a value here", e.span),
            ExprKind::Placeholder { name, .. } | ExprKind::Spliced { name, .. } => {
                self.unfilled(name, e.span)
            }
            ExprKind::Neg(x) => {
                let x = self.expr(x, input, ctx.inner())?;
                self.negate(x, e.span)
            }
            ExprKind::Binary { op, lhs, rhs } => self.binary(*op, lhs, rhs, input, ctx, e.span),
            ExprKind::InList { op, expr, list } => self.in_list(*op, expr, list, input, ctx),
            ExprKind::Between {
                negated,
                expr,
                low,
                high,
            } => {
                let x = self.expr(expr, input, ctx.inner())?;
                let lo = self.expr(low, input, ctx.inner())?;
                let mut hi = self.expr(high, input, ctx.inner())?;
                // `between (start .. timespan)` is relative to `start`.
                if lo.ty == Ty::Datetime && hi.ty == Ty::Timespan {
                    hi = self.arith(BinaryOp::Add, lo.clone(), hi, high.span)?;
                }
                let (x, lo) = self.unify_compare(x, lo, e.span)?;
                let (x, hi) = self.unify_compare(x, hi, e.span)?;
                let nullable = x.nullable || lo.nullable || hi.nullable;
                Ok(TExpr::new(
                    Expr::Between(Box::new(x.e), Box::new(lo.e), Box::new(hi.e), *negated),
                    Ty::Bool,
                    nullable,
                ))
            }
            ExprKind::Call { name, args } => self.call(name, args, input, ctx, e.span),
            ExprKind::NamedArg { name, .. } => self.error(
                "KQL0206",
                format!("named argument `{}` is not allowed here", name.name),
                e.span,
            ),
            ExprKind::Member { expr, name } => {
                let base = self.expr(expr, input, ctx.inner())?;
                let path = base.name.clone().map(|n| format!("{n}_{}", name.name));
                Ok(self.member(base, &name.name, name.span)?.named(path))
            }
            ExprKind::Index { expr, index } => {
                let base = self.expr(expr, input, ctx.inner())?;
                let idx = self.expr(index, input, ctx.inner())?;
                let suffix = match idx.e.as_lit() {
                    Some(Lit::Str(s)) => Some(s.clone()),
                    Some(Lit::Long(n)) => Some(n.to_string()),
                    _ => None,
                };
                let path = match (&base.name, suffix) {
                    (Some(b), Some(s)) => Some(format!("{b}_{s}")),
                    _ => None,
                };
                Ok(self.index(base, idx, index.span)?.named(path))
            }
            ExprKind::Subquery(_) => self.error(
                "KQL0206",
                "a tabular expression is not a scalar; use `toscalar(...)`",
                e.span,
            ),
        }
    }

    pub(crate) fn unfilled<T>(&mut self, name: &str, span: Span) -> B<T> {
        self.error_hint(
            "KQL0207",
            format!("workbook parameter `{{{name}}}` has no value"),
            span,
            "run the query through a workbook (`auditbook run`), or write a value in its place",
        )
    }

    fn name(&mut self, id: &ast::Ident, input: &Rel) -> B<TExpr> {
        if let Some(c) = input.column(&id.name) {
            return Ok(
                TExpr::new(Expr::Col(c.name.clone()), c.ty.clone(), c.nullable)
                    .named(Some(c.name.clone())),
            );
        }
        match self.lookup(&id.name) {
            Some(LetBinding::Scalar(t)) => return Ok(t.clone().named(Some(id.name.clone()))),
            Some(LetBinding::Tabular(_)) => {
                return self.error(
                    "KQL0205",
                    format!("`{}` is a table, not a scalar value", id.name),
                    id.span,
                );
            }
            Some(LetBinding::Function { .. }) => {
                return self.error(
                    "KQL0205",
                    format!("`{}` is a function; call it with `{}()`", id.name, id.name),
                    id.span,
                );
            }
            None => {}
        }
        if id.name == "$left" || id.name == "$right" {
            return self.error(
                "KQL0206",
                format!("`{}` is only allowed in a join's `on` clause", id.name),
                id.span,
            );
        }
        self.unknown_column(&id.name, id.span, input)
    }

    pub(crate) fn unknown_column<T>(&mut self, name: &str, span: Span, input: &Rel) -> B<T> {
        let names: Vec<&str> = input.visible().map(|c| c.name.as_str()).collect();
        let mut d = Diagnostic::error("KQL0201", format!("unknown column `{name}`"), span)
            .with_label(span, "not a column of the input");
        if let Some(s) = crate::kql::parser::did_you_mean(name, &names) {
            d = d.with_hint(format!("did you mean `{s}`?"));
        }
        let list = if names.len() > 40 {
            format!("{}, ... ({} in all)", names[..40].join(", "), names.len())
        } else {
            names.join(", ")
        };
        d = d.with_hint(if names.is_empty() {
            "the input has no columns".to_string()
        } else {
            format!("columns are: {list}")
        });
        self.diags.push(d);
        Err(Failed)
    }

    pub(crate) fn literal(&mut self, l: &Literal, span: Span) -> B<TExpr> {
        let lit = |l: Lit, ty: Ty| Ok(TExpr::new(Expr::Lit(l, ty.clone()), ty, false));
        match l {
            Literal::Null => Ok(TExpr::new(Expr::null(Ty::Null), Ty::Null, true)),
            Literal::Bool(b) => lit(Lit::Bool(*b), Ty::Bool),
            Literal::Long(n) => lit(Lit::Long(*n), Ty::Long),
            Literal::Real(f) => lit(Lit::Real(*f), Ty::Real),
            // `{Name}` inside a string is text: a workbook binds (escapes) parameter values into
            // strings before compiling, and leaves unknown names as written, as Azure does.
            Literal::String { value, .. } => lit(Lit::Str(value.clone()), Ty::String),
            Literal::Timespan(ticks) => match ticks.checked_mul(TICK_NS) {
                Some(ns) => lit(Lit::Timespan(ns), Ty::Timespan),
                None => self.error("KQL0205", "timespan out of range", span),
            },
            Literal::Datetime(text) => match parse_datetime_literal(text) {
                Some(ns) => lit(Lit::Datetime(ns), Ty::Datetime),
                None => self.error(
                    "KQL0107",
                    format!("invalid or out-of-range datetime `{text}` (years 1678 to 2261)"),
                    span,
                ),
            },
            Literal::Guid(g) => lit(Lit::Str(g.to_ascii_lowercase()), Ty::Guid),
            Literal::TypedNull(t) => match Ty::from_type_name(*t) {
                Some(ty) => Ok(TExpr::new(Expr::null(ty.clone()), ty, true)),
                None => self.error("KQL0206", "the decimal type is not supported", span),
            },
            Literal::Dynamic(d) => Ok(dynamic_literal(d)),
        }
    }

    pub(crate) fn negate(&mut self, x: TExpr, span: Span) -> B<TExpr> {
        let folded = match x.e.as_lit() {
            Some(Lit::Long(n)) => Some(Lit::Long(n.wrapping_neg())),
            Some(Lit::Int(n)) => Some(Lit::Int(n.wrapping_neg())),
            Some(Lit::Real(f)) => Some(Lit::Real(-f)),
            Some(Lit::Timespan(n)) => Some(Lit::Timespan(n.wrapping_neg())),
            _ => None,
        };
        if let Some(l) = folded {
            return Ok(TExpr::new(Expr::Lit(l, x.ty.clone()), x.ty, false));
        }
        match x.ty {
            Ty::Int | Ty::Long | Ty::Real => {
                Ok(TExpr::new(Expr::Neg(Box::new(x.e)), x.ty, x.nullable))
            }
            Ty::Timespan => Ok(TExpr::new(
                duration_from_ns(Expr::Neg(Box::new(ns_of(x.e)))),
                Ty::Timespan,
                x.nullable,
            )),
            _ => self.error(
                "KQL0205",
                format!("cannot negate a value of type {}", x.ty.kql_name()),
                span,
            ),
        }
    }

    fn binary(
        &mut self,
        op: BinaryOp,
        lhs: &ast::Expr,
        rhs: &ast::Expr,
        input: &Rel,
        ctx: Ctx,
        span: Span,
    ) -> B<TExpr> {
        match op {
            BinaryOp::And | BinaryOp::Or => {
                let a = self.expr(lhs, input, ctx);
                let b = self.expr(rhs, input, ctx);
                let (a, b) = (self.bool_of(a?, lhs.span)?, self.bool_of(b?, rhs.span)?);
                let e = if op == BinaryOp::And {
                    Expr::and(a.e, b.e)
                } else {
                    Expr::or(a.e, b.e)
                };
                Ok(TExpr::new(e, Ty::Bool, a.nullable || b.nullable))
            }
            BinaryOp::Eq | BinaryOp::Ne => {
                let a = self.expr(lhs, input, ctx.inner())?;
                let b = self.expr(rhs, input, ctx.inner())?;
                let (a, b) = self.unify_compare(a, b, span)?;
                Ok(equality(a, b, op == BinaryOp::Ne, ctx.pred))
            }
            BinaryOp::EqCi | BinaryOp::NeCi => {
                let a = self.expr(lhs, input, ctx.inner())?;
                let b = self.expr(rhs, input, ctx.inner())?;
                let (a, b) = (lower(self.tostring(a)), lower(self.tostring(b)));
                let e = Expr::bin(
                    if op == BinaryOp::EqCi {
                        BinOp::Eq
                    } else {
                        BinOp::NotEq
                    },
                    a,
                    b,
                );
                Ok(TExpr::new(e, Ty::Bool, false))
            }
            BinaryOp::Lt | BinaryOp::Le | BinaryOp::Gt | BinaryOp::Ge => {
                let a = self.expr(lhs, input, ctx.inner())?;
                let b = self.expr(rhs, input, ctx.inner())?;
                let (a, b) = self.unify_compare(a, b, span)?;
                let sop = match op {
                    BinaryOp::Lt => BinOp::Lt,
                    BinaryOp::Le => BinOp::LtEq,
                    BinaryOp::Gt => BinOp::Gt,
                    _ => BinOp::GtEq,
                };
                Ok(TExpr::new(
                    Expr::bin(sop, a.e, b.e),
                    Ty::Bool,
                    a.nullable || b.nullable,
                ))
            }
            BinaryOp::Add | BinaryOp::Sub | BinaryOp::Mul | BinaryOp::Div | BinaryOp::Mod => {
                let a = self.expr(lhs, input, ctx.inner())?;
                let b = self.expr(rhs, input, ctx.inner())?;
                self.arith(op, a, b, span)
            }
            BinaryOp::Str(sop) => {
                let a = self.expr(lhs, input, ctx.inner())?;
                let b = self.expr(rhs, input, ctx.inner())?;
                let (a, b) = (self.tostring(a), self.tostring(b));
                Ok(TExpr::new(string_op(sop, a.e, b.e), Ty::Bool, false))
            }
            BinaryOp::MatchesRegex => {
                let a = self.expr(lhs, input, ctx.inner())?;
                let b = self.expr(rhs, input, ctx.inner())?;
                if let Some(Lit::Str(re)) = b.e.as_lit()
                    && let Err(err) = regex::Regex::new(re)
                {
                    return self.error("KQL0205", regex_message(&err), rhs.span);
                }
                let (a, b) = (self.tostring(a), self.tostring(b));
                Ok(TExpr::new(
                    Expr::call("regexp_like", vec![a.e, b.e]),
                    Ty::Bool,
                    false,
                ))
            }
        }
    }

    /// Makes two operands comparable: numbers widen, dynamic scalars are read as the other
    /// side's type, dynamic structures compare as their JSON text.
    pub(crate) fn unify_compare(&mut self, a: TExpr, b: TExpr, span: Span) -> B<(TExpr, TExpr)> {
        if a.ty == b.ty || a.ty == Ty::Null || b.ty == Ty::Null {
            return Ok((a, b));
        }
        if a.ty.is_numeric() && b.ty.is_numeric() {
            return Ok((a, b));
        }
        let a_str = matches!(a.ty, Ty::String | Ty::Guid);
        let b_str = matches!(b.ty, Ty::String | Ty::Guid);
        if a_str && b_str {
            return Ok((a, b));
        }
        if a.ty.is_dynamic() && !b.ty.is_dynamic() {
            let ty = b.ty.clone();
            let a = self.dyn_as(a, &ty, span)?;
            return Ok((a, b));
        }
        if b.ty.is_dynamic() && !a.ty.is_dynamic() {
            let ty = a.ty.clone();
            let b = self.dyn_as(b, &ty, span)?;
            return Ok((a, b));
        }
        if a.ty.is_dynamic() && b.ty.is_dynamic() {
            return Ok((self.tostring(a), self.tostring(b)));
        }
        self.error(
            "KQL0205",
            format!(
                "cannot compare {} with {}",
                a.ty.kql_name(),
                b.ty.kql_name()
            ),
            span,
        )
    }

    /// A dynamic value read as a scalar type (a failed conversion is null, as in KQL).
    pub(crate) fn dyn_as(&mut self, x: TExpr, ty: &Ty, span: Span) -> B<TExpr> {
        if x.ty.dyn_scalar().as_ref() == Some(ty) {
            return Ok(TExpr {
                ty: ty.clone(),
                ..x
            });
        }
        match ty {
            Ty::String | Ty::Guid => Ok(self.tostring(x)),
            _ => self.convert(x, ty, span),
        }
    }

    /// `x` as a KQL bool (dynamic booleans are read; anything else is an error).
    pub(crate) fn bool_of(&mut self, x: TExpr, span: Span) -> B<TExpr> {
        match &x.ty {
            Ty::Bool | Ty::Null => Ok(x),
            t if t.is_dynamic() => self.convert(x, &Ty::Bool, span),
            t => self.error(
                "KQL0205",
                format!("expected a bool, found {}", t.kql_name()),
                span,
            ),
        }
    }

    /// KQL `tostring(x)`: never null; dynamic structures become JSON text.
    pub(crate) fn tostring(&mut self, x: TExpr) -> TExpr {
        let name = x.name.clone();
        if matches!(x.ty, Ty::String | Ty::Guid | Ty::Dyn(DataType::Utf8))
            && let Some(Lit::Str(s)) = x.e.as_lit()
        {
            return TExpr::new(Expr::str(s), Ty::String, false).named(name);
        }
        let out = match &x.ty {
            Ty::String | Ty::Guid if !x.nullable => x.e.clone(),
            Ty::String | Ty::Guid => Expr::coalesce(x.e.clone(), Expr::str("")),
            Ty::Null => Expr::str(""),
            Ty::Json => Expr::call("kql_json_tostring", vec![x.e.clone()]),
            Ty::Dyn(DataType::Utf8) => Expr::coalesce(x.e.clone(), Expr::str("")),
            Ty::Long | Ty::Int => {
                Expr::coalesce(Expr::cast(x.e.clone(), SqlType::Varchar), Expr::str(""))
            }
            _ => Expr::call("kql_tostring", vec![x.e.clone()]),
        };
        // `parse_json(tostring(x))` of a bag or an array is `x` again (a string inside a
        // dynamic value must be parsed, so it does not fold).
        let json_of = match &x.ty {
            Ty::Dyn(DataType::Struct(_) | DataType::List(_) | DataType::LargeList(_)) => {
                Some(Box::new(x))
            }
            _ => None,
        };
        TExpr {
            e: out,
            ty: Ty::String,
            nullable: false,
            name,
            json_of,
        }
    }

    /// `x` as JSON text (for `bag_pack`, `make_bag`, and dynamic values of unknown shape).
    pub(crate) fn jsonify(&mut self, x: TExpr) -> TExpr {
        match x.ty {
            Ty::Json => x,
            _ => TExpr::new(Expr::call("kql_json", vec![x.e]), Ty::Json, true).named(x.name),
        }
    }

    /// KQL conversion functions (`tolong`, `todatetime`, ...): a value that does not convert
    /// is null.
    pub(crate) fn convert(&mut self, x: TExpr, ty: &Ty, span: Span) -> B<TExpr> {
        let name = x.name.clone();
        if &x.ty == ty {
            return Ok(x);
        }
        // Dynamic scalars with a known Arrow type behave like that type.
        let x = match x.ty.dyn_scalar() {
            Some(inner) => TExpr { ty: inner, ..x },
            None => x,
        };
        if &x.ty == ty {
            return Ok(TExpr {
                ty: ty.clone(),
                ..x
            });
        }
        let text = |b: &mut Self, x: TExpr| -> Expr { b.tostring(x).e };
        let e = match (ty, &x.ty) {
            (_, Ty::Null) => Expr::null(ty.clone()),
            (Ty::String | Ty::Guid, _) => {
                return Ok(TExpr {
                    ty: ty.clone(),
                    ..self.tostring(x)
                });
            }
            (Ty::Json, _) => return Ok(self.jsonify(x)),
            (Ty::Long, Ty::Int | Ty::Real | Ty::Bool) => Expr::try_cast(x.e, SqlType::BigInt),
            (Ty::Int, Ty::Long | Ty::Real | Ty::Bool) => Expr::try_cast(x.e, SqlType::Int),
            (Ty::Real, Ty::Int | Ty::Long | Ty::Bool) => Expr::try_cast(x.e, SqlType::Double),
            (Ty::Bool, Ty::Int | Ty::Long | Ty::Real) => {
                Expr::bin(BinOp::NotEq, x.e, Expr::Lit(Lit::Long(0), Ty::Long))
            }
            (Ty::Long, Ty::Datetime) => {
                // Ticks since 0001-01-01, as KQL's tolong(datetime).
                Expr::bin(
                    BinOp::Plus,
                    Expr::bin(BinOp::Div, ns_of(x.e), Expr::long(TICK_NS)),
                    Expr::long(EPOCH_TICKS),
                )
            }
            (Ty::Long, Ty::Timespan) => Expr::bin(BinOp::Div, ns_of(x.e), Expr::long(TICK_NS)),
            (Ty::Timespan, Ty::Long | Ty::Int) => duration_from_ns(Expr::bin(
                BinOp::Mul,
                Expr::try_cast(x.e, SqlType::BigInt),
                Expr::long(TICK_NS),
            )),
            (Ty::Long | Ty::Int | Ty::Real | Ty::Bool, _) => {
                let t = text(self, x);
                let t = if *ty == Ty::Bool {
                    Expr::call("lower", vec![t])
                } else {
                    t
                };
                Expr::try_cast(
                    t,
                    match ty {
                        Ty::Long => SqlType::BigInt,
                        Ty::Int => SqlType::Int,
                        Ty::Real => SqlType::Double,
                        _ => SqlType::Boolean,
                    },
                )
            }
            (Ty::Datetime, _) => {
                let t = text(self, x);
                Expr::call("kql_todatetime", vec![t])
            }
            (Ty::Timespan, _) => {
                let t = text(self, x);
                Expr::call("kql_totimespan", vec![t])
            }
            (t, from) => {
                return self.error(
                    "KQL0205",
                    format!("cannot convert {} to {}", from.kql_name(), t.kql_name()),
                    span,
                );
            }
        };
        Ok(TExpr::new(e, ty.clone(), true).named(name))
    }

    /// Arithmetic with KQL's typing: integers stay integers, datetimes and timespans combine.
    pub(crate) fn arith(&mut self, op: BinaryOp, a: TExpr, b: TExpr, span: Span) -> B<TExpr> {
        let a = self.numeric_dyn(a, span)?;
        let b = self.numeric_dyn(b, span)?;
        if let Some(folded) = fold_arith(op, &a, &b) {
            return Ok(folded);
        }
        let nullable = a.nullable || b.nullable;
        let sop = match op {
            BinaryOp::Add => BinOp::Plus,
            BinaryOp::Sub => BinOp::Minus,
            BinaryOp::Mul => BinOp::Mul,
            BinaryOp::Div => BinOp::Div,
            _ => BinOp::Mod,
        };
        use Ty::*;
        let (e, ty) = match (&a.ty, &b.ty) {
            (Null, _) | (_, Null) => (Expr::null(Null), Null),
            (Int, Int) => (Expr::bin(sop, a.e, b.e), Int),
            (Int | Long, Int | Long) => (Expr::bin(sop, a.e, b.e), Long),
            (Int | Long | Real, Int | Long | Real) => (
                Expr::bin(
                    sop,
                    Expr::cast(a.e, SqlType::Double),
                    Expr::cast(b.e, SqlType::Double),
                ),
                Real,
            ),
            (Datetime, Datetime) if sop == BinOp::Minus => (Expr::bin(sop, a.e, b.e), Timespan),
            (Datetime, Timespan) if matches!(sop, BinOp::Plus | BinOp::Minus) => {
                (Expr::bin(sop, a.e, b.e), Datetime)
            }
            (Timespan, Datetime) if sop == BinOp::Plus => (Expr::bin(sop, b.e, a.e), Datetime),
            (Timespan, Timespan) if matches!(sop, BinOp::Plus | BinOp::Minus) => {
                (Expr::bin(sop, a.e, b.e), Timespan)
            }
            (Timespan, Timespan) if sop == BinOp::Div => (
                Expr::bin(
                    BinOp::Div,
                    Expr::cast(ns_of(a.e), SqlType::Double),
                    Expr::cast(ns_of(b.e), SqlType::Double),
                ),
                Real,
            ),
            (Timespan, Timespan) if sop == BinOp::Mod => (
                duration_from_ns(Expr::bin(BinOp::Mod, ns_of(a.e), ns_of(b.e))),
                Timespan,
            ),
            (Timespan, Int | Long | Real) if matches!(sop, BinOp::Mul | BinOp::Div) => (
                duration_from_ns(Expr::cast(
                    Expr::bin(
                        sop,
                        Expr::cast(ns_of(a.e), SqlType::Double),
                        Expr::cast(b.e, SqlType::Double),
                    ),
                    SqlType::BigInt,
                )),
                Timespan,
            ),
            (Int | Long | Real, Timespan) if sop == BinOp::Mul => (
                duration_from_ns(Expr::cast(
                    Expr::bin(
                        sop,
                        Expr::cast(a.e, SqlType::Double),
                        Expr::cast(ns_of(b.e), SqlType::Double),
                    ),
                    SqlType::BigInt,
                )),
                Timespan,
            ),
            (x, y) => {
                return self.error(
                    "KQL0205",
                    format!(
                        "operator `{}` is not defined for {} and {}",
                        op.text(),
                        x.kql_name(),
                        y.kql_name()
                    ),
                    span,
                );
            }
        };
        Ok(TExpr::new(e, ty, nullable))
    }

    /// Dynamic operands of arithmetic are read as numbers (or kept when their shape is numeric).
    fn numeric_dyn(&mut self, x: TExpr, span: Span) -> B<TExpr> {
        match x.ty.dyn_scalar() {
            Some(t) if t.is_numeric() || t == Ty::Datetime || t == Ty::Timespan => {
                Ok(TExpr { ty: t, ..x })
            }
            _ if x.ty.is_dynamic() => self.convert(x, &Ty::Real, span),
            _ => Ok(x),
        }
    }

    fn in_list(
        &mut self,
        op: ListOp,
        expr: &ast::Expr,
        list: &[ast::Expr],
        input: &Rel,
        ctx: Ctx,
    ) -> B<TExpr> {
        let x = self.expr(expr, input, ctx.inner())?;
        // A single subquery: `x in (T | project c)`.
        let tabular_item = match list {
            [item] => match &item.kind {
                ExprKind::Subquery(t) => Some((item, self.tabular(t, None)?)),
                // `x in (T)` where `T` is a tabular `let`.
                ExprKind::Name(id) if input.column(&id.name).is_none() => {
                    self.table_by_name(&id.name).map(|r| (item, r))
                }
                _ => None,
            },
            _ => None,
        };
        if let Some((item, rel)) = tabular_item {
            let cols: Vec<_> = rel.visible().collect();
            if cols.len() != 1 {
                return self.error(
                    "KQL0205",
                    format!(
                        "the subquery of `{}` must have one column, it has {}",
                        op.text(),
                        cols.len()
                    ),
                    item.span,
                );
            }
            let col_ty = cols[0].ty.clone();
            let rel = crate::kql::binder::tabular::visible_only(rel);
            let x = if matches!(op, ListOp::InCi | ListOp::NotInCi) {
                return self.error(
                    "KQL0206",
                    "`in~` with a subquery is not supported; use `in`",
                    item.span,
                );
            } else if x.ty != col_ty && x.ty.is_dynamic() {
                self.dyn_as(x, &col_ty, expr.span)?
            } else {
                x
            };
            let negated = matches!(op, ListOp::NotIn);
            return Ok(TExpr::new(
                Expr::InRel(Box::new(x.e), Box::new(rel), negated),
                Ty::Bool,
                true,
            ));
        }
        // Items: scalars, or dynamic arrays (literal or `let`) flattened into the list.
        let mut items = Vec::new();
        for item in list {
            let t = self.expr(item, input, ctx.inner())?;
            match &t.e {
                Expr::Call(f, elems)
                    if f == "make_array" && elems.iter().all(|e| e.as_lit().is_some()) =>
                {
                    let ity =
                        t.ty.list_item()
                            .map(|d| Ty::from_arrow(&d))
                            .unwrap_or(Ty::String);
                    for e in elems {
                        items.push(TExpr::new(e.clone(), ity.clone(), false));
                    }
                }
                Expr::Lit(Lit::Str(json), Ty::Json) => {
                    match serde_json::from_str::<serde_json::Value>(json) {
                        Ok(serde_json::Value::Array(vals)) => {
                            for v in vals {
                                items.push(json_scalar(&v));
                            }
                        }
                        _ => items.push(t),
                    }
                }
                _ => items.push(t),
            }
        }
        match op {
            ListOp::HasAny | ListOp::HasAll => {
                let hay = self.tostring(x);
                let mut parts = Vec::new();
                for it in items {
                    let term = self.tostring(it);
                    parts.push(Expr::call("kql_has", vec![hay.e.clone(), term.e]));
                }
                let e = parts
                    .into_iter()
                    .reduce(|a, b| {
                        if op == ListOp::HasAny {
                            Expr::or(a, b)
                        } else {
                            Expr::and(a, b)
                        }
                    })
                    .unwrap_or(Expr::bool(op == ListOp::HasAll));
                Ok(TExpr::new(e, Ty::Bool, false))
            }
            ListOp::InCi | ListOp::NotInCi => {
                let xs = lower(self.tostring(x));
                let mut list = Vec::new();
                for it in items {
                    list.push(lower(self.tostring(it)));
                }
                Ok(TExpr::new(
                    Expr::InList(Box::new(xs), list, op == ListOp::NotInCi),
                    Ty::Bool,
                    false,
                ))
            }
            ListOp::In | ListOp::NotIn => {
                let mut x = x;
                let mut list = Vec::new();
                for it in items {
                    let (a, b) = self.unify_compare(x.clone(), it, expr.span)?;
                    x = a;
                    list.push(b.e);
                }
                let negated = op == ListOp::NotIn;
                let nullable = x.nullable;
                let e = Expr::InList(Box::new(x.e.clone()), list, negated);
                // KQL: a null is not in any list, and is `!in` every list.
                let e = match (nullable, negated, ctx.pred) {
                    (false, _, _) | (true, false, true) => e,
                    (true, false, false) => Expr::coalesce(e, Expr::bool(false)),
                    (true, true, _) => Expr::or(Expr::is_null(x.e), e),
                };
                Ok(TExpr::new(e, Ty::Bool, false))
            }
        }
    }

    /// `x.name` / `x['name']` on a dynamic value.
    pub(crate) fn member(&mut self, base: TExpr, name: &str, span: Span) -> B<TExpr> {
        match &base.ty {
            Ty::Dyn(DataType::Struct(fields)) => match fields.iter().find(|f| f.name() == name) {
                Some(f) => Ok(TExpr::new(
                    Expr::Field(Box::new(base.e), name.to_string()),
                    Ty::Dyn(f.data_type().clone()),
                    true,
                )),
                None => {
                    let names: Vec<&str> = fields.iter().map(|f| f.name().as_str()).collect();
                    let mut d = Diagnostic::warning(
                        "KQL0250",
                        format!("no property `{name}` here: the value is always null"),
                        span,
                    )
                    .with_hint(format!("properties are: {}", names.join(", ")));
                    if let Some(s) = crate::kql::parser::did_you_mean(name, &names) {
                        d = d.with_hint(format!(
                            "property names are case-sensitive: did you mean `{s}`?"
                        ));
                    }
                    self.diags.push(d);
                    Ok(TExpr::new(Expr::null(Ty::Null), Ty::Null, true))
                }
            },
            Ty::Json => Ok(TExpr::new(
                Expr::call("kql_json_get", vec![base.e, Expr::str(name)]),
                Ty::Json,
                true,
            )),
            Ty::Null | Ty::Dyn(_) => Ok(TExpr::new(Expr::null(Ty::Null), Ty::Null, true)),
            t => self.error(
                "KQL0205",
                format!("`.{name}` needs a dynamic value, found {}", t.kql_name()),
                span,
            ),
        }
    }

    /// `x[i]` on a dynamic array (or `x['name']` on a bag).
    pub(crate) fn index(&mut self, base: TExpr, idx: TExpr, span: Span) -> B<TExpr> {
        if let Some(Lit::Str(name)) = idx.e.as_lit() {
            let name = name.clone();
            return self.member(base, &name, span);
        }
        if !matches!(idx.ty, Ty::Long | Ty::Int) {
            return self.error("KQL0205", "an array index must be an integer", span);
        }
        match &base.ty {
            Ty::Dyn(DataType::List(f) | DataType::LargeList(f)) => {
                // SQL lists are 1-based; negative indexes count from the end in both.
                let i = match idx.e.as_lit() {
                    Some(Lit::Long(n)) if *n >= 0 => Expr::long(n + 1),
                    Some(Lit::Long(n)) => Expr::long(*n),
                    _ => Expr::case(
                        vec![(
                            Expr::bin(BinOp::Lt, idx.e.clone(), Expr::long(0)),
                            idx.e.clone(),
                        )],
                        Some(Expr::bin(BinOp::Plus, idx.e, Expr::long(1))),
                    ),
                };
                Ok(TExpr::new(
                    Expr::Index(Box::new(base.e), Box::new(i)),
                    Ty::Dyn(f.data_type().clone()),
                    true,
                ))
            }
            Ty::Json => Ok(TExpr::new(
                Expr::call("kql_json_index", vec![base.e, idx.e]),
                Ty::Json,
                true,
            )),
            Ty::Null | Ty::Dyn(_) => Ok(TExpr::new(Expr::null(Ty::Null), Ty::Null, true)),
            t => self.error(
                "KQL0205",
                format!("indexing needs a dynamic array, found {}", t.kql_name()),
                span,
            ),
        }
    }
}

/// A regex error in one line (the regex crate's message spans several).
pub(crate) fn regex_message(err: &regex::Error) -> String {
    let text = err.to_string();
    let last = text
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("");
    format!(
        "invalid regular expression: {}",
        last.trim().trim_start_matches("error: ")
    )
}

/// `tostring(list) == "[]"` (`!=`) as a length test: the JSON text of a typed list is `[]`
/// exactly when it is empty, and `""` when it is null. The list's elements are then never
/// turned into text, and the scan reads only its structure (`narrow`), not its values.
fn empty_list_test(text: &TExpr, other: &TExpr, negated: bool) -> Option<TExpr> {
    let list = text.json_of.as_deref()?;
    if !matches!(list.ty, Ty::Dyn(DataType::List(_) | DataType::LargeList(_)))
        || other.e.as_lit() != Some(&Lit::Str("[]".into()))
    {
        return None;
    }
    let length = Expr::call("cardinality", vec![list.e.clone()]);
    let op = if negated { BinOp::NotEq } else { BinOp::Eq };
    let test = Expr::bin(op, length, Expr::long(0));
    Some(TExpr::new(
        Expr::coalesce(test, Expr::bool(negated)),
        Ty::Bool,
        false,
    ))
}

/// `a == b` / `a != b` with KQL's null rules: null vs value is false (`!=`: true), null vs null
/// is null. In a predicate, null and false both drop the row, so plain SQL forms serve.
pub(crate) fn equality(a: TExpr, b: TExpr, negated: bool, pred: bool) -> TExpr {
    if let Some(test) =
        empty_list_test(&a, &b, negated).or_else(|| empty_list_test(&b, &a, negated))
    {
        return test;
    }
    let both_null_possible = a.nullable && b.nullable;
    let any_null = a.nullable || b.nullable;
    let (ae, be) = (a.e, b.e);
    let e = if !any_null {
        Expr::bin(if negated { BinOp::NotEq } else { BinOp::Eq }, ae, be)
    } else if !negated && pred {
        Expr::bin(BinOp::Eq, ae, be)
    } else if negated && (pred || !both_null_possible) {
        Expr::IsDistinct(Box::new(ae), Box::new(be), false)
    } else if !negated && !both_null_possible {
        Expr::coalesce(Expr::bin(BinOp::Eq, ae, be), Expr::bool(false))
    } else {
        Expr::case(
            vec![(
                Expr::and(Expr::is_null(ae.clone()), Expr::is_null(be.clone())),
                Expr::null(Ty::Bool),
            )],
            Some(Expr::IsDistinct(Box::new(ae), Box::new(be), !negated)),
        )
    };
    TExpr::new(e, Ty::Bool, both_null_possible)
}

/// `has`, `contains`, `startswith`, ... (operands already strings).
pub(crate) fn string_op(op: StringOp, a: Expr, b: Expr) -> Expr {
    let (a, b) = if op.case_sensitive
        || matches!(
            op.kind,
            StringOpKind::Has | StringOpKind::HasPrefix | StringOpKind::HasSuffix
        ) {
        (a, b)
    } else {
        (lower_expr(a), lower_expr(b))
    };
    let cs = if op.case_sensitive { "_cs" } else { "" };
    let e = match op.kind {
        StringOpKind::Has => Expr::call(&format!("kql_has{cs}"), vec![a, b]),
        StringOpKind::HasPrefix => Expr::call(&format!("kql_hasprefix{cs}"), vec![a, b]),
        StringOpKind::HasSuffix => Expr::call(&format!("kql_hassuffix{cs}"), vec![a, b]),
        StringOpKind::Contains => {
            Expr::bin(BinOp::Gt, Expr::call("strpos", vec![a, b]), Expr::long(0))
        }
        StringOpKind::StartsWith => Expr::call("starts_with", vec![a, b]),
        StringOpKind::EndsWith => Expr::call("ends_with", vec![a, b]),
    };
    if op.negated { Expr::not(e) } else { e }
}

fn lower(x: TExpr) -> Expr {
    lower_expr(x.e)
}

/// `lower(x)`, folded for literals.
pub(crate) fn lower_expr(e: Expr) -> Expr {
    match e {
        Expr::Lit(Lit::Str(s), ty) => Expr::Lit(Lit::Str(s.to_lowercase()), ty),
        e => Expr::call("lower", vec![e]),
    }
}

/// Ticks between 0001-01-01 and the Unix epoch.
pub(crate) const EPOCH_TICKS: i64 = 621_355_968_000_000_000;

/// The nanoseconds of a datetime or timespan, as `BIGINT`.
pub(crate) fn ns_of(e: Expr) -> Expr {
    match e {
        Expr::Lit(Lit::Timespan(n) | Lit::Datetime(n), _) => Expr::long(n),
        e => Expr::cast(e, SqlType::BigInt),
    }
}

/// A `BIGINT` of nanoseconds as a timespan.
pub(crate) fn duration_from_ns(e: Expr) -> Expr {
    match e {
        Expr::Lit(Lit::Long(n), _) => Expr::Lit(Lit::Timespan(n), Ty::Timespan),
        e => Expr::ArrowCast(Box::new(e), "Duration(Nanosecond)".into()),
    }
}

/// A `BIGINT` of nanoseconds since the epoch as a UTC datetime.
pub(crate) fn datetime_from_ns(e: Expr) -> Expr {
    match e {
        Expr::Lit(Lit::Long(n), _) => Expr::Lit(Lit::Datetime(n), Ty::Datetime),
        e => Expr::ArrowCast(Box::new(e), "Timestamp(Nanosecond, Some(\"UTC\"))".into()),
    }
}

/// Folds arithmetic on literals (so `ago(7d)`, `now() - 1h` and `datetime(...) + 1d` are
/// constants that filter pushdown can use).
fn fold_arith(op: BinaryOp, a: &TExpr, b: &TExpr) -> Option<TExpr> {
    let (la, lb) = (a.e.as_lit()?, b.e.as_lit()?);
    use Lit::*;
    let lit = |l: Lit, ty: Ty| Some(TExpr::new(Expr::Lit(l, ty.clone()), ty, false));
    let int_op = |x: i64, y: i64| -> Option<i64> {
        match op {
            BinaryOp::Add => Some(x.wrapping_add(y)),
            BinaryOp::Sub => Some(x.wrapping_sub(y)),
            BinaryOp::Mul => Some(x.wrapping_mul(y)),
            BinaryOp::Div if y != 0 => Some(x.wrapping_div(y)),
            BinaryOp::Mod if y != 0 => Some(x.wrapping_rem(y)),
            _ => None,
        }
    };
    match (la, lb) {
        (Long(x), Long(y)) => lit(Long(int_op(*x, *y)?), Ty::Long),
        (Real(x), Real(y)) => lit(
            Real(match op {
                BinaryOp::Add => x + y,
                BinaryOp::Sub => x - y,
                BinaryOp::Mul => x * y,
                BinaryOp::Div => x / y,
                _ => x % y,
            }),
            Ty::Real,
        ),
        (Datetime(x), Timespan(y)) => match op {
            BinaryOp::Add => lit(Datetime(x.checked_add(*y)?), Ty::Datetime),
            BinaryOp::Sub => lit(Datetime(x.checked_sub(*y)?), Ty::Datetime),
            _ => None,
        },
        (Timespan(x), Datetime(y)) if op == BinaryOp::Add => {
            lit(Datetime(x.checked_add(*y)?), Ty::Datetime)
        }
        (Datetime(x), Datetime(y)) if op == BinaryOp::Sub => {
            lit(Timespan(x.checked_sub(*y)?), Ty::Timespan)
        }
        (Timespan(x), Timespan(y)) => match op {
            BinaryOp::Add | BinaryOp::Sub | BinaryOp::Mod => {
                lit(Timespan(int_op(*x, *y)?), Ty::Timespan)
            }
            BinaryOp::Div if *y != 0 => lit(Real(*x as f64 / *y as f64), Ty::Real),
            _ => None,
        },
        (Timespan(x), Long(y)) => match op {
            BinaryOp::Mul => lit(Timespan(x.checked_mul(*y)?), Ty::Timespan),
            BinaryOp::Div if *y != 0 => lit(Timespan(x / y), Ty::Timespan),
            _ => None,
        },
        (Long(x), Timespan(y)) if op == BinaryOp::Mul => {
            lit(Timespan(x.checked_mul(*y)?), Ty::Timespan)
        }
        _ => None,
    }
}

/// `datetime(...)` contents: ISO 8601 with or without time, zone, fraction.
pub(crate) fn parse_datetime_literal(text: &str) -> Option<i64> {
    let t = text.trim();
    if let Ok(ns) = crate::time::parse_timestamp(t) {
        return Some(ns);
    }
    for f in [
        "%Y-%m-%d %H:%M",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%MZ",
        "%Y-%m-%dT%H:%MZ",
    ] {
        if let Ok(dt) = chrono::NaiveDateTime::parse_from_str(t, f) {
            return dt.and_utc().timestamp_nanos_opt();
        }
    }
    if let Ok(dt) = chrono::DateTime::parse_from_rfc2822(t) {
        return dt.timestamp_nanos_opt();
    }
    let date = chrono::NaiveDate::parse_from_str(t.trim_end_matches('Z'), "%Y-%m-%d").ok()?;
    date.and_hms_opt(0, 0, 0)?.and_utc().timestamp_nanos_opt()
}

/// A `dynamic(...)` literal: arrays of strings or of longs become typed lists; anything else
/// is JSON text.
pub(crate) fn dynamic_literal(d: &ast::Dynamic) -> TExpr {
    // A scalar inside `dynamic(...)` is a dynamic value of that scalar's type.
    if let ast::Dynamic::Scalar(l) = d {
        let (e, dt) = match l.as_ref() {
            Literal::String { value, .. } => (Expr::str(value), DataType::Utf8),
            Literal::Long(n) => (Expr::long(*n), DataType::Int64),
            Literal::Real(f) => (Expr::Lit(Lit::Real(*f), Ty::Real), DataType::Float64),
            Literal::Bool(b) => (Expr::bool(*b), DataType::Boolean),
            _ => (Expr::Lit(Lit::Null, Ty::Null), DataType::Null),
        };
        if dt != DataType::Null {
            return TExpr::new(e, Ty::Dyn(dt), false);
        }
    }
    if let ast::Dynamic::Array(items) = d {
        let strings: Option<Vec<Expr>> = items
            .iter()
            .map(|i| match i {
                ast::Dynamic::Scalar(l) => match l.as_ref() {
                    Literal::String { value, .. } => Some(Expr::str(value)),
                    _ => None,
                },
                _ => None,
            })
            .collect();
        let longs: Option<Vec<Expr>> = items
            .iter()
            .map(|i| match i {
                ast::Dynamic::Scalar(l) => match l.as_ref() {
                    Literal::Long(n) => Some(Expr::long(*n)),
                    _ => None,
                },
                _ => None,
            })
            .collect();
        if !items.is_empty() {
            if let Some(s) = strings {
                return TExpr::new(
                    Expr::call("make_array", s),
                    Ty::Dyn(DataType::List(std::sync::Arc::new(
                        arrow::datatypes::Field::new("item", DataType::Utf8, true),
                    ))),
                    false,
                );
            }
            if let Some(n) = longs {
                return TExpr::new(
                    Expr::call("make_array", n),
                    Ty::Dyn(DataType::List(std::sync::Arc::new(
                        arrow::datatypes::Field::new("item", DataType::Int64, true),
                    ))),
                    false,
                );
            }
        }
    }
    let v = dynamic_to_json(d);
    if v.is_null() {
        return TExpr::new(Expr::null(Ty::Json), Ty::Json, true);
    }
    TExpr::new(
        Expr::Lit(Lit::Str(v.to_string()), Ty::Json),
        Ty::Json,
        false,
    )
}

fn dynamic_to_json(d: &ast::Dynamic) -> serde_json::Value {
    use serde_json::Value;
    match d {
        ast::Dynamic::Null => Value::Null,
        ast::Dynamic::Array(items) => Value::Array(items.iter().map(dynamic_to_json).collect()),
        ast::Dynamic::Bag(props) => Value::Object(
            props
                .iter()
                .map(|(k, v)| (k.clone(), dynamic_to_json(v)))
                .collect(),
        ),
        ast::Dynamic::Scalar(l) => match l.as_ref() {
            Literal::Bool(b) => Value::Bool(*b),
            Literal::Long(n) => Value::from(*n),
            Literal::Real(f) => serde_json::Number::from_f64(*f).map_or(Value::Null, Value::Number),
            Literal::String { value, .. } => Value::String(value.clone()),
            Literal::Guid(g) => Value::String(g.clone()),
            Literal::Datetime(t) => match parse_datetime_literal(t) {
                Some(ns) => Value::String(crate::time::format_rfc3339_nanos(ns)),
                None => Value::String(t.clone()),
            },
            Literal::Timespan(t) => Value::from(*t),
            _ => Value::Null,
        },
    }
}

/// An element of a JSON array literal as a scalar list item.
fn json_scalar(v: &serde_json::Value) -> TExpr {
    match v {
        serde_json::Value::String(s) => TExpr::new(Expr::str(s), Ty::String, false),
        serde_json::Value::Bool(b) => TExpr::new(Expr::bool(*b), Ty::Bool, false),
        serde_json::Value::Number(n) => match n.as_i64() {
            Some(i) => TExpr::new(Expr::long(i), Ty::Long, false),
            None => TExpr::new(
                Expr::Lit(Lit::Real(n.as_f64().unwrap_or(0.0)), Ty::Real),
                Ty::Real,
                false,
            ),
        },
        other => TExpr::new(
            Expr::Lit(Lit::Str(other.to_string()), Ty::Json),
            Ty::Json,
            false,
        ),
    }
}
