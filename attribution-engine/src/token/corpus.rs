//! Reading a corpus: JSON lines, one document each, with token ids or with text for a
//! `tokenizer.json`.
//!
//! A line is `{"token_ids": [..]}` or `{"text": ".."}`, optionally with
//! `"contribution": {"datanet_id": 1, "version": 2, "content_hash": "0x.."}` and free-form
//! `"metadata"`. Blank lines are skipped.

use std::io::BufRead;
use std::path::Path;

use serde::Deserialize;

use super::build::Document;
use super::contribution::Contribution;
use super::error::{Error, Result};

/// A `tokenizer.json` (Hugging Face `tokenizers` format).
pub struct Tokenizer(tokenizers::Tokenizer);

impl Tokenizer {
    pub fn from_file(path: impl AsRef<Path>) -> Result<Tokenizer> {
        let path = path.as_ref();
        tokenizers::Tokenizer::from_file(path)
            .map(Tokenizer)
            .map_err(|e| Error::Tokenizer(format!("{}: {e}", path.display())))
    }

    /// A tokenizer from the bytes of a `tokenizer.json` (e.g. read once to check their hash).
    pub fn from_bytes(bytes: &[u8]) -> Result<Tokenizer> {
        tokenizers::Tokenizer::from_bytes(bytes)
            .map(Tokenizer)
            .map_err(|e| Error::Tokenizer(e.to_string()))
    }

    /// The `tokenizer.json` of a word-level tokenizer over `words` (split at whitespace and
    /// punctuation; a word's id is its position in `words` plus one, 0 is unknown): a small
    /// real tokenizer for tests and examples.
    pub fn word_level_json<S: AsRef<str>>(words: &[S]) -> Vec<u8> {
        let vocab: serde_json::Map<String, serde_json::Value> = std::iter::once(("[UNK]".to_string(), 0.into()))
            .chain(words.iter().enumerate().map(|(i, w)| (w.as_ref().to_string(), (i + 1).into())))
            .collect();
        let json = serde_json::json!({
            "version": "1.0", "truncation": null, "padding": null, "added_tokens": [],
            "normalizer": null, "pre_tokenizer": {"type": "Whitespace"}, "post_processor": null,
            "decoder": null, "model": {"type": "WordLevel", "vocab": vocab, "unk_token": "[UNK]"}
        });
        serde_json::to_vec(&json).expect("a JSON value serialises")
    }

    /// The distinct space-separated words of `texts`, sorted: a vocabulary for
    /// [`Tokenizer::word_level_json`].
    pub fn word_vocab(texts: &[&str]) -> Vec<String> {
        let mut words: Vec<String> = texts.iter().flat_map(|t| t.split(' ')).map(String::from).collect();
        words.sort();
        words.dedup();
        words
    }

    /// Number of token ids, added tokens included.
    pub fn vocab_size(&self) -> usize {
        self.0.get_vocab_size(true)
    }

    /// Token ids of `text`, without special tokens.
    pub fn encode(&self, text: &str) -> Result<Vec<u32>> {
        let enc = self
            .0
            .encode(text, false)
            .map_err(|e| Error::Tokenizer(e.to_string()))?;
        Ok(enc.get_ids().to_vec())
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Line {
    token_ids: Option<Vec<u64>>,
    text: Option<String>,
    contribution: Option<Contribution>,
    metadata: Option<serde_json::Value>,
}

/// The documents of a JSON-lines corpus, lazily, each line checked.
pub fn read_jsonl<'a, R: BufRead + 'a>(
    reader: R,
    tokenizer: Option<&'a Tokenizer>,
) -> impl Iterator<Item = Result<Document>> + 'a {
    reader.lines().enumerate().filter_map(move |(i, line)| {
        let n = i + 1;
        let line = match line {
            Ok(line) => line,
            Err(e) => {
                return Some(Err(Error::BadInput {
                    line: n,
                    reason: e.to_string(),
                }))
            }
        };
        if line.trim().is_empty() {
            return None;
        }
        Some(parse_line(&line, n, tokenizer))
    })
}

fn parse_line(line: &str, n: usize, tokenizer: Option<&Tokenizer>) -> Result<Document> {
    let bad = |reason: String| Error::BadInput { line: n, reason };
    let parsed: Line = serde_json::from_str(line).map_err(|e| bad(e.to_string()))?;
    let tokens = match (parsed.token_ids, parsed.text, tokenizer) {
        (Some(ids), None, _) => ids
            .into_iter()
            .map(|t| u32::try_from(t).map_err(|_| bad(format!("token id {t} is too large"))))
            .collect::<Result<Vec<u32>>>()?,
        (None, Some(text), Some(tok)) => tok.encode(&text)?,
        (None, Some(_), None) => return Err(bad("a \"text\" document needs --tokenizer".into())),
        (Some(_), Some(_), _) => {
            return Err(bad("give \"token_ids\" or \"text\", not both".into()))
        }
        (None, None, _) => return Err(bad("no \"token_ids\" or \"text\"".into())),
    };
    Ok(Document {
        tokens,
        contribution: parsed.contribution,
        metadata: parsed.metadata,
    })
}
