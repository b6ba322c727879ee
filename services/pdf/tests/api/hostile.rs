//! Hostile and broken input: each case answers with its code, nothing crashes or hangs.

use lopdf::{Document, Stream, dictionary};

use crate::{app, numbered_pages, one_page_pdf};

#[tokio::test]
async fn not_a_pdf_truncated_and_garbage() {
    let app = app();
    let png = app
        .post_raw(
            "/api/v1/pdf/info",
            "application/pdf",
            b"\x89PNG\r\n\x1a\n....".to_vec(),
        )
        .await;
    png.error(415, "UNSUPPORTED_FORMAT");
    let garbage = app
        .post_raw(
            "/api/v1/pdf/text",
            "application/pdf",
            b"%PDF-1.7\n1 0 obj << /Type /Catalog".to_vec(),
        )
        .await;
    garbage.error(422, "CORRUPT_INPUT");
    let pdf = numbered_pages(&app, 3).await;
    for cut in [pdf.len() / 3, pdf.len() / 2, pdf.len() - 40] {
        let response = app
            .post_raw("/api/v1/pdf/text", "application/pdf", pdf[..cut].to_vec())
            .await;
        // lopdf may rebuild a cut-off file from its objects; whatever it answers is an answer.
        assert!(
            response.status == 200 || response.status == 422,
            "cut at {cut}: {} {}",
            response.status,
            response.text()
        );
        if response.status == 422 {
            response.error(422, "CORRUPT_INPUT");
        }
    }
}

#[tokio::test]
async fn too_many_pages_and_files() {
    let app = app();
    // The test app allows 40 pages: 30 + 30 is too many for one merged document.
    let thirty = numbered_pages(&app, 30).await;
    let (content_type, body) = flowforge_service_kit::test_util::multipart_body(&[
        ("file", None, &thirty),
        ("file", None, &thirty),
    ]);
    app.post_raw("/api/v1/pdf/merge", &content_type, body)
        .await
        .error(413, "PAYLOAD_TOO_LARGE");
    let one = numbered_pages(&app, 1).await;
    let six: Vec<(&str, Option<&str>, &[u8])> =
        (0..6).map(|_| ("file", None, one.as_slice())).collect();
    let (content_type, body) = flowforge_service_kit::test_util::multipart_body(&six);
    app.post_raw("/api/v1/pdf/merge", &content_type, body)
        .await
        .error(413, "PAYLOAD_TOO_LARGE");
}

/// A page whose small content stream inflates to 40 MB of spaces.
fn deflate_bomb() -> Vec<u8> {
    let mut content = Stream::new(dictionary! {}, vec![b' '; 40 * 1024 * 1024]);
    content.compress().unwrap();
    let mut doc = Document::with_version("1.7");
    let content = doc.add_object(content);
    one_page_pdf(doc, dictionary! { "Contents" => content })
}

#[tokio::test]
async fn decompression_bombs_stop_at_the_stream_limit() {
    let app = app();
    let bomb = deflate_bomb();
    assert!(bomb.len() < 200 * 1024, "{}", bomb.len());
    let response = app
        .post_raw("/api/v1/pdf/text", "application/pdf", bomb)
        .await;
    response.error(413, "PAYLOAD_TOO_LARGE");
}
