//! What the binary tells the user on standard error: misuse and fatal
//! errors in one line, each malformed record with its offset, and a summary
//! of problems at the end of a run.

use std::io::{self, Write};

use inetmon_core::event::{Lost, Malformed, Source};

/// How a run ended, when it did not fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Everything was read and written: exit status 0.
    Clean,
    /// The run completed, but input was malformed or events were lost:
    /// exit status 2.
    Problems,
    /// A usage message was printed (`ipmon -h`): exit status 1.
    Usage,
}

/// Writes `prog: msg` to standard error.
pub(crate) fn error_line(prog: &str, msg: &str) {
    // If standard error is gone there is nobody left to tell.
    let _ = writeln!(io::stderr().lock(), "{prog}: {msg}");
}

/// An error and its causes as one line, `outer: inner: root`, like
/// anyhow's `{:#}`, except that a cause whose text the line already ends
/// with is left out: errors of other crates (aya's among them) put their
/// source's text in their own message and return it as the source too,
/// which would print it twice.
pub(crate) fn error_text(e: &(dyn std::error::Error + 'static)) -> String {
    let mut line = e.to_string();
    let mut next = e.source();
    while let Some(cause) = next {
        let text = cause.to_string();
        if !text.is_empty() && !line.ends_with(&text) {
            line.push_str(": ");
            line.push_str(&text);
        }
        next = cause.source();
    }
    line
}

/// The name of a source in messages: file sources by their path.
pub(crate) fn source_name(source: &Source) -> String {
    match source {
        Source::Pcap(p) | Source::Iplog(p) => p.to_string(),
        Source::Stdin => "stdin".to_owned(),
        other => other.to_string(),
    }
}

/// Counts malformed records and lost events over a run.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Tally {
    /// Damaged regions reported (consecutive bad records are one).
    pub(crate) malformed: u64,
    /// Bytes skipped in them.
    pub(crate) skipped: u64,
    /// Events lost, summed over every `Lost` event.
    pub(crate) lost: u64,
}

impl Tally {
    /// Reports a damaged region on standard error and counts it:
    /// `prog: <source>: offset A–B: N bytes skipped: <reason>`.
    pub(crate) fn malformed(&mut self, prog: &str, m: &Malformed) {
        self.malformed += 1;
        self.skipped = self.skipped.saturating_add(m.skipped);
        error_line(
            prog,
            &format!(
                "{}: offset {}\u{2013}{}: {} byte{} skipped: {}",
                source_name(&m.header.source),
                m.offset,
                m.offset.saturating_add(m.skipped),
                m.skipped,
                if m.skipped == 1 { "" } else { "s" },
                m.reason,
            ),
        );
    }

    /// Counts lost events (they are printed in the output format too).
    pub(crate) fn lost(&mut self, l: &Lost) {
        self.lost = self.lost.saturating_add(l.count);
    }

    /// The outcome of the run; when anything went wrong, a summary line on
    /// standard error first.
    pub(crate) fn finish(self, prog: &str) -> Outcome {
        if self.malformed == 0 && self.lost == 0 {
            return Outcome::Clean;
        }
        error_line(
            prog,
            &format!(
                "{} damaged region{} skipped ({} byte{}), {} event{} lost",
                self.malformed,
                if self.malformed == 1 { "" } else { "s" },
                self.skipped,
                if self.skipped == 1 { "" } else { "s" },
                self.lost,
                if self.lost == 1 { "" } else { "s" },
            ),
        );
        Outcome::Problems
    }
}

#[cfg(test)]
mod tests {
    use std::fmt;

    use super::*;

    /// An error that prints its source in its own message, as aya's do.
    #[derive(Debug)]
    struct Repeats(io::Error);

    impl fmt::Display for Repeats {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "loading: {}", self.0)
        }
    }

    impl std::error::Error for Repeats {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.0)
        }
    }

    #[test]
    fn error_text_leaves_out_repeated_causes() {
        let e = anyhow::Error::new(Repeats(io::Error::from_raw_os_error(1))).context("starting");
        assert_eq!(
            error_text(e.as_ref()),
            "starting: loading: Operation not permitted (os error 1)"
        );
        let e = anyhow::Error::new(io::Error::from_raw_os_error(2)).context("/x");
        assert_eq!(
            error_text(e.as_ref()),
            "/x: No such file or directory (os error 2)"
        );
    }
}
