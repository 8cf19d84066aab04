//! The epoll backend, through mio: readiness events, then non-blocking reads until the kernel
//! says `WouldBlock` (mio is edge-triggered). UDP moves in batches with recvmmsg / sendmmsg
//! (nix's safe wrappers), streams with read / writev.

use std::io::{self, IoSlice, IoSliceMut, Read, Write};
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::time::Duration;

use mio::net::{TcpListener, TcpStream, UdpSocket};
use mio::{Events, Interest, Poll, Token};
use nix::sys::socket::{recvmmsg, sendmmsg, MsgFlags, MultiHeaders, SockaddrStorage};

use super::{
    ShardIo, ACCEPTS_PER_TURN, READS_PER_TURN, STREAM_READ_BUF, UDP_BATCH, UDP_BATCHES_PER_TURN,
};
use crate::shard::{ConnId, Shard};
use crate::transport::ListenSocket;

const WAKE: Token = Token(usize::MAX - 1);
/// Tokens of connections start here; below are listeners.
const CONN_BASE: usize = 1 << 20;

enum Listener {
    Udp(UdpSocket),
    Stream(Option<TcpListener>),
}

/// Runs one shard on epoll until it has drained.
pub(crate) fn run(shard: &mut Shard, io: ShardIo) -> io::Result<()> {
    let ShardIo {
        sockets,
        control,
        wake,
        woken,
        drain_timeout,
    } = io;
    let mut poll = Poll::new()?;
    let mut listeners = Vec::with_capacity(sockets.len());
    for (i, s) in sockets.into_iter().enumerate() {
        match s {
            ListenSocket::Udp(u) => {
                let mut u = UdpSocket::from_std(u);
                poll.registry().register(
                    &mut u,
                    Token(i),
                    Interest::READABLE | Interest::WRITABLE,
                )?;
                listeners.push(Listener::Udp(u));
            }
            ListenSocket::Stream(l) => {
                let mut l = TcpListener::from_std(l);
                poll.registry()
                    .register(&mut l, Token(i), Interest::READABLE)?;
                listeners.push(Listener::Stream(Some(l)));
            }
        }
    }
    let wake_fd = wake.as_raw_fd();
    poll.registry()
        .register(&mut mio::unix::SourceFd(&wake_fd), WAKE, Interest::READABLE)?;

    let mut conns: Vec<Option<(ConnId, TcpStream)>> = Vec::new();
    let mut events = Events::with_capacity(1024);
    let mut rbuf = vec![0u8; STREAM_READ_BUF];
    let mut udp = UdpBufs::new();
    // Sources that hit their per-turn budget before WouldBlock: revisit without sleeping.
    let mut pending: Vec<Token> = Vec::new();
    let mut dirty = Vec::new();
    // Scratch reused every turn: nothing on the message path allocates per turn.
    let mut ready: Vec<Token> = Vec::new();
    let mut more = Vec::new();

    loop {
        let now = shard.now();
        let timeout = if pending.is_empty() {
            shard.sleep_budget(now)
        } else {
            Duration::ZERO
        };
        if let Err(e) = poll.poll(&mut events, Some(timeout)) {
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(e);
            }
        }
        let now = shard.now();
        ready.clear();
        ready.extend(events.iter().map(|e| e.token()));
        ready.append(&mut pending);
        ready.sort_unstable();
        ready.dedup();
        for &token in &ready {
            if token == WAKE {
                // Reading resets the eventfd counter (EAGAIN when already zero).
                let _ = wake.read();
                woken.store(false, std::sync::atomic::Ordering::Release);
                while let Ok(c) = control.try_recv() {
                    if shard.on_control(now, c, drain_timeout) {
                        begin_drain(shard, &mut poll, &mut listeners, &mut udp, now)?;
                    }
                }
            } else if token.0 < CONN_BASE {
                match &mut listeners[token.0] {
                    Listener::Udp(sock) => {
                        if udp.recv_some(shard, token.0, sock, now)? {
                            pending.push(token);
                        }
                    }
                    Listener::Stream(Some(l)) => {
                        for n in 0.. {
                            if n == ACCEPTS_PER_TURN {
                                pending.push(token);
                                break;
                            }
                            match l.accept() {
                                Ok((mut s, peer)) => match shard.on_accept(now, token.0, peer) {
                                    Ok(id) => {
                                        let _ = s.set_nodelay(true);
                                        let t = Token(CONN_BASE + id.slot as usize);
                                        poll.registry().register(
                                            &mut s,
                                            t,
                                            Interest::READABLE | Interest::WRITABLE,
                                        )?;
                                        let slot = id.slot as usize;
                                        if conns.len() <= slot {
                                            conns.resize_with(slot + 1, || None);
                                        }
                                        conns[slot] = Some((id, s));
                                    }
                                    Err(_) => drop(s),
                                },
                                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                                // ECONNABORTED, EMFILE...: logged, the listener stays up.
                                Err(e) => {
                                    tracing::warn!(shard = shard.id, error = %e, "accept failed");
                                    break;
                                }
                            }
                        }
                    }
                    Listener::Stream(None) => {}
                }
            } else {
                let slot = token.0 - CONN_BASE;
                let Some(Some((id, s))) = conns.get_mut(slot) else {
                    continue;
                };
                let id = *id;
                let mut closed = false;
                for n in 0.. {
                    if n == READS_PER_TURN {
                        pending.push(token);
                        break;
                    }
                    match s.read(&mut rbuf) {
                        Ok(0) => {
                            closed = true;
                            break;
                        }
                        Ok(k) => shard.on_conn_data(now, id, &rbuf[..k]),
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(_) => {
                            closed = true;
                            break;
                        }
                    }
                }
                if closed {
                    close(&mut poll, &mut conns, slot);
                    shard.on_conn_closed(id);
                } else {
                    // Writable edge, or new output: flush below.
                    dirty.push(id);
                }
            }
        }
        if now >= shard.next_tick() {
            shard.on_tick(now);
        }
        if shard.draining.is_some() {
            shard.close_all();
        }

        // Output: datagrams, then connections.
        for (l, listener) in listeners.iter().enumerate() {
            if let Listener::Udp(sock) = listener {
                udp.send_queued(shard, l, sock);
            }
        }
        shard.udp_out.clear();
        shard.take_dirty(&mut more);
        dirty.append(&mut more);
        dirty.sort_unstable_by_key(|c: &ConnId| (c.slot, c.gen));
        dirty.dedup();
        for id in dirty.drain(..) {
            let slot = id.slot as usize;
            let Some(Some((cid, s))) = conns.get_mut(slot) else {
                continue;
            };
            if *cid != id {
                continue;
            }
            let Some(conn) = shard.conn(id) else { continue };
            let mut failed = false;
            while !conn.stream.tx().is_empty() {
                let mut slices = Vec::with_capacity(8);
                conn.stream.tx().slices(&mut slices, 64);
                let r = s.write_vectored(&slices);
                drop(slices);
                match r {
                    Ok(n) => conn.stream.tx().consume(n),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(_) => {
                        failed = true;
                        break;
                    }
                }
            }
            let done = failed || (conn.closing.is_some() && conn.stream.tx().is_empty());
            if done {
                close(&mut poll, &mut conns, slot);
                shard.on_conn_closed(id);
            }
        }

        if shard.draining.is_some() {
            if shard.conn_count() == 0 && shard.udp_out.is_empty() {
                return Ok(());
            }
            if shard.draining.is_some_and(|d| now >= d) {
                // Past the deadline: whatever could not be flushed is abandoned.
                for slot in 0..conns.len() {
                    if let Some((id, _)) = conns[slot] {
                        close(&mut poll, &mut conns, slot);
                        shard.on_conn_closed(id);
                    }
                }
                return Ok(());
            }
        }
    }
}

fn close(poll: &mut Poll, conns: &mut [Option<(ConnId, TcpStream)>], slot: usize) {
    if let Some((_, mut s)) = conns[slot].take() {
        let _ = poll.registry().deregister(&mut s);
        let _ = s.shutdown(std::net::Shutdown::Both);
    }
}

/// Drain begins: stop accepting; read what UDP has already queued (received before the signal)
/// and answer it; then stop receiving. Connections are answered and closed by the loop.
fn begin_drain(
    shard: &mut Shard,
    poll: &mut Poll,
    listeners: &mut [Listener],
    udp: &mut UdpBufs,
    now: edge_core::Instant,
) -> io::Result<()> {
    for (i, l) in listeners.iter_mut().enumerate() {
        match l {
            Listener::Stream(slot) => {
                if let Some(mut l) = slot.take() {
                    let _ = poll.registry().deregister(&mut l);
                }
            }
            Listener::Udp(sock) => {
                while udp.recv_some(shard, i, sock, now)? {}
                let _ = poll.registry().deregister(sock);
            }
        }
    }
    Ok(())
}

/// Buffers for batched UDP: `UDP_BATCH` datagram slots for recvmmsg, and header space for both
/// directions, allocated once per shard.
struct UdpBufs {
    rx: Vec<u8>,
    rx_headers: MultiHeaders<SockaddrStorage>,
    tx_headers: MultiHeaders<SockaddrStorage>,
}

/// One datagram slot: the largest UDP payload.
const SLOT: usize = 65_536;

impl UdpBufs {
    fn new() -> Self {
        Self {
            rx: vec![0u8; SLOT * UDP_BATCH],
            rx_headers: MultiHeaders::preallocate(UDP_BATCH, None),
            tx_headers: MultiHeaders::preallocate(UDP_BATCH, None),
        }
    }

    /// Reads up to `UDP_BATCHES_PER_TURN` batches. True when the budget ran out first.
    fn recv_some(
        &mut self,
        shard: &mut Shard,
        listener: usize,
        sock: &UdpSocket,
        now: edge_core::Instant,
    ) -> io::Result<bool> {
        let fd = sock.as_raw_fd();
        for _ in 0..UDP_BATCHES_PER_TURN {
            let mut meta = [(0usize, None::<SocketAddr>, false); UDP_BATCH];
            let n = {
                let mut iovs: Vec<[IoSliceMut<'_>; 1]> = self
                    .rx
                    .chunks_mut(SLOT)
                    .map(|c| [IoSliceMut::new(c)])
                    .collect();
                match recvmmsg(
                    fd,
                    &mut self.rx_headers,
                    iovs.iter_mut(),
                    MsgFlags::MSG_DONTWAIT,
                    None,
                ) {
                    Ok(res) => {
                        let mut n = 0;
                        for (m, r) in meta.iter_mut().zip(res) {
                            *m = (
                                r.bytes,
                                r.address.and_then(|a| to_std(&a)),
                                r.flags.contains(MsgFlags::MSG_TRUNC),
                            );
                            n += 1;
                        }
                        n
                    }
                    Err(nix::errno::Errno::EAGAIN) => return Ok(false),
                    Err(nix::errno::Errno::EINTR) => continue,
                    Err(e) => {
                        // ECONNREFUSED from an earlier send's ICMP, etc.: not this socket's end.
                        tracing::debug!(shard = shard.id, error = %e, "recvmmsg");
                        return Ok(false);
                    }
                }
            };
            for (i, (len, peer, trunc)) in meta.iter().take(n).enumerate() {
                if let Some(peer) = peer {
                    let start = i * SLOT;
                    shard.on_datagram(now, listener, *peer, &self.rx[start..start + len], *trunc);
                }
            }
            if n < UDP_BATCH {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Sends the shard's queued datagrams for `listener` with sendmmsg.
    fn send_queued(&mut self, shard: &mut Shard, listener: usize, sock: &UdpSocket) {
        let fd = sock.as_raw_fd();
        let queued: Vec<usize> = shard
            .udp_out
            .iter()
            .enumerate()
            .filter(|(_, t)| t.listener == listener)
            .map(|(i, _)| i)
            .collect();
        for chunk in queued.chunks(UDP_BATCH) {
            let mut at = 0;
            while at < chunk.len() {
                let part = &chunk[at..];
                let iovs: Vec<[IoSlice<'_>; 1]> = part
                    .iter()
                    .map(|&i| [IoSlice::new(&shard.udp_out[i].data)])
                    .collect();
                let addrs: Vec<Option<SockaddrStorage>> = part
                    .iter()
                    .map(|&i| Some(SockaddrStorage::from(shard.udp_out[i].peer)))
                    .collect();
                match sendmmsg(
                    fd,
                    &mut self.tx_headers,
                    &iovs,
                    &addrs,
                    [],
                    MsgFlags::MSG_DONTWAIT,
                ) {
                    Ok(res) => {
                        let sent = res.count();
                        at += sent.max(1);
                    }
                    Err(nix::errno::Errno::EINTR) => {}
                    Err(e) => {
                        // A full send buffer or an unreachable peer: the datagram is lost, as UDP
                        // allows (SIP retransmission covers it), and counted.
                        tracing::debug!(shard = shard.id, error = %e, "sendmmsg");
                        shard
                            .counters
                            .drop(edge_core::counters::DropReason::SendFailed);
                        at += 1;
                    }
                }
            }
        }
    }
}

fn to_std(a: &SockaddrStorage) -> Option<SocketAddr> {
    if let Some(v4) = a.as_sockaddr_in() {
        return Some(SocketAddr::V4((*v4).into()));
    }
    a.as_sockaddr_in6().map(|v6| SocketAddr::V6((*v6).into()))
}
