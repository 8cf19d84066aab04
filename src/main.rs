//! sipedge: a SIP edge proxy for carriers.
//!
//! This binary is the runtime around the sans-I/O core: the only code that touches the OS.
//! Today it carries the CLI and the `parse` inspector; the shard runtime arrives with the
//! runtime issue (see docs/architecture.md).
#![forbid(unsafe_code)]

mod cli;
mod inspect;

fn main() -> std::process::ExitCode {
    cli::run()
}
