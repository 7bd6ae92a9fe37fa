//! `inetmon-flood`: sends small UDP datagrams at a fixed rate with
//! `sendmmsg(2)`, for the live NFLOG benchmark (`bench/nflog-live.sh`).
//!
//! usage: `inetmon-flood ADDR:PORT RATE SECONDS [SIZE] [BATCH]`
//!
//! - `RATE` datagrams per second (0 = as fast as possible),
//! - `SECONDS` how long to send,
//! - `SIZE` UDP payload bytes (default 16; the first 8 hold a big-endian
//!   sequence number counted from 0),
//! - `BATCH` datagrams per `sendmmsg` call (default 32).
//!
//! Pacing: before each call the sender computes how many datagrams are due
//! since the start (`RATE × elapsed`) and sends at most `BATCH` of them; when
//! none are due it sleeps briefly (under 100 µs) or spins. So the rate is
//! exact on average, with bursts of at most `BATCH` datagrams. When the
//! sender cannot keep up the achieved rate printed at the end says so.
//!
//! Prints one line: `sent N datagrams in T s = R/s (errors E, calls C)`.
//!
//! Meant for loopback or addresses inside a private network namespace only.

use std::net::{SocketAddr, SocketAddrV4};
use std::process::ExitCode;
use std::time::{Duration, Instant};

struct Args {
    dst: SocketAddrV4,
    rate: u64,
    secs: f64,
    size: usize,
    batch: usize,
}

fn parse_args() -> Result<Args, String> {
    let a: Vec<String> = std::env::args().skip(1).collect();
    if a.len() < 3 || a.len() > 5 {
        return Err("usage: inetmon-flood ADDR:PORT RATE SECONDS [SIZE] [BATCH]".into());
    }
    let dst = match a[0].parse::<SocketAddr>() {
        Ok(SocketAddr::V4(v4)) => v4,
        _ => return Err(format!("bad IPv4 ADDR:PORT '{}'", a[0])),
    };
    let num = |i: usize, what: &str, default: u64| -> Result<u64, String> {
        a.get(i).map_or(Ok(default), |s| {
            s.parse().map_err(|_| format!("bad {what} '{s}'"))
        })
    };
    let secs: f64 = a[2]
        .parse()
        .map_err(|_| format!("bad SECONDS '{}'", a[2]))?;
    let size = num(3, "SIZE", 16)?.clamp(8, 1400) as usize;
    let batch = num(4, "BATCH", 32)?.clamp(1, 1024) as usize;
    Ok(Args {
        dst,
        rate: num(1, "RATE", 0)?,
        secs,
        size,
        batch,
    })
}

/// A connected UDP socket.
struct Udp(libc::c_int);

impl Udp {
    fn connect(dst: SocketAddrV4) -> std::io::Result<Self> {
        // SAFETY: plain socket(2) call; the result is checked.
        let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        let sock = Udp(fd);
        let sa = libc::sockaddr_in {
            sin_family: libc::AF_INET as libc::sa_family_t,
            sin_port: dst.port().to_be(),
            sin_addr: libc::in_addr {
                s_addr: u32::from_ne_bytes(dst.ip().octets()),
            },
            sin_zero: [0; 8],
        };
        // SAFETY: `sa` is a valid sockaddr_in of the size passed.
        let r = unsafe {
            libc::connect(
                fd,
                (&raw const sa).cast(),
                std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
            )
        };
        if r < 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(sock)
    }
}

impl Drop for Udp {
    fn drop(&mut self) {
        // SAFETY: we own the descriptor.
        unsafe { libc::close(self.0) };
    }
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("inetmon-flood: {e}");
            return ExitCode::from(2);
        }
    };
    let sock = match Udp::connect(args.dst) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("inetmon-flood: {}: {e}", args.dst);
            return ExitCode::FAILURE;
        }
    };
    let mut bufs = vec![vec![0u8; args.size]; args.batch];
    let mut iovs: Vec<libc::iovec> = bufs
        .iter_mut()
        .map(|b| libc::iovec {
            iov_base: b.as_mut_ptr().cast(),
            iov_len: b.len(),
        })
        .collect();
    // SAFETY: mmsghdr is plain data; all-zero is a valid value.
    let mut msgs: Vec<libc::mmsghdr> = (0..args.batch)
        .map(|_| unsafe { std::mem::zeroed() })
        .collect();
    for (m, iov) in msgs.iter_mut().zip(iovs.iter_mut()) {
        m.msg_hdr.msg_iov = iov;
        m.msg_hdr.msg_iovlen = 1;
    }
    let total = if args.rate == 0 {
        u64::MAX
    } else {
        (args.rate as f64 * args.secs) as u64
    };
    let deadline = Duration::from_secs_f64(args.secs);
    let start = Instant::now();
    let (mut sent, mut errors, mut calls) = (0u64, 0u64, 0u64);
    loop {
        let elapsed = start.elapsed();
        if sent >= total || elapsed >= deadline {
            break;
        }
        let due = if args.rate == 0 {
            args.batch as u64
        } else {
            let want = ((args.rate as u128 * elapsed.as_nanos()) / 1_000_000_000) as u64;
            want.min(total).saturating_sub(sent)
        };
        if due == 0 {
            // Next datagram is due in 1/rate s: sleep when that is long.
            if args.rate < 20_000 {
                std::thread::sleep(Duration::from_micros(50));
            } else {
                std::hint::spin_loop();
            }
            continue;
        }
        let n = due.min(args.batch as u64) as usize;
        for (i, b) in bufs.iter_mut().take(n).enumerate() {
            if let Some(head) = b.get_mut(..8) {
                head.copy_from_slice(&(sent + i as u64).to_be_bytes());
            }
        }
        // SAFETY: `msgs[..n]` point at `iovs`/`bufs`, which outlive the call
        // and are not moved; the socket is open.
        let r = unsafe { libc::sendmmsg(sock.0, msgs.as_mut_ptr(), n as libc::c_uint, 0) };
        calls += 1;
        if r < 0 {
            errors += 1;
            let e = std::io::Error::last_os_error();
            if e.raw_os_error() != Some(libc::ECONNREFUSED) && errors == 1 {
                eprintln!("inetmon-flood: sendmmsg: {e}");
            }
            // Count the datagram as attempted so pacing does not burst.
            sent += 1;
            continue;
        }
        sent += r as u64;
    }
    let t = start.elapsed().as_secs_f64();
    println!(
        "sent {sent} datagrams in {t:.3} s = {:.0}/s (errors {errors}, calls {calls})",
        sent as f64 / t
    );
    ExitCode::SUCCESS
}
