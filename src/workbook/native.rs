//! auditbook's native workbook format: YAML written for people (comments, short keys, queries
//! as block text), loaded into the same [`Workbook`] model as Azure files and written back out
//! by [`to_native`]. The format is documented for users in `docs/workbook-format.md`:
//!
//! ```yaml
//! title: Access package activity
//! description: Entitlement management audit events for one access package.
//! parameters:                  # the first step, a parameters step named `parameters`
//!   Since:
//!     type: dropdown           # text | dropdown | options | time | an Azure type code
//!     required: true
//!     value: 30d
//!     choices: [{value: 1d, label: 24 hours}, 30d]
//! steps:
//!   - name: events             # optional (default `query - 1`: kind and position)
//!     kql: |
//!       AuditLogs
//!       | where TimeGenerated > ago({Since:value})
//!     time: Time               # a time parameter, or a duration like 30d
//! ```
//!
//! Every `kql:`/`sql:`/`text:` literal block scalar gets a [`SourceMap`] that is exact (one
//! checkpoint per line: the file offset after the line's indentation); single-line plain or
//! quoted scalars are mapped best effort, others have no map.
//!
//! Diagnostic codes (semantic spans are located by searching the text, best effort):
//!
//! | code     | meaning                                                                        |
//! |----------|--------------------------------------------------------------------------------|
//! | `WB0111` | YAML syntax error, unknown key, or a value of the wrong type                    |
//! | `WB0112` | a step with none or several of `text`/`kql`/`sql`/`parameters`/`group`/`links`/`azure`, or a key that does not apply to its kind |
//! | `WB0113` | an invalid value: duration, parameter type, time range, choice, `visible-if`   |
//! | `WB0114` | two steps with the same name                                                   |
//! | `WB0115` | two parameters with the same name in one scope                                 |
//! | `WB0116` | an `azure:` step that is not a valid Azure item                                |

use std::collections::HashMap;
use std::fmt;
use std::marker::PhantomData;
use std::path::Path;

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde_yaml_ng::Value as Y;

use super::azure::{default_item_name, file_stem, format_time, kind_word, offset_of_line_col};
use super::model::*;
use crate::diagnostic::{Diagnostic, Span};

// ---------------------------------------------------------------------------------------------
// Durations

/// Parses a KQL-style duration (`90d`, `12h`, `30m`, `45s`, `250ms`, or `0`) into milliseconds.
pub fn parse_duration(s: &str) -> Option<i64> {
    let s = s.trim();
    if s == "0" {
        return Some(0);
    }
    let digits = s.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 {
        return None;
    }
    let n: i64 = s[..digits].parse().ok()?;
    let unit: i64 = match &s[digits..] {
        "d" => 86_400_000,
        "h" => 3_600_000,
        "m" => 60_000,
        "s" => 1_000,
        "ms" => 1,
        _ => return None,
    };
    n.checked_mul(unit)
}

/// Formats milliseconds as a KQL-style duration in the largest unit that divides it exactly.
pub fn format_duration(ms: i64) -> String {
    if ms == 0 {
        return "0d".into();
    }
    for (unit, name) in [
        (86_400_000, "d"),
        (3_600_000, "h"),
        (60_000, "m"),
        (1_000, "s"),
    ] {
        if ms % unit == 0 {
            return format!("{}{name}", ms / unit);
        }
    }
    format!("{ms}ms")
}

// ---------------------------------------------------------------------------------------------
// The file's shape (serde)

/// A YAML mapping kept in file order, duplicates included.
struct Ordered<V>(Vec<(String, V)>);

impl<'de, V: Deserialize<'de>> Deserialize<'de> for Ordered<V> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V2<V>(PhantomData<V>);
        impl<'de, V: Deserialize<'de>> Visitor<'de> for V2<V> {
            type Value = Ordered<V>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a mapping")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Self::Value, A::Error> {
                let mut out = Vec::new();
                while let Some((k, v)) = m.next_entry::<KeyString, V>()? {
                    out.push((k.0, v));
                }
                Ok(Ordered(out))
            }
        }
        d.deserialize_map(V2(PhantomData))
    }
}

/// A mapping key: a string, or a number/bool taken as its text.
struct KeyString(String);

impl<'de> Deserialize<'de> for KeyString {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match Y::deserialize(d)? {
            Y::String(s) => Ok(KeyString(s)),
            Y::Number(n) => Ok(KeyString(n.to_string())),
            Y::Bool(b) => Ok(KeyString(b.to_string())),
            _ => Err(de::Error::custom("a key must be a string")),
        }
    }
}

fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<T>, D::Error> {
    T::deserialize(d).map(Some)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NDoc {
    title: Option<String>,
    description: Option<String>,
    parameters: Option<Ordered<NParam>>,
    #[serde(default)]
    steps: Vec<NStep>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct NStep {
    name: Option<String>,
    visible_if: Option<Y>,
    text: Option<String>,
    kql: Option<String>,
    sql: Option<String>,
    parameters: Option<Ordered<NParam>>,
    #[serde(default, deserialize_with = "present")]
    group: Option<Option<String>>,
    links: Option<Vec<NLink>>,
    azure: Option<Y>,
    title: Option<String>,
    time: Option<String>,
    labels: Option<Ordered<String>>,
    row_limit: Option<usize>,
    no_data: Option<String>,
    visualization: Option<String>,
    export_parameters: Option<bool>,
    steps: Option<Vec<NStep>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct NParam {
    label: Option<String>,
    description: Option<String>,
    #[serde(rename = "type")]
    kind: Option<Y>,
    required: Option<bool>,
    multi: Option<bool>,
    quote: Option<String>,
    delimiter: Option<String>,
    all: Option<bool>,
    all_value: Option<String>,
    hidden: Option<bool>,
    default: Option<Y>,
    value: Option<Y>,
    choices: Option<Vec<Y>>,
    kql: Option<String>,
    sql: Option<String>,
    custom: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NLink {
    label: String,
    url: Option<String>,
    target: Option<String>,
}

// ---------------------------------------------------------------------------------------------
// Loading

/// Loads a native YAML workbook. `path` is kept in [`SourceFile::path`] and gives the title
/// when the file has no `title:`. All problems found are returned together.
pub fn from_native(text: &str, path: &Path) -> Result<Workbook, Vec<Diagnostic>> {
    let doc: NDoc = serde_yaml_ng::from_str(text).map_err(|e| vec![yaml_error(text, &e)])?;
    let mut cv = Conv {
        text,
        diags: Vec::new(),
        counter: 0,
        names: HashMap::new(),
        blocks: scan_blocks(text),
        step_starts: step_starts(text),
        steps_seen: 0,
        window: (0, text.len()),
    };
    let mut items = Vec::new();
    if let Some(ps) = doc.parameters {
        cv.counter += 1;
        let params = cv.params(ps);
        cv.check_name("parameters", Span::new(0, 0));
        items.push(Item {
            name: "parameters".into(),
            visible_if: Vec::new(),
            kind: ItemKind::Parameters(params),
        });
    }
    items.extend(cv.steps(doc.steps));
    if !cv.diags.is_empty() {
        return Err(cv.diags);
    }
    Ok(Workbook {
        title: doc.title.unwrap_or_else(|| file_stem(path)),
        description: doc.description,
        items,
        source: SourceFile {
            path: path.to_path_buf(),
            text: text.to_string(),
            format: FileFormat::Native,
        },
    })
}

fn yaml_error(text: &str, e: &serde_yaml_ng::Error) -> Diagnostic {
    let msg = e.to_string();
    let msg = match msg.rfind(" at line ") {
        Some(i) => msg[..i].to_string(),
        None => msg,
    };
    let span = match e.location() {
        Some(l) => {
            let at = offset_of_line_col(text, l.line(), l.column().saturating_sub(1));
            let rest = &text[at..];
            let len = rest
                .find(|c: char| c.is_whitespace() || c == ':' || c == ',')
                .unwrap_or(rest.len());
            let len = if len == 0 {
                rest.chars().next().map_or(0, char::len_utf8)
            } else {
                len
            };
            Span::new(at, at + len)
        }
        None => Span::new(0, 0),
    };
    let mut d = Diagnostic::error("WB0111", msg, span);
    if d.message.contains("unknown field") {
        d = d.with_hint("see docs/workbook-format.md for the keys of each step and parameter");
    }
    d
}

struct Conv<'a> {
    text: &'a str,
    diags: Vec<Diagnostic>,
    counter: usize,
    names: HashMap<String, Span>,
    blocks: Vec<Block>,
    /// Byte offsets of the `- ` of every block-style step, in document order.
    step_starts: Vec<usize>,
    /// Steps converted so far (indexes `step_starts`).
    steps_seen: usize,
    /// Where `find` looks first: the current step's lines.
    window: (usize, usize),
}

impl Conv<'_> {
    /// Best-effort span of `needle` written after a key or list dash (`key: needle`): searched
    /// in the current step's lines first, then in the whole file.
    fn find(&self, needle: &str) -> Span {
        let (a, b) = self.window;
        let sp = self.find_in(needle, 0, a, b);
        if sp.is_empty() && (a, b) != (0, self.text.len()) {
            self.find_in(needle, 0, 0, self.text.len())
        } else {
            sp
        }
    }

    fn find_nth(&self, needle: &str, nth: usize) -> Span {
        self.find_in(needle, nth, 0, self.text.len())
    }

    fn find_in(&self, needle: &str, nth: usize, lo: usize, hi: usize) -> Span {
        if needle.is_empty() {
            return Span::new(0, 0);
        }
        let hay = self.text.get(..hi).unwrap_or(self.text);
        let mut k = 0;
        let mut from = lo.min(hay.len());
        while let Some(i) = hay
            .get(from..)
            .and_then(|h| h.find(needle))
            .map(|i| i + from)
        {
            let before = &self.text[..i];
            let ok = before.is_empty() || before.ends_with(['"', '\'', ' ', '\n', '{', '[']);
            if ok {
                if k == nth {
                    return Span::new(i, i + needle.len());
                }
                k += 1;
            }
            from = i + needle.len().max(1);
        }
        Span::new(0, 0)
    }

    fn err(&mut self, code: &'static str, msg: impl Into<String>, span: Span) {
        self.diags.push(Diagnostic::error(code, msg, span));
    }

    fn check_name(&mut self, name: &str, span: Span) {
        if let Some(first) = self.names.get(name).copied() {
            let count = self.text.matches(&format!("name: {name}")).count();
            let span = if count >= 2 {
                self.find_nth(&format!("name: {name}"), count - 1)
            } else {
                span
            };
            self.diags.push(
                Diagnostic::error("WB0114", format!("duplicate step name `{name}`"), span)
                    .with_label(first, "first used here")
                    .with_hint("step names must be unique in a workbook"),
            );
        } else {
            self.names.insert(name.to_string(), span);
        }
    }

    /// A text from the file with its map: exact for literal block scalars.
    fn source_text(&mut self, text: String) -> SourceText {
        if let Some(b) = self.blocks.iter_mut().find(|b| !b.used && b.text == text) {
            b.used = true;
            return SourceText {
                map: Some(b.map.clone()),
                text,
            };
        }
        let map = (!text.is_empty() && !text.contains('\n'))
            .then(|| self.find(&text))
            .and_then(|sp| {
                (sp.end > sp.start && self.text[sp.start..sp.end] == text).then(|| SourceMap {
                    checkpoints: vec![(0, sp.start)],
                })
            });
        SourceText { text, map }
    }

    fn steps(&mut self, steps: Vec<NStep>) -> Vec<Item> {
        let mut scope: HashMap<String, Span> = HashMap::new();
        let mut out = Vec::new();
        for s in steps {
            if let Some(i) = self.step(s, &mut scope) {
                out.push(i);
            }
        }
        out
    }

    fn step(&mut self, s: NStep, scope: &mut HashMap<String, Span>) -> Option<Item> {
        let n = self.counter;
        self.counter += 1;
        let k = self.steps_seen;
        self.steps_seen += 1;
        let saved = self.window;
        if let Some(&start) = self.step_starts.get(k) {
            let end = self
                .step_starts
                .get(k + 1)
                .copied()
                .unwrap_or(self.text.len());
            self.window = (start, end.max(start));
        }
        let item = self.step_inner(s, scope, n);
        self.window = saved;
        item
    }

    fn step_inner(
        &mut self,
        s: NStep,
        scope: &mut HashMap<String, Span>,
        n: usize,
    ) -> Option<Item> {
        let name_span = s
            .name
            .as_ref()
            .map_or(Span::new(0, 0), |nm| self.find(&format!("name: {nm}")));
        let kinds: Vec<&str> = [
            ("text", s.text.is_some()),
            ("kql", s.kql.is_some()),
            ("sql", s.sql.is_some()),
            ("parameters", s.parameters.is_some()),
            ("group", s.group.is_some()),
            ("links", s.links.is_some()),
            ("azure", s.azure.is_some()),
        ]
        .iter()
        .filter(|k| k.1)
        .map(|k| k.0)
        .collect();
        let what = s.name.clone().map_or(String::new(), |n| format!(" `{n}`"));
        if kinds.len() != 1 {
            let msg = if kinds.is_empty() {
                format!(
                    "step{what} has no kind: give one of `text`, `kql`, `sql`, `parameters`, \
                     `group`, `links`, `azure`"
                )
            } else {
                format!("step{what} has several kinds: {}", kinds.join(", "))
            };
            let span = if name_span.is_empty() {
                kinds
                    .last()
                    .map_or(Span::new(0, 0), |k| self.find(&format!("{k}:")))
            } else {
                name_span
            };
            self.err("WB0112", msg, span);
            return None;
        }
        let kind = kinds[0];
        let is_query = kind == "kql" || kind == "sql";
        let misplaced: Vec<&str> = [
            ("title", s.title.is_some() && !is_query),
            ("time", s.time.is_some() && !is_query),
            ("labels", s.labels.is_some() && !is_query),
            ("row-limit", s.row_limit.is_some() && !is_query),
            ("no-data", s.no_data.is_some() && !is_query),
            ("visualization", s.visualization.is_some() && !is_query),
            (
                "export-parameters",
                s.export_parameters.is_some() && kind != "group",
            ),
            ("steps", s.steps.is_some() && kind != "group"),
        ]
        .iter()
        .filter(|k| k.1)
        .map(|k| k.0)
        .collect();
        for key in misplaced {
            let span = self.find(&format!("{key}:"));
            let mut d = Diagnostic::error(
                "WB0112",
                format!("`{key}` does not apply to a `{kind}` step"),
                span,
            );
            if key == "title" && kind == "group" {
                d = d.with_hint("a group's title is its value: `group: TITLE`");
            }
            self.diags.push(d);
        }
        let visible_if = match &s.visible_if {
            Some(v) => self.visible_if(v),
            None => Vec::new(),
        };
        let name = s.name.clone();
        let kind = match kind {
            "text" => ItemKind::Text(self.source_text(s.text.unwrap_or_default())),
            "kql" | "sql" => {
                let (q, lang) = match s.kql {
                    Some(q) => (q, Lang::Kql),
                    None => (s.sql.unwrap_or_default(), Lang::Sql),
                };
                let time_context = match &s.time {
                    None => TimeContext::None,
                    Some(t) => match parse_duration(t) {
                        Some(ms) => TimeContext::Duration(ms),
                        None if is_identifier(t) => TimeContext::Parameter(t.clone()),
                        None => {
                            let sp = self.find(t);
                            self.err(
                                "WB0113",
                                format!(
                                    "`time: {t}` is neither a duration (30d, 12h) nor a parameter name"
                                ),
                                sp,
                            );
                            TimeContext::None
                        }
                    },
                };
                ItemKind::Query(QueryItem {
                    query: self.source_text(q),
                    lang,
                    title: s.title,
                    no_data_message: s.no_data,
                    time_context,
                    visualization: s.visualization,
                    labels: s.labels.map(|l| l.0).unwrap_or_default(),
                    row_limit: s.row_limit,
                })
            }
            "parameters" => {
                let ps = self.params_in(s.parameters.unwrap_or(Ordered(Vec::new())), scope);
                ItemKind::Parameters(ps)
            }
            "group" => {
                let items = self.steps(s.steps.unwrap_or_default());
                ItemKind::Group(Group {
                    title: s.group.flatten(),
                    items,
                    export_parameters: s.export_parameters.unwrap_or(false),
                })
            }
            "links" => ItemKind::Links(
                s.links
                    .unwrap_or_default()
                    .into_iter()
                    .map(|l| Link {
                        label: l.label,
                        target: l.target.unwrap_or_else(|| "Url".into()),
                        url: l.url,
                    })
                    .collect(),
            ),
            _ => {
                let raw = s.azure.unwrap_or(Y::Null);
                let span = self.find("azure:");
                let json = match serde_json::to_value(&raw) {
                    Ok(j) => j,
                    Err(e) => {
                        self.err("WB0116", format!("`azure:` is not JSON data: {e}"), span);
                        return None;
                    }
                };
                match super::azure::item_from_raw(&json, n) {
                    Ok(item) => {
                        let visible_if = if s.visible_if.is_some() {
                            visible_if
                        } else {
                            item.visible_if
                        };
                        let name =
                            self.named(Some(name.unwrap_or(item.name)), "item", n, name_span);
                        return Some(Item {
                            name,
                            visible_if,
                            kind: item.kind,
                        });
                    }
                    Err(msgs) => {
                        for m in msgs {
                            self.err("WB0116", format!("`azure:` item: {m}"), span);
                        }
                        return None;
                    }
                }
            }
        };
        let word = kind_word(&kind);
        Some(Item {
            name: self.named(name, word, n, name_span),
            visible_if,
            kind,
        })
    }

    fn named(&mut self, name: Option<String>, word: &str, n: usize, span: Span) -> String {
        let name = name.unwrap_or_else(|| default_item_name(word, n));
        self.check_name(&name, span);
        name
    }

    fn visible_if(&mut self, v: &Y) -> Vec<Condition> {
        let mut out = Vec::new();
        let span = self.find("visible-if:");
        match v {
            Y::Mapping(m) => {
                for (k, val) in m {
                    match (scalar(k), scalar(val)) {
                        (Some(parameter), Some(value)) => out.push(Condition {
                            parameter,
                            comparison: Comparison::IsEqualTo,
                            value,
                        }),
                        _ => self.err(
                            "WB0113",
                            "`visible-if` maps parameter names to values",
                            span,
                        ),
                    }
                }
            }
            Y::Sequence(seq) => {
                for e in seq {
                    let Y::Mapping(m) = e else {
                        self.err("WB0113", "a `visible-if` entry is `{param: P, is: V}` or `{param: P, is-not: V}`", span);
                        continue;
                    };
                    let get = |k: &str| m.get(Y::String(k.into())).and_then(scalar);
                    let known = m
                        .keys()
                        .all(|k| matches!(k.as_str(), Some("param" | "is" | "is-not")));
                    let cond = match (get("param"), get("is"), get("is-not")) {
                        (Some(p), Some(v), None) if known => Some((p, Comparison::IsEqualTo, v)),
                        (Some(p), None, Some(v)) if known => Some((p, Comparison::IsNotEqualTo, v)),
                        _ => None,
                    };
                    match cond {
                        Some((parameter, comparison, value)) => out.push(Condition {
                            parameter,
                            comparison,
                            value,
                        }),
                        None => self.err(
                            "WB0113",
                            "a `visible-if` entry is `{param: P, is: V}` or `{param: P, is-not: V}`",
                            span,
                        ),
                    }
                }
            }
            _ => self.err(
                "WB0113",
                "`visible-if` is a mapping `{Param: value}` or a list of `{param, is | is-not}`",
                span,
            ),
        }
        out
    }

    /// The top-level `parameters:` (its own scope).
    fn params(&mut self, ps: Ordered<NParam>) -> Vec<Parameter> {
        let mut scope = HashMap::new();
        self.params_in(ps, &mut scope)
    }

    fn params_in(
        &mut self,
        ps: Ordered<NParam>,
        scope: &mut HashMap<String, Span>,
    ) -> Vec<Parameter> {
        let mut out = Vec::new();
        for (name, p) in ps.0 {
            let key = format!("{name}:");
            if let Some(first) = scope.get(&name).copied() {
                let count = self.text.matches(&key).count();
                let span = self.find_nth(&key, count.saturating_sub(1));
                let span = Span::new(span.start, span.end.saturating_sub(1).max(span.start));
                self.diags.push(
                    Diagnostic::error(
                        "WB0115",
                        format!("parameter `{name}` is declared twice"),
                        span,
                    )
                    .with_label(first, "first declared here"),
                );
            } else {
                let sp = self.find(&key);
                scope.insert(
                    name.clone(),
                    Span::new(sp.start, sp.end.saturating_sub(1).max(sp.start)),
                );
            }
            if let Some(p) = self.param(name, p) {
                out.push(p);
            }
        }
        out
    }

    fn param(&mut self, name: String, p: NParam) -> Option<Parameter> {
        let kind = match &p.kind {
            None => ParamKind::Text,
            Some(Y::String(s)) => match s.as_str() {
                "text" => ParamKind::Text,
                "dropdown" => ParamKind::DropDown,
                "options" => ParamKind::Options,
                "time" => ParamKind::TimeRange,
                other => {
                    let sp = self.find(&format!("type: {other}"));
                    let sp = Span::new(sp.start + 6.min(sp.len()), sp.end);
                    self.diags.push(
                        Diagnostic::error(
                            "WB0113",
                            format!("unknown parameter type `{other}`"),
                            sp,
                        )
                        .with_hint("types: text, dropdown, options, time, or an Azure type code"),
                    );
                    return None;
                }
            },
            Some(Y::Number(n)) => match n.as_i64() {
                Some(1) => ParamKind::Text,
                Some(2) => ParamKind::DropDown,
                Some(4) => ParamKind::TimeRange,
                Some(10) => ParamKind::Options,
                Some(n) => ParamKind::Other(n),
                None => {
                    let sp = self.find(&format!("type: {n}"));
                    self.err("WB0113", format!("invalid parameter type `{n}`"), sp);
                    return None;
                }
            },
            Some(_) => {
                let sp = self.find(&format!("{name}:"));
                self.err(
                    "WB0113",
                    format!("parameter `{name}`: `type` must be a name"),
                    sp,
                );
                return None;
            }
        };
        let is_time = kind == ParamKind::TimeRange;
        let mut param = Parameter {
            label: p.label,
            description: p.description,
            kind,
            required: p.required.unwrap_or(false),
            multi: p.multi.unwrap_or(false),
            quote: p.quote,
            delimiter: p.delimiter,
            include_all: p.all.unwrap_or(false),
            select_all_value: p.all_value,
            hidden: p.hidden.unwrap_or(false),
            ..Parameter::default()
        };
        param.default = p
            .default
            .as_ref()
            .and_then(|v| self.value(&name, v, is_time));
        param.value = p.value.as_ref().and_then(|v| self.value(&name, v, is_time));
        if is_time && (p.choices.is_some() || p.custom.is_some()) {
            let mut durations = Vec::new();
            for c in p.choices.iter().flatten() {
                match scalar(c).as_deref().and_then(parse_duration) {
                    Some(ms) => durations.push(ms),
                    None => {
                        let text = scalar(c).unwrap_or_default();
                        let sp = self.find(&text);
                        self.err(
                            "WB0113",
                            format!(
                                "time choice `{text}` of `{name}` is not a duration (1d, 12h, 30m)"
                            ),
                            sp,
                        );
                    }
                }
            }
            param.time = Some(TimeSettings {
                durations,
                allow_custom: p.custom.unwrap_or(false),
            });
        } else {
            if let Some(c) = p.custom {
                param.time = Some(TimeSettings {
                    durations: Vec::new(),
                    allow_custom: c,
                });
            }
            if let Some(cs) = &p.choices {
                let mut out = Vec::new();
                for c in cs {
                    match self.choice(&name, c) {
                        Some(c) => out.push(c),
                        None => continue,
                    }
                }
                param.choices = Choices::Static(out);
            }
        }
        let query = match (p.kql, p.sql) {
            (Some(q), None) => Some((q, Lang::Kql)),
            (None, Some(q)) => Some((q, Lang::Sql)),
            (None, None) => None,
            (Some(_), Some(_)) => {
                let sp = self.find(&format!("{name}:"));
                self.err(
                    "WB0113",
                    format!("parameter `{name}` has both `kql` and `sql`"),
                    sp,
                );
                None
            }
        };
        if let Some((q, lang)) = query {
            if matches!(param.choices, Choices::Static(_)) {
                let sp = self.find(&format!("{name}:"));
                self.err(
                    "WB0113",
                    format!("parameter `{name}` has both `choices` and a query"),
                    sp,
                );
            }
            param.choices = Choices::Query {
                query: self.source_text(q),
                lang,
            };
        }
        param.name = name;
        Some(param)
    }

    fn choice(&mut self, name: &str, c: &Y) -> Option<Choice> {
        if let Some(value) = scalar(c) {
            return Some(Choice {
                value,
                ..Choice::default()
            });
        }
        let bad = |cv: &mut Self| {
            let sp = cv.find(&format!("{name}:"));
            cv.err(
                "WB0113",
                format!("a choice of `{name}` is a value or `{{value, label, selected, group}}`"),
                sp,
            );
            None
        };
        let Y::Mapping(m) = c else { return bad(self) };
        let known = m
            .keys()
            .all(|k| matches!(k.as_str(), Some("value" | "label" | "selected" | "group")));
        let get = |k: &str| m.get(Y::String(k.into()));
        let Some(value) = get("value").and_then(scalar).filter(|_| known) else {
            return bad(self);
        };
        let selected = match get("selected") {
            None => false,
            Some(Y::Bool(b)) => *b,
            Some(_) => return bad(self),
        };
        Some(Choice {
            value,
            label: get("label").and_then(scalar),
            selected,
            group: get("group").and_then(scalar),
        })
    }

    fn value(&mut self, name: &str, v: &Y, is_time: bool) -> Option<ParamValue> {
        match v {
            Y::Null => None,
            Y::String(s) if is_time => Some(match parse_duration(s) {
                Some(ms) => ParamValue::Time(TimeValue::Duration { ms }),
                None => ParamValue::One(s.clone()),
            }),
            Y::Sequence(seq) => Some(ParamValue::Many(seq.iter().filter_map(scalar).collect())),
            Y::Mapping(m) => {
                let get = |k: &str| m.get(Y::String(k.into())).and_then(scalar);
                let keys: Vec<&str> = m.keys().filter_map(Y::as_str).collect();
                let t = |s: Option<String>| s.and_then(|s| crate::time::parse_timestamp(&s).ok());
                if keys.len() == 2 && keys.contains(&"from") && keys.contains(&"to") {
                    if let (Some(start), Some(end)) = (t(get("from")), t(get("to"))) {
                        return Some(ParamValue::Time(TimeValue::Range { start, end }));
                    }
                } else if keys == ["duration"]
                    && let Some(ms) = get("duration").as_deref().and_then(parse_duration)
                {
                    return Some(ParamValue::Time(TimeValue::Duration { ms }));
                }
                let sp = self.find(&format!("{name}:"));
                self.err(
                    "WB0113",
                    format!(
                        "value of `{name}`: a time value is `{{from: RFC3339, to: RFC3339}}` or \
                         `{{duration: 30d}}`"
                    ),
                    sp,
                );
                None
            }
            other => scalar(other).map(ParamValue::One),
        }
    }
}

/// Offsets of the `- ` starting each step of every block-style `steps:` sequence, sorted (the
/// order steps are converted in: a group's steps follow the group). Flow-style sequences are
/// not found; `find` then falls back to the whole file.
fn step_starts(text: &str) -> Vec<usize> {
    let mut lines: Vec<(usize, &str)> = Vec::new();
    let mut at = 0;
    for l in text.split_inclusive('\n') {
        lines.push((at, l.trim_end_matches(['\n', '\r'])));
        at += l.len();
    }
    let indent_of = |l: &str| l.len() - l.trim_start_matches(' ').len();
    let skip = |l: &str| l.trim().is_empty() || l.trim_start().starts_with('#');
    let mut out = Vec::new();
    for (i, &(_, line)) in lines.iter().enumerate() {
        let t = line.trim_start_matches(' ');
        let t = t.strip_prefix("- ").unwrap_or(t).trim_start();
        let key_end = t.split('#').next().unwrap_or("").trim_end();
        if key_end != "steps:" {
            continue;
        }
        let key_col = line.len() - t.len();
        let mut seq_indent = None;
        for &(start, l) in &lines[i + 1..] {
            if skip(l) {
                continue;
            }
            let ind = indent_of(l);
            let dash = l[ind..].starts_with("- ") || &l[ind..] == "-";
            match seq_indent {
                None if dash && ind >= key_col => {
                    seq_indent = Some(ind);
                    out.push(start + ind);
                }
                None => break,
                Some(s) if ind < s || (ind == s && !dash) => break,
                Some(s) if ind == s => out.push(start + ind),
                Some(_) => {}
            }
        }
    }
    out.sort_unstable();
    out.dedup();
    out
}

/// A YAML scalar as text (numbers and booleans as written).
fn scalar(y: &Y) -> Option<String> {
    match y {
        Y::String(s) => Some(s.clone()),
        Y::Number(n) => Some(n.to_string()),
        Y::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn is_identifier(s: &str) -> bool {
    let mut c = s.chars();
    c.next().is_some_and(|f| f.is_alphabetic() || f == '_')
        && c.all(|x| x.is_alphanumeric() || x == '_' || x == '-')
}

// ---------------------------------------------------------------------------------------------
// Literal block scalars in the file

/// A `key: |` literal block scalar found in the file: its decoded text and map.
struct Block {
    text: String,
    map: SourceMap,
    used: bool,
}

/// Finds every `key: |` literal block scalar (with optional chomping / indentation indicators)
/// and decodes it the way YAML does, with one map checkpoint per content line.
fn scan_blocks(text: &str) -> Vec<Block> {
    let mut lines: Vec<(usize, &str)> = Vec::new();
    let mut at = 0;
    for l in text.split_inclusive('\n') {
        let content = l.strip_suffix('\n').unwrap_or(l);
        lines.push((at, content.strip_suffix('\r').unwrap_or(content)));
        at += l.len();
    }
    let mut out = Vec::new();
    for (i, &(_, line)) in lines.iter().enumerate() {
        let Some((parent, indicator, chomp)) = block_header(line) else {
            continue;
        };
        let indent_of = |l: &str| l.len() - l.trim_start_matches(' ').len();
        let blank = |l: &str| l.trim().is_empty();
        let indent = match indicator {
            Some(k) => parent + k,
            None => match lines[i + 1..].iter().find(|(_, l)| !blank(l)) {
                Some((_, l)) if indent_of(l) > parent => indent_of(l),
                _ => continue,
            },
        };
        let mut body = String::new();
        let mut cps = Vec::new();
        let mut trailing = String::new();
        for &(start, l) in &lines[i + 1..] {
            if !blank(l) && indent_of(l) < indent {
                break;
            }
            if blank(l) && l.len() <= indent {
                trailing.push('\n');
                continue;
            }
            body.push_str(&trailing);
            trailing.clear();
            cps.push((body.len(), start + indent));
            body.push_str(&l[indent..]);
            trailing.push('\n');
        }
        let decoded = match chomp {
            '-' => body,
            '+' => body + &trailing,
            _ if body.is_empty() => body,
            _ => body + "\n",
        };
        if cps.is_empty() {
            continue;
        }
        out.push(Block {
            text: decoded,
            map: SourceMap { checkpoints: cps },
            used: false,
        });
    }
    out
}

/// `key: |2-  # comment` → (the key's column, explicit indentation, chomping `-`/`+`/` `).
fn block_header(line: &str) -> Option<(usize, Option<usize>, char)> {
    let p = line.find(": |")?;
    let head = &line[..p];
    let rest = &line[p + 3..];
    let rest = match rest.find(" #") {
        Some(i) => &rest[..i],
        None => rest,
    }
    .trim_end();
    let mut chomp = ' ';
    let mut indicator = None;
    for c in rest.chars() {
        match c {
            '-' | '+' if chomp == ' ' => chomp = c,
            '1'..='9' if indicator.is_none() => indicator = Some(c as usize - '0' as usize),
            _ => return None,
        }
    }
    // The key's column: indentation plus any `- ` sequence dashes.
    let mut col = head.len() - head.trim_start_matches(' ').len();
    let mut h = &head[col..];
    while let Some(r) = h.strip_prefix("- ") {
        let sp = r.len() - r.trim_start_matches(' ').len();
        col += 2 + sp;
        h = &r[sp..];
    }
    if h.is_empty() || h.contains(['"', '\'', '{', '[']) {
        return None;
    }
    Some((col, indicator, chomp))
}

// ---------------------------------------------------------------------------------------------
// Writing

/// Writes `wb` as native YAML: stable key order, queries and markdown as literal block text
/// (`\r\n` becomes `\n`; query lines are never re-flowed), names only where they differ from
/// the default.
pub fn to_native(wb: &Workbook) -> String {
    let mut out = Vec::new();
    out.push(format!("title: {}", plain_or_quoted(&wb.title, false)));
    if let Some(d) = &wb.description {
        out.extend(text_field("description", d, d.contains('\n')));
    }
    let mut items: &[Item] = &wb.items;
    let mut counter = 0;
    if let Some(first) = wb.items.first()
        && first.name == "parameters"
        && first.visible_if.is_empty()
        && let ItemKind::Parameters(ps) = &first.kind
    {
        out.push("parameters:".into());
        out.extend(indent(params_lines(ps), 2));
        items = &wb.items[1..];
        counter = 1;
    }
    if !items.is_empty() {
        out.push("steps:".into());
        out.extend(indent(steps_lines(items, &mut counter), 2));
    }
    let mut s = out.join("\n");
    s.push('\n');
    s
}

fn indent(lines: Vec<String>, n: usize) -> Vec<String> {
    let pad = " ".repeat(n);
    lines
        .into_iter()
        .map(|l| if l.is_empty() { l } else { format!("{pad}{l}") })
        .collect()
}

/// Lines of a sequence of steps (`- ...`), at relative indentation 0.
fn steps_lines(items: &[Item], counter: &mut usize) -> Vec<String> {
    let mut out = Vec::new();
    for item in items {
        let lines = step_lines(item, counter);
        for (k, l) in lines.into_iter().enumerate() {
            if k == 0 {
                out.push(format!("- {l}"));
            } else if l.is_empty() {
                out.push(l);
            } else {
                out.push(format!("  {l}"));
            }
        }
    }
    out
}

fn step_lines(item: &Item, counter: &mut usize) -> Vec<String> {
    let n = *counter;
    *counter += 1;
    let mut out = Vec::new();
    let (default_name, implied_visible) = match &item.kind {
        ItemKind::Unsupported(u) => match super::azure::item_from_raw(&u.raw, n) {
            Ok(i) => (i.name, i.visible_if),
            Err(_) => (default_item_name("item", n), Vec::new()),
        },
        k => (default_item_name(kind_word(k), n), Vec::new()),
    };
    if item.name != default_name {
        out.push(format!("name: {}", plain_or_quoted(&item.name, false)));
    }
    let visible = |out: &mut Vec<String>| {
        if item.visible_if != implied_visible {
            out.extend(visible_lines(&item.visible_if));
        }
    };
    match &item.kind {
        ItemKind::Text(t) => {
            visible(&mut out);
            out.extend(text_field("text", &t.text, true));
        }
        ItemKind::Query(q) => {
            if let Some(t) = &q.title {
                out.push(format!("title: {}", plain_or_quoted(t, false)));
            }
            visible(&mut out);
            let key = match q.lang {
                Lang::Kql => "kql",
                Lang::Sql => "sql",
            };
            out.extend(text_field(key, &q.query.text, true));
            match &q.time_context {
                TimeContext::None => {}
                TimeContext::Parameter(p) => {
                    out.push(format!("time: {}", plain_or_quoted(p, false)))
                }
                TimeContext::Duration(ms) => out.push(format!("time: {}", format_duration(*ms))),
            }
            if !q.labels.is_empty() {
                out.push("labels:".into());
                for (k, v) in &q.labels {
                    out.push(format!(
                        "  {}: {}",
                        key_scalar(k),
                        plain_or_quoted(v, false)
                    ));
                }
            }
            if let Some(n) = q.row_limit {
                out.push(format!("row-limit: {n}"));
            }
            if let Some(t) = &q.no_data_message {
                out.push(format!("no-data: {}", plain_or_quoted(t, false)));
            }
            if let Some(t) = &q.visualization {
                out.push(format!("visualization: {}", plain_or_quoted(t, false)));
            }
        }
        ItemKind::Parameters(ps) => {
            visible(&mut out);
            if ps.is_empty() {
                out.push("parameters: {}".into());
            } else {
                out.push("parameters:".into());
                out.extend(indent(params_lines(ps), 2));
            }
        }
        ItemKind::Group(g) => {
            match &g.title {
                Some(t) => out.push(format!("group: {}", plain_or_quoted(t, false))),
                None => out.push("group: null".into()),
            }
            visible(&mut out);
            if g.export_parameters {
                out.push("export-parameters: true".into());
            }
            if g.items.is_empty() {
                out.push("steps: []".into());
            } else {
                out.push("steps:".into());
                out.extend(indent(steps_lines(&g.items, counter), 2));
            }
        }
        ItemKind::Links(ls) => {
            visible(&mut out);
            if ls.is_empty() {
                out.push("links: []".into());
            } else {
                out.push("links:".into());
                for l in ls {
                    let mut parts = vec![format!("label: {}", plain_or_quoted(&l.label, true))];
                    if let Some(u) = &l.url {
                        parts.push(format!("url: {}", plain_or_quoted(u, true)));
                    }
                    if l.target != "Url" {
                        parts.push(format!("target: {}", plain_or_quoted(&l.target, true)));
                    }
                    out.push(format!("  - {{{}}}", parts.join(", ")));
                }
            }
        }
        ItemKind::Unsupported(u) => {
            visible(&mut out);
            let json = serde_json::to_string_pretty(&u.raw).unwrap_or_else(|_| "{}".into());
            out.push(format!("# {}: kept for conversion, not run", u.what));
            for (k, l) in json.lines().enumerate() {
                if k == 0 {
                    out.push(format!("azure: {l}"));
                } else {
                    out.push(format!("  {l}"));
                }
            }
        }
    }
    out
}

fn visible_lines(conds: &[Condition]) -> Vec<String> {
    if conds.is_empty() {
        return Vec::new();
    }
    let simple = conds.iter().all(|c| c.comparison == Comparison::IsEqualTo)
        && conds
            .iter()
            .enumerate()
            .all(|(i, c)| conds[..i].iter().all(|d| d.parameter != c.parameter));
    if simple {
        let parts: Vec<String> = conds
            .iter()
            .map(|c| {
                format!(
                    "{}: {}",
                    plain_or_quoted(&c.parameter, true),
                    plain_or_quoted(&c.value, true)
                )
            })
            .collect();
        return vec![format!("visible-if: {{{}}}", parts.join(", "))];
    }
    let mut out = vec!["visible-if:".to_string()];
    for c in conds {
        let op = match c.comparison {
            Comparison::IsEqualTo => "is",
            Comparison::IsNotEqualTo => "is-not",
        };
        out.push(format!(
            "  - {{param: {}, {op}: {}}}",
            plain_or_quoted(&c.parameter, true),
            plain_or_quoted(&c.value, true)
        ));
    }
    out
}

fn params_lines(ps: &[Parameter]) -> Vec<String> {
    let mut out = Vec::new();
    for p in ps {
        out.push(format!("{}:", key_scalar(&p.name)));
        let mut b = Vec::new();
        let is_time = p.kind == ParamKind::TimeRange;
        if let Some(l) = &p.label {
            b.push(format!("label: {}", plain_or_quoted(l, false)));
        }
        if let Some(d) = &p.description {
            b.extend(text_field("description", d, d.contains('\n')));
        }
        match p.kind {
            ParamKind::Other(n) => b.push(format!("type: {n}")),
            k => b.push(format!("type: {}", k.name())),
        }
        if p.required {
            b.push("required: true".into());
        }
        if p.multi {
            b.push("multi: true".into());
        }
        if let Some(q) = &p.quote {
            b.push(format!("quote: {}", plain_or_quoted(q, false)));
        }
        if let Some(d) = &p.delimiter {
            b.push(format!("delimiter: {}", plain_or_quoted(d, false)));
        }
        if p.include_all {
            b.push("all: true".into());
        }
        if let Some(s) = &p.select_all_value {
            b.push(format!("all-value: {}", plain_or_quoted(s, false)));
        }
        if p.hidden {
            b.push("hidden: true".into());
        }
        if let Some(v) = &p.default {
            b.push(format!("default: {}", value_text(v, is_time)));
        }
        if let Some(v) = &p.value {
            b.push(format!("value: {}", value_text(v, is_time)));
        }
        if let Some(t) = &p.time {
            if is_time && !t.durations.is_empty() {
                let ds: Vec<String> = t.durations.iter().map(|d| format_duration(*d)).collect();
                b.push(format!("choices: [{}]", ds.join(", ")));
            }
            b.push(format!("custom: {}", t.allow_custom));
        }
        match &p.choices {
            Choices::None => {}
            Choices::Static(cs) => b.extend(choices_lines(cs)),
            Choices::Query { query, lang } => {
                let key = match lang {
                    Lang::Kql => "kql",
                    Lang::Sql => "sql",
                };
                b.extend(text_field(key, &query.text, true));
            }
        }
        out.extend(indent(b, 2));
    }
    out
}

fn choices_lines(cs: &[Choice]) -> Vec<String> {
    if cs.is_empty() {
        return vec!["choices: []".into()];
    }
    let plain = cs.iter().all(Choice::is_plain);
    let items: Vec<String> = cs
        .iter()
        .map(|c| {
            if plain {
                return plain_or_quoted(&c.value, true);
            }
            let mut parts = vec![format!("value: {}", plain_or_quoted(&c.value, true))];
            if let Some(l) = &c.label {
                parts.push(format!("label: {}", plain_or_quoted(l, true)));
            }
            if c.selected {
                parts.push("selected: true".into());
            }
            if let Some(g) = &c.group {
                parts.push(format!("group: {}", plain_or_quoted(g, true)));
            }
            format!("{{{}}}", parts.join(", "))
        })
        .collect();
    let flow = format!("choices: [{}]", items.join(", "));
    if plain && flow.len() <= 80 {
        return vec![flow];
    }
    let mut out = vec!["choices:".to_string()];
    out.extend(items.into_iter().map(|i| format!("  - {i}")));
    out
}

fn value_text(v: &ParamValue, is_time: bool) -> String {
    match v {
        ParamValue::One(s) => plain_or_quoted(s, false),
        ParamValue::Many(vs) => {
            let items: Vec<String> = vs.iter().map(|s| plain_or_quoted(s, true)).collect();
            format!("[{}]", items.join(", "))
        }
        ParamValue::Time(TimeValue::Duration { ms }) if is_time => format_duration(*ms),
        ParamValue::Time(TimeValue::Duration { ms }) => {
            format!("{{duration: {}}}", format_duration(*ms))
        }
        ParamValue::Time(TimeValue::Range { start, end }) => {
            format!(
                "{{from: {}, to: {}}}",
                format_time(*start),
                format_time(*end)
            )
        }
    }
}

/// `key: value` for a text: a literal block scalar when `block` (and the text allows it), else
/// a plain or quoted scalar.
fn text_field(key: &str, text: &str, block: bool) -> Vec<String> {
    let text = text.replace("\r\n", "\n");
    if block
        && !text.is_empty()
        && let Some(lines) = block_scalar(&text)
    {
        let mut out = vec![format!("{key}: {}", lines[0])];
        out.extend(lines[1..].iter().cloned());
        return out;
    }
    vec![format!("{key}: {}", plain_or_quoted(&text, false))]
}

/// A literal block scalar for `text`: the header (`|`, `|-`, `|+`, with an indentation
/// indicator when the first line starts with a space) and the content lines indented by two.
/// `None` when YAML would not read it back as `text` (control characters, odd whitespace).
fn block_scalar(text: &str) -> Option<Vec<String>> {
    if text
        .chars()
        .any(|c| (c.is_control() && c != '\n' && c != '\t') || is_special_break(c))
    {
        return None;
    }
    let chomp = if text.ends_with("\n\n") || text == "\n" {
        "+"
    } else if text.ends_with('\n') {
        ""
    } else {
        "-"
    };
    let first = text.lines().find(|l| !l.trim().is_empty())?;
    let ind = if first.starts_with(' ') || first.starts_with('\t') {
        "2"
    } else {
        ""
    };
    let body = text.strip_suffix('\n').unwrap_or(text);
    let mut out = vec![format!("|{ind}{chomp}")];
    for l in body.split('\n') {
        out.push(if l.is_empty() {
            String::new()
        } else {
            format!("  {l}")
        });
    }
    // Read it back: only a block that YAML decodes to exactly `text` is used.
    let doc = format!("k: {}\n", out.join("\n"));
    let back: Option<HashMap<String, String>> = serde_yaml_ng::from_str(&doc).ok();
    (back.and_then(|m| m.get("k").cloned()).as_deref() == Some(text)).then_some(out)
}

fn is_special_break(c: char) -> bool {
    matches!(c, '\u{85}' | '\u{2028}' | '\u{2029}' | '\u{feff}')
}

/// `s` as a YAML scalar: plain when YAML reads it back as the same string, else double-quoted.
/// `flow` for scalars inside `[...]`/`{...}`.
pub(crate) fn plain_or_quoted(s: &str, flow: bool) -> String {
    if plain_ok(s, flow) {
        s.to_string()
    } else {
        quoted(s)
    }
}

fn key_scalar(s: &str) -> String {
    if plain_ok(s, true) && !s.contains(':') {
        s.to_string()
    } else {
        quoted(s)
    }
}

fn plain_ok(s: &str, flow: bool) -> bool {
    if s.is_empty()
        || s.trim() != s
        || s.chars().any(|c| c.is_control() || is_special_break(c))
        || s.contains(": ")
        || s.contains(" #")
        || s.ends_with(':')
        || s.starts_with(|c: char| "-?:,[]{}#&*!|>'\"%@`".contains(c))
        || (flow && s.contains(['[', ']', '{', '}', ',']))
    {
        return false;
    }
    let doc = if flow {
        format!("k: [{s}]")
    } else {
        format!("k: {s}")
    };
    match serde_yaml_ng::from_str::<Y>(&doc) {
        Ok(Y::Mapping(m)) => {
            let v = m.get(Y::String("k".into()));
            let v = if flow {
                v.and_then(|x| x.as_sequence())
                    .and_then(|q| (q.len() == 1).then(|| &q[0]))
            } else {
                v
            };
            v.and_then(Y::as_str) == Some(s)
        }
        _ => false,
    }
}

fn quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() || is_special_break(c) => {
                out.push_str(&format!("\\u{:04x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workbook::azure::tests::{assert_map_exact, fixture, queries, strip_source};
    use crate::workbook::azure::{from_azure, to_azure};

    /// Texts with `\r\n` as `\n`, no source, no maps: what a conversion must keep.
    fn normalized(wb: &Workbook) -> Workbook {
        fn walk(items: &mut [Item]) {
            for i in items {
                match &mut i.kind {
                    ItemKind::Text(t) => t.text = t.text.replace("\r\n", "\n"),
                    ItemKind::Query(q) => q.query.text = q.query.text.replace("\r\n", "\n"),
                    ItemKind::Parameters(ps) => {
                        for p in ps {
                            if let Choices::Query { query, .. } = &mut p.choices {
                                query.text = query.text.replace("\r\n", "\n");
                            }
                        }
                    }
                    ItemKind::Group(g) => walk(&mut g.items),
                    _ => {}
                }
            }
        }
        let mut wb = strip_source(wb.clone());
        walk(&mut wb.items);
        wb
    }

    /// `from_native(to_native(wb))` is `wb`; every block text of the output maps exactly.
    fn assert_native_round_trip(wb: &Workbook) -> String {
        let out = to_native(wb);
        let again = from_native(&out, &wb.source.path).unwrap_or_else(|d| panic!("{d:?}\n{out}"));
        let (a, b) = (normalized(&again), normalized(wb));
        for (x, y) in a.items.iter().zip(&b.items) {
            assert_eq!(x, y, "{out}");
        }
        assert_eq!(a, b, "{out}");
        let mut v = Vec::new();
        queries(&again.items, &mut v);
        for st in v.iter().filter(|s| s.text.contains('\n')) {
            assert_map_exact(&out, st);
        }
        out
    }

    #[test]
    fn step_starts_follow_nesting() {
        let t = "steps:\n  - text: a\n  # c\n  - group: G\n    steps:\n    - kql: |\n        - x\n    - text: b\n  - {text: c}\n";
        let got: Vec<&str> = step_starts(t).iter().map(|&i| &t[i..i + 6]).collect();
        assert_eq!(got, ["- text", "- grou", "- kql:", "- text", "- {tex"]);
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90d"), Some(7_776_000_000));
        assert_eq!(parse_duration("12h"), Some(43_200_000));
        assert_eq!(parse_duration("30m"), Some(1_800_000));
        assert_eq!(parse_duration("250ms"), Some(250));
        assert_eq!(parse_duration("0"), Some(0));
        assert_eq!(parse_duration("d"), None);
        assert_eq!(parse_duration("5y"), None);
        assert_eq!(parse_duration("99999999999999999d"), None);
        assert_eq!(format_duration(2_592_000_000), "30d");
        assert_eq!(format_duration(5_400_000), "90m");
        assert_eq!(format_duration(86_400_500), "86400500ms");
        assert_eq!(format_duration(90_000), "90s");
        for ms in [
            1,
            1000,
            60_000,
            3_600_000,
            86_400_000,
            7_776_000_000,
            123_456,
        ] {
            assert_eq!(parse_duration(&format_duration(ms)), Some(ms));
        }
    }

    #[test]
    fn loads_every_key() {
        let (text, path) = fixture("sampler.yaml");
        let wb = from_native(&text, &path).unwrap_or_else(|d| panic!("{d:?}"));
        assert_eq!(wb.title, "Sampler: every key");
        assert_eq!(
            wb.description.as_deref(),
            Some(
                "Exercises parameters, queries, groups, links and a kept Azure item.\nSecond line.\n"
            )
        );
        assert_eq!(wb.source.format, FileFormat::Native);
        let names: Vec<&str> = wb.items.iter().map(|i| i.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "parameters",
                "text - 1",
                "events",
                "daily",
                "group - 4",
                "tabs",
                "metrics"
            ]
        );
        let ItemKind::Parameters(ps) = &wb.items[0].kind else {
            panic!()
        };
        let since = &ps[0];
        assert_eq!((since.kind, since.required), (ParamKind::DropDown, true));
        assert_eq!(since.value, Some(ParamValue::One("3653d".into())));
        let Choices::Static(cs) = &since.choices else {
            panic!()
        };
        assert_eq!(
            cs[1],
            Choice {
                value: "3653d".into(),
                label: Some("all".into()),
                selected: true,
                group: Some("long".into())
            }
        );
        let time = &ps[1];
        assert_eq!(time.kind, ParamKind::TimeRange);
        assert_eq!(
            time.value,
            Some(ParamValue::Time(TimeValue::Duration { ms: 2_592_000_000 }))
        );
        let ts = time.time.as_ref().unwrap();
        assert_eq!(ts.durations.len(), 5);
        assert_eq!(ts.durations[4], 7_776_000_000);
        assert!(ts.allow_custom);
        assert_eq!(
            ps[2].value,
            Some(ParamValue::Time(TimeValue::Range {
                start: 1_790_812_800_000_000_000,
                end: 1_790_899_200_500_000_000
            }))
        );
        assert_eq!(ps[2].time, None);
        let act = &ps[3];
        assert!(act.multi && act.include_all);
        assert_eq!(act.quote.as_deref(), Some("'"));
        assert_eq!(act.select_all_value.as_deref(), Some("[]"));
        assert_eq!(act.default, Some(ParamValue::One("value::all".into())));
        assert_eq!(act.value, Some(ParamValue::Many(vec!["value::all".into()])));
        let Choices::Static(cs) = &act.choices else {
            panic!()
        };
        assert_eq!(cs[1].value, "Remove member: from group");
        assert_eq!(cs[2].value, "#hash");
        let Choices::Query { query, lang } = &ps[4].choices else {
            panic!()
        };
        assert_eq!(*lang, Lang::Kql);
        assert!(query.text.starts_with("AuditLogs\n| where"));
        assert!(query.text.ends_with(".id)\n"));
        assert_map_exact(&text, query);
        assert_eq!(ps[5].default, Some(ParamValue::One("10".into())));
        assert!(ps[5].hidden);
        assert_eq!(ps[6].kind, ParamKind::Other(5));

        let ItemKind::Text(t) = &wb.items[1].kind else {
            panic!()
        };
        assert_eq!(
            t.text,
            "## Heading\n\nSome *markdown* with a {Time:label} placeholder.\n"
        );
        assert_map_exact(&text, t);
        let ItemKind::Query(q) = &wb.items[2].kind else {
            panic!()
        };
        assert_eq!(q.title.as_deref(), Some("Recent events"));
        assert_eq!(q.time_context, TimeContext::Parameter("Time".into()));
        assert_eq!(q.labels[0], ("DateTime".into(), "Date and Time".into()));
        assert_eq!(q.labels[1].0, "ActivityDisplayName");
        assert_eq!(q.row_limit, Some(10000));
        assert_eq!(
            q.no_data_message.as_deref(),
            Some("No events: try a longer range")
        );
        assert_eq!(q.visualization.as_deref(), Some("table"));
        assert_map_exact(&text, &q.query);
        // An offset in the query maps to the same word in the file.
        let off = q.query.text.find("ActivityDisplayName in").unwrap();
        let at = q.query.map.as_ref().unwrap().to_file(off);
        assert!(text[at..].starts_with("ActivityDisplayName in"));
        let ItemKind::Query(q) = &wb.items[3].kind else {
            panic!()
        };
        assert_eq!(q.lang, Lang::Sql);
        assert_eq!(q.query.text, "SELECT count(*) AS n FROM AuditLogs");
        assert_eq!(q.time_context, TimeContext::Duration(86_400_000));
        assert_map_exact(&text, &q.query);

        let g = &wb.items[4];
        assert_eq!(g.visible_if[0].parameter, "Tab");
        let ItemKind::Group(grp) = &g.kind else {
            panic!()
        };
        assert_eq!(grp.title.as_deref(), Some("Details"));
        assert!(grp.export_parameters);
        assert_eq!(grp.items[0].name, "parameters - 5");
        assert_eq!(grp.items[1].name, "query - 6");
        assert_eq!(
            grp.items[1].visible_if[1].comparison,
            Comparison::IsNotEqualTo
        );
        assert_eq!(grp.items[1].visible_if[1].value, "0");
        let ItemKind::Query(q) = &grp.items[1].kind else {
            panic!()
        };
        // A plain one-line scalar is mapped too.
        assert_map_exact(&text, &q.query);
        let ItemKind::Links(ls) = &wb.items[5].kind else {
            panic!()
        };
        assert_eq!(ls[0].target, "Url");
        assert_eq!(ls[1].target, "parameter");
        assert_eq!(ls[1].url, None);
        let ItemKind::Unsupported(u) = &wb.items[6].kind else {
            panic!()
        };
        assert_eq!(u.type_code, 10);
        assert_eq!(u.what, "metrics (type 10)");
        assert_eq!(u.raw["content"]["chartId"], "m1");

        let out = assert_native_round_trip(&wb);
        assert!(
            out.contains(
                "  - name: events\n    title: Recent events\n    kql: |\n      AuditLogs\n"
            ),
            "{out}"
        );
        // Azure round trip (Azure has no description; a heading is added for the title).
        let mut no_desc = wb.clone();
        no_desc.description = None;
        let az = serde_json::to_string_pretty(&to_azure(&no_desc)).unwrap();
        let back = from_azure(&az, &path).unwrap_or_else(|d| panic!("{d:?}"));
        assert_eq!(back.title, wb.title);
        let ItemKind::Text(t) = &back.items[0].kind else {
            panic!()
        };
        assert_eq!(t.text, "## Sampler: every key");
        assert_eq!(normalized(&back).items[1..], normalized(&no_desc).items[..]);
    }

    #[test]
    fn azure_fixtures_convert_to_native_and_back() {
        for f in [
            "access-basic.workbook",
            "role-time.workbook",
            "structure.workbook",
            "arm-template.json",
        ] {
            let (text, path) = fixture(f);
            let wb = from_azure(&text, &path).unwrap();
            let out = assert_native_round_trip(&wb);
            assert!(!out.contains('\r'), "{f}");
            // And native → Azure → model again.
            let native = from_native(&out, &path).unwrap();
            let az = serde_json::to_string(&to_azure(&native)).unwrap();
            let back = from_azure(&az, &path).unwrap();
            assert_eq!(normalized(&back), normalized(&wb), "{f}");
        }
        let (text, path) = fixture("access-basic.workbook");
        let out = to_native(&from_azure(&text, &path).unwrap());
        // `\r\n` became `\n`; one-line queries stay one line.
        assert!(out.contains("    kql: |\n      AuditLogs | where TimeGenerated > ago({Since:value}) and Category == \"EntitlementManagement\"\n      | project"), "{out}");
        assert!(out.contains("        kql: |-\n          AuditLogs | where TimeGenerated > ago({Since:value}) and Category == \"EntitlementManagement\" | mv-expand"), "{out}");
    }

    #[test]
    fn microsoft_workbooks_convert_to_native_and_back() {
        let Ok(entries) = std::fs::read_dir("/work/shared/reference/workbooks") else {
            return;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.extension().and_then(|x| x.to_str()) != Some("workbook") {
                continue;
            }
            let wb = from_azure(&std::fs::read_to_string(&p).unwrap(), &p).unwrap();
            let out = assert_native_round_trip(&wb);
            assert!(out.contains("kql: |"), "{out}");
        }
    }

    #[test]
    fn yaml_errors_point_at_the_problem() {
        let t = "title: x\nsteps:\n  - kqll: |\n      T\n";
        let d = from_native(t, Path::new("x.yaml")).unwrap_err();
        assert_eq!(d[0].code, "WB0111");
        assert!(
            d[0].message.contains("unknown field `kqll`"),
            "{}",
            d[0].message
        );
        assert_eq!(&t[d[0].span.start..d[0].span.end], "kqll");
        let t = "title: x\nparameters:\n  A:\n    type: text\n    colour: red\n";
        let d = from_native(t, Path::new("x.yaml")).unwrap_err();
        assert_eq!(&t[d[0].span.start..d[0].span.end], "colour");
        let t = "title: [x\nsteps: []\n";
        let d = from_native(t, Path::new("x.yaml")).unwrap_err();
        assert_eq!(d[0].code, "WB0111");
        assert!(d[0].span.start > 0);
        let t = "steps:\n  - kql: T\n    row-limit: many\n";
        let d = from_native(t, Path::new("x.yaml")).unwrap_err();
        assert_eq!(&t[d[0].span.start..d[0].span.end], "many");
    }

    #[test]
    fn semantic_errors() {
        let t = "\
title: x
parameters:
  A: {type: text}
  A: {type: dropdown}
  B: {type: slider}
  C: {type: time, value: 30d, choices: [1d, 1week]}
steps:
  - text: hi
    kql: T
  - {}
  - name: q
    kql: T
    time: 3x
  - name: q
    text: again
  - text: t
    row-limit: 3
  - group: G
    title: no
  - kql: T
    visible-if: [{param: A, equals: x}]
";
        let d = from_native(t, Path::new("x.yaml")).unwrap_err();
        let got: Vec<(&str, &str)> = d
            .iter()
            .map(|d| (d.code, &t[d.span.start..d.span.end]))
            .collect();
        assert_eq!(
            got,
            [
                ("WB0115", "A"),
                ("WB0113", "slider"),
                ("WB0113", "1week"),
                ("WB0112", "kql:"),
                ("WB0112", ""),
                ("WB0113", "3x"),
                ("WB0114", "name: q"),
                ("WB0112", "row-limit:"),
                ("WB0112", "title:"),
                ("WB0113", "visible-if:"),
            ],
            "{d:#?}"
        );
        assert_eq!(d[0].span.start, t.find("  A: {type: d").unwrap() + 2);
        assert_eq!(d[6].span.start, t.rfind("name: q").unwrap());
        // Keys are found in their own step, not elsewhere in the file.
        assert_eq!(d[3].span.start, t.find("    kql: T").unwrap() + 4);
        assert_eq!(d[8].span.start, t.find("    title: no").unwrap() + 4);
    }

    #[test]
    fn scalars_are_quoted_only_when_needed() {
        for s in [
            "plain words",
            "30d",
            "value::all",
            "café ünïcode",
            "a-b",
            "http://x.y/z?q=1",
        ] {
            assert_eq!(plain_or_quoted(s, false), s);
        }
        for s in [
            "",
            "a: b",
            "a #b",
            "'q'",
            "\"q\"",
            " lead",
            "trail ",
            "- dash",
            "true",
            "no",
            "null",
            "~",
            "123",
            "1.5",
            "0x1F",
            "#x",
            "a\nb",
            "a:",
            "[x]",
            "{y}",
            "*star",
            "&amp",
            "!tag",
            "|",
            ">",
            "%x",
            "@x",
            "`x",
            "tab\there",
            "\u{2028}",
        ] {
            let q = plain_or_quoted(s, false);
            let back: HashMap<String, String> = serde_yaml_ng::from_str(&format!("k: {q}"))
                .unwrap_or_else(|e| panic!("{s:?} {q}: {e}"));
            assert_eq!(back["k"], s, "{q}");
            let f = plain_or_quoted(s, true);
            let back: HashMap<String, Vec<String>> =
                serde_yaml_ng::from_str(&format!("k: [{f}, x]"))
                    .unwrap_or_else(|e| panic!("{s:?} {f}: {e}"));
            assert_eq!(back["k"][0], s, "{f}");
        }
        assert_eq!(plain_or_quoted("a, b", true), "\"a, b\"");
        assert_eq!(plain_or_quoted("a, b", false), "a, b");
    }

    #[test]
    fn block_scalars_round_trip_odd_texts() {
        for text in [
            "one line",
            "two\nlines\n",
            "  leading space\nnext",
            "ends with blank lines\n\n\n",
            "\n\nleading blank lines",
            "a\n\n  indented\n\tand a tab\n# not a comment\n- not a list",
            "unicode: ✓ é 😀\n",
            "trailing spaces   \nx",
            "line\n   \nafter whitespace-only line",
            "\n",
        ] {
            let lines = text_field("kql", text, true);
            let doc = format!(
                "steps:\n{}\n",
                indent(
                    lines
                        .iter()
                        .enumerate()
                        .map(|(i, l)| if i == 0 {
                            format!("- {l}")
                        } else if l.is_empty() {
                            String::new()
                        } else {
                            format!("  {l}")
                        })
                        .collect(),
                    2,
                )
                .join("\n")
            );
            let wb = from_native(&doc, Path::new("t.yaml"))
                .unwrap_or_else(|d| panic!("{text:?}\n{doc}\n{d:?}"));
            let ItemKind::Query(q) = &wb.items[0].kind else {
                panic!()
            };
            assert_eq!(q.query.text, text, "{doc}");
            if lines[0].contains('|') && !text.trim().is_empty() {
                assert_map_exact(&doc, &q.query);
            }
        }
        // `\r\n` is written as `\n`, as a block.
        let lines = text_field("kql", "a\r\nb\r\n", true);
        assert_eq!(lines, ["kql: |", "  a", "  b"]);
    }

    #[test]
    fn blocks_in_crlf_files_map_exactly() {
        let t = "title: x\r\nsteps:\r\n  - kql: |\r\n      AuditLogs\r\n      | take 5\r\n";
        let wb = from_native(t, Path::new("x.yaml")).unwrap();
        let ItemKind::Query(q) = &wb.items[0].kind else {
            panic!()
        };
        assert_eq!(q.query.text, "AuditLogs\n| take 5\n");
        assert_map_exact(t, &q.query);
        let at = q
            .query
            .map
            .as_ref()
            .unwrap()
            .to_file(q.query.text.find("take").unwrap());
        assert!(t[at..].starts_with("take 5"));
    }

    #[test]
    fn title_defaults_to_file_stem_and_steps_are_optional() {
        let wb = from_native("description: d\n", Path::new("dir/my-report.yaml")).unwrap();
        assert_eq!(wb.title, "my-report");
        assert!(wb.items.is_empty());
        assert_eq!(to_native(&wb), "title: my-report\ndescription: d\n");
    }

    #[test]
    fn documented_example_loads_and_round_trips() {
        let doc = include_str!("../../docs/workbook-format.md");
        let start = doc.find("```yaml\n").unwrap() + 8;
        let end = start + doc[start..].find("```").unwrap();
        let wb = from_native(&doc[start..end], Path::new("example.yaml"))
            .unwrap_or_else(|d| panic!("{d:?}"));
        assert_eq!(wb.title, "Access package activity");
        assert_eq!(wb.items.len(), 6);
        let ItemKind::Parameters(ps) = &wb.items[0].kind else {
            panic!()
        };
        assert_eq!(ps.len(), 4);
        assert_native_round_trip(&wb);
    }
}
