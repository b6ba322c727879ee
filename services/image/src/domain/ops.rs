//! Operations on decoded images. Resizing uses fast_image_resize (SIMD convolution, Lanczos3 by
//! default, alpha premultiplied so edges do not darken).

use fast_image_resize::{FilterType, ResizeAlg, ResizeOptions, Resizer};
use image::{DynamicImage, GenericImageView, Rgba, imageops};

use super::draw::{
    Interest, Placement, TextStyle, rotate_any, smart_window, text_layer, watermark,
};
use super::{ImageError, ImageLimits, Result, invalid};

/// How a resize treats the aspect ratio when both sides are given (sharp's names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Fit {
    /// Fit inside the box and pad to exactly the box with the background.
    Contain,
    /// Fill the box and crop what overflows (centered).
    #[default]
    Cover,
    /// Exactly the box, stretched.
    Fill,
    /// Fit inside the box, no padding.
    Inside,
    /// Cover the box, no cropping.
    Outside,
}

/// Where a crop or a pad is anchored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Gravity {
    #[default]
    Center,
    North,
    South,
    East,
    West,
    NorthEast,
    NorthWest,
    SouthEast,
    SouthWest,
    /// The busiest region (content-aware; crops only, else the center).
    Entropy,
    /// Where people look (content-aware; crops only, else the center).
    Attention,
}

impl Gravity {
    /// The content-aware kind, if this gravity is one.
    fn interest(self) -> Option<Interest> {
        match self {
            Self::Entropy => Some(Interest::Entropy),
            Self::Attention => Some(Interest::Attention),
            _ => None,
        }
    }

    /// Where a `width` × `height` window of `image` goes.
    fn window(self, image: &DynamicImage, width: u32, height: u32) -> (u32, u32) {
        match self.interest() {
            Some(interest) => smart_window(image, width, height, interest),
            None => (
                self.offset(image.width(), width, true),
                self.offset(image.height(), height, false),
            ),
        }
    }

    /// The offset of a `inner` span inside an `outer` one along x (`horizontal`) or y.
    pub(crate) fn offset(self, outer: u32, inner: u32, horizontal: bool) -> u32 {
        let free = outer.saturating_sub(inner);
        let start = if horizontal {
            matches!(self, Self::West | Self::NorthWest | Self::SouthWest)
        } else {
            matches!(self, Self::North | Self::NorthEast | Self::NorthWest)
        };
        let end = if horizontal {
            matches!(self, Self::East | Self::NorthEast | Self::SouthEast)
        } else {
            matches!(self, Self::South | Self::SouthEast | Self::SouthWest)
        };
        match (start, end) {
            (true, _) => 0,
            (_, true) => free,
            _ => free / 2,
        }
    }
}

/// One operation of a pipeline.
#[derive(Debug, Clone, PartialEq)]
pub enum Operation {
    Resize {
        width: Option<u32>,
        height: Option<u32>,
        fit: Fit,
        /// Allow making the image larger (default false).
        enlarge: bool,
        gravity: Gravity,
        background: Rgba<u8>,
    },
    /// A rectangle by position, or a `width` × `height` box placed by `gravity`.
    Crop {
        left: Option<u32>,
        top: Option<u32>,
        width: u32,
        height: u32,
        gravity: Gravity,
    },
    /// Clockwise by any angle; multiples of 90 are exact, others fill the corners.
    Rotate {
        degrees: f32,
        background: Rgba<u8>,
    },
    /// Upside down.
    Flip,
    /// Mirror left to right.
    Flop,
    Grayscale,
    Invert,
    Blur {
        sigma: f32,
    },
    Sharpen {
        sigma: f32,
        threshold: i32,
    },
    /// -100 to 100.
    Brightness {
        amount: i32,
    },
    /// -100 to 100.
    Contrast {
        amount: f32,
    },
    /// Degrees around the color wheel.
    Hue {
        degrees: i32,
    },
    /// Pad each side with the background.
    Extend {
        top: u32,
        right: u32,
        bottom: u32,
        left: u32,
        background: Rgba<u8>,
    },
    /// A frame of `width` pixels around the image.
    Border {
        width: u32,
        color: Rgba<u8>,
    },
    /// Transparent corners of `radius` pixels (anti-aliased).
    RoundCorners {
        radius: u32,
    },
    /// Cut away edges that match the top-left pixel within `threshold` (0–255 per channel).
    Trim {
        threshold: u8,
    },
    /// 0.1–10; above 1 brightens the mid-tones.
    Gamma {
        gamma: f32,
    },
    /// -100 (gray) to 100 (twice as vivid).
    Saturation {
        amount: f32,
    },
    /// Blocks of `size` pixels.
    Pixelate {
        size: u32,
    },
    /// Black below `level` (luma 0–255), white from it.
    Threshold {
        level: u8,
    },
    /// A text watermark.
    Text {
        text: String,
        style: TextStyle,
        /// Degrees clockwise.
        rotation: f32,
        placement: Placement,
    },
    /// An image watermark, scaled to `scale` of the base's width when given.
    Overlay {
        layer: std::sync::Arc<image::RgbaImage>,
        scale: Option<f32>,
        placement: Placement,
    },
}

/// Applies `f` to every color channel (alpha untouched).
fn map_channels(image: DynamicImage, f: impl Fn(u8) -> u8) -> DynamicImage {
    let mut rgba = image.to_rgba8();
    for pixel in rgba.pixels_mut() {
        for c in 0..3 {
            pixel[c] = f(pixel[c]);
        }
    }
    keep_alpha_layout(&image, rgba)
}

/// RGBA work results go back to RGB when the input had no alpha (smaller to encode).
fn keep_alpha_layout(original: &DynamicImage, rgba: image::RgbaImage) -> DynamicImage {
    if original.color().has_alpha() {
        DynamicImage::ImageRgba8(rgba)
    } else {
        DynamicImage::ImageRgb8(DynamicImage::ImageRgba8(rgba).to_rgb8())
    }
}

/// `image` placed on a canvas grown by the given margins, filled with `background`.
fn pad(
    image: &DynamicImage,
    (top, right, bottom, left): (u32, u32, u32, u32),
    background: Rgba<u8>,
    limits: &ImageLimits,
) -> Result<DynamicImage> {
    let width = image.width().saturating_add(left).saturating_add(right);
    let height = image.height().saturating_add(top).saturating_add(bottom);
    check_output(width, height, limits)?;
    let mut canvas = image::RgbaImage::from_pixel(width, height, background);
    imageops::overlay(
        &mut canvas,
        &image.to_rgba8(),
        i64::from(left),
        i64::from(top),
    );
    Ok(DynamicImage::ImageRgba8(canvas))
}

/// Alpha of a pixel at (x, y) for corners of `radius`: 1 inside, 0 outside, a ramp on the edge.
fn corner_alpha(x: u32, y: u32, width: u32, height: u32, radius: f32) -> f32 {
    let (fx, fy) = (x as f32 + 0.5, y as f32 + 0.5);
    let cx = if fx < radius {
        radius
    } else if fx > width as f32 - radius {
        width as f32 - radius
    } else {
        return 1.0;
    };
    let cy = if fy < radius {
        radius
    } else if fy > height as f32 - radius {
        height as f32 - radius
    } else {
        return 1.0;
    };
    let distance = ((fx - cx).powi(2) + (fy - cy).powi(2)).sqrt();
    (radius - distance + 0.5).clamp(0.0, 1.0)
}

/// The box of pixels that differ from the top-left one by more than `threshold`.
fn content_box(image: &DynamicImage, threshold: u8) -> Option<(u32, u32, u32, u32)> {
    let rgba = image.to_rgba8();
    let reference = *rgba.get_pixel(0, 0);
    let differs = |p: &Rgba<u8>| {
        p.0.iter()
            .zip(reference.0)
            .any(|(a, b)| a.abs_diff(b) > threshold)
    };
    let (mut x0, mut y0, mut x1, mut y1) = (u32::MAX, u32::MAX, 0, 0);
    for (x, y, pixel) in rgba.enumerate_pixels() {
        if differs(pixel) {
            x0 = x0.min(x);
            y0 = y0.min(y);
            x1 = x1.max(x);
            y1 = y1.max(y);
        }
    }
    (x0 != u32::MAX).then(|| (x0, y0, x1 - x0 + 1, y1 - y0 + 1))
}

/// The size an image of `width` × `height` gets for a resize, before any crop or pad.
fn scaled_size(
    (width, height): (u32, u32),
    target: (Option<u32>, Option<u32>),
    fit: Fit,
    enlarge: bool,
) -> Result<(u32, u32)> {
    let (w, h) = (f64::from(width), f64::from(height));
    let clamp = |s: f64| if enlarge { s } else { s.min(1.0) };
    let (sx, sy) = match target {
        (None, None) => return Err(invalid("width", "give a width, a height or both")),
        (Some(tw), None) => {
            let s = clamp(f64::from(tw) / w);
            (s, s)
        }
        (None, Some(th)) => {
            let s = clamp(f64::from(th) / h);
            (s, s)
        }
        (Some(tw), Some(th)) => {
            let (rx, ry) = (f64::from(tw) / w, f64::from(th) / h);
            match fit {
                Fit::Fill => (clamp(rx), clamp(ry)),
                Fit::Contain | Fit::Inside => {
                    let s = clamp(rx.min(ry));
                    (s, s)
                }
                Fit::Cover | Fit::Outside => {
                    let s = clamp(rx.max(ry));
                    (s, s)
                }
            }
        }
    };
    let size = |side: f64, s: f64| ((side * s).round() as u32).max(1);
    Ok((size(w, sx), size(h, sy)))
}

/// Above this shrink factor a cheap box pre-shrink to twice the target runs first: Lanczos3 over
/// a 12× reduction (24 MP to 500 px) weighs ~70 source pixels per output pixel on each axis,
/// while a box filter does the bulk for a fraction and Lanczos3 on the last 2× keeps it sharp —
/// what libvips's shrink-on-load plus reduce does.
const PRE_SHRINK_FACTOR: u32 = 4;

fn convolve(
    source: &DynamicImage,
    width: u32,
    height: u32,
    filter: FilterType,
) -> Result<DynamicImage> {
    let mut target = DynamicImage::new(width, height, source.color());
    Resizer::new()
        .resize(
            source,
            &mut target,
            &ResizeOptions::new().resize_alg(ResizeAlg::Convolution(filter)),
        )
        .map_err(|e| ImageError::Internal(format!("resize failed: {e}")))?;
    Ok(target)
}

/// High-quality resampling to exactly `width` × `height`; takes the image so no copy is made.
fn resample(image: DynamicImage, width: u32, height: u32) -> Result<DynamicImage> {
    if (image.width(), image.height()) == (width, height) {
        return Ok(image);
    }
    // fast_image_resize handles 8-bit (and 16-bit) layouts; anything else goes through RGBA8.
    let source = match image {
        DynamicImage::ImageLuma8(_)
        | DynamicImage::ImageLumaA8(_)
        | DynamicImage::ImageRgb8(_)
        | DynamicImage::ImageRgba8(_) => image,
        other if other.color().has_alpha() => DynamicImage::ImageRgba8(other.to_rgba8()),
        other => DynamicImage::ImageRgb8(other.to_rgb8()),
    };
    let (source_width, source_height) = (source.width(), source.height());
    if source_width >= width * PRE_SHRINK_FACTOR && source_height >= height * PRE_SHRINK_FACTOR {
        let halfway = convolve(&source, width * 2, height * 2, FilterType::Box)?;
        drop(source);
        return convolve(&halfway, width, height, FilterType::Lanczos3);
    }
    convolve(&source, width, height, FilterType::Lanczos3)
}

fn check_output(width: u32, height: u32, limits: &ImageLimits) -> Result<()> {
    if width > limits.max_dimension || height > limits.max_dimension {
        return Err(ImageError::TooLarge(format!(
            "the result would be {width} × {height}; outputs are at most {} on a side",
            limits.max_dimension
        )));
    }
    Ok(())
}

/// Applies `operation` to `image`.
pub fn apply(
    image: DynamicImage,
    operation: &Operation,
    limits: &ImageLimits,
) -> Result<DynamicImage> {
    Ok(match *operation {
        Operation::Resize {
            width,
            height,
            fit,
            enlarge,
            gravity,
            background,
        } => {
            let (w, h) = scaled_size(
                (image.width(), image.height()),
                (width, height),
                fit,
                enlarge,
            )?;
            check_output(w, h, limits)?;
            let resized = resample(image, w, h)?;
            match (fit, width, height) {
                (Fit::Cover, Some(tw), Some(th)) if w > tw || h > th => {
                    let (cw, ch) = (tw.min(w), th.min(h));
                    let (x, y) = gravity.window(&resized, cw, ch);
                    resized.crop_imm(x, y, cw, ch)
                }
                (Fit::Contain, Some(tw), Some(th)) if (w, h) != (tw, th) => {
                    check_output(tw, th, limits)?;
                    let mut canvas = image::RgbaImage::from_pixel(tw, th, background);
                    let x = gravity.offset(tw, w, true);
                    let y = gravity.offset(th, h, false);
                    imageops::overlay(&mut canvas, &resized.to_rgba8(), i64::from(x), i64::from(y));
                    DynamicImage::ImageRgba8(canvas)
                }
                _ => resized,
            }
        }
        Operation::Crop {
            left,
            top,
            width,
            height,
            gravity,
        } => {
            let (iw, ih) = image.dimensions();
            if width == 0 || height == 0 {
                return Err(invalid("width", "a crop needs a positive width and height"));
            }
            let (x, y) = match (left, top) {
                (Some(x), Some(y)) => (x, y),
                (None, None) => gravity.window(&image, width.min(iw), height.min(ih)),
                _ => return Err(invalid("left", "give both `left` and `top`, or neither")),
            };
            if x >= iw || y >= ih {
                return Err(invalid(
                    "left",
                    format!("({x}, {y}) is outside the {iw} × {ih} image"),
                ));
            }
            image.crop_imm(x, y, width.min(iw - x), height.min(ih - y))
        }
        Operation::Rotate {
            degrees,
            background,
        } => {
            let turn = degrees.rem_euclid(360.0);
            if turn == 0.0 {
                image
            } else if turn == 90.0 {
                image.rotate90()
            } else if turn == 180.0 {
                image.rotate180()
            } else if turn == 270.0 {
                image.rotate270()
            } else {
                rotate_any(&image, turn, background, limits)?
            }
        }
        Operation::Flip => image.flipv(),
        Operation::Flop => image.fliph(),
        Operation::Grayscale => image.grayscale(),
        Operation::Invert => {
            let mut image = image;
            image.invert();
            image
        }
        Operation::Blur { sigma } => {
            if !(0.1..=100.0).contains(&sigma) {
                return Err(invalid("sigma", "must be 0.1 to 100"));
            }
            image.fast_blur(sigma)
        }
        Operation::Sharpen { sigma, threshold } => {
            if !(0.1..=100.0).contains(&sigma) {
                return Err(invalid("sigma", "must be 0.1 to 100"));
            }
            image.unsharpen(sigma, threshold)
        }
        Operation::Brightness { amount } => {
            if !(-100..=100).contains(&amount) {
                return Err(invalid("brightness", "must be -100 to 100"));
            }
            image.brighten(amount * 255 / 100)
        }
        Operation::Contrast { amount } => {
            if !(-100.0..=100.0).contains(&amount) {
                return Err(invalid("contrast", "must be -100 to 100"));
            }
            image.adjust_contrast(amount)
        }
        Operation::Hue { degrees } => image.huerotate(degrees),
        Operation::Extend {
            top,
            right,
            bottom,
            left,
            background,
        } => pad(&image, (top, right, bottom, left), background, limits)?,
        Operation::Border { width, color } => {
            if width == 0 {
                return Err(invalid("width", "a border is at least 1 pixel"));
            }
            pad(&image, (width, width, width, width), color, limits)?
        }
        Operation::RoundCorners { radius } => {
            let (width, height) = image.dimensions();
            let radius = radius.min(width / 2).min(height / 2) as f32;
            let mut rgba = image.to_rgba8();
            for (x, y, pixel) in rgba.enumerate_pixels_mut() {
                let alpha = corner_alpha(x, y, width, height, radius);
                if alpha < 1.0 {
                    pixel[3] = (f32::from(pixel[3]) * alpha).round() as u8;
                }
            }
            DynamicImage::ImageRgba8(rgba)
        }
        Operation::Trim { threshold } => match content_box(&image, threshold) {
            Some((x, y, w, h)) => image.crop_imm(x, y, w, h),
            // A uniform image has nothing to trim to; it stays as it is.
            None => image,
        },
        Operation::Gamma { gamma } => {
            if !(0.1..=10.0).contains(&gamma) {
                return Err(invalid("gamma", "must be 0.1 to 10"));
            }
            let table: Vec<u8> = (0..=255u16)
                .map(|v| (255.0 * (f32::from(v) / 255.0).powf(1.0 / gamma)).round() as u8)
                .collect();
            map_channels(image, |v| table[usize::from(v)])
        }
        Operation::Saturation { amount } => {
            if !(-100.0..=100.0).contains(&amount) {
                return Err(invalid("saturation", "must be -100 to 100"));
            }
            let factor = 1.0 + amount / 100.0;
            let mut rgba = image.to_rgba8();
            for pixel in rgba.pixels_mut() {
                let [r, g, b, _] = pixel.0.map(f32::from);
                let luma = 0.299 * r + 0.587 * g + 0.114 * b;
                for c in 0..3 {
                    let v = luma + (f32::from(pixel[c]) - luma) * factor;
                    pixel[c] = v.round().clamp(0.0, 255.0) as u8;
                }
            }
            keep_alpha_layout(&image, rgba)
        }
        Operation::Pixelate { size } => {
            if !(2..=1000).contains(&size) {
                return Err(invalid("pixelate", "blocks are 2 to 1000 pixels"));
            }
            let (w, h) = image.dimensions();
            let mut rgba = image.to_rgba8();
            for by in (0..h).step_by(size as usize) {
                for bx in (0..w).step_by(size as usize) {
                    let (bw, bh) = (size.min(w - bx), size.min(h - by));
                    let mut sum = [0u64; 4];
                    for y in by..by + bh {
                        for x in bx..bx + bw {
                            for (s, v) in sum.iter_mut().zip(rgba.get_pixel(x, y).0) {
                                *s += u64::from(v);
                            }
                        }
                    }
                    let n = u64::from(bw * bh);
                    let mean = Rgba(sum.map(|s| (s / n) as u8));
                    for y in by..by + bh {
                        for x in bx..bx + bw {
                            rgba.put_pixel(x, y, mean);
                        }
                    }
                }
            }
            keep_alpha_layout(&image, rgba)
        }
        Operation::Threshold { level } => {
            let mut luma = image.to_luma8();
            for pixel in luma.pixels_mut() {
                pixel[0] = if pixel[0] >= level { 255 } else { 0 };
            }
            DynamicImage::ImageLuma8(luma)
        }
        Operation::Text {
            ref text,
            style,
            rotation,
            placement,
        } => {
            let layer = text_layer(text, &style, limits)?;
            let layer = if rotation.rem_euclid(360.0) == 0.0 {
                layer
            } else {
                rotate_any(
                    &DynamicImage::ImageRgba8(layer),
                    rotation,
                    Rgba([0, 0, 0, 0]),
                    limits,
                )?
                .to_rgba8()
            };
            watermark(image, &layer, &placement)?
        }
        Operation::Overlay {
            ref layer,
            scale,
            placement,
        } => match scale {
            None => watermark(image, layer, &placement)?,
            Some(scale) => {
                if !(0.01..=1.0).contains(&scale) {
                    return Err(invalid("scale", "must be 0.01 to 1 (of the image's width)"));
                }
                let width = ((image.width() as f32 * scale).round() as u32).max(1);
                let height = ((layer.height() as f32 * width as f32 / layer.width() as f32).round()
                    as u32)
                    .max(1);
                let resized = resample(DynamicImage::ImageRgba8((**layer).clone()), width, height)?
                    .to_rgba8();
                watermark(image, &resized, &placement)?
            }
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(width: u32, height: u32) -> DynamicImage {
        DynamicImage::ImageRgb8(image::RgbImage::from_fn(width, height, |x, y| {
            image::Rgb([
                (x * 255 / width.max(1)) as u8,
                (y * 255 / height.max(1)) as u8,
                90,
            ])
        }))
    }

    fn resize(width: Option<u32>, height: Option<u32>, fit: Fit, enlarge: bool) -> Operation {
        Operation::Resize {
            width,
            height,
            fit,
            enlarge,
            gravity: Gravity::Center,
            background: Rgba([255, 255, 255, 0]),
        }
    }

    fn size_after(source: (u32, u32), op: &Operation) -> (u32, u32) {
        apply(image(source.0, source.1), op, &ImageLimits::default())
            .unwrap()
            .dimensions()
    }

    #[test]
    fn fit_modes_give_sharps_sizes() {
        let source = (400, 200);
        assert_eq!(
            size_after(source, &resize(Some(100), None, Fit::Cover, false)),
            (100, 50)
        );
        assert_eq!(
            size_after(source, &resize(None, Some(50), Fit::Cover, false)),
            (100, 50)
        );
        assert_eq!(
            size_after(source, &resize(Some(100), Some(100), Fit::Cover, false)),
            (100, 100)
        );
        assert_eq!(
            size_after(source, &resize(Some(100), Some(100), Fit::Contain, false)),
            (100, 100)
        );
        assert_eq!(
            size_after(source, &resize(Some(100), Some(100), Fit::Inside, false)),
            (100, 50)
        );
        assert_eq!(
            size_after(source, &resize(Some(100), Some(100), Fit::Outside, false)),
            (200, 100)
        );
        assert_eq!(
            size_after(source, &resize(Some(100), Some(100), Fit::Fill, false)),
            (100, 100)
        );
        // No enlarging unless asked.
        assert_eq!(
            size_after(source, &resize(Some(800), None, Fit::Cover, false)),
            (400, 200)
        );
        assert_eq!(
            size_after(source, &resize(Some(800), None, Fit::Cover, true)),
            (800, 400)
        );
        assert!(matches!(
            apply(
                image(10, 10),
                &resize(Some(100_000), None, Fit::Cover, true),
                &ImageLimits::default()
            ),
            Err(ImageError::TooLarge(_))
        ));
    }

    #[test]
    fn large_reductions_match_a_single_lanczos_pass() {
        let source = image(2400, 1200);
        let two_stage = resample(source.clone(), 200, 100).unwrap().to_rgb8();
        let one_pass = convolve(&source, 200, 100, FilterType::Lanczos3)
            .unwrap()
            .to_rgb8();
        let total: u64 = two_stage
            .as_raw()
            .iter()
            .zip(one_pass.as_raw())
            .map(|(a, b)| u64::from(a.abs_diff(*b)))
            .sum();
        let mean = total as f64 / two_stage.as_raw().len() as f64;
        assert!(mean < 1.5, "mean difference {mean} levels");
    }

    #[test]
    fn contain_pads_with_the_background() {
        let op = Operation::Resize {
            width: Some(100),
            height: Some(100),
            fit: Fit::Contain,
            enlarge: false,
            gravity: Gravity::Center,
            background: Rgba([255, 0, 0, 255]),
        };
        let out = apply(image(400, 200), &op, &ImageLimits::default())
            .unwrap()
            .to_rgba8();
        assert_eq!(
            out.get_pixel(50, 0),
            &Rgba([255, 0, 0, 255]),
            "padding on top"
        );
        assert_ne!(
            out.get_pixel(50, 50),
            &Rgba([255, 0, 0, 255]),
            "the image in the middle"
        );
    }

    #[test]
    fn crops_rotations_and_flips() {
        let source = image(40, 20);
        let crop = |left, top, width, height, gravity| Operation::Crop {
            left,
            top,
            width,
            height,
            gravity,
        };
        let limits = ImageLimits::default();
        let area = apply(
            source.clone(),
            &crop(Some(10), Some(5), 10, 10, Gravity::Center),
            &limits,
        )
        .unwrap();
        assert_eq!(area.dimensions(), (10, 10));
        assert_eq!(
            area.to_rgb8().get_pixel(0, 0),
            source.to_rgb8().get_pixel(10, 5)
        );
        let east = apply(
            source.clone(),
            &crop(None, None, 10, 20, Gravity::East),
            &limits,
        )
        .unwrap();
        assert_eq!(
            east.to_rgb8().get_pixel(0, 0),
            source.to_rgb8().get_pixel(30, 0)
        );
        assert!(
            apply(
                source.clone(),
                &crop(Some(50), Some(0), 5, 5, Gravity::Center),
                &limits
            )
            .is_err()
        );
        let rotate = |degrees| Operation::Rotate {
            degrees,
            background: Rgba([0, 0, 0, 255]),
        };
        let turned = apply(source.clone(), &rotate(90.0), &limits).unwrap();
        assert_eq!(turned.dimensions(), (20, 40));
        assert_eq!(
            turned.to_rgb8().get_pixel(19, 0),
            source.to_rgb8().get_pixel(0, 0)
        );
        // 40 × 20 at 30°: 40·cos + 20·sin ≈ 44.6, 40·sin + 20·cos ≈ 37.3.
        let tilted = apply(source.clone(), &rotate(30.0), &limits).unwrap();
        assert_eq!(tilted.dimensions(), (45, 37));
        assert_eq!(
            apply(source.clone(), &rotate(-90.0), &limits)
                .unwrap()
                .dimensions(),
            (20, 40)
        );
        let flopped = apply(source.clone(), &Operation::Flop, &limits).unwrap();
        assert_eq!(
            flopped.to_rgb8().get_pixel(0, 0),
            source.to_rgb8().get_pixel(39, 0)
        );
        let flipped = apply(source.clone(), &Operation::Flip, &limits).unwrap();
        assert_eq!(
            flipped.to_rgb8().get_pixel(0, 0),
            source.to_rgb8().get_pixel(0, 19)
        );
    }

    #[test]
    fn adjustments() {
        let limits = ImageLimits::default();
        let source = image(8, 8);
        let gray = apply(source.clone(), &Operation::Grayscale, &limits)
            .unwrap()
            .to_rgb8();
        assert!(gray.pixels().all(|p| p[0] == p[1] && p[1] == p[2]));
        let inverted = apply(source.clone(), &Operation::Invert, &limits)
            .unwrap()
            .to_rgb8();
        assert_eq!(inverted.get_pixel(0, 0)[2], 255 - 90);
        let brighter = apply(
            source.clone(),
            &Operation::Brightness { amount: 20 },
            &limits,
        )
        .unwrap()
        .to_rgb8();
        assert_eq!(brighter.get_pixel(0, 0)[2], 90 + 51);
        assert!(apply(source, &Operation::Blur { sigma: 0.0 }, &limits).is_err());
    }

    #[test]
    fn extend_border_round_corners_and_trim() {
        let limits = ImageLimits::default();
        let red = Rgba([255, 0, 0, 255]);
        let source = image(10, 10);
        let extended = apply(
            source.clone(),
            &Operation::Extend {
                top: 1,
                right: 2,
                bottom: 3,
                left: 4,
                background: red,
            },
            &limits,
        )
        .unwrap();
        assert_eq!(extended.dimensions(), (16, 14));
        assert_eq!(extended.to_rgba8().get_pixel(0, 0), &red);
        assert_eq!(
            extended.to_rgba8().get_pixel(4, 1)[2],
            90,
            "the image starts at (4, 1)"
        );
        let framed = apply(
            source.clone(),
            &Operation::Border {
                width: 2,
                color: red,
            },
            &limits,
        )
        .unwrap();
        assert_eq!(framed.dimensions(), (14, 14));
        let rounded = apply(
            source.clone(),
            &Operation::RoundCorners { radius: 4 },
            &limits,
        )
        .unwrap()
        .to_rgba8();
        assert_eq!(rounded.get_pixel(0, 0)[3], 0, "a corner is transparent");
        assert_eq!(rounded.get_pixel(5, 5)[3], 255, "the middle is not");
        let trimmed = apply(extended, &Operation::Trim { threshold: 10 }, &limits).unwrap();
        assert_eq!(trimmed.dimensions(), (10, 10));
    }
}
