//! SQL generator: [`ir::Rel`] → a `sqlparser` syntax tree → SQL text for DataFusion.
//!
//! Every relation becomes a `SELECT` over its input, named as a common table expression
//! (`WITH "_1" AS (...), "_2" AS (SELECT ... FROM "_1") ...`): the text stays flat however long
//! the pipeline, and DataFusion's optimizer merges the layers. Identifiers are always quoted (case is kept), string
//! literals are `sqlparser` values (escaped by its printer), and binary operands are
//! parenthesized explicitly, so no text is ever glued together. `ORDER BY` appears only where it
//! matters: before a `LIMIT`, and on the outermost query when the result is sorted.

use std::sync::LazyLock;

use datafusion::sql::sqlparser::ast::{
    self as sql, BinaryOperator, CastKind, DuplicateTreatment, Function, FunctionArg,
    FunctionArgExpr, FunctionArgumentClause, FunctionArgumentList, FunctionArguments, GroupByExpr,
    Ident, JoinConstraint, JoinOperator, LimitClause, ObjectName, ObjectNamePart, OrderBy,
    OrderByExpr, OrderByKind, OrderByOptions, Query, Select, SelectItem, SetExpr, SetOperator,
    SetQuantifier, TableAlias, TableFactor, TableWithJoins, UnaryOperator, Value, WindowSpec,
    WindowType,
};
use datafusion::sql::sqlparser::dialect::GenericDialect;
use datafusion::sql::sqlparser::parser::Parser;

use crate::kql::ir::{BinOp, Expr, JoinKind, Lit, Rel, RelKind, Side, SortKey, SqlType};
use crate::kql::types::Ty;

/// Skeleton nodes, parsed once from constant SQL (all fields at their defaults).
struct Templates {
    query: Query,
    with: sql::With,
    cte: sql::Cte,
    select: Select,
    function: Function,
    series: TableFactor,
}

static TEMPLATES: LazyLock<Templates> = LazyLock::new(|| {
    let parse = |s: &str| -> Query {
        match Parser::parse_sql(&GenericDialect {}, s)
            .expect("template SQL parses")
            .remove(0)
        {
            sql::Statement::Query(q) => *q,
            _ => unreachable!("a query"),
        }
    };
    let query = parse("SELECT 1");
    let select = match query.body.as_ref() {
        SetExpr::Select(s) => s.as_ref().clone(),
        _ => unreachable!("a select"),
    };
    let function = match parse("SELECT f()").body.as_ref() {
        SetExpr::Select(s) => match &s.projection[0] {
            SelectItem::UnnamedExpr(sql::Expr::Function(f)) => f.clone(),
            _ => unreachable!("a function"),
        },
        _ => unreachable!("a select"),
    };
    let with = parse("WITH a AS (SELECT 1) SELECT 1")
        .with
        .expect("a WITH clause");
    let cte = with.cte_tables[0].clone();
    let series = match parse("SELECT value FROM generate_series(0, 1, 1)")
        .body
        .as_ref()
    {
        SetExpr::Select(s) => s.from[0].relation.clone(),
        _ => unreachable!("a select"),
    };
    Templates {
        query,
        with,
        cte,
        select,
        function,
        series,
    }
});

/// Generates the SQL syntax tree of a bound query: the visible columns of `rel`, in its order.
pub fn ir_to_sql(rel: &Rel) -> Query {
    generate(rel, false)
}

/// The SQL syntax tree of a relation computed ahead of the query that reads it
/// ([`crate::kql::materialize`]): all its columns, hidden sort carriers included, unordered
/// (its readers know its order and sort where it matters).
pub fn materialized_to_sql(rel: &Rel) -> Query {
    generate(rel, true)
}

fn generate(rel: &Rel, all_columns: bool) -> Query {
    let mut g = Gen {
        next_alias: 0,
        ctes: Vec::new(),
    };
    let needs_wrap =
        !all_columns && (rel.columns.iter().any(|c| c.hidden) || !rel.order.is_empty());
    let mut q = if needs_wrap {
        let mut select = g.select_over(rel);
        select.projection = rel
            .visible()
            .map(|c| SelectItem::UnnamedExpr(col(&c.name)))
            .collect();
        let mut q = query_of(select);
        if !rel.order.is_empty() {
            q.order_by = Some(order_by(&mut g, &rel.order));
        }
        q
    } else {
        g.query(rel)
    };
    if !g.ctes.is_empty() {
        let mut with = TEMPLATES.with.clone();
        with.cte_tables = g.ctes;
        q.with = Some(with);
    }
    q
}

/// The SQL text: one line, or indented (`pretty`) for `explain`.
pub fn sql_text(q: &Query, pretty: bool) -> String {
    if pretty {
        format!("{q:#}")
    } else {
        q.to_string()
    }
}

struct Gen {
    next_alias: usize,
    /// The common table expressions, in dependency order.
    ctes: Vec<sql::Cte>,
}

fn ident(name: &str) -> Ident {
    Ident::with_quote('"', name)
}

fn col(name: &str) -> sql::Expr {
    sql::Expr::Identifier(ident(name))
}

fn object_name(name: &str, quoted: bool) -> ObjectName {
    let id = if quoted {
        ident(name)
    } else {
        Ident::new(name)
    };
    ObjectName(vec![ObjectNamePart::Identifier(id)])
}

fn blank_select() -> Select {
    let mut s = TEMPLATES.select.clone();
    s.projection.clear();
    s
}

fn query_of(select: Select) -> Query {
    let mut q = TEMPLATES.query.clone();
    q.body = Box::new(SetExpr::Select(Box::new(select)));
    q
}

/// `FROM "name"` (a table or a common table expression).
fn table(name: &str) -> TableWithJoins {
    TableWithJoins {
        relation: TableFactor::Table {
            name: object_name(name, true),
            alias: None,
            args: None,
            with_hints: vec![],
            version: None,
            with_ordinality: false,
            partitions: vec![],
            json_path: None,
            sample: None,
            index_hints: vec![],
        },
        joins: vec![],
    }
}

fn func(name: &str, args: Vec<sql::Expr>) -> sql::Expr {
    let mut f = TEMPLATES.function.clone();
    f.name = object_name(name, false);
    f.args = FunctionArguments::List(FunctionArgumentList {
        duplicate_treatment: None,
        args: args
            .into_iter()
            .map(|a| FunctionArg::Unnamed(FunctionArgExpr::Expr(a)))
            .collect(),
        clauses: vec![],
    });
    sql::Expr::Function(f)
}

fn string(s: &str) -> sql::Expr {
    sql::Expr::Value(Value::SingleQuotedString(s.to_string()).with_empty_span())
}

fn number(s: String) -> sql::Expr {
    sql::Expr::Value(Value::Number(s, false).with_empty_span())
}

fn limit_clause(n: u64) -> LimitClause {
    LimitClause::LimitOffset {
        limit: Some(number(n.to_string())),
        offset: None,
        limit_by: vec![],
    }
}

fn order_by(g: &mut Gen, keys: &[SortKey]) -> OrderBy {
    OrderBy {
        kind: OrderByKind::Expressions(keys.iter().map(|k| g.order_expr(k, None)).collect()),
        interpolate: None,
    }
}

/// Parenthesizes operands that are themselves operators (the printer adds no parentheses).
fn operand(e: sql::Expr) -> sql::Expr {
    match e {
        sql::Expr::BinaryOp { .. }
        | sql::Expr::UnaryOp { .. }
        | sql::Expr::IsNull(_)
        | sql::Expr::IsNotNull(_)
        | sql::Expr::IsDistinctFrom(..)
        | sql::Expr::IsNotDistinctFrom(..)
        | sql::Expr::InList { .. }
        | sql::Expr::InSubquery { .. }
        | sql::Expr::Between { .. } => sql::Expr::Nested(Box::new(e)),
        e => e,
    }
}

const UTC_TIMESTAMP: &str = "Timestamp(Nanosecond, Some(\"UTC\"))";
const DURATION: &str = "Duration(Nanosecond)";

impl Gen {
    fn alias(&mut self) -> String {
        self.next_alias += 1;
        format!("_{}", self.next_alias)
    }

    /// Names `rel` as a common table expression and returns the name.
    fn input(&mut self, rel: &Rel) -> String {
        let q = self.query(rel);
        let alias = self.alias();
        let mut cte = TEMPLATES.cte.clone();
        cte.alias = TableAlias {
            explicit: false,
            at: None,
            name: ident(&alias),
            columns: vec![],
        };
        cte.query = Box::new(q);
        self.ctes.push(cte);
        alias
    }

    /// `SELECT ... FROM "_n"` where `_n` names `rel`: a select over `rel` to fill in.
    fn select_over(&mut self, rel: &Rel) -> Select {
        let alias = self.input(rel);
        let mut s = blank_select();
        s.from = vec![table(&alias)];
        s
    }

    fn all_columns(rel: &Rel) -> Vec<SelectItem> {
        rel.columns
            .iter()
            .map(|c| SelectItem::UnnamedExpr(col(&c.name)))
            .collect()
    }

    fn query(&mut self, rel: &Rel) -> Query {
        match &rel.kind {
            RelKind::Scan { table } => {
                let mut s = blank_select();
                s.projection = Self::all_columns(rel);
                s.from = vec![self::table(table)];
                query_of(s)
            }
            RelKind::Values { rows } => {
                let selects: Vec<Query> = if rows.is_empty() {
                    // No rows: typed nulls, filtered out.
                    let mut s = blank_select();
                    s.projection = rel
                        .columns
                        .iter()
                        .map(|c| SelectItem::ExprWithAlias {
                            expr: self.expr(&Expr::null(c.ty.clone()), None),
                            alias: ident(&c.name),
                        })
                        .collect();
                    s.selection = Some(sql::Expr::Value(Value::Boolean(false).with_empty_span()));
                    vec![query_of(s)]
                } else {
                    rows.iter()
                        .map(|row| {
                            let mut s = blank_select();
                            s.projection = row
                                .iter()
                                .zip(&rel.columns)
                                .map(|(e, c)| SelectItem::ExprWithAlias {
                                    expr: self.expr(e, None),
                                    alias: ident(&c.name),
                                })
                                .collect();
                            query_of(s)
                        })
                        .collect()
                };
                union_all(selects)
            }
            RelKind::Series { start, stop, step } => {
                let mut s = blank_select();
                s.projection = vec![SelectItem::UnnamedExpr(col("value"))];
                let mut table = TEMPLATES.series.clone();
                if let TableFactor::Table { args: Some(a), .. } = &mut table {
                    a.args = [start, stop, step]
                        .into_iter()
                        .map(|e| FunctionArg::Unnamed(FunctionArgExpr::Expr(self.expr(e, None))))
                        .collect();
                }
                s.from = vec![TableWithJoins {
                    relation: table,
                    joins: vec![],
                }];
                query_of(s)
            }
            RelKind::Project { input, exprs } => {
                let mut s = self.select_over(input);
                s.projection = exprs
                    .iter()
                    .zip(&rel.columns)
                    .map(|(e, c)| match e {
                        Expr::Col(n) if n == &c.name => SelectItem::UnnamedExpr(col(n)),
                        e => SelectItem::ExprWithAlias {
                            expr: self.expr(e, None),
                            alias: ident(&c.name),
                        },
                    })
                    .collect();
                query_of(s)
            }
            RelKind::Filter { input, predicate } => {
                // A filter directly over a table scan stays in the scan's SELECT.
                if let RelKind::Scan { .. } = input.kind {
                    let mut q = self.query(input);
                    if let SetExpr::Select(s) = q.body.as_mut() {
                        s.selection = Some(self.expr(predicate, None));
                    }
                    return q;
                }
                let mut s = self.select_over(input);
                s.projection = Self::all_columns(rel);
                s.selection = Some(self.expr(predicate, None));
                query_of(s)
            }
            RelKind::Aggregate {
                input,
                keys,
                aggregates,
            } => {
                let mut s = self.select_over(input);
                let exprs: Vec<&Expr> = keys.iter().chain(aggregates.iter()).collect();
                s.projection = exprs
                    .iter()
                    .zip(&rel.columns)
                    .map(|(e, c)| SelectItem::ExprWithAlias {
                        expr: self.expr(e, None),
                        alias: ident(&c.name),
                    })
                    .collect();
                if !keys.is_empty() {
                    s.group_by = GroupByExpr::Expressions(
                        keys.iter().map(|k| self.expr(k, None)).collect(),
                        vec![],
                    );
                }
                query_of(s)
            }
            RelKind::Sort { input, .. } => {
                // The order is applied where it matters (a limit above, or the final result).
                self.query(input)
            }
            RelKind::Limit { input, count } => {
                let mut s = self.select_over(input);
                s.projection = Self::all_columns(rel);
                let mut q = query_of(s);
                if !input.order.is_empty() {
                    q.order_by = Some(order_by(self, &input.order));
                }
                q.limit_clause = Some(limit_clause(*count));
                q
            }
            RelKind::Distinct { input } => {
                let mut s = self.select_over(input);
                s.projection = Self::all_columns(rel);
                s.distinct = Some(sql::Distinct::Distinct);
                query_of(s)
            }
            RelKind::Join {
                left,
                right,
                kind,
                on,
                null_safe,
                outputs,
            } => {
                let la = self.input(left);
                let ra = self.input(right);
                let cond = on
                    .iter()
                    .map(|(l, r)| {
                        let l = Box::new(operand(self.expr(l, Some(&la))));
                        let r = Box::new(operand(self.expr(r, Some(&ra))));
                        if *null_safe {
                            sql::Expr::IsNotDistinctFrom(l, r)
                        } else {
                            sql::Expr::BinaryOp {
                                left: l,
                                op: BinaryOperator::Eq,
                                right: r,
                            }
                        }
                    })
                    .reduce(|a, b| sql::Expr::BinaryOp {
                        left: Box::new(operand(a)),
                        op: BinaryOperator::And,
                        right: Box::new(operand(b)),
                    });
                let constraint = match cond {
                    Some(c) => JoinConstraint::On(c),
                    None => JoinConstraint::None,
                };
                let op = match kind {
                    _ if on.is_empty() => JoinOperator::CrossJoin(constraint),
                    JoinKind::Inner => JoinOperator::Inner(constraint),
                    JoinKind::Left => JoinOperator::LeftOuter(constraint),
                    JoinKind::Right => JoinOperator::RightOuter(constraint),
                    JoinKind::Full => JoinOperator::FullOuter(constraint),
                    JoinKind::LeftSemi => JoinOperator::LeftSemi(constraint),
                    JoinKind::LeftAnti => JoinOperator::LeftAnti(constraint),
                    JoinKind::RightSemi => JoinOperator::RightSemi(constraint),
                    JoinKind::RightAnti => JoinOperator::RightAnti(constraint),
                };
                let mut s = blank_select();
                s.projection = outputs
                    .iter()
                    .zip(&rel.columns)
                    .map(|((side, name), c)| SelectItem::ExprWithAlias {
                        expr: sql::Expr::CompoundIdentifier(vec![
                            ident(if *side == Side::Left { &la } else { &ra }),
                            ident(name),
                        ]),
                        alias: ident(&c.name),
                    })
                    .collect();
                let mut from = table(&la);
                let right_table = table(&ra).relation;
                from.joins.push(sql::Join {
                    relation: right_table,
                    global: false,
                    join_operator: op,
                });
                s.from = vec![from];
                query_of(s)
            }
            // Extracted by `kql::materialize` before generation; computed in place otherwise.
            RelKind::Materialized { input } => self.query(input),
            RelKind::Union { inputs } => {
                let qs = inputs
                    .iter()
                    .map(|r| {
                        let mut s = self.select_over(r);
                        s.projection = Self::all_columns(r);
                        query_of(s)
                    })
                    .collect();
                union_all(qs)
            }
        }
    }

    fn order_expr(&mut self, k: &SortKey, qualifier: Option<&str>) -> OrderByExpr {
        OrderByExpr {
            expr: self.expr(&k.expr, qualifier),
            options: OrderByOptions {
                asc: Some(k.asc),
                nulls_first: Some(k.nulls_first),
            },
            with_fill: None,
        }
    }

    fn expr(&mut self, e: &Expr, q: Option<&str>) -> sql::Expr {
        match e {
            Expr::Col(n) => match q {
                Some(alias) => sql::Expr::CompoundIdentifier(vec![ident(alias), ident(n)]),
                None => col(n),
            },
            Expr::SideCol(_, n) => col(n),
            Expr::Lit(l, ty) => self.literal(l, ty),
            Expr::Call(name, args) => {
                let args = args.iter().map(|a| self.expr(a, q)).collect();
                func(name, args)
            }
            Expr::Agg {
                name,
                args,
                distinct,
                filter,
                order_by,
            } => {
                let args: Vec<sql::Expr> = args.iter().map(|a| self.expr(a, q)).collect();
                let mut f = match func(name, args) {
                    sql::Expr::Function(f) => f,
                    _ => unreachable!("func builds a function"),
                };
                if let FunctionArguments::List(list) = &mut f.args {
                    if *distinct {
                        list.duplicate_treatment = Some(DuplicateTreatment::Distinct);
                    }
                    if !order_by.is_empty() {
                        list.clauses.push(FunctionArgumentClause::OrderBy(
                            order_by.iter().map(|k| self.order_expr(k, q)).collect(),
                        ));
                    }
                }
                f.filter = filter.as_ref().map(|x| Box::new(self.expr(x, q)));
                sql::Expr::Function(f)
            }
            Expr::Window {
                name,
                args,
                partition_by,
                order_by,
            } => {
                let args = args.iter().map(|a| self.expr(a, q)).collect();
                let mut f = match func(name, args) {
                    sql::Expr::Function(f) => f,
                    _ => unreachable!("func builds a function"),
                };
                f.over = Some(WindowType::WindowSpec(WindowSpec {
                    window_name: None,
                    partition_by: partition_by.iter().map(|p| self.expr(p, q)).collect(),
                    order_by: order_by.iter().map(|k| self.order_expr(k, q)).collect(),
                    window_frame: None,
                }));
                sql::Expr::Function(f)
            }
            Expr::Unnest(x) => {
                let x = self.expr(x, q);
                func("unnest", vec![x])
            }
            Expr::Binary(op, a, b) => {
                let op = match op {
                    BinOp::Eq => BinaryOperator::Eq,
                    BinOp::NotEq => BinaryOperator::NotEq,
                    BinOp::Lt => BinaryOperator::Lt,
                    BinOp::LtEq => BinaryOperator::LtEq,
                    BinOp::Gt => BinaryOperator::Gt,
                    BinOp::GtEq => BinaryOperator::GtEq,
                    BinOp::And => BinaryOperator::And,
                    BinOp::Or => BinaryOperator::Or,
                    BinOp::Plus => BinaryOperator::Plus,
                    BinOp::Minus => BinaryOperator::Minus,
                    BinOp::Mul => BinaryOperator::Multiply,
                    BinOp::Div => BinaryOperator::Divide,
                    BinOp::Mod => BinaryOperator::Modulo,
                };
                sql::Expr::BinaryOp {
                    left: Box::new(operand(self.expr(a, q))),
                    op,
                    right: Box::new(operand(self.expr(b, q))),
                }
            }
            Expr::Not(a) => sql::Expr::UnaryOp {
                op: UnaryOperator::Not,
                expr: Box::new(operand(self.expr(a, q))),
            },
            Expr::Neg(a) => sql::Expr::UnaryOp {
                op: UnaryOperator::Minus,
                expr: Box::new(sql::Expr::Nested(Box::new(self.expr(a, q)))),
            },
            Expr::IsNull(a, negated) => {
                let a = Box::new(operand(self.expr(a, q)));
                if *negated {
                    sql::Expr::IsNotNull(a)
                } else {
                    sql::Expr::IsNull(a)
                }
            }
            Expr::IsDistinct(a, b, negated) => {
                let a = Box::new(operand(self.expr(a, q)));
                let b = Box::new(operand(self.expr(b, q)));
                if *negated {
                    sql::Expr::IsNotDistinctFrom(a, b)
                } else {
                    sql::Expr::IsDistinctFrom(a, b)
                }
            }
            Expr::Case(whens, otherwise) => sql::Expr::Case {
                case_token: sql::helpers::attached_token::AttachedToken::empty(),
                end_token: sql::helpers::attached_token::AttachedToken::empty(),
                operand: None,
                conditions: whens
                    .iter()
                    .map(|(c, v)| sql::CaseWhen {
                        condition: self.expr(c, q),
                        result: self.expr(v, q),
                    })
                    .collect(),
                else_result: otherwise.as_ref().map(|o| Box::new(self.expr(o, q))),
            },
            Expr::Cast(a, t, try_) => sql::Expr::Cast {
                kind: if *try_ {
                    CastKind::TryCast
                } else {
                    CastKind::Cast
                },
                expr: Box::new(self.expr(a, q)),
                data_type: sql_type(*t),
                array: false,
                format: None,
            },
            Expr::ArrowCast(a, t) => {
                let a = self.expr(a, q);
                func("arrow_cast", vec![a, string(t)])
            }
            Expr::InList(a, list, negated) => sql::Expr::InList {
                expr: Box::new(operand(self.expr(a, q))),
                list: list.iter().map(|x| self.expr(x, q)).collect(),
                negated: *negated,
            },
            Expr::InRel(a, rel, negated) => {
                let mut s = self.select_over(rel);
                s.projection = vec![SelectItem::UnnamedExpr(col(&rel.columns[0].name))];
                sql::Expr::InSubquery {
                    expr: Box::new(operand(self.expr(a, q))),
                    subquery: Box::new(query_of(s)),
                    negated: *negated,
                }
            }
            Expr::Between(a, lo, hi, negated) => sql::Expr::Between {
                expr: Box::new(operand(self.expr(a, q))),
                negated: *negated,
                low: Box::new(operand(self.expr(lo, q))),
                high: Box::new(operand(self.expr(hi, q))),
            },
            Expr::Field(a, name) => {
                let a = self.expr(a, q);
                func("get_field", vec![a, string(name)])
            }
            Expr::Index(a, i) => {
                let a = self.expr(a, q);
                let i = self.expr(i, q);
                func("array_element", vec![a, i])
            }
            Expr::ScalarRel(rel) => {
                let mut s = self.select_over(rel);
                s.projection = vec![SelectItem::UnnamedExpr(col(&rel.columns[0].name))];
                let mut inner = query_of(s);
                // Only the first row counts: order it as the relation says.
                if !rel.order.is_empty() {
                    inner.order_by = Some(order_by(self, &rel.order));
                }
                inner.limit_clause = Some(limit_clause(1));
                // `first_value` over that one row: an aggregate's result is nullable, so an
                // empty relation gives null (DataFusion would otherwise keep the column's
                // non-null declaration and fail on the null).
                let name = &rel.columns[0].name;
                let mut outer = blank_select();
                outer.projection = vec![SelectItem::UnnamedExpr(func(
                    "first_value",
                    vec![col(name)],
                ))];
                outer.from = vec![TableWithJoins {
                    relation: TableFactor::Derived {
                        lateral: false,
                        subquery: Box::new(inner),
                        alias: Some(TableAlias {
                            explicit: true,
                            name: Ident::with_quote('"', "_scalar"),
                            columns: vec![],
                            at: None,
                        }),
                        sample: None,
                    },
                    joins: vec![],
                }];
                sql::Expr::Subquery(Box::new(query_of(outer)))
            }
        }
    }

    fn literal(&mut self, l: &Lit, ty: &Ty) -> sql::Expr {
        match l {
            Lit::Null => match ty {
                Ty::Bool => cast_null(SqlType::Boolean),
                Ty::Int => cast_null(SqlType::Int),
                Ty::Long => cast_null(SqlType::BigInt),
                Ty::Real => cast_null(SqlType::Double),
                Ty::String | Ty::Guid | Ty::Json => cast_null(SqlType::Varchar),
                Ty::Datetime => func("arrow_cast", vec![null(), string(UTC_TIMESTAMP)]),
                Ty::Timespan => func("arrow_cast", vec![null(), string(DURATION)]),
                Ty::Dyn(_) | Ty::Null => null(),
            },
            Lit::Bool(b) => sql::Expr::Value(Value::Boolean(*b).with_empty_span()),
            Lit::Int(n) => sql::Expr::Cast {
                kind: CastKind::Cast,
                expr: Box::new(number(n.to_string())),
                data_type: sql_type(SqlType::Int),
                array: false,
                format: None,
            },
            Lit::Long(n) => number(n.to_string()),
            Lit::Real(f) if f.is_finite() => {
                let mut s = format!("{f:?}");
                if !s.contains(['.', 'e', 'E']) {
                    s.push_str(".0");
                }
                number(s)
            }
            Lit::Real(f) => sql::Expr::Cast {
                kind: CastKind::Cast,
                expr: Box::new(string(if f.is_nan() {
                    "NaN"
                } else if *f > 0.0 {
                    "Infinity"
                } else {
                    "-Infinity"
                })),
                data_type: sql_type(SqlType::Double),
                array: false,
                format: None,
            },
            Lit::Str(s) => string(s),
            Lit::Datetime(ns) => func(
                "arrow_cast",
                vec![
                    string(&crate::time::format_rfc3339_nanos(*ns)),
                    string(UTC_TIMESTAMP),
                ],
            ),
            Lit::Timespan(ns) => func("arrow_cast", vec![number(ns.to_string()), string(DURATION)]),
        }
    }
}

fn null() -> sql::Expr {
    sql::Expr::Value(Value::Null.with_empty_span())
}

fn cast_null(t: SqlType) -> sql::Expr {
    sql::Expr::Cast {
        kind: CastKind::Cast,
        expr: Box::new(null()),
        data_type: sql_type(t),
        array: false,
        format: None,
    }
}

fn sql_type(t: SqlType) -> sql::DataType {
    match t {
        SqlType::Boolean => sql::DataType::Boolean,
        SqlType::Int => sql::DataType::Int(None),
        SqlType::BigInt => sql::DataType::BigInt(None),
        SqlType::Double => sql::DataType::Double(sql::ExactNumberInfo::None),
        SqlType::Varchar => sql::DataType::Varchar(None),
    }
}

fn union_all(mut queries: Vec<Query>) -> Query {
    if queries.len() == 1 {
        return queries.remove(0);
    }
    let mut it = queries.into_iter();
    let first = SetExpr::Query(Box::new(it.next().expect("non-empty")));
    let body = it.fold(first, |acc, q| SetExpr::SetOperation {
        left: Box::new(acc),
        op: SetOperator::Union,
        set_quantifier: SetQuantifier::All,
        right: Box::new(SetExpr::Query(Box::new(q))),
    });
    let mut q = TEMPLATES.query.clone();
    q.body = Box::new(body);
    q
}
