//! `sipedge check-config` on a set of broken configurations: each error names its field and
//! line, exactly as recorded next to the file (`NAME.expected`), and the exit code is 1.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail by panicking

use std::path::Path;
use std::process::Command;

fn check(rel: &str) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_sipedge"))
        .args(["check-config", rel])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8(out.stdout).unwrap(),
    )
}

#[test]
fn broken_configs_name_field_and_line() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/config");
    let mut seen = 0;
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    names.sort();
    for path in names
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
    {
        let name = path.file_name().unwrap().to_str().unwrap();
        let rel = format!("tests/data/config/{name}");
        let expected = std::fs::read_to_string(path.with_extension("expected")).unwrap();
        let (code, out) = check(&rel);
        assert_eq!(code, 1, "{name}");
        assert_eq!(out, expected, "{name}");
        for line in out.lines() {
            // Every error says where: a line number and a field, except a missing section.
            assert!(
                line.contains(": line ") || line.contains(": listen: "),
                "{line}"
            );
        }
        seen += 1;
    }
    assert!(seen >= 10, "only {seen} broken configs");
}

#[test]
fn shipped_configs_are_valid() {
    assert_eq!(check("config/default.toml"), (0, "ok\n".to_string()));
    // The example points at /etc/sipedge/tls/ files this machine does not have: only those
    // two fields may fail.
    let (code, out) = check("config/example.toml");
    assert_eq!(code, 1);
    for line in out.lines() {
        assert!(
            line.contains("tls.certificate") || line.contains("tls.private_key"),
            "{line}"
        );
    }
    // The embedded default is the file.
    let out = Command::new(env!("CARGO_BIN_EXE_sipedge"))
        .arg("default-config")
        .output()
        .unwrap();
    let file =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("config/default.toml"))
            .unwrap();
    assert_eq!(String::from_utf8(out.stdout).unwrap(), file);
}
