//! Running a workbook: one walk over the items in order, shared by `run`, `params`, `check` and
//! `explain`. Parameters resolve as their step is reached (groups have their own scope, exported
//! when the group says so), `conditionalVisibility` decides what is shown, and each visible
//! query step is bound ([`super::bind`]), compiled against the dataset's catalog with its time
//! context, and run.
//!
//! Queries run synchronously on the caller's tokio runtime (`rt.block_on`): the CLI and the tests
//! call from plain threads. The one exception: in `run`, a drop-down's restricted check runs as a
//! task beside the steps and is settled at the end ([`walk`]).

use crate::diagnostic::{Diagnostic, DiagnosticJson};
use crate::engine::Engine;
use crate::kql::types::Ty;
use crate::{Error, Result};

use super::bind::{self, Bound, Resolved, TimeRange};
use super::model::*;
use super::params::{self, ChoiceSource, Inputs, Origin, ParamState};
use crate::kql::restrict::Keep;

/// What a walk does at each step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Resolve parameters (running their queries) and run every visible step.
    Run,
    /// Resolve parameters only.
    Params,
    /// Compile everything without running anything; placeholders get stand-in values.
    Check,
    /// Resolve parameters, then bind and compile every visible step without running it.
    Explain,
}

/// One compiled step, for `explain`.
#[derive(Debug, Clone)]
pub struct Explained {
    pub name: String,
    pub title: Option<String>,
    pub lang: Lang,
    /// The query with placeholders bound.
    pub bound: String,
    /// The SQL it runs as.
    pub sql: String,
    /// The time range applied to `TimeGenerated`.
    pub time: Option<(i64, i64)>,
    /// The compiled KQL (its materialized tables included), for `explain --plan/--analyze`;
    /// `None` for a SQL step, whose `sql` is the query itself.
    pub kql: Option<Box<crate::kql::Compiled>>,
}

/// One checked query or query-backed parameter, for `check`.
#[derive(Debug, Clone)]
pub struct Checked {
    pub name: String,
    /// `query`, `parameter`, or what an unsupported item is.
    pub kind: String,
    /// `ok`, `error` or `unsupported`.
    pub status: &'static str,
    /// Diagnostics with lines and columns in the workbook file.
    pub diagnostics: Vec<DiagnosticJson>,
    /// The same, rendered with carets.
    pub rendered: String,
}

/// Everything a walk produced.
#[derive(Debug, Clone)]
pub struct Walk {
    pub result: RunResult,
    /// Every parameter reached, in declaration order.
    pub parameters: Vec<ParamState>,
    pub explained: Vec<Explained>,
    pub checked: Vec<Checked>,
}

/// Walks `wb` in `mode`. Errors stop the walk (in `check` mode, compile errors are collected in
/// [`Walk::checked`] instead).
///
/// A `run` given a drop-down's value does not wait for the restricted query that checks it
/// ([`ChoiceRunner::query_choice`]): the query runs as a task on `rt` while the walk goes on
/// with the value (planning and running the steps on the other core), and is settled at the end
/// ([`settle`]). If a value turns out not to be allowed as given, the walk is done again the
/// plain way, waiting for each check, so that errors and choices are exactly those of a walk
/// that waited.
pub fn walk(
    engine: &Engine,
    rt: &tokio::runtime::Runtime,
    wb: &Workbook,
    inputs: &Inputs,
    mode: Mode,
) -> Result<Walk> {
    check_param_names(wb, inputs)?;
    if mode == Mode::Run {
        let (walked, checks) = walk_once(engine, rt, wb, inputs, mode, true);
        if let Some(settled) = settle(rt, walked, checks) {
            return settled;
        }
    }
    walk_once(engine, rt, wb, inputs, mode, false).0
}

/// A restricted check running as a task on the runtime.
type CheckTask = tokio::task::JoinHandle<Result<crate::engine::QueryResult>>;

/// A drop-down's restricted query still running while the walk goes on with its value.
struct PendingCheck {
    /// The parameter's index in [`Walker::declared`].
    declared: usize,
    /// The value it was given.
    value: String,
    task: CheckTask,
}

/// A speculative walk's outcome once its checks have answered: the walk with each checked
/// parameter confirmed ([`ParamState::confirm`]), or its error; `None` when a check did not
/// confirm its value (the value is not among its rows as given, or the query failed): the walk
/// must be done again waiting for each check. Every check is awaited before it returns.
fn settle(
    rt: &tokio::runtime::Runtime,
    walked: Result<Walk>,
    checks: Vec<PendingCheck>,
) -> Option<Result<Walk>> {
    let answers: Vec<_> = checks
        .into_iter()
        .map(|c| (c.declared, c.value, rt.block_on(c.task)))
        .collect();
    let mut walked = walked;
    for (declared, value, answer) in answers {
        let choices = match answer {
            Ok(Ok(rows)) => choices_from_rows(&rows).ok()?,
            _ => return None,
        };
        match &mut walked {
            Ok(w) => {
                if !w.parameters.get_mut(declared)?.confirm(choices) {
                    return None;
                }
            }
            Err(_) => {
                if !choices.iter().any(|c| c.value == value) {
                    return None;
                }
            }
        }
    }
    Some(walked)
}

/// One walk; with `speculate`, restricted checks run as tasks ([`PendingCheck`]), returned
/// unsettled with the walk.
fn walk_once(
    engine: &Engine,
    rt: &tokio::runtime::Runtime,
    wb: &Workbook,
    inputs: &Inputs,
    mode: Mode,
    speculate: bool,
) -> (Result<Walk>, Vec<PendingCheck>) {
    let has_time_param = all_params(&wb.items).any(|p| p.kind == ParamKind::TimeRange);
    let mut w = Walker {
        engine,
        rt,
        wb,
        inputs,
        mode,
        scopes: vec![Vec::new()],
        // `--time` on a workbook without a time-range parameter scopes every step.
        global_time: match inputs.time {
            Some(t) if !has_time_param => Some(t.at(inputs.now)),
            _ => None,
        },
        used_time: None,
        declared: Vec::new(),
        steps: Vec::new(),
        explained: Vec::new(),
        checked: Vec::new(),
        speculate,
        checks: Vec::new(),
    };
    if let Err(e) = w.items(&wb.items) {
        return (Err(e), w.checks);
    }
    let time = w
        .used_time
        .or(w.global_time)
        .or_else(|| {
            w.declared.iter().find_map(|p| match &p.resolved {
                Resolved::Time(t) => Some(*t),
                _ => None,
            })
        })
        .and_then(|t| t.range);
    let result = RunResult {
        title: wb.title.clone(),
        description: wb.description.clone(),
        parameters: w
            .declared
            .iter()
            .map(|p| (p.param.name.clone(), p.json_value()))
            .collect(),
        time,
        steps: w.steps,
    };
    let walked = Walk {
        result,
        parameters: w.declared,
        explained: w.explained,
        checked: w.checked,
    };
    (Ok(walked), w.checks)
}

/// Every parameter declared anywhere in `items`.
fn all_params(items: &[Item]) -> Box<dyn Iterator<Item = &Parameter> + '_> {
    Box::new(
        items
            .iter()
            .flat_map(|i| -> Box<dyn Iterator<Item = &Parameter>> {
                match &i.kind {
                    ItemKind::Parameters(ps) => Box::new(ps.iter()),
                    ItemKind::Group(g) => all_params(&g.items),
                    _ => Box::new(std::iter::empty()),
                }
            }),
    )
}

/// `--param` names must be declared somewhere in the workbook.
fn check_param_names(wb: &Workbook, inputs: &Inputs) -> Result<()> {
    let names: Vec<&str> = all_params(&wb.items).map(|p| p.name.as_str()).collect();
    for (name, _) in &inputs.params {
        if !names.contains(&name.as_str()) {
            let hint = match crate::kql::parser::did_you_mean(name, &names) {
                Some(m) => format!("did you mean `{m}`?"),
                None if names.is_empty() => "it declares no parameters".to_string(),
                None => format!("its parameters: {}", names.join(", ")),
            };
            return Err(Error::Usage(format!(
                "--param {name}: workbook `{}` has no parameter named `{name}`; {hint}",
                wb.title
            )));
        }
    }
    Ok(())
}

struct Walker<'a> {
    engine: &'a Engine,
    rt: &'a tokio::runtime::Runtime,
    wb: &'a Workbook,
    inputs: &'a Inputs,
    mode: Mode,
    /// Parameter scopes: the workbook's, then one per group entered.
    scopes: Vec<Vec<ParamState>>,
    global_time: Option<TimeRange>,
    /// The range of the first step that applied one.
    used_time: Option<TimeRange>,
    declared: Vec<ParamState>,
    steps: Vec<StepResult>,
    explained: Vec<Explained>,
    checked: Vec<Checked>,
    /// Run restricted checks as tasks instead of waiting for them ([`walk`]).
    speculate: bool,
    checks: Vec<PendingCheck>,
}

/// The parameters visible at a point of the walk.
struct ScopeView<'s>(&'s [Vec<ParamState>]);

impl bind::Scope for ScopeView<'_> {
    fn lookup(&self, name: &str) -> Option<&Resolved> {
        self.0
            .iter()
            .rev()
            .flat_map(|s| s.iter().rev())
            .find(|p| p.param.name == name)
            .map(|p| &p.resolved)
    }

    fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .0
            .iter()
            .flat_map(|s| s.iter().map(|p| p.param.name.clone()))
            .collect();
        names.dedup();
        names
    }
}

impl ScopeView<'_> {
    fn state(&self, name: &str) -> Option<&ParamState> {
        self.0
            .iter()
            .rev()
            .flat_map(|s| s.iter().rev())
            .find(|p| p.param.name == name)
    }
}

/// Runs parameter queries (or, in `check`, only compiles them).
struct ChoiceRunner<'w> {
    engine: &'w Engine,
    rt: &'w tokio::runtime::Runtime,
    wb: &'w Workbook,
    mode: Mode,
    now: i64,
    checked: &'w mut Vec<Checked>,
    /// Where a speculative walk's restricted checks go, started and not awaited: the value
    /// and the task.
    spawned: Option<&'w mut Vec<(String, CheckTask)>>,
}

impl ChoiceSource for ChoiceRunner<'_> {
    fn query_choices(&mut self, param: &Parameter, bound: &Bound) -> Result<Option<Vec<Choice>>> {
        let super::model::Choices::Query { query, lang } = &param.choices else {
            return Ok(None);
        };
        let compiled = compile(self.engine, *lang, &bound.text, None, self.now);
        if self.mode == Mode::Check {
            let entry = checked_entry(
                self.wb,
                &param.name,
                "parameter",
                query,
                Some(bound),
                compiled,
            );
            self.checked.push(entry);
            return Ok(None);
        }
        let compiled =
            compiled.map_err(|d| located(self.wb, query, Some(bound), d, &param.name))?;
        let result = self.rt.block_on(execute(self.engine, &compiled))?;
        Ok(Some(choices_from_rows(&result)?))
    }

    /// `run` and `explain`, given a value, ask the query for that value's rows only: the same
    /// rows as the full list's (in the same order), and a drop-down over an expanded list is
    /// then answered by the target index. Only KQL queries whose first column is a string.
    fn query_choice(
        &mut self,
        param: &Parameter,
        bound: &Bound,
        value: &str,
    ) -> Result<Option<Vec<Choice>>> {
        let super::model::Choices::Query {
            lang: Lang::Kql, ..
        } = &param.choices
        else {
            return Ok(None);
        };
        if !matches!(self.mode, Mode::Run | Mode::Explain) {
            return Ok(None);
        }
        // The value's label is only needed where the workbook shows it (`{Name:label}`);
        // otherwise any one row with the value proves it allowed.
        let keep = if mentions_label(self.wb, &param.name) {
            Keep::All
        } else {
            Keep::AnyOne
        };
        let catalog = self.engine.catalog();
        // A query that does not compile is reported by the full listing, as before.
        let Ok(Some(compiled)) =
            crate::kql::compile_restricted(&bound.text, &catalog, self.now, value, keep)
        else {
            return Ok(None);
        };
        // Nothing the walk binds shows the value's label, so it may go on with the value alone
        // while the check runs.
        if keep == Keep::AnyOne
            && self.mode == Mode::Run
            && let Some(spawned) = self.spawned.as_deref_mut()
        {
            let engine = self.engine.clone();
            let task = self
                .rt
                .spawn(async move { engine.run_kql(&compiled).await });
            spawned.push((value.to_string(), task));
            return Ok(Some(vec![Choice {
                value: value.to_string(),
                ..Choice::default()
            }]));
        }
        let result = self.rt.block_on(execute(
            self.engine,
            &CompiledQuery::Kql(Box::new(compiled)),
        ))?;
        let choices = choices_from_rows(&result)?;
        Ok(choices.iter().any(|c| c.value == value).then_some(choices))
    }

    /// `run` and `explain` list no choices: an optional drop-down nothing selects does not run
    /// its query (the packages of `request-status` when no package is given), unless its rows
    /// could select a default (a third column) or it does not compile (reported as before).
    fn may_skip_unselected(&mut self, param: &Parameter, bound: &Bound) -> bool {
        let super::model::Choices::Query { lang, .. } = &param.choices else {
            return false;
        };
        if !matches!(self.mode, Mode::Run | Mode::Explain) {
            return false;
        }
        match compile(self.engine, *lang, &bound.text, None, self.now) {
            Ok(CompiledQuery::Kql(c)) => c.columns.len() < 3,
            // SQL's columns are known only once planned: run it.
            Ok(CompiledQuery::Sql(_)) | Err(_) => false,
        }
    }
}

/// Whether the workbook's text may show parameter `name`'s label: a `{name:label}` placeholder
/// anywhere in the file (names compared without case, so that a doubtful case counts as a use).
fn mentions_label(wb: &Workbook, name: &str) -> bool {
    let text = wb.source.text.to_lowercase();
    let wanted = format!("{{{}:label", name.to_lowercase());
    text.contains(&wanted)
}

/// A parameter query's rows as choices: value, label, selected, group (by position).
fn choices_from_rows(result: &crate::engine::QueryResult) -> Result<Vec<Choice>> {
    use crate::render::value_to_text;
    let mut out = Vec::new();
    for batch in &result.batches {
        let cols = batch.num_columns();
        for row in 0..batch.num_rows() {
            let text = |i: usize| -> Result<Option<String>> {
                if i < cols {
                    Ok(value_to_text(batch.column(i).as_ref(), row)?)
                } else {
                    Ok(None)
                }
            };
            let Some(value) = text(0)? else { continue };
            let selected = matches!(text(2)?.as_deref(), Some("true" | "True" | "1"));
            out.push(Choice {
                value,
                label: text(1)?.filter(|l| !l.is_empty()),
                selected,
                group: text(3)?,
            });
        }
    }
    Ok(out)
}

/// A compiled step: KQL with its columns, or SQL.
enum CompiledQuery {
    Kql(Box<crate::kql::Compiled>),
    Sql(String),
}

impl CompiledQuery {
    fn sql(&self) -> String {
        match self {
            CompiledQuery::Kql(c) => c.pretty_sql(),
            CompiledQuery::Sql(s) => s.clone(),
        }
    }

    fn warnings(&self) -> &[Diagnostic] {
        match self {
            CompiledQuery::Kql(c) => &c.warnings,
            CompiledQuery::Sql(_) => &[],
        }
    }
}

fn compile(
    engine: &Engine,
    lang: Lang,
    text: &str,
    range: Option<(i64, i64)>,
    now: i64,
) -> std::result::Result<CompiledQuery, Vec<Diagnostic>> {
    match lang {
        Lang::Kql => {
            let catalog = engine.catalog().with_time_range(range);
            crate::kql::compile(text, &catalog, now).map(|c| CompiledQuery::Kql(Box::new(c)))
        }
        Lang::Sql => {
            use datafusion::sql::sqlparser::ast::VisitMut;
            use datafusion::sql::sqlparser::dialect::GenericDialect;
            use datafusion::sql::sqlparser::parser::Parser;
            let mut statements = Parser::parse_sql(&GenericDialect {}, text).map_err(|e| {
                vec![Diagnostic::error(
                    "WB0301",
                    format!("SQL syntax error: {e}"),
                    crate::diagnostic::Span::new(0, text.len().min(1)),
                )]
            })?;
            let Some((start, end)) = range else {
                return Ok(CompiledQuery::Sql(text.to_string()));
            };
            let _ = statements.visit(&mut TimeScope { start, end });
            let sql: Vec<String> = statements.iter().map(ToString::to_string).collect();
            Ok(CompiledQuery::Sql(sql.join(";\n")))
        }
    }
}

/// Applies a step's time range to a SQL query: every `AuditLogs` it reads becomes
/// `(SELECT * FROM datafusion.public."AuditLogs" WHERE "TimeGenerated" BETWEEN start AND end)`
/// under the same name. The bounds are timestamps built here, never text from a parameter.
struct TimeScope {
    start: i64,
    end: i64,
}

impl datafusion::sql::sqlparser::ast::VisitorMut for TimeScope {
    type Break = ();

    fn pre_visit_table_factor(
        &mut self,
        factor: &mut datafusion::sql::sqlparser::ast::TableFactor,
    ) -> std::ops::ControlFlow<()> {
        use datafusion::sql::sqlparser::ast::{Ident, SetExpr, Statement, TableAlias, TableFactor};
        use datafusion::sql::sqlparser::dialect::GenericDialect;
        use datafusion::sql::sqlparser::parser::Parser;
        let TableFactor::Table {
            name,
            alias,
            args: None,
            ..
        } = factor
        else {
            return std::ops::ControlFlow::Continue(());
        };
        // Only the bare name: the qualified one below is the replacement itself.
        if name.0.len() != 1
            || name.0[0].as_ident().map(|i| i.value.as_str()) != Some(crate::schema::AUDIT_LOGS)
        {
            return std::ops::ControlFlow::Continue(());
        }
        let scoped = format!(
            "SELECT * FROM datafusion.public.\"{}\" WHERE \"TimeGenerated\" BETWEEN \
             arrow_cast('{}', 'Timestamp(Nanosecond, Some(\"UTC\"))') AND \
             arrow_cast('{}', 'Timestamp(Nanosecond, Some(\"UTC\"))')",
            crate::schema::AUDIT_LOGS,
            crate::time::format_rfc3339_nanos(self.start),
            crate::time::format_rfc3339_nanos(self.end),
        );
        let Ok(mut parsed) = Parser::parse_sql(&GenericDialect {}, &scoped) else {
            return std::ops::ControlFlow::Continue(());
        };
        let Some(Statement::Query(query)) = parsed.pop() else {
            return std::ops::ControlFlow::Continue(());
        };
        debug_assert!(matches!(*query.body, SetExpr::Select(_)));
        let alias = alias.take().unwrap_or(TableAlias {
            explicit: true,
            name: Ident::with_quote('"', crate::schema::AUDIT_LOGS),
            columns: Vec::new(),
            at: None,
        });
        *factor = TableFactor::Derived {
            lateral: false,
            subquery: query,
            alias: Some(alias),
            sample: None,
        };
        std::ops::ControlFlow::Continue(())
    }
}

async fn execute(engine: &Engine, compiled: &CompiledQuery) -> Result<crate::engine::QueryResult> {
    match compiled {
        CompiledQuery::Kql(c) => engine.run_kql(c).await,
        CompiledQuery::Sql(s) => engine.query(s).await,
    }
}

/// Diagnostics of a query from the workbook, mapped to the file (through the binding and the
/// loader's source map) so they render against the workbook's own lines.
fn located(
    wb: &Workbook,
    src: &SourceText,
    bound: Option<&Bound>,
    mut diagnostics: Vec<Diagnostic>,
    item: &str,
) -> Error {
    if let Some(b) = bound {
        b.map_diagnostics(&mut diagnostics);
    }
    match &src.map {
        Some(map) => {
            for d in &mut diagnostics {
                d.span = crate::diagnostic::Span::new(
                    map.to_file(d.span.start),
                    map.to_file(d.span.end),
                );
                for (s, _) in &mut d.labels {
                    *s = crate::diagnostic::Span::new(map.to_file(s.start), map.to_file(s.end));
                }
            }
            Error::Diagnostics {
                file: wb.source.path.display().to_string(),
                text: wb.source.text.clone(),
                diagnostics,
            }
        }
        None => Error::Diagnostics {
            file: format!("{} (step `{item}`)", wb.source.path.display()),
            text: src.text.clone(),
            diagnostics,
        },
    }
}

fn checked_entry(
    wb: &Workbook,
    name: &str,
    kind: &str,
    src: &SourceText,
    bound: Option<&Bound>,
    compiled: std::result::Result<CompiledQuery, Vec<Diagnostic>>,
) -> Checked {
    let (status, diagnostics) = match compiled {
        Ok(c) => ("ok", c.warnings().to_vec()),
        Err(d) => ("error", d),
    };
    let mut entry = Checked {
        name: name.to_string(),
        kind: kind.to_string(),
        status,
        diagnostics: Vec::new(),
        rendered: String::new(),
    };
    if !diagnostics.is_empty()
        && let Error::Diagnostics {
            file,
            text,
            diagnostics,
        } = located(wb, src, bound, diagnostics, name)
    {
        entry.diagnostics = diagnostics.iter().map(|d| d.to_json(&text)).collect();
        entry.rendered = crate::diagnostic::render_all(&diagnostics, &file, &text);
    }
    entry
}

impl Walker<'_> {
    fn scope(&self) -> ScopeView<'_> {
        ScopeView(&self.scopes)
    }

    fn items(&mut self, items: &[Item]) -> Result<()> {
        for item in items {
            if !self.visible(item) {
                continue;
            }
            match &item.kind {
                ItemKind::Text(text) => {
                    if self.mode == Mode::Run {
                        let markdown = bind::bind_text(&text.text, &self.scope());
                        self.steps.push(StepResult::Text {
                            name: item.name.clone(),
                            markdown,
                        });
                    }
                }
                ItemKind::Parameters(ps) => self.parameters(ps)?,
                ItemKind::Query(q) => self.query(item, q)?,
                ItemKind::Group(g) => {
                    if let Some(title) = &g.title
                        && self.mode == Mode::Run
                    {
                        self.steps.push(StepResult::Text {
                            name: item.name.clone(),
                            markdown: format!("### {}", bind::bind_text(title, &self.scope())),
                        });
                    }
                    self.scopes.push(Vec::new());
                    let inner = self.items(&g.items);
                    let scope = self.scopes.pop().unwrap_or_default();
                    inner?;
                    if g.export_parameters
                        && let Some(outer) = self.scopes.last_mut()
                    {
                        outer.extend(scope);
                    }
                }
                ItemKind::Links(links) => {
                    if self.mode == Mode::Run && !links.is_empty() {
                        let listed: Vec<String> = links
                            .iter()
                            .map(|l| match &l.url {
                                Some(u) => format!("{} ({u})", l.label),
                                None => format!("{} ({})", l.label, l.target),
                            })
                            .collect();
                        self.steps.push(StepResult::Notice {
                            name: item.name.clone(),
                            message: format!("links (not followed): {}", listed.join("; ")),
                        });
                    }
                }
                ItemKind::Unsupported(u) => {
                    let message = format!(
                        "step `{}` is {}, which auditbook does not run; skipped",
                        item.name, u.what
                    );
                    match self.mode {
                        Mode::Run => self.steps.push(StepResult::Notice {
                            name: item.name.clone(),
                            message,
                        }),
                        Mode::Check => self.checked.push(Checked {
                            name: item.name.clone(),
                            kind: u.what.clone(),
                            status: "unsupported",
                            diagnostics: Vec::new(),
                            rendered: message,
                        }),
                        _ => {}
                    }
                }
            }
        }
        Ok(())
    }

    /// Whether every `conditionalVisibility` of `item` holds.
    fn visible(&self, item: &Item) -> bool {
        item.visible_if.iter().all(|c| {
            let scope = self.scope();
            let actual = match scope.state(&c.parameter).map(|s| &s.resolved) {
                Some(Resolved::One { value, .. }) => value.clone(),
                Some(Resolved::Many {
                    items, delimiter, ..
                }) => items
                    .iter()
                    .map(|(v, _)| v.as_str())
                    .collect::<Vec<_>>()
                    .join(delimiter),
                Some(Resolved::Time(t)) => t.label(),
                Some(Resolved::Unset) | None => String::new(),
            };
            match c.comparison {
                Comparison::IsEqualTo => actual == c.value,
                Comparison::IsNotEqualTo => actual != c.value,
            }
        })
    }

    fn parameters(&mut self, ps: &[Parameter]) -> Result<()> {
        let order = params::dependency_order(ps)?;
        let mut resolved: Vec<Option<ParamState>> = vec![None; ps.len()];
        for i in order {
            let param = &ps[i];
            let state = if self.mode == Mode::Check {
                self.stand_in(param)
            } else {
                let scopes = &self.scopes;
                let mut spawned = Vec::new();
                let mut source = ChoiceRunner {
                    engine: self.engine,
                    rt: self.rt,
                    wb: self.wb,
                    mode: self.mode,
                    now: self.inputs.now,
                    checked: &mut self.checked,
                    spawned: self.speculate.then_some(&mut spawned),
                };
                let state = params::resolve(param, &ScopeView(scopes), self.inputs, &mut source);
                // `declared` gets this step's parameters in declaration order, below.
                let declared = self.declared.len() + i;
                self.checks
                    .extend(spawned.into_iter().map(|(value, task)| PendingCheck {
                        declared,
                        value,
                        task,
                    }));
                state?
            };
            // In scope at once: the step's next parameters may use it.
            self.scopes.last_mut().expect("a scope").push(state.clone());
            resolved[i] = Some(state);
        }
        self.declared.extend(resolved.into_iter().flatten());
        Ok(())
    }

    /// `check`: a parameter's stand-in value (its query compiled, not run).
    fn stand_in(&mut self, param: &Parameter) -> ParamState {
        let mut state = ParamState {
            param: param.clone(),
            resolved: Resolved::Unset,
            allowed: None,
            origin: Origin::None,
            notes: Vec::new(),
        };
        let saved = |v: &Option<ParamValue>| match v {
            Some(ParamValue::One(s)) => Some(vec![s.clone()]),
            Some(ParamValue::Many(vs)) if !vs.is_empty() => Some(vs.clone()),
            _ => None,
        };
        let authored_pick = saved(&param.value)
            .or_else(|| saved(&param.default))
            .filter(|v| !v.iter().any(|s| s == "value::all"));
        state.resolved = match (&param.kind, &param.choices) {
            (ParamKind::TimeRange, _) => Resolved::Time(TimeRange {
                range: Some((self.inputs.now - 86_400_000_000_000, self.inputs.now)),
                duration: Some(86_400_000_000_000),
            }),
            (ParamKind::Other(code), _) => {
                self.checked.push(Checked {
                    name: param.name.clone(),
                    kind: "parameter".to_string(),
                    status: "unsupported",
                    diagnostics: Vec::new(),
                    rendered: format!(
                        "parameter `{}` has type {code} ({}), which auditbook does not support",
                        param.name,
                        params::other_kind_name(*code)
                    ),
                });
                Resolved::Unset
            }
            (_, Choices::Query { query, lang }) => {
                let scope = self.scope();
                let entry = match bind::bind_query(&query.text, *lang, &scope) {
                    Ok(b) => {
                        let compiled = compile(self.engine, *lang, &b.text, None, self.inputs.now);
                        checked_entry(self.wb, &param.name, "parameter", query, Some(&b), compiled)
                    }
                    Err(d) => checked_entry(self.wb, &param.name, "parameter", query, None, Err(d)),
                };
                self.checked.push(entry);
                stand_in_value(param, authored_pick, false)
            }
            (_, Choices::Static(cs)) => {
                let pick = authored_pick
                    .or_else(|| cs.first().map(|c| vec![c.value.clone()]))
                    .unwrap_or_default();
                stand_in_value(param, Some(pick), true)
            }
            (_, Choices::None) => stand_in_value(param, authored_pick, false),
        };
        state
    }

    fn time_for(&mut self, item: &Item, ctx: &TimeContext) -> Result<Option<TimeRange>> {
        let own = match ctx {
            TimeContext::None => None,
            TimeContext::Duration(ms) => Some(TimeRange {
                range: Some((self.inputs.now - ms * 1_000_000, self.inputs.now)),
                duration: Some(ms * 1_000_000),
            }),
            TimeContext::Parameter(name) => match self.scope().state(name).map(|s| &s.resolved) {
                Some(Resolved::Time(t)) => Some(*t),
                Some(_) => {
                    return Err(Error::Invalid(format!(
                        "step `{}`: timeContextFromParameter names `{name}`, which is not a time \
                         range parameter",
                        item.name
                    )));
                }
                None => {
                    return Err(Error::Invalid(format!(
                        "step `{}`: timeContextFromParameter names `{name}`, which is not \
                         declared before this step",
                        item.name
                    )));
                }
            },
        };
        let t = match (own, self.global_time) {
            (Some(a), Some(b)) => Some(intersect(a, b)),
            (a, b) => a.or(b),
        };
        if self.used_time.is_none() && t.is_some() {
            self.used_time = t;
        }
        Ok(t)
    }

    fn query(&mut self, item: &Item, q: &QueryItem) -> Result<()> {
        if self.mode == Mode::Params {
            return Ok(());
        }
        // Parameters of unsupported types cannot feed a query.
        for name in bind::placeholder_names(&q.query.text) {
            if let Some(s) = self.scope().state(&name)
                && let ParamKind::Other(code) = s.param.kind
            {
                let message = format!(
                    "step `{}` uses parameter `{name}`, a {} (type {code}), which auditbook does \
                     not support",
                    item.name,
                    params::other_kind_name(code)
                );
                if self.mode == Mode::Check {
                    self.checked.push(Checked {
                        name: item.name.clone(),
                        kind: "query".into(),
                        status: "unsupported",
                        diagnostics: Vec::new(),
                        rendered: message,
                    });
                    return Ok(());
                }
                return Err(Error::Usage(message));
            }
        }
        let bound = bind::bind_query(&q.query.text, q.lang, &self.scope());
        let bound = match (bound, self.mode) {
            (Ok(b), _) => b,
            (Err(d), Mode::Check) => {
                let entry = checked_entry(self.wb, &item.name, "query", &q.query, None, Err(d));
                self.checked.push(entry);
                return Ok(());
            }
            (Err(d), _) => return Err(located(self.wb, &q.query, None, d, &item.name)),
        };
        let time = self.time_for(item, &q.time_context)?;
        let range = time.and_then(|t| t.range);
        let compiled = compile(self.engine, q.lang, &bound.text, range, self.inputs.now);
        if self.mode == Mode::Check {
            let entry = checked_entry(
                self.wb,
                &item.name,
                "query",
                &q.query,
                Some(&bound),
                compiled,
            );
            self.checked.push(entry);
            return Ok(());
        }
        let compiled =
            compiled.map_err(|d| located(self.wb, &q.query, Some(&bound), d, &item.name))?;
        if self.mode == Mode::Explain {
            self.explained.push(Explained {
                name: item.name.clone(),
                title: q.title.clone(),
                lang: q.lang,
                bound: bound.text.clone(),
                sql: compiled.sql(),
                time: range,
                kql: match &compiled {
                    CompiledQuery::Kql(c) => Some(c.clone()),
                    CompiledQuery::Sql(_) => None,
                },
            });
            return Ok(());
        }
        let mut warnings: Vec<String> = Vec::new();
        if !compiled.warnings().is_empty()
            && let Error::Diagnostics {
                file,
                text,
                diagnostics,
            } = located(
                self.wb,
                &q.query,
                Some(&bound),
                compiled.warnings().to_vec(),
                &item.name,
            )
        {
            for d in &diagnostics {
                let j = d.to_json(&text);
                warnings.push(format!(
                    "{file}:{}:{}: warning[{}]: {}",
                    j.line, j.column, j.code, j.message
                ));
            }
        }
        let result = self.rt.block_on(execute(self.engine, &compiled))?;
        let total_rows = result.num_rows();
        let (batches, truncated) = match q.row_limit {
            Some(limit) if total_rows > limit => (cut(&result.batches, limit), true),
            _ => (result.batches, false),
        };
        if truncated {
            warnings.push(format!(
                "showing {} of {total_rows} rows (gridSettings.rowLimit)",
                q.row_limit.unwrap_or(0)
            ));
        }
        let columns = match &compiled {
            CompiledQuery::Kql(c) => c
                .columns
                .iter()
                .map(|(n, t)| (n.clone(), t.kql_name().to_string()))
                .collect(),
            CompiledQuery::Sql(_) => result
                .schema
                .fields()
                .iter()
                .map(|f| {
                    (
                        f.name().clone(),
                        Ty::from_arrow(f.data_type()).kql_name().to_string(),
                    )
                })
                .collect(),
        };
        self.steps.push(StepResult::Table(TableResult {
            name: item.name.clone(),
            title: q.title.as_ref().map(|t| bind::bind_text(t, &self.scope())),
            columns,
            labels: q.labels.clone(),
            schema: result.schema,
            batches,
            truncated,
            total_rows,
            no_data_message: q.no_data_message.clone(),
            warnings,
        }));
        Ok(())
    }
}

/// A stand-in value for `check`: the saved/first value, or an empty string.
fn stand_in_value(param: &Parameter, pick: Option<Vec<String>>, authored: bool) -> Resolved {
    let authored = authored && pick.is_some();
    let values = pick.unwrap_or_else(|| vec![String::new()]);
    if param.multi {
        Resolved::Many {
            items: values.into_iter().map(|v| (v, None)).collect(),
            all: false,
            all_value: None,
            authored,
            quote: param.quote.clone().unwrap_or_else(|| "'".to_string()),
            delimiter: param.delimiter.clone().unwrap_or_else(|| ",".to_string()),
        }
    } else {
        Resolved::One {
            value: values.into_iter().next().unwrap_or_default(),
            label: None,
            authored,
        }
    }
}

fn intersect(a: TimeRange, b: TimeRange) -> TimeRange {
    match (a.range, b.range) {
        (Some((s1, e1)), Some((s2, e2))) => TimeRange {
            range: Some((s1.max(s2), e1.min(e2))),
            duration: None,
        },
        (Some(_), None) => a,
        _ => b,
    }
}

/// The first `limit` rows of `batches`.
fn cut(
    batches: &[arrow::record_batch::RecordBatch],
    limit: usize,
) -> Vec<arrow::record_batch::RecordBatch> {
    let mut out = Vec::new();
    let mut left = limit;
    for b in batches {
        if left == 0 {
            break;
        }
        let n = b.num_rows().min(left);
        out.push(b.slice(0, n));
        left -= n;
    }
    out
}

/// Resolves every parameter as `run` would, except that a required parameter without a value is
/// left unset (so its allowed values can be listed) instead of stopping the walk.
pub fn walk_lenient(
    engine: &Engine,
    rt: &tokio::runtime::Runtime,
    wb: &Workbook,
    inputs: &Inputs,
) -> Result<Vec<super::params::ParamState>> {
    let mut relaxed = wb.clone();
    fn relax(items: &mut [super::Item]) {
        for item in items {
            match &mut item.kind {
                super::ItemKind::Parameters(ps) => {
                    for p in ps {
                        p.required = false;
                    }
                }
                super::ItemKind::Group(g) => relax(&mut g.items),
                _ => {}
            }
        }
    }
    relax(&mut relaxed.items);
    let walked = walk(engine, rt, &relaxed, inputs, Mode::Params)?;
    // Report the declared `required` flags, not the relaxed ones.
    let required: Vec<(String, bool)> = all_declared(&wb.items);
    Ok(walked
        .parameters
        .into_iter()
        .map(|mut p| {
            if let Some((_, r)) = required.iter().find(|(n, _)| n == &p.param.name) {
                p.param.required = *r;
            }
            p
        })
        .collect())
}

fn all_declared(items: &[super::Item]) -> Vec<(String, bool)> {
    let mut out = Vec::new();
    for item in items {
        match &item.kind {
            super::ItemKind::Parameters(ps) => {
                out.extend(ps.iter().map(|p| (p.name.clone(), p.required)))
            }
            super::ItemKind::Group(g) => out.extend(all_declared(&g.items)),
            _ => {}
        }
    }
    out
}
