use super::*;

fn parse(text: &str) -> Result<DaemonConfig, String> {
    DaemonConfig::parse(text, Path::new("/etc/inetmon/inetmon.toml")).map_err(|e| e.to_string())
}

fn defaults() -> DaemonConfig {
    DaemonConfig {
        state_dir: "/var/lib/inetmon".into(),
        socket: "/run/inetmon/inetmon.sock".into(),
        journal: JournalConfig {
            sync: SyncMode::Interval,
            sync_interval: Duration::from_millis(1000),
            max_age: Some(Duration::from_secs(30 * 86_400)),
            max_size: Some(1 << 30),
        },
        sockets: Some(SocketsSection {
            watch: Monitor::ALL.to_vec(),
            compat: false,
            filters: RawSockFilters::default(),
        }),
        nflog_groups: Vec::new(),
        conntrack: false,
        drops: None,
        aha_mountpoint: None,
        metrics_listen: None,
        syslog: None,
        export_nats: None,
    }
}

#[test]
fn empty_file_gives_the_defaults() {
    assert_eq!(parse("").unwrap(), defaults());
}

#[test]
fn packaged_default_config_is_the_defaults() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../packaging/inetmon.toml");
    assert_eq!(DaemonConfig::load(&path).unwrap(), defaults());
}

#[test]
fn every_key() {
    let c = parse(
        r#"
state_dir = "/srv/inetmon"
socket = "/run/x.sock"
[journal]
sync = "always"
sync_interval_ms = 250
max_age = "12h"
max_size = "0"
[sockets]
enabled = true
watch = ["streamConnect", "streamListen"]
[sockets.filters]
pid = 1
uid = 1000
comm = "curl"
port = 443
cgroup = "/sys/fs/cgroup/system.slice"
addr = "10.0.0.0/8"
[nflog]
groups = [1, 65535]
[conntrack]
enabled = true
[drops]
enabled = true
per_drop = true
[aha]
mountpoint = "/aha"
[metrics]
listen = "[::1]:9464"
"#,
    )
    .unwrap();
    assert_eq!(c.state_dir, Path::new("/srv/inetmon"));
    assert_eq!(c.socket, Path::new("/run/x.sock"));
    assert_eq!(
        c.journal,
        JournalConfig {
            sync: SyncMode::Always,
            sync_interval: Duration::from_millis(250),
            max_age: Some(Duration::from_secs(12 * 3600)),
            max_size: None,
        }
    );
    let s = c.sockets.unwrap();
    assert_eq!(s.watch, [Monitor::StreamConnect, Monitor::StreamListen]);
    assert_eq!(s.filters.uid, Some(1000));
    assert_eq!(s.filters.addr.as_deref(), Some("10.0.0.0/8"));
    assert_eq!(c.nflog_groups, [1, 65535]);
    assert!(c.conntrack);
    assert_eq!(c.drops, Some(DropsSection { per_drop: true }));
    assert_eq!(c.aha_mountpoint.as_deref(), Some(Path::new("/aha")));
    assert_eq!(c.metrics_listen, Some("[::1]:9464".parse().unwrap()));
    let off =
        parse("[sockets]\nenabled = false\n[aha]\nmountpoint = \"\"\n[metrics]\nlisten = \"\"\n")
            .unwrap();
    assert_eq!(off.sockets, None);
    assert_eq!(off.aha_mountpoint, None);
    assert_eq!(off.metrics_listen, None);
}

#[test]
fn errors_are_one_line_naming_the_key() {
    let cases = [
        ("statedir = \"/x\"", "statedir: unknown field `statedir`"),
        (
            "[journal]\nsnyc = \"always\"",
            "journal.snyc: unknown field `snyc`",
        ),
        (
            "[sockets.filters]\nuser = 1",
            "sockets.filters.user: unknown field `user`",
        ),
        (
            "[journal]\nsync = \"sometimes\"",
            "journal.sync: unknown variant `sometimes`",
        ),
        (
            "[journal]\nsync_interval_ms = 0",
            "journal.sync_interval_ms: 0 is not in 1..=60000",
        ),
        (
            "[journal]\nmax_age = \"3 days\"",
            "journal.max_age: \"3 days\" is not a duration",
        ),
        (
            "[journal]\nmax_size = \"1PB\"",
            "journal.max_size: \"1PB\" is not a size",
        ),
        (
            "[sockets]\nwatch = [\"streamFoo\"]",
            "sockets.watch: unknown monitor \"streamFoo\"",
        ),
        (
            "[sockets.filters]\naddr = \"10.0.0.0/33\"",
            "sockets.filters.addr:",
        ),
        (
            "state_dir = \"relative\"",
            "state_dir: relative is not an absolute path",
        ),
        ("[nflog]\ngroups = [70000]", "nflog.groups: "),
        (
            "[conntrack]\nenabled = \"yes\"",
            "conntrack.enabled: invalid type",
        ),
        ("state_dir = ", "/etc/inetmon/inetmon.toml:"),
        (
            "[metrics]\nlisten = \"localhost\"",
            "metrics.listen: \"localhost\" is not an address:port",
        ),
    ];
    for (text, want) in cases {
        let e = parse(text).unwrap_err();
        assert!(e.contains(want), "{text:?}: {e}");
        assert!(!e.contains('\n'), "{text:?}: {e}");
        assert!(e.starts_with("/etc/inetmon/inetmon.toml: "), "{e}");
    }
}

#[test]
fn syslog_section() {
    let c = parse(
        "[syslog]\ntarget = \"tls://logs.example:6514\"\nca_file = \"/etc/inetmon/ca.pem\"\nbuffer = 500\nfacility = \"local5\"\n",
    )
    .unwrap();
    let s = c.syslog.unwrap();
    assert_eq!(s.target.to_string(), "tls://logs.example:6514");
    assert_eq!(s.ca_file.as_deref(), Some(Path::new("/etc/inetmon/ca.pem")));
    assert_eq!(
        (s.capacity, s.facility.code(), s.ident.as_str()),
        (500, 21, "inetmon")
    );
    let s = parse("[syslog]\ntarget = \"tcp://127.0.0.1\"\n")
        .unwrap()
        .syslog
        .unwrap();
    assert_eq!(
        (s.target.port, s.capacity, s.facility.code()),
        (514, 10_000, 3)
    );
    assert_eq!(parse("[syslog]\ntarget = \"\"\n").unwrap().syslog, None);
    for (text, want) in [
        (
            "[syslog]\ntarget = \"udp://x\"",
            "syslog.target: bad syslog target 'udp://x'",
        ),
        (
            "[syslog]\ntarget = \"tcp://x\"\nca_file = \"/ca.pem\"",
            "syslog.ca_file: is for tls:// targets",
        ),
        (
            "[syslog]\ntarget = \"tls://x\"\nca_file = \"ca.pem\"",
            "syslog.ca_file: ca.pem is not an absolute path",
        ),
        (
            "[syslog]\nca_file = \"/ca.pem\"",
            "syslog.ca_file: needs syslog.target",
        ),
        (
            "[syslog]\ntarget = \"tcp://x\"\nbuffer = 0",
            "syslog.buffer: must be at least 1",
        ),
        (
            "[syslog]\ntarget = \"tcp://x\"\nfacility = \"nope\"",
            "syslog.facility: Unknown syslog facility 'nope'",
        ),
        ("[syslog]\nport = 1", "unknown field `port`"),
    ] {
        let e = parse(text).unwrap_err();
        assert!(e.contains(want), "{text:?}: {e}");
    }
}

#[test]
fn export_nats_keys() {
    let c = parse(
        "[export.nats]\nurl = \"nats://127.0.0.1:4222\"\nstream = \"FLEET\"\n\
         kinds = [\"sock\", \"gap\"]\nhost = \"web-1\"\ncreds = \"/etc/inetmon/nats.creds\"\n\
         ca_file = \"/etc/inetmon/ca.pem\"\nwindow = 64\n",
    )
    .unwrap();
    let n = c.export_nats.unwrap();
    assert_eq!(n.url, "nats://127.0.0.1:4222");
    assert_eq!(n.stream, "FLEET");
    assert_eq!(n.kinds, Some(vec![EventKind::Sock]));
    assert!(n.gaps);
    assert_eq!(n.host, "web-1");
    assert_eq!(
        n.creds.as_deref(),
        Some(Path::new("/etc/inetmon/nats.creds"))
    );
    assert_eq!(n.ca_file.as_deref(), Some(Path::new("/etc/inetmon/ca.pem")));
    assert_eq!(n.window, 64);
    let d = parse("[export.nats]\nurl = \"nats://h:4222\"\n")
        .unwrap()
        .export_nats
        .unwrap();
    assert_eq!(d.stream, "INETMON");
    assert_eq!(d.kinds, None);
    assert!(d.gaps);
    assert_eq!(d.window, 1000);
    assert!(crate::export::valid_host(&d.host));
    assert_eq!(
        parse("[export.nats]\nurl = \"\"\n").unwrap().export_nats,
        None
    );
}

#[test]
fn export_nats_misuse_names_the_key() {
    for (text, key) in [
        (
            "[export.nats]\nurl = \"n\"\nhost = \"a.b\"\n",
            "export.nats.host",
        ),
        (
            "[export.nats]\nurl = \"n\"\nstream = \"A B\"\n",
            "export.nats.stream",
        ),
        (
            "[export.nats]\nurl = \"n\"\nkinds = [\"sox\"]\n",
            "export.nats.kinds",
        ),
        (
            "[export.nats]\nurl = \"n\"\nkinds = []\n",
            "export.nats.kinds",
        ),
        (
            "[export.nats]\nurl = \"n\"\nwindow = 0\n",
            "export.nats.window",
        ),
        (
            "[export.nats]\nurl = \"n\"\ncreds = \"rel.creds\"\n",
            "export.nats.creds",
        ),
        ("[export.nats]\nurl = \"n\"\nbogus = 1\n", "bogus"),
    ] {
        let e = parse(text).unwrap_err();
        assert!(e.contains(key), "{text:?}: {e}");
        assert!(!e.contains('\n'), "{e}");
    }
}
