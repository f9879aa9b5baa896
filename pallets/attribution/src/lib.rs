//! # Proof of Attribution pallet
//!
//! An inference is recorded on-chain, staked attestors compute in their nodes' off-chain
//! workers which contributions shaped its output, a majority of them agrees on-chain, and the
//! fee flows to the data's contributors through the rewards pallet.
//!
//! ## Credit and records
//! A user puts OPEN on hold as prepaid credit ([`Pallet::deposit_credit`], under
//! [`HoldReason::Credit`]; [`Pallet::withdraw_credit`] releases it). An inference is recorded
//! by the payer itself or by a gateway that governance registered ([`Pallet::register_gateway`])
//! and the payer approved ([`Pallet::approve_gateway`]): [`Pallet::record_inference`] takes the
//! output token ids as its **last** argument and indexes them in the block body, like datanet
//! payloads: the trailing `4 × n` bytes of the extrinsic (the ids as little-endian `u32`) under
//! their blake2-256, the job's `output_hash`. The fee is
//! `ceil(price_per_1k_tokens × completion_tokens / 1000)` at the model's current price; it
//! moves from the payer's credit to the escrow account ([`Pallet::escrow_account`]).
//!
//! ## Jobs
//! Each record is a job for `k = AttestorsPerJob` attestors drawn from the staking pallet's
//! active attestors (all of them if fewer): a Fisher–Yates shuffle seeded by
//! `blake2_256(parent block hash ‖ job id)`. They have `ResultDeadline` blocks.
//!
//! ## Off-chain workers and results
//! On each attestor's node, `offchain_worker` looks up the jobs assigned to the node's `attr`
//! keys, builds an [`AttributionRequest`] from state (the model's method, its datanet versions
//! and their contributions, the output hash) and calls the node's native engine through the
//! [`attribution_engine`] runtime interface. It submits the shares with
//! [`Pallet::submit_result`] as a transaction signed by the attestor key (a compare-and-set in
//! the node's persistent offchain storage keeps a job from being computed and sent twice;
//! it is retried after `RESUBMIT_AFTER` blocks if the result has not landed).
//!
//! ## Quorum, slashing, refunds
//! When a majority (`⌊n/2⌋ + 1` of the job's `n` attestors) has posted the same digest, the
//! job is final: the escrowed fee goes to `Rewards::distribute` with those shares, the
//! attestors' part to the attestors of the majority; attestors that posted another digest are
//! slashed `DissentSlash` of their stake through the staking pallet (which defers slashes so
//! governance can cancel them). The others may still post until the deadline: the final
//! digest is accepted (without reward), another one is slashed. At the deadline, attestors
//! that posted nothing are slashed `TimeoutSlash`. A job without a majority at its deadline is
//! reassigned once to a fresh draw (preferring attestors not drawn before), with a new
//! deadline; without a majority again, the fee goes back to the payer's credit. No one is
//! slashed for dissent when there is no majority: no one can tell who was wrong.
//!
//! Submitting a valid result costs the attestor no fee.

#![cfg_attr(not(feature = "std"), no_std)]

extern crate alloc;

#[cfg(feature = "runtime-benchmarks")]
pub mod benchmarking;
#[cfg(test)]
mod mock;
mod offchain;
#[cfg(test)]
mod tests;
pub mod weights;

use alloc::vec::Vec;
use codec::{Decode, Encode, MaxEncodedLen};
use frame_support::{
    pallet_prelude::*,
    traits::{
        fungible::{Inspect, InspectHold, Mutate, MutateHold},
        tokens::{Fortitude, Precision, Preservation, Restriction},
    },
    BoundedVec, CloneNoBound, DebugNoBound, EqNoBound, PalletId, PartialEqNoBound,
};
use frame_system::{offchain::CreateSignedTransaction, pallet_prelude::*};
use scale_info::TypeInfo;
use sp_core::H256;
use sp_runtime::{
    traits::{AccountIdConversion, Saturating, Zero},
    Perbill,
};

pub use openledger_primitives::attribution::{
    attribution_engine, check_shares, result_digest, AttributionRequest, ContributionPayout,
    InferenceAttribution, JobId, JobInfo, JobStatus, SharesError, SubmittedResult,
};
use openledger_primitives::{
    datanets::{ContributionId, DatanetInspect},
    models::{ModelId, ModelInspect},
    staking::{DistributeFee, Slash, SlashReason, StakingInspect},
};

pub use pallet::*;
pub use weights::WeightInfo;

/// The key type of attestor keys in a node's keystore.
pub const KEY_TYPE: sp_core::crypto::KeyTypeId = sp_core::crypto::KeyTypeId(*b"attr");

/// Attestor keys: sr25519 under [`KEY_TYPE`]; the attestor's account is the key's account.
pub mod crypto {
    use super::KEY_TYPE;
    use sp_runtime::{
        app_crypto::{app_crypto, sr25519},
        MultiSignature, MultiSigner,
    };
    app_crypto!(sr25519, KEY_TYPE);

    /// Signs attestation transactions with an `attr` key.
    pub struct AttestorId;

    impl frame_system::offchain::AppCrypto<MultiSigner, MultiSignature> for AttestorId {
        type RuntimeAppPublic = Public;
        type GenericSignature = sp_core::sr25519::Signature;
        type GenericPublic = sp_core::sr25519::Public;
    }

    /// For mock runtimes whose accounts are bare sr25519 keys.
    impl frame_system::offchain::AppCrypto<sp_core::sr25519::Public, sp_core::sr25519::Signature>
        for AttestorId
    {
        type RuntimeAppPublic = Public;
        type GenericSignature = sp_core::sr25519::Signature;
        type GenericPublic = sp_core::sr25519::Public;
    }
}

/// Balance type of the pallet's currency.
pub type BalanceOf<T> =
    <<T as Config>::Currency as Inspect<<T as frame_system::Config>::AccountId>>::Balance;

/// Shares as stored: `(contribution, parts per billion)`.
pub type SharesOf<T> = BoundedVec<(ContributionId, u32), <T as Config>::MaxShares>;

/// An inference record and its attribution job.
#[derive(
    Encode, Decode, CloneNoBound, PartialEqNoBound, EqNoBound, DebugNoBound, TypeInfo, MaxEncodedLen,
)]
#[scale_info(skip_type_params(T))]
pub struct Job<T: Config> {
    pub model: ModelId,
    pub payer: T::AccountId,
    pub recorder: T::AccountId,
    pub prompt_tokens: u32,
    pub completion_tokens: u32,
    pub output_hash: H256,
    pub fee: BalanceOf<T>,
    pub recorded_at: BlockNumberFor<T>,
    pub deadline: BlockNumberFor<T>,
    pub status: JobStatus,
    /// The attestors of the current round.
    pub attestors: BoundedVec<T::AccountId, T::AttestorsPerJob>,
}

/// A final attribution: what the majority agreed on and what each contribution was paid.
#[derive(
    Encode, Decode, CloneNoBound, PartialEqNoBound, EqNoBound, DebugNoBound, TypeInfo, MaxEncodedLen,
)]
#[scale_info(skip_type_params(T))]
pub struct FinalAttribution<T: Config> {
    pub digest: H256,
    pub finalized_at: BlockNumberFor<T>,
    pub attestors: BoundedVec<T::AccountId, T::AttestorsPerJob>,
    pub payouts: BoundedVec<(ContributionId, u32, BalanceOf<T>), T::MaxShares>,
}

#[frame_support::pallet]
pub mod pallet {
    use super::*;

    const STORAGE_VERSION: StorageVersion = StorageVersion::new(1);

    #[pallet::pallet]
    #[pallet::storage_version(STORAGE_VERSION)]
    pub struct Pallet<T>(_);

    #[pallet::config]
    pub trait Config: CreateSignedTransaction<Call<Self>> + frame_system::Config {
        /// The currency credit and fees are held and paid in.
        type Currency: InspectHold<Self::AccountId, Reason = Self::RuntimeHoldReason>
            + MutateHold<Self::AccountId, Reason = Self::RuntimeHoldReason>
            + Mutate<Self::AccountId>;

        /// The overarching hold reason.
        type RuntimeHoldReason: From<HoldReason>;

        /// The model registry.
        type Models: ModelInspect<Self::AccountId, BalanceOf<Self>>;

        /// The datanets: versions and their contributions.
        type Datanets: DatanetInspect<Self::AccountId, BlockNumberFor<Self>>;

        /// The active attestors.
        type Staking: StakingInspect<Self::AccountId, BalanceOf<Self>>;

        /// Slashes attestors.
        type Slasher: Slash<Self::AccountId, BalanceOf<Self>>;

        /// Splits a final job's fee.
        type Rewards: DistributeFee<Self::AccountId, BalanceOf<Self>>;

        /// Registers and removes gateways.
        type GatewayOrigin: EnsureOrigin<Self::RuntimeOrigin>;

        /// The crypto of attestor keys.
        type AuthorityId: frame_system::offchain::AppCrypto<Self::Public, Self::Signature>;

        /// The escrow account is this pallet id's account.
        #[pallet::constant]
        type PalletId: Get<PalletId>;

        /// Attestors per job (`k`).
        #[pallet::constant]
        type AttestorsPerJob: Get<u32>;

        /// Blocks the attestors of a round have to post their results.
        #[pallet::constant]
        type ResultDeadline: Get<BlockNumberFor<Self>>;

        /// Most output token ids in one record.
        #[pallet::constant]
        type MaxOutputTokens: Get<u32>;

        /// Most contributions in one result.
        #[pallet::constant]
        type MaxShares: Get<u32>;

        /// Most job deadlines falling on one block (so `on_initialize` is bounded).
        #[pallet::constant]
        type MaxJobsPerBlock: Get<u32>;

        /// Part of an attestor's stake slashed for posting a result against the majority.
        #[pallet::constant]
        type DissentSlash: Get<Perbill>;

        /// Part of an attestor's stake slashed for posting nothing by the deadline.
        #[pallet::constant]
        type TimeoutSlash: Get<Perbill>;

        /// Most items one runtime API call returns.
        #[pallet::constant]
        type MaxPageSize: Get<u32>;

        /// Weights of the calls.
        type WeightInfo: WeightInfo;

        /// Creates models, data and attestors for the benchmarks.
        #[cfg(feature = "runtime-benchmarks")]
        type BenchmarkHelper: crate::benchmarking::BenchmarkHelper<Self>;
    }

    /// Why the pallet holds funds.
    #[pallet::composite_enum]
    pub enum HoldReason {
        /// Prepaid inference credit.
        Credit,
    }

    /// Gateways governance registered: they may record inferences for payers that approved
    /// them.
    #[pallet::storage]
    pub type Gateways<T: Config> = StorageMap<_, Blake2_128Concat, T::AccountId, ()>;

    /// `(payer, gateway)`: the payer lets the gateway charge its credit.
    #[pallet::storage]
    pub type GatewayApprovals<T: Config> =
        StorageDoubleMap<_, Blake2_128Concat, T::AccountId, Blake2_128Concat, T::AccountId, ()>;

    /// The next job id.
    #[pallet::storage]
    pub type NextJobId<T: Config> = StorageValue<_, JobId, ValueQuery>;

    /// Every inference record and its job.
    #[pallet::storage]
    pub type Jobs<T: Config> = StorageMap<_, Twox64Concat, JobId, Job<T>>;

    /// Results of a job's current round: attestor → digest.
    #[pallet::storage]
    pub type Results<T: Config> =
        StorageDoubleMap<_, Twox64Concat, JobId, Blake2_128Concat, T::AccountId, H256>;

    /// The shares behind each digest posted for a job's current round, and how many
    /// attestors posted it.
    #[pallet::storage]
    pub type Digests<T: Config> =
        StorageDoubleMap<_, Twox64Concat, JobId, Identity, H256, (SharesOf<T>, u32)>;

    /// Attestor → jobs it still has to post a result for (what off-chain workers look up).
    #[pallet::storage]
    pub type Assignments<T: Config> =
        StorageDoubleMap<_, Blake2_128Concat, T::AccountId, Twox64Concat, JobId, ()>;

    /// Jobs whose deadline is at a block.
    #[pallet::storage]
    pub type Deadlines<T: Config> = StorageMap<
        _,
        Twox64Concat,
        BlockNumberFor<T>,
        BoundedVec<JobId, T::MaxJobsPerBlock>,
        ValueQuery,
    >;

    /// A model's inferences in record order: `(model, position)` → job.
    #[pallet::storage]
    pub type ModelInferences<T: Config> =
        StorageDoubleMap<_, Twox64Concat, ModelId, Twox64Concat, u32, JobId>;

    /// Number of inferences recorded per model.
    #[pallet::storage]
    pub type ModelInferenceCount<T: Config> = StorageMap<_, Twox64Concat, ModelId, u32, ValueQuery>;

    /// Final attributions.
    #[pallet::storage]
    pub type Attributions<T: Config> = StorageMap<_, Twox64Concat, JobId, FinalAttribution<T>>;

    /// Fees in escrow (recorded, not final nor refunded yet).
    #[pallet::storage]
    pub type TotalEscrow<T: Config> = StorageValue<_, BalanceOf<T>, ValueQuery>;

    #[pallet::genesis_config]
    #[derive(frame_support::DefaultNoBound)]
    pub struct GenesisConfig<T: Config> {
        /// Gateways registered at genesis.
        pub gateways: Vec<T::AccountId>,
    }

    #[pallet::genesis_build]
    impl<T: Config> BuildGenesisConfig for GenesisConfig<T> {
        fn build(&self) {
            // The escrow account must exist before fees below the existential deposit can be
            // paid into it; its existential deposit is nobody's fee.
            let escrow = Pallet::<T>::escrow_account();
            let ed = T::Currency::minimum_balance();
            if T::Currency::balance(&escrow) < ed {
                let _ = T::Currency::set_balance(&escrow, ed);
            }
            for gateway in &self.gateways {
                Gateways::<T>::insert(gateway, ());
            }
        }
    }

    #[pallet::event]
    #[pallet::generate_deposit(pub(super) fn deposit_event)]
    pub enum Event<T: Config> {
        /// Governance registered a gateway.
        GatewayRegistered { gateway: T::AccountId },
        /// Governance removed a gateway.
        GatewayRemoved { gateway: T::AccountId },
        /// A payer approved (or stopped approving) a gateway.
        GatewayApproval {
            payer: T::AccountId,
            gateway: T::AccountId,
            approved: bool,
        },
        /// Credit was put on hold.
        CreditDeposited {
            who: T::AccountId,
            amount: BalanceOf<T>,
        },
        /// Credit was released.
        CreditWithdrawn {
            who: T::AccountId,
            amount: BalanceOf<T>,
        },
        /// An inference was recorded; its fee is in escrow and its job assigned.
        InferenceRecorded {
            job: JobId,
            model: ModelId,
            payer: T::AccountId,
            fee: BalanceOf<T>,
            output_hash: H256,
            attestors: Vec<T::AccountId>,
            deadline: BlockNumberFor<T>,
        },
        /// An attestor posted a result.
        ResultSubmitted {
            job: JobId,
            attestor: T::AccountId,
            digest: H256,
        },
        /// A majority agreed; the fee was distributed.
        JobFinalized {
            job: JobId,
            digest: H256,
            fee: BalanceOf<T>,
        },
        /// No majority by the deadline: a new round with new attestors.
        JobReassigned {
            job: JobId,
            attestors: Vec<T::AccountId>,
            deadline: BlockNumberFor<T>,
        },
        /// No majority in either round: the fee went back to the payer's credit.
        JobRefunded {
            job: JobId,
            payer: T::AccountId,
            fee: BalanceOf<T>,
        },
        /// An attestor's stake slash was reported to the staking pallet (applied after its
        /// deferral window).
        AttestorSlashed {
            job: JobId,
            attestor: T::AccountId,
            reason: SlashReason,
            amount: BalanceOf<T>,
        },
        /// An attestor should have been slashed but the staking pallet refused (e.g. no stake
        /// left).
        SlashFailed {
            job: JobId,
            attestor: T::AccountId,
            reason: SlashReason,
        },
        /// Distributing a final job's fee failed; the job stays pending and is reassigned or
        /// refunded at its deadline.
        DistributionFailed { job: JobId, error: DispatchError },
    }

    #[pallet::error]
    pub enum Error<T> {
        /// The amount is zero.
        ZeroAmount,
        /// The free balance cannot cover the credit.
        InsufficientBalance,
        /// The credit cannot cover the amount or fee.
        InsufficientCredit,
        /// The account is already a gateway.
        AlreadyGateway,
        /// The account is not a gateway.
        NotGateway,
        /// The caller is neither the payer nor a gateway the payer approved.
        NotAuthorizedRecorder,
        /// No model with this id.
        UnknownModel,
        /// The model is retired: no new inferences.
        ModelRetired,
        /// The output has no tokens.
        EmptyOutput,
        /// The output has more than `MaxOutputTokens` tokens.
        OutputTooLarge,
        /// `completion_tokens` differs from the number of output token ids.
        OutputLengthMismatch,
        /// No active attestor to assign.
        NoAttestors,
        /// Too many jobs already have their deadline at that block; try in the next one.
        TooManyJobs,
        /// Job ids are exhausted.
        TooManyJobIds,
        /// No job with this id.
        UnknownJob,
        /// The caller is not an attestor of the job's current round.
        NotAssigned,
        /// The caller already posted a result for this round.
        DuplicateResult,
        /// The round's deadline has passed.
        DeadlinePassed,
        /// The job is refunded.
        JobClosed,
        /// More shares than `MaxShares`.
        TooManyShares,
        /// Shares not sorted by contribution id, or an id repeats.
        SharesNotSorted,
        /// A share of zero parts.
        ZeroShare,
        /// Shares do not sum to exactly 10^9.
        SharesNotComplete,
        /// The digest is not `result_digest(job, shares)`.
        DigestMismatch,
        /// A contribution that is not in the model's datanet versions.
        ContributionNotInModelData,
        /// Not inside an extrinsic (the output cannot be indexed).
        BadContext,
        /// The fee does not fit the balance type.
        FeeOverflow,
    }

    #[pallet::hooks]
    impl<T: Config> Hooks<BlockNumberFor<T>> for Pallet<T> {
        fn on_initialize(now: BlockNumberFor<T>) -> Weight {
            let due = Deadlines::<T>::take(now);
            let count = due.len() as u32;
            for job in due {
                Self::on_deadline(job, now);
            }
            T::WeightInfo::on_initialize(count)
        }

        fn offchain_worker(now: BlockNumberFor<T>) {
            offchain::run::<T>(now);
        }

        #[cfg(feature = "try-runtime")]
        fn try_state(_n: BlockNumberFor<T>) -> Result<(), sp_runtime::TryRuntimeError> {
            Self::do_try_state()
        }

        fn integrity_test() {
            assert!(
                T::AttestorsPerJob::get() > 0,
                "a job needs at least one attestor"
            );
            assert!(
                !T::ResultDeadline::get().is_zero(),
                "attestors need at least one block"
            );
            assert!(
                T::MaxJobsPerBlock::get() > 0,
                "no inference could ever be recorded"
            );
        }
    }

    #[pallet::call]
    impl<T: Config> Pallet<T> {
        /// Registers `gateway` (governance).
        #[pallet::call_index(0)]
        #[pallet::weight(T::WeightInfo::register_gateway())]
        pub fn register_gateway(origin: OriginFor<T>, gateway: T::AccountId) -> DispatchResult {
            T::GatewayOrigin::ensure_origin(origin)?;
            ensure!(
                !Gateways::<T>::contains_key(&gateway),
                Error::<T>::AlreadyGateway
            );
            Gateways::<T>::insert(&gateway, ());
            Self::deposit_event(Event::GatewayRegistered { gateway });
            Ok(())
        }

        /// Removes `gateway` (governance); approvals stay but are inert.
        #[pallet::call_index(1)]
        #[pallet::weight(T::WeightInfo::remove_gateway())]
        pub fn remove_gateway(origin: OriginFor<T>, gateway: T::AccountId) -> DispatchResult {
            T::GatewayOrigin::ensure_origin(origin)?;
            ensure!(
                Gateways::<T>::take(&gateway).is_some(),
                Error::<T>::NotGateway
            );
            Self::deposit_event(Event::GatewayRemoved { gateway });
            Ok(())
        }

        /// Lets `gateway` record inferences charged to the caller's credit, or stops it.
        #[pallet::call_index(2)]
        #[pallet::weight(T::WeightInfo::approve_gateway())]
        pub fn approve_gateway(
            origin: OriginFor<T>,
            gateway: T::AccountId,
            approved: bool,
        ) -> DispatchResult {
            let payer = ensure_signed(origin)?;
            if approved {
                ensure!(
                    Gateways::<T>::contains_key(&gateway),
                    Error::<T>::NotGateway
                );
                GatewayApprovals::<T>::insert(&payer, &gateway, ());
            } else {
                GatewayApprovals::<T>::remove(&payer, &gateway);
            }
            Self::deposit_event(Event::GatewayApproval {
                payer,
                gateway,
                approved,
            });
            Ok(())
        }

        /// Puts `amount` of the caller's free balance on hold as inference credit.
        #[pallet::call_index(3)]
        #[pallet::weight(T::WeightInfo::deposit_credit())]
        pub fn deposit_credit(origin: OriginFor<T>, amount: BalanceOf<T>) -> DispatchResult {
            let who = ensure_signed(origin)?;
            ensure!(!amount.is_zero(), Error::<T>::ZeroAmount);
            T::Currency::hold(&HoldReason::Credit.into(), &who, amount)
                .map_err(|_| Error::<T>::InsufficientBalance)?;
            Self::deposit_event(Event::CreditDeposited { who, amount });
            Ok(())
        }

        /// Releases `amount` of the caller's credit to its free balance.
        #[pallet::call_index(4)]
        #[pallet::weight(T::WeightInfo::withdraw_credit())]
        pub fn withdraw_credit(origin: OriginFor<T>, amount: BalanceOf<T>) -> DispatchResult {
            let who = ensure_signed(origin)?;
            ensure!(!amount.is_zero(), Error::<T>::ZeroAmount);
            ensure!(Self::credit(&who) >= amount, Error::<T>::InsufficientCredit);
            T::Currency::release(&HoldReason::Credit.into(), &who, amount, Precision::Exact)?;
            Self::deposit_event(Event::CreditWithdrawn { who, amount });
            Ok(())
        }

        /// Records an inference of `model` for `payer` and opens its attribution job. `output`
        /// (the completion's token ids, last so that they can be indexed) is kept in the block
        /// body, not in state.
        #[pallet::call_index(5)]
        #[pallet::weight(T::WeightInfo::record_inference(
            u32::try_from(output.len()).unwrap_or(u32::MAX)
        ))]
        pub fn record_inference(
            origin: OriginFor<T>,
            model: ModelId,
            payer: T::AccountId,
            prompt_tokens: u32,
            completion_tokens: u32,
            output: Vec<u32>,
        ) -> DispatchResult {
            let recorder = ensure_signed(origin)?;
            ensure!(
                recorder == payer
                    || (Gateways::<T>::contains_key(&recorder)
                        && GatewayApprovals::<T>::contains_key(&payer, &recorder)),
                Error::<T>::NotAuthorizedRecorder
            );
            ensure!(!output.is_empty(), Error::<T>::EmptyOutput);
            let len = u32::try_from(output.len())
                .ok()
                .filter(|n| *n <= T::MaxOutputTokens::get())
                .ok_or(Error::<T>::OutputTooLarge)?;
            ensure!(len == completion_tokens, Error::<T>::OutputLengthMismatch);
            let summary = T::Models::model(model).ok_or(Error::<T>::UnknownModel)?;
            ensure!(
                summary.status.accepts_inferences(),
                Error::<T>::ModelRetired
            );
            let fee = Self::fee(summary.price_per_1k_tokens, completion_tokens)?;
            ensure!(Self::credit(&payer) >= fee, Error::<T>::InsufficientCredit);

            let id = NextJobId::<T>::get();
            let next = id.checked_add(1).ok_or(Error::<T>::TooManyJobIds)?;
            let now = frame_system::Pallet::<T>::block_number();
            let attestors = Self::draw_attestors(id, &[]);
            ensure!(!attestors.is_empty(), Error::<T>::NoAttestors);
            let deadline = now.saturating_add(T::ResultDeadline::get());
            Deadlines::<T>::try_mutate(deadline, |due| due.try_push(id))
                .map_err(|_| Error::<T>::TooManyJobs)?;
            let extrinsic_index =
                frame_system::Pallet::<T>::extrinsic_index().ok_or(Error::<T>::BadContext)?;

            if !fee.is_zero() {
                T::Currency::transfer_on_hold(
                    &HoldReason::Credit.into(),
                    &payer,
                    &Self::escrow_account(),
                    fee,
                    Precision::Exact,
                    Restriction::Free,
                    Fortitude::Polite,
                )?;
                TotalEscrow::<T>::mutate(|e| *e = e.saturating_add(fee));
            }
            let bytes: Vec<u8> = output.iter().flat_map(|t| t.to_le_bytes()).collect();
            let output_hash = H256(sp_io::hashing::blake2_256(&bytes));
            for a in &attestors {
                Assignments::<T>::insert(a, id, ());
            }
            let position = ModelInferenceCount::<T>::get(model);
            ModelInferences::<T>::insert(model, position, id);
            ModelInferenceCount::<T>::insert(model, position.saturating_add(1));
            Jobs::<T>::insert(
                id,
                Job::<T> {
                    model,
                    payer: payer.clone(),
                    recorder,
                    prompt_tokens,
                    completion_tokens,
                    output_hash,
                    fee,
                    recorded_at: now,
                    deadline,
                    status: JobStatus::Pending { round: 0 },
                    attestors: attestors.clone(),
                },
            );
            NextJobId::<T>::put(next);
            // Last, once nothing can fail any more: index the output's bytes (the trailing
            // `4 × len` bytes of this extrinsic) under their hash.
            sp_io::transaction_index::index(extrinsic_index, len.saturating_mul(4), output_hash.0);
            Self::deposit_event(Event::InferenceRecorded {
                job: id,
                model,
                payer,
                fee,
                output_hash,
                attestors: attestors.into_inner(),
                deadline,
            });
            Ok(())
        }

        /// Posts the caller's result for `job`: `shares` (see
        /// [`openledger_primitives::attribution`] for their form) and their `digest`. Free for
        /// a valid result from an assigned attestor.
        #[pallet::call_index(6)]
        #[pallet::weight(T::WeightInfo::submit_result(
            u32::try_from(shares.len()).unwrap_or(u32::MAX)
        ))]
        pub fn submit_result(
            origin: OriginFor<T>,
            job: JobId,
            digest: H256,
            shares: Vec<(ContributionId, u32)>,
        ) -> DispatchResultWithPostInfo {
            let who = ensure_signed(origin)?;
            let mut j = Jobs::<T>::get(job).ok_or(Error::<T>::UnknownJob)?;
            ensure!(j.status != JobStatus::Refunded, Error::<T>::JobClosed);
            ensure!(j.attestors.contains(&who), Error::<T>::NotAssigned);
            ensure!(
                !Results::<T>::contains_key(job, &who),
                Error::<T>::DuplicateResult
            );
            let now = frame_system::Pallet::<T>::block_number();
            ensure!(now <= j.deadline, Error::<T>::DeadlinePassed);
            let shares: SharesOf<T> = shares.try_into().map_err(|_| Error::<T>::TooManyShares)?;
            check_shares(&shares).map_err(|e| match e {
                SharesError::NotSorted => Error::<T>::SharesNotSorted,
                SharesError::ZeroShare => Error::<T>::ZeroShare,
                SharesError::WrongSum => Error::<T>::SharesNotComplete,
            })?;
            ensure!(
                result_digest(job, &shares) == digest,
                Error::<T>::DigestMismatch
            );
            let versions = T::Models::datanet_versions(j.model);
            ensure!(
                shares.iter().all(|(c, _)| versions
                    .iter()
                    .any(|(d, v)| T::Datanets::in_version(*d, *v, *c))),
                Error::<T>::ContributionNotInModelData
            );

            Results::<T>::insert(job, &who, digest);
            Assignments::<T>::remove(&who, job);
            let votes = Digests::<T>::mutate(job, digest, |entry| {
                let (_, votes) = entry.get_or_insert_with(|| (shares, 0));
                *votes = votes.saturating_add(1);
                *votes
            });
            Self::deposit_event(Event::ResultSubmitted {
                job,
                attestor: who.clone(),
                digest,
            });

            match j.status {
                JobStatus::Pending { .. } if votes >= Self::quorum(j.attestors.len()) => {
                    Self::finalize(job, &mut j, digest, now)
                }
                JobStatus::Final { digest: agreed } if agreed != digest => {
                    Self::slash(job, &who, SlashReason::AttributionDissent)
                }
                _ => {}
            }
            Ok(Pays::No.into())
        }
    }
}

impl<T: Config> Pallet<T> {
    /// The escrow account: the account of `PalletId`.
    pub fn escrow_account() -> T::AccountId {
        T::PalletId::get().into_account_truncating()
    }

    /// `who`'s inference credit.
    pub fn credit(who: &T::AccountId) -> BalanceOf<T> {
        T::Currency::balance_on_hold(&HoldReason::Credit.into(), who)
    }

    /// Attestors needed to agree: a strict majority of `n`.
    pub fn quorum(n: usize) -> u32 {
        (n / 2 + 1) as u32
    }

    /// `ceil(price_per_1k × tokens / 1000)`, in the balance type (computed in u128).
    fn fee(price_per_1k: BalanceOf<T>, tokens: u32) -> Result<BalanceOf<T>, DispatchError> {
        let price: u128 = price_per_1k
            .try_into()
            .map_err(|_| Error::<T>::FeeOverflow)?;
        let fee = price
            .checked_mul(tokens as u128)
            .map(|x| x.div_ceil(1000))
            .ok_or(Error::<T>::FeeOverflow)?;
        fee.try_into().map_err(|_| Error::<T>::FeeOverflow.into())
    }

    /// Draws up to `AttestorsPerJob` attestors for `job`: a Fisher–Yates shuffle of the active
    /// attestors seeded by the parent hash and the job id, those in `exclude` placed last.
    fn draw_attestors(
        job: JobId,
        exclude: &[T::AccountId],
    ) -> BoundedVec<T::AccountId, T::AttestorsPerJob> {
        let all = T::Staking::attestors();
        let (mut fresh, mut seen): (Vec<_>, Vec<_>) =
            all.into_iter().partition(|a| !exclude.contains(a));
        let seed = (frame_system::Pallet::<T>::parent_hash(), job).encode();
        let mut state = sp_io::hashing::blake2_256(&seed);
        let mut next = |bound: usize| -> usize {
            state = sp_io::hashing::blake2_256(&state);
            let x = u64::from_le_bytes([
                state[0], state[1], state[2], state[3], state[4], state[5], state[6], state[7],
            ]);
            (x % bound as u64) as usize
        };
        for list in [&mut fresh, &mut seen] {
            for i in (1..list.len()).rev() {
                let j = next(i + 1);
                list.swap(i, j);
            }
        }
        fresh.extend(seen);
        fresh.truncate(T::AttestorsPerJob::get() as usize);
        BoundedVec::truncate_from(fresh)
    }

    /// A majority agreed on `digest`: distribute the fee and slash the dissenters. If the
    /// distribution fails the job stays pending (its deadline reassigns or refunds it).
    fn finalize(job: JobId, j: &mut Job<T>, digest: H256, now: BlockNumberFor<T>) {
        let Some((shares, _)) = Digests::<T>::get(job, digest) else {
            return;
        };
        let (agreeing, dissenting): (Vec<_>, Vec<_>) = j
            .attestors
            .iter()
            .filter_map(|a| Results::<T>::get(job, a).map(|d| (a.clone(), d)))
            .partition(|(_, d)| *d == digest);
        let agreeing: Vec<T::AccountId> = agreeing.into_iter().map(|(a, _)| a).collect();
        let paid = match T::Rewards::distribute(
            &Self::escrow_account(),
            j.fee,
            j.model,
            &shares,
            &agreeing,
        ) {
            Ok(paid) => paid,
            Err(error) => {
                Self::deposit_event(Event::DistributionFailed { job, error });
                return;
            }
        };
        TotalEscrow::<T>::mutate(|e| *e = e.saturating_sub(j.fee));
        let payouts = shares
            .iter()
            .zip(paid.iter())
            .map(|((c, share), (_, amount))| (*c, *share, *amount))
            .collect::<Vec<_>>();
        Attributions::<T>::insert(
            job,
            FinalAttribution::<T> {
                digest,
                finalized_at: now,
                attestors: BoundedVec::truncate_from(agreeing),
                payouts: BoundedVec::truncate_from(payouts),
            },
        );
        j.status = JobStatus::Final { digest };
        Jobs::<T>::insert(job, j.clone());
        Self::deposit_event(Event::JobFinalized {
            job,
            digest,
            fee: j.fee,
        });
        for (who, _) in dissenting {
            Self::slash(job, &who, SlashReason::AttributionDissent);
        }
    }

    /// Reports a slash of `who` to the staking pallet.
    fn slash(job: JobId, who: &T::AccountId, reason: SlashReason) {
        let fraction = match reason {
            SlashReason::AttributionTimeout => T::TimeoutSlash::get(),
            _ => T::DissentSlash::get(),
        };
        match T::Slasher::slash(who, fraction, reason, None) {
            Ok(amount) => Self::deposit_event(Event::AttestorSlashed {
                job,
                attestor: who.clone(),
                reason,
                amount,
            }),
            Err(_) => Self::deposit_event(Event::SlashFailed {
                job,
                attestor: who.clone(),
                reason,
            }),
        }
    }

    /// A job's round ends: slash the silent, then close the round (final), reassign it (first
    /// round without majority) or refund it (second round without majority).
    fn on_deadline(job: JobId, now: BlockNumberFor<T>) {
        let Some(mut j) = Jobs::<T>::get(job) else {
            return;
        };
        for a in &j.attestors {
            Assignments::<T>::remove(a, job);
            if !Results::<T>::contains_key(job, a) {
                Self::slash(job, a, SlashReason::AttributionTimeout);
            }
        }
        let round = match j.status {
            JobStatus::Pending { round } => round,
            JobStatus::Final { .. } | JobStatus::Refunded => return,
        };
        let previous = j.attestors.to_vec();
        let _ = Results::<T>::clear_prefix(job, T::AttestorsPerJob::get(), None);
        let _ = Digests::<T>::clear_prefix(job, T::AttestorsPerJob::get(), None);
        if round == 0 {
            let attestors = Self::draw_attestors(job, &previous);
            let deadline = now.saturating_add(T::ResultDeadline::get());
            if !attestors.is_empty()
                && Deadlines::<T>::try_mutate(deadline, |due| due.try_push(job)).is_ok()
            {
                for a in &attestors {
                    Assignments::<T>::insert(a, job, ());
                }
                j.attestors = attestors.clone();
                j.deadline = deadline;
                j.status = JobStatus::Pending { round: 1 };
                Jobs::<T>::insert(job, j);
                Self::deposit_event(Event::JobReassigned {
                    job,
                    attestors: attestors.into_inner(),
                    deadline,
                });
                return;
            }
        }
        Self::refund(job, &mut j);
    }

    /// Gives a job's escrowed fee back to the payer's credit.
    fn refund(job: JobId, j: &mut Job<T>) {
        if !j.fee.is_zero() {
            let back = T::Currency::transfer(
                &Self::escrow_account(),
                &j.payer,
                j.fee,
                Preservation::Preserve,
            )
            .and_then(|_| T::Currency::hold(&HoldReason::Credit.into(), &j.payer, j.fee));
            // The escrow holds every pending fee (try_state), and the fee just arrived in the
            // payer's free balance, so neither can fail; if they did, the fee stays free.
            debug_assert!(back.is_ok(), "escrow holds every pending fee");
            TotalEscrow::<T>::mutate(|e| *e = e.saturating_sub(j.fee));
        }
        j.status = JobStatus::Refunded;
        Jobs::<T>::insert(job, j.clone());
        Self::deposit_event(Event::JobRefunded {
            job,
            payer: j.payer.clone(),
            fee: j.fee,
        });
    }

    /// Runtime API: a job with its results.
    pub fn api_job(id: JobId) -> Option<JobInfo<T::AccountId, BalanceOf<T>, BlockNumberFor<T>>> {
        let j = Jobs::<T>::get(id)?;
        let results = j
            .attestors
            .iter()
            .filter_map(|a| {
                Results::<T>::get(id, a).map(|digest| SubmittedResult {
                    attestor: a.clone(),
                    digest,
                })
            })
            .collect();
        Some(JobInfo {
            id,
            model: j.model,
            payer: j.payer,
            recorder: j.recorder,
            prompt_tokens: j.prompt_tokens,
            completion_tokens: j.completion_tokens,
            output_hash: j.output_hash,
            fee: j.fee,
            recorded_at: j.recorded_at,
            deadline: j.deadline,
            status: j.status,
            attestors: j.attestors.into_inner(),
            results,
        })
    }

    /// Runtime API: the final attribution of an inference.
    pub fn api_inference_attribution(
        id: JobId,
    ) -> Option<InferenceAttribution<T::AccountId, BalanceOf<T>, BlockNumberFor<T>>> {
        let j = Jobs::<T>::get(id)?;
        let a = Attributions::<T>::get(id)?;
        Some(InferenceAttribution {
            job: id,
            model: j.model,
            fee: j.fee,
            digest: a.digest,
            finalized_at: a.finalized_at,
            attestors: a.attestors.into_inner(),
            contributions: a
                .payouts
                .into_iter()
                .map(|(contribution, share, paid)| ContributionPayout {
                    contribution,
                    share,
                    paid,
                })
                .collect(),
        })
    }

    /// Runtime API: a page of a model's inferences.
    pub fn api_model_inferences(
        model: ModelId,
        start: u32,
        limit: u32,
    ) -> Vec<JobInfo<T::AccountId, BalanceOf<T>, BlockNumberFor<T>>> {
        let limit = limit.min(T::MaxPageSize::get());
        let end = start
            .saturating_add(limit)
            .min(ModelInferenceCount::<T>::get(model));
        (start..end)
            .filter_map(|p| ModelInferences::<T>::get(model, p))
            .filter_map(Self::api_job)
            .collect()
    }

    /// Invariants: the escrow holds every pending fee; pending jobs are due at their deadline
    /// and their assignments are consistent; final jobs have their attribution.
    pub fn do_try_state() -> Result<(), sp_runtime::TryRuntimeError> {
        let ed = T::Currency::minimum_balance();
        ensure!(
            T::Currency::balance(&Self::escrow_account())
                >= TotalEscrow::<T>::get().saturating_add(ed),
            "escrow holds less than the pending fees"
        );
        let mut escrowed = BalanceOf::<T>::zero();
        for (id, j) in Jobs::<T>::iter() {
            match j.status {
                JobStatus::Pending { .. } => {
                    escrowed = escrowed.saturating_add(j.fee);
                    ensure!(
                        Deadlines::<T>::get(j.deadline).contains(&id),
                        "pending job not due"
                    );
                }
                JobStatus::Final { digest } => {
                    let a = Attributions::<T>::get(id).ok_or("final job without attribution")?;
                    ensure!(
                        a.digest == digest,
                        "attribution digest differs from the job's"
                    );
                }
                JobStatus::Refunded => {}
            }
        }
        ensure!(
            escrowed == TotalEscrow::<T>::get(),
            "TotalEscrow is not the sum of pending fees"
        );
        for (who, id, ()) in Assignments::<T>::iter() {
            let j = Jobs::<T>::get(id).ok_or("assignment to an unknown job")?;
            ensure!(j.attestors.contains(&who), "assignment of a non-attestor");
            ensure!(
                !Results::<T>::contains_key(id, &who),
                "assignment kept after a result"
            );
        }
        Ok(())
    }
}
