//! `kql_barrier(x) -> x`: the identity, opaque to DataFusion's optimizer.
//!
//! DataFusion 55 keeps an input's uniqueness facts (functional dependencies) through `unnest`
//! (apache/datafusion PR #24787, open): after `summarize ... by k | mv-expand`, it believes `k`
//! is still unique per row and drops sort keys, `distinct` keys and group keys that follow. The
//! compiler passes such columns through this function before expanding, which erases the facts.

use arrow::datatypes::DataType;
use datafusion::common::Result;
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};

#[derive(Debug, PartialEq, Eq, Hash)]
struct Barrier {
    signature: Signature,
}

impl ScalarUDFImpl for Barrier {
    fn name(&self) -> &str {
        "kql_barrier"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, args: &[DataType]) -> Result<DataType> {
        Ok(args[0].clone())
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        Ok(args.args[0].clone())
    }
}

/// The `kql_barrier` UDF.
pub fn kql_barrier() -> ScalarUDF {
    ScalarUDF::new_from_impl(Barrier {
        signature: Signature::any(1, Volatility::Immutable),
    })
}

#[cfg(test)]
mod tests {
    use datafusion::prelude::SessionContext;

    #[tokio::test]
    async fn keeps_values_and_erases_uniqueness_through_unnest() {
        let ctx = SessionContext::new();
        ctx.register_udf(super::kql_barrier());
        let q = |wrap: bool| {
            let k = if wrap { "kql_barrier(k)" } else { "k" };
            format!(
                "WITH a AS (SELECT k, array_agg(v) AS vals FROM (VALUES (1,10),(1,20),(1,30),(2,40)) t(k,v) GROUP BY k), \
                 a2 AS (SELECT {k} AS k, vals FROM a), b AS (SELECT k, unnest(vals) AS x FROM a2) \
                 SELECT count(*) AS n FROM (SELECT DISTINCT k, x FROM b)"
            )
        };
        let n = |sql: String| {
            let ctx = ctx.clone();
            async move {
                let b = ctx.sql(&sql).await.unwrap().collect().await.unwrap();
                b[0].column(0)
                    .as_any()
                    .downcast_ref::<arrow::array::Int64Array>()
                    .unwrap()
                    .value(0)
            }
        };
        assert_eq!(n(q(true)).await, 4, "4 distinct (k, x) pairs");
        // If DataFusion fixes the bug, this starts failing: the barrier can then go.
        assert_eq!(n(q(false)).await, 2, "DataFusion 55 still loses rows here");
    }
}
