//! One diagnostic type for the whole tool, rendered like a compiler's.
//!
//! A [`Diagnostic`] has a stable code (`KQL0101`), a severity, a message, a primary byte
//! [`Span`] in the source, secondary labels and `help` hints. [`Diagnostic::render`] prints it as
//! plain text (no colour, so snapshots and pipes are stable):
//!
//! ```text
//! error[KQL0101]: unknown query operator `projectaway`
//!  --> query.kql:1:13
//!   |
//! 1 | AuditLogs | projectaway Id
//!   |             ^^^^^^^^^^^ not a query operator
//!   |
//!   = help: did you mean `project-away`?
//! ```
//!
//! [`Diagnostic::to_json`] gives the machine-readable form (`--format json`): code, severity,
//! message, 1-based line/column of the span's start and end (columns count characters), hints.
//!
//! Hand-written rather than `annotate-snippets`/`ariadne`: the output is small, must be
//! byte-stable for snapshot tests, and needs no terminal handling.

use std::fmt::Write as _;

use serde::Serialize;

/// A byte range `start..end` in the source text.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}

impl Span {
    pub fn new(start: usize, end: usize) -> Self {
        Span { start, end }
    }

    /// The smallest span covering both.
    pub fn to(self, other: Span) -> Span {
        Span {
            start: self.start.min(other.start),
            end: self.end.max(other.end),
        }
    }

    pub fn len(self) -> usize {
        self.end.saturating_sub(self.start)
    }

    pub fn is_empty(self) -> bool {
        self.len() == 0
    }
}

impl std::fmt::Display for Span {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}..{}", self.start, self.end)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }
}

/// A problem found in a source text, with where it is and how to fix it.
#[derive(Clone, Debug, PartialEq)]
pub struct Diagnostic {
    /// Stable code, e.g. `KQL0101`; documented where the codes are defined.
    pub code: &'static str,
    pub severity: Severity,
    pub message: String,
    /// The primary span (underlined with `^`).
    pub span: Span,
    /// Labelled spans; a label on exactly `span` is printed beside the `^` underline, the others
    /// are underlined with `-`.
    pub labels: Vec<(Span, String)>,
    /// `= help: ...` lines.
    pub hints: Vec<String>,
}

/// Machine-readable form of a diagnostic (positions are 1-based; columns count characters).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DiagnosticJson {
    pub code: &'static str,
    pub severity: Severity,
    pub message: String,
    pub line: usize,
    pub column: usize,
    pub end_line: usize,
    pub end_column: usize,
    pub hints: Vec<String>,
}

impl Diagnostic {
    pub fn error(code: &'static str, message: impl Into<String>, span: Span) -> Self {
        Diagnostic {
            code,
            severity: Severity::Error,
            message: message.into(),
            span,
            labels: Vec::new(),
            hints: Vec::new(),
        }
    }

    pub fn warning(code: &'static str, message: impl Into<String>, span: Span) -> Self {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(code, message, span)
        }
    }

    /// Adds a label; a label on the primary span annotates its `^` underline.
    pub fn with_label(mut self, span: Span, text: impl Into<String>) -> Self {
        self.labels.push((span, text.into()));
        self
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hints.push(hint.into());
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// The machine-readable form, positions computed against `src`.
    pub fn to_json(&self, src: &str) -> DiagnosticJson {
        let (line, column) = line_col(src, self.span.start);
        let (end_line, end_column) = line_col(src, self.span.end);
        DiagnosticJson {
            code: self.code,
            severity: self.severity,
            message: self.message.clone(),
            line,
            column,
            end_line,
            end_column,
            hints: self.hints.clone(),
        }
    }

    /// Renders as plain text, `file` naming the source in the `-->` line.
    pub fn render(&self, file: &str, src: &str) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{}[{}]: {}",
            self.severity.as_str(),
            self.code,
            self.message
        );
        let (line, col) = line_col(src, self.span.start);
        let lines: Vec<&str> = src.split('\n').collect();

        // Markers: (span, text, primary), the primary one first.
        let primary_label = self
            .labels
            .iter()
            .find(|(s, _)| *s == self.span)
            .map(|(_, t)| t.clone())
            .unwrap_or_default();
        let mut markers: Vec<(Span, String, bool)> = vec![(self.span, primary_label, true)];
        for (s, t) in &self.labels {
            if *s != self.span {
                markers.push((*s, t.clone(), false));
            }
        }
        let last_line = markers
            .iter()
            .map(|(s, _, _)| line_col(src, clamp(src, s.end)).0)
            .max()
            .unwrap_or(line);
        let gutter = last_line.to_string().len();
        let pad = " ".repeat(gutter);
        let _ = writeln!(out, "{pad}--> {file}:{line}:{col}");
        let _ = writeln!(out, "{pad} |");

        // Each marker contributes its lines; lines are printed once, in order, with the
        // underlines of every marker touching them.
        let mut rows: Vec<(usize, Vec<(usize, usize, char, String)>)> = Vec::new();
        for (span, text, primary) in &markers {
            let (l1, c1) = line_col(src, clamp(src, span.start));
            let (l2, c2) = line_col(src, clamp(src, span.end));
            let ch = if *primary { '^' } else { '-' };
            let span_lines: Vec<usize> = if l2 - l1 <= 3 {
                (l1..=l2).collect()
            } else {
                vec![l1, l1 + 1, l2]
            };
            for &l in &span_lines {
                let text_len = lines.get(l - 1).map_or(0, |s| display(s).chars().count());
                let from = if l == l1 { c1 } else { 1 };
                let mut to = if l == l2 { c2 } else { text_len + 1 };
                if to <= from {
                    to = from + 1; // empty span (end of input): one caret
                }
                // Multi-line spans: empty line tails get no underline.
                if l != l1 && l != l2 && text_len == 0 {
                    continue;
                }
                let label = if l == l2 { text.clone() } else { String::new() };
                match rows.iter_mut().find(|(rl, _)| *rl == l) {
                    Some((_, v)) => v.push((from, to, ch, label)),
                    None => rows.push((l, vec![(from, to, ch, label)])),
                }
            }
        }
        rows.sort_by_key(|(l, _)| *l);
        for (_, marks) in &mut rows {
            marks.sort_by_key(|m| m.0);
        }
        let mut prev: Option<usize> = None;
        for (l, marks) in &rows {
            if let Some(p) = prev
                && *l > p + 1
            {
                let _ = writeln!(out, "{:>gutter$}", "...");
            }
            prev = Some(*l);
            let text = lines.get(l - 1).map(|s| display(s)).unwrap_or_default();
            let text = text.trim_end();
            // A long line (a whole query on one line of a JSON workbook) is shown as a window
            // around its markers, cut ends marked with `…`.
            let chars: Vec<char> = text.chars().collect();
            let (first, last) = marks
                .iter()
                .fold((usize::MAX, 0), |(a, b), m| (a.min(m.0), b.max(m.1)));
            let (shown, shift) = if chars.len() > LONG_LINE {
                let start = first.saturating_sub(CONTEXT).max(1);
                let end = (last + CONTEXT)
                    .max(start + LONG_LINE - 2 * CONTEXT)
                    .min(chars.len() + 1);
                let mut shown: String = chars[start - 1..end - 1].iter().collect();
                let mut shift = start as isize - 1;
                if start > 1 {
                    shown.insert(0, '…');
                    shift -= 1;
                }
                if end <= chars.len() {
                    shown.push('…');
                }
                (shown, shift)
            } else {
                (text.to_string(), 0)
            };
            let _ = writeln!(out, "{l:>gutter$} | {shown}");
            for (from, to, ch, label) in marks {
                let (from, to) = (
                    (*from as isize - shift).max(1) as usize,
                    (*to as isize - shift).max(2) as usize,
                );
                let (from, to) = (&from, &to);
                let mut u = String::new();
                u.push_str(&" ".repeat(from - 1));
                u.push_str(&ch.to_string().repeat(to - from));
                if !label.is_empty() {
                    u.push(' ');
                    u.push_str(label);
                }
                let _ = writeln!(out, "{pad} | {u}");
            }
        }
        if !self.hints.is_empty() {
            let _ = writeln!(out, "{pad} |");
            for h in &self.hints {
                let _ = writeln!(out, "{pad} = help: {h}");
            }
        }
        out
    }
}

/// Lines longer than this (in characters) are shown as a window around the markers.
const LONG_LINE: usize = 140;
/// Characters of context kept on each side of the markers in a long line.
const CONTEXT: usize = 40;

/// Renders several diagnostics, separated by blank lines, with a closing count line
/// (`error: 2 errors, 1 warning`) when there are any.
pub fn render_all(diagnostics: &[Diagnostic], file: &str, src: &str) -> String {
    let mut out = String::new();
    for d in diagnostics {
        out.push_str(&d.render(file, src));
        out.push('\n');
    }
    let errors = diagnostics.iter().filter(|d| d.is_error()).count();
    let warnings = diagnostics.len() - errors;
    if !diagnostics.is_empty() {
        let plural = |n: usize, w: &str| format!("{n} {w}{}", if n == 1 { "" } else { "s" });
        let _ = writeln!(
            out,
            "{}: {}, {}",
            if errors > 0 { "error" } else { "warning" },
            plural(errors, "error"),
            plural(warnings, "warning")
        );
    }
    out
}

/// 1-based line and column (in characters) of byte `offset` in `src`.
pub fn line_col(src: &str, offset: usize) -> (usize, usize) {
    let offset = clamp(src, offset);
    let before = &src[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let col = display(&src[line_start..offset]).chars().count() + 1;
    (line, col)
}

/// `offset` moved back to a char boundary within `src`.
fn clamp(src: &str, offset: usize) -> usize {
    let mut o = offset.min(src.len());
    while !src.is_char_boundary(o) {
        o -= 1;
    }
    o
}

/// A source line as printed: tabs become one space (columns stay aligned), `\r` dropped.
fn display(s: &str) -> String {
    s.chars()
        .filter(|&c| c != '\r')
        .map(|c| if c == '\t' { ' ' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_caret_label_and_hint() {
        let src = "AuditLogs\n| projectaway Id";
        let d = Diagnostic::error(
            "KQL0101",
            "unknown query operator `projectaway`",
            Span::new(12, 23),
        )
        .with_label(Span::new(12, 23), "not a query operator")
        .with_hint("did you mean `project-away`?");
        assert_eq!(
            d.render("q.kql", src),
            "error[KQL0101]: unknown query operator `projectaway`\n \
             --> q.kql:2:3\n  |\n2 | | projectaway Id\n  |   ^^^^^^^^^^^ not a query operator\n  |\n  \
             = help: did you mean `project-away`?\n"
        );
    }

    #[test]
    fn secondary_labels_and_multiline() {
        let src = "a (\nb\nc";
        let d = Diagnostic::error("KQL0102", "unclosed", Span::new(6, 7))
            .with_label(Span::new(2, 3), "opened here");
        let r = d.render("f", src);
        assert!(r.contains("1 | a (\n  |   - opened here\n"), "{r}");
        assert!(r.contains("...\n3 | c\n  | ^\n"), "{r}");
    }

    #[test]
    fn json_positions_are_one_based_chars() {
        let src = "é\nab cd";
        let d = Diagnostic::warning("KQL0150", "m", Span::new(6, 8)).with_hint("h");
        let j = d.to_json(src);
        assert_eq!((j.line, j.column, j.end_line, j.end_column), (2, 4, 2, 6));
        let v = serde_json::to_value(&j).unwrap();
        assert_eq!(v["severity"], "warning");
        assert_eq!(v["hints"][0], "h");
    }

    #[test]
    fn empty_span_at_end_gets_one_caret() {
        let src = "T | where";
        let d = Diagnostic::error("KQL0103", "expected an expression", Span::new(9, 9));
        assert!(d.render("f", src).contains("  |          ^\n"));
    }

    #[test]
    fn summary_line() {
        let d = Diagnostic::error("X", "m", Span::new(0, 1));
        assert!(render_all(&[d.clone(), d], "f", "ab").ends_with("error: 2 errors, 0 warnings\n"));
    }
}
