//! Making documents smaller: unreferenced objects dropped, every stream Flate-compressed,
//! objects packed into object streams with a cross-reference stream, and large photos
//! downsampled and re-encoded as JPEG when that actually saves bytes.

use std::io::Cursor;

use image::{DynamicImage, ImageReader};
use lopdf::{Document, Object, SaveOptions, Stream};

use super::{Deadline, PdfLimits, Result, internal, invalid, number};

/// What `compress` may do to images.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CompressOptions {
    /// JPEG quality for re-encoded images (1–100).
    pub image_quality: u8,
    /// Longest side, in pixels, an image keeps; larger ones are downsampled. `None` keeps sizes.
    pub max_image_size: Option<u32>,
}

impl Default for CompressOptions {
    fn default() -> Self {
        Self {
            image_quality: 75,
            max_image_size: Some(2000),
        }
    }
}

/// Compresses in place and returns the new file.
pub fn compress(
    document: &mut Document,
    options: CompressOptions,
    limits: &PdfLimits,
    deadline: Deadline,
) -> Result<Vec<u8>> {
    if !(1..=100).contains(&options.image_quality) {
        return Err(invalid("imageQuality", "must be 1 to 100"));
    }
    if options.max_image_size == Some(0) {
        return Err(invalid("maxImageSize", "must be at least 1"));
    }
    document.prune_objects();
    let ids: Vec<_> = document.objects.keys().copied().collect();
    for id in ids {
        let Some(Object::Stream(stream)) = document.objects.get(&id) else {
            continue;
        };
        if is_image(stream) {
            deadline.check()?;
            if let Some(smaller) = recompress_image(stream, options, limits)? {
                document.objects.insert(id, Object::Stream(smaller));
            }
        }
    }
    document.compress();
    let mut out = Vec::new();
    let save = SaveOptions::builder()
        .use_object_streams(true)
        .use_xref_streams(true)
        .compression_level(9)
        .build();
    document
        .save_with_options(&mut out, save)
        .map_err(internal)?;
    Ok(out)
}

fn is_image(stream: &Stream) -> bool {
    stream.dict.get(b"Subtype").and_then(Object::as_name).ok() == Some(b"Image")
}

/// A smaller JPEG version of a photo-like image, or `None` to keep it as it is.
fn recompress_image(
    stream: &Stream,
    options: CompressOptions,
    limits: &PdfLimits,
) -> Result<Option<Stream>> {
    let dict = &stream.dict;
    let get_number = |key: &[u8]| dict.get(key).ok().and_then(number);
    let (Some(width), Some(height)) = (get_number(b"Width"), get_number(b"Height")) else {
        return Ok(None);
    };
    let (width, height) = (width as u32, height as u32);
    if width == 0 || height == 0 || u64::from(width) * u64::from(height) > limits.max_image_pixels {
        return Ok(None);
    }
    // Masks, masked images, indexed and special color spaces keep their exact bytes.
    if [&b"ImageMask"[..], b"Mask", b"Decode", b"SMask"]
        .iter()
        .any(|k| dict.has(k))
    {
        return Ok(None);
    }
    let color = dict.get(b"ColorSpace").and_then(Object::as_name).ok();
    let gray = match color {
        Some(b"DeviceRGB") => false,
        Some(b"DeviceGray") => true,
        _ => return Ok(None),
    };
    if get_number(b"BitsPerComponent") != Some(8.0) {
        return Ok(None);
    }
    let filters = stream.filters().unwrap_or_default();
    let image: DynamicImage = match filters.as_slice() {
        [f] if *f == b"DCTDecode" => {
            let mut reader =
                ImageReader::with_format(Cursor::new(&stream.content), image::ImageFormat::Jpeg);
            reader.no_limits();
            match reader.decode() {
                Ok(image) => image,
                Err(_) => return Ok(None),
            }
        }
        [f] if *f == b"FlateDecode" => {
            let Ok(raw) = stream.decompressed_content_with_limit(limits.max_stream_bytes) else {
                return Ok(None);
            };
            let channels = if gray { 1 } else { 3 };
            if raw.len() != width as usize * height as usize * channels {
                return Ok(None);
            }
            let image = if gray {
                image::GrayImage::from_raw(width, height, raw).map(DynamicImage::ImageLuma8)
            } else {
                image::RgbImage::from_raw(width, height, raw).map(DynamicImage::ImageRgb8)
            };
            match image {
                Some(image) => image,
                None => return Ok(None),
            }
        }
        _ => return Ok(None),
    };
    let image = match options.max_image_size {
        Some(max) if width.max(height) > max => {
            image.resize(max, max, image::imageops::FilterType::Triangle)
        }
        _ => image,
    };
    let image = if gray {
        DynamicImage::ImageLuma8(image.to_luma8())
    } else {
        DynamicImage::ImageRgb8(image.to_rgb8())
    };
    let mut jpeg = Vec::new();
    let encoder =
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, options.image_quality);
    image.write_with_encoder(encoder).map_err(internal)?;
    if jpeg.len() >= stream.content.len() {
        return Ok(None);
    }
    let mut dict = dict.clone();
    dict.set("Filter", "DCTDecode");
    dict.remove(b"DecodeParms");
    dict.set("Width", i64::from(image.width()));
    dict.set("Height", i64::from(image.height()));
    Ok(Some(Stream::new(dict, jpeg).with_compression(false)))
}
