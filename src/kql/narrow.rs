//! Nested-leaf narrowing: which fields of the tables' nested columns a query reads.
//!
//! `AuditLogs.TargetResources` is a list of structs whose `modifiedProperties` (a list of old
//! and new values) is most of its bytes; Access Package Activity reads only `id` and `type` of
//! it. DataFusion 55 reads only the Parquet leaves a table's *declared* type names when that type
//! is narrower than the file's (`datafusion_datasource_parquet::nested_schema_pruning`), so the
//! engine plans a compiled query against its tables re-declared with the narrowed types that
//! [`narrowed_schemas`] computes here.
//!
//! The analysis walks the IR from the result down, tracking for every column how its value is
//! used: [`Usage::Full`] (the value itself: output, comparison, function argument, grouping,
//! `distinct`, joins and unions), or [`Usage::Fields`] (only some fields, through `get_field`
//! chains, list indexing and `unnest`, which pass a list's element usage to the list). A column
//! is narrowed only when every use of it reaches it through fields; anything the analysis does
//! not understand is a full use, so the worst case is reading the whole column, as before.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Fields, Schema, SchemaRef};

use crate::kql::binder::Catalog;
use crate::kql::ir::{Expr, Lit, Rel, RelKind};

/// How a value is used.
#[derive(Clone, Debug, PartialEq)]
enum Usage {
    Full,
    /// Only these fields (of the struct, or of a list's struct elements).
    Fields(BTreeMap<String, Usage>),
}

impl Usage {
    fn merge(&mut self, other: Usage) {
        match (self, other) {
            (Usage::Full, _) => {}
            (me, Usage::Full) => *me = Usage::Full,
            (Usage::Fields(a), Usage::Fields(b)) => {
                for (k, v) in b {
                    match a.get_mut(&k) {
                        Some(u) => u.merge(v),
                        None => {
                            a.insert(k, v);
                        }
                    }
                }
            }
        }
    }

    fn field(name: &str, usage: Usage) -> Usage {
        Usage::Fields(BTreeMap::from([(name.to_string(), usage)]))
    }
}

type Needs = HashMap<String, Usage>;

fn need(needs: &mut Needs, col: &str, usage: Usage) {
    match needs.get_mut(col) {
        Some(u) => u.merge(usage),
        None => {
            needs.insert(col.to_string(), usage);
        }
    }
}

/// Per table read by `rels` (a query and the relations it materializes): its schema with nested
/// columns narrowed to the fields they read. Tables whose columns are all read in full are left out.
pub fn narrowed_schemas<'a>(
    rels: impl IntoIterator<Item = &'a Rel>,
    catalog: &Catalog,
) -> Vec<(String, SchemaRef)> {
    let mut scans: BTreeMap<String, Needs> = BTreeMap::new();
    for rel in rels {
        root(rel, &mut scans);
    }
    let mut out = Vec::new();
    for (table, needs) in scans {
        let Some(schema) = catalog.table(&table) else {
            continue;
        };
        let mut changed = false;
        let fields: Vec<Field> = schema
            .fields()
            .iter()
            .map(|f| {
                let narrowed = match needs.get(f.name()) {
                    Some(Usage::Fields(used)) => narrow_type(f.data_type(), used),
                    _ => None,
                };
                match narrowed {
                    Some(t) => {
                        changed = true;
                        f.as_ref().clone().with_data_type(t)
                    }
                    None => f.as_ref().clone(),
                }
            })
            .collect();
        if changed {
            out.push((
                table,
                Arc::new(Schema::new_with_metadata(fields, schema.metadata().clone())),
            ));
        }
    }
    out
}

/// `ty` keeping only the `used` fields (through list wrappers), or `None` when nothing is left
/// out. A struct keeps at least one field (its validity comes from its leaves).
fn narrow_type(ty: &DataType, used: &BTreeMap<String, Usage>) -> Option<DataType> {
    match ty {
        DataType::List(item) => {
            let t = narrow_type(item.data_type(), used)?;
            Some(DataType::List(Arc::new(
                item.as_ref().clone().with_data_type(t),
            )))
        }
        DataType::Struct(fields) => {
            let mut kept = Vec::new();
            let mut changed = false;
            for f in fields.iter() {
                match used.get(f.name()) {
                    None => changed = true,
                    Some(Usage::Full) => kept.push(f.as_ref().clone()),
                    Some(Usage::Fields(sub)) => match narrow_type(f.data_type(), sub) {
                        Some(t) => {
                            changed = true;
                            kept.push(f.as_ref().clone().with_data_type(t));
                        }
                        None => kept.push(f.as_ref().clone()),
                    },
                }
            }
            if kept.is_empty() {
                // No field is read (a list's length, a struct's presence): one leaf, a
                // primitive one if there is one, carries the structure.
                let leaf = fields
                    .iter()
                    .find(|f| !f.data_type().is_nested())
                    .or(fields.first())?;
                kept.push(leaf.as_ref().clone());
                changed = fields.len() > 1;
            }
            if !changed {
                return None;
            }
            Some(DataType::Struct(Fields::from(kept)))
        }
        _ => None,
    }
}

/// A relation whose every column is used in full (the result, a subquery).
fn root(rel: &Rel, scans: &mut BTreeMap<String, Needs>) {
    let needs = rel
        .columns
        .iter()
        .map(|c| (c.name.clone(), Usage::Full))
        .collect();
    walk(rel, needs, scans);
}

fn walk(rel: &Rel, mut needs: Needs, scans: &mut BTreeMap<String, Needs>) {
    for k in &rel.order {
        expr(&k.expr, Usage::Full, &mut needs, scans);
    }
    match &rel.kind {
        RelKind::Scan { table } => {
            let entry = scans.entry(table.clone()).or_default();
            for (col, usage) in needs {
                need(entry, &col, usage);
            }
        }
        RelKind::Values { rows } => {
            for e in rows.iter().flatten() {
                expr(e, Usage::Full, &mut Needs::new(), scans);
            }
        }
        RelKind::Series { start, stop, step } => {
            for e in [start, stop, step] {
                expr(e, Usage::Full, &mut Needs::new(), scans);
            }
        }
        RelKind::Project { input, exprs } => {
            let mut input_needs = Needs::new();
            for (c, e) in rel.columns.iter().zip(exprs) {
                match needs.remove(&c.name) {
                    Some(u) => expr(e, u, &mut input_needs, scans),
                    // Not read, but an `unnest` still sets the row count.
                    None if e.has_unnest() => expr(e, Usage::Full, &mut input_needs, scans),
                    None => {}
                }
            }
            walk(input, input_needs, scans);
        }
        RelKind::Filter { input, predicate } => {
            expr(predicate, Usage::Full, &mut needs, scans);
            walk(input, needs, scans);
        }
        RelKind::Sort { input, keys } => {
            for k in keys {
                expr(&k.expr, Usage::Full, &mut needs, scans);
            }
            walk(input, needs, scans);
        }
        RelKind::Limit { input, .. } => walk(input, needs, scans),
        RelKind::Distinct { input } | RelKind::Materialized { input } => root(input, scans),
        RelKind::Aggregate {
            input,
            keys,
            aggregates,
        } => {
            let mut input_needs = Needs::new();
            for e in keys {
                expr(e, Usage::Full, &mut input_needs, scans);
            }
            for (c, e) in rel.columns[keys.len()..].iter().zip(aggregates) {
                match e {
                    // `take_any` passes one row's value on: it is used as its output is (the
                    // columns a per-row `mv-apply` carries through its groups).
                    Expr::Agg {
                        name,
                        args,
                        filter: None,
                        order_by,
                        ..
                    } if name == "kql_take_any" && args.len() == 1 && order_by.is_empty() => {
                        if let Some(u) = needs.remove(&c.name) {
                            expr(&args[0], u, &mut input_needs, scans);
                        }
                    }
                    e => expr(e, Usage::Full, &mut input_needs, scans),
                }
            }
            walk(input, input_needs, scans);
        }
        RelKind::Join {
            left, right, on, ..
        } => {
            for (l, r) in on {
                expr(l, Usage::Full, &mut Needs::new(), scans);
                expr(r, Usage::Full, &mut Needs::new(), scans);
            }
            root(left, scans);
            root(right, scans);
        }
        RelKind::Union { inputs } => inputs.iter().for_each(|r| root(r, scans)),
    }
}

/// Records in `needs` how `e`, whose value is used as `usage`, uses its input columns.
fn expr(e: &Expr, usage: Usage, needs: &mut Needs, scans: &mut BTreeMap<String, Needs>) {
    match e {
        Expr::Col(name) => need(needs, name, usage),
        Expr::Field(inner, name) => expr(inner, Usage::field(name, usage), needs, scans),
        // A list's element usage is the list's (field names pass through list wrappers).
        Expr::Index(list, index) => {
            expr(list, usage, needs, scans);
            expr(index, Usage::Full, needs, scans);
        }
        Expr::Unnest(list) => expr(list, usage, needs, scans),
        // The identity barrier (`udf::barrier`) passes its argument through; so does
        // `kql_expandable` (`udf::expand`), whose result is its list argument's type.
        Expr::Call(name, args) if name == "kql_barrier" && args.len() == 1 => {
            expr(&args[0], usage, needs, scans)
        }
        // `kql_list_has(list, field, ..., value)` (`udf::list_has`) reads one leaf.
        Expr::Call(name, args) if name == "kql_list_has" && args.len() >= 3 => {
            let path = &args[1..args.len() - 1];
            expr(&args[0], leaf(path), needs, scans);
        }
        // `kql_list_filter(list, n, field_1..field_n, value, ...)` reads that leaf, and its
        // result (the list's own type) is used as the list.
        Expr::Call(name, args) if name == "kql_list_filter" && args.len() >= 4 => {
            let n = match &args[1] {
                Expr::Lit(Lit::Long(n), _) if *n >= 1 && (*n as usize) + 2 < args.len() => {
                    *n as usize
                }
                _ => 0,
            };
            // No valid count: `leaf(&[])` is a full use.
            let path = leaf(&args[2..2 + n]);
            let mut both = usage;
            both.merge(path);
            expr(&args[0], both, needs, scans);
        }
        // A list's length reads its structure only: no field of its elements.
        Expr::Call(name, args) if name == "cardinality" && args.len() == 1 => {
            expr(&args[0], Usage::Fields(BTreeMap::new()), needs, scans)
        }
        Expr::Call(name, args) if name == "kql_expandable" && args.len() == 2 => {
            expr(&args[0], usage, needs, scans);
            expr(&args[1], Usage::Full, needs, scans);
        }
        Expr::ScalarRel(r) => root(r, scans),
        Expr::InRel(a, r, _) => {
            expr(a, Usage::Full, needs, scans);
            root(r, scans);
        }
        other => {
            // Anything else uses every direct sub-expression in full.
            for child in children(other) {
                expr(child, Usage::Full, needs, scans);
            }
        }
    }
}

/// The usage of a list (or struct) read at one leaf: `path`'s names as string constants; a full
/// use when they are not constants.
fn leaf(path: &[Expr]) -> Usage {
    let names: Option<Vec<&str>> = path
        .iter()
        .map(|a| match a {
            Expr::Lit(Lit::Str(s), _) => Some(s.as_str()),
            _ => None,
        })
        .collect();
    match names {
        Some(names) => names
            .iter()
            .rev()
            .fold(Usage::Full, |u, name| Usage::field(name, u)),
        None => Usage::Full,
    }
}

/// The direct sub-expressions of `e` (not into subquery relations).
fn children(e: &Expr) -> Vec<&Expr> {
    match e {
        Expr::Col(_) | Expr::SideCol(..) | Expr::Lit(..) | Expr::ScalarRel(_) => vec![],
        Expr::Call(_, args) => args.iter().collect(),
        Expr::Agg {
            args,
            filter,
            order_by,
            ..
        } => args
            .iter()
            .chain(filter.as_deref())
            .chain(order_by.iter().map(|k| &k.expr))
            .collect(),
        Expr::Window {
            args,
            partition_by,
            order_by,
            ..
        } => args
            .iter()
            .chain(partition_by)
            .chain(order_by.iter().map(|k| &k.expr))
            .collect(),
        Expr::Unnest(a) | Expr::Not(a) | Expr::Neg(a) | Expr::IsNull(a, _) => vec![a],
        Expr::Cast(a, ..) | Expr::ArrowCast(a, _) | Expr::Field(a, _) | Expr::InRel(a, ..) => {
            vec![a]
        }
        Expr::Binary(_, a, b) | Expr::IsDistinct(a, b, _) | Expr::Index(a, b) => vec![a, b],
        Expr::Case(whens, otherwise) => whens
            .iter()
            .flat_map(|(c, v)| [c, v])
            .chain(otherwise.as_deref())
            .collect(),
        Expr::InList(a, list, _) => std::iter::once(a.as_ref()).chain(list).collect(),
        Expr::Between(a, b, c, _) => vec![a, b, c],
    }
}
