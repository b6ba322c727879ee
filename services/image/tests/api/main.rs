//! The image service through its router, with images made by the tests themselves.
#![allow(
    clippy::unwrap_used,
    reason = "helpers in test binaries panic to report failure"
)]

mod contract;
mod drawing;
mod operations;

use std::io::Cursor;

use flowforge_service_kit::test_util::TestApp;
use flowforge_service_kit::{Kit, Limits};
use image::{DynamicImage, ImageFormat};

pub fn app() -> TestApp {
    let kit = Kit::new("image", "0.1.0-test", Limits::default());
    TestApp::new(flowforge_image::app_with_limits(
        &kit,
        flowforge_image::domain::ImageLimits {
            max_pixels: 4_000_000,
            ..Default::default()
        },
    ))
}

/// A gradient with a red square in the top-left corner, in `format`.
pub fn picture(width: u32, height: u32, format: ImageFormat) -> Vec<u8> {
    let image = image::RgbImage::from_fn(width, height, |x, y| {
        if x < width / 4 && y < height / 4 {
            image::Rgb([255, 0, 0])
        } else {
            image::Rgb([(x * 255 / width) as u8, (y * 255 / height) as u8, 100])
        }
    });
    let mut out = Cursor::new(Vec::new());
    DynamicImage::ImageRgb8(image)
        .write_to(&mut out, format)
        .unwrap();
    out.into_inner()
}

/// Decodes a response body.
pub fn decoded(bytes: &[u8]) -> DynamicImage {
    image::load_from_memory(bytes).unwrap()
}
