//! The `parquet` format: one Parquet file (zstd) holding `schema` as given, field metadata
//! included (so `auditbook.dynamic=json` columns stay `Utf8` JSON text and stay marked), streamed
//! to any `Write` one row group at a time.

use std::io::Write;
use std::sync::Arc;

use ::parquet::arrow::ArrowWriter;
use ::parquet::basic::{Compression, ZstdLevel};
use ::parquet::file::properties::WriterProperties;
use arrow::array::{ArrayRef, RecordBatch};
use arrow::compute::cast;
use arrow::datatypes::SchemaRef;

use super::io_error;
use crate::Result;

/// Rows per row group (a row group is buffered in memory before it is written).
const ROW_GROUP_ROWS: usize = 64 * 1024;

/// Writes `batches` as one Parquet file to `out`. Batches whose columns are encoded differently
/// from `schema` (`Utf8View` for `Utf8`, ...) are cast to it.
pub fn write(schema: &SchemaRef, batches: &[RecordBatch], out: &mut dyn Write) -> Result<()> {
    let props = WriterProperties::builder()
        .set_compression(Compression::ZSTD(
            ZstdLevel::try_new(3).expect("valid level"),
        ))
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
        .build();
    // `ArrowWriter` wants an owned `Send` sink: it writes into a buffer that is drained into
    // `out` after every batch, so at most about one row group is held in memory.
    let mut writer = ArrowWriter::try_new(Vec::new(), schema.clone(), Some(props))?;
    for batch in batches {
        writer.write(&conform(schema, batch)?)?;
        drain(writer.inner_mut(), out)?;
    }
    let buffer = writer.into_inner()?;
    out.write_all(&buffer).map_err(io_error)
}

fn drain(buffer: &mut Vec<u8>, out: &mut dyn Write) -> Result<()> {
    out.write_all(buffer).map_err(io_error)?;
    buffer.clear();
    Ok(())
}

/// `batch` with `schema` (its metadata, its types).
fn conform(schema: &SchemaRef, batch: &RecordBatch) -> Result<RecordBatch> {
    let columns = batch
        .columns()
        .iter()
        .zip(schema.fields())
        .map(|(column, field)| {
            if column.data_type() == field.data_type() {
                Ok(column.clone())
            } else {
                cast(column, field.data_type()).map_err(|e| {
                    crate::Error::Invalid(format!(
                        "column `{}`: cannot write {} values as {}: {e}",
                        field.name(),
                        column.data_type(),
                        field.data_type()
                    ))
                })
            }
        })
        .collect::<Result<Vec<ArrayRef>>>()?;
    Ok(RecordBatch::try_new(Arc::clone(schema), columns)?)
}
