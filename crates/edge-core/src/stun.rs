//! STUN Binding on SIP ports: the keep-alive of RFC 5626 §4.4.2 for UDP flows.
//!
//! RFC 5626 §8: "the SIP server MUST support STUN Binding requests on every UDP port it
//! listens on for SIP" (the "STUN keep-alive" technique). A client learns its public address
//! from XOR-MAPPED-ADDRESS and notices a NAT rebinding when it changes. The message is told
//! apart from SIP by its first octet (RFC 5626 §5.4 / RFC 7983: a STUN message starts with
//! 0b00, no SIP message does).
//!
//! Only what a keep-alive server needs is here (RFC 5389): decode a Binding request, answer
//! with a success response carrying XOR-MAPPED-ADDRESS (and FINGERPRINT when the request had
//! one), or with a 420 error naming unknown comprehension-required attributes. No credentials:
//! RFC 5626 §8 keep-alives carry none, and the ICE attributes a client may add (RFC 5769's
//! vector has USERNAME, MESSAGE-INTEGRITY, PRIORITY, ICE-CONTROLLED) are read past.
//!
//! Written by hand: the published STUN crates are full ICE agents or async clients; this is
//! 150 lines of TLV walking on the hot path of every UDP keep-alive.

use core::net::{IpAddr, SocketAddr};

/// RFC 5389 §6: the fixed magic cookie.
pub const MAGIC_COOKIE: u32 = 0x2112_A442;
const HEADER_LEN: usize = 20;
const BINDING_REQUEST: u16 = 0x0001;
const BINDING_SUCCESS: u16 = 0x0101;
const BINDING_ERROR: u16 = 0x0111;
const ATTR_MAPPED_ADDRESS: u16 = 0x0001;
const ATTR_USERNAME: u16 = 0x0006;
const ATTR_MESSAGE_INTEGRITY: u16 = 0x0008;
const ATTR_ERROR_CODE: u16 = 0x0009;
const ATTR_UNKNOWN_ATTRIBUTES: u16 = 0x000A;
const ATTR_XOR_MAPPED_ADDRESS: u16 = 0x0020;
/// RFC 8445 ICE attributes in the comprehension-required range, understood (and ignored).
const ATTR_PRIORITY: u16 = 0x0024;
const ATTR_USE_CANDIDATE: u16 = 0x0025;
const ATTR_FINGERPRINT: u16 = 0x8028;
/// RFC 5389 §15.5: CRC-32 of the message XOR-ed with this.
const FINGERPRINT_XOR: u32 = 0x5354_554E;
/// At most this many unknown attributes are echoed in a 420 (each costs 2 octets).
const MAX_UNKNOWN: usize = 16;

/// Whether a datagram on a SIP port is STUN rather than SIP (RFC 7983 §7: first octet 0..=3).
pub fn is_stun(datagram: &[u8]) -> bool {
    datagram.first().is_some_and(|&b| b < 4)
}

/// Why a datagram that looked like STUN was dropped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StunError {
    /// Shorter than the header, a length that is not a multiple of 4 or disagrees with the
    /// datagram, or a bad magic cookie (RFC 5389 §7.3: silently discarded).
    Malformed,
    /// A STUN message other than a Binding request (indications and responses are ignored).
    NotBindingRequest,
    /// The FINGERPRINT attribute does not match (RFC 5389 §7.3: discarded).
    BadFingerprint,
}

/// Answers a Binding request from `source`, writing the response into `out` (cleared first).
///
/// RFC 5389 §7.3.1: "If the request contains one or more unknown comprehension-required
/// attributes, the server replies with an error response with an error code of 420 (Unknown
/// Attribute), and includes an UNKNOWN-ATTRIBUTES attribute". Otherwise a success response
/// with XOR-MAPPED-ADDRESS of the source transport address (§15.2), and FINGERPRINT if the
/// request had one (§7.3: the response "SHOULD" mirror it so the client can demultiplex).
pub fn answer_binding(
    request: &[u8],
    source: SocketAddr,
    out: &mut Vec<u8>,
) -> Result<(), StunError> {
    out.clear();
    if request.len() < HEADER_LEN || request[0] & 0xC0 != 0 {
        return Err(StunError::Malformed);
    }
    let msg_type = u16::from_be_bytes([request[0], request[1]]);
    let len = usize::from(u16::from_be_bytes([request[2], request[3]]));
    let cookie = u32::from_be_bytes([request[4], request[5], request[6], request[7]]);
    if cookie != MAGIC_COOKIE || len % 4 != 0 || HEADER_LEN + len != request.len() {
        return Err(StunError::Malformed);
    }
    if msg_type != BINDING_REQUEST {
        return Err(StunError::NotBindingRequest);
    }
    let txid = &request[8..20];
    let mut unknown = [0u16; MAX_UNKNOWN];
    let mut n_unknown = 0;
    let mut fingerprint = false;
    let mut at = HEADER_LEN;
    while at < request.len() {
        if at + 4 > request.len() {
            return Err(StunError::Malformed);
        }
        let ty = u16::from_be_bytes([request[at], request[at + 1]]);
        let alen = usize::from(u16::from_be_bytes([request[at + 2], request[at + 3]]));
        let value = at + 4;
        let next = value + alen.div_ceil(4) * 4;
        if next > request.len() {
            return Err(StunError::Malformed);
        }
        match ty {
            ATTR_FINGERPRINT => {
                // §15.5: the last attribute, over everything before it.
                if alen != 4 || next != request.len() {
                    return Err(StunError::Malformed);
                }
                let want = u32::from_be_bytes([
                    request[value],
                    request[value + 1],
                    request[value + 2],
                    request[value + 3],
                ]);
                if crc32(&request[..at]) ^ FINGERPRINT_XOR != want {
                    return Err(StunError::BadFingerprint);
                }
                fingerprint = true;
            }
            ATTR_MAPPED_ADDRESS
            | ATTR_USERNAME
            | ATTR_MESSAGE_INTEGRITY
            | ATTR_XOR_MAPPED_ADDRESS
            | ATTR_PRIORITY
            | ATTR_USE_CANDIDATE => {}
            t if t < 0x8000 && n_unknown < MAX_UNKNOWN => {
                unknown[n_unknown] = t;
                n_unknown += 1;
            }
            _ => {}
        }
        at = next;
    }

    let success = n_unknown == 0;
    header(
        out,
        if success {
            BINDING_SUCCESS
        } else {
            BINDING_ERROR
        },
        txid,
    );
    if success {
        xor_mapped_address(out, source, txid);
    } else {
        // §15.6 ERROR-CODE: 2 reserved octets, class, number, reason.
        let reason = b"Unknown Attribute";
        attr_header(out, ATTR_ERROR_CODE, 4 + reason.len());
        out.extend_from_slice(&[0, 0, 4, 20]);
        out.extend_from_slice(reason);
        pad(out);
        attr_header(out, ATTR_UNKNOWN_ATTRIBUTES, 2 * n_unknown);
        for t in &unknown[..n_unknown] {
            out.extend_from_slice(&t.to_be_bytes());
        }
        pad(out);
    }
    if fingerprint {
        // The length must already count FINGERPRINT when the CRC is taken (§15.5).
        let len = out.len() - HEADER_LEN + 8;
        set_length(out, len);
        let crc = crc32(out) ^ FINGERPRINT_XOR;
        attr_header(out, ATTR_FINGERPRINT, 4);
        out.extend_from_slice(&crc.to_be_bytes());
    }
    let len = out.len() - HEADER_LEN;
    set_length(out, len);
    Ok(())
}

fn header(out: &mut Vec<u8>, ty: u16, txid: &[u8]) {
    out.extend_from_slice(&ty.to_be_bytes());
    out.extend_from_slice(&[0, 0]);
    out.extend_from_slice(&MAGIC_COOKIE.to_be_bytes());
    out.extend_from_slice(txid);
}

fn set_length(out: &mut [u8], len: usize) {
    let len = u16::try_from(len).unwrap_or(u16::MAX).to_be_bytes();
    out[2] = len[0];
    out[3] = len[1];
}

fn attr_header(out: &mut Vec<u8>, ty: u16, len: usize) {
    out.extend_from_slice(&ty.to_be_bytes());
    out.extend_from_slice(&u16::try_from(len).unwrap_or(u16::MAX).to_be_bytes());
}

fn pad(out: &mut Vec<u8>) {
    while out.len() % 4 != 0 {
        out.push(0);
    }
}

/// RFC 5389 §15.2: the port XOR-ed with the cookie's top 16 bits, an IPv4 address with the
/// cookie, an IPv6 address with the cookie followed by the transaction ID.
fn xor_mapped_address(out: &mut Vec<u8>, source: SocketAddr, txid: &[u8]) {
    let cookie = MAGIC_COOKIE.to_be_bytes();
    let port = source.port() ^ (MAGIC_COOKIE >> 16) as u16;
    match source.ip() {
        IpAddr::V4(ip) => {
            attr_header(out, ATTR_XOR_MAPPED_ADDRESS, 8);
            out.extend_from_slice(&[0, 0x01]);
            out.extend_from_slice(&port.to_be_bytes());
            for (o, k) in ip.octets().iter().zip(cookie) {
                out.push(o ^ k);
            }
        }
        IpAddr::V6(ip) => {
            attr_header(out, ATTR_XOR_MAPPED_ADDRESS, 20);
            out.extend_from_slice(&[0, 0x02]);
            out.extend_from_slice(&port.to_be_bytes());
            for (o, k) in ip.octets().iter().zip(cookie.iter().chain(txid)) {
                out.push(o ^ k);
            }
        }
    }
}

/// Decodes XOR-MAPPED-ADDRESS from a Binding success response (for clients and tests).
pub fn decode_xor_mapped_address(response: &[u8]) -> Option<SocketAddr> {
    if response.len() < HEADER_LEN {
        return None;
    }
    let txid = &response[8..20];
    let cookie = MAGIC_COOKIE.to_be_bytes();
    let mut at = HEADER_LEN;
    while at + 4 <= response.len() {
        let ty = u16::from_be_bytes([response[at], response[at + 1]]);
        let alen = usize::from(u16::from_be_bytes([response[at + 2], response[at + 3]]));
        let v = response.get(at + 4..at + 4 + alen)?;
        if ty == ATTR_XOR_MAPPED_ADDRESS && v.len() >= 8 {
            let port = u16::from_be_bytes([v[2], v[3]]) ^ (MAGIC_COOKIE >> 16) as u16;
            return match v[1] {
                0x01 => {
                    let mut ip = [0u8; 4];
                    for (i, o) in ip.iter_mut().enumerate() {
                        *o = v[4 + i] ^ cookie[i];
                    }
                    Some(SocketAddr::new(IpAddr::from(ip), port))
                }
                0x02 if v.len() >= 20 => {
                    let mut ip = [0u8; 16];
                    let key: Vec<u8> = cookie.iter().chain(txid).copied().collect();
                    for (i, o) in ip.iter_mut().enumerate() {
                        *o = v[4 + i] ^ key[i];
                    }
                    Some(SocketAddr::new(IpAddr::from(ip), port))
                }
                _ => None,
            };
        }
        at += 4 + alen.div_ceil(4) * 4;
    }
    None
}

/// CRC-32 (IEEE 802.3, the polynomial of RFC 5389 §15.5), bytewise with a table built at
/// compile time: FINGERPRINT is the only user, on keep-alives of a few dozen octets.
fn crc32(data: &[u8]) -> u32 {
    const TABLE: [u32; 256] = {
        let mut t = [0u32; 256];
        let mut i = 0;
        while i < 256 {
            let mut c = i as u32;
            let mut k = 0;
            while k < 8 {
                c = if c & 1 != 0 {
                    0xEDB8_8320 ^ (c >> 1)
                } else {
                    c >> 1
                };
                k += 1;
            }
            t[i] = c;
            i += 1;
        }
        t
    };
    let mut c = !0u32;
    for &b in data {
        c = TABLE[((c ^ u32::from(b)) & 0xFF) as usize] ^ (c >> 8);
    }
    !c
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 5769 §2.1 "Sample Request".
    pub(crate) const RFC5769_REQUEST: [u8; 108] = [
        0x00, 0x01, 0x00, 0x58, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6,
        0x86, 0xfa, 0x87, 0xdf, 0xae, 0x80, 0x22, 0x00, 0x10, 0x53, 0x54, 0x55, 0x4e, 0x20, 0x74,
        0x65, 0x73, 0x74, 0x20, 0x63, 0x6c, 0x69, 0x65, 0x6e, 0x74, 0x00, 0x24, 0x00, 0x04, 0x6e,
        0x00, 0x01, 0xff, 0x80, 0x29, 0x00, 0x08, 0x93, 0x2f, 0xf9, 0xb1, 0x51, 0x26, 0x3b, 0x36,
        0x00, 0x06, 0x00, 0x09, 0x65, 0x76, 0x74, 0x6a, 0x3a, 0x68, 0x36, 0x76, 0x59, 0x20, 0x20,
        0x20, 0x00, 0x08, 0x00, 0x14, 0x9a, 0xea, 0xa7, 0x0c, 0xbf, 0xd8, 0xcb, 0x56, 0x78, 0x1e,
        0xf2, 0xb5, 0xb2, 0xd3, 0xf2, 0x49, 0xc1, 0xb5, 0x71, 0xa2, 0x80, 0x28, 0x00, 0x04, 0xe5,
        0x7a, 0x3b, 0xcf,
    ];

    #[test]
    fn rfc5769_request_is_answered_with_the_vectors_mapped_address() {
        // RFC 5769 §2.2: the response maps the request to 192.0.2.1:32853, whose
        // XOR-MAPPED-ADDRESS value is 0001 a147 e112a643.
        let src: SocketAddr = "192.0.2.1:32853".parse().unwrap();
        let mut out = Vec::new();
        answer_binding(&RFC5769_REQUEST, src, &mut out).unwrap();
        assert_eq!(&out[0..2], &[0x01, 0x01]);
        assert_eq!(
            &out[4..20],
            &RFC5769_REQUEST[4..20],
            "cookie + transaction id"
        );
        let xma = [
            0x00, 0x20, 0x00, 0x08, 0x00, 0x01, 0xa1, 0x47, 0xe1, 0x12, 0xa6, 0x43,
        ];
        assert_eq!(&out[20..32], &xma);
        assert_eq!(decode_xor_mapped_address(&out), Some(src));
        // FINGERPRINT mirrored and correct, length field consistent.
        let len = usize::from(u16::from_be_bytes([out[2], out[3]]));
        assert_eq!(len + 20, out.len());
        let fp_at = out.len() - 8;
        assert_eq!(&out[fp_at..fp_at + 4], &[0x80, 0x28, 0x00, 0x04]);
        let crc = crc32(&out[..fp_at]) ^ FINGERPRINT_XOR;
        assert_eq!(&out[fp_at + 4..], &crc.to_be_bytes());
    }

    #[test]
    fn rfc5769_ipv6_mapping() {
        // RFC 5769 §2.3: 2001:db8:1234:5678:11:2233:4455:6677 port 32853.
        let src: SocketAddr = "[2001:db8:1234:5678:11:2233:4455:6677]:32853"
            .parse()
            .unwrap();
        let mut req = RFC5769_REQUEST;
        // The IPv6 sample uses this transaction ID.
        req[8..20].copy_from_slice(&[
            0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae,
        ]);
        let mut out = Vec::new();
        answer_binding(&req, src, &mut out).unwrap();
        let want = [
            0x00, 0x20, 0x00, 0x14, 0x00, 0x02, 0xa1, 0x47, 0x01, 0x13, 0xa9, 0xfa, 0xa5, 0xd3,
            0xf1, 0x79, 0xbc, 0x25, 0xf4, 0xb5, 0xbe, 0xd2, 0xb9, 0xd9,
        ];
        assert_eq!(&out[20..44], &want);
        assert_eq!(decode_xor_mapped_address(&out), Some(src));
    }

    #[test]
    fn crc_matches_the_vector_fingerprint() {
        let at = RFC5769_REQUEST.len() - 8;
        assert_eq!(crc32(&RFC5769_REQUEST[..at]) ^ FINGERPRINT_XOR, 0xe57a3bcf);
    }

    #[test]
    fn bad_input_is_classified_not_answered() {
        let src: SocketAddr = "192.0.2.1:1".parse().unwrap();
        let mut out = Vec::new();
        assert_eq!(
            answer_binding(&RFC5769_REQUEST[..19], src, &mut out),
            Err(StunError::Malformed)
        );
        let mut bad_fp = RFC5769_REQUEST;
        bad_fp[107] ^= 1;
        assert_eq!(
            answer_binding(&bad_fp, src, &mut out),
            Err(StunError::BadFingerprint)
        );
        let mut cookie = RFC5769_REQUEST;
        cookie[4] = 0;
        assert_eq!(
            answer_binding(&cookie, src, &mut out),
            Err(StunError::Malformed)
        );
        let mut indication = RFC5769_REQUEST;
        indication[1] = 0x11;
        assert_eq!(
            answer_binding(&indication, src, &mut out),
            Err(StunError::NotBindingRequest)
        );
        // Truncated attribute.
        let mut short = [0u8; 24];
        short[..20].copy_from_slice(&RFC5769_REQUEST[..20]);
        short[3] = 4;
        short[20..24].copy_from_slice(&[0x00, 0x06, 0x00, 0x09]);
        assert_eq!(
            answer_binding(&short, src, &mut out),
            Err(StunError::Malformed)
        );
    }

    #[test]
    fn unknown_required_attribute_gets_420() {
        let mut req = vec![0x00, 0x01, 0x00, 0x08];
        req.extend_from_slice(&MAGIC_COOKIE.to_be_bytes());
        req.extend_from_slice(&[7; 12]);
        req.extend_from_slice(&[0x7f, 0x01, 0x00, 0x04, 1, 2, 3, 4]);
        let mut out = Vec::new();
        answer_binding(&req, "127.0.0.1:9".parse().unwrap(), &mut out).unwrap();
        assert_eq!(&out[0..2], &[0x01, 0x11]);
        assert!(out.windows(4).any(|w| w == [0x00, 0x0a, 0x00, 0x02]));
        assert!(out.ends_with(&[0x7f, 0x01, 0, 0]));
        assert!(decode_xor_mapped_address(&out).is_none());
    }

    #[test]
    fn demultiplexing_by_first_octet() {
        assert!(is_stun(&RFC5769_REQUEST));
        assert!(!is_stun(b"OPTIONS sip:x SIP/2.0\r\n"));
        assert!(!is_stun(b"\r\n\r\n"));
        assert!(!is_stun(b""));
    }
}
