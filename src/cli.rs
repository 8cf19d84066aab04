//! The command line: `sipedge <command>`.

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

/// sipedge: a SIP edge proxy that a carrier puts in front of its SIP core.
///
/// Every client (desk phones, softphones, gateways, browsers) reaches the core through it:
/// RFC 5626 outbound flows, webhook-delegated digest registration, federation over mutual TLS.
#[derive(Debug, Parser)]
#[command(name = "sipedge", version, about, long_about = None, arg_required_else_help = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
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

/// Parses the command line and runs the command.
pub(crate) fn run() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
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
