//! Every message of ../shared/sip-corpus checked against its EXPECTED.tsv verdict.
//!
//! - `valid` and `semantic` messages parse; re-encoding one unchanged gives back the same bytes
//!   (or, where the parse tolerated a deviation, RFC 3261 form that parses clean).
//! - `invalid` messages with liberal=no are rejected with the status named (drop = no answer).
//! - liberal=yes/partial: either outcome is allowed; sipedge rejects them all, and the test
//!   checks the status is one the row allows.
//! - Framing cases are checked for both datagram and stream framing.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail by panicking

mod common;

use bytes::{Bytes, BytesMut};
use common::*;
use sip_wire::{
    frame_stream, parse_stream, ErrorKind, Frame, HeaderName, Host, Message, StreamEvent, Uri,
};

/// `semantic` rows whose status is the proxy's decision (issue 4), not the codec's: the codec
/// accepts them and `validate` lets them through.
const PROXY_DECIDES: &[&str] = &["416", "416|404", "420", "483", "drop"];

fn check_row(dir: &str, row: &Row, tolerant_archive: bool) {
    let name = format!("{dir}/{}", row.file);
    let bytes = read(&name);
    let parsed = datagram(&bytes);
    let outcome = outcome_of(&parsed);
    let archive_bad_length =
        tolerant_archive && row.framing.contains("archive says Content-Length");
    match row.verdict.as_str() {
        _ if archive_bad_length => {
            // The archive bytes carry a Content-Length the LF body does not match: over UDP that
            // is RFC 4475's clerr case.
            assert_eq!(
                parsed.as_ref().err().map(|e| e.kind),
                Some(ErrorKind::BodyTruncated),
                "{name}"
            );
            assert_eq!(outcome, Outcome::Status(400), "{name}");
        }
        "valid" => {
            assert_eq!(
                outcome,
                Outcome::Accepted,
                "{name}: {:?}",
                parsed.as_ref().map(|m| m.validate())
            );
            let m = parsed.unwrap();
            check_round_trip(&name, &m);
        }
        "semantic" => {
            let m = parsed
                .as_ref()
                .unwrap_or_else(|e| panic!("{name} must parse: {e}"));
            check_round_trip(&name, m);
            if PROXY_DECIDES.contains(&row.proxy_action.as_str()) {
                assert_eq!(
                    outcome,
                    Outcome::Accepted,
                    "{name}: the proxy decides, not the codec"
                );
            } else {
                assert!(
                    allowed(outcome, &row.proxy_action),
                    "{name}: {outcome:?} not in {}",
                    row.proxy_action
                );
            }
        }
        "invalid" => {
            assert_ne!(
                outcome,
                Outcome::Accepted,
                "{name} must be rejected (liberal={})",
                row.liberal
            );
            assert!(
                allowed(outcome, &row.proxy_action),
                "{name}: {outcome:?} not in {}",
                row.proxy_action
            );
        }
        other => panic!("{name}: unknown verdict {other}"),
    }
}

fn check_round_trip(name: &str, m: &Message) {
    let out = reencode(m);
    if m.tolerated().is_empty() {
        assert_eq!(
            out,
            m.as_bytes(),
            "{name}: unchanged re-encoding must give the same bytes"
        );
    } else {
        // What was tolerated is never written back: the output is RFC 3261 form.
        let again = datagram(&out).unwrap_or_else(|e| panic!("{name}: normalized form fails: {e}"));
        assert!(
            again.tolerated().is_empty(),
            "{name}: {:?}",
            again.tolerated()
        );
        assert_eq!(again.header_count(), m.header_count(), "{name}");
        assert_eq!(again.body(), m.body(), "{name}");
        assert!(!out
            .windows(2)
            .enumerate()
            .any(|(i, w)| w[1] == b'\n' && w[0] != b'\r' && i < out.len() - m.body().len()));
    }
}

#[test]
fn rfc4475_every_message_has_its_verdict() {
    let rows = expected("rfc4475");
    assert_eq!(rows.len(), 49);
    for row in &rows {
        check_row("rfc4475", row, false);
    }
}

#[test]
fn rfc5118_wire_forms_have_their_verdicts() {
    let rows = expected("rfc5118");
    assert_eq!(rows.len(), 12);
    for row in &rows {
        check_row("rfc5118/wire", row, false);
    }
}

#[test]
fn rfc5118_archive_forms_are_tolerated_or_rejected_as_framed() {
    // Bare LF line ends and (4.10) no empty line: tolerated over UDP and recorded; a
    // Content-Length that does not match the LF body is a framing error.
    for row in &expected("rfc5118") {
        check_row("rfc5118", row, true);
        if let Ok(m) = datagram(&read(&format!("rfc5118/{}", row.file))) {
            assert!(
                m.tolerated().contains(sip_wire::Tolerated::BARE_LF),
                "{}",
                row.file
            );
        }
    }
}

#[test]
fn archive_test_dat_is_rejected() {
    // A start line without SIP-Version and a header line without a colon.
    let o = outcome_of(&datagram(&read("rfc4475/archive-extra/test.dat")));
    assert_eq!(o, Outcome::Status(400));
}

// ---- framing: datagram vs stream ----

fn stream_frame(bytes: &[u8]) -> Result<Frame, sip_wire::ParseError> {
    frame_stream(bytes)
}

#[test]
fn clerr_body_shorter_than_content_length() {
    let b = read("rfc4475/clerr.dat");
    assert_eq!(outcome_of(&datagram(&b)), Outcome::Status(400));
    // On a stream all a receiver can do is wait for more (and time the connection out).
    assert_eq!(stream_frame(&b), Ok(Frame::Partial));
}

#[test]
fn ncl_negative_content_length() {
    let b = read("rfc4475/ncl.dat");
    assert_eq!(
        datagram(&b).err().map(|e| e.kind),
        Some(ErrorKind::ContentLength)
    );
    assert_eq!(outcome_of(&datagram(&b)), Outcome::Status(400));
    assert_eq!(
        stream_frame(&b).err().map(|e| e.kind),
        Some(ErrorKind::ContentLength)
    );
}

#[test]
fn mcl01_conflicting_content_lengths() {
    let b = read("rfc4475/mcl01.dat");
    assert_eq!(outcome_of(&datagram(&b)), Outcome::Status(400));
    assert_eq!(
        stream_frame(&b).err().map(|e| e.kind),
        Some(ErrorKind::ContentLengthConflict)
    );
}

#[test]
fn inv2543_without_content_length() {
    let b = read("rfc4475/inv2543.dat");
    let m = datagram(&b).unwrap();
    // Over UDP the body is every octet after the empty line.
    assert_eq!(m.body().len(), 105);
    assert_eq!(m.content_length(), None);
    assert_eq!(
        stream_frame(&b).err().map(|e| e.kind),
        Some(ErrorKind::ContentLengthMissing)
    );
}

#[test]
fn dblreq_trailing_octets() {
    let b = read("rfc4475/dblreq.dat");
    let m = datagram(&b).unwrap();
    assert_eq!(m.method().map(|m| m.as_bytes()), Some(&b"REGISTER"[..]));
    assert!(m.body().is_empty());
    let out = reencode(&m);
    assert!(
        !out.windows(6).any(|w| w == b"INVITE"),
        "trailing octets must not be forwarded"
    );
    // On a stream they are the next message: REGISTER, a CRLF, then the INVITE.
    let mut buf = BytesMut::from(&b[..]);
    let first = match parse_stream(&mut buf).unwrap() {
        StreamEvent::Message(m) => m,
        other => panic!("{other:?}"),
    };
    assert_eq!(first.method().map(|m| m.as_bytes()), Some(&b"REGISTER"[..]));
    assert!(matches!(parse_stream(&mut buf).unwrap(), StreamEvent::Pong));
    match parse_stream(&mut buf).unwrap() {
        StreamEvent::Message(m) => {
            assert_eq!(m.method().map(|m| m.as_bytes()), Some(&b"INVITE"[..]));
            assert_eq!(m.body().len(), 150);
        }
        other => panic!("{other:?}"),
    }
    // The archived INVITE's body is 153 octets, not the 150 it declares: on a stream the last
    // octets ("C" CRLF CRLF) would start a malformed message, and the connection is closed.
    assert_eq!(&buf[..], b"C\r\n\r\n");
    assert_eq!(
        parse_stream(&mut buf).err().map(|e| e.kind),
        Some(ErrorKind::RequestLine)
    );
}

// ---- views on specific torture messages ----

fn msg(rel: &str) -> Message {
    datagram(&read(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

#[test]
fn wsinv_views() {
    let m = msg("rfc4475/wsinv.dat");
    assert_eq!(m.max_forwards(), Some(Ok(68)));
    let cseq = m.cseq().unwrap().unwrap();
    assert_eq!((cseq.seq, cseq.method.as_bytes()), (9, &b"INVITE"[..]));
    assert_eq!(m.to().unwrap().unwrap().tag(), Some(&b"1918181833n"[..]));
    assert_eq!(m.from().unwrap().unwrap().tag(), Some(&b"98asjd8"[..]));
    let vias: Vec<_> = m.vias().map(Result::unwrap).collect();
    assert_eq!(vias.len(), 3);
    assert_eq!(vias[1].transport, b"TCP");
    assert_eq!(vias[2].branch(), Some(&b"z9hG4bK30239"[..]));
    assert_eq!(
        m.header_by_name("UnknownHeaderWithUnusualValue"),
        Some(&b";;,,;;,;"[..])
    );
    assert_eq!(m.header(HeaderName::Subject), Some(&b""[..]));
    assert_eq!(m.body().len(), 150);
    let contact = m.contacts().next().unwrap().unwrap();
    match contact {
        sip_wire::Contact::Addr(a) => {
            assert_eq!(a.params.get("q").and_then(|p| p.value), Some(&b"0.33"[..]))
        }
        sip_wire::Contact::Star => panic!(),
    }
}

/// The user part of a name-addr's SIP URI.
fn sip_user<'a>(a: &sip_wire::NameAddr<'a>) -> sip_wire::Escaped<'a> {
    match a.uri().unwrap() {
        Uri::Sip(u) => u.user.unwrap(),
        other => panic!("not a SIP URI: {other:?}"),
    }
}

#[test]
fn escapes_compare_decoded() {
    let m = msg("rfc4475/esc01.dat");
    let Some(Ok(Uri::Sip(ruri))) = m.request_uri() else {
        panic!()
    };
    assert_eq!(&*ruri.user.unwrap().decode(), b"sips:user@example.com");
    let to = m.to().unwrap().unwrap();
    assert!(sip_user(&to).eq_decoded(&sip_wire::Escaped::new(b"user")));
    let sip_wire::Contact::Addr(c) = m.contacts().next().unwrap().unwrap() else {
        panic!()
    };
    let u = *c.uri().unwrap().as_sip().unwrap();
    let (n, v) = u.params().nth(1).unwrap();
    assert_eq!(
        (&*n.decode(), &*v.unwrap().decode()),
        (&b"name"[..], &b"value%41"[..])
    );

    let m = msg("rfc4475/escnull.dat");
    let users: Vec<Vec<u8>> = m
        .contacts()
        .map(|c| match c.unwrap() {
            sip_wire::Contact::Addr(a) => sip_user(&a).decode().into_owned(),
            sip_wire::Contact::Star => panic!(),
        })
        .collect();
    assert_eq!(users, vec![vec![0u8], vec![0u8, 0]]);
}

#[test]
fn esc02_percent_is_not_an_escape_everywhere() {
    let m = msg("rfc4475/esc02.dat");
    assert!(!m.method().unwrap().is_known());
    assert_eq!(m.contacts().count(), 2);
}

#[test]
fn semiuri_user_part_keeps_semicolons() {
    let m = msg("rfc4475/semiuri.dat");
    let Some(Ok(Uri::Sip(u))) = m.request_uri() else {
        panic!()
    };
    assert_eq!(u.user.unwrap().raw(), b"user;par=u%40example.net");
    assert_eq!(u.params().count(), 0);
}

#[test]
fn transports_and_long_values() {
    let m = msg("rfc4475/transports.dat");
    let t: Vec<Vec<u8>> = m.vias().map(|v| v.unwrap().transport.to_vec()).collect();
    assert_eq!(t, [&b"UDP"[..], b"SCTP", b"TLS", b"UNKNOWN", b"TCP"]);
    let l = msg("rfc4475/longreq.dat");
    assert_eq!(l.as_bytes().len(), 3515);
    assert_eq!(l.vias().count(), 34);
    assert!(l.vias().all(|v| v.is_ok()));
}

#[test]
fn responses_and_bodies() {
    let u = msg("rfc4475/unreason.dat");
    assert_eq!(u.status(), Some(200));
    assert!(u.reason().unwrap().len() > 20);
    let n = msg("rfc4475/noreason.dat");
    assert_eq!((n.status(), n.reason()), (Some(100), Some(&b""[..])));
    let mp = msg("rfc4475/mpart01.dat");
    assert_eq!(mp.body().len(), 553);
    let b = msg("rfc4475/bcast.dat");
    let second = b.vias().nth(1).unwrap().unwrap();
    assert!(second.host.is_nonsense_destination());
}

#[test]
fn contact_params_vs_uri_params() {
    let m_c1 = msg("rfc4475/cparam01.dat");
    let sip_wire::Contact::Addr(c1) = m_c1.contacts().next().unwrap().unwrap() else {
        panic!()
    };
    assert!(c1.params.has("unknownparam"));
    assert!(c1
        .uri()
        .unwrap()
        .as_sip()
        .unwrap()
        .param("unknownparam")
        .is_none());
    let m_c2 = msg("rfc4475/cparam02.dat");
    let sip_wire::Contact::Addr(c2) = m_c2.contacts().next().unwrap().unwrap() else {
        panic!()
    };
    assert!(!c2.params.has("unknownparam"));
    assert!(c2
        .uri()
        .unwrap()
        .as_sip()
        .unwrap()
        .param("unknownparam")
        .is_some());
    let m_c3 = msg("rfc4475/regescrt.dat");
    let sip_wire::Contact::Addr(c3) = m_c3.contacts().next().unwrap().unwrap() else {
        panic!()
    };
    assert!(c3.uri().unwrap().as_sip().unwrap().headers().is_some());
}

#[test]
fn unknown_schemes_and_auth() {
    let m = msg("rfc4475/unksm2.dat");
    assert!(matches!(
        m.to().unwrap().unwrap().uri().unwrap(),
        Uri::Other { .. }
    ));
    let r = msg("rfc4475/regaut01.dat");
    let a = r.auths(HeaderName::Authorization).next().unwrap().unwrap();
    assert!(!a.is_digest());
}

#[test]
fn ipv6_references() {
    let m = msg("rfc5118/wire/ipv6-good.dat");
    let Some(Ok(Uri::Sip(u))) = m.request_uri() else {
        panic!()
    };
    assert_eq!(u.host, Host::Ipv6("2001:db8::10".parse().unwrap()));
    let p = msg("rfc5118/wire/port-unambiguous.dat");
    let Some(Ok(Uri::Sip(u))) = p.request_uri() else {
        panic!()
    };
    assert_eq!(u.port, Some(5070));
    let a = msg("rfc5118/wire/port-ambiguous.dat");
    let Some(Ok(Uri::Sip(u))) = a.request_uri() else {
        panic!()
    };
    assert_eq!(
        (u.host, u.port),
        (Host::Ipv6("2001:db8::10:5070".parse().unwrap()), None)
    );
    let mapped = msg("rfc5118/wire/ipv4-mapped-ipv6.dat");
    assert!(mapped
        .vias()
        .all(|v| matches!(v.unwrap().host, Host::Ipv6(_))));
}

#[test]
fn examples_parse_and_validate() {
    for f in [
        "200-ok-record-route.sip",
        "invite-sdp.sip",
        "register-digest.sip",
        "register-outbound-forwarded.sip",
        "register-outbound.sip",
    ] {
        let m = msg(&format!("examples/{f}"));
        assert_eq!(m.validate(), Ok(()), "{f}");
        assert!(m.tolerated().is_empty(), "{f}");
        assert_eq!(reencode(&m), m.as_bytes(), "{f}");
    }
    let d = msg("examples/register-digest.sip");
    let a = d.auths(HeaderName::Authorization).next().unwrap().unwrap();
    assert_eq!(
        a.get("response").unwrap().unquoted(),
        b"6c4035e80970a158bb850f83a0d9dd41"
    );
    let _ = Bytes::new();
}

/// Each rejection for the right reason, not by accident: the file, and what the error says.
#[test]
fn rejections_name_what_is_wrong() {
    let cases = [
        ("rfc4475/badinv01.dat", "Via: malformed parameter"),
        ("rfc4475/clerr.dat", "Content-Length larger than the body"),
        ("rfc4475/ncl.dat", "invalid Content-Length"),
        (
            "rfc4475/scalar02.dat",
            "CSeq: number malformed or out of range",
        ),
        (
            "rfc4475/scalarlg.dat",
            "CSeq: number malformed or out of range",
        ),
        ("rfc4475/quotbal.dat", "To: malformed quoted string"),
        ("rfc4475/ltgtruri.dat", "Request-URI: malformed URI scheme"),
        ("rfc4475/lwsruri.dat", "malformed SIP-Version"),
        ("rfc4475/lwsstart.dat", "malformed Request-URI"),
        ("rfc4475/trws.dat", "malformed SIP-Version"),
        ("rfc4475/escruri.dat", "Request-URI carries headers"),
        ("rfc4475/baddate.dat", "Date: malformed date"),
        ("rfc4475/regbadct.dat", "Contact: malformed angle brackets"),
        ("rfc4475/badaspec.dat", "To: malformed URI scheme"),
        ("rfc4475/baddn.dat", "From: malformed URI scheme"),
        ("rfc4475/badvers.dat", "SIP version not supported"),
        ("rfc4475/mismatch01.dat", "CSeq method does not match"),
        ("rfc4475/mismatch02.dat", "CSeq method does not match"),
        ("rfc4475/bigcode.dat", "malformed status line"),
        ("rfc4475/badbranch.dat", "branch is only the magic cookie"),
        ("rfc4475/insuf.dat", "missing To header"),
        ("rfc4475/multi01.dat", "appears more than once"),
        ("rfc4475/mcl01.dat", "conflicting Content-Length"),
        ("rfc5118/wire/ipv6-bad.dat", "Request-URI: malformed host"),
    ];
    for (file, want) in cases {
        let said = match datagram(&read(file)) {
            Err(e) => e.to_string(),
            Ok(m) => m
                .validate()
                .err()
                .map(|i| i.to_string())
                .unwrap_or_default(),
        };
        assert!(said.contains(want), "{file}: said {said:?}, want {want:?}");
    }
}
