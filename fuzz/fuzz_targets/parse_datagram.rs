//! One datagram: index it, validate it, decode every view, and write a response and a rewrite.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use sip_wire::{Contact, HeaderName, Message, ResponseBuilder, Rewrite};

fuzz_target!(|data: &[u8]| {
    let Ok(m) = Message::parse_datagram(Bytes::copy_from_slice(data)) else {
        return;
    };
    let _ = m.validate();
    let _ = (
        m.request_uri(),
        m.method(),
        m.status(),
        m.reason(),
        m.call_id(),
        m.cseq(),
    );
    let _ = (
        m.from(),
        m.to(),
        m.max_forwards(),
        m.expires(),
        m.body().len(),
    );
    for v in m.vias().flatten() {
        let _ = (v.branch(), v.received(), v.rport(), v.params.iter().count());
    }
    for c in m.contacts().flatten() {
        if let Contact::Addr(a) = c {
            if let Ok(sip_wire::Uri::Sip(u)) = a.uri() {
                let _ = (u.user.map(|e| e.decode()), u.params().count(), u.headers());
            }
        }
    }
    let _ = m.routes().count() + m.record_routes().count() + m.paths().count();
    for a in m.auths(HeaderName::Authorization).flatten() {
        let _ = a.params().count();
    }
    let mut out = Vec::new();
    let _ = ResponseBuilder::new(&m, 400)
        .to_tag(b"f")
        .write_to(&mut out);
    out.clear();
    if Rewrite::new(&m)
        .push_via(b"SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKf")
        .pop_via()
        .prepend_record_route(b"<sip:192.0.2.1;lr>")
        .decrement_max_forwards()
        .write_to(&mut out)
        .is_ok()
    {
        // A rewritten valid message is still a message.
        if m.validate().is_ok() {
            assert!(Message::parse_datagram(Bytes::from(out)).is_ok());
        }
    }
});
