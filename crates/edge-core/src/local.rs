//! What the edge answers itself: requests addressed to the edge (OPTIONS keep-alives and
//! capability queries, RFC 3261 §11), malformed requests (the codec's verdict turned into a
//! response), and everything the edge cannot yet route.
//!
//! Calling order: the runtime parses a message with `sip-wire`, then calls
//! [`Edge::handle_message`] (or [`Edge::handle_malformed`] when the parse failed) with the flow
//! the message came on and a buffer it owns; a [`Outcome::Reply`] means the buffer holds a
//! response to send back on the same flow.

use core::fmt::Write as _;
use core::net::{IpAddr, SocketAddr};

use sip_wire::{Host, Message, Method, ParseError, ResponseBuilder, StartKind, Uri};

use crate::counters::{Counters, DropReason, Transport};
use crate::Instant;

/// Methods the edge answers itself when a request names it (RFC 3261 §20.5 Allow). The edge
/// proxies other methods once routing is configured; those are the core's to advertise.
pub const ALLOW: &[u8] = b"OPTIONS";
/// Bodies the edge accepts in a request addressed to it (RFC 3261 §11.2: "Accept ... SHOULD be
/// present"; the edge takes no body, and SDP is what its clients would offer).
pub const ACCEPT: &[u8] = b"application/sdp";

/// What the edge is: the names and addresses by which a Request-URI designates it.
#[derive(Clone, Debug, Default)]
pub struct EdgeConfig {
    /// Host names (and address literals) that name the edge itself, lowercase.
    pub hosts: Vec<String>,
    /// Addresses the edge listens on. An unspecified address (0.0.0.0, ::) matches nothing:
    /// the operator lists the interface addresses in `hosts`.
    pub listen: Vec<SocketAddr>,
    /// Option tags for the Supported header of OPTIONS answers (RFC 3261 §20.37).
    pub supported: Vec<String>,
}

/// Where a message came from.
#[derive(Clone, Copy, Debug)]
pub struct Source {
    /// The transport it arrived on.
    pub transport: Transport,
    /// The remote address (after NAT: what the socket saw).
    pub remote: SocketAddr,
    /// The local address it arrived at.
    pub local: SocketAddr,
}

/// What to do with a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The output buffer holds a response; send it on the flow the request came on.
    Reply,
    /// Nothing to send; counted as this drop reason.
    Drop(DropReason),
    /// Nothing to send, nothing wrong (an ACK to a local non-2xx answer, RFC 3261 §17.2.1).
    Absorbed,
}

/// The edge's own request handling for one shard.
#[derive(Debug)]
pub struct Edge {
    hosts: Vec<Vec<u8>>,
    ports: Vec<u16>,
    supported: Vec<u8>,
    tag_state: u64,
}

impl Edge {
    /// A handler for one shard; `seed` is randomness from the runtime (To tags must differ
    /// across shards and restarts, RFC 3261 §19.3: "globally unique and cryptographically
    /// random with at least 32 bits of randomness").
    pub fn new(config: &EdgeConfig, seed: u64) -> Self {
        let mut hosts: Vec<Vec<u8>> = config
            .hosts
            .iter()
            .map(|h| h.to_ascii_lowercase().into_bytes())
            .collect();
        for a in &config.listen {
            if !a.ip().is_unspecified() {
                let mut s = String::new();
                let _ = write!(s, "{}", a.ip());
                hosts.push(s.into_bytes());
            }
        }
        hosts.sort();
        hosts.dedup();
        let mut ports: Vec<u16> = config.listen.iter().map(SocketAddr::port).collect();
        ports.sort_unstable();
        ports.dedup();
        Self {
            hosts,
            ports,
            supported: config.supported.join(", ").into_bytes(),
            tag_state: seed,
        }
    }

    /// Handles a parsed message. `out` is cleared first.
    pub fn handle_message(
        &mut self,
        _now: Instant,
        msg: &Message,
        src: &Source,
        out: &mut Vec<u8>,
        counters: &mut Counters,
    ) -> Outcome {
        out.clear();
        if !msg.is_request() {
            // Responses are only ever forwarded along a transaction; there is none yet.
            return match msg.validate() {
                Err(_) => Outcome::Drop(DropReason::InvalidResponse),
                Ok(()) => Outcome::Drop(DropReason::StrayResponse),
            };
        }
        if let Err(invalid) = msg.validate() {
            let Some(code) = invalid.status() else {
                return Outcome::Drop(DropReason::Malformed);
            };
            if msg.top_via().is_none() {
                // No Via: nowhere a response could be routed (RFC 3261 §18.2.2).
                return Outcome::Drop(DropReason::Malformed);
            }
            let mut reason = ReasonBuf::new(code);
            let _ = write!(reason, " ({invalid})");
            counters.rejected += 1;
            return self.respond(msg, src, code, Some(reason.as_bytes()), &[], out, counters);
        }
        let method = msg.method().unwrap_or(Method::Extension(b""));
        if method == Method::Ack {
            // An ACK answers one of our non-2xx responses, or belongs to a dialog the edge
            // cannot route yet; either way no response (RFC 3261 §17.1.1.3).
            return Outcome::Absorbed;
        }
        if self.names_edge(msg) {
            return match method {
                Method::Options => {
                    let supported = std::mem::take(&mut self.supported);
                    let r = self.respond(
                        msg,
                        src,
                        200,
                        None,
                        &[
                            (b"Allow".as_slice(), ALLOW),
                            (b"Accept".as_slice(), ACCEPT),
                            (b"Supported".as_slice(), &supported),
                        ],
                        out,
                        counters,
                    );
                    self.supported = supported;
                    r
                }
                // RFC 3261 §8.2.1: a method the UAS does not support gets 405 with Allow.
                _ => self.respond(msg, src, 405, None, &[(b"Allow", ALLOW)], out, counters),
            };
        }
        if method == Method::Cancel {
            // RFC 3261 §9.2: no matching transaction.
            return self.respond(msg, src, 481, None, &[], out, counters);
        }
        self.respond(
            msg,
            src,
            404,
            Some(b"Not Found (no route)"),
            &[],
            out,
            counters,
        )
    }

    /// Handles a message the codec refused. A request whose verdict carries a status is
    /// answered when the header lines a response needs can be found; everything else is
    /// dropped (RFC 3261 §16.3 / §18.1.2: a response that cannot be parsed is discarded).
    pub fn handle_malformed(
        &mut self,
        err: &ParseError,
        raw: &[u8],
        src: &Source,
        out: &mut Vec<u8>,
        counters: &mut Counters,
    ) -> Outcome {
        out.clear();
        let Some(code) = err.status() else {
            return Outcome::Drop(DropReason::Malformed);
        };
        if err.start == StartKind::Response {
            return Outcome::Drop(DropReason::Malformed);
        }
        let mut tag = [0u8; 16];
        let tag = self.next_tag(&mut tag);
        let mut ip = [0u8; 64];
        let ip = write_ip(&mut ip, src.remote.ip());
        let source = (ip, src.remote.port());
        match salvage_response(raw, code, err.kind.describe(), tag, source, out) {
            true => {
                counters.rejected += 1;
                counters.answered_locally += 1;
                Outcome::Reply
            }
            false => Outcome::Drop(DropReason::Malformed),
        }
    }

    /// RFC 3261 §16.4 "myself": the Request-URI has no user part and its host is one of the
    /// edge's names or listening addresses (with a port, one the edge listens on).
    fn names_edge(&self, msg: &Message) -> bool {
        let Some(Ok(Uri::Sip(uri))) = msg.request_uri() else {
            return false;
        };
        if uri.user.is_some() {
            return false;
        }
        if uri
            .port
            .is_some_and(|p| self.ports.binary_search(&p).is_err())
        {
            return false;
        }
        // 255 covers the longest DNS name (253 octets, RFC 1035 §2.3.4); a longer host cannot
        // be one of ours (config refuses them).
        let mut name = [0u8; 255];
        let mut buf = [0u8; 64];
        let host: &[u8] = match uri.host {
            Host::Domain(d) if d.len() > name.len() => return false,
            Host::Domain(d) => {
                let buf = &mut name;
                let n = d.len().min(buf.len());
                buf[..n].copy_from_slice(&d[..n]);
                buf[..n].make_ascii_lowercase();
                // A trailing dot names the same host (RFC 1034 §3.1).
                let n = if n > 1 && buf[n - 1] == b'.' {
                    n - 1
                } else {
                    n
                };
                &buf[..n]
            }
            Host::Ipv4(a) => write_ip(&mut buf, IpAddr::V4(a)),
            Host::Ipv6(a) => write_ip(&mut buf, IpAddr::V6(a)),
        };
        self.hosts
            .binary_search_by(|h| h.as_slice().cmp(host))
            .is_ok()
    }

    #[allow(clippy::too_many_arguments)]
    fn respond(
        &mut self,
        msg: &Message,
        src: &Source,
        code: u16,
        reason: Option<&[u8]>,
        headers: &[(&[u8], &[u8])],
        out: &mut Vec<u8>,
        counters: &mut Counters,
    ) -> Outcome {
        let mut tag = [0u8; 16];
        let tag = self.next_tag(&mut tag);
        let mut ip = [0u8; 64];
        let ip = write_ip(&mut ip, src.remote.ip());
        let mut b = ResponseBuilder::new(msg, code);
        b.to_tag(tag).source(ip, src.remote.port());
        if let Some(r) = reason {
            b.reason(r);
        }
        for (n, v) in headers {
            b.header(n, v);
        }
        match b.write_to(out) {
            Ok(_) => {
                counters.answered_locally += 1;
                Outcome::Reply
            }
            Err(_) => Outcome::Drop(DropReason::Malformed),
        }
    }

    /// A fresh To tag: 64 bits of the shard's seed stream (splitmix64), in hex.
    fn next_tag<'b>(&mut self, buf: &'b mut [u8; 16]) -> &'b [u8] {
        self.tag_state = self.tag_state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.tag_state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        const HEX: &[u8; 16] = b"0123456789abcdef";
        for (i, b) in buf.iter_mut().enumerate() {
            *b = HEX[((z >> (60 - 4 * i)) & 0xF) as usize];
        }
        &buf[..]
    }
}

/// Writes an address as text (no brackets) into `buf`. IPv4, the common case on the hot path,
/// by hand: `core::fmt` costs about a thousand instructions per address.
fn write_ip(buf: &mut [u8; 64], ip: IpAddr) -> &[u8] {
    if let IpAddr::V4(a) = ip {
        let mut n = 0;
        for (i, o) in a.octets().into_iter().enumerate() {
            if i > 0 {
                buf[n] = b'.';
                n += 1;
            }
            if o >= 100 {
                buf[n] = b'0' + o / 100;
                n += 1;
            }
            if o >= 10 {
                buf[n] = b'0' + o / 10 % 10;
                n += 1;
            }
            buf[n] = b'0' + o % 10;
            n += 1;
        }
        return &buf[..n];
    }
    struct W<'a> {
        buf: &'a mut [u8; 64],
        n: usize,
    }
    impl core::fmt::Write for W<'_> {
        fn write_str(&mut self, s: &str) -> core::fmt::Result {
            let end = self.n + s.len();
            if end > self.buf.len() {
                return Err(core::fmt::Error);
            }
            self.buf[self.n..end].copy_from_slice(s.as_bytes());
            self.n = end;
            Ok(())
        }
    }
    let mut w = W { buf, n: 0 };
    let _ = write!(w, "{ip}");
    let n = w.n;
    &buf[..n]
}

/// A reason phrase on the stack: the standard phrase and a detail, printable ASCII only.
struct ReasonBuf {
    buf: [u8; 160],
    n: usize,
}

impl ReasonBuf {
    fn new(code: u16) -> Self {
        let mut r = Self {
            buf: [0; 160],
            n: 0,
        };
        let _ = r.write_str(sip_wire::reason_phrase(code));
        r
    }

    fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.n]
    }
}

impl core::fmt::Write for ReasonBuf {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        for &b in s.as_bytes() {
            if self.n == self.buf.len() {
                break;
            }
            // Reason-Phrase admits no controls; the detail comes from our own descriptions,
            // this only guards the invariant.
            self.buf[self.n] = if (0x20..0x7f).contains(&b) { b } else { b'?' };
            self.n += 1;
        }
        Ok(())
    }
}

/// Builds a response to a request the codec could not index, from its raw header lines: every
/// Via line (the first annotated with the source, RFC 3261 §18.2.1 / RFC 3581), and the first
/// From, To, Call-ID and CSeq (full or compact names, RFC 3261 §7.3.3), with a To tag added.
/// Returns false when one of them is missing, or the top Via is not a Via: then there is no way
/// to address a response and the request is dropped.
fn salvage_response(
    raw: &[u8],
    code: u16,
    detail: &str,
    tag: &[u8],
    source: (&[u8], u16),
    out: &mut Vec<u8>,
) -> bool {
    out.clear();
    let mut reason = ReasonBuf::new(code);
    let _ = write!(reason, " ({detail})");
    out.extend_from_slice(b"SIP/2.0 ");
    // A status code is three digits (RFC 3261 §7.2); the codec's verdicts are 400, 414, 513.
    out.extend_from_slice(&[
        b'0' + (code / 100 % 10) as u8,
        b'0' + (code / 10 % 10) as u8,
        b'0' + (code % 10) as u8,
    ]);
    out.push(b' ');
    out.extend_from_slice(reason.as_bytes());
    out.extend_from_slice(b"\r\n");
    let (mut via, mut from, mut to, mut call_id, mut cseq) = (false, false, false, false, false);
    let mut copying = false;
    let mut first = true;
    for line in raw.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if first {
            first = false;
            continue;
        }
        if line.is_empty() {
            break;
        }
        // A control character (a bare CR above all) would make the answer as broken as the
        // request: such a line is not copied, and a header it continues is not answered.
        let clean = !line.iter().any(|&b| b < 0x20 && b != b'\t' || b == 0x7f);
        if line[0] == b' ' || line[0] == b'\t' {
            if copying {
                if !clean {
                    out.clear();
                    return false;
                }
                out.extend_from_slice(line);
                out.extend_from_slice(b"\r\n");
            }
            continue;
        }
        copying = false;
        if !clean {
            continue;
        }
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let name = sip_wire::HeaderName::from_bytes(trim(&line[..colon]));
        use sip_wire::HeaderName as H;
        let slot = match name {
            H::Via if !via => {
                via = true;
                // The response goes where this says: it must be a Via, and not folded (the
                // next line would continue a value we rewrite).
                let value = trim(&line[colon + 1..]);
                let first = value.split(|&b| b == b',').next().unwrap_or_default();
                if sip_wire::Via::parse(trim(first)).is_err() || next_is_fold(raw, line) {
                    out.clear();
                    return false;
                }
                out.extend_from_slice(&line[..colon + 1]);
                out.push(b' ');
                sip_wire::annotate_via(value, source.0, source.1, out);
                out.extend_from_slice(b"\r\n");
                false
            }
            H::Via => true,
            H::From => !std::mem::replace(&mut from, true),
            H::CallId => !std::mem::replace(&mut call_id, true),
            H::CSeq => !std::mem::replace(&mut cseq, true),
            H::To if !to => {
                to = true;
                out.extend_from_slice(line);
                let lower = line.to_ascii_lowercase();
                if !lower.windows(5).any(|w| w == b";tag=") {
                    out.extend_from_slice(b";tag=");
                    out.extend_from_slice(tag);
                }
                out.extend_from_slice(b"\r\n");
                false
            }
            _ => false,
        };
        if slot {
            copying = true;
            out.extend_from_slice(line);
            out.extend_from_slice(b"\r\n");
        }
    }
    out.extend_from_slice(b"Content-Length: 0\r\n\r\n");
    let ok = via && from && to && call_id && cseq;
    if !ok {
        out.clear();
    }
    ok
}

/// Whether the physical line after `line` (a subslice of `raw`) starts with whitespace.
fn next_is_fold(raw: &[u8], line: &[u8]) -> bool {
    let end = line.as_ptr() as usize - raw.as_ptr() as usize + line.len();
    let rest = &raw[end.min(raw.len())..];
    let rest = rest.strip_prefix(b"\r").unwrap_or(rest);
    let rest = rest.strip_prefix(b"\n").unwrap_or(rest);
    matches!(rest.first(), Some(b' ' | b'\t'))
}

fn trim(s: &[u8]) -> &[u8] {
    let start = s
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(s.len());
    let end = s
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(start, |e| e + 1);
    &s[start..end]
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn edge() -> Edge {
        Edge::new(
            &EdgeConfig {
                hosts: vec!["Edge.Example.NET".into()],
                listen: vec![
                    "127.0.0.1:5060".parse().unwrap(),
                    "[::]:5062".parse().unwrap(),
                ],
                supported: vec!["path".into(), "outbound".into()],
            },
            42,
        )
    }

    fn src() -> Source {
        Source {
            transport: Transport::Udp,
            remote: "192.0.2.7:40000".parse().unwrap(),
            local: "127.0.0.1:5060".parse().unwrap(),
        }
    }

    fn req(method: &str, ruri: &str) -> Message {
        let s = format!(
            "{method} {ruri} SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK-1;rport\r\n\
             Max-Forwards: 70\r\nFrom: <sip:a@example.com>;tag=1\r\nTo: <sip:b@example.com>\r\n\
             Call-ID: c1\r\nCSeq: 1 {method}\r\nContent-Length: 0\r\n\r\n"
        );
        Message::parse_datagram(Bytes::from(s)).unwrap()
    }

    fn run(e: &mut Edge, m: &Message) -> (Outcome, String) {
        let mut out = Vec::new();
        let mut c = Counters::default();
        let o = e.handle_message(Instant::default(), m, &src(), &mut out, &mut c);
        (o, String::from_utf8(out).unwrap())
    }

    #[test]
    fn options_to_the_edge_gets_200_with_capabilities() {
        let mut e = edge();
        for ruri in [
            "sip:127.0.0.1",
            "sip:127.0.0.1:5060",
            "sip:edge.example.net",
            "sip:EDGE.example.net.",
            "sip:edge.example.net:5062;transport=tcp",
        ] {
            let (o, r) = run(&mut e, &req("OPTIONS", ruri));
            assert_eq!(o, Outcome::Reply, "{ruri}");
            assert!(r.starts_with("SIP/2.0 200 OK\r\n"), "{ruri}: {r}");
            assert!(r.contains("\r\nAllow: OPTIONS\r\n"), "{r}");
            assert!(r.contains("\r\nAccept: application/sdp\r\n"), "{r}");
            assert!(r.contains("\r\nSupported: path, outbound\r\n"), "{r}");
            assert!(
                r.contains(";branch=z9hG4bK-1;rport=40000;received=192.0.2.7\r\n"),
                "{r}"
            );
            assert!(r.contains("To: <sip:b@example.com>;tag="), "{r}");
        }
    }

    #[test]
    fn requests_not_naming_the_edge() {
        let mut e = edge();
        for ruri in [
            "sip:alice@127.0.0.1",
            "sip:127.0.0.1:5999",
            "sip:core.example.com",
        ] {
            let (o, r) = run(&mut e, &req("OPTIONS", ruri));
            assert_eq!(o, Outcome::Reply);
            assert!(r.starts_with("SIP/2.0 404 Not Found (no route)\r\n"), "{r}");
        }
        let (_, r) = run(&mut e, &req("INVITE", "sip:127.0.0.1"));
        assert!(r.starts_with("SIP/2.0 405 "), "{r}");
        assert!(r.contains("\r\nAllow: OPTIONS\r\n"));
        let (_, r) = run(&mut e, &req("CANCEL", "sip:bob@example.com"));
        assert!(r.starts_with("SIP/2.0 481 "), "{r}");
        let (o, r) = run(&mut e, &req("ACK", "sip:127.0.0.1"));
        assert_eq!((o, r.as_str()), (Outcome::Absorbed, ""));
    }

    #[test]
    fn responses_are_dropped_and_invalid_requests_answered() {
        let mut e = edge();
        let resp = Message::parse_datagram(Bytes::from_static(
            b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:a@b>;tag=1\r\n\
              To: <sip:a@b>\r\nCall-ID: x\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n",
        ))
        .unwrap();
        assert_eq!(
            run(&mut e, &resp).0,
            Outcome::Drop(DropReason::StrayResponse)
        );
        let bad = Message::parse_datagram(Bytes::from_static(
            b"OPTIONS sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n\
              From: <sip:a@b>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: x\r\nCSeq: 1 INVITE\r\n\
              Content-Length: 0\r\n\r\n",
        ))
        .unwrap();
        let (o, r) = run(&mut e, &bad);
        assert_eq!(o, Outcome::Reply);
        assert!(r.starts_with("SIP/2.0 400 Bad Request (CSeq method"), "{r}");
    }

    #[test]
    fn malformed_requests_are_salvaged_when_addressable() {
        let mut e = edge();
        let raw = b"OPTIONS sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n\
            f: <sip:a@b>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: x\r\nCSeq: 1 OPTIONS\r\n\
            Content-Length: 50\r\n\r\nshort";
        let err = Message::parse_datagram(Bytes::from_static(raw)).unwrap_err();
        let mut out = Vec::new();
        let mut c = Counters::default();
        let o = e.handle_malformed(&err, raw, &src(), &mut out, &mut c);
        assert_eq!(o, Outcome::Reply);
        let r = String::from_utf8(out.clone()).unwrap();
        assert!(r.starts_with("SIP/2.0 400 Bad Request ("), "{r}");
        assert!(r.contains("\r\nf: <sip:a@b>;tag=1\r\n"), "{r}");
        assert!(
            r.contains("\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1;received=192.0.2.7\r\n"),
            "{r}"
        );
        assert!(r.contains("\r\nTo: <sip:a@b>;tag="), "{r}");
        assert!(r.ends_with("Content-Length: 0\r\n\r\n"));
        // The response parses.
        Message::parse_datagram(Bytes::from(out.clone())).unwrap();
        // Without Call-ID there is nothing to answer.
        let raw2 = b"OPTIONS sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n\
            From: <sip:a@b>;tag=1\r\nTo: <sip:a@b>\r\nCSeq: 1 OPTIONS\r\n\
            Content-Length: 50\r\n\r\nshort";
        let err = Message::parse_datagram(Bytes::from_static(raw2)).unwrap_err();
        assert_eq!(
            e.handle_malformed(&err, raw2, &src(), &mut out, &mut c),
            Outcome::Drop(DropReason::Malformed)
        );
        assert!(out.is_empty());
    }

    #[test]
    fn addresses_as_text() {
        let mut b = [0u8; 64];
        for a in [
            "0.0.0.0",
            "1.2.3.4",
            "10.100.9.255",
            "192.0.2.7",
            "255.255.255.255",
        ] {
            assert_eq!(write_ip(&mut b, a.parse().unwrap()), a.as_bytes());
        }
        assert_eq!(
            write_ip(&mut b, "2001:db8::1".parse().unwrap()),
            b"2001:db8::1"
        );
    }

    #[test]
    fn a_salvaged_answer_never_copies_control_characters() {
        let mut e = edge();
        let mut out = Vec::new();
        let mut c = Counters::default();
        // The From header's continuation line has a bare CR: the request cannot be answered
        // without repeating it.
        let raw = b"OPTIONS sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n\
            From: <sip:a@b>\r\n  ;tag=1\rx\r\nTo: <sip:a@b>\r\nCall-ID: x\r\nCSeq: 1 OPTIONS\r\n\
            Content-Length: 0\r\n\r\n";
        let err = Message::parse_datagram(Bytes::from_static(raw)).unwrap_err();
        assert_eq!(
            e.handle_malformed(&err, raw, &src(), &mut out, &mut c),
            Outcome::Drop(DropReason::Malformed)
        );
        // A broken header nobody copies does not stop the answer.
        let raw = b"OPTIONS sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n\
            From: <sip:a@b>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: x\r\nCSeq: 1 OPTIONS\r\n\
            X-Junk: a\rb\r\nContent-Length: 0\r\n\r\n";
        let err = Message::parse_datagram(Bytes::from_static(raw)).unwrap_err();
        assert_eq!(
            e.handle_malformed(&err, raw, &src(), &mut out, &mut c),
            Outcome::Reply
        );
        assert!(!out.windows(2).any(|w| w[0] == b'\r' && w[1] != b'\n'));
        Message::parse_datagram(Bytes::from(out.clone())).unwrap();
    }

    #[test]
    fn tags_differ() {
        let mut e = edge();
        let mut a = [0u8; 16];
        let mut b = [0u8; 16];
        let x = e.next_tag(&mut a).to_vec();
        let y = e.next_tag(&mut b).to_vec();
        assert_ne!(x, y);
    }
}
