//! OCR free of HTTP: decoding inputs into page images, preprocessing, the Tesseract engine pool,
//! and the structured result (page → block → paragraph → line → word).

pub mod engine;
pub mod input;
pub mod layout;
pub mod preprocess;

use std::path::{Path, PathBuf};

/// Why a request could not be served.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum OcrError {
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    /// A language that is not installed: the message lists those that are.
    #[error("{0}")]
    UnknownLanguage(String),
    #[error("{0}")]
    TooLarge(String),
    #[error("{0}")]
    Unsupported(String),
    #[error("{0}")]
    Corrupt(String),
    #[error("{0}")]
    PasswordRequired(String),
    #[error("{0}")]
    WrongPassword(String),
    /// Every engine stayed busy past the wait limit.
    #[error("{0}")]
    Busy(String),
    #[error("{0}")]
    Internal(String),
}

pub type Result<T> = std::result::Result<T, OcrError>;

pub(crate) fn invalid(field: &str, message: impl Into<String>) -> OcrError {
    OcrError::Invalid {
        field: field.to_owned(),
        message: message.into(),
    }
}

pub(crate) fn internal(error: impl std::fmt::Display) -> OcrError {
    OcrError::Internal(error.to_string())
}

/// Bounds on one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OcrLimits {
    /// Widest or tallest page in pixels (Textract's limit).
    pub max_side: u32,
    /// Most pages one request reads.
    pub max_pages: usize,
}

impl Default for OcrLimits {
    fn default() -> Self {
        Self {
            max_side: 10_000,
            max_pages: 50,
        }
    }
}

/// Where the traineddata files are: `FLOWFORGE_OCR_TESSDATA`, else the first of Debian's and
/// upstream's usual directories that holds any.
pub fn default_data_dir() -> PathBuf {
    if let Ok(dir) = std::env::var("FLOWFORGE_OCR_TESSDATA")
        && !dir.trim().is_empty()
    {
        return PathBuf::from(dir);
    }
    [
        "/usr/share/tesseract-ocr/5/tessdata",
        "/usr/share/tesseract-ocr/4.00/tessdata",
        "/usr/share/tessdata",
        "/usr/local/share/tessdata",
    ]
    .iter()
    .map(PathBuf::from)
    .find(|dir| !installed_languages(dir).is_empty())
    .unwrap_or_else(|| PathBuf::from("/usr/share/tesseract-ocr/5/tessdata"))
}

/// The languages with a `.traineddata` file in `dir`, sorted (`osd` is the orientation model,
/// not a language, and is left out).
pub fn installed_languages(dir: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut languages: Vec<String> = entries
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            e.file_name()
                .to_str()?
                .strip_suffix(".traineddata")
                .map(str::to_owned)
        })
        .filter(|l| l != "osd")
        .collect();
    languages.sort();
    languages
}

/// Checks `eng+deu`-style language lists against what is installed.
pub fn check_languages(requested: &str, installed: &[String]) -> Result<String> {
    let parts: Vec<&str> = requested.split('+').map(str::trim).collect();
    if parts.is_empty() || parts.iter().any(|p| p.is_empty()) || parts.len() > 5 {
        return Err(invalid(
            "languages",
            "one to five language codes joined by `+`, e.g. eng+deu",
        ));
    }
    let missing: Vec<&str> = parts
        .iter()
        .copied()
        .filter(|p| !installed.iter().any(|i| i == p))
        .collect();
    if !missing.is_empty() {
        return Err(OcrError::UnknownLanguage(format!(
            "not installed: {}; installed: {}",
            missing.join(", "),
            installed.join(", ")
        )));
    }
    Ok(parts.join("+"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn languages_are_checked_against_the_installed_ones() {
        let installed = vec!["deu".to_owned(), "eng".to_owned()];
        assert_eq!(check_languages("eng", &installed).unwrap(), "eng");
        assert_eq!(
            check_languages(" eng + deu ", &installed).unwrap(),
            "eng+deu"
        );
        let error = check_languages("eng+fra", &installed).unwrap_err();
        assert_eq!(
            error,
            OcrError::UnknownLanguage("not installed: fra; installed: deu, eng".into())
        );
        assert!(matches!(
            check_languages("eng+", &installed),
            Err(OcrError::Invalid { .. })
        ));
    }
}
