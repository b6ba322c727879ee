//! The real all-MiniLM-L6-v2 (installed by scripts/fetch-models.sh, which `make test` runs)
//! against sentence-transformers' own numbers.
#![allow(clippy::unwrap_used, reason = "test helpers panic to report failure")]

use candle_core::Device;
use flowforge_embeddings::{Embedder, cosine, default_model_dir};

fn embedder() -> Embedder {
    Embedder::load(&default_model_dir(), Device::Cpu).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn golden_similarity_of_sentence_transformers() {
    let model = embedder();
    assert_eq!(model.dimensions(), 384);
    let v = model
        .embed(&[
            "A man is eating food.",
            "A man is eating a piece of bread.",
            "The girl is carrying a baby.",
        ])
        .unwrap();
    assert_eq!(v.len(), 3);
    for e in &v {
        assert_eq!(e.len(), 384);
        let norm: f32 = e.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-4, "unit length: {norm}");
    }
    // sentence-transformers' value for this pair with this model.
    let similar = cosine(&v[0], &v[1]);
    assert!((similar - 0.7553).abs() < 5e-4, "{similar}");
    assert!(cosine(&v[0], &v[2]) < 0.3, "{}", cosine(&v[0], &v[2]));
}

#[test]
fn batching_and_padding_do_not_change_a_vector() {
    let model = embedder();
    let alone = model.embed(&["short"]).unwrap();
    let batched = model
        .embed(&[
            "short",
            "a much longer sentence that makes the batch pad the short one with many tokens",
        ])
        .unwrap();
    let drift: f32 = alone[0]
        .iter()
        .zip(&batched[0])
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f32::max);
    assert!(drift < 1e-5, "{drift}");
    assert!(model.embed(&[]).unwrap().is_empty());
    assert_eq!(
        model.count_tokens("Hello world!").unwrap(),
        5,
        "[CLS] hello world ! [SEP]"
    );
    assert!(model.count_tokens(&"word ".repeat(600)).unwrap() > model.max_tokens());
    let long = model.embed(&[&"word ".repeat(600)]).unwrap();
    assert_eq!(
        long[0].len(),
        384,
        "over-long input is truncated, not refused"
    );
}

#[test]
fn a_missing_model_names_the_fix() {
    let error = Embedder::load(std::path::Path::new("/nonexistent"), Device::Cpu).unwrap_err();
    assert!(error.to_string().contains("fetch-models.sh"), "{error}");
}

#[test]
fn the_native_encoder_computes_what_candles_bert_computes() {
    let native = embedder();
    let candle =
        Embedder::load_candle(&default_model_dir(), Device::Cpu).unwrap_or_else(|e| panic!("{e}"));
    assert!(native.runs_natively() && !candle.runs_natively());
    // Mixed lengths, so candle pads and masks while the native encoder packs; one input is cut
    // at the token limit on both sides.
    let long = "the quarterly report was late again ".repeat(60);
    let texts = [
        "A man is eating food.",
        "Zwölf Boxkämpfer jagen Viktor quer über den großen Sylter Deich.",
        "",
        "a",
        long.as_str(),
        "Invoices are paid within 30 days of the shipping date, unless agreed otherwise.",
    ];
    let expected = candle.embed(&texts).unwrap();
    let actual = native.embed(&texts).unwrap();
    for (i, (a, e)) in actual.iter().zip(&expected).enumerate() {
        let drift = a
            .iter()
            .zip(e)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0, f32::max);
        assert!(drift < 2e-5, "input {i}: largest difference {drift}");
    }
    assert_eq!(actual.len(), texts.len());
}
