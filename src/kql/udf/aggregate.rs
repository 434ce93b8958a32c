//! KQL aggregation functions DataFusion lacks: `make_bag` (merging dynamic objects held as JSON
//! text) and nearest-rank `percentile`. Both support partial aggregation: `make_bag`'s state is the
//! merged object as JSON text, `percentile`'s the list of values seen and the percentile.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::mem::size_of;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray};
use arrow::datatypes::{DataType, Field, FieldRef, Float64Type};
use datafusion::common::{Result, ScalarValue, exec_datafusion_err};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::utils::format_state_name;
use datafusion::logical_expr::{
    Accumulator, AggregateUDF, AggregateUDFImpl, Signature, Volatility,
};
use serde_json::{Map, Value};

use super::common::{Kind, Params, coerce};
use super::json::parse_dynamic;

/// Every aggregate UDF of this module.
pub fn functions() -> Vec<AggregateUDF> {
    vec![kql_make_bag(), kql_percentile()]
}

/// `kql_make_bag(json) -> Utf8`: one JSON object merging the JSON objects of the group.
///
/// The first value seen for a key wins; non-objects and nulls are ignored; no object → `{}`.
pub fn kql_make_bag() -> AggregateUDF {
    AggregateUDF::new_from_impl(KqlAggregate::new(
        "kql_make_bag",
        Params::Fixed(&[Kind::Str]),
        DataType::Utf8,
    ))
}

/// `kql_percentile(x, p) -> Float64`: nearest-rank percentile `p` (0 to 100) of the non-null `x`.
///
/// Null when there is no value; `p` is taken from the first row where it is not null.
pub fn kql_percentile() -> AggregateUDF {
    AggregateUDF::new_from_impl(KqlAggregate::new(
        "kql_percentile",
        Params::Fixed(&[Kind::Float, Kind::Float]),
        DataType::Float64,
    ))
}

/// One of this module's aggregates, told apart by name.
struct KqlAggregate {
    name: &'static str,
    params: Params,
    ret: DataType,
    signature: Signature,
}

impl KqlAggregate {
    fn new(name: &'static str, params: Params, ret: DataType) -> Self {
        Self {
            name,
            params,
            ret,
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }

    fn is_bag(&self) -> bool {
        self.name == "kql_make_bag"
    }
}

impl fmt::Debug for KqlAggregate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KqlAggregate")
            .field("name", &self.name)
            .finish()
    }
}

impl PartialEq for KqlAggregate {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

impl Eq for KqlAggregate {}

impl Hash for KqlAggregate {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.name.hash(state);
    }
}

impl AggregateUDFImpl for KqlAggregate {
    fn name(&self) -> &str {
        self.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        coerce(self.name, self.params, arg_types)
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(self.ret.clone())
    }

    fn is_nullable(&self) -> bool {
        !self.is_bag()
    }

    fn default_value(&self, data_type: &DataType) -> Result<ScalarValue> {
        if self.is_bag() {
            Ok(ScalarValue::Utf8(Some("{}".into())))
        } else {
            ScalarValue::try_from(data_type)
        }
    }

    fn accumulator(&self, _args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        Ok(if self.is_bag() {
            Box::new(BagAccumulator::default())
        } else {
            Box::new(PercentileAccumulator::default())
        })
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        Ok(if self.is_bag() {
            vec![Arc::new(Field::new(
                format_state_name(args.name, "bag"),
                DataType::Utf8,
                true,
            ))]
        } else {
            vec![
                Arc::new(Field::new_list(
                    format_state_name(args.name, "values"),
                    Field::new_list_field(DataType::Float64, true),
                    true,
                )),
                Arc::new(Field::new(
                    format_state_name(args.name, "p"),
                    DataType::Float64,
                    true,
                )),
            ]
        })
    }
}

/// `make_bag`'s state: the merged object and a rough size of its text.
#[derive(Debug, Default)]
struct BagAccumulator {
    bag: Map<String, Value>,
    bytes: usize,
}

impl BagAccumulator {
    /// Merges the object held by `text`, keeping keys already present.
    fn merge_text(&mut self, text: &str) {
        if let Some(Value::Object(o)) = parse_dynamic(text) {
            for (k, v) in o {
                if !self.bag.contains_key(&k) {
                    self.bytes += k.len() + 16;
                    self.bag.insert(k, v);
                }
            }
        }
    }

    fn merge_array(&mut self, arr: &ArrayRef) -> Result<()> {
        let s = arr
            .as_string_opt::<i32>()
            .ok_or_else(|| exec_datafusion_err!("kql_make_bag: expected Utf8 input"))?;
        for t in s.iter().flatten() {
            self.merge_text(t);
        }
        Ok(())
    }

    fn text(&self) -> String {
        Value::Object(self.bag.clone()).to_string()
    }
}

impl Accumulator for BagAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        self.merge_array(&values[0])
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        self.merge_array(&states[0])
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        Ok(vec![ScalarValue::Utf8(Some(self.text()))])
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        Ok(ScalarValue::Utf8(Some(self.text())))
    }

    fn size(&self) -> usize {
        size_of::<Self>() + self.bytes * 2
    }
}

/// `percentile`'s state: the non-null values and the first non-null percentile seen.
#[derive(Debug, Default)]
struct PercentileAccumulator {
    values: Vec<f64>,
    p: Option<f64>,
}

impl PercentileAccumulator {
    fn note_p(&mut self, arr: &ArrayRef) {
        if self.p.is_none() {
            self.p = arr.as_primitive::<Float64Type>().iter().flatten().next();
        }
    }
}

/// Nearest rank: the value at rank `ceil(p / 100 * n)`, clamped to `[1, n]`, in ascending order.
fn nearest_rank(values: &mut [f64], p: f64) -> Option<f64> {
    let n = values.len();
    if n == 0 || p.is_nan() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let rank = (p / 100.0 * n as f64).ceil().clamp(1.0, n as f64) as usize;
    Some(values[rank - 1])
}

impl Accumulator for PercentileAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        self.values
            .extend(values[0].as_primitive::<Float64Type>().iter().flatten());
        self.note_p(&values[1]);
        Ok(())
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let lists = states[0].as_list::<i32>();
        for i in 0..lists.len() {
            if lists.is_valid(i) {
                let l = lists.value(i);
                self.values
                    .extend(l.as_primitive::<Float64Type>().iter().flatten());
            }
        }
        self.note_p(&states[1]);
        Ok(())
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        let list = ScalarValue::new_list_nullable(
            &self
                .values
                .iter()
                .map(|v| ScalarValue::Float64(Some(*v)))
                .collect::<Vec<_>>(),
            &DataType::Float64,
        );
        Ok(vec![ScalarValue::List(list), ScalarValue::Float64(self.p)])
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        let v = self.p.and_then(|p| nearest_rank(&mut self.values, p));
        Ok(ScalarValue::Float64(v))
    }

    fn size(&self) -> usize {
        size_of::<Self>() + self.values.capacity() * size_of::<f64>()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{Float64Array, RecordBatch, StringArray};
    use arrow::datatypes::{DataType, Field, Schema};
    use arrow::util::pretty::pretty_format_batches;
    use datafusion::datasource::MemTable;
    use datafusion::prelude::{SessionConfig, SessionContext};

    use super::super::testutil::*;

    /// Runs `sql` over table `t(g Utf8, j Utf8, x Float64)` held in three partitions (so
    /// aggregates run partially and merge their states); returns the plan and the result.
    fn partitioned(sql: &str) -> (String, String) {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(async {
            let ctx =
                SessionContext::new_with_config(SessionConfig::new().with_target_partitions(4));
            super::super::register(&ctx);
            let schema = Arc::new(Schema::new(vec![
                Field::new("g", DataType::Utf8, true),
                Field::new("j", DataType::Utf8, true),
                Field::new("x", DataType::Float64, true),
            ]));
            let batch = |g: Vec<&str>, j: Vec<Option<&str>>, x: Vec<Option<f64>>| {
                RecordBatch::try_new(
                    Arc::clone(&schema),
                    vec![
                        Arc::new(StringArray::from(g)),
                        Arc::new(StringArray::from(j)),
                        Arc::new(Float64Array::from(x)),
                    ],
                )
                .unwrap()
            };
            let parts = vec![
                vec![batch(
                    vec!["a", "b"],
                    vec![Some(r#"{"k":1}"#), Some(r#"{"z":0}"#)],
                    vec![Some(5.0), Some(1.0)],
                )],
                vec![batch(
                    vec!["a", "a"],
                    vec![Some(r#"{"k":2,"m":3}"#), None],
                    vec![Some(1.0), None],
                )],
                vec![batch(
                    vec!["a", "b"],
                    vec![Some("[1]"), Some(r#"{"y":[1]}"#)],
                    vec![Some(3.0), Some(2.0)],
                )],
            ];
            let table = MemTable::try_new(Arc::clone(&schema), parts).unwrap();
            ctx.register_table("t", Arc::new(table)).unwrap();
            let plan = ctx
                .sql(&format!("EXPLAIN {sql}"))
                .await
                .unwrap()
                .collect()
                .await
                .unwrap();
            let out = ctx.sql(sql).await.unwrap().collect().await.unwrap();
            (
                pretty_format_batches(&plan).unwrap().to_string(),
                pretty_format_batches(&out).unwrap().to_string(),
            )
        })
    }

    #[test]
    fn make_bag_merges_objects() {
        assert_eq!(
            strs(
                r#"SELECT kql_make_bag(j) FROM (VALUES ('{"a":1}'), ('{"b":2,"a":3}'), ('[1]'), (NULL), ('x'), ('')) AS v(j)"#
            ),
            [s(r#"{"a":1,"b":2}"#)]
        );
        assert_eq!(
            strs("SELECT kql_make_bag(j) FROM (VALUES ('x')) AS v(j) WHERE j = 'y'"),
            [s("{}")]
        );
        assert_eq!(
            strs("SELECT kql_make_bag(j) FROM (VALUES ('1'), (NULL)) AS v(j)"),
            [s("{}")]
        );
        assert_eq!(
            strs(
                r#"SELECT kql_make_bag(j) FROM (VALUES (1, '{"p":1}'), (2, '{"q":2}'), (1, '{"r":[3]}')) AS v(g, j) GROUP BY g ORDER BY g"#
            ),
            [s(r#"{"p":1,"r":[3]}"#), s(r#"{"q":2}"#)]
        );
        assert!(!field("SELECT kql_make_bag('{}')").1);
    }

    #[test]
    fn make_bag_partial_aggregation() {
        let (plan, out) =
            partitioned("SELECT g, kql_make_bag(j) AS bag FROM t GROUP BY g ORDER BY g");
        assert!(plan.contains("mode=Partial"), "{plan}");
        let lines: Vec<&str> = out
            .lines()
            .filter(|l| l.starts_with("| a") || l.starts_with("| b"))
            .collect();
        assert_eq!(lines.len(), 2, "{out}");
        // Which `k` wins depends on the partition order; both keys are present once.
        assert!(
            lines[0].contains(r#""k":"#) && lines[0].contains(r#""m":3"#),
            "{out}"
        );
        assert!(
            lines[1].contains(r#"{"z":0,"y":[1]}"#) || lines[1].contains(r#"{"y":[1],"z":0}"#),
            "{out}"
        );
    }

    #[test]
    fn percentile_nearest_rank() {
        let p = |pct: &str| {
            floats(&format!(
                "SELECT kql_percentile(x, {pct}) FROM (VALUES (3), (1), (NULL), (2), (5), (4), (10), (9), (8), (7), (6)) AS v(x)"
            ))[0]
        };
        assert_eq!(p("50"), Some(5.0));
        assert_eq!(p("0"), Some(1.0));
        assert_eq!(p("10"), Some(1.0));
        assert_eq!(p("11"), Some(2.0));
        assert_eq!(p("95"), Some(10.0));
        assert_eq!(p("100"), Some(10.0));
        assert_eq!(p("99.9"), Some(10.0));
        assert_eq!(
            floats("SELECT kql_percentile(x, 50) FROM (VALUES (CAST(NULL AS DOUBLE))) AS v(x)"),
            [None]
        );
        assert_eq!(
            floats("SELECT kql_percentile(x, 50) FROM (VALUES (1.5)) AS v(x) WHERE x > 2"),
            [None]
        );
        assert_eq!(
            floats(
                "SELECT kql_percentile(x, 50) FROM (VALUES ('a', 1), ('a', 3), ('b', 7), ('a', 2)) AS v(g, x) GROUP BY g ORDER BY g"
            ),
            [Some(2.0), Some(7.0)]
        );
        assert_eq!(field("SELECT kql_percentile(1, 50)").0, DataType::Float64);
    }

    #[test]
    fn percentile_partial_aggregation() {
        let (plan, out) = partitioned(
            "SELECT g, kql_percentile(x, 50) AS p50, kql_percentile(x, 100) AS p100 FROM t GROUP BY g ORDER BY g",
        );
        assert!(plan.contains("mode=Partial"), "{plan}");
        // a: 1, 3, 5 (and a null) → p50 = 3, p100 = 5; b: 1, 2 → p50 = 1, p100 = 2.
        let flat: String = out.split_whitespace().collect();
        assert!(flat.contains("|a|3.0|5.0|"), "{out}");
        assert!(flat.contains("|b|1.0|2.0|"), "{out}");
    }
}
