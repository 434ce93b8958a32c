//! The KQL compiler: lexer → parser → binder → SQL generator, one module and one entry function
//! per stage, chained by [`compile`].
//!
//! - [`lexer::lex`]: source → tokens with byte spans (contextual keywords, all literal forms,
//!   workbook placeholders `{Name:format}`).
//! - [`parser::parse`]: tokens → [`ast::Query`] (every node spanned), several diagnostics per run
//!   with recovery at `|` and `;`, a nesting limit, never a panic.
//! - [`binder::ast_to_ir`]: AST → typed [`ir::Rel`], names and types resolved against a
//!   [`binder::Catalog`], KQL semantics made explicit (null rules, naming, dynamic shapes).
//! - [`sqlgen::ir_to_sql`]: IR → `sqlparser` syntax tree → SQL text for DataFusion.
//! - [`udf`]: the `kql_*` functions the generated SQL calls, registered by the engine.
//!
//! Diagnostics use the crate-wide [`crate::diagnostic::Diagnostic`]. Codes defined here:
//!
//! | code | stage | meaning |
//! |---|---|---|
//! | KQL0001 | lexer | unexpected character |
//! | KQL0002 | lexer | unterminated string literal |
//! | KQL0003 | lexer | invalid escape sequence |
//! | KQL0004 | lexer | invalid number (bad suffix, bad hex) |
//! | KQL0007 | lexer | numeric or timespan literal out of range |
//! | KQL0101 | parser | unknown query operator (with "did you mean") |
//! | KQL0102 | parser | syntax error: expected X, found Y |
//! | KQL0103 | parser | expected an expression |
//! | KQL0104 | parser | KQL operator not supported by auditbook |
//! | KQL0105 | parser | nesting too deep |
//! | KQL0106 | parser | invalid operator parameter (unknown name, bad `kind=`) |
//! | KQL0107 | parser | invalid `datetime`/`timespan`/`guid` literal |
//! | KQL0108 | parser | unknown type name |
//! | KQL0109 | parser | no tabular expression statement (empty query) |
//! | KQL0110 | parser | unexpected token after an operator |
//! | KQL0112 | parser | unsupported statement (`set`, `declare`, ...) |
//! | KQL0113 | parser | invalid `dynamic(...)` literal |
//! | KQL0150 | parser (warning) | legacy `mvexpand` without `limit`: at most 128 values per row |
//! | KQL0201 | binder | unknown column (with did-you-mean and the column list) |
//! | KQL0202 | binder | unknown table |
//! | KQL0203 | binder | unknown function |
//! | KQL0204 | binder | wrong arguments (count, shape) |
//! | KQL0205 | binder | type mismatch |
//! | KQL0206 | binder | construct not supported by auditbook |
//! | KQL0207 | binder | workbook placeholder without a value |
//! | KQL0208 | binder | aggregate outside `summarize`, or `summarize` item without one |
//! | KQL0209 | binder | duplicate column name |
//! | KQL0210 | binder | a constant was expected |
//! | KQL0250 | binder (warning) | missing dynamic property: always null |
//! | KQL0251 | binder (warning) | `union isfuzzy=true` skipped a missing table |

pub mod ast;
pub mod binder;
pub mod ir;
pub mod lexer;
pub mod materialize;
pub mod narrow;
pub mod parser;
pub mod partition;
pub mod prefilter;
pub mod prune;
pub mod restrict;
pub mod sqlgen;
pub mod types;
pub mod udf;

pub use binder::{Catalog, RenderHint};
pub use lexer::lex;
pub use parser::parse;

use crate::diagnostic::Diagnostic;
use crate::kql::types::Ty;

/// A compiled query: DataFusion SQL plus what the KQL result looks like.
#[derive(Clone, Debug)]
pub struct Compiled {
    /// The SQL syntax tree (printed by [`Compiled::sql`]).
    pub query: datafusion::sql::sqlparser::ast::Query,
    /// Output columns with their KQL types, in order.
    pub columns: Vec<(String, Ty)>,
    /// The `render` operator, if any.
    pub render: Option<RenderHint>,
    /// Warnings of every stage (the query compiled).
    pub warnings: Vec<Diagnostic>,
    /// Tables whose nested columns the query reads only in part, with their schema narrowed to
    /// the fields it reads ([`narrow`]): the engine plans the query against these, so the
    /// Parquet reader decodes only those leaves. The SQL text is the same either way.
    pub narrowed: Vec<(String, arrow::datatypes::SchemaRef)>,
    /// Relations the query reads more than once through `materialize()`, to compute first, in
    /// order, each held in memory as the named table the query (and later ones) read
    /// ([`materialize`]).
    pub materialized: Vec<(String, datafusion::sql::sqlparser::ast::Query)>,
    /// Only the first row matters (a restriction that keeps any one row,
    /// [`restrict::Keep::AnyOne`]): the engine plans it with small batches, so that the scan
    /// stops soon after the first match instead of filling a whole batch of matches first.
    pub first_row_only: bool,
}

impl Compiled {
    /// The SQL text (one line), as DataFusion runs it.
    pub fn sql(&self) -> String {
        sqlgen::sql_text(&self.query, false)
    }

    /// The SQL text, indented for reading (`auditbook explain`), after the statements of the
    /// materialized tables it reads.
    pub fn pretty_sql(&self) -> String {
        let mut out = String::new();
        for (name, q) in &self.materialized {
            out.push_str(&format!(
                "-- materialized: \"{name}\" (computed once, before the query)\n{};\n\n",
                sqlgen::sql_text(q, true)
            ));
        }
        out.push_str(&sqlgen::sql_text(&self.query, true));
        out
    }

    /// Output columns holding `dynamic` values as JSON text (printed as JSON, not as strings).
    pub fn json_columns(&self) -> Vec<String> {
        self.columns
            .iter()
            .filter(|(_, t)| *t == Ty::Json)
            .map(|(n, _)| n.clone())
            .collect()
    }
}

/// Compiles KQL to DataFusion SQL. `now` (nanoseconds since the epoch, UTC) is the value of
/// `now()` and the anchor of `ago()` for the whole query. Errors come with every diagnostic found
/// (warnings included); a successful compile keeps its warnings.
pub fn compile(src: &str, catalog: &Catalog, now: i64) -> Result<Compiled, Vec<Diagnostic>> {
    compile_with(src, catalog, now, None).map(|c| c.expect("an unrestricted query compiles"))
}

/// [`compile`], restricted to the rows whose first column equals `value` ([`restrict`]): how a
/// workbook run checks one drop-down value without listing them all. `Ok(None)` when the first
/// column is not a string.
pub fn compile_restricted(
    src: &str,
    catalog: &Catalog,
    now: i64,
    value: &str,
    keep: restrict::Keep,
) -> Result<Option<Compiled>, Vec<Diagnostic>> {
    compile_with(src, catalog, now, Some((value, keep)))
}

fn compile_with(
    src: &str,
    catalog: &Catalog,
    now: i64,
    first_column_equals: Option<(&str, restrict::Keep)>,
) -> Result<Option<Compiled>, Vec<Diagnostic>> {
    let (ast, mut diagnostics) = parse(src);
    let Some(ast) = ast else {
        return Err(diagnostics);
    };
    let bound = match binder::ast_to_ir(&ast, catalog, now) {
        Ok(b) => b,
        Err(mut errors) => {
            diagnostics.append(&mut errors);
            diagnostics.sort_by_key(|d| d.span.start);
            return Err(diagnostics);
        }
    };
    diagnostics.extend(bound.warnings);
    diagnostics.sort_by_key(|d| d.span.start);
    let columns = bound
        .rel
        .visible()
        .map(|c| (c.name.clone(), c.ty.clone()))
        .collect();
    let rel = match first_column_equals {
        None => bound.rel,
        Some((value, keep)) => match restrict::first_column_equals(bound.rel, value, keep) {
            Some(rel) => rel,
            None => return Ok(None),
        },
    };
    // Materialized relations are taken out first, while every copy is still the one the binder
    // made, and each is then optimized once as a query of its own.
    let (rel, materialized) = materialize::extract(rel);
    let optimize = |rel| {
        let rel = prefilter::add_prefilters(rel);
        prune::prune(partition::add_partition_filters(rel, catalog))
    };
    let rel = optimize(rel);
    let materialized: Vec<_> = materialized
        .into_iter()
        .map(|(name, r)| (name, optimize(r)))
        .collect();
    let narrowed = narrow::narrowed_schemas(
        std::iter::once(&rel).chain(materialized.iter().map(|(_, r)| r)),
        catalog,
    );
    Ok(Some(Compiled {
        query: sqlgen::ir_to_sql(&rel),
        materialized: materialized
            .iter()
            .map(|(name, r)| (name.clone(), sqlgen::materialized_to_sql(r)))
            .collect(),
        narrowed,
        first_row_only: matches!(first_column_equals, Some((_, restrict::Keep::AnyOne))),
        columns,
        render: bound.render,
        warnings: diagnostics,
    }))
}
