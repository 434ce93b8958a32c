//! `kql_list_has(list, field, [field, ...], value) -> bool`: whether some struct element of
//! `list` has `value` at the field path (string equality, a null never matches).
//!
//! The compiler adds it before an `mv-expand` whose elements a later `where` compares with a
//! constant ([`crate::kql::prefilter`]), so `mv-expand TargetResources | where
//! TargetResources.id == "X"` expands only the rows that can match instead of every row. It
//! reads one leaf column of the list's elements and compares it at once (Arrow's `eq` kernel),
//! then ORs each row's range of elements.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, BooleanArray, Scalar, StringArray};
use arrow::buffer::BooleanBuffer;
use arrow::compute::cast;
use arrow::compute::kernels::cmp::eq;
use arrow::datatypes::DataType;
use datafusion::common::{Result, ScalarValue, exec_err};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};

#[derive(Debug, PartialEq, Eq, Hash)]
struct ListHas {
    signature: Signature,
}

fn constant(v: &ColumnarValue) -> Result<String> {
    match v {
        ColumnarValue::Scalar(
            ScalarValue::Utf8(Some(s))
            | ScalarValue::Utf8View(Some(s))
            | ScalarValue::LargeUtf8(Some(s)),
        ) => Ok(s.clone()),
        other => {
            exec_err!("kql_list_has: field names and value must be string constants, got {other:?}")
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
        let value = constant(value)?;
        let path = path.iter().map(constant).collect::<Result<Vec<_>>>()?;
        let list = args.args[0].to_array(args.number_rows)?;
        Ok(ColumnarValue::Array(Arc::new(list_has(
            &list, &path, &value,
        )?)))
    }
}

fn list_has(list: &ArrayRef, path: &[String], value: &str) -> Result<BooleanArray> {
    let Some(list) = list.as_list_opt::<i32>() else {
        return exec_err!("kql_list_has: not a list: {}", list.data_type());
    };
    // The leaf column of the elements, and which elements are present (not null, nor a null
    // struct on the way).
    let mut leaf: ArrayRef = Arc::clone(list.values());
    let mut present: Option<arrow::buffer::NullBuffer> = None;
    for name in path {
        let Some(s) = leaf.as_struct_opt() else {
            return exec_err!(
                "kql_list_has: `{name}` of a non-struct {}",
                leaf.data_type()
            );
        };
        present = arrow::buffer::NullBuffer::union(present.as_ref(), s.nulls());
        let Some(child) = s.column_by_name(name) else {
            return Ok(BooleanArray::from(vec![false; list.len()]));
        };
        leaf = Arc::clone(child);
    }
    let leaf = match leaf.data_type() {
        DataType::Utf8 | DataType::Utf8View => leaf,
        _ => cast(&leaf, &DataType::Utf8)?,
    };
    let needle = match leaf.data_type() {
        DataType::Utf8View => {
            Scalar::new(Arc::new(arrow::array::StringViewArray::from(vec![value])) as ArrayRef)
        }
        _ => Scalar::new(Arc::new(StringArray::from(vec![value])) as ArrayRef),
    };
    let hits = eq(&leaf, &needle)?;
    let mut bits: BooleanBuffer = hits.values().clone();
    if let Some(n) = arrow::buffer::NullBuffer::union(present.as_ref(), hits.nulls()) {
        bits = &bits & n.inner();
    }
    let offsets = list.value_offsets();
    let out: BooleanArray = (0..list.len())
        .map(|i| {
            let (start, end) = (offsets[i] as usize, offsets[i + 1] as usize);
            Some(
                list.is_valid(i)
                    && end > start
                    && bits.slice(start, end - start).count_set_bits() > 0,
            )
        })
        .collect();
    Ok(out)
}

/// The `kql_list_has` UDF.
pub fn kql_list_has() -> ScalarUDF {
    ScalarUDF::new_from_impl(ListHas {
        signature: Signature::variadic_any(Volatility::Immutable),
    })
}

#[cfg(test)]
mod tests {
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
}
