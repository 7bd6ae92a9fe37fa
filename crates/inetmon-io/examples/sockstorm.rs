//! Loopback connect/accept/close storm for the `inetmon sockets` benchmark
//! (`bench/sockets-storm.sh`): `sockstorm [CONNECTIONS] [PORT]` opens
//! CONNECTIONS connections to 127.0.0.1:PORT one after another (server side
//! accepts and closes first) and prints `connections seconds rate cpu`,
//! cpu being the process's own CPU time (user + system, seconds) for the
//! connections: with a monitor attached, the hooks and programs run in
//! it, so it says what the monitor costs the storm whatever else the
//! machine is doing.
#![allow(clippy::print_stdout)]

use std::net::{TcpListener, TcpStream};
use std::time::Instant;

fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let n: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(100_000);
    let port: u16 = args.next().and_then(|a| a.parse().ok()).unwrap_or(47124);
    let l = TcpListener::bind(("127.0.0.1", port))?;
    let c0 = cpu_secs();
    let t = Instant::now();
    for _ in 0..n {
        let c = TcpStream::connect(("127.0.0.1", port))?;
        let (s, _) = l.accept()?;
        drop(s);
        drop(c);
    }
    let secs = t.elapsed().as_secs_f64();
    let cpu = cpu_secs() - c0;
    #[allow(clippy::cast_precision_loss)]
    let rate = n as f64 / secs;
    println!("{n} {secs:.3} {rate:.0} {cpu:.3}");
    Ok(())
}

/// User + system CPU time of this process so far, in seconds.
fn cpu_secs() -> f64 {
    // SAFETY: getrusage fills the zeroed struct it is given.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: a valid pointer to a rusage.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    #[allow(clippy::cast_precision_loss)]
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    tv(ru.ru_utime) + tv(ru.ru_stime)
}
