//! What the binary tells the user on standard error: misuse and fatal
//! errors in one line, each malformed record with its offset, and a summary
//! of problems at the end of a run; and the exit status of every
//! subcommand.

use std::io::{self, Write};
use std::process::ExitCode;

use inetmon_core::event::{Malformed, Source};
use inetmon_io::consumer::Report;

/// How a run ended, when it did not fail outright: the exit status of
/// every subcommand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Status {
    /// Everything was read and written: exit status 0.
    Clean,
    /// The run completed, but input was malformed, events were lost or
    /// could not be written: exit status 2.
    Problems,
    /// A usage message was printed (`ipmon -h`), or some inputs could not
    /// be read while the others were: exit status 1.
    Failed,
}

impl From<Status> for ExitCode {
    fn from(s: Status) -> ExitCode {
        match s {
            Status::Clean => ExitCode::SUCCESS,
            Status::Failed => ExitCode::from(1),
            Status::Problems => ExitCode::from(2),
        }
    }
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

/// Reports a damaged region on standard error:
/// `prog: <source>: offset A–B: N bytes skipped: <reason>`.
pub(crate) fn malformed(prog: &str, m: &Malformed) {
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

/// Reports that a sink could not deliver `count` events (they are counted
/// as lost in the summary).
pub(crate) fn unwritten(prog: &str, what: &str, count: u64) {
    let msg = if what == "syslog" {
        format!("syslog: {count} messages could not be sent")
    } else {
        format!("{what}: {count} events could not be written")
    };
    error_line(prog, &msg);
}

/// The status of a run from its counts; when anything went wrong, a
/// summary line on standard error first. Events that could not be written
/// count as lost. `failed`: inputs that could not be read.
pub(crate) fn finish(prog: &str, report: &Report, failed: u64) -> Status {
    let lost = report.lost.saturating_add(report.unwritten);
    if report.malformed == 0 && lost == 0 {
        return if failed > 0 {
            Status::Failed
        } else {
            Status::Clean
        };
    }
    error_line(prog, &summary_text(report.malformed, report.skipped, lost));
    if failed > 0 {
        Status::Failed
    } else {
        Status::Problems
    }
}

/// The summary line's text, without the parts that are zero:
/// `2 damaged regions skipped (4096 bytes), 3 events lost`,
/// `3 events lost`, `1 damaged region skipped (10 bytes)`.
fn summary_text(malformed: u64, skipped: u64, lost: u64) -> String {
    let plural = |n: u64| if n == 1 { "" } else { "s" };
    let mut parts = Vec::new();
    if malformed > 0 {
        parts.push(format!(
            "{malformed} damaged region{} skipped ({skipped} byte{})",
            plural(malformed),
            plural(skipped)
        ));
    }
    if lost > 0 {
        parts.push(format!("{lost} event{} lost", plural(lost)));
    }
    parts.join(", ")
}

/// A sink error as the binary's error: a closed output pipe becomes
/// `BrokenPipe`, which ends the run with status 0.
pub(crate) fn sink_error(e: inetmon_io::sink::SinkError) -> anyhow::Error {
    match e {
        inetmon_io::sink::SinkError::Closed => io::Error::from(io::ErrorKind::BrokenPipe).into(),
        other => other.into(),
    }
}

/// The status of a live run (`sockets`, `monitor`) once it `ended`: a
/// producer's error is one line (the others went on) and makes the status
/// 1, since what was printed is incomplete (the daemon of a client went
/// away, say); an output error other than a closed pipe is the run's
/// error.
///
/// # Errors
///
/// The output error.
pub(crate) fn ended(
    prog: &str,
    ended: inetmon_io::consumer::Ended,
    counts: &Report,
) -> anyhow::Result<Status> {
    let failed = u64::try_from(ended.producers.len()).unwrap_or(u64::MAX);
    for (name, e) in ended.producers {
        error_line(prog, &format!("{name} reader: {}", error_text(e.as_ref())));
    }
    ended.output.map_err(sink_error)?;
    Ok(finish(prog, counts, failed))
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
    fn summary_leaves_out_zero_parts() {
        assert_eq!(summary_text(0, 0, 3), "3 events lost");
        assert_eq!(summary_text(0, 0, 1), "1 event lost");
        assert_eq!(
            summary_text(1, 10, 0),
            "1 damaged region skipped (10 bytes)"
        );
        assert_eq!(
            summary_text(2, 1, 1),
            "2 damaged regions skipped (1 byte), 1 event lost"
        );
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
