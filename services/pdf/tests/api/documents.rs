//! Reading and stamping documents: text of PDFs from other writers, info and metadata,
//! watermarks, page numbers, compression and images.

use lopdf::{Document, Object, Stream, dictionary};
use serde_json::json;

use crate::{
    app, assert_valid, generated, info, numbered_pages, one_page_pdf, page_texts, pdftotext,
};

/// A PDF as another writer makes it: a standard Type1 font with WinAnsi text, kerning in `TJ`,
/// and a form XObject holding more text.
fn foreign_pdf() -> Vec<u8> {
    let mut doc = Document::with_version("1.4");
    let font = doc.add_object(dictionary! {
        "Type" => "Font", "Subtype" => "Type1", "BaseFont" => "Helvetica", "Encoding" => "WinAnsiEncoding",
    });
    let form = doc.add_object(Stream::new(
        dictionary! {
            "Type" => "XObject", "Subtype" => "Form", "BBox" => vec![0.into(), 0.into(), 300.into(), 100.into()],
            "Resources" => dictionary! { "Font" => dictionary! { "F1" => font } },
        },
        b"BT /F1 10 Tf 0 0 Td (In a form) Tj ET".to_vec(),
    ));
    let content = b"BT /F1 12 Tf 72 700 Td (Hello) Tj ( world) Tj 0 -20 Td [(Kern)-120(ing) -600 (gap)] TJ ET \
q 1 0 0 1 72 600 cm /X1 Do Q BT /F1 12 Tf 72 560 Td (Caf\xe9 \x80 5) Tj ET"
        .to_vec();
    let content = doc.add_object(Stream::new(dictionary! {}, content));
    one_page_pdf(
        doc,
        dictionary! {
            "Contents" => content,
            "Resources" => dictionary! { "Font" => dictionary! { "F1" => font }, "XObject" => dictionary! { "X1" => form } },
        },
    )
}

#[tokio::test]
async fn text_of_simple_fonts_kerning_and_forms() {
    let app = app();
    let pdf = foreign_pdf();
    let response = app
        .post_raw("/api/v1/pdf/text", "application/pdf", pdf.clone())
        .await
        .ok();
    assert_eq!(response["pageCount"], 1);
    assert_eq!(response["pages"][0]["page"], 1);
    assert_eq!(
        response["text"],
        "Hello world\nKerning gap\nIn a form\nCafé € 5"
    );
    // Inherited MediaBox, no page Rotate: info still answers.
    let info = info(&app, &pdf).await;
    assert_eq!(
        info["pageSizes"][0],
        json!({"page": 1, "width": 612.0, "height": 792.0, "rotation": 0})
    );
    assert_eq!(info["fonts"], json!(["Helvetica"]));
}

#[tokio::test]
async fn text_of_chosen_pages_carries_page_numbers() {
    let app = app();
    let pdf = numbered_pages(&app, 3).await;
    let response = app
        .post_json(
            "/api/v1/pdf/text",
            &json!({"data": base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &pdf), "pages": "3,1"}),
        )
        .await
        .ok();
    assert_eq!(response["pageCount"], 3);
    assert_eq!(
        response["pages"],
        json!([{"page": 3, "text": "Page 3 of the sample"}, {"page": 1, "text": "Page 1 of the sample"}])
    );
    assert_eq!(
        response["text"],
        "Page 3 of the sample\u{c}Page 1 of the sample"
    );
}

#[tokio::test]
async fn metadata_is_written_and_read_back() {
    let app = app();
    let pdf = numbered_pages(&app, 1).await;
    let response = app
        .post_raw(
            "/api/v1/pdf/metadata?title=Gr%C3%BC%C3%9Fe&author=Ada&keywords=a,b&producer=",
            "application/pdf",
            pdf,
        )
        .await;
    assert_eq!(response.status, 200, "{}", response.text());
    assert_valid(&response.body, None);
    let info = info(&app, &response.body).await;
    assert_eq!(info["metadata"]["title"], "Grüße");
    assert_eq!(info["metadata"]["author"], "Ada");
    assert_eq!(info["metadata"]["keywords"], "a,b");
    assert!(info["metadata"].get("producer").is_none(), "{info}");
    assert!(
        info["metadata"]["modDate"]
            .as_str()
            .unwrap()
            .starts_with("D:20")
    );
    let nothing = app
        .post_raw(
            "/api/v1/pdf/metadata",
            "application/pdf",
            response.body.to_vec(),
        )
        .await;
    nothing.error(422, "VALIDATION_ERROR");
}

#[tokio::test]
async fn watermarks_and_page_numbers_are_drawn_where_asked() {
    let app = app();
    let pdf = numbered_pages(&app, 3).await;
    let marked = app
        .post_raw(
            "/api/v1/pdf/watermark?text=DRAFT&pages=2&opacity=0.25",
            "application/pdf",
            pdf.clone(),
        )
        .await;
    assert_eq!(marked.status, 200, "{}", marked.text());
    assert_valid(&marked.body, None);
    let pages = page_texts(&app, &marked.body).await;
    assert!(
        !pages[0].contains("DRAFT") && pages[1].contains("DRAFT") && !pages[2].contains("DRAFT"),
        "{pages:?}"
    );
    // Poppler writes diagonal text a few letters per line.
    let poppler: String = pdftotext(&marked.body).split_whitespace().collect();
    assert!(poppler.contains("DRAFT"), "{poppler}");

    let numbered = app
        .post_raw(
            "/api/v1/pdf/page-numbers?format=Seite%20%7Bpage%7D%20von%20%7Bpages%7D&position=bottom-right&start=1",
            "application/pdf",
            pdf.clone(),
        )
        .await;
    assert_eq!(numbered.status, 200, "{}", numbered.text());
    assert_valid(&numbered.body, None);
    let pages = page_texts(&app, &numbered.body).await;
    for (i, page) in pages.iter().enumerate() {
        assert!(page.contains(&format!("Seite {} von 3", i + 1)), "{page}");
    }

    // On a turned page the number still sits at the displayed bottom: pdftotext reads it last.
    let rotated = app
        .post_raw(
            "/api/v1/pdf/pages/rotate?degrees=90",
            "application/pdf",
            pdf,
        )
        .await;
    let numbered = app
        .post_raw(
            "/api/v1/pdf/page-numbers?format=N%7Bpage%7D",
            "application/pdf",
            rotated.body.to_vec(),
        )
        .await;
    assert_valid(&numbered.body, None);
    let text = pdftotext(&numbered.body);
    let first_page = text.split('\u{c}').next().unwrap();
    assert_eq!(
        first_page.split_whitespace().last(),
        Some("N1"),
        "{first_page}"
    );

    let bad = app
        .post_raw(
            "/api/v1/pdf/watermark?text=X&opacity=2",
            "application/pdf",
            numbered.body.to_vec(),
        )
        .await;
    bad.error(422, "VALIDATION_ERROR");
    let bad = app
        .post_raw(
            "/api/v1/pdf/page-numbers?position=middle",
            "application/pdf",
            numbered.body.to_vec(),
        )
        .await;
    assert_eq!(bad.error_field(), "position");
}

fn photo(width: u32, height: u32) -> Vec<u8> {
    // Smooth gradients with a little texture: photo-like, so JPEG beats Flate by far.
    let image = image::RgbImage::from_fn(width, height, |x, y| {
        let n = ((x * 7 + y * 13) % 17) as u8;
        image::Rgb([(x % 256) as u8 ^ n, (y % 256) as u8, ((x + y) % 256) as u8])
    });
    let mut bytes = std::io::Cursor::new(Vec::new());
    image.write_to(&mut bytes, image::ImageFormat::Png).unwrap();
    bytes.into_inner()
}

#[tokio::test]
async fn images_become_pages_and_compress_shrinks_them() {
    let app = app();
    let png = photo(1200, 900);
    let jpeg = {
        let mut bytes = std::io::Cursor::new(Vec::new());
        image::DynamicImage::ImageRgb8(image::RgbImage::from_pixel(
            300,
            200,
            image::Rgb([10, 120, 200]),
        ))
        .write_to(&mut bytes, image::ImageFormat::Jpeg)
        .unwrap();
        bytes.into_inner()
    };
    let (content_type, body) = flowforge_service_kit::test_util::multipart_body(&[
        ("file", Some("a.png"), &png),
        ("file", Some("b.jpg"), &jpeg),
        ("pageSize", None, b"fit"),
        ("dpi", None, b"72"),
    ]);
    let response = app
        .post_raw("/api/v1/pdf/images-to-pdf", &content_type, body)
        .await;
    assert_eq!(response.status, 200, "{}", response.text());
    assert_valid(&response.body, None);
    let info = info(&app, &response.body).await;
    assert_eq!(info["pages"], 2);
    assert_eq!(info["images"], 2);
    assert_eq!(info["pageSizes"][0]["width"], 1200.0);
    assert_eq!(info["pageSizes"][1]["height"], 200.0);
    // The JPEG is embedded byte for byte.
    let document = Document::load_mem(&response.body).unwrap();
    let embedded = document
        .objects
        .values()
        .any(|o| matches!(o, Object::Stream(s) if s.content == jpeg));
    assert!(embedded, "the JPEG was re-encoded");

    let a4 = app
        .post_raw(
            "/api/v1/pdf/images-to-pdf?pageSize=A4&orientation=landscape",
            "image/jpeg",
            jpeg.clone(),
        )
        .await;
    assert_eq!(a4.status, 200, "{}", a4.text());
    assert!(
        (crate::info(&app, &a4.body).await["pageSizes"][0]["width"]
            .as_f64()
            .unwrap()
            - 841.89)
            .abs()
            < 0.01
    );

    let compressed = app
        .post_raw(
            "/api/v1/pdf/compress?maxImageSize=600&imageQuality=70",
            "application/pdf",
            response.body.to_vec(),
        )
        .await;
    assert_eq!(compressed.status, 200, "{}", compressed.text());
    assert_valid(&compressed.body, None);
    assert!(
        compressed.body.len() * 3 < response.body.len(),
        "{} → {}",
        response.body.len(),
        compressed.body.len()
    );
    assert_eq!(crate::info(&app, &compressed.body).await["pages"], 2);

    // A document with nothing to gain comes back no larger.
    let text_only = generated(
        &app,
        json!({"content": [{"type": "paragraph", "text": "small"}]}),
    )
    .await;
    let again = app
        .post_raw("/api/v1/pdf/compress", "application/pdf", text_only.clone())
        .await;
    assert!(again.body.len() <= text_only.len());

    let not_image = app
        .post_raw(
            "/api/v1/pdf/images-to-pdf",
            "image/png",
            b"not an image".to_vec(),
        )
        .await;
    not_image.error(415, "UNSUPPORTED_FORMAT");
}
