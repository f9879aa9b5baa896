//! Models: the types shared by `pallet-models` and the pallets that depend on the registry
//! (attribution, rewards), through the [`ModelInspect`] trait rather than the pallet itself,
//! and the [`ModelsApi`] runtime API behind the node's `models_*` JSON-RPC methods.

extern crate alloc;

use alloc::{string::String, vec::Vec};
use codec::{Codec, Decode, DecodeWithMemTracking, Encode, MaxEncodedLen};
use scale_info::TypeInfo;
use sp_runtime::Perbill;

#[cfg(feature = "std")]
use serde::{Deserialize, Serialize};

#[cfg(feature = "std")]
use crate::datanets::as_string;
use crate::datanets::{DatanetId, VersionNumber};
use crate::Hash;

/// Identifier of a registered base model (sequential from 0).
pub type BaseModelId = u32;
/// Identifier of a model or adapter, unique across kinds (sequential from 0).
pub type ModelId = u64;

/// What a registered model is.
#[derive(
    Clone, Copy, PartialEq, Eq, Debug, Encode, Decode, DecodeWithMemTracking, TypeInfo, MaxEncodedLen,
)]
#[cfg_attr(feature = "std", derive(Serialize, Deserialize))]
pub enum ModelKind {
    /// A full specialised model (e.g. a classifier trained on a datanet); attributed by
    /// gradient influence.
    Specialised,
    /// A LoRA adapter served on a base model; attributed by token spans.
    LoraAdapter,
}

/// How an inference fee is split. The four parts are exact `Perbill`s that sum to exactly
/// 100 % ([`FeeSplit::is_complete`]); the registry refuses any other split.
#[derive(
    Clone, Copy, PartialEq, Eq, Debug, Encode, Decode, DecodeWithMemTracking, TypeInfo, MaxEncodedLen,
)]
#[cfg_attr(feature = "std", derive(Serialize, Deserialize))]
#[cfg_attr(feature = "std", serde(rename_all = "camelCase"))]
pub struct FeeSplit {
    /// The model's owner.
    pub owner: Perbill,
    /// The data contributors, shared among them by attribution.
    pub contributors: Perbill,
    /// The attestors that computed the attribution.
    pub attestors: Perbill,
    /// The protocol treasury.
    pub treasury: Perbill,
}

impl FeeSplit {
    /// Whether the parts sum to exactly 100 % (computed in parts per billion, no saturation).
    pub fn is_complete(&self) -> bool {
        let parts = [self.owner, self.contributors, self.attestors, self.treasury];
        parts.iter().map(|p| p.deconstruct() as u64).sum::<u64>() ==
            Perbill::one().deconstruct() as u64
    }
}

/// Governance-set bounds every new fee split must respect (parts of the fee, as `Perbill`).
/// Splits registered earlier keep their terms when the bounds change.
#[derive(
    Clone, Copy, PartialEq, Eq, Debug, Encode, Decode, DecodeWithMemTracking, TypeInfo, MaxEncodedLen,
)]
#[cfg_attr(feature = "std", derive(Serialize, Deserialize))]
#[cfg_attr(feature = "std", serde(rename_all = "camelCase"))]
pub struct FeeSplitBounds {
    /// Smallest share for the data contributors.
    pub min_contributors: Perbill,
    /// Smallest share for the attestors (they pay for the attribution compute).
    pub min_attestors: Perbill,
    /// Smallest share for the protocol treasury.
    pub min_treasury: Perbill,
    /// Largest share for the model's owner.
    pub max_owner: Perbill,
}

impl FeeSplitBounds {
    /// Whether some complete split meets the bounds: the three minimums fit in 100 %.
    pub fn is_satisfiable(&self) -> bool {
        let mins = [self.min_contributors, self.min_attestors, self.min_treasury];
        mins.iter().map(|p| p.deconstruct() as u64).sum::<u64>() <=
            Perbill::one().deconstruct() as u64
    }

    /// Whether `split` meets every bound (completeness is checked separately, by
    /// [`FeeSplit::is_complete`]).
    pub fn admits(&self, split: &FeeSplit) -> bool {
        split.contributors >= self.min_contributors &&
            split.attestors >= self.min_attestors &&
            split.treasury >= self.min_treasury &&
            split.owner <= self.max_owner
    }
}

/// File format of a base model's weights.
#[derive(
    Clone, Copy, PartialEq, Eq, Debug, Encode, Decode, DecodeWithMemTracking, TypeInfo, MaxEncodedLen,
)]
#[cfg_attr(feature = "std", derive(Serialize, Deserialize))]
pub enum ModelFormat {
    /// llama.cpp's single-file format (possibly quantised).
    Gguf,
    /// Hugging Face safetensors.
    Safetensors,
}

/// A price change announced by a model's owner: `price` is in force from block `effective_at`.
#[derive(
    Clone, Copy, PartialEq, Eq, Debug, Encode, Decode, DecodeWithMemTracking, TypeInfo, MaxEncodedLen,
)]
#[cfg_attr(feature = "std", derive(Serialize, Deserialize))]
#[cfg_attr(feature = "std", serde(rename_all = "camelCase"))]
#[cfg_attr(
    feature = "std",
    serde(bound(
        serialize = "Balance: core::fmt::Display, BlockNumber: Serialize",
        deserialize = "Balance: core::str::FromStr, BlockNumber: Deserialize<'de>"
    ))
)]
pub struct PendingPrice<Balance, BlockNumber> {
    /// Price per 1,000 output tokens, in the smallest unit of OPEN.
    #[cfg_attr(feature = "std", serde(with = "as_string"))]
    pub price: Balance,
    /// First block at which `price` applies.
    pub effective_at: BlockNumber,
}

/// A base model, as the runtime API returns it (JSON with named fields on the node).
#[derive(Clone, PartialEq, Eq, Debug, Encode, Decode, TypeInfo)]
#[cfg_attr(feature = "std", derive(Serialize, Deserialize))]
#[cfg_attr(feature = "std", serde(rename_all = "camelCase"))]
pub struct BaseModelInfo<BlockNumber> {
    pub id: BaseModelId,
    pub name: String,
    /// Architecture family, e.g. `llama`.
    pub architecture: String,
    pub parameter_count: u64,
    /// Content hash of the weights file.
    pub artifact_hash: Hash,
    /// Content hash of the tokenizer.
    pub tokenizer_hash: Hash,
    /// SPDX id or URL.
    pub license: String,
    pub format: ModelFormat,
    pub registered_at: BlockNumber,
}

/// A model or adapter, as the runtime API returns it.
#[derive(Clone, PartialEq, Eq, Debug, Encode, Decode, TypeInfo)]
#[cfg_attr(feature = "std", derive(Serialize, Deserialize))]
#[cfg_attr(feature = "std", serde(rename_all = "camelCase"))]
#[cfg_attr(
    feature = "std",
    serde(bound(
        serialize = "AccountId: Serialize, Balance: core::fmt::Display, BlockNumber: Serialize",
        deserialize = "AccountId: Deserialize<'de>, Balance: core::str::FromStr, \
		               BlockNumber: Deserialize<'de>"
    ))
)]
pub struct ModelInfo<AccountId, Balance, BlockNumber> {
    pub id: ModelId,
    pub owner: AccountId,
    /// Account whose registration deposit is on hold (the registrant; it does not move with
    /// ownership).
    pub depositor: AccountId,
    #[cfg_attr(feature = "std", serde(with = "as_string"))]
    pub deposit: Balance,
    pub name: String,
    pub kind: ModelKind,
    /// The base model it runs on (always set for a LoRA adapter).
    pub base: Option<BaseModelId>,
    /// The datanet snapshots it learned from.
    pub datanet_versions: Vec<(DatanetId, VersionNumber)>,
    pub training_config_hash: Hash,
    pub artifact_hash: Hash,
    pub attribution_index_hash: Hash,
    /// Price per 1,000 output tokens in force at the block the API was called at.
    #[cfg_attr(feature = "std", serde(with = "as_string"))]
    pub price_per_1k_tokens: Balance,
    /// An announced price change not yet in force.
    pub pending_price: Option<PendingPrice<Balance, BlockNumber>>,
    pub fee_split: FeeSplit,
    pub status: ModelStatus,
    /// Lineage: the version this one replaces, and the one that replaced it.
    pub previous: Option<ModelId>,
    pub successor: Option<ModelId>,
    /// 1 for a first version, `previous.version + 1` otherwise.
    pub version: u32,
    pub registered_at: BlockNumber,
}

/// Lifecycle of a model.
#[derive(
    Clone, Copy, PartialEq, Eq, Debug, Encode, Decode, DecodeWithMemTracking, TypeInfo, MaxEncodedLen,
)]
#[cfg_attr(feature = "std", derive(Serialize, Deserialize))]
pub enum ModelStatus {
    /// Accepts new inferences.
    Active,
    /// Still served, but its owner announced its end; accepts new inferences.
    Deprecated,
    /// No new inferences; its history stays readable.
    Retired,
}

impl ModelStatus {
    /// Whether new inferences may be recorded for a model in this state.
    pub fn accepts_inferences(&self) -> bool {
        !matches!(self, Self::Retired)
    }
}

/// What other pallets need to know about a model to record, attribute and pay an inference.
#[derive(Clone, PartialEq, Eq, Debug, Encode, Decode, TypeInfo)]
#[cfg_attr(feature = "std", derive(Serialize, Deserialize))]
#[cfg_attr(feature = "std", serde(rename_all = "camelCase"))]
pub struct ModelSummary<AccountId, Balance> {
    pub owner: AccountId,
    pub kind: ModelKind,
    /// The base model an adapter runs on (`None` for a specialised model).
    pub base: Option<BaseModelId>,
    pub status: ModelStatus,
    /// Price in the smallest unit of OPEN per 1,000 output tokens, as in force now.
    pub price_per_1k_tokens: Balance,
    pub fee_split: FeeSplit,
    /// The datanet snapshots the model learned from.
    pub datanet_versions: Vec<(DatanetId, VersionNumber)>,
    /// Content hash of the weights (safetensors or GGUF).
    pub artifact_hash: Hash,
    /// Content hash of the attribution index (suffix array and/or projected gradients).
    pub attribution_index_hash: Hash,
    /// The base model's tokenizer hash (LoRA adapters), what token attribution tokenises with.
    pub tokenizer_hash: Option<Hash>,
}

/// Read access to the model registry for other pallets.
pub trait ModelInspect<AccountId, Balance> {
    /// The model, whatever its status; `None` if it was never registered.
    fn model(model: ModelId) -> Option<ModelSummary<AccountId, Balance>>;

    /// Whether the model exists and accepts new inferences.
    fn is_active(model: ModelId) -> bool {
        Self::model(model).is_some_and(|m| m.status.accepts_inferences())
    }
    /// The model's owner.
    fn owner(model: ModelId) -> Option<AccountId> {
        Self::model(model).map(|m| m.owner)
    }
    /// The model's public fee split.
    fn fee_split(model: ModelId) -> Option<FeeSplit> {
        Self::model(model).map(|m| m.fee_split)
    }
    /// The price per 1,000 output tokens in force now.
    fn price_per_1k_tokens(model: ModelId) -> Option<Balance> {
        Self::model(model).map(|m| m.price_per_1k_tokens)
    }
    /// The datanet snapshots the model learned from (empty if unknown).
    fn datanet_versions(model: ModelId) -> Vec<(DatanetId, VersionNumber)> {
        Self::model(model).map(|m| m.datanet_versions).unwrap_or_default()
    }
}

/// No models at all: for mocks of pallets that depend on [`ModelInspect`].
impl<AccountId, Balance> ModelInspect<AccountId, Balance> for () {
    fn model(_: ModelId) -> Option<ModelSummary<AccountId, Balance>> {
        None
    }
}

sp_api::decl_runtime_apis! {
    /// Read access to the model registry for the node's `models_*` JSON-RPC methods. Lists are
    /// paged by id (`start`) and at most `limit` long; the runtime clamps `limit` to its
    /// `MaxPageSize`. A page shorter than `limit` is the last one.
    pub trait ModelsApi<AccountId, Balance, BlockNumber> where
        AccountId: Codec,
        Balance: Codec,
        BlockNumber: Codec,
    {
        /// One base model.
        fn base_model(id: BaseModelId) -> Option<BaseModelInfo<BlockNumber>>;
        /// Base models with ids `start, start + 1, ...` (ids are sequential, never removed).
        fn base_models(start: BaseModelId, limit: u32) -> Vec<BaseModelInfo<BlockNumber>>;
        /// One model or adapter, with the price in force now.
        fn model(id: ModelId) -> Option<ModelInfo<AccountId, Balance, BlockNumber>>;
        /// Models with ids `start, start + 1, ...` (ids are sequential, never removed).
        fn models(start: ModelId, limit: u32) -> Vec<ModelInfo<AccountId, Balance, BlockNumber>>;
        /// The models `owner` owns now with ids `>= start`, in id order.
        fn models_by_owner(owner: AccountId, start: ModelId, limit: u32)
            -> Vec<ModelInfo<AccountId, Balance, BlockNumber>>;
        /// The bounds new fee splits must respect.
        fn fee_split_bounds() -> FeeSplitBounds;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(owner: u32, contributors: u32, attestors: u32, treasury: u32) -> FeeSplit {
        FeeSplit {
            owner: Perbill::from_parts(owner),
            contributors: Perbill::from_parts(contributors),
            attestors: Perbill::from_parts(attestors),
            treasury: Perbill::from_parts(treasury),
        }
    }

    #[test]
    fn a_split_is_complete_only_at_exactly_one_billion_parts() {
        assert!(split(300_000_000, 500_000_000, 100_000_000, 100_000_000).is_complete());
        assert!(split(0, 1_000_000_000, 0, 0).is_complete());
        assert!(!split(300_000_000, 500_000_000, 100_000_000, 99_999_999).is_complete());
        assert!(!split(300_000_000, 500_000_000, 100_000_000, 100_000_001).is_complete());
        // Each part saturates at one billion, so four full parts never wrap round to "complete".
        assert!(!split(1_000_000_000, 1_000_000_000, 1_000_000_000, 1_000_000_000).is_complete());
    }

    #[test]
    fn bounds_admit_only_splits_within_them() {
        let bounds = FeeSplitBounds {
            min_contributors: Perbill::from_percent(20),
            min_attestors: Perbill::from_percent(5),
            min_treasury: Perbill::from_percent(1),
            max_owner: Perbill::from_percent(70),
        };
        assert!(bounds.is_satisfiable());
        assert!(bounds.admits(&split(700_000_000, 200_000_000, 50_000_000, 50_000_000)));
        // Each bound on its own.
        assert!(!bounds.admits(&split(700_000_001, 199_999_999, 50_000_000, 50_000_000)));
        assert!(!bounds.admits(&split(600_000_000, 199_999_999, 100_000_001, 100_000_000)));
        assert!(!bounds.admits(&split(600_000_000, 300_000_000, 49_999_999, 50_000_001)));
        assert!(!bounds.admits(&split(600_000_000, 300_000_000, 90_000_001, 9_999_999)));
        let impossible = FeeSplitBounds {
            min_contributors: Perbill::from_percent(60),
            min_attestors: Perbill::from_percent(30),
            min_treasury: Perbill::from_parts(100_000_001),
            max_owner: Perbill::one(),
        };
        assert!(!impossible.is_satisfiable());
    }

    #[test]
    fn model_info_json_has_ss58_owner_string_prices_and_the_split() {
        let owner = sp_runtime::AccountId32::new([2u8; 32]);
        let info = ModelInfo::<sp_runtime::AccountId32, u128, u32> {
            id: 4,
            owner: owner.clone(),
            depositor: owner.clone(),
            deposit: 10u128.pow(18),
            name: "med-lora".into(),
            kind: ModelKind::LoraAdapter,
            base: Some(0),
            datanet_versions: vec![(1, 2)],
            training_config_hash: Hash::repeat_byte(1),
            artifact_hash: Hash::repeat_byte(2),
            attribution_index_hash: Hash::repeat_byte(3),
            price_per_1k_tokens: u128::MAX,
            pending_price: Some(PendingPrice { price: 5, effective_at: 100 }),
            fee_split: split(300_000_000, 500_000_000, 100_000_000, 100_000_000),
            status: ModelStatus::Active,
            previous: None,
            successor: None,
            version: 1,
            registered_at: 9,
        };
        let json = serde_json::to_string(&info).expect("serializable");
        assert!(json.contains(&format!("\"owner\":\"{owner}\"")), "{json}");
        assert!(json.contains(&format!("\"pricePer1kTokens\":\"{}\"", u128::MAX)), "{json}");
        assert!(json.contains("\"pendingPrice\":{\"price\":\"5\",\"effectiveAt\":100}"), "{json}");
        assert!(json.contains("\"datanetVersions\":[[1,2]]"), "{json}");
        assert!(json.contains("\"kind\":\"LoraAdapter\""), "{json}");
        assert!(json.contains("\"contributors\":500000000"), "{json}");
        let back: ModelInfo<sp_runtime::AccountId32, u128, u32> =
            serde_json::from_str(&json).expect("round trip");
        assert_eq!(back, info);
    }
}
