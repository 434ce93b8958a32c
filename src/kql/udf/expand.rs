//! `kql_expandable(list, limit) -> list`: a list made ready for `unnest` with Kusto's
//! `mv-expand` rules: a null list becomes one null element (Kusto keeps the row, `unnest` would
//! drop it) and a list longer than `limit` keeps its first `limit` elements.
//!
//! The result has the argument's type, whatever it is (so a list read with only some of its
//! struct fields, [`crate::kql::narrow`], stays that narrow). When no row is null or too long,
//! which is the usual case, the argument is returned as is, without a copy.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, ListArray, MutableArrayData, make_array};
use arrow::buffer::OffsetBuffer;
use arrow::datatypes::DataType;
use datafusion::common::{Result, ScalarValue, exec_err};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};

#[derive(Debug, PartialEq, Eq, Hash)]
struct Expandable {
    signature: Signature,
}

impl ScalarUDFImpl for Expandable {
    fn name(&self) -> &str {
        "kql_expandable"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, args: &[DataType]) -> Result<DataType> {
        Ok(args[0].clone())
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let limit = match &args.args[1] {
            ColumnarValue::Scalar(ScalarValue::Int64(Some(n))) if *n >= 0 => *n as usize,
            ColumnarValue::Scalar(ScalarValue::Int64(None)) => usize::MAX,
            other => return exec_err!("kql_expandable: limit must be a constant, got {other:?}"),
        };
        let rows = args.number_rows;
        let list = args.args[0].to_array(rows)?;
        let Some(list) = list.as_list_opt::<i32>() else {
            return exec_err!("kql_expandable: not a list: {}", list.data_type());
        };
        Ok(ColumnarValue::Array(expandable(list, limit)?))
    }
}

fn expandable(list: &ListArray, limit: usize) -> Result<ArrayRef> {
    let offsets = list.value_offsets();
    let too_long = (0..list.len()).any(|i| (offsets[i + 1] - offsets[i]) as usize > limit);
    if list.null_count() == 0 && !too_long {
        return Ok(Arc::new(list.clone()));
    }
    // Rebuild: each row's first `limit` elements, a null row as one null element.
    let values = list.values().to_data();
    let mut child = MutableArrayData::new(vec![&values], true, values.len() + list.null_count());
    let mut lengths = Vec::with_capacity(list.len());
    for i in 0..list.len() {
        if list.is_null(i) {
            child.try_extend_nulls(1)?;
            lengths.push(1);
        } else {
            let start = offsets[i] as usize;
            let n = ((offsets[i + 1] - offsets[i]) as usize).min(limit);
            child.try_extend(0, start, start + n)?;
            lengths.push(n);
        }
    }
    let field = match list.data_type() {
        DataType::List(f) => f.clone(),
        _ => unreachable!("a list array"),
    };
    Ok(Arc::new(ListArray::new(
        field,
        OffsetBuffer::from_lengths(lengths),
        make_array(child.freeze()),
        None,
    )))
}

/// The `kql_expandable` UDF.
pub fn kql_expandable() -> ScalarUDF {
    ScalarUDF::new_from_impl(Expandable {
        signature: Signature::any(2, Volatility::Immutable),
    })
}

#[cfg(test)]
mod tests {
    use arrow::array::{Int32Array, Int32Builder, ListBuilder};

    use super::*;

    fn lists(rows: &[Option<Vec<i32>>]) -> ListArray {
        let mut b = ListBuilder::new(Int32Builder::new());
        for r in rows {
            match r {
                Some(v) => {
                    v.iter().for_each(|x| b.values().append_value(*x));
                    b.append(true);
                }
                None => b.append(false),
            }
        }
        b.finish()
    }

    fn rows(a: &ArrayRef) -> Vec<Vec<Option<i32>>> {
        let l = a.as_list::<i32>();
        (0..l.len())
            .map(|i| {
                let v = l.value(i);
                let v = v.as_any().downcast_ref::<Int32Array>().unwrap();
                v.iter().collect()
            })
            .collect()
    }

    #[test]
    fn nulls_become_one_null_and_long_lists_are_cut() {
        let l = lists(&[Some(vec![1, 2, 3]), None, Some(vec![]), Some(vec![4])]);
        let out = expandable(&l, 2).unwrap();
        assert_eq!(out.null_count(), 0);
        assert_eq!(
            rows(&out),
            vec![vec![Some(1), Some(2)], vec![None], vec![], vec![Some(4)]]
        );
    }

    #[test]
    fn plain_lists_are_returned_as_they_are() {
        let l = lists(&[Some(vec![1, 2]), Some(vec![])]);
        let out = expandable(&l, 128).unwrap();
        assert_eq!(out.to_data(), l.to_data());
    }
}
