//! Tesseract's TSV rows → the page → block → paragraph → line → word tree that cloud OCR APIs
//! answer with: each node with its text, confidence (0–1) and box, in pixels and normalized.

use serde::Serialize;

/// A box in pixels from the top-left corner.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct PixelBox {
    pub x: u32,
    pub y: u32,
    pub width: u32,
    pub height: u32,
}

/// The same box as fractions (0–1) of the page's width and height.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct NormalizedBox {
    pub x: f32,
    pub y: f32,
    pub width: f32,
    pub height: f32,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Word {
    pub text: String,
    pub confidence: f64,
    pub bbox: PixelBox,
    pub bbox_normalized: NormalizedBox,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Line {
    pub text: String,
    pub confidence: f64,
    pub bbox: PixelBox,
    pub bbox_normalized: NormalizedBox,
    pub words: Vec<Word>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Paragraph {
    pub text: String,
    pub confidence: f64,
    pub bbox: PixelBox,
    pub bbox_normalized: NormalizedBox,
    pub lines: Vec<Line>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Block {
    pub text: String,
    pub confidence: f64,
    pub bbox: PixelBox,
    pub bbox_normalized: NormalizedBox,
    pub paragraphs: Vec<Paragraph>,
}

struct Row<'a> {
    level: u8,
    block: u32,
    paragraph: u32,
    line: u32,
    bbox: PixelBox,
    confidence: f32,
    text: &'a str,
}

fn parse_row(line: &str) -> Option<Row<'_>> {
    let mut cells = line.splitn(12, '\t');
    let mut number = || cells.next()?.trim().parse::<f32>().ok();
    let level = number()? as u8;
    let _page = number()?;
    let block = number()? as u32;
    let paragraph = number()? as u32;
    let line_number = number()? as u32;
    let _word = number()?;
    let (x, y, width, height) = (
        number()? as u32,
        number()? as u32,
        number()? as u32,
        number()? as u32,
    );
    let confidence = number()?;
    let text = cells.next().unwrap_or("");
    Some(Row {
        level,
        block,
        paragraph,
        line: line_number,
        bbox: PixelBox {
            x,
            y,
            width,
            height,
        },
        confidence,
        text,
    })
}

fn union(boxes: impl Iterator<Item = PixelBox>) -> PixelBox {
    let (mut x0, mut y0, mut x1, mut y1) = (u32::MAX, u32::MAX, 0, 0);
    for b in boxes {
        x0 = x0.min(b.x);
        y0 = y0.min(b.y);
        x1 = x1.max(b.x + b.width);
        y1 = y1.max(b.y + b.height);
    }
    if x0 == u32::MAX {
        return PixelBox {
            x: 0,
            y: 0,
            width: 0,
            height: 0,
        };
    }
    PixelBox {
        x: x0,
        y: y0,
        width: x1 - x0,
        height: y1 - y0,
    }
}

fn normalized(b: PixelBox, width: u32, height: u32) -> NormalizedBox {
    let (w, h) = (width.max(1) as f32, height.max(1) as f32);
    let round = |v: f32| (v * 10_000.0).round() / 10_000.0;
    NormalizedBox {
        x: round(b.x as f32 / w),
        y: round(b.y as f32 / h),
        width: round(b.width as f32 / w),
        height: round(b.height as f32 / h),
    }
}

fn mean(values: impl Iterator<Item = f64>) -> f64 {
    let (sum, n) = values.fold((0.0, 0u32), |(s, n), v| (s + v, n + 1));
    if n == 0 {
        0.0
    } else {
        (sum / f64::from(n) * 10_000.0).round() / 10_000.0
    }
}

/// The tree of a page `width` × `height` from its TSV rows, keeping words with at least
/// `min_confidence` (0–1); lines, paragraphs and blocks left empty are dropped.
pub fn structure(tsv: &str, width: u32, height: u32, min_confidence: f32) -> Vec<Block> {
    let mut blocks: Vec<Block> = Vec::new();
    let mut current: Option<(u32, u32, u32)> = None;
    for row in tsv.lines().filter_map(parse_row).filter(|r| r.level == 5) {
        let text = row.text.trim();
        // f64 from here on: JSON shows 0.965, not 0.9649999737739563.
        let confidence = (f64::from(row.confidence) / 100.0).clamp(0.0, 1.0);
        if text.is_empty() || confidence < f64::from(min_confidence) {
            continue;
        }
        let word = Word {
            text: text.to_owned(),
            confidence: (confidence * 10_000.0).round() / 10_000.0,
            bbox: row.bbox,
            bbox_normalized: normalized(row.bbox, width, height),
        };
        let key = (row.block, row.paragraph, row.line);
        let new_block = current.is_none_or(|(b, _, _)| b != key.0);
        let new_paragraph = new_block || current.is_none_or(|(_, p, _)| p != key.1);
        let new_line = new_paragraph || current.is_none_or(|(_, _, l)| l != key.2);
        current = Some(key);
        let empty = PixelBox {
            x: 0,
            y: 0,
            width: 0,
            height: 0,
        };
        let empty_normalized = normalized(empty, 1, 1);
        if new_block {
            blocks.push(Block {
                text: String::new(),
                confidence: 0.0,
                bbox: empty,
                bbox_normalized: empty_normalized,
                paragraphs: Vec::new(),
            });
        }
        let Some(block) = blocks.last_mut() else {
            continue;
        };
        if new_paragraph {
            block.paragraphs.push(Paragraph {
                text: String::new(),
                confidence: 0.0,
                bbox: empty,
                bbox_normalized: empty_normalized,
                lines: Vec::new(),
            });
        }
        let Some(paragraph) = block.paragraphs.last_mut() else {
            continue;
        };
        if new_line {
            paragraph.lines.push(Line {
                text: String::new(),
                confidence: 0.0,
                bbox: empty,
                bbox_normalized: empty_normalized,
                words: Vec::new(),
            });
        }
        if let Some(line) = paragraph.lines.last_mut() {
            line.words.push(word);
        }
    }
    for block in &mut blocks {
        for paragraph in &mut block.paragraphs {
            for line in &mut paragraph.lines {
                line.text = line
                    .words
                    .iter()
                    .map(|w| w.text.as_str())
                    .collect::<Vec<_>>()
                    .join(" ");
                line.confidence = mean(line.words.iter().map(|w| w.confidence));
                line.bbox = union(line.words.iter().map(|w| w.bbox));
                line.bbox_normalized = normalized(line.bbox, width, height);
            }
            paragraph.text = paragraph
                .lines
                .iter()
                .map(|l| l.text.as_str())
                .collect::<Vec<_>>()
                .join("\n");
            paragraph.confidence = mean(
                paragraph
                    .lines
                    .iter()
                    .flat_map(|l| &l.words)
                    .map(|w| w.confidence),
            );
            paragraph.bbox = union(paragraph.lines.iter().map(|l| l.bbox));
            paragraph.bbox_normalized = normalized(paragraph.bbox, width, height);
        }
        block.text = block
            .paragraphs
            .iter()
            .map(|p| p.text.as_str())
            .collect::<Vec<_>>()
            .join("\n\n");
        block.confidence = mean(
            block
                .paragraphs
                .iter()
                .flat_map(|p| &p.lines)
                .flat_map(|l| &l.words)
                .map(|w| w.confidence),
        );
        block.bbox = union(block.paragraphs.iter().map(|p| p.bbox));
        block.bbox_normalized = normalized(block.bbox, width, height);
    }
    blocks
}

/// The page's text from its tree (used when low-confidence words were dropped).
pub fn text_of(blocks: &[Block]) -> String {
    blocks
        .iter()
        .map(|b| b.text.as_str())
        .collect::<Vec<_>>()
        .join("\n\n")
}

/// Every word of the tree, in reading order.
pub fn words(blocks: &[Block]) -> impl Iterator<Item = &Word> {
    blocks
        .iter()
        .flat_map(|b| &b.paragraphs)
        .flat_map(|p| &p.lines)
        .flat_map(|l| &l.words)
}

/// Maps coordinates on the page Tesseract read (perhaps enlarged by preprocessing) back onto
/// the page the caller sent, so every box is in the caller's pixels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rescale {
    x: f64,
    y: f64,
}

impl Rescale {
    /// `None` when the two sizes are the same: nothing to map.
    pub fn between(read: (u32, u32), page: (u32, u32)) -> Option<Self> {
        (read != page).then(|| Self {
            x: f64::from(page.0) / f64::from(read.0.max(1)),
            y: f64::from(page.1) / f64::from(read.1.max(1)),
        })
    }

    /// An edge or a size along x (so that edges stay where they were, spans are mapped as
    /// the difference of their mapped edges).
    fn x(&self, v: i64) -> i64 {
        (v as f64 * self.x).round() as i64
    }

    fn y(&self, v: i64) -> i64 {
        (v as f64 * self.y).round() as i64
    }

    /// Tesseract's TSV rows with `left top width height` mapped.
    pub fn tsv(&self, tsv: &str) -> String {
        let mut out = String::with_capacity(tsv.len());
        for row in tsv.lines() {
            let mut cells: Vec<&str> = row.splitn(12, '\t').collect();
            let numbers: Option<Vec<i64>> = cells
                .get(6..10)
                .map(|c| c.iter().map(|v| v.trim().parse().ok()).collect())
                .and_then(|n: Vec<Option<i64>>| n.into_iter().collect());
            let mapped;
            if let Some([left, top, width, height]) = numbers.as_deref() {
                let (x0, y0) = (self.x(*left), self.y(*top));
                let (x1, y1) = (self.x(left + width), self.y(top + height));
                mapped = [x0, y0, x1 - x0, y1 - y0].map(|v| v.to_string());
                for (cell, value) in cells[6..10].iter_mut().zip(&mapped) {
                    *cell = value;
                }
            }
            out.push_str(&cells.join("\t"));
            out.push('\n');
        }
        out
    }

    /// hOCR with the pixel properties of every `title` mapped: `bbox`, `baseline`'s offset,
    /// `x_size`, `x_descenders` and `x_ascenders`. Tesseract writes titles in single quotes.
    pub fn hocr(&self, hocr: &str) -> String {
        let mut out = String::with_capacity(hocr.len());
        let mut rest = hocr;
        while let Some(start) = rest.find("title='") {
            let (before, after) = rest.split_at(start + "title='".len());
            out.push_str(before);
            let Some(end) = after.find('\'') else {
                rest = after;
                break;
            };
            let properties: Vec<String> = after[..end]
                .split("; ")
                .map(|property| self.hocr_property(property))
                .collect();
            out.push_str(&properties.join("; "));
            rest = &after[end..];
        }
        out.push_str(rest);
        out
    }

    fn hocr_property(&self, property: &str) -> String {
        let mut words = property.split(' ');
        let name = words.next().unwrap_or_default();
        let values: Vec<&str> = words.collect();
        let mapped: Option<Vec<String>> = match name {
            "bbox" => values
                .iter()
                .enumerate()
                .map(|(i, v)| {
                    let v = v.parse().ok()?;
                    Some(if i % 2 == 0 { self.x(v) } else { self.y(v) }.to_string())
                })
                .collect(),
            "x_size" | "x_descenders" | "x_ascenders" => values
                .iter()
                .map(|v| {
                    v.parse::<f64>()
                        .ok()
                        .map(|v| format!("{}", (v * self.y * 100.0).round() / 100.0))
                })
                .collect(),
            "baseline" => match values.as_slice() {
                [slope, offset] => offset
                    .parse::<f64>()
                    .ok()
                    .map(|o| vec![(*slope).to_owned(), format!("{}", (o * self.y).round())]),
                _ => None,
            },
            _ => None,
        };
        match mapped {
            Some(values) => format!("{name} {}", values.join(" ")),
            None => property.to_owned(),
        }
    }
}

/// Tesseract's TSV header, as its command line writes it.
pub const TSV_HEADER: &str =
    "level\tpage_num\tblock_num\tpar_num\tline_num\tword_num\tleft\ttop\twidth\theight\tconf\ttext";

#[cfg(test)]
mod tests {
    use super::*;

    const TSV: &str = "1\t1\t0\t0\t0\t0\t0\t0\t200\t100\t-1\t\n\
2\t1\t1\t0\t0\t0\t10\t10\t180\t60\t-1\t\n\
3\t1\t1\t1\t0\t0\t10\t10\t180\t60\t-1\t\n\
4\t1\t1\t1\t1\t0\t10\t10\t180\t20\t-1\t\n\
5\t1\t1\t1\t1\t1\t10\t10\t80\t20\t96.5\tHello\n\
5\t1\t1\t1\t1\t2\t100\t10\t90\t20\t91\tworld\n\
4\t1\t1\t1\t2\t0\t10\t50\t60\t20\t-1\t\n\
5\t1\t1\t1\t2\t1\t10\t50\t60\t20\t12\tbl0t\n";

    #[test]
    fn rows_become_a_tree_with_boxes_and_confidences() {
        let blocks = structure(TSV, 200, 100, 0.0);
        assert_eq!(blocks.len(), 1);
        let paragraph = &blocks[0].paragraphs[0];
        assert_eq!(paragraph.lines.len(), 2);
        assert_eq!(paragraph.lines[0].text, "Hello world");
        assert_eq!(
            paragraph.lines[0].bbox,
            PixelBox {
                x: 10,
                y: 10,
                width: 180,
                height: 20
            }
        );
        assert_eq!(
            paragraph.lines[0].bbox_normalized,
            NormalizedBox {
                x: 0.05,
                y: 0.1,
                width: 0.9,
                height: 0.2
            }
        );
        assert_eq!(paragraph.lines[0].words[0].confidence, 0.965);
        assert_eq!(blocks[0].text, "Hello world\nbl0t");
        // Low-confidence words go, and so does a line left empty.
        let confident = structure(TSV, 200, 100, 0.5);
        assert_eq!(text_of(&confident), "Hello world");
        assert_eq!(confident[0].paragraphs[0].lines.len(), 1);
        assert_eq!(words(&confident).count(), 2);
    }

    #[test]
    fn boxes_are_mapped_back_to_the_page_that_was_sent() {
        assert_eq!(Rescale::between((200, 100), (200, 100)), None);
        let half = Rescale::between((200, 100), (100, 50)).unwrap();
        let tsv = half.tsv(TSV);
        let words: Vec<&str> = tsv.lines().filter(|r| r.starts_with("5\t")).collect();
        assert_eq!(words[0], "5\t1\t1\t1\t1\t1\t5\t5\t40\t10\t96.5\tHello");
        assert_eq!(words[2], "5\t1\t1\t1\t2\t1\t5\t25\t30\t10\t12\tbl0t");
        let tree = structure(&tsv, 100, 50, 0.0);
        assert_eq!(
            tree[0].bbox,
            PixelBox {
                x: 5,
                y: 5,
                width: 90,
                height: 30
            }
        );
        let hocr = half.hocr(
            "<span class='ocr_line' id='line_1_1' title='bbox 10 10 190 30; baseline 0.005 -6; x_size 24; x_descenders 5; x_ascenders 6'>\n\
             <span class='ocrx_word' id='word_1_1' title='bbox 10 10 90 30; x_wconf 96'>Hello</span>",
        );
        assert_eq!(
            hocr,
            "<span class='ocr_line' id='line_1_1' title='bbox 5 5 95 15; baseline 0.005 -3; x_size 12; x_descenders 2.5; x_ascenders 3'>\n\
             <span class='ocrx_word' id='word_1_1' title='bbox 5 5 45 15; x_wconf 96'>Hello</span>"
        );
    }
}
