//! The pure half of the AHAFS file interface (`/aha/net/inetsock.monFactory/*.mon`):
//! the specification a consumer writes ([`spec`]) and the per-file
//! subscription state with its bounded, overflow-reporting buffer of
//! event blocks ([`sub`]). The FUSE file system that serves them lives in
//! `inetmon-io`'s `aha` module.

pub mod spec;
pub mod sub;

pub use spec::{NotifyCount, Spec, SpecError, WaitType};
pub use sub::{Offer, Subscription};

use crate::event::Monitor;

/// The monitor files of the `inetsock` producer, in the original's order
/// (the ten the AIX documentation lists; `dgramConnect` is an inetmon
/// extension of the line formatter and has no file).
pub const MONITOR_FILES: [Monitor; 10] = {
    let mut files = [Monitor::StreamCreate; 10];
    let (mut i, mut n) = (0, 0);
    while i < Monitor::ALL.len() {
        if !matches!(Monitor::ALL[i], Monitor::DgramConnect) {
            files[n] = Monitor::ALL[i];
            n += 1;
        }
        i += 1;
    }
    files
};

/// The monitor a file name (`streamCreate.mon`) stands for, if it is one
/// of [`MONITOR_FILES`].
#[must_use]
pub fn monitor_of_file(name: &str) -> Option<Monitor> {
    let stem = name.strip_suffix(".mon")?;
    MONITOR_FILES.into_iter().find(|m| m.name() == stem)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names() {
        assert_eq!(
            monitor_of_file("streamClose.mon"),
            Some(Monitor::StreamClose)
        );
        assert_eq!(monitor_of_file("dgramConnect.mon"), None);
        assert_eq!(monitor_of_file("streamClose"), None);
        assert_eq!(monitor_of_file("x.mon"), None);
    }
}
