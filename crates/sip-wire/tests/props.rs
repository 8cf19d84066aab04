//! Property tests: hostile input never panics, stream framing is split-invariant, and
//! parse → rewrite → parse gives the views the edits promise.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail by panicking

mod common;

use bytes::{Bytes, BytesMut};
use common::*;
use proptest::prelude::*;
use sip_wire::{frame_stream, parse_stream, Frame, Message, Rewrite, StreamEvent, Uri};

/// Every corpus message, as bytes.
fn corpus() -> Vec<Vec<u8>> {
    let mut all = Vec::new();
    for dir in ["rfc4475", "rfc5118", "rfc5118/wire", "examples"] {
        let mut names: Vec<_> = std::fs::read_dir(corpus_dir().join(dir))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| matches!(p.extension().and_then(|e| e.to_str()), Some("dat" | "sip")))
            .collect();
        names.sort();
        all.extend(names.iter().map(|p| std::fs::read(p).unwrap()));
    }
    assert!(all.len() >= 70);
    all
}

/// Exercises every view a caller could ask for, so a panic anywhere in the codec shows.
fn touch_everything(m: &Message) {
    let _ = m.validate();
    let _ = m.request_uri();
    let _ = m.method();
    let _ = (
        m.status(),
        m.reason(),
        m.body().len(),
        m.call_id(),
        m.cseq(),
        m.from(),
        m.to(),
    );
    let _ = (m.max_forwards(), m.expires(), m.content_length());
    for v in m.vias().flatten() {
        let _ = (
            v.branch(),
            v.received(),
            v.rport(),
            v.maddr(),
            v.params.iter().count(),
        );
    }
    for c in m.contacts().flatten() {
        if let sip_wire::Contact::Addr(a) = c {
            let _ = (a.tag(), a.display_unquoted(), a.params.iter().count());
            if let Ok(Uri::Sip(u)) = a.uri() {
                let _ = (u.params().count(), u.user.map(|e| e.decode()), u.headers());
            }
        }
    }
    let _ = m.routes().count() + m.record_routes().count() + m.paths().count();
    for name in [
        sip_wire::HeaderName::Authorization,
        sip_wire::HeaderName::WwwAuthenticate,
    ] {
        for a in m.auths(name).flatten() {
            let _ = a.params().count();
        }
    }
    let mut out = Vec::new();
    let _ = Rewrite::new(m)
        .push_via(b"SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKp")
        .pop_via()
        .pop_route()
        .prepend_record_route(b"<sip:192.0.2.1;lr>")
        .decrement_max_forwards()
        .write_to(&mut out);
    let _ = sip_wire::ResponseBuilder::new(m, 400)
        .to_tag(b"x")
        .write_to(&mut out);
}

#[derive(Debug, Clone)]
enum Mutation {
    Flip(usize, u8),
    Insert(usize, u8),
    Delete(usize),
    Truncate(usize),
    Duplicate(usize, usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Flip(i, b)),
        (
            any::<usize>(),
            prop::sample::select(b" \t\r\n:;,<>\"%@[]=0\\".to_vec())
        )
            .prop_map(|(i, b)| Mutation::Insert(i, b)),
        any::<usize>().prop_map(Mutation::Delete),
        any::<usize>().prop_map(Mutation::Truncate),
        (any::<usize>(), 1usize..64).prop_map(|(i, n)| Mutation::Duplicate(i, n)),
    ]
}

fn apply(mut v: Vec<u8>, muts: &[Mutation]) -> Vec<u8> {
    for m in muts {
        if v.is_empty() {
            break;
        }
        let len = v.len();
        match *m {
            Mutation::Flip(i, b) => v[i % len] ^= b,
            Mutation::Insert(i, b) => v.insert(i % (len + 1), b),
            Mutation::Delete(i) => {
                v.remove(i % len);
            }
            Mutation::Truncate(i) => v.truncate(i % (len + 1)),
            Mutation::Duplicate(i, n) => {
                let s = i % len;
                let e = (s + n).min(len);
                let chunk = v[s..e].to_vec();
                v.splice(s..s, chunk);
            }
        }
    }
    v
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, .. ProptestConfig::default() })]

    #[test]
    fn mutated_corpus_messages_never_panic(idx in any::<usize>(), muts in prop::collection::vec(mutation(), 1..8)) {
        let all = corpus();
        let input = apply(all[idx % all.len()].clone(), &muts);
        if let Ok(m) = Message::parse_datagram(Bytes::from(input.clone())) {
            touch_everything(&m);
        }
        let mut buf = BytesMut::from(&input[..]);
        for _ in 0..8 {
            match parse_stream(&mut buf) {
                Ok(StreamEvent::Message(m)) => touch_everything(&m),
                Ok(StreamEvent::Ping | StreamEvent::Pong) => {}
                Ok(StreamEvent::Partial) | Err(_) => break,
            }
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(input in prop::collection::vec(any::<u8>(), 0..600)) {
        if let Ok(m) = Message::parse_datagram(Bytes::from(input.clone())) {
            touch_everything(&m);
        }
        let _ = frame_stream(&input);
    }
}

/// Every stream-framable corpus message fed to one `StreamDecoder` an octet at a time, several
/// messages back to back: the same messages come out as from whole-buffer parsing.
#[test]
fn stream_decoder_octet_by_octet() {
    let mut stream = Vec::new();
    let mut expected = Vec::new();
    for whole in corpus() {
        if let Ok(Frame::Complete(n)) = frame_stream(&whole) {
            stream.extend_from_slice(&whole[..n]);
            expected.push(whole[..n].to_vec());
            stream.extend_from_slice(b"\r\n\r\n");
        }
    }
    let mut d = sip_wire::StreamDecoder::new();
    let mut buf = BytesMut::new();
    let (mut got, mut pings) = (Vec::new(), 0);
    for &b in &stream {
        buf.extend_from_slice(&[b]);
        loop {
            match d.decode(&mut buf).unwrap() {
                StreamEvent::Partial => break,
                StreamEvent::Message(m) => got.push(m.as_bytes().to_vec()),
                StreamEvent::Ping => pings += 1,
                StreamEvent::Pong => panic!("no pong was sent"),
            }
        }
    }
    assert_eq!(got, expected);
    assert_eq!(pings, expected.len());
}

/// For every stream-framable corpus message, split at every offset: the prefix is `Partial`
/// and the whole gives the same message as parsing it in one piece.
#[test]
fn stream_split_at_every_offset() {
    let mut checked = 0;
    for whole in corpus() {
        let Ok(Frame::Complete(n)) = frame_stream(&whole) else {
            continue;
        };
        let reference = Message::parse_stream_message(Bytes::copy_from_slice(&whole[..n])).unwrap();
        for cut in 0..n {
            assert_eq!(
                frame_stream(&whole[..cut]),
                Ok(Frame::Partial),
                "cut at {cut} of {n}"
            );
            // Feed the two halves through one buffer, as a connection would.
            let mut buf = BytesMut::from(&whole[..cut]);
            assert!(matches!(parse_stream(&mut buf), Ok(StreamEvent::Partial)));
            buf.extend_from_slice(&whole[cut..]);
            match parse_stream(&mut buf) {
                Ok(StreamEvent::Message(m)) => {
                    assert_eq!(m.as_bytes(), reference.as_bytes());
                    assert_eq!(m.header_count(), reference.header_count());
                    assert_eq!(m.body(), reference.body());
                    assert_eq!(m.call_id(), reference.call_id());
                }
                other => panic!("cut at {cut}: {other:?}"),
            }
        }
        checked += 1;
    }
    assert!(
        checked >= 40,
        "only {checked} messages were stream-framable"
    );
}

fn valid_corpus() -> Vec<Message> {
    corpus()
        .into_iter()
        .filter_map(|b| Message::parse_datagram(Bytes::from(b)).ok())
        .filter(|m| m.is_request() && m.validate().is_ok())
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, .. ProptestConfig::default() })]

    /// parse → push Via, add Record-Route, decrement Max-Forwards → parse: the new Via is on
    /// top with the old ones below, the Record-Route is first, Max-Forwards is one less (or 70
    /// when absent), and everything else is unchanged.
    #[test]
    fn rewrite_then_parse(idx in any::<usize>(), branch in "z9hG4bK[a-zA-Z0-9]{1,24}", port in 1024u16..65535) {
        let all = valid_corpus();
        let m = &all[idx % all.len()];
        if m.max_forwards() == Some(Ok(0)) {
            return Ok(());
        }
        let via = format!("SIP/2.0/TCP 203.0.113.5:{port};branch={branch}");
        let rr = format!("<sip:edge.example.net:{port};lr>");
        let mut out = Vec::new();
        Rewrite::new(m)
            .push_via(via.as_bytes())
            .prepend_record_route(rr.as_bytes())
            .decrement_max_forwards()
            .write_to(&mut out)
            .unwrap();
        let f = Message::parse_datagram(Bytes::from(out)).unwrap();
        prop_assert_eq!(f.validate(), Ok(()));
        let top = f.top_via().unwrap().unwrap();
        prop_assert_eq!(top.branch(), Some(branch.as_bytes()));
        prop_assert_eq!(top.port, Some(port));
        let old: Vec<Vec<u8>> = m.values(sip_wire::HeaderName::Via).map(<[u8]>::to_vec).collect();
        let new: Vec<Vec<u8>> = f.values(sip_wire::HeaderName::Via).skip(1).map(<[u8]>::to_vec).collect();
        prop_assert_eq!(old, new);
        let first_rr = f.record_routes().next().unwrap().unwrap();
        let want_rr = format!("sip:edge.example.net:{port};lr");
        prop_assert_eq!(first_rr.uri_raw, want_rr.as_bytes());
        prop_assert_eq!(f.record_routes().count(), m.record_routes().count() + 1);
        let want_mf = match m.max_forwards() { Some(Ok(n)) => n - 1, None => 70, Some(Err(_)) => unreachable!() };
        prop_assert_eq!(f.max_forwards(), Some(Ok(want_mf)));
        prop_assert_eq!(f.call_id(), m.call_id());
        prop_assert_eq!(f.body(), m.body());
        prop_assert_eq!(f.header_count(), m.header_count() + 2 + usize::from(m.max_forwards().is_none()));
        prop_assert_eq!(f.request_uri_raw(), m.request_uri_raw());
    }
}
