//! The tokenizer of a GGUF model, built from the vocabulary and merges the file carries.
//!
//! candle's `Tokenizer::from_gguf` falls back to GPT-2's pre-tokenizer for SmolLM2 and splits
//! text slightly differently from the model's training; this builds the HF tokenizer the model
//! was trained with (`tokenizer.ggml.pre` names it), or reads a `tokenizer.json` an operator put
//! beside the GGUF, which always wins.

use std::collections::HashMap;
use std::path::Path;

use candle_core::quantized::gguf_file::{Content, Value};
use serde_json::{Value as Json, json};
use tokenizers::Tokenizer;

use super::LlmError;

/// GGUF token type of control tokens (`<|im_start|>`): never produced by splitting text.
const TOKEN_TYPE_CONTROL: i32 = 3;
/// GGUF token type of user-defined tokens, matched whole like control tokens.
const TOKEN_TYPE_USER_DEFINED: i32 = 4;

/// A model's tokenizer, its special tokens and every token's bytes.
pub struct ModelTokenizer {
    tokenizer: Tokenizer,
    /// The raw bytes each token stands for (empty for control tokens).
    token_bytes: Vec<Vec<u8>>,
    /// Control and user-defined tokens.
    special: Vec<bool>,
    pub bos: Option<u32>,
    pub eos: Vec<u32>,
}

impl std::fmt::Debug for ModelTokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ModelTokenizer")
            .field("vocabulary", &self.token_bytes.len())
            .field("eos", &self.eos)
            .finish_non_exhaustive()
    }
}

fn metadata<'a>(content: &'a Content, key: &str) -> Result<&'a Value, LlmError> {
    content
        .metadata
        .get(key)
        .ok_or_else(|| LlmError::Load(format!("the GGUF has no {key}")))
}

fn strings(content: &Content, key: &str) -> Result<Vec<String>, LlmError> {
    metadata(content, key)?
        .to_vec()
        .map_err(|e| LlmError::Load(format!("{key}: {e}")))?
        .iter()
        .map(|v| {
            v.to_string()
                .cloned()
                .map_err(|e| LlmError::Load(format!("{key}: {e}")))
        })
        .collect()
}

fn token_id(content: &Content, key: &str) -> Option<u32> {
    content.metadata.get(key).and_then(|v| v.to_u32().ok())
}

/// The pre-tokenizer a GGUF's `tokenizer.ggml.pre` stands for, as HF tokenizer JSON.
fn pre_tokenizer(pre: &str) -> Json {
    let byte_level = json!({"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true});
    match pre {
        // SmolLM2 and StarCoder: every digit apart, then GPT-2's byte-level split.
        "smollm" | "starcoder" | "refact" => json!({"type": "Sequence", "pretokenizers": [
            {"type": "Digits", "individual_digits": true}, byte_level]}),
        _ => byte_level,
    }
}

impl ModelTokenizer {
    /// The tokenizer of the GGUF whose header is `content` (its file at `path`).
    pub fn load(path: &Path, content: &Content) -> Result<Self, LlmError> {
        let tokens = strings(content, "tokenizer.ggml.tokens")?;
        let types: Vec<i32> = match content.metadata.get("tokenizer.ggml.token_type") {
            Some(v) => v
                .to_vec()
                .map_err(|e| LlmError::Load(format!("token_type: {e}")))?
                .iter()
                .map(|t| t.to_i32().unwrap_or(1))
                .collect(),
            None => vec![1; tokens.len()],
        };
        let special: Vec<bool> = (0..tokens.len())
            .map(|i| {
                matches!(
                    types.get(i),
                    Some(&TOKEN_TYPE_CONTROL) | Some(&TOKEN_TYPE_USER_DEFINED)
                )
            })
            .collect();
        let beside = path.with_file_name("tokenizer.json");
        let tokenizer = if beside.is_file() {
            Tokenizer::from_file(&beside)
                .map_err(|e| LlmError::Load(format!("{}: {e}", beside.display())))?
        } else {
            Self::from_gguf_vocabulary(content, &tokens, &special)?
        };
        let decode = byte_decoder();
        let token_bytes = tokens
            .iter()
            .zip(&special)
            .map(|(token, &special)| {
                if special {
                    Vec::new()
                } else {
                    token
                        .chars()
                        .map(|c| decode.get(&c).copied().unwrap_or(b'?'))
                        .collect()
                }
            })
            .collect();
        let eos = token_id(content, "tokenizer.ggml.eos_token_id")
            .into_iter()
            .chain(
                // Chat models end turns with their own token even when eos names another.
                ["<|im_end|>", "<|eot_id|>", "<|end|>", "<|endoftext|>"]
                    .iter()
                    .filter_map(|t| tokenizer.token_to_id(t)),
            )
            .fold(Vec::new(), |mut all, id| {
                if !all.contains(&id) {
                    all.push(id);
                }
                all
            });
        Ok(Self {
            tokenizer,
            token_bytes,
            special,
            bos: token_id(content, "tokenizer.ggml.bos_token_id"),
            eos,
        })
    }

    fn from_gguf_vocabulary(
        content: &Content,
        tokens: &[String],
        special: &[bool],
    ) -> Result<Tokenizer, LlmError> {
        let model = metadata(content, "tokenizer.ggml.model")?
            .to_string()
            .map_err(|e| LlmError::Load(e.to_string()))?;
        if model != "gpt2" {
            return Err(LlmError::Load(format!(
                "the GGUF's tokenizer is `{model}`; only byte-level BPE (`gpt2`) is built from \
                 the file: put the model's tokenizer.json beside it"
            )));
        }
        let merges = strings(content, "tokenizer.ggml.merges")?;
        let pre = content
            .metadata
            .get("tokenizer.ggml.pre")
            .and_then(|v| v.to_string().ok())
            .map_or("default", String::as_str);
        let vocab: serde_json::Map<String, Json> = tokens
            .iter()
            .enumerate()
            .map(|(id, token)| (token.clone(), json!(id)))
            .collect();
        let added: Vec<Json> = tokens
            .iter()
            .enumerate()
            .filter(|(id, _)| special[*id])
            .map(|(id, token)| {
                json!({"id": id, "content": token, "single_word": false,
                "lstrip": false, "rstrip": false, "normalized": false, "special": true})
            })
            .collect();
        let definition = json!({
            "version": "1.0",
            "truncation": null,
            "padding": null,
            "added_tokens": added,
            "normalizer": null,
            "pre_tokenizer": pre_tokenizer(pre),
            "post_processor": null,
            "decoder": {"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true, "use_regex": true},
            "model": {"type": "BPE", "dropout": null, "unk_token": null,
                "continuing_subword_prefix": null, "end_of_word_suffix": null, "fuse_unk": false,
                "byte_fallback": false, "ignore_merges": false, "vocab": vocab, "merges": merges},
        });
        Tokenizer::from_bytes(definition.to_string())
            .map_err(|e| LlmError::Load(format!("tokenizer from the GGUF: {e}")))
    }

    /// Token ids of `text`; special tokens written in the text (`<|im_start|>`) are parsed as
    /// such, which is what a rendered chat template needs.
    pub fn encode(&self, text: &str) -> Result<Vec<u32>, LlmError> {
        Ok(self
            .tokenizer
            .encode(text, false)
            .map_err(|e| LlmError::Tokenize(e.to_string()))?
            .get_ids()
            .to_vec())
    }

    /// The text of `ids`; special tokens are left out when `skip_special`.
    pub fn decode(&self, ids: &[u32], skip_special: bool) -> Result<String, LlmError> {
        if let Some(bad) = ids.iter().find(|&&id| id as usize >= self.len()) {
            return Err(LlmError::Invalid {
                field: "tokens".into(),
                message: format!(
                    "token {bad} is outside the vocabulary (0–{})",
                    self.len() - 1
                ),
            });
        }
        self.tokenizer
            .decode(ids, skip_special)
            .map_err(|e| LlmError::Tokenize(e.to_string()))
    }

    /// The vocabulary's size.
    pub fn len(&self) -> usize {
        self.token_bytes.len()
    }

    /// Whether the vocabulary is empty (never, for a loaded model).
    pub fn is_empty(&self) -> bool {
        self.token_bytes.is_empty()
    }

    /// The bytes token `id` stands for; empty for special tokens.
    pub fn token_bytes(&self, id: u32) -> &[u8] {
        self.token_bytes.get(id as usize).map_or(&[], Vec::as_slice)
    }

    /// Whether `id` is a control token.
    pub fn is_special(&self, id: u32) -> bool {
        self.special.get(id as usize).copied().unwrap_or(false)
    }

    /// The id of a token written out, e.g. `<|im_end|>`.
    pub fn token_to_id(&self, token: &str) -> Option<u32> {
        self.tokenizer.token_to_id(token)
    }
}

/// GPT-2's byte-level alphabet read backwards: the printable character each byte is written as
/// in the vocabulary, mapped to the byte.
fn byte_decoder() -> HashMap<char, u8> {
    let mut printable: Vec<u8> = (b'!'..=b'~')
        .chain(0xA1..=0xAC)
        .chain(0xAE..=0xFF)
        .collect();
    let mut chars: Vec<u32> = printable.iter().map(|&b| u32::from(b)).collect();
    let mut next = 0u32;
    for byte in 0..=255u8 {
        if !printable.contains(&byte) {
            printable.push(byte);
            chars.push(256 + next);
            next += 1;
        }
    }
    printable
        .into_iter()
        .zip(chars)
        .filter_map(|(byte, c)| char::from_u32(c).map(|c| (c, byte)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_byte_alphabet_covers_every_byte_once() {
        let decoder = byte_decoder();
        assert_eq!(decoder.len(), 256);
        assert_eq!(decoder[&'Ġ'], b' ');
        assert_eq!(decoder[&'Ċ'], b'\n');
        assert_eq!(decoder[&'a'], b'a');
    }
}
