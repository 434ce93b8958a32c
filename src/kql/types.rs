//! KQL scalar types as the binder sees them, and how each maps to Arrow.
//!
//! `dynamic` has two representations: [`Ty::Dyn`] is a value whose Arrow shape is known (a
//! struct, a list, or a primitive inside the nested `AuditLogs` columns), so member access and
//! `mv-expand` compile to native struct/list operations; [`Ty::Json`] is a value held as JSON
//! text (from `parse_json` of a string, `dynamic(...)` literals, `bag_pack`, `make_bag`), handled
//! by the `kql_json_*` UDFs.

use arrow::datatypes::{DataType, TimeUnit};

#[derive(Clone, Debug, PartialEq)]
pub enum Ty {
    Bool,
    /// 32-bit integer (`int`).
    Int,
    /// 64-bit integer (`long`).
    Long,
    /// 64-bit float (`real`).
    Real,
    /// Never null in KQL: a missing string is `""`.
    String,
    /// `Timestamp(ns, UTC)`.
    Datetime,
    /// `Duration(ns)`.
    Timespan,
    /// Held as its text.
    Guid,
    /// `dynamic` with a known Arrow shape.
    Dyn(DataType),
    /// `dynamic` held as JSON text.
    Json,
    /// The type of an untyped `null` (or a missing dynamic property).
    Null,
}

impl Ty {
    /// The type of a table column of Arrow type `dt`.
    pub fn from_arrow(dt: &DataType) -> Ty {
        match dt {
            DataType::Utf8 | DataType::Utf8View | DataType::LargeUtf8 => Ty::String,
            DataType::Boolean => Ty::Bool,
            DataType::Int8 | DataType::Int16 | DataType::Int32 => Ty::Int,
            DataType::Int64 | DataType::UInt8 | DataType::UInt16 | DataType::UInt32 => Ty::Long,
            DataType::Float16 | DataType::Float32 | DataType::Float64 => Ty::Real,
            DataType::Timestamp(_, _) => Ty::Datetime,
            DataType::Duration(_) => Ty::Timespan,
            DataType::Null => Ty::Null,
            other => Ty::Dyn(other.clone()),
        }
    }

    /// The Arrow type a value of this type has in generated SQL.
    pub fn arrow(&self) -> DataType {
        match self {
            Ty::Bool => DataType::Boolean,
            Ty::Int => DataType::Int32,
            Ty::Long => DataType::Int64,
            Ty::Real => DataType::Float64,
            Ty::String | Ty::Guid | Ty::Json => DataType::Utf8,
            Ty::Datetime => DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into())),
            Ty::Timespan => DataType::Duration(TimeUnit::Nanosecond),
            Ty::Dyn(dt) => dt.clone(),
            Ty::Null => DataType::Null,
        }
    }

    /// The KQL type name (`getschema`, diagnostics).
    pub fn kql_name(&self) -> &'static str {
        match self {
            Ty::Bool => "bool",
            Ty::Int => "int",
            Ty::Long => "long",
            Ty::Real => "real",
            Ty::String => "string",
            Ty::Datetime => "datetime",
            Ty::Timespan => "timespan",
            Ty::Guid => "guid",
            // An untyped null (a missing property) is a dynamic null in KQL.
            Ty::Dyn(_) | Ty::Json | Ty::Null => "dynamic",
        }
    }

    pub fn is_dynamic(&self) -> bool {
        matches!(self, Ty::Dyn(_) | Ty::Json)
    }

    pub fn is_numeric(&self) -> bool {
        matches!(self, Ty::Int | Ty::Long | Ty::Real)
    }

    /// A string, or a dynamic value known to hold strings.
    pub fn is_stringish(&self) -> bool {
        matches!(self, Ty::String | Ty::Guid) || self.dyn_scalar() == Some(Ty::String)
    }

    /// For a dynamic value with a primitive Arrow shape, the scalar type it holds.
    pub fn dyn_scalar(&self) -> Option<Ty> {
        match self {
            Ty::Dyn(dt) => match Ty::from_arrow(dt) {
                Ty::Dyn(_) => None,
                t => Some(t),
            },
            _ => None,
        }
    }

    /// A list (array) shape: its item type.
    pub fn list_item(&self) -> Option<DataType> {
        match self {
            Ty::Dyn(DataType::List(f) | DataType::LargeList(f)) => Some(f.data_type().clone()),
            _ => None,
        }
    }

    /// The type of values of a `dynamic` column typed with `to typeof(T)`, or of a cast.
    pub fn from_type_name(t: crate::kql::ast::TypeName) -> Option<Ty> {
        use crate::kql::ast::TypeName as T;
        Some(match t {
            T::Bool => Ty::Bool,
            T::Int => Ty::Int,
            T::Long => Ty::Long,
            T::Real => Ty::Real,
            T::String => Ty::String,
            T::Datetime => Ty::Datetime,
            T::Timespan => Ty::Timespan,
            T::Guid => Ty::Guid,
            T::Dynamic => Ty::Json,
            T::Decimal => return None,
        })
    }
}
