//! Parameter resolution: what each declared parameter's value is for one run.
//!
//! A parameters step's parameters resolve in dependency order (a parameter whose query or choices
//! mention `{Other}` resolves after `Other`; a cycle is an error). Each value comes from the
//! first of: the command line (`--param`, `--time`), the saved `value`, `defaultValue`, the
//! choices marked `selected`. Drop-down and options values are checked against the allowed set
//! (static `jsonData`, or the rows of the parameter's query, run first); a value outside it is
//! refused with the allowed values listed. A required parameter left without a value is an error
//! that lists its allowed values.

use std::collections::HashMap;

use crate::diagnostic::Diagnostic;
use crate::{Error, Result};

use super::bind::{self, Resolved, TimeRange};
use super::model::{Choice, Choices, ParamKind, ParamValue, Parameter, TimeValue};

/// What the command line sets.
#[derive(Debug, Clone, Default)]
pub struct Inputs {
    /// `--param NAME=VALUE`, in order (a name may repeat: multi-select).
    pub params: Vec<(String, String)>,
    /// `--time` / `--from --to`.
    pub time: Option<TimeArg>,
    /// `now()` of the run, nanoseconds UTC: every query and relative range uses it.
    pub now: i64,
}

/// A time range given on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeArg {
    /// `--time 30d`: the last N nanoseconds.
    Last(i64),
    /// `--time all`.
    All,
    /// `--from T --to T`, nanoseconds.
    Range(i64, i64),
}

impl TimeArg {
    /// Parses `--time`: `all` or a KQL timespan (`30d`, `12h`, `90m`).
    pub fn parse_last(text: &str) -> Result<TimeArg> {
        let t = text.trim();
        if t.eq_ignore_ascii_case("all") {
            return Ok(TimeArg::All);
        }
        parse_duration(t).map(TimeArg::Last).ok_or_else(|| {
            Error::Usage(format!(
                "--time {text:?}: expected `all` or a duration such as 1d, 7d, 30d, 12h, 90m"
            ))
        })
    }

    /// The range this argument means at `now`.
    pub fn at(self, now: i64) -> TimeRange {
        match self {
            TimeArg::Last(d) => TimeRange {
                range: Some((now - d, now)),
                duration: Some(d),
            },
            TimeArg::All => TimeRange::ALL,
            TimeArg::Range(s, e) => TimeRange {
                range: Some((s, e)),
                duration: None,
            },
        }
    }
}

/// A KQL-style duration (`30d`, `1.5h`, `100ms`) in nanoseconds.
pub fn parse_duration(text: &str) -> Option<i64> {
    use crate::kql::lexer::{TokenKind, lex};
    let (tokens, diags) = lex(text.trim());
    match (diags.is_empty(), tokens.as_slice()) {
        (true, [t, _eof]) => match t.kind {
            TokenKind::Timespan(ticks) if ticks > 0 => Some(ticks * 100),
            _ => None,
        },
        _ => None,
    }
}

/// Where a parameter's value came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    CommandLine,
    Saved,
    Default,
    Selected,
    /// A text parameter's default query.
    Query,
    /// No value.
    None,
}

/// One parameter after resolution.
#[derive(Debug, Clone)]
pub struct ParamState {
    pub param: Parameter,
    pub resolved: Resolved,
    /// Allowed values (drop-downs and options groups): static, or computed by the parameter's
    /// query. `None` when any value is allowed or when not computed (`check`).
    pub allowed: Option<Vec<Choice>>,
    pub origin: Origin,
    /// Something the user should know (a saved value no longer among the allowed ones).
    pub notes: Vec<String>,
}

impl ParamState {
    /// The rows of this parameter's restricted query ([`ChoiceSource::query_choice`]), for a
    /// state resolved from the bare value before they arrived (a `run` goes on while that
    /// query runs: [`super::run`]). When they hold the resolved value, the
    /// state becomes what resolving with them would have made (these rows allowed, the label of
    /// the first row with the value) and this returns true; otherwise it is left as it was and
    /// this returns false: the value was not allowed, or not as given.
    pub fn confirm(&mut self, choices: Vec<Choice>) -> bool {
        let label = match &mut self.resolved {
            Resolved::One { value, label, .. } => Some((value.as_str(), label)),
            Resolved::Many { items, all, .. } if !*all && items.len() == 1 => {
                let (value, label) = &mut items[0];
                Some((value.as_str(), label))
            }
            _ => None,
        };
        let Some((value, label)) = label else {
            return false;
        };
        let Some(found) = choices.iter().find(|c| c.value == value) else {
            return false;
        };
        *label = found.label.clone();
        self.allowed = Some(choices);
        true
    }

    /// The value as the JSON contracts show it: a string, a list, a time range object, or null.
    pub fn json_value(&self) -> serde_json::Value {
        use serde_json::{Value, json};
        match &self.resolved {
            Resolved::Unset => Value::Null,
            Resolved::One { value, .. } => Value::String(value.clone()),
            Resolved::Many {
                items,
                all,
                all_value,
                ..
            } => {
                if *all && let Some(v) = all_value {
                    json!(v)
                } else {
                    Value::Array(items.iter().map(|(v, _)| json!(v)).collect())
                }
            }
            Resolved::Time(t) => match t.range {
                Some((s, e)) => json!({
                    "start": crate::time::format_rfc3339_nanos(s),
                    "end": crate::time::format_rfc3339_nanos(e),
                    "label": t.label(),
                }),
                None => json!({"start": null, "end": null, "label": t.label()}),
            },
        }
    }
}

/// How a parameter's query-backed choices are obtained: run (`run`, `params`) or not (`check`).
pub trait ChoiceSource {
    /// Runs `param`'s choices query (already bound) and returns its rows as choices.
    fn query_choices(
        &mut self,
        param: &Parameter,
        bound: &bind::Bound,
    ) -> Result<Option<Vec<Choice>>>;

    /// Whether the query of a parameter that nothing selects (no value given, saved or
    /// default, not required) may be left unrun: true when nothing lists its choices and its
    /// rows could not select a default (no third, `selected`, column). Default: always run.
    fn may_skip_unselected(&mut self, _param: &Parameter, _bound: &bind::Bound) -> bool {
        false
    }

    /// The choices of `param`'s query (already bound) whose value is `value`, when the source
    /// can ask for those alone (a run given the value: [`crate::kql::restrict`]) and `value` is
    /// among them; `None` means "list them all" (and check against the whole list, whose
    /// error names the allowed values). Default: never.
    fn query_choice(
        &mut self,
        _param: &Parameter,
        _bound: &bind::Bound,
        _value: &str,
    ) -> Result<Option<Vec<Choice>>> {
        Ok(None)
    }
}

/// Orders a parameters step's parameters so that each comes after those its query or choices
/// mention. A cycle is an error naming it.
pub fn dependency_order(params: &[Parameter]) -> Result<Vec<usize>> {
    let names: HashMap<&str, usize> = params
        .iter()
        .enumerate()
        .map(|(i, p)| (p.name.as_str(), i))
        .collect();
    let deps: Vec<Vec<usize>> = params
        .iter()
        .map(|p| {
            let mut text = String::new();
            match &p.choices {
                Choices::Query { query, .. } => text.push_str(&query.text),
                Choices::Static(cs) => {
                    for c in cs {
                        text.push_str(&c.value);
                        text.push_str(c.label.as_deref().unwrap_or(""));
                    }
                }
                Choices::None => {}
            }
            bind::placeholder_names(&text)
                .iter()
                .filter_map(|n| names.get(n.as_str()).copied())
                .collect()
        })
        .collect();
    // Depth-first, in declaration order, so that independent parameters keep their order.
    let mut state = vec![0u8; params.len()]; // 0 new, 1 on the path, 2 done
    let mut order = Vec::with_capacity(params.len());
    fn visit(
        i: usize,
        deps: &[Vec<usize>],
        state: &mut [u8],
        order: &mut Vec<usize>,
        path: &mut Vec<usize>,
    ) -> std::result::Result<(), Vec<usize>> {
        match state[i] {
            2 => return Ok(()),
            1 => {
                let from = path.iter().position(|&p| p == i).unwrap_or(0);
                let mut cycle = path[from..].to_vec();
                cycle.push(i);
                return Err(cycle);
            }
            _ => {}
        }
        state[i] = 1;
        path.push(i);
        for &d in &deps[i] {
            visit(d, deps, state, order, path)?;
        }
        path.pop();
        state[i] = 2;
        order.push(i);
        Ok(())
    }
    for i in 0..params.len() {
        let mut path = Vec::new();
        visit(i, &deps, &mut state, &mut order, &mut path).map_err(|cycle| {
            let names: Vec<&str> = cycle.iter().map(|&i| params[i].name.as_str()).collect();
            Error::Invalid(format!(
                "parameters depend on each other in a cycle: {}",
                names.join(" → ")
            ))
        })?;
    }
    Ok(order)
}

/// Resolves one parameter. `scope` holds the parameters resolved so far (for placeholders in
/// its query and choices); `inputs` the command line; `choices` runs its query.
pub fn resolve(
    param: &Parameter,
    scope: &dyn bind::Scope,
    inputs: &Inputs,
    choices: &mut dyn ChoiceSource,
) -> Result<ParamState> {
    let cli: Vec<&str> = inputs
        .params
        .iter()
        .filter(|(n, _)| n == &param.name)
        .map(|(_, v)| v.as_str())
        .collect();
    let mut state = ParamState {
        param: param.clone(),
        resolved: Resolved::Unset,
        allowed: None,
        origin: Origin::None,
        notes: Vec::new(),
    };
    match param.kind {
        ParamKind::Other(code) => {
            if !cli.is_empty() {
                return Err(Error::Usage(format!(
                    "parameter `{}` has type {code} ({}), which auditbook does not support; \
                     supported types: 1 text, 2 drop-down, 4 time range, 10 options group",
                    param.name,
                    other_kind_name(code)
                )));
            }
            Ok(state)
        }
        ParamKind::TimeRange => {
            resolve_time(param, &cli, inputs, &mut state)?;
            Ok(state)
        }
        ParamKind::Text => {
            resolve_text(param, &cli, scope, choices, &mut state)?;
            Ok(state)
        }
        ParamKind::DropDown | ParamKind::Options => {
            resolve_choice(param, &cli, scope, choices, &mut state)?;
            Ok(state)
        }
    }
}

/// Names for the parameter types auditbook refuses.
pub fn other_kind_name(code: i64) -> &'static str {
    match code {
        5 => "resource picker",
        6 => "subscription picker",
        7 => "resource type",
        8 => "location",
        11 => "multi-value",
        _ => "unknown type",
    }
}

fn resolve_time(
    param: &Parameter,
    cli: &[&str],
    inputs: &Inputs,
    state: &mut ParamState,
) -> Result<()> {
    let settings = param.time.clone().unwrap_or_default();
    let from_cli = match (cli.last(), inputs.time) {
        (Some(v), _) => Some(TimeArg::parse_last(v).map_err(|_| {
            Error::Usage(format!(
                "--param {}={v:?}: expected `all` or a duration such as 1d, 7d, 30d (or use \
                 --time / --from --to)",
                param.name
            ))
        })?),
        (None, t) => t,
    };
    if let Some(arg) = from_cli {
        let allowed = match arg {
            TimeArg::Last(d) => {
                settings.allow_custom
                    || settings.durations.is_empty()
                    || settings.durations.iter().any(|ms| ms * 1_000_000 == d)
            }
            TimeArg::All => true,
            TimeArg::Range(..) => settings.allow_custom || settings.durations.is_empty(),
        };
        if !allowed {
            let offered: Vec<String> = settings
                .durations
                .iter()
                .map(|ms| bind::timespan_literal(ms * 1_000_000))
                .collect();
            return Err(Error::Usage(format!(
                "time range parameter `{}` offers {} and no custom range",
                param.name,
                offered.join(", ")
            )));
        }
        state.resolved = Resolved::Time(arg.at(inputs.now));
        state.origin = Origin::CommandLine;
        return Ok(());
    }
    let saved = [
        (param.value.as_ref(), Origin::Saved),
        (param.default.as_ref(), Origin::Default),
    ];
    for (value, origin) in saved {
        let arg = match value {
            Some(ParamValue::Time(TimeValue::Duration { ms: 0 })) => TimeArg::All,
            Some(ParamValue::Time(TimeValue::Duration { ms })) => TimeArg::Last(ms * 1_000_000),
            Some(ParamValue::Time(TimeValue::Range { start, end })) => TimeArg::Range(*start, *end),
            Some(ParamValue::One(s)) => match TimeArg::parse_last(s) {
                Ok(a) => a,
                Err(_) => continue,
            },
            _ => continue,
        };
        state.resolved = Resolved::Time(arg.at(inputs.now));
        state.origin = origin;
        return Ok(());
    }
    if param.required {
        return Err(Error::Usage(format!(
            "time range parameter `{}` is required: give --time (e.g. --time 30d), --from/--to, \
             or --param {}=30d",
            param.name, param.name
        )));
    }
    state.resolved = Resolved::Time(TimeRange::ALL);
    Ok(())
}

fn resolve_text(
    param: &Parameter,
    cli: &[&str],
    scope: &dyn bind::Scope,
    choices: &mut dyn ChoiceSource,
    state: &mut ParamState,
) -> Result<()> {
    let one = |value: String, authored| Resolved::One {
        value,
        label: None,
        authored,
    };
    if let Some(v) = cli.last() {
        state.resolved = one(v.to_string(), false);
        state.origin = Origin::CommandLine;
        return Ok(());
    }
    for (value, origin) in [
        (param.value.as_ref(), Origin::Saved),
        (param.default.as_ref(), Origin::Default),
    ] {
        if let Some(ParamValue::One(v)) = value {
            state.resolved = one(v.clone(), true);
            state.origin = origin;
            return Ok(());
        }
    }
    if let Choices::Query { query, lang } = &param.choices {
        let bound = bind_choice_query(param, &query.text, *lang, scope)?;
        if let Some(rows) = choices.query_choices(param, &bound)?
            && let Some(first) = rows.into_iter().next()
        {
            state.resolved = one(first.value, false);
            state.origin = Origin::Query;
            return Ok(());
        }
    }
    if param.required {
        return Err(Error::Usage(format!(
            "parameter `{}`{} is required: give --param {}=VALUE",
            param.name,
            label_suffix(param),
            param.name
        )));
    }
    Ok(())
}

fn resolve_choice(
    param: &Parameter,
    cli: &[&str],
    scope: &dyn bind::Scope,
    source: &mut dyn ChoiceSource,
    state: &mut ParamState,
) -> Result<()> {
    // Allowed values and whether they were written in the workbook file.
    let (allowed, authored): (Option<Vec<Choice>>, bool) = match &param.choices {
        Choices::Static(cs) => (
            Some(
                cs.iter()
                    .map(|c| Choice {
                        value: bind::bind_text(&c.value, scope),
                        label: c.label.as_ref().map(|l| bind::bind_text(l, scope)),
                        ..c.clone()
                    })
                    .collect(),
            ),
            true,
        ),
        Choices::Query { query, lang } => {
            let bound = bind_choice_query(param, &query.text, *lang, scope)?;
            if nothing_selects(param, cli) && source.may_skip_unselected(param, &bound) {
                (None, false)
            } else if let Some(found) = match one_value(param, cli) {
                Some(v) => source.query_choice(param, &bound, v)?,
                None => None,
            } {
                (Some(found), false)
            } else {
                (source.query_choices(param, &bound)?, false)
            }
        }
        Choices::None => (None, false),
    };
    state.allowed = allowed.clone();
    let find = |v: &str| -> Option<Choice> {
        let all = allowed.as_ref()?;
        all.iter()
            .find(|c| c.value == v)
            .or_else(|| {
                all.iter().find(|c| {
                    c.label
                        .as_deref()
                        .is_some_and(|l| l.eq_ignore_ascii_case(v))
                })
            })
            .or_else(|| all.iter().find(|c| c.value.eq_ignore_ascii_case(v)))
            .cloned()
    };
    let is_all = |v: &str| v == "value::all";

    // The candidate selections, first that fits wins.
    let mut candidates: Vec<(Vec<String>, Origin)> = Vec::new();
    if !cli.is_empty() {
        let mut values = Vec::new();
        for v in cli {
            if param.multi && find(v).is_none() && v.contains(',') {
                values.extend(v.split(',').map(|s| s.trim().to_string()));
            } else {
                values.push(v.to_string());
            }
        }
        candidates.push((values, Origin::CommandLine));
    }
    for (value, origin) in [
        (param.value.as_ref(), Origin::Saved),
        (param.default.as_ref(), Origin::Default),
    ] {
        match value {
            Some(ParamValue::One(v)) => candidates.push((vec![v.clone()], origin)),
            Some(ParamValue::Many(vs)) if !vs.is_empty() => candidates.push((vs.clone(), origin)),
            _ => {}
        }
    }
    if let Some(all) = &allowed {
        let selected: Vec<String> = all
            .iter()
            .filter(|c| c.selected)
            .map(|c| c.value.clone())
            .collect();
        if !selected.is_empty() {
            candidates.push((selected, Origin::Selected));
        }
    }

    for (values, origin) in candidates {
        let chose_all = values.iter().any(|v| is_all(v));
        if chose_all && !param.include_all {
            if origin == Origin::CommandLine {
                return Err(Error::Usage(format!(
                    "parameter `{}` has no \"All\" choice",
                    param.name
                )));
            }
            continue;
        }
        let mut picked: Vec<Choice> = Vec::new();
        let mut rejected = None;
        if !chose_all {
            for v in &values {
                match (&allowed, find(v)) {
                    (_, Some(c)) => picked.push(c),
                    (None, None) => picked.push(Choice {
                        value: v.clone(),
                        ..Choice::default()
                    }),
                    (Some(_), None) => {
                        rejected = Some(v.clone());
                        break;
                    }
                }
            }
        }
        if let Some(v) = rejected {
            if origin == Origin::CommandLine {
                return Err(Error::Usage(format!(
                    "parameter `{}`{}: {v:?} is not one of the allowed values{}{}",
                    param.name,
                    label_suffix(param),
                    close_matches(&v, allowed.as_deref().unwrap_or_default()),
                    allowed_list(param, allowed.as_deref())
                )));
            }
            state.notes.push(format!(
                "the saved value {v:?} of `{}` is not among its current values; ignored",
                param.name
            ));
            continue;
        }
        if !param.multi && picked.len() > 1 {
            return Err(Error::Usage(format!(
                "parameter `{}` takes one value; got {}",
                param.name,
                values.join(", ")
            )));
        }
        // A value typed on the command line is raw query text only if the file wrote it.
        let authored_pick = authored;
        state.origin = origin;
        state.resolved = if param.multi || chose_all {
            let items = if chose_all {
                allowed.clone().unwrap_or_default()
            } else {
                picked
            };
            Resolved::Many {
                items: items.into_iter().map(|c| (c.value, c.label)).collect(),
                all: chose_all,
                all_value: param.select_all_value.clone(),
                authored: authored_pick,
                quote: param.quote.clone().unwrap_or_else(|| "'".to_string()),
                delimiter: param.delimiter.clone().unwrap_or_else(|| ",".to_string()),
            }
        } else {
            let c = picked.remove(0);
            Resolved::One {
                value: c.value,
                label: c.label,
                // A drop-down without a list: the value is free text, never raw.
                authored: authored_pick && allowed.is_some(),
            }
        };
        return Ok(());
    }
    if param.required {
        return Err(Error::Usage(format!(
            "parameter `{}`{} is required and has no value: give --param {}=VALUE{}",
            param.name,
            label_suffix(param),
            param.name,
            allowed_list(param, allowed.as_deref())
        )));
    }
    Ok(())
}

/// The value tried first (the one given on the command line, else the saved one, else the
/// default), when it is a single plain value the choices' first column could hold: not "All",
/// not empty, not a list for a multi-select to split.
fn one_value<'a>(param: &'a Parameter, cli: &[&'a str]) -> Option<&'a str> {
    let first = match (cli, &param.value, &param.default) {
        ([v], ..) => *v,
        ([], Some(ParamValue::One(v)), _) | ([], None, Some(ParamValue::One(v))) => v.as_str(),
        _ => return None,
    };
    let plain = !first.is_empty() && first != "value::all" && !(param.multi && first.contains(','));
    plain.then_some(first)
}

/// No value is given on the command line, saved or defaulted, and none is required.
fn nothing_selects(param: &Parameter, cli: &[&str]) -> bool {
    let given = |v: Option<&ParamValue>| match v {
        Some(ParamValue::Many(vs)) => !vs.is_empty(),
        Some(_) => true,
        None => false,
    };
    cli.is_empty()
        && !param.required
        && !given(param.value.as_ref())
        && !given(param.default.as_ref())
}

fn bind_choice_query(
    param: &Parameter,
    query: &str,
    lang: super::model::Lang,
    scope: &dyn bind::Scope,
) -> Result<bind::Bound> {
    bind::bind_query(query, lang, scope).map_err(|diagnostics: Vec<Diagnostic>| {
        Error::Diagnostics {
            file: format!("query of parameter `{}`", param.name),
            text: query.to_string(),
            diagnostics,
        }
    })
}

fn label_suffix(param: &Parameter) -> String {
    match &param.label {
        Some(l) if l != &param.name => format!(" ({l})"),
        _ => String::new(),
    }
}

/// "; did you mean ...?" naming up to five allowed values close to `typed`: those whose value or
/// label contains it (case-insensitively), then likely typos.
fn close_matches(typed: &str, allowed: &[Choice]) -> String {
    let needle = typed.trim().to_lowercase();
    if needle.is_empty() {
        return String::new();
    }
    let show = |c: &Choice| match &c.label {
        Some(l) if l != &c.value => format!("{} ({l})", c.value),
        _ => c.value.clone(),
    };
    let mut found: Vec<String> = allowed
        .iter()
        .filter(|c| {
            c.value.to_lowercase().contains(&needle)
                || c.label
                    .as_deref()
                    .is_some_and(|l| l.to_lowercase().contains(&needle))
        })
        .map(show)
        .collect();
    let words: Vec<&str> = allowed
        .iter()
        .flat_map(|c| std::iter::once(c.value.as_str()).chain(c.label.as_deref()))
        .collect();
    if let Some(m) = crate::kql::parser::did_you_mean(typed, &words)
        && let Some(c) = allowed
            .iter()
            .find(|c| c.value == m || c.label.as_deref() == Some(m))
    {
        let m = show(c);
        if !found.contains(&m) {
            found.insert(0, m);
        }
    }
    found.truncate(5);
    if found.is_empty() {
        String::new()
    } else {
        format!("; did you mean {}?", found.join(", or "))
    }
}

/// "; allowed values: a (label), b, ..." (at most 25 shown).
fn allowed_list(param: &Parameter, allowed: Option<&[Choice]>) -> String {
    const SHOWN: usize = 25;
    let Some(all) = allowed else {
        return String::new();
    };
    if all.is_empty() {
        return "; it has no allowed values (its query returned no rows)".to_string();
    }
    let mut parts: Vec<String> = all
        .iter()
        .take(SHOWN)
        .map(|c| match &c.label {
            Some(l) if l != &c.value => format!("{} ({l})", c.value),
            _ => c.value.clone(),
        })
        .collect();
    if all.len() > SHOWN {
        parts.push(format!("... and {} more", all.len() - SHOWN));
    }
    if param.include_all {
        parts.push("value::all".to_string());
    }
    format!("; allowed values:\n  {}", parts.join("\n  "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workbook::model::SourceText;

    struct NoQueries;
    impl ChoiceSource for NoQueries {
        fn query_choices(&mut self, _: &Parameter, _: &bind::Bound) -> Result<Option<Vec<Choice>>> {
            Ok(Some(vec![
                Choice {
                    value: "p1".into(),
                    label: Some("Package one".into()),
                    ..Choice::default()
                },
                Choice {
                    value: "p2".into(),
                    label: Some("Package two".into()),
                    ..Choice::default()
                },
            ]))
        }
    }
    struct Empty;
    impl bind::Scope for Empty {
        fn lookup(&self, _: &str) -> Option<&Resolved> {
            None
        }
        fn names(&self) -> Vec<String> {
            vec![]
        }
    }

    fn dropdown(name: &str) -> Parameter {
        Parameter {
            name: name.into(),
            kind: ParamKind::DropDown,
            required: true,
            choices: Choices::Query {
                query: SourceText::new("T | distinct X"),
                lang: super::super::model::Lang::Kql,
            },
            ..Parameter::default()
        }
    }

    fn inputs(params: &[(&str, &str)]) -> Inputs {
        Inputs {
            params: params
                .iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect(),
            time: None,
            now: 1_000_000_000_000_000_000,
        }
    }

    /// Answers `query_choice` with fixed rows (or, with `None`, only the bare value: what a
    /// speculative run resolves from).
    struct Restricted(Option<Vec<Choice>>);
    impl ChoiceSource for Restricted {
        fn query_choices(&mut self, _: &Parameter, _: &bind::Bound) -> Result<Option<Vec<Choice>>> {
            Ok(None)
        }
        fn query_choice(
            &mut self,
            _: &Parameter,
            _: &bind::Bound,
            value: &str,
        ) -> Result<Option<Vec<Choice>>> {
            Ok(Some(self.0.clone().unwrap_or_else(|| {
                vec![Choice {
                    value: value.into(),
                    ..Choice::default()
                }]
            })))
        }
    }

    #[test]
    fn a_state_resolved_from_the_bare_value_is_confirmed_by_the_rows() {
        let rows = vec![
            Choice {
                value: "p2".into(),
                label: Some("Package two".into()),
                group: Some("g".into()),
                ..Choice::default()
            },
            Choice {
                value: "p2".into(),
                label: Some("again".into()),
                ..Choice::default()
            },
        ];
        for multi in [false, true] {
            let mut p = dropdown("Pkg");
            p.multi = multi;
            let given = inputs(&[("Pkg", "p2")]);
            let waited = resolve(&p, &Empty, &given, &mut Restricted(Some(rows.clone()))).unwrap();
            let mut early = resolve(&p, &Empty, &given, &mut Restricted(None)).unwrap();
            assert_ne!(early.resolved, waited.resolved);
            assert!(early.confirm(rows.clone()));
            assert_eq!(early.resolved, waited.resolved);
            assert_eq!(early.allowed, waited.allowed);
            assert_eq!(early.origin, waited.origin);
            // Rows without the value (another case, another value) confirm nothing.
            let mut early = resolve(&p, &Empty, &given, &mut Restricted(None)).unwrap();
            let before = early.resolved.clone();
            let other = vec![Choice {
                value: "P2".into(),
                ..Choice::default()
            }];
            assert!(!early.confirm(other));
            assert!(!early.confirm(Vec::new()));
            assert_eq!(early.resolved, before);
        }
    }

    #[test]
    fn query_backed_values_are_checked_and_not_raw() {
        let p = dropdown("Pkg");
        let s = resolve(&p, &Empty, &inputs(&[("Pkg", "p2")]), &mut NoQueries).unwrap();
        assert_eq!(
            s.resolved,
            Resolved::One {
                value: "p2".into(),
                label: Some("Package two".into()),
                authored: false
            }
        );
        // By label, case-insensitively.
        let s = resolve(
            &p,
            &Empty,
            &inputs(&[("Pkg", "package ONE")]),
            &mut NoQueries,
        )
        .unwrap();
        assert!(matches!(s.resolved, Resolved::One { ref value, .. } if value == "p1"));
        let e = resolve(
            &p,
            &Empty,
            &inputs(&[("Pkg", "x\" | union T")]),
            &mut NoQueries,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("not one of the allowed values"), "{e}");
        let e = resolve(&p, &Empty, &inputs(&[("Pkg", "two")]), &mut NoQueries)
            .unwrap_err()
            .to_string();
        assert!(e.contains("did you mean p2 (Package two)?"), "{e}");
        let e = resolve(
            &p,
            &Empty,
            &inputs(&[("Pkg", "Package tow")]),
            &mut NoQueries,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("did you mean p2 (Package two)?"), "{e}");
        assert!(
            e.contains("p1 (Package one)") && e.contains("p2 (Package two)"),
            "{e}"
        );
        let e = resolve(&p, &Empty, &inputs(&[]), &mut NoQueries)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("is required") && e.contains("p1 (Package one)"),
            "{e}"
        );
    }

    /// Counts the queries run; lets unselected ones be skipped.
    struct Skipping(usize);
    impl ChoiceSource for Skipping {
        fn query_choices(&mut self, p: &Parameter, b: &bind::Bound) -> Result<Option<Vec<Choice>>> {
            self.0 += 1;
            NoQueries.query_choices(p, b)
        }
        fn may_skip_unselected(&mut self, _: &Parameter, _: &bind::Bound) -> bool {
            true
        }
    }

    #[test]
    fn an_optional_dropdown_nothing_selects_runs_no_query() {
        let optional = Parameter {
            required: false,
            ..dropdown("Pkg")
        };
        let mut source = Skipping(0);
        let s = resolve(&optional, &Empty, &inputs(&[]), &mut source).unwrap();
        assert_eq!((source.0, s.resolved.clone()), (0, Resolved::Unset));
        // A value to check, a saved value or a required parameter: the query runs.
        let s = resolve(&optional, &Empty, &inputs(&[("Pkg", "p1")]), &mut source).unwrap();
        assert!(matches!(s.resolved, Resolved::One { ref value, .. } if value == "p1"));
        let saved = Parameter {
            value: Some(ParamValue::One("p2".into())),
            ..optional.clone()
        };
        resolve(&saved, &Empty, &inputs(&[]), &mut source).unwrap();
        let e = resolve(&dropdown("Pkg"), &Empty, &inputs(&[]), &mut source).unwrap_err();
        assert!(e.to_string().contains("p1 (Package one)"), "{e}");
        assert_eq!(source.0, 3);
    }

    #[test]
    fn multi_select_all_and_lists() {
        let mut p = dropdown("M");
        p.multi = true;
        p.include_all = true;
        p.default = Some(ParamValue::One("value::all".into()));
        let s = resolve(&p, &Empty, &inputs(&[]), &mut NoQueries).unwrap();
        assert!(matches!(&s.resolved, Resolved::Many { all: true, items, .. } if items.len() == 2));
        let s = resolve(&p, &Empty, &inputs(&[("M", "p1,p2")]), &mut NoQueries).unwrap();
        assert!(
            matches!(&s.resolved, Resolved::Many { all: false, items, .. } if items.len() == 2)
        );
        let s = resolve(
            &p,
            &Empty,
            &inputs(&[("M", "p1"), ("M", "p2")]),
            &mut NoQueries,
        )
        .unwrap();
        assert_eq!(s.json_value(), serde_json::json!(["p1", "p2"]));
    }

    #[test]
    fn cycles_are_named() {
        let mut a = dropdown("A");
        a.choices = Choices::Query {
            query: SourceText::new("T | where x == '{B}'"),
            lang: super::super::model::Lang::Kql,
        };
        let mut b = dropdown("B");
        b.choices = Choices::Query {
            query: SourceText::new("T | where x == '{A}'"),
            lang: super::super::model::Lang::Kql,
        };
        let c = dropdown("C");
        let e = dependency_order(&[a.clone(), b.clone(), c.clone()])
            .unwrap_err()
            .to_string();
        assert!(e.contains("A → B → A"), "{e}");
        b.choices = Choices::None;
        assert_eq!(dependency_order(&[a, b, c]).unwrap(), vec![1, 0, 2]);
    }

    #[test]
    fn time_ranges_from_the_command_line_are_checked() {
        let p = Parameter {
            name: "Time".into(),
            kind: ParamKind::TimeRange,
            time: Some(super::super::model::TimeSettings {
                durations: vec![86_400_000],
                allow_custom: false,
            }),
            value: Some(ParamValue::Time(TimeValue::Duration { ms: 86_400_000 })),
            ..Parameter::default()
        };
        let s = resolve(&p, &Empty, &inputs(&[]), &mut NoQueries).unwrap();
        assert_eq!(s.origin, Origin::Saved);
        let e = resolve(&p, &Empty, &inputs(&[("Time", "30d")]), &mut NoQueries)
            .unwrap_err()
            .to_string();
        assert!(e.contains("offers 1d"), "{e}");
        assert_eq!(parse_duration("30d"), Some(30 * 86_400_000_000_000));
        assert_eq!(parse_duration("abc"), None);
    }
}
