//! The exchange's subject-token path on arbitrary bytes (issue 6): parsing, header rules, issuer
//! lookup, the RS256 signature check and every claim rule must refuse or accept, never panic.
//! Tokens are attacker-controlled input to `POST /v1/token`.
#![no_main]

use std::sync::OnceLock;
use std::time::{Duration, UNIX_EPOCH};

use libfuzzer_sys::fuzz_target;
use snowpat_core::config::{ExchangeConfig, ExchangePolicyConfig};
use snowpat_core::exchange::{
    fuzz_verify, parse_scope, JwksOptions, TrustPolicies, MAX_TOKEN_BYTES,
};

fn policies() -> &'static TrustPolicies {
    static FIXTURE: OnceLock<TrustPolicies> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let policy = |name: &str, subject: &str| ExchangePolicyConfig {
            name: name.into(),
            issuer: "https://idp.example.com".into(),
            jwks_url: "https://idp.example.com/jwks.json".into(),
            audience: "snowpat".into(),
            subject: subject.into(),
            claims: [("groups".to_string(), "data-agents|ops-[0-9]+".to_string())].into(),
            user_claim: "preferred_username".into(),
            roles: vec!["ANALYST_ROLE".into(), "OPS_ROLE".into()],
            max_lifetime: "1d".into(),
        };
        let cfg = ExchangeConfig {
            policy: vec![
                policy("agents", "[a-z0-9._-]+@example\\.com"),
                policy("ops", "ops-.*"),
            ],
            ..ExchangeConfig::default()
        };
        TrustPolicies::from_config(&cfg, &JwksOptions::default()).expect("fixture policies")
    })
}

fuzz_target!(|data: &[u8]| {
    let policies = policies();
    let now = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    for role in ["ANALYST_ROLE", "OPS_ROLE"] {
        if let Ok(grant) = fuzz_verify(policies, data, role, now) {
            // A grant is only ever for a configured role, an allowlisted issuer and a live token.
            assert_eq!(grant.role, role);
            assert_eq!(grant.issuer, "https://idp.example.com");
            assert!(grant.subject_expires_at + Duration::from_secs(60) >= now);
            assert!(!grant.user.is_empty());
        }
    }
    if data.len() <= MAX_TOKEN_BYTES {
        if let Ok(role) = parse_scope(&String::from_utf8_lossy(data)) {
            assert!(!role.is_empty() && role == role.to_ascii_uppercase());
        }
    }
});
