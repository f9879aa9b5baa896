//! Building an infini-gram compatible index from tokenised documents.
//!
//! Documents are cut into shards of whole documents (at most `max_shard_tokens` tokens each,
//! separators included); each shard's suffix array is built with libsais, single-threaded
//! (libsais' OpenMP mode was about 10x slower on two busy cores).

use std::fs::{self, File};
use std::io::{BufWriter, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use libsais::SuffixArrayConstruction;

use super::contribution::{metadata_line, Contribution};
use super::error::{Error, Result};
use super::layout::{file_name, pointer_size, TokenWidth};

/// One document of the corpus: its tokens and, optionally, the contribution it stands for.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Document {
    pub tokens: Vec<u32>,
    pub contribution: Option<Contribution>,
    /// Free-form JSON kept next to the contribution in the document's metadata line.
    pub metadata: Option<serde_json::Value>,
}

impl Document {
    pub fn new(tokens: Vec<u32>) -> Document {
        Document {
            tokens,
            contribution: None,
            metadata: None,
        }
    }

    pub fn with_contribution(mut self, contribution: Contribution) -> Document {
        self.contribution = Some(contribution);
        self
    }
}

/// What a build did.
#[derive(Clone, Debug, serde::Serialize)]
pub struct BuildStats {
    pub documents: u64,
    /// Tokens in the streams, one separator per document included.
    pub tokens: u64,
    pub shards: usize,
    /// Bytes of `tokenized`, `table` and `offset` files (the index proper).
    pub index_bytes: u64,
    /// Bytes of all files written (metadata and unigram counts too).
    pub total_bytes: u64,
    /// Wall time of the build.
    pub seconds: f64,
    /// Part of `seconds` spent waiting for documents (reading and parsing the input).
    pub input_seconds: f64,
}

/// Builds an index in a directory. See the [module docs](self).
#[derive(Clone, Debug)]
pub struct IndexBuilder {
    dir: PathBuf,
    width: TokenWidth,
    max_shard_tokens: u64,
    progress: bool,
    threads: usize,
}

/// Default shard size: 2^23 u16 tokens, i.e. 16 MiB of stream, which keeps suffix pointers at
/// 3 bytes (5 bytes a token for u16 instead of 6).
pub const DEFAULT_MAX_SHARD_BYTES: u64 = 1 << 24;

impl IndexBuilder {
    pub fn new(dir: impl Into<PathBuf>, width: TokenWidth) -> IndexBuilder {
        IndexBuilder {
            dir: dir.into(),
            width,
            max_shard_tokens: DEFAULT_MAX_SHARD_BYTES / width.bytes() as u64,
            progress: false,
            threads: 1,
        }
    }

    /// Largest shard, in tokens (separators included). A bigger document gets a shard alone.
    pub fn max_shard_tokens(mut self, tokens: u64) -> IndexBuilder {
        self.max_shard_tokens = tokens.max(1);
        self
    }

    /// Shards sorted at the same time. With 1 (the default) everything runs on the calling
    /// thread; with more, full shards are sorted and written on that many worker threads
    /// while the input is still being read. The files are the same either way.
    pub fn threads(mut self, threads: usize) -> IndexBuilder {
        self.threads = threads.max(1);
        self
    }

    /// Show a progress line on stderr (only when stderr is a terminal).
    pub fn progress(mut self, yes: bool) -> IndexBuilder {
        self.progress = yes;
        self
    }

    /// Builds the index from `documents`, replacing any index files already in the directory.
    pub fn build<I>(self, documents: I) -> Result<BuildStats>
    where
        I: IntoIterator<Item = Result<Document>>,
    {
        let start = Instant::now();
        fs::create_dir_all(&self.dir).map_err(|e| Error::io(&self.dir, e))?;
        remove_old_index(&self.dir)?;
        let mut stats = BuildStats {
            documents: 0,
            tokens: 0,
            shards: 0,
            index_bytes: 0,
            total_bytes: 0,
            seconds: 0.0,
            input_seconds: 0.0,
        };
        let progress = Progress::new(self.progress && std::io::stderr().is_terminal());
        if self.threads <= 1 {
            let mut sink = |name: usize, shard: ShardBuf| self.write_shard(name, shard);
            self.read(documents, &mut stats, progress, &mut sink)?;
        } else {
            let (tx, rx) = std::sync::mpsc::sync_channel::<(usize, ShardBuf)>(0);
            let rx = std::sync::Mutex::new(rx);
            std::thread::scope(|scope| -> Result<()> {
                let tx = tx; // dropped below, which stops the workers
                let workers: Vec<_> = (0..self.threads)
                    .map(|_| {
                        scope.spawn(|| -> Result<(u64, u64)> {
                            let mut sizes = (0, 0);
                            loop {
                                let job = rx.lock().expect("no worker panics holding it").recv();
                                let Ok((name, shard)) = job else {
                                    return Ok(sizes);
                                };
                                let (a, b) = self.write_shard(name, shard)?;
                                sizes = (sizes.0 + a, sizes.1 + b);
                            }
                        })
                    })
                    .collect();
                let mut sink = |name: usize, shard: ShardBuf| {
                    // A send fails only when every worker has stopped on an error.
                    let _ = tx.send((name, shard));
                    Ok((0, 0))
                };
                let read = self.read(documents, &mut stats, progress, &mut sink);
                drop(tx);
                for w in workers {
                    let (a, b) = w.join().expect("shard worker does not panic")?;
                    stats.index_bytes += a;
                    stats.total_bytes += b;
                }
                read
            })?;
        }
        stats.seconds = start.elapsed().as_secs_f64();
        Ok(stats)
    }

    /// Reads the documents, cutting them into shards handed to `sink`.
    fn read<I>(
        &self,
        documents: I,
        stats: &mut BuildStats,
        mut progress: Progress,
        sink: &mut dyn FnMut(usize, ShardBuf) -> Result<(u64, u64)>,
    ) -> Result<()>
    where
        I: IntoIterator<Item = Result<Document>>,
    {
        let mut shard = ShardBuf::default();
        let sep = self.width.separator();
        let mut documents = documents.into_iter();
        let mut input = std::time::Duration::ZERO;
        let mut flush = |shard: &mut ShardBuf, stats: &mut BuildStats| -> Result<()> {
            let (a, b) = sink(stats.shards, std::mem::take(shard))?;
            stats.index_bytes += a;
            stats.total_bytes += b;
            stats.shards += 1;
            Ok(())
        };
        loop {
            let waiting = Instant::now();
            let Some(doc) = documents.next() else { break };
            input += waiting.elapsed();
            let doc = doc?;
            if let Some(&bad) = doc.tokens.iter().find(|&&t| t >= sep) {
                return Err(if bad == sep {
                    Error::SeparatorToken {
                        doc: stats.documents,
                        token: bad as u64,
                        width: self.width,
                    }
                } else {
                    Error::TokenTooWide {
                        token: bad as u64,
                        width: self.width,
                    }
                });
            }
            let len = doc.tokens.len() as u64 + 1;
            if !shard.offsets.is_empty() && shard.stream.len() as u64 + len > self.max_shard_tokens
            {
                progress.phase(&format!("sorting shard {}", stats.shards));
                flush(&mut shard, stats)?;
            }
            shard.push(doc, self.width);
            stats.documents += 1;
            stats.tokens += len;
            progress.tokens(stats.tokens, stats.shards);
        }
        stats.input_seconds = input.as_secs_f64();
        if stats.documents == 0 {
            return Err(Error::EmptyCorpus);
        }
        progress.phase(&format!("sorting shard {}", stats.shards));
        flush(&mut shard, stats)?;
        progress.finish();
        Ok(())
    }

    /// Sorts and writes one shard; returns (index bytes, all bytes) written.
    fn write_shard(&self, number: usize, shard: ShardBuf) -> Result<(u64, u64)> {
        let name = number.to_string();
        let sa = suffix_array(&shard.stream, self.width)?;
        let w = self.width.bytes() as u64;
        let ds_size = shard.stream.len() as u64 * w;
        let ptr_size = pointer_size(ds_size);

        let mut bytes = 0;
        bytes += self.write(&name, "tokenized", |out| {
            let mut buf = Vec::with_capacity(1 << 16);
            for chunk in shard.stream.chunks(1 << 15) {
                buf.clear();
                for &t in chunk {
                    self.width.write(t, &mut buf);
                }
                out.write_all(&buf)?;
            }
            Ok(())
        })?;
        bytes += self.write(&name, "table", |out| {
            let mut buf = Vec::with_capacity(1 << 16);
            for chunk in sa.chunks(1 << 13) {
                buf.clear();
                for &p in chunk {
                    buf.extend_from_slice(&(p * w).to_le_bytes()[..ptr_size]);
                }
                out.write_all(&buf)?;
            }
            Ok(())
        })?;
        bytes += self.write(&name, "offset", |out| {
            for &o in &shard.offsets {
                out.write_all(&(o * w).to_le_bytes())?;
            }
            Ok(())
        })?;
        let mut extra = self.write(&name, "metadata", |out| {
            for line in &shard.metadata {
                out.write_all(line.as_bytes())?;
                out.write_all(b"\n")?;
            }
            Ok(())
        })?;
        extra += self.write(&name, "metaoff", |out| {
            let mut off = 0u64;
            for line in &shard.metadata {
                out.write_all(&off.to_le_bytes())?;
                off += line.len() as u64 + 1;
            }
            Ok(())
        })?;
        extra += self.write(&name, "unigram", |out| {
            for (t, c) in unigram_counts(&shard.stream, self.width) {
                writeln!(out, "{t} {c}")?;
            }
            Ok(())
        })?;
        Ok((bytes, bytes + extra))
    }

    fn write(
        &self,
        shard: &str,
        kind: &str,
        body: impl FnOnce(&mut BufWriter<File>) -> std::io::Result<()>,
    ) -> Result<u64> {
        let path = self.dir.join(file_name(kind, shard));
        let run = || -> std::io::Result<u64> {
            let mut out = BufWriter::with_capacity(1 << 20, File::create(&path)?);
            body(&mut out)?;
            let file = out.into_inner().map_err(|e| e.into_error())?;
            Ok(file.metadata()?.len())
        };
        run().map_err(|e| Error::io(&path, e))
    }
}

/// Removes the files of an index that was there before, so no stale shard survives.
fn remove_old_index(dir: &Path) -> Result<()> {
    let entries = fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let Some((kind, shard)) = name.split_once('.') else {
            continue;
        };
        let is_index_file = [
            "tokenized",
            "table",
            "offset",
            "metadata",
            "metaoff",
            "unigram",
        ]
        .contains(&kind);
        if is_index_file && !shard.is_empty() && shard.bytes().all(|b| b.is_ascii_digit()) {
            fs::remove_file(entry.path()).map_err(|e| Error::io(entry.path(), e))?;
        }
    }
    Ok(())
}

#[derive(Default)]
struct ShardBuf {
    /// Tokens, separators included (as `width.separator()`).
    stream: Vec<u32>,
    /// Token offset of each document's separator.
    offsets: Vec<u64>,
    metadata: Vec<String>,
}

impl ShardBuf {
    fn push(&mut self, doc: Document, width: TokenWidth) {
        self.offsets.push(self.stream.len() as u64);
        self.stream.push(width.separator());
        self.stream.extend_from_slice(&doc.tokens);
        self.metadata.push(metadata_line(
            doc.contribution.as_ref(),
            doc.metadata.as_ref(),
        ));
    }
}

/// Occurrences of each token (separators included), by token id.
fn unigram_counts(stream: &[u32], width: TokenWidth) -> Vec<(u32, u64)> {
    match width {
        // A direct table is much faster than a map for 16-bit ids.
        TokenWidth::U16 => {
            let mut counts = vec![0u64; 1 << 16];
            for &t in stream {
                counts[t as usize & 0xffff] += 1;
            }
            (0u32..).zip(counts).filter(|&(_, c)| c > 0).collect()
        }
        TokenWidth::U32 => {
            let mut counts = std::collections::HashMap::new();
            for &t in stream {
                *counts.entry(t).or_insert(0u64) += 1;
            }
            let mut counts: Vec<_> = counts.into_iter().collect();
            counts.sort_unstable();
            counts
        }
    }
}

/// Suffix array (token positions) of `stream` in the reference's byte order.
///
/// The reference compares suffixes as byte strings of the little-endian stream, so a token
/// compares as its byte-swapped value: sorting byte-swapped tokens as integers gives the
/// same order, and needs no separate pass over odd byte offsets.
pub(crate) fn suffix_array(stream: &[u32], width: TokenWidth) -> Result<Vec<u64>> {
    let err = |e: libsais::LibsaisError| Error::SuffixArray(format!("{e:?}"));
    let big = stream.len() >= i32::MAX as usize;
    match width {
        TokenWidth::U16 => {
            let keys: Vec<u16> = stream.iter().map(|&t| (t as u16).swap_bytes()).collect();
            let construction = SuffixArrayConstruction::for_text(&keys);
            if big {
                let sa = construction
                    .in_owned_buffer64()
                    .single_threaded()
                    .run()
                    .map_err(err)?;
                Ok(sa.into_vec().into_iter().map(|p| p as u64).collect())
            } else {
                let sa = construction
                    .in_owned_buffer32()
                    .single_threaded()
                    .run()
                    .map_err(err)?;
                Ok(sa.into_vec().into_iter().map(|p| p as u64).collect())
            }
        }
        TokenWidth::U32 => {
            // libsais needs an alphabet [0, k): rank the distinct byte-swapped tokens.
            let mut alphabet: Vec<u32> = stream.iter().map(|t| t.swap_bytes()).collect();
            alphabet.sort_unstable();
            alphabet.dedup();
            let rank = |t: u32| {
                alphabet
                    .binary_search(&t.swap_bytes())
                    .expect("token in alphabet")
            };
            if big {
                let mut dense: Vec<i64> = stream.iter().map(|&t| rank(t) as i64).collect();
                let k = alphabet.len() as i64;
                let mut construction = SuffixArrayConstruction::for_text_mut(&mut dense)
                    .in_owned_buffer64()
                    .single_threaded();
                // SAFETY: every value of `dense` is a rank in [0, k).
                unsafe {
                    construction = construction
                        .with_alphabet_size(libsais::suffix_array::AlphabetSize::new(k));
                }
                let sa = construction.run().map_err(err)?;
                Ok(sa.into_vec().into_iter().map(|p| p as u64).collect())
            } else {
                let mut dense: Vec<i32> = stream.iter().map(|&t| rank(t) as i32).collect();
                let k = alphabet.len() as i32;
                let mut construction = SuffixArrayConstruction::for_text_mut(&mut dense)
                    .in_owned_buffer32()
                    .single_threaded();
                // SAFETY: every value of `dense` is a rank in [0, k).
                unsafe {
                    construction = construction
                        .with_alphabet_size(libsais::suffix_array::AlphabetSize::new(k));
                }
                let sa = construction.run().map_err(err)?;
                Ok(sa.into_vec().into_iter().map(|p| p as u64).collect())
            }
        }
    }
}

/// A one-line progress report on stderr, redrawn at most a few times a second.
struct Progress {
    on: bool,
    start: Instant,
    last: Instant,
}

impl Progress {
    fn new(on: bool) -> Progress {
        let now = Instant::now();
        Progress {
            on,
            start: now,
            last: now,
        }
    }

    fn tokens(&mut self, tokens: u64, shards: usize) {
        if !self.on || self.last.elapsed().as_millis() < 200 {
            return;
        }
        self.last = Instant::now();
        let secs = self.start.elapsed().as_secs_f64().max(1e-9);
        let bar_len = ((tokens as f64).log10().max(0.0) * 3.0) as usize;
        eprint!(
            "\r[{:<30}] {:.1} M tokens, {} shards done, {:.1} M tokens/s   ",
            "#".repeat(bar_len.min(30)),
            tokens as f64 / 1e6,
            shards,
            tokens as f64 / secs / 1e6
        );
    }

    fn phase(&mut self, what: &str) {
        if self.on && !what.is_empty() {
            eprint!("\r{what:<80}");
        }
    }

    fn finish(&mut self) {
        if self.on {
            eprintln!(
                "\rindex built in {:.1} s{:<60}",
                self.start.elapsed().as_secs_f64(),
                ""
            );
        }
    }
}
