//! Files read to their end on the calling thread: `inetmon read`, and
//! `inetmon ipmon -f FILE` when nothing needs the live pipeline (no `-t`,
//! `-s` or `-D`). Each file is opened and sniffed by `inetmon-io`'s file
//! producer, which hands every event straight to the consumer (no thread
//! hop: this is the fast path). A file that cannot be read is reported in
//! one line and the next one is read.

use anyhow::bail;
use inetmon_core::decode::pcap::PcapDecoder;
use inetmon_core::decode::StreamDecoder;
use inetmon_core::event::Source;
use inetmon_io::consumer::Consumer;
use inetmon_io::file::{core_decoder, FileConfig, FileFormat, FileSource, MakeDecoder, ReadError};

use crate::report::{error_line, error_text, sink_error};
use crate::source::SourceSpec;

/// The core decoder, keeping each `LINKTYPE_NFLOG` record for `ipmon -X`.
fn decoder_keeping_nflog(format: FileFormat, source: Source) -> Box<dyn StreamDecoder + Send> {
    match format {
        FileFormat::Pcap | FileFormat::Pcapng => {
            Box::new(PcapDecoder::new(source).with_raw_nflog_records())
        }
        FileFormat::Iplog => core_decoder(format, source),
    }
}

/// The file decoder: `keep_nflog` keeps each NFLOG record for `-X`
/// ([`crate::output::FormatOptions::keeps_nflog_records`]).
pub(crate) fn make_decoder(keep_nflog: bool) -> MakeDecoder {
    if keep_nflog {
        decoder_keeping_nflog
    } else {
        core_decoder
    }
}

/// Reads every file in `specs` to its end into `consumer`, then flushes
/// it. Returns how many files could not be read (each reported).
/// `keep_nflog` keeps each NFLOG record for `-X` (see [`make_decoder`]).
///
/// # Errors
///
/// A live source among `specs`, or output that cannot be written.
pub(crate) fn read_files(
    specs: &[&SourceSpec],
    consumer: &mut Consumer<'_>,
    keep_nflog: bool,
    prog: &str,
) -> anyhow::Result<u64> {
    let mut failed = 0;
    for spec in specs {
        let path = match spec {
            SourceSpec::Stdin => "-".into(),
            SourceSpec::File(p) => p.clone(),
            SourceSpec::Nflog(_) | SourceSpec::Conntrack => bail!("{spec} is not a file"),
        };
        consumer.new_input();
        let read = FileSource::open(FileConfig::new(path), make_decoder(keep_nflog))
            .map_err(ReadError::Input)
            .and_then(|f| f.read_to_end(&mut |ev| consumer.deliver(ev)));
        match read {
            Ok(()) => {}
            Err(ReadError::Input(e)) => {
                error_line(prog, &error_text(&e));
                failed += 1;
            }
            Err(ReadError::Output(e)) => return Err(sink_error(e)),
        }
    }
    consumer.flush().map_err(sink_error)?;
    Ok(failed)
}
