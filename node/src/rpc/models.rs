//! `models_*` JSON-RPC methods: read base models, models and adapters (with their datanet
//! provenance, price in force, pending price change and fee split) from the runtime, at the
//! best block or at `at`. Owners are SS58 addresses, balances decimal strings, fee-split parts
//! parts per billion.

use std::{marker::PhantomData, sync::Arc};

use jsonrpsee::{
    core::{async_trait, RpcResult},
    proc_macros::rpc,
};
use openledger_primitives::models::{
    BaseModelId, BaseModelInfo, FeeSplitBounds, ModelId, ModelInfo, ModelsApi,
};
use serde::Serialize;
use sp_api::ProvideRuntimeApi;
use sp_blockchain::HeaderBackend;
use sp_runtime::traits::Block as BlockT;

use super::{call_at, DEFAULT_PAGE};

/// The `models_*` methods.
#[rpc(
    server,
    namespace = "models",
    server_bounds(
        BlockHash: serde::de::DeserializeOwned + Send + Sync + 'static,
        AccountId: Serialize + serde::de::DeserializeOwned + Clone + Send + Sync + 'static,
        Balance: std::fmt::Display + Clone + Send + Sync + 'static,
        BlockNumber: Serialize + Clone + Send + Sync + 'static,
    )
)]
pub trait ModelsRpc<BlockHash, AccountId, Balance, BlockNumber> {
    /// One base model, or null.
    #[method(name = "baseModel")]
    fn base_model(
        &self,
        id: BaseModelId,
        at: Option<BlockHash>,
    ) -> RpcResult<Option<BaseModelInfo<BlockNumber>>>;

    /// Base models by id from `start` (default 0), at most `limit`.
    #[method(name = "baseModels")]
    fn base_models(
        &self,
        start: Option<BaseModelId>,
        limit: Option<u32>,
        at: Option<BlockHash>,
    ) -> RpcResult<Vec<BaseModelInfo<BlockNumber>>>;

    /// One model or adapter, or null.
    #[method(name = "get")]
    fn get(
        &self,
        id: ModelId,
        at: Option<BlockHash>,
    ) -> RpcResult<Option<ModelInfo<AccountId, Balance, BlockNumber>>>;

    /// Models and adapters by id from `start` (default 0), at most `limit`.
    #[method(name = "list")]
    fn list(
        &self,
        start: Option<ModelId>,
        limit: Option<u32>,
        at: Option<BlockHash>,
    ) -> RpcResult<Vec<ModelInfo<AccountId, Balance, BlockNumber>>>;

    /// The models `owner` (SS58) owns, by id from `start` (default 0), at most `limit`.
    #[method(name = "byOwner")]
    fn by_owner(
        &self,
        owner: AccountId,
        start: Option<ModelId>,
        limit: Option<u32>,
        at: Option<BlockHash>,
    ) -> RpcResult<Vec<ModelInfo<AccountId, Balance, BlockNumber>>>;

    /// The bounds new fee splits must respect.
    #[method(name = "feeSplitBounds")]
    fn fee_split_bounds(&self, at: Option<BlockHash>) -> RpcResult<FeeSplitBounds>;
}

/// Implementation of [`ModelsRpcServer`] over a client.
pub struct Models<C, Block> {
    client: Arc<C>,
    _block: PhantomData<Block>,
}

impl<C, Block> Models<C, Block> {
    /// Serve the registry from `client`.
    pub fn new(client: Arc<C>) -> Self {
        Self { client, _block: PhantomData }
    }
}

#[async_trait]
impl<C, Block, AccountId, Balance, BlockNumber>
    ModelsRpcServer<<Block as BlockT>::Hash, AccountId, Balance, BlockNumber> for Models<C, Block>
where
    Block: BlockT,
    C: ProvideRuntimeApi<Block> + HeaderBackend<Block> + Send + Sync + 'static,
    C::Api: ModelsApi<Block, AccountId, Balance, BlockNumber>,
    AccountId: codec::Codec + Serialize + serde::de::DeserializeOwned + Clone + Send + Sync + 'static,
    Balance: codec::Codec + std::fmt::Display + Clone + Send + Sync + 'static,
    BlockNumber: codec::Codec + Serialize + Clone + Send + Sync + 'static,
{
    fn base_model(
        &self,
        id: BaseModelId,
        at: Option<Block::Hash>,
    ) -> RpcResult<Option<BaseModelInfo<BlockNumber>>> {
        call_at::<Block, _, _>(&*self.client, at, |api, at| api.base_model(at, id))
    }

    fn base_models(
        &self,
        start: Option<BaseModelId>,
        limit: Option<u32>,
        at: Option<Block::Hash>,
    ) -> RpcResult<Vec<BaseModelInfo<BlockNumber>>> {
        call_at::<Block, _, _>(&*self.client, at, |api, at| {
            api.base_models(at, start.unwrap_or(0), limit.unwrap_or(DEFAULT_PAGE))
        })
    }

    fn get(
        &self,
        id: ModelId,
        at: Option<Block::Hash>,
    ) -> RpcResult<Option<ModelInfo<AccountId, Balance, BlockNumber>>> {
        call_at::<Block, _, _>(&*self.client, at, |api, at| api.model(at, id))
    }

    fn list(
        &self,
        start: Option<ModelId>,
        limit: Option<u32>,
        at: Option<Block::Hash>,
    ) -> RpcResult<Vec<ModelInfo<AccountId, Balance, BlockNumber>>> {
        call_at::<Block, _, _>(&*self.client, at, |api, at| {
            api.models(at, start.unwrap_or(0), limit.unwrap_or(DEFAULT_PAGE))
        })
    }

    fn by_owner(
        &self,
        owner: AccountId,
        start: Option<ModelId>,
        limit: Option<u32>,
        at: Option<Block::Hash>,
    ) -> RpcResult<Vec<ModelInfo<AccountId, Balance, BlockNumber>>> {
        call_at::<Block, _, _>(&*self.client, at, |api, at| {
            api.models_by_owner(at, owner, start.unwrap_or(0), limit.unwrap_or(DEFAULT_PAGE))
        })
    }

    fn fee_split_bounds(&self, at: Option<Block::Hash>) -> RpcResult<FeeSplitBounds> {
        call_at::<Block, _, _>(&*self.client, at, |api, at| api.fee_split_bounds(at))
    }
}
