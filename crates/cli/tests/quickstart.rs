//! `snowpat quickstart` (`interfaces.md` "The two README commands"): exit 0, the fixed table,
//! and no secret in its output.

use std::process::Command;

/// The table with the timing filtered out.
const EXPECTED: &str = "\
check                                         expected    observed    result
T0001: new token -> Cortex                    200         200         ok
T0001: token asks for ACCOUNTADMIN (SQL API)  400 390186  400 390186  ok
T0002: revoked token -> Cortex                401 394400  401 394400  ok
T0003: disabled user's token -> Cortex        401 394400  401 394400  ok
T0001: rotated, new token -> Cortex           200         200         ok
T0001: old token at G-1h (G=24h) -> Cortex    200         200         ok
T0001: old token at G+1h (G=24h) -> Cortex    401 394400  401 394400  ok
T0001: new token at G+1h -> Cortex            200         200         ok

8/8 checks as expected";

#[test]
fn quickstart_exits_0_with_the_expected_table_and_no_secret() {
    let home = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_snowpat"))
        .arg("quickstart")
        .current_dir(home.path())
        .env_clear()
        .env("HOME", home.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    let table_start = stdout.find("check ").expect("table");
    let table = &stdout[table_start..];
    let filtered = table.split(" (in ").next().unwrap_or(table).trim_end();
    assert_eq!(filtered, EXPECTED);
    // No secret: no PEM, no long token-like word (PAT secrets and JWTs are long base64 runs).
    for text in [&*stdout, &*stderr] {
        assert!(!text.contains("BEGIN"), "{text}");
        for word in text.split(|c: char| !(c.is_ascii_alphanumeric() || "-_.+/=".contains(c))) {
            assert!(word.len() < 40, "token-like output {word:?}");
        }
    }
}
