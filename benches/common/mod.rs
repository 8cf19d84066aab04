//! The workloads the parser benchmarks measure, shared by benches/parse.rs (criterion, wall
//! clock) and examples/parse_loop.rs (callgrind, instructions) so both measure the same thing.
// Each includer uses a different subset; unwrap is fine over known-good messages.
#![allow(dead_code, clippy::unwrap_used)]

use std::hint::black_box;

use bytes::Bytes;
use rsip::prelude::*;
use sip_wire::Message;

/// The realistic messages, by name.
pub(crate) const MESSAGES: &[(&str, &[u8])] = &[
    (
        "register-outbound",
        include_bytes!("../messages/register-outbound.sip"),
    ),
    ("invite-1k", include_bytes!("../messages/invite-1k.sip")),
    (
        "200-ok-record-route",
        include_bytes!("../messages/200-ok-record-route.sip"),
    ),
    ("100-trying", include_bytes!("../messages/100-trying.sip")),
];

/// The message called `name`.
pub(crate) fn message(name: &str) -> Option<&'static [u8]> {
    MESSAGES.iter().find(|(n, _)| *n == name).map(|(_, m)| *m)
}

/// sip-wire turns the bytes into a message.
#[inline]
pub(crate) fn sip_wire_parse(bytes: &Bytes) -> usize {
    let m = Message::parse_datagram(black_box(bytes.clone())).unwrap();
    black_box(m.header_count())
}

/// rsip turns the bytes into a message.
#[inline]
pub(crate) fn rsip_parse(raw: &[u8]) -> usize {
    let m = rsip::SipMessage::try_from(black_box(raw)).unwrap();
    black_box(m.headers().iter().count())
}

/// What the proxy does first with every request: index it and read the top Via branch,
/// Call-ID, CSeq and From tag.
#[inline]
pub(crate) fn sip_wire_hot(bytes: &Bytes) -> (usize, usize, u32, usize) {
    let m = Message::parse_datagram(black_box(bytes.clone())).unwrap();
    let via = m.top_via().unwrap().unwrap();
    black_box((
        via.branch().unwrap().len(),
        m.call_id().unwrap().len(),
        m.cseq().unwrap().unwrap().seq,
        m.from().unwrap().unwrap().tag().unwrap().len(),
    ))
}

/// The same with rsip.
#[inline]
pub(crate) fn rsip_hot(raw: &[u8]) -> (usize, usize, u32, usize) {
    let m = rsip::Request::try_from(black_box(raw)).unwrap();
    black_box((
        m.via_header()
            .unwrap()
            .typed()
            .unwrap()
            .branch()
            .unwrap()
            .to_string()
            .len(),
        m.call_id_header().unwrap().value().len(),
        m.cseq_header().unwrap().typed().unwrap().seq,
        m.from_header()
            .unwrap()
            .tag()
            .unwrap()
            .unwrap()
            .value()
            .len(),
    ))
}
