//! One shard: the state one event loop owns, and what it does with each input. The I/O
//! backends (src/driver/) move octets between sockets and these methods; everything they
//! share lives here, so both backends behave the same by construction.
//!
//! Calling order for a backend, each loop turn:
//! 1. `now = shard.now()`; for each input: [`Shard::on_datagram`], [`Shard::on_accept`],
//!    [`Shard::on_conn_data`], [`Shard::on_conn_closed`], [`Shard::on_control`];
//! 2. [`Shard::on_tick`] when [`Shard::next_tick`] has passed;
//! 3. send every [`Shard::udp_out`] entry on its listener's socket, then for each id in
//!    [`Shard::take_dirty`]: write the connection's tx queue; when it is empty and the
//!    connection is closing, close the socket and call [`Shard::on_conn_closed`].
//!
//! Nothing here blocks or locks on the message path. The only lock is the per-IP connection
//! count, taken once per accept and once per close.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use edge_core::counters::{CloseReason, Counters, DropReason, Transport};
use edge_core::local::{Edge, EdgeConfig, Outcome, Source};
use edge_core::{stun, Instant};
use sip_wire::Message;

use crate::config::{Config, Limits, Role};
use crate::transport::stream::{Inbound, StreamConn};

/// How often timers (handshake and idle deadlines, UDP flow expiry) are checked. Deadlines are
/// seconds long; a quarter second of lateness is noise, and a coarse tick costs nothing when
/// idle.
pub(crate) const TICK: Duration = Duration::from_millis(250);
/// How long a closing connection may take to flush what is queued for it (an error response, a
/// TLS close_notify). A peer that stops reading does not get to keep its slot past this.
pub(crate) const CLOSE_FLUSH: Duration = Duration::from_secs(2);

/// A listener as a shard sees it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ListenerInfo {
    pub(crate) transport: Transport,
    pub(crate) local: SocketAddr,
    #[allow(dead_code)] // routing by role arrives with the proxy issue
    pub(crate) role: Role,
}

/// A connection's identity within its shard: slot and generation, so a stale id (a completion
/// for a connection already closed and its slot reused) is recognised.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct ConnId {
    pub(crate) slot: u32,
    pub(crate) gen: u32,
}

/// A flow: where a message can be sent. It names its owning shard, so any shard can address it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct FlowId {
    pub(crate) shard: u16,
    pub(crate) kind: FlowKind,
}

/// UDP flows are (listener, remote); stream flows are connections.
#[cfg_attr(not(test), allow(dead_code))] // addressed by routing (the proxy issue); tested in driver
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum FlowKind {
    Udp { listener: u16, remote: SocketAddr },
    Conn(ConnId),
}

/// Messages to a shard from other threads (other shards, the signal thread, the admin API).
#[derive(Debug)]
pub(crate) enum Control {
    /// Stop accepting, answer what has arrived, close, exit (SIGTERM / SIGINT).
    Drain,
    /// New TLS configuration for new connections (SIGHUP).
    ReloadTls(Arc<rustls::ServerConfig>),
    /// Send a copy of the counters.
    Snapshot(crossbeam_channel::Sender<(usize, Counters)>),
    /// Send a message on a flow this shard owns.
    #[cfg_attr(not(test), allow(dead_code))]
    // sent by routing (the proxy issue); tested in driver
    Send { flow: FlowId, data: Bytes },
}

/// Process-wide connection accounting, shared by all shards. Touched at accept and close only.
#[derive(Debug)]
pub(crate) struct ConnLimits {
    total: AtomicUsize,
    per_ip: [Mutex<HashMap<IpAddr, u32>>; 16],
    max_total: usize,
    max_per_ip: u32,
}

impl ConnLimits {
    pub(crate) fn new(limits: &Limits) -> Self {
        Self {
            total: AtomicUsize::new(0),
            per_ip: Default::default(),
            max_total: limits.max_connections,
            max_per_ip: u32::try_from(limits.max_connections_per_ip).unwrap_or(u32::MAX),
        }
    }

    fn stripe(&self, ip: &IpAddr) -> &Mutex<HashMap<IpAddr, u32>> {
        let h = match ip {
            IpAddr::V4(a) => a.octets()[3] as usize ^ a.octets()[2] as usize,
            IpAddr::V6(a) => a.octets()[15] as usize ^ a.octets()[14] as usize,
        };
        &self.per_ip[h % self.per_ip.len()]
    }

    /// Admits a connection from `ip`, or says which limit refuses it.
    fn admit(&self, ip: IpAddr) -> Result<(), CloseReason> {
        if self.total.fetch_add(1, Ordering::Relaxed) >= self.max_total {
            self.total.fetch_sub(1, Ordering::Relaxed);
            return Err(CloseReason::LimitTotal);
        }
        let mut m = self.stripe(&ip).lock().unwrap_or_else(|p| p.into_inner());
        let n = m.entry(ip).or_insert(0);
        if *n >= self.max_per_ip {
            drop(m);
            self.total.fetch_sub(1, Ordering::Relaxed);
            return Err(CloseReason::LimitPerIp);
        }
        *n += 1;
        Ok(())
    }

    fn release(&self, ip: IpAddr) {
        self.total.fetch_sub(1, Ordering::Relaxed);
        let mut m = self.stripe(&ip).lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = m.get_mut(&ip) {
            *n -= 1;
            if *n == 0 {
                m.remove(&ip);
            }
        }
    }
}

/// One stream connection's state (the socket itself belongs to the backend).
#[derive(Debug)]
pub(crate) struct Conn {
    pub(crate) stream: StreamConn,
    pub(crate) listener: usize,
    pub(crate) peer: SocketAddr,
    handshake_deadline: Option<Instant>,
    last_activity: Instant,
    /// Set when the edge decided to close: the backend flushes the tx queue, then closes.
    pub(crate) closing: Option<CloseReason>,
    /// When a closing connection's queue is abandoned (set by the first tick after closing).
    flush_deadline: Option<Instant>,
}

/// A datagram to send.
#[derive(Debug)]
pub(crate) struct UdpTx {
    pub(crate) listener: usize,
    pub(crate) peer: SocketAddr,
    pub(crate) data: Bytes,
}

/// What one shard owns.
#[derive(Debug)]
pub(crate) struct Shard {
    pub(crate) id: usize,
    pub(crate) listeners: Vec<ListenerInfo>,
    conns: Vec<Option<Conn>>,
    gens: Vec<u32>,
    free: Vec<u32>,
    edge: Edge,
    pub(crate) counters: Counters,
    tls: Option<Arc<rustls::ServerConfig>>,
    limits: Limits,
    conn_limits: Arc<ConnLimits>,
    out: Vec<u8>,
    /// Keyed by remote addresses an attacker can choose (UDP sources are spoofable): a
    /// randomly seeded hasher (foldhash), fast but not open to precomputed collisions.
    udp_flows: HashMap<(u16, SocketAddr), Instant, foldhash::fast::RandomState>,
    /// What one read of a connection delivered; kept to reuse its allocation.
    inbound: Vec<Inbound>,
    /// Datagrams to send, in order.
    pub(crate) udp_out: Vec<UdpTx>,
    dirty: Vec<ConnId>,
    epoch: std::time::Instant,
    next_tick: Instant,
    /// Set by [`Control::Drain`]: the deadline by which the shard exits.
    pub(crate) draining: Option<Instant>,
}

impl Shard {
    pub(crate) fn new(
        id: usize,
        config: &Config,
        tls: Option<Arc<rustls::ServerConfig>>,
        conn_limits: Arc<ConnLimits>,
        epoch: std::time::Instant,
        seed: u64,
    ) -> Self {
        let listeners: Vec<ListenerInfo> = config
            .listeners
            .iter()
            .map(|l| ListenerInfo {
                transport: l.transport,
                local: l.address,
                role: l.role,
            })
            .collect();
        let edge = Edge::new(
            &EdgeConfig {
                hosts: config.edge_hosts.clone(),
                listen: listeners.iter().map(|l| l.local).collect(),
                supported: config.supported.clone(),
            },
            seed ^ (id as u64).rotate_left(32),
        );
        Self {
            id,
            listeners,
            conns: Vec::new(),
            gens: Vec::new(),
            free: Vec::new(),
            edge,
            counters: Counters::default(),
            tls,
            limits: config.limits,
            conn_limits,
            out: Vec::with_capacity(2048),
            udp_flows: HashMap::default(),
            inbound: Vec::new(),
            udp_out: Vec::new(),
            dirty: Vec::new(),
            epoch,
            next_tick: Instant::default(),
            draining: None,
        }
    }

    /// The current time for the core.
    pub(crate) fn now(&self) -> Instant {
        Instant::from_epoch(self.epoch.elapsed())
    }

    /// When [`Shard::on_tick`] is next due.
    pub(crate) fn next_tick(&self) -> Instant {
        self.next_tick
    }

    /// How long a backend may sleep before the next tick.
    pub(crate) fn sleep_budget(&self, now: Instant) -> Duration {
        self.next_tick
            .since_epoch()
            .saturating_sub(now.since_epoch())
            .min(TICK)
    }

    /// A datagram arrived on UDP listener `listener`.
    pub(crate) fn on_datagram(
        &mut self,
        now: Instant,
        listener: usize,
        peer: SocketAddr,
        data: &[u8],
        truncated: bool,
    ) {
        if truncated {
            self.counters.drop(DropReason::Truncated);
            return;
        }
        let key = (listener as u16, peer);
        match self.udp_flows.get_mut(&key) {
            Some(seen) => *seen = now,
            None => {
                self.udp_flows.insert(key, now);
                self.counters.flows_open[Transport::Udp as usize] += 1;
            }
        }
        if stun::is_stun(data) {
            match stun::answer_binding(data, peer, &mut self.out) {
                Ok(()) => {
                    self.counters.stun_answered += 1;
                    self.udp_out.push(UdpTx {
                        listener,
                        peer,
                        data: Bytes::copy_from_slice(&self.out),
                    });
                }
                Err(_) => self.counters.drop(DropReason::Stun),
            }
            return;
        }
        if data.iter().all(|&b| b == b'\r' || b == b'\n') {
            // A CRLF keep-alive some UDP clients send (RFC 5626 §4.4.2 asks for STUN on UDP;
            // there is nothing to answer).
            return;
        }
        self.counters.received += 1;
        let src = Source {
            transport: Transport::Udp,
            remote: peer,
            local: self.listeners[listener].local,
        };
        // The one copy from the receive buffer into an owned, reference-counted message
        // buffer (the receive buffer goes back to the kernel at once).
        let outcome = match Message::parse_datagram(Bytes::copy_from_slice(data)) {
            Ok(m) => self
                .edge
                .handle_message(now, &m, &src, &mut self.out, &mut self.counters),
            Err(e) => self
                .edge
                .handle_malformed(&e, data, &src, &mut self.out, &mut self.counters),
        };
        match outcome {
            Outcome::Reply => {
                self.counters.sent += 1;
                self.udp_out.push(UdpTx {
                    listener,
                    peer,
                    data: Bytes::copy_from_slice(&self.out),
                });
            }
            Outcome::Drop(r) => self.counters.drop(r),
            Outcome::Absorbed => {}
        }
    }

    /// A stream listener accepted a connection. `Err` means close it at once (counted).
    pub(crate) fn on_accept(
        &mut self,
        now: Instant,
        listener: usize,
        peer: SocketAddr,
    ) -> Result<ConnId, CloseReason> {
        if self.draining.is_some() {
            self.counters.close(CloseReason::Shutdown);
            return Err(CloseReason::Shutdown);
        }
        if let Err(r) = self.conn_limits.admit(peer.ip()) {
            self.counters.close(r);
            return Err(r);
        }
        let transport = self.listeners[listener].transport;
        let stream = match StreamConn::new(transport, self.tls.as_ref()) {
            Ok(s) => s,
            Err(r) => {
                self.conn_limits.release(peer.ip());
                self.counters.close(r);
                return Err(r);
            }
        };
        let handshake_deadline = (!stream.is_established())
            .then(|| now.saturating_add(self.limits.tls_handshake_timeout));
        let conn = Conn {
            stream,
            listener,
            peer,
            handshake_deadline,
            last_activity: now,
            closing: None,
            flush_deadline: None,
        };
        let slot = match self.free.pop() {
            Some(s) => {
                self.conns[s as usize] = Some(conn);
                s
            }
            None => {
                self.conns.push(Some(conn));
                self.gens.push(0);
                (self.conns.len() - 1) as u32
            }
        };
        self.counters.accepted[transport as usize] += 1;
        self.counters.flows_open[transport as usize] += 1;
        Ok(ConnId {
            slot,
            gen: self.gens[slot as usize],
        })
    }

    /// The connection, if `id` is still current.
    pub(crate) fn conn(&mut self, id: ConnId) -> Option<&mut Conn> {
        if self.gens.get(id.slot as usize) != Some(&id.gen) {
            return None;
        }
        self.conns.get_mut(id.slot as usize)?.as_mut()
    }

    /// Octets read from a connection.
    pub(crate) fn on_conn_data(&mut self, now: Instant, id: ConnId, data: &[u8]) {
        let Some(slot) = self.conns.get_mut(id.slot as usize) else {
            return;
        };
        if self.gens[id.slot as usize] != id.gen {
            return;
        }
        let Some(conn) = slot.as_mut() else {
            return;
        };
        if conn.closing.is_some() {
            return;
        }
        conn.last_activity = now;
        let mut items = std::mem::take(&mut self.inbound);
        let r = conn.stream.on_bytes(data, &mut |i| items.push(i));
        if conn.stream.is_established() {
            conn.handshake_deadline = None;
        }
        let transport = conn.stream.transport();
        let peer = conn.peer;
        let local = self.listeners[conn.listener].local;
        let src = Source {
            transport,
            remote: peer,
            local,
        };
        for item in items.drain(..) {
            let outcome = match item {
                Inbound::Ping => {
                    self.counters.pings_answered += 1;
                    continue;
                }
                Inbound::Message(m) => {
                    self.counters.received += 1;
                    self.edge
                        .handle_message(now, &m, &src, &mut self.out, &mut self.counters)
                }
                Inbound::Malformed(e, raw) => {
                    self.counters.received += 1;
                    self.edge
                        .handle_malformed(&e, &raw, &src, &mut self.out, &mut self.counters)
                }
            };
            match outcome {
                Outcome::Reply => {
                    let out = std::mem::take(&mut self.out);
                    self.send_on_conn(id, &out);
                    self.out = out;
                }
                Outcome::Drop(r) => self.counters.drop(r),
                Outcome::Absorbed => {}
            }
        }
        self.inbound = items;
        if let Err(reason) = r {
            if reason == CloseReason::Framing {
                self.counters.drop(DropReason::StreamFraming);
            }
            self.close_conn(id, reason);
        }
        self.dirty.push(id);
    }

    /// Queues a message on a connection of this shard, closing a slow reader.
    fn send_on_conn(&mut self, id: ConnId, data: &[u8]) {
        let limit = self.limits.send_queue_bytes;
        let Some(conn) = self.conn(id) else {
            self.counters.drop(DropReason::FlowGone);
            return;
        };
        if conn.closing.is_some() {
            self.counters.drop(DropReason::FlowGone);
            return;
        }
        match conn.stream.send(data) {
            Ok(()) => {
                let over = conn.stream.tx().len() > limit;
                self.counters.sent += 1;
                if over {
                    // The peer is not reading: memory stays bounded by closing it.
                    self.counters.drop(DropReason::SendQueueFull);
                    self.close_conn(id, CloseReason::SlowReader);
                }
            }
            Err(r) => self.close_conn(id, r),
        }
        self.dirty.push(id);
    }

    /// Marks a connection for closing after its queue is flushed (a slow reader's queue is
    /// dropped: flushing it is what it prevents).
    fn close_conn(&mut self, id: ConnId, reason: CloseReason) {
        let Some(conn) = self.conn(id) else {
            return;
        };
        if conn.closing.is_some() {
            return;
        }
        conn.closing = Some(reason);
        if reason == CloseReason::SlowReader {
            let n = conn.stream.tx().len();
            conn.stream.tx().consume(n);
        } else {
            conn.stream.close_notify();
        }
        self.counters.close(reason);
        self.dirty.push(id);
    }

    /// The backend closed a connection's socket (peer closed, error, or after a closing flush).
    pub(crate) fn on_conn_closed(&mut self, id: ConnId) {
        if self.gens.get(id.slot as usize) != Some(&id.gen) {
            return;
        }
        let Some(conn) = self.conns[id.slot as usize].take() else {
            return;
        };
        if conn.closing.is_none() {
            self.counters.close(CloseReason::Peer);
        }
        let t = conn.stream.transport() as usize;
        self.counters.flows_open[t] = self.counters.flows_open[t].saturating_sub(1);
        self.conn_limits.release(conn.peer.ip());
        self.gens[id.slot as usize] = self.gens[id.slot as usize].wrapping_add(1);
        self.free.push(id.slot);
    }

    /// Connections that have something to write or are closing, since the last call.
    pub(crate) fn take_dirty(&mut self, into: &mut Vec<ConnId>) {
        into.clear();
        into.append(&mut self.dirty);
        into.sort_unstable_by_key(|c| (c.slot, c.gen));
        into.dedup();
    }

    /// Ids of every open connection (for shutdown).
    pub(crate) fn conn_ids(&self) -> Vec<ConnId> {
        self.conns
            .iter()
            .enumerate()
            .filter(|(_, c)| c.is_some())
            .map(|(i, _)| ConnId {
                slot: i as u32,
                gen: self.gens[i],
            })
            .collect()
    }

    /// Number of open connections.
    pub(crate) fn conn_count(&self) -> usize {
        self.conns.len() - self.free.len()
    }

    /// Timers: handshake deadlines, idle connections, UDP flow expiry, the drain deadline.
    pub(crate) fn on_tick(&mut self, now: Instant) {
        self.next_tick = now.saturating_add(TICK);
        let idle = self.limits.idle_timeout;
        let mut expired = Vec::new();
        for (i, c) in self.conns.iter_mut().enumerate() {
            let Some(c) = c else { continue };
            let id = ConnId {
                slot: i as u32,
                gen: self.gens[i],
            };
            if c.closing.is_some() {
                match c.flush_deadline {
                    None => c.flush_deadline = Some(now.saturating_add(CLOSE_FLUSH)),
                    Some(d) if now >= d => {
                        // Give up on the flush: the backend closes once the queue is empty.
                        let n = c.stream.tx().len();
                        c.stream.tx().consume(n);
                        self.dirty.push(id);
                    }
                    Some(_) => {}
                }
                continue;
            }
            if c.handshake_deadline.is_some_and(|d| now >= d) {
                expired.push((id, CloseReason::HandshakeTimeout));
            } else if now.saturating_since(c.last_activity) >= idle {
                expired.push((id, CloseReason::Idle));
            }
        }
        for (id, r) in expired {
            self.close_conn(id, r);
        }
        let life = self.limits.udp_flow_lifetime;
        let before = self.udp_flows.len();
        self.udp_flows
            .retain(|_, seen| now.saturating_since(*seen) < life);
        let gone = (before - self.udp_flows.len()) as u64;
        let open = &mut self.counters.flows_open[Transport::Udp as usize];
        *open = open.saturating_sub(gone);
        if let Some(deadline) = self.draining {
            if now >= deadline {
                for id in self.conn_ids() {
                    self.close_conn(id, CloseReason::Shutdown);
                }
            }
        }
    }

    /// A message from another thread. Returns true when the shard should start draining.
    pub(crate) fn on_control(&mut self, now: Instant, c: Control, drain_timeout: Duration) -> bool {
        match c {
            Control::Drain => {
                if self.draining.is_none() {
                    self.draining = Some(now.saturating_add(drain_timeout));
                    return true;
                }
            }
            Control::ReloadTls(cfg) => self.tls = Some(cfg),
            Control::Snapshot(reply) => {
                let _ = reply.send((self.id, self.counters));
            }
            Control::Send { flow, data } => self.send_on_flow(flow, data),
        }
        false
    }

    /// Sends on a flow this shard owns (the caller routed it here by `flow.shard`).
    pub(crate) fn send_on_flow(&mut self, flow: FlowId, data: Bytes) {
        match flow.kind {
            FlowKind::Udp { listener, remote } => {
                self.counters.sent += 1;
                self.udp_out.push(UdpTx {
                    listener: usize::from(listener),
                    peer: remote,
                    data,
                })
            }
            FlowKind::Conn(id) => self.send_on_conn(id, &data),
        }
    }

    /// Drain: every open connection is told to close once its queue is flushed.
    pub(crate) fn close_all(&mut self) {
        for id in self.conn_ids() {
            let idle = self.conn(id).is_some_and(|c| c.closing.is_none());
            if idle {
                self.close_conn(id, CloseReason::Shutdown);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shard() -> Shard {
        let cfg = crate::config::parse(crate::config::DEFAULT_CONFIG, None).unwrap();
        let limits = Arc::new(ConnLimits::new(&cfg.limits));
        Shard::new(0, &cfg, None, limits, std::time::Instant::now(), 1)
    }

    fn at(ms: u64) -> Instant {
        Instant::from_epoch(Duration::from_millis(ms))
    }

    #[test]
    fn a_closing_connection_that_cannot_flush_is_given_up_after_close_flush() {
        let mut s = shard();
        let peer: SocketAddr = "127.0.0.1:40000".parse().unwrap();
        let id = s.on_accept(at(0), 1, peer).unwrap();
        // A framing error: the 400 is queued and the connection is closing.
        let bad = b"OPTIONS sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bK1\r\n\
            From: <sip:a@b>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: x\r\nCSeq: 1 OPTIONS\r\n\
            Content-Length: abc\r\n\r\n";
        s.on_conn_data(at(0), id, bad);
        let c = s.conn(id).unwrap();
        assert_eq!(c.closing, Some(CloseReason::Framing));
        assert!(!c.stream.tx().is_empty(), "the 400 waits to be flushed");
        let mut dirty = Vec::new();
        s.take_dirty(&mut dirty);
        // The peer never reads: the queue stays until CLOSE_FLUSH has passed.
        s.on_tick(at(100));
        assert!(!s.conn(id).unwrap().stream.tx().is_empty());
        s.on_tick(at(100 + CLOSE_FLUSH.as_millis() as u64 + 1));
        assert!(s.conn(id).unwrap().stream.tx().is_empty());
        s.take_dirty(&mut dirty);
        assert_eq!(dirty, vec![id], "the backend is told to close it");
        s.on_conn_closed(id);
        assert_eq!(s.conn_count(), 0);
        assert_eq!(s.counters.closed(CloseReason::Framing), 1);
        assert_eq!(s.counters.flows_open[Transport::Tcp as usize], 0);
    }

    #[test]
    fn idle_connections_are_closed_at_the_idle_timeout() {
        let mut s = shard();
        let peer: SocketAddr = "127.0.0.1:40001".parse().unwrap();
        let id = s.on_accept(at(0), 1, peer).unwrap();
        let idle = s.limits.idle_timeout.as_millis() as u64;
        s.on_tick(at(idle - 1));
        assert!(s.conn(id).unwrap().closing.is_none());
        s.on_tick(at(idle));
        assert_eq!(s.conn(id).unwrap().closing, Some(CloseReason::Idle));
    }

    #[test]
    fn stale_ids_are_ignored_after_slot_reuse() {
        let mut s = shard();
        let peer: SocketAddr = "127.0.0.1:40002".parse().unwrap();
        let a = s.on_accept(at(0), 1, peer).unwrap();
        s.on_conn_closed(a);
        let b = s.on_accept(at(0), 1, peer).unwrap();
        assert_eq!(a.slot, b.slot);
        assert_ne!(a.gen, b.gen);
        assert!(s.conn(a).is_none());
        s.on_conn_closed(a); // a late completion for the old connection
        assert!(s.conn(b).is_some());
    }
}
