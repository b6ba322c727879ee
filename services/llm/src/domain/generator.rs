//! Local generation: worker threads, each with its own copy of the weights' KV cache, fed from
//! one bounded queue. A full queue refuses at once (back-pressure) rather than letting waits
//! grow; a request whose client has gone (its event stream dropped) is skipped or stopped.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use super::model::LanguageModel;
use super::sampler::Sampler;
use super::text::{IncrementalDecoder, StopMatcher};
use super::{Event, EventStream, FinishReason, GenerationOptions, LlmError, ResponseFormat, Usage};

/// Events buffered between a worker and a slow client before the worker waits.
const EVENT_BUFFER: usize = 64;

/// The counters generation keeps (registered by the service).
#[derive(Clone)]
pub struct GenerationMetrics {
    pub prompt_tokens: prometheus::IntCounter,
    pub completion_tokens: prometheus::IntCounter,
    pub time_to_first_token: prometheus::Histogram,
    pub tokens_per_second: prometheus::Histogram,
    pub queue_depth: prometheus::IntGauge,
}

struct Job {
    prompt: Vec<u32>,
    max_tokens: usize,
    options: GenerationOptions,
    events: tokio::sync::mpsc::Sender<Event>,
}

/// A generation queue in front of `workers` threads running one model.
pub struct Generator {
    model: Arc<LanguageModel>,
    jobs: SyncSender<Job>,
    /// Requests queued or running.
    load: Arc<AtomicUsize>,
    capacity: usize,
    pub max_tokens: usize,
}

impl std::fmt::Debug for Generator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Generator")
            .field("model", &self.model.id)
            .field("capacity", &self.capacity)
            .finish_non_exhaustive()
    }
}

impl Generator {
    /// Starts `workers` threads for `model`; at most `queue` requests wait beyond those running;
    /// no request generates more than `max_tokens`.
    pub fn start(
        model: Arc<LanguageModel>,
        workers: usize,
        queue: usize,
        max_tokens: usize,
        metrics: GenerationMetrics,
    ) -> Self {
        let workers = workers.max(1);
        let (jobs, receiver) = std::sync::mpsc::sync_channel::<Job>(queue);
        let receiver = Arc::new(Mutex::new(receiver));
        let load = Arc::new(AtomicUsize::new(0));
        for i in 0..workers {
            let receiver = Arc::clone(&receiver);
            let model = Arc::clone(&model);
            let metrics = metrics.clone();
            let load = Arc::clone(&load);
            let spawned = std::thread::Builder::new()
                .name(format!("llm-generate-{i}"))
                .spawn(move || work(&model, &receiver, &metrics, &load));
            if let Err(error) = spawned {
                tracing::error!(%error, "a generation worker could not start");
            }
        }
        Self {
            model,
            jobs,
            load,
            capacity: workers + queue,
            max_tokens,
        }
    }

    pub fn model(&self) -> &LanguageModel {
        &self.model
    }

    /// Queues the generation of a completion of `prompt` (token ids).
    pub fn generate(
        &self,
        prompt: Vec<u32>,
        options: GenerationOptions,
    ) -> Result<EventStream, LlmError> {
        if prompt.is_empty() {
            return Err(LlmError::invalid("prompt", "the prompt is empty"));
        }
        let context = self.model.context_length;
        if prompt.len() >= context {
            return Err(LlmError::ContextLength(format!(
                "the prompt has {} tokens; this model's context holds {context}",
                prompt.len()
            )));
        }
        let room = context - prompt.len();
        let max_tokens = match options.max_tokens {
            Some(0) => return Err(LlmError::invalid("max_tokens", "must be at least 1")),
            Some(n) if n > self.max_tokens => {
                return Err(LlmError::TooManyTokens(format!(
                    "max_tokens may be at most {} here",
                    self.max_tokens
                )));
            }
            Some(n) if n > room => {
                return Err(LlmError::ContextLength(format!(
                    "the prompt ({} tokens) and max_tokens ({n}) exceed this model's context of {context}",
                    prompt.len()
                )));
            }
            Some(n) => n,
            None => room.min(self.max_tokens),
        };
        if self.load.fetch_add(1, Ordering::AcqRel) >= self.capacity {
            self.load.fetch_sub(1, Ordering::AcqRel);
            return Err(LlmError::Overloaded(format!(
                "{} generations are running or queued; try again shortly",
                self.capacity
            )));
        }
        let (events, stream) = tokio::sync::mpsc::channel(EVENT_BUFFER);
        let job = Job {
            prompt,
            max_tokens,
            options,
            events,
        };
        match self.jobs.try_send(job) {
            Ok(()) => Ok(stream),
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                self.load.fetch_sub(1, Ordering::AcqRel);
                Err(LlmError::Overloaded(
                    "the generation queue is full; try again shortly".into(),
                ))
            }
        }
    }

    /// Requests queued or running.
    pub fn load(&self) -> usize {
        self.load.load(Ordering::Acquire)
    }
}

fn work(
    model: &LanguageModel,
    receiver: &Mutex<Receiver<Job>>,
    metrics: &GenerationMetrics,
    load: &AtomicUsize,
) {
    let mut weights = model.weights.clone();
    loop {
        let job = match receiver.lock() {
            Ok(receiver) => receiver.recv(),
            Err(_) => return,
        };
        let Ok(job) = job else { return };
        metrics.queue_depth.set(load.load(Ordering::Acquire) as i64);
        if !job.events.is_closed() {
            let events = job.events.clone();
            if let Err(error) = run(model, &mut weights, job, metrics) {
                let _ = events.blocking_send(Event::Error(error));
            }
        }
        load.fetch_sub(1, Ordering::AcqRel);
        metrics.queue_depth.set(load.load(Ordering::Acquire) as i64);
    }
}

/// Generates one completion, sending its text as it comes. Returns early (without error) when
/// the client has gone.
fn run(
    model: &LanguageModel,
    weights: &mut super::model::Weights,
    job: Job,
    metrics: &GenerationMetrics,
) -> Result<(), LlmError> {
    let started = Instant::now();
    let Job {
        prompt,
        max_tokens,
        options,
        events,
    } = job;
    let tokenizer = &model.tokenizer;
    let grammar = match &options.response_format {
        ResponseFormat::Text => None,
        ResponseFormat::JsonObject => Some(Arc::new(super::Grammar::any_object())),
        ResponseFormat::JsonSchema { grammar, .. } => Some(Arc::clone(grammar)),
    };
    let mut json = grammar.as_ref().map(|g| g.start());
    let mut sampler = Sampler::new(options.sampling.clone(), &prompt);
    let mut decoder = IncrementalDecoder::default();
    let mut stops = StopMatcher::new(options.stop.clone());
    metrics.prompt_tokens.inc_by(prompt.len() as u64);
    // Position 0 resets the KV cache left by the previous request.
    let mut logits = LanguageModel::forward(weights, &prompt, 0, &model.device)?;
    let mut generated = 0usize;
    let mut finish = FinishReason::Length;
    let send = |event: Event| events.blocking_send(event).is_ok();
    while generated < max_tokens {
        let next = sampler.sample(&mut logits, |token| match (&grammar, &json) {
            (Some(grammar), Some(state)) => {
                if tokenizer.eos.contains(&token) {
                    return state.is_complete(grammar);
                }
                let bytes = tokenizer.token_bytes(token);
                !bytes.is_empty() && state.clone().feed(grammar, bytes)
            }
            _ => true,
        });
        let Some(token) = next else {
            finish = FinishReason::Stop;
            break;
        };
        if generated == 0 {
            metrics
                .time_to_first_token
                .observe(started.elapsed().as_secs_f64());
        }
        if tokenizer.eos.contains(&token) {
            finish = FinishReason::Stop;
            break;
        }
        generated += 1;
        sampler.accept(token);
        if let (Some(grammar), Some(state)) = (&grammar, &mut json) {
            state.feed(grammar, tokenizer.token_bytes(token));
        }
        let (text, stopped) = stops.push(&decoder.push(tokenizer, token)?);
        if !text.is_empty() && !send(Event::Text(text)) {
            return Ok(());
        }
        if stopped || json.as_ref().is_some_and(|s| s.is_finished()) {
            finish = FinishReason::Stop;
            break;
        }
        if generated < max_tokens {
            logits = LanguageModel::forward(
                weights,
                &[token],
                prompt.len() + generated - 1,
                &model.device,
            )?;
        }
    }
    let rest = stops.finish();
    if !rest.is_empty() && !send(Event::Text(rest)) {
        return Ok(());
    }
    metrics.completion_tokens.inc_by(generated as u64);
    let seconds = started.elapsed().as_secs_f64();
    if generated > 0 && seconds > 0.0 {
        metrics
            .tokens_per_second
            .observe(generated as f64 / seconds);
    }
    send(Event::Done {
        finish_reason: finish,
        usage: Usage {
            prompt_tokens: prompt.len(),
            completion_tokens: generated,
        },
    });
    Ok(())
}
