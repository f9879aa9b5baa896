//! Int8 projections for quantised bases.
//!
//! Weights are held as signed 8-bit values in blocks of 32 along the input dimension, each
//! block with its own f32 scale (GGML's Q8_0 with the scale unpacked); activations are
//! quantised the same way, row by row, right before the product. The kernel walks a tile of
//! four weight rows across every input row of the batch, so each weight block is read from
//! memory once per batch instead of once per sequence: that is what makes a batch of 16
//! sequences cost far less than 16 single steps.
//!
//! Every output element is one dot product of one weight row with one input row, computed by
//! the same instruction sequence whatever the batch size or the tile it falls in, so a row's
//! result never depends on the rows computed beside it (continuous batching relies on this).

use candle_core::utils::barrier_pool;

/// Values per quantisation block.
pub const BLOCK: usize = 32;

/// Weight rows computed together by one work item.
const TILE: usize = 4;

/// A row-major `rows × cols` matrix of int8 blocks; `cols` is a multiple of [`BLOCK`].
#[derive(Debug, Clone)]
pub struct Int8Matrix {
    rows: usize,
    cols: usize,
    values: Vec<i8>,
    scales: Vec<f32>,
}

impl Int8Matrix {
    /// Quantises row-major f32 values; `None` when `cols` is not a multiple of [`BLOCK`] or the
    /// length does not match.
    pub fn quantize(data: &[f32], rows: usize, cols: usize) -> Option<Self> {
        if cols % BLOCK != 0 || data.len() != rows * cols {
            return None;
        }
        let (values, scales) = quantize_blocks(data);
        Some(Self {
            rows,
            cols,
            values,
            scales,
        })
    }

    pub fn rows(&self) -> usize {
        self.rows
    }

    pub fn cols(&self) -> usize {
        self.cols
    }

    /// Bytes of the stored values and scales.
    pub fn bytes(&self) -> usize {
        self.values.len() + self.scales.len() * std::mem::size_of::<f32>()
    }

    /// `x` (m × cols, row-major) times the transpose of this matrix: m × rows.
    pub fn matmul_t(&self, x: &[f32], m: usize) -> Vec<f32> {
        assert_eq!(x.len(), m * self.cols, "input is not m × cols");
        let (xq, xs) = quantize_blocks(x);
        let n = self.rows;
        let mut out = vec![0f32; m * n];
        let out_ptr = SharedOut(out.as_mut_ptr());
        let tiles = n.div_ceil(TILE);
        let kernel = Kernel::detect();
        barrier_pool().execute_chunked(tiles, |range| {
            for tile in range {
                let j0 = tile * TILE;
                let rows = TILE.min(n - j0);
                // SAFETY: work items own disjoint column sets (weight rows j0..j0+rows) of the
                // m × n output, so no two threads write the same element, and `out` outlives
                // the pool call.
                unsafe { kernel.tile(self, j0, rows, &xq, &xs, m, out_ptr, n) };
            }
        });
        out
    }
}

/// The output pointer shared with the pool's workers.
#[derive(Clone, Copy)]
struct SharedOut(*mut f32);
// SAFETY: see `matmul_t`: workers write disjoint elements.
unsafe impl Send for SharedOut {}
unsafe impl Sync for SharedOut {}

/// Quantises consecutive blocks of 32: scale = max |x| / 127, value = round(x / scale).
fn quantize_blocks(data: &[f32]) -> (Vec<i8>, Vec<f32>) {
    let mut values = vec![0i8; data.len()];
    let mut scales = Vec::with_capacity(data.len() / BLOCK);
    for (src, dst) in data.chunks_exact(BLOCK).zip(values.chunks_exact_mut(BLOCK)) {
        let amax = src.iter().fold(0f32, |m, v| m.max(v.abs()));
        let scale = amax / 127.0;
        let inv = if scale > 0.0 { 1.0 / scale } else { 0.0 };
        for (d, &s) in dst.iter_mut().zip(src) {
            *d = (s * inv).round().clamp(-127.0, 127.0) as i8;
        }
        scales.push(scale);
    }
    (values, scales)
}

#[derive(Clone, Copy)]
enum Kernel {
    Portable,
    #[cfg(target_arch = "x86_64")]
    Avx2,
}

impl Kernel {
    fn detect() -> Self {
        #[cfg(target_arch = "x86_64")]
        if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
            return Self::Avx2;
        }
        Self::Portable
    }

    /// Output columns `j0..j0 + rows` for all `m` input rows.
    ///
    /// # Safety
    /// `out` points to an m × n buffer; `j0 + rows <= n`.
    #[allow(clippy::too_many_arguments)]
    unsafe fn tile(
        self,
        w: &Int8Matrix,
        j0: usize,
        rows: usize,
        xq: &[i8],
        xs: &[f32],
        m: usize,
        out: SharedOut,
        n: usize,
    ) {
        let k = w.cols;
        let nb = k / BLOCK;
        for i in 0..m {
            let (xq, xs) = (&xq[i * k..(i + 1) * k], &xs[i * nb..(i + 1) * nb]);
            for t in 0..rows {
                let j = j0 + t;
                let (wq, ws) = (&w.values[j * k..(j + 1) * k], &w.scales[j * nb..(j + 1) * nb]);
                let v = match self {
                    Self::Portable => dot_portable(wq, ws, xq, xs),
                    // SAFETY: the CPU supports AVX2 and FMA (checked in `detect`).
                    #[cfg(target_arch = "x86_64")]
                    Self::Avx2 => unsafe { avx2::dot(wq, ws, xq, xs) },
                };
                // SAFETY: i < m and j < n, and this element belongs to this work item.
                unsafe { *out.0.add(i * n + j) = v };
            }
        }
    }
}

/// One row · row dot product: exact integer sums per block, scaled and accumulated in f32.
fn dot_portable(wq: &[i8], ws: &[f32], xq: &[i8], xs: &[f32]) -> f32 {
    let mut acc = 0f32;
    for ((wb, xb), (&sw, &sx)) in wq
        .chunks_exact(BLOCK)
        .zip(xq.chunks_exact(BLOCK))
        .zip(ws.iter().zip(xs))
    {
        let s: i32 = wb.iter().zip(xb).map(|(&a, &b)| a as i32 * b as i32).sum();
        acc += (sw * sx) * s as f32;
    }
    acc
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use super::BLOCK;
    use std::arch::x86_64::*;

    /// The AVX2 form of [`super::dot_portable`]: per block, |w| · sign(x, w) in unsigned×signed
    /// byte pairs (exact: |w|, |x| ≤ 127), summed to eight i32 lanes, converted and scaled into
    /// eight f32 accumulator lanes, reduced in a fixed order at the end.
    ///
    /// # Safety
    /// The CPU supports AVX2 and FMA; all slices cover the same number of blocks.
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn dot(wq: &[i8], ws: &[f32], xq: &[i8], xs: &[f32]) -> f32 {
        let nb = ws.len();
        debug_assert!(wq.len() == nb * BLOCK && xq.len() == nb * BLOCK && xs.len() == nb);
        let ones = _mm256_set1_epi16(1);
        let mut acc = _mm256_setzero_ps();
        for b in 0..nb {
            // SAFETY: block b lies inside both slices (32 bytes from b · 32).
            let (w, x) = unsafe {
                (
                    _mm256_loadu_si256(wq.as_ptr().add(b * BLOCK) as *const __m256i),
                    _mm256_loadu_si256(xq.as_ptr().add(b * BLOCK) as *const __m256i),
                )
            };
            let pairs = _mm256_maddubs_epi16(_mm256_sign_epi8(w, w), _mm256_sign_epi8(x, w));
            let sums = _mm256_cvtepi32_ps(_mm256_madd_epi16(pairs, ones));
            acc = _mm256_fmadd_ps(_mm256_set1_ps(ws[b] * xs[b]), sums, acc);
        }
        let half = _mm_add_ps(_mm256_extractf128_ps(acc, 1), _mm256_castps256_ps128(acc));
        let quarter = _mm_add_ps(half, _mm_movehl_ps(half, half));
        _mm_cvtss_f32(_mm_add_ss(quarter, _mm_movehdup_ps(quarter)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lcg(seed: u64, n: usize) -> Vec<f32> {
        let mut s = seed;
        (0..n)
            .map(|_| {
                s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                ((s >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
            })
            .collect()
    }

    fn reference(w: &[f32], x: &[f32], m: usize, n: usize, k: usize) -> Vec<f32> {
        let mut out = vec![0f32; m * n];
        for i in 0..m {
            for j in 0..n {
                out[i * n + j] = (0..k).map(|t| x[i * k + t] * w[j * k + t]).sum();
            }
        }
        out
    }

    #[test]
    fn rejects_ragged_shapes() {
        assert!(Int8Matrix::quantize(&[0.0; 40], 1, 40).is_none());
        assert!(Int8Matrix::quantize(&[0.0; 64], 1, 32).is_none());
    }

    #[test]
    fn product_is_close_to_f32() {
        let (m, n, k) = (5, 13, 96);
        let w = lcg(1, n * k);
        let x = lcg(2, m * k);
        let q = Int8Matrix::quantize(&w, n, k).unwrap();
        let got = q.matmul_t(&x, m);
        let want = reference(&w, &x, m, n, k);
        for (g, e) in got.iter().zip(&want) {
            // Two 8-bit roundings per product: well under 2 % of the typical |dot| (~5).
            assert!((g - e).abs() < 0.1, "{g} vs {e}");
        }
    }

    #[test]
    fn rows_do_not_depend_on_the_batch() {
        let (m, n, k) = (9, 23, 64);
        let q = Int8Matrix::quantize(&lcg(3, n * k), n, k).unwrap();
        let x = lcg(4, m * k);
        let batch = q.matmul_t(&x, m);
        for i in 0..m {
            let alone = q.matmul_t(&x[i * k..(i + 1) * k], 1);
            assert_eq!(alone, batch[i * n..(i + 1) * n], "row {i}");
        }
    }

    #[test]
    fn simd_and_portable_kernels_agree() {
        let k = 128;
        let (wq, ws) = quantize_blocks(&lcg(5, k));
        let (xq, xs) = quantize_blocks(&lcg(6, k));
        let portable = dot_portable(&wq, &ws, &xq, &xs);
        #[cfg(target_arch = "x86_64")]
        if let Kernel::Avx2 = Kernel::detect() {
            let simd = unsafe { avx2::dot(&wq, &ws, &xq, &xs) };
            assert!((simd - portable).abs() <= 1e-5 * portable.abs().max(1.0));
        }
        assert!(portable.is_finite());
    }

    #[test]
    fn zero_blocks_stay_zero() {
        let q = Int8Matrix::quantize(&[0.0; 64], 2, 32).unwrap();
        assert_eq!(q.matmul_t(&lcg(7, 96), 3), vec![0.0; 6]);
        assert_eq!(q.bytes(), 64 + 2 * 4);
    }
}
