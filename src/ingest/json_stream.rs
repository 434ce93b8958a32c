//! Streaming split of JSON exports into record-sized pieces, with line numbers.
//!
//! Exports come as JSON Lines (one value a line, CRLF or LF) or as one big document: an array
//! (of records, of Graph pages, of `{"records":[...]}` wrappers) or an object whose `value`,
//! `records` or `tables[].rows` array holds the records. Documents can be many GB, so they are never
//! parsed whole: a byte scanner walks the structure and hands out each element's raw text, which
//! the caller parses on its own. Memory stays bounded by the largest element (a record or a page).

use std::io::{BufRead, Read};

/// Where an element sat in the document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Slot {
    /// A line of a JSON Lines file.
    Line,
    /// An element of a top-level array (a record, a page, or a wrapper).
    TopArray,
    /// An element of the array under this key of the top-level object (`value`, `records`).
    Keyed(String),
    /// The `columns` of table `n` of a Log Analytics `{"tables":[...]}` response.
    TableColumns(usize),
    /// A row of table `n`.
    TableRow(usize),
}

/// One element: its raw text, the line it starts on (1-based), and its slot. The text is
/// borrowed for the call that receives it: from the reader's buffer when a line lies within it
/// (no copy), otherwise from the splitter's own buffer.
#[derive(Debug)]
pub struct Element<'a> {
    pub slot: Slot,
    pub line: u64,
    pub text: &'a [u8],
}

/// The document's structure broke (truncated, garbage between elements): nothing after `line`
/// can be split reliably. `tail` holds the unread rest (capped) for the quarantine.
#[derive(Debug)]
pub struct Broken {
    pub line: u64,
    pub reason: String,
    pub tail: Vec<u8>,
}

/// Largest raw text kept from a broken tail.
const TAIL_CAP: usize = 1 << 20;

/// Whether a file's content is JSON Lines rather than one document: its first line holds a whole
/// JSON value and something follows, or the first line is the whole file.
pub fn looks_like_json_lines(head: &[u8]) -> bool {
    let first_line_end = head.iter().position(|&b| b == b'\n');
    let first = match first_line_end {
        Some(i) => &head[..i],
        None => head,
    };
    let first = first.trim_ascii();
    if first.is_empty() || first[0] != b'{' {
        return false;
    }
    serde_json::from_slice::<serde::de::IgnoredAny>(first).is_ok()
}

/// Splits JSON Lines: every non-blank line is an element.
pub fn split_lines(
    reader: &mut dyn BufRead,
    on_element: &mut dyn FnMut(Element) -> crate::Result<()>,
) -> std::io::Result<Option<crate::Result<()>>> {
    let mut line_no = 0u64;
    // A line that ran past the end of the reader's buffer, gathered here.
    let mut carry = Vec::new();
    loop {
        let buf = match reader.fill_buf() {
            Ok(buf) => buf,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if buf.is_empty() {
            // The last line, without a newline.
            if carry.is_empty() {
                return Ok(None);
            }
            line_no += 1;
            let outcome = emit(&carry, line_no, on_element);
            return Ok(outcome.err().map(Err));
        }
        let Some(end) = memchr::memchr(b'\n', buf) else {
            carry.extend_from_slice(buf);
            let n = buf.len();
            reader.consume(n);
            continue;
        };
        line_no += 1;
        let outcome = if carry.is_empty() {
            emit(&buf[..end], line_no, on_element)
        } else {
            carry.extend_from_slice(&buf[..end]);
            let outcome = emit(&carry, line_no, on_element);
            carry.clear();
            outcome
        };
        reader.consume(end + 1);
        if let Err(e) = outcome {
            return Ok(Some(Err(e)));
        }
    }
}

/// Hands one line to the caller, trimmed; blank lines are skipped.
fn emit(
    line: &[u8],
    line_no: u64,
    on_element: &mut dyn FnMut(Element) -> crate::Result<()>,
) -> crate::Result<()> {
    let text = line.trim_ascii();
    if text.is_empty() {
        return Ok(());
    }
    on_element(Element {
        slot: Slot::Line,
        line: line_no,
        text,
    })
}

/// A byte reader with one byte of look-ahead and a line counter.
struct Scanner<'a> {
    reader: &'a mut dyn BufRead,
    line: u64,
    /// The element being captured when the document broke: its first line and text so far.
    partial: Option<(u64, Vec<u8>)>,
}

impl<'a> Scanner<'a> {
    fn peek(&mut self) -> std::io::Result<Option<u8>> {
        Ok(self.reader.fill_buf()?.first().copied())
    }

    fn bump(&mut self) -> std::io::Result<Option<u8>> {
        let b = self.peek()?;
        if let Some(b) = b {
            self.reader.consume(1);
            if b == b'\n' {
                self.line += 1;
            }
        }
        Ok(b)
    }

    fn skip_ws(&mut self) -> std::io::Result<Option<u8>> {
        loop {
            match self.peek()? {
                Some(b' ' | b'\t' | b'\r' | b'\n') => {
                    self.bump()?;
                }
                other => return Ok(other),
            }
        }
    }

    /// Copies one whole JSON value into `out`. Errors describe what broke.
    fn capture(&mut self, out: &mut Vec<u8>) -> Result<(), String> {
        let io = |e: std::io::Error| format!("read error: {e}");
        let first = self
            .skip_ws()
            .map_err(io)?
            .ok_or("unexpected end of file")?;
        match first {
            b'{' | b'[' => {
                let mut depth = 0usize;
                let mut in_string = false;
                let mut escaped = false;
                loop {
                    // Fast path: copy a run of bytes that cannot change the state.
                    let buf = self.reader.fill_buf().map_err(io)?;
                    if buf.is_empty() {
                        return Err(if in_string {
                            "unexpected end of file inside a string".into()
                        } else {
                            format!("unexpected end of file: {depth} unclosed bracket(s)")
                        });
                    }
                    let mut i = 0;
                    let mut done = false;
                    while i < buf.len() {
                        let b = buf[i];
                        i += 1;
                        if b == b'\n' {
                            self.line += 1;
                        }
                        if in_string {
                            if escaped {
                                escaped = false;
                            } else if b == b'\\' {
                                escaped = true;
                            } else if b == b'"' {
                                in_string = false;
                            }
                            continue;
                        }
                        match b {
                            b'"' => in_string = true,
                            b'{' | b'[' => depth += 1,
                            b'}' | b']' => {
                                depth -= 1;
                                if depth == 0 {
                                    done = true;
                                    break;
                                }
                            }
                            _ => {}
                        }
                    }
                    out.extend_from_slice(&buf[..i]);
                    self.reader.consume(i);
                    if done {
                        return Ok(());
                    }
                }
            }
            b'"' => {
                out.push(self.bump().map_err(io)?.unwrap());
                let mut escaped = false;
                loop {
                    let b = self
                        .bump()
                        .map_err(io)?
                        .ok_or("unexpected end of file inside a string")?;
                    out.push(b);
                    if escaped {
                        escaped = false;
                    } else if b == b'\\' {
                        escaped = true;
                    } else if b == b'"' {
                        return Ok(());
                    }
                }
            }
            _ => {
                while let Some(b) = self.peek().map_err(io)? {
                    if matches!(b, b',' | b']' | b'}' | b' ' | b'\t' | b'\r' | b'\n') {
                        break;
                    }
                    out.push(b);
                    self.bump().map_err(io)?;
                }
                Ok(())
            }
        }
    }

    fn expect(&mut self, want: u8, context: &str) -> Result<(), String> {
        match self.skip_ws().map_err(|e| e.to_string())? {
            Some(b) if b == want => {
                self.bump().map_err(|e| e.to_string())?;
                Ok(())
            }
            Some(b) => Err(format!(
                "expected `{}` {context}, found `{}`",
                want as char,
                printable(b)
            )),
            None => Err(format!(
                "unexpected end of file: expected `{}` {context}",
                want as char
            )),
        }
    }

    /// Calls `each` for the elements of the array that starts here (the `[` not yet read).
    fn array(
        &mut self,
        context: &str,
        each: &mut dyn FnMut(&mut Self, u64) -> Result<(), Stop>,
    ) -> Result<(), Stop> {
        self.expect(b'[', context).map_err(Stop::Broken)?;
        if self.skip_ws().map_err(io_stop)? == Some(b']') {
            self.bump().map_err(io_stop)?;
            return Ok(());
        }
        loop {
            self.skip_ws().map_err(io_stop)?;
            let line = self.line;
            each(self, line)?;
            match self.skip_ws().map_err(io_stop)? {
                Some(b',') => {
                    self.bump().map_err(io_stop)?;
                }
                Some(b']') => {
                    self.bump().map_err(io_stop)?;
                    return Ok(());
                }
                Some(b) => {
                    return Err(Stop::Broken(format!(
                        "expected `,` or `]` after an element {context}, found `{}`",
                        printable(b)
                    )));
                }
                None => return Err(Stop::Broken(format!("unexpected end of file {context}"))),
            }
        }
    }

    /// Calls `each(key)` for each member of the object that starts here; `each` consumes the value.
    fn object(
        &mut self,
        context: &str,
        each: &mut dyn FnMut(&mut Self, String) -> Result<(), Stop>,
    ) -> Result<(), Stop> {
        self.expect(b'{', context).map_err(Stop::Broken)?;
        if self.skip_ws().map_err(io_stop)? == Some(b'}') {
            self.bump().map_err(io_stop)?;
            return Ok(());
        }
        loop {
            let mut key = Vec::new();
            self.capture(&mut key).map_err(Stop::Broken)?;
            let key: String = serde_json::from_slice(&key)
                .map_err(|_| Stop::Broken(format!("expected a member name {context}")))?;
            self.expect(b':', &format!("after member `{key}`"))
                .map_err(Stop::Broken)?;
            each(self, key)?;
            match self.skip_ws().map_err(io_stop)? {
                Some(b',') => {
                    self.bump().map_err(io_stop)?;
                }
                Some(b'}') => {
                    self.bump().map_err(io_stop)?;
                    return Ok(());
                }
                Some(b) => {
                    return Err(Stop::Broken(format!(
                        "expected `,` or `}}` {context}, found `{}`",
                        printable(b)
                    )));
                }
                None => return Err(Stop::Broken(format!("unexpected end of file {context}"))),
            }
        }
    }

    fn skip_value(&mut self) -> Result<(), Stop> {
        let mut sink = Vec::new();
        self.capture(&mut sink).map_err(Stop::Broken)
    }
}

/// Why a document walk stopped early.
enum Stop {
    Broken(String),
    Caller(crate::Error),
}

fn io_stop(e: std::io::Error) -> Stop {
    Stop::Broken(format!("read error: {e}"))
}

fn printable(b: u8) -> String {
    if b.is_ascii_graphic() {
        (b as char).to_string()
    } else {
        format!("\\x{b:02x}")
    }
}

/// Keys of a top-level object whose array holds records.
const RECORD_ARRAYS: &[&str] = &["value", "records"];

/// Splits one JSON document. Returns `Ok(None)` when the whole document was read, `Ok(Some(b))`
/// when its structure broke (elements before the break were delivered), and `Err` when the
/// callback failed.
pub fn split_document(
    reader: &mut dyn BufRead,
    on_element: &mut dyn FnMut(Element) -> crate::Result<()>,
) -> crate::Result<Option<Broken>> {
    let mut sc = Scanner {
        reader,
        line: 1,
        partial: None,
    };
    let emit = |sc: &mut Scanner,
                slot: Slot,
                line: u64,
                on: &mut dyn FnMut(Element) -> crate::Result<()>| {
        let mut text = Vec::new();
        if let Err(reason) = sc.capture(&mut text) {
            sc.partial = Some((line, text));
            return Err(Stop::Broken(reason));
        }
        on(Element {
            slot,
            line,
            text: &text,
        })
        .map_err(Stop::Caller)
    };
    let result = match sc.skip_ws() {
        Err(e) => Err(io_stop(e)),
        Ok(None) => Ok(()),
        Ok(Some(b'[')) => sc.array("in the top-level array", &mut |sc, line| {
            emit(sc, Slot::TopArray, line, on_element)
        }),
        Ok(Some(b'{')) => {
            let mut table = 0usize;
            sc.object("in the top-level object", &mut |sc, key| {
                let peek = sc.skip_ws().map_err(io_stop)?;
                if peek == Some(b'[') && RECORD_ARRAYS.iter().any(|k| key.eq_ignore_ascii_case(k)) {
                    let ctx = format!("in `{key}`");
                    sc.array(&ctx, &mut |sc, line| {
                        emit(sc, Slot::Keyed(key.clone()), line, on_element)
                    })
                } else if peek == Some(b'[') && key.eq_ignore_ascii_case("tables") {
                    sc.array("in `tables`", &mut |sc, _| {
                        let t = table;
                        table += 1;
                        sc.object("in a table", &mut |sc, tkey| {
                            let line = sc.line;
                            if tkey.eq_ignore_ascii_case("columns") {
                                emit(sc, Slot::TableColumns(t), line, on_element)
                            } else if tkey.eq_ignore_ascii_case("rows") {
                                sc.array("in `rows`", &mut |sc, line| {
                                    emit(sc, Slot::TableRow(t), line, on_element)
                                })
                            } else {
                                sc.skip_value()
                            }
                        })
                    })
                } else {
                    sc.skip_value()
                }
            })
        }
        Ok(Some(b)) => Err(Stop::Broken(format!(
            "not JSON: the content starts with `{}`",
            printable(b)
        ))),
    };
    let result = result.and_then(|()| match sc.skip_ws() {
        Ok(None) => Ok(()),
        Ok(Some(b)) => Err(Stop::Broken(format!(
            "unexpected `{}` after the end of the JSON document",
            printable(b)
        ))),
        Err(e) => Err(io_stop(e)),
    });
    match result {
        Ok(()) => Ok(None),
        Err(Stop::Caller(e)) => Err(e),
        Err(Stop::Broken(reason)) => {
            let (line, mut tail) = sc.partial.take().unwrap_or((sc.line, Vec::new()));
            tail.truncate(TAIL_CAP);
            let room = TAIL_CAP.saturating_sub(tail.len()) as u64;
            let _ = sc.reader.take(room).read_to_end(&mut tail);
            Ok(Some(Broken { line, reason, tail }))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(doc: &str) -> (Vec<(Slot, u64, String)>, Option<Broken>) {
        let mut out = Vec::new();
        let broken = split_document(&mut doc.as_bytes(), &mut |e| {
            out.push((e.slot, e.line, String::from_utf8(e.text.to_vec()).unwrap()));
            Ok(())
        })
        .unwrap();
        (out, broken)
    }

    #[test]
    fn page_object_streams_value_elements_with_lines() {
        let doc = "{\"@odata.context\": \"x\",\n \"value\": [\n  {\"id\": \"a\", \"s\": \"}]\\\"\"},\n  {\"id\": \"b\"}\n ],\n \"@odata.nextLink\": \"n\"}";
        let (els, broken) = split(doc);
        assert!(broken.is_none());
        assert_eq!(els.len(), 2);
        assert_eq!(
            els[0],
            (
                Slot::Keyed("value".into()),
                3,
                "{\"id\": \"a\", \"s\": \"}]\\\"\"}".into()
            )
        );
        assert_eq!(els[1].1, 4);
    }

    #[test]
    fn top_array_and_tables() {
        let (els, _) = split("[{\"a\":1},\r\n{\"b\":[1,2]}]");
        assert_eq!(els.len(), 2);
        assert_eq!(els[1].0, Slot::TopArray);
        assert_eq!(els[1].1, 2);
        let (els, _) = split(
            r#"{"tables":[{"name":"PrimaryResult","columns":[{"name":"Id","type":"string"}],"rows":[["x"],["y"]]}]}"#,
        );
        assert_eq!(els.len(), 3);
        assert_eq!(els[0].0, Slot::TableColumns(0));
        assert_eq!(els[2], (Slot::TableRow(0), 1, "[\"y\"]".into()));
    }

    #[test]
    fn truncated_document_reports_line_and_keeps_tail() {
        let (els, broken) = split("[{\"a\":1},\n{\"b\":\n2");
        assert_eq!(els.len(), 1);
        let b = broken.unwrap();
        assert!(b.reason.contains("end of file"), "{}", b.reason);
        assert_eq!(b.line, 2, "the line the broken element starts on");
        assert_eq!(b.tail, b"{\"b\":\n2");
    }

    #[test]
    fn garbage_between_elements_is_broken() {
        let (els, broken) = split("[{\"a\":1} xx {\"b\":2}]");
        assert_eq!(els.len(), 1);
        assert!(broken.unwrap().reason.contains("expected `,` or `]`"));
    }

    #[test]
    fn json_lines_detection() {
        assert!(looks_like_json_lines(b"{\"a\":1}\r\n{\"a\":2}\r\n"));
        assert!(!looks_like_json_lines(b"{\n \"value\": []\n}"));
        assert!(!looks_like_json_lines(b"[{\"a\":1}]"));
    }

    fn lines(reader: &mut dyn BufRead) -> Vec<(u64, String)> {
        let mut out = Vec::new();
        let outcome = split_lines(reader, &mut |e| {
            assert_eq!(e.slot, Slot::Line);
            out.push((e.line, String::from_utf8(e.text.to_vec()).unwrap()));
            Ok(())
        })
        .unwrap();
        assert!(outcome.is_none());
        out
    }

    #[test]
    fn lines_are_the_same_whatever_the_reader_buffer() {
        let text = "{\"a\":1}\r\n\n  \r\n{\"b\":\"long enough to cross buffers\"}\n{\"c\":3}";
        let expected = vec![
            (1, "{\"a\":1}".to_string()),
            (4, "{\"b\":\"long enough to cross buffers\"}".to_string()),
            (5, "{\"c\":3}".to_string()),
        ];
        // The whole text in one buffer, and buffers of 1 to 7 bytes: lines borrowed whole, and
        // lines gathered across refills.
        assert_eq!(lines(&mut text.as_bytes()), expected);
        for cap in 1..8 {
            let mut reader = std::io::BufReader::with_capacity(cap, text.as_bytes());
            assert_eq!(lines(&mut reader), expected, "buffer of {cap} bytes");
        }
        assert_eq!(lines(&mut "".as_bytes()), vec![]);
        assert_eq!(lines(&mut "\n\n".as_bytes()), vec![]);
    }

    #[test]
    fn a_line_refused_stops_the_split_with_the_callers_error() {
        let mut seen = Vec::new();
        let outcome = split_lines(&mut "{}\n{\"stop\":1}\n{}\n".as_bytes(), &mut |e| {
            seen.push(e.line);
            if e.text.starts_with(b"{\"stop") {
                return Err(crate::Error::Invalid("stop here".into()));
            }
            Ok(())
        })
        .unwrap();
        assert!(matches!(outcome, Some(Err(crate::Error::Invalid(m))) if m == "stop here"));
        assert_eq!(seen, [1, 2]);
    }
}
