//! Feeds whole files (not single records) through the streaming decoder
//! that `decode::sniff::search` picks, in small and odd-sized chunks, and
//! checks what issue 10 items 1–3 fixed: the result does not depend on the
//! chunking, damaged regions never overlap and stay within the input, and
//! the decoder never holds more than the input. `fuzz/run.sh` runs it with
//! a memory limit, so an allocation that follows a length field fails.
//! The first byte of the input picks the chunk sizes; the rest is the file.
#![no_main]

use inetmon_core::decode::iplog::IplogDecoder;
use inetmon_core::decode::pcap::PcapDecoder;
use inetmon_core::decode::sniff::{search, FileFormat};
use inetmon_core::decode::StreamDecoder;
use inetmon_core::event::{Event, Source};
use libfuzzer_sys::fuzz_target;

fn decoder(format: Option<FileFormat>) -> Box<dyn StreamDecoder> {
    match format {
        Some(FileFormat::Iplog) => Box::new(IplogDecoder::new(Source::Stdin)),
        _ => Box::new(PcapDecoder::new(Source::Stdin)),
    }
}

fn decode(file: &[u8], format: Option<FileFormat>, sizes: &[usize]) -> Vec<Event> {
    let mut d = decoder(format);
    let mut out = Vec::new();
    let mut rest = file;
    for &n in sizes.iter().cycle() {
        if rest.is_empty() {
            break;
        }
        let (a, b) = rest.split_at(n.min(rest.len()));
        d.feed(a);
        rest = b;
        while let Some(e) = d.next_event() {
            out.push(e);
        }
    }
    while let Some(e) = d.finish() {
        out.push(e);
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let Some((&pick, file)) = data.split_first() else {
        return;
    };
    let format = search(file);
    let whole = decode(file, format, &[usize::MAX]);
    let sizes: &[usize] = match pick % 4 {
        0 => &[1],
        1 => &[3, 7, 13],
        2 => &[16, 1, 255, 24],
        _ => &[4093, 17],
    };
    let chunked = decode(file, format, sizes);
    assert_eq!(whole, chunked, "chunks of {sizes:?}");
    let mut end = 0;
    for e in &whole {
        if let Event::Malformed(m) = e {
            assert!(m.offset >= end, "regions overlap");
            end = m.offset + m.skipped;
            assert!(end <= file.len() as u64, "region beyond the input");
        }
    }
});
