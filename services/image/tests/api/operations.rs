//! Every operation in the three request forms, the answer forms, and hostile input.

use flowforge_service_kit::test_util::multipart_body;
use image::{GenericImageView, ImageFormat};
use serde_json::json;

use crate::{app, decoded, picture};

#[tokio::test]
async fn info_describes_the_image() {
    let app = app();
    let info = app
        .post_raw(
            "/api/v1/image/info",
            "image/png",
            picture(64, 32, ImageFormat::Png),
        )
        .await
        .ok();
    assert_eq!(info["format"], "png");
    assert_eq!(
        (info["width"].as_u64(), info["height"].as_u64()),
        (Some(64), Some(32))
    );
    assert_eq!(info["colorType"], "rgb8");
    assert_eq!(info["hasAlpha"], false);
    assert_eq!(info["orientation"], 1);
    assert_eq!(info["perceptualHash"].as_str().unwrap().len(), 16);
    assert!(info["averageColor"].as_str().unwrap().starts_with('#'));
}

#[tokio::test]
async fn resize_in_every_request_form() {
    let app = app();
    let jpeg = picture(400, 200, ImageFormat::Jpeg);
    let raw = app
        .post_raw("/api/v1/image/resize?width=100", "image/jpeg", jpeg.clone())
        .await;
    assert_eq!(raw.status, 200, "{}", raw.text());
    assert_eq!(raw.headers["content-type"], "image/jpeg");
    assert_eq!(
        raw.headers["content-disposition"],
        "attachment; filename=\"image.jpg\""
    );
    assert_eq!(decoded(&raw.body).dimensions(), (100, 50));

    let (content_type, body) = multipart_body(&[
        ("file", Some("photo.jpg"), &jpeg),
        ("width", None, b"80"),
        ("height", None, b"80"),
        ("fit", None, b"cover"),
        ("format", None, b"png"),
    ]);
    let multipart = app
        .post_raw("/api/v1/image/resize", &content_type, body)
        .await;
    assert_eq!(multipart.status, 200, "{}", multipart.text());
    assert_eq!(multipart.headers["content-type"], "image/png");
    assert_eq!(decoded(&multipart.body).dimensions(), (80, 80));

    use base64::Engine;
    let data = base64::engine::general_purpose::STANDARD.encode(&jpeg);
    let json = app
        .post_json(
            "/api/v1/image/resize",
            &json!({"data": data, "width": 50, "height": 50, "fit": "inside", "format": "webp"}),
        )
        .await;
    assert_eq!(json.status, 200, "{}", json.text());
    assert_eq!(decoded(&json.body).dimensions(), (50, 25));
}

#[tokio::test]
async fn base64_json_answers_on_accept() {
    let app = app();
    let request = http::Request::post("/api/v1/image/flop?format=png")
        .header("content-type", "image/png")
        .header("accept", "application/json")
        .body(axum::body::Body::from(picture(20, 10, ImageFormat::Png)))
        .unwrap();
    let answer = app.send(request).await.ok();
    assert_eq!(answer["contentType"], "image/png");
    assert_eq!(answer["filename"], "image.png");
    use base64::Engine;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(answer["data"].as_str().unwrap())
        .unwrap();
    let flopped = decoded(&bytes).to_rgb8();
    assert_eq!(
        flopped.get_pixel(19, 0),
        &image::Rgb([255, 0, 0]),
        "the red corner moved right"
    );
}

#[tokio::test]
async fn crop_rotate_adjust_convert_and_pipeline() {
    let app = app();
    let png = picture(40, 20, ImageFormat::Png);
    let cropped = app
        .post_raw(
            "/api/v1/image/crop?left=0&top=0&width=10&height=5",
            "image/png",
            png.clone(),
        )
        .await;
    let cropped = decoded(&cropped.body).to_rgb8();
    assert_eq!(cropped.dimensions(), (10, 5));
    assert!(cropped.pixels().all(|p| p == &image::Rgb([255, 0, 0])));

    let rotated = app
        .post_raw("/api/v1/image/rotate?degrees=90", "image/png", png.clone())
        .await;
    assert_eq!(decoded(&rotated.body).dimensions(), (20, 40));

    let gray = app
        .post_raw(
            "/api/v1/image/adjust?grayscale=true&brightness=10",
            "image/png",
            png.clone(),
        )
        .await;
    assert_eq!(gray.status, 200, "{}", gray.text());
    assert!(
        decoded(&gray.body)
            .to_rgb8()
            .pixels()
            .all(|p| p[0] == p[1] && p[1] == p[2])
    );

    for format in ["jpeg", "png", "webp", "gif", "bmp", "tiff", "ico"] {
        let converted = app
            .post_raw(
                &format!("/api/v1/image/convert?format={format}"),
                "image/png",
                png.clone(),
            )
            .await;
        assert_eq!(converted.status, 200, "{format}: {}", converted.text());
        assert_eq!(decoded(&converted.body).dimensions(), (40, 20), "{format}");
    }

    let steps = json!([
        {"op": "resize", "width": 20},
        {"op": "rotate", "degrees": 180},
        {"op": "crop", "width": 10, "height": 10, "gravity": "southeast"}
    ]);
    let query = format!(
        "/api/v1/image/pipeline?format=png&operations={}",
        percent_encode(&steps.to_string())
    );
    let piped = app.post_raw(&query, "image/png", png).await;
    assert_eq!(piped.status, 200, "{}", piped.text());
    let piped = decoded(&piped.body).to_rgb8();
    assert_eq!(piped.dimensions(), (10, 10));
    // After a half turn the red corner is bottom-right, where the south-east crop looks.
    let corner = piped.get_pixel(9, 9);
    assert!(
        corner[0] > 240 && corner[1] < 16 && corner[2] < 16,
        "{corner:?} (resampled red)"
    );
}

#[tokio::test]
async fn frames_corners_and_trim_in_a_pipeline() {
    let app = app();
    let steps = json!([
        {"op": "extend", "top": 5, "bottom": 5, "left": 5, "right": 5, "background": "#00ff00"},
        {"op": "trim"},
        {"op": "border", "width": 3, "color": "#0000ff"},
        {"op": "roundCorners", "radius": 6}
    ]);
    let query = format!(
        "/api/v1/image/pipeline?format=png&operations={}",
        percent_encode(&steps.to_string())
    );
    let out = app
        .post_raw(&query, "image/png", picture(40, 20, ImageFormat::Png))
        .await;
    assert_eq!(out.status, 200, "{}", out.text());
    let out = decoded(&out.body).to_rgba8();
    assert_eq!(
        out.dimensions(),
        (46, 26),
        "trimmed back to 40 × 20, then a 3 px frame"
    );
    assert_eq!(out.get_pixel(0, 0)[3], 0, "a rounded corner");
    assert_eq!(
        out.get_pixel(23, 1),
        &image::Rgba([0, 0, 255, 255]),
        "the frame"
    );
}

fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            other => format!("%{other:02X}"),
        })
        .collect()
}

#[tokio::test]
async fn hostile_and_bad_input_get_their_codes() {
    let app = app();
    let png = picture(40, 20, ImageFormat::Png);
    app.post_raw(
        "/api/v1/image/resize?width=10",
        "image/png",
        png[..png.len() / 2].to_vec(),
    )
    .await
    .error(422, "CORRUPT_INPUT");
    app.post_raw(
        "/api/v1/image/resize?width=10",
        "application/pdf",
        b"%PDF-1.7 not an image".to_vec(),
    )
    .await
    .error(415, "UNSUPPORTED_FORMAT");
    // Over the test service's 4 MP budget, refused from the header alone.
    app.post_raw(
        "/api/v1/image/info",
        "image/png",
        picture(2500, 2000, ImageFormat::Png),
    )
    .await
    .error(413, "IMAGE_TOO_LARGE");
    app.post_raw(
        "/api/v1/image/resize?width=100000&enlarge=true",
        "image/png",
        png.clone(),
    )
    .await
    .error(413, "IMAGE_TOO_LARGE");
    let error = app
        .post_raw("/api/v1/image/rotate?degrees=NaN", "image/png", png.clone())
        .await
        .error(422, "VALIDATION_ERROR");
    assert_eq!(error["details"][0]["field"], "degrees");
    let error = app
        .post_raw(
            "/api/v1/image/convert?format=heic",
            "image/png",
            png.clone(),
        )
        .await
        .error(422, "VALIDATION_ERROR");
    assert_eq!(error["details"][0]["field"], "format");
    let error = app
        .post_raw("/api/v1/image/pipeline?operations=%5B%5D", "image/png", png)
        .await
        .error(422, "VALIDATION_ERROR");
    assert_eq!(error["details"][0]["field"], "operations");
}
