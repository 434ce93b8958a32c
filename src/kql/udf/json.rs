//! KQL `tostring` and the `dynamic` type, which auditbook holds as compact JSON text (Utf8):
//! converting any Arrow value to KQL text or JSON, `parse_json`, property and index access,
//! `array_length`, `bag_keys`, `bag_pack`, `pack_array`, and the mv-expand helper
//! `kql_json_items`.
//!
//! JSON text is written by serde_json (compact, keys in their original order). Text that is not
//! valid JSON stands for a JSON string holding that text, as KQL's `parse_json` does.

use std::borrow::Cow;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, Int64Builder, ListBuilder, StringBuilder};
use arrow::compute::cast;
use arrow::datatypes::{
    DataType, Date32Type, Date64Type, DurationMicrosecondType, DurationMillisecondType,
    DurationNanosecondType, DurationSecondType, Float16Type, Float32Type, Float64Type, Int8Type,
    Int16Type, Int32Type, Int64Type, TimeUnit, TimestampMicrosecondType, TimestampMillisecondType,
    TimestampNanosecondType, TimestampSecondType, UInt8Type, UInt16Type, UInt32Type, UInt64Type,
};
use arrow::util::display::{ArrayFormatter, FormatOptions};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use datafusion::common::{Result, exec_err};
use datafusion::logical_expr::ScalarUDF;
use serde_json::{Map, Value};

use super::common::{Args, Kind, KqlScalar, Params, str_list_type};
use super::time::{datetime_text, timespan_text};

const STR: Params = Params::Fixed(&[Kind::Str]);
const ANY: Params = Params::Fixed(&[Kind::Any]);

/// Every UDF of this module.
pub fn functions() -> Vec<ScalarUDF> {
    vec![
        kql_tostring(),
        kql_json(),
        kql_parse_json(),
        kql_json_get(),
        kql_json_index(),
        kql_json_tostring(),
        kql_json_array_length(),
        kql_json_items(),
        kql_json_keys(),
        kql_bag_pack(),
        kql_pack_array(),
    ]
}

// ---------------------------------------------------------------------------------------------
// Arrow values as KQL text and JSON
// ---------------------------------------------------------------------------------------------

/// A KQL `real` as text: the shortest text that reads back as the same value, in .NET's form
/// (`1.5`, `1`, `1E+15`, `1E-05`, `NaN`, `Infinity`, `-Infinity`).
pub fn real_text(v: f64) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "Infinity" } else { "-Infinity" }.into();
    }
    dotnet_shortest(format!("{v:e}"), || format!("{v}"))
}

fn real32_text(v: f32) -> String {
    if !v.is_finite() {
        return real_text(f64::from(v));
    }
    dotnet_shortest(format!("{v:e}"), || format!("{v}"))
}

/// From Rust's shortest scientific form (`1.5e-5`): positional between 1E-05 and 1E+15
/// (exclusive), otherwise `mantissaE±XX` as .NET writes it.
fn dotnet_shortest(sci: String, positional: impl FnOnce() -> String) -> String {
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if (-5..15).contains(&exp) {
        positional()
    } else {
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{mantissa}E{sign}{:02}", exp.abs())
    }
}

/// Nanoseconds of a timestamp, date or duration value (any unit); `None` on overflow.
fn temporal_nanos(arr: &dyn Array, i: usize) -> Option<i64> {
    fn scale(v: i64, unit: &TimeUnit) -> Option<i64> {
        v.checked_mul(match unit {
            TimeUnit::Second => 1_000_000_000,
            TimeUnit::Millisecond => 1_000_000,
            TimeUnit::Microsecond => 1_000,
            TimeUnit::Nanosecond => 1,
        })
    }
    match arr.data_type() {
        DataType::Timestamp(unit, _) => {
            let v = match unit {
                TimeUnit::Second => arr.as_primitive::<TimestampSecondType>().value(i),
                TimeUnit::Millisecond => arr.as_primitive::<TimestampMillisecondType>().value(i),
                TimeUnit::Microsecond => arr.as_primitive::<TimestampMicrosecondType>().value(i),
                TimeUnit::Nanosecond => arr.as_primitive::<TimestampNanosecondType>().value(i),
            };
            scale(v, unit)
        }
        DataType::Duration(unit) => {
            let v = match unit {
                TimeUnit::Second => arr.as_primitive::<DurationSecondType>().value(i),
                TimeUnit::Millisecond => arr.as_primitive::<DurationMillisecondType>().value(i),
                TimeUnit::Microsecond => arr.as_primitive::<DurationMicrosecondType>().value(i),
                TimeUnit::Nanosecond => arr.as_primitive::<DurationNanosecondType>().value(i),
            };
            scale(v, unit)
        }
        DataType::Date32 => {
            i64::from(arr.as_primitive::<Date32Type>().value(i)).checked_mul(86_400_000_000_000)
        }
        DataType::Date64 => arr
            .as_primitive::<Date64Type>()
            .value(i)
            .checked_mul(1_000_000),
        _ => None,
    }
}

/// Arrow's own text for a value (types KQL has no form for).
fn display(arr: &dyn Array, i: usize) -> Result<String> {
    Ok(ArrayFormatter::try_new(arr, &FormatOptions::default())?
        .value(i)
        .to_string())
}

/// A value as KQL `tostring()` writes it; `None` for null.
pub fn value_text(arr: &dyn Array, i: usize) -> Result<Option<Cow<'_, str>>> {
    use DataType::*;
    if arr.data_type() == &Null || arr.is_null(i) {
        return Ok(None);
    }
    let text: Cow<'_, str> = match arr.data_type() {
        Utf8 => Cow::Borrowed(arr.as_string::<i32>().value(i)),
        LargeUtf8 => Cow::Borrowed(arr.as_string::<i64>().value(i)),
        Utf8View => Cow::Borrowed(arr.as_string_view().value(i)),
        Boolean => Cow::Borrowed(if arr.as_boolean().value(i) {
            "true"
        } else {
            "false"
        }),
        Int8 => arr.as_primitive::<Int8Type>().value(i).to_string().into(),
        Int16 => arr.as_primitive::<Int16Type>().value(i).to_string().into(),
        Int32 => arr.as_primitive::<Int32Type>().value(i).to_string().into(),
        Int64 => arr.as_primitive::<Int64Type>().value(i).to_string().into(),
        UInt8 => arr.as_primitive::<UInt8Type>().value(i).to_string().into(),
        UInt16 => arr.as_primitive::<UInt16Type>().value(i).to_string().into(),
        UInt32 => arr.as_primitive::<UInt32Type>().value(i).to_string().into(),
        UInt64 => arr.as_primitive::<UInt64Type>().value(i).to_string().into(),
        Float16 => real32_text(arr.as_primitive::<Float16Type>().value(i).to_f32()).into(),
        Float32 => real32_text(arr.as_primitive::<Float32Type>().value(i)).into(),
        Float64 => real_text(arr.as_primitive::<Float64Type>().value(i)).into(),
        Timestamp(_, _) | Date32 | Date64 => match temporal_nanos(arr, i) {
            Some(ns) => datetime_text(ns).into(),
            None => display(arr, i)?.into(),
        },
        Duration(_) => match temporal_nanos(arr, i) {
            Some(ns) => timespan_text(ns).into(),
            None => display(arr, i)?.into(),
        },
        Dictionary(_, value_type) => {
            let one = cast(&arr.slice(i, 1), value_type)?;
            return Ok(value_text(&one, 0)?.map(|c| Cow::Owned(c.into_owned())));
        }
        List(_) | LargeList(_) | FixedSizeList(_, _) | Struct(_) | Map(_, _) => {
            value_json(arr, i)?.to_string().into()
        }
        _ => display(arr, i)?.into(),
    };
    Ok(Some(text))
}

/// A value as JSON: strings, timestamps (KQL datetime text) and durations (timespan text) as JSON
/// strings, structs as objects with every field, lists as arrays, maps as objects.
pub fn value_json(arr: &dyn Array, i: usize) -> Result<Value> {
    use DataType::*;
    if arr.data_type() == &Null || arr.is_null(i) {
        return Ok(Value::Null);
    }
    Ok(match arr.data_type() {
        Boolean => Value::Bool(arr.as_boolean().value(i)),
        Int8 => arr.as_primitive::<Int8Type>().value(i).into(),
        Int16 => arr.as_primitive::<Int16Type>().value(i).into(),
        Int32 => arr.as_primitive::<Int32Type>().value(i).into(),
        Int64 => arr.as_primitive::<Int64Type>().value(i).into(),
        UInt8 => arr.as_primitive::<UInt8Type>().value(i).into(),
        UInt16 => arr.as_primitive::<UInt16Type>().value(i).into(),
        UInt32 => arr.as_primitive::<UInt32Type>().value(i).into(),
        UInt64 => arr.as_primitive::<UInt64Type>().value(i).into(),
        Float64 => arr.as_primitive::<Float64Type>().value(i).into(),
        // Through the shortest f32 text, so 1.1f32 stays 1.1.
        Float16
        | Float32
        | Decimal32(_, _)
        | Decimal64(_, _)
        | Decimal128(_, _)
        | Decimal256(_, _) => {
            let text = value_text(arr, i)?.unwrap_or_default();
            text.parse::<f64>().map_or(Value::Null, Value::from)
        }
        Binary | LargeBinary | BinaryView | FixedSizeBinary(_) => {
            let b = cast(&arr.slice(i, 1), &LargeBinary)?;
            Value::String(STANDARD.encode(b.as_binary::<i64>().value(0)))
        }
        List(_) => items_json(&arr.as_list::<i32>().value(i))?,
        LargeList(_) => items_json(&arr.as_list::<i64>().value(i))?,
        FixedSizeList(_, _) => items_json(&arr.as_fixed_size_list().value(i))?,
        Struct(fields) => {
            let s = arr.as_struct();
            let mut obj = serde_json::Map::with_capacity(fields.len());
            for (f, c) in fields.iter().zip(s.columns()) {
                obj.insert(f.name().clone(), value_json(c, i)?);
            }
            Value::Object(obj)
        }
        Map(_, _) => {
            let entries = arr.as_map().value(i);
            let (keys, values) = (entries.column(0), entries.column(1));
            let mut obj = serde_json::Map::with_capacity(entries.len());
            for j in 0..entries.len() {
                let k = value_text(keys, j)?.unwrap_or_default().into_owned();
                obj.insert(k, value_json(values, j)?);
            }
            Value::Object(obj)
        }
        Dictionary(_, value_type) => value_json(&cast(&arr.slice(i, 1), value_type)?, 0)?,
        _ => Value::String(value_text(arr, i)?.unwrap_or_default().into_owned()),
    })
}

fn items_json(items: &dyn Array) -> Result<Value> {
    (0..items.len())
        .map(|j| value_json(items, j))
        .collect::<Result<Vec<_>>>()
        .map(Value::Array)
}

/// The dynamic value held by JSON text: `None` for `""`; text that is not JSON is a string.
pub fn parse_dynamic(text: &str) -> Option<Value> {
    if text.is_empty() {
        return None;
    }
    Some(serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_string())))
}

/// Compact JSON text of a value.
fn json_text(v: &Value) -> String {
    v.to_string()
}

/// KQL `tostring` of a dynamic value: a string unquoted, null as `""`, anything else as JSON.
fn dynamic_text(v: &Value) -> Cow<'_, str> {
    match v {
        Value::String(s) => Cow::Borrowed(s),
        Value::Null => Cow::Borrowed(""),
        other => Cow::Owned(json_text(other)),
    }
}

// ---------------------------------------------------------------------------------------------
// UDFs
// ---------------------------------------------------------------------------------------------

/// One Utf8 output per row of the single JSON-text argument.
fn map_json(a: &Args, f: impl Fn(Option<&str>) -> Option<String>) -> Result<ArrayRef> {
    let s = a.str(0)?;
    let mut out = StringBuilder::with_capacity(a.rows(), 0);
    for i in 0..a.rows() {
        out.append_option(f(s.get(i)));
    }
    Ok(Arc::new(out.finish()))
}

/// `kql_tostring(any) -> Utf8` (never null): KQL `tostring()`; null → `""`, nested values as JSON.
pub fn kql_tostring() -> ScalarUDF {
    KqlScalar::non_null("kql_tostring", ANY, DataType::Utf8, |a| {
        let v = a.any(0);
        let mut out = StringBuilder::with_capacity(a.rows(), 0);
        for i in 0..a.rows() {
            out.append_value(value_text(v.arr, v.index(i))?.unwrap_or_default());
        }
        Ok(Arc::new(out.finish()))
    })
}

/// `kql_json(any) -> Utf8`: the value as compact JSON text; null → NULL.
pub fn kql_json() -> ScalarUDF {
    KqlScalar::udf("kql_json", ANY, DataType::Utf8, |a| {
        let v = a.any(0);
        let mut out = StringBuilder::with_capacity(a.rows(), 0);
        for i in 0..a.rows() {
            match value_json(v.arr, v.index(i))? {
                Value::Null => out.append_null(),
                j => out.append_value(json_text(&j)),
            }
        }
        Ok(Arc::new(out.finish()))
    })
}

/// `kql_parse_json(s) -> Utf8`: KQL `parse_json`, JSON text re-serialized compactly.
///
/// Invalid JSON gives a JSON string holding `s`; NULL or `""` gives NULL.
pub fn kql_parse_json() -> ScalarUDF {
    KqlScalar::udf("kql_parse_json", STR, DataType::Utf8, |a| {
        map_json(a, |s| s.and_then(parse_dynamic).map(|v| json_text(&v)))
    })
}

/// `kql_json_get(json, key) -> Utf8`: property `key` (case-sensitive) of a JSON object, as JSON.
pub fn kql_json_get() -> ScalarUDF {
    KqlScalar::udf(
        "kql_json_get",
        Params::Fixed(&[Kind::Str, Kind::Str]),
        DataType::Utf8,
        |a| {
            let (s, k) = (a.str(0)?, a.str(1)?);
            let mut out = StringBuilder::with_capacity(a.rows(), 0);
            for i in 0..a.rows() {
                let got = match (s.get(i).and_then(parse_dynamic), k.get(i)) {
                    (Some(Value::Object(mut o)), Some(key)) => o.swap_remove(key),
                    _ => None,
                };
                out.append_option(got.map(|v| json_text(&v)));
            }
            Ok(Arc::new(out.finish()))
        },
    )
}

/// `kql_json_index(json, i) -> Utf8`: element `i` of a JSON array (negative: from the end).
pub fn kql_json_index() -> ScalarUDF {
    KqlScalar::udf(
        "kql_json_index",
        Params::Fixed(&[Kind::Str, Kind::Int]),
        DataType::Utf8,
        |a| {
            let (s, idx) = (a.str(0)?, a.i64(1)?);
            let mut out = StringBuilder::with_capacity(a.rows(), 0);
            for i in 0..a.rows() {
                let got = match (s.get(i).and_then(parse_dynamic), idx.get(i)) {
                    (Some(Value::Array(mut items)), Some(k)) => {
                        let len = items.len() as i64;
                        let k = if k < 0 { len + k } else { k };
                        (0..len).contains(&k).then(|| items.swap_remove(k as usize))
                    }
                    _ => None,
                };
                out.append_option(got.map(|v| json_text(&v)));
            }
            Ok(Arc::new(out.finish()))
        },
    )
}

/// `kql_json_tostring(json) -> Utf8` (never null): KQL `tostring` of a dynamic value.
pub fn kql_json_tostring() -> ScalarUDF {
    KqlScalar::non_null("kql_json_tostring", STR, DataType::Utf8, |a| {
        map_json(a, |s| {
            Some(match s.and_then(parse_dynamic) {
                Some(v) => dynamic_text(&v).into_owned(),
                None => String::new(),
            })
        })
    })
}

/// `kql_json_array_length(json) -> Int64`: length of a JSON array, else null.
pub fn kql_json_array_length() -> ScalarUDF {
    KqlScalar::udf("kql_json_array_length", STR, DataType::Int64, |a| {
        let s = a.str(0)?;
        let mut out = Int64Builder::with_capacity(a.rows());
        for i in 0..a.rows() {
            out.append_option(match s.get(i).and_then(parse_dynamic) {
                Some(Value::Array(items)) => Some(items.len() as i64),
                _ => None,
            });
        }
        Ok(Arc::new(out.finish()))
    })
}

/// `kql_json_items(json, mode) -> List<Utf8>`: the values mv-expand produces from a dynamic value.
///
/// An array gives its elements; an object gives one item per property, `{"k":v}` with mode `bag`
/// (or NULL) and `["k",v]` with mode `array`; any other value gives itself. JSON `null`, `""` and
/// NULL give NULL. Items are JSON text.
pub fn kql_json_items() -> ScalarUDF {
    KqlScalar::udf(
        "kql_json_items",
        Params::Fixed(&[Kind::Str, Kind::Str]),
        str_list_type(),
        |a| {
            let (s, m) = (a.str(0)?, a.str(1)?);
            let mut out = ListBuilder::new(StringBuilder::new());
            for i in 0..a.rows() {
                let as_array = match m.get(i).map(str::to_ascii_lowercase).as_deref() {
                    None | Some("bag") => false,
                    Some("array") => true,
                    Some(other) => {
                        return exec_err!(
                            "kql_json_items: unknown mode {other:?} (expected bag or array)"
                        );
                    }
                };
                match s.get(i).and_then(parse_dynamic) {
                    None | Some(Value::Null) => out.append_null(),
                    Some(Value::Array(items)) => {
                        for v in &items {
                            out.values().append_value(json_text(v));
                        }
                        out.append(true);
                    }
                    Some(Value::Object(o)) => {
                        for (k, v) in o {
                            let item = if as_array {
                                Value::Array(vec![Value::String(k), v])
                            } else {
                                Value::Object(Map::from_iter([(k, v)]))
                            };
                            out.values().append_value(json_text(&item));
                        }
                        out.append(true);
                    }
                    Some(v) => {
                        out.values().append_value(json_text(&v));
                        out.append(true);
                    }
                }
            }
            Ok(Arc::new(out.finish()))
        },
    )
}

/// `kql_json_keys(json) -> List<Utf8>`: the keys of a JSON object in order, else null.
pub fn kql_json_keys() -> ScalarUDF {
    KqlScalar::udf("kql_json_keys", STR, str_list_type(), |a| {
        let s = a.str(0)?;
        let mut out = ListBuilder::new(StringBuilder::new());
        for i in 0..a.rows() {
            match s.get(i).and_then(parse_dynamic) {
                Some(Value::Object(o)) => {
                    for k in o.keys() {
                        out.values().append_value(k);
                    }
                    out.append(true);
                }
                _ => out.append_null(),
            }
        }
        Ok(Arc::new(out.finish()))
    })
}

/// A JSON value from JSON text where NULL (and `""`) mean JSON `null`.
fn json_or_null(s: Option<&str>) -> Value {
    s.and_then(parse_dynamic).unwrap_or(Value::Null)
}

/// `kql_bag_pack(k1, v1, k2, v2, ...) -> Utf8`: a JSON object of key/value pairs.
///
/// Values are JSON text (NULL → `null`); pairs with a NULL key are left out; a repeated key keeps
/// its last value.
pub fn kql_bag_pack() -> ScalarUDF {
    KqlScalar::udf(
        "kql_bag_pack",
        Params::Repeat(&[Kind::Str, Kind::Str]),
        DataType::Utf8,
        |a| {
            let cols = (0..a.len()).map(|k| a.str(k)).collect::<Result<Vec<_>>>()?;
            let mut out = StringBuilder::with_capacity(a.rows(), 0);
            for i in 0..a.rows() {
                let mut obj = serde_json::Map::with_capacity(cols.len() / 2);
                for pair in cols.chunks_exact(2) {
                    if let Some(k) = pair[0].get(i) {
                        obj.insert(k.to_string(), json_or_null(pair[1].get(i)));
                    }
                }
                out.append_value(json_text(&Value::Object(obj)));
            }
            Ok(Arc::new(out.finish()))
        },
    )
}

/// `kql_pack_array(v1, v2, ...) -> Utf8`: a JSON array of the values (JSON text, NULL → `null`).
pub fn kql_pack_array() -> ScalarUDF {
    KqlScalar::udf(
        "kql_pack_array",
        Params::Repeat(&[Kind::Str]),
        DataType::Utf8,
        |a| {
            let cols = (0..a.len()).map(|k| a.str(k)).collect::<Result<Vec<_>>>()?;
            let mut out = StringBuilder::with_capacity(a.rows(), 0);
            for i in 0..a.rows() {
                let items = cols.iter().map(|c| json_or_null(c.get(i))).collect();
                out.append_value(json_text(&Value::Array(items)));
            }
            Ok(Arc::new(out.finish()))
        },
    )
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::real_text;

    #[test]
    fn real_text_is_shortest_round_trip() {
        assert_eq!(real_text(1.5), "1.5");
        assert_eq!(real_text(1.0), "1");
        assert_eq!(real_text(-0.25), "-0.25");
        assert_eq!(real_text(f64::NAN), "NaN");
        assert_eq!(real_text(f64::INFINITY), "Infinity");
        assert_eq!(real_text(f64::NEG_INFINITY), "-Infinity");
        assert_eq!(real_text(1e14), "100000000000000");
        assert_eq!(real_text(1e15), "1E+15");
        assert_eq!(real_text(1.25e-7), "1.25E-07");
        assert_eq!(real_text(0.0001), "0.0001");
        assert_eq!(real_text(0.1 + 0.2), "0.30000000000000004");
    }

    #[test]
    fn tostring_of_scalars() {
        assert_eq!(str1("SELECT kql_tostring('abc')"), s("abc"));
        assert_eq!(str1("SELECT kql_tostring(NULL)"), s(""));
        assert_eq!(str1("SELECT kql_tostring(CAST(NULL AS INT))"), s(""));
        assert_eq!(str1("SELECT kql_tostring(42)"), s("42"));
        assert_eq!(str1("SELECT kql_tostring(CAST(-7 AS TINYINT))"), s("-7"));
        assert_eq!(str1("SELECT kql_tostring(1.5)"), s("1.5"));
        assert_eq!(str1("SELECT kql_tostring(CAST(1.0 AS DOUBLE))"), s("1"));
        assert_eq!(str1("SELECT kql_tostring(CAST(1.1 AS REAL))"), s("1.1"));
        assert_eq!(str1("SELECT kql_tostring(CAST('NaN' AS DOUBLE))"), s("NaN"));
        assert_eq!(str1("SELECT kql_tostring(true)"), s("true"));
        assert_eq!(
            str1("SELECT kql_tostring(TIMESTAMP '2026-10-08 11:30:00.25')"),
            s("2026-10-08T11:30:00.2500000Z")
        );
        assert_eq!(
            str1("SELECT kql_tostring(arrow_cast(5400, 'Duration(Second)'))"),
            s("01:30:00")
        );
        assert_eq!(
            str1("SELECT kql_tostring(arrow_cast(86400, 'Duration(Second)'))"),
            s("1.00:00:00")
        );
        assert_eq!(
            str1("SELECT kql_tostring(arrow_cast(1500, 'Duration(Millisecond)'))"),
            s("00:00:01.5000000")
        );
        assert_eq!(
            str1("SELECT kql_tostring(arrow_cast(-90, 'Duration(Second)'))"),
            s("-00:01:30")
        );
        assert_eq!(
            strs(
                "SELECT kql_tostring(arrow_cast(s, 'Utf8View')) FROM (VALUES ('v'), (NULL)) AS t(s)"
            ),
            [s("v"), s("")]
        );
        assert_eq!(
            str1("SELECT kql_tostring(arrow_cast('d', 'Dictionary(Int32, Utf8)'))"),
            s("d")
        );
        assert_eq!(
            str1("SELECT kql_tostring(arrow_cast('l', 'LargeUtf8'))"),
            s("l")
        );
        let (t, nullable) = field("SELECT kql_tostring(NULL)");
        assert_eq!(t, arrow::datatypes::DataType::Utf8);
        assert!(!nullable);
    }

    #[test]
    fn tostring_and_json_of_nested_values() {
        assert_eq!(
            str1("SELECT kql_tostring(named_struct('a', 1, 'b', 'x', 'c', CAST(NULL AS INT)))"),
            s(r#"{"a":1,"b":"x","c":null}"#)
        );
        assert_eq!(
            str1("SELECT kql_tostring(make_array(1, 2, 3))"),
            s("[1,2,3]")
        );
        assert_eq!(
            str1("SELECT kql_json(make_array('a', NULL))"),
            s(r#"["a",null]"#)
        );
        assert_eq!(
            str1(
                "SELECT kql_json(named_struct('t', TIMESTAMP '2026-01-02 03:04:05', 'l', make_array(1.5)))"
            ),
            s(r#"{"t":"2026-01-02T03:04:05.0000000Z","l":[1.5]}"#)
        );
        assert_eq!(str1("SELECT kql_json(MAP {'k': 1})"), s(r#"{"k":1}"#));
    }

    #[test]
    fn json_of_scalars() {
        assert_eq!(str1("SELECT kql_json('a\"b')"), s(r#""a\"b""#));
        assert_eq!(str1("SELECT kql_json(NULL)"), None);
        assert_eq!(str1("SELECT kql_json(CAST(NULL AS VARCHAR))"), None);
        assert_eq!(str1("SELECT kql_json(CAST(1 AS DOUBLE))"), s("1.0"));
        assert_eq!(str1("SELECT kql_json(false)"), s("false"));
        assert_eq!(str1("SELECT kql_json('')"), s(r#""""#));
        let v = strs("SELECT kql_json(x) FROM (VALUES (1), (NULL), (3)) AS v(x)");
        assert_eq!(v, [s("1"), None, s("3")]);
    }

    #[test]
    fn parse_json_normalises() {
        assert_eq!(
            str1(r#"SELECT kql_parse_json('{ "b": 1, "a": [true, null] }')"#),
            s(r#"{"b":1,"a":[true,null]}"#)
        );
        assert_eq!(str1("SELECT kql_parse_json('abc')"), s(r#""abc""#));
        assert_eq!(str1("SELECT kql_parse_json(' 12 ')"), s("12"));
        assert_eq!(str1("SELECT kql_parse_json('')"), None);
        assert_eq!(str1("SELECT kql_parse_json(NULL)"), None);
        assert_eq!(str1("SELECT kql_parse_json('null')"), s("null"));
    }

    #[test]
    fn json_get_and_index() {
        let doc = r#"'{"a":{"b":[10,"x",{"c":null}]},"A":2}'"#;
        assert_eq!(
            str1(&format!("SELECT kql_json_get({doc}, 'a')")),
            s(r#"{"b":[10,"x",{"c":null}]}"#)
        );
        assert_eq!(str1(&format!("SELECT kql_json_get({doc}, 'A')")), s("2"));
        assert_eq!(
            str1(&format!("SELECT kql_json_get({doc}, 'missing')")),
            None
        );
        assert_eq!(str1("SELECT kql_json_get('[1]', 'a')"), None);
        assert_eq!(str1("SELECT kql_json_get(NULL, 'a')"), None);
        assert_eq!(
            str1(&format!(
                "SELECT kql_json_index(kql_json_get(kql_json_get({doc}, 'a'), 'b'), 1)"
            )),
            s(r#""x""#)
        );
        assert_eq!(str1("SELECT kql_json_index('[1,2,3]', -1)"), s("3"));
        assert_eq!(str1("SELECT kql_json_index('[1,2,3]', -3)"), s("1"));
        assert_eq!(str1("SELECT kql_json_index('[1,2,3]', 3)"), None);
        assert_eq!(str1("SELECT kql_json_index('[1,2,3]', -4)"), None);
        assert_eq!(str1(r#"SELECT kql_json_index('{"a":1}', 0)"#), None);
        let v = strs(
            r#"SELECT kql_json_get(j, k) FROM (VALUES ('{"x":1}', 'x'), ('{"y":2}', 'y'), ('{"y":2}', 'x')) AS v(j, k)"#,
        );
        assert_eq!(v, [s("1"), s("2"), None]);
    }

    #[test]
    fn json_tostring_unquotes_strings() {
        assert_eq!(str1(r#"SELECT kql_json_tostring('"abc"')"#), s("abc"));
        assert_eq!(
            str1(r#"SELECT kql_json_tostring('{"a":1}')"#),
            s(r#"{"a":1}"#)
        );
        assert_eq!(str1("SELECT kql_json_tostring('null')"), s(""));
        assert_eq!(str1("SELECT kql_json_tostring(NULL)"), s(""));
        assert_eq!(str1("SELECT kql_json_tostring('1.50')"), s("1.5"));
        assert!(!field("SELECT kql_json_tostring(NULL)").1);
    }

    #[test]
    fn array_length_and_keys() {
        assert_eq!(ints("SELECT kql_json_array_length('[1,[2,3]]')"), [Some(2)]);
        assert_eq!(ints("SELECT kql_json_array_length('[]')"), [Some(0)]);
        assert_eq!(ints(r#"SELECT kql_json_array_length('{"a":1}')"#), [None]);
        assert_eq!(ints("SELECT kql_json_array_length(NULL)"), [None]);
        assert_eq!(
            lists(r#"SELECT kql_json_keys('{"b":1,"a":2}')"#),
            [list(&["b", "a"])]
        );
        assert_eq!(lists("SELECT kql_json_keys('{}')"), [list(&[])]);
        assert_eq!(lists("SELECT kql_json_keys('[1]')"), [None]);
        assert_eq!(lists("SELECT kql_json_keys(NULL)"), [None]);
    }

    #[test]
    fn items_for_mv_expand() {
        assert_eq!(
            lists(r#"SELECT kql_json_items('[1,"a",{"b":2}]', 'bag')"#),
            [list(&["1", r#""a""#, r#"{"b":2}"#])]
        );
        assert_eq!(
            lists(r#"SELECT kql_json_items('{"a":1,"b":[2]}', 'bag')"#),
            [list(&[r#"{"a":1}"#, r#"{"b":[2]}"#])]
        );
        assert_eq!(
            lists(r#"SELECT kql_json_items('{"a":1,"b":[2]}', 'array')"#),
            [list(&[r#"["a",1]"#, r#"["b",[2]]"#])]
        );
        assert_eq!(lists("SELECT kql_json_items('7', 'bag')"), [list(&["7"])]);
        assert_eq!(lists("SELECT kql_json_items('[]', 'bag')"), [list(&[])]);
        assert_eq!(lists("SELECT kql_json_items(NULL, 'bag')"), [None]);
        assert_eq!(lists("SELECT kql_json_items('null', 'bag')"), [None]);
        let e = error("SELECT kql_json_items('[1]', 'rows')");
        assert!(e.contains("unknown mode"), "{e}");
        let v = lists("SELECT kql_json_items(j, 'bag') FROM (VALUES ('[1,2]'), ('3')) AS v(j)");
        assert_eq!(v, [list(&["1", "2"]), list(&["3"])]);
    }

    #[test]
    fn bag_pack_and_pack_array() {
        assert_eq!(
            str1(r#"SELECT kql_bag_pack('a', '1', 'b', '"x"', 'c', NULL)"#),
            s(r#"{"a":1,"b":"x","c":null}"#)
        );
        assert_eq!(str1("SELECT kql_bag_pack()"), s("{}"));
        assert_eq!(
            str1("SELECT kql_bag_pack(NULL, '1', 'k', '[1]')"),
            s(r#"{"k":[1]}"#)
        );
        let e = error("SELECT kql_bag_pack('a')");
        assert!(e.contains("multiple of 2"), "{e}");
        assert_eq!(
            str1(r#"SELECT kql_pack_array('1', NULL, '"s"', '{"a":true}')"#),
            s(r#"[1,null,"s",{"a":true}]"#)
        );
        assert_eq!(str1("SELECT kql_pack_array()"), s("[]"));
        let v = strs("SELECT kql_bag_pack('k', kql_json(x)) FROM (VALUES ('a'), (NULL)) AS v(x)");
        assert_eq!(v, [s(r#"{"k":"a"}"#), s(r#"{"k":null}"#)]);
    }
}
