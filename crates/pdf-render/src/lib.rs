//! PDF pages to pixels, for the pdf service's `render` and OCR of scanned PDFs: one parsed
//! document renders any of its pages at a DPI into an RGBA image on a white background.
//!
//! Built on hayro, a pure-Rust rasterizer (vector graphics, text with embedded or substituted
//! standard fonts, JPEG/JPEG 2000/JBIG2/CCITT images). The output size is checked against a pixel
//! budget before any drawing, so a page claiming to be a square kilometre costs nothing.

use hayro::hayro_interpret::InterpreterSettings;
use hayro::hayro_syntax::{LoadPdfError, Pdf};
use hayro::vello_cpu::color::palette::css::WHITE;
use hayro::{PixmapSettings, RenderCache, RenderSettings};
use image::RgbaImage;

/// Why a page could not be rendered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RenderError {
    #[error("the file is not a PDF (no %PDF- header)")]
    NotPdf,
    #[error("the PDF could not be read")]
    Corrupt,
    #[error("the document is encrypted: send its password")]
    PasswordRequired,
    #[error("the document's encryption is not supported")]
    UnsupportedEncryption,
    #[error("page {page} does not exist (the document has {count} pages)")]
    NoSuchPage { page: usize, count: usize },
    #[error("{0}")]
    TooLarge(String),
    #[error("dpi must be between {MIN_DPI} and {MAX_DPI}")]
    BadDpi,
}

/// Lowest and highest resolution accepted.
pub const MIN_DPI: f32 = 18.0;
pub const MAX_DPI: f32 = 1200.0;
/// The rasterizer's widest or tallest image.
const MAX_SIDE: f32 = 65_535.0;

/// A parsed document ready to render.
pub struct Renderer {
    pdf: Pdf,
}

impl std::fmt::Debug for Renderer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Renderer")
            .field("pages", &self.page_count())
            .finish()
    }
}

impl Renderer {
    /// Parses `bytes`, opening an encrypted document with `password`.
    pub fn open(bytes: Vec<u8>, password: Option<&str>) -> Result<Self, RenderError> {
        let head = &bytes[..bytes.len().min(1024)];
        if !head.windows(5).any(|w| w == b"%PDF-") {
            return Err(RenderError::NotPdf);
        }
        let pdf = Pdf::new_with_password(std::sync::Arc::new(bytes), password.unwrap_or(""))
            .map_err(|e| match e {
                LoadPdfError::Decryption(
                    hayro::hayro_syntax::DecryptionError::PasswordProtected,
                ) => RenderError::PasswordRequired,
                LoadPdfError::Decryption(_) => RenderError::UnsupportedEncryption,
                LoadPdfError::Invalid => RenderError::Corrupt,
            })?;
        if pdf.pages().is_empty() {
            return Err(RenderError::Corrupt);
        }
        Ok(Self { pdf })
    }

    pub fn page_count(&self) -> usize {
        self.pdf.pages().len()
    }

    /// The displayed size of a 1-based page in points.
    pub fn page_size(&self, page: usize) -> Result<(f32, f32), RenderError> {
        Ok(self.page(page)?.render_dimensions())
    }

    fn page(&self, page: usize) -> Result<&hayro::hayro_syntax::page::Page<'_>, RenderError> {
        let count = self.page_count();
        page.checked_sub(1)
            .and_then(|i| self.pdf.pages().get(i))
            .ok_or(RenderError::NoSuchPage { page, count })
    }

    /// The pixel size a page has at `dpi`, refused past `max_pixels`.
    pub fn pixel_size(
        &self,
        page: usize,
        dpi: f32,
        max_pixels: u64,
    ) -> Result<(u32, u32), RenderError> {
        if !(MIN_DPI..=MAX_DPI).contains(&dpi) {
            return Err(RenderError::BadDpi);
        }
        let (width, height) = self.page_size(page)?;
        let scale = dpi / 72.0;
        // As the rasterizer sizes its canvas: whole pixels, rounded down.
        let (w, h) = (
            (width * scale).floor().max(1.0),
            (height * scale).floor().max(1.0),
        );
        if w > MAX_SIDE || h > MAX_SIDE || (w as u64) * (h as u64) > max_pixels {
            return Err(RenderError::TooLarge(format!(
                "page {page} at {dpi} dpi would be {w}×{h} pixels; at most {max_pixels} are allowed"
            )));
        }
        Ok((w as u32, h as u32))
    }

    /// Renders 1-based `pages` at `dpi`, handing each image to `each` before drawing the next,
    /// so only one page's pixels are held at a time.
    pub fn render<E>(
        &self,
        pages: &[usize],
        dpi: f32,
        max_pixels: u64,
        mut each: impl FnMut(usize, RgbaImage) -> Result<(), E>,
    ) -> Result<(), E>
    where
        E: From<RenderError>,
    {
        // Sizes are checked for every page before the first is drawn.
        for &page in pages {
            self.pixel_size(page, dpi, max_pixels)?;
        }
        let cache = RenderCache::new();
        let interpreter = InterpreterSettings::default();
        let settings = RenderSettings::default();
        let scale = dpi / 72.0;
        let pixmap_settings = PixmapSettings {
            x_scale: scale,
            y_scale: scale,
            bg_color: WHITE,
        };
        for &page in pages {
            let pixmap = hayro::render(
                self.page(page)?,
                &cache,
                &interpreter,
                &settings,
                &pixmap_settings,
            );
            let (width, height) = (u32::from(pixmap.width()), u32::from(pixmap.height()));
            // The background is opaque, so premultiplied and straight alpha are the same bytes.
            let image = RgbaImage::from_raw(width, height, pixmap.data_as_u8_slice().to_vec())
                .ok_or(RenderError::Corrupt)?;
            each(page, image)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A one-page PDF with a black square (100 pt from the bottom-left, 100 pt wide) on a
    /// 200 × 300 pt page; offsets are computed so the cross-reference table is exact.
    fn square_pdf() -> Vec<u8> {
        let content = b"0 0 0 rg 100 100 100 100 re f";
        let objects = [
            "<< /Type /Catalog /Pages 2 0 R >>".to_owned(),
            "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_owned(),
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 300] /Contents 4 0 R >>".to_owned(),
            format!(
                "<< /Length {} >>\nstream\n{}\nendstream",
                content.len(),
                String::from_utf8_lossy(content)
            ),
        ];
        let mut out = b"%PDF-1.7\n".to_vec();
        let mut offsets = Vec::new();
        for (i, object) in objects.iter().enumerate() {
            offsets.push(out.len());
            out.extend_from_slice(format!("{} 0 obj\n{object}\nendobj\n", i + 1).as_bytes());
        }
        let xref = out.len();
        out.extend_from_slice(
            format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes(),
        );
        for offset in offsets {
            out.extend_from_slice(format!("{offset:010} 00000 n \n").as_bytes());
        }
        out.extend_from_slice(
            format!(
                "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
                objects.len() + 1
            )
            .as_bytes(),
        );
        out
    }

    #[test]
    fn renders_the_square_where_it_is() {
        let renderer = Renderer::open(square_pdf(), None).unwrap();
        assert_eq!(renderer.page_count(), 1);
        let mut images = Vec::new();
        renderer
            .render::<RenderError>(&[1], 144.0, 1_000_000, |page, image| {
                images.push((page, image));
                Ok(())
            })
            .unwrap();
        let (page, image) = &images[0];
        assert_eq!(*page, 1);
        // 200 × 300 pt at 144 dpi = 400 × 600 px; the square spans x 200–400, y (from the top) 200–400.
        assert_eq!(image.dimensions(), (400, 600));
        assert_eq!(image.get_pixel(300, 300).0, [0, 0, 0, 255]);
        assert_eq!(image.get_pixel(100, 300).0, [255, 255, 255, 255]);
        assert_eq!(image.get_pixel(300, 100).0, [255, 255, 255, 255]);
        assert_eq!(image.get_pixel(300, 500).0, [255, 255, 255, 255]);
    }

    #[test]
    fn limits_and_bad_input() {
        assert_eq!(
            Renderer::open(b"GIF89a".to_vec(), None).unwrap_err(),
            RenderError::NotPdf
        );
        assert_eq!(
            Renderer::open(b"%PDF-1.7 junk".to_vec(), None).unwrap_err(),
            RenderError::Corrupt
        );
        let renderer = Renderer::open(square_pdf(), None).unwrap();
        assert!(matches!(
            renderer.pixel_size(1, 300.0, 1000),
            Err(RenderError::TooLarge(_))
        ));
        assert_eq!(renderer.pixel_size(1, 5.0, 1000), Err(RenderError::BadDpi));
        assert_eq!(
            renderer.pixel_size(2, 72.0, 1000),
            Err(RenderError::NoSuchPage { page: 2, count: 1 })
        );
        assert_eq!(renderer.pixel_size(1, 72.0, 100_000), Ok((200, 300)));
    }
}
