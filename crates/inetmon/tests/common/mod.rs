//! Helpers for the end-to-end tests: running the binary with a timeout,
//! network namespaces that clean up after themselves, background processes
//! that are killed on drop, privilege checks, and parsers for ipmon lines
//! and tcpdump output.
#![allow(dead_code, unreachable_pub, clippy::print_stdout, clippy::print_stderr)]

/// The metrics and web-view helpers of `inetmon-io`'s tests (one copy).
#[path = "../../../inetmon-io/tests/common/web.rs"]
pub mod web;

/// The private rsyslogd of `inetmon-io`'s syslog tests (one copy).
#[path = "../../../inetmon-io/tests/common/rsyslog.rs"]
pub mod rsyslog;

/// The privilege, polling and thread-namespace helpers of `inetmon-io`'s
/// tests (one copy).
#[path = "../../../inetmon-io/tests/common/shared.rs"]
pub mod shared;

#[allow(unused_imports)] // not every test binary uses every helper
pub use shared::{
    can_run, ip_here, is_root, lease_port, new_netns, required, start_sockets, tid, wait_for,
    PortLease, AS_NOBODY,
};

use std::fs;
use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

pub mod craft;
pub mod dkaudit;

/// The binary under test.
pub fn inetmon() -> &'static str {
    env!("CARGO_BIN_EXE_inetmon")
}

/// A file under `tests/data/`.
pub fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

/// What a finished command did.
#[derive(Debug)]
pub struct Run {
    /// Exit code (`None` when killed by a signal).
    pub code: Option<i32>,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl Run {
    /// Standard error's lines.
    pub fn stderr_lines(&self) -> Vec<&str> {
        self.stderr.lines().collect()
    }

    /// Asserts exit status 1 and one line on stderr, `inetmon: …` with
    /// `needle` in it (`what` names the run in messages); returns the line.
    #[track_caller]
    pub fn one_error_line(&self, what: &impl std::fmt::Debug, needle: &str) -> &str {
        assert_eq!(self.code, Some(1), "{what:?}: {self:?}");
        let lines = self.stderr_lines();
        assert_eq!(lines.len(), 1, "{what:?}: one line expected: {self:?}");
        assert!(
            lines[0].starts_with("inetmon: "),
            "{what:?}: {:?}",
            lines[0]
        );
        assert!(
            lines[0].contains(needle),
            "{what:?}: {:?} lacks {needle:?}",
            lines[0]
        );
        lines[0]
    }
}

/// Runs `cmd` with `input` on stdin; kills it and panics after `timeout`.
pub fn run_with_input(cmd: &mut Command, input: &[u8], timeout: Duration) -> Run {
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("spawning {cmd:?}: {e}"));
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_vec();
    let writer = std::thread::spawn(move || {
        // The command may exit before reading everything (broken pipe is fine).
        let _ = stdin.write_all(&input);
    });
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let out_t = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = out.read_to_end(&mut s);
        s
    });
    let err_t = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = err.read_to_end(&mut s);
        s
    });
    let end = Instant::now() + timeout;
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        if Instant::now() > end {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{cmd:?} did not finish within {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let _ = writer.join();
    Run {
        code: status.code(),
        stdout: String::from_utf8_lossy(&out_t.join().unwrap()).into_owned(),
        stderr: String::from_utf8_lossy(&err_t.join().unwrap()).into_owned(),
    }
}

/// Runs `cmd` with empty stdin and a timeout.
pub fn run(cmd: &mut Command, timeout: Duration) -> Run {
    run_with_input(cmd, b"", timeout)
}

/// `inetmon ARGS…`, with `TZ=UTC`, run to completion within 120 s.
pub fn inetmon_run(args: &[&str]) -> Run {
    let mut cmd = Command::new(inetmon());
    cmd.args(args).env("TZ", "UTC");
    run(&mut cmd, Duration::from_secs(120))
}

/// `inetmon ARGS…` with `TZ=UTC` and extra environment variables.
pub fn inetmon_run_env(args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut cmd = Command::new(inetmon());
    cmd.args(args).env("TZ", "UTC");
    for (k, v) in env {
        cmd.env(k, v);
    }
    run(&mut cmd, Duration::from_secs(120))
}

/// Whether `prog` is on the PATH.
pub fn have(prog: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(prog).is_file()))
}

/// The check every live test starts with: root and the tools it uses.
pub fn require_privileged(test: &str, tools: &[&str]) -> bool {
    if !can_run(
        is_root(),
        &format!("{test} needs root (network namespaces, nftables)"),
    ) {
        return false;
    }
    for t in tools {
        if !can_run(have(t), &format!("{test} needs {t} (run scripts/setup.sh)")) {
            return false;
        }
    }
    true
}

/// Runs a command that must succeed (within 120 s: generous for a loaded
/// machine, such as a flood of 150 000 datagrams from python3); returns
/// its stdout.
pub fn must(cmd: &mut Command) -> String {
    let r = run(cmd, Duration::from_secs(120));
    assert_eq!(r.code, Some(0), "{cmd:?} failed: {}{}", r.stdout, r.stderr);
    r.stdout
}

/// A shell command sending one UDP datagram (`\\n` in `payload` is a
/// newline) from source port `sport` (0: any). Unlike `nc -u -w0`, which
/// may exit before it has read its input, this always sends.
pub fn udp_cmd(dst: &str, dport: u16, sport: u16, payload: &str) -> String {
    static SCRIPT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    let script = SCRIPT.get_or_init(|| {
        let path = std::env::temp_dir().join(format!("inetmon-test-udpsend-{}.py", std::process::id()));
        fs::write(
            &path,
            "import socket, sys\n\
             dst, dport, sport, payload = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]\n\
             v6 = ':' in dst\n\
             s = socket.socket(socket.AF_INET6 if v6 else socket.AF_INET, socket.SOCK_DGRAM)\n\
             s.bind(('::' if v6 else '0.0.0.0', sport))\n\
             s.sendto(payload.replace('\\\\n', '\\n').encode(), (dst, dport))\n",
        )
        .unwrap();
        path
    });
    format!(
        "python3 {} {dst} {dport} {sport} '{payload}'",
        script.display()
    )
}

static NETNS_COUNTER: AtomicU32 = AtomicU32::new(0);

/// A network namespace `inetmon-t-<pid>-<n>` with `lo` up, deleted (with
/// every process still in it) on drop.
pub struct Netns {
    name: String,
}

impl Netns {
    /// Creates the namespace.
    pub fn new() -> Netns {
        let n = NETNS_COUNTER.fetch_add(1, Ordering::SeqCst);
        let name = format!("inetmon-t-{}-{n}", std::process::id());
        must(Command::new("ip").args(["netns", "add", &name]));
        let ns = Netns { name };
        must(Command::new("ip").args(["-n", &ns.name, "link", "set", "lo", "up"]));
        ns
    }

    /// For the live test `test`, which needs root and `tools`: a new
    /// namespace with the nftables `ruleset` loaded; `None` when the test
    /// skips.
    pub fn with_rules(test: &str, tools: &[&str], ruleset: &str) -> Option<Netns> {
        if !require_privileged(test, tools) {
            return None;
        }
        let ns = Netns::new();
        ns.nft(ruleset);
        Some(ns)
    }

    /// The namespace's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// `ip netns exec NAME prog`.
    pub fn cmd(&self, prog: &str) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.name, prog]);
        c
    }

    /// Runs a shell script inside the namespace; it must succeed.
    pub fn sh(&self, script: &str) -> String {
        must(self.cmd("sh").args(["-c", script]))
    }

    /// Runs a shell script inside the namespace, whatever its outcome.
    pub fn sh_any(&self, script: &str) -> Run {
        run(
            self.cmd("sh").args(["-c", script]),
            Duration::from_secs(120),
        )
    }

    /// Waits (up to 60 s) until a TCP socket listens on `port` in the
    /// namespace (`ss -Hltn`): a helper started in the background (`nc -l`)
    /// must listen before a client connects, and on a loaded machine a
    /// fixed pause is not always enough.
    pub fn wait_listening(&self, port: u16) {
        let filter = format!("sport = :{port}");
        let up = wait_for(Duration::from_secs(60), || {
            let r = run(
                self.cmd("ss").args(["-Hltn", &filter]),
                Duration::from_secs(60),
            );
            (!r.stdout.trim().is_empty()).then_some(())
        });
        assert!(
            up.is_some(),
            "nothing listens on port {port} in {}",
            self.name
        );
    }

    /// Loads an nftables ruleset inside the namespace.
    pub fn nft(&self, ruleset: &str) {
        let r = run_with_input(
            self.cmd("nft").args(["-f", "-"]),
            ruleset.as_bytes(),
            Duration::from_secs(120),
        );
        assert_eq!(r.code, Some(0), "nft failed: {}\n{ruleset}", r.stderr);
    }

    /// Creates tun device `name` (`IFF_TUN | IFF_NO_PI`) in the namespace
    /// and returns its fd (blocking). A tun device belongs to the namespace
    /// of the thread that opens `/dev/net/tun`, so a short-lived thread
    /// enters it.
    pub fn open_tun(&self, name: &str) -> fs::File {
        const TUNSETIFF: libc::c_ulong = 0x4004_54ca;
        let path = format!("/var/run/netns/{}", self.name);
        let name = name.to_owned();
        std::thread::spawn(move || {
            let nsf = fs::File::open(&path).unwrap();
            // SAFETY: a valid namespace fd; only this thread changes namespace.
            let rc = unsafe { libc::setns(nsf.as_raw_fd(), libc::CLONE_NEWNET) };
            assert_eq!(rc, 0, "setns: {}", std::io::Error::last_os_error());
            let f = fs::OpenOptions::new()
                .read(true)
                .write(true)
                .open("/dev/net/tun")
                .unwrap();
            // SAFETY: ifreq is plain data; zero is valid.
            let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
            for (d, s) in req.ifr_name.iter_mut().zip(name.as_bytes()) {
                *d = *s as libc::c_char;
            }
            req.ifr_ifru.ifru_flags = (libc::IFF_TUN | libc::IFF_NO_PI) as libc::c_short;
            // SAFETY: an open tun fd and a valid ifreq.
            let rc = unsafe { libc::ioctl(f.as_raw_fd(), TUNSETIFF, &mut req) };
            assert_eq!(rc, 0, "TUNSETIFF: {}", std::io::Error::last_os_error());
            f
        })
        .join()
        .unwrap()
    }

    /// Starts `inetmon monitor ARGS…` in the namespace (see
    /// [`start_monitor`]) with its output to `DIR/TAG.out` and errors to
    /// `DIR/TAG.err`; returns the process and both paths.
    pub fn monitor(&self, dir: &Path, tag: &str, args: &[&str]) -> (Bg, PathBuf, PathBuf) {
        let out = dir.join(format!("{tag}.out"));
        let err = dir.join(format!("{tag}.err"));
        let bg = start_monitor(
            &mut self.cmd(inetmon()),
            args,
            &out,
            &err,
            Duration::from_secs(60),
        );
        (bg, out, err)
    }

    /// Starts `inetmon ARGS…` in the namespace, in the background, with
    /// `TZ=UTC`; its stderr goes to `stderr`.
    pub fn spawn_inetmon(&self, args: &[&str], stderr: &Path) -> Bg {
        let mut c = self.cmd(inetmon());
        c.args(args).env("TZ", "UTC");
        Bg::spawn(&mut c, stderr)
    }

    /// [`Netns::spawn_inetmon`], asserting that it still runs 500 ms later.
    pub fn spawn_inetmon_running(&self, args: &[&str], stderr: &Path) -> Bg {
        let mut mon = self.spawn_inetmon(args, stderr);
        std::thread::sleep(Duration::from_millis(500));
        assert_eq!(
            mon.try_wait(),
            None,
            "inetmon exited: {}",
            fs::read_to_string(stderr).unwrap_or_default()
        );
        mon
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        if let Ok(out) = Command::new("ip")
            .args(["netns", "pids", &self.name])
            .output()
        {
            for pid in String::from_utf8_lossy(&out.stdout).split_whitespace() {
                let _ = Command::new("kill").args(["-KILL", pid]).status();
            }
        }
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}

/// A veth pair between two namespaces, with addresses (`10.x/24`,
/// `fd00::x/64`) on each side, both ends up and MTU `mtu`.
pub fn veth(
    a: &Netns,
    a_if: &str,
    a_addrs: &[&str],
    b: &Netns,
    b_if: &str,
    b_addrs: &[&str],
    mtu: u32,
) {
    must(Command::new("ip").args([
        "-n",
        a.name(),
        "link",
        "add",
        a_if,
        "mtu",
        &mtu.to_string(),
        "type",
        "veth",
        "peer",
        "name",
        b_if,
        "mtu",
        &mtu.to_string(),
        "netns",
        b.name(),
    ]));
    for (ns, ifname, addrs) in [(a, a_if, a_addrs), (b, b_if, b_addrs)] {
        // No duplicate-address detection: IPv6 addresses usable at once.
        ns.sh(&format!("sysctl -qw net.ipv6.conf.{ifname}.accept_dad=0"));
        for addr in addrs {
            let family = if addr.contains(':') { "-6" } else { "-4" };
            must(Command::new("ip").args([
                family,
                "-n",
                ns.name(),
                "addr",
                "add",
                addr,
                "dev",
                ifname,
            ]));
        }
        must(Command::new("ip").args(["-n", ns.name(), "link", "set", ifname, "up"]));
    }
}

/// Starts `inetmon monitor ARGS…` from `cmd` (an `inetmon` command, in a
/// namespace or not) with `TZ=UTC`, output to `out` and `err`, and waits up
/// to `timeout`, but at least 120 s (loading BPF programs on a loaded
/// machine can take long), for its "attached" line.
pub fn start_monitor(
    cmd: &mut Command,
    args: &[&str],
    out: &Path,
    err: &Path,
    timeout: Duration,
) -> Bg {
    cmd.arg("monitor").args(args).env("TZ", "UTC");
    let bg = Bg::spawn_to(cmd, out, err);
    let timeout = timeout.max(Duration::from_secs(120));
    wait_for_line(err, "inetmon monitor: attached", timeout, err);
    bg
}

/// The NAT topology of the conntrack tests: `(client, router, server)`
/// namespaces, client `10.N.1.1` — router `10.N.1.2` (`vc`/`vrc`), router
/// `10.N.2.1` — server `10.N.2.2` (`vrs`/`vs`), the client routed through
/// the router, which forwards, dnats `tcp dport 8080` to `10.N.2.2:80` and
/// masquerades out of `vrs`.
pub fn nat_triple(n: u8) -> (Netns, Netns, Netns) {
    let client = Netns::new();
    let router = Netns::new();
    let server = Netns::new();
    let a = |host: &str| format!("10.{n}.{host}/24");
    veth(
        &client,
        "vc",
        &[&a("1.1")],
        &router,
        "vrc",
        &[&a("1.2")],
        1500,
    );
    veth(
        &router,
        "vrs",
        &[&a("2.1")],
        &server,
        "vs",
        &[&a("2.2")],
        1500,
    );
    client.sh(&format!("ip route add default via 10.{n}.1.2"));
    router.sh("sysctl -qw net.ipv4.ip_forward=1");
    router.nft(&format!(
        r#"table ip nat {{
  chain pre {{ type nat hook prerouting priority -100; tcp dport 8080 dnat to 10.{n}.2.2:80; }}
  chain post {{ type nat hook postrouting priority 100; oifname "vrs" masquerade; }}
}}"#
    ));
    (client, router, server)
}

/// A background process, stopped (SIGTERM, then SIGKILL) on drop.
pub struct Bg {
    child: Option<Child>,
}

impl Bg {
    /// Spawns `cmd` with null stdin and stdout, stderr into `stderr`.
    pub fn spawn(cmd: &mut Command, stderr: &Path) -> Bg {
        let err = fs::File::create(stderr).unwrap();
        cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(err);
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("spawning {cmd:?}: {e}"));
        Bg { child: Some(child) }
    }

    /// Spawns `cmd` with stdout into `stdout` and stderr into `stderr`.
    pub fn spawn_to(cmd: &mut Command, stdout: &Path, stderr: &Path) -> Bg {
        let out = fs::File::create(stdout).unwrap();
        let err = fs::File::create(stderr).unwrap();
        cmd.stdin(Stdio::null()).stdout(out).stderr(err);
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("spawning {cmd:?}: {e}"));
        Bg { child: Some(child) }
    }

    /// The process id (of `ip netns exec`, which execs the program).
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// Whether it has exited, and with what code.
    pub fn try_wait(&mut self) -> Option<Option<i32>> {
        self.child
            .as_mut()
            .and_then(|c| c.try_wait().ok().flatten())
            .map(|s| s.code())
    }

    /// Sends SIGTERM and waits up to 60 s; returns the exit code. A daemon
    /// with BPF programs to detach and a journal to close needs well under a
    /// second on a quiet machine, but CI once saw one take more than 5 s at
    /// load 39 with ten other daemons starting and stopping beside it (a
    /// process that exits at once costs no more). How quickly SIGTERM is
    /// obeyed is tested on its own (`cli.rs`, `sockets_cli.rs`), not here.
    /// Only for processes that stop on SIGTERM and not by themselves: a
    /// helper about to exit by itself may die of the signal instead
    /// (status `None`); wait for its exit with [`Bg::try_wait`] instead.
    pub fn stop(&mut self) -> Option<i32> {
        self.stop_within(Duration::from_secs(60))
    }

    /// Sends SIGTERM and waits up to `wait`; returns the exit code.
    pub fn stop_within(&mut self, wait: Duration) -> Option<i32> {
        let mut child = self.child.take()?;
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        let end = Instant::now() + wait;
        loop {
            if let Ok(Some(st)) = child.try_wait() {
                return st.code();
            }
            if Instant::now() > end {
                let _ = child.kill();
                let _ = child.wait();
                panic!("process {} ignored SIGTERM for {wait:?}", child.id());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Bg {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// `inetmon ipmon -t -f LIVE OUT` (TZ=UTC) in the background; returns it,
/// `OUT` and its stderr file, both in `dir`.
pub fn follow_ipmon(dir: &Path, live: &Path) -> (Bg, PathBuf, PathBuf) {
    let out = dir.join("out.txt");
    let err = dir.join("err.txt");
    let mon = Bg::spawn(
        Command::new(inetmon())
            .args(["ipmon", "-t", "-f"])
            .arg(live)
            .arg(&out)
            .env("TZ", "UTC"),
        &err,
    );
    (mon, out, err)
}

/// Appends `bytes` to the file at `path`.
pub fn append(path: &Path, bytes: &[u8]) {
    let mut f = fs::OpenOptions::new().append(true).open(path).unwrap();
    std::io::Write::write_all(&mut f, bytes).unwrap();
}

/// Writes `text` to the ipmon.conf file `conf`, then runs
/// `inetmon ipmon -C CONF -f FILE` to completion.
pub fn ipmon_with_conf(conf: &Path, text: &str, file: &Path) -> Run {
    fs::write(conf, text).unwrap();
    inetmon_run(&[
        "ipmon",
        "-C",
        conf.to_str().unwrap(),
        "-f",
        file.to_str().unwrap(),
    ])
}

/// Runs `cmd`, an `inetmon ipmon` that sends to syslog, to its end: it
/// must exit 0 and write nothing to stdout. Returns its pid.
pub fn run_to_syslog(cmd: &mut Command) -> u32 {
    let child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let o = child.wait_with_output().unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(o.stdout, b"", "syslog mode writes nothing to stdout");
    pid
}

/// `tshark -r PCAP OPTIONS… -T fields -e FIELD…`'s output: a line per
/// packet, its fields separated by tabs. tshark must succeed.
pub fn tshark_fields(pcap: &str, options: &[&str], fields: &[&str]) -> String {
    let mut args = vec!["-r", pcap];
    args.extend_from_slice(options);
    args.extend(["-T", "fields"]);
    for f in fields {
        args.extend(["-e", f]);
    }
    let r = run(Command::new("tshark").args(&args), Duration::from_secs(60));
    assert_eq!(r.code, Some(0), "tshark: {}", r.stderr);
    r.stdout
}

/// Sends `sig` to `pid` and waits (up to 60 s) until no thread of it has
/// the signal pending any more: its handler ran (inetmon's set a flag that
/// the next record acts on). A fixed pause between the signal and the
/// record that must see it was not always enough on a loaded machine.
pub fn signal_and_wait_taken(pid: u32, sig: i32) {
    // SAFETY: kill(2) on a process of the test's own.
    let rc = unsafe { libc::kill(i32::try_from(pid).unwrap(), sig) };
    assert_eq!(rc, 0, "kill {pid}: {}", std::io::Error::last_os_error());
    let bit = 1u64 << (sig - 1);
    let pending = |status: &str| {
        status.lines().any(|l| {
            (l.starts_with("SigPnd:") || l.starts_with("ShdPnd:"))
                && u64::from_str_radix(l[7..].trim(), 16).is_ok_and(|m| m & bit != 0)
        })
    };
    let taken = wait_for(Duration::from_secs(60), || {
        let tasks = fs::read_dir(format!("/proc/{pid}/task")).ok()?;
        let any = tasks
            .flatten()
            .any(|t| fs::read_to_string(t.path().join("status")).is_ok_and(|s| pending(&s)));
        (!any).then_some(())
    });
    assert!(taken.is_some(), "signal {sig} still pending in {pid}");
}

/// The lines of a file (empty when it does not exist yet).
pub fn lines_of(path: &Path) -> Vec<String> {
    fs::read_to_string(path)
        .map(|s| s.lines().map(str::to_owned).collect())
        .unwrap_or_default()
}

/// Waits until a line of `path` contains `needle`; panics after `timeout`
/// with the file's contents and `stderr`.
pub fn wait_for_line(path: &Path, needle: &str, timeout: Duration, stderr: &Path) -> Vec<String> {
    wait_for(timeout, || {
        let lines = lines_of(path);
        lines.iter().any(|l| l.contains(needle)).then_some(lines)
    })
    .unwrap_or_else(|| {
        panic!(
            "no line containing {needle:?} in {} within {timeout:?}\n--- output:\n{}\n--- stderr:\n{}",
            path.display(),
            fs::read_to_string(path).unwrap_or_default(),
            fs::read_to_string(stderr).unwrap_or_default()
        )
    })
}

/// An ipmon line without its `DD/MM/YYYY HH:MM:SS.uuuuuu ` prefix; panics
/// when the prefix is not there.
pub fn strip_time(line: &str) -> &str {
    let b = line.as_bytes();
    let ok = b.len() > 27
        && b[2] == b'/'
        && b[5] == b'/'
        && b[10] == b' '
        && b[13] == b':'
        && b[16] == b':'
        && b[19] == b'.'
        && b[26] == b' '
        && [
            0, 1, 3, 4, 6, 7, 8, 9, 11, 12, 14, 15, 17, 18, 20, 21, 22, 23, 24, 25,
        ]
        .iter()
        .all(|&i| b[i].is_ascii_digit());
    assert!(ok, "not an ipmon line with a date and time: {line:?}");
    &line[27..]
}

/// The fields of an ipmon packet line that tcpdump also shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PacketFields {
    /// Source address.
    pub src: String,
    /// Source port (TCP/UDP).
    pub sport: Option<u16>,
    /// Destination address.
    pub dst: String,
    /// Destination port (TCP/UDP).
    pub dport: Option<u16>,
    /// Protocol name as ipmon prints it after `PR`.
    pub proto: String,
    /// IP total length (IPv6: 40 + payload length).
    pub len: u32,
    /// TCP flag letters in ipmon order (`ARSFUPEC`), for TCP.
    pub tcp_flags: Option<String>,
}

/// Parses the packet part of an ipmon line (time already stripped):
/// `IF @G:R ACT SRC[,P] -> DST[,P] PR PROTO len HL LEN [-FLAGS] …`.
pub fn parse_ipmon_packet(line: &str) -> Option<PacketFields> {
    let t: Vec<&str> = line.split_whitespace().collect();
    // An optional `Nx` repeat count comes before the interface.
    let t = if t
        .first()
        .is_some_and(|s| s.ends_with('x') && s[..s.len() - 1].parse::<u32>().is_ok())
    {
        &t[1..]
    } else {
        &t[..]
    };
    if t.len() < 11 || !t[1].starts_with('@') || t[4] != "->" || t[6] != "PR" || t[8] != "len" {
        return None;
    }
    let split = |s: &str| match s.rsplit_once(',') {
        Some((a, p)) => (a.to_owned(), p.parse().ok()),
        None => (s.to_owned(), None),
    };
    let (src, sport) = split(t[3]);
    let (dst, dport) = split(t[5]);
    let len = t[10].trim_matches(|c| c == '(' || c == ')').parse().ok()?;
    let tcp_flags = (t[7] == "tcp").then(|| {
        t.get(11)
            .and_then(|f| f.strip_prefix('-'))
            .unwrap_or("")
            .to_owned()
    });
    Some(PacketFields {
        src,
        sport,
        dst,
        dport,
        proto: t[7].to_owned(),
        len,
        tcp_flags,
    })
}

/// Parses `tcpdump -nn -v -r FILE` output into the same fields, one per
/// packet, in order.
pub fn parse_tcpdump_v(text: &str) -> Vec<PacketFields> {
    // Group the continuation lines (indented) with their packet's first line.
    let mut blocks: Vec<String> = Vec::new();
    for line in text.lines() {
        if line.starts_with(|c: char| c.is_ascii_digit()) {
            blocks.push(line.to_owned());
        } else if let Some(last) = blocks.last_mut() {
            last.push(' ');
            last.push_str(line.trim());
        }
    }
    blocks
        .iter()
        .map(|b| {
            parse_tcpdump_block(b).unwrap_or_else(|| panic!("cannot parse tcpdump output: {b}"))
        })
        .collect()
}

fn parse_tcpdump_block(b: &str) -> Option<PacketFields> {
    let (proto_name, len, rest) = if let Some(i) = b.find(" IP (") {
        let head = &b[i..];
        let proto = head
            .split("proto ")
            .nth(1)?
            .split_whitespace()
            .next()?
            .to_ascii_lowercase();
        let len: u32 = head
            .split(", length ")
            .nth(1)?
            .split(')')
            .next()?
            .parse()
            .ok()?;
        let rest = head.split_once(&format!(", length {len}) "))?.1;
        (proto, len, rest)
    } else if let Some(i) = b.find(" IP6 (") {
        let head = &b[i..];
        let proto = head
            .split("next-header ")
            .nth(1)?
            .split_whitespace()
            .next()?
            .to_ascii_lowercase();
        let plen: u32 = head
            .split("payload length: ")
            .nth(1)?
            .split(')')
            .next()?
            .parse()
            .ok()?;
        let rest = head.split_once(&format!("payload length: {plen}) "))?.1;
        (proto, 40 + plen, rest)
    } else {
        return None;
    };
    let mut words = rest.split_whitespace();
    let src = words.next()?;
    if words.next()? != ">" {
        return None;
    }
    let dst = words.next()?.trim_end_matches(':');
    let ported = proto_name == "tcp" || proto_name == "udp";
    let split = |s: &str| {
        if ported {
            let (a, p) = s.rsplit_once('.')?;
            Some((a.to_owned(), Some(p.parse().ok()?)))
        } else {
            Some((s.to_owned(), None))
        }
    };
    let (src, sport) = split(src)?;
    let (dst, dport) = split(dst)?;
    let proto = match proto_name.as_str() {
        "icmpv6" => "icmpv6".to_owned(),
        other => other.to_owned(),
    };
    let tcp_flags = (proto == "tcp").then(|| {
        let f = rest
            .split("Flags [")
            .nth(1)
            .and_then(|s| s.split(']').next())
            .unwrap_or("");
        tcpdump_flags_to_ipmon(f)
    });
    Some(PacketFields {
        src,
        sport,
        dst,
        dport,
        proto,
        len,
        tcp_flags,
    })
}

/// tcpdump's flag letters (`S`, `P.`, `R.`, `.` for ACK, `E`, `W`, `U`,
/// `F`) in ipmon's order `ARSFUPEC`.
pub fn tcpdump_flags_to_ipmon(f: &str) -> String {
    let has = |c: char| f.contains(c);
    let mut out = String::new();
    for (ipmon, td) in [
        ('A', '.'),
        ('R', 'R'),
        ('S', 'S'),
        ('F', 'F'),
        ('U', 'U'),
        ('P', 'P'),
        ('E', 'E'),
        ('C', 'W'),
    ] {
        if has(td) {
            out.push(ipmon);
        }
    }
    out
}

/// Copies the packets of the capture `from` to an IP Filter binary log
/// `dir/name` (`ipmon -f FROM -B LOG /dev/null`) and returns the log's path
/// and its records, in order.
pub fn iplog_copy(from: &Path, dir: &Path, name: &str) -> (PathBuf, Vec<Vec<u8>>) {
    let bin = dir.join(name);
    let r = inetmon_run(&[
        "ipmon",
        "-f",
        from.to_str().unwrap(),
        "-B",
        bin.to_str().unwrap(),
        "/dev/null",
    ]);
    assert_eq!(r.code, Some(0), "{r:?}");
    let bytes = fs::read(&bin).unwrap();
    let mut records = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        let n = inetmon_core::decode::iplog::record_size(&bytes[at..]).unwrap();
        records.push(bytes[at..at + n].to_vec());
        at += n;
    }
    (bin, records)
}

/// Splits a pcap file into its 24-byte global header and its records
/// (16-byte record header included), for building growing files in tests.
pub fn pcap_split(bytes: &[u8]) -> (Vec<u8>, Vec<Vec<u8>>) {
    let header = bytes[..24].to_vec();
    let little = bytes[..4] == [0xd4, 0xc3, 0xb2, 0xa1] || bytes[..4] == [0x4d, 0x3c, 0xb2, 0xa1];
    let mut records = Vec::new();
    let mut off = 24;
    while off + 16 <= bytes.len() {
        let f: [u8; 4] = bytes[off + 8..off + 12].try_into().unwrap();
        let caplen = if little {
            u32::from_le_bytes(f)
        } else {
            u32::from_be_bytes(f)
        } as usize;
        records.push(bytes[off..off + 16 + caplen].to_vec());
        off += 16 + caplen;
    }
    (header, records)
}

/// How long a process whose output is blocked may take to exit after
/// SIGTERM in [`sigterm_with_stuck_output`]'s tests. On a quiet machine it
/// takes well under a second (the README's promise); a loaded 2-core CI VM
/// may not run it, or finish detaching its BPF programs (an RCU grace
/// period each), for a few seconds. The failure these tests catch, waiting
/// on the blocked write, never ends (the process is killed after 10 s).
pub const SIGTERM_EXIT_LIMIT: Duration = Duration::from_secs(5);

/// Starts `cmd` with its standard output a pipe that nobody reads and its
/// standard error into `stderr`; `load` makes it write (more than a pipe
/// holds); then, once the pipe is full (the process blocked on its
/// output), sends SIGTERM. Returns how long the process took to exit after
/// the signal and its exit code (it is killed after 10 s: `None` then).
pub fn sigterm_with_stuck_output(
    cmd: &mut Command,
    stderr: &Path,
    load: impl FnOnce(),
) -> (Duration, Option<i32>) {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(fs::File::create(stderr).unwrap())
        .spawn()
        .unwrap();
    // Held open and never read: the pipe fills and stays full.
    let stuck = child.stdout.take().unwrap();
    load();
    // Full: at most a page short of its capacity (a write that does not
    // fit in what is left blocks). A fixed pause was not always enough on
    // a loaded machine: the signal then came before the output blocked.
    // SAFETY: F_GETPIPE_SZ on the pipe's read end, which we hold.
    let capacity = unsafe { libc::fcntl(stuck.as_raw_fd(), libc::F_GETPIPE_SZ) };
    assert!(capacity > 0, "F_GETPIPE_SZ");
    let queued = || {
        let mut n: libc::c_int = 0;
        // SAFETY: FIONREAD writes one int.
        unsafe { libc::ioctl(stuck.as_raw_fd(), libc::FIONREAD, &raw mut n) };
        n
    };
    let full = wait_for(Duration::from_secs(120), || {
        (queued() >= capacity - 4096 || child.try_wait().unwrap().is_some()).then_some(())
    });
    assert!(
        full.is_some() && child.try_wait().unwrap().is_none(),
        "ended, or did not fill its output ({} of {capacity} bytes), before the signal: {}",
        queued(),
        fs::read_to_string(stderr).unwrap_or_default()
    );
    let pid = i32::try_from(child.id()).unwrap();
    let t0 = Instant::now();
    // SAFETY: kill(2) on our own child.
    unsafe { libc::kill(pid, libc::SIGTERM) };
    let status = wait_for(Duration::from_secs(10), || child.try_wait().unwrap());
    let took = t0.elapsed();
    if status.is_none() {
        let _ = child.kill();
        let _ = child.wait();
    }
    (took, status.and_then(|s| s.code()))
}

/// Makes `n` TCP connections over loopback (socket events to report).
pub fn loopback_connections(n: usize) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    for _ in 0..n {
        let c = std::net::TcpStream::connect(addr).unwrap();
        let (s, _) = listener.accept().unwrap();
        drop((c, s));
    }
}

/// An `inetmon daemon` started with a configuration of its own: its clients'
/// socket in a fresh root-owned directory under `/run` (which uid 65534 can
/// reach), its journal in a temporary directory. Stopped (SIGTERM) on drop.
pub struct Daemon {
    /// The clients' socket (`INETMON_SOCKET` for the clients).
    pub socket: PathBuf,
    /// Its standard error (its log lines).
    pub log: PathBuf,
    dir: tempfile::TempDir,
    bg: Option<Bg>,
}

impl Daemon {
    /// Starts the daemon with `extra` TOML appended to the configuration
    /// (tables such as `[nflog]`, or `[sockets.filters] port = N`, which
    /// the daemon applies in the kernel, so that the whole machine's
    /// socket traffic does not compete with a test's) and waits for its
    /// `running:` line.
    pub fn start(tag: &str, extra: &str) -> Daemon {
        let dir = tempfile::tempdir().unwrap();
        let run_dir = PathBuf::from(format!("/run/inetmon-t-{}-{tag}", std::process::id()));
        let _ = fs::remove_dir_all(&run_dir);
        let socket = run_dir.join("inetmon.sock");
        let config = dir.path().join("inetmon.toml");
        write_daemon_config(&config, dir.path(), &socket, extra);
        let log = dir.path().join("daemon.log");
        let bg = Bg::spawn(
            Command::new(inetmon())
                .args(["daemon", "--config"])
                .arg(&config),
            &log,
        );
        // Loading the BPF programs on a loaded machine can take a while.
        wait_for_line(&log, "running:", Duration::from_secs(120), &log);
        Daemon {
            socket,
            log,
            dir,
            bg: Some(bg),
        }
    }

    /// A file in the daemon's temporary directory (for clients' output).
    pub fn file(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Rewrites the configuration with `extra` in place of what
    /// [`Daemon::start`] was given, sends SIGHUP and waits for the
    /// restarted run's `running:` line (the `n`th of the log).
    pub fn reload(&self, extra: &str, n: usize) {
        let config = self.dir.path().join("inetmon.toml");
        write_daemon_config(&config, self.dir.path(), &self.socket, extra);
        let pid = self.bg.as_ref().unwrap().pid();
        must(Command::new("kill").args(["-HUP", &pid.to_string()]));
        wait_for(Duration::from_secs(120), || {
            let running = lines_of(&self.log)
                .iter()
                .filter(|l| l.contains("running:"))
                .count();
            (running >= n).then_some(())
        })
        .unwrap_or_else(|| panic!("no {n}th running: line: {:?}", lines_of(&self.log)));
    }

    /// `inetmon ARGS…` as a client of this daemon (`INETMON_SOCKET`,
    /// `TZ=UTC`).
    pub fn client(&self, args: &[&str]) -> Command {
        let mut c = Command::new(inetmon());
        c.args(args)
            .env("INETMON_SOCKET", &self.socket)
            .env("TZ", "UTC");
        c
    }
}

/// A test daemon's configuration: its own state directory and socket,
/// no fsync (tests do not crash the machine), then `extra`.
fn write_daemon_config(config: &Path, dir: &Path, socket: &Path, extra: &str) {
    fs::write(
        config,
        format!(
            "state_dir = \"{}\"\nsocket = \"{}\"\n[journal]\nsync = \"never\"\n{extra}",
            dir.join("state").display(),
            socket.display()
        ),
    )
    .unwrap();
}

impl Drop for Daemon {
    /// SIGTERM, then up to 60 s for the daemon to drain what it collected
    /// into its journal (on a loaded machine that takes a while), then
    /// SIGKILL.
    fn drop(&mut self) {
        if let Some(mut bg) = self.bg.take() {
            let _ = Command::new("kill")
                .args(["-TERM", &bg.pid().to_string()])
                .status();
            let _ = wait_for(Duration::from_secs(60), || bg.try_wait());
        }
        if let Some(d) = self.socket.parent() {
            let _ = fs::remove_dir_all(d);
        }
    }
}
