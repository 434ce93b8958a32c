//! Azure Monitor workbook files: loads `Notebook/1.0` JSON (and the ARM-template form that wraps
//! it in `properties.serializedData`) into the [`Workbook`] model, and writes the model back out
//! as `Notebook/1.0` JSON.
//!
//! Every query and markdown string keeps a [`SourceMap`] to byte offsets of the file, and every
//! diagnostic points at the offending JSON value. For that the JSON text is scanned a second time
//! by a small span scanner ([`scan_json`]) after `serde_json` has validated it.
//!
//! **ARM templates.** The workbook JSON sits, encoded as a string, in
//! `resources[i].properties.serializedData` of the `microsoft.insights/workbooks` resource. The
//! [`SourceFile`] text stays the ARM file, and every span and map points into the ARM file: the
//! inner JSON's offsets are mapped through the map of the `serializedData` string (escapes of
//! both levels are accounted for).
//!
//! Diagnostic codes:
//!
//! | code     | meaning                                                                       |
//! |----------|-------------------------------------------------------------------------------|
//! | `WB0101` | invalid JSON (also invalid JSON inside an ARM template's `serializedData`)   |
//! | `WB0102` | not a workbook: no `items` array, or an ARM template without a workbook      |
//! | `WB0103` | `version` is not `Notebook/1.0`                                              |
//! | `WB0104` | an item that is not an object or has no integer `type`                        |
//! | `WB0105` | a parameter that is not an object or has no `name`                           |
//! | `WB0106` | `jsonData` that is not valid JSON, or not an array of strings / objects       |
//! | `WB0107` | two items with the same `name`                                                |
//! | `WB0108` | two parameters with the same name in one scope (sibling parameters steps)    |
//! | `WB0109` | a field of the wrong shape (`query` not a string, a bad time value, ...)      |
//!
//! Azure has no workbook description: [`to_azure`] drops [`Workbook::description`]. Steps in
//! SQL (native files only) are written with a non-Azure `"auditbookLanguage": "sql"` field so
//! that they read back as SQL.

use std::collections::HashMap;
use std::path::Path;

use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use super::model::*;
use crate::diagnostic::{Diagnostic, Span};

/// `$schema` of the files Microsoft publishes.
pub const SCHEMA_URL: &str =
    "https://github.com/Microsoft/Application-Insights-Workbooks/blob/master/schema/workbook.json";

const LOGS_RESOURCE: &str = "microsoft.operationalinsights/workspaces";

/// Loads an Azure workbook (`Notebook/1.0` JSON or an ARM template holding one).
///
/// `path` is kept in [`SourceFile::path`] and gives the title when the workbook has no heading.
/// All problems found are returned together.
pub fn from_azure(text: &str, path: &Path) -> Result<Workbook, Vec<Diagnostic>> {
    let source = SourceFile {
        path: path.to_path_buf(),
        text: text.to_string(),
        format: FileFormat::Azure,
    };
    // A byte-order mark becomes three spaces: JSON parses, offsets stay those of the file.
    let unmarked;
    let text = match text.strip_prefix('\u{feff}') {
        Some(rest) => {
            unmarked = format!("   {rest}");
            unmarked.as_str()
        }
        None => text,
    };
    let top: Value = serde_json::from_str(text).map_err(|e| vec![json_error(text, &e, None)])?;
    let top_nodes = scan_json(text);
    let top_cur = Cur {
        v: &top,
        n: top_nodes.as_ref(),
    };

    // ARM template form: decode `serializedData`, keep its map to file offsets.
    let arm = top.get("items").is_none() && top.get("resources").is_some();
    let mut arm_name = None;
    let inner_text: String;
    let outer_map: Option<SourceMap>;
    if arm {
        let Some((data, display)) = arm_workbook(top_cur) else {
            return Err(vec![
                Diagnostic::error(
                    "WB0102",
                    "ARM template without a `microsoft.insights/workbooks` resource",
                    top_cur.span(),
                )
                .with_hint(
                    "the workbook JSON is expected as a string in `resources[].properties.serializedData`",
                ),
            ]);
        };
        arm_name = display;
        let (decoded, map) = match data.n.and_then(|n| decode_json_string(text, n.span.start)) {
            Some((d, m, _)) => (d, Some(m)),
            None => (data.v.as_str().unwrap_or_default().to_string(), None),
        };
        inner_text = decoded;
        outer_map = map;
    } else {
        inner_text = String::new();
        outer_map = None;
    }

    let (doc_text, doc_value, doc_nodes);
    if arm {
        doc_text = inner_text.as_str();
        doc_value = match serde_json::from_str::<Value>(doc_text) {
            Ok(v) => v,
            Err(e) => {
                let mut d = json_error(doc_text, &e, outer_map.as_ref());
                d.message = format!("invalid workbook JSON in `serializedData`: {e}");
                if doc_text.trim_start().starts_with('[') {
                    d = d.with_hint(
                        "`serializedData` is an ARM expression; deploy the template or export \
                         the workbook's Gallery Template JSON instead",
                    );
                }
                return Err(vec![d]);
            }
        };
        doc_nodes = scan_json(doc_text);
    } else {
        doc_text = text;
        doc_value = top.clone();
        doc_nodes = top_nodes.clone();
    }

    let mut ctx = Ctx {
        text: doc_text,
        outer: outer_map.as_ref(),
        diags: Vec::new(),
        counter: 0,
        names: HashMap::new(),
    };
    let root = Cur {
        v: &doc_value,
        n: doc_nodes.as_ref(),
    };
    if !root.v.is_object() {
        ctx.err("WB0102", "a workbook is a JSON object", root.span());
        return Err(ctx.diags);
    }
    match root.get("version") {
        Some(v) if v.v.as_str() == Some("Notebook/1.0") => {}
        Some(v) => {
            let sp = v.span();
            ctx.err(
                "WB0103",
                format!("unsupported workbook version {}", v.v),
                sp,
            );
            if let Some(d) = ctx.diags.last_mut() {
                d.hints
                    .push("auditbook reads `\"version\": \"Notebook/1.0\"` workbooks".into());
            }
        }
        None => {
            let sp = root.key_span_or_self();
            ctx.err(
                "WB0103",
                "workbook has no `version` (expected `Notebook/1.0`)",
                sp,
            );
        }
    }
    let items = match root.get("items") {
        Some(items) if items.v.is_array() => ctx.items(items),
        Some(items) => {
            ctx.err("WB0102", "`items` must be an array", items.span());
            Vec::new()
        }
        None => {
            ctx.err(
                "WB0102",
                "workbook has no `items` array",
                root.key_span_or_self(),
            );
            Vec::new()
        }
    };
    if !ctx.diags.is_empty() {
        return Err(ctx.diags);
    }
    let title = derive_title(&items)
        .or(arm_name)
        .unwrap_or_else(|| file_stem(path));
    Ok(Workbook {
        title,
        description: None,
        items,
        source,
    })
}

/// The file stem of `path` (the title of a workbook without a heading).
pub(crate) fn file_stem(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// The first markdown heading (`#`..`######`) of `markdown`, its text without the `#`s.
pub(crate) fn first_heading(markdown: &str) -> Option<String> {
    for line in markdown.lines() {
        let l = line.trim_start_matches(' ');
        let hashes = l.len() - l.trim_start_matches('#').len();
        if !(1..=6).contains(&hashes) {
            continue;
        }
        let rest = &l[hashes..];
        if !(rest.is_empty() || rest.starts_with(' ') || rest.starts_with('\t')) {
            continue;
        }
        let t = rest.trim().trim_end_matches('#').trim();
        if !t.is_empty() {
            return Some(t.to_string());
        }
    }
    None
}

/// The title an Azure workbook shows: the first heading of the first top-level text item.
pub(crate) fn derive_title(items: &[Item]) -> Option<String> {
    items.iter().find_map(|i| match &i.kind {
        ItemKind::Text(t) => Some(first_heading(&t.text)),
        _ => None,
    })?
}

/// The name a step without `name` gets: `<kind> - <n>`, `n` its 0-based position among all
/// items of the workbook in document order (depth first).
pub(crate) fn default_item_name(kind: &str, n: usize) -> String {
    format!("{kind} - {n}")
}

/// The word of an item kind used in default names (`query - 3`).
pub(crate) fn kind_word(kind: &ItemKind) -> &'static str {
    match kind {
        ItemKind::Text(_) => "text",
        ItemKind::Query(_) => "query",
        ItemKind::Parameters(_) => "parameters",
        ItemKind::Group(_) => "group",
        ItemKind::Links(_) => "links",
        ItemKind::Unsupported(_) => "item",
    }
}

/// The `microsoft.insights/workbooks` resource's `serializedData` string and `displayName`.
fn arm_workbook(top: Cur<'_>) -> Option<(Cur<'_>, Option<String>)> {
    let resources = top.get("resources")?;
    let n = resources.v.as_array()?.len();
    (0..n).find_map(|i| {
        let r = resources.idx(i)?;
        let ty = r.v.get("type")?.as_str()?;
        if !ty.eq_ignore_ascii_case("microsoft.insights/workbooks") {
            return None;
        }
        let props = r.get("properties")?;
        let data = props.get("serializedData")?;
        data.v.as_str()?;
        let display = props
            .v
            .get("displayName")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty() && !s.starts_with('['))
            .map(str::to_string);
        Some((data, display))
    })
}

/// A `serde_json` syntax error as a diagnostic at its line/column.
fn json_error(text: &str, e: &serde_json::Error, outer: Option<&SourceMap>) -> Diagnostic {
    let at = offset_of_line_col(text, e.line(), e.column().saturating_sub(1));
    let end = next_char_end(text, at);
    let (s, t) = match outer {
        Some(m) => (m.to_file(at), m.to_file(end)),
        None => (at, end),
    };
    Diagnostic::error("WB0101", format!("invalid JSON: {e}"), Span::new(s, t))
}

/// Byte offset of 1-based `line` and 0-based `col` (counted in characters) in `text`.
pub(crate) fn offset_of_line_col(text: &str, line: usize, col: usize) -> usize {
    let mut start = 0;
    if line > 1 {
        let mut seen = 1;
        for (i, b) in text.bytes().enumerate() {
            if b == b'\n' {
                seen += 1;
                if seen == line {
                    start = i + 1;
                    break;
                }
            }
        }
        if seen < line {
            return text.len();
        }
    }
    let rest = &text[start..];
    let line_end = rest.find('\n').unwrap_or(rest.len());
    start
        + rest[..line_end]
            .char_indices()
            .nth(col)
            .map_or(line_end, |(i, _)| i)
}

fn next_char_end(text: &str, at: usize) -> usize {
    text.get(at..)
        .and_then(|r| r.chars().next())
        .map_or(at, |c| at + c.len_utf8())
}

// ---------------------------------------------------------------------------------------------
// Loading items

/// A JSON value and, when the scanner found it, its span node.
#[derive(Clone, Copy)]
struct Cur<'a> {
    v: &'a Value,
    n: Option<&'a JNode>,
}

impl<'a> Cur<'a> {
    fn get(&self, key: &str) -> Option<Cur<'a>> {
        let v = self.v.get(key)?;
        let n = match self.n.map(|n| &n.kind) {
            Some(JKind::Object(fields)) => {
                fields.iter().rev().find(|(k, _)| k == key).map(|f| &f.1)
            }
            _ => None,
        };
        Some(Cur { v, n })
    }

    fn idx(&self, i: usize) -> Option<Cur<'a>> {
        let v = self.v.get(i)?;
        let n = match self.n.map(|n| &n.kind) {
            Some(JKind::Array(items)) => items.get(i),
            _ => None,
        };
        Some(Cur { v, n })
    }

    fn len(&self) -> usize {
        self.v.as_array().map_or(0, Vec::len)
    }

    /// The span of this value in the scanned text (empty at 0 when unknown).
    fn span(&self) -> Span {
        self.n.map_or(Span::new(0, 0), |n| n.span)
    }

    /// For an object: the span of its opening brace (missing keys are reported there).
    fn key_span_or_self(&self) -> Span {
        let s = self.span();
        if s.is_empty() {
            s
        } else {
            Span::new(s.start, s.start + 1)
        }
    }

    fn str(&self) -> Option<&'a str> {
        self.v.as_str()
    }
}

struct Ctx<'a> {
    /// The JSON text being read (the file, or the decoded `serializedData`).
    text: &'a str,
    /// Inner-JSON offset → file offset (ARM form).
    outer: Option<&'a SourceMap>,
    diags: Vec<Diagnostic>,
    /// Items seen so far (default names are numbered by it).
    counter: usize,
    /// Item names seen → span of the first.
    names: HashMap<String, Span>,
}

impl Ctx<'_> {
    fn file_span(&self, s: Span) -> Span {
        match self.outer {
            Some(m) => Span::new(m.to_file(s.start), m.to_file(s.end)),
            None => s,
        }
    }

    fn err(&mut self, code: &'static str, msg: impl Into<String>, span: Span) {
        let span = self.file_span(span);
        self.diags.push(Diagnostic::error(code, msg, span));
    }

    /// The SourceText of a JSON string value, mapped to the file.
    fn source_text(&self, c: Cur<'_>) -> SourceText {
        let text = c.str().unwrap_or_default().to_string();
        let map =
            c.n.and_then(|n| decode_json_string(self.text, n.span.start))
                .filter(|(d, _, _)| *d == text)
                .map(|(_, m, _)| match self.outer {
                    Some(o) => compose_maps(&m, text.len(), o),
                    None => m,
                });
        SourceText { text, map }
    }

    /// An optional string field; a non-string is reported.
    fn opt_str(&mut self, c: Cur<'_>, key: &str) -> Option<String> {
        let f = c.get(key)?;
        match f.v {
            Value::Null => None,
            Value::String(s) => Some(s.clone()),
            Value::Number(_) | Value::Bool(_) => Some(f.v.to_string()),
            _ => {
                self.err("WB0109", format!("`{key}` must be a string"), f.span());
                None
            }
        }
    }

    fn opt_bool(&mut self, c: Cur<'_>, key: &str) -> bool {
        match c.get(key) {
            None => false,
            Some(f) => match f.v {
                Value::Bool(b) => *b,
                Value::Null => false,
                Value::String(s) if s == "true" || s == "false" => s == "true",
                _ => {
                    self.err("WB0109", format!("`{key}` must be true or false"), f.span());
                    false
                }
            },
        }
    }

    fn items(&mut self, arr: Cur<'_>) -> Vec<Item> {
        let mut out = Vec::new();
        // Parameter names declared by sibling parameters steps: one scope.
        let mut scope: HashMap<String, Span> = HashMap::new();
        for i in 0..arr.len() {
            let Some(c) = arr.idx(i) else { continue };
            if let Some(item) = self.item(c, &mut scope) {
                out.push(item);
            }
        }
        out
    }

    fn item(&mut self, c: Cur<'_>, scope: &mut HashMap<String, Span>) -> Option<Item> {
        let n = self.counter;
        self.counter += 1;
        if !c.v.is_object() {
            self.err("WB0104", "an item must be a JSON object", c.span());
            return None;
        }
        let ty = match c.get("type") {
            Some(t) => match t.v.as_i64() {
                Some(n) => n,
                None => {
                    self.err(
                        "WB0104",
                        format!("item `type` must be an integer, not {}", t.v),
                        t.span(),
                    );
                    return None;
                }
            },
            None => {
                self.err("WB0104", "item has no `type`", c.key_span_or_self());
                return None;
            }
        };
        let content = c.get("content");
        let kind = match (ty, content) {
            (1, Some(content)) => match content.get("json") {
                Some(j) if j.v.is_string() => ItemKind::Text(self.source_text(j)),
                Some(j) if j.v.is_null() => ItemKind::Text(SourceText::default()),
                None => ItemKind::Text(SourceText::default()),
                Some(j) => {
                    self.err(
                        "WB0109",
                        "`content.json` of a text item must be a string",
                        j.span(),
                    );
                    return None;
                }
            },
            (3, Some(content)) => self.query_item(c, content, ty)?,
            (9, Some(content)) => {
                let mut params = Vec::new();
                if let Some(ps) = content.get("parameters") {
                    if !ps.v.is_array() {
                        self.err("WB0109", "`parameters` must be an array", ps.span());
                    }
                    for i in 0..ps.len() {
                        let Some(p) = ps.idx(i) else { continue };
                        if let Some(p) = self.parameter(p, scope) {
                            params.push(p);
                        }
                    }
                }
                ItemKind::Parameters(params)
            }
            (12, Some(content)) => {
                let title = self.opt_str(content, "title");
                let export_parameters = self.opt_bool(content, "exportParameters")
                    || self.opt_bool(c, "exportParameters");
                let items = match content.get("items") {
                    Some(items) if items.v.is_array() => self.items(items),
                    Some(items) => {
                        self.err(
                            "WB0109",
                            "`items` of a group must be an array",
                            items.span(),
                        );
                        Vec::new()
                    }
                    None => Vec::new(),
                };
                ItemKind::Group(Group {
                    title,
                    items,
                    export_parameters,
                })
            }
            (11, Some(content)) => {
                let mut links = Vec::new();
                if let Some(ls) = content.get("links") {
                    for i in 0..ls.len() {
                        let Some(l) = ls.idx(i) else { continue };
                        if !l.v.is_object() {
                            self.err("WB0109", "a link must be an object", l.span());
                            continue;
                        }
                        let label = self.opt_str(l, "linkLabel").unwrap_or_default();
                        let target = self.opt_str(l, "linkTarget").unwrap_or_default();
                        let url = self.opt_str(l, "url").or_else(|| {
                            if target == "Url" {
                                l.v.get("cellValue")
                                    .and_then(Value::as_str)
                                    .filter(|s| !s.is_empty())
                                    .map(str::to_string)
                            } else {
                                None
                            }
                        });
                        links.push(Link { label, target, url });
                    }
                }
                ItemKind::Links(links)
            }
            (1 | 3 | 9 | 11 | 12, None) => {
                self.err(
                    "WB0109",
                    format!("item of type {ty} has no `content`"),
                    c.key_span_or_self(),
                );
                return None;
            }
            _ => ItemKind::Unsupported(Unsupported {
                type_code: ty,
                what: item_type_name(ty),
                raw: c.v.clone(),
            }),
        };
        let visible_if = self.conditions(c);
        let name = match c.get("name") {
            Some(nm) if nm.v.is_string() => {
                let s = nm.str().unwrap_or_default().to_string();
                self.check_name(&s, nm.span());
                s
            }
            _ => {
                let s = default_item_name(kind_word(&kind), n);
                self.check_name(&s, c.key_span_or_self());
                s
            }
        };
        Some(Item {
            name,
            visible_if,
            kind,
        })
    }

    fn check_name(&mut self, name: &str, span: Span) {
        let fspan = self.file_span(span);
        if let Some(first) = self.names.get(name) {
            let d = Diagnostic::error("WB0107", format!("duplicate item name `{name}`"), fspan)
                .with_label(*first, "first used here")
                .with_hint("item names must be unique in a workbook");
            self.diags.push(d);
        } else {
            self.names.insert(name.to_string(), fspan);
        }
    }

    fn conditions(&mut self, c: Cur<'_>) -> Vec<Condition> {
        let mut out = Vec::new();
        if let Some(one) = c.get("conditionalVisibility")
            && !one.v.is_null()
            && let Some(cond) = self.condition(one)
        {
            out.push(cond);
        }
        if let Some(many) = c.get("conditionalVisibilities") {
            for i in 0..many.len() {
                if let Some(cond) = many.idx(i).and_then(|x| self.condition(x)) {
                    out.push(cond);
                }
            }
        }
        out
    }

    fn condition(&mut self, c: Cur<'_>) -> Option<Condition> {
        if !c.v.is_object() {
            self.err(
                "WB0109",
                "a visibility condition must be an object",
                c.span(),
            );
            return None;
        }
        let Some(parameter) = self.opt_str(c, "parameterName") else {
            self.err(
                "WB0109",
                "visibility condition without `parameterName`",
                c.key_span_or_self(),
            );
            return None;
        };
        let comparison = match c.get("comparison") {
            None => Comparison::IsEqualTo,
            Some(x) => match x.str() {
                Some("isEqualTo") => Comparison::IsEqualTo,
                Some("isNotEqualTo") => Comparison::IsNotEqualTo,
                _ => {
                    self.err(
                        "WB0109",
                        format!("unsupported visibility comparison {}", x.v),
                        x.span(),
                    );
                    if let Some(d) = self.diags.last_mut() {
                        d.hints
                            .push("supported comparisons: `isEqualTo`, `isNotEqualTo`".into());
                    }
                    return None;
                }
            },
        };
        let value = self.opt_str(c, "value").unwrap_or_default();
        Some(Condition {
            parameter,
            comparison,
            value,
        })
    }

    fn query_item(&mut self, item: Cur<'_>, content: Cur<'_>, ty: i64) -> Option<ItemKind> {
        // Another query provider: not run, kept as it is.
        let query_type = content
            .v
            .get("queryType")
            .and_then(Value::as_i64)
            .unwrap_or(0);
        let version = content
            .v
            .get("version")
            .and_then(Value::as_str)
            .unwrap_or("KqlItem/1.0");
        let resource = content
            .v
            .get("resourceType")
            .and_then(Value::as_str)
            .unwrap_or("");
        let unsupported = if !version.starts_with("KqlItem/") {
            Some(format!("query item of version `{version}` (type 3)"))
        } else if query_type != 0 {
            Some(format!(
                "{} (type 3, queryType {query_type})",
                provider_name(query_type)
            ))
        } else if resource.eq_ignore_ascii_case("microsoft.resourcegraph/resources") {
            Some("Azure Resource Graph query (type 3)".to_string())
        } else {
            None
        };
        if let Some(what) = unsupported {
            return Some(ItemKind::Unsupported(Unsupported {
                type_code: ty,
                what,
                raw: item.v.clone(),
            }));
        }
        let query = match content.get("query") {
            Some(q) if q.v.is_string() => self.source_text(q),
            Some(q) if q.v.is_null() => SourceText::default(),
            None => SourceText::default(),
            Some(q) => {
                self.err("WB0109", "`query` must be a string", q.span());
                return None;
            }
        };
        let lang = match content.v.get("auditbookLanguage").and_then(Value::as_str) {
            Some("sql") => Lang::Sql,
            _ => Lang::Kql,
        };
        let title = self.opt_str(content, "title");
        let no_data_message = self.opt_str(content, "noDataMessage");
        let visualization = self.opt_str(content, "visualization");
        let from_param = self.opt_str(content, "timeContextFromParameter");
        let duration = match content.get("timeContext") {
            Some(tc) => match tc.v.get("durationMs") {
                Some(d) => match d.as_i64() {
                    Some(ms) => ms,
                    None => {
                        let sp = tc.get("durationMs").map_or(tc.span(), |x| x.span());
                        self.err("WB0109", "`durationMs` must be an integer", sp);
                        0
                    }
                },
                None => 0,
            },
            None => 0,
        };
        let time_context = match (from_param, duration) {
            (Some(p), _) if !p.is_empty() => TimeContext::Parameter(p),
            (_, ms) if ms > 0 => TimeContext::Duration(ms),
            _ => TimeContext::None,
        };
        let mut labels = Vec::new();
        let mut row_limit = None;
        if let Some(grid) = content.get("gridSettings") {
            if let Some(ls) = grid.get("labelSettings") {
                for i in 0..ls.len() {
                    let Some(l) = ls.idx(i) else { continue };
                    let (Some(id), Some(label)) = (
                        l.v.get("columnId").and_then(Value::as_str),
                        l.v.get("label").and_then(Value::as_str),
                    ) else {
                        continue; // Azure writes entries without a label: no header change.
                    };
                    labels.push((id.to_string(), label.to_string()));
                }
            }
            if let Some(rl) = grid.get("rowLimit") {
                match rl.v.as_u64() {
                    Some(n) => row_limit = Some(n as usize),
                    None if rl.v.is_null() => {}
                    None => self.err("WB0109", "`rowLimit` must be a positive integer", rl.span()),
                }
            }
        }
        Some(ItemKind::Query(QueryItem {
            query,
            lang,
            title,
            no_data_message,
            time_context,
            visualization,
            labels,
            row_limit,
        }))
    }

    fn parameter(&mut self, p: Cur<'_>, scope: &mut HashMap<String, Span>) -> Option<Parameter> {
        if !p.v.is_object() {
            self.err("WB0105", "a parameter must be a JSON object", p.span());
            return None;
        }
        let name = match p.get("name") {
            Some(n) if n.str().is_some_and(|s| !s.is_empty()) => {
                let s = n.str().unwrap_or_default().to_string();
                let sp = self.file_span(n.span());
                if let Some(first) = scope.get(&s) {
                    self.diags.push(
                        Diagnostic::error(
                            "WB0108",
                            format!("parameter `{s}` is declared twice"),
                            sp,
                        )
                        .with_label(*first, "first declared here"),
                    );
                } else {
                    scope.insert(s.clone(), sp);
                }
                s
            }
            Some(n) => {
                self.err(
                    "WB0105",
                    "parameter `name` must be a non-empty string",
                    n.span(),
                );
                return None;
            }
            None => {
                self.err("WB0105", "parameter has no `name`", p.key_span_or_self());
                return None;
            }
        };
        let kind = match p.get("type") {
            Some(t) => match t.v.as_i64() {
                Some(1) => ParamKind::Text,
                Some(2) => ParamKind::DropDown,
                Some(4) => ParamKind::TimeRange,
                Some(10) => ParamKind::Options,
                Some(n) => ParamKind::Other(n),
                None => {
                    self.err("WB0109", "parameter `type` must be an integer", t.span());
                    return None;
                }
            },
            None => ParamKind::Text,
        };
        let mut param = Parameter {
            name,
            label: self.opt_str(p, "label"),
            description: self.opt_str(p, "description"),
            kind,
            required: self.opt_bool(p, "isRequired"),
            multi: self.opt_bool(p, "multiSelect"),
            quote: self.opt_str(p, "quote"),
            delimiter: self.opt_str(p, "delimiter"),
            hidden: self.opt_bool(p, "isHiddenWhenLocked"),
            ..Parameter::default()
        };
        param.default = p.get("defaultValue").and_then(|v| self.param_value(v));
        param.value = p.get("value").and_then(|v| self.param_value(v));
        if let Some(ts) = p.get("typeSettings") {
            if let Some(opts) =
                ts.v.get("additionalResourceOptions")
                    .and_then(Value::as_array)
            {
                param.include_all = opts.iter().any(|o| o.as_str() == Some("value::all"));
            }
            param.select_all_value = self.opt_str(ts, "selectAllValue");
            let sel = ts.get("selectableValues");
            let custom = ts.v.get("allowCustom");
            if sel.is_some() || custom.is_some() {
                let mut durations = Vec::new();
                if let Some(sel) = sel {
                    for i in 0..sel.len() {
                        let Some(s) = sel.idx(i) else { continue };
                        match s.v.get("durationMs").and_then(Value::as_i64) {
                            Some(ms) => durations.push(ms),
                            None => self.err(
                                "WB0109",
                                "a selectable time range needs an integer `durationMs`",
                                s.span(),
                            ),
                        }
                    }
                }
                param.time = Some(TimeSettings {
                    durations,
                    allow_custom: custom.and_then(Value::as_bool).unwrap_or(false),
                });
            }
        }
        if let Some(jd) = p.get("jsonData").filter(|j| !j.v.is_null()) {
            param.choices = self.json_data(jd);
        } else if let Some(q) = p.get("query") {
            match q.v {
                Value::String(s) if !s.trim().is_empty() => {
                    let lang = match p.v.get("auditbookLanguage").and_then(Value::as_str) {
                        Some("sql") => Lang::Sql,
                        _ => Lang::Kql,
                    };
                    param.choices = Choices::Query {
                        query: self.source_text(q),
                        lang,
                    };
                }
                Value::String(_) | Value::Null => {}
                _ => self.err("WB0109", "parameter `query` must be a string", q.span()),
            }
        }
        Some(param)
    }

    fn param_value(&mut self, c: Cur<'_>) -> Option<ParamValue> {
        match c.v {
            Value::Null => None,
            Value::String(s) => Some(ParamValue::One(s.clone())),
            Value::Number(_) | Value::Bool(_) => Some(ParamValue::One(c.v.to_string())),
            Value::Array(a) => {
                let mut out = Vec::new();
                for (i, x) in a.iter().enumerate() {
                    match x {
                        Value::String(s) => out.push(s.clone()),
                        Value::Number(_) | Value::Bool(_) => out.push(x.to_string()),
                        _ => {
                            let sp = c.idx(i).map_or(c.span(), |e| e.span());
                            self.err("WB0109", "a parameter value list holds strings", sp);
                        }
                    }
                }
                Some(ParamValue::Many(out))
            }
            Value::Object(o) => {
                let ts = |k: &str| o.get(k).and_then(Value::as_str).filter(|s| !s.is_empty());
                if let (Some(s), Some(e)) = (ts("startTime"), ts("endTime")) {
                    match (
                        crate::time::parse_timestamp(s),
                        crate::time::parse_timestamp(e),
                    ) {
                        (Ok(start), Ok(end)) => {
                            return Some(ParamValue::Time(TimeValue::Range { start, end }));
                        }
                        _ => {
                            self.err(
                                "WB0109",
                                "invalid `startTime`/`endTime` of a time range",
                                c.span(),
                            );
                            return None;
                        }
                    }
                }
                match o.get("durationMs").and_then(Value::as_i64) {
                    Some(ms) => Some(ParamValue::Time(TimeValue::Duration { ms })),
                    None => {
                        self.err(
                            "WB0109",
                            "a time value needs `durationMs` or `startTime` and `endTime`",
                            c.span(),
                        );
                        None
                    }
                }
            }
        }
    }

    /// `jsonData`: a string holding a JSON array (or the array itself).
    fn json_data(&mut self, jd: Cur<'_>) -> Choices {
        let parsed: Value;
        let arr = match jd.v {
            Value::String(s) => match serde_json::from_str::<Value>(s) {
                Ok(v) => {
                    parsed = v;
                    &parsed
                }
                Err(e) => {
                    // Point inside the string: decoded offset → file offset.
                    let st = self.source_text(jd);
                    let at = offset_of_line_col(s, e.line(), e.column().saturating_sub(1));
                    let span = match &st.map {
                        Some(m) => {
                            let a = m.to_file(at);
                            Span::new(a, a + 1)
                        }
                        None => self.file_span(jd.span()),
                    };
                    self.diags.push(Diagnostic::error(
                        "WB0106",
                        format!("`jsonData` is not valid JSON: {e}"),
                        span,
                    ));
                    return Choices::None;
                }
            },
            v => v,
        };
        let Some(items) = arr.as_array() else {
            self.err("WB0106", "`jsonData` must be a JSON array", jd.span());
            return Choices::None;
        };
        let mut out = Vec::new();
        for x in items {
            let scalar = |v: &Value| match v {
                Value::String(s) => Some(s.clone()),
                Value::Number(_) | Value::Bool(_) => Some(v.to_string()),
                _ => None,
            };
            match x {
                Value::Object(o) => {
                    let Some(value) = o.get("value").and_then(scalar) else {
                        self.err("WB0106", "a `jsonData` entry has no `value`", jd.span());
                        continue;
                    };
                    out.push(Choice {
                        value,
                        label: o.get("label").and_then(scalar),
                        selected: o.get("selected").and_then(Value::as_bool).unwrap_or(false),
                        group: o.get("group").and_then(scalar),
                    });
                }
                other => match scalar(other) {
                    Some(value) => out.push(Choice {
                        value,
                        ..Choice::default()
                    }),
                    None => self.err(
                        "WB0106",
                        "`jsonData` entries are strings or objects",
                        jd.span(),
                    ),
                },
            }
        }
        Choices::Static(out)
    }
}

/// Reads one Azure item given as JSON data (a native file's `azure:` step), numbered `n` for
/// its default name. Maps of its texts are cleared: they would point into re-serialised JSON.
pub(crate) fn item_from_raw(raw: &Value, n: usize) -> Result<Item, Vec<String>> {
    let text = serde_json::to_string(raw).map_err(|e| vec![e.to_string()])?;
    let nodes = scan_json(&text);
    let mut ctx = Ctx {
        text: &text,
        outer: None,
        diags: Vec::new(),
        counter: n,
        names: HashMap::new(),
    };
    let mut scope = HashMap::new();
    let item = ctx.item(
        Cur {
            v: raw,
            n: nodes.as_ref(),
        },
        &mut scope,
    );
    match item {
        Some(mut item) if ctx.diags.is_empty() => {
            clear_maps(std::slice::from_mut(&mut item));
            Ok(item)
        }
        _ => Err(ctx.diags.into_iter().map(|d| d.message).collect()),
    }
}

/// Drops the source maps of every text in `items` (recursively).
pub(crate) fn clear_maps(items: &mut [Item]) {
    for i in items {
        match &mut i.kind {
            ItemKind::Text(t) => t.map = None,
            ItemKind::Query(q) => q.query.map = None,
            ItemKind::Parameters(ps) => {
                for p in ps {
                    if let Choices::Query { query, .. } = &mut p.choices {
                        query.map = None;
                    }
                }
            }
            ItemKind::Group(g) => clear_maps(&mut g.items),
            _ => {}
        }
    }
}

/// Words for an Azure item type code that auditbook does not run.
fn item_type_name(ty: i64) -> String {
    match ty {
        10 => "metrics (type 10)".to_string(),
        n => format!("item type {n}"),
    }
}

/// Words for a query item's `queryType` (0, Log Analytics KQL, is the only one run offline).
fn provider_name(query_type: i64) -> &'static str {
    match query_type {
        1 => "Azure Resource Graph query",
        _ => "query of another data source than Log Analytics",
    }
}

// ---------------------------------------------------------------------------------------------
// Writing

/// Writes `wb` as an Azure `Notebook/1.0` document.
///
/// A title that the items do not already carry as the first text item's heading becomes a
/// leading `## Title` text item, so that the title survives (a workbook read from Azure
/// already carries its title that way, unless it had none and took the file stem). Unsupported items are written back as they were read.
pub fn to_azure(wb: &Workbook) -> Value {
    let mut items: Vec<Value> = Vec::new();
    if derive_title(&wb.items).as_deref() != Some(wb.title.trim()) && !wb.title.trim().is_empty() {
        let mut names = Vec::new();
        collect_names(&wb.items, &mut names);
        let mut name = "title".to_string();
        let mut k = 1;
        while names.contains(&name) {
            name = format!("title - {k}");
            k += 1;
        }
        items.push(json!({
            "type": 1,
            "content": {"json": format!("## {}", wb.title.trim())},
            "name": name,
        }));
    }
    items.extend(wb.items.iter().map(item_json));
    json!({
        "version": "Notebook/1.0",
        "items": items,
        "styleSettings": {},
        "$schema": SCHEMA_URL,
    })
}

fn collect_names(items: &[Item], out: &mut Vec<String>) {
    for i in items {
        out.push(i.name.clone());
        if let ItemKind::Group(g) = &i.kind {
            collect_names(&g.items, out);
        }
    }
}

fn item_json(item: &Item) -> Value {
    let (ty, content) = match &item.kind {
        ItemKind::Unsupported(u) => return u.raw.clone(),
        ItemKind::Text(t) => (1, json!({"json": t.text})),
        ItemKind::Query(q) => (3, query_json(q)),
        ItemKind::Parameters(ps) => {
            let params: Vec<Value> = ps.iter().map(|p| param_json(&item.name, p)).collect();
            (
                9,
                json!({
                    "version": "KqlParameterItem/1.0",
                    "parameters": params,
                    "style": "pills",
                    "queryType": 0,
                    "resourceType": LOGS_RESOURCE,
                }),
            )
        }
        ItemKind::Group(g) => {
            let mut c = Map::new();
            c.insert("version".into(), json!("NotebookGroup/1.0"));
            c.insert("groupType".into(), json!("editable"));
            if let Some(t) = &g.title {
                c.insert("title".into(), json!(t));
            }
            if g.export_parameters {
                c.insert("exportParameters".into(), json!(true));
            }
            c.insert(
                "items".into(),
                Value::Array(g.items.iter().map(item_json).collect()),
            );
            (12, Value::Object(c))
        }
        ItemKind::Links(ls) => {
            let links: Vec<Value> = ls
                .iter()
                .map(|l| {
                    let mut m = Map::new();
                    if !l.target.is_empty() {
                        m.insert("linkTarget".into(), json!(l.target));
                    }
                    m.insert("linkLabel".into(), json!(l.label));
                    if let Some(u) = &l.url {
                        m.insert("url".into(), json!(u));
                    }
                    Value::Object(m)
                })
                .collect();
            (
                11,
                json!({"version": "LinkItem/1.0", "style": "list", "links": links}),
            )
        }
    };
    let mut m = Map::new();
    m.insert("type".into(), json!(ty));
    m.insert("content".into(), content);
    m.insert("name".into(), json!(item.name));
    let conds: Vec<Value> = item
        .visible_if
        .iter()
        .map(|c| {
            json!({
                "parameterName": c.parameter,
                "comparison": match c.comparison {
                    Comparison::IsEqualTo => "isEqualTo",
                    Comparison::IsNotEqualTo => "isNotEqualTo",
                },
                "value": c.value,
            })
        })
        .collect();
    match conds.len() {
        0 => {}
        1 => {
            m.insert("conditionalVisibility".into(), conds[0].clone());
        }
        _ => {
            m.insert("conditionalVisibilities".into(), Value::Array(conds));
        }
    }
    Value::Object(m)
}

fn query_json(q: &QueryItem) -> Value {
    let mut c = Map::new();
    c.insert("version".into(), json!("KqlItem/1.0"));
    c.insert("query".into(), json!(q.query.text));
    c.insert("size".into(), json!(0));
    if let Some(t) = &q.title {
        c.insert("title".into(), json!(t));
    }
    if let Some(t) = &q.no_data_message {
        c.insert("noDataMessage".into(), json!(t));
    }
    match &q.time_context {
        TimeContext::None => {}
        TimeContext::Parameter(p) => {
            c.insert("timeContext".into(), json!({"durationMs": 0}));
            c.insert("timeContextFromParameter".into(), json!(p));
        }
        TimeContext::Duration(ms) => {
            c.insert("timeContext".into(), json!({"durationMs": ms}));
        }
    }
    if q.lang == Lang::Sql {
        c.insert("auditbookLanguage".into(), json!("sql"));
    }
    c.insert("queryType".into(), json!(0));
    c.insert("resourceType".into(), json!(LOGS_RESOURCE));
    if let Some(v) = &q.visualization {
        c.insert("visualization".into(), json!(v));
    }
    if q.row_limit.is_some() || !q.labels.is_empty() {
        let mut g = Map::new();
        if let Some(n) = q.row_limit {
            g.insert("rowLimit".into(), json!(n));
        }
        if !q.labels.is_empty() {
            let ls: Vec<Value> = q
                .labels
                .iter()
                .map(|(id, l)| json!({"columnId": id, "label": l}))
                .collect();
            g.insert("labelSettings".into(), Value::Array(ls));
        }
        c.insert("gridSettings".into(), Value::Object(g));
    }
    Value::Object(c)
}

/// A stable id for a parameter (Azure wants one; it is derived, not random).
fn param_id(item: &str, name: &str) -> String {
    let h = Sha256::digest(format!("{item}/{name}").as_bytes());
    let x: String = h.iter().take(16).map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &x[0..8],
        &x[8..12],
        &x[12..16],
        &x[16..20],
        &x[20..32]
    )
}

fn value_json(v: &ParamValue) -> Value {
    match v {
        ParamValue::One(s) => json!(s),
        ParamValue::Many(v) => json!(v),
        ParamValue::Time(TimeValue::Duration { ms }) => json!({"durationMs": ms}),
        ParamValue::Time(TimeValue::Range { start, end }) => json!({
            "durationMs": (end - start) / 1_000_000,
            "startTime": format_time(*start),
            "endTime": format_time(*end),
        }),
    }
}

/// RFC 3339, UTC, with as many fractional digits as needed.
pub(crate) fn format_time(nanos: i64) -> String {
    chrono::DateTime::from_timestamp_nanos(nanos)
        .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
}

fn param_json(item: &str, p: &Parameter) -> Value {
    let mut m = Map::new();
    m.insert("id".into(), json!(param_id(item, &p.name)));
    m.insert("version".into(), json!("KqlParameterItem/1.0"));
    m.insert("name".into(), json!(p.name));
    if let Some(l) = &p.label {
        m.insert("label".into(), json!(l));
    }
    m.insert("type".into(), json!(p.kind.type_code()));
    if let Some(d) = &p.description {
        m.insert("description".into(), json!(d));
    }
    if p.required {
        m.insert("isRequired".into(), json!(true));
    }
    if p.multi {
        m.insert("multiSelect".into(), json!(true));
    }
    if let Some(q) = &p.quote {
        m.insert("quote".into(), json!(q));
    }
    if let Some(d) = &p.delimiter {
        m.insert("delimiter".into(), json!(d));
    }
    if let Choices::Query { query, lang } = &p.choices {
        m.insert("query".into(), json!(query.text));
        if *lang == Lang::Sql {
            m.insert("auditbookLanguage".into(), json!("sql"));
        }
    }
    let mut ts = Map::new();
    if p.kind != ParamKind::TimeRange || p.include_all {
        let opts: Vec<&str> = if p.include_all {
            vec!["value::all"]
        } else {
            vec![]
        };
        ts.insert("additionalResourceOptions".into(), json!(opts));
    }
    if let Some(s) = &p.select_all_value {
        ts.insert("selectAllValue".into(), json!(s));
    }
    if let Some(t) = &p.time {
        let sel: Vec<Value> = t
            .durations
            .iter()
            .map(|ms| json!({"durationMs": ms}))
            .collect();
        ts.insert("selectableValues".into(), Value::Array(sel));
        ts.insert("allowCustom".into(), json!(t.allow_custom));
    }
    m.insert("typeSettings".into(), Value::Object(ts));
    if let Choices::Static(cs) = &p.choices {
        let plain = cs.iter().all(Choice::is_plain);
        let arr: Vec<Value> = cs
            .iter()
            .map(|c| {
                if plain {
                    return json!(c.value);
                }
                let mut o = Map::new();
                o.insert("value".into(), json!(c.value));
                if let Some(l) = &c.label {
                    o.insert("label".into(), json!(l));
                }
                if c.selected {
                    o.insert("selected".into(), json!(true));
                }
                if let Some(g) = &c.group {
                    o.insert("group".into(), json!(g));
                }
                Value::Object(o)
            })
            .collect();
        let s = serde_json::to_string(&Value::Array(arr)).unwrap_or_else(|_| "[]".into());
        m.insert("jsonData".into(), json!(s));
    }
    if let Some(d) = &p.default {
        m.insert("defaultValue".into(), value_json(d));
    }
    if let Some(v) = &p.value {
        m.insert("value".into(), value_json(v));
    }
    if p.hidden {
        m.insert("isHiddenWhenLocked".into(), json!(true));
    }
    if matches!(p.choices, Choices::Query { .. }) {
        m.insert("queryType".into(), json!(0));
        m.insert("resourceType".into(), json!(LOGS_RESOURCE));
    }
    Value::Object(m)
}

// ---------------------------------------------------------------------------------------------
// JSON span scanner

/// A JSON value's byte span in the text it was scanned from, with its children.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct JNode {
    pub span: Span,
    pub kind: JKind,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum JKind {
    /// Fields in order: decoded key and the value's node.
    Object(Vec<(String, JNode)>),
    Array(Vec<JNode>),
    /// A string (the span includes the quotes).
    Str,
    /// A number, `true`, `false` or `null`.
    Scalar,
}

/// Scans `text` (valid JSON) into span nodes; `None` if it is not JSON.
pub(crate) fn scan_json(text: &str) -> Option<JNode> {
    let mut s = Scanner {
        text,
        pos: 0,
        depth: 0,
    };
    let node = s.value()?;
    s.ws();
    (s.pos == text.len()).then_some(node)
}

struct Scanner<'a> {
    text: &'a str,
    pos: usize,
    depth: usize,
}

impl Scanner<'_> {
    fn ws(&mut self) {
        let b = self.text.as_bytes();
        while self.pos < b.len() && matches!(b[self.pos], b' ' | b'\t' | b'\n' | b'\r') {
            self.pos += 1;
        }
    }

    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.pos).copied()
    }

    fn value(&mut self) -> Option<JNode> {
        self.ws();
        let start = self.pos;
        match self.peek()? {
            b'{' => {
                self.depth += 1;
                if self.depth > 512 {
                    return None;
                }
                self.pos += 1;
                let mut fields = Vec::new();
                self.ws();
                if self.peek() == Some(b'}') {
                    self.pos += 1;
                } else {
                    loop {
                        self.ws();
                        if self.peek()? != b'"' {
                            return None;
                        }
                        let (key, _, end) = decode_json_string(self.text, self.pos)?;
                        self.pos = end;
                        self.ws();
                        if self.peek()? != b':' {
                            return None;
                        }
                        self.pos += 1;
                        let v = self.value()?;
                        fields.push((key, v));
                        self.ws();
                        match self.peek()? {
                            b',' => self.pos += 1,
                            b'}' => {
                                self.pos += 1;
                                break;
                            }
                            _ => return None,
                        }
                    }
                }
                self.depth -= 1;
                Some(JNode {
                    span: Span::new(start, self.pos),
                    kind: JKind::Object(fields),
                })
            }
            b'[' => {
                self.depth += 1;
                if self.depth > 512 {
                    return None;
                }
                self.pos += 1;
                let mut items = Vec::new();
                self.ws();
                if self.peek() == Some(b']') {
                    self.pos += 1;
                } else {
                    loop {
                        items.push(self.value()?);
                        self.ws();
                        match self.peek()? {
                            b',' => self.pos += 1,
                            b']' => {
                                self.pos += 1;
                                break;
                            }
                            _ => return None,
                        }
                    }
                }
                self.depth -= 1;
                Some(JNode {
                    span: Span::new(start, self.pos),
                    kind: JKind::Array(items),
                })
            }
            b'"' => {
                let (_, _, end) = decode_json_string(self.text, self.pos)?;
                self.pos = end;
                Some(JNode {
                    span: Span::new(start, end),
                    kind: JKind::Str,
                })
            }
            _ => {
                let b = self.text.as_bytes();
                while self.pos < b.len()
                    && !matches!(
                        b[self.pos],
                        b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r'
                    )
                {
                    self.pos += 1;
                }
                (self.pos > start).then(|| JNode {
                    span: Span::new(start, self.pos),
                    kind: JKind::Scalar,
                })
            }
        }
    }
}

/// Decodes the JSON string literal starting at byte `start` (its opening quote) of `text`:
/// the decoded string, its map (decoded offset → offset in `text`: a checkpoint at the start and
/// one after each escape), and the offset after the closing quote.
pub(crate) fn decode_json_string(text: &str, start: usize) -> Option<(String, SourceMap, usize)> {
    let b = text.as_bytes();
    if b.get(start) != Some(&b'"') {
        return None;
    }
    let mut i = start + 1;
    let mut out = String::new();
    let mut cps = vec![(0, i)];
    loop {
        let j = i + b.get(i..)?.iter().position(|&c| c == b'"' || c == b'\\')?;
        out.push_str(text.get(i..j)?);
        if b[j] == b'"' {
            return Some((out, SourceMap { checkpoints: cps }, j + 1));
        }
        let esc = *b.get(j + 1)?;
        let (ch, len) = match esc {
            b'"' => ('"', 2),
            b'\\' => ('\\', 2),
            b'/' => ('/', 2),
            b'b' => ('\u{8}', 2),
            b'f' => ('\u{c}', 2),
            b'n' => ('\n', 2),
            b'r' => ('\r', 2),
            b't' => ('\t', 2),
            b'u' => {
                let hex = |at: usize| u32::from_str_radix(text.get(at..at + 4)?, 16).ok();
                let hi = hex(j + 2)?;
                if (0xD800..0xDC00).contains(&hi)
                    && text.get(j + 6..j + 8) == Some("\\u")
                    && let Some(lo) = hex(j + 8).filter(|lo| (0xDC00..0xE000).contains(lo))
                {
                    let c = 0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00);
                    (char::from_u32(c).unwrap_or('\u{FFFD}'), 12)
                } else {
                    (char::from_u32(hi).unwrap_or('\u{FFFD}'), 6)
                }
            }
            _ => return None,
        };
        out.push(ch);
        i = j + len;
        cps.push((out.len(), i));
    }
}

/// Composes `inner` (text offset → offset in an intermediate text) with `outer` (intermediate
/// offset → file offset) into text offset → file offset; `len` is the text's length.
pub(crate) fn compose_maps(inner: &SourceMap, len: usize, outer: &SourceMap) -> SourceMap {
    let mut cps: Vec<(usize, usize)> = Vec::new();
    let ic = &inner.checkpoints;
    for (k, &(t, j)) in ic.iter().enumerate() {
        let next_t = ic.get(k + 1).map_or(len, |c| c.0);
        let seg_len = next_t.saturating_sub(t);
        cps.push((t, outer.to_file(j)));
        // Outer breakpoints inside this linear segment shift the file offset.
        for &(oj, of) in &outer.checkpoints {
            if oj > j && oj < j + seg_len {
                cps.push((t + (oj - j), of));
            }
        }
    }
    cps.sort_by_key(|c| c.0);
    cps.dedup_by(|later, earlier| {
        if later.0 == earlier.0 {
            earlier.1 = earlier.1.max(later.1);
            true
        } else {
            false
        }
    });
    SourceMap { checkpoints: cps }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::path::PathBuf;

    pub(crate) fn fixture(name: &str) -> (String, PathBuf) {
        let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("tests/workbooks")
            .join(name);
        (std::fs::read_to_string(&p).expect("fixture"), p)
    }

    /// Every character of a mapped text sits where the map says (for characters written
    /// unescaped in the file).
    pub(crate) fn assert_map_exact(file: &str, st: &SourceText) {
        let map = st.map.as_ref().expect("mapped");
        for (i, ch) in st.text.char_indices() {
            if ch.is_alphanumeric() {
                let at = map.to_file(i);
                assert_eq!(
                    file[at..].chars().next(),
                    Some(ch),
                    "text offset {i} maps to {at}"
                );
            }
        }
    }

    pub(crate) fn queries(items: &[Item], out: &mut Vec<SourceText>) {
        for i in items {
            match &i.kind {
                ItemKind::Text(t) => out.push(t.clone()),
                ItemKind::Query(q) => out.push(q.query.clone()),
                ItemKind::Parameters(ps) => {
                    for p in ps {
                        if let Choices::Query { query, .. } = &p.choices {
                            out.push(query.clone());
                        }
                    }
                }
                ItemKind::Group(g) => queries(&g.items, out),
                _ => {}
            }
        }
    }

    pub(crate) fn strip_source(mut wb: Workbook) -> Workbook {
        wb.source = SourceFile::default();
        clear_maps(&mut wb.items);
        wb
    }

    /// Parsed, written, parsed again: the same model.
    pub(crate) fn assert_azure_round_trip(wb: &Workbook) {
        let out = serde_json::to_string_pretty(&to_azure(wb)).unwrap();
        let again = from_azure(&out, &wb.source.path).unwrap_or_else(|d| panic!("{d:?}\n{out}"));
        assert_eq!(
            strip_source(again.clone()),
            strip_source(wb.clone()),
            "{out}"
        );
        for st in {
            let mut v = Vec::new();
            queries(&again.items, &mut v);
            v
        } {
            assert_map_exact(&out, &st);
        }
    }

    #[test]
    fn scanner_spans() {
        let t = r#" {"a": [1, "x\"y", {"b": null}], "c": true} "#;
        let n = scan_json(t).unwrap();
        let JKind::Object(f) = &n.kind else { panic!() };
        assert_eq!(f[0].0, "a");
        let JKind::Array(items) = &f[0].1.kind else {
            panic!()
        };
        assert_eq!(&t[items[0].span.start..items[0].span.end], "1");
        assert_eq!(&t[items[1].span.start..items[1].span.end], r#""x\"y""#);
        assert_eq!(&t[f[1].1.span.start..f[1].1.span.end], "true");
        assert!(scan_json("{").is_none());
        assert!(scan_json("[1,]").is_none());
    }

    #[test]
    fn string_map_accounts_for_escapes() {
        let t = r#""a\"b\\c\r\nd\u00e9e\/f\ud83d\ude00g""#;
        let (s, m, end) = decode_json_string(t, 0).unwrap();
        assert_eq!(s, "a\"b\\c\r\ndée/f😀g");
        assert_eq!(end, t.len());
        for (i, ch) in s.char_indices() {
            if ch.is_ascii_alphanumeric() {
                assert_eq!(&t[m.to_file(i)..m.to_file(i) + 1], ch.to_string(), "{i}");
            }
        }
        // The escaped quote maps to its backslash.
        assert_eq!(&t[m.to_file(1)..m.to_file(1) + 2], "\\\"");
        // The emoji maps to its first \u escape.
        let e = s.find('😀').unwrap();
        assert_eq!(&t[m.to_file(e)..m.to_file(e) + 6], "\\ud83d");
    }

    #[test]
    fn composed_map_through_two_levels() {
        // An ARM string holding JSON holding a string with an escaped quote.
        let inner_json = r#"{"q": "T | where A == \"x\" | take 1"}"#;
        let arm = serde_json::to_string(&json!({"d": inner_json})).unwrap();
        let at = arm.find(":\"").unwrap() + 1;
        let (dec, outer, _) = decode_json_string(&arm, at).unwrap();
        assert_eq!(dec, inner_json);
        let qs = dec.find("\"T").unwrap();
        let (q, inner, _) = decode_json_string(&dec, qs).unwrap();
        let m = compose_maps(&inner, q.len(), &outer);
        let st = SourceText {
            text: q.clone(),
            map: Some(m),
        };
        assert_map_exact(&arm, &st);
    }

    #[test]
    fn headings() {
        assert_eq!(
            first_heading("intro\n## Access  ##\n# b"),
            Some("Access".into())
        );
        assert_eq!(first_heading("#nospace\ntext"), None);
        assert_eq!(first_heading("####### seven"), None);
    }

    #[test]
    fn loads_basic_fixture() {
        let (text, path) = fixture("access-basic.workbook");
        let wb = from_azure(&text, &path).unwrap_or_else(|d| panic!("{d:?}"));
        assert_eq!(wb.title, "Access package audit");
        assert_eq!(wb.items.len(), 3);
        let ItemKind::Parameters(ps) = &wb.items[1].kind else {
            panic!()
        };
        assert_eq!(ps[0].name, "Since");
        assert_eq!(ps[0].kind, ParamKind::DropDown);
        assert!(ps[0].required);
        assert_eq!(ps[0].value, Some(ParamValue::One("3653d".into())));
        let Choices::Static(cs) = &ps[0].choices else {
            panic!()
        };
        assert_eq!(cs.len(), 3);
        assert_eq!(cs[0].value, "1d");
        assert_eq!(cs[0].label.as_deref(), Some("24 hours"));
        let Choices::Query { query, lang } = &ps[1].choices else {
            panic!()
        };
        assert_eq!(*lang, Lang::Kql);
        assert!(query.text.contains("\"EntitlementManagement\""));
        assert_map_exact(&text, query);
        let ItemKind::Query(q) = &wb.items[2].kind else {
            panic!()
        };
        assert_eq!(wb.items[2].name, "query - 1");
        assert!(q.query.text.contains("\r\n| project"));
        assert_map_exact(&text, &q.query);
        // A diagnostic at the query offset of `project` points at `project` in the file.
        let off = q.query.text.find("project").unwrap();
        let at = q.query.map.as_ref().unwrap().to_file(off);
        assert_eq!(&text[at..at + 7], "project");
        assert_azure_round_trip(&wb);
    }

    #[test]
    fn loads_time_fixture() {
        let (text, path) = fixture("role-time.workbook");
        let wb = from_azure(&text, &path).unwrap_or_else(|d| panic!("{d:?}"));
        let ItemKind::Parameters(ps) = &wb.items[1].kind else {
            panic!()
        };
        let time = &ps[0];
        assert_eq!(time.kind, ParamKind::TimeRange);
        assert_eq!(
            time.value,
            Some(ParamValue::Time(TimeValue::Duration { ms: 2_592_000_000 }))
        );
        let ts = time.time.as_ref().unwrap();
        assert_eq!(ts.durations, vec![86_400_000, 604_800_000, 2_592_000_000]);
        assert!(ts.allow_custom);
        let multi = &ps[1];
        assert!(multi.multi && multi.include_all);
        assert_eq!(multi.quote.as_deref(), Some("'"));
        assert_eq!(multi.delimiter.as_deref(), Some(","));
        assert_eq!(multi.default, Some(ParamValue::One("value::all".into())));
        assert_eq!(
            multi.value,
            Some(ParamValue::Many(vec!["value::all".into()]))
        );
        assert_eq!(multi.select_all_value.as_deref(), Some("[]"));
        let custom = &ps[3];
        assert_eq!(
            custom.value,
            Some(ParamValue::Time(TimeValue::Range {
                start: 1_790_812_800_000_000_000,
                end: 1_790_899_200_500_000_000
            }))
        );
        let ItemKind::Query(q) = &wb.items[2].kind else {
            panic!()
        };
        assert_eq!(q.time_context, TimeContext::Parameter("Time".into()));
        assert_eq!(q.row_limit, Some(5000));
        assert_eq!(q.labels[0], ("DateTime".into(), "Date and Time".into()));
        assert_eq!(q.no_data_message.as_deref(), Some("Nothing found"));
        assert_eq!(q.title.as_deref(), Some("Recent assignments"));
        assert_map_exact(&text, &q.query);
        let ItemKind::Query(q2) = &wb.items[3].kind else {
            panic!()
        };
        assert_eq!(q2.time_context, TimeContext::Duration(86_400_000));
        assert_eq!(q2.visualization.as_deref(), Some("barchart"));
        assert_azure_round_trip(&wb);
    }

    #[test]
    fn loads_structure_fixture() {
        let (text, path) = fixture("structure.workbook");
        let wb = from_azure(&text, &path).unwrap_or_else(|d| panic!("{d:?}"));
        assert_eq!(wb.title, "Structure sampler");
        let names: Vec<&str> = wb.items.iter().map(|i| i.name.as_str()).collect();
        assert_eq!(
            names,
            ["intro", "params", "tabs", "details", "item - 6", "arg"]
        );
        let ItemKind::Parameters(ps) = &wb.items[1].kind else {
            panic!()
        };
        assert_eq!(ps[0].kind, ParamKind::Options);
        let Choices::Static(cs) = &ps[0].choices else {
            panic!()
        };
        assert!(cs[1].selected);
        assert_eq!(cs[1].group.as_deref(), Some("main"));
        assert_eq!(ps[1].kind, ParamKind::Text);
        assert!(ps[1].hidden);
        assert_eq!(ps[1].default, Some(ParamValue::One("10".into())));
        assert_eq!(ps[2].kind, ParamKind::Other(5));
        // jsonData given directly as an array.
        let Choices::Static(cs) = &ps[3].choices else {
            panic!()
        };
        assert_eq!(
            cs.iter().map(|c| c.value.as_str()).collect::<Vec<_>>(),
            ["a", "b"]
        );
        let ItemKind::Links(ls) = &wb.items[2].kind else {
            panic!()
        };
        assert_eq!(ls[0].target, "Url");
        assert_eq!(
            ls[0].url.as_deref(),
            Some("https://learn.microsoft.com/entra/")
        );
        assert_eq!(ls[1].target, "parameter");
        let g = &wb.items[3];
        assert_eq!(
            g.visible_if,
            vec![Condition {
                parameter: "Tab".into(),
                comparison: Comparison::IsEqualTo,
                value: "details".into()
            }]
        );
        let ItemKind::Group(grp) = &g.kind else {
            panic!()
        };
        assert!(grp.export_parameters);
        assert_eq!(grp.title.as_deref(), Some("Details"));
        assert_eq!(grp.items[1].visible_if.len(), 2);
        assert_eq!(
            grp.items[1].visible_if[1].comparison,
            Comparison::IsNotEqualTo
        );
        let ItemKind::Unsupported(u) = &wb.items[4].kind else {
            panic!()
        };
        assert_eq!(u.type_code, 10);
        assert!(u.raw.get("name").is_none());
        assert_eq!(u.what, "metrics (type 10)");
        assert_eq!(u.raw["content"]["chartId"], "m1");
        let ItemKind::Unsupported(u) = &wb.items[5].kind else {
            panic!()
        };
        assert!(u.what.contains("Azure Resource Graph"), "{}", u.what);
        assert_azure_round_trip(&wb);
    }

    #[test]
    fn loads_arm_template_with_spans_into_arm_file() {
        let (text, path) = fixture("arm-template.json");
        let wb = from_azure(&text, &path).unwrap_or_else(|d| panic!("{d:?}"));
        assert_eq!(wb.source.text, text);
        assert_eq!(wb.title, "ARM wrapped");
        let ItemKind::Query(q) = &wb.items[1].kind else {
            panic!()
        };
        assert!(q.query.text.contains("\"UserManagement\""));
        assert_map_exact(&text, &q.query);
        let ItemKind::Text(t) = &wb.items[0].kind else {
            panic!()
        };
        assert_map_exact(&text, t);
        assert_azure_round_trip(&wb);
    }

    #[test]
    fn arm_inner_errors_point_into_arm_file() {
        let inner = r#"{"version":"Notebook/1.0","items":[{"type":3,"content":{"query":"T"},"name":"a"},{"type":1,"content":{"json":"x"},"name":"a"}]}"#;
        let arm = serde_json::to_string_pretty(&json!({
            "resources": [{"type": "microsoft.insights/workbooks", "properties": {"serializedData": inner}}]
        }))
        .unwrap();
        let d = from_azure(&arm, Path::new("t.json")).unwrap_err();
        assert_eq!(d[0].code, "WB0107");
        assert_eq!(&arm[d[0].span.start..d[0].span.end], r#"\"a\""#);
    }

    #[test]
    fn invalid_json_points_at_error() {
        let t = "{\n  \"version\": \"Notebook/1.0\",\n  \"items\": [ , ]\n}";
        let d = from_azure(t, Path::new("x.workbook")).unwrap_err();
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].code, "WB0101");
        assert_eq!(&t[d[0].span.start..d[0].span.end], ",");
    }

    #[test]
    fn structural_errors_have_codes_and_spans() {
        let t = r#"{
  "version": "Notebook/2.0",
  "items": [
    {"content": {}},
    {"type": 9, "content": {"parameters": [
      {"type": 2, "jsonData": "[1, ", "name": "A"},
      {"type": 1},
      {"type": 1, "name": "A"}
    ]}, "name": "p"},
    {"type": 1, "content": {"json": "x"}, "name": "p"}
  ]
}"#;
        let d = from_azure(t, Path::new("x.workbook")).unwrap_err();
        let codes: Vec<&str> = d.iter().map(|d| d.code).collect();
        assert_eq!(
            codes,
            ["WB0103", "WB0104", "WB0106", "WB0105", "WB0108", "WB0107"]
        );
        let text_of = |i: usize| &t[d[i].span.start..d[i].span.end];
        assert_eq!(text_of(0), "\"Notebook/2.0\"");
        assert_eq!(text_of(1), "{");
        assert_eq!(text_of(4), "\"A\"");
        assert_eq!(text_of(5), "\"p\"");
        // jsonData error points inside the string, at its end.
        assert!(d[2].span.start > t.find("\"[1, ").unwrap());
        assert!(
            !from_azure("{\"version\": \"Notebook/1.0\"}", Path::new("x"))
                .unwrap_err()
                .is_empty()
        );
    }

    #[test]
    fn title_falls_back_to_stem_and_is_written_as_heading() {
        let t = r#"{"version": "Notebook/1.0", "items": [{"type": 3, "content": {"query": "T"}, "name": "q"}]}"#;
        let wb = from_azure(t, Path::new("dir/my-book.workbook")).unwrap();
        assert_eq!(wb.title, "my-book");
        let out = to_azure(&wb);
        assert_eq!(out["items"][0]["content"]["json"], "## my-book");
        assert_eq!(out["items"][0]["name"], "title");
        assert_eq!(out["$schema"], SCHEMA_URL);
        let again = from_azure(&out.to_string(), Path::new("other.workbook")).unwrap();
        assert_eq!(again.title, "my-book");
    }

    #[test]
    fn microsoft_workbooks_round_trip() {
        let dir = Path::new("/work/shared/reference/workbooks");
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.extension().and_then(|x| x.to_str()) != Some("workbook") {
                continue;
            }
            let text = std::fs::read_to_string(&p).unwrap();
            let wb = from_azure(&text, &p).unwrap_or_else(|d| panic!("{}: {d:?}", p.display()));
            assert!(wb.title.contains("ctivity"), "{}", wb.title);
            let mut v = Vec::new();
            queries(&wb.items, &mut v);
            assert!(v.len() >= 3);
            for st in &v {
                assert_map_exact(&text, st);
            }
            assert_azure_round_trip(&wb);
        }
    }
}
