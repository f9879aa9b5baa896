//! Int8 projections for quantised bases.
//!
//! Weights are held as signed 8-bit values in blocks of 32 along the input dimension, each
//! block with its own f32 scale per row (GGML's Q8_0 with the scale unpacked), packed in panels
//! of 16 rows: for every block, the 32 input positions in turn, each with its 16 row values
//! side by side. One input position of a panel is then one 16-byte load that dequantises into
//! two AVX registers holding 16 output rows, and a broadcast input value updates all of them
//! with two FMAs. No horizontal sums, and every weight is read once per batch.
//!
//! - A single input row (decode) streams the packed weights, dequantising in registers.
//! - A batch dequantises a panel 128 positions at a time into an 8 KB buffer that stays in L1
//!   and runs a 16-row × 6-input register tile over it (12 accumulators), so the dequantising
//!   is paid once per batch and the tile does nothing but FMAs.
//!
//! Every output element is one FMA chain over the input positions in order, from the same
//! dequantised values, whichever path, tile or batch size computes it; its bits never depend
//! on the rows computed beside it (continuous batching relies on this). Inputs stay f32 (no
//! second rounding).

use super::pool::run_ranges;
use crate::simd::Isa;

/// Values per quantisation block.
pub const BLOCK: usize = 32;

/// Weight rows per panel: two AVX registers of outputs.
const PANEL: usize = 16;

/// Blocks per dequantised chunk of the batch kernel: 128 positions, 8 KB of f32 per panel,
/// which with 16 input rows' share (8 KB) stays in L1.
const CHUNK_BLOCKS: usize = 4;

/// Input rows per register tile of the batch kernel: 2 × 6 accumulators, 2 weight registers
/// and a broadcast fill 15 of the 16 AVX registers.
const TILE_INPUTS: usize = 6;

/// Panels per work item of a single-row product (two panels keep four FMA chains in flight).
const GEMV_PANELS: usize = 2;

/// A `rows × cols` matrix of int8 blocks in panels of 16 rows (the last padded with zero
/// rows); `cols` is a multiple of [`BLOCK`].
#[derive(Debug, Clone)]
pub struct Int8Matrix {
    rows: usize,
    cols: usize,
    /// `[panel][block][position in block][row in panel]`.
    values: Vec<i8>,
    /// `[panel][block][row in panel]`.
    scales: Vec<f32>,
}

impl Int8Matrix {
    /// Quantises row-major f32 values; `None` when `cols` is not a multiple of [`BLOCK`] or the
    /// length does not match.
    pub fn quantize(data: &[f32], rows: usize, cols: usize) -> Option<Self> {
        if !cols.is_multiple_of(BLOCK) || data.len() != rows * cols {
            return None;
        }
        let blocks = cols / BLOCK;
        let panels = rows.div_ceil(PANEL);
        let mut values = vec![0i8; panels * PANEL * cols];
        let mut scales = vec![0f32; panels * PANEL * blocks];
        // Each block of 32 in a row: scale = max |x| / 127, value = round(x / scale), written
        // straight to its place in the panel.
        for (j, row) in data.chunks_exact(cols).enumerate() {
            let (p, r) = (j / PANEL, j % PANEL);
            for (b, src) in row.chunks_exact(BLOCK).enumerate() {
                let block = p * blocks + b;
                let amax = src.iter().fold(0f32, |m, v| m.max(v.abs()));
                let scale = amax / 127.0;
                let inv = if scale > 0.0 { 1.0 / scale } else { 0.0 };
                scales[block * PANEL + r] = scale;
                for (t, &v) in src.iter().enumerate() {
                    values[(block * BLOCK + t) * PANEL + r] = (v * inv).round().clamp(-127.0, 127.0) as i8;
                }
            }
        }
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

    fn panels(&self) -> usize {
        self.rows.div_ceil(PANEL)
    }

    fn blocks(&self) -> usize {
        self.cols / BLOCK
    }

    /// `x` (m × cols, row-major) times the transpose of this matrix: m × rows.
    pub fn matmul_t(&self, x: &[f32], m: usize) -> Vec<f32> {
        let product = Product::new(self, x, m);
        // SAFETY: `run_ranges` hands every item to exactly one call.
        run_ranges(product.items(), |items| unsafe { product.run(items) });
        product.finish()
    }

    /// Copies accumulators (`rows.len() × count · 16`, row-major) of panels `p0..p0 + count`
    /// into input rows `rows` of the m × self.rows output, dropping the padding rows of the
    /// last panel.
    ///
    /// # Safety
    /// `out` points to the m × self.rows output, `rows.end <= m`, and no other thread writes
    /// these rows of these panels' columns.
    unsafe fn store(&self, out: SharedOut, rows: std::ops::Range<usize>, p0: usize, count: usize, acc: &[f32]) {
        let width = count * PANEL;
        let j0 = p0 * PANEL;
        let valid = width.min(self.rows - j0);
        for (a, i) in rows.enumerate() {
            // SAFETY: row i, columns j0..j0 + valid lie inside the output (caller's contract).
            let dst = unsafe { std::slice::from_raw_parts_mut(out.0.add(i * self.rows + j0), valid) };
            dst.copy_from_slice(&acc[a * width..][..valid]);
        }
    }

    /// Dequantised weight of row `j` at input position `t`.
    fn weight(&self, j: usize, t: usize) -> f32 {
        let block = (j / PANEL) * self.blocks() + t / BLOCK;
        let r = j % PANEL;
        self.values[(block * BLOCK + t % BLOCK) * PANEL + r] as f32 * self.scales[block * PANEL + r]
    }
}

/// The output pointer shared with the pool's workers.
#[derive(Clone, Copy)]
struct SharedOut(*mut f32);
// SAFETY: see `Product::run`: workers write disjoint elements.
unsafe impl Send for SharedOut {}
unsafe impl Sync for SharedOut {}

/// `x · Wᵀ` as work items for the thread pool, so that several products and other work can
/// share one dispatch: `run` the items `0..items()` (each exactly once, on any threads), then
/// `finish`.
pub(crate) struct Product<'a> {
    w: &'a Int8Matrix,
    x: &'a [f32],
    m: usize,
    isa: Isa,
    out: Vec<f32>,
    /// Where workers write: `out`'s buffer, which `finish` hands over.
    dst: SharedOut,
}

impl<'a> Product<'a> {
    /// `x` is m × cols, row-major.
    pub fn new(w: &'a Int8Matrix, x: &'a [f32], m: usize) -> Self {
        Self::with_isa(w, x, m, Isa::detect())
    }

    fn with_isa(w: &'a Int8Matrix, x: &'a [f32], m: usize, isa: Isa) -> Self {
        assert_eq!(x.len(), m * w.cols, "input is not m × cols");
        let mut out = vec![0f32; m * w.rows];
        let dst = SharedOut(out.as_mut_ptr());
        Self {
            w,
            x,
            m,
            isa,
            out,
            dst,
        }
    }

    /// Number of work items: pairs of panels for a single row; for a batch, every panel for
    /// every block of input rows.
    pub fn items(&self) -> usize {
        if self.m == 1 {
            self.w.panels().div_ceil(GEMV_PANELS)
        } else {
            self.m.div_ceil(self.row_block()) * self.w.panels()
        }
    }

    /// Input rows per block: as many tiles as keep the block's inputs (re-read for every
    /// panel) within about 192 KB of L2 — a long prompt's whole input would not fit and would
    /// stream from L3 once per panel.
    fn row_block(&self) -> usize {
        let fit = (192 * 1024 / (self.w.cols * std::mem::size_of::<f32>())).max(TILE_INPUTS);
        (fit / TILE_INPUTS * TILE_INPUTS).min(self.m).max(1)
    }

    /// Computes work items `items` (a sub-range of `0..items()`).
    ///
    /// # Safety
    /// No call running at the same time (on another thread) covers any of these items: each
    /// item writes its own elements of the output without synchronisation.
    pub unsafe fn run(&self, items: std::ops::Range<usize>) {
        let (w, x, m) = (self.w, self.x, self.m);
        assert!(items.end <= self.items(), "work item out of range");
        if m == 1 {
            for item in items {
                let p0 = item * GEMV_PANELS;
                let count = GEMV_PANELS.min(w.panels() - p0);
                let mut acc = [0f32; GEMV_PANELS * PANEL];
                gemv(self.isa, w, p0, count, x, &mut acc);
                // SAFETY: work items own disjoint panels, hence disjoint output columns; no
                // concurrent call runs this item (caller's contract); `out` lives as long as
                // `self`.
                unsafe { w.store(self.dst, 0..1, p0, count, &acc) };
            }
        } else {
            let block = self.row_block();
            let mut dequantised = vec![0f32; CHUNK_BLOCKS * BLOCK * PANEL];
            let mut acc = vec![0f32; block * PANEL];
            for item in items {
                // Consecutive items share a block of input rows, which stays in cache.
                let (b, p) = (item / w.panels(), item % w.panels());
                let rows = b * block..m.min((b + 1) * block);
                let n = rows.len();
                let xs = &x[rows.start * w.cols..rows.end * w.cols];
                panel(self.isa, w, p, xs, n, &mut dequantised, &mut acc[..n * PANEL]);
                // SAFETY: work items own disjoint (row block, panel) pairs, hence disjoint
                // output elements; as above.
                unsafe { w.store(self.dst, rows, p, 1, &acc[..n * PANEL]) };
            }
        }
    }

    /// The m × rows result (complete once every item has run).
    pub fn finish(self) -> Vec<f32> {
        self.out
    }
}

/// Panels `p0..p0 + count` against the single input row `x`; `acc` receives `count · 16`
/// outputs.
fn gemv(isa: Isa, w: &Int8Matrix, p0: usize, count: usize, x: &[f32], acc: &mut [f32]) {
    match isa {
        Isa::Portable => portable(w, p0, count, x, 1, acc),
        // SAFETY: AVX2 and FMA are present (detected); the panels exist and `x` covers every
        // column.
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2Fma => unsafe {
            match count {
                2 => avx2::gemv::<2>(w, p0, x, acc),
                _ => avx2::gemv::<1>(w, p0, x, acc),
            }
        },
    }
}

/// Panel `p` against all `m` rows of `x`; `acc` (m × 16) receives the outputs.
fn panel(isa: Isa, w: &Int8Matrix, p: usize, x: &[f32], m: usize, buf: &mut [f32], acc: &mut [f32]) {
    match isa {
        Isa::Portable => portable(w, p, 1, x, m, acc),
        // SAFETY: as above; `buf` holds a chunk, `acc` m × 16 values.
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2Fma => unsafe { avx2::panel(w, p, x, m, buf, acc) },
    }
}

/// Scalar fallback: the same per-output chain (dequantised weight × input, added in position
/// order) without fused multiply-adds; `acc` is m × count · 16.
fn portable(w: &Int8Matrix, p0: usize, count: usize, x: &[f32], m: usize, acc: &mut [f32]) {
    let width = count * PANEL;
    for i in 0..m {
        let row = &x[i * w.cols..(i + 1) * w.cols];
        for (r, out) in acc[i * width..(i + 1) * width].iter_mut().enumerate() {
            let j = p0 * PANEL + r;
            let mut sum = 0f32;
            for (t, &xv) in row.iter().enumerate() {
                sum += w.weight(j, t) * xv;
            }
            *out = sum;
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[allow(clippy::needless_range_loop)] // index loops over the const-size register tiles read best
mod avx2 {
    use super::{Int8Matrix, BLOCK, CHUNK_BLOCKS, PANEL, TILE_INPUTS};
    use std::arch::x86_64::*;

    /// One input position of a panel: 16 int8 values times their rows' scales, as two
    /// registers of 8 rows.
    ///
    /// # Safety
    /// AVX2; `values` has 16 readable bytes and `scales` 16 floats.
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    unsafe fn dequantise(values: *const i8, scales: *const f32) -> [__m256; 2] {
        // SAFETY: the caller's contract.
        unsafe {
            let v = _mm_loadu_si128(values.cast());
            let lo = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(v));
            let hi = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(v, 8)));
            [
                _mm256_mul_ps(lo, _mm256_loadu_ps(scales)),
                _mm256_mul_ps(hi, _mm256_loadu_ps(scales.add(8))),
            ]
        }
    }

    /// Panels `p0..p0 + N` times one input row, dequantising in registers; `acc` receives
    /// `N · 16` outputs.
    ///
    /// # Safety
    /// AVX2 and FMA; the panels exist, `x` has `w.cols` values and `acc` `N · 16`.
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn gemv<const N: usize>(w: &Int8Matrix, p0: usize, x: &[f32], acc: &mut [f32]) {
        let blocks = w.blocks();
        debug_assert!(x.len() == w.cols && acc.len() >= N * PANEL && p0 + N <= w.panels());
        let mut sums = [[_mm256_setzero_ps(); 2]; N];
        for b in 0..blocks {
            for t in 0..BLOCK {
                // SAFETY: position b·32 + t < cols.
                let xb = _mm256_set1_ps(unsafe { *x.get_unchecked(b * BLOCK + t) });
                for q in 0..N {
                    let block = (p0 + q) * blocks + b;
                    // SAFETY: block < panels · blocks, so its values and scales are stored.
                    let [lo, hi] = unsafe {
                        dequantise(
                            w.values.as_ptr().add((block * BLOCK + t) * PANEL),
                            w.scales.as_ptr().add(block * PANEL),
                        )
                    };
                    sums[q][0] = _mm256_fmadd_ps(lo, xb, sums[q][0]);
                    sums[q][1] = _mm256_fmadd_ps(hi, xb, sums[q][1]);
                }
            }
        }
        for q in 0..N {
            // SAFETY: acc has N · 16 floats.
            unsafe {
                _mm256_storeu_ps(acc.as_mut_ptr().add(q * PANEL), sums[q][0]);
                _mm256_storeu_ps(acc.as_mut_ptr().add(q * PANEL + 8), sums[q][1]);
            }
        }
    }

    /// Panel `p` times all `m` input rows: chunk by chunk, the panel is dequantised into `buf`
    /// and every tile of input rows runs over it, keeping its running sums in `acc`.
    ///
    /// # Safety
    /// AVX2 and FMA; the panel exists, `x` is m × cols, `buf` holds a chunk and `acc` m × 16.
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn panel(w: &Int8Matrix, p: usize, x: &[f32], m: usize, buf: &mut [f32], acc: &mut [f32]) {
        let blocks = w.blocks();
        debug_assert!(x.len() == m * w.cols && acc.len() == m * PANEL);
        debug_assert!(buf.len() >= CHUNK_BLOCKS * BLOCK * PANEL);
        let mut b0 = 0;
        while b0 < blocks {
            let b1 = blocks.min(b0 + CHUNK_BLOCKS);
            for b in b0..b1 {
                let block = p * blocks + b;
                for t in 0..BLOCK {
                    // SAFETY: block and position are stored; the chunk fits `buf`.
                    unsafe {
                        let [lo, hi] = dequantise(
                            w.values.as_ptr().add((block * BLOCK + t) * PANEL),
                            w.scales.as_ptr().add(block * PANEL),
                        );
                        let dst = buf.as_mut_ptr().add(((b - b0) * BLOCK + t) * PANEL);
                        _mm256_storeu_ps(dst, lo);
                        _mm256_storeu_ps(dst.add(8), hi);
                    }
                }
            }
            let (cols, first) = (b0 * BLOCK..b1 * BLOCK, b0 == 0);
            let mut i = 0;
            while i < m {
                let n = TILE_INPUTS.min(m - i);
                // SAFETY: rows i..i + n exist in x and acc; the chunk's columns are in range.
                unsafe {
                    match n {
                        6 => tile::<6>(buf, x, w.cols, i, cols.clone(), acc, first),
                        5 => tile::<5>(buf, x, w.cols, i, cols.clone(), acc, first),
                        4 => tile::<4>(buf, x, w.cols, i, cols.clone(), acc, first),
                        3 => tile::<3>(buf, x, w.cols, i, cols.clone(), acc, first),
                        2 => tile::<2>(buf, x, w.cols, i, cols.clone(), acc, first),
                        _ => tile::<1>(buf, x, w.cols, i, cols.clone(), acc, first),
                    }
                }
                i += n;
            }
            b0 = b1;
        }
    }

    /// Input rows `i0..i0 + C` over the dequantised chunk covering `cols`: 16 × C running sums
    /// loaded from `acc` (zero on the first chunk), one FMA per weight register and input.
    ///
    /// # Safety
    /// AVX2 and FMA; `buf` holds `cols.len()` positions, rows `i0..i0 + C` exist in `x`
    /// (`k` per row) and in `acc` (16 per row).
    #[target_feature(enable = "avx2,fma")]
    unsafe fn tile<const C: usize>(
        buf: &[f32],
        x: &[f32],
        k: usize,
        i0: usize,
        cols: std::ops::Range<usize>,
        acc: &mut [f32],
        first: bool,
    ) {
        let a = acc.as_mut_ptr();
        let mut sums = [[_mm256_setzero_ps(); 2]; C];
        if !first {
            for c in 0..C {
                // SAFETY: row i0 + c of acc has 16 floats.
                unsafe {
                    sums[c][0] = _mm256_loadu_ps(a.add((i0 + c) * PANEL));
                    sums[c][1] = _mm256_loadu_ps(a.add((i0 + c) * PANEL + 8));
                }
            }
        }
        let (wp, xp) = (buf.as_ptr(), x.as_ptr());
        for (s, t) in cols.enumerate() {
            // SAFETY: position s of the chunk and column t of rows i0..i0 + C are in range.
            unsafe {
                let lo = _mm256_loadu_ps(wp.add(s * PANEL));
                let hi = _mm256_loadu_ps(wp.add(s * PANEL + 8));
                for c in 0..C {
                    let xb = _mm256_broadcast_ss(&*xp.add((i0 + c) * k + t));
                    sums[c][0] = _mm256_fmadd_ps(lo, xb, sums[c][0]);
                    sums[c][1] = _mm256_fmadd_ps(hi, xb, sums[c][1]);
                }
            }
        }
        for c in 0..C {
            // SAFETY: as above.
            unsafe {
                _mm256_storeu_ps(a.add((i0 + c) * PANEL), sums[c][0]);
                _mm256_storeu_ps(a.add((i0 + c) * PANEL + 8), sums[c][1]);
            }
        }
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
    fn packing_keeps_every_weight_within_half_a_step() {
        let (n, k) = (21, 96);
        let w = lcg(10, n * k);
        let q = Int8Matrix::quantize(&w, n, k).unwrap();
        for j in 0..n {
            for b in 0..k / BLOCK {
                let block = &w[j * k + b * BLOCK..][..BLOCK];
                let step = block.iter().fold(0f32, |m, v| m.max(v.abs())) / 127.0;
                for t in b * BLOCK..(b + 1) * BLOCK {
                    assert!((q.weight(j, t) - w[j * k + t]).abs() <= step * 0.5001, "row {j} col {t}");
                }
            }
        }
    }

    #[test]
    fn product_is_close_to_f32() {
        // 13 rows: one padded panel; 288 columns: chunks of 4, 4 and 1 blocks.
        let (n, k) = (13, 288);
        let w = lcg(1, n * k);
        let q = Int8Matrix::quantize(&w, n, k).unwrap();
        for m in [1, 5] {
            let x = lcg(2, m * k);
            let got = q.matmul_t(&x, m);
            let want = reference(&w, &x, m, n, k);
            for (g, e) in got.iter().zip(&want) {
                // One 8-bit rounding per weight: well under 1 % of the typical |dot| (~10).
                assert!((g - e).abs() < 0.1, "{g} vs {e}");
            }
        }
    }

    #[test]
    fn rows_do_not_depend_on_the_batch() {
        // Three panels (the single-row path pairs two, then one); every tile width 1..=6
        // occurs across m = 1..=14; 288 columns span three chunks.
        let (n, k) = (37, 288);
        let q = Int8Matrix::quantize(&lcg(3, n * k), n, k).unwrap();
        let x = lcg(4, 14 * k);
        let alone: Vec<Vec<f32>> = (0..14).map(|i| q.matmul_t(&x[i * k..(i + 1) * k], 1)).collect();
        for m in 1..=14 {
            let batch = q.matmul_t(&x[..m * k], m);
            for (i, row) in alone.iter().take(m).enumerate() {
                assert_eq!(row[..], batch[i * n..(i + 1) * n], "row {i} of a batch of {m}");
            }
        }
    
    }

    #[test]
    fn blocks_of_input_rows_give_the_same_bits() {
        // 4096 columns: 12 input rows per block (192 KB), so 30 rows run as 12 + 12 + 6.
        let (n, k, m) = (20, 4096, 30);
        let q = Int8Matrix::quantize(&lcg(11, n * k), n, k).unwrap();
        let x = lcg(12, m * k);
        assert_eq!(Product::new(&q, &x, m).row_block(), 12);
        let batch = q.matmul_t(&x, m);
        for i in 0..m {
            assert_eq!(q.matmul_t(&x[i * k..(i + 1) * k], 1), batch[i * n..(i + 1) * n], "row {i}");
        }
    }

    fn portable_product(w: &Int8Matrix, x: &[f32], m: usize) -> Vec<f32> {
        let product = Product::with_isa(w, x, m, Isa::Portable);
        // SAFETY: one call, on this thread.
        unsafe { product.run(0..product.items()) };
        product.finish()
    }

    #[test]
    fn simd_and_portable_kernels_agree() {
        let (n, k, m) = (19, 160, 7);
        let q = Int8Matrix::quantize(&lcg(5, n * k), n, k).unwrap();
        let x = lcg(6, m * k);
        let portable = portable_product(&q, &x, m);
        assert_eq!(portable[..n], portable_product(&q, &x[..k], 1)[..]);
        let simd = q.matmul_t(&x, m);
        for (a, b) in simd.iter().zip(&portable) {
            assert!((a - b).abs() <= 1e-4 * b.abs().max(1.0), "{a} vs {b}");
        }
    }

    #[test]
    fn zero_blocks_stay_zero() {
        let q = Int8Matrix::quantize(&[0.0; 64], 2, 32).unwrap();
        assert_eq!(q.matmul_t(&lcg(7, 96), 3), vec![0.0; 6]);
        assert_eq!(q.matmul_t(&lcg(7, 32), 1), vec![0.0; 2]);
        // One panel, padded to 16 rows: 16 × 32 values and 16 scales.
        assert_eq!(q.bytes(), 16 * 32 + 16 * 4);
        assert!(q.matmul_t(&[], 0).is_empty());
    }
}
