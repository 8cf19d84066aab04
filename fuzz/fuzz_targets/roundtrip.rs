//! parse → encode (no edits) → parse: a valid message re-encodes to a message with the same
//! header count, body and views; and to the same bytes when nothing was tolerated.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use sip_wire::{Message, Rewrite};

fuzz_target!(|data: &[u8]| {
    let Ok(m) = Message::parse_datagram(Bytes::copy_from_slice(data)) else {
        return;
    };
    if m.validate().is_err() {
        return;
    }
    let mut out = Vec::new();
    Rewrite::new(&m)
        .write_to(&mut out)
        .expect("an unedited valid message re-encodes");
    if m.tolerated().is_empty() {
        assert_eq!(out.as_slice(), m.as_bytes());
    }
    let again = Message::parse_datagram(Bytes::from(out)).expect("re-encoded message parses");
    assert!(again.tolerated().is_empty());
    assert_eq!(again.header_count(), m.header_count());
    assert_eq!(again.body(), m.body());
    assert_eq!(again.call_id(), m.call_id());
    assert_eq!(again.validate(), Ok(()));
});
