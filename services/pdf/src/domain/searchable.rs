//! Searchable PDFs from scans: each page is the scanned image with the recognized words laid
//! over it as invisible text (render mode 3), each word stretched to its box, so the document
//! looks like the scan and selects, searches and extracts like text.

use std::fmt::Write as _;

use lopdf::{Document, Object, Stream, dictionary};

use super::fonts::{FontSet, Style, face};
use super::images::add_image;
use super::{PdfLimits, Result, internal};

/// One scanned page and what was read on it.
#[derive(Debug, Clone)]
pub struct ScannedPage {
    /// The page image (JPEG is embedded as it is; other formats losslessly).
    pub image: Vec<u8>,
    pub width_px: u32,
    pub height_px: u32,
    /// Pixels per inch of the scan: sets the page size.
    pub dpi: f32,
    /// Words and their boxes in pixels from the top-left: `[x, y, width, height]`.
    pub words: Vec<(String, [u32; 4])>,
}

/// The document of `pages`.
pub fn searchable(pages: &[ScannedPage], limits: &PdfLimits) -> Result<Document> {
    super::check_pages(pages.len(), limits)?;
    let mut document = Document::with_version("1.7");
    let pages_id = document.new_object_id();
    let mut fonts = FontSet::default();
    let mut kids = Vec::with_capacity(pages.len());
    let mut contents = Vec::with_capacity(pages.len());
    for page in pages {
        let scale = 72.0 / page.dpi.max(1.0);
        let (width, height) = (page.width_px as f32 * scale, page.height_px as f32 * scale);
        let placed = add_image(&mut document, &page.image, limits)?;
        let mut content = format!("q {width:.3} 0 0 {height:.3} 0 0 cm /Im0 Do Q\n");
        if !page.words.is_empty() {
            content.push_str("BT 3 Tr\n");
        }
        for (text, [x, y, w, h]) in &page.words {
            if text.trim().is_empty() || *w == 0 || *h == 0 {
                continue;
            }
            let size = (*h as f32 * scale).max(1.0);
            let natural = face(Style::Regular).width(text, size).max(0.01);
            let stretch = (*w as f32 * scale / natural * 100.0).clamp(1.0, 1000.0);
            // The baseline sits about a fifth of the box above its bottom (descenders).
            let left = *x as f32 * scale;
            let baseline = height - (*y + *h) as f32 * scale + size * 0.2;
            let bytes = fonts.encode(&mut document, Style::Regular, text);
            let mut hex = String::with_capacity(bytes.len() * 2);
            for b in bytes {
                let _ = write!(hex, "{b:02X}");
            }
            let _ = writeln!(
                content,
                "/{} {size:.2} Tf {stretch:.2} Tz 1 0 0 1 {left:.2} {baseline:.2} Tm <{hex}> Tj",
                Style::Regular.resource()
            );
        }
        if !page.words.is_empty() {
            content.push_str("ET\n");
        }
        contents.push((content, placed.id, width, height));
    }
    let font_resources = fonts.resources();
    fonts.finish(&mut document)?;
    for (content, image, width, height) in contents {
        let mut stream = Stream::new(dictionary! {}, content.into_bytes());
        stream.compress().map_err(internal)?;
        let content_id = document.add_object(stream);
        let page_id = document.add_object(dictionary! {
            "Type" => "Page",
            "Parent" => pages_id,
            "MediaBox" => vec![0.into(), 0.into(), Object::Real(width), Object::Real(height)],
            "Resources" => dictionary! {
                "Font" => font_resources.clone(),
                "XObject" => dictionary! { "Im0" => image },
            },
            "Contents" => content_id,
        });
        kids.push(Object::Reference(page_id));
    }
    super::finish_page_tree(&mut document, pages_id, kids);
    super::info::stamp_new(&mut document, None);
    Ok(document)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Deadline, text};

    #[test]
    fn invisible_words_extract_in_place() {
        let mut jpeg = std::io::Cursor::new(Vec::new());
        image::DynamicImage::ImageRgb8(image::RgbImage::from_pixel(
            600,
            300,
            image::Rgb([250, 250, 250]),
        ))
        .write_to(&mut jpeg, image::ImageFormat::Jpeg)
        .unwrap_or_default();
        let page = ScannedPage {
            image: jpeg.into_inner(),
            width_px: 600,
            height_px: 300,
            dpi: 150.0,
            words: vec![
                ("Invoice".into(), [50, 40, 140, 30]),
                ("42".into(), [200, 40, 40, 30]),
                ("Total".into(), [50, 120, 100, 30]),
            ],
        };
        let limits = PdfLimits::default();
        let document = searchable(&[page], &limits).unwrap_or_default();
        let read = text::extract(
            &document,
            &[1],
            &limits,
            Deadline::after(std::time::Duration::from_secs(5)),
        )
        .unwrap_or_default();
        assert_eq!(
            read.first().map(|p| p.text.as_str()),
            Some("Invoice 42\nTotal")
        );
    }
}
