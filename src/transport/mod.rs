//! Transports: listening sockets (SO_REUSEPORT, one set per shard), stream connection layers
//! (TCP, TLS, WebSocket), and TLS configuration.

pub(crate) mod stream;
pub(crate) mod tls;

use std::io;
use std::net::SocketAddr;

use socket2::{Domain, Protocol, Socket, Type};

/// Kernel receive buffer for a UDP socket: a burst of 4 MB of datagrams waits rather than being
/// dropped while the shard is busy (the kernel caps it at net.core.rmem_max; see tuning/).
const UDP_RCVBUF: usize = 4 << 20;
/// Pending connections the kernel queues per listener before the shard accepts them.
const TCP_BACKLOG: i32 = 1024;

fn domain(addr: &SocketAddr) -> Domain {
    if addr.is_ipv4() {
        Domain::IPV4
    } else {
        Domain::IPV6
    }
}

/// A non-blocking UDP socket bound with SO_REUSEPORT, so every shard binds the same address
/// and the kernel spreads remotes across them by a hash of the 4-tuple.
pub(crate) fn udp_socket(addr: SocketAddr) -> io::Result<std::net::UdpSocket> {
    let s = Socket::new(domain(&addr), Type::DGRAM, Some(Protocol::UDP))?;
    if addr.is_ipv6() {
        s.set_only_v6(true)?;
    }
    s.set_reuse_port(true)?;
    s.set_nonblocking(true)?;
    let _ = s.set_recv_buffer_size(UDP_RCVBUF);
    let _ = s.set_send_buffer_size(UDP_RCVBUF);
    s.bind(&addr.into())?;
    Ok(s.into())
}

/// A non-blocking TCP listener bound with SO_REUSEPORT: each shard accepts its own connections
/// and keeps them for their lifetime.
pub(crate) fn tcp_listener(addr: SocketAddr) -> io::Result<std::net::TcpListener> {
    let s = Socket::new(domain(&addr), Type::STREAM, Some(Protocol::TCP))?;
    if addr.is_ipv6() {
        s.set_only_v6(true)?;
    }
    s.set_reuse_address(true)?;
    s.set_reuse_port(true)?;
    s.set_nonblocking(true)?;
    s.bind(&addr.into())?;
    s.listen(TCP_BACKLOG)?;
    Ok(s.into())
}

/// Fails when something already listens on `addr`. Shards bind with SO_REUSEPORT, which would
/// otherwise let a second sipedge (or any process of the same user) silently join the group and
/// take a share of the traffic. A plain bind (SO_REUSEADDR for TCP, so TIME_WAIT does not
/// count) is refused with EADDRINUSE if any socket holds the address.
pub(crate) fn check_unused(addr: SocketAddr, udp: bool) -> io::Result<()> {
    let (ty, proto) = if udp {
        (Type::DGRAM, Protocol::UDP)
    } else {
        (Type::STREAM, Protocol::TCP)
    };
    let s = Socket::new(domain(&addr), ty, Some(proto))?;
    if addr.is_ipv6() {
        s.set_only_v6(true)?;
    }
    if !udp {
        s.set_reuse_address(true)?;
    }
    s.bind(&addr.into())
}

/// One listener's socket for one shard.
#[derive(Debug)]
pub(crate) enum ListenSocket {
    Udp(std::net::UdpSocket),
    Stream(std::net::TcpListener),
}
