//! Decoding with limits and encoding with options.
//!
//! The dimensions are read from the header first and checked against the pixel budget before
//! a single pixel is decoded, so a 1 KB PNG claiming 100,000 × 100,000 pixels costs nothing; the
//! decoder also runs with allocation limits. EXIF orientation is applied on decode (phones store
//! portraits sideways) unless the caller asks otherwise.

use std::io::Cursor;

use image::codecs::avif::AvifEncoder;
use image::codecs::png::{CompressionType, FilterType as PngFilter, PngEncoder};
use image::{DynamicImage, ImageDecoder, ImageEncoder, ImageFormat, ImageReader, Limits};

use super::{ImageError, ImageLimits, Result, invalid};

/// The formats this service reads and writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    #[default]
    Jpeg,
    Png,
    /// Lossy (libwebp) or lossless.
    Webp,
    Gif,
    Bmp,
    Tiff,
    Ico,
    /// Written only (the pure-Rust path has no AVIF decoder).
    Avif,
}

impl Format {
    fn of(format: ImageFormat) -> Option<Self> {
        Some(match format {
            ImageFormat::Jpeg => Self::Jpeg,
            ImageFormat::Png => Self::Png,
            ImageFormat::WebP => Self::Webp,
            ImageFormat::Gif => Self::Gif,
            ImageFormat::Bmp => Self::Bmp,
            ImageFormat::Tiff => Self::Tiff,
            ImageFormat::Ico => Self::Ico,
            _ => return None,
        })
    }

    fn image_format(self) -> ImageFormat {
        match self {
            Self::Jpeg => ImageFormat::Jpeg,
            Self::Png => ImageFormat::Png,
            Self::Webp => ImageFormat::WebP,
            Self::Gif => ImageFormat::Gif,
            Self::Bmp => ImageFormat::Bmp,
            Self::Tiff => ImageFormat::Tiff,
            Self::Ico => ImageFormat::Ico,
            Self::Avif => ImageFormat::Avif,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Jpeg => "jpeg",
            Self::Png => "png",
            Self::Webp => "webp",
            Self::Gif => "gif",
            Self::Bmp => "bmp",
            Self::Tiff => "tiff",
            Self::Ico => "ico",
            Self::Avif => "avif",
        }
    }

    pub fn media_type(self) -> &'static str {
        match self {
            Self::Jpeg => "image/jpeg",
            Self::Png => "image/png",
            Self::Webp => "image/webp",
            Self::Gif => "image/gif",
            Self::Bmp => "image/bmp",
            Self::Tiff => "image/tiff",
            Self::Ico => "image/x-icon",
            Self::Avif => "image/avif",
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            Self::Jpeg => "jpg",
            other => other.name(),
        }
    }
}

/// A decoded image and what its file said about itself.
#[derive(Debug, Clone)]
pub struct Decoded {
    pub image: DynamicImage,
    pub format: Format,
    /// EXIF orientation (1–8) as stored; the pixels are already upright unless asked otherwise.
    pub orientation: u8,
    /// The embedded ICC color profile, kept on output by default.
    pub icc: Option<Vec<u8>>,
    pub has_exif: bool,
}

fn decoding_error(error: image::ImageError, what: &str) -> ImageError {
    match error {
        image::ImageError::Limits(e) => ImageError::TooLarge(format!("{what}: {e}")),
        image::ImageError::Unsupported(e) => ImageError::Unsupported(format!("{what}: {e}")),
        other => ImageError::Corrupt(format!("{what}: {other}")),
    }
}

fn reader(bytes: &[u8]) -> Result<(ImageReader<Cursor<&[u8]>>, Format)> {
    let reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| ImageError::Internal(e.to_string()))?;
    let format = match reader.format() {
        None => {
            return Err(ImageError::Unsupported(
                "not an image this service reads (JPEG, PNG, WebP, GIF, BMP, TIFF, ICO)".into(),
            ));
        }
        Some(ImageFormat::Avif) => {
            return Err(ImageError::Unsupported(
                "AVIF input is not supported (AVIF can be written); send JPEG, PNG, WebP, GIF, BMP, TIFF or ICO".into(),
            ));
        }
        Some(f) => Format::of(f).ok_or_else(|| {
            ImageError::Unsupported(format!(
                "{} input is not supported (JPEG, PNG, WebP, GIF, BMP, TIFF, ICO are)",
                f.extensions_str().first().unwrap_or(&"this")
            ))
        })?,
    };
    Ok((reader, format))
}

/// The width and height a file declares, without decoding it.
pub fn dimensions(bytes: &[u8]) -> Result<(u32, u32, Format)> {
    let (reader, format) = reader(bytes)?;
    let (width, height) = reader
        .into_dimensions()
        .map_err(|e| decoding_error(e, "cannot read the image header"))?;
    Ok((width, height, format))
}

/// Decodes `bytes` within `limits`; `auto_orient` applies the EXIF orientation.
pub fn decode(bytes: &[u8], limits: &ImageLimits, auto_orient: bool) -> Result<Decoded> {
    let (width, height, _) = dimensions(bytes)?;
    let pixels = u64::from(width) * u64::from(height);
    if pixels > limits.max_pixels {
        return Err(ImageError::TooLarge(format!(
            "the image is {width} × {height} = {pixels} pixels; the limit is {}",
            limits.max_pixels
        )));
    }
    let (mut reader, format) = reader(bytes)?;
    let mut decoder_limits = Limits::default();
    decoder_limits.max_alloc = Some(limits.max_decode_bytes);
    reader.limits(decoder_limits);
    let mut decoder = reader
        .into_decoder()
        .map_err(|e| decoding_error(e, "cannot decode the image"))?;
    let orientation = decoder
        .orientation()
        .unwrap_or(image::metadata::Orientation::NoTransforms);
    let icc = decoder.icc_profile().ok().flatten();
    let has_exif = decoder.exif_metadata().ok().flatten().is_some();
    let mut image = DynamicImage::from_decoder(decoder)
        .map_err(|e| decoding_error(e, "cannot decode the image"))?;
    if auto_orient {
        image.apply_orientation(orientation);
    }
    Ok(Decoded {
        image,
        format,
        orientation: orientation.to_exif(),
        icc,
        has_exif,
    })
}

/// Encoding choices.
#[derive(Debug, Clone, Default)]
pub struct EncodeOptions {
    pub format: Format,
    /// JPEG, lossy WebP and AVIF quality 1–100 (default 80).
    pub quality: u8,
    /// WebP without loss (default false: lossy at `quality`).
    pub lossless: bool,
    /// Progressive JPEG.
    pub progressive: bool,
    /// PNG deflate level 1–9 (default: fast).
    pub compression: Option<u8>,
    /// An ICC profile to embed (JPEG, PNG).
    pub icc: Option<Vec<u8>>,
    /// Largest file wanted (JPEG, lossy WebP, AVIF): the highest quality that fits is chosen.
    pub max_bytes: Option<usize>,
}

/// AVIF encoding (rav1e) is slow on large images; past this many pixels it is refused.
const MAX_AVIF_PIXELS: u64 = 16_000_000;

/// Writes `image` as `options` say. EXIF and other metadata are never written (stripped, as
/// privacy and size want); the ICC profile is, when given, so colors stay right.
pub fn encode(
    image: &DynamicImage,
    options: &EncodeOptions,
    limits: &ImageLimits,
) -> Result<Vec<u8>> {
    if image.width() > limits.max_dimension || image.height() > limits.max_dimension {
        return Err(ImageError::TooLarge(format!(
            "the result would be {} × {}; outputs are at most {} on a side",
            image.width(),
            image.height(),
            limits.max_dimension
        )));
    }
    if !(1..=100).contains(&options.quality) {
        return Err(invalid("quality", "must be 1 to 100"));
    }
    let lossy = matches!(options.format, Format::Jpeg | Format::Avif)
        || (options.format == Format::Webp && !options.lossless);
    let Some(max_bytes) = options.max_bytes else {
        return encode_at(image, options, options.quality);
    };
    if !lossy {
        return Err(invalid("maxBytes", "applies to JPEG, lossy WebP and AVIF"));
    }
    let first = encode_at(image, options, options.quality)?;
    if first.len() <= max_bytes {
        return Ok(first);
    }
    // Binary search for the highest quality under the cap: at most seven more encodes.
    let (mut low, mut high) = (1u8, options.quality - 1);
    let mut best = None;
    while low <= high {
        let middle = low + (high - low) / 2;
        let bytes = encode_at(image, options, middle)?;
        if bytes.len() <= max_bytes {
            best = Some(bytes);
            low = middle + 1;
        } else if middle == 1 {
            break;
        } else {
            high = middle - 1;
        }
    }
    best.ok_or_else(|| {
        invalid(
            "maxBytes",
            format!("{max_bytes} bytes cannot be reached even at quality 1; make the image smaller first"),
        )
    })
}

fn encode_at(image: &DynamicImage, options: &EncodeOptions, quality: u8) -> Result<Vec<u8>> {
    let mut out = Cursor::new(Vec::new());
    let encoding = |e: image::ImageError| match e {
        image::ImageError::Parameter(p) => invalid("format", p.to_string()),
        image::ImageError::Unsupported(u) => invalid("format", u.to_string()),
        other => ImageError::Internal(other.to_string()),
    };
    match options.format {
        Format::Jpeg => {
            return encode_jpeg(image, quality, options.progressive, options.icc.as_deref());
        }
        Format::Webp => return encode_webp(image, quality, options.lossless),
        Format::Avif => {
            if u64::from(image.width()) * u64::from(image.height()) > MAX_AVIF_PIXELS {
                return Err(ImageError::TooLarge(format!(
                    "AVIF output is limited to {MAX_AVIF_PIXELS} pixels; resize first"
                )));
            }
            // Speed 8 of 10: rav1e's fast presets, about as big as libavif's default output.
            let encoder = AvifEncoder::new_with_speed_quality(&mut out, 8, quality);
            let converted = if image.color().has_alpha() {
                DynamicImage::ImageRgba8(image.to_rgba8())
            } else {
                DynamicImage::ImageRgb8(image.to_rgb8())
            };
            converted.write_with_encoder(encoder).map_err(encoding)?;
        }
        Format::Ico if image.width() > 256 || image.height() > 256 => {
            return Err(invalid(
                "format",
                "ICO images are at most 256 × 256; resize first",
            ));
        }
        Format::Gif | Format::Ico => {
            DynamicImage::ImageRgba8(image.to_rgba8())
                .write_to(&mut out, options.format.image_format())
                .map_err(encoding)?;
        }
        Format::Bmp => {
            let converted = if image.color().has_alpha() {
                DynamicImage::ImageRgba8(image.to_rgba8())
            } else {
                DynamicImage::ImageRgb8(image.to_rgb8())
            };
            converted
                .write_to(&mut out, ImageFormat::Bmp)
                .map_err(encoding)?;
        }
        Format::Png => {
            let compression = match options.compression {
                None => CompressionType::Fast,
                Some(level @ 1..=9) => CompressionType::Level(level),
                Some(_) => return Err(invalid("compression", "must be 1 to 9")),
            };
            let mut encoder =
                PngEncoder::new_with_quality(&mut out, compression, PngFilter::Adaptive);
            if let Some(icc) = &options.icc {
                // A profile the encoder refuses is dropped rather than failing the image.
                let _ = encoder.set_icc_profile(icc.clone());
            }
            image.write_with_encoder(encoder).map_err(encoding)?;
        }
        Format::Tiff => {
            image
                .write_to(&mut out, ImageFormat::Tiff)
                .map_err(encoding)?;
        }
    }
    Ok(out.into_inner())
}

/// JPEG through jpeg-encoder: baseline or progressive, grayscale kept as one channel, alpha
/// flattened onto white, the ICC profile embedded.
fn encode_jpeg(
    image: &DynamicImage,
    quality: u8,
    progressive: bool,
    icc: Option<&[u8]>,
) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    let mut encoder = jpeg_encoder::Encoder::new(&mut out, quality);
    encoder.set_progressive(progressive);
    if let Some(icc) = icc {
        let _ = encoder.add_icc_profile(icc);
    }
    let (width, height) = (image.width() as u16, image.height() as u16);
    let result = if matches!(image, DynamicImage::ImageLuma8(_)) {
        encoder.encode(
            image.as_bytes(),
            width,
            height,
            jpeg_encoder::ColorType::Luma,
        )
    } else {
        let rgb = flatten(image);
        encoder.encode(rgb.as_bytes(), width, height, jpeg_encoder::ColorType::Rgb)
    };
    result.map_err(|e| ImageError::Internal(format!("JPEG encoding failed: {e}")))?;
    Ok(out)
}

/// WebP through libwebp: lossy at `quality`, or lossless.
fn encode_webp(image: &DynamicImage, quality: u8, lossless: bool) -> Result<Vec<u8>> {
    let (width, height) = (image.width(), image.height());
    let rgba;
    let rgb;
    let encoder = if image.color().has_alpha() {
        rgba = image.to_rgba8();
        webp::Encoder::from_rgba(rgba.as_raw(), width, height)
    } else {
        rgb = image.to_rgb8();
        webp::Encoder::from_rgb(rgb.as_raw(), width, height)
    };
    let encoded = if lossless {
        encoder.encode_lossless()
    } else {
        encoder.encode(f32::from(quality))
    };
    Ok(encoded.to_vec())
}

/// Most frames an animation may have.
pub const MAX_FRAMES: usize = 500;

/// One frame of an animation: full-canvas pixels and how long it shows.
pub type AnimationFrame = (image::RgbaImage, image::Delay);

/// The frames of an animated GIF or WebP, composited onto the full canvas; `None` for a still
/// image or another format. All frames together stay within the pixel budget.
pub fn decode_frames(bytes: &[u8], limits: &ImageLimits) -> Result<Option<Vec<AnimationFrame>>> {
    use image::AnimationDecoder;
    let (width, height, format) = dimensions(bytes)?;
    let frame_pixels = (u64::from(width) * u64::from(height)).max(1);
    let budget = limits.max_pixels / frame_pixels;
    let frames = match format {
        Format::Gif => image::codecs::gif::GifDecoder::new(Cursor::new(bytes))
            .map_err(|e| decoding_error(e, "cannot decode the GIF"))?
            .into_frames(),
        Format::Webp => {
            let decoder = image::codecs::webp::WebPDecoder::new(Cursor::new(bytes))
                .map_err(|e| decoding_error(e, "cannot decode the WebP"))?;
            if !decoder.has_animation() {
                return Ok(None);
            }
            decoder.into_frames()
        }
        _ => return Ok(None),
    };
    let mut out = Vec::new();
    for frame in frames {
        let frame = frame.map_err(|e| decoding_error(e, "cannot decode a frame"))?;
        if out.len() >= MAX_FRAMES || out.len() as u64 >= budget {
            return Err(ImageError::TooLarge(format!(
                "the animation has more frames than {} at {width} × {height} within the pixel budget",
                MAX_FRAMES.min(budget as usize)
            )));
        }
        let delay = frame.delay();
        out.push((frame.into_buffer(), delay));
    }
    Ok((out.len() > 1).then_some(out))
}

/// An animated GIF of `frames`, looping forever.
pub fn encode_gif_animation(frames: Vec<AnimationFrame>, limits: &ImageLimits) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    {
        let mut encoder = image::codecs::gif::GifEncoder::new_with_speed(&mut out, 10);
        encoder
            .set_repeat(image::codecs::gif::Repeat::Infinite)
            .map_err(|e| ImageError::Internal(e.to_string()))?;
        for (buffer, delay) in frames {
            if buffer.width() > limits.max_dimension || buffer.height() > limits.max_dimension {
                return Err(ImageError::TooLarge(format!(
                    "frames are at most {} on a side",
                    limits.max_dimension
                )));
            }
            encoder
                .encode_frame(image::Frame::from_parts(buffer, 0, 0, delay))
                .map_err(|e| ImageError::Internal(e.to_string()))?;
        }
    }
    Ok(out)
}

/// The image on a white background, without alpha.
fn flatten(image: &DynamicImage) -> DynamicImage {
    if !image.color().has_alpha() {
        return DynamicImage::ImageRgb8(image.to_rgb8());
    }
    let rgba = image.to_rgba8();
    let mut rgb = image::RgbImage::new(rgba.width(), rgba.height());
    for (target, source) in rgb.pixels_mut().zip(rgba.pixels()) {
        let alpha = u16::from(source[3]);
        for c in 0..3 {
            target[c] = ((u16::from(source[c]) * alpha + 255 * (255 - alpha)) / 255) as u8;
        }
    }
    DynamicImage::ImageRgb8(rgb)
}

/// The format a name (`jpg`, `jpeg`, `png`, …) stands for.
pub fn format_named(name: &str) -> Result<Format> {
    Ok(match name.to_ascii_lowercase().as_str() {
        "jpeg" | "jpg" => Format::Jpeg,
        "png" => Format::Png,
        "webp" => Format::Webp,
        "gif" => Format::Gif,
        "bmp" => Format::Bmp,
        "tiff" | "tif" => Format::Tiff,
        "ico" => Format::Ico,
        "avif" => Format::Avif,
        other => {
            return Err(invalid(
                "format",
                format!("`{other}` is not one of jpeg, png, webp, avif, gif, bmp, tiff, ico, auto"),
            ));
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(width: u32, height: u32) -> Vec<u8> {
        let image = DynamicImage::ImageRgba8(image::RgbaImage::from_fn(width, height, |x, y| {
            image::Rgba([(x % 256) as u8, (y % 256) as u8, 128, 200])
        }));
        let mut out = Cursor::new(Vec::new());
        image.write_to(&mut out, ImageFormat::Png).unwrap();
        out.into_inner()
    }

    #[test]
    fn round_trips_every_writable_format() {
        let limits = ImageLimits::default();
        let source = decode(&png(40, 30), &limits, true).unwrap();
        assert_eq!(source.format, Format::Png);
        for format in [
            Format::Jpeg,
            Format::Png,
            Format::Webp,
            Format::Gif,
            Format::Bmp,
            Format::Tiff,
            Format::Ico,
        ] {
            let bytes = encode(
                &source.image,
                &EncodeOptions {
                    format,
                    quality: 80,
                    ..EncodeOptions::default()
                },
                &limits,
            )
            .unwrap();
            let back = decode(&bytes, &limits, true).unwrap();
            assert_eq!(back.format, format);
            assert_eq!(
                (back.image.width(), back.image.height()),
                (40, 30),
                "{format:?}"
            );
        }
    }

    /// Gradients with sensor-like noise: what lossy codecs are for.
    fn photo(width: u32, height: u32) -> DynamicImage {
        let mut state = 0x2545_f491_u32;
        DynamicImage::ImageRgb8(image::RgbImage::from_fn(width, height, |x, y| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            let grain = (state % 24) as u8;
            image::Rgb([
                (x % 200) as u8 + grain,
                (y % 200) as u8 + grain,
                100 + grain,
            ])
        }))
    }

    #[test]
    fn webp_avif_progressive_jpeg_icc_and_max_bytes() {
        let limits = ImageLimits::default();
        let image = photo(300, 200);
        let options = |format, quality| EncodeOptions {
            format,
            quality,
            ..EncodeOptions::default()
        };
        let lossy = encode(&image, &options(Format::Webp, 75), &limits).unwrap();
        let lossless = encode(
            &image,
            &EncodeOptions {
                lossless: true,
                ..options(Format::Webp, 75)
            },
            &limits,
        )
        .unwrap();
        assert!(
            lossy.len() * 2 < lossless.len(),
            "{} vs {}",
            lossy.len(),
            lossless.len()
        );
        assert_eq!(
            decode(&lossless, &limits, true).unwrap().image.to_rgb8(),
            image.to_rgb8(),
            "lossless is exact"
        );
        assert_eq!(decode(&lossy, &limits, true).unwrap().image.width(), 300);

        let avif = encode(&image, &options(Format::Avif, 60), &limits).unwrap();
        assert_eq!(&avif[4..12], b"ftypavif");
        assert!(matches!(
            decode(&avif, &limits, true),
            Err(ImageError::Unsupported(_))
        ));

        let progressive = encode(
            &image,
            &EncodeOptions {
                progressive: true,
                ..options(Format::Jpeg, 80)
            },
            &limits,
        )
        .unwrap();
        assert!(
            progressive.windows(2).any(|w| w == [0xFF, 0xC2]),
            "SOF2 marks a progressive JPEG"
        );
        let icc = b"not a real profile but carried byte for byte".to_vec();
        let tagged = encode(
            &image,
            &EncodeOptions {
                icc: Some(icc.clone()),
                ..options(Format::Jpeg, 80)
            },
            &limits,
        )
        .unwrap();
        assert_eq!(
            decode(&tagged, &limits, true).unwrap().icc,
            Some(icc.clone())
        );
        let png = encode(
            &image,
            &EncodeOptions {
                icc: Some(icc.clone()),
                compression: Some(9),
                ..options(Format::Png, 80)
            },
            &limits,
        )
        .unwrap();
        assert_eq!(decode(&png, &limits, true).unwrap().icc, Some(icc));

        let full = encode(&image, &options(Format::Jpeg, 95), &limits).unwrap();
        let capped = encode(
            &image,
            &EncodeOptions {
                max_bytes: Some(full.len() / 3),
                ..options(Format::Jpeg, 95)
            },
            &limits,
        )
        .unwrap();
        assert!(
            capped.len() <= full.len() / 3,
            "{} > {}",
            capped.len(),
            full.len() / 3
        );
        let impossible = encode(
            &image,
            &EncodeOptions {
                max_bytes: Some(100),
                ..options(Format::Jpeg, 95)
            },
            &limits,
        );
        assert!(
            matches!(impossible, Err(ImageError::Invalid { ref field, .. }) if field == "maxBytes")
        );
        let not_lossy = encode(
            &image,
            &EncodeOptions {
                max_bytes: Some(1000),
                ..options(Format::Png, 80)
            },
            &limits,
        );
        assert!(not_lossy.is_err());
    }

    #[test]
    fn hostile_and_broken_files() {
        let limits = ImageLimits {
            max_pixels: 1000,
            ..ImageLimits::default()
        };
        assert!(matches!(
            decode(&png(40, 30), &limits, true),
            Err(ImageError::TooLarge(_))
        ));
        let whole = png(40, 30);
        assert!(matches!(
            decode(&whole[..whole.len() / 2], &ImageLimits::default(), true),
            Err(ImageError::Corrupt(_))
        ));
        assert!(matches!(
            decode(b"hello, not an image", &ImageLimits::default(), true),
            Err(ImageError::Unsupported(_))
        ));
        // A PNG header that claims 100,000 × 100,000 pixels is refused before decoding.
        let mut bomb = png(1, 1);
        bomb[16..20].copy_from_slice(&100_000u32.to_be_bytes());
        bomb[20..24].copy_from_slice(&100_000u32.to_be_bytes());
        assert!(matches!(
            decode(&bomb, &ImageLimits::default(), true),
            Err(ImageError::TooLarge(_)) | Err(ImageError::Corrupt(_))
        ));
    }
}
