//! Quantised projections: weights held in GGML-style blocks of 32 along the input dimension,
//! multiplied by f32 input rows.
//!
//! Two block formats: 4-bit (GGUF's Q4_0 and Q4_1 kept as they are, `w = d·q + m` with the
//! scale and offset unpacked to f32) and 8-bit (`w = d·q`, any other quantised GGUF type
//! requantised, finer than all of them but Q8_0, which it reproduces up to the f16 scale).
//!
//! The kernel dequantises a tile of weight rows block by block into registers and multiplies
//! them with f32 input rows by FMA; the tile walks every input row of the batch, so each weight
//! block is read from memory and dequantised once per batch instead of once per sequence: that
//! is what makes a batch of 16 sequences cost far less than 16 single steps. Inputs stay f32.
//!
//! Every output element is one dot product of one weight row with one input row, computed by
//! the same instruction sequence whatever the batch size or the tile it falls in, so a row's
//! result never depends on the rows computed beside it (continuous batching relies on this).

use candle_core::quantized::GgmlDType;
use candle_core::utils::barrier_pool;

/// Values per quantisation block.
pub const BLOCK: usize = 32;

/// Weight rows per work item of the thread pool.
const TILE: usize = 8;

/// Register tile: weight rows × input rows sharing their loads. 2 × 4 (8 accumulators) was the
/// fastest of 1×4, 1×8, 2×8, 4×2 and 4×4 for batch-16 decode on SmolLM2 (2-core EPYC).
const TILE_R: usize = 2;
const TILE_C: usize = 4;

/// How a block's 32 weights are stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BlockFormat {
    /// 16 bytes: element t < 16 in the low nibble of byte t, element t ≥ 16 in the high nibble
    /// of byte t − 16; `w = d·q + m`.
    Int4,
    /// 32 signed bytes; `w = d·q`.
    Int8,
}

impl BlockFormat {
    fn bytes(self) -> usize {
        match self {
            Self::Int4 => BLOCK / 2,
            Self::Int8 => BLOCK,
        }
    }
}

/// A row-major `rows × cols` matrix of quantised blocks; `cols` is a multiple of [`BLOCK`].
#[derive(Debug, Clone)]
pub struct QuantMatrix {
    rows: usize,
    cols: usize,
    format: BlockFormat,
    data: Vec<u8>,
    scales: Vec<f32>,
    /// Per-block offsets (4-bit only).
    mins: Vec<f32>,
}

/// One weight row's blocks.
#[derive(Clone, Copy)]
struct WeightRow<'a> {
    data: &'a [u8],
    scales: &'a [f32],
    mins: &'a [f32],
}

impl QuantMatrix {
    /// 8-bit blocks from row-major f32 values: scale = max |x| / 127, value = round(x / scale).
    /// `None` when `cols` is not a multiple of [`BLOCK`] or the length does not match.
    pub fn quantize_int8(data: &[f32], rows: usize, cols: usize) -> Option<Self> {
        if cols % BLOCK != 0 || data.len() != rows * cols {
            return None;
        }
        let mut values = vec![0u8; data.len()];
        let mut scales = Vec::with_capacity(data.len() / BLOCK);
        for (src, dst) in data.chunks_exact(BLOCK).zip(values.chunks_exact_mut(BLOCK)) {
            let amax = src.iter().fold(0f32, |m, v| m.max(v.abs()));
            let scale = amax / 127.0;
            let inv = if scale > 0.0 { 1.0 / scale } else { 0.0 };
            for (d, &s) in dst.iter_mut().zip(src) {
                *d = ((s * inv).round().clamp(-127.0, 127.0) as i8) as u8;
            }
            scales.push(scale);
        }
        Some(Self {
            rows,
            cols,
            format: BlockFormat::Int8,
            data: values,
            scales,
            mins: Vec::new(),
        })
    }

    /// GGUF Q4_0 / Q4_1 blocks as stored (little-endian f16 scale, for Q4_1 an f16 offset, then
    /// 16 bytes of nibbles), kept 4-bit. `None` for other types or sizes that do not match.
    pub fn from_ggml_q4(dtype: GgmlDType, raw: &[u8], rows: usize, cols: usize) -> Option<Self> {
        let head = match dtype {
            GgmlDType::Q4_0 => 2,
            GgmlDType::Q4_1 => 4,
            _ => return None,
        };
        let blocks = rows * cols / BLOCK;
        if cols % BLOCK != 0 || raw.len() != blocks * (head + BLOCK / 2) {
            return None;
        }
        let mut data = Vec::with_capacity(blocks * BLOCK / 2);
        let (mut scales, mut mins) = (Vec::with_capacity(blocks), Vec::with_capacity(blocks));
        for b in raw.chunks_exact(head + BLOCK / 2) {
            let d = f16_bits_to_f32(u16::from_le_bytes([b[0], b[1]]));
            scales.push(d);
            // Q4_0 stores q − 8: w = d·q − 8d.
            mins.push(match dtype {
                GgmlDType::Q4_1 => f16_bits_to_f32(u16::from_le_bytes([b[2], b[3]])),
                _ => -8.0 * d,
            });
            data.extend_from_slice(&b[head..]);
        }
        Some(Self {
            rows,
            cols,
            format: BlockFormat::Int4,
            data,
            scales,
            mins,
        })
    }

    pub fn rows(&self) -> usize {
        self.rows
    }

    pub fn cols(&self) -> usize {
        self.cols
    }

    pub fn format(&self) -> BlockFormat {
        self.format
    }

    /// Bytes of the stored blocks, scales and offsets.
    pub fn bytes(&self) -> usize {
        self.data.len() + (self.scales.len() + self.mins.len()) * std::mem::size_of::<f32>()
    }

    fn row(&self, j: usize) -> WeightRow<'_> {
        let nb = self.cols / BLOCK;
        let width = nb * self.format.bytes();
        WeightRow {
            data: &self.data[j * width..(j + 1) * width],
            scales: &self.scales[j * nb..(j + 1) * nb],
            mins: match self.format {
                BlockFormat::Int4 => &self.mins[j * nb..(j + 1) * nb],
                BlockFormat::Int8 => &[],
            },
        }
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

/// IEEE half-precision bits to f32 (exact).
fn f16_bits_to_f32(h: u16) -> f32 {
    let sign = if h & 0x8000 != 0 { -1.0f32 } else { 1.0 };
    let exp = ((h >> 10) & 0x1F) as i32;
    let frac = (h & 0x3FF) as f32;
    sign * match exp {
        0 => frac * (2f32).powi(-24),
        31 if frac == 0.0 => f32::INFINITY,
        31 => f32::NAN,
        e => (1.0 + frac / 1024.0) * (2f32).powi(e - 15),
    }
}

/// The output pointer shared with the pool's workers.
#[derive(Clone, Copy)]
struct SharedOut(*mut f32);
// SAFETY: see `matmul_t`: workers write disjoint elements.
unsafe impl Send for SharedOut {}
unsafe impl Sync for SharedOut {}

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
        w: &QuantMatrix,
        j0: usize,
        rows: usize,
        x: &[f32],
        m: usize,
        out: SharedOut,
        n: usize,
    ) {
        let k = w.cols;
        let input = |i: usize| &x[i * k..(i + 1) * k];
        // SAFETY (writes): i < m and j < n, and the element belongs to this work item.
        let store = |i: usize, j: usize, v: f32| unsafe { *out.0.add(i * n + j) = v };
        match self {
            Self::Portable => {
                for i in 0..m {
                    for j in j0..j0 + rows {
                        store(i, j, dot_portable(w.format, w.row(j), input(i)));
                    }
                }
            }
            // SAFETY: AVX2 and FMA are present (checked in `detect`).
            #[cfg(target_arch = "x86_64")]
            Self::Avx2 => unsafe {
                let (weight, int4) = (|j| w.row(j), w.format == BlockFormat::Int4);
                match (m == 1, int4) {
                    // Decode streams the weights from memory: one row at a time reads fastest.
                    (true, true) => avx2_tiles::<true, 1, 1>(j0, rows, m, weight, input, store),
                    (true, false) => avx2_tiles::<false, 1, 1>(j0, rows, m, weight, input, store),
                    (false, true) => {
                        avx2_tiles::<true, TILE_R, TILE_C>(j0, rows, m, weight, input, store)
                    }
                    (false, false) => {
                        avx2_tiles::<false, TILE_R, TILE_C>(j0, rows, m, weight, input, store)
                    }
                }
            },
        }
    }
}

/// Weight rows `j0..j0 + rows` against input rows `0..m` in R × C tiles that share their loads;
/// edges take narrower tiles, whose per-element instruction sequence is the same.
///
/// # Safety
/// The CPU supports AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
unsafe fn avx2_tiles<'a, const INT4: bool, const R: usize, const C: usize>(
    j0: usize,
    rows: usize,
    m: usize,
    weight: impl Fn(usize) -> WeightRow<'a>,
    input: impl Fn(usize) -> &'a [f32],
    store: impl Fn(usize, usize, f32),
) {
    let full_r = rows / R * R;
    let full_c = m / C * C;
    for jr in (j0..j0 + full_r).step_by(R) {
        let ws: [_; R] = std::array::from_fn(|t| weight(jr + t));
        for ic in (0..full_c).step_by(C) {
            // SAFETY: the caller guarantees AVX2 and FMA.
            let r = unsafe {
                avx2::tile::<INT4, R, C>(&ws, &std::array::from_fn(|c| input(ic + c)))
            };
            for (t, col) in r.iter().enumerate() {
                for (c, &v) in col.iter().enumerate() {
                    store(ic + c, jr + t, v);
                }
            }
        }
        for i in full_c..m {
            // SAFETY: as above.
            let r = unsafe { avx2::tile::<INT4, R, 1>(&ws, &[input(i)]) };
            for (t, col) in r.iter().enumerate() {
                store(i, jr + t, col[0]);
            }
        }
    }
    for j in j0 + full_r..j0 + rows {
        for i in 0..m {
            // SAFETY: as above.
            let r = unsafe { avx2::tile::<INT4, 1, 1>(&[weight(j)], &[input(i)]) };
            store(i, j, r[0][0]);
        }
    }
}

/// One weight row · input row: the weight dequantised block by block, eight accumulator lanes
/// reduced in the AVX2 kernel's order.
fn dot_portable(format: BlockFormat, w: WeightRow<'_>, x: &[f32]) -> f32 {
    let mut acc = [0f32; 8];
    let mut wf = [0f32; BLOCK];
    for (b, xb) in x.chunks_exact(BLOCK).enumerate() {
        let d = w.scales[b];
        match format {
            BlockFormat::Int4 => {
                let (q, m) = (&w.data[b * BLOCK / 2..(b + 1) * BLOCK / 2], w.mins[b]);
                for t in 0..BLOCK / 2 {
                    wf[t] = (q[t] & 0x0F) as f32 * d + m;
                    wf[t + BLOCK / 2] = (q[t] >> 4) as f32 * d + m;
                }
            }
            BlockFormat::Int8 => {
                for (v, &q) in wf.iter_mut().zip(&w.data[b * BLOCK..(b + 1) * BLOCK]) {
                    *v = q as i8 as f32 * d;
                }
            }
        }
        for (w8, x8) in wf.chunks_exact(8).zip(xb.chunks_exact(8)) {
            for l in 0..8 {
                acc[l] += w8[l] * x8[l];
            }
        }
    }
    ((acc[0] + acc[4]) + (acc[2] + acc[6])) + ((acc[1] + acc[5]) + (acc[3] + acc[7]))
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use super::{WeightRow, BLOCK};
    use std::arch::x86_64::*;

    /// [`super::dot_portable`] for R weight rows × C input rows at once: each weight block is
    /// dequantised once into registers and used by all C inputs. Every (r, c) accumulator sees
    /// the same instruction sequence for any R and C, so the tile shape never changes a result.
    ///
    /// # Safety
    /// The CPU supports AVX2 and FMA; all rows cover the same number of blocks.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn tile<const INT4: bool, const R: usize, const C: usize>(
        w: &[WeightRow<'_>; R],
        x: &[&[f32]; C],
    ) -> [[f32; C]; R] {
        let nb = w[0].scales.len();
        debug_assert!(x.iter().all(|r| r.len() == nb * BLOCK));
        let mut acc = [[_mm256_setzero_ps(); C]; R];
        let mut wf = [[_mm256_setzero_ps(); 4]; R];
        let nibble = _mm_set1_epi8(0x0F);
        // No closures here: they would not inherit this function's target features.
        for b in 0..nb {
            for r in 0..R {
                let d = _mm256_set1_ps(w[r].scales[b]);
                if INT4 {
                    // SAFETY: the block's 16 bytes lie inside the row.
                    let v = unsafe { _mm_loadu_si128(w[r].data.as_ptr().add(b * 16).cast()) };
                    let lo = _mm_and_si128(v, nibble);
                    let hi = _mm_and_si128(_mm_srli_epi16(v, 4), nibble);
                    let m = _mm256_set1_ps(w[r].mins[b]);
                    let parts = [lo, _mm_srli_si128(lo, 8), hi, _mm_srli_si128(hi, 8)];
                    for (v, part) in wf[r].iter_mut().zip(parts) {
                        let q = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(part));
                        *v = _mm256_fmadd_ps(q, d, m);
                    }
                } else {
                    for (q, v) in wf[r].iter_mut().enumerate() {
                        // SAFETY: bytes b·32 + q·8 .. +8 lie inside the row.
                        let bytes = unsafe {
                            _mm_loadl_epi64(w[r].data.as_ptr().add(b * BLOCK + q * 8).cast())
                        };
                        *v = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(bytes)), d);
                    }
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
    use candle_core::quantized::QTensor;
    use candle_core::{Device, Tensor};

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

    /// A GGUF Q4 matrix through candle's own quantiser, with candle's dequantised values.
    fn q4(dtype: GgmlDType, n: usize, k: usize, seed: u64) -> (QuantMatrix, Vec<f32>) {
        let t = Tensor::from_vec(lcg(seed, n * k), (n, k), &Device::Cpu).unwrap();
        let q = QTensor::quantize(&t, dtype).unwrap();
        let dense = q.dequantize(&Device::Cpu).unwrap().flatten_all().unwrap().to_vec1().unwrap();
        let m = QuantMatrix::from_ggml_q4(dtype, &q.data().unwrap(), n, k).unwrap();
        (m, dense)
    }

    #[test]
    fn rejects_ragged_shapes_and_other_types() {
        assert!(QuantMatrix::quantize_int8(&[0.0; 40], 1, 40).is_none());
        assert!(QuantMatrix::quantize_int8(&[0.0; 64], 1, 32).is_none());
        assert!(QuantMatrix::from_ggml_q4(GgmlDType::Q4_1, &[0; 19], 1, 32).is_none());
        assert!(QuantMatrix::from_ggml_q4(GgmlDType::Q8_0, &[0; 34], 1, 32).is_none());
    }

    #[test]
    fn int8_product_is_close_to_f32() {
        let (m, n, k) = (5, 13, 96);
        let w = lcg(1, n * k);
        let x = lcg(2, m * k);
        let q = QuantMatrix::quantize_int8(&w, n, k).unwrap();
        for (g, e) in q.matmul_t(&x, m).iter().zip(&reference(&w, &x, m, n, k)) {
            // One 8-bit rounding per weight: well under 1 % of the typical |dot| (~5).
            assert!((g - e).abs() < 0.05, "{g} vs {e}");
        }
    }

    #[test]
    fn q4_blocks_multiply_exactly_as_candle_dequantises_them() {
        for dtype in [GgmlDType::Q4_0, GgmlDType::Q4_1] {
            let (m, n, k) = (3, 10, 64);
            let (q, dense) = q4(dtype, n, k, 3);
            assert_eq!(q.format(), BlockFormat::Int4);
            assert_eq!(q.bytes(), n * k / 2 + 2 * (n * k / BLOCK) * 4);
            let x = lcg(4, m * k);
            for (g, e) in q.matmul_t(&x, m).iter().zip(&reference(&dense, &x, m, n, k)) {
                assert!((g - e).abs() < 1e-4, "{dtype:?}: {g} vs {e}");
            }
        }
    }

    #[test]
    fn rows_do_not_depend_on_the_batch() {
        let (m, n, k) = (9, 23, 64);
        let x = lcg(6, m * k);
        for q in [QuantMatrix::quantize_int8(&lcg(5, n * k), n, k).unwrap(), q4(GgmlDType::Q4_1, n, k, 5).0] {
            let batch = q.matmul_t(&x, m);
            for i in 0..m {
                let alone = q.matmul_t(&x[i * k..(i + 1) * k], 1);
                assert_eq!(alone, batch[i * n..(i + 1) * n], "{:?} row {i}", q.format());
            }
        }
    }

    #[test]
    fn simd_and_portable_kernels_agree() {
        let (n, k) = (4, 128);
        let x = lcg(8, k);
        for q in [QuantMatrix::quantize_int8(&lcg(7, n * k), n, k).unwrap(), q4(GgmlDType::Q4_0, n, k, 7).0] {
            for j in 0..n {
                let portable = dot_portable(q.format(), q.row(j), &x);
                #[cfg(target_arch = "x86_64")]
                if let Kernel::Avx2 = Kernel::detect() {
                    let simd = match q.format() {
                        BlockFormat::Int4 => unsafe { avx2::tile::<true, 1, 1>(&[q.row(j)], &[&x]) },
                        BlockFormat::Int8 => unsafe { avx2::tile::<false, 1, 1>(&[q.row(j)], &[&x]) },
                    }[0][0];
                    assert!((simd - portable).abs() <= 1e-5 * portable.abs().max(1.0));
                }
                assert!(portable.is_finite());
            }
        }
    }

    #[test]
    fn f16_conversion_is_exact() {
        assert_eq!(f16_bits_to_f32(0x3C00), 1.0);
        assert_eq!(f16_bits_to_f32(0xC000), -2.0);
        assert_eq!(f16_bits_to_f32(0x0001), 2f32.powi(-24));
        assert_eq!(f16_bits_to_f32(0x7BFF), 65504.0);
        assert_eq!(f16_bits_to_f32(0x7C00), f32::INFINITY);
        assert!(f16_bits_to_f32(0x7E00).is_nan());
    }

    #[test]
    fn zero_blocks_stay_zero() {
        let q = QuantMatrix::quantize_int8(&[0.0; 64], 2, 32).unwrap();
        assert_eq!(q.matmul_t(&lcg(9, 96), 3), vec![0.0; 6]);
        assert_eq!(q.bytes(), 64 + 2 * 4);
    }
}
