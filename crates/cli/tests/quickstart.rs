//! `snowpat quickstart` (`interfaces.md` "The two README commands"): exit 0, the fixed table
//! (the audit's rows included: one per finding kind, expected count vs observed), no secret in
//! its output, and under a minute.

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
audit: unreadable                             0           0           ok
audit: unrestricted-pat                       0           0           ok
audit: person-user-pat                        0           0           ok
audit: service-user-no-network-policy         0           0           ok
audit: service-user-network-not-enforced      0           0           ok
audit: token-expiring-soon                    0           0           ok
audit: token-expired-listed                   1           1           ok
audit: near-token-limit                       0           0           ok
audit: over-privileged-restricted-role        0           0           ok
audit: policy-owned-by-applying-role          1           1           ok
audit: person-user-pat-allowed                0           0           ok
audit: automation-mints-outside-tenants       0           0           ok

20/20 checks as expected";

#[test]
fn quickstart_exits_0_with_the_expected_table_and_no_secret() {
    let home = tempfile::tempdir().unwrap();
    let started = std::time::Instant::now();
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
    assert!(
        started.elapsed() < std::time::Duration::from_secs(60),
        "quickstart took {:?}",
        started.elapsed()
    );
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
