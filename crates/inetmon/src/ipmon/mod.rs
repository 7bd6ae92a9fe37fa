//! `inetmon ipmon`: IP Filter 5.1 `ipmon`, reading NFLOG groups, conntrack
//! events and log files.
//!
//! [`flags`] holds the raw options, [`config`] validates them; [`main`] runs.

pub(crate) mod config;
mod flags;

use std::io::{self, Write};

use anyhow::bail;

pub(crate) use config::{FormatOptions, Input, IpmonConfig, Output};
pub(crate) use flags::IpmonFlags;

use crate::engine;
use crate::privilege::has_net_admin;
use crate::report::Outcome;
use crate::source::SourceSpec;

/// Runs `inetmon ipmon`.
///
/// # Errors
///
/// Misuse ([`crate::Misuse`]), a missing privilege, a source or output that
/// cannot be opened.
pub(crate) fn main(flags: &IpmonFlags, prog: &str) -> anyhow::Result<Outcome> {
    if flags.usage {
        let _ = writeln!(
            io::stderr().lock(),
            "{}",
            flags::usage_line(if prog == "ipmon" {
                "ipmon"
            } else {
                "inetmon ipmon"
            })
        );
        return Ok(Outcome::Usage);
    }
    let config = IpmonConfig::from_flags(flags)?;
    for input in &config.inputs {
        match &input.spec {
            SourceSpec::Nflog(_) if !has_net_admin() => {
                bail!("reading NFLOG needs CAP_NET_ADMIN (run as root)")
            }
            SourceSpec::Conntrack if !has_net_admin() => {
                bail!("reading conntrack events needs CAP_NET_ADMIN (run as root)")
            }
            _ => {}
        }
    }
    if config.flush {
        // NFLOG and conntrack keep no log buffer in the kernel: there is
        // nothing to flush, and ipmon's report of it is 0 bytes per log.
        let mut out = io::stdout().lock();
        let live = config.inputs.iter().filter(|i| i.spec.is_live()).count();
        for _ in 0..live {
            writeln!(out, "0 bytes flushed from log buffer")?;
        }
        out.flush()?;
    }
    let tally = engine::run_ipmon(&config, prog)?;
    Ok(tally.finish(prog))
}
