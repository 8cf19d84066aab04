//! Authorization / Proxy-Authorization credentials and WWW-Authenticate / Proxy-Authenticate
//! challenges (RFC 3261 §25.1, RFC 7616, RFC 8760):
//!
//! ```text
//!   auth-scheme LWS auth-param *( COMMA auth-param )     auth-param = name EQUAL (token / quoted-string)
//! ```
//!
//! Unknown parameters are kept; a scheme other than Digest may carry a token68 instead
//! (RFC 7235 §2.1), which is kept opaque so a proxy forwards it unchanged (RFC 4475 §3.3.7).

use crate::error::{Part, ViewError};
use crate::limits::MAX_AUTH_PARAMS;
use crate::params::unquote;
use crate::scan::{Cursor, TOKEN};

/// Credentials or a challenge.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Auth<'a> {
    /// The scheme as written (`Digest`, compare case-insensitively).
    pub scheme: &'a [u8],
    params: &'a [u8],
    token68: Option<&'a [u8]>,
}

/// One auth-param value as written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AuthValue<'a> {
    /// The value with quotes, if it was quoted.
    pub raw: &'a [u8],
}

impl<'a> AuthValue<'a> {
    /// Whether the value was a quoted-string.
    pub fn is_quoted(&self) -> bool {
        self.raw.first() == Some(&b'"')
    }

    /// The value without its quotes (quoted-pair escapes left as written).
    pub fn unquoted(&self) -> &'a [u8] {
        unquote(self.raw)
    }
}

impl<'a> Auth<'a> {
    /// Parses a credentials or challenge value.
    pub fn parse(s: &'a [u8]) -> Result<Self, ViewError> {
        let mut cur = Cursor::new(s);
        cur.skip_lws();
        let scheme = cur.token().map_err(|e| ViewError::new(Part::Auth, e.at))?;
        let had_lws = cur.skip_lws();
        let start = cur.pos();
        if cur.at_end() {
            // `digest-response = dig-resp *(COMMA dig-resp)`: Digest needs parameters.
            if scheme.eq_ignore_ascii_case(b"Digest") {
                return Err(cur.err(Part::Auth));
            }
            return Ok(Auth {
                scheme,
                params: &[],
                token68: None,
            });
        }
        if !had_lws {
            return Err(cur.err(Part::Auth));
        }
        let is_digest = scheme.eq_ignore_ascii_case(b"Digest");
        let mut list = cur.clone();
        match parse_list(&mut list) {
            Ok(()) => {
                let params = list.slice(start, list.pos());
                let auth = Auth {
                    scheme,
                    params,
                    token68: None,
                };
                if auth.params().count() > MAX_AUTH_PARAMS {
                    return Err(ViewError::new(Part::Auth, start));
                }
                if is_digest && auth.has_duplicates() {
                    // RFC 7616 §3.4: each parameter appears at most once.
                    return Err(ViewError::new(Part::Auth, start));
                }
                Ok(auth)
            }
            Err(e) if is_digest => Err(e),
            Err(e) => {
                // token68 = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
                let rest = cur.rest();
                let body = rest.iter().position(|&b| b == b'=').unwrap_or(rest.len());
                let ok = body > 0
                    && rest[..body]
                        .iter()
                        .all(|&b| b.is_ascii_alphanumeric() || b"-._~+/".contains(&b))
                    && crate::scan::trim_lws(&rest[body..])
                        .iter()
                        .all(|&b| b == b'=');
                if ok {
                    Ok(Auth {
                        scheme,
                        params: &[],
                        token68: Some(crate::scan::trim_lws(rest)),
                    })
                } else {
                    Err(e)
                }
            }
        }
    }

    /// Whether the scheme is Digest.
    pub fn is_digest(&self) -> bool {
        self.scheme.eq_ignore_ascii_case(b"Digest")
    }

    /// The token68 form, for schemes that use it.
    pub fn token68(&self) -> Option<&'a [u8]> {
        self.token68
    }

    /// The parameters in order: `(name, value)`.
    pub fn params(&self) -> impl Iterator<Item = (&'a [u8], AuthValue<'a>)> {
        let mut cur = Cursor::new(self.params);
        let mut first = true;
        core::iter::from_fn(move || {
            if !first && !cur.eat_sep(b',') {
                return None;
            }
            first = false;
            cur.skip_lws();
            auth_param(&mut cur).ok()
        })
    }

    /// The named parameter (case-insensitive).
    pub fn get(&self, name: &str) -> Option<AuthValue<'a>> {
        self.params()
            .find(|(n, _)| n.eq_ignore_ascii_case(name.as_bytes()))
            .map(|(_, v)| v)
    }

    fn has_duplicates(&self) -> bool {
        self.params().enumerate().any(|(i, (n, _))| {
            self.params()
                .take(i)
                .any(|(m, _)| m.eq_ignore_ascii_case(n))
        })
    }
}

fn parse_list(cur: &mut Cursor<'_>) -> Result<(), ViewError> {
    auth_param(cur)?;
    while cur.eat_sep(b',') {
        auth_param(cur)?;
    }
    cur.expect_end()
}

fn auth_param<'a>(cur: &mut Cursor<'a>) -> Result<(&'a [u8], AuthValue<'a>), ViewError> {
    let name = cur.token().map_err(|e| ViewError::new(Part::Auth, e.at))?;
    if !cur.eat_sep(b'=') {
        return Err(cur.err(Part::Auth));
    }
    let start = cur.pos();
    if cur.peek() == Some(b'"') {
        cur.quoted_string()?;
    } else if cur.take_class(&TOKEN).is_empty() {
        return Err(cur.err(Part::Auth));
    }
    Ok((
        name,
        AuthValue {
            raw: cur.slice(start, cur.pos()),
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_credentials() {
        let a = Auth::parse(
            b"Digest username=\"122\", realm=\"audiocodes.com\",\r\n nonce=\"11432d6bce58ddf02e3b5e1c77c010d2\", uri=\"sip:audiocodes.com\", response=\"6c4035e80970a158bb850f83a0d9dd41\", algorithm=MD5, qop=auth, nc=00000001, x-unknown=\"kept\"",
        )
        .unwrap();
        assert!(a.is_digest());
        assert_eq!(a.get("username").map(|v| v.unquoted()), Some(&b"122"[..]));
        assert_eq!(a.get("ALGORITHM").map(|v| v.raw), Some(&b"MD5"[..]));
        assert_eq!(a.get("nc").map(|v| v.raw), Some(&b"00000001"[..]));
        assert_eq!(a.get("x-unknown").map(|v| v.unquoted()), Some(&b"kept"[..]));
        assert_eq!(a.params().count(), 9);
    }

    #[test]
    fn challenges_and_other_schemes() {
        let c = Auth::parse(b"Digest realm=\"audiocodes.com\",\r\n nonce=\"1143\",\r\n stale=FALSE,\r\n algorithm=MD5").unwrap();
        assert_eq!(c.get("stale").map(|v| v.raw), Some(&b"FALSE"[..]));
        let o = Auth::parse(b"NoOneKnowsThisScheme opaque-data=here").unwrap();
        assert!(!o.is_digest());
        let b = Auth::parse(b"Bearer mF_9.B5f-4.1JqM==").unwrap();
        assert_eq!(b.token68(), Some(&b"mF_9.B5f-4.1JqM=="[..]));
    }

    #[test]
    fn broken_digest() {
        assert!(Auth::parse(b"Digest username=\"a\", username=\"b\"").is_err());
        assert!(Auth::parse(b"Digest username=\"a").is_err());
        assert!(Auth::parse(b"Digest username").is_err());
        assert!(Auth::parse(b"Digest realm=\"a\",, nonce=\"b\"").is_err());
        assert!(Auth::parse(b"Digest=x").is_err());
        assert!(Auth::parse(b"Digest").is_err());
        let many: String = (0..65)
            .map(|i| format!("p{i}=1"))
            .collect::<Vec<_>>()
            .join(",");
        assert!(Auth::parse(format!("Digest {many}").as_bytes()).is_err());
        let ok: String = (0..64)
            .map(|i| format!("p{i}=1"))
            .collect::<Vec<_>>()
            .join(",");
        assert!(Auth::parse(format!("Digest {ok}").as_bytes()).is_ok());
    }
}
