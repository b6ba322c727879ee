//! HTTP surface: `GET languages` and `POST recognize`, the file in any of DESIGN.md's three
//! forms (raw body with options in the query string, multipart `file`, or JSON with base64
//! `data`).

use std::fmt::Write as _;
use std::time::Instant;

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use flowforge_service_kit::{ApiError, BinaryInput, BinaryOutput, ResponseFormat};
use http::header::CONTENT_TYPE;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::domain::engine::{Layout, Settings};
use crate::domain::input::{Page, Source};
use crate::domain::layout::{self, Block, TSV_HEADER};
use crate::domain::preprocess::{self, Binarize, Preprocess};
use crate::domain::{OcrError, check_languages};
use crate::state::AppState;

/// Every OCR route, documented.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(languages))
        .routes(routes!(recognize))
}

/// The installed languages (every `.traineddata` in the data directory) and the engine pool.
#[utoipa::path(
    get,
    path = "/api/v1/ocr/languages",
    tag = "ocr",
    responses((status = 200, description = "`{languages, default, engines: {size, available}}`", body = Object))
)]
pub async fn languages(State(state): State<AppState>) -> Json<Value> {
    Json(json!({
        "languages": *state.languages,
        "default": crate::DEFAULT_LANGUAGE,
        "engines": {"size": state.engines.size(), "available": state.engines.available()},
    }))
}

#[derive(Debug, Clone, Copy, Default, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum OutputFormat {
    /// JSON with the text of the document and of each page.
    #[default]
    Text,
    /// JSON with pages → blocks → paragraphs → lines → words, boxes and confidences.
    Json,
    /// hOCR (XHTML).
    Hocr,
    /// Tesseract's TSV, header included.
    Tsv,
    /// A searchable PDF: the page images with an invisible text layer.
    Pdf,
}

#[derive(Debug, Clone, Copy, Default, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum LayoutName {
    #[default]
    Auto,
    Column,
    Block,
    Line,
    Word,
    Sparse,
}

#[derive(Debug, Clone, Copy, Default, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum BinarizeName {
    #[default]
    None,
    Otsu,
    Adaptive,
}

#[derive(Debug, Clone, Copy, Default, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum EngineName {
    #[default]
    Lstm,
    Legacy,
}

/// Options of `recognize`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query, rename_all = "camelCase")]
pub struct RecognizeOptions {
    /// Installed languages joined by `+` (default `eng`); see `GET languages`.
    pub languages: Option<String>,
    /// auto (default), column, block, line, word, sparse (Tesseract's page segmentation).
    #[serde(default)]
    #[param(value_type = Option<LayoutName>)]
    pub layout: LayoutName,
    /// lstm (default). `legacy` needs models Debian does not ship.
    #[serde(default)]
    #[param(value_type = Option<EngineName>)]
    pub engine: EngineName,
    /// text (default), json, hocr, tsv, pdf.
    #[serde(default)]
    #[param(value_type = Option<OutputFormat>)]
    pub format: OutputFormat,
    /// The scan's resolution for images; the rendering resolution for PDF pages (default 300).
    pub dpi: Option<u32>,
    /// Only these characters may be recognized.
    pub whitelist: Option<String>,
    /// These characters are never recognized.
    pub blacklist: Option<String>,
    /// Drop words below this confidence (0–1) from the text and the structure.
    pub min_confidence: Option<f32>,
    /// Pages of a TIFF or PDF, e.g. `1-3,5` (default all).
    pub pages: Option<String>,
    /// OCR PDF pages even when they have a text layer (default false).
    #[serde(default)]
    pub force: bool,
    /// The PDF's password, if it is encrypted.
    pub password: Option<String>,
    /// Detect the page's orientation and script first (default false).
    #[serde(default)]
    pub auto_rotate: bool,
    /// Straighten text tilted up to 10° (default false).
    #[serde(default)]
    pub deskew: bool,
    /// none (default), otsu, adaptive.
    #[serde(default)]
    #[param(value_type = Option<BinarizeName>)]
    pub binarize: BinarizeName,
    /// Remove specks (3 × 3 median) (default false).
    #[serde(default)]
    pub denoise: bool,
    /// Enlarge small images so their text is big enough to read (default true).
    pub upscale: Option<bool>,
}

/// One page's result.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PageResult {
    pub page: usize,
    pub text: String,
    /// Mean word confidence 0–1 (1 for a PDF text layer).
    pub confidence: f64,
    /// `ocr`, or `textLayer` for a PDF page's own text.
    pub source: &'static str,
    /// The page's size in pixels, which every box is relative to (0 for a text layer).
    pub width: u32,
    pub height: u32,
    pub duration_ms: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<Object>>)]
    pub blocks: Option<Vec<Block>>,
}

const FILE_BODY: &str = "The image or PDF as the raw body (options in the query string), multipart \
`file` (options as fields), or JSON `{\"data\": base64, …options}`";

/// Read text from an image (PNG, JPEG, TIFF with several pages, WebP, BMP, GIF) or a PDF (pages
/// with a text layer answer it directly unless `force`; scanned pages are rendered and read).
#[utoipa::path(
    post,
    path = "/api/v1/ocr/recognize",
    tag = "ocr",
    params(RecognizeOptions),
    request_body(content = Vec<u8>, content_type = "application/octet-stream", description = FILE_BODY),
    responses(
        (status = 200, description = "JSON (text, json), XHTML (hocr), TSV (tsv) or PDF (pdf)", body = Object),
        (status = 503, description = "Every engine stayed busy past the wait limit")
    )
)]
pub async fn recognize(
    State(state): State<AppState>,
    accept: ResponseFormat,
    file: BinaryInput<RecognizeOptions>,
) -> Result<Response, ApiError> {
    let o = file.options;
    if matches!(o.engine, EngineName::Legacy) {
        return Err(ApiError::invalid_field(
            "engine",
            "the legacy engine needs legacy models, which are not installed (Debian ships LSTM-only \"fast\" models); use lstm",
        ));
    }
    let languages = check_languages(
        o.languages.as_deref().unwrap_or(crate::DEFAULT_LANGUAGE),
        &state.languages,
    )?;
    if let Some(c) = o.min_confidence
        && !(0.0..=1.0).contains(&c)
    {
        return Err(ApiError::invalid_field(
            "minConfidence",
            "must be between 0 and 1",
        ));
    }
    if let Some(dpi) = o.dpi
        && !(50..=1200).contains(&dpi)
    {
        return Err(ApiError::invalid_field(
            "dpi",
            "must be between 50 and 1200",
        ));
    }
    let format = o.format;
    let settings = Settings {
        languages: languages.clone(),
        layout: match o.layout {
            LayoutName::Auto => Layout::Auto,
            LayoutName::Column => Layout::Column,
            LayoutName::Block => Layout::Block,
            LayoutName::Line => Layout::Line,
            LayoutName::Word => Layout::Word,
            LayoutName::Sparse => Layout::Sparse,
        },
        auto_rotate: o.auto_rotate,
        dpi: o.dpi,
        whitelist: o.whitelist.filter(|w| !w.is_empty()),
        blacklist: o.blacklist.filter(|b| !b.is_empty()),
        hocr: format == OutputFormat::Hocr,
        tsv: format != OutputFormat::Text || o.min_confidence.is_some_and(|c| c > 0.0),
    };
    let steps = Preprocess {
        binarize: match o.binarize {
            BinarizeName::None => Binarize::None,
            BinarizeName::Otsu => Binarize::Otsu,
            BinarizeName::Adaptive => Binarize::Adaptive,
        },
        deskew: o.deskew,
        denoise: o.denoise,
        upscale: o.upscale.unwrap_or(true),
    };
    let min_confidence = o.min_confidence.unwrap_or(0.0);
    let (pages_wanted, password) = (o.pages, o.password);
    // A searchable PDF needs every page's image, text layer or not.
    let force = o.force || format == OutputFormat::Pdf;
    let limits = state.limits;
    let bytes = file.bytes;

    let mut loan = state.engines.borrow().await?;
    let worker_state = state.clone();
    let outcome = tokio::task::spawn_blocking(move || -> Result<Output, OcrError> {
        let source = Source::open(bytes.to_vec(), password.as_deref(), &limits)?;
        let count = source.page_count();
        let selection = match pages_wanted.as_deref() {
            Some(text) => {
                flowforge_pdf::domain::parse_ranges("pages", text, count).map_err(|e| match e {
                    flowforge_pdf::domain::PdfError::Invalid { field, message } => {
                        OcrError::Invalid { field, message }
                    }
                    other => OcrError::Internal(other.to_string()),
                })?
            }
            None => (1..=count).collect(),
        };
        if selection.len() > limits.max_pages {
            return Err(OcrError::TooLarge(format!(
                "{} pages asked; at most {} per request",
                selection.len(),
                limits.max_pages
            )));
        }
        let layers = if force {
            Default::default()
        } else {
            source.text_layers(&selection)?
        };
        let data_dir = loan.data_dir().to_path_buf();
        let mut output = Output::default();
        for (index, &number) in selection.iter().enumerate() {
            let started = Instant::now();
            let page = source.page(number, layers.get(&number), o.dpi.unwrap_or(300), &limits)?;
            let result = match page {
                Page::Text(text) => {
                    worker_state.record_page("textLayer", true, started.elapsed().as_secs_f64());
                    PageResult {
                        page: number,
                        text: text.trim_end().to_owned(),
                        confidence: 1.0,
                        source: "textLayer",
                        width: 0,
                        height: 0,
                        duration_ms: started.elapsed().as_millis() as u64,
                        blocks: (format == OutputFormat::Json).then(Vec::new),
                    }
                }
                Page::Image { image, dpi } => {
                    let gray = preprocess::prepare(&image, &steps, limits.max_side);
                    let page_settings = Settings {
                        dpi: settings.dpi.or(dpi),
                        ..settings.clone()
                    };
                    let read =
                        loan.engine()?
                            .recognize(&data_dir, &gray, &page_settings, index as i32);
                    let read = match read {
                        Ok(read) => read,
                        Err(e) => {
                            worker_state.record_page("ocr", false, 0.0);
                            return Err(e);
                        }
                    };
                    // Boxes go back in the caller's pixels, whatever size the page was read at.
                    let (width, height) = (image.width(), image.height());
                    let mut read = read;
                    if let Some(rescale) =
                        layout::Rescale::between(gray.dimensions(), (width, height))
                    {
                        read.tsv = rescale.tsv(&read.tsv);
                        read.hocr = read.hocr.map(|hocr| rescale.hocr(&hocr));
                    }
                    let blocks = layout::structure(&read.tsv, width, height, min_confidence);
                    let text = if min_confidence > 0.0 {
                        layout::text_of(&blocks)
                    } else {
                        read.text.trim_end().to_owned()
                    };
                    if format == OutputFormat::Tsv {
                        output.tsv.push_str(&read.tsv);
                    }
                    if let Some(hocr) = read.hocr {
                        output.hocr.push_str(&hocr);
                    }
                    if format == OutputFormat::Pdf {
                        output
                            .scans
                            .push(scanned_page(&image, &blocks, page_settings.dpi)?);
                    }
                    worker_state.record_page("ocr", true, started.elapsed().as_secs_f64());
                    PageResult {
                        page: number,
                        text,
                        confidence: read.confidence,
                        source: "ocr",
                        width,
                        height,
                        duration_ms: started.elapsed().as_millis() as u64,
                        blocks: (format == OutputFormat::Json).then_some(blocks),
                    }
                }
            };
            output.pages.push(result);
        }
        Ok(output)
    })
    .await
    .map_err(ApiError::internal)??;

    let engine = json!({
        "name": "tesseract",
        "version": tesseract::plumbing::version().to_string_lossy(),
        "languages": languages,
        "engine": "lstm",
    });
    Ok(match format {
        OutputFormat::Text | OutputFormat::Json => {
            let text = outcome
                .pages
                .iter()
                .map(|p| p.text.as_str())
                .collect::<Vec<_>>()
                .join("\n\u{c}\n");
            Json(json!({"text": text, "pages": outcome.pages, "engine": engine})).into_response()
        }
        OutputFormat::Tsv => {
            let body = format!("{TSV_HEADER}\n{}", outcome.tsv);
            (
                [(CONTENT_TYPE, "text/tab-separated-values; charset=utf-8")],
                body,
            )
                .into_response()
        }
        OutputFormat::Hocr => {
            let body = hocr_document(&outcome.hocr);
            (
                [(CONTENT_TYPE, "application/xhtml+xml; charset=utf-8")],
                body,
            )
                .into_response()
        }
        OutputFormat::Pdf => {
            let limits = flowforge_pdf::domain::PdfLimits::default();
            let mut document =
                flowforge_pdf::domain::searchable::searchable(&outcome.scans, &limits)
                    .map_err(|e| ApiError::internal(e.to_string()))?;
            let bytes = flowforge_pdf::domain::save(&mut document)
                .map_err(|e| ApiError::internal(e.to_string()))?;
            BinaryOutput {
                bytes: bytes.into(),
                content_type: "application/pdf".to_owned(),
                filename: "searchable.pdf".to_owned(),
            }
            .into_response_as(accept)
        }
    })
}

/// What the pages produced, per output format.
#[derive(Default)]
struct Output {
    pages: Vec<PageResult>,
    tsv: String,
    hocr: String,
    scans: Vec<flowforge_pdf::domain::searchable::ScannedPage>,
}

/// A page for the searchable PDF: the original image as JPEG under its words' boxes.
fn scanned_page(
    image: &image::DynamicImage,
    blocks: &[Block],
    dpi: Option<u32>,
) -> Result<flowforge_pdf::domain::searchable::ScannedPage, OcrError> {
    let mut jpeg = std::io::Cursor::new(Vec::new());
    image::DynamicImage::ImageRgb8(image.to_rgb8())
        .write_to(&mut jpeg, image::ImageFormat::Jpeg)
        .map_err(crate::domain::internal)?;
    let words = layout::words(blocks)
        .map(|w| {
            (
                w.text.clone(),
                [w.bbox.x, w.bbox.y, w.bbox.width, w.bbox.height],
            )
        })
        .collect();
    Ok(flowforge_pdf::domain::searchable::ScannedPage {
        image: jpeg.into_inner(),
        width_px: image.width(),
        height_px: image.height(),
        dpi: dpi.unwrap_or(300) as f32,
        words,
    })
}

/// hOCR pages wrapped as Tesseract's own renderer wraps them: a complete XHTML document.
fn hocr_document(pages: &str) -> String {
    let mut out = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
<!DOCTYPE html PUBLIC \"-//W3C//DTD XHTML 1.0 Transitional//EN\"\n    \"http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd\">\n\
<html xmlns=\"http://www.w3.org/1999/xhtml\" xml:lang=\"en\" lang=\"en\">\n <head>\n  <title></title>\n\
  <meta http-equiv=\"Content-Type\" content=\"text/html;charset=utf-8\"/>\n",
    );
    let _ = writeln!(
        out,
        "  <meta name='ocr-system' content='tesseract {}' />",
        tesseract::plumbing::version().to_string_lossy()
    );
    out.push_str(
        "  <meta name='ocr-capabilities' content='ocr_page ocr_carea ocr_par ocr_line ocrx_word ocrp_wconf'/>\n </head>\n <body>\n",
    );
    out.push_str(pages);
    out.push_str(" </body>\n</html>\n");
    out
}
