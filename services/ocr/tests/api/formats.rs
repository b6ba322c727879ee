//! Every output format parses and agrees with the text.

use quick_xml::Reader;
use quick_xml::events::Event;

use crate::{LINES, app, png, scan, text_pdf};

#[tokio::test]
async fn json_hocr_tsv_and_searchable_pdf() {
    let app = app().await;
    let image = png(&scan(&text_pdf(&[&LINES]), 1, 200.0));

    let json = app
        .post_raw(
            "/api/v1/ocr/recognize?format=json",
            "image/png",
            image.clone(),
        )
        .await
        .ok();
    let page = &json["pages"][0];
    let (width, height) = (
        page["width"].as_u64().unwrap(),
        page["height"].as_u64().unwrap(),
    );
    let blocks = page["blocks"].as_array().unwrap();
    assert!(!blocks.is_empty());
    let mut words = Vec::new();
    for block in blocks {
        for paragraph in block["paragraphs"].as_array().unwrap() {
            for line in paragraph["lines"].as_array().unwrap() {
                for word in line["words"].as_array().unwrap() {
                    let b = &word["bbox"];
                    assert!(b["x"].as_u64().unwrap() + b["width"].as_u64().unwrap() <= width);
                    assert!(b["y"].as_u64().unwrap() + b["height"].as_u64().unwrap() <= height);
                    let n = &word["bboxNormalized"];
                    assert!((0.0..=1.0).contains(&n["x"].as_f64().unwrap()));
                    assert!((0.0..=1.0).contains(&word["confidence"].as_f64().unwrap()));
                    words.push(word["text"].as_str().unwrap().to_owned());
                }
            }
        }
    }
    let expected: Vec<String> = LINES
        .iter()
        .flat_map(|l| l.split_whitespace())
        .map(str::to_owned)
        .collect();
    assert_eq!(words, expected);
    let strict = app
        .post_raw(
            "/api/v1/ocr/recognize?format=json&minConfidence=1",
            "image/png",
            image.clone(),
        )
        .await
        .ok();
    assert!(
        strict["pages"][0]["text"].as_str().unwrap().len()
            < json["pages"][0]["text"].as_str().unwrap().len()
    );

    let hocr = app
        .post_raw(
            "/api/v1/ocr/recognize?format=hocr",
            "image/png",
            image.clone(),
        )
        .await;
    assert_eq!(hocr.status, 200);
    assert!(
        hocr.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/xhtml+xml")
    );
    let body = hocr.text();
    let mut reader = Reader::from_str(&body);
    let mut word_spans = 0;
    loop {
        match reader
            .read_event()
            .unwrap_or_else(|e| panic!("hOCR is not well-formed XML: {e}"))
        {
            Event::Eof => break,
            Event::Start(tag) => {
                let class = tag
                    .try_get_attribute("class")
                    .unwrap()
                    .map(|a| a.value.into_owned());
                if class.as_deref() == Some("ocrx_word") {
                    word_spans += 1;
                }
            }
            _ => {}
        }
    }
    assert_eq!(word_spans, expected.len());

    let tsv = app
        .post_raw(
            "/api/v1/ocr/recognize?format=tsv",
            "image/png",
            image.clone(),
        )
        .await;
    let tsv = tsv.text();
    let mut rows = tsv.lines();
    assert_eq!(
        rows.next().unwrap(),
        "level\tpage_num\tblock_num\tpar_num\tline_num\tword_num\tleft\ttop\twidth\theight\tconf\ttext"
    );
    for row in rows {
        assert_eq!(row.split('\t').count(), 12, "{row:?}");
    }

    let pdf = app
        .post_raw(
            "/api/v1/ocr/recognize?format=pdf&dpi=200",
            "image/png",
            image,
        )
        .await;
    assert_eq!(pdf.status, 200, "{}", pdf.text());
    assert_eq!(pdf.headers["content-type"], "application/pdf");
    let document = flowforge_pdf::domain::load(
        &pdf.body,
        None,
        &flowforge_pdf::domain::PdfLimits::default(),
    )
    .unwrap();
    let text = flowforge_pdf::domain::text::extract(
        &document,
        &[1],
        &flowforge_pdf::domain::PdfLimits::default(),
        flowforge_pdf::domain::Deadline::after(std::time::Duration::from_secs(5)),
    )
    .unwrap();
    let found: Vec<&str> = text[0].text.split_whitespace().collect();
    let expected: Vec<&str> = expected.iter().map(String::as_str).collect();
    assert_eq!(
        found, expected,
        "the invisible layer extracts as the words read"
    );
}

/// Every word's box in a page's JSON answer, by reading order: `[x, y, width, height]`.
fn word_boxes(answer: &serde_json::Value) -> Vec<[i64; 4]> {
    let mut boxes = Vec::new();
    for block in answer["pages"][0]["blocks"].as_array().unwrap() {
        for paragraph in block["paragraphs"].as_array().unwrap() {
            for line in paragraph["lines"].as_array().unwrap() {
                for word in line["words"].as_array().unwrap() {
                    let b = &word["bbox"];
                    boxes.push(["x", "y", "width", "height"].map(|k| b[k].as_i64().unwrap()));
                }
            }
        }
    }
    boxes
}

#[tokio::test]
async fn boxes_stay_in_the_callers_pixels_when_small_text_is_enlarged() {
    let app = app().await;
    // 14 pt at 100 dpi: lines about 22 px tall, which preprocessing enlarges before reading.
    let scan = scan(&text_pdf(&[&LINES]), 1, 100.0);
    let image = png(&scan);
    let read = |query: &'static str| {
        let (app, image) = (&app, image.clone());
        async move {
            app.post_raw(
                &format!("/api/v1/ocr/recognize?{query}"),
                "image/png",
                image,
            )
            .await
        }
    };
    let enlarged = read("format=json").await.ok();
    let as_is = read("format=json&upscale=false").await.ok();
    for answer in [&enlarged, &as_is] {
        assert_eq!(answer["pages"][0]["width"], scan.width());
        assert_eq!(answer["pages"][0]["height"], scan.height());
    }
    let (boxes, reference) = (word_boxes(&enlarged), word_boxes(&as_is));
    assert_eq!(boxes.len(), reference.len());
    assert!(boxes.len() >= 20);
    // The two reads may draw a word's edges a few pixels apart (a descender taken in or not),
    // but its centre stays put; unmapped, the enlarged read's would sit ~18 % further right
    // and down (tens of pixels on this page).
    let centre = |b: &[i64; 4]| (b[0] * 2 + b[2], b[1] * 2 + b[3]);
    for (b, r) in boxes.iter().zip(&reference) {
        let ((bx, by), (rx, ry)) = (centre(b), centre(r));
        assert!(
            (bx - rx).abs() <= 16 && (by - ry).abs() <= 16,
            "{b:?} against {r:?}"
        );
    }

    // TSV and hOCR carry the same boxes as the JSON tree.
    let tsv = read("format=tsv").await.text();
    let tsv_words: Vec<[i64; 4]> = tsv
        .lines()
        .skip(1)
        .map(|row| row.split('\t').collect::<Vec<_>>())
        .filter(|cells| cells[0] == "5" && !cells[11].trim().is_empty())
        .map(|cells| [6, 7, 8, 9].map(|i| cells[i].parse().unwrap()))
        .collect();
    assert_eq!(tsv_words, boxes);
    let hocr = read("format=hocr").await.text();
    let hocr_words: Vec<[i64; 4]> = hocr
        .split("class='ocrx_word'")
        .skip(1)
        .map(|span| {
            let title = span.split("title='bbox ").nth(1).unwrap();
            let numbers: Vec<i64> = title
                .split(';')
                .next()
                .unwrap()
                .split(' ')
                .map(|v| v.parse().unwrap())
                .collect();
            [
                numbers[0],
                numbers[1],
                numbers[2] - numbers[0],
                numbers[3] - numbers[1],
            ]
        })
        .collect();
    assert_eq!(hocr_words, boxes);
}
