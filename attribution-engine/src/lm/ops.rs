//! Row-wise operations of the forward pass on plain f32 rows: each output row depends on its
//! own input row only, with a fixed reduction order, so results never depend on the batch.

use super::pool::for_row_chunks;
use crate::simd::avx2_build;

/// Dot product with a fixed reduction order (eight lanes, then the lanes in order).
#[inline(always)]
pub(crate) fn dot(x: &[f32], y: &[f32]) -> f32 {
    let mut acc = [0f32; 8];
    let mut xs = x.chunks_exact(8);
    let mut ys = y.chunks_exact(8);
    for (a, b) in (&mut xs).zip(&mut ys) {
        for l in 0..8 {
            acc[l] += a[l] * b[l];
        }
    }
    let tail: f32 = xs
        .remainder()
        .iter()
        .zip(ys.remainder())
        .map(|(a, b)| a * b)
        .sum();
    ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7])) + tail
}

/// RMS norm of each `weight.len()`-wide row: `x / sqrt(mean(x²) + eps) · weight`; a prompt's
/// rows in parallel chunks.
pub(crate) fn rms_norm_rows(x: &[f32], weight: &[f32], eps: f32) -> Vec<f32> {
    let width = weight.len();
    let mut out = vec![0f32; x.len()];
    for_row_chunks(&mut out, width, |first, out| {
        let x = &x[first * width..][..out.len()];
        for (row, out) in x.chunks_exact(width).zip(out.chunks_exact_mut(width)) {
            let scale = 1.0 / (dot(row, row) / width as f32 + eps).sqrt();
            for ((o, v), w) in out.iter_mut().zip(row).zip(weight) {
                *o = v * scale * w;
            }
        }
    });
    out
}

/// `gate ← silu(gate) · up`, element-wise, for rows of `width`; a prompt's rows in parallel
/// chunks.
pub(crate) fn silu_mul_rows(gate: &mut [f32], up: &[f32], width: usize) {
    for_row_chunks(gate, width, |first, gate| {
        silu_mul(gate, &up[first * width..][..gate.len()]);
    });
}

avx2_build! {
    /// `gate ← silu(gate) · up`, element-wise.
    pub(crate) fn silu_mul(gate: &mut [f32], up: &[f32]) {
        for (g, u) in gate.iter_mut().zip(up) {
            *g = *g / (1.0 + exp_poly(-*g)) * u;
        }
    }
}

/// `x += y`, element-wise.
pub(crate) fn add_assign(x: &mut [f32], y: &[f32]) {
    for (a, b) in x.iter_mut().zip(y) {
        *a += b;
    }
}

/// In-place softmax. The exponentials are [`exp_poly`], a branch-free loop the compiler can
/// vectorise (glibc's `expf` is a call per element).
#[inline(always)]
pub(crate) fn softmax(x: &mut [f32]) {
    let max = x.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    for v in x.iter_mut() {
        *v = exp_poly(*v - max);
    }
    let sum: f32 = x.iter().sum();
    let inv = 1.0 / sum;
    for v in x.iter_mut() {
        *v *= inv;
    }
}

/// `e^x` by Cephes' `expf` polynomial (within 2 ulp of libm; 0 below −87.3, ∞ above 88.7).
/// Plain multiplies and adds and no branches: the loops that call it vectorise, and every
/// build gives the same bits.
#[inline(always)]
pub(crate) fn exp_poly(x: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    const C1: f32 = 0.693_359_4;
    const C2: f32 = -2.121_944_4e-4;
    // Adding and subtracting 1.5 · 2²³ rounds to the nearest integer without a call to `round`.
    const ROUND: f32 = 12_582_912.0;
    let (underflow, overflow) = (x < -87.3, x > 88.7);
    let x = x.clamp(-87.3, 88.7);
    let shifted = x * LOG2E + ROUND;
    let n = shifted - ROUND;
    // n as an integer, from the low bits of `shifted` (an `as i32` cast is a scalar
    // conversion with saturation checks, which keeps the caller's loop from vectorising).
    let n_int = shifted.to_bits() as i32 - ROUND.to_bits() as i32;
    let r = x - n * C1 - n * C2;
    let mut p = 1.987_569_2e-4f32;
    p = p * r + 1.398_199_9e-3;
    p = p * r + 8.333_452e-3;
    p = p * r + 4.166_579_6e-2;
    p = p * r + 1.666_666_5e-1;
    p = p * r + 0.5;
    let y = p * r * r + r + 1.0;
    // 2ⁿ · y in two halves: 2¹²⁸ alone is not a finite f32.
    let (n, half_n) = (n_int, n_int >> 1);
    let half = f32::from_bits(((half_n + 127) as u32) << 23);
    let rest = f32::from_bits(((n - half_n + 127) as u32) << 23);
    let v = y * half * rest;
    if underflow {
        0.0
    } else if overflow {
        f32::INFINITY
    } else {
        v
    }
}

/// Rotary position embedding tables: `cos`/`sin` of position × frequency, `half` per position.
#[derive(Debug)]
pub(crate) struct Rope {
    half: usize,
    interleaved: bool,
    cos: Vec<f32>,
    sin: Vec<f32>,
}

impl Rope {
    pub fn new(head_dim: usize, theta: f64, max_position: usize, interleaved: bool) -> Self {
        let half = head_dim / 2;
        let inv: Vec<f32> = (0..half)
            .map(|i| 1f32 / (theta as f32).powf(2.0 * i as f32 / head_dim as f32))
            .collect();
        let mut cos = Vec::with_capacity(max_position * half);
        let mut sin = Vec::with_capacity(max_position * half);
        for p in 0..max_position {
            for f in &inv {
                let angle = p as f32 * f;
                cos.push(angle.cos());
                sin.push(angle.sin());
            }
        }
        Self {
            half,
            interleaved,
            cos,
            sin,
        }
    }

    /// Rotates every head of one row (`heads × head_dim`) for position `pos`. GGUF llama
    /// weights rotate adjacent pairs; Hugging Face weights rotate the two halves of a head.
    pub fn apply(&self, row: &mut [f32], pos: usize) {
        let (cos, sin) = (
            &self.cos[pos * self.half..(pos + 1) * self.half],
            &self.sin[pos * self.half..(pos + 1) * self.half],
        );
        for head in row.chunks_exact_mut(2 * self.half) {
            for i in 0..self.half {
                let (a, b) = if self.interleaved {
                    (2 * i, 2 * i + 1)
                } else {
                    (i, i + self.half)
                };
                let (x0, x1) = (head[a], head[b]);
                head[a] = x0 * cos[i] - x1 * sin[i];
                head[b] = x0 * sin[i] + x1 * cos[i];
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dot_matches_naive_sum_closely() {
        let x: Vec<f32> = (0..37).map(|i| i as f32 * 0.25).collect();
        let y: Vec<f32> = (0..37).map(|i| 1.0 - i as f32 * 0.01).collect();
        let naive: f32 = x.iter().zip(&y).map(|(a, b)| a * b).sum();
        assert!((dot(&x, &y) - naive).abs() < 1e-3);
    }

    #[test]
    fn exp_poly_is_within_two_ulp_of_libm() {
        let mut worst = 0u32;
        for i in 0..=400_000 {
            let x = -87.0 + 175.0 * i as f32 / 400_000.0;
            let (got, want) = (exp_poly(x), x.exp());
            worst = worst.max(got.to_bits().abs_diff(want.to_bits()));
        }
        assert!(worst <= 2, "worst error {worst} ulp");
        assert_eq!(exp_poly(0.0), 1.0);
        assert_eq!(exp_poly(-100.0), 0.0);
        assert_eq!(exp_poly(f32::NEG_INFINITY), 0.0);
        assert_eq!(exp_poly(89.0), f32::INFINITY);
        let mut g = [-200.0f32, 0.0, 3.0, 200.0];
        silu_mul(&mut g, &[1.0; 4]);
        assert_eq!(g[..2], [-0.0, 0.0]);
        assert!((g[2] - 3.0 / (1.0 + (-3f32).exp())).abs() < 1e-6 && g[3] == 200.0);
    }

    #[test]
    fn softmax_sums_to_one_and_keeps_order() {
        let mut v = vec![1.0, 3.0, -2.0, 3.0];
        softmax(&mut v);
        assert!((v.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        assert!(v[1] == v[3] && v[1] > v[0] && v[0] > v[2]);
    }

    #[test]
    fn rms_norm_gives_unit_rms_rows() {
        let x = vec![3.0, 4.0, 0.0, 0.0, 1.0, 1.0, 1.0, 1.0];
        let y = rms_norm_rows(&x, &[1.0; 4], 0.0);
        for row in y.chunks(4) {
            assert!((dot(row, row) / 4.0 - 1.0).abs() < 1e-5);
        }
    }

    #[test]
    fn rope_rotates_pairs_and_keeps_norms() {
        for interleaved in [false, true] {
            let rope = Rope::new(4, 10_000.0, 8, interleaved);
            let mut row = vec![1.0, 2.0, 3.0, 4.0, 0.5, -1.0, 2.0, 0.0];
            let norm = dot(&row, &row);
            rope.apply(&mut row, 0);
            assert_eq!(row, vec![1.0, 2.0, 3.0, 4.0, 0.5, -1.0, 2.0, 0.0]);
            rope.apply(&mut row, 5);
            assert!((dot(&row, &row) - norm).abs() < 1e-4);
            // The first frequency is 1: position 5 turns the first pair by 5 radians.
            let (a, b) = if interleaved { (0, 1) } else { (0, 2) };
            let (x0, x1) = (1.0f32, if interleaved { 2.0 } else { 3.0 });
            assert!((row[a] - (x0 * 5f32.cos() - x1 * 5f32.sin())).abs() < 1e-5);
            assert!((row[b] - (x0 * 5f32.sin() + x1 * 5f32.cos())).abs() < 1e-5);
        }
    }
}
