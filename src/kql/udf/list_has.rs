//! Predicates on the struct elements of a list, by a field path and string constants (string
//! equality; a null never matches):
//!
//! - `kql_list_has(list, field, [field, ...], value) -> bool`: whether some element has `value`
//!   at the field path;
//! - `kql_list_filter(list, n, field_1, ..., field_n, value, [value, ...]) -> list`: the list
//!   with only the elements whose field path (`n` names) holds one of the values, in their order
//!   (a null list stays null).
//!
//! The compiler adds them around an `mv-expand` whose elements a later `where` compares with
//! constants ([`crate::kql::prefilter`]): `mv-expand TargetResources | where
//! TargetResources.id == "X"` expands only the rows that can match (`kql_list_has`, which the
//! target index also reads), and only their matching elements (`kql_list_filter`), instead of
//! every element of every row. Both read one leaf column of the elements and compare it at once
//! (Arrow's `eq` kernel).

use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, ListArray, StringArray, StringViewArray,
};
use arrow::buffer::{BooleanBuffer, OffsetBuffer};
use arrow::compute::kernels::cmp::eq;
use arrow::compute::{cast, filter};
use arrow::datatypes::DataType;
use datafusion::common::{Result, ScalarValue, exec_err};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};

#[derive(Debug, PartialEq, Eq, Hash)]
struct ListHas {
    signature: Signature,
}

fn constant(function: &str, v: &ColumnarValue) -> Result<String> {
    match v {
        ColumnarValue::Scalar(
            ScalarValue::Utf8(Some(s))
            | ScalarValue::Utf8View(Some(s))
            | ScalarValue::LargeUtf8(Some(s)),
        ) => Ok(s.clone()),
        other => {
            exec_err!("{function}: field names and values must be string constants, got {other:?}")
        }
    }
}

impl ScalarUDFImpl for ListHas {
    fn name(&self) -> &str {
        "kql_list_has"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _args: &[DataType]) -> Result<DataType> {
        Ok(DataType::Boolean)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        if args.args.len() < 3 {
            return exec_err!("kql_list_has: expected a list, field names and a value");
        }
        let (value, path) = args.args[1..].split_last().expect("3 or more");
        let value = constant(self.name(), value)?;
        let path = path
            .iter()
            .map(|p| constant(self.name(), p))
            .collect::<Result<Vec<_>>>()?;
        let list = args.args[0].to_array(args.number_rows)?;
        Ok(ColumnarValue::Array(Arc::new(list_has(
            &list,
            &path,
            std::slice::from_ref(&value),
        )?)))
    }
}

/// `list` as a list array, and which of its elements hold one of `values` at `path`.
fn element_hits<'a>(
    function: &str,
    list: &'a ArrayRef,
    path: &[String],
    values: &[String],
) -> Result<(&'a ListArray, BooleanBuffer)> {
    let Some(list) = list.as_list_opt::<i32>() else {
        return exec_err!("{function}: not a list: {}", list.data_type());
    };
    // The leaf column of the elements, and which elements are present (not null, nor a null
    // struct on the way).
    let mut leaf: ArrayRef = Arc::clone(list.values());
    let mut present: Option<arrow::buffer::NullBuffer> = None;
    for name in path {
        let Some(s) = leaf.as_struct_opt() else {
            return exec_err!("{function}: `{name}` of a non-struct {}", leaf.data_type());
        };
        present = arrow::buffer::NullBuffer::union(present.as_ref(), s.nulls());
        let Some(child) = s.column_by_name(name) else {
            return Ok((list, BooleanBuffer::new_unset(leaf.len())));
        };
        leaf = Arc::clone(child);
    }
    let leaf = match leaf.data_type() {
        DataType::Utf8 | DataType::Utf8View => leaf,
        _ => cast(&leaf, &DataType::Utf8)?,
    };
    let mut bits = BooleanBuffer::new_unset(leaf.len());
    for value in values {
        let hits = match leaf.data_type() {
            DataType::Utf8View => eq(&leaf, &StringViewArray::new_scalar(value))?,
            _ => eq(&leaf, &StringArray::new_scalar(value))?,
        };
        let mut found: BooleanBuffer = hits.values().clone();
        if let Some(n) = hits.nulls() {
            found = &found & n.inner();
        }
        bits = &bits | &found;
    }
    if let Some(n) = present {
        bits = &bits & n.inner();
    }
    Ok((list, bits))
}

/// How many elements of each row of `list` are set in `bits` (one bit per element of
/// `list.values()`).
fn hits_per_row<'a>(
    list: &'a ListArray,
    bits: &'a BooleanBuffer,
) -> impl Iterator<Item = usize> + 'a {
    list.value_offsets().windows(2).map(|w| {
        let (start, end) = (w[0] as usize, w[1] as usize);
        bits.slice(start, end - start).count_set_bits()
    })
}

fn list_has(list: &ArrayRef, path: &[String], values: &[String]) -> Result<BooleanArray> {
    let (list, bits) = element_hits("kql_list_has", list, path, values)?;
    Ok(hits_per_row(list, &bits)
        .enumerate()
        .map(|(i, n)| Some(list.is_valid(i) && n > 0))
        .collect())
}

fn list_filter(list: &ArrayRef, path: &[String], values: &[String]) -> Result<ArrayRef> {
    let (list, bits) = element_hits("kql_list_filter", list, path, values)?;
    let offsets = OffsetBuffer::from_lengths(hits_per_row(list, &bits));
    // Only the elements the (possibly sliced) list spans.
    let (first, last) = (
        list.value_offsets()[0] as usize,
        list.value_offsets()[list.len()] as usize,
    );
    let keep = BooleanArray::new(bits.slice(first, last - first), None);
    let values = filter(&list.values().slice(first, last - first), &keep)?;
    let (field, _, _, nulls) = list.clone().into_parts();
    Ok(Arc::new(ListArray::new(field, offsets, values, nulls)))
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct ListFilter {
    signature: Signature,
}

impl ScalarUDFImpl for ListFilter {
    fn name(&self) -> &str {
        "kql_list_filter"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, args: &[DataType]) -> Result<DataType> {
        Ok(args[0].clone())
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let n = match args.args.get(1) {
            Some(ColumnarValue::Scalar(ScalarValue::Int64(Some(n)))) if *n >= 1 => *n as usize,
            _ => {
                return exec_err!(
                    "kql_list_filter: expected a list, a field count, field names and values"
                );
            }
        };
        if args.args.len() < 3 + n {
            return exec_err!("kql_list_filter: expected {n} field names and at least one value");
        }
        let strings = args.args[2..]
            .iter()
            .map(|a| constant(self.name(), a))
            .collect::<Result<Vec<_>>>()?;
        let (path, values) = strings.split_at(n);
        let list = args.args[0].to_array(args.number_rows)?;
        Ok(ColumnarValue::Array(list_filter(&list, path, values)?))
    }
}

/// The `kql_list_filter` UDF.
pub fn kql_list_filter() -> ScalarUDF {
    ScalarUDF::new_from_impl(ListFilter {
        signature: Signature::variadic_any(Volatility::Immutable),
    })
}

/// The `kql_list_has` UDF.
pub fn kql_list_has() -> ScalarUDF {
    ScalarUDF::new_from_impl(ListHas {
        signature: Signature::variadic_any(Volatility::Immutable),
    })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{Array, ArrayRef, AsArray};
    use datafusion::prelude::SessionContext;

    #[tokio::test]
    async fn finds_rows_with_a_matching_element() {
        let ctx = SessionContext::new();
        ctx.register_udf(super::kql_list_has());
        let sql = "SELECT k, kql_list_has(l, 'id', 'x') AS a, kql_list_has(l, 'o', 'p', 'q') AS b FROM (VALUES \
            (1, [named_struct('id', 'x', 'o', named_struct('p', 'z'))]), \
            (2, [named_struct('id', 'y', 'o', named_struct('p', 'q')), named_struct('id', 'x', 'o', named_struct('p', NULL))]), \
            (3, [named_struct('id', NULL, 'o', named_struct('p', 'z'))]), \
            (4, NULL)) t(k, l) ORDER BY k";
        let batches = ctx.sql(sql).await.unwrap().collect().await.unwrap();
        let text = arrow::util::pretty::pretty_format_batches(&batches)
            .unwrap()
            .to_string();
        let rows: Vec<&str> = text
            .lines()
            .filter(|l| l.starts_with("| "))
            .skip(1)
            .collect();
        assert_eq!(
            rows,
            [
                "| 1 | true  | false |",
                "| 2 | true  | true  |",
                "| 3 | false | false |",
                "| 4 | false | false |",
            ]
        );
    }

    /// `kql_list_filter`'s result rendered per row: the ids of the elements kept.
    async fn filtered(sql: &str) -> Vec<String> {
        let ctx = SessionContext::new();
        ctx.register_udf(super::kql_list_filter());
        let batches = ctx.sql(sql).await.unwrap().collect().await.unwrap();
        let text = arrow::util::pretty::pretty_format_batches(&batches)
            .unwrap()
            .to_string();
        text.lines()
            .filter(|l| l.starts_with("| "))
            .skip(1)
            .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
            .collect()
    }

    #[tokio::test]
    async fn keeps_only_the_matching_elements_in_order() {
        let rows = filtered(
            "SELECT k, kql_list_filter(l, 1, 'id', 'x', 'z') AS a, \
                    kql_list_filter(l, 2, 'o', 'p', 'q') AS b FROM (VALUES \
            (1, [named_struct('id', 'x', 'o', named_struct('p', 'q')), named_struct('id', 'y', 'o', named_struct('p', 'z')), named_struct('id', 'z', 'o', NULL)]), \
            (2, [named_struct('id', 'y', 'o', named_struct('p', 'q'))]), \
            (3, [named_struct('id', NULL, 'o', named_struct('p', NULL))]), \
            (4, NULL)) t(k, l) ORDER BY k",
        )
        .await;
        assert_eq!(
            rows,
            [
                "| 1 | [{id: x, o: {p: q}}, {id: z, o: }] | [{id: x, o: {p: q}}] |",
                "| 2 | [] | [{id: y, o: {p: q}}] |",
                "| 3 | [] | [] |",
                "| 4 | | |",
            ]
        );
    }

    #[test]
    fn a_sliced_list_keeps_its_own_elements_only() {
        use arrow::array::{ListBuilder, StringBuilder, StructBuilder};
        use arrow::datatypes::{DataType, Field};
        let mut b = ListBuilder::new(StructBuilder::from_fields(
            vec![Field::new("id", DataType::Utf8, true)],
            0,
        ));
        for row in [&["x", "y"][..], &["x"], &["y", "x", "x"]] {
            for id in row {
                let s = b.values();
                s.field_builder::<StringBuilder>(0)
                    .unwrap()
                    .append_value(id);
                s.append(true);
            }
            b.append(true);
        }
        let list: ArrayRef = Arc::new(b.finish().slice(1, 2));
        let out = super::list_filter(&list, &["id".into()], &["x".into()]).unwrap();
        let out = out.as_list::<i32>();
        assert_eq!(out.len(), 2);
        assert_eq!(out.value_offsets(), &[0, 1, 3]);
        assert_eq!(out.values().len(), 3);
    }
}
