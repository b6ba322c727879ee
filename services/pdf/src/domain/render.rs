//! Pages to PNG or JPEG through the shared renderer (`flowforge-pdf-render`), one page's pixels
//! in memory at a time.

use std::io::Cursor;

use flowforge_pdf_render::{RenderError, Renderer};

use super::{Deadline, PdfError, PdfLimits, Result, internal, invalid, parse_ranges};

/// The image format of rendered pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RenderFormat {
    Png,
    Jpeg { quality: u8 },
}

impl RenderFormat {
    pub fn extension(self) -> &'static str {
        match self {
            RenderFormat::Png => "png",
            RenderFormat::Jpeg { .. } => "jpg",
        }
    }

    pub fn media_type(self) -> &'static str {
        match self {
            RenderFormat::Png => "image/png",
            RenderFormat::Jpeg { .. } => "image/jpeg",
        }
    }
}

/// One rendered page: its 1-based number and the encoded image.
pub type RenderedPage = (usize, Vec<u8>);

/// Renders the selected pages (all when `pages` is `None`) at `dpi`.
pub fn render(
    bytes: Vec<u8>,
    password: Option<&str>,
    pages: Option<&str>,
    dpi: f32,
    format: RenderFormat,
    limits: &PdfLimits,
    deadline: Deadline,
) -> Result<Vec<RenderedPage>> {
    let had_password = password.is_some();
    let map = |e: RenderError| map_error(e, had_password);
    let renderer = Renderer::open(bytes, password).map_err(map)?;
    let count = renderer.page_count();
    super::check_pages(count, limits)?;
    let selection = match pages {
        Some(text) => parse_ranges("pages", text, count)?,
        None => (1..=count).collect(),
    };
    let mut out = Vec::with_capacity(selection.len());
    renderer.render::<PdfError>(&selection, dpi, limits.max_image_pixels, |page, image| {
        deadline.check()?;
        let mut encoded = Cursor::new(Vec::new());
        match format {
            RenderFormat::Png => image
                .write_to(&mut encoded, image::ImageFormat::Png)
                .map_err(internal)?,
            RenderFormat::Jpeg { quality } => {
                let rgb = image::DynamicImage::ImageRgba8(image).to_rgb8();
                let encoder =
                    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut encoded, quality);
                rgb.write_with_encoder(encoder).map_err(internal)?;
            }
        }
        out.push((page, encoded.into_inner()));
        Ok(())
    })?;
    Ok(out)
}

fn map_error(error: RenderError, had_password: bool) -> PdfError {
    match error {
        RenderError::NotPdf => PdfError::Unsupported(error.to_string()),
        RenderError::Corrupt => PdfError::Corrupt(error.to_string()),
        RenderError::PasswordRequired if had_password => {
            PdfError::WrongPassword("the password does not open this document".into())
        }
        RenderError::PasswordRequired => PdfError::PasswordRequired(error.to_string()),
        RenderError::UnsupportedEncryption => PdfError::Unsupported(error.to_string()),
        RenderError::NoSuchPage { .. } => invalid("pages", error.to_string()),
        RenderError::TooLarge(message) => PdfError::TooLarge(message),
        RenderError::BadDpi => invalid("dpi", error.to_string()),
    }
}

impl From<RenderError> for PdfError {
    fn from(error: RenderError) -> Self {
        map_error(error, false)
    }
}
