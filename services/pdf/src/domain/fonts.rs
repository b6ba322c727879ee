//! The shipped fonts (`flowforge-fonts`: DejaVu Sans, Sans Bold, Sans Mono) and their
//! embedding: a document carries a subset with only the glyphs it uses, as a CID font
//! (Identity-H) with widths and a ToUnicode map so its text can be searched and extracted again.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::LazyLock;

use lopdf::{Dictionary, Document, Object, ObjectId, Stream, StringFormat, dictionary};
use subsetter::GlyphRemapper;

use super::{Result, internal};

/// A face of the shipped family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Style {
    Regular,
    Bold,
    Mono,
}

impl Style {
    fn index(self) -> usize {
        self as usize
    }

    /// The name the face has in a page's font resources.
    pub fn resource(self) -> &'static str {
        match self {
            Style::Regular => "FF1",
            Style::Bold => "FF2",
            Style::Mono => "FF3",
        }
    }
}

/// A parsed face with the metrics layout needs.
pub struct Face {
    data: &'static [u8],
    face: ttf_parser::Face<'static>,
    name: &'static str,
    units: f32,
    /// Ascent and descent in 1/1000 em (PDF glyph space).
    pub ascent: f32,
    pub descent: f32,
    cap_height: f32,
    bbox: [f32; 4],
}

static FACES: LazyLock<Vec<Face>> = LazyLock::new(|| {
    [
        (flowforge_fonts::SANS, "DejaVuSans"),
        (flowforge_fonts::SANS_BOLD, "DejaVuSans-Bold"),
        (flowforge_fonts::SANS_MONO, "DejaVuSansMono"),
    ]
    .into_iter()
    .map(|(data, name)| {
        #[allow(clippy::expect_used, reason = "the fonts are compiled in and tested")]
        let face = ttf_parser::Face::parse(data, 0).expect("shipped font parses");
        let units = f32::from(face.units_per_em());
        let per_mille = |v: i16| f32::from(v) * 1000.0 / units;
        let b = face.global_bounding_box();
        Face {
            data,
            name,
            units,
            ascent: per_mille(face.ascender()),
            descent: per_mille(face.descender()),
            cap_height: per_mille(face.capital_height().unwrap_or(face.ascender())),
            bbox: [
                per_mille(b.x_min),
                per_mille(b.y_min),
                per_mille(b.x_max),
                per_mille(b.y_max),
            ],
            face,
        }
    })
    .collect()
});

/// The shipped face for `style`.
pub fn face(style: Style) -> &'static Face {
    &FACES[style.index()]
}

impl Face {
    /// The glyph for `ch`, or `?`'s when the font lacks it (never an invisible .notdef box).
    fn glyph(&self, ch: char) -> u16 {
        self.face
            .glyph_index(ch)
            .or_else(|| self.face.glyph_index('?'))
            .map_or(0, |g| g.0)
    }

    /// Advance of a glyph in 1/1000 em.
    fn advance(&self, glyph: u16) -> f32 {
        f32::from(
            self.face
                .glyph_hor_advance(ttf_parser::GlyphId(glyph))
                .unwrap_or(0),
        ) * 1000.0
            / self.units
    }

    /// Width of `text` set at `size` points.
    pub fn width(&self, text: &str, size: f32) -> f32 {
        text.chars()
            .filter(|c| !c.is_control())
            .map(|c| self.advance(self.glyph(c)))
            .sum::<f32>()
            * size
            / 1000.0
    }
}

/// The glyphs one document uses, per face; written as fonts at the end.
#[derive(Default)]
pub struct FontSet {
    used: BTreeMap<Style, UsedFont>,
}

struct UsedFont {
    id: ObjectId,
    remapper: GlyphRemapper,
    /// New glyph id → (text it stands for, advance in 1/1000 em).
    glyphs: BTreeMap<u16, (char, f32)>,
}

impl FontSet {
    /// The bytes of a `Tj` string showing `text` in `style`; the face's glyphs join the subset.
    pub fn encode(&mut self, document: &mut Document, style: Style, text: &str) -> Vec<u8> {
        let face = face(style);
        let used = self.used.entry(style).or_insert_with(|| UsedFont {
            id: document.new_object_id(),
            remapper: GlyphRemapper::new(),
            glyphs: BTreeMap::new(),
        });
        let mut bytes = Vec::with_capacity(text.len() * 2);
        for ch in text.chars().filter(|c| !c.is_control()) {
            let old = face.glyph(ch);
            let new = used.remapper.remap(old);
            used.glyphs.entry(new).or_insert((ch, face.advance(old)));
            bytes.extend_from_slice(&new.to_be_bytes());
        }
        bytes
    }

    /// The font object of `style`, once any text used it.
    pub fn font_id(&self, style: Style) -> Option<ObjectId> {
        self.used.get(&style).map(|u| u.id)
    }

    /// The `/Font` resource dictionary naming every face used.
    pub fn resources(&self) -> Dictionary {
        let mut fonts = Dictionary::new();
        for (style, used) in &self.used {
            fonts.set(style.resource(), used.id);
        }
        fonts
    }

    /// Writes the subset fonts into `document`.
    pub fn finish(self, document: &mut Document) -> Result<()> {
        for (tag, (style, used)) in self.used.into_iter().enumerate() {
            let face = face(style);
            let subset = subsetter::subset(face.data, 0, &used.remapper).map_err(internal)?;
            // A subset font's name starts with six capital letters unique in the document.
            let prefix: String = (0..6)
                .map(|i| char::from(b'A' + ((tag * 7 + i * 3) % 26) as u8))
                .collect();
            let base_font = format!("{prefix}+{}", face.name);

            let mut file = Stream::new(dictionary! { "Length1" => subset.len() as i64 }, subset);
            file.compress().map_err(internal)?;
            let file_id = document.add_object(file);
            let descriptor = document.add_object(dictionary! {
                "Type" => "FontDescriptor",
                "FontName" => Object::Name(base_font.clone().into_bytes()),
                "Flags" => if style == Style::Mono { 33 } else { 32 },
                "FontBBox" => face.bbox.iter().map(|v| Object::Real(*v)).collect::<Vec<_>>(),
                "ItalicAngle" => 0,
                "Ascent" => Object::Real(face.ascent),
                "Descent" => Object::Real(face.descent),
                "CapHeight" => Object::Real(face.cap_height),
                "StemV" => if style == Style::Bold { 120 } else { 80 },
                "FontFile2" => file_id,
            });
            let widths: Vec<Object> = used
                .glyphs
                .iter()
                .flat_map(|(gid, (_, w))| {
                    [
                        Object::Integer(i64::from(*gid)),
                        Object::Array(vec![Object::Real(w.round())]),
                    ]
                })
                .collect();
            let cid_font = document.add_object(dictionary! {
                "Type" => "Font",
                "Subtype" => "CIDFontType2",
                "BaseFont" => Object::Name(base_font.clone().into_bytes()),
                "CIDSystemInfo" => dictionary! {
                    "Registry" => Object::String(b"Adobe".to_vec(), StringFormat::Literal),
                    "Ordering" => Object::String(b"Identity".to_vec(), StringFormat::Literal),
                    "Supplement" => 0,
                },
                "FontDescriptor" => descriptor,
                "DW" => 1000,
                "W" => widths,
                "CIDToGIDMap" => "Identity",
            });
            let mut to_unicode = Stream::new(
                Dictionary::new(),
                to_unicode_cmap(&used.glyphs).into_bytes(),
            );
            to_unicode.compress().map_err(internal)?;
            let to_unicode = document.add_object(to_unicode);
            document.objects.insert(
                used.id,
                Object::Dictionary(dictionary! {
                    "Type" => "Font",
                    "Subtype" => "Type0",
                    "BaseFont" => Object::Name(base_font.into_bytes()),
                    "Encoding" => "Identity-H",
                    "DescendantFonts" => vec![Object::Reference(cid_font)],
                    "ToUnicode" => to_unicode,
                }),
            );
        }
        Ok(())
    }
}

/// A CMap from two-byte glyph codes to the UTF-16 text they show.
fn to_unicode_cmap(glyphs: &BTreeMap<u16, (char, f32)>) -> String {
    let mut cmap = String::from(
        "/CIDInit /ProcSet findresource begin\n12 dict begin\nbegincmap\n\
         /CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def\n\
         /CMapName /Adobe-Identity-UCS def\n/CMapType 2 def\n\
         1 begincodespacerange\n<0000> <FFFF>\nendcodespacerange\n",
    );
    let entries: Vec<_> = glyphs.iter().collect();
    for chunk in entries.chunks(100) {
        let _ = writeln!(cmap, "{} beginbfchar", chunk.len());
        for (gid, (ch, _)) in chunk {
            let mut units = [0u16; 2];
            let hex: String = ch
                .encode_utf16(&mut units)
                .iter()
                .map(|u| format!("{u:04X}"))
                .collect();
            let _ = writeln!(cmap, "<{gid:04X}> <{hex}>");
        }
        cmap.push_str("endbfchar\n");
    }
    cmap.push_str("endcmap\nCMapName currentdict /CMap defineresource pop\nend\nend\n");
    cmap
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faces_measure_text() {
        let regular = face(Style::Regular);
        // DejaVu Sans's "H" advance is 1540 of 2048 units: 7.52 pt at 10 pt.
        assert!(
            (regular.width("H", 10.0) - 7.519).abs() < 0.01,
            "{}",
            regular.width("H", 10.0)
        );
        let w = regular.width("HH", 10.0);
        assert!((w - 2.0 * regular.width("H", 10.0)).abs() < 1e-4);
        let mono = face(Style::Mono);
        assert_eq!(mono.width("iiii", 10.0), mono.width("MMMM", 10.0));
        assert!(face(Style::Bold).width("Hello", 12.0) > regular.width("Hello", 12.0));
    }

    #[test]
    fn to_unicode_maps_glyph_codes_to_text() {
        let mut glyphs = BTreeMap::new();
        glyphs.insert(3u16, ('A', 600.0));
        glyphs.insert(4u16, ('😀', 1000.0));
        let cmap = to_unicode_cmap(&glyphs);
        assert!(cmap.contains("<0003> <0041>"));
        assert!(cmap.contains("<0004> <D83DDE00>"));
    }
}
