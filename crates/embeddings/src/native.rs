//! A BERT encoder for inference on the CPU. It computes what candle's `BertModel` computes, with
//! less work around the matrix products:
//! - the batch's sequences are packed end to end, so no padding row is ever multiplied and
//!   attention needs no mask;
//! - the query, key and value projections are one product with a fused weight;
//! - bias, activation, residual and layer norm are applied in the one pass that reads each
//!   product, instead of one tensor operation (and allocation) each.
//!
//! - every weight is packed for the product kernel once, at load (`matmul`), where a general
//!   GEMM repacks it on every call — at batch 1 that packing costs as much as the arithmetic.
//!
//! Work is split across the rayon pool by rows or by sequence.

use std::collections::HashMap;

use candle_core::{DType, Tensor};
use candle_transformers::models::bert::{Config, HiddenAct};
use rayon::prelude::*;

use crate::{EmbeddingError, Result};

mod matmul;

use matmul::PackedMatrix;

/// One input, tokenized: word-piece ids and their segment (token type) ids.
pub(crate) struct Tokens<'a> {
    pub ids: &'a [u32],
    pub type_ids: &'a [u32],
}

/// A dense layer: its weight transposed to `[in, out]` and packed.
struct Dense {
    weight: PackedMatrix,
    bias: Vec<f32>,
}

struct Norm {
    gamma: Vec<f32>,
    beta: Vec<f32>,
}

struct Layer {
    /// Query, key and value projections side by side: `[hidden, 3 * hidden]`.
    qkv: Dense,
    attention_out: Dense,
    attention_norm: Norm,
    up: Dense,
    down: Dense,
    output_norm: Norm,
}

pub(crate) struct NativeBert {
    word: Vec<f32>,
    position: Vec<f32>,
    token_type: Vec<f32>,
    embedding_norm: Norm,
    layers: Vec<Layer>,
    hidden: usize,
    heads: usize,
    activation: HiddenAct,
    eps: f32,
    max_positions: usize,
    vocab: usize,
    type_vocab: usize,
    /// The instruction set the element-wise passes are compiled for, found at load.
    arch: pulp::Arch,
}

/// Rows per parallel task in the element-wise passes: enough work to pay for the hand-off.
const ROWS_PER_TASK: usize = 16;

impl NativeBert {
    /// Builds the encoder from a checkpoint's tensors (already on the CPU). Names may carry a
    /// `bert.` or `<model_type>.` prefix, and layer norms may be `weight`/`bias` or the older
    /// `gamma`/`beta`.
    pub(crate) fn load(tensors: &HashMap<String, Tensor>, config: &Config) -> Result<Self> {
        let hidden = config.hidden_size;
        if config.num_attention_heads == 0 || !hidden.is_multiple_of(config.num_attention_heads) {
            return Err(EmbeddingError::Load(format!(
                "hidden_size {hidden} is not a multiple of num_attention_heads {}",
                config.num_attention_heads
            )));
        }
        let prefix = [
            "",
            "bert.",
            &format!("{}.", config.model_type.as_deref().unwrap_or("")),
        ]
        .into_iter()
        .find(|p| tensors.contains_key(&format!("{p}embeddings.word_embeddings.weight")))
        .map(str::to_owned)
        .ok_or_else(|| {
            EmbeddingError::Load("embeddings.word_embeddings.weight is missing".into())
        })?;
        let tensor = |name: &str| -> Result<&Tensor> {
            tensors
                .get(&format!("{prefix}{name}"))
                .ok_or_else(|| EmbeddingError::Load(format!("{prefix}{name} is missing")))
        };
        let values = |name: &str, len: usize| -> Result<Vec<f32>> {
            let values = tensor(name)?
                .to_dtype(DType::F32)?
                .flatten_all()?
                .to_vec1::<f32>()?;
            if values.len() != len {
                return Err(EmbeddingError::Load(format!(
                    "{prefix}{name} has {} values, expected {len}",
                    values.len()
                )));
            }
            Ok(values)
        };
        let norm = |name: &str| -> Result<Norm> {
            let (gamma, beta) = if tensor(&format!("{name}.weight")).is_ok() {
                ("weight", "bias")
            } else {
                ("gamma", "beta")
            };
            Ok(Norm {
                gamma: values(&format!("{name}.{gamma}"), hidden)?,
                beta: values(&format!("{name}.{beta}"), hidden)?,
            })
        };
        // `[out, in]` as stored → `[in, out]`; several weights of one input side by side.
        let dense = |names: &[&str], inputs: usize, outputs: usize| -> Result<Dense> {
            let mut weights = Vec::with_capacity(names.len());
            let mut bias = Vec::with_capacity(names.len() * outputs);
            for name in names {
                let weight = tensor(&format!("{name}.weight"))?.to_dtype(DType::F32)?;
                if weight.dims() != [outputs, inputs] {
                    return Err(EmbeddingError::Load(format!(
                        "{prefix}{name}.weight has shape {:?}, expected [{outputs}, {inputs}]",
                        weight.dims()
                    )));
                }
                weights.push(weight);
                bias.extend(values(&format!("{name}.bias"), outputs)?);
            }
            let transposed = Tensor::cat(&weights, 0)?
                .t()?
                .contiguous()?
                .flatten_all()?
                .to_vec1::<f32>()?;
            let weight = PackedMatrix::pack(&transposed, inputs, names.len() * outputs);
            Ok(Dense { weight, bias })
        };
        let intermediate = config.intermediate_size;
        let layers = (0..config.num_hidden_layers)
            .map(|i| {
                let layer = format!("encoder.layer.{i}");
                let attention = format!("{layer}.attention");
                Ok(Layer {
                    qkv: dense(
                        &[
                            &format!("{attention}.self.query"),
                            &format!("{attention}.self.key"),
                            &format!("{attention}.self.value"),
                        ],
                        hidden,
                        hidden,
                    )?,
                    attention_out: dense(&[&format!("{attention}.output.dense")], hidden, hidden)?,
                    attention_norm: norm(&format!("{attention}.output.LayerNorm"))?,
                    up: dense(
                        &[&format!("{layer}.intermediate.dense")],
                        hidden,
                        intermediate,
                    )?,
                    down: dense(&[&format!("{layer}.output.dense")], intermediate, hidden)?,
                    output_norm: norm(&format!("{layer}.output.LayerNorm"))?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            word: values(
                "embeddings.word_embeddings.weight",
                config.vocab_size * hidden,
            )?,
            position: values(
                "embeddings.position_embeddings.weight",
                config.max_position_embeddings * hidden,
            )?,
            token_type: values(
                "embeddings.token_type_embeddings.weight",
                config.type_vocab_size * hidden,
            )?,
            embedding_norm: norm("embeddings.LayerNorm")?,
            layers,
            hidden,
            heads: config.num_attention_heads,
            activation: config.hidden_act,
            eps: config.layer_norm_eps as f32,
            max_positions: config.max_position_embeddings,
            vocab: config.vocab_size,
            type_vocab: config.type_vocab_size,
            arch: pulp::Arch::new(),
        })
    }

    /// The last hidden state of every token, sequence after sequence: `[Σ lengths, hidden]`.
    pub(crate) fn forward(&self, inputs: &[Tokens<'_>]) -> Result<Vec<f32>> {
        // On a pool thread, every parallel pass below is handed out by work stealing; called
        // from outside the pool, each would be a cross-thread injection (~10 µs apiece, dozens
        // per sentence at batch 1).
        rayon::scope(|_| self.forward_in_pool(inputs))
    }

    fn forward_in_pool(&self, inputs: &[Tokens<'_>]) -> Result<Vec<f32>> {
        let spans = spans(inputs);
        let rows = spans.last().map_or(0, |s| s.end);
        let mut x = self.embed(inputs, rows)?;
        for layer in &self.layers {
            x = self.layer(layer, &x, rows, &spans);
        }
        Ok(x)
    }

    /// Word + position + token-type embeddings, layer-normed.
    fn embed(&self, inputs: &[Tokens<'_>], rows: usize) -> Result<Vec<f32>> {
        let h = self.hidden;
        let mut x = vec![0f32; rows * h];
        let mut row = 0;
        for input in inputs {
            if input.ids.len() > self.max_positions {
                return Err(EmbeddingError::Tokenize(format!(
                    "{} tokens is more than the model's {} positions",
                    input.ids.len(),
                    self.max_positions
                )));
            }
            for (position, (&id, &kind)) in input.ids.iter().zip(input.type_ids).enumerate() {
                let (id, kind) = (id as usize, kind as usize);
                if id >= self.vocab || kind >= self.type_vocab {
                    return Err(EmbeddingError::Tokenize(format!(
                        "token {id} (type {kind}) is outside the model's vocabulary"
                    )));
                }
                let out = &mut x[row * h..(row + 1) * h];
                let word = &self.word[id * h..(id + 1) * h];
                let place = &self.position[position * h..(position + 1) * h];
                let kind = &self.token_type[kind * h..(kind + 1) * h];
                for (((o, w), p), k) in out.iter_mut().zip(word).zip(place).zip(kind) {
                    *o = w + p + k;
                }
                layer_norm(out, &self.embedding_norm, self.eps);
                row += 1;
            }
        }
        Ok(x)
    }

    fn layer(
        &self,
        layer: &Layer,
        x: &[f32],
        rows: usize,
        spans: &[std::ops::Range<usize>],
    ) -> Vec<f32> {
        let qkv = layer.qkv.weight.multiply(x, rows);
        let context = self.attention(&qkv, &layer.qkv.bias, spans);
        let mut x_attended = layer.attention_out.weight.multiply(&context, rows);
        self.add_and_norm(
            &mut x_attended,
            &layer.attention_out.bias,
            x,
            &layer.attention_norm,
        );
        let mut intermediate = layer.up.weight.multiply(&x_attended, rows);
        let width = layer.up.weight.columns();
        intermediate
            .par_chunks_mut(width * ROWS_PER_TASK)
            .for_each(|rows| {
                self.arch.dispatch(Activate {
                    rows,
                    width,
                    bias: &layer.up.bias,
                    activation: self.activation,
                })
            });
        let mut out = layer.down.weight.multiply(&intermediate, rows);
        self.add_and_norm(&mut out, &layer.down.bias, &x_attended, &layer.output_norm);
        out
    }

    /// Self-attention of each sequence on its own rows of the fused projection `qkv`
    /// (`[rows, 3 * hidden]`, bias not yet added); returns the heads' outputs side by side.
    fn attention(&self, qkv: &[f32], bias: &[f32], spans: &[std::ops::Range<usize>]) -> Vec<f32> {
        let h = self.hidden;
        let rows = qkv.len() / (3 * h);
        let mut context = vec![0f32; rows * h];
        let mut outputs = Vec::with_capacity(spans.len());
        let mut rest = context.as_mut_slice();
        for span in spans {
            let (this, tail) = rest.split_at_mut(span.len() * h);
            outputs.push((span.clone(), this));
            rest = tail;
        }
        outputs.into_par_iter().for_each(|(span, out)| {
            self.arch.dispatch(Attend {
                model: self,
                qkv,
                bias,
                span,
                out,
            })
        });
        context
    }

    /// One sequence's self-attention, all heads, into its rows of the context.
    #[inline(always)]
    fn attend(&self, qkv: &[f32], bias: &[f32], span: std::ops::Range<usize>, out: &mut [f32]) {
        let h = self.hidden;
        let d = h / self.heads;
        let scale = 1.0 / (d as f32).sqrt();
        {
            let len = span.len();
            // This sequence's projections with their bias, the queries pre-scaled.
            let mut local = qkv[span.start * 3 * h..span.end * 3 * h].to_vec();
            for row in local.chunks_exact_mut(3 * h) {
                for (i, (v, b)) in row.iter_mut().zip(bias).enumerate() {
                    *v += b;
                    if i < h {
                        *v *= scale;
                    }
                }
            }
            let mut scores = vec![0f32; len];
            for head in 0..self.heads {
                let (q, k, v) = (head * d, h + head * d, 2 * h + head * d);
                for i in 0..len {
                    let query = &local[i * 3 * h + q..i * 3 * h + q + d];
                    for (j, score) in scores.iter_mut().enumerate() {
                        *score = dot(query, &local[j * 3 * h + k..j * 3 * h + k + d]);
                    }
                    softmax(&mut scores);
                    let target = &mut out[i * h + head * d..i * h + head * d + d];
                    for (j, &p) in scores.iter().enumerate() {
                        let value = &local[j * 3 * h + v..j * 3 * h + v + d];
                        for (t, x) in target.iter_mut().zip(value) {
                            *t += p * x;
                        }
                    }
                }
            }
        }
    }

    /// `values = norm(values + bias + residual)`, row by row.
    fn add_and_norm(&self, values: &mut [f32], bias: &[f32], residual: &[f32], norm: &Norm) {
        let h = self.hidden;
        values
            .par_chunks_mut(h * ROWS_PER_TASK)
            .zip(residual.par_chunks(h * ROWS_PER_TASK))
            .for_each(|(rows, residual)| {
                self.arch.dispatch(AddAndNorm {
                    rows,
                    residual,
                    bias,
                    norm,
                    width: h,
                    eps: self.eps,
                })
            });
    }
}

// The element-wise passes as `pulp` operations: code inlined into `with_simd` is compiled for
// the instruction set found at run time (a plain closure would not be, and `mul_add` would
// become a libm call).

struct Activate<'a> {
    rows: &'a mut [f32],
    width: usize,
    bias: &'a [f32],
    activation: HiddenAct,
}

impl pulp::WithSimd for Activate<'_> {
    type Output = ();
    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _: S) {
        for row in self.rows.chunks_exact_mut(self.width) {
            activate(row, self.bias, self.activation);
        }
    }
}

struct AddAndNorm<'a> {
    rows: &'a mut [f32],
    residual: &'a [f32],
    bias: &'a [f32],
    norm: &'a Norm,
    width: usize,
    eps: f32,
}

impl pulp::WithSimd for AddAndNorm<'_> {
    type Output = ();
    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _: S) {
        let rows = self.rows.chunks_exact_mut(self.width);
        for (row, residual) in rows.zip(self.residual.chunks_exact(self.width)) {
            for ((v, b), r) in row.iter_mut().zip(self.bias).zip(residual) {
                *v += b + r;
            }
            layer_norm(row, self.norm, self.eps);
        }
    }
}

struct Attend<'a> {
    model: &'a NativeBert,
    qkv: &'a [f32],
    bias: &'a [f32],
    span: std::ops::Range<usize>,
    out: &'a mut [f32],
}

impl pulp::WithSimd for Attend<'_> {
    type Output = ();
    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _: S) {
        self.model.attend(self.qkv, self.bias, self.span, self.out);
    }
}

/// Each input's rows in the packed batch.
fn spans(inputs: &[Tokens<'_>]) -> Vec<std::ops::Range<usize>> {
    let mut start = 0;
    inputs
        .iter()
        .map(|input| {
            let span = start..start + input.ids.len();
            start = span.end;
            span
        })
        .collect()
}

#[inline(always)]
fn layer_norm(row: &mut [f32], norm: &Norm, eps: f32) {
    let n = row.len() as f32;
    let mean = sum(row) / n;
    let variance = row.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / n;
    let inverse = 1.0 / (variance + eps).sqrt();
    for ((v, g), b) in row.iter_mut().zip(&norm.gamma).zip(&norm.beta) {
        *v = (*v - mean) * inverse * g + b;
    }
}

#[inline(always)]
fn activate(row: &mut [f32], bias: &[f32], activation: HiddenAct) {
    match activation {
        HiddenAct::Gelu => {
            for (v, b) in row.iter_mut().zip(bias) {
                let x = *v + b;
                *v = 0.5 * x * (1.0 + erf(x * std::f32::consts::FRAC_1_SQRT_2));
            }
        }
        HiddenAct::GeluApproximate => {
            const SQRT_2_OVER_PI: f32 = 0.797_884_6;
            for (v, b) in row.iter_mut().zip(bias) {
                let x = *v + b;
                *v = 0.5 * x * (1.0 + (SQRT_2_OVER_PI * (x + 0.044_715 * x * x * x)).tanh());
            }
        }
        HiddenAct::Relu => {
            for (v, b) in row.iter_mut().zip(bias) {
                *v = (*v + b).max(0.0);
            }
        }
    }
}

/// erf for f32 as a rational function on [-4, 4] (outside it erf is ±1 in f32): the
/// approximation Eigen and XLA use, within a few ulp, and branch-free so loops vectorize.
#[inline(always)]
fn erf(x: f32) -> f32 {
    let x = x.clamp(-4.0, 4.0);
    let x2 = x * x;
    let mut p = x2.mul_add(-2.726_142_3e-10, 2.770_681_4e-8);
    p = x2.mul_add(p, -2.101_024e-6);
    p = x2.mul_add(p, -5.692_506_4e-5);
    p = x2.mul_add(p, -7.349_906_3e-4);
    p = x2.mul_add(p, -2.954_6e-3);
    p = x2.mul_add(p, -1.609_603_3e-2);
    let mut q = x2.mul_add(-1.456_607_2e-5, -2.133_740_6e-4);
    q = x2.mul_add(q, -1.682_827e-3);
    q = x2.mul_add(q, -7.373_329_2e-3);
    q = x2.mul_add(q, -1.426_474e-2);
    x * p / q
}

#[inline(always)]
fn softmax(scores: &mut [f32]) {
    let max = scores.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut total = 0.0;
    for s in scores.iter_mut() {
        *s = (*s - max).exp();
        total += *s;
    }
    let inverse = 1.0 / total;
    for s in scores.iter_mut() {
        *s *= inverse;
    }
}

/// Eight independent partial sums, so the loop vectorizes without reassociating floats.
#[inline(always)]
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut lanes = [0f32; 8];
    let (a_chunks, a_rest) = a.as_chunks::<8>();
    let (b_chunks, b_rest) = b.as_chunks::<8>();
    for (x, y) in a_chunks.iter().zip(b_chunks) {
        for i in 0..8 {
            lanes[i] += x[i] * y[i];
        }
    }
    let tail: f32 = a_rest.iter().zip(b_rest).map(|(x, y)| x * y).sum();
    sum(&lanes) + tail
}

#[inline(always)]
fn sum(values: &[f32]) -> f32 {
    values.iter().sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// erf by its Maclaurin series in f64, exact to well below f32 precision on |x| ≤ 3.
    fn erf_reference(x: f64) -> f64 {
        let mut term = x;
        let mut total = x;
        for n in 1..200 {
            term *= -x * x / n as f64;
            total += term / (2 * n + 1) as f64;
        }
        total * 2.0 / std::f64::consts::PI.sqrt()
    }

    #[test]
    fn erf_matches_its_series() {
        let mut worst = 0f64;
        for i in -3000..=3000 {
            let x = i as f64 / 1000.0;
            worst = worst.max((erf(x as f32) as f64 - erf_reference(x)).abs());
        }
        assert!(worst < 1e-6, "{worst}");
        assert!((erf(10.0) - 1.0).abs() < 1e-6 && (erf(-10.0) + 1.0).abs() < 1e-6);
    }

    #[test]
    fn softmax_and_dot() {
        let mut scores = [1.0, 2.0, 3.0];
        softmax(&mut scores);
        let expected = [0.090_030_57, 0.244_728_48, 0.665_240_94];
        for (s, e) in scores.iter().zip(expected) {
            assert!((s - e).abs() < 1e-6, "{scores:?}");
        }
        let a: Vec<f32> = (0..19).map(|i| i as f32).collect();
        assert_eq!(dot(&a, &a), (0..19).map(|i| (i * i) as f32).sum::<f32>());
    }
}
