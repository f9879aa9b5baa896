//! The on-disk layout of an infini-gram index (the reference is PyPI `infini-gram` 2.6.0).
//!
//! A shard `N` is a set of files in one directory:
//!
//! - `tokenized.N`: the token stream, little-endian, `width` bytes a token. Every document is
//!   a separator (all ones of the token width) followed by its tokens.
//! - `offset.N`: one little-endian `u64` per document, the byte offset of its separator.
//! - `table.N`: the suffix array. Entry `r` is the byte offset of the `r`-th smallest suffix,
//!   little-endian in [`pointer_size`] bytes. Suffixes are compared as *byte strings* of the
//!   little-endian stream (this is how the reference compares them), so a token orders as its
//!   byte-swapped value, not its numeric one; a suffix orders before every longer suffix it is a
//!   prefix of.
//! - `metadata.N` / `metaoff.N` (optional): one line of JSON per document and the `u64` byte
//!   offsets of those lines.
//! - `unigram.N` (optional): `token count` lines, the separator included.
//!
//! Shards are ordered by the string order of their file names, as the reference does (so
//! `tokenized.10` comes before `tokenized.2`); global document numbers follow that order.

use std::fmt;

/// Token width of an index: 2 bytes (`u16`) or 4 bytes (`u32`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TokenWidth {
    U16,
    U32,
}

impl TokenWidth {
    /// From a width in bytes (2 or 4).
    pub fn from_bytes(bytes: usize) -> Option<TokenWidth> {
        match bytes {
            2 => Some(TokenWidth::U16),
            4 => Some(TokenWidth::U32),
            _ => None,
        }
    }

    /// Width in bytes.
    pub fn bytes(self) -> usize {
        match self {
            TokenWidth::U16 => 2,
            TokenWidth::U32 => 4,
        }
    }

    /// The document separator (all ones), which is also the largest value a query may hold.
    pub fn separator(self) -> u32 {
        match self {
            TokenWidth::U16 => u16::MAX as u32,
            TokenWidth::U32 => u32::MAX,
        }
    }

    /// Reads the token starting at `bytes[0]` (which must hold at least `self.bytes()`).
    #[inline]
    pub(crate) fn read(self, bytes: &[u8]) -> u32 {
        match self {
            TokenWidth::U16 => u16::from_le_bytes([bytes[0], bytes[1]]) as u32,
            TokenWidth::U32 => u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]),
        }
    }

    /// Appends `token` as little-endian bytes; the caller has checked it fits.
    #[inline]
    pub(crate) fn write(self, token: u32, out: &mut Vec<u8>) {
        match self {
            TokenWidth::U16 => out.extend_from_slice(&(token as u16).to_le_bytes()),
            TokenWidth::U32 => out.extend_from_slice(&token.to_le_bytes()),
        }
    }
}

impl fmt::Display for TokenWidth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TokenWidth::U16 => f.write_str("u16"),
            TokenWidth::U32 => f.write_str("u32"),
        }
    }
}

/// Bytes per suffix pointer for a stream of `ds_size` bytes: the reference's
/// `ceil(log2(ds_size) / 8)`, i.e. the smallest `k` with `ds_size <= 256^k` (at least 1).
pub fn pointer_size(ds_size: u64) -> usize {
    let mut k = 1;
    while k < 8 && ds_size > 1u64 << (8 * k) {
        k += 1;
    }
    k
}

pub(crate) fn file_name(kind: &str, shard: &str) -> String {
    format!("{kind}.{shard}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pointer_size_matches_reference_formula() {
        for n in [
            2u64,
            3,
            255,
            256,
            257,
            65535,
            65536,
            65537,
            1 << 24,
            (1 << 24) + 1,
            1 << 40,
        ] {
            let reference = ((n as f64).log2() / 8.0).ceil() as usize;
            assert_eq!(pointer_size(n), reference.max(1), "ds_size {n}");
        }
    }
}
