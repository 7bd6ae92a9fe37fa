//! Looking a traced rule up by its handle: the `NFT_MSG_GETRULE` request
//! and the rule's comment from the `NFT_MSG_NEWRULE` answer.
//!
//! `nft monitor trace` prints a traced rule's text by dumping the ruleset
//! and decompiling each rule's expressions. inetmon names the rule by its
//! handle and, when the rule has one, its comment (`comment "…"`), which
//! nft stores in the rule's user data (`NFTA_RULE_USERDATA`: a list of
//! `type u8, len u8, value` items, type 0 the NUL-terminated comment).

use super::{NftTraceError, NFNL_SUBSYS_NFTABLES};
use crate::decode::netlink::{
    self, HeaderOrder, NetlinkDecodeError, NlMsg, NlMsgBuilder, NLM_F_ACK, NLM_F_REQUEST,
};

/// `NFT_MSG_NEWRULE`: a rule (the answer to a get).
pub const NFT_MSG_NEWRULE: u8 = 6;
/// `NFT_MSG_GETRULE`.
pub const NFT_MSG_GETRULE: u8 = 7;

/// `NFTA_RULE_*` attribute types.
pub mod attr {
    /// Table name, string.
    pub const TABLE: u16 = 1;
    /// Chain name, string.
    pub const CHAIN: u16 = 2;
    /// Handle, BE u64.
    pub const HANDLE: u16 = 3;
    /// User data (libnftnl `nftnl_udata` items).
    pub const USERDATA: u16 = 7;
}

/// `NFTNL_UDATA_RULE_COMMENT`: the comment item of a rule's user data.
pub const UDATA_RULE_COMMENT: u8 = 0;

/// The request for one rule of table `table` (of family `family`), chain
/// `chain`, by handle, asking for an acknowledgement after the answer.
#[must_use]
pub fn getrule_request(family: u8, table: &str, chain: &str, handle: u64, seq: u32) -> Vec<u8> {
    let t = u16::from(NFNL_SUBSYS_NFTABLES) << 8 | u16::from(NFT_MSG_GETRULE);
    let mut b = NlMsgBuilder::new(t, NLM_F_REQUEST | NLM_F_ACK, seq);
    let z = |s: &str| {
        let mut v = s.as_bytes().to_vec();
        v.push(0);
        v
    };
    b.nfgenmsg(family, 0, 0)
        .attr(attr::TABLE, &z(table))
        .attr(attr::CHAIN, &z(chain))
        .attr_be64(attr::HANDLE, handle);
    b.finish()
}

/// What inetmon takes from a rule message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RuleInfo<'a> {
    /// `NFTA_RULE_HANDLE`.
    pub handle: Option<u64>,
    /// The comment of the rule's user data, when it has one.
    pub comment: Option<&'a str>,
}

/// The comment item of a rule's user data, if any. Items are walked until
/// one does not fit; a comment that is not UTF-8 is left out.
#[must_use]
pub fn udata_comment(udata: &[u8]) -> Option<&str> {
    let mut rest = udata;
    while let [ty, len, tail @ ..] = rest {
        let value = tail.get(..usize::from(*len))?;
        if *ty == UDATA_RULE_COMMENT {
            let end = value.iter().position(|&c| c == 0).unwrap_or(value.len());
            return std::str::from_utf8(value.get(..end)?).ok();
        }
        rest = tail.get(usize::from(*len)..)?;
    }
    None
}

/// Decodes an `NFT_MSG_NEWRULE` message.
///
/// # Errors
/// [`NftTraceError::NotTrace`] (naming the type) for another message;
/// framing and value-size errors.
pub fn rule_from_msg<'a>(msg: &NlMsg<'a>) -> Result<RuleInfo<'a>, NftTraceError> {
    if msg.nfnl_subsys() != NFNL_SUBSYS_NFTABLES || msg.nfnl_msg() != NFT_MSG_NEWRULE {
        return Err(NftTraceError::NotTrace {
            msg_type: msg.msg_type,
        });
    }
    let (_, attrs) = msg.nfgenmsg()?;
    let mut r = RuleInfo::default();
    netlink::for_each_attr(attrs, HeaderOrder::Native, |kind, v| {
        match kind {
            attr::HANDLE => {
                let b: [u8; 8] = v.try_into().map_err(|_| NetlinkDecodeError::ValueLen {
                    attr: kind,
                    expected: 8,
                    got: v.len(),
                })?;
                r.handle = Some(u64::from_be_bytes(b));
            }
            attr::USERDATA => r.comment = udata_comment(v),
            _ => {}
        }
        Ok::<(), NftTraceError>(())
    })?;
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::netlink::messages;

    #[test]
    fn request_layout() {
        let m = getrule_request(1, "t", "input", 8, 5);
        let msg = messages(&m).next().unwrap().unwrap();
        assert_eq!(msg.msg_type, 0x0a07);
        assert_eq!(msg.flags, NLM_F_REQUEST | NLM_F_ACK);
        assert_eq!(msg.seq, 5);
        let (gen, attrs) = msg.nfgenmsg().unwrap();
        assert_eq!(gen.family, 1);
        let a: Vec<_> = netlink::attrs(attrs).map(Result::unwrap).collect();
        assert_eq!(a[0].payload, b"t\0");
        assert_eq!(a[1].payload, b"input\0");
        assert_eq!(a[2].be64(), Ok(8));
    }

    #[test]
    fn comment_from_user_data() {
        // A comment after another item, and items that do not fit.
        assert_eq!(
            udata_comment(&[3, 1, 9, 0, 4, b'd', b'n', b's', 0]),
            Some("dns")
        );
        assert_eq!(udata_comment(&[0, 9, b'x']), None);
        assert_eq!(udata_comment(&[1, 1, 0]), None);
        assert_eq!(udata_comment(&[0, 2, 0xff, 0]), None);
        assert_eq!(udata_comment(&[]), None);
    }

    #[test]
    fn newrule_message() {
        let mut b = NlMsgBuilder::new(0x0a06, 0, 1);
        b.nfgenmsg(1, 0, 0)
            .attr(attr::TABLE, b"t\0")
            .attr_be64(attr::HANDLE, 7)
            .attr(attr::USERDATA, &[0, 3, b'o', b'k', 0]);
        let d = b.finish();
        let m = messages(&d).next().unwrap().unwrap();
        assert_eq!(
            rule_from_msg(&m),
            Ok(RuleInfo {
                handle: Some(7),
                comment: Some("ok")
            })
        );
        for n in 0..d.len() {
            if let Some(Ok(m)) = messages(&d[..n]).next() {
                let _ = rule_from_msg(&m);
            }
        }
        let other = NlMsgBuilder::new(0x0a11, 0, 1).finish();
        let m = messages(&other).next().unwrap().unwrap();
        assert!(rule_from_msg(&m).is_err());
    }
}
