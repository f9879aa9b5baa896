//! The n-gram queries of infini-gram's engine: `count`, `prob`, `ntd`, `infgram_prob`,
//! `infgram_ntd` and document retrieval. Results carry the reference's field names.

use std::collections::BTreeMap;

use serde::Serialize;

use super::error::{Error, Result};
use super::index::{Index, Shard};

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CountResult {
    pub count: u64,
    pub approx: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ProbResult {
    pub prompt_cnt: u64,
    pub cont_cnt: u64,
    /// `cont_cnt / prompt_cnt`, or -1 when the prompt does not occur.
    pub prob: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DistTokenResult {
    pub cont_cnt: u64,
    pub prob: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DistResult {
    pub prompt_cnt: u64,
    pub result_by_token_id: BTreeMap<u32, DistTokenResult>,
    pub approx: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct InfgramProbResult {
    pub prompt_cnt: u64,
    pub cont_cnt: u64,
    pub prob: f64,
    pub suffix_len: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct InfgramDistResult {
    pub prompt_cnt: u64,
    pub result_by_token_id: BTreeMap<u32, DistTokenResult>,
    pub approx: bool,
    pub suffix_len: u64,
}

/// A document (or the part of it around a match), as the reference returns it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DocResult {
    pub doc_ix: u64,
    pub doc_len: u64,
    pub disp_len: u64,
    /// Token offset of the match inside `token_ids`.
    pub needle_offset: u64,
    pub metadata: String,
    pub token_ids: Vec<u32>,
    pub blocked: bool,
}

/// The token following a match: a token, or the end of the shard's stream.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Next {
    Token(u32),
    EndOfShard,
}

impl Index {
    /// Occurrences of `tokens` in the corpus (`[]` counts every token and separator).
    pub fn count(&self, tokens: &[u32]) -> Result<CountResult> {
        Ok(CountResult {
            count: self.find(tokens)?.cnt,
            approx: false,
        })
    }

    /// `P(cont | prompt)` by exact counts.
    pub fn prob(&self, prompt: &[u32], cont: u32) -> Result<ProbResult> {
        let mut q = self.encode(prompt)?;
        let prompt_cnt = self.find_bytes(&q).cnt;
        let cont_bytes = self.encode(&[cont])?;
        if prompt_cnt == 0 {
            return Ok(ProbResult {
                prompt_cnt: 0,
                cont_cnt: 0,
                prob: -1.0,
            });
        }
        q.extend_from_slice(&cont_bytes);
        let cont_cnt = self.find_bytes(&q).cnt;
        Ok(ProbResult {
            prompt_cnt,
            cont_cnt,
            prob: cont_cnt as f64 / prompt_cnt as f64,
        })
    }

    /// The distribution of the token after `prompt`. Exact when the prompt occurs at most
    /// `max_support` times; otherwise sampled like the reference (every `unit`-th match,
    /// `unit` the smallest power of two with `count <= unit * max_support`).
    ///
    /// A match followed by a separator or by the end of its shard counts as `eos`.
    pub fn ntd(&self, prompt: &[u32], max_support: u64) -> Result<DistResult> {
        if max_support == 0 {
            return Err(Error::InvalidArgument(
                "max_support must be positive".into(),
            ));
        }
        let q = self.encode(prompt)?;
        let found = self.find_bytes(&q);
        if found.cnt == 0 {
            return Ok(DistResult {
                prompt_cnt: 0,
                result_by_token_id: BTreeMap::new(),
                approx: false,
            });
        }
        let mut unit: u64 = 1;
        while found.cnt > unit.saturating_mul(max_support) {
            unit <<= 1;
        }
        let mut freq = BTreeMap::new();
        for (shard, &(start, end)) in self.shards().iter().zip(&found.segment_by_shard) {
            if start < end {
                self.next_token_freq(
                    shard,
                    q.len() as u64,
                    start,
                    end,
                    unit,
                    None,
                    None,
                    &mut freq,
                );
            }
        }
        let prompt_cnt: u64 = freq.values().sum();
        let result_by_token_id = freq
            .into_iter()
            .map(|(t, c)| {
                (
                    t,
                    DistTokenResult {
                        cont_cnt: c,
                        prob: c as f64 / prompt_cnt as f64,
                    },
                )
            })
            .collect();
        Ok(DistResult {
            prompt_cnt,
            result_by_token_id,
            approx: unit > 1,
        })
    }

    /// The reference's divide and conquer over a segment whose next tokens are sorted:
    /// equal first and last next token means the whole range shares it. Unlike the
    /// reference, "end of shard" and "separator" stay distinct here until the end (they sort
    /// at opposite ends of a segment, and merging them into `eos` early miscounts).
    #[allow(clippy::too_many_arguments)]
    fn next_token_freq(
        &self,
        shard: &Shard,
        qlen: u64,
        start: u64,
        end: u64,
        unit: u64,
        first: Option<Next>,
        last: Option<Next>,
        out: &mut BTreeMap<u32, u64>,
    ) {
        let next = |rank: u64| {
            let ptr = shard.ptr(rank) + qlen;
            let b = shard.bytes_at(ptr, self.token_width().bytes());
            if b.len() < self.token_width().bytes() {
                Next::EndOfShard
            } else {
                Next::Token(self.token_width().read(b))
            }
        };
        let mut add = |n: Next, c: u64| {
            let t = match n {
                Next::Token(t) if t != self.token_width().separator() => t,
                _ => self.eos(),
            };
            *out.entry(t).or_insert(0) += c;
        };
        if end - start < 4 * unit {
            let mut rank = start;
            while rank < end {
                let whole = rank + unit <= end;
                let mid = if whole {
                    rank + unit / 2
                } else {
                    (rank + end) / 2
                };
                add(next(mid), if whole { unit } else { end - rank });
                rank += unit;
            }
            return;
        }
        let first = first.unwrap_or_else(|| next(start));
        let last = last.unwrap_or_else(|| next(end - 1));
        if first == last {
            add(first, end - start);
            return;
        }
        let mid = (start + end) / 2;
        self.next_token_freq(shard, qlen, start, mid, unit, Some(first), None, out);
        self.next_token_freq(shard, qlen, mid, end, unit, None, Some(last), out);
    }

    /// Length of the longest suffix of `prompt` that occurs in the corpus.
    pub(crate) fn infgram_suffix_len(&self, prompt: &[u32]) -> Result<usize> {
        let q = self.encode(prompt)?;
        let w = self.token_width().bytes();
        let occurs = |len: usize| self.find_bytes(&q[q.len() - len * w..]).cnt > 0;
        // Binary lifting then bisection, like the reference (counts only shrink as the
        // suffix grows, so this is the longest occurring suffix).
        let l = prompt.len();
        let (mut lo, mut hi) = (0usize, 1usize);
        loop {
            if hi > l {
                hi = l + 1;
                break;
            }
            if !occurs(hi) {
                break;
            }
            lo = hi;
            hi <<= 1;
        }
        while hi - lo > 1 {
            let mid = (lo + hi) / 2;
            if occurs(mid) {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        Ok(lo)
    }

    /// `prob` with the longest suffix of `prompt` that occurs (the ∞-gram).
    pub fn infgram_prob(&self, prompt: &[u32], cont: u32) -> Result<InfgramProbResult> {
        self.encode(&[cont])?;
        let suffix_len = self.infgram_suffix_len(prompt)?;
        let r = self.prob(&prompt[prompt.len() - suffix_len..], cont)?;
        Ok(InfgramProbResult {
            prompt_cnt: r.prompt_cnt,
            cont_cnt: r.cont_cnt,
            prob: r.prob,
            suffix_len: suffix_len as u64,
        })
    }

    /// `ntd` with the longest suffix of `prompt` that occurs.
    pub fn infgram_ntd(&self, prompt: &[u32], max_support: u64) -> Result<InfgramDistResult> {
        let suffix_len = self.infgram_suffix_len(prompt)?;
        let r = self.ntd(&prompt[prompt.len() - suffix_len..], max_support)?;
        Ok(InfgramDistResult {
            prompt_cnt: r.prompt_cnt,
            result_by_token_id: r.result_by_token_id,
            approx: r.approx,
            suffix_len: suffix_len as u64,
        })
    }

    /// Suffix pointers (byte offsets) of ranks `[start, end)` in shard `s`.
    pub fn ptrs(&self, s: usize, start: u64, end: u64) -> Result<Vec<u64>> {
        let shard = self.shard(s)?;
        if start > end || end > shard.tok_cnt {
            return Err(Error::RankOutOfRange {
                shard: s,
                rank: end,
                tok_cnt: shard.tok_cnt,
            });
        }
        Ok((start..end).map(|r| shard.ptr(r)).collect())
    }

    fn check_rank(&self, s: usize, rank: u64) -> Result<u64> {
        let shard = self.shard(s)?;
        if rank >= shard.tok_cnt {
            return Err(Error::RankOutOfRange {
                shard: s,
                rank,
                tok_cnt: shard.tok_cnt,
            });
        }
        Ok(shard.ptr(rank))
    }

    fn check_ptr(&self, s: usize, ptr: u64) -> Result<()> {
        let shard = self.shard(s)?;
        if ptr >= shard.ds_size() || !ptr.is_multiple_of(self.token_width().bytes() as u64) {
            return Err(Error::BadPointer {
                shard: s,
                ptr,
                ds_size: shard.ds_size(),
            });
        }
        Ok(())
    }

    /// The document holding the suffix of rank `rank`, up to `max_disp_len` tokens around it.
    pub fn get_doc_by_rank(&self, s: usize, rank: u64, max_disp_len: u64) -> Result<DocResult> {
        let ptr = self.check_rank(s, rank)?;
        self.get_doc_by_ptr(s, ptr, max_disp_len)
    }

    /// The document holding byte `ptr` of shard `s`, up to `max_disp_len` tokens around it
    /// (half before, half after).
    pub fn get_doc_by_ptr(&self, s: usize, ptr: u64, max_disp_len: u64) -> Result<DocResult> {
        self.check_ptr(s, ptr)?;
        self.doc_window(s, ptr, max_disp_len / 2, max_disp_len.div_ceil(2))
    }

    /// Like [`get_doc_by_rank`](Self::get_doc_by_rank) with `max_ctx_len` tokens of context
    /// either side of a `needle_len`-token match.
    pub fn get_doc_by_rank_2(
        &self,
        s: usize,
        rank: u64,
        needle_len: u64,
        max_ctx_len: u64,
    ) -> Result<DocResult> {
        let ptr = self.check_rank(s, rank)?;
        self.get_doc_by_ptr_2(s, ptr, needle_len, max_ctx_len)
    }

    pub fn get_doc_by_ptr_2(
        &self,
        s: usize,
        ptr: u64,
        needle_len: u64,
        max_ctx_len: u64,
    ) -> Result<DocResult> {
        self.check_ptr(s, ptr)?;
        self.doc_window(s, ptr, max_ctx_len, needle_len.saturating_add(max_ctx_len))
    }

    fn doc_window(&self, s: usize, ptr: u64, before: u64, after: u64) -> Result<DocResult> {
        let shard = self.shard(s)?;
        let w = self.token_width().bytes() as u64;
        let local = shard.doc_of(ptr);
        let doc_start = shard.doc_ptr(local) + w;
        let doc_end = shard.doc_ptr(local + 1);
        let disp_start = doc_start.max(ptr.saturating_sub(before.saturating_mul(w)));
        let disp_end = doc_end.min(ptr.saturating_add(after.saturating_mul(w)));
        // A pointer at the separator itself lies just before the document: offset 0 (the
        // reference's unsigned subtraction wraps around here).
        let needle_offset = ptr.saturating_sub(disp_start) / w;
        Ok(self.doc_result(
            shard,
            local,
            disp_start,
            disp_end.max(disp_start),
            needle_offset,
        ))
    }

    /// Document `doc_ix` (numbered across shards), its first `max_disp_len` tokens.
    pub fn get_doc_by_ix(&self, doc_ix: u64, max_disp_len: u64) -> Result<DocResult> {
        let mut local = doc_ix;
        for shard in self.shards() {
            if local < shard.doc_cnt {
                let w = self.token_width().bytes() as u64;
                let start = shard.doc_ptr(local) + w;
                let end = shard
                    .doc_ptr(local + 1)
                    .min(start.saturating_add(max_disp_len.saturating_mul(w)));
                return Ok(self.doc_result(shard, local, start, end, 0));
            }
            local -= shard.doc_cnt;
        }
        Err(Error::DocOutOfRange {
            doc_ix,
            doc_cnt: self.total_doc_cnt(),
        })
    }

    fn doc_result(
        &self,
        shard: &Shard,
        local: u64,
        disp_start: u64,
        disp_end: u64,
        needle_offset: u64,
    ) -> DocResult {
        let w = self.token_width().bytes() as u64;
        let doc_len = (shard.doc_ptr(local + 1) - shard.doc_ptr(local) - w) / w;
        let bytes = shard.bytes_at(disp_start, (disp_end - disp_start) as usize);
        let token_ids = bytes
            .chunks_exact(w as usize)
            .map(|c| self.token_width().read(c))
            .collect();
        DocResult {
            doc_ix: shard.doc_base + local,
            doc_len,
            disp_len: (disp_end - disp_start) / w,
            needle_offset,
            metadata: shard.metadata(local),
            token_ids,
            blocked: false,
        }
    }
}
