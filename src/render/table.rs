//! The `table` format: an aligned text table for people (via `tabled`), with a `(N rows)` footer,
//! fitted to a width when one is known (cells of the widest columns cut first, with `…`), and
//! the width of the terminal stdout is.

use std::io::{IsTerminal, Write};

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use tabled::builder::Builder;
use tabled::settings::object::Columns;
use tabled::settings::peaker::Priority;
use tabled::settings::{Alignment, Style, Width};

use super::value::{is_numeric, value_to_text};
use super::{io_error, row_count};
use crate::Result;

/// Longest cell, in characters; longer values end in `…`.
pub const MAX_CELL_CHARS: usize = 60;

/// Width assumed for a terminal whose size cannot be found.
pub const DEFAULT_TERMINAL_WIDTH: usize = 120;

/// Writes `batches` as an aligned table headed by `headers` (one per column of `schema`), then
/// `(N rows)`. With `width`, no line is wider than `width` columns (unless even one character per
/// column does not fit).
pub fn write(
    headers: &[String],
    schema: &SchemaRef,
    batches: &[RecordBatch],
    out: &mut dyn Write,
    width: Option<usize>,
) -> Result<()> {
    let rows = row_count(batches);
    if !schema.fields().is_empty() {
        let mut builder = Builder::with_capacity(rows + 1, schema.fields().len());
        builder.push_record(headers.iter().map(|n| cell(n)));
        for batch in batches {
            for row in 0..batch.num_rows() {
                let mut record = Vec::with_capacity(batch.num_columns());
                for column in batch.columns() {
                    let text = value_to_text(column.as_ref(), row)?;
                    record.push(text.as_deref().map(cell).unwrap_or_default());
                }
                builder.push_record(record);
            }
        }
        let mut table = builder.build();
        table.with(Style::psql());
        for (i, field) in schema.fields().iter().enumerate() {
            if is_numeric(field.data_type()) {
                table.modify(Columns::one(i), Alignment::right());
            }
        }
        if let Some(width) = width {
            table.with(
                Width::truncate(width)
                    .suffix("…")
                    .priority(Priority::max(true)),
            );
        }
        writeln!(out, "{table}").map_err(io_error)?;
    }
    let noun = if rows == 1 { "row" } else { "rows" };
    writeln!(out, "({rows} {noun})").map_err(io_error)?;
    Ok(())
}

/// One line of at most [`MAX_CELL_CHARS`] characters: control characters (newlines, tabs) are
/// shown escaped, so every row stays one line; longer text keeps its start and ends in `…`.
pub fn cell(text: &str) -> String {
    let mut out = String::with_capacity(text.len().min(4 * MAX_CELL_CHARS));
    let mut chars = 0;
    let mut iter = text.chars().peekable();
    while let Some(c) = iter.next() {
        let piece = match c {
            '\n' => "\\n".to_string(),
            '\r' => "\\r".to_string(),
            '\t' => "\\t".to_string(),
            c if c.is_control() => c.escape_unicode().to_string(),
            c => c.to_string(),
        };
        let width = piece.chars().count();
        // The last allowed position holds `…` unless the text ends exactly there.
        let last = iter.peek().is_none();
        if chars + width > MAX_CELL_CHARS || (chars + width == MAX_CELL_CHARS && !last) {
            out.push('…');
            return out;
        }
        out.push_str(&piece);
        chars += width;
    }
    out
}

/// The width tables printed to stdout must fit: on a terminal, env `COLUMNS` when set, else the
/// terminal's size, else [`DEFAULT_TERMINAL_WIDTH`]; for a pipe or file, `COLUMNS` when set
/// (the width is known), else none.
pub fn stdout_width() -> Option<usize> {
    let columns = std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.trim().parse::<usize>().ok())
        .filter(|&c| c > 0);
    if !std::io::stdout().is_terminal() {
        return columns;
    }
    Some(
        columns
            .or_else(terminal_columns)
            .unwrap_or(DEFAULT_TERMINAL_WIDTH),
    )
}

/// The column count of the terminal on stdout, when stdout is one.
fn terminal_columns() -> Option<usize> {
    terminal_size::terminal_size_of(std::io::stdout()).map(|(w, _)| usize::from(w.0))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{ArrayRef, Int64Array, StringArray};
    use arrow::datatypes::{DataType, Field, Schema};

    use super::*;

    #[test]
    fn cells_are_one_line_and_truncated() {
        assert_eq!(cell("a\nb\tc"), "a\\nb\\tc");
        let long = "x".repeat(100);
        let c = cell(&long);
        assert_eq!(c.chars().count(), MAX_CELL_CHARS);
        assert!(c.ends_with('…'));
        let exact = "y".repeat(MAX_CELL_CHARS);
        assert_eq!(cell(&exact), exact);
    }

    fn wide_batch() -> RecordBatch {
        let schema = Arc::new(Schema::new(vec![
            Field::new("n", DataType::Int64, true),
            Field::new("short", DataType::Utf8, true),
            Field::new("long", DataType::Utf8, true),
            Field::new("longer", DataType::Utf8, true),
        ]));
        let columns: Vec<ArrayRef> = vec![
            Arc::new(Int64Array::from(vec![1, 22])),
            Arc::new(StringArray::from(vec!["ok", "no"])),
            Arc::new(StringArray::from(vec!["a".repeat(40), "b".repeat(45)])),
            Arc::new(StringArray::from(vec!["c".repeat(80), "d".repeat(59)])),
        ];
        RecordBatch::try_new(schema, columns).unwrap()
    }

    fn table_text(b: &RecordBatch, width: Option<usize>) -> String {
        let names: Vec<String> = b
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect();
        let mut out = Vec::new();
        write(
            &names,
            &b.schema(),
            std::slice::from_ref(b),
            &mut out,
            width,
        )
        .unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn a_width_cuts_the_widest_columns_first_and_no_line_is_longer() {
        let b = wide_batch();
        let free = table_text(&b, None);
        assert!(free.lines().any(|l| l.chars().count() > 100), "{free}");
        for width in [100, 80, 60, 40] {
            let text = table_text(&b, Some(width));
            for line in text.lines() {
                assert!(line.chars().count() <= width, "{width}: {line:?}\n{text}");
            }
            // Short columns are untouched; the cut columns end in the marker.
            let row = text.lines().nth(2).unwrap();
            assert!(row.contains(" ok "), "{text}");
            assert!(row.contains('…'), "{text}");
            assert!(text.ends_with("(2 rows)\n"), "{text}");
        }
        // A width the table already fits changes nothing.
        assert_eq!(table_text(&b, Some(1000)), free);
    }

    #[test]
    fn headers_are_the_given_labels() {
        let b = wide_batch();
        let mut out = Vec::new();
        let headers = ["Count", "State", "L", "LL"].map(String::from);
        write(&headers, &b.schema(), &[], &mut out, None).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(
            text,
            " Count | State | L | LL \n-------+-------+---+----\n(0 rows)\n"
        );
    }
}
