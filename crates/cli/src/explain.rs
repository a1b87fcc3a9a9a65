//! `snowpat explain CODE_OR_MESSAGE`: the title, cause and fix of a Snowflake code from the one
//! table (`snowpat_client::codes`), found by code (`3001`, `003001`) or, when no code is given,
//! by a known fragment of its message (`"... does not match the session role ..."` → `099421`).
//! Unknown → exit 1 with "unknown code" and its class when the code's range gives one.

use std::io::Write;
use std::process::ExitCode;

use snowpat_client::codes::{self, CodeClass, CodeInfo};

use crate::context::OutputFormat;
use crate::CliError;

#[derive(Debug, clap::Args)]
pub(crate) struct ExplainArgs {
    /// A Snowflake error code (`394400`, `3001`) or an error message.
    pub code_or_message: Vec<String>,
}

fn class_name(class: CodeClass) -> &'static str {
    match class {
        CodeClass::Success => "success",
        CodeClass::Pending => "pending",
        CodeClass::Authentication => "authentication",
        CodeClass::Authorization => "authorization",
        CodeClass::Request => "request",
        CodeClass::Statement => "statement",
        CodeClass::NotFound => "not-found",
        CodeClass::Limit => "limit",
        CodeClass::RateLimited => "rate-limited",
        CodeClass::Unavailable => "unavailable",
        CodeClass::Canceled => "canceled",
        _ => "other",
    }
}

/// The six-digit runs written in a message (`250001 (08001): ...` → `250001`).
fn codes_in(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_ascii_digit())
        .filter(|run| run.len() == 6)
        .map(str::to_owned)
        .collect()
}

/// The class an unknown code's range suggests (`39xxxx` login, `0999xx` emulator-defined SQL).
fn class_of_range(code: &str) -> Option<&'static str> {
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if code.starts_with("39") {
        Some("authentication")
    } else if code.starts_with("0999") || code.starts_with("0034") {
        Some("authorization or statement (PAT and policy range)")
    } else if code.starts_with("00") {
        Some("statement")
    } else {
        None
    }
}

/// What `explain` found: the row, and the code the input named (if any). A bare code (`3001`)
/// is looked up; a message is matched by its fragments first (a wrapper such as `250001` quotes
/// the real error's text), then by a known six-digit code written in it.
pub(crate) fn resolve(input: &str) -> (Option<&'static CodeInfo>, Option<String>) {
    let trimmed = input.trim();
    if !trimmed.is_empty() && trimmed.len() <= 6 && trimmed.bytes().all(|b| b.is_ascii_digit()) {
        let code = codes::normalize(trimmed);
        return (codes::lookup(&code), Some(code));
    }
    if let Some(info) = codes::lookup_message(trimmed) {
        return (Some(info), Some(info.code.to_owned()));
    }
    let written = codes_in(trimmed);
    if let Some(info) = written.iter().find_map(|c| codes::lookup(c)) {
        return (Some(info), Some(info.code.to_owned()));
    }
    (None, written.into_iter().next())
}

pub(crate) fn run(args: &ExplainArgs, output: OutputFormat) -> Result<ExitCode, CliError> {
    let input = args.code_or_message.join(" ");
    if input.trim().is_empty() {
        return Err(CliError::Usage(
            "explain needs a code (394400) or a message".into(),
        ));
    }
    let (info, code) = resolve(&input);
    let mut out = std::io::stdout().lock();
    match (info, output) {
        (Some(info), OutputFormat::Json) => {
            let v = serde_json::json!({
                "code": info.code,
                "class": class_name(info.class),
                "title": info.title,
                "cause": info.cause,
                "fix": info.fix,
            });
            let _ = writeln!(out, "{v}");
            Ok(ExitCode::SUCCESS)
        }
        (Some(info), OutputFormat::Text) => {
            let _ = writeln!(
                out,
                "{} {} ({})",
                info.code,
                info.title,
                class_name(info.class)
            );
            let _ = writeln!(out, "cause: {}", info.cause);
            let _ = writeln!(out, "fix:   {}", info.fix);
            Ok(ExitCode::SUCCESS)
        }
        (None, format) => {
            let class = code.as_deref().and_then(class_of_range);
            let shown = code.clone().unwrap_or_else(|| input.trim().to_owned());
            if format == OutputFormat::Json {
                let v = serde_json::json!({
                    "code": code,
                    "unknown": true,
                    "class": class,
                    "input": input.trim(),
                });
                let _ = writeln!(out, "{v}");
            }
            let mut err = std::io::stderr().lock();
            match class {
                Some(c) => {
                    let _ = writeln!(err, "error: unknown code {shown} (class by its range: {c})");
                }
                None => {
                    let _ = writeln!(err, "error: unknown code {shown}");
                }
            }
            Ok(ExitCode::from(1))
        }
    }
}
