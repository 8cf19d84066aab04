//! The runtime end to end: a real `sipedge` process on loopback, on both I/O backends, with
//! sipp (UDP, TCP), rustls (TLS) and tungstenite (WS, WSS) as clients.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail by panicking

mod support;

use std::io::{Read, Write};
use std::net::{TcpStream, UdpSocket};
use std::time::{Duration, Instant};

use support::*;

fn assert_options_200(resp: &str) {
    assert!(resp.starts_with("SIP/2.0 200 OK\r\n"), "{resp}");
    assert!(resp.contains("\r\nAllow: OPTIONS\r\n"), "{resp}");
    assert!(resp.contains("\r\nAccept: application/sdp\r\n"), "{resp}");
    assert!(resp.contains("\r\nSupported:"), "{resp}");
}

#[test]
fn options_to_the_edge_over_udp_and_tcp_with_sipp() {
    let _g = serial();
    for backend in BACKENDS {
        let port = free_port();
        let mut p = Proxy::start(&config(2, &[("udp", port), ("tcp", port)], ""), backend);
        let (code, ok, failed) = sipp_options(port, "u1", 200, 200);
        assert_eq!((code, ok, failed), (0, 200, 0), "{backend} UDP");
        let (code, ok, failed) = sipp_options(port, "t1", 100, 200);
        assert_eq!((code, ok, failed), (0, 100, 0), "{backend} TCP");
        let e = p.stop();
        assert_eq!(e.code, Some(0), "{backend}: {}", e.stderr);
        assert_eq!(e.total("answered_locally"), 300, "{backend}");
        assert_eq!(e.summary["backend"], backend);
    }
}

#[test]
fn options_to_the_edge_over_tls_ws_and_wss() {
    let _g = serial();
    let cert = TestCert::new();
    for backend in BACKENDS {
        let (tls, ws, wss) = (free_port(), free_port(), free_port());
        let cfg = config(2, &[("tls", tls), ("ws", ws), ("wss", wss)], &cert.toml());
        let mut p = Proxy::start(&cfg, backend);

        let mut s = tls_connect(&cert, tls);
        let local = s.sock.local_addr().unwrap();
        s.write_all(options("TLS", local, 1).as_bytes()).unwrap();
        assert_options_200(&read_sip(&mut s).unwrap());

        // A real WebSocket client (tungstenite), plain and over TLS, offering `sip`.
        let tcp = TcpStream::connect(("127.0.0.1", ws)).unwrap();
        tcp.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let local = tcp.local_addr().unwrap();
        let (mut client, resp) = tungstenite::client(ws_request("ws", ws), tcp).unwrap();
        assert_eq!(resp.headers()["sec-websocket-protocol"], "sip");
        client
            .send(tungstenite::Message::Text(options("WS", local, 2)))
            .unwrap();
        let reply = client.read().unwrap();
        assert_options_200(&reply.into_text().unwrap());

        let tls_stream = tls_connect(&cert, wss);
        let local = tls_stream.sock.local_addr().unwrap();
        let (mut client, resp) = tungstenite::client(ws_request("wss", wss), tls_stream).unwrap();
        assert_eq!(resp.headers()["sec-websocket-protocol"], "sip");
        client
            .send(tungstenite::Message::Text(options("WSS", local, 3)))
            .unwrap();
        assert_options_200(&client.read().unwrap().into_text().unwrap());

        // Without the `sip` subprotocol the upgrade is refused, with a reason.
        let tcp = TcpStream::connect(("127.0.0.1", ws)).unwrap();
        tcp.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let req = tungstenite::client::IntoClientRequest::into_client_request(format!(
            "ws://127.0.0.1:{ws}/"
        ))
        .unwrap();
        match tungstenite::client(req, tcp) {
            Err(tungstenite::HandshakeError::Failure(tungstenite::Error::Http(resp))) => {
                assert_eq!(resp.status(), 400);
                let body = String::from_utf8(resp.body().clone().unwrap_or_default()).unwrap();
                assert!(body.contains("Sec-WebSocket-Protocol: sip"), "{body}");
            }
            other => panic!("{backend}: expected a 400 refusal, got {other:?}"),
        }

        let e = p.stop();
        assert_eq!(e.code, Some(0), "{}", e.stderr);
        assert_eq!(e.total("answered_locally"), 3, "{backend}");
        assert_eq!(e.total("accepted_wss"), 1);
        assert_eq!(e.total("closed_ws_handshake"), 1);
    }
}

fn ws_request(scheme: &str, port: u16) -> tungstenite::handshake::client::Request {
    let mut req = tungstenite::client::IntoClientRequest::into_client_request(format!(
        "{scheme}://localhost:{port}/"
    ))
    .unwrap();
    req.headers_mut()
        .insert("Sec-WebSocket-Protocol", "sip".parse().unwrap());
    req
}

#[test]
fn udp_is_spread_over_shards_and_a_tcp_connection_stays_on_one() {
    let _g = serial();
    const SOCKETS: usize = 200;
    const PER_SOCKET: usize = 3;
    const CONNS: usize = 20;
    const PER_CONN: usize = 10;
    for backend in BACKENDS {
        let port = free_port();
        let mut p = Proxy::start(&config(2, &[("udp", port), ("tcp", port)], ""), backend);
        let mut n = 0;
        // All kept open to the end, so no two share a source port.
        let mut sockets = Vec::new();
        for _ in 0..SOCKETS {
            let s = UdpSocket::bind("127.0.0.1:0").unwrap();
            s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            let local = s.local_addr().unwrap();
            for _ in 0..PER_SOCKET {
                n += 1;
                s.send_to(options("UDP", local, n).as_bytes(), ("127.0.0.1", port))
                    .unwrap();
                let mut buf = [0u8; 2048];
                let k = s.recv(&mut buf).unwrap();
                assert!(buf[..k].starts_with(b"SIP/2.0 200 OK"));
            }
            sockets.push(s);
        }
        for _ in 0..CONNS {
            let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
            s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            let local = s.local_addr().unwrap();
            for _ in 0..PER_CONN {
                n += 1;
                s.write_all(options("TCP", local, n).as_bytes()).unwrap();
                assert_options_200(&read_sip(&mut s).unwrap());
            }
        }
        let e = p.stop();
        drop(sockets);
        assert_eq!(e.code, Some(0));
        assert_eq!(e.shards(), 2);
        let mean = (SOCKETS / 2) as f64;
        for i in 0..2 {
            let flows = e.shard(i, "flows_open_udp");
            let tcp = e.shard(i, "accepted_tcp");
            // Every datagram of a UDP remote and every message of a connection is counted on
            // the shard that owns it: received = 3 per remote + 10 per accepted connection.
            assert_eq!(
                e.shard(i, "received"),
                PER_SOCKET as u64 * flows + PER_CONN as u64 * tcp,
                "{backend} shard {i}: {}",
                e.summary
            );
            let dev = (flows as f64 - mean).abs() / mean;
            assert!(
                dev <= 0.30,
                "{backend}: shard {i} has {flows} of {SOCKETS} UDP remotes"
            );
        }
        assert_eq!(e.total("flows_open_udp"), SOCKETS as u64);
        assert_eq!(e.total("accepted_tcp"), CONNS as u64);
    }
}

#[test]
fn crlf_ping_split_across_writes_gets_a_pong_on_tcp_and_tls() {
    let _g = serial();
    let cert = TestCert::new();
    for backend in BACKENDS {
        let (tcp, tls) = (free_port(), free_port());
        let mut p = Proxy::start(
            &config(2, &[("tcp", tcp), ("tls", tls)], &cert.toml()),
            backend,
        );

        let mut s = TcpStream::connect(("127.0.0.1", tcp)).unwrap();
        s.set_nodelay(true).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        ping_pong(&mut s);
        let local = s.local_addr().unwrap();
        s.write_all(options("TCP", local, 1).as_bytes()).unwrap();
        assert_options_200(&read_sip(&mut s).unwrap());

        let mut t = tls_connect(&cert, tls);
        ping_pong(&mut t);
        let local = t.sock.local_addr().unwrap();
        t.write_all(options("TLS", local, 2).as_bytes()).unwrap();
        assert_options_200(&read_sip(&mut t).unwrap());

        let e = p.stop();
        assert_eq!(e.total("pings_answered"), 2, "{backend}");
    }
}

/// RFC 5626 §4.4.1: CRLFCRLF ping, written as two CRLFs in separate segments, answered with one
/// CRLF and nothing else.
fn ping_pong<S: Read + Write>(s: &mut S) {
    s.write_all(b"\r\n").unwrap();
    s.flush().unwrap();
    std::thread::sleep(Duration::from_millis(100));
    s.write_all(b"\r\n").unwrap();
    s.flush().unwrap();
    let mut pong = [0u8; 2];
    s.read_exact(&mut pong).unwrap();
    assert_eq!(&pong, b"\r\n");
}

/// RFC 5769 §2.1 sample request (SOFTWARE, PRIORITY, ICE-CONTROLLED, USERNAME,
/// MESSAGE-INTEGRITY, FINGERPRINT).
const RFC5769_REQUEST: [u8; 108] = [
    0x00, 0x01, 0x00, 0x58, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86,
    0xfa, 0x87, 0xdf, 0xae, 0x80, 0x22, 0x00, 0x10, 0x53, 0x54, 0x55, 0x4e, 0x20, 0x74, 0x65, 0x73,
    0x74, 0x20, 0x63, 0x6c, 0x69, 0x65, 0x6e, 0x74, 0x00, 0x24, 0x00, 0x04, 0x6e, 0x00, 0x01, 0xff,
    0x80, 0x29, 0x00, 0x08, 0x93, 0x2f, 0xf9, 0xb1, 0x51, 0x26, 0x3b, 0x36, 0x00, 0x06, 0x00, 0x09,
    0x65, 0x76, 0x74, 0x6a, 0x3a, 0x68, 0x36, 0x76, 0x59, 0x20, 0x20, 0x20, 0x00, 0x08, 0x00, 0x14,
    0x9a, 0xea, 0xa7, 0x0c, 0xbf, 0xd8, 0xcb, 0x56, 0x78, 0x1e, 0xf2, 0xb5, 0xb2, 0xd3, 0xf2, 0x49,
    0xc1, 0xb5, 0x71, 0xa2, 0x80, 0x28, 0x00, 0x04, 0xe5, 0x7a, 0x3b, 0xcf,
];

#[test]
fn stun_binding_request_gets_the_senders_xor_mapped_address() {
    let _g = serial();
    for backend in BACKENDS {
        let port = free_port();
        let mut p = Proxy::start(&config(2, &[("udp", port)], ""), backend);
        let s = UdpSocket::bind("127.0.0.1:0").unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        s.send_to(&RFC5769_REQUEST, ("127.0.0.1", port)).unwrap();
        let mut buf = [0u8; 512];
        let n = s.recv(&mut buf).unwrap();
        let r = &buf[..n];
        assert_eq!(&r[0..2], &[0x01, 0x01], "Binding success response");
        assert_eq!(
            &r[4..20],
            &RFC5769_REQUEST[4..20],
            "cookie and transaction id"
        );
        // Find XOR-MAPPED-ADDRESS (0x0020) and undo the XOR by hand (RFC 5389 §15.2).
        let mut at = 20;
        let mut mapped = None;
        while at + 4 <= n {
            let ty = u16::from_be_bytes([r[at], r[at + 1]]);
            let len = u16::from_be_bytes([r[at + 2], r[at + 3]]) as usize;
            if ty == 0x0020 {
                let v = &r[at + 4..at + 4 + len];
                assert_eq!(v[1], 0x01, "IPv4");
                let port = u16::from_be_bytes([v[2], v[3]]) ^ 0x2112;
                let ip = [v[4] ^ 0x21, v[5] ^ 0x12, v[6] ^ 0xa4, v[7] ^ 0x42];
                mapped = Some(std::net::SocketAddr::from((ip, port)));
            }
            at += 4 + len.div_ceil(4) * 4;
        }
        assert_eq!(mapped, Some(s.local_addr().unwrap()), "{backend}");
        // A corrupted FINGERPRINT is dropped, and counted.
        let mut bad = RFC5769_REQUEST;
        bad[107] ^= 0xff;
        s.send_to(&bad, ("127.0.0.1", port)).unwrap();
        s.set_read_timeout(Some(Duration::from_millis(300)))
            .unwrap();
        assert!(s.recv(&mut buf).is_err());
        let e = p.stop();
        assert_eq!(e.total("stun_answered"), 1);
        assert_eq!(e.total("dropped_stun"), 1);
    }
}

#[test]
fn stalled_tls_handshakes_delay_nobody_and_time_out() {
    let _g = serial();
    let cert = TestCert::new();
    for backend in BACKENDS {
        let tls = free_port();
        let extra = format!(
            "{}\n[limits]\ntls_handshake_timeout_ms = 1500\nmax_connections_per_ip = 1000\n",
            cert.toml()
        );
        let mut p = Proxy::start(&config(2, &[("tls", tls)], &extra), backend);
        // 200 connections that never finish (100 send nothing, 100 half a ClientHello).
        let mut stalled = Vec::new();
        for i in 0..200 {
            let mut s = TcpStream::connect(("127.0.0.1", tls)).unwrap();
            if i % 2 == 1 {
                s.write_all(&[0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00])
                    .unwrap();
            }
            stalled.push(s);
        }
        std::thread::sleep(Duration::from_millis(100));
        // A normal client: connect, handshake, OPTIONS, 200, all within 100 ms.
        let mut worst = Duration::ZERO;
        for n in 0..5 {
            let t0 = Instant::now();
            let mut s = tls_connect(&cert, tls);
            let local = s.sock.local_addr().unwrap();
            s.write_all(options("TLS", local, n).as_bytes()).unwrap();
            assert_options_200(&read_sip(&mut s).unwrap());
            worst = worst.max(t0.elapsed());
        }
        eprintln!("{backend}: slowest of 5 normal TLS clients beside 200 stalled: {worst:?}");
        assert!(
            worst < Duration::from_millis(100),
            "{backend}: slowest normal client took {worst:?}"
        );
        // The stalled ones are closed by the handshake timeout.
        for s in &mut stalled {
            s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            let mut b = [0u8; 64];
            // EOF (or a reset) once the edge gives up on the handshake.
            loop {
                match s.read(&mut b) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {}
                }
            }
        }
        let e = p.stop();
        assert_eq!(
            e.total("closed_handshake_timeout"),
            200,
            "{backend}: {}",
            e.summary
        );
    }
}

#[test]
fn connections_over_the_per_ip_limit_are_refused_and_counted() {
    let _g = serial();
    for backend in BACKENDS {
        let port = free_port();
        let mut p = Proxy::start(
            &config(
                2,
                &[("tcp", port)],
                "[limits]\nmax_connections_per_ip = 5\n",
            ),
            backend,
        );
        let mut answered = 0;
        let mut refused = 0;
        let mut keep = Vec::new();
        for n in 0..8 {
            let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
            s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
            let local = s.local_addr().unwrap();
            let _ = s.write_all(options("TCP", local, n).as_bytes());
            match read_sip(&mut s) {
                Ok(r) if r.starts_with("SIP/2.0 200") => answered += 1,
                _ => refused += 1,
            }
            keep.push(s);
        }
        assert_eq!((answered, refused), (5, 3), "{backend}");
        drop(keep);
        let e = p.stop();
        assert_eq!(e.total("closed_limit_per_ip"), 3, "{backend}");
    }
}

#[test]
fn a_client_that_never_reads_is_closed_and_memory_stays_bounded() {
    let _g = serial();
    for backend in BACKENDS {
        let port = free_port();
        let mut p = Proxy::start(
            &config(1, &[("tcp", port)], "[limits]\nsend_queue_bytes = 65536\n"),
            backend,
        );
        let before = p.rss_kib();
        let sock =
            socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
        sock.set_recv_buffer_size(4096).unwrap();
        sock.connect(&std::net::SocketAddr::from(([127, 0, 0, 1], port)).into())
            .unwrap();
        let mut s: TcpStream = sock.into();
        let local = s.local_addr().unwrap();
        // Requests in bulk (each answered with ~400 octets that are never read) until the edge
        // closes the connection; bounded at 200,000 requests and 20 s.
        let mut batch = Vec::new();
        for n in 0..100 {
            batch.extend_from_slice(options("TCP", local, n).as_bytes());
        }
        let t0 = Instant::now();
        let mut peak = before;
        let mut closed = false;
        for i in 0..2000 {
            if write_all_timeout(&mut s, &batch).is_err() || t0.elapsed() > Duration::from_secs(20)
            {
                closed = true;
                break;
            }
            if i % 50 == 0 {
                peak = peak.max(p.rss_kib());
            }
        }
        assert!(
            closed,
            "{backend}: the edge kept queueing for a client that never reads"
        );
        peak = peak.max(p.rss_kib());
        eprintln!(
            "{backend}: RSS {before} KiB before, {peak} KiB at most while a client never read"
        );
        let e = p.stop();
        assert_eq!(e.total("closed_slow_reader"), 1, "{backend}: {}", e.summary);
        assert!(
            peak < before + 64 * 1024,
            "{backend}: RSS grew from {before} KiB to {peak} KiB"
        );
    }
}

#[test]
fn sigterm_during_load_answers_what_arrived_and_exits_zero() {
    let _g = serial();
    for backend in BACKENDS {
        let port = free_port();
        let mut p = Proxy::start(&config(2, &[("udp", port)], ""), backend);
        // sipp sends at 2,000/s for at most 10,000 requests; SIGTERM lands mid-run.
        let sipp =
            which("sipp").expect("sipp (sip-tester) is installed by scripts/install-test-deps.sh");
        let scenario =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/sipp/options.xml");
        let mut load = std::process::Command::new(sipp)
            .arg("-sf")
            .arg(&scenario)
            .args([
                "-m",
                "10000",
                "-r",
                "2000",
                "-t",
                "u1",
                "-i",
                "127.0.0.1",
                "-nostdin",
                "-timeout",
                "15s",
            ])
            .arg(format!("127.0.0.1:{port}"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(1500));
        let e = p.stop();
        let _ = load.kill();
        let _ = load.wait();
        assert_eq!(e.code, Some(0), "{backend}: {}", e.stderr);
        eprintln!(
            "{backend}: drained and exited in {:?} after answering {}",
            e.elapsed,
            e.total("received")
        );
        assert!(
            e.elapsed < Duration::from_millis(3000 + 1000),
            "{backend}: drain took {:?}",
            e.elapsed
        );
        let received = e.total("received");
        assert!(received > 500, "{backend}: load too small: {received}");
        // Every request read before the sockets closed was answered.
        assert_eq!(
            e.total("answered_locally"),
            received,
            "{backend}: {}",
            e.summary
        );
        assert_eq!(e.total("sent"), received);
    }
}

#[test]
fn sighup_reloads_the_tls_certificate_for_new_connections() {
    let _g = serial();
    let cert = TestCert::new();
    let tls = free_port();
    let mut p = Proxy::start(&config(1, &[("tls", tls)], &cert.toml()), "epoll");
    let mut old = tls_connect(&cert, tls);
    let local = old.sock.local_addr().unwrap();
    old.write_all(options("TLS", local, 1).as_bytes()).unwrap();
    assert_options_200(&read_sip(&mut old).unwrap());
    // New files in place, then SIGHUP.
    let new = TestCert::new();
    std::fs::copy(
        new.dir.path().join("cert.pem"),
        cert.dir.path().join("cert.pem"),
    )
    .unwrap();
    std::fs::copy(
        new.dir.path().join("key.pem"),
        cert.dir.path().join("key.pem"),
    )
    .unwrap();
    p.signal(nix::sys::signal::Signal::SIGHUP);
    assert!(wait_for(Duration::from_secs(5), || p
        .stderr()
        .contains("reload: TLS certificate")));
    std::thread::sleep(Duration::from_millis(100));
    // A client trusting only the new certificate gets through; the old connection still works.
    let mut s = tls_connect(&new, tls);
    let local = s.sock.local_addr().unwrap();
    s.write_all(options("TLS", local, 2).as_bytes()).unwrap();
    assert_options_200(&read_sip(&mut s).unwrap());
    let local = old.sock.local_addr().unwrap();
    old.write_all(options("TLS", local, 3).as_bytes()).unwrap();
    assert_options_200(&read_sip(&mut old).unwrap());
    let e = p.stop();
    assert_eq!(e.code, Some(0));
}

#[test]
fn admin_serves_health_and_live_per_shard_counters() {
    let _g = serial();
    let (port, admin) = (free_port(), free_port());
    let extra = format!("[admin]\naddress = \"127.0.0.1:{admin}\"\n");
    let mut p = Proxy::start(&config(2, &[("udp", port)], &extra), "epoll");
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    for n in 0..5 {
        s.send_to(
            options("UDP", s.local_addr().unwrap(), n).as_bytes(),
            ("127.0.0.1", port),
        )
        .unwrap();
        let mut buf = [0u8; 2048];
        s.recv(&mut buf).unwrap();
    }
    let get = |path: &str| {
        let mut c = TcpStream::connect(("127.0.0.1", admin)).unwrap();
        c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        write!(c, "GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        let mut out = String::new();
        c.read_to_string(&mut out).unwrap();
        out
    };
    assert!(get("/health").ends_with("\r\n\r\nok\n"));
    let r = get("/counters");
    assert!(r.starts_with("HTTP/1.1 200 OK\r\n"), "{r}");
    let json: serde_json::Value =
        serde_json::from_str(r.split("\r\n\r\n").nth(1).unwrap()).unwrap();
    assert_eq!(json["shards"].as_array().unwrap().len(), 2);
    assert_eq!(json["total"]["answered_locally"], 5);
    assert!(get("/nope").starts_with("HTTP/1.1 404"));
    assert_eq!(p.stop().code, Some(0));
}

#[test]
fn ipv6_listeners_answer_over_udp_and_tcp() {
    let _g = serial();
    if UdpSocket::bind("[::1]:0").is_err() {
        panic!("this machine has no ::1; the edge's IPv6 support cannot be tested here");
    }
    for backend in BACKENDS {
        let port = free_port();
        let cfg = format!(
            "[general]\nshards = 2\npin_cores = false\n[[listen]]\ntransport = \"udp\"\naddress = \"[::1]:{port}\"\n\
             [[listen]]\ntransport = \"tcp\"\naddress = \"[::1]:{port}\"\n"
        );
        let mut p = Proxy::start(&cfg, backend);
        let s = UdpSocket::bind("[::1]:0").unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let req = options("UDP", s.local_addr().unwrap(), 1)
            .replace("sip:127.0.0.1 SIP", "sip:[::1] SIP");
        s.send_to(req.as_bytes(), ("::1", port)).unwrap();
        let mut buf = [0u8; 2048];
        let n = s.recv(&mut buf).unwrap();
        let r = String::from_utf8_lossy(&buf[..n]).to_string();
        assert_options_200(&r);
        let want = format!(";rport={};received=::1\r\n", s.local_addr().unwrap().port());
        assert!(r.contains(&want), "{r}");

        let mut t = TcpStream::connect(("::1", port)).unwrap();
        t.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let req = options("TCP", t.local_addr().unwrap(), 2)
            .replace("sip:127.0.0.1 SIP", "sip:[::1] SIP");
        t.write_all(req.as_bytes()).unwrap();
        assert_options_200(&read_sip(&mut t).unwrap());
        let e = p.stop();
        assert_eq!(e.total("answered_locally"), 2, "{backend}");
    }
}

#[test]
fn a_second_proxy_on_the_same_address_refuses_to_start() {
    let _g = serial();
    let port = free_port();
    let cfg = config(1, &[("udp", port)], "");
    let mut first = Proxy::start(&cfg, "epoll");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("second.toml");
    std::fs::write(&path, &cfg).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sipedge"))
        .args(["run", "--config"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("address in use"));
    assert_eq!(first.stop().code, Some(0));
}

#[test]
fn malformed_messages_are_answered_or_dropped_as_the_codec_says_and_counted() {
    let _g = serial();
    for backend in BACKENDS {
        let port = free_port();
        let mut p = Proxy::start(&config(1, &[("udp", port), ("tcp", port)], ""), backend);
        let s = UdpSocket::bind("127.0.0.1:0").unwrap();
        s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
        let ask = |msg: &[u8]| -> Option<String> {
            s.send_to(msg, ("127.0.0.1", port)).unwrap();
            let mut buf = [0u8; 4096];
            s.recv(&mut buf)
                .ok()
                .map(|n| String::from_utf8_lossy(&buf[..n]).to_string())
        };
        // (edit of a good OPTIONS, expected start of the answer)
        let cases = [
            // Validation: CSeq method differs from the request method -> 400 naming it.
            (
                ("CSeq: 1 OPTIONS", "CSeq: 1 INVITE"),
                "SIP/2.0 400 Bad Request (CSeq method",
            ),
            // Codec: Content-Length beyond the datagram -> 400 salvaged from the raw lines.
            (("Content-Length: 0", "Content-Length: 99"), "SIP/2.0 400 "),
            // Version 7.0 -> 505.
            (
                ("sip:127.0.0.1 SIP/2.0", "sip:127.0.0.1 SIP/7.0"),
                "SIP/2.0 505 ",
            ),
        ];
        for (n, ((from, to), want)) in cases.into_iter().enumerate() {
            let req = options("UDP", s.local_addr().unwrap(), n as u64).replace(from, to);
            let r = ask(req.as_bytes()).unwrap();
            assert!(r.starts_with(want), "{r}");
            assert!(
                r.contains(&format!("Call-ID: test-{n}@127.0.0.1\r\n")),
                "{r}"
            );
        }
        // A broken response and plain garbage are dropped: no answer.
        s.set_read_timeout(Some(Duration::from_millis(300)))
            .unwrap();
        assert!(ask(b"SIP/2.0 200 OK\r\nVia: nonsense\r\n\r\n").is_none());
        assert!(ask(b"\x7fgarbage that is not SIP at all").is_none());
        // On a stream a framing error is answered when possible, then the connection closes.
        let mut t = TcpStream::connect(("127.0.0.1", port)).unwrap();
        t.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
        let bad = options("TCP", t.local_addr().unwrap(), 4)
            .replace("Content-Length: 0", "Content-Length: x");
        t.write_all(bad.as_bytes()).unwrap();
        let r = read_sip(&mut t).unwrap();
        assert!(r.starts_with("SIP/2.0 400 "), "{r}");
        let mut rest = Vec::new();
        assert_eq!(
            t.read_to_end(&mut rest).unwrap_or(0),
            0,
            "closed after the answer"
        );
        let e = p.stop();
        assert_eq!(e.total("rejected"), 4, "{backend}: {}", e.summary);
        assert_eq!(
            e.total("dropped_invalid_response"),
            1,
            "{backend}: {}",
            e.summary
        );
        assert_eq!(e.total("dropped_malformed"), 1, "{backend}: {}", e.summary);
        assert_eq!(e.total("dropped_stream_framing"), 1);
        assert_eq!(e.total("closed_framing"), 1);
    }
}

#[test]
fn a_restart_right_after_stop_can_bind_the_same_addresses() {
    let _g = serial();
    for backend in BACKENDS {
        let port = free_port();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sipedge.toml");
        std::fs::write(&path, config(2, &[("udp", port), ("tcp", port)], "")).unwrap();
        let probe = UdpSocket::bind("127.0.0.1:0").unwrap();
        probe
            .set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        for round in 0..5 {
            // No pause between the previous exit and this start.
            let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_sipedge"))
                .args(["run", "--config"])
                .arg(&path)
                .args(["--io-backend", backend])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap();
            let up = wait_for(Duration::from_secs(10), || {
                let req = options("UDP", probe.local_addr().unwrap(), round);
                probe.send_to(req.as_bytes(), ("127.0.0.1", port)).unwrap();
                let mut b = [0u8; 2048];
                probe.recv(&mut b).is_ok() || child.try_wait().unwrap().is_some()
            });
            assert!(up);
            if let Some(status) = child.try_wait().unwrap() {
                let mut err = String::new();
                child
                    .stderr
                    .take()
                    .unwrap()
                    .read_to_string(&mut err)
                    .unwrap();
                panic!("{backend} round {round}: exited {status}: {err}");
            }
            nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(child.id() as i32),
                nix::sys::signal::Signal::SIGTERM,
            )
            .unwrap();
            assert!(child.wait().unwrap().success(), "{backend} round {round}");
        }
    }
}
