//! Building netlink messages: `nlmsghdr` + `nfgenmsg` + attributes.
//!
//! Used by tests to make messages the kernel would send, and by the I/O crate
//! to make the configuration requests it sends (NFLOG bind and modes, see
//! [`crate::decode::nflog::config`]). Headers are written in host byte order,
//! as netlink wants; attribute values are written as given (the `*_be`
//! helpers write network order).

use super::{align4, NLA_F_NESTED, NLA_HDRLEN, NLMSG_HDRLEN};

/// Builds one netlink message into a `Vec<u8>`.
///
/// ```
/// use inetmon_core::decode::netlink::{self, NlMsgBuilder};
/// let mut b = NlMsgBuilder::new(0x0401, 0, 7);
/// b.nfgenmsg(2, 0, 5);
/// b.attr_be32(4, 1);
/// let bytes = b.finish();
/// let msg = netlink::messages(&bytes).next().unwrap().unwrap();
/// assert_eq!((msg.msg_type, msg.seq), (0x0401, 7));
/// ```
#[derive(Debug, Clone)]
pub struct NlMsgBuilder {
    buf: Vec<u8>,
}

/// Marks an open nested attribute; pass it to [`NlMsgBuilder::end_nested`].
#[derive(Debug)]
#[must_use = "a nested attribute must be closed with end_nested"]
pub struct NestToken(usize);

impl NlMsgBuilder {
    /// Starts a message with the given type, flags and sequence number; the
    /// port id is 0.
    #[must_use]
    pub fn new(msg_type: u16, flags: u16, seq: u32) -> Self {
        let mut buf = Vec::with_capacity(64);
        buf.extend_from_slice(&0u32.to_ne_bytes());
        buf.extend_from_slice(&msg_type.to_ne_bytes());
        buf.extend_from_slice(&flags.to_ne_bytes());
        buf.extend_from_slice(&seq.to_ne_bytes());
        buf.extend_from_slice(&0u32.to_ne_bytes());
        NlMsgBuilder { buf }
    }

    /// Sets the port id (`nlmsg_pid`).
    pub fn pid(&mut self, pid: u32) -> &mut Self {
        if let Some(b) = self.buf.get_mut(12..16) {
            b.copy_from_slice(&pid.to_ne_bytes());
        }
        self
    }

    /// Appends an `nfgenmsg` (the resource id is written in network order).
    pub fn nfgenmsg(&mut self, family: u8, version: u8, res_id: u16) -> &mut Self {
        self.buf.extend_from_slice(&[family, version]);
        self.buf.extend_from_slice(&res_id.to_be_bytes());
        self
    }

    /// Appends raw payload bytes (for example a non-nfnetlink header), padded
    /// to 4.
    pub fn raw(&mut self, bytes: &[u8]) -> &mut Self {
        self.buf.extend_from_slice(bytes);
        self.pad();
        self
    }

    /// Appends an attribute with the given value, padded to 4. A value too
    /// long for the 16-bit length is cut to fit.
    pub fn attr(&mut self, kind: u16, value: &[u8]) -> &mut Self {
        let max = usize::from(u16::MAX) - NLA_HDRLEN;
        let value = value.get(..max).unwrap_or(value);
        let len = u16::try_from(value.len() + NLA_HDRLEN).unwrap_or(u16::MAX);
        self.buf.extend_from_slice(&len.to_ne_bytes());
        self.buf.extend_from_slice(&kind.to_ne_bytes());
        self.buf.extend_from_slice(value);
        self.pad();
        self
    }

    /// Appends a one-byte attribute.
    pub fn attr_u8(&mut self, kind: u16, v: u8) -> &mut Self {
        self.attr(kind, &[v])
    }

    /// Appends a `u16` attribute in network byte order.
    pub fn attr_be16(&mut self, kind: u16, v: u16) -> &mut Self {
        self.attr(kind, &v.to_be_bytes())
    }

    /// Appends a `u32` attribute in network byte order.
    pub fn attr_be32(&mut self, kind: u16, v: u32) -> &mut Self {
        self.attr(kind, &v.to_be_bytes())
    }

    /// Appends a `u64` attribute in network byte order.
    pub fn attr_be64(&mut self, kind: u16, v: u64) -> &mut Self {
        self.attr(kind, &v.to_be_bytes())
    }

    /// Opens a nested attribute (`NLA_F_NESTED` set); attributes appended
    /// until [`NlMsgBuilder::end_nested`] go inside it.
    pub fn begin_nested(&mut self, kind: u16) -> NestToken {
        let at = self.buf.len();
        self.buf.extend_from_slice(&0u16.to_ne_bytes());
        self.buf
            .extend_from_slice(&(kind | NLA_F_NESTED).to_ne_bytes());
        NestToken(at)
    }

    /// Closes a nested attribute, writing its length.
    pub fn end_nested(&mut self, token: NestToken) -> &mut Self {
        let len = u16::try_from(self.buf.len().saturating_sub(token.0)).unwrap_or(u16::MAX);
        if let Some(b) = self.buf.get_mut(token.0..token.0 + 2) {
            b.copy_from_slice(&len.to_ne_bytes());
        }
        self
    }

    /// Finishes the message: writes `nlmsg_len` and returns the bytes (padded
    /// to 4, so messages can be concatenated into a datagram).
    #[must_use]
    pub fn finish(mut self) -> Vec<u8> {
        let len = u32::try_from(self.buf.len()).unwrap_or(u32::MAX);
        if let Some(b) = self.buf.get_mut(0..4) {
            b.copy_from_slice(&len.to_ne_bytes());
        }
        debug_assert!(self.buf.len() >= NLMSG_HDRLEN);
        self.buf
    }

    fn pad(&mut self) {
        self.buf.resize(align4(self.buf.len()), 0);
    }
}
