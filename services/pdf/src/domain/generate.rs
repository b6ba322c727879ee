//! Documents from a JSON model, from Markdown, or from a Markdown template filled with data.

pub mod layout;
pub mod markdown;
pub mod model;

use lopdf::{Document, Object, Stream, dictionary};

use self::layout::{Layout, PageSetup};
use self::model::{DocumentModel, Margins, Orientation};
use super::{Deadline, PdfLimits, Result, internal, invalid};

/// Named page sizes in points.
const SIZES: [(&str, f32, f32); 6] = [
    ("a3", 841.89, 1190.55),
    ("a4", 595.28, 841.89),
    ("a5", 419.53, 595.28),
    ("letter", 612.0, 792.0),
    ("legal", 612.0, 1008.0),
    ("tabloid", 792.0, 1224.0),
];

/// The page geometry a model asks for.
pub fn page_setup(model: &DocumentModel) -> Result<PageSetup> {
    let size = model.page.size.as_deref().unwrap_or("A4");
    let (mut width, mut height) = match SIZES.iter().find(|(n, _, _)| n.eq_ignore_ascii_case(size))
    {
        Some((_, w, h)) => (*w, *h),
        None => {
            let parsed = size.split_once(['x', 'X']).and_then(|(w, h)| {
                Some((w.trim().parse::<f32>().ok()?, h.trim().parse::<f32>().ok()?))
            });
            match parsed {
                Some((w, h))
                    if (72.0..=14_400.0).contains(&w) && (72.0..=14_400.0).contains(&h) =>
                {
                    (w, h)
                }
                _ => {
                    return Err(invalid(
                        "page.size",
                        "A3, A4, A5, Letter, Legal, Tabloid, or WIDTHxHEIGHT in points (72–14400)",
                    ));
                }
            }
        }
    };
    if model.page.orientation == Orientation::Landscape {
        std::mem::swap(&mut width, &mut height);
    }
    let (top, right, bottom, left) = match model.page.margins {
        None => (56.0, 56.0, 56.0, 56.0),
        Some(Margins::All(m)) => (m, m, m, m),
        Some(Margins::Sides {
            top,
            right,
            bottom,
            left,
        }) => (top, right, bottom, left),
    };
    let margins_ok = [top, right, bottom, left]
        .iter()
        .all(|m| m.is_finite() && *m >= 0.0)
        && left + right < width - 72.0
        && top + bottom < height - 72.0;
    if !margins_ok {
        return Err(invalid(
            "page.margins",
            "margins must leave at least one inch of page",
        ));
    }
    Ok(PageSetup {
        width,
        height,
        top,
        right,
        bottom,
        left,
    })
}

/// Lays out `model` and writes the PDF.
pub fn from_model(
    model: &DocumentModel,
    limits: &PdfLimits,
    deadline: Deadline,
) -> Result<Document> {
    let setup = page_setup(model)?;
    let base_size = model.font_size.unwrap_or(11.0);
    if !(4.0..=72.0).contains(&base_size) {
        return Err(invalid("fontSize", "must be between 4 and 72 points"));
    }
    let mut document = Document::with_version("1.7");
    let mut layout = Layout::new(&mut document, setup, base_size, limits, deadline);
    layout.blocks(&model.content)?;
    if let Some(header) = &model.header {
        layout.band(&header.text, header.align, true);
    }
    if let Some(footer) = &model.footer {
        layout.band(&footer.text, footer.align, false);
    }
    let Layout { fonts, pages, .. } = layout;
    let font_resources = fonts.resources();
    fonts.finish(&mut document)?;

    let pages_id = document.new_object_id();
    let mut kids = Vec::with_capacity(pages.len());
    for page in pages {
        let mut images = lopdf::Dictionary::new();
        for (i, id) in page.images.iter().enumerate() {
            images.set(format!("Im{i}"), *id);
        }
        let mut content = Stream::new(dictionary! {}, page.content.into_bytes());
        content.compress().map_err(internal)?;
        let content_id = document.add_object(content);
        let page_id = document.add_object(dictionary! {
            "Type" => "Page",
            "Parent" => pages_id,
            "MediaBox" => vec![0.into(), 0.into(), Object::Real(setup.width), Object::Real(setup.height)],
            "Resources" => dictionary! { "Font" => font_resources.clone(), "XObject" => images },
            "Contents" => content_id,
        });
        kids.push(Object::Reference(page_id));
    }
    super::finish_page_tree(&mut document, pages_id, kids);
    super::info::stamp_new(&mut document, model.title.as_deref());
    if let Some(author) = &model.author
        && let Ok(info) = document.trailer.get(b"Info").and_then(Object::as_reference)
        && let Ok(dictionary) = document.get_dictionary_mut(info)
    {
        dictionary.set("Author", lopdf::text_string(author));
    }
    Ok(document)
}

/// Renders a Markdown template (minijinja syntax) with `data`, then lays it out.
pub fn render_template(template: &str, data: &serde_json::Value) -> Result<String> {
    let mut env = minijinja::Environment::new();
    env.set_fuel(Some(2_000_000));
    env.set_undefined_behavior(minijinja::UndefinedBehavior::SemiStrict);
    env.add_template("document", template)
        .map_err(|e| invalid("template", e.to_string()))?;
    let template = env.get_template("document").map_err(internal)?;
    template
        .render(minijinja::Value::from(minijinja::value::Serde(data)))
        .map_err(|e| invalid("data", format!("the template could not be rendered: {e}")))
}

/// The built-in templates by name.
pub fn builtin_template(name: &str) -> Option<&'static str> {
    match name {
        "invoice" => Some(include_str!("../../templates/invoice.md")),
        _ => None,
    }
}
