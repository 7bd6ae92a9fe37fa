//! Buffered standard output.

use std::io::{self, BufWriter, IsTerminal, Write};

use super::{Level, LineSink, SinkError};

/// Buffer size of [`Stdout`].
const BUFFER: usize = 64 * 1024;

/// Standard output (or any writer, for tests) behind a 64 KiB buffer.
///
/// On a terminal each line is flushed at once; otherwise lines are flushed
/// per batch ([`LineSink::flush`]). `EPIPE` becomes [`SinkError::Closed`].
#[derive(Debug)]
pub struct Stdout<W: Write = io::Stdout> {
    out: BufWriter<W>,
    flush_each: bool,
}

impl Stdout<io::Stdout> {
    /// Standard output, flushed per line when it is a terminal.
    #[must_use]
    pub fn new() -> Self {
        let out = io::stdout();
        let flush_each = out.is_terminal();
        Stdout {
            out: BufWriter::with_capacity(BUFFER, out),
            flush_each,
        }
    }
}

impl Default for Stdout<io::Stdout> {
    fn default() -> Self {
        Self::new()
    }
}

impl<W: Write> Stdout<W> {
    /// Any writer; `flush_each` flushes after every line.
    pub fn with_writer(writer: W, flush_each: bool) -> Self {
        Stdout {
            out: BufWriter::with_capacity(BUFFER, writer),
            flush_each,
        }
    }

    /// The inner writer (buffered data not yet flushed stays in the buffer).
    pub fn get_ref(&self) -> &W {
        self.out.get_ref()
    }
}

impl<W: Write> LineSink for Stdout<W> {
    fn write_line(&mut self, line: &str, _level: Level) -> Result<(), SinkError> {
        let write = |out: &mut BufWriter<W>| {
            out.write_all(line.as_bytes())?;
            out.write_all(b"\n")
        };
        write(&mut self.out).map_err(|e| SinkError::io("write to stdout", e))?;
        if self.flush_each {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), SinkError> {
        self.out
            .flush()
            .map_err(|e| SinkError::io("write to stdout", e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sink::Severity;

    #[test]
    fn broken_pipe_is_closed() {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let mut out = Stdout::with_writer(writer, true);
        // Rust ignores SIGPIPE, so the write fails with EPIPE.
        let err = out.write_line("x", Level::new(Severity::INFO)).unwrap_err();
        assert!(matches!(err, SinkError::Closed), "{err:?}");
    }

    #[test]
    fn buffered_until_flush() {
        let mut out = Stdout::with_writer(Vec::new(), false);
        out.write_line("a", Level::new(Severity::INFO)).unwrap();
        assert!(out.get_ref().is_empty());
        out.flush().unwrap();
        assert_eq!(out.get_ref().as_slice(), b"a\n");
    }
}
