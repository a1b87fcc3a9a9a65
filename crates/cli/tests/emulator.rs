//! `snowpat emulator` runs the embedded emulator with `snowpat-emulator`'s flags.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

#[test]
fn snowpat_emulator_prints_the_ready_line() {
    let dir = std::env::temp_dir().join(format!("snowpat-cli-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let control = dir.join("control.token");
    let mut child = Command::new(env!("CARGO_BIN_EXE_snowpat"))
        .args(["emulator", "--listen", "127.0.0.1:0", "--seed", "3"])
        .arg("--control-token-file")
        .arg(&control)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        line.starts_with("listening on http://127.0.0.1:"),
        "{line:?}"
    );
    assert!(!line.trim_end().ends_with(":0"));
    assert!(std::fs::metadata(&control).unwrap().len() > 0);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn snowpat_emulator_takes_every_flag() {
    let output = Command::new(env!("CARGO_BIN_EXE_snowpat"))
        .args(["emulator", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8(output.stdout).unwrap();
    for flag in [
        "--listen",
        "--account",
        "--admin-token-file",
        "--admin-key-file",
        "--control-token-file",
        "--state",
        "--latency-ms",
        "--fault-rate",
        "--drop-rate",
        "--seed",
        "--no-default-network-policy",
        "--pat-session-rules",
        "--max-body-bytes",
    ] {
        assert!(help.contains(flag), "{flag} missing from\n{help}");
    }
}
