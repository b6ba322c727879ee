//! What an image is: size, color, orientation, metadata, average and dominant color, a BlurHash
//! placeholder and a perceptual hash.

use image::{DynamicImage, imageops::FilterType};
use serde::Serialize;

use super::codec::Decoded;

/// An image's description.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Info {
    pub format: &'static str,
    /// Upright (after EXIF orientation).
    pub width: u32,
    pub height: u32,
    /// `rgb8`, `rgba8`, `l8`, `rgb16`…
    pub color_type: String,
    pub has_alpha: bool,
    /// EXIF orientation as stored (1 = upright).
    pub orientation: u8,
    pub has_exif: bool,
    pub has_icc_profile: bool,
    /// `#rrggbb`.
    pub average_color: String,
    /// The most common color (`#rrggbb`): the biggest cell of a 16-level-per-channel histogram.
    pub dominant_color: String,
    /// A compact placeholder (4 × 3 components) that clients decode into a blurred preview.
    pub blurhash: String,
    /// A 64-bit difference hash (dHash) in hex: near-duplicates differ in few bits.
    pub perceptual_hash: String,
}

/// Describes a decoded image.
pub fn info(decoded: &Decoded) -> Info {
    let image = &decoded.image;
    Info {
        format: decoded.format.name(),
        width: image.width(),
        height: image.height(),
        color_type: format!("{:?}", image.color()).to_ascii_lowercase(),
        has_alpha: image.color().has_alpha(),
        orientation: decoded.orientation,
        has_exif: decoded.has_exif,
        has_icc_profile: decoded.icc.is_some(),
        average_color: average_color(image),
        dominant_color: dominant_color(image),
        blurhash: blurhash(image, 4, 3),
        perceptual_hash: format!("{:016x}", difference_hash(image)),
    }
}

fn average_color(image: &DynamicImage) -> String {
    // The mean over a 64 × 64 thumbnail: the same as over every pixel, to rounding, and cheap.
    let small = image.resize_exact(64, 64, FilterType::Triangle).to_rgb8();
    let mut sums = [0u64; 3];
    for pixel in small.pixels() {
        for (sum, channel) in sums.iter_mut().zip(pixel.0) {
            *sum += u64::from(channel);
        }
    }
    let n = u64::from(small.width() * small.height()).max(1);
    format!("#{:02x}{:02x}{:02x}", sums[0] / n, sums[1] / n, sums[2] / n)
}

fn dominant_color(image: &DynamicImage) -> String {
    let small = if image.width() <= 64 && image.height() <= 64 {
        image.to_rgba8()
    } else {
        image.resize(64, 64, FilterType::Triangle).to_rgba8()
    };
    // Cells of 16 levels per channel; transparent pixels do not vote.
    let mut cells = vec![(0u32, [0u64; 3]); 4096];
    for pixel in small.pixels().filter(|p| p[3] >= 128) {
        let [r, g, b, _] = pixel.0;
        let cell = &mut cells
            [(usize::from(r >> 4) << 8) | (usize::from(g >> 4) << 4) | usize::from(b >> 4)];
        cell.0 += 1;
        for (sum, v) in cell.1.iter_mut().zip([r, g, b]) {
            *sum += u64::from(v);
        }
    }
    let (count, sums) = cells
        .iter()
        .max_by_key(|(n, _)| *n)
        .copied()
        .unwrap_or_default();
    let n = u64::from(count.max(1));
    format!("#{:02x}{:02x}{:02x}", sums[0] / n, sums[1] / n, sums[2] / n)
}

const BASE83: &[u8] =
    b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz#$%*+,-.:;=?@[]^_{|}~";

fn base83(value: u32, length: u32, out: &mut String) {
    for i in 1..=length {
        let digit = (value / 83u32.pow(length - i)) % 83;
        out.push(char::from(BASE83[digit as usize]));
    }
}

fn srgb_to_linear(value: u8) -> f32 {
    let v = f32::from(value) / 255.0;
    if v <= 0.04045 {
        v / 12.92
    } else {
        ((v + 0.055) / 1.055).powf(2.4)
    }
}

fn linear_to_srgb(value: f32) -> u32 {
    let v = value.clamp(0.0, 1.0);
    if v <= 0.003_130_8 {
        (v * 12.92 * 255.0 + 0.5) as u32
    } else {
        ((1.055 * v.powf(1.0 / 2.4) - 0.055) * 255.0 + 0.5) as u32
    }
}

/// BlurHash (woltapp's algorithm) of the image, computed on a copy at most 64 pixels wide.
pub fn blurhash(image: &DynamicImage, components_x: u32, components_y: u32) -> String {
    let rgb = if image.width() <= 64 && image.height() <= 64 {
        image.to_rgb8()
    } else {
        image.resize(64, 64, FilterType::Triangle).to_rgb8()
    };
    let (w, h) = (rgb.width() as f32, rgb.height() as f32);
    let linear: Vec<[f32; 3]> = rgb.pixels().map(|p| p.0.map(srgb_to_linear)).collect();
    let mut factors = Vec::with_capacity((components_x * components_y) as usize);
    for j in 0..components_y {
        for i in 0..components_x {
            let normalisation = if i == 0 && j == 0 { 1.0 } else { 2.0 };
            let mut sum = [0.0f32; 3];
            for (index, pixel) in linear.iter().enumerate() {
                let x = (index as u32 % rgb.width()) as f32;
                let y = (index as u32 / rgb.width()) as f32;
                let basis = (std::f32::consts::PI * i as f32 * x / w).cos()
                    * (std::f32::consts::PI * j as f32 * y / h).cos();
                for (s, v) in sum.iter_mut().zip(pixel) {
                    *s += basis * v;
                }
            }
            let scale = normalisation / (w * h);
            factors.push(sum.map(|s| s * scale));
        }
    }
    let mut hash = String::new();
    base83((components_x - 1) + (components_y - 1) * 9, 1, &mut hash);
    let ac = &factors[1..];
    let maximum = if ac.is_empty() {
        base83(0, 1, &mut hash);
        1.0
    } else {
        let actual = ac.iter().flatten().fold(0.0f32, |m, v| m.max(v.abs()));
        let quantised = ((actual * 166.0 - 0.5).floor()).clamp(0.0, 82.0) as u32;
        base83(quantised, 1, &mut hash);
        (quantised + 1) as f32 / 166.0
    };
    let [r, g, b] = factors[0];
    base83(
        (linear_to_srgb(r) << 16) + (linear_to_srgb(g) << 8) + linear_to_srgb(b),
        4,
        &mut hash,
    );
    for factor in ac {
        let quantise = |v: f32| {
            let signed = (v / maximum).signum() * (v / maximum).abs().powf(0.5);
            (signed * 9.0 + 9.5).floor().clamp(0.0, 18.0) as u32
        };
        let [r, g, b] = factor.map(quantise);
        base83(r * 19 * 19 + g * 19 + b, 2, &mut hash);
    }
    hash
}

/// dHash: a 9 × 8 grayscale thumbnail, one bit per horizontal neighbour comparison.
pub fn difference_hash(image: &DynamicImage) -> u64 {
    let small = image.resize_exact(9, 8, FilterType::Triangle).to_luma8();
    let mut hash = 0u64;
    for y in 0..8 {
        for x in 0..8 {
            hash <<= 1;
            if small.get_pixel(x, y)[0] < small.get_pixel(x + 1, y)[0] {
                hash |= 1;
            }
        }
    }
    hash
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blurhash_matches_the_reference_implementation() {
        // Computed by the reference Python implementation (PyPI `blurhash` 1.1.5) for the same pixels.
        let image = DynamicImage::ImageRgb8(image::RgbImage::from_fn(8, 6, |x, y| {
            image::Rgb([
                ((x * 30) % 256) as u8,
                ((y * 40) % 256) as u8,
                (((x + y) * 15) % 256) as u8,
            ])
        }));
        assert_eq!(blurhash(&image, 4, 3), "LcE.,.32a_%1zFNKfRnQenf9fRf6");
    }

    #[test]
    fn dominant_color_is_the_commonest_not_the_mean() {
        // Three quarters blue, one quarter red: the mean is purple, the dominant color blue.
        let image = DynamicImage::ImageRgb8(image::RgbImage::from_fn(40, 40, |x, _| {
            if x < 10 {
                image::Rgb([250, 0, 0])
            } else {
                image::Rgb([0, 0, 250])
            }
        }));
        assert_eq!(dominant_color(&image), "#0000fa");
    }

    #[test]
    fn similar_images_hash_alike_and_different_ones_do_not() {
        let gradient = DynamicImage::ImageRgb8(image::RgbImage::from_fn(90, 80, |x, y| {
            image::Rgb([(x * 2) as u8, (y * 3) as u8, 60])
        }));
        let brighter = gradient.brighten(10);
        let flipped = gradient.fliph();
        let a = difference_hash(&gradient);
        assert!((a ^ difference_hash(&brighter)).count_ones() <= 4);
        assert!((a ^ difference_hash(&flipped)).count_ones() >= 32);
    }
}
