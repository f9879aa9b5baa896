//! Int8 projections for quantised bases.
//!
//! Both operands are integers, as in llama.cpp's CPU kernels, so that AVX2's byte
//! multiply-add (`vpmaddubsw`, 32 products per instruction) does the work rather than f32 FMAs
//! (8 per instruction):
//!
//! - **Weights**: 7-bit values in blocks of 32 along the input dimension, each block with an
//!   f32 scale per row (finer than GGUF's 4-, 5- and 6-bit quantisations, one bit coarser than
//!   Q8_0), stored offset by 64 as unsigned bytes in `1..=127`.
//! - **Inputs**: each row quantised once per projection (the products sharing an input share
//!   it), 8 bits per value in blocks of 32 with an f32 scale (llama.cpp's Q8 activations),
//!   plus each block's sum.
//!
//! `vpmaddubsw` multiplies an unsigned by a signed byte and adds pairs into 16 bits without
//! saturating here (2 · 127 · 127 < 2¹⁵); the weights' offset comes back out through the input
//! block's sum. Weights are packed in panels of 16 rows: for each group of 4 input positions
//! the 16 rows' 4 bytes lie side by side, so one broadcast of 4 input bytes against two
//! registers of weights yields 16 rows' partial sums, lane per row, with no horizontal sums.
//! A 16-row × 6-input register tile accumulates a block in 32-bit integers and then adds it,
//! scaled, to the f32 outputs.
//!
//! Block sums are exact integers, and every output element then adds its blocks' scaled sums
//! in block order with one FMA each, whichever tile or batch size computes it: its bits never
//! depend on the rows computed beside it (continuous batching relies on this).

use std::sync::atomic::{AtomicUsize, Ordering};

use super::pool::run_ranges;
use crate::simd::Isa;

/// Values per quantisation block.
pub const BLOCK: usize = 32;

/// Weight rows per panel: two AVX registers of 8 lanes.
const PANEL: usize = 16;

/// Input positions per broadcast: 4 bytes, one 32-bit lane.
const GROUP: usize = 4;

/// Largest stored weight magnitude: 7 bits, so that a pair of products fits 16 bits.
const WEIGHT_MAX: f32 = 63.0;

/// Added to a weight to store it unsigned (`vpmaddubsw` takes one unsigned operand).
const WEIGHT_OFFSET: i32 = 64;

/// Largest quantised input magnitude.
const INPUT_MAX: f32 = 127.0;

/// Rounds to the nearest integer, ties to even, for |v| ≤ 2²²: adding 1.5 · 2²³ leaves no
/// fraction bits, so the addition rounds (in the default mode, ties to even) and the
/// subtraction is exact. Plain adds, which the compiler vectorises, where `round_ties_even`
/// becomes a call to `rintf` per value.
#[inline(always)]
fn round_even(v: f32) -> f32 {
    const MAGIC: f32 = 12_582_912.0;
    (v + MAGIC) - MAGIC
}

/// Input rows per register tile: 2 × 6 integer accumulators, 2 weight registers, the ones for
/// `vpmaddwd` and a broadcast fill the 16 AVX registers.
const TILE_INPUTS: usize = 6;

/// Panels per work item of a single-row product.
const GEMV_PANELS: usize = 2;

/// A `rows × cols` matrix of 7-bit blocks in panels of 16 rows (the last padded with zero
/// rows); `cols` is a multiple of [`BLOCK`].
#[derive(Debug, Clone)]
pub struct Int8Matrix {
    rows: usize,
    cols: usize,
    /// `[panel][block][group of 4 positions][row in panel][position in group]`, offset by 64.
    values: Vec<u8>,
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
        let mut values = vec![WEIGHT_OFFSET as u8; panels * PANEL * cols];
        let mut scales = vec![0f32; panels * PANEL * blocks];
        // Each block of 32 in a row: scale = max |x| / 63, value = round(x / scale), written
        // straight to its place in the panel.
        for (j, row) in data.chunks_exact(cols).enumerate() {
            let (p, r) = (j / PANEL, j % PANEL);
            for (b, src) in row.chunks_exact(BLOCK).enumerate() {
                let block = p * blocks + b;
                let amax = src.iter().fold(0f32, |m, v| m.max(v.abs()));
                let scale = amax / WEIGHT_MAX;
                let inv = if scale > 0.0 { 1.0 / scale } else { 0.0 };
                scales[block * PANEL + r] = scale;
                for (t, &v) in src.iter().enumerate() {
                    let q = round_even(v * inv).clamp(-WEIGHT_MAX, WEIGHT_MAX) as i32;
                    values[Self::offset(block, r, t)] = (q + WEIGHT_OFFSET) as u8;
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

    /// Index in `values` of row `r` of a panel at position `t` of its block `block`
    /// (`panel · blocks + block in row`).
    fn offset(block: usize, r: usize, t: usize) -> usize {
        block * BLOCK * PANEL + (t / GROUP) * PANEL * GROUP + r * GROUP + t % GROUP
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
        let x = QuantizedRows::new(x, m, self.cols);
        let product = Product::new(self, &x);
        // SAFETY: `run_ranges` hands every item to exactly one call.
        run_ranges(product.items(), |items| unsafe { product.run(items) });
        product.finish()
    }

    /// Dequantised weight of row `j` at input position `t`.
    #[cfg(test)]
    fn weight(&self, j: usize, t: usize) -> f32 {
        let block = (j / PANEL) * self.blocks() + t / BLOCK;
        let r = j % PANEL;
        let q = self.values[Self::offset(block, r, t % BLOCK)] as i32 - WEIGHT_OFFSET;
        q as f32 * self.scales[block * PANEL + r]
    }
}

/// Input rows quantised for [`Product`]: 8-bit blocks of 32 with an f32 scale each, and each
/// block's correction for the weights' offset (64 × the block's sum).
pub(crate) struct QuantizedRows {
    m: usize,
    cols: usize,
    /// m × cols, row-major.
    values: Vec<i8>,
    /// `[row][block]`.
    scales: Vec<f32>,
    /// `[row][block]`: 64 · Σ values of the block.
    offsets: Vec<i32>,
}

impl QuantizedRows {
    /// `x` is m × cols, row-major, with `cols` a multiple of [`BLOCK`].
    pub fn new(x: &[f32], m: usize, cols: usize) -> Self {
        assert!(cols.is_multiple_of(BLOCK) && x.len() == m * cols, "input is not m × cols in blocks of 32");
        let blocks = m * cols / BLOCK;
        let mut rows = Self {
            m,
            cols,
            values: vec![0; m * cols],
            scales: vec![0.0; blocks],
            offsets: vec![0; blocks],
        };
        quantize_blocks(Isa::detect(), x, &mut rows.values, &mut rows.scales, &mut rows.offsets);
        rows
    }
}

/// Each block of 32 inputs: scale = max |x| / 127, value = round(x / scale) (ties to even),
/// offset = 64 · Σ values.
fn quantize_blocks(isa: Isa, x: &[f32], values: &mut [i8], scales: &mut [f32], offsets: &mut [i32]) {
    assert!(
        x.len() == values.len() && x.len() == scales.len() * BLOCK && scales.len() == offsets.len(),
        "quantised input buffers do not match the input"
    );
    match isa {
        Isa::Portable => {
            let blocks = x.chunks_exact(BLOCK).zip(values.chunks_exact_mut(BLOCK));
            for ((src, dst), (scale, offset)) in blocks.zip(scales.iter_mut().zip(offsets.iter_mut())) {
                let amax = src.iter().fold(0f32, |m, v| m.max(v.abs()));
                *scale = amax / INPUT_MAX;
                let inv = if *scale > 0.0 { 1.0 / *scale } else { 0.0 };
                let mut sum = 0i32;
                for (d, &v) in dst.iter_mut().zip(src) {
                    let q = round_even(v * inv).clamp(-INPUT_MAX, INPUT_MAX) as i32;
                    *d = q as i8;
                    sum += q;
                }
                *offset = WEIGHT_OFFSET * sum;
            }
        }
        // SAFETY: AVX2 is present (detected); the slices' lengths match (asserted above).
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2Fma => unsafe { avx2::quantize_blocks(x, values, scales, offsets) },
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
    x: &'a QuantizedRows,
    isa: Isa,
    /// Capacity for the m × rows result, left unwritten (not zeroed: every element is written
    /// by exactly one item) until `finish` sets its length.
    out: Vec<f32>,
    /// Where workers write: `out`'s buffer, which `finish` hands over.
    dst: SharedOut,
    /// Items run so far: `finish` hands the result over only once all have.
    done: AtomicUsize,
}

impl<'a> Product<'a> {
    pub fn new(w: &'a Int8Matrix, x: &'a QuantizedRows) -> Self {
        Self::with_isa(w, x, Isa::detect())
    }

    fn with_isa(w: &'a Int8Matrix, x: &'a QuantizedRows, isa: Isa) -> Self {
        assert_eq!(x.cols, w.cols, "input rows do not match the matrix");
        let mut out = Vec::with_capacity(x.m * w.rows);
        let dst = SharedOut(out.as_mut_ptr());
        Self {
            w,
            x,
            isa,
            out,
            dst,
            done: AtomicUsize::new(0),
        }
    }

    /// Number of work items: pairs of panels for a single row; for a batch, every panel for
    /// every block of input rows.
    pub fn items(&self) -> usize {
        if self.x.m == 1 {
            self.w.panels().div_ceil(GEMV_PANELS)
        } else {
            self.x.m.div_ceil(self.row_block()) * self.w.panels()
        }
    }

    /// Input rows per block: as many tiles as keep the block's inputs (re-read for every
    /// panel) within about 192 KB of L2 — a long prompt's whole input would not fit and would
    /// stream from L3 once per panel.
    fn row_block(&self) -> usize {
        let fit = (192 * 1024 / self.w.cols).max(TILE_INPUTS);
        (fit / TILE_INPUTS * TILE_INPUTS).min(self.x.m).max(1)
    }

    /// Computes work items `items` (a sub-range of `0..items()`).
    ///
    /// # Safety
    /// No call running at the same time (on another thread) covers any of these items: each
    /// item writes its own elements of the output without synchronisation.
    pub unsafe fn run(&self, items: std::ops::Range<usize>) {
        let (w, m) = (self.w, self.x.m);
        assert!(items.end <= self.items(), "work item out of range");
        let (panels, block_rows) = if m == 1 {
            (GEMV_PANELS, 1)
        } else {
            (1, self.row_block())
        };
        // The last panel's padding rows are computed into `spare` and dropped.
        let mut spare = [0f32; TILE_INPUTS * PANEL];
        let count = items.len();
        for item in items {
            // Consecutive items share a block of input rows, which stays in cache.
            let (b, p0) = if m == 1 {
                (0, item * GEMV_PANELS)
            } else {
                (item / w.panels(), item % w.panels())
            };
            let rows = b * block_rows..m.min((b + 1) * block_rows);
            for p in p0..w.panels().min(p0 + panels) {
                let (j0, valid) = (p * PANEL, PANEL.min(w.rows - p * PANEL));
                let mut i = rows.start;
                while i < rows.end {
                    let n = TILE_INPUTS.min(rows.end - i);
                    if valid == PANEL {
                        // SAFETY: rows i..i + n, columns j0..j0 + 16 lie in the m × rows
                        // output; work items own disjoint (row block, panel) pairs, hence
                        // disjoint elements, and no concurrent call runs this item (caller's
                        // contract); `out` lives as long as `self`.
                        unsafe { tile(self.isa, w, p, self.x, i..i + n, self.dst.0.add(i * w.rows + j0), w.rows) };
                    } else {
                        // SAFETY: `spare` holds n × 16 values.
                        unsafe { tile(self.isa, w, p, self.x, i..i + n, spare.as_mut_ptr(), PANEL) };
                        for c in 0..n {
                            // SAFETY: as above, for columns j0..j0 + valid.
                            let dst = unsafe { std::slice::from_raw_parts_mut(self.dst.0.add((i + c) * w.rows + j0), valid) };
                            dst.copy_from_slice(&spare[c * PANEL..][..valid]);
                        }
                    }
                    i += n;
                }
            }
        }
        self.done.fetch_add(count, Ordering::Release);
    }

    /// The m × rows result.
    ///
    /// # Panics
    /// When not every item has run.
    pub fn finish(mut self) -> Vec<f32> {
        assert_eq!(self.done.load(Ordering::Acquire), self.items(), "a product finished before all its items ran");
        // SAFETY: every item has run (checked above; `run`'s contract: each exactly once),
        // and together the items write all m × rows elements (every panel's valid rows for
        // every block of input rows).
        unsafe { self.out.set_len(self.x.m * self.w.rows) };
        self.out
    }
}

/// Panel `p` against input rows `rows` (at most 6): input row `rows.start + c`'s 16 outputs go
/// to `out + c · stride`.
///
/// # Safety
/// The panel and rows exist; `out + c · stride .. + 16` is writable for every row c and not
/// accessed by anyone else meanwhile.
unsafe fn tile(isa: Isa, w: &Int8Matrix, p: usize, x: &QuantizedRows, rows: std::ops::Range<usize>, out: *mut f32, stride: usize) {
    let (i0, n) = (rows.start, rows.len());
    debug_assert!(p < w.panels() && rows.end <= x.m && n <= TILE_INPUTS);
    match isa {
        // SAFETY: the caller's contract.
        Isa::Portable => unsafe { portable(w, p, x, i0, n, out, stride) },
        // SAFETY: AVX2 and FMA are present (detected); the rest is the caller's contract.
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2Fma => unsafe {
            match n {
                6 => avx2::tile::<6>(w, p, x, i0, out, stride),
                5 => avx2::tile::<5>(w, p, x, i0, out, stride),
                4 => avx2::tile::<4>(w, p, x, i0, out, stride),
                3 => avx2::tile::<3>(w, p, x, i0, out, stride),
                2 => avx2::tile::<2>(w, p, x, i0, out, stride),
                _ => avx2::tile::<1>(w, p, x, i0, out, stride),
            }
        },
    }
}

/// Scalar fallback with the same arithmetic: an exact integer sum per block, then one fused
/// multiply-add of it into the output, block by block.
///
/// # Safety
/// As [`tile`].
unsafe fn portable(w: &Int8Matrix, p: usize, x: &QuantizedRows, i0: usize, n: usize, dst: *mut f32, stride: usize) {
    let blocks = w.blocks();
    for c in 0..n {
        let i = i0 + c;
        for r in 0..PANEL {
            let mut out = 0f32;
            for b in 0..blocks {
                let block = p * blocks + b;
                let xb = &x.values[i * w.cols + b * BLOCK..][..BLOCK];
                let mut sum = 0i32;
                for (t, &xv) in xb.iter().enumerate() {
                    sum += w.values[Int8Matrix::offset(block, r, t)] as i32 * xv as i32;
                }
                let sum = (sum - x.offsets[i * blocks + b]) as f32;
                out = sum.mul_add(w.scales[block * PANEL + r] * x.scales[i * blocks + b], out);
            }
            // SAFETY: the caller's contract.
            unsafe { *dst.add(c * stride + r) = out };
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[allow(clippy::needless_range_loop)] // index loops over the const-size register tiles read best
mod avx2 {
    use super::{Int8Matrix, QuantizedRows, BLOCK, GROUP, INPUT_MAX, PANEL, WEIGHT_OFFSET};
    use std::arch::x86_64::*;

    /// [`super::quantize_blocks`], 32 values in four registers: the same scale, products and
    /// rounding, so the same bits.
    ///
    /// # Safety
    /// AVX2; `values` has `x.len()` elements, `scales` and `offsets` one per block of 32.
    #[target_feature(enable = "avx2")]
    pub unsafe fn quantize_blocks(x: &[f32], values: &mut [i8], scales: &mut [f32], offsets: &mut [i32]) {
        let magnitude = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fff_ffff));
        // `vpackssdw` / `vpacksswb` interleave the 128-bit lanes; this puts the 8 groups of 4
        // values back in order.
        let order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
        for (b, (scale, offset)) in scales.iter_mut().zip(offsets.iter_mut()).enumerate() {
            // SAFETY: block b has 32 values in x and in values (caller's contract).
            unsafe {
                let src = x.as_ptr().add(b * BLOCK);
                let v: [__m256; 4] = std::array::from_fn(|i| _mm256_loadu_ps(src.add(8 * i)));
                let a = v.map(|v| _mm256_and_ps(v, magnitude));
                let m = _mm256_max_ps(_mm256_max_ps(a[0], a[1]), _mm256_max_ps(a[2], a[3]));
                let m = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
                let m = _mm_max_ps(m, _mm_movehl_ps(m, m));
                let amax = _mm_cvtss_f32(_mm_max_ss(m, _mm_shuffle_ps(m, m, 1)));
                *scale = amax / INPUT_MAX;
                let inv = _mm256_set1_ps(if *scale > 0.0 { 1.0 / *scale } else { 0.0 });
                let q = v.map(|v| {
                    let r = _mm256_round_ps::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(_mm256_mul_ps(v, inv));
                    _mm256_cvtps_epi32(r)
                });
                let sum = _mm256_add_epi32(_mm256_add_epi32(q[0], q[1]), _mm256_add_epi32(q[2], q[3]));
                let sum = _mm_add_epi32(_mm256_castsi256_si128(sum), _mm256_extracti128_si256(sum, 1));
                let sum = _mm_add_epi32(sum, _mm_unpackhi_epi64(sum, sum));
                let sum = _mm_cvtsi128_si32(_mm_add_epi32(sum, _mm_shuffle_epi32(sum, 1)));
                *offset = WEIGHT_OFFSET * sum;
                let packed = _mm256_packs_epi16(_mm256_packs_epi32(q[0], q[1]), _mm256_packs_epi32(q[2], q[3]));
                let packed = _mm256_permutevar8x32_epi32(packed, order);
                _mm256_storeu_si256(values.as_mut_ptr().add(b * BLOCK).cast(), packed);
            }
        }
    }

    /// Panel `p` against input rows `i0..i0 + C`: per block, 16 × C integer sums (one
    /// `vpmaddubsw` + `vpmaddwd` per weight register and input, 4 positions at a time), then
    /// one FMA per output of the scaled sum; input row `i0 + c`'s outputs go to
    /// `dst + c · stride`.
    ///
    /// # Safety
    /// AVX2 and FMA; as [`super::tile`].
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn tile<const C: usize>(w: &Int8Matrix, p: usize, x: &QuantizedRows, i0: usize, dst: *mut f32, stride: usize) {
        let blocks = w.blocks();
        let ones = _mm256_set1_epi16(1);
        let mut out = [[_mm256_setzero_ps(); 2]; C];
        for b in 0..blocks {
            let block = p * blocks + b;
            // SAFETY: block < panels · blocks, so its 512 values and 16 scales are stored;
            // rows i0..i0 + C have their block b (caller's contract).
            unsafe {
                let wp = w.values.as_ptr().add(block * BLOCK * PANEL);
                let xp = x.values.as_ptr().add(i0 * w.cols + b * BLOCK);
                let mut sums = [[_mm256_setzero_si256(); 2]; C];
                for g in 0..BLOCK / GROUP {
                    let w0 = _mm256_loadu_si256(wp.add(g * PANEL * GROUP).cast());
                    let w1 = _mm256_loadu_si256(wp.add(g * PANEL * GROUP + 32).cast());
                    for c in 0..C {
                        let xb = _mm256_set1_epi32(xp.add(c * w.cols + g * GROUP).cast::<i32>().read_unaligned());
                        sums[c][0] = _mm256_add_epi32(sums[c][0], _mm256_madd_epi16(_mm256_maddubs_epi16(w0, xb), ones));
                        sums[c][1] = _mm256_add_epi32(sums[c][1], _mm256_madd_epi16(_mm256_maddubs_epi16(w1, xb), ones));
                    }
                }
                let sw0 = _mm256_loadu_ps(w.scales.as_ptr().add(block * PANEL));
                let sw1 = _mm256_loadu_ps(w.scales.as_ptr().add(block * PANEL + 8));
                for c in 0..C {
                    let at = (i0 + c) * blocks + b;
                    let offset = _mm256_set1_epi32(*x.offsets.get_unchecked(at));
                    let sx = _mm256_set1_ps(*x.scales.get_unchecked(at));
                    let s0 = _mm256_cvtepi32_ps(_mm256_sub_epi32(sums[c][0], offset));
                    let s1 = _mm256_cvtepi32_ps(_mm256_sub_epi32(sums[c][1], offset));
                    out[c][0] = _mm256_fmadd_ps(s0, _mm256_mul_ps(sw0, sx), out[c][0]);
                    out[c][1] = _mm256_fmadd_ps(s1, _mm256_mul_ps(sw1, sx), out[c][1]);
                }
            }
        }
        for c in 0..C {
            // SAFETY: 16 writable floats at dst + c · stride (caller's contract).
            unsafe {
                _mm256_storeu_ps(dst.add(c * stride), out[c][0]);
                _mm256_storeu_ps(dst.add(c * stride + 8), out[c][1]);
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
                let step = block.iter().fold(0f32, |m, v| m.max(v.abs())) / WEIGHT_MAX;
                for t in b * BLOCK..(b + 1) * BLOCK {
                    assert!((q.weight(j, t) - w[j * k + t]).abs() <= step * 0.5001, "row {j} col {t}");
                }
            }
        }
    }

    #[test]
    fn inputs_round_to_the_nearest_step_and_keep_their_block_sums() {
        let (m, k) = (3, 96);
        let mut x = lcg(13, m * k);
        x[40] = 0.0;
        x[64..96].fill(0.0); // an all-zero block: scale 0, values 0
        let q = QuantizedRows::new(&x, m, k);
        for (b, block) in x.chunks_exact(BLOCK).enumerate() {
            let scale = q.scales[b];
            assert_eq!(scale, block.iter().fold(0f32, |m, v| m.max(v.abs())) / INPUT_MAX);
            let values = &q.values[b * BLOCK..][..BLOCK];
            for (&v, &x) in values.iter().zip(block) {
                assert!((v as f32 * scale - x).abs() <= scale * 0.5001, "block {b}: {v} × {scale} vs {x}");
            }
            assert_eq!(q.offsets[b], 64 * values.iter().map(|&v| v as i32).sum::<i32>());
        }
        assert_eq!(q.scales[2], 0.0);
        assert!(q.values[64..96].iter().all(|&v| v == 0));
    }

    #[test]
    fn simd_and_portable_quantisation_give_the_same_bits() {
        let (m, k) = (5, 160);
        let mut x: Vec<f32> = lcg(14, m * k).iter().map(|v| v * 40.0).collect();
        x[32..64].fill(0.0);
        x[70] = 1e-30;
        let quantize = |isa| {
            let blocks = m * k / BLOCK;
            let (mut v, mut s, mut o) = (vec![0i8; m * k], vec![0f32; blocks], vec![0i32; blocks]);
            quantize_blocks(isa, &x, &mut v, &mut s, &mut o);
            (v, s, o)
        };
        let portable = quantize(Isa::Portable);
        assert_eq!(quantize(Isa::detect()), portable);
        assert!(portable.0.contains(&127) && portable.0.contains(&-127));
    }

    #[test]
    fn rounding_is_to_the_nearest_integer_with_ties_to_even() {
        for v in [0.0, 0.5, 1.5, 2.5, -0.5, -1.5, 126.5, -127.4, 127.0, 3.7, -3.2, 1e-8] {
            assert_eq!(round_even(v), f32::round_ties_even(v), "{v}");
        }
    }

    #[test]
    fn product_is_close_to_f32() {
        // 13 rows: one padded panel; 288 columns: 9 blocks.
        let (n, k) = (13, 288);
        let w = lcg(1, n * k);
        let q = Int8Matrix::quantize(&w, n, k).unwrap();
        for m in [1, 5] {
            let x = lcg(2, m * k);
            let got = q.matmul_t(&x, m);
            let want = reference(&w, &x, m, n, k);
            let (mut err, mut norm) = (0f32, 0f32);
            for (g, e) in got.iter().zip(&want) {
                // A 7-bit weight and an 8-bit input per term: errors of ~0.4 % and ~0.2 % of
                // their blocks' largest values, which add up to ~0.05 over 288 terms, against
                // typical |dot| ~ 5.
                assert!((g - e).abs() < 0.2, "{g} vs {e}");
                err += (g - e) * (g - e);
                norm += e * e;
            }
            assert!((err / norm).sqrt() < 0.02, "relative error {}", (err / norm).sqrt());
        }
    }

    #[test]
    fn rows_do_not_depend_on_the_batch() {
        // Three panels (the single-row path pairs two, then one); every tile width 1..=6
        // occurs across m = 1..=14.
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
        // 16384 columns: 12 input rows per block (192 KB), so 30 rows run as 12 + 12 + 6.
        let (n, k, m) = (20, 16384, 30);
        let q = Int8Matrix::quantize(&lcg(11, n * k), n, k).unwrap();
        let x = lcg(12, m * k);
        let rows = QuantizedRows::new(&x, m, k);
        assert_eq!(Product::new(&q, &rows).row_block(), 12);
        let batch = q.matmul_t(&x, m);
        for i in 0..m {
            assert_eq!(q.matmul_t(&x[i * k..(i + 1) * k], 1), batch[i * n..(i + 1) * n], "row {i}");
        }
    }

    fn portable_product(w: &Int8Matrix, x: &[f32], m: usize) -> Vec<f32> {
        let rows = QuantizedRows::new(x, m, w.cols());
        let product = Product::with_isa(w, &rows, Isa::Portable);
        // SAFETY: one call, on this thread.
        unsafe { product.run(0..product.items()) };
        product.finish()
    }

    #[test]
    fn simd_and_portable_kernels_give_the_same_bits() {
        let (n, k, m) = (19, 160, 7);
        let mut w = lcg(5, n * k);
        // A block of weights all at ±max against a block of inputs all at ±max: the largest
        // pair sums `vpmaddubsw` sees (2 · 127 · 127), which the portable path adds exactly.
        for (t, v) in w[..BLOCK].iter_mut().enumerate() {
            *v = if t % 3 == 0 { -1.0 } else { 1.0 };
        }
        let q = Int8Matrix::quantize(&w, n, k).unwrap();
        let mut x = lcg(6, m * k);
        for (t, v) in x[..BLOCK].iter_mut().enumerate() {
            *v = if t % 2 == 0 { -3.0 } else { 3.0 };
        }
        let portable = portable_product(&q, &x, m);
        assert_eq!(portable[..n], portable_product(&q, &x[..k], 1)[..]);
        assert_eq!(q.matmul_t(&x, m), portable);
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
