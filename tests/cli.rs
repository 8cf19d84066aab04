//! The `sipedge` binary end to end: `parse` on accepted, rejected and dropped messages.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail by panicking

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

fn corpus(rel: &str) -> PathBuf {
    let base = std::env::var("SIP_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/sip-corpus"));
    base.join(rel)
}

fn parse(args: &[&str], stdin: Option<&[u8]>) -> (i32, serde_json::Value) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sipedge"));
    cmd.arg("parse")
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    });
    let mut child = cmd.spawn().unwrap();
    if let Some(input) = stdin {
        child.stdin.take().unwrap().write_all(input).unwrap();
    }
    let out = child.wait_with_output().unwrap();
    let json = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)));
    (out.status.code().unwrap(), json)
}

#[test]
fn accepted_invite_prints_its_summary() {
    let file = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/invite.sip");
    let (code, j) = parse(&[file], None);
    assert_eq!(code, 0, "{j}");
    assert_eq!(j["kind"], "request");
    assert_eq!(j["method"], "INVITE");
    assert_eq!(j["request_uri"]["user"], "bob");
    assert_eq!(j["via"][0]["branch"], "z9hG4bK776asdhds");
    assert_eq!(j["via"][0]["rport"], true);
    assert_eq!(j["from"]["tag"], "1928301774");
    assert_eq!(j["to"]["tag"], serde_json::Value::Null);
    assert_eq!(j["cseq"]["seq"], 314159);
    assert_eq!(j["max_forwards"], 70);
    assert_eq!(j["contact"][0]["uri"]["params"][0]["name"], "ob");
    assert_eq!(j["supported"], serde_json::json!(["outbound", "100rel"]));
    assert_eq!(j["content_length"], 140);
    assert_eq!(j["body_length"], 140);
}

#[test]
fn digest_and_unknown_headers_are_shown() {
    let (code, j) = parse(
        &[corpus("examples/register-digest.sip").to_str().unwrap()],
        None,
    );
    assert_eq!(code, 0, "{j}");
    let auth = &j["auth"][0];
    assert_eq!(auth["header"], "Authorization");
    assert_eq!(auth["scheme"], "Digest");
    assert_eq!(
        auth["params"]["response"],
        "6c4035e80970a158bb850f83a0d9dd41"
    );
    let (_, w) = parse(&[corpus("rfc4475/wsinv.dat").to_str().unwrap()], None);
    let others = w["other_headers"].as_array().unwrap();
    assert!(others
        .iter()
        .any(|h| h["name"] == "UnknownHeaderWithUnusualValue" && h["value"] == ";;,,;;,;"));
}

#[test]
fn rejected_messages_name_status_and_reason() {
    let (code, j) = parse(&[corpus("rfc4475/badvers.dat").to_str().unwrap()], None);
    assert_eq!(code, 1);
    assert_eq!(j["error"]["status"], 505);
    let (code, j) = parse(&[corpus("rfc4475/badinv01.dat").to_str().unwrap()], None);
    assert_eq!(code, 1);
    assert_eq!(j["error"]["status"], 400);
    assert!(
        j["error"]["reason"].as_str().unwrap().starts_with("Via:"),
        "{j}"
    );
    let (code, j) = parse(&[corpus("rfc4475/mismatch02.dat").to_str().unwrap()], None);
    assert_eq!((code, j["error"]["status"].as_u64()), (1, Some(501)));
}

#[test]
fn broken_responses_are_dropped() {
    let (code, j) = parse(&[corpus("rfc4475/bigcode.dat").to_str().unwrap()], None);
    assert_eq!(code, 1);
    assert_eq!(j["error"]["status"], serde_json::Value::Null);
    assert_eq!(j["error"]["action"], "drop");
}

#[test]
fn stdin_and_stream_framing() {
    let invite = std::fs::read(corpus("rfc4475/inv2543.dat")).unwrap();
    let (code, j) = parse(&["-"], Some(&invite));
    assert_eq!(code, 0, "{j}");
    assert_eq!(j["body_length"], 105);
    // The same bytes on a stream lack the mandatory Content-Length.
    let (code, j) = parse(&["--transport", "stream", "-"], Some(&invite));
    assert_eq!(code, 1);
    assert!(
        j["error"]["reason"]
            .as_str()
            .unwrap()
            .contains("Content-Length required"),
        "{j}"
    );
    // A stream holding half a message waits for more.
    let half = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/invite.sip"
    ))
    .unwrap();
    let (code, j) = parse(
        &["--transport", "stream", "-"],
        Some(&half[..half.len() / 2]),
    );
    assert_eq!(code, 1);
    assert_eq!(j["error"]["action"], "wait");
}

#[test]
fn unreadable_file_is_a_usage_error() {
    let out = Command::new(env!("CARGO_BIN_EXE_sipedge"))
        .args(["parse", "/nonexistent/msg.sip"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read"));
}
