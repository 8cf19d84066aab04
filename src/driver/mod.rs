//! I/O backends, one file each, behind one interface: `run(&mut Shard, ShardIo)`. Both drive
//! the same [`Shard`](crate::shard::Shard) methods in the same order (see src/shard.rs), so a
//! test that passes on one exercises the same logic on the other.
//!
//! - `uring.rs`: io_uring, completion-based: multishot recvmsg on UDP with a provided-buffer
//!   ring, multishot accept, recv/send per connection, one submit per loop turn.
//! - `epoll.rs`: epoll through mio, readiness-based: recvmmsg / sendmmsg batches, read/writev.

pub(crate) mod epoll;
#[cfg(target_os = "linux")]
pub(crate) mod uring;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crossbeam_channel::{Receiver, Sender, TrySendError};
use nix::sys::eventfd::{EfdFlags, EventFd};

use crate::shard::Control;
use crate::transport::ListenSocket;

/// Datagrams per recvmmsg / sendmmsg call (and provided buffers per UDP socket in io_uring):
/// enough to amortise the syscall (32 datagrams per call is where the gain flattens on Linux).
pub(crate) const UDP_BATCH: usize = 32;
/// recvmmsg calls per UDP socket per loop turn before the loop looks at other sockets: a flood
/// on one port must not starve the others or the timers.
pub(crate) const UDP_BATCHES_PER_TURN: usize = 8;
/// accept() calls per listener per turn, for the same reason.
pub(crate) const ACCEPTS_PER_TURN: usize = 64;
/// read() calls per connection per turn.
pub(crate) const READS_PER_TURN: usize = 4;
/// One stream read: a whole maximal SIP message fits.
pub(crate) const STREAM_READ_BUF: usize = 64 * 1024;
/// Messages waiting for one shard from other threads. A full channel refuses (counted by the
/// sender) rather than blocking a shard on another.
pub(crate) const CONTROL_QUEUE: usize = 4096;

/// What a backend is given to run one shard.
#[derive(Debug)]
pub(crate) struct ShardIo {
    /// This shard's socket for each configured listener, in configuration order.
    pub(crate) sockets: Vec<ListenSocket>,
    /// Messages from other threads.
    pub(crate) control: Receiver<Control>,
    /// Readable when `control` has something (see [`ShardHandle::send`]).
    pub(crate) wake: Arc<EventFd>,
    /// Set by senders that wrote to `wake`; cleared by the shard before it drains `control`.
    pub(crate) woken: Arc<AtomicBool>,
    pub(crate) drain_timeout: Duration,
}

/// How other threads reach a shard.
#[derive(Clone, Debug)]
pub(crate) struct ShardHandle {
    tx: Sender<Control>,
    wake: Arc<EventFd>,
    woken: Arc<AtomicBool>,
}

impl ShardHandle {
    /// Queues a message and wakes the shard if it was not already woken (one wake-up write per
    /// batch of messages, not per message).
    pub(crate) fn send(&self, c: Control) -> Result<(), Control> {
        match self.tx.try_send(c) {
            Ok(()) => {}
            Err(TrySendError::Full(c) | TrySendError::Disconnected(c)) => return Err(c),
        }
        if !self.woken.swap(true, Ordering::AcqRel) {
            // EAGAIN (counter at its maximum) means a wake-up is already pending.
            let _ = self.wake.write(1);
        }
        Ok(())
    }
}

/// A shard's two ends: the handle for others and the I/O parts for its thread.
pub(crate) fn channel(
    sockets: Vec<ListenSocket>,
    drain_timeout: Duration,
) -> std::io::Result<(ShardHandle, ShardIo)> {
    let (tx, rx) = crossbeam_channel::bounded(CONTROL_QUEUE);
    let wake = Arc::new(EventFd::from_flags(
        EfdFlags::EFD_NONBLOCK | EfdFlags::EFD_CLOEXEC,
    )?);
    let woken = Arc::new(AtomicBool::new(false));
    Ok((
        ShardHandle {
            tx,
            wake: Arc::clone(&wake),
            woken: Arc::clone(&woken),
        },
        ShardIo {
            sockets,
            control: rx,
            wake,
            woken,
            drain_timeout,
        },
    ))
}

#[cfg(test)]
mod tests {
    use std::net::UdpSocket;
    use std::sync::Arc;
    use std::time::Duration;

    use bytes::Bytes;

    use super::*;
    use crate::shard::{ConnLimits, FlowId, FlowKind, Shard};

    /// Another thread hands a shard a message for a flow it owns; the shard wakes, sends it on
    /// its socket, and reports its counters back over the same channel.
    fn cross_thread_send(backend: crate::runtime::Backend) {
        let port = UdpSocket::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let text = format!(
            "[general]\nshards = 1\n[[listen]]\ntransport = \"udp\"\naddress = \"127.0.0.1:{port}\"\n\
             [[listen]]\ntransport = \"tcp\"\naddress = \"127.0.0.1:{port}\"\n"
        );
        let cfg = crate::config::parse(&text, None).unwrap();
        let sock = crate::transport::udp_socket(cfg.listeners[0].address).unwrap();
        let listener = crate::transport::tcp_listener(cfg.listeners[1].address).unwrap();
        let sockets = vec![ListenSocket::Udp(sock), ListenSocket::Stream(listener)];
        let (handle, io) = channel(sockets, Duration::from_secs(1)).unwrap();
        let limits = Arc::new(ConnLimits::new(&cfg.limits));
        let mut shard = Shard::new(0, &cfg, None, limits, std::time::Instant::now(), 7);
        let t = std::thread::spawn(move || {
            let r = match backend {
                crate::runtime::Backend::Uring => uring::run(&mut shard, io),
                crate::runtime::Backend::Epoll => epoll::run(&mut shard, io),
            };
            r.unwrap();
            shard.counters
        });
        let client = UdpSocket::bind("127.0.0.1:0").unwrap();
        client
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        for i in 0..3u8 {
            let flow = FlowId {
                shard: 0,
                kind: FlowKind::Udp {
                    listener: 0,
                    remote: client.local_addr().unwrap(),
                },
            };
            handle
                .send(Control::Send {
                    flow,
                    data: Bytes::from(vec![b'x', i]),
                })
                .unwrap();
            let mut buf = [0u8; 16];
            let n = client.recv(&mut buf).unwrap();
            assert_eq!(&buf[..n], &[b'x', i]);
        }
        // The first connection a shard accepts is slot 0, generation 0.
        let mut tcp = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        tcp.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let snapshot = || {
            let (tx, rx) = crossbeam_channel::bounded(1);
            handle.send(Control::Snapshot(tx)).unwrap();
            rx.recv_timeout(Duration::from_secs(5)).unwrap()
        };
        let t0 = std::time::Instant::now();
        while snapshot().1.accepted[crate::config::Transport::Tcp as usize] == 0 {
            assert!(
                t0.elapsed() < Duration::from_secs(5),
                "connection not accepted"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        let flow = FlowId {
            shard: 0,
            kind: FlowKind::Conn(crate::shard::ConnId { slot: 0, gen: 0 }),
        };
        handle
            .send(Control::Send {
                flow,
                data: Bytes::from_static(b"over tcp"),
            })
            .unwrap();
        let mut buf = [0u8; 8];
        std::io::Read::read_exact(&mut tcp, &mut buf).unwrap();
        assert_eq!(&buf, b"over tcp");
        let (id, counters) = snapshot();
        assert_eq!((id, counters.sent), (0, 4));
        handle.send(Control::Drain).unwrap();
        let end = t.join().unwrap();
        assert_eq!(end.sent, 4);
    }

    #[test]
    fn cross_thread_send_on_epoll() {
        cross_thread_send(crate::runtime::Backend::Epoll);
    }

    #[test]
    fn cross_thread_send_on_uring() {
        if let Err(why) = uring::probe() {
            // The runtime tests (tests/runtime.rs) fail loudly without io_uring; here the epoll
            // twin covers the logic.
            eprintln!("io_uring unavailable, skipped: {why}");
            return;
        }
        cross_thread_send(crate::runtime::Backend::Uring);
    }
}
