//! Watermarks, thumbnails, any-angle rotation, the newer adjustments and output formats.

use flowforge_service_kit::test_util::multipart_body;
use image::{GenericImageView, ImageFormat};

use crate::{app, decoded, picture};

fn solid(width: u32, height: u32, color: [u8; 3], format: ImageFormat) -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    image::DynamicImage::ImageRgb8(image::RgbImage::from_pixel(
        width,
        height,
        image::Rgb(color),
    ))
    .write_to(&mut out, format)
    .unwrap();
    out.into_inner()
}

/// Pixels that differ from `color` inside the rectangle.
fn changed(
    image: &image::RgbaImage,
    (x0, y0, x1, y1): (u32, u32, u32, u32),
    color: [u8; 3],
) -> usize {
    (y0..y1)
        .flat_map(|y| (x0..x1).map(move |x| (x, y)))
        .filter(|&(x, y)| image.get_pixel(x, y).0[..3] != color)
        .count()
}

#[tokio::test]
async fn text_watermarks_land_where_asked() {
    let app = app();
    let blue = solid(400, 300, [0, 0, 200], ImageFormat::Png);
    let response = app
        .post_raw(
            "/api/v1/image/watermark?text=FlowForge&size=40&color=%23ffffff&opacity=1&position=southeast&margin=10",
            "image/png",
            blue.clone(),
        )
        .await;
    assert_eq!(response.status, 200, "{}", response.text());
    let marked = decoded(&response.body).to_rgba8();
    assert_eq!(marked.dimensions(), (400, 300));
    // Ink in the bottom-right quarter only.
    assert!(changed(&marked, (200, 150, 400, 300), [0, 0, 200]) > 500);
    assert_eq!(changed(&marked, (0, 0, 200, 150), [0, 0, 200]), 0);
    assert!(
        marked.pixels().any(|p| p.0 == [255, 255, 255, 255]),
        "opaque white text"
    );

    let tiled = app
        .post_raw(
            "/api/v1/image/watermark?text=draft&size=20&tile=true&rotation=-30&opacity=0.4",
            "image/png",
            blue.clone(),
        )
        .await;
    assert_eq!(tiled.status, 200, "{}", tiled.text());
    let tiled = decoded(&tiled.body).to_rgba8();
    for quarter in [
        (0, 0, 200, 150),
        (200, 0, 400, 150),
        (0, 150, 200, 300),
        (200, 150, 400, 300),
    ] {
        assert!(
            changed(&tiled, quarter, [0, 0, 200]) > 100,
            "tiles cover {quarter:?}"
        );
    }
    // 40% white over blue: never fully white.
    assert!(tiled.pixels().all(|p| p.0[0] < 130), "opacity is applied");

    let nothing = app
        .post_raw("/api/v1/image/watermark", "image/png", blue)
        .await;
    assert_eq!(nothing.error_field(), "text");
}

#[tokio::test]
async fn image_watermarks_are_scaled_and_placed() {
    let app = app();
    let base = solid(400, 200, [255, 255, 255], ImageFormat::Png);
    let logo = solid(50, 50, [200, 0, 0], ImageFormat::Png);
    let (content_type, body) = multipart_body(&[
        ("file", Some("photo.png"), &base),
        ("file", Some("logo.png"), &logo),
        ("position", None, b"northwest"),
        ("scale", None, b"0.25"),
        ("opacity", None, b"1"),
        ("margin", None, b"0"),
    ]);
    let response = app
        .post_raw("/api/v1/image/watermark", &content_type, body)
        .await;
    assert_eq!(response.status, 200, "{}", response.text());
    let marked = decoded(&response.body).to_rgba8();
    // A quarter of 400 px wide: a 100 × 100 red square in the top-left corner.
    assert_eq!(marked.get_pixel(50, 50).0, [200, 0, 0, 255]);
    assert_eq!(marked.get_pixel(150, 50).0, [255, 255, 255, 255]);
    assert_eq!(marked.get_pixel(50, 150).0, [255, 255, 255, 255]);
}

#[tokio::test]
async fn thumbnails_extract_and_any_angle_rotation() {
    let app = app();
    let photo = picture(800, 400, ImageFormat::Jpeg);
    let thumb = app
        .post_raw("/api/v1/image/thumbnail", "image/jpeg", photo.clone())
        .await;
    assert_eq!(thumb.status, 200, "{}", thumb.text());
    assert_eq!(decoded(&thumb.body).dimensions(), (200, 200));
    let wide = app
        .post_raw(
            "/api/v1/image/thumbnail?width=120&height=60&gravity=center",
            "image/jpeg",
            photo.clone(),
        )
        .await;
    assert_eq!(decoded(&wide.body).dimensions(), (120, 60));

    // An entropy crop of a flat image with a detailed patch finds the patch.
    let patch = {
        let image = image::RgbImage::from_fn(600, 200, |x, y| {
            if x >= 420 && (x / 3 + y / 3) % 2 == 0 {
                image::Rgb([0, 0, 0])
            } else {
                image::Rgb([200, 200, 200])
            }
        });
        let mut out = std::io::Cursor::new(Vec::new());
        image.write_to(&mut out, ImageFormat::Png).unwrap();
        out.into_inner()
    };
    let cropped = app
        .post_raw(
            "/api/v1/image/crop?width=150&height=200&gravity=entropy",
            "image/png",
            patch,
        )
        .await;
    assert_eq!(cropped.status, 200, "{}", cropped.text());
    let cropped = decoded(&cropped.body).to_rgb8();
    assert!(
        cropped.pixels().filter(|p| p.0 == [0, 0, 0]).count() > 10_000,
        "the crop holds the patch"
    );

    let area = app
        .post_raw(
            "/api/v1/image/extract?left=0&top=0&width=100&height=50",
            "image/jpeg",
            photo.clone(),
        )
        .await;
    let area = decoded(&area.body);
    assert_eq!(area.dimensions(), (100, 50));
    let [r, g, b, _] = area.get_pixel(40, 20).0;
    assert!(r > 200 && g < 60 && b < 60, "the red corner: {r} {g} {b}");

    let turned = app
        .post_raw(
            "/api/v1/image/rotate?degrees=45&background=%2300ff00&format=png",
            "image/jpeg",
            photo,
        )
        .await;
    assert_eq!(turned.status, 200, "{}", turned.text());
    let turned = decoded(&turned.body).to_rgba8();
    // 800 × 400 at 45°: (800 + 400) / √2 ≈ 849 on each side, green corners.
    assert_eq!(turned.dimensions(), (849, 849));
    assert_eq!(turned.get_pixel(2, 2).0, [0, 255, 0, 255]);
}

#[tokio::test]
async fn new_adjustments() {
    let app = app();
    let gray = solid(64, 64, [100, 100, 100], ImageFormat::Png);
    let brighter = app
        .post_raw("/api/v1/image/adjust?gamma=2.2", "image/png", gray.clone())
        .await;
    let value = decoded(&brighter.body).to_rgb8().get_pixel(5, 5).0[0];
    // 255 · (100/255)^(1/2.2) = 166.6.
    assert_eq!(value, 167);
    let color = solid(64, 64, [200, 100, 50], ImageFormat::Png);
    let dull = app
        .post_raw(
            "/api/v1/image/adjust?saturation=-100",
            "image/png",
            color.clone(),
        )
        .await;
    let [r, g, b] = decoded(&dull.body).to_rgb8().get_pixel(5, 5).0;
    assert!(r == g && g == b, "fully desaturated: {r} {g} {b}");
    let bw = app
        .post_raw(
            "/api/v1/image/adjust?threshold=128",
            "image/png",
            picture(64, 64, ImageFormat::Png),
        )
        .await;
    assert!(
        decoded(&bw.body)
            .to_luma8()
            .pixels()
            .all(|p| p.0[0] == 0 || p.0[0] == 255)
    );
    let blocks = app
        .post_raw(
            "/api/v1/image/adjust?pixelate=8",
            "image/png",
            picture(64, 64, ImageFormat::Png),
        )
        .await;
    let blocks = decoded(&blocks.body).to_rgb8();
    assert_eq!(blocks.get_pixel(8, 8), blocks.get_pixel(15, 15));
    let bad = app
        .post_raw("/api/v1/image/adjust?gamma=50", "image/png", gray)
        .await;
    bad.error(422, "VALIDATION_ERROR");
}

#[tokio::test]
async fn modern_formats_negotiation_and_size_caps() {
    let app = app();
    let photo = picture(300, 200, ImageFormat::Png);
    for (accept, media) in [
        ("image/avif,image/webp,*/*", "image/avif"),
        ("image/webp,*/*", "image/webp"),
        ("image/avif;q=0, image/webp", "image/webp"),
        ("*/*", "image/jpeg"),
    ] {
        let response = app
            .send(
                http::Request::post("/api/v1/image/convert?format=auto")
                    .header("content-type", "image/png")
                    .header("accept", accept)
                    .body(axum::body::Body::from(photo.clone()))
                    .unwrap(),
            )
            .await;
        assert_eq!(response.status, 200, "{accept}: {}", response.text());
        assert_eq!(response.headers["content-type"], media, "{accept}");
        assert_eq!(response.headers["vary"], "Accept");
    }
    let noisy = {
        let mut state = 0x9e37_79b9_u32;
        let image = image::RgbImage::from_fn(300, 200, |x, y| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            let grain = (state % 24) as u8;
            image::Rgb([(x % 200) as u8 + grain, (y % 200) as u8 + grain, 90 + grain])
        });
        let mut out = std::io::Cursor::new(Vec::new());
        image.write_to(&mut out, ImageFormat::Png).unwrap();
        out.into_inner()
    };
    let lossy = app
        .post_raw(
            "/api/v1/image/convert?format=webp&quality=60",
            "image/png",
            noisy.clone(),
        )
        .await;
    let lossless = app
        .post_raw(
            "/api/v1/image/convert?format=webp&lossless=true",
            "image/png",
            noisy.clone(),
        )
        .await;
    assert!(
        lossy.body.len() * 2 < lossless.body.len(),
        "{} vs {}",
        lossy.body.len(),
        lossless.body.len()
    );
    assert_eq!(decoded(&lossless.body).to_rgb8(), decoded(&noisy).to_rgb8());
    let progressive = app
        .post_raw(
            "/api/v1/image/convert?format=jpeg&progressive=true",
            "image/png",
            photo.clone(),
        )
        .await;
    assert!(progressive.body.windows(2).any(|w| w == [0xFF, 0xC2]));
    let capped = app
        .post_raw(
            "/api/v1/image/convert?format=jpeg&quality=95&maxBytes=6000",
            "image/png",
            photo.clone(),
        )
        .await;
    assert_eq!(capped.status, 200, "{}", capped.text());
    assert!(capped.body.len() <= 6000, "{}", capped.body.len());
    let avif = app
        .post_raw(
            "/api/v1/image/convert?format=avif",
            "image/png",
            photo.clone(),
        )
        .await;
    assert_eq!(&avif.body[4..12], b"ftypavif");
    let back = app
        .post_raw("/api/v1/image/info", "image/avif", avif.body.to_vec())
        .await;
    back.error(415, "UNSUPPORTED_FORMAT");

    let info = app
        .post_raw("/api/v1/image/info", "image/png", photo)
        .await
        .ok();
    assert_eq!(info["blurhash"].as_str().unwrap().len(), 28);
    assert_eq!(info["dominantColor"].as_str().unwrap().len(), 7);
}

#[tokio::test]
async fn animations_are_opt_in() {
    let app = app();
    let gif = {
        let mut out = Vec::new();
        {
            let mut encoder = image::codecs::gif::GifEncoder::new(&mut out);
            encoder
                .set_repeat(image::codecs::gif::Repeat::Infinite)
                .unwrap();
            for color in [[255, 0, 0, 255], [0, 255, 0, 255], [0, 0, 255, 255]] {
                let frame = image::RgbaImage::from_pixel(40, 20, image::Rgba(color));
                encoder
                    .encode_frame(image::Frame::from_parts(
                        frame,
                        0,
                        0,
                        image::Delay::from_numer_denom_ms(100, 1),
                    ))
                    .unwrap();
            }
        }
        out
    };
    let still = app
        .post_raw("/api/v1/image/resize?width=20", "image/gif", gif.clone())
        .await;
    assert_eq!(still.status, 200, "{}", still.text());
    let animated = app
        .post_raw(
            "/api/v1/image/resize?width=20&animated=true",
            "image/gif",
            gif.clone(),
        )
        .await;
    assert_eq!(animated.status, 200, "{}", animated.text());
    use image::AnimationDecoder;
    let frames: Vec<_> =
        image::codecs::gif::GifDecoder::new(std::io::Cursor::new(animated.body.to_vec()))
            .unwrap()
            .into_frames()
            .collect_frames()
            .unwrap();
    assert_eq!(frames.len(), 3);
    assert_eq!(frames[1].buffer().dimensions(), (20, 10));
    let [r, g, _, _] = frames[1].buffer().get_pixel(10, 5).0;
    assert!(g > 200 && r < 50, "the second frame is green");
    assert_eq!(frames[2].delay().numer_denom_ms(), (100, 1));
    let wrong = app
        .post_raw(
            "/api/v1/image/resize?width=20&animated=true&format=png",
            "image/gif",
            gif,
        )
        .await;
    assert_eq!(wrong.error_field(), "format");
}
