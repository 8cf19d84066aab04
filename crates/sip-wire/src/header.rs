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

/// Lowers one octet of a header name by setting bit 0x20. For ASCII letters that is
/// `to_ascii_lowercase`; other token characters may map elsewhere, but no other token
/// character maps onto a letter or `-`, so a name matches a known (lowercase) name exactly when
/// it is that name in some letter case.
#[inline]
pub(crate) fn lower_name_byte(b: u8) -> u8 {
    b | 0x20
}

impl HeaderName {
    /// Resolves a header name as written on the wire: case-insensitive (RFC 3261 §7.3.1), with
    /// compact forms (RFC 3261 §7.3.3 and the RFCs that registered later ones).
    pub fn from_bytes(name: &[u8]) -> Self {
        let mut lower = [0u8; MAX_KNOWN_NAME];
        match lower.get_mut(..name.len()) {
            Some(dst) => {
                for (d, &b) in dst.iter_mut().zip(name) {
                    if !crate::scan::TOKEN[usize::from(b)] {
                        return Self::Other;
                    }
                    *d = lower_name_byte(b);
                }
                Self::from_lower(dst)
            }
            None => Self::Other,
        }
    }

    /// Resolves a name already lowered with `| 0x20` (exact for the letters and `-` that make
    /// up every known name; see [`lower_name_byte`]).
    pub(crate) fn from_lower(lower: &[u8]) -> Self {
        use HeaderName::*;
        // Hand-written dispatch on length, then byte-string compares the compiler turns into a
        // few integer compares: a hash map would cost more than this for names this short.
        // The unit test below checks that every known header is reachable from here.
        match lower.len() {
            1 => Self::from_compact(lower[0]),
            2 => match lower {
                b"to" => To,
                _ => Other,
            },
            3 => match lower {
                b"via" => Via,
                _ => Other,
            },
            4 => match lower {
                b"cseq" => CSeq,
                b"date" => Date,
                b"from" => From,
                b"path" => Path,
                b"rack" => RAck,
                b"rseq" => RSeq,
                _ => Other,
            },
            5 => match lower {
                b"allow" => Allow,
                b"event" => Event,
                b"route" => Route,
                _ => Other,
            },
            6 => match lower {
                b"accept" => Accept,
                b"min-se" => MinSe,
                b"reason" => Reason,
                b"server" => Server,
                _ => Other,
            },
            7 => match lower {
                b"call-id" => CallId,
                b"contact" => Contact,
                b"expires" => Expires,
                b"privacy" => Privacy,
                b"require" => Require,
                b"subject" => Subject,
                b"warning" => Warning,
                _ => Other,
            },
            8 => match lower {
                b"identity" => Identity,
                b"priority" => Priority,
                b"refer-to" => ReferTo,
                b"replaces" => Replaces,
                b"reply-to" => ReplyTo,
                b"sip-etag" => SipEtag,
                _ => Other,
            },
            9 => match lower {
                b"call-info" => CallInfo,
                b"supported" => Supported,
                b"timestamp" => Timestamp,
                _ => Other,
            },
            10 => match lower {
                b"alert-info" => AlertInfo,
                b"error-info" => ErrorInfo,
                b"flow-timer" => FlowTimer,
                b"user-agent" => UserAgent,
                _ => Other,
            },
            11 => match lower {
                b"in-reply-to" => InReplyTo,
                b"min-expires" => MinExpires,
                b"referred-by" => ReferredBy,
                b"retry-after" => RetryAfter,
                b"unsupported" => Unsupported,
                _ => Other,
            },
            12 => match lower {
                b"allow-events" => AllowEvents,
                b"content-type" => ContentType,
                b"max-forwards" => MaxForwards,
                b"mime-version" => MimeVersion,
                b"organization" => Organization,
                b"record-route" => RecordRoute,
                b"sip-if-match" => SipIfMatch,
                _ => Other,
            },
            13 => match lower {
                b"authorization" => Authorization,
                b"proxy-require" => ProxyRequire,
                b"service-route" => ServiceRoute,
                _ => Other,
            },
            14 => match lower {
                b"accept-contact" => AcceptContact,
                b"content-length" => ContentLength,
                b"reject-contact" => RejectContact,
                _ => Other,
            },
            15 => match lower {
                b"accept-encoding" => AcceptEncoding,
                b"accept-language" => AcceptLanguage,
                b"session-expires" => SessionExpires,
                _ => Other,
            },
            16 => match lower {
                b"content-encoding" => ContentEncoding,
                b"content-language" => ContentLanguage,
                b"www-authenticate" => WwwAuthenticate,
                _ => Other,
            },
            18 => match lower {
                b"proxy-authenticate" => ProxyAuthenticate,
                b"subscription-state" => SubscriptionState,
                _ => Other,
            },
            19 => match lower {
                b"authentication-info" => AuthenticationInfo,
                b"content-disposition" => ContentDisposition,
                b"p-asserted-identity" => PAssertedIdentity,
                b"proxy-authorization" => ProxyAuthorization,
                b"request-disposition" => RequestDisposition,
                _ => Other,
            },
            20 => match lower {
                b"p-preferred-identity" => PPreferredIdentity,
                _ => Other,
            },
            _ => Other,
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
