//! The io_uring backend: completion-based I/O with one `io_uring_enter` per loop turn.
//!
//! - UDP: one multishot `RECVMSG` per socket, selecting buffers from a provided-buffer ring
//!   (the kernel picks a free buffer per datagram; no per-datagram SQE). Replies are `SEND`
//!   with a destination address, batched into the next submission.
//! - Streams: multishot `ACCEPT` per listener; per connection a multishot `RECV` from a second
//!   buffer ring (memory per idle connection: none) and at most one `SEND` in flight.
//! - Wake-ups from other threads: a `RECV` on the shard's wake socket.
//!
//! This is the one file where the runtime uses `unsafe`: pushing an SQE hands the kernel raw
//! pointers, and the provided-buffer ring is memory shared with the kernel. Each invariant is
//! stated next to the field it protects, and each `unsafe` block says which one it relies on.
#![allow(unsafe_code)]

use std::alloc::{alloc_zeroed, dealloc, Layout};
use std::io;
use std::net::{
    Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6, TcpListener, TcpStream, UdpSocket,
};
use std::os::fd::{AsRawFd, FromRawFd, RawFd};
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::Duration;

use bytes::Bytes;
use io_uring::types::{BufRingEntry, Fd, RecvMsgOut, SubmitArgs, Timespec};
use io_uring::{cqueue, opcode, squeue, IoUring, Probe};
use socket2::SockAddr;

use super::ShardIo;
use crate::shard::{ConnId, Shard};
use crate::transport::ListenSocket;

/// Submission queue entries (the completion queue gets twice as many). A turn never queues
/// more than this without submitting: `push` flushes when the queue is full.
const RING_ENTRIES: u32 = 1024;
/// Provided buffers for UDP: datagrams the kernel can deliver before the shard returns any.
const UDP_BUFFERS: u16 = 128;
/// One UDP buffer: the recvmsg header, the source address, and the largest SIP datagram we
/// accept whole (larger ones arrive truncated and are dropped and counted, as on epoll).
const UDP_BUF_SIZE: usize = 65_536 + 256;
/// Provided buffers for stream reads, shared by all connections of the shard.
const STREAM_BUFFERS: u16 = 256;
const STREAM_BUF_SIZE: usize = 16 * 1024;
const UDP_GROUP: u16 = 0;
const STREAM_GROUP: u16 = 1;
/// Address space in the recvmsg template: a sockaddr_in6 (28 octets) rounded up.
const NAME_LEN: u32 = 32;

// user_data layout: kind in the top 8 bits, then 24 bits of slot and 32 bits of generation
// (connections) or an index (listeners, UDP send slots).
const K_UDP_RECV: u64 = 1;
const K_ACCEPT: u64 = 2;
const K_RECV: u64 = 3;
const K_SEND: u64 = 4;
const K_UDP_SEND: u64 = 5;
const K_WAKE: u64 = 6;
const K_CANCEL: u64 = 7;

fn ud(kind: u64, slot: u32, gen: u32) -> u64 {
    kind << 56 | u64::from(slot & 0x00FF_FFFF) << 32 | u64::from(gen)
}

fn ud_parts(u: u64) -> (u64, u32, u32) {
    (u >> 56, ((u >> 32) & 0x00FF_FFFF) as u32, u as u32)
}

/// Checks that this kernel runs what the backend needs: a ring, the opcodes, a provided-buffer
/// ring (5.19), multishot recvmsg / recv / accept (6.0).
pub(crate) fn probe() -> Result<(), String> {
    let ring = IoUring::new(8).map_err(|e| {
        format!(
            "io_uring_setup failed: {e} (disabled by sysctl kernel.io_uring_disabled or seccomp?)"
        )
    })?;
    let mut p = Probe::new();
    ring.submitter()
        .register_probe(&mut p)
        .map_err(|e| format!("io_uring probe failed: {e}"))?;
    for (code, name) in [
        (opcode::RecvMsg::CODE, "RECVMSG"),
        (opcode::Recv::CODE, "RECV"),
        (opcode::Send::CODE, "SEND"),
        (opcode::Accept::CODE, "ACCEPT"),
        (opcode::AsyncCancel::CODE, "ASYNC_CANCEL"),
    ] {
        if !p.is_supported(code) {
            return Err(format!("io_uring lacks {name}"));
        }
    }
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let mut it = release
        .trim()
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|s| s.parse::<u32>().ok());
    let (major, minor) = (it.next().unwrap_or(0), it.next().unwrap_or(0));
    if (major, minor) < (6, 0) {
        return Err(format!(
            "kernel {} < 6.0: no multishot recvmsg",
            release.trim()
        ));
    }
    let b = BufRing::new(&ring, 8, 7, 64).map_err(|e| format!("provided buffer ring: {e}"))?;
    b.unregister(&ring);
    Ok(())
}

/// A provided-buffer ring: `entries` buffers of `size` octets that the kernel picks from.
///
/// Invariants (what makes the `unsafe` below sound):
/// - `ring` points to `entries * 16` zeroed octets, page aligned, allocated here with `layout`
///   and registered with the kernel; it is freed only in `Drop`, after `unregister` (or when
///   registration failed).
/// - `bufs` is never resized after creation, so the addresses written into the ring stay valid
///   for the ring's whole life. A buffer id handed to the kernel is not read by us until a
///   completion returns it, and is handed back exactly once per completion.
struct BufRing {
    ring: *mut BufRingEntry,
    layout: Layout,
    bufs: Box<[u8]>,
    size: usize,
    entries: u16,
    bgid: u16,
    /// Our copy of the tail; published to the kernel by `publish`.
    tail: u16,
    registered: bool,
}

impl BufRing {
    fn new(ring: &IoUring, entries: u16, bgid: u16, size: usize) -> io::Result<Self> {
        assert!(entries.is_power_of_two());
        let layout = Layout::from_size_align(
            usize::from(entries) * std::mem::size_of::<BufRingEntry>(),
            4096,
        )
        .map_err(|_| io::Error::other("buffer ring layout"))?;
        // SAFETY: the layout has a non-zero size.
        let mem = unsafe { alloc_zeroed(layout) } as *mut BufRingEntry;
        if mem.is_null() {
            return Err(io::Error::from(io::ErrorKind::OutOfMemory));
        }
        let mut b = Self {
            ring: mem,
            layout,
            bufs: vec![0u8; usize::from(entries) * size].into_boxed_slice(),
            size,
            entries,
            bgid,
            tail: 0,
            registered: false,
        };
        // SAFETY: `mem` is a page-aligned, zeroed allocation of `entries` entries that lives
        // until Drop, which unregisters first (invariant 1).
        unsafe {
            ring.submitter()
                .register_buf_ring_with_flags(mem as u64, entries, bgid, 0)?;
        }
        b.registered = true;
        for bid in 0..entries {
            b.give(bid);
        }
        b.publish();
        Ok(b)
    }

    /// Hands buffer `bid` to the kernel (visible after `publish`).
    fn give(&mut self, bid: u16) {
        let idx = usize::from(self.tail & (self.entries - 1));
        // SAFETY: idx < entries, within the allocation (invariant 1); the kernel reads entries
        // only up to the published tail, and this one is past it until `publish`.
        let e = unsafe { &mut *self.ring.add(idx) };
        let off = usize::from(bid) * self.size;
        e.set_addr(self.bufs[off..].as_ptr() as u64);
        e.set_len(self.size as u32);
        e.set_bid(bid);
        self.tail = self.tail.wrapping_add(1);
    }

    /// Makes the given buffers visible to the kernel.
    fn publish(&self) {
        // SAFETY: `tail` points into the first entry's reserved field, inside the allocation;
        // the kernel reads it concurrently, hence the atomic release store.
        unsafe {
            let tail = BufRingEntry::tail(self.ring) as *const AtomicU16;
            (*tail).store(self.tail, Ordering::Release);
        }
    }

    /// The first `len` octets of buffer `bid`, which a completion just returned to us.
    fn buf(&self, bid: u16, len: usize) -> &[u8] {
        let off = usize::from(bid) * self.size;
        &self.bufs[off..off + len.min(self.size)]
    }

    fn unregister(mut self, ring: &IoUring) {
        if ring.submitter().unregister_buf_ring(self.bgid).is_ok() {
            self.registered = false;
        }
    }
}

impl Drop for BufRing {
    fn drop(&mut self) {
        if self.registered {
            // The ring is going away with us (the IoUring is dropped first, in `run`), or
            // unregistering failed: leaking the entries is the only sound choice.
            return;
        }
        // SAFETY: allocated in `new` with this layout, no longer registered (invariant 1).
        unsafe { dealloc(self.ring as *mut u8, self.layout) }
    }
}

enum Listener {
    /// The socket, the recvmsg template (must outlive the multishot op: invariant of
    /// `RecvMsgMulti`, the kernel reads `msg_namelen` / `msg_controllen` at each completion),
    /// and whether the multishot op is armed.
    Udp(UdpSocket, Box<libc::msghdr>, bool),
    /// A stream listener and whether its multishot accept is armed. `None` once closed (drain).
    Stream(Option<TcpListener>, bool),
}

/// A connection's socket and what the kernel holds of it.
struct UConn {
    id: ConnId,
    sock: TcpStream,
    /// The chunk a SEND in flight reads from. Kept here (a reference-counted clone) so the
    /// memory outlives the operation even if the shard drops its queue meanwhile.
    inflight: Option<Bytes>,
    recv_armed: bool,
    closed: bool,
}

/// A datagram in flight: its bytes and destination stay here until the SEND completes.
struct UdpSend {
    data: Bytes,
    addr: Box<SockAddr>,
}

struct Driver {
    ring: IoUring,
    udp_bufs: BufRing,
    stream_bufs: BufRing,
    listeners: Vec<Listener>,
    conns: Vec<Option<UConn>>,
    udp_sends: Vec<Option<UdpSend>>,
    udp_free: Vec<u32>,
    wake: std::os::unix::net::UnixDatagram,
    /// Target of the wake socket's RECV; boxed so its address is stable while armed.
    wake_buf: Box<[u8; 64]>,
    wake_armed: bool,
}

impl Driver {
    /// Queues an SQE, submitting first when the queue is full.
    ///
    /// # Safety
    /// Every pointer in `e` must stay valid until its completion arrives (the callers point
    /// only at memory owned by `self` per the invariants above, or at boxed fields of it).
    unsafe fn push(&mut self, e: squeue::Entry) -> io::Result<()> {
        loop {
            // SAFETY: forwarded from the caller.
            if unsafe { self.ring.submission().push(&e) }.is_ok() {
                return Ok(());
            }
            self.ring.submit()?;
        }
    }

    fn arm_udp(&mut self, i: usize) -> io::Result<()> {
        let Listener::Udp(sock, hdr, armed) = &mut self.listeners[i] else {
            return Ok(());
        };
        if *armed {
            return Ok(());
        }
        *armed = true;
        let e = opcode::RecvMsgMulti::new(
            Fd(sock.as_raw_fd()),
            &**hdr as *const libc::msghdr,
            UDP_GROUP,
        )
        .build()
        .user_data(ud(K_UDP_RECV, i as u32, 0));
        // SAFETY: the msghdr is boxed in the listener, which lives until the shard ends.
        unsafe { self.push(e) }
    }

    fn arm_accept(&mut self, i: usize) -> io::Result<()> {
        let Listener::Stream(Some(l), armed) = &mut self.listeners[i] else {
            return Ok(());
        };
        if *armed {
            return Ok(());
        }
        *armed = true;
        let e = opcode::AcceptMulti::new(Fd(l.as_raw_fd()))
            .build()
            .user_data(ud(K_ACCEPT, i as u32, 0));
        // SAFETY: no pointers.
        unsafe { self.push(e) }
    }

    fn arm_recv(&mut self, slot: usize) -> io::Result<()> {
        let Some(Some(c)) = self.conns.get_mut(slot) else {
            return Ok(());
        };
        if c.recv_armed || c.closed {
            return Ok(());
        }
        c.recv_armed = true;
        let e = opcode::RecvMulti::new(Fd(c.sock.as_raw_fd()), STREAM_GROUP)
            .build()
            .user_data(ud(K_RECV, c.id.slot, c.id.gen));
        // SAFETY: buffers come from the stream ring (BufRing invariants).
        unsafe { self.push(e) }
    }

    fn arm_wake(&mut self) -> io::Result<()> {
        if self.wake_armed {
            return Ok(());
        }
        self.wake_armed = true;
        let e = opcode::Recv::new(Fd(self.wake.as_raw_fd()), self.wake_buf.as_mut_ptr(), 64)
            .build()
            .user_data(ud(K_WAKE, 0, 0));
        // SAFETY: wake_buf is boxed in the driver and lives until the shard ends.
        unsafe { self.push(e) }
    }

    fn cancel(&mut self, target: u64) -> io::Result<()> {
        let e = opcode::AsyncCancel::new(target)
            .build()
            .user_data(ud(K_CANCEL, 0, 0));
        // SAFETY: no pointers.
        unsafe { self.push(e) }
    }

    /// Starts a SEND of the connection's next chunk if none is in flight.
    fn send_next(&mut self, shard: &mut Shard, id: ConnId) -> io::Result<()> {
        let slot = id.slot as usize;
        let Some(Some(c)) = self.conns.get_mut(slot) else {
            return Ok(());
        };
        if c.id != id || c.inflight.is_some() || c.closed {
            return Ok(());
        }
        let Some(conn) = shard.conn(id) else {
            return Ok(());
        };
        let Some(chunk) = conn.stream.tx().front().cloned() else {
            return Ok(());
        };
        let (ptr, len) = (chunk.as_ptr(), chunk.len().min(u32::MAX as usize) as u32);
        let fd = c.sock.as_raw_fd();
        c.inflight = Some(chunk);
        let e = opcode::Send::new(Fd(fd), ptr, len)
            .flags(libc::MSG_NOSIGNAL)
            .build()
            .user_data(ud(K_SEND, id.slot, id.gen));
        // SAFETY: the chunk is held in `inflight` until this SEND completes.
        unsafe { self.push(e) }
    }

    fn send_udp(&mut self, listener: usize, peer: SocketAddr, data: Bytes) -> io::Result<()> {
        let Listener::Udp(sock, _, _) = &self.listeners[listener] else {
            return Ok(());
        };
        let fd = sock.as_raw_fd();
        let s = UdpSend {
            data,
            addr: Box::new(SockAddr::from(peer)),
        };
        let (ptr, len) = (s.data.as_ptr(), s.data.len() as u32);
        let (aptr, alen) = (s.addr.as_ptr(), s.addr.len());
        let idx = match self.udp_free.pop() {
            Some(i) => {
                self.udp_sends[i as usize] = Some(s);
                i
            }
            None => {
                self.udp_sends.push(Some(s));
                (self.udp_sends.len() - 1) as u32
            }
        };
        let e = opcode::Send::new(Fd(fd), ptr, len)
            .dest_addr(aptr)
            .dest_addr_len(alen)
            .build()
            .user_data(ud(K_UDP_SEND, idx, 0));
        // SAFETY: data and address live in `udp_sends[idx]` until this SEND completes.
        unsafe { self.push(e) }
    }

    /// Closes a connection's socket once nothing of the kernel's refers to our memory.
    fn try_close(&mut self, shard: &mut Shard, slot: usize) -> io::Result<()> {
        let Some(Some(c)) = self.conns.get_mut(slot) else {
            return Ok(());
        };
        if !c.closed {
            c.closed = true;
            let _ = c.sock.shutdown(std::net::Shutdown::Both);
            if c.recv_armed {
                let target = ud(K_RECV, c.id.slot, c.id.gen);
                self.cancel(target)?;
            }
        }
        let Some(Some(c)) = self.conns.get_mut(slot) else {
            return Ok(());
        };
        if c.inflight.is_none() && !c.recv_armed {
            let id = c.id;
            self.conns[slot] = None; // drops the TcpStream: close(2)
            shard.on_conn_closed(id);
        }
        Ok(())
    }
}

/// Runs one shard on io_uring until it has drained.
pub(crate) fn run(shard: &mut Shard, sio: ShardIo) -> io::Result<()> {
    let ShardIo {
        sockets,
        control,
        wake,
        woken,
        drain_timeout,
    } = sio;
    let ring = IoUring::builder()
        .setup_coop_taskrun()
        .setup_single_issuer()
        .build(RING_ENTRIES)
        .or_else(|_| IoUring::new(RING_ENTRIES))?;
    let udp_bufs = BufRing::new(&ring, UDP_BUFFERS, UDP_GROUP, UDP_BUF_SIZE)?;
    let stream_bufs = BufRing::new(&ring, STREAM_BUFFERS, STREAM_GROUP, STREAM_BUF_SIZE)?;
    let listeners = sockets
        .into_iter()
        .map(|s| match s {
            ListenSocket::Udp(u) => {
                // SAFETY: msghdr is plain old data; all-zero is a valid value.
                let mut hdr: Box<libc::msghdr> = Box::new(unsafe { std::mem::zeroed() });
                hdr.msg_namelen = NAME_LEN;
                Listener::Udp(u, hdr, false)
            }
            ListenSocket::Stream(l) => Listener::Stream(Some(l), false),
        })
        .collect();
    let mut d = Driver {
        ring,
        udp_bufs,
        stream_bufs,
        listeners,
        conns: Vec::new(),
        udp_sends: Vec::new(),
        udp_free: Vec::new(),
        wake,
        wake_buf: Box::new([0; 64]),
        wake_armed: false,
    };
    let r = run_loop(shard, &mut d, &control, &woken, drain_timeout);
    // Drop order: sockets close, then the ring (cancelling what is left), then the buffer
    // memory (BufRing::drop leaks rather than free memory still registered).
    let Driver {
        ring,
        udp_bufs,
        stream_bufs,
        listeners,
        conns,
        ..
    } = d;
    drop(listeners);
    drop(conns);
    udp_bufs.unregister(&ring);
    stream_bufs.unregister(&ring);
    drop(ring);
    r
}

fn run_loop(
    shard: &mut Shard,
    d: &mut Driver,
    control: &crossbeam_channel::Receiver<crate::shard::Control>,
    woken: &std::sync::atomic::AtomicBool,
    drain_timeout: Duration,
) -> io::Result<()> {
    for i in 0..d.listeners.len() {
        d.arm_udp(i)?;
        d.arm_accept(i)?;
    }
    d.arm_wake()?;
    let mut cqes: Vec<(u64, i32, u32)> = Vec::with_capacity(RING_ENTRIES as usize * 2);
    let mut dirty = Vec::new();
    let mut drain_started = false;
    loop {
        let now = shard.now();
        let wait = shard.sleep_budget(now);
        let ts = Timespec::new()
            .sec(wait.as_secs())
            .nsec(wait.subsec_nanos());
        if d.ring.completion().is_empty() {
            match d
                .ring
                .submitter()
                .submit_with_args(1, &SubmitArgs::new().timespec(&ts))
            {
                Ok(_) => {}
                Err(e)
                    if matches!(
                        e.raw_os_error(),
                        Some(libc::ETIME) | Some(libc::EINTR) | Some(libc::EBUSY)
                    ) => {}
                Err(e) => return Err(e),
            }
        } else {
            d.ring.submit()?;
        }
        cqes.clear();
        cqes.extend(
            d.ring
                .completion()
                .map(|c: cqueue::Entry| (c.user_data(), c.result(), c.flags())),
        );
        let now = shard.now();
        let mut udp_returned = false;
        let mut stream_returned = false;
        for &(u, res, flags) in &cqes {
            let (kind, slot, gen) = ud_parts(u);
            match kind {
                K_UDP_RECV => {
                    let i = slot as usize;
                    if !cqueue::more(flags) {
                        if let Listener::Udp(_, _, armed) = &mut d.listeners[i] {
                            *armed = false;
                        }
                    }
                    let Some(bid) = cqueue::buffer_select(flags) else {
                        continue;
                    };
                    if res > 0 {
                        let Listener::Udp(_, hdr, _) = &d.listeners[i] else {
                            continue;
                        };
                        let buf = d.udp_bufs.buf(bid, res as usize);
                        if let Ok(out) = RecvMsgOut::parse(buf, hdr) {
                            if let Some(peer) = sockaddr(out.name_data()) {
                                shard.on_datagram(
                                    now,
                                    i,
                                    peer,
                                    out.payload_data(),
                                    out.is_payload_truncated(),
                                );
                            }
                        }
                    }
                    d.udp_bufs.give(bid);
                    udp_returned = true;
                }
                K_ACCEPT => {
                    let i = slot as usize;
                    if !cqueue::more(flags) {
                        if let Listener::Stream(_, armed) = &mut d.listeners[i] {
                            *armed = false;
                        }
                    }
                    if res < 0 {
                        continue;
                    }
                    // SAFETY: a successful accept completion's result is a new descriptor we own.
                    let sock = unsafe { TcpStream::from_raw_fd(res as RawFd) };
                    let Ok(peer) = sock.peer_addr() else { continue };
                    match shard.on_accept(now, i, peer) {
                        Ok(id) => {
                            let _ = sock.set_nodelay(true);
                            let s = id.slot as usize;
                            if d.conns.len() <= s {
                                d.conns.resize_with(s + 1, || None);
                            }
                            d.conns[s] = Some(UConn {
                                id,
                                sock,
                                inflight: None,
                                recv_armed: false,
                                closed: false,
                            });
                            d.arm_recv(s)?;
                        }
                        Err(_) => drop(sock),
                    }
                }
                K_RECV => {
                    let s = slot as usize;
                    let bid = cqueue::buffer_select(flags);
                    let current = matches!(d.conns.get(s), Some(Some(c)) if c.id.gen == gen);
                    if let (Some(bid), true, true) = (bid, current, res > 0) {
                        let data = d.stream_bufs.buf(bid, res as usize);
                        shard.on_conn_data(now, ConnId { slot, gen }, data);
                    }
                    if let Some(bid) = bid {
                        d.stream_bufs.give(bid);
                        stream_returned = true;
                    }
                    if !current {
                        continue;
                    }
                    let more = cqueue::more(flags);
                    if let Some(Some(c)) = d.conns.get_mut(s) {
                        if !more {
                            c.recv_armed = false;
                        }
                    }
                    if res == 0 || (res < 0 && res != -libc::ENOBUFS) {
                        // EOF or error (ECANCELED after our own close).
                        d.try_close(shard, s)?;
                    } else if !more {
                        // Out of provided buffers (ENOBUFS) or the kernel ended the multishot:
                        // re-arm once buffers are back.
                        d.arm_recv(s)?;
                    }
                }
                K_SEND => {
                    let s = slot as usize;
                    let current = matches!(d.conns.get(s), Some(Some(c)) if c.id.gen == gen);
                    if !current {
                        continue;
                    }
                    if let Some(Some(c)) = d.conns.get_mut(s) {
                        c.inflight = None;
                    }
                    let id = ConnId { slot, gen };
                    if res < 0 {
                        d.try_close(shard, s)?;
                        continue;
                    }
                    if let Some(conn) = shard.conn(id) {
                        conn.stream.tx().consume(res as usize);
                    }
                    dirty.push(id);
                }
                K_UDP_SEND => {
                    if let Some(x) = d.udp_sends.get_mut(slot as usize) {
                        if x.take().is_some() {
                            d.udp_free.push(slot);
                        }
                    }
                }
                K_WAKE => {
                    d.wake_armed = false;
                    woken.store(false, Ordering::Release);
                    while let Ok(c) = control.try_recv() {
                        shard.on_control(now, c, drain_timeout);
                    }
                }
                _ => {} // K_CANCEL: nothing to do, the target op completes on its own.
            }
        }
        if udp_returned {
            d.udp_bufs.publish();
        }
        if stream_returned {
            d.stream_bufs.publish();
        }
        if now >= shard.next_tick() {
            shard.on_tick(now);
        }

        // Drain: stop accepting, take what UDP already holds, stop receiving.
        if shard.draining.is_some() && !drain_started {
            drain_started = true;
            for i in 0..d.listeners.len() {
                let mut cancel = None;
                let mut udp = None;
                match &mut d.listeners[i] {
                    Listener::Stream(l, armed) => {
                        if *armed {
                            cancel = Some(ud(K_ACCEPT, i as u32, 0));
                        }
                        *l = None;
                    }
                    Listener::Udp(sock, _, armed) => {
                        if *armed {
                            cancel = Some(ud(K_UDP_RECV, i as u32, 0));
                        }
                        udp = Some(sock.try_clone()?);
                    }
                }
                if let Some(target) = cancel {
                    d.cancel(target)?;
                }
                if let Some(sock) = udp {
                    // Datagrams queued in the socket before the signal: answer them too.
                    let mut buf = vec![0u8; 65_536];
                    while let Ok((n, peer)) = sock.recv_from(&mut buf) {
                        shard.on_datagram(now, i, peer, &buf[..n], false);
                    }
                }
            }
        }
        if !drain_started {
            for i in 0..d.listeners.len() {
                d.arm_udp(i)?;
                d.arm_accept(i)?;
            }
        }
        d.arm_wake()?;

        // Output.
        let out = std::mem::take(&mut shard.udp_out);
        for t in out {
            d.send_udp(t.listener, t.peer, t.data)?;
        }
        let mut more = Vec::new();
        shard.take_dirty(&mut more);
        dirty.append(&mut more);
        dirty.sort_unstable_by_key(|c: &ConnId| (c.slot, c.gen));
        dirty.dedup();
        for id in std::mem::take(&mut dirty) {
            let s = id.slot as usize;
            if !matches!(d.conns.get(s), Some(Some(c)) if c.id == id) {
                continue;
            }
            let (closing, empty) = match shard.conn(id) {
                Some(conn) => (conn.closing.is_some(), conn.stream.tx().is_empty()),
                None => (true, true),
            };
            if closing && empty {
                d.try_close(shard, s)?;
            } else {
                d.send_next(shard, id)?;
                if d.conns
                    .get(s)
                    .is_some_and(|c| c.as_ref().is_some_and(|c| !c.recv_armed && !c.closed))
                {
                    d.arm_recv(s)?;
                }
            }
        }
        // Connections whose close waits on the kernel.
        for s in 0..d.conns.len() {
            if d.conns[s].as_ref().is_some_and(|c| c.closed) {
                d.try_close(shard, s)?;
            }
        }

        if shard.draining.is_some() {
            shard.close_all();
            let udp_armed = d
                .listeners
                .iter()
                .any(|l| matches!(l, Listener::Udp(_, _, true)));
            let sends = d.udp_sends.iter().any(Option::is_some);
            let done = d.conns.iter().all(Option::is_none)
                && shard.udp_out.is_empty()
                && !sends
                && !udp_armed;
            if done {
                d.ring.submit()?;
                return Ok(());
            }
            if shard.draining.is_some_and(|dl| now >= dl) {
                return Ok(());
            }
        }
    }
}

/// A socket address from the kernel's sockaddr bytes (sockaddr_in / sockaddr_in6, native
/// endian family, network-order port and address).
fn sockaddr(b: &[u8]) -> Option<SocketAddr> {
    let family = u16::from_ne_bytes([*b.first()?, *b.get(1)?]);
    let port = u16::from_be_bytes([*b.get(2)?, *b.get(3)?]);
    match i32::from(family) {
        libc::AF_INET => {
            let a: [u8; 4] = b.get(4..8)?.try_into().ok()?;
            Some(SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::from(a), port)))
        }
        libc::AF_INET6 => {
            let flow = u32::from_be_bytes(b.get(4..8)?.try_into().ok()?);
            let a: [u8; 16] = b.get(8..24)?.try_into().ok()?;
            let scope = u32::from_ne_bytes(b.get(24..28)?.try_into().ok()?);
            Some(SocketAddr::V6(SocketAddrV6::new(
                Ipv6Addr::from(a),
                port,
                flow,
                scope,
            )))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_data_round_trips() {
        let u = ud(K_SEND, 0x00AB_CDEF, 0xFFFF_FFFE);
        assert_eq!(ud_parts(u), (K_SEND, 0x00AB_CDEF, 0xFFFF_FFFE));
    }

    #[test]
    fn sockaddr_bytes() {
        let a: SocketAddr = "192.0.2.1:5060".parse().unwrap();
        let s = SockAddr::from(a);
        // SAFETY (test): as_ptr points to len() initialised octets.
        let bytes =
            unsafe { std::slice::from_raw_parts(s.as_ptr() as *const u8, s.len() as usize) };
        assert_eq!(sockaddr(bytes), Some(a));
        let b: SocketAddr = "[2001:db8::1]:5061".parse().unwrap();
        let s = SockAddr::from(b);
        // SAFETY (test): as above.
        let bytes =
            unsafe { std::slice::from_raw_parts(s.as_ptr() as *const u8, s.len() as usize) };
        assert_eq!(sockaddr(bytes), Some(b));
    }
}
