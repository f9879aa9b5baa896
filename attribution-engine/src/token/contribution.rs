//! Datanet contributions: what a document of the index stands for.
//!
//! Each document is one contribution, recorded in the document's metadata line (the
//! infini-gram `metadata.N` file) as `{"contribution": {...}}`, so infini-gram's own engine
//! returns it too.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A datanet contribution: datanet id, snapshot version and content hash.
///
/// Ordered by (datanet, version, hash); shares are listed and their rounding ties broken in
/// this order, so results do not depend on where a document sits in the index.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Contribution {
    pub datanet_id: u64,
    pub version: u32,
    pub content_hash: ContentHash,
}

/// A 32-byte content hash, written as `0x` and 64 hex digits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct ContentHash(pub [u8; 32]);

impl fmt::Display for ContentHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("0x")?;
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl std::str::FromStr for ContentHash {
    type Err = String;

    fn from_str(s: &str) -> Result<ContentHash, String> {
        let hex = s.strip_prefix("0x").unwrap_or(s);
        if hex.len() != 64 || !hex.is_ascii() {
            return Err(format!("content hash must be 64 hex digits, got {s:?}"));
        }
        let mut out = [0u8; 32];
        for (i, byte) in out.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16)
                .map_err(|_| format!("content hash must be 64 hex digits, got {s:?}"))?;
        }
        Ok(ContentHash(out))
    }
}

impl Serialize for ContentHash {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ContentHash {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<ContentHash, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// The metadata line stored for a document.
pub(crate) fn metadata_line(
    contribution: Option<&Contribution>,
    extra: Option<&serde_json::Value>,
) -> String {
    let mut obj = serde_json::Map::new();
    if let Some(c) = contribution {
        obj.insert(
            "contribution".into(),
            serde_json::to_value(c).expect("plain struct"),
        );
    }
    if let Some(extra) = extra {
        obj.insert("metadata".into(), extra.clone());
    }
    serde_json::Value::Object(obj).to_string()
}

/// Reads the contribution back from a metadata line; `None` if it has none.
pub(crate) fn parse_contribution(metadata: &str) -> Option<Contribution> {
    #[derive(Deserialize)]
    struct Line {
        contribution: Option<Contribution>,
    }
    serde_json::from_str::<Line>(metadata.trim_end())
        .ok()?
        .contribution
}
