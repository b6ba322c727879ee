//! `X · W` for a weight known at load time. The weight is packed once into column panels (each
//! `k` rows of `2 × lanes` floats, contiguous), so a product never repacks it as a general
//! GEMM must; `X` is repacked per call into row blocks, `k` steps of `MR` values. The kernel
//! keeps an `MR × 2`-vector tile of `out` in registers and streams one panel past it.
//! Vectorized through `pulp`, which picks AVX-512, AVX2+FMA or scalar code at run time, safely.

use pulp::{Arch, Simd, WithSimd};
use rayon::prelude::*;

/// The most rows one kernel call holds in registers (two vectors each): 8 needs 16
/// accumulators, which AVX-512's 32 registers hold; AVX2's 16 registers take 6.
const MR_WIDE: usize = 8;
const MR_NARROW: usize = 6;
/// Rows of `X` packed and swept together, sized so the packed block (`rows × k` floats)
/// stays in a core's L2 cache while every panel passes it.
const BLOCK_BYTES: usize = 256 * 1024;

/// A `[k, n]` matrix packed for [`PackedMatrix::multiply`].
pub(crate) struct PackedMatrix {
    k: usize,
    n: usize,
    /// Floats per panel row: two vectors of the instruction set found at load.
    width: usize,
    /// `n.div_ceil(width)` panels of `k × width` floats; columns past `n` are zero.
    panels: Vec<f32>,
    arch: Arch,
}

struct Lanes;
impl WithSimd for Lanes {
    type Output = usize;
    fn with_simd<S: Simd>(self, _: S) -> usize {
        S::F32_LANES
    }
}

impl PackedMatrix {
    /// Packs `matrix`, `k` rows of `n` floats.
    pub(crate) fn pack(matrix: &[f32], k: usize, n: usize) -> Self {
        assert_eq!(matrix.len(), k * n, "a {k}×{n} matrix");
        let arch = Arch::new();
        let width = 2 * arch.dispatch(Lanes);
        let count = n.div_ceil(width);
        let mut panels = vec![0f32; count * k * width];
        for (p, panel) in panels.chunks_exact_mut(k * width).enumerate() {
            let first = p * width;
            let columns = width.min(n - first);
            for (row, out) in panel.chunks_exact_mut(width).enumerate() {
                out[..columns].copy_from_slice(&matrix[row * n + first..row * n + first + columns]);
            }
        }
        Self {
            k,
            n,
            width,
            panels,
            arch,
        }
    }

    pub(crate) fn columns(&self) -> usize {
        self.n
    }

    /// `x · self` for `x` of `rows × k`, as `rows × n` floats, split across the rayon pool:
    /// by rows when there are many, else by panels, so that each thread streams only its share
    /// of a weight that does not fit in cache (at batch 1 the product is bound by that stream).
    pub(crate) fn multiply(&self, x: &[f32], rows: usize) -> Vec<f32> {
        assert_eq!(x.len(), rows * self.k, "{rows} rows of {}", self.k);
        let mut out = vec![0f32; rows * self.n];
        if rows == 0 || self.n == 0 {
            return out;
        }
        let threads = rayon::current_num_threads().max(1);
        let panels = self.n.div_ceil(self.width);
        if threads == 1 || rows >= 4 * MR_WIDE * threads || panels < threads {
            let per_task = rows.div_ceil(threads).max(1);
            out.par_chunks_mut(per_task * self.n)
                .zip(x.par_chunks(per_task * self.k))
                .for_each(|(out, x)| {
                    self.arch.dispatch(Rows {
                        matrix: self,
                        x,
                        panels: 0..panels,
                        out,
                        out_width: self.n,
                    })
                });
        } else {
            let per_task = panels.div_ceil(threads);
            let parts: Vec<(usize, usize, Vec<f32>)> = (0..panels)
                .step_by(per_task)
                .collect::<Vec<_>>()
                .into_par_iter()
                .map(|first| {
                    let range = first..(first + per_task).min(panels);
                    let column = first * self.width;
                    let width = (range.end * self.width).min(self.n) - column;
                    let mut part = vec![0f32; rows * width];
                    self.arch.dispatch(Rows {
                        matrix: self,
                        x,
                        panels: range,
                        out: &mut part,
                        out_width: width,
                    });
                    (column, width, part)
                })
                .collect();
            for (column, width, part) in parts {
                for (row, values) in out.chunks_exact_mut(self.n).zip(part.chunks_exact(width)) {
                    row[column..column + width].copy_from_slice(values);
                }
            }
        }
        out
    }
}

/// One task's share of a product: its rows of `x` times the panels in `panels`, into `out`
/// (`rows × out_width`, the first column being the first panel's).
struct Rows<'a> {
    matrix: &'a PackedMatrix,
    x: &'a [f32],
    panels: std::ops::Range<usize>,
    out: &'a mut [f32],
    out_width: usize,
}

impl WithSimd for Rows<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: Simd>(self, simd: S) {
        if S::REGISTER_COUNT >= 32 {
            rows::<S, MR_WIDE>(simd, self);
        } else {
            rows::<S, MR_NARROW>(simd, self);
        }
    }
}

#[inline(always)]
fn rows<S: Simd, const MR: usize>(simd: S, task: Rows<'_>) {
    let Rows {
        matrix,
        x,
        panels,
        out,
        out_width,
    } = task;
    let (k, n, width) = (matrix.k, matrix.n, matrix.width);
    let first_column = panels.start * width;
    debug_assert_eq!(width, 2 * S::F32_LANES);
    let rows = x.len() / k;
    let block_rows = (BLOCK_BYTES / (4 * k)).max(MR) / MR * MR;
    let mut packed = vec![0f32; block_rows.min(rows.next_multiple_of(MR)) * k];
    for first in (0..rows).step_by(block_rows) {
        let count = block_rows.min(rows - first);
        // Row block b holds, for each of the k steps, MR values (zero past the last row).
        let blocks = count.div_ceil(MR);
        for b in 0..blocks {
            let block = &mut packed[b * MR * k..(b + 1) * MR * k];
            for r in 0..MR {
                let row = first + b * MR + r;
                if row < first + count {
                    let source = &x[row * k..(row + 1) * k];
                    for (step, &value) in source.iter().enumerate() {
                        block[step * MR + r] = value;
                    }
                } else {
                    for step in 0..k {
                        block[step * MR + r] = 0.0;
                    }
                }
            }
        }
        let chosen = &matrix.panels[panels.start * k * width..panels.end * k * width];
        for (p, panel) in chosen.chunks_exact(k * width).enumerate() {
            let (panel, _) = S::as_simd_f32s(panel);
            let column = p * width;
            let columns = width.min(n - first_column - column);
            for b in 0..blocks {
                let block = &packed[b * MR * k..(b + 1) * MR * k];
                let tile = kernel::<S, MR>(simd, block, panel);
                let live = MR.min(count - b * MR);
                for (r, values) in tile.iter().take(live).enumerate() {
                    let row = first + b * MR + r;
                    let start = row * out_width + column;
                    let target = &mut out[start..start + columns];
                    let mut lanes = [0f32; 64];
                    let (vectors, _) = S::as_mut_simd_f32s(&mut lanes[..width]);
                    vectors[0] = values[0];
                    vectors[1] = values[1];
                    target.copy_from_slice(&lanes[..columns]);
                }
            }
        }
    }
}

/// The `MR × 2`-vector tile of one row block times one panel.
#[inline(always)]
fn kernel<S: Simd, const MR: usize>(
    simd: S,
    block: &[f32],
    panel: &[S::f32s],
) -> [[S::f32s; 2]; MR] {
    let zero = simd.splat_f32s(0.0);
    let mut tile = [[zero; 2]; MR];
    let (steps, _) = block.as_chunks::<MR>();
    for (values, weights) in steps.iter().zip(panel.chunks_exact(2)) {
        let (w0, w1) = (weights[0], weights[1]);
        for r in 0..MR {
            let v = simd.splat_f32s(values[r]);
            tile[r][0] = simd.mul_add_f32s(v, w0, tile[r][0]);
            tile[r][1] = simd.mul_add_f32s(v, w1, tile[r][1]);
        }
    }
    tile
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(x: &[f32], w: &[f32], rows: usize, k: usize, n: usize) -> Vec<f32> {
        let mut out = vec![0f32; rows * n];
        for r in 0..rows {
            for c in 0..n {
                out[r * n + c] = (0..k)
                    .map(|i| x[r * k + i] as f64 * w[i * n + c] as f64)
                    .sum::<f64>() as f32;
            }
        }
        out
    }

    #[test]
    fn products_equal_the_definition_at_awkward_sizes() {
        // Odd shapes: partial row blocks, a partial panel, several packed blocks of rows.
        for (rows, k, n) in [
            (1, 1, 1),
            (7, 5, 3),
            (15, 384, 100),
            (300, 1100, 37),
            (9, 3, 65),
        ] {
            let x: Vec<f32> = (0..rows * k)
                .map(|i| ((i * 37 % 101) as f32 - 50.0) / 25.0)
                .collect();
            let w: Vec<f32> = (0..k * n)
                .map(|i| ((i * 53 % 97) as f32 - 48.0) / 30.0)
                .collect();
            let product = PackedMatrix::pack(&w, k, n).multiply(&x, rows);
            let expected = naive(&x, &w, rows, k, n);
            for (i, (a, e)) in product.iter().zip(&expected).enumerate() {
                assert!(
                    (a - e).abs() <= 1e-4 * (1.0 + e.abs()),
                    "{rows}×{k}×{n} at {i}: {a} vs {e}"
                );
            }
        }
        assert!(
            PackedMatrix::pack(&[1.0, 2.0], 1, 2)
                .multiply(&[], 0)
                .is_empty()
        );
    }
}
