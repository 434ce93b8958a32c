//! Binder: [`ast::Query`] → typed [`ir::Rel`], with names and types resolved against a
//! [`Catalog`].
//!
//! - `let` names are scoped (scalars and tables inline where used; functions and views are bound
//!   at each call with their arguments in scope);
//! - columns keep KQL's naming rules (`count_`, `max_X`, `TargetResources_id`, `Column1`, `X1`
//!   on join conflicts) and KQL's order of columns;
//! - dynamic values keep their Arrow shape when known (member access on a struct, index on a
//!   list), so a missing property is a null (with a warning), never a compile error;
//! - `ago()`/`now()` are fixed once per query (the `now` given to [`ast_to_ir`]);
//! - workbook placeholders must have been substituted before binding (`KQL0207` otherwise).
//!
//! Codes: KQL0201 unknown column, KQL0202 unknown table, KQL0203 unknown function, KQL0204
//! wrong arguments, KQL0205 type mismatch, KQL0206 not supported, KQL0207 unfilled placeholder,
//! KQL0208 aggregate misuse, KQL0209 duplicate column, KQL0210 expected a constant, KQL0250
//! (warning) missing dynamic property.

mod functions;
mod scalar;
mod series;
mod tabular;

use std::collections::HashMap;

use arrow::datatypes::SchemaRef;

use crate::diagnostic::{Diagnostic, Span};
use crate::kql::ast;
use crate::kql::ir::{Column, Expr, Lit, Rel, RelKind};
use crate::kql::types::Ty;

/// The tables a query can read: name (case-sensitive, as KQL) → Arrow schema; and the time
/// range a workbook step applies to them.
#[derive(Clone, Debug, Default)]
pub struct Catalog {
    tables: Vec<(String, SchemaRef)>,
    /// `[start, end]`, nanoseconds UTC: every table with a `TimeGenerated` column is read
    /// through `where TimeGenerated between (start .. end)` (a workbook's time context).
    time_range: Option<(i64, i64)>,
    /// Tables stored in day partitions (see [`crate::kql::partition`]).
    day_partitions: Vec<(String, crate::kql::partition::DayPartition)>,
}

impl Catalog {
    pub fn new() -> Catalog {
        Catalog::default()
    }

    pub fn with_table(mut self, name: &str, schema: SchemaRef) -> Catalog {
        self.tables.push((name.to_string(), schema));
        self
    }

    pub fn table(&self, name: &str) -> Option<&SchemaRef> {
        self.tables.iter().find(|(n, _)| n == name).map(|(_, s)| s)
    }

    pub fn names(&self) -> Vec<&str> {
        self.tables.iter().map(|(n, _)| n.as_str()).collect()
    }

    /// Declares that `table` is stored in day partitions, so that time bounds prune them.
    pub fn with_day_partition(
        mut self,
        table: &str,
        partition: crate::kql::partition::DayPartition,
    ) -> Catalog {
        self.day_partitions.push((table.to_string(), partition));
        self
    }

    pub fn day_partition(&self, table: &str) -> Option<&crate::kql::partition::DayPartition> {
        self.day_partitions
            .iter()
            .find(|(n, _)| n == table)
            .map(|(_, p)| p)
    }

    /// The same tables, each read only within `[start, end]` of `TimeGenerated` (nanoseconds).
    pub fn with_time_range(mut self, range: Option<(i64, i64)>) -> Catalog {
        self.time_range = range;
        self
    }
}

/// A `render` operator, kept as the result's visualization hint.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct RenderHint {
    pub visualization: String,
    /// `with (name = value)` properties, values as written.
    pub properties: Vec<(String, String)>,
}

/// The bound query.
#[derive(Clone, Debug)]
pub struct Bound {
    pub rel: Rel,
    pub render: Option<RenderHint>,
    pub warnings: Vec<Diagnostic>,
}

/// Binds a parsed query. `now` (ns since the epoch, UTC) is the value of `now()` and the anchor
/// of `ago()` for the whole query.
pub fn ast_to_ir(
    query: &ast::Query,
    catalog: &Catalog,
    now: i64,
) -> Result<Bound, Vec<Diagnostic>> {
    let mut b = Binder {
        catalog,
        now,
        diags: Vec::new(),
        scopes: vec![HashMap::new()],
        render: None,
        depth: 0,
        serial: false,
    };
    let result = b.statements(&query.statements, query.span);
    let errors = b.diags.iter().any(Diagnostic::is_error);
    match result {
        Ok(rel) if !errors => Ok(Bound {
            rel,
            render: b.render,
            warnings: b.diags,
        }),
        _ => {
            if !errors {
                b.diags.push(Diagnostic::error(
                    "KQL0206",
                    "the query could not be compiled",
                    query.span,
                ));
            }
            Err(b.diags)
        }
    }
}

/// A binding failure; its diagnostic is already recorded.
#[derive(Debug)]
pub(crate) struct Failed;

pub(crate) type B<T> = Result<T, Failed>;

/// A bound scalar expression with its KQL type.
#[derive(Clone, Debug)]
pub(crate) struct TExpr {
    pub e: Expr,
    pub ty: Ty,
    pub nullable: bool,
    /// The column name KQL gives this expression when none is written.
    pub name: Option<String>,
    /// For `tostring(x)` of a dynamic value: `x` (so `parse_json(tostring(x))` folds to `x`).
    pub json_of: Option<Box<TExpr>>,
}

impl TExpr {
    pub fn new(e: Expr, ty: Ty, nullable: bool) -> TExpr {
        TExpr {
            e,
            ty,
            nullable,
            name: None,
            json_of: None,
        }
    }

    pub fn named(mut self, name: Option<String>) -> TExpr {
        self.name = name;
        self
    }
}

#[derive(Clone, Debug)]
pub(crate) enum LetBinding {
    Scalar(TExpr),
    Tabular(Rel),
    Function {
        params: Vec<ast::Param>,
        body: Vec<ast::Statement>,
        result: ast::LetBodyResult,
    },
}

pub(crate) struct Binder<'a> {
    pub catalog: &'a Catalog,
    pub now: i64,
    pub diags: Vec<Diagnostic>,
    pub scopes: Vec<HashMap<String, LetBinding>>,
    pub render: Option<RenderHint>,
    pub depth: usize,
    /// The current pipeline is serialized (`serialize`, `sort`): `row_number()` is allowed.
    pub serial: bool,
}

impl Binder<'_> {
    pub fn error<T>(&mut self, code: &'static str, message: impl Into<String>, span: Span) -> B<T> {
        self.diags.push(Diagnostic::error(code, message, span));
        Err(Failed)
    }

    pub fn error_hint<T>(
        &mut self,
        code: &'static str,
        message: impl Into<String>,
        span: Span,
        hint: impl Into<String>,
    ) -> B<T> {
        self.diags
            .push(Diagnostic::error(code, message, span).with_hint(hint));
        Err(Failed)
    }

    pub fn warn(&mut self, code: &'static str, message: impl Into<String>, span: Span) {
        self.diags.push(Diagnostic::warning(code, message, span));
    }

    pub fn lookup(&self, name: &str) -> Option<&LetBinding> {
        self.scopes.iter().rev().find_map(|s| s.get(name))
    }

    pub fn define(&mut self, name: &str, binding: LetBinding) {
        self.scopes
            .last_mut()
            .expect("a scope")
            .insert(name.to_string(), binding);
    }

    /// Binds `let` statements then the last tabular statement.
    fn statements(&mut self, statements: &[ast::Statement], span: Span) -> B<Rel> {
        let mut result = None;
        let mut failed = false;
        for s in statements {
            match s {
                ast::Statement::Let { name, value, .. } => {
                    if self.let_statement(name, value).is_err() {
                        failed = true;
                    }
                }
                ast::Statement::Tabular(t) => match self.tabular(t, None) {
                    Ok(rel) => result = Some(rel),
                    Err(Failed) => failed = true,
                },
            }
        }
        if failed {
            return Err(Failed);
        }
        match result {
            Some(rel) => Ok(rel),
            None => self.error("KQL0206", "the query has no tabular expression", span),
        }
    }

    pub(crate) fn let_statement(&mut self, name: &ast::Ident, value: &ast::LetValue) -> B<()> {
        let binding = match value {
            ast::LetValue::Scalar(e) => {
                // `let t = T` names a table when `T` is one.
                if let ast::ExprKind::Name(id) = &e.kind
                    && let Some(rel) = self.table_by_name(&id.name)
                {
                    LetBinding::Tabular(rel)
                } else if let ast::ExprKind::Call { name: f, args } = &e.kind
                    && let Some(LetBinding::Function {
                        result: ast::LetBodyResult::Tabular(_),
                        ..
                    }) = self.lookup(&f.name)
                {
                    let rel = self.call_tabular_function(f, args, None)?;
                    LetBinding::Tabular(rel)
                } else if let ast::ExprKind::Subquery(t) = &e.kind {
                    // `let t = (T | where ...)`: a parenthesized tabular expression.
                    LetBinding::Tabular(self.tabular(t, None)?)
                } else {
                    let empty = empty_rel();
                    LetBinding::Scalar(self.expr(e, &empty, scalar::Ctx::value())?)
                }
            }
            ast::LetValue::Tabular(t) => LetBinding::Tabular(self.tabular(t, None)?),
            ast::LetValue::Function {
                params,
                body,
                result,
                ..
            } => LetBinding::Function {
                params: params.clone(),
                body: body.clone(),
                result: result.as_ref().clone(),
            },
        };
        self.define(&name.name, binding);
        Ok(())
    }

    /// A table of the catalog or a tabular `let`, by exact name.
    pub fn table_by_name(&self, name: &str) -> Option<Rel> {
        match self.lookup(name) {
            Some(LetBinding::Tabular(rel)) => return Some(rel.clone()),
            Some(_) => return None,
            None => {}
        }
        self.catalog_table(name)
    }

    /// A table or tabular `let` by name; a tabular function or view without required
    /// parameters is called (`let V = view () {...}; V | count`).
    pub fn table_or_call(&mut self, id: &ast::Ident) -> B<Rel> {
        if let Some(LetBinding::Function {
            params,
            result: ast::LetBodyResult::Tabular(_),
            ..
        }) = self.lookup(&id.name)
            && params
                .iter()
                .all(|p| p.default.is_some() || matches!(p.ty, ast::ParamType::Tabular { .. }))
        {
            return self.call_tabular_function(id, &[], None);
        }
        match self.table_by_name(&id.name) {
            Some(rel) => Ok(rel),
            None => self.unknown_table(id),
        }
    }

    fn catalog_table(&self, name: &str) -> Option<Rel> {
        let schema = self.catalog.table(name)?;
        let columns = schema
            .fields()
            .iter()
            .map(|f| Column {
                name: f.name().clone(),
                ty: Ty::from_arrow(f.data_type()),
                nullable: f.is_nullable(),
                hidden: false,
            })
            .collect();
        let scan = Rel {
            kind: RelKind::Scan {
                table: name.to_string(),
            },
            columns,
            order: Vec::new(),
        };
        let Some((start, end)) = self.catalog.time_range else {
            return Some(scan);
        };
        if !scan
            .columns
            .iter()
            .any(|c| c.name == "TimeGenerated" && c.ty == Ty::Datetime)
        {
            return Some(scan);
        }
        let at = |ns| Expr::Lit(Lit::Datetime(ns), Ty::Datetime);
        Some(Rel {
            columns: scan.columns.clone(),
            order: Vec::new(),
            kind: RelKind::Filter {
                input: Box::new(scan),
                predicate: Expr::Between(
                    Box::new(Expr::col("TimeGenerated")),
                    Box::new(at(start)),
                    Box::new(at(end)),
                    false,
                ),
            },
        })
    }

    /// Calls a user function whose body is tabular; `input` is the piped table for `invoke`.
    pub fn call_tabular_function(
        &mut self,
        name: &ast::Ident,
        args: &[ast::Expr],
        input: Option<Rel>,
    ) -> B<Rel> {
        let Some(LetBinding::Function {
            params,
            body,
            result,
        }) = self.lookup(&name.name).cloned()
        else {
            return self.error(
                "KQL0203",
                format!("`{}` is not a tabular function", name.name),
                name.span,
            );
        };
        self.enter_function(name, &params, args, input)?;
        let out = (|| {
            for s in &body {
                if let ast::Statement::Let { name, value, .. } = s {
                    self.let_statement(name, value)?;
                }
            }
            match &result {
                ast::LetBodyResult::Tabular(t) => self.tabular(t, None),
                ast::LetBodyResult::Scalar(e) => self.error(
                    "KQL0205",
                    format!("`{}` returns a scalar, not a table", name.name),
                    e.span,
                ),
            }
        })();
        self.scopes.pop();
        self.depth -= 1;
        out
    }

    /// Opens a scope with a function's parameters bound to the call's arguments.
    pub fn enter_function(
        &mut self,
        name: &ast::Ident,
        params: &[ast::Param],
        args: &[ast::Expr],
        mut input: Option<Rel>,
    ) -> B<()> {
        if self.depth > 16 {
            return self.error(
                "KQL0206",
                format!(
                    "`{}`: functions nest too deep (recursion is not supported)",
                    name.name
                ),
                name.span,
            );
        }
        let mut scope = HashMap::new();
        let mut args = args.iter();
        let empty = empty_rel();
        for p in params {
            match &p.ty {
                ast::ParamType::Tabular { .. } => {
                    let rel = if let Some(rel) = input.take() {
                        rel
                    } else if let Some(a) = args.next() {
                        self.tabular_arg(a)?
                    } else {
                        return self.error(
                            "KQL0204",
                            format!(
                                "`{}`: missing tabular argument `{}`",
                                name.name, p.name.name
                            ),
                            name.span,
                        );
                    };
                    scope.insert(p.name.name.clone(), LetBinding::Tabular(rel));
                }
                ast::ParamType::Scalar(t) => {
                    let value = match (args.next(), &p.default) {
                        (Some(a), _) => self.expr(a, &empty, scalar::Ctx::value())?,
                        (None, Some(d)) => self.expr(d, &empty, scalar::Ctx::value())?,
                        (None, None) => {
                            return self.error(
                                "KQL0204",
                                format!("`{}`: missing argument `{}`", name.name, p.name.name),
                                name.span,
                            );
                        }
                    };
                    let value = match Ty::from_type_name(*t) {
                        Some(ty) if ty != value.ty && ty != Ty::Json => {
                            self.convert(value, &ty, p.name.span)?
                        }
                        _ => value,
                    };
                    scope.insert(p.name.name.clone(), LetBinding::Scalar(value));
                }
            }
        }
        if let Some(extra) = args.next() {
            return self.error(
                "KQL0204",
                format!("`{}` takes {} arguments", name.name, params.len()),
                extra.span,
            );
        }
        self.scopes.push(scope);
        self.depth += 1;
        Ok(())
    }

    /// A function argument that must be a table: a name or a parenthesized tabular expression.
    fn tabular_arg(&mut self, a: &ast::Expr) -> B<Rel> {
        match &a.kind {
            ast::ExprKind::Name(id) => match self.table_by_name(&id.name) {
                Some(rel) => Ok(rel),
                None => self.unknown_table(id),
            },
            ast::ExprKind::Subquery(t) => self.tabular(t, None),
            _ => self.error("KQL0205", "expected a table argument", a.span),
        }
    }

    pub fn unknown_table<T>(&mut self, id: &ast::Ident) -> B<T> {
        let mut names: Vec<String> = self.catalog.names().iter().map(|s| s.to_string()).collect();
        for scope in &self.scopes {
            for (n, b) in scope {
                if matches!(b, LetBinding::Tabular(_)) {
                    names.push(n.clone());
                }
            }
        }
        names.sort();
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        let mut d = Diagnostic::error("KQL0202", format!("unknown table `{}`", id.name), id.span)
            .with_label(id.span, "not a table or tabular `let`");
        if let Some(s) = crate::kql::parser::did_you_mean(&id.name, &refs) {
            d = d.with_hint(format!("did you mean `{s}`?"));
        }
        d = d.with_hint(format!("tables are: {}", refs.join(", ")));
        self.diags.push(d);
        Err(Failed)
    }
}

/// A relation with no columns and one row (the input of `print` and of scalar `let`s).
pub(crate) fn empty_rel() -> Rel {
    Rel {
        kind: RelKind::Values { rows: vec![vec![]] },
        columns: Vec::new(),
        order: Vec::new(),
    }
}
