//! Errors are data: `Copy` enums naming the part that failed and where.

use core::fmt;

/// What the first line of a message looked like, so that an error can be answered (a request)
/// or dropped (a response, or something that is neither).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StartKind {
    /// The line did not start like a status line; it is treated as a request.
    Request,
    /// The line started with `SIP/`: a response, never answered.
    Response,
    /// Nothing readable: the message is dropped.
    Unknown,
}

/// Why indexing or framing a message failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// The datagram held nothing but CRLF (a keep-alive), or nothing at all.
    Empty,
    /// The message is larger than [`crate::limits::MAX_MESSAGE_SIZE`].
    TooLarge,
    /// The start line is longer than [`crate::limits::MAX_START_LINE`].
    StartLineTooLong,
    /// A header field is longer than [`crate::limits::MAX_HEADER_LINE`].
    HeaderTooLong,
    /// More header lines than [`crate::limits::MAX_HEADERS`].
    TooManyHeaders,
    /// The request line is not `Method SP Request-URI SP SIP-Version`.
    RequestLine,
    /// The method is not a token.
    Method,
    /// The Request-URI is empty or holds a control character.
    RequestUri,
    /// The SIP-Version is not `SIP/digits.digits`.
    Version,
    /// The status line is not `SIP-Version SP 3DIGIT SP Reason-Phrase`.
    StatusLine,
    /// The status code is not three digits from 100 to 699.
    StatusCode,
    /// The reason phrase holds a control character.
    ReasonPhrase,
    /// A header line starts with white space where a header name was expected.
    LeadingWhitespace,
    /// A header name is empty or holds a character outside `token`.
    HeaderName,
    /// A header line has no colon after its name.
    MissingColon,
    /// A CR not followed by LF.
    BareCr,
    /// The datagram ends inside a header line.
    Truncated,
    /// Content-Length is not a decimal number within bounds (negative, non-numeric, too big).
    ContentLength,
    /// Two Content-Length header fields disagree.
    ContentLengthConflict,
    /// A stream message has no Content-Length (RFC 3261 §18.3 makes it mandatory there).
    ContentLengthMissing,
    /// Content-Length says more octets than the datagram carries.
    BodyTruncated,
}

impl ErrorKind {
    /// A short description for logs and reason phrases.
    pub fn describe(self) -> &'static str {
        match self {
            Self::Empty => "empty message",
            Self::TooLarge => "message too large",
            Self::StartLineTooLong => "start line too long",
            Self::HeaderTooLong => "header field too long",
            Self::TooManyHeaders => "too many header fields",
            Self::RequestLine => "malformed request line",
            Self::Method => "malformed method",
            Self::RequestUri => "malformed Request-URI",
            Self::Version => "malformed SIP-Version",
            Self::StatusLine => "malformed status line",
            Self::StatusCode => "status code out of range",
            Self::ReasonPhrase => "control character in reason phrase",
            Self::LeadingWhitespace => "white space before a header name",
            Self::HeaderName => "malformed header name",
            Self::MissingColon => "header line without colon",
            Self::BareCr => "CR without LF",
            Self::Truncated => "message ends inside a header line",
            Self::ContentLength => "invalid Content-Length",
            Self::ContentLengthConflict => "conflicting Content-Length values",
            Self::ContentLengthMissing => "Content-Length required on a stream transport",
            Self::BodyTruncated => "Content-Length larger than the body received",
        }
    }
}

/// Indexing or framing failed. `Copy`, so it can be counted and logged without allocating.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ParseError {
    /// What went wrong.
    pub kind: ErrorKind,
    /// Octet offset into the input where it was noticed.
    pub offset: usize,
    /// Whether the message looked like a request or a response.
    pub start: StartKind,
}

impl ParseError {
    /// The status to answer with, or `None` when the message must be dropped
    /// (responses and unreadable input are never answered, RFC 3261 §16.7, §18.1.2).
    ///
    /// On a stream transport every framing error also closes the connection: the caller decides
    /// that, since only it knows the transport.
    pub fn status(&self) -> Option<u16> {
        if self.start != StartKind::Request || self.kind == ErrorKind::Empty {
            return None;
        }
        Some(match self.kind {
            ErrorKind::TooLarge | ErrorKind::HeaderTooLong | ErrorKind::TooManyHeaders => 513,
            ErrorKind::StartLineTooLong => 414,
            _ => 400,
        })
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at offset {}", self.kind.describe(), self.offset)
    }
}

impl std::error::Error for ParseError {}

/// The grammar element a typed view failed on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Part {
    /// An empty value or list element where one is required.
    Empty,
    /// A `token`.
    Token,
    /// A quoted-string (unterminated, or a bad escape).
    QuotedString,
    /// A display name.
    DisplayName,
    /// The `<` `>` around a URI.
    AngleBrackets,
    /// A URI scheme.
    Scheme,
    /// The user or password part of a URI.
    UserInfo,
    /// A host (domain name, IPv4 address or IPv6 reference).
    Host,
    /// A port.
    Port,
    /// A URI parameter.
    UriParam,
    /// URI headers (`?name=value`).
    UriHeaders,
    /// A `%HH` escape.
    Escape,
    /// A header parameter (`;name=value`).
    Param,
    /// The sent-protocol of a Via (`SIP/2.0/UDP`).
    SentProtocol,
    /// A number (too large, or not digits).
    Number,
    /// A method.
    Method,
    /// A Call-ID.
    CallId,
    /// An authentication scheme or its parameters.
    Auth,
    /// A date (RFC 1123, GMT).
    Date,
    /// Text after the end of the value.
    Trailing,
    /// A control character where the grammar allows none.
    ControlChar,
}

impl Part {
    /// A short description.
    pub fn describe(self) -> &'static str {
        match self {
            Self::Empty => "empty value",
            Self::Token => "malformed token",
            Self::QuotedString => "malformed quoted string",
            Self::DisplayName => "malformed display name",
            Self::AngleBrackets => "malformed angle brackets",
            Self::Scheme => "malformed URI scheme",
            Self::UserInfo => "malformed URI user part",
            Self::Host => "malformed host",
            Self::Port => "malformed port",
            Self::UriParam => "malformed URI parameter",
            Self::UriHeaders => "malformed URI headers",
            Self::Escape => "malformed %-escape",
            Self::Param => "malformed parameter",
            Self::SentProtocol => "malformed sent-protocol",
            Self::Number => "number malformed or out of range",
            Self::Method => "malformed method",
            Self::CallId => "malformed Call-ID",
            Self::Auth => "malformed credentials or challenge",
            Self::Date => "malformed date",
            Self::Trailing => "unexpected text after value",
            Self::ControlChar => "control character in value",
        }
    }
}

/// A typed view could not decode a value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ViewError {
    /// The grammar element that failed.
    pub part: Part,
    /// Octet offset into the value.
    pub at: usize,
}

impl ViewError {
    pub(crate) fn new(part: Part, at: usize) -> Self {
        Self { part, at }
    }
}

impl fmt::Display for ViewError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} at offset {} of the value",
            self.part.describe(),
            self.at
        )
    }
}

impl std::error::Error for ViewError {}
