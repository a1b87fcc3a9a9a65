//! Query strings, parsed by hand so that a malformed one gets a Snowflake-shaped 400 rather than
//! a framework rejection.

/// `a=1&b=x%20y` → pairs, percent- and `+`-decoded. Invalid escapes or UTF-8 → `None`.
pub(crate) fn parse(query: Option<&str>) -> Option<Vec<(String, String)>> {
    let mut pairs = Vec::new();
    let Some(query) = query else {
        return Some(pairs);
    };
    for part in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = part.split_once('=').unwrap_or((part, ""));
        pairs.push((decode(key)?, decode(value)?));
    }
    Some(pairs)
}

fn decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = text.get(i + 1..i + 3)?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

/// The last value of `key` (query parameter names are case-sensitive in the SQL API).
pub(crate) fn get<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    pairs
        .iter()
        .rev()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

/// A boolean parameter: absent → `default`; `true`/`false` (any case) → the value; else `Err`.
pub(crate) fn boolean(pairs: &[(String, String)], key: &str, default: bool) -> Result<bool, ()> {
    match get(pairs, key) {
        None => Ok(default),
        Some(v) if v.eq_ignore_ascii_case("true") => Ok(true),
        Some(v) if v.eq_ignore_ascii_case("false") => Ok(false),
        Some(_) => Err(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_and_rejects() {
        let pairs = parse(Some("requestId=a%2Db&retry=true&x")).unwrap();
        assert_eq!(get(&pairs, "requestId"), Some("a-b"));
        assert_eq!(boolean(&pairs, "retry", false), Ok(true));
        assert_eq!(boolean(&pairs, "async", false), Ok(false));
        assert_eq!(get(&pairs, "x"), Some(""));
        assert!(parse(Some("a=%zz")).is_none());
        assert!(parse(Some("a=%ff")).is_none());
        assert!(boolean(&parse(Some("retry=yes")).unwrap(), "retry", false).is_err());
    }
}
