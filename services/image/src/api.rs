//! HTTP surface: every operation takes the image in any of DESIGN.md's three forms (raw body
//! with options in the query string, multipart `file`, or JSON with base64 `data`) and answers
//! with the image (raw with Content-Disposition, or base64 JSON on `Accept: application/json`).

use std::sync::Arc;

use axum::Json;
use axum::extract::{FromRequestParts, State};
use axum::response::Response;
use flowforge_service_kit::{ApiError, BinaryFiles, BinaryInput, BinaryOutput, ResponseFormat};
use http::HeaderValue;
use http::header::{ACCEPT, VARY};
use http::request::Parts;
use serde::Deserialize;
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::domain::analysis::{self, Info};
use crate::domain::codec::{self, EncodeOptions, Format};
use crate::domain::draw::{Placement, TextStyle};
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
        .routes(routes!(thumbnail))
        .routes(routes!(extract))
        .routes(routes!(watermark))
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
    /// Content-aware: the busiest region (crops and `cover` resizes).
    Entropy,
    /// Content-aware: edges, saturated colors and skin tones (crops and `cover` resizes).
    Attention,
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
            GravityName::Entropy => Self::Entropy,
            GravityName::Attention => Self::Attention,
        }
    }
}

/// Output choices every operation shares.
#[derive(Debug, Clone, Default)]
struct Output {
    format: Option<String>,
    quality: Option<u8>,
    auto_orient: Option<bool>,
    lossless: Option<bool>,
    progressive: Option<bool>,
    compression: Option<u8>,
    keep_icc: Option<bool>,
    max_bytes: Option<usize>,
    animated: Option<bool>,
}

/// An options struct with the output fields every operation shares appended (query strings
/// cannot be read into a flattened struct with numbers in it, so each struct carries them).
macro_rules! with_output {
    ($(#[$meta:meta])* pub struct $name:ident { $($body:tt)* }) => {
        $(#[$meta])*
        pub struct $name {
            $($body)*
            /// jpeg, png, webp, avif, gif, bmp, tiff, ico, or `auto` (AVIF or WebP when the
            /// client's Accept allows, else JPEG, or PNG with alpha). Default: the input's.
            pub format: Option<String>,
            /// JPEG, WebP and AVIF quality 1–100 (default 80).
            pub quality: Option<u8>,
            /// Apply EXIF orientation first (default true).
            pub auto_orient: Option<bool>,
            /// WebP without loss (default false).
            pub lossless: Option<bool>,
            /// Progressive JPEG (default false).
            pub progressive: Option<bool>,
            /// PNG deflate level 1–9 (default fast).
            pub compression: Option<u8>,
            /// Keep the ICC color profile in JPEG and PNG output (default true).
            pub keep_icc: Option<bool>,
            /// Largest file wanted, for JPEG, lossy WebP and AVIF: the best quality that fits.
            pub max_bytes: Option<usize>,
            /// Process every frame of an animated GIF or WebP and answer an animated GIF
            /// (default false: the first frame).
            pub animated: Option<bool>,
        }
    };
}

/// The output choices of any options struct made by [`with_output!`].
macro_rules! output_of {
    ($options:expr) => {
        Output {
            format: $options.format,
            quality: $options.quality,
            auto_orient: $options.auto_orient,
            lossless: $options.lossless,
            progressive: $options.progressive,
            compression: $options.compression,
            keep_icc: $options.keep_icc,
            max_bytes: $options.max_bytes,
            animated: $options.animated,
        }
    };
}

/// What the client accepts: JSON (base64) answers, and which modern image formats.
#[derive(Debug, Clone, Copy)]
pub struct Negotiation {
    response: ResponseFormat,
    avif: bool,
    webp: bool,
}

impl<S: Send + Sync> FromRequestParts<S> for Negotiation {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let response = ResponseFormat::from_request_parts(parts, state).await?;
        let accepts = |media: &str| {
            parts
                .headers
                .get_all(ACCEPT)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .flat_map(|v| v.split(','))
                .any(|range| {
                    let mut pieces = range.split(';');
                    let kind = pieces.next().unwrap_or_default().trim();
                    let refused =
                        pieces.any(|p| matches!(p.trim(), "q=0" | "q=0.0" | "q=0.00" | "q=0.000"));
                    kind.eq_ignore_ascii_case(media) && !refused
                })
        };
        Ok(Self {
            response,
            avif: accepts("image/avif"),
            webp: accepts("image/webp"),
        })
    }
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
    accept: Negotiation,
    bytes: bytes::Bytes,
    operations: Vec<Operation>,
    output: Output,
) -> Result<Response, ApiError> {
    let limits = state.limits;
    let auto = output.format.as_deref() == Some("auto");
    let outcome = state
        .cpu
        .run(move || {
            let target = match output.format.as_deref() {
                None | Some("auto") => None,
                Some(name) => Some(codec::format_named(name)?),
            };
            if output.animated == Some(true)
                && let Some(frames) = codec::decode_frames(&bytes, &limits)?
            {
                if target.is_some_and(|t| t != Format::Gif) {
                    return Err(ApiError::invalid_field("format", "animated output is GIF"));
                }
                let frames = frames
                    .into_iter()
                    .map(|(buffer, delay)| {
                        let mut frame = image::DynamicImage::ImageRgba8(buffer);
                        for operation in &operations {
                            frame = ops::apply(frame, operation, &limits)?;
                        }
                        Ok((frame.to_rgba8(), delay))
                    })
                    .collect::<Result<Vec<_>, crate::domain::ImageError>>()?;
                let encoded = codec::encode_gif_animation(frames, &limits)?;
                return Ok(BinaryOutput {
                    bytes: encoded.into(),
                    content_type: Format::Gif.media_type().to_owned(),
                    filename: "image.gif".to_owned(),
                });
            }
            let decoded = codec::decode(&bytes, &limits, output.auto_orient.unwrap_or(true))?;
            drop(bytes);
            let mut image = decoded.image;
            for operation in &operations {
                image = ops::apply(image, operation, &limits)?;
            }
            let format = match target {
                Some(format) => format,
                None if auto => negotiated(&accept, &image),
                None => decoded.format,
            };
            let options = EncodeOptions {
                format,
                quality: output.quality.unwrap_or(80),
                lossless: output.lossless.unwrap_or(false),
                progressive: output.progressive.unwrap_or(false),
                compression: output.compression,
                icc: decoded.icc.filter(|_| output.keep_icc.unwrap_or(true)),
                max_bytes: output.max_bytes,
            };
            let encoded = codec::encode(&image, &options, &limits)?;
            Ok(BinaryOutput {
                bytes: encoded.into(),
                content_type: format.media_type().to_owned(),
                filename: format!("image.{}", format.extension()),
            })
        })
        .await;
    state.record(operation, outcome.is_ok());
    let mut response = outcome?.into_response_as(accept.response);
    if auto {
        // Caches must keep one copy per Accept: the format depends on it.
        response
            .headers_mut()
            .insert(VARY, HeaderValue::from_static("Accept"));
    }
    Ok(response)
}

/// `format=auto`: AVIF, then WebP, when the client takes them; else JPEG, or PNG for alpha.
fn negotiated(accept: &Negotiation, image: &image::DynamicImage) -> Format {
    let pixels = u64::from(image.width()) * u64::from(image.height());
    if accept.avif && pixels <= 4_000_000 {
        // AVIF encoding is slow on large images: past 4 MP WebP answers sooner.
        Format::Avif
    } else if accept.webp {
        Format::Webp
    } else if image.color().has_alpha() {
        Format::Png
    } else {
        Format::Jpeg
    }
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

with_output! {
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
}
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
    accept: Negotiation,
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

with_output! {
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
}
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
    accept: Negotiation,
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

with_output! {
/// Options of `rotate`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query, rename_all = "camelCase")]
pub struct RotateOptions {
    /// Clockwise, any angle (negative turns the other way); multiples of 90 are exact.
    pub degrees: f32,
    /// What fills the corners of other angles, `#rrggbb[aa]` (default transparent white;
    /// JPEG output flattens it onto white).
    pub background: Option<String>,
}
}

/// Rotate by any angle (after EXIF orientation); the canvas grows to hold the whole image.
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
    accept: Negotiation,
    file: BinaryInput<RotateOptions>,
) -> Result<Response, ApiError> {
    let o = file.options;
    let output = output_of!(o);
    let operation = Operation::Rotate {
        degrees: o.degrees,
        background: color(o.background.as_deref())?,
    };
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

with_output! {
/// Options of operations that only choose the output.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query, rename_all = "camelCase")]
pub struct OutputOptions {
}
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
    accept: Negotiation,
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
    accept: Negotiation,
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
    accept: Negotiation,
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

with_output! {
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
    /// 0.1 to 10 (above 1 brightens the mid-tones).
    pub gamma: Option<f32>,
    /// -100 (gray) to 100 (twice as vivid).
    pub saturation: Option<f32>,
    /// Block size in pixels, 2 to 1000.
    pub pixelate: Option<u32>,
    /// Black and white at this luma level, 0 to 255.
    pub threshold: Option<u8>,
}
}

/// Grayscale, brightness, contrast, hue, saturation, gamma, blur, sharpen, invert, pixelate and
/// threshold.
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
    accept: Negotiation,
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
    if let Some(gamma) = o.gamma {
        operations.push(Operation::Gamma { gamma });
    }
    if let Some(amount) = o.saturation {
        operations.push(Operation::Saturation { amount });
    }
    if let Some(size) = o.pixelate {
        operations.push(Operation::Pixelate { size });
    }
    if let Some(level) = o.threshold {
        operations.push(Operation::Threshold { level });
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
        degrees: f32,
        background: Option<String>,
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
    Gamma {
        gamma: f32,
    },
    Saturation {
        amount: f32,
    },
    Pixelate {
        size: u32,
    },
    /// Black and white at a luma `level` (0–255).
    Threshold {
        level: u8,
    },
    /// A text watermark (same options as `watermark`).
    #[serde(rename_all = "camelCase")]
    Text {
        text: String,
        size: Option<f32>,
        color: Option<String>,
        #[serde(default)]
        bold: bool,
        opacity: Option<f32>,
        rotation: Option<f32>,
        position: Option<GravityName>,
        margin: Option<u32>,
        #[serde(default)]
        tile: bool,
    },
}

fn default_trim() -> u8 {
    10
}

with_output! {
/// Options of `pipeline`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query, rename_all = "camelCase")]
pub struct PipelineOptions {
    /// Up to 10 steps: a JSON array (as text in a query string or form field).
    #[param(value_type = String)]
    pub operations: Value,
}
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
    accept: Negotiation,
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
                PipelineStep::Rotate {
                    degrees,
                    background,
                } => Operation::Rotate {
                    degrees,
                    background: color(background.as_deref())?,
                },
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
                PipelineStep::Gamma { gamma } => Operation::Gamma { gamma },
                PipelineStep::Saturation { amount } => Operation::Saturation { amount },
                PipelineStep::Pixelate { size } => Operation::Pixelate { size },
                PipelineStep::Threshold { level } => Operation::Threshold { level },
                PipelineStep::Text {
                    text,
                    size,
                    color: c,
                    bold,
                    opacity,
                    rotation,
                    position,
                    margin,
                    tile,
                } => text_operation(TextOptions {
                    text,
                    size,
                    color: c,
                    bold,
                    opacity,
                    rotation,
                    position,
                    margin,
                    tile,
                })?,
            })
        })
        .collect::<Result<Vec<_>, ApiError>>()?;
    let output = output_of!(o);
    transform(&state, "pipeline", accept, file.bytes, operations, output).await
}

with_output! {
/// Options of `thumbnail`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query, rename_all = "camelCase")]
pub struct ThumbnailOptions {
    /// Default 200.
    pub width: Option<u32>,
    /// Default: the width (a square).
    pub height: Option<u32>,
    /// What the square keeps (default attention: the interesting part, not just the middle).
    #[serde(default)]
    #[param(value_type = Option<GravityName>)]
    pub gravity: Option<GravityName>,
}
}

/// A small cover-cropped preview (default 200 × 200, content-aware crop), never enlarged.
#[utoipa::path(
    post,
    path = "/api/v1/image/thumbnail",
    tag = "image",
    params(ThumbnailOptions),
    request_body(content = Vec<u8>, content_type = "application/octet-stream", description = FILE_BODY),
    responses((status = 200, description = "The thumbnail", content_type = "image/*"))
)]
pub async fn thumbnail(
    State(state): State<AppState>,
    accept: Negotiation,
    file: BinaryInput<ThumbnailOptions>,
) -> Result<Response, ApiError> {
    let o = file.options;
    let width = o.width.unwrap_or(200);
    let height = o.height.unwrap_or(width);
    let operation = resize_operation(
        Some(width),
        Some(height),
        FitMode::Cover,
        false,
        o.gravity.unwrap_or(GravityName::Attention),
        None,
    )?;
    let output = output_of!(o);
    transform(
        &state,
        "thumbnail",
        accept,
        file.bytes,
        vec![operation],
        output,
    )
    .await
}

with_output! {
/// Options of `extract`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query, rename_all = "camelCase")]
pub struct ExtractOptions {
    pub left: u32,
    pub top: u32,
    pub width: u32,
    pub height: u32,
}
}

/// Cut out the area at (`left`, `top`) of `width` × `height` (imaginary's extract).
#[utoipa::path(
    post,
    path = "/api/v1/image/extract",
    tag = "image",
    params(ExtractOptions),
    request_body(content = Vec<u8>, content_type = "application/octet-stream", description = FILE_BODY),
    responses((status = 200, description = "The area", content_type = "image/*"))
)]
pub async fn extract(
    State(state): State<AppState>,
    accept: Negotiation,
    file: BinaryInput<ExtractOptions>,
) -> Result<Response, ApiError> {
    let o = file.options;
    let operation = Operation::Crop {
        left: Some(o.left),
        top: Some(o.top),
        width: o.width,
        height: o.height,
        gravity: Gravity::Center,
    };
    let output = output_of!(o);
    transform(
        &state,
        "extract",
        accept,
        file.bytes,
        vec![operation],
        output,
    )
    .await
}

/// Text watermark settings (the `watermark` endpoint's and the pipeline's `text` step's).
struct TextOptions {
    text: String,
    size: Option<f32>,
    color: Option<String>,
    bold: bool,
    opacity: Option<f32>,
    rotation: Option<f32>,
    position: Option<GravityName>,
    margin: Option<u32>,
    tile: bool,
}

fn text_operation(o: TextOptions) -> Result<Operation, ApiError> {
    Ok(Operation::Text {
        text: o.text,
        style: TextStyle {
            size: o.size.unwrap_or(32.0),
            color: color(Some(o.color.as_deref().unwrap_or("#ffffff")))?,
            bold: o.bold,
        },
        rotation: o.rotation.unwrap_or(0.0),
        placement: Placement {
            gravity: o.position.unwrap_or(GravityName::Southeast).into(),
            margin: o.margin.unwrap_or(16),
            tile: o.tile,
            opacity: o.opacity.unwrap_or(0.5),
        },
    })
}

with_output! {
/// Options of `watermark`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query, rename_all = "camelCase")]
pub struct WatermarkOptions {
    /// Text to draw (DejaVu Sans); without it, the second file is the watermark image.
    pub text: Option<String>,
    /// Text size in pixels (default 32).
    pub size: Option<f32>,
    /// Text color `#rrggbb[aa]` (default white).
    pub color: Option<String>,
    /// Bold text (default false).
    #[serde(default)]
    pub bold: bool,
    /// 0–1 (default 0.5).
    pub opacity: Option<f32>,
    /// Text angle in degrees, clockwise (default 0).
    pub rotation: Option<f32>,
    /// Where it goes (default southeast); ignored when tiling.
    #[serde(default)]
    #[param(value_type = Option<GravityName>)]
    pub position: Option<GravityName>,
    /// Pixels from the edges, and between tiles (default 16).
    pub margin: Option<u32>,
    /// Repeat over the whole image (default false).
    #[serde(default)]
    pub tile: bool,
    /// The watermark image's width as a fraction of the image's (0.01–1; default: its own size).
    pub scale: Option<f32>,
}
}

/// A text watermark (size, color, opacity, angle, position or tiling), or an image watermark:
/// send the image and then the watermark as two `file` fields (or JSON `files`).
#[utoipa::path(
    post,
    path = "/api/v1/image/watermark",
    tag = "image",
    params(WatermarkOptions),
    request_body(content = Vec<u8>, content_type = "multipart/form-data", description = "The image (raw, multipart `file`, or JSON `files`); for an image watermark, a second `file`"),
    responses((status = 200, description = "The watermarked image", content_type = "image/*"))
)]
pub async fn watermark(
    State(state): State<AppState>,
    accept: Negotiation,
    input: BinaryFiles<WatermarkOptions>,
) -> Result<Response, ApiError> {
    let o = input.options;
    let mut files = input.files.into_iter();
    let Some(base) = files.next() else {
        return Err(ApiError::invalid_field("file", "send the image"));
    };
    let overlay = files.next();
    if files.next().is_some() {
        return Err(ApiError::invalid_field(
            "file",
            "send the image and at most one watermark image",
        ));
    }
    let operation = match (o.text.clone(), overlay) {
        (Some(_), Some(_)) => {
            return Err(ApiError::invalid_field(
                "text",
                "give text or a watermark image, not both",
            ));
        }
        (None, None) => {
            return Err(ApiError::invalid_field(
                "text",
                "give text, or a second file as the watermark image",
            ));
        }
        (Some(text), None) => text_operation(TextOptions {
            text,
            size: o.size,
            color: o.color.clone(),
            bold: o.bold,
            opacity: o.opacity,
            rotation: o.rotation,
            position: o.position,
            margin: o.margin,
            tile: o.tile,
        })?,
        (None, Some(overlay)) => {
            let limits = state.limits;
            let layer = state
                .cpu
                .run(move || {
                    Ok(codec::decode(&overlay.bytes, &limits, true)?
                        .image
                        .to_rgba8())
                })
                .await?;
            Operation::Overlay {
                layer: Arc::new(layer),
                scale: o.scale,
                placement: Placement {
                    gravity: o.position.unwrap_or(GravityName::Southeast).into(),
                    margin: o.margin.unwrap_or(16),
                    tile: o.tile,
                    opacity: o.opacity.unwrap_or(0.5),
                },
            }
        }
    };
    let output = output_of!(o);
    transform(
        &state,
        "watermark",
        accept,
        base.bytes,
        vec![operation],
        output,
    )
    .await
}
