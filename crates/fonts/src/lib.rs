//! The fonts FlowForge ships, compiled in: DejaVu Sans, Sans Bold and Sans Mono (wide Unicode
//! coverage: Latin, Greek, Cyrillic and more; the Bitstream Vera license in `fonts/LICENSE`).
//! The pdf service embeds subsets of them; the image service draws watermarks with them.

/// DejaVu Sans (TrueType).
pub const SANS: &[u8] = include_bytes!("../fonts/DejaVuSans.ttf");
/// DejaVu Sans Bold (TrueType).
pub const SANS_BOLD: &[u8] = include_bytes!("../fonts/DejaVuSans-Bold.ttf");
/// DejaVu Sans Mono (TrueType).
pub const SANS_MONO: &[u8] = include_bytes!("../fonts/DejaVuSansMono.ttf");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_font_is_a_truetype_file() {
        for font in [SANS, SANS_BOLD, SANS_MONO] {
            assert_eq!(&font[..4], &[0, 1, 0, 0], "TrueType header");
        }
    }
}
