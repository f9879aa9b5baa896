//! The node's JSON-RPC methods beyond Substrate's standard set (`system_*`, `chain_*`,
//! `state_*`, `author_*`, which `sc_service` adds itself).

pub mod attribution;
pub mod datanets;
pub mod models;
pub mod rewards;

use std::sync::Arc;

use jsonrpsee::{
    types::{error::ErrorObject, ErrorObjectOwned},
    RpcModule,
};
use openledger_runtime::{opaque::Block, AccountId, Balance, BlockNumber, Nonce};
use sc_transaction_pool_api::TransactionPool;
use sp_api::ProvideRuntimeApi;
use sp_block_builder::BlockBuilder;
use sp_blockchain::{Error as BlockChainError, HeaderBackend, HeaderMetadata};
use sp_runtime::traits::Block as BlockT;

/// Page size of the project's list methods when the caller gives none; the runtime clamps
/// larger requests to its maximum.
pub const DEFAULT_PAGE: u32 = 50;

/// Error codes shared by the project's methods.
pub mod error_code {
    /// The runtime API call failed (e.g. unknown block).
    pub const RUNTIME: i32 = 9000;
}

/// Calls the runtime API at block `at` (the best block if `None`); a failure is a JSON-RPC
/// error with code [`error_code::RUNTIME`].
pub fn call_at<Block, C, R>(
    client: &C,
    at: Option<Block::Hash>,
    call: impl FnOnce(sp_api::ApiRef<'_, C::Api>, Block::Hash) -> Result<R, sp_api::ApiError>,
) -> jsonrpsee::core::RpcResult<R>
where
    Block: BlockT,
    C: ProvideRuntimeApi<Block> + HeaderBackend<Block>,
{
    let at = at.unwrap_or_else(|| client.info().best_hash);
    call(client.runtime_api(), at).map_err(runtime_error)
}

/// A failed runtime API call, as a JSON-RPC error.
fn runtime_error(e: impl std::fmt::Display) -> ErrorObjectOwned {
    ErrorObject::owned(error_code::RUNTIME, format!("runtime API call failed: {e}"), None::<()>)
}

/// What the RPC methods need from the node.
pub struct FullDeps<C, P> {
    /// The client.
    pub client: Arc<C>,
    /// The transaction pool.
    pub pool: Arc<P>,
}

/// All the node's extra RPC methods: account nonces (`system_accountNextIndex`, `system_dryRun`),
/// fee queries (`payment_queryInfo`, `payment_queryFeeDetails`), datanets (`datanets_*`),
/// the model registry (`models_*`), rewards (`rewards_*`) and Proof of Attribution
/// (`attribution_*`).
pub fn create_full<C, P>(
    deps: FullDeps<C, P>,
) -> Result<RpcModule<()>, Box<dyn std::error::Error + Send + Sync>>
where
    C: ProvideRuntimeApi<Block>
        + HeaderBackend<Block>
        + HeaderMetadata<Block, Error = BlockChainError>
        + sc_client_api::BlockBackend<Block>
        + Send
        + Sync
        + 'static,
    C::Api: substrate_frame_rpc_system::AccountNonceApi<Block, AccountId, Nonce>,
    C::Api: pallet_transaction_payment_rpc::TransactionPaymentRuntimeApi<Block, Balance>,
    C::Api: BlockBuilder<Block>,
    C::Api: openledger_primitives::datanets::DatanetsApi<Block, AccountId, Balance, BlockNumber>,
    C::Api: openledger_primitives::models::ModelsApi<Block, AccountId, Balance, BlockNumber>,
    C::Api: openledger_primitives::rewards::RewardsApi<Block, AccountId, Balance>,
    C::Api: openledger_primitives::attribution::AttributionApi<Block, AccountId, Balance, BlockNumber>,
    P: TransactionPool + 'static,
{
    use pallet_transaction_payment_rpc::{TransactionPayment, TransactionPaymentApiServer};
    use attribution::{Attribution, AttributionRpcServer};
    use datanets::{Datanets, DatanetsRpcServer};
    use models::{Models, ModelsRpcServer};
    use rewards::{Rewards, RewardsRpcServer};
    use substrate_frame_rpc_system::{System, SystemApiServer};

    let mut module = RpcModule::new(());
    let FullDeps { client, pool } = deps;

    module.merge(System::new(client.clone(), pool).into_rpc())?;
    module.merge(TransactionPayment::new(client.clone()).into_rpc())?;
    module.merge(Datanets::new(client.clone()).into_rpc())?;
    module.merge(Models::new(client.clone()).into_rpc())?;
    module.merge(Rewards::new(client.clone()).into_rpc())?;
    module.merge(Attribution::new(client).into_rpc())?;

    Ok(module)
}
