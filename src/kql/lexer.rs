//! KQL lexer: source text → tokens, each with its byte span.
//!
//! Keywords are contextual (KQL has no reserved words beyond a few operators), so words are all
//! [`TokenKind::Ident`]; the parser decides what a word means where it stands. Two exceptions:
//! the hyphenated operator names (`project-away`, `mv-expand`, ...) are one token when written
//! without spaces, and `$left`/`$right` are identifiers.
//!
//! Literal forms: strings in both quotes with escapes, verbatim `@"..."`, multi-line
//! ```` ```...``` ````, obfuscated `h"..."`; numbers (int, real, `1e3`, hex); timespans (`1d`,
//! `90m`, `100ms`, `1tick`, `1.5h`, ...) stored in ticks of 100 ns; the parenthesised contents of
//! `datetime(...)`, `time(...)`, `timespan(...)`, `guid(...)` as one [`TokenKind::Raw`] token
//! (they hold `2024-01-01 10:00` or GUID text that is not KQL tokens).
//!
//! Bracketed identifiers `['name']` are recognised by the parser (`[` string `]` in operand
//! position): only context tells them from an index `x['a']` or a dynamic array.
//!
//! Workbook placeholders `{Name}` / `{Name:format}` are [`TokenKind::Placeholder`] tokens; inside
//! string literals their spans are recorded on the string token.

use crate::diagnostic::{Diagnostic, Span};

/// Ticks (100 ns) per unit.
const TICKS_PER_SECOND: f64 = 10_000_000.0;

/// The hyphenated operator names lexed as one identifier.
pub const HYPHENATED: &[&str] = &[
    "project-away",
    "project-keep",
    "project-rename",
    "project-reorder",
    "mv-expand",
    "mv-apply",
    "make-series",
    "parse-where",
    "parse-kv",
    "top-nested",
    "top-hitters",
    "sample-distinct",
    "make-graph",
    "graph-match",
];

#[derive(Clone, Debug, PartialEq)]
pub enum TokenKind {
    /// A word: identifier or contextual keyword, incl. `$left`, `$right`, `project-away`.
    Ident(String),
    /// A string literal, decoded; `placeholders` are spans (in the source) of `{Name...}`
    /// workbook placeholders inside it. Adjacent literals are concatenated by the parser.
    Str {
        value: String,
        placeholders: Vec<Span>,
    },
    Int(i64),
    Real(f64),
    /// A timespan literal in ticks (100 ns).
    Timespan(i64),
    /// The trimmed text between the parentheses of `datetime(...)`, `time(...)`, `guid(...)`.
    Raw(String),
    /// A workbook placeholder `{Name}` or `{Name:format}`.
    Placeholder {
        name: String,
        format: Option<String>,
    },
    /// Punctuation and operators: `== != =~ !~ < <= > >= + - * / % | , ; ( ) [ ] { } . .. = => : !`.
    Punct(&'static str),
    Eof,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Token {
    pub kind: TokenKind,
    pub span: Span,
}

impl Token {
    pub fn is_punct(&self, p: &str) -> bool {
        matches!(&self.kind, TokenKind::Punct(q) if *q == p)
    }

    /// Whether this token is the word `w` (ASCII case-sensitive, as KQL is).
    pub fn is_word(&self, w: &str) -> bool {
        matches!(&self.kind, TokenKind::Ident(s) if s == w)
    }

    pub fn word(&self) -> Option<&str> {
        match &self.kind {
            TokenKind::Ident(s) => Some(s),
            _ => None,
        }
    }

    /// A short description for "expected X, found Y" messages.
    pub fn describe(&self) -> String {
        match &self.kind {
            TokenKind::Ident(s) => format!("`{s}`"),
            TokenKind::Str { .. } => "a string literal".into(),
            TokenKind::Int(_) | TokenKind::Real(_) => "a number".into(),
            TokenKind::Timespan(_) => "a timespan literal".into(),
            TokenKind::Raw(_) => "literal text".into(),
            TokenKind::Placeholder { name, .. } => format!("placeholder `{{{name}}}`"),
            TokenKind::Punct(p) => format!("`{p}`"),
            TokenKind::Eof => "end of input".into(),
        }
    }
}

const PUNCTS: &[&str] = &[
    "==", "!=", "=~", "!~", "<=", ">=", "=>", "..", "<", ">", "+", "-", "*", "/", "%", "|", ",",
    ";", "(", ")", "[", "]", "{", "}", ".", "=", ":", "!", "?", "~",
];

/// Timespan unit suffixes and their length in ticks.
fn unit_ticks(unit: &str) -> Option<f64> {
    Some(match unit {
        "d" | "day" | "days" => 86_400.0 * TICKS_PER_SECOND,
        "h" | "hr" | "hrs" | "hour" | "hours" => 3_600.0 * TICKS_PER_SECOND,
        "m" | "min" | "minute" | "minutes" => 60.0 * TICKS_PER_SECOND,
        "s" | "sec" | "second" | "seconds" => TICKS_PER_SECOND,
        "ms" | "milli" | "millis" | "millisecond" | "milliseconds" => TICKS_PER_SECOND / 1e3,
        "microsecond" | "microseconds" => 10.0,
        "tick" | "ticks" => 1.0,
        _ => return None,
    })
}

/// Words whose parenthesised argument is raw literal text.
const RAW_CALLS: &[&str] = &["datetime", "date", "time", "timespan", "guid"];

struct Lexer<'a> {
    src: &'a str,
    bytes: &'a [u8],
    pos: usize,
    tokens: Vec<Token>,
    diags: Vec<Diagnostic>,
}

/// Lexes `src` into tokens (ending with [`TokenKind::Eof`]) and lexical diagnostics. Never
/// panics; a bad character or literal gives a diagnostic and lexing goes on.
pub fn lex(src: &str) -> (Vec<Token>, Vec<Diagnostic>) {
    let mut lx = Lexer {
        src,
        bytes: src.as_bytes(),
        pos: 0,
        tokens: Vec::new(),
        diags: Vec::new(),
    };
    lx.run();
    let end = src.len();
    lx.tokens.push(Token {
        kind: TokenKind::Eof,
        span: Span::new(end, end),
    });
    (lx.tokens, lx.diags)
}

fn is_ident_start(c: char) -> bool {
    c.is_alphabetic() || c == '_' || c == '$'
}

fn is_ident_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

impl<'a> Lexer<'a> {
    fn peek_char(&self, at: usize) -> Option<char> {
        self.src.get(at..).and_then(|s| s.chars().next())
    }

    fn push(&mut self, kind: TokenKind, start: usize) {
        self.tokens.push(Token {
            kind,
            span: Span::new(start, self.pos),
        });
    }

    fn run(&mut self) {
        while let Some(c) = self.peek_char(self.pos) {
            let start = self.pos;
            if c.is_whitespace() {
                self.pos += c.len_utf8();
                continue;
            }
            if self.src[start..].starts_with("//") {
                while let Some(c) = self.peek_char(self.pos) {
                    if c == '\n' {
                        break;
                    }
                    self.pos += c.len_utf8();
                }
                continue;
            }
            if self.src[start..].starts_with("```") {
                self.multiline_string(start);
                continue;
            }
            if c == '"' || c == '\'' {
                self.string(start, start, false);
                continue;
            }
            // @"verbatim", h"obfuscated", h@"obfuscated verbatim"
            let rest = &self.src[start..];
            // (prefixes, length of the prefix before the quote, verbatim)
            let string_forms: [(&[&str], usize, bool); 3] = [
                (&["@\"", "@'"], 1, true),
                (&["h\"", "h'", "H\"", "H'"], 1, false),
                (&["h@\"", "h@'", "H@\"", "H@'"], 2, true),
            ];
            if let Some((_, prefix, verbatim)) = string_forms
                .iter()
                .find(|(prefixes, _, _)| prefixes.iter().any(|p| rest.starts_with(p)))
            {
                self.string(start, start + prefix, *verbatim);
                continue;
            }
            if c == '{'
                && let Some((name, format, len)) = placeholder_at(rest)
            {
                self.pos += len;
                self.push(TokenKind::Placeholder { name, format }, start);
                continue;
            }
            if c.is_ascii_digit()
                || (c == '.'
                    && self
                        .peek_char(start + 1)
                        .is_some_and(|d| d.is_ascii_digit())
                    && !self.prev_is_operand())
            {
                self.number(start);
                continue;
            }
            if is_ident_start(c) {
                self.word(start);
                continue;
            }
            if let Some(p) = PUNCTS.iter().find(|p| rest.starts_with(**p)) {
                self.pos += p.len();
                self.push(TokenKind::Punct(p), start);
                continue;
            }
            self.pos += c.len_utf8();
            self.diags.push(
                Diagnostic::error(
                    "KQL0001",
                    format!("unexpected character `{}`", c.escape_debug()),
                    Span::new(start, self.pos),
                )
                .with_label(Span::new(start, self.pos), "not part of any KQL token"),
            );
        }
    }

    /// Whether the previous token ends an operand (so `.5` after it is member access, not a number).
    fn prev_is_operand(&self) -> bool {
        matches!(
            self.tokens.last().map(|t| &t.kind),
            Some(TokenKind::Ident(_)) | Some(TokenKind::Punct(")")) | Some(TokenKind::Punct("]"))
        )
    }

    fn word(&mut self, start: usize) {
        let mut end = start;
        let mut first = true;
        while let Some(c) = self.peek_char(end) {
            if is_ident_char(c) || (first && c == '$') {
                end += c.len_utf8();
                first = false;
            } else {
                break;
            }
        }
        // Hyphenated operator names.
        for h in HYPHENATED {
            if self.src[start..].starts_with(h)
                && !self.peek_char(start + h.len()).is_some_and(is_ident_char)
            {
                end = start + h.len();
                break;
            }
        }
        self.pos = end;
        let w = self.src[start..end].to_string();
        let raw = RAW_CALLS.contains(&w.as_str());
        self.push(TokenKind::Ident(w), start);
        if raw {
            self.raw_call_argument();
        }
    }

    /// After `datetime` & co.: `(` raw text `)` unless the argument is a string literal.
    fn raw_call_argument(&mut self) {
        let mut p = self.pos;
        while let Some(c) = self.peek_char(p) {
            if c.is_whitespace() {
                p += c.len_utf8();
            } else {
                break;
            }
        }
        if self.peek_char(p) != Some('(') {
            return;
        }
        let open = p;
        let inner_start = open + 1;
        let Some(close_rel) = self.src[inner_start..].find(|c| c == ')' || c == '\n' || c == '(')
        else {
            return; // the parser reports the missing `)`
        };
        let close = inner_start + close_rel;
        if !self.src[close..].starts_with(')') {
            return;
        }
        let inner = self.src[inner_start..close].trim();
        if inner.starts_with('"') || inner.starts_with('\'') || inner.starts_with('@') {
            return;
        }
        self.pos = open;
        self.pos += 1;
        self.push(TokenKind::Punct("("), open);
        let lead =
            self.src[inner_start..close].len() - self.src[inner_start..close].trim_start().len();
        let raw_start = inner_start + lead;
        self.pos = raw_start + inner.len();
        self.push(TokenKind::Raw(inner.to_string()), raw_start);
        self.pos = close + 1;
        self.push(TokenKind::Punct(")"), close);
    }

    fn number(&mut self, start: usize) {
        let b = self.bytes;
        let mut p = start;
        // Hex.
        if b[p..].starts_with(b"0x") || b[p..].starts_with(b"0X") {
            p += 2;
            let hs = p;
            while p < b.len() && b[p].is_ascii_hexdigit() {
                p += 1;
            }
            self.pos = p;
            match i64::from_str_radix(&self.src[hs..p], 16) {
                Ok(v) if p > hs => self.push(TokenKind::Int(v), start),
                _ => {
                    self.push(TokenKind::Int(0), start);
                    self.diags.push(Diagnostic::error(
                        "KQL0004",
                        "invalid hexadecimal number",
                        Span::new(start, p),
                    ));
                }
            }
            return;
        }
        while p < b.len() && b[p].is_ascii_digit() {
            p += 1;
        }
        let mut real = false;
        // A fraction, but not the `..` of `between (1 .. 2)`.
        if p < b.len() && b[p] == b'.' && !b[p..].starts_with(b"..") {
            real = true;
            p += 1;
            while p < b.len() && b[p].is_ascii_digit() {
                p += 1;
            }
        }
        // Exponent.
        if p < b.len() && (b[p] == b'e' || b[p] == b'E') {
            let mut q = p + 1;
            if q < b.len() && (b[q] == b'+' || b[q] == b'-') {
                q += 1;
            }
            if q < b.len() && b[q].is_ascii_digit() {
                while q < b.len() && b[q].is_ascii_digit() {
                    q += 1;
                }
                real = true;
                p = q;
            }
        }
        let num_end = p;
        // A unit suffix: timespan.
        let mut q = p;
        while let Some(c) = self.peek_char(q) {
            if is_ident_char(c) {
                q += c.len_utf8();
            } else {
                break;
            }
        }
        let text = &self.src[start..num_end];
        if q > num_end {
            let unit = &self.src[num_end..q];
            self.pos = q;
            match (unit_ticks(unit), text.parse::<f64>()) {
                (Some(t), Ok(v)) if (v * t).abs() < 9.2e18 => {
                    self.push(TokenKind::Timespan((v * t).round() as i64), start)
                }
                (Some(_), _) => {
                    self.push(TokenKind::Timespan(0), start);
                    self.diags.push(Diagnostic::error(
                        "KQL0007",
                        "timespan literal out of range",
                        Span::new(start, q),
                    ));
                }
                (None, _) => {
                    // `1e3x`, `12abc`: one bad token, not a number followed by a word.
                    self.push(TokenKind::Int(0), start);
                    self.diags.push(
                        Diagnostic::error(
                            "KQL0004",
                            format!("invalid number suffix `{unit}`"),
                            Span::new(num_end, q),
                        )
                        .with_hint(
                            "timespan units are d, h, m, s, ms, microsecond, tick \
                             (and their long forms: day(s), hour(s), minute(s), ...)",
                        ),
                    );
                }
            }
            return;
        }
        self.pos = num_end;
        if real {
            match text.parse::<f64>() {
                Ok(v) if v.is_finite() => self.push(TokenKind::Real(v), start),
                _ => {
                    self.push(TokenKind::Real(0.0), start);
                    self.diags.push(Diagnostic::error(
                        "KQL0007",
                        "real literal out of range",
                        Span::new(start, num_end),
                    ));
                }
            }
        } else {
            match text.parse::<i64>() {
                Ok(v) => self.push(TokenKind::Int(v), start),
                Err(_) => {
                    self.push(TokenKind::Int(0), start);
                    self.diags.push(
                        Diagnostic::error(
                            "KQL0007",
                            "integer literal out of range of `long`",
                            Span::new(start, num_end),
                        )
                        .with_hint("write it as a real, e.g. `1e20`"),
                    );
                }
            }
        }
    }

    /// A quoted string whose quote is at `quote`; `start` includes any `@`/`h` prefix.
    fn string(&mut self, start: usize, quote_at: usize, verbatim: bool) {
        let quote_at = if verbatim && self.bytes[quote_at] == b'@' {
            quote_at + 1
        } else {
            quote_at
        };
        let q = self.bytes[quote_at] as char;
        let mut p = quote_at + 1;
        let mut value = String::new();
        let mut placeholders = Vec::new();
        loop {
            let c = self.peek_char(p);
            let unterminated = match c {
                None => Some(
                    Diagnostic::error(
                        "KQL0002",
                        "unterminated string literal",
                        Span::new(start, quote_at + 1),
                    )
                    .with_label(Span::new(start, quote_at + 1), "string starts here")
                    .with_hint(format!("close it with `{q}`")),
                ),
                Some('\n') => Some(
                    Diagnostic::error(
                        "KQL0002",
                        "unterminated string literal: a line break before the closing quote",
                        Span::new(start, p),
                    )
                    .with_hint("strings spanning lines are written ```like this```"),
                ),
                Some(_) => None,
            };
            let Some(c) = c.filter(|_| unterminated.is_none()) else {
                self.pos = p;
                self.push(
                    TokenKind::Str {
                        value,
                        placeholders,
                    },
                    start,
                );
                self.diags.extend(unterminated);
                return;
            };
            if c == q {
                if verbatim && self.peek_char(p + 1) == Some(q) {
                    value.push(q);
                    p += 2;
                    continue;
                }
                p += 1;
                break;
            }
            if c == '{'
                && let Some((_, _, len)) = placeholder_at(&self.src[p..])
            {
                placeholders.push(Span::new(p, p + len));
                value.push_str(&self.src[p..p + len]);
                p += len;
                continue;
            }
            if c == '\\' && !verbatim {
                let esc_start = p;
                p += 1;
                let Some(e) = self.peek_char(p) else { continue };
                p += e.len_utf8();
                match e {
                    '\\' => value.push('\\'),
                    '"' => value.push('"'),
                    '\'' => value.push('\''),
                    'n' => value.push('\n'),
                    't' => value.push('\t'),
                    'r' => value.push('\r'),
                    '0' => value.push('\0'),
                    'u' | 'x' => {
                        let n = if e == 'u' { 4 } else { 2 };
                        let hex = self.src.get(p..p + n).unwrap_or("");
                        match u32::from_str_radix(hex, 16).ok().and_then(char::from_u32) {
                            Some(ch)
                                if hex.len() == n && hex.bytes().all(|b| b.is_ascii_hexdigit()) =>
                            {
                                value.push(ch);
                                p += n;
                            }
                            _ => self.diags.push(Diagnostic::error(
                                "KQL0003",
                                format!("invalid `\\{e}` escape: expected {n} hexadecimal digits"),
                                Span::new(esc_start, p),
                            )),
                        }
                    }
                    other => {
                        value.push(other);
                        self.diags.push(
                            Diagnostic::error(
                                "KQL0003",
                                format!("unknown escape sequence `\\{}`", other.escape_debug()),
                                Span::new(esc_start, p),
                            )
                            .with_hint(
                                "escapes are \\\\ \\\" \\' \\n \\t \\r \\uXXXX; or write a verbatim \
                                 string @\"...\" where `\\` is literal",
                            ),
                        );
                    }
                }
                continue;
            }
            value.push(c);
            p += c.len_utf8();
        }
        self.pos = p;
        self.push(
            TokenKind::Str {
                value,
                placeholders,
            },
            start,
        );
    }

    fn multiline_string(&mut self, start: usize) {
        let body = start + 3;
        match self.src[body..].find("```") {
            Some(rel) => {
                let value = self.src[body..body + rel].to_string();
                let placeholders = placeholder_spans(&value, body);
                self.pos = body + rel + 3;
                self.push(
                    TokenKind::Str {
                        value,
                        placeholders,
                    },
                    start,
                );
            }
            None => {
                self.pos = self.src.len();
                let value = self.src[body..].to_string();
                self.push(
                    TokenKind::Str {
                        value,
                        placeholders: Vec::new(),
                    },
                    start,
                );
                self.diags.push(
                    Diagnostic::error(
                        "KQL0002",
                        "unterminated multi-line string literal",
                        Span::new(start, body),
                    )
                    .with_hint("close it with ```"),
                );
            }
        }
    }
}

/// Spans of the placeholders in `text`, which starts at byte `base` of the source.
fn placeholder_spans(text: &str, base: usize) -> Vec<Span> {
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(rel) = text[i..].find('{') {
        let at = i + rel;
        if let Some((_, _, len)) = placeholder_at(&text[at..]) {
            out.push(Span::new(base + at, base + at + len));
            i = at + len;
        } else {
            i = at + 1;
        }
    }
    out
}

/// A workbook placeholder at the start of `s`: `{Name}` or `{Name:format}` with `Name` a word
/// (letters, digits, `_`, not starting with a digit) and `format` a word; no spaces. Returns
/// (name, format, byte length).
pub fn placeholder_at(s: &str) -> Option<(String, Option<String>, usize)> {
    let rest = s.strip_prefix('{')?;
    let name_len = rest
        .char_indices()
        .find(|(_, c)| !is_ident_char(*c))
        .map_or(rest.len(), |(i, _)| i);
    let name = &rest[..name_len];
    if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    let after = &rest[name_len..];
    if let Some(r) = after.strip_prefix('}') {
        let _ = r;
        return Some((name.to_string(), None, 1 + name_len + 1));
    }
    let fmt_rest = after.strip_prefix(':')?;
    let fmt_len = fmt_rest
        .char_indices()
        .find(|(_, c)| !(is_ident_char(*c) || *c == '$'))
        .map_or(fmt_rest.len(), |(i, _)| i);
    if fmt_len == 0 || !fmt_rest[fmt_len..].starts_with('}') {
        return None;
    }
    Some((
        name.to_string(),
        Some(fmt_rest[..fmt_len].to_string()),
        1 + name_len + 1 + fmt_len + 1,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(src: &str) -> Vec<TokenKind> {
        let (t, d) = lex(src);
        assert!(d.is_empty(), "{d:?}");
        t.into_iter().map(|t| t.kind).collect()
    }

    fn id(s: &str) -> TokenKind {
        TokenKind::Ident(s.into())
    }

    #[test]
    fn hyphenated_operators_and_minus() {
        assert_eq!(
            kinds("T | project-away a-b | mv-expand x"),
            vec![
                id("T"),
                TokenKind::Punct("|"),
                id("project-away"),
                id("a"),
                TokenKind::Punct("-"),
                id("b"),
                TokenKind::Punct("|"),
                id("mv-expand"),
                id("x"),
                TokenKind::Eof
            ]
        );
        // A longer word is not the operator.
        assert_eq!(kinds("mv-expanded")[0], id("mv"));
    }

    #[test]
    fn timespans_in_ticks() {
        let day = 864_000_000_000;
        assert_eq!(kinds("1d")[0], TokenKind::Timespan(day));
        assert_eq!(kinds("3653d")[0], TokenKind::Timespan(3653 * day));
        assert_eq!(kinds("90m")[0], TokenKind::Timespan(90 * 600_000_000));
        assert_eq!(kinds("1.5h")[0], TokenKind::Timespan(54_000_000_000));
        assert_eq!(kinds("100ms")[0], TokenKind::Timespan(1_000_000));
        assert_eq!(kinds("1tick")[0], TokenKind::Timespan(1));
        assert_eq!(kinds("2microseconds")[0], TokenKind::Timespan(20));
        assert_eq!(kinds("10s")[0], TokenKind::Timespan(100_000_000));
    }

    #[test]
    fn numbers() {
        assert_eq!(kinds("42")[0], TokenKind::Int(42));
        assert_eq!(kinds("1e3")[0], TokenKind::Real(1000.0));
        assert_eq!(kinds("2.5")[0], TokenKind::Real(2.5));
        assert_eq!(kinds("0x1F")[0], TokenKind::Int(31));
        assert_eq!(
            kinds("1..2"),
            vec![
                TokenKind::Int(1),
                TokenKind::Punct(".."),
                TokenKind::Int(2),
                TokenKind::Eof
            ]
        );
        let (_, d) = lex("12abc");
        assert_eq!(d[0].code, "KQL0004");
        let (_, d) = lex("99999999999999999999");
        assert_eq!(d[0].code, "KQL0007");
    }

    #[test]
    fn strings_and_escapes() {
        let s = |v: &str| TokenKind::Str {
            value: v.into(),
            placeholders: vec![],
        };
        assert_eq!(kinds(r#""a\"b\n""#)[0], s("a\"b\n"));
        assert_eq!(kinds(r#"'it\'s'"#)[0], s("it's"));
        assert_eq!(kinds(r#"@"C:\dir""""#)[0], s("C:\\dir\""));
        assert_eq!(kinds(r#"h"secret""#)[0], s("secret"));
        assert_eq!(kinds("```a\nb```")[0], s("a\nb"));
        assert_eq!(kinds(r#""\u00e9""#)[0], s("é"));
        let (_, d) = lex(r#""\q""#);
        assert_eq!(d[0].code, "KQL0003");
        let (_, d) = lex("\"abc");
        assert_eq!(d[0].code, "KQL0002");
    }

    #[test]
    fn placeholders_outside_and_inside_strings() {
        let (t, d) = lex(r#"ago({Since:value}) == "{Id:value}x" {Plain}"#);
        assert!(d.is_empty());
        assert_eq!(
            t[2].kind,
            TokenKind::Placeholder {
                name: "Since".into(),
                format: Some("value".into())
            }
        );
        assert_eq!(t[2].span, Span::new(4, 17));
        assert_eq!(
            t[5].kind,
            TokenKind::Str {
                value: "{Id:value}x".into(),
                placeholders: vec![Span::new(23, 33)]
            }
        );
        assert_eq!(
            t[6].kind,
            TokenKind::Placeholder {
                name: "Plain".into(),
                format: None
            }
        );
        // A dynamic bag is not a placeholder.
        assert_eq!(kinds(r#"{"a":1}"#)[0], TokenKind::Punct("{"));
    }

    #[test]
    fn raw_datetime_and_guid_contents() {
        let k = kinds(
            "datetime(2024-01-02 10:00:00) guid(74be27de-1e4e-49d9-b579-fe0b331d3642) datetime(\"x\")",
        );
        assert_eq!(k[2], TokenKind::Raw("2024-01-02 10:00:00".into()));
        assert_eq!(
            k[6],
            TokenKind::Raw("74be27de-1e4e-49d9-b579-fe0b331d3642".into())
        );
        assert!(matches!(k[10], TokenKind::Str { .. }));
    }

    #[test]
    fn comments_left_right_and_bad_char() {
        assert_eq!(
            kinds("$left.a // c\n== $right.b"),
            vec![
                id("$left"),
                TokenKind::Punct("."),
                id("a"),
                TokenKind::Punct("=="),
                id("$right"),
                TokenKind::Punct("."),
                id("b"),
                TokenKind::Eof
            ]
        );
        let (t, d) = lex("a # b");
        assert_eq!(d[0].code, "KQL0001");
        assert_eq!(t.len(), 3);
    }

    #[test]
    fn spans_are_byte_ranges() {
        let (t, _) = lex("é | take 5");
        assert_eq!(t[0].span, Span::new(0, 2));
        assert_eq!(t[3].span, Span::new(10, 11));
    }
}
