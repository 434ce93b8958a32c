//! Markdown both ways: GitHub tables of results ([`write_table`], cells escaped so that any value
//! stays literal text in one cell), and markdown text items turned into readable plain text for
//! the `table` format ([`to_plain_text`]).

use std::io::Write;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use pulldown_cmark::{Event, HeadingLevel, Options, Parser, Tag, TagEnd};

use super::io_error;
use super::value::{is_numeric, value_to_text};
use crate::Result;

/// The markdown extensions auditbook understands in text items (what Azure workbooks render):
/// tables, strikethrough, task lists.
pub fn parser_options() -> Options {
    Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH | Options::ENABLE_TASKLISTS
}

/// Writes `batches` as a GitHub table headed by `headers` (escaped like cells); numeric columns
/// are right-aligned. Nothing when the schema has no columns; only the header when no rows.
pub fn write_table(
    headers: &[String],
    schema: &SchemaRef,
    batches: &[RecordBatch],
    out: &mut dyn Write,
) -> Result<()> {
    if schema.fields().is_empty() {
        return Ok(());
    }
    let mut line = String::from("|");
    for header in headers {
        line.push(' ');
        line.push_str(&escape_cell(header));
        line.push_str(" |");
    }
    line.push_str("\n|");
    for field in schema.fields() {
        line.push_str(if is_numeric(field.data_type()) {
            " ---: |"
        } else {
            " --- |"
        });
    }
    writeln!(out, "{line}").map_err(io_error)?;
    for batch in batches {
        for row in 0..batch.num_rows() {
            line.clear();
            line.push('|');
            for column in batch.columns() {
                let text = value_to_text(column.as_ref(), row)?.unwrap_or_default();
                line.push(' ');
                line.push_str(&escape_cell(&text));
                line.push_str(" |");
            }
            writeln!(out, "{line}").map_err(io_error)?;
        }
    }
    Ok(())
}

/// A value as the text of one GitHub table cell that renders as the value itself: `|` and the
/// markdown punctuation that could start markup (`\`, `` ` ``, `*`, `_` outside words, `[`, `<`,
/// `&`, `~`) are backslash-escaped, line breaks become `<br>`.
pub fn escape_cell(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len() + 8);
    for (i, &c) in chars.iter().enumerate() {
        match c {
            '\r' if chars.get(i + 1) == Some(&'\n') => {}
            '\n' | '\r' => out.push_str("<br>"),
            // `_` between letters or digits never starts or ends emphasis (`user_name`).
            '_' if i > 0
                && chars[i - 1].is_alphanumeric()
                && chars.get(i + 1).is_some_and(|n| n.is_alphanumeric()) =>
            {
                out.push('_')
            }
            '\\' | '|' | '`' | '*' | '_' | '[' | '<' | '&' | '~' => {
                out.push('\\');
                out.push(c);
            }
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// Markdown as readable plain text: headings without `#` (levels 1 and 2 underlined with `=` and
/// `-`), emphasis markers removed, links as `text (url)`, images as `alt (url)`, lists kept
/// (`-` or numbers, nested lists indented), code blocks indented, block quotes after `> `,
/// table cells separated by ` | `. Raw HTML is kept as text. No trailing newline.
pub fn to_plain_text(markdown: &str) -> String {
    let mut plain = Plain::default();
    for event in Parser::new_ext(markdown, parser_options()) {
        plain.event(event);
    }
    let text = plain.out.trim_end();
    text.trim_start_matches('\n').to_string()
}

/// A line prefix of an enclosing block: a list item's marker on its first line, spaces after.
#[derive(Debug, Default)]
struct Prefix {
    first: String,
    rest: String,
    used: bool,
}

#[derive(Debug, Default)]
struct Plain {
    out: String,
    prefixes: Vec<Prefix>,
    /// Open lists: the next item's number for ordered lists.
    lists: Vec<Option<u64>>,
    /// Open links and images: destination and where their text starts in `out`.
    links: Vec<(String, usize)>,
    /// `out` ends a line (or is empty).
    line_start: bool,
    /// A blank line goes before the next text (a block ended).
    blank: bool,
    /// Cells of the current table row so far.
    cell: usize,
}

impl Plain {
    fn event(&mut self, event: Event<'_>) {
        match event {
            Event::Start(tag) => self.start(tag),
            Event::End(tag) => self.end(tag),
            Event::Text(t) | Event::Code(t) | Event::Html(t) | Event::InlineHtml(t) => {
                self.write(&t)
            }
            Event::InlineMath(t) | Event::DisplayMath(t) => self.write(&t),
            Event::FootnoteReference(label) => self.write(&format!("[{label}]")),
            Event::SoftBreak | Event::HardBreak => self.newline(),
            Event::Rule => {
                self.end_line();
                self.write("----------");
                self.end_block();
            }
            Event::TaskListMarker(done) => self.write(if done { "[x] " } else { "[ ] " }),
        }
    }

    fn start(&mut self, tag: Tag<'_>) {
        match tag {
            Tag::Paragraph
            | Tag::Heading { .. }
            | Tag::HtmlBlock
            | Tag::Table(_)
            | Tag::DefinitionList
            | Tag::DefinitionListTitle
            | Tag::MetadataBlock(_) => self.end_line(),
            Tag::DefinitionListDefinition | Tag::FootnoteDefinition(_) => {
                self.end_line();
                self.prefixes.push(Prefix {
                    first: "    ".into(),
                    rest: "    ".into(),
                    used: false,
                });
            }
            Tag::BlockQuote(_) => {
                self.end_line();
                self.prefixes.push(Prefix {
                    first: "> ".into(),
                    rest: "> ".into(),
                    used: false,
                });
            }
            Tag::CodeBlock(_) => {
                self.end_line();
                self.prefixes.push(Prefix {
                    first: "    ".into(),
                    rest: "    ".into(),
                    used: false,
                });
            }
            Tag::List(first) => {
                self.end_line();
                self.lists.push(first);
            }
            Tag::Item => {
                self.end_line();
                let marker = match self.lists.last_mut() {
                    Some(Some(n)) => {
                        *n += 1;
                        format!("{}. ", *n - 1)
                    }
                    _ => "- ".to_string(),
                };
                let rest = " ".repeat(marker.chars().count());
                self.prefixes.push(Prefix {
                    first: marker,
                    rest,
                    used: false,
                });
            }
            Tag::TableHead | Tag::TableRow => {
                self.end_line();
                self.cell = 0;
            }
            Tag::TableCell => {
                if self.cell > 0 {
                    self.write(" | ");
                }
            }
            Tag::Link { dest_url, .. } | Tag::Image { dest_url, .. } => {
                self.links.push((dest_url.to_string(), self.out.len()));
            }
            Tag::Emphasis
            | Tag::Strong
            | Tag::Strikethrough
            | Tag::Superscript
            | Tag::Subscript => {}
        }
    }

    fn end(&mut self, tag: TagEnd) {
        match tag {
            TagEnd::Heading(level) => {
                let underline = match level {
                    HeadingLevel::H1 => Some('='),
                    HeadingLevel::H2 => Some('-'),
                    _ => None,
                };
                if let Some(c) = underline
                    && !self.line_start
                {
                    let line = self.out.rsplit('\n').next().unwrap_or_default();
                    let width = line.chars().count();
                    self.newline();
                    self.write(&c.to_string().repeat(width));
                }
                self.end_block();
            }
            TagEnd::Paragraph | TagEnd::HtmlBlock | TagEnd::Table | TagEnd::MetadataBlock(_) => {
                self.end_block()
            }
            TagEnd::BlockQuote(_)
            | TagEnd::CodeBlock
            | TagEnd::FootnoteDefinition
            | TagEnd::DefinitionListDefinition => {
                self.prefixes.pop();
                self.end_block();
            }
            TagEnd::Item => {
                self.end_line();
                self.prefixes.pop();
            }
            TagEnd::List(_) => {
                self.end_line();
                self.lists.pop();
                if self.lists.is_empty() {
                    self.blank = true;
                }
            }
            TagEnd::DefinitionList => self.end_block(),
            TagEnd::DefinitionListTitle | TagEnd::TableHead | TagEnd::TableRow => self.end_line(),
            TagEnd::TableCell => self.cell += 1,
            TagEnd::Link | TagEnd::Image => {
                if let Some((url, start)) = self.links.pop() {
                    let text = self.out[start..].trim_end();
                    let bare = url.strip_prefix("mailto:").unwrap_or(&url);
                    if !url.is_empty() && !text.ends_with(bare) {
                        self.write(&format!(" ({url})"));
                    }
                }
            }
            TagEnd::Emphasis
            | TagEnd::Strong
            | TagEnd::Strikethrough
            | TagEnd::Superscript
            | TagEnd::Subscript => {}
        }
    }

    /// Appends `text`, starting lines with the blank line and prefixes they need.
    fn write(&mut self, text: &str) {
        let mut pieces = text.split('\n').peekable();
        while let Some(piece) = pieces.next() {
            if !piece.is_empty() {
                if self.line_start || self.out.is_empty() {
                    self.begin_line();
                }
                self.out.push_str(piece);
            }
            if pieces.peek().is_some() {
                self.newline();
            }
        }
    }

    fn begin_line(&mut self) {
        if self.blank && !self.out.is_empty() {
            self.out.push('\n');
        }
        self.blank = false;
        for prefix in &mut self.prefixes {
            if prefix.used {
                self.out.push_str(&prefix.rest);
            } else {
                self.out.push_str(&prefix.first);
                prefix.used = true;
            }
        }
        self.line_start = false;
    }

    fn newline(&mut self) {
        if self.line_start && self.out.ends_with("\n\n") {
            return;
        }
        self.out.push('\n');
        self.line_start = true;
    }

    fn end_line(&mut self) {
        if !self.line_start && !self.out.is_empty() {
            self.newline();
        }
    }

    fn end_block(&mut self) {
        self.end_line();
        self.blank = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_escape_pipes_markup_and_newlines() {
        assert_eq!(escape_cell("a|b"), "a\\|b");
        assert_eq!(escape_cell("x\r\ny\nz"), "x<br>y<br>z");
        assert_eq!(
            escape_cell("user_name _x_ *y*"),
            "user_name \\_x\\_ \\*y\\*"
        );
        assert_eq!(escape_cell("<b>&[1]"), "\\<b>\\&\\[1]");
        assert_eq!(escape_cell("c:\\dir"), "c:\\\\dir");
    }

    #[test]
    fn plain_text_of_markdown() {
        let md = "# Sign-ins\n\nSome **bold** and _emphasis_, a [link](https://example.com) \
                  and <https://x.test>.\n\n## Steps\n\n- one\n- two\n  1. nested\n  2. again\n\n\
                  > quoted\n\n```\ncode line\n```\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n### Small\ntext\n";
        assert_eq!(
            to_plain_text(md),
            "Sign-ins\n========\n\n\
             Some bold and emphasis, a link (https://example.com) and https://x.test.\n\n\
             Steps\n-----\n\n\
             - one\n- two\n  1. nested\n  2. again\n\n\
             > quoted\n\n\
             \x20   code line\n\n\
             a | b\n1 | 2\n\n\
             Small\n\n\
             text"
        );
    }

    #[test]
    fn plain_text_keeps_loose_lists_and_images() {
        assert_eq!(
            to_plain_text("1. a\n\n2. b\n\n![logo](http://x/y.png)"),
            "1. a\n\n2. b\n\nlogo (http://x/y.png)"
        );
    }
}
