//! Turning an upload into pages: images (PNG, JPEG, WebP, BMP, GIF), multi-page TIFF (each
//! directory a page), and PDF, whose pages with a text layer give their text directly and whose
//! scanned pages are rendered by the shared renderer. Pages are produced one at a time, so a
//! long document never holds more than one page's pixels.

use std::collections::HashMap;
use std::io::Cursor;

use flowforge_pdf::domain::{self as pdf, PdfError, PdfLimits};
use flowforge_pdf_render::{RenderError, Renderer};
use image::{DynamicImage, GrayImage, ImageFormat, ImageReader, RgbImage, RgbaImage};

use super::{OcrError, OcrLimits, Result, internal, invalid};

/// One page to read.
#[derive(Debug)]
pub enum Page {
    /// Pixels to OCR, with the scan's resolution when the file says it.
    Image {
        image: DynamicImage,
        dpi: Option<u32>,
    },
    /// A PDF page's own text layer.
    Text(String),
}

/// An opened upload.
pub enum Source {
    Image(Vec<u8>, ImageFormat),
    Tiff {
        bytes: Vec<u8>,
        pages: usize,
    },
    Pdf {
        document: Box<lopdf::Document>,
        renderer: Box<Renderer>,
    },
}

impl std::fmt::Debug for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Source")
            .field("pages", &self.page_count())
            .finish()
    }
}

fn pdf_error(error: PdfError) -> OcrError {
    match error {
        PdfError::Invalid { field, message } => OcrError::Invalid { field, message },
        PdfError::TooLarge(m) => OcrError::TooLarge(m),
        PdfError::Unsupported(m) => OcrError::Unsupported(m),
        PdfError::Corrupt(m) => OcrError::Corrupt(m),
        PdfError::PasswordRequired(m) => OcrError::PasswordRequired(m),
        PdfError::WrongPassword(m) => OcrError::WrongPassword(m),
        PdfError::Timeout(m) | PdfError::Internal(m) => OcrError::Internal(m),
    }
}

fn render_error(error: RenderError) -> OcrError {
    match error {
        RenderError::TooLarge(m) => OcrError::TooLarge(m),
        RenderError::BadDpi => invalid("dpi", error.to_string()),
        RenderError::NoSuchPage { .. } => invalid("pages", error.to_string()),
        RenderError::PasswordRequired => OcrError::PasswordRequired(error.to_string()),
        RenderError::UnsupportedEncryption | RenderError::NotPdf => {
            OcrError::Unsupported(error.to_string())
        }
        RenderError::Corrupt => OcrError::Corrupt(error.to_string()),
    }
}

fn check_side(width: u32, height: u32, limits: &OcrLimits) -> Result<()> {
    if width > limits.max_side || height > limits.max_side {
        return Err(OcrError::TooLarge(format!(
            "the page is {width} × {height} pixels; at most {} per side",
            limits.max_side
        )));
    }
    if width == 0 || height == 0 {
        return Err(OcrError::Corrupt("the image has no pixels".into()));
    }
    Ok(())
}

impl Source {
    /// Recognizes the format and counts the pages.
    pub fn open(bytes: Vec<u8>, password: Option<&str>, limits: &OcrLimits) -> Result<Self> {
        if pdf::looks_like_pdf(&bytes) {
            let pdf_limits = PdfLimits {
                max_pages: 10_000,
                ..PdfLimits::default()
            };
            let document = pdf::load(&bytes, password, &pdf_limits).map_err(pdf_error)?;
            let renderer = Renderer::open(bytes, password).map_err(render_error)?;
            return Ok(Source::Pdf {
                document: Box::new(document),
                renderer: Box::new(renderer),
            });
        }
        let format = image::guess_format(&bytes).map_err(|_| {
            OcrError::Unsupported(
                "not an image or PDF this service reads (PNG, JPEG, TIFF, WebP, BMP, GIF, PDF)"
                    .into(),
            )
        })?;
        match format {
            ImageFormat::Tiff => {
                let mut decoder = tiff::decoder::Decoder::new(Cursor::new(&bytes))
                    .map_err(|e| OcrError::Corrupt(format!("the TIFF could not be read: {e}")))?;
                let mut pages = 1;
                while decoder.more_images() && pages <= limits.max_pages {
                    decoder.next_image().map_err(|e| {
                        OcrError::Corrupt(format!("the TIFF could not be read: {e}"))
                    })?;
                    pages += 1;
                }
                Ok(Source::Tiff { bytes, pages })
            }
            ImageFormat::Png
            | ImageFormat::Jpeg
            | ImageFormat::WebP
            | ImageFormat::Bmp
            | ImageFormat::Gif => Ok(Source::Image(bytes, format)),
            other => Err(OcrError::Unsupported(format!(
                "{} is not supported (PNG, JPEG, TIFF, WebP, BMP, GIF, PDF are)",
                other.extensions_str().first().unwrap_or(&"this format")
            ))),
        }
    }

    pub fn page_count(&self) -> usize {
        match self {
            Source::Image(..) => 1,
            Source::Tiff { pages, .. } => *pages,
            Source::Pdf { renderer, .. } => renderer.page_count(),
        }
    }

    /// Page `number` (1-based): a PDF page with text gives it (unless `force`); everything
    /// else is pixels, PDF pages rendered at `dpi`.
    /// The text layers of `pages` of a PDF (empty for other sources), read in one pass so each
    /// font is parsed once, not once per page. Pages with fewer than three letters or digits
    /// count as scanned and are left out.
    pub fn text_layers(&self, pages: &[usize]) -> Result<HashMap<usize, String>> {
        let Source::Pdf { document, .. } = self else {
            return Ok(HashMap::new());
        };
        let deadline = pdf::Deadline::after(std::time::Duration::from_secs(30));
        Ok(
            pdf::text::extract(document, pages, &PdfLimits::default(), deadline)
                .map_err(pdf_error)?
                .into_iter()
                .filter(|p| p.text.chars().filter(|c| c.is_alphanumeric()).count() >= 3)
                .map(|p| (p.page, p.text))
                .collect(),
        )
    }

    /// Page `number` (1-based): the PDF page's `text_layer` when given, else pixels (PDF pages
    /// rendered at `dpi`).
    pub fn page(
        &self,
        number: usize,
        text_layer: Option<&String>,
        dpi: u32,
        limits: &OcrLimits,
    ) -> Result<Page> {
        match self {
            Source::Image(bytes, format) => {
                let reader = ImageReader::with_format(Cursor::new(bytes), *format);
                let (w, h) = reader
                    .into_dimensions()
                    .map_err(|e| OcrError::Corrupt(format!("the image could not be read: {e}")))?;
                check_side(w, h, limits)?;
                let mut reader = ImageReader::with_format(Cursor::new(bytes), *format);
                reader.no_limits();
                let image = reader.decode().map_err(|e| {
                    OcrError::Corrupt(format!("the image could not be decoded: {e}"))
                })?;
                Ok(Page::Image { image, dpi: None })
            }
            Source::Tiff { bytes, .. } => tiff_page(bytes, number - 1, limits),
            Source::Pdf { renderer, .. } => {
                if let Some(text) = text_layer {
                    return Ok(Page::Text(text.clone()));
                }
                let pixels = u64::from(limits.max_side) * u64::from(limits.max_side);
                let (w, h) = renderer
                    .pixel_size(number, dpi as f32, pixels)
                    .map_err(render_error)?;
                check_side(w, h, limits)?;
                let mut rendered = None;
                renderer
                    .render::<OcrError>(&[number], dpi as f32, pixels, |_, image| {
                        rendered = Some(image);
                        Ok(())
                    })
                    .map_err(|e| match e {
                        OcrError::Internal(m) => OcrError::Corrupt(m),
                        other => other,
                    })?;
                let image = rendered.ok_or_else(|| internal("the page did not render"))?;
                Ok(Page::Image {
                    image: DynamicImage::ImageRgba8(image),
                    dpi: Some(dpi),
                })
            }
        }
    }
}

impl From<RenderError> for OcrError {
    fn from(error: RenderError) -> Self {
        render_error(error)
    }
}

/// One TIFF directory as an image: 1-bit, 8-bit and 16-bit gray, RGB and RGBA.
fn tiff_page(bytes: &[u8], index: usize, limits: &OcrLimits) -> Result<Page> {
    use tiff::ColorType;
    use tiff::decoder::DecodingResult;
    let corrupt =
        |e: tiff::TiffError| OcrError::Corrupt(format!("the TIFF could not be read: {e}"));
    let mut decoder = tiff::decoder::Decoder::new(Cursor::new(bytes)).map_err(corrupt)?;
    decoder.seek_to_image(index).map_err(corrupt)?;
    let (w, h) = decoder.dimensions().map_err(corrupt)?;
    check_side(w, h, limits)?;
    let color = decoder.colortype().map_err(corrupt)?;
    let data = decoder.read_image().map_err(corrupt)?;
    let unsupported =
        || OcrError::Unsupported(format!("TIFF pages in {color:?} are not supported"));
    let image = match (color, data) {
        (ColorType::Gray(8), DecodingResult::U8(d)) => {
            GrayImage::from_raw(w, h, d).map(DynamicImage::ImageLuma8)
        }
        (ColorType::Gray(16), DecodingResult::U16(d)) => {
            GrayImage::from_raw(w, h, d.iter().map(|v| (v >> 8) as u8).collect())
                .map(DynamicImage::ImageLuma8)
        }
        (ColorType::Gray(1), DecodingResult::U8(d)) => {
            // Packed bits, each row padded to a byte; 1 is white once photometry is applied.
            let row = w.div_ceil(8) as usize;
            Some(DynamicImage::ImageLuma8(GrayImage::from_fn(
                w,
                h,
                |x, y| {
                    let byte = d
                        .get(y as usize * row + x as usize / 8)
                        .copied()
                        .unwrap_or(0xff);
                    image::Luma([if byte & (0x80 >> (x % 8)) != 0 {
                        255
                    } else {
                        0
                    }])
                },
            )))
        }
        (ColorType::RGB(8), DecodingResult::U8(d)) => {
            RgbImage::from_raw(w, h, d).map(DynamicImage::ImageRgb8)
        }
        (ColorType::RGBA(8), DecodingResult::U8(d)) => {
            RgbaImage::from_raw(w, h, d).map(DynamicImage::ImageRgba8)
        }
        _ => return Err(unsupported()),
    };
    let image = image.ok_or_else(|| OcrError::Corrupt("the TIFF page's data is short".into()))?;
    Ok(Page::Image { image, dpi: None })
}
