//! Reading files to their end on the calling thread: `inetmon read`, and
//! `inetmon ipmon -f FILE` when nothing needs the live pipeline (no `-t`,
//! `-s` or `-D`). This is the fast path: read 256 KiB at a time, decode,
//! format into a buffer, one `write_all` per chunk of output.

use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::path::Path;

use anyhow::{bail, Context as _};
use inetmon_core::decode::iplog::{IplogDecoder, IplogEncoder};
use inetmon_core::decode::pcap::PcapDecoder;
use inetmon_core::decode::sniff::{search, sniff, FileFormat, SEARCH_BYTES};
use inetmon_core::decode::StreamDecoder;
use inetmon_core::event::{Event, Source};
use inetmon_io::safe_open;

use crate::conf_actions::ConfActions;
use crate::output::Formatter;
use crate::report::Tally;
use crate::source::SourceSpec;

/// Bytes read at a time.
const CHUNK: usize = 256 * 1024;

/// Where the text and the binary copy go.
pub(crate) struct Sinks {
    /// The text output.
    pub(crate) text: Box<dyn Write>,
    /// What a failed write of `text` says: `write to stdout`, `write PATH`.
    pub(crate) text_name: String,
    /// `-B`: IP Filter binary records, and what a failed write says.
    pub(crate) binary: Option<(BufWriter<File>, IplogEncoder, Vec<u8>, String)>,
    /// `-C`: ipmon.conf actions.
    pub(crate) conf: Option<ConfActions>,
}

impl Sinks {
    /// Standard output, no binary copy.
    pub(crate) fn stdout() -> Self {
        Sinks {
            text: Box::new(BufWriter::with_capacity(CHUNK, io::stdout())),
            text_name: "write to stdout".to_owned(),
            binary: None,
            conf: None,
        }
    }

    /// Text appended to `path` (or standard output), binary records to
    /// `binary`.
    ///
    /// # Errors
    ///
    /// A file that cannot be opened for appending.
    pub(crate) fn open(text: Option<&Path>, binary: Option<&Path>) -> anyhow::Result<Self> {
        let mut sinks = match text {
            Some(p) => Sinks {
                text: Box::new(BufWriter::with_capacity(CHUNK, append(p)?)),
                text_name: format!("write {}", p.display()),
                binary: None,
                conf: None,
            },
            None => Sinks::stdout(),
        };
        if let Some(p) = binary {
            sinks.binary = Some((
                BufWriter::new(append(p)?),
                IplogEncoder::new(),
                Vec::new(),
                format!("write {}", p.display()),
            ));
        }
        Ok(sinks)
    }

    /// Flushes both outputs.
    ///
    /// # Errors
    ///
    /// A write error, naming the output (a closed pipe is `BrokenPipe`).
    pub(crate) fn flush(&mut self) -> anyhow::Result<()> {
        self.text.flush().with_context(|| self.text_name.clone())?;
        if let Some((b, _, _, name)) = &mut self.binary {
            b.flush().with_context(|| name.clone())?;
        }
        Ok(())
    }
}

/// Opens an output file for appending, refusing links and directories
/// others control ([`safe_open`]).
fn append(path: &Path) -> anyhow::Result<File> {
    Ok(safe_open::open_append(path)?)
}

/// Reads `spec` (a file or stdin) to its end, writing every record.
///
/// # Errors
///
/// The file cannot be opened or read, is not a format we know, or the output
/// cannot be written.
pub(crate) fn read_to_end(
    spec: &SourceSpec,
    formatter: &mut Formatter,
    sinks: &mut Sinks,
    tally: &mut Tally,
    prog: &str,
) -> anyhow::Result<()> {
    let (mut input, name): (Box<dyn Read>, String) = match spec {
        SourceSpec::Stdin => (Box::new(io::stdin().lock()), "-".to_owned()),
        SourceSpec::File(p) => {
            let f = File::open(p).with_context(|| p.display().to_string())?;
            (Box::new(f), p.display().to_string())
        }
        SourceSpec::Nflog(_) | SourceSpec::Conntrack => bail!("{spec} is not a file"),
    };
    let mut buf = vec![0u8; CHUNK];
    // Enough bytes to recognise the format (or the whole input if shorter).
    let mut have = 0;
    while have < 4 {
        let n = read_some(&mut input, &mut buf[have..], &name)?;
        if n == 0 {
            break;
        }
        have += n;
    }
    // A damaged start: look further (up to `SEARCH_BYTES`) for records.
    let mut format = sniff(&buf[..have]);
    if format.is_none() {
        buf.resize(CHUNK.max(SEARCH_BYTES), 0);
        while have < SEARCH_BYTES {
            let n = read_some(&mut input, &mut buf[have..], &name)?;
            if n == 0 {
                break;
            }
            have += n;
        }
        format = search(&buf[..have]);
    }
    let Some(format) = format else {
        bail!("{name}: not a pcap, pcapng or IP Filter log file");
    };
    let source = match (spec, format) {
        (SourceSpec::Stdin, _) => Source::Stdin,
        (_, FileFormat::Iplog) => Source::Iplog(name.as_str().into()),
        _ => Source::Pcap(name.as_str().into()),
    };
    let mut decoder: Box<dyn StreamDecoder> = match format {
        FileFormat::Pcap | FileFormat::Pcapng => Box::new(PcapDecoder::new(source)),
        FileFormat::Iplog => Box::new(IplogDecoder::new(source)),
    };
    decoder.feed(&buf[..have]);
    drop(buf);
    loop {
        while let Some(ev) = decoder.next_event() {
            deliver(&ev, formatter, sinks, tally, prog)?;
            decoder.recycle(ev);
        }
        // Read straight into the decoder's buffer: no copy.
        let n = decoder
            .feed_with(CHUNK, &mut |b| read_retrying(&mut input, b))
            .with_context(|| name.clone())?;
        if n == 0 {
            break;
        }
    }
    while let Some(ev) = decoder.finish() {
        deliver(&ev, formatter, sinks, tally, prog)?;
    }
    Ok(())
}

/// `read`, retried when interrupted by a signal.
fn read_retrying(input: &mut dyn Read, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        match input.read(buf) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            r => return r,
        }
    }
}

fn read_some(input: &mut dyn Read, buf: &mut [u8], name: &str) -> anyhow::Result<usize> {
    read_retrying(input, buf).with_context(|| name.to_owned())
}

/// Counts, copies and writes one event.
fn deliver(
    ev: &Event,
    formatter: &mut Formatter,
    sinks: &mut Sinks,
    tally: &mut Tally,
    prog: &str,
) -> anyhow::Result<()> {
    match ev {
        Event::Malformed(m) => {
            tally.malformed(prog, m);
            return Ok(());
        }
        Event::Lost(l) => tally.lost(l),
        Event::Packet(_)
        | Event::Nat(_)
        | Event::State(_)
        | Event::Sock(_)
        | Event::Drop(_)
        | Event::Trace(_) => {
            if let Some((file, encoder, buf, name)) = &mut sinks.binary {
                buf.clear();
                // An event with no iplog form (socket, drop, trace) is not copied.
                if encoder.encode(ev, buf).is_ok() {
                    file.write_all(buf).with_context(|| name.clone())?;
                }
            }
        }
    }
    formatter.format(ev);
    if let (Some(conf), Event::Packet(p)) = (&mut sinks.conf, ev) {
        if conf.apply(ev, p, formatter.lines())? {
            return Ok(());
        }
    }
    for line in formatter.lines() {
        sinks
            .text
            .write_all(line.text)
            .with_context(|| sinks.text_name.clone())?;
    }
    Ok(())
}
