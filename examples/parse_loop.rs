//! A fixed number of parses of one benchmark message, for instruction counting under
//! `valgrind --tool=callgrind` (see benches/callgrind.sh). Instruction counts do not move with
//! the machine's load, so the sip-wire / rsip ratio they give is repeatable where criterion's
//! wall-clock figures on a shared machine vary by ±30%. The workloads are the criterion
//! bench's own (benches/common).
//!
//! `cargo run --release --example parse_loop -- <sip-wire|rsip> <parse|hot-path> <message> <n>`

#[path = "../benches/common/mod.rs"]
mod common;

use bytes::Bytes;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, parser, what, msg, n] = &args[..] else {
        eprintln!("usage: parse_loop <sip-wire|rsip> <parse|hot-path> <message> <iterations>");
        std::process::exit(2);
    };
    let (Some(raw), Ok(n)) = (common::message(msg), n.parse::<usize>()) else {
        eprintln!("parse_loop: unknown message {msg:?} or bad count {n:?}");
        std::process::exit(2);
    };
    let bytes = Bytes::from_static(raw);
    for _ in 0..n {
        match (parser.as_str(), what.as_str()) {
            ("sip-wire", "parse") => {
                let _ = common::sip_wire_parse(&bytes);
            }
            ("rsip", "parse") => {
                let _ = common::rsip_parse(raw);
            }
            ("sip-wire", "hot-path") => {
                let _ = common::sip_wire_hot(&bytes);
            }
            ("rsip", "hot-path") => {
                let _ = common::rsip_hot(raw);
            }
            other => {
                eprintln!("parse_loop: unknown combination {other:?}");
                std::process::exit(2);
            }
        }
    }
}
