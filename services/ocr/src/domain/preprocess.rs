//! Cleaning a page before Tesseract reads it: grayscale, upscaling small text, denoising,
//! deskewing and binarizing (Otsu's global threshold or Sauvola's adaptive one).

use fast_image_resize::{FilterType as Filter, ResizeAlg, ResizeOptions, Resizer};
use image::{DynamicImage, GrayImage, imageops::FilterType};

/// How to binarize.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Binarize {
    /// Leave gray levels to Tesseract (it binarizes internally with Otsu).
    #[default]
    None,
    /// One global threshold chosen by Otsu's method: even lighting.
    Otsu,
    /// Sauvola's local threshold: shadows, gradients, uneven scans.
    Adaptive,
}

/// What to do to a page.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Preprocess {
    pub binarize: Binarize,
    /// Straighten text tilted by up to 10 degrees.
    pub deskew: bool,
    /// Remove specks (salt-and-pepper noise, scanner dust): pixels that disagree with nearly
    /// all their neighbours, so strokes of letters are left alone.
    pub denoise: bool,
    /// Enlarge pages whose text lines are too short for Tesseract (under 24 px).
    pub upscale: bool,
}

/// Lines shorter than this are enlarged, to [`GOOD_LINE`]. On bench/ocr's pages (and the same
/// rendered at 10–16 px), enlarging to 26 px read as well as to 32 px, within run-to-run noise,
/// at a fifth less Tesseract time: the cost of a page grows with its area.
const SMALL_LINE: u32 = 24;
const GOOD_LINE: f32 = 26.0;

/// Applies the steps in a fixed order and returns a grayscale page.
pub fn prepare(image: &DynamicImage, steps: &Preprocess, max_side: u32) -> GrayImage {
    let mut gray = image.to_luma8();
    // Specks go before upscaling makes them blobs.
    if steps.denoise {
        gray = despeckle(&gray);
    }
    let line = if steps.upscale {
        line_height(&gray)
    } else {
        None
    };
    if let Some(line) = line.filter(|l| *l < SMALL_LINE) {
        let factor = (GOOD_LINE / line.max(1) as f32).clamp(1.0, 4.0);
        let (w, h) = (
            ((gray.width() as f32 * factor) as u32).min(max_side),
            ((gray.height() as f32 * factor) as u32).min(max_side),
        );
        gray = resample(gray, w, h, Filter::CatmullRom);
    }
    if steps.deskew {
        let angle = skew_angle(&gray);
        if angle.abs() >= 0.2 {
            gray = rotate_gray(&gray, angle);
        }
    }
    match steps.binarize {
        Binarize::None => {}
        Binarize::Otsu => {
            let level = otsu_level(&gray);
            threshold(&mut gray, |_, _| level);
        }
        Binarize::Adaptive => gray = sauvola(&gray, 15, 0.2),
    }
    gray
}

fn threshold(gray: &mut GrayImage, level: impl Fn(u32, u32) -> f32) {
    for (x, y, pixel) in gray.enumerate_pixels_mut() {
        pixel.0[0] = if f32::from(pixel.0[0]) > level(x, y) {
            255
        } else {
            0
        };
    }
}

/// Otsu's threshold: the gray level that best separates the histogram into two classes.
pub fn otsu_level(gray: &GrayImage) -> f32 {
    let mut histogram = [0u64; 256];
    for p in gray.pixels() {
        histogram[usize::from(p.0[0])] += 1;
    }
    let total = gray.pixels().len() as f64;
    let sum: f64 = histogram
        .iter()
        .enumerate()
        .map(|(i, n)| i as f64 * *n as f64)
        .sum();
    let (mut background, mut sum_background) = (0.0f64, 0.0f64);
    let (mut best, mut level) = (0.0f64, 127usize);
    for (i, n) in histogram.iter().enumerate() {
        background += *n as f64;
        if background == 0.0 {
            continue;
        }
        let foreground = total - background;
        if foreground == 0.0 {
            break;
        }
        sum_background += i as f64 * *n as f64;
        let mean_b = sum_background / background;
        let mean_f = (sum - sum_background) / foreground;
        let between = background * foreground * (mean_b - mean_f).powi(2);
        if between > best {
            best = between;
            level = i;
        }
    }
    level as f32
}

/// Sauvola: threshold = mean · (1 + k · (σ / 128 − 1)) over a window, from integral images.
fn sauvola(gray: &GrayImage, radius: u32, k: f32) -> GrayImage {
    let (w, h) = gray.dimensions();
    let stride = (w + 1) as usize;
    let mut sum = vec![0f64; stride * (h + 1) as usize];
    let mut squares = vec![0f64; stride * (h + 1) as usize];
    for y in 0..h {
        let (mut row, mut row_sq) = (0f64, 0f64);
        for x in 0..w {
            let v = f64::from(gray.get_pixel(x, y).0[0]);
            row += v;
            row_sq += v * v;
            let i = (y as usize + 1) * stride + x as usize + 1;
            sum[i] = sum[i - stride] + row;
            squares[i] = squares[i - stride] + row_sq;
        }
    }
    let area = |table: &[f64], x0: u32, y0: u32, x1: u32, y1: u32| {
        let at = |x: u32, y: u32| table[y as usize * stride + x as usize];
        at(x1, y1) - at(x0, y1) - at(x1, y0) + at(x0, y0)
    };
    let mut out = gray.clone();
    for (x, y, pixel) in out.enumerate_pixels_mut() {
        let (x0, y0) = (x.saturating_sub(radius), y.saturating_sub(radius));
        let (x1, y1) = ((x + radius + 1).min(w), (y + radius + 1).min(h));
        let n = f64::from((x1 - x0) * (y1 - y0));
        let mean = area(&sum, x0, y0, x1, y1) / n;
        let variance = (area(&squares, x0, y0, x1, y1) / n - mean * mean).max(0.0);
        let level = mean * (1.0 + f64::from(k) * (variance.sqrt() / 128.0 - 1.0));
        pixel.0[0] = if f64::from(pixel.0[0]) > level {
            255
        } else {
            0
        };
    }
    out
}

/// `gray` resampled to `width` × `height` by fast_image_resize's SIMD convolution (over ten
/// times quicker here than the image crate's with the same filter).
fn resample(gray: GrayImage, width: u32, height: u32, filter: Filter) -> GrayImage {
    let source = DynamicImage::ImageLuma8(gray);
    let mut target = DynamicImage::new(width, height, image::ColorType::L8);
    let resized = Resizer::new().resize(
        &source,
        &mut target,
        &ResizeOptions::new().resize_alg(ResizeAlg::Convolution(filter)),
    );
    match resized {
        Ok(()) => target.into_luma8(),
        // Only a layout fast_image_resize refuses gets here; the image crate takes any.
        Err(_) => {
            let fallback = match filter {
                Filter::Bilinear => FilterType::Triangle,
                _ => FilterType::CatmullRom,
            };
            image::imageops::resize(&source.into_luma8(), width, height, fallback)
        }
    }
}

/// A pixel's 8 neighbours as (dx, dy).
const AROUND: [(isize, isize); 8] = [
    (-1, -1),
    (0, -1),
    (1, -1),
    (-1, 0),
    (1, 0),
    (-1, 1),
    (0, 1),
    (1, 1),
];

/// Flips pixels that disagree with at least 7 of their 8 neighbours (dark among light or light
/// among dark, by Otsu's level): isolated specks go, while every pixel of a stroke has darker
/// neighbours along the stroke and stays.
fn despeckle(gray: &GrayImage) -> GrayImage {
    let (w, h) = (gray.width() as usize, gray.height() as usize);
    if w == 0 || h == 0 {
        return gray.clone();
    }
    // Otsu's level is a whole gray level, so comparing bytes decides as comparing floats would.
    let level = otsu_level(gray) as u8;
    let pixels = gray.as_raw();
    // 1 where dark, with a one-pixel border that counts as not dark.
    let stride = w + 2;
    let mut dark = vec![0u8; stride * (h + 2)];
    for (row, padded) in pixels
        .chunks_exact(w)
        .zip(dark.chunks_exact_mut(stride).skip(1))
    {
        for (slot, &p) in padded[1..=w].iter_mut().zip(row) {
            *slot = u8::from(p <= level);
        }
    }
    let (light_sum, light_n) = pixels
        .iter()
        .filter(|&&p| p > level)
        .fold((0u64, 0u64), |(s, n), &p| (s + u64::from(p), n + 1));
    let paper = (light_sum / light_n.max(1)) as u8;
    let mut out = gray.clone();
    // Per padded column, the dark pixels among the rows above, at and below the current one;
    // three neighbouring columns then give a pixel's dark neighbours. Plain byte loops, which
    // the compiler vectorizes: most pages have few specks, and this pass is most of the work.
    let mut columns = vec![0u8; stride];
    let mut lonely = vec![false; w];
    for y in 0..h {
        let rows = &dark[y * stride..(y + 3) * stride];
        let (above, rest) = rows.split_at(stride);
        let (here, below) = rest.split_at(stride);
        for (((sum, a), b), c) in columns.iter_mut().zip(above).zip(here).zip(below) {
            *sum = a + b + c;
        }
        for (x, flag) in lonely.iter_mut().enumerate() {
            let centre = here[x + 1];
            let around = columns[x] + columns[x + 1] + columns[x + 2] - centre;
            // Neighbours agreeing with the centre: the dark ones if it is dark, else the rest.
            let agree = if centre == 1 { around } else { 8 - around };
            *flag = agree <= 1;
        }
        for x in (0..w).filter(|&x| lonely[x]) {
            // A dark speck takes the paper's tone; a light hole in ink its neighbours' (the
            // edge pixels repeated past the border).
            out.as_mut()[y * w + x] = if here[x + 1] == 1 {
                paper
            } else {
                let sum: u32 = AROUND
                    .iter()
                    .map(|&(dx, dy)| {
                        let sx = x.saturating_add_signed(dx).min(w - 1);
                        let sy = y.saturating_add_signed(dy).min(h - 1);
                        u32::from(pixels[sy * w + sx])
                    })
                    .sum();
                (sum / 8) as u8
            };
        }
    }
    out
}

/// The typical height of a text line in pixels: bands of rows holding ink, by their median;
/// `None` for a page without text-like bands.
pub fn line_height(gray: &GrayImage) -> Option<u32> {
    let level = otsu_level(gray);
    let min_ink = (gray.width() / 200).max(1);
    let mut bands = Vec::new();
    let mut run = 0u32;
    for row in gray.rows() {
        let ink = row.filter(|p| f32::from(p.0[0]) <= level).count() as u32;
        if ink >= min_ink {
            run += 1;
        } else if run > 0 {
            bands.push(run);
            run = 0;
        }
    }
    if run > 0 {
        bands.push(run);
    }
    // Bands of one or two rows are rules or noise, not text.
    bands.retain(|b| *b >= 3);
    if bands.is_empty() {
        return None;
    }
    bands.sort_unstable();
    Some(bands[bands.len() / 2])
}

/// The turn (degrees, as [`rotate_gray`] takes it) that makes the text lines level, by the
/// projection profile: the angle at which rows of dark pixels are most sharply separated.
pub fn skew_angle(gray: &GrayImage) -> f32 {
    // On a copy about 800 px wide: enough for 0.1° precision on text lines.
    let scale = (800.0 / gray.width().max(1) as f32).min(1.0);
    let small = if scale < 1.0 {
        resample(
            gray.clone(),
            ((gray.width() as f32 * scale) as u32).max(1),
            ((gray.height() as f32 * scale) as u32).max(1),
            Filter::Bilinear,
        )
    } else {
        gray.clone()
    };
    let level = otsu_level(&small);
    let dark: Vec<(f32, f32)> = small
        .enumerate_pixels()
        .filter(|(_, _, p)| f32::from(p.0[0]) < level)
        .map(|(x, y, _)| (x as f32, y as f32))
        .collect();
    if dark.len() < 50 {
        return 0.0;
    }
    let height = small.height() as f32;
    let width = small.width() as f32;
    let score = |points: &[(f32, f32)], degrees: f32| {
        let (sin, cos) = degrees.to_radians().sin_cos();
        let rows = (height + width).ceil() as usize * 2;
        let mut profile = vec![0u32; rows];
        for (x, y) in points {
            // The row this pixel falls on once the page is turned back by `degrees`.
            let r = (y * cos - x * sin + width) as usize;
            if let Some(slot) = profile.get_mut(r) {
                *slot += 1;
            }
        }
        profile
            .windows(2)
            .map(|w| (f64::from(w[1]) - f64::from(w[0])).powi(2))
            .sum::<f64>()
    };
    let search = |points: &[(f32, f32)], from: f32, to: f32, step: f32| {
        let mut best = (f64::MIN, 0.0f32);
        let mut angle = from;
        while angle <= to + 1e-3 {
            let s = score(points, angle);
            if s > best.0 {
                best = (s, angle);
            }
            angle += step;
        }
        best.1
    };
    // The coarse pass only has to land near the peak: every fourth ink pixel is plenty for
    // that, and makes it four times cheaper. The fine pass uses them all.
    let sample: Vec<(f32, f32)> = dark.iter().step_by(4).copied().collect();
    let coarse = search(&sample, -10.0, 10.0, 0.5);
    search(&dark, coarse - 0.5, coarse + 0.5, 0.1)
}

/// Turns a grayscale page by `degrees` (counter-clockwise positive), filling with white, same size.
fn rotate_gray(gray: &GrayImage, degrees: f32) -> GrayImage {
    let (w, h) = gray.dimensions();
    let pixels = gray.as_raw();
    let (sin, cos) = degrees.to_radians().sin_cos();
    let (cx, cy) = (w as f32 / 2.0, h as f32 / 2.0);
    let sample = |x: i64, y: i64| -> f32 {
        if x < 0 || y < 0 || x >= i64::from(w) || y >= i64::from(h) {
            255.0
        } else {
            f32::from(pixels[y as usize * w as usize + x as usize])
        }
    };
    let mut out = GrayImage::new(w, h);
    for (i, slot) in out.as_mut().iter_mut().enumerate() {
        let (x, y) = ((i % w as usize) as f32, (i / w as usize) as f32);
        let (dx, dy) = (x + 0.5 - cx, y + 0.5 - cy);
        let sx = cos * dx - sin * dy + cx - 0.5;
        let sy = sin * dx + cos * dy + cy - 0.5;
        let (x0, y0) = (sx.floor(), sy.floor());
        let (fx, fy) = (sx - x0, sy - y0);
        let (x0, y0) = (x0 as i64, y0 as i64);
        let v = sample(x0, y0) * (1.0 - fx) * (1.0 - fy)
            + sample(x0 + 1, y0) * fx * (1.0 - fy)
            + sample(x0, y0 + 1) * (1.0 - fx) * fy
            + sample(x0 + 1, y0 + 1) * fx * fy;
        // Non-negative, so adding a half and truncating rounds as `round` would.
        *slot = (v + 0.5).clamp(0.0, 255.0) as u8;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::Luma;

    /// Dark horizontal bars (text lines) on white, turned by `degrees`.
    fn lines(degrees: f32) -> GrayImage {
        let page = GrayImage::from_fn(600, 400, |x, y| {
            if (60..540).contains(&x) && y % 40 < 12 && (40..360).contains(&y) {
                Luma([20])
            } else {
                Luma([245])
            }
        });
        rotate_gray(&page, degrees)
    }

    #[test]
    fn skew_is_measured_and_undone() {
        for degrees in [-4.0f32, 2.5, 0.0, 7.0] {
            let measured = skew_angle(&lines(degrees));
            assert!(
                (measured + degrees).abs() <= 0.3,
                "turned {degrees}, measured {measured}"
            );
        }
        let fixed = prepare(
            &DynamicImage::ImageLuma8(lines(3.0)),
            &Preprocess {
                deskew: true,
                ..Preprocess::default()
            },
            10_000,
        );
        assert!(skew_angle(&fixed).abs() <= 0.3);
    }

    #[test]
    fn otsu_splits_two_levels_and_sauvola_survives_a_shadow() {
        let page = GrayImage::from_fn(
            100,
            100,
            |x, _| if x < 50 { Luma([40]) } else { Luma([200]) },
        );
        let level = otsu_level(&page);
        assert!((40.0..200.0).contains(&level), "{level}");
        // Text-like strokes under a gradient shadow: a global threshold loses one side.
        let shadowed = GrayImage::from_fn(200, 60, |x, y| {
            let paper = 230.0 - x as f32 * 0.8;
            let ink = (x % 20 < 3) && (10..50).contains(&y);
            Luma([if ink { (paper - 90.0).max(0.0) } else { paper } as u8])
        });
        let binary = sauvola(&shadowed, 15, 0.2);
        let ink_found = |x0: u32| {
            (x0..x0 + 20)
                .filter(|x| binary.get_pixel(*x, 30).0[0] == 0)
                .count()
        };
        assert!(
            ink_found(0) >= 2 && ink_found(160) >= 2,
            "strokes on both sides"
        );
        assert_eq!(binary.get_pixel(10, 5).0[0], 255, "paper stays white");
    }

    /// Despeckling as its doc states it, pixel by pixel.
    fn despeckle_by_definition(gray: &GrayImage) -> GrayImage {
        let level = otsu_level(gray);
        let (w, h) = (gray.width() as i64, gray.height() as i64);
        let dark = |x: i64, y: i64| {
            (0..w).contains(&x)
                && (0..h).contains(&y)
                && f32::from(gray.get_pixel(x as u32, y as u32).0[0]) <= level
        };
        let light: Vec<u64> = gray
            .pixels()
            .filter(|p| f32::from(p.0[0]) > level)
            .map(|p| u64::from(p.0[0]))
            .collect();
        let paper = (light.iter().sum::<u64>() / light.len().max(1) as u64) as u8;
        let around = AROUND.map(|(dx, dy)| (dx as i64, dy as i64));
        GrayImage::from_fn(gray.width(), gray.height(), |x, y| {
            let (x, y) = (i64::from(x), i64::from(y));
            let here = dark(x, y);
            let agree = around
                .iter()
                .filter(|(dx, dy)| dark(x + dx, y + dy) == here)
                .count();
            let value = gray.get_pixel(x as u32, y as u32).0[0];
            Luma([match (agree > 1, here) {
                (true, _) => value,
                (false, true) => paper,
                (false, false) => {
                    let sum: u32 = around
                        .iter()
                        .map(|(dx, dy)| {
                            let sx = (x + dx).clamp(0, w - 1) as u32;
                            let sy = (y + dy).clamp(0, h - 1) as u32;
                            u32::from(gray.get_pixel(sx, sy).0[0])
                        })
                        .sum();
                    (sum / 8) as u8
                }
            }])
        })
    }

    #[test]
    fn despeckling_decides_every_pixel_as_its_definition_does() {
        // Strokes, dark specks, light holes, and specks on the page's edges and corners.
        let mut seed = 7u32;
        let mut next = move || {
            seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            seed >> 8
        };
        let page = GrayImage::from_fn(97, 41, |x, y| {
            let ink = (8..90).contains(&x) && (y % 14) < 6 && x % 5 < 3;
            let flip = next() % 23 == 0;
            Luma([if ink != flip {
                15 + (next() % 40) as u8
            } else {
                200 + (next() % 50) as u8
            }])
        });
        assert_eq!(despeckle(&page), despeckle_by_definition(&page));
        assert_ne!(despeckle(&page), page, "the page has specks to remove");
    }

    #[test]
    fn small_text_is_upscaled_and_specks_removed_but_not_strokes() {
        // Lines 12 px tall (small text), a stroke, and specks.
        let mut page = GrayImage::from_fn(300, 100, |x, y| {
            if (20..280).contains(&x) && (y % 30) < 12 && x % 7 < 3 {
                Luma([10])
            } else {
                Luma([250])
            }
        });
        page.put_pixel(5, 95, Luma([0]));
        page.put_pixel(290, 3, Luma([0]));
        assert_eq!(line_height(&page), Some(12));
        let out = prepare(
            &DynamicImage::ImageLuma8(page.clone()),
            &Preprocess {
                denoise: true,
                upscale: true,
                ..Preprocess::default()
            },
            10_000,
        );
        // 12 px lines grow to about 26 px.
        assert_eq!(out.width(), 650);
        let clean = despeckle(&page);
        assert!(
            clean.get_pixel(5, 95).0[0] > 200 && clean.get_pixel(290, 3).0[0] > 200,
            "specks are gone"
        );
        assert_eq!(clean.get_pixel(21, 5).0[0], 10, "strokes stay");
        // Text that is large enough is left at its size.
        let big = GrayImage::from_fn(300, 200, |x, y| {
            if (y % 60) < 40 && x % 9 < 4 {
                Luma([0])
            } else {
                Luma([255])
            }
        });
        let out = prepare(
            &DynamicImage::ImageLuma8(big),
            &Preprocess {
                upscale: true,
                ..Preprocess::default()
            },
            10_000,
        );
        assert_eq!(out.width(), 300);
    }
}
