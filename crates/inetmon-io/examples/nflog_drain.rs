//! Live NFLOG benchmark consumer (`bench/nflog-live.sh`): reads NFLOG groups
//! with [`NflogSource`] through the [`Pipeline`], formats every event as
//! ipmon text onto standard output (send it to `/dev/null`), and on SIGINT
//! or SIGTERM prints to standard error how many packets were delivered and
//! how many were reported lost, by stage.
//!
//! usage: `nflog_drain GROUP[,GROUP…]` (needs `CAP_NET_ADMIN`; run it
//! inside the benchmark's network namespace).
#![allow(clippy::print_stderr)]

use std::io::{BufWriter, Write};
use std::process::ExitCode;

use inetmon_core::event::{Event, LossStage};
use inetmon_core::format::ipmon::{IpmonFormatter, IpmonOptions, Rendered};
use inetmon_io::nflog::{parse_spec, NflogConfig, NflogSource};
use inetmon_io::pipeline::{Pipeline, DEFAULT_CAPACITY};
use inetmon_io::shutdown::Shutdown;
use inetmon_io::signals::SignalFlags;

fn main() -> ExitCode {
    let spec = std::env::args().nth(1).unwrap_or_else(|| "nflog:0".into());
    let spec = if spec.starts_with("nflog") {
        spec
    } else {
        format!("nflog:{spec}")
    };
    let groups = match parse_spec(&spec) {
        Ok(g) => g,
        Err(e) => {
            eprintln!("nflog_drain: {e}");
            return ExitCode::from(2);
        }
    };
    match run(groups) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("nflog_drain: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(groups: Vec<u16>) -> Result<(), Box<dyn std::error::Error>> {
    let signals = SignalFlags::install()?;
    let shutdown = Shutdown::with_flag(signals.shutdown.clone())?;
    let source = NflogSource::open(NflogConfig {
        groups,
        ..NflogConfig::default()
    })?;
    let pipeline = Pipeline::new(DEFAULT_CAPACITY);
    let reader = source.spawn(&pipeline, shutdown)?;
    let rx = pipeline.close();
    eprintln!("nflog_drain: ready");
    let mut fmt = IpmonFormatter::new(IpmonOptions::default(), jiff::tz::TimeZone::system());
    let mut out = BufWriter::with_capacity(256 * 1024, std::io::stdout().lock());
    let mut text = Rendered::default();
    let (mut packets, mut kernel, mut channel, mut other) = (0u64, 0u64, 0u64, 0u64);
    for ev in rx.iter() {
        match &ev {
            Event::Packet(_) => packets += 1,
            Event::Lost(l) if l.stage == LossStage::Kernel => kernel += l.count,
            Event::Lost(l) => channel += l.count,
            _ => other += 1,
        }
        text.clear();
        fmt.format(&ev, &mut text);
        out.write_all(&text.text)?;
    }
    out.flush()?;
    let read = reader.join().map_err(|_| "the NFLOG reader panicked")?;
    read?;
    eprintln!("packets {packets} lost_kernel {kernel} lost_channel {channel} other {other}");
    Ok(())
}
