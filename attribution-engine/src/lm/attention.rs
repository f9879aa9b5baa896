//! Causal self-attention over per-sequence key/value caches.
//!
//! Each (sequence, key/value head) pair is one work item of the thread pool: it serves the
//! query heads that share that key/value head (grouped-query attention) from the cache in
//! place and reads only its own sequence's cache, so a sequence's attention output is the
//! same whatever else is in the batch.
//!
//! Keys are cached in blocks of eight positions, dimension-major inside a block, so the scores
//! of eight positions are one vector of running sums over the head dimension (no horizontal
//! sums per position); values are cached position-major per head, so the weighted sum is one
//! axpy of a contiguous row per position.

use std::sync::Mutex;

use super::ops::softmax;
use super::pool::run_ranges;
use crate::simd::Isa;

/// Positions per key block.
const LANES: usize = 8;

/// One layer's cache for one sequence.
#[derive(Debug, Default, Clone)]
pub(crate) struct LayerCache {
    /// Per key/value head: `[block][dimension][position in block]`, zero past the last
    /// position.
    keys: Vec<Vec<f32>>,
    /// Per key/value head: `[position][dimension]`.
    values: Vec<Vec<f32>>,
    len: usize,
}

impl LayerCache {
    /// Appends positions given as rows of `kv_heads × head_dim` keys and values.
    pub fn append(&mut self, keys: &[f32], values: &[f32], h: Heads) {
        let d = h.head_dim;
        let width = h.kv_heads * d;
        self.keys.resize_with(h.kv_heads, Vec::new);
        self.values.resize_with(h.kv_heads, Vec::new);
        for (krow, vrow) in keys.chunks_exact(width).zip(values.chunks_exact(width)) {
            let lane = self.len % LANES;
            for (head, (kh, vh)) in self.keys.iter_mut().zip(&mut self.values).enumerate() {
                if lane == 0 {
                    kh.resize(kh.len() + d * LANES, 0.0);
                }
                let block = kh.len() - d * LANES;
                for (t, &k) in krow[head * d..(head + 1) * d].iter().enumerate() {
                    kh[block + t * LANES + lane] = k;
                }
                vh.extend_from_slice(&vrow[head * d..(head + 1) * d]);
            }
            self.len += 1;
        }
    }
}

/// Per-sequence key/value cache, one [`LayerCache`] per layer.
#[derive(Debug, Default)]
pub struct KvCache {
    pub(crate) layers: Vec<LayerCache>,
    pub(crate) len: usize,
}

impl KvCache {
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of positions cached.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// Head layout of a layer.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Heads {
    pub heads: usize,
    pub kv_heads: usize,
    pub head_dim: usize,
}

/// One sequence's share of the batch: its query rows start at `row`, it has `new` of them,
/// and `cache` already holds their keys and values (after `cache.len - new` earlier ones).
pub(crate) struct SeqAttention<'a> {
    pub row: usize,
    pub new: usize,
    pub cache: &'a LayerCache,
}

/// Attention output rows (`total rows × heads · head_dim`) for queries `q` of the same shape.
pub(crate) fn attend(q: &[f32], seqs: &[SeqAttention<'_>], h: Heads) -> Vec<f32> {
    let width = h.heads * h.head_dim;
    let group = h.heads / h.kv_heads;
    let items = seqs.len() * h.kv_heads;
    let results: Vec<Mutex<Vec<f32>>> = (0..items).map(|_| Mutex::new(Vec::new())).collect();
    run_ranges(items, |range| {
        for item in range {
            let (s, kv) = (&seqs[item / h.kv_heads], item % h.kv_heads);
            let out = attend_group(q, s, kv, h);
            if let Ok(mut slot) = results[item].lock() {
                *slot = out;
            }
        }
    });
    let rows: usize = seqs.iter().map(|s| s.new).sum();
    let mut out = vec![0f32; rows * width];
    for (item, result) in results.into_iter().enumerate() {
        let (s, kv) = (&seqs[item / h.kv_heads], item % h.kv_heads);
        let result = result.into_inner().unwrap_or_else(|e| e.into_inner());
        // `result` is [query head in group][new row][dimension].
        for (g, rows) in result.chunks_exact(s.new * h.head_dim).enumerate() {
            let head = kv * group + g;
            for (i, r) in rows.chunks_exact(h.head_dim).enumerate() {
                out[(s.row + i) * width + head * h.head_dim..][..h.head_dim].copy_from_slice(r);
            }
        }
    }
    out
}

/// The query heads sharing key/value head `kv`, for one sequence's `new` rows:
/// `[query head in group][row][dimension]`.
fn attend_group(q: &[f32], s: &SeqAttention<'_>, kv: usize, h: Heads) -> Vec<f32> {
    let isa = Isa::detect();
    let d = h.head_dim;
    let group = h.heads / h.kv_heads;
    let width = h.heads * d;
    let scale = 1.0 / (d as f32).sqrt();
    let (keys, values) = (&s.cache.keys[kv], &s.cache.values[kv]);
    let first = s.cache.len - s.new;
    let mut out = vec![0f32; group * s.new * d];
    let mut scores = vec![0f32; s.cache.len.next_multiple_of(LANES)];
    for g in 0..group {
        let head = kv * group + g;
        for i in 0..s.new {
            let qrow = &q[(s.row + i) * width + head * d..][..d];
            let len = first + i + 1;
            let blocks = len.div_ceil(LANES);
            key_scores(isa, qrow, &keys[..blocks * d * LANES], scale, &mut scores[..blocks * LANES]);
            let scores = &mut scores[..len];
            softmax(scores);
            weighted_sum(isa, scores, values, &mut out[(g * s.new + i) * d..][..d]);
        }
    }
    out
}

// The two inner loops of attention, AVX2 + FMA when the CPU has them. Each gives one fixed
// instruction sequence per output whatever the batch, so results are batch-invariant either way
// (the two builds differ from each other in rounding).

/// `out[8b + l] = scale · (q · key)` for position l of key block b (each block
/// `[dimension][position]`, `q.len() · 8` values).
fn key_scores(isa: Isa, q: &[f32], keys: &[f32], scale: f32, out: &mut [f32]) {
    match isa {
        Isa::Portable => {
            for (block, out) in keys.chunks_exact(q.len() * LANES).zip(out.chunks_exact_mut(LANES)) {
                let mut acc = [0f32; LANES];
                for (&qt, key) in q.iter().zip(block.chunks_exact(LANES)) {
                    for l in 0..LANES {
                        acc[l] += qt * key[l];
                    }
                }
                for l in 0..LANES {
                    out[l] = scale * acc[l];
                }
            }
        }
        // SAFETY: AVX2 and FMA are present (detected).
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2Fma => unsafe { avx2::scores(q, keys, scale, out) },
    }
}

/// `out = Σ_p weights[p] · values[p]` over positions in order (`values` position-major,
/// `out.len()` per position).
fn weighted_sum(isa: Isa, weights: &[f32], values: &[f32], out: &mut [f32]) {
    match isa {
        Isa::Portable => {
            out.fill(0.0);
            for (&w, v) in weights.iter().zip(values.chunks_exact(out.len())) {
                for (o, &x) in out.iter_mut().zip(v) {
                    *o += w * x;
                }
            }
        }
        // SAFETY: as above.
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2Fma => unsafe { avx2::weighted_sum(weights, values, out) },
    }
}

#[cfg(target_arch = "x86_64")]
#[allow(clippy::needless_range_loop)] // index loops over the const-size register arrays read best
mod avx2 {
    use super::LANES;
    use std::arch::x86_64::*;

    /// [`super::key_scores`]: per block, the dimensions split eight ways, eight FMA
    /// chains in flight, summed in a fixed tree.
    ///
    /// # Safety
    /// AVX2 and FMA; `keys` has `out.len() / 8` blocks of `q.len() · 8` values.
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn scores(q: &[f32], keys: &[f32], scale: f32, out: &mut [f32]) {
        let d = q.len();
        debug_assert!(keys.len() >= out.len() * d && out.len().is_multiple_of(LANES));
        let (qp, scale) = (q.as_ptr(), _mm256_set1_ps(scale));
        // Whole groups of eight dimensions with constant register indices (a running index
        // would keep the accumulators on the stack); the rest goes to the first chain.
        let full = d / 8 * 8;
        for b in 0..out.len() / LANES {
            // SAFETY: block b lies inside `keys` (caller's contract).
            let bp = unsafe { keys.as_ptr().add(b * d * LANES) };
            let mut acc = [_mm256_setzero_ps(); 8];
            for t0 in (0..full).step_by(8) {
                for r in 0..8 {
                    // SAFETY: t0 + r < d, and row t0 + r of the block has 8 values.
                    unsafe {
                        let key = _mm256_loadu_ps(bp.add((t0 + r) * LANES));
                        acc[r] = _mm256_fmadd_ps(_mm256_set1_ps(*qp.add(t0 + r)), key, acc[r]);
                    }
                }
            }
            for t in full..d {
                // SAFETY: as above.
                unsafe {
                    let key = _mm256_loadu_ps(bp.add(t * LANES));
                    acc[0] = _mm256_fmadd_ps(_mm256_set1_ps(*qp.add(t)), key, acc[0]);
                }
            }
            let quads = [
                _mm256_add_ps(acc[0], acc[1]),
                _mm256_add_ps(acc[2], acc[3]),
                _mm256_add_ps(acc[4], acc[5]),
                _mm256_add_ps(acc[6], acc[7]),
            ];
            let sum = _mm256_add_ps(_mm256_add_ps(quads[0], quads[1]), _mm256_add_ps(quads[2], quads[3]));
            // SAFETY: out has 8 values at b · 8.
            unsafe { _mm256_storeu_ps(out.as_mut_ptr().add(b * LANES), _mm256_mul_ps(sum, scale)) };
        }
    }

    /// [`super::weighted_sum`]: 64 dimensions (eight registers) at a time, then
    /// eight, then one by one, each one FMA chain over the positions in order.
    ///
    /// # Safety
    /// AVX2 and FMA; `values` has `weights.len() · out.len()` values.
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn weighted_sum(weights: &[f32], values: &[f32], out: &mut [f32]) {
        let d = out.len();
        debug_assert!(values.len() >= weights.len() * d);
        let vp = values.as_ptr();
        let mut c = 0;
        while c + 64 <= d {
            let mut acc = [_mm256_setzero_ps(); 8];
            for (p, &w) in weights.iter().enumerate() {
                let wv = _mm256_set1_ps(w);
                for r in 0..8 {
                    // SAFETY: position p, dimensions c + 8r .. +8 are inside `values`.
                    acc[r] = _mm256_fmadd_ps(wv, unsafe { _mm256_loadu_ps(vp.add(p * d + c + 8 * r)) }, acc[r]);
                }
            }
            for r in 0..8 {
                // SAFETY: dimensions c + 8r .. +8 are inside `out`.
                unsafe { _mm256_storeu_ps(out.as_mut_ptr().add(c + 8 * r), acc[r]) };
            }
            c += 64;
        }
        while c + 8 <= d {
            let mut acc = _mm256_setzero_ps();
            for (p, &w) in weights.iter().enumerate() {
                // SAFETY: as above.
                acc = _mm256_fmadd_ps(_mm256_set1_ps(w), unsafe { _mm256_loadu_ps(vp.add(p * d + c)) }, acc);
            }
            // SAFETY: as above.
            unsafe { _mm256_storeu_ps(out.as_mut_ptr().add(c), acc) };
            c += 8;
        }
        for t in c..d {
            let mut acc = 0f32;
            for (p, &w) in weights.iter().enumerate() {
                acc = w.mul_add(values[p * d + t], acc);
            }
            out[t] = acc;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Naive attention of one head with an explicit causal mask.
    fn naive(q: &[f32], k: &[f32], v: &[f32], n: usize, d: usize) -> Vec<f32> {
        let mut out = vec![0f32; n * d];
        for i in 0..n {
            let s: Vec<f32> = (0..=i)
                .map(|j| (0..d).map(|t| q[i * d + t] * k[j * d + t]).sum::<f32>() / (d as f32).sqrt())
                .collect();
            let m = s.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            let e: Vec<f32> = s.iter().map(|x| (x - m).exp()).collect();
            let z: f32 = e.iter().sum();
            for (j, w) in e.iter().enumerate() {
                for t in 0..d {
                    out[i * d + t] += w / z * v[j * d + t];
                }
            }
        }
        out
    }

    fn values(seed: u32, n: usize) -> Vec<f32> {
        (0..n).map(|i| (((i as u32 * 2654435761) ^ seed) % 1000) as f32 / 500.0 - 1.0).collect()
    }

    #[test]
    fn matches_naive_attention_across_a_prefill_and_decode_steps() {
        // 11 positions cross a key block (8); 4 query heads share 2 key/value heads; head
        // widths 8, 72 (64 + 8) and 67 (64 + 3) take every path of the weighted sum.
        for d in [8, 72, 67] {
            check_against_naive(d);
        }
    }

    fn check_against_naive(d: usize) {
        let (n, prefill) = (11, 9);
        let h = Heads { heads: 4, kv_heads: 2, head_dim: d };
        let (qw, kw) = (h.heads * d, h.kv_heads * d);
        let (q, k, v) = (values(1, n * qw), values(2, n * kw), values(3, n * kw));
        let mut cache = LayerCache::default();
        cache.append(&k[..prefill * kw], &v[..prefill * kw], h);
        let mut got = attend(&q[..prefill * qw], &[SeqAttention { row: 0, new: prefill, cache: &cache }], h);
        for i in prefill..n {
            cache.append(&k[i * kw..(i + 1) * kw], &v[i * kw..(i + 1) * kw], h);
            got.extend(attend(&q[i * qw..(i + 1) * qw], &[SeqAttention { row: 0, new: 1, cache: &cache }], h));
        }
        for head in 0..h.heads {
            let kv = head / 2;
            let pick = |x: &[f32], w: usize, off: usize| -> Vec<f32> {
                (0..n).flat_map(|i| x[i * w + off * d..][..d].to_vec()).collect()
            };
            let want = naive(&pick(&q, qw, head), &pick(&k, kw, kv), &pick(&v, kw, kv), n, d);
            for i in 0..n {
                for t in 0..d {
                    let g = got[i * qw + head * d + t];
                    assert!((g - want[i * d + t]).abs() < 1e-5, "head {head} row {i}: {g} vs {}", want[i * d + t]);
                }
            }
        }
    }

    #[test]
    fn a_sequence_does_not_see_its_batch_neighbours() {
        let d = 4;
        let h = Heads { heads: 1, kv_heads: 1, head_dim: d };
        let mut a = LayerCache::default();
        a.append(&values(4, 3 * d), &values(5, 3 * d), h);
        let mut b = LayerCache::default();
        b.append(&values(6, 2 * d), &values(7, 2 * d), h);
        let (qa, qb) = (values(8, 3 * d), values(9, d));
        let alone = attend(&qa, &[SeqAttention { row: 0, new: 3, cache: &a }], h);
        let q: Vec<f32> = qb.iter().chain(&qa).copied().collect();
        let both = attend(
            &q,
            &[SeqAttention { row: 0, new: 1, cache: &b }, SeqAttention { row: 1, new: 3, cache: &a }],
            h,
        );
        assert_eq!(&both[d..], &alone[..]);
    }
}
