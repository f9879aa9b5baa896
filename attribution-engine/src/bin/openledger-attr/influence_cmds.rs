//! `openledger-attr` subcommands of the influence module.

use clap::Subcommand;

#[derive(Subcommand)]
pub enum InfluenceCommand {}

pub fn run(cmd: InfluenceCommand) -> Result<serde_json::Value, String> {
    match cmd {}
}
