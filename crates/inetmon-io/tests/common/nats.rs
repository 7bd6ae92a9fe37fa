//! A real `nats-server -js` for the export tests (Debian `nats-server`),
//! on a free loopback port with its own store directory; and sample events
//! made from their stored JSON form. Also used by the binary's tests
//! (`#[path]`), so it depends on nothing but std and inetmon-core.
#![allow(dead_code, unreachable_pub, clippy::print_stdout)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use inetmon_core::event::{codec, Event};

/// A `nats-server` with JetStream, stopped on drop.
pub struct NatsServer {
    /// Its TCP port on 127.0.0.1.
    pub port: u16,
    addr: String,
    netns: Option<String>,
    store: PathBuf,
    log: PathBuf,
    child: Option<Child>,
}

/// Whether `nats-server` is installed.
pub fn have_nats_server() -> bool {
    Command::new("nats-server")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// The port lease of the shared helpers. This file is also included by a
/// bench, which has no `common` module: a second copy of `shared.rs` in
/// the tests that have one (the lease is per process either way: a lock
/// file).
#[path = "shared.rs"]
#[allow(dead_code, unreachable_pub, clippy::duplicate_mod)]
mod shared;

/// A port for the server, this process's own until it ends
/// ([`shared::lease_port`]): a port the kernel picks and that is closed
/// again may be given to another connection before the server binds it, or
/// while it is stopped to be restarted.
pub fn free_port() -> u16 {
    let lease = shared::lease_port();
    let port = lease.port;
    std::mem::forget(lease);
    port
}

impl NatsServer {
    /// Starts a server on 127.0.0.1, storing in `dir/nats-store` (logging
    /// to `dir/nats.log`), and waits until it is ready.
    pub fn start(dir: &Path) -> NatsServer {
        NatsServer::start_in(dir, None, "127.0.0.1")
    }

    /// Starts a server listening on `addr` inside network namespace
    /// `netns` (`None`: this one).
    pub fn start_in(dir: &Path, netns: Option<&str>, addr: &str) -> NatsServer {
        let mut s = NatsServer {
            port: free_port(),
            addr: addr.to_owned(),
            netns: netns.map(str::to_owned),
            store: dir.join("nats-store"),
            log: dir.join("nats.log"),
            child: None,
        };
        s.restart();
        s
    }

    /// `nats://ADDR:PORT` (`127.0.0.1` for a server on all addresses).
    pub fn url(&self) -> String {
        let addr = if self.addr == "0.0.0.0" {
            "127.0.0.1"
        } else {
            &self.addr
        };
        format!("nats://{addr}:{}", self.port)
    }

    /// Starts the server again (same port, same store) after [`stop`].
    ///
    /// [`stop`]: NatsServer::stop
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "already running");
        let port = self.port.to_string();
        let mut cmd = match &self.netns {
            Some(ns) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", ns, "nats-server"]);
                c
            }
            None => Command::new("nats-server"),
        };
        let _ = std::fs::remove_file(&self.log);
        let child = cmd
            .args(["-js", "-a", &self.addr, "-p", &port, "-sd"])
            .arg(&self.store)
            .arg("-l")
            .arg(&self.log)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nats-server starts");
        self.child = Some(child);
        let end = Instant::now() + Duration::from_secs(60);
        while !self.log_text().contains("Server is ready") {
            assert!(
                Instant::now() < end,
                "nats-server did not start: {}",
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Stops the server (SIGTERM, as a service manager stops it) and waits
    /// for it to exit.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let pid = i32::try_from(c.id()).expect("pid");
            // SAFETY: kill on our own child's pid.
            unsafe { libc::kill(pid, libc::SIGTERM) };
            let _ = c.wait();
        }
    }

    /// The server's process id (of `ip netns exec`, which execs it).
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// The server's log so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// A socket event (`connected`, uid `uid`, foreign port `port`) with
/// header sequence `seq` and time `secs`, from its stored JSON form.
pub fn sock_event(seq: u64, secs: i64, uid: u32, port: u16) -> Event {
    let json = format!(
        r#"{{"sock":{{"header":{{"time":{{"secs":{secs},"nanos":0}},"source":"sockets","seq":{seq}}},
        "op":"connected","task":{{"pid":{pid},"tid":{pid},"uid":{uid},"gid":{uid},"comm":"fleet-test"}},
        "attribution":"process","family":2,"sock_type":1,"protocol":6,
        "local":["10.9.0.1",{lport}],"foreign":["10.9.0.2",{port}],"mapped":false,
        "cgroup_id":1,"netns":1,"cookie":{seq},"errno":0,"initiator":null,
        "existing":false,"process":null}}}}"#,
        pid = 4000 + uid,
        lport = 30_000 + (seq % 30_000),
    );
    codec::decode(json.as_bytes()).expect("sample event decodes")
}

/// Now, in seconds since the epoch.
pub fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(0))
}
