//! `snowpat audit`: --fail-on decides exit 4, --output json carries coverage and findings,
//! --output sarif is SARIF 2.1.0 with rules and results, and the audit only reads.

mod common;

use common::{assert_only_reads, stderr, stdout, Emulator};

fn account(emu: &Emulator) {
    for sql in [
        "CREATE ROLE GRANTER_ROLE",
        "GRANT MANAGE GRANTS ON ACCOUNT TO ROLE GRANTER_ROLE",
        "CREATE USER SVC_MG TYPE = SERVICE",
        "GRANT ROLE GRANTER_ROLE TO USER SVC_MG",
        "ALTER USER SVC_MG ADD PAT T1 ROLE_RESTRICTION = 'GRANTER_ROLE' DAYS_TO_EXPIRY = 30",
    ] {
        emu.admin_sql(sql);
    }
}

#[test]
fn fail_on_decides_exit_4_and_json_has_coverage_first() {
    let emu = Emulator::start();
    account(&emu);
    let cwd = tempfile::tempdir().unwrap();
    let mark = emu.last_seq();
    let out = emu.snowpat(
        cwd.path(),
        &["audit", "--fail-on", "critical", "--output", "json"],
    );
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    assert_only_reads(&emu.log(mark));
    let v: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("json");
    assert!(v["coverage"]["users_seen"].as_u64().unwrap() >= 2);
    assert_eq!(
        v["coverage"]["users_seen"],
        v["coverage"]["users_inspected"]
    );
    let findings = v["findings"].as_array().unwrap();
    assert_eq!(findings[0]["severity"], "critical");
    assert!(findings
        .iter()
        .any(|f| f["rule"] == "over-privileged-restricted-role"
            && f["object"] == "ROLE GRANTER_ROLE"
            && f["fix"][0] == "REVOKE MANAGE GRANTS ON ACCOUNT FROM ROLE GRANTER_ROLE;"));

    // Without --fail-on the same findings exit 0; text output starts with coverage.
    let out = emu.snowpat(cwd.path(), &["audit"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).starts_with("coverage: "), "{}", stdout(&out));
    assert!(stdout(&out).contains("[critical] over-privileged-restricted-role ROLE GRANTER_ROLE"));
}

#[test]
fn sarif_output_is_sarif_2_1_0_with_rules_and_results() {
    let emu = Emulator::start();
    account(&emu);
    let cwd = tempfile::tempdir().unwrap();
    let out = emu.snowpat(
        cwd.path(),
        &["audit", "--output", "sarif", "--fail-on", "info"],
    );
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("valid JSON");
    assert_eq!(v["version"], "2.1.0");
    let run = &v["runs"][0];
    let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
    assert!(rules.len() >= 9);
    let results = run["results"].as_array().unwrap();
    assert!(!results.is_empty());
    for r in results {
        let id = r["ruleId"].as_str().unwrap();
        let index = r["ruleIndex"].as_u64().unwrap() as usize;
        assert_eq!(rules[index]["id"], id);
        assert!(["error", "warning", "note"].contains(&r["level"].as_str().unwrap()));
        assert!(r["message"]["text"].as_str().is_some());
    }
}

#[test]
fn a_bad_fail_on_is_usage_exit_2() {
    let emu = Emulator::start();
    let cwd = tempfile::tempdir().unwrap();
    let out = emu.snowpat(cwd.path(), &["audit", "--fail-on", "severe"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
}
