//! Netlink message and attribute walking, zero-copy.
//!
//! A netlink datagram is a sequence of messages, each a 16-byte `nlmsghdr`
//! (length, type, flags, sequence, port id — all in **host** byte order)
//! followed by its payload and padded to a multiple of 4. netfilter messages
//! start their payload with a 4-byte `nfgenmsg` (family, version, and a
//! resource id in **network** byte order), followed by attributes (`nlattr`:
//! a 4-byte header of length and type in host order, the value, padding to 4).
//! The values of netfilter attributes are mostly in network byte order; the
//! helpers on [`NlAttr`] say which order they read in their names.
//!
//! - [`messages`] iterates over the messages of a datagram.
//! - [`split_nfgenmsg`] splits a message payload into [`Nfgenmsg`] and its
//!   attribute bytes.
//! - [`attrs`] iterates over attributes (also nested ones).
//! - [`NlMsgBuilder`] builds messages, for tests and for the configuration
//!   messages the I/O crate sends.
//!
//! Iterators yield `Result`s and stop after the first error: after a bad
//! length nothing that follows can be trusted.

mod builder;

use thiserror::Error;

pub use builder::{NestToken, NlMsgBuilder};

/// Length of `struct nlmsghdr`.
pub const NLMSG_HDRLEN: usize = 16;
/// Length of `struct nlattr` (the attribute header).
pub const NLA_HDRLEN: usize = 4;
/// Length of `struct nfgenmsg`.
pub const NFGENMSG_LEN: usize = 4;

/// `NLMSG_NOOP`: nothing; skip it.
pub const NLMSG_NOOP: u16 = 1;
/// `NLMSG_ERROR`: an error (or, with code 0, an acknowledgement).
pub const NLMSG_ERROR: u16 = 2;
/// `NLMSG_DONE`: end of a multipart batch (NFLOG ends every batch with it).
pub const NLMSG_DONE: u16 = 3;
/// `NLMSG_OVERRUN`: data lost.
pub const NLMSG_OVERRUN: u16 = 4;

/// `NLM_F_REQUEST`: a request.
pub const NLM_F_REQUEST: u16 = 0x1;
/// `NLM_F_MULTI`: part of a multipart message.
pub const NLM_F_MULTI: u16 = 0x2;
/// `NLM_F_ACK`: ask for an acknowledgement.
pub const NLM_F_ACK: u16 = 0x4;
/// `NLM_F_REPLACE`
pub const NLM_F_REPLACE: u16 = 0x100;
/// `NLM_F_EXCL`; with [`NLM_F_CREATE`] on a ctnetlink event it means "new".
pub const NLM_F_EXCL: u16 = 0x200;
/// `NLM_F_CREATE`; see [`NLM_F_EXCL`].
pub const NLM_F_CREATE: u16 = 0x400;

/// `NLA_F_NESTED`: the attribute holds attributes.
pub const NLA_F_NESTED: u16 = 1 << 15;
/// `NLA_F_NET_BYTEORDER`: the value is in network byte order.
pub const NLA_F_NET_BYTEORDER: u16 = 1 << 14;
/// The bits of `nla_type` that are the type proper.
pub const NLA_TYPE_MASK: u16 = !(NLA_F_NESTED | NLA_F_NET_BYTEORDER);

/// nfnetlink subsystem id of ctnetlink (`NFNL_SUBSYS_CTNETLINK`).
pub const NFNL_SUBSYS_CTNETLINK: u8 = 1;
/// nfnetlink subsystem id of NFLOG (`NFNL_SUBSYS_ULOG`).
pub const NFNL_SUBSYS_ULOG: u8 = 4;
/// `NFNETLINK_V0`, the only nfgenmsg version.
pub const NFNETLINK_V0: u8 = 0;

/// What went wrong walking netlink bytes (decoding; the socket's own errors
/// are `inetmon-io`'s `NetlinkError`). Offsets are from the start of the
/// slice given to the iterator (the datagram, or the attribute block).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum NetlinkDecodeError {
    /// Fewer bytes than a message header.
    #[error("netlink header at offset {offset}: need {need} bytes, have {have}")]
    HeaderLen {
        /// Offset of the message.
        offset: usize,
        /// Bytes needed.
        need: usize,
        /// Bytes present.
        have: usize,
    },
    /// `nlmsg_len` smaller than the header itself.
    #[error("netlink message at offset {offset}: nlmsg_len {len} is below the 16-byte header")]
    MsgLenTooSmall {
        /// Offset of the message.
        offset: usize,
        /// The `nlmsg_len` found.
        len: u32,
    },
    /// `nlmsg_len` runs past the end of the datagram.
    #[error("netlink message at offset {offset}: nlmsg_len {len} but only {have} bytes left")]
    MsgLen {
        /// Offset of the message.
        offset: usize,
        /// The `nlmsg_len` found.
        len: u32,
        /// Bytes left in the datagram.
        have: usize,
    },
    /// Fewer bytes than an attribute header.
    #[error("attribute header at offset {offset}: need 4 bytes, have {have}")]
    AttrHeaderLen {
        /// Offset of the attribute.
        offset: usize,
        /// Bytes present.
        have: usize,
    },
    /// `nla_len` smaller than the attribute header.
    #[error("attribute at offset {offset}: nla_len {len} is below the 4-byte header")]
    AttrLenTooSmall {
        /// Offset of the attribute.
        offset: usize,
        /// The `nla_len` found.
        len: u16,
    },
    /// `nla_len` runs past the end of the enclosing block.
    #[error("attribute at offset {offset}: nla_len {len} but only {have} bytes left")]
    AttrLen {
        /// Offset of the attribute.
        offset: usize,
        /// The `nla_len` found.
        len: u16,
        /// Bytes left in the block.
        have: usize,
    },
    /// A message payload too short for `nfgenmsg`.
    #[error("nfgenmsg: need 4 bytes, have {have}")]
    NfgenmsgLen {
        /// Bytes present.
        have: usize,
    },
    /// An attribute value of the wrong size for its type.
    #[error("attribute {attr}: value of {got} bytes, expected {expected}")]
    ValueLen {
        /// Attribute type.
        attr: u16,
        /// Bytes expected (exactly, or at least for structures).
        expected: usize,
        /// Bytes present.
        got: usize,
    },
}

/// Byte order of attribute headers (`nla_len`, `nla_type`).
///
/// Live netlink uses the host's order ([`HeaderOrder::Native`]); pcap files
/// with `LINKTYPE_NFLOG` use the capturing host's order, in practice
/// little-endian.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HeaderOrder {
    /// This machine's byte order (live netlink).
    #[default]
    Native,
    /// Little-endian.
    Little,
    /// Big-endian.
    Big,
}

impl HeaderOrder {
    fn u16(self, b: [u8; 2]) -> u16 {
        match self {
            HeaderOrder::Native => u16::from_ne_bytes(b),
            HeaderOrder::Little => u16::from_le_bytes(b),
            HeaderOrder::Big => u16::from_be_bytes(b),
        }
    }
}

/// Rounds up to a multiple of 4 (`NLMSG_ALIGN`/`NLA_ALIGN`), saturating.
#[must_use]
pub fn align4(n: usize) -> usize {
    n.saturating_add(3) & !3
}

fn array<const N: usize>(b: &[u8], at: usize) -> Option<[u8; N]> {
    b.get(at..at.checked_add(N)?)?.try_into().ok()
}

/// The kind of a netlink message, from its type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NlMsgKind {
    /// `NLMSG_NOOP`
    Noop,
    /// `NLMSG_ERROR` (an error or an acknowledgement).
    Error,
    /// `NLMSG_DONE`
    Done,
    /// `NLMSG_OVERRUN`
    Overrun,
    /// A message of the protocol (for nfnetlink: subsystem and message type).
    Data,
}

/// One netlink message, borrowed from the datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NlMsg<'a> {
    /// `nlmsg_len`: header plus payload, without trailing padding.
    pub len: u32,
    /// `nlmsg_type`; for nfnetlink, subsystem << 8 | message type.
    pub msg_type: u16,
    /// `nlmsg_flags`.
    pub flags: u16,
    /// `nlmsg_seq`.
    pub seq: u32,
    /// `nlmsg_pid` (the sender's port id; 0 for the kernel).
    pub pid: u32,
    /// The bytes after the header, `len - 16` of them.
    pub payload: &'a [u8],
    /// Offset of the message within the datagram.
    pub offset: usize,
}

impl<'a> NlMsg<'a> {
    /// The message kind: one of the control types, or data.
    #[must_use]
    pub fn kind(&self) -> NlMsgKind {
        match self.msg_type {
            NLMSG_NOOP => NlMsgKind::Noop,
            NLMSG_ERROR => NlMsgKind::Error,
            NLMSG_DONE => NlMsgKind::Done,
            NLMSG_OVERRUN => NlMsgKind::Overrun,
            _ => NlMsgKind::Data,
        }
    }

    /// The nfnetlink subsystem id (high byte of the type).
    #[must_use]
    pub fn nfnl_subsys(&self) -> u8 {
        self.msg_type.to_be_bytes()[0]
    }

    /// The nfnetlink message type within the subsystem (low byte).
    #[must_use]
    pub fn nfnl_msg(&self) -> u8 {
        self.msg_type.to_be_bytes()[1]
    }

    /// For an `NLMSG_ERROR` message, the error code: 0 for an acknowledgement,
    /// a negative errno otherwise (host order, as the kernel writes it).
    /// `None` for other messages or a payload too short to hold the code.
    #[must_use]
    pub fn error_code(&self) -> Option<i32> {
        if self.msg_type != NLMSG_ERROR {
            return None;
        }
        array::<4>(self.payload, 0).map(i32::from_ne_bytes)
    }

    /// Splits an nfnetlink payload into its `nfgenmsg` and attribute bytes.
    ///
    /// # Errors
    /// [`NetlinkDecodeError::NfgenmsgLen`] when the payload is shorter than 4 bytes.
    pub fn nfgenmsg(&self) -> Result<(Nfgenmsg, &'a [u8]), NetlinkDecodeError> {
        split_nfgenmsg(self.payload)
    }
}

/// Iterates over the messages of a netlink datagram (host byte order).
///
/// Yields `Err` once and then stops when a header or length is bad.
#[must_use]
pub fn messages(datagram: &[u8]) -> NlMsgIter<'_> {
    NlMsgIter {
        walk: Walk::new(datagram),
    }
}

/// The position of a walk over netlink TLVs (messages or attributes): what
/// [`NlMsgIter`] and [`NlAttrIter`] share. After the first framing error the
/// walk yields nothing more.
#[derive(Debug, Clone)]
struct Walk<'a> {
    buf: &'a [u8],
    pos: usize,
    failed: bool,
}

impl<'a> Walk<'a> {
    fn new(buf: &'a [u8]) -> Self {
        Walk {
            buf,
            pos: 0,
            failed: false,
        }
    }

    /// The bytes not walked yet; `None` at the end or after a failure.
    #[inline]
    fn rest(&self) -> Option<&'a [u8]> {
        if self.failed {
            return None;
        }
        let rest = self.buf.get(self.pos..)?;
        if rest.is_empty() {
            return None;
        }
        Some(rest)
    }

    /// Moves past an item of `len` bytes (padded to 4; the last item of a
    /// block may lack its padding), or stops the walk when `item` failed.
    #[inline]
    fn step<T, E>(&mut self, item: &Result<T, E>, len: impl FnOnce(&T) -> usize, rest: usize) {
        match item {
            Ok(t) => self.pos = self.pos.saturating_add(align4(len(t)).min(rest)),
            Err(_) => self.failed = true,
        }
    }
}

/// Iterator returned by [`messages`].
#[derive(Debug, Clone)]
pub struct NlMsgIter<'a> {
    walk: Walk<'a>,
}

impl<'a> Iterator for NlMsgIter<'a> {
    type Item = Result<NlMsg<'a>, NetlinkDecodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        let rest = self.walk.rest()?;
        let item = parse_msg(rest, self.walk.pos);
        self.walk
            .step(&item, |m| m.payload.len() + NLMSG_HDRLEN, rest.len());
        Some(item)
    }
}

fn parse_msg(rest: &[u8], offset: usize) -> Result<NlMsg<'_>, NetlinkDecodeError> {
    let header_len = || NetlinkDecodeError::HeaderLen {
        offset,
        need: NLMSG_HDRLEN,
        have: rest.len(),
    };
    let hdr: [u8; NLMSG_HDRLEN] = array(rest, 0).ok_or_else(header_len)?;
    let [l0, l1, l2, l3, t0, t1, f0, f1, s0, s1, s2, s3, p0, p1, p2, p3] = hdr;
    let len = u32::from_ne_bytes([l0, l1, l2, l3]);
    let ulen = usize::try_from(len).unwrap_or(usize::MAX);
    if ulen < NLMSG_HDRLEN {
        return Err(NetlinkDecodeError::MsgLenTooSmall { offset, len });
    }
    let payload = rest
        .get(NLMSG_HDRLEN..ulen)
        .ok_or(NetlinkDecodeError::MsgLen {
            offset,
            len,
            have: rest.len(),
        })?;
    Ok(NlMsg {
        len,
        msg_type: u16::from_ne_bytes([t0, t1]),
        flags: u16::from_ne_bytes([f0, f1]),
        seq: u32::from_ne_bytes([s0, s1, s2, s3]),
        pid: u32::from_ne_bytes([p0, p1, p2, p3]),
        payload,
        offset,
    })
}

/// `struct nfgenmsg`: the header of every nfnetlink message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Nfgenmsg {
    /// Address family (`AF_INET` = 2, `AF_INET6` = 10, `AF_UNSPEC` = 0).
    pub family: u8,
    /// Always [`NFNETLINK_V0`].
    pub version: u8,
    /// Resource id, decoded from network byte order: the NFLOG group; for
    /// ctnetlink events the conntrack table (0).
    pub res_id: u16,
}

/// Splits an nfnetlink message payload into [`Nfgenmsg`] and attribute bytes.
///
/// # Errors
/// [`NetlinkDecodeError::NfgenmsgLen`] when fewer than 4 bytes are present.
pub fn split_nfgenmsg(payload: &[u8]) -> Result<(Nfgenmsg, &[u8]), NetlinkDecodeError> {
    let (head, attrs) =
        payload
            .split_at_checked(NFGENMSG_LEN)
            .ok_or(NetlinkDecodeError::NfgenmsgLen {
                have: payload.len(),
            })?;
    let [family, version, r0, r1] = array::<4>(head, 0).unwrap_or_default();
    Ok((
        Nfgenmsg {
            family,
            version,
            res_id: u16::from_be_bytes([r0, r1]),
        },
        attrs,
    ))
}

/// One attribute, borrowed from the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NlAttr<'a> {
    /// The type without the [`NLA_F_NESTED`] and [`NLA_F_NET_BYTEORDER`] bits.
    pub kind: u16,
    /// Whether [`NLA_F_NESTED`] was set.
    pub nested: bool,
    /// Whether [`NLA_F_NET_BYTEORDER`] was set.
    pub net_byteorder: bool,
    /// The value: `nla_len - 4` bytes, without padding.
    pub payload: &'a [u8],
    /// Offset of the attribute header within the attribute block.
    pub offset: usize,
    order: HeaderOrder,
}

impl<'a> NlAttr<'a> {
    fn fixed<const N: usize>(&self) -> Result<[u8; N], NetlinkDecodeError> {
        self.payload
            .try_into()
            .map_err(|_| NetlinkDecodeError::ValueLen {
                attr: self.kind,
                expected: N,
                got: self.payload.len(),
            })
    }

    /// The value as one byte.
    ///
    /// # Errors
    /// [`NetlinkDecodeError::ValueLen`] unless the value is exactly 1 byte.
    pub fn u8(&self) -> Result<u8, NetlinkDecodeError> {
        self.fixed::<1>().map(|[b]| b)
    }

    /// The value as a big-endian (network order) `u16`.
    ///
    /// # Errors
    /// [`NetlinkDecodeError::ValueLen`] unless the value is exactly 2 bytes.
    pub fn be16(&self) -> Result<u16, NetlinkDecodeError> {
        self.fixed().map(u16::from_be_bytes)
    }

    /// The value as a big-endian (network order) `u32`.
    ///
    /// # Errors
    /// [`NetlinkDecodeError::ValueLen`] unless the value is exactly 4 bytes.
    pub fn be32(&self) -> Result<u32, NetlinkDecodeError> {
        self.fixed().map(u32::from_be_bytes)
    }

    /// The value as a big-endian (network order) `u64`.
    ///
    /// # Errors
    /// [`NetlinkDecodeError::ValueLen`] unless the value is exactly 8 bytes.
    pub fn be64(&self) -> Result<u64, NetlinkDecodeError> {
        self.fixed().map(u64::from_be_bytes)
    }

    /// The value as a host-order `u32` (rare in netfilter; used by generic
    /// netlink attributes).
    ///
    /// # Errors
    /// [`NetlinkDecodeError::ValueLen`] unless the value is exactly 4 bytes.
    pub fn ne32(&self) -> Result<u32, NetlinkDecodeError> {
        self.fixed().map(u32::from_ne_bytes)
    }

    /// The first `N` bytes of the value, for structures that may grow.
    ///
    /// # Errors
    /// [`NetlinkDecodeError::ValueLen`] when the value is shorter than `N`.
    pub fn prefix<const N: usize>(&self) -> Result<[u8; N], NetlinkDecodeError> {
        array(self.payload, 0).ok_or(NetlinkDecodeError::ValueLen {
            attr: self.kind,
            expected: N,
            got: self.payload.len(),
        })
    }

    /// The attributes nested in this one, with the same header byte order.
    #[must_use]
    pub fn nested(&self) -> NlAttrIter<'a> {
        attrs_with_order(self.payload, self.order)
    }
}

/// Iterates over the attributes in `block` (headers in host order).
#[must_use]
pub fn attrs(block: &[u8]) -> NlAttrIter<'_> {
    attrs_with_order(block, HeaderOrder::Native)
}

/// Iterates over the attributes in `block`, reading attribute headers in
/// `order` (see [`HeaderOrder`]).
#[must_use]
pub fn attrs_with_order(block: &[u8], order: HeaderOrder) -> NlAttrIter<'_> {
    NlAttrIter {
        walk: Walk::new(block),
        order,
    }
}

/// Calls `f(kind, value)` for each attribute of `block` in order, with the
/// same framing checks and errors as [`attrs_with_order`], stopping at the
/// first error (of the framing or of `f`). `kind` is the type without the
/// flag bits. For hot paths: no [`NlAttr`] or per-attribute `Option` is
/// built.
///
/// # Errors
/// The framing errors of [`NlAttrIter`] (converted with `From`) or the first
/// error `f` returns.
pub fn for_each_attr<'a, E: From<NetlinkDecodeError>>(
    block: &'a [u8],
    order: HeaderOrder,
    mut f: impl FnMut(u16, &'a [u8]) -> Result<(), E>,
) -> Result<(), E> {
    let mut rest = block;
    let mut offset = 0usize;
    while !rest.is_empty() {
        let Some(&[l0, l1, t0, t1]) = rest.first_chunk::<4>() else {
            return Err(NetlinkDecodeError::AttrHeaderLen {
                offset,
                have: rest.len(),
            }
            .into());
        };
        let len = order.u16([l0, l1]);
        let ulen = usize::from(len);
        if ulen < NLA_HDRLEN {
            return Err(NetlinkDecodeError::AttrLenTooSmall { offset, len }.into());
        }
        let Some(payload) = rest.get(NLA_HDRLEN..ulen) else {
            return Err(NetlinkDecodeError::AttrLen {
                offset,
                len,
                have: rest.len(),
            }
            .into());
        };
        f(order.u16([t0, t1]) & NLA_TYPE_MASK, payload)?;
        let step = align4(ulen).min(rest.len());
        rest = rest.get(step..).unwrap_or_default();
        offset = offset.saturating_add(step);
    }
    Ok(())
}

/// Iterator returned by [`attrs`].
#[derive(Debug, Clone)]
pub struct NlAttrIter<'a> {
    walk: Walk<'a>,
    order: HeaderOrder,
}

impl<'a> Iterator for NlAttrIter<'a> {
    type Item = Result<NlAttr<'a>, NetlinkDecodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        let rest = self.walk.rest()?;
        let offset = self.walk.pos;
        let item = (|| {
            let [l0, l1, t0, t1] =
                array::<4>(rest, 0).ok_or(NetlinkDecodeError::AttrHeaderLen {
                    offset,
                    have: rest.len(),
                })?;
            let len = self.order.u16([l0, l1]);
            let raw_type = self.order.u16([t0, t1]);
            let ulen = usize::from(len);
            if ulen < NLA_HDRLEN {
                return Err(NetlinkDecodeError::AttrLenTooSmall { offset, len });
            }
            let payload = rest
                .get(NLA_HDRLEN..ulen)
                .ok_or(NetlinkDecodeError::AttrLen {
                    offset,
                    len,
                    have: rest.len(),
                })?;
            Ok(NlAttr {
                kind: raw_type & NLA_TYPE_MASK,
                nested: raw_type & NLA_F_NESTED != 0,
                net_byteorder: raw_type & NLA_F_NET_BYTEORDER != 0,
                payload,
                offset,
                order: self.order,
            })
        })();
        self.walk
            .step(&item, |a| a.payload.len() + NLA_HDRLEN, rest.len());
        Some(item)
    }
}

#[cfg(test)]
mod tests;
