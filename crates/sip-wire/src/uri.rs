//! URIs: `sip:` / `sips:` (RFC 3261 §19.1), `tel:` (RFC 3966) and any other absolute URI kept
//! opaque. Views borrow from the message; `%HH` escapes are kept as written and decoded on
//! demand (RFC 3261 §19.1.4: escaped and literal forms compare equal, decoding happens once).

use std::borrow::Cow;
use std::net::{Ipv4Addr, Ipv6Addr};

use crate::error::{Part, ViewError};
use crate::scan::{all_in, find, HNVCHAR, PARAMCHAR, PASSWORD, URIC, USER};

/// A host: a domain name, an IPv4 address or an IPv6 reference.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Host<'a> {
    /// A domain name (`hostname`), as written: ASCII letters, digits, `-` and `.` only.
    Domain(&'a [u8]),
    /// An IPv4 address.
    Ipv4(Ipv4Addr),
    /// An IPv6 address (written as `[...]` in URIs and Via sent-by).
    Ipv6(Ipv6Addr),
}

impl Host<'_> {
    /// Whether this is the limited broadcast address or an IPv4/IPv6 multicast or unspecified
    /// address: never a sensible place to send a response (RFC 4475 §3.3.10).
    pub fn is_nonsense_destination(&self) -> bool {
        match self {
            Host::Ipv4(a) => a.is_broadcast() || a.is_multicast() || a.is_unspecified(),
            Host::Ipv6(a) => a.is_multicast() || a.is_unspecified(),
            Host::Domain(_) => false,
        }
    }
}

/// Parses an IPv6 address, tolerating the three-colon form RFC 3261's ABNF wrongly admits
/// (`2001:db8:::192.0.2.1`, RFC 5118 §4.10 asks implementations to accept it as `::`).
pub(crate) fn parse_ipv6(s: &[u8]) -> Option<Ipv6Addr> {
    let text = std::str::from_utf8(s).ok()?;
    if let Ok(a) = text.parse() {
        return Some(a);
    }
    let i = text.find(":::")?;
    if text[i + 1..].contains(":::") || s.len() > 64 {
        return None;
    }
    let mut fixed = [0u8; 64];
    fixed[..i].copy_from_slice(&s[..i]);
    fixed[i..s.len() - 1].copy_from_slice(&s[i + 1..]);
    std::str::from_utf8(&fixed[..s.len() - 1])
        .ok()?
        .parse()
        .ok()
}

/// Parses a dotted-quad IPv4 address by hand: the std parser goes through `str`, costs several
/// times more on the hot path, and refuses the leading zeros RFC 3261's grammar allows.
pub(crate) fn parse_ipv4(s: &[u8]) -> Option<Ipv4Addr> {
    match parse_ipv4_prefix(s)? {
        (a, n) if n == s.len() => Some(a),
        _ => None,
    }
}

/// An IPv4 address at the front of `s` and its length: four groups of 1 to 3 digits (leading
/// zeros legal, octets decimal, RFC 3261 §25.1) joined by dots, stopping at the first octet
/// that is neither.
pub(crate) fn parse_ipv4_prefix(s: &[u8]) -> Option<(Ipv4Addr, usize)> {
    let mut octets = [0u8; 4];
    let mut n = 0;
    let (mut val, mut digits) = (0u32, 0u32);
    let mut len = s.len();
    for (i, &b) in s.iter().enumerate() {
        match b {
            b'0'..=b'9' => {
                if digits == 3 {
                    return None;
                }
                val = val * 10 + u32::from(b - b'0');
                digits += 1;
            }
            b'.' if digits > 0 && n < 3 && val <= 255 => {
                octets[n] = val as u8;
                n += 1;
                (val, digits) = (0, 0);
            }
            _ => {
                len = i;
                break;
            }
        }
    }
    if n != 3 || digits == 0 || val > 255 {
        return None;
    }
    octets[3] = val as u8;
    Some((Ipv4Addr::from(octets), len))
}

/// Parses `host = hostname / IPv4address / IPv6reference`.
pub(crate) fn parse_host(s: &[u8]) -> Result<Host<'_>, ViewError> {
    let bad = |at| Err(ViewError::new(Part::Host, at));
    match s {
        [] => bad(0),
        [b'[', inner @ .., b']'] => parse_ipv6(inner).map(Host::Ipv6).map_or(bad(0), Ok),
        _ => {
            // hostname = *( domainlabel "." ) toplabel [ "." ]
            // domainlabel = alphanum / alphanum *( alphanum / "-" ) alphanum
            // toplabel = ALPHA / ALPHA *( alphanum / "-" ) alphanum
            // An IPv4 address is tried first when the host starts with a digit; an all-digit
            // dotted name that is not one is an error, never a hostname.
            if s[0].is_ascii_digit() {
                if let Some(a) = parse_ipv4(s) {
                    return Ok(Host::Ipv4(a));
                }
            }
            let body = s.strip_suffix(b".").unwrap_or(s);
            let mut label_start = 0;
            let mut prev = b'.';
            let mut letters = false;
            for (i, &b) in body.iter().enumerate() {
                match b {
                    b'0'..=b'9' => {}
                    b'.' if prev != b'.' && prev != b'-' => label_start = i + 1,
                    b'-' if prev != b'.' => letters = true,
                    c if c.is_ascii_alphabetic() => letters = true,
                    _ => return bad(i),
                }
                prev = b;
            }
            if !letters {
                return bad(0);
            }
            if prev == b'.' || prev == b'-' || !body[label_start].is_ascii_alphabetic() {
                return bad(label_start);
            }
            Ok(Host::Domain(s))
        }
    }
}

/// Splits `hostport` into the host text and the port. Returns the octets consumed.
pub(crate) fn parse_hostport(s: &[u8]) -> Result<(Host<'_>, &[u8], Option<u16>), ViewError> {
    let host_end = if s.first() == Some(&b'[') {
        match find(s, b']') {
            Some(i) => i + 1,
            None => return Err(ViewError::new(Part::Host, 0)),
        }
    } else {
        find(s, b':').unwrap_or(s.len())
    };
    let host_raw = &s[..host_end];
    let host = parse_host(host_raw)?;
    let port = match &s[host_end..] {
        [] => None,
        [b':', digits @ ..] => {
            Some(parse_port(digits).ok_or(ViewError::new(Part::Port, host_end + 1))?)
        }
        _ => return Err(ViewError::new(Part::Host, host_end)),
    };
    Ok((host, host_raw, port))
}

/// `port = 1*DIGIT`, within 0..=65535.
pub(crate) fn parse_port(s: &[u8]) -> Option<u16> {
    crate::scan::parse_decimal(s, u64::from(u16::MAX)).map(|v| v as u16)
}

/// Text that may hold `%HH` escapes, kept as written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Escaped<'a>(pub(crate) &'a [u8]);

impl<'a> Escaped<'a> {
    /// Wraps text that may hold escapes (for comparing against a value from a message).
    pub fn new(raw: &'a [u8]) -> Self {
        Self(raw)
    }

    /// The octets as written, escapes included.
    pub fn raw(&self) -> &'a [u8] {
        self.0
    }

    /// The decoded octets. Decoding is applied once (`%2541` is `%41`, not `A`, RFC 4475
    /// §3.1.1.3) and does not stop at `%00` (RFC 4475 §3.1.1.4). Borrows when nothing is
    /// escaped.
    pub fn decode(&self) -> Cow<'a, [u8]> {
        if memchr::memchr(b'%', self.0).is_none() {
            Cow::Borrowed(self.0)
        } else {
            Cow::Owned(self.decoded().collect())
        }
    }

    /// The decoded octets, one at a time, without allocating.
    pub fn decoded(&self) -> impl Iterator<Item = u8> + 'a {
        let s = self.0;
        let mut i = 0;
        core::iter::from_fn(move || {
            let b = *s.get(i)?;
            if b == b'%' {
                if let (Some(h), Some(l)) = (s.get(i + 1).and_then(hex), s.get(i + 2).and_then(hex))
                {
                    i += 3;
                    return Some(h << 4 | l);
                }
            }
            i += 1;
            Some(b)
        })
    }

    /// Compares decoded forms (`%75se%72` equals `user`, RFC 3261 §19.1.4).
    pub fn eq_decoded(&self, other: &Escaped<'_>) -> bool {
        self.decoded().eq(other.decoded())
    }
}

fn hex(b: &u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// A URI in any scheme.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Uri<'a> {
    /// `sip:` or `sips:`.
    Sip(SipUri<'a>),
    /// `tel:` (RFC 3966).
    Tel(TelUri<'a>),
    /// Any other absolute URI, kept opaque (RFC 4475 §3.3.2-3.3.4 must parse).
    Other {
        /// The scheme as written.
        scheme: &'a [u8],
        /// Everything after the first colon.
        rest: &'a [u8],
    },
}

impl<'a> Uri<'a> {
    /// Parses a URI written without surrounding white space or brackets.
    pub fn parse(s: &'a [u8]) -> Result<Self, ViewError> {
        // scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )
        let colon = find(s, b':').ok_or(ViewError::new(Part::Scheme, 0))?;
        let scheme = &s[..colon];
        let valid_scheme = scheme.first().is_some_and(u8::is_ascii_alphabetic)
            && scheme
                .iter()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'));
        if !valid_scheme {
            return Err(ViewError::new(Part::Scheme, 0));
        }
        let rest = &s[colon + 1..];
        let shift = |e: ViewError| ViewError::new(e.part, e.at + colon + 1);
        if scheme.eq_ignore_ascii_case(b"sip") || scheme.eq_ignore_ascii_case(b"sips") {
            SipUri::parse(rest, scheme.len() == 4)
                .map(Uri::Sip)
                .map_err(shift)
        } else if scheme.eq_ignore_ascii_case(b"tel") {
            TelUri::parse(rest).map(Uri::Tel).map_err(shift)
        } else {
            if rest.is_empty() {
                return Err(ViewError::new(Part::Scheme, colon));
            }
            all_in(rest, &URIC, true).map_err(|at| ViewError::new(Part::Scheme, colon + 1 + at))?;
            Ok(Uri::Other { scheme, rest })
        }
    }

    /// The SIP URI, when this is one.
    pub fn as_sip(&self) -> Option<&SipUri<'a>> {
        match self {
            Uri::Sip(u) => Some(u),
            _ => None,
        }
    }
}

/// A `sip:` or `sips:` URI.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SipUri<'a> {
    /// `sips:`.
    pub secure: bool,
    /// The user part, when present.
    pub user: Option<Escaped<'a>>,
    /// The password, when present (RFC 3261 §19.1.1 discourages it).
    pub password: Option<Escaped<'a>>,
    /// The host.
    pub host: Host<'a>,
    /// The host as written (`[...]` included for IPv6).
    pub host_raw: &'a [u8],
    /// The port, when written.
    pub port: Option<u16>,
    params: &'a [u8],
    headers: Option<&'a [u8]>,
}

impl<'a> SipUri<'a> {
    fn parse(s: &'a [u8], secure: bool) -> Result<Self, ViewError> {
        let (user, password, hp_start) = match find(s, b'@') {
            Some(at) => {
                let userinfo = &s[..at];
                let (u, p) = match find(userinfo, b':') {
                    Some(c) => (&userinfo[..c], Some(&userinfo[c + 1..])),
                    None => (userinfo, None),
                };
                if u.is_empty() {
                    return Err(ViewError::new(Part::UserInfo, 0));
                }
                all_in(u, &USER, true).map_err(|i| ViewError::new(Part::UserInfo, i))?;
                if let Some(p) = p {
                    all_in(p, &PASSWORD, true)
                        .map_err(|i| ViewError::new(Part::UserInfo, u.len() + 1 + i))?;
                }
                (Some(Escaped(u)), p.map(Escaped), at + 1)
            }
            None => (None, None, 0),
        };
        let after = &s[hp_start..];
        let hp_len = if after.first() == Some(&b'[') {
            find(after, b']').map_or(after.len(), |i| {
                i + 1
                    + after[i + 1..]
                        .iter()
                        .position(|&b| b == b';' || b == b'?')
                        .unwrap_or(after.len() - i - 1)
            })
        } else {
            after
                .iter()
                .position(|&b| b == b';' || b == b'?')
                .unwrap_or(after.len())
        };
        let (host, host_raw, port) = parse_hostport(&after[..hp_len])
            .map_err(|e| ViewError::new(e.part, e.at + hp_start))?;
        let tail = &after[hp_len..];
        let q = find(tail, b'?');
        let params = &tail[..q.unwrap_or(tail.len())];
        let base = hp_start + hp_len;
        check_uri_params(params, &PARAMCHAR)
            .map_err(|i| ViewError::new(Part::UriParam, base + i))?;
        let headers = match q {
            Some(q) => {
                let h = &tail[q + 1..];
                check_uri_headers(h)
                    .map_err(|i| ViewError::new(Part::UriHeaders, base + q + 1 + i))?;
                Some(h)
            }
            None => None,
        };
        Ok(SipUri {
            secure,
            user,
            password,
            host,
            host_raw,
            port,
            params,
            headers,
        })
    }

    /// The URI parameters, in order.
    pub fn params(&self) -> UriParams<'a> {
        UriParams { rest: self.params }
    }

    /// The raw parameter text, starting with `;` (empty when there are none).
    pub fn params_raw(&self) -> &'a [u8] {
        self.params
    }

    /// The named parameter (case-insensitive): `Some(None)` when present without a value.
    pub fn param(&self, name: &str) -> Option<Option<Escaped<'a>>> {
        self.params()
            .find(|(n, _)| n.raw().eq_ignore_ascii_case(name.as_bytes()))
            .map(|(_, v)| v)
    }

    /// The `?` headers, without the `?`; a Request-URI must have none (RFC 3261 §19.1.1 table).
    pub fn headers(&self) -> Option<&'a [u8]> {
        self.headers
    }

    /// `;lr` (RFC 3261 §19.1.1 loose routing).
    pub fn has_lr(&self) -> bool {
        self.param("lr").is_some()
    }

    /// `;transport=`.
    pub fn transport(&self) -> Option<&'a [u8]> {
        self.param("transport").flatten().map(|v| v.raw())
    }
}

fn check_uri_params(s: &[u8], class: &[bool; 256]) -> Result<(), usize> {
    if s.is_empty() {
        return Ok(());
    }
    // Each parameter is ";" pname [ "=" pvalue ], pname and pvalue 1*paramchar.
    let mut off = 0;
    for p in s[1..].split(|&b| b == b';') {
        off += 1;
        let (name, value) = match find(p, b'=') {
            Some(e) => (&p[..e], Some(&p[e + 1..])),
            None => (p, None),
        };
        if name.is_empty() {
            return Err(off);
        }
        all_in(name, class, true).map_err(|i| off + i)?;
        if let Some(v) = value {
            if v.is_empty() {
                return Err(off + name.len() + 1);
            }
            all_in(v, class, true).map_err(|i| off + name.len() + 1 + i)?;
        }
        off += p.len();
    }
    Ok(())
}

fn check_uri_headers(s: &[u8]) -> Result<(), usize> {
    // headers = header *( "&" header ); header = hname "=" hvalue; hname 1*, hvalue *.
    let mut off = 0;
    for h in s.split(|&b| b == b'&') {
        let e = find(h, b'=').ok_or(off)?;
        if e == 0 {
            return Err(off);
        }
        all_in(&h[..e], &HNVCHAR, true).map_err(|i| off + i)?;
        if e + 1 < h.len() {
            all_in(&h[e + 1..], &HNVCHAR, true).map_err(|i| off + e + 1 + i)?;
        }
        off += h.len() + 1;
    }
    Ok(())
}

/// Iterator over URI parameters: `(name, value)`.
#[derive(Clone, Debug)]
pub struct UriParams<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for UriParams<'a> {
    type Item = (Escaped<'a>, Option<Escaped<'a>>);

    fn next(&mut self) -> Option<Self::Item> {
        let s = self.rest.strip_prefix(b";")?;
        let end = find(s, b';').unwrap_or(s.len());
        let p = &s[..end];
        self.rest = &s[end..];
        Some(match find(p, b'=') {
            Some(e) => (Escaped(&p[..e]), Some(Escaped(&p[e + 1..]))),
            None => (Escaped(p), None),
        })
    }
}

/// A `tel:` URI (RFC 3966).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TelUri<'a> {
    /// The number as written: global (`+` digits) or local, visual separators included.
    pub number: &'a [u8],
    params: &'a [u8],
}

impl<'a> TelUri<'a> {
    fn parse(s: &'a [u8]) -> Result<Self, ViewError> {
        let end = find(s, b';').unwrap_or(s.len());
        let number = &s[..end];
        let (digits, hexok) = match number.strip_prefix(b"+") {
            Some(d) => (d, false),
            None => (number, true),
        };
        let mut any = false;
        for (i, &b) in digits.iter().enumerate() {
            let ok = match b {
                b'0'..=b'9' => {
                    any = true;
                    true
                }
                b'-' | b'.' | b'(' | b')' => true,
                b'a'..=b'f' | b'A'..=b'F' | b'*' | b'#' if hexok => {
                    any = true;
                    true
                }
                _ => false,
            };
            if !ok {
                return Err(ViewError::new(Part::UserInfo, i));
            }
        }
        if !any {
            return Err(ViewError::new(Part::UserInfo, 0));
        }
        let params = &s[end..];
        check_uri_params(params, &PARAMCHAR)
            .map_err(|i| ViewError::new(Part::UriParam, end + i))?;
        Ok(TelUri { number, params })
    }

    /// The parameters (`;phone-context=...`), in order.
    pub fn params(&self) -> UriParams<'a> {
        UriParams { rest: self.params }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sip(s: &str) -> SipUri<'_> {
        match Uri::parse(s.as_bytes()) {
            Ok(Uri::Sip(u)) => u,
            other => panic!("{s}: {other:?}"),
        }
    }

    #[test]
    fn user_part_may_hold_semicolons_and_questions() {
        // RFC 4475 §3.1.1.9 semiuri: the ; before @ belongs to the user part.
        let u = sip("sip:user;par=u%40example.net@example.com");
        assert_eq!(
            u.user.map(|e| e.raw()),
            Some(&b"user;par=u%40example.net"[..])
        );
        assert_eq!(u.params().count(), 0);
        assert_eq!(
            u.user.map(|e| e.decode().into_owned()),
            Some(b"user;par=u@example.net".to_vec())
        );
    }

    #[test]
    fn escapes_decode_once_and_keep_nul() {
        let e = Escaped(b"v%61lue%25%34%31");
        assert_eq!(&*e.decode(), b"value%41");
        let n = Escaped(b"%00%00");
        assert_eq!(&*n.decode(), &[0u8, 0][..]);
        assert!(Escaped(b"%75se%72").eq_decoded(&Escaped(b"user")));
    }

    #[test]
    fn hosts_and_ports() {
        let u = sip("sip:[2001:db8::10]:5070");
        assert_eq!(u.host, Host::Ipv6("2001:db8::10".parse().unwrap()));
        assert_eq!(u.port, Some(5070));
        let amb = sip("sip:[2001:db8::10:5070]");
        assert_eq!(amb.port, None);
        let bug = sip("sip:[2001:db8:::192.0.2.1]");
        assert_eq!(bug.host, Host::Ipv6("2001:db8::192.0.2.1".parse().unwrap()));
        assert!(Uri::parse(b"sip:2001:db8::10").is_err());
        assert!(Uri::parse(b"sip:host:70000").is_err());
        assert!(Uri::parse(b"sip:-bad.example.com").is_err());
        assert!(Uri::parse(b"sip:999.1.1.1").is_err());
        assert_eq!(
            sip("sip:u@010.0.0.1").host,
            Host::Ipv4(Ipv4Addr::new(10, 0, 0, 1))
        );
        assert_eq!(
            parse_ipv4(b"192.0.2.010"),
            Some(Ipv4Addr::new(192, 0, 2, 10))
        );
        assert_eq!(
            parse_ipv4(b"001.002.003.004"),
            Some(Ipv4Addr::new(1, 2, 3, 4))
        );
        for bad in [
            "1.2.3",
            "1.2.3.4.5",
            "0001.2.3.4",
            "1..3.4",
            "256.1.1.1",
            "1.2.3.",
            ".1.2.3",
        ] {
            assert_eq!(parse_ipv4(bad.as_bytes()), None, "{bad}");
        }
        for good in ["0.0.0.0", "255.255.255.255", "192.0.2.1", "10.0.100.9"] {
            assert_eq!(parse_ipv4(good.as_bytes()), good.parse().ok(), "{good}");
        }
        assert_eq!(sip("sip:example.com.").host, Host::Domain(b"example.com."));
    }

    #[test]
    fn other_schemes_stay_opaque() {
        assert!(matches!(
            Uri::parse(b"nobodyKnowsThisScheme:totallyopaquecontent"),
            Ok(Uri::Other { .. })
        ));
        assert!(matches!(
            Uri::parse(b"soap.beep://192.0.2.103:3002"),
            Ok(Uri::Other { .. })
        ));
        assert!(Uri::parse(b"<sip:user@example.com>").is_err());
        assert!(matches!(
            Uri::parse(b"tel:+1-201-555-0123;phone-context=example.com"),
            Ok(Uri::Tel(_))
        ));
    }

    #[test]
    fn params_and_headers() {
        let u = sip("sip:alice@atlanta.com;transport=TCP;lr?subject=project%20x&priority=urgent");
        assert!(u.has_lr());
        assert_eq!(u.transport(), Some(&b"TCP"[..]));
        assert_eq!(
            u.headers(),
            Some(&b"subject=project%20x&priority=urgent"[..])
        );
        assert!(Uri::parse(b"sip:a@b.com;;lr").is_err());
        assert!(Uri::parse(b"sip:a@b.com;x=").is_err());
        assert!(Uri::parse(b"sip:a@b.com?noequals").is_err());
        assert!(Uri::parse(b"sip:a%zz@b.com").is_err());
    }
}
