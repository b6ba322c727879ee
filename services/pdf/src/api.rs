//! HTTP surface: every operation on a PDF takes it in any of DESIGN.md's three forms (raw body
//! with options in the query string, multipart `file`, or JSON with base64 `data`) and answers
//! with the file (raw with Content-Disposition, or base64 JSON on `Accept: application/json`).
//! An encrypted input opens with its `password` option; what comes back is not encrypted.

use std::collections::BTreeMap;
use std::io::Write as _;

use axum::Json;
use axum::extract::State;
use axum::response::Response;
use flowforge_service_kit::{
    ApiError, ApiJson, BinaryFiles, BinaryInput, BinaryOutput, ResponseFormat,
};
use lopdf::Document;
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::domain::compress::{self, CompressOptions};
use crate::domain::generate::{self, markdown, model};
use crate::domain::images::{self, ImagePage};
use crate::domain::pages::{self, SplitMode};
use crate::domain::render::{self, RenderFormat};
use crate::domain::security::{self, Algorithm, Protection};
use crate::domain::stamp::{self, PageNumbers, Position, Watermark};
use crate::domain::{self, Deadline, PdfError, PdfLimits, info, parse_ranges, text};
use crate::state::AppState;

/// Every PDF route, documented.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(generate))
        .routes(routes!(merge))
        .routes(routes!(split))
        .routes(routes!(extract_pages))
        .routes(routes!(remove_pages))
        .routes(routes!(rotate_pages))
        .routes(routes!(reorder_pages))
        .routes(routes!(extract_text))
        .routes(routes!(document_info))
        .routes(routes!(metadata))
        .routes(routes!(watermark))
        .routes(routes!(page_numbers))
        .routes(routes!(encrypt))
        .routes(routes!(decrypt))
        .routes(routes!(compress_document))
        .routes(routes!(images_to_pdf))
        .routes(routes!(render_pages))
}

const FILE_BODY: &str = "The PDF as the raw body (options in the query string), multipart `file` \
(options as fields), or JSON `{\"data\": base64, …options}`";

const PDF: &str = "application/pdf";

/// The file name offered for a result: the input's stem with a suffix.
fn output_name(input: Option<&str>, suffix: &str, extension: &str) -> String {
    let stem = input
        .and_then(|n| n.rsplit(['/', '\\']).next())
        .map(|n| {
            n.strip_suffix(".pdf")
                .or_else(|| n.strip_suffix(".PDF"))
                .unwrap_or(n)
        })
        .filter(|n| !n.is_empty())
        .unwrap_or("document");
    format!("{stem}-{suffix}.{extension}")
}

fn pdf_output(bytes: Vec<u8>, filename: String) -> BinaryOutput {
    BinaryOutput {
        bytes: bytes.into(),
        content_type: PDF.to_owned(),
        filename,
    }
}

/// Runs `work` on the CPU pool with the request's limits and deadline, counts the operation, and
/// answers the file it makes (raw, or base64 JSON as the client asked).
async fn respond<F>(
    state: &AppState,
    operation: &'static str,
    accept: ResponseFormat,
    work: F,
) -> Result<Response, ApiError>
where
    F: FnOnce(&PdfLimits, Deadline) -> Result<BinaryOutput, ApiError> + Send + 'static,
{
    let limits = state.limits;
    let deadline = state.deadline();
    let outcome = state.cpu.run(move || work(&limits, deadline)).await;
    state.record(operation, outcome.is_ok());
    Ok(outcome?.into_response_as(accept))
}

/// Several files as one ZIP. They are stored, not deflated: PDFs and images are compressed
/// already, so storing is as small and much faster.
fn zip_archive(
    entries: impl IntoIterator<Item = (String, Vec<u8>)>,
    filename: String,
) -> Result<BinaryOutput, PdfError> {
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let stored =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    for (name, bytes) in entries {
        zip.start_file(name, stored).map_err(domain::internal)?;
        zip.write_all(&bytes).map_err(domain::internal)?;
    }
    let archive = zip.finish().map_err(domain::internal)?.into_inner();
    Ok(BinaryOutput {
        bytes: archive.into(),
        content_type: "application/zip".to_owned(),
        filename,
    })
}

/// Refuses more files than one request may carry.
fn check_file_count(count: usize, limits: &PdfLimits, what: &str) -> Result<(), ApiError> {
    if count > limits.max_files {
        return Err(ApiError::new(
            http::StatusCode::PAYLOAD_TOO_LARGE,
            "PAYLOAD_TOO_LARGE",
            format!("at most {} {what} per request", limits.max_files),
        ));
    }
    Ok(())
}

/// Loads the input, runs `work` on the CPU pool, saves what it returns and answers the file.
async fn transform<F>(
    state: &AppState,
    operation: &'static str,
    accept: ResponseFormat,
    file: (bytes::Bytes, Option<String>),
    password: Option<String>,
    work: F,
) -> Result<Response, ApiError>
where
    F: FnOnce(Document, &PdfLimits, Deadline) -> Result<Document, PdfError> + Send + 'static,
{
    let (bytes, filename) = file;
    respond(state, operation, accept, move |limits, deadline| {
        let document = domain::load(&bytes, password.as_deref(), limits)?;
        drop(bytes);
        let mut result = work(document, limits, deadline)?;
        let saved = domain::save(&mut result)?;
        Ok(pdf_output(
            saved,
            output_name(filename.as_deref(), operation, "pdf"),
        ))
    })
    .await
}

/// A page selection against a loaded document (`None` = every page).
fn selection(field: &str, text: Option<&str>, document: &Document) -> Result<Vec<usize>, PdfError> {
    let count = document.get_pages().len();
    match text {
        Some(text) => parse_ranges(field, text, count),
        None => Ok((1..=count).collect()),
    }
}

// ---------------------------------------------------------------------------------------------
// generate

/// A document to generate: exactly one of `document`, `markdown`, `template` or `templateName`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GenerateRequest {
    /// The JSON document model: `{page, title, author, fontSize, header, footer, content: [blocks]}`;
    /// blocks are heading, paragraph, list, table, image, code, quote, rule, spacer, pageBreak.
    #[schema(value_type = Option<Object>)]
    pub document: Option<model::DocumentModel>,
    /// Markdown (CommonMark with tables); `<!-- pagebreak -->` breaks the page.
    pub markdown: Option<String>,
    /// A Markdown template (Jinja syntax) filled with `data`.
    pub template: Option<String>,
    /// A built-in template filled with `data`: `invoice`.
    pub template_name: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub data: Option<Value>,
    /// Page options for Markdown and templates: `{size, orientation, margins}`.
    #[schema(value_type = Option<Object>)]
    pub page: Option<model::PageOptions>,
    pub title: Option<String>,
    pub author: Option<String>,
    pub font_size: Option<f32>,
    /// `{text, align}` with `{page}` and `{pages}`.
    #[schema(value_type = Option<Object>)]
    pub header: Option<model::Band>,
    #[schema(value_type = Option<Object>)]
    pub footer: Option<model::Band>,
}

impl GenerateRequest {
    fn into_model(self) -> Result<model::DocumentModel, ApiError> {
        let sources = [
            self.document.is_some(),
            self.markdown.is_some(),
            self.template.is_some(),
            self.template_name.is_some(),
        ];
        if sources.iter().filter(|s| **s).count() != 1 {
            return Err(ApiError::invalid_field(
                "document",
                "give exactly one of document, markdown, template or templateName",
            ));
        }
        if let Some(document) = self.document {
            return Ok(document);
        }
        let markdown = match (self.markdown, self.template, self.template_name) {
            (Some(markdown), _, _) => markdown,
            (_, Some(template), _) => {
                generate::render_template(&template, &self.data.unwrap_or(Value::Null))?
            }
            (_, _, Some(name)) => {
                let template = generate::builtin_template(&name).ok_or_else(|| {
                    ApiError::invalid_field("templateName", "unknown template; built in: invoice")
                })?;
                let data = self.data.ok_or_else(|| {
                    ApiError::invalid_field("data", "the template needs its data")
                })?;
                generate::render_template(template, &data)?
            }
            _ => unreachable!("one source was checked above"),
        };
        Ok(model::DocumentModel {
            page: self.page.unwrap_or_default(),
            title: self.title,
            author: self.author,
            font_size: self.font_size,
            header: self.header,
            footer: self.footer,
            content: markdown::to_blocks(&markdown),
        })
    }
}

/// Generate a PDF from a JSON document model, Markdown, or a template with data (fonts are
/// embedded subsets, so any UTF-8 text the fonts cover prints and extracts again).
#[utoipa::path(
    post,
    path = "/api/v1/pdf/generate",
    tag = "pdf",
    request_body = GenerateRequest,
    responses((status = 200, description = "The PDF", content_type = "application/pdf"))
)]
pub async fn generate(
    State(state): State<AppState>,
    accept: ResponseFormat,
    ApiJson(request): ApiJson<GenerateRequest>,
) -> Result<Response, ApiError> {
    let model = request.into_model()?;
    respond(&state, "generate", accept, move |limits, deadline| {
        let mut document = generate::from_model(&model, limits, deadline)?;
        let bytes = domain::save(&mut document)?;
        Ok(pdf_output(bytes, "document.pdf".to_owned()))
    })
    .await
}

// ---------------------------------------------------------------------------------------------
// merge and split

/// Options of `merge`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query, rename_all = "camelCase")]
pub struct MergeOptions {
    /// A password tried on every encrypted input.
    pub password: Option<String>,
    /// An outline with a bookmark at the start of each file, titled by its file name (default
    /// true).
    pub bookmarks: Option<bool>,
}

/// Merge PDFs in the order sent (multipart: repeated `file` fields; JSON: `files` array).
#[utoipa::path(
    post,
    path = "/api/v1/pdf/merge",
    tag = "pdf",
    params(MergeOptions),
    request_body(content = Vec<u8>, content_type = "multipart/form-data", description = "Repeated `file` fields, or JSON `{\"files\": [{\"data\": base64}, …]}`"),
    responses((status = 200, description = "The merged PDF", content_type = "application/pdf"))
)]
pub async fn merge(
    State(state): State<AppState>,
    accept: ResponseFormat,
    input: BinaryFiles<MergeOptions>,
) -> Result<Response, ApiError> {
    check_file_count(input.files.len(), &state.limits, "files")?;
    let password = input.options.password;
    let titles: Option<Vec<String>> = input.options.bookmarks.unwrap_or(true).then(|| {
        input
            .files
            .iter()
            .enumerate()
            .map(|(i, f)| {
                f.filename
                    .as_deref()
                    .map(|n| {
                        n.trim_end_matches(".pdf")
                            .trim_end_matches(".PDF")
                            .to_owned()
                    })
                    .filter(|n| !n.is_empty())
                    .unwrap_or_else(|| format!("Document {}", i + 1))
            })
            .collect()
    });
    let files = input.files;
    respond(&state, "merge", accept, move |limits, deadline| {
        let mut documents = Vec::with_capacity(files.len());
        for (i, file) in files.iter().enumerate() {
            deadline.check()?;
            let document = domain::load(&file.bytes, password.as_deref(), limits)
                .map_err(|e| numbered(e, i))?;
            documents.push(document);
        }
        drop(files);
        let mut merged = pages::merge(&documents, titles.as_deref(), limits, deadline)?;
        drop(documents);
        Ok(pdf_output(
            domain::save(&mut merged)?,
            "merged.pdf".to_owned(),
        ))
    })
    .await
}

/// Says which file an error is about.
fn numbered(error: PdfError, index: usize) -> PdfError {
    let prefix = |m: String| format!("file {}: {m}", index + 1);
    match error {
        PdfError::Corrupt(m) => PdfError::Corrupt(prefix(m)),
        PdfError::Unsupported(m) => PdfError::Unsupported(prefix(m)),
        PdfError::TooLarge(m) => PdfError::TooLarge(prefix(m)),
        PdfError::PasswordRequired(m) => PdfError::PasswordRequired(prefix(m)),
        PdfError::WrongPassword(m) => PdfError::WrongPassword(prefix(m)),
        other => other,
    }
}

/// Options of `split`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query, rename_all = "camelCase")]
pub struct SplitOptions {
    /// Parts as page ranges separated by `;`, e.g. `1-3;4-6;7-`.
    pub ranges: Option<String>,
    /// Parts of this many pages (default 1: one file per page).
    pub every: Option<usize>,
    pub password: Option<String>,
}

/// Split into parts (by ranges, or every N pages; default one file per page), answered as a ZIP
/// of `part-1.pdf`, `part-2.pdf`, … in order.
#[utoipa::path(
    post,
    path = "/api/v1/pdf/split",
    tag = "pdf",
    params(SplitOptions),
    request_body(content = Vec<u8>, content_type = "application/pdf", description = FILE_BODY),
    responses((status = 200, description = "A ZIP of the parts", content_type = "application/zip"))
)]
pub async fn split(
    State(state): State<AppState>,
    accept: ResponseFormat,
    file: BinaryInput<SplitOptions>,
) -> Result<Response, ApiError> {
    let options = file.options;
    let mode = match (options.ranges, options.every) {
        (Some(_), Some(_)) => {
            return Err(ApiError::invalid_field(
                "ranges",
                "give ranges or every, not both",
            ));
        }
        (Some(ranges), None) => {
            SplitMode::Ranges(ranges.split(';').map(|r| r.trim().to_owned()).collect())
        }
        (None, every) => SplitMode::Every(every.unwrap_or(1)),
    };
    let (bytes, filename, password) = (file.bytes, file.filename, options.password);
    respond(&state, "split", accept, move |limits, deadline| {
        let document = domain::load(&bytes, password.as_deref(), limits)?;
        let parts = pages::split(&document, &mode, limits, deadline)?
            .into_iter()
            .enumerate()
            .map(|(i, (_, mut part))| Ok((format!("part-{}.pdf", i + 1), domain::save(&mut part)?)))
            .collect::<Result<Vec<_>, PdfError>>()?;
        Ok(zip_archive(
            parts,
            output_name(filename.as_deref(), "parts", "zip"),
        )?)
    })
    .await
}

// ---------------------------------------------------------------------------------------------
// pages

/// Options naming pages.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query, rename_all = "camelCase")]
pub struct PagesOptions {
    /// Pages such as `1-3,5,8-`, `last`, `odd`, `even`.
    pub pages: String,
    pub password: Option<String>,
}

/// Keep only the given pages, in the order given (`3,1` puts page 3 first).
#[utoipa::path(
    post,
    path = "/api/v1/pdf/pages/extract",
    tag = "pdf",
    params(PagesOptions),
    request_body(content = Vec<u8>, content_type = "application/pdf", description = FILE_BODY),
    responses((status = 200, description = "The selected pages", content_type = "application/pdf"))
)]
pub async fn extract_pages(
    State(state): State<AppState>,
    accept: ResponseFormat,
    file: BinaryInput<PagesOptions>,
) -> Result<Response, ApiError> {
    let PagesOptions {
        pages: wanted,
        password,
    } = file.options;
    transform(
        &state,
        "extract",
        accept,
        (file.bytes, file.filename),
        password,
        move |document, limits, _| {
            let pages = parse_ranges("pages", &wanted, document.get_pages().len())?;
            let with_rotation: Vec<(usize, i64)> = pages.into_iter().map(|p| (p, 0)).collect();
            pages::select(&document, &with_rotation, limits)
        },
    )
    .await
}

/// Remove the given pages.
#[utoipa::path(
    post,
    path = "/api/v1/pdf/pages/remove",
    tag = "pdf",
    params(PagesOptions),
    request_body(content = Vec<u8>, content_type = "application/pdf", description = FILE_BODY),
    responses((status = 200, description = "The remaining pages", content_type = "application/pdf"))
)]
pub async fn remove_pages(
    State(state): State<AppState>,
    accept: ResponseFormat,
    file: BinaryInput<PagesOptions>,
) -> Result<Response, ApiError> {
    let PagesOptions {
        pages: unwanted,
        password,
    } = file.options;
    transform(
        &state,
        "remove",
        accept,
        (file.bytes, file.filename),
        password,
        move |document, limits, _| {
            let pages = parse_ranges("pages", &unwanted, document.get_pages().len())?;
            pages::remove(&document, &pages, limits)
        },
    )
    .await
}

/// Options of `pages/rotate`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query, rename_all = "camelCase")]
pub struct RotateOptions {
    /// Clockwise, a multiple of 90 (negative turns the other way).
    pub degrees: i64,
    /// Pages to turn (default all).
    pub pages: Option<String>,
    pub password: Option<String>,
}

/// Turn pages by a multiple of 90 degrees.
#[utoipa::path(
    post,
    path = "/api/v1/pdf/pages/rotate",
    tag = "pdf",
    params(RotateOptions),
    request_body(content = Vec<u8>, content_type = "application/pdf", description = FILE_BODY),
    responses((status = 200, description = "The turned document", content_type = "application/pdf"))
)]
pub async fn rotate_pages(
    State(state): State<AppState>,
    accept: ResponseFormat,
    file: BinaryInput<RotateOptions>,
) -> Result<Response, ApiError> {
    let RotateOptions {
        degrees,
        pages: wanted,
        password,
    } = file.options;
    transform(
        &state,
        "rotate",
        accept,
        (file.bytes, file.filename),
        password,
        move |document, limits, _| {
            let pages = selection("pages", wanted.as_deref(), &document)?;
            pages::rotate(&document, &pages, degrees, limits)
        },
    )
    .await
}

/// Options of `pages/reorder`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query, rename_all = "camelCase")]
pub struct ReorderOptions {
    /// Every page once, in the new order, e.g. `3,1,2` or `3-1`.
    pub order: String,
    pub password: Option<String>,
}

/// Put the pages in a new order.
#[utoipa::path(
    post,
    path = "/api/v1/pdf/pages/reorder",
    tag = "pdf",
    params(ReorderOptions),
    request_body(content = Vec<u8>, content_type = "application/pdf", description = FILE_BODY),
    responses((status = 200, description = "The reordered document", content_type = "application/pdf"))
)]
pub async fn reorder_pages(
    State(state): State<AppState>,
    accept: ResponseFormat,
    file: BinaryInput<ReorderOptions>,
) -> Result<Response, ApiError> {
    let ReorderOptions { order, password } = file.options;
    transform(
        &state,
        "reorder",
        accept,
        (file.bytes, file.filename),
        password,
        move |document, limits, _| {
            let order = parse_ranges("order", &order, document.get_pages().len())?;
            pages::reorder(&document, &order, limits)
        },
    )
    .await
}

// ---------------------------------------------------------------------------------------------
// reading

/// Options of `text`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query, rename_all = "camelCase")]
pub struct TextOptions {
    /// Pages to read (default all).
    pub pages: Option<String>,
    pub password: Option<String>,
}

/// The text of the document and of each page (with its page number). Pages are joined with a
/// form feed in `text`, as `pdftotext` does.
#[utoipa::path(
    post,
    path = "/api/v1/pdf/text",
    tag = "pdf",
    params(TextOptions),
    request_body(content = Vec<u8>, content_type = "application/pdf", description = FILE_BODY),
    responses((status = 200, description = "`{pageCount, text, pages: [{page, text}]}`", body = Object))
)]
pub async fn extract_text(
    State(state): State<AppState>,
    file: BinaryInput<TextOptions>,
) -> Result<Json<Value>, ApiError> {
    let limits = state.limits;
    let deadline = state.deadline();
    let TextOptions {
        pages: wanted,
        password,
    } = file.options;
    let bytes = file.bytes;
    let outcome = state
        .cpu
        .run(move || {
            let document = domain::load(&bytes, password.as_deref(), &limits)?;
            let pages = selection("pages", wanted.as_deref(), &document)?;
            let texts = text::extract(&document, &pages, &limits, deadline)?;
            Ok(json!({
                "pageCount": document.get_pages().len(),
                "text": text::join(&texts),
                "pages": texts,
            }))
        })
        .await;
    state.record("text", outcome.is_ok());
    Ok(Json(outcome?))
}

/// Options of `info`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query, rename_all = "camelCase")]
pub struct InfoOptions {
    pub password: Option<String>,
}

/// Page count and sizes, PDF version, metadata, fonts, image count, outline and form presence,
/// encryption and permissions. An encrypted file without its password still answers
/// `{encrypted: true, passwordRequired: true}`.
#[utoipa::path(
    post,
    path = "/api/v1/pdf/info",
    tag = "pdf",
    params(InfoOptions),
    request_body(content = Vec<u8>, content_type = "application/pdf", description = FILE_BODY),
    responses((status = 200, description = "What the document is", body = Object))
)]
pub async fn document_info(
    State(state): State<AppState>,
    file: BinaryInput<InfoOptions>,
) -> Result<Json<Value>, ApiError> {
    let limits = state.limits;
    let password = file.options.password;
    let bytes = file.bytes;
    let size = bytes.len();
    let outcome = state
        .cpu
        .run(
            move || match domain::load(&bytes, password.as_deref(), &limits) {
                Ok(document) => {
                    let mut value =
                        serde_json::to_value(info::info(&document)).map_err(domain::internal)?;
                    value["fileSize"] = json!(size);
                    value["permissions"] = json!(security::granted(&document));
                    Ok(value)
                }
                Err(PdfError::PasswordRequired(_)) if password.is_none() => Ok(json!({
                    "encrypted": true,
                    "passwordRequired": true,
                    "fileSize": size,
                })),
                Err(e) => Err(e.into()),
            },
        )
        .await;
    state.record("info", outcome.is_ok());
    Ok(Json(outcome?))
}

// ---------------------------------------------------------------------------------------------
// writing onto documents

/// Options of `metadata`: each given key is set; an empty value removes it.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query, rename_all = "camelCase")]
pub struct MetadataOptions {
    pub title: Option<String>,
    pub author: Option<String>,
    pub subject: Option<String>,
    pub keywords: Option<String>,
    pub creator: Option<String>,
    pub producer: Option<String>,
    /// PDF date form, `D:YYYYMMDDHHmmSSZ`.
    pub creation_date: Option<String>,
    pub mod_date: Option<String>,
    pub password: Option<String>,
}

/// Set or remove document metadata (title, author, subject, keywords, creator, producer, dates).
#[utoipa::path(
    post,
    path = "/api/v1/pdf/metadata",
    tag = "pdf",
    params(MetadataOptions),
    request_body(content = Vec<u8>, content_type = "application/pdf", description = FILE_BODY),
    responses((status = 200, description = "The document with its new metadata", content_type = "application/pdf"))
)]
pub async fn metadata(
    State(state): State<AppState>,
    accept: ResponseFormat,
    file: BinaryInput<MetadataOptions>,
) -> Result<Response, ApiError> {
    let o = file.options;
    let mut changes = BTreeMap::new();
    for (key, value) in [
        ("title", o.title),
        ("author", o.author),
        ("subject", o.subject),
        ("keywords", o.keywords),
        ("creator", o.creator),
        ("producer", o.producer),
        ("creationDate", o.creation_date),
        ("modDate", o.mod_date),
    ] {
        if let Some(value) = value {
            changes.insert(key.to_owned(), Some(value).filter(|v| !v.is_empty()));
        }
    }
    if changes.is_empty() {
        return Err(ApiError::invalid_field(
            "title",
            "give at least one metadata key to set",
        ));
    }
    transform(
        &state,
        "metadata",
        accept,
        (file.bytes, file.filename),
        o.password,
        move |mut document, _, _| {
            info::set_metadata(&mut document, &changes)?;
            Ok(document)
        },
    )
    .await
}

fn position(field: &str, text: Option<&str>, default: Position) -> Result<Position, ApiError> {
    match text {
        None => Ok(default),
        Some(text) => Position::parse(text).ok_or_else(|| {
            ApiError::invalid_field(
                field,
                "one of top-left, top-center, top-right, center, bottom-left, bottom-center, bottom-right",
            )
        }),
    }
}

/// Options of `watermark`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query, rename_all = "camelCase")]
pub struct WatermarkOptions {
    pub text: String,
    /// Points (default 60).
    pub size: Option<f32>,
    /// `#rrggbb` (default #808080).
    pub color: Option<String>,
    /// 0–1 (default 0.3).
    pub opacity: Option<f32>,
    /// Degrees counter-clockwise (default 45).
    pub rotation: Option<f32>,
    /// Default center.
    pub position: Option<String>,
    /// Draw under the page's content (default false: over it).
    pub behind: Option<bool>,
    /// Pages to mark (default all).
    pub pages: Option<String>,
    pub password: Option<String>,
}

/// Stamp a text watermark (size, color, opacity, rotation, position, pages).
#[utoipa::path(
    post,
    path = "/api/v1/pdf/watermark",
    tag = "pdf",
    params(WatermarkOptions),
    request_body(content = Vec<u8>, content_type = "application/pdf", description = FILE_BODY),
    responses((status = 200, description = "The watermarked document", content_type = "application/pdf"))
)]
pub async fn watermark(
    State(state): State<AppState>,
    accept: ResponseFormat,
    file: BinaryInput<WatermarkOptions>,
) -> Result<Response, ApiError> {
    let o = file.options;
    let mark = Watermark {
        text: o.text,
        size: o.size.unwrap_or(60.0),
        color: o.color.unwrap_or_else(|| "#808080".into()),
        opacity: o.opacity.unwrap_or(0.3),
        rotation: o.rotation.unwrap_or(45.0),
        position: position("position", o.position.as_deref(), Position::Center)?,
        behind: o.behind.unwrap_or(false),
    };
    let wanted = o.pages;
    transform(
        &state,
        "watermark",
        accept,
        (file.bytes, file.filename),
        o.password,
        move |mut document, _, deadline| {
            let pages = selection("pages", wanted.as_deref(), &document)?;
            stamp::watermark(&mut document, &pages, &mark, deadline)?;
            Ok(document)
        },
    )
    .await
}

/// Options of `page-numbers`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query, rename_all = "camelCase")]
pub struct PageNumberOptions {
    /// With `{page}` and `{pages}` (default `{page}`).
    pub format: Option<String>,
    /// Default bottom-center.
    pub position: Option<String>,
    /// Points (default 10).
    pub size: Option<f32>,
    pub color: Option<String>,
    /// The first number shown (default 1).
    pub start: Option<i64>,
    /// Distance from the page edge in points (default 28).
    pub margin: Option<f32>,
    /// Pages to number (default all).
    pub pages: Option<String>,
    pub password: Option<String>,
}

/// Number the pages.
#[utoipa::path(
    post,
    path = "/api/v1/pdf/page-numbers",
    tag = "pdf",
    params(PageNumberOptions),
    request_body(content = Vec<u8>, content_type = "application/pdf", description = FILE_BODY),
    responses((status = 200, description = "The numbered document", content_type = "application/pdf"))
)]
pub async fn page_numbers(
    State(state): State<AppState>,
    accept: ResponseFormat,
    file: BinaryInput<PageNumberOptions>,
) -> Result<Response, ApiError> {
    let o = file.options;
    let numbers = PageNumbers {
        format: o.format.unwrap_or_else(|| "{page}".into()),
        size: o.size.unwrap_or(10.0),
        color: o.color.unwrap_or_else(|| "#000000".into()),
        position: position("position", o.position.as_deref(), Position::BottomCenter)?,
        start: o.start.unwrap_or(1),
        margin: o.margin.unwrap_or(28.0),
    };
    if !(0.0..=500.0).contains(&numbers.margin) {
        return Err(ApiError::invalid_field(
            "margin",
            "must be between 0 and 500 points",
        ));
    }
    let wanted = o.pages;
    transform(
        &state,
        "page-numbers",
        accept,
        (file.bytes, file.filename),
        o.password,
        move |mut document, _, deadline| {
            let pages = selection("pages", wanted.as_deref(), &document)?;
            stamp::page_numbers(&mut document, &pages, &numbers, deadline)?;
            Ok(document)
        },
    )
    .await
}

// ---------------------------------------------------------------------------------------------
// security

#[derive(Debug, Clone, Copy, Default, Deserialize, ToSchema)]
pub enum AlgorithmName {
    #[default]
    #[serde(rename = "aes-256")]
    Aes256,
    #[serde(rename = "aes-128")]
    Aes128,
}

/// Options of `encrypt`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query, rename_all = "camelCase")]
pub struct EncryptOptions {
    /// Needed to open the document (may be empty: opens freely, permissions still apply).
    #[serde(default)]
    pub user_password: String,
    /// Needed to change permissions (default: the user password).
    pub owner_password: Option<String>,
    /// Comma-separated grants: print, modify, copy, annotate, fillForms, accessibility,
    /// assemble, printHighQuality (default all).
    pub permissions: Option<String>,
    /// aes-256 (default) or aes-128.
    #[serde(default)]
    #[param(value_type = Option<AlgorithmName>)]
    pub algorithm: AlgorithmName,
    /// The input's own password, if it is encrypted already.
    pub password: Option<String>,
}

/// Password-protect a document (AES-256 by default) with permissions.
#[utoipa::path(
    post,
    path = "/api/v1/pdf/encrypt",
    tag = "pdf",
    params(EncryptOptions),
    request_body(content = Vec<u8>, content_type = "application/pdf", description = FILE_BODY),
    responses((status = 200, description = "The encrypted document", content_type = "application/pdf"))
)]
pub async fn encrypt(
    State(state): State<AppState>,
    accept: ResponseFormat,
    file: BinaryInput<EncryptOptions>,
) -> Result<Response, ApiError> {
    let o = file.options;
    let protection = Protection {
        user_password: o.user_password,
        owner_password: o.owner_password,
        permissions: o.permissions.map(|p| {
            p.split(',')
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
                .collect()
        }),
        algorithm: match o.algorithm {
            AlgorithmName::Aes256 => Algorithm::Aes256,
            AlgorithmName::Aes128 => Algorithm::Aes128,
        },
    };
    transform(
        &state,
        "encrypt",
        accept,
        (file.bytes, file.filename),
        o.password,
        move |mut document, _, _| {
            security::encrypt(&mut document, &protection)?;
            Ok(document)
        },
    )
    .await
}

/// Options of `decrypt`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query, rename_all = "camelCase")]
pub struct DecryptOptions {
    /// The user or owner password.
    pub password: String,
}

/// Remove a document's password (given the user or owner password).
#[utoipa::path(
    post,
    path = "/api/v1/pdf/decrypt",
    tag = "pdf",
    params(DecryptOptions),
    request_body(content = Vec<u8>, content_type = "application/pdf", description = FILE_BODY),
    responses((status = 200, description = "The document without encryption", content_type = "application/pdf"))
)]
pub async fn decrypt(
    State(state): State<AppState>,
    accept: ResponseFormat,
    file: BinaryInput<DecryptOptions>,
) -> Result<Response, ApiError> {
    let password = file.options.password;
    transform(
        &state,
        "decrypt",
        accept,
        (file.bytes, file.filename),
        Some(password),
        |document, _, _| Ok(document),
    )
    .await
}

// ---------------------------------------------------------------------------------------------
// compress and images

/// Options of `compress`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query, rename_all = "camelCase")]
pub struct CompressRequestOptions {
    /// JPEG quality for recompressed images, 1–100 (default 75).
    pub image_quality: Option<u8>,
    /// Longest side in pixels an image keeps (default 2000; 0 keeps every size).
    pub max_image_size: Option<u32>,
    pub password: Option<String>,
}

/// Make a document smaller: unused objects dropped, streams recompressed, object streams, large
/// images downsampled and re-encoded when that saves bytes. The result is never larger than the
/// input: an input that cannot shrink comes back as it was.
#[utoipa::path(
    post,
    path = "/api/v1/pdf/compress",
    tag = "pdf",
    params(CompressRequestOptions),
    request_body(content = Vec<u8>, content_type = "application/pdf", description = FILE_BODY),
    responses((status = 200, description = "The smaller document", content_type = "application/pdf"))
)]
pub async fn compress_document(
    State(state): State<AppState>,
    accept: ResponseFormat,
    file: BinaryInput<CompressRequestOptions>,
) -> Result<Response, ApiError> {
    let o = file.options;
    let options = CompressOptions {
        image_quality: o.image_quality.unwrap_or(75),
        max_image_size: match o.max_image_size {
            Some(0) => None,
            Some(n) => Some(n),
            None => Some(2000),
        },
    };
    let (bytes, filename, password) = (file.bytes, file.filename, o.password);
    respond(&state, "compress", accept, move |limits, deadline| {
        let mut document = domain::load(&bytes, password.as_deref(), limits)?;
        let was_encrypted = document.was_encrypted();
        let smaller = compress::compress(&mut document, options, limits, deadline)?;
        // The original comes back when nothing was gained, except for an encrypted input:
        // results are never encrypted, so it gets the compressed, decrypted document.
        let result = if smaller.len() < bytes.len() || was_encrypted {
            smaller
        } else {
            bytes.to_vec()
        };
        Ok(pdf_output(
            result,
            output_name(filename.as_deref(), "compressed", "pdf"),
        ))
    })
    .await
}

/// Options of `images-to-pdf`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query, rename_all = "camelCase")]
pub struct ImagesOptions {
    /// `fit` (default: each page the image's size at `dpi`), or A4, A3, A5, Letter, Legal.
    pub page_size: Option<String>,
    /// For `fit` (default 96).
    pub dpi: Option<f32>,
    /// `portrait` (default) or `landscape`, for fixed page sizes.
    pub orientation: Option<String>,
    /// Points around the image on fixed page sizes (default 36).
    pub margin: Option<f32>,
}

/// One page per image (PNG, JPEG, WebP, GIF, BMP, TIFF), in order; JPEGs are embedded without
/// re-encoding.
#[utoipa::path(
    post,
    path = "/api/v1/pdf/images-to-pdf",
    tag = "pdf",
    params(ImagesOptions),
    request_body(content = Vec<u8>, content_type = "multipart/form-data", description = "Repeated `file` fields, a raw image, or JSON `{\"files\": [{\"data\": base64}, …]}`"),
    responses((status = 200, description = "The PDF", content_type = "application/pdf"))
)]
pub async fn images_to_pdf(
    State(state): State<AppState>,
    accept: ResponseFormat,
    input: BinaryFiles<ImagesOptions>,
) -> Result<Response, ApiError> {
    check_file_count(input.files.len(), &state.limits, "images")?;
    let o = input.options;
    let page = match o.page_size.as_deref().unwrap_or("fit") {
        "fit" => {
            let dpi = o.dpi.unwrap_or(96.0);
            if !(1.0..=2400.0).contains(&dpi) {
                return Err(ApiError::invalid_field("dpi", "must be between 1 and 2400"));
            }
            ImagePage::Fit { dpi }
        }
        size => {
            let model = model::DocumentModel {
                page: model::PageOptions {
                    size: Some(size.to_owned()),
                    orientation: match o.orientation.as_deref() {
                        None | Some("portrait") => model::Orientation::Portrait,
                        Some("landscape") => model::Orientation::Landscape,
                        Some(_) => {
                            return Err(ApiError::invalid_field(
                                "orientation",
                                "portrait or landscape",
                            ));
                        }
                    },
                    margins: None,
                },
                ..model::DocumentModel::default()
            };
            let setup = generate::page_setup(&model).map_err(|e| match e {
                PdfError::Invalid { message, .. } => ApiError::invalid_field("pageSize", message),
                other => other.into(),
            })?;
            let margin = o.margin.unwrap_or(36.0);
            if !(0.0..=setup.width.min(setup.height) / 3.0).contains(&margin) {
                return Err(ApiError::invalid_field(
                    "margin",
                    "must leave room for the image",
                ));
            }
            ImagePage::Fixed {
                width: setup.width,
                height: setup.height,
                margin,
            }
        }
    };
    let files: Vec<bytes::Bytes> = input.files.into_iter().map(|f| f.bytes).collect();
    respond(&state, "images-to-pdf", accept, move |limits, _| {
        let mut document = images::images_to_pdf(&files, page, limits)?;
        info::stamp_new(&mut document, None);
        Ok(pdf_output(
            domain::save(&mut document)?,
            "images.pdf".to_owned(),
        ))
    })
    .await
}

// ---------------------------------------------------------------------------------------------
// render

#[derive(Debug, Clone, Copy, Default, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum RenderFormatName {
    #[default]
    Png,
    Jpeg,
}

/// Options of `render`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query, rename_all = "camelCase")]
pub struct RenderOptions {
    /// Pages to render (default all).
    pub pages: Option<String>,
    /// Resolution, 18–1200 (default 150).
    pub dpi: Option<f32>,
    /// png (default) or jpeg.
    #[serde(default)]
    #[param(value_type = Option<RenderFormatName>)]
    pub format: RenderFormatName,
    /// JPEG quality 1–100 (default 85).
    pub quality: Option<u8>,
    pub password: Option<String>,
}

/// Render pages to PNG or JPEG at a DPI. One page answers with the image; several with a ZIP of
/// `page-N.png` (or `.jpg`). A page past 50 megapixels at the asked DPI is refused before drawing.
#[utoipa::path(
    post,
    path = "/api/v1/pdf/render",
    tag = "pdf",
    params(RenderOptions),
    request_body(content = Vec<u8>, content_type = "application/pdf", description = FILE_BODY),
    responses((status = 200, description = "The page image, or a ZIP of page images", content_type = "image/png"))
)]
pub async fn render_pages(
    State(state): State<AppState>,
    accept: ResponseFormat,
    file: BinaryInput<RenderOptions>,
) -> Result<Response, ApiError> {
    let o = file.options;
    let format = match o.format {
        RenderFormatName::Png => RenderFormat::Png,
        RenderFormatName::Jpeg => {
            let quality = o.quality.unwrap_or(85);
            if !(1..=100).contains(&quality) {
                return Err(ApiError::invalid_field("quality", "must be 1 to 100"));
            }
            RenderFormat::Jpeg { quality }
        }
    };
    let dpi = o.dpi.unwrap_or(150.0);
    let (bytes, filename, password, pages) = (file.bytes, file.filename, o.password, o.pages);
    respond(&state, "render", accept, move |limits, deadline| {
        let mut rendered = render::render(
            bytes.to_vec(),
            password.as_deref(),
            pages.as_deref(),
            dpi,
            format,
            limits,
            deadline,
        )?;
        let extension = format.extension();
        if rendered.len() == 1 {
            let (page, image) = rendered.swap_remove(0);
            return Ok(BinaryOutput {
                bytes: image.into(),
                content_type: format.media_type().to_owned(),
                filename: output_name(filename.as_deref(), &format!("page-{page}"), extension),
            });
        }
        let entries = rendered
            .into_iter()
            .map(|(page, image)| (format!("page-{page}.{extension}"), image));
        Ok(zip_archive(
            entries,
            output_name(filename.as_deref(), "pages", "zip"),
        )?)
    })
    .await
}
