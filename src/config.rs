//! Configuration: a TOML file, validated as a whole before anything starts.
//!
//! Every error names the field (`listen[1].address`) and the line it is on, so
//! `sipedge check-config` can be run in a deploy pipeline and its output read by a person. The
//! embedded default (`config/default.toml`, compiled in) is what plain `sipedge` runs; the
//! annotated example `config/example.toml` and docs/config.md describe every field.

use std::fmt;
use std::net::SocketAddr;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

/// The configuration `sipedge` runs when given none.
pub(crate) const DEFAULT_CONFIG: &str = include_str!("../config/default.toml");

/// Upper bound on shards: beyond this the per-shard socket count and memory stop making sense
/// on any machine we know of.
pub(crate) const MAX_SHARDS: usize = 1024;

/// A validated configuration.
#[derive(Clone, Debug)]
pub(crate) struct Config {
    pub(crate) shards: usize,
    pub(crate) pin_cores: bool,
    pub(crate) io_backend: IoBackend,
    pub(crate) log_level: String,
    pub(crate) drain_timeout: Duration,
    pub(crate) edge_hosts: Vec<String>,
    pub(crate) supported: Vec<String>,
    pub(crate) listeners: Vec<Listener>,
    pub(crate) tls: Option<TlsFiles>,
    pub(crate) limits: Limits,
    pub(crate) admin: Option<SocketAddr>,
}

/// The kernel interface a shard uses.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub(crate) enum IoBackend {
    /// io_uring when the kernel allows it, else epoll (logged with the reason).
    Auto,
    /// io_uring, or fail to start.
    Uring,
    /// epoll through mio.
    Epoll,
}

/// What a listener faces.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Role {
    /// Clients: phones, softphones, gateways, browsers.
    Client,
    /// The carrier's SIP core.
    Core,
    /// Peer sites (federation).
    Peer,
}

pub(crate) use edge_core::counters::Transport;

/// One listening address.
#[derive(Clone, Debug)]
pub(crate) struct Listener {
    pub(crate) transport: Transport,
    pub(crate) address: SocketAddr,
    pub(crate) role: Role,
}

/// PEM files of the TLS server certificate chain and its key.
#[derive(Clone, Debug)]
pub(crate) struct TlsFiles {
    pub(crate) certificate: PathBuf,
    pub(crate) private_key: PathBuf,
}

/// Protection limits.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Limits {
    pub(crate) max_connections: usize,
    pub(crate) max_connections_per_ip: usize,
    pub(crate) tls_handshake_timeout: Duration,
    pub(crate) idle_timeout: Duration,
    pub(crate) send_queue_bytes: usize,
    pub(crate) udp_flow_lifetime: Duration,
}

/// One thing wrong with a configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ConfigError {
    /// 1-based line, 0 when the error is about the file as a whole.
    pub(crate) line: usize,
    /// The field, as a path (`limits.idle_timeout_ms`, `listen[0].address`).
    pub(crate) field: String,
    pub(crate) message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.line, self.field.is_empty()) {
            (0, true) => write!(f, "{}", self.message),
            (0, false) => write!(f, "{}: {}", self.field, self.message),
            (l, true) => write!(f, "line {l}: {}", self.message),
            (l, false) => write!(f, "line {l}: {}: {}", self.field, self.message),
        }
    }
}

// ---- the file's shape (serde), every field spanned so errors can name its line ----

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    general: RawGeneral,
    #[serde(default)]
    edge: RawEdge,
    #[serde(default)]
    listen: Vec<Spanned<RawListener>>,
    tls: Option<Spanned<RawTls>>,
    #[serde(default)]
    limits: RawLimits,
    admin: Option<RawAdmin>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawGeneral {
    shards: Option<Spanned<i64>>,
    pin_cores: Option<bool>,
    io_backend: Option<IoBackend>,
    log_level: Option<Spanned<String>>,
    drain_timeout_ms: Option<Spanned<i64>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawEdge {
    #[serde(default)]
    hosts: Vec<Spanned<String>>,
    #[serde(default)]
    supported: Vec<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawListener {
    transport: Spanned<String>,
    address: Spanned<String>,
    role: Option<Role>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTls {
    certificate: Spanned<String>,
    private_key: Spanned<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawLimits {
    max_connections: Option<Spanned<i64>>,
    max_connections_per_ip: Option<Spanned<i64>>,
    tls_handshake_timeout_ms: Option<Spanned<i64>>,
    idle_timeout_ms: Option<Spanned<i64>>,
    send_queue_bytes: Option<Spanned<i64>>,
    udp_flow_lifetime_ms: Option<Spanned<i64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAdmin {
    address: Spanned<String>,
}

/// Reads and validates a configuration file. Relative TLS paths are taken from the file's
/// directory.
pub(crate) fn load(path: &Path) -> Result<Config, Vec<ConfigError>> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        vec![ConfigError {
            line: 0,
            field: String::new(),
            message: format!("cannot read {}: {e}", path.display()),
        }]
    })?;
    parse(&text, path.parent())
}

/// Parses and validates configuration text. `base` resolves relative file paths.
pub(crate) fn parse(text: &str, base: Option<&Path>) -> Result<Config, Vec<ConfigError>> {
    let raw: RawConfig = toml::from_str(text).map_err(|e| vec![from_toml_error(text, &e)])?;
    let mut v = Validator {
        text,
        errors: Vec::new(),
    };
    let g = &raw.general;
    let shards = match &g.shards {
        None => 0,
        Some(s) => v.range(
            s,
            "general.shards",
            0,
            MAX_SHARDS as i64,
            "0 means one per core",
        ) as usize,
    };
    let drain_timeout = v.millis(
        &g.drain_timeout_ms,
        "general.drain_timeout_ms",
        5_000,
        0,
        600_000,
    );
    let log_level = match &g.log_level {
        None => "info".to_string(),
        Some(l) => {
            let text = l.get_ref();
            let plain_level = ["off", "error", "warn", "info", "debug", "trace"]
                .contains(&text.to_ascii_lowercase().as_str());
            // A bare word that is no level would silently be read as a target name.
            let directive = text.contains('=') || text.contains(',') || text.contains("::");
            if !plain_level && !directive {
                v.error(l.span(), "general.log_level", format!("`{text}` is not off, error, warn, info, debug or trace (or a filter like \"info,sipedge=debug\")"));
            } else if let Err(e) = tracing_subscriber::EnvFilter::try_new(text) {
                v.error(l.span(), "general.log_level", format!("not a filter: {e}"));
            }
            l.get_ref().clone()
        }
    };
    let mut edge_hosts = Vec::new();
    for (i, h) in raw.edge.hosts.iter().enumerate() {
        let s = h.get_ref();
        let ok = !s.is_empty()
            && s.len() <= 253
            && s.bytes().all(|b| {
                b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b':' | b'[' | b']')
            });
        if !ok {
            v.error(
                h.span(),
                &format!("edge.hosts[{i}]"),
                "not a host name or address".into(),
            );
        }
        // Addresses in their canonical text form, which is how the edge compares them.
        let bare = s.trim_start_matches('[').trim_end_matches(']');
        match bare.parse::<std::net::IpAddr>() {
            Ok(ip) => edge_hosts.push(ip.to_string()),
            Err(_) => edge_hosts.push(s.trim_end_matches('.').to_ascii_lowercase()),
        }
    }
    let mut supported = Vec::new();
    for (i, t) in raw.edge.supported.iter().enumerate() {
        let s = t.get_ref();
        if s.is_empty()
            || !s
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-.!%*_+`'~".contains(&b))
        {
            v.error(
                t.span(),
                &format!("edge.supported[{i}]"),
                "not an option tag (RFC 3261 token)".into(),
            );
        }
        supported.push(s.clone());
    }

    let mut listeners = Vec::new();
    if raw.listen.is_empty() {
        v.errors.push(ConfigError {
            line: 0,
            field: "listen".into(),
            message: "at least one [[listen]] is required".into(),
        });
    }
    for (i, l) in raw.listen.iter().enumerate() {
        let r = l.get_ref();
        let transport = match r.transport.get_ref().as_str() {
            "udp" => Some(Transport::Udp),
            "tcp" => Some(Transport::Tcp),
            "tls" => Some(Transport::Tls),
            "ws" => Some(Transport::Ws),
            "wss" => Some(Transport::Wss),
            other => {
                v.error(
                    r.transport.span(),
                    &format!("listen[{i}].transport"),
                    format!("unknown transport `{other}`, expected udp, tcp, tls, ws or wss"),
                );
                None
            }
        };
        let address = match r.address.get_ref().parse::<SocketAddr>() {
            Ok(a) if a.port() == 0 => {
                v.error(
                    r.address.span(),
                    &format!("listen[{i}].address"),
                    "port 0 is not a listening port".into(),
                );
                None
            }
            Ok(a) => Some(a),
            Err(_) => {
                v.error(
                    r.address.span(),
                    &format!("listen[{i}].address"),
                    format!(
                        "`{}` is not IP:port (IPv6 as [addr]:port)",
                        r.address.get_ref()
                    ),
                );
                None
            }
        };
        if let Some(t @ (Transport::Tls | Transport::Wss)) = transport {
            if raw.tls.is_none() {
                v.error(
                    r.transport.span(),
                    &format!("listen[{i}].transport"),
                    format!(
                        "{} needs a [tls] section with certificate and private_key",
                        t.as_str()
                    ),
                );
            }
        }
        if let (Some(transport), Some(address)) = (transport, address) {
            let clash = listeners.iter().any(|o: &Listener| {
                o.address == address
                    && (o.transport == Transport::Udp) == (transport == Transport::Udp)
            });
            if clash {
                v.error(
                    l.span(),
                    &format!("listen[{i}]"),
                    format!(
                        "{address} is already used by another {} listener",
                        if transport == Transport::Udp {
                            "UDP"
                        } else {
                            "stream"
                        }
                    ),
                );
            }
            listeners.push(Listener {
                transport,
                address,
                role: r.role.unwrap_or(Role::Client),
            });
        }
    }

    let tls = raw.tls.as_ref().map(|t| {
        let t = t.get_ref();
        let resolve = |s: &Spanned<String>| {
            let p = PathBuf::from(s.get_ref());
            match base {
                Some(b) if p.is_relative() => b.join(p),
                _ => p,
            }
        };
        let files = TlsFiles {
            certificate: resolve(&t.certificate),
            private_key: resolve(&t.private_key),
        };
        if let Err(e) = crate::transport::tls::load_certified_key(&files) {
            let (span, field) = match e.file {
                crate::transport::tls::PemFile::Certificate => {
                    (t.certificate.span(), "tls.certificate")
                }
                crate::transport::tls::PemFile::PrivateKey => {
                    (t.private_key.span(), "tls.private_key")
                }
            };
            v.error(span, field, e.message);
        }
        files
    });

    let lim = &raw.limits;
    let limits = Limits {
        max_connections: v.count(
            &lim.max_connections,
            "limits.max_connections",
            65_536,
            1,
            10_000_000,
        ),
        max_connections_per_ip: v.count(
            &lim.max_connections_per_ip,
            "limits.max_connections_per_ip",
            256,
            1,
            10_000_000,
        ),
        tls_handshake_timeout: v.millis(
            &lim.tls_handshake_timeout_ms,
            "limits.tls_handshake_timeout_ms",
            5_000,
            100,
            120_000,
        ),
        idle_timeout: v.millis(
            &lim.idle_timeout_ms,
            "limits.idle_timeout_ms",
            300_000,
            1_000,
            86_400_000,
        ),
        send_queue_bytes: v.count(
            &lim.send_queue_bytes,
            "limits.send_queue_bytes",
            256 * 1024,
            65_536,
            1 << 30,
        ),
        udp_flow_lifetime: v.millis(
            &lim.udp_flow_lifetime_ms,
            "limits.udp_flow_lifetime_ms",
            180_000,
            1_000,
            86_400_000,
        ),
    };
    if limits.max_connections_per_ip > limits.max_connections {
        if let Some(s) = &lim.max_connections_per_ip {
            v.error(
                s.span(),
                "limits.max_connections_per_ip",
                "larger than limits.max_connections".into(),
            );
        }
    }
    let admin = raw
        .admin
        .as_ref()
        .and_then(|a| match a.address.get_ref().parse::<SocketAddr>() {
            Ok(addr) => Some(addr),
            Err(_) => {
                v.error(
                    a.address.span(),
                    "admin.address",
                    format!("`{}` is not IP:port", a.address.get_ref()),
                );
                None
            }
        });

    if !v.errors.is_empty() {
        v.errors.sort_by_key(|e| e.line);
        return Err(v.errors);
    }
    Ok(Config {
        shards,
        pin_cores: g.pin_cores.unwrap_or(true),
        io_backend: g.io_backend.unwrap_or(IoBackend::Auto),
        log_level,
        drain_timeout,
        edge_hosts,
        supported,
        listeners,
        tls,
        limits,
        admin,
    })
}

struct Validator<'t> {
    text: &'t str,
    errors: Vec<ConfigError>,
}

impl Validator<'_> {
    fn error(&mut self, span: Range<usize>, field: &str, message: String) {
        self.errors.push(ConfigError {
            line: line_of(self.text, span.start),
            field: field.to_string(),
            message,
        });
    }

    fn range(&mut self, v: &Spanned<i64>, field: &str, lo: i64, hi: i64, hint: &str) -> i64 {
        let x = *v.get_ref();
        if x < lo || x > hi {
            let hint = if hint.is_empty() {
                String::new()
            } else {
                format!(" ({hint})")
            };
            self.error(v.span(), field, format!("{x} is outside {lo}..={hi}{hint}"));
            return lo;
        }
        x
    }

    fn count(
        &mut self,
        v: &Option<Spanned<i64>>,
        field: &str,
        default: i64,
        lo: i64,
        hi: i64,
    ) -> usize {
        match v {
            None => default as usize,
            Some(s) => self.range(s, field, lo, hi, "") as usize,
        }
    }

    fn millis(
        &mut self,
        v: &Option<Spanned<i64>>,
        field: &str,
        default: i64,
        lo: i64,
        hi: i64,
    ) -> Duration {
        Duration::from_millis(self.count(v, field, default, lo, hi) as u64)
    }
}

fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// A syntax or shape error from the TOML reader, with the field path recovered from the text:
/// the nearest table header above the error and the key on its line.
fn from_toml_error(text: &str, e: &toml::de::Error) -> ConfigError {
    let message = e
        .message()
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("; ");
    let Some(span) = e.span() else {
        return ConfigError {
            line: 0,
            field: String::new(),
            message,
        };
    };
    let line = line_of(text, span.start);
    let lines: Vec<&str> = text.lines().collect();
    let mut table = String::new();
    let mut index = std::collections::HashMap::<String, usize>::new();
    for l in lines.iter().take(line) {
        let t = l.trim();
        if let Some(name) = t.strip_prefix("[[").and_then(|s| s.split("]]").next()) {
            let n = index.entry(name.trim().to_string()).or_insert(0);
            table = format!("{}[{}]", name.trim(), *n);
            *n += 1;
        } else if let Some(name) = t.strip_prefix('[').and_then(|s| s.split(']').next()) {
            table = name.trim().to_string();
        }
    }
    let this = lines.get(line.saturating_sub(1)).map_or("", |l| l.trim());
    let key = if this.starts_with('[') {
        ""
    } else {
        this.split('=').next().unwrap_or("").trim()
    };
    // "unknown field `x`" names the key itself.
    let key = message
        .split('`')
        .nth(1)
        .filter(|_| message.starts_with("unknown field"))
        .unwrap_or(key);
    let field = match (table.is_empty(), key.is_empty()) {
        (true, _) => key.to_string(),
        (false, true) => table,
        (false, false) => format!("{table}.{key}"),
    };
    ConfigError {
        line,
        field,
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_default_is_valid() {
        let c = parse(DEFAULT_CONFIG, None).unwrap();
        assert_eq!(c.listeners.len(), 2);
        assert!(c
            .listeners
            .iter()
            .all(|l| l.address == "127.0.0.1:5060".parse::<SocketAddr>().unwrap()));
        assert_eq!(c.io_backend, IoBackend::Auto);
    }

    #[test]
    fn example_is_valid_apart_from_its_tls_files() {
        let text = include_str!("../config/example.toml");
        let errs = parse(text, None).unwrap_err();
        assert!(errs.iter().all(|e| e.field.starts_with("tls.")), "{errs:?}");
    }

    fn errors(text: &str) -> Vec<String> {
        parse(text, None)
            .unwrap_err()
            .iter()
            .map(|e| e.to_string())
            .collect()
    }

    #[test]
    fn errors_name_field_and_line() {
        let e = errors("[general]\nshards = 5000\n[[listen]]\ntransport = \"udp\"\naddress = \"127.0.0.1:5060\"\n");
        assert_eq!(
            e,
            vec!["line 2: general.shards: 5000 is outside 0..=1024 (0 means one per core)"]
        );
        let e = errors("[[listen]]\ntransport = \"udp\"\naddress = \"127.0.0.1:5060\"\n[[listen]]\ntransport = \"sctp\"\naddress = \"nowhere\"\n");
        assert_eq!(e.len(), 2, "{e:?}");
        assert!(
            e[0].starts_with("line 5: listen[1].transport: unknown transport `sctp`"),
            "{e:?}"
        );
        assert!(
            e[1].starts_with("line 6: listen[1].address: `nowhere` is not IP:port"),
            "{e:?}"
        );
        let e = errors("[limits]\nidle_timeout_msec = 5\n[[listen]]\ntransport = \"udp\"\naddress = \"127.0.0.1:5060\"\n");
        assert!(
            e[0].starts_with("line 2: limits.idle_timeout_msec: unknown field"),
            "{e:?}"
        );
    }
}
