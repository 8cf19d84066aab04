//! Every bound in `limits` and every framing error has a defined outcome: the error kind, the
//! status a request gets (413/414/513/400) and a drop for responses.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail by panicking

use bytes::{Bytes, BytesMut};
use sip_wire::limits::{MAX_HEADERS, MAX_HEADER_LINE, MAX_MESSAGE_SIZE, MAX_START_LINE};
use sip_wire::{frame_stream, parse_stream, ErrorKind, Frame, Message, StartKind};

const HEAD: &str = "OPTIONS sip:a@example.com SIP/2.0\r\nVia: SIP/2.0/UDP h.example.com;branch=z9hG4bK1\r\nTo: <sip:a@example.com>\r\nFrom: <sip:b@example.com>;tag=1\r\nCall-ID: x\r\nCSeq: 1 OPTIONS\r\n";

fn err(b: impl Into<Vec<u8>>) -> sip_wire::ParseError {
    Message::parse_datagram(Bytes::from(b.into())).unwrap_err()
}

#[test]
fn message_size() {
    let body = "x".repeat(MAX_MESSAGE_SIZE);
    let big = format!("{HEAD}Content-Length: {}\r\n\r\n{body}", body.len());
    let e = err(big.clone());
    assert_eq!((e.kind, e.status()), (ErrorKind::TooLarge, Some(513)));
    // On a stream the declared length alone is enough to refuse.
    let head_only = format!("{HEAD}Content-Length: {}\r\n\r\n", MAX_MESSAGE_SIZE);
    assert_eq!(
        frame_stream(head_only.as_bytes()).unwrap_err().kind,
        ErrorKind::TooLarge
    );
    // A stream that never ends its header section is refused at the bound, not buffered forever.
    let endless = format!("{HEAD}X-Long: {}", "y".repeat(MAX_MESSAGE_SIZE));
    assert!(frame_stream(endless.as_bytes()).is_err());
}

#[test]
fn header_count_and_line_lengths() {
    let mut many = String::from(HEAD);
    for i in 0..MAX_HEADERS {
        many.push_str(&format!("X-{i}: v\r\n"));
    }
    many.push_str("\r\n");
    let e = err(many);
    assert_eq!((e.kind, e.status()), (ErrorKind::TooManyHeaders, Some(513)));

    let long_uri = format!(
        "OPTIONS sip:{}@example.com SIP/2.0\r\n\r\n",
        "u".repeat(MAX_START_LINE)
    );
    let e = err(long_uri);
    assert_eq!(
        (e.kind, e.status()),
        (ErrorKind::StartLineTooLong, Some(414))
    );

    let long_header = format!("{HEAD}X-Long: {}\r\n\r\n", "v".repeat(MAX_HEADER_LINE));
    assert_eq!(err(long_header).kind, ErrorKind::HeaderTooLong);
    // Just under the bound is fine.
    let ok = format!(
        "{HEAD}X-Long: {}\r\nContent-Length: 0\r\n\r\n",
        "v".repeat(MAX_HEADER_LINE - 20)
    );
    assert!(Message::parse_datagram(Bytes::from(ok)).is_ok());
}

#[test]
fn line_structure_errors() {
    let e = err(format!("{HEAD}X-A: a\rb\r\n\r\n"));
    assert_eq!((e.kind, e.status()), (ErrorKind::BareCr, Some(400)));
    let e = err("OPTIONS sip:a@example.com SIP/2.0\r\n Via: x\r\n\r\n");
    assert_eq!(e.kind, ErrorKind::LeadingWhitespace);
    assert_eq!(
        err(format!("{HEAD}Foobar roobar\r\n\r\n")).kind,
        ErrorKind::MissingColon
    );
    assert_eq!(
        err(format!("{HEAD}: empty name\r\n\r\n")).kind,
        ErrorKind::HeaderName
    );
    assert_eq!(
        err(format!("{HEAD}X@Y: bad name\r\n\r\n")).kind,
        ErrorKind::HeaderName
    );
    assert_eq!(err(format!("{HEAD}X-A: cut")).kind, ErrorKind::Truncated);
    assert_eq!(
        err(format!("{HEAD}Content-Length: five\r\n\r\n")).kind,
        ErrorKind::ContentLength
    );
}

#[test]
fn control_characters_are_not_forwarded() {
    // header-value = *(TEXT-UTF8char / UTF8-CONT / LWS): a NUL or ESC in an unknown header
    // makes the request invalid rather than something a proxy relays.
    for bad in ["X-A: a\u{0}b", "X-A: a\u{1b}[31m", "Subject: hi\u{7f}"] {
        let m = Message::parse_datagram(Bytes::from(format!(
            "{HEAD}{bad}\r\nContent-Length: 0\r\n\r\n"
        )))
        .unwrap();
        let inv = m.validate().unwrap_err();
        assert_eq!(inv.status(), Some(400), "{bad}");
        assert!(inv.to_string().contains("control character"), "{inv}");
    }
    let ok = Message::parse_datagram(Bytes::from(format!(
        "{HEAD}X-A: tab\there é\r\nContent-Length: 0\r\n\r\n"
    )))
    .unwrap();
    assert_eq!(ok.validate(), Ok(()));
}

#[test]
fn what_is_dropped_rather_than_answered() {
    let resp = err("SIP/2.0 200 OK\r\nVia: x\r\nBad Header\r\n\r\n");
    assert_eq!((resp.start, resp.status()), (StartKind::Response, None));
    let garbage = err(vec![0u8, 1, 2, 3, b'\r', b'\n', b'\r', b'\n']);
    assert_eq!(garbage.status(), None);
    let keepalive = err("\r\n\r\n");
    assert_eq!(
        (keepalive.kind, keepalive.status()),
        (ErrorKind::Empty, None)
    );
}

#[test]
fn stream_keepalives() {
    assert_eq!(frame_stream(b"\r\n\r\n"), Ok(Frame::Ping(4)));
    assert_eq!(frame_stream(b"\r\n"), Ok(Frame::Partial));
    assert_eq!(frame_stream(b"\r"), Ok(Frame::Partial));
    assert_eq!(frame_stream(b"\r\nO"), Ok(Frame::Pong(2)));
    // A ping split across two reads is still one ping.
    let mut buf = BytesMut::from(&b"\r\n"[..]);
    assert!(matches!(
        parse_stream(&mut buf),
        Ok(sip_wire::StreamEvent::Partial)
    ));
    buf.extend_from_slice(b"\r\n");
    assert!(matches!(
        parse_stream(&mut buf),
        Ok(sip_wire::StreamEvent::Ping)
    ));
    assert!(buf.is_empty());
    // After sending a ping, a lone CRLF is the pong (RFC 5626 §4.4.1), reported at once.
    let mut d = sip_wire::StreamDecoder::new();
    let mut buf = BytesMut::from(&b"\r\n"[..]);
    assert!(matches!(
        d.decode(&mut buf),
        Ok(sip_wire::StreamEvent::Partial)
    ));
    d.expect_pong();
    assert!(matches!(
        d.decode(&mut buf),
        Ok(sip_wire::StreamEvent::Pong)
    ));
    assert!(buf.is_empty());
}

#[test]
fn stream_decoder_waits_without_rescanning_and_refuses_endless_headers() {
    let mut d = sip_wire::StreamDecoder::new();
    let mut buf = BytesMut::new();
    let msg = format!("{HEAD}Content-Length: 3\r\n\r\nabc");
    for (i, b) in msg.bytes().enumerate() {
        buf.extend_from_slice(&[b]);
        match d.decode(&mut buf).unwrap() {
            sip_wire::StreamEvent::Partial => assert!(i + 1 < msg.len()),
            sip_wire::StreamEvent::Message(m) => {
                assert_eq!(i + 1, msg.len());
                assert_eq!(m.body(), b"abc");
            }
            other => panic!("{other:?}"),
        }
    }
    assert!(buf.is_empty());
    // A header section that never ends is refused at MAX_MESSAGE_SIZE.
    let mut d = sip_wire::StreamDecoder::new();
    let mut buf = BytesMut::from(HEAD.as_bytes());
    let chunk = vec![b'x'; 4096];
    buf.extend_from_slice(b"X-Endless: ");
    let mut refused = false;
    for _ in 0..(MAX_MESSAGE_SIZE / chunk.len() + 2) {
        buf.extend_from_slice(&chunk);
        match d.decode(&mut buf) {
            Ok(sip_wire::StreamEvent::Partial) => {}
            Err(e) => {
                assert_eq!(e.kind, ErrorKind::TooLarge);
                refused = true;
                break;
            }
            Ok(other) => panic!("{other:?}"),
        }
    }
    assert!(refused);
}
