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

use std::borrow::Cow;
use std::path::PathBuf;
use std::sync::Arc;

use arrow::datatypes::SchemaRef;
use datafusion::catalog::{ScanArgs, ScanResult, Session, TableProvider};
use datafusion::common::{Constraints, ScalarValue, Statistics};
use datafusion::datasource::listing::{ListingTable, PartitionedFile};
use datafusion::datasource::physical_plan::ParquetSource;
use datafusion::datasource::physical_plan::parquet::ParquetRowSelection;
use datafusion::datasource::physical_plan::parquet::metadata::DFParquetMetadata;
use datafusion::datasource::physical_plan::{FileGroup, FileScanConfig};
use datafusion::datasource::source::DataSourceExec;
use datafusion::logical_expr::utils::split_conjunction;
use datafusion::logical_expr::{Expr, LogicalPlan, TableProviderFilterPushDown, TableType};
use datafusion::physical_plan::ExecutionPlan;
use parquet::arrow::arrow_reader::{RowSelection, RowSelector};
use parquet::file::metadata::PageIndexPolicy;

use crate::store::target_index::{self, FileStamp, TargetField};

/// The `AuditLogs` listing table, scanned through the target index of its files.
#[derive(Debug)]
pub struct IndexedTable {
    inner: ListingTable,
    /// The table's directory (holding `date=.../part-*.parquet`).
    dir: PathBuf,
}

impl IndexedTable {
    pub fn new(inner: ListingTable, dir: PathBuf) -> IndexedTable {
        IndexedTable { inner, dir }
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

/// The target keys the filters require: every conjunct
/// `kql_list_has(TargetResources, 'id' | 'displayName', 'V')`.
fn target_keys(filters: &[Expr]) -> Vec<(TargetField, String)> {
    let text = |e: &Expr| match e {
        Expr::Literal(ScalarValue::Utf8(Some(s)) | ScalarValue::Utf8View(Some(s)), _) => {
            Some(s.clone())
        }
        _ => None,
    };
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
            text(field).and_then(|f| TargetField::from_name(&f)),
            text(value),
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
        let plan = self.inner.scan(state, projection, filters, limit).await?;
        self.select(state, plan, &target_keys(filters)).await
    }

    async fn scan_with_args<'a>(
        &self,
        state: &dyn Session,
        args: ScanArgs<'a>,
    ) -> datafusion::common::Result<ScanResult> {
        let keys = target_keys(args.filters().unwrap_or(&[]));
        let plan = self.inner.scan_with_args(state, args).await?.into_inner();
        Ok(ScanResult::new(self.select(state, plan, &keys).await?))
    }

    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> datafusion::common::Result<Vec<TableProviderFilterPushDown>> {
        self.inner.supports_filters_pushdown(filters)
    }

    fn statistics(&self) -> Option<Statistics> {
        self.inner.statistics()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
