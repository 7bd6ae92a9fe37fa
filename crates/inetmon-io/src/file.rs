//! The file producer: a pcap/pcapng/iplog file or standard input, decoded in
//! chunks by an `inetmon-core` [`StreamDecoder`], optionally followed like
//! `tail -f` (`ipmon -t`) across log rotation.
//!
//! Files must not lose events, so events go to the pipeline with
//! [`Producer::send_blocking`]. Events are renumbered by the producer, so the
//! sequence stays dense across a rotation (which starts a new decoder).

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::os::fd::AsRawFd;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::thread::JoinHandle;
use std::time::Duration;

use inetmon_core::decode::iplog::IplogDecoder;
use inetmon_core::decode::pcap::PcapDecoder;
use inetmon_core::decode::StreamDecoder;
use inetmon_core::event::{Event, Malformed, Source};

use crate::pipeline::{now, Closed, Pipeline, Producer, SourceMetrics};
use crate::shutdown::Shutdown;

/// Bytes read per chunk.
pub const CHUNK: usize = 256 * 1024;

/// How often a followed file is checked for growth or rotation.
pub const FOLLOW_POLL: Duration = Duration::from_millis(200);

pub use inetmon_core::decode::sniff::{search, sniff, FileFormat, SEARCH_BYTES};

/// The decoder `inetmon-core` has for `format`: pcap/pcapng or IP Filter
/// binary logs.
#[must_use]
pub fn core_decoder(format: FileFormat, source: Source) -> Box<dyn StreamDecoder + Send> {
    match format {
        FileFormat::Pcap | FileFormat::Pcapng => Box::new(PcapDecoder::new(source)),
        FileFormat::Iplog => Box::new(IplogDecoder::new(source)),
    }
}

/// Makes the decoder for a sniffed format; its events should carry `source`.
/// Normally [`core_decoder`].
pub type MakeDecoder = fn(FileFormat, Source) -> Box<dyn StreamDecoder + Send>;

/// Errors of the file source.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    /// The file could not be opened, read or checked.
    #[error("{path}")]
    Io {
        /// The path (`-` for stdin).
        path: String,
        /// The error.
        #[source]
        source: io::Error,
    },
    /// The first bytes are not a known magic number.
    #[error("{path}: not a pcap, pcapng or IP Filter log file")]
    UnknownFormat {
        /// The path.
        path: String,
        /// Up to 4 first bytes.
        head: Vec<u8>,
    },
}

/// Settings of a [`FileSource`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileConfig {
    /// The file, or `-` for standard input.
    pub path: PathBuf,
    /// Follow the file at EOF (`-t`), across rotation and truncation.
    pub follow: bool,
    /// How often to check a followed file.
    pub poll: Duration,
}

impl FileConfig {
    /// A config for `path`, not following.
    #[must_use]
    pub fn new(path: impl Into<PathBuf>) -> Self {
        FileConfig {
            path: path.into(),
            follow: false,
            poll: FOLLOW_POLL,
        }
    }
}

/// Where the bytes come from.
#[derive(Debug)]
enum Input {
    File {
        file: File,
        ino: (u64, u64),
        offset: u64,
    },
    Stdin(io::Stdin),
}

/// An opened and sniffed input, ready to [`FileSource::run`].
#[derive(Debug)]
pub struct FileSource {
    cfg: FileConfig,
    input: Input,
    format: FileFormat,
    head: Vec<u8>,
    source: Source,
    make: MakeDecoder,
}

fn display(path: &Path) -> String {
    path.display().to_string()
}

/// The mutable bits of a running follow loop.
struct Reading {
    decoder: Box<dyn StreamDecoder + Send>,
    buf: Vec<u8>,
}

impl FileSource {
    /// Opens the input and reads enough of it to know its format (for stdin
    /// this blocks until 4 bytes arrive).
    ///
    /// # Errors
    /// When the file cannot be opened or read, or its format is unknown.
    pub fn open(cfg: FileConfig, make: MakeDecoder) -> Result<Self, FileError> {
        let path = display(&cfg.path);
        let io_err = |source| FileError::Io {
            path: path.clone(),
            source,
        };
        let mut input = if cfg.path.as_os_str() == "-" {
            Input::Stdin(io::stdin())
        } else {
            let file = File::open(&cfg.path).map_err(io_err)?;
            let m = file.metadata().map_err(io_err)?;
            Input::File {
                file,
                ino: (m.dev(), m.ino()),
                offset: 0,
            }
        };
        let mut head = Vec::new();
        // Wait for the magic (a followed file may still be empty).
        loop {
            let mut b = [0u8; 4096];
            let Some(n) = read_input(&mut input, &mut b).map_err(io_err)? else {
                continue;
            };
            head.extend_from_slice(b.get(..n).unwrap_or(&[]));
            if head.len() >= 4 || (n == 0 && !cfg.follow) {
                break;
            }
            if n == 0 {
                std::thread::sleep(cfg.poll);
            }
        }
        // A damaged start: look further (up to `SEARCH_BYTES`, or what a
        // followed file holds so far) for records.
        let mut format = sniff(&head);
        if format.is_none() {
            let mut b = vec![0u8; 64 * 1024];
            while head.len() < SEARCH_BYTES {
                match read_input(&mut input, &mut b).map_err(io_err)? {
                    Some(0) => break,
                    Some(n) => head.extend_from_slice(b.get(..n).unwrap_or(&[])),
                    None => {}
                }
            }
            format = search(&head);
        }
        let format = format.ok_or_else(|| FileError::UnknownFormat {
            path: path.clone(),
            head: head.iter().take(4).copied().collect(),
        })?;
        let source = match (&input, format) {
            (Input::Stdin(_), _) => Source::Stdin,
            (_, FileFormat::Iplog) => Source::Iplog(path.into()),
            _ => Source::Pcap(path.into()),
        };
        Ok(FileSource {
            cfg,
            input,
            format,
            head,
            source,
            make,
        })
    }

    /// The source its events carry.
    #[must_use]
    pub fn source(&self) -> &Source {
        &self.source
    }

    /// The sniffed format.
    #[must_use]
    pub fn format(&self) -> FileFormat {
        self.format
    }

    /// The path it was opened with (`-` for standard input).
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.cfg.path
    }

    /// The file, when it is a regular file (not standard input, a pipe or
    /// a device): one that may be read at any offset with `pread(2)`, as
    /// [`parallel_read`](crate::parallel_read) does. Reading it that way
    /// does not move the offset [`FileSource::read_to_end`] reads from.
    #[must_use]
    pub fn regular_file(&self) -> Option<&File> {
        match &self.input {
            Input::File { file, .. } if file.metadata().is_ok_and(|m| m.is_file()) => Some(file),
            _ => None,
        }
    }

    /// Runs on a new thread.
    ///
    /// # Errors
    /// The thread returns I/O errors; bad records are reported in band.
    pub fn spawn(
        self,
        pipeline: &Pipeline,
        shutdown: Shutdown,
    ) -> io::Result<JoinHandle<Result<(), FileError>>> {
        let producer = pipeline.producer(self.source.clone());
        std::thread::Builder::new()
            .name("file".into())
            .spawn(move || self.run(producer, &shutdown))
    }

    /// Reads to the end on the calling thread, handing every event to
    /// `out` (with the decoder's own sequence numbers) and recycling its
    /// buffers: the fast path for files that are not followed, with no
    /// thread or channel between the decoder and the consumer. Stops early
    /// when `out` fails, returning its error.
    ///
    /// # Errors
    /// [`ReadError::Input`] for an I/O error on the input;
    /// [`ReadError::Output`] for `out`'s error.
    pub fn read_to_end<E>(
        mut self,
        out: &mut dyn FnMut(&mut Event) -> Result<(), E>,
    ) -> Result<(), ReadError<E>> {
        let path = display(&self.cfg.path);
        let mut decoder = (self.make)(self.format, self.source.clone());
        decoder.feed(&std::mem::take(&mut self.head));
        let stdin = io::stdin();
        let mut input: Box<dyn Read> = match self.input {
            Input::File { file, .. } => Box::new(file),
            Input::Stdin(_) => Box::new(stdin.lock()),
        };
        loop {
            while let Some(mut ev) = decoder.next_event() {
                out(&mut ev).map_err(ReadError::Output)?;
                decoder.recycle(ev);
            }
            // Read straight into the decoder's buffer: no copy.
            let n = decoder
                .feed_with(CHUNK, &mut |b| read_retry(&mut input, b))
                .map_err(|source| {
                    ReadError::Input(FileError::Io {
                        path: path.clone(),
                        source,
                    })
                })?;
            if n == 0 {
                break;
            }
        }
        while let Some(mut ev) = decoder.finish() {
            out(&mut ev).map_err(ReadError::Output)?;
        }
        Ok(())
    }

    /// Reads and decodes until EOF (or, when following, until `shutdown`),
    /// or until the pipeline closes.
    ///
    /// # Errors
    /// I/O errors on the input.
    pub fn run(mut self, mut producer: Producer, shutdown: &Shutdown) -> Result<(), FileError> {
        let path = display(&self.cfg.path);
        let io_err = |source| FileError::Io {
            path: path.clone(),
            source,
        };
        let mut r = Reading {
            decoder: (self.make)(self.format, self.source.clone()),
            buf: vec![0u8; CHUNK],
        };
        let head = std::mem::take(&mut self.head);
        if self.feed(&mut r, &head, &mut producer).is_err() {
            return Ok(());
        }
        while !shutdown.is_set() {
            let Some(n) = read_input(&mut self.input, &mut r.buf).map_err(io_err)? else {
                continue;
            };
            if n > 0 {
                let Reading { decoder, buf } = &mut r;
                let chunk = buf.get(..n).unwrap_or(&[]);
                if feed_decoder(decoder.as_mut(), chunk, &mut producer).is_err() {
                    return Ok(());
                }
                continue;
            }
            if !self.cfg.follow || matches!(self.input, Input::Stdin(_)) {
                break;
            }
            match self.check_rotation().map_err(io_err)? {
                Rotation::Same => std::thread::sleep(self.cfg.poll),
                Rotation::Rotated(new) => {
                    // Read what was written to the old file since our last
                    // EOF, report a partial record, then start over on the
                    // new one.
                    while let Some(n) = read_input(&mut self.input, &mut r.buf)
                        .map_err(io_err)?
                        .filter(|n| *n > 0)
                    {
                        let chunk = r.buf.get(..n).unwrap_or(&[]);
                        if feed_decoder(r.decoder.as_mut(), chunk, &mut producer).is_err() {
                            return Ok(());
                        }
                    }
                    if finish(r.decoder.as_mut(), &mut producer).is_err() {
                        return Ok(());
                    }
                    if !self
                        .restart(new, &mut r, &mut producer, shutdown)
                        .map_err(io_err)?
                    {
                        return Ok(());
                    }
                }
                Rotation::Truncated(same) => {
                    if finish(r.decoder.as_mut(), &mut producer).is_err()
                        || !self
                            .restart(same, &mut r, &mut producer, shutdown)
                            .map_err(io_err)?
                    {
                        return Ok(());
                    }
                }
            }
        }
        let _ = finish(r.decoder.as_mut(), &mut producer);
        Ok(())
    }

    fn feed(&self, r: &mut Reading, bytes: &[u8], p: &mut Producer) -> Result<(), Closed> {
        feed_decoder(r.decoder.as_mut(), bytes, p)
    }

    /// Whether the path now names another file, or ours shrank.
    fn check_rotation(&mut self) -> io::Result<Rotation> {
        let Input::File { file, ino, offset } = &mut self.input else {
            return Ok(Rotation::Same);
        };
        match std::fs::metadata(&self.cfg.path) {
            Ok(m) if (m.dev(), m.ino()) != *ino => {
                let new = File::open(&self.cfg.path)?;
                Ok(Rotation::Rotated(new))
            }
            Ok(m) if m.len() < *offset => {
                // Truncated in place (copytruncate): read it again from 0.
                let mut f = file.try_clone()?;
                f.seek(SeekFrom::Start(0))?;
                Ok(Rotation::Truncated(f))
            }
            // Same file, or the path is gone for now (between rename and
            // create): keep waiting.
            Ok(_) | Err(_) => Ok(Rotation::Same),
        }
    }

    /// Switches to `file`, re-sniffs its header and makes a new decoder.
    /// Returns `false` when the pipeline closed or shutdown came first.
    fn restart(
        &mut self,
        mut file: File,
        r: &mut Reading,
        p: &mut Producer,
        shutdown: &Shutdown,
    ) -> io::Result<bool> {
        let m = file.metadata()?;
        let mut head = Vec::new();
        while head.len() < 4 {
            if shutdown.is_set() {
                return Ok(false);
            }
            let mut b = [0u8; 4];
            let n = file.read(&mut b)?;
            head.extend_from_slice(b.get(..n).unwrap_or(&[]));
            if n == 0 {
                std::thread::sleep(self.cfg.poll);
            }
        }
        // A damaged start: look further, as `open` does.
        let mut format = sniff(&head);
        if format.is_none() {
            let mut b = vec![0u8; 64 * 1024];
            while head.len() < SEARCH_BYTES {
                let n = file.read(&mut b)?;
                if n == 0 {
                    break;
                }
                head.extend_from_slice(b.get(..n).unwrap_or(&[]));
            }
            format = search(&head);
        }
        let offset = head.len() as u64;
        self.input = Input::File {
            file,
            ino: (m.dev(), m.ino()),
            offset,
        };
        match format {
            Some(format) => {
                self.format = format;
                r.decoder = (self.make)(format, self.source.clone());
                Ok(feed_decoder(r.decoder.as_mut(), &head, p).is_ok())
            }
            None => {
                // Not a log file any more: report it and skip the file.
                SourceMetrics::add(&p.metrics().malformed, 1);
                let header = p.header(now());
                let skipped = self.skip_to_end()?;
                let m = Malformed {
                    header,
                    offset: 0,
                    skipped: skipped + offset,
                    reason: format!("rotated file has an unknown format (first bytes {head:02x?})"),
                };
                Ok(p.send_blocking(Event::Malformed(m)).is_ok())
            }
        }
    }

    fn skip_to_end(&mut self) -> io::Result<u64> {
        let Input::File { file, offset, .. } = &mut self.input else {
            return Ok(0);
        };
        let end = file.seek(SeekFrom::End(0))?;
        let skipped = end.saturating_sub(*offset);
        *offset = end;
        Ok(skipped)
    }
}

enum Rotation {
    Same,
    /// The path names a new file (opened); the old one may have a tail left.
    Rotated(File),
    /// Our file was truncated; a handle seeked back to its start.
    Truncated(File),
}

/// Why [`FileSource::read_to_end`] stopped.
#[derive(Debug, thiserror::Error)]
pub enum ReadError<E> {
    /// Reading the input failed.
    #[error(transparent)]
    Input(FileError),
    /// The consumer failed.
    #[error("output: {0}")]
    Output(E),
}

/// Reads once, tracking the file offset; `Some(0)` is EOF. Stdin waits at
/// most 200 ms for data (so shutdown is noticed) and then returns `None`.
fn read_input(input: &mut Input, buf: &mut [u8]) -> io::Result<Option<usize>> {
    match input {
        Input::File { file, offset, .. } => {
            let n = read_retry(file, buf)?;
            *offset += n as u64;
            Ok(Some(n))
        }
        Input::Stdin(stdin) => {
            let mut p = [libc::pollfd {
                fd: stdin.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            }];
            // SAFETY: one valid pollfd.
            let r = unsafe { libc::poll(p.as_mut_ptr(), 1, FOLLOW_POLL.as_millis() as i32) };
            if r == 0 {
                return Ok(None);
            }
            read_retry(&mut stdin.lock(), buf).map(Some)
        }
    }
}

fn read_retry(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        match r.read(buf) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            other => return other,
        }
    }
}

fn feed_decoder(
    decoder: &mut (dyn StreamDecoder + Send),
    bytes: &[u8],
    p: &mut Producer,
) -> Result<(), Closed> {
    decoder.feed(bytes);
    while let Some(e) = decoder.next_event() {
        deliver(e, p)?;
    }
    Ok(())
}

fn finish(decoder: &mut (dyn StreamDecoder + Send), p: &mut Producer) -> Result<(), Closed> {
    while let Some(e) = decoder.next_event() {
        deliver(e, p)?;
    }
    // A decoder may hold several events at the end of a stream (a bad
    // region resolved only at EOF, then the records after it).
    while let Some(e) = decoder.finish() {
        deliver(e, p)?;
    }
    Ok(())
}

fn deliver(mut e: Event, p: &mut Producer) -> Result<(), Closed> {
    let m = p.metrics();
    SourceMetrics::add(&m.received, 1);
    if matches!(e, Event::Malformed(_)) {
        SourceMetrics::add(&m.malformed, 1);
    } else {
        SourceMetrics::add(&m.decoded, 1);
    }
    Event::header_mut(&mut e).seq = p.next_seq();
    p.send_blocking(e)
}
