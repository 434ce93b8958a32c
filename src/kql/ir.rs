//! The typed intermediate representation between the binder and the SQL generator.
//!
//! A query is a tree of relations ([`Rel`]); every relation knows its output [`Column`]s (name,
//! KQL type, nullability) and the order its rows are meant to have. Expressions ([`Expr`]) are
//! already resolved: they name columns of their input relation, SQL functions (DataFusion's own
//! or the `kql_*` UDFs), and typed literals. The SQL generator turns this tree into a
//! `sqlparser` syntax tree without looking back at KQL.

use crate::kql::types::Ty;

/// One output column of a relation.
#[derive(Clone, Debug, PartialEq)]
pub struct Column {
    pub name: String,
    pub ty: Ty,
    pub nullable: bool,
    /// Carried only to keep an earlier `sort` order; never visible to KQL names or the output.
    pub hidden: bool,
}

/// A sort key over the relation's own columns.
#[derive(Clone, Debug, PartialEq)]
pub struct SortKey {
    pub expr: Expr,
    pub asc: bool,
    pub nulls_first: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Rel {
    pub kind: RelKind,
    pub columns: Vec<Column>,
    /// The row order this relation promises (keys over `columns`), empty when unordered.
    pub order: Vec<SortKey>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JoinKind {
    Inner,
    Left,
    Right,
    Full,
    LeftSemi,
    LeftAnti,
    RightSemi,
    RightAnti,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    Left,
    Right,
}

#[derive(Clone, Debug, PartialEq)]
pub enum RelKind {
    /// A registered table; `columns` lists the ones read.
    Scan {
        table: String,
    },
    /// Literal rows (`datatable`, `print`); each row has one expression per column.
    Values {
        rows: Vec<Vec<Expr>>,
    },
    /// `range`: `generate_series(start, stop, step)` as one `Int64` column named `value`, then
    /// the binder's projection.
    Series {
        start: Expr,
        stop: Expr,
        step: Expr,
    },
    /// One expression per output column (hidden ones included), in column order.
    Project {
        input: Box<Rel>,
        exprs: Vec<Expr>,
    },
    Filter {
        input: Box<Rel>,
        predicate: Expr,
    },
    /// Output columns: `keys` then `aggregates`.
    Aggregate {
        input: Box<Rel>,
        keys: Vec<Expr>,
        aggregates: Vec<Expr>,
    },
    /// Sorts (the generator emits `ORDER BY` only where it matters: before a limit, and at the end).
    Sort {
        input: Box<Rel>,
        keys: Vec<SortKey>,
    },
    Limit {
        input: Box<Rel>,
        count: u64,
    },
    Distinct {
        input: Box<Rel>,
    },
    /// Output columns: one per `outputs` entry, taken from the named side's column.
    Join {
        left: Box<Rel>,
        right: Box<Rel>,
        kind: JoinKind,
        /// (left expression, right expression) pairs compared with `=` (`IS NOT DISTINCT
        /// FROM` when `null_safe`); no pair is a cross join.
        on: Vec<(Expr, Expr)>,
        null_safe: bool,
        outputs: Vec<(Side, String)>,
    },
    /// `UNION ALL` of inputs already projected to this relation's columns.
    Union {
        inputs: Vec<Rel>,
    },
    /// `materialize(T)`: the input is computed once per query and its rows reused wherever
    /// the node appears (a `let` clones it into every use). [`crate::kql::compile`] takes
    /// it out before any pass (every copy is then still the same) and runs it as a separate
    /// statement whose result the query reads as a table.
    Materialized {
        input: Box<Rel>,
    },
}

/// SQL binary operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinOp {
    Eq,
    NotEq,
    Lt,
    LtEq,
    Gt,
    GtEq,
    And,
    Or,
    Plus,
    Minus,
    Mul,
    Div,
    Mod,
}

/// SQL cast targets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SqlType {
    Boolean,
    Int,
    BigInt,
    Double,
    Varchar,
}

/// A literal value (typed by the [`Expr::Lit`] that holds it).
#[derive(Clone, Debug, PartialEq)]
pub enum Lit {
    Null,
    Bool(bool),
    Int(i32),
    Long(i64),
    Real(f64),
    Str(String),
    /// Nanoseconds since the Unix epoch, UTC.
    Datetime(i64),
    /// Nanoseconds.
    Timespan(i64),
}

#[derive(Clone, Debug, PartialEq)]
pub enum Expr {
    /// A column of the input relation.
    Col(String),
    /// A column of one side of a join (in `on` conditions and join outputs).
    SideCol(Side, String),
    Lit(Lit, Ty),
    /// A scalar function call (DataFusion built-in or `kql_*` UDF).
    Call(String, Vec<Expr>),
    /// An aggregate call: `name([DISTINCT] args [ORDER BY ...]) [FILTER (WHERE f)]`.
    Agg {
        name: String,
        args: Vec<Expr>,
        distinct: bool,
        filter: Option<Box<Expr>>,
        order_by: Vec<SortKey>,
    },
    /// A window function: `name(args) OVER (PARTITION BY ... ORDER BY ...)`.
    Window {
        name: String,
        args: Vec<Expr>,
        partition_by: Vec<Expr>,
        order_by: Vec<SortKey>,
    },
    /// `unnest(list)` in a projection (several in one projection expand in parallel).
    Unnest(Box<Expr>),
    Binary(BinOp, Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
    Neg(Box<Expr>),
    /// `x IS NULL` (`negated`: `IS NOT NULL`).
    IsNull(Box<Expr>, bool),
    /// `a IS DISTINCT FROM b` (`negated`: `IS NOT DISTINCT FROM`).
    IsDistinct(Box<Expr>, Box<Expr>, bool),
    /// `CASE WHEN c THEN v ... ELSE e END`.
    Case(Vec<(Expr, Expr)>, Option<Box<Expr>>),
    /// `CAST` (or `TRY_CAST` when the flag is set).
    Cast(Box<Expr>, SqlType, bool),
    /// `arrow_cast(x, 'type')` for types SQL cannot name (durations, UTC timestamps).
    ArrowCast(Box<Expr>, String),
    InList(Box<Expr>, Vec<Expr>, bool),
    /// `x [NOT] IN (subquery)`; the relation has one visible column.
    InRel(Box<Expr>, Box<Rel>, bool),
    Between(Box<Expr>, Box<Expr>, Box<Expr>, bool),
    /// A struct field: `get_field(x, 'name')`.
    Field(Box<Expr>, String),
    /// A list element, 1-based as in SQL (negative counts from the end).
    Index(Box<Expr>, Box<Expr>),
    /// A scalar subquery (first column of the first row).
    ScalarRel(Box<Rel>),
}

impl Expr {
    pub fn col(name: &str) -> Expr {
        Expr::Col(name.to_string())
    }

    pub fn call(name: &str, args: Vec<Expr>) -> Expr {
        Expr::Call(name.to_string(), args)
    }

    pub fn str(s: &str) -> Expr {
        Expr::Lit(Lit::Str(s.to_string()), Ty::String)
    }

    pub fn long(n: i64) -> Expr {
        Expr::Lit(Lit::Long(n), Ty::Long)
    }

    pub fn bool(b: bool) -> Expr {
        Expr::Lit(Lit::Bool(b), Ty::Bool)
    }

    pub fn null(ty: Ty) -> Expr {
        Expr::Lit(Lit::Null, ty)
    }

    pub fn bin(op: BinOp, a: Expr, b: Expr) -> Expr {
        Expr::Binary(op, Box::new(a), Box::new(b))
    }

    pub fn and(a: Expr, b: Expr) -> Expr {
        Expr::bin(BinOp::And, a, b)
    }

    pub fn or(a: Expr, b: Expr) -> Expr {
        Expr::bin(BinOp::Or, a, b)
    }

    #[allow(clippy::should_implement_trait)]
    pub fn not(a: Expr) -> Expr {
        Expr::Not(Box::new(a))
    }

    pub fn is_null(a: Expr) -> Expr {
        Expr::IsNull(Box::new(a), false)
    }

    pub fn is_not_null(a: Expr) -> Expr {
        Expr::IsNull(Box::new(a), true)
    }

    pub fn coalesce(a: Expr, b: Expr) -> Expr {
        Expr::call("coalesce", vec![a, b])
    }

    pub fn cast(a: Expr, t: SqlType) -> Expr {
        Expr::Cast(Box::new(a), t, false)
    }

    pub fn try_cast(a: Expr, t: SqlType) -> Expr {
        Expr::Cast(Box::new(a), t, true)
    }

    pub fn case(whens: Vec<(Expr, Expr)>, otherwise: Option<Expr>) -> Expr {
        Expr::Case(whens, otherwise.map(Box::new))
    }

    /// The literal value, if this is a literal.
    pub fn as_lit(&self) -> Option<&Lit> {
        match self {
            Expr::Lit(l, _) => Some(l),
            _ => None,
        }
    }

    /// Whether the expression contains an aggregate call (outside subqueries).
    pub fn has_aggregate(&self) -> bool {
        let mut found = false;
        self.visit(&mut |e| found |= matches!(e, Expr::Agg { .. }));
        found
    }

    /// Whether the expression expands a list (`unnest`, outside subqueries).
    pub fn has_unnest(&self) -> bool {
        let mut found = false;
        self.visit(&mut |e| found |= matches!(e, Expr::Unnest(_)));
        found
    }

    /// Whether the expression reads a column of its input (outside subqueries).
    pub fn references_columns(&self) -> bool {
        let mut found = false;
        self.visit(&mut |e| found |= matches!(e, Expr::Col(_) | Expr::SideCol(..)));
        found
    }

    /// Visits this expression and its sub-expressions (not into subquery relations).
    pub fn visit(&self, f: &mut dyn FnMut(&Expr)) {
        f(self);
        match self {
            Expr::Col(_) | Expr::SideCol(..) | Expr::Lit(..) | Expr::ScalarRel(_) => {}
            Expr::Call(_, args) => args.iter().for_each(|a| a.visit(f)),
            Expr::Agg {
                args,
                filter,
                order_by,
                ..
            } => {
                args.iter().for_each(|a| a.visit(f));
                if let Some(x) = filter {
                    x.visit(f);
                }
                order_by.iter().for_each(|k| k.expr.visit(f));
            }
            Expr::Window {
                args,
                partition_by,
                order_by,
                ..
            } => {
                args.iter().for_each(|a| a.visit(f));
                partition_by.iter().for_each(|a| a.visit(f));
                order_by.iter().for_each(|k| k.expr.visit(f));
            }
            Expr::Unnest(a) | Expr::Not(a) | Expr::Neg(a) | Expr::IsNull(a, _) => a.visit(f),
            Expr::Cast(a, ..) | Expr::ArrowCast(a, _) | Expr::Field(a, _) => a.visit(f),
            Expr::InRel(a, ..) => a.visit(f),
            Expr::Binary(_, a, b) | Expr::IsDistinct(a, b, _) | Expr::Index(a, b) => {
                a.visit(f);
                b.visit(f);
            }
            Expr::Case(whens, otherwise) => {
                for (c, v) in whens {
                    c.visit(f);
                    v.visit(f);
                }
                if let Some(o) = otherwise {
                    o.visit(f);
                }
            }
            Expr::InList(a, list, _) => {
                a.visit(f);
                list.iter().for_each(|x| x.visit(f));
            }
            Expr::Between(a, b, c, _) => {
                a.visit(f);
                b.visit(f);
                c.visit(f);
            }
        }
    }

    /// Replaces column references by `f(name)` (used to inline `extend` definitions).
    pub fn map_columns(self, f: &dyn Fn(&str) -> Option<Expr>) -> Expr {
        match self {
            Expr::Col(name) => f(&name).unwrap_or(Expr::Col(name)),
            e => e.map_parts(&mut |x| x.map_columns(f), &mut |r| r),
        }
    }

    /// This expression with every subquery relation in it (`IN (subquery)`, scalar
    /// subqueries) replaced by `f(relation)`.
    pub fn map_subqueries(self, f: &mut dyn FnMut(Rel) -> Rel) -> Expr {
        match self {
            Expr::ScalarRel(r) => Expr::ScalarRel(Box::new(f(*r))),
            Expr::InRel(a, r, n) => Expr::InRel(Box::new(a.map_subqueries(f)), Box::new(f(*r)), n),
            e => e.map_parts(&mut |x| x.map_subqueries(f), &mut |r| r),
        }
    }

    /// This expression with each direct sub-expression replaced by `fe(sub)` and each direct
    /// subquery relation by `fr(rel)`: the one rebuild per variant the mappings above share.
    fn map_parts(self, fe: &mut dyn FnMut(Expr) -> Expr, fr: &mut dyn FnMut(Rel) -> Rel) -> Expr {
        let m = |e: Box<Expr>, fe: &mut dyn FnMut(Expr) -> Expr| Box::new(fe(*e));
        let mv = |v: Vec<Expr>, fe: &mut dyn FnMut(Expr) -> Expr| {
            v.into_iter().map(&mut *fe).collect::<Vec<_>>()
        };
        let mk = |v: Vec<SortKey>, fe: &mut dyn FnMut(Expr) -> Expr| {
            v.into_iter()
                .map(|k| SortKey {
                    expr: fe(k.expr),
                    ..k
                })
                .collect::<Vec<_>>()
        };
        match self {
            e @ (Expr::Col(_) | Expr::SideCol(..) | Expr::Lit(..)) => e,
            Expr::ScalarRel(r) => Expr::ScalarRel(Box::new(fr(*r))),
            Expr::InRel(a, r, n) => Expr::InRel(m(a, fe), Box::new(fr(*r)), n),
            Expr::Call(n, args) => Expr::Call(n, mv(args, fe)),
            Expr::Agg {
                name,
                args,
                distinct,
                filter,
                order_by,
            } => Expr::Agg {
                name,
                args: mv(args, fe),
                distinct,
                filter: filter.map(|x| m(x, fe)),
                order_by: mk(order_by, fe),
            },
            Expr::Window {
                name,
                args,
                partition_by,
                order_by,
            } => Expr::Window {
                name,
                args: mv(args, fe),
                partition_by: mv(partition_by, fe),
                order_by: mk(order_by, fe),
            },
            Expr::Unnest(a) => Expr::Unnest(m(a, fe)),
            Expr::Binary(op, a, b) => Expr::Binary(op, m(a, fe), m(b, fe)),
            Expr::Not(a) => Expr::Not(m(a, fe)),
            Expr::Neg(a) => Expr::Neg(m(a, fe)),
            Expr::IsNull(a, n) => Expr::IsNull(m(a, fe), n),
            Expr::IsDistinct(a, b, n) => Expr::IsDistinct(m(a, fe), m(b, fe), n),
            Expr::Case(whens, otherwise) => Expr::Case(
                whens.into_iter().map(|(c, v)| (fe(c), fe(v))).collect(),
                otherwise.map(|o| m(o, fe)),
            ),
            Expr::Cast(a, t, tr) => Expr::Cast(m(a, fe), t, tr),
            Expr::ArrowCast(a, t) => Expr::ArrowCast(m(a, fe), t),
            Expr::InList(a, l, n) => Expr::InList(m(a, fe), mv(l, fe), n),
            Expr::Between(a, b, c, n) => Expr::Between(m(a, fe), m(b, fe), m(c, fe), n),
            Expr::Field(a, n) => Expr::Field(m(a, fe), n),
            Expr::Index(a, b) => Expr::Index(m(a, fe), m(b, fe)),
        }
    }
}

impl Rel {
    /// This relation with each direct input relation replaced by `f(input)` (subqueries inside
    /// expressions are left as they are).
    pub fn map_inputs(self, f: &mut dyn FnMut(Rel) -> Rel) -> Rel {
        let Rel {
            kind,
            columns,
            order,
        } = self;
        let mut b = |r: Box<Rel>| Box::new(f(*r));
        let kind = match kind {
            RelKind::Project { input, exprs } => RelKind::Project {
                input: b(input),
                exprs,
            },
            RelKind::Filter { input, predicate } => RelKind::Filter {
                input: b(input),
                predicate,
            },
            RelKind::Sort { input, keys } => RelKind::Sort {
                input: b(input),
                keys,
            },
            RelKind::Limit { input, count } => RelKind::Limit {
                input: b(input),
                count,
            },
            RelKind::Distinct { input } => RelKind::Distinct { input: b(input) },
            RelKind::Materialized { input } => RelKind::Materialized { input: b(input) },
            RelKind::Aggregate {
                input,
                keys,
                aggregates,
            } => RelKind::Aggregate {
                input: b(input),
                keys,
                aggregates,
            },
            RelKind::Join {
                left,
                right,
                kind,
                on,
                null_safe,
                outputs,
            } => {
                let left = b(left);
                RelKind::Join {
                    left,
                    right: b(right),
                    kind,
                    on,
                    null_safe,
                    outputs,
                }
            }
            RelKind::Union { inputs } => RelKind::Union {
                inputs: inputs.into_iter().map(&mut *f).collect(),
            },
            k @ (RelKind::Scan { .. } | RelKind::Values { .. } | RelKind::Series { .. }) => k,
        };
        Rel {
            kind,
            columns,
            order,
        }
    }

    /// This relation with every expression it holds (not those of its inputs) replaced by
    /// `f(expr)`: projections, predicates, keys, aggregates, join conditions, literal rows.
    pub fn map_exprs(self, f: &mut dyn FnMut(Expr) -> Expr) -> Rel {
        let keys = |v: Vec<SortKey>, f: &mut dyn FnMut(Expr) -> Expr| -> Vec<SortKey> {
            v.into_iter()
                .map(|k| SortKey {
                    expr: f(k.expr),
                    ..k
                })
                .collect()
        };
        let order = keys(self.order, f);
        let all = |v: Vec<Expr>, f: &mut dyn FnMut(Expr) -> Expr| -> Vec<Expr> {
            v.into_iter().map(&mut *f).collect()
        };
        let kind = match self.kind {
            RelKind::Values { rows } => RelKind::Values {
                rows: rows.into_iter().map(|r| all(r, f)).collect(),
            },
            RelKind::Series { start, stop, step } => RelKind::Series {
                start: f(start),
                stop: f(stop),
                step: f(step),
            },
            RelKind::Project { input, exprs } => RelKind::Project {
                input,
                exprs: all(exprs, f),
            },
            RelKind::Filter { input, predicate } => RelKind::Filter {
                input,
                predicate: f(predicate),
            },
            RelKind::Aggregate {
                input,
                keys: k,
                aggregates,
            } => RelKind::Aggregate {
                input,
                keys: all(k, f),
                aggregates: all(aggregates, f),
            },
            RelKind::Sort { input, keys: k } => RelKind::Sort {
                input,
                keys: keys(k, f),
            },
            RelKind::Join {
                left,
                right,
                kind,
                on,
                null_safe,
                outputs,
            } => RelKind::Join {
                left,
                right,
                kind,
                on: on.into_iter().map(|(l, r)| (f(l), f(r))).collect(),
                null_safe,
                outputs,
            },
            k @ (RelKind::Scan { .. }
            | RelKind::Limit { .. }
            | RelKind::Distinct { .. }
            | RelKind::Union { .. }
            | RelKind::Materialized { .. }) => k,
        };
        Rel {
            kind,
            columns: self.columns,
            order,
        }
    }

    /// The columns KQL can see (hidden sort carriers excluded).
    pub fn visible(&self) -> impl Iterator<Item = &Column> {
        self.columns.iter().filter(|c| !c.hidden)
    }

    pub fn column(&self, name: &str) -> Option<&Column> {
        self.visible().find(|c| c.name == name)
    }
}
