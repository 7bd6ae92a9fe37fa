//! Protocol, service and host names.

use std::net::IpAddr;

/// Reverse lookup of host names, for `ipmon -n`.
///
/// Implementations must not block for long: the Linux side answers from a
/// cache and resolves in the background, returning `None` (print the number)
/// when the answer is not there in time.
pub trait HostResolver {
    /// The name of `addr`, if one is known.
    fn host_name(&self, addr: IpAddr) -> Option<String>;
}

/// A resolver that never knows a name: numeric output.
#[derive(Debug, Clone, Copy, Default)]
pub struct NumericHosts;

impl HostResolver for NumericHosts {
    fn host_name(&self, _addr: IpAddr) -> Option<String> {
        None
    }
}
