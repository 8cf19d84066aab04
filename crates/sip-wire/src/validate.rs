//! The checks an RFC 3261 element applies before acting on a message (§8.2, §16.3 step 1,
//! §18.1.2), beyond the framing the indexer already checked. Each failure names the header and
//! the grammar element, and maps to one status (or to a silent drop for responses).

use core::fmt;

use crate::auth::Auth;
use crate::error::{Part, ViewError};
use crate::header::HeaderName;
use crate::message::Message;
use crate::name_addr::{parse_route, Contact, NameAddr};
use crate::uri::Uri;
use crate::values::{
    check_call_id, check_date, check_warning, parse_delta_seconds, parse_max_forwards,
    parse_option_tag, parse_retry_after, CSeq,
};
use crate::via::{Via, BRANCH_COOKIE};

/// What is wrong.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Problem {
    /// The SIP-Version is not 2.0 (505, RFC 3261 §8.2.6 / RFC 4475 §3.1.2.16).
    VersionNotSupported,
    /// A mandatory header is missing (RFC 3261 §8.1.1).
    Missing,
    /// A header that may appear once appears more often (RFC 4475 §3.3.8).
    Repeated,
    /// A header value does not match its grammar.
    Malformed(ViewError),
    /// The Request-URI does not match its grammar.
    RequestUri(ViewError),
    /// The Request-URI carries `?headers`, which a Request-URI may not (RFC 3261 §19.1.1).
    RequestUriHeaders,
    /// The CSeq method differs from the request method (RFC 3261 §8.1.1.5). 501 when the
    /// request method is unknown (RFC 4475 §3.1.2.18 prefers it), else 400.
    CSeqMismatch {
        /// Whether the request method is one we know.
        known_method: bool,
    },
    /// The top Via branch is exactly the magic cookie and identifies no transaction
    /// (RFC 4475 §3.2.1).
    EmptyBranch,
}

/// A message that failed validation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Invalid {
    /// What is wrong.
    pub problem: Problem,
    /// In which header, when it is about one.
    pub header: Option<HeaderName>,
    /// Whether the message is a request (answered) or a response (dropped).
    pub request: bool,
}

impl Invalid {
    /// The status to answer with, `None` for a response (dropped, RFC 3261 §16.7 / §18.1.2).
    pub fn status(&self) -> Option<u16> {
        if !self.request {
            return None;
        }
        Some(match self.problem {
            Problem::VersionNotSupported => 505,
            Problem::CSeqMismatch {
                known_method: false,
            } => 501,
            _ => 400,
        })
    }
}

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let h = self.header.map_or("extension header", |h| h.as_str());
        match self.problem {
            Problem::VersionNotSupported => write!(f, "SIP version not supported"),
            Problem::Missing => write!(f, "missing {h} header"),
            Problem::Repeated => write!(f, "{h} header appears more than once"),
            Problem::Malformed(e) => write!(f, "{h}: {e}"),
            Problem::RequestUri(e) => write!(f, "Request-URI: {e}"),
            Problem::RequestUriHeaders => write!(f, "Request-URI carries headers"),
            Problem::CSeqMismatch { .. } => {
                write!(f, "CSeq method does not match the request method")
            }
            Problem::EmptyBranch => write!(f, "Via branch is only the magic cookie"),
        }
    }
}

impl std::error::Error for Invalid {}

impl Message {
    /// Checks the message as an RFC 3261 proxy must before forwarding or answering it.
    ///
    /// Requests: version 2.0; a well-formed Request-URI without headers; To, From, CSeq,
    /// Call-ID and Via present (Max-Forwards may be absent: a proxy inserts it, RFC 3261 §16.6
    /// step 3, RFC 4475 §3.4.1); single-valued headers once; CSeq method equal to the request
    /// method; every header whose grammar is known well formed. Responses: the same header
    /// checks, and any failure means drop.
    pub fn validate(&self) -> Result<(), Invalid> {
        let request = self.is_request();
        let fail = |problem, header| {
            Err(Invalid {
                problem,
                header,
                request,
            })
        };
        if !self.is_sip_2_0() {
            return fail(Problem::VersionNotSupported, None);
        }
        if let Some(uri) = self.request_uri() {
            match uri {
                Err(e) => return fail(Problem::RequestUri(e), None),
                Ok(Uri::Sip(u)) if u.headers().is_some() => {
                    return fail(Problem::RequestUriHeaders, None)
                }
                Ok(_) => {}
            }
        }
        // Mandatory headers (RFC 3261 §8.1.1, §20).
        for h in [
            HeaderName::To,
            HeaderName::From,
            HeaderName::CSeq,
            HeaderName::CallId,
            HeaderName::Via,
        ] {
            if self.header(h).is_none() {
                return fail(Problem::Missing, Some(h));
            }
        }
        // Each header line, by its grammar.
        let mut seen = [0u8; HeaderName::ALL.len()];
        for h in self.headers() {
            let name = h.name;
            if name == HeaderName::Other {
                if let Err(e) = check_text(h.value) {
                    return fail(e, None);
                }
                continue;
            }
            let n = &mut seen[name as usize];
            *n = n.saturating_add(1);
            if name.is_single() && *n > 1 {
                return fail(Problem::Repeated, Some(name));
            }
            if let Err(e) = check_value(name, h.value) {
                return fail(e, Some(name));
            }
        }
        // CSeq method (RFC 3261 §8.1.1.5; for ACK and CANCEL too, §17.1.1.3, §9.1).
        if let (Some(m), Some(Ok(cseq))) = (self.method(), self.cseq()) {
            if cseq.method != m {
                return fail(
                    Problem::CSeqMismatch {
                        known_method: m.is_known(),
                    },
                    Some(HeaderName::CSeq),
                );
            }
        }
        if let Some(Ok(via)) = self.top_via() {
            if via.branch() == Some(BRANCH_COOKIE) {
                return fail(Problem::EmptyBranch, Some(HeaderName::Via));
            }
        }
        Ok(())
    }
}

/// Checks one header line's value against its grammar.
fn check_value(name: HeaderName, value: &[u8]) -> Result<(), Problem> {
    let m = Problem::Malformed;
    let each = |f: fn(&[u8]) -> Result<(), ViewError>| -> Result<(), Problem> {
        if value.is_empty() {
            return Err(m(ViewError::new(Part::Empty, 0)));
        }
        let mut rest = value;
        loop {
            let end = crate::scan::element_end(rest);
            f(crate::scan::trim_lws(&rest[..end])).map_err(m)?;
            if end == rest.len() {
                return Ok(());
            }
            rest = &rest[end + 1..];
        }
    };
    match name {
        HeaderName::Via => each(|v| Via::parse(v).map(drop)),
        HeaderName::Contact => each(check_contact),
        HeaderName::Route
        | HeaderName::RecordRoute
        | HeaderName::Path
        | HeaderName::ServiceRoute => each(|v| parse_route(v).map(drop)),
        HeaderName::From | HeaderName::To => NameAddr::parse_strict(value).map(drop).map_err(m),
        HeaderName::CSeq => CSeq::parse(value).map(drop).map_err(m),
        HeaderName::CallId => check_call_id(value).map(drop).map_err(m),
        HeaderName::MaxForwards => parse_max_forwards(value).map(drop).map_err(m),
        HeaderName::Expires | HeaderName::MinExpires => {
            parse_delta_seconds(value).map(drop).map_err(m)
        }
        HeaderName::RetryAfter => parse_retry_after(value).map(drop).map_err(m),
        HeaderName::Warning => each(check_warning),
        HeaderName::Date => check_date(value).map_err(m),
        HeaderName::Require | HeaderName::ProxyRequire | HeaderName::Unsupported => {
            each(|v| parse_option_tag(v).map(drop))
        }
        HeaderName::Supported if !value.is_empty() => each(|v| parse_option_tag(v).map(drop)),
        HeaderName::Authorization
        | HeaderName::ProxyAuthorization
        | HeaderName::WwwAuthenticate
        | HeaderName::ProxyAuthenticate => Auth::parse(value).map(drop).map_err(m),
        // Everything else, unknown headers included, is at most `header-value = *(TEXT-UTF8char
        // / UTF8-CONT / LWS)`: no control characters, so none is forwarded (RFC 3261 §25.1).
        _ => check_text(value),
    }
}

/// `header-value = *(TEXT-UTF8char / UTF8-CONT / LWS)`: no control character but the LWS of a
/// fold.
fn check_text(value: &[u8]) -> Result<(), Problem> {
    match value
        .iter()
        .position(|&b| (b < 0x20 && !matches!(b, b'\t' | b'\r' | b'\n')) || b == 0x7f)
    {
        Some(at) => Err(Problem::Malformed(ViewError::new(Part::ControlChar, at))),
        None => Ok(()),
    }
}

/// A Contact element, with the values of `expires` (delta-seconds, RFC 3261 §20.10; RFC 4475
/// §3.1.2.4) and `q` (qvalue, RFC 3261 §20.10) checked.
fn check_contact(v: &[u8]) -> Result<(), ViewError> {
    if let Contact::Addr(a) = Contact::parse_strict(v)? {
        for p in a.params.iter() {
            let bad = || ViewError::new(Part::Param, 0);
            if p.name.eq_ignore_ascii_case(b"expires") {
                parse_delta_seconds(p.value.ok_or_else(bad)?).map_err(|_| bad())?;
            } else if p.name.eq_ignore_ascii_case(b"q") && !is_qvalue(p.value.ok_or_else(bad)?) {
                return Err(bad());
            }
        }
    }
    Ok(())
}

/// `qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )`
fn is_qvalue(v: &[u8]) -> bool {
    match v {
        [b'0'] | [b'1'] => true,
        [b'0', b'.', frac @ ..] => frac.len() <= 3 && frac.iter().all(u8::is_ascii_digit),
        [b'1', b'.', frac @ ..] => frac.len() <= 3 && frac.iter().all(|&b| b == b'0'),
        _ => false,
    }
}
