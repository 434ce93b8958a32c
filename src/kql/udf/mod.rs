//! KQL functions DataFusion lacks, as DataFusion UDFs named `kql_*`, registered by [`register`].
//!
//! - [`strings`]: term matching (`has`, `hasprefix`, `hassuffix` and `_cs`), regex `trim`,
//!   `extract`, `extract_all`, `split`, base64.
//! - [`json`]: `tostring` and the `dynamic` type, held as compact JSON text (`parse_json`, property
//!   and index access, `bag_pack`, `pack_array`, the mv-expand helper `kql_json_items`).
//! - [`time`]: `datetime` (`Timestamp(ns, UTC)`) and `timespan` (`Duration(ns)`): parsing,
//!   formatting, `datetime_diff`, `datetime_add`, start/end of periods, calendar parts.
//! - [`aggregate`]: `make_bag` and nearest-rank `percentile`.
//!
//! Every function takes arrays or scalars; string parameters accept Utf8, Utf8View and LargeUtf8
//! (cast to Utf8), integer parameters any integer type, timestamp parameters any timestamp or date.
//! Regexes and format strings are compiled once per distinct value.

pub mod aggregate;
pub mod barrier;
mod common;
pub mod expand;
pub mod json;
pub mod list_has;
pub mod strings;
pub mod take_any;
pub mod time;

use datafusion::prelude::SessionContext;

/// Registers every `kql_*` function on the session.
pub fn register(ctx: &SessionContext) {
    for udf in strings::functions()
        .into_iter()
        .chain(json::functions())
        .chain(time::functions())
    {
        ctx.register_udf(udf);
    }
    ctx.register_udf(barrier::kql_barrier());
    ctx.register_udf(expand::kql_expandable());
    ctx.register_udf(list_has::kql_list_has());
    ctx.register_udf(list_has::kql_list_filter());
    ctx.register_udaf(take_any::kql_take_any());
    for udaf in aggregate::functions() {
        ctx.register_udaf(udaf);
    }
}

#[cfg(test)]
pub(crate) mod testutil {
    //! Runs SQL through a session with the KQL UDFs registered and reads the first column.
    use arrow::array::{Array, AsArray};
    use arrow::compute::cast;
    use arrow::datatypes::DataType;
    use datafusion::common::ScalarValue;
    use datafusion::prelude::SessionContext;

    /// The first column of `sql`'s result, all batches concatenated, as scalars.
    pub fn column(sql: &str) -> Vec<ScalarValue> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(async {
            let ctx = SessionContext::new();
            super::register(&ctx);
            let batches = ctx
                .sql(sql)
                .await
                .unwrap_or_else(|e| panic!("{sql}: {e}"))
                .collect()
                .await
                .unwrap_or_else(|e| panic!("{sql}: {e}"));
            let mut out = Vec::new();
            for b in batches {
                let c = b.column(0);
                for i in 0..c.len() {
                    out.push(ScalarValue::try_from_array(c, i).unwrap());
                }
            }
            out
        })
    }

    /// The error `sql` fails with (planning or execution).
    pub fn error(sql: &str) -> String {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(async {
            let ctx = SessionContext::new();
            super::register(&ctx);
            match ctx.sql(sql).await {
                Err(e) => e.to_string(),
                Ok(df) => match df.collect().await {
                    Err(e) => e.to_string(),
                    Ok(_) => panic!("{sql}: expected an error"),
                },
            }
        })
    }

    /// The data type and nullability of the first result column.
    pub fn field(sql: &str) -> (DataType, bool) {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(async {
            let ctx = SessionContext::new();
            super::register(&ctx);
            let df = ctx.sql(sql).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
            let f = df.schema().field(0);
            (f.data_type().clone(), f.is_nullable())
        })
    }

    fn array(sql: &str, to: &DataType) -> Vec<arrow::array::ArrayRef> {
        column(sql)
            .into_iter()
            .map(|s| cast(&s.to_array().unwrap(), to).unwrap())
            .collect()
    }

    /// The first column as strings.
    pub fn strs(sql: &str) -> Vec<Option<String>> {
        array(sql, &DataType::Utf8)
            .iter()
            .map(|a| {
                a.is_valid(0)
                    .then(|| a.as_string::<i32>().value(0).to_string())
            })
            .collect()
    }

    /// The only value of a one-row string result.
    pub fn str1(sql: &str) -> Option<String> {
        let v = strs(sql);
        assert_eq!(v.len(), 1, "{sql}");
        v.into_iter().next().unwrap()
    }

    /// The first column as booleans.
    pub fn bools(sql: &str) -> Vec<Option<bool>> {
        array(sql, &DataType::Boolean)
            .iter()
            .map(|a| a.is_valid(0).then(|| a.as_boolean().value(0)))
            .collect()
    }

    /// The first column as integers (timestamps and durations: nanoseconds).
    pub fn ints(sql: &str) -> Vec<Option<i64>> {
        array(sql, &DataType::Int64)
            .iter()
            .map(|a| {
                a.is_valid(0)
                    .then(|| a.as_primitive::<arrow::datatypes::Int64Type>().value(0))
            })
            .collect()
    }

    /// The only value of a one-row integer result.
    pub fn int1(sql: &str) -> Option<i64> {
        let v = ints(sql);
        assert_eq!(v.len(), 1, "{sql}");
        v[0]
    }

    /// The first column as floats.
    pub fn floats(sql: &str) -> Vec<Option<f64>> {
        array(sql, &DataType::Float64)
            .iter()
            .map(|a| {
                a.is_valid(0)
                    .then(|| a.as_primitive::<arrow::datatypes::Float64Type>().value(0))
            })
            .collect()
    }

    /// The first column as lists of strings.
    pub fn lists(sql: &str) -> Vec<Option<Vec<Option<String>>>> {
        column(sql)
            .into_iter()
            .map(|s| {
                let a = s.to_array().unwrap();
                if a.is_null(0) {
                    return None;
                }
                let l = a.as_list::<i32>().value(0);
                let l = cast(&l, &DataType::Utf8).unwrap();
                let l = l.as_string::<i32>();
                Some(
                    (0..l.len())
                        .map(|i| l.is_valid(i).then(|| l.value(i).to_string()))
                        .collect(),
                )
            })
            .collect()
    }

    /// Shorthand for an expected list.
    pub fn list(items: &[&str]) -> Option<Vec<Option<String>>> {
        Some(items.iter().map(|s| Some(s.to_string())).collect())
    }

    /// Shorthand for `Some(s.to_string())`.
    pub fn s(v: &str) -> Option<String> {
        Some(v.to_string())
    }
}
