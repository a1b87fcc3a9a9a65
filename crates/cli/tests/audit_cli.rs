//! `snowpat audit`: --fail-on decides exit 4, --output json carries coverage and findings,
//! --output sarif is SARIF 2.1.0 with rules and results, and the audit only reads.

mod common;

use common::{assert_only_reads, sqlite_store, stderr, stdout, Emulator, MULTI_TENANT_NO_CIDRS};

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

/// `(rule, object)` of every finding in `audit --output json`.
fn pairs(out: &std::process::Output) -> Vec<(String, String)> {
    let v: serde_json::Value = serde_json::from_str(&stdout(out)).expect("json");
    let mut pairs: Vec<(String, String)> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["rule"].as_str().unwrap().to_owned(),
                f["object"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    pairs.sort();
    pairs
}

/// The store's tenants bound the automation role's reach: with the store that provisioned the
/// tenant, its deployment user is no finding; with an empty store it is one
/// (`automation-mints-outside-tenants`). `--person-pats-barred` flags ADMIN, whose user-level
/// policy allows every method.
#[test]
fn the_store_decides_which_users_the_automation_role_may_mint_for() {
    let emu = Emulator::start();
    let cwd = tempfile::tempdir().unwrap();
    let store = sqlite_store(cwd.path());
    // Provisioned as ADMIN: the seed-exact network setting (see cli_config_entries.rs).
    emu.provision_acme(cwd.path(), MULTI_TENANT_NO_CIDRS, &store);

    // The emulator's own ADMIN token (unrestricted, held by a PERSON user), and the tenant
    // without a network policy that `allowed_cidrs = ["none"]` (the seed exactly) leaves.
    let admin = vec![
        ("person-user-pat".to_owned(), "USER ADMIN".to_owned()),
        (
            "service-user-no-network-policy".to_owned(),
            "USER DEPLOYMENT_ACME".to_owned(),
        ),
        (
            "unrestricted-pat".to_owned(),
            "PAT ADMIN.EMULATOR_ADMIN".to_owned(),
        ),
    ];
    let out = emu.snowpat(
        cwd.path(),
        &["--store", &store, "audit", "--output", "json"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(pairs(&out), admin);

    let empty = format!("sqlite:{}", cwd.path().join("none.db").display());
    let out = emu.snowpat(
        cwd.path(),
        &["--store", &empty, "audit", "--output", "json"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let mut want = admin.clone();
    want.push((
        "automation-mints-outside-tenants".to_owned(),
        "USER DEPLOYMENT_ACME".to_owned(),
    ));
    want.sort();
    assert_eq!(pairs(&out), want);
    assert!(
        !cwd.path().join("none.db").exists(),
        "audit created a store"
    );

    let out = emu.snowpat(
        cwd.path(),
        &[
            "--store",
            &store,
            "audit",
            "--person-pats-barred",
            "--output",
            "json",
        ],
    );
    let mut want = admin;
    want.push((
        "person-user-pat-allowed".to_owned(),
        "USER ADMIN".to_owned(),
    ));
    want.sort();
    assert_eq!(pairs(&out), want);
}
