//! `NFULNL_MSG_CONFIG` requests: bind a group and set its modes.
//!
//! Each function returns one complete netlink message (flags
//! `NLM_F_REQUEST | NLM_F_ACK`, so the kernel answers with an `NLMSG_ERROR`
//! whose code is 0 on success) to be sent to the kernel (port id 0) on a
//! `NETLINK_NETFILTER` socket. The group goes in `nfgenmsg.res_id` in network
//! order; numeric values are written in network order, as the kernel reads
//! them with `ntohl`/`ntohs`.
//!
//! The usual order: [`pf_unbind`]/[`pf_bind`] (needed only on kernels before
//! 3.17), [`bind`], then [`copy_packet`], [`flags`], [`nlbufsiz`],
//! [`qthresh`], [`timeout`].

use crate::decode::netlink::{
    NlMsgBuilder, NFNETLINK_V0, NFNL_SUBSYS_ULOG, NLM_F_ACK, NLM_F_REQUEST,
};

use super::NFULNL_MSG_CONFIG;

/// `NFULA_CFG_CMD`: one command byte.
pub const NFULA_CFG_CMD: u16 = 1;
/// `NFULA_CFG_MODE`: copy range (BE u32), copy mode, pad.
pub const NFULA_CFG_MODE: u16 = 2;
/// `NFULA_CFG_NLBUFSIZ`: netlink buffer size for batching, BE u32.
pub const NFULA_CFG_NLBUFSIZ: u16 = 3;
/// `NFULA_CFG_TIMEOUT`: flush timeout in 1/100 s, BE u32.
pub const NFULA_CFG_TIMEOUT: u16 = 4;
/// `NFULA_CFG_QTHRESH`: packets per batch, BE u32.
pub const NFULA_CFG_QTHRESH: u16 = 5;
/// `NFULA_CFG_FLAGS`: BE u16 of `NFULNL_CFG_F_*`.
pub const NFULA_CFG_FLAGS: u16 = 6;

/// `NFULNL_CFG_CMD_BIND`
pub const CMD_BIND: u8 = 1;
/// `NFULNL_CFG_CMD_UNBIND`
pub const CMD_UNBIND: u8 = 2;
/// `NFULNL_CFG_CMD_PF_BIND`
pub const CMD_PF_BIND: u8 = 3;
/// `NFULNL_CFG_CMD_PF_UNBIND`
pub const CMD_PF_UNBIND: u8 = 4;

/// `NFULNL_COPY_NONE`
pub const COPY_NONE: u8 = 0;
/// `NFULNL_COPY_META`
pub const COPY_META: u8 = 1;
/// `NFULNL_COPY_PACKET`
pub const COPY_PACKET: u8 = 2;

/// `NFULNL_CFG_F_SEQ`: add a per-instance sequence number.
pub const F_SEQ: u16 = 0x1;
/// `NFULNL_CFG_F_SEQ_GLOBAL`: add a global sequence number.
pub const F_SEQ_GLOBAL: u16 = 0x2;
/// `NFULNL_CFG_F_CONNTRACK`: add `NFULA_CT` and `NFULA_CT_INFO`.
pub const F_CONNTRACK: u16 = 0x4;

const MSG_TYPE: u16 = (NFULNL_MSG_CONFIG as u16) | ((NFNL_SUBSYS_ULOG as u16) << 8);
const AF_UNSPEC: u8 = 0;

fn start(family: u8, group: u16, seq: u32) -> NlMsgBuilder {
    let mut b = NlMsgBuilder::new(MSG_TYPE, NLM_F_REQUEST | NLM_F_ACK, seq);
    b.nfgenmsg(family, NFNETLINK_V0, group);
    b
}

fn command(family: u8, group: u16, cmd: u8, seq: u32) -> Vec<u8> {
    let mut b = start(family, group, seq);
    b.attr_u8(NFULA_CFG_CMD, cmd);
    b.finish()
}

/// Binds this socket to `group`, so its packets come here.
#[must_use]
pub fn bind(group: u16, seq: u32) -> Vec<u8> {
    command(AF_UNSPEC, group, CMD_BIND, seq)
}

/// Unbinds this socket from `group`.
#[must_use]
pub fn unbind(group: u16, seq: u32) -> Vec<u8> {
    command(AF_UNSPEC, group, CMD_UNBIND, seq)
}

/// Makes nfnetlink_log the logger of address family `family` (kernels before
/// 3.17 need this; later ones accept and ignore it).
#[must_use]
pub fn pf_bind(family: u8, seq: u32) -> Vec<u8> {
    command(family, 0, CMD_PF_BIND, seq)
}

/// Undoes [`pf_bind`] for `family`.
#[must_use]
pub fn pf_unbind(family: u8, seq: u32) -> Vec<u8> {
    command(family, 0, CMD_PF_UNBIND, seq)
}

/// Sets the copy mode of `group`: `mode` is one of [`COPY_NONE`],
/// [`COPY_META`], [`COPY_PACKET`]; `range` the number of packet bytes to copy.
#[must_use]
pub fn copy_mode(group: u16, mode: u8, range: u32, seq: u32) -> Vec<u8> {
    let mut v = [0u8; 6];
    v[..4].copy_from_slice(&range.to_be_bytes());
    v[4] = mode;
    let mut b = start(AF_UNSPEC, group, seq);
    b.attr(NFULA_CFG_MODE, &v);
    b.finish()
}

/// Copies packets of `group` up to `range` bytes ([`COPY_PACKET`]).
#[must_use]
pub fn copy_packet(group: u16, range: u32, seq: u32) -> Vec<u8> {
    copy_mode(group, COPY_PACKET, range, seq)
}

/// Sets the `NFULNL_CFG_F_*` flags of `group` (for example
/// `F_SEQ | F_SEQ_GLOBAL | F_CONNTRACK`).
#[must_use]
pub fn flags(group: u16, flags: u16, seq: u32) -> Vec<u8> {
    let mut b = start(AF_UNSPEC, group, seq);
    b.attr_be16(NFULA_CFG_FLAGS, flags);
    b.finish()
}

fn u32_setting(group: u16, kind: u16, value: u32, seq: u32) -> Vec<u8> {
    let mut b = start(AF_UNSPEC, group, seq);
    b.attr_be32(kind, value);
    b.finish()
}

/// Sets the size of the kernel's batching buffer for `group`, in bytes.
#[must_use]
pub fn nlbufsiz(group: u16, bytes: u32, seq: u32) -> Vec<u8> {
    u32_setting(group, NFULA_CFG_NLBUFSIZ, bytes, seq)
}

/// Sets how many packets the kernel batches before sending, for `group`.
#[must_use]
pub fn qthresh(group: u16, packets: u32, seq: u32) -> Vec<u8> {
    u32_setting(group, NFULA_CFG_QTHRESH, packets, seq)
}

/// Sets how long the kernel waits before sending a partial batch, in 1/100 s.
#[must_use]
pub fn timeout(group: u16, centiseconds: u32, seq: u32) -> Vec<u8> {
    u32_setting(group, NFULA_CFG_TIMEOUT, centiseconds, seq)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::netlink::{self, Nfgenmsg};

    fn one(bytes: &[u8]) -> (Nfgenmsg, Vec<(u16, Vec<u8>)>) {
        let m = netlink::messages(bytes).next().unwrap().unwrap();
        assert_eq!(m.msg_type, 0x0401);
        assert_eq!(m.flags, NLM_F_REQUEST | NLM_F_ACK);
        assert_eq!(usize::try_from(m.len).unwrap(), bytes.len());
        let (g, a) = m.nfgenmsg().unwrap();
        let attrs: Result<Vec<_>, _> = netlink::attrs(a)
            .map(|a| a.map(|a| (a.kind, a.payload.to_vec())))
            .collect();
        (g, attrs.unwrap())
    }

    #[test]
    fn bytes_match_the_kernel_layout() {
        let (g, a) = one(&bind(5, 1));
        assert_eq!(
            g,
            Nfgenmsg {
                family: 0,
                version: 0,
                res_id: 5
            }
        );
        assert_eq!(a, vec![(NFULA_CFG_CMD, vec![CMD_BIND])]);
        let (g, a) = one(&pf_bind(2, 1));
        assert_eq!((g.family, g.res_id), (2, 0));
        assert_eq!(a, vec![(NFULA_CFG_CMD, vec![CMD_PF_BIND])]);
        let (_, a) = one(&copy_packet(5, 0xffff, 2));
        assert_eq!(a, vec![(NFULA_CFG_MODE, vec![0, 0, 0xff, 0xff, 2, 0])]);
        let (_, a) = one(&flags(5, F_SEQ | F_SEQ_GLOBAL | F_CONNTRACK, 3));
        assert_eq!(a, vec![(NFULA_CFG_FLAGS, vec![0, 7])]);
        let (_, a) = one(&nlbufsiz(5, 0x0001_0000, 4));
        assert_eq!(a, vec![(NFULA_CFG_NLBUFSIZ, vec![0, 1, 0, 0])]);
        let (_, a) = one(&qthresh(5, 1, 4));
        assert_eq!(a, vec![(NFULA_CFG_QTHRESH, vec![0, 0, 0, 1])]);
        let (_, a) = one(&timeout(5, 100, 4));
        assert_eq!(a, vec![(NFULA_CFG_TIMEOUT, vec![0, 0, 0, 100])]);
        assert_eq!(
            one(&unbind(5, 1)).1,
            vec![(NFULA_CFG_CMD, vec![CMD_UNBIND])]
        );
        assert_eq!(
            one(&pf_unbind(10, 1)).1,
            vec![(NFULA_CFG_CMD, vec![CMD_PF_UNBIND])]
        );
    }
}
