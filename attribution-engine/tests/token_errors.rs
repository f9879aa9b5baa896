//! Bad input gives a typed error, never a panic or a wrong answer.

use std::fs;
use std::path::Path;

use openledger_attribution_engine::token::*;

fn docs(v: &[&[u32]]) -> Vec<Result<Document>> {
    v.iter()
        .enumerate()
        .map(|(i, d)| {
            let c = Contribution {
                datanet_id: 1,
                version: 1,
                content_hash: ContentHash([i as u8; 32]),
            };
            Ok(Document::new(d.to_vec()).with_contribution(c))
        })
        .collect()
}

fn open(dir: &Path, width: TokenWidth) -> Result<Index> {
    Index::open(
        dir,
        OpenOptions {
            token_width: width,
            eos: 0,
        },
    )
}

fn built(width: TokenWidth) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    IndexBuilder::new(dir.path(), width)
        .build(docs(&[&[1, 2, 3], &[2, 3, 4, 5], &[]]))
        .unwrap();
    dir
}

#[test]
fn separator_and_oversized_tokens_in_documents() {
    let dir = tempfile::tempdir().unwrap();
    let e = IndexBuilder::new(dir.path(), TokenWidth::U16)
        .build(docs(&[&[1], &[2, 65535]]))
        .unwrap_err();
    assert!(
        matches!(
            e,
            Error::SeparatorToken {
                doc: 1,
                token: 65535,
                ..
            }
        ),
        "{e}"
    );
    let e = IndexBuilder::new(dir.path(), TokenWidth::U16)
        .build(docs(&[&[70000]]))
        .unwrap_err();
    assert!(matches!(e, Error::TokenTooWide { token: 70000, .. }), "{e}");
    let e = IndexBuilder::new(dir.path(), TokenWidth::U32)
        .build(docs(&[&[u32::MAX]]))
        .unwrap_err();
    assert!(matches!(e, Error::SeparatorToken { .. }), "{e}");
}

#[test]
fn empty_corpus() {
    let dir = tempfile::tempdir().unwrap();
    let e = IndexBuilder::new(dir.path(), TokenWidth::U16)
        .build(docs(&[]))
        .unwrap_err();
    assert!(matches!(e, Error::EmptyCorpus), "{e}");
    // Empty documents are fine: the corpus is their separators.
    IndexBuilder::new(dir.path(), TokenWidth::U16)
        .build(docs(&[&[], &[]]))
        .unwrap();
    assert_eq!(
        open(dir.path(), TokenWidth::U16)
            .unwrap()
            .count(&[])
            .unwrap()
            .count,
        2
    );
}

#[test]
fn missing_directory_files_and_no_index() {
    let dir = tempfile::tempdir().unwrap();
    let e = open(&dir.path().join("nope"), TokenWidth::U16).unwrap_err();
    assert!(matches!(e, Error::MissingFile { .. }), "{e}");
    let e = open(dir.path(), TokenWidth::U16).unwrap_err();
    assert!(matches!(e, Error::NoShards(_)), "{e}");
    for file in ["table.0", "offset.0", "metaoff.0"] {
        let dir = built(TokenWidth::U16);
        fs::remove_file(dir.path().join(file)).unwrap();
        let e = open(dir.path(), TokenWidth::U16).unwrap_err();
        assert!(matches!(e, Error::MissingFile { .. }), "{file}: {e}");
    }
}

fn truncate(path: &Path, by: u64) {
    let f = fs::OpenOptions::new().write(true).open(path).unwrap();
    let len = f.metadata().unwrap().len();
    f.set_len(len - by).unwrap();
}

#[test]
fn truncated_files() {
    for (file, by) in [
        ("table.0", 1),
        ("table.0", 3),
        ("tokenized.0", 1),
        ("tokenized.0", 2),
        ("offset.0", 1),
        ("offset.0", 8),
        ("metaoff.0", 8),
    ] {
        let dir = built(TokenWidth::U16);
        truncate(&dir.path().join(file), by);
        let e = open(dir.path(), TokenWidth::U16).unwrap_err();
        assert!(
            matches!(e, Error::Corrupt { .. } | Error::WidthMismatch { .. }),
            "{file} less {by} bytes: {e}"
        );
    }
    let dir = built(TokenWidth::U16);
    fs::write(dir.path().join("table.0"), b"").unwrap();
    assert!(matches!(
        open(dir.path(), TokenWidth::U16).unwrap_err(),
        Error::Corrupt { .. }
    ));
}

#[test]
fn corrupt_offsets() {
    let dir = built(TokenWidth::U16);
    let mut od = fs::read(dir.path().join("offset.0")).unwrap();
    od[8] += 2; // the second document no longer starts at a separator
    fs::write(dir.path().join("offset.0"), od).unwrap();
    assert!(matches!(
        open(dir.path(), TokenWidth::U16).unwrap_err(),
        Error::Corrupt { .. }
    ));
}

#[test]
fn mismatched_token_width() {
    let dir = built(TokenWidth::U16);
    let e = open(dir.path(), TokenWidth::U32).unwrap_err();
    assert!(
        matches!(e, Error::WidthMismatch { .. } | Error::Corrupt { .. }),
        "{e}"
    );
    let dir = built(TokenWidth::U32);
    let e = open(dir.path(), TokenWidth::U16).unwrap_err();
    assert!(
        matches!(e, Error::WidthMismatch { .. } | Error::Corrupt { .. }),
        "{e}"
    );
}

#[test]
fn bad_queries() {
    let dir = built(TokenWidth::U16);
    let index = open(dir.path(), TokenWidth::U16).unwrap();
    assert!(matches!(
        index.count(&[70000]).unwrap_err(),
        Error::TokenTooWide { token: 70000, .. }
    ));
    assert!(matches!(
        index.prob(&[1], 70000).unwrap_err(),
        Error::TokenTooWide { .. }
    ));
    assert!(matches!(
        index.ntd(&[1], 0).unwrap_err(),
        Error::InvalidArgument(_)
    ));
    let opts = AttributeOptions {
        max_cnt: 0,
        ..Default::default()
    };
    assert!(matches!(
        index.attribute(&[1], &opts).unwrap_err(),
        Error::InvalidArgument(_)
    ));
    let opts = AttributeOptions {
        max_cnt: 10,
        delim_ids: vec![70000],
        ..Default::default()
    };
    assert!(matches!(
        index.attribute(&[1], &opts).unwrap_err(),
        Error::TokenTooWide { .. }
    ));
    // The separator is a legal query token (it matches document boundaries), as in the reference.
    assert_eq!(index.count(&[65535]).unwrap().count, 3);
    assert_eq!(index.count(&[3, 65535, 2]).unwrap().count, 1);
}

#[test]
fn queries_longer_than_the_corpus_are_answered_not_refused() {
    let dir = built(TokenWidth::U16);
    let index = open(dir.path(), TokenWidth::U16).unwrap();
    let long: Vec<u32> = (0..100).map(|i| 1 + i % 5).collect();
    assert_eq!(index.count(&long).unwrap().count, 0);
    assert_eq!(index.prob(&long, 1).unwrap().prob, -1.0);
    assert_eq!(index.infgram_prob(&long, 1).unwrap().suffix_len, 4); // ends with [2, 3, 4, 5]
    assert_eq!(index.ntd(&long, 10).unwrap().prompt_cnt, 0);
    let spans = index
        .attribute(
            &long,
            &AttributeOptions {
                max_cnt: 10,
                min_len: 2,
                ..Default::default()
            },
        )
        .unwrap();
    assert!(spans.spans.iter().all(|s| s.length <= 4));
    assert_eq!(index.count(&[]).unwrap().count, 10); // 7 tokens + 3 separators
}

#[test]
fn out_of_range_documents() {
    let dir = built(TokenWidth::U16);
    let index = open(dir.path(), TokenWidth::U16).unwrap();
    assert!(matches!(
        index.get_doc_by_rank(0, 10, 5).unwrap_err(),
        Error::RankOutOfRange { .. }
    ));
    assert!(matches!(
        index.get_doc_by_rank(1, 0, 5).unwrap_err(),
        Error::ShardOutOfRange { .. }
    ));
    assert!(matches!(
        index.get_doc_by_ptr(0, 3, 5).unwrap_err(),
        Error::BadPointer { .. }
    ));
    assert!(matches!(
        index.get_doc_by_ptr(0, 20, 5).unwrap_err(),
        Error::BadPointer { .. }
    ));
    assert!(matches!(
        index.get_doc_by_ix(3, 5).unwrap_err(),
        Error::DocOutOfRange { .. }
    ));
    assert!(matches!(
        index.ptrs(0, 5, 11).unwrap_err(),
        Error::RankOutOfRange { .. }
    ));
    // A pointer at a separator: the document after it, the needle just before it.
    let d = index.get_doc_by_ptr(0, 8, 10).unwrap();
    assert_eq!(
        (d.doc_ix, d.needle_offset, d.token_ids),
        (1, 0, vec![2, 3, 4, 5])
    );
}

#[test]
fn shares_need_contributions() {
    let dir = built(TokenWidth::U16);
    fs::remove_file(dir.path().join("metadata.0")).unwrap();
    fs::remove_file(dir.path().join("metaoff.0")).unwrap();
    let index = open(dir.path(), TokenWidth::U16).unwrap();
    let opts = AttributeOptions {
        max_cnt: 10,
        min_len: 1,
        ..Default::default()
    };
    let e = index.attribute_shares(&[2, 3, 4], &opts).unwrap_err();
    assert!(matches!(e, Error::MissingContribution { doc_ix: 1 }), "{e}");
}

#[test]
fn bad_jsonl_input() {
    let input = "{\"token_ids\": [1, 2]}\n\n{\"text\": \"no tokenizer\"}\n";
    let got: Vec<_> = read_jsonl(input.as_bytes(), None).collect();
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].as_ref().unwrap().tokens, vec![1, 2]);
    assert!(matches!(got[1], Err(Error::BadInput { line: 3, .. })));
    for bad in [
        "not json",
        "{\"token_ids\": [-1]}",
        "{\"token_ids\": [99999999999]}",
        "{}",
        "{\"token_ids\": [1], \"text\": \"x\"}",
        "{\"token_ids\": [1], \"contribution\": {\"datanet_id\": 1, \"version\": 1, \"content_hash\": \"0x12\"}}",
        "{\"token_ids\": [1], \"typo\": 1}",
    ] {
        let got: Vec<_> = read_jsonl(bad.as_bytes(), None).collect();
        assert!(matches!(got[0], Err(Error::BadInput { line: 1, .. })), "{bad}");
    }
}
