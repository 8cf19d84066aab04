//! A bounded closed-loop UDP load driver: OPTIONS to the edge from many source ports, each
//! with a window of outstanding requests, until a request count or a time limit is reached.
//!
//! Prints one JSON line: requests sent and answered, answers per second, and (with `--pid`) the
//! proxy's CPU time per answered request. Sends only to loopback (or, with `--netns`, to a
//! private address inside a network namespace the calling script created).

use std::io::ErrorKind;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use clap::Parser;
use mio::net::UdpSocket;
use mio::{Events, Interest, Poll, Token};
use sipedge_loadtest::{check_target, options, process_cpu};

/// Hard caps, whatever the arguments: a load loop always stops by itself.
const MAX_REQUESTS: u64 = 20_000_000;
const MAX_SECONDS: u64 = 600;
/// A request not answered within this is counted lost and its window slot reused.
const LOSS_TIMEOUT: Duration = Duration::from_secs(1);

#[derive(Parser, Debug)]
#[command(about = "Bounded UDP OPTIONS load against a sipedge on this machine")]
struct Args {
    /// Where the proxy listens (loopback).
    #[arg(long, default_value = "127.0.0.1:5060")]
    target: SocketAddr,
    /// Source sockets (distinct source ports, so SO_REUSEPORT spreads them over shards).
    #[arg(long, default_value_t = 64)]
    sockets: usize,
    /// Outstanding requests per socket.
    #[arg(long, default_value_t = 8)]
    window: usize,
    /// Stop after this many requests.
    #[arg(long, default_value_t = 500_000)]
    requests: u64,
    /// Stop after this many seconds.
    #[arg(long, default_value_t = 20)]
    seconds: u64,
    /// Open loop: send at most this many requests per second in total (0: closed loop, as fast
    /// as the windows allow). For the cost per message below saturation.
    #[arg(long, default_value_t = 0)]
    rate: u64,
    /// The proxy's PID, to report its CPU time per answered request.
    #[arg(long)]
    pid: Option<u32>,
    /// Allow a private-range target (inside a network namespace you created).
    #[arg(long)]
    netns: bool,
}

fn main() {
    let args = Args::parse();
    if let Err(e) = check_target(args.target, args.netns) {
        eprintln!("udp-options: {e}");
        std::process::exit(2);
    }
    let requests = args.requests.min(MAX_REQUESTS);
    let limit = Duration::from_secs(args.seconds.min(MAX_SECONDS));
    match run(&args, requests, limit) {
        Ok(line) => println!("{line}"),
        Err(e) => {
            eprintln!("udp-options: {e}");
            std::process::exit(1);
        }
    }
}

struct Src {
    sock: UdpSocket,
    local: SocketAddr,
    outstanding: usize,
    last_progress: Instant,
}

fn run(args: &Args, requests: u64, limit: Duration) -> std::io::Result<String> {
    let bind: SocketAddr = if args.target.is_ipv4() {
        "127.0.0.1:0".parse()
    } else {
        "[::1]:0".parse()
    }
    .map_err(|_| std::io::Error::other("bind address"))?;
    let bind = if args.netns {
        SocketAddr::new(std::net::Ipv4Addr::UNSPECIFIED.into(), 0)
    } else {
        bind
    };
    let mut poll = Poll::new()?;
    let mut srcs = Vec::with_capacity(args.sockets);
    for i in 0..args.sockets.max(1) {
        let mut sock = UdpSocket::bind(bind)?;
        sock.connect(args.target)?;
        poll.registry()
            .register(&mut sock, Token(i), Interest::READABLE)?;
        let local = sock.local_addr()?;
        srcs.push(Src {
            sock,
            local,
            outstanding: 0,
            last_progress: Instant::now(),
        });
    }
    let cpu0 = args.pid.and_then(process_cpu);
    let t0 = Instant::now();
    let (mut sent, mut answered, mut lost, mut send_errors) = (0u64, 0u64, 0u64, 0u64);
    let mut buf = vec![0u8; 65_536];
    let mut req = Vec::with_capacity(512);
    let mut events = Events::with_capacity(1024);
    loop {
        let now = Instant::now();
        let done_sending = sent >= requests || now - t0 >= limit;
        // Open loop: how many may have been sent by now.
        let allowed = if args.rate == 0 {
            u64::MAX
        } else {
            ((now - t0).as_secs_f64() * args.rate as f64) as u64 + 1
        };
        for s in &mut srcs {
            if s.outstanding > 0 && now - s.last_progress > LOSS_TIMEOUT {
                lost += s.outstanding as u64;
                s.outstanding = 0;
                s.last_progress = now;
            }
            while !done_sending && s.outstanding < args.window && sent < requests.min(allowed) {
                options(s.local, sent, &mut req);
                match s.sock.send(&req) {
                    Ok(_) => {
                        sent += 1;
                        s.outstanding += 1;
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                    Err(_) => {
                        send_errors += 1;
                        break;
                    }
                }
            }
        }
        let in_flight: usize = srcs.iter().map(|s| s.outstanding).sum();
        if done_sending && (in_flight == 0 || now - t0 >= limit + LOSS_TIMEOUT) {
            lost += in_flight as u64;
            break;
        }
        let wait = if args.rate == 0 { 100 } else { 1 };
        poll.poll(&mut events, Some(Duration::from_millis(wait)))?;
        for ev in &events {
            let s = &mut srcs[ev.token().0];
            loop {
                match s.sock.recv(&mut buf) {
                    Ok(n) => {
                        if buf[..n].starts_with(b"SIP/2.0 200") {
                            answered += 1;
                        }
                        s.outstanding = s.outstanding.saturating_sub(1);
                        s.last_progress = Instant::now();
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                    Err(_) => break,
                }
            }
        }
    }
    let elapsed = t0.elapsed();
    let cpu = match (cpu0, args.pid.and_then(process_cpu)) {
        (Some(a), Some(b)) => Some(b.saturating_sub(a)),
        _ => None,
    };
    let rate = answered as f64 / elapsed.as_secs_f64();
    let cpu_us = cpu.map_or("null".to_string(), |c| {
        format!("{:.3}", c.as_secs_f64() * 1e6)
    });
    let per_msg = cpu.map_or("null".to_string(), |c| {
        format!("{:.3}", c.as_secs_f64() * 1e6 / answered.max(1) as f64)
    });
    Ok(format!(
        "{{\"sent\":{sent},\"answered\":{answered},\"lost\":{lost},\"send_errors\":{send_errors},\
         \"seconds\":{:.3},\"answered_per_sec\":{rate:.0},\"proxy_cpu_us\":{cpu_us},\
         \"proxy_cpu_us_per_answer\":{per_msg}}}",
        elapsed.as_secs_f64()
    ))
}
