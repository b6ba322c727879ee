//! The JSON document model: what a client describes, before layout.

use serde::Deserialize;

/// A whole document.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DocumentModel {
    #[serde(default)]
    pub page: PageOptions,
    /// Document title (metadata).
    pub title: Option<String>,
    pub author: Option<String>,
    /// Body text size in points (default 11).
    pub font_size: Option<f32>,
    /// Text drawn at the top of every page; `{page}` and `{pages}` are replaced.
    pub header: Option<Band>,
    /// Text drawn at the bottom of every page; `{page}` and `{pages}` are replaced.
    pub footer: Option<Band>,
    pub content: Vec<Block>,
}

/// Page size, orientation and margins.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PageOptions {
    /// A4 (default), A3, A5, Letter, Legal, or `WIDTHxHEIGHT` in points.
    pub size: Option<String>,
    #[serde(default)]
    pub orientation: Orientation,
    /// Margins in points: one number, or top/right/bottom/left.
    pub margins: Option<Margins>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Orientation {
    #[default]
    Portrait,
    Landscape,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(untagged)]
pub enum Margins {
    All(f32),
    Sides {
        top: f32,
        right: f32,
        bottom: f32,
        left: f32,
    },
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Band {
    pub text: String,
    #[serde(default)]
    pub align: Align,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Align {
    #[default]
    Left,
    Center,
    Right,
    Justify,
}

/// A run of text with one style.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Span {
    pub text: String,
    #[serde(default)]
    pub bold: bool,
    #[serde(default)]
    pub italic: bool,
    /// Monospaced.
    #[serde(default)]
    pub code: bool,
    /// `#rrggbb`.
    pub color: Option<String>,
}

impl Span {
    pub fn plain(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            ..Self::default()
        }
    }
}

/// Text given as a plain string or as styled spans.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum Text {
    Plain(String),
    Spans(Vec<Span>),
}

impl Text {
    pub fn spans(&self) -> Vec<Span> {
        match self {
            Text::Plain(text) => vec![Span::plain(text.clone())],
            Text::Spans(spans) => spans.clone(),
        }
    }
}

/// A list item: text, optionally with a nested list.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum ListItem {
    Text(Text),
    Nested {
        text: Text,
        #[serde(default)]
        ordered: bool,
        items: Vec<ListItem>,
    },
}

/// One block of content.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase", deny_unknown_fields)]
pub enum Block {
    Heading {
        /// 1–6.
        #[serde(default = "one")]
        level: u8,
        text: Text,
    },
    Paragraph {
        text: Text,
        #[serde(default)]
        align: Align,
        /// Text size in points (default: the document's).
        size: Option<f32>,
    },
    List {
        #[serde(default)]
        ordered: bool,
        items: Vec<ListItem>,
    },
    Table {
        /// Header cells (optional).
        #[serde(default)]
        columns: Vec<Text>,
        rows: Vec<Vec<Text>>,
        /// Relative column widths (default equal).
        widths: Option<Vec<f32>>,
        /// Per-column alignment.
        align: Option<Vec<Align>>,
    },
    Image {
        /// The image, base64 (PNG, JPEG, WebP, GIF, BMP, TIFF).
        data: String,
        /// Width in points (default: natural size at 96 dpi, shrunk to fit).
        width: Option<f32>,
        #[serde(default)]
        align: Align,
    },
    Code {
        text: String,
    },
    Quote {
        text: Text,
    },
    Rule,
    Spacer {
        /// Points.
        height: f32,
    },
    PageBreak,
}

fn one() -> u8 {
    1
}
