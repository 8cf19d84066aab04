//! The indexer: one pass over the start line and header section that records where things are.
//!
//! ```text
//!   bytes ──► leading CRLF? ──► start line ──► header lines ──────────► empty line ──► body
//!              (keep-alive)      request or     name ":" value           framing by
//!                                status line    (+ folded lines)         Content-Length
//!                                               -> Entry{name, spans}    (or end of datagram)
//! ```
//!
//! Nothing is decoded here beyond what framing needs (the header name's identity and
//! Content-Length); typed views decode values later, only when asked. No allocation happens
//! unless a message has more than [`INLINE_HEADERS`] header lines.

use crate::error::{ErrorKind, ParseError, StartKind};
use crate::header::HeaderName;
use crate::limits::{
    INLINE_HEADERS, MAX_HEADERS, MAX_HEADER_LINE, MAX_MESSAGE_SIZE, MAX_START_LINE,
};
use crate::scan::{is_lws, parse_decimal, TOKEN};

/// A range of octets in the message buffer. `u16` offsets suffice because no message is larger
/// than [`MAX_MESSAGE_SIZE`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Span {
    pub(crate) start: u16,
    pub(crate) end: u16,
}

impl Span {
    #[inline]
    pub(crate) fn new(start: usize, end: usize) -> Self {
        debug_assert!(start <= end && end <= MAX_MESSAGE_SIZE);
        Self {
            start: start as u16,
            end: end as u16,
        }
    }

    #[inline]
    pub(crate) fn of<'a>(&self, buf: &'a [u8]) -> &'a [u8] {
        &buf[usize::from(self.start)..usize::from(self.end)]
    }
}

/// One header line in the index.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Entry {
    pub(crate) name: HeaderName,
    pub(crate) name_span: Span,
    pub(crate) value: Span,
    /// End of the last physical line's content (before its line terminator): the encoder copies
    /// `name_span.start..line_end` to reproduce the header exactly as received.
    pub(crate) line_end: u16,
}

impl Entry {
    /// An unused slot. All zero octets (the first `HeaderName` variant), so filling the inline
    /// index is a memset rather than a copy from a template; slots past `len` are never read.
    const EMPTY: Entry = Entry {
        name: HeaderName::Accept,
        name_span: Span { start: 0, end: 0 },
        value: Span { start: 0, end: 0 },
        line_end: 0,
    };
}

/// The header index: inline storage for the common case, a heap spill for the rest.
///
/// Hand-written instead of `smallvec`: the codec depends on `bytes` and `memchr` only, and the
/// inline case (no allocation at all) is the one the hot path needs.
#[derive(Clone)]
pub(crate) struct HeaderIndex {
    inline: [Entry; INLINE_HEADERS],
    len: u16,
    spill: Vec<Entry>,
}

impl HeaderIndex {
    pub(crate) const fn new() -> Self {
        Self {
            inline: [Entry::EMPTY; INLINE_HEADERS],
            len: 0,
            spill: Vec::new(),
        }
    }

    #[inline]
    fn push(&mut self, e: Entry) {
        let n = usize::from(self.len);
        if n < INLINE_HEADERS {
            self.inline[n] = e;
        } else {
            self.spill.push(e);
        }
        self.len += 1;
    }

    #[inline]
    pub(crate) fn len(&self) -> usize {
        usize::from(self.len)
    }

    #[inline]
    pub(crate) fn get(&self, i: usize) -> Option<&Entry> {
        if i < INLINE_HEADERS.min(self.len()) {
            self.inline.get(i)
        } else {
            self.spill.get(i.checked_sub(INLINE_HEADERS)?)
        }
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &Entry> + '_ {
        self.inline[..self.len().min(INLINE_HEADERS)]
            .iter()
            .chain(self.spill.iter())
    }
}

/// What the first line said.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Start {
    Request {
        method: Span,
        uri: Span,
        version: Span,
    },
    Response {
        code: u16,
        reason: Span,
        version: Span,
    },
}

/// What a lenient parse let through, so that it can be counted and never re-emitted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tolerated(u8);

impl Tolerated {
    /// Lines ended with a bare LF instead of CRLF (RFC 3261 §7 requires CRLF).
    pub const BARE_LF: Tolerated = Tolerated(1);
    /// A datagram's header section ended with the datagram, without the empty line.
    pub const NO_EMPTY_LINE: Tolerated = Tolerated(2);
    /// CRLFs preceded the start line (RFC 3261 §7.5 says to ignore them).
    pub const LEADING_CRLF: Tolerated = Tolerated(4);

    /// Whether nothing was tolerated: the message is exactly as RFC 3261 writes it.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Whether `other` was tolerated.
    pub fn contains(self, other: Tolerated) -> bool {
        self.0 & other.0 == other.0
    }

    fn insert(&mut self, other: Tolerated) {
        self.0 |= other.0;
    }

    /// Names of what was tolerated.
    pub fn names(self) -> impl Iterator<Item = &'static str> {
        [
            (Self::BARE_LF, "bare-lf"),
            (Self::NO_EMPTY_LINE, "no-empty-line"),
            (Self::LEADING_CRLF, "leading-crlf"),
        ]
        .into_iter()
        .filter(move |(t, _)| self.contains(*t))
        .map(|(_, n)| n)
    }
}

/// Everything the indexer learned, without the buffer.
#[derive(Clone)]
pub(crate) struct Parts {
    pub(crate) start: Start,
    pub(crate) first: u16,
    pub(crate) start_line_end: u16,
    pub(crate) headers: HeaderIndex,
    pub(crate) body: Span,
    pub(crate) content_length: Option<u32>,
    pub(crate) tolerated: Tolerated,
    /// On a stream whose body is still arriving: the message's total length.
    pub(crate) need: usize,
}

impl Parts {
    /// An empty index for [`index`] to fill in place (so the ~800-octet index is written once,
    /// where it will live, instead of being built on the stack and copied).
    pub(crate) const fn new() -> Self {
        Parts {
            start: Start::Response {
                code: 0,
                reason: Span { start: 0, end: 0 },
                version: Span { start: 0, end: 0 },
            },
            first: 0,
            start_line_end: 0,
            headers: HeaderIndex::new(),
            body: Span { start: 0, end: 0 },
            content_length: None,
            tolerated: Tolerated(0),
            need: 0,
        }
    }
}

/// Framing mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    /// The buffer is one whole datagram.
    Datagram,
    /// The buffer is the front of a byte stream.
    Stream,
}

struct Ix<'a> {
    buf: &'a [u8],
    mode: Mode,
    kind: StartKind,
}

enum Step<T> {
    Ok(T),
    Partial,
}

macro_rules! step {
    ($e:expr) => {
        match $e? {
            Step::Ok(v) => v,
            Step::Partial => return Ok(None),
        }
    };
}

impl Ix<'_> {
    fn fail(&self, kind: ErrorKind, offset: usize) -> ParseError {
        ParseError {
            kind,
            offset,
            start: self.kind,
        }
    }

    /// The end of the line starting at `from`: `(content_end, next_line_start, bare_lf)`.
    #[inline]
    fn line_end(
        &self,
        from: usize,
        limit: usize,
        too_long: ErrorKind,
    ) -> Result<Step<(usize, usize, bool)>, ParseError> {
        let hay = &self.buf[from..];
        match find_eol(hay) {
            Some(i) if i > limit => Err(self.fail(too_long, from + limit)),
            Some(i) => {
                let at = from + i;
                if self.buf[at] == b'\n' {
                    return Ok(Step::Ok((at, at + 1, true)));
                }
                match self.buf.get(at + 1) {
                    Some(b'\n') => Ok(Step::Ok((at, at + 2, false))),
                    Some(_) => Err(self.fail(ErrorKind::BareCr, at)),
                    None => self.more(at, ErrorKind::Truncated),
                }
            }
            None if hay.len() > limit => Err(self.fail(too_long, from + limit)),
            None => self.more(self.buf.len(), ErrorKind::Truncated),
        }
    }

    /// Running out of bytes: a stream waits for more, a datagram is broken.
    fn more<T>(&self, at: usize, kind: ErrorKind) -> Result<Step<T>, ParseError> {
        match self.mode {
            Mode::Stream if self.buf.len() >= MAX_MESSAGE_SIZE => {
                Err(self.fail(ErrorKind::TooLarge, MAX_MESSAGE_SIZE))
            }
            Mode::Stream => Ok(Step::Partial),
            Mode::Datagram => Err(self.fail(kind, at)),
        }
    }
}

/// The first CR or LF. memchr's vector searcher, taken directly: the top-level `memchr2`
/// re-dispatches on CPU features at every call, which for lines of 20 to 80 octets costs as
/// much as the search.
#[inline]
fn find_eol(s: &[u8]) -> Option<usize> {
    #[cfg(target_arch = "x86_64")]
    {
        use std::sync::OnceLock;
        // Detected once per process; `None` when the CPU lacks AVX2.
        static AVX2: OnceLock<Option<memchr::arch::x86_64::avx2::memchr::Two>> = OnceLock::new();
        if let Some(two) =
            AVX2.get_or_init(|| memchr::arch::x86_64::avx2::memchr::Two::new(b'\r', b'\n'))
        {
            return two.find(s);
        }
    }
    memchr::memchr2(b'\r', b'\n', s)
}

/// A header line in its common form, as [`fast_line`] found it.
struct FastLine {
    name: HeaderName,
    name_end: usize,
    value: (usize, usize),
    next: usize,
}

/// The common header line: a known name, `:`, optional SP, a value without trailing white
/// space, CRLF, and a next line that is not a fold. `None` for anything else (including every
/// error), which the general path then handles. Kept small so the hot loop stays in registers.
#[inline]
fn fast_line(scan: &[u8], pos: usize) -> Option<FastLine> {
    let rest = scan.get(pos..)?;
    let cr = find_eol(rest)?;
    if cr > MAX_HEADER_LINE || rest[cr] != b'\r' || rest.get(cr + 1) != Some(&b'\n') {
        return None;
    }
    if matches!(rest.get(cr + 2), None | Some(b' ' | b'\t')) {
        return None;
    }
    let colon = find_colon(&rest[..cr])?;
    let name = HeaderName::from_token(&rest[..colon]);
    if name == HeaderName::Other || colon == 0 {
        return None;
    }
    let mut vs = colon + 1;
    if rest.get(vs) == Some(&b' ') {
        vs += 1;
    }
    if vs < cr && (matches!(rest[vs], b' ' | b'\t') || matches!(rest[cr - 1], b' ' | b'\t')) {
        return None;
    }
    Some(FastLine {
        name,
        name_end: pos + colon,
        value: (pos + vs.min(cr), pos + cr),
        next: pos + cr + 2,
    })
}

/// The first `:` in `s`, eight octets at a time (SWAR): header names are short, so this is one
/// or two words where memchr would spend more on set-up than on the search.
#[inline(always)]
fn find_colon(s: &[u8]) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    const COLONS: u64 = ONES * b':' as u64;
    let mut i = 0;
    while i + 8 <= s.len() {
        let mut w = [0u8; 8];
        w.copy_from_slice(&s[i..i + 8]);
        let x = u64::from_le_bytes(w) ^ COLONS;
        // A zero octet of `x` is a colon. The lowest set bit of this classic test is exact
        // (borrows only create false positives above a true zero), which is all we use.
        let found = x.wrapping_sub(ONES) & !x & HIGHS;
        if found != 0 {
            return Some(i + (found.trailing_zeros() / 8) as usize);
        }
        i += 8;
    }
    s[i..].iter().position(|&c| c == b':').map(|p| i + p)
}

/// Checks `SIP-Version = "SIP" "/" 1*DIGIT "." 1*DIGIT` ("SIP" case-insensitive, RFC 3261 §7.1).
fn valid_version(v: &[u8]) -> bool {
    if v.len() < 7 || !v[..4].eq_ignore_ascii_case(b"SIP/") {
        return false;
    }
    let rest = &v[4..];
    match rest.iter().position(|&b| b == b'.') {
        Some(dot) => {
            let (major, minor) = (&rest[..dot], &rest[dot + 1..]);
            !major.is_empty()
                && !minor.is_empty()
                && major.iter().all(u8::is_ascii_digit)
                && minor.iter().all(u8::is_ascii_digit)
        }
        None => false,
    }
}

/// Indexes the message at the front of `buf` into `parts` (which must be fresh from
/// [`Parts::new`]). Returns how many octets the message used, or `None` when a stream needs
/// more bytes.
pub(crate) fn index(
    buf: &[u8],
    mode: Mode,
    parts: &mut Parts,
) -> Result<Option<usize>, ParseError> {
    let mut ix = Ix {
        buf,
        mode,
        kind: StartKind::Unknown,
    };
    // What the first line looks like decides whether an early error is answered (a request)
    // or dropped (a response, or something that is neither).
    let lead = buf
        .iter()
        .position(|&b| b != b'\r' && b != b'\n')
        .unwrap_or(buf.len());
    ix.kind = match buf.get(lead..lead + 4) {
        Some(p) if p.eq_ignore_ascii_case(b"SIP/") => StartKind::Response,
        _ if buf.get(lead).is_some_and(|&b| TOKEN[usize::from(b)]) => StartKind::Request,
        _ => StartKind::Unknown,
    };
    if mode == Mode::Datagram && buf.len() > MAX_MESSAGE_SIZE {
        return Err(ix.fail(ErrorKind::TooLarge, MAX_MESSAGE_SIZE));
    }
    // Only the first MAX_MESSAGE_SIZE octets can hold a message we accept.
    let scan = &buf[..buf.len().min(MAX_MESSAGE_SIZE)];
    ix.buf = scan;
    let mut tolerated = Tolerated::default();

    // RFC 3261 §7.5: "Implementations processing SIP messages over stream-oriented transports
    // MUST ignore any CRLF appearing before the start-line". Streams see them as keep-alives
    // first (see `frame_stream`); a datagram may carry them too.
    let mut pos = 0;
    while pos + 1 < scan.len() && scan[pos] == b'\r' && scan[pos + 1] == b'\n' {
        pos += 2;
    }
    if pos > 0 {
        tolerated.insert(Tolerated::LEADING_CRLF);
    }
    if pos >= scan.len() {
        return match mode {
            Mode::Datagram => Err(ix.fail(ErrorKind::Empty, 0)),
            Mode::Stream => Ok(None),
        };
    }
    let first = pos;

    // ---- start line ----
    let is_response = scan.len() - pos >= 4 && scan[pos..pos + 4].eq_ignore_ascii_case(b"SIP/");
    let (content_end, next, bare) =
        step!(ix.line_end(pos, MAX_START_LINE, ErrorKind::StartLineTooLong));
    if bare {
        tolerated.insert(Tolerated::BARE_LF);
    }
    let line = &scan[pos..content_end];
    let start = if is_response {
        ix.kind = StartKind::Response;
        parse_status_line(&ix, line, pos)?
    } else {
        parse_request_line(&mut ix, line, pos)?
    };
    let start_line_end = content_end;
    pos = next;

    // ---- header lines ----
    let headers = &mut parts.headers;
    let mut content_length: Option<u32> = None;
    let body_start;
    loop {
        let Some(&b) = scan.get(pos) else {
            // Out of bytes right after a complete line.
            match mode {
                Mode::Stream => return step_more(&ix, pos),
                Mode::Datagram => {
                    // The datagram boundary delimits the message; RFC 3261 §7 still requires
                    // the empty line, so this is tolerated and recorded, never re-emitted.
                    tolerated.insert(Tolerated::NO_EMPTY_LINE);
                    body_start = pos;
                    break;
                }
            }
        };
        match b {
            b'\r' => match scan.get(pos + 1) {
                Some(b'\n') => {
                    body_start = pos + 2;
                    break;
                }
                Some(_) => return Err(ix.fail(ErrorKind::BareCr, pos)),
                None if mode == Mode::Stream => return step_more(&ix, pos),
                None => return Err(ix.fail(ErrorKind::BareCr, pos)),
            },
            b'\n' => {
                tolerated.insert(Tolerated::BARE_LF);
                body_start = pos + 1;
                break;
            }
            b' ' | b'\t' => return Err(ix.fail(ErrorKind::LeadingWhitespace, pos)),
            _ => {}
        }
        if headers.len() >= MAX_HEADERS {
            return Err(ix.fail(ErrorKind::TooManyHeaders, pos));
        }
        // The common case in one small function: `Name: value` CRLF, no fold, a known name.
        // Anything else falls through to the general path below, which also reports errors.
        if let Some(line) = fast_line(scan, pos) {
            if line.name == HeaderName::ContentLength {
                let n = parse_decimal(&scan[line.value.0..line.value.1], u64::from(u32::MAX))
                    .ok_or_else(|| ix.fail(ErrorKind::ContentLength, line.value.0))?
                    as u32;
                match content_length {
                    Some(prev) if prev != n => {
                        return Err(ix.fail(ErrorKind::ContentLengthConflict, line.value.0));
                    }
                    _ => content_length = Some(n),
                }
            }
            headers.push(Entry {
                name: line.name,
                name_span: Span::new(pos, line.name_end),
                value: Span::new(line.value.0, line.value.1),
                line_end: line.value.1 as u16,
            });
            pos = line.next;
            continue;
        }

        // The first physical line, then the colon within it: `field-name HCOLON`, where
        // HCOLON = *( SP / HTAB ) ":" SWS. Finding the colon with memchr and resolving the name
        // before checking its characters lets a known name (letters and `-` only, confirmed by
        // the compare) skip the per-octet `token` check that unknown names get.
        let name_start = pos;
        let (mut line_end, mut next, bare) =
            step!(ix.line_end(pos, MAX_HEADER_LINE, ErrorKind::HeaderTooLong));
        if bare {
            tolerated.insert(Tolerated::BARE_LF);
        }
        let Some(colon) = find_colon(&scan[pos..line_end]).map(|c| pos + c) else {
            let bad = scan[pos..line_end]
                .iter()
                .position(|&c| !TOKEN[usize::from(c)])
                .map_or(line_end, |i| pos + i);
            let kind = if bad == pos {
                ErrorKind::HeaderName
            } else {
                ErrorKind::MissingColon
            };
            return Err(ix.fail(kind, bad));
        };
        let mut name_end = colon;
        if colon > name_start && matches!(scan[colon - 1], b' ' | b'\t') {
            // Rare: white space before the colon (`Content-Length   : 150`, RFC 4475 wsinv).
            name_end = name_start
                + scan[name_start..colon]
                    .iter()
                    .rposition(|&c| c != b' ' && c != b'\t')
                    .map_or(0, |i| i + 1);
        }
        let raw_name = &scan[name_start..name_end];
        let name = HeaderName::from_token(raw_name);
        if name == HeaderName::Other {
            if let Some(bad) = raw_name.iter().position(|&c| !TOKEN[usize::from(c)]) {
                return Err(ix.fail(ErrorKind::HeaderName, name_start + bad));
            }
            if raw_name.is_empty() {
                return Err(ix.fail(ErrorKind::HeaderName, name_start));
            }
        }
        // Almost always exactly one SP after the colon.
        let mut vs = colon + 1;
        if scan.get(vs) == Some(&b' ') {
            vs += 1;
        }
        if matches!(scan.get(vs), Some(b' ' | b'\t')) {
            vs += scan[vs..line_end]
                .iter()
                .take_while(|&&c| c == b' ' || c == b'\t')
                .count();
        }

        // Rarely, folded continuation lines: a line end followed by SP or HTAB.
        match scan.get(next) {
            Some(b' ' | b'\t') => {
                while let Some(b' ' | b'\t') = scan.get(next) {
                    let budget = MAX_HEADER_LINE.saturating_sub(next - name_start);
                    let (e, n2, bare) = step!(ix.line_end(next, budget, ErrorKind::HeaderTooLong));
                    if bare {
                        tolerated.insert(Tolerated::BARE_LF);
                    }
                    line_end = e;
                    next = n2;
                }
                if next == scan.len() && mode == Mode::Stream {
                    return step_more(&ix, next);
                }
                // The value may begin on a continuation line (`To :` CRLF SP `sip:...`).
                while vs < line_end && is_lws(scan[vs]) {
                    vs += 1;
                }
            }
            Some(_) => {}
            None if mode == Mode::Stream => return step_more(&ix, next),
            None => {}
        }
        let mut ve = line_end;
        if ve > vs && is_lws(scan[ve - 1]) {
            ve = vs
                + scan[vs..ve]
                    .iter()
                    .rposition(|&c| !is_lws(c))
                    .map_or(0, |i| i + 1);
        }

        if name == HeaderName::ContentLength {
            // RFC 3261 §20.14: Content-Length = 1*DIGIT. Anything else (negative, words,
            // overflow) makes the framing unknowable (RFC 4475 §3.1.2.3).
            let n = parse_decimal(&scan[vs..ve], u64::from(u32::MAX))
                .ok_or_else(|| ix.fail(ErrorKind::ContentLength, vs))? as u32;
            match content_length {
                Some(prev) if prev != n => {
                    return Err(ix.fail(ErrorKind::ContentLengthConflict, vs));
                }
                _ => content_length = Some(n),
            }
        }
        headers.push(Entry {
            name,
            name_span: Span::new(name_start, name_end),
            value: Span::new(vs, ve),
            line_end: line_end as u16,
        });
        pos = next;
    }

    // ---- body framing (RFC 3261 §18.3) ----
    let (body_end, used) = match (mode, content_length) {
        (Mode::Datagram, Some(n)) => {
            let end = body_start.saturating_add(n as usize);
            if end > scan.len() {
                return Err(ix.fail(ErrorKind::BodyTruncated, body_start));
            }
            // "the Content-Length ... MUST be used to locate the end of each SIP message";
            // octets past it in a datagram are discarded (RFC 4475 §3.1.1.8).
            (end, end)
        }
        (Mode::Datagram, None) => (scan.len(), scan.len()),
        (Mode::Stream, None) => return Err(ix.fail(ErrorKind::ContentLengthMissing, body_start)),
        (Mode::Stream, Some(n)) => {
            let end = body_start.saturating_add(n as usize);
            if end > MAX_MESSAGE_SIZE {
                return Err(ix.fail(ErrorKind::TooLarge, body_start));
            }
            if end > scan.len() {
                // The header section is complete; only the body is missing. Tell a
                // `StreamDecoder` how much to wait for, so it does not index again per read.
                parts.need = end;
                return Ok(None);
            }
            (end, end)
        }
    };
    parts.start = start;
    parts.first = first as u16;
    parts.start_line_end = start_line_end as u16;
    parts.body = Span::new(body_start, body_end);
    parts.content_length = content_length;
    parts.tolerated = tolerated;
    Ok(Some(used))
}

fn step_more(ix: &Ix<'_>, at: usize) -> Result<Option<usize>, ParseError> {
    match ix.more::<()>(at, ErrorKind::Truncated)? {
        Step::Ok(()) | Step::Partial => Ok(None),
    }
}

/// `Status-Line = SIP-Version SP Status-Code SP Reason-Phrase CRLF`
fn parse_status_line(ix: &Ix<'_>, line: &[u8], at: usize) -> Result<Start, ParseError> {
    let sp = memchr::memchr(b' ', line).ok_or_else(|| ix.fail(ErrorKind::StatusLine, at))?;
    if !valid_version(&line[..sp]) {
        return Err(ix.fail(ErrorKind::Version, at));
    }
    let code = &line[sp + 1..];
    // Exactly three digits, then SP (RFC 4475 §3.1.2.19: 4294967301 must not overflow).
    if code.len() < 4 || !code[..3].iter().all(u8::is_ascii_digit) || code[3] != b' ' {
        return Err(ix.fail(ErrorKind::StatusLine, at + sp + 1));
    }
    let n = u16::from(code[0] - b'0') * 100
        + u16::from(code[1] - b'0') * 10
        + u16::from(code[2] - b'0');
    if !(100..=699).contains(&n) {
        return Err(ix.fail(ErrorKind::StatusCode, at + sp + 1));
    }
    let reason_start = sp + 5;
    // Reason-Phrase = *(reserved / unreserved / escaped / UTF8-NONASCII / UTF8-CONT / SP / HTAB)
    if let Some(bad) = line[reason_start..]
        .iter()
        .position(|&b| (b < 0x20 && b != b'\t') || b == 0x7f)
    {
        return Err(ix.fail(ErrorKind::ReasonPhrase, at + reason_start + bad));
    }
    Ok(Start::Response {
        code: n,
        reason: Span::new(at + reason_start, at + line.len()),
        version: Span::new(at, at + sp),
    })
}

/// `Request-Line = Method SP Request-URI SP SIP-Version CRLF`, single SPs only
/// (RFC 4475 §3.1.2.8-10: extra or trailing white space is rejected, never repaired).
fn parse_request_line(ix: &mut Ix<'_>, line: &[u8], at: usize) -> Result<Start, ParseError> {
    let sp1 = memchr::memchr(b' ', line).ok_or_else(|| ix.fail(ErrorKind::RequestLine, at))?;
    let method = &line[..sp1];
    if method.is_empty() || !method.iter().all(|&b| TOKEN[b as usize]) {
        return Err(ix.fail(ErrorKind::Method, at));
    }
    ix.kind = StartKind::Request;
    let rest = &line[sp1 + 1..];
    let sp2 =
        memchr::memchr(b' ', rest).ok_or_else(|| ix.fail(ErrorKind::RequestLine, at + sp1 + 1))?;
    let uri = &rest[..sp2];
    if uri.is_empty() {
        return Err(ix.fail(ErrorKind::RequestUri, at + sp1 + 1));
    }
    if let Some(bad) = uri.iter().position(|&b| b <= 0x20 || b == 0x7f) {
        return Err(ix.fail(ErrorKind::RequestUri, at + sp1 + 1 + bad));
    }
    let vstart = sp1 + 1 + sp2 + 1;
    if !valid_version(&line[vstart..]) {
        return Err(ix.fail(ErrorKind::Version, at + vstart));
    }
    Ok(Start::Request {
        method: Span::new(at, at + sp1),
        uri: Span::new(at + sp1 + 1, at + sp1 + 1 + sp2),
        version: Span::new(at + vstart, at + line.len()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colon_search() {
        for s in [
            &b""[..],
            b"a",
            b":",
            b"Via: x",
            b"Content-Length: 0",
            b"0123456789abcdef:",
            b"no colon here at all",
        ] {
            assert_eq!(find_colon(s), s.iter().position(|&c| c == b':'), "{s:?}");
        }
        let mut s = vec![b'x'; 40];
        for at in 0..40 {
            s[at] = b':';
            assert_eq!(find_colon(&s), Some(at));
            s[at] = 0x3a ^ 0x01;
            assert_eq!(find_colon(&s), None);
            s[at] = b'x';
        }
    }

    #[test]
    fn versions() {
        assert!(valid_version(b"SIP/2.0"));
        assert!(valid_version(b"sip/7.0"));
        assert!(!valid_version(b"SIP/2.0 "));
        assert!(!valid_version(b"SIP/2"));
        assert!(!valid_version(b"SIP/.0"));
        assert!(!valid_version(b"HTTP/1.1"));
    }
}
