//! Command line and parent pid of a process from `/proc`, for info level 3.

use std::collections::HashMap;

use inetmon_core::event::ProcessInfo;

/// The command line (arguments joined by spaces) and parent pid of `pid`;
/// empty/0 when the process is gone.
#[must_use]
pub fn process_info(pid: u32) -> ProcessInfo {
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|b| {
            let s: Vec<String> = b
                .split(|&c| c == 0)
                .filter(|a| !a.is_empty())
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect();
            s.join(" ")
        })
        .unwrap_or_default();
    let ppid = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            // "pid (comm) state ppid ..." — comm may contain spaces and ')'.
            let rest = s.get(s.rfind(')')? + 1..)?;
            rest.split_whitespace().nth(1)?.parse().ok()
        })
        .unwrap_or(0);
    ProcessInfo { cmdline, ppid }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_process() {
        let p = process_info(std::process::id());
        assert!(!p.cmdline.is_empty());
        assert_eq!(p.ppid, std::os::unix::process::parent_id());
    }
}

/// Most processes a [`ProcessCache`] keeps.
const PROC_CACHE: usize = 4096;

/// [`process_info`] through a cache: read from `/proc` the first time a
/// pid is seen, so that events arriving after the process exited still
/// carry its command line (for AHAFS `INFO_LVL=3`). A reused pid keeps the
/// old entry until the cache is emptied at 4096 entries (`PROC_CACHE`).
#[derive(Debug, Default)]
pub struct ProcessCache {
    procs: HashMap<u32, ProcessInfo>,
}

impl ProcessCache {
    /// The details of `pid`, cached.
    pub fn get(&mut self, pid: u32) -> ProcessInfo {
        if let Some(p) = self.procs.get(&pid) {
            return p.clone();
        }
        if self.procs.len() >= PROC_CACHE {
            self.procs.clear();
        }
        let p = process_info(pid);
        if !p.cmdline.is_empty() {
            self.procs.insert(pid, p.clone());
        }
        p
    }
}
