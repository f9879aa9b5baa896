//! Aggregation of example scores into integer shares per datanet contribution.
//!
//! Rules (deterministic and platform-independent once the f64 scores are given):
//! 1. **Quantisation.** Let `e = ⌈log2 max|sᵢ|⌉`. Every score becomes the integer
//!    `qᵢ = round_half_away(sᵢ · 2^(40−e))` (|qᵢ| ≤ 2^40; the scale is a power of two, so the
//!    product is exact and only the rounding quantises).
//! 2. **Aggregation.** A contribution's total is the exact `i128` sum of its examples' `qᵢ`
//!    (integer addition: order and thread count cannot change it).
//! 3. **Split.** Contributions with a positive total share `PARTS = 1,000,000,000` in
//!    proportion to their totals; those with a negative total share another `PARTS` in proportion
//!    to |total| (the harm report: the signal for penalising harmful data); zero totals get
//!    nothing. Each side uses the largest-remainder method: `⌊q_c·PARTS/T⌋` first, then the
//!    leftover parts go one each to the largest remainders `q_c·PARTS mod T`, ties broken by the
//!    smaller contribution id. Each non-empty side sums to exactly `PARTS`.

use std::collections::BTreeMap;

use super::error::{invalid, Result};

/// Parts per whole (a `Perbill`).
pub const PARTS: u64 = 1_000_000_000;
/// Bits of the quantised scores.
pub const QUANT_BITS: i32 = 40;

/// Shares of one attribution (one test example or a summed set of them).
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct ContributionShares {
    /// (contribution id, parts) of contributions with positive influence, by parts descending
    /// then id; parts sum to exactly [`PARTS`] unless empty.
    pub positive: Vec<(u64, u64)>,
    /// (contribution id, parts) of contributions with negative influence (share of the total
    /// harm), same order and sum rule.
    pub negative: Vec<(u64, u64)>,
    /// Quantisation exponent: scores were multiplied by 2^scale_exp.
    pub scale_exp: i32,
    /// Sum of positive / negative contribution totals, dequantised.
    pub positive_total: f64,
    pub negative_total: f64,
}

/// Quantise scores (rule 1). Returns the integers and the exponent.
pub fn quantise(scores: &[f64]) -> Result<(Vec<i64>, i32)> {
    if let Some(i) = scores.iter().position(|s| !s.is_finite()) {
        return Err(invalid(format!("score {i} is not finite")));
    }
    let max = scores.iter().fold(0.0f64, |m, s| m.max(s.abs()));
    if max == 0.0 {
        return Ok((vec![0; scores.len()], 0));
    }
    let e = max.log2().ceil() as i32;
    let scale_exp = QUANT_BITS - e;
    let scale = 2f64.powi(scale_exp);
    Ok((
        scores.iter().map(|s| (s * scale).round() as i64).collect(),
        scale_exp,
    ))
}

fn largest_remainder(items: &[(u64, u128)]) -> Vec<(u64, u64)> {
    let total: u128 = items.iter().map(|(_, q)| q).sum();
    if total == 0 {
        return Vec::new();
    }
    let parts = PARTS as u128;
    let mut base: Vec<(u64, u64, u128)> = items
        .iter()
        .map(|&(id, q)| (id, (q * parts / total) as u64, q * parts % total))
        .collect();
    let assigned: u64 = base.iter().map(|b| b.1).sum();
    let leftover = (PARTS - assigned) as usize;
    let mut order: Vec<usize> = (0..base.len()).collect();
    order.sort_by(|&a, &b| base[b].2.cmp(&base[a].2).then(base[a].0.cmp(&base[b].0)));
    for &i in order.iter().take(leftover) {
        base[i].1 += 1;
    }
    let mut out: Vec<(u64, u64)> = base
        .into_iter()
        .filter(|b| b.1 > 0)
        .map(|b| (b.0, b.1))
        .collect();
    out.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    out
}

/// Shares per contribution from per-example scores (rules 1–3).
pub fn contribution_shares(scores: &[f64], contributions: &[u64]) -> Result<ContributionShares> {
    if scores.len() != contributions.len() {
        return Err(invalid(format!(
            "{} scores for {} contribution ids",
            scores.len(),
            contributions.len()
        )));
    }
    let (q, scale_exp) = quantise(scores)?;
    let mut totals: BTreeMap<u64, i128> = BTreeMap::new();
    for (&c, &qi) in contributions.iter().zip(&q) {
        *totals.entry(c).or_insert(0) += qi as i128;
    }
    let pos: Vec<(u64, u128)> = totals
        .iter()
        .filter(|(_, &t)| t > 0)
        .map(|(&c, &t)| (c, t as u128))
        .collect();
    let neg: Vec<(u64, u128)> = totals
        .iter()
        .filter(|(_, &t)| t < 0)
        .map(|(&c, &t)| (c, t.unsigned_abs()))
        .collect();
    let unscale = 2f64.powi(-scale_exp);
    Ok(ContributionShares {
        positive_total: pos.iter().map(|p| p.1 as f64).sum::<f64>() * unscale,
        negative_total: -neg.iter().map(|p| p.1 as f64).sum::<f64>() * unscale,
        positive: largest_remainder(&pos),
        negative: largest_remainder(&neg),
        scale_exp,
    })
}
