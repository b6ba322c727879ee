//! Merge, split and page edits, checked by page text and by qpdf.

use std::io::Read as _;

use flowforge_service_kit::test_util::multipart_body;
use serde_json::json;

use crate::{app, assert_valid, info, numbered_pages, page_texts};

/// The outline's top-level entries: title and 1-based page number.
fn bookmarks(pdf: &[u8]) -> Vec<(String, usize)> {
    let document = lopdf::Document::load_mem(pdf).unwrap();
    let pages: Vec<lopdf::ObjectId> = document.get_pages().into_values().collect();
    let Ok(root) = document
        .catalog()
        .unwrap()
        .get(b"Outlines")
        .and_then(lopdf::Object::as_reference)
    else {
        return Vec::new();
    };
    let mut next = document
        .get_dictionary(root)
        .unwrap()
        .get(b"First")
        .and_then(lopdf::Object::as_reference)
        .ok();
    let mut out = Vec::new();
    while let Some(id) = next {
        let item = document.get_dictionary(id).unwrap();
        let title = lopdf::decode_text_string(item.get(b"Title").unwrap()).unwrap();
        let page = item.get(b"Dest").unwrap().as_array().unwrap()[0]
            .as_reference()
            .unwrap();
        out.push((title, pages.iter().position(|p| *p == page).unwrap() + 1));
        next = item.get(b"Next").and_then(lopdf::Object::as_reference).ok();
    }
    out
}

fn page_label(n: usize) -> String {
    format!("Page {n} of the sample")
}

#[tokio::test]
async fn split_then_merge_gives_back_the_same_pages() {
    let app = app();
    let original = numbered_pages(&app, 5).await;
    let response = app
        .post_raw(
            "/api/v1/pdf/split?ranges=1-2;3;4-",
            "application/pdf",
            original.clone(),
        )
        .await;
    assert_eq!(response.status, 200, "{}", response.text());
    assert_eq!(response.headers["content-type"], "application/zip");
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(response.body.to_vec())).unwrap();
    assert_eq!(archive.len(), 3);
    let mut parts = Vec::new();
    for i in 0..archive.len() {
        let mut file = archive.by_index(i).unwrap();
        assert_eq!(file.name().unwrap(), format!("part-{}.pdf", i + 1));
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes).unwrap();
        assert_valid(&bytes, None);
        parts.push(bytes);
    }
    assert_eq!(
        page_texts(&app, &parts[0]).await,
        vec![page_label(1), page_label(2)]
    );
    assert_eq!(
        page_texts(&app, &parts[2]).await,
        vec![page_label(4), page_label(5)]
    );

    let fields: Vec<(&str, Option<&str>, &[u8])> = parts
        .iter()
        .map(|p| ("file", Some("part.pdf"), p.as_slice()))
        .collect();
    let (content_type, body) = multipart_body(&fields);
    let merged = app.post_raw("/api/v1/pdf/merge", &content_type, body).await;
    assert_eq!(merged.status, 200, "{}", merged.text());
    assert_valid(&merged.body, None);
    let expected: Vec<String> = (1..=5).map(page_label).collect();
    assert_eq!(page_texts(&app, &merged.body).await, expected);
    // Each part carries only its own pages' objects, not the whole source.
    assert!(
        parts[1].len() < original.len(),
        "{} vs {}",
        parts[1].len(),
        original.len()
    );
}

#[tokio::test]
async fn merge_takes_json_and_keeps_order() {
    let app = app();
    let a = numbered_pages(&app, 2).await;
    let b = numbered_pages(&app, 1).await;
    let encode =
        |bytes: &[u8]| base64::Engine::encode(&base64::engine::general_purpose::STANDARD, bytes);
    let merged = app
        .post_json(
            "/api/v1/pdf/merge",
            &json!({"files": [{"data": encode(&b), "filename": "invoice-7.pdf"}, encode(&a)]}),
        )
        .await;
    assert_eq!(merged.status, 200, "{}", merged.text());
    assert_valid(&merged.body, None);
    assert_eq!(
        page_texts(&app, &merged.body).await,
        vec![page_label(1), page_label(1), page_label(2)]
    );
    // A bookmark at the first page of each file, titled by its name.
    assert_eq!(
        bookmarks(&merged.body),
        vec![("invoice-7".to_owned(), 1), ("Document 2".to_owned(), 2)]
    );
    let plain = app
        .post_json(
            "/api/v1/pdf/merge",
            &json!({"files": [encode(&b), encode(&a)], "bookmarks": false}),
        )
        .await;
    assert!(bookmarks(&plain.body).is_empty());
    let missing = app
        .post_json("/api/v1/pdf/merge", &json!({"data": encode(&a)}))
        .await;
    assert_eq!(missing.error_field(), "files");
    let bad = app
        .post_json(
            "/api/v1/pdf/merge",
            &json!({"files": [encode(&a), {"data": "%%"}]}),
        )
        .await;
    assert_eq!(bad.error_field(), "files[1].data");
}

#[tokio::test]
async fn split_every_n_pages_and_one_per_page() {
    let app = app();
    let pdf = numbered_pages(&app, 5).await;
    for (query, parts) in [("every=2", 3), ("", 5)] {
        let response = app
            .post_raw(
                &format!("/api/v1/pdf/split?{query}"),
                "application/pdf",
                pdf.clone(),
            )
            .await;
        assert_eq!(response.status, 200, "{}", response.text());
        let archive = zip::ZipArchive::new(std::io::Cursor::new(response.body.to_vec())).unwrap();
        assert_eq!(archive.len(), parts, "{query}");
    }
    let both = app
        .post_raw("/api/v1/pdf/split?every=2&ranges=1", "application/pdf", pdf)
        .await;
    both.error(422, "VALIDATION_ERROR");
}

#[tokio::test]
async fn extract_remove_reorder_and_rotate() {
    let app = app();
    let pdf = numbered_pages(&app, 4).await;
    let call = |path: &str| {
        let (app, pdf, path) = (&app, pdf.clone(), path.to_owned());
        async move {
            let response = app.post_raw(&path, "application/pdf", pdf).await;
            assert_eq!(response.status, 200, "{path}: {}", response.text());
            assert_valid(&response.body, None);
            response.body.to_vec()
        }
    };
    let extracted = call("/api/v1/pdf/pages/extract?pages=3,1").await;
    assert_eq!(
        page_texts(&app, &extracted).await,
        vec![page_label(3), page_label(1)]
    );
    let removed = call("/api/v1/pdf/pages/remove?pages=2-3").await;
    assert_eq!(
        page_texts(&app, &removed).await,
        vec![page_label(1), page_label(4)]
    );
    let reordered = call("/api/v1/pdf/pages/reorder?order=4-1").await;
    assert_eq!(
        page_texts(&app, &reordered).await,
        (1..=4).rev().map(page_label).collect::<Vec<_>>()
    );
    let rotated = call("/api/v1/pdf/pages/rotate?degrees=90&pages=even").await;
    let sizes = info(&app, &rotated).await["pageSizes"].clone();
    let rotations: Vec<i64> = sizes
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["rotation"].as_i64().unwrap())
        .collect();
    assert_eq!(rotations, vec![0, 90, 0, 90]);
    // Turned pages report their displayed (landscape) size.
    assert!(sizes[1]["width"].as_f64().unwrap() > sizes[1]["height"].as_f64().unwrap());
    let back = app
        .post_raw(
            "/api/v1/pdf/pages/rotate?degrees=-90",
            "application/pdf",
            rotated,
        )
        .await;
    let rotations: Vec<i64> = info(&app, &back.body).await["pageSizes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["rotation"].as_i64().unwrap())
        .collect();
    assert_eq!(rotations, vec![270, 0, 270, 0]);
}

#[tokio::test]
async fn page_selections_that_make_no_sense_are_refused() {
    let app = app();
    let pdf = numbered_pages(&app, 3).await;
    for (path, field) in [
        ("/api/v1/pdf/pages/extract?pages=4", "pages"),
        ("/api/v1/pdf/pages/extract?pages=0-2", "pages"),
        ("/api/v1/pdf/pages/remove?pages=1-3", "pages"),
        ("/api/v1/pdf/pages/reorder?order=1,2", "order"),
        ("/api/v1/pdf/pages/reorder?order=1,1,2", "order"),
        ("/api/v1/pdf/pages/rotate?degrees=45", "degrees"),
        ("/api/v1/pdf/split?ranges=2-7", "ranges"),
    ] {
        let response = app.post_raw(path, "application/pdf", pdf.clone()).await;
        response.error(422, "VALIDATION_ERROR");
        assert_eq!(response.error_field(), field, "{path}");
    }
}
