//! Header names: the known ones as an enum, resolved case-insensitively with compact forms.

/// Declares the known headers once: variant, canonical name, compact form, whether the value is
/// a comma-separated list (RFC 3261 §7.3.1), and whether the header may appear only once.
macro_rules! headers {
    ($( $(#[$doc:meta])* $var:ident = $name:literal, $compact:expr, $list:expr, $single:expr; )*) => {
        /// A header name resolved to a known header, or [`HeaderName::Other`].
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[repr(u8)]
        pub enum HeaderName {
            $( $(#[$doc])* $var, )*
            /// Any header this enum does not name; its name is kept as written.
            Other,
        }

        impl HeaderName {
            /// Every known header, in declaration order.
            pub const ALL: &'static [HeaderName] = &[$(HeaderName::$var,)*];

            /// The canonical spelling, as sipedge writes it.
            pub fn as_str(self) -> &'static str {
                match self { $( Self::$var => $name, )* Self::Other => "" }
            }

            /// The one-letter compact form, where one is registered.
            pub fn compact(self) -> Option<u8> {
                match self { $( Self::$var => $compact, )* Self::Other => None }
            }

            /// Whether the value is a comma-separated list whose elements may also be split over
            /// several header lines (RFC 3261 §7.3.1). Headers whose values contain commas for
            /// other reasons (Authorization, WWW-Authenticate, Date, ...) are not lists.
            pub fn is_list(self) -> bool {
                match self { $( Self::$var => $list, )* Self::Other => false }
            }

            /// Whether at most one value may appear in a message.
            pub fn is_single(self) -> bool {
                match self { $( Self::$var => $single, )* Self::Other => false }
            }

        }
    };
}

headers! {
    /// Accept (RFC 3261 §20.1).
    Accept = "Accept", None, true, false;
    /// Accept-Contact (RFC 3841), compact `a`.
    AcceptContact = "Accept-Contact", Some(b'a'), true, false;
    /// Accept-Encoding (RFC 3261 §20.2).
    AcceptEncoding = "Accept-Encoding", None, true, false;
    /// Accept-Language (RFC 3261 §20.3).
    AcceptLanguage = "Accept-Language", None, true, false;
    /// Alert-Info (RFC 3261 §20.4).
    AlertInfo = "Alert-Info", None, true, false;
    /// Allow (RFC 3261 §20.5).
    Allow = "Allow", None, true, false;
    /// Allow-Events (RFC 6665), compact `u`.
    AllowEvents = "Allow-Events", Some(b'u'), true, false;
    /// Authentication-Info (RFC 3261 §20.6).
    AuthenticationInfo = "Authentication-Info", None, false, false;
    /// Authorization (RFC 3261 §20.7).
    Authorization = "Authorization", None, false, false;
    /// Call-ID (RFC 3261 §20.8), compact `i`.
    CallId = "Call-ID", Some(b'i'), false, true;
    /// Call-Info (RFC 3261 §20.9).
    CallInfo = "Call-Info", None, true, false;
    /// Contact (RFC 3261 §20.10), compact `m`.
    Contact = "Contact", Some(b'm'), true, false;
    /// Content-Disposition (RFC 3261 §20.11).
    ContentDisposition = "Content-Disposition", None, false, true;
    /// Content-Encoding (RFC 3261 §20.12), compact `e`.
    ContentEncoding = "Content-Encoding", Some(b'e'), true, false;
    /// Content-Language (RFC 3261 §20.13).
    ContentLanguage = "Content-Language", None, true, false;
    /// Content-Length (RFC 3261 §20.14), compact `l`.
    ContentLength = "Content-Length", Some(b'l'), false, true;
    /// Content-Type (RFC 3261 §20.15), compact `c`.
    ContentType = "Content-Type", Some(b'c'), false, true;
    /// CSeq (RFC 3261 §20.16).
    CSeq = "CSeq", None, false, true;
    /// Date (RFC 3261 §20.17).
    Date = "Date", None, false, true;
    /// Error-Info (RFC 3261 §20.18).
    ErrorInfo = "Error-Info", None, true, false;
    /// Event (RFC 6665), compact `o`.
    Event = "Event", Some(b'o'), false, true;
    /// Expires (RFC 3261 §20.19).
    Expires = "Expires", None, false, true;
    /// Flow-Timer (RFC 5626 §11.2).
    FlowTimer = "Flow-Timer", None, false, true;
    /// From (RFC 3261 §20.20), compact `f`.
    From = "From", Some(b'f'), false, true;
    /// Identity (RFC 8224), compact `y`.
    Identity = "Identity", Some(b'y'), false, false;
    /// In-Reply-To (RFC 3261 §20.21).
    InReplyTo = "In-Reply-To", None, true, false;
    /// Max-Forwards (RFC 3261 §20.22).
    MaxForwards = "Max-Forwards", None, false, true;
    /// MIME-Version (RFC 3261 §20.24).
    MimeVersion = "MIME-Version", None, false, true;
    /// Min-Expires (RFC 3261 §20.23).
    MinExpires = "Min-Expires", None, false, true;
    /// Min-SE (RFC 4028).
    MinSe = "Min-SE", None, false, true;
    /// Organization (RFC 3261 §20.25).
    Organization = "Organization", None, false, true;
    /// P-Asserted-Identity (RFC 3325).
    PAssertedIdentity = "P-Asserted-Identity", None, true, false;
    /// P-Preferred-Identity (RFC 3325).
    PPreferredIdentity = "P-Preferred-Identity", None, true, false;
    /// Path (RFC 3327).
    Path = "Path", None, true, false;
    /// Priority (RFC 3261 §20.26).
    Priority = "Priority", None, false, true;
    /// Privacy (RFC 3323).
    Privacy = "Privacy", None, false, false;
    /// Proxy-Authenticate (RFC 3261 §20.27).
    ProxyAuthenticate = "Proxy-Authenticate", None, false, false;
    /// Proxy-Authorization (RFC 3261 §20.28).
    ProxyAuthorization = "Proxy-Authorization", None, false, false;
    /// Proxy-Require (RFC 3261 §20.29).
    ProxyRequire = "Proxy-Require", None, true, false;
    /// RAck (RFC 3262).
    RAck = "RAck", None, false, true;
    /// Reason (RFC 3326).
    Reason = "Reason", None, true, false;
    /// Record-Route (RFC 3261 §20.30).
    RecordRoute = "Record-Route", None, true, false;
    /// Refer-To (RFC 3515), compact `r`.
    ReferTo = "Refer-To", Some(b'r'), false, true;
    /// Referred-By (RFC 3892), compact `b`.
    ReferredBy = "Referred-By", Some(b'b'), false, true;
    /// Reject-Contact (RFC 3841), compact `j`.
    RejectContact = "Reject-Contact", Some(b'j'), true, false;
    /// Replaces (RFC 3891).
    Replaces = "Replaces", None, false, true;
    /// Reply-To (RFC 3261 §20.31).
    ReplyTo = "Reply-To", None, false, true;
    /// Request-Disposition (RFC 3841), compact `d`.
    RequestDisposition = "Request-Disposition", Some(b'd'), true, false;
    /// Require (RFC 3261 §20.32).
    Require = "Require", None, true, false;
    /// Retry-After (RFC 3261 §20.33).
    RetryAfter = "Retry-After", None, false, true;
    /// Route (RFC 3261 §20.34).
    Route = "Route", None, true, false;
    /// RSeq (RFC 3262).
    RSeq = "RSeq", None, false, true;
    /// Server (RFC 3261 §20.35).
    Server = "Server", None, false, false;
    /// Service-Route (RFC 3608).
    ServiceRoute = "Service-Route", None, true, false;
    /// Session-Expires (RFC 4028), compact `x`.
    SessionExpires = "Session-Expires", Some(b'x'), false, true;
    /// SIP-ETag (RFC 3903).
    SipEtag = "SIP-ETag", None, false, true;
    /// SIP-If-Match (RFC 3903).
    SipIfMatch = "SIP-If-Match", None, false, true;
    /// Subject (RFC 3261 §20.36), compact `s`.
    Subject = "Subject", Some(b's'), false, true;
    /// Subscription-State (RFC 6665).
    SubscriptionState = "Subscription-State", None, false, true;
    /// Supported (RFC 3261 §20.37), compact `k`.
    Supported = "Supported", Some(b'k'), true, false;
    /// Timestamp (RFC 3261 §20.38).
    Timestamp = "Timestamp", None, false, true;
    /// To (RFC 3261 §20.39), compact `t`.
    To = "To", Some(b't'), false, true;
    /// Unsupported (RFC 3261 §20.40).
    Unsupported = "Unsupported", None, true, false;
    /// User-Agent (RFC 3261 §20.41).
    UserAgent = "User-Agent", None, false, false;
    /// Via (RFC 3261 §20.42), compact `v`.
    Via = "Via", Some(b'v'), true, false;
    /// Warning (RFC 3261 §20.43).
    Warning = "Warning", None, true, false;
    /// WWW-Authenticate (RFC 3261 §20.44).
    WwwAuthenticate = "WWW-Authenticate", None, false, false;
}

/// Longer than the longest known header name (`P-Preferred-Identity`, 20 octets): any name this
/// long or longer is [`HeaderName::Other`] without a compare.
pub(crate) const MAX_KNOWN_NAME: usize = 24;

/// Multiplier of the perfect hash over the known names (found by search; the unit test
/// `long_and_compact_forms_resolve` checks every known name lands on itself).
const NAME_HASH: u32 = 0x14d3_dd0d;

/// The known header at each value of the perfect hash, [`HeaderName::Other`] elsewhere.
#[rustfmt::skip]
static NAME_TABLE: [HeaderName; 256] = {
    use HeaderName::*;
    [
    Other, Other, From, Other, Other, Other, Other, Other,
    Other, Other, Other, Other, Other, Other, Other, SipIfMatch,
    Other, MinExpires, Allow, Other, Other, Other, Other, Other,
    ErrorInfo, Other, AllowEvents, Other, Other, Other, Other, Other,
    Other, Other, Other, Other, Other, Other, Other, Other,
    To, Other, Other, Other, Other, Other, Other, Other,
    Other, RecordRoute, Subject, Other, Other, Other, Via, Other,
    Other, Server, Other, Other, Other, Other, Other, Other,
    Other, ReferredBy, PPreferredIdentity, Other, WwwAuthenticate, RetryAfter, RAck, Other,
    Other, ReferTo, Other, Other, Other, Other, Other, RejectContact,
    Contact, Other, Other, Other, Other, Other, Other, Other,
    ContentType, Other, CallInfo, CallId, Other, Other, Authorization, Path,
    Other, Other, Other, Other, Other, MaxForwards, Other, Other,
    Other, Other, Other, RSeq, Other, Other, Accept, ContentDisposition,
    Other, Other, Other, ProxyRequire, Other, Other, Other, CSeq,
    Other, Other, Other, Other, ProxyAuthorization, Event, Other, InReplyTo,
    Identity, Other, Other, Other, Other, ServiceRoute, Require, Other,
    Other, SubscriptionState, Other, Other, ContentLanguage, Other, Other, UserAgent,
    ReplyTo, Other, Other, Other, Other, Supported, Other, SessionExpires,
    Other, Other, Other, Other, Other, Expires, Other, Other,
    Other, Other, Other, Other, Other, Organization, Other, Other,
    Other, Other, AcceptLanguage, Other, Other, MinSe, Other, Other,
    Other, ContentLength, Other, Other, ProxyAuthenticate, Other, ContentEncoding, Other,
    FlowTimer, Other, Other, Other, Route, Other, Other, Other,
    AuthenticationInfo, Other, Other, Other, Date, Other, SipEtag, Other,
    Other, Other, Other, PAssertedIdentity, Other, Other, Privacy, Other,
    Other, Other, Other, Other, AcceptEncoding, Warning, AcceptContact, Other,
    Other, Other, Other, Priority, Other, Other, RequestDisposition, Other,
    Other, AlertInfo, MimeVersion, Replaces, Other, Unsupported, Other, Other,
    Other, Other, Other, Other, Other, Other, Other, Other,
    Timestamp, Other, Other, Other, Other, Other, Other, Reason,
    Other, Other, Other, Other, Other, Other, Other, Other,
    ]
};

/// Whether `name` (token characters) lowered with [`lower_name_byte`] equals `lower`.
#[inline]
fn eq_lowered(name: &[u8], lower: &[u8]) -> bool {
    // Whole-word compares with overlapping loads (fixed-size copies compile to single loads);
    // ORing 0x20 lowers letters, and only letters and `-` occur in `lower`. The only other
    // octet that lowers onto a letter or `-` is CR (onto `-`), and a name never holds one (see
    // `from_token`).
    fn w8(s: &[u8], at: usize) -> u64 {
        let mut w = [0u8; 8];
        w.copy_from_slice(&s[at..at + 8]);
        u64::from_le_bytes(w)
    }
    fn w4(s: &[u8], at: usize) -> u32 {
        let mut w = [0u8; 4];
        w.copy_from_slice(&s[at..at + 4]);
        u32::from_le_bytes(w)
    }
    fn w2(s: &[u8], at: usize) -> u16 {
        u16::from_le_bytes([s[at], s[at + 1]])
    }
    let n = name.len();
    if n != lower.len() {
        return false;
    }
    match n {
        0 => true,
        1 => lower_name_byte(name[0]) == lower[0],
        2..=3 => {
            w2(name, 0) | 0x2020 == w2(lower, 0) && w2(name, n - 2) | 0x2020 == w2(lower, n - 2)
        }
        4..=7 => {
            w4(name, 0) | 0x2020_2020 == w4(lower, 0)
                && w4(name, n - 4) | 0x2020_2020 == w4(lower, n - 4)
        }
        _ => {
            const LOWER: u64 = 0x2020_2020_2020_2020;
            let mut i = 0;
            while i + 8 <= n {
                if w8(name, i) | LOWER != w8(lower, i) {
                    return false;
                }
                i += 8;
            }
            i == n || w8(name, n - 8) | LOWER == w8(lower, n - 8)
        }
    }
}

/// Lowers one octet of a header name by setting bit 0x20. For ASCII letters that is
/// `to_ascii_lowercase`; other token characters may map elsewhere, but no other token
/// character maps onto a letter or `-`, so a name matches a known (lowercase) name exactly when
/// it is that name in some letter case.
#[inline]
pub(crate) const fn lower_name_byte(b: u8) -> u8 {
    b | 0x20
}

impl HeaderName {
    /// Resolves a header name as written on the wire: case-insensitive (RFC 3261 §7.3.1), with
    /// compact forms (RFC 3261 §7.3.3 and the RFCs that registered later ones).
    pub fn from_bytes(name: &[u8]) -> Self {
        if name.iter().all(|&b| crate::scan::TOKEN[usize::from(b)]) {
            Self::from_token(name)
        } else {
            Self::Other
        }
    }

    /// Resolves a header name that holds no CR (the indexer's names end before the line end;
    /// [`HeaderName::from_bytes`] checks `token` first). A name that resolves to a known header
    /// is exactly that name in some letter case, so a `token`; [`HeaderName::Other`] says
    /// nothing about the characters.
    ///
    /// Hand-written instead of a hash map: a perfect hash of the length and three letters picks
    /// the one candidate from a 256-entry table, and one compare confirms it.
    #[inline]
    pub(crate) fn from_token(name: &[u8]) -> Self {
        let n = name.len();
        if n < 2 {
            return match name {
                [c] => Self::from_compact(lower_name_byte(*c)),
                _ => HeaderName::Other,
            };
        }
        if n > MAX_KNOWN_NAME {
            return HeaderName::Other;
        }
        let third = name[if n > 2 { 2 } else { 1 }];
        let key = (n as u32) << 24
            | u32::from(lower_name_byte(name[0])) << 16
            | u32::from(lower_name_byte(third)) << 8
            | u32::from(lower_name_byte(name[n - 1]));
        let candidate = NAME_TABLE[(key.wrapping_mul(NAME_HASH) >> 24) as usize];
        if candidate != HeaderName::Other && eq_lowered(name, candidate.lower()) {
            candidate
        } else {
            HeaderName::Other
        }
    }

    /// The canonical name in lower case.
    fn lower(self) -> &'static [u8] {
        match self {
            Self::Accept => b"accept",
            Self::AcceptContact => b"accept-contact",
            Self::AcceptEncoding => b"accept-encoding",
            Self::AcceptLanguage => b"accept-language",
            Self::AlertInfo => b"alert-info",
            Self::Allow => b"allow",
            Self::AllowEvents => b"allow-events",
            Self::AuthenticationInfo => b"authentication-info",
            Self::Authorization => b"authorization",
            Self::CallId => b"call-id",
            Self::CallInfo => b"call-info",
            Self::Contact => b"contact",
            Self::ContentDisposition => b"content-disposition",
            Self::ContentEncoding => b"content-encoding",
            Self::ContentLanguage => b"content-language",
            Self::ContentLength => b"content-length",
            Self::ContentType => b"content-type",
            Self::CSeq => b"cseq",
            Self::Date => b"date",
            Self::ErrorInfo => b"error-info",
            Self::Event => b"event",
            Self::Expires => b"expires",
            Self::FlowTimer => b"flow-timer",
            Self::From => b"from",
            Self::Identity => b"identity",
            Self::InReplyTo => b"in-reply-to",
            Self::MaxForwards => b"max-forwards",
            Self::MimeVersion => b"mime-version",
            Self::MinExpires => b"min-expires",
            Self::MinSe => b"min-se",
            Self::Organization => b"organization",
            Self::PAssertedIdentity => b"p-asserted-identity",
            Self::PPreferredIdentity => b"p-preferred-identity",
            Self::Path => b"path",
            Self::Priority => b"priority",
            Self::Privacy => b"privacy",
            Self::ProxyAuthenticate => b"proxy-authenticate",
            Self::ProxyAuthorization => b"proxy-authorization",
            Self::ProxyRequire => b"proxy-require",
            Self::RAck => b"rack",
            Self::Reason => b"reason",
            Self::RecordRoute => b"record-route",
            Self::ReferTo => b"refer-to",
            Self::ReferredBy => b"referred-by",
            Self::RejectContact => b"reject-contact",
            Self::Replaces => b"replaces",
            Self::ReplyTo => b"reply-to",
            Self::RequestDisposition => b"request-disposition",
            Self::Require => b"require",
            Self::RetryAfter => b"retry-after",
            Self::Route => b"route",
            Self::RSeq => b"rseq",
            Self::Server => b"server",
            Self::ServiceRoute => b"service-route",
            Self::SessionExpires => b"session-expires",
            Self::SipEtag => b"sip-etag",
            Self::SipIfMatch => b"sip-if-match",
            Self::Subject => b"subject",
            Self::SubscriptionState => b"subscription-state",
            Self::Supported => b"supported",
            Self::Timestamp => b"timestamp",
            Self::To => b"to",
            Self::Unsupported => b"unsupported",
            Self::UserAgent => b"user-agent",
            Self::Via => b"via",
            Self::Warning => b"warning",
            Self::WwwAuthenticate => b"www-authenticate",
            Self::Other => b"",
        }
    }

    fn from_compact(c: u8) -> Self {
        match c {
            b'a' => Self::AcceptContact,
            b'b' => Self::ReferredBy,
            b'c' => Self::ContentType,
            b'd' => Self::RequestDisposition,
            b'e' => Self::ContentEncoding,
            b'f' => Self::From,
            b'i' => Self::CallId,
            b'j' => Self::RejectContact,
            b'k' => Self::Supported,
            b'l' => Self::ContentLength,
            b'm' => Self::Contact,
            b'o' => Self::Event,
            b'r' => Self::ReferTo,
            b's' => Self::Subject,
            b't' => Self::To,
            b'u' => Self::AllowEvents,
            b'v' => Self::Via,
            b'x' => Self::SessionExpires,
            b'y' => Self::Identity,
            _ => Self::Other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_and_compact_forms_resolve() {
        for &h in HeaderName::ALL {
            assert_eq!(HeaderName::from_bytes(h.as_str().as_bytes()), h);
            assert_eq!(
                HeaderName::from_bytes(h.as_str().to_ascii_uppercase().as_bytes()),
                h
            );
            if let Some(c) = h.compact() {
                assert_eq!(HeaderName::from_bytes(&[c]), h);
                assert_eq!(HeaderName::from_bytes(&[c.to_ascii_uppercase()]), h);
            }
        }
        assert_eq!(
            HeaderName::from_bytes(b"MaX-fOrWaRdS"),
            HeaderName::MaxForwards
        );
        assert_eq!(HeaderName::from_bytes(b"C%6Fntact"), HeaderName::Other);
        assert_eq!(HeaderName::from_bytes(b"n"), HeaderName::Other);
        assert_eq!(HeaderName::from_bytes(b"Via_"), HeaderName::Other);
        assert_eq!(HeaderName::from_bytes(b"Call\x0dID"), HeaderName::Other);
        assert_eq!(
            HeaderName::from_bytes(b"P-Preferred-Identity-and-more"),
            HeaderName::Other
        );
    }
}
