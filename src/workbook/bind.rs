//! Placeholder binding (DESIGN §6): `{P}`, `{P:format}` in a query are replaced by parameter
//! values without ever changing the query's structure.
//!
//! Binding is lexer-aware. The query is tokenized first (KQL by auditbook's lexer, SQL by
//! sqlparser's tokenizer), so every placeholder is known to stand either inside a string literal
//! or between tokens:
//! - **inside a string literal** the value is inserted as text, escaped for that literal's quoting
//!   (a verbatim or multi-line literal that cannot hold the text is closed and continued with a
//!   regular literal: adjacent KQL literals concatenate);
//! - **between tokens** a value becomes one typed literal built here (a number, a timespan, a
//!   boolean, or a quoted string), a multi-selection becomes a list of such literals joined by the
//!   parameter's delimiter, and a time range becomes `> ago(30d)` / `between (datetime(..) ..
//!   datetime(..))`.
//!
//! Only text written in the workbook file itself (static choices, `selectAllValue`, saved values)
//! expands to raw query text, as in Azure. Values from the command line or from query results
//! never do: they are literals, whatever they contain.
//!
//! The result keeps the edits, so a diagnostic in the bound text maps back to the placeholder it
//! came from in the original query.

use base64::Engine as _;

use crate::diagnostic::{Diagnostic, Span};
use crate::kql::lexer::{self, TokenKind};

use super::model::Lang;

/// A parameter's resolved value, as placeholders see it.
#[derive(Debug, Clone, PartialEq)]
pub enum Resolved {
    /// Not set (an optional parameter without value): expands to nothing, as in Azure.
    Unset,
    /// One value. `authored`: the text was written in the workbook file (a static choice, a
    /// saved value), so it may expand to raw query text.
    One {
        value: String,
        label: Option<String>,
        authored: bool,
    },
    /// A multi-selection.
    Many {
        items: Vec<(String, Option<String>)>,
        /// "All" was chosen.
        all: bool,
        /// `selectAllValue` (authored) used instead of the items when `all` is set.
        all_value: Option<String>,
        /// Every item was written in the workbook file.
        authored: bool,
        quote: String,
        delimiter: String,
    },
    /// A time range: nanoseconds UTC. `duration` is set for "last N" ranges.
    Time(TimeRange),
}

/// A resolved time range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeRange {
    /// `None`: all time (no bound).
    pub range: Option<(i64, i64)>,
    /// The "last N" duration in nanoseconds, when the range is relative.
    pub duration: Option<i64>,
}

impl TimeRange {
    pub const ALL: TimeRange = TimeRange {
        range: None,
        duration: None,
    };

    /// "Last 30 days", "2026-01-01T00:00:00Z - 2026-02-01T00:00:00Z", "All time".
    pub fn label(&self) -> String {
        match (self.duration, self.range) {
            (Some(d), _) => format!("Last {}", duration_words(d)),
            (None, Some((s, e))) => format!("{} - {}", iso(s), iso(e)),
            (None, None) => "All time".to_string(),
        }
    }

    /// The bin size workbooks offer as `{Time:grain}`: about 50 bins over the range.
    pub fn grain(&self) -> i64 {
        const MIN: i64 = 60_000_000_000;
        const LADDER: &[i64] = &[
            MIN,
            5 * MIN,
            10 * MIN,
            15 * MIN,
            30 * MIN,
            60 * MIN,
            2 * 60 * MIN,
            4 * 60 * MIN,
            6 * 60 * MIN,
            12 * 60 * MIN,
            24 * 60 * MIN,
            7 * 24 * 60 * MIN,
            30 * 24 * 60 * MIN,
        ];
        let Some((s, e)) = self.range else {
            return 24 * 60 * MIN;
        };
        let span = (e - s).max(0);
        LADDER
            .iter()
            .copied()
            .find(|g| span / g <= 50)
            .unwrap_or(30 * 24 * 60 * MIN)
    }
}

/// Parameter values visible to a step, by name.
pub trait Scope {
    fn lookup(&self, name: &str) -> Option<&Resolved>;
    /// Every name in scope (for "did you mean").
    fn names(&self) -> Vec<String>;
}

/// Query text after binding, with the edits that produced it.
#[derive(Debug, Clone, PartialEq)]
pub struct Bound {
    pub text: String,
    /// (span in the original, span in `text`), in order.
    edits: Vec<(Span, Span)>,
}

impl Bound {
    /// The original-text span of a span of the bound text: a span inside a replacement maps to
    /// the whole placeholder.
    pub fn to_original(&self, span: Span) -> Span {
        let start = self.offset_to_original(span.start, false);
        let end = self.offset_to_original(span.end, true).max(start);
        Span::new(start, end)
    }

    fn offset_to_original(&self, off: usize, is_end: bool) -> usize {
        let mut delta: isize = 0;
        for (orig, new) in &self.edits {
            if off < new.start || (is_end && off == new.start) {
                break;
            }
            if off < new.end || (is_end && off == new.end) {
                return if is_end { orig.end } else { orig.start };
            }
            delta = orig.end as isize - new.end as isize;
        }
        (off as isize + delta).max(0) as usize
    }

    /// Maps every span of `diagnostics` (from compiling the bound text) to the original text.
    pub fn map_diagnostics(&self, diagnostics: &mut [Diagnostic]) {
        for d in diagnostics {
            d.span = self.to_original(d.span);
            for (s, _) in &mut d.labels {
                *s = self.to_original(*s);
            }
        }
    }
}

/// Where a placeholder stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Context {
    /// Between tokens.
    Code,
    /// Inside a string literal of this kind.
    Str(Quoting),
    /// Inside a comment: left alone.
    Comment,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Quoting {
    /// `"..."` / `'...'` with backslash escapes (also `h"..."`).
    Escaped(char),
    /// `@"..."`: the quote doubled, no escapes, no line breaks.
    Verbatim(char),
    /// ```` ```...``` ````: no escapes at all.
    Fenced,
    /// SQL `'...'`: the quote doubled.
    SqlString,
    /// SQL `"..."` identifier: the quote doubled.
    SqlIdent,
}

struct Occurrence {
    span: Span,
    name: String,
    format: Option<String>,
    context: Context,
}

/// Binds the placeholders of a query in `lang`.
pub fn bind_query(query: &str, lang: Lang, scope: &dyn Scope) -> Result<Bound, Vec<Diagnostic>> {
    let occurrences = match lang {
        Lang::Kql => scan_kql(query),
        Lang::Sql => scan_sql(query),
    };
    substitute(query, occurrences, lang, scope)
}

/// Expands the placeholders of a markdown text item: values and labels as plain text (time
/// ranges by their label), unknown names left as written.
pub fn bind_text(text: &str, scope: &dyn Scope) -> String {
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while let Some(rel) = text[i..].find('{') {
        let at = i + rel;
        out.push_str(&text[i..at]);
        match lexer::placeholder_at(&text[at..]) {
            Some((name, format, len)) => {
                match scope.lookup(&name) {
                    Some(Resolved::Time(t)) if format.is_none() => out.push_str(&t.label()),
                    Some(r) => out.push_str(&plain_text(r, format.as_deref())),
                    None => out.push_str(&text[at..at + len]),
                }
                i = at + len;
            }
            None => {
                out.push('{');
                i = at + 1;
            }
        }
    }
    out.push_str(&text[i..]);
    out
}

/// The names of the placeholders in a query or text (for dependency order).
pub fn placeholder_names(text: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut i = 0;
    while let Some(rel) = text[i..].find('{') {
        let at = i + rel;
        match lexer::placeholder_at(&text[at..]) {
            Some((name, _, len)) => {
                if !names.contains(&name) {
                    names.push(name);
                }
                i = at + len;
            }
            None => i = at + 1,
        }
    }
    names
}

fn scan_kql(query: &str) -> Vec<Occurrence> {
    let (tokens, _) = lexer::lex(query);
    let mut out = Vec::new();
    for token in tokens {
        match token.kind {
            TokenKind::Placeholder { name, format } => out.push(Occurrence {
                span: token.span,
                name,
                format,
                context: Context::Code,
            }),
            TokenKind::Str { placeholders, .. } if !placeholders.is_empty() => {
                let head = &query[token.span.start..];
                let quoting = if head.starts_with("```") {
                    Quoting::Fenced
                } else if let Some(r) = head.strip_prefix('@') {
                    Quoting::Verbatim(r.chars().next().unwrap_or('"'))
                } else {
                    let r = head.strip_prefix(['h', 'H']).unwrap_or(head);
                    match r.strip_prefix('@') {
                        Some(v) => Quoting::Verbatim(v.chars().next().unwrap_or('"')),
                        None => Quoting::Escaped(r.chars().next().unwrap_or('"')),
                    }
                };
                for span in placeholders {
                    if let Some((name, format, _)) = lexer::placeholder_at(&query[span.start..]) {
                        out.push(Occurrence {
                            span,
                            name,
                            format,
                            context: Context::Str(quoting),
                        });
                    }
                }
            }
            _ => {}
        }
    }
    out
}

fn scan_sql(query: &str) -> Vec<Occurrence> {
    use datafusion::sql::sqlparser::dialect::GenericDialect;
    use datafusion::sql::sqlparser::tokenizer::{Token, Tokenizer, Whitespace};
    // Byte offset of each (line, column) the tokenizer reports (both 1-based, columns in chars).
    let line_starts: Vec<usize> = std::iter::once(0)
        .chain(query.match_indices('\n').map(|(i, _)| i + 1))
        .collect();
    let to_offset = |line: u64, column: u64| -> usize {
        let start = line_starts
            .get((line as usize).saturating_sub(1))
            .copied()
            .unwrap_or(query.len());
        query[start..]
            .char_indices()
            .nth((column as usize).saturating_sub(1))
            .map_or(query.len(), |(i, _)| start + i)
    };
    // Placeholders are not SQL: the tokenizer sees `{`, a word, `}` and leaves them alone; what
    // matters is which string literal, identifier or comment each one falls in.
    let regions: Vec<(Span, Context)> = Tokenizer::new(&GenericDialect {}, query)
        .tokenize_with_location()
        .map(|tokens| {
            tokens
                .into_iter()
                .filter_map(|t| {
                    let ctx = match &t.token {
                        Token::SingleQuotedString(_) => Context::Str(Quoting::SqlString),
                        Token::DoubleQuotedString(_) => Context::Str(Quoting::SqlIdent),
                        Token::Whitespace(
                            Whitespace::SingleLineComment { .. } | Whitespace::MultiLineComment(_),
                        ) => Context::Comment,
                        _ => return None,
                    };
                    let s = to_offset(t.span.start.line, t.span.start.column);
                    let e = to_offset(t.span.end.line, t.span.end.column);
                    Some((Span::new(s, e), ctx))
                })
                .collect()
        })
        .unwrap_or_default();
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(rel) = query[i..].find('{') {
        let at = i + rel;
        match lexer::placeholder_at(&query[at..]) {
            Some((name, format, len)) => {
                let context = regions
                    .iter()
                    .find(|(s, _)| s.start < at && at < s.end)
                    .map_or(Context::Code, |(_, c)| *c);
                out.push(Occurrence {
                    span: Span::new(at, at + len),
                    name,
                    format,
                    context,
                });
                i = at + len;
            }
            None => i = at + 1,
        }
    }
    out
}

fn substitute(
    query: &str,
    occurrences: Vec<Occurrence>,
    lang: Lang,
    scope: &dyn Scope,
) -> Result<Bound, Vec<Diagnostic>> {
    let mut text = String::with_capacity(query.len());
    let mut edits = Vec::new();
    let mut diagnostics = Vec::new();
    let mut last = 0;
    for occ in occurrences {
        if occ.context == Context::Comment {
            continue;
        }
        let Some(resolved) = scope.lookup(&occ.name) else {
            if occ.context == Context::Code {
                let names = scope.names();
                let candidates: Vec<&str> = names.iter().map(String::as_str).collect();
                let mut d = Diagnostic::error(
                    "WB0201",
                    format!(
                        "no parameter named `{}` is declared before this step",
                        occ.name
                    ),
                    occ.span,
                );
                if let Some(m) = crate::kql::parser::did_you_mean(&occ.name, &candidates) {
                    d = d.with_hint(format!("did you mean `{{{m}}}`?"));
                } else if !names.is_empty() {
                    d = d.with_hint(format!("parameters in scope: {}", names.join(", ")));
                }
                diagnostics.push(d);
            }
            continue;
        };
        let format = occ.format.as_deref();
        if let Some(f) = format
            && !known_format(resolved, f)
        {
            diagnostics.push(
                Diagnostic::error(
                    "WB0202",
                    format!(
                        "unknown placeholder format `:{f}` for parameter `{}`",
                        occ.name
                    ),
                    occ.span,
                )
                .with_hint(match resolved {
                    Resolved::Time(_) => "time formats: value, query, label, start, end, grain, \
                                          startISO, endISO, seconds"
                        .to_string(),
                    _ => "formats: value, label, escape, escapejson, base64".to_string(),
                }),
            );
            continue;
        }
        let replacement = match occ.context {
            Context::Str(q) => escape_in(q, &plain_text(resolved, format), lang),
            _ => code_text(resolved, format, lang),
        };
        text.push_str(&query[last..occ.span.start]);
        let new_start = text.len();
        text.push_str(&replacement);
        edits.push((occ.span, Span::new(new_start, text.len())));
        last = occ.span.end;
    }
    if !diagnostics.is_empty() {
        return Err(diagnostics);
    }
    text.push_str(&query[last..]);
    Ok(Bound { text, edits })
}

fn known_format(resolved: &Resolved, format: &str) -> bool {
    match resolved {
        Resolved::Time(_) => matches!(
            format,
            "value"
                | "query"
                | "label"
                | "start"
                | "end"
                | "grain"
                | "startISO"
                | "endISO"
                | "startDateISO"
                | "endDateISO"
                | "seconds"
        ),
        _ => matches!(
            format,
            "value" | "label" | "escape" | "escapejson" | "base64"
        ),
    }
}

/// The text a placeholder stands for where text is wanted (inside a string, in markdown).
fn plain_text(resolved: &Resolved, format: Option<&str>) -> String {
    match resolved {
        Resolved::Unset => String::new(),
        Resolved::Time(t) => match format {
            None | Some("value" | "query") => match t.range {
                Some((s, e)) => format!("{} - {}", iso(s), iso(e)),
                None => String::new(),
            },
            Some("label") => t.label(),
            Some("start" | "startISO") => t.range.map(|r| iso(r.0)).unwrap_or_default(),
            Some("end" | "endISO") => t.range.map(|r| iso(r.1)).unwrap_or_default(),
            Some("startDateISO") => t.range.map(|r| iso(day(r.0))).unwrap_or_default(),
            Some("endDateISO") => t.range.map(|r| iso(day(r.1))).unwrap_or_default(),
            Some("grain") => timespan_literal(t.grain()),
            Some("seconds") => t
                .range
                .map(|(s, e)| ((e - s) / 1_000_000_000).to_string())
                .unwrap_or_default(),
            Some(_) => String::new(),
        },
        Resolved::One { value, label, .. } => match format {
            Some("label") => label.clone().unwrap_or_else(|| value.clone()),
            Some("escapejson") => escape_json(value),
            Some("base64") => base64::engine::general_purpose::STANDARD.encode(value),
            _ => value.clone(),
        },
        Resolved::Many {
            items,
            all,
            all_value,
            quote,
            delimiter,
            ..
        } => {
            if *all && let Some(v) = all_value {
                return v.clone();
            }
            let parts: Vec<String> = items
                .iter()
                .map(|(v, l)| match format {
                    Some("label") => l.clone().unwrap_or_else(|| v.clone()),
                    _ => format!("{quote}{v}{quote}"),
                })
                .collect();
            let joined = parts.join(delimiter);
            match format {
                Some("escapejson") => escape_json(&joined),
                Some("base64") => base64::engine::general_purpose::STANDARD.encode(&joined),
                _ => joined,
            }
        }
    }
}

/// The query text a placeholder stands for between tokens.
fn code_text(resolved: &Resolved, format: Option<&str>, lang: Lang) -> String {
    match resolved {
        Resolved::Unset => String::new(),
        Resolved::Time(t) => time_code(t, format, lang),
        Resolved::One {
            value, authored, ..
        } => match format {
            None | Some("value") if *authored => value.clone(),
            None | Some("value") => typed_literal(value, lang),
            _ => string_literal(&plain_text(resolved, format), lang),
        },
        Resolved::Many {
            items,
            all,
            all_value,
            authored,
            quote,
            delimiter,
        } => {
            if *all && let Some(v) = all_value {
                return v.clone();
            }
            match format {
                None | Some("value") => {
                    let parts: Vec<String> = items
                        .iter()
                        .map(|(v, _)| {
                            if *authored && lang == Lang::Kql && !quote.is_empty() {
                                // Authored values may be raw, but quoting them ourselves keeps
                                // quotes inside a value from ending the literal.
                                quoted_literal(v, quote, lang)
                            } else if quote.is_empty() {
                                if *authored {
                                    v.clone()
                                } else {
                                    typed_literal(v, lang)
                                }
                            } else {
                                quoted_literal(v, quote, lang)
                            }
                        })
                        .collect();
                    parts.join(delimiter)
                }
                _ => string_literal(&plain_text(resolved, format), lang),
            }
        }
    }
}

fn time_code(t: &TimeRange, format: Option<&str>, lang: Lang) -> String {
    let dt = |ns: i64| match lang {
        Lang::Kql => format!("datetime({})", iso(ns)),
        Lang::Sql => format!("TIMESTAMP '{}'", iso(ns)),
    };
    match format {
        None | Some("value" | "query") => match (t.duration, t.range, lang) {
            (Some(d), _, Lang::Kql) => format!("> ago({})", timespan_literal(d)),
            (_, Some((s, e)), Lang::Kql) => format!("between ({} .. {})", dt(s), dt(e)),
            (_, Some((s, e)), Lang::Sql) => format!("BETWEEN {} AND {}", dt(s), dt(e)),
            // All time: a predicate true for every event.
            (_, None, Lang::Kql) => "> datetime(1900-01-01)".to_string(),
            (_, None, Lang::Sql) => "> TIMESTAMP '1900-01-01T00:00:00Z'".to_string(),
        },
        Some("start" | "startISO" | "startDateISO") => match t.range {
            Some((s, _)) => dt(if format == Some("startDateISO") {
                day(s)
            } else {
                s
            }),
            None => dt(-2_208_988_800_000_000_000),
        },
        Some("end" | "endISO" | "endDateISO") => match t.range {
            Some((_, e)) => dt(if format == Some("endDateISO") {
                day(e)
            } else {
                e
            }),
            None => dt(i64::MAX / 2),
        },
        Some("grain") => match lang {
            Lang::Kql => timespan_literal(t.grain()),
            Lang::Sql => format!("INTERVAL '{} seconds'", t.grain() / 1_000_000_000),
        },
        Some("seconds") => t
            .range
            .map(|(s, e)| ((e - s) / 1_000_000_000).to_string())
            .unwrap_or_else(|| "0".to_string()),
        Some(f) => string_literal(&plain_text(&Resolved::Time(*t), Some(f)), lang),
    }
}

/// A value as one literal token: a number, a timespan (KQL), a boolean, or a quoted string.
pub fn typed_literal(value: &str, lang: Lang) -> String {
    let v = value.trim();
    let number = {
        let digits = v.strip_prefix('-').unwrap_or(v);
        !digits.is_empty()
            && digits.chars().all(|c| c.is_ascii_digit() || c == '.')
            && digits.chars().filter(|&c| c == '.').count() <= 1
            && !digits.starts_with('.')
            && !digits.ends_with('.')
            && v.parse::<f64>().is_ok()
    };
    if number || v == "true" || v == "false" {
        return v.to_string();
    }
    if lang == Lang::Kql && is_timespan(v) {
        return v.to_string();
    }
    string_literal(value, lang)
}

/// Whether `v` is exactly one KQL timespan literal (`30d`, `1.5h`, `100ms`).
fn is_timespan(v: &str) -> bool {
    if !v.starts_with(|c: char| c.is_ascii_digit()) {
        return false;
    }
    let (tokens, diags) = lexer::lex(v);
    diags.is_empty()
        && tokens.len() == 2
        && matches!(tokens[0].kind, TokenKind::Timespan(_))
        && tokens[0].span == Span::new(0, v.len())
}

/// A double-quoted KQL string literal / single-quoted SQL string literal holding `value`.
pub fn string_literal(value: &str, lang: Lang) -> String {
    match lang {
        Lang::Kql => format!("\"{}\"", escape_kql(value, '"')),
        Lang::Sql => format!("'{}'", value.replace('\'', "''")),
    }
}

/// A literal quoted with the parameter's `quote` (KQL `'` or `"`; SQL always `'`).
fn quoted_literal(value: &str, quote: &str, lang: Lang) -> String {
    match (lang, quote) {
        (Lang::Kql, "'") => format!("'{}'", escape_kql(value, '\'')),
        _ => string_literal(value, lang),
    }
}

/// Escapes text for a KQL `"`/`'` literal with backslash escapes.
fn escape_kql(value: &str, quote: char) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                out.push_str(&format!("\\u{:04x}", c as u32))
            }
            c => out.push(c),
        }
    }
    out
}

/// Text inserted inside a literal of kind `q`.
fn escape_in(q: Quoting, text: &str, lang: Lang) -> String {
    match q {
        Quoting::Escaped(quote) => escape_kql(text, quote),
        Quoting::Verbatim(quote) => {
            if text.contains(['\n', '\r']) {
                // Close the verbatim literal, add a regular one, reopen: KQL concatenates them.
                format!("{quote} {} @{quote}", string_literal(text, lang))
            } else {
                text.replace(quote, &format!("{quote}{quote}"))
            }
        }
        Quoting::Fenced => {
            if text.contains("```") {
                format!("``` {} ```", string_literal(text, lang))
            } else {
                text.to_string()
            }
        }
        Quoting::SqlString => text.replace('\'', "''"),
        Quoting::SqlIdent => text.replace('"', "\"\""),
    }
}

fn escape_json(value: &str) -> String {
    let quoted = serde_json::to_string(value).unwrap_or_default();
    quoted[1..quoted.len() - 1].to_string()
}

/// RFC 3339 with milliseconds, as workbooks print times.
pub fn iso(ns: i64) -> String {
    chrono::DateTime::from_timestamp_nanos(ns)
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string()
}

fn day(ns: i64) -> i64 {
    const DAY: i64 = 86_400_000_000_000;
    ns.div_euclid(DAY) * DAY
}

/// A nanosecond duration as the shortest exact KQL timespan literal (`30d`, `90m`, `1500ms`).
pub fn timespan_literal(ns: i64) -> String {
    const UNITS: &[(i64, &str)] = &[
        (86_400_000_000_000, "d"),
        (3_600_000_000_000, "h"),
        (60_000_000_000, "m"),
        (1_000_000_000, "s"),
        (1_000_000, "ms"),
    ];
    for (size, unit) in UNITS {
        if ns != 0 && ns % size == 0 {
            return format!("{}{unit}", ns / size);
        }
    }
    format!("{}tick", ns / 100)
}

/// "30 days", "24 hours", "90 minutes".
fn duration_words(ns: i64) -> String {
    const UNITS: &[(i64, &str)] = &[
        (86_400_000_000_000, "day"),
        (3_600_000_000_000, "hour"),
        (60_000_000_000, "minute"),
        (1_000_000_000, "second"),
    ];
    for (size, unit) in UNITS {
        // Azure says "Last 24 hours", "Last 48 hours", then "Last 3 days".
        if *unit == "day" && ns < 3 * size {
            continue;
        }
        if ns % size == 0 && ns >= *size {
            let n = ns / size;
            return if n == 1 {
                unit.to_string()
            } else {
                format!("{n} {unit}s")
            };
        }
    }
    format!("{} ms", ns / 1_000_000)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    struct Map(HashMap<String, Resolved>);
    impl Scope for Map {
        fn lookup(&self, name: &str) -> Option<&Resolved> {
            self.0.get(name)
        }
        fn names(&self) -> Vec<String> {
            let mut n: Vec<_> = self.0.keys().cloned().collect();
            n.sort();
            n
        }
    }

    fn one(v: &str, authored: bool) -> Resolved {
        Resolved::One {
            value: v.into(),
            label: Some(format!("label of {v}")),
            authored,
        }
    }

    fn scope(entries: &[(&str, Resolved)]) -> Map {
        Map(entries
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect())
    }

    fn kql(q: &str, s: &Map) -> String {
        bind_query(q, Lang::Kql, s).unwrap().text
    }

    #[test]
    fn inside_strings_values_are_escaped_for_the_literal() {
        let s = scope(&[("P", one("a\"b'c\\d\ne", false))]);
        assert_eq!(
            kql(r#"T | where x == "{P}""#, &s),
            r#"T | where x == "a\"b'c\\d\ne""#
        );
        assert_eq!(
            kql("T | where x == '{P:value}'", &s),
            r#"T | where x == 'a"b\'c\\d\ne'"#
        );
        assert_eq!(
            kql(r#"T | where x == @"pre{P}post""#, &s),
            r#"T | where x == @"pre" "a\"b'c\\d\ne" @"post""#
        );
        let s = scope(&[("P", one("say \"hi\"", false))]);
        assert_eq!(kql(r#"print @"{P}""#, &s), r#"print @"say ""hi""""#);
    }

    #[test]
    fn outside_strings_values_become_typed_literals() {
        let s = scope(&[
            ("N", one("10", false)),
            ("S", one("30d", false)),
            ("X", one("| union SigninLogs", false)),
            ("A", one("| take 1", true)),
        ]);
        assert_eq!(kql("T | take {N}", &s), "T | take 10");
        assert_eq!(
            kql("T | where t > ago({S:value})", &s),
            "T | where t > ago(30d)"
        );
        assert_eq!(
            kql("T | where x == {X}", &s),
            r#"T | where x == "| union SigninLogs""#
        );
        // Authored text (written in the workbook) expands raw, as in Azure.
        assert_eq!(kql("T {A}", &s), "T | take 1");
    }

    #[test]
    fn multi_select_lists_are_built_by_the_engine() {
        let many = Resolved::Many {
            items: vec![("a'b".into(), None), ("c".into(), None)],
            all: false,
            all_value: None,
            authored: false,
            quote: "'".into(),
            delimiter: ",".into(),
        };
        let s = scope(&[("M", many)]);
        assert_eq!(
            kql("T | where x in ({M})", &s),
            r"T | where x in ('a\'b','c')"
        );
        let all = Resolved::Many {
            items: vec![],
            all: true,
            all_value: Some("[]".into()),
            authored: true,
            quote: "'".into(),
            delimiter: ",".into(),
        };
        let s = scope(&[("M", all)]);
        assert_eq!(kql("let s = dynamic({M});", &s), "let s = dynamic([]);");
    }

    #[test]
    fn time_ranges_expand_to_predicates() {
        let t = Resolved::Time(TimeRange {
            range: Some((0, 30 * 86_400_000_000_000)),
            duration: Some(30 * 86_400_000_000_000),
        });
        let s = scope(&[("Time", t)]);
        assert_eq!(
            kql("T | where TimeGenerated {Time}", &s),
            "T | where TimeGenerated > ago(30d)"
        );
        assert_eq!(
            kql(
                "T | where t >= {Time:start} and t < {Time:end} | summarize by bin(t, {Time:grain})",
                &s
            ),
            "T | where t >= datetime(1970-01-01T00:00:00.000Z) and t < datetime(1970-01-31T00:00:00.000Z) | summarize by bin(t, 1d)"
        );
        assert_eq!(kql("print \"{Time:label}\"", &s), "print \"Last 30 days\"");
    }

    #[test]
    fn unknown_placeholders_outside_strings_are_errors_with_a_hint() {
        let s = scope(&[("Since", one("1d", true))]);
        let e = bind_query("T | where t > ago({Snce})", Lang::Kql, &s).unwrap_err();
        assert_eq!(e[0].code, "WB0201");
        assert_eq!(e[0].span, Span::new(18, 24));
        assert!(e[0].hints[0].contains("{Since}"), "{:?}", e[0].hints);
        // Inside a string an unknown name is just text.
        assert_eq!(kql("print \"{Other}\"", &s), "print \"{Other}\"");
    }

    #[test]
    fn spans_map_back_to_the_placeholder() {
        let s = scope(&[("P", one("a long value", false))]);
        let b = bind_query("T | where x == {P} | bad", Lang::Kql, &s).unwrap();
        assert_eq!(b.text, "T | where x == \"a long value\" | bad");
        // `bad` in the bound text → `bad` in the original.
        let bad = b.text.find("bad").unwrap();
        assert_eq!(b.to_original(Span::new(bad, bad + 3)), Span::new(21, 24));
        // Inside the literal → the whole placeholder.
        assert_eq!(b.to_original(Span::new(17, 20)), Span::new(15, 18));
    }

    #[test]
    fn sql_binding_knows_strings_identifiers_and_comments() {
        let s = scope(&[("P", one("it's", false)), ("N", one("5", false))]);
        let b = bind_query(
            "SELECT * FROM t WHERE a = '{P}' AND b = {P} -- {P}\nLIMIT {N}",
            Lang::Sql,
            &s,
        )
        .unwrap();
        assert_eq!(
            b.text,
            "SELECT * FROM t WHERE a = 'it''s' AND b = 'it''s' -- {P}\nLIMIT 5"
        );
    }

    #[test]
    fn text_items_show_labels_for_time() {
        let t = Resolved::Time(TimeRange {
            range: Some((0, 86_400_000_000_000)),
            duration: Some(86_400_000_000_000),
        });
        let s = scope(&[("Time", t), ("P", one("v", false))]);
        assert_eq!(
            bind_text("Range: {Time}, {P}, {P:label}, {Q}", &s),
            "Range: Last 24 hours, v, label of v, {Q}"
        );
    }
}

/// Property tests: whatever a value holds, binding keeps the query's token structure and the
/// value arrives intact.
#[cfg(test)]
mod injection {
    use super::*;
    use proptest::prelude::*;

    struct One(Resolved);
    impl Scope for One {
        fn lookup(&self, name: &str) -> Option<&Resolved> {
            (name == "P").then_some(&self.0)
        }
        fn names(&self) -> Vec<String> {
            vec!["P".into()]
        }
    }

    /// Token shape of KQL text: adjacent string literals merged (KQL concatenates them), literal
    /// contents abstracted; plus the decoded string values in order.
    fn shape(text: &str) -> (Vec<String>, Vec<String>) {
        let (tokens, diags) = lexer::lex(text);
        assert!(
            diags.is_empty(),
            "bound text does not lex: {text:?}: {diags:?}"
        );
        let mut shape: Vec<String> = Vec::new();
        let mut strings: Vec<String> = Vec::new();
        for t in tokens {
            match t.kind {
                TokenKind::Str { value, .. } => {
                    if shape.last().map(String::as_str) == Some("<str>") {
                        strings.last_mut().expect("a string").push_str(&value);
                    } else {
                        shape.push("<str>".into());
                        strings.push(value);
                    }
                }
                TokenKind::Int(_) | TokenKind::Real(_) | TokenKind::Timespan(_) => {
                    shape.push("<num>".into())
                }
                other => shape.push(format!("{other:?}")),
            }
        }
        (shape, strings)
    }

    fn hostile() -> impl Strategy<Value = String> {
        let piece = prop_oneof![
            Just("\"".to_string()),
            Just("'".to_string()),
            Just("\\".to_string()),
            Just("|".to_string()),
            Just("\n".to_string()),
            Just("\r\n".to_string()),
            Just("\"; | union SigninLogs".to_string()),
            Just("' | take 1 //".to_string()),
            Just("{Other}".to_string()),
            Just("{P}".to_string()),
            Just("{P:value}".to_string()),
            Just("```".to_string()),
            Just("@\"".to_string()),
            Just("//".to_string()),
            Just("é漢🙂\u{202e}".to_string()),
            Just("\u{0}\u{7}".to_string()),
            Just("\t".to_string()),
            Just("]) ; let x = 1".to_string()),
            "[a-z0-9 .]{0,6}",
        ];
        prop::collection::vec(piece, 0..8).prop_map(|v| v.concat())
    }

    const INSIDE: &[&str] = &[
        "AuditLogs | where OperationName == \"{P}\" | take 1",
        "AuditLogs | where OperationName == '{P}' | take 1",
        "AuditLogs | where OperationName == @\"{P}\" | take 1",
        "AuditLogs | where OperationName == @'{P}' | take 1",
        "AuditLogs | where OperationName == h\"{P}\" | take 1",
        "AuditLogs | extend x = ```{P}``` | take 1",
    ];

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn values_inside_strings_keep_the_structure_and_arrive_intact(v in hostile()) {
            let scope = One(Resolved::One { value: v.clone(), label: None, authored: false });
            for template in INSIDE {
                let bound = bind_query(template, Lang::Kql, &scope).unwrap();
                let benign = template.replace("{P}", "x");
                let (s1, strings) = shape(&bound.text);
                let (s2, _) = shape(&benign);
                prop_assert_eq!(&s1, &s2, "structure changed: {:?} -> {:?}", template, bound.text);
                prop_assert_eq!(&strings[0], &v, "value changed in {:?}", bound.text);
            }
        }

        #[test]
        fn values_outside_strings_become_one_literal(v in hostile()) {
            let scope = One(Resolved::One { value: v.clone(), label: None, authored: false });
            let template = "AuditLogs | where OperationName == {P} | take 1";
            let bound = bind_query(template, Lang::Kql, &scope).unwrap();
            let (s1, strings) = shape(&bound.text);
            let (s_str, _) = shape(&template.replace("{P}", "\"x\""));
            let (s_num, _) = shape(&template.replace("{P}", "1"));
            prop_assert!(s1 == s_str || s1 == s_num, "structure changed: {:?}", bound.text);
            if s1 == s_str {
                prop_assert_eq!(&strings[0], &v);
            }
        }

        #[test]
        fn multi_select_values_stay_a_list_of_literals(
            vs in prop::collection::vec(hostile(), 1..5),
            quote in prop_oneof![Just("'".to_string()), Just("\"".to_string()), Just(String::new())],
        ) {
            let scope = One(Resolved::Many {
                items: vs.iter().map(|v| (v.clone(), None)).collect(),
                all: false,
                all_value: None,
                authored: false,
                quote,
                delimiter: ",".into(),
            });
            let template = "AuditLogs | where OperationName in ({P}) | take 1";
            let bound = bind_query(template, Lang::Kql, &scope).unwrap();
            let (shape, _) = shape(&bound.text);
            // `AuditLogs | where OperationName in (` literal (`,` literal)* `) | take 1`.
            let head = 6;
            let inner = &shape[head..shape.len() - 5];
            prop_assert_eq!(inner.len(), 2 * vs.len() - 1, "{:?}", bound.text);
            for (i, tok) in inner.iter().enumerate() {
                if i % 2 == 0 {
                    prop_assert!(tok == "<str>" || tok == "<num>", "{:?}", bound.text);
                } else {
                    prop_assert_eq!(tok.as_str(), "Punct(\",\")");
                }
            }
        }

        #[test]
        fn sql_values_keep_the_structure(v in hostile()) {
            use datafusion::sql::sqlparser::dialect::GenericDialect;
            use datafusion::sql::sqlparser::tokenizer::{Token, Tokenizer};
            let scope = One(Resolved::One { value: v.clone(), label: None, authored: false });
            let template = "SELECT * FROM \"AuditLogs\" WHERE \"OperationName\" = '{P}' OR \"Category\" = {P} LIMIT 1";
            let bound = bind_query(template, Lang::Sql, &scope).unwrap();
            let tokens = |s: &str| -> Vec<Token> {
                Tokenizer::new(&GenericDialect {}, s)
                    .tokenize()
                    .unwrap()
                    .into_iter()
                    .filter(|t| !matches!(t, Token::Whitespace(_)))
                    .collect()
            };
            let got = tokens(&bound.text);
            let benign = tokens(&template.replace("{P}", "x").replace("= x", "= 'x'"));
            prop_assert_eq!(got.len(), benign.len(), "{:?}", bound.text);
            let strings: Vec<&Token> = got.iter().filter(|t| matches!(t, Token::SingleQuotedString(_) | Token::Number(..))).collect();
            // The two placeholders, then `LIMIT 1`.
            prop_assert_eq!(strings.len(), 3, "{:?}", bound.text);
            prop_assert_eq!(strings[0], &Token::SingleQuotedString(v.clone()));
            prop_assert!(
                strings[1] == &Token::SingleQuotedString(v.clone())
                    || matches!(strings[1], Token::Number(..)),
                "{:?}", bound.text
            );
        }
    }
}
