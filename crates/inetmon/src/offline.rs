//! Files read to their end on the calling thread: `inetmon read`, and
//! `inetmon ipmon -f FILE` when nothing needs the live pipeline (no `-t`,
//! `-s` or `-D`). Each file is opened and sniffed by `inetmon-io`'s file
//! producer, which hands every event straight to the consumer (no thread
//! hop: this is the fast path). A file that cannot be read is reported in
//! one line and the next one is read.

use anyhow::bail;
use inetmon_io::consumer::Consumer;
use inetmon_io::file::{core_decoder, FileConfig, FileSource, ReadError};

use crate::report::{error_line, error_text, sink_error};
use crate::source::SourceSpec;

/// Reads every file in `specs` to its end into `consumer`, then flushes
/// it. Returns how many files could not be read (each reported).
///
/// # Errors
///
/// A live source among `specs`, or output that cannot be written.
pub(crate) fn read_files(
    specs: &[&SourceSpec],
    consumer: &mut Consumer<'_>,
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
        let read = FileSource::open(FileConfig::new(path), core_decoder)
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
