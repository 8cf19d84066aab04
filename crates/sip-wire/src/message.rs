//! [`Message`]: a frozen buffer plus the index of where everything is.

use bytes::{Bytes, BytesMut};

use crate::auth::Auth;
use crate::error::{ErrorKind, ParseError, StartKind, ViewError};
use crate::header::HeaderName;
use crate::limits::MAX_MESSAGE_SIZE;
use crate::method::Method;
use crate::name_addr::{parse_route, Contact, NameAddr};
pub use crate::parse::Tolerated;
use crate::parse::{index, Entry, Mode, Parts, Start};
use crate::scan::element_end;
use crate::uri::Uri;
use crate::values::{parse_delta_seconds, parse_max_forwards, CSeq};
use crate::via::Via;

/// A parsed SIP message: the bytes it arrived in and an index of ranges into them.
///
/// Indexing validates the framing and the shape of every line, nothing more; values are decoded
/// by the typed accessors (`top_via`, `cseq`, `from`, ...) only when called, and
/// [`Message::validate`] applies the checks an RFC 3261 element makes before acting on one.
#[derive(Clone)]
pub struct Message {
    buf: Bytes,
    parts: Parts,
    len: usize,
}

impl core::fmt::Debug for Message {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Message")
            .field("start_line", &String::from_utf8_lossy(self.start_line()))
            .field("headers", &self.parts.headers.len())
            .field("body", &self.body().len())
            .finish()
    }
}

/// One header field as indexed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header<'a> {
    /// The resolved name.
    pub name: HeaderName,
    /// The name as written (compact or long, any case).
    pub raw_name: &'a [u8],
    /// The value without leading and trailing LWS; folds inside are kept as written.
    pub value: &'a [u8],
}

/// What [`parse_stream`] found at the front of a stream buffer.
// The large variant is the point: boxing the message would cost an allocation per message.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum StreamEvent {
    /// Not enough bytes yet; nothing was consumed.
    Partial,
    /// A CRLFCRLF keep-alive ping (RFC 5626 §4.4.1), consumed: answer with a CRLF pong.
    Ping,
    /// A single CRLF (a pong, or noise before a start line, RFC 3261 §7.5), consumed.
    Pong,
    /// A complete message, consumed.
    Message(Message),
}

/// The framing verdict for the front of a stream buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Frame {
    /// More bytes are needed.
    Partial,
    /// A CRLFCRLF ping of this many octets.
    Ping(usize),
    /// A CRLF pong of this many octets.
    Pong(usize),
    /// A message of this many octets.
    Complete(usize),
}

/// Frames the front of a stream buffer without keeping the index (RFC 3261 §18.3: on a stream,
/// Content-Length is mandatory and delimits the message).
pub fn frame_stream(buf: &[u8]) -> Result<Frame, ParseError> {
    if let Some(k) = keepalive(buf)? {
        return Ok(k);
    }
    match index(buf, Mode::Stream, &mut Parts::new())? {
        None => Ok(Frame::Partial),
        Some(n) => Ok(Frame::Complete(n)),
    }
}

fn keepalive(buf: &[u8]) -> Result<Option<Frame>, ParseError> {
    const PING: &[u8] = b"\r\n\r\n";
    match buf.first() {
        None => Ok(Some(Frame::Partial)),
        Some(b'\r') => {
            if buf.starts_with(PING) {
                Ok(Some(Frame::Ping(4)))
            } else if PING.starts_with(buf) {
                Ok(Some(Frame::Partial))
            } else if buf.starts_with(b"\r\n") {
                Ok(Some(Frame::Pong(2)))
            } else {
                Err(ParseError {
                    kind: ErrorKind::BareCr,
                    offset: 0,
                    start: StartKind::Unknown,
                })
            }
        }
        Some(b'\n') => Err(ParseError {
            kind: ErrorKind::RequestLine,
            offset: 0,
            start: StartKind::Unknown,
        }),
        Some(_) => Ok(None),
    }
}

/// Takes the next item off the front of a stream buffer, consuming what it returns.
///
/// Stateless: every call starts from the front of `buf`. A connection should keep a
/// [`StreamDecoder`], which remembers how far it has looked. After an error the stream cannot
/// be resynchronised: the caller closes the connection (RFC 4475 §3.1.2.3).
pub fn parse_stream(buf: &mut BytesMut) -> Result<StreamEvent, ParseError> {
    StreamDecoder::new().decode(buf)
}

/// Framing for one stream connection (TCP, TLS, WebSocket).
///
/// It remembers how far it has searched for the end of the header section and, once that is
/// found, how long the whole message is; so a message that arrives a few octets at a time
/// costs work in proportion to its length, not to its length squared (a peer that trickles a
/// 64 KB header section one octet per segment would otherwise cost a CPU-second).
///
/// Keep-alives (RFC 5626 §4.4.1): a CRLFCRLF before a start line is a [`StreamEvent::Ping`],
/// even when its halves arrive in different reads; a CRLF followed by anything else is a
/// [`StreamEvent::Pong`]. A CRLF alone is ambiguous (a pong, or half a ping) until
/// [`StreamDecoder::expect_pong`] says this side sent a ping and waits for its answer.
#[derive(Clone, Debug, Default)]
pub struct StreamDecoder {
    scanned: usize,
    need: usize,
    awaiting_pong: bool,
}

impl StreamDecoder {
    /// A decoder for a new connection.
    pub fn new() -> Self {
        Self::default()
    }

    /// This side has sent a CRLFCRLF ping: the next lone CRLF is its pong.
    pub fn expect_pong(&mut self) {
        self.awaiting_pong = true;
    }

    /// Takes the next item off the front of `buf`, consuming what it returns. After an error
    /// the connection must be closed.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<StreamEvent, ParseError> {
        if self.need == 0 && self.scanned == 0 {
            if self.awaiting_pong && buf.starts_with(b"\r\n") {
                self.awaiting_pong = false;
                let _ = buf.split_to(2);
                return Ok(StreamEvent::Pong);
            }
            match keepalive(buf)? {
                Some(Frame::Ping(n)) => {
                    let _ = buf.split_to(n);
                    return Ok(StreamEvent::Ping);
                }
                Some(Frame::Pong(n)) => {
                    self.awaiting_pong = false;
                    let _ = buf.split_to(n);
                    return Ok(StreamEvent::Pong);
                }
                Some(_) => return Ok(StreamEvent::Partial),
                None => {}
            }
        }
        if self.need > buf.len() {
            return Ok(StreamEvent::Partial);
        }
        if self.need == 0 {
            // Look for the empty line from where the last call stopped (backing up over a line
            // end that may have been cut in two).
            match find_header_end(buf, self.scanned.saturating_sub(2)) {
                Ok(_) => {}
                Err(resume) => {
                    self.scanned = resume.max(1);
                    if buf.len() >= MAX_MESSAGE_SIZE {
                        return Err(ParseError {
                            kind: ErrorKind::TooLarge,
                            offset: MAX_MESSAGE_SIZE,
                            start: StartKind::Unknown,
                        });
                    }
                    return Ok(StreamEvent::Partial);
                }
            }
        }
        let mut parts = Parts::new();
        match index(buf, Mode::Stream, &mut parts)? {
            None => {
                self.need = parts.need.max(buf.len() + 1);
                Ok(StreamEvent::Partial)
            }
            Some(n) => {
                (self.scanned, self.need) = (0, 0);
                // Offsets are relative to the front of `buf`, which stays the front of the split.
                let bytes = buf.split_to(n).freeze();
                Ok(StreamEvent::Message(Message {
                    buf: bytes,
                    parts,
                    len: n,
                }))
            }
        }
    }
}

/// The end of the header section (just past its empty line: CRLF CRLF, or the bare-LF forms
/// the indexer tolerates), searching from `from`. `Err(resume)` when it is not there yet:
/// where the next search should start.
fn find_header_end(buf: &[u8], from: usize) -> Result<usize, usize> {
    let mut i = from;
    while let Some(off) = memchr::memchr(b'\n', &buf[i.min(buf.len())..]) {
        let lf = i + off;
        match (buf.get(lf + 1), buf.get(lf + 2)) {
            (Some(b'\n'), _) => return Ok(lf + 2),
            (Some(b'\r'), Some(b'\n')) => return Ok(lf + 3),
            (None, _) | (Some(b'\r'), None) => return Err(lf),
            _ => i = lf + 1,
        }
    }
    Err(buf.len())
}

impl Message {
    /// Parses one datagram: the whole datagram is the message; a Content-Length beyond it is
    /// an error and octets after the body are discarded (RFC 3261 §18.3).
    pub fn parse_datagram(buf: Bytes) -> Result<Self, ParseError> {
        Self::parse_whole(buf, Mode::Datagram)
    }

    #[inline]
    fn parse_whole(buf: Bytes, mode: Mode) -> Result<Self, ParseError> {
        let mut msg = Message {
            buf,
            parts: Parts::new(),
            len: 0,
        };
        match index(&msg.buf, mode, &mut msg.parts)? {
            Some(len) => {
                msg.len = len;
                Ok(msg)
            }
            None => Err(ParseError {
                kind: ErrorKind::Truncated,
                offset: msg.buf.len(),
                start: StartKind::Unknown,
            }),
        }
    }

    /// Parses a complete stream message (Content-Length required, octets after it ignored).
    pub fn parse_stream_message(buf: Bytes) -> Result<Self, ParseError> {
        Self::parse_whole(buf, Mode::Stream)
    }

    #[inline]
    pub(crate) fn buf(&self) -> &[u8] {
        &self.buf
    }

    pub(crate) fn parts(&self) -> &Parts {
        &self.parts
    }

    /// The message exactly as received, from its start line to the end of its body (leading
    /// CRLFs and octets after the body excluded).
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[usize::from(self.parts.first)..self.len]
    }

    /// The message as a `Bytes` sharing the receive buffer.
    pub fn to_bytes(&self) -> Bytes {
        self.buf.slice(usize::from(self.parts.first)..self.len)
    }

    /// What the parse tolerated (bare LF, missing empty line, leading CRLF).
    pub fn tolerated(&self) -> Tolerated {
        self.parts.tolerated
    }

    /// The start line without its terminator.
    pub fn start_line(&self) -> &[u8] {
        &self.buf[usize::from(self.parts.first)..usize::from(self.parts.start_line_end)]
    }

    /// Whether this is a request.
    pub fn is_request(&self) -> bool {
        matches!(self.parts.start, Start::Request { .. })
    }

    /// The method of a request.
    pub fn method(&self) -> Option<Method<'_>> {
        match self.parts.start {
            Start::Request { method, .. } => Some(Method::from_bytes(method.of(&self.buf))),
            Start::Response { .. } => None,
        }
    }

    /// The Request-URI as written.
    pub fn request_uri_raw(&self) -> Option<&[u8]> {
        match self.parts.start {
            Start::Request { uri, .. } => Some(uri.of(&self.buf)),
            Start::Response { .. } => None,
        }
    }

    /// The Request-URI, decoded.
    pub fn request_uri(&self) -> Option<Result<Uri<'_>, ViewError>> {
        self.request_uri_raw().map(Uri::parse)
    }

    /// The SIP-Version as written (`SIP/2.0`).
    pub fn version(&self) -> &[u8] {
        match self.parts.start {
            Start::Request { version, .. } | Start::Response { version, .. } => {
                version.of(&self.buf)
            }
        }
    }

    /// Whether the version is SIP/2.0 (RFC 3261 §7.1: "SIP" is case-insensitive).
    pub fn is_sip_2_0(&self) -> bool {
        self.version().eq_ignore_ascii_case(b"SIP/2.0")
    }

    /// The status code of a response.
    pub fn status(&self) -> Option<u16> {
        match self.parts.start {
            Start::Response { code, .. } => Some(code),
            Start::Request { .. } => None,
        }
    }

    /// The reason phrase of a response (possibly empty, RFC 4475 §3.1.1.13).
    pub fn reason(&self) -> Option<&[u8]> {
        match self.parts.start {
            Start::Response { reason, .. } => Some(reason.of(&self.buf)),
            Start::Request { .. } => None,
        }
    }

    /// The body (Content-Length octets, or the rest of the datagram).
    pub fn body(&self) -> &[u8] {
        self.parts.body.of(&self.buf)
    }

    /// The body as a `Bytes` sharing the receive buffer.
    pub fn body_bytes(&self) -> Bytes {
        self.buf
            .slice(usize::from(self.parts.body.start)..usize::from(self.parts.body.end))
    }

    /// The Content-Length value, when the header is present.
    pub fn content_length(&self) -> Option<u32> {
        self.parts.content_length
    }

    pub(crate) fn entry_at(&self, i: usize) -> Option<&Entry> {
        self.parts.headers.get(i)
    }

    pub(crate) fn entries(&self) -> impl Iterator<Item = &Entry> + '_ {
        self.parts.headers.iter()
    }

    fn header_of(&self, e: &Entry) -> Header<'_> {
        Header {
            name: e.name,
            raw_name: e.name_span.of(&self.buf),
            value: e.value.of(&self.buf),
        }
    }

    /// Number of header lines.
    pub fn header_count(&self) -> usize {
        self.parts.headers.len()
    }

    /// Every header line, in order.
    pub fn headers(&self) -> impl Iterator<Item = Header<'_>> + '_ {
        self.entries().map(move |e| self.header_of(e))
    }

    /// Every header line with this name, in order.
    pub fn headers_named(&self, name: HeaderName) -> impl Iterator<Item = Header<'_>> + '_ {
        self.headers().filter(move |h| h.name == name)
    }

    /// The value of the first line with this known name.
    pub fn header(&self, name: HeaderName) -> Option<&[u8]> {
        self.entries()
            .find(|e| e.name == name)
            .map(|e| e.value.of(&self.buf))
    }

    /// The value of the first line with this name, compared case-insensitively (for headers
    /// [`HeaderName`] does not know).
    pub fn header_by_name(&self, name: &str) -> Option<&[u8]> {
        let known = HeaderName::from_bytes(name.as_bytes());
        self.headers()
            .find(|h| {
                h.name == known
                    && (known != HeaderName::Other
                        || h.raw_name.eq_ignore_ascii_case(name.as_bytes()))
            })
            .map(|h| h.value)
    }

    /// All values of a header: the elements of every line for list headers (split at commas
    /// outside quotes and `< >`, RFC 3261 §7.3.1), the whole value of every line otherwise.
    pub fn values(&self, name: HeaderName) -> Values<'_> {
        Values {
            msg: self,
            name,
            next: 0,
            rest: None,
        }
    }

    /// The Via values, top first.
    pub fn vias(&self) -> impl Iterator<Item = Result<Via<'_>, ViewError>> + '_ {
        self.values(HeaderName::Via).map(Via::parse)
    }

    /// The topmost Via value.
    pub fn top_via(&self) -> Option<Result<Via<'_>, ViewError>> {
        let line = self.header(HeaderName::Via)?;
        match Via::parse_first_canonical(line) {
            Some(v) => Some(Ok(v)),
            None => self.values(HeaderName::Via).next().map(Via::parse),
        }
    }

    /// The Call-ID as written.
    pub fn call_id(&self) -> Option<&[u8]> {
        self.header(HeaderName::CallId)
    }

    /// CSeq.
    pub fn cseq(&self) -> Option<Result<CSeq<'_>, ViewError>> {
        self.header(HeaderName::CSeq).map(CSeq::parse)
    }

    /// From.
    pub fn from(&self) -> Option<Result<NameAddr<'_>, ViewError>> {
        self.header(HeaderName::From).map(NameAddr::parse)
    }

    /// To.
    pub fn to(&self) -> Option<Result<NameAddr<'_>, ViewError>> {
        self.header(HeaderName::To).map(NameAddr::parse)
    }

    /// Contact values.
    pub fn contacts(&self) -> impl Iterator<Item = Result<Contact<'_>, ViewError>> + '_ {
        self.values(HeaderName::Contact).map(Contact::parse)
    }

    /// Route values, top first.
    pub fn routes(&self) -> impl Iterator<Item = Result<NameAddr<'_>, ViewError>> + '_ {
        self.values(HeaderName::Route).map(parse_route)
    }

    /// Record-Route values, top first.
    pub fn record_routes(&self) -> impl Iterator<Item = Result<NameAddr<'_>, ViewError>> + '_ {
        self.values(HeaderName::RecordRoute).map(parse_route)
    }

    /// Path values (RFC 3327), top first.
    pub fn paths(&self) -> impl Iterator<Item = Result<NameAddr<'_>, ViewError>> + '_ {
        self.values(HeaderName::Path).map(parse_route)
    }

    /// Max-Forwards.
    pub fn max_forwards(&self) -> Option<Result<u8, ViewError>> {
        self.header(HeaderName::MaxForwards).map(parse_max_forwards)
    }

    /// Expires.
    pub fn expires(&self) -> Option<Result<u32, ViewError>> {
        self.header(HeaderName::Expires).map(parse_delta_seconds)
    }

    /// Credentials or challenges in every line of `name` (Authorization, Proxy-Authorization,
    /// WWW-Authenticate, Proxy-Authenticate).
    pub fn auths(
        &self,
        name: HeaderName,
    ) -> impl Iterator<Item = Result<Auth<'_>, ViewError>> + '_ {
        self.headers_named(name).map(|h| Auth::parse(h.value))
    }

    /// Option tags of Require, Proxy-Require, Supported or Unsupported.
    pub fn option_tags(
        &self,
        name: HeaderName,
    ) -> impl Iterator<Item = Result<&[u8], ViewError>> + '_ {
        self.values(name).map(crate::values::parse_option_tag)
    }
}

/// Iterator over the values of one header across all its lines. See [`Message::values`].
#[derive(Clone)]
pub struct Values<'a> {
    msg: &'a Message,
    name: HeaderName,
    next: usize,
    rest: Option<&'a [u8]>,
}

impl<'a> Iterator for Values<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        loop {
            if let Some(rest) = self.rest {
                let end = element_end(rest);
                let elem = crate::scan::trim_lws(&rest[..end]);
                self.rest = if end < rest.len() {
                    Some(&rest[end + 1..])
                } else {
                    None
                };
                return Some(elem);
            }
            let e = self.msg.entry_at(self.next)?;
            self.next += 1;
            if e.name != self.name {
                continue;
            }
            let v = e.value.of(self.msg.buf());
            if !self.name.is_list() {
                return Some(v);
            }
            // An empty line of a list header (`Supported:`) holds no elements.
            if !v.is_empty() {
                self.rest = Some(v);
            }
        }
    }
}
