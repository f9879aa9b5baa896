//! From the maximal spans of an output to per-contribution shares (`Perbill` parts).
//!
//! # The formula
//!
//! Let the corpus hold `N` tokens (separators included) and token `t` occur `n(t)` times.
//! A token's *surprisal* is `s(t) = log2(N / n(t))` bits, computed in fixed point with 32
//! fractional bits by an integer-only algorithm (so every machine gets the same bits).
//!
//! For each maximal span `σ` of the output (see [`Index::attribute`]):
//!
//! - its weight is `W(σ) = Σ s(t)` over the span's tokens, i.e. `-log2` of its unigram
//!   probability: longer and rarer spans weigh more, the ranking OLMoTrace uses;
//! - `C(σ)` is the set of distinct contributions with a document containing the span;
//! - each contribution `c ∈ C(σ)` is credited `floor(W(σ) / |C(σ)|)`.
//!
//! A contribution's credit is the sum over spans. Shares are the credits scaled to
//! 1,000,000,000 by largest remainder: `floor(credit · 10^9 / total)` each, then one more
//! part to the contributions with the largest remainders, ties to the smaller contribution
//! (ordered by datanet, version, hash), until the parts sum to exactly 10^9. When nothing
//! matches (no span), there are no shares and they sum to 0.
//!
//! Everything after the spans is integer arithmetic on sums, which do not depend on the
//! order of shards, documents or threads.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::attribute::{AttributeOptions, AttributionResult};
use super::contribution::{parse_contribution, Contribution};
use super::error::{Error, Result};
use super::index::Index;

/// Parts of a whole, as `sp_runtime::Perbill` counts them.
pub const PERBILL: u32 = 1_000_000_000;

/// One contribution's share.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Share {
    #[serde(flatten)]
    pub contribution: Contribution,
    /// Credit in 2^-32 bits.
    pub credit: u128,
    /// Parts per billion; all shares sum to exactly [`PERBILL`].
    pub perbill: u32,
}

/// Shares of an output, sorted by contribution.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Shares {
    pub total_credit: u128,
    pub shares: Vec<Share>,
}

impl Shares {
    /// Sum of the parts: [`PERBILL`], or 0 when nothing matched.
    pub fn total_perbill(&self) -> u64 {
        self.shares.iter().map(|s| s.perbill as u64).sum()
    }
}

/// `log2(x)` in fixed point with 32 fractional bits, `x >= 1`, integer arithmetic only.
pub fn log2_fixed(x: u64) -> u64 {
    let int = 63 - x.max(1).leading_zeros() as u64;
    // y = x / 2^int in [1, 2), as a fraction of 2^63.
    let mut y = (x.max(1) as u128) << (63 - int);
    let mut frac = 0u64;
    for bit in (0..32).rev() {
        y = (y * y) >> 63;
        if y >= 1u128 << 64 {
            y >>= 1;
            frac |= 1 << bit;
        }
    }
    (int << 32) | frac
}

impl Index {
    /// Surprisal of `token` in 2^-32 bits (see the [module docs](self)).
    pub fn surprisal(&self, token: u32) -> u64 {
        let u = self.unigram();
        let n = u.counts.get(&token).copied().unwrap_or(0).max(1);
        log2_fixed(u.total).saturating_sub(log2_fixed(n))
    }

    /// The contribution of global document `doc_ix`.
    pub fn contribution(&self, doc_ix: u64) -> Result<Contribution> {
        let doc = self.get_doc_by_ix(doc_ix, 0)?;
        parse_contribution(&doc.metadata).ok_or(Error::MissingContribution { doc_ix })
    }

    /// Shares of the spans of `attribution`, which was computed for `input` on this index.
    pub fn shares(&self, input: &[u32], attribution: &AttributionResult) -> Result<Shares> {
        let mut credit: BTreeMap<Contribution, u128> = BTreeMap::new();
        for span in &attribution.spans {
            let tokens = input.get(span.l..span.r).ok_or_else(|| {
                Error::InvalidArgument(format!("span {}..{} is outside the input", span.l, span.r))
            })?;
            let weight: u128 = tokens.iter().map(|&t| self.surprisal(t) as u128).sum();
            let mut owners = BTreeSet::new();
            for doc in &span.docs {
                let shard = self.shard(doc.s)?;
                let doc_ix = shard.doc_base + shard.doc_of(doc.ptr);
                owners.insert(self.contribution(doc_ix)?);
            }
            if owners.is_empty() {
                continue;
            }
            let each = weight / owners.len() as u128;
            for c in owners {
                *credit.entry(c).or_insert(0) += each;
            }
        }
        Ok(apportion(credit))
    }

    /// Attributes `input` and returns its shares: the call the node and the serving layer make.
    pub fn attribute_shares(
        &self,
        input: &[u32],
        opts: &AttributeOptions,
    ) -> Result<(AttributionResult, Shares)> {
        let attribution = self.attribute(input, opts)?;
        let shares = self.shares(input, &attribution)?;
        Ok((attribution, shares))
    }
}

/// Largest-remainder rounding of `credit` to parts summing to [`PERBILL`].
pub fn apportion(credit: BTreeMap<Contribution, u128>) -> Shares {
    let total: u128 = credit.values().sum();
    if total == 0 {
        return Shares::default();
    }
    let mut shares = Vec::with_capacity(credit.len());
    let mut rems = Vec::with_capacity(credit.len());
    let mut given: u128 = 0;
    for (i, (contribution, c)) in credit.into_iter().enumerate() {
        let scaled = c * PERBILL as u128;
        let parts = scaled / total;
        given += parts;
        rems.push((scaled % total, i));
        shares.push(Share {
            contribution,
            credit: c,
            perbill: parts as u32,
        });
    }
    // Largest remainder first; among equals, the smaller contribution (lower index).
    rems.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    let missing = (PERBILL as u128 - given) as usize;
    for &(_, i) in rems.iter().take(missing) {
        shares[i].perbill += 1;
    }
    Shares {
        total_credit: total,
        shares,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log2_fixed_is_close_to_float() {
        for x in [1u64, 2, 3, 5, 10, 1000, 65535, 1 << 40, u64::MAX] {
            let got = log2_fixed(x) as f64 / 2f64.powi(32);
            assert!((got - (x as f64).log2()).abs() < 1e-8, "x={x} got={got}");
        }
        assert_eq!(log2_fixed(1), 0);
        assert_eq!(log2_fixed(1 << 20), 20 << 32);
    }

    fn contribution(i: u8) -> Contribution {
        Contribution {
            datanet_id: 1,
            version: 1,
            content_hash: super::super::ContentHash([i; 32]),
        }
    }

    #[test]
    fn apportion_sums_to_perbill_and_breaks_ties_by_key() {
        let credit: BTreeMap<_, _> = (0..3).map(|i| (contribution(i), 1u128)).collect();
        let s = apportion(credit);
        assert_eq!(s.total_perbill(), PERBILL as u64);
        let parts: Vec<_> = s.shares.iter().map(|s| s.perbill).collect();
        assert_eq!(parts, vec![333_333_334, 333_333_333, 333_333_333]);
        assert_eq!(apportion(BTreeMap::new()).total_perbill(), 0);
    }
}
