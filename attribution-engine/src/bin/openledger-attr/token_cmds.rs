//! `openledger-attr` subcommands of the token module.

use clap::Subcommand;

#[derive(Subcommand)]
pub enum TokenCommand {}

pub fn run(cmd: TokenCommand) -> Result<serde_json::Value, String> {
    match cmd {}
}
