//! What an image is: size, color, orientation, metadata, average color and a perceptual hash.

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
        has_icc_profile: decoded.has_icc,
        average_color: average_color(image),
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
