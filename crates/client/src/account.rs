//! Where requests go: an account identifier turned into its Snowflake URL (protocols §1.1), or a
//! `--url` base override. Nothing else is derived from the host (protocols §1.1).

use std::fmt;
use std::net::IpAddr;

use reqwest::Url;

use crate::error::ConfigError;

/// The base URL every endpoint path is appended to. Never holds credentials.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct BaseUrl(Url);

impl BaseUrl {
    /// `https://<identifier>.snowflakecomputing.com` for an account identifier:
    /// `org-account`, an account locator with region and cloud (`xy12345.us-east-2.aws`), either
    /// with `.privatelink`; underscores become hyphens (host names cannot hold `_`). A trailing
    /// `.snowflakecomputing.com` is accepted and not doubled.
    pub fn from_account(identifier: &str) -> Result<Self, ConfigError> {
        let host = account_host(identifier)?;
        let url = Url::parse(&format!("https://{host}/"))
            .map_err(|_| ConfigError::Account(identifier.to_owned()))?;
        Ok(Self(url))
    }

    /// A base URL given explicitly (`--url`). `https` anywhere; `http` only to a loopback host
    /// (the emulator). No user info, query or fragment.
    pub fn parse(url: &str) -> Result<Self, ConfigError> {
        let bad = |why| ConfigError::Url {
            url: redact(url),
            why,
        };
        let parsed = Url::parse(url).map_err(|_| bad("not a URL"))?;
        if !parsed.username().is_empty() || parsed.password().is_some() {
            return Err(bad("credentials do not belong in the URL"));
        }
        if parsed.query().is_some() || parsed.fragment().is_some() {
            return Err(bad("a base URL has no query or fragment"));
        }
        match parsed.scheme() {
            "https" => {}
            "http" if is_loopback(&parsed) => {}
            "http" => return Err(bad("plain http is allowed only to a loopback host")),
            _ => return Err(bad("the scheme must be https (or http to a loopback host)")),
        }
        if parsed.host_str().is_none_or(str::is_empty) {
            return Err(bad("no host"));
        }
        let mut parsed = parsed;
        if !parsed.path().ends_with('/') {
            let path = format!("{}/", parsed.path());
            parsed.set_path(&path);
        }
        Ok(Self(parsed))
    }

    /// From a connection profile's `host`, `port` and `protocol` (Snowflake CLI keys).
    pub fn from_parts(
        host: &str,
        port: Option<u16>,
        protocol: Option<&str>,
    ) -> Result<Self, ConfigError> {
        let scheme = protocol.unwrap_or("https").to_ascii_lowercase();
        let port = port.map(|p| format!(":{p}")).unwrap_or_default();
        Self::parse(&format!("{scheme}://{host}{port}"))
    }

    /// The URL of `path` (no leading `/`) under this base.
    pub(crate) fn join(&self, path: &str) -> Result<Url, ConfigError> {
        self.0.join(path).map_err(|_| ConfigError::Url {
            url: format!("{}{path}", self.0),
            why: "cannot join the path",
        })
    }

    /// The URL.
    #[must_use]
    pub fn as_url(&self) -> &Url {
        &self.0
    }
}

impl fmt::Display for BaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// The host for an account identifier.
fn account_host(identifier: &str) -> Result<String, ConfigError> {
    let trimmed = identifier.trim().trim_end_matches('.');
    let lower = trimmed.to_ascii_lowercase();
    let bare = lower
        .strip_suffix(".snowflakecomputing.com")
        .unwrap_or(&lower);
    let host = bare.replace('_', "-");
    let labels_ok = !host.is_empty()
        && host.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        });
    if !labels_ok {
        return Err(ConfigError::Account(identifier.to_owned()));
    }
    Ok(format!("{host}.snowflakecomputing.com"))
}

fn is_loopback(url: &Url) -> bool {
    let Some(host) = url.host_str() else {
        return false;
    };
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    match bare.parse::<IpAddr>() {
        Ok(ip) => ip.is_loopback(),
        Err(_) => bare.eq_ignore_ascii_case("localhost"),
    }
}

/// A URL for an error message: anything before `@` in the authority is dropped.
fn redact(url: &str) -> String {
    match (url.find("://"), url.find('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            format!("{}://****@{}", &url[..scheme_end], &url[at + 1..])
        }
        _ => url.to_owned(),
    }
}

/// The account part of key-pair JWT claims (protocols §3.1): upper case; for a `.global`
/// identifier cut at the first `-`, otherwise at the first `.` (drops region and cloud); any
/// remaining period becomes a hyphen.
#[must_use]
pub fn jwt_account(identifier: &str) -> String {
    let upper = identifier.trim().to_ascii_uppercase();
    let upper = upper
        .strip_suffix(".SNOWFLAKECOMPUTING.COM")
        .unwrap_or(&upper)
        .to_owned();
    let cut = if upper.contains(".GLOBAL") {
        upper.split('-').next().unwrap_or_default()
    } else {
        upper.split('.').next().unwrap_or_default()
    };
    cut.replace('.', "-")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protocols_1_1_account_identifiers_become_hosts() {
        let cases = [
            (
                "myorg-myaccount",
                "https://myorg-myaccount.snowflakecomputing.com/",
            ),
            (
                "MyOrg-My_Account",
                "https://myorg-my-account.snowflakecomputing.com/",
            ),
            (
                "xy12345.us-east-2.aws",
                "https://xy12345.us-east-2.aws.snowflakecomputing.com/",
            ),
            (
                "myorg-myaccount.privatelink",
                "https://myorg-myaccount.privatelink.snowflakecomputing.com/",
            ),
            (
                "xy12345.eu-west-1.privatelink",
                "https://xy12345.eu-west-1.privatelink.snowflakecomputing.com/",
            ),
            (
                "org-acct.snowflakecomputing.com",
                "https://org-acct.snowflakecomputing.com/",
            ),
        ];
        for (id, url) in cases {
            assert_eq!(BaseUrl::from_account(id).unwrap().to_string(), url, "{id}");
        }
        for bad in ["", "a b", "org/acct", "-org", "a..b", "x@y"] {
            assert!(BaseUrl::from_account(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn protocols_1_1_url_override_allows_http_only_on_loopback() {
        assert_eq!(
            BaseUrl::parse("http://127.0.0.1:8080").unwrap().to_string(),
            "http://127.0.0.1:8080/"
        );
        assert!(BaseUrl::parse("http://[::1]:9/").is_ok());
        assert!(BaseUrl::parse("http://localhost:9").is_ok());
        assert!(BaseUrl::parse("https://example.com/prefix").is_ok());
        assert_eq!(
            BaseUrl::parse("https://example.com/prefix")
                .unwrap()
                .join("api/v2/statements")
                .unwrap()
                .as_str(),
            "https://example.com/prefix/api/v2/statements"
        );
        for bad in [
            "http://example.com",
            "http://10.0.0.1",
            "ftp://127.0.0.1",
            "https://u:p@example.com",
            "https://example.com/?x=1",
            "not a url",
        ] {
            assert!(BaseUrl::parse(bad).is_err(), "{bad}");
        }
        let error = BaseUrl::parse("https://user:hunter2@example.com")
            .unwrap_err()
            .to_string();
        assert!(!error.contains("hunter2"), "{error}");
    }

    #[test]
    fn protocols_1_1_profile_parts() {
        let url = BaseUrl::from_parts("127.0.0.1", Some(8080), Some("http")).unwrap();
        assert_eq!(url.to_string(), "http://127.0.0.1:8080/");
        assert!(BaseUrl::from_parts("example.com", None, Some("http")).is_err());
    }

    #[test]
    fn protocols_3_1_jwt_account_part() {
        assert_eq!(jwt_account("myorg-myaccount"), "MYORG-MYACCOUNT");
        assert_eq!(jwt_account("xy12345.us-east-2.aws"), "XY12345");
        assert_eq!(jwt_account("xy12345-abc.global"), "XY12345");
        assert_eq!(jwt_account("emulator"), "EMULATOR");
        assert_eq!(jwt_account("org-acct.snowflakecomputing.com"), "ORG-ACCT");
    }
}
