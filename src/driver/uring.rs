//! The io_uring backend: completion-based I/O with one `io_uring_enter` per loop turn.
//!
//! - UDP: one multishot `RECVMSG` per socket, selecting buffers from a provided-buffer ring
//!   (the kernel picks a free buffer per datagram; no per-datagram SQE). Replies are `SEND`
//!   with a destination address (Linux 6.1), batched into the next submission.
//! - Streams: multishot `ACCEPT` per listener; per connection a multishot `RECV` from a second
//!   buffer ring (memory per idle connection: none) and at most one `SEND` in flight.
//! - Wake-ups from other threads: a `READ` on the shard's eventfd.
//!
//! This is the one file where the runtime uses `unsafe`: pushing an SQE hands the kernel raw
//! pointers, and the provided-buffer rings are memory shared with the kernel. Each invariant is
//! stated next to the field it protects, and each `unsafe` block says which one it relies on.
//! The overall rule: **memory an operation points at is freed only after that operation's
//! final completion** — during the run by per-op ownership (below), at the end by cancelling
//! everything and reaping until no operation is outstanding (`teardown`), and if that cannot be
//! confirmed, by leaking rather than freeing.
#![allow(unsafe_code)]

use std::alloc::{alloc_zeroed, dealloc, Layout};
use std::io;
use std::net::{
    Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6, TcpListener, TcpStream, UdpSocket,
};
use std::os::fd::{AsRawFd, FromRawFd, RawFd};
use std::sync::atomic::{AtomicBool, AtomicU16, Ordering};
use std::time::Duration;

use bytes::Bytes;
use edge_core::counters::DropReason;
use edge_core::Instant;
use io_uring::types::{BufRingEntry, CancelBuilder, Fd, Fixed, RecvMsgOut, SubmitArgs, Timespec};
use io_uring::{cqueue, opcode, squeue, IoUring, Probe};
use socket2::SockAddr;

use super::ShardIo;
use crate::shard::{ConnId, Control, Shard, TICK};
use crate::transport::ListenSocket;

/// Submission queue entries (the completion queue gets twice as many). A turn never queues
/// more than this without submitting: `push` flushes when the queue is full.
const RING_ENTRIES: u32 = 1024;
/// Provided buffers for UDP: datagrams the kernel can deliver before the shard returns any.
const UDP_BUFFERS: u16 = 128;
/// One UDP buffer: the recvmsg header, the source address, and the largest datagram (larger
/// ones cannot exist; the epoll backend reads the same 64 KiB).
const UDP_BUF_SIZE: usize = 65_536 + 256;
/// Provided buffers for stream reads, shared by all connections of the shard.
const STREAM_BUFFERS: u16 = 256;
const STREAM_BUF_SIZE: usize = 16 * 1024;
const UDP_GROUP: u16 = 0;
const STREAM_GROUP: u16 = 1;
/// Address space in the recvmsg template: a sockaddr_in6 (28 octets) rounded up.
const NAME_LEN: u32 = 32;
/// UDP sends in flight per shard. Past this the socket is not keeping up (its buffer is full);
/// further datagrams are dropped and counted, as the epoll backend drops on EAGAIN.
const MAX_UDP_IN_FLIGHT: usize = 4096;
/// How long teardown waits for the kernel to confirm every operation has ended.
const TEARDOWN_WAIT: Duration = Duration::from_secs(2);

// user_data layout: kind in the top 8 bits, then 24 bits of slot and 32 bits of generation
// (connections) or an index (listeners, UDP send slots). Slots stay below 2^24: a shard has at
// most `limits.max_connections` (at most 10,000,000, config.rs) connections at once and reuses
// freed slots.
const K_UDP_RECV: u64 = 1;
const K_ACCEPT: u64 = 2;
const K_RECV: u64 = 3;
const K_SEND: u64 = 4;
const K_UDP_SEND: u64 = 5;
const K_WAKE: u64 = 6;
const K_CANCEL: u64 = 7;

fn ud(kind: u64, slot: u32, gen: u32) -> u64 {
    (kind << 56) | (u64::from(slot & 0x00FF_FFFF) << 32) | u64::from(gen)
}

fn ud_parts(u: u64) -> (u64, u32, u32) {
    (u >> 56, ((u >> 32) & 0x00FF_FFFF) as u32, u as u32)
}

/// Whether a completion is the last one its operation produces (multishot operations set
/// `IORING_CQE_F_MORE` while they stay armed).
fn is_final(flags: u32) -> bool {
    !cqueue::more(flags)
}

/// Checks that this kernel runs what the backend needs: a ring, the opcodes, a provided-buffer
/// ring (5.19), multishot recvmsg / recv / accept (6.0), SEND with a destination address (6.1).
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
    if (major, minor) < (6, 1) {
        return Err(format!(
            "kernel {} < 6.1: no SEND with a destination address (io_uring sendto)",
            release.trim()
        ));
    }
    let b = BufRing::new(&ring, 8, 7, 64).map_err(|e| format!("provided buffer ring: {e}"))?;
    b.unregister(&ring);
    Ok(())
}

/// The system page size (the buffer ring must be page aligned).
fn page_size() -> usize {
    // SAFETY: sysconf has no preconditions.
    let n = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    usize::try_from(n).ok().filter(|&n| n > 0).unwrap_or(4096)
}

/// A provided-buffer ring: `entries` buffers of `size` octets that the kernel picks from.
///
/// Invariants (what makes the `unsafe` below sound):
/// 1. `ring` points to `entries * 16` zeroed octets, page aligned, allocated here with
///    `ring_layout` and registered with the kernel; it is freed only in `Drop`, and only when no
///    longer registered.
/// 2. `bufs` points to `entries * size` octets allocated here with `bufs_layout` (raw memory, not
///    a Rust slice, since the kernel writes into it behind our back); freed only in `Drop` under
///    the same condition. A buffer id handed to the kernel is not read by us until a completion
///    returns it, and is handed back exactly once per completion.
struct BufRing {
    ring: *mut BufRingEntry,
    ring_layout: Layout,
    bufs: *mut u8,
    bufs_layout: Layout,
    size: usize,
    entries: u16,
    bgid: u16,
    /// Our copy of the tail; published to the kernel by `publish`.
    tail: u16,
    registered: bool,
}

impl BufRing {
    fn new(ring: &IoUring, entries: u16, bgid: u16, size: usize) -> io::Result<Self> {
        if !entries.is_power_of_two() {
            return Err(io::Error::other("buffer ring size must be a power of two"));
        }
        let bad = |_| io::Error::other("buffer ring layout");
        let ring_layout = Layout::from_size_align(
            usize::from(entries) * std::mem::size_of::<BufRingEntry>(),
            page_size(),
        )
        .map_err(bad)?;
        let bufs_layout = Layout::from_size_align(usize::from(entries) * size, 64).map_err(bad)?;
        // SAFETY: both layouts have a non-zero size.
        let (mem, bufs) = unsafe { (alloc_zeroed(ring_layout), alloc_zeroed(bufs_layout)) };
        let mut b = Self {
            ring: mem as *mut BufRingEntry,
            ring_layout,
            bufs,
            bufs_layout,
            size,
            entries,
            bgid,
            tail: 0,
            registered: false,
        };
        if mem.is_null() || bufs.is_null() {
            return Err(io::Error::from(io::ErrorKind::OutOfMemory));
        }
        // SAFETY: `mem` is a page-aligned, zeroed allocation of `entries` entries that lives
        // until Drop, which frees it only when unregistered (invariant 1).
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
        let off = usize::from(bid % self.entries) * self.size;
        // SAFETY: off + size is within the buffer allocation (invariant 2).
        e.set_addr(unsafe { self.bufs.add(off) } as u64);
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
        let off = usize::from(bid % self.entries) * self.size;
        // SAFETY: within the allocation (invariant 2); the completion returned this buffer to
        // us, so the kernel no longer writes it until `give`, and the borrow ends before that.
        unsafe { std::slice::from_raw_parts(self.bufs.add(off), len.min(self.size)) }
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
            // Still registered (unregistering failed, or teardown could not confirm the kernel
            // is done): leaking is the only sound choice.
            return;
        }
        // SAFETY: allocated in `new` with these layouts, no longer registered (invariants 1, 2).
        unsafe {
            dealloc(self.ring as *mut u8, self.ring_layout);
            dealloc(self.bufs, self.bufs_layout);
        }
    }
}

enum Listener {
    /// The socket, the recvmsg template (the multishot op points at it: it lives as long as
    /// the listener, which outlives the op by the teardown rule), and whether the op is armed.
    Udp(UdpSocket, Box<libc::msghdr>, bool),
    /// A stream listener (`None` once closed for drain), whether its multishot accept is armed,
    /// and when to re-arm it after a failure (EMFILE and the like fail again at once).
    Stream(Option<TcpListener>, bool, Option<Instant>),
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

/// A datagram in flight: its bytes and destination stay here until the SEND completes. Held in
/// `Driver::udp_sends`, whose capacity is reserved up front and never exceeded, so an entry
/// does not move while the kernel may read it.
struct UdpSend {
    data: Bytes,
    addr: SockAddr,
}

struct Driver {
    ring: IoUring,
    udp_bufs: BufRing,
    stream_bufs: BufRing,
    listeners: Vec<Listener>,
    conns: Vec<Option<UConn>>,
    /// Slots whose close waits on the kernel (a SEND or RECV still to complete).
    closing: Vec<usize>,
    udp_sends: Vec<Option<UdpSend>>,
    udp_free: Vec<u32>,
    udp_in_flight: usize,
    wake: std::sync::Arc<nix::sys::eventfd::EventFd>,
    /// Target of the eventfd READ (its 8-octet counter); boxed so its address is stable while
    /// armed.
    wake_buf: Box<[u8; 8]>,
    wake_armed: bool,
    /// Operations submitted whose final completion has not arrived (cancels not counted).
    outstanding: usize,
}

impl Driver {
    /// Queues an SQE, submitting first when the queue is full.
    ///
    /// # Safety
    /// Every pointer in `e` must stay valid until its final completion arrives (the callers
    /// point only at memory owned by `self` per the invariants above, or at boxed fields of it).
    unsafe fn push(&mut self, e: squeue::Entry, counted: bool) -> io::Result<()> {
        loop {
            // SAFETY: forwarded from the caller.
            if unsafe { self.ring.submission().push(&e) }.is_ok() {
                if counted {
                    self.outstanding += 1;
                }
                return Ok(());
            }
            submit(&self.ring)?;
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
        let _ = sock;
        // Registered file `i` (see `run`): no file-table lookup per operation.
        let e =
            opcode::RecvMsgMulti::new(Fixed(i as u32), &**hdr as *const libc::msghdr, UDP_GROUP)
                .build()
                .user_data(ud(K_UDP_RECV, i as u32, 0));
        // SAFETY: the msghdr is boxed in the listener, which lives until teardown confirms
        // this op has ended; buffers come from the UDP ring (BufRing invariants).
        unsafe { self.push(e, true) }
    }

    fn arm_accept(&mut self, i: usize, now: Instant) -> io::Result<()> {
        let Listener::Stream(Some(l), armed, retry) = &mut self.listeners[i] else {
            return Ok(());
        };
        if *armed || retry.is_some_and(|t| now < t) {
            return Ok(());
        }
        *armed = true;
        *retry = None;
        let e = opcode::AcceptMulti::new(Fd(l.as_raw_fd()))
            .flags(libc::SOCK_CLOEXEC)
            .build()
            .user_data(ud(K_ACCEPT, i as u32, 0));
        // SAFETY: no pointers.
        unsafe { self.push(e, true) }
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
        unsafe { self.push(e, true) }
    }

    fn arm_wake(&mut self) -> io::Result<()> {
        if self.wake_armed {
            return Ok(());
        }
        self.wake_armed = true;
        let e = opcode::Read::new(Fd(self.wake.as_raw_fd()), self.wake_buf.as_mut_ptr(), 8)
            .build()
            .user_data(ud(K_WAKE, 0, 0));
        // SAFETY: wake_buf is boxed in the driver and lives until teardown confirms the end.
        unsafe { self.push(e, true) }
    }

    fn cancel(&mut self, target: u64) -> io::Result<()> {
        let e = opcode::AsyncCancel::new(target)
            .build()
            .user_data(ud(K_CANCEL, 0, 0));
        // SAFETY: no pointers.
        unsafe { self.push(e, false) }
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
        // SAFETY: the chunk is held in `inflight` until this SEND's completion.
        unsafe { self.push(e, true) }
    }

    fn send_udp(
        &mut self,
        shard: &mut Shard,
        listener: usize,
        peer: SocketAddr,
        data: Bytes,
    ) -> io::Result<()> {
        if !matches!(self.listeners[listener], Listener::Udp(..)) {
            return Ok(());
        }
        if self.udp_in_flight >= MAX_UDP_IN_FLIGHT {
            shard.counters.drop(DropReason::SendFailed);
            return Ok(());
        }
        let s = UdpSend {
            data,
            addr: SockAddr::from(peer),
        };
        let idx = match self.udp_free.pop() {
            Some(i) => {
                self.udp_sends[i as usize] = Some(s);
                i
            }
            None => {
                // Never past the capacity reserved in `run`: the Vec does not reallocate, so
                // the addresses handed to the kernel stay put.
                debug_assert!(self.udp_sends.len() < self.udp_sends.capacity());
                self.udp_sends.push(Some(s));
                (self.udp_sends.len() - 1) as u32
            }
        };
        let Some(s) = &self.udp_sends[idx as usize] else {
            return Ok(());
        };
        let (ptr, len) = (s.data.as_ptr(), s.data.len() as u32);
        let (aptr, alen) = (s.addr.as_ptr(), s.addr.len());
        self.udp_in_flight += 1;
        let e = opcode::Send::new(Fixed(listener as u32), ptr, len)
            .dest_addr(aptr)
            .dest_addr_len(alen)
            .build()
            .user_data(ud(K_UDP_SEND, idx, 0));
        // SAFETY: data and address live in `udp_sends[idx]` until this SEND's completion.
        unsafe { self.push(e, true) }
    }

    /// Closes a connection's socket once nothing of the kernel's refers to our memory.
    fn try_close(&mut self, shard: &mut Shard, slot: usize) -> io::Result<()> {
        let Some(Some(c)) = self.conns.get_mut(slot) else {
            return Ok(());
        };
        if !c.closed {
            c.closed = true;
            // Ends a SEND stuck on a peer that does not read (EPIPE) and the RECV (EOF).
            let _ = c.sock.shutdown(std::net::Shutdown::Both);
            let target = ud(K_RECV, c.id.slot, c.id.gen);
            let armed = c.recv_armed;
            if armed {
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
        } else if !self.closing.contains(&slot) {
            self.closing.push(slot);
        }
        Ok(())
    }
}

/// `io_uring_enter` to submit; transient failures (the kernel busy with completions, a signal)
/// are not errors: the caller reaps and comes back.
fn submit(ring: &IoUring) -> io::Result<()> {
    match ring.submit() {
        Ok(_) => Ok(()),
        Err(e) if is_transient(&e) => Ok(()),
        Err(e) => Err(e),
    }
}

/// Submits and waits for one completion or `timeout`; transient failures count as a wake-up.
fn wait(ring: &IoUring, timeout: Duration) -> io::Result<()> {
    let ts = Timespec::new()
        .sec(timeout.as_secs())
        .nsec(timeout.subsec_nanos());
    match ring
        .submitter()
        .submit_with_args(1, &SubmitArgs::new().timespec(&ts))
    {
        Ok(_) => Ok(()),
        Err(e) if is_transient(&e) => Ok(()),
        Err(e) => Err(e),
    }
}

fn is_transient(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EAGAIN) | Some(libc::EBUSY) | Some(libc::EINTR) | Some(libc::ETIME)
    )
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
    // DEFER_TASKRUN (6.1): the kernel runs completion work only when this thread enters the
    // ring to wait, in one batch, instead of interrupting it; needs SINGLE_ISSUER, which holds
    // (only the shard's thread touches its ring). Older kernels get the plain ring.
    let ring = IoUring::builder()
        .setup_single_issuer()
        .setup_defer_taskrun()
        .build(RING_ENTRIES)
        .or_else(|_| IoUring::builder().setup_coop_taskrun().build(RING_ENTRIES))
        .or_else(|_| IoUring::new(RING_ENTRIES))?;
    let udp_bufs = BufRing::new(&ring, UDP_BUFFERS, UDP_GROUP, UDP_BUF_SIZE)?;
    let stream_bufs = BufRing::new(&ring, STREAM_BUFFERS, STREAM_GROUP, STREAM_BUF_SIZE)?;
    let listeners: Vec<Listener> = sockets
        .into_iter()
        .map(|s| match s {
            ListenSocket::Udp(u) => {
                // SAFETY: msghdr is plain old data; all-zero is a valid value.
                let mut hdr: Box<libc::msghdr> = Box::new(unsafe { std::mem::zeroed() });
                hdr.msg_namelen = NAME_LEN;
                Listener::Udp(u, hdr, false)
            }
            ListenSocket::Stream(l) => Listener::Stream(Some(l), false, None),
        })
        .collect();
    // Register every listener socket as fixed file `i` (stream listeners too, so indexes match
    // listener positions; only UDP operations use them). -1 would leave a slot empty.
    let fds: Vec<RawFd> = listeners
        .iter()
        .map(|l| match l {
            Listener::Udp(u, _, _) => u.as_raw_fd(),
            Listener::Stream(Some(t), _, _) => t.as_raw_fd(),
            Listener::Stream(None, _, _) => -1,
        })
        .collect();
    if !fds.is_empty() {
        ring.submitter().register_files(&fds)?;
    }
    let mut d = Driver {
        ring,
        udp_bufs,
        stream_bufs,
        listeners,
        conns: Vec::new(),
        closing: Vec::new(),
        udp_sends: Vec::with_capacity(MAX_UDP_IN_FLIGHT),
        udp_free: Vec::new(),
        udp_in_flight: 0,
        wake,
        wake_buf: Box::new([0; 8]),
        wake_armed: false,
        outstanding: 0,
    };
    let r = run_loop(shard, &mut d, &control, &woken, drain_timeout);
    teardown(shard, d);
    r
}

/// Ends every operation, then frees. Connections still open are closed and accounted as on
/// epoll. If the kernel does not confirm the end of every operation in time, the memory they
/// may point at is leaked rather than freed.
fn teardown(shard: &mut Shard, mut d: Driver) {
    for slot in 0..d.conns.len() {
        if let Some(c) = d.conns[slot].take() {
            let _ = c.sock.shutdown(std::net::Shutdown::Both);
            shard.on_conn_closed(c.id);
            // Keep the chunk a SEND may still read until the reap below is done.
            d.closing.push(slot);
            d.conns[slot] = Some(UConn { closed: true, ..c });
        }
    }
    let cancel_all = opcode::AsyncCancel2::new(CancelBuilder::any().all())
        .build()
        .user_data(ud(K_CANCEL, 0, 0));
    // SAFETY: no pointers.
    let mut ok = unsafe { d.push(cancel_all, false) }.is_ok();
    let deadline = std::time::Instant::now() + TEARDOWN_WAIT;
    while ok && d.outstanding > 0 && std::time::Instant::now() < deadline {
        ok = wait(&d.ring, Duration::from_millis(50)).is_ok();
        let finals = d
            .ring
            .completion()
            .filter(|c| ud_parts(c.user_data()).0 != K_CANCEL && is_final(c.flags()))
            .count();
        d.outstanding = d.outstanding.saturating_sub(finals);
    }
    if d.outstanding > 0 {
        tracing::warn!(
            shard = shard.id,
            outstanding = d.outstanding,
            "io_uring operations did not end at shutdown; leaking their buffers"
        );
        std::mem::forget(d);
        return;
    }
    // Registered files hold their sockets open until unregistered; the kernel frees a ring
    // asynchronously after close, so without this the ports stay bound for a moment after the
    // process exits and an immediate restart fails with EADDRINUSE.
    let _ = d.ring.submitter().unregister_files();
    let Driver {
        ring,
        udp_bufs,
        stream_bufs,
        listeners,
        ..
    } = d;
    drop(listeners);
    udp_bufs.unregister(&ring);
    stream_bufs.unregister(&ring);
    drop(ring);
}

fn run_loop(
    shard: &mut Shard,
    d: &mut Driver,
    control: &crossbeam_channel::Receiver<Control>,
    woken: &AtomicBool,
    drain_timeout: Duration,
) -> io::Result<()> {
    let now = shard.now();
    for i in 0..d.listeners.len() {
        d.arm_udp(i)?;
        d.arm_accept(i, now)?;
    }
    d.arm_wake()?;
    let mut cqes: Vec<(u64, i32, u32)> = Vec::with_capacity(RING_ENTRIES as usize * 2);
    let mut dirty = Vec::new();
    let mut more = Vec::new();
    let mut drain_started = false;
    loop {
        let now = shard.now();
        if d.ring.completion().is_empty() {
            wait(&d.ring, shard.sleep_budget(now))?;
        } else {
            submit(&d.ring)?;
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
            if kind != K_CANCEL && is_final(flags) {
                d.outstanding = d.outstanding.saturating_sub(1);
            }
            match kind {
                K_UDP_RECV => {
                    let i = slot as usize;
                    if is_final(flags) {
                        if let Listener::Udp(_, _, armed) = &mut d.listeners[i] {
                            *armed = false;
                        }
                    }
                    let Some(bid) = cqueue::buffer_select(flags) else {
                        continue;
                    };
                    if res > 0 {
                        if let Listener::Udp(_, hdr, _) = &d.listeners[i] {
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
                    }
                    d.udp_bufs.give(bid);
                    udp_returned = true;
                }
                K_ACCEPT => {
                    let i = slot as usize;
                    if is_final(flags) {
                        if let Listener::Stream(_, armed, retry) = &mut d.listeners[i] {
                            *armed = false;
                            if res < 0 && res != -libc::ECANCELED {
                                // EMFILE, ENFILE, ENOMEM...: fail again at once if re-armed
                                // now; wait a tick (epoll waits for the next edge).
                                *retry = Some(now.saturating_add(TICK));
                            }
                        }
                    }
                    if res < 0 {
                        if res != -libc::ECANCELED && res != -libc::ECONNABORTED {
                            tracing::warn!(
                                shard = shard.id,
                                error = %io::Error::from_raw_os_error(-res),
                                "accept failed"
                            );
                        }
                        continue;
                    }
                    // SAFETY: a successful accept completion's result is a new descriptor we own.
                    let sock = unsafe { TcpStream::from_raw_fd(res as RawFd) };
                    let Ok(peer) = sock.peer_addr() else {
                        continue;
                    };
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
                    let fin = is_final(flags);
                    if let Some(Some(c)) = d.conns.get_mut(s) {
                        if fin {
                            c.recv_armed = false;
                        }
                    }
                    if res == 0 || (res < 0 && res != -libc::ENOBUFS) {
                        // EOF, or an error (ECANCELED after our own close).
                        d.try_close(shard, s)?;
                    } else if fin {
                        // Out of provided buffers (ENOBUFS) or the kernel ended the multishot:
                        // re-armed now; the buffers returned in this batch are published before
                        // the next submit.
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
                            d.udp_in_flight -= 1;
                        }
                    }
                    if res < 0 {
                        tracing::debug!(shard = shard.id, error = %io::Error::from_raw_os_error(-res), "udp send");
                        shard.counters.drop(DropReason::SendFailed);
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
                    Listener::Stream(l, armed, _) => {
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
                    sock.set_nonblocking(true)?;
                    let mut buf = vec![0u8; 65_536];
                    while let Ok((n, peer)) = sock.recv_from(&mut buf) {
                        shard.on_datagram(now, i, peer, &buf[..n], false);
                    }
                }
            }
        }
        if drain_started {
            shard.close_all();
        } else {
            for i in 0..d.listeners.len() {
                d.arm_udp(i)?;
                d.arm_accept(i, now)?;
            }
        }
        d.arm_wake()?;

        // Output.
        let out = std::mem::take(&mut shard.udp_out);
        for t in out {
            d.send_udp(shard, t.listener, t.peer, t.data)?;
        }
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
            }
        }
        // Connections whose close waits on the kernel.
        for s in std::mem::take(&mut d.closing) {
            d.try_close(shard, s)?;
        }

        if shard.draining.is_some() {
            let udp_armed = d
                .listeners
                .iter()
                .any(|l| matches!(l, Listener::Udp(_, _, true)));
            let done = d.conns.iter().all(Option::is_none)
                && shard.udp_out.is_empty()
                && d.udp_in_flight == 0
                && !udp_armed;
            if done || shard.draining.is_some_and(|dl| now >= dl) {
                submit(&d.ring)?;
                return Ok(());
            }
        }
    }
}

/// A socket address from the kernel's sockaddr bytes (sockaddr_in / sockaddr_in6: native
/// endian family, network-order port and address, flow info and scope as stored).
fn sockaddr(b: &[u8]) -> Option<SocketAddr> {
    let family = u16::from_ne_bytes([*b.first()?, *b.get(1)?]);
    let port = u16::from_be_bytes([*b.get(2)?, *b.get(3)?]);
    match i32::from(family) {
        libc::AF_INET => {
            let a: [u8; 4] = b.get(4..8)?.try_into().ok()?;
            Some(SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::from(a), port)))
        }
        libc::AF_INET6 => {
            let flow = u32::from_ne_bytes(b.get(4..8)?.try_into().ok()?);
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
