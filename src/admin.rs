//! The admin listener: today `GET /health` and `GET /counters` (per-shard counters as JSON,
//! gathered by asking each shard for a copy). The Prometheus endpoint and the admin API arrive
//! with the observability issue and will move this onto hyper; the shard side (snapshots over
//! the control channel, no shared atomics) stays.
//!
//! A plain thread with blocking std sockets: admin traffic is a scrape every few seconds, and
//! it must never share an event loop with SIP.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::Duration;

use edge_core::counters::Counters;

use crate::driver::ShardHandle;
use crate::shard::Control;

/// How long a shard may take to answer a snapshot request before the scrape fails.
const SNAPSHOT_TIMEOUT: Duration = Duration::from_secs(2);
/// An admin request larger than this is refused: requests are one line and a few headers.
const MAX_REQUEST: usize = 8 * 1024;

/// Binds the admin address and serves it from a background thread.
pub(crate) fn spawn(addr: SocketAddr, shards: Vec<ShardHandle>) -> std::io::Result<()> {
    let listener = TcpListener::bind(addr)?;
    std::thread::Builder::new()
        .name("sipedge-admin".into())
        .spawn(move || {
            for conn in listener.incoming() {
                match conn {
                    Ok(s) => {
                        if let Err(e) = serve(s, &shards) {
                            tracing::debug!(error = %e, "admin request failed");
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "admin accept failed"),
                }
            }
        })?;
    Ok(())
}

fn serve(mut s: TcpStream, shards: &[ShardHandle]) -> std::io::Result<()> {
    s.set_read_timeout(Some(Duration::from_secs(2)))?;
    s.set_write_timeout(Some(Duration::from_secs(2)))?;
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = s.read(&mut chunk)?;
        if n == 0 || buf.len() + n > MAX_REQUEST {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let line = buf.split(|&b| b == b'\r').next().unwrap_or_default();
    let mut parts = line.split(|&b| b == b' ');
    let (method, path) = (
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
    );
    let (status, body) = match (method, path) {
        (b"GET", b"/health") => ("200 OK", "ok\n".to_string()),
        (b"GET", b"/counters") => match snapshot(shards) {
            Some(c) => (
                "200 OK",
                serde_json::Value::Object(counters_value(&c)).to_string() + "\n",
            ),
            None => (
                "503 Service Unavailable",
                "a shard did not answer\n".to_string(),
            ),
        },
        (b"GET", _) => ("404 Not Found", "GET /health or /counters\n".to_string()),
        _ => ("405 Method Not Allowed", "GET only\n".to_string()),
    };
    let ctype = if body.starts_with('{') {
        "application/json"
    } else {
        "text/plain"
    };
    write!(
        s,
        "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}

/// Each shard's counters, in shard order.
fn snapshot(shards: &[ShardHandle]) -> Option<Vec<Counters>> {
    let (tx, rx) = crossbeam_channel::bounded(shards.len());
    for h in shards {
        h.send(Control::Snapshot(tx.clone())).ok()?;
    }
    let mut out = vec![Counters::default(); shards.len()];
    for _ in shards {
        let (i, c) = rx.recv_timeout(SNAPSHOT_TIMEOUT).ok()?;
        *out.get_mut(i)? = c;
    }
    Some(out)
}

/// `{"shards":[{...}],"total":{...}}`: the counters object of `/counters` and of the exit
/// summary.
pub(crate) fn counters_value(shards: &[Counters]) -> serde_json::Map<String, serde_json::Value> {
    let mut total = Counters::default();
    for c in shards {
        total.add(c);
    }
    let obj = |c: &Counters| {
        let m: serde_json::Map<String, serde_json::Value> =
            c.fields().map(|(k, v)| (k, v.into())).collect();
        serde_json::Value::Object(m)
    };
    let mut m = serde_json::Map::new();
    m.insert("shards".into(), shards.iter().map(obj).collect());
    m.insert("total".into(), obj(&total));
    m
}
