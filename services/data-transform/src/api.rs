//! HTTP surface: one handler per operation.

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use flowforge_service_kit::{ApiError, ApiJson, BinaryInput, JsonOrBinary};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::domain::formats::{self, CsvOptions, Format};
use crate::domain::{jq, patch, template};
use crate::state::AppState;

/// Every data-transform route, documented.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(convert))
        .routes(routes!(query))
        .routes(routes!(json_patch))
        .routes(routes!(render_template))
}

/// A text format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum DataFormat {
    Json,
    /// JSON Lines: one value per line.
    Jsonl,
    Csv,
    Tsv,
    Yaml,
    Toml,
}

impl From<DataFormat> for Format {
    fn from(value: DataFormat) -> Self {
        match value {
            DataFormat::Json => Self::Json,
            DataFormat::Jsonl => Self::Jsonl,
            DataFormat::Csv => Self::Csv,
            DataFormat::Tsv => Self::Tsv,
            DataFormat::Yaml => Self::Yaml,
            DataFormat::Toml => Self::Toml,
        }
    }
}

/// CSV/TSV reading and writing.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CsvSettings {
    /// One character (default `,`, or tab for TSV).
    #[serde(default)]
    pub delimiter: Option<String>,
    /// The first row names the columns (default true); without it rows are arrays.
    #[serde(default)]
    pub header: Option<bool>,
    /// Numbers, booleans and empty cells become typed values (default false: all text).
    #[serde(default)]
    pub infer_types: bool,
    /// Lines to skip before the table.
    #[serde(default)]
    pub skip_rows: usize,
}

impl CsvSettings {
    fn options(&self) -> Result<CsvOptions, ApiError> {
        let delimiter = match self.delimiter.as_deref() {
            None => None,
            Some(d) if d.len() == 1 && d.is_ascii() => Some(d.as_bytes()[0]),
            Some(_) => {
                return Err(ApiError::invalid_field(
                    "csv.delimiter",
                    "must be one ASCII character",
                ));
            }
        };
        Ok(CsvOptions {
            delimiter,
            header: self.header.unwrap_or(true),
            infer_types: self.infer_types,
            skip_rows: self.skip_rows,
        })
    }
}

/// Options of a raw-body request (the file is the body; options are query parameters).
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query, rename_all = "camelCase")]
pub struct RawOptions {
    /// The body's format (default: from its Content-Type).
    #[serde(default)]
    pub from: Option<DataFormat>,
    /// `convert`: the format to answer in.
    #[serde(default)]
    pub to: Option<DataFormat>,
    /// `query`: the jq filter.
    #[serde(default)]
    pub filter: Option<String>,
    #[serde(default)]
    pub delimiter: Option<String>,
    #[serde(default)]
    pub header: Option<bool>,
    #[serde(default)]
    pub infer_types: bool,
    #[serde(default)]
    pub skip_rows: usize,
}

impl RawOptions {
    fn csv(&self) -> CsvSettings {
        CsvSettings {
            delimiter: self.delimiter.clone(),
            header: self.header,
            infer_types: self.infer_types,
            skip_rows: self.skip_rows,
        }
    }
}

/// The format a Content-Type names.
fn format_of(content_type: Option<&str>) -> Option<DataFormat> {
    let essence = content_type?.split(';').next()?.trim().to_ascii_lowercase();
    Some(match essence.as_str() {
        "application/json" => DataFormat::Json,
        "application/x-ndjson" | "application/jsonl" | "application/jsonlines" => DataFormat::Jsonl,
        "text/csv" => DataFormat::Csv,
        "text/tab-separated-values" => DataFormat::Tsv,
        "application/yaml" | "application/x-yaml" | "text/yaml" => DataFormat::Yaml,
        "application/toml" => DataFormat::Toml,
        _ => return None,
    })
}

fn media_type(format: DataFormat) -> &'static str {
    match format {
        DataFormat::Json => "application/json",
        DataFormat::Jsonl => "application/x-ndjson",
        DataFormat::Csv => "text/csv; charset=utf-8",
        DataFormat::Tsv => "text/tab-separated-values; charset=utf-8",
        DataFormat::Yaml => "application/yaml",
        DataFormat::Toml => "application/toml",
    }
}

/// A raw body's text (checked UTF-8, not copied) and format.
fn raw_text(file: BinaryInput<RawOptions>) -> Result<(Utf8Body, DataFormat, RawOptions), ApiError> {
    let from = file
        .options
        .from
        .or_else(|| format_of(file.content_type.as_deref()))
        .ok_or_else(|| {
            ApiError::invalid_field(
                "from",
                "name the body's format (`?from=csv`) or send its Content-Type",
            )
        })?;
    if let Err(e) = std::str::from_utf8(&file.bytes) {
        return Err(ApiError::invalid_field(
            "input",
            format!("is not UTF-8 (byte {})", e.valid_up_to()),
        ));
    }
    Ok((Utf8Body(file.bytes), from, file.options))
}

/// A body known to be UTF-8 (checked once, never copied).
struct Utf8Body(bytes::Bytes);

impl Utf8Body {
    fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

/// The input as text in a format, or as JSON already.
fn input_value(
    input: Option<String>,
    from: Option<DataFormat>,
    data: Option<Value>,
    csv: &CsvOptions,
) -> Result<Value, ApiError> {
    match (input, data) {
        (Some(text), None) => {
            let from =
                from.ok_or_else(|| ApiError::invalid_field("from", "name the format of `input`"))?;
            Ok(formats::parse(&text, from.into(), csv)?)
        }
        (None, Some(data)) => Ok(data),
        _ => Err(ApiError::invalid_field(
            "input",
            "give `input` (text, with `from`) or `data` (JSON)",
        )),
    }
}

/// Convert between formats.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!({"input": "name,qty\nbolt,12\n", "from": "csv", "to": "json", "csv": {"inferTypes": true}}))]
pub struct ConvertRequest {
    /// The text to convert.
    #[serde(default)]
    pub input: Option<String>,
    /// Its format.
    #[serde(default)]
    pub from: Option<DataFormat>,
    /// Or: JSON data to write in `to`.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub data: Option<Value>,
    pub to: DataFormat,
    #[serde(default)]
    pub csv: CsvSettings,
}

/// Converted data: `data` for JSON, `output` text for the others.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConvertResponse {
    pub format: DataFormat,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub data: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output: Option<String>,
}

/// JSON, JSON Lines, CSV, TSV, YAML and TOML to one another.
///
/// Also takes the file itself as the body (any non-JSON Content-Type, e.g. `text/csv`) with
/// `?to=json` (and `from`, `delimiter`, `header`, `inferTypes`, `skipRows`) and then answers with
/// the converted file and its Content-Type.
#[utoipa::path(
    post,
    path = "/api/v1/data/convert",
    tag = "formats",
    request_body = ConvertRequest,
    params(RawOptions),
    responses((status = 200, description = "The converted data", body = ConvertResponse))
)]
pub async fn convert(
    State(state): State<AppState>,
    request: JsonOrBinary<ApiJson<ConvertRequest>, RawOptions>,
) -> Result<Response, ApiError> {
    let outcome = match request {
        JsonOrBinary::Json(ApiJson(r)) => convert_json(&state, r)
            .await
            .map(|r| Json(r).into_response()),
        JsonOrBinary::Binary(file) => convert_raw(&state, file).await,
    };
    state.record("convert", outcome.is_ok());
    outcome
}

async fn convert_json(state: &AppState, r: ConvertRequest) -> Result<ConvertResponse, ApiError> {
    let csv = r.csv.options()?;
    let to = r.to;
    state
        .cpu
        .run(move || {
            let value = input_value(r.input, r.from, r.data, &csv)?;
            if to == DataFormat::Json {
                return Ok(ConvertResponse {
                    format: to,
                    data: Some(value),
                    output: None,
                });
            }
            Ok(ConvertResponse {
                format: to,
                data: None,
                output: Some(formats::render(&value, to.into(), &csv)?),
            })
        })
        .await
}

async fn convert_raw(
    state: &AppState,
    file: BinaryInput<RawOptions>,
) -> Result<Response, ApiError> {
    let (text, from, options) = raw_text(file)?;
    let to = options.to.ok_or_else(|| {
        ApiError::invalid_field("to", "name the format to answer in (`?to=json`)")
    })?;
    let csv = options.csv().options()?;
    let output = state
        .cpu
        .run(move || {
            let text = text.as_str();
            if let Some(streamed) = formats::convert_streaming(text, from.into(), to.into(), &csv) {
                return Ok(streamed?);
            }
            let value = formats::parse(text, from.into(), &csv)?;
            Ok(formats::render(&value, to.into(), &csv)?)
        })
        .await?;
    Ok(([(http::header::CONTENT_TYPE, media_type(to))], output).into_response())
}

/// Run a jq filter.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!({"filter": "map(select(.total > 10)) | sort_by(.total)", "data": [{"id": 1, "total": 30}, {"id": 2, "total": 5}]}))]
pub struct QueryRequest {
    /// A jq program (jq 1.7 language, standard library included).
    pub filter: String,
    /// The input as JSON (default `null`).
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub data: Value,
    /// Or the input as text in `from`.
    #[serde(default)]
    pub input: Option<String>,
    #[serde(default)]
    pub from: Option<DataFormat>,
    #[serde(default)]
    pub csv: CsvSettings,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct QueryResponse {
    /// Every value the filter produced, in order.
    #[schema(value_type = Vec<Object>)]
    pub results: Vec<Value>,
}

/// jq over JSON or any supported format; runaway filters are stopped (422 TIMEOUT or
/// EXPRESSION_TOO_COMPLEX).
///
/// Also takes the input file itself as the body (any non-JSON Content-Type; raw JSON as
/// `application/octet-stream` with `from=json`) with `?filter=…`.
#[utoipa::path(
    post,
    path = "/api/v1/data/query",
    tag = "queries",
    request_body = QueryRequest,
    params(RawOptions),
    responses((status = 200, description = "The filter's outputs", body = QueryResponse))
)]
pub async fn query(
    State(state): State<AppState>,
    request: JsonOrBinary<ApiJson<QueryRequest>, RawOptions>,
) -> Result<Json<QueryResponse>, ApiError> {
    let (filter, value) = match request {
        JsonOrBinary::Json(ApiJson(r)) => {
            let csv = r.csv.options()?;
            let from = r.from;
            // `data` may be null (jq's `null` input); it is the input unless text is given.
            let (input, data) = match r.input {
                Some(text) => (Some(text), None),
                None => (None, Some(r.data)),
            };
            let value = state
                .cpu
                .run(move || input_value(input, from, data, &csv))
                .await?;
            (r.filter, value)
        }
        JsonOrBinary::Binary(file) => {
            let (text, from, options) = raw_text(file)?;
            let filter = options.filter.clone().ok_or_else(|| {
                ApiError::invalid_field("filter", "give the jq filter (`?filter=…`)")
            })?;
            let csv = options.csv().options()?;
            let value = state
                .cpu
                .run(move || Ok(formats::parse(text.as_str(), from.into(), &csv)?))
                .await?;
            (filter, value)
        }
    };
    let outcome = jq::run(&state.worker, &filter, value, state.jq_limits).await;
    state.record("query", outcome.is_ok());
    Ok(Json(QueryResponse { results: outcome? }))
}

/// JSON Patch and Merge Patch.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum PatchOperation {
    /// The RFC 6902 operations turning `from` into `to`.
    Diff,
    /// Apply RFC 6902 `patch` to `document` (all or nothing).
    Apply,
    /// Apply an RFC 7386 merge `patch` to `document`.
    Merge,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!({"operation": "apply", "document": {"foo": "bar"}, "patch": [{"op": "add", "path": "/baz", "value": "qux"}]}))]
pub struct PatchRequest {
    pub operation: PatchOperation,
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub from: Option<Value>,
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub to: Option<Value>,
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub document: Option<Value>,
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub patch: Option<Value>,
}

fn need(value: Option<Value>, field: &str) -> Result<Value, ApiError> {
    value.ok_or_else(|| ApiError::invalid_field(field, "this operation needs it"))
}

/// Diff two documents as a JSON Patch, apply a JSON Patch, or apply a Merge Patch.
#[utoipa::path(
    post,
    path = "/api/v1/data/patch",
    tag = "patches",
    request_body = PatchRequest,
    responses((status = 200, description = "`{\"result\": …}`: the patch (diff) or the patched document", body = Object))
)]
pub async fn json_patch(
    State(state): State<AppState>,
    ApiJson(r): ApiJson<PatchRequest>,
) -> Result<Json<Value>, ApiError> {
    let outcome = match r.operation {
        PatchOperation::Diff => Ok(patch::diff(&need(r.from, "from")?, &need(r.to, "to")?)),
        PatchOperation::Apply => {
            patch::apply(&need(r.document, "document")?, &need(r.patch, "patch")?)
                .map_err(ApiError::from)
        }
        PatchOperation::Merge => Ok(patch::merge(
            &need(r.document, "document")?,
            &need(r.patch, "patch")?,
        )),
    };
    state.record("patch", outcome.is_ok());
    Ok(Json(json!({ "result": outcome? })))
}

/// Render a template.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!({"template": "Hello {{ name }}, you have {{ items|length }} items", "data": {"name": "Ada", "items": [1, 2]}}))]
pub struct TemplateRequest {
    /// Jinja syntax (minijinja): `{{ value }}`, `{% for %}`, `{% if %}`, filters.
    pub template: String,
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub data: Value,
    /// Escape values for HTML (default false).
    #[serde(default)]
    pub html: bool,
    /// Undefined variables are errors instead of empty (default false).
    #[serde(default)]
    pub strict: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TemplateResponse {
    pub output: String,
}

/// Jinja-style templates for emails and reports, with a bounded run time.
#[utoipa::path(
    post,
    path = "/api/v1/data/template",
    tag = "templates",
    request_body = TemplateRequest,
    responses((status = 200, description = "The rendered text", body = TemplateResponse))
)]
pub async fn render_template(
    State(state): State<AppState>,
    ApiJson(r): ApiJson<TemplateRequest>,
) -> Result<Json<TemplateResponse>, ApiError> {
    let outcome = state
        .cpu
        .run(move || {
            template::render(&r.template, &r.data, r.html, r.strict).map_err(ApiError::from)
        })
        .await;
    state.record("template", outcome.is_ok());
    Ok(Json(TemplateResponse { output: outcome? }))
}
