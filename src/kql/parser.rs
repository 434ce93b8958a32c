//! KQL parser: tokens → [`ast::Query`], recursive descent.
//!
//! - Several errors per run: an error inside an operator skips to the next `|` or `;` at the same
//!   bracket depth (or to the closing bracket of the enclosing subquery), and parsing goes on.
//! - Nesting is limited to [`MAX_DEPTH`] levels (brackets, subqueries, unary chains): deeper input
//!   gets `KQL0105`, never a stack overflow.
//! - Unknown operators get `KQL0101` with the supported list and a "did you mean" hint; KQL
//!   operators that auditbook does not support get `KQL0104` naming them.
//!
//! Precedence, loosest first (KQL scalar operator documentation): `or`; `and`; comparisons and
//! string/list operators (`==`, `=~`, `<`, `has`, `contains`, `in`, `between`, `matches regex`,
//! ..., non-associative, left to right); `+ -`; `* / %`; unary `-`/`+`; postfix `.name`,
//! `[index]`, calls.

use super::ast::*;
use super::lexer::{Token, TokenKind, lex};
use crate::diagnostic::{Diagnostic, Span};

/// Maximum nesting of brackets, subqueries and unary operators.
pub const MAX_DEPTH: usize = 64;

/// The query operators the parser accepts (for "did you mean" and the KQL0101 list).
pub const SUPPORTED_OPERATORS: &[&str] = &[
    "as",
    "count",
    "distinct",
    "evaluate",
    "extend",
    "filter",
    "getschema",
    "invoke",
    "join",
    "limit",
    "lookup",
    "make-series",
    "mv-apply",
    "mv-expand",
    "mvexpand",
    "order",
    "parse",
    "parse-where",
    "project",
    "project-away",
    "project-keep",
    "project-rename",
    "project-reorder",
    "render",
    "serialize",
    "sort",
    "summarize",
    "take",
    "top",
    "union",
    "where",
];

/// KQL operators known but not supported (refused by name, `KQL0104`).
pub const UNSUPPORTED_OPERATORS: &[&str] = &[
    "consume",
    "facet",
    "find",
    "fork",
    "graph-match",
    "make-graph",
    "parse-kv",
    "partition",
    "reduce",
    "sample",
    "sample-distinct",
    "scan",
    "search",
    "top-hitters",
    "top-nested",
    "mvapply",
    "extend-schema",
];

/// Parses a KQL query. Returns the AST when there is no error (warnings may accompany it), and
/// every diagnostic of the lexer and the parser, in source order. Never panics.
pub fn parse(src: &str) -> (Option<Query>, Vec<Diagnostic>) {
    let (tokens, mut diags) = lex(src);
    let mut p = Parser {
        toks: tokens,
        pos: 0,
        diags: Vec::new(),
        depth: 0,
        too_deep_reported: false,
    };
    let q = p.query();
    diags.append(&mut p.diags);
    diags.sort_by_key(|d| (d.span.start, d.span.end));
    if diags.iter().any(Diagnostic::is_error) {
        (None, diags)
    } else {
        (Some(q), diags)
    }
}

/// An error already recorded in the diagnostics.
struct Reported;
type PResult<T> = Result<T, Reported>;

struct Parser {
    toks: Vec<Token>,
    pos: usize,
    diags: Vec<Diagnostic>,
    depth: usize,
    too_deep_reported: bool,
}

fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur.push(sub.min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

/// The closest of `candidates` to `word`, if close enough to be a likely typo.
pub fn did_you_mean<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    let w = word.to_ascii_lowercase();
    let norm = |s: &str| s.replace(['-', '_'], "");
    candidates
        .iter()
        .map(|c| {
            let c_lower = c.to_ascii_lowercase();
            let d = if norm(&w) == norm(&c_lower) {
                0
            } else {
                levenshtein(&w, &c_lower)
            };
            (d, *c)
        })
        .filter(|(d, c)| *d <= (c.len() / 3).max(1))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

impl Parser {
    // ----- token helpers -------------------------------------------------------------------

    fn peek(&self) -> &Token {
        &self.toks[self.pos.min(self.toks.len() - 1)]
    }

    fn peek_at(&self, n: usize) -> &Token {
        &self.toks[(self.pos + n).min(self.toks.len() - 1)]
    }

    fn at_eof(&self) -> bool {
        matches!(self.peek().kind, TokenKind::Eof)
    }

    fn bump(&mut self) -> Token {
        let t = self.peek().clone();
        if !self.at_eof() {
            self.pos += 1;
        }
        t
    }

    fn prev_end(&self) -> usize {
        if self.pos == 0 {
            0
        } else {
            self.toks[self.pos - 1].span.end
        }
    }

    fn at_punct(&self, p: &str) -> bool {
        self.peek().is_punct(p)
    }

    fn at_word(&self, w: &str) -> bool {
        self.peek().is_word(w)
    }

    fn eat_punct(&mut self, p: &str) -> bool {
        if self.at_punct(p) {
            self.bump();
            true
        } else {
            false
        }
    }

    fn eat_word(&mut self, w: &str) -> bool {
        if self.at_word(w) {
            self.bump();
            true
        } else {
            false
        }
    }

    fn error(&mut self, code: &'static str, msg: impl Into<String>, span: Span) -> Reported {
        self.diags.push(Diagnostic::error(code, msg, span));
        Reported
    }

    fn expected(&mut self, what: &str) -> Reported {
        let t = self.peek().clone();
        let d = Diagnostic::error(
            "KQL0102",
            format!("expected {what}, found {}", t.describe()),
            t.span,
        )
        .with_label(t.span, format!("expected {what}"));
        self.diags.push(d);
        Reported
    }

    fn expect_punct(&mut self, p: &str) -> PResult<Span> {
        if self.at_punct(p) {
            Ok(self.bump().span)
        } else {
            Err(self.expected(&format!("`{p}`")))
        }
    }

    fn expect_word(&mut self, w: &str) -> PResult<Span> {
        if self.at_word(w) {
            Ok(self.bump().span)
        } else {
            Err(self.expected(&format!("`{w}`")))
        }
    }

    /// An identifier: a word or a bracketed `['name']`.
    fn ident(&mut self, what: &str) -> PResult<Ident> {
        let t = self.peek().clone();
        if let TokenKind::Ident(name) = &t.kind {
            self.bump();
            return Ok(Ident {
                name: name.clone(),
                span: t.span,
            });
        }
        if let Some(id) = self.bracket_ident() {
            return Ok(id);
        }
        Err(self.expected(what))
    }

    /// `['name']` / `["name"]` at the current position.
    fn bracket_ident(&mut self) -> Option<Ident> {
        if self.at_punct("[")
            && let TokenKind::Str { value, .. } = &self.peek_at(1).kind
            && self.peek_at(2).is_punct("]")
        {
            let name = value.clone();
            let start = self.bump().span;
            self.bump();
            let end = self.bump().span;
            return Some(Ident {
                name,
                span: start.to(end),
            });
        }
        None
    }

    fn enter(&mut self) -> PResult<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            if !self.too_deep_reported {
                self.too_deep_reported = true;
                let s = self.peek().span;
                self.diags.push(
                    Diagnostic::error(
                        "KQL0105",
                        format!("query nested too deeply (more than {MAX_DEPTH} levels)"),
                        s,
                    )
                    .with_hint("split it with `let` statements"),
                );
            }
            self.depth -= 1;
            return Err(Reported);
        }
        Ok(())
    }

    fn leave(&mut self) {
        self.depth -= 1;
    }

    /// Skips to the next `|` or `;` at this bracket depth, or to an unmatched closing bracket
    /// (not consumed), or to the end.
    fn recover(&mut self) {
        let mut depth = 0usize;
        loop {
            let t = self.peek();
            match &t.kind {
                TokenKind::Eof => return,
                TokenKind::Punct("(" | "[" | "{") => depth += 1,
                TokenKind::Punct(")" | "]" | "}") => {
                    if depth == 0 {
                        return;
                    }
                    depth -= 1;
                }
                TokenKind::Punct("|" | ";") if depth == 0 => return,
                _ => {}
            }
            self.bump();
        }
    }

    // ----- statements ----------------------------------------------------------------------

    fn query(&mut self) -> Query {
        let mut statements = Vec::new();
        let mut tabular_seen = false;
        loop {
            while self.eat_punct(";") {}
            if self.at_eof() {
                break;
            }
            match self.statement() {
                Ok(s) => {
                    tabular_seen |= matches!(s, Statement::Tabular(_));
                    statements.push(s);
                    if !self.at_eof() && !self.at_punct(";") {
                        let _ = self.expected("`|` or `;`");
                        self.recover_statement();
                    }
                }
                Err(Reported) => self.recover_statement(),
            }
        }
        let end = self.prev_end();
        if self.diags.is_empty() && !tabular_seen {
            let span = Span::new(end, end);
            self.diags.push(
                Diagnostic::error(
                    "KQL0109",
                    if statements.is_empty() {
                        "empty query"
                    } else {
                        "query has no tabular expression statement"
                    },
                    span,
                )
                .with_hint("a query ends with a tabular expression, e.g. `AuditLogs | take 10`"),
            );
        }
        Query {
            statements,
            span: Span::new(0, end),
        }
    }

    fn recover_statement(&mut self) {
        loop {
            self.recover();
            match &self.peek().kind {
                TokenKind::Eof => return,
                TokenKind::Punct(";") => return,
                TokenKind::Punct("|") => {
                    self.bump();
                }
                _ => {
                    // An unmatched closing bracket at top level: skip it.
                    self.bump();
                }
            }
        }
    }

    fn statement(&mut self) -> PResult<Statement> {
        let t = self.peek().clone();
        if t.is_word("let") {
            return self.let_statement();
        }
        if let Some(w @ ("set" | "declare" | "alias" | "pattern" | "restrict")) = t.word()
            && matches!(self.peek_at(1).kind, TokenKind::Ident(_))
        {
            let w = w.to_string();
            self.diags.push(
                Diagnostic::error(
                    "KQL0112",
                    format!("`{w}` statements are not supported"),
                    t.span,
                )
                .with_hint("supported statements: `let` and a tabular expression"),
            );
            return Err(Reported);
        }
        Ok(Statement::Tabular(self.tabular()?))
    }

    fn let_statement(&mut self) -> PResult<Statement> {
        let start = self.bump().span;
        let name = self.ident("a name after `let`")?;
        self.expect_punct("=")?;
        let value = if self.at_word("view") && self.peek_at(1).is_punct("(") {
            self.bump();
            self.function(true)?
        } else if self.at_punct("(") && self.looks_like_params() {
            self.function(false)?
        } else {
            match self.scalar_or_tabular()? {
                Either::Scalar(e) => LetValue::Scalar(e),
                Either::Tabular(t) => LetValue::Tabular(t),
            }
        };
        Ok(Statement::Let {
            name,
            value,
            span: start.to(Span::new(self.prev_end(), self.prev_end())),
        })
    }

    /// After `let f =`: `(` `)` `{` or `(` name `:` is a parameter list.
    fn looks_like_params(&self) -> bool {
        (self.peek_at(1).is_punct(")") && self.peek_at(2).is_punct("{"))
            || (matches!(self.peek_at(1).kind, TokenKind::Ident(_))
                && self.peek_at(2).is_punct(":"))
    }

    fn function(&mut self, view: bool) -> PResult<LetValue> {
        self.expect_punct("(")?;
        let mut params = Vec::new();
        if !self.at_punct(")") {
            loop {
                params.push(self.param()?);
                if !self.eat_punct(",") {
                    break;
                }
            }
        }
        self.expect_punct(")")?;
        let open = self.expect_punct("{")?;
        self.enter()?;
        let r = self.function_body(open);
        self.leave();
        let (body, result) = r?;
        Ok(LetValue::Function {
            view,
            params,
            body,
            result: Box::new(result),
        })
    }

    fn function_body(&mut self, open: Span) -> PResult<(Vec<Statement>, LetBodyResult)> {
        let mut body = Vec::new();
        loop {
            while self.eat_punct(";") {}
            if self.at_word("let") {
                body.push(self.let_statement()?);
                continue;
            }
            if self.at_punct("}") {
                let d = Diagnostic::error(
                    "KQL0102",
                    "function body has no result expression",
                    self.peek().span,
                )
                .with_label(open, "body starts here");
                self.diags.push(d);
                return Err(Reported);
            }
            let result = match self.scalar_or_tabular()? {
                Either::Scalar(e) => LetBodyResult::Scalar(e),
                Either::Tabular(t) => LetBodyResult::Tabular(t),
            };
            while self.eat_punct(";") {}
            if !self.at_punct("}") {
                let d = Diagnostic::error(
                    "KQL0102",
                    format!("expected `}}`, found {}", self.peek().describe()),
                    self.peek().span,
                )
                .with_label(open, "function body opened here");
                self.diags.push(d);
                return Err(Reported);
            }
            self.bump();
            return Ok((body, result));
        }
    }

    fn param(&mut self) -> PResult<Param> {
        let name = self.ident("a parameter name")?;
        self.expect_punct(":")?;
        let ty = if self.at_punct("(") {
            self.bump();
            let mut columns = Vec::new();
            let mut any = false;
            loop {
                if self.eat_punct("*") {
                    any = true;
                } else {
                    let c = self.ident("a column name")?;
                    self.expect_punct(":")?;
                    columns.push((c, self.type_name()?));
                }
                if !self.eat_punct(",") {
                    break;
                }
            }
            self.expect_punct(")")?;
            ParamType::Tabular { columns, any }
        } else {
            ParamType::Scalar(self.type_name()?)
        };
        let default = if self.eat_punct("=") {
            Some(self.expr()?)
        } else {
            None
        };
        Ok(Param {
            span: name.span.to(Span::new(self.prev_end(), self.prev_end())),
            name,
            ty,
            default,
        })
    }

    fn type_name(&mut self) -> PResult<TypeName> {
        let t = self.peek().clone();
        if let Some(w) = t.word()
            && let Some(ty) = TypeName::from_name(w)
        {
            self.bump();
            return Ok(ty);
        }
        let d = Diagnostic::error(
            "KQL0108",
            format!("expected a type name, found {}", t.describe()),
            t.span,
        )
        .with_hint(
            "types are bool, int, long, real, decimal, string, datetime, timespan, guid, dynamic",
        );
        self.diags.push(d);
        Err(Reported)
    }

    /// A `let` value or function result: a scalar expression, or a tabular one when its syntax
    /// says so (a pipe follows, or it starts with a tabular keyword).
    fn scalar_or_tabular(&mut self) -> PResult<Either> {
        if self.at_tabular_keyword() {
            return Ok(Either::Tabular(self.tabular()?));
        }
        let e = self.expr()?;
        if self.at_punct("|") {
            let source = self.expr_to_source(e)?;
            return Ok(Either::Tabular(self.pipeline(Some(source))?));
        }
        if let ExprKind::Call { name, .. } = &e.kind
            && name.name == "materialize"
        {
            let source = self.expr_to_source(e)?;
            return Ok(Either::Tabular(self.pipeline(Some(source))?));
        }
        Ok(Either::Scalar(e))
    }

    fn at_tabular_keyword(&self) -> bool {
        let t = self.peek();
        (t.is_word("datatable") && self.peek_at(1).is_punct("("))
            || t.is_word("print")
            || (t.is_word("range")
                && matches!(self.peek_at(1).kind, TokenKind::Ident(_))
                && self.peek_at(2).is_word("from"))
            || (t.is_word("union") && !self.peek_at(1).is_punct("("))
    }

    /// Turns an expression parsed before a `|` into a tabular source.
    fn expr_to_source(&mut self, e: Expr) -> PResult<Source> {
        let span = e.span;
        let kind = match e.kind {
            ExprKind::Name(id) => SourceKind::Table(id),
            ExprKind::Call { name, args } => SourceKind::Call { name, args },
            ExprKind::Subquery(t) => SourceKind::Parens(t),
            _ => {
                self.diags.push(
                    Diagnostic::error(
                        "KQL0102",
                        "expected a table, a tabular function call or `(` query `)` before `|`",
                        span,
                    )
                    .with_label(span, "a scalar expression cannot be piped"),
                );
                return Err(Reported);
            }
        };
        Ok(Source { kind, span })
    }

    // ----- tabular expressions -------------------------------------------------------------

    fn tabular(&mut self) -> PResult<TabularExpr> {
        self.enter()?;
        let r = self.tabular_inner();
        self.leave();
        r
    }

    fn tabular_inner(&mut self) -> PResult<TabularExpr> {
        let source = self.source()?;
        self.pipeline(Some(source))
    }

    /// `| op | op ...` after a source; with `source == None` the first operator has no `|`.
    fn pipeline(&mut self, source: Option<Source>) -> PResult<TabularExpr> {
        let start = source
            .as_ref()
            .map_or(self.peek().span.start, |s| s.span.start);
        let mut ops = Vec::new();
        let mut failed = false;
        let mut first_implicit = source.is_none();
        loop {
            if first_implicit {
                first_implicit = false;
            } else if !self.eat_punct("|") {
                break;
            }
            match self.operator() {
                Ok(op) => {
                    ops.push(op);
                    // After an operator: `|`, `;`, `)`, end. Anything else is a stray token.
                    let t = self.peek().clone();
                    if !(t.is_punct("|")
                        || t.is_punct(";")
                        || t.is_punct(")")
                        || t.is_punct("}")
                        || t.is_punct(",")
                        || matches!(t.kind, TokenKind::Eof))
                    {
                        let name = ops.last().map(|o: &Operator| o.kind.name()).unwrap_or("");
                        self.diags.push(
                            Diagnostic::error(
                                "KQL0110",
                                format!(
                                    "expected `|` after the `{name}` operator, found {}",
                                    t.describe()
                                ),
                                t.span,
                            )
                            .with_hint("operators are separated by `|`; list items by `,`"),
                        );
                        failed = true;
                        self.recover();
                    }
                }
                Err(Reported) => {
                    failed = true;
                    self.recover();
                }
            }
        }
        if failed {
            return Err(Reported);
        }
        Ok(TabularExpr {
            source,
            ops,
            span: Span::new(start, self.prev_end().max(start)),
        })
    }

    fn source(&mut self) -> PResult<Source> {
        let t = self.peek().clone();
        let start = t.span;
        let kind = if t.is_word("datatable") && self.peek_at(1).is_punct("(") {
            self.bump();
            self.datatable()?
        } else if t.is_word("print") {
            self.bump();
            SourceKind::Print(self.named_list()?)
        } else if t.is_word("range")
            && matches!(self.peek_at(1).kind, TokenKind::Ident(_))
            && self.peek_at(2).is_word("from")
        {
            self.bump();
            let column = self.ident("a column name")?;
            self.expect_word("from")?;
            let from = self.expr()?;
            self.expect_word("to")?;
            let to = self.expr()?;
            self.expect_word("step")?;
            let step = self.expr()?;
            SourceKind::Range {
                column,
                from,
                to,
                step,
            }
        } else if t.is_word("union") {
            self.bump();
            SourceKind::Union(self.union_args()?)
        } else if t.is_punct("(") {
            self.bump();
            let inner = self.tabular();
            let inner = self.finish_group(inner)?;
            self.close_paren(start)?;
            SourceKind::Parens(Box::new(inner))
        } else if let Some(w) = t.word() {
            if (SUPPORTED_OPERATORS.contains(&w) || UNSUPPORTED_OPERATORS.contains(&w))
                && !self.peek_at(1).is_punct("(")
                && !self.peek_at(1).is_punct("|")
                && !matches!(self.peek_at(1).kind, TokenKind::Eof)
                && !self.peek_at(1).is_punct(";")
            {
                if UNSUPPORTED_OPERATORS.contains(&w) {
                    return Err(self.unsupported_operator(w.to_string(), t.span));
                }
                self.diags.push(
                    Diagnostic::error(
                        "KQL0102",
                        format!("a query cannot start with the `{w}` operator"),
                        t.span,
                    )
                    .with_label(t.span, "expected a table name")
                    .with_hint(format!("write the table first: `AuditLogs | {w} ...`")),
                );
                return Err(Reported);
            }
            let e = self.postfix()?;
            return self.expr_to_source(e);
        } else if let Some(id) = self.bracket_ident() {
            SourceKind::Table(id)
        } else {
            return Err(self.expected("a table name or tabular expression"));
        };
        Ok(Source {
            kind,
            span: start.to(Span::new(self.prev_end(), self.prev_end())),
        })
    }

    /// After a failed parse inside `( ... )` (which recovered up to the closing bracket): consume
    /// that `)` so the enclosing pipeline recovers past the group and reports later errors.
    fn finish_group<T>(&mut self, r: PResult<T>) -> PResult<T> {
        if r.is_err() && self.at_punct(")") {
            self.bump();
        }
        r
    }

    fn close_paren(&mut self, open: Span) -> PResult<Span> {
        if self.at_punct(")") {
            return Ok(self.bump().span);
        }
        let t = self.peek().clone();
        self.diags.push(
            Diagnostic::error(
                "KQL0102",
                format!("expected `)`, found {}", t.describe()),
                t.span,
            )
            .with_label(open, "unclosed `(`"),
        );
        Err(Reported)
    }

    fn datatable(&mut self) -> PResult<SourceKind> {
        let open = self.expect_punct("(")?;
        let columns = self.comma_list(|p| {
            let c = p.ident("a column name")?;
            p.expect_punct(":")?;
            Ok((c, p.type_name()?))
        })?;
        self.close_paren(open)?;
        self.expect_punct("[")?;
        let mut values = Vec::new();
        if !self.at_punct("]") {
            loop {
                values.push(self.expr()?);
                if !self.eat_punct(",") || self.at_punct("]") {
                    break;
                }
            }
        }
        self.expect_punct("]")?;
        Ok(SourceKind::Datatable { columns, values })
    }

    fn union_args(&mut self) -> PResult<UnionArgs> {
        let params = self.op_params(&["kind", "withsource", "isfuzzy"], true)?;
        let mut tables = Vec::new();
        loop {
            let t = if self.at_punct("(") {
                let open = self.bump().span;
                let inner = self.tabular();
                let inner = self.finish_group(inner)?;
                let close = self.close_paren(open)?;
                TabularExpr {
                    span: open.to(close),
                    source: Some(Source {
                        kind: SourceKind::Parens(Box::new(inner)),
                        span: open.to(close),
                    }),
                    ops: Vec::new(),
                }
            } else {
                let start = self.peek().span;
                let kind = if self.peek_at(1).is_punct("(") {
                    let e = self.postfix()?;
                    self.expr_to_source(e)?.kind
                } else if let Some(id) = self.bracket_ident() {
                    SourceKind::Table(id)
                } else {
                    SourceKind::Table(self.name_pattern("a table name")?)
                };
                let span = start.to(Span::new(self.prev_end(), self.prev_end()));
                TabularExpr {
                    span,
                    source: Some(Source { kind, span }),
                    ops: Vec::new(),
                }
            };
            tables.push(t);
            if !self.eat_punct(",") {
                break;
            }
        }
        Ok(UnionArgs { params, tables })
    }

    /// A name with `*` wildcards written without spaces (`Audit*`, `*Id`).
    fn name_pattern(&mut self, what: &str) -> PResult<Ident> {
        let start = self.peek().span;
        let mut text = String::new();
        let mut end = start.start;
        loop {
            let t = self.peek().clone();
            let adjacent = text.is_empty() || t.span.start == end;
            if !adjacent {
                break;
            }
            match &t.kind {
                TokenKind::Ident(w) => text.push_str(w),
                TokenKind::Punct("*") => text.push('*'),
                _ => break,
            }
            end = t.span.end;
            self.bump();
        }
        if text.is_empty() {
            if let Some(id) = self.bracket_ident() {
                return Ok(id);
            }
            return Err(self.expected(what));
        }
        Ok(Ident {
            name: text,
            span: Span::new(start.start, end),
        })
    }

    // ----- operators -----------------------------------------------------------------------

    /// The operator name at the current position, joining `a-b` written without spaces (for
    /// unknown hyphenated names).
    fn operator_name(&mut self) -> PResult<Ident> {
        let t = self.peek().clone();
        let Some(w) = t.word() else {
            let d = Diagnostic::error(
                "KQL0102",
                format!(
                    "expected a query operator after `|`, found {}",
                    t.describe()
                ),
                t.span,
            )
            .with_label(
                t.span,
                "expected an operator such as `where`, `extend`, `project`",
            );
            self.diags.push(d);
            return Err(Reported);
        };
        let mut name = w.to_string();
        let mut span = t.span;
        self.bump();
        while self.at_punct("-")
            && self.peek().span.start == span.end
            && let Some(next) = self.peek_at(1).word().map(str::to_string)
            && self.peek_at(1).span.start == self.peek().span.end
        {
            self.bump();
            let n = self.bump();
            name.push('-');
            name.push_str(&next);
            span = span.to(n.span);
        }
        Ok(Ident { name, span })
    }

    fn unsupported_operator(&mut self, name: String, span: Span) -> Reported {
        self.diags.push(
            Diagnostic::error(
                "KQL0104",
                format!("the `{name}` operator is not supported"),
                span,
            )
            .with_label(span, "not supported by auditbook")
            .with_hint(format!(
                "supported operators: {}",
                SUPPORTED_OPERATORS.join(", ")
            )),
        );
        Reported
    }

    fn operator(&mut self) -> PResult<Operator> {
        let name = self.operator_name()?;
        let start = name.span;
        let kind = match name.name.as_str() {
            "where" | "filter" => OperatorKind::Where(self.expr()?),
            "extend" => OperatorKind::Extend(self.named_list()?),
            "project" => OperatorKind::Project(self.named_list()?),
            "project-away" => OperatorKind::ProjectAway(self.pattern_list()?),
            "project-keep" => OperatorKind::ProjectKeep(self.pattern_list()?),
            "project-rename" => {
                let rs = self.comma_list(|p| {
                    let new = p.ident("a new column name")?;
                    p.expect_punct("=")?;
                    Ok((new, p.ident("an existing column name")?))
                })?;
                OperatorKind::ProjectRename(rs)
            }
            "project-reorder" => {
                let mut rs = Vec::new();
                loop {
                    let p = self.name_pattern("a column name")?;
                    let order = match self.peek().word() {
                        Some("asc" | "desc" | "granny-asc" | "granny-desc") => {
                            Some(self.ident("an order")?)
                        }
                        _ => None,
                    };
                    rs.push((
                        ColumnPattern {
                            pattern: p.name,
                            span: p.span,
                        },
                        order,
                    ));
                    if !self.eat_punct(",") {
                        break;
                    }
                }
                OperatorKind::ProjectReorder(rs)
            }
            "summarize" => {
                let params = self.op_params(
                    &["hint.strategy", "hint.shufflekey", "hint.num_partitions"],
                    false,
                )?;
                let aggregates = if self.at_word("by") {
                    Vec::new()
                } else {
                    self.named_list()?
                };
                let by = if self.eat_word("by") {
                    self.named_list()?
                } else {
                    Vec::new()
                };
                OperatorKind::Summarize {
                    params,
                    aggregates,
                    by,
                }
            }
            "mv-expand" | "mvexpand" => {
                let legacy = name.name == "mvexpand";
                let (params, item_index, columns, limit) = self.expand_args()?;
                if legacy && limit.is_none() {
                    self.diags.push(
                        Diagnostic::warning(
                            "KQL0150",
                            "legacy `mvexpand` expands at most 128 values per row",
                            start,
                        )
                        .with_hint(
                            "use `mv-expand`, or write `limit N` to make the limit explicit",
                        ),
                    );
                }
                OperatorKind::MvExpand {
                    legacy,
                    params,
                    item_index,
                    columns,
                    limit,
                }
            }
            "mv-apply" => {
                let (params, item_index, columns, limit) = self.expand_args()?;
                self.expect_word("on")?;
                let open = self.expect_punct("(")?;
                self.enter()?;
                let body = self.pipeline(None);
                self.leave();
                let body = self.finish_group(body)?;
                self.close_paren(open)?;
                OperatorKind::MvApply {
                    params,
                    item_index,
                    columns,
                    limit,
                    body: Box::new(body),
                }
            }
            "sort" | "order" => {
                let keyword = if name.name == "sort" { "sort" } else { "order" };
                self.expect_word("by")?;
                let keys = self.comma_list(Self::sort_key)?;
                OperatorKind::Sort { keyword, keys }
            }
            "top" => {
                let count = self.expr()?;
                self.expect_word("by")?;
                let key = self.sort_key()?;
                OperatorKind::Top { count, key }
            }
            "take" | "limit" => OperatorKind::Take {
                keyword: if name.name == "take" { "take" } else { "limit" },
                count: self.expr()?,
            },
            "distinct" => {
                if self.eat_punct("*") {
                    OperatorKind::Distinct(Vec::new())
                } else {
                    OperatorKind::Distinct(self.expr_list()?)
                }
            }
            "count" => OperatorKind::Count,
            "getschema" => OperatorKind::GetSchema,
            "join" | "lookup" => {
                let is_join = name.name == "join";
                let allowed: &[&str] = if is_join {
                    &["kind", "hint.strategy", "hint.remote", "hint.shufflekey"]
                } else {
                    &["kind"]
                };
                let params = self.op_params(allowed, true)?;
                for p in &params {
                    if p.name.name == "kind" {
                        self.check_kind(is_join, &p.value);
                    }
                }
                let right = self.join_right()?;
                self.expect_word("on")?;
                let on = self.expr_list()?;
                if is_join {
                    OperatorKind::Join {
                        params,
                        right: Box::new(right),
                        on,
                    }
                } else {
                    OperatorKind::Lookup {
                        params,
                        right: Box::new(right),
                        on,
                    }
                }
            }
            "union" => OperatorKind::Union(self.union_args()?),
            "make-series" => self.make_series()?,
            "parse" | "parse-where" => self.parse_op(name.name == "parse-where")?,
            "serialize" => OperatorKind::Serialize(if self.at_operator_end() {
                Vec::new()
            } else {
                self.named_list()?
            }),
            "render" => {
                let visualization = self.ident("a visualization such as `timechart`")?;
                let mut properties = Vec::new();
                if self.eat_word("with") {
                    let open = self.expect_punct("(")?;
                    properties = self.comma_list(|p| {
                        let name = p.ident("a property name")?;
                        p.expect_punct("=")?;
                        Ok(OpParam {
                            name,
                            value: p.expr()?,
                        })
                    })?;
                    self.close_paren(open)?;
                } else {
                    // Legacy `render chart kind=stacked title="x"`.
                    while matches!(self.peek().kind, TokenKind::Ident(_))
                        && self.peek_at(1).is_punct("=")
                    {
                        let n = self.ident("a property name")?;
                        self.bump();
                        let v = self.expr()?;
                        properties.push(OpParam { name: n, value: v });
                    }
                }
                OperatorKind::Render {
                    visualization,
                    properties,
                }
            }
            "evaluate" => {
                let params = self.op_params(
                    &["hint.distribution", "hint.pass_filters", "hint.remote"],
                    false,
                )?;
                let plugin = self.ident("a plugin name such as `bag_unpack`")?;
                let open = self.expect_punct("(")?;
                let args = self.call_args(open)?;
                OperatorKind::Evaluate {
                    params,
                    plugin,
                    args,
                }
            }
            "invoke" => {
                let function = self.ident("a function name")?;
                let open = self.expect_punct("(")?;
                let args = self.call_args(open)?;
                OperatorKind::Invoke { function, args }
            }
            "as" => {
                let params = self.op_params(&["hint.materialized"], false)?;
                OperatorKind::As {
                    params,
                    name: self.ident("a name")?,
                }
            }
            other => {
                if UNSUPPORTED_OPERATORS.contains(&other) {
                    return Err(self.unsupported_operator(other.to_string(), name.span));
                }
                let mut d = Diagnostic::error(
                    "KQL0101",
                    format!("unknown query operator `{other}`"),
                    name.span,
                )
                .with_label(name.span, "not a query operator");
                if let Some(s) = did_you_mean(other, SUPPORTED_OPERATORS) {
                    d = d.with_hint(format!("did you mean `{s}`?"));
                }
                d = d.with_hint(format!(
                    "supported operators: {}",
                    SUPPORTED_OPERATORS.join(", ")
                ));
                self.diags.push(d);
                return Err(Reported);
            }
        };
        Ok(Operator {
            kind,
            span: start.to(Span::new(self.prev_end(), self.prev_end())),
        })
    }

    fn at_operator_end(&self) -> bool {
        let t = self.peek();
        t.is_punct("|") || t.is_punct(";") || t.is_punct(")") || matches!(t.kind, TokenKind::Eof)
    }

    fn check_kind(&mut self, is_join: bool, value: &Expr) {
        const JOIN: &[&str] = &[
            "inner",
            "innerunique",
            "leftouter",
            "rightouter",
            "fullouter",
            "leftanti",
            "anti",
            "leftantisemi",
            "rightanti",
            "rightantisemi",
            "leftsemi",
            "rightsemi",
        ];
        const LOOKUP: &[&str] = &["leftouter", "inner"];
        let kinds = if is_join { JOIN } else { LOOKUP };
        if let ExprKind::Name(id) = &value.kind
            && kinds.contains(&id.name.as_str())
        {
            return;
        }
        let mut d = Diagnostic::error(
            "KQL0106",
            format!(
                "invalid {} kind `{}`",
                if is_join { "join" } else { "lookup" },
                value.sexpr()
            ),
            value.span,
        );
        if let ExprKind::Name(id) = &value.kind
            && let Some(s) = did_you_mean(&id.name, kinds)
        {
            d = d.with_hint(format!("did you mean `{s}`?"));
        }
        d = d.with_hint(format!("kinds are: {}", kinds.join(", ")));
        self.diags.push(d);
    }

    /// Operator parameters `name = value` at the start of an operator's arguments. With
    /// `strict`, any `word =` is taken as a parameter and unknown names are errors.
    fn op_params(&mut self, allowed: &[&str], strict: bool) -> PResult<Vec<OpParam>> {
        let mut out = Vec::new();
        loop {
            // A parameter name may be dotted: `hint.strategy`.
            let Some(w) = self.peek().word().map(str::to_string) else {
                break;
            };
            let (name, len) = if self.peek_at(1).is_punct(".")
                && let Some(w2) = self.peek_at(2).word()
            {
                (format!("{w}.{w2}"), 3)
            } else {
                (w, 1)
            };
            if !self.peek_at(len).is_punct("=") {
                break;
            }
            let known = allowed.contains(&name.as_str());
            if !known && !(strict || name.starts_with("hint.")) {
                break;
            }
            let start = self.peek().span;
            for _ in 0..len {
                self.bump();
            }
            let span = start.to(Span::new(self.prev_end(), self.prev_end()));
            self.bump(); // =
            let value = self.param_value()?;
            if !known {
                let mut d =
                    Diagnostic::error("KQL0106", format!("unknown parameter `{name}`"), span);
                if let Some(s) = did_you_mean(&name, allowed) {
                    d = d.with_hint(format!("did you mean `{s}`?"));
                }
                d = d.with_hint(format!("parameters here: {}", allowed.join(", ")));
                self.diags.push(d);
                return Err(Reported);
            }
            out.push(OpParam {
                name: Ident { name, span },
                value,
            });
        }
        Ok(out)
    }

    /// An operator parameter's value: a word (`inner`, `shuffle`, a column name) or a literal,
    /// never a call (`kind=leftouter (T)` is a kind followed by a subquery).
    fn param_value(&mut self) -> PResult<Expr> {
        let t = self.peek().clone();
        if let TokenKind::Ident(w) = &t.kind {
            self.bump();
            let kind = match w.as_str() {
                "true" | "false" => ExprKind::Literal(Literal::Bool(w == "true")),
                _ => ExprKind::Name(Ident {
                    name: w.clone(),
                    span: t.span,
                }),
            };
            return Ok(Expr { kind, span: t.span });
        }
        self.unary()
    }

    /// The right side of `join`/`lookup`: `(query)` or a table name.
    fn join_right(&mut self) -> PResult<TabularExpr> {
        if self.at_punct("(") {
            let open = self.bump().span;
            let inner = self.tabular();
            let inner = self.finish_group(inner)?;
            self.close_paren(open)?;
            Ok(inner)
        } else {
            let start = self.peek().span;
            let e = self.postfix()?;
            let source = self.expr_to_source(e)?;
            Ok(TabularExpr {
                source: Some(source),
                ops: Vec::new(),
                span: start.to(Span::new(self.prev_end(), self.prev_end())),
            })
        }
    }

    #[allow(clippy::type_complexity)]
    fn expand_args(
        &mut self,
    ) -> PResult<(Vec<OpParam>, Option<Ident>, Vec<ExpandColumn>, Option<Expr>)> {
        let mut params = Vec::new();
        let mut item_index = None;
        loop {
            if self.at_word("with_itemindex") && self.peek_at(1).is_punct("=") {
                self.bump();
                self.bump();
                item_index = Some(self.ident("an index column name")?);
                continue;
            }
            let ps = self.op_params(&["kind", "bagexpansion"], false)?;
            if ps.is_empty() {
                break;
            }
            params.extend(ps);
        }
        let mut columns = Vec::new();
        loop {
            let start = self.peek().span;
            let name = if matches!(self.peek().kind, TokenKind::Ident(_))
                && self.peek_at(1).is_punct("=")
            {
                let n = self.ident("a column name")?;
                self.bump();
                Some(n)
            } else {
                None
            };
            let expr = self.expr()?;
            let to_type = if self.eat_word("to") {
                self.expect_word("typeof")?;
                let open = self.expect_punct("(")?;
                let t = self.type_name()?;
                self.close_paren(open)?;
                Some(t)
            } else {
                None
            };
            columns.push(ExpandColumn {
                name,
                expr,
                to_type,
                span: start.to(Span::new(self.prev_end(), self.prev_end())),
            });
            if !self.eat_punct(",") {
                break;
            }
        }
        let limit = if self.eat_word("limit") {
            Some(self.expr()?)
        } else {
            None
        };
        Ok((params, item_index, columns, limit))
    }

    fn sort_key(&mut self) -> PResult<SortKey> {
        let expr = self.expr()?;
        let order = if self.eat_word("asc") {
            Some(SortOrder::Asc)
        } else if self.eat_word("desc") {
            Some(SortOrder::Desc)
        } else {
            None
        };
        let nulls = if self.eat_word("nulls") {
            if self.eat_word("first") {
                Some(Nulls::First)
            } else if self.eat_word("last") {
                Some(Nulls::Last)
            } else {
                return Err(self.expected("`first` or `last` after `nulls`"));
            }
        } else {
            None
        };
        Ok(SortKey { expr, order, nulls })
    }

    fn make_series(&mut self) -> PResult<OperatorKind> {
        let params = self.op_params(&["kind", "hint.shufflekey"], false)?;
        let mut aggregates = Vec::new();
        loop {
            let n = self.named_expr()?;
            let default = if self.at_word("default") && self.peek_at(1).is_punct("=") {
                self.bump();
                self.bump();
                Some(self.expr()?)
            } else {
                None
            };
            aggregates.push((n, default));
            if !self.eat_punct(",") {
                break;
            }
        }
        self.expect_word("on")?;
        // The axis is a column or simple expression: `in range(...)` follows it.
        let on = self.additive()?;
        let (mut from, mut to, step);
        from = None;
        to = None;
        if self.eat_word("in") {
            // `in range(start, stop, step)`
            self.expect_word("range")?;
            let open = self.expect_punct("(")?;
            from = Some(self.expr()?);
            self.expect_punct(",")?;
            to = Some(self.expr()?);
            self.expect_punct(",")?;
            step = self.expr()?;
            self.close_paren(open)?;
        } else {
            if self.eat_word("from") {
                from = Some(self.expr()?);
            }
            if self.eat_word("to") {
                to = Some(self.expr()?);
            }
            self.expect_word("step")?;
            step = self.expr()?;
        }
        let by = if self.eat_word("by") {
            self.named_list()?
        } else {
            Vec::new()
        };
        Ok(OperatorKind::MakeSeries {
            params,
            aggregates,
            on,
            from,
            to,
            step,
            by,
        })
    }

    fn parse_op(&mut self, filter: bool) -> PResult<OperatorKind> {
        let params = self.op_params(&["kind", "flags"], false)?;
        let source = self.expr()?;
        self.expect_word("with")?;
        let mut pattern = Vec::new();
        loop {
            let t = self.peek().clone();
            match &t.kind {
                TokenKind::Punct("*") => {
                    self.bump();
                    pattern.push(ParsePart::Wildcard);
                }
                TokenKind::Str { value, .. } => {
                    self.bump();
                    pattern.push(ParsePart::Literal(value.clone()));
                }
                TokenKind::Ident(_) | TokenKind::Punct("[") => {
                    let n = self.ident("a column name")?;
                    let ty = if self.eat_punct(":") {
                        Some(self.type_name()?)
                    } else {
                        None
                    };
                    pattern.push(ParsePart::Column(n, ty));
                }
                _ => break,
            }
        }
        if pattern.is_empty() {
            return Err(self.expected("a parse pattern (`*`, string literals, column names)"));
        }
        Ok(OperatorKind::Parse {
            filter,
            params,
            source,
            pattern,
        })
    }

    /// `item (, item)*`.
    fn comma_list<T>(&mut self, mut item: impl FnMut(&mut Self) -> PResult<T>) -> PResult<Vec<T>> {
        let mut out = vec![item(self)?];
        while self.eat_punct(",") {
            out.push(item(self)?);
        }
        Ok(out)
    }

    fn pattern_list(&mut self) -> PResult<Vec<ColumnPattern>> {
        self.comma_list(|p| {
            let n = p.name_pattern("a column name")?;
            Ok(ColumnPattern {
                pattern: n.name,
                span: n.span,
            })
        })
    }

    fn named_list(&mut self) -> PResult<Vec<NamedExpr>> {
        self.comma_list(Self::named_expr)
    }

    /// `[Name =] expr` or `(A, B) = expr`.
    fn named_expr(&mut self) -> PResult<NamedExpr> {
        let start = self.peek().span;
        let mut names = Vec::new();
        if (matches!(self.peek().kind, TokenKind::Ident(_)) && self.peek_at(1).is_punct("="))
            || (self.at_punct("[") && self.peek_at(3).is_punct("="))
        {
            names.push(self.ident("a column name")?);
            self.bump();
        } else if self.at_punct("(") && self.tuple_names_ahead() {
            self.bump();
            names = self.comma_list(|p| p.ident("a column name"))?;
            self.expect_punct(")")?;
            self.expect_punct("=")?;
        }
        let expr = self.expr()?;
        Ok(NamedExpr {
            names,
            span: start.to(expr.span),
            expr,
        })
    }

    /// `(a, b) =` ahead.
    fn tuple_names_ahead(&self) -> bool {
        let mut i = 1;
        loop {
            if !matches!(self.peek_at(i).kind, TokenKind::Ident(_)) {
                return false;
            }
            i += 1;
            if self.peek_at(i).is_punct(",") {
                i += 1;
                continue;
            }
            return self.peek_at(i).is_punct(")") && self.peek_at(i + 1).is_punct("=");
        }
    }

    fn expr_list(&mut self) -> PResult<Vec<Expr>> {
        self.comma_list(Self::expr)
    }

    // ----- scalar expressions --------------------------------------------------------------

    fn expr(&mut self) -> PResult<Expr> {
        self.enter()?;
        let r = self.or_expr();
        self.leave();
        r
    }

    fn binary(op: BinaryOp, lhs: Expr, rhs: Expr) -> Expr {
        Expr {
            span: lhs.span.to(rhs.span),
            kind: ExprKind::Binary {
                op,
                lhs: Box::new(lhs),
                rhs: Box::new(rhs),
            },
        }
    }

    fn or_expr(&mut self) -> PResult<Expr> {
        let mut lhs = self.and_expr()?;
        while self.eat_word("or") {
            let rhs = self.and_expr()?;
            lhs = Self::binary(BinaryOp::Or, lhs, rhs);
        }
        Ok(lhs)
    }

    fn and_expr(&mut self) -> PResult<Expr> {
        let mut lhs = self.comparison()?;
        while self.eat_word("and") {
            let rhs = self.comparison()?;
            lhs = Self::binary(BinaryOp::And, lhs, rhs);
        }
        Ok(lhs)
    }

    /// The comparison-level operator at the current position, with its token count.
    fn comparison_op(&self) -> Option<(CmpOp, usize)> {
        let t = self.peek();
        let adjacent_bang_word = |w: &str| -> bool {
            t.is_punct("!")
                && self.peek_at(1).is_word(w)
                && self.peek_at(1).span.start == t.span.end
        };
        if let TokenKind::Punct(p) = &t.kind {
            let op = match *p {
                "==" => Some(BinaryOp::Eq),
                "!=" => Some(BinaryOp::Ne),
                "=~" => Some(BinaryOp::EqCi),
                "!~" => Some(BinaryOp::NeCi),
                "<" => Some(BinaryOp::Lt),
                "<=" => Some(BinaryOp::Le),
                ">" => Some(BinaryOp::Gt),
                ">=" => Some(BinaryOp::Ge),
                _ => None,
            };
            if let Some(op) = op {
                return Some((CmpOp::Bin(op), 1));
            }
        }
        // `!has`, `!in`, `!in~`, `!between`, ...
        if t.is_punct("!")
            && let Some(w) = self.peek_at(1).word()
            && adjacent_bang_word(w)
        {
            if w == "in" {
                let ci = self.peek_at(2).is_punct("~")
                    && self.peek_at(2).span.start == self.peek_at(1).span.end;
                return Some(if ci {
                    (CmpOp::List(ListOp::NotInCi), 3)
                } else {
                    (CmpOp::List(ListOp::NotIn), 2)
                });
            }
            if w == "between" {
                return Some((CmpOp::Between(true), 2));
            }
            if let Some(s) = string_op(w, true) {
                return Some((CmpOp::Bin(BinaryOp::Str(s)), 2));
            }
            return None;
        }
        let w = t.word()?;
        match w {
            "in" => {
                // `in~` lexes as `in` `~`? `~` is not a token: `=~` is. Accept `in` followed by an
                // adjacent `~` only via the `!~`-free form below.
                Some((CmpOp::List(ListOp::In), 1))
            }
            "has_any" => Some((CmpOp::List(ListOp::HasAny), 1)),
            "has_all" => Some((CmpOp::List(ListOp::HasAll), 1)),
            "between" => Some((CmpOp::Between(false), 1)),
            "matches" if self.peek_at(1).is_word("regex") => {
                Some((CmpOp::Bin(BinaryOp::MatchesRegex), 2))
            }
            _ => string_op(w, false).map(|s| (CmpOp::Bin(BinaryOp::Str(s)), 1)),
        }
    }

    fn comparison(&mut self) -> PResult<Expr> {
        let mut lhs = self.additive()?;
        loop {
            // Workbook idiom: `Column {Placeholder}` (the placeholder holds an operator and operand).
            if let TokenKind::Placeholder { name, format } = &self.peek().kind {
                let (name, format) = (name.clone(), format.clone());
                let s = self.bump().span;
                lhs = Expr {
                    span: lhs.span.to(s),
                    kind: ExprKind::Spliced {
                        expr: Box::new(lhs),
                        name,
                        format,
                    },
                };
                continue;
            }
            // `in~` is written `in~`: the lexer gives `in` then `~`-less punct; handle `in` + `~`.
            let Some((op, n)) = self.comparison_op() else {
                break;
            };
            let op_start = self.peek().span;
            for _ in 0..n {
                self.bump();
            }
            let op = match op {
                CmpOp::List(ListOp::In)
                    if self.at_punct("~") && self.peek().span.start == self.prev_end() =>
                {
                    self.bump();
                    CmpOp::List(ListOp::InCi)
                }
                o => o,
            };
            let _ = op_start;
            lhs = match op {
                CmpOp::Bin(op) => {
                    let rhs = self.additive()?;
                    Self::binary(op, lhs, rhs)
                }
                CmpOp::List(op) => {
                    let (list, end) = self.in_list()?;
                    Expr {
                        span: lhs.span.to(end),
                        kind: ExprKind::InList {
                            op,
                            expr: Box::new(lhs),
                            list,
                        },
                    }
                }
                CmpOp::Between(negated) => {
                    let open = self.expect_punct("(")?;
                    let low = self.additive()?;
                    self.expect_punct("..")?;
                    let high = self.additive()?;
                    let end = self.close_paren(open)?;
                    Expr {
                        span: lhs.span.to(end),
                        kind: ExprKind::Between {
                            negated,
                            expr: Box::new(lhs),
                            low: Box::new(low),
                            high: Box::new(high),
                        },
                    }
                }
            };
        }
        Ok(lhs)
    }

    /// `( a, b, ... )` or `( T | project x )` after `in` / `has_any`; also a bare dynamic value
    /// or name (`in (dynamic([...]))` is the list form, `in Names` a let-bound array).
    fn in_list(&mut self) -> PResult<(Vec<Expr>, Span)> {
        if !self.at_punct("(") {
            let e = self.postfix()?;
            let s = e.span;
            return Ok((vec![e], s));
        }
        let open = self.bump().span;
        self.enter()?;
        let r = (|| {
            let mut list = Vec::new();
            if !self.at_punct(")") {
                loop {
                    let e = self.expr()?;
                    let e = if self.at_punct("|") {
                        let source = self.expr_to_source(e)?;
                        let t = self.pipeline(Some(source))?;
                        Expr {
                            span: t.span,
                            kind: ExprKind::Subquery(Box::new(t)),
                        }
                    } else {
                        e
                    };
                    list.push(e);
                    if !self.eat_punct(",") {
                        break;
                    }
                }
            }
            let end = self.close_paren(open)?;
            Ok((list, end))
        })();
        self.leave();
        r
    }

    /// One left-associative level of arithmetic: `next (op next)*` for the given operators.
    fn arithmetic_level(
        &mut self,
        ops: &[(&str, BinaryOp)],
        next: fn(&mut Self) -> PResult<Expr>,
    ) -> PResult<Expr> {
        let mut lhs = next(self)?;
        while let Some(&(_, op)) = ops.iter().find(|(p, _)| self.at_punct(p)) {
            self.bump();
            let rhs = next(self)?;
            lhs = Self::binary(op, lhs, rhs);
        }
        Ok(lhs)
    }

    fn additive(&mut self) -> PResult<Expr> {
        self.arithmetic_level(
            &[("+", BinaryOp::Add), ("-", BinaryOp::Sub)],
            Self::multiplicative,
        )
    }

    fn multiplicative(&mut self) -> PResult<Expr> {
        self.arithmetic_level(
            &[
                ("*", BinaryOp::Mul),
                ("/", BinaryOp::Div),
                ("%", BinaryOp::Mod),
            ],
            Self::unary,
        )
    }

    fn unary(&mut self) -> PResult<Expr> {
        if self.at_punct("-") || self.at_punct("+") {
            let t = self.bump();
            self.enter()?;
            let r = self.unary();
            self.leave();
            let e = r?;
            if t.is_punct("+") {
                return Ok(e);
            }
            // Fold `-5` into a literal.
            let span = t.span.to(e.span);
            let kind = match e.kind {
                ExprKind::Literal(Literal::Long(v)) => {
                    ExprKind::Literal(Literal::Long(v.wrapping_neg()))
                }
                ExprKind::Literal(Literal::Real(v)) => ExprKind::Literal(Literal::Real(-v)),
                ExprKind::Literal(Literal::Timespan(v)) => {
                    ExprKind::Literal(Literal::Timespan(v.wrapping_neg()))
                }
                k => ExprKind::Neg(Box::new(Expr {
                    kind: k,
                    span: e.span,
                })),
            };
            return Ok(Expr { kind, span });
        }
        self.postfix()
    }

    fn postfix(&mut self) -> PResult<Expr> {
        let mut e = self.primary()?;
        loop {
            if self.at_punct(".") {
                self.bump();
                let name = match self.peek().kind.clone() {
                    TokenKind::Ident(_) => self.ident("a property name")?,
                    // `x.['a b']` is not KQL, but `x.1` is not either.
                    _ => return Err(self.expected("a property name after `.`")),
                };
                e = Expr {
                    span: e.span.to(name.span),
                    kind: ExprKind::Member {
                        expr: Box::new(e),
                        name,
                    },
                };
            } else if self.at_punct("[") {
                let open = self.bump().span;
                self.enter()?;
                let idx = self.expr();
                self.leave();
                let idx = idx?;
                let end = self.expect_punct("]").map_err(|r| {
                    if let Some(d) = self.diags.last_mut() {
                        d.labels.push((open, "`[` opened here".into()));
                    }
                    r
                })?;
                e = Expr {
                    span: e.span.to(end),
                    kind: ExprKind::Index {
                        expr: Box::new(e),
                        index: Box::new(idx),
                    },
                };
            } else {
                break;
            }
        }
        Ok(e)
    }

    fn call_args(&mut self, open: Span) -> PResult<Vec<Expr>> {
        self.enter()?;
        let r = (|| {
            let mut args = Vec::new();
            if !self.at_punct(")") {
                loop {
                    let arg = if self.at_punct("*")
                        && (self.peek_at(1).is_punct(",") || self.peek_at(1).is_punct(")"))
                    {
                        let s = self.bump().span;
                        Expr {
                            kind: ExprKind::Star,
                            span: s,
                        }
                    } else if matches!(self.peek().kind, TokenKind::Ident(_))
                        && self.peek_at(1).is_punct("=")
                    {
                        let name = self.ident("an argument name")?;
                        self.bump();
                        let value = self.expr()?;
                        Expr {
                            span: name.span.to(value.span),
                            kind: ExprKind::NamedArg {
                                name,
                                value: Box::new(value),
                            },
                        }
                    } else {
                        let e = self.expr()?;
                        if self.at_punct("|") {
                            let source = self.expr_to_source(e)?;
                            let t = self.pipeline(Some(source))?;
                            Expr {
                                span: t.span,
                                kind: ExprKind::Subquery(Box::new(t)),
                            }
                        } else {
                            e
                        }
                    };
                    args.push(arg);
                    if !self.eat_punct(",") {
                        break;
                    }
                }
            }
            self.close_paren(open)?;
            Ok(args)
        })();
        self.leave();
        r
    }

    fn lit(kind: Literal, span: Span) -> Expr {
        Expr {
            kind: ExprKind::Literal(kind),
            span,
        }
    }

    fn primary(&mut self) -> PResult<Expr> {
        let t = self.peek().clone();
        match &t.kind {
            TokenKind::Int(v) => {
                self.bump();
                Ok(Self::lit(Literal::Long(*v), t.span))
            }
            TokenKind::Real(v) => {
                self.bump();
                Ok(Self::lit(Literal::Real(*v), t.span))
            }
            TokenKind::Timespan(v) => {
                self.bump();
                Ok(Self::lit(Literal::Timespan(*v), t.span))
            }
            TokenKind::Str { .. } => {
                // Adjacent string literals concatenate.
                let mut value = String::new();
                let mut placeholders = Vec::new();
                let mut span = t.span;
                while let TokenKind::Str {
                    value: v,
                    placeholders: p,
                } = &self.peek().kind
                {
                    value.push_str(v);
                    placeholders.extend(p.iter().copied());
                    span = span.to(self.peek().span);
                    self.bump();
                }
                Ok(Self::lit(
                    Literal::String {
                        value,
                        placeholders,
                    },
                    span,
                ))
            }
            TokenKind::Placeholder { name, format } => {
                self.bump();
                Ok(Expr {
                    kind: ExprKind::Placeholder {
                        name: name.clone(),
                        format: format.clone(),
                    },
                    span: t.span,
                })
            }
            TokenKind::Punct("(") => {
                let open = self.bump().span;
                self.enter()?;
                let r = (|| {
                    let e = self.expr()?;
                    if self.at_punct("|") {
                        // A parenthesised tabular expression in scalar position.
                        let source = self.expr_to_source(e)?;
                        let tab = self.pipeline(Some(source))?;
                        let end = self.close_paren(open)?;
                        return Ok(Expr {
                            span: open.to(end),
                            kind: ExprKind::Subquery(Box::new(tab)),
                        });
                    }
                    let end = self.close_paren(open)?;
                    Ok(Expr {
                        span: open.to(end),
                        kind: e.kind,
                    })
                })();
                self.leave();
                r
            }
            TokenKind::Punct("[") => {
                if let Some(id) = self.bracket_ident() {
                    return Ok(Expr {
                        span: id.span,
                        kind: ExprKind::Name(id),
                    });
                }
                Err(self.expected("an expression"))
            }
            TokenKind::Punct("*") => {
                self.bump();
                Ok(Expr {
                    kind: ExprKind::Star,
                    span: t.span,
                })
            }
            TokenKind::Ident(w) => {
                let w = w.clone();
                match w.as_str() {
                    "true" | "false" if !self.peek_at(1).is_punct("(") => {
                        self.bump();
                        return Ok(Self::lit(Literal::Bool(w == "true"), t.span));
                    }
                    "null" if !self.peek_at(1).is_punct("(") => {
                        self.bump();
                        return Ok(Self::lit(Literal::Null, t.span));
                    }
                    _ => {}
                }
                if self.peek_at(1).is_punct("(") {
                    return self.call_or_typed_literal();
                }
                self.bump();
                Ok(Expr {
                    kind: ExprKind::Name(Ident {
                        name: w,
                        span: t.span,
                    }),
                    span: t.span,
                })
            }
            _ => {
                let d = Diagnostic::error(
                    "KQL0103",
                    format!("expected an expression, found {}", t.describe()),
                    t.span,
                )
                .with_label(t.span, "expected an expression");
                self.diags.push(d);
                Err(Reported)
            }
        }
    }

    /// `name(` ... : a typed literal (`datetime(...)`, `dynamic(...)`, `int(null)`, `bool(true)`,
    /// `real(nan)`), or a function call.
    fn call_or_typed_literal(&mut self) -> PResult<Expr> {
        let name_tok = self.bump();
        let w = name_tok.word().unwrap_or("").to_string();
        let open = self.bump().span; // `(`
        let ty = TypeName::from_name(&w);
        // Raw contents (`datetime(2024-01-01)`, `guid(...)`, `time(1.00:00:00)`).
        if let TokenKind::Raw(text) = self.peek().kind.clone() {
            let raw_span = self.bump().span;
            let end = self.close_paren(open)?;
            let span = name_tok.span.to(end);
            let ty = ty.unwrap_or(TypeName::Datetime);
            let lit = if text == "null" {
                Literal::TypedNull(ty)
            } else {
                match ty {
                    TypeName::Datetime => {
                        if !looks_like_datetime(&text) {
                            return Err(self.bad_literal(
                                "datetime",
                                raw_span,
                                "e.g. `datetime(2024-01-31)` or `datetime(2024-01-31 10:00:00)`",
                            ));
                        }
                        Literal::Datetime(text)
                    }
                    TypeName::Guid => {
                        if !looks_like_guid(&text) {
                            return Err(self.bad_literal(
                                "guid",
                                raw_span,
                                "e.g. `guid(74be27de-1e4e-49d9-b579-fe0b331d3642)`",
                            ));
                        }
                        Literal::Guid(text)
                    }
                    _ => match parse_timespan_text(&text) {
                        Some(t) => Literal::Timespan(t),
                        None => {
                            return Err(self.bad_literal(
                                "timespan",
                                raw_span,
                                "e.g. `time(1.02:03:04)`, `timespan(2h)`, `time(00:30:00)`",
                            ));
                        }
                    },
                }
            };
            return Ok(Self::lit(lit, span));
        }
        if w == "dynamic" {
            let d = self.dynamic_value(0)?;
            let end = self.close_paren(open)?;
            let span = name_tok.span.to(end);
            return Ok(Self::lit(
                match d {
                    Dynamic::Null => Literal::TypedNull(TypeName::Dynamic),
                    d => Literal::Dynamic(d),
                },
                span,
            ));
        }
        if let Some(ty) = ty
            && !matches!(ty, TypeName::Datetime | TypeName::Timespan | TypeName::Guid)
            && self.peek_at(1).is_punct(")")
        {
            let arg = self.peek().clone();
            let lit = match (&arg.kind, ty) {
                (TokenKind::Ident(a), _) if a == "null" => Some(Literal::TypedNull(ty)),
                (TokenKind::Ident(a), TypeName::Bool) if a == "true" || a == "false" => {
                    Some(Literal::Bool(a == "true"))
                }
                (TokenKind::Int(v), TypeName::Int | TypeName::Long) => Some(Literal::Long(*v)),
                (TokenKind::Int(v), TypeName::Real | TypeName::Decimal) => {
                    Some(Literal::Real(*v as f64))
                }
                (TokenKind::Real(v), TypeName::Real | TypeName::Decimal) => Some(Literal::Real(*v)),
                (TokenKind::Ident(a), TypeName::Real) if a == "nan" => {
                    Some(Literal::Real(f64::NAN))
                }
                (TokenKind::Ident(a), TypeName::Real) if a == "inf" || a == "+inf" => {
                    Some(Literal::Real(f64::INFINITY))
                }
                (TokenKind::Str { value, .. }, TypeName::String) => Some(Literal::String {
                    value: value.clone(),
                    placeholders: Vec::new(),
                }),
                _ => None,
            };
            if let Some(lit) = lit {
                self.bump();
                let end = self.bump().span;
                return Ok(Self::lit(lit, name_tok.span.to(end)));
            }
        }
        // `datetime("2024-01-01")`, `timespan("1d")` keep the call form (conversion at bind).
        let args = self.call_args(open)?;
        let span = name_tok
            .span
            .to(Span::new(self.prev_end(), self.prev_end()));
        Ok(Expr {
            kind: ExprKind::Call {
                name: Ident {
                    name: w,
                    span: name_tok.span,
                },
                args,
            },
            span,
        })
    }

    fn bad_literal(&mut self, what: &str, span: Span, hint: &str) -> Reported {
        self.diags.push(
            Diagnostic::error("KQL0107", format!("invalid {what} literal"), span)
                .with_label(span, format!("not a {what}"))
                .with_hint(hint.to_string()),
        );
        Reported
    }

    /// The JSON-like contents of `dynamic(...)`.
    fn dynamic_value(&mut self, depth: usize) -> PResult<Dynamic> {
        if depth > MAX_DEPTH {
            let s = self.peek().span;
            return Err(self.error("KQL0105", "dynamic literal nested too deeply", s));
        }
        let t = self.peek().clone();
        match &t.kind {
            TokenKind::Punct("[") => {
                self.bump();
                let mut items = Vec::new();
                if !self.at_punct("]") {
                    loop {
                        items.push(self.dynamic_value(depth + 1)?);
                        if !self.eat_punct(",") || self.at_punct("]") {
                            break;
                        }
                    }
                }
                self.expect_punct("]")?;
                Ok(Dynamic::Array(items))
            }
            TokenKind::Punct("{") => {
                self.bump();
                let mut kv = Vec::new();
                if !self.at_punct("}") {
                    loop {
                        let k = match &self.peek().kind {
                            TokenKind::Str { value, .. } => value.clone(),
                            _ => {
                                let s = self.peek().span;
                                self.diags.push(
                                    Diagnostic::error(
                                        "KQL0113",
                                        format!(
                                            "expected a string key in a dynamic property bag, found {}",
                                            self.peek().describe()
                                        ),
                                        s,
                                    )
                                    .with_hint("write keys in quotes: dynamic({\"key\": 1})"),
                                );
                                return Err(Reported);
                            }
                        };
                        self.bump();
                        self.expect_punct(":")?;
                        let v = self.dynamic_value(depth + 1)?;
                        kv.push((k, v));
                        if !self.eat_punct(",") || self.at_punct("}") {
                            break;
                        }
                    }
                }
                self.expect_punct("}")?;
                Ok(Dynamic::Bag(kv))
            }
            TokenKind::Ident(w) if w == "null" => {
                self.bump();
                Ok(Dynamic::Null)
            }
            _ => {
                let e = self.unary()?;
                match e.kind {
                    ExprKind::Literal(Literal::Dynamic(d)) => Ok(d),
                    ExprKind::Literal(Literal::TypedNull(TypeName::Dynamic)) => Ok(Dynamic::Null),
                    ExprKind::Literal(l) => Ok(Dynamic::Scalar(Box::new(l))),
                    _ => {
                        self.diags.push(
                            Diagnostic::error(
                                "KQL0113",
                                "a dynamic literal holds only constants",
                                e.span,
                            )
                            .with_label(e.span, "not a constant")
                            .with_hint("build dynamic values from expressions with pack_array() or bag_pack()"),
                        );
                        Err(Reported)
                    }
                }
            }
        }
    }
}

enum Either {
    Scalar(Expr),
    Tabular(TabularExpr),
}

#[derive(Clone, Copy)]
enum CmpOp {
    Bin(BinaryOp),
    List(ListOp),
    Between(bool),
}

/// `has`, `contains_cs`, `startswith`, ... (`negated` when preceded by `!`).
fn string_op(w: &str, negated: bool) -> Option<StringOp> {
    let (base, cs) = match w.strip_suffix("_cs") {
        Some(b) => (b, true),
        None => (w, false),
    };
    let kind = match base {
        "has" => StringOpKind::Has,
        "contains" => StringOpKind::Contains,
        "startswith" => StringOpKind::StartsWith,
        "endswith" => StringOpKind::EndsWith,
        "hasprefix" => StringOpKind::HasPrefix,
        "hassuffix" => StringOpKind::HasSuffix,
        _ => return None,
    };
    Some(StringOp {
        kind,
        negated,
        case_sensitive: cs,
    })
}

/// A loose check of `datetime(...)` text: starts with a 4-digit year and a separator, only
/// date/time characters. The binder parses it exactly.
fn looks_like_datetime(s: &str) -> bool {
    // RFC 822 / 2822 (`Thu, 08 Oct 2026 11:30:00 GMT`) is documented as supported.
    if chrono::DateTime::parse_from_rfc2822(s.trim()).is_ok() {
        return true;
    }
    let b = s.as_bytes();
    b.len() >= 8
        && b[..4].iter().all(u8::is_ascii_digit)
        && (b[4] == b'-' || b[4] == b'/')
        && s.chars()
            .all(|c| c.is_ascii_digit() || "-/:. TZ+".contains(c))
}

fn looks_like_guid(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() == 5
        && parts
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(p, n)| p.len() == n && p.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// `time(...)` contents: `[-][d.]hh:mm[:ss[.fffffff]]`, or a number with a unit (`2h`, `1.5d`),
/// or a bare number of days. Returns ticks.
pub fn parse_timespan_text(s: &str) -> Option<i64> {
    let s = s.trim();
    let (neg, s) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s),
    };
    let ticks: f64 = if s.contains(':') {
        let (days, clock) = match s.split_once(':') {
            Some((head, _)) if head.contains('.') => {
                let (d, rest) = s.split_once('.')?;
                (d.parse::<f64>().ok()?, rest)
            }
            _ => (0.0, s),
        };
        let parts: Vec<&str> = clock.split(':').collect();
        if parts.len() < 2 || parts.len() > 3 {
            return None;
        }
        let h: f64 = parts[0].parse().ok()?;
        let m: f64 = parts[1].parse().ok()?;
        let sec: f64 = match parts.get(2) {
            Some(p) => p.parse().ok()?,
            None => 0.0,
        };
        if !(0.0..24.0).contains(&h) || !(0.0..60.0).contains(&m) || !(0.0..60.0).contains(&sec) {
            return None;
        }
        ((days * 24.0 + h) * 60.0 + m) * 60.0 * 1e7 + sec * 1e7
    } else {
        let num_end = s
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(s.len());
        let v: f64 = s[..num_end].parse().ok()?;
        let unit = &s[num_end..];
        if unit.is_empty() {
            v * 864e9
        } else {
            let (toks, d) = lex(s);
            if !d.is_empty() {
                return None;
            }
            match toks.first().map(|t| &t.kind) {
                Some(TokenKind::Timespan(t)) if toks.len() == 2 => *t as f64,
                _ => return None,
            }
        }
    };
    if !ticks.is_finite() || ticks.abs() > 9.2e18 {
        return None;
    }
    let t = ticks.round() as i64;
    Some(if neg { -t } else { t })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(src: &str) -> Query {
        let (q, d) = parse(src);
        assert!(d.iter().all(|d| !d.is_error()), "{src}: {d:#?}");
        q.unwrap()
    }

    fn where_expr(src: &str) -> String {
        let q = ok(&format!("T | where {src}"));
        let Statement::Tabular(t) = &q.statements[0] else {
            panic!()
        };
        let OperatorKind::Where(e) = &t.ops[0].kind else {
            panic!()
        };
        e.sexpr()
    }

    fn codes(src: &str) -> Vec<&'static str> {
        parse(src).1.iter().map(|d| d.code).collect()
    }

    #[test]
    fn precedence() {
        assert_eq!(where_expr("a or b and c"), "(or a (and b c))");
        assert_eq!(where_expr("a == 1 and b != 2"), "(and (== a 1) (!= b 2))");
        assert_eq!(where_expr("a + b * c > 2"), "(> (+ a (* b c)) 2)");
        assert_eq!(where_expr("a - b - c == 0"), "(== (- (- a b) c) 0)");
        assert_eq!(where_expr("-x.y[0] < 1"), "(< (neg ([] (. x y) 0)) 1)");
        assert_eq!(
            where_expr("not(a has \"x\") or b !contains_cs \"y\""),
            "(or (not (has a \"x\")) (!contains_cs b \"y\"))"
        );
    }

    #[test]
    fn list_and_range_operators() {
        assert_eq!(where_expr("a in~ (\"x\", \"y\")"), "(in~ a (\"x\" \"y\"))");
        assert_eq!(where_expr("a !in~ (\"x\")"), "(!in~ a (\"x\"))");
        assert_eq!(where_expr("a !in (1, 2)"), "(!in a (1 2))");
        assert_eq!(where_expr("t !between (1 .. 10)"), "(!between t 1 10)");
        assert_eq!(
            where_expr("a matches regex \"^x\""),
            "(matches-regex a \"^x\")"
        );
        assert_eq!(where_expr("a has_any (\"x\")"), "(has_any a (\"x\"))");
    }

    #[test]
    fn typed_literals() {
        assert_eq!(where_expr("x == int(null)"), "(== x (int null))");
        assert_eq!(where_expr("x == -5"), "(== x -5)");
        assert_eq!(
            where_expr("x > time(1.02:00:00)"),
            "(> x (timespan 936000000000))"
        );
        assert_eq!(where_expr("x == real(nan)"), "(== x NaNr)");
        assert_eq!(where_expr("x == datetime(null)"), "(== x (datetime null))");
    }

    #[test]
    fn timespan_text() {
        assert_eq!(parse_timespan_text("00:30:00"), Some(18_000_000_000));
        assert_eq!(parse_timespan_text("2h"), Some(72_000_000_000));
        assert_eq!(parse_timespan_text("1"), Some(864_000_000_000));
        assert_eq!(parse_timespan_text("25:00"), None);
    }

    #[test]
    fn did_you_mean_hyphen_forms() {
        assert_eq!(
            did_you_mean("projectaway", SUPPORTED_OPERATORS),
            Some("project-away")
        );
        assert_eq!(
            did_you_mean("summarise", SUPPORTED_OPERATORS),
            Some("summarize")
        );
        assert_eq!(
            did_you_mean("mv_expand", SUPPORTED_OPERATORS),
            Some("mv-expand")
        );
        assert_eq!(did_you_mean("zzz", SUPPORTED_OPERATORS), None);
    }

    #[test]
    fn several_errors_in_one_run() {
        assert_eq!(
            codes("T | wher x | projectaway y | take"),
            vec!["KQL0101", "KQL0101", "KQL0103"]
        );
    }

    #[test]
    fn deep_nesting_is_a_diagnostic() {
        let src = format!("T | where {}1{}", "(".repeat(10_000), ")".repeat(10_000));
        assert!(codes(&src).contains(&"KQL0105"));
        let src = format!("T | where {}1", "-".repeat(10_000));
        assert!(codes(&src).contains(&"KQL0105"));
        let src = format!(
            "print x = dynamic({}{})",
            "[".repeat(5000),
            "]".repeat(5000)
        );
        assert!(codes(&src).contains(&"KQL0105"));
    }
}
