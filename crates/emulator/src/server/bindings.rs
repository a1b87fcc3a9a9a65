//! SQL API bind variables (protocols §2.4): `bindings` replace `?` and `:name` placeholders in
//! `statement`. Values are always strings, typed FIXED, REAL, DECFLOAT, TEXT, BINARY (hex),
//! BOOLEAN, DATE (epoch ms), TIME and TIMESTAMP_* (epoch ns), TIMESTAMP_TZ (`"<ns> <offset-minutes>"`);
//! an unrecognised value is 422 `100037` (sqlState `22018`) `<type> value '<v>' is not recognized`.
//! Bindings are not supported in multi-statement requests (protocols §2.4, §2.6).
//!
//! The emulator substitutes each bound placeholder with a SQL literal before parsing, so a bound
//! value can stand wherever a literal may (`SELECT ?`, `DAYS_TO_EXPIRY = ?`, `COMMENT = :2`)
//! and never as an identifier in DDL (protocols §2.4). Placeholders inside string literals,
//! quoted identifiers, `$$…$$` and comments are left alone, and so is a placeholder without a
//! binding (the statement then fails to parse as Snowflake's would). FIXED, REAL and DECFLOAT
//! become numbers, BOOLEAN `TRUE`/`FALSE`, TEXT a string literal; the engine has no binary or
//! date/time types, so BINARY (validated hex) and DATE/TIME/TIMESTAMP values become string
//! literals of their canonical text (`2024-01-31`, `12:00:00.000000000`,
//! `2024-01-31 12:00:00.000000000 +01:00`) [E]. A JSON `null` value binds SQL `NULL` [E].

use chrono::{DateTime, NaiveTime};
use serde_json::{Map, Value};

use crate::engine::SqlError;

/// Why `bindings` could not be applied.
#[derive(Debug)]
pub(crate) enum BindError {
    /// The `bindings` member is not an object of `{"type", "value"}` objects of known types:
    /// an invalid payload (400 `390142`) [E].
    Malformed,
    /// A value its type does not recognise: 422 `100037`.
    NotRecognized(SqlError),
}

fn not_recognized(ty: &str, value: &str) -> BindError {
    BindError::NotRecognized(SqlError::new(
        "100037",
        "22018",
        format!("{ty} value '{value}' is not recognized"),
    ))
}

/// `-?digits(.digits)?` (also `+`, and `.5` / `5.`).
fn is_decimal(text: &str) -> bool {
    let body = text.strip_prefix(['-', '+']).unwrap_or(text);
    let (int, frac) = body.split_once('.').unwrap_or((body, ""));
    (!int.is_empty() || !frac.is_empty())
        && int.bytes().all(|b| b.is_ascii_digit())
        && frac.bytes().all(|b| b.is_ascii_digit())
}

/// A number literal as the SQL lexer reads it (no leading `+`).
fn number_literal(text: &str) -> String {
    let t = text.strip_prefix('+').unwrap_or(text);
    let t = if let Some(rest) = t.strip_prefix("-.") {
        format!("-0.{rest}")
    } else if let Some(rest) = t.strip_prefix('.') {
        format!("0.{rest}")
    } else {
        t.to_owned()
    };
    t.strip_suffix('.').map_or(t.clone(), str::to_owned)
}

fn float_literal(ty: &str, text: &str) -> Result<String, BindError> {
    let t = text.trim();
    if is_decimal(t) {
        return Ok(number_literal(t));
    }
    match t.parse::<f64>() {
        Ok(f) if f.is_finite() => Ok(format!("{f}")),
        _ => Err(not_recognized(ty, text)),
    }
}

/// A single-quoted literal whose content, after the lexer's escape processing, is `text`.
fn string_literal(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('\'');
    for c in text.chars() {
        match c {
            '\'' => out.push_str("''"),
            '\\' => out.push_str("\\\\"),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

fn integer(ty: &str, text: &str) -> Result<i128, BindError> {
    text.trim()
        .parse::<i128>()
        .map_err(|_| not_recognized(ty, text))
}

/// `ns` since the epoch as `(seconds, nanoseconds)`.
fn split_ns(ns: i128) -> Option<(i64, u32)> {
    let secs = i64::try_from(ns.div_euclid(1_000_000_000)).ok()?;
    let nanos = u32::try_from(ns.rem_euclid(1_000_000_000)).ok()?;
    Some((secs, nanos))
}

fn timestamp_text(ty: &str, text: &str, ns: i128) -> Result<String, BindError> {
    let (secs, nanos) = split_ns(ns).ok_or_else(|| not_recognized(ty, text))?;
    let t = DateTime::from_timestamp(secs, nanos).ok_or_else(|| not_recognized(ty, text))?;
    Ok(t.naive_utc().format("%Y-%m-%d %H:%M:%S%.9f").to_string())
}

/// The SQL literal for one binding (protocols §2.4 types and value formats).
fn literal(ty: &str, value: &Value) -> Result<String, BindError> {
    let text = match value {
        Value::Null => return Ok("NULL".to_owned()),
        Value::String(s) => s.as_str(),
        other => return Err(not_recognized(ty, &other.to_string())),
    };
    match ty {
        "FIXED" => {
            let t = text.trim();
            if is_decimal(t) {
                Ok(number_literal(t))
            } else {
                Err(not_recognized(ty, text))
            }
        }
        "REAL" | "DECFLOAT" => float_literal(ty, text),
        "TEXT" => Ok(string_literal(text)),
        "BOOLEAN" => match text.trim().to_ascii_lowercase().as_str() {
            "true" | "t" | "yes" | "y" | "on" | "1" => Ok("TRUE".to_owned()),
            "false" | "f" | "no" | "n" | "off" | "0" => Ok("FALSE".to_owned()),
            _ => Err(not_recognized(ty, text)),
        },
        "BINARY" => {
            let t = text.trim();
            if t.len() % 2 == 0 && t.bytes().all(|b| b.is_ascii_hexdigit()) {
                Ok(string_literal(&t.to_ascii_uppercase()))
            } else {
                Err(not_recognized(ty, text))
            }
        }
        "DATE" => {
            let ms = integer(ty, text)?;
            let secs = i64::try_from(ms.div_euclid(1000)).map_err(|_| not_recognized(ty, text))?;
            let t = DateTime::from_timestamp(secs, 0).ok_or_else(|| not_recognized(ty, text))?;
            Ok(string_literal(
                &t.date_naive().format("%Y-%m-%d").to_string(),
            ))
        }
        "TIME" => {
            let ns = integer(ty, text)?;
            if !(0..86_400_000_000_000).contains(&ns) {
                return Err(not_recognized(ty, text));
            }
            let (secs, nanos) = split_ns(ns).ok_or_else(|| not_recognized(ty, text))?;
            let secs = u32::try_from(secs).map_err(|_| not_recognized(ty, text))?;
            let t = NaiveTime::from_num_seconds_from_midnight_opt(secs, nanos)
                .ok_or_else(|| not_recognized(ty, text))?;
            Ok(string_literal(&t.format("%H:%M:%S%.9f").to_string()))
        }
        "TIMESTAMP" | "TIMESTAMP_NTZ" | "TIMESTAMP_LTZ" => {
            let ns = integer(ty, text)?;
            Ok(string_literal(&timestamp_text(ty, text, ns)?))
        }
        "TIMESTAMP_TZ" => {
            let mut parts = text.split_whitespace();
            let (Some(ns), Some(offset), None) = (parts.next(), parts.next(), parts.next()) else {
                return Err(not_recognized(ty, text));
            };
            let ns = integer(ty, ns).map_err(|_| not_recognized(ty, text))?;
            let minutes: i64 = offset.parse().map_err(|_| not_recognized(ty, text))?;
            if minutes.abs() >= 1440 {
                return Err(not_recognized(ty, text));
            }
            let local = ns + i128::from(minutes) * 60_000_000_000;
            let sign = if minutes < 0 { '-' } else { '+' };
            let m = minutes.abs();
            Ok(string_literal(&format!(
                "{} {sign}{:02}:{:02}",
                timestamp_text(ty, text, local)?,
                m / 60,
                m % 60
            )))
        }
        _ => Err(BindError::Malformed),
    }
}

/// Parses `bindings` into `key → SQL literal`.
fn literals(bindings: &Map<String, Value>) -> Result<Vec<(String, String)>, BindError> {
    bindings
        .iter()
        .map(|(key, binding)| {
            let object = binding.as_object().ok_or(BindError::Malformed)?;
            let ty = object
                .get("type")
                .and_then(Value::as_str)
                .ok_or(BindError::Malformed)?
                .to_ascii_uppercase();
            let value = object.get("value").ok_or(BindError::Malformed)?;
            Ok((key.clone(), literal(&ty, value)?))
        })
        .collect()
}

fn is_ident_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_'
}

fn is_ident_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '$'
}

/// `statement` with every bound `?` (the n-th takes binding `"n"`), `:n` and `:name` replaced
/// by its literal. Every binding's value is checked even when no placeholder uses it.
pub(crate) fn substitute(
    statement: &str,
    bindings: &Map<String, Value>,
) -> Result<String, BindError> {
    let literals = literals(bindings)?;
    let lookup = |key: &str| {
        literals
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    };
    let chars: Vec<char> = statement.chars().collect();
    let mut out = String::with_capacity(statement.len());
    let mut positional = 0usize;
    let mut i = 0;
    let copy_until =
        |out: &mut String, i: &mut usize, end: &dyn Fn(&[char], usize) -> Option<usize>| {
            let stop = end(&chars, *i).unwrap_or(chars.len());
            out.extend(&chars[*i..stop]);
            *i = stop;
        };
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        match c {
            '\'' => copy_until(&mut out, &mut i, &|s, start| {
                // '…' with '' and backslash escapes.
                let mut j = start + 1;
                while j < s.len() {
                    match s[j] {
                        '\\' => j += 2,
                        '\'' if s.get(j + 1) == Some(&'\'') => j += 2,
                        '\'' => return Some(j + 1),
                        _ => j += 1,
                    }
                }
                None
            }),
            '"' => copy_until(&mut out, &mut i, &|s, start| {
                let mut j = start + 1;
                while j < s.len() {
                    match s[j] {
                        '"' if s.get(j + 1) == Some(&'"') => j += 2,
                        '"' => return Some(j + 1),
                        _ => j += 1,
                    }
                }
                None
            }),
            '$' if next == Some('$') => copy_until(&mut out, &mut i, &|s, start| {
                (start + 2..s.len().saturating_sub(1))
                    .find(|&j| s[j] == '$' && s[j + 1] == '$')
                    .map(|j| j + 2)
            }),
            '-' if next == Some('-') => copy_until(&mut out, &mut i, &|s, start| {
                s[start..]
                    .iter()
                    .position(|&c| c == '\n')
                    .map(|p| start + p)
            }),
            '/' if next == Some('/') => copy_until(&mut out, &mut i, &|s, start| {
                s[start..]
                    .iter()
                    .position(|&c| c == '\n')
                    .map(|p| start + p)
            }),
            '/' if next == Some('*') => copy_until(&mut out, &mut i, &|s, start| {
                (start + 2..s.len().saturating_sub(1))
                    .find(|&j| s[j] == '*' && s[j + 1] == '/')
                    .map(|j| j + 2)
            }),
            '?' => {
                positional += 1;
                match lookup(&positional.to_string()) {
                    Some(v) => out.push_str(v),
                    None => out.push('?'),
                }
                i += 1;
            }
            ':' if next == Some(':') => {
                out.push_str("::");
                i += 2;
            }
            ':' if next.is_some_and(|n| n.is_ascii_digit() || is_ident_start(n)) => {
                let start = i + 1;
                let mut end = start;
                while end < chars.len() && is_ident_char(chars[end]) {
                    end += 1;
                }
                let key: String = chars[start..end].iter().collect();
                match lookup(&key) {
                    Some(v) => out.push_str(v),
                    None => {
                        out.push(':');
                        out.push_str(&key);
                    }
                }
                i = end;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn protocols_2_4_placeholders_outside_literals_and_comments_are_replaced() {
        let b = map(json!({"1": {"type": "FIXED", "value": "123"},
                          "2": {"type": "TEXT", "value": "it's \\ ?"},
                          "name": {"type": "BOOLEAN", "value": "yes"}}));
        let out = substitute(
            "SELECT ?, '?', \"?\", $$?$$, ? -- ?\n, :1, :name, x::int, :nobody /* :1 */",
            &b,
        )
        .unwrap();
        assert_eq!(
            out,
            "SELECT 123, '?', \"?\", $$?$$, 'it''s \\\\ ?' -- ?\n, 123, TRUE, x::int, :nobody /* :1 */"
        );
        // A third `?` has no binding and stays.
        assert_eq!(
            substitute("SELECT ?, ?, ?", &b).unwrap(),
            "SELECT 123, 'it''s \\\\ ?', ?"
        );
    }

    #[test]
    fn protocols_2_4_value_formats() {
        let one = |ty: &str, v: &str| literal(ty, &Value::String(v.into()));
        assert_eq!(one("FIXED", "-1.50").unwrap(), "-1.50");
        assert_eq!(one("REAL", "1e3").unwrap(), "1000");
        assert_eq!(one("DECFLOAT", ".5").unwrap(), "0.5");
        assert_eq!(one("DATE", "86400000").unwrap(), "'1970-01-02'");
        assert_eq!(
            one("TIME", "3600000000001").unwrap(),
            "'01:00:00.000000001'"
        );
        assert_eq!(
            one("TIMESTAMP_NTZ", "1706702400000000000").unwrap(),
            "'2024-01-31 12:00:00.000000000'"
        );
        assert_eq!(
            one("TIMESTAMP_TZ", "1706702400000000000 60").unwrap(),
            "'2024-01-31 13:00:00.000000000 +01:00'"
        );
        assert_eq!(one("BINARY", "0aff").unwrap(), "'0AFF'");
        for (ty, v) in [
            ("FIXED", "12a"),
            ("FIXED", ""),
            ("REAL", "NaN"),
            ("BOOLEAN", "maybe"),
            ("BINARY", "abc"),
            ("DATE", "yesterday"),
            ("TIME", "-1"),
            ("TIMESTAMP_TZ", "1 2000"),
        ] {
            match one(ty, v) {
                Err(BindError::NotRecognized(e)) => {
                    assert_eq!(e.code, "100037");
                    assert_eq!(e.message, format!("{ty} value '{v}' is not recognized"));
                }
                other => panic!("{ty} {v}: {other:?}"),
            }
        }
        assert!(matches!(one("INTERVAL", "1"), Err(BindError::Malformed)));
    }
}
