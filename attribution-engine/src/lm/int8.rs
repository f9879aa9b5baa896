//! Int8 projections for quantised bases.
//!
//! Weights are held as signed 8-bit values in blocks of 32 along the input dimension, each
//! block with its own f32 scale (GGML's Q8_0 with the scale unpacked). The kernel dequantises
//! a tile of weight rows block by block into registers and multiplies them with f32 input rows
//! by FMA; the tile walks every input row of the batch, so each weight block is read from
//! memory and dequantised once per batch instead of once per sequence: that is what makes a
//! batch of 16 sequences cost far less than 16 single steps. Inputs stay f32 (no second
//! rounding).
//!
//! Every output element is one dot product of one weight row with one input row, computed by
//! the same instruction sequence whatever the batch size or the tile it falls in, so a row's
//! result never depends on the rows computed beside it (continuous batching relies on this).

use candle_core::utils::barrier_pool;

/// Values per quantisation block.
pub const BLOCK: usize = 32;

/// Weight rows per work item of the thread pool.
const TILE: usize = 8;

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
        if !cols.is_multiple_of(BLOCK) || data.len() != rows * cols {
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
                unsafe { kernel.tile(self, j0, rows, x, m, out_ptr, n) };
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
        x: &[f32],
        m: usize,
        out: SharedOut,
        n: usize,
    ) {
        let k = w.cols;
        let nb = k / BLOCK;
        let weight = |j: usize| (&w.values[j * k..(j + 1) * k], &w.scales[j * nb..(j + 1) * nb]);
        let input = |i: usize| &x[i * k..(i + 1) * k];
        // SAFETY (writes): i < m and j < n, and the element belongs to this work item.
        let store = |i: usize, j: usize, v: f32| unsafe { *out.0.add(i * n + j) = v };
        match self {
            Self::Portable => {
                for i in 0..m {
                    for j in j0..j0 + rows {
                        let (wq, ws) = weight(j);
                        store(i, j, dot_portable(wq, ws, input(i)));
                    }
                }
            }
            // SAFETY: AVX2 and FMA are present (checked in `detect`).
            #[cfg(target_arch = "x86_64")]
            Self::Avx2 => unsafe {
                if m == 1 {
                    // Decode streams the weights from memory: one row at a time reads fastest.
                    avx2_tiles::<1, 1>(j0, rows, m, weight, input, store)
                } else {
                    avx2_tiles::<TILE_R, TILE_C>(j0, rows, m, weight, input, store)
                }
            },
        }
    }
}

/// Register tile: weight rows × input rows sharing their loads. 2 × 4 (8 accumulators) was the
/// fastest of 1×4, 1×8, 2×8, 4×2 and 4×4 for batch-16 decode on SmolLM2 (2-core EPYC). (A
/// variant that first dequantised each work item's rows into an f32 buffer measured the same,
/// 58–61 against 58–59 ms per step in alternating runs, and was dropped.)
const TILE_R: usize = 2;
const TILE_C: usize = 4;

/// Weight rows `j0..j0 + rows` against input rows `0..m` in R × C tiles that share their loads;
/// edges take narrower tiles, whose per-element instruction sequence is the same.
///
/// # Safety
/// The CPU supports AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
#[allow(clippy::too_many_arguments)]
unsafe fn avx2_tiles<'a, const R: usize, const C: usize>(
    j0: usize,
    rows: usize,
    m: usize,
    weight: impl Fn(usize) -> avx2::Row<'a>,
    input: impl Fn(usize) -> &'a [f32],
    store: impl Fn(usize, usize, f32),
) {
    let full_r = rows / R * R;
    let full_c = m / C * C;
    for jr in (j0..j0 + full_r).step_by(R) {
        let ws: [_; R] = std::array::from_fn(|t| weight(jr + t));
        for ic in (0..full_c).step_by(C) {
            // SAFETY: the caller guarantees AVX2 and FMA.
            let r = unsafe { avx2::tile::<R, C>(&ws, &std::array::from_fn(|c| input(ic + c))) };
            for (t, col) in r.iter().enumerate() {
                for (c, &v) in col.iter().enumerate() {
                    store(ic + c, jr + t, v);
                }
            }
        }
        for i in full_c..m {
            // SAFETY: as above.
            let r = unsafe { avx2::tile::<R, 1>(&ws, &[input(i)]) };
            for (t, col) in r.iter().enumerate() {
                store(i, jr + t, col[0]);
            }
        }
    }
    for j in j0 + full_r..j0 + rows {
        for i in 0..m {
            // SAFETY: as above.
            let r = unsafe { avx2::tile::<1, 1>(&[weight(j)], &[input(i)]) };
            store(i, j, r[0][0]);
        }
    }
}

/// One weight row · input row: the weight dequantised block by block, eight accumulator lanes
/// reduced in the AVX2 kernel's order.
fn dot_portable(wq: &[i8], ws: &[f32], x: &[f32]) -> f32 {
    let mut acc = [0f32; 8];
    for ((wb, xb), &scale) in wq.chunks_exact(BLOCK).zip(x.chunks_exact(BLOCK)).zip(ws) {
        for (w8, x8) in wb.chunks_exact(8).zip(xb.chunks_exact(8)) {
            for l in 0..8 {
                acc[l] += (w8[l] as f32 * scale) * x8[l];
            }
        }
    }
    ((acc[0] + acc[4]) + (acc[2] + acc[6])) + ((acc[1] + acc[5]) + (acc[3] + acc[7]))
}

#[cfg(target_arch = "x86_64")]
#[allow(clippy::needless_range_loop)] // index loops over the const-size register tiles read best
mod avx2 {
    use super::BLOCK;
    use std::arch::x86_64::*;

    /// Blocks as (values, scales) slices of one weight row.
    pub type Row<'a> = (&'a [i8], &'a [f32]);

    /// [`super::dot_portable`] for R weight rows × C input rows at once: each weight block is
    /// dequantised once into registers (value × scale) and used by all C inputs. Every (r, c)
    /// accumulator sees the same instruction sequence for any R and C, so the tile shape
    /// never changes a result.
    ///
    /// # Safety
    /// The CPU supports AVX2 and FMA; all rows cover the same number of blocks.
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn tile<const R: usize, const C: usize>(
        w: &[Row<'_>; R],
        x: &[&[f32]; C],
    ) -> [[f32; C]; R] {
        let nb = w[0].1.len();
        debug_assert!(w.iter().all(|r| r.0.len() == nb * BLOCK && r.1.len() == nb));
        debug_assert!(x.iter().all(|r| r.len() == nb * BLOCK));
        let mut acc = [[_mm256_setzero_ps(); C]; R];
        let mut wf = [[_mm256_setzero_ps(); 4]; R];
        // No closures here: they would not inherit this function's target features.
        for b in 0..nb {
            for r in 0..R {
                let scale = _mm256_set1_ps(w[r].1[b]);
                for (q, v) in wf[r].iter_mut().enumerate() {
                    // SAFETY: bytes b·32 + q·8 .. +8 lie inside the row.
                    let bytes = unsafe { _mm_loadl_epi64(w[r].0.as_ptr().add(b * BLOCK + q * 8).cast()) };
                    *v = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(bytes)), scale);
                }
            }
            for c in 0..C {
                for q in 0..4 {
                    // SAFETY: floats b·32 + q·8 .. +8 lie inside the row.
                    let xv = unsafe { _mm256_loadu_ps(x[c].as_ptr().add(b * BLOCK + q * 8)) };
                    for r in 0..R {
                        acc[r][c] = _mm256_fmadd_ps(wf[r][q], xv, acc[r][c]);
                    }
                }
            }
        }
        let mut out = [[0f32; C]; R];
        for r in 0..R {
            for c in 0..C {
                out[r][c] = hsum(acc[r][c]);
            }
        }
        out
    }

    /// ((l0 + l4) + (l2 + l6)) + ((l1 + l5) + (l3 + l7)).
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    fn hsum(v: __m256) -> f32 {
        let half = _mm_add_ps(_mm256_extractf128_ps(v, 1), _mm256_castps256_ps128(v));
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
            // One 8-bit rounding per weight: well under 1 % of the typical |dot| (~5).
            assert!((g - e).abs() < 0.05, "{g} vs {e}");
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
        let x = lcg(6, k);
        let portable = dot_portable(&wq, &ws, &x);
        #[cfg(target_arch = "x86_64")]
        if let Kernel::Avx2 = Kernel::detect() {
            let simd = unsafe { avx2::tile::<1, 1>(&[(&wq, &ws)], &[&x]) }[0][0];
            assert!((simd - portable).abs() <= 1e-5 * portable.abs().max(1.0));
        }
        assert!(portable.is_finite());
    }

    #[test]
    fn every_tile_shape_gives_the_same_bits() {
        let (m, n, k) = (7, 11, 64);
        let q = Int8Matrix::quantize(&lcg(8, n * k), n, k).unwrap();
        let x = lcg(9, m * k);
        let want: Vec<f32> = (0..m * n)
            .map(|e| {
                let (i, j) = (e / n, e % n);
                let w = (&q.values[j * k..(j + 1) * k], &q.scales[j * 2..(j + 1) * 2]);
                match Kernel::detect() {
                    Kernel::Portable => dot_portable(w.0, w.1, &x[i * k..(i + 1) * k]),
                    #[cfg(target_arch = "x86_64")]
                    Kernel::Avx2 => {
                        (unsafe { avx2::tile::<1, 1>(&[w], &[&x[i * k..(i + 1) * k]]) })[0][0]
                    }
                }
            })
            .collect();
        assert_eq!(q.matmul_t(&x, m), want);
    }

    #[test]
    fn zero_blocks_stay_zero() {
        let q = Int8Matrix::quantize(&[0.0; 64], 2, 32).unwrap();
        assert_eq!(q.matmul_t(&lcg(7, 96), 3), vec![0.0; 6]);
        assert_eq!(q.bytes(), 64 + 2 * 4);
    }
}
