//! Layout: blocks → lines → pages. Text is broken into lines by measuring words with the
//! shipped fonts; tables repeat their header row on each page and split tall rows between
//! pages line by line, so nothing is ever cut off or lost.

use std::fmt::Write as _;

use base64::Engine as _;
use lopdf::{Document, ObjectId};

use super::model::{Align, Block, ListItem, Span, Text};
use crate::domain::fonts::{FontSet, Style, face};
use crate::domain::images::add_image;
use crate::domain::{Deadline, PdfError, PdfLimits, Result, invalid};

/// Page geometry in points.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PageSetup {
    pub width: f32,
    pub height: f32,
    pub top: f32,
    pub right: f32,
    pub bottom: f32,
    pub left: f32,
}

impl PageSetup {
    fn content_width(&self) -> f32 {
        self.width - self.left - self.right
    }
}

/// One styled word (or word fragment) ready to place.
#[derive(Debug, Clone)]
struct Piece {
    text: String,
    style: Style,
    italic: bool,
    size: f32,
    color: Option<[f32; 3]>,
    width: f32,
    /// A space separates it from the previous piece.
    space_before: bool,
}

/// A laid-out line.
#[derive(Debug, Clone, Default)]
struct Line {
    pieces: Vec<Piece>,
    width: f32,
    size: f32,
}

impl Line {
    fn height(&self) -> f32 {
        self.size * 1.3
    }
}

/// One page being written.
#[derive(Debug, Default)]
pub struct PageBuffer {
    pub content: String,
    pub images: Vec<ObjectId>,
}

pub struct Layout<'d> {
    pub document: &'d mut Document,
    pub fonts: FontSet,
    pub setup: PageSetup,
    pub base_size: f32,
    pub pages: Vec<PageBuffer>,
    /// Top of the free space on the current page (PDF coordinates, y up).
    y: f32,
    limits: &'d PdfLimits,
    deadline: Deadline,
}

const HEADING_SIZES: [f32; 6] = [2.0, 1.64, 1.36, 1.18, 1.05, 1.0];
const LIST_INDENT: f32 = 18.0;
const CELL_PADDING: f32 = 4.0;
/// Fake-oblique shear for italics (about 12°).
const ITALIC_SHEAR: f32 = 0.21;

impl<'d> Layout<'d> {
    pub fn new(
        document: &'d mut Document,
        setup: PageSetup,
        base_size: f32,
        limits: &'d PdfLimits,
        deadline: Deadline,
    ) -> Self {
        let mut layout = Self {
            document,
            fonts: FontSet::default(),
            setup,
            base_size,
            pages: Vec::new(),
            y: 0.0,
            limits,
            deadline,
        };
        layout.new_page();
        layout
    }

    fn new_page(&mut self) {
        self.pages.push(PageBuffer::default());
        self.y = self.setup.height - self.setup.top;
    }

    fn page(&mut self) -> &mut PageBuffer {
        let last = self.pages.len() - 1;
        &mut self.pages[last]
    }

    fn room(&self) -> f32 {
        self.y - self.setup.bottom
    }

    /// Starts a new page unless `height` fits on this one (or the page is still empty).
    fn ensure(&mut self, height: f32) -> Result<()> {
        if height > self.room() && !self.at_page_top() {
            self.break_page()?;
        }
        Ok(())
    }

    fn break_page(&mut self) -> Result<()> {
        self.deadline.check()?;
        if self.pages.len() >= self.limits.max_pages {
            return Err(PdfError::TooLarge(format!(
                "the document would have more than {} pages",
                self.limits.max_pages
            )));
        }
        self.new_page();
        Ok(())
    }

    fn at_page_top(&self) -> bool {
        (self.y - (self.setup.height - self.setup.top)).abs() < 0.01
    }

    pub fn blocks(&mut self, blocks: &[Block]) -> Result<()> {
        for (i, block) in blocks.iter().enumerate() {
            self.block(block, i == 0).map_err(|e| match e {
                PdfError::Invalid { field, message } => PdfError::Invalid {
                    field: format!("content[{i}].{field}"),
                    message,
                },
                other => other,
            })?;
        }
        Ok(())
    }

    fn block(&mut self, block: &Block, first: bool) -> Result<()> {
        let base = self.base_size;
        let gap = |s: &Self, points: f32| {
            if first || s.at_page_top() {
                0.0
            } else {
                points
            }
        };
        match block {
            Block::Heading { level, text } => {
                if !(1..=6).contains(level) {
                    return Err(invalid("level", "must be 1 to 6"));
                }
                let size = base * HEADING_SIZES[usize::from(*level) - 1];
                let lines =
                    self.break_lines(&force_bold(text.spans()), size, self.setup.content_width())?;
                // Keep a heading with at least one line of what follows.
                let height: f32 = lines.iter().map(Line::height).sum::<f32>() + base * 1.3 * 2.0;
                self.y -= gap(self, size * 0.6);
                self.ensure(height)?;
                self.place_lines(
                    &lines,
                    self.setup.left,
                    self.setup.content_width(),
                    Align::Left,
                );
                self.y -= size * 0.3;
            }
            Block::Paragraph { text, align, size } => {
                let size = size.unwrap_or(base);
                if !(1.0..=200.0).contains(&size) {
                    return Err(invalid("size", "must be between 1 and 200 points"));
                }
                self.y -= gap(self, base * 0.6);
                let lines = self.break_lines(&text.spans(), size, self.setup.content_width())?;
                self.flow_lines(&lines, self.setup.left, self.setup.content_width(), *align)?;
            }
            Block::List { ordered, items } => {
                self.y -= gap(self, base * 0.6);
                self.list(items, *ordered, 0)?;
            }
            Block::Quote { text } => {
                self.y -= gap(self, base * 0.6);
                let spans: Vec<Span> = text
                    .spans()
                    .into_iter()
                    .map(|s| Span {
                        italic: true,
                        color: s.color.or(Some("#555555".into())),
                        ..s
                    })
                    .collect();
                let width = self.setup.content_width() - LIST_INDENT;
                let lines = self.break_lines(&spans, base, width)?;
                self.flow_lines(&lines, self.setup.left + LIST_INDENT, width, Align::Left)?;
            }
            Block::Code { text } => {
                self.y -= gap(self, base * 0.6);
                self.code(text)?;
            }
            Block::Table {
                columns,
                rows,
                widths,
                align,
            } => {
                self.y -= gap(self, base * 0.8);
                self.table(columns, rows, widths.as_deref(), align.as_deref())?;
            }
            Block::Image { data, width, align } => {
                self.y -= gap(self, base * 0.6);
                self.image(data, *width, *align)?;
            }
            Block::Rule => {
                self.y -= gap(self, base * 0.6);
                self.ensure(base)?;
                let y = self.y - base * 0.5;
                let (x0, x1) = (self.setup.left, self.setup.width - self.setup.right);
                let _ = writeln!(
                    self.page().content,
                    "q 0.6 G 0.75 w {x0:.2} {y:.2} m {x1:.2} {y:.2} l S Q"
                );
                self.y -= base;
            }
            Block::Spacer { height } => {
                if !(0.0..=2000.0).contains(height) {
                    return Err(invalid("height", "must be between 0 and 2000 points"));
                }
                self.y -= height;
                if self.y < self.setup.bottom {
                    self.new_page();
                }
            }
            Block::PageBreak => self.break_page()?,
        }
        Ok(())
    }

    fn list(&mut self, items: &[ListItem], ordered: bool, depth: usize) -> Result<()> {
        if depth > 8 {
            return Err(invalid("items", "lists nest at most 8 deep"));
        }
        let indent = LIST_INDENT * (depth + 1) as f32;
        let left = self.setup.left + indent;
        let width = self.setup.content_width() - indent;
        for (n, item) in items.iter().enumerate() {
            let (text, nested) = match item {
                ListItem::Text(text) => (text, None),
                ListItem::Nested {
                    text,
                    ordered,
                    items,
                } => (text, Some((*ordered, items))),
            };
            let lines = self.break_lines(&text.spans(), self.base_size, width)?;
            let marker = if ordered {
                format!("{}.", n + 1)
            } else if depth.is_multiple_of(2) {
                "•".to_owned()
            } else {
                "◦".to_owned()
            };
            let first_height = lines.first().map_or(self.base_size * 1.3, Line::height);
            self.ensure(first_height)?;
            let marker_width = face(Style::Regular).width(&marker, self.base_size);
            let baseline = self.y - self.base_size * face(Style::Regular).ascent / 1000.0;
            let x = left - 5.0 - marker_width;
            let piece = self.piece(&marker, Style::Regular, false, self.base_size, None);
            self.draw_run(&[piece], x, baseline, false);
            self.flow_lines(&lines, left, width, Align::Left)?;
            if let Some((ordered, items)) = nested {
                self.list(items, ordered, depth + 1)?;
            }
            self.y -= self.base_size * 0.2;
        }
        Ok(())
    }

    fn code(&mut self, text: &str) -> Result<()> {
        let size = self.base_size * 0.9;
        let width = self.setup.content_width() - 2.0 * CELL_PADDING;
        let line_height = size * 1.3;
        for raw in text.split('\n') {
            let raw = raw.replace('\t', "    ");
            let lines = if raw.is_empty() {
                vec![Line {
                    pieces: Vec::new(),
                    width: 0.0,
                    size,
                }]
            } else {
                self.break_lines(
                    &[Span {
                        text: raw.clone(),
                        code: true,
                        ..Span::default()
                    }],
                    size,
                    width,
                )?
            };
            for line in lines {
                self.ensure(line_height)?;
                let (x, y) = (self.setup.left, self.y - line_height);
                let w = self.setup.content_width();
                let _ = writeln!(
                    self.page().content,
                    "q 0.95 g {x:.2} {y:.2} {w:.2} {line_height:.2} re f Q"
                );
                self.place_lines(&[line], self.setup.left + CELL_PADDING, width, Align::Left);
            }
        }
        Ok(())
    }

    fn image(&mut self, data: &str, width: Option<f32>, align: Align) -> Result<()> {
        let bytes = flowforge_decode(data).ok_or_else(|| invalid("data", "is not valid base64"))?;
        let placed = add_image(self.document, &bytes, self.limits)?;
        let natural = placed.width as f32 * 72.0 / 96.0;
        let max_width = self.setup.content_width();
        let mut w = width.unwrap_or(natural).min(max_width);
        if w <= 0.0 {
            return Err(invalid("width", "must be positive"));
        }
        let mut h = w * placed.height as f32 / placed.width as f32;
        let page_room = self.setup.height - self.setup.top - self.setup.bottom;
        if h > page_room {
            w *= page_room / h;
            h = page_room;
        }
        self.ensure(h)?;
        let x = match align {
            Align::Center => self.setup.left + (max_width - w) / 2.0,
            Align::Right => self.setup.left + max_width - w,
            Align::Left | Align::Justify => self.setup.left,
        };
        let y = self.y - h;
        let page = self.page();
        let name = page.images.len();
        page.images.push(placed.id);
        let _ = writeln!(
            page.content,
            "q {w:.3} 0 0 {h:.3} {x:.3} {y:.3} cm /Im{name} Do Q"
        );
        self.y = y;
        Ok(())
    }

    fn table(
        &mut self,
        columns: &[Text],
        rows: &[Vec<Text>],
        widths: Option<&[f32]>,
        align: Option<&[Align]>,
    ) -> Result<()> {
        let count = columns
            .len()
            .max(rows.iter().map(Vec::len).max().unwrap_or(0));
        if count == 0 {
            return Ok(());
        }
        if count > 50 {
            return Err(invalid("rows", "a table has at most 50 columns"));
        }
        let weights: Vec<f32> = match widths {
            Some(w) if w.len() != count => {
                return Err(invalid(
                    "widths",
                    format!("give one width per column ({count})"),
                ));
            }
            Some(w) if w.iter().any(|v| !(v.is_finite() && *v > 0.0)) => {
                return Err(invalid("widths", "widths are positive numbers"));
            }
            Some(w) => w.to_vec(),
            None => vec![1.0; count],
        };
        let total: f32 = weights.iter().sum();
        let column_widths: Vec<f32> = weights
            .iter()
            .map(|w| w / total * self.setup.content_width())
            .collect();
        let size = self.base_size * 0.95;
        let header = if columns.is_empty() {
            None
        } else {
            Some(
                self.table_row(
                    &columns
                        .iter()
                        .map(|t| force_bold(t.spans()))
                        .collect::<Vec<_>>(),
                    &column_widths,
                    size,
                )?,
            )
        };
        if let Some(header) = &header {
            let first_row = rows.first().map_or(0.0, |r| {
                row_height_of(
                    &self
                        .table_row(
                            &r.iter().map(Text::spans).collect::<Vec<_>>(),
                            &column_widths,
                            size,
                        )
                        .unwrap_or_default(),
                )
            });
            self.ensure(row_height_of(header) + first_row.min(size * 3.0))?;
            self.draw_row(header, &column_widths, align, true)?;
        }
        for row in rows {
            let cells = self.table_row(
                &row.iter().map(Text::spans).collect::<Vec<_>>(),
                &column_widths,
                size,
            )?;
            let mut cells = cells;
            loop {
                let height = row_height_of(&cells);
                if height <= self.room() {
                    self.draw_row(&cells, &column_widths, align, false)?;
                    break;
                }
                // What does not fit continues on the next page, line by line.
                let fits = self.split_row(&mut cells);
                if let Some(part) = fits {
                    self.draw_row(&part, &column_widths, align, false)?;
                }
                self.break_page()?;
                if let Some(header) = &header {
                    self.draw_row(header, &column_widths, align, true)?;
                }
            }
            self.deadline.check()?;
        }
        Ok(())
    }

    fn table_row(
        &mut self,
        cells: &[Vec<Span>],
        widths: &[f32],
        size: f32,
    ) -> Result<Vec<Vec<Line>>> {
        widths
            .iter()
            .enumerate()
            .map(|(i, w)| match cells.get(i) {
                Some(spans) => self.break_lines(spans, size, w - 2.0 * CELL_PADDING),
                None => Ok(Vec::new()),
            })
            .collect()
    }

    /// Takes off the lines of each cell that fit in the room left; `None` when none do.
    fn split_row(&self, cells: &mut [Vec<Line>]) -> Option<Vec<Vec<Line>>> {
        let room = self.room() - 2.0 * CELL_PADDING;
        let mut part = Vec::with_capacity(cells.len());
        let mut any = false;
        for cell in cells.iter_mut() {
            let mut used = 0.0;
            let mut take = 0;
            for line in cell.iter() {
                if used + line.height() > room {
                    break;
                }
                used += line.height();
                take += 1;
            }
            any |= take > 0;
            part.push(cell.drain(..take).collect());
        }
        any.then_some(part)
    }

    fn draw_row(
        &mut self,
        cells: &[Vec<Line>],
        widths: &[f32],
        align: Option<&[Align]>,
        header: bool,
    ) -> Result<()> {
        let height = row_height_of(cells);
        let top = self.y;
        let mut x = self.setup.left;
        let full: f32 = widths.iter().sum();
        if header {
            let y = top - height;
            let _ = writeln!(
                self.page().content,
                "q 0.92 g {x:.2} {y:.2} {full:.2} {height:.2} re f Q"
            );
        }
        for (i, (cell, w)) in cells.iter().zip(widths).enumerate() {
            let a = align.and_then(|a| a.get(i)).copied().unwrap_or(Align::Left);
            self.y = top - CELL_PADDING;
            self.place_lines(cell, x + CELL_PADDING, w - 2.0 * CELL_PADDING, a);
            let y = top - height;
            let _ = writeln!(
                self.page().content,
                "q 0.5 w 0.6 G {x:.2} {y:.2} {w:.2} {height:.2} re S Q"
            );
            x += w;
        }
        self.y = top - height;
        Ok(())
    }

    /// Places lines, moving to a new page whenever the next one does not fit.
    fn flow_lines(&mut self, lines: &[Line], left: f32, width: f32, align: Align) -> Result<()> {
        let last = lines.len().saturating_sub(1);
        for (i, line) in lines.iter().enumerate() {
            self.ensure(line.height())?;
            // A justified paragraph's last line stays left-aligned.
            let a = if align == Align::Justify && i == last {
                Align::Left
            } else {
                align
            };
            self.place_lines(std::slice::from_ref(line), left, width, a);
        }
        Ok(())
    }

    /// Writes lines at the cursor without page checks (the caller made room).
    fn place_lines(&mut self, lines: &[Line], left: f32, width: f32, align: Align) {
        for line in lines {
            let ascent = face(Style::Regular).ascent / 1000.0;
            let baseline = self.y - line.size * ascent - (line.height() - line.size * 1.16) / 2.0;
            let slack = (width - line.width).max(0.0);
            match align {
                Align::Justify if line.pieces.len() > 1 => {
                    let extra = slack / (line.pieces.len() - 1) as f32;
                    let mut x = left;
                    for piece in &line.pieces {
                        self.draw_run(std::slice::from_ref(piece), x, baseline, false);
                        x += piece.width + self.space_width(piece) + extra;
                    }
                }
                _ => {
                    let x = match align {
                        Align::Center => left + slack / 2.0,
                        Align::Right => left + slack,
                        _ => left,
                    };
                    self.draw_line(line, x, baseline);
                }
            }
            self.y -= line.height();
        }
    }

    fn space_width(&self, piece: &Piece) -> f32 {
        face(piece.style).width(" ", piece.size)
    }

    /// Draws a line as runs of same-styled pieces, each run one `Tj` with real spaces in it.
    fn draw_line(&mut self, line: &Line, x: f32, baseline: f32) {
        let mut x = x;
        let mut start = 0;
        while start < line.pieces.len() {
            let first = &line.pieces[start];
            let mut end = start + 1;
            while end < line.pieces.len() && same_style(&line.pieces[end], first) {
                end += 1;
            }
            let run = &line.pieces[start..end];
            let lead = if start > 0 && first.space_before {
                self.space_width(first)
            } else {
                0.0
            };
            x += lead;
            let width = self.draw_run(run, x, baseline, true);
            x += width;
            start = end;
        }
    }

    /// Draws pieces of one style from `x`; returns the width drawn.
    fn draw_run(&mut self, run: &[Piece], x: f32, baseline: f32, joined: bool) -> f32 {
        let Some(first) = run.first() else { return 0.0 };
        let mut text = String::new();
        let mut width = 0.0;
        for (i, piece) in run.iter().enumerate() {
            if i > 0 && piece.space_before && joined {
                text.push(' ');
                width += self.space_width(piece);
            }
            text.push_str(&piece.text);
            width += piece.width;
        }
        let bytes = self.fonts.encode(self.document, first.style, &text);
        let shear = if first.italic { ITALIC_SHEAR } else { 0.0 };
        let color = first.color.map_or_else(
            || "0 g".to_owned(),
            |[r, g, b]| format!("{r:.3} {g:.3} {b:.3} rg"),
        );
        let mut hex = String::with_capacity(bytes.len() * 2);
        for b in &bytes {
            let _ = write!(hex, "{b:02X}");
        }
        let resource = first.style.resource();
        let size = first.size;
        let _ = writeln!(
            self.page().content,
            "BT {color} /{resource} {size:.2} Tf 1 0 {shear} 1 {x:.2} {baseline:.2} Tm <{hex}> Tj ET"
        );
        width
    }

    fn piece(
        &self,
        text: &str,
        style: Style,
        italic: bool,
        size: f32,
        color: Option<[f32; 3]>,
    ) -> Piece {
        Piece {
            text: text.to_owned(),
            style,
            italic,
            size,
            color,
            width: face(style).width(text, size),
            space_before: false,
        }
    }

    /// Breaks styled text into lines no wider than `width`.
    fn break_lines(&self, spans: &[Span], size: f32, width: f32) -> Result<Vec<Line>> {
        if width < size {
            return Err(invalid(
                "text",
                "the column is too narrow for the text size",
            ));
        }
        let mut lines = Vec::new();
        let mut line = Line {
            size,
            ..Line::default()
        };
        let mut pending_space = false;
        for span in spans {
            let style = if span.code {
                Style::Mono
            } else if span.bold {
                Style::Bold
            } else {
                Style::Regular
            };
            let color = span.color.as_deref().map(parse_color).transpose()?;
            let mut segments = span.text.split('\n').peekable();
            while let Some(segment) = segments.next() {
                let starts_with_space = segment.starts_with(char::is_whitespace);
                for (k, word) in segment.split_whitespace().enumerate() {
                    let space_before = if k == 0 {
                        pending_space || starts_with_space
                    } else {
                        true
                    };
                    for (j, fragment) in self
                        .fragments(word, style, size, width)
                        .into_iter()
                        .enumerate()
                    {
                        let mut piece = self.piece(&fragment, style, span.italic, size, color);
                        piece.space_before = space_before && j == 0 && !line.pieces.is_empty();
                        let space = if piece.space_before {
                            face(style).width(" ", size)
                        } else {
                            0.0
                        };
                        if !line.pieces.is_empty() && line.width + space + piece.width > width {
                            lines.push(std::mem::replace(
                                &mut line,
                                Line {
                                    size,
                                    ..Line::default()
                                },
                            ));
                            piece.space_before = false;
                        }
                        let space = if piece.space_before {
                            face(style).width(" ", size)
                        } else {
                            0.0
                        };
                        line.width += space + piece.width;
                        line.pieces.push(piece);
                    }
                }
                pending_space = segment.ends_with(char::is_whitespace)
                    && !segment.trim().is_empty()
                    || (segment.trim().is_empty() && !segment.is_empty());
                if segments.peek().is_some() {
                    // An explicit line break inside the text.
                    lines.push(std::mem::replace(
                        &mut line,
                        Line {
                            size,
                            ..Line::default()
                        },
                    ));
                    pending_space = false;
                }
            }
        }
        if !line.pieces.is_empty() || lines.is_empty() {
            lines.push(line);
        }
        Ok(lines)
    }

    /// A word wider than the line is cut into pieces that fit.
    fn fragments(&self, word: &str, style: Style, size: f32, width: f32) -> Vec<String> {
        let font = face(style);
        if font.width(word, size) <= width {
            return vec![word.to_owned()];
        }
        let mut out = Vec::new();
        let mut current = String::new();
        for ch in word.chars() {
            current.push(ch);
            if font.width(&current, size) > width && current.chars().count() > 1 {
                current.pop();
                out.push(std::mem::take(&mut current));
                current.push(ch);
            }
        }
        if !current.is_empty() {
            out.push(current);
        }
        out
    }

    /// Draws a header or footer band on every page, with `{page}` and `{pages}` filled in.
    pub fn band(&mut self, text: &str, align: Align, top: bool) {
        let total = self.pages.len();
        let size = self.base_size * 0.8;
        let font = face(Style::Regular);
        for index in 0..total {
            let filled = text
                .replace("{page}", &(index + 1).to_string())
                .replace("{pages}", &total.to_string());
            let width = font.width(&filled, size);
            let area = self.setup.content_width();
            let x = match align {
                Align::Center => self.setup.left + (area - width) / 2.0,
                Align::Right => self.setup.left + area - width,
                _ => self.setup.left,
            };
            let y = if top {
                self.setup.height - self.setup.top / 2.0
            } else {
                self.setup.bottom / 2.0 - size / 2.0
            };
            let bytes = self.fonts.encode(self.document, Style::Regular, &filled);
            let hex: String = bytes.iter().map(|b| format!("{b:02X}")).collect();
            let _ = writeln!(
                self.pages[index].content,
                "BT 0.35 g /{} {size:.2} Tf 1 0 0 1 {x:.2} {y:.2} Tm <{hex}> Tj ET",
                Style::Regular.resource()
            );
        }
    }
}

fn row_height_of(cells: &[Vec<Line>]) -> f32 {
    cells
        .iter()
        .map(|c| c.iter().map(Line::height).sum::<f32>())
        .fold(0.0, f32::max)
        + 2.0 * CELL_PADDING
}

fn same_style(a: &Piece, b: &Piece) -> bool {
    a.style == b.style && a.italic == b.italic && a.size == b.size && a.color == b.color
}

fn force_bold(spans: Vec<Span>) -> Vec<Span> {
    spans
        .into_iter()
        .map(|s| Span { bold: true, ..s })
        .collect()
}

/// `#rrggbb` → RGB in 0–1.
pub fn parse_color(text: &str) -> Result<[f32; 3]> {
    let hex = text.trim_start_matches('#');
    let channel = |i: usize| {
        hex.get(i..i + 2)
            .and_then(|h| u8::from_str_radix(h, 16).ok())
            .map(|v| f32::from(v) / 255.0)
    };
    match (hex.len(), channel(0), channel(2), channel(4)) {
        (6, Some(r), Some(g), Some(b)) => Ok([r, g, b]),
        _ => Err(invalid("color", format!("`{text}` is not #rrggbb"))),
    }
}

fn flowforge_decode(data: &str) -> Option<Vec<u8>> {
    let data = data.split_once("base64,").map_or(data, |(_, d)| d);
    let compact: String = data.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    base64::engine::general_purpose::STANDARD
        .decode(&compact)
        .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(&compact))
        .ok()
}
