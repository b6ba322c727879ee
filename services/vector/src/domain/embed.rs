//! Texts to vectors with the llm service's embedding code, in-process: the same
//! all-MiniLM-L6-v2 (`flowforge-embeddings`), loaded once in the background.

use std::path::PathBuf;
use std::sync::OnceLock;

use flowforge_embeddings::Embedder;

use super::VectorError;

/// The embedding model, once loaded (or why it could not be).
#[derive(Debug, Default)]
pub struct TextEmbedder {
    model: OnceLock<Result<Embedder, String>>,
    pub model_dir: PathBuf,
}

impl TextEmbedder {
    pub fn new(model_dir: PathBuf) -> Self {
        Self {
            model: OnceLock::new(),
            model_dir,
        }
    }

    /// Loads the model (blocking); later calls return at once.
    pub fn load(&self) -> Result<(), VectorError> {
        self.model
            .get_or_init(|| {
                Embedder::load(&self.model_dir, candle_core::Device::Cpu).map_err(|e| e.to_string())
            })
            .as_ref()
            .map(|_| ())
            .map_err(|e| VectorError::NoEmbedder(e.clone()))
    }

    /// The vector length, once loaded.
    pub fn dimensions(&self) -> Option<usize> {
        self.model.get()?.as_ref().ok().map(Embedder::dimensions)
    }

    /// Unit vectors of `texts` (blocking; call from a worker thread).
    pub fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, VectorError> {
        let model = match self.model.get() {
            None => return Err(VectorError::Starting),
            Some(Err(error)) => {
                return Err(VectorError::NoEmbedder(format!(
                    "texts cannot be embedded: {error}"
                )));
            }
            Some(Ok(model)) => model,
        };
        if let Some(i) = texts.iter().position(|t| t.trim().is_empty()) {
            return Err(VectorError::invalid(
                &format!("texts[{i}]"),
                "a text must not be empty",
            ));
        }
        let mut vectors = Vec::with_capacity(texts.len());
        for chunk in texts.chunks(32) {
            vectors.extend(
                model
                    .embed(chunk)
                    .map_err(|e| VectorError::Internal(e.to_string()))?,
            );
        }
        Ok(vectors)
    }
}
