//! Reading typed values out of property lists (`NAME = value`).

use snowpat_sql::ast::{Property, Value};

use super::errors;
use super::SqlError;

/// A value as text for storage and display (`'x'` → `x`, `(a, b)` → `a, b`).
pub(crate) fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) | Value::Number(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
        Value::Null => "null".into(),
        Value::Name(n) => n.0.iter().map(|i| i.as_str()).collect::<Vec<_>>().join("."),
        Value::List(items) => items.iter().map(value_text).collect::<Vec<_>>().join(", "),
        Value::Properties(ps) => ps
            .iter()
            .map(|p| format!("{}={}", p.name.as_str(), value_text(&p.value)))
            .collect::<Vec<_>>()
            .join(", "),
    }
}

/// Resolves a name given as a string literal like an unquoted identifier, unless its content is
/// itself double-quoted (§1.2).
pub(crate) fn resolve_literal_name(s: &str) -> String {
    if s.len() >= 2 && s.starts_with('"') && s.ends_with('"') {
        s[1..s.len() - 1].replace("\"\"", "\"")
    } else {
        s.to_uppercase()
    }
}

fn bad(p: &Property) -> SqlError {
    errors::syntax(&value_text(&p.value))
}

/// A string literal.
pub(crate) fn string(p: &Property) -> Result<String, SqlError> {
    match &p.value {
        Value::String(s) => Ok(s.clone()),
        _ => Err(bad(p)),
    }
}

/// A string literal or NULL.
pub(crate) fn opt_string(p: &Property) -> Result<Option<String>, SqlError> {
    match &p.value {
        Value::String(s) => Ok(Some(s.clone())),
        Value::Null => Ok(None),
        _ => Err(bad(p)),
    }
}

/// A name given as an identifier or a string literal (resolved).
pub(crate) fn name(p: &Property) -> Result<String, SqlError> {
    match &p.value {
        Value::String(s) => Ok(resolve_literal_name(s)),
        Value::Name(n) if n.0.len() == 1 => Ok(n.name().as_str().to_owned()),
        _ => Err(bad(p)),
    }
}

/// A possibly qualified name given as an identifier or a string literal, as parts.
pub(crate) fn qualified(v: &Value) -> Option<Vec<String>> {
    match v {
        Value::String(s) => Some(split_qualified(s)),
        Value::Name(n) => Some(n.0.iter().map(|i| i.as_str().to_owned()).collect()),
        _ => None,
    }
}

/// Splits `db.schema."x"` on dots outside quotes and resolves each part.
pub(crate) fn split_qualified(s: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    for c in s.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                cur.push(c);
            }
            '.' if !quoted => parts.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    parts.push(cur);
    parts
        .iter()
        .map(|p| resolve_literal_name(p.trim()))
        .collect()
}

/// TRUE / FALSE (also the strings 'TRUE'/'FALSE').
pub(crate) fn boolean(p: &Property) -> Result<bool, SqlError> {
    match &p.value {
        Value::Bool(b) => Ok(*b),
        Value::String(s) | Value::Number(s) if s.eq_ignore_ascii_case("true") => Ok(true),
        Value::String(s) | Value::Number(s) if s.eq_ignore_ascii_case("false") => Ok(false),
        Value::Name(n) if n.0.len() == 1 && n.name().as_str().eq_ignore_ascii_case("true") => {
            Ok(true)
        }
        Value::Name(n) if n.0.len() == 1 && n.name().as_str().eq_ignore_ascii_case("false") => {
            Ok(false)
        }
        _ => Err(bad(p)),
    }
}

/// An integer.
pub(crate) fn integer(p: &Property) -> Result<i64, SqlError> {
    match &p.value {
        Value::Number(n) => n
            .parse::<i64>()
            .map_err(|_| errors::invalid_value(n, p.name.as_str())),
        _ => Err(bad(p)),
    }
}

/// A bare keyword or string (`TYPE = SERVICE`, `MODE = 'INGRESS'`), upper-cased.
pub(crate) fn keyword(p: &Property) -> Result<String, SqlError> {
    match &p.value {
        Value::String(s) => Ok(s.to_uppercase()),
        Value::Name(n) if n.0.len() == 1 => Ok(n.name().as_str().to_uppercase()),
        _ => Err(bad(p)),
    }
}

/// A list of strings or names (`('A', 'B')`, `(A, B)`), or a single string.
pub(crate) fn list(p: &Property) -> Result<Vec<Value>, SqlError> {
    match &p.value {
        Value::List(items) => Ok(items.clone()),
        Value::String(_) | Value::Name(_) => Ok(vec![p.value.clone()]),
        _ => Err(bad(p)),
    }
}

/// A list of string literals (upper-cased keywords such as methods or client types).
pub(crate) fn keyword_list(p: &Property) -> Result<Vec<String>, SqlError> {
    list(p)?
        .iter()
        .map(|v| match v {
            Value::String(s) => Ok(s.to_uppercase()),
            Value::Name(n) if n.0.len() == 1 => Ok(n.name().as_str().to_uppercase()),
            _ => Err(bad(p)),
        })
        .collect()
}

/// A list of raw strings (IP addresses, values).
pub(crate) fn string_list(p: &Property) -> Result<Vec<String>, SqlError> {
    list(p)?
        .iter()
        .map(|v| match v {
            Value::String(s) => Ok(s.clone()),
            Value::Number(s) => Ok(s.clone()),
            _ => Err(bad(p)),
        })
        .collect()
}
