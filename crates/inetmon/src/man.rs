//! `inetmon man --dir DIR` and `inetmon completions SHELL`: manual pages
//! (`clap_mangen`) and shell completions (`clap_complete`) generated from the
//! one clap definition ([`crate::cli::Cli`]), so they cannot drift from the
//! parser. `scripts/install.sh` installs both.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use clap::{Args, CommandFactory};
use clap_complete::Shell;
use inetmon_io::safe_open;

use crate::cli::Cli;
use crate::report::Status;

/// `inetmon man`.
#[derive(Debug, Args)]
#[command(
    after_help = "Example:\n  inetmon man --dir /usr/local/share/man/man1 && man inetmon-ipmon"
)]
pub(crate) struct ManArgs {
    /// Directory to write the pages into (`inetmon.1`, `inetmon-ipmon.1`,
    /// `inetmon-journal-query.1`, …); it must exist.
    #[arg(long, value_name = "DIR")]
    pub(crate) dir: PathBuf,
}

/// `inetmon completions`.
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  \
    source <(inetmon completions bash)\n  \
    inetmon completions fish > ~/.config/fish/completions/inetmon.fish\n  \
    inetmon completions zsh > /usr/local/share/zsh/site-functions/_inetmon")]
pub(crate) struct CompletionsArgs {
    /// The shell: bash, zsh or fish.
    #[arg(value_parser = ["bash", "zsh", "fish"])]
    pub(crate) shell: String,
}

/// Writes one page per command and subcommand into `args.dir`; prints each
/// file written.
pub(crate) fn run_man(args: &ManArgs) -> anyhow::Result<Status> {
    let mut cmd = Cli::command().disable_help_subcommand(true);
    cmd.build();
    let mut written = Vec::new();
    write_pages(&cmd, &args.dir, &mut written)?;
    let mut out = std::io::stdout().lock();
    for p in written {
        writeln!(out, "{}", p.display())?;
    }
    Ok(Status::Clean)
}

fn write_pages(cmd: &clap::Command, dir: &Path, written: &mut Vec<PathBuf>) -> anyhow::Result<()> {
    let man = clap_mangen::Man::new(cmd.clone());
    let path = dir.join(man.get_filename());
    let mut page = Vec::new();
    man.render(&mut page)
        .with_context(|| path.display().to_string())?;
    // Written as root into shared directories: no planted links.
    let mut f = safe_open::open_truncate(&path)?;
    f.write_all(&page)
        .with_context(|| path.display().to_string())?;
    written.push(path);
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        write_pages(sub, dir, written)?;
    }
    Ok(())
}

/// Prints the completion script for `args.shell` on standard output.
pub(crate) fn run_completions(args: &CompletionsArgs) -> anyhow::Result<Status> {
    let shell = match args.shell.as_str() {
        "bash" => Shell::Bash,
        "zsh" => Shell::Zsh,
        _ => Shell::Fish,
    };
    let mut cmd = Cli::command();
    let mut out = std::io::stdout().lock();
    clap_complete::generate(shell, &mut cmd, "inetmon", &mut out);
    out.flush()?;
    Ok(Status::Clean)
}
