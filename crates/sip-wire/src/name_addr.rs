//! `name-addr` / `addr-spec` values: From, To, Contact, Route, Record-Route, Path, ...
//!
//! ```text
//!   [ display-name ] LAQUOT addr-spec RAQUOT *( SEMI param )    (name-addr)
//!   addr-spec *( SEMI param )                                 (addr-spec form)
//! ```

use crate::error::{Part, ViewError};
use crate::params::Params;
use crate::scan::{is_lws, Cursor, TOKEN};
use crate::uri::Uri;

/// An address with its header parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NameAddr<'a> {
    /// The display name as written: a quoted-string with its quotes, or a run of tokens.
    pub display: Option<&'a [u8]>,
    /// The URI as written; [`NameAddr::uri`] decodes it.
    pub uri_raw: &'a [u8],
    /// Offset of the URI in the value, so URI errors point into the value.
    uri_at: usize,
    /// Whether the URI was enclosed in `< >`.
    pub bracketed: bool,
    /// Header parameters after the address (`;tag=`, `;expires=`, ...).
    pub params: Params<'a>,
    tag: Option<&'a [u8]>,
}

impl<'a> NameAddr<'a> {
    /// Parses one element (already split from a list): display name, the extent of the URI,
    /// and the parameters. The URI itself is decoded by [`NameAddr::uri`] (or checked at once
    /// by [`NameAddr::parse_strict`]).
    pub fn parse(s: &'a [u8]) -> Result<Self, ViewError> {
        let mut cur = Cursor::new(s);
        cur.skip_lws();
        if cur.at_end() {
            return Err(cur.err(Part::Empty));
        }
        let display = match cur.peek() {
            Some(b'"') => {
                let start = cur.pos();
                cur.quoted_string()?;
                let d = cur.slice(start, cur.pos());
                cur.skip_lws();
                if cur.peek() != Some(b'<') {
                    return Err(cur.err(Part::AngleBrackets));
                }
                Some(d)
            }
            Some(b'<') => None,
            _ => display_tokens(&mut cur),
        };
        if cur.eat(b'<') {
            // LAQUOT = SWS "<"; RAQUOT = ">" SWS: nothing may sit inside the brackets but the
            // URI (RFC 4475 §3.1.2.14 badaspec).
            let start = cur.pos();
            let close = crate::scan::find(cur.rest(), b'>').ok_or(cur.err(Part::AngleBrackets))?;
            // The URI is decoded only when asked for (`uri()`): a proxy matching dialogs needs
            // the tag, not the From URI; `validate` and `parse_strict` decode it.
            let uri_raw = cur.slice(start, start + close);
            if uri_raw.is_empty() {
                return Err(cur.err(Part::Scheme));
            }
            cur.advance(close + 1);
            let (params, tag) = params_and_tag(&mut cur)?;
            Ok(NameAddr {
                display,
                uri_raw,
                uri_at: start,
                bracketed: true,
                params,
                tag,
            })
        } else {
            // addr-spec form: the URI runs to the first `;` or white space; RFC 3261 §20.10:
            // a URI holding a comma, question mark or semicolon MUST be enclosed in < >, so
            // URI headers here are an error (RFC 4475 §3.1.2.13 regbadct).
            let start = cur.pos();
            let len = cur
                .rest()
                .iter()
                .position(|&b| b == b';' || is_lws(b))
                .unwrap_or(cur.rest().len());
            let uri_raw = cur.slice(start, start + len);
            if uri_raw.is_empty() {
                return Err(cur.err(Part::Scheme));
            }
            // Without brackets, only decoding the URI tells an address from stray text (an
            // unquoted display name with a comma, RFC 4475 §3.1.2.15), so this form decodes it.
            let uri = Uri::parse(uri_raw).map_err(|e| ViewError::new(e.part, start + e.at))?;
            if let Some(q) = crate::scan::find(uri_raw, b'?') {
                if uri.as_sip().is_some_and(|u| u.headers().is_some()) {
                    return Err(ViewError::new(Part::AngleBrackets, start + q));
                }
            }
            cur.advance(len);
            let (params, tag) = params_and_tag(&mut cur)?;
            Ok(NameAddr {
                display: None,
                uri_raw,
                uri_at: start,
                bracketed: false,
                params,
                tag,
            })
        }
    }

    /// Decodes the URI; errors point into the header value.
    pub fn uri(&self) -> Result<Uri<'a>, ViewError> {
        Uri::parse(self.uri_raw).map_err(|e| ViewError::new(e.part, self.uri_at + e.at))
    }

    /// Parses the element and decodes its URI: the full check `validate` applies.
    pub fn parse_strict(s: &'a [u8]) -> Result<Self, ViewError> {
        let a = Self::parse(s)?;
        a.uri()?;
        Ok(a)
    }

    /// The `tag` parameter (RFC 3261 §19.3).
    pub fn tag(&self) -> Option<&'a [u8]> {
        self.tag
    }

    /// The display name without quotes (quoted-pair escapes left as written).
    pub fn display_unquoted(&self) -> Option<&'a [u8]> {
        self.display.map(crate::params::unquote)
    }
}

/// The parameters after the address, noting the tag (`tag = "tag" EQUAL token`) on the way,
/// then the end of the value.
#[inline]
fn params_and_tag<'a>(cur: &mut Cursor<'a>) -> Result<(Params<'a>, Option<&'a [u8]>), ViewError> {
    let mut tag = None;
    let rest = cur.rest();
    if let Some(params) =
        Params::parse_canonical(rest, |name, value| note_tag(&mut tag, name, value))
    {
        cur.advance(rest.len());
        return Ok((params, tag));
    }
    tag = None;
    let params = Params::parse_with(cur, |p| note_tag(&mut tag, p.name, p.value))?;
    cur.expect_end()?;
    Ok((params, tag))
}

/// Notes the `tag` parameter: `tag = "tag" EQUAL token`, at most once.
#[inline]
fn note_tag<'a>(
    tag: &mut Option<&'a [u8]>,
    name: &'a [u8],
    value: Option<&'a [u8]>,
) -> Result<(), ()> {
    if name.eq_ignore_ascii_case(b"tag") {
        match value {
            Some(v) if tag.is_none() && v.iter().all(|&b| TOKEN[usize::from(b)]) => *tag = Some(v),
            _ => return Err(()),
        }
    }
    Ok(())
}

/// `display-name = *(token LWS) / quoted-string`, used only when a `<` follows. Tokens with no
/// LWS before `<` are accepted (RFC 4475 §3.1.1.6: an acknowledged grammar bug). Restores the
/// cursor and returns `None` when no `<` follows (the value is an addr-spec).
fn display_tokens<'a>(cur: &mut Cursor<'a>) -> Option<&'a [u8]> {
    let save = cur.clone();
    let start = cur.pos();
    let mut end = start;
    loop {
        let t = cur.take_class(&TOKEN);
        if t.is_empty() {
            break;
        }
        end = cur.pos();
        cur.skip_lws();
    }
    if end > start && cur.peek() == Some(b'<') {
        Some(cur.slice(start, end))
    } else {
        *cur = save;
        None
    }
}

/// A Contact value: `*` or an address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Contact<'a> {
    /// `Contact: *` (only with Expires: 0 in a REGISTER, RFC 3261 §10.2.2).
    Star,
    /// An address with its contact-params.
    Addr(NameAddr<'a>),
}

impl<'a> Contact<'a> {
    /// Parses one Contact element.
    pub fn parse(s: &'a [u8]) -> Result<Self, ViewError> {
        if crate::scan::trim_lws(s) == b"*" {
            Ok(Contact::Star)
        } else {
            NameAddr::parse(s).map(Contact::Addr)
        }
    }

    /// Parses one Contact element and decodes its URI.
    pub fn parse_strict(s: &'a [u8]) -> Result<Self, ViewError> {
        match Self::parse(s)? {
            Contact::Addr(a) => {
                a.uri()?;
                Ok(Contact::Addr(a))
            }
            star => Ok(star),
        }
    }
}

/// Parses a Route / Record-Route / Path element: a name-addr with `< >` required
/// (`route-param = name-addr *( SEMI rr-param )`), its URI decoded.
pub fn parse_route(s: &[u8]) -> Result<NameAddr<'_>, ViewError> {
    let na = NameAddr::parse_strict(s)?;
    if !na.bracketed {
        return Err(ViewError::new(Part::AngleBrackets, 0));
    }
    Ok(na)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        let a = NameAddr::parse(
            b"\"J Rosenberg \\\\\\\"\"       <sip:jdrosen@example.com>\r\n  ;\r\n  tag = 98asjd8",
        )
        .unwrap();
        assert_eq!(a.tag(), Some(&b"98asjd8"[..]));
        assert_eq!(a.display_unquoted(), Some(&b"J Rosenberg \\\\\\\""[..]));
        let b = NameAddr::parse(b"caller<sip:caller@example.com>;tag=323").unwrap();
        assert_eq!(b.display, Some(&b"caller"[..]));
        let c = NameAddr::parse(b"sip:+19725552222@gw1.example.net;unknownparam").unwrap();
        assert!(!c.bracketed);
        assert!(c.params.has("unknownparam"));
        assert_eq!(
            c.uri().unwrap().as_sip().map(|u| u.params().count()),
            Some(0)
        );
        let d =
            NameAddr::parse(b"token1~` token2'+_ token3*%!.- <sip:mundane@example.com>").unwrap();
        assert_eq!(d.display, Some(&b"token1~` token2'+_ token3*%!.-"[..]));
    }

    #[test]
    fn broken_forms() {
        assert!(NameAddr::parse(b"\"Mr. J. User <sip:j.user@example.com>").is_err());
        assert!(
            NameAddr::parse_strict(b"\"Watson, Thomas\" < sip:t.watson@example.org >").is_err()
        );
        assert!(
            NameAddr::parse_strict(b"Bell, Alexander <sip:a.g.bell@example.com>;tag=43").is_err()
        );
        assert!(NameAddr::parse(b"<>").is_err());
        assert!(NameAddr::parse(b"sip:user@example.com?Route=%3Csip:sip.example.com%3E").is_err());
        assert!(NameAddr::parse(b"\"Joe\" <sip:joe@example.org>;;;;").is_err());
        assert!(NameAddr::parse(b"").is_err());
        assert!(parse_route(b"sip:p1.example.com;lr").is_err());
    }
}
