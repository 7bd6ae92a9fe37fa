//! The client protocol's frame and body decoders must never panic on what
//! a peer sends, and a frame they accept must re-encode to the same bytes.
#![no_main]

use inetmon_core::protocol::{
    decode_event, decode_frame, decode_hello, decode_refused, decode_welcome, encode_refused,
    FrameType, MAX_FRAME,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut at = 0;
    while let Ok(Some((frame, used))) = decode_frame(&data[at..]) {
        assert!(used >= 5 && used <= MAX_FRAME as usize + 4);
        match frame.kind {
            FrameType::Hello => {
                let _ = decode_hello(frame.body);
            }
            FrameType::Welcome => {
                let _ = decode_welcome(frame.body);
            }
            FrameType::Refused => {
                if let Ok((code, text)) = decode_refused(frame.body) {
                    if !text.contains('\n') {
                        let mut again = Vec::new();
                        encode_refused(code, &text, &mut again);
                        assert_eq!(&again[..], &data[at..at + used]);
                    }
                }
            }
            FrameType::Event => {
                let _ = decode_event(frame.body);
            }
        }
        at += used;
    }
});
