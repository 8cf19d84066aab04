//! The floor for a UDP request/response on this machine: a single-threaded blocking loop that
//! answers every datagram with a fixed 200 OK of the size sipedge sends, parsing nothing. The
//! backend comparison runs it beside sipedge so the kernel's share of the cost is visible.
//! Binds loopback only; stops after `--max` datagrams or `--seconds` of silence.

use std::net::UdpSocket;
use std::time::Duration;

use clap::Parser;

#[derive(Parser, Debug)]
#[command(about = "Bare UDP responder on loopback (the floor the proxy is compared with)")]
struct Args {
    /// Loopback address to answer on.
    #[arg(long, default_value = "127.0.0.1:25070")]
    listen: std::net::SocketAddr,
    /// Stop after answering this many datagrams.
    #[arg(long, default_value_t = 20_000_000)]
    max: u64,
    /// Stop after this many seconds without a datagram.
    #[arg(long, default_value_t = 5)]
    seconds: u64,
}

/// A 200 OK of the length sipedge answers the driver's OPTIONS with (~420 octets).
const REPLY: &[u8] = b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1:40000;branch=z9hG4bK-lt0;rport=40000;\
received=127.0.0.1\r\nFrom: <sip:load@127.0.0.1>;tag=lt0\r\nTo: <sip:127.0.0.1>;tag=0123456789abcdef\r\n\
Call-ID: lt-0@sipedge-loadtest\r\nCSeq: 1 OPTIONS\r\nAllow: OPTIONS\r\nAccept: application/sdp\r\n\
Supported: \r\nContent-Length: 0\r\n\r\n";

fn main() -> std::io::Result<()> {
    let args = Args::parse();
    if !args.listen.ip().is_loopback() {
        eprintln!("udp-reflector: loopback only");
        std::process::exit(2);
    }
    let sock = UdpSocket::bind(args.listen)?;
    sock.set_read_timeout(Some(Duration::from_secs(args.seconds.max(1))))?;
    let mut buf = [0u8; 65_536];
    let mut n = 0u64;
    while n < args.max {
        match sock.recv_from(&mut buf) {
            Ok((_, peer)) => {
                let _ = sock.send_to(REPLY, peer);
                n += 1;
            }
            Err(_) => break,
        }
    }
    println!("{{\"answered\":{n}}}");
    Ok(())
}
