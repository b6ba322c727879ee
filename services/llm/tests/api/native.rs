//! The native decoder against candle's quantized llama on the same weights: the GGUF
//! dequantized to F32 for candle, so that neither side rounds activations and the two compute
//! the same function.

use candle_core::Device;
use candle_core::quantized::GgmlDType;
use flowforge_llm::LlmConfig;
use flowforge_llm::domain::Message;
use flowforge_llm::domain::model::{LanguageModel, Runtime, Weights};

fn largest_difference(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

fn argmax(logits: &[f32]) -> u32 {
    logits
        .iter()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(b.1))
        .map(|(i, _)| i as u32)
        .unwrap()
}

#[test]
fn the_native_decoder_computes_what_candle_computes_on_the_same_weights() {
    let source = &LlmConfig::default().chat_models[0];
    let native = LanguageModel::load(&source.id, &source.path, Device::Cpu).unwrap();
    assert!(
        matches!(native.weights, Weights::Native(_)),
        "a Q4_1 llama on the CPU runs natively"
    );
    let reference = LanguageModel::load_with(
        &source.id,
        &source.path,
        Device::Cpu,
        Runtime::Candle(GgmlDType::F32),
    )
    .unwrap();
    let prompt = native
        .template
        .render(&[Message {
            role: "user".into(),
            content: "Name three colours.".into(),
        }])
        .unwrap();
    let tokens = native.tokenizer.encode(&prompt).unwrap();
    let (mut ours, mut theirs) = (native.weights.clone(), reference.weights.clone());
    let mut logits = LanguageModel::forward(&mut ours, &tokens, 0, &Device::Cpu).unwrap();
    let mut expected = LanguageModel::forward(&mut theirs, &tokens, 0, &Device::Cpu).unwrap();
    // Logits here span about ±30; f32 sums in another order differ in the last digits.
    for (step, position) in (0..12).zip(tokens.len()..) {
        let difference = largest_difference(&logits, &expected);
        assert!(
            difference < 2e-2,
            "step {step}: logits differ by {difference}"
        );
        let next = argmax(&logits);
        assert_eq!(next, argmax(&expected), "step {step}");
        logits = LanguageModel::forward(&mut ours, &[next], position, &Device::Cpu).unwrap();
        expected = LanguageModel::forward(&mut theirs, &[next], position, &Device::Cpu).unwrap();
    }

    // The prompt fed in two parts, and fed again over a cache that already holds it, gives the
    // logits of feeding it whole.
    let mut split = native.weights.clone();
    let middle = tokens.len() / 2;
    LanguageModel::forward(&mut split, &tokens[..middle], 0, &Device::Cpu).unwrap();
    let in_two =
        LanguageModel::forward(&mut split, &tokens[middle..], middle, &Device::Cpu).unwrap();
    let whole = LanguageModel::forward(&mut ours, &tokens, 0, &Device::Cpu).unwrap();
    assert!(largest_difference(&in_two, &whole) < 1e-3);
    let again =
        LanguageModel::forward(&mut split, &tokens[middle..], middle, &Device::Cpu).unwrap();
    assert!(largest_difference(&again, &whole) < 1e-3);
    assert!(
        LanguageModel::forward(&mut split, &tokens[..1], tokens.len() + 5, &Device::Cpu).is_err(),
        "a position past the cache is refused"
    );
}
