//! Per-shard counters: plain integers owned by one shard's thread, never atomics shared across
//! cores (a shared counter bounces its cache line between cores on every message). Whoever
//! wants totals asks each shard for a copy ([`Counters`] is `Copy`) and adds them up.

/// Why something received was not processed. Each reason is one counter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(usize)]
pub enum DropReason {
    /// The codec refused the message and its verdict is "drop" (no status applies, or it is a
    /// response), or a status applies but the message is too broken to answer.
    Malformed,
    /// A response that failed validation (RFC 3261 §16.7: discarded).
    InvalidResponse,
    /// A response for which this edge holds no transaction (routing arrives later).
    StrayResponse,
    /// A datagram that looked like STUN but was malformed, failed FINGERPRINT, or was not a
    /// Binding request.
    Stun,
    /// A stream connection closed on a framing error (the stream cannot be resynchronised).
    StreamFraming,
    /// A datagram on a UDP port that was truncated (larger than the receive buffer).
    Truncated,
    /// A reply that could not be queued: the connection's send queue was full.
    SendQueueFull,
    /// A datagram the kernel refused or had no room for (full socket buffer, unreachable).
    SendFailed,
    /// A message for a flow that is closed (cross-shard send or a reply after close).
    FlowGone,
}

impl DropReason {
    /// Every reason, in counter order.
    pub const ALL: [DropReason; 9] = [
        Self::Malformed,
        Self::InvalidResponse,
        Self::StrayResponse,
        Self::Stun,
        Self::StreamFraming,
        Self::Truncated,
        Self::SendQueueFull,
        Self::SendFailed,
        Self::FlowGone,
    ];

    /// A snake_case name for metrics and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Malformed => "malformed",
            Self::InvalidResponse => "invalid_response",
            Self::StrayResponse => "stray_response",
            Self::Stun => "stun",
            Self::StreamFraming => "stream_framing",
            Self::Truncated => "truncated",
            Self::SendQueueFull => "send_queue_full",
            Self::SendFailed => "send_failed",
            Self::FlowGone => "flow_gone",
        }
    }
}

/// A transport, for counters indexed by transport.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(usize)]
pub enum Transport {
    /// UDP.
    Udp,
    /// TCP.
    Tcp,
    /// TLS over TCP.
    Tls,
    /// WebSocket (RFC 7118).
    Ws,
    /// Secure WebSocket.
    Wss,
}

impl Transport {
    /// Every transport, in counter order.
    pub const ALL: [Transport; 5] = [Self::Udp, Self::Tcp, Self::Tls, Self::Ws, Self::Wss];

    /// The Via transport token (RFC 3261 §20.42, RFC 7118 §5.2).
    pub fn via_token(self) -> &'static str {
        match self {
            Self::Udp => "UDP",
            Self::Tcp => "TCP",
            Self::Tls => "TLS",
            Self::Ws => "WS",
            Self::Wss => "WSS",
        }
    }

    /// A lowercase name for config, metrics and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Udp => "udp",
            Self::Tcp => "tcp",
            Self::Tls => "tls",
            Self::Ws => "ws",
            Self::Wss => "wss",
        }
    }

    /// Whether messages are framed on a byte stream (everything but UDP).
    pub fn is_stream(self) -> bool {
        !matches!(self, Self::Udp)
    }
}

/// Why a connection was refused or closed by the edge.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(usize)]
pub enum CloseReason {
    /// Refused at accept: the process-wide connection limit.
    LimitTotal,
    /// Refused at accept: the per-source-IP limit.
    LimitPerIp,
    /// The TLS (or WebSocket) handshake did not finish within its timeout.
    HandshakeTimeout,
    /// The TLS handshake failed.
    TlsError,
    /// The WebSocket upgrade was refused or malformed.
    WsHandshake,
    /// No traffic within the idle timeout.
    Idle,
    /// The peer did not read: its send queue passed the limit.
    SlowReader,
    /// A framing error on the stream.
    Framing,
    /// The peer closed, or the socket failed.
    Peer,
    /// Closed during shutdown.
    Shutdown,
}

impl CloseReason {
    /// Every reason, in counter order.
    pub const ALL: [CloseReason; 10] = [
        Self::LimitTotal,
        Self::LimitPerIp,
        Self::HandshakeTimeout,
        Self::TlsError,
        Self::WsHandshake,
        Self::Idle,
        Self::SlowReader,
        Self::Framing,
        Self::Peer,
        Self::Shutdown,
    ];

    /// A snake_case name for metrics and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::LimitTotal => "limit_total",
            Self::LimitPerIp => "limit_per_ip",
            Self::HandshakeTimeout => "handshake_timeout",
            Self::TlsError => "tls_error",
            Self::WsHandshake => "ws_handshake",
            Self::Idle => "idle",
            Self::SlowReader => "slow_reader",
            Self::Framing => "framing",
            Self::Peer => "peer",
            Self::Shutdown => "shutdown",
        }
    }
}

/// One shard's counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    /// SIP messages received (parsed or not), all transports.
    pub received: u64,
    /// SIP messages sent, all transports.
    pub sent: u64,
    /// Requests this edge answered itself (OPTIONS to the edge, 4xx/5xx for bad requests).
    pub answered_locally: u64,
    /// Malformed requests answered with an error status (also in `answered_locally`).
    pub rejected: u64,
    /// STUN Binding requests answered.
    pub stun_answered: u64,
    /// CRLFCRLF pings answered with a CRLF pong.
    pub pings_answered: u64,
    /// Messages dropped, by reason ([`DropReason`] order).
    pub dropped: [u64; DropReason::ALL.len()],
    /// Connections accepted, by transport ([`Transport`] order; UDP stays 0).
    pub accepted: [u64; Transport::ALL.len()],
    /// Connections refused or closed by the edge, by reason ([`CloseReason`] order).
    pub closed: [u64; CloseReason::ALL.len()],
    /// Flows open now, by transport (UDP: remotes seen within the UDP flow lifetime).
    pub flows_open: [u64; Transport::ALL.len()],
}

impl Counters {
    /// Counts a drop.
    pub fn drop(&mut self, reason: DropReason) {
        self.dropped[reason as usize] += 1;
    }

    /// Counts a refusal or close.
    pub fn close(&mut self, reason: CloseReason) {
        self.closed[reason as usize] += 1;
    }

    /// Drops counted for `reason`.
    pub fn dropped(&self, reason: DropReason) -> u64 {
        self.dropped[reason as usize]
    }

    /// Refusals or closes counted for `reason`.
    pub fn closed(&self, reason: CloseReason) -> u64 {
        self.closed[reason as usize]
    }

    /// Adds another shard's counters into these.
    pub fn add(&mut self, o: &Counters) {
        self.received += o.received;
        self.sent += o.sent;
        self.answered_locally += o.answered_locally;
        self.rejected += o.rejected;
        self.stun_answered += o.stun_answered;
        self.pings_answered += o.pings_answered;
        for (a, b) in self.dropped.iter_mut().zip(o.dropped) {
            *a += b;
        }
        for (a, b) in self.accepted.iter_mut().zip(o.accepted) {
            *a += b;
        }
        for (a, b) in self.closed.iter_mut().zip(o.closed) {
            *a += b;
        }
        for (a, b) in self.flows_open.iter_mut().zip(o.flows_open) {
            *a += b;
        }
    }

    /// Every counter as (name, value), names in Prometheus style without a prefix.
    pub fn fields(&self) -> impl Iterator<Item = (String, u64)> + '_ {
        let simple = [
            ("received", self.received),
            ("sent", self.sent),
            ("answered_locally", self.answered_locally),
            ("rejected", self.rejected),
            ("stun_answered", self.stun_answered),
            ("pings_answered", self.pings_answered),
        ]
        .into_iter()
        .map(|(n, v)| (n.to_string(), v));
        let dropped = DropReason::ALL
            .iter()
            .map(|r| (format!("dropped_{}", r.as_str()), self.dropped(*r)));
        let accepted = Transport::ALL.iter().map(|t| {
            (
                format!("accepted_{}", t.as_str()),
                self.accepted[*t as usize],
            )
        });
        let closed = CloseReason::ALL
            .iter()
            .map(|r| (format!("closed_{}", r.as_str()), self.closed(*r)));
        let open = Transport::ALL.iter().map(|t| {
            (
                format!("flows_open_{}", t.as_str()),
                self.flows_open[*t as usize],
            )
        });
        simple
            .chain(dropped)
            .chain(accepted)
            .chain(closed)
            .chain(open)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enum_order_matches_arrays() {
        for (i, r) in DropReason::ALL.iter().enumerate() {
            assert_eq!(*r as usize, i);
        }
        for (i, r) in CloseReason::ALL.iter().enumerate() {
            assert_eq!(*r as usize, i);
        }
        for (i, t) in Transport::ALL.iter().enumerate() {
            assert_eq!(*t as usize, i);
        }
    }

    #[test]
    fn add_and_fields() {
        let mut a = Counters::default();
        a.drop(DropReason::Stun);
        a.close(CloseReason::LimitPerIp);
        a.received = 3;
        let mut b = a;
        b.add(&a);
        assert_eq!(b.received, 6);
        assert_eq!(b.dropped(DropReason::Stun), 2);
        let f: Vec<_> = b.fields().collect();
        assert!(f.contains(&("closed_limit_per_ip".to_string(), 2)));
        assert_eq!(f.len(), 6 + 9 + 5 + 10 + 5);
    }
}
