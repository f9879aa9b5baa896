//! Minimal writer/reader of NumPy `.npy` files (format 1.0, little-endian f64, C order).

use std::io::Write;

use super::error::{InfluenceError, Result};

/// Write a 2-D f64 array (rows × cols) as `.npy`.
pub fn write_f64_2d(path: &str, rows: usize, cols: usize, data: &[f64]) -> Result<()> {
    let io = |source| InfluenceError::Io {
        path: path.into(),
        source,
    };
    if data.len() != rows * cols {
        return Err(super::error::invalid(
            "npy: data length does not match the shape",
        ));
    }
    let mut header =
        format!("{{'descr': '<f8', 'fortran_order': False, 'shape': ({rows}, {cols}), }}");
    // magic(6) + version(2) + header length(2) + header + '\n' must be a multiple of 64.
    let unpadded = 10 + header.len() + 1;
    header.push_str(&" ".repeat((64 - unpadded % 64) % 64));
    header.push('\n');
    let mut out = Vec::with_capacity(10 + header.len() + data.len() * 8);
    out.extend_from_slice(b"\x93NUMPY\x01\x00");
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    for v in data {
        out.extend_from_slice(&v.to_le_bytes());
    }
    std::fs::File::create(path)
        .and_then(|mut f| f.write_all(&out))
        .map_err(io)
}

/// Read a 2-D `<f8` C-order array written by [`write_f64_2d`] (or NumPy).
pub fn read_f64_2d(path: &str) -> Result<(usize, usize, Vec<f64>)> {
    let bad = |m: &str| InfluenceError::Index {
        path: path.into(),
        message: format!("npy: {m}"),
    };
    let bytes = std::fs::read(path).map_err(|source| InfluenceError::Io {
        path: path.into(),
        source,
    })?;
    if bytes.len() < 10 || &bytes[..6] != b"\x93NUMPY" {
        return Err(bad("not an npy file"));
    }
    let hl = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
    let header = std::str::from_utf8(
        bytes
            .get(10..10 + hl)
            .ok_or_else(|| bad("truncated header"))?,
    )
    .map_err(|_| bad("header is not UTF-8"))?;
    if !header.contains("'<f8'") || header.contains("'fortran_order': True") {
        return Err(bad("only little-endian f64 in C order is supported"));
    }
    let shape = header
        .split("'shape': (")
        .nth(1)
        .and_then(|s| s.split(')').next())
        .ok_or_else(|| bad("no shape"))?;
    let dims: Vec<usize> = shape
        .split(',')
        .filter(|s| !s.trim().is_empty())
        .map(|s| s.trim().parse().map_err(|_| bad("bad shape")))
        .collect::<Result<_>>()?;
    let (r, c) = match dims.as_slice() {
        [r, c] => (*r, *c),
        [r] => (*r, 1),
        _ => return Err(bad("expected a 1-D or 2-D array")),
    };
    let body = &bytes[10 + hl..];
    if body.len() != r * c * 8 {
        return Err(bad("data length does not match the shape"));
    }
    let data = body
        .chunks_exact(8)
        .map(|b| f64::from_le_bytes(b.try_into().unwrap_or([0; 8])))
        .collect();
    Ok((r, c, data))
}
