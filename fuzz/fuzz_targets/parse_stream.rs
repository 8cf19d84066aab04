//! A byte stream delivered in two reads to a `StreamDecoder`: framing never panics, and the
//! split point does not change what comes out.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use sip_wire::{StreamDecoder, StreamEvent};

fn drain(d: &mut StreamDecoder, buf: &mut BytesMut, out: &mut Vec<Vec<u8>>) -> bool {
    // Every event consumes at least two octets, so this bound is never what stops the loop.
    for _ in 0..=buf.len() {
        match d.decode(buf) {
            Ok(StreamEvent::Message(m)) => out.push(m.as_bytes().to_vec()),
            Ok(StreamEvent::Ping) => out.push(b"PING".to_vec()),
            Ok(StreamEvent::Pong) => out.push(b"PONG".to_vec()),
            Ok(StreamEvent::Partial) => return true,
            Err(_) => return false,
        }
    }
    true
}

fuzz_target!(|data: &[u8]| {
    if data.is_empty() {
        return;
    }
    let cut = usize::from(data[0]) % data.len();
    let body = &data[1..];
    let cut = cut.min(body.len());

    // One decoder over the whole input, one fed in two reads: the same events.
    let mut whole = BytesMut::from(body);
    let mut a = Vec::new();
    let ok_a = drain(&mut StreamDecoder::new(), &mut whole, &mut a);

    let mut d = StreamDecoder::new();
    let mut split = BytesMut::from(&body[..cut]);
    let mut b = Vec::new();
    let mut ok_b = drain(&mut d, &mut split, &mut b);
    if ok_b {
        split.extend_from_slice(&body[cut..]);
        ok_b = drain(&mut d, &mut split, &mut b);
    }
    if ok_a && ok_b {
        assert_eq!(a, b);
    }
});
