//! # Datanets pallet
//!
//! Where a contributor's data enters the OpenLedger economy. A *datanet* is a curated,
//! versioned collection of contributions; training, attribution and rewards all refer to what
//! this pallet records, as `(datanet, version)` snapshots and contribution ids.
//!
//! ## Data lives in block bodies, not in state
//!
//! [`Pallet::contribute`] takes the payload as its **last** argument and calls
//! `sp_io::transaction_index::index(extrinsic_index, size, blake2_256(payload))`: the trailing
//! `size` bytes of the encoded extrinsic (exactly the payload bytes after their SCALE length
//! prefix) are indexed by content hash in the node's database, where
//! `BlockBackend::indexed_transaction(content_hash)` finds them. The node keeps them as long as
//! it keeps the block body (block pruning: `archive` / `archive-canonical`; the node's docs
//! describe its flags). State keeps only: id, datanet, position, contributor, content hash,
//! size, block, extrinsic index, status and deposit.
//!
//! ## Policies
//!
//! * **Admission** ([`Admission`]): `Open` (anyone) or `AllowList` (the owner and the accounts
//!   the owner allow-listed with [`Pallet::allow_contributor`]).
//! * **Curation** ([`CurationPolicy`]): `Owner` (only the owner accepts or rejects) or
//!   `Curators` (the owner and every member of the datanet's curator set, at most
//!   [`Config::MaxCurators`]). The same accounts may publish versions.
//! * **Deposits** (fungible holds, never reserves):
//!   * creating a datanet holds [`Config::DatanetDeposit`] from the creator under
//!     [`HoldReason::DatanetDeposit`]. Datanets are permanent records, so this deposit stays on
//!     hold for good; it does not move with ownership.
//!   * contributing holds `ContributionBaseDeposit + deposit_per_byte × size` (saturating) from
//!     the contributor under [`HoldReason::ContributionDeposit`]; `deposit_per_byte` is fixed
//!     when the datanet is created, so contributors know the terms.
//!   * **accepted** contributions keep their deposit on hold (acceptance is final; it bonds the
//!     data the chain keeps forever).
//!   * **rejected** or **withdrawn** (pending only) contributions release the deposit back to the
//!     contributor or forfeit it, per the datanet's [`DepositPolicy`]: `ReleaseAlways`,
//!     `ForfeitOnReject`, `ForfeitOnRejectOrWithdraw`. A forfeited deposit is slashed from the
//!     hold and paid to the datanet's **owner**; if the owner's account cannot receive it (it
//!     would stay below the existential deposit) it is burned. Events say which.
//!   * Invariant (checked by `try_state`): for every account, the balance on hold for
//!     `ContributionDeposit` equals the sum of the deposits of its pending and accepted
//!     contributions, and the balance on hold for `DatanetDeposit` equals the sum of the
//!     creation deposits of the datanets it created.
//! * **Duplicates**: a content hash may occur once per datanet. A pending, accepted or
//!   rejected contribution blocks the same bytes (`DuplicateContribution`); a withdrawn one
//!   frees its hash so its contributor may submit it again.
//! * **Closing**: no new contributions; pending ones may still be curated or withdrawn and
//!   versions published; everything stays retrievable.
//!
//! ## Versions and the Merkle rule
//!
//! Accepted contributions are appended, in acceptance order, to the datanet's accepted list
//! (positions `0..accepted_count`). [`Pallet::publish_version`] freezes the current accepted
//! list as version `n + 1`: version `v` is *the first `contribution_count` entries of the
//! accepted list*, which never change (acceptance is final, accepted contributions cannot be
//! withdrawn), so versions are immutable and each contains the previous one. A version records
//! its contribution count, total bytes and a Merkle root over the ordered content hashes:
//! RFC 6962's Merkle Tree Hash with BLAKE2b-256, leaves `blake2_256(0x00 ‖ content_hash)`,
//! inner nodes `blake2_256(0x01 ‖ left ‖ right)`, an odd last node promoted unchanged (see
//! [`openledger_primitives::datanets`] for the exact definition, `merkle_root`, proofs and
//! their verification). The pallet keeps an incremental frontier (at most 32 hashes per
//! datanet), so accepting costs `O(log n)` hashes and publishing at most 32 hashes, whatever
//! the size of the datanet.
//!
//! ## Retrieval
//!
//! The runtime implements [`openledger_primitives::datanets::DatanetsApi`] with the `api_*`
//! functions of [`Pallet`]; page sizes are clamped to [`Config::MaxPageSize`]. Other pallets use
//! [`openledger_primitives::datanets::DatanetInspect`].

#![cfg_attr(not(feature = "std"), no_std)]
// `create_datanet` takes every datanet parameter as its own call argument (as FRAME calls do).
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
        fungible::{self, Balanced, BalancedHold, Inspect, InspectHold, MutateHold},
        tokens::Precision,
        Imbalance,
    },
    BoundedVec, CloneNoBound, DebugNoBound, EqNoBound, PartialEqNoBound,
};
use frame_system::pallet_prelude::*;
use scale_info::TypeInfo;
use sp_core::H256;
use sp_runtime::traits::{Saturating, Zero};

use openledger_primitives::datanets::{frontier_append, frontier_root, MERKLE_FRONTIER_LEN};
pub use openledger_primitives::datanets::{
    Admission, ContentHash, ContributionId, ContributionInfo, ContributionStatus, CurationPolicy,
    DatanetId, DatanetInfo, DatanetInspect, DatanetStatus, DepositPolicy, VersionInfo,
    VersionNumber,
};

pub use pallet::*;
pub use weights::WeightInfo;

/// Balance type of the pallet's currency.
pub type BalanceOf<T> =
    <<T as Config>::Currency as Inspect<<T as frame_system::Config>::AccountId>>::Balance;

/// Text field of at most `S` bytes (UTF-8, checked on the way in).
pub type BoundedText<S> = BoundedVec<u8, S>;
/// A datanet's tags.
pub type TagsOf<T> = BoundedVec<BoundedText<<T as Config>::MaxTagLen>, <T as Config>::MaxTags>;
/// The incremental Merkle frontier of a datanet's accepted list.
pub type Frontier = BoundedVec<H256, ConstU32<MERKLE_FRONTIER_LEN>>;

/// A datanet in state.
#[derive(
    Encode, Decode, CloneNoBound, PartialEqNoBound, EqNoBound, DebugNoBound, TypeInfo, MaxEncodedLen,
)]
#[scale_info(skip_type_params(T))]
#[codec(mel_bound(T: Config))]
pub struct Datanet<T: Config> {
    /// May update metadata and policies, manage curators and the allow list, close, transfer.
    pub owner: T::AccountId,
    /// Holds the creation deposit.
    pub creator: T::AccountId,
    pub creation_deposit: BalanceOf<T>,
    pub name: BoundedText<T::MaxNameLen>,
    pub description: BoundedText<T::MaxDescriptionLen>,
    pub license: BoundedText<T::MaxLicenseLen>,
    pub tags: TagsOf<T>,
    pub admission: Admission,
    pub curation: CurationPolicy,
    pub deposit_policy: DepositPolicy,
    pub deposit_per_byte: BalanceOf<T>,
    pub status: DatanetStatus,
    pub created_at: BlockNumberFor<T>,
    /// Contributions ever made; positions `0..contribution_count` in `DatanetContributions`.
    pub contribution_count: u32,
    pub pending_count: u32,
    /// Positions `0..accepted_count` in `AcceptedContributions`.
    pub accepted_count: u32,
    pub accepted_bytes: u64,
    /// Newest published version (0: none).
    pub latest_version: VersionNumber,
}

/// A contribution in state. The bytes themselves are in the block body.
#[derive(
    Encode, Decode, CloneNoBound, PartialEqNoBound, EqNoBound, DebugNoBound, TypeInfo, MaxEncodedLen,
)]
#[scale_info(skip_type_params(T))]
#[codec(mel_bound(T: Config))]
pub struct Contribution<T: Config> {
    pub datanet: DatanetId,
    /// Position among the datanet's contributions.
    pub index: u32,
    pub contributor: T::AccountId,
    pub content_hash: ContentHash,
    pub size: u32,
    pub block: BlockNumberFor<T>,
    pub extrinsic_index: u32,
    pub status: ContributionStatus,
    /// Held while pending or accepted; kept as a record after release or forfeit.
    pub deposit: BalanceOf<T>,
    /// Position in the accepted list once accepted.
    pub accepted_index: Option<u32>,
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
        /// Creation deposit of a datanet (held from its creator for good).
        #[codec(index = 0)]
        DatanetDeposit,
        /// Deposit of a pending or accepted contribution.
        #[codec(index = 1)]
        ContributionDeposit,
    }

    /// The `RuntimeEvent: From<Event<Self>>` bound on `frame_system::Config` is added by the
    /// pallet macro (no deprecated `type RuntimeEvent`).
    #[pallet::config]
    pub trait Config: frame_system::Config {
        /// The currency deposits are held in.
        type Currency: Inspect<Self::AccountId>
            + fungible::Mutate<Self::AccountId>
            + Balanced<Self::AccountId>
            + InspectHold<Self::AccountId, Reason = Self::RuntimeHoldReason>
            + MutateHold<Self::AccountId, Reason = Self::RuntimeHoldReason>
            + BalancedHold<Self::AccountId, Reason = Self::RuntimeHoldReason>;

        /// The overarching hold reason.
        type RuntimeHoldReason: From<HoldReason>;

        /// Held from the creator of a datanet, for good.
        #[pallet::constant]
        type DatanetDeposit: Get<BalanceOf<Self>>;

        /// Held per contribution on top of the datanet's per-byte deposit (pays for the state).
        #[pallet::constant]
        type ContributionBaseDeposit: Get<BalanceOf<Self>>;

        /// Largest payload in bytes (OpenLedger: 5 MiB). The runtime's block length must leave
        /// room for an extrinsic this large.
        #[pallet::constant]
        type MaxPayloadSize: Get<u32>;

        /// Longest name in bytes.
        #[pallet::constant]
        type MaxNameLen: Get<u32>;

        /// Longest description in bytes.
        #[pallet::constant]
        type MaxDescriptionLen: Get<u32>;

        /// Longest license (SPDX id or URL) in bytes.
        #[pallet::constant]
        type MaxLicenseLen: Get<u32>;

        /// Longest tag in bytes.
        #[pallet::constant]
        type MaxTagLen: Get<u32>;

        /// Most tags per datanet.
        #[pallet::constant]
        type MaxTags: Get<u32>;

        /// Most curators per datanet.
        #[pallet::constant]
        type MaxCurators: Get<u32>;

        /// Longest rejection reason in bytes.
        #[pallet::constant]
        type MaxReasonLen: Get<u32>;

        /// Largest page the runtime API returns.
        #[pallet::constant]
        type MaxPageSize: Get<u32>;

        /// Weights of the calls.
        type WeightInfo: WeightInfo;
    }

    /// Id of the next datanet.
    #[pallet::storage]
    pub type NextDatanetId<T> = StorageValue<_, DatanetId, ValueQuery>;

    /// Datanets by id.
    #[pallet::storage]
    pub type Datanets<T: Config> = StorageMap<_, Twox64Concat, DatanetId, Datanet<T>>;

    /// Curator set of a datanet.
    #[pallet::storage]
    pub type Curators<T: Config> = StorageMap<
        _,
        Twox64Concat,
        DatanetId,
        BoundedVec<T::AccountId, T::MaxCurators>,
        ValueQuery,
    >;

    /// Allow list of a datanet (used when its admission is `AllowList`).
    #[pallet::storage]
    pub type AllowList<T: Config> = StorageDoubleMap<
        _,
        Twox64Concat,
        DatanetId,
        Blake2_128Concat,
        T::AccountId,
        (),
        OptionQuery,
    >;

    /// Id of the next contribution (unique across datanets).
    #[pallet::storage]
    pub type NextContributionId<T> = StorageValue<_, ContributionId, ValueQuery>;

    /// Contributions by id.
    #[pallet::storage]
    pub type Contributions<T: Config> =
        StorageMap<_, Twox64Concat, ContributionId, Contribution<T>>;

    /// `(datanet, position)` → contribution, for every contribution ever made.
    #[pallet::storage]
    pub type DatanetContributions<T> = StorageDoubleMap<
        _,
        Twox64Concat,
        DatanetId,
        Twox64Concat,
        u32,
        ContributionId,
        OptionQuery,
    >;

    /// `(datanet, accepted position)` → contribution: the accepted list, in acceptance order.
    /// Version `v` is its first `Versions[(datanet, v)].contribution_count` entries.
    #[pallet::storage]
    pub type AcceptedContributions<T> = StorageDoubleMap<
        _,
        Twox64Concat,
        DatanetId,
        Twox64Concat,
        u32,
        ContributionId,
        OptionQuery,
    >;

    /// `(datanet, content hash)` → contribution, for pending, accepted and rejected ones.
    #[pallet::storage]
    pub type ContributionByHash<T> = StorageDoubleMap<
        _,
        Twox64Concat,
        DatanetId,
        Blake2_128Concat,
        ContentHash,
        ContributionId,
        OptionQuery,
    >;

    /// Reasons given for rejections (only non-empty ones are stored).
    #[pallet::storage]
    pub type RejectionReasons<T: Config> =
        StorageMap<_, Twox64Concat, ContributionId, BoundedText<T::MaxReasonLen>>;

    /// Incremental Merkle frontier over a datanet's accepted list.
    #[pallet::storage]
    pub type AcceptedFrontier<T> = StorageMap<_, Twox64Concat, DatanetId, Frontier, ValueQuery>;

    /// Published versions, immutable.
    #[pallet::storage]
    pub type Versions<T: Config> = StorageDoubleMap<
        _,
        Twox64Concat,
        DatanetId,
        Twox64Concat,
        VersionNumber,
        VersionInfo<BlockNumberFor<T>>,
        OptionQuery,
    >;

    #[pallet::event]
    #[pallet::generate_deposit(pub(super) fn deposit_event)]
    pub enum Event<T: Config> {
        /// A datanet was created.
        DatanetCreated {
            datanet: DatanetId,
            owner: T::AccountId,
            deposit: BalanceOf<T>,
        },
        /// Name, description, license or tags changed.
        MetadataUpdated { datanet: DatanetId },
        /// Admission or curation policy changed.
        PoliciesUpdated {
            datanet: DatanetId,
            admission: Admission,
            curation: CurationPolicy,
        },
        /// A curator joined the curator set.
        CuratorAdded {
            datanet: DatanetId,
            curator: T::AccountId,
        },
        /// A curator left the curator set.
        CuratorRemoved {
            datanet: DatanetId,
            curator: T::AccountId,
        },
        /// An account was put on the allow list.
        ContributorAllowed {
            datanet: DatanetId,
            who: T::AccountId,
        },
        /// An account was taken off the allow list.
        ContributorDisallowed {
            datanet: DatanetId,
            who: T::AccountId,
        },
        /// The datanet has a new owner.
        OwnershipTransferred {
            datanet: DatanetId,
            from: T::AccountId,
            to: T::AccountId,
        },
        /// The datanet no longer takes contributions.
        DatanetClosed { datanet: DatanetId },
        /// Data was contributed; its bytes are indexed in this block under `content_hash`.
        Contributed {
            datanet: DatanetId,
            contribution: ContributionId,
            contributor: T::AccountId,
            content_hash: ContentHash,
            size: u32,
            deposit: BalanceOf<T>,
        },
        /// A pending contribution was accepted at position `accepted_index`.
        Accepted {
            datanet: DatanetId,
            contribution: ContributionId,
            curator: T::AccountId,
            accepted_index: u32,
        },
        /// A pending contribution was rejected.
        Rejected {
            datanet: DatanetId,
            contribution: ContributionId,
            curator: T::AccountId,
            reason: BoundedText<T::MaxReasonLen>,
        },
        /// A pending contribution was withdrawn by its contributor.
        Withdrawn {
            datanet: DatanetId,
            contribution: ContributionId,
        },
        /// A contribution's deposit went back to its contributor.
        DepositReleased {
            contribution: ContributionId,
            who: T::AccountId,
            amount: BalanceOf<T>,
        },
        /// A contribution's deposit was forfeited: paid to `beneficiary` (the datanet owner) or,
        /// if `None`, burned.
        DepositForfeited {
            contribution: ContributionId,
            who: T::AccountId,
            amount: BalanceOf<T>,
            beneficiary: Option<T::AccountId>,
        },
        /// A version was published.
        VersionPublished {
            datanet: DatanetId,
            version: VersionNumber,
            contribution_count: u32,
            total_bytes: u64,
            merkle_root: H256,
        },
    }

    #[pallet::error]
    pub enum Error<T> {
        /// No datanet with this id.
        DatanetNotFound,
        /// No contribution with this id.
        ContributionNotFound,
        /// Only the datanet's owner may do this.
        NotOwner,
        /// The caller may not curate this datanet.
        NotCurator,
        /// Only the contributor may withdraw a contribution.
        NotContributor,
        /// The datanet is closed to new contributions.
        DatanetClosed,
        /// The datanet is already closed.
        AlreadyClosed,
        /// The datanet admits only allow-listed contributors and the caller is not one.
        NotAdmitted,
        /// The payload is larger than `MaxPayloadSize`.
        PayloadTooLarge,
        /// The payload is empty.
        EmptyPayload,
        /// These bytes are already in this datanet (pending, accepted or rejected).
        DuplicateContribution,
        /// The free balance cannot cover the deposit.
        InsufficientBalance,
        /// The contribution is not pending.
        NotPending,
        /// Accepted contributions are final and cannot be withdrawn.
        CannotWithdrawAccepted,
        /// There are no accepted contributions to publish.
        EmptyVersion,
        /// Nothing was accepted since the last version.
        NothingNewToPublish,
        /// The account is already a curator.
        AlreadyCurator,
        /// The account is not a curator.
        CuratorNotFound,
        /// The curator set is full.
        TooManyCurators,
        /// The account is already on the allow list.
        AlreadyAllowed,
        /// The account is not on the allow list.
        NotAllowed,
        /// The new owner is the current owner.
        AlreadyOwner,
        /// A name must not be empty.
        EmptyName,
        /// A tag must not be empty.
        EmptyTag,
        /// Text must be valid UTF-8.
        InvalidUtf8,
        /// No datanet ids left.
        TooManyDatanets,
        /// No contribution ids or positions left.
        TooManyContributions,
        /// No version numbers left.
        TooManyVersions,
        /// Not called from within an extrinsic (no extrinsic index to index the payload under).
        BadContext,
        /// The Merkle frontier does not match the accepted count (a bug; nothing was changed).
        CorruptFrontier,
    }

    #[pallet::hooks]
    impl<T: Config> Hooks<BlockNumberFor<T>> for Pallet<T> {
        #[cfg(feature = "try-runtime")]
        fn try_state(_n: BlockNumberFor<T>) -> Result<(), sp_runtime::TryRuntimeError> {
            Self::do_try_state()
        }

        fn integrity_test() {
            assert!(
                T::MaxPayloadSize::get() > 0,
                "MaxPayloadSize must be positive"
            );
            assert!(T::MaxNameLen::get() > 0, "MaxNameLen must be positive");
            assert!(T::MaxPageSize::get() > 0, "MaxPageSize must be positive");
        }
    }

    #[pallet::call]
    impl<T: Config> Pallet<T> {
        /// Create a datanet owned by the caller, holding `DatanetDeposit` from it.
        ///
        /// `deposit_per_byte` and `deposit_policy` are fixed for the datanet's lifetime.
        #[pallet::call_index(0)]
        #[pallet::weight(T::WeightInfo::create_datanet())]
        pub fn create_datanet(
            origin: OriginFor<T>,
            name: BoundedText<T::MaxNameLen>,
            description: BoundedText<T::MaxDescriptionLen>,
            license: BoundedText<T::MaxLicenseLen>,
            tags: TagsOf<T>,
            admission: Admission,
            curation: CurationPolicy,
            deposit_per_byte: BalanceOf<T>,
            deposit_policy: DepositPolicy,
        ) -> DispatchResult {
            let who = ensure_signed(origin)?;
            Self::check_metadata(Some(&name), Some(&description), Some(&license), Some(&tags))?;
            let id = NextDatanetId::<T>::get();
            let next = id.checked_add(1).ok_or(Error::<T>::TooManyDatanets)?;
            let deposit = T::DatanetDeposit::get();
            Self::hold(&HoldReason::DatanetDeposit.into(), &who, deposit)?;

            let datanet = Datanet::<T> {
                owner: who.clone(),
                creator: who.clone(),
                creation_deposit: deposit,
                name,
                description,
                license,
                tags,
                admission,
                curation,
                deposit_policy,
                deposit_per_byte,
                status: DatanetStatus::Open,
                created_at: frame_system::Pallet::<T>::block_number(),
                contribution_count: 0,
                pending_count: 0,
                accepted_count: 0,
                accepted_bytes: 0,
                latest_version: 0,
            };
            Datanets::<T>::insert(id, datanet);
            NextDatanetId::<T>::put(next);
            Self::deposit_event(Event::DatanetCreated {
                datanet: id,
                owner: who,
                deposit,
            });
            Ok(())
        }

        /// Replace any of name, description, license and tags (`None` keeps the field). Owner
        /// only.
        #[pallet::call_index(1)]
        #[pallet::weight(T::WeightInfo::update_metadata())]
        pub fn update_metadata(
            origin: OriginFor<T>,
            datanet: DatanetId,
            name: Option<BoundedText<T::MaxNameLen>>,
            description: Option<BoundedText<T::MaxDescriptionLen>>,
            license: Option<BoundedText<T::MaxLicenseLen>>,
            tags: Option<TagsOf<T>>,
        ) -> DispatchResult {
            let who = ensure_signed(origin)?;
            let mut d = Self::owned_datanet(datanet, &who)?;
            Self::check_metadata(
                name.as_ref(),
                description.as_ref(),
                license.as_ref(),
                tags.as_ref(),
            )?;
            if let Some(name) = name {
                d.name = name;
            }
            if let Some(description) = description {
                d.description = description;
            }
            if let Some(license) = license {
                d.license = license;
            }
            if let Some(tags) = tags {
                d.tags = tags;
            }
            Datanets::<T>::insert(datanet, d);
            Self::deposit_event(Event::MetadataUpdated { datanet });
            Ok(())
        }

        /// Change the admission and curation policies. Owner only. Takes effect for the next
        /// contribution / curation decision.
        #[pallet::call_index(2)]
        #[pallet::weight(T::WeightInfo::set_policies())]
        pub fn set_policies(
            origin: OriginFor<T>,
            datanet: DatanetId,
            admission: Admission,
            curation: CurationPolicy,
        ) -> DispatchResult {
            let who = ensure_signed(origin)?;
            let mut d = Self::owned_datanet(datanet, &who)?;
            d.admission = admission;
            d.curation = curation;
            Datanets::<T>::insert(datanet, d);
            Self::deposit_event(Event::PoliciesUpdated {
                datanet,
                admission,
                curation,
            });
            Ok(())
        }

        /// Add a curator. Owner only.
        #[pallet::call_index(3)]
        #[pallet::weight(T::WeightInfo::add_curator())]
        pub fn add_curator(
            origin: OriginFor<T>,
            datanet: DatanetId,
            curator: T::AccountId,
        ) -> DispatchResult {
            let who = ensure_signed(origin)?;
            Self::owned_datanet(datanet, &who)?;
            Curators::<T>::try_mutate(datanet, |set| -> DispatchResult {
                ensure!(!set.contains(&curator), Error::<T>::AlreadyCurator);
                set.try_push(curator.clone())
                    .map_err(|_| Error::<T>::TooManyCurators)?;
                Ok(())
            })?;
            Self::deposit_event(Event::CuratorAdded { datanet, curator });
            Ok(())
        }

        /// Remove a curator. Owner only.
        #[pallet::call_index(4)]
        #[pallet::weight(T::WeightInfo::remove_curator())]
        pub fn remove_curator(
            origin: OriginFor<T>,
            datanet: DatanetId,
            curator: T::AccountId,
        ) -> DispatchResult {
            let who = ensure_signed(origin)?;
            Self::owned_datanet(datanet, &who)?;
            Curators::<T>::try_mutate(datanet, |set| -> DispatchResult {
                let pos = set
                    .iter()
                    .position(|c| c == &curator)
                    .ok_or(Error::<T>::CuratorNotFound)?;
                set.remove(pos);
                Ok(())
            })?;
            Self::deposit_event(Event::CuratorRemoved { datanet, curator });
            Ok(())
        }

        /// Put an account on the allow list. Owner only.
        #[pallet::call_index(5)]
        #[pallet::weight(T::WeightInfo::allow_contributor())]
        pub fn allow_contributor(
            origin: OriginFor<T>,
            datanet: DatanetId,
            who: T::AccountId,
        ) -> DispatchResult {
            let owner = ensure_signed(origin)?;
            Self::owned_datanet(datanet, &owner)?;
            ensure!(
                !AllowList::<T>::contains_key(datanet, &who),
                Error::<T>::AlreadyAllowed
            );
            AllowList::<T>::insert(datanet, &who, ());
            Self::deposit_event(Event::ContributorAllowed { datanet, who });
            Ok(())
        }

        /// Take an account off the allow list. Owner only. Its existing contributions stay.
        #[pallet::call_index(6)]
        #[pallet::weight(T::WeightInfo::disallow_contributor())]
        pub fn disallow_contributor(
            origin: OriginFor<T>,
            datanet: DatanetId,
            who: T::AccountId,
        ) -> DispatchResult {
            let owner = ensure_signed(origin)?;
            Self::owned_datanet(datanet, &owner)?;
            ensure!(
                AllowList::<T>::contains_key(datanet, &who),
                Error::<T>::NotAllowed
            );
            AllowList::<T>::remove(datanet, &who);
            Self::deposit_event(Event::ContributorDisallowed { datanet, who });
            Ok(())
        }

        /// Hand the datanet to `new_owner`. Owner only. The creation deposit stays with the
        /// creator.
        #[pallet::call_index(7)]
        #[pallet::weight(T::WeightInfo::transfer_ownership())]
        pub fn transfer_ownership(
            origin: OriginFor<T>,
            datanet: DatanetId,
            new_owner: T::AccountId,
        ) -> DispatchResult {
            let who = ensure_signed(origin)?;
            let mut d = Self::owned_datanet(datanet, &who)?;
            ensure!(new_owner != who, Error::<T>::AlreadyOwner);
            d.owner = new_owner.clone();
            Datanets::<T>::insert(datanet, d);
            Self::deposit_event(Event::OwnershipTransferred {
                datanet,
                from: who,
                to: new_owner,
            });
            Ok(())
        }

        /// Close the datanet to new contributions. Owner only. Irreversible.
        #[pallet::call_index(8)]
        #[pallet::weight(T::WeightInfo::close_datanet())]
        pub fn close_datanet(origin: OriginFor<T>, datanet: DatanetId) -> DispatchResult {
            let who = ensure_signed(origin)?;
            let mut d = Self::owned_datanet(datanet, &who)?;
            ensure!(d.status == DatanetStatus::Open, Error::<T>::AlreadyClosed);
            d.status = DatanetStatus::Closed;
            Datanets::<T>::insert(datanet, d);
            Self::deposit_event(Event::DatanetClosed { datanet });
            Ok(())
        }

        /// Contribute `payload` (1..=`MaxPayloadSize` bytes) to a datanet. The payload must stay
        /// the **last** argument: its bytes are indexed in the block body under
        /// `blake2_256(payload)`. Holds `ContributionBaseDeposit + deposit_per_byte × len`.
        #[pallet::call_index(9)]
        #[pallet::weight(T::WeightInfo::contribute(
            u32::try_from(payload.len()).unwrap_or(u32::MAX)
        ))]
        pub fn contribute(
            origin: OriginFor<T>,
            datanet: DatanetId,
            payload: Vec<u8>,
        ) -> DispatchResult {
            let who = ensure_signed(origin)?;
            ensure!(!payload.is_empty(), Error::<T>::EmptyPayload);
            let size = u32::try_from(payload.len())
                .ok()
                .filter(|s| *s <= T::MaxPayloadSize::get())
                .ok_or(Error::<T>::PayloadTooLarge)?;
            let mut d = Datanets::<T>::get(datanet).ok_or(Error::<T>::DatanetNotFound)?;
            ensure!(d.status == DatanetStatus::Open, Error::<T>::DatanetClosed);
            ensure!(Self::admits(datanet, &d, &who), Error::<T>::NotAdmitted);

            let content_hash = H256(sp_io::hashing::blake2_256(&payload));
            ensure!(
                !ContributionByHash::<T>::contains_key(datanet, content_hash),
                Error::<T>::DuplicateContribution
            );
            let extrinsic_index =
                frame_system::Pallet::<T>::extrinsic_index().ok_or(Error::<T>::BadContext)?;
            let id = NextContributionId::<T>::get();
            let next_id = id.checked_add(1).ok_or(Error::<T>::TooManyContributions)?;
            let index = d.contribution_count;
            d.contribution_count = index
                .checked_add(1)
                .ok_or(Error::<T>::TooManyContributions)?;
            d.pending_count = d.pending_count.saturating_add(1);

            let deposit = T::ContributionBaseDeposit::get()
                .saturating_add(d.deposit_per_byte.saturating_mul(size.into()));
            Self::hold(&HoldReason::ContributionDeposit.into(), &who, deposit)?;

            Contributions::<T>::insert(
                id,
                Contribution::<T> {
                    datanet,
                    index,
                    contributor: who.clone(),
                    content_hash,
                    size,
                    block: frame_system::Pallet::<T>::block_number(),
                    extrinsic_index,
                    status: ContributionStatus::Pending,
                    deposit,
                    accepted_index: None,
                },
            );
            DatanetContributions::<T>::insert(datanet, index, id);
            ContributionByHash::<T>::insert(datanet, content_hash, id);
            Datanets::<T>::insert(datanet, d);
            NextContributionId::<T>::put(next_id);
            // Last, once nothing can fail any more: index the payload (the trailing `size`
            // bytes of this extrinsic) under its content hash.
            sp_io::transaction_index::index(extrinsic_index, size, content_hash.0);

            Self::deposit_event(Event::Contributed {
                datanet,
                contribution: id,
                contributor: who,
                content_hash,
                size,
                deposit,
            });
            Ok(())
        }

        /// Accept a pending contribution: it joins the accepted list (and every version
        /// published from now on). Owner, or a curator under the `Curators` policy.
        #[pallet::call_index(10)]
        #[pallet::weight(T::WeightInfo::accept())]
        pub fn accept(origin: OriginFor<T>, contribution: ContributionId) -> DispatchResult {
            let who = ensure_signed(origin)?;
            let (mut c, mut d) = Self::curatable(contribution, &who)?;
            let accepted_index = d.accepted_count;
            let accepted_count = accepted_index
                .checked_add(1)
                .ok_or(Error::<T>::TooManyContributions)?;
            let mut frontier = AcceptedFrontier::<T>::get(c.datanet).into_inner();
            ensure!(
                frontier_append(&mut frontier, accepted_index, &c.content_hash),
                Error::<T>::CorruptFrontier
            );
            let frontier = Frontier::try_from(frontier).map_err(|_| Error::<T>::CorruptFrontier)?;

            d.accepted_count = accepted_count;
            d.accepted_bytes = d.accepted_bytes.saturating_add(u64::from(c.size));
            d.pending_count = d.pending_count.saturating_sub(1);
            c.status = ContributionStatus::Accepted;
            c.accepted_index = Some(accepted_index);
            let datanet = c.datanet;
            AcceptedFrontier::<T>::insert(datanet, frontier);
            AcceptedContributions::<T>::insert(datanet, accepted_index, contribution);
            Contributions::<T>::insert(contribution, c);
            Datanets::<T>::insert(datanet, d);
            Self::deposit_event(Event::Accepted {
                datanet,
                contribution,
                curator: who,
                accepted_index,
            });
            Ok(())
        }

        /// Reject a pending contribution with a reason (UTF-8, may be empty). Its deposit is
        /// released or forfeited per the datanet's deposit policy. Owner, or a curator under
        /// the `Curators` policy.
        #[pallet::call_index(11)]
        #[pallet::weight(T::WeightInfo::reject())]
        pub fn reject(
            origin: OriginFor<T>,
            contribution: ContributionId,
            reason: BoundedText<T::MaxReasonLen>,
        ) -> DispatchResult {
            let who = ensure_signed(origin)?;
            ensure!(
                core::str::from_utf8(&reason).is_ok(),
                Error::<T>::InvalidUtf8
            );
            let (mut c, mut d) = Self::curatable(contribution, &who)?;
            let datanet = c.datanet;
            c.status = ContributionStatus::Rejected;
            d.pending_count = d.pending_count.saturating_sub(1);
            let forfeit = d.deposit_policy.forfeits_on_reject();
            Self::settle_deposit(contribution, &c, &d.owner, forfeit)?;
            Contributions::<T>::insert(contribution, c);
            Datanets::<T>::insert(datanet, d);
            if !reason.is_empty() {
                RejectionReasons::<T>::insert(contribution, reason.clone());
            }
            Self::deposit_event(Event::Rejected {
                datanet,
                contribution,
                curator: who,
                reason,
            });
            Ok(())
        }

        /// Withdraw one's own pending contribution. Its deposit is released or forfeited per
        /// the datanet's deposit policy, and its content hash is freed.
        #[pallet::call_index(12)]
        #[pallet::weight(T::WeightInfo::withdraw())]
        pub fn withdraw(origin: OriginFor<T>, contribution: ContributionId) -> DispatchResult {
            let who = ensure_signed(origin)?;
            let mut c =
                Contributions::<T>::get(contribution).ok_or(Error::<T>::ContributionNotFound)?;
            ensure!(c.contributor == who, Error::<T>::NotContributor);
            match c.status {
                ContributionStatus::Pending => {}
                ContributionStatus::Accepted => {
                    return Err(Error::<T>::CannotWithdrawAccepted.into())
                }
                ContributionStatus::Rejected | ContributionStatus::Withdrawn => {
                    return Err(Error::<T>::NotPending.into())
                }
            }
            let datanet = c.datanet;
            let mut d = Datanets::<T>::get(datanet).ok_or(Error::<T>::DatanetNotFound)?;
            c.status = ContributionStatus::Withdrawn;
            d.pending_count = d.pending_count.saturating_sub(1);
            let forfeit = d.deposit_policy.forfeits_on_withdraw();
            Self::settle_deposit(contribution, &c, &d.owner, forfeit)?;
            ContributionByHash::<T>::remove(datanet, c.content_hash);
            Contributions::<T>::insert(contribution, c);
            Datanets::<T>::insert(datanet, d);
            Self::deposit_event(Event::Withdrawn {
                datanet,
                contribution,
            });
            Ok(())
        }

        /// Publish the accepted list as the next version (immutable): count, total bytes and
        /// Merkle root. Owner, or a curator under the `Curators` policy. At most 32 hashes.
        #[pallet::call_index(13)]
        #[pallet::weight(T::WeightInfo::publish_version())]
        pub fn publish_version(origin: OriginFor<T>, datanet: DatanetId) -> DispatchResult {
            let who = ensure_signed(origin)?;
            let mut d = Datanets::<T>::get(datanet).ok_or(Error::<T>::DatanetNotFound)?;
            ensure!(Self::may_curate(datanet, &d, &who), Error::<T>::NotCurator);
            ensure!(d.accepted_count > 0, Error::<T>::EmptyVersion);
            if d.latest_version > 0 {
                let last = Versions::<T>::get(datanet, d.latest_version)
                    .map(|v| v.contribution_count)
                    .unwrap_or(0);
                ensure!(d.accepted_count > last, Error::<T>::NothingNewToPublish);
            }
            let version = d
                .latest_version
                .checked_add(1)
                .ok_or(Error::<T>::TooManyVersions)?;
            let merkle_root = frontier_root(&AcceptedFrontier::<T>::get(datanet), d.accepted_count)
                .ok_or(Error::<T>::CorruptFrontier)?;
            let info = VersionInfo {
                datanet,
                version,
                contribution_count: d.accepted_count,
                total_bytes: d.accepted_bytes,
                merkle_root,
                published_at: frame_system::Pallet::<T>::block_number(),
            };
            d.latest_version = version;
            Versions::<T>::insert(datanet, version, info.clone());
            Datanets::<T>::insert(datanet, d);
            Self::deposit_event(Event::VersionPublished {
                datanet,
                version,
                contribution_count: info.contribution_count,
                total_bytes: info.total_bytes,
                merkle_root,
            });
            Ok(())
        }
    }
}

impl<T: Config> Pallet<T> {
    fn check_text(text: &[u8]) -> DispatchResult {
        ensure!(core::str::from_utf8(text).is_ok(), Error::<T>::InvalidUtf8);
        Ok(())
    }

    fn check_metadata(
        name: Option<&BoundedText<T::MaxNameLen>>,
        description: Option<&BoundedText<T::MaxDescriptionLen>>,
        license: Option<&BoundedText<T::MaxLicenseLen>>,
        tags: Option<&TagsOf<T>>,
    ) -> DispatchResult {
        if let Some(name) = name {
            ensure!(!name.is_empty(), Error::<T>::EmptyName);
            Self::check_text(name)?;
        }
        if let Some(description) = description {
            Self::check_text(description)?;
        }
        if let Some(license) = license {
            Self::check_text(license)?;
        }
        if let Some(tags) = tags {
            for tag in tags.iter() {
                ensure!(!tag.is_empty(), Error::<T>::EmptyTag);
                Self::check_text(tag)?;
            }
        }
        Ok(())
    }

    /// The datanet, if `who` owns it.
    fn owned_datanet(datanet: DatanetId, who: &T::AccountId) -> Result<Datanet<T>, DispatchError> {
        let d = Datanets::<T>::get(datanet).ok_or(Error::<T>::DatanetNotFound)?;
        ensure!(&d.owner == who, Error::<T>::NotOwner);
        Ok(d)
    }

    /// Whether `who` may contribute to `d` under its admission policy.
    fn admits(datanet: DatanetId, d: &Datanet<T>, who: &T::AccountId) -> bool {
        match d.admission {
            Admission::Open => true,
            Admission::AllowList => &d.owner == who || AllowList::<T>::contains_key(datanet, who),
        }
    }

    /// Whether `who` may accept, reject and publish for `d`.
    fn may_curate(datanet: DatanetId, d: &Datanet<T>, who: &T::AccountId) -> bool {
        &d.owner == who
            || (d.curation == CurationPolicy::Curators && Curators::<T>::get(datanet).contains(who))
    }

    /// A pending contribution `who` may curate, and its datanet.
    fn curatable(
        contribution: ContributionId,
        who: &T::AccountId,
    ) -> Result<(Contribution<T>, Datanet<T>), DispatchError> {
        let c = Contributions::<T>::get(contribution).ok_or(Error::<T>::ContributionNotFound)?;
        let d = Datanets::<T>::get(c.datanet).ok_or(Error::<T>::DatanetNotFound)?;
        ensure!(Self::may_curate(c.datanet, &d, who), Error::<T>::NotCurator);
        ensure!(
            c.status == ContributionStatus::Pending,
            Error::<T>::NotPending
        );
        Ok((c, d))
    }

    /// Hold `amount` (nothing if zero), mapping any failure to `InsufficientBalance`.
    fn hold(
        reason: &T::RuntimeHoldReason,
        who: &T::AccountId,
        amount: BalanceOf<T>,
    ) -> DispatchResult {
        if amount.is_zero() {
            return Ok(());
        }
        ensure!(
            T::Currency::can_hold(reason, who, amount),
            Error::<T>::InsufficientBalance
        );
        T::Currency::hold(reason, who, amount).map_err(|_| Error::<T>::InsufficientBalance)?;
        Ok(())
    }

    /// Release or forfeit a contribution's deposit (to the owner, burned if it cannot be paid).
    fn settle_deposit(
        contribution: ContributionId,
        c: &Contribution<T>,
        owner: &T::AccountId,
        forfeit: bool,
    ) -> DispatchResult {
        if c.deposit.is_zero() {
            return Ok(());
        }
        let reason: T::RuntimeHoldReason = HoldReason::ContributionDeposit.into();
        if forfeit {
            let (credit, _missing) = T::Currency::slash(&reason, &c.contributor, c.deposit);
            let amount = credit.peek();
            let beneficiary = match T::Currency::resolve(owner, credit) {
                Ok(()) => Some(owner.clone()),
                // Dropping the credit burns it (total issuance goes down).
                Err(_burned) => None,
            };
            Self::deposit_event(Event::DepositForfeited {
                contribution,
                who: c.contributor.clone(),
                amount,
                beneficiary,
            });
        } else {
            let amount =
                T::Currency::release(&reason, &c.contributor, c.deposit, Precision::BestEffort)?;
            Self::deposit_event(Event::DepositReleased {
                contribution,
                who: c.contributor.clone(),
                amount,
            });
        }
        Ok(())
    }

    fn text(bytes: &[u8]) -> String {
        String::from_utf8_lossy(bytes).into_owned()
    }

    fn page(start: u32, limit: u32, end: u32) -> core::ops::Range<u32> {
        let limit = limit.min(T::MaxPageSize::get());
        start.min(end)..start.saturating_add(limit).min(end)
    }

    fn datanet_info(
        id: DatanetId,
        d: Datanet<T>,
    ) -> DatanetInfo<T::AccountId, BalanceOf<T>, BlockNumberFor<T>> {
        DatanetInfo {
            id,
            owner: d.owner,
            creator: d.creator,
            creation_deposit: d.creation_deposit,
            name: Self::text(&d.name),
            description: Self::text(&d.description),
            license: Self::text(&d.license),
            tags: d.tags.iter().map(|t| Self::text(t)).collect(),
            admission: d.admission,
            curation: d.curation,
            deposit_policy: d.deposit_policy,
            deposit_per_byte: d.deposit_per_byte,
            status: d.status,
            curators: Curators::<T>::get(id).into_inner(),
            created_at: d.created_at,
            contribution_count: d.contribution_count,
            pending_count: d.pending_count,
            accepted_count: d.accepted_count,
            accepted_bytes: d.accepted_bytes,
            latest_version: d.latest_version,
        }
    }

    fn contribution_info(
        id: ContributionId,
        c: Contribution<T>,
    ) -> ContributionInfo<T::AccountId, BalanceOf<T>, BlockNumberFor<T>> {
        ContributionInfo {
            id,
            datanet: c.datanet,
            index: c.index,
            contributor: c.contributor,
            content_hash: c.content_hash,
            size: c.size,
            block: c.block,
            extrinsic_index: c.extrinsic_index,
            status: c.status,
            deposit: c.deposit,
            accepted_index: c.accepted_index,
            rejection_reason: RejectionReasons::<T>::get(id).map(|r| Self::text(&r)),
        }
    }

    /// Runtime API: datanets `start..`, at most `limit` (clamped to `MaxPageSize`).
    pub fn api_datanets(
        start: DatanetId,
        limit: u32,
    ) -> Vec<DatanetInfo<T::AccountId, BalanceOf<T>, BlockNumberFor<T>>> {
        Self::page(start, limit, NextDatanetId::<T>::get())
            .filter_map(|id| Datanets::<T>::get(id).map(|d| Self::datanet_info(id, d)))
            .collect()
    }

    /// Runtime API: one datanet.
    pub fn api_datanet(
        datanet: DatanetId,
    ) -> Option<DatanetInfo<T::AccountId, BalanceOf<T>, BlockNumberFor<T>>> {
        Datanets::<T>::get(datanet).map(|d| Self::datanet_info(datanet, d))
    }

    /// Runtime API: the datanet's contributions at positions `start..`.
    pub fn api_contributions(
        datanet: DatanetId,
        start: u32,
        limit: u32,
    ) -> Vec<ContributionInfo<T::AccountId, BalanceOf<T>, BlockNumberFor<T>>> {
        let Some(d) = Datanets::<T>::get(datanet) else {
            return Vec::new();
        };
        Self::page(start, limit, d.contribution_count)
            .filter_map(|i| DatanetContributions::<T>::get(datanet, i))
            .filter_map(|id| Self::api_contribution(id))
            .collect()
    }

    /// Runtime API: the contributions of a published version at leaf positions `start..`.
    pub fn api_version_contributions(
        datanet: DatanetId,
        version: VersionNumber,
        start: u32,
        limit: u32,
    ) -> Vec<ContributionInfo<T::AccountId, BalanceOf<T>, BlockNumberFor<T>>> {
        Self::version_contribution_ids(datanet, version, start, limit)
            .into_iter()
            .filter_map(|id| Self::api_contribution(id))
            .collect()
    }

    fn version_contribution_ids(
        datanet: DatanetId,
        version: VersionNumber,
        start: u32,
        limit: u32,
    ) -> Vec<ContributionId> {
        let Some(v) = Versions::<T>::get(datanet, version) else {
            return Vec::new();
        };
        Self::page(start, limit, v.contribution_count)
            .filter_map(|i| AcceptedContributions::<T>::get(datanet, i))
            .collect()
    }

    /// Runtime API: one contribution.
    pub fn api_contribution(
        id: ContributionId,
    ) -> Option<ContributionInfo<T::AccountId, BalanceOf<T>, BlockNumberFor<T>>> {
        Contributions::<T>::get(id).map(|c| Self::contribution_info(id, c))
    }

    /// Runtime API: the contribution of `datanet` with this content hash (not withdrawn).
    pub fn api_contribution_by_hash(
        datanet: DatanetId,
        content_hash: ContentHash,
    ) -> Option<ContributionInfo<T::AccountId, BalanceOf<T>, BlockNumberFor<T>>> {
        ContributionByHash::<T>::get(datanet, content_hash).and_then(Self::api_contribution)
    }

    /// Runtime API: one published version.
    pub fn api_version(
        datanet: DatanetId,
        version: VersionNumber,
    ) -> Option<VersionInfo<BlockNumberFor<T>>> {
        Versions::<T>::get(datanet, version)
    }

    /// Runtime API: published versions `start..` (numbers start at 1).
    pub fn api_versions(
        datanet: DatanetId,
        start: VersionNumber,
        limit: u32,
    ) -> Vec<VersionInfo<BlockNumberFor<T>>> {
        let Some(d) = Datanets::<T>::get(datanet) else {
            return Vec::new();
        };
        Self::page(start.max(1), limit, d.latest_version.saturating_add(1))
            .filter_map(|v| Versions::<T>::get(datanet, v))
            .collect()
    }

    /// Runtime API: whether `who` may contribute to `datanet` now.
    pub fn api_can_contribute(datanet: DatanetId, who: T::AccountId) -> bool {
        Datanets::<T>::get(datanet)
            .map(|d| d.status == DatanetStatus::Open && Self::admits(datanet, &d, &who))
            .unwrap_or(false)
    }

    /// Checks every invariant of the pallet's state (run by `try_state` and after every unit
    /// test): counters, indices, the hash index, the Merkle frontier and every version's root
    /// against a fresh computation, and that the funds on hold equal the recorded deposits.
    #[cfg(any(test, feature = "try-runtime", feature = "std"))]
    pub fn do_try_state() -> Result<(), sp_runtime::TryRuntimeError> {
        use alloc::collections::btree_map::BTreeMap;
        use openledger_primitives::datanets::merkle_root;

        let mut contribution_holds: BTreeMap<T::AccountId, BalanceOf<T>> = BTreeMap::new();
        let mut datanet_holds: BTreeMap<T::AccountId, BalanceOf<T>> = BTreeMap::new();
        // (contributions, pending, accepted, accepted bytes) per datanet
        let mut counts: BTreeMap<DatanetId, (u32, u32, u32, u64)> = BTreeMap::new();

        let next_contribution = NextContributionId::<T>::get();
        for (id, c) in Contributions::<T>::iter() {
            ensure!(
                id < next_contribution,
                "contribution id beyond NextContributionId"
            );
            ensure!(
                Datanets::<T>::contains_key(c.datanet),
                "contribution of a missing datanet"
            );
            ensure!(
                DatanetContributions::<T>::get(c.datanet, c.index) == Some(id),
                "DatanetContributions does not point back"
            );
            let entry = counts.entry(c.datanet).or_default();
            entry.0 = entry.0.saturating_add(1);
            match c.status {
                ContributionStatus::Pending | ContributionStatus::Accepted => {
                    let held = contribution_holds.entry(c.contributor.clone()).or_default();
                    *held = held.saturating_add(c.deposit);
                }
                _ => {}
            }
            match c.status {
                ContributionStatus::Pending => {
                    entry.1 = entry.1.saturating_add(1);
                    ensure!(c.accepted_index.is_none(), "pending with an accepted index");
                }
                ContributionStatus::Accepted => {
                    entry.2 = entry.2.saturating_add(1);
                    entry.3 = entry.3.saturating_add(u64::from(c.size));
                    let idx = c
                        .accepted_index
                        .ok_or("accepted without an accepted index")?;
                    ensure!(
                        AcceptedContributions::<T>::get(c.datanet, idx) == Some(id),
                        "AcceptedContributions does not point back"
                    );
                }
                _ => ensure!(
                    c.accepted_index.is_none(),
                    "not accepted but has an accepted index"
                ),
            }
            let by_hash = ContributionByHash::<T>::get(c.datanet, c.content_hash);
            if c.status == ContributionStatus::Withdrawn {
                ensure!(
                    by_hash != Some(id),
                    "withdrawn contribution still in the hash index"
                );
            } else {
                ensure!(
                    by_hash == Some(id),
                    "hash index does not point to the contribution"
                );
            }
        }
        for (datanet, _hash, id) in ContributionByHash::<T>::iter() {
            let c = Contributions::<T>::get(id).ok_or("hash index points to nothing")?;
            ensure!(c.datanet == datanet, "hash index points to another datanet");
        }

        let next_datanet = NextDatanetId::<T>::get();
        for (id, d) in Datanets::<T>::iter() {
            ensure!(id < next_datanet, "datanet id beyond NextDatanetId");
            let held = datanet_holds.entry(d.creator.clone()).or_default();
            *held = held.saturating_add(d.creation_deposit);
            let (total, pending, accepted, bytes) = counts.get(&id).copied().unwrap_or_default();
            ensure!(d.contribution_count == total, "contribution_count mismatch");
            ensure!(d.pending_count == pending, "pending_count mismatch");
            ensure!(d.accepted_count == accepted, "accepted_count mismatch");
            ensure!(d.accepted_bytes == bytes, "accepted_bytes mismatch");

            let mut hashes = Vec::new();
            let mut sizes = Vec::new();
            for i in 0..d.accepted_count {
                let cid = AcceptedContributions::<T>::get(id, i).ok_or("accepted list gap")?;
                let c = Contributions::<T>::get(cid).ok_or("accepted list points to nothing")?;
                hashes.push(c.content_hash);
                sizes.push(u64::from(c.size));
            }
            let frontier = AcceptedFrontier::<T>::get(id);
            ensure!(
                frontier_root(&frontier, d.accepted_count) == Some(merkle_root(&hashes)),
                "frontier root differs from the recomputed Merkle root"
            );
            let mut previous = 0u32;
            for v in 1..=d.latest_version {
                let info = Versions::<T>::get(id, v).ok_or("missing version")?;
                let n = info.contribution_count;
                ensure!(
                    n > previous && n <= d.accepted_count,
                    "version count out of order"
                );
                let prefix = hashes
                    .get(..n as usize)
                    .ok_or("version beyond accepted list")?;
                ensure!(
                    info.merkle_root == merkle_root(prefix),
                    "version root mismatch"
                );
                let bytes: u64 = sizes.iter().take(n as usize).sum();
                ensure!(info.total_bytes == bytes, "version total_bytes mismatch");
                previous = n;
            }
            ensure!(
                Versions::<T>::iter_prefix(id).count() == d.latest_version as usize,
                "versions beyond latest_version"
            );
        }

        let contribution_reason: T::RuntimeHoldReason = HoldReason::ContributionDeposit.into();
        for (who, amount) in contribution_holds {
            ensure!(
                T::Currency::balance_on_hold(&contribution_reason, &who) == amount,
                "contribution holds differ from pending + accepted deposits"
            );
        }
        let datanet_reason: T::RuntimeHoldReason = HoldReason::DatanetDeposit.into();
        for (who, amount) in datanet_holds {
            ensure!(
                T::Currency::balance_on_hold(&datanet_reason, &who) == amount,
                "datanet holds differ from creation deposits"
            );
        }
        Ok(())
    }
}

impl<T: Config> DatanetInspect<T::AccountId, BlockNumberFor<T>> for Pallet<T> {
    fn datanet_exists(datanet: DatanetId) -> bool {
        Datanets::<T>::contains_key(datanet)
    }

    fn datanet_owner(datanet: DatanetId) -> Option<T::AccountId> {
        Datanets::<T>::get(datanet).map(|d| d.owner)
    }

    fn version(
        datanet: DatanetId,
        version: VersionNumber,
    ) -> Option<VersionInfo<BlockNumberFor<T>>> {
        Versions::<T>::get(datanet, version)
    }

    fn contributor(contribution: ContributionId) -> Option<T::AccountId> {
        Contributions::<T>::get(contribution).map(|c| c.contributor)
    }

    fn content_hash(contribution: ContributionId) -> Option<ContentHash> {
        Contributions::<T>::get(contribution).map(|c| c.content_hash)
    }

    fn in_version(
        datanet: DatanetId,
        version: VersionNumber,
        contribution: ContributionId,
    ) -> bool {
        let Some(v) = Versions::<T>::get(datanet, version) else {
            return false;
        };
        Contributions::<T>::get(contribution)
            .and_then(|c| {
                if c.datanet == datanet {
                    c.accepted_index
                } else {
                    None
                }
            })
            .map(|i| i < v.contribution_count)
            .unwrap_or(false)
    }

    fn version_contributions(
        datanet: DatanetId,
        version: VersionNumber,
        start: u32,
        limit: u32,
    ) -> Vec<ContributionId> {
        Self::version_contribution_ids(datanet, version, start, limit)
    }
}
