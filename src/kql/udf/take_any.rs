//! `kql_take_any(x)`: one value of `x` per group (the first row seen), for every Arrow type.
//!
//! KQL's `take_any`, and the input columns that ride along a per-row `mv-apply` (constant within
//! each of its groups). DataFusion's `first_value` has a grouped accumulator only with an
//! `ORDER BY` and primitive or string types; otherwise it keeps one boxed accumulator per
//! group, which made a `mv-apply` over 300k rows carrying a struct column take seconds. Here
//! each batch contributes, in one `take`, the rows of the groups it sees first; evaluation
//! interleaves those pieces back into group order: linear in the rows, whatever the type.

use std::mem::size_of;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, BooleanArray, UInt32Array, new_null_array};
use arrow::compute::{interleave, take};
use arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::common::{Result, ScalarValue};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::utils::format_state_name;
use datafusion::logical_expr::{
    Accumulator, AggregateUDF, AggregateUDFImpl, EmitTo, GroupsAccumulator, Signature, Volatility,
};

/// The `kql_take_any` aggregate.
pub fn kql_take_any() -> AggregateUDF {
    AggregateUDF::new_from_impl(TakeAny {
        signature: Signature::any(1, Volatility::Immutable),
    })
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct TakeAny {
    signature: Signature,
}

impl AggregateUDFImpl for TakeAny {
    fn name(&self) -> &str {
        "kql_take_any"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        Ok(arg_types[0].clone())
    }

    fn accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        Ok(Box::new(TakeAnyAccumulator {
            value: None,
            data_type: args.return_field.data_type().clone(),
        }))
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        Ok(vec![Arc::new(Field::new(
            format_state_name(args.name, "value"),
            args.return_field.data_type().clone(),
            true,
        ))])
    }

    fn groups_accumulator_supported(&self, _args: AccumulatorArgs) -> bool {
        true
    }

    fn create_groups_accumulator(
        &self,
        args: AccumulatorArgs,
    ) -> Result<Box<dyn GroupsAccumulator>> {
        Ok(Box::new(TakeAnyGroups {
            data_type: args.return_field.data_type().clone(),
            pieces: Vec::new(),
            slots: Vec::new(),
        }))
    }
}

/// The ungrouped form: the first row's value.
#[derive(Debug)]
struct TakeAnyAccumulator {
    value: Option<ScalarValue>,
    data_type: DataType,
}

impl Accumulator for TakeAnyAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        if self.value.is_none() && !values[0].is_empty() {
            self.value = Some(ScalarValue::try_from_array(&values[0], 0)?);
        }
        Ok(())
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        self.update_batch(states)
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        Ok(vec![self.evaluate()?])
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        match &self.value {
            Some(v) => Ok(v.clone()),
            None => ScalarValue::try_from(&self.data_type),
        }
    }

    fn size(&self) -> usize {
        size_of::<Self>() + self.value.as_ref().map_or(0, |v| v.size())
    }
}

/// The grouped form: `slots[group]` = (piece, row) of the group's value, `None` until a row of
/// the group passes the filter.
#[derive(Debug)]
struct TakeAnyGroups {
    data_type: DataType,
    pieces: Vec<ArrayRef>,
    slots: Vec<Option<(u32, u32)>>,
}

impl TakeAnyGroups {
    /// Records the first row of each group not seen yet; `skip` tells rows that do not count
    /// (filtered out in an update, no value in a merge of states).
    fn keep_first(
        &mut self,
        values: &ArrayRef,
        group_indices: &[usize],
        skip: &dyn Fn(usize) -> bool,
        total_num_groups: usize,
    ) -> Result<()> {
        self.slots.resize(total_num_groups, None);
        let piece = self.pieces.len() as u32;
        let mut rows: Vec<u32> = Vec::new();
        for (row, &group) in group_indices.iter().enumerate() {
            if skip(row) {
                continue;
            }
            if self.slots[group].is_none() {
                self.slots[group] = Some((piece, rows.len() as u32));
                rows.push(row as u32);
            }
        }
        if !rows.is_empty() {
            self.pieces
                .push(take(values, &UInt32Array::from(rows), None)?);
        }
        Ok(())
    }

    fn emit(&mut self, emit_to: EmitTo) -> Result<ArrayRef> {
        let slots = emit_to.take_needed(&mut self.slots);
        // Groups without a value point at one null after the pieces.
        let null = new_null_array(&self.data_type, 1);
        let mut arrays: Vec<&dyn Array> = self.pieces.iter().map(|a| a.as_ref()).collect();
        arrays.push(null.as_ref());
        let none = (arrays.len() - 1, 0);
        let indices: Vec<(usize, usize)> = slots
            .iter()
            .map(|s| s.map_or(none, |(p, r)| (p as usize, r as usize)))
            .collect();
        let out = interleave(&arrays, &indices)?;
        if self.slots.is_empty() {
            self.pieces.clear();
        }
        Ok(out)
    }
}

impl GroupsAccumulator for TakeAnyGroups {
    fn update_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        opt_filter: Option<&BooleanArray>,
        total_num_groups: usize,
    ) -> Result<()> {
        let skip = |row: usize| opt_filter.is_some_and(|f| !f.is_valid(row) || !f.value(row));
        self.keep_first(&values[0], group_indices, &skip, total_num_groups)
    }

    /// A null state is a group whose rows were all filtered out (or whose value is null):
    /// another partition's value wins over it.
    fn merge_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        total_num_groups: usize,
    ) -> Result<()> {
        let states = &values[0];
        let skip = |row: usize| states.is_null(row);
        self.keep_first(states, group_indices, &skip, total_num_groups)
    }

    /// Each row its own group: the values, null where the filter drops the row.
    fn convert_to_state(
        &self,
        values: &[ArrayRef],
        opt_filter: Option<&BooleanArray>,
    ) -> Result<Vec<ArrayRef>> {
        let values = values[0].clone();
        Ok(vec![match opt_filter {
            None => values,
            Some(f) => {
                let dropped: BooleanArray = f.iter().map(|keep| Some(keep != Some(true))).collect();
                arrow::compute::nullif(&values, &dropped)?
            }
        }])
    }

    fn evaluate(&mut self, emit_to: EmitTo) -> Result<ArrayRef> {
        self.emit(emit_to)
    }

    fn state(&mut self, emit_to: EmitTo) -> Result<Vec<ArrayRef>> {
        Ok(vec![self.emit(emit_to)?])
    }

    fn size(&self) -> usize {
        self.pieces
            .iter()
            .map(|a| a.get_array_memory_size())
            .sum::<usize>()
            + self.slots.capacity() * size_of::<Option<(u32, u32)>>()
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::column;
    use datafusion::common::ScalarValue;

    #[test]
    fn one_value_per_group_for_any_type() {
        // Structs and lists take the grouped path DataFusion's first_value lacks.
        let got = column(
            "SELECT kql_take_any(s) FROM (VALUES (1, named_struct('a', 'x', 'b', [1, 2])), \
             (1, named_struct('a', 'x', 'b', [1, 2])), (2, named_struct('a', 'y', 'b', [3]))) \
             AS t(g, s) GROUP BY g ORDER BY g",
        );
        assert_eq!(got.len(), 2);
        let text: Vec<String> = got.iter().map(|v| v.to_string()).collect();
        assert_eq!(text, ["{a:x,b:[1, 2]}", "{a:y,b:[3]}"]);
    }

    #[test]
    fn filtered_rows_do_not_count_and_empty_groups_are_null() {
        let got = column(
            "SELECT kql_take_any(v) FILTER (WHERE v <> 'skip') FROM (VALUES (1, 'skip'), (1, 'a'), \
             (2, 'skip')) AS t(g, v) GROUP BY g ORDER BY g",
        );
        assert_eq!(
            got,
            [ScalarValue::Utf8(Some("a".into())), ScalarValue::Utf8(None)]
        );
    }

    #[test]
    fn without_groups_the_first_row() {
        let got = column("SELECT kql_take_any(v) FROM (VALUES ('a'), ('b')) AS t(v)");
        assert_eq!(got, [ScalarValue::Utf8(Some("a".into()))]);
    }
}
