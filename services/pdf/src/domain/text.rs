//! Text extraction that follows the text and graphics state (matrices, fonts, glyph widths),
//! so words and lines come out as a reader sees them: runs on one baseline join into a line,
//! a gap wider than a fraction of the font size becomes a space, and a new baseline starts a
//! new line. Form XObjects are followed; fonts are decoded through their ToUnicode CMaps or
//! encodings (lopdf) and parsed once per document, not once per page.

use std::collections::HashMap;
use std::rc::Rc;

use lopdf::Encoding;
use lopdf::content::Content;
use lopdf::{Dictionary, Document, Object, ObjectId};
use serde::Serialize;

use super::{Deadline, PdfError, PdfLimits, Result, number, page_ids};

/// How deep form XObjects may nest (they may also refer to themselves).
const MAX_FORM_DEPTH: usize = 8;

/// One page's text.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PageText {
    /// 1-based.
    pub page: usize,
    pub text: String,
}

/// The text of `pages` (1-based), in that order.
pub fn extract(
    document: &Document,
    pages: &[usize],
    limits: &PdfLimits,
    deadline: Deadline,
) -> Result<Vec<PageText>> {
    let ids = page_ids(document);
    let mut fonts = FontCache::default();
    pages
        .iter()
        .map(|&page| {
            deadline.check()?;
            let id = ids[page - 1];
            let mut extractor = Extractor {
                document,
                fonts: &mut fonts,
                limits,
                spans: Vec::new(),
            };
            let resources = page_resources(document, id);
            let content = document
                .get_page_content_with_limit(id, limits.max_stream_bytes)
                .map_err(|e| match e {
                    lopdf::Error::Decompress(_) => PdfError::TooLarge(format!(
                        "page {page}'s content inflates past {} bytes",
                        limits.max_stream_bytes
                    )),
                    other => PdfError::Corrupt(format!("page {page}: {other}")),
                })?;
            extractor.run(&content, resources, Matrix::IDENTITY, 0)?;
            Ok(PageText {
                page,
                text: lines(extractor.spans),
            })
        })
        .collect()
}

/// Pages joined the way `pdftotext` separates them in plain output: a form feed.
pub fn join(pages: &[PageText]) -> String {
    let mut text = String::new();
    for (i, page) in pages.iter().enumerate() {
        if i > 0 {
            text.push('\u{c}');
        }
        text.push_str(&page.text);
    }
    text
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct Matrix([f32; 6]);

impl Matrix {
    const IDENTITY: Self = Self([1.0, 0.0, 0.0, 1.0, 0.0, 0.0]);

    /// `self × other` in PDF's row-vector convention (apply self, then other).
    fn then(self, other: Self) -> Self {
        let [a, b, c, d, e, f] = self.0;
        let [a2, b2, c2, d2, e2, f2] = other.0;
        Self([
            a * a2 + b * c2,
            a * b2 + b * d2,
            c * a2 + d * c2,
            c * b2 + d * d2,
            e * a2 + f * c2 + e2,
            e * b2 + f * d2 + f2,
        ])
    }

    fn translate(x: f32, y: f32) -> Self {
        Self([1.0, 0.0, 0.0, 1.0, x, y])
    }

    fn point(self, x: f32, y: f32) -> (f32, f32) {
        let [a, b, c, d, e, f] = self.0;
        (a * x + c * y + e, b * x + d * y + f)
    }

    fn from_operands(operands: &[Object]) -> Option<Self> {
        if operands.len() != 6 {
            return None;
        }
        let mut m = [0.0; 6];
        for (slot, operand) in m.iter_mut().zip(operands) {
            *slot = number(operand)?;
        }
        Some(Self(m))
    }

    /// How much the matrix scales vertical distances (for font size in device space).
    fn vertical_scale(self) -> f32 {
        let [_, _, c, d, _, _] = self.0;
        (c * c + d * d).sqrt()
    }
}

/// What the extractor needs of a font: decoding and advance widths.
struct Font<'a> {
    encoding: Option<Encoding<'a>>,
    /// Two-byte codes (Type0 fonts).
    two_byte: bool,
    widths: HashMap<u32, f32>,
    default_width: f32,
    /// Glyph space to text space (1/1000 except for Type3 fonts).
    scale: f32,
}

impl Font<'_> {
    fn codes<'s>(&self, bytes: &'s [u8]) -> impl Iterator<Item = u32> + 's {
        let step = if self.two_byte { 2 } else { 1 };
        bytes
            .chunks(step)
            .map(|c| c.iter().fold(0u32, |acc, b| (acc << 8) | u32::from(*b)))
    }

    fn width(&self, code: u32) -> f32 {
        self.widths
            .get(&code)
            .copied()
            .unwrap_or(self.default_width)
            * self.scale
    }

    fn decode(&self, bytes: &[u8]) -> String {
        match &self.encoding {
            Some(encoding) => encoding.bytes_to_string(bytes).unwrap_or_default(),
            None => bytes
                .iter()
                .filter(|b| b.is_ascii_graphic() || **b == b' ')
                .map(|b| char::from(*b))
                .collect(),
        }
    }
}

#[derive(Default)]
struct FontCache<'a> {
    fonts: HashMap<ObjectId, Rc<Font<'a>>>,
}

fn load_font<'a>(document: &'a Document, dictionary: &'a Dictionary, limit: usize) -> Font<'a> {
    let subtype = dictionary
        .get(b"Subtype")
        .and_then(Object::as_name)
        .unwrap_or(b"");
    let encoding = dictionary
        .get_font_encoding_with_limit(document, limit)
        .ok();
    let resolve = |object: &'a Object| document.dereference(object).ok().map(|(_, o)| o);
    let mut widths = HashMap::new();
    let mut default_width = 500.0;
    let mut scale = 0.001;
    let two_byte = subtype == b"Type0";
    if two_byte {
        let descendant = dictionary
            .get(b"DescendantFonts")
            .ok()
            .and_then(resolve)
            .and_then(|o| o.as_array().ok())
            .and_then(|a| a.first())
            .and_then(resolve)
            .and_then(|o| o.as_dict().ok());
        if let Some(descendant) = descendant {
            default_width = descendant
                .get(b"DW")
                .ok()
                .and_then(number)
                .unwrap_or(1000.0);
            if let Some(w) = descendant
                .get(b"W")
                .ok()
                .and_then(resolve)
                .and_then(|o| o.as_array().ok())
            {
                read_cid_widths(w, &resolve, &mut widths);
            }
        }
    } else {
        let first = dictionary
            .get(b"FirstChar")
            .ok()
            .and_then(number)
            .unwrap_or(0.0) as u32;
        if let Some(list) = dictionary
            .get(b"Widths")
            .ok()
            .and_then(resolve)
            .and_then(|o| o.as_array().ok())
        {
            for (i, w) in list.iter().enumerate() {
                if let Some(w) = resolve(w).and_then(number) {
                    widths.insert(first + i as u32, w);
                }
            }
        }
        if let Some(missing) = dictionary
            .get(b"FontDescriptor")
            .ok()
            .and_then(resolve)
            .and_then(|o| o.as_dict().ok())
            .and_then(|d| d.get(b"MissingWidth").ok())
            .and_then(number)
        {
            default_width = missing;
        }
        if subtype == b"Type3"
            && let Some(m) = dictionary
                .get(b"FontMatrix")
                .ok()
                .and_then(resolve)
                .and_then(|o| o.as_array().ok())
            && let Some(a) = m.first().and_then(number)
        {
            scale = a;
        }
    }
    Font {
        encoding,
        two_byte,
        widths,
        default_width,
        scale,
    }
}

/// A CID font's `/W` array: `c [w1 w2 …]` or `c_first c_last w`.
fn read_cid_widths<'a>(
    list: &'a [Object],
    resolve: &impl Fn(&'a Object) -> Option<&'a Object>,
    widths: &mut HashMap<u32, f32>,
) {
    let mut i = 0;
    while i + 1 < list.len() {
        let Some(first) = number(&list[i]) else { break };
        let first = first as u32;
        match resolve(&list[i + 1]) {
            Some(Object::Array(ws)) => {
                for (k, w) in ws.iter().enumerate() {
                    if let Some(w) = number(w) {
                        widths.insert(first + k as u32, w);
                    }
                }
                i += 2;
            }
            Some(last) if i + 2 < list.len() => {
                let (Some(last), Some(w)) = (number(last), number(&list[i + 2])) else {
                    break;
                };
                // A hostile range must not allocate millions of entries.
                for cid in first..=(last as u32).min(first.saturating_add(65_535)) {
                    widths.insert(cid, w);
                }
                i += 3;
            }
            _ => break,
        }
    }
}

/// A run of text at a position in device space.
#[derive(Debug, Clone)]
struct Span {
    x0: f32,
    x1: f32,
    y: f32,
    size: f32,
    text: String,
}

struct Extractor<'a, 'c> {
    document: &'a Document,
    fonts: &'c mut FontCache<'a>,
    limits: &'c PdfLimits,
    spans: Vec<Span>,
}

#[derive(Clone)]
struct TextState<'a> {
    font: Option<Rc<Font<'a>>>,
    size: f32,
    char_spacing: f32,
    word_spacing: f32,
    horizontal_scale: f32,
    leading: f32,
    rise: f32,
}

impl<'a> Extractor<'a, '_> {
    fn run(
        &mut self,
        content: &[u8],
        resources: Option<&'a Dictionary>,
        base: Matrix,
        depth: usize,
    ) -> Result<()> {
        let content = Content::decode(content)
            .map_err(|e| PdfError::Corrupt(format!("a content stream could not be parsed: {e}")))?;
        let font_dictionary = resources.and_then(|r| self.dictionary_in(r, b"Font"));
        let xobjects = resources.and_then(|r| self.dictionary_in(r, b"XObject"));

        let mut ctm = base;
        let mut stack: Vec<(Matrix, TextState<'a>)> = Vec::new();
        let mut state = TextState {
            font: None,
            size: 0.0,
            char_spacing: 0.0,
            word_spacing: 0.0,
            horizontal_scale: 1.0,
            leading: 0.0,
            rise: 0.0,
        };
        let mut tm = Matrix::IDENTITY;
        let mut tlm = Matrix::IDENTITY;
        for op in &content.operations {
            let operands = &op.operands;
            let num = |i: usize| operands.get(i).and_then(number).unwrap_or(0.0);
            match op.operator.as_str() {
                // A hostile stream cannot grow the stack without bound.
                "q" if stack.len() < 64 => stack.push((ctm, state.clone())),
                "Q" => {
                    if let Some((m, s)) = stack.pop() {
                        ctm = m;
                        state = s;
                    }
                }
                "cm" => {
                    if let Some(m) = Matrix::from_operands(operands) {
                        ctm = m.then(ctm);
                    }
                }
                "BT" => {
                    tm = Matrix::IDENTITY;
                    tlm = Matrix::IDENTITY;
                }
                "Tf" => {
                    state.size = num(1);
                    state.font = operands
                        .first()
                        .and_then(|o| o.as_name().ok())
                        .and_then(|name| self.font(font_dictionary?, name));
                }
                "Tc" => state.char_spacing = num(0),
                "Tw" => state.word_spacing = num(0),
                "Tz" => state.horizontal_scale = num(0) / 100.0,
                "TL" => state.leading = num(0),
                "Ts" => state.rise = num(0),
                "Td" => {
                    tlm = Matrix::translate(num(0), num(1)).then(tlm);
                    tm = tlm;
                }
                "TD" => {
                    state.leading = -num(1);
                    tlm = Matrix::translate(num(0), num(1)).then(tlm);
                    tm = tlm;
                }
                "Tm" => {
                    if let Some(m) = Matrix::from_operands(operands) {
                        tlm = m;
                        tm = m;
                    }
                }
                "T*" => {
                    tlm = Matrix::translate(0.0, -state.leading).then(tlm);
                    tm = tlm;
                }
                "Tj" | "'" | "\"" => {
                    if op.operator != "Tj" {
                        if op.operator == "\"" {
                            state.word_spacing = num(0);
                            state.char_spacing = num(1);
                        }
                        tlm = Matrix::translate(0.0, -state.leading).then(tlm);
                        tm = tlm;
                    }
                    if let Some(Object::String(bytes, _)) = operands.last() {
                        self.show(bytes, &state, &mut tm, ctm);
                    }
                }
                "TJ" => {
                    if let Some(Object::Array(items)) = operands.first() {
                        for item in items {
                            match item {
                                Object::String(bytes, _) => self.show(bytes, &state, &mut tm, ctm),
                                other => {
                                    let adjust = number(other).unwrap_or(0.0);
                                    let tx = -adjust / 1000.0 * state.size * state.horizontal_scale;
                                    tm = Matrix::translate(tx, 0.0).then(tm);
                                }
                            }
                        }
                    }
                }
                "Do" if depth < MAX_FORM_DEPTH => {
                    let Some(name) = operands.first().and_then(|o| o.as_name().ok()) else {
                        continue;
                    };
                    let Some(Object::Stream(form)) = xobjects
                        .and_then(|x| x.get(name).ok())
                        .and_then(|o| self.document.dereference(o).ok())
                        .map(|(_, o)| o)
                    else {
                        continue;
                    };
                    if form.dict.get(b"Subtype").and_then(Object::as_name).ok() != Some(b"Form") {
                        continue;
                    }
                    let matrix = form
                        .dict
                        .get(b"Matrix")
                        .ok()
                        .and_then(|o| o.as_array().ok())
                        .and_then(|a| Matrix::from_operands(a))
                        .unwrap_or(Matrix::IDENTITY);
                    let inner = form
                        .dict
                        .get(b"Resources")
                        .ok()
                        .and_then(|o| self.document.dereference(o).ok())
                        .and_then(|(_, o)| o.as_dict().ok())
                        .or(resources);
                    let bytes = form
                        .decompressed_content_with_limit(self.limits.max_stream_bytes)
                        .unwrap_or_else(|_| form.content.clone());
                    self.run(&bytes, inner, matrix.then(ctm), depth + 1)?;
                }
                _ => {}
            }
        }
        Ok(())
    }

    fn dictionary_in(&self, dictionary: &'a Dictionary, key: &[u8]) -> Option<&'a Dictionary> {
        let object = dictionary.get(key).ok()?;
        self.document.dereference(object).ok()?.1.as_dict().ok()
    }

    fn font(&mut self, fonts: &'a Dictionary, name: &[u8]) -> Option<Rc<Font<'a>>> {
        let reference = fonts.get(name).ok()?;
        let (id, object) = self.document.dereference(reference).ok()?;
        let dictionary = object.as_dict().ok()?;
        let limit = self.limits.max_stream_bytes;
        let Some(id) = id else {
            return Some(Rc::new(load_font(self.document, dictionary, limit)));
        };
        Some(
            self.fonts
                .fonts
                .entry(id)
                .or_insert_with(|| Rc::new(load_font(self.document, dictionary, limit)))
                .clone(),
        )
    }

    /// Records one shown string and advances the text matrix past it.
    fn show(&mut self, bytes: &[u8], state: &TextState<'a>, tm: &mut Matrix, ctm: Matrix) {
        let Some(font) = &state.font else { return };
        let mut advance = 0.0;
        for code in font.codes(bytes) {
            let mut w = font.width(code) * state.size + state.char_spacing;
            if !font.two_byte && code == 32 {
                w += state.word_spacing;
            }
            advance += w * state.horizontal_scale;
        }
        let device = tm.then(ctm);
        let (x0, y) = device.point(0.0, state.rise);
        let (x1, _) = device.point(advance, state.rise);
        *tm = Matrix::translate(advance, 0.0).then(*tm);
        let text = font.decode(bytes);
        if text.is_empty() {
            return;
        }
        self.spans.push(Span {
            x0: x0.min(x1),
            x1: x0.max(x1),
            y,
            size: (state.size * device.vertical_scale()).abs().max(1.0),
            text,
        });
    }
}

/// The effective `/Resources` of a page (inherited from the page tree when absent).
fn page_resources(document: &Document, page_id: ObjectId) -> Option<&Dictionary> {
    let mut node = document.get_dictionary(page_id).ok()?;
    for _ in 0..32 {
        if let Ok(resources) = node.get(b"Resources") {
            return document.dereference(resources).ok()?.1.as_dict().ok();
        }
        let parent = node.get(b"Parent").and_then(Object::as_reference).ok()?;
        node = document.get_dictionary(parent).ok()?;
    }
    None
}

/// Joins spans into lines: same baseline (within a third of the font size) and moving right
/// continues a line, a gap of more than 15% of the font size is a space.
fn lines(spans: Vec<Span>) -> String {
    let mut out = String::new();
    let mut current: Option<(f32, f32, f32)> = None; // (baseline, right edge, size)
    for span in spans {
        match current {
            Some((y, right, size))
                if (span.y - y).abs() < size.max(span.size) / 3.0
                    && span.x0 >= right - size.max(span.size) * 0.5 =>
            {
                let gap = span.x0 - right;
                if gap > span.size.min(size) * 0.15
                    && !out.ends_with(' ')
                    && !span.text.starts_with(' ')
                {
                    out.push(' ');
                }
                out.push_str(&span.text);
                current = Some((y, span.x1.max(right), size.max(span.size)));
            }
            _ => {
                if current.is_some() {
                    trim_end_spaces(&mut out);
                    out.push('\n');
                }
                out.push_str(span.text.trim_start());
                current = Some((span.y, span.x1, span.size));
            }
        }
    }
    trim_end_spaces(&mut out);
    out
}

fn trim_end_spaces(text: &mut String) {
    while text.ends_with(' ') {
        text.pop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matrices_compose_in_pdf_order() {
        let scale = Matrix([2.0, 0.0, 0.0, 2.0, 0.0, 0.0]);
        let shift = Matrix::translate(10.0, 20.0);
        // Scale first, then shift: (1,1) → (2,2) → (12,22).
        assert_eq!(scale.then(shift).point(1.0, 1.0), (12.0, 22.0));
        assert_eq!(shift.then(scale).point(1.0, 1.0), (22.0, 42.0));
    }

    #[test]
    fn spans_become_words_and_lines() {
        let span = |x0: f32, x1: f32, y: f32, text: &str| Span {
            x0,
            x1,
            y,
            size: 10.0,
            text: text.into(),
        };
        let text = lines(vec![
            span(0.0, 20.0, 100.0, "Hello"),
            span(23.0, 40.0, 100.0, "world"),
            span(40.0, 42.0, 100.0, "!"),
            span(0.0, 30.0, 88.0, "Next line"),
        ]);
        assert_eq!(text, "Hello world!\nNext line");
    }
}
