//! A llama-family decoder for the CPU that runs on the GGUF's own quantized blocks.
//!
//! candle's quantized llama is fast only for the block types it has kernels for, so a Q4_1 file
//! had to be re-quantized to Q8_0 (more bytes per token, and a second rounding of every weight),
//! and its decode spends much of each token between operations. Here a decode step dots each
//! weight row with the input straight from its blocks, and a prompt dequantizes each row into L1
//! once and dots it with every prompt token; both in code `pulp` compiles for the CPU found at
//! run time (AVX-512, AVX2+FMA or scalar), rows split over the rayon pool. Decode reads each
//! weight byte once per token, which is what bounds it.
//!
//! Supported: `general.architecture = llama` without experts, rope over the whole head, matrices
//! in Q4_0, Q4_1, Q8_0, F16 or F32. Anything else loads into candle's model instead.

use std::io::{Read, Seek};
use std::sync::Arc;

use candle_core::Device;
use candle_core::quantized::GgmlDType;
use candle_core::quantized::gguf_file::Content;
use pulp::{Arch, Simd, WithSimd};
use rayon::prelude::*;

use super::LlmError;

const BLOCK: usize = 32;
/// The fewest output rows a parallel task gets: less work does not pay for the hand-off.
const MIN_ROWS_PER_TASK: usize = 16;

/// A weight matrix, `rows` outputs of `columns` inputs, as the GGUF quantized it.
struct Matrix {
    rows: usize,
    columns: usize,
    blocks: Blocks,
}

enum Blocks {
    /// 4-bit values `q` with a scale and offset per block of 32: `w = scale·q + min` (Q4_1;
    /// Q4_0 is the same with `min = −8·scale`). Byte `j` of a block holds value `j` in its low
    /// nibble and value `j + 16` in its high one, as in ggml.
    Nibbles {
        scales: Vec<f32>,
        mins: Vec<f32>,
        nibbles: Vec<u8>,
    },
    /// 8-bit values with a scale per block of 32 (Q8_0).
    Bytes {
        scales: Vec<f32>,
        values: Vec<i8>,
    },
    Floats(Vec<f32>),
}

fn f16(bytes: &[u8]) -> f32 {
    half::f16::from_le_bytes([bytes[0], bytes[1]]).to_f32()
}

impl Matrix {
    /// Reads tensor `name`; `None` when its block type is not one this decoder runs.
    fn read<R: Read + Seek>(
        content: &Content,
        reader: &mut R,
        name: &str,
    ) -> Result<Option<Self>, LlmError> {
        let tensor = content.tensor(reader, name, &Device::Cpu)?;
        let dims = tensor.shape().dims().to_vec();
        let (rows, columns) = match dims.as_slice() {
            [columns] => (1, *columns),
            [rows, columns] => (*rows, *columns),
            _ => {
                return Err(LlmError::Load(format!(
                    "{name}: shape {dims:?} is not a matrix"
                )));
            }
        };
        let data = tensor.data()?;
        let count = rows * columns / BLOCK;
        let wrong_size = || LlmError::Load(format!("{name}: {} bytes for {dims:?}", data.len()));
        let blocks = match tensor.dtype() {
            GgmlDType::Q4_0 | GgmlDType::Q4_1 => {
                let with_min = tensor.dtype() == GgmlDType::Q4_1;
                let size = if with_min { 20 } else { 18 };
                if data.len() != count * size || !columns.is_multiple_of(BLOCK) {
                    return Err(wrong_size());
                }
                let mut scales = Vec::with_capacity(count);
                let mut mins = Vec::with_capacity(count);
                let mut nibbles = Vec::with_capacity(count * 16);
                for block in data.chunks_exact(size) {
                    let scale = f16(&block[0..2]);
                    scales.push(scale);
                    if with_min {
                        mins.push(f16(&block[2..4]));
                        nibbles.extend_from_slice(&block[4..20]);
                    } else {
                        mins.push(-8.0 * scale);
                        nibbles.extend_from_slice(&block[2..18]);
                    }
                }
                Blocks::Nibbles {
                    scales,
                    mins,
                    nibbles,
                }
            }
            GgmlDType::Q8_0 => {
                if data.len() != count * 34 || !columns.is_multiple_of(BLOCK) {
                    return Err(wrong_size());
                }
                let mut scales = Vec::with_capacity(count);
                let mut values = Vec::with_capacity(count * BLOCK);
                for block in data.chunks_exact(34) {
                    scales.push(f16(&block[0..2]));
                    values.extend(block[2..34].iter().map(|&b| b as i8));
                }
                Blocks::Bytes { scales, values }
            }
            GgmlDType::F32 | GgmlDType::F16 => Blocks::Floats(
                tensor
                    .dequantize(&Device::Cpu)?
                    .flatten_all()?
                    .to_vec1::<f32>()?,
            ),
            _ => return Ok(None),
        };
        Ok(Some(Self {
            rows,
            columns,
            blocks,
        }))
    }

    /// The rows of `parts` one after another (one product instead of several over the same
    /// input); `None` when their block types or widths differ.
    fn stack(parts: Vec<Matrix>) -> Option<Matrix> {
        let columns = parts.first()?.columns;
        let rows = parts.iter().map(|p| p.rows).sum();
        if parts.iter().any(|p| p.columns != columns) {
            return None;
        }
        let mut parts = parts.into_iter();
        let mut blocks = parts.next()?.blocks;
        for part in parts {
            match (&mut blocks, part.blocks) {
                (
                    Blocks::Nibbles {
                        scales,
                        mins,
                        nibbles,
                    },
                    Blocks::Nibbles {
                        scales: s,
                        mins: m,
                        nibbles: n,
                    },
                ) => {
                    scales.extend(s);
                    mins.extend(m);
                    nibbles.extend(n);
                }
                (
                    Blocks::Bytes { scales, values },
                    Blocks::Bytes {
                        scales: s,
                        values: v,
                    },
                ) => {
                    scales.extend(s);
                    values.extend(v);
                }
                (Blocks::Floats(values), Blocks::Floats(v)) => values.extend(v),
                _ => return None,
            }
        }
        Some(Matrix {
            rows,
            columns,
            blocks,
        })
    }

    /// Row `row` as floats, into `out` (`columns` long).
    #[inline(always)]
    fn dequantize_row(&self, row: usize, out: &mut [f32]) {
        let per_row = self.columns / BLOCK;
        match &self.blocks {
            Blocks::Nibbles {
                scales,
                mins,
                nibbles,
            } => {
                let first = row * per_row;
                let blocks = out.as_chunks_mut::<BLOCK>().0.iter_mut();
                let quads = nibbles[first * 16..(first + per_row) * 16]
                    .as_chunks::<16>()
                    .0;
                for (b, (out, quad)) in blocks.zip(quads).enumerate() {
                    let (scale, min) = (scales[first + b], mins[first + b]);
                    for j in 0..16 {
                        out[j] = f32::from(quad[j] & 15).mul_add(scale, min);
                        out[j + 16] = f32::from(quad[j] >> 4).mul_add(scale, min);
                    }
                }
            }
            Blocks::Bytes { scales, values } => {
                let first = row * per_row;
                let blocks = out.as_chunks_mut::<BLOCK>().0.iter_mut();
                let values = values[first * BLOCK..(first + per_row) * BLOCK]
                    .as_chunks::<BLOCK>()
                    .0;
                for (b, (out, values)) in blocks.zip(values).enumerate() {
                    let scale = scales[first + b];
                    for j in 0..BLOCK {
                        out[j] = f32::from(values[j]) * scale;
                    }
                }
            }
            Blocks::Floats(values) => {
                out.copy_from_slice(&values[row * self.columns..(row + 1) * self.columns]);
            }
        }
    }

    /// Row `row` · `x`, without materializing the row: the decode step's product, where each
    /// weight is used once. `sums` holds `x`'s sum over each block of 32.
    #[inline(always)]
    fn dot_row(&self, row: usize, x: &[f32], sums: &[f32]) -> f32 {
        let per_row = self.columns / BLOCK;
        let first = row * per_row;
        let inputs = x.as_chunks::<BLOCK>().0;
        let (mut low, mut high) = ([0f32; 16], [0f32; 16]);
        match &self.blocks {
            Blocks::Nibbles {
                scales,
                mins,
                nibbles,
            } => {
                let quads = nibbles[first * 16..(first + per_row) * 16]
                    .as_chunks::<16>()
                    .0;
                let scales = &scales[first..first + per_row];
                for ((quad, inputs), &scale) in quads.iter().zip(inputs).zip(scales) {
                    for j in 0..16 {
                        low[j] = (f32::from(quad[j] & 15) * scale).mul_add(inputs[j], low[j]);
                        high[j] =
                            (f32::from(quad[j] >> 4) * scale).mul_add(inputs[j + 16], high[j]);
                    }
                }
                // Σ_b min_b · Σ x over block b: the offsets' share.
                let offsets: f32 = mins[first..first + per_row]
                    .iter()
                    .zip(sums)
                    .map(|(m, s)| m * s)
                    .sum();
                low.iter().sum::<f32>() + high.iter().sum::<f32>() + offsets
            }
            Blocks::Bytes { scales, values } => {
                let blocks = values[first * BLOCK..(first + per_row) * BLOCK]
                    .as_chunks::<BLOCK>()
                    .0;
                let scales = &scales[first..first + per_row];
                for ((values, inputs), &scale) in blocks.iter().zip(inputs).zip(scales) {
                    for j in 0..16 {
                        low[j] = (f32::from(values[j]) * scale).mul_add(inputs[j], low[j]);
                        high[j] =
                            (f32::from(values[j + 16]) * scale).mul_add(inputs[j + 16], high[j]);
                    }
                }
                low.iter().sum::<f32>() + high.iter().sum::<f32>()
            }
            Blocks::Floats(values) => dot(&values[row * self.columns..(row + 1) * self.columns], x),
        }
    }

    /// `x · selfᵀ` for `x` of `tokens × columns`: `tokens × rows`.
    fn multiply(&self, arch: Arch, x: &[f32], tokens: usize) -> Vec<f32> {
        debug_assert_eq!(x.len(), tokens * self.columns);
        // Each task writes its rows' outputs for every token, row-major by weight row.
        let mut by_row = vec![0f32; self.rows * tokens];
        // A few tasks per thread: enough to balance, few enough that handing them out is cheap.
        let per_task = self
            .rows
            .div_ceil(4 * rayon::current_num_threads())
            .max(MIN_ROWS_PER_TASK);
        // The decode dot's per-block sums of the input, once per product rather than per task.
        let block_sums: Vec<f32> = if tokens == 1 {
            x.as_chunks::<BLOCK>()
                .0
                .iter()
                .map(|b| b.iter().sum())
                .collect()
        } else {
            Vec::new()
        };
        by_row
            .par_chunks_mut(per_task * tokens)
            .enumerate()
            .for_each(|(task, out)| {
                arch.dispatch(Rows {
                    matrix: self,
                    x,
                    block_sums: &block_sums,
                    tokens,
                    first: task * per_task,
                    out,
                })
            });
        if tokens == 1 {
            return by_row;
        }
        let mut out = vec![0f32; tokens * self.rows];
        for (row, values) in by_row.chunks_exact(tokens).enumerate() {
            for (token, value) in values.iter().enumerate() {
                out[token * self.rows + row] = *value;
            }
        }
        out
    }
}

struct Rows<'a> {
    matrix: &'a Matrix,
    x: &'a [f32],
    /// `x`'s sum over each block of 32 (decode only).
    block_sums: &'a [f32],
    tokens: usize,
    first: usize,
    out: &'a mut [f32],
}

impl WithSimd for Rows<'_> {
    type Output = ();
    #[inline(always)]
    fn with_simd<S: Simd>(self, _: S) {
        let columns = self.matrix.columns;
        if self.tokens == 1 {
            for (i, out) in self.out.iter_mut().enumerate() {
                *out = self.matrix.dot_row(self.first + i, self.x, self.block_sums);
            }
            return;
        }
        let mut row_values = vec![0f32; columns];
        for (i, out) in self.out.chunks_exact_mut(self.tokens).enumerate() {
            self.matrix.dequantize_row(self.first + i, &mut row_values);
            for (token, out) in out.iter_mut().enumerate() {
                *out = dot(&row_values, &self.x[token * columns..(token + 1) * columns]);
            }
        }
    }
}

/// Sixteen independent partial sums, so the loop vectorizes without reassociating floats.
#[inline(always)]
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut lanes = [0f32; 16];
    let (a_chunks, a_rest) = a.as_chunks::<16>();
    let (b_chunks, b_rest) = b.as_chunks::<16>();
    for (x, y) in a_chunks.iter().zip(b_chunks) {
        for i in 0..16 {
            lanes[i] = x[i].mul_add(y[i], lanes[i]);
        }
    }
    lanes.iter().sum::<f32>() + a_rest.iter().zip(b_rest).map(|(x, y)| x * y).sum::<f32>()
}

struct Block {
    attention_norm: Vec<f32>,
    /// Query, key and value projections stacked: `hidden + 2 · kv_dim` rows.
    qkv: Matrix,
    attention_output: Matrix,
    ffn_norm: Vec<f32>,
    /// Gate and up projections stacked: `2 · intermediate` rows.
    gate_up: Matrix,
    down: Matrix,
}

struct Weights {
    embedding: Matrix,
    /// `None`: the output projection is the embedding (tied).
    output: Option<Matrix>,
    output_norm: Vec<f32>,
    blocks: Vec<Block>,
    hidden: usize,
    heads: usize,
    kv_heads: usize,
    head_dim: usize,
    eps: f32,
    /// Rotary frequency of each pair of a head's dimensions.
    frequencies: Vec<f32>,
    arch: Arch,
}

/// One layer's keys and values so far, position after position.
#[derive(Default)]
struct LayerCache {
    keys: Vec<f32>,
    values: Vec<f32>,
}

/// The decoder: shared weights and this copy's KV cache (clones start with an empty one).
pub struct NativeLlama {
    weights: Arc<Weights>,
    cache: Vec<LayerCache>,
}

impl Clone for NativeLlama {
    fn clone(&self) -> Self {
        Self {
            weights: Arc::clone(&self.weights),
            cache: self
                .weights
                .blocks
                .iter()
                .map(|_| LayerCache::default())
                .collect(),
        }
    }
}

impl NativeLlama {
    /// The decoder for `content`, or `None` when the file needs something it does not do.
    pub fn load<R: Read + Seek>(
        content: &Content,
        reader: &mut R,
    ) -> Result<Option<Self>, LlmError> {
        let number = |key: &str| -> Option<f64> {
            let value = content.metadata.get(key)?;
            value
                .to_u32()
                .map(f64::from)
                .or_else(|_| value.to_f32().map(f64::from))
                .or_else(|_| value.to_u64().map(|v| v as f64))
                .ok()
        };
        let architecture = content
            .metadata
            .get("general.architecture")
            .and_then(|v| v.to_string().ok())
            .map(String::as_str);
        let experts = number("llama.expert_count").unwrap_or(0.0);
        let (Some("llama"), true) = (architecture, experts <= 1.0) else {
            return Ok(None);
        };
        let required = |key: &str| {
            number(key).ok_or_else(|| LlmError::Load(format!("GGUF metadata `{key}` is missing")))
        };
        let hidden = required("llama.embedding_length")? as usize;
        let heads = required("llama.attention.head_count")? as usize;
        let kv_heads = number("llama.attention.head_count_kv").map_or(heads, |n| n as usize);
        let layers = required("llama.block_count")? as usize;
        let eps = required("llama.attention.layer_norm_rms_epsilon")? as f32;
        let base = number("llama.rope.freq_base").unwrap_or(10_000.0) as f32;
        if heads == 0
            || kv_heads == 0
            || !hidden.is_multiple_of(heads)
            || !heads.is_multiple_of(kv_heads)
        {
            return Ok(None);
        }
        let head_dim = hidden / heads;
        if number("llama.rope.dimension_count").is_some_and(|d| d as usize != head_dim) {
            return Ok(None);
        }
        let mut matrix = |name: &str| Matrix::read(content, reader, name);
        macro_rules! take {
            ($name:expr) => {
                match matrix($name)? {
                    Some(m) => m,
                    None => return Ok(None),
                }
            };
        }
        let embedding = take!("token_embd.weight");
        let output = if content.tensor_infos.contains_key("output.weight") {
            Some(take!("output.weight"))
        } else {
            None
        };
        let vector = |m: Matrix| -> Result<Vec<f32>, LlmError> {
            match m.blocks {
                Blocks::Floats(values) if values.len() == hidden => Ok(values),
                _ => Err(LlmError::Load(
                    "a norm weight is not a vector of floats".into(),
                )),
            }
        };
        let output_norm = vector(take!("output_norm.weight"))?;
        let kv_dim = kv_heads * head_dim;
        let misfit = || LlmError::Load("the GGUF's tensor shapes do not fit its metadata".into());
        let mut blocks = Vec::with_capacity(layers);
        for i in 0..layers {
            let name = |part: &str| format!("blk.{i}.{part}.weight");
            let attention_norm = vector(take!(&name("attn_norm")))?;
            let (query, key, value) = (
                take!(&name("attn_q")),
                take!(&name("attn_k")),
                take!(&name("attn_v")),
            );
            if (query.rows, key.rows, value.rows) != (hidden, kv_dim, kv_dim) {
                return Err(misfit());
            }
            let attention_output = take!(&name("attn_output"));
            let ffn_norm = vector(take!(&name("ffn_norm")))?;
            let (gate, up) = (take!(&name("ffn_gate")), take!(&name("ffn_up")));
            let down = take!(&name("ffn_down"));
            if gate.rows != up.rows || down.columns != up.rows || down.rows != hidden {
                return Err(misfit());
            }
            // Mixed block types within a layer are rare; this decoder leaves them to candle.
            let (Some(qkv), Some(gate_up)) = (
                Matrix::stack(vec![query, key, value]),
                Matrix::stack(vec![gate, up]),
            ) else {
                return Ok(None);
            };
            blocks.push(Block {
                attention_norm,
                qkv,
                attention_output,
                ffn_norm,
                gate_up,
                down,
            });
        }
        let shapes_fit = embedding.columns == hidden
            && output
                .as_ref()
                .is_none_or(|o| o.columns == hidden && o.rows == embedding.rows)
            && blocks.iter().all(|b| {
                b.qkv.columns == hidden
                    && b.attention_output.rows == hidden
                    && b.gate_up.columns == hidden
            });
        if !shapes_fit {
            return Err(misfit());
        }
        let frequencies = (0..head_dim / 2)
            .map(|i| 1.0 / base.powf((2 * i) as f32 / head_dim as f32))
            .collect();
        let weights = Weights {
            embedding,
            output,
            output_norm,
            blocks,
            hidden,
            heads,
            kv_heads,
            head_dim,
            eps,
            frequencies,
            arch: Arch::new(),
        };
        let cache = weights
            .blocks
            .iter()
            .map(|_| LayerCache::default())
            .collect();
        Ok(Some(Self {
            weights: Arc::new(weights),
            cache,
        }))
    }

    /// Feeds `tokens` at `position` (everything cached from there on is dropped first) and
    /// returns the next-token logits after the last of them.
    pub fn forward(&mut self, tokens: &[u32], position: usize) -> Result<Vec<f32>, LlmError> {
        // On a pool thread the products' parallel loops are handed out by work stealing, not
        // injected from outside the pool one by one (over a hundred per token).
        rayon::scope(|_| self.forward_in_pool(tokens, position))
    }

    fn forward_in_pool(&mut self, tokens: &[u32], position: usize) -> Result<Vec<f32>, LlmError> {
        let w = &*self.weights;
        let (h, n) = (w.hidden, tokens.len());
        if n == 0 {
            return Err(LlmError::Internal("nothing to feed the model".into()));
        }
        let kv_dim = w.kv_heads * w.head_dim;
        // The rotation of each new position, shared by every layer and head.
        let turns: Vec<(f32, f32)> = (0..n)
            .flat_map(|t| {
                let at = (position + t) as f32;
                w.frequencies.iter().map(move |f| (at * f).sin_cos())
            })
            .collect();
        let pairs = w.frequencies.len();
        let mut x = vec![0f32; n * h];
        for (row, &token) in x.chunks_exact_mut(h).zip(tokens) {
            let token = token as usize;
            if token >= w.embedding.rows {
                return Err(LlmError::Internal(format!(
                    "token {token} is outside the vocabulary"
                )));
            }
            w.embedding.dequantize_row(token, row);
        }
        for (block, cache) in w.blocks.iter().zip(&mut self.cache) {
            cache.keys.truncate(position * kv_dim);
            cache.values.truncate(position * kv_dim);
            if cache.keys.len() != position * kv_dim {
                return Err(LlmError::Internal(format!(
                    "position {position} is past the {} cached tokens",
                    cache.keys.len() / kv_dim
                )));
            }
            let normed = rms_norm(&x, &block.attention_norm, w.eps);
            let projected = block.qkv.multiply(w.arch, &normed, n);
            let (mut queries, mut keys, mut values) = (
                Vec::with_capacity(n * h),
                Vec::with_capacity(n * kv_dim),
                Vec::with_capacity(n * kv_dim),
            );
            for row in projected.chunks_exact(h + 2 * kv_dim) {
                queries.extend_from_slice(&row[..h]);
                keys.extend_from_slice(&row[h..h + kv_dim]);
                values.extend_from_slice(&row[h + kv_dim..]);
            }
            for (t, turns) in turns.chunks_exact(pairs).enumerate() {
                rotate(&mut queries[t * h..(t + 1) * h], w.head_dim, turns);
                rotate(&mut keys[t * kv_dim..(t + 1) * kv_dim], w.head_dim, turns);
            }
            cache.keys.extend_from_slice(&keys);
            cache.values.extend_from_slice(&values);
            let context = attention(w, &queries, cache, position, n);
            let projected = block.attention_output.multiply(w.arch, &context, n);
            x.iter_mut().zip(&projected).for_each(|(x, p)| *x += p);
            let normed = rms_norm(&x, &block.ffn_norm, w.eps);
            let gate_up = block.gate_up.multiply(w.arch, &normed, n);
            let intermediate = block.down.columns;
            let mut hidden = Vec::with_capacity(n * intermediate);
            for row in gate_up.chunks_exact(2 * intermediate) {
                let (gate, up) = row.split_at(intermediate);
                hidden.extend(gate.iter().zip(up).map(|(g, u)| u * g / (1.0 + (-g).exp())));
            }
            let down = block.down.multiply(w.arch, &hidden, n);
            x.iter_mut().zip(&down).for_each(|(x, d)| *x += d);
        }
        let last = rms_norm(&x[(n - 1) * h..], &w.output_norm, w.eps);
        let output = w.output.as_ref().unwrap_or(&w.embedding);
        Ok(output.multiply(w.arch, &last, 1))
    }
}

/// Each row of `x` divided by its root mean square, times `weight`.
fn rms_norm(x: &[f32], weight: &[f32], eps: f32) -> Vec<f32> {
    let mut out = x.to_vec();
    for row in out.chunks_exact_mut(weight.len()) {
        let mean_square = row.iter().map(|v| v * v).sum::<f32>() / row.len() as f32;
        let scale = 1.0 / (mean_square + eps).sqrt();
        row.iter_mut()
            .zip(weight)
            .for_each(|(v, w)| *v *= scale * w);
    }
    out
}

/// Rotary position embedding on each head of `row`, ggml's "normal" layout: dimensions
/// `2i` and `2i + 1` turn together by the angle whose (sin, cos) is `turns[i]`.
fn rotate(row: &mut [f32], head_dim: usize, turns: &[(f32, f32)]) {
    for head in row.chunks_exact_mut(head_dim) {
        for (pair, &(sin, cos)) in head.as_chunks_mut::<2>().0.iter_mut().zip(turns) {
            let [a, b] = *pair;
            *pair = [a * cos - b * sin, a * sin + b * cos];
        }
    }
}

/// Causal grouped-query attention of the `n` new queries (at `position`…) over the cache.
fn attention(
    w: &Weights,
    queries: &[f32],
    cache: &LayerCache,
    position: usize,
    n: usize,
) -> Vec<f32> {
    let d = w.head_dim;
    let mut context = vec![0f32; n * w.hidden];
    let attend = |(index, out): (usize, &mut [f32])| {
        w.arch.dispatch(Attend {
            weights: w,
            queries,
            cache,
            position,
            index,
            out,
        })
    };
    // One new token's heads are too little work to hand out.
    if n == 1 {
        context.chunks_mut(d).enumerate().for_each(attend);
    } else {
        context.par_chunks_mut(d).enumerate().for_each(attend);
    }
    context
}

/// One head of one new token: the `index`-th head output of the batch.
struct Attend<'a> {
    weights: &'a Weights,
    queries: &'a [f32],
    cache: &'a LayerCache,
    position: usize,
    index: usize,
    out: &'a mut [f32],
}

impl WithSimd for Attend<'_> {
    type Output = ();
    #[inline(always)]
    fn with_simd<S: Simd>(self, _: S) {
        let w = self.weights;
        let (h, d) = (w.hidden, w.head_dim);
        let kv_dim = w.kv_heads * d;
        let scale = 1.0 / (d as f32).sqrt();
        let (t, head) = (self.index / w.heads, self.index % w.heads);
        let kv = (head / (w.heads / w.kv_heads)) * d;
        let query = &self.queries[t * h + head * d..t * h + (head + 1) * d];
        let visible = self.position + t + 1;
        let (keys, values) = (&self.cache.keys, &self.cache.values);
        // A plain loop, not `collect`: a closure compiled outside this function would not get
        // the dispatched instruction set, and `mul_add` would become a libm call.
        let mut scores = vec![0f32; visible];
        for (p, score) in scores.iter_mut().enumerate() {
            *score = dot(query, &keys[p * kv_dim + kv..p * kv_dim + kv + d]) * scale;
        }
        let max = scores.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let mut total = 0.0;
        for s in &mut scores {
            *s = (*s - max).exp();
            total += *s;
        }
        for (p, s) in scores.iter().enumerate() {
            let value = &values[p * kv_dim + kv..p * kv_dim + kv + d];
            let weight = s / total;
            self.out
                .iter_mut()
                .zip(value)
                .for_each(|(o, v)| *o = weight.mul_add(*v, *o));
        }
    }
}
