//! The native attribution engine behind the runtime's `attribution_engine` host functions,
//! registered only in off-chain workers (see `service.rs`).
//!
//! Everything the engine reads is named by a content hash, so every honest attestor computes
//! the same shares from the same request:
//! - the output and the contributions are the node's indexed transactions
//!   (`BlockBackend::indexed_transaction`), as `record_inference` and `contribute` indexed them;
//! - a base model's tokenizer is `<dir>/tokenizers/<blake2-256 hex>.json`;
//! - a specialised model's gradient-influence index is the directory
//!   `<dir>/influence/<blake2-256 of its index.safetensors, hex>/` written by
//!   `openledger-attr influence --save-index`;
//! - token indexes are built on first use and cached in `<dir>/token-index/<key>/`, the key
//!   being the blake2-256 of the tokenizer hash and the `(datanet, version, Merkle root)` list:
//!   a version's content never changes, so neither does its index.
//!
//! `<dir>` is the node's `--attribution-dir` (default: `<base path>/attribution`).

use std::{
    collections::HashMap,
    fs,
    path::{Path, PathBuf},
    sync::{Arc, Mutex},
};

use openledger_attribution_engine::{influence, token};
use openledger_primitives::{
    attribution::{apportion_top_k, AttributionRequest, Engine, EngineError, EngineMethod},
    datanets::ContributionId,
};
use sp_core::H256;
use sp_io::hashing::blake2_256;

/// Where a node finds payloads by content hash (its indexed transactions).
pub type PayloadSource = Box<dyn Fn(H256) -> Result<Option<Vec<u8>>, String> + Send + Sync>;

/// Shortest output span that counts as reproducing data, in tokens.
pub const MIN_SPAN_TOKENS: usize = 4;
/// Spans found more often than this in the data are too common to credit anyone.
pub const MAX_SPAN_COUNT: u64 = 1_000;
/// Opened indexes of each kind kept in memory.
const OPEN_INDEXES: usize = 8;

/// The engine of one node.
pub struct NodeEngine {
    dir: PathBuf,
    payloads: PayloadSource,
    token_indexes: Mutex<HashMap<H256, Arc<token::Index>>>,
    /// Loaded gradient-influence indexes, by hash (loading and hashing one is file I/O).
    influence_indexes: Mutex<HashMap<H256, Arc<influence::index::AttributionIndex>>>,
    /// One index build at a time (two workers may want the same one).
    building: Mutex<()>,
}

impl NodeEngine {
    /// An engine keeping its files under `dir` and reading payloads from `payloads`.
    pub fn new(dir: impl Into<PathBuf>, payloads: PayloadSource) -> Self {
        Self {
            dir: dir.into(),
            payloads,
            token_indexes: Mutex::new(HashMap::new()),
            influence_indexes: Mutex::new(HashMap::new()),
            building: Mutex::new(()),
        }
    }

    fn payload(&self, hash: H256) -> Result<Vec<u8>, EngineError> {
        match (self.payloads)(hash) {
            Ok(Some(bytes)) => Ok(bytes),
            Ok(None) => Err(EngineError::MissingData(hash)),
            Err(e) => Err(EngineError::Engine(format!("reading {hash:?}: {e}"))),
        }
    }

    /// The output's token ids, checked against their hash and count.
    fn output(&self, request: &AttributionRequest) -> Result<Vec<u32>, EngineError> {
        let bytes = self.payload(request.output_hash)?;
        if H256(blake2_256(&bytes)) != request.output_hash
            || bytes.len() != request.output_len as usize * 4
        {
            return Err(EngineError::InvalidInput(format!(
                "the indexed output has {} bytes, not {} token ids",
                bytes.len(),
                request.output_len
            )));
        }
        Ok(bytes
            .chunks_exact(4)
            .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect())
    }

    fn token_spans(
        &self,
        request: &AttributionRequest,
        output: &[u32],
        tokenizer_hash: H256,
    ) -> Result<Vec<(ContributionId, u128)>, EngineError> {
        let index = self.token_index(request, tokenizer_hash)?;
        let separator = index.token_width().separator();
        if let Some(t) = output.iter().find(|t| **t >= separator) {
            return Err(EngineError::InvalidInput(format!(
                "token id {t} is outside the tokenizer's vocabulary"
            )));
        }
        let ids: HashMap<(u64, u32, [u8; 32]), ContributionId> = request
            .contributions
            .iter()
            .map(|c| ((c.datanet as u64, c.version, c.content_hash.0), c.id))
            .collect();
        let opts = token::AttributeOptions {
            min_len: MIN_SPAN_TOKENS,
            max_cnt: MAX_SPAN_COUNT,
            ..Default::default()
        };
        let (_, shares) = index
            .attribute_shares(output, &opts)
            .map_err(engine_error)?;
        shares
            .shares
            .into_iter()
            .map(|s| {
                let c = s.contribution;
                ids.get(&(c.datanet_id, c.version, c.content_hash.0))
                    .map(|id| (*id, s.credit))
                    .ok_or_else(|| {
                        EngineError::Engine(format!("the index holds {c:?}, not in the request"))
                    })
            })
            .collect()
    }

    /// The token index of the request's versions, opened from the cache or built.
    fn token_index(
        &self,
        request: &AttributionRequest,
        tokenizer_hash: H256,
    ) -> Result<Arc<token::Index>, EngineError> {
        let mut versions = request.versions.clone();
        versions.sort();
        let key = H256(blake2_256(&codec::Encode::encode(&(
            tokenizer_hash,
            versions,
        ))));
        let cached = || self.token_indexes.lock().expect("not poisoned").get(&key).cloned();
        if let Some(index) = cached() {
            return Ok(index);
        }
        let _building = self.building.lock().expect("not poisoned");
        // Another worker may have opened it while this one waited.
        if let Some(index) = cached() {
            return Ok(index);
        }
        let path = self.dir.join("tokenizers").join(format!("{}.json", hex(&tokenizer_hash)));
        let bytes = fs::read(&path).map_err(|_| EngineError::MissingArtifact(tokenizer_hash))?;
        if H256(blake2_256(&bytes)) != tokenizer_hash {
            return Err(EngineError::MissingArtifact(tokenizer_hash));
        }
        let tokenizer = token::Tokenizer::from_bytes(&bytes).map_err(engine_error)?;
        let width = if tokenizer.vocab_size() < token::TokenWidth::U16.separator() as usize {
            token::TokenWidth::U16
        } else {
            token::TokenWidth::U32
        };
        let dir = self.dir.join("token-index").join(hex(&key));
        if !dir.join(COMPLETE).exists() {
            self.build_token_index(request, &tokenizer, width, &dir)?;
        }
        let index = Arc::new(
            token::Index::open(
                &dir,
                token::OpenOptions {
                    token_width: width,
                    eos: 0,
                },
            )
            .map_err(engine_error)?,
        );
        let mut open = self.token_indexes.lock().expect("not poisoned");
        if open.len() >= OPEN_INDEXES {
            open.clear();
        }
        open.insert(key, index.clone());
        Ok(index)
    }

    /// Tokenises every contribution of the request (UTF-8, invalid bytes replaced) and builds
    /// their index in a scratch directory renamed into place when complete.
    fn build_token_index(
        &self,
        request: &AttributionRequest,
        tokenizer: &token::Tokenizer,
        width: token::TokenWidth,
        dir: &Path,
    ) -> Result<(), EngineError> {
        let mut documents = Vec::with_capacity(request.contributions.len());
        for c in &request.contributions {
            let bytes = self.payload(c.content_hash)?;
            let tokens = tokenizer
                .encode(&String::from_utf8_lossy(&bytes))
                .map_err(engine_error)?;
            let contribution = token::Contribution {
                datanet_id: c.datanet as u64,
                version: c.version,
                content_hash: token::ContentHash(c.content_hash.0),
            };
            documents.push((contribution, tokens));
        }
        let scratch = dir.with_extension(format!("building-{}", std::process::id()));
        let _ = fs::remove_dir_all(&scratch);
        fs::create_dir_all(&scratch).map_err(io_error)?;
        token::build_datanet_index(&scratch, width, documents).map_err(engine_error)?;
        fs::write(scratch.join(COMPLETE), b"").map_err(io_error)?;
        let _ = fs::remove_dir_all(dir);
        fs::rename(&scratch, dir).map_err(io_error)?;
        log::info!(target: "attribution", "built the token index {}", dir.display());
        Ok(())
    }

    /// The gradient-influence index whose `index.safetensors` hashes to `index_hash`, loaded
    /// and checked once.
    fn influence_index(
        &self,
        index_hash: H256,
    ) -> Result<Arc<influence::index::AttributionIndex>, EngineError> {
        if let Some(index) = self.influence_indexes.lock().expect("not poisoned").get(&index_hash) {
            return Ok(index.clone());
        }
        let dir = self.dir.join("influence").join(hex(&index_hash));
        let bytes = fs::read(dir.join("index.safetensors"))
            .map_err(|_| EngineError::MissingArtifact(index_hash))?;
        if H256(blake2_256(&bytes)) != index_hash {
            return Err(EngineError::MissingArtifact(index_hash));
        }
        let dir_str = dir.to_str().ok_or_else(|| EngineError::Engine("non-UTF-8 path".into()))?;
        let index = Arc::new(
            influence::index::AttributionIndex::load(dir_str).map_err(engine_error)?,
        );
        let mut open = self.influence_indexes.lock().expect("not poisoned");
        if open.len() >= OPEN_INDEXES {
            open.clear();
        }
        open.insert(index_hash, index.clone());
        Ok(index)
    }

    /// Gradient influence of the training examples on the test example of `output`: the
    /// features as `f32` bit patterns, then the predicted label.
    fn gradient_influence(
        &self,
        request: &AttributionRequest,
        output: &[u32],
        index_hash: H256,
    ) -> Result<Vec<(ContributionId, u128)>, EngineError> {
        let index = self.influence_index(index_hash)?;
        let d = index.meta.d;
        let Some((label, features)) = output.split_last().filter(|(_, f)| f.len() == d) else {
            return Err(EngineError::InvalidInput(format!(
                "a test example of this model is {} features and a label, got {} ids",
                d,
                output.len()
            )));
        };
        let x: Vec<f64> = features.iter().map(|b| f32::from_bits(*b) as f64).collect();
        if x.iter().any(|v| !v.is_finite()) {
            return Err(EngineError::InvalidInput("a feature is not finite".into()));
        }
        let test =
            influence::Dataset::new(x, vec![*label as usize], None, d).map_err(engine_error)?;
        test.check_labels(index.meta.model.classes, "output")
            .map_err(|e| EngineError::InvalidInput(e.to_string()))?;
        let test = match &index.meta.standardizer {
            Some(st) => st.apply(&test).map_err(engine_error)?,
            None => test,
        };
        let scores = index.score(&test).map_err(engine_error)?;
        let shares =
            influence::contribution_shares(&scores, &index.contributions).map_err(engine_error)?;
        let known: std::collections::HashSet<ContributionId> =
            request.contributions.iter().map(|c| c.id).collect();
        Ok(shares
            .positive
            .into_iter()
            .filter(|(id, _)| known.contains(id))
            .map(|(id, parts)| (id, parts as u128))
            .collect())
    }
}

impl Engine for NodeEngine {
    fn attribute(
        &self,
        request: AttributionRequest,
    ) -> Result<Vec<(ContributionId, u32)>, EngineError> {
        let started = std::time::Instant::now();
        let job = request.job;
        let result = self.attribute_timed(request);
        log::info!(
            target: "attribution",
            "job {job}: {} in {:.1} ms",
            match &result {
                Ok(shares) => format!("{} shares", shares.len()),
                Err(e) => format!("{e:?}"),
            },
            started.elapsed().as_secs_f64() * 1e3
        );
        result
    }
}

impl NodeEngine {
    fn attribute_timed(
        &self,
        request: AttributionRequest,
    ) -> Result<Vec<(ContributionId, u32)>, EngineError> {
        let output = self.output(&request)?;
        let credits = match request.method {
            EngineMethod::TokenSpans { tokenizer_hash } => {
                self.token_spans(&request, &output, tokenizer_hash)?
            }
            EngineMethod::GradientInfluence { index_hash } => {
                self.gradient_influence(&request, &output, index_hash)?
            }
        };
        Ok(apportion_top_k(&credits, request.max_shares as usize))
    }
}

/// Marks a complete index directory.
const COMPLETE: &str = "complete";

fn hex(hash: &H256) -> String {
    hash.0.iter().map(|b| format!("{b:02x}")).collect()
}

fn engine_error(e: impl std::fmt::Display) -> EngineError {
    EngineError::Engine(e.to_string())
}

fn io_error(e: std::io::Error) -> EngineError {
    EngineError::Engine(format!("attribution cache: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use openledger_primitives::attribution::{CandidateContribution, SHARES_TOTAL};

    const DOCS: [&str; 3] = [
        "the cat sat on the mat and looked at the door",
        "a dog ran in the park and barked at every bird it saw",
        "rain fell on the roof of the old house all night",
    ];

    struct Fixture {
        _dir: tempfile::TempDir,
        engine: NodeEngine,
        tokenizer_hash: H256,
        contributions: Vec<CandidateContribution>,
        vocab: Vec<String>,
        store: Arc<Mutex<HashMap<H256, Vec<u8>>>>,
    }

    fn fixture() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let vocab = token::Tokenizer::word_vocab(&DOCS);
        let tokenizer = token::Tokenizer::word_level_json(&vocab);
        let tokenizer_hash = H256(blake2_256(&tokenizer));
        fs::create_dir_all(dir.path().join("tokenizers")).unwrap();
        fs::write(
            dir.path()
                .join("tokenizers")
                .join(format!("{}.json", hex(&tokenizer_hash))),
            &tokenizer,
        )
        .unwrap();
        let store = Arc::new(Mutex::new(HashMap::new()));
        let contributions = DOCS
            .iter()
            .enumerate()
            .map(|(i, d)| {
                let hash = H256(blake2_256(d.as_bytes()));
                store.lock().unwrap().insert(hash, d.as_bytes().to_vec());
                CandidateContribution {
                    id: 10 + i as u64,
                    datanet: 1,
                    version: 1,
                    content_hash: hash,
                }
            })
            .collect();
        let reader = store.clone();
        let engine = NodeEngine::new(
            dir.path(),
            Box::new(move |h| Ok(reader.lock().unwrap().get(&h).cloned())),
        );
        Fixture {
            _dir: dir,
            engine,
            tokenizer_hash,
            contributions,
            vocab,
            store,
        }
    }

    impl Fixture {
        fn ids(&self, text: &str) -> Vec<u32> {
            text.split(' ')
                .map(|w| self.vocab.iter().position(|v| v == w).unwrap() as u32 + 1)
                .collect()
        }

        fn request(&self, output: &[u32]) -> AttributionRequest {
            let bytes: Vec<u8> = output.iter().flat_map(|t| t.to_le_bytes()).collect();
            let output_hash = H256(blake2_256(&bytes));
            self.store.lock().unwrap().insert(output_hash, bytes);
            AttributionRequest {
                job: 0,
                model: 0,
                method: EngineMethod::TokenSpans {
                    tokenizer_hash: self.tokenizer_hash,
                },
                versions: vec![(1, 1, H256::repeat_byte(1))],
                contributions: self.contributions.clone(),
                output_hash,
                output_len: output.len() as u32,
                max_shares: 8,
            }
        }
    }

    #[test]
    fn an_output_reproducing_one_document_credits_it_alone() {
        let f = fixture();
        let output = f.ids("a dog ran in the park and barked");
        let shares = f.engine.attribute(f.request(&output)).unwrap();
        assert_eq!(shares, vec![(11, SHARES_TOTAL)]);
        // The cached index answers the same.
        assert_eq!(f.engine.attribute(f.request(&output)).unwrap(), shares);
        let fresh = NodeEngine::new(f._dir.path(), Box::new(|_| Ok(None)));
        let r = f.request(&output);
        // Without payloads a fresh engine still has the cached index, but not the output.
        assert_eq!(
            fresh.attribute(r),
            Err(EngineError::MissingData(f.request(&output).output_hash))
        );
    }

    #[test]
    fn spans_from_two_documents_share_and_short_matches_count_for_nothing() {
        let f = fixture();
        let output = f.ids("the cat sat on the mat and rain fell on the roof of the old house");
        let shares = f.engine.attribute(f.request(&output)).unwrap();
        assert_eq!(shares.iter().map(|s| s.0).collect::<Vec<_>>(), vec![10, 12]);
        assert_eq!(
            shares.iter().map(|s| s.1 as u64).sum::<u64>(),
            SHARES_TOTAL as u64
        );
        // "on the" and "the" occur everywhere but are shorter than MIN_SPAN_TOKENS.
        let common = f.ids("on the park the");
        assert_eq!(f.engine.attribute(f.request(&common)).unwrap(), vec![]);
    }

    #[test]
    fn bad_requests_are_clear_errors() {
        let f = fixture();
        let output = f.ids("a dog ran in the park");
        let mut r = f.request(&output);
        r.output_len += 1;
        assert!(matches!(
            f.engine.attribute(r),
            Err(EngineError::InvalidInput(_))
        ));
        let mut r = f.request(&output);
        r.method = EngineMethod::TokenSpans {
            tokenizer_hash: H256::repeat_byte(7),
        };
        assert_eq!(
            f.engine.attribute(r),
            Err(EngineError::MissingArtifact(H256::repeat_byte(7)))
        );
        let mut r = f.request(&output);
        r.versions = vec![(1, 2, H256::repeat_byte(2))];
        r.contributions[1].content_hash = H256::repeat_byte(5);
        assert_eq!(
            f.engine.attribute(r),
            Err(EngineError::MissingData(H256::repeat_byte(5)))
        );
        let r = f.request(&[70_000]);
        assert!(matches!(
            f.engine.attribute(r),
            Err(EngineError::InvalidInput(_))
        ));
        let mut r = f.request(&output);
        r.method = EngineMethod::GradientInfluence {
            index_hash: H256::repeat_byte(8),
        };
        assert_eq!(
            f.engine.attribute(r),
            Err(EngineError::MissingArtifact(H256::repeat_byte(8)))
        );
    }

    #[test]
    fn top_k_keeps_the_largest_credits() {
        let f = fixture();
        let output =
            f.ids("the cat sat on the mat and rain fell on the roof of the old house all night");
        let mut r = f.request(&output);
        r.max_shares = 1;
        assert_eq!(f.engine.attribute(r).unwrap(), vec![(12, SHARES_TOTAL)]);
    }

    #[test]
    fn a_specialised_model_is_attributed_by_its_influence_index() {
        use influence::{
            index::AttributionIndex, Classifier, Dataset, Method, MethodOptions, ModelConfig,
            Standardizer,
        };
        let dir = tempfile::tempdir().unwrap();
        // Two clusters; each training row is its own contribution (ids 100..).
        let mut x = Vec::new();
        let mut y = Vec::new();
        for i in 0..40 {
            let c = (i % 2) as f64;
            let jitter = (i as f64 * 0.37).sin() * 0.3;
            x.extend([c * 3.0 + jitter, c * -2.0 + jitter * 0.5]);
            y.push(i % 2);
        }
        let ids: Vec<u64> = (100..140).collect();
        let train = Dataset::new(x, y, Some(ids.clone()), 2).unwrap();
        let st = Standardizer::fit(&train);
        let train = st.apply(&train).unwrap();
        let mut model = Classifier::new(ModelConfig::logreg(2, 1e-3), 2).unwrap();
        model.train(&train).unwrap();
        let opts = MethodOptions::new(Method::Trak).projected(4, 7);
        let tmp = dir.path().join("tmp");
        AttributionIndex::build(&model, &train, &opts, Some(st))
            .unwrap()
            .save(tmp.to_str().unwrap())
            .unwrap();
        let index_hash = H256(blake2_256(
            &fs::read(tmp.join("index.safetensors")).unwrap(),
        ));
        fs::create_dir_all(dir.path().join("influence")).unwrap();
        fs::rename(&tmp, dir.path().join("influence").join(hex(&index_hash))).unwrap();

        let output: Vec<u32> = [3.1f32, -2.0]
            .iter()
            .map(|v| v.to_bits())
            .chain([1])
            .collect();
        let bytes: Vec<u8> = output.iter().flat_map(|t| t.to_le_bytes()).collect();
        let output_hash = H256(blake2_256(&bytes));
        let engine = NodeEngine::new(
            dir.path(),
            Box::new(move |h| Ok((h == output_hash).then(|| bytes.clone()))),
        );
        let request = AttributionRequest {
            job: 0,
            model: 0,
            method: EngineMethod::GradientInfluence { index_hash },
            versions: vec![],
            contributions: ids
                .iter()
                .map(|id| CandidateContribution {
                    id: *id,
                    datanet: 1,
                    version: 1,
                    content_hash: H256::zero(),
                })
                .collect(),
            output_hash,
            output_len: 3,
            max_shares: 5,
        };
        let shares = engine.attribute(request.clone()).unwrap();
        // Loaded once: the next job does not go back to the files.
        fs::remove_dir_all(dir.path().join("influence")).unwrap();
        assert_eq!(engine.attribute(request.clone()).unwrap(), shares);
        assert_eq!(shares.len(), 5);
        assert_eq!(
            shares.iter().map(|s| s.1 as u64).sum::<u64>(),
            SHARES_TOTAL as u64
        );
        // The supporters of a class-1 prediction are class-1 examples (odd rows).
        assert!(
            shares.iter().all(|(id, _)| (id - 100) % 2 == 1),
            "{shares:?}"
        );
        let mut bad = request;
        bad.output_len = 2;
        assert!(matches!(
            engine.attribute(bad),
            Err(EngineError::InvalidInput(_))
        ));
    }
}
