//! The `inetmon` command line: parse → validate → run → exit status.
//!
//! Exit status: 0 when everything went well; 1 for misuse (one line on
//! standard error, as ipmon does) and for fatal errors (a source that cannot
//! be opened, a missing privilege), and when some of several files could
//! not be read (every other one is); 2 when the run completed but input was
//! malformed or events were lost or could not be written (a summary line
//! says how many). Every subcommand returns a [`report::Status`]. A closed
//! output pipe (`inetmon read x | head`) ends the run quietly with status 0.

mod audit;
mod cli;
#[cfg(feature = "export-nats")]
mod collect;
mod daemon_cmd;
mod ipmon;
mod journal_cmd;
mod man;
mod monitor;
mod offline;
mod output;
mod privilege;
mod read;
mod remote;
mod report;
mod sockets;
mod source;
mod syslog_target;

use std::ffi::OsString;
use std::fmt;
use std::io;
use std::process::ExitCode;

use clap::error::ErrorKind;
use clap::Parser;

use crate::cli::{Cli, Command};

/// A misuse of the command line: reported as one line, exit status 1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Misuse(pub(crate) String);

impl fmt::Display for Misuse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Misuse {}

fn main() -> ExitCode {
    let args: Vec<OsString> = std::env::args_os().collect();
    let prog = cli::program_name(args.first());
    let cli = match Cli::try_parse_from(cli::effective_args(args, &prog)) {
        Ok(cli) => cli,
        Err(e) => return clap_exit(&e, &prog),
    };
    let result = match cli.command {
        Command::Ipmon(flags) => ipmon::main(&flags, &prog),
        Command::Read(flags) => read::main(&flags, &prog),
        Command::Sockets(args) => sockets::run(args),
        Command::Monitor(args) => monitor::run(&args),
        Command::Daemon(args) => daemon_cmd::run(&args),
        Command::Journal(args) => journal_cmd::run(&args),
        Command::Audit(args) => audit::run(&args),
        Command::Man(args) => man::run_man(&args),
        Command::Completions(args) => man::run_completions(&args),
        #[cfg(feature = "export-nats")]
        Command::Collect(args) => collect::run(&args),
    };
    match result {
        Ok(status) => status.into(),
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            report::error_line(&prog, &report::error_text(e.as_ref()));
            ExitCode::from(1)
        }
    }
}

/// Help and version go to standard output with status 0; any other parse
/// error is one line and status 1.
fn clap_exit(e: &clap::Error, prog: &str) -> ExitCode {
    match e.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
            // Nothing useful to do if printing the help itself fails.
            let _ = e.print();
            ExitCode::SUCCESS
        }
        ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            let _ = e.print();
            ExitCode::from(1)
        }
        _ => {
            report::error_line(prog, &cli::one_line(e));
            ExitCode::from(1)
        }
    }
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain()
        .filter_map(|c| c.downcast_ref::<io::Error>())
        .any(|io| io.kind() == io::ErrorKind::BrokenPipe)
}
