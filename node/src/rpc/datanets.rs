//! `datanets_*` JSON-RPC methods: read datanets, contributions and versions from the runtime
//! (at the best block, or at `at`), and fetch contributed bytes by content hash from the
//! node's indexed transactions.
//!
//! Contributed bytes live in block bodies. A node keeps them as long as it keeps block bodies:
//! forever with the default `--blocks-pruning archive-canonical` (finalized blocks) or with
//! `--blocks-pruning archive`; a numeric `--blocks-pruning N` drops them with their blocks.

use std::{marker::PhantomData, sync::Arc};

use jsonrpsee::{
    core::{async_trait, RpcResult},
    proc_macros::rpc,
    types::{error::ErrorObject, ErrorObjectOwned},
};
use openledger_primitives::datanets::{
    ContentHash, ContributionId, ContributionInfo, DatanetId, DatanetInfo, DatanetsApi,
    VersionInfo, VersionNumber,
};
use serde::{Deserialize, Serialize};
use sp_api::ProvideRuntimeApi;
use sp_blockchain::HeaderBackend;
use sp_core::{Bytes, H256};
use sp_runtime::traits::Block as BlockT;

/// Page size when the caller gives none; the runtime clamps larger requests to its maximum.
const DEFAULT_PAGE: u32 = 50;

/// Error codes of the `datanets_*` methods.
pub mod error_code {
    /// The runtime API call failed (e.g. unknown block).
    pub const RUNTIME: i32 = 9000;
    /// No indexed payload with that content hash on this node.
    pub const PAYLOAD_NOT_FOUND: i32 = 9001;
    /// The node's database failed to answer.
    pub const DATABASE: i32 = 9002;
}

/// A contribution's bytes, as stored in the block body that carried them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Payload {
    /// `blake2_256` of `data`, as asked.
    pub content_hash: H256,
    /// Number of bytes.
    pub size: u32,
    /// The bytes (hex in JSON).
    pub data: Bytes,
}

/// The `datanets_*` methods.
#[rpc(
    server,
    namespace = "datanets",
    server_bounds(
        BlockHash: serde::de::DeserializeOwned + Send + Sync + 'static,
        AccountId: Serialize + Clone + Send + Sync + 'static,
        Balance: std::fmt::Display + Clone + Send + Sync + 'static,
        BlockNumber: Serialize + Clone + Send + Sync + 'static,
    )
)]
pub trait DatanetsRpc<BlockHash, AccountId, Balance, BlockNumber> {
    /// Datanets by id from `start` (default 0), at most `limit`.
    #[method(name = "list")]
    fn list(
        &self,
        start: Option<DatanetId>,
        limit: Option<u32>,
        at: Option<BlockHash>,
    ) -> RpcResult<Vec<DatanetInfo<AccountId, Balance, BlockNumber>>>;

    /// One datanet, or null.
    #[method(name = "get")]
    fn get(
        &self,
        datanet: DatanetId,
        at: Option<BlockHash>,
    ) -> RpcResult<Option<DatanetInfo<AccountId, Balance, BlockNumber>>>;

    /// A datanet's contributions (any status) by position.
    #[method(name = "contributions")]
    fn contributions(
        &self,
        datanet: DatanetId,
        start: Option<u32>,
        limit: Option<u32>,
        at: Option<BlockHash>,
    ) -> RpcResult<Vec<ContributionInfo<AccountId, Balance, BlockNumber>>>;

    /// The contributions of a published version, in Merkle-leaf order.
    #[method(name = "versionContributions")]
    fn version_contributions(
        &self,
        datanet: DatanetId,
        version: VersionNumber,
        start: Option<u32>,
        limit: Option<u32>,
        at: Option<BlockHash>,
    ) -> RpcResult<Vec<ContributionInfo<AccountId, Balance, BlockNumber>>>;

    /// One contribution, or null.
    #[method(name = "contribution")]
    fn contribution(
        &self,
        id: ContributionId,
        at: Option<BlockHash>,
    ) -> RpcResult<Option<ContributionInfo<AccountId, Balance, BlockNumber>>>;

    /// The contribution of `datanet` with this content hash, or null.
    #[method(name = "contributionByHash")]
    fn contribution_by_hash(
        &self,
        datanet: DatanetId,
        content_hash: ContentHash,
        at: Option<BlockHash>,
    ) -> RpcResult<Option<ContributionInfo<AccountId, Balance, BlockNumber>>>;

    /// Published versions from `start` (default 1).
    #[method(name = "versions")]
    fn versions(
        &self,
        datanet: DatanetId,
        start: Option<VersionNumber>,
        limit: Option<u32>,
        at: Option<BlockHash>,
    ) -> RpcResult<Vec<VersionInfo<BlockNumber>>>;

    /// One published version, or null.
    #[method(name = "version")]
    fn version(
        &self,
        datanet: DatanetId,
        version: VersionNumber,
        at: Option<BlockHash>,
    ) -> RpcResult<Option<VersionInfo<BlockNumber>>>;

    /// The bytes of a contribution, by content hash, from this node's indexed transactions.
    #[method(name = "payload")]
    fn payload(&self, content_hash: ContentHash) -> RpcResult<Payload>;
}

/// Implementation of [`DatanetsRpcServer`] over a client.
pub struct Datanets<C, Block> {
    client: Arc<C>,
    _block: PhantomData<Block>,
}

impl<C, Block> Datanets<C, Block> {
    /// Serve datanets from `client`.
    pub fn new(client: Arc<C>) -> Self {
        Self { client, _block: PhantomData }
    }
}

impl<C: HeaderBackend<Block>, Block: BlockT> Datanets<C, Block> {
    /// The block to read state at: the one asked for, or the best block.
    fn at_or_best(&self, at: Option<Block::Hash>) -> Block::Hash {
        at.unwrap_or_else(|| self.client.info().best_hash)
    }
}

/// A failed runtime API call (e.g. an unknown block), as a JSON-RPC error.
pub(crate) fn runtime_error(e: impl std::fmt::Display) -> ErrorObjectOwned {
    ErrorObject::owned(error_code::RUNTIME, format!("runtime API call failed: {e}"), None::<()>)
}

#[async_trait]
impl<C, Block, AccountId, Balance, BlockNumber>
    DatanetsRpcServer<<Block as BlockT>::Hash, AccountId, Balance, BlockNumber>
    for Datanets<C, Block>
where
    Block: BlockT,
    C: ProvideRuntimeApi<Block>
        + HeaderBackend<Block>
        + sc_client_api::BlockBackend<Block>
        + Send
        + Sync
        + 'static,
    C::Api: DatanetsApi<Block, AccountId, Balance, BlockNumber>,
    AccountId: codec::Codec + Serialize + Clone + Send + Sync + 'static,
    Balance: codec::Codec + std::fmt::Display + Clone + Send + Sync + 'static,
    BlockNumber: codec::Codec + Serialize + Clone + Send + Sync + 'static,
{
    fn list(
        &self,
        start: Option<DatanetId>,
        limit: Option<u32>,
        at: Option<Block::Hash>,
    ) -> RpcResult<Vec<DatanetInfo<AccountId, Balance, BlockNumber>>> {
        let at = self.at_or_best(at);
        self.client
            .runtime_api()
            .datanets(at, start.unwrap_or(0), limit.unwrap_or(DEFAULT_PAGE))
            .map_err(runtime_error)
    }

    fn get(
        &self,
        datanet: DatanetId,
        at: Option<Block::Hash>,
    ) -> RpcResult<Option<DatanetInfo<AccountId, Balance, BlockNumber>>> {
        let at = self.at_or_best(at);
        self.client.runtime_api().datanet(at, datanet).map_err(runtime_error)
    }

    fn contributions(
        &self,
        datanet: DatanetId,
        start: Option<u32>,
        limit: Option<u32>,
        at: Option<Block::Hash>,
    ) -> RpcResult<Vec<ContributionInfo<AccountId, Balance, BlockNumber>>> {
        let at = self.at_or_best(at);
        self.client
            .runtime_api()
            .contributions(at, datanet, start.unwrap_or(0), limit.unwrap_or(DEFAULT_PAGE))
            .map_err(runtime_error)
    }

    fn version_contributions(
        &self,
        datanet: DatanetId,
        version: VersionNumber,
        start: Option<u32>,
        limit: Option<u32>,
        at: Option<Block::Hash>,
    ) -> RpcResult<Vec<ContributionInfo<AccountId, Balance, BlockNumber>>> {
        let at = self.at_or_best(at);
        self.client
            .runtime_api()
            .version_contributions(
                at,
                datanet,
                version,
                start.unwrap_or(0),
                limit.unwrap_or(DEFAULT_PAGE),
            )
            .map_err(runtime_error)
    }

    fn contribution(
        &self,
        id: ContributionId,
        at: Option<Block::Hash>,
    ) -> RpcResult<Option<ContributionInfo<AccountId, Balance, BlockNumber>>> {
        let at = self.at_or_best(at);
        self.client.runtime_api().contribution(at, id).map_err(runtime_error)
    }

    fn contribution_by_hash(
        &self,
        datanet: DatanetId,
        content_hash: ContentHash,
        at: Option<Block::Hash>,
    ) -> RpcResult<Option<ContributionInfo<AccountId, Balance, BlockNumber>>> {
        let at = self.at_or_best(at);
        self.client
            .runtime_api()
            .contribution_by_hash(at, datanet, content_hash)
            .map_err(runtime_error)
    }

    fn versions(
        &self,
        datanet: DatanetId,
        start: Option<VersionNumber>,
        limit: Option<u32>,
        at: Option<Block::Hash>,
    ) -> RpcResult<Vec<VersionInfo<BlockNumber>>> {
        let at = self.at_or_best(at);
        self.client
            .runtime_api()
            .versions(at, datanet, start.unwrap_or(1), limit.unwrap_or(DEFAULT_PAGE))
            .map_err(runtime_error)
    }

    fn version(
        &self,
        datanet: DatanetId,
        version: VersionNumber,
        at: Option<Block::Hash>,
    ) -> RpcResult<Option<VersionInfo<BlockNumber>>> {
        let at = self.at_or_best(at);
        self.client.runtime_api().version(at, datanet, version).map_err(runtime_error)
    }

    fn payload(&self, content_hash: ContentHash) -> RpcResult<Payload> {
        let data = self
            .client
            .indexed_transaction(content_hash.into())
            .map_err(|e| {
                ErrorObject::owned(error_code::DATABASE, format!("database error: {e}"), None::<()>)
            })?
            .ok_or_else(|| {
                ErrorObject::owned(
                    error_code::PAYLOAD_NOT_FOUND,
                    format!(
                        "no indexed payload with content hash {content_hash:?} on this node \
                         (never contributed, or pruned with --blocks-pruning)"
                    ),
                    None::<()>,
                )
            })?;
        Ok(Payload { content_hash, size: data.len() as u32, data: data.into() })
    }
}
