//! A fixed number of parses of one benchmark message, for instruction counting under
//! `valgrind --tool=callgrind` (see benches/callgrind.sh). Instruction counts do not move with
//! the machine's load, so the sip-wire / rsip ratio they give is repeatable where criterion's
//! wall-clock figures on a shared machine vary by ±20%.
//!
//! `cargo run --release --example parse_loop -- <sip-wire|rsip> <parse|hot-path> <message> <n>`
#![allow(clippy::unwrap_used)] // a measurement harness over known-good messages

use std::hint::black_box;

use bytes::Bytes;
use rsip::prelude::*;
use sip_wire::Message;

fn message(name: &str) -> &'static [u8] {
    match name {
        "register-outbound" => include_bytes!("../benches/messages/register-outbound.sip"),
        "invite-1k" => include_bytes!("../benches/messages/invite-1k.sip"),
        "200-ok-record-route" => include_bytes!("../benches/messages/200-ok-record-route.sip"),
        "100-trying" => include_bytes!("../benches/messages/100-trying.sip"),
        other => panic!("unknown message {other}"),
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, parser, what, msg, n] = &args[..] else {
        eprintln!("usage: parse_loop <sip-wire|rsip> <parse|hot-path> <message> <iterations>");
        std::process::exit(2);
    };
    let raw = message(msg);
    let n: usize = n.parse().unwrap();
    let bytes = Bytes::from_static(raw);
    for _ in 0..n {
        match (parser.as_str(), what.as_str()) {
            ("sip-wire", "parse") => {
                let m = Message::parse_datagram(black_box(bytes.clone())).unwrap();
                black_box(m.header_count());
            }
            ("rsip", "parse") => {
                let m = rsip::SipMessage::try_from(black_box(raw)).unwrap();
                black_box(m.headers().iter().count());
            }
            ("sip-wire", "hot-path") => {
                let m = Message::parse_datagram(black_box(bytes.clone())).unwrap();
                let via = m.top_via().unwrap().unwrap();
                black_box((
                    via.branch().unwrap().len(),
                    m.call_id().unwrap().len(),
                    m.cseq().unwrap().unwrap().seq,
                    m.from().unwrap().unwrap().tag().unwrap().len(),
                ));
            }
            ("rsip", "hot-path") => {
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
                ));
            }
            other => panic!("unknown combination {other:?}"),
        }
    }
}
