//! The `table` format: an aligned text table for people (via `tabled`), with a `(N rows)` footer.

use std::io::Write;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use tabled::builder::Builder;
use tabled::settings::object::Columns;
use tabled::settings::{Alignment, Style};

use super::value::{is_numeric, value_to_text};
use super::{io_error, unique_names};
use crate::Result;

/// Longest cell, in characters; longer values end in `…`.
pub const MAX_CELL_CHARS: usize = 60;

pub(super) fn write(
    schema: &SchemaRef,
    batches: &[RecordBatch],
    out: &mut dyn Write,
) -> Result<()> {
    let rows: usize = batches.iter().map(RecordBatch::num_rows).sum();
    if !schema.fields().is_empty() {
        let mut builder = Builder::with_capacity(rows + 1, schema.fields().len());
        builder.push_record(unique_names(schema).iter().map(|n| cell(n)));
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
        writeln!(out, "{table}").map_err(io_error)?;
    }
    let noun = if rows == 1 { "row" } else { "rows" };
    writeln!(out, "({rows} {noun})").map_err(io_error)?;
    Ok(())
}

/// One line of at most [`MAX_CELL_CHARS`] characters: control characters (newlines, tabs) are
/// shown escaped, so every row stays one line; longer text keeps its start and ends in `…`.
fn cell(text: &str) -> String {
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

#[cfg(test)]
mod tests {
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
}
