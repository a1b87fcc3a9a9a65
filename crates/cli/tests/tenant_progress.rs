//! Bulk tenant commands draw a progress bar on stderr only for a terminal with `--output text`;
//! piped or `--output json` runs write exactly what they wrote without it (`interfaces.md`: data
//! on stdout, JSON lines for machines, logs on stderr).

mod common;
mod tenant_setup;

use std::process::{Command, Output};

use common::{stderr, stdout};
use serde_json::Value;
use tenant_setup::Setup;

const IDS: [&str; 5] = ["ALPHA", "BRAVO", "CHARLIE", "DELTA", "ECHO"];

fn setup_with_ids() -> Setup {
    let setup = Setup::start();
    std::fs::write(setup.dir.path().join("tenants.txt"), IDS.join("\n")).unwrap();
    setup
}

/// The automation identity's command line, text output (the progress bar's case).
fn text_args(setup: &Setup, args: &[&str]) -> Vec<String> {
    let mut all = vec![
        "--config".to_owned(),
        "automation.toml".to_owned(),
        "--store".to_owned(),
        setup.store(),
    ];
    all.extend(args.iter().map(|a| (*a).to_owned()));
    all
}

fn as_automation_text(setup: &Setup, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_snowpat"))
        .args(text_args(setup, args))
        .current_dir(setup.dir.path())
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", setup.dir.path())
        .output()
        .unwrap()
}

fn no_control_characters(text: &str) {
    assert!(
        !text
            .chars()
            .any(|c| c.is_control() && c != '\n' && c != '\t'),
        "control characters in {text:?}"
    );
}

#[test]
fn piped_text_and_json_runs_write_no_progress_bar() {
    let setup = setup_with_ids();
    let sink = setup.sink();
    let out = as_automation_text(
        &setup,
        &[
            "tenant",
            "provision",
            "--from",
            "tenants.txt",
            "--sink",
            &sink,
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    // Nothing at all on stderr: no bar, no cleared line.
    assert_eq!(out.stderr, b"", "{:?}", stderr(&out));
    let text = stdout(&out);
    no_control_characters(&text);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), IDS.len(), "{text}");
    for (line, id) in lines.iter().zip(IDS) {
        let fields: Vec<&str> = line.split('\t').collect();
        assert_eq!(fields.len(), 7, "{line}");
        assert_eq!(fields[0], id);
        assert_eq!(fields[1], "created");
    }

    // JSON lines only on stdout.
    let out = setup.as_automation(&["rotate-due", "--within", "400d"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(out.stderr, b"", "{:?}", stderr(&out));
    let text = stdout(&out);
    no_control_characters(&text);
    let rotated: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    assert_eq!(rotated.len(), IDS.len(), "{text}");
    assert!(rotated.iter().all(|l| l["action"] == "rotated"), "{text}");

    // rotate-due in text mode, piped: also no bar.
    let out = as_automation_text(&setup, &["rotate-due", "--within", "400d"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(out.stderr, b"", "{:?}", stderr(&out));
    no_control_characters(&stdout(&out));
    assert_eq!(stdout(&out).lines().count(), IDS.len());
}

/// On a terminal (util-linux `script` gives the command a pseudo-terminal) the bar is drawn in
/// place and cleared; with `--output json` it is not drawn even there.
#[test]
fn a_terminal_gets_a_progress_bar_unless_the_output_is_json() {
    if Command::new("script").arg("--version").output().is_err() {
        eprintln!("skipped: util-linux `script` is not installed");
        return;
    }
    let setup = setup_with_ids();
    let sink = setup.sink();
    let run = |args: Vec<String>| -> String {
        let mut line = String::from(env!("CARGO_BIN_EXE_snowpat"));
        for a in args {
            line.push(' ');
            line.push('\'');
            line.push_str(&a.replace('\'', "'\\''"));
            line.push('\'');
        }
        let out = Command::new("script")
            .args(["-qec", &line, "/dev/null"])
            .current_dir(setup.dir.path())
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", setup.dir.path())
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        stdout(&out)
    };
    let terminal = run(text_args(
        &setup,
        &[
            "tenant",
            "provision",
            "--from",
            "tenants.txt",
            "--sink",
            &sink,
        ],
    ));
    assert!(
        terminal.contains("provisioning [##############################] 5/5 100%"),
        "{terminal:?}"
    );
    assert!(
        terminal.contains("\r\x1b[K"),
        "the bar is cleared: {terminal:?}"
    );
    let mut json_args = vec!["--output".to_owned(), "json".to_owned()];
    json_args.extend(text_args(&setup, &["rotate-due", "--within", "400d"]));
    let json = run(json_args);
    assert!(!json.contains("rotate-due ["), "{json:?}");
    assert!(!json.contains('\x1b'), "{json:?}");
    assert_eq!(
        json.lines()
            .filter(|l| l.trim_start().starts_with('{'))
            .count(),
        IDS.len(),
        "{json:?}"
    );
}
