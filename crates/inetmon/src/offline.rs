//! Files read to their end on the calling thread: `inetmon read`, and
//! `inetmon ipmon -f FILE` when nothing needs the live pipeline (no `-t`,
//! `-s` or `-D`). Each file is opened and sniffed by `inetmon-io`'s file
//! producer, which hands every event straight to the consumer (no thread
//! hop: this is the fast path). A classic pcap regular file is first
//! decoded and formatted on every core (`inetmon_io::parallel_read`) when
//! the caller allows it; at the first damage the sequential reader does the
//! rest. A file that cannot be read is reported in one line and the next
//! one is read.

use std::io;

use anyhow::bail;
use inetmon_core::decode::pcap::PcapDecoder;
use inetmon_core::decode::StreamDecoder;
use inetmon_core::event::Source;
use inetmon_io::consumer::{Consumer, Rendered};
use inetmon_io::file::{
    core_decoder, FileConfig, FileError, FileFormat, FileSource, MakeDecoder, ReadError,
};
use inetmon_io::parallel_read::{
    read_pcap_parallel, ChunkOut, ParallelConfig, ParallelEnd, ParallelError,
};
use inetmon_io::sink::SinkError;

use crate::output::{ChunkFormat, FormatOptions};
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
/// it. `parallel`: the format options of the consumer's stage when every
/// event of a file may be formatted on worker threads and written as text
/// (no `-B` copy, no `-C` actions, no `-n` resolver, text sinks only);
/// `None` keeps every file on this thread. Returns how many files could not
/// be read (each reported). `keep_nflog` keeps each NFLOG record for `-X`
/// (see [`make_decoder`]); files are then read on this thread only (the
/// workers' decoders do not keep them).
///
/// # Errors
///
/// A live source among `specs`, or output that cannot be written.
pub(crate) fn read_files(
    specs: &[&SourceSpec],
    consumer: &mut Consumer<'_>,
    parallel: Option<FormatOptions>,
    keep_nflog: bool,
    prog: &str,
) -> anyhow::Result<u64> {
    let parallel = parallel.filter(|_| !keep_nflog);
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
            .and_then(|f| read_one(f, consumer, parallel, prog));
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

/// Reads one opened file: on every core first when it is a classic pcap
/// regular file and `parallel` allows it; then, unless the parallel reader
/// did the whole file, sequentially, skipping the events already written.
/// With `INETMON_READ_TRACE` set, one line on standard error says how the
/// file was read (for tests and benchmarks).
fn read_one(
    file: FileSource,
    consumer: &mut Consumer<'_>,
    parallel: Option<FormatOptions>,
    prog: &str,
) -> Result<(), ReadError<SinkError>> {
    let done = match parallel {
        Some(opts) if file.format() == FileFormat::Pcap => {
            read_parallel(&file, consumer, opts, prog)?
        }
        _ => None,
    };
    let trace = std::env::var_os("INETMON_READ_TRACE")
        .is_some()
        .then(|| file.path().display().to_string());
    // Events the sequential decoder produced (skipped ones included).
    let mut again = 0u64;
    let result = match done.map(|d| d.end) {
        Some(ParallelEnd::Done { .. }) => Ok(()),
        end => {
            let mut skip = match end {
                Some(ParallelEnd::Fallback { events }) => events,
                _ => 0,
            };
            file.read_to_end(&mut |ev| {
                again += 1;
                if skip > 0 {
                    skip -= 1;
                    Ok(())
                } else {
                    consumer.deliver(ev)
                }
            })
        }
    };
    if let (Some(path), Some(d)) = (trace, done) {
        let (events, how) = match d.end {
            ParallelEnd::Done { events } => (events, "all"),
            ParallelEnd::Fallback { events } => (events, "then sequential for the rest"),
        };
        error_line(
            prog,
            &format!(
                "{path}: {events} events on {} threads, {how}; {again} events decoded on one thread",
                d.threads
            ),
        );
    }
    result
}

/// What the parallel reader did with a file.
#[derive(Debug, Clone, Copy)]
struct Parallel {
    end: ParallelEnd,
    threads: usize,
}

/// Worker threads for a file read to its end: `INETMON_READ_THREADS` when
/// set (0 or 1 = read on the calling thread only), else one per core.
fn read_threads() -> usize {
    match std::env::var("INETMON_READ_THREADS") {
        Ok(v) => v.trim().parse().unwrap_or(1),
        Err(_) => std::thread::available_parallelism().map_or(1, std::num::NonZero::get),
    }
}

/// Decodes and formats `file` on worker threads into `consumer`'s sinks;
/// `None` when it was not tried (one thread, not a regular file, `-n`).
/// The events written are counted as shown.
fn read_parallel(
    file: &FileSource,
    consumer: &mut Consumer<'_>,
    opts: FormatOptions,
    prog: &str,
) -> Result<Option<Parallel>, ReadError<SinkError>> {
    let threads = read_threads();
    let Some(plain) = file.regular_file().filter(|_| threads >= 2) else {
        return Ok(None);
    };
    let mut workers = Vec::with_capacity(threads);
    for _ in 0..threads {
        match ChunkFormat::new(opts) {
            Some(Ok(f)) => workers.push(f),
            Some(Err(e)) => {
                // Not worth failing the file: it is read on this thread.
                error_line(prog, &format!("{e:#}"));
                return Ok(None);
            }
            None => return Ok(None),
        }
    }
    let mut out = ToConsumer {
        consumer: &mut *consumer,
        chunk: Rendered::default(),
        error: None,
    };
    let end = read_pcap_parallel(
        plain,
        file.source(),
        workers,
        ParallelConfig::default(),
        &mut out,
    );
    let sink_failed = out.error.take();
    let end = match end {
        Ok(end) => end,
        Err(ParallelError::Write(e)) => {
            return Err(ReadError::Output(sink_failed.unwrap_or(SinkError::Io {
                what: "write".into(),
                source: e,
            })))
        }
        Err(ParallelError::Read(source)) => {
            return Err(ReadError::Input(FileError::Io {
                path: file.path().display().to_string(),
                source,
            }))
        }
    };
    let (ParallelEnd::Done { events } | ParallelEnd::Fallback { events }) = end;
    consumer.count_shown(events);
    Ok(Some(Parallel { end, threads }))
}

/// The parallel reader's output: each chunk of text goes to the consumer's
/// sinks (swapped in, not copied); a sink error is kept to be returned as
/// it is.
struct ToConsumer<'c, 'a> {
    consumer: &'c mut Consumer<'a>,
    chunk: Rendered,
    error: Option<SinkError>,
}

impl ChunkOut for ToConsumer<'_, '_> {
    fn write_chunk(&mut self, text: &mut Vec<u8>) -> io::Result<()> {
        self.chunk.clear();
        std::mem::swap(&mut self.chunk.text, text);
        let r = self.consumer.deliver_rendered(&self.chunk);
        std::mem::swap(&mut self.chunk.text, text);
        r.map_err(|e| {
            let io = io::Error::other(e.to_string());
            self.error = Some(e);
            io
        })
    }
}
