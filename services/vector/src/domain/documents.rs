//! Documents, as n8n's and LangChain's vector stores see them: a text cut into overlapping
//! chunks, each a point whose payload holds `content`, `metadata` and the `documentId`, so that
//! writing a document again replaces all of its chunks.

/// The payload key of a chunk's text.
pub const CONTENT_KEY: &str = "content";
/// The payload key of a chunk's metadata (the document's).
pub const METADATA_KEY: &str = "metadata";
/// The payload key of the document a chunk belongs to.
pub const DOCUMENT_KEY: &str = "documentId";
/// The payload key of a chunk's position in its document.
pub const CHUNK_KEY: &str = "chunk";

/// How a text is cut.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Chunking {
    /// Most characters in a chunk.
    pub size: usize,
    /// Characters a chunk repeats from the end of the one before.
    pub overlap: usize,
    /// Cut between sentences (else between words).
    pub by_sentence: bool,
}

impl Default for Chunking {
    fn default() -> Self {
        Self {
            size: 1000,
            overlap: 200,
            by_sentence: true,
        }
    }
}

/// The pieces chunks are built from: sentences (ending with their punctuation and spaces) or
/// words (with their trailing spaces). Each piece keeps its own text, so pieces join back to the
/// input exactly.
fn pieces(text: &str, by_sentence: bool) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let mut i = 0;
    while i < chars.len() {
        let (at, c) = chars[i];
        let ends = if by_sentence {
            matches!(c, '.' | '!' | '?' | '\n')
        } else {
            c.is_whitespace()
        };
        if ends {
            // The piece takes the whitespace after it.
            let mut j = i + 1;
            while j < chars.len() && chars[j].1.is_whitespace() {
                j += 1;
            }
            let end = chars.get(j).map_or(text.len(), |(at, _)| *at);
            if by_sentence && j == i + 1 && j < chars.len() && c != '\n' {
                // "3.14" or "e.g.x": no space after the mark, so no sentence end.
                i += 1;
                continue;
            }
            out.push(&text[start..end]);
            start = end;
            i = j;
        } else {
            i += 1;
            let _ = at;
        }
    }
    if start < text.len() {
        out.push(&text[start..]);
    }
    out
}

/// Cuts a piece longer than `size` characters at character boundaries.
fn hard_split(piece: &str, size: usize) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = piece;
    while rest.chars().count() > size {
        let cut = rest
            .char_indices()
            .nth(size)
            .map_or(rest.len(), |(at, _)| at);
        out.push(&rest[..cut]);
        rest = &rest[cut..];
    }
    if !rest.is_empty() {
        out.push(rest);
    }
    out
}

/// The chunks of `text`, trimmed, none empty.
pub fn chunk(text: &str, chunking: Chunking) -> Vec<String> {
    let size = chunking.size.max(1);
    let overlap = chunking.overlap.min(size.saturating_sub(1));
    let mut units: Vec<&str> = Vec::new();
    for piece in pieces(text, chunking.by_sentence) {
        // A unit never exceeds the chunk size: a long sentence is cut between words, a long
        // word between characters.
        if piece.chars().count() <= size {
            units.push(piece);
        } else if chunking.by_sentence {
            units.extend(
                pieces(piece, false)
                    .into_iter()
                    .flat_map(|w| hard_split(w, size)),
            );
        } else {
            units.extend(hard_split(piece, size));
        }
    }
    let length = |s: &str| s.chars().count();
    let mut chunks = Vec::new();
    let mut current: Vec<&str> = Vec::new();
    let mut current_len = 0;
    for unit in units {
        let unit_len = length(unit);
        if current_len + unit_len > size && !current.is_empty() {
            chunks.push(current.concat());
            // Carry whole units from the end while they fit in the overlap.
            let mut carried: Vec<&str> = Vec::new();
            let mut carried_len = 0;
            for previous in current.iter().rev() {
                let l = length(previous);
                if carried_len + l > overlap || carried_len + l + unit_len > size {
                    break;
                }
                carried.push(previous);
                carried_len += l;
            }
            carried.reverse();
            current = carried;
            current_len = carried_len;
        }
        current.push(unit);
        current_len += unit_len;
    }
    if !current.is_empty() {
        chunks.push(current.concat());
    }
    chunks
        .into_iter()
        .map(|c| c.trim().to_owned())
        .filter(|c| !c.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str, chunking: Chunking, expected: &[&str]) {
        assert_eq!(chunk(text, chunking), expected, "{text:?}");
    }

    #[test]
    fn sentences_pack_into_chunks_with_overlap() {
        let by = |size, overlap| Chunking {
            size,
            overlap,
            by_sentence: true,
        };
        check("", by(10, 0), &[]);
        check("One. Two. Three.", by(100, 0), &["One. Two. Three."]);
        check("One. Two. Three.", by(10, 0), &["One. Two.", "Three."]);
        check(
            "Alpha one. Beta two. Gamma three.",
            by(22, 11),
            &["Alpha one. Beta two.", "Beta two. Gamma three."],
        );
        check(
            "Pi is 3.14 exactly. Yes.",
            by(20, 0),
            &["Pi is 3.14 exactly.", "Yes."],
        );
        check("Line one\nLine two\n", by(10, 0), &["Line one", "Line two"]);
    }

    #[test]
    fn long_sentences_fall_back_to_words_and_characters() {
        let words = Chunking {
            size: 12,
            overlap: 0,
            by_sentence: true,
        };
        check(
            "a very long sentence here",
            words,
            &["a very long", "sentence", "here"],
        );
        check(
            "abcdefghijklmnopqrstuvwxyz",
            words,
            &["abcdefghijkl", "mnopqrstuvwx", "yz"],
        );
        let plain = Chunking {
            size: 5,
            overlap: 0,
            by_sentence: false,
        };
        // Trailing spaces count: "ab " and "cd " do not fit five characters together.
        check("ab cd ef", plain, &["ab", "cd ef"]);
        // Multi-byte characters are counted and cut as characters.
        assert_eq!(chunk("ééééééé", plain), ["ééééé", "éé"]);
    }

    #[test]
    fn chunks_cover_the_text_and_respect_the_size() {
        let text = "The quick brown fox jumps over the lazy dog. ".repeat(40);
        let chunking = Chunking {
            size: 120,
            overlap: 50,
            by_sentence: true,
        };
        let chunks = chunk(&text, chunking);
        assert!(chunks.len() > 10);
        assert!(chunks.iter().all(|c| c.chars().count() <= 120));
        // Each chunk after the first starts with the end of the one before.
        for pair in chunks.windows(2) {
            let first_sentence = pair[1].split_inclusive(". ").next().unwrap().trim();
            assert!(pair[0].contains(first_sentence), "{pair:?}");
        }
    }
}
