//! Markdown (CommonMark with tables and strikethrough) → the document model.

use pulldown_cmark::{Alignment, Event, HeadingLevel, Options, Parser, Tag, TagEnd};

use super::model::{Align, Block, ListItem, Span, Text};

/// Marks that force a page break when alone on a line.
const PAGE_BREAKS: [&str; 3] = ["<!-- pagebreak -->", "\\pagebreak", "\\newpage"];

/// The blocks of a Markdown document. Images are kept as their alt text (the service fetches
/// nothing), raw HTML as text.
pub fn to_blocks(markdown: &str) -> Vec<Block> {
    let mut builder = Builder::default();
    let options = Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH;
    for event in Parser::new_ext(markdown, options) {
        builder.event(event);
    }
    builder.blocks
}

#[derive(Default)]
struct Style {
    bold: usize,
    italic: usize,
}

/// A list being built: its items and whether it is numbered.
struct ListFrame {
    ordered: bool,
    items: Vec<ListItem>,
    /// The current item's text and nested list.
    text: Vec<Span>,
    nested: Option<(bool, Vec<ListItem>)>,
}

#[derive(Default)]
struct Builder {
    blocks: Vec<Block>,
    spans: Vec<Span>,
    style: Style,
    lists: Vec<ListFrame>,
    heading: Option<u8>,
    code: Option<String>,
    quote: usize,
    table: Option<TableBuilder>,
}

#[derive(Default)]
struct TableBuilder {
    align: Vec<Align>,
    header: Vec<Text>,
    rows: Vec<Vec<Text>>,
    row: Vec<Text>,
    in_head: bool,
}

impl Builder {
    fn push_text(&mut self, text: &str, code: bool) {
        if text.is_empty() {
            return;
        }
        self.spans.push(Span {
            text: text.to_owned(),
            bold: self.style.bold > 0,
            italic: self.style.italic > 0,
            code,
            color: None,
        });
    }

    fn take_text(&mut self) -> Text {
        Text::Spans(std::mem::take(&mut self.spans))
    }

    fn event(&mut self, event: Event<'_>) {
        match event {
            Event::Start(tag) => self.start(tag),
            Event::End(tag) => self.end(tag),
            Event::Text(text) => match &mut self.code {
                Some(code) => code.push_str(&text),
                None => self.push_text(&text, false),
            },
            Event::Code(text) => self.push_text(&text, true),
            Event::SoftBreak => self.push_text(" ", false),
            Event::HardBreak => self.push_text("\n", false),
            Event::Rule => self.blocks.push(Block::Rule),
            Event::Html(html) | Event::InlineHtml(html) => {
                let trimmed = html.trim();
                if PAGE_BREAKS.iter().any(|b| trimmed.eq_ignore_ascii_case(b)) {
                    self.blocks.push(Block::PageBreak);
                } else if !trimmed.starts_with("<!--") {
                    self.push_text(&html, false);
                }
            }
            Event::TaskListMarker(done) => self.push_text(if done { "☑ " } else { "☐ " }, false),
            Event::FootnoteReference(name) => self.push_text(&format!("[{name}]"), false),
            Event::InlineMath(text) | Event::DisplayMath(text) => self.push_text(&text, true),
        }
    }

    fn start(&mut self, tag: Tag<'_>) {
        match tag {
            Tag::Heading { level, .. } => {
                self.heading = Some(match level {
                    HeadingLevel::H1 => 1,
                    HeadingLevel::H2 => 2,
                    HeadingLevel::H3 => 3,
                    HeadingLevel::H4 => 4,
                    HeadingLevel::H5 => 5,
                    HeadingLevel::H6 => 6,
                });
            }
            Tag::CodeBlock(_) => self.code = Some(String::new()),
            Tag::BlockQuote(_) => self.quote += 1,
            Tag::List(first) => {
                // A list inside an item: the item's text so far is its text.
                if let Some(frame) = self.lists.last_mut() {
                    frame.text.append(&mut self.spans);
                }
                self.lists.push(ListFrame {
                    ordered: first.is_some(),
                    items: Vec::new(),
                    text: Vec::new(),
                    nested: None,
                });
            }
            Tag::Strong => self.style.bold += 1,
            Tag::Emphasis => self.style.italic += 1,
            Tag::Table(align) => {
                self.table = Some(TableBuilder {
                    align: align
                        .iter()
                        .map(|a| match a {
                            Alignment::Center => Align::Center,
                            Alignment::Right => Align::Right,
                            _ => Align::Left,
                        })
                        .collect(),
                    ..TableBuilder::default()
                });
            }
            Tag::TableHead => {
                if let Some(t) = &mut self.table {
                    t.in_head = true;
                }
            }
            Tag::Image { .. } => self.push_text("[image: ", false),
            _ => {}
        }
    }

    fn end(&mut self, tag: TagEnd) {
        match tag {
            TagEnd::Paragraph => {
                if self.lists.is_empty() && self.table.is_none() {
                    let text = self.take_text();
                    if self.quote > 0 {
                        self.blocks.push(Block::Quote { text });
                    } else if is_page_break(&text) {
                        self.blocks.push(Block::PageBreak);
                    } else {
                        self.blocks.push(Block::Paragraph {
                            text,
                            align: Align::Left,
                            size: None,
                        });
                    }
                } else if let Some(frame) = self.lists.last_mut() {
                    // Loose list items hold paragraphs: join them.
                    if !frame.text.is_empty() {
                        frame.text.push(Span::plain(" "));
                    }
                    frame.text.append(&mut self.spans);
                }
            }
            TagEnd::Heading(_) => {
                let level = self.heading.take().unwrap_or(1);
                let text = self.take_text();
                self.blocks.push(Block::Heading { level, text });
            }
            TagEnd::CodeBlock => {
                let mut code = self.code.take().unwrap_or_default();
                if code.ends_with('\n') {
                    code.pop();
                }
                self.blocks.push(Block::Code { text: code });
            }
            TagEnd::BlockQuote(_) => self.quote = self.quote.saturating_sub(1),
            TagEnd::Item => {
                if let Some(frame) = self.lists.last_mut() {
                    frame.text.append(&mut self.spans);
                    let text = Text::Spans(std::mem::take(&mut frame.text));
                    let item = match frame.nested.take() {
                        Some((ordered, items)) => ListItem::Nested {
                            text,
                            ordered,
                            items,
                        },
                        None => ListItem::Text(text),
                    };
                    frame.items.push(item);
                }
            }
            TagEnd::List(_) => {
                if let Some(frame) = self.lists.pop() {
                    match self.lists.last_mut() {
                        Some(parent) => parent.nested = Some((frame.ordered, frame.items)),
                        None => self.blocks.push(Block::List {
                            ordered: frame.ordered,
                            items: frame.items,
                        }),
                    }
                }
            }
            TagEnd::Strong => self.style.bold = self.style.bold.saturating_sub(1),
            TagEnd::Emphasis => self.style.italic = self.style.italic.saturating_sub(1),
            TagEnd::TableCell => {
                let text = self.take_text();
                if let Some(t) = &mut self.table {
                    if t.in_head {
                        t.header.push(text);
                    } else {
                        t.row.push(text);
                    }
                }
            }
            TagEnd::TableHead => {
                if let Some(t) = &mut self.table {
                    t.in_head = false;
                }
            }
            TagEnd::TableRow => {
                if let Some(t) = &mut self.table {
                    let row = std::mem::take(&mut t.row);
                    t.rows.push(row);
                }
            }
            TagEnd::Table => {
                if let Some(t) = self.table.take() {
                    let header_is_empty = t.header.iter().all(text_is_empty);
                    self.blocks.push(Block::Table {
                        columns: if header_is_empty {
                            Vec::new()
                        } else {
                            t.header
                        },
                        rows: t.rows,
                        widths: None,
                        align: Some(t.align),
                    });
                }
            }
            TagEnd::Image => self.push_text("]", false),
            _ => {}
        }
    }
}

fn text_is_empty(text: &Text) -> bool {
    match text {
        Text::Plain(t) => t.trim().is_empty(),
        Text::Spans(spans) => spans.iter().all(|s| s.text.trim().is_empty()),
    }
}

fn is_page_break(text: &Text) -> bool {
    let Text::Spans(spans) = text else {
        return false;
    };
    let joined: String = spans.iter().map(|s| s.text.as_str()).collect();
    PAGE_BREAKS
        .iter()
        .any(|b| joined.trim().eq_ignore_ascii_case(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plain(text: &Text) -> String {
        match text {
            Text::Plain(t) => t.clone(),
            Text::Spans(s) => s.iter().map(|s| s.text.as_str()).collect(),
        }
    }

    #[test]
    fn markdown_becomes_blocks() {
        let blocks = to_blocks(
            "# Title\n\nSome **bold** and *italic* `code`.\n\n- one\n- two\n  1. nested\n\n\\newpage\n\n| a | b |\n|---|--:|\n| 1 | 2 |\n\n```\nfn x() {}\n```\n",
        );
        assert!(matches!(&blocks[0], Block::Heading { level: 1, text } if plain(text) == "Title"));
        let Block::Paragraph {
            text: Text::Spans(spans),
            ..
        } = &blocks[1]
        else {
            panic!("{:?}", blocks[1])
        };
        assert!(spans.iter().any(|s| s.bold && s.text == "bold"));
        assert!(spans.iter().any(|s| s.italic && s.text == "italic"));
        assert!(spans.iter().any(|s| s.code && s.text == "code"));
        let Block::List {
            ordered: false,
            items,
        } = &blocks[2]
        else {
            panic!("{:?}", blocks[2])
        };
        assert_eq!(items.len(), 2);
        assert!(
            matches!(&items[1], ListItem::Nested { ordered: true, items, .. } if items.len() == 1)
        );
        assert_eq!(blocks[3], Block::PageBreak);
        let Block::Table {
            columns,
            rows,
            align,
            ..
        } = &blocks[4]
        else {
            panic!("{:?}", blocks[4])
        };
        assert_eq!(columns.len(), 2);
        assert_eq!(rows.len(), 1);
        assert_eq!(align.as_deref(), Some(&[Align::Left, Align::Right][..]));
        assert_eq!(
            blocks[5],
            Block::Code {
                text: "fn x() {}".into()
            }
        );
    }
}
