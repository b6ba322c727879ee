//! Known text read back from images, multi-page TIFF and PDF (text layer and scanned), and the
//! codes of bad input.

use std::io::Cursor;

use serde_json::json;

use crate::{LINES, app, png, scan, text_pdf};

/// The words of `text` (OCR line breaks and spacing may differ from the source).
fn words(text: &str) -> Vec<&str> {
    text.split_whitespace().collect()
}

#[tokio::test]
async fn known_text_on_an_image_reads_back_exactly() {
    let app = app().await;
    let pdf = text_pdf(&[&LINES]);
    let image = png(&scan(&pdf, 1, 200.0));
    let response = app
        .post_raw("/api/v1/ocr/recognize", "image/png", image)
        .await
        .ok();
    let text = response["text"].as_str().unwrap();
    // Lines may wrap differently on the page; every character of every line comes back, in order.
    let flowing = words(text).join(" ");
    for line in LINES {
        assert!(flowing.contains(line), "lost {line:?} in:\n{text}");
    }
    let page = &response["pages"][0];
    assert_eq!(page["page"], 1);
    assert_eq!(page["source"], "ocr");
    assert!(page["confidence"].as_f64().unwrap() > 0.85, "{page}");
    // Whole percents from Tesseract, not float noise such as 0.9599999785423279.
    assert!(page["confidence"].to_string().len() <= 4, "{page}");
    assert_eq!(response["engine"]["name"], "tesseract");
    assert!(
        response["engine"]["version"]
            .as_str()
            .unwrap()
            .starts_with('5')
    );
}

#[tokio::test]
async fn multi_page_tiff_and_jpeg() {
    let app = app().await;
    let pdf = text_pdf(&[&["First page of the scan"], &["Second page, other words"]]);
    let mut tiff = Cursor::new(Vec::new());
    {
        let mut encoder = tiff::encoder::TiffEncoder::new(&mut tiff).unwrap();
        for page in [1, 2] {
            let gray = image::DynamicImage::ImageRgba8(scan(&pdf, page, 150.0)).to_luma8();
            encoder
                .write_image::<tiff::encoder::colortype::Gray8>(
                    gray.width(),
                    gray.height(),
                    gray.as_raw(),
                )
                .unwrap();
        }
    }
    let response = app
        .post_raw("/api/v1/ocr/recognize", "image/tiff", tiff.into_inner())
        .await
        .ok();
    let pages = response["pages"].as_array().unwrap();
    assert_eq!(pages.len(), 2);
    assert_eq!(
        words(pages[0]["text"].as_str().unwrap()),
        words("First page of the scan")
    );
    assert_eq!(
        words(pages[1]["text"].as_str().unwrap()),
        words("Second page, other words")
    );

    let mut jpeg = Cursor::new(Vec::new());
    image::DynamicImage::ImageRgba8(scan(&pdf, 2, 150.0))
        .to_rgb8()
        .write_to(&mut jpeg, image::ImageFormat::Jpeg)
        .unwrap();
    let response = app
        .post_raw("/api/v1/ocr/recognize", "image/jpeg", jpeg.into_inner())
        .await
        .ok();
    assert_eq!(
        words(response["text"].as_str().unwrap()),
        words("Second page, other words")
    );
}

#[tokio::test]
async fn pdf_text_layers_and_scanned_pages() {
    let app = app().await;
    let pdf = text_pdf(&[&["A page with a text layer"], &["Another page here"]]);
    let response = app
        .post_raw(
            "/api/v1/ocr/recognize?pages=2",
            "application/pdf",
            pdf.clone(),
        )
        .await
        .ok();
    let page = &response["pages"][0];
    assert_eq!(page["page"], 2);
    assert_eq!(page["source"], "textLayer");
    assert_eq!(page["text"], "Another page here");

    let forced = app
        .post_raw(
            "/api/v1/ocr/recognize?pages=1&force=true",
            "application/pdf",
            pdf.clone(),
        )
        .await
        .ok();
    assert_eq!(forced["pages"][0]["source"], "ocr");
    assert_eq!(
        words(forced["pages"][0]["text"].as_str().unwrap()),
        words("A page with a text layer")
    );

    // A scanned PDF: the page is only an image.
    let image = png(&scan(&pdf, 1, 150.0));
    let scanned = flowforge_pdf::domain::images::images_to_pdf(
        &[image.into()],
        flowforge_pdf::domain::images::ImagePage::Fit { dpi: 150.0 },
        &flowforge_pdf::domain::PdfLimits::default(),
    )
    .unwrap();
    let mut scanned = scanned;
    let bytes = flowforge_pdf::domain::save(&mut scanned).unwrap();
    let response = app
        .post_raw("/api/v1/ocr/recognize?dpi=150", "application/pdf", bytes)
        .await
        .ok();
    assert_eq!(response["pages"][0]["source"], "ocr");
    assert_eq!(
        words(response["pages"][0]["text"].as_str().unwrap()),
        words("A page with a text layer")
    );
}

#[tokio::test]
async fn bad_input_gets_its_code() {
    let app = app().await;
    let unknown = app
        .post_raw(
            "/api/v1/ocr/recognize?languages=eng%2Bxyz",
            "image/png",
            png(&scan(&text_pdf(&[&["x"]]), 1, 72.0)),
        )
        .await;
    let error = unknown.error(422, "VALIDATION_ERROR");
    let message = error["details"][0]["message"].as_str().unwrap();
    assert!(
        message.contains("xyz") && message.contains("eng"),
        "{message}"
    );
    let legacy = app
        .post_raw(
            "/api/v1/ocr/recognize?engine=legacy",
            "image/png",
            b"x".to_vec(),
        )
        .await;
    assert_eq!(legacy.error_field(), "engine");
    app.post_raw(
        "/api/v1/ocr/recognize",
        "application/octet-stream",
        b"plain text, not an image".to_vec(),
    )
    .await
    .error(415, "UNSUPPORTED_FORMAT");
    let whole = png(&scan(&text_pdf(&[&["cut off"]]), 1, 100.0));
    app.post_raw(
        "/api/v1/ocr/recognize",
        "image/png",
        whole[..whole.len() / 2].to_vec(),
    )
    .await
    .error(422, "CORRUPT_INPUT");
    // The test service allows 4000 px per side: an A5 page at 800 dpi is 4662 px tall.
    let pdf = text_pdf(&[&["big"]]);
    app.post_raw(
        "/api/v1/ocr/recognize?force=true&dpi=800",
        "application/pdf",
        pdf.clone(),
    )
    .await
    .error(413, "PAYLOAD_TOO_LARGE");
    let pages = app
        .post_raw(
            "/api/v1/ocr/recognize?pages=3",
            "application/pdf",
            pdf.clone(),
        )
        .await;
    assert_eq!(pages.error_field(), "pages");
    // The test service reads at most 5 pages per request.
    let six: Vec<&[&str]> = vec![&["page"]; 6];
    app.post_raw("/api/v1/ocr/recognize", "application/pdf", text_pdf(&six))
        .await
        .error(413, "PAYLOAD_TOO_LARGE");
    let confidence = app
        .post_json(
            "/api/v1/ocr/recognize",
            &json!({"data": "", "minConfidence": 2}),
        )
        .await;
    assert_eq!(confidence.error_field(), "minConfidence");
}

#[tokio::test]
async fn auto_rotate_reads_turned_pages() {
    let app = app().await;
    let page = scan(&text_pdf(&[&LINES]), 1, 200.0);
    for turned in [
        image::imageops::rotate90(&page),
        image::imageops::rotate180(&page),
    ] {
        let response = app
            .post_raw(
                "/api/v1/ocr/recognize?autoRotate=true",
                "image/png",
                png(&turned),
            )
            .await
            .ok();
        let flowing = words(response["text"].as_str().unwrap()).join(" ");
        assert!(flowing.contains(LINES[1]), "{flowing}");
    }
}
