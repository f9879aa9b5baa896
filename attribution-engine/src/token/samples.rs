//! An in-memory sample of a shard's suffix array, so binary searches start in RAM.
//!
//! Every [`STEP`]-th suffix (by rank) keeps its first 8 bytes in a small array (1.2 MiB for a
//! 16 MiB shard). A search first bisects the samples, which decides most comparisons without
//! touching the memory-mapped files, and then bisects the one gap of `STEP` ranks left in the
//! table: about `log2(STEP)` = 6 probes into the table and stream instead of `log2(tok_cnt)` ≈ 23,
//! each of them two likely cache (or page) misses.
//!
//! Sampling changes no answer: a sample only answers a comparison when its 8 bytes decide it;
//! otherwise the search compares the full suffix as before.

use std::cmp::Ordering;

/// Ranks between two samples.
pub(crate) const STEP: u64 = 64;

/// Bytes of a suffix a sample keeps.
const KEY: usize = 8;

#[derive(Debug)]
pub(crate) struct RankSamples {
    /// Sample `k` is the suffix of rank `k * STEP`: its first `len` bytes (`len` < 8 only at
    /// the end of the stream), zero-padded, then `len`.
    keys: Vec<[u8; KEY + 1]>,
    tok_cnt: u64,
}

impl RankSamples {
    /// Samples the suffixes of ranks `0, STEP, 2 STEP, ..` below `tok_cnt`; `prefix(rank)`
    /// gives the first bytes (at most 8) of the suffix of that rank.
    pub(crate) fn build<'a>(tok_cnt: u64, prefix: impl Fn(u64) -> &'a [u8]) -> RankSamples {
        let keys = (0..tok_cnt.div_ceil(STEP))
            .map(|k| {
                let bytes = prefix(k * STEP);
                let len = bytes.len().min(KEY);
                let mut key = [0u8; KEY + 1];
                key[..len].copy_from_slice(&bytes[..len]);
                key[KEY] = len as u8;
                key
            })
            .collect();
        RankSamples { keys, tok_cnt }
    }

    /// Compares sample `k`, cut to `q.len()` bytes, with `q` (non-empty), as the full suffix
    /// would compare; `None` when the first 8 bytes equal `q`'s and `q` is longer.
    #[inline]
    fn cmp(&self, k: usize, q: &[u8]) -> Option<Ordering> {
        let key = &self.keys[k];
        let n = q.len().min(KEY);
        let have = (key[KEY] as usize).min(n);
        match key[..have].cmp(&q[..n]) {
            Ordering::Equal if q.len() > KEY && have == KEY => None,
            order => Some(order),
        }
    }

    /// Narrows the search for the first rank whose suffix is not below `q`: returns
    /// `(lo, hi, upper_hi)` with that rank in `[lo, hi]` (`hi` itself is not below `q`, or is
    /// `tok_cnt`), `hi - lo < STEP`, and `upper_hi` a rank past every suffix that starts with `q`.
    /// `full(rank)` compares the whole suffix of `rank` with `q` when a sample cannot.
    pub(crate) fn narrow(&self, q: &[u8], full: impl Fn(u64) -> Ordering) -> (u64, u64, u64) {
        let (mut lo, mut hi) = (0usize, self.keys.len());
        let mut upper_hi = self.tok_cnt;
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            let order = self.cmp(mid, q).unwrap_or_else(|| full(mid as u64 * STEP));
            match order {
                Ordering::Less => lo = mid + 1,
                Ordering::Greater => {
                    hi = mid;
                    upper_hi = mid as u64 * STEP;
                }
                Ordering::Equal => hi = mid,
            }
        }
        // Sample `lo` is the first one not below `q` (or there is none): the answer lies after
        // the sample before it and no later than sample `lo`.
        let rank_hi = (lo as u64 * STEP).min(self.tok_cnt);
        let rank_lo = if lo == 0 {
            0
        } else {
            (lo as u64 - 1) * STEP + 1
        };
        (rank_lo, rank_hi, upper_hi)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Sorted byte strings standing in for suffixes, compared the way `Shard::cmp_rank` does.
    fn check(suffixes: &[Vec<u8>], q: &[u8]) {
        let full = |rank: u64| {
            let s = &suffixes[rank as usize];
            s[..s.len().min(q.len())].cmp(q)
        };
        let samples = RankSamples::build(suffixes.len() as u64, |r| {
            let s = &suffixes[r as usize];
            &s[..s.len().min(KEY)]
        });
        let (lo, hi, upper_hi) = samples.narrow(q, full);
        let first = suffixes
            .iter()
            .position(|s| s[..s.len().min(q.len())].cmp(q) != Ordering::Less);
        let first = first.unwrap_or(suffixes.len()) as u64;
        let past = suffixes
            .iter()
            .rposition(|s| s[..s.len().min(q.len())] == *q)
            .map_or(0, |i| i + 1) as u64;
        assert!(
            lo <= first && first <= hi && hi - lo < STEP,
            "q={q:?} lo={lo} hi={hi} first={first}"
        );
        assert!(
            upper_hi >= past && upper_hi >= first,
            "q={q:?} upper_hi={upper_hi} past={past}"
        );
    }

    #[test]
    fn narrows_to_the_gap_holding_the_lower_bound() {
        // Deterministic pseudo-random byte strings of lengths 1..=12 over a small alphabet, so
        // that 8-byte prefixes often tie and the full comparison is needed.
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let mut suffixes: Vec<Vec<u8>> = (0..1000)
            .map(|_| (0..1 + next() % 12).map(|_| (next() % 3) as u8).collect())
            .collect();
        suffixes.sort();
        for _ in 0..2000 {
            let q: Vec<u8> = (0..1 + next() % 12).map(|_| (next() % 3) as u8).collect();
            check(&suffixes, &q);
        }
        check(&suffixes, &[255]);
        check(&suffixes, &[0]);
        check(&suffixes[..1], &[1]);
    }
}
