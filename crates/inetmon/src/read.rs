//! `inetmon read FILE…`: decode pcap, pcapng and IP Filter binary log files
//! (or `-` for standard input) and print every record in ipmon or JSON
//! format.

use std::path::PathBuf;

use clap::{Args, ValueEnum};
use inetmon_io::consumer::{Consumer, Sink};
use inetmon_io::outputs::TextOut;
use inetmon_io::shutdown::Shutdown;

use crate::offline;
use crate::output::{FormatOptions, IpmonStage};
use crate::report::{self, Status};
use crate::source::SourceSpec;
use crate::Misuse;
/// `inetmon read` flags.
#[derive(Debug, Clone, Args)]
pub(crate) struct ReadFlags {
    /// Files to read, in order (`-` is standard input).
    #[arg(value_name = "FILE", required = true)]
    pub(crate) files: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = ReadFormat::Ipmon)]
    pub(crate) format: ReadFormat,
    /// JSON without the packet bytes (the `packet` key): like tcpdump
    /// without `-x`. The bytes in hex are about half of each JSON line.
    #[arg(long)]
    pub(crate) no_packet_bytes: bool,
}

/// Output formats of `inetmon read`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum ReadFormat {
    /// IP Filter 5.1 ipmon lines.
    Ipmon,
    /// One JSON object per line.
    Json,
}

/// Runs `inetmon read`: every file is read, even after one that cannot
/// be (status 1 then).
///
/// # Errors
///
/// Output that cannot be written.
pub(crate) fn main(flags: &ReadFlags, prog: &str) -> anyhow::Result<Status> {
    if flags.no_packet_bytes && flags.format != ReadFormat::Json {
        return Err(Misuse("--no-packet-bytes goes with --format json".into()).into());
    }
    let format = FormatOptions {
        json: flags.format == ReadFormat::Json,
        no_packet_bytes: flags.no_packet_bytes,
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
    let mut stage = IpmonStage::new(format, false, prog)?;
    stage.log_per_input = true;
    let shutdown = Shutdown::new()?;
    let sinks: Vec<Box<dyn Sink>> = vec![Box::new(TextOut::stdout(&shutdown))];
    let mut consumer = Consumer::new(&mut stage, sinks);
    let failed = offline::read_files(
        &specs.iter().collect::<Vec<_>>(),
        &mut consumer,
        Some(format),
        format.keeps_nflog_records(),
        prog,
    )?;
    Ok(report::finish(prog, &consumer.report(), failed))
}
