//! Sentence embeddings from BERT-family models (safetensors + tokenizer.json, e.g.
//! sentence-transformers/all-MiniLM-L6-v2 as `scripts/fetch-models.sh` installs it) on candle:
//! tokenized as one padded batch, mean-pooled over the attention mask and L2-normalized, the way
//! sentence-transformers computes them. On the CPU the model runs in the crate's own encoder
//! (`native`: packed sequences, fused passes around candle's matrix products); on a GPU (the
//! `cuda` feature) and for comparison it runs as candle's `BertModel`.

use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config};
use tokenizers::{PaddingParams, PaddingStrategy, Tokenizer, TruncationParams};

mod native;

/// Why embedding failed.
#[derive(Debug, thiserror::Error)]
pub enum EmbeddingError {
    /// A model file is missing or unreadable (the message names it and the fetch script).
    #[error("{0}")]
    Missing(String),
    #[error("the model could not be loaded: {0}")]
    Load(String),
    #[error("tokenization failed: {0}")]
    Tokenize(String),
    #[error("inference failed: {0}")]
    Inference(#[from] candle_core::Error),
}

pub type Result<T> = std::result::Result<T, EmbeddingError>;

/// The default models directory: `FLOWFORGE_MODELS_DIR`, else `~/.cache/flowforge/models`.
pub fn models_dir() -> PathBuf {
    if let Ok(dir) = std::env::var("FLOWFORGE_MODELS_DIR")
        && !dir.trim().is_empty()
    {
        return PathBuf::from(dir);
    }
    let cache = std::env::var("XDG_CACHE_HOME")
        .ok()
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var("HOME")
                .ok()
                .map(|h| Path::new(&h).join(".cache"))
        })
        .unwrap_or_else(|| PathBuf::from("/tmp"));
    cache.join("flowforge").join("models")
}

/// The length of the default model's vectors (all-MiniLM-L6-v2).
pub const DEFAULT_DIMENSIONS: usize = 384;

/// The directory of the default embedding model.
pub fn default_model_dir() -> PathBuf {
    models_dir().join("all-minilm-l6-v2")
}

/// Which implementation runs the model.
enum Encoder {
    Native(native::NativeBert),
    Candle { model: BertModel, device: Device },
}

/// A loaded embedding model.
pub struct Embedder {
    encoder: Encoder,
    /// Truncates to `max_tokens`; pads to the batch's longest only for candle's model.
    tokenizer: Tokenizer,
    /// The same tokenizer without padding or truncation, for counting.
    unbounded: Tokenizer,
    dimensions: usize,
    max_tokens: usize,
}

impl std::fmt::Debug for Embedder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Embedder")
            .field("dimensions", &self.dimensions)
            .field("max_tokens", &self.max_tokens)
            .finish_non_exhaustive()
    }
}

fn read(dir: &Path, name: &str) -> Result<Vec<u8>> {
    let path = dir.join(name);
    std::fs::read(&path).map_err(|e| {
        EmbeddingError::Missing(format!(
            "{}: {e} (run scripts/fetch-models.sh, or set FLOWFORGE_MODELS_DIR)",
            path.display()
        ))
    })
}

impl Embedder {
    /// Loads `config.json`, `tokenizer.json` and `model.safetensors` from `dir` onto `device`:
    /// the native encoder on the CPU, candle's `BertModel` elsewhere.
    pub fn load(dir: &Path, device: Device) -> Result<Self> {
        let native = device.is_cpu();
        Self::load_as(dir, device, native)
    }

    /// Loads the model as candle's `BertModel` on `device`, whatever the device: what the GPU
    /// build runs, and the reference the native encoder is tested against.
    pub fn load_candle(dir: &Path, device: Device) -> Result<Self> {
        Self::load_as(dir, device, false)
    }

    fn load_as(dir: &Path, device: Device, native: bool) -> Result<Self> {
        let config: Config = serde_json::from_slice(&read(dir, "config.json")?)
            .map_err(|e| EmbeddingError::Load(format!("config.json: {e}")))?;
        let max_positions = serde_json::from_slice::<serde_json::Value>(&read(dir, "config.json")?)
            .ok()
            .and_then(|c| c["max_position_embeddings"].as_u64())
            .unwrap_or(512) as usize;
        let mut tokenizer = Tokenizer::from_bytes(read(dir, "tokenizer.json")?)
            .map_err(|e| EmbeddingError::Load(format!("tokenizer.json: {e}")))?;
        let mut unbounded = tokenizer.clone();
        unbounded.with_padding(None);
        unbounded
            .with_truncation(None)
            .map_err(|e| EmbeddingError::Load(format!("tokenizer.json: {e}")))?;
        // The shipped tokenizer pads every input to 128 tokens; candle's model needs a batch
        // padded only to its longest, the native encoder packs the inputs unpadded.
        tokenizer.with_padding((!native).then(|| PaddingParams {
            strategy: PaddingStrategy::BatchLongest,
            ..PaddingParams::default()
        }));
        // sentence-transformers reads at most 256 word pieces of this model.
        let max_tokens = max_positions.min(256);
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length: max_tokens,
                ..TruncationParams::default()
            }))
            .map_err(|e| EmbeddingError::Load(format!("tokenizer.json: {e}")))?;
        let tensors =
            candle_core::safetensors::load_buffer(&read(dir, "model.safetensors")?, &device)?;
        let encoder = if native {
            Encoder::Native(native::NativeBert::load(&tensors, &config)?)
        } else {
            let vb = VarBuilder::from_tensors(tensors, DType::F32, &device);
            let model =
                BertModel::load(vb, &config).map_err(|e| EmbeddingError::Load(e.to_string()))?;
            Encoder::Candle { model, device }
        };
        Ok(Self {
            encoder,
            tokenizer,
            unbounded,
            dimensions: config.hidden_size,
            max_tokens,
        })
    }

    /// Whether the model runs in the crate's own CPU encoder (else in candle's `BertModel`).
    pub fn runs_natively(&self) -> bool {
        matches!(self.encoder, Encoder::Native(_))
    }

    /// The length of every embedding.
    pub fn dimensions(&self) -> usize {
        self.dimensions
    }

    /// The most word pieces of one input that count (the rest is cut off).
    pub fn max_tokens(&self) -> usize {
        self.max_tokens
    }

    /// How many tokens `text` has (before truncation).
    pub fn count_tokens(&self, text: &str) -> Result<usize> {
        Ok(self
            .unbounded
            .encode(text, true)
            .map_err(|e| EmbeddingError::Tokenize(e.to_string()))?
            .len())
    }

    /// One unit-length vector per text, in order.
    pub fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let encodings = self
            .tokenizer
            .encode_batch(texts.to_vec(), true)
            .map_err(|e| EmbeddingError::Tokenize(e.to_string()))?;
        match &self.encoder {
            Encoder::Native(model) => {
                let inputs: Vec<native::Tokens<'_>> = encodings
                    .iter()
                    .map(|e| native::Tokens {
                        ids: e.get_ids(),
                        type_ids: e.get_type_ids(),
                    })
                    .collect();
                let hidden = model.forward(&inputs)?;
                let mut rows = hidden.chunks_exact(self.dimensions);
                Ok(inputs
                    .iter()
                    .map(|input| {
                        mean_of_unit_length(rows.by_ref().take(input.ids.len()), self.dimensions)
                    })
                    .collect())
            }
            Encoder::Candle { model, device } => {
                Self::embed_candle(model, device, &encodings).map_err(Into::into)
            }
        }
    }

    fn embed_candle(
        model: &BertModel,
        device: &Device,
        encodings: &[tokenizers::Encoding],
    ) -> candle_core::Result<Vec<Vec<f32>>> {
        let rows = |f: &dyn Fn(&tokenizers::Encoding) -> &[u32]| {
            let data: Vec<Vec<u32>> = encodings.iter().map(|e| f(e).to_vec()).collect();
            Tensor::new(data, device)
        };
        let ids = rows(&|e| e.get_ids())?;
        let types = rows(&|e| e.get_type_ids())?;
        let mask = rows(&|e| e.get_attention_mask())?;
        let hidden = model.forward(&ids, &types, Some(&mask))?;
        // Mean over the real tokens only: padding must not pull the average.
        let mask = mask.to_dtype(DType::F32)?.unsqueeze(2)?;
        let summed = hidden.broadcast_mul(&mask)?.sum(1)?;
        let counts = mask.sum(1)?.clamp(1e-9, f64::MAX)?;
        let mean = summed.broadcast_div(&counts)?;
        let norms = mean.sqr()?.sum_keepdim(1)?.sqrt()?.clamp(1e-12, f64::MAX)?;
        mean.broadcast_div(&norms)?.to_vec2::<f32>()
    }
}

/// The mean of `rows`, scaled to unit length (a zero mean stays zero).
fn mean_of_unit_length<'a>(rows: impl Iterator<Item = &'a [f32]>, dimensions: usize) -> Vec<f32> {
    let mut mean = vec![0f32; dimensions];
    let mut count = 0usize;
    for row in rows {
        mean.iter_mut().zip(row).for_each(|(m, v)| *m += v);
        count += 1;
    }
    let scale = 1.0 / count.max(1) as f32;
    mean.iter_mut().for_each(|m| *m *= scale);
    let norm = mean.iter().map(|v| v * v).sum::<f32>().sqrt().max(1e-12);
    mean.iter_mut().for_each(|m| *m /= norm);
    mean
}

/// Cosine similarity of two vectors.
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let norm = |v: &[f32]| v.iter().map(|x| x * x).sum::<f32>().sqrt();
    dot / (norm(a) * norm(b)).max(f32::MIN_POSITIVE)
}
