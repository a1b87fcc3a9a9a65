//! `snowpat-emulator`: a local Snowflake for tests and demos (`interfaces.md`).
//!
//! Prints exactly one line to stdout when ready, `listening on http://HOST:PORT`; logs go to
//! stderr (`RUST_LOG` filters them, default `info`).

use std::io::Write;

use anyhow::Context;
use clap::Parser;
use snowpat_emulator::server::{self, Args};

#[derive(Debug, Parser)]
#[command(
    name = "snowpat-emulator",
    version,
    about = "A local Snowflake for snowpat's tests and demos"
)]
struct Cli {
    #[command(flatten)]
    args: Args,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    server::init_logging();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(server::run_until_signal(cli.args.into(), |url| {
        let mut stdout = std::io::stdout().lock();
        let _ = writeln!(stdout, "listening on {url}");
        let _ = stdout.flush();
    }))?;
    Ok(())
}
