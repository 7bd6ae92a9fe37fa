//! Man pages and shell completions generated from the one CLI definition
//! (issue 13): every subcommand has a page that `man -l` renders without a
//! warning, each `--help` ends with examples that parse, and the bash
//! completion script loads and completes subcommands and options.

mod common;

use std::collections::BTreeSet;
use std::process::Command;

use common::{can_run, have, inetmon_run, run};
use std::time::Duration;

/// The subcommand paths `inetmon --help` and `inetmon journal --help` list.
fn subcommands() -> Vec<Vec<String>> {
    fn listed(help: &str) -> Vec<String> {
        help.lines()
            .skip_while(|l| !l.starts_with("Commands:"))
            .skip(1)
            .take_while(|l| l.starts_with("  "))
            // A name at the indent; descriptions wrap further right.
            .filter(|l| !l.starts_with("   "))
            .filter_map(|l| l.split_whitespace().next())
            .filter(|n| *n != "help")
            .map(str::to_owned)
            .collect()
    }
    let mut out = Vec::new();
    for top in listed(&inetmon_run(&["--help"]).stdout) {
        let nested = listed(&inetmon_run(&[&top, "--help"]).stdout);
        out.push(vec![top.clone()]);
        for n in nested {
            out.push(vec![top.clone(), n]);
        }
    }
    out
}

#[test]
fn every_subcommand_has_a_man_page_that_renders_cleanly() {
    if !can_run(have("man"), "man is not installed (run scripts/setup.sh)") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let r = inetmon_run(&["man", "--dir", dir.path().to_str().unwrap()]);
    assert_eq!(r.code, Some(0), "{r:?}");
    let files: BTreeSet<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    let mut want: BTreeSet<String> = subcommands()
        .iter()
        .map(|path| format!("inetmon-{}.1", path.join("-")))
        .collect();
    want.insert("inetmon.1".to_owned());
    assert!(want.len() >= 12, "{want:?}");
    assert_eq!(files, want);
    assert_eq!(r.stdout.lines().count(), want.len(), "{r:?}");
    for f in &files {
        let path = dir.path().join(f);
        let out = run(
            Command::new("man")
                .args(["--warnings", "-l"])
                .arg(&path)
                .env("MANWIDTH", "80")
                .env("MANPAGER", "cat")
                .env("PAGER", "cat"),
            Duration::from_secs(30),
        );
        assert_eq!(out.code, Some(0), "{f}: {out:?}");
        assert_eq!(out.stderr, "", "{f}: man warns");
        assert!(out.stdout.contains("NAME"), "{f}: {}", out.stdout);
    }
    let ipmon = std::fs::read_to_string(dir.path().join("inetmon-ipmon.1")).unwrap();
    assert!(ipmon.contains("syslog\\-target"), "{ipmon}");
    assert!(ipmon.contains("Examples:"), "{ipmon}");
    // A symbolic link planted where a page goes is not followed.
    let victim = dir.path().join("victim");
    std::fs::write(&victim, "keep").unwrap();
    std::fs::remove_file(dir.path().join("inetmon-read.1")).unwrap();
    std::os::unix::fs::symlink(&victim, dir.path().join("inetmon-read.1")).unwrap();
    let r = inetmon_run(&["man", "--dir", dir.path().to_str().unwrap()]);
    assert_eq!(r.code, Some(1), "{r:?}");
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep");
}

/// Each subcommand's `--help` ends with examples, and every example is a
/// command line the parser accepts.
#[test]
fn every_help_has_examples_that_parse() {
    for path in subcommands() {
        let mut args: Vec<&str> = path.iter().map(String::as_str).collect();
        args.push("--help");
        let help = inetmon_run(&args).stdout;
        let examples: Vec<&str> = help
            .lines()
            .skip_while(|l| !l.starts_with("Example"))
            .skip(1)
            .filter_map(|l| l.trim_start().strip_prefix("inetmon "))
            .collect();
        assert!(!examples.is_empty(), "{path:?}: no examples in\n{help}");
        for ex in examples {
            // Drop a trailing explanation (two or more spaces) and shell
            // syntax (a pipe, `&&`, a redirection).
            let cmd = ex.split("  ").next().unwrap().split(" | ").next().unwrap();
            let cmd = cmd.split(" && ").next().unwrap();
            let cmd = cmd.split(" > ").next().unwrap();
            let words: Vec<&str> = cmd.split_whitespace().collect();
            // --help after the words: clap checks every option and value
            // before it shows help, and nothing runs.
            let mut check = words.clone();
            check.push("--help");
            let r = inetmon_run(&check);
            assert_eq!(
                r.code,
                Some(0),
                "{path:?}: example `inetmon {ex}` does not parse: {r:?}"
            );
        }
    }
}

#[test]
fn bash_completion_loads_and_completes() {
    if !can_run(have("bash"), "bash is not installed") {
        return;
    }
    let script = inetmon_run(&["completions", "bash"]);
    assert_eq!(script.code, Some(0), "{script:?}");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("inetmon.bash");
    std::fs::write(&file, &script.stdout).unwrap();
    // Load it, then ask the completion function what it offers after
    // `inetmon ` and after `inetmon ipmon --syslog-`.
    let probe = format!(
        r#"set -e
source {f}
complete -p inetmon
COMP_WORDS=(inetmon ""); COMP_CWORD=1; COMP_LINE="inetmon "; COMP_POINT=${{#COMP_LINE}}
_inetmon inetmon "" inetmon
echo "TOP: ${{COMPREPLY[*]}}"
COMP_WORDS=(inetmon ipmon --syslog-); COMP_CWORD=2; COMP_LINE="inetmon ipmon --syslog-"; COMP_POINT=${{#COMP_LINE}}
_inetmon inetmon --syslog- ipmon
echo "IPMON: ${{COMPREPLY[*]}}"
"#,
        f = file.display()
    );
    let r = run(
        Command::new("bash").args(["--norc", "--noprofile", "-c", &probe]),
        Duration::from_secs(30),
    );
    assert_eq!(r.code, Some(0), "{r:?}");
    assert_eq!(r.stderr, "", "{r:?}");
    let top = r
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("TOP: "))
        .unwrap_or_else(|| panic!("{r:?}"));
    for sub in [
        "ipmon",
        "read",
        "sockets",
        "monitor",
        "daemon",
        "journal",
        "audit",
        "man",
        "completions",
    ] {
        assert!(top.split(' ').any(|w| w == sub), "{sub} not offered: {top}");
    }
    let ipmon = r
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("IPMON: "))
        .unwrap_or_else(|| panic!("{r:?}"));
    let offered: BTreeSet<&str> = ipmon.split(' ').collect();
    assert_eq!(
        offered,
        BTreeSet::from(["--syslog-target", "--syslog-ca", "--syslog-buffer"]),
        "{ipmon}"
    );
    // zsh and fish scripts are generated too and checked for syntax by the
    // shell itself (scripts/setup.sh installs both).
    for (shell, check) in [("zsh", ["-n"]), ("fish", ["-n"])] {
        let s = inetmon_run(&["completions", shell]);
        assert_eq!(s.code, Some(0), "{s:?}");
        assert!(s.stdout.contains("inetmon"), "{shell}");
        if can_run(have(shell), &format!("{shell} is not installed")) {
            let f = dir.path().join(format!("inetmon.{shell}"));
            std::fs::write(&f, &s.stdout).unwrap();
            let r = run(
                Command::new(shell).args(check).arg(&f),
                Duration::from_secs(30),
            );
            assert_eq!(r.code, Some(0), "{shell}: {r:?}");
        }
    }
    let r = inetmon_run(&["completions", "tcsh"]);
    assert_eq!(r.code, Some(1), "{r:?}");
    assert_eq!(r.stderr.lines().count(), 1, "{r:?}");
}

/// `scripts/install.sh` (the documented install step) puts the binary, a
/// page per subcommand and the three completion scripts under DESTDIR.
#[test]
fn install_script_installs_pages_and_completions() {
    let dir = tempfile::tempdir().unwrap();
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/install.sh");
    let r = run(
        Command::new("bash")
            .arg(&script)
            .arg(common::inetmon())
            .env("DESTDIR", dir.path())
            .env("PREFIX", "/usr"),
        Duration::from_secs(60),
    );
    assert_eq!(r.code, Some(0), "{r:?}");
    let root = dir.path().join("usr");
    for f in [
        "bin/inetmon",
        "share/man/man1/inetmon.1",
        "share/man/man1/inetmon-ipmon.1",
        "share/man/man1/inetmon-journal-query.1",
        "share/bash-completion/completions/inetmon",
        "share/zsh/site-functions/_inetmon",
        "share/fish/vendor_completions.d/inetmon.fish",
    ] {
        assert!(root.join(f).is_file(), "{f} missing: {r:?}");
    }
    let pages = std::fs::read_dir(root.join("share/man/man1"))
        .unwrap()
        .count();
    assert_eq!(pages, subcommands().len() + 1);
}
