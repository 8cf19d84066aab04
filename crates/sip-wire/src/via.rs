//! Via values (RFC 3261 §20.42, RFC 3581 rport):
//! `sent-protocol LWS sent-by *( SEMI via-params )`, `sent-protocol = name SLASH version SLASH
//! transport`, `sent-by = host [ COLON port ]`. LWS is allowed around `/`, `:`, `;` and `=`.

use crate::error::{Part, ViewError};
use crate::params::Params;
use crate::scan::{Cursor, HOSTCHAR, TOKEN};
use crate::uri::{parse_host, parse_ipv4, parse_ipv4_prefix, parse_ipv6, parse_port, Host};

/// The parameters RFC 3261 and RFC 3581 give a grammar, noted while the list is parsed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Known<'a> {
    branch: Option<&'a [u8]>,
    received: Option<&'a [u8]>,
    rport: Option<Option<u16>>,
    maddr: Option<&'a [u8]>,
}

impl<'a> Known<'a> {
    /// Checks and records one parameter; `Err` when a known one has a bad value.
    #[inline]
    fn note(&mut self, name: &'a [u8], value: Option<&'a [u8]>) -> Result<(), ()> {
        // Dispatch on length first: most parameters are compared against one name at most.
        match name.len() {
            // branch = token, at most once (a second one would make the transaction ambiguous).
            6 if name.eq_ignore_ascii_case(b"branch") => {
                let v = plain_value(value)?;
                if self.branch.is_some() || !v.iter().all(|&b| TOKEN[usize::from(b)]) {
                    return Err(());
                }
                self.branch = Some(v);
            }
            8 if name.eq_ignore_ascii_case(b"received") => {
                // via-received = "received" EQUAL (IPv4address / IPv6address); the bracketed
                // IPv6 form is tolerated (RFC 5118 §4.5).
                let v = value.ok_or(())?;
                let inner = v
                    .strip_prefix(b"[")
                    .and_then(|v| v.strip_suffix(b"]"))
                    .unwrap_or(v);
                if parse_ipv4(inner).is_none() && parse_ipv6(inner).is_none() {
                    return Err(());
                }
                self.received = Some(v);
            }
            // RFC 3581: `rport` alone asks for the port; `rport=N` reports it.
            5 if name.eq_ignore_ascii_case(b"rport") => {
                self.rport = Some(match value {
                    Some(v) => Some(parse_port(v).ok_or(())?),
                    None => None,
                })
            }
            5 if name.eq_ignore_ascii_case(b"maddr") => self.maddr = Some(plain_value(value)?),
            3 if name.eq_ignore_ascii_case(b"ttl") => {
                crate::scan::parse_decimal(value.ok_or(())?, 255).ok_or(())?;
            }
            _ => {}
        }
        Ok(())
    }
}

/// A parameter value that must be present and not a quoted-string (branch, maddr).
fn plain_value(v: Option<&[u8]>) -> Result<&[u8], ()> {
    match v {
        Some(v) if v.first() != Some(&b'"') => Ok(v),
        _ => Err(()),
    }
}

/// The RFC 3261 branch magic cookie (§8.1.1.7).
pub const BRANCH_COOKIE: &[u8] = b"z9hG4bK";

/// One Via value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Via<'a> {
    /// Protocol name, normally `SIP`.
    pub protocol: &'a [u8],
    /// Protocol version, normally `2.0`.
    pub version: &'a [u8],
    /// Transport token (`UDP`, `TCP`, `TLS`, `SCTP`, `WS`, `WSS` or any other token).
    pub transport: &'a [u8],
    /// The sent-by host.
    pub host: Host<'a>,
    /// The sent-by host as written.
    pub host_raw: &'a [u8],
    /// The sent-by port, when written.
    pub port: Option<u16>,
    /// The via-params.
    pub params: Params<'a>,
    known: Known<'a>,
}

impl<'a> Via<'a> {
    /// Parses one Via element (already split from the list).
    pub fn parse(s: &'a [u8]) -> Result<Self, ViewError> {
        match Self::parse_canonical(s) {
            Some(v) => Ok(v),
            None => Self::parse_general(s),
        }
    }

    /// The whole RFC 3261 grammar, LWS anywhere it may stand.
    fn parse_general(s: &'a [u8]) -> Result<Self, ViewError> {
        let mut cur = Cursor::new(s);
        cur.skip_lws();
        if cur.at_end() {
            return Err(cur.err(Part::Empty));
        }
        let sp = |e: ViewError| ViewError::new(Part::SentProtocol, e.at);
        let (protocol, version, transport);
        if cur.rest().starts_with(b"SIP/2.0/")
            && cur.rest().get(8).is_some_and(|&b| TOKEN[usize::from(b)])
        {
            // Fast path for the spelling every real element writes; the general grammar below
            // (LWS around the slashes, other names) gives the same result for it.
            protocol = &cur.rest()[..3];
            version = &cur.rest()[4..7];
            cur.advance(8);
            transport = cur.token().map_err(sp)?;
        } else {
            protocol = cur.token().map_err(sp)?;
            if !cur.eat_sep(b'/') {
                return Err(cur.err(Part::SentProtocol));
            }
            version = cur.token().map_err(sp)?;
            if !cur.eat_sep(b'/') {
                return Err(cur.err(Part::SentProtocol));
            }
            transport = cur.token().map_err(sp)?;
        }
        if !cur.skip_lws() {
            return Err(cur.err(Part::SentProtocol));
        }
        let host_start = cur.pos();
        let host_len = if cur.peek() == Some(b'[') {
            memchr::memchr(b']', cur.rest())
                .map(|i| i + 1)
                .ok_or(cur.err(Part::Host))?
        } else {
            cur.rest()
                .iter()
                .take_while(|&&b| crate::scan::HOSTCHAR[usize::from(b)])
                .count()
        };
        let host_raw = cur.slice(host_start, host_start + host_len);
        let host = parse_host(host_raw).map_err(|e| ViewError::new(e.part, host_start + e.at))?;
        cur.advance(host_len);
        let port = if cur.eat_sep(b':') {
            let digits = cur.take_class(&crate::scan::TOKEN);
            Some(parse_port(digits).ok_or(cur.err(Part::Port))?)
        } else {
            None
        };
        let mut known = Known::default();
        let params = Params::parse_with(&mut cur, |p| known.note(p.name, p.value))?;
        cur.expect_end()?;
        Ok(Via {
            protocol,
            version,
            transport,
            host,
            host_raw,
            port,
            params,
            known,
        })
    }

    /// One linear scan for the spelling real elements write (`SIP/2.0/T host[:port];p=v...`,
    /// no white space but the one SP). `None` for anything else, including every error: the
    /// general parser then decides. Where it succeeds it yields exactly what the general
    /// parser yields.
    #[inline]
    fn parse_canonical(s: &'a [u8]) -> Option<Self> {
        match Self::parse_canonical_prefix(s)? {
            (via, n) if n == s.len() => Some(via),
            _ => None,
        }
    }

    /// The first value of a Via line in one scan: `Some` only when the canonical form runs to
    /// the end of the line or to the comma that ends this value, so no separate pass is needed
    /// to find the value's end (a canonical value holds no quote or `<`).
    #[inline]
    pub(crate) fn parse_first_canonical(line: &'a [u8]) -> Option<Self> {
        match Self::parse_canonical_prefix(line)? {
            (via, n) if n == line.len() || line[n] == b',' => Some(via),
            _ => None,
        }
    }

    #[inline]
    fn parse_canonical_prefix(s: &'a [u8]) -> Option<(Self, usize)> {
        let rest = s.strip_prefix(b"SIP/2.0/")?;
        let t = rest.iter().take_while(|&&b| TOKEN[usize::from(b)]).count();
        if t == 0 || rest.get(t) != Some(&b' ') {
            return None;
        }
        let after = &rest[t + 1..];
        // An IPv4 address in the same pass when the host starts with a digit and is followed
        // by no further host character (else it is a hostname such as `1.example.com`).
        let (host, h) = match parse_ipv4_prefix(after) {
            Some((a, n)) if !after.get(n).is_some_and(|&b| HOSTCHAR[usize::from(b)]) => {
                (Host::Ipv4(a), n)
            }
            _ => {
                let h = after
                    .iter()
                    .take_while(|&&b| HOSTCHAR[usize::from(b)])
                    .count();
                (parse_host(&after[..h]).ok()?, h)
            }
        };
        let host_raw = &after[..h];
        let mut i = h;
        let mut port = None;
        if after.get(i) == Some(&b':') {
            let d = after[i + 1..]
                .iter()
                .take_while(|b| b.is_ascii_digit())
                .count();
            port = Some(parse_port(&after[i + 1..i + 1 + d])?);
            i += 1 + d;
        }
        let mut known = Known::default();
        let (params, n) = Params::parse_canonical_prefix(&after[i..], |n, v| known.note(n, v))?;
        let consumed = s.len() - after.len() + i + n;
        Some((
            Via {
                protocol: &s[..3],
                version: &s[4..7],
                transport: &rest[..t],
                host,
                host_raw,
                port,
                params,
                known,
            },
            consumed,
        ))
    }

    /// The `branch` parameter.
    pub fn branch(&self) -> Option<&'a [u8]> {
        self.known.branch
    }

    /// Whether the branch starts with the RFC 3261 magic cookie (§8.1.1.7); RFC 2543 peers
    /// send branches without it, and transactions are then matched the RFC 2543 way.
    pub fn is_rfc3261_branch(&self) -> bool {
        self.branch().is_some_and(|b| b.starts_with(BRANCH_COOKIE))
    }

    /// The `received` parameter, as written.
    pub fn received(&self) -> Option<&'a [u8]> {
        self.known.received
    }

    /// `rport`: `None` when absent, `Some(None)` when present without a value (a request for
    /// one, RFC 3581 §3), `Some(Some(port))` when filled in.
    pub fn rport(&self) -> Option<Option<u16>> {
        self.known.rport
    }

    /// `maddr`.
    pub fn maddr(&self) -> Option<&'a [u8]> {
        self.known.maddr
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tortuous_via() {
        let v =
            Via::parse(b"SIP  /   2.0\r\n /UDP\r\n    192.0.2.2;rport;branch=390skdjuw").unwrap();
        assert_eq!(v.transport, b"UDP");
        assert_eq!(v.host, Host::Ipv4("192.0.2.2".parse().unwrap()));
        assert_eq!(v.rport(), Some(None));
        assert_eq!(v.branch(), Some(&b"390skdjuw"[..]));
        assert!(!v.is_rfc3261_branch());
        let w = Via::parse(b"SIP  /    2.0   / UDP  192.168.255.111   ; branch=\r\n z9hG4bK30239")
            .unwrap();
        assert_eq!(w.branch(), Some(&b"z9hG4bK30239"[..]));
    }

    #[test]
    fn ipv6_and_ports() {
        let v = Via::parse(b"SIP/2.0/UDP [2001:db8::9:1]:6050;branch=z9hG4bKas3-111").unwrap();
        assert_eq!(v.port, Some(6050));
        let r =
            Via::parse(b"SIP/2.0/UDP [2001:db8::9:1];received=2001:db8::9:255;branch=z9hG4bKas3")
                .unwrap();
        assert_eq!(r.received(), Some(&b"2001:db8::9:255"[..]));
        assert_eq!(r.branch(), Some(&b"z9hG4bKas3"[..]));
        let b =
            Via::parse(b"SIP/2.0/UDP [2001:db8::9:1];received=[2001:db8::9:255];branch=z9hG4bKa")
                .unwrap();
        assert!(b.received().is_some());
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 3000, .. Default::default() })]

        /// Wherever the one-scan path accepts a Via, the general grammar gives the same view.
        #[test]
        fn canonical_path_agrees_with_the_grammar(
            s in "SIP/2\\.0/[A-Za-z]{0,4}[ ]{0,2}[a-z0-9.\\-]{0,14}(:[0-9]{0,6})?(;[a-zA-Z\\-]{0,8}(=[a-zA-Z0-9.:\\-]{0,12})?){0,4}[ ]?"
        ) {
            if let Some(fast) = Via::parse_canonical(s.as_bytes()) {
                proptest::prop_assert_eq!(Ok(fast), Via::parse_general(s.as_bytes()));
            }
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 2000, .. Default::default() })]

        /// The one-scan first value of a line equals the first list element, fully parsed.
        #[test]
        fn first_value_agrees_with_the_list(
            a in "SIP/2\\.0/[A-Z]{1,3} [0-9.]{1,15}[a-z]{0,3}(:[0-9]{1,5})?(;[a-z]{1,6}(=[a-zA-Z0-9.:]{0,10})?){0,3}",
            sep in "(,| ,|, | )?",
            b in "SIP/2\\.0/UDP [a-z0-9.]{1,10}",
        ) {
            let line = format!("{a}{sep}{b}");
            if let Some(fast) = Via::parse_first_canonical(line.as_bytes()) {
                let first = crate::scan::trim_lws(&line.as_bytes()[..crate::scan::element_end(line.as_bytes())]);
                proptest::prop_assert_eq!(Ok(fast), Via::parse_general(first));
            }
        }
    }

    #[test]
    fn canonical_path_is_taken() {
        let s = b"SIP/2.0/TLS 198.51.100.23:52144;branch=z9hG4bK.Lp2xT9sa;rport;received=192.0.2.1";
        let v = Via::parse_canonical(s).unwrap();
        assert_eq!(Ok(v), Via::parse_general(s));
        assert_eq!(v.rport(), Some(None));
        assert!(Via::parse_canonical(b"SIP/2.0/UDP host;branch=\"q\"").is_none());
    }

    #[test]
    fn broken_vias() {
        assert!(Via::parse(b"SIP/2.0/UDP 192.0.2.15;;").is_err());
        assert!(Via::parse(b";").is_err());
        assert!(Via::parse(b"").is_err());
        assert!(Via::parse(b"SIP/2.0/UDP").is_err());
        assert!(Via::parse(b"SIP/2.0/UDP host:99999").is_err());
        assert!(Via::parse(b"SIP/2.0/UDP host;received=not-an-ip").is_err());
        assert!(Via::parse(b"SIP/2.0/UDP host;rport=x").is_err());
        assert!(Via::parse(b"SIP/2.0/UDP host;branch=z9hG4bK:1").is_err());
        assert!(Via::parse(b"SIP/2.0/UDP host;branch=z9hG4bK1;branch=z9hG4bK2").is_err());
        // LWS after any slash is legal (SLASH = SWS "/" SWS).
        assert_eq!(
            Via::parse(b"SIP/2.0/ UDP host").map(|v| v.transport),
            Ok(&b"UDP"[..])
        );
        assert_eq!(
            Via::parse(b"SIP/2.0/\r\n UDP host").map(|v| v.transport),
            Ok(&b"UDP"[..])
        );
    }
}
