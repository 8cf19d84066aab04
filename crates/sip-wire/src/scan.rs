//! Character classes and a cursor over a header value, shared by the typed views.
//!
//! Classes are 256-entry tables (one load and a bit test per octet) built at compile time from
//! the RFC 3261 §25.1 productions they are named after.

use crate::error::{Part, ViewError};

const fn class(chars: &[u8], alnum: bool) -> [bool; 256] {
    let mut t = [false; 256];
    if alnum {
        let mut c = b'0';
        while c <= b'9' {
            t[c as usize] = true;
            c += 1;
        }
        c = b'a';
        while c <= b'z' {
            t[c as usize] = true;
            t[(c - 32) as usize] = true;
            c += 1;
        }
    }
    let mut i = 0;
    while i < chars.len() {
        t[chars[i] as usize] = true;
        i += 1;
    }
    t
}

/// `token = 1*(alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" / "~")`
pub(crate) static TOKEN: [bool; 256] = class(b"-.!%*_+`'~", true);
/// Characters of a hostname or IPv4 address: alphanum, `-` and `.`.
pub(crate) static HOSTCHAR: [bool; 256] = class(b"-.", true);
/// `word` (Call-ID): token plus `( ) < > : \ " / [ ] ? { }`
pub(crate) static WORD: [bool; 256] = class(b"-.!%*_+`'~()<>:\\\"/[]?{}", true);
/// `user = 1*( unreserved / escaped / user-unreserved )`, `user-unreserved = & = + $ , ; ? /`
pub(crate) static USER: [bool; 256] = class(b"-_.!~*'()&=+$,;?/", true);
/// `password = *( unreserved / escaped / & = + $ , )`
pub(crate) static PASSWORD: [bool; 256] = class(b"-_.!~*'()&=+$,", true);
/// `paramchar = param-unreserved / unreserved / escaped`, `param-unreserved = [ ] / : & + $`
pub(crate) static PARAMCHAR: [bool; 256] = class(b"-_.!~*'()[]/:&+$", true);
/// `hnv-unreserved / unreserved` in URI headers: `[ ] / ? : + $`
pub(crate) static HNVCHAR: [bool; 256] = class(b"-_.!~*'()[]/?:+$", true);
/// `uric = reserved / unreserved / escaped` for absolute URIs of other schemes.
pub(crate) static URIC: [bool; 256] = class(b";/?:@&=+$,-_.!~*'()", true);
/// Characters of a generic-param value that is neither a quoted-string nor a bracketed IPv6
/// reference: `token`, plus `:` for an IPv6 address written bare in `received` (RFC 5118 §4.5).
pub(crate) static GEN_VALUE: [bool; 256] = class(b"-.!%*_+`'~:", true);

/// Whether `b` is SP, HTAB, CR or LF. Inside an indexed header value CR and LF only occur as
/// part of a fold (the indexer guarantees a fold is a line end followed by SP or HTAB), so
/// skipping all four skips exactly `LWS`.
#[inline]
pub(crate) fn is_lws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

/// Trims LWS from both ends.
pub(crate) fn trim_lws(mut s: &[u8]) -> &[u8] {
    while let [first, rest @ ..] = s {
        if !is_lws(*first) {
            break;
        }
        s = rest;
    }
    while let [rest @ .., last] = s {
        if !is_lws(*last) {
            break;
        }
        s = rest;
    }
    s
}

/// Whether every octet of a non-empty `s` is in `class`, allowing `%HH` escapes when `escapes`.
pub(crate) fn all_in(s: &[u8], class: &[bool; 256], escapes: bool) -> Result<(), usize> {
    let mut i = 0;
    while i < s.len() {
        let b = s[i];
        if b == b'%' && escapes {
            match (s.get(i + 1), s.get(i + 2)) {
                (Some(h), Some(l)) if h.is_ascii_hexdigit() && l.is_ascii_hexdigit() => {
                    i += 3;
                    continue;
                }
                _ => return Err(i),
            }
        }
        if !class[b as usize] {
            return Err(i);
        }
        i += 1;
    }
    Ok(())
}

/// The first `b` in a short slice. A plain loop: for the few octets of a URI part it costs less
/// than memchr's set-up.
#[inline]
pub(crate) fn find(s: &[u8], b: u8) -> Option<usize> {
    s.iter().position(|&c| c == b)
}

/// Parses decimal digits into a `u64`, failing on overflow past `max` or on any non-digit.
/// Leading zeros are allowed (`0068` is 68, RFC 4475 §3.1.1.1).
pub(crate) fn parse_decimal(s: &[u8], max: u64) -> Option<u64> {
    if s.is_empty() {
        return None;
    }
    let mut v: u64 = 0;
    for &b in s {
        if !b.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
        if v > max {
            return None;
        }
    }
    Some(v)
}

/// A cursor over one header value (or one element of a list value).
#[derive(Clone, Debug)]
pub(crate) struct Cursor<'a> {
    s: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(s: &'a [u8]) -> Self {
        Self { s, pos: 0 }
    }

    #[inline]
    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    #[inline]
    pub(crate) fn rest(&self) -> &'a [u8] {
        &self.s[self.pos..]
    }

    #[inline]
    pub(crate) fn slice(&self, from: usize, to: usize) -> &'a [u8] {
        &self.s[from..to]
    }

    #[inline]
    pub(crate) fn at_end(&self) -> bool {
        self.pos >= self.s.len()
    }

    #[inline]
    pub(crate) fn peek(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }

    #[inline]
    pub(crate) fn advance(&mut self, n: usize) {
        self.pos = (self.pos + n).min(self.s.len());
    }

    pub(crate) fn err(&self, part: Part) -> ViewError {
        ViewError::new(part, self.pos)
    }

    /// Skips linear white space, folds included.
    #[inline]
    pub(crate) fn skip_lws(&mut self) -> bool {
        let n = self.s[self.pos.min(self.s.len())..]
            .iter()
            .take_while(|&&b| is_lws(b))
            .count();
        self.pos += n;
        n > 0
    }

    /// Consumes `b` (after optional LWS on both sides, as `SEMI`, `COMMA`, `EQUAL`, `SLASH`
    /// and `COLON` allow in RFC 3261 §25.1). Restores the position when `b` is absent.
    #[inline]
    pub(crate) fn eat_sep(&mut self, b: u8) -> bool {
        // Fast path: the separator right here, as almost every real message writes it.
        if self.peek() == Some(b) {
            self.pos += 1;
            self.skip_lws();
            return true;
        }
        let save = self.pos;
        self.skip_lws();
        if self.peek() == Some(b) {
            self.pos += 1;
            self.skip_lws();
            true
        } else {
            self.pos = save;
            false
        }
    }

    /// Consumes `b` exactly, without white space.
    #[inline]
    pub(crate) fn eat(&mut self, b: u8) -> bool {
        if self.peek() == Some(b) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    /// Consumes a run of octets in `class` (possibly empty).
    #[inline]
    pub(crate) fn take_class(&mut self, class: &[bool; 256]) -> &'a [u8] {
        let start = self.pos.min(self.s.len());
        let n = self.s[start..]
            .iter()
            .take_while(|&&b| class[usize::from(b)])
            .count();
        self.pos = start + n;
        &self.s[start..start + n]
    }

    /// Consumes a non-empty `token`.
    #[inline]
    pub(crate) fn token(&mut self) -> Result<&'a [u8], ViewError> {
        let t = self.take_class(&TOKEN);
        if t.is_empty() {
            Err(self.err(Part::Token))
        } else {
            Ok(t)
        }
    }

    /// Consumes a quoted-string starting at the current `"`; returns its contents with escapes
    /// left as written. `qdtext` excludes `"` and `\`; `quoted-pair = "\" (%x00-09 / %x0B-0C /
    /// %x0E-7F)`, so an escaped NUL is legal (RFC 4475 §3.1.1.2) and an escaped CR or LF is not.
    #[inline]
    pub(crate) fn quoted_string(&mut self) -> Result<&'a [u8], ViewError> {
        let open = self.pos;
        if !self.eat(b'"') {
            return Err(self.err(Part::QuotedString));
        }
        let start = self.pos;
        while self.pos < self.s.len() {
            // Jump over plain text: only `"`, `\\` and control octets need a look.
            self.pos += self.s[self.pos..]
                .iter()
                .take_while(|&&c| c >= 0x20 && c != b'"' && c != b'\\' && c != 0x7f)
                .count();
            let Some(&c) = self.s.get(self.pos) else {
                break;
            };
            match c {
                b'"' => {
                    let inner = &self.s[start..self.pos];
                    self.pos += 1;
                    return Ok(inner);
                }
                b'\\' => match self.s.get(self.pos + 1) {
                    Some(&c) if c <= 0x7f && c != b'\r' && c != b'\n' => self.pos += 2,
                    _ => return Err(ViewError::new(Part::QuotedString, self.pos)),
                },
                // qdtext = LWS / %x21 / %x23-5B / %x5D-7E / UTF8-NONASCII: no other controls.
                c if c < 0x20 && !is_lws(c) => {
                    return Err(ViewError::new(Part::QuotedString, self.pos))
                }
                0x7f => return Err(ViewError::new(Part::QuotedString, self.pos)),
                _ => self.pos += 1,
            }
        }
        Err(ViewError::new(Part::QuotedString, open))
    }

    /// Fails unless only LWS remains.
    #[inline]
    pub(crate) fn expect_end(&mut self) -> Result<(), ViewError> {
        self.skip_lws();
        if self.at_end() {
            Ok(())
        } else {
            Err(self.err(Part::Trailing))
        }
    }
}

/// The first `,`, `"` or `<`: memchr's vector searcher taken directly (see `find_eol` in
/// parse.rs for why).
#[inline]
fn find_list_special(s: &[u8]) -> Option<usize> {
    #[cfg(target_arch = "x86_64")]
    {
        use std::sync::OnceLock;
        static AVX2: OnceLock<Option<memchr::arch::x86_64::avx2::memchr::Three>> = OnceLock::new();
        if let Some(three) =
            AVX2.get_or_init(|| memchr::arch::x86_64::avx2::memchr::Three::new(b',', b'"', b'<'))
        {
            return three.find(s);
        }
    }
    memchr::memchr3(b',', b'"', b'<', s)
}

/// Finds the end of a list element: the first `,` outside a quoted string and outside `< >`.
/// Never fails: an unbalanced quote runs to the end and the element's own view reports it.
pub(crate) fn element_end(s: &[u8]) -> usize {
    let mut i = 0;
    while let Some(off) = find_list_special(&s[i..]) {
        let at = i + off;
        match s[at] {
            b',' => return at,
            b'<' => match memchr::memchr(b'>', &s[at..]) {
                Some(close) => i = at + close + 1,
                None => return s.len(),
            },
            _ => {
                // Skip the quoted string, honouring quoted-pair escapes.
                let mut j = at + 1;
                loop {
                    match memchr::memchr2(b'"', b'\\', &s[j.min(s.len())..]) {
                        None => return s.len(),
                        Some(k) if s[j + k] == b'\\' => j += k + 2,
                        Some(k) => {
                            j += k + 1;
                            break;
                        }
                    }
                }
                i = j;
            }
        }
        if i >= s.len() {
            return s.len();
        }
    }
    s.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn element_end_respects_quotes_and_brackets() {
        assert_eq!(element_end(b"\"a,b\" <sip:x,y>;p=1, next"), 19);
        assert_eq!(element_end(b"\"a\\\",b\", c"), 7);
        assert_eq!(element_end(b"\"open, never closed"), 19);
    }

    #[test]
    fn decimal_bounds() {
        assert_eq!(parse_decimal(b"0068", 255), Some(68));
        assert_eq!(parse_decimal(b"300", 255), None);
        assert_eq!(parse_decimal(b"4294967296", u64::from(u32::MAX)), None);
        assert_eq!(parse_decimal(b"99999999999999999999999999", u64::MAX), None);
        assert_eq!(parse_decimal(b"-1", 10), None);
        assert_eq!(parse_decimal(b"", 10), None);
    }
}
