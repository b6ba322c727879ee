//! Sentences per second of the default embedding model at batch 1 and 32, on the CPU: the
//! native encoder (what the services run), then candle's `BertModel` for comparison.
//! Usage: cargo run --release -p flowforge-embeddings --example embedding_throughput [native]

use std::time::Instant;

use candle_core::Device;
use flowforge_embeddings::{Embedder, default_model_dir};

fn main() -> Result<(), Box<dyn std::error::Error>> {
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
    let native = Embedder::load(&default_model_dir(), Device::Cpu)?;
    let mut models = vec![("", native)];
    if std::env::args().nth(1).as_deref() != Some("native") {
        models.push((
            "candle ",
            Embedder::load_candle(&default_model_dir(), Device::Cpu)?,
        ));
    }
    for (name, model) in &models {
        model.embed(&texts[..8])?;
        for batch in [1usize, 32] {
            let started = Instant::now();
            for chunk in texts.chunks(batch) {
                model.embed(chunk)?;
            }
            let rate = texts.len() as f64 / started.elapsed().as_secs_f64();
            println!("{name}batch {batch:>2}: {rate:.1} sentences/s");
        }
    }
    Ok(())
}
