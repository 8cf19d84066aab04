//! # sip-wire: the zero-copy SIP codec of sipedge
//!
//! ```text
//!            Bytes (one datagram, or the front of a stream buffer)
//!              │
//!              ▼
//!   parse ── index ──► Message { buf: Bytes, start line spans, [Entry; 64] header index, body }
//!              │           │
//!              │           ├─ typed views, decoded on demand: Via, NameAddr, Uri, CSeq,
//!              │           │  Auth (digest), option tags, Max-Forwards, Expires, Call-ID
//!              │           ├─ validate(): the RFC 3261 checks → Invalid → 400/501/505 or drop
//!              │           └─ Rewrite / ResponseBuilder ──► caller's Vec<u8> ──► wire
//!              ▼
//!   ParseError { kind, offset, start } → status (400, 414, 513) or drop
//! ```
//!
//! ## Contract
//! - **Push parsing.** [`Message::parse_datagram`] treats one datagram as one message
//!   (RFC 3261 §18.3: trailing octets discarded, a short body is an error).
//!   [`frame_stream`] / [`parse_stream`] answer `Partial` until a whole message
//!   (Content-Length required) or keep-alive is buffered; running short is never an error.
//! - **Zero copy, no allocation per header.** A [`Message`] owns a `Bytes` and `u16` ranges into
//!   it; the first [`limits::INLINE_HEADERS`] header lines are indexed inline, so indexing a
//!   normal message allocates nothing.
//! - **Lazy views.** Values are decoded only when an accessor is called; the accessors borrow
//!   from the message and report failures as [`ViewError`]s naming the grammar element.
//! - **No panics, no silent repair.** Every malformed input yields a [`ParseError`] or an
//!   [`Invalid`] that maps to one status or a drop. What the parser tolerates (bare LF, a
//!   datagram without the empty line, leading CRLF) is recorded in [`Tolerated`] and never
//!   written back out: the encoder always writes RFC 3261 form.
//! - **Bounded.** Every limit is a named constant in [`limits`].
#![forbid(unsafe_code)]

mod auth;
mod encode;
mod error;
mod header;
pub mod limits;
mod message;
mod method;
mod name_addr;
mod params;
mod parse;
mod scan;
mod uri;
mod validate;
mod values;
mod via;

pub use auth::{Auth, AuthValue};
pub use encode::{annotate_via, reason_phrase, ResponseBuilder, Rewrite, RewriteError};
pub use error::{ErrorKind, ParseError, Part, StartKind, ViewError};
pub use header::HeaderName;
pub use message::{
    frame_stream, parse_stream, Frame, Header, Message, StreamDecoder, StreamEvent, Tolerated,
    Values,
};
pub use method::Method;
pub use name_addr::{parse_route, Contact, NameAddr};
pub use params::{unquote, Param, ParamIter, Params};
pub use uri::{Escaped, Host, SipUri, TelUri, Uri, UriParams};
pub use validate::{Invalid, Problem};
pub use values::{
    check_call_id, check_date, check_warning, parse_delta_seconds, parse_max_forwards,
    parse_option_tag, parse_retry_after, CSeq,
};
pub use via::{Via, BRANCH_COOKIE};
