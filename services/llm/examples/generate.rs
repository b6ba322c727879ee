//! Greedy generation from the command line, with tokens per second:
//! `cargo run --release -p flowforge-llm --example generate -- "Your question"`
//! runs what the service runs (the native decoder on the GGUF as stored). To compare, candle's
//! quantized llama: `RUNTIME=candle` (Q4_1 re-quantized to Q8_0), `REQUANTIZE=q4_0` (to Q4_0),
//! `RAW=1` (the GGUF as stored). It also prints the model's perplexity on a fixed English text,
//! token by token, so that the variants' quality can be compared.
#![allow(
    clippy::unwrap_used,
    reason = "an example reports failure by panicking"
)]

use std::time::Instant;

use candle_core::Device;
use flowforge_llm::LlmConfig;
use flowforge_llm::domain::Message;
use flowforge_llm::domain::model::{LanguageModel, Runtime, Weights};

fn main() {
    let question = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "What is the capital of France?".into());
    let source = &LlmConfig::default().chat_models[0];
    let started = Instant::now();
    let runtime = match (
        std::env::var("REQUANTIZE").as_deref(),
        std::env::var("RUNTIME").as_deref(),
        std::env::var_os("RAW").is_some(),
    ) {
        (Ok("q4_0"), _, _) => Runtime::Candle(candle_core::quantized::GgmlDType::Q4_0),
        (_, Ok("candle"), _) | (_, _, true) => {
            Runtime::Candle(candle_core::quantized::GgmlDType::Q8_0)
        }
        _ => Runtime::Auto,
    };
    let model = LanguageModel::load_with(&source.id, &source.path, Device::Cpu, runtime).unwrap();
    println!("loaded in {:.2} s", started.elapsed().as_secs_f64());
    let prompt = model
        .template
        .render(&[Message {
            role: "user".into(),
            content: question,
        }])
        .unwrap();
    let tokens = model.tokenizer.encode(&prompt).unwrap();
    println!("prompt: {prompt:?}\n{} tokens: {tokens:?}", tokens.len());
    // Best of three runs, as bench/llm/reference.py measures llama.cpp: this machine's
    // neighbours make single runs vary by a third.
    let mut best = 0.0f64;
    for _ in 0..3 {
        let mut weights = weights_for(&model);
        let started = Instant::now();
        let mut logits = LanguageModel::forward(&mut weights, &tokens, 0, &Device::Cpu).unwrap();
        let prefill = started.elapsed();
        let mut out = Vec::new();
        let started = Instant::now();
        for i in 0..64 {
            let next = logits
                .iter()
                .enumerate()
                .max_by(|a, b| a.1.total_cmp(b.1))
                .map(|(i, _)| i as u32)
                .unwrap();
            if model.tokenizer.eos.contains(&next) {
                break;
            }
            out.push(next);
            logits = LanguageModel::forward(&mut weights, &[next], tokens.len() + i, &Device::Cpu)
                .unwrap();
        }
        let seconds = started.elapsed().as_secs_f64();
        let rate = out.len() as f64 / seconds;
        best = best.max(rate);
        println!("{:?}", model.tokenizer.decode(&out, true).unwrap());
        println!(
            "prefill {} tokens in {:.0} ms; {} tokens in {:.2} s: {rate:.1} tokens/s",
            tokens.len(),
            prefill.as_secs_f64() * 1000.0,
            out.len(),
            seconds,
        );
    }
    println!("decode, best of 3 = {best:.1} tokens/s");
    println!(
        "perplexity on the reference text: {:.3}",
        perplexity(&model, &mut weights_for(&model))
    );
}

/// The weights as loaded (or as stored, with `RAW=1`), with an empty KV cache.
fn weights_for(model: &LanguageModel) -> Weights {
    if std::env::var_os("RAW").is_some() {
        let source = &LlmConfig::default().chat_models[0];
        let mut file = std::fs::File::open(&source.path).unwrap();
        let content = candle_core::quantized::gguf_file::Content::read(&mut file).unwrap();
        Weights::Candle(Box::new(
            candle_transformers::models::quantized_llama::ModelWeights::from_gguf(
                content,
                &mut file,
                &Device::Cpu,
            )
            .unwrap(),
        ))
    } else {
        model.weights.clone()
    }
}

/// exp(mean negative log-likelihood) of a fixed text, fed one token at a time.
fn perplexity(model: &LanguageModel, weights: &mut Weights) -> f64 {
    const TEXT: &str = "The Industrial Revolution began in Great Britain in the late eighteenth \
        century and spread to Europe and North America. Machines replaced much of the work that \
        had been done by hand, factories grew around rivers and coal fields, and railways \
        connected cities that had been days apart. Historians still debate why it started where \
        it did: cheap energy, high wages, a stable government and a culture of practical \
        invention all played a part.";
    let tokens = model.tokenizer.encode(TEXT).unwrap();
    let started = Instant::now();
    let mut total = 0.0f64;
    let mut logits = LanguageModel::forward(weights, &tokens[..1], 0, &Device::Cpu).unwrap();
    for (i, &next) in tokens.iter().enumerate().skip(1) {
        let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let sum: f64 = logits.iter().map(|&l| f64::from(l - max).exp()).sum();
        total -= f64::from(logits[next as usize] - max) - sum.ln();
        logits = LanguageModel::forward(weights, &[next], i, &Device::Cpu).unwrap();
    }
    println!(
        "reference text: {} tokens fed one by one at {:.1} tokens/s",
        tokens.len(),
        tokens.len() as f64 / started.elapsed().as_secs_f64()
    );
    (total / (tokens.len() - 1) as f64).exp()
}
