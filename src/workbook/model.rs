//! The workbook model both file formats load into (Azure `Notebook/1.0` JSON and native YAML),
//! and the results a run produces. Loaders fill it, `params`/`bind`/`run` read it, writers
//! print it back out.

use std::path::PathBuf;

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;

/// A loaded workbook: its items in order, and where it came from (for diagnostics).
#[derive(Debug, Clone, PartialEq)]
pub struct Workbook {
    /// Title: native `title:`; for Azure files the first markdown heading of the first text
    /// item, else the file stem.
    pub title: String,
    /// A short description (native `description:`; Azure files have none).
    pub description: Option<String>,
    pub items: Vec<Item>,
    /// The file it was read from, and its text (diagnostics point into it).
    pub source: SourceFile,
}

/// The file a workbook was read from.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SourceFile {
    /// Path as given (or `builtin:NAME` for built-in workbooks).
    pub path: PathBuf,
    /// Whole file text.
    pub text: String,
    pub format: FileFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FileFormat {
    /// Azure Monitor `Notebook/1.0` JSON (also the ARM-template form).
    #[default]
    Azure,
    /// auditbook's native YAML.
    Native,
}

/// A piece of text taken from the workbook file (a query, a markdown body) with the map from
/// its offsets back to byte offsets of the file, so a diagnostic in a query points at the file.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SourceText {
    pub text: String,
    /// `None` when the text's position in the file is unknown (built programmatically).
    pub map: Option<SourceMap>,
}

impl SourceText {
    pub fn new(text: impl Into<String>) -> Self {
        SourceText {
            text: text.into(),
            map: None,
        }
    }
}

/// Offsets of a decoded string → byte offsets in the file. Checkpoints `(text_offset,
/// file_offset)`, sorted by `text_offset`: an offset maps through the last checkpoint at or
/// before it (`file = cp.1 + (offset - cp.0)`). A loader adds a checkpoint wherever decoding
/// shifts the correspondence (a JSON escape, a YAML line's indentation).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SourceMap {
    pub checkpoints: Vec<(usize, usize)>,
}

impl SourceMap {
    /// The file byte offset of text offset `offset`.
    pub fn to_file(&self, offset: usize) -> usize {
        let i = self.checkpoints.partition_point(|&(t, _)| t <= offset);
        match i.checked_sub(1).map(|i| self.checkpoints[i]) {
            Some((t, f)) => f + (offset - t),
            None => offset,
        }
    }
}

/// One item (step) of a workbook.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    /// The item's `name` (Azure: `"query - 1"`; native: the step key). Unique per workbook.
    pub name: String,
    /// Shown only when every condition holds (Azure `conditionalVisibility` /
    /// `conditionalVisibilities`).
    pub visible_if: Vec<Condition>,
    pub kind: ItemKind,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ItemKind {
    /// Markdown (type 1). Placeholders in it are expanded (as text) when run.
    Text(SourceText),
    /// A query step (type 3).
    Query(QueryItem),
    /// A parameters step (type 9).
    Parameters(Vec<Parameter>),
    /// A group (type 12): its own items; its parameters are visible outside it only when
    /// `export_parameters` is set.
    Group(Group),
    /// Links / tabs (type 11): listed, not followed.
    Links(Vec<Link>),
    /// Any other item type: kept (for conversion) and reported with a notice when run.
    Unsupported(Unsupported),
}

/// An item type auditbook does not run (metrics, ARM actions, ...).
#[derive(Debug, Clone, PartialEq)]
pub struct Unsupported {
    /// Azure item `type` code.
    pub type_code: i64,
    /// What it is, in words (`"metrics (type 10)"`).
    pub what: String,
    /// The item's JSON as in the file, kept so conversion round-trips it.
    pub raw: serde_json::Value,
}

/// `{parameterName, comparison, value}`.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    pub parameter: String,
    pub comparison: Comparison,
    pub value: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comparison {
    IsEqualTo,
    IsNotEqualTo,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    pub title: Option<String>,
    pub items: Vec<Item>,
    pub export_parameters: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Link {
    pub label: String,
    /// `linkTarget` (`Url`, `WorkbookTemplate`, `parameter`, ...).
    pub target: String,
    /// The URL or template id when the link has one.
    pub url: Option<String>,
}

/// The query language of a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    #[default]
    Kql,
    Sql,
}

/// A query step.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct QueryItem {
    pub query: SourceText,
    pub lang: Lang,
    pub title: Option<String>,
    /// Shown instead of an empty table.
    pub no_data_message: Option<String>,
    /// Time range applied to `TimeGenerated` of every table the query reads.
    pub time_context: TimeContext,
    /// `visualization` (table, barchart, ...): a hint only.
    pub visualization: Option<String>,
    /// `gridSettings.labelSettings`: column id → header label.
    pub labels: Vec<(String, String)>,
    /// `gridSettings.rowLimit`.
    pub row_limit: Option<usize>,
}

/// How a query step gets its time range.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum TimeContext {
    /// No range applied (Azure `timeContext: {durationMs: 0}` without a parameter, or absent).
    #[default]
    None,
    /// `timeContextFromParameter`: the range of that time-range parameter.
    Parameter(String),
    /// A fixed duration ending now (`timeContext: {durationMs: N}` with N > 0).
    Duration(i64),
}

/// A parameter declared in a parameters step.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Parameter {
    pub name: String,
    pub label: Option<String>,
    pub description: Option<String>,
    pub kind: ParamKind,
    pub required: bool,
    /// Drop-down `multiSelect`.
    pub multi: bool,
    /// Multi-select quote around each value (Azure's default when absent: `'`).
    pub quote: Option<String>,
    /// Multi-select delimiter (Azure's default when absent: `,`).
    pub delimiter: Option<String>,
    /// `value::all` in `typeSettings.additionalResourceOptions`: an "All" choice exists.
    pub include_all: bool,
    /// `typeSettings.selectAllValue`: what `{P}` expands to when All is chosen.
    pub select_all_value: Option<String>,
    /// `defaultValue`.
    pub default: Option<ParamValue>,
    /// The saved `value`.
    pub value: Option<ParamValue>,
    /// Where the allowed values come from.
    pub choices: Choices,
    /// Time-range parameters: the choices offered.
    pub time: Option<TimeSettings>,
    /// `isHiddenWhenLocked`.
    pub hidden: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ParamKind {
    /// Type 1.
    #[default]
    Text,
    /// Type 2.
    DropDown,
    /// Type 4.
    TimeRange,
    /// Type 10.
    Options,
    /// Any other type code (resource pickers, ...): refused when the workbook runs.
    Other(i64),
}

impl ParamKind {
    pub fn type_code(self) -> i64 {
        match self {
            ParamKind::Text => 1,
            ParamKind::DropDown => 2,
            ParamKind::TimeRange => 4,
            ParamKind::Options => 10,
            ParamKind::Other(n) => n,
        }
    }

    /// The name used in the native format and in `params --format json`.
    pub fn name(self) -> &'static str {
        match self {
            ParamKind::Text => "text",
            ParamKind::DropDown => "dropdown",
            ParamKind::TimeRange => "time",
            ParamKind::Options => "options",
            ParamKind::Other(_) => "unsupported",
        }
    }
}

/// Allowed values of a drop-down / options group (and the default query of a text parameter).
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Choices {
    #[default]
    None,
    /// `jsonData`: strings or `{value, label, selected, group}`.
    Static(Vec<Choice>),
    /// `query`: first column value, second label, third selected, fourth group.
    Query { query: SourceText, lang: Lang },
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Choice {
    pub value: String,
    pub label: Option<String>,
    pub selected: bool,
    pub group: Option<String>,
}

impl Choice {
    /// A bare value (no label, not selected, no group): files write it as a plain string.
    pub fn is_plain(&self) -> bool {
        self.label.is_none() && !self.selected && self.group.is_none()
    }
}

/// A parameter value as written in a file (saved `value`, `defaultValue`) or on the command line.
#[derive(Debug, Clone, PartialEq)]
pub enum ParamValue {
    One(String),
    Many(Vec<String>),
    Time(TimeValue),
}

/// A time-range value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeValue {
    /// The last `ms` milliseconds, ending now. `0` means no range ("set in query").
    Duration { ms: i64 },
    /// A custom range, nanoseconds since the epoch, UTC.
    Range { start: i64, end: i64 },
}

/// `typeSettings` of a time-range parameter.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TimeSettings {
    /// `selectableValues[].durationMs`.
    pub durations: Vec<i64>,
    /// `allowCustom`.
    pub allow_custom: bool,
}

/// The outcome of running a workbook: what every output format prints.
#[derive(Debug, Clone)]
pub struct RunResult {
    pub title: String,
    pub description: Option<String>,
    /// Resolved parameters in declaration order: name → value (a string, a list of strings
    /// for multi-select, `{"start","end","label"}` for time ranges, null when unset).
    pub parameters: Vec<(String, serde_json::Value)>,
    /// The range of the workbook's time parameter the steps used, nanoseconds UTC.
    pub time: Option<(i64, i64)>,
    /// Visible steps in order (text, tables, notices).
    pub steps: Vec<StepResult>,
}

/// One visible step's output.
#[derive(Debug, Clone)]
pub enum StepResult {
    /// A markdown text item, placeholders expanded.
    Text { name: String, markdown: String },
    /// A query step's table.
    Table(TableResult),
    /// Something the user must know about that has no table: an unsupported item, a links
    /// item (its links listed), a group title.
    Notice { name: String, message: String },
}

/// A query step's result.
#[derive(Debug, Clone)]
pub struct TableResult {
    /// Item name (the file name for `--output DIR` is derived from it).
    pub name: String,
    pub title: Option<String>,
    /// Column names and their KQL type names (`string`, `datetime`, `long`, `dynamic`, ...).
    pub columns: Vec<(String, String)>,
    /// Column id → header label (`gridSettings.labelSettings`); table/markdown/html use them.
    pub labels: Vec<(String, String)>,
    pub schema: SchemaRef,
    /// Rows after the row limit.
    pub batches: Vec<RecordBatch>,
    /// Rows were cut by `gridSettings.rowLimit`.
    pub truncated: bool,
    /// Rows the query produced before the cut.
    pub total_rows: usize,
    pub no_data_message: Option<String>,
    /// Warnings (compiler warnings, the row-limit cut) to show beside the table.
    pub warnings: Vec<String>,
}

impl TableResult {
    pub fn num_rows(&self) -> usize {
        self.batches.iter().map(|b| b.num_rows()).sum()
    }

    /// The header of column `name`: its label when one is set, else the name.
    pub fn label_of<'a>(&'a self, name: &'a str) -> &'a str {
        self.labels
            .iter()
            .find(|(id, _)| id == name)
            .map(|(_, l)| l.as_str())
            .unwrap_or(name)
    }
}
