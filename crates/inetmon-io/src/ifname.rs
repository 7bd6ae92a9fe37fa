//! Interface index → name, cached.

use std::collections::HashMap;
use std::ffi::CStr;
use std::time::{Duration, Instant};

/// How long cached names are trusted (interfaces can be renamed).
const MAX_AGE: Duration = Duration::from_secs(30);

/// A cache of `if_indextoname` answers. A miss (an index the kernel does not
/// know) clears the cache, since interfaces changed; the cache also expires
/// as a whole every 30 s to notice renames.
///
/// `if_indextoname` answers for the network namespace of the calling thread.
#[derive(Debug)]
pub struct IfNames {
    names: HashMap<u32, String>,
    filled: Instant,
}

impl Default for IfNames {
    fn default() -> Self {
        IfNames {
            names: HashMap::new(),
            filled: Instant::now(),
        }
    }
}

impl IfNames {
    /// An empty cache.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// The name of interface `index`, or `None` when there is none.
    pub fn name(&mut self, index: u32) -> Option<String> {
        if self.filled.elapsed() > MAX_AGE {
            self.names.clear();
            self.filled = Instant::now();
        }
        if let Some(n) = self.names.get(&index) {
            return Some(n.clone());
        }
        match lookup(index) {
            Some(n) => {
                self.names.insert(index, n.clone());
                Some(n)
            }
            None => {
                self.names.clear();
                None
            }
        }
    }
}

/// `if_indextoname(index)`.
#[must_use]
pub fn lookup(index: u32) -> Option<String> {
    let mut buf = [0 as libc::c_char; libc::IF_NAMESIZE];
    // SAFETY: buf holds IF_NAMESIZE bytes as the call requires.
    let p = unsafe { libc::if_indextoname(index, buf.as_mut_ptr()) };
    if p.is_null() {
        return None;
    }
    // SAFETY: on success the buffer holds a NUL-terminated name.
    let name = unsafe { CStr::from_ptr(buf.as_ptr()) };
    Some(name.to_string_lossy().into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_is_lo() {
        let mut c = IfNames::new();
        assert_eq!(c.name(1).as_deref(), Some("lo"));
        assert_eq!(c.name(1).as_deref(), Some("lo"));
        assert_eq!(c.name(0x7fff_fff0), None);
    }
}
