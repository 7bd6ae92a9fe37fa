//! `inetmon read FILE…`: decode pcap, pcapng and IP Filter binary log files
//! (or `-` for standard input) and print every record in ipmon or JSON
//! format.

use std::path::PathBuf;

use clap::{Args, ValueEnum};

use crate::engine;
use crate::ipmon::FormatOptions;
use crate::report::Outcome;
use crate::source::SourceSpec;

/// `inetmon read` flags.
#[derive(Debug, Clone, Args)]
pub(crate) struct ReadFlags {
    /// Files to read, in order (`-` is standard input).
    #[arg(value_name = "FILE", required = true)]
    pub(crate) files: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = ReadFormat::Ipmon)]
    pub(crate) format: ReadFormat,
}

/// Output formats of `inetmon read`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum ReadFormat {
    /// IP Filter 5.1 ipmon lines.
    Ipmon,
    /// One JSON object per line.
    Json,
}

/// Runs `inetmon read`.
///
/// # Errors
///
/// A file that cannot be opened, or output that cannot be written.
pub(crate) fn main(flags: &ReadFlags, prog: &str) -> anyhow::Result<Outcome> {
    let format = FormatOptions {
        json: flags.format == ReadFormat::Json,
        ..FormatOptions::default()
    };
    let specs: Vec<SourceSpec> = flags
        .files
        .iter()
        .map(|p| {
            if p.as_os_str() == "-" {
                SourceSpec::Stdin
            } else {
                SourceSpec::File(p.clone())
            }
        })
        .collect();
    let tally = engine::read_files(&specs, format, prog)?;
    Ok(tally.finish(prog))
}
