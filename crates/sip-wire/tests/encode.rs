//! The rewriter and the response builder, edit by edit: each output is parsed again and checked
//! through the views, and untouched lines keep their exact bytes.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail by panicking

use bytes::Bytes;
use sip_wire::{HeaderName, Message, ResponseBuilder, Rewrite, RewriteError};

const INVITE: &[u8] = b"INVITE sip:bob@example.com SIP/2.0\r\n\
Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKa1, SIP/2.0/TCP 192.0.2.20;branch=z9hG4bKb2\r\n\
Via: SIP/2.0/UDP 192.0.2.30;branch=z9hG4bKc3\r\n\
Route: <sip:edge1.example.net;lr>, <sip:core1.example.com;lr>\r\n\
Max-Forwards: 70\r\n\
To: <sip:bob@example.com>\r\n\
From: \"Alice\" <sip:alice@example.com>;tag=9fxced76sl\r\n\
Call-ID: 3848276298220188511@atlanta.example.com\r\n\
CSeq: 2 INVITE\r\n\
X-Custom:   kept   exactly\r\n\
Content-Type: text/plain\r\n\
Content-Length: 5\r\n\
\r\n\
hello";

fn msg(b: &[u8]) -> Message {
    Message::parse_datagram(Bytes::copy_from_slice(b)).unwrap()
}

fn write(r: &Rewrite<'_>) -> Message {
    let mut out = Vec::new();
    r.write_to(&mut out).unwrap();
    let m = msg(&out);
    assert_eq!(m.validate(), Ok(()), "{}", String::from_utf8_lossy(&out));
    m
}

fn vias(m: &Message) -> Vec<String> {
    m.values(HeaderName::Via)
        .map(|v| String::from_utf8_lossy(v).into_owned())
        .collect()
}

#[test]
fn no_edits_reproduce_the_message() {
    let m = msg(INVITE);
    let mut out = Vec::new();
    assert_eq!(Rewrite::new(&m).write_to(&mut out), Ok(INVITE.len()));
    assert_eq!(out, INVITE);
}

#[test]
fn push_and_pop_via() {
    let m = msg(INVITE);
    let pushed = write(Rewrite::new(&m).push_via(b"SIP/2.0/UDP 203.0.113.5;branch=z9hG4bKe1"));
    assert_eq!(vias(&pushed)[0], "SIP/2.0/UDP 203.0.113.5;branch=z9hG4bKe1");
    assert_eq!(vias(&pushed)[1..], vias(&m)[..]);
    // Popping the top value of a line that holds two keeps the second on that line.
    let popped = write(Rewrite::new(&m).pop_via());
    assert_eq!(
        vias(&popped),
        [
            "SIP/2.0/TCP 192.0.2.20;branch=z9hG4bKb2",
            "SIP/2.0/UDP 192.0.2.30;branch=z9hG4bKc3"
        ]
    );
    let twice = msg(&{
        let mut o = Vec::new();
        Rewrite::new(&popped).pop_via().write_to(&mut o).unwrap();
        o
    });
    assert_eq!(vias(&twice), ["SIP/2.0/UDP 192.0.2.30;branch=z9hG4bKc3"]);
}

#[test]
fn pop_route_and_replace_request_uri() {
    let m = msg(INVITE);
    let f = write(
        Rewrite::new(&m)
            .pop_route()
            .set_request_uri(b"sip:bob@192.0.2.99:5070;transport=tcp"),
    );
    let routes: Vec<_> = f.routes().map(|r| r.unwrap().uri_raw.to_vec()).collect();
    assert_eq!(routes, [b"sip:core1.example.com;lr".to_vec()]);
    assert_eq!(
        f.request_uri_raw(),
        Some(&b"sip:bob@192.0.2.99:5070;transport=tcp"[..])
    );
    assert_eq!(f.method().unwrap().as_bytes(), b"INVITE");
}

#[test]
fn record_route_and_path_go_on_top() {
    let m = msg(INVITE);
    let f = write(
        Rewrite::new(&m)
            .prepend_record_route(b"<sip:203.0.113.5;lr>")
            .prepend_record_route(b"<sip:tok@edge1.example.net;transport=tls;lr;ob>"),
    );
    let rr: Vec<_> = f
        .record_routes()
        .map(|r| r.unwrap().uri_raw.to_vec())
        .collect();
    assert_eq!(
        rr,
        [
            b"sip:tok@edge1.example.net;transport=tls;lr;ob".to_vec(),
            b"sip:203.0.113.5;lr".to_vec()
        ]
    );
    // Above existing values.
    let again = write(Rewrite::new(&f).prepend_record_route(b"<sip:newer.example.net;lr>"));
    assert_eq!(
        again.record_routes().next().unwrap().unwrap().uri_raw,
        b"sip:newer.example.net;lr"
    );
    assert_eq!(again.record_routes().count(), 3);
    let p = write(Rewrite::new(&m).prepend_path(b"<sip:flow@edge1.example.net;lr;ob>"));
    assert_eq!(
        p.paths().next().unwrap().unwrap().uri_raw,
        b"sip:flow@edge1.example.net;lr;ob"
    );
}

#[test]
fn max_forwards_decrements_inserts_and_refuses_zero() {
    let m = msg(INVITE);
    assert_eq!(
        write(Rewrite::new(&m).decrement_max_forwards()).max_forwards(),
        Some(Ok(69))
    );
    let none = msg(&INVITE
        .windows(18)
        .position(|w| w == b"Max-Forwards: 70\r\n")
        .map_or(INVITE.to_vec(), |i| {
            let mut v = INVITE.to_vec();
            v.drain(i..i + 18);
            v
        }));
    assert_eq!(none.max_forwards(), None);
    assert_eq!(
        write(Rewrite::new(&none).decrement_max_forwards()).max_forwards(),
        Some(Ok(70))
    );
    let zero = msg(&String::from_utf8_lossy(INVITE)
        .replace("Max-Forwards: 70", "Max-Forwards: 0")
        .into_bytes());
    let mut out = Vec::new();
    assert_eq!(
        Rewrite::new(&zero)
            .decrement_max_forwards()
            .write_to(&mut out),
        Err(RewriteError::MaxForwardsExhausted)
    );
}

#[test]
fn add_replace_remove_headers() {
    let m = msg(INVITE);
    let f = write(
        Rewrite::new(&m)
            .add_header(b"P-Edge", b"edge1")
            .replace_header(
                HeaderName::Via,
                b"SIP/2.0/UDP 203.0.113.5;branch=z9hG4bKonly",
            )
            .remove_header(HeaderName::Route),
    );
    assert_eq!(f.header_by_name("p-edge"), Some(&b"edge1"[..]));
    assert_eq!(vias(&f), ["SIP/2.0/UDP 203.0.113.5;branch=z9hG4bKonly"]);
    assert_eq!(f.routes().count(), 0);
    // Untouched lines keep their exact bytes, odd spacing included.
    let out = f.as_bytes();
    let want: &[u8] = b"\r\nX-Custom:   kept   exactly\r\n";
    assert!(out.windows(want.len()).any(|w| w == want));
    // Replacing an absent header adds it.
    let g = write(Rewrite::new(&m).replace_header(HeaderName::Subject, b"lunch"));
    assert_eq!(g.header(HeaderName::Subject), Some(&b"lunch"[..]));
}

#[test]
fn body_and_content_length() {
    let m = msg(INVITE);
    let f = write(Rewrite::new(&m).set_body(Some(b"application/sdp"), b"v=0\r\n"));
    assert_eq!(f.body(), b"v=0\r\n");
    assert_eq!(f.content_length(), Some(5));
    assert_eq!(
        f.header(HeaderName::ContentType),
        Some(&b"application/sdp"[..])
    );
    assert_eq!(f.headers_named(HeaderName::ContentType).count(), 1);
    let g = write(Rewrite::new(&m).set_body(None, b""));
    assert_eq!((g.content_length(), g.body()), (Some(0), &b""[..]));
    // A datagram without Content-Length gets one when asked (it is going onto a stream).
    let old = msg(b"OPTIONS sip:a@example.com SIP/2.0\r\nVia: SIP/2.0/UDP h.example.com;branch=z9hG4bK1\r\nTo: <sip:a@example.com>\r\nFrom: <sip:b@example.com>;tag=1\r\nCall-ID: x\r\nCSeq: 1 OPTIONS\r\n\r\nabc");
    let mut out = Vec::new();
    Rewrite::new(&old)
        .ensure_content_length()
        .write_to(&mut out)
        .unwrap();
    let s = Message::parse_stream_message(Bytes::from(out)).unwrap();
    assert_eq!((s.content_length(), s.body()), (Some(3), &b"abc"[..]));
}

#[test]
fn too_many_edits_is_an_error_not_a_dropped_edit() {
    let m = msg(INVITE);
    let mut r = Rewrite::new(&m);
    for _ in 0..9 {
        r.add_header(b"X-A", b"1");
    }
    assert_eq!(r.write_to(&mut Vec::new()), Err(RewriteError::TooManyEdits));
}

#[test]
fn bare_lf_input_is_written_with_crlf() {
    let lf = msg(b"OPTIONS sip:a@example.com SIP/2.0\nVia: SIP/2.0/UDP h.example.com;branch=z9hG4bK1\nTo: <sip:a@example.com>\n  ;x=1\nFrom: <sip:b@example.com>;tag=1\nCall-ID: x\nCSeq: 1 OPTIONS\nContent-Length: 0\n\n");
    assert!(!lf.tolerated().is_empty());
    let mut out = Vec::new();
    Rewrite::new(&lf).write_to(&mut out).unwrap();
    assert!(
        !out.windows(2).any(|w| w[1] == b'\n' && w[0] != b'\r'),
        "{}",
        String::from_utf8_lossy(&out)
    );
    assert!(msg(&out).tolerated().is_empty());
}

#[test]
fn responses_copy_what_rfc3261_8_2_6_says() {
    let m = msg(INVITE);
    let mut out = Vec::new();
    ResponseBuilder::new(&m, 486)
        .to_tag(b"x7f")
        .header(b"Retry-After", b"30")
        .write_to(&mut out)
        .unwrap();
    let r = msg(&out);
    assert_eq!(r.status(), Some(486));
    assert_eq!(r.reason(), Some(&b"Busy Here"[..]));
    assert_eq!(vias(&r), vias(&m));
    assert_eq!(r.call_id(), m.call_id());
    assert_eq!(r.cseq(), m.cseq());
    assert_eq!(r.from().unwrap().unwrap().tag(), Some(&b"9fxced76sl"[..]));
    assert_eq!(r.to().unwrap().unwrap().tag(), Some(&b"x7f"[..]));
    assert_eq!(r.header(HeaderName::RetryAfter), Some(&b"30"[..]));
    assert_eq!(r.content_length(), Some(0));
    assert_eq!(r.header(HeaderName::Route), None);
    assert_eq!(r.validate(), Ok(()));
    // No tag on a 100, and an existing To tag is kept as is.
    out.clear();
    ResponseBuilder::new(&m, 100)
        .to_tag(b"x7f")
        .write_to(&mut out)
        .unwrap();
    assert_eq!(msg(&out).to().unwrap().unwrap().tag(), None);
    let tagged = msg(&String::from_utf8_lossy(INVITE)
        .replace(
            "To: <sip:bob@example.com>",
            "To: <sip:bob@example.com>;tag=have",
        )
        .into_bytes());
    out.clear();
    ResponseBuilder::new(&tagged, 200)
        .to_tag(b"new")
        .write_to(&mut out)
        .unwrap();
    assert_eq!(msg(&out).to().unwrap().unwrap().tag(), Some(&b"have"[..]));
}

#[test]
fn a_new_body_is_always_framed_once() {
    // Two equal Content-Length lines (the indexer allows equal duplicates; validate() would
    // reject the message, but a rewrite must not depend on that).
    let dup = msg(&String::from_utf8_lossy(INVITE)
        .replace("Content-Length: 5\r\n", "Content-Length: 5\r\nl: 5\r\n")
        .into_bytes());
    let mut out = Vec::new();
    Rewrite::new(&dup)
        .set_body(None, b"hi")
        .write_to(&mut out)
        .unwrap();
    let f = msg(&out);
    assert_eq!(f.headers_named(HeaderName::ContentLength).count(), 1);
    assert_eq!((f.content_length(), f.body()), (Some(2), &b"hi"[..]));
    // Removing Content-Length / Content-Type while setting a body still frames and types it.
    let m = msg(INVITE);
    let f = write(
        Rewrite::new(&m)
            .remove_header(HeaderName::ContentLength)
            .remove_header(HeaderName::ContentType)
            .set_body(Some(b"application/sdp"), b"v=0\r\n"),
    );
    assert_eq!(f.content_length(), Some(5));
    assert_eq!(
        f.header(HeaderName::ContentType),
        Some(&b"application/sdp"[..])
    );
    assert_eq!(f.headers_named(HeaderName::ContentType).count(), 1);
}

#[test]
fn unnamed_headers_cannot_be_replaced_or_removed() {
    let m = msg(INVITE);
    let mut out = Vec::new();
    assert_eq!(
        Rewrite::new(&m)
            .replace_header(HeaderName::Other, b"x")
            .write_to(&mut out),
        Err(RewriteError::OtherHeader)
    );
    assert_eq!(
        Rewrite::new(&m)
            .remove_header(HeaderName::Other)
            .write_to(&mut out),
        Err(RewriteError::OtherHeader)
    );
    assert!(out.is_empty());
}

/// A request near the header limit, with `vias` Via lines.
fn many_vias(vias: usize) -> Message {
    let mut s = String::from("OPTIONS sip:x SIP/2.0\r\n");
    for i in 0..vias {
        s.push_str(&format!("Via: SIP/2.0/UDP h{i};branch=z9hG4bK{i}\r\n"));
    }
    s.push_str("From: <sip:a@b>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: c\r\nCSeq: 1 OPTIONS\r\n");
    s.push_str("Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n");
    msg(s.as_bytes())
}

#[test]
fn output_is_held_to_the_header_limit_the_parser_holds_input_to() {
    // 250 Vias + 6 = 256 header lines: the most a request may have.
    let m = many_vias(250);
    let mut out = Vec::new();
    // The response copies 254 of them and adds Allow, Accept, Supported: 257 lines.
    let r = ResponseBuilder::new(&m, 200)
        .header(b"Allow", b"OPTIONS")
        .header(b"Accept", b"application/sdp")
        .header(b"Supported", b"")
        .write_to(&mut out);
    assert_eq!(r, Err(RewriteError::TooLarge));
    assert!(out.is_empty());
    // Forwarding adds a Via: 257 lines.
    assert_eq!(
        Rewrite::new(&m)
            .push_via(b"SIP/2.0/UDP edge;branch=z9hG4bKe")
            .write_to(&mut out),
        Err(RewriteError::TooLarge)
    );
    // One Via fewer and one header fewer added: within the limit, and it parses back.
    let m = many_vias(249);
    let n = ResponseBuilder::new(&m, 200)
        .header(b"Allow", b"OPTIONS")
        .header(b"Accept", b"application/sdp")
        .write_to(&mut out)
        .unwrap();
    assert!(Message::parse_datagram(Bytes::from(out[..n].to_vec())).is_ok());
    out.clear();
    let n = Rewrite::new(&m)
        .push_via(b"SIP/2.0/UDP edge;branch=z9hG4bKe")
        .write_to(&mut out)
        .unwrap();
    assert!(Message::parse_datagram(Bytes::from(out[..n].to_vec())).is_ok());
}
