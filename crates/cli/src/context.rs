//! What every command gets: the connection, the loaded `snowpat.toml`, the store location and the
//! output format. Built once in `main` from flags, environment, `snowpat.toml` and
//! `connections.toml`, in that precedence (`interfaces.md`).

use snowpat_client::Client;
use snowpat_core::config::Config;

/// `--output text|json`.
#[derive(Clone, Copy, Debug, Default, Eq, PartialEq, clap::ValueEnum)]
pub(crate) enum OutputFormat {
    #[default]
    Text,
    Json,
}

/// The resolved global context of one invocation.
pub(crate) struct Context {
    /// The connection as the configured identity.
    pub client: Client,
    /// `snowpat.toml` (defaults when absent).
    pub config: Config,
    /// `--store` (`sqlite:PATH`).
    pub store_url: String,
    pub output: OutputFormat,
}
