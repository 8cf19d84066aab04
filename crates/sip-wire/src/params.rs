//! Header parameters: `*( SEMI generic-param )`, `generic-param = token [ EQUAL gen-value ]`,
//! `gen-value = token / host / quoted-string` (RFC 3261 §25.1). LWS may surround `;` and `=`.

use crate::error::{Part, ViewError};
use crate::scan::{Cursor, GEN_VALUE, TOKEN};

/// Validated parameter text; iterating cannot fail.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Params<'a> {
    raw: &'a [u8],
}

/// One parameter. The value is as written: a quoted-string keeps its quotes and escapes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Param<'a> {
    /// The name, as written (compare case-insensitively).
    pub name: &'a [u8],
    /// The value, when there is one.
    pub value: Option<&'a [u8]>,
}

impl<'a> Param<'a> {
    /// The value without surrounding quotes (escapes inside are left as written).
    pub fn unquoted(&self) -> Option<&'a [u8]> {
        self.value.map(unquote)
    }
}

/// Strips one pair of surrounding double quotes, if present.
pub fn unquote(v: &[u8]) -> &[u8] {
    match v {
        [b'"', inner @ .., b'"'] => inner,
        _ => v,
    }
}

impl<'a> Params<'a> {
    /// Parses parameters at the cursor, stopping before anything that is not `;`.
    #[cfg(test)]
    pub(crate) fn parse(cur: &mut Cursor<'a>) -> Result<Self, ViewError> {
        Self::parse_with(cur, |_| Ok(()))
    }

    /// Parses parameters, handing each to `visit` as it is read, so that a view can pick out
    /// the ones it cares about (branch, tag, ...) in the same pass that validates them.
    #[inline]
    pub(crate) fn parse_with(
        cur: &mut Cursor<'a>,
        mut visit: impl FnMut(Param<'a>) -> Result<(), ()>,
    ) -> Result<Self, ViewError> {
        let start = cur.pos();
        let mut end = start;
        while cur.eat_sep(b';') {
            let at = cur.pos();
            let p = param(cur)?;
            visit(p).map_err(|()| ViewError::new(Part::Param, at))?;
            end = cur.pos();
        }
        Ok(Params {
            raw: cur.slice(start, end),
        })
    }

    /// Parses parameters that run to the end of `s` and are written the common way
    /// (`;name` or `;name=value` with a plain value, no white space), handing each to `visit`.
    /// `None` for anything else, including every error: the caller then falls back to
    /// [`Params::parse_with`], which accepts the same text with the same result.
    #[inline]
    pub(crate) fn parse_canonical(
        s: &'a [u8],
        visit: impl FnMut(&'a [u8], Option<&'a [u8]>) -> Result<(), ()>,
    ) -> Option<Self> {
        match Self::parse_canonical_prefix(s, visit)? {
            (params, n) if n == s.len() => Some(params),
            _ => None,
        }
    }

    /// As [`Params::parse_canonical`], but the parameters may be followed by other text: returns
    /// them and how many octets they took.
    #[inline]
    pub(crate) fn parse_canonical_prefix(
        s: &'a [u8],
        mut visit: impl FnMut(&'a [u8], Option<&'a [u8]>) -> Result<(), ()>,
    ) -> Option<(Self, usize)> {
        let mut i = 0;
        while s.get(i) == Some(&b';') {
            i += 1;
            let n = s[i..]
                .iter()
                .take_while(|&&b| TOKEN[usize::from(b)])
                .count();
            if n == 0 {
                return None;
            }
            let name = &s[i..i + n];
            i += n;
            let mut value = None;
            if s.get(i) == Some(&b'=') {
                let m = s[i + 1..]
                    .iter()
                    .take_while(|&&b| GEN_VALUE[usize::from(b)])
                    .count();
                if m == 0 {
                    return None;
                }
                value = Some(&s[i + 1..i + 1 + m]);
                i += 1 + m;
            }
            visit(name, value).ok()?;
        }
        Some((Params { raw: &s[..i] }, i))
    }

    /// The parameter text as written.
    pub fn raw(&self) -> &'a [u8] {
        self.raw
    }

    /// Iterates over the parameters in order.
    pub fn iter(&self) -> ParamIter<'a> {
        ParamIter {
            cur: Cursor::new(self.raw),
        }
    }

    /// The first parameter with this name (case-insensitive).
    pub fn get(&self, name: &str) -> Option<Param<'a>> {
        self.iter()
            .find(|p| p.name.eq_ignore_ascii_case(name.as_bytes()))
    }

    /// Whether a parameter with this name is present.
    pub fn has(&self, name: &str) -> bool {
        self.get(name).is_some()
    }
}

impl<'a> IntoIterator for Params<'a> {
    type Item = Param<'a>;
    type IntoIter = ParamIter<'a>;
    fn into_iter(self) -> ParamIter<'a> {
        self.iter()
    }
}

#[inline]
fn param<'a>(cur: &mut Cursor<'a>) -> Result<Param<'a>, ViewError> {
    let name = cur.token().map_err(|e| ViewError::new(Part::Param, e.at))?;
    let value = if cur.eat_sep(b'=') {
        let vstart = cur.pos();
        match cur.peek() {
            Some(b'"') => {
                cur.quoted_string()?;
            }
            Some(b'[') => {
                let close = memchr::memchr(b']', cur.rest()).ok_or(cur.err(Part::Param))?;
                if crate::uri::parse_ipv6(&cur.rest()[1..close]).is_none() {
                    return Err(cur.err(Part::Param));
                }
                cur.advance(close + 1);
            }
            _ => {
                if cur.take_class(&GEN_VALUE).is_empty() {
                    return Err(cur.err(Part::Param));
                }
            }
        }
        Some(cur.slice(vstart, cur.pos()))
    } else {
        None
    };
    Ok(Param { name, value })
}

/// Iterator over validated [`Params`].
#[derive(Clone, Debug)]
pub struct ParamIter<'a> {
    cur: Cursor<'a>,
}

impl<'a> Iterator for ParamIter<'a> {
    type Item = Param<'a>;
    fn next(&mut self) -> Option<Param<'a>> {
        if !self.cur.eat_sep(b';') {
            return None;
        }
        param(&mut self.cur).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_with_lws_and_quotes() {
        let s = b" ;   tag    = 1918181833n ; q = 0.33;+sip.instance=\"<urn:uuid:1>\";lr";
        let mut c = Cursor::new(s);
        let p = Params::parse(&mut c).unwrap();
        assert!(c.at_end());
        let v: Vec<_> = p.iter().collect();
        assert_eq!(v.len(), 4);
        assert_eq!(v[0].value, Some(&b"1918181833n"[..]));
        assert_eq!(p.get("Q").and_then(|p| p.value), Some(&b"0.33"[..]));
        assert_eq!(
            p.get("+sip.instance").and_then(|p| p.unquoted()),
            Some(&b"<urn:uuid:1>"[..])
        );
        assert!(p.has("lr"));
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 3000, .. Default::default() })]

        /// Wherever the one-scan path accepts parameters, `parse_with` gives the same ones.
        #[test]
        fn canonical_params_agree_with_the_grammar(s in "(;[a-zA-Z\\-]{0,6}(=[a-z0-9.:\\[\\]\"\\- ]{0,8})?){0,4}") {
            let mut a = Vec::new();
            if let Some(fast) = Params::parse_canonical(s.as_bytes(), |n, v| { a.push((n, v)); Ok(()) }) {
                let mut b = Vec::new();
                let mut cur = Cursor::new(s.as_bytes());
                let slow = Params::parse_with(&mut cur, |p| { b.push((p.name, p.value)); Ok(()) });
                proptest::prop_assert_eq!(Ok(fast), slow);
                proptest::prop_assert!(cur.at_end());
                proptest::prop_assert_eq!(a, b);
            }
        }
    }

    #[test]
    fn empty_params_are_errors() {
        assert!(Params::parse(&mut Cursor::new(b";;")).is_err());
        assert!(Params::parse(&mut Cursor::new(b";a=")).is_err());
        assert!(Params::parse(&mut Cursor::new(b";a=\"open")).is_err());
    }
}
