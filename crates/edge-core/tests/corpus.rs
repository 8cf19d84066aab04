//! Every message of the shared corpus (RFC 4475, RFC 5118, realistic examples), whole and cut
//! short at every 7th octet, goes through the edge as a UDP datagram would. Whatever the edge
//! answers must parse as a SIP response carrying what the request had of Via, From, To,
//! Call-ID and CSeq (RFC 3261 §8.2.6), never a panic; a response is never answered. (A request
//! missing some of those is still answered, as RFC 4475 §3.3.1 asks: "ideally answers 400";
//! the answer then lacks them too, so it is not checked with `validate`.)
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail by panicking

use std::path::{Path, PathBuf};

use bytes::Bytes;
use edge_core::counters::{Counters, Transport};
use edge_core::local::{Edge, EdgeConfig, Outcome, Source};
use edge_core::Instant;
use sip_wire::{HeaderName, Message};

fn corpus_dir() -> PathBuf {
    if let Ok(p) = std::env::var("SIP_CORPUS") {
        return PathBuf::from(p);
    }
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/sip-corpus");
    assert!(
        p.is_dir(),
        "the SIP corpus is expected at {} (set SIP_CORPUS)",
        p.display()
    );
    p
}

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            files(&p, out);
        } else if p.extension().is_some_and(|x| x == "dat" || x == "sip") {
            out.push(p);
        }
    }
}

fn run(edge: &mut Edge, raw: &[u8], counters: &mut Counters) -> (Outcome, Vec<u8>) {
    let src = Source {
        transport: Transport::Udp,
        remote: "192.0.2.9:5099".parse().unwrap(),
        local: "127.0.0.1:5060".parse().unwrap(),
    };
    let mut out = Vec::new();
    let o = match Message::parse_datagram(Bytes::copy_from_slice(raw)) {
        Ok(m) => edge.handle_message(Instant::default(), &m, &src, &mut out, counters),
        Err(e) => edge.handle_malformed(&e, raw, &src, &mut out, counters),
    };
    (o, out)
}

#[test]
fn every_answer_to_the_corpus_is_a_well_formed_response() {
    let mut paths = Vec::new();
    files(&corpus_dir(), &mut paths);
    assert!(paths.len() > 50, "corpus too small: {}", paths.len());
    let mut edge = Edge::new(
        &EdgeConfig {
            hosts: vec!["example.com".into()],
            listen: vec!["127.0.0.1:5060".parse().unwrap()],
            supported: vec![],
        },
        9,
    );
    let mut counters = Counters::default();
    let (mut replies, mut inputs) = (0, 0);
    for p in &paths {
        let data = std::fs::read(p).unwrap();
        let cuts = (0..data.len()).step_by(7).chain([data.len()]);
        for cut in cuts {
            let raw = &data[..cut];
            inputs += 1;
            let (o, out) = run(&mut edge, raw, &mut counters);
            if o != Outcome::Reply {
                assert!(out.is_empty());
                continue;
            }
            replies += 1;
            let name = format!("{} cut at {cut}", p.display());
            let text = String::from_utf8_lossy(&out).to_string();
            let resp = Message::parse_datagram(Bytes::from(out))
                .unwrap_or_else(|e| panic!("{name}: answer does not parse: {e:?}\n{text}"));
            assert!(!resp.is_request(), "{name}");
            assert!(
                resp.status().is_some_and(|s| (200..700).contains(&s)),
                "{name}"
            );
            assert!(
                resp.top_via().is_some(),
                "{name}: no Via to route the answer\n{text}"
            );
            // The request it answers must have been one (responses are never answered), and
            // the answer keeps what identifies the transaction.
            if let Ok(req) = Message::parse_datagram(Bytes::copy_from_slice(raw)) {
                assert!(req.is_request(), "{name}: answered a response");
                // The top Via gains received/rport; the list and the branch stay.
                assert_eq!(req.vias().count(), resp.vias().count(), "{name}\n{text}");
                let branch = |m: &Message| {
                    m.top_via()
                        .and_then(Result::ok)
                        .and_then(|v| v.branch().map(<[u8]>::to_vec))
                };
                assert_eq!(branch(&req), branch(&resp), "{name}\n{text}");
                for h in [HeaderName::From, HeaderName::CallId, HeaderName::CSeq] {
                    assert_eq!(req.header(h), resp.header(h), "{name}: {h:?}\n{text}");
                }
                assert_eq!(
                    req.header(HeaderName::To).is_some(),
                    resp.header(HeaderName::To).is_some(),
                    "{name}"
                );
            }
        }
    }
    assert!(replies > 100, "only {replies} replies to {inputs} inputs");
}
