//! Shared helpers for the integration tests: the corpus location and the outcome of a parse.
#![allow(
    dead_code,
    unreachable_pub,
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used
)]

use std::path::PathBuf;

use bytes::Bytes;
use sip_wire::Message;

/// `../shared/sip-corpus` beside the repository (override with `SIP_CORPUS`).
pub fn corpus_dir() -> PathBuf {
    if let Ok(p) = std::env::var("SIP_CORPUS") {
        return PathBuf::from(p);
    }
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let p = here.join("../../../shared/sip-corpus");
    assert!(
        p.is_dir(),
        "the SIP corpus is expected at {} (set SIP_CORPUS)",
        p.display()
    );
    p
}

pub fn read(rel: &str) -> Vec<u8> {
    let p = corpus_dir().join(rel);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// A row of EXPECTED.tsv.
#[derive(Debug, Clone)]
pub struct Row {
    pub file: String,
    pub verdict: String,
    pub proxy_action: String,
    pub liberal: String,
    pub framing: String,
}

pub fn expected(dir: &str) -> Vec<Row> {
    let text = String::from_utf8(read(&format!("{dir}/EXPECTED.tsv"))).unwrap();
    text.lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            assert!(f.len() >= 7, "short row: {l}");
            Row {
                file: f[0].into(),
                verdict: f[3].into(),
                proxy_action: f[4].into(),
                liberal: f[5].into(),
                framing: f[6].into(),
            }
        })
        .collect()
}

/// What an element does with a datagram: accept it, answer it with a status, or drop it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Accepted,
    Status(u16),
    Drop,
}

pub fn outcome_of(parsed: &Result<Message, sip_wire::ParseError>) -> Outcome {
    match parsed {
        Err(e) => e.status().map_or(Outcome::Drop, Outcome::Status),
        Ok(m) => match m.validate() {
            Ok(()) => Outcome::Accepted,
            Err(inv) => inv.status().map_or(Outcome::Drop, Outcome::Status),
        },
    }
}

pub fn datagram(bytes: &[u8]) -> Result<Message, sip_wire::ParseError> {
    Message::parse_datagram(Bytes::copy_from_slice(bytes))
}

/// Encodes a message with no edits.
pub fn reencode(m: &Message) -> Vec<u8> {
    let mut out = Vec::new();
    sip_wire::Rewrite::new(m).write_to(&mut out).unwrap();
    out
}

/// Whether an outcome is one of the `a|b` choices of a proxy_action cell.
pub fn allowed(outcome: Outcome, action: &str) -> bool {
    action.split('|').any(|a| match (a, outcome) {
        ("drop", Outcome::Drop) => true,
        ("forward" | "absorb" | "rfc2543-match", Outcome::Accepted) => true,
        (code, Outcome::Status(s)) => code.parse::<u16>().ok() == Some(s),
        _ => false,
    })
}
