//! Longest matches of an output in the corpus: `creativity` and `attribute` (OLMoTrace's
//! primitive: maximal spans of the output that occur verbatim in the corpus).

use std::collections::HashSet;

use serde::Serialize;

use super::error::{Error, Result};
use super::index::{run_len, FindResult, Index, Shard};

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CreativityResult {
    /// `rs[l]`: the end of the longest match starting at `l` (`l + length`).
    pub rs: Vec<usize>,
}

/// One occurrence of a span: shard and byte offset of the suffix.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct AttributionDoc {
    pub s: usize,
    pub ptr: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AttributionSpan {
    /// The span is `input[l..r]`.
    pub l: usize,
    pub r: usize,
    pub length: usize,
    /// Occurrences in the corpus.
    pub count: u64,
    /// Sum of the span's unigram log-probabilities (natural log; -10000 for a token that
    /// does not occur).
    pub unigram_logprob_sum: f64,
    /// Every occurrence, shard by shard, in suffix order.
    pub docs: Vec<AttributionDoc>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AttributionResult {
    pub spans: Vec<AttributionSpan>,
}

/// Parameters of [`Index::attribute`], with the reference's meaning.
#[derive(Clone, Debug, Default)]
pub struct AttributeOptions {
    /// A match is cut right after the first delimiter token it contains (a delimiter in its
    /// last position does not cut).
    pub delim_ids: Vec<u32>,
    /// Shorter spans are dropped.
    pub min_len: usize,
    /// Spans occurring more often than this are dropped (too common to attribute).
    pub max_cnt: u64,
    /// Only spans that start at, and are followed by, a beginning-of-word token.
    pub enforce_bow: bool,
    pub bow_ids: HashSet<u32>,
}

impl Index {
    /// For each position of `input`, the end of the longest match in the corpus starting
    /// there.
    pub fn creativity(&self, input: &[u32]) -> Result<CreativityResult> {
        let q = self.encode(input)?;
        let w = self.token_width().bytes();
        let rs = (0..input.len())
            .map(|l| l + self.longest_prefix_len(&q[l * w..]))
            .collect();
        Ok(CreativityResult { rs })
    }

    /// Tokens of the longest prefix of `q` (bytes) that occurs in some shard.
    ///
    /// The longest match is next to the insertion point of `q` in the suffix order, on one
    /// side or the other. (The reference skips both sides when the insertion point is rank
    /// 0, and then misses a match with the smallest suffix.)
    fn longest_prefix_len(&self, q: &[u8]) -> usize {
        let mut best = 0;
        for shard in self.shards() {
            let (start, _) = shard.lower_bound(q);
            best = best.max(self.lcp_around(shard, start, q));
            if best * self.token_width().bytes() == q.len() {
                break;
            }
        }
        best
    }

    /// Tokens shared by `q` and the longer of the suffixes at ranks `start - 1` and `start`.
    fn lcp_around(&self, shard: &Shard, start: u64, q: &[u8]) -> usize {
        let w = self.token_width().bytes();
        let lcp_at = |rank: u64| {
            let s = shard.bytes_at(shard.ptr(rank), q.len());
            s.iter().zip(q).take_while(|(a, b)| a == b).count() / w
        };
        let mut best = 0;
        if start < shard.tok_cnt {
            best = lcp_at(start);
        }
        if start > 0 {
            best = best.max(lcp_at(start - 1));
        }
        best
    }

    /// The ranks of `span` in `shard`, given the insertion point `start` of a query that
    /// `span` is a prefix of: they form a run through `start - 1` or `start`, found by
    /// galloping out from there. `None` when there are more than `cap`.
    fn span_segment(shard: &Shard, start: u64, span: &[u8], cap: u64) -> Option<(u64, u64)> {
        let matches = |rank: u64| shard.bytes_at(shard.ptr(rank), span.len()) == span;
        let right = run_len(shard.tok_cnt - start, cap, |i| matches(start + i))?;
        let left = run_len(start, cap.saturating_sub(right), |i| matches(start - 1 - i))?;
        Some((start - left, start + right))
    }

    /// The maximal spans of `input` that occur in the corpus, with their occurrences.
    ///
    /// For each start `l` the longest match is taken (cut at a delimiter, backed off to a
    /// word boundary if asked); it is dropped if shorter than `min_len` or more frequent than
    /// `max_cnt`, and kept only if it ends after every span kept before it.
    pub fn attribute(&self, input: &[u32], opts: &AttributeOptions) -> Result<AttributionResult> {
        if opts.max_cnt == 0 {
            return Err(Error::InvalidArgument("max_cnt must be positive".into()));
        }
        let q = self.encode(input)?;
        self.encode(&opts.delim_ids)?;
        let w = self.token_width().bytes();
        let mut found: Vec<(usize, usize, FindResult)> = Vec::new();
        let mut last_r = 0;
        let mut starts = vec![0u64; self.num_shards()];
        for l in 0..input.len() {
            if opts.enforce_bow && !opts.bow_ids.contains(&input[l]) {
                continue;
            }
            let rest_bytes = &q[l * w..];
            let mut len = 0;
            for (shard, start) in self.shards().iter().zip(starts.iter_mut()) {
                *start = shard.lower_bound(rest_bytes).0;
                len = len.max(self.lcp_around(shard, *start, rest_bytes));
            }
            let rest = &input[l..];
            if !opts.delim_ids.is_empty() {
                if let Some(pos) = rest[..len.saturating_sub(1)]
                    .iter()
                    .position(|t| opts.delim_ids.contains(t))
                {
                    len = pos + 1;
                }
            }
            if opts.enforce_bow {
                while len > 0 && len != rest.len() && !opts.bow_ids.contains(&rest[len]) {
                    len -= 1;
                }
            }
            let r = l + len;
            // Maximal spans only: one ending no later than a kept span is inside it.
            if len < opts.min_len || r <= last_r {
                continue;
            }
            let span = &q[l * w..r * w];
            let f = if len == 0 {
                self.find_bytes(span)
            } else {
                // Every shard's matches of the span surround its insertion point of `rest`.
                let mut segment_by_shard = Vec::with_capacity(self.num_shards());
                let mut cnt = 0u64;
                for (shard, &start) in self.shards().iter().zip(&starts) {
                    match Self::span_segment(shard, start, span, opts.max_cnt - cnt) {
                        Some((a, b)) => {
                            cnt += b - a;
                            segment_by_shard.push((a, b));
                        }
                        None => {
                            cnt = u64::MAX;
                            break;
                        }
                    }
                }
                FindResult {
                    cnt,
                    segment_by_shard,
                }
            };
            if f.cnt > opts.max_cnt {
                continue;
            }
            last_r = r;
            found.push((l, r, f));
        }
        let unigram = self.unigram();
        let total = (unigram.total as f64).ln();
        let mut spans = Vec::with_capacity(found.len());
        for (l, r, f) in found {
            let mut docs = Vec::with_capacity(f.cnt as usize);
            for (s, &(a, b)) in f.segment_by_shard.iter().enumerate() {
                for rank in a..b {
                    docs.push(AttributionDoc {
                        s,
                        ptr: self.shards()[s].ptr(rank),
                    });
                }
            }
            let unigram_logprob_sum = input[l..r]
                .iter()
                .map(|t| match unigram.counts.get(t) {
                    Some(&c) if c > 0 => (c as f64).ln() - total,
                    _ => -10000.0,
                })
                .fold(0.0, |acc, x| acc + x);
            spans.push(AttributionSpan {
                l,
                r,
                length: r - l,
                count: f.cnt,
                unigram_logprob_sum,
                docs,
            });
        }
        Ok(AttributionResult { spans })
    }
}

#[cfg(test)]
mod tests {
    use super::super::index::run_len;

    #[test]
    fn run_len_counts_a_true_prefix() {
        for avail in 0..40u64 {
            for k in 0..=avail {
                for cap in 0..45u64 {
                    let got = run_len(avail, cap, |i| i < k);
                    assert_eq!(
                        got,
                        if k > cap { None } else { Some(k) },
                        "avail {avail} k {k} cap {cap}"
                    );
                }
            }
        }
    }
}
