//! `AuditLogs` read through the target index ([`crate::store::target_index`]).
//!
//! [`IndexedTable`] wraps the listing table. When a scan's filters include
//! `kql_list_has(TargetResources, 'id' | 'displayName', 'V')` (the compiler adds it before an
//! `mv-expand TargetResources | where TargetResources.id == "V"`, [`crate::kql::prefilter`]),
//! each file's index gives the rows whose targets hold `V`: files without such rows are not
//! opened, the others are read with that row selection (DataFusion's `ParquetRowSelection`), so
//! the wide nested columns are decoded for those rows only. The filters still run on what is
//! read: the selection narrows the scan, it never decides the result. Files without a usable
//! index are read in full.
//!
//! A scan lists only the day directories its `date` filters admit (the compiler adds `date >=
//! 'D1' AND date <= 'D2'` for a time range, [`crate::kql::partition`]), each once per engine
//! ([`IndexedTable::scan_days`]). DataFusion's listing table walks every `date=` directory
//! before it prunes them by the filters: on three years of history, 1,093 directories listed for
//! a 30-day query, about 25 ms a query. Each day is listed the way the listing table lists a
//! single day, through the same object store, so the files and their metadata are the ones it
//! would have found.

use std::borrow::Cow;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

use arrow::datatypes::SchemaRef;
use datafusion::catalog::{ScanArgs, ScanResult, Session, TableProvider};
use datafusion::common::{Constraints, DFSchema, ScalarValue, Statistics, internal_err};
use datafusion::datasource::listing::{ListingTable, PartitionedFile};
use datafusion::datasource::physical_plan::ParquetSource;
use datafusion::datasource::physical_plan::parquet::metadata::DFParquetMetadata;
use datafusion::datasource::physical_plan::parquet::{
    ParquetRowSelection, can_expr_be_pushed_down_with_schemas,
};
use datafusion::datasource::physical_plan::{FileGroup, FileScanConfig};
use datafusion::datasource::source::DataSourceExec;
use datafusion::logical_expr::execution_props::ExecutionProps;
use datafusion::logical_expr::expr_rewriter::unnormalize_col;
use datafusion::logical_expr::physical_planning_context::PhysicalPlanningContext;
use datafusion::logical_expr::utils::split_conjunction;
use datafusion::logical_expr::{
    BinaryExpr, Expr, LogicalPlan, Operator, TableProviderFilterPushDown, TableType, col, lit,
};
use datafusion::object_store::path::Path as ObjectPath;
use datafusion::object_store::{ObjectMeta, ObjectStore};
use datafusion::physical_expr::create_physical_expr;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::empty::EmptyExec;
use datafusion::physical_plan::filter_pushdown::PushedDown;
use futures::TryStreamExt;
use parquet::arrow::arrow_reader::{RowSelection, RowSelector};
use parquet::file::metadata::PageIndexPolicy;

use crate::schema::DATE_PARTITION as DATE;
use crate::store::target_index::{self, FileStamp, TargetField};

/// The `AuditLogs` listing table, scanned through the target index of its files.
#[derive(Debug)]
pub struct IndexedTable {
    inner: ListingTable,
    /// The table's directory (holding `date=.../part-*.parquet`).
    dir: PathBuf,
    /// What has been listed of `dir`, shared by the tables the engine declares over it (one
    /// per query that reads nested columns narrowed).
    listing: Arc<Listing>,
}

/// The days and files of one table directory, each listed once per engine.
#[derive(Debug, Default)]
pub struct Listing {
    /// The table's days ([`IndexedTable::days_within`]).
    days: OnceLock<Option<Vec<String>>>,
    /// The files of each day listed so far ([`IndexedTable::day_files`]).
    listed: Mutex<HashMap<String, Arc<Vec<ObjectMeta>>>>,
}

impl IndexedTable {
    pub fn new(inner: ListingTable, dir: PathBuf, listing: Arc<Listing>) -> IndexedTable {
        IndexedTable {
            inner,
            dir,
            listing,
        }
    }

    /// `plan` (the listing table's scan) with each file narrowed to the rows its index selects
    /// for `keys`; unchanged when there are no keys or the plan is not a plain file scan.
    async fn select(
        &self,
        state: &dyn Session,
        plan: Arc<dyn ExecutionPlan>,
        keys: &[(TargetField, String)],
    ) -> datafusion::common::Result<Arc<dyn ExecutionPlan>> {
        if keys.is_empty() {
            return Ok(plan);
        }
        let Some(exec) = plan.downcast_ref::<DataSourceExec>() else {
            return Ok(plan);
        };
        let Some(config) = exec.data_source().downcast_ref::<FileScanConfig>() else {
            return Ok(plan);
        };
        let keys: Vec<(TargetField, &str)> = keys.iter().map(|(f, v)| (*f, v.as_str())).collect();
        let mut config = config.clone();
        config.file_groups = std::mem::take(&mut config.file_groups)
            .into_iter()
            .map(|group| {
                FileGroup::new(
                    group
                        .into_inner()
                        .into_iter()
                        .filter_map(|file| self.narrow(file, &keys))
                        .collect(),
                )
            })
            .collect();
        // A row selection skips whole pages only through the files' offset index (the page
        // index), which the Parquet opener loads only for a page-pruning predicate: load it into
        // the metadata cache the opener reads, for the files read with a selection. (DataFusion's
        // table statistics, off here, used to load it for every file.)
        let store = state
            .runtime_env()
            .object_store(config.object_store_url.clone())?;
        let cache = state.runtime_env().cache_manager.get_file_metadata_cache();
        for file in config.file_groups.iter().flat_map(|g| g.iter()) {
            if file.extension::<ParquetRowSelection>().is_some() {
                DFParquetMetadata::new(store.as_ref(), &file.object_meta)
                    .with_file_metadata_cache(Some(Arc::clone(&cache)))
                    .with_page_index_policy(Some(PageIndexPolicy::Optional))
                    .fetch_metadata()
                    .await?;
            }
        }
        // The selected rows are a few per page (a package's or an app's events among every
        // other event of the day): read them with skip/read selectors instead of decoding
        // whole pages and masking them afterwards (arrow-rs's choice for selections this
        // fragmented). In process at 1M: apa-30d 114 → 100 ms, apa-all 300 → 255 ms,
        // approle-30d 165-185 → 135 ms; the other cases unchanged (`BENCHMARKS.md`).
        if let Some(source) = config.file_source.downcast_ref::<ParquetSource>() {
            let mut options = source.table_parquet_options().clone();
            options.global.force_filter_selections = true;
            config.file_source = Arc::new(source.clone().with_table_parquet_options(options));
        }
        Ok(DataSourceExec::from_data_source(config))
    }

    /// The listing table's scan, of the files of the day directories the `date` filters admit,
    /// each listed on its own: `None` (scan as the listing table does) when a filter on `date`
    /// is not a plain comparison, or a day holds a directory.
    async fn scan_days(
        &self,
        state: &dyn Session,
        args: &ScanArgs<'_>,
    ) -> datafusion::common::Result<Option<Arc<dyn ExecutionPlan>>> {
        // Files grouped by day (an optimizer option, off by default) are the listing table's.
        if state.config_options().optimizer.preserve_file_partitions > 0 {
            return Ok(None);
        }
        let filters = args.filters().unwrap_or(&[]);
        let Some(bounds) = DayBounds::from_filters(filters) else {
            return Ok(None);
        };
        let Some(days) = self.days_within(&bounds) else {
            return Ok(None);
        };
        let Some(url) = self.inner.table_paths().first() else {
            return Ok(None);
        };
        let store = state.runtime_env().object_store(url)?;
        let mut files = Vec::new();
        let mut first_day = None;
        for day in &days {
            let Some(listed) = self.day_files(store.as_ref(), url.prefix(), day).await? else {
                return Ok(None);
            };
            for meta in listed.iter() {
                let mut file = PartitionedFile::from(meta.clone());
                file.partition_values = vec![ScalarValue::Utf8(Some(day.clone()))];
                files.push(file);
                first_day.get_or_insert(day);
            }
        }
        let Some(first_day) = first_day.cloned() else {
            let schema = self.schema();
            let schema = match args.projection() {
                Some(p) => Arc::new(schema.project(p)?),
                None => schema,
            };
            return Ok(Some(Arc::new(EmptyExec::new(schema))));
        };
        // The listing table's own scan of one day, with every file of the range in its place.
        let one_day: Vec<Expr> = filters
            .iter()
            .cloned()
            .chain([col(DATE).eq(lit(first_day))])
            .collect();
        let plan = self
            .inner
            .scan_with_args(state, args.clone().with_filters(Some(&one_day)))
            .await?
            .into_inner();
        let Some(config) = plan
            .downcast_ref::<DataSourceExec>()
            .and_then(|exec| exec.data_source().downcast_ref::<FileScanConfig>())
        else {
            return Ok(None);
        };
        let mut config = config.clone();
        config.file_groups =
            FileGroup::new(files).split_files(state.config().target_partitions().max(1));
        Ok(Some(DataSourceExec::from_data_source(config)))
    }

    /// The table's days (its `date=D` directories, sorted) that `bounds` admits. `None` when
    /// the table directory cannot be read or a day's name is not plain digits and dashes (the
    /// listing table would percent-decode it). The directory is read once per engine, as the
    /// days' files are.
    fn days_within(&self, bounds: &DayBounds) -> Option<Vec<String>> {
        let all = self.listing.days.get_or_init(|| {
            let mut days = Vec::new();
            for entry in std::fs::read_dir(&self.dir).ok()? {
                let name = entry.ok()?.file_name();
                let Some(day) = name.to_str().and_then(|n| n.strip_prefix("date=")) else {
                    continue;
                };
                if !day.bytes().all(|b| b.is_ascii_digit() || b == b'-') {
                    return None;
                }
                days.push(day.to_string());
            }
            days.sort();
            Some(days)
        });
        Some(
            all.as_ref()?
                .iter()
                .filter(|d| bounds.admits(d))
                .cloned()
                .collect(),
        )
    }

    /// The Parquet files of day `day` (listed once per engine, as the listing table's file
    /// cache did), with the listing table's rules: directly in the day's directory, named
    /// `*.parquet`, not empty. `None` when the day holds a directory (the listing table's
    /// rules for those are its own).
    async fn day_files(
        &self,
        store: &dyn ObjectStore,
        table: &ObjectPath,
        day: &str,
    ) -> datafusion::common::Result<Option<Arc<Vec<ObjectMeta>>>> {
        if let Some(files) = self.listing.listed.lock().expect("not poisoned").get(day) {
            return Ok(Some(Arc::clone(files)));
        }
        let prefix = table.clone().join(format!("{DATE}={day}"));
        let listed: Vec<ObjectMeta> = store.list(Some(&prefix)).try_collect().await?;
        let mut files = Vec::new();
        for meta in listed {
            if meta.location.prefix_match(&prefix).map(Iterator::count) != Some(1) {
                return Ok(None);
            }
            if meta.location.as_ref().ends_with(".parquet") && meta.size > 0 {
                files.push(meta);
            }
        }
        let files = Arc::new(files);
        self.listing
            .listed
            .lock()
            .expect("not poisoned")
            .insert(day.to_string(), Arc::clone(&files));
        Ok(Some(files))
    }

    /// One file with the row selection of its index: `None` when no row can match, the file
    /// as it is when it has no usable index.
    fn narrow(
        &self,
        file: PartitionedFile,
        keys: &[(TargetField, &str)],
    ) -> Option<PartitionedFile> {
        let parts: Vec<String> = file
            .object_meta
            .location
            .parts()
            .map(|p| p.as_ref().to_string())
            .collect();
        let [.., partition, name] = parts.as_slice() else {
            return Some(file);
        };
        if !partition.contains('=') || !name.ends_with(".parquet") {
            return Some(file);
        }
        let path = self.dir.join(partition).join(name);
        let root = self.dir.parent().unwrap_or(&self.dir);
        let index = target_index::index_path(root, &path);
        let stamp = FileStamp {
            size: file.object_meta.size,
            modified: file
                .object_meta
                .last_modified
                .timestamp_nanos_opt()
                .unwrap_or(0),
        };
        let Some(selected) = target_index::lookup(&index, stamp, keys) else {
            return Some(file);
        };
        if selected.matching.is_empty() {
            return None;
        }
        let selection = row_selection(&selected.matching, selected.rows);
        Some(file.with_extension(ParquetRowSelection::new(selection)))
    }

    /// Whether the Parquet reader evaluates `filter` on every row it reads, exactly: a filter on
    /// the files' columns (not on `date`, which the listing answers for) that DataFusion's row
    /// filter takes as a whole (the columns it reads are primitive, or primitive leaves reached
    /// through `get_field`; `datafusion_datasource_parquet::row_filter`), and not volatile.
    /// DataFusion itself removes such a filter from above a scan once it is pushed into the
    /// reader; answering "exact" up front also keeps the columns only the filter reads out of
    /// the scan's output (`Category`, `Result`, `TimeGenerated` in App role assignment
    /// activity), which the reader otherwise decodes whole, every row of every page, for the
    /// rows the filter keeps.
    fn evaluates_exactly(&self, filter: &Expr) -> bool {
        let columns = filter.column_refs();
        if columns.is_empty() || columns.iter().any(|c| c.name == DATE) || filter.is_volatile() {
            return false;
        }
        let schema = self.schema();
        let Ok(df_schema) = DFSchema::try_from(Arc::clone(&schema)) else {
            return false;
        };
        let context = PhysicalPlanningContext::default();
        // The optimizer asks with the columns qualified by the table's name in the query.
        let filter = unnormalize_col(filter.clone());
        match create_physical_expr(&filter, &df_schema, &ExecutionProps::new(), &context) {
            Ok(expr) => can_expr_be_pushed_down_with_schemas(&expr, &schema),
            Err(_) => false,
        }
    }
}

/// `plan`, a file scan, with `filters` (each one that [`IndexedTable::evaluates_exactly`])
/// evaluated on every row by the Parquet reader, whatever the session's `pushdown_filters`:
/// the table answered "exact" for them, so nothing above the scan applies them again.
fn push_row_filters(
    state: &dyn Session,
    plan: Arc<dyn ExecutionPlan>,
    filters: &[Expr],
) -> datafusion::common::Result<Arc<dyn ExecutionPlan>> {
    if filters.is_empty() || plan.downcast_ref::<EmptyExec>().is_some() {
        return Ok(plan);
    }
    let Some(config) = plan
        .downcast_ref::<DataSourceExec>()
        .and_then(|exec| exec.data_source().downcast_ref::<FileScanConfig>())
    else {
        return internal_err!("AuditLogs: the scan of its files is not a file scan: {plan:?}");
    };
    let schema = Arc::clone(config.file_source.table_schema().table_schema());
    let df_schema = DFSchema::try_from(schema)?;
    let exprs = filters
        .iter()
        .map(|f| state.create_physical_expr(unnormalize_col(f.clone()), &df_schema))
        .collect::<datafusion::common::Result<Vec<_>>>()?;
    let mut options = state.config_options().clone();
    options.execution.parquet.pushdown_filters = true;
    let pushed = config.file_source.try_pushdown_filters(exprs, &options)?;
    let (true, Some(source)) = (
        pushed.filters.iter().all(|p| matches!(p, PushedDown::Yes)),
        pushed.updated_node,
    ) else {
        return internal_err!("AuditLogs: the Parquet reader refused filters {filters:?}");
    };
    let mut config = config.clone();
    config.file_source = source;
    Ok(DataSourceExec::from_data_source(config))
}

/// The selection of `rows` (ascending) among `total` rows.
fn row_selection(rows: &[u32], total: u64) -> RowSelection {
    let mut selectors = Vec::new();
    let mut at = 0u64;
    let mut i = 0;
    while i < rows.len() {
        let start = u64::from(rows[i]);
        let mut end = start + 1;
        i += 1;
        while i < rows.len() && u64::from(rows[i]) == end {
            end += 1;
            i += 1;
        }
        if start > at {
            selectors.push(RowSelector::skip((start - at) as usize));
        }
        selectors.push(RowSelector::select((end - start) as usize));
        at = end;
    }
    if total > at {
        selectors.push(RowSelector::skip((total - at) as usize));
    }
    RowSelection::from(selectors)
}

/// The text of a string literal.
fn utf8_literal(e: &Expr) -> Option<String> {
    match e {
        Expr::Literal(ScalarValue::Utf8(Some(s)) | ScalarValue::Utf8View(Some(s)), _) => {
            Some(s.clone())
        }
        _ => None,
    }
}

/// A scan's filters on the `date` partition alone, each a comparison of `date` with a text.
#[derive(Debug, PartialEq)]
struct DayBounds(Vec<(Operator, String)>);

impl DayBounds {
    /// The comparisons of `date` among `filters`' conjuncts (none: every day). `None` when a
    /// conjunct on `date` alone is any other expression (the listing table evaluates those).
    fn from_filters(filters: &[Expr]) -> Option<DayBounds> {
        let mut bounds = Vec::new();
        for conjunct in filters.iter().flat_map(split_conjunction) {
            let columns = conjunct.column_refs();
            if !columns.iter().any(|c| c.name == DATE) {
                continue;
            }
            if columns.len() > 1 {
                // Not a partition filter: evaluated on the rows, not used for listing.
                continue;
            }
            bounds.push(comparison(conjunct)?);
        }
        Some(DayBounds(bounds))
    }

    /// Whether day `day` passes every comparison (text order, as the filters compare).
    fn admits(&self, day: &str) -> bool {
        self.0.iter().all(|(op, v)| {
            let (d, v) = (day, v.as_str());
            match op {
                Operator::Eq => d == v,
                Operator::NotEq => d != v,
                Operator::Lt => d < v,
                Operator::LtEq => d <= v,
                Operator::Gt => d > v,
                Operator::GtEq => d >= v,
                _ => unreachable!("only comparisons are kept"),
            }
        })
    }
}

/// `date <op> 'text'` (or `'text' <op> date`) as the operator with `date` on the left.
fn comparison(e: &Expr) -> Option<(Operator, String)> {
    let Expr::BinaryExpr(BinaryExpr { left, op, right }) = e else {
        return None;
    };
    let is_date = |e: &Expr| matches!(e, Expr::Column(c) if c.name == DATE);
    let op = match op {
        Operator::Eq
        | Operator::NotEq
        | Operator::Lt
        | Operator::LtEq
        | Operator::Gt
        | Operator::GtEq => *op,
        _ => return None,
    };
    if is_date(left) {
        Some((op, utf8_literal(right)?))
    } else if is_date(right) {
        Some((op.swap()?, utf8_literal(left)?))
    } else {
        None
    }
}

/// The target keys the filters require: every conjunct
/// `kql_list_has(TargetResources, 'id' | 'displayName', 'V')`.
fn target_keys(filters: &[Expr]) -> Vec<(TargetField, String)> {
    let mut keys = Vec::new();
    for conjunct in filters.iter().flat_map(split_conjunction) {
        let Expr::ScalarFunction(f) = conjunct else {
            continue;
        };
        if f.func.name() != "kql_list_has" {
            continue;
        }
        let [Expr::Column(list), field, value] = f.args.as_slice() else {
            continue;
        };
        if list.name != "TargetResources" {
            continue;
        }
        if let (Some(field), Some(value)) = (
            utf8_literal(field).and_then(|f| TargetField::from_name(&f)),
            utf8_literal(value),
        ) {
            keys.push((field, value));
        }
    }
    keys
}

#[async_trait::async_trait]
impl TableProvider for IndexedTable {
    fn schema(&self) -> SchemaRef {
        self.inner.schema()
    }

    fn constraints(&self) -> Option<&Constraints> {
        self.inner.constraints()
    }

    fn table_type(&self) -> TableType {
        self.inner.table_type()
    }

    fn get_logical_plan(&self) -> Option<Cow<'_, LogicalPlan>> {
        self.inner.get_logical_plan()
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> datafusion::common::Result<Arc<dyn ExecutionPlan>> {
        let args = ScanArgs::default()
            .with_projection(projection.map(Vec::as_slice))
            .with_filters(Some(filters))
            .with_limit(limit);
        Ok(self.scan_with_args(state, args).await?.into_inner())
    }

    async fn scan_with_args<'a>(
        &self,
        state: &dyn Session,
        args: ScanArgs<'a>,
    ) -> datafusion::common::Result<ScanResult> {
        let filters = args.filters().unwrap_or(&[]);
        let keys = target_keys(filters);
        let exact: Vec<Expr> = filters
            .iter()
            .filter(|f| self.evaluates_exactly(f))
            .cloned()
            .collect();
        let plan = match self.scan_days(state, &args).await? {
            Some(plan) => plan,
            None => self.inner.scan_with_args(state, args).await?.into_inner(),
        };
        let plan = self.select(state, plan, &keys).await?;
        Ok(ScanResult::new(push_row_filters(state, plan, &exact)?))
    }

    /// The listing table's answer (exact for filters on `date` alone), and exact as well for
    /// every filter the Parquet reader evaluates on each row ([`IndexedTable::evaluates_exactly`]):
    /// the scan then applies it itself ([`push_row_filters`]) and DataFusion neither keeps a
    /// filter above the scan nor reads the columns only that filter uses.
    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> datafusion::common::Result<Vec<TableProviderFilterPushDown>> {
        let mut answers = self.inner.supports_filters_pushdown(filters)?;
        for (answer, filter) in answers.iter_mut().zip(filters) {
            if *answer == TableProviderFilterPushDown::Inexact && self.evaluates_exactly(filter) {
                *answer = TableProviderFilterPushDown::Exact;
            }
        }
        Ok(answers)
    }

    fn statistics(&self) -> Option<Statistics> {
        self.inner.statistics()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn day_bounds_read_the_comparisons_of_date_alone() {
        let date = || col(DATE);
        let filters = [
            date()
                .gt_eq(lit("2026-10-01"))
                .and(date().lt_eq(lit("2026-10-31"))),
            // `'D' > date`, operands swapped; a filter on rows as well is not a bound.
            lit("2026-10-20").gt(date()),
            date().eq(col("Category")),
        ];
        let bounds = DayBounds::from_filters(&filters).unwrap();
        let admitted: Vec<&str> = ["2026-09-30", "2026-10-01", "2026-10-19", "2026-10-20"]
            .into_iter()
            .filter(|d| bounds.admits(d))
            .collect();
        assert_eq!(admitted, ["2026-10-01", "2026-10-19"]);
        // No filter on `date`: every day.
        assert!(DayBounds::from_filters(&[]).unwrap().admits("1999-01-01"));
        // Any other filter on `date` is the listing table's to evaluate.
        assert_eq!(DayBounds::from_filters(&[date().like(lit("2026-%"))]), None);
        assert_eq!(
            DayBounds::from_filters(&[date().in_list(vec![lit("2026-10-01")], false)]),
            None
        );
    }

    #[test]
    fn row_selection_covers_every_row_once() {
        let s = row_selection(&[0, 1, 5, 6, 7, 9], 12);
        let selectors: Vec<_> = s.iter().cloned().collect();
        assert_eq!(
            selectors,
            vec![
                RowSelector::select(2),
                RowSelector::skip(3),
                RowSelector::select(3),
                RowSelector::skip(1),
                RowSelector::select(1),
                RowSelector::skip(2),
            ]
        );
        assert_eq!(s.row_count(), 6);
    }
}
