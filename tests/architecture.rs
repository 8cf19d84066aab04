//! The architecture, checked: edge-core is sans-I/O (docs/architecture.md, GUIDE §1). It depends
//! on no runtime and its code reaches for no socket, clock, thread or file.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail by panicking

use std::path::Path;

const FORBIDDEN_CRATES: &[&str] = &[
    "tokio",
    "mio",
    "io-uring",
    "socket2",
    "async-std",
    "smol",
    "hyper",
    "reqwest",
    "core_affinity",
    "nix",
    "libc",
];

const FORBIDDEN_CODE: &[&str] = &[
    "std::net",
    "std::fs",
    "std::thread",
    "std::process",
    "Instant::now",
    "SystemTime::now",
    "UdpSocket",
    "TcpStream",
    "TcpListener",
];

fn dependency_names(manifest: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut in_deps = false;
    for line in manifest.lines() {
        let l = line.trim();
        if l.starts_with('[') {
            in_deps = l.starts_with("[dependencies")
                || l.starts_with("[target") && l.contains("dependencies");
            continue;
        }
        if in_deps && !l.is_empty() && !l.starts_with('#') {
            if let Some((name, _)) = l.split_once('=') {
                let key = name.trim().trim_matches('"');
                names.push(key.split('.').next().unwrap_or(key).to_string());
            }
        }
    }
    names
}

#[test]
fn edge_core_depends_on_no_runtime() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let manifest = std::fs::read_to_string(root.join("crates/edge-core/Cargo.toml")).unwrap();
    let deps = dependency_names(&manifest);
    assert!(deps.contains(&"sip-wire".to_string()), "parsed: {deps:?}");
    for d in &deps {
        assert!(
            !FORBIDDEN_CRATES.contains(&d.as_str()),
            "edge-core must not depend on {d}"
        );
    }
}

#[test]
fn edge_core_code_touches_no_os() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("crates/edge-core/src");
    let mut files = 0;
    let mut stack = vec![root];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                files += 1;
                let code = std::fs::read_to_string(&path).unwrap();
                for f in FORBIDDEN_CODE {
                    assert!(!code.contains(f), "{} uses {f}", path.display());
                }
            }
        }
    }
    assert!(files > 0);
}

#[test]
fn the_checks_can_fail() {
    assert_eq!(
        dependency_names(
            "[dependencies]\ntokio = \"1\"\nmio.workspace = true\n[dev-dependencies]\nx = 1\n"
        ),
        ["tokio", "mio"]
    );
}
