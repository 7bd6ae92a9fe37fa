//! The validated `inetmon ipmon` configuration: what to open, how to format,
//! where to write. Built from [`IpmonFlags`] by [`IpmonConfig::from_flags`],
//! which is where every misuse is caught and reported in one line.

use std::path::PathBuf;

use inetmon_io::sink::{facility_by_name, Facility, DEV_LOG};

use super::flags::IpmonFlags;
pub(crate) use crate::output::FormatOptions;
use crate::source::SourceSpec;
use crate::Misuse;

/// Default pid file with `-D` when `-P` is not given.
pub(crate) const DEFAULT_PID_FILE: &str = "/run/ipmon.pid";

/// Environment variable naming the syslog socket (default `/dev/log`); used by
/// the tests to point `-s` at a private rsyslogd.
pub(crate) const SYSLOG_SOCKET_ENV: &str = "INETMON_SYSLOG_SOCKET";

/// The three IP Filter logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Logs {
    /// `I`: the packet (ipf) log.
    pub(crate) packets: bool,
    /// `N`: the NAT log.
    pub(crate) nat: bool,
    /// `S`: the state log.
    pub(crate) state: bool,
}

impl Logs {
    /// Applies the letters of `-o` (`on = true`) or `-O` (`on = false`).
    fn apply(&mut self, letters: &str, on: bool) -> Result<(), Misuse> {
        for c in letters.chars() {
            match c {
                'N' => self.nat = on,
                'S' => self.state = on,
                'I' => self.packets = on,
                other => return Err(Misuse(format!("Unknown log option {other}"))),
            }
        }
        Ok(())
    }

    fn any(self) -> bool {
        self.packets || self.nat || self.state
    }
}

/// One source to open, and which of its records to keep.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Input {
    /// What to read.
    pub(crate) spec: SourceSpec,
    /// Which logs this source feeds (a file feeds whatever it holds).
    pub(crate) logs: Logs,
}

/// Where formatted records go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Output {
    /// Standard output.
    Stdout,
    /// A file opened in append mode, reopened on SIGHUP.
    File(PathBuf),
    /// Syslog (`-s`), with ident `ipmon[pid]`, at
    /// [`IpmonConfig::facility`] on [`IpmonConfig::syslog_socket`], or to
    /// [`IpmonConfig::syslog_target`] when one is given.
    Syslog,
}

/// Everything `inetmon ipmon` needs to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct IpmonConfig {
    /// Distinct sources to open (a source named by several options once).
    pub(crate) inputs: Vec<Input>,
    /// Which logs are selected.
    pub(crate) logs: Logs,
    /// How to format.
    pub(crate) format: FormatOptions,
    /// Where to write.
    pub(crate) output: Output,
    /// `-B`: binary copy of every record.
    pub(crate) binary_copy: Option<PathBuf>,
    /// `-C`: ipmon.conf action file.
    pub(crate) conf: Option<PathBuf>,
    /// `-L`: the syslog facility (for `-s` and `-C` syslog actions).
    pub(crate) facility: Facility,
    /// The syslog socket (`/dev/log` unless `INETMON_SYSLOG_SOCKET` is set).
    pub(crate) syslog_socket: PathBuf,
    /// `--syslog-target`: `-s` output goes over TCP/TLS instead.
    pub(crate) syslog_target: Option<inetmon_io::sink::NetSyslogConfig>,
    /// `-D`
    pub(crate) daemon: bool,
    /// `-P`, or the default with `-D`.
    pub(crate) pid_file: Option<PathBuf>,
    /// `-F`
    pub(crate) flush: bool,
    /// `-t`
    pub(crate) follow: bool,
}

impl IpmonConfig {
    /// Validates the flags.
    ///
    /// # Errors
    ///
    /// A [`Misuse`] naming the first problem: an unknown log letter or
    /// facility, a source that cannot carry the log it was given for, `-D`
    /// without anywhere to write.
    pub(crate) fn from_flags(flags: &IpmonFlags) -> Result<Self, Misuse> {
        let mut logs = Logs::default();
        if flags.all {
            logs = Logs {
                packets: true,
                nat: true,
                state: true,
            };
        }
        for letters in &flags.open {
            logs.apply(letters, true)?;
        }
        let packet_spec = parse_source(flags.packet_source.as_deref(), "-f", "nflog:0")?;
        let nat_spec = parse_source(flags.nat_source.as_deref(), "-N", "conntrack")?;
        let state_spec = parse_source(flags.state_source.as_deref(), "-S", "conntrack")?;
        logs.packets |= flags.packet_source.is_some();
        logs.nat |= flags.nat_source.is_some();
        logs.state |= flags.state_source.is_some();
        if !logs.any() {
            logs.packets = true;
        }
        for letters in &flags.omit {
            logs.apply(letters, false)?;
        }
        if !logs.any() {
            return Err(Misuse("no log selected (-O removed them all)".to_owned()));
        }

        if logs.packets && packet_spec == SourceSpec::Conntrack {
            return Err(Misuse(
                "-f conntrack: conntrack has no packet log; use -N/-S conntrack or -o NS"
                    .to_owned(),
            ));
        }
        for (on, spec, opt) in [(logs.nat, &nat_spec, "-N"), (logs.state, &state_spec, "-S")] {
            if on && matches!(spec, SourceSpec::Nflog(_)) {
                return Err(Misuse(format!(
                    "{opt} {spec}: NFLOG carries only the packet log; use -f {spec}"
                )));
            }
        }

        let mut inputs: Vec<Input> = Vec::new();
        let wanted = [
            (
                logs.packets,
                packet_spec,
                Logs {
                    packets: true,
                    ..Logs::default()
                },
            ),
            (
                logs.nat,
                nat_spec,
                Logs {
                    nat: true,
                    ..Logs::default()
                },
            ),
            (
                logs.state,
                state_spec,
                Logs {
                    state: true,
                    ..Logs::default()
                },
            ),
        ];
        for (on, spec, log) in wanted {
            if !on {
                continue;
            }
            if let Some(input) = inputs.iter_mut().find(|i| i.spec == spec) {
                input.logs.packets |= log.packets;
                input.logs.nat |= log.nat;
                input.logs.state |= log.state;
            } else {
                inputs.push(Input { spec, logs: log });
            }
        }

        let facility_name = flags.facility.as_deref().unwrap_or("local0");
        let facility = facility_by_name(facility_name)
            .map_err(|_| Misuse(format!("Unknown syslog facility '{facility_name}'")))?;
        let syslog_socket = std::env::var_os(SYSLOG_SOCKET_ENV)
            .map_or_else(|| PathBuf::from(DEV_LOG), PathBuf::from);
        let syslog_target = flags.remote.config("ipmon", facility)?;
        let output = if flags.syslog || syslog_target.is_some() {
            Output::Syslog
        } else if let Some(path) = &flags.outfile {
            if path.as_os_str() == "-" {
                Output::Stdout
            } else {
                Output::File(path.clone())
            }
        } else {
            Output::Stdout
        };
        if flags.daemon && output == Output::Stdout {
            return Err(Misuse(
                "-D needs an output file or -s (a daemon has no terminal to print to)".to_owned(),
            ));
        }
        let pid_file = flags
            .pid_file
            .clone()
            .or_else(|| flags.daemon.then(|| PathBuf::from(DEFAULT_PID_FILE)));

        Ok(IpmonConfig {
            inputs,
            logs,
            format: FormatOptions {
                json: flags.json,
                verbose: flags.verbose,
                hex: flags.hex,
                hex_header: flags.hex_header,
                body: flags.body,
                resolve: flags.resolve,
                numeric_ports: flags.numeric_ports,
                no_packet_bytes: false,
            },
            output,
            binary_copy: flags.binary_file.clone(),
            conf: flags.conf.clone(),
            facility,
            syslog_socket,
            syslog_target,
            daemon: flags.daemon,
            pid_file,
            flush: flags.flush,
            follow: flags.follow,
        })
    }
}

fn parse_source(given: Option<&str>, opt: &str, default: &str) -> Result<SourceSpec, Misuse> {
    given
        .unwrap_or(default)
        .parse()
        .map_err(|e| Misuse(format!("{opt}: {e}")))
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct T {
        #[command(flatten)]
        f: IpmonFlags,
    }

    fn config(args: &[&str]) -> Result<IpmonConfig, String> {
        let t = T::try_parse_from(std::iter::once("ipmon").chain(args.iter().copied()))
            .map_err(|e| e.to_string())?;
        IpmonConfig::from_flags(&t.f).map_err(|m| m.0)
    }

    fn logs(p: bool, n: bool, s: bool) -> Logs {
        Logs {
            packets: p,
            nat: n,
            state: s,
        }
    }

    #[test]
    fn default_is_nflog_group_0() {
        let c = config(&[]).unwrap();
        assert_eq!(c.logs, logs(true, false, false));
        assert_eq!(
            c.inputs,
            vec![Input {
                spec: SourceSpec::Nflog(vec![0]),
                logs: c.logs
            }]
        );
        assert_eq!(c.output, Output::Stdout);
        assert_eq!(c.pid_file, None);
    }

    #[test]
    fn all_opens_nflog_and_one_conntrack() {
        let c = config(&["-a"]).unwrap();
        assert_eq!(c.logs, logs(true, true, true));
        assert_eq!(c.inputs.len(), 2);
        assert_eq!(
            c.inputs[1],
            Input {
                spec: SourceSpec::Conntrack,
                logs: logs(false, true, true)
            }
        );
    }

    #[test]
    fn clustered_and_attached_values() {
        let c = config(&["-anv", "-fnflog:5,6", "-ONS", "out.txt"]).unwrap();
        assert_eq!(c.logs, logs(true, false, false));
        assert_eq!(c.inputs[0].spec, SourceSpec::Nflog(vec![5, 6]));
        assert!(c.format.resolve && c.format.verbose);
        assert_eq!(c.output, Output::File("out.txt".into()));
        let c = config(&["-oNS", "-Nconntrack"]).unwrap();
        assert_eq!(c.logs, logs(false, true, true));
    }

    #[test]
    fn capital_o_works_in_any_order() {
        assert_eq!(
            config(&["-O", "I", "-a"]).unwrap().logs,
            logs(false, true, true)
        );
        assert_eq!(
            config(&["-a", "-OS"]).unwrap().logs,
            logs(true, true, false)
        );
        assert_eq!(
            config(&["-N", "conntrack"]).unwrap().logs,
            logs(false, true, false)
        );
    }

    #[test]
    fn a_file_named_twice_is_opened_once() {
        let c = config(&["-f", "x.log", "-N", "x.log", "-S", "x.log"]).unwrap();
        assert_eq!(
            c.inputs,
            vec![Input {
                spec: SourceSpec::File("x.log".into()),
                logs: logs(true, true, true)
            }]
        );
    }

    #[test]
    fn misuse_is_one_line() {
        assert_eq!(config(&["-o", "NQ"]).unwrap_err(), "Unknown log option Q");
        assert_eq!(
            config(&["-L", "nope"]).unwrap_err(),
            "Unknown syslog facility 'nope'"
        );
        assert!(config(&["-f", "conntrack"])
            .unwrap_err()
            .contains("no packet log"));
        assert!(config(&["-S", "nflog:1"])
            .unwrap_err()
            .contains("only the packet log"));
        assert!(config(&["-D"]).unwrap_err().contains("-D needs"));
        assert!(config(&["-f", "nflog:x"])
            .unwrap_err()
            .contains("invalid NFLOG group"));
        assert!(config(&["-O", "I"])
            .unwrap_err()
            .contains("no log selected"));
    }

    #[test]
    fn repeated_options_override_and_stdin_works() {
        let c = config(&["-f", "nflog:1", "-f", "-"]).unwrap();
        assert_eq!(c.inputs[0].spec, SourceSpec::Stdin);
        let c = config(&["-D", "-s", "-L", "local3"]).unwrap();
        assert_eq!(c.pid_file, Some(PathBuf::from(DEFAULT_PID_FILE)));
        assert_eq!(c.output, Output::Syslog);
        assert_eq!(i32::from(c.facility.code()) << 3, libc::LOG_LOCAL3);
    }
}
