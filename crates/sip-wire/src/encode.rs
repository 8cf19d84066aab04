//! Writing messages: the [`Rewrite`] of a received message for forwarding, and the
//! [`ResponseBuilder`] for answering a request (RFC 3261 §8.2.6).
//!
//! Both write into a buffer the caller owns and reuses. A header nobody edits is copied as one
//! `memcpy` of its original line, so forwarding costs about one copy of the message; only the
//! lines an edit touches are re-written. The output is always what RFC 3261 §7 writes: CRLF
//! line ends and the empty line, even when the parse tolerated less ([`crate::Tolerated`]).

use crate::header::HeaderName;
use crate::limits::{DEFAULT_MAX_FORWARDS, MAX_HEADERS, MAX_MESSAGE_SIZE};
use crate::message::Message;
use crate::parse::{Entry, Start, Tolerated};
use crate::scan::{element_end, trim_lws};
use crate::values::parse_max_forwards;

/// Why a rewrite could not be written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RewriteError {
    /// More edits of one kind than the fixed capacity (see [`Rewrite`]).
    TooManyEdits,
    /// Max-Forwards is 0: the request must be answered 483, not forwarded (RFC 3261 §16.3).
    MaxForwardsExhausted,
    /// Max-Forwards is not a number from 0 to 255.
    MaxForwardsMalformed,
    /// The result would exceed [`MAX_MESSAGE_SIZE`] or [`MAX_HEADERS`] header lines: more than
    /// sipedge itself (or a peer with the same limits) accepts (answer 513).
    TooLarge,
    /// `replace_header` or `remove_header` was given [`HeaderName::Other`], which names no
    /// header (use `add_header` for headers sipedge does not know).
    OtherHeader,
}

impl core::fmt::Display for RewriteError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Self::TooManyEdits => "too many edits",
            Self::MaxForwardsExhausted => "Max-Forwards exhausted",
            Self::MaxForwardsMalformed => "Max-Forwards malformed",
            Self::TooLarge => "rewritten message too large",
            Self::OtherHeader => "replace or remove of an unnamed header",
        })
    }
}

impl std::error::Error for RewriteError {}

/// Most prepended Route-like values (Record-Route, Path) in one rewrite: double record-routing
/// (RFC 5658) needs two.
const MAX_PREPENDS: usize = 4;
/// Most added, replaced or removed headers in one rewrite: an edge adds a handful at most.
const MAX_HEADER_EDITS: usize = 8;

/// Edits to apply while writing a received message out again.
///
/// ```
/// # use sip_wire::{Message, Rewrite};
/// # let msg = Message::parse_datagram(bytes::Bytes::from_static(
/// #     b"OPTIONS sip:b@example.com SIP/2.0\r\nVia: SIP/2.0/UDP a.example.com;branch=z9hG4bK1\r\n\
/// #       Max-Forwards: 70\r\nTo: <sip:b@example.com>\r\nFrom: <sip:a@example.com>;tag=1\r\n\
/// #       Call-ID: c1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n")).unwrap();
/// let mut out = Vec::new();
/// Rewrite::new(&msg)
///     .push_via(b"SIP/2.0/UDP edge.example.net;branch=z9hG4bKe1")
///     .prepend_record_route(b"<sip:edge.example.net;lr>")
///     .decrement_max_forwards()
///     .write_to(&mut out)?;
/// let fwd = Message::parse_datagram(out.into())?;
/// assert_eq!(fwd.max_forwards(), Some(Ok(69)));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// Edits are held in fixed arrays (no allocation); exceeding a capacity makes `write_to` fail
/// with [`RewriteError::TooManyEdits`] rather than dropping an edit.
#[derive(Clone, Debug)]
pub struct Rewrite<'a> {
    msg: &'a Message,
    request_uri: Option<&'a [u8]>,
    push_via: Option<&'a [u8]>,
    pop_via: bool,
    pop_route: bool,
    prepends: [Option<(HeaderName, &'a [u8])>; MAX_PREPENDS],
    max_forwards: bool,
    removed: [Option<HeaderName>; MAX_HEADER_EDITS],
    replaced: [Option<(HeaderName, &'a [u8])>; MAX_HEADER_EDITS],
    added: [Option<(&'a [u8], &'a [u8])>; MAX_HEADER_EDITS],
    body: Option<(Option<&'a [u8]>, &'a [u8])>,
    ensure_content_length: bool,
    overflow: bool,
    other_header: bool,
}

fn put<T: Copy>(slots: &mut [Option<T>], v: T, overflow: &mut bool) {
    match slots.iter_mut().find(|s| s.is_none()) {
        Some(s) => *s = Some(v),
        None => *overflow = true,
    }
}

impl<'a> Rewrite<'a> {
    /// No edits yet: writing now reproduces the message.
    pub fn new(msg: &'a Message) -> Self {
        Self {
            msg,
            request_uri: None,
            push_via: None,
            pop_via: false,
            pop_route: false,
            prepends: [None; MAX_PREPENDS],
            max_forwards: false,
            removed: [None; MAX_HEADER_EDITS],
            replaced: [None; MAX_HEADER_EDITS],
            added: [None; MAX_HEADER_EDITS],
            body: None,
            ensure_content_length: false,
            overflow: false,
            other_header: false,
        }
    }

    /// Replaces the Request-URI (RFC 3261 §16.5, §16.6 step 2).
    pub fn set_request_uri(&mut self, uri: &'a [u8]) -> &mut Self {
        self.request_uri = Some(uri);
        self
    }

    /// Adds a Via value on top (RFC 3261 §16.6 step 8).
    pub fn push_via(&mut self, value: &'a [u8]) -> &mut Self {
        self.push_via = Some(value);
        self
    }

    /// Removes the topmost Via value (RFC 3261 §16.7 step 3).
    pub fn pop_via(&mut self) -> &mut Self {
        self.pop_via = true;
        self
    }

    /// Removes the topmost Route value (RFC 3261 §16.4, when it names this proxy).
    pub fn pop_route(&mut self) -> &mut Self {
        self.pop_route = true;
        self
    }

    /// Adds a Record-Route value above all others (RFC 3261 §16.6 step 4). Called twice, the
    /// second value ends up on top.
    pub fn prepend_record_route(&mut self, value: &'a [u8]) -> &mut Self {
        put(
            &mut self.prepends,
            (HeaderName::RecordRoute, value),
            &mut self.overflow,
        );
        self
    }

    /// Adds a Path value above all others (RFC 3327 §5.1).
    pub fn prepend_path(&mut self, value: &'a [u8]) -> &mut Self {
        put(
            &mut self.prepends,
            (HeaderName::Path, value),
            &mut self.overflow,
        );
        self
    }

    /// Decrements Max-Forwards, or inserts it with 70 when absent (RFC 3261 §16.6 step 3).
    pub fn decrement_max_forwards(&mut self) -> &mut Self {
        self.max_forwards = true;
        self
    }

    /// Removes every line of a known header.
    pub fn remove_header(&mut self, name: HeaderName) -> &mut Self {
        self.other_header |= name == HeaderName::Other;
        put(&mut self.removed, name, &mut self.overflow);
        self
    }

    /// Replaces every line of a known header with one line holding `value` (added at the end
    /// when the header is absent).
    pub fn replace_header(&mut self, name: HeaderName, value: &'a [u8]) -> &mut Self {
        self.other_header |= name == HeaderName::Other;
        put(&mut self.replaced, (name, value), &mut self.overflow);
        self
    }

    /// Appends a header line after the existing ones.
    pub fn add_header(&mut self, name: &'a [u8], value: &'a [u8]) -> &mut Self {
        put(&mut self.added, (name, value), &mut self.overflow);
        self
    }

    /// Replaces the body (and Content-Type when given); Content-Length follows.
    pub fn set_body(&mut self, content_type: Option<&'a [u8]>, body: &'a [u8]) -> &mut Self {
        self.body = Some((content_type, body));
        self
    }

    /// Writes a Content-Length even when the message had none (RFC 3261 §18.3: mandatory on
    /// stream transports; an RFC 2543 datagram may lack it, RFC 4475 §3.4.1).
    pub fn ensure_content_length(&mut self) -> &mut Self {
        self.ensure_content_length = true;
        self
    }

    fn replacement(&self, name: HeaderName) -> Option<&'a [u8]> {
        if name == HeaderName::Other {
            return None;
        }
        self.replaced
            .iter()
            .flatten()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| *v)
    }

    fn is_removed(&self, name: HeaderName) -> bool {
        name != HeaderName::Other && self.removed.iter().flatten().any(|n| *n == name)
    }

    /// Appends the rewritten message to `out` and returns how many octets were written.
    pub fn write_to(&self, out: &mut Vec<u8>) -> Result<usize, RewriteError> {
        if self.overflow {
            return Err(RewriteError::TooManyEdits);
        }
        if self.other_header {
            return Err(RewriteError::OtherHeader);
        }
        let msg = self.msg;
        let buf = msg.buf();
        let parts = msg.parts();
        let normalize = msg.tolerated().contains(Tolerated::BARE_LF);
        let begin = out.len();
        out.reserve(msg.as_bytes().len() + 256);

        // Start line.
        match (parts.start, self.request_uri) {
            (
                Start::Request {
                    method, version, ..
                },
                Some(uri),
            ) => {
                out.extend_from_slice(method.of(buf));
                out.push(b' ');
                out.extend_from_slice(uri);
                out.push(b' ');
                out.extend_from_slice(version.of(buf));
            }
            _ => out.extend_from_slice(msg.start_line()),
        }
        out.extend_from_slice(b"\r\n");

        let position = |name: HeaderName| msg.entries().position(|e| e.name == name);
        let first_via = position(HeaderName::Via);
        let last_via = msg
            .entries()
            .enumerate()
            .filter(|(_, e)| e.name == HeaderName::Via)
            .map(|(i, _)| i)
            .last();
        let first_route = position(HeaderName::Route);
        let first_rr = position(HeaderName::RecordRoute);
        let first_path = position(HeaderName::Path);
        let mf = position(HeaderName::MaxForwards);
        let new_cl = self.body.map(|(_, b)| b.len());

        // A new Via goes on top of the Via block, or first when there is none.
        if first_via.is_none() {
            if let Some(v) = self.push_via {
                line(out, b"Via", v);
            }
        }
        // Record-Route / Path go above their first existing line, else after the Via block
        // (or first when there is no Via).
        let prepend_at = |first: Option<usize>| first.or(last_via.map(|i| i + 1)).unwrap_or(0);
        let rr_at = prepend_at(first_rr);
        let path_at = prepend_at(first_path);
        let mut replaced_done = [false; MAX_HEADER_EDITS];
        let (mut cl_done, mut ct_done) = (false, false);

        let count = msg.header_count();
        for i in 0..=count {
            for (name, at) in [
                (HeaderName::RecordRoute, rr_at),
                (HeaderName::Path, path_at),
            ] {
                if at == i {
                    for (n, v) in self.prepends.iter().flatten().rev() {
                        if *n == name {
                            line(out, name.as_str().as_bytes(), v);
                        }
                    }
                }
            }
            let Some(e) = msg.entry_at(i) else { break };
            if Some(i) == first_via {
                if let Some(v) = self.push_via {
                    line(out, b"Via", v);
                }
            }
            // With a new body, exactly one Content-Length (and Content-Type, when given) is
            // written, where the first one stood: duplicates are dropped, and removing them
            // does not leave the body unframed.
            if let (HeaderName::ContentLength, Some(len)) = (e.name, new_cl) {
                if !cl_done {
                    number_line(out, e.name_span.of(buf), len);
                    cl_done = true;
                }
                continue;
            }
            if let (HeaderName::ContentType, Some((Some(ct), _))) = (e.name, self.body) {
                if !ct_done {
                    line(out, e.name_span.of(buf), ct);
                    ct_done = true;
                }
                continue;
            }
            if self.is_removed(e.name) {
                continue;
            }
            if let Some(v) = self.replacement(e.name) {
                let slot = self
                    .replaced
                    .iter()
                    .position(|r| matches!(r, Some((n, _)) if *n == e.name));
                let done = slot.map(|s| &mut replaced_done[s]);
                let first_of_name = position(e.name) == Some(i);
                if first_of_name {
                    line(out, e.name.as_str().as_bytes(), v);
                }
                if let Some(d) = done {
                    *d = true;
                }
                continue;
            }
            if (self.pop_via && Some(i) == first_via) || (self.pop_route && Some(i) == first_route)
            {
                let value = e.value.of(buf);
                let end = element_end(value);
                if end < value.len() {
                    let rest = trim_lws(&value[end + 1..]);
                    copy(out, e.name_span.of(buf), normalize);
                    out.extend_from_slice(b": ");
                    copy(out, rest, normalize);
                    out.extend_from_slice(b"\r\n");
                }
                continue;
            }
            if self.max_forwards && Some(i) == mf {
                let n = parse_max_forwards(e.value.of(buf))
                    .map_err(|_| RewriteError::MaxForwardsMalformed)?;
                let n = n.checked_sub(1).ok_or(RewriteError::MaxForwardsExhausted)?;
                number_line(out, e.name_span.of(buf), n.into());
                continue;
            }
            cl_done |= e.name == HeaderName::ContentLength;
            copy_entry(out, buf, e, normalize);
        }

        if self.max_forwards && mf.is_none() {
            number_line(out, b"Max-Forwards", DEFAULT_MAX_FORWARDS.into());
        }
        for (slot, (name, v)) in self
            .replaced
            .iter()
            .enumerate()
            .filter_map(|(s, r)| r.map(|r| (s, r)))
        {
            if !replaced_done[slot] {
                line(out, name.as_str().as_bytes(), v);
            }
        }
        if let Some((Some(ct), _)) = self.body {
            if !ct_done {
                line(out, b"Content-Type", ct);
            }
        }
        for (name, v) in self.added.iter().flatten() {
            line(out, name, v);
        }
        let body = self.body.map_or(msg.body(), |(_, b)| b);
        if !cl_done && (self.ensure_content_length || self.body.is_some()) {
            number_line(out, b"Content-Length", body.len());
        }
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(body);

        let written = out.len() - begin;
        // Lines this rewrite can add: a Via, the prepends, Max-Forwards, replacements,
        // Content-Type, additions, Content-Length. Only a message already near the limit is
        // counted.
        let may_add = 4 + 4 * MAX_HEADER_EDITS;
        if written > MAX_MESSAGE_SIZE
            || (count + may_add > MAX_HEADERS && header_lines(&out[begin..]) > MAX_HEADERS)
        {
            out.truncate(begin);
            return Err(RewriteError::TooLarge);
        }
        Ok(written)
    }
}

/// Logical header lines of a written message (lines of its header section that do not start a
/// fold), to hold output to the limit the parser holds input to.
fn header_lines(msg: &[u8]) -> usize {
    msg.split(|&b| b == b'\n')
        .skip(1)
        .take_while(|l| !l.is_empty() && *l != b"\r")
        .filter(|l| !matches!(l.first(), Some(b' ' | b'\t')))
        .count()
}

fn line(out: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    out.extend_from_slice(name);
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

fn number_line(out: &mut Vec<u8>, name: &[u8], n: usize) {
    out.extend_from_slice(name);
    out.extend_from_slice(b": ");
    write_decimal(out, n);
    out.extend_from_slice(b"\r\n");
}

/// Writes `n` in decimal without going through `fmt` (no allocation, no formatter).
fn write_decimal(out: &mut Vec<u8>, n: usize) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    let mut v = n;
    loop {
        i -= 1;
        digits[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
}

/// Copies a header line exactly as received (name, separator, value, folds).
fn copy_entry(out: &mut Vec<u8>, buf: &[u8], e: &Entry, normalize: bool) {
    copy(
        out,
        &buf[usize::from(e.name_span.start)..usize::from(e.line_end)],
        normalize,
    );
    out.extend_from_slice(b"\r\n");
}

/// Copies octets, turning each bare LF into CRLF when the parse tolerated bare LFs.
fn copy(out: &mut Vec<u8>, s: &[u8], normalize: bool) {
    if !normalize {
        out.extend_from_slice(s);
        return;
    }
    let mut prev = 0u8;
    for &b in s {
        if b == b'\n' && prev != b'\r' {
            out.push(b'\r');
        }
        out.push(b);
        prev = b;
    }
}

/// Writes the first Via line with its first value annotated with `received` / `rport` (see
/// [`ResponseBuilder::source`]); the rest of the line (further values) is copied as it was.
fn annotate_top_via(
    out: &mut Vec<u8>,
    buf: &[u8],
    e: &Entry,
    normalize: bool,
    ip: &[u8],
    port: u16,
) {
    // Header name as received (compact `v` stays `v`), then the annotated value.
    copy(
        out,
        &buf[usize::from(e.name_span.start)..usize::from(e.value.start)],
        normalize,
    );
    let value = &buf[usize::from(e.value.start)..usize::from(e.value.end)];
    annotate_via_value(out, value, normalize, ip, port);
    out.extend_from_slice(b"\r\n");
}

/// Writes a Via header value (one or more comma-separated via-parms) with its first element
/// annotated for a response to a request that came from `ip`:`port`, as
/// [`ResponseBuilder::source`] describes (`received` added or replaced, a valueless `rport`
/// given the port). For responses built without a parsed message (a request the codec refused,
/// answered from its raw lines).
pub fn annotate_via(value: &[u8], ip: &[u8], port: u16, out: &mut Vec<u8>) {
    annotate_via_value(out, value, false, ip, port);
}

fn annotate_via_value(out: &mut Vec<u8>, value: &[u8], normalize: bool, ip: &[u8], port: u16) {
    let end = element_end(value);
    let top = trim_lws(&value[..end]);
    let mut segments = top.split(|&b| b == b';');
    let sent_by = segments.next().unwrap_or_default();
    copy(out, sent_by, normalize);
    let mut rport = false;
    for seg in segments {
        let name = trim_lws(seg.split(|&b| b == b'=').next().unwrap_or_default());
        if name.eq_ignore_ascii_case(b"received") {
            continue;
        }
        out.push(b';');
        if name.eq_ignore_ascii_case(b"rport") {
            rport = true;
            out.extend_from_slice(b"rport=");
            write_decimal(out, usize::from(port));
            continue;
        }
        copy(out, seg, normalize);
    }
    // sent-by = host [ COLON port ]: compare the host with the source address.
    let host = trim_lws(
        sent_by
            .rsplit(|&b| b == b' ' || b == b'\t')
            .next()
            .unwrap_or_default(),
    );
    let host = match host.strip_prefix(b"[") {
        Some(v6) => v6.split(|&b| b == b']').next().unwrap_or_default(),
        None => host.split(|&b| b == b':').next().unwrap_or_default(),
    };
    if rport || !host.eq_ignore_ascii_case(ip) {
        out.extend_from_slice(b";received=");
        out.extend_from_slice(ip);
    }
    copy(out, &value[end..], normalize);
}

/// The reason phrase RFC 3261 §21 (and later RFCs) give a status code.
pub fn reason_phrase(code: u16) -> &'static str {
    match code {
        100 => "Trying",
        180 => "Ringing",
        181 => "Call Is Being Forwarded",
        182 => "Queued",
        183 => "Session Progress",
        200 => "OK",
        202 => "Accepted",
        300 => "Multiple Choices",
        301 => "Moved Permanently",
        302 => "Moved Temporarily",
        305 => "Use Proxy",
        380 => "Alternative Service",
        400 => "Bad Request",
        401 => "Unauthorized",
        402 => "Payment Required",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        407 => "Proxy Authentication Required",
        408 => "Request Timeout",
        410 => "Gone",
        413 => "Request Entity Too Large",
        414 => "Request-URI Too Long",
        415 => "Unsupported Media Type",
        416 => "Unsupported URI Scheme",
        420 => "Bad Extension",
        421 => "Extension Required",
        423 => "Interval Too Brief",
        430 => "Flow Failed",
        439 => "First Hop Lacks Outbound Support",
        480 => "Temporarily Unavailable",
        481 => "Call/Transaction Does Not Exist",
        482 => "Loop Detected",
        483 => "Too Many Hops",
        484 => "Address Incomplete",
        485 => "Ambiguous",
        486 => "Busy Here",
        487 => "Request Terminated",
        488 => "Not Acceptable Here",
        491 => "Request Pending",
        493 => "Undecipherable",
        500 => "Server Internal Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Server Time-out",
        505 => "Version Not Supported",
        513 => "Message Too Large",
        600 => "Busy Everywhere",
        603 => "Decline",
        604 => "Does Not Exist Anywhere",
        606 => "Not Acceptable",
        _ => match code / 100 {
            1 => "Session Progress",
            2 => "OK",
            3 => "Redirection",
            4 => "Client Error",
            5 => "Server Error",
            _ => "Global Failure",
        },
    }
}

/// Builds a response to a request (RFC 3261 §8.2.6): Via values copied in order, From, To,
/// Call-ID and CSeq copied, a To tag added when the request had none (not on 100, §8.2.6.2),
/// Timestamp copied into a 100 (§8.2.6.1).
#[derive(Clone, Debug)]
pub struct ResponseBuilder<'a> {
    req: &'a Message,
    code: u16,
    reason: &'a [u8],
    to_tag: Option<&'a [u8]>,
    headers: [Option<(&'a [u8], &'a [u8])>; MAX_HEADER_EDITS],
    body: Option<(&'a [u8], &'a [u8])>,
    source: Option<(&'a [u8], u16)>,
    overflow: bool,
}

impl<'a> ResponseBuilder<'a> {
    /// A response with the standard reason phrase for `code`.
    pub fn new(req: &'a Message, code: u16) -> Self {
        Self {
            req,
            code,
            reason: reason_phrase(code).as_bytes(),
            to_tag: None,
            headers: [None; MAX_HEADER_EDITS],
            body: None,
            source: None,
            overflow: false,
        }
    }

    /// The address the request came from (`ip` as text, without brackets for IPv6), so the top
    /// Via of the response says where the request really came from:
    ///
    /// RFC 3261 §18.2.1: "If the host portion of the "sent-by" field contains a domain name, or
    /// if it contains an IP address that differs from the packet source address, the server
    /// MUST add a "received" parameter to that Via header field value."
    /// RFC 3581 §4: with an `rport` parameter that has no value, the server "MUST set the value
    /// of the parameter to the source port of the request" and MUST add `received` even when it
    /// equals sent-by.
    ///
    /// A `received` the client put there itself is replaced by the observed one.
    pub fn source(&mut self, ip: &'a [u8], port: u16) -> &mut Self {
        self.source = Some((ip, port));
        self
    }

    /// Overrides the reason phrase. The caller sanitizes it (no CR, LF or other controls).
    pub fn reason(&mut self, reason: &'a [u8]) -> &mut Self {
        self.reason = reason;
        self
    }

    /// The tag to add to To when the request's To has none.
    pub fn to_tag(&mut self, tag: &'a [u8]) -> &mut Self {
        self.to_tag = Some(tag);
        self
    }

    /// Adds a header line.
    pub fn header(&mut self, name: &'a [u8], value: &'a [u8]) -> &mut Self {
        put(&mut self.headers, (name, value), &mut self.overflow);
        self
    }

    /// Sets a body and its Content-Type.
    pub fn body(&mut self, content_type: &'a [u8], body: &'a [u8]) -> &mut Self {
        self.body = Some((content_type, body));
        self
    }

    /// Appends the response to `out` and returns how many octets were written.
    pub fn write_to(&self, out: &mut Vec<u8>) -> Result<usize, RewriteError> {
        if self.overflow {
            return Err(RewriteError::TooManyEdits);
        }
        let req = self.req;
        let buf = req.buf();
        let normalize = req.tolerated().contains(Tolerated::BARE_LF);
        let begin = out.len();
        out.extend_from_slice(b"SIP/2.0 ");
        write_decimal(out, usize::from(self.code));
        out.push(b' ');
        out.extend_from_slice(self.reason);
        out.extend_from_slice(b"\r\n");
        let mut first_via = true;
        for e in req.entries() {
            match e.name {
                HeaderName::Via if first_via && self.source.is_some() => {
                    first_via = false;
                    if let Some((ip, port)) = self.source {
                        annotate_top_via(out, buf, e, normalize, ip, port);
                    }
                }
                HeaderName::Via | HeaderName::From | HeaderName::CallId | HeaderName::CSeq => {
                    copy_entry(out, buf, e, normalize)
                }
                HeaderName::Timestamp if self.code == 100 => copy_entry(out, buf, e, normalize),
                HeaderName::To => {
                    copy(
                        out,
                        &buf[usize::from(e.name_span.start)..usize::from(e.line_end)],
                        normalize,
                    );
                    let has_tag = req
                        .to()
                        .and_then(Result::ok)
                        .is_some_and(|t| t.tag().is_some());
                    if let (Some(tag), false, true) = (self.to_tag, has_tag, self.code > 100) {
                        out.extend_from_slice(b";tag=");
                        out.extend_from_slice(tag);
                    }
                    out.extend_from_slice(b"\r\n");
                }
                _ => {}
            }
        }
        for (name, v) in self.headers.iter().flatten() {
            line(out, name, v);
        }
        let body: &[u8] = match self.body {
            Some((ct, b)) => {
                line(out, b"Content-Type", ct);
                b
            }
            None => b"",
        };
        number_line(out, b"Content-Length", body.len());
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(body);
        let written = out.len() - begin;
        let may_add = MAX_HEADER_EDITS + 2;
        if written > MAX_MESSAGE_SIZE
            || (req.header_count() + may_add > MAX_HEADERS
                && header_lines(&out[begin..]) > MAX_HEADERS)
        {
            out.truncate(begin);
            return Err(RewriteError::TooLarge);
        }
        Ok(written)
    }
}
