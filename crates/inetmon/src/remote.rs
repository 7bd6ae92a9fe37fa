//! Client mode: `inetmon sockets`, `monitor` and `ipmon` watch through the
//! daemon when its socket exists, so that a member of group `inetmon`
//! needs neither root nor `CAP_BPF`.
//!
//! The socket is `$INETMON_SOCKET`, else `/run/inetmon/inetmon.sock`;
//! `--local` always runs the producers in-process. The command sends its
//! event kinds and its filter; the daemon filters and sends the events,
//! which enter the command's own pipeline, stage and sinks: the output is
//! the one the in-process producers would give.
//!
//! When the daemon cannot serve the command (it does not collect the kind
//! or NFLOG group asked for, or a flag needs the in-process producers:
//! `sockets --existing/--aha/--cgroup`, `monitor --summary/--iface/
//! --netns/--type debug`, `ipmon -X` or file inputs), a user who could run
//! them (root) runs them in-process, with a one-line note on standard
//! error when the daemon refused; anyone else gets the daemon's reason in
//! one line and status 1.

use std::path::PathBuf;

use anyhow::bail;
use inetmon_core::protocol::{RefusalCode, Request};
use inetmon_io::clients::{socket_path, ClientError, RemoteSource};
use inetmon_io::consumer::Producers;

/// What a command asks of client mode.
pub(crate) struct Want<'a> {
    /// The command, for messages (`inetmon sockets`).
    pub(crate) cmd: &'a str,
    /// `--local` was given.
    pub(crate) local: bool,
    /// The flags that need the in-process producers, each with whether it
    /// was given; the first given one is named in messages.
    pub(crate) local_only: &'a [(bool, &'a str)],
    /// Whether this user may run the producers in-process.
    pub(crate) can_local: bool,
}

/// Connects to the daemon when the command should watch through it:
/// `Ok(None)` means run the producers in-process.
///
/// # Errors
/// One line when the daemon cannot serve the command and this user
/// cannot run it in-process either.
pub(crate) fn connect(want: &Want<'_>, req: &Request) -> anyhow::Result<Option<RemoteSource>> {
    if want.local {
        return Ok(None);
    }
    let path = socket_path();
    if std::fs::symlink_metadata(&path).is_err() {
        return Ok(None);
    }
    let local_only = want.local_only.iter().find(|(given, _)| *given);
    if let Some((_, flag)) = local_only {
        if want.can_local {
            return Ok(None);
        }
        bail!(
            "{flag} needs the producers in-process (root); the daemon at {} cannot provide it",
            path.display()
        );
    }
    match RemoteSource::connect(&path, req) {
        Ok(src) => Ok(Some(src)),
        Err(ClientError::Refused {
            code: RefusalCode::NotCollected,
            text,
        }) if want.can_local => {
            note(want.cmd, &format!("{text}; running in-process"));
            Ok(None)
        }
        Err(e @ ClientError::NoDaemon { .. }) if want.can_local => {
            note(want.cmd, &format!("{e}; running in-process"));
            Ok(None)
        }
        Err(e) => Err(e.into()),
    }
}

/// Starts reading the daemon's events into `producers`; the daemon going
/// away ends the run (with an error line).
///
/// # Errors
/// When the thread cannot be started.
pub(crate) fn spawn(src: RemoteSource, producers: &mut Producers) -> anyhow::Result<()> {
    let thread = src.spawn(producers.pipeline(), producers.shutdown())?;
    producers.add("daemon", thread, true);
    Ok(())
}

/// The socket client mode would use (for messages).
pub(crate) fn path() -> PathBuf {
    socket_path()
}

fn note(cmd: &str, text: &str) {
    // The binary decides where text goes: notes go to standard error.
    #[allow(clippy::print_stderr)]
    {
        eprintln!("{cmd}: {text}");
    }
}
