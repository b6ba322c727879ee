//! Embeddings with continuous batching: requests that arrive while the model is busy are run
//! together in the next batch, sorted by length so that short texts are not padded to long ones.

use std::sync::Arc;
use std::sync::mpsc::{Receiver, SyncSender, TrySendError};

use flowforge_embeddings::Embedder;
use tokio::sync::oneshot;

use super::{Embeddings, LlmError};

/// Most texts run through the model at once.
const MODEL_BATCH: usize = 32;
/// Most texts gathered from waiting requests into one round.
const ROUND_TEXTS: usize = 256;

struct Job {
    texts: Vec<String>,
    truncate: bool,
    reply: oneshot::Sender<Result<Embeddings, LlmError>>,
}

/// A BERT-family embedding model behind a batching queue.
pub struct EmbeddingModel {
    pub id: String,
    embedder: Arc<Embedder>,
    jobs: SyncSender<Job>,
}

impl std::fmt::Debug for EmbeddingModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmbeddingModel")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl EmbeddingModel {
    /// Starts the batching thread for `embedder`; at most `queue` requests wait.
    pub fn start(
        id: &str,
        embedder: Embedder,
        queue: usize,
        batch_sizes: prometheus::Histogram,
    ) -> Self {
        let embedder = Arc::new(embedder);
        let (jobs, receiver) = std::sync::mpsc::sync_channel(queue.max(1));
        let worker = Arc::clone(&embedder);
        let spawned = std::thread::Builder::new()
            .name("llm-embed".into())
            .spawn(move || batch_loop(&worker, &receiver, &batch_sizes));
        if let Err(error) = spawned {
            tracing::error!(%error, "the embedding worker could not start");
        }
        Self {
            id: id.to_owned(),
            embedder,
            jobs,
        }
    }

    pub fn dimensions(&self) -> usize {
        self.embedder.dimensions()
    }

    pub fn max_tokens(&self) -> usize {
        self.embedder.max_tokens()
    }

    /// Unit vectors of `texts`. Texts over the model's token limit are refused unless
    /// `truncate`, when only their first tokens count.
    pub async fn embed(&self, texts: Vec<String>, truncate: bool) -> Result<Embeddings, LlmError> {
        if let Some(i) = texts.iter().position(String::is_empty) {
            return Err(LlmError::invalid(
                &format!("input[{i}]"),
                "an input must not be empty",
            ));
        }
        let (reply, answer) = oneshot::channel();
        match self.jobs.try_send(Job {
            texts,
            truncate,
            reply,
        }) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                return Err(LlmError::Overloaded(
                    "the embedding queue is full; try again shortly".into(),
                ));
            }
            Err(TrySendError::Disconnected(_)) => {
                return Err(LlmError::Internal(
                    "the embedding worker has stopped".into(),
                ));
            }
        }
        answer
            .await
            .map_err(|_| LlmError::Internal("the embedding worker dropped a request".into()))?
    }
}

/// The tokens `texts` count for (capped at the model's limit), or why one is refused.
fn count_tokens(embedder: &Embedder, texts: &[String], truncate: bool) -> Result<usize, LlmError> {
    let limit = embedder.max_tokens();
    let mut total = 0;
    for (i, text) in texts.iter().enumerate() {
        let tokens = embedder
            .count_tokens(text)
            .map_err(|e| LlmError::Tokenize(e.to_string()))?;
        if tokens > limit && !truncate {
            return Err(LlmError::TooManyTokens(format!(
                "input[{i}] has {tokens} tokens; the model reads at most {limit} (send truncate=true to cut it)"
            )));
        }
        total += tokens.min(limit);
    }
    Ok(total)
}

fn batch_loop(embedder: &Embedder, receiver: &Receiver<Job>, batch_sizes: &prometheus::Histogram) {
    while let Ok(first) = receiver.recv() {
        let mut round = vec![first];
        let mut texts = round[0].texts.len();
        while texts < ROUND_TEXTS {
            match receiver.try_recv() {
                Ok(job) => {
                    texts += job.texts.len();
                    round.push(job);
                }
                Err(_) => break,
            }
        }
        // Jobs whose client left are not worth computing; refused ones are answered now.
        let mut counted = Vec::with_capacity(round.len());
        for job in round {
            if job.reply.is_closed() {
                continue;
            }
            match count_tokens(embedder, &job.texts, job.truncate) {
                Ok(tokens) => counted.push((job, tokens)),
                Err(error) => {
                    let _ = job.reply.send(Err(error));
                }
            }
        }
        let round = counted;
        if round.is_empty() {
            continue;
        }
        let all: Vec<&str> = round
            .iter()
            .flat_map(|(job, _)| job.texts.iter().map(String::as_str))
            .collect();
        batch_sizes.observe(all.len() as f64);
        match embed_sorted(embedder, &all) {
            Ok(mut vectors) => {
                for (job, prompt_tokens) in round {
                    let rest = vectors.split_off(job.texts.len());
                    let _ = job.reply.send(Ok(Embeddings {
                        vectors: std::mem::replace(&mut vectors, rest),
                        prompt_tokens,
                    }));
                }
            }
            Err(error) => {
                for (job, _) in round {
                    let _ = job.reply.send(Err(error.clone()));
                }
            }
        }
    }
}

/// Embeds `texts` in model batches of similar length; vectors come back in the input order.
fn embed_sorted(embedder: &Embedder, texts: &[&str]) -> Result<Vec<Vec<f32>>, LlmError> {
    let mut order: Vec<usize> = (0..texts.len()).collect();
    order.sort_by_key(|&i| texts[i].len());
    let mut vectors = vec![Vec::new(); texts.len()];
    for chunk in order.chunks(MODEL_BATCH) {
        let batch: Vec<&str> = chunk.iter().map(|&i| texts[i]).collect();
        let embedded = embedder
            .embed(&batch)
            .map_err(|e| LlmError::Internal(e.to_string()))?;
        for (&i, vector) in chunk.iter().zip(embedded) {
            vectors[i] = vector;
        }
    }
    Ok(vectors)
}
