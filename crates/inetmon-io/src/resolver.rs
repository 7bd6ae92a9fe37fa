//! Reverse DNS for `ipmon -n` that never holds up the event path for long,
//! and the `/etc/protocols` / `/etc/services` readers.
//!
//! [`CachingResolver`] answers from a bounded cache (names and "no name"
//! answers both cached). A miss queues the address for a small pool of
//! lookup threads (`getnameinfo` via `dns-lookup`, so `/etc/hosts`, DNS and
//! other NSS sources apply as for tcpdump) and waits at most a short
//! deadline; if the answer is not there by then the caller prints the number,
//! and the answer is cached for later events. Concurrent misses for the same
//! address share one lookup.

use std::collections::{HashMap, HashSet, VecDeque};
use std::io;
use std::net::IpAddr;
use std::path::Path;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use inetmon_core::names::HostResolver;

/// Default wait for an uncached lookup before printing the number.
pub const DEFAULT_WAIT: Duration = Duration::from_millis(100);
/// Default number of cached addresses.
pub const DEFAULT_CAPACITY: usize = 4096;
/// How long a found name is kept.
const POSITIVE_TTL: Duration = Duration::from_secs(3600);
/// How long "no name" is kept.
const NEGATIVE_TTL: Duration = Duration::from_secs(300);
/// Lookup threads.
const WORKERS: usize = 2;

/// A reverse lookup: the name of an address, `None` when it has none.
pub type LookupFn = fn(IpAddr) -> Option<String>;

/// The system's reverse lookup (`getnameinfo` with `NI_NAMEREQD` semantics:
/// a purely numeric answer counts as no name).
#[must_use]
pub fn system_lookup(addr: IpAddr) -> Option<String> {
    let name = dns_lookup::lookup_addr(&addr).ok()?;
    (name != addr.to_string()).then_some(name)
}

/// Settings of a [`CachingResolver`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResolverConfig {
    /// How long `host_name` waits for an uncached answer.
    pub wait: Duration,
    /// Most addresses cached (oldest entries are evicted first).
    pub capacity: usize,
}

impl Default for ResolverConfig {
    fn default() -> Self {
        ResolverConfig {
            wait: DEFAULT_WAIT,
            capacity: DEFAULT_CAPACITY,
        }
    }
}

#[derive(Debug)]
struct Entry {
    name: Option<String>,
    expires: Instant,
}

#[derive(Debug, Default)]
struct State {
    cache: HashMap<IpAddr, Entry>,
    /// Insertion order, for eviction.
    order: VecDeque<IpAddr>,
    in_flight: HashSet<IpAddr>,
    queue: VecDeque<IpAddr>,
    stop: bool,
}

#[derive(Debug)]
struct Shared {
    state: Mutex<State>,
    /// Signalled when work is queued or an answer arrives.
    changed: Condvar,
    lookup: LookupFn,
    capacity: usize,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A cached, deadline-bounded reverse resolver; see the module docs.
///
/// It starts threads, so create it after [`crate::daemon::daemonize`].
#[derive(Debug)]
pub struct CachingResolver {
    shared: Arc<Shared>,
    wait: Duration,
    workers: Vec<JoinHandle<()>>,
}

impl CachingResolver {
    /// A resolver using the system lookup.
    ///
    /// # Errors
    /// When a lookup thread cannot be started.
    pub fn new(cfg: ResolverConfig) -> io::Result<Self> {
        Self::with_lookup(cfg, system_lookup)
    }

    /// A resolver using `lookup` (for tests, or another backend).
    ///
    /// # Errors
    /// When a lookup thread cannot be started.
    pub fn with_lookup(cfg: ResolverConfig, lookup: LookupFn) -> io::Result<Self> {
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            changed: Condvar::new(),
            lookup,
            capacity: cfg.capacity.max(1),
        });
        let mut workers = Vec::new();
        for i in 0..WORKERS {
            let s = Arc::clone(&shared);
            workers.push(
                std::thread::Builder::new()
                    .name(format!("resolver-{i}"))
                    .spawn(move || worker(&s))?,
            );
        }
        Ok(CachingResolver {
            shared,
            wait: cfg.wait,
            workers,
        })
    }

    /// How many addresses are cached (including "no name" answers).
    #[must_use]
    pub fn cached(&self) -> usize {
        self.shared.lock().cache.len()
    }
}

fn worker(shared: &Shared) {
    loop {
        let addr = {
            let mut st = shared.lock();
            loop {
                if st.stop {
                    return;
                }
                if let Some(a) = st.queue.pop_front() {
                    break a;
                }
                st = shared
                    .changed
                    .wait(st)
                    .unwrap_or_else(PoisonError::into_inner);
            }
        };
        let name = (shared.lookup)(addr);
        let ttl = if name.is_some() {
            POSITIVE_TTL
        } else {
            NEGATIVE_TTL
        };
        let mut st = shared.lock();
        st.in_flight.remove(&addr);
        if st
            .cache
            .insert(
                addr,
                Entry {
                    name,
                    expires: Instant::now() + ttl,
                },
            )
            .is_none()
        {
            st.order.push_back(addr);
        }
        while st.cache.len() > shared.capacity {
            let Some(old) = st.order.pop_front() else {
                break;
            };
            st.cache.remove(&old);
        }
        drop(st);
        shared.changed.notify_all();
    }
}

impl HostResolver for CachingResolver {
    fn host_name(&self, addr: IpAddr) -> Option<String> {
        let deadline = Instant::now() + self.wait;
        let mut st = self.shared.lock();
        match st.cache.get(&addr) {
            Some(e) if e.expires > Instant::now() => return e.name.clone(),
            Some(_) => {
                st.cache.remove(&addr);
                st.order.retain(|a| *a != addr);
            }
            None => {}
        }
        if st.in_flight.insert(addr) {
            st.queue.push_back(addr);
            self.shared.changed.notify_all();
        }
        loop {
            if let Some(e) = st.cache.get(&addr) {
                return e.name.clone();
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return None;
            }
            st = self
                .shared
                .changed
                .wait_timeout(st, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }
}

impl Drop for CachingResolver {
    fn drop(&mut self) {
        self.shared.lock().stop = true;
        self.shared.changed.notify_all();
        // A worker stuck in a slow lookup is left to finish on its own.
        for w in self.workers.drain(..) {
            if w.is_finished() {
                let _ = w.join();
            }
        }
    }
}

/// The usual path of the protocol table.
pub const ETC_PROTOCOLS: &str = "/etc/protocols";
/// The usual path of the service table.
pub const ETC_SERVICES: &str = "/etc/services";

/// Reads a table file such as `/etc/services` for core's parsers; `None`
/// when it does not exist (minimal containers: core falls back to its
/// built-in table).
///
/// # Errors
/// Other read errors.
pub fn read_table(path: impl AsRef<Path>) -> io::Result<Option<String>> {
    match std::fs::read(path) {
        Ok(b) => Ok(Some(String::from_utf8_lossy(&b).into_owned())),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// `/etc/protocols`, if present.
///
/// # Errors
/// Read errors other than absence.
pub fn read_protocols() -> io::Result<Option<String>> {
    read_table(ETC_PROTOCOLS)
}

/// `/etc/services`, if present.
///
/// # Errors
/// Read errors other than absence.
pub fn read_services() -> io::Result<Option<String>> {
    read_table(ETC_SERVICES)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;
    use std::sync::atomic::{AtomicUsize, Ordering};

    static SLOW_CALLS: AtomicUsize = AtomicUsize::new(0);

    fn slow(addr: IpAddr) -> Option<String> {
        SLOW_CALLS.fetch_add(1, Ordering::SeqCst);
        std::thread::sleep(Duration::from_millis(300));
        match addr {
            IpAddr::V4(a) if a.octets()[3] == 1 => Some(format!("host-{a}")),
            _ => None,
        }
    }

    #[test]
    fn deadline_then_cached_and_deduplicated() {
        let cfg = ResolverConfig {
            wait: Duration::from_millis(50),
            capacity: 2,
        };
        let r = Arc::new(CachingResolver::with_lookup(cfg, slow).unwrap());
        let a = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1));
        let t = Instant::now();
        // Four callers at once: all time out, one lookup runs.
        let hs: Vec<_> = (0..4)
            .map(|_| {
                let r = Arc::clone(&r);
                std::thread::spawn(move || r.host_name(a))
            })
            .collect();
        for h in hs {
            assert_eq!(h.join().unwrap(), None);
        }
        assert!(t.elapsed() < Duration::from_millis(250));
        std::thread::sleep(Duration::from_millis(400));
        assert_eq!(SLOW_CALLS.load(Ordering::SeqCst), 1);
        assert_eq!(r.host_name(a).as_deref(), Some("host-10.0.0.1"));
        // Negative answers are cached too; capacity 2 evicts the oldest.
        let b = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2));
        let c = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 3));
        assert_eq!(r.host_name(b), None);
        assert_eq!(r.host_name(c), None);
        std::thread::sleep(Duration::from_millis(800));
        assert_eq!(r.cached(), 2);
        assert_eq!(SLOW_CALLS.load(Ordering::SeqCst), 3);
        assert_eq!(r.host_name(c), None);
        assert_eq!(SLOW_CALLS.load(Ordering::SeqCst), 3);
    }

    #[test]
    fn system_lookup_of_localhost() {
        // /etc/hosts names 127.0.0.1 on every system we run on.
        let r = CachingResolver::new(ResolverConfig {
            wait: Duration::from_secs(5),
            ..ResolverConfig::default()
        })
        .unwrap();
        let name = r.host_name(IpAddr::V4(Ipv4Addr::LOCALHOST));
        assert!(name.is_some_and(|n| !n.is_empty()));
    }

    #[test]
    fn tables() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(read_table(dir.path().join("missing")).unwrap(), None);
        std::fs::write(dir.path().join("s"), "ssh 22/tcp\n").unwrap();
        assert_eq!(
            read_table(dir.path().join("s")).unwrap().as_deref(),
            Some("ssh 22/tcp\n")
        );
    }
}
