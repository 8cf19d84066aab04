#![allow(missing_docs)] // criterion_group! generates undocumented items
#![allow(clippy::unwrap_used)] // a benchmark of known-good messages: a failure should stop it loudly
//! Parser benchmarks: sip-wire beside the `rsip` crate on the same realistic messages.
//!
//! `cargo bench --bench parse` — groups:
//! - `parse/<message>/{sip-wire,rsip}`: turn the bytes into a message (sip-wire indexes;
//!   rsip builds its owned message), `Throughput::Bytes`.
//! - `hot-path/invite-1k/{sip-wire,rsip}`: what the proxy does first with every request: index a
//!   1 KB INVITE and extract the top Via branch, Call-ID, CSeq and the From tag.
//!
//! BENCHMARKS.md records the figures, the ratio and the date.

use std::hint::black_box;

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use rsip::prelude::*;
use sip_wire::Message;

const MESSAGES: &[(&str, &[u8])] = &[
    (
        "register-outbound",
        include_bytes!("messages/register-outbound.sip"),
    ),
    ("invite-1k", include_bytes!("messages/invite-1k.sip")),
    (
        "200-ok-record-route",
        include_bytes!("messages/200-ok-record-route.sip"),
    ),
    ("100-trying", include_bytes!("messages/100-trying.sip")),
];

fn parse(c: &mut Criterion) {
    for &(name, raw) in MESSAGES {
        let bytes = Bytes::from_static(raw);
        let mut g = c.benchmark_group(format!("parse/{name}"));
        g.throughput(Throughput::Bytes(raw.len() as u64));
        g.bench_function("sip-wire", |b| {
            b.iter(|| {
                let m = Message::parse_datagram(black_box(bytes.clone())).unwrap();
                black_box(m.header_count())
            })
        });
        g.bench_function("rsip", |b| {
            b.iter(|| {
                let m = rsip::SipMessage::try_from(black_box(raw)).unwrap();
                black_box(m.headers().iter().count())
            })
        });
        g.finish();
    }
}

fn hot_path(c: &mut Criterion) {
    let raw: &'static [u8] = MESSAGES[1].1;
    let bytes = Bytes::from_static(raw);
    let mut g = c.benchmark_group("hot-path/invite-1k");
    g.throughput(Throughput::Bytes(raw.len() as u64));
    g.bench_function("sip-wire", |b| {
        b.iter(|| {
            let m = Message::parse_datagram(black_box(bytes.clone())).unwrap();
            let via = m.top_via().unwrap().unwrap();
            let branch = via.branch().unwrap().len();
            let call_id = m.call_id().unwrap().len();
            let cseq = m.cseq().unwrap().unwrap().seq;
            let tag = m.from().unwrap().unwrap().tag().unwrap().len();
            black_box((branch, call_id, cseq, tag))
        })
    });
    g.bench_function("rsip", |b| {
        b.iter(|| {
            let m = rsip::Request::try_from(black_box(raw)).unwrap();
            let branch = m
                .via_header()
                .unwrap()
                .typed()
                .unwrap()
                .branch()
                .unwrap()
                .to_string()
                .len();
            let call_id = m.call_id_header().unwrap().value().len();
            let cseq = m.cseq_header().unwrap().typed().unwrap().seq;
            let tag = m
                .from_header()
                .unwrap()
                .tag()
                .unwrap()
                .unwrap()
                .value()
                .len();
            black_box((branch, call_id, cseq, tag))
        })
    });
    g.finish();
}

criterion_group!(benches, parse, hot_path);
criterion_main!(benches);
