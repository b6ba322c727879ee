//! `records` (a pipeline of shape operations) and `compare` (two datasets by key).

use axum::Json;
use axum::extract::State;
use flowforge_service_kit::{ApiError, ApiJson};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use utoipa::ToSchema;

use super::{
    ConvertResponse, CsvSettings, DataFormat, SheetSettings, TableSettings, XmlSettings,
    format_options, input_value, written,
};
use crate::domain::records::{
    self as ops, Comparison, Expressions, JoinKind, Records, SortKey, Summary, SummarySpec,
};
use crate::state::AppState;

/// Most steps in one pipeline.
const MAX_STEPS: usize = 50;

/// One shape operation; `op` names it.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(tag = "op", rename_all = "camelCase", deny_unknown_fields)]
pub enum Step {
    /// Keep the records for which a Jinja expression is true: `age >= 18 and country == "NO"`
    /// (fields are variables; `record['odd name']` and `index` too).
    Filter {
        #[serde(rename = "where")]
        condition: String,
    },
    /// Stable multi-key sort: `["team", "-score"]` (a leading `-` sorts descending).
    Sort { by: Vec<String> },
    /// Skip `offset` records, keep at most `limit`.
    Limit {
        #[serde(default)]
        limit: Option<usize>,
        #[serde(default)]
        offset: usize,
    },
    /// Only these fields (dot paths), in this order.
    Pick { fields: Vec<String> },
    /// Everything but these fields.
    Omit { fields: Vec<String> },
    /// `{"old": "new"}` renames.
    Rename {
        #[schema(value_type = Object)]
        fields: Map<String, Value>,
    },
    /// Fixed `values` and computed `expressions` (Jinja, seeing the record before this step).
    Set {
        #[serde(default)]
        #[schema(value_type = Option<Object>)]
        values: Map<String, Value>,
        #[serde(default)]
        #[schema(value_type = Option<Object>)]
        expressions: Map<String, Value>,
    },
    /// Nested objects and arrays to dot-path fields.
    Flatten {
        #[serde(default)]
        separator: Option<String>,
    },
    /// Dot-path fields to nested objects (and arrays for `0..n` keys).
    Unflatten {
        #[serde(default)]
        separator: Option<String>,
    },
    /// One record per element of an array field.
    #[serde(rename_all = "camelCase")]
    SplitOut {
        field: String,
        /// Where the element goes (default: the field itself).
        #[serde(default)]
        into: Option<String>,
        /// Keep the record's other fields (default true).
        #[serde(default = "yes")]
        keep_others: bool,
    },
    /// Group by fields and summarize each group.
    #[serde(rename_all = "camelCase")]
    Aggregate {
        #[serde(default)]
        group_by: Vec<String>,
        summaries: Vec<SummaryRequest>,
    },
    /// Drop repeated records (by these fields, or whole records).
    Dedupe {
        #[serde(default)]
        fields: Vec<String>,
    },
    /// Fill empty cells from the record above (all fields when none are named).
    #[serde(rename_all = "camelCase")]
    FillDown {
        #[serde(default)]
        fields: Vec<String>,
    },
    /// Join with a second dataset on key fields.
    #[serde(rename_all = "camelCase")]
    Join {
        #[schema(value_type = Vec<Object>)]
        with: Value,
        /// Key fields named the same on both sides.
        #[serde(default)]
        on: Vec<String>,
        /// Or: the key fields of each side.
        #[serde(default)]
        left_on: Vec<String>,
        #[serde(default)]
        right_on: Vec<String>,
        #[serde(default)]
        kind: JoinType,
    },
    /// Long to wide.
    Pivot {
        /// The fields that identify a row.
        index: Vec<String>,
        /// The field whose values become columns.
        column: String,
        /// The field whose values fill the cells.
        value: String,
        /// How several values in one cell combine (default `first`).
        #[serde(default)]
        summary: Option<SummaryOp>,
    },
    /// Wide to long.
    #[serde(rename_all = "camelCase")]
    Unpivot {
        /// Fields kept on every output record.
        #[serde(default)]
        keep: Vec<String>,
        /// The fields turned into records (default: all but `keep`).
        #[serde(default)]
        fields: Vec<String>,
        #[serde(default = "default_name_field")]
        name_field: String,
        #[serde(default = "default_value_field")]
        value_field: String,
    },
}

fn yes() -> bool {
    true
}

fn default_name_field() -> String {
    "field".into()
}

fn default_value_field() -> String {
    "value".into()
}

#[derive(Debug, Clone, Copy, Default, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum JoinType {
    #[default]
    Inner,
    Left,
    Right,
    Outer,
}

#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub enum SummaryOp {
    Count,
    CountUnique,
    Sum,
    Avg,
    Min,
    Max,
    Concat,
    Append,
    First,
    Last,
}

impl From<SummaryOp> for Summary {
    fn from(op: SummaryOp) -> Self {
        match op {
            SummaryOp::Count => Self::Count,
            SummaryOp::CountUnique => Self::CountUnique,
            SummaryOp::Sum => Self::Sum,
            SummaryOp::Avg => Self::Average,
            SummaryOp::Min => Self::Min,
            SummaryOp::Max => Self::Max,
            SummaryOp::Concat => Self::Concat,
            SummaryOp::Append => Self::Append,
            SummaryOp::First => Self::First,
            SummaryOp::Last => Self::Last,
        }
    }
}

/// One summary column.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SummaryRequest {
    pub op: SummaryOp,
    /// The field summarized (`count` without one counts records).
    #[serde(default)]
    pub field: Option<String>,
    /// The output field (default `<op>_<field>`).
    #[serde(default, rename = "as")]
    pub output: Option<String>,
    /// `concat`'s separator (default `, `).
    #[serde(default)]
    pub separator: Option<String>,
}

/// Run shape operations over an array of records.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!({
    "data": [{"region": "eu", "total": 10}, {"region": "us", "total": 5}, {"region": "eu", "total": 2}],
    "steps": [
        {"op": "filter", "where": "total > 3"},
        {"op": "aggregate", "groupBy": ["region"], "summaries": [{"op": "sum", "field": "total"}, {"op": "count"}]},
        {"op": "sort", "by": ["-sum_total"]}
    ]
}))]
pub struct RecordsRequest {
    /// The records as JSON.
    #[serde(default)]
    #[schema(value_type = Option<Vec<Object>>)]
    pub data: Option<Value>,
    /// Or as text in `from` (CSV, JSON Lines, …).
    #[serde(default)]
    pub input: Option<String>,
    #[serde(default)]
    pub from: Option<DataFormat>,
    /// Applied in order.
    pub steps: Vec<Step>,
    /// Also write the result in this format (`output`; base64 for XLSX).
    #[serde(default)]
    pub to: Option<DataFormat>,
    #[serde(default)]
    pub csv: CsvSettings,
    #[serde(default)]
    pub xml: XmlSettings,
    #[serde(default)]
    pub sheet: SheetSettings,
    #[serde(default)]
    pub table: TableSettings,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RecordsResponse {
    /// Records in the result.
    pub count: usize,
    #[schema(value_type = Vec<Object>)]
    pub data: Value,
    /// The result in `to`, when asked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output: Option<ConvertResponse>,
}

/// Filter, sort, pick, rename, aggregate, join, pivot… an array of records in one call.
#[utoipa::path(
    post,
    path = "/api/v1/data/records",
    tag = "records",
    request_body = RecordsRequest,
    responses((status = 200, description = "The records after every step", body = RecordsResponse))
)]
pub async fn records(
    State(state): State<AppState>,
    ApiJson(r): ApiJson<RecordsRequest>,
) -> Result<Json<RecordsResponse>, ApiError> {
    if r.steps.len() > MAX_STEPS {
        return Err(ApiError::invalid_field(
            "steps",
            format!("at most {MAX_STEPS} steps"),
        ));
    }
    let options = format_options(&r.csv, &r.xml, &r.sheet, &r.table)?;
    let outcome = state
        .cpu
        .run(move || {
            let value = input_value(r.input, r.from, r.data, &options)?;
            let mut records = ops::records_of(value, "data")?;
            let expressions = Expressions::default();
            for (i, step) in r.steps.into_iter().enumerate() {
                records = run_step(&expressions, records, step, &format!("steps[{i}]"))?;
            }
            let count = records.len();
            let data = Value::Array(records.into_iter().map(Value::Object).collect());
            let output = match r.to {
                None | Some(DataFormat::Json) => None,
                Some(to) => Some(written(data.clone(), to, &options)?),
            };
            Ok(RecordsResponse {
                count,
                data,
                output,
            })
        })
        .await;
    state.record("records", outcome.is_ok());
    Ok(Json(outcome?))
}

fn strings(map: Map<String, Value>, field: &str) -> Result<Vec<(String, String)>, ApiError> {
    map.into_iter()
        .map(|(k, v)| match v {
            Value::String(s) => Ok((k, s)),
            _ => Err(ApiError::invalid_field(
                format!("{field}.{k}"),
                "must be a string",
            )),
        })
        .collect()
}

fn run_step(
    expressions: &Expressions,
    records: Records,
    step: Step,
    at: &str,
) -> Result<Records, ApiError> {
    let separator = |s: Option<String>| s.unwrap_or_else(|| ".".into());
    Ok(match step {
        Step::Filter { condition } => {
            ops::filter(expressions, records, &condition, &format!("{at}.where"))?
        }
        Step::Sort { by } => {
            let keys: Vec<SortKey> = by
                .into_iter()
                .map(|key| match key.strip_prefix('-') {
                    Some(field) => SortKey {
                        field: field.to_owned(),
                        descending: true,
                    },
                    None => SortKey {
                        field: key,
                        descending: false,
                    },
                })
                .collect();
            ops::sort(records, &keys)
        }
        Step::Limit { limit, offset } => ops::limit(records, offset, limit),
        Step::Pick { fields } => ops::pick(records, &fields),
        Step::Omit { fields } => ops::omit(records, &fields),
        Step::Rename { fields } => ops::rename(records, &strings(fields, &format!("{at}.fields"))?),
        Step::Set {
            values,
            expressions: computed,
        } => {
            let values: Vec<(String, Value)> = values.into_iter().collect();
            let records = ops::assign(records, &values);
            let computed = strings(computed, &format!("{at}.expressions"))?;
            ops::compute(
                expressions,
                records,
                &computed,
                &format!("{at}.expressions"),
            )?
        }
        Step::Flatten { separator: s } => ops::flatten(records, &separator(s)),
        Step::Unflatten { separator: s } => ops::unflatten(records, &separator(s)),
        Step::SplitOut {
            field,
            into,
            keep_others,
        } => ops::split_out(records, &field, into.as_deref(), keep_others)?,
        Step::Aggregate {
            group_by,
            summaries,
        } => {
            let specs = summaries
                .into_iter()
                .enumerate()
                .map(|(i, s)| {
                    if s.field.is_none() && !matches!(s.op, SummaryOp::Count) {
                        return Err(ApiError::invalid_field(
                            format!("{at}.summaries[{i}].field"),
                            "this summary needs a field",
                        ));
                    }
                    Ok(SummarySpec {
                        summary: s.op.into(),
                        field: s.field,
                        output: s.output,
                        separator: s.separator,
                    })
                })
                .collect::<Result<Vec<_>, ApiError>>()?;
            ops::aggregate(&records, &group_by, &specs, &format!("{at}.summaries"))?
        }
        Step::Dedupe { fields } => ops::dedupe(records, &fields),
        Step::FillDown { fields } => ops::fill_down(records, &fields),
        Step::Join {
            with,
            on,
            left_on,
            right_on,
            kind,
        } => {
            let right = ops::records_of(with, &format!("{at}.with"))?;
            let (left_keys, right_keys) = match (on.is_empty(), left_on.is_empty()) {
                (false, true) if right_on.is_empty() => (on.clone(), on),
                (true, false) if left_on.len() == right_on.len() => (left_on, right_on),
                _ => {
                    return Err(ApiError::invalid_field(
                        format!("{at}.on"),
                        "give `on`, or `leftOn` and `rightOn` of the same length",
                    ));
                }
            };
            let kind = match kind {
                JoinType::Inner => JoinKind::Inner,
                JoinType::Left => JoinKind::Left,
                JoinType::Right => JoinKind::Right,
                JoinType::Outer => JoinKind::Outer,
            };
            ops::join(records, right, &left_keys, &right_keys, kind)?
        }
        Step::Pivot {
            index,
            column,
            value,
            summary,
        } => ops::pivot(
            &records,
            &index,
            &column,
            &value,
            summary.map_or(Summary::First, Summary::from),
            &format!("{at}.value"),
        )?,
        Step::Unpivot {
            keep,
            fields,
            name_field,
            value_field,
        } => ops::unpivot(records, &keep, &fields, &name_field, &value_field)?,
    })
}

/// Compare two datasets.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!({
    "a": [{"id": 1, "price": 10}, {"id": 2, "price": 5}],
    "b": [{"id": 2, "price": 6}, {"id": 3, "price": 1}],
    "keys": ["id"]
}))]
pub struct CompareRequest {
    #[schema(value_type = Vec<Object>)]
    pub a: Value,
    #[schema(value_type = Vec<Object>)]
    pub b: Value,
    /// The fields that identify a record in both.
    pub keys: Vec<String>,
    /// The fields compared (default: all fields of both records).
    #[serde(default)]
    pub fields: Vec<String>,
}

/// Records only in `a`, only in `b`, the same in both, and different (with each changed field).
#[utoipa::path(
    post,
    path = "/api/v1/data/compare",
    tag = "records",
    request_body = CompareRequest,
    responses((status = 200, description = "`onlyInA`, `onlyInB`, `same` and `different` (with `changes` per field)", body = Object))
)]
pub async fn compare(
    State(state): State<AppState>,
    ApiJson(r): ApiJson<CompareRequest>,
) -> Result<Json<Value>, ApiError> {
    if r.keys.is_empty() {
        return Err(ApiError::invalid_field(
            "keys",
            "name at least one key field",
        ));
    }
    let outcome = state
        .cpu
        .run(move || {
            let a = ops::records_of(r.a, "a")?;
            let b = ops::records_of(r.b, "b")?;
            let result: Comparison = ops::compare_datasets(a, b, &r.keys, &r.fields);
            let counts = json!({
                "onlyInA": result.only_in_a.len(),
                "onlyInB": result.only_in_b.len(),
                "same": result.same.len(),
                "different": result.different.len(),
            });
            let mut body =
                serde_json::to_value(result).map_err(|e| ApiError::internal(e.to_string()))?;
            body["counts"] = counts;
            Ok(body)
        })
        .await;
    state.record("compare", outcome.is_ok());
    Ok(Json(outcome?))
}
