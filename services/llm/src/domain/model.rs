//! Loading a GGUF language model (llama, SmolLM, Mistral-style files): on the CPU into the
//! native decoder (`native`), which runs the file's own blocks; otherwise, or for block types
//! the native decoder lacks, into candle's quantized llama, re-quantizing the tensor types
//! candle has no fast CPU kernel for.

use std::io::Cursor;
use std::path::Path;

use candle_core::quantized::gguf_file::{self, Content};
use candle_core::quantized::{GgmlDType, QTensor};
use candle_core::{Device, Tensor};
use candle_transformers::models::quantized_llama::{MAX_SEQ_LEN, ModelWeights};

use super::LlmError;
use super::native::NativeLlama;
use super::template::ChatTemplate;
use super::tokenizer::ModelTokenizer;

/// The weights in one of the two runtimes; a clone shares them and starts its own KV cache.
#[derive(Clone)]
pub enum Weights {
    Native(NativeLlama),
    /// Boxed: candle's model is large beside the native one's two pointers.
    Candle(Box<ModelWeights>),
}

/// A loaded model: the weights (cloned per worker, each clone with its own KV cache), the
/// tokenizer and the chat template.
pub struct LanguageModel {
    pub id: String,
    pub weights: Weights,
    pub tokenizer: ModelTokenizer,
    pub template: ChatTemplate,
    /// The most tokens one sequence (prompt and completion) may hold.
    pub context_length: usize,
    pub device: Device,
}

impl std::fmt::Debug for LanguageModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LanguageModel")
            .field("id", &self.id)
            .field("context_length", &self.context_length)
            .finish_non_exhaustive()
    }
}

/// Whether candle's CPU matmul for `dtype` is slow enough that Q8_0 is worth the memory: it has
/// fast kernels for Q4_0, Q8_0 and the K-quants; Q4_1 ran at 3.5 tokens/s on 2 cores, Q8_0 at ~69.
fn needs_requantizing(dtype: GgmlDType) -> bool {
    matches!(dtype, GgmlDType::Q4_1 | GgmlDType::Q5_0 | GgmlDType::Q5_1)
}

/// How [`LanguageModel::load_with`] runs the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Runtime {
    /// The native decoder when the device is the CPU and the file is one it runs, else candle.
    Auto,
    /// candle's quantized llama, slow tensor types re-quantized to this type (Q8_0 or Q4_0),
    /// or dequantized when it is F32.
    Candle(GgmlDType),
}

impl LanguageModel {
    /// Loads the GGUF at `path` as model `id` with [`Runtime::Auto`].
    pub fn load(id: &str, path: &Path, device: Device) -> Result<Self, LlmError> {
        Self::load_with(id, path, device, Runtime::Auto)
    }

    /// Loads the GGUF at `path` as model `id` in `runtime`.
    pub fn load_with(
        id: &str,
        path: &Path,
        device: Device,
        runtime: Runtime,
    ) -> Result<Self, LlmError> {
        let bytes = std::fs::read(path).map_err(|e| {
            LlmError::Load(format!(
                "{}: {e} (run scripts/fetch-models.sh, or set FLOWFORGE_MODELS_DIR)",
                path.display()
            ))
        })?;
        let mut reader = Cursor::new(bytes);
        let content = Content::read(&mut reader)
            .map_err(|e| LlmError::Load(format!("{}: {e}", path.display())))?;
        let architecture = content
            .metadata
            .get("general.architecture")
            .and_then(|v| v.to_string().ok())
            .cloned()
            .unwrap_or_default();
        if architecture != "llama" {
            return Err(LlmError::Load(format!(
                "{}: architecture `{architecture}` is not supported (llama-family GGUF only)",
                path.display()
            )));
        }
        let tokenizer = ModelTokenizer::load(path, &content)?;
        let token_text = |id: Option<u32>| {
            id.and_then(|id| tokenizer.decode(&[id], false).ok())
                .unwrap_or_default()
        };
        let template = ChatTemplate::with_tokens(
            content
                .metadata
                .get("tokenizer.chat_template")
                .and_then(|v| v.to_string().ok())
                .map(String::as_str),
            &token_text(tokenizer.bos),
            &token_text(tokenizer.eos.first().copied()),
        )?;
        let trained_context = content
            .metadata
            .get("llama.context_length")
            .and_then(|v| v.to_u32().ok())
            .map_or(MAX_SEQ_LEN, |n| n as usize);
        let native = match runtime {
            Runtime::Auto if device.is_cpu() => NativeLlama::load(&content, &mut reader)?,
            _ => None,
        };
        let target = match runtime {
            Runtime::Candle(target) => target,
            Runtime::Auto => GgmlDType::Q8_0,
        };
        let weights = if let Some(native) = native {
            Weights::Native(native)
        } else if content
            .tensor_infos
            .values()
            .any(|t| needs_requantizing(t.ggml_dtype) || target == GgmlDType::F32)
        {
            let requantized = requantize(&content, &mut reader, target)?;
            let mut reader = Cursor::new(requantized);
            let content = Content::read(&mut reader)?;
            Weights::Candle(Box::new(ModelWeights::from_gguf(
                content,
                &mut reader,
                &device,
            )?))
        } else {
            Weights::Candle(Box::new(ModelWeights::from_gguf(
                content,
                &mut reader,
                &device,
            )?))
        };
        Ok(Self {
            id: id.to_owned(),
            weights,
            tokenizer,
            template,
            // candle's rotary tables stop at MAX_SEQ_LEN whatever the model was trained for.
            context_length: trained_context.min(MAX_SEQ_LEN),
            device,
        })
    }

    /// The next-token logits after feeding `tokens` at position `position` of `weights`' sequence.
    pub fn forward(
        weights: &mut Weights,
        tokens: &[u32],
        position: usize,
        device: &Device,
    ) -> Result<Vec<f32>, LlmError> {
        match weights {
            Weights::Native(native) => native.forward(tokens, position),
            Weights::Candle(weights) => {
                let input = Tensor::new(tokens, device)?.unsqueeze(0)?;
                let logits = weights.forward(&input, position)?;
                Ok(logits.squeeze(0)?.to_vec1::<f32>()?)
            }
        }
    }
}

/// The same GGUF in memory with every slow tensor type turned into `target`.
fn requantize(
    content: &Content,
    reader: &mut Cursor<Vec<u8>>,
    target: GgmlDType,
) -> Result<Vec<u8>, LlmError> {
    let device = Device::Cpu;
    let mut names: Vec<&String> = content.tensor_infos.keys().collect();
    names.sort();
    let mut tensors = Vec::with_capacity(names.len());
    for name in names {
        let tensor = content.tensor(reader, name, &device)?;
        let columns = tensor.shape().dims().last().copied().unwrap_or(0);
        let slow = needs_requantizing(tensor.dtype());
        let tensor = if target == GgmlDType::F32 && tensor.dtype() != GgmlDType::F32 {
            QTensor::quantize(&tensor.dequantize(&device)?, GgmlDType::F32)?
        } else if slow && columns % 32 == 0 {
            QTensor::quantize(&tensor.dequantize(&device)?, target)?
        } else {
            tensor
        };
        tensors.push((name.as_str(), tensor));
    }
    let metadata: Vec<(&str, &gguf_file::Value)> = content
        .metadata
        .iter()
        .map(|(k, v)| (k.as_str(), v))
        .collect();
    let tensor_refs: Vec<(&str, &QTensor)> = tensors.iter().map(|(n, t)| (*n, t)).collect();
    let mut out = Cursor::new(Vec::new());
    gguf_file::write(&mut out, &metadata, &tensor_refs)?;
    Ok(out.into_inner())
}
