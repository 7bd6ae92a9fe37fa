//! The `inetmon` command line.

mod sockets;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Linux network-event monitor.
#[derive(Debug, Parser)]
#[command(name = "inetmon", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Socket operations from eBPF (create, bind, listen, accept, connect,
    /// disconnect, close), as AIX AHAFS inetsock reports them.
    Sockets(sockets::SocketsArgs),
}

#[allow(clippy::print_stderr)] // the binary reports its own fatal error
fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Sockets(a) => sockets::run(a),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("inetmon: {e:#}");
            ExitCode::from(1)
        }
    }
}
