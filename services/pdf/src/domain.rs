//! The PDF work itself, free of HTTP: loading with limits, page assembly, text extraction,
//! generation, stamping, security and compression on one object model (lopdf).

pub mod compress;
pub mod fonts;
pub mod generate;
pub mod images;
pub mod info;
pub mod pages;
pub mod render;
pub mod searchable;
pub mod security;
pub mod stamp;
pub mod text;

use std::time::{Duration, Instant};

use lopdf::{Document, LoadOptions, Object, ObjectId, dictionary};

/// Why a PDF could not be processed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PdfError {
    /// Bad options, naming the field.
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    /// Past a page, size or output limit.
    #[error("{0}")]
    TooLarge(String),
    /// Not a PDF (or an image format this service does not read).
    #[error("{0}")]
    Unsupported(String),
    /// A truncated or malformed file.
    #[error("{0}")]
    Corrupt(String),
    /// The document is encrypted and no password opened it.
    #[error("{0}")]
    PasswordRequired(String),
    /// The password given does not open the document.
    #[error("{0}")]
    WrongPassword(String),
    /// The work ran past the request's time budget.
    #[error("{0}")]
    Timeout(String),
    #[error("{0}")]
    Internal(String),
}

pub type Result<T> = std::result::Result<T, PdfError>;

pub(crate) fn invalid(field: &str, message: impl Into<String>) -> PdfError {
    PdfError::Invalid {
        field: field.to_owned(),
        message: message.into(),
    }
}

pub(crate) fn internal(error: impl std::fmt::Display) -> PdfError {
    PdfError::Internal(error.to_string())
}

/// Bounds on one request's documents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PdfLimits {
    /// Most pages of an input or output document.
    pub max_pages: usize,
    /// Most files in one merge or images-to-pdf request.
    pub max_files: usize,
    /// Most bytes one content or font stream may inflate to (decompression bombs).
    pub max_stream_bytes: usize,
    /// Wall-clock budget of one operation's CPU work.
    pub max_time: Duration,
    /// Most pixels of an image placed in a document.
    pub max_image_pixels: u64,
}

impl Default for PdfLimits {
    fn default() -> Self {
        Self {
            max_pages: 2_000,
            max_files: 100,
            max_stream_bytes: 64 * 1024 * 1024,
            max_time: Duration::from_secs(60),
            max_image_pixels: 50_000_000,
        }
    }
}

/// When the work must stop; checked between pages so a hostile file cannot run forever.
#[derive(Debug, Clone, Copy)]
pub struct Deadline {
    at: Instant,
}

impl Deadline {
    pub fn after(budget: Duration) -> Self {
        Self {
            at: Instant::now() + budget,
        }
    }

    pub fn check(&self) -> Result<()> {
        if Instant::now() > self.at {
            Err(PdfError::Timeout(
                "the document took longer than this service's time limit".into(),
            ))
        } else {
            Ok(())
        }
    }
}

/// Parses a PDF, opening it with `password` when it is encrypted, and checks its page count.
pub fn load(bytes: &[u8], password: Option<&str>, limits: &PdfLimits) -> Result<Document> {
    if !looks_like_pdf(bytes) {
        return Err(PdfError::Unsupported(
            "the file is not a PDF (no %PDF- header)".into(),
        ));
    }
    let options = LoadOptions {
        password: password.map(str::to_owned),
        max_decompressed_size: Some(limits.max_stream_bytes),
        ..LoadOptions::default()
    };
    let document = Document::load_mem_with_options(bytes, options).map_err(|e| match e {
        lopdf::Error::InvalidPassword => {
            PdfError::WrongPassword("the password does not open this document".into())
        }
        lopdf::Error::Decryption(lopdf::encryption::DecryptionError::IncorrectPassword) => {
            PdfError::WrongPassword("the password does not open this document".into())
        }
        lopdf::Error::Decryption(e) => {
            PdfError::Unsupported(format!("the document's encryption is not supported: {e}"))
        }
        other => PdfError::Corrupt(format!("the PDF could not be read: {other}")),
    })?;
    if document.is_encrypted() {
        return Err(PdfError::PasswordRequired(
            "the document is encrypted: send its password".into(),
        ));
    }
    let pages = document.get_pages().len();
    if pages == 0 {
        return Err(PdfError::Corrupt("the PDF has no pages".into()));
    }
    check_pages(pages, limits)?;
    Ok(document)
}

/// Refuses documents with more pages than the limit.
pub fn check_pages(pages: usize, limits: &PdfLimits) -> Result<()> {
    if pages > limits.max_pages {
        return Err(PdfError::TooLarge(format!(
            "the document has {pages} pages; this service accepts at most {}",
            limits.max_pages
        )));
    }
    Ok(())
}

/// A PDF starts with `%PDF-` within its first kilobyte (some writers put junk before it).
pub fn looks_like_pdf(bytes: &[u8]) -> bool {
    let head = &bytes[..bytes.len().min(1024)];
    head.windows(5).any(|w| w == b"%PDF-")
}

/// Serializes a document (compressing any stream left uncompressed).
pub fn save(document: &mut Document) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    document.save_to(&mut out).map_err(internal)?;
    Ok(out)
}

/// Writes the page tree's root at `pages_id` over `kids` and a catalog naming it (for documents
/// the service builds from scratch).
pub(crate) fn finish_page_tree(document: &mut Document, pages_id: ObjectId, kids: Vec<Object>) {
    let count = kids.len() as i64;
    document.objects.insert(
        pages_id,
        Object::Dictionary(dictionary! { "Type" => "Pages", "Kids" => kids, "Count" => count }),
    );
    let catalog = document.add_object(dictionary! { "Type" => "Catalog", "Pages" => pages_id });
    document.trailer.set("Root", catalog);
}

/// The page dictionaries' ids in page order.
pub fn page_ids(document: &Document) -> Vec<ObjectId> {
    document.get_pages().into_values().collect()
}

/// A number from an integer or real PDF object.
pub(crate) fn number(object: &Object) -> Option<f32> {
    match object {
        Object::Integer(i) => Some(*i as f32),
        Object::Real(r) => Some(*r),
        _ => None,
    }
}

/// Parses a page selection such as `1-3,5,8-`, `-2`, `last`, `odd`, `even` or `all` against a
/// document of `count` pages, keeping the order written (so `3,1,2` reorders). Pages are
/// 1-based.
pub fn parse_ranges(field: &str, text: &str, count: usize) -> Result<Vec<usize>> {
    let mut pages = Vec::new();
    let page = |token: &str| -> Result<usize> {
        let token = token.trim();
        if token.eq_ignore_ascii_case("last") || token == "z" {
            return Ok(count);
        }
        let n: usize = token
            .parse()
            .map_err(|_| invalid(field, format!("`{token}` is not a page number")))?;
        if n == 0 || n > count {
            return Err(invalid(
                field,
                format!("page {n} does not exist (the document has {count} pages)"),
            ));
        }
        Ok(n)
    };
    for part in text.split(',').map(str::trim) {
        match part.to_ascii_lowercase().as_str() {
            "" => return Err(invalid(field, "empty range in the page selection")),
            "all" => pages.extend(1..=count),
            "odd" => pages.extend((1..=count).step_by(2)),
            "even" => pages.extend((2..=count).step_by(2)),
            _ => match part.split_once('-') {
                Some((from, to)) => {
                    let from = if from.trim().is_empty() {
                        1
                    } else {
                        page(from)?
                    };
                    let to = if to.trim().is_empty() {
                        count
                    } else {
                        page(to)?
                    };
                    if from <= to {
                        pages.extend(from..=to);
                    } else {
                        pages.extend((to..=from).rev());
                    }
                }
                None => pages.push(page(part)?),
            },
        }
        if pages.len() > count.saturating_mul(4).max(10_000) {
            return Err(invalid(field, "the page selection is too long"));
        }
    }
    Ok(pages)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_ranges() {
        assert_eq!(parse_ranges("pages", "1-3,5", 6).unwrap(), vec![1, 2, 3, 5]);
        assert_eq!(parse_ranges("pages", "5-,1", 6).unwrap(), vec![5, 6, 1]);
        assert_eq!(parse_ranges("pages", "-2", 6).unwrap(), vec![1, 2]);
        assert_eq!(
            parse_ranges("pages", "last,odd", 5).unwrap(),
            vec![5, 1, 3, 5]
        );
        assert_eq!(parse_ranges("pages", "even", 5).unwrap(), vec![2, 4]);
        assert_eq!(parse_ranges("pages", "3-1", 5).unwrap(), vec![3, 2, 1]);
        assert_eq!(parse_ranges("pages", "all", 2).unwrap(), vec![1, 2]);
        for bad in ["0", "7", "a", "1,,2", "2-9"] {
            let error = parse_ranges("pages", bad, 6).unwrap_err();
            assert!(
                matches!(error, PdfError::Invalid { ref field, .. } if field == "pages"),
                "{bad}"
            );
        }
    }

    #[test]
    fn non_pdfs_are_refused_before_parsing() {
        let error = load(b"GIF89a....", None, &PdfLimits::default()).unwrap_err();
        assert!(matches!(error, PdfError::Unsupported(_)));
        let error = load(b"%PDF-1.7\n garbage", None, &PdfLimits::default()).unwrap_err();
        assert!(matches!(error, PdfError::Corrupt(_)), "{error:?}");
    }
}
