//! Walks netlink messages and (nested) attributes of arbitrary bytes.
#![no_main]
use inetmon_core::decode::netlink;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for m in netlink::messages(data).flatten() {
        let _ = m.error_code();
        if let Ok((_, attrs)) = m.nfgenmsg() {
            for a in netlink::attrs(attrs).flatten() {
                let _ = (a.be32(), a.be64(), a.nested().count());
            }
        }
    }
});
