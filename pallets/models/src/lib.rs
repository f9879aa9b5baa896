//! # Models pallet
//!
//! The model registry: the link in OpenLedger's supply chain between data and inference. Every
//! model served for a fee is traceable, on-chain, to the exact datanet versions it learned
//! from, the base model it runs on, its artifacts (content hashes), its price and its public
//! fee split.
//!
//! ## Base models: registered by governance
//!
//! [`Pallet::register_base_model`] takes [`Config::GovernanceOrigin`] (root in the OpenLedger
//! runtime), not a deposit. Base models are few, every adapter and its attribution depend on
//! them (architecture, tokenizer), and their license must be checked before builders invest in
//! adapters; a deposit would let anyone publish an unchecked base, governance review does not.
//! A base model records name, architecture, parameter count, weights and tokenizer content
//! hashes, license and file format ([`ModelFormat`]); the same weights may be registered once.
//!
//! ## Models and adapters: registered by anyone, with a deposit
//!
//! [`Pallet::register_model`] registers a specialised model or a LoRA adapter owned by the
//! caller, holding [`Config::ModelDeposit`] (fungible hold, [`HoldReason::ModelDeposit`]) from
//! it. Models are permanent records (history must stay readable after retirement), so the
//! deposit stays on hold for good and does not move with ownership. A registration records:
//!
//! * **kind** ([`ModelKind`]) and **base**: an adapter must name an existing base model; a
//!   specialised model may name one (fine-tuned from it) or none;
//! * the **datanet versions used**: 1..=[`Config::MaxDatanetRefs`] distinct
//!   `(datanet, version)` pairs, each an existing datanet with that version published
//!   ([`Config::Datanets`], a [`DatanetInspect`]);
//! * **hashes** of the training configuration, the weights and the attribution index (suffix
//!   array and/or projected gradients). The same weights may be registered once per owner;
//! * the **price** per 1,000 output tokens, in the smallest unit of OPEN;
//! * the **fee split** ([`FeeSplit`]): owner, contributors, attestors and treasury parts that
//!   sum to exactly 100 % and respect the governance-set [`FeeSplitBounds`] in force at
//!   registration ([`Pallet::set_fee_split_bounds`]; the default is
//!   [`Config::DefaultFeeSplitBounds`]). A registered split never changes; a new version may
//!   carry a new one.
//!
//! ## Lifecycle
//!
//! * **Versions**: `register_model(.., previous: Some(id))` registers a new version of the
//!   caller's model `id` (same kind). Lineage is linear: each model has at most one successor,
//!   `version` counts from 1. The previous version keeps its status; its owner deprecates or
//!   retires it when ready.
//! * **Status** ([`ModelStatus`]): `Active` → `Deprecated` (still served) → `Retired` (no new
//!   inferences: [`ModelInspect::is_active`] turns false). Retirement is final; the record and
//!   its history stay.
//! * **Ownership**: [`Pallet::transfer_ownership`] (the new owner must not already own a model
//!   with the same weights).
//! * **Price**: [`Pallet::set_price`] announces a new price that applies from
//!   `now + PriceChangeDelay`; until then it is visible as `pending_price` in state and in the
//!   runtime API, so callers see every change before it hits them. The change is applied
//!   lazily: whoever reads the price (the runtime API, [`ModelInspect::price_per_1k_tokens`])
//!   gets the price in force at the current block, and the next call that writes the model
//!   folds a due change into its stored price. No hook, so no unbounded per-block work.
//!
//! Every error is a named [`Error`] and leaves state untouched; every change emits an
//! [`Event`]. `try_state` checks every invariant (see [`Pallet::do_try_state`]).
//!
//! Other pallets (attribution, rewards) read the registry through
//! [`openledger_primitives::models::ModelInspect`], never through this pallet.

#![cfg_attr(not(feature = "std"), no_std)]
// `register_model` takes every registration parameter as its own call argument (as FRAME calls do).
#![allow(clippy::too_many_arguments)]

extern crate alloc;

#[cfg(feature = "runtime-benchmarks")]
mod benchmarking;
#[cfg(test)]
mod mock;
#[cfg(test)]
mod tests;
pub mod weights;

use alloc::{string::String, vec::Vec};
use codec::{Decode, Encode, MaxEncodedLen};
use frame_support::{
    pallet_prelude::*,
    traits::{
        fungible::{self, Inspect, InspectHold, MutateHold},
        EnsureOrigin,
    },
    BoundedVec, CloneNoBound, DebugNoBound, EqNoBound, PartialEqNoBound,
};
use frame_system::pallet_prelude::*;
use scale_info::TypeInfo;
use sp_core::H256;
use sp_runtime::traits::{Saturating, Zero};

pub use openledger_primitives::datanets::{DatanetId, DatanetInspect, VersionNumber};
pub use openledger_primitives::models::{
    BaseModelId, BaseModelInfo, FeeSplit, FeeSplitBounds, ModelFormat, ModelId, ModelInfo,
    ModelInspect, ModelKind, ModelStatus, ModelSummary, PendingPrice,
};

pub use pallet::*;
pub use weights::WeightInfo;

/// Balance type of the pallet's currency.
pub type BalanceOf<T> =
    <<T as Config>::Currency as Inspect<<T as frame_system::Config>::AccountId>>::Balance;

/// Text field of at most `S` bytes (UTF-8, checked on the way in).
pub type BoundedText<S> = BoundedVec<u8, S>;
/// The datanet snapshots a model learned from.
pub type DatanetRefsOf<T> = BoundedVec<(DatanetId, VersionNumber), <T as Config>::MaxDatanetRefs>;
/// A pending price change in state.
pub type PendingPriceOf<T> = PendingPrice<BalanceOf<T>, BlockNumberFor<T>>;

/// A base model in state.
#[derive(
    Encode, Decode, CloneNoBound, PartialEqNoBound, EqNoBound, DebugNoBound, TypeInfo, MaxEncodedLen,
)]
#[scale_info(skip_type_params(T))]
#[codec(mel_bound(T: Config))]
pub struct BaseModel<T: Config> {
    pub name: BoundedText<T::MaxNameLen>,
    pub architecture: BoundedText<T::MaxArchitectureLen>,
    pub parameter_count: u64,
    pub artifact_hash: H256,
    pub tokenizer_hash: H256,
    pub license: BoundedText<T::MaxLicenseLen>,
    pub format: ModelFormat,
    pub registered_at: BlockNumberFor<T>,
}

/// A model or adapter in state.
#[derive(
    Encode, Decode, CloneNoBound, PartialEqNoBound, EqNoBound, DebugNoBound, TypeInfo, MaxEncodedLen,
)]
#[scale_info(skip_type_params(T))]
#[codec(mel_bound(T: Config))]
pub struct Model<T: Config> {
    /// May deprecate, retire, transfer, change the price and register new versions.
    pub owner: T::AccountId,
    /// Holds the registration deposit.
    pub depositor: T::AccountId,
    pub deposit: BalanceOf<T>,
    pub name: BoundedText<T::MaxNameLen>,
    pub kind: ModelKind,
    pub base: Option<BaseModelId>,
    pub datanet_versions: DatanetRefsOf<T>,
    pub training_config_hash: H256,
    pub artifact_hash: H256,
    pub attribution_index_hash: H256,
    /// Price per 1,000 output tokens, unless `pending_price` is already in force.
    pub price_per_1k_tokens: BalanceOf<T>,
    pub pending_price: Option<PendingPriceOf<T>>,
    pub fee_split: FeeSplit,
    pub status: ModelStatus,
    pub previous: Option<ModelId>,
    pub successor: Option<ModelId>,
    pub version: u32,
    pub registered_at: BlockNumberFor<T>,
}

impl<T: Config> Model<T> {
    /// The price in force at block `now`.
    pub fn price_at(&self, now: BlockNumberFor<T>) -> BalanceOf<T> {
        match self.pending_price {
            Some(p) if p.effective_at <= now => p.price,
            _ => self.price_per_1k_tokens,
        }
    }

    /// The announced change not yet in force at `now`, if any.
    pub fn pending_at(&self, now: BlockNumberFor<T>) -> Option<PendingPriceOf<T>> {
        self.pending_price.filter(|p| p.effective_at > now)
    }

    /// Folds a change that is in force at `now` into the stored price (same price seen by
    /// readers before and after).
    fn settle_price(&mut self, now: BlockNumberFor<T>) {
        self.price_per_1k_tokens = self.price_at(now);
        self.pending_price = self.pending_at(now);
    }
}

/// What the benchmarks need from the runtime: published datanet versions to refer to.
#[cfg(feature = "runtime-benchmarks")]
pub trait BenchmarkHelper {
    /// `n` distinct published `(datanet, version)` pairs, made through the runtime's datanets
    /// pallet.
    fn published_datanet_versions(n: u32)
        -> Result<Vec<(DatanetId, VersionNumber)>, DispatchError>;
}

#[frame_support::pallet]
pub mod pallet {
    use super::*;

    /// The in-code storage version.
    const STORAGE_VERSION: StorageVersion = StorageVersion::new(1);

    #[pallet::pallet]
    #[pallet::storage_version(STORAGE_VERSION)]
    pub struct Pallet<T>(_);

    /// Reasons this pallet holds funds.
    #[pallet::composite_enum]
    pub enum HoldReason {
        /// Registration deposit of a model (held from its registrant for good).
        #[codec(index = 0)]
        ModelDeposit,
    }

    /// The `RuntimeEvent: From<Event<Self>>` bound on `frame_system::Config` is added by the
    /// pallet macro (no deprecated `type RuntimeEvent`).
    #[pallet::config]
    pub trait Config: frame_system::Config {
        /// The currency deposits are held in.
        type Currency: Inspect<Self::AccountId>
            + fungible::Mutate<Self::AccountId>
            + InspectHold<Self::AccountId, Reason = Self::RuntimeHoldReason>
            + MutateHold<Self::AccountId, Reason = Self::RuntimeHoldReason>;

        /// The overarching hold reason.
        type RuntimeHoldReason: From<HoldReason>;

        /// The datanets models refer to.
        type Datanets: DatanetInspect<Self::AccountId, BlockNumberFor<Self>>;

        /// Registers base models and sets the fee-split bounds.
        type GovernanceOrigin: EnsureOrigin<Self::RuntimeOrigin>;

        /// Held from the registrant of a model, for good.
        #[pallet::constant]
        type ModelDeposit: Get<BalanceOf<Self>>;

        /// Blocks between a price change's announcement and its effect.
        #[pallet::constant]
        type PriceChangeDelay: Get<BlockNumberFor<Self>>;

        /// Fee-split bounds until governance sets others; must be satisfiable.
        #[pallet::constant]
        type DefaultFeeSplitBounds: Get<FeeSplitBounds>;

        /// Longest name in bytes.
        #[pallet::constant]
        type MaxNameLen: Get<u32>;

        /// Longest architecture name in bytes.
        #[pallet::constant]
        type MaxArchitectureLen: Get<u32>;

        /// Longest license (SPDX id or URL) in bytes.
        #[pallet::constant]
        type MaxLicenseLen: Get<u32>;

        /// Most datanet versions a model may refer to.
        #[pallet::constant]
        type MaxDatanetRefs: Get<u32>;

        /// Largest page the runtime API returns.
        #[pallet::constant]
        type MaxPageSize: Get<u32>;

        /// Weights of the calls.
        type WeightInfo: WeightInfo;

        /// Makes the datanet versions the benchmarks refer to.
        #[cfg(feature = "runtime-benchmarks")]
        type BenchmarkHelper: BenchmarkHelper;
    }

    /// Id of the next base model.
    #[pallet::storage]
    pub type NextBaseModelId<T> = StorageValue<_, BaseModelId, ValueQuery>;

    /// Base models by id.
    #[pallet::storage]
    pub type BaseModels<T: Config> = StorageMap<_, Twox64Concat, BaseModelId, BaseModel<T>>;

    /// Weights hash → base model: the same weights are registered once.
    #[pallet::storage]
    pub type BaseModelByArtifact<T> =
        StorageMap<_, Blake2_128Concat, H256, BaseModelId, OptionQuery>;

    /// Id of the next model (unique across kinds).
    #[pallet::storage]
    pub type NextModelId<T> = StorageValue<_, ModelId, ValueQuery>;

    /// Models and adapters by id.
    #[pallet::storage]
    pub type Models<T: Config> = StorageMap<_, Twox64Concat, ModelId, Model<T>>;

    /// `(owner, weights hash)` → model: one model per weights per owner, and the owner's index.
    #[pallet::storage]
    pub type ModelByArtifact<T: Config> = StorageDoubleMap<
        _,
        Blake2_128Concat,
        T::AccountId,
        Blake2_128Concat,
        H256,
        ModelId,
        OptionQuery,
    >;

    #[pallet::type_value]
    pub fn DefaultSplitBounds<T: Config>() -> FeeSplitBounds {
        T::DefaultFeeSplitBounds::get()
    }

    /// Bounds every new fee split must respect.
    #[pallet::storage]
    pub type SplitBounds<T: Config> =
        StorageValue<_, FeeSplitBounds, ValueQuery, DefaultSplitBounds<T>>;

    #[pallet::event]
    #[pallet::generate_deposit(pub(super) fn deposit_event)]
    pub enum Event<T: Config> {
        /// Governance registered a base model.
        BaseModelRegistered {
            base: BaseModelId,
            artifact_hash: H256,
        },
        /// A model or adapter was registered (a new version of `previous`, if set).
        ModelRegistered {
            model: ModelId,
            owner: T::AccountId,
            kind: ModelKind,
            base: Option<BaseModelId>,
            previous: Option<ModelId>,
            version: u32,
            deposit: BalanceOf<T>,
        },
        /// The owner deprecated the model (still served).
        ModelDeprecated { model: ModelId },
        /// The owner retired the model: no new inferences.
        ModelRetired { model: ModelId },
        /// The model has a new owner.
        OwnershipTransferred {
            model: ModelId,
            from: T::AccountId,
            to: T::AccountId,
        },
        /// A new price was announced; `current` stays in force until `effective_at`.
        PriceChangeScheduled {
            model: ModelId,
            current: BalanceOf<T>,
            price: BalanceOf<T>,
            effective_at: BlockNumberFor<T>,
        },
        /// Governance changed the bounds new fee splits must respect.
        FeeSplitBoundsSet { bounds: FeeSplitBounds },
    }

    #[pallet::error]
    pub enum Error<T> {
        /// No base model with this id.
        BaseModelNotFound,
        /// No model with this id.
        ModelNotFound,
        /// Only the model's owner may do this.
        NotOwner,
        /// A name must not be empty.
        EmptyName,
        /// An architecture must not be empty.
        EmptyArchitecture,
        /// A base model has at least one parameter.
        ZeroParameters,
        /// Text must be valid UTF-8.
        InvalidUtf8,
        /// These weights are already registered (as a base model, or by this owner).
        DuplicateArtifact,
        /// A LoRA adapter must name its base model.
        MissingBaseModel,
        /// A model must name the datanet versions it learned from.
        NoDatanetRefs,
        /// More datanet versions than `MaxDatanetRefs`.
        TooManyDatanetRefs,
        /// The same datanet version is listed twice.
        DuplicateDatanetRef,
        /// A referenced datanet does not exist.
        DatanetNotFound,
        /// A referenced datanet version is not published.
        DatanetVersionNotPublished,
        /// The fee split's parts do not sum to exactly 100 %.
        IncompleteFeeSplit,
        /// The fee split is outside the governance-set bounds.
        FeeSplitOutOfBounds,
        /// The bounds' minimum shares sum to more than 100 %.
        UnsatisfiableBounds,
        /// A new version must be of the same kind as the previous one.
        KindMismatch,
        /// The previous version already has a successor.
        AlreadySuperseded,
        /// The model is retired.
        ModelRetired,
        /// The model is already deprecated.
        AlreadyDeprecated,
        /// The new owner is the current owner.
        AlreadyOwner,
        /// The new price is the price in force and no change is pending.
        PriceUnchanged,
        /// The free balance cannot cover the deposit.
        InsufficientBalance,
        /// No base model ids left.
        TooManyBaseModels,
        /// No model ids left.
        TooManyModels,
        /// No version numbers left in this lineage.
        TooManyVersions,
    }

    #[pallet::hooks]
    impl<T: Config> Hooks<BlockNumberFor<T>> for Pallet<T> {
        #[cfg(feature = "try-runtime")]
        fn try_state(_n: BlockNumberFor<T>) -> Result<(), sp_runtime::TryRuntimeError> {
            Self::do_try_state()
        }

        fn integrity_test() {
            assert!(T::MaxNameLen::get() > 0, "MaxNameLen must be positive");
            assert!(
                T::MaxArchitectureLen::get() > 0,
                "MaxArchitectureLen must be positive"
            );
            assert!(
                T::MaxDatanetRefs::get() > 0,
                "MaxDatanetRefs must be positive"
            );
            assert!(T::MaxPageSize::get() > 0, "MaxPageSize must be positive");
            assert!(
                T::DefaultFeeSplitBounds::get().is_satisfiable(),
                "DefaultFeeSplitBounds must be satisfiable"
            );
        }
    }

    #[pallet::call]
    impl<T: Config> Pallet<T> {
        /// Register a base model. Governance only. The same weights may be registered once.
        #[pallet::call_index(0)]
        #[pallet::weight(T::WeightInfo::register_base_model())]
        pub fn register_base_model(
            origin: OriginFor<T>,
            name: BoundedText<T::MaxNameLen>,
            architecture: BoundedText<T::MaxArchitectureLen>,
            parameter_count: u64,
            artifact_hash: H256,
            tokenizer_hash: H256,
            license: BoundedText<T::MaxLicenseLen>,
            format: ModelFormat,
        ) -> DispatchResult {
            T::GovernanceOrigin::ensure_origin(origin)?;
            Self::check_name(&name)?;
            ensure!(!architecture.is_empty(), Error::<T>::EmptyArchitecture);
            Self::check_text(&architecture)?;
            Self::check_text(&license)?;
            ensure!(parameter_count > 0, Error::<T>::ZeroParameters);
            ensure!(
                !BaseModelByArtifact::<T>::contains_key(artifact_hash),
                Error::<T>::DuplicateArtifact
            );
            let id = NextBaseModelId::<T>::get();
            let next = id.checked_add(1).ok_or(Error::<T>::TooManyBaseModels)?;

            BaseModels::<T>::insert(
                id,
                BaseModel::<T> {
                    name,
                    architecture,
                    parameter_count,
                    artifact_hash,
                    tokenizer_hash,
                    license,
                    format,
                    registered_at: frame_system::Pallet::<T>::block_number(),
                },
            );
            BaseModelByArtifact::<T>::insert(artifact_hash, id);
            NextBaseModelId::<T>::put(next);
            Self::deposit_event(Event::BaseModelRegistered {
                base: id,
                artifact_hash,
            });
            Ok(())
        }

        /// Register a model or adapter owned by the caller, holding `ModelDeposit` from it; with
        /// `previous`, as the next version of the caller's model `previous` (same kind).
        ///
        /// `datanet_versions`: 1..=`MaxDatanetRefs` distinct published datanet versions.
        /// `fee_split`: complete (100 %) and within the current [`FeeSplitBounds`].
        #[pallet::call_index(1)]
        #[pallet::weight(T::WeightInfo::register_model(Pallet::<T>::refs_weight_len(datanet_versions)))]
        pub fn register_model(
            origin: OriginFor<T>,
            name: BoundedText<T::MaxNameLen>,
            kind: ModelKind,
            base: Option<BaseModelId>,
            datanet_versions: Vec<(DatanetId, VersionNumber)>,
            training_config_hash: H256,
            artifact_hash: H256,
            attribution_index_hash: H256,
            price_per_1k_tokens: BalanceOf<T>,
            fee_split: FeeSplit,
            previous: Option<ModelId>,
        ) -> DispatchResult {
            let who = ensure_signed(origin)?;
            Self::check_name(&name)?;
            let datanet_versions = Self::check_datanet_refs(datanet_versions)?;
            if kind == ModelKind::LoraAdapter {
                ensure!(base.is_some(), Error::<T>::MissingBaseModel);
            }
            if let Some(base) = base {
                ensure!(
                    BaseModels::<T>::contains_key(base),
                    Error::<T>::BaseModelNotFound
                );
            }
            ensure!(fee_split.is_complete(), Error::<T>::IncompleteFeeSplit);
            ensure!(
                SplitBounds::<T>::get().admits(&fee_split),
                Error::<T>::FeeSplitOutOfBounds
            );
            ensure!(
                !ModelByArtifact::<T>::contains_key(&who, artifact_hash),
                Error::<T>::DuplicateArtifact
            );
            let id = NextModelId::<T>::get();
            let next = id.checked_add(1).ok_or(Error::<T>::TooManyModels)?;
            let now = frame_system::Pallet::<T>::block_number();
            let (version, previous_model) = match previous {
                None => (1, None),
                Some(prev_id) => {
                    let mut prev = Self::owned_model(prev_id, &who)?;
                    ensure!(prev.kind == kind, Error::<T>::KindMismatch);
                    ensure!(prev.successor.is_none(), Error::<T>::AlreadySuperseded);
                    let version = prev
                        .version
                        .checked_add(1)
                        .ok_or(Error::<T>::TooManyVersions)?;
                    prev.successor = Some(id);
                    prev.settle_price(now);
                    (version, Some((prev_id, prev)))
                }
            };
            let deposit = T::ModelDeposit::get();
            Self::hold(&who, deposit)?;

            Models::<T>::insert(
                id,
                Model::<T> {
                    owner: who.clone(),
                    depositor: who.clone(),
                    deposit,
                    name,
                    kind,
                    base,
                    datanet_versions,
                    training_config_hash,
                    artifact_hash,
                    attribution_index_hash,
                    price_per_1k_tokens,
                    pending_price: None,
                    fee_split,
                    status: ModelStatus::Active,
                    previous,
                    successor: None,
                    version,
                    registered_at: now,
                },
            );
            if let Some((prev_id, prev)) = previous_model {
                Models::<T>::insert(prev_id, prev);
            }
            ModelByArtifact::<T>::insert(&who, artifact_hash, id);
            NextModelId::<T>::put(next);
            Self::deposit_event(Event::ModelRegistered {
                model: id,
                owner: who,
                kind,
                base,
                previous,
                version,
                deposit,
            });
            Ok(())
        }

        /// Mark the model deprecated: still served, but its end is announced. Owner only.
        #[pallet::call_index(2)]
        #[pallet::weight(T::WeightInfo::deprecate())]
        pub fn deprecate(origin: OriginFor<T>, model: ModelId) -> DispatchResult {
            let who = ensure_signed(origin)?;
            let mut m = Self::owned_model(model, &who)?;
            match m.status {
                ModelStatus::Active => {}
                ModelStatus::Deprecated => return Err(Error::<T>::AlreadyDeprecated.into()),
                ModelStatus::Retired => return Err(Error::<T>::ModelRetired.into()),
            }
            m.status = ModelStatus::Deprecated;
            Self::write(model, m);
            Self::deposit_event(Event::ModelDeprecated { model });
            Ok(())
        }

        /// Retire the model: no new inferences; its record and history stay. Owner only. Final.
        #[pallet::call_index(3)]
        #[pallet::weight(T::WeightInfo::retire())]
        pub fn retire(origin: OriginFor<T>, model: ModelId) -> DispatchResult {
            let who = ensure_signed(origin)?;
            let mut m = Self::owned_model(model, &who)?;
            ensure!(m.status != ModelStatus::Retired, Error::<T>::ModelRetired);
            m.status = ModelStatus::Retired;
            Self::write(model, m);
            Self::deposit_event(Event::ModelRetired { model });
            Ok(())
        }

        /// Hand the model to `new_owner`, who must not own a model with the same weights. Owner
        /// only. The deposit stays with the registrant.
        #[pallet::call_index(4)]
        #[pallet::weight(T::WeightInfo::transfer_ownership())]
        pub fn transfer_ownership(
            origin: OriginFor<T>,
            model: ModelId,
            new_owner: T::AccountId,
        ) -> DispatchResult {
            let who = ensure_signed(origin)?;
            let mut m = Self::owned_model(model, &who)?;
            ensure!(new_owner != who, Error::<T>::AlreadyOwner);
            ensure!(
                !ModelByArtifact::<T>::contains_key(&new_owner, m.artifact_hash),
                Error::<T>::DuplicateArtifact
            );
            ModelByArtifact::<T>::remove(&who, m.artifact_hash);
            ModelByArtifact::<T>::insert(&new_owner, m.artifact_hash, model);
            m.owner = new_owner.clone();
            Self::write(model, m);
            Self::deposit_event(Event::OwnershipTransferred {
                model,
                from: who,
                to: new_owner,
            });
            Ok(())
        }

        /// Announce a new price per 1,000 output tokens, in force from `now + PriceChangeDelay`;
        /// replaces any change not yet in force. Owner only; not for retired models.
        #[pallet::call_index(5)]
        #[pallet::weight(T::WeightInfo::set_price())]
        pub fn set_price(
            origin: OriginFor<T>,
            model: ModelId,
            price_per_1k_tokens: BalanceOf<T>,
        ) -> DispatchResult {
            let who = ensure_signed(origin)?;
            let mut m = Self::owned_model(model, &who)?;
            ensure!(m.status != ModelStatus::Retired, Error::<T>::ModelRetired);
            let now = frame_system::Pallet::<T>::block_number();
            m.settle_price(now);
            ensure!(
                m.pending_price.is_some() || m.price_per_1k_tokens != price_per_1k_tokens,
                Error::<T>::PriceUnchanged
            );
            let effective_at = now.saturating_add(T::PriceChangeDelay::get());
            m.pending_price = Some(PendingPrice {
                price: price_per_1k_tokens,
                effective_at,
            });
            let current = m.price_per_1k_tokens;
            Models::<T>::insert(model, m);
            Self::deposit_event(Event::PriceChangeScheduled {
                model,
                current,
                price: price_per_1k_tokens,
                effective_at,
            });
            Ok(())
        }

        /// Set the bounds new fee splits must respect (existing splits keep their terms).
        /// Governance only.
        #[pallet::call_index(6)]
        #[pallet::weight(T::WeightInfo::set_fee_split_bounds())]
        pub fn set_fee_split_bounds(
            origin: OriginFor<T>,
            bounds: FeeSplitBounds,
        ) -> DispatchResult {
            T::GovernanceOrigin::ensure_origin(origin)?;
            ensure!(bounds.is_satisfiable(), Error::<T>::UnsatisfiableBounds);
            SplitBounds::<T>::put(bounds);
            Self::deposit_event(Event::FeeSplitBoundsSet { bounds });
            Ok(())
        }
    }
}

impl<T: Config> Pallet<T> {
    /// The length `register_model` is weighed at: what it reads before failing or succeeding.
    pub fn refs_weight_len(refs: &[(DatanetId, VersionNumber)]) -> u32 {
        u32::try_from(refs.len())
            .unwrap_or(u32::MAX)
            .min(T::MaxDatanetRefs::get())
    }

    fn check_text(text: &[u8]) -> DispatchResult {
        ensure!(core::str::from_utf8(text).is_ok(), Error::<T>::InvalidUtf8);
        Ok(())
    }

    fn check_name(name: &[u8]) -> DispatchResult {
        ensure!(!name.is_empty(), Error::<T>::EmptyName);
        Self::check_text(name)
    }

    /// Bounded, non-empty, distinct, and each an existing datanet's published version.
    fn check_datanet_refs(
        refs: Vec<(DatanetId, VersionNumber)>,
    ) -> Result<DatanetRefsOf<T>, DispatchError> {
        ensure!(!refs.is_empty(), Error::<T>::NoDatanetRefs);
        let refs =
            DatanetRefsOf::<T>::try_from(refs).map_err(|_| Error::<T>::TooManyDatanetRefs)?;
        for (i, (datanet, version)) in refs.iter().enumerate() {
            ensure!(
                !refs.iter().take(i).any(|r| r == &(*datanet, *version)),
                Error::<T>::DuplicateDatanetRef
            );
            ensure!(
                T::Datanets::datanet_exists(*datanet),
                Error::<T>::DatanetNotFound
            );
            ensure!(
                T::Datanets::is_published(*datanet, *version),
                Error::<T>::DatanetVersionNotPublished
            );
        }
        Ok(refs)
    }

    /// The model, if `who` owns it.
    fn owned_model(model: ModelId, who: &T::AccountId) -> Result<Model<T>, DispatchError> {
        let m = Models::<T>::get(model).ok_or(Error::<T>::ModelNotFound)?;
        ensure!(&m.owner == who, Error::<T>::NotOwner);
        Ok(m)
    }

    /// Stores a model, folding a price change that is already in force.
    fn write(model: ModelId, mut m: Model<T>) {
        m.settle_price(frame_system::Pallet::<T>::block_number());
        Models::<T>::insert(model, m);
    }

    /// Hold `amount` (nothing if zero) under `ModelDeposit`, mapping any failure to
    /// `InsufficientBalance`.
    fn hold(who: &T::AccountId, amount: BalanceOf<T>) -> DispatchResult {
        if amount.is_zero() {
            return Ok(());
        }
        let reason: T::RuntimeHoldReason = HoldReason::ModelDeposit.into();
        ensure!(
            T::Currency::can_hold(&reason, who, amount),
            Error::<T>::InsufficientBalance
        );
        T::Currency::hold(&reason, who, amount).map_err(|_| Error::<T>::InsufficientBalance)?;
        Ok(())
    }

    fn text(bytes: &[u8]) -> String {
        String::from_utf8_lossy(bytes).into_owned()
    }

    fn page(start: u64, limit: u32, end: u64) -> core::ops::Range<u64> {
        let limit = u64::from(limit.min(T::MaxPageSize::get()));
        start.min(end)..start.saturating_add(limit).min(end)
    }

    fn base_model_info(id: BaseModelId, b: BaseModel<T>) -> BaseModelInfo<BlockNumberFor<T>> {
        BaseModelInfo {
            id,
            name: Self::text(&b.name),
            architecture: Self::text(&b.architecture),
            parameter_count: b.parameter_count,
            artifact_hash: b.artifact_hash,
            tokenizer_hash: b.tokenizer_hash,
            license: Self::text(&b.license),
            format: b.format,
            registered_at: b.registered_at,
        }
    }

    fn model_info(
        id: ModelId,
        m: Model<T>,
    ) -> ModelInfo<T::AccountId, BalanceOf<T>, BlockNumberFor<T>> {
        let now = frame_system::Pallet::<T>::block_number();
        ModelInfo {
            id,
            price_per_1k_tokens: m.price_at(now),
            pending_price: m.pending_at(now),
            owner: m.owner,
            depositor: m.depositor,
            deposit: m.deposit,
            name: Self::text(&m.name),
            kind: m.kind,
            base: m.base,
            datanet_versions: m.datanet_versions.into_inner(),
            training_config_hash: m.training_config_hash,
            artifact_hash: m.artifact_hash,
            attribution_index_hash: m.attribution_index_hash,
            fee_split: m.fee_split,
            status: m.status,
            previous: m.previous,
            successor: m.successor,
            version: m.version,
            registered_at: m.registered_at,
        }
    }

    /// Runtime API: one base model.
    pub fn api_base_model(id: BaseModelId) -> Option<BaseModelInfo<BlockNumberFor<T>>> {
        BaseModels::<T>::get(id).map(|b| Self::base_model_info(id, b))
    }

    /// Runtime API: base models `start..`, at most `limit` (clamped to `MaxPageSize`).
    pub fn api_base_models(
        start: BaseModelId,
        limit: u32,
    ) -> Vec<BaseModelInfo<BlockNumberFor<T>>> {
        Self::page(start.into(), limit, NextBaseModelId::<T>::get().into())
            .filter_map(|id| BaseModelId::try_from(id).ok())
            .filter_map(Self::api_base_model)
            .collect()
    }

    /// Runtime API: one model, with the price in force now.
    pub fn api_model(
        id: ModelId,
    ) -> Option<ModelInfo<T::AccountId, BalanceOf<T>, BlockNumberFor<T>>> {
        Models::<T>::get(id).map(|m| Self::model_info(id, m))
    }

    /// Runtime API: models `start..`, at most `limit` (clamped to `MaxPageSize`).
    pub fn api_models(
        start: ModelId,
        limit: u32,
    ) -> Vec<ModelInfo<T::AccountId, BalanceOf<T>, BlockNumberFor<T>>> {
        Self::page(start, limit, NextModelId::<T>::get())
            .filter_map(Self::api_model)
            .collect()
    }

    /// Runtime API: the models `owner` owns now with ids `>= start`, in id order, at most
    /// `limit` (clamped to `MaxPageSize`). Reads the owner's index, which holds one entry per
    /// model the owner has.
    pub fn api_models_by_owner(
        owner: T::AccountId,
        start: ModelId,
        limit: u32,
    ) -> Vec<ModelInfo<T::AccountId, BalanceOf<T>, BlockNumberFor<T>>> {
        let mut ids: Vec<ModelId> = ModelByArtifact::<T>::iter_prefix_values(&owner)
            .filter(|id| *id >= start)
            .collect();
        ids.sort_unstable();
        ids.truncate(limit.min(T::MaxPageSize::get()) as usize);
        ids.into_iter().filter_map(Self::api_model).collect()
    }

    /// Runtime API: the bounds new fee splits must respect.
    pub fn api_fee_split_bounds() -> FeeSplitBounds {
        SplitBounds::<T>::get()
    }

    /// Checks every invariant of the pallet's state (run by `try_state` and after every unit
    /// test): ids below their counters, the artifact indices in both directions, base and
    /// datanet references, complete splits, lineage links both ways, and that the funds on hold
    /// equal the recorded deposits.
    #[cfg(any(test, feature = "try-runtime", feature = "std"))]
    pub fn do_try_state() -> Result<(), sp_runtime::TryRuntimeError> {
        use alloc::collections::btree_map::BTreeMap;

        ensure!(
            SplitBounds::<T>::get().is_satisfiable(),
            "fee-split bounds are unsatisfiable"
        );

        let next_base = NextBaseModelId::<T>::get();
        for (id, b) in BaseModels::<T>::iter() {
            ensure!(id < next_base, "base model id beyond NextBaseModelId");
            ensure!(
                BaseModelByArtifact::<T>::get(b.artifact_hash) == Some(id),
                "base artifact index does not point back"
            );
        }
        for (hash, id) in BaseModelByArtifact::<T>::iter() {
            let b = BaseModels::<T>::get(id).ok_or("base artifact index points to nothing")?;
            ensure!(
                b.artifact_hash == hash,
                "base artifact index under the wrong hash"
            );
        }

        let mut holds: BTreeMap<T::AccountId, BalanceOf<T>> = BTreeMap::new();
        let next_model = NextModelId::<T>::get();
        for (id, m) in Models::<T>::iter() {
            ensure!(id < next_model, "model id beyond NextModelId");
            let held = holds.entry(m.depositor.clone()).or_default();
            *held = held.saturating_add(m.deposit);
            ensure!(
                ModelByArtifact::<T>::get(&m.owner, m.artifact_hash) == Some(id),
                "artifact index does not point back"
            );
            ensure!(m.fee_split.is_complete(), "incomplete fee split");
            ensure!(
                m.kind != ModelKind::LoraAdapter || m.base.is_some(),
                "adapter without a base model"
            );
            if let Some(base) = m.base {
                ensure!(BaseModels::<T>::contains_key(base), "unknown base model");
            }
            ensure!(
                !m.datanet_versions.is_empty(),
                "model without datanet versions"
            );
            for (i, r) in m.datanet_versions.iter().enumerate() {
                ensure!(
                    !m.datanet_versions.iter().take(i).any(|o| o == r),
                    "duplicate datanet version"
                );
                // Published versions are immutable, so what was checked at registration holds.
                ensure!(
                    T::Datanets::is_published(r.0, r.1),
                    "datanet version not published"
                );
            }
            match m.previous {
                None => ensure!(m.version == 1, "first version is not 1"),
                Some(prev) => {
                    let p = Models::<T>::get(prev).ok_or("previous version missing")?;
                    ensure!(prev < id, "previous version registered later");
                    ensure!(
                        p.successor == Some(id),
                        "previous does not point to its successor"
                    );
                    ensure!(p.kind == m.kind, "lineage changes kind");
                    ensure!(
                        p.version.checked_add(1) == Some(m.version),
                        "version numbers skip"
                    );
                }
            }
            if let Some(next) = m.successor {
                let s = Models::<T>::get(next).ok_or("successor missing")?;
                ensure!(s.previous == Some(id), "successor does not point back");
            }
        }
        for (owner, hash, id) in ModelByArtifact::<T>::iter() {
            let m = Models::<T>::get(id).ok_or("artifact index points to nothing")?;
            ensure!(m.owner == owner, "artifact index under the wrong owner");
            ensure!(
                m.artifact_hash == hash,
                "artifact index under the wrong hash"
            );
        }

        let reason: T::RuntimeHoldReason = HoldReason::ModelDeposit.into();
        for (who, amount) in holds {
            ensure!(
                T::Currency::balance_on_hold(&reason, &who) == amount,
                "holds differ from the registration deposits"
            );
        }
        Ok(())
    }
}

impl<T: Config> ModelInspect<T::AccountId, BalanceOf<T>> for Pallet<T> {
    fn model(model: ModelId) -> Option<ModelSummary<T::AccountId, BalanceOf<T>>> {
        let m = Models::<T>::get(model)?;
        let now = frame_system::Pallet::<T>::block_number();
        Some(ModelSummary {
            price_per_1k_tokens: m.price_at(now),
            owner: m.owner,
            kind: m.kind,
            base: m.base,
            status: m.status,
            fee_split: m.fee_split,
            datanet_versions: m.datanet_versions.into_inner(),
            artifact_hash: m.artifact_hash,
            attribution_index_hash: m.attribution_index_hash,
            tokenizer_hash: m.base.and_then(BaseModels::<T>::get).map(|b| b.tokenizer_hash),
        })
    }

    fn is_active(model: ModelId) -> bool {
        Models::<T>::get(model).is_some_and(|m| m.status.accepts_inferences())
    }

    fn owner(model: ModelId) -> Option<T::AccountId> {
        Models::<T>::get(model).map(|m| m.owner)
    }

    fn fee_split(model: ModelId) -> Option<FeeSplit> {
        Models::<T>::get(model).map(|m| m.fee_split)
    }

    fn price_per_1k_tokens(model: ModelId) -> Option<BalanceOf<T>> {
        Models::<T>::get(model).map(|m| m.price_at(frame_system::Pallet::<T>::block_number()))
    }

    fn datanet_versions(model: ModelId) -> Vec<(DatanetId, VersionNumber)> {
        Models::<T>::get(model)
            .map(|m| m.datanet_versions.into_inner())
            .unwrap_or_default()
    }
}
