//! Starting and stopping a real `sipedge` for end-to-end tests, and small SIP/TLS clients.
//!
//! Every proxy a test starts listens on 127.0.0.1 only, is stopped by SIGTERM when the test
//! ends (or killed on drop), and runs one at a time (`serial()`): the timing assertions of
//! these tests must not compete with each other for the machine's two cores.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Runtime tests run one at a time.
pub fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|p| p.into_inner())
}

/// The backends every runtime test runs on.
pub const BACKENDS: [&str; 2] = ["uring", "epoll"];

/// A port free for both UDP and TCP on 127.0.0.1 right now.
pub fn free_port() -> u16 {
    loop {
        let t = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = t.local_addr().unwrap().port();
        if UdpSocket::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// A self-signed certificate for 127.0.0.1 / localhost, written as PEM files.
pub struct TestCert {
    pub dir: tempfile::TempDir,
    pub cert_pem: String,
}

impl TestCert {
    pub fn new() -> Self {
        let ck = rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()])
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let cert_pem = ck.cert.pem();
        std::fs::write(dir.path().join("cert.pem"), &cert_pem).unwrap();
        std::fs::write(dir.path().join("key.pem"), ck.key_pair.serialize_pem()).unwrap();
        Self { dir, cert_pem }
    }

    pub fn toml(&self) -> String {
        format!(
            "[tls]\ncertificate = \"{}\"\nprivate_key = \"{}\"\n",
            self.dir.path().join("cert.pem").display(),
            self.dir.path().join("key.pem").display()
        )
    }

    /// A rustls client trusting only this certificate.
    pub fn client_config(&self) -> Arc<rustls::ClientConfig> {
        let mut roots = rustls::RootCertStore::empty();
        for c in rustls_pemfile::certs(&mut self.cert_pem.as_bytes()) {
            roots.add(c.unwrap()).unwrap();
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        Arc::new(
            rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .unwrap()
                .with_root_certificates(roots)
                .with_no_client_auth(),
        )
    }
}

/// A running proxy.
pub struct Proxy {
    child: Option<Child>,
    stderr: Arc<Mutex<Vec<String>>>,
    pub dir: tempfile::TempDir,
}

/// What the proxy printed when it stopped.
#[derive(Debug)]
pub struct Exit {
    pub code: Option<i32>,
    pub elapsed: Duration,
    pub summary: serde_json::Value,
    pub stderr: String,
}

impl Exit {
    pub fn total(&self, name: &str) -> u64 {
        self.summary["total"][name]
            .as_u64()
            .unwrap_or_else(|| panic!("no counter {name}"))
    }

    pub fn shard(&self, i: usize, name: &str) -> u64 {
        self.summary["shards"][i][name].as_u64().unwrap()
    }

    pub fn shards(&self) -> usize {
        self.summary["shards"].as_array().unwrap().len()
    }
}

impl Proxy {
    /// Starts `sipedge run` on `config` (TOML text) with the given backend, waiting until it
    /// says it is ready.
    pub fn start(config: &str, backend: &str) -> Proxy {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sipedge.toml");
        std::fs::write(&path, config).unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_sipedge"))
            .args(["run", "--config"])
            .arg(&path)
            .args(["--io-backend", backend])
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let lines = Arc::clone(&stderr);
        let err = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines() {
                let Ok(line) = line else { break };
                if line.contains("sipedge ready") {
                    let _ = tx.send(());
                }
                lines.lock().unwrap().push(line);
            }
        });
        let mut p = Proxy {
            child: Some(child),
            stderr,
            dir,
        };
        if rx.recv_timeout(Duration::from_secs(10)).is_err() {
            let e = p.stop();
            panic!("proxy did not start: {e:?}");
        }
        p
    }

    pub fn pid(&self) -> i32 {
        self.child.as_ref().unwrap().id() as i32
    }

    pub fn signal(&self, sig: nix::sys::signal::Signal) {
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(self.pid()), sig).unwrap();
    }

    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().join("\n")
    }

    /// Resident memory of the proxy, in KiB.
    pub fn rss_kib(&self) -> u64 {
        let s = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap();
        s.lines()
            .find(|l| l.starts_with("VmRSS:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap()
    }

    /// SIGTERM, then waits (at most 15 s, then SIGKILL) and reads the exit summary.
    pub fn stop(&mut self) -> Exit {
        let mut child = self.child.take().expect("running");
        let t0 = Instant::now();
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(child.id() as i32),
            nix::sys::signal::Signal::SIGTERM,
        );
        let code = loop {
            if let Some(st) = child.try_wait().unwrap() {
                break st.code();
            }
            if t0.elapsed() > Duration::from_secs(15) {
                let _ = child.kill();
                break child.wait().unwrap().code();
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        let elapsed = t0.elapsed();
        let mut out = String::new();
        child
            .stdout
            .take()
            .unwrap()
            .read_to_string(&mut out)
            .unwrap();
        std::thread::sleep(Duration::from_millis(50));
        let summary = out
            .lines()
            .rev()
            .find_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .unwrap_or(serde_json::Value::Null);
        Exit {
            code,
            elapsed,
            summary,
            stderr: self.stderr(),
        }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// A config with the given listeners (`(transport, port)`) and extra TOML.
pub fn config(shards: usize, listeners: &[(&str, u16)], extra: &str) -> String {
    let mut s = format!("[general]\nshards = {shards}\npin_cores = false\nlog_level = \"info\"\ndrain_timeout_ms = 3000\n\n{extra}\n");
    for (t, port) in listeners {
        s.push_str(&format!(
            "[[listen]]\ntransport = \"{t}\"\naddress = \"127.0.0.1:{port}\"\n\n"
        ));
    }
    s
}

/// An OPTIONS to the edge, with a unique branch and Call-ID.
pub fn options(transport: &str, local: SocketAddr, n: u64) -> String {
    format!(
        "OPTIONS sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/{transport} {local};branch=z9hG4bK-t{n};rport\r\n\
         Max-Forwards: 70\r\nFrom: <sip:test@127.0.0.1>;tag=t{n}\r\nTo: <sip:127.0.0.1>\r\n\
         Call-ID: test-{n}@127.0.0.1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
    )
}

/// Reads one SIP message (headers + Content-Length body) from a stream.
pub fn read_sip<R: Read>(r: &mut R) -> std::io::Result<String> {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        if r.read(&mut byte)? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        buf.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&buf).to_string();
    let len: usize = head
        .lines()
        .find_map(|l| {
            l.strip_prefix("Content-Length:")
                .or_else(|| l.strip_prefix("l:"))
        })
        .map(|v| v.trim().parse().unwrap())
        .unwrap_or(0);
    let mut body = vec![0u8; len];
    r.read_exact(&mut body)?;
    Ok(head + &String::from_utf8_lossy(&body))
}

/// A TLS client stream to 127.0.0.1:port.
pub fn tls_connect(
    cert: &TestCert,
    port: u16,
) -> rustls::StreamOwned<rustls::ClientConnection, TcpStream> {
    let tcp = TcpStream::connect(("127.0.0.1", port)).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    tcp.set_nodelay(true).unwrap();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let conn = rustls::ClientConnection::new(cert.client_config(), name).unwrap();
    rustls::StreamOwned::new(conn, tcp)
}

/// Runs sipp with the OPTIONS scenario: `transport` is `u1` or `t1`. Returns (exit code,
/// successful calls, failed calls).
pub fn sipp_options(port: u16, transport: &str, calls: u32, rate: u32) -> (i32, u64, u64) {
    let sipp = which("sipp")
        .expect("sipp not found: Debian's sip-tester, installed by scripts/install-test-deps.sh");
    let scenario = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/sipp/options.xml");
    let out = Command::new(sipp)
        .arg("-sf")
        .arg(&scenario)
        .args([
            "-m",
            &calls.to_string(),
            "-r",
            &rate.to_string(),
            "-t",
            transport,
        ])
        .args([
            "-i",
            "127.0.0.1",
            "-timeout",
            "30s",
            "-timeout_error",
            "-nostdin",
            "-recv_timeout",
            "5000",
        ])
        .arg(format!("127.0.0.1:{port}"))
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let count = |label: &str| {
        text.lines()
            .rev()
            .find(|l| l.contains(label))
            .and_then(|l| l.split('|').nth(2))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0)
    };
    (
        out.status.code().unwrap_or(-1),
        count("Successful call"),
        count("Failed call"),
    )
}

pub fn which(cmd: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|d| Path::new(d).join(cmd))
        .find(|p| p.is_file())
}

/// Waits for `cond` up to `limit`.
pub fn wait_for(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let t0 = Instant::now();
    while t0.elapsed() < limit {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

/// Writes all of `data` with a deadline (for tests whose peer may stop reading).
pub fn write_all_timeout(s: &mut TcpStream, data: &[u8]) -> std::io::Result<()> {
    s.set_write_timeout(Some(Duration::from_secs(2)))?;
    s.write_all(data)
}
