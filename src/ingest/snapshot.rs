//! Entitlement-management state exported from Microsoft Graph (a "snapshot" folder) into the
//! snapshot tables of [`crate::snapshot_schema`].
//!
//! A snapshot is a folder holding one JSON file per Graph collection (a Graph export tool's
//! output):
//!
//! ```text
//! <dir>/users.json, groups.json, catalogs.json, accessPackages.json, assignmentPolicies.json,
//!       assignments.json, assignmentRequests.json, connectedOrganizations.json
//! <dir>/groups/<groupId>/members.json, transitiveMembers.json
//! <dir>/accessPackages/<packageId>/resourceRoleScopes.json
//! ```
//!
//! A collection may be split into pages (`users.json`, `users.2.json`, ...), each a page object
//! `{"value": [...], "@odata.nextLink": ...}`, or one file may hold one page a line (NDJSON), or a
//! bare array of objects. The collection comes from the page's `@odata.context` when it names one,
//! else from the file's name and place in the folder (case-insensitive). The snapshot's date
//! (`SnapshotDate`) is `--snapshot-date`, else a date written in the folder's name
//! (`snapshot-2026-11-01`, `2026-11-01T06-00-00Z`); never a file's modification time.
//!
//! Mapping: each Graph object becomes one row ([`SnapshotRow`]) whose cells follow the table's
//! schema; enum values are normalised to Graph's casing whatever the export wrote (`DELIVERED` →
//! `delivered`, `delivered` → `Delivered` for `Status`), `@odata.type` values lose their
//! `#microsoft.graph.` prefix, and `Raw` keeps the object's JSON text. An object that cannot be
//! mapped (no `id`, a member of the wrong JSON type, an unreadable timestamp) is refused with a
//! reason, which the reader quarantines.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, LazyLock};

use arrow::array::{
    ArrayRef, BooleanArray, ListArray, ListBuilder, RecordBatch, StringArray, StringBuilder,
    StructArray, TimestampNanosecondArray,
};
use arrow::buffer::{NullBuffer, OffsetBuffer};
use arrow::datatypes::{DataType, Fields};
use serde_json::{Map, Value};

use super::graph::{Obj, kind};
use crate::snapshot_schema::{self as ss, snapshot_schema};
use crate::time::{format_rfc3339_nanos, parse_timestamp};

/// A Graph collection of a snapshot folder, and the table it fills.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Collection {
    Users,
    Groups,
    /// `groups/<id>/members`.
    Members,
    /// `groups/<id>/transitiveMembers`.
    TransitiveMembers,
    Catalogs,
    AccessPackages,
    AssignmentPolicies,
    Assignments,
    /// `accessPackages/<id>/resourceRoleScopes`.
    ResourceRoleScopes,
    AssignmentRequests,
    ConnectedOrganizations,
}

impl Collection {
    /// The snapshot table this collection fills.
    pub fn table(self) -> &'static str {
        match self {
            Collection::Users => ss::ENTRA_USERS,
            Collection::Groups => ss::ENTRA_GROUPS,
            Collection::Members | Collection::TransitiveMembers => ss::ENTRA_GROUP_MEMBERSHIP,
            Collection::Catalogs => ss::ENTRA_ACCESS_PACKAGE_CATALOGS,
            Collection::AccessPackages => ss::ENTRA_ACCESS_PACKAGES,
            Collection::AssignmentPolicies => ss::ENTRA_ACCESS_PACKAGE_POLICIES,
            Collection::Assignments => ss::ENTRA_ACCESS_PACKAGE_ASSIGNMENTS,
            Collection::ResourceRoleScopes => ss::ENTRA_ACCESS_PACKAGE_RESOURCE_ROLE_SCOPES,
            Collection::AssignmentRequests => ss::ENTRA_ACCESS_PACKAGE_ASSIGNMENT_REQUESTS,
            Collection::ConnectedOrganizations => ss::ENTRA_CONNECTED_ORGANIZATIONS,
        }
    }

    /// A collection from a Graph name (context segment or file stem), case-insensitively;
    /// the `accessPackage...` names of the beta API too.
    fn from_name(name: &str) -> Option<Collection> {
        Some(match name.to_ascii_lowercase().as_str() {
            "users" => Collection::Users,
            "groups" => Collection::Groups,
            "members" => Collection::Members,
            "transitivemembers" => Collection::TransitiveMembers,
            "catalogs" | "accesspackagecatalogs" => Collection::Catalogs,
            "accesspackages" => Collection::AccessPackages,
            "assignmentpolicies" | "accesspackageassignmentpolicies" => {
                Collection::AssignmentPolicies
            }
            "assignments" | "accesspackageassignments" => Collection::Assignments,
            "resourcerolescopes" | "accesspackageresourcerolescopes" => {
                Collection::ResourceRoleScopes
            }
            "assignmentrequests" | "accesspackageassignmentrequests" => {
                Collection::AssignmentRequests
            }
            "connectedorganizations" => Collection::ConnectedOrganizations,
            _ => return None,
        })
    }

    /// Whether the collection lives under a parent object (`groups/<id>/...`,
    /// `accessPackages/<id>/...`), whose id its rows need.
    fn parent_dir(self) -> Option<&'static str> {
        match self {
            Collection::Members | Collection::TransitiveMembers => Some("groups"),
            Collection::ResourceRoleScopes => Some("accesspackages"),
            _ => None,
        }
    }
}

/// Which collection a file holds, and where its snapshot's folder is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileTarget {
    pub collection: Collection,
    /// The group (members) or access package (resource role scopes) the objects belong to.
    pub parent_id: Option<String>,
    /// `SnapshotDate`, ns since the epoch (UTC).
    pub snapshot: i64,
}

/// What a Graph `@odata.context` names: the last collection and the key of its parent, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContextName {
    /// The last segment's name (`users`, `directoryObjects`, `resourceRoleScopes`).
    pub name: String,
    /// The key of the segment before it (`accessPackages('<id>')` → `<id>`).
    pub parent_key: Option<String>,
}

/// Parses `https://graph.microsoft.com/v1.0/$metadata#identityGovernance/entitlementManagement/accessPackages('x')/resourceRoleScopes(role(),scope())`.
pub fn parse_context(context: &str) -> Option<ContextName> {
    let fragment = context.split_once('#').map_or(context, |(_, f)| f);
    // Split on `/` outside parentheses and quotes.
    let mut segments = Vec::new();
    let (mut depth, mut quoted, mut start) = (0i32, false, 0usize);
    for (i, c) in fragment.char_indices() {
        match c {
            '\'' => quoted = !quoted,
            '(' if !quoted => depth += 1,
            ')' if !quoted => depth -= 1,
            '/' if !quoted && depth == 0 => {
                segments.push(&fragment[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    segments.push(&fragment[start..]);
    segments.retain(|s| !s.is_empty() && !s.starts_with('$'));
    let split = |s: &str| -> (String, Option<String>) {
        match s.split_once('(') {
            Some((name, rest)) => {
                let key = rest.trim_end_matches(')');
                let key = key
                    .strip_prefix('\'')
                    .and_then(|k| k.strip_suffix('\''))
                    .map(str::to_string);
                (name.to_string(), key)
            }
            None => (s.to_string(), None),
        }
    };
    let (name, _) = split(segments.last()?);
    let parent_key = segments
        .len()
        .checked_sub(2)
        .and_then(|i| split(segments[i]).1);
    Some(ContextName { name, parent_key })
}

/// The `@odata.context` value near the start of a file (its first bytes), if any.
pub fn odata_context(head: &[u8]) -> Option<String> {
    let key = b"\"@odata.context\"";
    let at = head.windows(key.len()).position(|w| w == key)? + key.len();
    let rest = &head[at..];
    let rest = rest
        .trim_ascii_start()
        .strip_prefix(b":")?
        .trim_ascii_start();
    let rest = rest.strip_prefix(b"\"")?;
    let end = rest.iter().position(|&b| b == b'"')?;
    let text = std::str::from_utf8(&rest[..end]).ok()?;
    Some(text.replace("\\/", "/"))
}

/// Whether a context names a snapshot collection (`directoryObjects`, what Graph writes for
/// group members, counts only together with a collection path).
fn context_collection(context: &str) -> Option<(Collection, Option<String>)> {
    let c = parse_context(context)?;
    Collection::from_name(&c.name).map(|col| (col, c.parent_key))
}

/// The collection a path names, with its parent id: `users.json`, `users.2.json`,
/// `groups/<id>/members.json`, `accessPackages/<id>/resourceRoleScopes.ndjson.gz`.
pub fn path_collection(path: &Path) -> Option<(Collection, Option<String>)> {
    let name = super::source::logical_name(path).to_ascii_lowercase();
    let stem = ["json", "ndjson", "jsonl"]
        .iter()
        .find_map(|e| name.strip_suffix(&format!(".{e}")))?;
    // `users.2` (a later page) → `users`.
    let stem = match stem.rsplit_once('.') {
        Some((base, n)) if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => base,
        _ => stem,
    };
    let collection = Collection::from_name(stem)?;
    match collection.parent_dir() {
        None => Some((collection, None)),
        Some(dir) => {
            let parent = path.parent()?;
            let grand = parent.parent()?.file_name()?.to_str()?;
            let id = parent.file_name()?.to_str()?.to_string();
            grand
                .eq_ignore_ascii_case(dir)
                .then_some((collection, Some(id)))
        }
    }
}

/// Markers of audit-log exports: a file holding them is not a snapshot collection.
const AUDIT_MARKERS: &[&str] = &[
    "\"activityDateTime\"",
    "\"activityDisplayName\"",
    "\"TimeGenerated\"",
    "\"operationName\"",
    "\"records\"",
    "\"tables\"",
];

/// Detection: whether a JSON file (path and first bytes) is a snapshot collection. By its
/// `@odata.context` when it has one, else by its name in a snapshot folder's layout, as long as
/// nothing in it looks like an audit log.
pub fn looks_like_snapshot(path: &Path, head: &[u8]) -> bool {
    let contains = |needle: &str| head.windows(needle.len()).any(|w| w == needle.as_bytes());
    if AUDIT_MARKERS.iter().any(|m| contains(m)) {
        return false;
    }
    match odata_context(head) {
        Some(ctx) => {
            context_collection(&ctx).is_some()
                || (parse_context(&ctx)
                    .is_some_and(|c| c.name.eq_ignore_ascii_case("directoryObjects"))
                    && path_collection(path).is_some())
        }
        None => path_collection(path).is_some(),
    }
}

/// Why a file's target could not be resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetError {
    /// The whole ingest stops: the user must say when the snapshot was taken.
    NoDate(String),
    /// The file is refused (quarantined whole): its collection is unknown.
    Unknown(String),
}

/// Which collection `path` holds (from the context in `head`, else its path) and its snapshot
/// date (`given`, else from the snapshot folder's name).
pub fn resolve_target(
    path: &Path,
    head: &[u8],
    given: Option<i64>,
) -> Result<FileTarget, TargetError> {
    let from_path = path_collection(path);
    let from_context = odata_context(head).and_then(|c| context_collection(&c));
    let (collection, parent_id) = match (from_context, from_path) {
        // The context names the collection; the path may still know the parent.
        (Some((c, key)), path) => {
            let parent = key.or_else(|| path.filter(|(p, _)| *p == c).and_then(|(_, id)| id));
            (c, parent)
        }
        (None, Some(p)) => p,
        (None, None) => {
            return Err(TargetError::Unknown(
                "not a snapshot collection: no `@odata.context` naming one, and the file name is not one of users, groups, groups/<id>/members, groups/<id>/transitiveMembers, catalogs, accessPackages, assignmentPolicies, assignments, accessPackages/<id>/resourceRoleScopes, assignmentRequests, connectedOrganizations (optionally .2, .3, ... for pages; .json, .ndjson, .jsonl)".into(),
            ));
        }
    };
    if parent_id.is_none()
        && let Some(dir) = collection.parent_dir()
    {
        return Err(TargetError::Unknown(format!(
            "{} of which {}? expected the file at {dir}/<id>/{}.json in the snapshot folder",
            collection.table(),
            if dir == "groups" {
                "group"
            } else {
                "access package"
            },
            match collection {
                Collection::Members => "members",
                Collection::TransitiveMembers => "transitiveMembers",
                _ => "resourceRoleScopes",
            }
        )));
    }
    let snapshot = match given {
        Some(t) => t,
        None => {
            let root = snapshot_root(path, collection);
            let name = root
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            date_in_name(&name).ok_or_else(|| {
                TargetError::NoDate(format!(
                    "{}: when was this snapshot taken? The folder name `{name}` holds no date (like snapshot-2026-11-01 or 2026-11-01T06-00-00Z): pass --snapshot-date (RFC 3339 or YYYY-MM-DD)",
                    path.display()
                ))
            })?
        }
    };
    Ok(FileTarget {
        collection,
        parent_id,
        snapshot,
    })
}

/// The snapshot folder of a collection file: its directory, or three levels up for
/// `groups/<id>/members.json` and `accessPackages/<id>/resourceRoleScopes.json`.
pub fn snapshot_root(path: &Path, collection: Collection) -> &Path {
    let dir = path.parent().unwrap_or(Path::new(""));
    if let Some(parent_dir) = collection.parent_dir()
        && let Some(grand) = dir.parent()
        && grand
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.eq_ignore_ascii_case(parent_dir))
    {
        return grand.parent().unwrap_or(Path::new(""));
    }
    dir
}

static DATE_IN_NAME: LazyLock<regex::Regex> = LazyLock::new(|| {
    regex::Regex::new(
        r"(\d{4})-(\d{2})-(\d{2})(?:[T_ ](\d{2})[-:.]?(\d{2})[-:.]?(\d{2})(?:[.,](\d{1,9}))?(Z|[+-]\d{2}:?\d{2})?)?",
    )
    .expect("valid regex")
});

/// A date (and time, UTC unless an offset is written) in a folder's name:
/// `snapshot-2026-11-01`, `2026-11-01T06-00-00Z`, `em_2026-11-01T06:00:00+02:00`.
pub fn date_in_name(name: &str) -> Option<i64> {
    for c in DATE_IN_NAME.captures_iter(name) {
        let n = |i: usize| c.get(i).map(|m| m.as_str());
        let text = match (n(4), n(5), n(6)) {
            (Some(h), Some(m), Some(s)) => {
                let frac = n(7).map(|f| format!(".{f}")).unwrap_or_default();
                let zone = match n(8) {
                    None | Some("Z") => "Z".to_string(),
                    Some(z) if z.contains(':') => z.to_string(),
                    Some(z) => format!("{}:{}", &z[..3], &z[3..]),
                };
                format!("{}-{}-{}T{h}:{m}:{s}{frac}{zone}", &c[1], &c[2], &c[3])
            }
            _ => format!("{}-{}-{}T00:00:00Z", &c[1], &c[2], &c[3]),
        };
        if let Ok(t) = parse_timestamp(&text) {
            return Some(t);
        }
    }
    None
}

/// `--snapshot-date`: RFC 3339 (any offset) or `YYYY-MM-DD` (midnight UTC).
pub fn parse_snapshot_date(text: &str) -> Result<i64, String> {
    let t = text.trim();
    if let Ok(d) = chrono::NaiveDate::parse_from_str(t, "%Y-%m-%d") {
        return d
            .and_hms_opt(0, 0, 0)
            .and_then(|d| d.and_utc().timestamp_nanos_opt())
            .ok_or_else(|| format!("{t:?} is out of range"));
    }
    parse_timestamp(t).map_err(|e| format!("{e} (expected RFC 3339 or YYYY-MM-DD)"))
}

/// One cell of a snapshot row, typed as its column.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Str(Option<String>),
    Bool(Option<bool>),
    /// ns since the epoch, UTC.
    Time(Option<i64>),
    /// A list of strings (`GroupTypes`).
    Strings(Option<Vec<String>>),
    /// A list of structs whose fields are all strings, in schema order.
    Structs(Option<Vec<Vec<Option<String>>>>),
}

/// One row of a snapshot table: the cells of every column after `SnapshotDate` (`Raw` last).
#[derive(Debug, Clone, PartialEq)]
pub struct SnapshotRow {
    pub table: &'static str,
    /// `SnapshotDate`, ns since the epoch (UTC).
    pub snapshot: i64,
    pub cells: Vec<Cell>,
}

/// The columns whose values identify a row of `table` (duplicates share them), in sort order:
/// `Id`; for group membership the group, the member and whether it is transitive; for resource
/// role scopes `Id` and the access package (Graph's role scope id is `<roleId>_<scopeId>`, the
/// same in every package that grants that role).
pub fn key_columns(table: &str) -> &'static [&'static str] {
    match table {
        ss::ENTRA_GROUP_MEMBERSHIP => &["GroupId", "MemberId", "Transitive"],
        ss::ENTRA_ACCESS_PACKAGE_RESOURCE_ROLE_SCOPES => &["Id", "AccessPackageId"],
        _ => &["Id"],
    }
}

/// Builds one Arrow batch of `table` from rows (all of that table and snapshot).
pub fn rows_to_batch(
    table: &str,
    snapshot: i64,
    rows: &[SnapshotRow],
) -> crate::Result<RecordBatch> {
    let schema =
        snapshot_schema(table).ok_or_else(|| crate::Error::Invalid(format!("no table {table}")))?;
    let mut columns: Vec<ArrayRef> = Vec::with_capacity(schema.fields().len());
    columns.push(Arc::new(
        TimestampNanosecondArray::from(vec![snapshot; rows.len()]).with_timezone("UTC"),
    ));
    for (i, field) in schema.fields().iter().enumerate().skip(1) {
        let cells = rows.iter().map(|r| &r.cells[i - 1]);
        let array: ArrayRef = match field.data_type() {
            // KQL strings are never null: a missing value is the empty string, as in AuditLogs.
            DataType::Utf8 => Arc::new(
                cells
                    .map(|c| match c {
                        Cell::Str(Some(s)) => Some(s.as_str()),
                        _ => Some(""),
                    })
                    .collect::<StringArray>(),
            ),
            DataType::Boolean => Arc::new(
                cells
                    .map(|c| match c {
                        Cell::Bool(b) => *b,
                        _ => None,
                    })
                    .collect::<BooleanArray>(),
            ),
            DataType::Timestamp(_, _) => Arc::new(
                cells
                    .map(|c| match c {
                        Cell::Time(t) => *t,
                        _ => None,
                    })
                    .collect::<TimestampNanosecondArray>()
                    .with_timezone("UTC"),
            ),
            DataType::List(item) => match item.data_type() {
                DataType::Utf8 => {
                    let mut b = ListBuilder::new(StringBuilder::new()).with_field(Arc::clone(item));
                    for c in cells {
                        match c {
                            Cell::Strings(Some(v)) => {
                                for s in v {
                                    b.values().append_value(s);
                                }
                                b.append(true);
                            }
                            _ => b.append(false),
                        }
                    }
                    Arc::new(b.finish())
                }
                DataType::Struct(fields) => {
                    Arc::new(struct_list(item.clone(), fields, cells.collect())?)
                }
                other => {
                    return Err(crate::Error::Invalid(format!(
                        "snapshot column {} has unsupported list item type {other}",
                        field.name()
                    )));
                }
            },
            other => {
                return Err(crate::Error::Invalid(format!(
                    "snapshot column {} has unsupported type {other}",
                    field.name()
                )));
            }
        };
        columns.push(array);
    }
    Ok(RecordBatch::try_new(schema, columns)?)
}

/// A list-of-structs column whose struct fields are all strings.
fn struct_list(
    item: arrow::datatypes::FieldRef,
    fields: &Fields,
    cells: Vec<&Cell>,
) -> crate::Result<ListArray> {
    let mut offsets = vec![0i32];
    let mut valid = Vec::with_capacity(cells.len());
    let mut children: Vec<Vec<Option<String>>> = vec![Vec::new(); fields.len()];
    for c in cells {
        match c {
            Cell::Structs(Some(items)) => {
                for it in items {
                    for (f, child) in children.iter_mut().enumerate() {
                        child.push(it.get(f).cloned().flatten());
                    }
                }
                offsets.push(offsets.last().copied().unwrap_or(0) + items.len() as i32);
                valid.push(true);
            }
            _ => {
                offsets.push(offsets.last().copied().unwrap_or(0));
                valid.push(false);
            }
        }
    }
    let arrays: Vec<ArrayRef> = children
        .into_iter()
        .map(|c| Arc::new(c.into_iter().collect::<StringArray>()) as ArrayRef)
        .collect();
    let values = StructArray::try_new(fields.clone(), arrays, None)?;
    let nulls = NullBuffer::from(valid);
    let nulls = (nulls.null_count() > 0).then_some(nulls);
    Ok(ListArray::try_new(
        item,
        OffsetBuffer::new(offsets.into()),
        Arc::new(values),
        nulls,
    )?)
}

/// Names and ids learnt from earlier files of an ingest (per snapshot date), to fill the
/// names an export did not expand: a package's name, a policy's name and package.
#[derive(Debug, Default)]
pub struct Links {
    packages: HashMap<(i64, String), String>,
    policies: HashMap<(i64, String), (Option<String>, Option<String>)>,
}

/// Builds one row: cells set by column name, the others null.
struct RowBuilder {
    schema: arrow::datatypes::SchemaRef,
    cells: Vec<Cell>,
}

impl RowBuilder {
    fn new(table: &str) -> RowBuilder {
        let schema = snapshot_schema(table).expect("a snapshot table");
        let cells = schema
            .fields()
            .iter()
            .skip(1)
            .map(|f| match f.data_type() {
                DataType::Boolean => Cell::Bool(None),
                DataType::Timestamp(_, _) => Cell::Time(None),
                DataType::List(item) if item.data_type() == &DataType::Utf8 => Cell::Strings(None),
                DataType::List(_) => Cell::Structs(None),
                _ => Cell::Str(None),
            })
            .collect();
        RowBuilder { schema, cells }
    }

    fn set(&mut self, column: &str, cell: Cell) -> &mut Self {
        let i = self
            .schema
            .index_of(column)
            .unwrap_or_else(|_| panic!("no column {column}"));
        debug_assert_eq!(
            std::mem::discriminant(&self.cells[i - 1]),
            std::mem::discriminant(&cell),
            "cell type of {column}"
        );
        self.cells[i - 1] = cell;
        self
    }

    fn s(&mut self, column: &str, v: Option<String>) -> &mut Self {
        self.set(column, Cell::Str(v))
    }
}

/// A member as a boolean: JSON booleans, or the strings `true`/`false` (any case).
fn boolean(o: Obj, name: &str) -> Result<Option<bool>, String> {
    match o.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => Ok(Some(true)),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => Ok(Some(false)),
        Some(other) => Err(format!("`{name}` must be a boolean, found {}", kind(other))),
    }
}

/// An optional timestamp member.
fn time(o: Obj, name: &str) -> Result<Option<i64>, String> {
    match o.text(name)? {
        None => Ok(None),
        Some(t) if t.trim().is_empty() => Ok(None),
        Some(t) => parse_timestamp(&t)
            .map(Some)
            .map_err(|e| format!("`{name}`: {e}")),
    }
}

/// An optional object member, `None` for null or missing.
fn obj<'a>(o: Obj<'a>, name: &str) -> Result<Option<Obj<'a>>, String> {
    o.object(name)
}

/// The text of `a.b` (nested object member), `None` when any step is missing.
fn nested(o: Obj, object: &str, member: &str) -> Result<Option<String>, String> {
    match obj(o, object)? {
        Some(inner) => inner.text(member).map_err(|e| format!("`{object}`: {e}")),
        None => Ok(None),
    }
}

/// An optional array member of objects.
fn objects<'a>(o: Obj<'a>, name: &str) -> Result<Option<Vec<Obj<'a>>>, String> {
    match o.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| match v {
                Value::Object(m) => Ok(Obj(m)),
                other => Err(format!("`{name}` must hold objects, found {}", kind(other))),
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        Some(other) => Err(format!("`{name}` must be an array, found {}", kind(other))),
    }
}

/// The objects of array member `name` as struct cells: `cells` reads one object's fields, in
/// the order of the struct column's fields.
fn struct_rows<'a>(
    o: Obj<'a>,
    name: &str,
    cells: impl Fn(Obj<'a>) -> Result<Vec<Option<String>>, String>,
) -> Result<Option<Vec<Vec<Option<String>>>>, String> {
    objects(o, name)?
        .map(|items| {
            items
                .into_iter()
                .map(&cells)
                .collect::<Result<Vec<_>, String>>()
        })
        .transpose()
}

/// The required `id`.
fn id(o: Obj) -> Result<String, String> {
    match o.text("id")? {
        Some(id) if !id.trim().is_empty() => Ok(id),
        _ => Err("missing `id`".into()),
    }
}

/// Normalises an enum value to the casing of the first known value it matches
/// case-insensitively; an unknown value becomes camelCase (or PascalCase when `pascal`).
fn normalize(value: Option<String>, known: &[&str], pascal: bool) -> Option<String> {
    let v = value?;
    let t = v.trim();
    if t.is_empty() {
        return Some(v);
    }
    if let Some(k) = known.iter().find(|k| k.eq_ignore_ascii_case(t)) {
        return Some((*k).to_string());
    }
    // Unknown: an all-caps value is lowered first (`DELIVERED` → `delivered`).
    let base = if t.chars().any(|c| c.is_ascii_lowercase()) {
        t.to_string()
    } else {
        t.to_ascii_lowercase()
    };
    let mut chars = base.chars();
    let first = chars.next().expect("not empty");
    let first = if pascal {
        first.to_ascii_uppercase()
    } else {
        first.to_ascii_lowercase()
    };
    Some(std::iter::once(first).chain(chars).collect())
}

/// `#microsoft.graph.groupMembers` → `groupMembers` (known casing kept).
fn odata_type(o: Obj, known: &[&str]) -> Result<Option<String>, String> {
    let t = o.text("@odata.type")?;
    let t = t.map(|t| {
        let t = t.trim().trim_start_matches('#');
        let lower = t.to_ascii_lowercase();
        match lower.strip_prefix("microsoft.graph.") {
            Some(_) => t["microsoft.graph.".len()..].to_string(),
            None => t.to_string(),
        }
    });
    Ok(normalize(t, known, false))
}

const ASSIGNMENT_STATES: &[&str] = &[
    "delivering",
    "partiallyDelivered",
    "delivered",
    "expired",
    "deliveryFailed",
    "unknownFutureValue",
];
const ASSIGNMENT_STATUSES: &[&str] = &[
    "Delivering",
    "Delivered",
    "PartiallyDelivered",
    "DeliveryFailed",
    "Expired",
    "Expiring",
    "NearExpiry1DayNotificationTriggered",
    "NearExpiry3DaysNotificationTriggered",
    "ExpiredNotificationTriggered",
    "PendingApproval",
    "Accepted",
    "Denied",
    "Canceled",
    "Scheduled",
    "Submitted",
    "Fulfilled",
    "FulfilledNotificationTriggered",
    "PartiallyFulfilled",
    "DeliveredNotificationTriggered",
];
const REQUEST_STATES: &[&str] = &[
    "submitted",
    "pendingApproval",
    "delivering",
    "delivered",
    "deliveryFailed",
    "denied",
    "scheduled",
    "canceled",
    "partiallyDelivered",
    "unknownFutureValue",
];
const REQUEST_TYPES: &[&str] = &[
    "notSpecified",
    "userAdd",
    "userExtend",
    "userUpdate",
    "userRemove",
    "adminAdd",
    "adminUpdate",
    "adminRemove",
    "systemAdd",
    "systemUpdate",
    "systemRemove",
    "onBehalfAdd",
    "unknownFutureValue",
];
const TARGET_SCOPES: &[&str] = &[
    "notSpecified",
    "specificDirectoryUsers",
    "specificConnectedOrganizationUsers",
    "specificDirectoryServicePrincipals",
    "allMemberUsers",
    "allDirectoryUsers",
    "allDirectoryServicePrincipals",
    "allConfiguredConnectedOrganizationUsers",
    "allExternalUsers",
    "unknownFutureValue",
];
const SUBJECT_SETS: &[&str] = &[
    "singleUser",
    "groupMembers",
    "connectedOrganizationMembers",
    "attributeRuleMembers",
    "requestorManager",
    "internalSponsors",
    "externalSponsors",
    "targetUserSponsors",
    "targetApplicationOwners",
    "singleServicePrincipal",
    "servicePrincipalsInCategory",
];
const EXPIRATION_TYPES: &[&str] = &[
    "notSpecified",
    "noExpiration",
    "afterDateTime",
    "afterDuration",
];
const SUBJECT_TYPES: &[&str] = &[
    "notSpecified",
    "user",
    "servicePrincipal",
    "unknownFutureValue",
];
const CATALOG_STATES: &[&str] = &["published", "unpublished", "unknownFutureValue"];
const CATALOG_TYPES: &[&str] = &[
    "userManaged",
    "serviceDefault",
    "serviceManaged",
    "unknownFutureValue",
];
const ORG_STATES: &[&str] = &["configured", "proposed", "unknownFutureValue"];
const IDENTITY_SOURCES: &[&str] = &[
    "azureActiveDirectoryTenant",
    "crossCloudAzureActiveDirectoryTenant",
    "domainIdentitySource",
    "externalDomainFederation",
    "socialIdentitySource",
];
const DIRECTORY_OBJECTS: &[&str] = &[
    "user",
    "group",
    "servicePrincipal",
    "device",
    "orgContact",
    "application",
];
const ORIGIN_SYSTEMS: &[&str] = &[
    "AadGroup",
    "AadApplication",
    "SharePointOnline",
    "AzureResources",
    "CustomDataProvidedResource",
    "DirectoryRole",
];
const USER_TYPES: &[&str] = &["Member", "Guest"];
const EXTERNAL_USER_STATES: &[&str] = &["PendingAcceptance", "Accepted"];

/// Maps one Graph object of the file's collection to a row. `links` learns package and policy
/// names from earlier collections and fills them in later ones when not expanded.
pub fn map_object(
    target: &FileTarget,
    o: &Map<String, Value>,
    links: &mut Links,
) -> Result<SnapshotRow, String> {
    let o = Obj(o);
    let table = target.collection.table();
    let date = target.snapshot;
    let mut r = RowBuilder::new(table);
    match target.collection {
        Collection::Users => {
            r.s("Id", Some(id(o)?))
                .s("DisplayName", o.text("displayName")?)
                .s("UserPrincipalName", o.text("userPrincipalName")?)
                .s("Mail", o.text("mail")?)
                .s("UserType", normalize(o.text("userType")?, USER_TYPES, true))
                .set("AccountEnabled", Cell::Bool(boolean(o, "accountEnabled")?))
                .s("Department", o.text("department")?)
                .s("JobTitle", o.text("jobTitle")?)
                .s("CompanyName", o.text("companyName")?)
                .s(
                    "ExternalUserState",
                    normalize(o.text("externalUserState")?, EXTERNAL_USER_STATES, true),
                )
                .set("CreatedDateTime", Cell::Time(time(o, "createdDateTime")?));
        }
        Collection::Groups => {
            let group_types = match o.get("groupTypes") {
                None | Some(Value::Null) => None,
                Some(Value::Array(items)) => Some(
                    items
                        .iter()
                        .map(|v| match v {
                            Value::String(s) => Ok(s.clone()),
                            other => Err(format!(
                                "`groupTypes` must hold strings, found {}",
                                kind(other)
                            )),
                        })
                        .collect::<Result<Vec<_>, _>>()?,
                ),
                Some(other) => {
                    return Err(format!(
                        "`groupTypes` must be an array, found {}",
                        kind(other)
                    ));
                }
            };
            r.s("Id", Some(id(o)?))
                .s("DisplayName", o.text("displayName")?)
                .s("Description", o.text("description")?)
                .s("Mail", o.text("mail")?)
                .set("MailEnabled", Cell::Bool(boolean(o, "mailEnabled")?))
                .set(
                    "SecurityEnabled",
                    Cell::Bool(boolean(o, "securityEnabled")?),
                )
                .set("GroupTypes", Cell::Strings(group_types))
                .set("CreatedDateTime", Cell::Time(time(o, "createdDateTime")?));
        }
        Collection::Members | Collection::TransitiveMembers => {
            let member = o.text("id")?.filter(|s| !s.trim().is_empty());
            let member = member.ok_or("missing `id` (the member's object id)")?;
            r.s("GroupId", target.parent_id.clone())
                .s("MemberId", Some(member))
                .s("MemberType", odata_type(o, DIRECTORY_OBJECTS)?)
                .s("MemberDisplayName", o.text("displayName")?)
                .set(
                    "Transitive",
                    Cell::Bool(Some(target.collection == Collection::TransitiveMembers)),
                );
        }
        Collection::Catalogs => {
            r.s("Id", Some(id(o)?))
                .s("DisplayName", o.text("displayName")?)
                .s("Description", o.text("description")?)
                .s("State", normalize(o.text("state")?, CATALOG_STATES, false))
                .set(
                    "IsExternallyVisible",
                    Cell::Bool(boolean(o, "isExternallyVisible")?),
                )
                .s(
                    "CatalogType",
                    normalize(o.text("catalogType")?, CATALOG_TYPES, false),
                )
                .set("CreatedDateTime", Cell::Time(time(o, "createdDateTime")?))
                .set("ModifiedDateTime", Cell::Time(time(o, "modifiedDateTime")?));
        }
        Collection::AccessPackages => {
            let package = id(o)?;
            let name = o.text("displayName")?;
            let catalog_id = match nested(o, "catalog", "id")? {
                Some(c) => Some(c),
                None => o.text("catalogId")?,
            };
            if let Some(n) = &name {
                links.packages.insert((date, package.clone()), n.clone());
            }
            for p in objects(o, "assignmentPolicies")?.unwrap_or_default() {
                if let Some(pid) = p.text("id")? {
                    links
                        .policies
                        .insert((date, pid), (p.text("displayName")?, Some(package.clone())));
                }
            }
            r.s("Id", Some(package))
                .s("DisplayName", name)
                .s("Description", o.text("description")?)
                .set("IsHidden", Cell::Bool(boolean(o, "isHidden")?))
                .s("CatalogId", catalog_id)
                .s("CatalogName", nested(o, "catalog", "displayName")?)
                .set("CreatedDateTime", Cell::Time(time(o, "createdDateTime")?))
                .set("ModifiedDateTime", Cell::Time(time(o, "modifiedDateTime")?));
        }
        Collection::AssignmentPolicies => {
            let policy = id(o)?;
            let name = o.text("displayName")?;
            let package = match nested(o, "accessPackage", "id")? {
                Some(p) => Some(p),
                None => o.text("accessPackageId")?,
            }
            .or_else(|| {
                links
                    .policies
                    .get(&(date, policy.clone()))
                    .and_then(|(_, p)| p.clone())
            });
            links
                .policies
                .insert((date, policy.clone()), (name.clone(), package.clone()));
            let targets = struct_rows(o, "specificAllowedTargets", |t| {
                Ok(vec![
                    odata_type(t, SUBJECT_SETS)?,
                    t.text("userId")?,
                    t.text("groupId")?,
                    t.text("connectedOrganizationId")?,
                    t.text("description")?,
                ])
            })?;
            let requestor = obj(o, "requestorSettings")?;
            let approval = obj(o, "requestApprovalSettings")?;
            let automatic = obj(o, "automaticRequestSettings")?;
            let expiration = obj(o, "expiration")?;
            let is_automatic = match automatic {
                None => Some(false),
                Some(a) => Some(boolean(a, "requestAccessForAllowedTargets")?.unwrap_or(true)),
            };
            r.s("Id", Some(policy))
                .s("AccessPackageId", package)
                .s("DisplayName", name)
                .s("Description", o.text("description")?)
                .s(
                    "AllowedTargetScope",
                    normalize(o.text("allowedTargetScope")?, TARGET_SCOPES, false),
                )
                .set("SpecificAllowedTargets", Cell::Structs(targets))
                .set(
                    "SelfAddEnabled",
                    Cell::Bool(match requestor {
                        Some(s) => boolean(s, "enableTargetsToSelfAddAccess")?,
                        None => None,
                    }),
                )
                .set(
                    "SelfRemoveEnabled",
                    Cell::Bool(match requestor {
                        Some(s) => boolean(s, "enableTargetsToSelfRemoveAccess")?,
                        None => None,
                    }),
                )
                .set(
                    "ApprovalRequired",
                    Cell::Bool(match approval {
                        Some(s) => boolean(s, "isApprovalRequiredForAdd")?,
                        None => None,
                    }),
                )
                .set("IsAutomatic", Cell::Bool(is_automatic))
                .s(
                    "ExpirationType",
                    normalize(
                        expiration.map(|e| e.text("type")).transpose()?.flatten(),
                        EXPIRATION_TYPES,
                        false,
                    ),
                )
                .s(
                    "ExpirationDuration",
                    expiration
                        .map(|e| e.text("duration"))
                        .transpose()?
                        .flatten(),
                )
                .set("CreatedDateTime", Cell::Time(time(o, "createdDateTime")?))
                .set("ModifiedDateTime", Cell::Time(time(o, "modifiedDateTime")?));
        }
        Collection::Assignments => {
            let package = obj(o, "accessPackage")?;
            let policy = obj(o, "assignmentPolicy")?;
            let package_id = match package {
                Some(p) => p.text("id")?,
                None => None,
            }
            .map_or_else(|| o.text("accessPackageId"), |p| Ok(Some(p)))?;
            let policy_id = match policy {
                Some(p) => p.text("id")?,
                None => None,
            }
            .map_or_else(|| o.text("assignmentPolicyId"), |p| Ok(Some(p)))?;
            let package_name = match package {
                Some(p) => p.text("displayName")?,
                None => None,
            }
            .or_else(|| {
                package_id
                    .as_ref()
                    .and_then(|p| links.packages.get(&(date, p.clone())).cloned())
            });
            let policy_name = match policy {
                Some(p) => p.text("displayName")?,
                None => None,
            }
            .or_else(|| {
                policy_id
                    .as_ref()
                    .and_then(|p| links.policies.get(&(date, p.clone())))
                    .and_then(|(n, _)| n.clone())
            });
            let schedule = obj(o, "schedule")?;
            let expiration = match schedule {
                Some(s) => obj(s, "expiration").map_err(|e| format!("`schedule`: {e}"))?,
                None => None,
            };
            let target = obj(o, "target")?;
            let org = match target {
                Some(t) => obj(t, "connectedOrganization").map_err(|e| format!("`target`: {e}"))?,
                None => None,
            };
            let t = |name: &str| -> Result<Option<String>, String> {
                match target {
                    Some(t) => t.text(name).map_err(|e| format!("`target`: {e}")),
                    None => Ok(None),
                }
            };
            r.s("Id", Some(id(o)?))
                .s("AccessPackageId", package_id)
                .s("AccessPackageName", package_name)
                .s("PolicyId", policy_id)
                .s("PolicyName", policy_name)
                .s(
                    "State",
                    normalize(o.text("state")?, ASSIGNMENT_STATES, false),
                )
                .s(
                    "Status",
                    normalize(o.text("status")?, ASSIGNMENT_STATUSES, true),
                )
                .set(
                    "StartDateTime",
                    Cell::Time(match schedule {
                        Some(s) => {
                            time(s, "startDateTime").map_err(|e| format!("`schedule`: {e}"))?
                        }
                        None => None,
                    }),
                )
                .set(
                    "EndDateTime",
                    Cell::Time(match expiration {
                        Some(e) => time(e, "endDateTime")
                            .map_err(|e| format!("`schedule.expiration`: {e}"))?,
                        None => None,
                    }),
                )
                .s(
                    "ExpirationType",
                    normalize(
                        expiration.map(|e| e.text("type")).transpose()?.flatten(),
                        EXPIRATION_TYPES,
                        false,
                    ),
                )
                .s(
                    "TargetId",
                    t("id")?.map_or_else(|| o.text("targetId"), |v| Ok(Some(v)))?,
                )
                .s("TargetObjectId", t("objectId")?)
                .s("TargetDisplayName", t("displayName")?)
                .s("TargetPrincipalName", t("principalName")?)
                .s("TargetEmail", t("email")?)
                .s(
                    "TargetSubjectType",
                    normalize(t("subjectType")?, SUBJECT_TYPES, false),
                )
                .s(
                    "ConnectedOrganizationId",
                    org.map(|c| c.text("id")).transpose()?.flatten(),
                )
                .s(
                    "ConnectedOrganizationName",
                    org.map(|c| c.text("displayName")).transpose()?.flatten(),
                );
        }
        Collection::ResourceRoleScopes => {
            let role = obj(o, "role")?;
            let scope = obj(o, "scope")?;
            let resource = match role {
                Some(r) => obj(r, "resource").map_err(|e| format!("`role`: {e}"))?,
                None => None,
            }
            // Graph also hangs the resource off the scope.
            .map_or_else(
                || match scope {
                    Some(s) => obj(s, "resource").map_err(|e| format!("`scope`: {e}")),
                    None => Ok(None),
                },
                |r| Ok(Some(r)),
            )?;
            let of = |x: Option<Obj>, what: &str, name: &str| -> Result<Option<String>, String> {
                match x {
                    Some(x) => x.text(name).map_err(|e| format!("`{what}`: {e}")),
                    None => Ok(None),
                }
            };
            r.s("Id", Some(id(o)?))
                .s("AccessPackageId", target.parent_id.clone())
                .s("RoleId", of(role, "role", "id")?)
                .s("RoleDisplayName", of(role, "role", "displayName")?)
                .s("RoleOriginId", of(role, "role", "originId")?)
                .s(
                    "RoleOriginSystem",
                    normalize(of(role, "role", "originSystem")?, ORIGIN_SYSTEMS, true),
                )
                .s("ResourceId", of(resource, "resource", "id")?)
                .s(
                    "ResourceDisplayName",
                    of(resource, "resource", "displayName")?,
                )
                .s("ResourceOriginId", of(resource, "resource", "originId")?)
                .s(
                    "ResourceOriginSystem",
                    normalize(
                        of(resource, "resource", "originSystem")?,
                        ORIGIN_SYSTEMS,
                        true,
                    ),
                )
                .s("ScopeId", of(scope, "scope", "id")?)
                .s("ScopeDisplayName", of(scope, "scope", "displayName")?)
                .s("ScopeOriginId", of(scope, "scope", "originId")?)
                .s(
                    "ScopeOriginSystem",
                    normalize(of(scope, "scope", "originSystem")?, ORIGIN_SYSTEMS, true),
                );
        }
        Collection::AssignmentRequests => {
            let package = obj(o, "accessPackage")?;
            let assignment = obj(o, "assignment")?;
            let requestor = obj(o, "requestor")?;
            let of = |x: Option<Obj>, what: &str, name: &str| -> Result<Option<String>, String> {
                match x {
                    Some(x) => x.text(name).map_err(|e| format!("`{what}`: {e}")),
                    None => Ok(None),
                }
            };
            let package_id = of(package, "accessPackage", "id")?
                .map_or_else(|| o.text("accessPackageId"), |v| Ok(Some(v)))?
                .map_or_else(
                    || match assignment {
                        Some(a) => nested(a, "accessPackage", "id").and_then(|p| {
                            p.map_or_else(|| a.text("accessPackageId"), |v| Ok(Some(v)))
                        }),
                        None => Ok(None),
                    },
                    |v| Ok(Some(v)),
                )?;
            let policy_id = match assignment {
                Some(a) => nested(a, "assignmentPolicy", "id")
                    .and_then(|p| p.map_or_else(|| a.text("assignmentPolicyId"), |v| Ok(Some(v))))
                    .map_err(|e| format!("`assignment`: {e}"))?,
                None => None,
            }
            .map_or_else(|| nested(o, "assignmentPolicy", "id"), |v| Ok(Some(v)))?;
            // The subject the request is for: the assignment's target when expanded, else the
            // requestor (who is the target of a self-request).
            let subject = match assignment {
                Some(a) => obj(a, "target").map_err(|e| format!("`assignment`: {e}"))?,
                None => None,
            }
            .or(requestor);
            let target_object = of(subject, "target", "objectId")?
                .map_or_else(|| of(assignment, "assignment", "targetId"), |v| Ok(Some(v)))?;
            let requestor_id = of(requestor, "requestor", "objectId")?
                .map_or_else(|| of(requestor, "requestor", "id"), |v| Ok(Some(v)))?;
            r.s("Id", Some(id(o)?))
                .s(
                    "RequestType",
                    normalize(o.text("requestType")?, REQUEST_TYPES, false),
                )
                .s("State", normalize(o.text("state")?, REQUEST_STATES, false))
                .s(
                    "Status",
                    normalize(o.text("status")?, ASSIGNMENT_STATUSES, true),
                )
                .set("CreatedDateTime", Cell::Time(time(o, "createdDateTime")?))
                .set(
                    "CompletedDateTime",
                    Cell::Time(time(o, "completedDateTime")?),
                )
                .s("AccessPackageId", package_id)
                .s("PolicyId", policy_id)
                .s("RequestorId", requestor_id)
                .s("TargetId", of(subject, "target", "id")?)
                .s("TargetObjectId", target_object)
                .s(
                    "TargetPrincipalName",
                    of(subject, "target", "principalName")?,
                )
                .s("Justification", o.text("justification")?);
        }
        Collection::ConnectedOrganizations => {
            let sources = struct_rows(o, "identitySources", |s| {
                Ok(vec![
                    odata_type(s, IDENTITY_SOURCES)?,
                    s.text("displayName")?,
                    s.text("tenantId")?,
                    s.text("domainName")?,
                    s.text("issuerUri")?,
                ])
            })?;
            let sponsors = |name: &str| {
                struct_rows(o, name, |s| {
                    Ok(vec![
                        s.text("id")?,
                        odata_type(s, DIRECTORY_OBJECTS)?,
                        s.text("displayName")?,
                    ])
                })
                .map_err(|e| format!("`{name}`: {e}"))
            };
            r.s("Id", Some(id(o)?))
                .s("DisplayName", o.text("displayName")?)
                .s("Description", o.text("description")?)
                .s("State", normalize(o.text("state")?, ORG_STATES, false))
                .set("IdentitySources", Cell::Structs(sources))
                .set(
                    "InternalSponsors",
                    Cell::Structs(sponsors("internalSponsors")?),
                )
                .set(
                    "ExternalSponsors",
                    Cell::Structs(sponsors("externalSponsors")?),
                )
                .set("CreatedDateTime", Cell::Time(time(o, "createdDateTime")?))
                .set("ModifiedDateTime", Cell::Time(time(o, "modifiedDateTime")?));
        }
    }
    let raw = serde_json::to_string(o.0).expect("JSON serializes");
    r.s("Raw", Some(raw));
    Ok(SnapshotRow {
        table,
        snapshot: date,
        cells: r.cells,
    })
}

/// `EntraUsers @ 2026-11-01T00:00:00Z`.
pub fn label(table: &str, snapshot: i64) -> String {
    let t = format_rfc3339_nanos(snapshot);
    let t = t.replace(".000000000Z", "Z");
    format!("{table} @ {t}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::AsArray;
    use std::path::PathBuf;

    const DAY: i64 = 1_793_491_200_000_000_000; // 2026-11-01T00:00:00Z

    fn target(c: Collection, parent: Option<&str>) -> FileTarget {
        FileTarget {
            collection: c,
            parent_id: parent.map(str::to_string),
            snapshot: DAY,
        }
    }

    fn map(c: Collection, json: &str) -> Result<SnapshotRow, String> {
        let v: Value = serde_json::from_str(json).unwrap();
        map_object(
            &target(c, Some("p1")),
            v.as_object().unwrap(),
            &mut Links::default(),
        )
    }

    fn cell<'a>(row: &'a SnapshotRow, column: &str) -> &'a Cell {
        let schema = snapshot_schema(row.table).unwrap();
        &row.cells[schema.index_of(column).unwrap() - 1]
    }

    fn s(v: &str) -> Cell {
        Cell::Str(Some(v.into()))
    }

    #[test]
    fn contexts() {
        let c = parse_context("https://graph.microsoft.com/v1.0/$metadata#identityGovernance/entitlementManagement/accessPackages('ap-1')/resourceRoleScopes(role(resource()),scope())").unwrap();
        assert_eq!(c.name, "resourceRoleScopes");
        assert_eq!(c.parent_key.as_deref(), Some("ap-1"));
        let c = parse_context("https://graph.microsoft.com/v1.0/$metadata#identityGovernance/entitlementManagement/accessPackages(catalog(),assignmentPolicies())").unwrap();
        assert_eq!(c.name, "accessPackages");
        assert_eq!(c.parent_key, None);
        assert_eq!(parse_context("x/$metadata#users").unwrap().name, "users");
        assert_eq!(
            parse_context("x/$metadata#users/$entity").unwrap().name,
            "users"
        );
        assert_eq!(
            odata_context(
                br#"{ "@odata.context" : "https:\/\/g\/v1.0\/$metadata#groups", "value": []}"#
            )
            .as_deref(),
            Some("https://g/v1.0/$metadata#groups")
        );
    }

    #[test]
    fn paths_and_detection() {
        let p = |s: &str| PathBuf::from(s);
        assert_eq!(
            path_collection(&p("snap/Users.2.json")),
            Some((Collection::Users, None))
        );
        assert_eq!(
            path_collection(&p("snap/groups/g1/transitiveMembers.ndjson.gz")),
            Some((Collection::TransitiveMembers, Some("g1".into())))
        );
        assert_eq!(path_collection(&p("snap/x/g1/members.json")), None);
        assert_eq!(
            path_collection(&p("s/accessPackages/ap/resourceRoleScopes.json")),
            Some((Collection::ResourceRoleScopes, Some("ap".into())))
        );
        assert_eq!(path_collection(&p("s/audit.json")), None);
        // Context first; an audit page is never a snapshot, whatever its name.
        assert!(looks_like_snapshot(
            &p("a.json"),
            br#"{"@odata.context":"https://graph.microsoft.com/v1.0/$metadata#identityGovernance/entitlementManagement/assignments(target())","value":["#
        ));
        assert!(!looks_like_snapshot(
            &p("users.json"),
            br#"{"@odata.context":"https://graph.microsoft.com/v1.0/$metadata#auditLogs/directoryAudits","value":[{"id":"x","activityDateTime":"2026"#
        ));
        assert!(looks_like_snapshot(
            &p("s/groups/g/members.json"),
            br#"{"@odata.context":"https://graph.microsoft.com/v1.0/$metadata#directoryObjects","value":["#
        ));
        assert!(!looks_like_snapshot(
            &p("s/other.json"),
            br#"{"@odata.context":"https://graph.microsoft.com/v1.0/$metadata#directoryObjects","value":["#
        ));
        assert!(looks_like_snapshot(&p("s/users.json"), br#"[{"id":"u"}]"#));
    }

    #[test]
    fn snapshot_dates() {
        assert_eq!(date_in_name("snapshot-2026-11-01"), Some(DAY));
        assert_eq!(
            date_in_name("em_2026-11-01T06-30-00Z"),
            Some(DAY + 6 * 3_600_000_000_000 + 30 * 60_000_000_000)
        );
        assert_eq!(date_in_name("2026-11-01T02:00:00+02:00"), Some(DAY));
        assert_eq!(date_in_name("2026-13-45"), None);
        assert_eq!(date_in_name("tmp.Xy12"), None);
        assert_eq!(parse_snapshot_date("2026-11-01").unwrap(), DAY);
        assert_eq!(parse_snapshot_date("2026-11-01T00:00:00Z").unwrap(), DAY);
        assert!(parse_snapshot_date("yesterday").is_err());
        let dir = PathBuf::from("/x/export/users.json");
        assert!(matches!(
            resolve_target(&dir, b"[]", None),
            Err(TargetError::NoDate(m)) if m.contains("--snapshot-date")
        ));
        let t = resolve_target(
            &PathBuf::from("/x/snap-2026-11-01/groups/g7/members.2.json"),
            br#"{"@odata.context":"https://graph.microsoft.com/v1.0/$metadata#directoryObjects"}"#,
            None,
        )
        .unwrap();
        assert_eq!(t, target(Collection::Members, Some("g7")));
        assert!(matches!(
            resolve_target(&PathBuf::from("/x/s/resourceRoleScopes.json"), b"[]", Some(DAY)),
            Err(TargetError::Unknown(m)) if m.contains("accessPackages/<id>/resourceRoleScopes")
        ));
    }

    #[test]
    fn enum_casing() {
        assert_eq!(
            normalize(Some("DELIVERED".into()), ASSIGNMENT_STATES, false).unwrap(),
            "delivered"
        );
        assert_eq!(
            normalize(Some("PartiallyDelivered".into()), ASSIGNMENT_STATES, false).unwrap(),
            "partiallyDelivered"
        );
        assert_eq!(
            normalize(Some("delivered".into()), ASSIGNMENT_STATUSES, true).unwrap(),
            "Delivered"
        );
        assert_eq!(
            normalize(Some("SomethingNew".into()), ASSIGNMENT_STATES, false).unwrap(),
            "somethingNew"
        );
        assert_eq!(
            normalize(Some("BRANDNEW".into()), ASSIGNMENT_STATUSES, true).unwrap(),
            "Brandnew"
        );
    }

    #[test]
    fn assignment_mapping() {
        let row = map(
            Collection::Assignments,
            r##"{"id":"as1","state":"DELIVERED","status":"delivered",
            "schedule":{"startDateTime":"2026-10-01T08:00:00Z","expiration":{"endDateTime":"2027-10-01T08:00:00.5Z","type":"AfterDateTime"}},
            "target":{"id":"s1","objectId":"u1","displayName":"Maya","principalName":"maya@f.example","email":"maya@f.example","subjectType":"User",
                "connectedOrganization":{"id":"co1","displayName":"Contoso"}},
            "accessPackage":{"id":"ap1","displayName":"Sales"},"assignmentPolicy":{"id":"po1","displayName":"Employees"}}"##,
        )
        .unwrap();
        assert_eq!(row.table, ss::ENTRA_ACCESS_PACKAGE_ASSIGNMENTS);
        assert_eq!(cell(&row, "State"), &s("delivered"));
        assert_eq!(cell(&row, "Status"), &s("Delivered"));
        assert_eq!(cell(&row, "ExpirationType"), &s("afterDateTime"));
        assert_eq!(cell(&row, "TargetSubjectType"), &s("user"));
        assert_eq!(cell(&row, "AccessPackageName"), &s("Sales"));
        assert_eq!(cell(&row, "PolicyId"), &s("po1"));
        assert_eq!(cell(&row, "ConnectedOrganizationName"), &s("Contoso"));
        assert_eq!(
            cell(&row, "EndDateTime"),
            &Cell::Time(Some(parse_timestamp("2027-10-01T08:00:00.5Z").unwrap()))
        );
        let batch = rows_to_batch(row.table, DAY, &[row.clone(), row]).unwrap();
        assert_eq!(batch.num_rows(), 2);
        let raw = batch.column_by_name("Raw").unwrap().as_string::<i32>();
        assert!(raw.value(0).starts_with("{\"id\":\"as1\""));
    }

    #[test]
    fn policy_mapping_with_targets_and_links() {
        let mut links = Links::default();
        let pkg: Value = serde_json::from_str(
            r#"{"id":"ap1","displayName":"Sales","catalog":{"id":"c1","displayName":"General"},"assignmentPolicies":[{"id":"po1","displayName":"Employees"}]}"#,
        )
        .unwrap();
        let row = map_object(
            &target(Collection::AccessPackages, None),
            pkg.as_object().unwrap(),
            &mut links,
        )
        .unwrap();
        assert_eq!(cell(&row, "CatalogName"), &s("General"));
        let pol: Value = serde_json::from_str(
            r##"{"id":"po1","displayName":"Employees","allowedTargetScope":"SPECIFICDIRECTORYUSERS",
            "specificAllowedTargets":[{"@odata.type":"#microsoft.graph.groupMembers","groupId":"g1","description":"Sales team"},
                                      {"@odata.type":"#microsoft.graph.singleUser","userId":"u2"}],
            "requestorSettings":{"enableTargetsToSelfAddAccess":true,"enableTargetsToSelfRemoveAccess":false},
            "requestApprovalSettings":{"isApprovalRequiredForAdd":true},
            "expiration":{"type":"afterDuration","duration":"P365D"}}"##,
        )
        .unwrap();
        let row = map_object(
            &target(Collection::AssignmentPolicies, None),
            pol.as_object().unwrap(),
            &mut links,
        )
        .unwrap();
        assert_eq!(
            cell(&row, "AccessPackageId"),
            &s("ap1"),
            "from the package's expansion"
        );
        assert_eq!(
            cell(&row, "AllowedTargetScope"),
            &s("specificDirectoryUsers")
        );
        assert_eq!(cell(&row, "IsAutomatic"), &Cell::Bool(Some(false)));
        assert_eq!(cell(&row, "ApprovalRequired"), &Cell::Bool(Some(true)));
        assert_eq!(
            cell(&row, "SpecificAllowedTargets"),
            &Cell::Structs(Some(vec![
                vec![
                    Some("groupMembers".into()),
                    None,
                    Some("g1".into()),
                    None,
                    Some("Sales team".into())
                ],
                vec![
                    Some("singleUser".into()),
                    Some("u2".into()),
                    None,
                    None,
                    None
                ],
            ]))
        );
        let batch = rows_to_batch(row.table, DAY, &[row]).unwrap();
        let list = batch
            .column_by_name("SpecificAllowedTargets")
            .unwrap()
            .as_list::<i32>();
        assert_eq!(list.value(0).len(), 2);
    }

    #[test]
    fn members_orgs_and_scopes() {
        let row = map(
            Collection::Members,
            r##"{"@odata.type":"#microsoft.graph.user","id":"u1","displayName":"Maya"}"##,
        )
        .unwrap();
        assert_eq!(cell(&row, "GroupId"), &s("p1"));
        assert_eq!(cell(&row, "MemberType"), &s("user"));
        assert_eq!(cell(&row, "Transitive"), &Cell::Bool(Some(false)));
        let row = map(
            Collection::ConnectedOrganizations,
            r##"{"id":"co1","state":"Configured","identitySources":[{"@odata.type":"#microsoft.graph.azureActiveDirectoryTenant","tenantId":"t1","displayName":"Contoso"}],
            "internalSponsors":[{"@odata.type":"#microsoft.graph.user","id":"u9","displayName":"Ann"}]}"##,
        )
        .unwrap();
        assert_eq!(cell(&row, "State"), &s("configured"));
        assert_eq!(
            cell(&row, "IdentitySources"),
            &Cell::Structs(Some(vec![vec![
                Some("azureActiveDirectoryTenant".into()),
                Some("Contoso".into()),
                Some("t1".into()),
                None,
                None
            ]]))
        );
        assert_eq!(cell(&row, "ExternalSponsors"), &Cell::Structs(None));
        let row = map(
            Collection::ResourceRoleScopes,
            r#"{"id":"rs1","role":{"id":"r1","displayName":"Member","originId":"Member_g1","originSystem":"aadgroup","resource":{"id":"res1","displayName":"Sales","originId":"g1","originSystem":"AadGroup"}},"scope":{"id":"sc1","originId":"g1","originSystem":"AadGroup"}}"#,
        )
        .unwrap();
        assert_eq!(cell(&row, "AccessPackageId"), &s("p1"));
        assert_eq!(cell(&row, "RoleOriginSystem"), &s("AadGroup"));
        assert_eq!(cell(&row, "ResourceDisplayName"), &s("Sales"));
    }

    #[test]
    fn refusals() {
        assert_eq!(
            map(Collection::Users, r#"{"displayName":"x"}"#).unwrap_err(),
            "missing `id`"
        );
        assert!(
            map(Collection::Users, r#"{"id":"u","accountEnabled":3}"#)
                .unwrap_err()
                .contains("`accountEnabled` must be a boolean")
        );
        assert!(
            map(Collection::Groups, r#"{"id":"g","groupTypes":"Unified"}"#)
                .unwrap_err()
                .contains("`groupTypes` must be an array")
        );
        assert!(
            map(
                Collection::Assignments,
                r#"{"id":"a","schedule":{"startDateTime":"soon"}}"#
            )
            .unwrap_err()
            .contains("startDateTime")
        );
        assert!(
            map(Collection::Users, r#"{"id":{"x":1}}"#)
                .unwrap_err()
                .contains("`id` must be a string")
        );
    }
}
