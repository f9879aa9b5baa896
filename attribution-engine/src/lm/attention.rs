//! Causal self-attention over per-sequence key/value caches.
//!
//! Each (sequence, head) pair is one work item of the thread pool and reads only its own
//! sequence's cache, so a sequence's attention output is the same whatever else is in the
//! batch. Grouped-query heads read their shared key/value head in place (no expanded copy).

use std::sync::Mutex;

use candle_core::utils::barrier_pool;

use super::ops::{axpy, dot, softmax};
use crate::simd::avx2_build;

/// One layer's cache: keys and values position-major, `kv_heads × head_dim` per position.
#[derive(Debug, Default, Clone)]
pub(crate) struct LayerCache {
    keys: Vec<f32>,
    values: Vec<f32>,
}

impl LayerCache {
    pub fn append(&mut self, keys: &[f32], values: &[f32]) {
        self.keys.extend_from_slice(keys);
        self.values.extend_from_slice(values);
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
/// and `cache` already holds their keys and values (after `cache_len - new` earlier ones).
pub(crate) struct SeqAttention<'a> {
    pub row: usize,
    pub new: usize,
    pub cache: &'a LayerCache,
}

/// Attention output rows (`total rows × heads · head_dim`) for queries `q` of the same shape.
pub(crate) fn attend(q: &[f32], seqs: &[SeqAttention<'_>], h: Heads) -> Vec<f32> {
    let width = h.heads * h.head_dim;
    let items = seqs.len() * h.heads;
    let results: Vec<Mutex<Vec<f32>>> = (0..items).map(|_| Mutex::new(Vec::new())).collect();
    barrier_pool().execute_chunked(items, |range| {
        let mut scores = Vec::new();
        for item in range {
            let (s, head) = (&seqs[item / h.heads], item % h.heads);
            let out = attend_head(q, s, head, h, &mut scores);
            if let Ok(mut slot) = results[item].lock() {
                *slot = out;
            }
        }
    });
    let rows: usize = seqs.iter().map(|s| s.new).sum();
    let mut out = vec![0f32; rows * width];
    for (item, result) in results.into_iter().enumerate() {
        let (s, head) = (&seqs[item / h.heads], item % h.heads);
        let result = result.into_inner().unwrap_or_else(|e| e.into_inner());
        for (i, r) in result.chunks_exact(h.head_dim).enumerate() {
            out[(s.row + i) * width + head * h.head_dim..][..h.head_dim].copy_from_slice(r);
        }
    }
    out
}

avx2_build! {
    /// One head of one sequence: its `new` output rows.
    fn attend_head(
        q: &[f32],
        s: &SeqAttention<'_>,
        head: usize,
        h: Heads,
        scores: &mut Vec<f32>,
    ) -> Vec<f32> {
        let width = h.heads * h.head_dim;
        let kv_width = h.kv_heads * h.head_dim;
        let kv = (head / (h.heads / h.kv_heads)) * h.head_dim;
        let scale = 1.0 / (h.head_dim as f32).sqrt();
        let first = s.cache.keys.len() / kv_width - s.new;
        let mut out = vec![0f32; s.new * h.head_dim];
        for (i, o) in out.chunks_exact_mut(h.head_dim).enumerate() {
            let qrow = &q[(s.row + i) * width + head * h.head_dim..][..h.head_dim];
                scores.clear();
            for k in s.cache.keys.chunks_exact(kv_width).take(first + i + 1) {
                scores.push(scale * dot(qrow, &k[kv..kv + h.head_dim]));
            }
            softmax(scores);
            for (&w, v) in scores.iter().zip(s.cache.values.chunks_exact(kv_width)) {
                axpy(w, &v[kv..kv + h.head_dim], o);
            }
        }
        out
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
        (0..n).map(|i| ((i as u32 * 2654435761 ^ seed) % 1000) as f32 / 500.0 - 1.0).collect()
    }

    #[test]
    fn matches_naive_attention_across_a_prefill_and_a_decode_step() {
        let (n, d) = (5, 8);
        let h = Heads { heads: 2, kv_heads: 1, head_dim: d };
        let (q, k, v) = (values(1, n * 2 * d), values(2, n * d), values(3, n * d));
        let mut cache = LayerCache::default();
        cache.append(&k[..4 * d], &v[..4 * d]);
        let prefill = attend(&q[..4 * 2 * d], &[SeqAttention { row: 0, new: 4, cache: &cache }], h);
        cache.append(&k[4 * d..], &v[4 * d..]);
        let step = attend(&q[4 * 2 * d..], &[SeqAttention { row: 0, new: 1, cache: &cache }], h);
        for head in 0..2 {
            let qh: Vec<f32> = (0..n).flat_map(|i| q[i * 2 * d + head * d..][..d].to_vec()).collect();
            let want = naive(&qh, &k, &v, n, d);
            for i in 0..n {
                let got = if i < 4 { &prefill[i * 2 * d + head * d..][..d] } else { &step[head * d..][..d] };
                for t in 0..d {
                    assert!((got[t] - want[i * d + t]).abs() < 1e-5, "head {head} row {i}");
                }
            }
        }
    }

    #[test]
    fn a_sequence_does_not_see_its_batch_neighbours() {
        let d = 4;
        let h = Heads { heads: 1, kv_heads: 1, head_dim: d };
        let mut a = LayerCache::default();
        a.append(&values(4, 3 * d), &values(5, 3 * d));
        let mut b = LayerCache::default();
        b.append(&values(6, 2 * d), &values(7, 2 * d));
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
