//! Shape operations on arrays of records, after n8n's data nodes and Miller's verbs: filter,
//! sort, limit, pick/omit/rename/set, flatten/unflatten, split-out, aggregate, dedupe, join,
//! compare, pivot/unpivot and fill-down.
//!
//! Fields are named by dot paths (`address.city`, `items.0.sku`). Values order as jq orders
//! them: null < false < true < numbers < strings < arrays < objects. Filter and computed fields
//! are Jinja expressions (minijinja) with the record's fields as variables, run with fuel so one
//! expression cannot run away, and a deadline over the whole step.

use std::cmp::Ordering;
use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use minijinja::{Environment, ErrorKind, UndefinedBehavior};
use serde_json::{Map, Number, Value};

use super::formats::cell_text;
use super::{DataError, Result};

/// Most records one operation may produce (joins and unpivots multiply).
pub const MAX_RECORDS: usize = 1_000_000;
/// Instructions one expression evaluation may spend.
const EXPRESSION_FUEL: u64 = 100_000;
/// Longest one expression step may run over all records.
const STEP_DEADLINE: Duration = Duration::from_secs(10);

/// Records: every element of the input must be an object.
pub type Records = Vec<Map<String, Value>>;

/// Takes the records out of a JSON value (an array of objects, or one object as one record).
pub fn records_of(value: Value, field: &str) -> Result<Records> {
    let items = match value {
        Value::Array(items) => items,
        Value::Object(record) => return Ok(vec![record]),
        other => {
            return Err(invalid(
                field,
                format!("must be an array of objects, not {}", kind(&other)),
            ));
        }
    };
    items
        .into_iter()
        .enumerate()
        .map(|(i, item)| match item {
            Value::Object(record) => Ok(record),
            other => Err(invalid(
                &format!("{field}[{i}]"),
                format!("must be an object, not {}", kind(&other)),
            )),
        })
        .collect()
}

fn invalid(field: &str, message: impl Into<String>) -> DataError {
    DataError::Invalid {
        field: field.to_owned(),
        message: message.into(),
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

// ---------------------------------------------------------------------------------------------
// Paths

/// The value at a dot path; a numeric segment also indexes arrays. A field whose own name
/// contains the separator is found too (`"a.b"` as one key wins over `a` → `b`).
pub fn get<'a>(record: &'a Map<String, Value>, path: &str) -> Option<&'a Value> {
    if let Some(value) = record.get(path) {
        return Some(value);
    }
    let mut segments = path.split('.');
    let mut current = record.get(segments.next()?)?;
    for segment in segments {
        current = match current {
            Value::Object(map) => map.get(segment)?,
            Value::Array(items) => items.get(segment.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(current)
}

/// Sets the value at a dot path, creating objects on the way.
pub fn set(record: &mut Map<String, Value>, path: &str, value: Value) {
    if record.contains_key(path) || !path.contains('.') {
        record.insert(path.to_owned(), value);
        return;
    }
    let mut segments: Vec<&str> = path.split('.').collect();
    let last = segments.pop().unwrap_or(path);
    let mut current = record;
    for segment in segments {
        let slot = current
            .entry(segment.to_owned())
            .or_insert_with(|| Value::Object(Map::new()));
        if !slot.is_object() {
            *slot = Value::Object(Map::new());
        }
        let Value::Object(next) = slot else {
            return;
        };
        current = next;
    }
    current.insert(last.to_owned(), value);
}

/// Removes the value at a dot path, keeping the order of what stays.
pub fn remove(record: &mut Map<String, Value>, path: &str) -> Option<Value> {
    if record.contains_key(path) {
        return record.shift_remove(path);
    }
    let (parent, last) = path.rsplit_once('.')?;
    let mut current = record;
    for segment in parent.split('.') {
        current = current.get_mut(segment)?.as_object_mut()?;
    }
    current.shift_remove(last)
}

// ---------------------------------------------------------------------------------------------
// Ordering and identity

/// jq's total order over JSON values.
pub fn compare(a: &Value, b: &Value) -> Ordering {
    fn rank(value: &Value) -> u8 {
        match value {
            Value::Null => 0,
            Value::Bool(false) => 1,
            Value::Bool(true) => 2,
            Value::Number(_) => 3,
            Value::String(_) => 4,
            Value::Array(_) => 5,
            Value::Object(_) => 6,
        }
    }
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => number_order(x, y),
        (Value::String(x), Value::String(y)) => x.cmp(y),
        (Value::Array(x), Value::Array(y)) => x
            .iter()
            .zip(y)
            .map(|(a, b)| compare(a, b))
            .find(|o| o.is_ne())
            .unwrap_or_else(|| x.len().cmp(&y.len())),
        (Value::Object(x), Value::Object(y)) => {
            let mut x_keys: Vec<&String> = x.keys().collect();
            let mut y_keys: Vec<&String> = y.keys().collect();
            x_keys.sort();
            y_keys.sort();
            x_keys.cmp(&y_keys).then_with(|| {
                x_keys
                    .iter()
                    .map(|k| compare(&x[k.as_str()], &y[k.as_str()]))
                    .find(|o| o.is_ne())
                    .unwrap_or(Ordering::Equal)
            })
        }
        _ => rank(a).cmp(&rank(b)),
    }
}

fn number_order(x: &Number, y: &Number) -> Ordering {
    if let (Some(a), Some(b)) = (x.as_i64(), y.as_i64()) {
        return a.cmp(&b);
    }
    let a = x.as_f64().unwrap_or(f64::NAN);
    let b = y.as_f64().unwrap_or(f64::NAN);
    a.total_cmp(&b)
}

/// A hashable identity for the values of `fields` (missing and null are the same), written
/// without copying the values.
fn key_of(record: &Map<String, Value>, fields: &[String]) -> String {
    let mut out = String::from("[");
    for (i, field) in fields.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_canonical(get(record, field).unwrap_or(&Value::Null), &mut out);
    }
    out.push(']');
    out
}

/// JSON text that is equal for equal values (object keys sorted, `1` and `1.0` alike).
fn canonical(value: &Value) -> String {
    let mut out = String::new();
    write_canonical(value, &mut out);
    out
}

/// A whole record's identity, as [`canonical`] of the record, without copying it.
fn canonical_record(record: &Map<String, Value>) -> String {
    let mut out = String::new();
    write_map(record, &mut out);
    out
}

fn write_map(map: &Map<String, Value>, out: &mut String) {
    let mut keys: Vec<&String> = map.keys().collect();
    keys.sort();
    out.push('{');
    for (i, key) in keys.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&Value::String(key.clone()).to_string());
        out.push(':');
        write_canonical(&map[key.as_str()], out);
    }
    out.push('}');
}

fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Number(n) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => out.push_str(&i.to_string()),
            (None, Some(f)) if f.fract() == 0.0 && f.abs() < 9.0e15 => {
                out.push_str(&format!("{f:.0}"))
            }
            _ => out.push_str(&n.to_string()),
        },
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => write_map(map, out),
        other => out.push_str(&other.to_string()),
    }
}

fn equal(a: &Value, b: &Value) -> bool {
    compare(a, b).is_eq()
}

// ---------------------------------------------------------------------------------------------
// Expressions

/// Jinja expressions evaluated against records.
pub struct Expressions {
    environment: Environment<'static>,
}

impl Default for Expressions {
    fn default() -> Self {
        let mut environment = Environment::new();
        environment.set_fuel(Some(EXPRESSION_FUEL));
        environment.set_undefined_behavior(UndefinedBehavior::Lenient);
        environment
            .set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
        Self { environment }
    }
}

impl Expressions {
    /// Evaluates `source` for every record: the record's fields are variables, `record` is the
    /// whole record (for names that are not identifiers) and `index` its position.
    /// `field` names the expression in errors.
    fn each(
        &self,
        source: &str,
        field: &str,
        records: &Records,
        mut visit: impl FnMut(usize, minijinja::Value) -> Result<()>,
    ) -> Result<()> {
        let expression = self
            .environment
            .compile_expression(source)
            .map_err(|e| expression_error(field, &e))?;
        let started = Instant::now();
        for (index, record) in records.iter().enumerate() {
            if index % 1024 == 1023 && started.elapsed() > STEP_DEADLINE {
                return Err(DataError::Timeout(format!(
                    "{field} ran past {} s",
                    STEP_DEADLINE.as_secs()
                )));
            }
            let fields = minijinja::Value::from(minijinja::value::Serde(record));
            let context = minijinja::value::merge_maps([
                minijinja::context! { record => fields.clone(), index => index },
                fields,
            ]);
            let value = expression
                .eval(context)
                .map_err(|e| expression_error(&format!("{field} (record {index})"), &e))?;
            visit(index, value)?;
        }
        Ok(())
    }
}

fn expression_error(field: &str, error: &minijinja::Error) -> DataError {
    match error.kind() {
        ErrorKind::OutOfFuel => {
            DataError::TooComplex(format!("{field}: the expression ran too long"))
        }
        _ => invalid(
            field,
            error
                .detail()
                .map_or_else(|| error.kind().to_string(), str::to_owned),
        ),
    }
}

fn to_json(value: &minijinja::Value) -> Value {
    if value.is_undefined() {
        return Value::Null;
    }
    serde_json::to_value(value).unwrap_or(Value::Null)
}

// ---------------------------------------------------------------------------------------------
// Operations

/// Keeps the records for which `condition` is true (Jinja truthiness).
pub fn filter(
    expressions: &Expressions,
    records: Records,
    condition: &str,
    field: &str,
) -> Result<Records> {
    let mut keep = vec![false; records.len()];
    expressions.each(condition, field, &records, |i, value| {
        keep[i] = value.is_true();
        Ok(())
    })?;
    Ok(records
        .into_iter()
        .zip(keep)
        .filter_map(|(record, keep)| keep.then_some(record))
        .collect())
}

/// Sets computed fields: each expression sees the record as it was before this step.
pub fn compute(
    expressions: &Expressions,
    mut records: Records,
    fields: &[(String, String)],
    field: &str,
) -> Result<Records> {
    let mut computed: Vec<Vec<Value>> = vec![Vec::with_capacity(fields.len()); records.len()];
    for (name, source) in fields {
        expressions.each(source, &format!("{field}.{name}"), &records, |i, value| {
            computed[i].push(to_json(&value));
            Ok(())
        })?;
    }
    for (record, values) in records.iter_mut().zip(computed) {
        for ((name, _), value) in fields.iter().zip(values) {
            set(record, name, value);
        }
    }
    Ok(records)
}

/// Sets fields to fixed values.
pub fn assign(mut records: Records, values: &[(String, Value)]) -> Records {
    for record in &mut records {
        for (name, value) in values {
            set(record, name, value.clone());
        }
    }
    records
}

/// A sort key.
#[derive(Debug, Clone)]
pub struct SortKey {
    pub field: String,
    pub descending: bool,
}

/// Stable sort by several keys; missing fields sort as null.
pub fn sort(mut records: Records, keys: &[SortKey]) -> Records {
    records.sort_by(|a, b| {
        keys.iter()
            .map(|key| {
                let order = compare(
                    get(a, &key.field).unwrap_or(&Value::Null),
                    get(b, &key.field).unwrap_or(&Value::Null),
                );
                if key.descending {
                    order.reverse()
                } else {
                    order
                }
            })
            .find(|o| o.is_ne())
            .unwrap_or(Ordering::Equal)
    });
    records
}

/// `limit` records after skipping `offset`.
pub fn limit(records: Records, offset: usize, limit: Option<usize>) -> Records {
    records
        .into_iter()
        .skip(offset)
        .take(limit.unwrap_or(usize::MAX))
        .collect()
}

/// Only the named fields, in the order named (nested paths stay nested).
pub fn pick(records: Records, fields: &[String]) -> Records {
    records
        .into_iter()
        .map(|record| {
            let mut picked = Map::new();
            for field in fields {
                // A flat key (`"item.sku"`, as flatten writes) stays flat; a path stays nested.
                if let Some(value) = record.get(field.as_str()) {
                    picked.insert(field.clone(), value.clone());
                } else if let Some(value) = get(&record, field) {
                    set(&mut picked, field, value.clone());
                }
            }
            picked
        })
        .collect()
}

/// Everything but the named fields.
pub fn omit(mut records: Records, fields: &[String]) -> Records {
    for record in &mut records {
        for field in fields {
            remove(record, field);
        }
    }
    records
}

/// Renames fields; a top-level rename keeps the field's position.
pub fn rename(records: Records, renames: &[(String, String)]) -> Records {
    records
        .into_iter()
        .map(|mut record| {
            for (from, to) in renames {
                if from == to {
                    continue;
                }
                if record.contains_key(from.as_str()) && !to.contains('.') {
                    record = record
                        .into_iter()
                        .filter(|(k, _)| k != to)
                        .map(|(k, v)| if k == *from { (to.clone(), v) } else { (k, v) })
                        .collect();
                } else if let Some(value) = remove(&mut record, from) {
                    set(&mut record, to, value);
                }
            }
            record
        })
        .collect()
}

/// Nested objects and arrays become dot-path fields (`{"a": {"b": 1}}` → `{"a.b": 1}`); empty
/// objects and arrays stay as values.
pub fn flatten(records: Records, separator: &str) -> Records {
    fn walk(prefix: &str, value: Value, separator: &str, out: &mut Map<String, Value>) {
        let join = |key: &str| {
            if prefix.is_empty() {
                key.to_owned()
            } else {
                format!("{prefix}{separator}{key}")
            }
        };
        match value {
            Value::Object(map) if !map.is_empty() && !prefix.is_empty() => {
                for (key, value) in map {
                    walk(&join(&key), value, separator, out);
                }
            }
            Value::Array(items) if !items.is_empty() => {
                for (i, value) in items.into_iter().enumerate() {
                    walk(&join(&i.to_string()), value, separator, out);
                }
            }
            Value::Object(map) if prefix.is_empty() => {
                for (key, value) in map {
                    walk(&key, value, separator, out);
                }
            }
            other => {
                out.insert(prefix.to_owned(), other);
            }
        }
    }
    records
        .into_iter()
        .map(|record| {
            let mut out = Map::new();
            walk("", Value::Object(record), separator, &mut out);
            out
        })
        .collect()
}

/// The inverse of [`flatten`]: dot-path fields become nested objects, and objects whose keys
/// are exactly `0..n` become arrays.
pub fn unflatten(records: Records, separator: &str) -> Records {
    fn arrays(value: Value) -> Value {
        match value {
            Value::Object(map) => {
                let is_list = !map.is_empty()
                    && map
                        .keys()
                        .enumerate()
                        .all(|(i, k)| k.parse::<usize>().ok() == Some(i));
                if is_list {
                    Value::Array(map.into_iter().map(|(_, v)| arrays(v)).collect())
                } else {
                    Value::Object(map.into_iter().map(|(k, v)| (k, arrays(v))).collect())
                }
            }
            other => other,
        }
    }
    records
        .into_iter()
        .map(|record| {
            let mut out = Map::new();
            for (key, value) in record {
                let mut current = &mut out;
                let mut segments: Vec<&str> = key.split(separator).collect();
                let last = segments.pop().unwrap_or_default();
                for segment in segments {
                    let slot = current
                        .entry(segment.to_owned())
                        .or_insert_with(|| Value::Object(Map::new()));
                    if !slot.is_object() {
                        *slot = Value::Object(Map::new());
                    }
                    let Value::Object(next) = slot else {
                        unreachable!("just made an object")
                    };
                    current = next;
                }
                current.insert(last.to_owned(), value);
            }
            match arrays(Value::Object(out)) {
                Value::Object(map) => map,
                _ => Map::new(),
            }
        })
        .collect()
}

/// One record per element of the array at `field`. The element goes to `into` (default: the
/// field itself); without `keep_others` only the element remains (its own fields if it is an
/// object). Records without the field are dropped; a non-array value counts as one element.
pub fn split_out(
    records: Records,
    field: &str,
    into: Option<&str>,
    keep_others: bool,
) -> Result<Records> {
    let target = into.unwrap_or(field);
    let mut out = Vec::new();
    for mut record in records {
        let Some(value) = remove(&mut record, field) else {
            continue;
        };
        let elements = match value {
            Value::Array(items) => items,
            Value::Null => continue,
            other => vec![other],
        };
        check_size(out.len() + elements.len())?;
        for element in elements {
            let next = if keep_others {
                let mut next = record.clone();
                set(&mut next, target, element);
                next
            } else if let (Value::Object(map), None) = (&element, into) {
                map.clone()
            } else {
                let mut next = Map::new();
                set(&mut next, target, element);
                next
            };
            out.push(next);
        }
    }
    Ok(out)
}

fn check_size(records: usize) -> Result<()> {
    if records > MAX_RECORDS {
        return Err(DataError::TooComplex(format!(
            "the result would have over {MAX_RECORDS} records"
        )));
    }
    Ok(())
}

/// A summary over a group's values of one field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Summary {
    /// Records (or, with a field, non-null values).
    Count,
    CountUnique,
    Sum,
    Average,
    Min,
    Max,
    /// Values as text joined with a separator.
    Concat,
    /// All values as an array.
    Append,
    First,
    Last,
}

impl Summary {
    pub fn name(self) -> &'static str {
        match self {
            Self::Count => "count",
            Self::CountUnique => "countUnique",
            Self::Sum => "sum",
            Self::Average => "avg",
            Self::Min => "min",
            Self::Max => "max",
            Self::Concat => "concat",
            Self::Append => "append",
            Self::First => "first",
            Self::Last => "last",
        }
    }
}

/// One summary column of [`aggregate`].
#[derive(Debug, Clone)]
pub struct SummarySpec {
    pub summary: Summary,
    /// The field summarized; `None` only for `count` (records in the group).
    pub field: Option<String>,
    /// The output field (default `<summary>_<field>`, or `count`).
    pub output: Option<String>,
    /// `concat`'s separator (default `, `).
    pub separator: Option<String>,
}

impl SummarySpec {
    fn output(&self) -> String {
        match (&self.output, &self.field) {
            (Some(name), _) => name.clone(),
            (None, Some(field)) => format!("{}_{field}", self.summary.name()),
            (None, None) => self.summary.name().to_owned(),
        }
    }
}

/// Summarizes values; numbers that are not numbers are an error naming `field`.
fn summarize(spec: &SummarySpec, values: &[&Value], records: usize, field: &str) -> Result<Value> {
    let present = || values.iter().copied().filter(|v| !v.is_null());
    let numbers = || -> Result<Vec<f64>> {
        present()
            .map(|v| {
                number_of(v).ok_or_else(|| {
                    invalid(
                        field,
                        format!(
                            "{} needs numbers; {} is {}",
                            spec.summary.name(),
                            v,
                            kind(v)
                        ),
                    )
                })
            })
            .collect()
    };
    Ok(match spec.summary {
        Summary::Count if spec.field.is_none() => Value::from(records),
        Summary::Count => Value::from(present().count()),
        Summary::CountUnique => Value::from(present().map(canonical).collect::<HashSet<_>>().len()),
        Summary::Sum => number(numbers()?.iter().sum()),
        Summary::Average => {
            let numbers = numbers()?;
            if numbers.is_empty() {
                Value::Null
            } else {
                number(numbers.iter().sum::<f64>() / numbers.len() as f64)
            }
        }
        Summary::Min => present()
            .min_by(|a, b| compare(a, b))
            .cloned()
            .unwrap_or(Value::Null),
        Summary::Max => present()
            .max_by(|a, b| compare(a, b))
            .cloned()
            .unwrap_or(Value::Null),
        Summary::Concat => Value::String(
            present()
                .map(cell_text)
                .collect::<Vec<_>>()
                .join(spec.separator.as_deref().unwrap_or(", ")),
        ),
        Summary::Append => Value::Array(values.iter().map(|v| (*v).clone()).collect()),
        Summary::First => present().next().cloned().unwrap_or(Value::Null),
        Summary::Last => present().next_back().cloned().unwrap_or(Value::Null),
    })
}

fn number_of(value: &Value) -> Option<f64> {
    match value {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// A float as JSON, whole numbers as integers.
fn number(x: f64) -> Value {
    if x.fract() == 0.0 && x.abs() < 9.0e15 {
        Value::from(x as i64)
    } else {
        Number::from_f64(x).map_or(Value::Null, Value::Number)
    }
}

/// Groups records by `group_by` (in order of first appearance; one group of all records when
/// empty) and writes one record per group: the group's fields, then each summary.
pub fn aggregate(
    records: &Records,
    group_by: &[String],
    summaries: &[SummarySpec],
    field: &str,
) -> Result<Records> {
    let groups = groups(records, group_by);
    let mut out = Vec::with_capacity(groups.len());
    for members in groups {
        let first = &records[members[0]];
        let mut row = Map::new();
        for key in group_by {
            set(
                &mut row,
                key,
                get(first, key).cloned().unwrap_or(Value::Null),
            );
        }
        for (i, spec) in summaries.iter().enumerate() {
            let values: Vec<&Value> = match &spec.field {
                Some(f) => members
                    .iter()
                    .map(|&m| get(&records[m], f).unwrap_or(&Value::Null))
                    .collect(),
                None => Vec::new(),
            };
            let value = summarize(spec, &values, members.len(), &format!("{field}[{i}]"))?;
            set(&mut row, &spec.output(), value);
        }
        out.push(row);
    }
    Ok(out)
}

/// Record indices grouped by the values of `fields`, groups in order of first appearance.
fn groups(records: &Records, fields: &[String]) -> Vec<Vec<usize>> {
    if fields.is_empty() {
        return if records.is_empty() {
            Vec::new()
        } else {
            vec![(0..records.len()).collect()]
        };
    }
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut groups: Vec<Vec<usize>> = Vec::new();
    for (i, record) in records.iter().enumerate() {
        let slot = *index.entry(key_of(record, fields)).or_insert_with(|| {
            groups.push(Vec::new());
            groups.len() - 1
        });
        groups[slot].push(i);
    }
    groups
}

/// Keeps the first record of each distinct value of `fields` (all fields when empty).
pub fn dedupe(records: Records, fields: &[String]) -> Records {
    let mut seen = HashSet::new();
    records
        .into_iter()
        .filter(|record| {
            let key = if fields.is_empty() {
                canonical_record(record)
            } else {
                key_of(record, fields)
            };
            seen.insert(key)
        })
        .collect()
}

/// Fills empty cells (missing, null or "") of `fields` (all fields seen when empty) with the
/// last value above them: spreadsheets that merge cells down a column.
pub fn fill_down(mut records: Records, fields: &[String]) -> Records {
    let mut last: HashMap<String, Value> = HashMap::new();
    let is_empty = |v: Option<&Value>| match v {
        None | Some(Value::Null) => true,
        Some(Value::String(s)) => s.is_empty(),
        _ => false,
    };
    for record in &mut records {
        let names: Vec<String> = if fields.is_empty() {
            let mut names: Vec<String> = record.keys().cloned().collect();
            names.extend(last.keys().filter(|k| !record.contains_key(*k)).cloned());
            names
        } else {
            fields.to_vec()
        };
        for name in names {
            if is_empty(get(record, &name)) {
                if let Some(value) = last.get(&name) {
                    set(record, &name, value.clone());
                }
            } else if let Some(value) = get(record, &name) {
                last.insert(name, value.clone());
            }
        }
    }
    records
}

/// How [`join`] keeps records without a match.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JoinKind {
    Inner,
    Left,
    Right,
    Outer,
}

/// Joins `left` and `right` on equal values of `left_keys` and `right_keys` (same length).
/// A match is the left record with the right one's fields added (the right's win on a clash).
pub fn join(
    left: Records,
    right: Records,
    left_keys: &[String],
    right_keys: &[String],
    kind: JoinKind,
) -> Result<Records> {
    let mut by_key: HashMap<String, Vec<usize>> = HashMap::new();
    for (i, record) in right.iter().enumerate() {
        by_key
            .entry(key_of(record, right_keys))
            .or_default()
            .push(i);
    }
    let mut matched = vec![false; right.len()];
    let mut out = Vec::new();
    for record in left {
        match by_key.get(&key_of(&record, left_keys)) {
            Some(matches) => {
                check_size(out.len() + matches.len())?;
                for &m in matches {
                    matched[m] = true;
                    let mut merged = record.clone();
                    for (k, v) in &right[m] {
                        merged.insert(k.clone(), v.clone());
                    }
                    out.push(merged);
                }
            }
            None if matches!(kind, JoinKind::Left | JoinKind::Outer) => {
                check_size(out.len() + 1)?;
                out.push(record);
            }
            None => {}
        }
    }
    if matches!(kind, JoinKind::Right | JoinKind::Outer) {
        for (record, matched) in right.into_iter().zip(matched) {
            if !matched {
                check_size(out.len() + 1)?;
                out.push(record);
            }
        }
    }
    Ok(out)
}

/// What [`compare_datasets`] found.
#[derive(Debug, Default, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Comparison {
    pub only_in_a: Records,
    pub only_in_b: Records,
    pub same: Records,
    pub different: Vec<Difference>,
}

/// One pair of records with the same key and other values.
#[derive(Debug, serde::Serialize)]
pub struct Difference {
    pub key: Map<String, Value>,
    pub a: Map<String, Value>,
    pub b: Map<String, Value>,
    /// Each differing field with its value in `a` and in `b` (null when absent).
    pub changes: Map<String, Value>,
}

/// Matches records of `a` and `b` by `keys` (the n-th record with a key in `a` pairs with the
/// n-th in `b`) and compares `fields` (all fields of both when empty).
pub fn compare_datasets(a: Records, b: Records, keys: &[String], fields: &[String]) -> Comparison {
    let mut by_key: HashMap<String, std::collections::VecDeque<usize>> = HashMap::new();
    for (i, record) in b.iter().enumerate() {
        by_key.entry(key_of(record, keys)).or_default().push_back(i);
    }
    let mut paired = vec![false; b.len()];
    let mut result = Comparison::default();
    for record in a {
        let Some(j) = by_key
            .get_mut(&key_of(&record, keys))
            .and_then(|queue| queue.pop_front())
        else {
            result.only_in_a.push(record);
            continue;
        };
        paired[j] = true;
        let other = &b[j];
        let names: Vec<String> = if fields.is_empty() {
            let mut names: Vec<String> = record.keys().cloned().collect();
            names.extend(other.keys().filter(|k| !record.contains_key(*k)).cloned());
            names
        } else {
            fields.to_vec()
        };
        let mut changes = Map::new();
        for name in names {
            let left = get(&record, &name);
            let right = get(other, &name);
            let same = match (left, right) {
                (Some(x), Some(y)) => equal(x, y),
                (None, None) => true,
                _ => false,
            };
            if !same {
                changes.insert(
                    name,
                    serde_json::json!({
                        "a": left.cloned().unwrap_or(Value::Null),
                        "b": right.cloned().unwrap_or(Value::Null),
                    }),
                );
            }
        }
        if changes.is_empty() {
            result.same.push(record);
        } else {
            let mut key = Map::new();
            for k in keys {
                set(&mut key, k, get(&record, k).cloned().unwrap_or(Value::Null));
            }
            result.different.push(Difference {
                key,
                a: record,
                b: other.clone(),
                changes,
            });
        }
    }
    result.only_in_b = b
        .into_iter()
        .zip(paired)
        .filter_map(|(record, paired)| (!paired).then_some(record))
        .collect();
    result
}

/// Long to wide: one record per distinct `index` values, one column per distinct value of
/// `column`, holding `summary` of `value` over the records that meet there.
pub fn pivot(
    records: &Records,
    index: &[String],
    column: &str,
    value: &str,
    summary: Summary,
    field: &str,
) -> Result<Records> {
    let spec = SummarySpec {
        summary,
        field: Some(value.to_owned()),
        output: None,
        separator: None,
    };
    let mut out = Vec::new();
    for members in groups(records, index) {
        let mut row = Map::new();
        for key in index {
            set(
                &mut row,
                key,
                get(&records[members[0]], key)
                    .cloned()
                    .unwrap_or(Value::Null),
            );
        }
        let mut cells: Vec<(String, Vec<&Value>)> = Vec::new();
        for &m in &members {
            let name = match get(&records[m], column) {
                None | Some(Value::Null) => "null".to_owned(),
                Some(value) => cell_text(value),
            };
            let cell = get(&records[m], value).unwrap_or(&Value::Null);
            match cells.iter_mut().find(|(n, _)| *n == name) {
                Some((_, values)) => values.push(cell),
                None => cells.push((name, vec![cell])),
            }
        }
        for (name, values) in cells {
            let count = values.len();
            row.insert(name, summarize(&spec, &values, count, field)?);
        }
        out.push(row);
    }
    // Every row gets every column, in order of first appearance, so tables stay rectangular.
    let mut columns: Vec<String> = Vec::new();
    let mut seen = HashSet::new();
    for row in &out {
        for key in row.keys() {
            if seen.insert(key.clone()) {
                columns.push(key.clone());
            }
        }
    }
    Ok(out
        .into_iter()
        .map(|mut row| {
            columns
                .iter()
                .map(|c| (c.clone(), row.shift_remove(c).unwrap_or(Value::Null)))
                .collect()
        })
        .collect())
}

/// Wide to long: each field not in `keep` (or each of `fields` when given) becomes its own
/// record `{…keep, name_field: field, value_field: value}`.
pub fn unpivot(
    records: Records,
    keep: &[String],
    fields: &[String],
    name_field: &str,
    value_field: &str,
) -> Result<Records> {
    let mut out = Vec::new();
    for record in records {
        let mut kept = Map::new();
        for k in keep {
            if let Some(v) = get(&record, k) {
                set(&mut kept, k, v.clone());
            }
        }
        let pairs: Vec<(String, Value)> = if fields.is_empty() {
            record
                .into_iter()
                .filter(|(k, _)| !keep.contains(k))
                .collect()
        } else {
            fields
                .iter()
                .filter_map(|f| get(&record, f).map(|v| (f.clone(), v.clone())))
                .collect()
        };
        check_size(out.len() + pairs.len())?;
        for (name, value) in pairs {
            let mut row = kept.clone();
            row.insert(name_field.to_owned(), Value::String(name));
            row.insert(value_field.to_owned(), value);
            out.push(row);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn records(value: Value) -> Records {
        records_of(value, "data").unwrap()
    }

    fn json_of(records: Records) -> Value {
        Value::Array(records.into_iter().map(Value::Object).collect())
    }

    #[test]
    fn paths_get_set_and_remove_nested_fields() {
        let mut record = records(json!({"a": {"b": [10, {"c": 2}]}, "x.y": 1})).remove(0);
        assert_eq!(get(&record, "a.b.0"), Some(&json!(10)));
        assert_eq!(get(&record, "a.b.1.c"), Some(&json!(2)));
        assert_eq!(get(&record, "x.y"), Some(&json!(1)), "a dotted key itself");
        assert_eq!(get(&record, "a.missing"), None);
        set(&mut record, "a.d.e", json!(true));
        assert_eq!(record["a"]["d"], json!({"e": true}));
        assert_eq!(remove(&mut record, "a.b"), Some(json!([10, {"c": 2}])));
        assert_eq!(
            Value::Object(record),
            json!({"a": {"d": {"e": true}}, "x.y": 1})
        );
    }

    #[test]
    fn values_order_as_jq_orders_them() {
        let mut values = vec![
            json!({"a": 1}),
            json!([1]),
            json!("b"),
            json!(2.5),
            json!(true),
            json!(false),
            json!(null),
            json!(-3),
            json!("a"),
        ];
        values.sort_by(compare);
        assert_eq!(
            values,
            vec![
                json!(null),
                json!(false),
                json!(true),
                json!(-3),
                json!(2.5),
                json!("a"),
                json!("b"),
                json!([1]),
                json!({"a": 1})
            ]
        );
        assert!(equal(&json!(1), &json!(1.0)));
        assert_eq!(
            canonical(&json!({"b": 1, "a": 1.0})),
            canonical(&json!({"a": 1, "b": 1}))
        );
    }

    #[test]
    fn filter_and_compute_with_expressions() {
        let expressions = Expressions::default();
        let data = records(json!([
            {"name": "Ada", "age": 36, "first name": "A"},
            {"name": "Bob", "age": 17},
            {"name": "Cy", "age": null}
        ]));
        let adults = filter(&expressions, data.clone(), "age >= 18", "where").unwrap();
        assert_eq!(
            json_of(adults),
            json!([{"name": "Ada", "age": 36, "first name": "A"}])
        );
        let named = filter(
            &expressions,
            data.clone(),
            "record['first name'] == 'A' or name.startswith('C')",
            "where",
        )
        .unwrap();
        assert_eq!(named.len(), 2);
        let computed = compute(
            &expressions,
            data,
            &[
                ("label".into(), "name ~ ' (' ~ index ~ ')'".into()),
                ("adult".into(), "age is number and age >= 18".into()),
            ],
            "fields",
        )
        .unwrap();
        assert_eq!(computed[1]["label"], json!("Bob (1)"));
        assert_eq!(computed[0]["adult"], json!(true));
        assert_eq!(computed[2]["adult"], json!(false));

        match filter(
            &expressions,
            records(json!([{}])),
            "age >>",
            "steps[0].where",
        ) {
            Err(DataError::Invalid { field, .. }) => assert_eq!(field, "steps[0].where"),
            other => panic!("{other:?}"),
        }
        let runaway = "range(100000) | map('string') | list | length > 0";
        assert!(matches!(
            filter(&expressions, records(json!([{}])), runaway, "where"),
            Err(DataError::TooComplex(_))
        ));
    }

    #[test]
    fn sort_by_several_keys_is_stable() {
        let data = records(json!([
            {"team": "b", "score": 2, "id": 1},
            {"team": "a", "score": 2, "id": 2},
            {"team": "a", "score": 9, "id": 3},
            {"id": 4},
            {"team": "a", "score": 2, "id": 5}
        ]));
        let sorted = sort(
            data,
            &[
                SortKey {
                    field: "team".into(),
                    descending: false,
                },
                SortKey {
                    field: "score".into(),
                    descending: true,
                },
            ],
        );
        let ids: Vec<&Value> = sorted.iter().map(|r| &r["id"]).collect();
        assert_eq!(ids, [&json!(4), &json!(3), &json!(2), &json!(5), &json!(1)]);
    }

    #[test]
    fn pick_omit_rename_keep_order() {
        let data = records(json!([{"id": 1, "name": "Ada", "meta": {"a": 1, "b": 2}}]));
        assert_eq!(
            json_of(pick(data.clone(), &["meta.b".into(), "id".into()])),
            json!([{"meta": {"b": 2}, "id": 1}])
        );
        let omitted = omit(data.clone(), &["name".into(), "meta.a".into()]);
        assert_eq!(json_of(omitted), json!([{"id": 1, "meta": {"b": 2}}]));
        let renamed = rename(
            data,
            &[
                ("name".into(), "fullName".into()),
                ("meta.a".into(), "a".into()),
            ],
        );
        let keys: Vec<&String> = renamed[0].keys().collect();
        assert_eq!(keys, ["id", "fullName", "meta", "a"]);
    }

    #[test]
    fn flatten_and_unflatten_round_trip() {
        let nested = json!([{"id": 1, "user": {"name": "Ada", "tags": ["x", "y"]}, "empty": {}}]);
        let flat = flatten(records(nested.clone()), ".");
        assert_eq!(
            json_of(flat.clone()),
            json!([{"id": 1, "user.name": "Ada", "user.tags.0": "x", "user.tags.1": "y", "empty": {}}])
        );
        assert_eq!(json_of(unflatten(flat, ".")), nested);
    }

    #[test]
    fn split_out_arrays() {
        let data = records(json!([
            {"order": 1, "items": [{"sku": "a"}, {"sku": "b"}]},
            {"order": 2, "items": []},
            {"order": 3}
        ]));
        assert_eq!(
            json_of(split_out(data.clone(), "items", Some("item"), true).unwrap()),
            json!([{"order": 1, "item": {"sku": "a"}}, {"order": 1, "item": {"sku": "b"}}])
        );
        assert_eq!(
            json_of(split_out(data, "items", None, false).unwrap()),
            json!([{"sku": "a"}, {"sku": "b"}])
        );
    }

    #[test]
    fn aggregate_groups_in_order_of_appearance() {
        let data = records(json!([
            {"region": "eu", "total": 10, "customer": "x"},
            {"region": "us", "total": 5, "customer": "y"},
            {"region": "eu", "total": 2.5, "customer": "x"},
            {"region": "eu", "total": null, "customer": "z"}
        ]));
        let spec = |summary, field: Option<&str>| SummarySpec {
            summary,
            field: field.map(str::to_owned),
            output: None,
            separator: None,
        };
        let result = aggregate(
            &data,
            &["region".into()],
            &[
                spec(Summary::Count, None),
                spec(Summary::Sum, Some("total")),
                spec(Summary::Average, Some("total")),
                spec(Summary::CountUnique, Some("customer")),
                spec(Summary::Concat, Some("customer")),
                spec(Summary::Max, Some("total")),
                spec(Summary::Append, Some("total")),
            ],
            "summaries",
        )
        .unwrap();
        assert_eq!(
            json_of(result),
            json!([
                {"region": "eu", "count": 3, "sum_total": 12.5, "avg_total": 6.25, "countUnique_customer": 2, "concat_customer": "x, x, z", "max_total": 10, "append_total": [10, 2.5, null]},
                {"region": "us", "count": 1, "sum_total": 5, "avg_total": 5, "countUnique_customer": 1, "concat_customer": "y", "max_total": 5, "append_total": [5]}
            ])
        );
        let bad = aggregate(
            &data,
            &[],
            &[spec(Summary::Sum, Some("customer"))],
            "summaries",
        );
        assert!(matches!(bad, Err(DataError::Invalid { field, .. }) if field == "summaries[0]"));
    }

    #[test]
    fn dedupe_and_fill_down() {
        let data = records(json!([{"a": 1, "b": 1}, {"b": 1, "a": 1.0}, {"a": 1, "b": 2}]));
        assert_eq!(dedupe(data.clone(), &[]).len(), 2);
        assert_eq!(dedupe(data, &["a".into()]).len(), 1);
        let sheet = records(json!([
            {"group": "A", "item": 1},
            {"group": "", "item": 2},
            {"group": null, "item": 3},
            {"group": "B", "item": 4},
            {"item": 5}
        ]));
        let filled = fill_down(sheet, &["group".into()]);
        let groups: Vec<&Value> = filled.iter().map(|r| &r["group"]).collect();
        assert_eq!(
            groups,
            [
                &json!("A"),
                &json!("A"),
                &json!("A"),
                &json!("B"),
                &json!("B")
            ]
        );
    }

    #[test]
    fn joins_of_every_kind() {
        let left = records(json!([{"id": 1, "name": "Ada"}, {"id": 2, "name": "Bob"}]));
        let right = records(
            json!([{"user": 1, "city": "Oslo"}, {"user": 3, "city": "Rome"}, {"user": 1, "city": "Bergen"}]),
        );
        let on = |kind| {
            join(
                left.clone(),
                right.clone(),
                &["id".into()],
                &["user".into()],
                kind,
            )
            .unwrap()
            .len()
        };
        assert_eq!(on(JoinKind::Inner), 2);
        assert_eq!(on(JoinKind::Left), 3);
        assert_eq!(on(JoinKind::Right), 3);
        assert_eq!(on(JoinKind::Outer), 4);
        let inner = join(
            left,
            right,
            &["id".into()],
            &["user".into()],
            JoinKind::Inner,
        )
        .unwrap();
        assert_eq!(
            Value::Object(inner[1].clone()),
            json!({"id": 1, "name": "Ada", "user": 1, "city": "Bergen"})
        );
    }

    #[test]
    fn compare_two_datasets() {
        let a = records(json!([{"id": 1, "v": 1}, {"id": 2, "v": 2}, {"id": 3, "v": 3}]));
        let b = records(json!([{"id": 2, "v": 2.0}, {"id": 3, "v": 4, "w": true}, {"id": 4}]));
        let result = compare_datasets(a, b, &["id".into()], &[]);
        assert_eq!(json_of(result.only_in_a), json!([{"id": 1, "v": 1}]));
        assert_eq!(json_of(result.only_in_b), json!([{"id": 4}]));
        assert_eq!(result.same.len(), 1);
        assert_eq!(result.different.len(), 1);
        assert_eq!(
            Value::Object(result.different[0].changes.clone()),
            json!({"v": {"a": 3, "b": 4}, "w": {"a": null, "b": true}})
        );
    }

    #[test]
    fn pivot_and_unpivot_round_trip() {
        let long = records(json!([
            {"month": "jan", "product": "a", "sales": 1},
            {"month": "jan", "product": "b", "sales": 2},
            {"month": "feb", "product": "a", "sales": 3},
            {"month": "jan", "product": "a", "sales": 4}
        ]));
        let wide = pivot(
            &long,
            &["month".into()],
            "product",
            "sales",
            Summary::Sum,
            "pivot",
        )
        .unwrap();
        assert_eq!(
            json_of(wide.clone()),
            json!([{"month": "jan", "a": 5, "b": 2}, {"month": "feb", "a": 3, "b": null}])
        );
        let back = unpivot(wide, &["month".into()], &[], "product", "sales").unwrap();
        assert_eq!(back.len(), 4);
        assert_eq!(
            Value::Object(back[1].clone()),
            json!({"month": "jan", "product": "b", "sales": 2})
        );
    }

    #[test]
    fn records_must_be_objects() {
        match records_of(json!([{"a": 1}, 2]), "data") {
            Err(DataError::Invalid { field, message }) => {
                assert_eq!(field, "data[1]");
                assert_eq!(message, "must be an object, not a number");
            }
            other => panic!("{other:?}"),
        }
    }
}
