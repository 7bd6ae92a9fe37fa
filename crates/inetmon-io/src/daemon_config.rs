//! The daemon's configuration file (`/etc/inetmon/inetmon.toml`): TOML
//! read with serde into [`RawConfig`] (every table and key optional, every
//! unknown key an error naming it), then validated into [`DaemonConfig`].
//!
//! Every key and its default (the README and `packaging/inetmon.toml`
//! document the same):
//!
//! | key | default | meaning |
//! |---|---|---|
//! | `state_dir` | `/var/lib/inetmon` | the journal's directory |
//! | `socket` | `/run/inetmon/inetmon.sock` | the clients' unix socket |
//! | `[journal] sync` | `"interval"` | `always`, `interval` or `never` (see [`SyncMode`]) |
//! | `[journal] sync_interval_ms` | `1000` | for `interval`: most time an unsynced commit waits (1–60000) |
//! | `[journal] max_age` | `"30d"` | delete older events; a duration `N` + `s`/`m`/`h`/`d`/`w`, `"0"` = keep |
//! | `[journal] max_size` | `"1GiB"` | delete the oldest events past this size; bytes with `KiB`/`MiB`/`GiB`/`TiB` (or `K`/`M`/`G`/`T`), `"0"` = no limit |
//! | `[sockets] enabled` | `true` | collect socket events |
//! | `[sockets] watch` | all monitors | AHAFS monitor names (`streamConnect`, …) to collect |
//! | `[sockets] compat` | `false` | also see 32-bit (ia32) bind, listen, accept and connect, as `inetmon sockets --compat` (a cost on every system call of the machine) |
//! | `[sockets.filters] pid`, `uid`, `comm`, `port`, `cgroup`, `addr` | none | as `inetmon sockets --pid …` |
//! | `[nflog] groups` | `[]` | NFLOG groups to read (0–65535) |
//! | `[conntrack] enabled` | `false` | collect conntrack NAT and state events |
//! | `[drops] enabled` | `false` | count kernel drops per second by reason, location and interface |
//! | `[drops] per_drop` | `false` | also store every drop as an event |
//! | `[aha] mountpoint` | `""` | where to mount the AHAFS file interface; empty = off |
//! | `[metrics] listen` | `""` | address:port of the metrics listener (`/metrics`, the web view); empty = off |
//! | `[syslog] target` | `""` | send every event (its JSON line) to a syslog server: `tcp://HOST[:PORT]` or `tls://HOST[:PORT]` (RFC 5424, octet counting); empty = off |
//! | `[syslog] ca_file` | system CAs | for `tls://`: PEM file of the CAs that may sign the server's certificate |
//! | `[syslog] buffer` | `10000` | messages held while the server is unreachable; more are dropped and counted |
//! | `[syslog] facility` | `"daemon"` | syslog facility of the messages |
//! | `[export.nats] url` | `""` | NATS server(s) to export the journal to (`nats://host:4222`, `tls://…`); empty = off |
//! | `[export.nats] stream` | `"INETMON"` | JetStream stream (created with subjects `inetmon.>` if missing) |
//! | `[export.nats] kinds` | all | event kinds to export (`sock`, `drop`, …, and `gap`) |
//! | `[export.nats] host` | the host name | this host in subjects `inetmon.<host>.<kind>` and message ids |
//! | `[export.nats] creds` | none | NATS credentials file (JWT + nkey seed) |
//! | `[export.nats] ca_file` | none | PEM CA certificates to trust; implies TLS |
//! | `[export.nats] window` | `1000` | publishes awaiting acknowledgement (1–4096) |

use std::path::{Path, PathBuf};
use std::time::Duration;

use inetmon_core::event::{EventKind, Monitor};
use serde::Deserialize;

use crate::export::{self, NatsExportConfig};

use crate::journal::{JournalConfig, SyncMode};
use inetmon_core::cidr::Cidr;

/// The default configuration file.
pub const DEFAULT_CONFIG_PATH: &str = "/etc/inetmon/inetmon.toml";

/// Why a configuration is rejected; the text is one line naming the file
/// and the key.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{path}: {error}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        error: std::io::Error,
    },
    /// TOML syntax, an unknown key, or a value of the wrong type.
    #[error("{path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The parser's message, in one line.
        message: String,
    },
    /// A value of the right type but not allowed.
    #[error("{path}: {key}: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// The key, `table.key`.
        key: &'static str,
        /// What is wrong.
        message: String,
    },
}

/// The file as written: every key optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    /// `state_dir`
    pub state_dir: Option<PathBuf>,
    /// `socket`
    pub socket: Option<PathBuf>,
    /// `[journal]`
    #[serde(default)]
    pub journal: RawJournal,
    /// `[sockets]`
    #[serde(default)]
    pub sockets: RawSockets,
    /// `[nflog]`
    #[serde(default)]
    pub nflog: RawNflog,
    /// `[conntrack]`
    #[serde(default)]
    pub conntrack: RawEnabled,
    /// `[drops]`
    #[serde(default)]
    pub drops: RawDrops,
    /// `[aha]`
    #[serde(default)]
    pub aha: RawAha,
    /// `[export]`
    #[serde(default)]
    pub export: RawExport,
    /// `[syslog]`
    #[serde(default)]
    pub syslog: RawSyslog,
    /// `[metrics]`
    #[serde(default)]
    pub metrics: RawMetrics,
}

/// `[metrics]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMetrics {
    /// `listen`: `127.0.0.1:9464`, `[::1]:9464`; empty = off.
    pub listen: Option<String>,
}

/// `[export]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawExport {
    /// `[export.nats]`
    pub nats: Option<RawNats>,
}

/// `[export.nats]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawNats {
    /// `url`
    pub url: Option<String>,
    /// `stream`
    pub stream: Option<String>,
    /// `kinds`
    pub kinds: Option<Vec<String>>,
    /// `host`
    pub host: Option<String>,
    /// `creds`
    pub creds: Option<PathBuf>,
    /// `ca_file`
    pub ca_file: Option<PathBuf>,
    /// `window`
    pub window: Option<usize>,
}

/// `[journal]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawJournal {
    /// `sync`
    pub sync: Option<SyncMode>,
    /// `sync_interval_ms`
    pub sync_interval_ms: Option<u64>,
    /// `max_age`
    pub max_age: Option<String>,
    /// `max_size`
    pub max_size: Option<String>,
}

/// `[sockets]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSockets {
    /// `enabled`
    pub enabled: Option<bool>,
    /// `watch`
    pub watch: Option<Vec<String>>,
    /// `compat`
    pub compat: Option<bool>,
    /// `[sockets.filters]`
    #[serde(default)]
    pub filters: RawSockFilters,
}

/// `[sockets.filters]`
#[derive(Debug, Default, Deserialize, Clone, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct RawSockFilters {
    /// Only this process id.
    pub pid: Option<u32>,
    /// Only this user id.
    pub uid: Option<u32>,
    /// Only this program name.
    pub comm: Option<String>,
    /// Only this local or foreign port.
    pub port: Option<u16>,
    /// Only tasks in this cgroup v2 directory.
    pub cgroup: Option<PathBuf>,
    /// Only events with an end in this address or CIDR.
    pub addr: Option<String>,
}

/// `[nflog]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawNflog {
    /// `groups`
    pub groups: Option<Vec<u16>>,
}

/// A table with only `enabled`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawEnabled {
    /// `enabled`
    pub enabled: Option<bool>,
}

/// `[drops]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDrops {
    /// `enabled`
    pub enabled: Option<bool>,
    /// `per_drop`
    pub per_drop: Option<bool>,
}

/// `[aha]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAha {
    /// `mountpoint`
    pub mountpoint: Option<PathBuf>,
}

/// `[syslog]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSyslog {
    /// `target`
    pub target: Option<String>,
    /// `ca_file`
    pub ca_file: Option<PathBuf>,
    /// `buffer`
    pub buffer: Option<usize>,
    /// `facility`
    pub facility: Option<String>,
}

/// The validated configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DaemonConfig {
    /// The journal's directory.
    pub state_dir: PathBuf,
    /// The clients' socket.
    pub socket: PathBuf,
    /// How the journal is written.
    pub journal: JournalConfig,
    /// Socket events, or `None` when disabled.
    pub sockets: Option<SocketsSection>,
    /// NFLOG groups to read (empty: none).
    pub nflog_groups: Vec<u16>,
    /// Collect conntrack events.
    pub conntrack: bool,
    /// Kernel drops, or `None` when disabled.
    pub drops: Option<DropsSection>,
    /// The AHAFS mount point, or `None` when off.
    pub aha_mountpoint: Option<PathBuf>,
    /// The metrics and web view listener, or `None` when off.
    pub metrics_listen: Option<std::net::SocketAddr>,
    /// Syslog over TCP/TLS, or `None` when off (`[syslog] target` empty).
    pub syslog: Option<crate::sink::NetSyslogConfig>,
    /// Export to NATS JetStream, or `None` when off.
    pub export_nats: Option<NatsExportConfig>,
}

/// `[sockets]`, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SocketsSection {
    /// Monitors to collect (all when the key is absent).
    pub watch: Vec<Monitor>,
    /// Also attach the 32-bit compat syscall programs
    /// (`KernelFilters::compat`).
    pub compat: bool,
    /// Filters, as given (the `addr` value was checked to parse).
    pub filters: RawSockFilters,
}

/// `[drops]`, validated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DropsSection {
    /// Store every drop as an event, besides the per-second counters.
    pub per_drop: bool,
}

impl DaemonConfig {
    /// Reads and validates `path`.
    ///
    /// # Errors
    /// [`ConfigError`], one line naming the file and the key.
    pub fn load(path: &Path) -> Result<DaemonConfig, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|error| ConfigError::Read {
            path: path.to_path_buf(),
            error,
        })?;
        DaemonConfig::parse(&text, path)
    }

    /// Validates the TOML `text` (`path` only names it in errors).
    ///
    /// # Errors
    /// [`ConfigError`].
    pub fn parse(text: &str, path: &Path) -> Result<DaemonConfig, ConfigError> {
        let raw: RawConfig = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: path.to_path_buf(),
            message: one_line(&e, text),
        })?;
        let invalid = |key: &'static str, message: String| ConfigError::Invalid {
            path: path.to_path_buf(),
            key,
            message,
        };
        let absolute = |key: &'static str, p: PathBuf| {
            if p.is_absolute() {
                Ok(p)
            } else {
                Err(invalid(
                    key,
                    format!("{} is not an absolute path", p.display()),
                ))
            }
        };
        let state_dir = absolute(
            "state_dir",
            raw.state_dir.unwrap_or_else(|| "/var/lib/inetmon".into()),
        )?;
        let socket = absolute(
            "socket",
            raw.socket
                .unwrap_or_else(|| "/run/inetmon/inetmon.sock".into()),
        )?;
        let j = raw.journal;
        let interval = j.sync_interval_ms.unwrap_or(1000);
        if !(1..=60_000).contains(&interval) {
            return Err(invalid(
                "journal.sync_interval_ms",
                format!("{interval} is not in 1..=60000"),
            ));
        }
        let max_age = parse_duration(j.max_age.as_deref().unwrap_or("30d"))
            .map_err(|m| invalid("journal.max_age", m))?;
        let max_size = parse_size(j.max_size.as_deref().unwrap_or("1GiB"))
            .map_err(|m| invalid("journal.max_size", m))?;
        let journal = JournalConfig {
            sync: j.sync.unwrap_or_default(),
            sync_interval: Duration::from_millis(interval),
            max_age: (!max_age.is_zero()).then_some(max_age),
            max_size: (max_size != 0).then_some(max_size),
        };
        let s = raw.sockets;
        let sockets = if s.enabled.unwrap_or(true) {
            let watch = match s.watch {
                None => Monitor::ALL.to_vec(),
                Some(names) => names
                    .iter()
                    .map(|n| {
                        Monitor::from_name(n).ok_or_else(|| {
                            invalid("sockets.watch", format!("unknown monitor {n:?}"))
                        })
                    })
                    .collect::<Result<_, _>>()?,
            };
            if let Some(a) = &s.filters.addr {
                a.parse::<Cidr>()
                    .map_err(|e| invalid("sockets.filters.addr", e.to_string()))?;
            }
            if let Some(c) = &s.filters.cgroup {
                absolute("sockets.filters.cgroup", c.clone())?;
            }
            Some(SocketsSection {
                watch,
                compat: s.compat.unwrap_or(false),
                filters: s.filters,
            })
        } else {
            None
        };
        let aha_mountpoint = match raw.aha.mountpoint {
            Some(p) if p.as_os_str().is_empty() => None,
            Some(p) => Some(absolute("aha.mountpoint", p)?),
            None => None,
        };
        let metrics_listen = match raw.metrics.listen.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(a) => Some(a.parse().map_err(|_| {
                invalid(
                    "metrics.listen",
                    format!("{a:?} is not an address:port (127.0.0.1:9464, [::1]:9464)"),
                )
            })?),
        };
        let syslog = syslog_section(raw.syslog, &invalid, &absolute)?;
        let export_nats = match raw.export.nats {
            Some(n) => nats_section(n, &invalid, &absolute)?,
            None => None,
        };
        Ok(DaemonConfig {
            export_nats,
            state_dir,
            socket,
            journal,
            sockets,
            nflog_groups: raw.nflog.groups.unwrap_or_default(),
            conntrack: raw.conntrack.enabled.unwrap_or(false),
            drops: raw.drops.enabled.unwrap_or(false).then_some(DropsSection {
                per_drop: raw.drops.per_drop.unwrap_or(false),
            }),
            aha_mountpoint,
            metrics_listen,
            syslog,
        })
    }
}

/// `[syslog]` validated: `None` without a target.
fn syslog_section(
    raw: RawSyslog,
    invalid: &dyn Fn(&'static str, String) -> ConfigError,
    absolute: &dyn Fn(&'static str, PathBuf) -> Result<PathBuf, ConfigError>,
) -> Result<Option<crate::sink::NetSyslogConfig>, ConfigError> {
    use crate::sink::{facility_by_name, NetSyslogConfig, SyslogTarget};
    let target = match raw.target.as_deref() {
        None | Some("") => {
            if raw.ca_file.is_some() {
                return Err(invalid("syslog.ca_file", "needs syslog.target".into()));
            }
            return Ok(None);
        }
        Some(t) => SyslogTarget::parse(t).map_err(|e| invalid("syslog.target", e.to_string()))?,
    };
    let facility = facility_by_name(raw.facility.as_deref().unwrap_or("daemon"))
        .map_err(|e| invalid("syslog.facility", e.to_string()))?;
    let mut cfg = NetSyslogConfig::new(target, "inetmon", facility);
    if let Some(ca) = raw.ca_file {
        if !cfg.target.tls {
            return Err(invalid(
                "syslog.ca_file",
                format!("is for tls:// targets, not {}", cfg.target),
            ));
        }
        cfg.ca_file = Some(absolute("syslog.ca_file", ca)?);
    }
    if let Some(n) = raw.buffer {
        if n == 0 {
            return Err(invalid("syslog.buffer", "must be at least 1".into()));
        }
        cfg.capacity = n;
    }
    Ok(Some(cfg))
}

/// `[export.nats]`, validated; `None` when `url` is empty or absent.
fn nats_section(
    n: RawNats,
    invalid: &dyn Fn(&'static str, String) -> ConfigError,
    absolute: &dyn Fn(&'static str, PathBuf) -> Result<PathBuf, ConfigError>,
) -> Result<Option<NatsExportConfig>, ConfigError> {
    let url = n.url.unwrap_or_default();
    if url.trim().is_empty() {
        return Ok(None);
    }
    let mut cfg = NatsExportConfig::new(url.trim());
    if let Some(s) = n.stream {
        if !export::valid_stream(&s) {
            return Err(invalid(
                "export.nats.stream",
                format!("{s:?} is not a stream name (1-64 of A-Z a-z 0-9 - _)"),
            ));
        }
        cfg.stream = s;
    }
    if let Some(h) = n.host {
        if !export::valid_host(&h) {
            return Err(invalid(
                "export.nats.host",
                format!("{h:?} is not a host name for subjects (1-64 of A-Z a-z 0-9 - _)"),
            ));
        }
        cfg.host = h;
    }
    if let Some(kinds) = n.kinds {
        cfg.gaps = false;
        let mut list = Vec::new();
        for k in kinds {
            if k == export::GAP_KIND {
                cfg.gaps = true;
            } else {
                list.push(EventKind::from_name(&k).ok_or_else(|| {
                    invalid(
                        "export.nats.kinds",
                        format!("unknown kind {k:?}; known: packet, nat, state, sock, drop, trace, debug, lost, malformed, gap"),
                    )
                })?);
            }
        }
        if list.is_empty() && !cfg.gaps {
            return Err(invalid(
                "export.nats.kinds",
                "is empty: nothing would be exported".into(),
            ));
        }
        cfg.kinds = Some(list);
    }
    cfg.creds = n
        .creds
        .map(|p| absolute("export.nats.creds", p))
        .transpose()?;
    cfg.ca_file = n
        .ca_file
        .map(|p| absolute("export.nats.ca_file", p))
        .transpose()?;
    if let Some(w) = n.window {
        if !(1..=export::MAX_WINDOW).contains(&w) {
            return Err(invalid(
                "export.nats.window",
                format!("{w} is not in 1..={}", export::MAX_WINDOW),
            ));
        }
        cfg.window = w;
    }
    if cfg!(not(feature = "export-nats")) {
        return Err(invalid(
            "export.nats.url",
            "this inetmon was built without the export-nats feature".into(),
        ));
    }
    Ok(Some(cfg))
}

/// The TOML error in one line: the key it is about (`journal.sync`), its
/// message, and where (line).
fn one_line(e: &toml::de::Error, text: &str) -> String {
    let msg = e.message().trim().replace('\n', " ");
    let Some(span) = e.span() else {
        return msg;
    };
    let line = text
        .get(..span.start)
        .map_or(0, |t| t.matches('\n').count() + 1);
    match key_at(text, span.start) {
        Some(key) => format!("{key}: {msg} (line {line})"),
        None => format!("{msg} (line {line})"),
    }
}

/// The dotted key whose line holds byte `offset` of `text`: the table of
/// the last `[header]` before it and the key left of the line's `=`.
fn key_at(text: &str, offset: usize) -> Option<String> {
    let before = text.get(..offset)?;
    let start = before.rfind('\n').map_or(0, |i| i + 1);
    let end = text[start..].find('\n').map_or(text.len(), |i| start + i);
    let line = text[start..end].trim();
    let table = before[..start].lines().rev().find_map(|l| {
        let l = l.trim();
        l.strip_prefix('[')
            .and_then(|l| l.split(']').next())
            .map(|t| t.trim().to_owned())
    });
    if let Some(t) = line.strip_prefix('[') {
        // The error is about a table header itself.
        return t.split(']').next().map(|t| t.trim().to_owned());
    }
    let key = line.split('=').next()?.trim().trim_matches('"');
    if key.is_empty() || !line.contains('=') {
        return table;
    }
    Some(match table {
        Some(t) if !t.is_empty() => format!("{t}.{key}"),
        _ => key.to_owned(),
    })
}

/// `"0"`, `"90s"`, `"15m"`, `"12h"`, `"30d"`, `"2w"`.
fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    if s == "0" {
        return Ok(Duration::ZERO);
    }
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("{s:?} is not a duration (N followed by s, m, h, d or w)"))?;
    let secs = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 604_800,
        _ => {
            return Err(format!(
                "{s:?} is not a duration (N followed by s, m, h, d or w)"
            ))
        }
    };
    n.checked_mul(secs)
        .map(Duration::from_secs)
        .ok_or_else(|| format!("{s:?} is too large"))
}

/// `"0"`, `"4096"`, `"512MiB"`, `"1G"`.
fn parse_size(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let bad = || format!("{s:?} is not a size (bytes, or N followed by KiB, MiB, GiB or TiB)");
    let n: u64 = num.parse().map_err(|_| bad())?;
    let mult: u64 = match unit.trim() {
        "" | "B" => 1,
        "K" | "KiB" => 1 << 10,
        "M" | "MiB" => 1 << 20,
        "G" | "GiB" => 1 << 30,
        "T" | "TiB" => 1 << 40,
        _ => return Err(bad()),
    };
    n.checked_mul(mult)
        .ok_or_else(|| format!("{s:?} is too large"))
}

#[cfg(test)]
#[path = "daemon_config_tests.rs"]
mod tests;
