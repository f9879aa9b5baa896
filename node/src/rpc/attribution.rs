//! `attribution_*` JSON-RPC methods: inference records and their attribution jobs, what each
//! contribution was paid for an inference, a model's inferences, a contribution's earnings and
//! an account's inference credit, read from the runtime at the best block (or at `at`).
//! Balances are decimal strings; fields are named in camelCase.

use std::{marker::PhantomData, sync::Arc};

use jsonrpsee::{
    core::{async_trait, RpcResult},
    proc_macros::rpc,
    types::{error::ErrorObject, ErrorObjectOwned},
};
use openledger_primitives::{
    attribution::{AttributionApi, InferenceAttribution, JobId, JobInfo},
    datanets::ContributionId,
    models::ModelId,
    rewards::{ContributionRewards, RewardsApi},
};
use serde::{de::DeserializeOwned, Serialize};
use sp_api::ProvideRuntimeApi;
use sp_blockchain::HeaderBackend;
use sp_runtime::traits::Block as BlockT;

use super::{call_at, DEFAULT_PAGE};

/// Error code of a contribution the rewards pallet knows nothing about.
pub const UNKNOWN_CONTRIBUTION: i32 = 9301;

/// The `attribution_*` methods.
#[rpc(
    server,
    namespace = "attribution",
    server_bounds(
        BlockHash: DeserializeOwned + Send + Sync + 'static,
        AccountId: Serialize + DeserializeOwned + Clone + Send + Sync + 'static,
        Balance: std::fmt::Display + Clone + Send + Sync + 'static,
        BlockNumber: Serialize + Clone + Send + Sync + 'static,
    )
)]
pub trait AttributionRpc<BlockHash, AccountId, Balance, BlockNumber> {
    /// An inference record and its job: status (`pending` with its round, `final` with the
    /// agreed digest, or `refunded`), attestors, deadline and the results posted so far.
    #[method(name = "job")]
    fn job(
        &self,
        job: JobId,
        at: Option<BlockHash>,
    ) -> RpcResult<Option<JobInfo<AccountId, Balance, BlockNumber>>>;

    /// The final attribution of an inference: each contribution's share and the OPEN it was
    /// paid, and the attestors of the majority (`null` until final).
    #[method(name = "inference")]
    fn inference(
        &self,
        job: JobId,
        at: Option<BlockHash>,
    ) -> RpcResult<Option<InferenceAttribution<AccountId, Balance, BlockNumber>>>;

    /// A model's inferences in record order, from position `start` (default 0), at most
    /// `limit` (default 50, at most 100).
    #[method(name = "modelInferences")]
    fn model_inferences(
        &self,
        model: ModelId,
        start: Option<u32>,
        limit: Option<u32>,
        at: Option<BlockHash>,
    ) -> RpcResult<Vec<JobInfo<AccountId, Balance, BlockNumber>>>;

    /// What a contribution earned its contributor over all inferences ("what did my data
    /// earn").
    #[method(name = "contributionEarnings")]
    fn contribution_earnings(
        &self,
        contribution: ContributionId,
        at: Option<BlockHash>,
    ) -> RpcResult<ContributionRewards<AccountId, Balance>>;

    /// An account's prepaid inference credit (on hold).
    #[method(name = "credit")]
    fn credit(&self, who: AccountId, at: Option<BlockHash>) -> RpcResult<String>;
}

/// Implementation of [`AttributionRpcServer`] over a client.
pub struct Attribution<C, Block> {
    client: Arc<C>,
    _block: PhantomData<Block>,
}

impl<C, Block> Attribution<C, Block> {
    /// Serve attribution from `client`.
    pub fn new(client: Arc<C>) -> Self {
        Self {
            client,
            _block: PhantomData,
        }
    }
}

#[async_trait]
impl<C, Block, AccountId, Balance, BlockNumber>
    AttributionRpcServer<<Block as BlockT>::Hash, AccountId, Balance, BlockNumber>
    for Attribution<C, Block>
where
    Block: BlockT,
    C: ProvideRuntimeApi<Block> + HeaderBackend<Block> + Send + Sync + 'static,
    C::Api: AttributionApi<Block, AccountId, Balance, BlockNumber>
        + RewardsApi<Block, AccountId, Balance>,
    AccountId: codec::Codec + Serialize + DeserializeOwned + Clone + Send + Sync + 'static,
    Balance: codec::Codec + std::fmt::Display + Clone + Send + Sync + 'static,
    BlockNumber: codec::Codec + Serialize + Clone + Send + Sync + 'static,
{
    fn job(
        &self,
        job: JobId,
        at: Option<Block::Hash>,
    ) -> RpcResult<Option<JobInfo<AccountId, Balance, BlockNumber>>> {
        call_at(&*self.client, at, |api, at| api.job(at, job))
    }

    fn inference(
        &self,
        job: JobId,
        at: Option<Block::Hash>,
    ) -> RpcResult<Option<InferenceAttribution<AccountId, Balance, BlockNumber>>> {
        call_at(&*self.client, at, |api, at| {
            api.inference_attribution(at, job)
        })
    }

    fn model_inferences(
        &self,
        model: ModelId,
        start: Option<u32>,
        limit: Option<u32>,
        at: Option<Block::Hash>,
    ) -> RpcResult<Vec<JobInfo<AccountId, Balance, BlockNumber>>> {
        let (start, limit) = (start.unwrap_or(0), limit.unwrap_or(DEFAULT_PAGE));
        call_at(&*self.client, at, |api, at| {
            api.model_inferences(at, model, start, limit)
        })
    }

    fn contribution_earnings(
        &self,
        contribution: ContributionId,
        at: Option<Block::Hash>,
    ) -> RpcResult<ContributionRewards<AccountId, Balance>> {
        let found = call_at(&*self.client, at, |api, at| {
            RewardsApi::contributions(&*api, at, vec![contribution])
        })?;
        found
            .into_iter()
            .find(|c| c.contributor.is_some())
            .ok_or_else(|| unknown_contribution(contribution))
    }

    fn credit(&self, who: AccountId, at: Option<Block::Hash>) -> RpcResult<String> {
        call_at(&*self.client, at, |api, at| api.credit(at, who)).map(|c| c.to_string())
    }
}

fn unknown_contribution(contribution: ContributionId) -> ErrorObjectOwned {
    ErrorObject::owned(
        UNKNOWN_CONTRIBUTION,
        format!("contribution {contribution} does not exist"),
        None::<()>,
    )
}
