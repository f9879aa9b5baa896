//! Models: the types shared by `pallet-models` and the pallets that depend on the registry
//! (attribution, rewards), through the [`ModelInspect`] trait rather than the pallet itself.

extern crate alloc;

use alloc::vec::Vec;
use codec::{Decode, DecodeWithMemTracking, Encode, MaxEncodedLen};
use scale_info::TypeInfo;
use sp_runtime::Perbill;

#[cfg(feature = "std")]
use serde::{Deserialize, Serialize};

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
}
