//! Rows as JSON objects: [`RowEncoder`] turns one row into a `serde_json` object (unique column
//! names as keys, values through [`value_to_json`](super::value_to_json), KQL `dynamic` JSON
//! text parsed back into JSON), and [`write`] prints the `json` and `ndjson` formats with it.

use std::io::Write;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use serde_json::{Map, Value};

use super::{io_error, unique_names, unique_names_reserving, value_to_json};
use crate::Result;

/// Encodes rows of batches of one schema as JSON objects.
#[derive(Debug, Clone)]
pub struct RowEncoder {
    names: Vec<String>,
    /// Columns marked `auditbook.dynamic=json`: their strings are JSON text.
    json_text: Vec<bool>,
}

impl RowEncoder {
    /// An encoder for rows of `schema`, keys as in [`unique_names`].
    pub fn new(schema: &SchemaRef) -> RowEncoder {
        RowEncoder::with_names(schema, unique_names(schema))
    }

    /// An encoder whose keys avoid the `reserved` names (see [`unique_names_reserving`]).
    pub fn reserving(schema: &SchemaRef, reserved: &[&str]) -> RowEncoder {
        RowEncoder::with_names(schema, unique_names_reserving(schema, reserved))
    }

    fn with_names(schema: &SchemaRef, names: Vec<String>) -> RowEncoder {
        let json_text = schema
            .fields()
            .iter()
            .map(|f| {
                f.metadata()
                    .contains_key(crate::engine::DYNAMIC_JSON_METADATA)
            })
            .collect();
        RowEncoder { names, json_text }
    }

    /// The keys, in column order.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// Appends row `row` of `batch` to `object`, one key per column in column order.
    pub fn push_row(
        &self,
        batch: &RecordBatch,
        row: usize,
        object: &mut Map<String, Value>,
    ) -> Result<()> {
        for ((name, column), is_json) in self.names.iter().zip(batch.columns()).zip(&self.json_text)
        {
            let mut value = value_to_json(column.as_ref(), row)?;
            // KQL `dynamic` values held as JSON text are printed as the JSON they are.
            if *is_json && let Value::String(text) = &value {
                value = serde_json::from_str(text).unwrap_or(value);
            }
            object.insert(name.clone(), value);
        }
        Ok(())
    }

    /// Row `row` of `batch` as a JSON object.
    pub fn row(&self, batch: &RecordBatch, row: usize) -> Result<Map<String, Value>> {
        let mut object = Map::with_capacity(self.names.len());
        self.push_row(batch, row, &mut object)?;
        Ok(object)
    }
}

/// `json` (`array`): `[` and `]` on lines of their own, one compact row object per line between
/// them (`[]` alone when there are no rows). `ndjson`: one row object per line.
pub fn write(
    schema: &SchemaRef,
    batches: &[RecordBatch],
    out: &mut dyn Write,
    array: bool,
) -> Result<()> {
    let encoder = RowEncoder::new(schema);
    let mut first = true;
    for batch in batches {
        for row in 0..batch.num_rows() {
            let object = encoder.row(batch, row)?;
            let separator = match (array, first) {
                (false, _) => "",
                (true, true) => "[\n",
                (true, false) => ",\n",
            };
            out.write_all(separator.as_bytes()).map_err(io_error)?;
            write_compact(&Value::Object(object), out)?;
            if !array {
                out.write_all(b"\n").map_err(io_error)?;
            }
            first = false;
        }
    }
    if array {
        out.write_all(if first { b"[]\n" } else { b"\n]\n" })
            .map_err(io_error)?;
    }
    Ok(())
}

/// `value` as compact JSON (no newline).
pub fn write_compact(value: &Value, out: &mut dyn Write) -> Result<()> {
    serde_json::to_writer(&mut *out, value).map_err(|e| io_error(e.into()))
}

/// `value` as indented JSON, then a newline.
pub fn write_pretty(value: &Value, out: &mut dyn Write) -> Result<()> {
    serde_json::to_writer_pretty(&mut *out, value).map_err(|e| io_error(e.into()))?;
    out.write_all(b"\n").map_err(io_error)
}
