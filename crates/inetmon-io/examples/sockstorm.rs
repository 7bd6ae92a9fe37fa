//! Loopback connect/accept/close storm for the `inetmon sockets` benchmark
//! (`bench/sockets-storm.sh`): `sockstorm [CONNECTIONS] [PORT]` opens
//! CONNECTIONS connections to 127.0.0.1:PORT one after another (server side
//! accepts and closes first) and prints `connections seconds rate`.
#![allow(clippy::print_stdout)]

use std::net::{TcpListener, TcpStream};
use std::time::Instant;

fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let n: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(100_000);
    let port: u16 = args.next().and_then(|a| a.parse().ok()).unwrap_or(47124);
    let l = TcpListener::bind(("127.0.0.1", port))?;
    let t = Instant::now();
    for _ in 0..n {
        let c = TcpStream::connect(("127.0.0.1", port))?;
        let (s, _) = l.accept()?;
        drop(s);
        drop(c);
    }
    let secs = t.elapsed().as_secs_f64();
    #[allow(clippy::cast_precision_loss)]
    let rate = n as f64 / secs;
    println!("{n} {secs:.3} {rate:.0}");
    Ok(())
}
