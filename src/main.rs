//! sipedge: a SIP edge proxy for carriers.
//!
//! This binary is the runtime around the sans-I/O core (`edge-core`): the only code that
//! touches the OS. See docs/architecture.md for the flow of a message through it.
//!
//! Unsafe code is denied everywhere but the io_uring driver, which states its buffer-ownership
//! invariants next to the fields they protect (GUIDE.md habit 4).
#![deny(unsafe_code)]

mod admin;
mod cli;
mod config;
mod driver;
mod inspect;
mod runtime;
mod shard;
mod transport;

fn main() -> std::process::ExitCode {
    cli::run()
}
