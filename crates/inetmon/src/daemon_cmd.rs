//! `inetmon daemon`: so far only `--check-config`. The daemon's runtime
//! (producers, journal writer, clients' socket, AHAFS files) is built on the
//! shared pipeline next; until then `inetmon daemon` says so and exits 1.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context as _;
use clap::Args;
use inetmon_io::daemon_config::{DaemonConfig, DEFAULT_CONFIG_PATH};

use crate::report::Status;
use crate::Misuse;

/// `inetmon daemon`.
#[derive(Debug, Args)]
pub(crate) struct DaemonArgs {
    /// The configuration file (TOML; see the README for every key).
    #[arg(long, value_name = "FILE", default_value = DEFAULT_CONFIG_PATH)]
    pub(crate) config: PathBuf,
    /// Validate the configuration, print `FILE: ok`, and exit.
    #[arg(long)]
    pub(crate) check_config: bool,
}

/// Runs `inetmon daemon`.
pub(crate) fn run(args: &DaemonArgs) -> anyhow::Result<Status> {
    let cfg = DaemonConfig::load(&args.config).map_err(|e| Misuse(e.to_string()))?;
    if args.check_config {
        writeln!(std::io::stdout().lock(), "{}: ok", args.config.display())
            .context("standard output")?;
        return Ok(Status::Clean);
    }
    let _ = cfg;
    Err(Misuse(
        "daemon: the runtime is not built yet; only --check-config works in this version".into(),
    )
    .into())
}
