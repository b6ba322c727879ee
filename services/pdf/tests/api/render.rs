//! Rendering pages, compared pixel by pixel with poppler's `pdftoppm`.

use std::io::Read as _;
use std::process::Command;

use image::{GenericImageView, GrayImage};
use serde_json::json;

use crate::{app, generated, numbered_pages};

fn poppler_render(pdf: &[u8], dpi: u32) -> GrayImage {
    let dir = std::env::temp_dir().join(format!("flowforge-pdf-ppm-{}-{dpi}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let input = dir.join("in.pdf");
    std::fs::write(&input, pdf).unwrap();
    let status = Command::new("pdftoppm")
        .args([
            "-r",
            &dpi.to_string(),
            "-f",
            "1",
            "-l",
            "1",
            "-png",
            "-singlefile",
        ])
        .arg(&input)
        .arg(dir.join("out"))
        .status()
        .unwrap();
    assert!(status.success());
    let image = image::open(dir.join("out.png")).unwrap().to_luma8();
    let _ = std::fs::remove_dir_all(&dir);
    image
}

/// Intersection over union of the dark pixels of two renderings.
fn ink_overlap(a: &GrayImage, b: &GrayImage) -> f64 {
    let (mut both, mut either) = (0u64, 0u64);
    for (pa, pb) in a.pixels().zip(b.pixels()) {
        let (da, db) = (pa.0[0] < 128, pb.0[0] < 128);
        both += u64::from(da && db);
        either += u64::from(da || db);
    }
    both as f64 / either.max(1) as f64
}

#[tokio::test]
async fn text_renders_like_poppler_renders_it() {
    let app = app();
    let pdf = generated(
        &app,
        json!({"content": [
            {"type": "heading", "level": 1, "text": "Rendering check"},
            {"type": "paragraph", "text": "Black text on a white page, drawn by the shared renderer.", "size": 16},
            {"type": "table", "columns": ["A", "B"], "rows": [["1", "2"]]}
        ]}),
    )
    .await;
    let response = app
        .post_raw("/api/v1/pdf/render?dpi=100", "application/pdf", pdf.clone())
        .await;
    assert_eq!(response.status, 200, "{}", response.text());
    assert_eq!(response.headers["content-type"], "image/png");
    assert_eq!(
        response.headers["content-disposition"],
        "attachment; filename=\"document-page-1.png\""
    );
    let ours = image::load_from_memory(&response.body).unwrap().to_luma8();
    let theirs = poppler_render(&pdf, 100);
    // A4 at 100 dpi is 826.8 × 1169.3 pixels: whole pixels rounded down (poppler rounds up).
    assert_eq!(ours.dimensions(), (826, 1169));
    let theirs = image::imageops::crop_imm(&theirs, 0, 0, 826, 1169).to_image();
    let ink = ours.pixels().filter(|p| p.0[0] < 128).count();
    assert!(ink > 2_000, "too little ink: {ink}");
    let overlap = ink_overlap(&ours, &theirs);
    assert!(overlap > 0.8, "ink overlap with pdftoppm only {overlap:.2}");
}

#[tokio::test]
async fn images_several_pages_and_jpeg() {
    let app = app();
    let png = {
        let mut bytes = std::io::Cursor::new(Vec::new());
        image::RgbImage::from_pixel(60, 40, image::Rgb([220, 20, 30]))
            .write_to(&mut bytes, image::ImageFormat::Png)
            .unwrap();
        bytes.into_inner()
    };
    let pdf = app
        .post_raw("/api/v1/pdf/images-to-pdf?dpi=72", "image/png", png)
        .await;
    let page = app
        .post_raw(
            "/api/v1/pdf/render?dpi=72",
            "application/pdf",
            pdf.body.to_vec(),
        )
        .await;
    let image = image::load_from_memory(&page.body).unwrap();
    assert_eq!(image.dimensions(), (60, 40));
    let [r, g, b, _] = image.get_pixel(30, 20).0;
    assert!(r > 200 && g < 40 && b < 50, "{r} {g} {b}");

    let three = numbered_pages(&app, 3).await;
    let zipped = app
        .post_raw(
            "/api/v1/pdf/render?dpi=36&pages=3,1&format=jpeg&quality=70",
            "application/pdf",
            three.clone(),
        )
        .await;
    assert_eq!(zipped.status, 200, "{}", zipped.text());
    assert_eq!(zipped.headers["content-type"], "application/zip");
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(zipped.body.to_vec())).unwrap();
    let names: Vec<String> = (0..archive.len())
        .map(|i| archive.by_index(i).unwrap().name().unwrap().into_owned())
        .collect();
    assert_eq!(names, ["page-3.jpg", "page-1.jpg"]);
    let mut bytes = Vec::new();
    archive
        .by_index(0)
        .unwrap()
        .read_to_end(&mut bytes)
        .unwrap();
    assert_eq!(
        image::guess_format(&bytes).unwrap(),
        image::ImageFormat::Jpeg
    );

    let huge = app
        .post_raw(
            "/api/v1/pdf/render?dpi=1200",
            "application/pdf",
            three.clone(),
        )
        .await;
    huge.error(413, "PAYLOAD_TOO_LARGE");
    let low = app
        .post_raw("/api/v1/pdf/render?dpi=5", "application/pdf", three.clone())
        .await;
    assert_eq!(low.error_field(), "dpi");
    let missing = app
        .post_raw("/api/v1/pdf/render?pages=9", "application/pdf", three)
        .await;
    assert_eq!(missing.error_field(), "pages");
}

#[tokio::test]
async fn encrypted_documents_render_with_their_password() {
    let app = app();
    let pdf = numbered_pages(&app, 1).await;
    let locked = app
        .post_raw(
            "/api/v1/pdf/encrypt?userPassword=pw",
            "application/pdf",
            pdf,
        )
        .await;
    let without = app
        .post_raw(
            "/api/v1/pdf/render?dpi=36",
            "application/pdf",
            locked.body.to_vec(),
        )
        .await;
    without.error(422, "PASSWORD_REQUIRED");
    let wrong = app
        .post_raw(
            "/api/v1/pdf/render?dpi=36&password=no",
            "application/pdf",
            locked.body.to_vec(),
        )
        .await;
    wrong.error(422, "DECRYPTION_FAILED");
    let right = app
        .post_raw(
            "/api/v1/pdf/render?dpi=36&password=pw",
            "application/pdf",
            locked.body.to_vec(),
        )
        .await;
    assert_eq!(right.status, 200, "{}", right.text());
}
