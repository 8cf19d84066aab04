//! The command line: `sipedge <command>`.

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

/// sipedge: a SIP edge proxy that a carrier puts in front of its SIP core.
///
/// Every client (desk phones, softphones, gateways, browsers) reaches the core through it:
/// RFC 5626 outbound flows, webhook-delegated digest registration, federation over mutual TLS.
///
/// Without a command it runs the proxy on its embedded default configuration (UDP and TCP on
/// 127.0.0.1:5060), like `sipedge run` without `--config`.
#[derive(Debug, Parser)]
#[command(name = "sipedge", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the proxy until SIGTERM or SIGINT (then drain and exit 0). SIGHUP reloads the TLS
    /// certificate. On exit, one JSON line with per-shard counters goes to standard output.
    Run {
        /// The configuration file (TOML). Without it, the embedded default configuration.
        #[arg(long, short)]
        config: Option<PathBuf>,
        /// Override general.io_backend.
        #[arg(long, value_enum)]
        io_backend: Option<BackendArg>,
        /// Override general.shards (0 = one per core).
        #[arg(long)]
        shards: Option<usize>,
    },
    /// Validate a configuration file: prints each error as `line N: field: problem` and exits
    /// 1, or prints `ok` and exits 0.
    CheckConfig {
        /// The configuration file (TOML).
        file: PathBuf,
    },
    /// Print the embedded default configuration.
    DefaultConfig,
    /// Parse one SIP message and print what sipedge sees in it, as JSON.
    ///
    /// Exits 0 when the message is accepted. A message sipedge would reject prints
    /// {"error":{"status":<code>,"reason":"<what and where>"}} and exits 1; a message it would
    /// drop without answering (a broken response) has "status":null and "action":"drop".
    Parse {
        /// The message file, or `-` for standard input. Read as bytes, never as text.
        file: PathBuf,
        /// How the message arrived: one UDP datagram, or the front of a TCP/TLS/WS stream
        /// (Content-Length required, RFC 3261 §18.3).
        #[arg(long, value_enum, default_value_t = Transport::Datagram)]
        transport: Transport,
        /// Print the JSON on one line instead of indented.
        #[arg(long)]
        compact: bool,
    },
}

/// The framing a message is parsed with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Transport {
    /// One UDP datagram is one message.
    Datagram,
    /// A byte stream (TCP, TLS, WebSocket).
    Stream,
}

/// `--io-backend` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum BackendArg {
    /// io_uring when available, else epoll.
    Auto,
    /// io_uring.
    Uring,
    /// epoll (mio).
    Epoll,
}

/// Parses the command line and runs the command.
pub(crate) fn run() -> ExitCode {
    let cli = Cli::parse();
    let command = cli.command.unwrap_or(Command::Run {
        config: None,
        io_backend: None,
        shards: None,
    });
    match command {
        Command::Run {
            config,
            io_backend,
            shards,
        } => {
            let loaded = match &config {
                Some(path) => crate::config::load(path),
                None => crate::config::parse(crate::config::DEFAULT_CONFIG, None),
            };
            let mut cfg = match loaded {
                Ok(c) => c,
                Err(errors) => {
                    let name = config
                        .as_ref()
                        .map_or("<embedded default>".into(), |p| p.display().to_string());
                    for e in errors {
                        eprintln!("sipedge: {name}: {e}");
                    }
                    return ExitCode::from(2);
                }
            };
            if let Some(b) = io_backend {
                cfg.io_backend = match b {
                    BackendArg::Auto => crate::config::IoBackend::Auto,
                    BackendArg::Uring => crate::config::IoBackend::Uring,
                    BackendArg::Epoll => crate::config::IoBackend::Epoll,
                };
            }
            if let Some(n) = shards {
                if n > crate::config::MAX_SHARDS {
                    eprintln!(
                        "sipedge: --shards {n} is outside 0..={}",
                        crate::config::MAX_SHARDS
                    );
                    return ExitCode::from(2);
                }
                cfg.shards = n;
            }
            crate::runtime::run(cfg)
        }
        Command::CheckConfig { file } => match crate::config::load(&file) {
            Ok(_) => {
                println!("ok");
                ExitCode::SUCCESS
            }
            Err(errors) => {
                for e in errors {
                    println!("{}: {e}", file.display());
                }
                ExitCode::FAILURE
            }
        },
        Command::DefaultConfig => {
            print!("{}", crate::config::DEFAULT_CONFIG);
            ExitCode::SUCCESS
        }
        Command::Parse {
            file,
            transport,
            compact,
        } => {
            let bytes = match read_input(&file) {
                Ok(b) => b,
                Err(e) => {
                    eprintln!("sipedge: cannot read {}: {e}", file.display());
                    return ExitCode::from(2);
                }
            };
            let (json, accepted) = crate::inspect::inspect(bytes, transport);
            let text = if compact {
                serde_json::to_string(&json)
            } else {
                serde_json::to_string_pretty(&json)
            };
            match text {
                Ok(t) => println!("{t}"),
                Err(e) => {
                    eprintln!("sipedge: cannot encode JSON: {e}");
                    return ExitCode::from(2);
                }
            }
            if accepted {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
    }
}

fn read_input(file: &PathBuf) -> std::io::Result<Vec<u8>> {
    if file.as_os_str() == "-" {
        let mut v = Vec::new();
        std::io::stdin().lock().read_to_end(&mut v)?;
        Ok(v)
    } else {
        std::fs::read(file)
    }
}
