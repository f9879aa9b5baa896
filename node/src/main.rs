//! `openledger-node`: the OpenLedger blockchain node.

#![warn(missing_docs)]

mod attribution;
mod chain_spec;
mod cli;
mod command;
mod rpc;
mod service;

fn main() -> sc_cli::Result<()> {
    command::run()
}
