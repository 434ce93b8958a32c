//! Shared machinery of the KQL UDFs: one generic [`KqlScalar`] (name, parameter kinds, fixed return
//! type, evaluation function), argument coercion to exact types, row access over scalar or array
//! arguments, and memoisation of per-pattern work (regexes, format strings).

use std::collections::HashMap;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, LazyLock, Mutex};

use arrow::array::{Array, ArrayRef, AsArray, PrimitiveArray, StringArray};
use arrow::datatypes::{
    ArrowPrimitiveType, DataType, DurationNanosecondType, Field, FieldRef, Int64Type, TimeUnit,
    TimestampNanosecondType,
};
use datafusion::common::{
    Result, ScalarValue, exec_datafusion_err, exec_err, plan_datafusion_err, plan_err,
};
use datafusion::logical_expr::{
    ColumnarValue, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature,
    Volatility,
};
use regex::Regex;

/// The timezone of every KQL `datetime`.
pub(super) const UTC: &str = "UTC";

/// `Timestamp(Nanosecond, "UTC")`: KQL `datetime`.
pub(super) fn ts_type() -> DataType {
    DataType::Timestamp(TimeUnit::Nanosecond, Some(UTC.into()))
}

/// `Duration(Nanosecond)`: KQL `timespan`.
pub(super) fn dur_type() -> DataType {
    DataType::Duration(TimeUnit::Nanosecond)
}

/// `List<Utf8>` with a nullable `item` field.
pub(super) fn str_list_type() -> DataType {
    DataType::List(Arc::new(Field::new_list_field(DataType::Utf8, true)))
}

/// What a parameter accepts; every kind but [`Kind::Any`] is cast to one exact type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    /// Any string type (or NULL) → `Utf8`.
    Str,
    /// Any integer type (or NULL) → `Int64`.
    Int,
    /// Any numeric type (or NULL) → `Float64`.
    Float,
    /// Any timestamp or date (or NULL) → `Timestamp(ns, UTC)`.
    Ts,
    /// Any duration (or NULL) → `Duration(ns)`.
    Dur,
    /// Any type, passed unchanged.
    Any,
}

impl Kind {
    fn target(self, t: &DataType) -> Option<DataType> {
        use DataType::*;
        let ok = match self {
            Kind::Str => match t {
                Null | Utf8 | Utf8View | LargeUtf8 => true,
                Dictionary(_, v) => matches!(**v, Utf8 | Utf8View | LargeUtf8),
                _ => false,
            },
            Kind::Int => t.is_null() || t.is_integer(),
            Kind::Float => t.is_null() || t.is_numeric(),
            Kind::Ts => matches!(t, Null | Timestamp(_, _) | Date32 | Date64),
            Kind::Dur => matches!(t, Null | Duration(_)),
            Kind::Any => return Some(t.clone()),
        };
        ok.then(|| match self {
            Kind::Str => Utf8,
            Kind::Int => Int64,
            Kind::Float => Float64,
            Kind::Ts => ts_type(),
            Kind::Dur => dur_type(),
            Kind::Any => unreachable!(),
        })
    }

    fn describe(self) -> &'static str {
        match self {
            Kind::Str => "string",
            Kind::Int => "integer",
            Kind::Float => "number",
            Kind::Ts => "timestamp",
            Kind::Dur => "duration",
            Kind::Any => "any",
        }
    }
}

/// The parameter list of a function.
#[derive(Debug, Clone, Copy)]
pub(super) enum Params {
    /// Exactly these parameters.
    Fixed(&'static [Kind]),
    /// Any number of repetitions of this group (zero included): `[Str, Str]` = key/value pairs.
    Repeat(&'static [Kind]),
}

/// Coerces `types` to the exact parameter types of `params`, or a plan error naming the function.
pub(super) fn coerce(name: &str, params: Params, types: &[DataType]) -> Result<Vec<DataType>> {
    let kinds: Vec<Kind> = match params {
        Params::Fixed(kinds) => {
            if kinds.len() != types.len() {
                return plan_err!(
                    "{name} takes {} argument(s), got {}",
                    kinds.len(),
                    types.len()
                );
            }
            kinds.to_vec()
        }
        Params::Repeat(group) => {
            if !types.len().is_multiple_of(group.len()) {
                return plan_err!(
                    "{name} takes a multiple of {} arguments, got {}",
                    group.len(),
                    types.len()
                );
            }
            group.iter().copied().cycle().take(types.len()).collect()
        }
    };
    kinds
        .iter()
        .zip(types)
        .enumerate()
        .map(|(i, (k, t))| {
            k.target(t).ok_or_else(|| {
                plan_datafusion_err!(
                    "{name}: argument {} must be a {}, got {t}",
                    i + 1,
                    k.describe()
                )
            })
        })
        .collect()
}

/// How a [`KqlScalar`] computes its result: from the (coerced) arguments, one output row per
/// [`Args::rows`].
pub(super) type Eval = fn(&Args) -> Result<ArrayRef>;

/// A KQL scalar function: fixed parameter kinds, fixed return type, a row-wise evaluation.
pub(super) struct KqlScalar {
    name: &'static str,
    params: Params,
    ret: DataType,
    nullable: bool,
    signature: Signature,
    eval: Eval,
}

impl KqlScalar {
    /// A function whose result may be null.
    pub(super) fn udf(name: &'static str, params: Params, ret: DataType, eval: Eval) -> ScalarUDF {
        Self::build(name, params, ret, true, eval)
    }

    /// A function whose result is never null (`tostring` and friends).
    pub(super) fn non_null(
        name: &'static str,
        params: Params,
        ret: DataType,
        eval: Eval,
    ) -> ScalarUDF {
        Self::build(name, params, ret, false, eval)
    }

    fn build(
        name: &'static str,
        params: Params,
        ret: DataType,
        nullable: bool,
        eval: Eval,
    ) -> ScalarUDF {
        ScalarUDF::new_from_impl(Self {
            name,
            params,
            ret,
            nullable,
            signature: Signature::user_defined(Volatility::Immutable),
            eval,
        })
    }
}

impl fmt::Debug for KqlScalar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KqlScalar")
            .field("name", &self.name)
            .field("ret", &self.ret)
            .finish()
    }
}

// Names are unique in the registry: they identify the function.
impl PartialEq for KqlScalar {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

impl Eq for KqlScalar {}

impl Hash for KqlScalar {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.name.hash(state);
    }
}

impl ScalarUDFImpl for KqlScalar {
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

    fn return_field_from_args(&self, _args: ReturnFieldArgs) -> Result<FieldRef> {
        Ok(Arc::new(Field::new(
            self.name,
            self.ret.clone(),
            self.nullable,
        )))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let all_scalar = args
            .args
            .iter()
            .all(|a| matches!(a, ColumnarValue::Scalar(_)));
        let rows = if all_scalar { 1 } else { args.number_rows };
        let mut cols = Vec::with_capacity(args.args.len());
        let mut scalar = Vec::with_capacity(args.args.len());
        for a in &args.args {
            match a {
                ColumnarValue::Array(arr) => {
                    cols.push(Arc::clone(arr));
                    scalar.push(false);
                }
                ColumnarValue::Scalar(s) => {
                    cols.push(s.to_array_of_size(1)?);
                    scalar.push(true);
                }
            }
        }
        let out = (self.eval)(&Args { cols, scalar, rows })?;
        if out.len() != rows || out.data_type() != &self.ret {
            return exec_err!(
                "{}: internal error, produced {} rows of {} for {rows} rows of {}",
                self.name,
                out.len(),
                out.data_type(),
                self.ret
            );
        }
        if all_scalar {
            Ok(ColumnarValue::Scalar(ScalarValue::try_from_array(&out, 0)?))
        } else {
            Ok(ColumnarValue::Array(out))
        }
    }
}

/// The coerced arguments of one invocation: each an array, or a one-row array standing for a
/// scalar repeated on every row.
pub(super) struct Args {
    cols: Vec<ArrayRef>,
    scalar: Vec<bool>,
    rows: usize,
}

impl Args {
    /// Number of output rows (1 when every argument is a scalar).
    pub(super) fn rows(&self) -> usize {
        self.rows
    }

    /// Number of arguments.
    pub(super) fn len(&self) -> usize {
        self.cols.len()
    }

    /// Argument `k` as a string column (a [`Kind::Str`] parameter).
    pub(super) fn str(&self, k: usize) -> Result<StrArg<'_>> {
        let arr = self.cols[k]
            .as_string_opt::<i32>()
            .ok_or_else(|| exec_datafusion_err!("argument {} is not Utf8", k + 1))?;
        Ok(StrArg {
            arr,
            scalar: self.scalar[k],
        })
    }

    /// Argument `k` as an `Int64` column.
    pub(super) fn i64(&self, k: usize) -> Result<PrimArg<'_, Int64Type>> {
        self.prim(k)
    }

    /// Argument `k` as nanoseconds since the epoch (a [`Kind::Ts`] parameter).
    pub(super) fn ts(&self, k: usize) -> Result<PrimArg<'_, TimestampNanosecondType>> {
        self.prim(k)
    }

    /// Argument `k` as nanoseconds (a [`Kind::Dur`] parameter).
    pub(super) fn dur(&self, k: usize) -> Result<PrimArg<'_, DurationNanosecondType>> {
        self.prim(k)
    }

    /// Argument `k` as it came (a [`Kind::Any`] parameter), with the row index mapping.
    pub(super) fn any(&self, k: usize) -> AnyArg<'_> {
        AnyArg {
            arr: &self.cols[k],
            scalar: self.scalar[k],
        }
    }

    fn prim<T: ArrowPrimitiveType>(&self, k: usize) -> Result<PrimArg<'_, T>> {
        let arr = self.cols[k].as_primitive_opt::<T>().ok_or_else(|| {
            exec_datafusion_err!(
                "argument {} is {}, not {}",
                k + 1,
                self.cols[k].data_type(),
                T::DATA_TYPE
            )
        })?;
        Ok(PrimArg {
            arr,
            scalar: self.scalar[k],
        })
    }
}

/// A string argument, read row by row.
#[derive(Clone, Copy)]
pub(super) struct StrArg<'a> {
    arr: &'a StringArray,
    scalar: bool,
}

impl<'a> StrArg<'a> {
    /// The value on row `i` (null → `None`).
    pub(super) fn get(&self, i: usize) -> Option<&'a str> {
        let j = if self.scalar { 0 } else { i };
        self.arr.is_valid(j).then(|| self.arr.value(j))
    }
}

/// A primitive argument, read row by row.
pub(super) struct PrimArg<'a, T: ArrowPrimitiveType> {
    arr: &'a PrimitiveArray<T>,
    scalar: bool,
}

impl<T: ArrowPrimitiveType> PrimArg<'_, T> {
    /// The value on row `i` (null → `None`).
    pub(super) fn get(&self, i: usize) -> Option<T::Native> {
        let j = if self.scalar { 0 } else { i };
        self.arr.is_valid(j).then(|| self.arr.value(j))
    }
}

/// An argument of any type: the array and the row index to read for output row `i`.
pub(super) struct AnyArg<'a> {
    pub(super) arr: &'a ArrayRef,
    scalar: bool,
}

impl AnyArg<'_> {
    /// Index into [`AnyArg::arr`] for output row `i`.
    pub(super) fn index(&self, i: usize) -> usize {
        if self.scalar { 0 } else { i }
    }
}

/// Per-invocation memo of work derived from a pattern argument (a compiled regex, a parsed format):
/// done once per distinct value, with a fast path for the same value on consecutive rows (a scalar
/// pattern).
pub(super) struct Memo<'a, T> {
    last: Option<(&'a str, Arc<T>)>,
    map: HashMap<&'a str, Arc<T>>,
}

impl<'a, T> Memo<'a, T> {
    pub(super) fn new() -> Self {
        Self {
            last: None,
            map: HashMap::new(),
        }
    }

    /// The value for `key`, computed by `make` the first time.
    pub(super) fn get(
        &mut self,
        key: &'a str,
        make: impl FnOnce(&str) -> Result<T>,
    ) -> Result<Arc<T>> {
        if let Some((k, v)) = &self.last
            && *k == key
        {
            return Ok(Arc::clone(v));
        }
        let v = match self.map.get(key) {
            Some(v) => Arc::clone(v),
            None => {
                let v = Arc::new(make(key)?);
                self.map.insert(key, Arc::clone(&v));
                v
            }
        };
        self.last = Some((key, Arc::clone(&v)));
        Ok(v)
    }
}

/// Compiled regexes shared by every invocation (bounded: cleared when it grows past 1024).
static REGEXES: LazyLock<Mutex<HashMap<String, Arc<Regex>>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

/// `pattern` compiled (cached across batches), or an execution error naming the function.
pub(super) fn regex(func: &str, pattern: &str) -> Result<Arc<Regex>> {
    let mut cache = REGEXES.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(r) = cache.get(pattern) {
        return Ok(Arc::clone(r));
    }
    let r = Arc::new(
        Regex::new(pattern)
            .map_err(|e| exec_datafusion_err!("{func}: invalid regex {pattern:?}: {e}"))?,
    );
    if cache.len() >= 1024 {
        cache.clear();
    }
    cache.insert(pattern.to_string(), Arc::clone(&r));
    Ok(r)
}
