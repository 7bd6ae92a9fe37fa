//! Helpers the core's unit tests share (the sample events are beside their
//! types: `PacketLog::sample`, `SockEvent::sample`, `DropEvent::sample`).

/// A small deterministic byte generator (a linear congruential generator),
/// for "garbage never panics" tests that must be reproducible.
pub(crate) struct Garbage(pub(crate) u32);

impl Garbage {
    /// The next `len` bytes.
    pub(crate) fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len)
            .map(|_| {
                self.0 = self.0.wrapping_mul(1_103_515_245).wrapping_add(12345);
                self.0.to_be_bytes()[1]
            })
            .collect()
    }
}
