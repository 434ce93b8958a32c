//! The query engine: one DataFusion `SessionContext` with the dataset's tables registered.
//!
//! [`Engine::open`] brings the dataset to a consistent state ([`crate::store::recover`]) and
//! registers `AuditLogs` (case kept) as a listing table over `DATA/AuditLogs/date=YYYY-MM-DD/*.parquet`
//! with the canonical schema and the `date` partition column (Utf8). A dataset without that
//! directory still has the table, empty, with the same columns.
//!
//! Session choices:
//! - identifiers are not lowercased (`datafusion.sql_parser.enable_ident_normalization = false`):
//!   `SELECT Category FROM AuditLogs` and `SELECT "Category" FROM "AuditLogs"` both work; function
//!   names are still case-insensitive;
//! - `information_schema` on (`SHOW TABLES`, `SHOW COLUMNS FROM AuditLogs`);
//! - target partitions = available cores;
//! - Parquet filter pushdown with filter reordering (late materialization of the wide nested columns);
//! - local files are read on the querying thread ([`local_files`]), not handed to a thread pool;
//! - no table statistics at planning (`datafusion.execution.collect_statistics = false`): they
//!   summarize every column of every file's footer (about a hundred leaves in `AuditLogs`), which
//!   took a third of a short query's time (`perf`: `statistics_from_parquet_metadata`), for plans
//!   that do not change here. Files, row groups and pages are still pruned by their statistics
//!   when they are opened.
//!
//! Queries run read-only: DDL (`CREATE ...`), DML (`INSERT`, `COPY ... TO`) and statements (`SET`)
//! are refused, so a query from a workbook file cannot write files; [`Engine::context`] gives full
//! access to code that needs more.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::catalog::MemTable;
use datafusion::common::TableReference;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{
    ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl,
};
use datafusion::execution::context::SQLOptions;
use datafusion::prelude::{DataFrame, SessionConfig, SessionContext};

use crate::schema::{AUDIT_LOGS, DATE_PARTITION, audit_logs_schema};
use crate::snapshot_schema::{SNAPSHOT_PARTITION, snapshot_schemas};
use crate::{Error, Result};

mod indexed;
#[cfg(unix)]
mod local_files;

/// A query's result: its schema (known even when there are no rows) and its batches.
#[derive(Debug, Clone)]
pub struct QueryResult {
    pub schema: SchemaRef,
    pub batches: Vec<RecordBatch>,
}

impl QueryResult {
    /// Total number of rows over all batches.
    pub fn num_rows(&self) -> usize {
        self.batches.iter().map(RecordBatch::num_rows).sum()
    }
}

/// How to open an [`Engine`].
#[derive(Debug, Clone, Default)]
pub struct EngineOptions {
    /// Bytes the queries may hold in memory; operators that can spill (sorts, hash
    /// aggregations, sort-merge joins) spill to disk past it, the others fail with a clear
    /// "resources exhausted" error. `None`: unbounded.
    pub memory_limit: Option<usize>,
}

/// The DataFusion session over one dataset. Cloning is cheap and shares the session.
#[derive(Clone)]
pub struct Engine {
    ctx: SessionContext,
    data_dir: PathBuf,
    /// The tables stored as Parquet: name → (directory, partition column), to re-declare them
    /// with narrowed nested types for one query ([`Engine::kql_dataframe`]).
    stored: Arc<Vec<(String, PathBuf, &'static str)>>,
    /// What has been listed of `AuditLogs`' directory, shared by every declaration of it.
    audit_listing: Arc<indexed::Listing>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("data_dir", &self.data_dir)
            .finish_non_exhaustive()
    }
}

impl Engine {
    /// Opens the dataset in `data_dir`: completes an interrupted commit, then registers the tables.
    /// A missing dataset is not an error: its tables exist and are empty.
    pub fn open(data_dir: &Path) -> Result<Engine> {
        Engine::open_with(data_dir, &EngineOptions::default())
    }

    /// [`Engine::open`] with options (a memory limit).
    pub fn open_with(data_dir: &Path, options: &EngineOptions) -> Result<Engine> {
        crate::store::recover(data_dir)?;
        // `AuditLogs` lists its day directories itself, once per engine and only those in a
        // query's time range (`indexed`). DataFusion's list-files cache would list the whole
        // table on its first use instead, whatever the range.
        let caches = datafusion::execution::cache::cache_manager::CacheManagerConfig::default()
            .with_list_files_cache_limit(0);
        let runtime =
            datafusion::execution::runtime_env::RuntimeEnvBuilder::new().with_cache_manager(caches);
        let ctx = match options.memory_limit {
            None => SessionContext::new_with_config_rt(session_config(), runtime.build_arc()?),
            Some(limit) => {
                // A fair share of `limit` per spilling operator; past it they spill to the
                // OS temporary directory.
                let runtime = runtime
                    .with_memory_pool(Arc::new(
                        datafusion::execution::memory_pool::FairSpillPool::new(limit),
                    ))
                    .build_arc()?;
                // The sort's merge reservation (10 MB by default) must fit in the limit too.
                let mut config = session_config();
                let execution = &mut config.options_mut().execution;
                execution.sort_spill_reservation_bytes =
                    execution.sort_spill_reservation_bytes.min(limit / 10);
                SessionContext::new_with_config_rt(config, runtime)
            }
        };
        // Local files are read on the querying thread, not through tokio's blocking pool.
        #[cfg(unix)]
        ctx.register_object_store(
            datafusion::execution::object_store::ObjectStoreUrl::local_filesystem().as_ref(),
            Arc::new(local_files::LocalFiles::new()),
        );
        let audit_logs = crate::store::audit_logs_dir(data_dir);
        let mut stored = Vec::new();
        let audit_listing = Arc::new(indexed::Listing::default());
        let table: Arc<dyn datafusion::catalog::TableProvider> = if audit_logs.is_dir() {
            stored.push((AUDIT_LOGS.to_string(), audit_logs.clone(), DATE_PARTITION));
            stored_table(
                &ctx,
                AUDIT_LOGS,
                &audit_logs,
                &audit_logs_schema(),
                DATE_PARTITION,
                &audit_listing,
            )?
        } else {
            empty_table()?
        };
        ctx.register_table(TableReference::bare(AUDIT_LOGS), table)?;
        for (name, schema) in snapshot_schemas() {
            let dir = data_dir.join(name);
            let table: Arc<dyn datafusion::catalog::TableProvider> = if dir.is_dir() {
                stored.push((name.to_string(), dir.clone(), SNAPSHOT_PARTITION));
                Arc::new(partitioned_table(&ctx, &dir, schema, SNAPSHOT_PARTITION)?)
            } else {
                Arc::new(MemTable::try_new(
                    with_partition(schema, SNAPSHOT_PARTITION),
                    vec![vec![]],
                )?)
            };
            ctx.register_table(TableReference::bare(*name), table)?;
        }
        crate::kql::udf::register(&ctx);
        Ok(Engine {
            ctx,
            data_dir: data_dir.to_path_buf(),
            stored: Arc::new(stored),
            audit_listing,
        })
    }

    /// The DataFusion session (to register UDFs, more tables, or run unrestricted SQL).
    pub fn context(&self) -> &SessionContext {
        &self.ctx
    }

    /// The dataset directory this engine was opened on.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// Plans a read-only SQL query (one statement) without running it.
    pub async fn dataframe(&self, query: &str) -> Result<DataFrame> {
        let options = SQLOptions::new()
            .with_allow_ddl(false)
            .with_allow_dml(false)
            .with_allow_statements(false);
        Ok(self.ctx.sql_with_options(query, options).await?)
    }

    /// The tables KQL queries can read, with the columns KQL sees (`date` is the dataset's
    /// partition, not a KQL column).
    pub fn catalog(&self) -> crate::kql::Catalog {
        let audit_logs = crate::kql::Catalog::new()
            .with_table(AUDIT_LOGS, audit_logs_schema())
            .with_day_partition(AUDIT_LOGS, audit_logs_day_partition());
        snapshot_schemas()
            .iter()
            .fold(audit_logs, |c, (name, schema)| {
                c.with_table(name, schema.clone())
            })
    }

    /// Compiles a KQL query against this engine's tables; `now()` is the current time.
    /// `file` names the source in diagnostics.
    pub fn compile_kql(&self, kql: &str, file: &str) -> Result<crate::kql::Compiled> {
        let now = chrono::Utc::now()
            .timestamp_nanos_opt()
            .expect("the current time fits in nanoseconds");
        self.compile_kql_at(kql, file, now)
    }

    /// [`Engine::compile_kql`] with a fixed `now()` (ns since the epoch, UTC).
    pub fn compile_kql_at(&self, kql: &str, file: &str, now: i64) -> Result<crate::kql::Compiled> {
        crate::kql::compile(kql, &self.catalog(), now).map_err(|diagnostics| Error::Diagnostics {
            file: file.to_string(),
            text: kql.to_string(),
            diagnostics,
        })
    }

    /// Runs a compiled KQL query. Columns holding dynamic values as JSON text are marked
    /// (field metadata `auditbook.dynamic = json`) so that renderers print them as JSON.
    pub async fn run_kql(&self, compiled: &crate::kql::Compiled) -> Result<QueryResult> {
        let df = self.kql_dataframe(compiled).await?;
        let schema: SchemaRef = df.schema().inner().clone();
        let batches = df.collect().await?;
        Ok(mark_json_columns(
            QueryResult { schema, batches },
            &compiled.json_columns(),
        ))
    }

    /// Plans a compiled KQL query from its SQL syntax tree (no SQL text is parsed again).
    ///
    /// Tables whose nested columns the query reads only in part are planned re-declared with
    /// the narrowed types ([`crate::kql::narrow`]), so the Parquet reader skips the other leaves.
    ///
    /// Materialized relations (`materialize()`) run first, in order; their rows are held in
    /// memory as tables of the planning state, which the query and later ones read.
    pub async fn kql_dataframe(&self, compiled: &crate::kql::Compiled) -> Result<DataFrame> {
        use datafusion::sql::parser::Statement;
        use datafusion::sql::sqlparser::ast::{Query, Statement as SqlStatement};
        let statement =
            |q: &Query| Statement::Statement(Box::new(SqlStatement::Query(Box::new(q.clone()))));
        let (state, schema) = self
            .planning_state(&compiled.narrowed, !compiled.materialized.is_empty())
            .await?;
        for (name, query) in &compiled.materialized {
            let plan = state.statement_to_plan(statement(query)).await?;
            let df = self.ctx.execute_logical_plan(plan).await?;
            let table_schema: SchemaRef = df.schema().inner().clone();
            let batches = df.collect().await?;
            // One partition per core, so that the readers of a large table use them all.
            let parts = split_batches(batches, self.ctx.copied_config().target_partitions());
            let table = MemTable::try_new(table_schema, parts)?;
            if let Some(schema) = &schema {
                schema.register_table(name.clone(), Arc::new(table))?;
            }
        }
        let plan = state.statement_to_plan(statement(&compiled.query)).await?;
        if compiled.first_row_only {
            // Filters gather their output into batches of `batch_size` rows before passing
            // it on, so a `LIMIT 1` above them would wait for that many matches.
            let config = state.config().clone().with_batch_size(FIRST_ROW_BATCH_SIZE);
            let state = datafusion::execution::SessionStateBuilder::new_from_existing(state)
                .with_config(config)
                .build();
            return Ok(DataFrame::new(state, plan));
        }
        Ok(self.ctx.execute_logical_plan(plan).await?)
    }

    /// The session state to plan a query in: the engine's own, or, when some tables are to be
    /// read narrowed or materialized tables added (`private`), a copy whose catalog holds
    /// those tables (the others shared), with its schema to register more in.
    async fn planning_state(
        &self,
        narrowed: &[(String, SchemaRef)],
        private: bool,
    ) -> Result<(
        datafusion::execution::SessionState,
        Option<Arc<dyn datafusion::catalog::SchemaProvider>>,
    )> {
        use datafusion::catalog::{
            CatalogProvider, MemoryCatalogProvider, MemoryCatalogProviderList,
            MemorySchemaProvider, SchemaProvider,
        };
        let state = self.ctx.state();
        let overrides: Vec<_> = narrowed
            .iter()
            .filter_map(|(name, schema)| {
                let (_, dir, partition) = self.stored.iter().find(|(n, ..)| n == name)?;
                Some((name, dir, *partition, schema))
            })
            .collect();
        if overrides.is_empty() && !private {
            return Ok((state, None));
        }
        let options = &state.config().options().catalog;
        let (catalog_name, schema_name) = (
            options.default_catalog.clone(),
            options.default_schema.clone(),
        );
        let schema = Arc::new(MemorySchemaProvider::new());
        if let Some(current) = self
            .ctx
            .catalog(&catalog_name)
            .and_then(|c| c.schema(&schema_name))
        {
            for name in current.table_names() {
                if overrides.iter().any(|(n, ..)| **n == name) {
                    continue;
                }
                if let Some(table) = current.table(&name).await? {
                    schema.register_table(name, table)?;
                }
            }
        }
        for (name, dir, partition, narrowed) in overrides {
            let table = stored_table(
                &self.ctx,
                name,
                dir,
                narrowed,
                partition,
                &self.audit_listing,
            )?;
            schema.register_table(name.clone(), table)?;
        }
        let catalog = Arc::new(MemoryCatalogProvider::new());
        catalog.register_schema(&schema_name, schema.clone())?;
        let list = Arc::new(MemoryCatalogProviderList::new());
        datafusion::catalog::CatalogProviderList::register_catalog(
            list.as_ref(),
            catalog_name,
            catalog,
        );
        let state = datafusion::execution::SessionStateBuilder::new_from_existing(state)
            .with_catalog_list(list)
            .build();
        Ok((state, Some(schema as Arc<dyn SchemaProvider>)))
    }

    /// Runs a read-only SQL query and collects its result, schema included.
    pub async fn query(&self, query: &str) -> Result<QueryResult> {
        let df = self.dataframe(query).await?;
        let schema: SchemaRef = df.schema().inner().clone();
        let batches = df.collect().await?;
        Ok(QueryResult { schema, batches })
    }

    /// Runs a read-only SQL query and collects its batches (see [`Engine::query`] for the schema
    /// of an empty result).
    pub async fn sql(&self, query: &str) -> Result<Vec<RecordBatch>> {
        Ok(self.query(query).await?.batches)
    }
}

/// `batches` dealt round-robin into `n` partitions (at least one, possibly empty).
fn split_batches(batches: Vec<RecordBatch>, n: usize) -> Vec<Vec<RecordBatch>> {
    let mut parts = vec![Vec::new(); n.max(1)];
    let count = parts.len();
    for (i, b) in batches.into_iter().enumerate() {
        parts[i % count].push(b);
    }
    parts
}

/// Field metadata key marking a `Utf8` column whose values are JSON text of KQL `dynamic`s.
pub const DYNAMIC_JSON_METADATA: &str = "auditbook.dynamic";

fn mark_json_columns(result: QueryResult, names: &[String]) -> QueryResult {
    if names.is_empty() {
        return result;
    }
    let mark = |schema: &SchemaRef| -> SchemaRef {
        let fields: Vec<Field> = schema
            .fields()
            .iter()
            .map(|f| {
                let mut f = f.as_ref().clone();
                let text = matches!(
                    f.data_type(),
                    DataType::Utf8 | DataType::Utf8View | DataType::LargeUtf8
                );
                if names.contains(f.name()) && text {
                    let mut md = f.metadata().clone();
                    md.insert(DYNAMIC_JSON_METADATA.into(), "json".into());
                    f = f.with_metadata(md);
                }
                f
            })
            .collect();
        Arc::new(Schema::new_with_metadata(fields, schema.metadata().clone()))
    };
    // Batches may carry other string encodings than the plan's schema (Utf8View): mark each
    // batch's own schema.
    let batches: Vec<RecordBatch> = result
        .batches
        .into_iter()
        .map(|b| {
            let schema = mark(&b.schema());
            RecordBatch::try_new(schema, b.columns().to_vec()).expect("only metadata changed")
        })
        .collect();
    let schema = batches
        .first()
        .map_or_else(|| mark(&result.schema), |b| b.schema());
    QueryResult { schema, batches }
}

/// The batch size of a query that wants only its first row ([`crate::kql::Compiled::first_row_only`]).
const FIRST_ROW_BATCH_SIZE: usize = 64;

/// The session configuration every engine uses (see the module documentation).
/// How many bytes at the end of a Parquet file are read at once for its footer. The files
/// ingest writes end with their bloom filters, page index and footer: 20–45 KiB for a day of
/// the 1M-event benchmark set. DataFusion's default (512 KiB) read 46 MB to plan a query over
/// 90 day files, a third of their bytes; a footer larger than the hint costs one more read.
const METADATA_SIZE_HINT: usize = 64 * 1024;

pub fn session_config() -> SessionConfig {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut config = SessionConfig::new()
        .with_information_schema(true)
        .with_target_partitions(cores);
    let options = config.options_mut();
    options.sql_parser.enable_ident_normalization = false;
    options.execution.parquet.pushdown_filters = true;
    options.execution.parquet.reorder_filters = true;
    options.execution.parquet.metadata_size_hint = Some(METADATA_SIZE_HINT);
    options.execution.collect_statistics = false;
    config
}

/// How `AuditLogs` is partitioned: `date` is the UTC day of `ActivityDateTime`, and
/// `TimeGenerated` is within a day of it.
pub fn audit_logs_day_partition() -> crate::kql::partition::DayPartition {
    crate::kql::partition::DayPartition {
        column: DATE_PARTITION,
        exact_column: "ActivityDateTime",
        near_columns: &["TimeGenerated"],
    }
}

/// The columns of `AuditLogs` as queries see them: the canonical schema plus `date`.
pub fn audit_logs_table_schema() -> SchemaRef {
    with_partition(&audit_logs_schema(), DATE_PARTITION)
}

/// `schema` plus a hive partition column `partition` (Utf8).
fn with_partition(schema: &SchemaRef, partition: &str) -> SchemaRef {
    let mut fields: Vec<Field> = schema.fields().iter().map(|f| f.as_ref().clone()).collect();
    // Listing tables add partition columns as non-nullable.
    fields.push(Field::new(partition, DataType::Utf8, false));
    Arc::new(Schema::new(fields))
}

fn empty_table() -> Result<Arc<dyn datafusion::catalog::TableProvider>> {
    Ok(Arc::new(MemTable::try_new(
        audit_logs_table_schema(),
        vec![vec![]],
    )?))
}

/// The stored table `name` over the hive-partitioned Parquet files below `dir` (which exists),
/// declared with `schema`: `AuditLogs` is read through its target index ([`indexed`]). Files
/// outside `partition=...` directories, in deeper subdirectories (staging), empty or not ending
/// in `.parquet` are not read. `audit_listing` is what the engine has listed of `AuditLogs`.
fn stored_table(
    ctx: &SessionContext,
    name: &str,
    dir: &Path,
    schema: &SchemaRef,
    partition: &str,
    audit_listing: &Arc<indexed::Listing>,
) -> Result<Arc<dyn datafusion::catalog::TableProvider>> {
    let table = partitioned_table(ctx, dir, schema, partition)?;
    Ok(if name == AUDIT_LOGS {
        Arc::new(indexed::IndexedTable::new(
            table,
            dir.to_path_buf(),
            Arc::clone(audit_listing),
        ))
    } else {
        Arc::new(table)
    })
}

/// A table over the Parquet files in `dir`'s `partition=...` subdirectories.
fn partitioned_table(
    ctx: &SessionContext,
    dir: &Path,
    schema: &SchemaRef,
    partition: &str,
) -> Result<ListingTable> {
    let format = ParquetFormat::default().with_options(ctx.state().table_options().parquet.clone());
    let options = ListingOptions::new(Arc::new(format))
        .with_file_extension(".parquet")
        .with_table_partition_cols(vec![(partition.to_string(), DataType::Utf8)]);
    let config = ListingTableConfig::new(directory_url(dir)?)
        .with_listing_options(options)
        .with_schema(schema.clone());
    Ok(ListingTable::try_new(config)?)
}

/// A `file://` URL for an existing directory, with a trailing `/` (a collection) and every byte
/// that is not unreserved percent-encoded: `ListingTableUrl::parse` on a plain path would take `*`,
/// `?` or `[` in it for a glob.
#[cfg(unix)]
fn directory_url(dir: &Path) -> Result<ListingTableUrl> {
    use std::fmt::Write;
    use std::os::unix::ffi::OsStrExt;
    let absolute = std::fs::canonicalize(dir).map_err(|e| Error::io(dir, e))?;
    let mut url = String::from("file://");
    for &b in absolute.as_os_str().as_bytes() {
        if b.is_ascii_alphanumeric() || b"/-._~".contains(&b) {
            url.push(b as char);
        } else {
            let _ = write!(url, "%{b:02X}");
        }
    }
    if !url.ends_with('/') {
        url.push('/');
    }
    Ok(ListingTableUrl::parse(url)?)
}

#[cfg(not(unix))]
fn directory_url(dir: &Path) -> Result<ListingTableUrl> {
    let absolute = std::fs::canonicalize(dir).map_err(|e| Error::io(dir, e))?;
    let mut path = absolute
        .to_str()
        .ok_or_else(|| Error::Invalid(format!("{}: path is not valid UTF-8", dir.display())))?
        .to_string();
    if !path.ends_with(std::path::MAIN_SEPARATOR) {
        path.push(std::path::MAIN_SEPARATOR);
    }
    Ok(ListingTableUrl::parse(path)?)
}

#[cfg(test)]
mod tests {
    use std::fs::File;

    use arrow::array::{Array, AsArray};
    use arrow::datatypes::Int64Type;
    use parquet::arrow::ArrowWriter;

    use super::*;
    use crate::record::{AuditRecord, InitiatedBy, TargetResource, UserIdentity, records_to_batch};

    fn record(id: &str, nanos: i64, user: &str, targets: &[(&str, &str)]) -> AuditRecord {
        let mut r = AuditRecord {
            time_generated: nanos,
            activity_date_time: nanos,
            id: id.into(),
            category: "GroupManagement".into(),
            activity_display_name: "Add member to group".into(),
            initiated_by: Some(InitiatedBy {
                user: Some(UserIdentity {
                    display_name: Some(user.into()),
                    ..Default::default()
                }),
                app: None,
            }),
            target_resources: Some(
                targets
                    .iter()
                    .map(|(id, kind)| TargetResource {
                        id: Some(id.to_string()),
                        type_: Some(kind.to_string()),
                        ..Default::default()
                    })
                    .collect(),
            ),
            ..Default::default()
        };
        r.fill_derived();
        r
    }

    fn write_day(data: &Path, day: &str, records: &[AuditRecord]) {
        let dir = data.join("AuditLogs").join(format!("date={day}"));
        std::fs::create_dir_all(&dir).unwrap();
        let batch = records_to_batch(records).unwrap();
        let mut writer = ArrowWriter::try_new(
            File::create(dir.join("x.parquet")).unwrap(),
            audit_logs_schema(),
            None,
        )
        .unwrap();
        writer.write(&batch).unwrap();
        writer.close().unwrap();
    }

    const JAN2: i64 = 1_767_312_000_000_000_000; // 2026-01-02T00:00:00Z

    /// A dataset of two days (three records), below a directory name with glob characters.
    fn dataset() -> (tempfile::TempDir, PathBuf) {
        let tmp = tempfile::tempdir().unwrap();
        let data = tmp.path().join("data [x]*?");
        write_day(
            &data,
            "2026-01-02",
            &[
                record("a", JAN2 + 1_000, "Ada", &[("u1", "User"), ("g1", "Group")]),
                record("b", JAN2 + 2_000, "Bob", &[]),
            ],
        );
        write_day(
            &data,
            "2026-01-03",
            &[record(
                "c",
                JAN2 + 86_400_000_000_000,
                "Cy",
                &[("g2", "Group")],
            )],
        );
        (tmp, data)
    }

    fn rt() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap()
    }

    fn strings(batches: &[RecordBatch], column: usize) -> Vec<Option<String>> {
        let mut out = Vec::new();
        for b in batches {
            let c = arrow::compute::cast(b.column(column), &DataType::Utf8).unwrap();
            let c = c.as_string::<i32>();
            out.extend((0..c.len()).map(|i| c.is_valid(i).then(|| c.value(i).to_string())));
        }
        out
    }

    fn count(engine: &Engine, sql: &str) -> i64 {
        let batches = rt().block_on(engine.sql(sql)).unwrap();
        batches[0].column(0).as_primitive::<Int64Type>().value(0)
    }

    #[test]
    fn counts_filters_nested_access_and_unnest() {
        let (_tmp, data) = dataset();
        let engine = Engine::open(&data).unwrap();
        assert_eq!(count(&engine, "SELECT count(*) FROM AuditLogs"), 3);
        assert_eq!(
            count(
                &engine,
                "SELECT COUNT(*) FROM \"AuditLogs\" WHERE date = '2026-01-02'"
            ),
            2
        );
        assert_eq!(
            count(
                &engine,
                "SELECT count(*) FROM AuditLogs WHERE \"date\" >= '2026-01-03'"
            ),
            1
        );

        let rt = rt();
        let batches = rt
            .block_on(engine.sql(
                "SELECT Id, \"InitiatedBy\"['user']['displayName'] AS who, date FROM AuditLogs ORDER BY Id",
            ))
            .unwrap();
        assert_eq!(
            strings(&batches, 0),
            [Some("a".into()), Some("b".into()), Some("c".into())]
        );
        assert_eq!(
            strings(&batches, 1),
            [Some("Ada".into()), Some("Bob".into()), Some("Cy".into())]
        );
        assert_eq!(
            strings(&batches, 2),
            [
                Some("2026-01-02".into()),
                Some("2026-01-02".into()),
                Some("2026-01-03".into())
            ]
        );

        let batches = rt
            .block_on(engine.sql(
                "SELECT \"Id\", t['id'] AS target, t['type'] AS kind \
                 FROM (SELECT \"Id\", unnest(\"TargetResources\") AS t FROM \"AuditLogs\") \
                 ORDER BY \"Id\", target",
            ))
            .unwrap();
        assert_eq!(
            strings(&batches, 0),
            [Some("a".into()), Some("a".into()), Some("c".into())]
        );
        assert_eq!(
            strings(&batches, 1),
            [Some("g1".into()), Some("u1".into()), Some("g2".into())]
        );
        assert_eq!(
            strings(&batches, 2),
            [
                Some("Group".into()),
                Some("User".into()),
                Some("Group".into())
            ]
        );

        // Timestamps keep their nanoseconds and UTC zone.
        let result = rt
            .block_on(engine.query("SELECT TimeGenerated FROM AuditLogs WHERE Id = 'b'"))
            .unwrap();
        assert_eq!(
            result.schema.field(0).data_type(),
            &crate::schema::timestamp_type()
        );
        assert_eq!(
            strings(&result.batches, 0),
            [Some("2026-01-02T00:00:00.000002Z".into())]
        );
    }

    #[test]
    fn identifiers_keep_their_case_quoted_or_not() {
        let (_tmp, data) = dataset();
        let engine = Engine::open(&data).unwrap();
        let rt = rt();
        for sql in [
            "SELECT Category FROM AuditLogs",
            "SELECT \"Category\" FROM \"AuditLogs\"",
            "select Category from AuditLogs where Category = 'GroupManagement'",
        ] {
            let result = rt.block_on(engine.query(sql)).unwrap();
            assert_eq!(result.schema.field(0).name(), "Category", "{sql}");
            assert_eq!(result.num_rows(), 3, "{sql}");
        }
        // Case matters for names now: a lowercased name is another (unknown) name.
        assert!(
            rt.block_on(engine.sql("SELECT category FROM AuditLogs"))
                .is_err()
        );
        assert!(
            rt.block_on(engine.sql("SELECT Category FROM auditlogs"))
                .is_err()
        );
    }

    #[test]
    fn missing_or_empty_dataset_has_an_empty_table() {
        let tmp = tempfile::tempdir().unwrap();
        let rt = rt();
        let missing = tmp.path().join("nowhere");
        let empty = tmp.path().join("empty");
        std::fs::create_dir_all(empty.join("AuditLogs")).unwrap();
        for data in [&missing, &empty] {
            let engine = Engine::open(data).unwrap();
            let result = rt
                .block_on(engine.query("SELECT * FROM AuditLogs"))
                .unwrap();
            assert_eq!(result.num_rows(), 0);
            assert_eq!(
                result.schema.fields().len(),
                audit_logs_schema().fields().len() + 1
            );
            assert_eq!(
                result.schema.field_with_name("date").unwrap().data_type(),
                &DataType::Utf8
            );
            assert_eq!(
                count(
                    &engine,
                    "SELECT count(*) FROM AuditLogs WHERE date = '2026-01-02'"
                ),
                0
            );
        }
        assert!(!missing.exists(), "opening must not create the dataset");
    }

    #[test]
    fn session_settings_and_read_only() {
        let (_tmp, data) = dataset();
        let engine = Engine::open(&data).unwrap();
        let state = engine.context().state();
        let parquet = &state.table_options().parquet.global;
        assert!(parquet.pushdown_filters && parquet.reorder_filters);
        assert!(state.config().information_schema());
        let rt = rt();
        let tables = rt.block_on(engine.sql("SHOW TABLES")).unwrap();
        assert!(strings(&tables, 2).contains(&Some("AuditLogs".into())));
        for sql in [
            "CREATE TABLE t AS SELECT 1",
            "COPY (SELECT 1) TO '/tmp/x.csv'",
            "SET datafusion.execution.batch_size = 1",
        ] {
            assert!(rt.block_on(engine.sql(sql)).is_err(), "{sql}");
        }
        let e = rt
            .block_on(engine.sql("SELECT nope FROM AuditLogs"))
            .unwrap_err();
        assert!(matches!(e, Error::DataFusion(_)), "{e:?}");
    }

    #[test]
    fn date_filters_prune_files_and_other_filters_reach_the_parquet_scan() {
        let (_tmp, data) = dataset();
        let engine = Engine::open(&data).unwrap();
        let result = rt()
            .block_on(engine.query(
                "EXPLAIN SELECT Id, InitiatedBy['user']['displayName'] AS who FROM AuditLogs \
                 WHERE date = '2026-01-02' AND Category = 'GroupManagement'",
            ))
            .unwrap();
        let plans = strings(&result.batches, 1);
        let physical = plans[1].as_deref().unwrap();
        assert!(physical.contains("date=2026-01-02/x.parquet"), "{physical}");
        assert!(!physical.contains("date=2026-01-03"), "{physical}");
        assert!(physical.contains("predicate=Category@"), "{physical}");
        assert!(
            !physical.contains("FilterExec"),
            "the filter runs inside the scan: {physical}"
        );
        assert!(
            physical.contains("get_field(InitiatedBy@"),
            "nested access is pushed into the scan: {physical}"
        );
    }

    #[test]
    fn columns_only_a_filter_reads_are_not_read_back_out_of_the_scan() {
        let (_tmp, data) = dataset();
        let engine = Engine::open(&data).unwrap();
        let rt = rt();
        let sql = format!(
            "SELECT Id FROM AuditLogs WHERE Category = 'GroupManagement' \
             AND TimeGenerated > arrow_cast({}, 'Timestamp(Nanosecond, Some(\"UTC\"))') \
             AND InitiatedBy['user']['displayName'] <> 'Bob' \
             AND array_length(TargetResources) > 0 ORDER BY Id",
            JAN2 + 500
        );
        let result = rt
            .block_on(engine.query(&format!("EXPLAIN {sql}")))
            .unwrap();
        let plans = strings(&result.batches, 1);
        let physical = plans[1].as_deref().unwrap();
        // The reader evaluates the three filters on primitive leaves and DataFusion keeps no
        // filter for them, so the scan outputs neither `Category` nor `TimeGenerated`; the
        // filter on the whole list stays above the scan, which reads the list for it.
        let scan = physical
            .lines()
            .find(|l| l.contains("DataSourceExec"))
            .unwrap();
        assert!(scan.contains("projection=[Id, TargetResources]"), "{scan}");
        assert!(scan.contains("predicate=Category@"), "{scan}");
        assert!(scan.contains("TimeGenerated@"), "{scan}");
        assert!(scan.contains("get_field(InitiatedBy@"), "{scan}");
        assert!(physical.contains("FilterExec: array_length"), "{physical}");
        // `a` (Ada, two targets) and `c` (Cy, one); `b` is Bob's and has no targets.
        let batches = rt.block_on(engine.sql(&sql)).unwrap();
        assert_eq!(strings(&batches, 0), [Some("a".into()), Some("c".into())]);
        let none = sql.replace("'GroupManagement'", "'UserManagement'");
        assert_eq!(
            rt.block_on(engine.sql(&none))
                .unwrap()
                .iter()
                .map(|b| b.num_rows())
                .sum::<usize>(),
            0
        );
    }
}
