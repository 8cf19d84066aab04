//! Process lifecycle: start the shards, handle signals, stop.
//!
//! ```text
//!  main thread                         shard threads (one per core, pinned)
//!  ───────────                         ────────────────────────────────────
//!  load config, TLS                    bind SO_REUSEPORT sockets (all bound before any runs)
//!  pick backend (uring / epoll)  ───►  run(&mut Shard, ShardIo) on that backend
//!  SIGHUP  → reload TLS        ──ctl─► swap ServerConfig for new connections
//!  SIGTERM → Drain             ──ctl─► stop accepting, answer what arrived, close, return
//!  join, print exit summary    ◄────── counters
//! ```

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use edge_core::counters::Counters;
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

use crate::config::{Config, IoBackend, Transport};
use crate::driver::{self, ShardHandle};
use crate::shard::{ConnLimits, Control, Shard};
use crate::transport::{self, tls, ListenSocket};

/// Which backend the shards run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Backend {
    Uring,
    Epoll,
}

/// Sets up logging from the configured level; RUST_LOG wins when set.
pub(crate) fn init_logging(level: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .or_else(|_| tracing_subscriber::EnvFilter::try_new(level))
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .try_init();
}

/// Chooses the backend: `auto` tries io_uring and falls back with the reason logged.
pub(crate) fn choose_backend(wanted: IoBackend) -> Result<Backend, String> {
    match wanted {
        IoBackend::Epoll => Ok(Backend::Epoll),
        IoBackend::Uring => uring_available().map(|()| Backend::Uring),
        IoBackend::Auto => match uring_available() {
            Ok(()) => Ok(Backend::Uring),
            Err(why) => {
                tracing::warn!(reason = %why, "io_uring not available, using epoll");
                Ok(Backend::Epoll)
            }
        },
    }
}

#[cfg(target_os = "linux")]
fn uring_available() -> Result<(), String> {
    driver::uring::probe()
}

#[cfg(not(target_os = "linux"))]
fn uring_available() -> Result<(), String> {
    Err("io_uring is Linux only".into())
}

/// Runs the proxy until SIGTERM / SIGINT, then drains and returns.
pub(crate) fn run(config: Config) -> ExitCode {
    init_logging(&config.log_level);
    // Installed first, so a SIGTERM or SIGHUP during start-up is handled (after it) rather than
    // killing the process half-started.
    let mut signals = match Signals::new([SIGTERM, SIGINT, SIGHUP]) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "cannot install signal handlers");
            return ExitCode::from(2);
        }
    };
    let backend = match choose_backend(config.io_backend) {
        Ok(b) => b,
        Err(why) => {
            tracing::error!(reason = %why, "io_backend = \"uring\" but io_uring is not available");
            return ExitCode::from(2);
        }
    };
    let needs_tls = config
        .listeners
        .iter()
        .any(|l| matches!(l.transport, Transport::Tls | Transport::Wss));
    let tls_config = match (&config.tls, needs_tls) {
        (Some(files), true) => match tls::server_config(files) {
            Ok(c) => Some(c),
            Err(e) => {
                tracing::error!(error = %e, "cannot load TLS certificate");
                return ExitCode::from(2);
            }
        },
        _ => None,
    };
    let cores = core_affinity::get_core_ids().unwrap_or_default();
    let shards = match config.shards {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n,
    };
    let epoch = std::time::Instant::now();
    let conn_limits = Arc::new(ConnLimits::new(&config.limits));
    let seed = random_seed();

    for l in &config.listeners {
        if let Err(e) = transport::check_unused(l.address, l.transport == Transport::Udp) {
            tracing::error!(address = %l.address, transport = l.transport.as_str(), error = %e, "cannot listen: address in use (another sipedge running?)");
            return ExitCode::from(2);
        }
    }
    // Bind every shard's sockets before any shard runs, so SO_REUSEPORT groups are complete
    // and a bind error stops the start before anything is served.
    let mut parts = Vec::with_capacity(shards);
    for _ in 0..shards {
        let mut sockets = Vec::new();
        for l in &config.listeners {
            let s = match l.transport {
                Transport::Udp => transport::udp_socket(l.address).map(ListenSocket::Udp),
                _ => transport::tcp_listener(l.address).map(ListenSocket::Stream),
            };
            match s {
                Ok(s) => sockets.push(s),
                Err(e) => {
                    tracing::error!(address = %l.address, transport = l.transport.as_str(), error = %e, "cannot listen");
                    return ExitCode::from(2);
                }
            }
        }
        match driver::channel(sockets, config.drain_timeout) {
            Ok(p) => parts.push(p),
            Err(e) => {
                tracing::error!(error = %e, "cannot create shard channel");
                return ExitCode::from(2);
            }
        }
    }
    let (done_tx, done_rx) = crossbeam_channel::unbounded::<usize>();
    let mut handles: Vec<ShardHandle> = Vec::new();
    let mut threads = Vec::new();
    for (i, (handle, io)) in parts.into_iter().enumerate() {
        handles.push(handle);
        let mut shard = Shard::new(
            i,
            &config,
            tls_config.clone(),
            Arc::clone(&conn_limits),
            epoch,
            seed,
        );
        let core = (config.pin_cores && !cores.is_empty()).then(|| cores[i % cores.len()]);
        let done = done_tx.clone();
        let t = std::thread::Builder::new()
            .name(format!("sipedge-shard-{i}"))
            .spawn(move || {
                if let Some(c) = core {
                    if !core_affinity::set_for_current(c) {
                        tracing::warn!(shard = i, core = c.id, "could not pin to core");
                    }
                }
                let r = match backend {
                    #[cfg(target_os = "linux")]
                    Backend::Uring => driver::uring::run(&mut shard, io),
                    #[cfg(not(target_os = "linux"))]
                    Backend::Uring => unreachable_backend(),
                    Backend::Epoll => driver::epoll::run(&mut shard, io),
                };
                if let Err(e) = &r {
                    tracing::error!(shard = i, error = %e, "shard stopped on an I/O error");
                }
                let _ = done.send(i);
                (shard.counters, r.is_ok())
            });
        match t {
            Ok(t) => threads.push(t),
            Err(e) => {
                tracing::error!(error = %e, "cannot start shard thread");
                return ExitCode::from(2);
            }
        }
    }
    if let Some(addr) = config.admin {
        match crate::admin::spawn(addr, handles.clone()) {
            Ok(()) => tracing::info!(address = %addr, "admin listening (GET /health, /counters)"),
            Err(e) => {
                tracing::error!(address = %addr, error = %e, "cannot listen for admin");
                for h in &handles {
                    let _ = h.send(Control::Drain);
                }
                for t in threads {
                    let _ = t.join();
                }
                return ExitCode::from(2);
            }
        }
    }
    for l in &config.listeners {
        tracing::info!(transport = l.transport.as_str(), address = %l.address, role = ?l.role, "listening");
    }
    tracing::info!(shards, backend = ?backend, "sipedge ready");

    let mut draining = false;
    let mut failed = false;
    let mut exited = 0;
    while exited < threads.len() {
        for sig in signals.pending() {
            match sig {
                SIGHUP => reload(&config, &handles),
                _ if !draining => {
                    draining = true;
                    tracing::info!(
                        signal = sig,
                        drain_ms = config.drain_timeout.as_millis() as u64,
                        "draining"
                    );
                    for h in &handles {
                        let _ = h.send(Control::Drain);
                    }
                }
                _ => {}
            }
        }
        if let Ok(i) = done_rx.recv_timeout(Duration::from_millis(50)) {
            exited += 1;
            if !draining {
                // A shard stopped on its own: the process cannot serve its share; stop all.
                tracing::error!(shard = i, "shard exited, stopping");
                failed = true;
                draining = true;
                for h in &handles {
                    let _ = h.send(Control::Drain);
                }
            }
        }
    }
    let mut total = Counters::default();
    let mut per_shard = Vec::new();
    for t in threads {
        match t.join() {
            Ok((c, ok)) => {
                failed |= !ok;
                total.add(&c);
                per_shard.push(c);
            }
            Err(_) => failed = true,
        }
    }
    println!("{}", exit_summary(backend, &per_shard));
    tracing::info!(received = total.received, sent = total.sent, "stopped");
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

#[cfg(not(target_os = "linux"))]
fn unreachable_backend() -> std::io::Result<()> {
    Err(std::io::Error::other("io_uring is Linux only"))
}

/// SIGHUP: reload what can be reloaded. Today the TLS certificate and key.
fn reload(config: &Config, handles: &[ShardHandle]) {
    let Some(files) = &config.tls else {
        tracing::info!("reload: nothing to reload (no [tls])");
        return;
    };
    match tls::server_config(files) {
        Ok(c) => {
            for h in handles {
                let _ = h.send(Control::ReloadTls(Arc::clone(&c)));
            }
            tracing::info!(certificate = %files.certificate.display(), "reload: TLS certificate and key reloaded for new connections");
        }
        Err(e) => {
            tracing::error!(error = %e, "reload: TLS files rejected, keeping the current ones")
        }
    }
}

/// The JSON line printed on exit: the backend, per-shard and total counters.
fn exit_summary(backend: Backend, shards: &[Counters]) -> String {
    let mut m = serde_json::Map::new();
    m.insert("event".into(), "exit".into());
    m.insert(
        "backend".into(),
        format!("{backend:?}").to_lowercase().into(),
    );
    m.extend(crate::admin::counters_value(shards));
    serde_json::Value::Object(m).to_string()
}

/// Randomness for To tags, from the OS through std's hasher keys (no extra crate for 64 bits).
fn random_seed() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    h.finish()
}
