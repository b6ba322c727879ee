//! Drawing onto existing pages: text watermarks and page numbers. The page's own content is
//! wrapped in `q … Q` first, so whatever state it leaves behind cannot move or hide the stamp,
//! and positions are computed in the page as displayed (its `/Rotate` taken into account).

use std::collections::HashSet;
use std::fmt::Write as _;

use lopdf::{Dictionary, Document, Object, ObjectId, Stream, dictionary};

use super::fonts::{FontSet, Style, face};
use super::generate::layout::parse_color;
use super::{Deadline, Result, internal, invalid, number, page_ids};

/// Where a stamp goes on the displayed page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Position {
    TopLeft,
    TopCenter,
    TopRight,
    Center,
    BottomLeft,
    BottomCenter,
    BottomRight,
}

impl Position {
    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "top-left" => Self::TopLeft,
            "top-center" | "top" => Self::TopCenter,
            "top-right" => Self::TopRight,
            "center" => Self::Center,
            "bottom-left" => Self::BottomLeft,
            "bottom-center" | "bottom" => Self::BottomCenter,
            "bottom-right" => Self::BottomRight,
            _ => return None,
        })
    }
}

/// A text watermark.
#[derive(Debug, Clone, PartialEq)]
pub struct Watermark {
    pub text: String,
    pub size: f32,
    /// `#rrggbb`.
    pub color: String,
    /// 0–1.
    pub opacity: f32,
    /// Degrees counter-clockwise.
    pub rotation: f32,
    pub position: Position,
    /// Under the page's content instead of over it.
    pub behind: bool,
}

/// Page numbers.
#[derive(Debug, Clone, PartialEq)]
pub struct PageNumbers {
    /// With `{page}` and `{pages}`.
    pub format: String,
    pub size: f32,
    pub color: String,
    pub position: Position,
    /// The number the first numbered page shows.
    pub start: i64,
    pub margin: f32,
}

const STAMP_FONT: &str = "FFStamp";
const STAMP_STATE: &str = "GSStamp";

/// Draws `watermark` on `pages` (1-based).
pub fn watermark(
    document: &mut Document,
    pages: &[usize],
    watermark: &Watermark,
    deadline: Deadline,
) -> Result<()> {
    if watermark.text.trim().is_empty() {
        return Err(invalid("text", "must not be empty"));
    }
    if !(0.0..=1.0).contains(&watermark.opacity) {
        return Err(invalid("opacity", "must be between 0 and 1"));
    }
    if !(1.0..=500.0).contains(&watermark.size) {
        return Err(invalid("size", "must be between 1 and 500 points"));
    }
    let [r, g, b] = parse_color(&watermark.color)?;
    let width = face(Style::Bold).width(&watermark.text, watermark.size);
    let (sin, cos) = watermark.rotation.to_radians().sin_cos();
    let opacity = watermark.opacity;
    stamp(
        document,
        pages,
        watermark.behind,
        Some(opacity),
        deadline,
        |fonts, document, _, (w, h)| {
            let (cx, cy) = anchor(watermark.position, (w, h), width, watermark.size, 36.0);
            // Rotate about the text's center.
            let (x, y) = (
                cx + width / 2.0 - (cos * width / 2.0 - sin * watermark.size * 0.35),
                cy + watermark.size * 0.35 - (sin * width / 2.0 + cos * watermark.size * 0.35),
            );
            let hex = hex(&fonts.encode(document, Style::Bold, &watermark.text));
            format!(
                "/{STAMP_STATE} gs {r:.3} {g:.3} {b:.3} rg BT /{STAMP_FONT} {:.2} Tf {cos:.4} {sin:.4} {:.4} {cos:.4} {x:.2} {y:.2} Tm <{hex}> Tj ET",
                watermark.size, -sin
            )
        },
        Style::Bold,
    )
}

/// Numbers `pages` (1-based); the n-th page of the selection shows `start + n - 1`.
pub fn page_numbers(
    document: &mut Document,
    pages: &[usize],
    numbers: &PageNumbers,
    deadline: Deadline,
) -> Result<()> {
    if !(1.0..=200.0).contains(&numbers.size) {
        return Err(invalid("size", "must be between 1 and 200 points"));
    }
    let [r, g, b] = parse_color(&numbers.color)?;
    let total = pages.len() as i64 + numbers.start - 1;
    stamp(
        document,
        pages,
        false,
        None,
        deadline,
        |fonts, document, index, (w, h)| {
            let text = numbers
                .format
                .replace("{page}", &(numbers.start + index as i64).to_string())
                .replace("{pages}", &total.to_string());
            let width = face(Style::Regular).width(&text, numbers.size);
            let (x, y) = anchor(
                numbers.position,
                (w, h),
                width,
                numbers.size,
                numbers.margin,
            );
            let hex = hex(&fonts.encode(document, Style::Regular, &text));
            format!(
                "{r:.3} {g:.3} {b:.3} rg BT /{STAMP_FONT} {:.2} Tf 1 0 0 1 {x:.2} {y:.2} Tm <{hex}> Tj ET",
                numbers.size
            )
        },
        Style::Regular,
    )
}

fn hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(out, "{b:02X}");
    }
    out
}

/// The baseline start of text `width` wide at `position` on a `w`×`h` displayed page.
fn anchor(
    position: Position,
    (w, h): (f32, f32),
    width: f32,
    size: f32,
    margin: f32,
) -> (f32, f32) {
    let left = margin;
    let center = (w - width) / 2.0;
    let right = w - margin - width;
    let top = h - margin - size * 0.8;
    let bottom = margin;
    match position {
        Position::TopLeft => (left, top),
        Position::TopCenter => (center, top),
        Position::TopRight => (right, top),
        Position::Center => (center, (h - size * 0.7) / 2.0),
        Position::BottomLeft => (left, bottom),
        Position::BottomCenter => (center, bottom),
        Position::BottomRight => (right, bottom),
    }
}

/// Adds content drawn by `draw(fonts, document, index in selection, displayed size)` to each
/// selected page, in the page as displayed.
fn stamp(
    document: &mut Document,
    pages: &[usize],
    behind: bool,
    opacity: Option<f32>,
    deadline: Deadline,
    mut draw: impl FnMut(&mut FontSet, &mut Document, usize, (f32, f32)) -> String,
    style: Style,
) -> Result<()> {
    let ids = page_ids(document);
    let mut fonts = FontSet::default();
    let mut stamped: Vec<ObjectId> = Vec::new();
    let mut seen = HashSet::new();
    for (index, &number) in pages.iter().enumerate() {
        deadline.check()?;
        let id = ids[number - 1];
        if !seen.insert(id) {
            continue;
        }
        let (media_box, rotation) = geometry(document, id);
        let (display, matrix) = display_space(media_box, rotation);
        let drawing = draw(&mut fonts, document, index, display);
        let content = format!(
            "q {} cm {drawing} Q",
            matrix
                .iter()
                .map(|v| format!("{v:.4}"))
                .collect::<Vec<_>>()
                .join(" ")
        );
        add_content(document, id, content.into_bytes(), behind)?;
        stamped.push(id);
    }
    let Some(font_id) = fonts.font_id(style) else {
        return Ok(());
    };
    fonts.finish(document)?;
    let state = opacity.map(|o| {
        document.add_object(
            dictionary! { "Type" => "ExtGState", "ca" => Object::Real(o), "CA" => Object::Real(o) },
        )
    });
    for id in stamped {
        let mut resources = effective_resources(document, id);
        let mut fonts = sub_dictionary(document, &resources, b"Font");
        fonts.set(STAMP_FONT, font_id);
        resources.set("Font", fonts);
        if let Some(state) = state {
            let mut states = sub_dictionary(document, &resources, b"ExtGState");
            states.set(STAMP_STATE, state);
            resources.set("ExtGState", states);
        }
        document
            .get_dictionary_mut(id)
            .map_err(internal)?
            .set("Resources", resources);
    }
    Ok(())
}

/// The page's media box and rotation (inherited when the page does not name them).
fn geometry(document: &Document, id: ObjectId) -> ([f32; 4], i64) {
    let mut media_box = None;
    let mut rotation = None;
    let mut node = document.get_dictionary(id).ok();
    for _ in 0..32 {
        let Some(current) = node else { break };
        if media_box.is_none() {
            media_box = current
                .get(b"MediaBox")
                .ok()
                .and_then(|o| document.dereference(o).ok())
                .and_then(|(_, o)| o.as_array().ok())
                .and_then(|a| a.iter().map(number).collect::<Option<Vec<f32>>>())
                .filter(|a| a.len() == 4)
                .map(|a| {
                    [
                        a[0].min(a[2]),
                        a[1].min(a[3]),
                        a[0].max(a[2]),
                        a[1].max(a[3]),
                    ]
                });
        }
        if rotation.is_none() {
            rotation = current.get(b"Rotate").ok().and_then(|o| o.as_i64().ok());
        }
        node = current
            .get(b"Parent")
            .and_then(Object::as_reference)
            .ok()
            .and_then(|p| document.get_dictionary(p).ok());
    }
    (
        media_box.unwrap_or([0.0, 0.0, 612.0, 792.0]),
        rotation.unwrap_or(0).rem_euclid(360),
    )
}

/// The displayed page size and the matrix from displayed coordinates to the page's own.
fn display_space([x0, y0, x1, y1]: [f32; 4], rotation: i64) -> ((f32, f32), [f32; 6]) {
    let (w, h) = (x1 - x0, y1 - y0);
    match rotation {
        90 => ((h, w), [0.0, 1.0, -1.0, 0.0, x0 + w, y0]),
        180 => ((w, h), [-1.0, 0.0, 0.0, -1.0, x0 + w, y0 + h]),
        270 => ((h, w), [0.0, -1.0, 1.0, 0.0, x0, y0 + h]),
        _ => ((w, h), [1.0, 0.0, 0.0, 1.0, x0, y0]),
    }
}

/// Appends (or, `behind`, prepends) a content stream, isolating the page's own content in
/// `q … Q` so its leftover state cannot affect the stamp.
fn add_content(
    document: &mut Document,
    id: ObjectId,
    content: Vec<u8>,
    behind: bool,
) -> Result<()> {
    let existing: Vec<Object> = match document
        .get_dictionary(id)
        .map_err(internal)?
        .get(b"Contents")
    {
        Ok(Object::Reference(r)) => vec![Object::Reference(*r)],
        Ok(Object::Array(items)) => items.clone(),
        _ => Vec::new(),
    };
    let mut stamp = Stream::new(Dictionary::new(), content);
    stamp.compress().map_err(internal)?;
    let stamp = Object::Reference(document.add_object(stamp));
    let open =
        Object::Reference(document.add_object(Stream::new(Dictionary::new(), b"q\n".to_vec())));
    let close =
        Object::Reference(document.add_object(Stream::new(Dictionary::new(), b"\nQ\n".to_vec())));
    let mut contents = Vec::with_capacity(existing.len() + 3);
    if behind {
        contents.push(stamp);
        contents.push(open);
        contents.extend(existing);
        contents.push(close);
    } else {
        contents.push(open);
        contents.extend(existing);
        contents.push(close);
        contents.push(stamp);
    }
    document
        .get_dictionary_mut(id)
        .map_err(internal)?
        .set("Contents", contents);
    Ok(())
}

/// A copy of the page's effective resources (its own, or inherited), safe to extend.
fn effective_resources(document: &Document, id: ObjectId) -> Dictionary {
    let mut node = document.get_dictionary(id).ok();
    for _ in 0..32 {
        let Some(current) = node else { break };
        if let Ok(resources) = current.get(b"Resources") {
            return document
                .dereference(resources)
                .ok()
                .and_then(|(_, o)| o.as_dict().ok().cloned())
                .unwrap_or_default();
        }
        node = current
            .get(b"Parent")
            .and_then(Object::as_reference)
            .ok()
            .and_then(|p| document.get_dictionary(p).ok());
    }
    Dictionary::new()
}

fn sub_dictionary(document: &Document, resources: &Dictionary, key: &[u8]) -> Dictionary {
    resources
        .get(key)
        .ok()
        .and_then(|o| document.dereference(o).ok())
        .and_then(|(_, o)| o.as_dict().ok().cloned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn displayed_space_maps_to_the_page_corners() {
        let apply = |m: [f32; 6], (x, y): (f32, f32)| {
            (m[0] * x + m[2] * y + m[4], m[1] * x + m[3] * y + m[5])
        };
        // A portrait page turned 90°: the displayed top-left is the page's bottom-left.
        let ((w, h), m) = display_space([0.0, 0.0, 600.0, 800.0], 90);
        assert_eq!((w, h), (800.0, 600.0));
        assert_eq!(apply(m, (0.0, 600.0)), (0.0, 0.0));
        assert_eq!(apply(m, (0.0, 0.0)), (600.0, 0.0));
        let (_, m) = display_space([0.0, 0.0, 600.0, 800.0], 270);
        assert_eq!(apply(m, (0.0, 0.0)), (0.0, 800.0));
        let (_, m) = display_space([0.0, 0.0, 600.0, 800.0], 180);
        assert_eq!(apply(m, (0.0, 0.0)), (600.0, 800.0));
    }
}
