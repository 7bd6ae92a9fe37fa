//! Wiring: sources → decoders → formatter → sinks.
//!
//! Files read to their end go through [`crate::offline`] on this thread;
//! live sources (NFLOG, conntrack), followed files (`-t`), syslog output and
//! daemon mode go through [`crate::live`] and the `inetmon-io` pipeline.

use crate::conf_actions::ConfActions;
use crate::ipmon::{FormatOptions, IpmonConfig, Output};
use crate::offline::{self, Sinks};
use crate::output::Formatter;
use crate::report::Tally;
use crate::source::SourceSpec;

/// Reads files to the end, one after the other, and prints every record on
/// standard output.
///
/// # Errors
///
/// A file that cannot be opened, or standard output that cannot be written.
pub(crate) fn read_files(
    specs: &[SourceSpec],
    format: FormatOptions,
    prog: &str,
) -> anyhow::Result<Tally> {
    let mut tally = Tally::default();
    let mut sinks = Sinks::stdout();
    for spec in specs {
        // Each file is its own log: its own `missed` counters.
        let mut formatter = Formatter::new(format, false)?;
        offline::read_to_end(spec, &mut formatter, &mut sinks, &mut tally, prog)?;
    }
    sinks.flush()?;
    Ok(tally)
}

/// Runs `inetmon ipmon` until its sources end or it is stopped.
///
/// # Errors
///
/// A source, output or pid file that cannot be opened.
pub(crate) fn run_ipmon(config: &IpmonConfig, prog: &str) -> anyhow::Result<Tally> {
    let files_only = config.inputs.iter().all(|i| !i.spec.is_live());
    let plain_output = matches!(config.output, Output::Stdout | Output::File(_));
    if files_only && !config.follow && plain_output && !config.daemon && config.pid_file.is_none() {
        let text = match &config.output {
            Output::File(p) => Some(p.as_path()),
            Output::Stdout | Output::Syslog { .. } => None,
        };
        let mut sinks = Sinks::open(text, config.binary_copy.as_deref())?;
        sinks.conf = config
            .conf
            .as_deref()
            .map(|p| ConfActions::load(p, config.facility))
            .transpose()?;
        let mut formatter = Formatter::new(config.format, false)?;
        let mut tally = Tally::default();
        for input in &config.inputs {
            offline::read_to_end(&input.spec, &mut formatter, &mut sinks, &mut tally, prog)?;
        }
        sinks.flush()?;
        return Ok(tally);
    }
    crate::live::run(config, prog)
}
