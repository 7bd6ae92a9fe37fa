use super::*;

fn sample() -> Vec<u8> {
    let mut b = NlMsgBuilder::new(0x0400, NLM_F_MULTI, 9);
    b.pid(77).nfgenmsg(2, 0, 0x1234);
    b.attr_be32(2, 0xdead_beef);
    b.attr(10, b"abc\0");
    let n = b.begin_nested(7);
    b.attr_u8(1, 6);
    b.attr_be16(2, 80);
    b.end_nested(n);
    let mut d = b.finish();
    d.extend(
        NlMsgBuilder::new(NLMSG_DONE, NLM_F_MULTI, 9)
            .raw(&0i32.to_ne_bytes())
            .clone()
            .finish(),
    );
    d
}

#[test]
fn walks_messages_and_attributes() {
    let d = sample();
    let msgs: Vec<_> = messages(&d).collect::<Result<_, _>>().unwrap();
    assert_eq!(msgs.len(), 2);
    let m = msgs[0];
    assert_eq!(
        (m.kind(), m.flags, m.seq, m.pid),
        (NlMsgKind::Data, NLM_F_MULTI, 9, 77)
    );
    assert_eq!((m.nfnl_subsys(), m.nfnl_msg()), (NFNL_SUBSYS_ULOG, 0));
    let (g, a) = m.nfgenmsg().unwrap();
    assert_eq!(
        g,
        Nfgenmsg {
            family: 2,
            version: 0,
            res_id: 0x1234
        }
    );
    let at: Vec<_> = attrs(a).collect::<Result<_, _>>().unwrap();
    assert_eq!(at.len(), 3);
    assert_eq!(at[0].be32(), Ok(0xdead_beef));
    assert_eq!(at[1].payload, b"abc\0");
    assert!(at[2].nested && at[2].kind == 7);
    let inner: Vec<_> = at[2].nested().collect::<Result<_, _>>().unwrap();
    assert_eq!((inner[0].u8(), inner[1].be16()), (Ok(6), Ok(80)));
    assert_eq!(msgs[1].kind(), NlMsgKind::Done);
    assert_eq!(msgs[1].offset, usize::try_from(m.len).unwrap());
}

#[test]
fn error_message_code() {
    let mut b = NlMsgBuilder::new(NLMSG_ERROR, 0, 1);
    b.raw(&(-1i32).to_ne_bytes()).raw(&[0; 16]);
    let d = b.finish();
    let m = messages(&d).next().unwrap().unwrap();
    assert_eq!((m.kind(), m.error_code()), (NlMsgKind::Error, Some(-1)));
}

#[test]
fn every_truncation_is_an_error_not_a_panic() {
    let d = sample();
    let first_len = usize::try_from(messages(&d).next().unwrap().unwrap().len).unwrap();
    for cut in 0..d.len() {
        let r: Result<Vec<_>, _> = messages(&d[..cut]).collect();
        if cut == 0 || cut == first_len {
            // Empty, or exactly the first message.
            assert!(r.is_ok(), "cut {cut}");
        } else {
            assert!(r.is_err(), "cut {cut} should fail");
        }
    }
    // Truncating the attribute block of the first message.
    let m = messages(&d).next().unwrap().unwrap();
    let (_, a) = m.nfgenmsg().unwrap();
    let ends = [8usize, 16];
    for cut in 1..a.len() {
        let r: Result<Vec<_>, _> = attrs(&a[..cut]).collect();
        assert_eq!(r.is_ok(), ends.contains(&cut), "cut {cut}");
    }
    assert_eq!(
        split_nfgenmsg(&[1, 2, 3]),
        Err(NetlinkDecodeError::NfgenmsgLen { have: 3 })
    );
}

#[test]
fn short_lengths_rejected_without_underflow() {
    let mut d = sample();
    d[0..4].copy_from_slice(&3u32.to_ne_bytes());
    assert_eq!(
        messages(&d).next(),
        Some(Err(NetlinkDecodeError::MsgLenTooSmall {
            offset: 0,
            len: 3
        }))
    );
    for len in 0u16..4 {
        let mut a = len.to_ne_bytes().to_vec();
        a.extend_from_slice(&[1, 0, 0, 0, 0, 0]);
        let mut it = attrs(&a);
        assert_eq!(
            it.next(),
            Some(Err(NetlinkDecodeError::AttrLenTooSmall { offset: 0, len }))
        );
        assert_eq!(it.next(), None, "stops after the first error");
    }
}

#[test]
fn type_bits_are_masked_and_order_selectable() {
    let a = [8, 0, 0x04, 0x40, 1, 2, 3, 4];
    let x = attrs_with_order(&a, HeaderOrder::Little)
        .next()
        .unwrap()
        .unwrap();
    assert_eq!((x.kind, x.net_byteorder, x.nested), (4, true, false));
    assert_eq!(x.ne32().map(|_| ()), Ok(()));
    let b = [0, 8, 0x80, 0x03, 1, 2, 3, 4];
    let y = attrs_with_order(&b, HeaderOrder::Big)
        .next()
        .unwrap()
        .unwrap();
    assert_eq!((y.kind, y.nested), (3, true));
    assert_eq!(
        y.be16(),
        Err(NetlinkDecodeError::ValueLen {
            attr: 3,
            expected: 2,
            got: 4
        })
    );
    assert_eq!(y.prefix::<2>(), Ok([1, 2]));
}

#[test]
fn garbage_never_panics() {
    let mut seed = 0x1234_5678u32;
    for len in 0..200usize {
        let v: Vec<u8> = (0..len)
            .map(|_| {
                seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
                (seed >> 16) as u8
            })
            .collect();
        for m in messages(&v).flatten() {
            if let Ok((_, a)) = m.nfgenmsg() {
                for x in attrs(a).flatten() {
                    let _ = x.nested().count();
                }
            }
        }
        let _ = attrs(&v).count();
    }
}

/// What `attrs_with_order` yields: the (kind, value) pairs before the first
/// error, and that error.
fn walk_iter(
    block: &[u8],
    order: HeaderOrder,
) -> (Vec<(u16, Vec<u8>)>, Option<NetlinkDecodeError>) {
    let mut out = Vec::new();
    for a in attrs_with_order(block, order) {
        match a {
            Ok(a) => out.push((a.kind, a.payload.to_vec())),
            Err(e) => return (out, Some(e)),
        }
    }
    (out, None)
}

fn walk_visit(
    block: &[u8],
    order: HeaderOrder,
) -> (Vec<(u16, Vec<u8>)>, Option<NetlinkDecodeError>) {
    let mut out = Vec::new();
    let r = for_each_attr(block, order, |k, v| {
        out.push((k, v.to_vec()));
        Ok::<(), NetlinkDecodeError>(())
    });
    (out, r.err())
}

proptest::proptest! {
    /// `for_each_attr` sees the same attributes and fails with the same
    /// error as the attribute iterator, on any bytes and in every order.
    #[test]
    fn for_each_attr_is_the_iterator(
        block in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..64),
        nice in proptest::prelude::any::<bool>(),
    ) {
        // Half the cases: lengths that make plausible attributes.
        let mut block = block;
        if nice && block.len() >= 4 {
            let n = u16::try_from(block.len().min(12)).unwrap();
            block[..2].copy_from_slice(&n.to_le_bytes());
        }
        for order in [HeaderOrder::Native, HeaderOrder::Little, HeaderOrder::Big] {
            proptest::prop_assert_eq!(walk_visit(&block, order), walk_iter(&block, order));
        }
    }
}

#[test]
fn for_each_attr_walks_the_sample() {
    let d = sample();
    let m = messages(&d).next().unwrap().unwrap();
    let (_, attrs) = m.nfgenmsg().unwrap();
    let (got, err) = walk_visit(attrs, HeaderOrder::Native);
    assert_eq!(err, None);
    assert_eq!(got, walk_iter(attrs, HeaderOrder::Native).0);
    assert_eq!(got.len(), 3);
}
