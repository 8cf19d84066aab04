//! One stream connection's protocol layers, without I/O: raw octets in, SIP items out; SIP
//! messages in, raw octets queued for the socket. The backend only moves octets.
//!
//! ```text
//!  socket ─► [TLS: rustls] ─► [WebSocket: tungstenite] ─► SIP framing ─► Inbound items
//!  socket ◄─ tx queue ◄────── [TLS] ◄────────────────── [WebSocket] ◄── send(sip)
//! ```
//!
//! TCP and TLS carry a SIP byte stream framed by Content-Length ([`StreamDecoder`], with
//! RFC 5626 §4.4.1 CRLF keep-alives); WS and WSS carry one SIP message per WebSocket message
//! (RFC 7118 §5.2), parsed as a datagram.

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use edge_core::counters::{CloseReason, Transport};
use sip_wire::limits::MAX_MESSAGE_SIZE;
use sip_wire::{Message, ParseError, StreamDecoder, StreamEvent};
use tungstenite::handshake::server::{Callback, ErrorResponse, Request, Response};
use tungstenite::handshake::{HandshakeError, MidHandshake};
use tungstenite::protocol::WebSocketConfig;
use tungstenite::{ServerHandshake, WebSocket};

/// What a connection delivers upward.
// A message carries its inline header index (~900 octets); boxing it would cost an allocation
// per message to save a copy of a short-lived value.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub(crate) enum Inbound {
    /// A framed SIP message.
    Message(Message),
    /// A message the codec refused; the raw octets are kept for a salvage response.
    Malformed(ParseError, Bytes),
    /// A CRLFCRLF keep-alive ping (already answered with a pong).
    Ping,
}

/// Why the connection must close (the caller counts it and closes the socket after flushing
/// what is queued, e.g. a TLS alert or a WebSocket refusal).
pub(crate) type Close = CloseReason;

/// The octets a connection wants written, in order. Each chunk stays where it is until written,
/// so a completion-based backend can point the kernel at it.
#[derive(Debug, Default)]
pub(crate) struct TxQueue {
    chunks: VecDeque<Bytes>,
    len: usize,
}

impl TxQueue {
    fn push(&mut self, b: Bytes) {
        if !b.is_empty() {
            self.len += b.len();
            self.chunks.push_back(b);
        }
    }

    /// Octets queued.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing is queued.
    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The chunk to write next.
    pub(crate) fn front(&self) -> Option<&Bytes> {
        self.chunks.front()
    }

    /// Up to `max` chunks for a vectored write.
    pub(crate) fn slices<'a>(&'a self, out: &mut Vec<io::IoSlice<'a>>, max: usize) {
        out.clear();
        out.extend(self.chunks.iter().take(max).map(|b| io::IoSlice::new(b)));
    }

    /// `n` octets were written.
    pub(crate) fn consume(&mut self, mut n: usize) {
        self.len -= n.min(self.len);
        while n > 0 {
            let Some(front) = self.chunks.front_mut() else {
                return;
            };
            if n >= front.len() {
                n -= front.len();
                self.chunks.pop_front();
            } else {
                let _ = front.split_to(n);
                n = 0;
            }
        }
    }
}

/// An in-memory duplex for tungstenite: it reads what the socket delivered and writes into a
/// buffer the connection moves to its tx queue. `WouldBlock` when empty, as on a non-blocking
/// socket, which tungstenite handles by returning and being called again.
#[derive(Debug, Default)]
pub(crate) struct Pipe {
    rx: BytesMut,
    tx: Vec<u8>,
}

impl Read for Pipe {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.rx.is_empty() {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let n = buf.len().min(self.rx.len());
        buf[..n].copy_from_slice(&self.rx[..n]);
        let _ = self.rx.split_to(n);
        Ok(n)
    }
}

impl Write for Pipe {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.tx.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// RFC 7118 §4.1: the client offers the `sip` subprotocol and the server selects it. A client
/// that does not offer it is refused: this endpoint speaks nothing else.
#[derive(Debug)]
pub(crate) struct SipSubprotocol;

impl Callback for SipSubprotocol {
    fn on_request(
        self,
        request: &Request,
        mut response: Response,
    ) -> Result<Response, ErrorResponse> {
        let offered = request
            .headers()
            .get_all("sec-websocket-protocol")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .any(|p| p.trim().eq_ignore_ascii_case("sip"));
        if !offered {
            let mut e = ErrorResponse::new(Some(
                "expected Sec-WebSocket-Protocol: sip (RFC 7118)".into(),
            ));
            *e.status_mut() = tungstenite::http::StatusCode::BAD_REQUEST;
            return Err(e);
        }
        response.headers_mut().insert(
            "sec-websocket-protocol",
            tungstenite::http::HeaderValue::from_static("sip"),
        );
        Ok(response)
    }
}

enum Ws {
    Handshaking(Box<MidHandshake<ServerHandshake<Pipe, SipSubprotocol>>>),
    Open(Box<WebSocket<Pipe>>),
    /// Between states (only while a call is replacing the state) or after a failure.
    Gone,
}

impl std::fmt::Debug for Ws {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Ws::Handshaking(_) => "Ws::Handshaking",
            Ws::Open(_) => "Ws::Open",
            Ws::Gone => "Ws::Gone",
        })
    }
}

fn ws_config() -> WebSocketConfig {
    // One SIP message per WebSocket message (RFC 7118 §5.2): nothing larger is a SIP message.
    WebSocketConfig {
        max_message_size: Some(MAX_MESSAGE_SIZE),
        max_frame_size: Some(MAX_MESSAGE_SIZE),
        ..WebSocketConfig::default()
    }
}

/// The layers of one stream connection.
#[derive(Debug)]
pub(crate) struct StreamConn {
    transport: Transport,
    tls: Option<Box<rustls::ServerConnection>>,
    ws: Option<Ws>,
    /// SIP stream octets not yet framed (TCP, TLS).
    rx: BytesMut,
    decoder: StreamDecoder,
    tx: TxQueue,
    /// Plaintext scratch for TLS reads.
    scratch: Vec<u8>,
}

/// Plaintext read from TLS in one go (rustls hands out at most one record's worth at a time).
const TLS_READ_CHUNK: usize = 16 * 1024;

impl StreamConn {
    /// A connection of `transport`; TLS and WSS need the server configuration.
    pub(crate) fn new(
        transport: Transport,
        tls: Option<&Arc<rustls::ServerConfig>>,
    ) -> Result<Self, Close> {
        let tls = match transport {
            Transport::Tls | Transport::Wss => {
                let cfg = tls.ok_or(CloseReason::TlsError)?;
                Some(Box::new(
                    rustls::ServerConnection::new(Arc::clone(cfg))
                        .map_err(|_| CloseReason::TlsError)?,
                ))
            }
            _ => None,
        };
        let ws = match transport {
            Transport::Ws | Transport::Wss => {
                match tungstenite::accept_hdr_with_config(
                    Pipe::default(),
                    SipSubprotocol,
                    Some(ws_config()),
                ) {
                    Err(HandshakeError::Interrupted(mid)) => Some(Ws::Handshaking(Box::new(mid))),
                    _ => return Err(CloseReason::WsHandshake),
                }
            }
            _ => None,
        };
        Ok(Self {
            transport,
            tls,
            ws,
            rx: BytesMut::new(),
            decoder: StreamDecoder::new(),
            tx: TxQueue::default(),
            scratch: Vec::new(),
        })
    }

    /// The transport.
    pub(crate) fn transport(&self) -> Transport {
        self.transport
    }

    /// Whether the TLS and WebSocket handshakes are done (a plain TCP connection always is).
    pub(crate) fn is_established(&self) -> bool {
        let tls_done = self.tls.as_ref().is_none_or(|t| !t.is_handshaking());
        let ws_done = !matches!(self.ws, Some(Ws::Handshaking(_)));
        tls_done && ws_done
    }

    /// The octets waiting for the socket.
    pub(crate) fn tx(&mut self) -> &mut TxQueue {
        &mut self.tx
    }

    /// Feeds octets read from the socket; `sink` receives what they complete, in order.
    pub(crate) fn on_bytes(
        &mut self,
        mut data: &[u8],
        sink: &mut impl FnMut(Inbound),
    ) -> Result<(), Close> {
        let Some(tls) = self.tls.as_mut() else {
            return self.on_plain(data, sink);
        };
        let mut plain = std::mem::take(&mut self.scratch);
        plain.clear();
        let mut result = Ok(());
        while !data.is_empty() {
            match tls.read_tls(&mut data) {
                Ok(_) => {}
                Err(_) => {
                    result = Err(CloseReason::TlsError);
                    break;
                }
            }
            if tls.process_new_packets().is_err() {
                // Queue the alert rustls prepared, then close.
                result = Err(CloseReason::TlsError);
                break;
            }
            loop {
                let at = plain.len();
                plain.resize(at + TLS_READ_CHUNK, 0);
                match tls.reader().read(&mut plain[at..]) {
                    Ok(0) => {
                        plain.truncate(at);
                        break;
                    }
                    Ok(n) => plain.truncate(at + n),
                    Err(_) => {
                        plain.truncate(at);
                        break;
                    }
                }
            }
        }
        self.flush_tls();
        if result.is_ok() && !plain.is_empty() {
            result = self.on_plain(&plain, sink);
        }
        self.scratch = plain;
        result
    }

    /// Plaintext octets: WebSocket frames, or the SIP stream.
    fn on_plain(&mut self, data: &[u8], sink: &mut impl FnMut(Inbound)) -> Result<(), Close> {
        if self.ws.is_some() {
            return self.on_ws(data, sink);
        }
        self.rx.extend_from_slice(data);
        loop {
            match self.decoder.decode(&mut self.rx) {
                Ok(StreamEvent::Partial) => return Ok(()),
                Ok(StreamEvent::Message(m)) => sink(Inbound::Message(m)),
                Ok(StreamEvent::Ping) => {
                    // RFC 5626 §4.4.1: "the server MUST respond with a single CRLF".
                    self.send_raw(Bytes::from_static(b"\r\n"));
                    sink(Inbound::Ping);
                }
                Ok(StreamEvent::Pong) => {}
                Err(e) => {
                    // The stream cannot be resynchronised: answer if possible, then close.
                    let raw = self.rx.split().freeze();
                    sink(Inbound::Malformed(e, raw));
                    return Err(CloseReason::Framing);
                }
            }
        }
    }

    fn on_ws(&mut self, data: &[u8], sink: &mut impl FnMut(Inbound)) -> Result<(), Close> {
        let state = std::mem::replace(self.ws.as_mut().ok_or(CloseReason::WsHandshake)?, Ws::Gone);
        let mut ws = match state {
            Ws::Handshaking(mut mid) => {
                mid.get_mut().get_mut().rx.extend_from_slice(data);
                match mid.handshake() {
                    Ok(ws) => Box::new(ws),
                    Err(HandshakeError::Interrupted(mut mid)) => {
                        let out = std::mem::take(&mut mid.get_mut().get_mut().tx);
                        self.ws = Some(Ws::Handshaking(Box::new(mid)));
                        self.send_plain(out);
                        return Ok(());
                    }
                    Err(HandshakeError::Failure(tungstenite::Error::Http(resp))) => {
                        // A refusal (ours: no `sip` subprotocol; or tungstenite's): the pipe it
                        // was written to went with the failed handshake, so it is written again
                        // from the response tungstenite returns, then the connection closes
                        // after the flush.
                        self.send_plain(http_response(&resp));
                        return Err(CloseReason::WsHandshake);
                    }
                    Err(HandshakeError::Failure(_)) => return Err(CloseReason::WsHandshake),
                }
            }
            Ws::Open(mut ws) => {
                ws.get_mut().rx.extend_from_slice(data);
                ws
            }
            Ws::Gone => return Err(CloseReason::WsHandshake),
        };
        let mut result = Ok(());
        loop {
            match ws.read() {
                Ok(tungstenite::Message::Text(t)) => deliver_ws(Bytes::from(t.into_bytes()), sink),
                Ok(tungstenite::Message::Binary(b)) => deliver_ws(Bytes::from(b), sink),
                Ok(_) => {} // ping (answered on flush), pong, close handshake
                Err(tungstenite::Error::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(tungstenite::Error::ConnectionClosed | tungstenite::Error::AlreadyClosed) => {
                    result = Err(CloseReason::Peer);
                    break;
                }
                Err(_) => {
                    result = Err(CloseReason::Framing);
                    break;
                }
            }
        }
        let _ = ws.flush();
        let out = std::mem::take(&mut ws.get_mut().tx);
        self.ws = Some(Ws::Open(ws));
        self.send_plain(out);
        result
    }

    /// Queues one SIP message (or keep-alive) for the peer.
    pub(crate) fn send(&mut self, sip: &[u8]) -> Result<(), Close> {
        match self.ws.as_mut() {
            None => {
                self.send_plain(sip.to_vec());
                Ok(())
            }
            Some(Ws::Open(ws)) => {
                // RFC 7118 §5.2: text frames for UTF-8 messages, binary otherwise.
                let msg = match std::str::from_utf8(sip) {
                    Ok(s) => tungstenite::Message::Text(s.to_string()),
                    Err(_) => tungstenite::Message::Binary(sip.to_vec()),
                };
                ws.send(msg).map_err(|_| CloseReason::Peer)?;
                let out = std::mem::take(&mut ws.get_mut().tx);
                self.send_plain(out);
                Ok(())
            }
            Some(_) => Err(CloseReason::WsHandshake),
        }
    }

    /// Plaintext for the peer: through TLS when there is TLS.
    fn send_plain(&mut self, data: Vec<u8>) {
        if data.is_empty() {
            return;
        }
        match self.tls.as_mut() {
            None => self.tx.push(Bytes::from(data)),
            Some(tls) => {
                let _ = tls.writer().write_all(&data);
                self.flush_tls();
            }
        }
    }

    fn send_raw(&mut self, data: Bytes) {
        match self.tls.is_some() {
            false => self.tx.push(data),
            true => self.send_plain(data.to_vec()),
        }
    }

    /// Moves what rustls has to send into the tx queue.
    fn flush_tls(&mut self) {
        let Some(tls) = self.tls.as_mut() else {
            return;
        };
        let mut out = Vec::new();
        while tls.wants_write() {
            match tls.write_tls(&mut out) {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
        self.tx.push(Bytes::from(out));
    }

    /// Starts an orderly close: a TLS close_notify (the socket is closed after the flush).
    pub(crate) fn close_notify(&mut self) {
        if let Some(tls) = self.tls.as_mut() {
            tls.send_close_notify();
        }
        self.flush_tls();
    }
}

/// An HTTP/1.1 response as octets (for a refused WebSocket upgrade).
fn http_response(resp: &tungstenite::http::Response<Option<Vec<u8>>>) -> Vec<u8> {
    let status = resp.status();
    let body = resp.body().as_deref().unwrap_or_default();
    let mut out = format!(
        "HTTP/1.1 {} {}\r\n",
        status.as_u16(),
        status.canonical_reason().unwrap_or("Error")
    )
    .into_bytes();
    for (name, value) in resp.headers() {
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(
        format!(
            "Content-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        )
        .as_bytes(),
    );
    out.extend_from_slice(body);
    out
}

/// RFC 7118 §5.2: each WebSocket message is one SIP message, with or without Content-Length.
fn deliver_ws(b: Bytes, sink: &mut impl FnMut(Inbound)) {
    match Message::parse_datagram(b.clone()) {
        Ok(m) => sink(Inbound::Message(m)),
        Err(e) => sink(Inbound::Malformed(e, b)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OPTIONS: &[u8] =
        b"OPTIONS sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bK1\r\n\
        From: <sip:a@b>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: x\r\nCSeq: 1 OPTIONS\r\n\
        Content-Length: 0\r\n\r\n";

    fn feed(c: &mut StreamConn, data: &[u8]) -> (Vec<String>, Result<(), Close>) {
        let mut items = Vec::new();
        let r = c.on_bytes(data, &mut |i| {
            items.push(match i {
                Inbound::Message(m) => format!("msg {}", String::from_utf8_lossy(m.start_line())),
                Inbound::Malformed(e, _) => format!("bad {:?}", e.kind),
                Inbound::Ping => "ping".into(),
            })
        });
        (items, r)
    }

    fn drain(c: &mut StreamConn) -> Vec<u8> {
        let mut v = Vec::new();
        while let Some(b) = c.tx().front().cloned() {
            v.extend_from_slice(&b);
            c.tx().consume(b.len());
        }
        v
    }

    #[test]
    fn tcp_ping_split_across_reads_gets_one_pong() {
        let mut c = StreamConn::new(Transport::Tcp, None).unwrap();
        assert_eq!(feed(&mut c, b"\r\n").0, Vec::<String>::new());
        assert_eq!(feed(&mut c, b"\r\n").0, vec!["ping"]);
        assert_eq!(drain(&mut c), b"\r\n");
        let (items, r) = feed(&mut c, &OPTIONS[..40]);
        assert!(items.is_empty() && r.is_ok());
        let (items, _) = feed(&mut c, &OPTIONS[40..]);
        assert_eq!(items, vec!["msg OPTIONS sip:127.0.0.1 SIP/2.0"]);
    }

    #[test]
    fn tcp_framing_error_closes() {
        let mut c = StreamConn::new(Transport::Tcp, None).unwrap();
        let (items, r) = feed(
            &mut c,
            b"OPTIONS sip:x SIP/2.0\r\nVia: SIP/2.0/TCP h\r\nContent-Length: x\r\n\r\n",
        );
        assert_eq!(items.len(), 1);
        assert!(items[0].starts_with("bad"));
        assert_eq!(r, Err(CloseReason::Framing));
    }

    #[test]
    fn tx_queue_consumes_across_chunks() {
        let mut q = TxQueue::default();
        q.push(Bytes::from_static(b"abc"));
        q.push(Bytes::from_static(b"defg"));
        q.consume(4);
        assert_eq!(q.len(), 3);
        assert_eq!(q.front().unwrap().as_ref(), b"efg");
        let mut s = Vec::new();
        q.slices(&mut s, 8);
        assert_eq!(s.len(), 1);
    }
}
