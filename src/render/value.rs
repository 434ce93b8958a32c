//! One Arrow value → `serde_json::Value` ([`value_to_json`]) and → cell text ([`value_to_text`]).
//!
//! Every output format goes through these two functions, so a type is converted the same way
//! everywhere: JSON/NDJSON embed the JSON value, CSV and table cells use its text (strings raw,
//! nested values as compact JSON, timestamps as RFC 3339 with nine fractional digits and `Z`).

use arrow::array::{Array, AsArray, FixedSizeListArray, GenericListArray, GenericListViewArray};
use arrow::datatypes::{
    DataType, Date32Type, Date64Type, DurationMicrosecondType, DurationMillisecondType,
    DurationNanosecondType, DurationSecondType, Float16Type, Float32Type, Float64Type, Int8Type,
    Int16Type, Int32Type, Int64Type, TimeUnit, TimestampMicrosecondType, TimestampMillisecondType,
    TimestampNanosecondType, TimestampSecondType, UInt8Type, UInt16Type, UInt32Type, UInt64Type,
};
use arrow::downcast_dictionary_array;
use arrow::error::ArrowError;
use arrow::util::display::{ArrayFormatter, FormatOptions};
use chrono::{DateTime, SecondsFormat};
use serde_json::{Map, Number, Value};

use crate::time::format_rfc3339_nanos;

/// The value at `row` of `array` as JSON: integers stay integers, non-finite floats and nulls are
/// `null`, structs and maps are objects (keys in field order), lists are arrays, timestamps are
/// RFC 3339 strings (`2026-01-02T03:04:05.123456700Z`), durations Kusto timespans
/// (`1.02:03:04.5000000`); other types use Arrow's display text.
pub fn value_to_json(array: &dyn Array, row: usize) -> Result<Value, ArrowError> {
    if matches!(array.data_type(), DataType::Null) || array.is_null(row) {
        return Ok(Value::Null);
    }
    Ok(match array.data_type() {
        DataType::Boolean => Value::Bool(array.as_boolean().value(row)),
        DataType::Int8 => array.as_primitive::<Int8Type>().value(row).into(),
        DataType::Int16 => array.as_primitive::<Int16Type>().value(row).into(),
        DataType::Int32 => array.as_primitive::<Int32Type>().value(row).into(),
        DataType::Int64 => array.as_primitive::<Int64Type>().value(row).into(),
        DataType::UInt8 => array.as_primitive::<UInt8Type>().value(row).into(),
        DataType::UInt16 => array.as_primitive::<UInt16Type>().value(row).into(),
        DataType::UInt32 => array.as_primitive::<UInt32Type>().value(row).into(),
        DataType::UInt64 => array.as_primitive::<UInt64Type>().value(row).into(),
        DataType::Float16 => float(array.as_primitive::<Float16Type>().value(row).to_f64()),
        // Through the shortest decimal text, so 0.1f32 prints as 0.1, not 0.10000000149011612.
        DataType::Float32 => {
            let v = array.as_primitive::<Float32Type>().value(row);
            float(v.to_string().parse().unwrap_or(f64::NAN))
        }
        DataType::Float64 => float(array.as_primitive::<Float64Type>().value(row)),
        DataType::Utf8 => Value::String(array.as_string::<i32>().value(row).to_owned()),
        DataType::LargeUtf8 => Value::String(array.as_string::<i64>().value(row).to_owned()),
        DataType::Utf8View => Value::String(array.as_string_view().value(row).to_owned()),
        DataType::Timestamp(unit, _) => {
            Value::String(timestamp_text(timestamp_value(array, *unit, row), *unit))
        }
        DataType::Date32 => {
            date_text(i64::from(array.as_primitive::<Date32Type>().value(row)) * 86_400_000)
                .map_or_else(|| fallback(array, row), |s| Ok(Value::String(s)))?
        }
        DataType::Date64 => date_text(array.as_primitive::<Date64Type>().value(row))
            .map_or_else(|| fallback(array, row), |s| Ok(Value::String(s)))?,
        DataType::Duration(unit) => Value::String(duration_text(duration_nanos(array, *unit, row))),
        DataType::Decimal32(..)
        | DataType::Decimal64(..)
        | DataType::Decimal128(..)
        | DataType::Decimal256(..) => {
            let text = display_text(array, row)?;
            match text.parse::<Number>() {
                Ok(n) => Value::Number(n),
                Err(_) => Value::String(text),
            }
        }
        DataType::Struct(fields) => {
            let s = array.as_struct();
            let mut object = Map::with_capacity(fields.len());
            for (field, column) in fields.iter().zip(s.columns()) {
                object.insert(field.name().clone(), value_to_json(column.as_ref(), row)?);
            }
            Value::Object(object)
        }
        DataType::List(_) => list_json(array.as_list::<i32>(), row)?,
        DataType::LargeList(_) => list_json(array.as_list::<i64>(), row)?,
        DataType::ListView(_) => list_view_json(array.as_list_view::<i32>(), row)?,
        DataType::LargeListView(_) => list_view_json(array.as_list_view::<i64>(), row)?,
        DataType::FixedSizeList(..) => fixed_list_json(array.as_fixed_size_list(), row)?,
        DataType::Map(..) => {
            let map = array.as_map();
            let (start, end) = (
                map.value_offsets()[row] as usize,
                map.value_offsets()[row + 1] as usize,
            );
            let (keys, values) = (map.keys(), map.values());
            let mut object = Map::with_capacity(end - start);
            for i in start..end {
                let key = value_to_text(keys.as_ref(), i)?.unwrap_or_else(|| "null".into());
                object.insert(key, value_to_json(values.as_ref(), i)?);
            }
            Value::Object(object)
        }
        DataType::Dictionary(..) => downcast_dictionary_array!(
            array => match array.key(row) {
                Some(key) => value_to_json(array.values().as_ref(), key)?,
                None => Value::Null,
            },
            t => return Err(ArrowError::InvalidArgumentError(format!("unexpected dictionary type {t}")))
        ),
        _ => fallback(array, row)?,
    })
}

/// The value at `row` of `array` as the text of a CSV or table cell; `None` for null.
/// Strings are raw, nested values compact JSON, numbers and timestamps as in [`value_to_json`];
/// non-finite floats (null in JSON) print as `NaN`, `inf`, `-inf`, decimals exactly.
pub fn value_to_text(array: &dyn Array, row: usize) -> Result<Option<String>, ArrowError> {
    if matches!(array.data_type(), DataType::Null) || array.is_null(row) {
        return Ok(None);
    }
    let non_finite = |v: f64| (!v.is_finite()).then(|| v.to_string());
    let special = match array.data_type() {
        DataType::Float16 => non_finite(array.as_primitive::<Float16Type>().value(row).to_f64()),
        DataType::Float32 => non_finite(f64::from(array.as_primitive::<Float32Type>().value(row))),
        DataType::Float64 => non_finite(array.as_primitive::<Float64Type>().value(row)),
        DataType::Decimal32(..)
        | DataType::Decimal64(..)
        | DataType::Decimal128(..)
        | DataType::Decimal256(..) => Some(display_text(array, row)?),
        DataType::Dictionary(..) => {
            return downcast_dictionary_array!(
                array => match array.key(row) {
                    Some(key) => value_to_text(array.values().as_ref(), key),
                    None => Ok(None),
                },
                t => Err(ArrowError::InvalidArgumentError(format!("unexpected dictionary type {t}")))
            );
        }
        _ => None,
    };
    if special.is_some() {
        return Ok(special);
    }
    Ok(match value_to_json(array, row)? {
        Value::Null => None,
        Value::String(s) => Some(s),
        other => Some(other.to_string()),
    })
}

/// Whether values of this type are numbers (right-aligned in tables).
pub fn is_numeric(data_type: &DataType) -> bool {
    match data_type {
        DataType::Dictionary(_, value) => is_numeric(value),
        t => t.is_numeric(),
    }
}

fn float(v: f64) -> Value {
    Number::from_f64(v).map_or(Value::Null, Value::Number)
}

fn list_json<O: arrow::array::OffsetSizeTrait>(
    list: &GenericListArray<O>,
    row: usize,
) -> Result<Value, ArrowError> {
    let offsets = list.value_offsets();
    let (start, end) = (offsets[row].as_usize(), offsets[row + 1].as_usize());
    (start..end)
        .map(|i| value_to_json(list.values().as_ref(), i))
        .collect::<Result<_, _>>()
        .map(Value::Array)
}

fn list_view_json<O: arrow::array::OffsetSizeTrait>(
    list: &GenericListViewArray<O>,
    row: usize,
) -> Result<Value, ArrowError> {
    let start = list.value_offsets()[row].as_usize();
    let end = start + list.value_sizes()[row].as_usize();
    (start..end)
        .map(|i| value_to_json(list.values().as_ref(), i))
        .collect::<Result<_, _>>()
        .map(Value::Array)
}

fn fixed_list_json(list: &FixedSizeListArray, row: usize) -> Result<Value, ArrowError> {
    let size = list.value_length() as usize;
    (row * size..(row + 1) * size)
        .map(|i| value_to_json(list.values().as_ref(), i))
        .collect::<Result<_, _>>()
        .map(Value::Array)
}

fn timestamp_value(array: &dyn Array, unit: TimeUnit, row: usize) -> i64 {
    match unit {
        TimeUnit::Second => array.as_primitive::<TimestampSecondType>().value(row),
        TimeUnit::Millisecond => array.as_primitive::<TimestampMillisecondType>().value(row),
        TimeUnit::Microsecond => array.as_primitive::<TimestampMicrosecondType>().value(row),
        TimeUnit::Nanosecond => array.as_primitive::<TimestampNanosecondType>().value(row),
    }
}

fn nanos_per(unit: TimeUnit) -> i64 {
    match unit {
        TimeUnit::Second => 1_000_000_000,
        TimeUnit::Millisecond => 1_000_000,
        TimeUnit::Microsecond => 1_000,
        TimeUnit::Nanosecond => 1,
    }
}

/// RFC 3339, nine fractional digits, `Z` (the instant in UTC, whatever the column's time zone; a
/// zone-less timestamp is taken as UTC). Values beyond the nanosecond range (years before 1677 or
/// after 2262, possible in seconds..microseconds units) still print, through chrono.
fn timestamp_text(value: i64, unit: TimeUnit) -> String {
    if let Some(nanos) = value.checked_mul(nanos_per(unit)) {
        return format_rfc3339_nanos(nanos);
    }
    let per_second = 1_000_000_000 / nanos_per(unit);
    let (secs, sub) = (value.div_euclid(per_second), value.rem_euclid(per_second));
    DateTime::from_timestamp(secs, (sub * nanos_per(unit)) as u32).map_or_else(
        || value.to_string(),
        |d| d.to_rfc3339_opts(SecondsFormat::Nanos, true),
    )
}

/// `YYYY-MM-DD` of a date given in milliseconds since the epoch.
fn date_text(millis: i64) -> Option<String> {
    DateTime::from_timestamp_millis(millis).map(|d| d.format("%Y-%m-%d").to_string())
}

fn duration_nanos(array: &dyn Array, unit: TimeUnit, row: usize) -> i128 {
    let v = match unit {
        TimeUnit::Second => array.as_primitive::<DurationSecondType>().value(row),
        TimeUnit::Millisecond => array.as_primitive::<DurationMillisecondType>().value(row),
        TimeUnit::Microsecond => array.as_primitive::<DurationMicrosecondType>().value(row),
        TimeUnit::Nanosecond => array.as_primitive::<DurationNanosecondType>().value(row),
    };
    i128::from(v) * i128::from(nanos_per(unit))
}

/// A duration as Kusto prints a timespan: `[-][d.]hh:mm:ss[.fffffff]` (seven fractional digits,
/// nine when the value has sub-100ns precision).
fn duration_text(nanos: i128) -> String {
    const SECOND: i128 = 1_000_000_000;
    let sign = if nanos < 0 { "-" } else { "" };
    let n = nanos.unsigned_abs();
    let (secs, frac) = (n / SECOND as u128, n % SECOND as u128);
    let (days, h, m, s) = (secs / 86_400, secs / 3_600 % 24, secs / 60 % 60, secs % 60);
    let mut out = String::from(sign);
    if days > 0 {
        out.push_str(&format!("{days}."));
    }
    out.push_str(&format!("{h:02}:{m:02}:{s:02}"));
    if frac != 0 {
        if frac % 100 == 0 {
            out.push_str(&format!(".{:07}", frac / 100));
        } else {
            out.push_str(&format!(".{frac:09}"));
        }
    }
    out
}

/// Arrow's own display text of one value.
fn display_text(array: &dyn Array, row: usize) -> Result<String, ArrowError> {
    let options = FormatOptions::default();
    Ok(ArrayFormatter::try_new(array, &options)?
        .value(row)
        .to_string())
}

/// Types without a JSON form of their own (binary as hex, intervals, times, unions, ...).
fn fallback(array: &dyn Array, row: usize) -> Result<Value, ArrowError> {
    display_text(array, row).map(Value::String)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{
        ArrayRef, BinaryArray, Date32Array, DictionaryArray, DurationNanosecondArray, Float32Array,
        Float64Array, Int64Array, ListArray, MapBuilder, StringArray, StringBuilder,
        StringViewArray, StructArray, TimestampMillisecondArray, TimestampNanosecondArray,
        TimestampSecondArray, UInt64Array,
    };
    use arrow::datatypes::{Field, Int32Type};
    use serde_json::json;

    use super::*;

    fn j(array: &dyn Array, row: usize) -> Value {
        value_to_json(array, row).unwrap()
    }
    fn t(array: &dyn Array, row: usize) -> Option<String> {
        value_to_text(array, row).unwrap()
    }

    #[test]
    fn numbers() {
        let a = Int64Array::from(vec![Some(i64::MAX), None]);
        assert_eq!(j(&a, 0), json!(i64::MAX));
        assert_eq!(t(&a, 0).unwrap(), "9223372036854775807");
        assert_eq!(j(&a, 1), Value::Null);
        assert_eq!(t(&a, 1), None);
        let u = UInt64Array::from(vec![u64::MAX]);
        assert_eq!(t(&u, 0).unwrap(), "18446744073709551615");
        let f = Float64Array::from(vec![1.5, f64::NAN, f64::INFINITY, 2.0]);
        assert_eq!(j(&f, 0), json!(1.5));
        assert_eq!(j(&f, 1), Value::Null);
        assert_eq!(j(&f, 2), Value::Null);
        assert_eq!(t(&f, 1).unwrap(), "NaN");
        assert_eq!(t(&f, 2).unwrap(), "inf");
        assert_eq!(t(&f, 3).unwrap(), "2.0");
        let f32s = Float32Array::from(vec![0.1f32]);
        assert_eq!(j(&f32s, 0).to_string(), "0.1");
    }

    #[test]
    fn strings_and_binary() {
        let s = StringArray::from(vec![Some("a\"b"), None]);
        assert_eq!(j(&s, 0), json!("a\"b"));
        assert_eq!(t(&s, 0).unwrap(), "a\"b");
        assert_eq!(t(&s, 1), None);
        let v = StringViewArray::from(vec!["a view string longer than twelve bytes"]);
        assert_eq!(t(&v, 0).unwrap(), "a view string longer than twelve bytes");
        let b = BinaryArray::from(vec![&b"\x01\xff"[..]]);
        assert_eq!(t(&b, 0).unwrap(), "01ff");
    }

    #[test]
    fn timestamps_of_every_unit_print_nine_digits_and_z() {
        let ns =
            TimestampNanosecondArray::from(vec![1_767_323_045_123_456_700]).with_timezone("UTC");
        assert_eq!(t(&ns, 0).unwrap(), "2026-01-02T03:04:05.123456700Z");
        let ns_tz =
            TimestampNanosecondArray::from(vec![1_767_323_045_123_456_700]).with_timezone("+02:00");
        assert_eq!(t(&ns_tz, 0).unwrap(), "2026-01-02T03:04:05.123456700Z");
        let ms = TimestampMillisecondArray::from(vec![1_767_323_045_123]);
        assert_eq!(j(&ms, 0), json!("2026-01-02T03:04:05.123000000Z"));
        let s = TimestampSecondArray::from(vec![-62_135_596_800]); // year 1, beyond i64 nanoseconds
        assert_eq!(t(&s, 0).unwrap(), "0001-01-01T00:00:00.000000000Z");
        let d = Date32Array::from(vec![20_455]);
        assert_eq!(t(&d, 0).unwrap(), "2026-01-02");
    }

    #[test]
    fn durations_are_kusto_timespans() {
        let d = DurationNanosecondArray::from(vec![
            300_000_000_000,
            93_784_500_000_000,
            -1_000_000_000,
            1,
        ]);
        assert_eq!(t(&d, 0).unwrap(), "00:05:00");
        assert_eq!(t(&d, 1).unwrap(), "1.02:03:04.5000000");
        assert_eq!(t(&d, 2).unwrap(), "-00:00:01");
        assert_eq!(t(&d, 3).unwrap(), "00:00:00.000000001");
    }

    #[test]
    fn nested_values_are_json() {
        let names: ArrayRef = Arc::new(StringArray::from(vec![Some("x"), None]));
        let counts: ArrayRef = Arc::new(Int64Array::from(vec![Some(1), Some(2)]));
        let s = StructArray::from(vec![
            (Arc::new(Field::new("name", DataType::Utf8, true)), names),
            (Arc::new(Field::new("n", DataType::Int64, true)), counts),
        ]);
        assert_eq!(j(&s, 0), json!({"name": "x", "n": 1}));
        assert_eq!(t(&s, 1).unwrap(), r#"{"name":null,"n":2}"#);
        let l = ListArray::from_iter_primitive::<Int32Type, _, _>(vec![
            Some(vec![Some(1), None]),
            Some(vec![]),
            None,
        ]);
        assert_eq!(t(&l, 0).unwrap(), "[1,null]");
        assert_eq!(t(&l, 1).unwrap(), "[]");
        assert_eq!(t(&l, 2), None);
        let mut m = MapBuilder::new(None, StringBuilder::new(), StringBuilder::new());
        m.keys().append_value("k");
        m.values().append_value("v");
        m.append(true).unwrap();
        let m = m.finish();
        assert_eq!(j(&m, 0), json!({"k": "v"}));
    }

    #[test]
    fn dictionaries_resolve_to_their_values() {
        let d: DictionaryArray<Int32Type> = vec![Some("a"), None, Some("a")].into_iter().collect();
        assert_eq!(t(&d, 0).unwrap(), "a");
        assert_eq!(t(&d, 1), None);
        assert_eq!(j(&d, 2), json!("a"));
    }
}
