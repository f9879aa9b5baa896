//! Opening an index (memory-mapped) and finding the suffix-array segment of a query.

use std::cmp::Ordering;
use std::collections::HashMap;
use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use memmap2::Mmap;

use super::error::{Error, Result};
use super::layout::{file_name, pointer_size, TokenWidth};
use super::samples::RankSamples;

/// How to open an index: its token width and the end-of-sequence token id that `ntd`
/// reports for continuations that hit a document's end.
#[derive(Clone, Copy, Debug)]
pub struct OpenOptions {
    pub token_width: TokenWidth,
    pub eos: u32,
}

/// A read-only, memory-mapped, multi-shard index. Cheap to share between threads.
#[derive(Debug)]
pub struct Index {
    dir: PathBuf,
    width: TokenWidth,
    eos: u32,
    shards: Vec<Shard>,
    unigram: OnceLock<Unigram>,
}

#[derive(Debug)]
pub(crate) struct Shard {
    pub(crate) name: String,
    ds: Mmap,
    sa: Mmap,
    od: Mmap,
    mt: Option<(Mmap, Mmap)>,
    pub(crate) tok_cnt: u64,
    pub(crate) ptr_size: usize,
    pub(crate) doc_cnt: u64,
    /// Global number of this shard's first document.
    pub(crate) doc_base: u64,
    /// Built on the first search, so that opening an index stays cheap.
    samples: OnceLock<RankSamples>,
}

/// Unigram counts over the whole index (separators included).
#[derive(Debug, Default)]
pub(crate) struct Unigram {
    pub(crate) counts: HashMap<u32, u64>,
    pub(crate) total: u64,
}

/// The result of [`Index::find`]: the count and each shard's range of suffix ranks.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct FindResult {
    pub cnt: u64,
    pub segment_by_shard: Vec<(u64, u64)>,
}

fn map(path: &Path) -> Result<Mmap> {
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    let len = file.metadata().map_err(|e| Error::io(path, e))?.len();
    if len == 0 {
        return Err(Error::corrupt(path, "empty file"));
    }
    // SAFETY: index files are immutable once built; like any mmap reader we rely on nobody
    // truncating them underneath us.
    let mmap = unsafe { Mmap::map(&file) }.map_err(|e| Error::io(path, e))?;
    Ok(mmap)
}

fn read_u64(bytes: &[u8], i: usize) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&bytes[8 * i..8 * i + 8]);
    u64::from_le_bytes(b)
}

impl Index {
    /// Opens the index in `dir`, checking every file's size and the document offsets.
    pub fn open(dir: impl AsRef<Path>, opts: OpenOptions) -> Result<Index> {
        let dir = dir.as_ref().to_path_buf();
        let entries = fs::read_dir(&dir).map_err(|e| Error::io(&dir, e))?;
        let mut names = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| Error::io(&dir, e))?;
            if let Some(shard) = entry
                .file_name()
                .to_str()
                .and_then(|n| n.strip_prefix("tokenized."))
            {
                if !shard.is_empty() && shard.bytes().all(|b| b.is_ascii_digit()) {
                    names.push(shard.to_string());
                }
            }
        }
        if names.is_empty() {
            return Err(Error::NoShards(dir));
        }
        names.sort(); // string order, as the reference
        let has_meta = dir.join(file_name("metadata", &names[0])).exists();
        let mut shards = Vec::with_capacity(names.len());
        let mut doc_base = 0;
        for name in names {
            let shard = Shard::open(&dir, name, opts.token_width, has_meta, doc_base)?;
            doc_base += shard.doc_cnt;
            shards.push(shard);
        }
        Ok(Index {
            dir,
            width: opts.token_width,
            eos: opts.eos,
            shards,
            unigram: OnceLock::new(),
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn token_width(&self) -> TokenWidth {
        self.width
    }

    pub fn eos(&self) -> u32 {
        self.eos
    }

    pub fn num_shards(&self) -> usize {
        self.shards.len()
    }

    /// Tokens (suffixes) in shard `s`, separators included.
    pub fn tok_cnt(&self, s: usize) -> Result<u64> {
        Ok(self.shard(s)?.tok_cnt)
    }

    /// Bytes of shard `s`'s token stream.
    pub fn ds_size(&self, s: usize) -> Result<u64> {
        Ok(self.shard(s)?.ds_size())
    }

    pub fn total_tok_cnt(&self) -> u64 {
        self.shards.iter().map(|s| s.tok_cnt).sum()
    }

    pub fn total_doc_cnt(&self) -> u64 {
        self.shards.iter().map(|s| s.doc_cnt).sum()
    }

    pub(crate) fn shards(&self) -> &[Shard] {
        &self.shards
    }

    pub(crate) fn shard(&self, s: usize) -> Result<&Shard> {
        self.shards.get(s).ok_or(Error::ShardOutOfRange {
            shard: s,
            shards: self.shards.len(),
        })
    }

    /// Query tokens as the little-endian bytes the index compares.
    pub(crate) fn encode(&self, tokens: &[u32]) -> Result<Vec<u8>> {
        let mut out = Vec::with_capacity(tokens.len() * self.width.bytes());
        for &t in tokens {
            if t > self.width.separator() {
                return Err(Error::TokenTooWide {
                    token: t as u64,
                    width: self.width,
                });
            }
            self.width.write(t, &mut out);
        }
        Ok(out)
    }

    /// Where `tokens` occurs: per shard, the range of ranks whose suffixes start with it.
    pub fn find(&self, tokens: &[u32]) -> Result<FindResult> {
        let q = self.encode(tokens)?;
        Ok(self.find_bytes(&q))
    }

    pub(crate) fn find_bytes(&self, q: &[u8]) -> FindResult {
        let segment_by_shard: Vec<_> = self.shards.iter().map(|s| s.segment(q)).collect();
        let cnt = segment_by_shard.iter().map(|(a, b)| b - a).sum();
        FindResult {
            cnt,
            segment_by_shard,
        }
    }

    /// Unigram counts, read from `unigram.N` files when every shard has one, else counted.
    pub(crate) fn unigram(&self) -> &Unigram {
        self.unigram.get_or_init(|| {
            let mut u = Unigram::default();
            for shard in &self.shards {
                let from_file =
                    fs::read_to_string(self.dir.join(file_name("unigram", &shard.name)))
                        .ok()
                        .and_then(|text| parse_unigram(&text));
                match from_file {
                    Some(counts) if counts.values().sum::<u64>() == shard.tok_cnt => {
                        for (t, c) in counts {
                            *u.counts.entry(t).or_insert(0) += c;
                        }
                    }
                    _ => {
                        let w = self.width.bytes();
                        for chunk in shard.ds().chunks_exact(w) {
                            *u.counts.entry(self.width.read(chunk)).or_insert(0) += 1;
                        }
                    }
                }
                u.total += shard.tok_cnt;
            }
            u
        })
    }
}

fn parse_unigram(text: &str) -> Option<HashMap<u32, u64>> {
    let mut counts = HashMap::new();
    for line in text.lines() {
        let (t, c) = line.split_once(' ')?;
        counts.insert(t.parse().ok()?, c.parse().ok()?);
    }
    Some(counts)
}

impl Shard {
    fn open(
        dir: &Path,
        name: String,
        width: TokenWidth,
        has_meta: bool,
        doc_base: u64,
    ) -> Result<Shard> {
        let path = |kind: &str| dir.join(file_name(kind, &name));
        let w = width.bytes() as u64;
        let (ds_path, sa_path, od_path) = (path("tokenized"), path("table"), path("offset"));
        let ds = map(&ds_path)?;
        let sa = map(&sa_path)?;
        let od = map(&od_path)?;
        let ds_size = ds.len() as u64;
        if !ds_size.is_multiple_of(w) {
            return Err(Error::WidthMismatch {
                path: ds_path,
                expected: width,
                reason: format!("{ds_size} bytes is not a whole number of tokens"),
            });
        }
        let sep = vec![0xffu8; w as usize];
        if ds[..w as usize] != sep[..] {
            return Err(Error::WidthMismatch {
                path: ds_path,
                expected: width,
                reason: "the stream does not start with a separator of this width".into(),
            });
        }
        let tok_cnt = ds_size / w;
        let ptr_size = pointer_size(ds_size);
        if sa.len() as u64 != tok_cnt * ptr_size as u64 {
            let reason = format!(
                "{} bytes, expected {tok_cnt} suffixes x {ptr_size} bytes = {} (truncated, or not a {width} index)",
                sa.len(),
                tok_cnt * ptr_size as u64
            );
            return Err(
                if !(sa.len() as u64).is_multiple_of(tok_cnt) || sa.len() as u64 > tok_cnt * 8 {
                    Error::corrupt(sa_path, reason)
                } else {
                    Error::WidthMismatch {
                        path: sa_path,
                        expected: width,
                        reason,
                    }
                },
            );
        }
        if od.len() % 8 != 0 {
            return Err(Error::corrupt(od_path, "size is not a multiple of 8"));
        }
        let doc_cnt = od.len() as u64 / 8;
        let mut prev = None;
        for i in 0..doc_cnt as usize {
            let off = read_u64(&od, i);
            let ok = off < ds_size
                && off.is_multiple_of(w)
                && prev.map_or(off == 0, |p| off > p)
                && ds[off as usize..(off + w) as usize] == sep[..];
            if !ok {
                return Err(Error::corrupt(
                    &od_path,
                    format!("document {i} offset {off} is not a separator"),
                ));
            }
            prev = Some(off);
        }
        let mt = if has_meta {
            let (mt_path, om_path) = (path("metadata"), path("metaoff"));
            let mt = map(&mt_path)?;
            let om = map(&om_path)?;
            if om.len() as u64 != doc_cnt * 8 {
                return Err(Error::corrupt(
                    om_path,
                    format!("expected {doc_cnt} offsets"),
                ));
            }
            let mut prev = 0;
            for i in 0..doc_cnt as usize {
                let off = read_u64(&om, i);
                if off < prev || off > mt.len() as u64 {
                    return Err(Error::corrupt(
                        &om_path,
                        format!("bad offset for document {i}"),
                    ));
                }
                prev = off;
            }
            Some((mt, om))
        } else {
            None
        };
        Ok(Shard {
            name,
            ds,
            sa,
            od,
            mt,
            tok_cnt,
            ptr_size,
            doc_cnt,
            doc_base,
            samples: OnceLock::new(),
        })
    }

    #[inline]
    pub(crate) fn ds(&self) -> &[u8] {
        &self.ds
    }

    #[inline]
    pub(crate) fn ds_size(&self) -> u64 {
        self.ds.len() as u64
    }

    /// Byte offset of the suffix of rank `rank` (< tok_cnt).
    #[inline]
    pub(crate) fn ptr(&self, rank: u64) -> u64 {
        let at = rank as usize * self.ptr_size;
        let mut b = [0u8; 8];
        b[..self.ptr_size].copy_from_slice(&self.sa[at..at + self.ptr_size]);
        u64::from_le_bytes(b)
    }

    /// Up to `len` bytes of the stream from `ptr`; clamped, so a corrupt table cannot panic.
    #[inline]
    pub(crate) fn bytes_at(&self, ptr: u64, len: usize) -> &[u8] {
        let start = (ptr as usize).min(self.ds.len());
        let end = start.saturating_add(len).min(self.ds.len());
        &self.ds[start..end]
    }

    /// Byte offset of document `i`'s separator; `ds_size` for `i == doc_cnt`.
    #[inline]
    pub(crate) fn doc_ptr(&self, i: u64) -> u64 {
        if i >= self.doc_cnt {
            self.ds_size()
        } else {
            read_u64(&self.od, i as usize)
        }
    }

    /// Local number of the document holding byte `ptr`.
    pub(crate) fn doc_of(&self, ptr: u64) -> u64 {
        let (mut lo, mut hi) = (0, self.doc_cnt);
        while hi - lo > 1 {
            let mid = (lo + hi) / 2;
            if self.doc_ptr(mid) <= ptr {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        lo
    }

    pub(crate) fn metadata(&self, i: u64) -> String {
        let Some((mt, om)) = &self.mt else {
            return String::new();
        };
        let start = read_u64(om, i as usize) as usize;
        let end = if i + 1 < self.doc_cnt {
            read_u64(om, i as usize + 1) as usize
        } else {
            mt.len()
        };
        String::from_utf8_lossy(&mt[start.min(end)..end]).into_owned()
    }

    /// Compares the suffix of rank `rank`, cut to `q.len()` bytes, with `q`.
    #[inline]
    fn cmp_rank(&self, rank: u64, q: &[u8]) -> Ordering {
        self.bytes_at(self.ptr(rank), q.len()).cmp(q)
    }

    /// Ranks `[lo, hi)` of the suffixes that start with `q`.
    pub(crate) fn segment(&self, q: &[u8]) -> (u64, u64) {
        if q.is_empty() {
            return (0, self.tok_cnt);
        }
        let (lower, upper_hi) = self.lower_bound(q);
        // Gallop from the first match: cheap for the usual small counts, and never more than
        // a binary search of what is left.
        let matches = |rank: u64| self.cmp_rank(rank, q) == Ordering::Equal;
        let cnt =
            run_len(upper_hi - lower, u64::MAX, |i| matches(lower + i)).unwrap_or(upper_hi - lower);
        (lower, lower + cnt)
    }

    /// First rank whose suffix is not below `q`, and a rank bound past every match (the
    /// smallest rank seen to be greater than `q`, which the upper search can start from).
    pub(crate) fn lower_bound(&self, q: &[u8]) -> (u64, u64) {
        let samples = self
            .samples
            .get_or_init(|| RankSamples::build(self.tok_cnt, |r| self.bytes_at(self.ptr(r), 8)));
        let (mut lo, mut hi, mut upper_hi) = samples.narrow(q, |rank| self.cmp_rank(rank, q));
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            match self.cmp_rank(mid, q) {
                Ordering::Less => lo = mid + 1,
                Ordering::Greater => {
                    hi = mid;
                    upper_hi = upper_hi.min(mid);
                }
                Ordering::Equal => hi = mid,
            }
        }
        (lo, upper_hi)
    }
}

/// How many of `pred(0), pred(1), ..` (at most `avail`) hold before the first that does not,
/// `pred` holding on a prefix; `None` if more than `cap`. Galloping, so the cost grows with
/// the answer, not with `avail`.
pub(crate) fn run_len(avail: u64, cap: u64, pred: impl Fn(u64) -> bool) -> Option<u64> {
    if avail == 0 || !pred(0) {
        return Some(0);
    }
    let (mut good, mut step) = (0u64, 1u64);
    let mut bad = loop {
        if good >= cap {
            return None;
        }
        let probe = good.saturating_add(step);
        if probe >= avail {
            break avail;
        }
        if !pred(probe) {
            break probe;
        }
        good = probe;
        step = step.saturating_mul(2);
    };
    while bad - good > 1 {
        let mid = good + (bad - good) / 2;
        if pred(mid) {
            good = mid;
        } else {
            bad = mid;
        }
    }
    if good >= cap {
        None
    } else {
        Some(good + 1)
    }
}
