//! The KQL syntax tree. Every node carries the byte [`Span`] of its source text.
//!
//! Names are not resolved here: a bare word is an [`ExprKind::Name`] (column, `let` name, or
//! table), and `let X = <expr>;` is [`LetValue::Tabular`] only when its syntax says so (a pipe, a
//! tabular source keyword); the binder decides the rest.
//!
//! [`Query::dump`] prints a compact, stable S-expression form for snapshot tests: statements and
//! operators show their spans (`@start..end`), expressions are written inline.

use crate::diagnostic::Span;

/// An identifier as written (`['name with space']` gives `name with space`).
#[derive(Clone, Debug, PartialEq)]
pub struct Ident {
    pub name: String,
    pub span: Span,
}

/// A whole query: `;`-separated statements, the last tabular one being the result.
#[derive(Clone, Debug, PartialEq)]
pub struct Query {
    pub statements: Vec<Statement>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Statement {
    /// `let name = value`
    Let {
        name: Ident,
        value: LetValue,
        span: Span,
    },
    /// A tabular expression statement (the query's output).
    Tabular(TabularExpr),
}

#[derive(Clone, Debug, PartialEq)]
pub enum LetValue {
    /// `let x = 5` / `let x = ago(1d)` / `let t = T` (a bare name: scalar or table, the binder knows).
    Scalar(Expr),
    /// `let t = T | where ...`, `let t = datatable(...) [...]`, `let t = materialize(...)`.
    Tabular(TabularExpr),
    /// `let f = (a: string, b: long = 5) { body }`, or `let v = view () { body }`.
    Function {
        view: bool,
        params: Vec<Param>,
        /// The body's `let` statements and its final expression statement.
        body: Vec<Statement>,
        result: Box<LetBodyResult>,
    },
}

/// The final expression of a function body.
#[derive(Clone, Debug, PartialEq)]
pub enum LetBodyResult {
    Scalar(Expr),
    Tabular(TabularExpr),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Param {
    pub name: Ident,
    pub ty: ParamType,
    pub default: Option<Expr>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum ParamType {
    Scalar(TypeName),
    /// `T: (*)` or `T: (a: string, b: long)` (a tabular parameter; `*` allows any columns).
    Tabular {
        columns: Vec<(Ident, TypeName)>,
        any: bool,
    },
}

/// A scalar type name: `bool int long real decimal string datetime timespan guid dynamic`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TypeName {
    Bool,
    Int,
    Long,
    Real,
    Decimal,
    String,
    Datetime,
    Timespan,
    Guid,
    Dynamic,
}

impl TypeName {
    /// Parses a type name, with KQL's aliases (`boolean`, `double`, `date`, `time`, `uniqueid`).
    pub fn from_name(s: &str) -> Option<TypeName> {
        Some(match s {
            "bool" | "boolean" => TypeName::Bool,
            "int" => TypeName::Int,
            "long" => TypeName::Long,
            "real" | "double" => TypeName::Real,
            "decimal" => TypeName::Decimal,
            "string" => TypeName::String,
            "datetime" | "date" => TypeName::Datetime,
            "timespan" | "time" => TypeName::Timespan,
            "guid" | "uuid" | "uniqueid" => TypeName::Guid,
            "dynamic" => TypeName::Dynamic,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            TypeName::Bool => "bool",
            TypeName::Int => "int",
            TypeName::Long => "long",
            TypeName::Real => "real",
            TypeName::Decimal => "decimal",
            TypeName::String => "string",
            TypeName::Datetime => "datetime",
            TypeName::Timespan => "timespan",
            TypeName::Guid => "guid",
            TypeName::Dynamic => "dynamic",
        }
    }
}

/// `source | op | op ...`; `source` is `None` in `mv-apply ... on (subquery)` (the implicit
/// per-row table).
#[derive(Clone, Debug, PartialEq)]
pub struct TabularExpr {
    pub source: Option<Source>,
    pub ops: Vec<Operator>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Source {
    pub kind: SourceKind,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum SourceKind {
    /// A table or tabular `let` name (`AuditLogs`, `['My Table']`).
    Table(Ident),
    /// A call: a tabular function (`f(1)`), `table("T")`, `materialize(T | ...)`, `view()`.
    Call { name: Ident, args: Vec<Expr> },
    /// `datatable(a: string, b: long) ["x", 1, ...]`
    Datatable {
        columns: Vec<(Ident, TypeName)>,
        values: Vec<Expr>,
    },
    /// `print a = 1, 2`
    Print(Vec<NamedExpr>),
    /// `range x from a to b step s`
    Range {
        column: Ident,
        from: Expr,
        to: Expr,
        step: Expr,
    },
    /// `union [params] T1, T2, (T3 | ...)`
    Union(UnionArgs),
    /// `( tabular expression )`
    Parens(Box<TabularExpr>),
}

#[derive(Clone, Debug, PartialEq)]
pub struct UnionArgs {
    /// `kind=inner|outer`, `withsource=Col`, `isfuzzy=true` (name, value as written).
    pub params: Vec<OpParam>,
    pub tables: Vec<TabularExpr>,
}

/// An operator parameter `name = value` (`kind=inner`, `hint.strategy=shuffle`).
#[derive(Clone, Debug, PartialEq)]
pub struct OpParam {
    pub name: Ident,
    pub value: Expr,
}

/// `[Name =] expr`, also `(A, B) = expr` for functions returning several columns.
#[derive(Clone, Debug, PartialEq)]
pub struct NamedExpr {
    pub names: Vec<Ident>,
    pub expr: Expr,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Operator {
    pub kind: OperatorKind,
    /// From the operator keyword to the end of its arguments.
    pub span: Span,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SortOrder {
    Asc,
    Desc,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Nulls {
    First,
    Last,
}

/// `expr [asc|desc] [nulls first|last]`. The order defaults to `desc`; nulls go last for `desc`
/// and first for `asc` (KQL sort operator documentation).
#[derive(Clone, Debug, PartialEq)]
pub struct SortKey {
    pub expr: Expr,
    pub order: Option<SortOrder>,
    pub nulls: Option<Nulls>,
}

impl SortKey {
    pub fn effective_order(&self) -> SortOrder {
        self.order.unwrap_or(SortOrder::Desc)
    }

    pub fn effective_nulls(&self) -> Nulls {
        self.nulls.unwrap_or(match self.effective_order() {
            SortOrder::Asc => Nulls::First,
            SortOrder::Desc => Nulls::Last,
        })
    }
}

/// One column of `mv-expand` / `mv-apply`: `[Name =] expr [to typeof(T)]`.
#[derive(Clone, Debug, PartialEq)]
pub struct ExpandColumn {
    pub name: Option<Ident>,
    pub expr: Expr,
    pub to_type: Option<TypeName>,
    pub span: Span,
}

/// A column name pattern of `project-away` & co.: a name, possibly with `*` wildcards.
#[derive(Clone, Debug, PartialEq)]
pub struct ColumnPattern {
    pub pattern: String,
    pub span: Span,
}

/// One element of a `parse` pattern.
#[derive(Clone, Debug, PartialEq)]
pub enum ParsePart {
    /// `*`: skip text up to the next literal.
    Wildcard,
    /// A string literal to match.
    Literal(String),
    /// `Name [: type]`: capture into a column.
    Column(Ident, Option<TypeName>),
}

#[derive(Clone, Debug, PartialEq)]
pub enum OperatorKind {
    /// `where pred` (also `filter`).
    Where(Expr),
    Extend(Vec<NamedExpr>),
    Project(Vec<NamedExpr>),
    ProjectAway(Vec<ColumnPattern>),
    ProjectKeep(Vec<ColumnPattern>),
    /// `project-rename New = Old, ...`: (new, old).
    ProjectRename(Vec<(Ident, Ident)>),
    /// `project-reorder A, B* asc`.
    ProjectReorder(Vec<(ColumnPattern, Option<Ident>)>),
    Summarize {
        params: Vec<OpParam>,
        aggregates: Vec<NamedExpr>,
        by: Vec<NamedExpr>,
    },
    /// `mv-expand` (or legacy `mvexpand` with `legacy: true`: its row limit defaults to 128).
    MvExpand {
        legacy: bool,
        /// `kind=bag|array`, `bagexpansion=...`.
        params: Vec<OpParam>,
        item_index: Option<Ident>,
        columns: Vec<ExpandColumn>,
        limit: Option<Expr>,
    },
    MvApply {
        params: Vec<OpParam>,
        item_index: Option<Ident>,
        columns: Vec<ExpandColumn>,
        limit: Option<Expr>,
        body: Box<TabularExpr>,
    },
    /// `sort by` / `order by` (`keyword` says which).
    Sort {
        keyword: &'static str,
        keys: Vec<SortKey>,
    },
    /// `top N by key`
    Top {
        count: Expr,
        key: SortKey,
    },
    /// `take N` / `limit N`.
    Take {
        keyword: &'static str,
        count: Expr,
    },
    /// `distinct A, B` or `distinct *` (an empty list).
    Distinct(Vec<Expr>),
    Count,
    Join {
        params: Vec<OpParam>,
        right: Box<TabularExpr>,
        /// `on A, B` (names) or `on $left.A == $right.B` (comparisons).
        on: Vec<Expr>,
    },
    Lookup {
        params: Vec<OpParam>,
        right: Box<TabularExpr>,
        on: Vec<Expr>,
    },
    Union(UnionArgs),
    MakeSeries {
        params: Vec<OpParam>,
        /// `[Name =] agg() [default = v]`.
        aggregates: Vec<(NamedExpr, Option<Expr>)>,
        on: Expr,
        from: Option<Expr>,
        to: Option<Expr>,
        step: Expr,
        by: Vec<NamedExpr>,
    },
    /// `parse` / `parse-where` (`filter: true`) `[kind=simple|regex|relaxed] expr with pattern`.
    Parse {
        filter: bool,
        params: Vec<OpParam>,
        source: Expr,
        pattern: Vec<ParsePart>,
    },
    Serialize(Vec<NamedExpr>),
    /// `render chart [with (prop = value, ...)]`; kept as a visualization hint.
    Render {
        visualization: Ident,
        properties: Vec<OpParam>,
    },
    /// `evaluate [params] plugin(args)`
    Evaluate {
        params: Vec<OpParam>,
        plugin: Ident,
        args: Vec<Expr>,
    },
    /// `invoke f(args)`
    Invoke {
        function: Ident,
        args: Vec<Expr>,
    },
    /// `as [hint.materialized=true] Name`
    As {
        params: Vec<OpParam>,
        name: Ident,
    },
    GetSchema,
}

impl OperatorKind {
    /// The operator's KQL name.
    pub fn name(&self) -> &'static str {
        match self {
            OperatorKind::Where(_) => "where",
            OperatorKind::Extend(_) => "extend",
            OperatorKind::Project(_) => "project",
            OperatorKind::ProjectAway(_) => "project-away",
            OperatorKind::ProjectKeep(_) => "project-keep",
            OperatorKind::ProjectRename(_) => "project-rename",
            OperatorKind::ProjectReorder(_) => "project-reorder",
            OperatorKind::Summarize { .. } => "summarize",
            OperatorKind::MvExpand { legacy: true, .. } => "mvexpand",
            OperatorKind::MvExpand { .. } => "mv-expand",
            OperatorKind::MvApply { .. } => "mv-apply",
            OperatorKind::Sort { keyword, .. } => keyword,
            OperatorKind::Top { .. } => "top",
            OperatorKind::Take { keyword, .. } => keyword,
            OperatorKind::Distinct(_) => "distinct",
            OperatorKind::Count => "count",
            OperatorKind::Join { .. } => "join",
            OperatorKind::Lookup { .. } => "lookup",
            OperatorKind::Union(_) => "union",
            OperatorKind::MakeSeries { .. } => "make-series",
            OperatorKind::Parse { filter: false, .. } => "parse",
            OperatorKind::Parse { filter: true, .. } => "parse-where",
            OperatorKind::Serialize(_) => "serialize",
            OperatorKind::Render { .. } => "render",
            OperatorKind::Evaluate { .. } => "evaluate",
            OperatorKind::Invoke { .. } => "invoke",
            OperatorKind::As { .. } => "as",
            OperatorKind::GetSchema => "getschema",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Expr {
    pub kind: ExprKind,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Literal {
    Null,
    Bool(bool),
    Long(i64),
    Real(f64),
    /// A string (adjacent literals concatenated); `placeholders` are source spans of workbook
    /// `{Name:format}` placeholders inside it.
    String {
        value: String,
        placeholders: Vec<Span>,
    },
    /// Ticks of 100 ns: `1d`, `time(1.02:03:04)`, `timespan(2h)`.
    Timespan(i64),
    /// `datetime(...)` text as written (validated and interpreted by the binder).
    Datetime(String),
    Guid(String),
    /// `int(null)`, `datetime(null)`, `dynamic(null)`, ...
    TypedNull(TypeName),
    Dynamic(Dynamic),
}

/// The contents of `dynamic(...)`.
#[derive(Clone, Debug, PartialEq)]
pub enum Dynamic {
    Null,
    Array(Vec<Dynamic>),
    Bag(Vec<(String, Dynamic)>),
    /// A scalar literal (string, number, bool, timespan, datetime, guid).
    Scalar(Box<Literal>),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinaryOp {
    Or,
    And,
    /// `==` (case-sensitive)
    Eq,
    Ne,
    /// `=~` (case-insensitive equality)
    EqCi,
    /// `!~`
    NeCi,
    Lt,
    Le,
    Gt,
    Ge,
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    /// `has`, `contains`, `startswith`, ... with `!` and `_cs` forms.
    Str(StringOp),
    /// `matches regex`
    MatchesRegex,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StringOpKind {
    Has,
    Contains,
    StartsWith,
    EndsWith,
    HasPrefix,
    HasSuffix,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StringOp {
    pub kind: StringOpKind,
    /// `!has`
    pub negated: bool,
    /// `has_cs`
    pub case_sensitive: bool,
}

impl StringOp {
    pub fn text(self) -> String {
        let base = match self.kind {
            StringOpKind::Has => "has",
            StringOpKind::Contains => "contains",
            StringOpKind::StartsWith => "startswith",
            StringOpKind::EndsWith => "endswith",
            StringOpKind::HasPrefix => "hasprefix",
            StringOpKind::HasSuffix => "hassuffix",
        };
        format!(
            "{}{base}{}",
            if self.negated { "!" } else { "" },
            if self.case_sensitive { "_cs" } else { "" }
        )
    }
}

impl BinaryOp {
    pub fn text(self) -> String {
        match self {
            BinaryOp::Or => "or".into(),
            BinaryOp::And => "and".into(),
            BinaryOp::Eq => "==".into(),
            BinaryOp::Ne => "!=".into(),
            BinaryOp::EqCi => "=~".into(),
            BinaryOp::NeCi => "!~".into(),
            BinaryOp::Lt => "<".into(),
            BinaryOp::Le => "<=".into(),
            BinaryOp::Gt => ">".into(),
            BinaryOp::Ge => ">=".into(),
            BinaryOp::Add => "+".into(),
            BinaryOp::Sub => "-".into(),
            BinaryOp::Mul => "*".into(),
            BinaryOp::Div => "/".into(),
            BinaryOp::Mod => "%".into(),
            BinaryOp::Str(s) => s.text(),
            BinaryOp::MatchesRegex => "matches-regex".into(),
        }
    }
}

/// The list operators: `in`, `!in`, `in~`, `!in~`, `has_any`, `has_all`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ListOp {
    In,
    NotIn,
    InCi,
    NotInCi,
    HasAny,
    HasAll,
}

impl ListOp {
    pub fn text(self) -> &'static str {
        match self {
            ListOp::In => "in",
            ListOp::NotIn => "!in",
            ListOp::InCi => "in~",
            ListOp::NotInCi => "!in~",
            ListOp::HasAny => "has_any",
            ListOp::HasAll => "has_all",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum ExprKind {
    Literal(Literal),
    /// A column, `let` name, `$left`/`$right`, or bracketed `['name']`.
    Name(Ident),
    /// `*` (as in `count(*)`-like arguments, `arg_max(T, *)`, `where * has "x"`).
    Star,
    /// A workbook placeholder `{Name:format}` standing for an operand.
    Placeholder {
        name: String,
        format: Option<String>,
    },
    /// An operand followed by a placeholder standing for the rest of a predicate, as in the
    /// workbook idiom `TimeGenerated {Time:value}` (the placeholder expands to `> ago(1d)` or
    /// `between (...)`).
    Spliced {
        expr: Box<Expr>,
        name: String,
        format: Option<String>,
    },
    /// `-x`, `+x`
    Neg(Box<Expr>),
    Binary {
        op: BinaryOp,
        lhs: Box<Expr>,
        rhs: Box<Expr>,
    },
    /// `x in (a, b)`, `x has_any (a, b)`, `x in (T | project c)` (the list may hold a subquery).
    InList {
        op: ListOp,
        expr: Box<Expr>,
        list: Vec<Expr>,
    },
    /// `x between (lo .. hi)` / `x !between (lo .. hi)`
    Between {
        negated: bool,
        expr: Box<Expr>,
        low: Box<Expr>,
        high: Box<Expr>,
    },
    /// `f(args)`, incl. aggregates and `not(x)`; named arguments are `NamedArg`.
    Call {
        name: Ident,
        args: Vec<Expr>,
    },
    /// `name = value` inside call arguments (`bag_pack`-style options, plugin arguments).
    NamedArg {
        name: Ident,
        value: Box<Expr>,
    },
    /// `x.a`
    Member {
        expr: Box<Expr>,
        name: Ident,
    },
    /// `x['a']`, `x[0]`, `x[-1]`
    Index {
        expr: Box<Expr>,
        index: Box<Expr>,
    },
    /// A tabular expression in scalar position: `toscalar(T | ...)`, `x in (T | project y)`.
    Subquery(Box<TabularExpr>),
}

// ---------------------------------------------------------------------------------------------
// Printer

impl Query {
    /// A compact, stable S-expression dump for snapshot tests.
    pub fn dump(&self) -> String {
        let mut out = format!("(query @{}\n", self.span);
        for s in &self.statements {
            dump_statement(s, 1, &mut out);
        }
        out.push_str(")\n");
        out
    }
}

fn ind(depth: usize) -> String {
    "  ".repeat(depth)
}

fn dump_statement(s: &Statement, d: usize, out: &mut String) {
    match s {
        Statement::Let { name, value, span } => {
            out.push_str(&format!("{}(let @{span} {}\n", ind(d), name.name));
            match value {
                LetValue::Scalar(e) => out.push_str(&format!("{}{}\n", ind(d + 1), e.sexpr())),
                LetValue::Tabular(t) => dump_tabular(t, d + 1, out),
                LetValue::Function {
                    view,
                    params,
                    body,
                    result,
                } => {
                    let ps: Vec<String> = params.iter().map(dump_param).collect();
                    out.push_str(&format!(
                        "{}({} ({})\n",
                        ind(d + 1),
                        if *view { "view" } else { "fn" },
                        ps.join(" ")
                    ));
                    for s in body {
                        dump_statement(s, d + 2, out);
                    }
                    match result.as_ref() {
                        LetBodyResult::Scalar(e) => {
                            out.push_str(&format!("{}{}\n", ind(d + 2), e.sexpr()))
                        }
                        LetBodyResult::Tabular(t) => dump_tabular(t, d + 2, out),
                    }
                    out.push_str(&format!("{})\n", ind(d + 1)));
                }
            }
            out.push_str(&format!("{})\n", ind(d)));
        }
        Statement::Tabular(t) => dump_tabular(t, d, out),
    }
}

fn dump_param(p: &Param) -> String {
    let ty = match &p.ty {
        ParamType::Scalar(t) => t.as_str().to_string(),
        ParamType::Tabular { columns, any } => {
            let mut cs: Vec<String> = columns
                .iter()
                .map(|(n, t)| format!("{}:{}", n.name, t.as_str()))
                .collect();
            if *any {
                cs.push("*".into());
            }
            format!("(table {})", cs.join(" "))
        }
    };
    match &p.default {
        Some(e) => format!("({}:{ty} = {})", p.name.name, e.sexpr()),
        None => format!("{}:{ty}", p.name.name),
    }
}

fn dump_tabular(t: &TabularExpr, d: usize, out: &mut String) {
    out.push_str(&format!("{}(tabular @{}\n", ind(d), t.span));
    match &t.source {
        Some(s) => dump_source(s, d + 1, out),
        None => out.push_str(&format!("{}(implicit-source)\n", ind(d + 1))),
    }
    for op in &t.ops {
        dump_op(op, d + 1, out);
    }
    out.push_str(&format!("{})\n", ind(d)));
}

fn list(es: &[Expr]) -> String {
    es.iter().map(Expr::sexpr).collect::<Vec<_>>().join(" ")
}

fn named(ns: &[NamedExpr]) -> String {
    ns.iter().map(named_one).collect::<Vec<_>>().join(" ")
}

fn named_one(n: &NamedExpr) -> String {
    match n.names.len() {
        0 => n.expr.sexpr(),
        1 => format!("(= {} {})", n.names[0].name, n.expr.sexpr()),
        _ => {
            let ns: Vec<&str> = n.names.iter().map(|i| i.name.as_str()).collect();
            format!("(= ({}) {})", ns.join(" "), n.expr.sexpr())
        }
    }
}

fn params(ps: &[OpParam]) -> String {
    ps.iter()
        .map(|p| format!(" [{}={}]", p.name.name, p.value.sexpr()))
        .collect()
}

fn sort_key(k: &SortKey) -> String {
    let ord = match k.effective_order() {
        SortOrder::Asc => "asc",
        SortOrder::Desc => "desc",
    };
    let nulls = match k.effective_nulls() {
        Nulls::First => "nulls-first",
        Nulls::Last => "nulls-last",
    };
    format!(
        "({} {ord}{} {nulls}{})",
        k.expr.sexpr(),
        if k.order.is_none() { "*" } else { "" },
        if k.nulls.is_none() { "*" } else { "" }
    )
}

fn patterns(ps: &[ColumnPattern]) -> String {
    ps.iter()
        .map(|p| p.pattern.clone())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The shared part of `mv-expand` and `mv-apply`: parameters, item index, columns, limit.
fn expansion(
    ps: &[OpParam],
    item_index: &Option<Ident>,
    columns: &[ExpandColumn],
    limit: &Option<Expr>,
) -> String {
    format!(
        "{}{} {}{}",
        params(ps),
        item_index
            .as_ref()
            .map(|i| format!(" [with_itemindex={}]", i.name))
            .unwrap_or_default(),
        expand_cols(columns),
        limit
            .as_ref()
            .map(|l| format!(" (limit {})", l.sexpr()))
            .unwrap_or_default()
    )
}

fn expand_cols(cs: &[ExpandColumn]) -> String {
    cs.iter()
        .map(|c| {
            let mut s = match &c.name {
                Some(n) => format!("(= {} {})", n.name, c.expr.sexpr()),
                None => c.expr.sexpr(),
            };
            if let Some(t) = c.to_type {
                s = format!("(to-typeof {s} {})", t.as_str());
            }
            s
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn dump_source(s: &Source, d: usize, out: &mut String) {
    let i = ind(d);
    let at = s.span;
    match &s.kind {
        SourceKind::Table(n) => {
            out.push_str(&format!("{i}(table @{at} {})\n", quote_ident(&n.name)))
        }
        SourceKind::Call { name, args } => {
            let simple = args
                .iter()
                .all(|a| !matches!(a.kind, ExprKind::Subquery(_)));
            if simple {
                out.push_str(&format!(
                    "{i}(call-source @{at} {} {})\n",
                    name.name,
                    list(args)
                ));
            } else {
                out.push_str(&format!("{i}(call-source @{at} {}\n", name.name));
                for a in args {
                    match &a.kind {
                        ExprKind::Subquery(t) => dump_tabular(t, d + 1, out),
                        _ => out.push_str(&format!("{}{}\n", ind(d + 1), a.sexpr())),
                    }
                }
                out.push_str(&format!("{i})\n"));
            }
        }
        SourceKind::Datatable { columns, values } => {
            let cs: Vec<String> = columns
                .iter()
                .map(|(n, t)| format!("{}:{}", n.name, t.as_str()))
                .collect();
            out.push_str(&format!(
                "{i}(datatable @{at} ({}) [{}])\n",
                cs.join(" "),
                list(values)
            ));
        }
        SourceKind::Print(ns) => out.push_str(&format!("{i}(print @{at} {})\n", named(ns))),
        SourceKind::Range {
            column,
            from,
            to,
            step,
        } => out.push_str(&format!(
            "{i}(range @{at} {} {} {} {})\n",
            column.name,
            from.sexpr(),
            to.sexpr(),
            step.sexpr()
        )),
        SourceKind::Union(u) => dump_union(u, at, d, out),
        SourceKind::Parens(t) => {
            out.push_str(&format!("{i}(parens @{at}\n"));
            dump_tabular(t, d + 1, out);
            out.push_str(&format!("{i})\n"));
        }
    }
}

fn dump_union(u: &UnionArgs, at: Span, d: usize, out: &mut String) {
    out.push_str(&format!("{}(union @{at}{}\n", ind(d), params(&u.params)));
    for t in &u.tables {
        dump_tabular(t, d + 1, out);
    }
    out.push_str(&format!("{})\n", ind(d)));
}

fn dump_op(op: &Operator, d: usize, out: &mut String) {
    let i = ind(d);
    let at = op.span;
    let line = |s: String| format!("{i}({} @{at}{s})\n", op.kind.name());
    let s = match &op.kind {
        OperatorKind::Where(e) => line(format!(" {}", e.sexpr())),
        OperatorKind::Extend(ns) | OperatorKind::Project(ns) | OperatorKind::Serialize(ns) => {
            line(if ns.is_empty() {
                String::new()
            } else {
                format!(" {}", named(ns))
            })
        }
        OperatorKind::ProjectAway(ps) | OperatorKind::ProjectKeep(ps) => {
            line(format!(" {}", patterns(ps)))
        }
        OperatorKind::ProjectRename(rs) => line(
            rs.iter()
                .map(|(n, o)| format!(" (= {} {})", n.name, o.name))
                .collect(),
        ),
        OperatorKind::ProjectReorder(rs) => line(
            rs.iter()
                .map(|(p, o)| match o {
                    Some(o) => format!(" ({} {})", p.pattern, o.name),
                    None => format!(" {}", p.pattern),
                })
                .collect(),
        ),
        OperatorKind::Summarize {
            params: ps,
            aggregates,
            by,
        } => line(format!(
            "{} (aggs {}) (by {})",
            params(ps),
            named(aggregates),
            named(by)
        )),
        OperatorKind::MvExpand {
            legacy: _,
            params: ps,
            item_index,
            columns,
            limit,
        } => line(expansion(ps, item_index, columns, limit)),
        OperatorKind::MvApply {
            params: ps,
            item_index,
            columns,
            limit,
            body,
        } => {
            let mut s = format!(
                "{i}(mv-apply @{at}{}\n",
                expansion(ps, item_index, columns, limit)
            );
            dump_tabular(body, d + 1, &mut s);
            s.push_str(&format!("{i})\n"));
            s
        }
        OperatorKind::Sort { keys, .. } => {
            line(keys.iter().map(|k| format!(" {}", sort_key(k))).collect())
        }
        OperatorKind::Top { count, key } => {
            line(format!(" {} (by {})", count.sexpr(), sort_key(key)))
        }
        OperatorKind::Take { count, .. } => line(format!(" {}", count.sexpr())),
        OperatorKind::Distinct(es) => line(if es.is_empty() {
            " *".into()
        } else {
            format!(" {}", list(es))
        }),
        OperatorKind::Count | OperatorKind::GetSchema => line(String::new()),
        OperatorKind::Join {
            params: ps,
            right,
            on,
        }
        | OperatorKind::Lookup {
            params: ps,
            right,
            on,
        } => {
            let mut s = format!(
                "{i}({} @{at}{} (on {})\n",
                op.kind.name(),
                params(ps),
                list(on)
            );
            dump_tabular(right, d + 1, &mut s);
            s.push_str(&format!("{i})\n"));
            s
        }
        OperatorKind::Union(u) => {
            let mut s = String::new();
            dump_union(u, at, d, &mut s);
            s
        }
        OperatorKind::MakeSeries {
            params: ps,
            aggregates,
            on,
            from,
            to,
            step,
            by,
        } => {
            let aggs: Vec<String> = aggregates
                .iter()
                .map(|(n, def)| match def {
                    Some(v) => format!("({} default={})", named_one(n), v.sexpr()),
                    None => named_one(n),
                })
                .collect();
            line(format!(
                "{} (aggs {}) (on {}) (from {}) (to {}) (step {}) (by {})",
                params(ps),
                aggs.join(" "),
                on.sexpr(),
                from.as_ref().map_or("-".into(), Expr::sexpr),
                to.as_ref().map_or("-".into(), Expr::sexpr),
                step.sexpr(),
                named(by)
            ))
        }
        OperatorKind::Parse {
            params: ps,
            source,
            pattern,
            ..
        } => {
            let parts: Vec<String> = pattern
                .iter()
                .map(|p| match p {
                    ParsePart::Wildcard => "*".into(),
                    ParsePart::Literal(s) => format!("{s:?}"),
                    ParsePart::Column(n, Some(t)) => format!("{}:{}", n.name, t.as_str()),
                    ParsePart::Column(n, None) => n.name.clone(),
                })
                .collect();
            line(format!(
                "{} {} (with {})",
                params(ps),
                source.sexpr(),
                parts.join(" ")
            ))
        }
        OperatorKind::Render {
            visualization,
            properties,
        } => line(format!(" {}{}", visualization.name, params(properties))),
        OperatorKind::Evaluate {
            params: ps,
            plugin,
            args,
        } => line(format!("{} ({} {})", params(ps), plugin.name, list(args))),
        OperatorKind::Invoke { function, args } => {
            line(format!(" ({} {})", function.name, list(args)))
        }
        OperatorKind::As { params: ps, name } => line(format!("{} {}", params(ps), name.name)),
    };
    out.push_str(&s);
}

fn quote_ident(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_alphanumeric() || c == '_' || c == '$')
    {
        s.to_string()
    } else {
        format!("[{s:?}]")
    }
}

fn lit(l: &Literal) -> String {
    match l {
        Literal::Null => "null".into(),
        Literal::Bool(b) => b.to_string(),
        Literal::Long(v) => v.to_string(),
        Literal::Real(v) => format!("{v:?}r"),
        Literal::String {
            value,
            placeholders,
        } => {
            if placeholders.is_empty() {
                format!("{value:?}")
            } else {
                let ps: Vec<String> = placeholders.iter().map(|s| format!("@{s}")).collect();
                format!("{value:?}{{{}}}", ps.join(","))
            }
        }
        Literal::Timespan(t) => format!("(timespan {t})"),
        Literal::Datetime(s) => format!("(datetime {s:?})"),
        Literal::Guid(s) => format!("(guid {s})"),
        Literal::TypedNull(t) => format!("({} null)", t.as_str()),
        Literal::Dynamic(d) => format!("(dynamic {})", dynamic(d)),
    }
}

fn dynamic(d: &Dynamic) -> String {
    match d {
        Dynamic::Null => "null".into(),
        Dynamic::Array(v) => format!("[{}]", v.iter().map(dynamic).collect::<Vec<_>>().join(" ")),
        Dynamic::Bag(kv) => format!(
            "{{{}}}",
            kv.iter()
                .map(|(k, v)| format!("{k:?}:{}", dynamic(v)))
                .collect::<Vec<_>>()
                .join(" ")
        ),
        Dynamic::Scalar(l) => lit(l),
    }
}

impl Expr {
    /// The expression as an S-expression (no spans).
    pub fn sexpr(&self) -> String {
        match &self.kind {
            ExprKind::Literal(l) => lit(l),
            ExprKind::Name(i) => quote_ident(&i.name),
            ExprKind::Star => "*".into(),
            ExprKind::Placeholder { name, format } => match format {
                Some(f) => format!("{{{name}:{f}}}"),
                None => format!("{{{name}}}"),
            },
            ExprKind::Spliced { expr, name, format } => format!(
                "(spliced {} {{{name}{}}})",
                expr.sexpr(),
                format.as_ref().map(|f| format!(":{f}")).unwrap_or_default()
            ),
            ExprKind::Neg(e) => format!("(neg {})", e.sexpr()),
            ExprKind::Binary { op, lhs, rhs } => {
                format!("({} {} {})", op.text(), lhs.sexpr(), rhs.sexpr())
            }
            ExprKind::InList { op, expr, list: l } => {
                format!("({} {} ({}))", op.text(), expr.sexpr(), list(l))
            }
            ExprKind::Between {
                negated,
                expr,
                low,
                high,
            } => format!(
                "({} {} {} {})",
                if *negated { "!between" } else { "between" },
                expr.sexpr(),
                low.sexpr(),
                high.sexpr()
            ),
            ExprKind::Call { name, args } => {
                if args.is_empty() {
                    format!("({})", name.name)
                } else {
                    format!("({} {})", name.name, list(args))
                }
            }
            ExprKind::NamedArg { name, value } => format!("({}= {})", name.name, value.sexpr()),
            ExprKind::Member { expr, name } => {
                format!("(. {} {})", expr.sexpr(), quote_ident(&name.name))
            }
            ExprKind::Index { expr, index } => format!("([] {} {})", expr.sexpr(), index.sexpr()),
            ExprKind::Subquery(t) => {
                let mut s = String::new();
                dump_tabular(t, 0, &mut s);
                format!("(subquery {})", s.trim_end().replace('\n', " "))
            }
        }
    }
}
