//! What a document is (pages, sizes, version, metadata, encryption) and writing its metadata.

use std::collections::BTreeMap;

use lopdf::{Dictionary, Document, Object, decode_text_string, dictionary, text_string};
use serde::Serialize;

use super::{Result, number, page_ids};

/// The document information keys the service reads and writes, as JSON names → PDF keys.
pub const METADATA_KEYS: [(&str, &str); 8] = [
    ("title", "Title"),
    ("author", "Author"),
    ("subject", "Subject"),
    ("keywords", "Keywords"),
    ("creator", "Creator"),
    ("producer", "Producer"),
    ("creationDate", "CreationDate"),
    ("modDate", "ModDate"),
];

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PageInfo {
    pub page: usize,
    /// Points (1/72 inch), as displayed (after rotation).
    pub width: f32,
    pub height: f32,
    pub rotation: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Info {
    pub pages: usize,
    pub version: String,
    pub encrypted: bool,
    pub metadata: BTreeMap<String, String>,
    pub page_sizes: Vec<PageInfo>,
    pub has_outline: bool,
    pub has_forms: bool,
    pub images: usize,
    pub fonts: Vec<String>,
}

/// Reads a document's description.
pub fn info(document: &Document) -> Info {
    let mut fonts = std::collections::BTreeSet::new();
    let mut images = 0;
    let page_sizes = page_ids(document)
        .into_iter()
        .enumerate()
        .map(|(i, id)| {
            let media_box = inherited(document, id, b"MediaBox")
                .and_then(|o| o.as_array().ok().cloned())
                .and_then(|a| a.iter().map(number).collect::<Option<Vec<f32>>>())
                .filter(|a| a.len() == 4)
                .unwrap_or_else(|| vec![0.0, 0.0, 612.0, 792.0]);
            let rotation = inherited(document, id, b"Rotate")
                .and_then(|o| o.as_i64().ok())
                .unwrap_or(0)
                .rem_euclid(360);
            let (w, h) = (
                (media_box[2] - media_box[0]).abs(),
                (media_box[3] - media_box[1]).abs(),
            );
            if let Ok(page_fonts) = document.get_page_fonts(id) {
                for font in page_fonts.values() {
                    if let Ok(name) = font.get(b"BaseFont").and_then(Object::as_name) {
                        let name = String::from_utf8_lossy(name);
                        // Drop a subset tag (`ABCDEF+`).
                        let name = match name.split_once('+') {
                            Some((tag, rest)) if tag.len() == 6 => rest.to_owned(),
                            _ => name.into_owned(),
                        };
                        fonts.insert(name);
                    }
                }
            }
            images += document.get_page_images(id).map_or(0, |i| i.len());
            PageInfo {
                page: i + 1,
                width: if rotation % 180 == 0 { w } else { h },
                height: if rotation % 180 == 0 { h } else { w },
                rotation,
            }
        })
        .collect::<Vec<_>>();
    let catalog = document.catalog().ok();
    Info {
        pages: page_sizes.len(),
        version: document.version.clone(),
        encrypted: document.was_encrypted(),
        metadata: metadata(document),
        page_sizes,
        has_outline: catalog.is_some_and(|c| c.has(b"Outlines")),
        has_forms: catalog.is_some_and(|c| c.has(b"AcroForm")),
        images,
        fonts: fonts.into_iter().collect(),
    }
}

fn inherited<'a>(document: &'a Document, page: lopdf::ObjectId, key: &[u8]) -> Option<&'a Object> {
    let mut node = document.get_dictionary(page).ok()?;
    for _ in 0..32 {
        if let Ok(value) = node.get(key) {
            return document.dereference(value).ok().map(|(_, o)| o);
        }
        node = document
            .get_dictionary(node.get(b"Parent").ok()?.as_reference().ok()?)
            .ok()?;
    }
    None
}

fn info_dictionary(document: &Document) -> Option<&Dictionary> {
    let info = document.trailer.get(b"Info").ok()?;
    document.dereference(info).ok()?.1.as_dict().ok()
}

/// The document information dictionary as text (dates stay in PDF form, `D:YYYYMMDD…`).
pub fn metadata(document: &Document) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let Some(info) = info_dictionary(document) else {
        return out;
    };
    for (json, key) in METADATA_KEYS {
        if let Some(value) = info
            .get(key.as_bytes())
            .ok()
            .and_then(|o| decode_text_string(o).ok())
            .map(|s| s.trim_end_matches('\0').to_owned())
            .filter(|s| !s.is_empty())
        {
            out.insert(json.to_owned(), value);
        }
    }
    out
}

/// Sets (a value) or removes (`None`) metadata entries; `ModDate` becomes now.
pub fn set_metadata(
    document: &mut Document,
    changes: &BTreeMap<String, Option<String>>,
) -> Result<()> {
    let mut info = info_dictionary(document).cloned().unwrap_or_default();
    for (json, value) in changes {
        let Some((_, key)) = METADATA_KEYS.iter().find(|(j, _)| j == json) else {
            return Err(super::invalid(
                json,
                "unknown metadata key (title, author, subject, keywords, creator, producer, creationDate, modDate)",
            ));
        };
        match value {
            Some(text) => info.set(key.as_bytes().to_vec(), text_string(text)),
            None => {
                info.remove(key.as_bytes());
            }
        }
    }
    if !changes.contains_key("modDate") {
        info.set("ModDate", text_string(&pdf_date(chrono::Utc::now())));
    }
    let id = document.add_object(info);
    document.trailer.set("Info", id);
    document.prune_objects();
    Ok(())
}

/// A date in PDF's form, `D:YYYYMMDDHHmmSSZ`.
pub fn pdf_date(time: chrono::DateTime<chrono::Utc>) -> String {
    time.format("D:%Y%m%d%H%M%SZ").to_string()
}

/// Sets producer and creation date on a document this service made.
pub fn stamp_new(document: &mut Document, title: Option<&str>) {
    let now = text_string(&pdf_date(chrono::Utc::now()));
    let mut info = dictionary! {
        "Producer" => text_string("FlowForge"),
        "CreationDate" => now.clone(),
        "ModDate" => now,
    };
    if let Some(title) = title {
        info.set("Title", text_string(title));
    }
    let id = document.add_object(info);
    document.trailer.set("Info", id);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_written_in_pdf_form() {
        let time = chrono::DateTime::parse_from_rfc3339("2026-11-30T08:00:05Z")
            .unwrap()
            .with_timezone(&chrono::Utc);
        assert_eq!(pdf_date(time), "D:20261130080005Z");
    }
}
