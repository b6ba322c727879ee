//! The OCR service through its router, with the real Tesseract and pages rendered from
//! documents the tests write themselves.
#![allow(
    clippy::unwrap_used,
    reason = "helpers in test binaries panic to report failure"
)]

mod contract;
mod formats;
mod inputs;
mod pool;

use std::time::Duration;

use flowforge_ocr::OcrConfig;
use flowforge_ocr::domain::OcrLimits;
use flowforge_pdf::domain::{Deadline, PdfLimits, generate};
use flowforge_pdf_render::Renderer;
use flowforge_service_kit::test_util::TestApp;
use flowforge_service_kit::{Kit, Limits};
use serde_json::json;

pub fn config(engines: usize) -> OcrConfig {
    OcrConfig {
        data_dir: flowforge_ocr::domain::default_data_dir(),
        engines,
        wait: Duration::from_secs(60),
        limits: OcrLimits {
            max_side: 4000,
            max_pages: 5,
        },
    }
}

/// The service with its engines loaded (waits for `/health` to say healthy).
pub async fn app() -> TestApp {
    let kit = Kit::new("ocr", "0.1.0-test", Limits::default());
    let app = TestApp::new(flowforge_ocr::app_with(&kit, config(2)));
    for _ in 0..200 {
        if app.get("/health").await.status == 200 {
            return app;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the OCR engines did not load");
}

/// A PDF whose pages hold `pages` (each a list of lines) in 14 pt DejaVu Sans.
pub fn text_pdf(pages: &[&[&str]]) -> Vec<u8> {
    let mut content = Vec::new();
    for (i, lines) in pages.iter().enumerate() {
        if i > 0 {
            content.push(json!({"type": "pageBreak"}));
        }
        for line in *lines {
            content.push(json!({"type": "paragraph", "text": line, "size": 14}));
        }
    }
    let model =
        serde_json::from_value(json!({"page": {"size": "A5"}, "content": content})).unwrap();
    let mut document = generate::from_model(
        &model,
        &PdfLimits::default(),
        Deadline::after(Duration::from_secs(10)),
    )
    .unwrap();
    flowforge_pdf::domain::save(&mut document).unwrap()
}

/// Page `page` of `pdf` as a PNG scan at `dpi`.
pub fn scan(pdf: &[u8], page: usize, dpi: f32) -> image::RgbaImage {
    let renderer = Renderer::open(pdf.to_vec(), None).unwrap();
    let mut out = None;
    renderer
        .render::<flowforge_pdf_render::RenderError>(&[page], dpi, 50_000_000, |_, image| {
            out = Some(image);
            Ok(())
        })
        .unwrap();
    out.unwrap()
}

pub fn png(image: &image::RgbaImage) -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    image::DynamicImage::ImageRgba8(image.clone())
        .to_luma8()
        .write_to(&mut out, image::ImageFormat::Png)
        .unwrap();
    out.into_inner()
}

pub const LINES: [&str; 3] = [
    "The quick brown fox jumps over the lazy dog.",
    "Invoice 2024-0042 total due: 1,234.56 EUR",
    "Pack my box with five dozen liquor jugs!",
];
