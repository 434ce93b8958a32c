//! HTML pieces for the `html` format: one self-contained page (inline CSS, no scripts, no
//! external assets), result tables with every value escaped, and markdown converted with raw
//! HTML shown as text, links restricted to safe schemes and images turned into links.

use std::io::Write;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use pulldown_cmark::{CowStr, Event, Parser, Tag, TagEnd};

use super::value::{is_numeric, value_to_text};
use super::{io_error, markdown};
use crate::Result;

/// The page's whole style sheet.
const STYLE: &str = "\
body{font-family:system-ui,-apple-system,\"Segoe UI\",Roboto,sans-serif;margin:2rem;color:#1b1b1b;line-height:1.45}
h1{font-size:1.6rem;margin:0 0 .5rem}
h2{font-size:1.2rem}
.meta{color:#555;margin:.2rem 0}
table{border-collapse:collapse;margin:1.25rem 0 .5rem;font-size:.875rem}
caption{text-align:left;font-weight:600;font-size:1.05rem;padding:.3rem 0}
th,td{border:1px solid #d0d0d0;padding:.25rem .5rem;text-align:left;vertical-align:top;white-space:pre-wrap;overflow-wrap:anywhere;max-width:40rem}
th{background:#f3f3f3}
td.num{text-align:right;font-variant-numeric:tabular-nums}
td.empty{color:#666;font-style:italic}
.count{color:#666;font-size:.8rem;margin:0}
.warning{color:#8a4b00;margin:.2rem 0}
.notice{color:#444;border-left:3px solid #bbb;padding-left:.6rem;margin:.6rem 0}
pre,code{background:#f6f6f6}
";

/// `text` with `&`, `<`, `>`, `"` and `'` escaped: safe in element content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The document head, the style sheet and the opening `<body>`.
pub fn write_page_start(title: &str, out: &mut dyn Write) -> Result<()> {
    write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta name=\"generator\" content=\"auditbook\">\n<title>{}</title>\n<style>\n{STYLE}</style>\n\
         </head>\n<body>\n",
        escape(title)
    )
    .map_err(io_error)
}

/// Closes what [`write_page_start`] opened.
pub fn write_page_end(out: &mut dyn Write) -> Result<()> {
    out.write_all(b"</body>\n</html>\n").map_err(io_error)
}

/// A `<table>` of `batches` headed by `headers`, with `caption` when given. With no rows, the
/// body is one cell holding `empty_message` when given; numeric cells are right-aligned.
pub fn write_table(
    caption: Option<&str>,
    headers: &[String],
    schema: &SchemaRef,
    batches: &[RecordBatch],
    empty_message: Option<&str>,
    out: &mut dyn Write,
) -> Result<()> {
    let mut html = String::from("<table>\n");
    if let Some(caption) = caption {
        html.push_str(&format!("<caption>{}</caption>\n", escape(caption)));
    }
    html.push_str("<thead><tr>");
    for header in headers {
        html.push_str(&format!("<th scope=\"col\">{}</th>", escape(header)));
    }
    html.push_str("</tr></thead>\n<tbody>\n");
    out.write_all(html.as_bytes()).map_err(io_error)?;
    let numeric: Vec<bool> = schema
        .fields()
        .iter()
        .map(|f| is_numeric(f.data_type()))
        .collect();
    let mut rows = 0;
    for batch in batches {
        for row in 0..batch.num_rows() {
            html.clear();
            html.push_str("<tr>");
            for (column, numeric) in batch.columns().iter().zip(&numeric) {
                let text = value_to_text(column.as_ref(), row)?.unwrap_or_default();
                let class = if *numeric { " class=\"num\"" } else { "" };
                html.push_str(&format!("<td{class}>{}</td>", escape(&text)));
            }
            html.push_str("</tr>\n");
            out.write_all(html.as_bytes()).map_err(io_error)?;
            rows += 1;
        }
    }
    if rows == 0
        && let Some(message) = empty_message
    {
        writeln!(
            out,
            "<tr><td class=\"empty\" colspan=\"{}\">{}</td></tr>",
            headers.len().max(1),
            escape(message)
        )
        .map_err(io_error)?;
    }
    out.write_all(b"</tbody>\n</table>\n").map_err(io_error)
}

/// `(N rows)` under a table.
pub fn write_count(rows: usize, out: &mut dyn Write) -> Result<()> {
    let noun = if rows == 1 { "row" } else { "rows" };
    writeln!(out, "<p class=\"count\">({rows} {noun})</p>").map_err(io_error)
}

/// Markdown converted to HTML for a self-contained page: raw HTML (blocks and inline tags) is
/// shown as escaped text, never passed through; link targets other than `http`, `https`,
/// `mailto`, fragments and relative paths become `#`; images become links to their source, so
/// nothing is fetched.
pub fn markdown_to_html(text: &str) -> String {
    let events = Parser::new_ext(text, markdown::parser_options()).map(|event| match event {
        Event::Html(t) | Event::InlineHtml(t) => Event::Text(t),
        Event::Start(Tag::HtmlBlock) => Event::Start(Tag::Paragraph),
        Event::End(TagEnd::HtmlBlock) => Event::End(TagEnd::Paragraph),
        Event::Start(Tag::Link {
            link_type,
            dest_url,
            title,
            id,
        })
        | Event::Start(Tag::Image {
            link_type,
            dest_url,
            title,
            id,
        }) => Event::Start(Tag::Link {
            link_type,
            dest_url: safe_url(dest_url),
            title,
            id,
        }),
        Event::End(TagEnd::Image) => Event::End(TagEnd::Link),
        other => other,
    });
    let mut html = String::with_capacity(text.len() * 3 / 2);
    pulldown_cmark::html::push_html(&mut html, events);
    html
}

/// `url` when its scheme is harmless in a static page, else `#`.
fn safe_url(url: CowStr<'_>) -> CowStr<'_> {
    let lower = url.trim().to_ascii_lowercase();
    let scheme_end = lower.find(':');
    let path_start = lower.find(['/', '?', '#']);
    let relative = match (scheme_end, path_start) {
        (None, _) => true,
        (Some(colon), Some(path)) => path < colon,
        (Some(_), None) => false,
    };
    let allowed = ["http://", "https://", "mailto:"]
        .iter()
        .any(|s| lower.starts_with(s));
    if allowed || relative {
        url
    } else {
        CowStr::Borrowed("#")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup() {
        assert_eq!(
            escape("<script>alert('x&y')</script>\""),
            "&lt;script&gt;alert(&#39;x&amp;y&#39;)&lt;/script&gt;&quot;"
        );
    }

    #[test]
    fn markdown_never_passes_html_or_scripts_through() {
        let html = markdown_to_html(
            "## Title\n\n<script>alert(1)</script>\n\nHi <b onclick=\"x()\">there</b> \
             [a](javascript:alert(1)) [b](https://ok.test/p?q=1) ![img](http://remote/x.png)\n",
        );
        assert!(html.contains("<h2>Title</h2>"), "{html}");
        assert!(!html.contains("<script"), "{html}");
        assert!(
            html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
            "{html}"
        );
        assert!(html.contains("&lt;b onclick=\"x()\"&gt;"), "{html}");
        assert!(!html.contains("javascript:"), "{html}");
        assert!(html.contains("<a href=\"#\">a</a>"), "{html}");
        assert!(
            html.contains("<a href=\"https://ok.test/p?q=1\">b</a>"),
            "{html}"
        );
        assert!(!html.contains("<img"), "{html}");
        assert!(
            html.contains("<a href=\"http://remote/x.png\">img</a>"),
            "{html}"
        );
    }

    #[test]
    fn relative_and_fragment_links_stay() {
        assert_eq!(&*safe_url("#part".into()), "#part");
        assert_eq!(&*safe_url("a/b:c".into()), "a/b:c");
        assert_eq!(&*safe_url("data:text/html,x".into()), "#");
        assert_eq!(&*safe_url(" JavaScript:x".into()), "#");
    }
}
