//! Property tests: every query of the token index against a brute-force scan of the token
//! streams, on random corpora (several shards, both token widths, tokens whose byte order
//! differs from their numeric order, queries with separators and past the end of a shard).

use std::collections::{BTreeMap, BTreeSet};

use openledger_attribution_engine::token::*;
use proptest::prelude::*;

/// The corpus as the index sees it: one stream per shard, separators included.
struct Oracle {
    width: TokenWidth,
    eos: u32,
    shards: Vec<Vec<u32>>,
    /// Per shard, the global document number of its first document and each doc's start.
    doc_starts: Vec<Vec<usize>>,
}

impl Oracle {
    fn new(docs: &[Vec<u32>], width: TokenWidth, max_shard_tokens: usize, eos: u32) -> Oracle {
        let sep = width.separator();
        let (mut shards, mut doc_starts) = (vec![Vec::new()], vec![Vec::new()]);
        for d in docs {
            let cur = shards.last().unwrap();
            if !cur.is_empty() && cur.len() + d.len() + 1 > max_shard_tokens {
                shards.push(Vec::new());
                doc_starts.push(Vec::new());
            }
            doc_starts
                .last_mut()
                .unwrap()
                .push(shards.last().unwrap().len());
            let cur = shards.last_mut().unwrap();
            cur.push(sep);
            cur.extend_from_slice(d);
        }
        Oracle {
            width,
            eos,
            shards,
            doc_starts,
        }
    }

    fn occurrences(&self, q: &[u32]) -> Vec<(usize, usize)> {
        let mut out = Vec::new();
        for (s, st) in self.shards.iter().enumerate() {
            for i in 0..st.len() {
                if i + q.len() <= st.len() && st[i..i + q.len()] == *q {
                    out.push((s, i));
                }
            }
        }
        out
    }

    fn count(&self, q: &[u32]) -> u64 {
        self.occurrences(q).len() as u64
    }

    fn ntd(&self, q: &[u32]) -> BTreeMap<u32, u64> {
        let mut m = BTreeMap::new();
        for (s, i) in self.occurrences(q) {
            let t = match self.shards[s].get(i + q.len()) {
                Some(&t) if t != self.width.separator() => t,
                _ => self.eos,
            };
            *m.entry(t).or_insert(0) += 1;
        }
        m
    }

    fn longest_match(&self, q: &[u32]) -> usize {
        (0..=q.len())
            .rev()
            .find(|&k| self.count(&q[..k]) > 0)
            .unwrap_or(0)
    }

    fn key(&self, t: u32) -> u32 {
        match self.width {
            TokenWidth::U16 => (t as u16).swap_bytes() as u32,
            TokenWidth::U32 => t.swap_bytes(),
        }
    }

    /// The suffix array by sorting byte-order keys.
    fn suffix_array(&self, s: usize) -> Vec<u64> {
        let st = &self.shards[s];
        let keys: Vec<u32> = st.iter().map(|&t| self.key(t)).collect();
        let mut sa: Vec<usize> = (0..st.len()).collect();
        sa.sort_by(|&a, &b| keys[a..].cmp(&keys[b..]));
        sa.into_iter()
            .map(|p| (p * self.width.bytes()) as u64)
            .collect()
    }
}

fn alphabet(width: TokenWidth) -> Vec<u32> {
    // Byte-swapped order differs from numeric order for these.
    match width {
        TokenWidth::U16 => vec![0, 1, 2, 3, 0x100, 0x101, 0x1ff, 0xff00, 0xfffe],
        TokenWidth::U32 => vec![
            0,
            1,
            2,
            0x100,
            0x1_0000,
            0x0100_0000,
            0xff00_0001,
            0xffff_fffe,
        ],
    }
}

#[derive(Debug, Clone)]
struct Case {
    width: TokenWidth,
    docs: Vec<Vec<u32>>,
    max_shard_tokens: usize,
    queries: Vec<Vec<u32>>,
    eos: u32,
}

fn case() -> impl Strategy<Value = Case> {
    prop_oneof![Just(TokenWidth::U16), Just(TokenWidth::U32)].prop_flat_map(|width| {
        let alpha = alphabet(width);
        let n = alpha.len();
        let tok = (0..n).prop_map(move |i| alpha[i]);
        let docs = prop::collection::vec(prop::collection::vec(tok.clone(), 0..12), 1..10);
        // Queries from the alphabet plus the separator, and substrings of the corpus.
        let qtok = prop_oneof![8 => tok, 1 => Just(width.separator())];
        let queries = prop::collection::vec(prop::collection::vec(qtok, 0..6), 1..8);
        (
            docs,
            3usize..40,
            queries,
            0u32..4,
            prop::collection::vec((0usize..100, 0usize..100, 0usize..8), 4),
        )
            .prop_map(move |(docs, max_shard_tokens, mut queries, eos, subs)| {
                for (d, start, len) in subs {
                    let d = &docs[d % docs.len()];
                    let start = if d.is_empty() { 0 } else { start % d.len() };
                    let end = (start + len).min(d.len());
                    queries.push(d[start..end].to_vec());
                }
                Case {
                    width,
                    docs,
                    max_shard_tokens,
                    queries,
                    eos,
                }
            })
    })
}

fn build(c: &Case) -> (tempfile::TempDir, Index, Oracle) {
    let dir = tempfile::tempdir().unwrap();
    let docs = c.docs.iter().enumerate().map(|(i, d)| {
        let hash = ContentHash([i as u8; 32]);
        Ok(Document::new(d.clone()).with_contribution(Contribution {
            datanet_id: 1,
            version: 1,
            content_hash: hash,
        }))
    });
    IndexBuilder::new(dir.path(), c.width)
        .max_shard_tokens(c.max_shard_tokens as u64)
        .build(docs)
        .unwrap();
    let index = Index::open(
        dir.path(),
        OpenOptions {
            token_width: c.width,
            eos: c.eos,
        },
    )
    .unwrap();
    let oracle = Oracle::new(&c.docs, c.width, c.max_shard_tokens, c.eos);
    (dir, index, oracle)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, .. ProptestConfig::default() })]

    #[test]
    fn layout_and_suffix_order(c in case()) {
        let (dir, index, oracle) = build(&c);
        prop_assert_eq!(index.num_shards(), oracle.shards.len());
        for (s, st) in oracle.shards.iter().enumerate() {
            let mut bytes = Vec::new();
            for &t in st {
                bytes.extend_from_slice(&t.to_le_bytes()[..c.width.bytes()]);
            }
            let tokenized = std::fs::read(dir.path().join(format!("tokenized.{s}"))).unwrap();
            prop_assert_eq!(tokenized, bytes);
            prop_assert_eq!(index.tok_cnt(s).unwrap(), st.len() as u64);
            let n = st.len() as u64;
            prop_assert_eq!(index.ptrs(s, 0, n).unwrap(), oracle.suffix_array(s));
            let offsets = std::fs::read(dir.path().join(format!("offset.{s}"))).unwrap();
            let expect: Vec<u8> = oracle.doc_starts[s].iter()
                .flat_map(|&i| ((i * c.width.bytes()) as u64).to_le_bytes()).collect();
            prop_assert_eq!(offsets, expect);
        }
    }

    #[test]
    fn same_files_with_worker_threads(c in case(), threads in 2usize..4) {
        let (dir, _index, _) = build(&c);
        let other = tempfile::tempdir().unwrap();
        let docs = c.docs.iter().enumerate().map(|(i, d)| {
            let hash = ContentHash([i as u8; 32]);
            Ok(Document::new(d.clone()).with_contribution(Contribution { datanet_id: 1, version: 1, content_hash: hash }))
        });
        IndexBuilder::new(other.path(), c.width)
            .max_shard_tokens(c.max_shard_tokens as u64)
            .threads(threads)
            .build(docs)
            .unwrap();
        let mut names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        names.sort();
        let mut other_names: Vec<_> = std::fs::read_dir(other.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        other_names.sort();
        prop_assert_eq!(&names, &other_names);
        for name in names {
            prop_assert_eq!(std::fs::read(dir.path().join(&name)).unwrap(), std::fs::read(other.path().join(&name)).unwrap());
        }
    }

    #[test]
    fn count_find_prob(c in case()) {
        let (_dir, index, oracle) = build(&c);
        for q in &c.queries {
            let expect = oracle.count(q);
            prop_assert_eq!(index.count(q).unwrap(), CountResult { count: expect, approx: false });
            let f = index.find(q).unwrap();
            prop_assert_eq!(f.cnt, expect);
            // Every rank in a segment is an occurrence, and all occurrences are there.
            let mut got = BTreeSet::new();
            for (s, &(a, b)) in f.segment_by_shard.iter().enumerate() {
                for p in index.ptrs(s, a, b).unwrap() {
                    got.insert((s, p as usize / c.width.bytes()));
                }
            }
            let want: BTreeSet<_> = oracle.occurrences(q).into_iter().collect();
            prop_assert_eq!(got, want);
            for &cont in &alphabet(c.width) {
                let p = index.prob(q, cont).unwrap();
                let mut qc = q.clone();
                qc.push(cont);
                prop_assert_eq!(p.prompt_cnt, if expect == 0 { 0 } else { expect });
                prop_assert_eq!(p.cont_cnt, if expect == 0 { 0 } else { oracle.count(&qc) });
                let prob = if expect == 0 { -1.0 } else { oracle.count(&qc) as f64 / expect as f64 };
                prop_assert_eq!(p.prob, prob);
            }
        }
    }

    #[test]
    fn ntd_exact_and_approx(c in case()) {
        let (_dir, index, oracle) = build(&c);
        for q in &c.queries {
            let truth = oracle.ntd(q);
            let cnt: u64 = truth.values().sum();
            let r = index.ntd(q, 1000).unwrap();
            prop_assert_eq!(r.prompt_cnt, cnt);
            prop_assert!(!r.approx);
            let got: BTreeMap<u32, u64> = r.result_by_token_id.iter().map(|(&t, d)| (t, d.cont_cnt)).collect();
            prop_assert_eq!(&got, &truth);
            for d in r.result_by_token_id.values() {
                prop_assert_eq!(d.prob, d.cont_cnt as f64 / cnt as f64);
            }
            // Sampled: total preserved, flagged approximate when the support is exceeded.
            let r = index.ntd(q, 2).unwrap();
            prop_assert_eq!(r.prompt_cnt, cnt);
            prop_assert_eq!(r.approx, cnt > 2);
            if cnt <= 2 {
                let got: BTreeMap<u32, u64> = r.result_by_token_id.iter().map(|(&t, d)| (t, d.cont_cnt)).collect();
                prop_assert_eq!(&got, &truth);
            }
        }
    }

    #[test]
    fn infgram(c in case()) {
        let (_dir, index, oracle) = build(&c);
        for q in &c.queries {
            let suffix_len = (0..=q.len()).rev().find(|&k| oracle.count(&q[q.len() - k..]) > 0).unwrap();
            let suffix = &q[q.len() - suffix_len..];
            for &cont in &alphabet(c.width)[..3] {
                let r = index.infgram_prob(q, cont).unwrap();
                let p = index.prob(suffix, cont).unwrap();
                prop_assert_eq!(r.suffix_len, suffix_len as u64);
                prop_assert_eq!((r.prompt_cnt, r.cont_cnt, r.prob), (p.prompt_cnt, p.cont_cnt, p.prob));
            }
            let r = index.infgram_ntd(q, 1000).unwrap();
            prop_assert_eq!(r.suffix_len, suffix_len as u64);
            let got: BTreeMap<u32, u64> = r.result_by_token_id.iter().map(|(&t, d)| (t, d.cont_cnt)).collect();
            prop_assert_eq!(got, oracle.ntd(suffix));
        }
    }

    #[test]
    fn creativity_and_attribute(c in case(), min_len in 0usize..3, max_cnt in 1u64..6, delim in prop::option::of(0usize..4)) {
        let (_dir, index, oracle) = build(&c);
        let delim_ids: Vec<u32> = delim.map(|i| vec![alphabet(c.width)[i]]).unwrap_or_default();
        for q in &c.queries {
            let rs = index.creativity(q).unwrap().rs;
            let want: Vec<usize> = (0..q.len()).map(|l| l + oracle.longest_match(&q[l..])).collect();
            prop_assert_eq!(rs, want);

            let opts = AttributeOptions { delim_ids: delim_ids.clone(), min_len, max_cnt, ..Default::default() };
            let got = index.attribute(q, &opts).unwrap();
            let mut want = Vec::new();
            let mut last_r = 0;
            for l in 0..q.len() {
                let mut len = oracle.longest_match(&q[l..]);
                if let Some(p) = q[l..l + len.saturating_sub(1)].iter().position(|t| delim_ids.contains(t)) {
                    len = p + 1;
                }
                if len < min_len { continue; }
                let occ = oracle.occurrences(&q[l..l + len]);
                if occ.len() as u64 > max_cnt { continue; }
                if l + len > last_r {
                    last_r = l + len;
                    want.push((l, l + len, occ));
                }
            }
            prop_assert_eq!(got.spans.len(), want.len());
            for (span, (l, r, occ)) in got.spans.iter().zip(want) {
                prop_assert_eq!((span.l, span.r, span.length, span.count), (l, r, r - l, occ.len() as u64));
                let docs: BTreeSet<(usize, usize)> = span.docs.iter().map(|d| (d.s, d.ptr as usize / c.width.bytes())).collect();
                prop_assert_eq!(docs, occ.into_iter().collect::<BTreeSet<_>>());
            }
        }
    }

    #[test]
    fn documents(c in case(), max_disp_len in 0u64..8) {
        let (_dir, index, oracle) = build(&c);
        prop_assert_eq!(index.total_doc_cnt(), c.docs.len() as u64);
        for (i, d) in c.docs.iter().enumerate() {
            let r = index.get_doc_by_ix(i as u64, 100).unwrap();
            prop_assert_eq!(&r.token_ids, d);
            prop_assert_eq!(r.doc_len, d.len() as u64);
            prop_assert!(r.metadata.contains("contribution"));
            prop_assert_eq!(index.contribution(i as u64).unwrap().content_hash, ContentHash([i as u8; 32]));
        }
        // A pointer inside a document: the window around it.
        let w = c.width.bytes() as u64;
        let mut doc_ix = 0u64;
        for (s, st) in oracle.shards.iter().enumerate() {
            let starts = &oracle.doc_starts[s];
            for (j, &start) in starts.iter().enumerate() {
                let end = starts.get(j + 1).copied().unwrap_or(st.len());
                for pos in start + 1..end {
                    let r = index.get_doc_by_ptr(s, pos as u64 * w, max_disp_len).unwrap();
                    let lo = (start + 1).max(pos.saturating_sub(max_disp_len as usize / 2));
                    let hi = end.min(pos + max_disp_len.div_ceil(2) as usize);
                    prop_assert_eq!(r.doc_ix, doc_ix);
                    prop_assert_eq!(&r.token_ids[..], &st[lo..hi]);
                    prop_assert_eq!(r.needle_offset as usize, pos - lo);
                }
                doc_ix += 1;
            }
        }
    }
}

/// The reference's `ntd` gives `{eos: 4}` here: the prompt ends the shard's last document
/// (end of shard) and also precedes a separator, and both sort to opposite ends of the
/// segment as "eos".
#[test]
fn ntd_end_of_shard_regression() {
    let c = Case {
        width: TokenWidth::U16,
        docs: vec![vec![1, 2, 3, 4, 2, 3], vec![2, 3, 5], vec![2, 3]],
        max_shard_tokens: 1000,
        queries: vec![],
        eos: 0,
    };
    let (_dir, index, _) = build(&c);
    let r = index.ntd(&[2, 3], 1000).unwrap();
    let got: BTreeMap<u32, u64> = r
        .result_by_token_id
        .iter()
        .map(|(&t, d)| (t, d.cont_cnt))
        .collect();
    assert_eq!(got, BTreeMap::from([(0, 2), (4, 1), (5, 1)]));
    assert_eq!(r.prompt_cnt, 4);
}

/// The reference misses the longest match when the query sorts before every suffix of a
/// shard (insertion point 0): here `[1, 2, 3, 4, 2, 3, 5]` starts with the whole first document.
#[test]
fn longest_match_at_rank_zero_regression() {
    let c = Case {
        width: TokenWidth::U16,
        docs: vec![vec![1, 2, 3, 4, 2, 3], vec![2, 3, 5], vec![2, 3]],
        max_shard_tokens: 1000,
        queries: vec![],
        eos: 0,
    };
    let (_dir, index, _) = build(&c);
    assert_eq!(
        index.creativity(&[1, 2, 3, 4, 2, 3, 5]).unwrap().rs,
        vec![6, 6, 6, 6, 7, 7, 7]
    );
    let opts = AttributeOptions {
        max_cnt: 10,
        min_len: 1,
        ..Default::default()
    };
    let spans: Vec<_> = index
        .attribute(&[1, 2, 3, 4, 2, 3, 5], &opts)
        .unwrap()
        .spans
        .iter()
        .map(|s| (s.l, s.r))
        .collect();
    assert_eq!(spans, vec![(0, 6), (4, 7)]);
}
