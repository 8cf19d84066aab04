//! Scalar and small structured header values: CSeq, Max-Forwards, Expires, Call-ID, option-tag
//! lists and dates.

use crate::error::{Part, ViewError};
use crate::method::Method;
use crate::scan::{parse_decimal, trim_lws, Cursor, TOKEN, WORD};

/// `CSeq = 1*DIGIT LWS Method` (RFC 3261 §20.16); the number is below 2**31 when we create it
/// and must fit 32 bits when we receive it (RFC 4475 §3.1.2.4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CSeq<'a> {
    /// The sequence number.
    pub seq: u32,
    /// The method.
    pub method: Method<'a>,
}

impl<'a> CSeq<'a> {
    /// Parses a CSeq value.
    pub fn parse(s: &'a [u8]) -> Result<Self, ViewError> {
        let mut cur = Cursor::new(s);
        cur.skip_lws();
        let digits = cur.take_class(&DIGITS);
        let seq = parse_decimal(digits, u64::from(u32::MAX))
            .ok_or(ViewError::new(Part::Number, 0))? as u32;
        if !cur.skip_lws() {
            return Err(cur.err(Part::Method));
        }
        let m = cur
            .token()
            .map_err(|e| ViewError::new(Part::Method, e.at))?;
        cur.expect_end()?;
        Ok(CSeq {
            seq,
            method: Method::from_bytes(m),
        })
    }
}

static DIGITS: [bool; 256] = {
    let mut t = [false; 256];
    let mut c = b'0';
    while c <= b'9' {
        t[c as usize] = true;
        c += 1;
    }
    t
};

/// `Max-Forwards = 1*DIGIT`, 0 to 255 (RFC 3261 §20.22; RFC 4475 §3.1.2.4 rejects 300).
pub fn parse_max_forwards(s: &[u8]) -> Result<u8, ViewError> {
    parse_decimal(trim_lws(s), 255)
        .map(|v| v as u8)
        .ok_or(ViewError::new(Part::Number, 0))
}

/// `delta-seconds = 1*DIGIT`, within 32 bits (RFC 3261 §20.19, §20.33).
pub fn parse_delta_seconds(s: &[u8]) -> Result<u32, ViewError> {
    parse_decimal(trim_lws(s), u64::from(u32::MAX))
        .map(|v| v as u32)
        .ok_or(ViewError::new(Part::Number, 0))
}

/// `callid = word [ "@" word ]` (RFC 3261 §20.8).
pub fn check_call_id(s: &[u8]) -> Result<&[u8], ViewError> {
    let v = trim_lws(s);
    let (a, b) = match memchr::memchr(b'@', v) {
        Some(i) => (&v[..i], Some(&v[i + 1..])),
        None => (v, None),
    };
    let word = |w: &[u8]| !w.is_empty() && w.iter().all(|&c| WORD[c as usize]);
    if word(a) && b.is_none_or(word) {
        Ok(v)
    } else {
        Err(ViewError::new(Part::CallId, 0))
    }
}

/// One option-tag element (Require, Proxy-Require, Supported, Unsupported): a token.
pub fn parse_option_tag(s: &[u8]) -> Result<&[u8], ViewError> {
    let v = trim_lws(s);
    if !v.is_empty() && v.iter().all(|&c| TOKEN[c as usize]) {
        Ok(v)
    } else {
        Err(ViewError::new(Part::Token, 0))
    }
}

/// `Retry-After = delta-seconds [ comment ] *( SEMI retry-param )` (RFC 3261 §20.33): the
/// seconds, which must fit 32 bits (RFC 4475 §3.1.2.5).
pub fn parse_retry_after(s: &[u8]) -> Result<u32, ViewError> {
    let v = trim_lws(s);
    let end = v
        .iter()
        .position(|b| !b.is_ascii_digit())
        .unwrap_or(v.len());
    parse_delta_seconds(&v[..end])
}

/// Checks `warning-value = warn-code SP warn-agent SP warn-text`: the code is three digits
/// (RFC 3261 §20.43; RFC 4475 §3.1.2.5 has a four-digit one).
pub fn check_warning(s: &[u8]) -> Result<(), ViewError> {
    let v = trim_lws(s);
    if v.len() > 4 && v[..3].iter().all(u8::is_ascii_digit) && v[3] == b' ' {
        Ok(())
    } else {
        Err(ViewError::new(Part::Number, 0))
    }
}

/// Checks `rfc1123-date = wkday "," SP date1 SP time SP "GMT"` (RFC 3261 §20.17: only GMT;
/// RFC 4475 §3.1.2.12 has EST).
pub fn check_date(s: &[u8]) -> Result<(), ViewError> {
    let v = trim_lws(s);
    let bad = Err(ViewError::new(Part::Date, 0));
    // "Sat, 13 Nov 2010 23:29:00 GMT" is exactly 29 octets.
    if v.len() != 29 {
        return bad;
    }
    const DAYS: [&[u8]; 7] = [b"Mon", b"Tue", b"Wed", b"Thu", b"Fri", b"Sat", b"Sun"];
    const MONTHS: [&[u8]; 12] = [
        b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov",
        b"Dec",
    ];
    let digits = |r: core::ops::Range<usize>| v[r].iter().all(u8::is_ascii_digit);
    let ok = DAYS.contains(&&v[0..3])
        && &v[3..5] == b", "
        && digits(5..7)
        && v[7] == b' '
        && MONTHS.contains(&&v[8..11])
        && v[11] == b' '
        && digits(12..16)
        && v[16] == b' '
        && digits(17..19)
        && v[19] == b':'
        && digits(20..22)
        && v[22] == b':'
        && digits(23..25)
        && &v[25..] == b" GMT";
    if ok {
        Ok(())
    } else {
        bad
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cseq() {
        let c = CSeq::parse(b"0009\r\n  INVITE").unwrap();
        assert_eq!(c.seq, 9);
        assert_eq!(c.method, Method::Invite);
        assert!(CSeq::parse(b"36893488147419103232 INVITE").is_err());
        assert!(CSeq::parse(b"1INVITE").is_err());
        assert!(CSeq::parse(b"1 INVITE x").is_err());
    }

    #[test]
    fn scalars() {
        assert_eq!(parse_max_forwards(b"0068"), Ok(68));
        assert!(parse_max_forwards(b"300").is_err());
        assert!(parse_delta_seconds(b"10000000000000000000000").is_err());
        assert_eq!(parse_retry_after(b"18000;duration=3600"), Ok(18000));
        assert!(check_warning(b"1812 overture \"In Progress\"").is_err());
        assert!(check_warning(b"399 example.com \"x\"").is_ok());
        assert!(check_date(b"Sat, 13 Nov 2010 23:29:00 GMT").is_ok());
        assert!(check_date(b"Fri, 01 Jan 2010 16:00:00 EST").is_err());
        assert!(check_call_id(b"intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{").is_ok());
        assert!(check_call_id(b"a b").is_err());
        assert!(check_call_id(b"").is_err());
    }
}
