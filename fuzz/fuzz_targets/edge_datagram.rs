//! One UDP datagram through the edge, as a shard handles it: STUN demultiplexed by its first
//! octet, everything else parsed and answered or dropped. Properties: no panic; an answer to
//! SIP parses as a response; a STUN answer is a Binding response whose length field matches.
#![no_main]

use bytes::Bytes;
use edge_core::counters::{Counters, Transport};
use edge_core::local::{Edge, EdgeConfig, Outcome, Source};
use edge_core::{stun, Instant};
use libfuzzer_sys::fuzz_target;
use sip_wire::Message;

fuzz_target!(|data: &[u8]| {
    let src = Source {
        transport: Transport::Udp,
        remote: "192.0.2.9:5099".parse().unwrap(),
        local: "127.0.0.1:5060".parse().unwrap(),
    };
    let mut out = Vec::new();
    if stun::is_stun(data) {
        if stun::answer_binding(data, src.remote, &mut out).is_ok() {
            assert!(out.len() >= 20);
            assert_eq!(usize::from(u16::from_be_bytes([out[2], out[3]])) + 20, out.len());
            assert_eq!(&out[8..20], &data[8..20]);
        }
        return;
    }
    let mut edge = Edge::new(
        &EdgeConfig {
            hosts: vec!["example.com".into()],
            listen: vec![src.local],
            supported: vec!["path".into()],
        },
        1,
    );
    let mut c = Counters::default();
    let o = match Message::parse_datagram(Bytes::copy_from_slice(data)) {
        Ok(m) => edge.handle_message(Instant::default(), &m, &src, &mut out, &mut c),
        Err(e) => edge.handle_malformed(&e, data, &src, &mut out, &mut c),
    };
    if o == Outcome::Reply {
        let r = Message::parse_datagram(Bytes::from(out))
            .unwrap_or_else(|e| panic!("the edge's answer does not parse: {e:?}"));
        assert!(!r.is_request());
        assert!(r.top_via().is_some());
    } else {
        assert!(out.is_empty());
    }
});
