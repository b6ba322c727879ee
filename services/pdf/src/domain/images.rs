//! Images into PDFs: JPEGs are embedded as they are (DCTDecode, no re-encoding, no quality
//! loss); every other format is decoded and stored losslessly (Flate), its alpha channel as a
//! soft mask. Dimensions are read from the header and checked before any pixel is decoded.

use std::io::Cursor;

use image::{ImageFormat, ImageReader};
use lopdf::{Document, Object, ObjectId, Stream, dictionary};

use super::{PdfError, PdfLimits, Result, internal};

/// An image placed in a document.
#[derive(Debug, Clone, Copy)]
pub struct Placed {
    pub id: ObjectId,
    pub width: u32,
    pub height: u32,
}

/// Adds `bytes` as an image XObject.
pub fn add_image(document: &mut Document, bytes: &[u8], limits: &PdfLimits) -> Result<Placed> {
    let reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(internal)?;
    let Some(format) = reader.format() else {
        return Err(PdfError::Unsupported(
            "the image is not PNG, JPEG, WebP, GIF, BMP or TIFF".into(),
        ));
    };
    let (width, height) = reader
        .into_dimensions()
        .map_err(|e| PdfError::Corrupt(format!("the image could not be read: {e}")))?;
    if u64::from(width) * u64::from(height) > limits.max_image_pixels {
        return Err(PdfError::TooLarge(format!(
            "the image has {width}×{height} pixels; at most {} are accepted",
            limits.max_image_pixels
        )));
    }
    if width == 0 || height == 0 {
        return Err(PdfError::Corrupt("the image has no pixels".into()));
    }
    if format == ImageFormat::Jpeg
        && let Some(components) = jpeg_components(bytes)
    {
        let color_space = match components {
            1 => "DeviceGray",
            4 => "DeviceCMYK",
            _ => "DeviceRGB",
        };
        let mut dict = dictionary! {
            "Type" => "XObject",
            "Subtype" => "Image",
            "Width" => width,
            "Height" => height,
            "ColorSpace" => color_space,
            "BitsPerComponent" => 8,
            "Filter" => "DCTDecode",
        };
        if components == 4 {
            // Adobe's CMYK JPEGs are stored inverted.
            dict.set(
                "Decode",
                vec![
                    1.into(),
                    0.into(),
                    1.into(),
                    0.into(),
                    1.into(),
                    0.into(),
                    1.into(),
                    0.into(),
                ],
            );
        }
        let id = document.add_object(Stream::new(dict, bytes.to_vec()).with_compression(false));
        return Ok(Placed { id, width, height });
    }
    let mut reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(internal)?;
    let mut decoder_limits = image::Limits::default();
    decoder_limits.max_alloc = Some(limits.max_image_pixels.saturating_mul(8));
    reader.limits(decoder_limits);
    let decoded = reader
        .decode()
        .map_err(|e| PdfError::Corrupt(format!("the image could not be decoded: {e}")))?;
    let has_alpha = decoded.color().has_alpha();
    let gray = !decoded.color().has_color();
    let (pixels, color_space) = if gray {
        (decoded.to_luma8().into_raw(), "DeviceGray")
    } else {
        (decoded.to_rgb8().into_raw(), "DeviceRGB")
    };
    let mut dict = dictionary! {
        "Type" => "XObject",
        "Subtype" => "Image",
        "Width" => width,
        "Height" => height,
        "ColorSpace" => color_space,
        "BitsPerComponent" => 8,
    };
    if has_alpha {
        let alpha: Vec<u8> = decoded.to_rgba8().pixels().map(|p| p.0[3]).collect();
        let mut mask = Stream::new(
            dictionary! {
                "Type" => "XObject",
                "Subtype" => "Image",
                "Width" => width,
                "Height" => height,
                "ColorSpace" => "DeviceGray",
                "BitsPerComponent" => 8,
            },
            alpha,
        );
        mask.compress().map_err(internal)?;
        dict.set("SMask", document.add_object(mask));
    }
    let mut stream = Stream::new(dict, pixels);
    stream.compress().map_err(internal)?;
    let id = document.add_object(stream);
    Ok(Placed { id, width, height })
}

/// The number of color components in a baseline or progressive JPEG's frame header.
fn jpeg_components(bytes: &[u8]) -> Option<u8> {
    let mut i = 2;
    while i + 4 <= bytes.len() {
        if bytes[i] != 0xFF {
            return None;
        }
        let marker = bytes[i + 1];
        let length = usize::from(u16::from_be_bytes([bytes[i + 2], bytes[i + 3]]));
        // SOF0–SOF15 except DHT (C4), JPG (C8) and DAC (CC).
        if (0xC0..=0xCF).contains(&marker) && !matches!(marker, 0xC4 | 0xC8 | 0xCC) {
            return bytes.get(i + 9).copied();
        }
        i += 2 + length;
    }
    None
}

/// Page size for `images-to-pdf`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ImagePage {
    /// Each page exactly the image's size at `dpi`.
    Fit { dpi: f32 },
    /// A fixed page (points) with the image scaled to fit inside the margin, centered.
    Fixed {
        width: f32,
        height: f32,
        margin: f32,
    },
}

/// One page per image, in order.
pub fn images_to_pdf(
    images: &[bytes::Bytes],
    page: ImagePage,
    limits: &PdfLimits,
) -> Result<Document> {
    super::check_pages(images.len(), limits)?;
    let mut document = Document::with_version("1.7");
    let pages_id = document.new_object_id();
    let mut kids = Vec::new();
    for (i, bytes) in images.iter().enumerate() {
        let placed = add_image(&mut document, bytes, limits).map_err(|e| match e {
            PdfError::Corrupt(m) => PdfError::Corrupt(format!("image {}: {m}", i + 1)),
            PdfError::Unsupported(m) => PdfError::Unsupported(format!("image {}: {m}", i + 1)),
            other => other,
        })?;
        let (w, h) = (placed.width as f32, placed.height as f32);
        let (page_w, page_h, draw_w, draw_h, x, y) = match page {
            ImagePage::Fit { dpi } => {
                let (pw, ph) = (w * 72.0 / dpi, h * 72.0 / dpi);
                (pw, ph, pw, ph, 0.0, 0.0)
            }
            ImagePage::Fixed {
                width,
                height,
                margin,
            } => {
                let (room_w, room_h) = (
                    (width - 2.0 * margin).max(1.0),
                    (height - 2.0 * margin).max(1.0),
                );
                let scale = (room_w / w).min(room_h / h);
                let (dw, dh) = (w * scale, h * scale);
                (
                    width,
                    height,
                    dw,
                    dh,
                    (width - dw) / 2.0,
                    (height - dh) / 2.0,
                )
            }
        };
        let content = format!("q {draw_w:.3} 0 0 {draw_h:.3} {x:.3} {y:.3} cm /Im0 Do Q");
        let content_id = document.add_object(Stream::new(dictionary! {}, content.into_bytes()));
        let page_id = document.add_object(dictionary! {
            "Type" => "Page",
            "Parent" => pages_id,
            "MediaBox" => vec![0.into(), 0.into(), Object::Real(page_w), Object::Real(page_h)],
            "Resources" => dictionary! { "XObject" => dictionary! { "Im0" => placed.id } },
            "Contents" => content_id,
        });
        kids.push(Object::Reference(page_id));
    }
    super::finish_page_tree(&mut document, pages_id, kids);
    Ok(document)
}
