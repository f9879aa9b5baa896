//! Shares: exact sums, the documented formula, and independence of document order,
//! sharding and threads.

use std::collections::BTreeMap;

use openledger_attribution_engine::token::shares::log2_fixed;
use openledger_attribution_engine::token::*;
use proptest::prelude::*;

fn contribution(i: usize) -> Contribution {
    Contribution {
        datanet_id: (i % 3) as u64,
        version: 1 + (i % 2) as u32,
        content_hash: ContentHash([i as u8; 32]),
    }
}

fn build(docs: &[(Contribution, Vec<u32>)], max_shard_tokens: u64) -> (tempfile::TempDir, Index) {
    let dir = tempfile::tempdir().unwrap();
    IndexBuilder::new(dir.path(), TokenWidth::U16)
        .max_shard_tokens(max_shard_tokens)
        .build(
            docs.iter()
                .map(|(c, t)| Ok(Document::new(t.clone()).with_contribution(*c))),
        )
        .unwrap();
    let index = Index::open(
        dir.path(),
        OpenOptions {
            token_width: TokenWidth::U16,
            eos: 0,
        },
    )
    .unwrap();
    (dir, index)
}

fn opts() -> AttributeOptions {
    AttributeOptions {
        min_len: 2,
        max_cnt: 1000,
        ..Default::default()
    }
}

#[test]
fn formula_on_a_small_corpus() {
    // Tokens 1..=4 once each in A; 5, 6 in both B and C; 7 common.
    let docs = vec![
        (contribution(0), vec![1, 2, 3, 4, 7, 7]),
        (contribution(1), vec![5, 6, 7, 7]),
        (contribution(2), vec![5, 6, 7]),
    ];
    let (_d, index) = build(&docs, 1 << 20);
    let output = [1, 2, 3, 9, 5, 6];
    let (attr, shares) = index.attribute_shares(&output, &opts()).unwrap();
    let spans: Vec<_> = attr.spans.iter().map(|s| (s.l, s.r)).collect();
    assert_eq!(spans, vec![(0, 3), (4, 6)]);

    // N = 13 tokens + 3 separators = 16; n(1..4) = 1, n(5) = n(6) = 2.
    let s = |n: u64| log2_fixed(16) - log2_fixed(n);
    let w_a = 3 * s(1) as u128; // 12 bits
    let w_bc = 2 * s(2) as u128; // 6 bits, split between B and C
    let credit: BTreeMap<_, _> = shares
        .shares
        .iter()
        .map(|s| (s.contribution, s.credit))
        .collect();
    assert_eq!(credit[&contribution(0)], w_a);
    assert_eq!(credit[&contribution(1)], w_bc / 2);
    assert_eq!(credit[&contribution(2)], w_bc / 2);
    let parts: Vec<u32> = shares.shares.iter().map(|s| s.perbill).collect();
    // 12 : 3 : 3 bits.
    assert_eq!(parts, vec![666_666_667, 166_666_667, 166_666_666]);
    assert_eq!(shares.total_perbill(), 1_000_000_000);
}

#[test]
fn nothing_matches_means_no_shares() {
    let docs = vec![(contribution(0), vec![1, 2, 3])];
    let (_d, index) = build(&docs, 1 << 20);
    let (attr, shares) = index.attribute_shares(&[7, 8, 9], &opts()).unwrap();
    assert!(attr.spans.is_empty());
    assert_eq!(shares.total_perbill(), 0);
    assert!(shares.shares.is_empty());
}

#[test]
fn rarer_spans_weigh_more() {
    let mut docs = vec![
        (contribution(0), vec![10, 11]),
        (contribution(1), vec![20, 21]),
    ];
    // Make 20 and 21 common elsewhere (in a third contribution, never next to each other).
    docs.push((contribution(2), vec![20, 5, 21, 5, 20, 5, 21, 5, 20]));
    let (_d, index) = build(&docs, 1 << 20);
    let (_, shares) = index
        .attribute_shares(&[10, 11, 99, 20, 21], &opts())
        .unwrap();
    let by: BTreeMap<_, _> = shares
        .shares
        .iter()
        .map(|s| (s.contribution, s.perbill))
        .collect();
    assert!(by[&contribution(0)] > by[&contribution(1)], "{by:?}");
    assert!(!by.contains_key(&contribution(2)));
}

#[test]
fn same_result_from_many_threads() {
    let docs: Vec<_> = (0..20)
        .map(|i| {
            (
                contribution(i),
                (0..30).map(|j| 1 + ((i * 7 + j * 3) % 11) as u32).collect(),
            )
        })
        .collect();
    let (_d, index) = build(&docs, 100);
    let output: Vec<u32> = (0..200).map(|j| 1 + ((j * 5) % 13) as u32).collect();
    let want = index.attribute_shares(&output, &opts()).unwrap().1;
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..4)
            .map(|_| s.spawn(|| index.attribute_shares(&output, &opts()).unwrap().1))
            .collect();
        for h in handles {
            assert_eq!(h.join().unwrap(), want);
        }
    });
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, .. ProptestConfig::default() })]

    /// Shuffling documents and changing the shard size changes neither the spans nor the shares.
    #[test]
    fn independent_of_document_order_and_sharding(
        docs in prop::collection::vec(prop::collection::vec(1u32..6, 0..15), 1..12),
        output in prop::collection::vec(1u32..7, 0..40),
        seed in any::<u64>(),
        shard_a in 4u64..60,
        shard_b in 4u64..60,
        min_len in 1usize..4,
    ) {
        let docs: Vec<_> = docs.into_iter().enumerate().map(|(i, d)| (contribution(i), d)).collect();
        let mut shuffled = docs.clone();
        let mut x = seed;
        for i in (1..shuffled.len()).rev() {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            shuffled.swap(i, (x >> 33) as usize % (i + 1));
        }
        let (_a, ia) = build(&docs, shard_a);
        let (_b, ib) = build(&shuffled, shard_b);
        let o = AttributeOptions { min_len, max_cnt: 1000, ..Default::default() };
        let (sa, ha) = ia.attribute_shares(&output, &o).unwrap();
        let (sb, hb) = ib.attribute_shares(&output, &o).unwrap();
        let spans = |r: &AttributionResult| r.spans.iter().map(|s| (s.l, s.r, s.count)).collect::<Vec<_>>();
        prop_assert_eq!(spans(&sa), spans(&sb));
        prop_assert_eq!(&ha, &hb);
        let total = ha.total_perbill();
        prop_assert!(total == 1_000_000_000 || (total == 0 && sa.spans.is_empty()));
    }
}
