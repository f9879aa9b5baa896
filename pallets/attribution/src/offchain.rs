//! The off-chain worker: compute the jobs assigned to this node's attestor keys with the
//! node's native engine and post the results as signed transactions.

use super::*;
use frame_system::offchain::{AppCrypto, SendSignedTransaction, Signer};
use openledger_primitives::attribution::{CandidateContribution, EngineError, EngineMethod};
use openledger_primitives::models::ModelKind;
use sp_runtime::{
    offchain::storage::{MutateStorageError, StorageValueRef},
    traits::IdentifyAccount,
    RuntimeAppPublic,
};

/// Blocks after which a result that has not landed is computed and sent again.
pub const RESUBMIT_AFTER: u32 = 5;
/// Most jobs one worker run computes per key (the next run takes the rest).
pub const JOBS_PER_RUN: usize = 8;
/// Contributions read per page when building a request.
const PAGE: u32 = 256;

/// Prefix of the offchain-storage key that records when a job's result was last sent.
const SENT_PREFIX: &[u8] = b"openledger/attr/sent/";

pub(crate) fn run<T: Config>(now: BlockNumberFor<T>) {
    if !sp_io::offchain::is_validator() {
        return;
    }
    for (public, account) in local_attestors::<T>() {
        // Jobs sent recently (waiting to land) do not count towards the run's budget, so a few
        // jobs the engine cannot compute yet never starve the others.
        let mut computed = 0;
        for job in Assignments::<T>::iter_key_prefix(&account) {
            if computed == JOBS_PER_RUN {
                break;
            }
            match attest::<T>(job, &public, &account, now) {
                Ok(()) => computed += 1,
                Err(WorkerError::AlreadySent | WorkerError::NotPending) => {},
                Err(e) => {
                    computed += 1;
                    log::warn!(target: "runtime::attribution", "job {job}: {e:?}");
                },
            }
        }
    }
}

/// The `attr` keys of this node with their accounts.
fn local_attestors<T: Config>() -> Vec<(T::Public, T::AccountId)> {
    <T::AuthorityId as AppCrypto<T::Public, T::Signature>>::RuntimeAppPublic::all()
        .into_iter()
        .map(|key| {
            let generic: <T::AuthorityId as AppCrypto<T::Public, T::Signature>>::GenericPublic =
                key.into();
            let public: T::Public = generic.into();
            let account = public.clone().into_account();
            (public, account)
        })
        .collect()
}

/// Why a job was not attested in this run (logged through `Debug`).
#[derive(Debug)]
#[allow(dead_code)]
pub(crate) enum WorkerError {
    /// Sent recently; waiting for it to land.
    AlreadySent,
    /// The job or its model is gone, or the job is closed.
    NotPending,
    /// The model cannot be attributed (a LoRA adapter without a base tokenizer).
    NoMethod,
    Engine(EngineError),
    /// The transaction could not be signed or submitted.
    Submit,
}

fn attest<T: Config>(
    job: JobId,
    public: &T::Public,
    account: &T::AccountId,
    now: BlockNumberFor<T>,
) -> Result<(), WorkerError> {
    let j = Jobs::<T>::get(job).ok_or(WorkerError::NotPending)?;
    if j.status == JobStatus::Refunded || Results::<T>::contains_key(job, account) {
        return Err(WorkerError::NotPending);
    }
    claim::<T>(job, &j, account, now)?;
    let request = request::<T>(job, &j)?;
    let shares = attribution_engine::attribute(request).map_err(WorkerError::Engine)?;
    let digest = result_digest(job, &shares);
    let results = Signer::<T, T::AuthorityId>::all_accounts()
        .with_filter(alloc::vec![public.clone()])
        .send_signed_transaction(|_| Call::submit_result {
            job,
            digest,
            shares: shares.clone(),
        });
    match results.first() {
        Some((_, Ok(()))) => Ok(()),
        _ => Err(WorkerError::Submit),
    }
}

/// Compare-and-set in persistent offchain storage: at most one worker computes a job's round
/// for an account, and again only after `RESUBMIT_AFTER` blocks (a dropped transaction).
fn claim<T: Config>(
    job: JobId,
    j: &Job<T>,
    account: &T::AccountId,
    now: BlockNumberFor<T>,
) -> Result<(), WorkerError> {
    let key = (SENT_PREFIX, job, j.deadline, account).encode();
    let sent = StorageValueRef::persistent(&key);
    sent.mutate(|last: Result<Option<BlockNumberFor<T>>, _>| match last {
        Ok(Some(at)) if now < at.saturating_add(RESUBMIT_AFTER.into()) => Err(()),
        _ => Ok(now),
    })
    .map(|_| ())
    .map_err(|e| match e {
        MutateStorageError::ValueFunctionFailed(())
        | MutateStorageError::ConcurrentModification(_) => WorkerError::AlreadySent,
    })
}

/// What the engine needs for `job`, read from state.
fn request<T: Config>(job: JobId, j: &Job<T>) -> Result<AttributionRequest, WorkerError> {
    let model = T::Models::model(j.model).ok_or(WorkerError::NotPending)?;
    let method = match model.kind {
        ModelKind::LoraAdapter => EngineMethod::TokenSpans {
            tokenizer_hash: model.tokenizer_hash.ok_or(WorkerError::NoMethod)?,
        },
        ModelKind::Specialised => EngineMethod::GradientInfluence {
            index_hash: model.attribution_index_hash,
        },
    };
    let mut versions = Vec::new();
    let mut contributions = Vec::new();
    for (datanet, version) in model.datanet_versions {
        let info = T::Datanets::version(datanet, version).ok_or(WorkerError::NotPending)?;
        versions.push((datanet, version, info.merkle_root));
        let mut start = 0;
        while start < info.contribution_count {
            let page = T::Datanets::version_contributions(datanet, version, start, PAGE);
            if page.is_empty() {
                break;
            }
            start = start.saturating_add(page.len() as u32);
            for id in page {
                let content_hash = T::Datanets::content_hash(id).ok_or(WorkerError::NotPending)?;
                contributions.push(CandidateContribution {
                    id,
                    datanet,
                    version,
                    content_hash,
                });
            }
        }
    }
    Ok(AttributionRequest {
        job,
        model: j.model,
        method,
        versions,
        contributions,
        output_hash: j.output_hash,
        output_len: j.completion_tokens,
        max_shares: T::MaxShares::get(),
    })
}
