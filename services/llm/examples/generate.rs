//! Greedy generation from the command line, with tokens per second:
//! `cargo run --release -p flowforge-llm --example generate -- "Your question"`
//! (`RAW=1` loads the GGUF as stored, without re-quantizing Q4_1 to Q8_0, to compare).
#![allow(
    clippy::unwrap_used,
    reason = "an example reports failure by panicking"
)]

use std::time::Instant;

use candle_core::Device;
use flowforge_llm::LlmConfig;
use flowforge_llm::domain::Message;
use flowforge_llm::domain::model::LanguageModel;

fn main() {
    let question = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "What is the capital of France?".into());
    let source = &LlmConfig::default().chat_models[0];
    let started = Instant::now();
    let model = LanguageModel::load(&source.id, &source.path, Device::Cpu).unwrap();
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
    let mut weights = if std::env::var_os("RAW").is_some() {
        let mut file = std::fs::File::open(&source.path).unwrap();
        let content = candle_core::quantized::gguf_file::Content::read(&mut file).unwrap();
        candle_transformers::models::quantized_llama::ModelWeights::from_gguf(
            content,
            &mut file,
            &Device::Cpu,
        )
        .unwrap()
    } else {
        model.weights.clone()
    };
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
        logits =
            LanguageModel::forward(&mut weights, &[next], tokens.len() + i, &Device::Cpu).unwrap();
    }
    let seconds = started.elapsed().as_secs_f64();
    println!("{:?}", model.tokenizer.decode(&out, true).unwrap());
    println!(
        "prefill {} tokens in {:.0} ms; {} tokens in {:.2} s = {:.1} tokens/s",
        tokens.len(),
        prefill.as_secs_f64() * 1000.0,
        out.len(),
        seconds,
        out.len() as f64 / seconds
    );
}
