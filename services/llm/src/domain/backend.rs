//! Backends behind one trait, and the registry that routes model names to them: the local
//! candle models, and optionally an upstream OpenAI-compatible server (vLLM, Ollama, OpenAI).

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use async_trait::async_trait;

use super::embedder::EmbeddingModel;
use super::generator::Generator;
use super::{Embeddings, EventStream, GenerationOptions, LlmError, Message};

/// What a model is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelKind {
    Chat,
    Embedding,
}

/// One model a backend serves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelCard {
    pub id: String,
    pub kind: ModelKind,
    /// `flowforge` for local models, `upstream` for those served elsewhere.
    pub owned_by: String,
    pub context_length: Option<usize>,
    pub dimensions: Option<usize>,
}

/// Something that serves models.
#[async_trait]
pub trait Backend: Send + Sync + std::fmt::Debug {
    /// The models it serves.
    fn models(&self) -> Vec<ModelCard>;

    /// A reply to `messages` from chat model `model`.
    async fn chat(
        &self,
        model: &str,
        messages: Vec<Message>,
        options: GenerationOptions,
    ) -> Result<EventStream, LlmError>;

    /// A continuation of `prompt`.
    async fn complete(
        &self,
        model: &str,
        prompt: String,
        options: GenerationOptions,
    ) -> Result<EventStream, LlmError>;

    /// Embeddings of `inputs` from embedding model `model`.
    async fn embed(
        &self,
        model: &str,
        inputs: Vec<String>,
        truncate: bool,
    ) -> Result<Embeddings, LlmError>;
}

/// The local models once loaded.
#[derive(Debug, Default)]
pub struct LoadedModels {
    pub chat: HashMap<String, Generator>,
    pub embedding: HashMap<String, EmbeddingModel>,
}

/// Local candle models; they load in the background and answer `Starting` until then.
#[derive(Debug)]
pub struct LocalBackend {
    cards: Vec<ModelCard>,
    loaded: OnceLock<LoadedModels>,
}

impl LocalBackend {
    /// A backend that will serve `cards` once [`LocalBackend::set_loaded`] is called.
    pub fn new(cards: Vec<ModelCard>) -> Self {
        Self {
            cards,
            loaded: OnceLock::new(),
        }
    }

    pub fn set_loaded(&self, models: LoadedModels) {
        let _ = self.loaded.set(models);
    }

    fn loaded(&self) -> Result<&LoadedModels, LlmError> {
        self.loaded.get().ok_or(LlmError::Starting)
    }

    /// The generator of local chat model `model`.
    pub fn generator(&self, model: &str) -> Result<&Generator, LlmError> {
        self.loaded()?
            .chat
            .get(model)
            .ok_or_else(|| LlmError::Unsupported {
                field: "model".into(),
                message: format!("`{model}` is not a local chat model"),
            })
    }

    /// Local embedding model `model`.
    pub fn embedding(&self, model: &str) -> Result<&EmbeddingModel, LlmError> {
        self.loaded()?
            .embedding
            .get(model)
            .ok_or_else(|| LlmError::Unsupported {
                field: "model".into(),
                message: format!("`{model}` is not a local embedding model"),
            })
    }
}

#[async_trait]
impl Backend for LocalBackend {
    fn models(&self) -> Vec<ModelCard> {
        self.cards.clone()
    }

    async fn chat(
        &self,
        model: &str,
        messages: Vec<Message>,
        options: GenerationOptions,
    ) -> Result<EventStream, LlmError> {
        let generator = self.generator(model)?;
        let language = generator.model();
        let prompt = language.template.render(&messages)?;
        let tokens = language.tokenizer.encode(&prompt)?;
        generator.generate(tokens, options)
    }

    async fn complete(
        &self,
        model: &str,
        prompt: String,
        options: GenerationOptions,
    ) -> Result<EventStream, LlmError> {
        let generator = self.generator(model)?;
        let tokens = generator.model().tokenizer.encode(&prompt)?;
        generator.generate(tokens, options)
    }

    async fn embed(
        &self,
        model: &str,
        inputs: Vec<String>,
        truncate: bool,
    ) -> Result<Embeddings, LlmError> {
        self.embedding(model)?.embed(inputs, truncate).await
    }
}

/// Routes model names to backends; the first model of each kind is the default.
#[derive(Debug)]
pub struct Registry {
    pub local: Arc<LocalBackend>,
    routes: Vec<(ModelCard, Arc<dyn Backend>)>,
}

impl Registry {
    /// Every model of `local` and of `others`; a name served twice goes to the first.
    pub fn new(local: Arc<LocalBackend>, others: Vec<Arc<dyn Backend>>) -> Self {
        let mut routes: Vec<(ModelCard, Arc<dyn Backend>)> = Vec::new();
        let local_dyn: Arc<dyn Backend> = local.clone();
        for backend in std::iter::once(local_dyn).chain(others) {
            for card in backend.models() {
                if !routes.iter().any(|(c, _)| c.id == card.id) {
                    routes.push((card, Arc::clone(&backend)));
                }
            }
        }
        Self { local, routes }
    }

    /// Every model, in order.
    pub fn models(&self) -> Vec<ModelCard> {
        self.routes.iter().map(|(c, _)| c.clone()).collect()
    }

    /// The backend of `model` (or the default model of `kind`), and the model's id.
    pub fn resolve(
        &self,
        model: Option<&str>,
        kind: ModelKind,
    ) -> Result<(String, Arc<dyn Backend>), LlmError> {
        let found = match model.filter(|m| !m.is_empty()) {
            Some(name) => self.routes.iter().find(|(c, _)| c.id == name),
            None => self.routes.iter().find(|(c, _)| c.kind == kind),
        };
        match found {
            Some((card, _)) if card.kind != kind => Err(LlmError::Unsupported {
                field: "model".into(),
                message: format!(
                    "`{}` is {} model",
                    card.id,
                    match card.kind {
                        ModelKind::Chat => "a chat",
                        ModelKind::Embedding => "an embedding",
                    }
                ),
            }),
            Some((card, backend)) => Ok((card.id.clone(), Arc::clone(backend))),
            None => Err(LlmError::UnknownModel {
                model: model.unwrap_or_default().to_owned(),
                available: self
                    .routes
                    .iter()
                    .filter(|(c, _)| c.kind == kind)
                    .map(|(c, _)| c.id.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            }),
        }
    }
}
