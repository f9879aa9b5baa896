//! `openledger-attr`: command-line front end of the attribution engine. Every command prints
//! JSON on stdout; errors go to stderr with a non-zero exit code.

use clap::{Parser, Subcommand};

mod influence_cmds;
mod token_cmds;

#[derive(Parser)]
#[command(
    name = "openledger-attr",
    version,
    about = "OpenLedger Proof of Attribution engine"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    #[command(flatten)]
    Token(token_cmds::TokenCommand),
    #[command(flatten)]
    Influence(influence_cmds::InfluenceCommand),
}

fn main() {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Token(cmd) => token_cmds::run(cmd),
        Command::Influence(cmd) => influence_cmds::run(cmd),
    };
    match result {
        Ok(json) => {
            // A closed pipe (`| head`) ends the output early; that is not an error worth a panic.
            use std::io::Write;
            let mut stdout = std::io::stdout().lock();
            if let Err(e) = writeln!(stdout, "{json}") {
                if e.kind() != std::io::ErrorKind::BrokenPipe {
                    eprintln!("error: writing the result: {e}");
                    std::process::exit(1);
                }
            }
        }
        Err(message) => {
            eprintln!("error: {message}");
            std::process::exit(1);
        }
    }
}
