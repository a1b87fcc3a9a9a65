//! `snowpat`: scoped Snowflake credentials per tenant, agent and CLI user (`interfaces.md`).
//!
//! First subcommand: `snowpat emulator ...`, the embedded `snowpat-emulator` with the same flags.

use std::io::Write;

use anyhow::Context;
use clap::{Parser, Subcommand};
use snowpat_emulator::server;

#[derive(Debug, Parser)]
#[command(
    name = "snowpat",
    version,
    about = "Scoped Snowflake credentials: bootstrap, rotate, revoke, audit"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the local Snowflake emulator (same flags as `snowpat-emulator`).
    Emulator(server::Args),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Emulator(args) => {
            server::init_logging();
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .context("cannot start the async runtime")?;
            runtime.block_on(server::run_until_signal(args.into(), |url| {
                let mut stdout = std::io::stdout().lock();
                let _ = writeln!(stdout, "listening on {url}");
                let _ = stdout.flush();
            }))?;
        }
    }
    Ok(())
}
