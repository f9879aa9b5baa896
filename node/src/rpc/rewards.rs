//! `rewards_*` JSON-RPC methods: what accounts, contributions and models earned, and the
//! treasury, read from the runtime at the best block (or at `at`). Balances are decimal
//! strings (JSON numbers lose precision above 2^53); fields are named in camelCase.

use std::{marker::PhantomData, sync::Arc};

use jsonrpsee::{
    core::{async_trait, RpcResult},
    proc_macros::rpc,
};
use openledger_primitives::{
    datanets::ContributionId,
    models::ModelId,
    rewards::{AccountRewards, ContributionRewards, ModelRewards, RewardsApi, TreasuryInfo},
};
use serde::{de::DeserializeOwned, Serialize};
use sp_api::ProvideRuntimeApi;
use sp_blockchain::HeaderBackend;
use sp_runtime::traits::Block as BlockT;

use super::call_at;

/// The `rewards_*` methods.
#[rpc(
    server,
    namespace = "rewards",
    server_bounds(
        BlockHash: DeserializeOwned + Send + Sync + 'static,
        AccountId: Serialize + DeserializeOwned + Clone + Send + Sync + 'static,
        Balance: std::fmt::Display + Clone + Send + Sync + 'static,
    )
)]
pub trait RewardsRpc<BlockHash, AccountId, Balance> {
    /// An account's rewards: earned as model owner, contributor and attestor, claimed and
    /// claimable (all zero if it never earned any).
    #[method(name = "account")]
    fn account(&self, who: AccountId, at: Option<BlockHash>) -> RpcResult<AccountRewards<Balance>>;

    /// What each contribution earned its contributor, in the order asked (at most the
    /// runtime's page size, 100).
    #[method(name = "contributions")]
    fn contributions(
        &self,
        contributions: Vec<ContributionId>,
        at: Option<BlockHash>,
    ) -> RpcResult<Vec<ContributionRewards<AccountId, Balance>>>;

    /// Fees distributed for a model.
    #[method(name = "model")]
    fn model(&self, model: ModelId, at: Option<BlockHash>) -> RpcResult<ModelRewards<Balance>>;

    /// The treasury's account and balance, and the sum of unclaimed rewards.
    #[method(name = "treasury")]
    fn treasury(&self, at: Option<BlockHash>) -> RpcResult<TreasuryInfo<AccountId, Balance>>;
}

/// Implementation of [`RewardsRpcServer`] over a client.
pub struct Rewards<C, Block> {
    client: Arc<C>,
    _block: PhantomData<Block>,
}

impl<C, Block> Rewards<C, Block> {
    /// Serve rewards from `client`.
    pub fn new(client: Arc<C>) -> Self {
        Self { client, _block: PhantomData }
    }
}

#[async_trait]
impl<C, Block, AccountId, Balance> RewardsRpcServer<<Block as BlockT>::Hash, AccountId, Balance>
    for Rewards<C, Block>
where
    Block: BlockT,
    C: ProvideRuntimeApi<Block> + HeaderBackend<Block> + Send + Sync + 'static,
    C::Api: RewardsApi<Block, AccountId, Balance>,
    AccountId: codec::Codec + Serialize + DeserializeOwned + Clone + Send + Sync + 'static,
    Balance: codec::Codec + std::fmt::Display + Clone + Send + Sync + 'static,
{
    fn account(&self, who: AccountId, at: Option<Block::Hash>) -> RpcResult<AccountRewards<Balance>> {
        call_at(&*self.client, at, |api, at| api.account(at, who))
    }

    fn contributions(
        &self,
        contributions: Vec<ContributionId>,
        at: Option<Block::Hash>,
    ) -> RpcResult<Vec<ContributionRewards<AccountId, Balance>>> {
        call_at(&*self.client, at, |api, at| api.contributions(at, contributions))
    }

    fn model(&self, model: ModelId, at: Option<Block::Hash>) -> RpcResult<ModelRewards<Balance>> {
        call_at(&*self.client, at, |api, at| api.model(at, model))
    }

    fn treasury(&self, at: Option<Block::Hash>) -> RpcResult<TreasuryInfo<AccountId, Balance>> {
        call_at(&*self.client, at, |api, at| api.treasury(at))
    }
}
