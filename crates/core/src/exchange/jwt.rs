//! Compact JWS parsing without verification (RFC 7515 §7.1, RFC 7519): sync, bounded, never
//! panics. The signature is checked by [`super::Verifier`]; nothing here trusts the token.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde_json::{Map, Value};

use super::ExchangeError;

/// Tokens longer than this are refused before any parsing (`oversized`).
pub const MAX_TOKEN_BYTES: usize = 16 * 1024;

/// A syntactically valid compact JWS whose signature has not been checked.
#[derive(Clone)]
pub struct UnverifiedToken {
    /// The header's `alg`.
    pub alg: String,
    /// The header's `kid`, if any. `jku`, `x5u`, `x5c` are never read.
    pub kid: Option<String>,
    /// Names listed in the header's `crit` (none is understood, so any makes the token refused).
    pub crit: Vec<String>,
    /// The claims object.
    pub claims: Map<String, Value>,
    /// `BASE64URL(header) . BASE64URL(payload)`: the bytes the signature covers.
    pub signing_input: Vec<u8>,
    /// The decoded signature.
    pub signature: Vec<u8>,
}

// Claims may name the subject; keep them out of Debug output.
impl std::fmt::Debug for UnverifiedToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UnverifiedToken")
            .field("alg", &self.alg)
            .field("kid", &self.kid)
            .field("claims", &format_args!("<{} claims>", self.claims.len()))
            .finish_non_exhaustive()
    }
}

fn malformed(detail: &str) -> ExchangeError {
    ExchangeError::request("malformed", detail)
}

fn decode_part(part: &str, what: &str) -> Result<Vec<u8>, ExchangeError> {
    URL_SAFE_NO_PAD
        .decode(part.as_bytes())
        .map_err(|_| malformed(&format!("the {what} is not unpadded base64url")))
}

fn decode_object(part: &str, what: &str) -> Result<Map<String, Value>, ExchangeError> {
    let bytes = decode_part(part, what)?;
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(malformed(&format!("the {what} is not a JSON object"))),
        Err(_) => Err(malformed(&format!("the {what} is not valid JSON"))),
    }
}

/// Splits and decodes a compact JWS: size cap first, then exactly three base64url parts, a JSON
/// object header with a string `alg` (and optional string `kid`), a JSON object payload.
pub fn parse_unverified(token: &str) -> Result<UnverifiedToken, ExchangeError> {
    if token.len() > MAX_TOKEN_BYTES {
        return Err(ExchangeError::request(
            "oversized",
            format!("the subject token is over {MAX_TOKEN_BYTES} bytes"),
        ));
    }
    let token = token.trim();
    if token.is_empty() {
        return Err(malformed("the subject token is empty"));
    }
    let mut parts = token.split('.');
    let (Some(h), Some(p), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(malformed(
            "the subject token is not a compact JWS (three base64url parts separated by dots)",
        ));
    };
    if h.is_empty() || p.is_empty() {
        return Err(malformed("the header or payload is empty"));
    }
    let header = decode_object(h, "header")?;
    let claims = decode_object(p, "payload")?;
    let signature = decode_part(s, "signature")?;
    let alg = match header.get("alg") {
        Some(Value::String(a)) => a.clone(),
        Some(_) => return Err(malformed("the header's alg is not a string")),
        None => return Err(malformed("the header has no alg")),
    };
    let kid = match header.get("kid") {
        None | Some(Value::Null) => None,
        Some(Value::String(k)) => Some(k.clone()),
        Some(_) => return Err(malformed("the header's kid is not a string")),
    };
    let crit = match header.get("crit") {
        None => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| v.as_str().map(str::to_string))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| malformed("the header's crit is not an array of strings"))?,
        Some(_) => return Err(malformed("the header's crit is not an array")),
    };
    let mut signing_input = Vec::with_capacity(h.len() + 1 + p.len());
    signing_input.extend_from_slice(h.as_bytes());
    signing_input.push(b'.');
    signing_input.extend_from_slice(p.as_bytes());
    Ok(UnverifiedToken {
        alg,
        kid,
        crit,
        claims,
        signing_input,
        signature,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(v: &str) -> String {
        URL_SAFE_NO_PAD.encode(v)
    }

    #[test]
    fn parses_and_refuses() {
        let t = format!(
            "{}.{}.{}",
            b64(r#"{"alg":"RS256","kid":"k1","jku":"https://evil"}"#),
            b64(r#"{"sub":"a"}"#),
            b64("sig")
        );
        let u = parse_unverified(&t).unwrap();
        assert_eq!((u.alg.as_str(), u.kid.as_deref()), ("RS256", Some("k1")));
        assert_eq!(u.signature, b"sig");
        assert_eq!(u.claims["sub"], "a");

        let bad = [
            String::new(),
            "a.b".into(),
            "a.b.c.d".into(),
            format!("{}.{}.", b64("[]"), b64("{}")),
            format!("{}.{}.", b64(r#"{"alg":1}"#), b64("{}")),
            format!("{}.{}.", b64(r#"{"alg":"RS256"}"#), b64("1")),
            format!("{}.{}.!!", b64(r#"{"alg":"RS256"}"#), b64("{}")),
            format!("{}=.{}.", b64(r#"{"alg":"RS256"}"#), b64("{}")),
        ];
        for t in bad {
            let e = parse_unverified(&t).unwrap_err();
            assert_eq!(e.reason(), "malformed", "{t}");
        }
        let big = "a".repeat(MAX_TOKEN_BYTES + 1);
        assert_eq!(parse_unverified(&big).unwrap_err().reason(), "oversized");
    }
}
