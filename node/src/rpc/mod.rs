//! The node's JSON-RPC methods beyond Substrate's standard set (`system_*`, `chain_*`,
//! `state_*`, `author_*`, which `sc_service` adds itself).

pub mod datanets;
pub mod rewards;

use std::sync::Arc;

use jsonrpsee::RpcModule;
use openledger_runtime::{opaque::Block, AccountId, Balance, BlockNumber, Nonce};
use sc_transaction_pool_api::TransactionPool;
use sp_api::ProvideRuntimeApi;
use sp_block_builder::BlockBuilder;
use sp_blockchain::{Error as BlockChainError, HeaderBackend, HeaderMetadata};

/// What the RPC methods need from the node.
pub struct FullDeps<C, P> {
    /// The client.
    pub client: Arc<C>,
    /// The transaction pool.
    pub pool: Arc<P>,
}

/// All the node's extra RPC methods: account nonces (`system_accountNextIndex`, `system_dryRun`),
/// fee queries (`payment_queryInfo`, `payment_queryFeeDetails`), datanets (`datanets_*`) and
/// rewards (`rewards_*`).
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
    C::Api: openledger_primitives::rewards::RewardsApi<Block, AccountId, Balance>,
    P: TransactionPool + 'static,
{
    use pallet_transaction_payment_rpc::{TransactionPayment, TransactionPaymentApiServer};
    use datanets::{Datanets, DatanetsRpcServer};
    use rewards::{Rewards, RewardsRpcServer};
    use substrate_frame_rpc_system::{System, SystemApiServer};

    let mut module = RpcModule::new(());
    let FullDeps { client, pool } = deps;

    module.merge(System::new(client.clone(), pool).into_rpc())?;
    module.merge(TransactionPayment::new(client.clone()).into_rpc())?;
    module.merge(Datanets::new(client.clone()).into_rpc())?;
    module.merge(Rewards::new(client).into_rpc())?;

    Ok(module)
}
