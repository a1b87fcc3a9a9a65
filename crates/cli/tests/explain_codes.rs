//! `snowpat explain`: every code of the one table (which covers snowflake-behaviour §9 and the
//! seeds' troubleshooting sections) explains itself, messages are matched by their fragments, and
//! an unknown code exits 1 with "unknown code".

use std::process::{Command, Output};

use snowpat_client::codes;

fn explain(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_snowpat"))
        .arg("explain")
        .args(args)
        .env_clear()
        .output()
        .expect("snowpat runs")
}

#[test]
fn every_code_in_the_table_is_explained_in_json_and_text() {
    for info in codes::CODES {
        let out = explain(&[info.code, "--output", "json"]);
        assert_eq!(out.status.code(), Some(0), "{}", info.code);
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
        assert_eq!(v["code"], info.code);
        assert_eq!(v["cause"], info.cause);
        assert_eq!(v["fix"], info.fix);
        let text = explain(&[info.code.trim_start_matches('0')]);
        assert_eq!(text.status.code(), Some(0), "{}", info.code);
        let text = String::from_utf8_lossy(&text.stdout);
        assert!(text.starts_with(info.code), "{text}");
        assert!(text.contains(info.fix), "{text}");
    }
}

#[test]
fn seed_and_catalogue_codes_are_all_known() {
    // snowflake-behaviour §9 rows, seed 000/003 troubleshooting (099413), §5.20 (099948), and the
    // Python connector's wrapper (250001).
    for code in [
        "000904", "001003", "002002", "002003", "003001", "003013", "004800", "099413", "099420",
        "099421", "390432", "390202", "394400", "390186", "099901", "099902", "099903", "099904",
        "099905", "099906", "099907", "099908", "099909", "099910", "099911", "099912", "099913",
        "099914", "099915", "099918", "099919", "099920", "099921", "099922", "099926", "099940",
        "099941", "099942", "099943", "099944", "099945", "099946", "099948", "250001",
    ] {
        assert!(codes::lookup(code).is_some(), "{code}");
        assert_eq!(explain(&[code]).status.code(), Some(0), "{code}");
    }
}

#[test]
fn messages_are_matched_by_known_fragments() {
    for (message, code) in [
        (
            "The specified role restriction FOO does not match the session role BAR.",
            "099421",
        ),
        (
            "Role restriction is required when creating a programmatic access token",
            "099904",
        ),
        ("Programmatic access token is invalid.", "394400"),
        ("Fail : Network policy is required.", "390432"),
        ("Role APP is not granted to user SVC", "099905"),
        ("Grant not executed: Insufficient privileges", "003001"),
        (
            "250001 (08001): Failed to connect: Programmatic access token is invalid.",
            "394400",
        ),
    ] {
        let out = explain(&[message, "--output", "json"]);
        assert_eq!(out.status.code(), Some(0), "{message}");
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
        assert_eq!(v["code"], code, "{message}");
    }
}

#[test]
fn unknown_codes_exit_1_with_their_class_when_derivable() {
    let out = explain(&["390999"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("unknown code 390999"), "{err}");
    assert!(err.contains("authentication"), "{err}");
    let out = explain(&["no such error text anywhere"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown code"));
    let out = explain(&["777777", "--output", "json"]);
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["unknown"], true);
}
