//! Decoders: bytes from the kernel or from files into [`crate::event::Event`]s.
//!
//! Every decoder returns errors and never panics. A decoder that reads a
//! stream of records reports a bad record with its offset and resynchronises.
//!
//! - [`netlink`]: netlink message and attribute (TLV) walking.
//! - [`nflog`]: NFLOG packet messages into [`crate::event::PacketLog`].
//! - [`nftrace`]: nftables trace messages into [`crate::event::NftTraceEvent`].
//! - [`ctnetlink`]: conntrack event messages into NAT and state events.
//! - [`iplog`]: IP Filter binary log records (`iplog_t`), read and written.
//! - [`pcap`]: pcap and pcapng files.
//! - [`datapath`]: records of the datapath eBPF programs (drops, traces).
//! - [`sock`]: socket-event records from the eBPF ring buffer.

pub mod ctnetlink;
pub mod datapath;
pub mod iplog;
pub mod netlink;
pub mod nflog;
pub mod nftrace;
pub mod pcap;
pub mod sniff;
pub mod sock;

use crate::event::Event;

/// A decoder of a byte stream of records (a file, a pipe, a followed log).
///
/// The reader feeds whatever bytes it has; the decoder keeps partial records
/// until the rest arrives. Bad bytes come out as [`Event::Malformed`] with
/// their offset from the start of the stream, and decoding goes on after
/// them.
pub trait StreamDecoder {
    /// Appends bytes read from the source.
    fn feed(&mut self, bytes: &[u8]);

    /// The next decoded event, or an [`Event::Malformed`] for bytes that were
    /// skipped; `None` when more input is needed.
    fn next_event(&mut self) -> Option<Event>;

    /// Ends the stream: an incomplete record left over is reported as
    /// [`Event::Malformed`]. Several events may remain (a bad region that
    /// only the end of the stream resolves, then the records after it), so
    /// callers call this until it returns `None`; once it has, it keeps
    /// returning `None`.
    fn finish(&mut self) -> Option<Event>;

    /// Appends up to `max` bytes that `fill` writes straight into the
    /// decoder's buffer (for example a `read(2)`), saving the copy that
    /// [`StreamDecoder::feed`] makes; `fill` returns how many bytes it wrote
    /// (more than `max` counts as `max`). Returns what `fill` returned. The
    /// default goes through a temporary buffer and `feed`.
    ///
    /// # Errors
    ///
    /// `fill`'s error; nothing is appended then.
    fn feed_with(
        &mut self,
        max: usize,
        fill: &mut dyn FnMut(&mut [u8]) -> std::io::Result<usize>,
    ) -> std::io::Result<usize> {
        let mut tmp = vec![0; max];
        let n = fill(&mut tmp)?;
        self.feed(tmp.get(..n).unwrap_or(&tmp));
        Ok(n)
    }

    /// Hands back an event this decoder produced and the caller is done
    /// with, so that its heap blocks can be reused for the next one instead
    /// of being freed and allocated again (style guide §10). Optional: the
    /// default just drops it, and dropping events instead is always correct.
    fn recycle(&mut self, event: Event) {
        drop(event);
    }
}
