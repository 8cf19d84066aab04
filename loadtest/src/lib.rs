//! Shared pieces of the load drivers: target checks (only loopback or a namespace address the
//! caller vouches for), process CPU accounting, and the OPTIONS request the drivers send.
#![forbid(unsafe_code)]

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

/// Refuses any target that is not on this machine. Load goes only to 127.0.0.0/8 and ::1, or
/// to an address inside a network namespace the test created (then `allow_netns` is set by the
/// script that created it).
pub fn check_target(target: SocketAddr, allow_netns: bool) -> Result<(), String> {
    let ok = match target.ip() {
        IpAddr::V4(a) => a.is_loopback() || (allow_netns && a.is_private()),
        IpAddr::V6(a) => a.is_loopback(),
    };
    if ok {
        Ok(())
    } else {
        Err(format!("refusing to send load to {target}: loopback only (or --netns for 10.0.0.0/8 etc. inside a namespace you created)"))
    }
}

/// CPU time (user + system) a process has used so far, from /proc/PID/stat.
pub fn process_cpu(pid: u32) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may contain spaces) start after the last ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line: 11 and 12 after the name.
    let ticks: u64 = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    let hz = clock_ticks_per_second();
    Some(Duration::from_micros(ticks * 1_000_000 / hz))
}

/// USER_HZ: 100 on every Linux architecture we run on (getconf CLK_TCK); read from the
/// environment override when testing on something else.
fn clock_ticks_per_second() -> u64 {
    std::env::var("CLK_TCK")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100)
}

/// An OPTIONS to the edge from `local`, numbered `n` (unique branch and Call-ID).
pub fn options(local: SocketAddr, n: u64, out: &mut Vec<u8>) {
    use std::io::Write;
    out.clear();
    let _ = write!(
        out,
        "OPTIONS sip:{ip} SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch=z9hG4bK-lt{n};rport\r\n\
         Max-Forwards: 70\r\nFrom: <sip:load@{ip}>;tag=lt{n}\r\nTo: <sip:{ip}>\r\n\
         Call-ID: lt-{n}@sipedge-loadtest\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n",
        ip = local.ip()
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_local_targets() {
        assert!(check_target("127.0.0.1:5060".parse().unwrap(), false).is_ok());
        assert!(check_target("127.9.9.9:5060".parse().unwrap(), false).is_ok());
        assert!(check_target("[::1]:5060".parse().unwrap(), false).is_ok());
        assert!(check_target("10.0.0.1:5060".parse().unwrap(), false).is_err());
        assert!(check_target("10.0.0.1:5060".parse().unwrap(), true).is_ok());
        assert!(check_target("8.8.8.8:5060".parse().unwrap(), true).is_err());
    }

    #[test]
    fn own_cpu_is_readable() {
        assert!(process_cpu(std::process::id()).is_some());
    }
}
