//! Sentences per second of the default embedding model at batch 1 and 32, on the CPU.
//! Usage: cargo run --release -p flowforge-embeddings --example throughput

use std::time::Instant;

use candle_core::Device;
use flowforge_embeddings::{Embedder, default_model_dir};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let model = Embedder::load(&default_model_dir(), Device::Cpu)?;
    let words = [
        "invoice",
        "payment",
        "the",
        "customer",
        "order",
        "shipped",
        "late",
        "report",
        "quarterly",
        "growth",
    ];
    let sentences: Vec<String> = (0..256)
        .map(|i| {
            (0..12)
                .map(|j| words[(i * 7 + j * 3) % words.len()])
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect();
    let texts: Vec<&str> = sentences.iter().map(String::as_str).collect();
    model.embed(&texts[..8])?;
    for batch in [1usize, 32] {
        let started = Instant::now();
        for chunk in texts.chunks(batch) {
            model.embed(chunk)?;
        }
        let rate = texts.len() as f64 / started.elapsed().as_secs_f64();
        println!("batch {batch:>2}: {rate:.1} sentences/s");
    }
    Ok(())
}
