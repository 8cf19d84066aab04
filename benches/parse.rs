//! Parser benchmarks: sip-wire beside the `rsip` crate on the same realistic messages.
//!
//! `cargo bench --bench parse` — groups:
//! - `parse/<message>/{sip-wire,rsip}`: turn the bytes into a message (sip-wire indexes;
//!   rsip builds its owned message), `Throughput::Bytes`.
//! - `hot-path/invite-1k/{sip-wire,rsip}`: what the proxy does first with every request: index a
//!   1 KB INVITE and extract the top Via branch, Call-ID, CSeq and the From tag.
//!
//! The workloads live in benches/common, shared with examples/parse_loop.rs (instruction
//! counts). BENCHMARKS.md records the figures, the ratio and the date.
#![allow(missing_docs)] // criterion_group! generates undocumented items

mod common;

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

fn parse(c: &mut Criterion) {
    for &(name, raw) in common::MESSAGES {
        let bytes = Bytes::from_static(raw);
        let mut g = c.benchmark_group(format!("parse/{name}"));
        g.throughput(Throughput::Bytes(raw.len() as u64));
        g.bench_function("sip-wire", |b| b.iter(|| common::sip_wire_parse(&bytes)));
        g.bench_function("rsip", |b| b.iter(|| common::rsip_parse(raw)));
        g.finish();
    }
}

fn hot_path(c: &mut Criterion) {
    let (_, raw) = common::MESSAGES[1];
    let bytes = Bytes::from_static(raw);
    let mut g = c.benchmark_group("hot-path/invite-1k");
    g.throughput(Throughput::Bytes(raw.len() as u64));
    g.bench_function("sip-wire", |b| b.iter(|| common::sip_wire_hot(&bytes)));
    g.bench_function("rsip", |b| b.iter(|| common::rsip_hot(raw)));
    g.finish();
}

criterion_group!(benches, parse, hot_path);
criterion_main!(benches);
