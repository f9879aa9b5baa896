//! Seeded random projections (Johnson–Lindenstrauss) of gradients.
//!
//! The k × p matrix has i.i.d. N(0, 1/k) entries, row r drawn from SplitMix64 stream r of the
//! seed (so it is identical on every machine and thread count). When k ≥ p its p columns are
//! orthonormalised (modified Gram–Schmidt, twice): the projection is then an isometry of the
//! parameter space, so inner products and every method's scores are reproduced exactly (up to
//! rounding); when k < p, inner products are preserved in expectation (JL).

use rayon::prelude::*;

use super::error::{invalid, Result};
use super::grads::GradMatrix;
use super::linalg::dot;
use super::rng::SplitMix64;

#[derive(Clone, Debug)]
pub struct Projector {
    pub k: usize,
    pub p: usize,
    pub seed: u64,
    /// k × p, row-major.
    pub mat: Vec<f64>,
}

impl Projector {
    pub fn new(p: usize, k: usize, seed: u64) -> Result<Self> {
        if k == 0 || p == 0 {
            return Err(invalid(
                "projection dimension and parameter count must be ≥ 1",
            ));
        }
        if k.checked_mul(p).is_none_or(|v| v > 1 << 31) {
            return Err(invalid(format!(
                "projection {k} × {p} is too large to hold"
            )));
        }
        let s = 1.0 / (k as f64).sqrt();
        let mut mat = Vec::with_capacity(k * p);
        for r in 0..k {
            let mut g = SplitMix64::stream(seed, r as u64);
            mat.extend((0..p).map(|_| g.normal() * s));
        }
        if k >= p {
            // Orthonormalise the columns.
            for _pass in 0..2 {
                for c in 0..p {
                    for prev in 0..c {
                        let mut d = 0.0;
                        for r in 0..k {
                            d += mat[r * p + c] * mat[r * p + prev];
                        }
                        for r in 0..k {
                            mat[r * p + c] -= d * mat[r * p + prev];
                        }
                    }
                    let norm = (0..k)
                        .map(|r| mat[r * p + c] * mat[r * p + c])
                        .sum::<f64>()
                        .sqrt();
                    for r in 0..k {
                        mat[r * p + c] /= norm;
                    }
                }
            }
        }
        Ok(Self { k, p, seed, mat })
    }

    pub fn project(&self, v: &[f64]) -> Result<Vec<f64>> {
        if v.len() != self.p {
            return Err(invalid(format!(
                "vector of length {} for a projection from {}",
                v.len(),
                self.p
            )));
        }
        Ok((0..self.k)
            .map(|r| dot(&self.mat[r * self.p..(r + 1) * self.p], v))
            .collect())
    }

    /// Project every row (rows in parallel; each row's arithmetic is sequential and fixed).
    pub fn project_rows(&self, g: &GradMatrix) -> Result<GradMatrix> {
        if g.p != self.p {
            return Err(invalid(format!(
                "gradients of length {} for a projection from {}",
                g.p, self.p
            )));
        }
        let rows: Vec<Vec<f64>> = (0..g.n)
            .into_par_iter()
            .map(|i| {
                (0..self.k)
                    .map(|r| dot(&self.mat[r * self.p..(r + 1) * self.p], g.row(i)))
                    .collect()
            })
            .collect();
        Ok(GradMatrix {
            n: g.n,
            p: self.k,
            data: rows.concat(),
        })
    }
}
