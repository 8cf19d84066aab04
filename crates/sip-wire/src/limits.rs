//! Bounds on what the codec accepts, each with the reason for its value.
//!
//! Every bound is checked while indexing, before any typed view runs, so a hostile peer can make
//! the parser do at most `MAX_MESSAGE_SIZE` octets of work per message and can never make it
//! allocate more than `MAX_HEADERS` index entries.

/// Largest message (start line, headers and body) in octets.
///
/// 65,535 is the largest UDP payload over IPv4 and the buffer size Kamailio and OpenSIPS use, so
/// no legitimate peer sends more on any transport; it also lets every offset fit in a `u16`,
/// which keeps the header index at 12 octets per header. Larger messages are answered
/// 513 Message Too Large (RFC 3261 §21.5.14) on requests and dropped on responses.
pub const MAX_MESSAGE_SIZE: usize = 65_535;

/// Most header lines in one message.
///
/// RFC 4475's `longreq` (the longest torture message) has 44 header lines and a realistic INVITE
/// 15 to 30; 256 leaves room for any real message while bounding the index a flood of tiny
/// header lines could demand (each costs 4 octets, so 65 KB could otherwise carry 16,000).
pub const MAX_HEADERS: usize = 256;

/// Header lines the index holds without allocating.
///
/// 64 covers every realistic message and the longest RFC 4475 message; only a message with more
/// header lines than this spills the rest of its index onto the heap.
pub const INLINE_HEADERS: usize = 64;

/// Longest start line in octets.
///
/// Bounds the Request-URI. Real Request-URIs stay under 1 KB (`longreq`'s longest line is 594
/// octets); 8 KiB leaves headroom for long tel/sip URIs with many parameters while letting a
/// stream reader give up on garbage without waiting for a full `MAX_MESSAGE_SIZE`. A longer
/// request line is answered 414 Request-URI Too Long (RFC 3261 §21.4.12).
pub const MAX_START_LINE: usize = 8_192;

/// Longest header field in octets, name to end of value, folded lines included.
///
/// The largest real header values (Identity, long Authorization, P-headers) stay under 4 KB;
/// 16 KiB is generous and still lets a stream reader reject a never-ending line early.
pub const MAX_HEADER_LINE: usize = 16_384;

/// Value inserted as Max-Forwards when a request has none (RFC 3261 §8.1.1.6, §16.6 step 3).
pub const DEFAULT_MAX_FORWARDS: u8 = 70;

/// Most parameters in one credentials or challenge value (Authorization, WWW-Authenticate, ...).
///
/// Digest defines 13 (RFC 7616 §3.3, §3.4); 64 leaves room for extensions and bounds the
/// duplicate-parameter check, quadratic in the count, to a few thousand compares however long
/// the header is.
pub const MAX_AUTH_PARAMS: usize = 64;
