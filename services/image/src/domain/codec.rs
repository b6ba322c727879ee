//! Decoding with limits and encoding with options.
//!
//! The dimensions are read from the header first and checked against the pixel budget before
//! a single pixel is decoded, so a 1 KB PNG claiming 100,000 × 100,000 pixels costs nothing; the
//! decoder also runs with allocation limits. EXIF orientation is applied on decode (phones store
//! portraits sideways) unless the caller asks otherwise.

use std::io::Cursor;

use image::codecs::jpeg::JpegEncoder;
use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader, Limits};

use super::{ImageError, ImageLimits, Result, invalid};

/// The formats this service reads and writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Jpeg,
    Png,
    /// Written lossless (the pure-Rust encoder has no lossy mode).
    Webp,
    Gif,
    Bmp,
    Tiff,
    Ico,
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
    pub has_icc: bool,
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
    let has_icc = decoder.icc_profile().ok().flatten().is_some();
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
        has_icc,
        has_exif,
    })
}

/// Encoding choices.
#[derive(Debug, Clone, Copy)]
pub struct EncodeOptions {
    pub format: Format,
    /// JPEG quality 1–100 (default 80).
    pub quality: u8,
}

/// Writes `image` in `options.format`. Metadata is not carried over (stripped, as privacy and
/// size want by default).
pub fn encode(
    image: &DynamicImage,
    options: EncodeOptions,
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
    let mut out = Cursor::new(Vec::new());
    let encoding = |e: image::ImageError| match e {
        image::ImageError::Parameter(p) => invalid("format", p.to_string()),
        image::ImageError::Unsupported(u) => invalid("format", u.to_string()),
        other => ImageError::Internal(other.to_string()),
    };
    match options.format {
        Format::Jpeg => {
            if !(1..=100).contains(&options.quality) {
                return Err(invalid("quality", "must be 1 to 100"));
            }
            // JPEG has no alpha: flatten onto white rather than let transparent pixels turn black.
            let rgb = flatten(image);
            rgb.write_with_encoder(JpegEncoder::new_with_quality(&mut out, options.quality))
                .map_err(encoding)?;
        }
        Format::Ico if image.width() > 256 || image.height() > 256 => {
            return Err(invalid(
                "format",
                "ICO images are at most 256 × 256; resize first",
            ));
        }
        Format::Gif | Format::Ico | Format::Webp => {
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
        Format::Png | Format::Tiff => {
            image
                .write_to(&mut out, options.format.image_format())
                .map_err(encoding)?;
        }
    }
    Ok(out.into_inner())
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
        "avif" => {
            return Err(ImageError::Unsupported(
                "AVIF output is not available yet".into(),
            ));
        }
        other => {
            return Err(invalid(
                "format",
                format!("`{other}` is not one of jpeg, png, webp, gif, bmp, tiff, ico"),
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
                EncodeOptions {
                    format,
                    quality: 80,
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
