//! Drawing on images: text set in the shipped fonts, layers composited with opacity (watermarks,
//! tiled or placed by gravity), rotation by any angle, and content-aware crop windows.

use ab_glyph::{Font, FontRef, PxScale, ScaleFont, point};
use image::{DynamicImage, GenericImageView, Rgba, RgbaImage, imageops::FilterType};

use super::ops::Gravity;
use super::{ImageError, ImageLimits, Result, invalid};

/// How text looks.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TextStyle {
    /// Pixels from ascender to descender.
    pub size: f32,
    pub color: Rgba<u8>,
    pub bold: bool,
}

/// `text` (one or more lines) on a transparent layer just large enough for it.
pub fn text_layer(text: &str, style: &TextStyle, limits: &ImageLimits) -> Result<RgbaImage> {
    if text.trim().is_empty() {
        return Err(invalid("text", "must not be empty"));
    }
    if !(4.0..=2000.0).contains(&style.size) {
        return Err(invalid("size", "must be 4 to 2000 pixels"));
    }
    let data = if style.bold {
        flowforge_fonts::SANS_BOLD
    } else {
        flowforge_fonts::SANS
    };
    let font = FontRef::try_from_slice(data).map_err(|e| ImageError::Internal(e.to_string()))?;
    let scale = PxScale::from(style.size);
    let scaled = font.as_scaled(scale);
    let line_height = scaled.height() + scaled.line_gap();
    let mut glyphs = Vec::new();
    let mut width = 0.0f32;
    let lines: Vec<&str> = text.lines().collect();
    for (i, line) in lines.iter().enumerate() {
        let baseline = scaled.ascent() + i as f32 * line_height;
        let mut x = 0.0;
        let mut previous = None;
        for ch in line.chars().filter(|c| !c.is_control()) {
            let id = scaled.glyph_id(ch);
            if let Some(previous) = previous {
                x += scaled.kern(previous, id);
            }
            glyphs.push(id.with_scale_and_position(scale, point(x, baseline)));
            x += scaled.h_advance(id);
            previous = Some(id);
        }
        width = width.max(x);
    }
    let (w, h) = (
        width.ceil() as u32 + 2,
        (line_height * lines.len() as f32).ceil() as u32 + 2,
    );
    if w > limits.max_dimension || h > limits.max_dimension {
        return Err(ImageError::TooLarge(format!(
            "the text would be {w} × {h} pixels; at most {} on a side",
            limits.max_dimension
        )));
    }
    let mut layer = RgbaImage::new(w, h);
    let [r, g, b, a] = style.color.0;
    for glyph in glyphs {
        let Some(outline) = font.outline_glyph(glyph) else {
            continue;
        };
        let bounds = outline.px_bounds();
        outline.draw(|x, y, coverage| {
            let px = bounds.min.x as i64 + i64::from(x);
            let py = bounds.min.y as i64 + i64::from(y);
            if px < 0 || py < 0 || px >= i64::from(w) || py >= i64::from(h) {
                return;
            }
            let pixel = layer.get_pixel_mut(px as u32, py as u32);
            let alpha = (coverage.clamp(0.0, 1.0) * f32::from(a)).round() as u8;
            if alpha > pixel[3] {
                *pixel = Rgba([r, g, b, alpha]);
            }
        });
    }
    Ok(layer)
}

/// Draws `layer` over `base` at (`x`, `y`) with `opacity` (0–1), blending in straight alpha.
pub fn composite(base: &mut RgbaImage, layer: &RgbaImage, x: i64, y: i64, opacity: f32) {
    let (bw, bh) = (i64::from(base.width()), i64::from(base.height()));
    for (lx, ly, source) in layer.enumerate_pixels() {
        let (px, py) = (x + i64::from(lx), y + i64::from(ly));
        if px < 0 || py < 0 || px >= bw || py >= bh {
            continue;
        }
        let sa = f32::from(source[3]) / 255.0 * opacity;
        if sa <= 0.0 {
            continue;
        }
        let target = base.get_pixel_mut(px as u32, py as u32);
        let da = f32::from(target[3]) / 255.0;
        let out_a = sa + da * (1.0 - sa);
        for c in 0..3 {
            let blended =
                (f32::from(source[c]) * sa + f32::from(target[c]) * da * (1.0 - sa)) / out_a;
            target[c] = blended.round().clamp(0.0, 255.0) as u8;
        }
        target[3] = (out_a * 255.0).round() as u8;
    }
}

/// Where and how often a watermark layer goes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Placement {
    pub gravity: Gravity,
    /// Pixels from the edges (and between tiles).
    pub margin: u32,
    /// Repeat over the whole image, every other row shifted by half a tile.
    pub tile: bool,
    pub opacity: f32,
}

/// Draws `layer` onto `image` as `placement` says.
pub fn watermark(
    image: DynamicImage,
    layer: &RgbaImage,
    placement: &Placement,
) -> Result<DynamicImage> {
    if !(0.0..=1.0).contains(&placement.opacity) {
        return Err(invalid("opacity", "must be between 0 and 1"));
    }
    let mut base = image.to_rgba8();
    let (bw, bh) = base.dimensions();
    let (lw, lh) = layer.dimensions();
    if placement.tile {
        let gap = placement.margin.max(lw.min(lh) / 2).max(1);
        let (step_x, step_y) = (i64::from(lw + gap), i64::from(lh + gap));
        let mut row = 0i64;
        let mut y = 0i64;
        while y < i64::from(bh) {
            let mut x = if row % 2 == 1 { -step_x / 2 } else { 0 };
            while x < i64::from(bw) {
                composite(&mut base, layer, x, y, placement.opacity);
                x += step_x;
            }
            y += step_y;
            row += 1;
        }
    } else {
        let margin = placement.margin;
        let inner_w = bw.saturating_sub(2 * margin);
        let inner_h = bh.saturating_sub(2 * margin);
        let x = i64::from(placement.gravity.offset(inner_w, lw, true)) + i64::from(margin);
        let y = i64::from(placement.gravity.offset(inner_h, lh, false)) + i64::from(margin);
        composite(&mut base, layer, x, y, placement.opacity);
    }
    Ok(DynamicImage::ImageRgba8(base))
}

/// Rotates clockwise by any angle onto a canvas that holds the whole result, filling the
/// corners with `background`; edges are anti-aliased (bilinear, premultiplied).
pub fn rotate_any(
    image: &DynamicImage,
    degrees: f32,
    background: Rgba<u8>,
    limits: &ImageLimits,
) -> Result<DynamicImage> {
    if !degrees.is_finite() {
        return Err(invalid("degrees", "must be a number"));
    }
    let (sin, cos) = degrees.to_radians().sin_cos();
    let (w, h) = (image.width() as f32, image.height() as f32);
    let out_w = (w * cos.abs() + h * sin.abs()).round().max(1.0) as u32;
    let out_h = (w * sin.abs() + h * cos.abs()).round().max(1.0) as u32;
    if out_w > limits.max_dimension || out_h > limits.max_dimension {
        return Err(ImageError::TooLarge(format!(
            "the result would be {out_w} × {out_h}; outputs are at most {} on a side",
            limits.max_dimension
        )));
    }
    let source = image.to_rgba8();
    let premultiplied = |p: Rgba<u8>| {
        let a = f32::from(p[3]) / 255.0;
        [
            f32::from(p[0]) * a,
            f32::from(p[1]) * a,
            f32::from(p[2]) * a,
            a,
        ]
    };
    let back = premultiplied(background);
    let sample = |x: i64, y: i64| {
        if x < 0 || y < 0 || x >= i64::from(source.width()) || y >= i64::from(source.height()) {
            back
        } else {
            premultiplied(*source.get_pixel(x as u32, y as u32))
        }
    };
    let (cx, cy) = (w / 2.0, h / 2.0);
    let (ox, oy) = (out_w as f32 / 2.0, out_h as f32 / 2.0);
    let mut out = RgbaImage::new(out_w, out_h);
    for (x, y, pixel) in out.enumerate_pixels_mut() {
        let (dx, dy) = (x as f32 + 0.5 - ox, y as f32 + 0.5 - oy);
        // The source point that lands here: the inverse rotation.
        let sx = cos * dx + sin * dy + cx - 0.5;
        let sy = -sin * dx + cos * dy + cy - 0.5;
        let (x0, y0) = (sx.floor(), sy.floor());
        let (fx, fy) = (sx - x0, sy - y0);
        let (x0, y0) = (x0 as i64, y0 as i64);
        let corners = [
            (sample(x0, y0), (1.0 - fx) * (1.0 - fy)),
            (sample(x0 + 1, y0), fx * (1.0 - fy)),
            (sample(x0, y0 + 1), (1.0 - fx) * fy),
            (sample(x0 + 1, y0 + 1), fx * fy),
        ];
        let mut acc = [0.0f32; 4];
        for (value, weight) in corners {
            for (a, v) in acc.iter_mut().zip(value) {
                *a += v * weight;
            }
        }
        let alpha = acc[3];
        let channel = |v: f32| {
            if alpha > 0.0 {
                (v / alpha).round().clamp(0.0, 255.0) as u8
            } else {
                0
            }
        };
        *pixel = Rgba([
            channel(acc[0]),
            channel(acc[1]),
            channel(acc[2]),
            (alpha * 255.0).round().clamp(0.0, 255.0) as u8,
        ]);
    }
    Ok(DynamicImage::ImageRgba8(out))
}

/// What a content-aware crop looks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interest {
    /// The busiest region: the most edge energy (detail, texture, text).
    Entropy,
    /// Where people look: edge energy plus saturated colors and skin tones.
    Attention,
}

/// The top-left corner of the `width` × `height` window of `image` with the most interest.
pub fn smart_window(
    image: &DynamicImage,
    width: u32,
    height: u32,
    interest: Interest,
) -> (u32, u32) {
    let (iw, ih) = image.dimensions();
    if width >= iw && height >= ih {
        return (0, 0);
    }
    // Scored on a small copy: the window that wins there wins at full size.
    let scale = (128.0 / iw.max(ih) as f32).min(1.0);
    let (sw, sh) = (
        ((iw as f32 * scale).round() as u32).max(1),
        ((ih as f32 * scale).round() as u32).max(1),
    );
    let small = image.resize_exact(sw, sh, FilterType::Triangle).to_rgb8();
    let luma = |x: u32, y: u32| {
        let p = small.get_pixel(x.min(sw - 1), y.min(sh - 1));
        0.299 * f32::from(p[0]) + 0.587 * f32::from(p[1]) + 0.114 * f32::from(p[2])
    };
    // Summed-area table of the score, one row and column of zeros in front.
    let stride = (sw + 1) as usize;
    let mut table = vec![0.0f64; stride * (sh + 1) as usize];
    for y in 0..sh {
        let mut row = 0.0f64;
        for x in 0..sw {
            let gx = (luma(x + 1, y) - luma(x.saturating_sub(1), y)).abs();
            let gy = (luma(x, y + 1) - luma(x, y.saturating_sub(1))).abs();
            let mut score = gx + gy;
            if interest == Interest::Attention {
                let p = small.get_pixel(x, y);
                let (r, g, b) = (f32::from(p[0]), f32::from(p[1]), f32::from(p[2]));
                let (max, min) = (r.max(g).max(b), r.min(g).min(b));
                let saturation = if max > 0.0 { (max - min) / max } else { 0.0 };
                // A common RGB skin-tone rule (Kovac et al.).
                let skin = r > 95.0
                    && g > 40.0
                    && b > 20.0
                    && max - min > 15.0
                    && (r - g).abs() > 15.0
                    && r > g
                    && r > b;
                score += saturation * 40.0 + if skin { 60.0 } else { 0.0 };
            }
            row += f64::from(score);
            let i = (y as usize + 1) * stride + x as usize + 1;
            table[i] = table[i - stride] + row;
        }
    }
    let ww = ((width as f32 * scale).round() as u32).clamp(1, sw);
    let wh = ((height as f32 * scale).round() as u32).clamp(1, sh);
    let sum = |x: u32, y: u32| {
        let at = |x: u32, y: u32| table[y as usize * stride + x as usize];
        at(x + ww, y + wh) - at(x, y + wh) - at(x + ww, y) + at(x, y)
    };
    let mut best = (f64::MIN, 0, 0);
    for y in 0..=(sh - wh) {
        for x in 0..=(sw - ww) {
            let s = sum(x, y);
            if s > best.0 {
                best = (s, x, y);
            }
        }
    }
    let x = ((best.1 as f32 / scale).round() as u32).min(iw.saturating_sub(width));
    let y = ((best.2 as f32 / scale).round() as u32).min(ih.saturating_sub(height));
    (x, y)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_drawn_in_its_color_and_size() {
        let style = TextStyle {
            size: 40.0,
            color: Rgba([255, 0, 0, 255]),
            bold: true,
        };
        let layer = text_layer("Hi", &style, &ImageLimits::default()).unwrap();
        // Two bold glyphs at 40 px: about 50–70 px wide, one line (ascent + descent) tall.
        assert!((40..90).contains(&layer.width()), "{}", layer.width());
        assert!((40..60).contains(&layer.height()), "{}", layer.height());
        let solid = layer.pixels().filter(|p| p[3] == 255).count();
        assert!(solid > 200, "{solid} opaque pixels");
        assert!(
            layer
                .pixels()
                .filter(|p| p[3] > 0)
                .all(|p| p[0] == 255 && p[1] == 0)
        );
        let two_lines = text_layer("Hi\nthere", &style, &ImageLimits::default()).unwrap();
        assert!(two_lines.height() > layer.height() * 2 - 10);
        assert!(text_layer("  ", &style, &ImageLimits::default()).is_err());
    }

    #[test]
    fn compositing_respects_opacity() {
        let mut base = RgbaImage::from_pixel(4, 4, Rgba([0, 0, 255, 255]));
        let layer = RgbaImage::from_pixel(2, 2, Rgba([255, 0, 0, 255]));
        composite(&mut base, &layer, 1, 1, 0.5);
        assert_eq!(base.get_pixel(1, 1).0, [128, 0, 128, 255]);
        assert_eq!(base.get_pixel(0, 0).0, [0, 0, 255, 255]);
        // Off the edge is clipped, not a panic.
        composite(&mut base, &layer, 3, -1, 1.0);
        assert_eq!(base.get_pixel(3, 0).0, [255, 0, 0, 255]);
    }

    #[test]
    fn rotation_by_any_angle_grows_the_canvas() {
        let image =
            DynamicImage::ImageRgba8(RgbaImage::from_pixel(100, 50, Rgba([0, 200, 0, 255])));
        let limits = ImageLimits::default();
        let turned = rotate_any(&image, 45.0, Rgba([255, 255, 255, 255]), &limits).unwrap();
        // 100 × 50 at 45°: (100 + 50) / √2 ≈ 106 on each side.
        assert_eq!(turned.dimensions(), (106, 106));
        let rgba = turned.to_rgba8();
        assert_eq!(
            rgba.get_pixel(53, 53).0,
            [0, 200, 0, 255],
            "the middle is the image"
        );
        assert_eq!(
            rgba.get_pixel(1, 1).0,
            [255, 255, 255, 255],
            "corners are background"
        );
        let quarter = rotate_any(&image, 90.0, Rgba([0, 0, 0, 0]), &limits).unwrap();
        assert_eq!(quarter.dimensions(), (50, 100));
    }

    #[test]
    fn smart_windows_find_the_detail() {
        // Flat gray with a checkerboard patch on the right: the crop moves onto the patch.
        let image = DynamicImage::ImageRgb8(image::RgbImage::from_fn(400, 100, |x, y| {
            if x >= 300 && (x / 4 + y / 4) % 2 == 0 {
                image::Rgb([0, 0, 0])
            } else {
                image::Rgb([128, 128, 128])
            }
        }));
        let (x, y) = smart_window(&image, 100, 100, Interest::Entropy);
        assert_eq!(y, 0);
        assert!(x >= 280, "{x}");
        // A red-orange (skin-like, saturated) patch on the left draws attention.
        let image = DynamicImage::ImageRgb8(image::RgbImage::from_fn(400, 100, |x, _| {
            if x < 80 {
                image::Rgb([220, 150, 120])
            } else {
                image::Rgb([128, 128, 128])
            }
        }));
        let (x, _) = smart_window(&image, 100, 100, Interest::Attention);
        assert!(x <= 20, "{x}");
    }
}
