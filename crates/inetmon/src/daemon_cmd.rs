//! `inetmon daemon`: validates the configuration (`--check-config`), or
//! runs the daemon in the foreground (`inetmon_io::service::run`) until
//! SIGTERM or SIGINT; SIGHUP rereads the configuration. Messages go to
//! standard error, one line each, `inetmon daemon: …` (under systemd they
//! reach its journal and syslog).
//!
//! Exit status: 0 after a clean stop; 2 when events were lost on the way to
//! the journal; 1 when the configuration is bad or the daemon cannot start
//! (one line saying why).

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;
use clap::Args;
use inetmon_io::daemon_config::{DaemonConfig, DEFAULT_CONFIG_PATH};
use inetmon_io::service::{self, Log};

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
    if let Some(missing) = crate::privilege::missing_caps(true, true) {
        anyhow::bail!("daemon needs {missing} (or root)");
    }
    let log: Log = Arc::new(|line: &str| {
        crate::report::error_line("inetmon daemon", line);
    });
    let s = service::run(&args.config, cfg, &log).context("daemon")?;
    log(&format!(
        "stopped: {} events, {} journaled, {} lost before the journal, {} lost at the journal, {} reloads",
        s.events, s.journaled, s.lost, s.journal_lost, s.reloads
    ));
    Ok(if s.lost > 0 || s.journal_lost > 0 {
        Status::Problems
    } else {
        Status::Clean
    })
}
