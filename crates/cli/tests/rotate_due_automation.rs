//! `rotate-due` with `automation_auth = "pat"`: the automation PAT cannot rotate itself
//! (`snowflake-behaviour.md` §6.7 S1), so rotate-due warns 14 days (server time) before it
//! expires; an identity that may not read it says so instead of staying silent.

mod common;

use common::{sqlite_store, stderr, write_snowpat_toml, Emulator, MULTI_TENANT_PAT_AUTH};

fn advance_days(emu: &Emulator, days: u64) {
    let control = std::fs::read_to_string(emu.path("control.token")).unwrap();
    let status = emu.runtime.block_on(async {
        reqwest::Client::new()
            .post(format!("{}/emulator/v1/clock", emu.url))
            .bearer_auth(control.trim())
            .json(&serde_json::json!({ "advance_seconds": days * 86_400 }))
            .send()
            .await
            .unwrap()
            .status()
    });
    assert!(status.is_success(), "{status}");
}

#[test]
fn rotate_due_warns_14_days_before_the_automation_pat_expires() {
    let emu = Emulator::start();
    let cwd = tempfile::tempdir().unwrap();
    let store = sqlite_store(cwd.path());
    write_snowpat_toml(cwd.path(), MULTI_TENANT_PAT_AUTH);
    let token = cwd.path().join("automation.token");
    emu.bootstrap_multi_tenant(cwd.path(), &token);
    assert!(token.is_file());
    let rotate_due = |emu: &Emulator| {
        emu.snowpat(
            cwd.path(),
            &["--store", &store, "rotate-due", "--within", "7d"],
        )
    };

    // 90 days left (seed 000's DAYS_TO_EXPIRY): no warning.
    let out = rotate_due(&emu);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!stderr(&out).contains("automation PAT"), "{}", stderr(&out));

    // 77 days later, 13 are left: the warning, by server time.
    advance_days(&emu, 77);
    let out = rotate_due(&emu);
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("warning: the automation PAT AUTOMATION_USER.AUTOMATION_PAT expires at")
            && err.contains("13 days left")
            && err.contains("cannot rotate itself"),
        "{err}"
    );

    // As the automation identity itself (a SERVICE user that may not list its own tokens):
    // the expiry cannot be read, and it says so.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_snowpat"))
        .args(["--store", &store, "rotate-due", "--within", "7d"])
        .current_dir(cwd.path())
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", cwd.path())
        .env("SNOWPAT_URL", &emu.url)
        .env("SNOWPAT_TOKEN_FILE", &token)
        .env("SNOWFLAKE_ROLE", "AUTOMATION_ROLE")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("cannot read the expiry of AUTOMATION_USER.AUTOMATION_PAT"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn key_pair_automation_gets_no_automation_pat_warning() {
    let emu = Emulator::start();
    let cwd = tempfile::tempdir().unwrap();
    let store = sqlite_store(cwd.path());
    emu.bootstrap_multi_tenant(cwd.path(), &cwd.path().join("automation.p8"));
    advance_days(&emu, 300);
    let out = emu.snowpat(
        cwd.path(),
        &["--store", &store, "rotate-due", "--within", "7d"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!stderr(&out).contains("automation PAT"), "{}", stderr(&out));
}
