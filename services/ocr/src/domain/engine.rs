//! A pool of Tesseract engines, each loaded once with its models: a request borrows a warm
//! engine (waiting up to a limit, then `Busy`), recognizes on a blocking thread and gives it
//! back. An engine asked for other languages reloads them (and keeps them for the next request).

use std::ffi::CString;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use image::GrayImage;
use tesseract::PageSegMode;
use tesseract::plumbing::TessBaseApi;
use tesseract::plumbing::tesseract_sys::TessOcrEngineMode_OEM_LSTM_ONLY;
use tokio::sync::Semaphore;

use super::{OcrError, Result, internal, invalid};

/// How Tesseract splits a page (its PSM).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Layout {
    /// Full automatic segmentation (PSM 3).
    #[default]
    Auto,
    /// One column of text of variable sizes (PSM 4).
    Column,
    /// One uniform block of text (PSM 6).
    Block,
    /// One line (PSM 7).
    Line,
    /// One word (PSM 8).
    Word,
    /// As much text as possible in no order (PSM 11).
    Sparse,
}

impl Layout {
    fn mode(self, auto_rotate: bool) -> PageSegMode {
        match (self, auto_rotate) {
            (Layout::Auto, true) => PageSegMode::PsmAutoOsd,
            (Layout::Auto, false) => PageSegMode::PsmAuto,
            (Layout::Column, _) => PageSegMode::PsmSingleColumn,
            (Layout::Block, _) => PageSegMode::PsmSingleBlock,
            (Layout::Line, _) => PageSegMode::PsmSingleLine,
            (Layout::Word, _) => PageSegMode::PsmSingleWord,
            (Layout::Sparse, true) => PageSegMode::PsmSparseTextOsd,
            (Layout::Sparse, false) => PageSegMode::PsmSparseText,
        }
    }
}

/// What one recognition is asked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Settings {
    /// `eng`, `eng+deu`, … (already checked as installed).
    pub languages: String,
    pub layout: Layout,
    /// Let Tesseract detect orientation and script (needs `osd.traineddata`).
    pub auto_rotate: bool,
    /// The scan's resolution, when known (helps size heuristics).
    pub dpi: Option<u32>,
    pub whitelist: Option<String>,
    pub blacklist: Option<String>,
    /// Also produce hOCR.
    pub hocr: bool,
    /// Also produce TSV (word boxes and confidences): needed for structure, filtering and PDF.
    pub tsv: bool,
}

/// What Tesseract read from one page.
#[derive(Debug, Clone, PartialEq)]
pub struct Recognized {
    pub text: String,
    /// Tesseract's TSV rows for the page (no header line); empty unless asked.
    pub tsv: String,
    /// The page's hOCR `div`, when asked.
    pub hocr: Option<String>,
    /// Mean word confidence, 0–1 (two decimals: Tesseract gives whole percents).
    pub confidence: f64,
}

/// One warm engine.
pub struct Engine {
    api: TessBaseApi,
    languages: String,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("languages", &self.languages)
            .finish()
    }
}

fn c_string(text: &str, field: &str) -> Result<CString> {
    CString::new(text).map_err(|_| invalid(field, "must not contain NUL characters"))
}

impl Engine {
    /// Loads the LSTM models of `languages` from `data_dir`.
    pub fn load(data_dir: &Path, languages: &str) -> Result<Self> {
        let mut api = TessBaseApi::create();
        let dir = c_string(&data_dir.to_string_lossy(), "dataDir")?;
        let lang = c_string(languages, "languages")?;
        api.init_4(Some(&dir), Some(&lang), TessOcrEngineMode_OEM_LSTM_ONLY)
            .map_err(|_| {
                OcrError::Internal(format!(
                    "Tesseract could not load `{languages}` from {}",
                    data_dir.display()
                ))
            })?;
        Ok(Self {
            api,
            languages: languages.to_owned(),
        })
    }

    /// Recognizes one grayscale page (`page_index` numbers it in hOCR and TSV).
    pub fn recognize(
        &mut self,
        data_dir: &Path,
        image: &GrayImage,
        settings: &Settings,
        page_index: i32,
    ) -> Result<Recognized> {
        if self.languages != settings.languages {
            *self = Engine::load(data_dir, &settings.languages)?;
        }
        let (width, height) = image.dimensions();
        let (w, h) = (
            i32::try_from(width).map_err(internal)?,
            i32::try_from(height).map_err(internal)?,
        );
        self.api
            .set_image(image.as_raw(), w, h, 1, w)
            .map_err(|e| OcrError::Internal(format!("Tesseract refused the image: {e:?}")))?;
        self.api
            .set_source_resolution(settings.dpi.map_or(300, |d| d as i32));
        self.api.set_page_seg_mode(
            settings
                .layout
                .mode(settings.auto_rotate)
                .as_tess_page_seg_mode(),
        );
        // Engines are reused: every variable a request may set is set on every request.
        for (name, value) in [
            (
                "tessedit_char_whitelist",
                settings.whitelist.as_deref().unwrap_or(""),
            ),
            (
                "tessedit_char_blacklist",
                settings.blacklist.as_deref().unwrap_or(""),
            ),
        ] {
            let value = c_string(
                value,
                if name.ends_with("whitelist") {
                    "whitelist"
                } else {
                    "blacklist"
                },
            )?;
            self.api
                .set_variable(&c_string(name, name)?, &value)
                .map_err(|_| OcrError::Internal(format!("Tesseract refused {name}")))?;
        }
        self.api
            .recognize()
            .map_err(|_| OcrError::Internal("Tesseract could not recognize the page".into()))?;
        let text = self
            .api
            .get_utf8_text()
            .map_err(|_| internal("no text from Tesseract"))?
            .as_ref()
            .to_string_lossy()
            .into_owned();
        let tsv = if settings.tsv {
            self.api
                .get_tsv_text(page_index)
                .map_err(|_| internal("no TSV from Tesseract"))?
                .as_ref()
                .to_string_lossy()
                .into_owned()
        } else {
            String::new()
        };
        let hocr = if settings.hocr {
            Some(
                self.api
                    .get_hocr_text(page_index)
                    .map_err(|_| internal("no hOCR from Tesseract"))?
                    .as_ref()
                    .to_string_lossy()
                    .into_owned(),
            )
        } else {
            None
        };
        let confidence = f64::from(self.api.mean_text_conf().clamp(0, 100)) / 100.0;
        Ok(Recognized {
            text,
            tsv,
            hocr,
            confidence,
        })
    }
}

/// Warm engines shared by every request.
#[derive(Clone)]
pub struct EnginePool {
    idle: Arc<Mutex<Vec<Engine>>>,
    permits: Arc<Semaphore>,
    data_dir: PathBuf,
    default_languages: String,
    wait: Duration,
    size: usize,
}

impl std::fmt::Debug for EnginePool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EnginePool")
            .field("size", &self.size)
            .field("data_dir", &self.data_dir)
            .finish_non_exhaustive()
    }
}

/// An engine on loan; it goes back to the pool when dropped, also when the work panicked.
pub struct Loan {
    engine: Option<Engine>,
    pool: EnginePool,
    _permit: tokio::sync::OwnedSemaphorePermit,
}

impl Loan {
    pub fn engine(&mut self) -> Result<&mut Engine> {
        if self.engine.is_none() {
            // Only when the pool held fewer engines than permits (it never should): load one.
            self.engine = Some(Engine::load(
                &self.pool.data_dir,
                &self.pool.default_languages,
            )?);
        }
        self.engine.as_mut().ok_or_else(|| internal("no engine"))
    }

    pub fn data_dir(&self) -> &Path {
        &self.pool.data_dir
    }
}

impl Drop for Loan {
    fn drop(&mut self) {
        if let Some(engine) = self.engine.take()
            && let Ok(mut idle) = self.pool.idle.lock()
        {
            idle.push(engine);
        }
    }
}

impl EnginePool {
    /// An empty pool of `size` engines; [`EnginePool::warm`] loads them.
    pub fn new(data_dir: PathBuf, default_languages: &str, size: usize, wait: Duration) -> Self {
        Self {
            idle: Arc::new(Mutex::new(Vec::new())),
            permits: Arc::new(Semaphore::new(0)),
            data_dir,
            default_languages: default_languages.to_owned(),
            wait,
            size: size.max(1),
        }
    }

    /// Loads every engine (blocking: call from a blocking thread); each becomes available as soon
    /// as it is loaded.
    pub fn warm(&self) -> Result<()> {
        for _ in 0..self.size {
            let engine = Engine::load(&self.data_dir, &self.default_languages)?;
            self.idle.lock().map_err(internal)?.push(engine);
            self.permits.add_permits(1);
        }
        Ok(())
    }

    pub fn size(&self) -> usize {
        self.size
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// Engines free right now.
    pub fn available(&self) -> usize {
        self.permits.available_permits()
    }

    /// Borrows an engine, waiting at most the pool's limit.
    pub async fn borrow(&self) -> Result<Loan> {
        let permit = tokio::time::timeout(self.wait, self.permits.clone().acquire_owned())
            .await
            .map_err(|_| {
                OcrError::Busy(format!(
                    "all {} OCR engines stayed busy for {} s; try again",
                    self.size,
                    self.wait.as_secs_f32()
                ))
            })?
            .map_err(internal)?;
        let engine = self.idle.lock().map_err(internal)?.pop();
        Ok(Loan {
            engine,
            pool: self.clone(),
            _permit: permit,
        })
    }
}
