//! The service's settings, read once at start-up; a bad value names its variable.

use std::path::PathBuf;
use std::time::Duration;

use crate::domain::backend::ModelKind;
use crate::domain::upstream::UpstreamModel;

const ENV_CHAT_MODELS: &str = "FLOWFORGE_LLM_CHAT_MODELS";
const ENV_EMBEDDING_MODELS: &str = "FLOWFORGE_LLM_EMBEDDING_MODELS";
const ENV_WORKERS: &str = "FLOWFORGE_LLM_WORKERS";
const ENV_QUEUE: &str = "FLOWFORGE_LLM_QUEUE";
const ENV_EMBEDDING_QUEUE: &str = "FLOWFORGE_LLM_EMBEDDING_QUEUE";
const ENV_MAX_TOKENS: &str = "FLOWFORGE_LLM_MAX_TOKENS";
const ENV_UPSTREAM_URL: &str = "FLOWFORGE_LLM_UPSTREAM_URL";
const ENV_UPSTREAM_API_KEY: &str = "FLOWFORGE_LLM_UPSTREAM_API_KEY";
const ENV_UPSTREAM_CHAT_MODELS: &str = "FLOWFORGE_LLM_UPSTREAM_CHAT_MODELS";
const ENV_UPSTREAM_EMBEDDING_MODELS: &str = "FLOWFORGE_LLM_UPSTREAM_EMBEDDING_MODELS";
const ENV_UPSTREAM_TIMEOUT: &str = "FLOWFORGE_LLM_UPSTREAM_TIMEOUT_SECONDS";

/// The default chat model: SmolLM2-135M-Instruct as `scripts/fetch-models.sh` installs it.
pub const DEFAULT_CHAT_MODEL: &str = "smollm2-135m-instruct";
/// The default embedding model: all-MiniLM-L6-v2.
pub const DEFAULT_EMBEDDING_MODEL: &str = "all-minilm-l6-v2";

/// A local model: the name clients use and where its files are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelSource {
    pub id: String,
    /// A GGUF file for chat models; a directory with config.json, tokenizer.json and
    /// model.safetensors for embedding models.
    pub path: PathBuf,
}

/// An upstream OpenAI-compatible server.
#[derive(Debug, Clone)]
pub struct UpstreamConfig {
    pub base_url: String,
    pub api_key: Option<String>,
    pub models: Vec<UpstreamModel>,
    pub timeout: Duration,
}

/// Everything the service is configured with.
#[derive(Debug, Clone)]
pub struct LlmConfig {
    pub chat_models: Vec<ModelSource>,
    pub embedding_models: Vec<ModelSource>,
    /// Generation threads per chat model.
    pub workers: usize,
    /// Generations that may wait per model beyond those running; more get 429.
    pub queue: usize,
    /// Embedding requests that may wait (they are batched, so many fit); more get 429.
    pub embedding_queue: usize,
    /// The most tokens one request may generate.
    pub max_tokens: usize,
    pub upstream: Option<UpstreamConfig>,
}

impl Default for LlmConfig {
    fn default() -> Self {
        let models = flowforge_embeddings::models_dir();
        Self {
            chat_models: vec![ModelSource {
                id: DEFAULT_CHAT_MODEL.into(),
                path: models
                    .join("smollm2-135m-instruct")
                    .join("SmolLM2-135M-Instruct.Q4_1.gguf"),
            }],
            embedding_models: vec![ModelSource {
                id: DEFAULT_EMBEDDING_MODEL.into(),
                path: flowforge_embeddings::default_model_dir(),
            }],
            workers: 1,
            queue: 16,
            embedding_queue: 1024,
            max_tokens: 1024,
            upstream: None,
        }
    }
}

fn variable(name: &str) -> Option<String> {
    std::env::var(name).ok().map(|v| v.trim().to_owned())
}

fn number(name: &str, default: usize, max: usize) -> Result<usize, String> {
    match variable(name).filter(|v| !v.is_empty()) {
        None => Ok(default),
        Some(v) => v
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=max).contains(n))
            .ok_or_else(|| format!("{name}={v}: expected a whole number from 1 to {max}")),
    }
}

/// `id=value,id2=value2`; a bare `id` stands for `id=id`.
fn pairs(name: &str, value: &str) -> Result<Vec<(String, String)>, String> {
    value
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (id, target) = pair.split_once('=').unwrap_or((pair, pair));
            let (id, target) = (id.trim(), target.trim());
            if id.is_empty() || target.is_empty() {
                return Err(format!("{name}: `{pair}` should be `name=value`"));
            }
            Ok((id.to_owned(), target.to_owned()))
        })
        .collect()
}

fn sources(name: &str, default: Vec<ModelSource>) -> Result<Vec<ModelSource>, String> {
    match variable(name) {
        None => Ok(default),
        Some(value) => Ok(pairs(name, &value)?
            .into_iter()
            .map(|(id, path)| ModelSource {
                id,
                path: PathBuf::from(path),
            })
            .collect()),
    }
}

impl LlmConfig {
    /// From `FLOWFORGE_LLM_*`; see the README for each variable.
    pub fn from_env() -> Result<Self, String> {
        let defaults = Self::default();
        let upstream = match variable(ENV_UPSTREAM_URL).filter(|v| !v.is_empty()) {
            None => None,
            Some(url) => {
                if !(url.starts_with("http://") || url.starts_with("https://")) {
                    return Err(format!("{ENV_UPSTREAM_URL}={url}: expected an http(s) URL"));
                }
                let mut models = Vec::new();
                for (name, kind) in [
                    (ENV_UPSTREAM_CHAT_MODELS, ModelKind::Chat),
                    (ENV_UPSTREAM_EMBEDDING_MODELS, ModelKind::Embedding),
                ] {
                    for (id, remote) in pairs(name, &variable(name).unwrap_or_default())? {
                        models.push(UpstreamModel { id, remote, kind });
                    }
                }
                if models.is_empty() {
                    return Err(format!(
                        "{ENV_UPSTREAM_URL} is set but neither {ENV_UPSTREAM_CHAT_MODELS} nor \
                         {ENV_UPSTREAM_EMBEDDING_MODELS} names a model to send there"
                    ));
                }
                Some(UpstreamConfig {
                    base_url: url,
                    api_key: variable(ENV_UPSTREAM_API_KEY).filter(|k| !k.is_empty()),
                    models,
                    timeout: Duration::from_secs(number(ENV_UPSTREAM_TIMEOUT, 120, 3600)? as u64),
                })
            }
        };
        Ok(Self {
            chat_models: sources(ENV_CHAT_MODELS, defaults.chat_models)?,
            embedding_models: sources(ENV_EMBEDDING_MODELS, defaults.embedding_models)?,
            workers: number(ENV_WORKERS, defaults.workers, 64)?,
            queue: number(ENV_QUEUE, defaults.queue, 10_000)?,
            embedding_queue: number(ENV_EMBEDDING_QUEUE, defaults.embedding_queue, 100_000)?,
            max_tokens: number(ENV_MAX_TOKENS, defaults.max_tokens, 1_000_000)?,
            upstream,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_read_names_and_targets() {
        assert_eq!(
            pairs("X", "a=/m/a.gguf, b").unwrap(),
            vec![("a".into(), "/m/a.gguf".into()), ("b".into(), "b".into())]
        );
        assert!(pairs("X", "=x").unwrap_err().contains("X"));
    }
}
