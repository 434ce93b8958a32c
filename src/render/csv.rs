//! The `csv` format: RFC 4180 with a header row of (unique) column names; cells are
//! [`value_to_text`](super::value_to_text) (nested values as compact JSON, nulls empty).

use std::io::Write;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;

use super::{io_error, unique_names, value_to_text};
use crate::{Error, Result};

/// Writes `batches` as one CSV table: a header row, then one record per row. Nothing at all
/// when the schema has no columns.
pub fn write(schema: &SchemaRef, batches: &[RecordBatch], out: &mut dyn Write) -> Result<()> {
    if schema.fields().is_empty() {
        return Ok(());
    }
    let mut writer = ::csv::WriterBuilder::new().from_writer(out);
    let csv_error = |e: ::csv::Error| match e.into_kind() {
        ::csv::ErrorKind::Io(e) => io_error(e),
        other => Error::Invalid(format!("csv: {other:?}")),
    };
    writer
        .write_record(unique_names(schema))
        .map_err(csv_error)?;
    let mut record = Vec::with_capacity(schema.fields().len());
    for batch in batches {
        for row in 0..batch.num_rows() {
            record.clear();
            for column in batch.columns() {
                record.push(value_to_text(column.as_ref(), row)?.unwrap_or_default());
            }
            writer.write_record(&record).map_err(csv_error)?;
        }
    }
    writer.flush().map_err(io_error)
}
