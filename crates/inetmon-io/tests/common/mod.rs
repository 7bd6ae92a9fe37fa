//! Helpers shared by the integration tests.
#![allow(dead_code, unreachable_pub, clippy::print_stdout)]

pub mod rsyslog;
pub mod shared;
pub mod web;

#[allow(unused_imports)] // not every test binary uses every helper
pub use shared::*;

use std::path::Path;
use std::process::Command;

/// Whether `prog` can be run (found on PATH).
pub fn have(prog: &str) -> bool {
    Command::new(prog).arg("--version").output().is_ok()
        || Command::new(prog).arg("-v").output().is_ok()
}

/// Runs a command, panicking with its stderr when it fails.
pub fn run(cmd: &str, args: &[&str]) -> String {
    let out = Command::new(cmd)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{cmd}: {e}"));
    assert!(
        out.status.success(),
        "{cmd} {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A network namespace deleted on drop.
pub struct Netns {
    pub name: String,
}

impl Netns {
    /// Creates `inetmon-io-<tag>-<pid>` with `lo` up.
    pub fn new(tag: &str) -> Netns {
        let name = format!("inetmon-io-{tag}-{}", std::process::id());
        let _ = Command::new("ip").args(["netns", "del", &name]).output();
        run("ip", &["netns", "add", &name]);
        let ns = Netns { name };
        run("ip", &["-n", &ns.name, "link", "set", "lo", "up"]);
        ns
    }

    /// Runs `args` inside the namespace.
    pub fn exec(&self, args: &[&str]) -> String {
        let mut all = vec!["netns", "exec", &self.name];
        all.extend_from_slice(args);
        run("ip", &all)
    }

    /// Loads an nft ruleset inside the namespace.
    pub fn nft(&self, ruleset: &str) {
        let mut child = Command::new("ip")
            .args(["netns", "exec", &self.name, "nft", "-f", "-"])
            .stdin(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(ruleset.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "nft: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Path of the namespace file for `setns`.
    pub fn path(&self) -> String {
        format!("/run/netns/{}", self.name)
    }

    /// Moves the calling thread into the namespace.
    pub fn enter(&self) {
        enter_netns(&self.path());
    }

    /// Runs `f` on a new thread inside the namespace.
    pub fn spawn<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> std::thread::JoinHandle<T> {
        let path = self.path();
        std::thread::spawn(move || {
            enter_netns(&path);
            f()
        })
    }
}

/// Moves the calling thread into the network namespace at `path` (for
/// threads that cannot borrow the [`Netns`]).
pub fn enter_netns(path: &str) {
    let f = std::fs::File::open(path).unwrap();
    nix::sched::setns(f, nix::sched::CloneFlags::CLONE_NEWNET).unwrap();
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .output();
    }
}

/// Whether `path` exists.
pub fn exists(path: &Path) -> bool {
    path.exists()
}

/// For the eBPF tests: `true` when root; otherwise prints why the test
/// skips, or panics under `INETMON_REQUIRE_PRIVILEGED=1`.
pub fn privileged() -> bool {
    can_run(is_root(), "needs root for BPF and network namespaces")
}
