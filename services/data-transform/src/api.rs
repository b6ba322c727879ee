//! HTTP surface: one handler per operation.

mod records;
mod schema;
mod text;

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use flowforge_service_kit::{
    ApiError, ApiJson, BinaryInput, BinaryOutput, JsonOrBinary, ResponseFormat, decode_base64,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::domain::formats::{self, CsvOptions, Format, FormatOptions};
use crate::domain::sheets::SheetOptions;
use crate::domain::tables::TableOptions;
use crate::domain::xml::XmlOptions;
use crate::domain::{jq, patch, selectors, template};
use crate::state::AppState;

/// Every data-transform route, documented.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(convert))
        .routes(routes!(query))
        .routes(routes!(records::records))
        .routes(routes!(records::compare))
        .routes(routes!(schema::validate))
        .routes(routes!(schema::infer))
        .routes(routes!(json_patch))
        .routes(routes!(render_template))
        .routes(routes!(text::datetime))
        .routes(routes!(text::text))
}

/// A data format.
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
    Xml,
    /// A `<table>` of an HTML page (read) or a table (write).
    Html,
    /// A pipe table.
    Markdown,
    /// A workbook: the file itself as the body, or base64 in JSON.
    Xlsx,
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
            DataFormat::Xml => Self::Xml,
            DataFormat::Html => Self::Html,
            DataFormat::Markdown => Self::Markdown,
            DataFormat::Xlsx => Self::Xlsx,
        }
    }
}

impl DataFormat {
    fn is_binary(self) -> bool {
        Format::from(self).is_binary()
    }

    fn extension(self) -> &'static str {
        match self {
            Self::Json => "json",
            Self::Jsonl => "jsonl",
            Self::Csv => "csv",
            Self::Tsv => "tsv",
            Self::Yaml => "yaml",
            Self::Toml => "toml",
            Self::Xml => "xml",
            Self::Html => "html",
            Self::Markdown => "md",
            Self::Xlsx => "xlsx",
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
    /// The quote character (default `"`).
    #[serde(default)]
    pub quote: Option<String>,
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
        let one_character = |value: Option<&str>, field: &str| match value {
            None => Ok(None),
            Some(c) if c.len() == 1 && c.is_ascii() => Ok(Some(c.as_bytes()[0])),
            Some(_) => Err(ApiError::invalid_field(
                format!("csv.{field}"),
                "must be one ASCII character",
            )),
        };
        Ok(CsvOptions {
            delimiter: one_character(self.delimiter.as_deref(), "delimiter")?,
            quote: one_character(self.quote.as_deref(), "quote")?.unwrap_or(b'"'),
            header: self.header.unwrap_or(true),
            infer_types: self.infer_types,
            skip_rows: self.skip_rows,
        })
    }
}

/// XML naming.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct XmlSettings {
    /// Prefix of attribute fields (default `@`).
    #[serde(default)]
    pub attribute_prefix: Option<String>,
    /// The field for text beside attributes or children (default `#text`).
    #[serde(default)]
    pub text_key: Option<String>,
    /// Element names that are always arrays, even when there is one.
    #[serde(default)]
    pub arrays: Vec<String>,
    /// The root element written when the data is not one object with one field (default `root`).
    #[serde(default)]
    pub root_name: Option<String>,
    /// The element written per item of a top-level array (default `item`).
    #[serde(default)]
    pub item_name: Option<String>,
}

/// Which sheet of a workbook to read.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SheetSettings {
    /// A sheet's name (default: the first).
    #[serde(default)]
    pub name: Option<String>,
    /// Or its position from 0.
    #[serde(default)]
    pub index: Option<usize>,
    /// An A1 range, e.g. `B2:F100`.
    #[serde(default)]
    pub range: Option<String>,
}

/// Which table of an HTML page to read.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TableSettings {
    /// The table's position in the page from 0.
    #[serde(default)]
    pub index: usize,
}

/// Every format's settings; `csv.header` also decides headers of sheets and tables.
fn format_options(
    csv: &CsvSettings,
    xml: &XmlSettings,
    sheet: &SheetSettings,
    table: &TableSettings,
) -> Result<FormatOptions, ApiError> {
    let csv = csv.options()?;
    let defaults = XmlOptions::default();
    let header = csv.header;
    Ok(FormatOptions {
        xml: XmlOptions {
            attribute_prefix: xml
                .attribute_prefix
                .clone()
                .unwrap_or(defaults.attribute_prefix),
            text_key: xml.text_key.clone().unwrap_or(defaults.text_key),
            arrays: xml.arrays.clone(),
            root_name: xml.root_name.clone().unwrap_or(defaults.root_name),
            item_name: xml.item_name.clone().unwrap_or(defaults.item_name),
        },
        sheet: SheetOptions {
            sheet: sheet.name.clone(),
            sheet_index: sheet.index,
            range: sheet.range.clone(),
            header,
        },
        table: TableOptions {
            index: table.index,
            header,
        },
        csv,
    })
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
    /// `query`: the filter.
    #[serde(default)]
    pub filter: Option<String>,
    /// `query`: its language (default jq).
    #[serde(default)]
    pub language: Option<QueryLanguage>,
    #[serde(default)]
    pub delimiter: Option<String>,
    #[serde(default)]
    pub quote: Option<String>,
    #[serde(default)]
    pub header: Option<bool>,
    #[serde(default)]
    pub infer_types: bool,
    #[serde(default)]
    pub skip_rows: usize,
    /// XLSX: the sheet's name.
    #[serde(default)]
    pub sheet: Option<String>,
    /// XLSX: the sheet's position from 0.
    #[serde(default)]
    pub sheet_index: Option<usize>,
    /// XLSX: an A1 range.
    #[serde(default)]
    pub range: Option<String>,
    /// HTML: the table's position from 0.
    #[serde(default)]
    pub table_index: usize,
    /// XML: the root element written.
    #[serde(default)]
    pub root_name: Option<String>,
    /// XML: element names that are always arrays, comma-separated.
    #[serde(default)]
    pub arrays: Option<String>,
}

impl RawOptions {
    fn format_options(&self) -> Result<FormatOptions, ApiError> {
        format_options(
            &CsvSettings {
                delimiter: self.delimiter.clone(),
                quote: self.quote.clone(),
                header: self.header,
                infer_types: self.infer_types,
                skip_rows: self.skip_rows,
            },
            &XmlSettings {
                root_name: self.root_name.clone(),
                arrays: self
                    .arrays
                    .as_deref()
                    .map(|a| a.split(',').map(|n| n.trim().to_owned()).collect())
                    .unwrap_or_default(),
                ..XmlSettings::default()
            },
            &SheetSettings {
                name: self.sheet.clone(),
                index: self.sheet_index,
                range: self.range.clone(),
            },
            &TableSettings {
                index: self.table_index,
            },
        )
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
        "application/xml" | "text/xml" => DataFormat::Xml,
        "text/html" => DataFormat::Html,
        "text/markdown" => DataFormat::Markdown,
        XLSX_MEDIA_TYPE => DataFormat::Xlsx,
        _ => return None,
    })
}

const XLSX_MEDIA_TYPE: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

fn media_type(format: DataFormat) -> &'static str {
    match format {
        DataFormat::Json => "application/json",
        DataFormat::Jsonl => "application/x-ndjson",
        DataFormat::Csv => "text/csv; charset=utf-8",
        DataFormat::Tsv => "text/tab-separated-values; charset=utf-8",
        DataFormat::Yaml => "application/yaml",
        DataFormat::Toml => "application/toml",
        DataFormat::Xml => "application/xml",
        DataFormat::Html => "text/html; charset=utf-8",
        DataFormat::Markdown => "text/markdown; charset=utf-8",
        DataFormat::Xlsx => XLSX_MEDIA_TYPE,
    }
}

/// A raw body, its format and options.
fn raw_input(
    file: BinaryInput<RawOptions>,
) -> Result<(bytes::Bytes, DataFormat, RawOptions), ApiError> {
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
    Ok((file.bytes, from, file.options))
}

/// The input given as text in a format (base64 for binary formats), or as JSON already.
fn input_value(
    input: Option<String>,
    from: Option<DataFormat>,
    data: Option<Value>,
    options: &FormatOptions,
) -> Result<Value, ApiError> {
    match (input, data) {
        (Some(text), None) => {
            let from =
                from.ok_or_else(|| ApiError::invalid_field("from", "name the format of `input`"))?;
            if from.is_binary() {
                let bytes = decode_base64(&text).ok_or_else(|| {
                    ApiError::invalid_field("input", "must be base64 for a binary format")
                })?;
                return Ok(formats::parse_bytes(&bytes, from.into(), options)?);
            }
            Ok(formats::parse(&text, from.into(), options)?)
        }
        (None, Some(data)) => Ok(data),
        _ => Err(ApiError::invalid_field(
            "input",
            "give `input` (text, with `from`) or `data` (JSON)",
        )),
    }
}

/// `value` in `to`: JSON as `data`, text formats as `output`, binary ones as base64 `output`.
fn written(
    value: Value,
    to: DataFormat,
    options: &FormatOptions,
) -> Result<ConvertResponse, ApiError> {
    if to == DataFormat::Json {
        return Ok(ConvertResponse {
            format: to,
            data: Some(value),
            output: None,
            encoding: None,
        });
    }
    let bytes = formats::render_bytes(&value, to.into(), options)?;
    let (output, encoding) = if to.is_binary() {
        (
            base64::engine::general_purpose::STANDARD.encode(bytes),
            Some("base64"),
        )
    } else {
        (
            String::from_utf8(bytes).map_err(|e| ApiError::internal(e.to_string()))?,
            None,
        )
    };
    Ok(ConvertResponse {
        format: to,
        data: None,
        output: Some(output),
        encoding,
    })
}

/// A converted file as the response: text formats with their Content-Type, binary ones as a
/// download (or base64 JSON on `Accept: application/json`).
fn file_response(bytes: Vec<u8>, to: DataFormat, accept: ResponseFormat) -> Response {
    if to.is_binary() {
        return BinaryOutput {
            bytes: bytes.into(),
            content_type: media_type(to).to_owned(),
            filename: format!("converted.{}", to.extension()),
        }
        .into_response_as(accept);
    }
    ([(http::header::CONTENT_TYPE, media_type(to))], bytes).into_response()
}

/// Convert between formats.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!({"input": "name,qty\nbolt,12\n", "from": "csv", "to": "json", "csv": {"inferTypes": true}}))]
pub struct ConvertRequest {
    /// The text to convert (base64 for XLSX).
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
    #[serde(default)]
    pub xml: XmlSettings,
    #[serde(default)]
    pub sheet: SheetSettings,
    #[serde(default)]
    pub table: TableSettings,
}

impl ConvertRequest {
    fn format_options(&self) -> Result<FormatOptions, ApiError> {
        format_options(&self.csv, &self.xml, &self.sheet, &self.table)
    }
}

/// Converted data: `data` for JSON, `output` text for the others (base64 for XLSX).
#[derive(Debug, Serialize, ToSchema)]
pub struct ConvertResponse {
    pub format: DataFormat,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub data: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output: Option<String>,
    /// `base64` when `output` is a binary file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encoding: Option<&'static str>,
}

/// JSON, JSON Lines, CSV, TSV, YAML, TOML, XML, HTML and Markdown tables, and XLSX, to one
/// another.
///
/// Also takes the file itself as the body (any non-JSON Content-Type, e.g. `text/csv` or the
/// XLSX type) with `?to=json` (and `from`, `delimiter`, `quote`, `header`, `inferTypes`, `skipRows`,
/// `sheet`, `sheetIndex`, `range`, `tableIndex`, `rootName`, `arrays`) and then answers with the
/// converted file and its Content-Type (XLSX as a download, or base64 JSON on
/// `Accept: application/json`).
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
    accept: ResponseFormat,
    request: JsonOrBinary<ApiJson<ConvertRequest>, RawOptions>,
) -> Result<Response, ApiError> {
    let outcome = match request {
        JsonOrBinary::Json(ApiJson(r)) => convert_json(&state, r)
            .await
            .map(|r| Json(r).into_response()),
        JsonOrBinary::Binary(file) => convert_raw(&state, file, accept).await,
    };
    state.record("convert", outcome.is_ok());
    outcome
}

async fn convert_json(state: &AppState, r: ConvertRequest) -> Result<ConvertResponse, ApiError> {
    let options = r.format_options()?;
    state
        .cpu
        .run(move || {
            let value = input_value(r.input, r.from, r.data, &options)?;
            written(value, r.to, &options)
        })
        .await
}

async fn convert_raw(
    state: &AppState,
    file: BinaryInput<RawOptions>,
    accept: ResponseFormat,
) -> Result<Response, ApiError> {
    let (bytes, from, options) = raw_input(file)?;
    let to = options.to.ok_or_else(|| {
        ApiError::invalid_field("to", "name the format to answer in (`?to=json`)")
    })?;
    let options = options.format_options()?;
    if formats::streams(from.into(), to.into()) {
        return stream_csv(state, bytes, from, to, options.csv).await;
    }
    let output = state
        .cpu
        .run(move || {
            let value = formats::parse_bytes(&bytes, from.into(), &options)?;
            Ok(formats::render_bytes(&value, to.into(), &options)?)
        })
        .await?;
    Ok(file_response(output, to, accept))
}

/// Bytes of JSON per streamed chunk.
const STREAM_CHUNK_BYTES: usize = 256 * 1024;

/// CSV/TSV to JSON or JSON Lines as a streamed body: the input is checked whole first (so a bad
/// row is still a 422 with its line), then converted chunk by chunk while the client reads, so
/// memory stays near the input's size however large the output.
async fn stream_csv(
    state: &AppState,
    bytes: bytes::Bytes,
    from: DataFormat,
    to: DataFormat,
    csv: CsvOptions,
) -> Result<Response, ApiError> {
    let checked = bytes.clone();
    let check_options = csv.clone();
    state
        .cpu
        .run(move || {
            let text = formats::utf8(&checked)?;
            Ok(formats::check_csv(text, from.into(), &check_options)?)
        })
        .await?;
    let (sender, receiver) = tokio::sync::mpsc::channel::<bytes::Bytes>(4);
    let cpu = state.cpu.clone();
    tokio::spawn(async move {
        let produced = cpu
            .run(move || {
                let text = formats::utf8(&bytes)?;
                formats::stream_csv(
                    text,
                    from.into(),
                    to.into(),
                    &csv,
                    STREAM_CHUNK_BYTES,
                    |chunk| sender.blocking_send(bytes::Bytes::from(chunk)).is_ok(),
                )?;
                Ok(())
            })
            .await;
        if let Err(error) = produced {
            // Checked above, so only a server fault lands here; the client sees a cut body.
            tracing::error!(?error, "streaming CSV conversion failed");
        }
    });
    let chunks = futures_util::stream::unfold(receiver, |mut receiver| async move {
        receiver
            .recv()
            .await
            .map(|chunk| (Ok::<_, std::convert::Infallible>(chunk), receiver))
    });
    Ok((
        [(http::header::CONTENT_TYPE, media_type(to))],
        axum::body::Body::from_stream(chunks),
    )
        .into_response())
}

/// A query language.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum QueryLanguage {
    /// jq 1.7 with its standard library (jaq), in a sandboxed worker.
    #[default]
    Jq,
    /// RFC 9535: every selected node, in document order.
    Jsonpath,
    /// JMESPath: one result.
    Jmespath,
}

/// Run a query.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!({"filter": "map(select(.total > 10)) | sort_by(.total)", "data": [{"id": 1, "total": 30}, {"id": 2, "total": 5}]}))]
pub struct QueryRequest {
    /// The query: a jq program, a JSONPath or a JMESPath expression.
    pub filter: String,
    /// Default jq.
    #[serde(default)]
    pub language: QueryLanguage,
    /// The input as JSON (default `null`).
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub data: Value,
    /// Or the input as text in `from` (base64 for XLSX).
    #[serde(default)]
    pub input: Option<String>,
    #[serde(default)]
    pub from: Option<DataFormat>,
    /// Also write the results in this format (`output`): one result as itself, several as an
    /// array.
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
pub struct QueryResponse {
    /// Every value the query produced, in order.
    #[schema(value_type = Vec<Object>)]
    pub results: Vec<Value>,
    /// The results in `to`, when asked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output: Option<ConvertResponse>,
}

/// A query's input: parsed, or JSON text not parsed yet (a raw JSON body goes to jq as it came).
enum QueryInput {
    Value(Value),
    JsonText(bytes::Bytes),
}

/// Runs `filter` in `language` over `input`.
async fn run_query(
    state: &AppState,
    language: QueryLanguage,
    filter: String,
    input: QueryInput,
) -> Result<Vec<Value>, ApiError> {
    if language == QueryLanguage::Jq {
        let text = match input {
            QueryInput::JsonText(text) => text,
            QueryInput::Value(value) => {
                state
                    .cpu
                    .run(move || {
                        serde_json::to_vec(&value)
                            .map(bytes::Bytes::from)
                            .map_err(|e| ApiError::internal(e.to_string()))
                    })
                    .await?
            }
        };
        return Ok(jq::run(&state.worker, &filter, text, state.jq_limits).await?);
    }
    let value = match input {
        QueryInput::Value(value) => value,
        QueryInput::JsonText(text) => {
            state
                .cpu
                .run(move || {
                    Ok(formats::parse_bytes(
                        &text,
                        Format::Json,
                        &FormatOptions::default(),
                    )?)
                })
                .await?
        }
    };
    match language {
        QueryLanguage::Jq => unreachable!("answered above"),
        QueryLanguage::Jsonpath => {
            state
                .cpu
                .run(move || Ok(selectors::jsonpath(&filter, &value)?))
                .await
        }
        QueryLanguage::Jmespath => {
            state
                .cpu
                .run(move || Ok(vec![selectors::jmespath(&filter, &value)?]))
                .await
        }
    }
}

/// One result as itself, several as an array.
fn results_value(mut results: Vec<Value>) -> Value {
    if results.len() == 1 {
        results.remove(0)
    } else {
        Value::Array(results)
    }
}

/// jq, JSONPath (RFC 9535) or JMESPath over JSON or any supported format, with the results
/// optionally written in any format; runaway jq filters are stopped (422 TIMEOUT or
/// EXPRESSION_TOO_COMPLEX).
///
/// Also takes the input file itself as the body (any non-JSON Content-Type; raw JSON as
/// `application/octet-stream` with `from=json`) with `?filter=…` (and `language`); with `?to=…`
/// the answer is the results as a file in that format (CSV in → jq → XLSX out).
#[utoipa::path(
    post,
    path = "/api/v1/data/query",
    tag = "queries",
    request_body = QueryRequest,
    params(RawOptions),
    responses((status = 200, description = "The query's results", body = QueryResponse))
)]
pub async fn query(
    State(state): State<AppState>,
    accept: ResponseFormat,
    request: JsonOrBinary<ApiJson<QueryRequest>, RawOptions>,
) -> Result<Response, ApiError> {
    let outcome = query_inner(&state, accept, request).await;
    state.record("query", outcome.is_ok());
    outcome
}

async fn query_inner(
    state: &AppState,
    accept: ResponseFormat,
    request: JsonOrBinary<ApiJson<QueryRequest>, RawOptions>,
) -> Result<Response, ApiError> {
    match request {
        JsonOrBinary::Json(ApiJson(r)) => {
            let options = format_options(&r.csv, &r.xml, &r.sheet, &r.table)?;
            let from = r.from;
            // `data` may be null (jq's `null` input); it is the input unless text is given.
            let (input, data) = match r.input {
                Some(text) => (Some(text), None),
                None => (None, Some(r.data)),
            };
            let parse_options = options.clone();
            let value = state
                .cpu
                .run(move || input_value(input, from, data, &parse_options))
                .await?;
            let results = run_query(state, r.language, r.filter, QueryInput::Value(value)).await?;
            let output = match r.to {
                None => None,
                Some(to) => {
                    let value = results_value(results.clone());
                    Some(state.cpu.run(move || written(value, to, &options)).await?)
                }
            };
            Ok(Json(QueryResponse { results, output }).into_response())
        }
        JsonOrBinary::Binary(file) => {
            let (bytes, from, raw) = raw_input(file)?;
            let filter = raw
                .filter
                .clone()
                .ok_or_else(|| ApiError::invalid_field("filter", "give the query (`?filter=…`)"))?;
            let options = raw.format_options()?;
            let input = if from == DataFormat::Json {
                let bom = bytes.starts_with(b"\xEF\xBB\xBF");
                QueryInput::JsonText(if bom { bytes.slice(3..) } else { bytes })
            } else {
                let parse_options = options.clone();
                QueryInput::Value(
                    state
                        .cpu
                        .run(move || Ok(formats::parse_bytes(&bytes, from.into(), &parse_options)?))
                        .await?,
                )
            };
            let results = run_query(state, raw.language.unwrap_or_default(), filter, input).await?;
            match raw.to {
                None => Ok(Json(QueryResponse {
                    results,
                    output: None,
                })
                .into_response()),
                Some(to) => {
                    let value = results_value(results);
                    let bytes = state
                        .cpu
                        .run(move || Ok(formats::render_bytes(&value, to.into(), &options)?))
                        .await?;
                    Ok(file_response(bytes, to, accept))
                }
            }
        }
    }
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
