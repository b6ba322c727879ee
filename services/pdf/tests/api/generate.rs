//! Generation from the JSON model, Markdown and templates, read back by pdftotext and by the
//! service itself.

use serde_json::json;

use crate::{app, assert_valid, generated, info, page_texts, pdftotext, words};

#[tokio::test]
async fn generated_text_reads_back_exactly() {
    let app = app();
    let paragraphs = [
        "The quick brown fox jumps over the lazy dog.",
        "Grüße aus Köln — Καλημέρα κόσμε — Привет, мир! Ça coûte 12,50 €.",
        "A long paragraph that has to wrap over several lines because it is far wider than the page \
         it is printed on, which tests that line breaking keeps every word and every space in order \
         so that the text extracted from the document equals the text that went in.",
    ];
    let content: Vec<_> = paragraphs
        .iter()
        .map(|p| json!({"type": "paragraph", "text": p}))
        .collect();
    let pdf = generated(&app, json!({ "title": "Round trip", "content": content })).await;
    assert_valid(&pdf, None);

    let ours = page_texts(&app, &pdf).await.join("\n");
    let poppler = pdftotext(&pdf);
    for paragraph in paragraphs {
        // Line breaks may fall anywhere; the words and their order may not change.
        let expected = words(paragraph);
        let found = |text: &str| {
            words(text)
                .windows(expected.len())
                .any(|w| w == expected.as_slice())
        };
        assert!(found(&ours), "ours lost {paragraph:?}:\n{ours}");
        assert!(found(&poppler), "pdftotext lost {paragraph:?}:\n{poppler}");
    }
    let info = info(&app, &pdf).await;
    assert_eq!(info["metadata"]["title"], "Round trip");
    assert_eq!(info["metadata"]["producer"], "FlowForge");
    assert_eq!(info["pages"], 1);
    // A4 portrait by default.
    assert!((info["pageSizes"][0]["width"].as_f64().unwrap() - 595.28).abs() < 0.01);
    assert_eq!(info["fonts"], json!(["DejaVuSans"]));
}

#[tokio::test]
async fn every_block_kind_with_header_footer_and_page_breaks() {
    let app = app();
    let png = {
        let mut bytes = std::io::Cursor::new(Vec::new());
        image::RgbImage::from_fn(40, 20, |x, _| image::Rgb([x as u8 * 6, 90, 200]))
            .write_to(&mut bytes, image::ImageFormat::Png)
            .unwrap();
        base64::Engine::encode(
            &base64::engine::general_purpose::STANDARD,
            bytes.into_inner(),
        )
    };
    let pdf = generated(
        &app,
        json!({
            "page": {"size": "Letter", "orientation": "landscape", "margins": 40},
            "header": {"text": "ACME Corp — confidential", "align": "center"},
            "footer": {"text": "Page {page} of {pages}", "align": "right"},
            "content": [
                {"type": "heading", "level": 1, "text": "Quarterly report"},
                {"type": "paragraph", "text": [
                    {"text": "Revenue grew "}, {"text": "strongly", "bold": true},
                    {"text": " and "}, {"text": "steadily", "italic": true}, {"text": "."}
                ], "align": "justify"},
                {"type": "list", "ordered": true, "items": ["First point", {"text": "Second point", "items": ["Nested detail"]}]},
                {"type": "table", "columns": ["Region", "Sales"], "rows": [["North", "1,200"], ["South", "950"]], "widths": [2, 1]},
                {"type": "image", "data": png, "width": 120, "align": "center"},
                {"type": "code", "text": "fn main() {\n    println!(\"hi\");\n}"},
                {"type": "quote", "text": "Quoted words"},
                {"type": "rule"},
                {"type": "pageBreak"},
                {"type": "heading", "level": 2, "text": "Appendix"},
                {"type": "spacer", "height": 20},
                {"type": "paragraph", "text": "The end."}
            ]
        }),
    )
    .await;
    assert_valid(&pdf, None);
    let info = info(&app, &pdf).await;
    assert_eq!(info["pages"], 2);
    assert_eq!(info["pageSizes"][0]["width"], 792.0);
    assert_eq!(info["images"], 1);
    let pages = page_texts(&app, &pdf).await;
    for expected in [
        "ACME Corp — confidential",
        "Quarterly report",
        "Revenue grew strongly and steadily.",
        "1. First point",
        "Nested detail",
        "Region Sales",
        "North 1,200",
        "println!(\"hi\");",
        "Quoted words",
        "Page 1 of 2",
    ] {
        assert!(
            pages[0].contains(expected),
            "page 1 lacks {expected:?}:\n{}",
            pages[0]
        );
    }
    assert!(
        pages[1].contains("Appendix")
            && pages[1].contains("The end.")
            && pages[1].contains("Page 2 of 2"),
        "{}",
        pages[1]
    );
    let poppler = pdftotext(&pdf);
    assert!(
        poppler.contains("Page 2 of 2") && poppler.contains("Quarterly report"),
        "{poppler}"
    );
}

#[tokio::test]
async fn long_tables_continue_on_the_next_page_with_their_header() {
    let app = app();
    let rows: Vec<_> = (1..=120)
        .map(|i| json!([format!("Item {i}"), format!("{}", i * 7)]))
        .collect();
    let pdf = generated(
        &app,
        json!({"content": [{"type": "table", "columns": ["Name", "Value"], "rows": rows}]}),
    )
    .await;
    assert_valid(&pdf, None);
    let pages = page_texts(&app, &pdf).await;
    assert!(pages.len() >= 3, "{} pages", pages.len());
    for page in &pages {
        assert!(
            page.starts_with("Name Value"),
            "every page starts with the header:\n{page}"
        );
    }
    let all = pages.join("\n");
    for i in [1, 60, 120] {
        assert!(all.contains(&format!("Item {i} {}", i * 7)), "row {i} lost");
    }
    // A cell taller than a page is split between pages, not cut off.
    let huge = "word ".repeat(2500);
    let pdf = generated(
        &app,
        json!({"content": [{"type": "table", "rows": [["left", huge.trim()]]}]}),
    )
    .await;
    let pages = page_texts(&app, &pdf).await;
    assert!(pages.len() >= 2);
    assert_eq!(pages.join(" ").matches("word").count(), 2500);
}

#[tokio::test]
async fn markdown_and_the_invoice_template() {
    let app = app();
    let response = app
        .post_json(
            "/api/v1/pdf/generate",
            &json!({
                "markdown": "# Notes\n\nSome **bold** text.\n\n- a\n- b\n\n<!-- pagebreak -->\n\n| x | y |\n|---|---|\n| 1 | 2 |\n",
                "footer": {"text": "{page}/{pages}", "align": "center"}
            }),
        )
        .await;
    assert_eq!(response.status, 200, "{}", response.text());
    let pages = page_texts(&app, &response.body).await;
    assert_eq!(pages.len(), 2);
    assert!(
        pages[0].contains("Notes")
            && pages[0].contains("Some bold text.")
            && pages[0].contains("• a"),
        "{}",
        pages[0]
    );
    assert!(
        pages[1].contains("x y") && pages[1].contains("1 2") && pages[1].contains("2/2"),
        "{}",
        pages[1]
    );

    let invoice = app
        .post_json(
            "/api/v1/pdf/generate",
            &json!({
                "templateName": "invoice",
                "data": {
                    "number": "2026-042", "date": "2026-11-30", "currency": "EUR", "taxRate": 20,
                    "seller": {"name": "FlowForge GmbH", "address": "Hauptstraße 1, Berlin"},
                    "customer": {"name": "Ada Lovelace"},
                    "items": [
                        {"description": "Consulting", "quantity": 3, "unitPrice": 150},
                        {"description": "Hosting", "quantity": 1, "unitPrice": 49.5}
                    ]
                }
            }),
        )
        .await;
    assert_eq!(invoice.status, 200, "{}", invoice.text());
    assert_valid(&invoice.body, None);
    let text = page_texts(&app, &invoice.body).await.join("\n");
    for expected in [
        "Invoice 2026-042",
        "Ada Lovelace",
        "Consulting 3 150.00 450.00",
        "Subtotal 499.50",
        "Tax (20%) 99.90",
        "Total EUR 599.40",
    ] {
        assert!(
            text.contains(expected),
            "invoice lacks {expected:?}:\n{text}"
        );
    }

    let template = app
        .post_json(
            "/api/v1/pdf/generate",
            &json!({"template": "# Hello {{ name }}\n\n{% for t in tags %}- {{ t }}\n{% endfor %}", "data": {"name": "Grace", "tags": ["x", "y"]}}),
        )
        .await;
    assert_eq!(template.status, 200, "{}", template.text());
    let text = page_texts(&app, &template.body).await.join("\n");
    assert!(
        text.contains("Hello Grace") && text.contains("• y"),
        "{text}"
    );
}

#[tokio::test]
async fn bad_documents_name_the_field() {
    let app = app();
    let cases = [
        (
            json!({"markdown": "# a", "document": {"content": []}}),
            "document",
        ),
        (json!({}), "document"),
        (
            json!({"document": {"content": [{"type": "poem", "text": "x"}]}}),
            "document.content[0]",
        ),
        (
            json!({"document": {"page": {"size": "B9"}, "content": []}}),
            "page.size",
        ),
        (
            json!({"document": {"content": [{"type": "heading", "level": 9, "text": "x"}]}}),
            "content[0].level",
        ),
        (
            json!({"document": {"content": [{"type": "paragraph", "text": [{"text": "x", "color": "red"}]}]}}),
            "content[0].color",
        ),
        (
            json!({"document": {"content": [{"type": "image", "data": "!!"}]}}),
            "content[0].data",
        ),
        (
            json!({"template": "{{ missing.value }}", "data": {}}),
            "data",
        ),
        (json!({"template": "{% for %}", "data": {}}), "template"),
        (
            json!({"templateName": "receipt", "data": {}}),
            "templateName",
        ),
    ];
    for (body, field) in cases {
        let response = app.post_json("/api/v1/pdf/generate", &body).await;
        let error = response.error(422, "VALIDATION_ERROR");
        let named = error["details"][0]["field"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        assert!(
            named.starts_with(field),
            "{body}: {field} vs {named} ({error})"
        );
    }
}

#[tokio::test]
async fn documents_past_the_page_limit_are_refused() {
    let app = app();
    let content: Vec<_> = (0..60).map(|_| json!({"type": "pageBreak"})).collect();
    let response = app
        .post_json(
            "/api/v1/pdf/generate",
            &json!({"document": {"content": content}}),
        )
        .await;
    response.error(413, "PAYLOAD_TOO_LARGE");
}
