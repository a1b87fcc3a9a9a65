//! Connection precedence (flags, then environment, then snowpat.toml, then connections.toml) and
//! Snowflake errors reported as `error:` + `hint:` with exit 1 (`interfaces.md`).

mod common;

use std::process::Command;

use common::{stderr, stdout, Emulator};

fn snowpat(cwd: &std::path::Path, envs: &[(&str, String)], args: &[&str]) -> std::process::Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_snowpat"));
    c.args(args)
        .current_dir(cwd)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", cwd);
    for (k, v) in envs {
        c.env(k, v);
    }
    c.output().unwrap()
}

#[test]
fn flags_beat_environment_beat_snowpat_toml() {
    let emu = Emulator::start();
    let work = tempfile::tempdir().unwrap();
    let admin = emu.admin_token_file().display().to_string();
    let bad = work.path().join("bad.token");
    std::fs::write(&bad, "not-a-valid-token").unwrap();
    let bad = bad.display().to_string();
    // snowpat.toml names the emulator with a refused token.
    std::fs::write(
        work.path().join("snowpat.toml"),
        format!("[connection]\nurl = {:?}\ntoken_file = {bad:?}\n", emu.url),
    )
    .unwrap();
    let from_file = snowpat(work.path(), &[], &["bootstrap", "multi-tenant", "--plan"]);
    assert_eq!(from_file.status.code(), Some(1), "{}", stderr(&from_file));
    // The environment beats snowpat.toml.
    let from_env = snowpat(
        work.path(),
        &[("SNOWPAT_TOKEN_FILE", admin.clone())],
        &["bootstrap", "multi-tenant", "--plan"],
    );
    assert!(from_env.status.success(), "{}", stderr(&from_env));
    assert!(stdout(&from_env).contains("CREATE ROLE"));
    // The flag beats the environment.
    let from_flag = snowpat(
        work.path(),
        &[("SNOWPAT_TOKEN_FILE", bad.clone())],
        &[
            "--token-file",
            &admin,
            "bootstrap",
            "multi-tenant",
            "--plan",
        ],
    );
    assert!(from_flag.status.success(), "{}", stderr(&from_flag));
    // And a flag naming the refused file loses to nothing: exit 1.
    let flag_bad = snowpat(
        work.path(),
        &[("SNOWPAT_TOKEN_FILE", admin)],
        &["--token-file", &bad, "bootstrap", "multi-tenant", "--plan"],
    );
    assert_eq!(flag_bad.status.code(), Some(1), "{}", stderr(&flag_bad));
}

#[test]
fn a_refused_credential_is_exit_1_with_error_and_hint() {
    let emu = Emulator::start();
    let work = tempfile::tempdir().unwrap();
    let bad = work.path().join("bad.token");
    std::fs::write(&bad, "not-a-valid-token").unwrap();
    let out = snowpat(
        work.path(),
        &[
            ("SNOWPAT_URL", emu.url.clone()),
            ("SNOWPAT_TOKEN_FILE", bad.display().to_string()),
        ],
        &["bootstrap", "multi-tenant", "--plan"],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("error:"), "{err}");
    assert!(err.contains("hint:"), "{err}");
    assert!(!err.contains("not-a-valid-token"), "secret echoed: {err}");
    assert!(stdout(&out).is_empty());
}
