//! HTTP surface: every operation takes the image in any of DESIGN.md's three forms (raw body
//! with options in the query string, multipart `file`, or JSON with base64 `data`) and answers
//! with the image (raw with Content-Disposition, or base64 JSON on `Accept: application/json`).

use axum::Json;
use axum::extract::State;
use axum::response::Response;
use flowforge_service_kit::{ApiError, BinaryInput, BinaryOutput, ResponseFormat};
use serde::Deserialize;
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::domain::analysis::{self, Info};
use crate::domain::codec::{self, EncodeOptions};
use crate::domain::ops::{self, Fit, Gravity, Operation};
use crate::state::AppState;

/// Most operations in one pipeline.
const MAX_PIPELINE: usize = 10;

/// Every image route, documented.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(info))
        .routes(routes!(resize))
        .routes(routes!(crop))
        .routes(routes!(rotate))
        .routes(routes!(flip))
        .routes(routes!(flop))
        .routes(routes!(adjust))
        .routes(routes!(convert))
        .routes(routes!(pipeline))
}

#[derive(Debug, Clone, Copy, Default, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum FitMode {
    Contain,
    #[default]
    Cover,
    Fill,
    Inside,
    Outside,
}

#[derive(Debug, Clone, Copy, Default, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum GravityName {
    #[default]
    Center,
    North,
    South,
    East,
    West,
    Northeast,
    Northwest,
    Southeast,
    Southwest,
}

impl From<GravityName> for Gravity {
    fn from(g: GravityName) -> Self {
        match g {
            GravityName::Center => Self::Center,
            GravityName::North => Self::North,
            GravityName::South => Self::South,
            GravityName::East => Self::East,
            GravityName::West => Self::West,
            GravityName::Northeast => Self::NorthEast,
            GravityName::Northwest => Self::NorthWest,
            GravityName::Southeast => Self::SouthEast,
            GravityName::Southwest => Self::SouthWest,
        }
    }
}

/// Output choices every operation shares.
#[derive(Debug, Clone, Default)]
struct Output {
    format: Option<String>,
    quality: Option<u8>,
    auto_orient: Option<bool>,
}

/// The output choices of any options struct (each repeats the three fields: query strings
/// cannot be read into a flattened struct with numbers in it).
macro_rules! output_of {
    ($options:expr) => {
        Output {
            format: $options.format,
            quality: $options.quality,
            auto_orient: $options.auto_orient,
        }
    };
}

/// `#rrggbb` or `#rrggbbaa` (default transparent white).
fn color(text: Option<&str>) -> Result<image::Rgba<u8>, ApiError> {
    let Some(text) = text else {
        return Ok(image::Rgba([255, 255, 255, 0]));
    };
    let hex = text.trim_start_matches('#');
    let channel = |i: usize| u8::from_str_radix(hex.get(i..i + 2).unwrap_or("zz"), 16);
    let bad = || ApiError::invalid_field("background", "must be #rrggbb or #rrggbbaa");
    match hex.len() {
        6 => Ok(image::Rgba([
            channel(0).map_err(|_| bad())?,
            channel(2).map_err(|_| bad())?,
            channel(4).map_err(|_| bad())?,
            255,
        ])),
        8 => Ok(image::Rgba([
            channel(0).map_err(|_| bad())?,
            channel(2).map_err(|_| bad())?,
            channel(4).map_err(|_| bad())?,
            channel(6).map_err(|_| bad())?,
        ])),
        _ => Err(bad()),
    }
}

/// Decodes, applies `operations`, encodes (in the input's format unless `format` says), on the
/// CPU pool, and answers with the file.
async fn transform(
    state: &AppState,
    operation: &str,
    accept: ResponseFormat,
    bytes: bytes::Bytes,
    operations: Vec<Operation>,
    output: Output,
) -> Result<Response, ApiError> {
    let limits = state.limits;
    let outcome = state
        .cpu
        .run(move || {
            let target = output
                .format
                .as_deref()
                .map(codec::format_named)
                .transpose()?;
            let decoded = codec::decode(&bytes, &limits, output.auto_orient.unwrap_or(true))?;
            drop(bytes);
            let mut image = decoded.image;
            for operation in &operations {
                image = ops::apply(image, operation, &limits)?;
            }
            let format = target.unwrap_or(decoded.format);
            let encoded = codec::encode(
                &image,
                EncodeOptions {
                    format,
                    quality: output.quality.unwrap_or(80),
                },
                &limits,
            )?;
            Ok(BinaryOutput {
                bytes: encoded.into(),
                content_type: format.media_type().to_owned(),
                filename: format!("image.{}", format.extension()),
            })
        })
        .await;
    state.record(operation, outcome.is_ok());
    Ok(outcome?.into_response_as(accept))
}

const FILE_BODY: &str = "The image as the raw body (options in the query string), multipart `file` \
(options as fields), or JSON `{\"data\": base64, …options}`";

/// Options of `info`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query, rename_all = "camelCase")]
pub struct InfoOptions {
    /// Report the upright size (default true).
    #[serde(default)]
    pub auto_orient: Option<bool>,
}

/// Format, size, color type, alpha, EXIF orientation, metadata presence, average color and a
/// perceptual hash.
#[utoipa::path(
    post,
    path = "/api/v1/image/info",
    tag = "image",
    params(InfoOptions),
    request_body(content = Vec<u8>, content_type = "application/octet-stream", description = FILE_BODY),
    responses((status = 200, description = "What the image is", body = Object))
)]
pub async fn info(
    State(state): State<AppState>,
    file: BinaryInput<InfoOptions>,
) -> Result<Json<Value>, ApiError> {
    let limits = state.limits;
    let auto_orient = file.options.auto_orient.unwrap_or(true);
    let bytes = file.bytes;
    let outcome = state
        .cpu
        .run(move || {
            let decoded = codec::decode(&bytes, &limits, auto_orient)?;
            let info: Info = analysis::info(&decoded);
            serde_json::to_value(info).map_err(ApiError::internal)
        })
        .await;
    state.record("info", outcome.is_ok());
    Ok(Json(outcome?))
}

/// Options of `resize`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query, rename_all = "camelCase")]
pub struct ResizeOptions {
    pub width: Option<u32>,
    pub height: Option<u32>,
    /// With both sides: cover (default: fill and crop), contain (fit and pad), fill (stretch),
    /// inside (fit), outside (cover without crop).
    #[serde(default)]
    #[param(value_type = Option<FitMode>)]
    pub fit: FitMode,
    /// Allow upscaling (default false).
    #[serde(default)]
    pub enlarge: bool,
    /// Where `cover` crops from and `contain` places the image.
    #[serde(default)]
    #[param(value_type = Option<GravityName>)]
    pub gravity: GravityName,
    /// `contain`'s padding, `#rrggbb[aa]`.
    pub background: Option<String>,
    /// jpeg, png, webp, gif, bmp, tiff, ico (default: the input's).
    pub format: Option<String>,
    /// JPEG quality 1–100 (default 80).
    pub quality: Option<u8>,
    /// Apply EXIF orientation first (default true).
    pub auto_orient: Option<bool>,
}

/// Resize with sharp's fit modes and Lanczos3 resampling (SIMD); no upscaling unless asked.
#[utoipa::path(
    post,
    path = "/api/v1/image/resize",
    tag = "image",
    params(ResizeOptions),
    request_body(content = Vec<u8>, content_type = "application/octet-stream", description = FILE_BODY),
    responses((status = 200, description = "The resized image", content_type = "image/*"))
)]
pub async fn resize(
    State(state): State<AppState>,
    accept: ResponseFormat,
    file: BinaryInput<ResizeOptions>,
) -> Result<Response, ApiError> {
    let o = file.options;
    let operation = resize_operation(
        o.width,
        o.height,
        o.fit,
        o.enlarge,
        o.gravity,
        o.background.as_deref(),
    )?;
    let output = output_of!(o);
    transform(
        &state,
        "resize",
        accept,
        file.bytes,
        vec![operation],
        output,
    )
    .await
}

fn resize_operation(
    width: Option<u32>,
    height: Option<u32>,
    fit: FitMode,
    enlarge: bool,
    gravity: GravityName,
    background: Option<&str>,
) -> Result<Operation, ApiError> {
    if width == Some(0) || height == Some(0) {
        return Err(ApiError::invalid_field("width", "sizes are positive"));
    }
    Ok(Operation::Resize {
        width,
        height,
        fit: match fit {
            FitMode::Contain => Fit::Contain,
            FitMode::Cover => Fit::Cover,
            FitMode::Fill => Fit::Fill,
            FitMode::Inside => Fit::Inside,
            FitMode::Outside => Fit::Outside,
        },
        enlarge,
        gravity: gravity.into(),
        background: color(background)?,
    })
}

/// Options of `crop`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query, rename_all = "camelCase")]
pub struct CropOptions {
    /// The rectangle's left edge (with `top`); without both, `gravity` places it.
    pub left: Option<u32>,
    pub top: Option<u32>,
    pub width: u32,
    pub height: u32,
    #[serde(default)]
    #[param(value_type = Option<GravityName>)]
    pub gravity: GravityName,
    pub format: Option<String>,
    pub quality: Option<u8>,
    pub auto_orient: Option<bool>,
}

/// Cut out a rectangle (by position, or a box placed by gravity).
#[utoipa::path(
    post,
    path = "/api/v1/image/crop",
    tag = "image",
    params(CropOptions),
    request_body(content = Vec<u8>, content_type = "application/octet-stream", description = FILE_BODY),
    responses((status = 200, description = "The cropped image", content_type = "image/*"))
)]
pub async fn crop(
    State(state): State<AppState>,
    accept: ResponseFormat,
    file: BinaryInput<CropOptions>,
) -> Result<Response, ApiError> {
    let o = file.options;
    let operation = Operation::Crop {
        left: o.left,
        top: o.top,
        width: o.width,
        height: o.height,
        gravity: o.gravity.into(),
    };
    let output = output_of!(o);
    transform(&state, "crop", accept, file.bytes, vec![operation], output).await
}

/// Options of `rotate`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query, rename_all = "camelCase")]
pub struct RotateOptions {
    /// Clockwise: 90, 180 or 270 (negative turns the other way).
    pub degrees: i32,
    pub format: Option<String>,
    pub quality: Option<u8>,
    pub auto_orient: Option<bool>,
}

/// Rotate by a multiple of 90 degrees (after EXIF orientation).
#[utoipa::path(
    post,
    path = "/api/v1/image/rotate",
    tag = "image",
    params(RotateOptions),
    request_body(content = Vec<u8>, content_type = "application/octet-stream", description = FILE_BODY),
    responses((status = 200, description = "The rotated image", content_type = "image/*"))
)]
pub async fn rotate(
    State(state): State<AppState>,
    accept: ResponseFormat,
    file: BinaryInput<RotateOptions>,
) -> Result<Response, ApiError> {
    let o = file.options;
    let output = output_of!(o);
    let operation = Operation::Rotate { degrees: o.degrees };
    transform(
        &state,
        "rotate",
        accept,
        file.bytes,
        vec![operation],
        output,
    )
    .await
}

/// Options of operations that only choose the output.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query, rename_all = "camelCase")]
pub struct OutputOptions {
    /// jpeg, png, webp (lossless), gif, bmp, tiff, ico (default: the input's).
    pub format: Option<String>,
    /// JPEG quality 1–100 (default 80).
    pub quality: Option<u8>,
    /// Apply EXIF orientation first (default true).
    pub auto_orient: Option<bool>,
}

impl OutputOptions {
    fn output(self) -> Output {
        output_of!(self)
    }
}

/// Upside down.
#[utoipa::path(
    post,
    path = "/api/v1/image/flip",
    tag = "image",
    params(OutputOptions),
    request_body(content = Vec<u8>, content_type = "application/octet-stream", description = FILE_BODY),
    responses((status = 200, description = "The flipped image", content_type = "image/*"))
)]
pub async fn flip(
    State(state): State<AppState>,
    accept: ResponseFormat,
    file: BinaryInput<OutputOptions>,
) -> Result<Response, ApiError> {
    let output = file.options.output();
    transform(
        &state,
        "flip",
        accept,
        file.bytes,
        vec![Operation::Flip],
        output,
    )
    .await
}

/// Mirrored left to right.
#[utoipa::path(
    post,
    path = "/api/v1/image/flop",
    tag = "image",
    params(OutputOptions),
    request_body(content = Vec<u8>, content_type = "application/octet-stream", description = FILE_BODY),
    responses((status = 200, description = "The mirrored image", content_type = "image/*"))
)]
pub async fn flop(
    State(state): State<AppState>,
    accept: ResponseFormat,
    file: BinaryInput<OutputOptions>,
) -> Result<Response, ApiError> {
    let output = file.options.output();
    transform(
        &state,
        "flop",
        accept,
        file.bytes,
        vec![Operation::Flop],
        output,
    )
    .await
}

/// Convert between formats (metadata stripped).
#[utoipa::path(
    post,
    path = "/api/v1/image/convert",
    tag = "image",
    params(OutputOptions),
    request_body(content = Vec<u8>, content_type = "application/octet-stream", description = FILE_BODY),
    responses((status = 200, description = "The converted image", content_type = "image/*"))
)]
pub async fn convert(
    State(state): State<AppState>,
    accept: ResponseFormat,
    file: BinaryInput<OutputOptions>,
) -> Result<Response, ApiError> {
    if file.options.format.is_none() {
        return Err(ApiError::invalid_field(
            "format",
            "name the format to convert to",
        ));
    }
    let output = file.options.output();
    transform(&state, "convert", accept, file.bytes, Vec::new(), output).await
}

/// Options of `adjust`: each one given is applied, in this order.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query, rename_all = "camelCase")]
pub struct AdjustOptions {
    #[serde(default)]
    pub grayscale: bool,
    /// -100 to 100.
    pub brightness: Option<i32>,
    /// -100 to 100.
    pub contrast: Option<f32>,
    /// Degrees around the color wheel.
    pub hue: Option<i32>,
    /// Gaussian sigma, 0.1 to 100.
    pub blur: Option<f32>,
    /// Unsharp-mask sigma, 0.1 to 100.
    pub sharpen: Option<f32>,
    #[serde(default)]
    pub invert: bool,
    pub format: Option<String>,
    pub quality: Option<u8>,
    pub auto_orient: Option<bool>,
}

/// Grayscale, brightness, contrast, hue, blur, sharpen and invert.
#[utoipa::path(
    post,
    path = "/api/v1/image/adjust",
    tag = "image",
    params(AdjustOptions),
    request_body(content = Vec<u8>, content_type = "application/octet-stream", description = FILE_BODY),
    responses((status = 200, description = "The adjusted image", content_type = "image/*"))
)]
pub async fn adjust(
    State(state): State<AppState>,
    accept: ResponseFormat,
    file: BinaryInput<AdjustOptions>,
) -> Result<Response, ApiError> {
    let o = file.options;
    let mut operations = Vec::new();
    if o.grayscale {
        operations.push(Operation::Grayscale);
    }
    if let Some(amount) = o.brightness {
        operations.push(Operation::Brightness { amount });
    }
    if let Some(amount) = o.contrast {
        operations.push(Operation::Contrast { amount });
    }
    if let Some(degrees) = o.hue {
        operations.push(Operation::Hue { degrees });
    }
    if let Some(sigma) = o.blur {
        operations.push(Operation::Blur { sigma });
    }
    if let Some(sigma) = o.sharpen {
        operations.push(Operation::Sharpen {
            sigma,
            threshold: 1,
        });
    }
    if o.invert {
        operations.push(Operation::Invert);
    }
    if operations.is_empty() {
        return Err(ApiError::invalid_field(
            "grayscale",
            "name at least one adjustment",
        ));
    }
    let output = output_of!(o);
    transform(&state, "adjust", accept, file.bytes, operations, output).await
}

/// One step of a pipeline; `op` names it and the rest are that operation's options.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(tag = "op", rename_all = "camelCase", deny_unknown_fields)]
pub enum PipelineStep {
    Resize {
        width: Option<u32>,
        height: Option<u32>,
        #[serde(default)]
        fit: FitMode,
        #[serde(default)]
        enlarge: bool,
        #[serde(default)]
        gravity: GravityName,
        background: Option<String>,
    },
    Crop {
        left: Option<u32>,
        top: Option<u32>,
        width: u32,
        height: u32,
        #[serde(default)]
        gravity: GravityName,
    },
    Rotate {
        degrees: i32,
    },
    Flip,
    Flop,
    Grayscale,
    Invert,
    Blur {
        sigma: f32,
    },
    Sharpen {
        sigma: f32,
    },
    Brightness {
        amount: i32,
    },
    Contrast {
        amount: f32,
    },
    Hue {
        degrees: i32,
    },
    /// Pad each side (pixels) with `background`.
    Extend {
        #[serde(default)]
        top: u32,
        #[serde(default)]
        right: u32,
        #[serde(default)]
        bottom: u32,
        #[serde(default)]
        left: u32,
        background: Option<String>,
    },
    /// A frame `width` pixels wide in `color` (default black).
    Border {
        width: u32,
        color: Option<String>,
    },
    /// Transparent, anti-aliased corners (PNG/WebP keep them; JPEG flattens onto white).
    #[serde(rename_all = "camelCase")]
    RoundCorners {
        radius: u32,
    },
    /// Cut away edges the color of the top-left pixel (within `threshold`, default 10).
    Trim {
        #[serde(default = "default_trim")]
        threshold: u8,
    },
}

fn default_trim() -> u8 {
    10
}

/// Options of `pipeline`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query, rename_all = "camelCase")]
pub struct PipelineOptions {
    /// Up to 10 steps: a JSON array (as text in a query string or form field).
    #[param(value_type = String)]
    pub operations: Value,
    pub format: Option<String>,
    pub quality: Option<u8>,
    pub auto_orient: Option<bool>,
}

/// Up to 10 operations with one decode and one encode (imaginary's pipeline): every single
/// operation above, plus `extend`, `border`, `roundCorners` and `trim`.
#[utoipa::path(
    post,
    path = "/api/v1/image/pipeline",
    tag = "image",
    params(PipelineOptions),
    request_body(content = Vec<u8>, content_type = "application/octet-stream", description = FILE_BODY),
    responses((status = 200, description = "The image after every step", content_type = "image/*"))
)]
pub async fn pipeline(
    State(state): State<AppState>,
    accept: ResponseFormat,
    file: BinaryInput<PipelineOptions>,
) -> Result<Response, ApiError> {
    let o = file.options;
    let steps = match o.operations {
        Value::String(text) => serde_json::from_str::<Value>(&text).map_err(|e| {
            ApiError::invalid_field("operations", format!("is not a JSON array: {e}"))
        })?,
        other => other,
    };
    let steps: Vec<PipelineStep> = serde_json::from_value(steps)
        .map_err(|e| ApiError::invalid_field("operations", e.to_string()))?;
    if steps.is_empty() || steps.len() > MAX_PIPELINE {
        return Err(ApiError::invalid_field(
            "operations",
            format!("give 1 to {MAX_PIPELINE} operations"),
        ));
    }
    let operations = steps
        .into_iter()
        .map(|step| {
            Ok(match step {
                PipelineStep::Resize {
                    width,
                    height,
                    fit,
                    enlarge,
                    gravity,
                    background,
                } => resize_operation(width, height, fit, enlarge, gravity, background.as_deref())?,
                PipelineStep::Crop {
                    left,
                    top,
                    width,
                    height,
                    gravity,
                } => Operation::Crop {
                    left,
                    top,
                    width,
                    height,
                    gravity: gravity.into(),
                },
                PipelineStep::Rotate { degrees } => Operation::Rotate { degrees },
                PipelineStep::Flip => Operation::Flip,
                PipelineStep::Flop => Operation::Flop,
                PipelineStep::Grayscale => Operation::Grayscale,
                PipelineStep::Invert => Operation::Invert,
                PipelineStep::Blur { sigma } => Operation::Blur { sigma },
                PipelineStep::Sharpen { sigma } => Operation::Sharpen {
                    sigma,
                    threshold: 1,
                },
                PipelineStep::Brightness { amount } => Operation::Brightness { amount },
                PipelineStep::Contrast { amount } => Operation::Contrast { amount },
                PipelineStep::Hue { degrees } => Operation::Hue { degrees },
                PipelineStep::Extend {
                    top,
                    right,
                    bottom,
                    left,
                    background,
                } => Operation::Extend {
                    top,
                    right,
                    bottom,
                    left,
                    background: color(background.as_deref())?,
                },
                PipelineStep::Border { width, color: c } => Operation::Border {
                    width,
                    color: color(Some(c.as_deref().unwrap_or("#000000")))?,
                },
                PipelineStep::RoundCorners { radius } => Operation::RoundCorners { radius },
                PipelineStep::Trim { threshold } => Operation::Trim { threshold },
            })
        })
        .collect::<Result<Vec<_>, ApiError>>()?;
    let output = output_of!(o);
    transform(&state, "pipeline", accept, file.bytes, operations, output).await
}
