//! Where events come from, as the user names it on the command line.
//!
//! `nflog:G[,G…]` (netfilter NFLOG groups, read live), `conntrack` (ctnetlink
//! events, read live), `-` (standard input) or the path of a pcap, pcapng or
//! IP Filter binary log file.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

/// One input named on the command line.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum SourceSpec {
    /// NFLOG groups, read live (sorted, without duplicates).
    Nflog(Vec<u16>),
    /// ctnetlink conntrack events, read live.
    Conntrack,
    /// Standard input (`-`): a pcap, pcapng or iplog stream.
    Stdin,
    /// A pcap, pcapng or IP Filter binary log file.
    File(PathBuf),
}

impl SourceSpec {
    /// Whether reading this source needs `CAP_NET_ADMIN`.
    pub(crate) fn is_live(&self) -> bool {
        matches!(self, SourceSpec::Nflog(_) | SourceSpec::Conntrack)
    }
}

impl FromStr for SourceSpec {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if let Some(list) = s.strip_prefix("nflog:") {
            let mut groups = Vec::new();
            for g in list.split(',') {
                let group = g.parse::<u16>().map_err(|_| {
                    format!("invalid NFLOG group '{g}' in '{s}' (expected 0-65535)")
                })?;
                groups.push(group);
            }
            groups.sort_unstable();
            groups.dedup();
            return Ok(SourceSpec::Nflog(groups));
        }
        match s {
            "" => Err("empty source name".to_owned()),
            "nflog" => Ok(SourceSpec::Nflog(vec![0])),
            "conntrack" => Ok(SourceSpec::Conntrack),
            "-" => Ok(SourceSpec::Stdin),
            path => Ok(SourceSpec::File(PathBuf::from(path))),
        }
    }
}

impl fmt::Display for SourceSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SourceSpec::Nflog(groups) => {
                f.write_str("nflog:")?;
                for (i, g) in groups.iter().enumerate() {
                    if i > 0 {
                        f.write_str(",")?;
                    }
                    write!(f, "{g}")?;
                }
                Ok(())
            }
            SourceSpec::Conntrack => f.write_str("conntrack"),
            SourceSpec::Stdin => f.write_str("-"),
            SourceSpec::File(p) => write!(f, "{}", p.display()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_form() {
        assert_eq!("nflog:5".parse(), Ok(SourceSpec::Nflog(vec![5])));
        assert_eq!("nflog:7,3,7".parse(), Ok(SourceSpec::Nflog(vec![3, 7])));
        assert_eq!("nflog".parse(), Ok(SourceSpec::Nflog(vec![0])));
        assert_eq!("conntrack".parse(), Ok(SourceSpec::Conntrack));
        assert_eq!("-".parse(), Ok(SourceSpec::Stdin));
        assert_eq!("a.pcap".parse(), Ok(SourceSpec::File("a.pcap".into())));
        assert!("nflog:".parse::<SourceSpec>().is_err());
        assert!("nflog:70000".parse::<SourceSpec>().is_err());
        assert!("nflog:1,x".parse::<SourceSpec>().is_err());
        assert_eq!(SourceSpec::Nflog(vec![1, 2]).to_string(), "nflog:1,2");
    }
}
