//! Fixture for `bench/exchange.sh`: an in-process emulator trusting a test IdP (External OAuth),
//! N users holding ANALYST_ROLE, and the exchange service (as-user) on loopback. Writes into
//! `DIR`: `url` (the service), `reuse.lua` (one subject, hammered: the reuse path) and
//! `mint.lua` (N subjects, each request a new one: the mint path), then serves until stdin
//! closes.
//!
//! `cargo run --release -p snowpat-server --example exchange_bench -- DIR N`

use std::io::Read;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use secrecy::SecretString;
use serde_json::json;
use snowpat_client::{BaseUrl, Client, Credential, RetryPolicy};
use snowpat_core::config::{ExchangeConfig, ExchangePolicyConfig};
use snowpat_core::store::SqliteStore;
use snowpat_emulator::server::{self, Config};
use snowpat_server::audit::AuditLog;
use snowpat_server::http::router;
use snowpat_server::ratelimit::RateLimit;
use snowpat_server::{build_state, Options};
use snowpat_testkit::TestIdp;

const ROLE: &str = "ANALYST_ROLE";

fn lua(tokens: &[String]) -> String {
    let mut out = String::from(
        "wrk.method = \"POST\"\nwrk.headers[\"Content-Type\"] = \"application/x-www-form-urlencoded\"\nlocal tokens = {\n",
    );
    for t in tokens {
        out.push_str(&format!("  \"{t}\",\n"));
    }
    out.push_str(&format!(
        "}}\nlocal n = 0\nlocal stride = 1\nlocal non200 = 0\n\
         function setup(thread)\n  thread:set(\"id\", (setup_count or 0))\n  setup_count = (setup_count or 0) + 1\nend\n\
         function init(args)\n  n = id or 0\nend\n\
         request = function()\n  local t = tokens[(n % #tokens) + 1]\n  n = n + {threads}\n  \
         return wrk.format(nil, nil, nil, \"grant_type=urn:ietf:params:oauth:grant-type:token-exchange&subject_token=\" .. t .. \"&subject_token_type=urn:ietf:params:oauth:token-type:jwt&scope=session:role:{ROLE}\")\nend\n\
         response = function(status, headers, body)\n  if status ~= 200 then non200 = non200 + 1 end\nend\n",
        threads = 2
    ));
    out
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let dir = std::path::PathBuf::from(args.next().ok_or("usage: exchange_bench DIR N")?);
    let n: usize = args.next().unwrap_or_else(|| "2000".into()).parse()?;
    std::fs::create_dir_all(&dir)?;
    let config = Config {
        admin_token_file: Some(dir.join("admin.token")),
        control_token_file: Some(dir.join("control.token")),
        ..Config::default()
    };
    let running = server::spawn(config).await?;
    let url = running.url();
    let admin_pat = std::fs::read_to_string(dir.join("admin.token"))?;
    let admin = Client::builder(
        BaseUrl::parse(&url)?,
        Credential::pat(SecretString::from(admin_pat.trim().to_owned())),
    )
    .retry(RetryPolicy::default())
    .build()?;
    let idp = TestIdp::start().await;
    let run = |sql: String| {
        let admin = admin.clone();
        async move {
            admin
                .execute(&snowpat_client::Statement::new(sql))
                .await
                .map(|_| ())
        }
    };
    run(format!(
        "CREATE SECURITY INTEGRATION idp TYPE = EXTERNAL_OAUTH ENABLED = TRUE \
         EXTERNAL_OAUTH_TYPE = CUSTOM EXTERNAL_OAUTH_ISSUER = '{}' \
         EXTERNAL_OAUTH_RSA_PUBLIC_KEY = '{}' EXTERNAL_OAUTH_AUDIENCE_LIST = ('snowpat') \
         EXTERNAL_OAUTH_TOKEN_USER_MAPPING_CLAIM = 'preferred_username' \
         EXTERNAL_OAUTH_SNOWFLAKE_USER_MAPPING_ATTRIBUTE = 'LOGIN_NAME'",
        idp.issuer(),
        idp.public_key_der_b64()
    ))
    .await?;
    run(format!("CREATE ROLE {ROLE}")).await?;
    let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
    let mut tokens = Vec::with_capacity(n + 1);
    for i in 0..=n {
        let user = format!("u{i}");
        run(format!(
            "CREATE USER {user} LOGIN_NAME = '{user}@example.com' TYPE = PERSON"
        ))
        .await?;
        run(format!("GRANT ROLE {ROLE} TO USER {user}")).await?;
        tokens.push(idp.mint(json!({
            "iss": idp.issuer(), "sub": format!("{user}@example.com"), "aud": "snowpat",
            "iat": now, "exp": now + 3000, "preferred_username": format!("{user}@example.com"),
            "scp": [format!("session:role:{ROLE}")],
        })));
    }
    let cfg = ExchangeConfig {
        mode: "as-user".into(),
        policy: vec![ExchangePolicyConfig {
            name: "bench".into(),
            issuer: idp.issuer(),
            jwks_url: idp.jwks_url(),
            audience: "snowpat".into(),
            subject: "u[0-9]+@example\\.com".into(),
            claims: Default::default(),
            user_claim: "preferred_username".into(),
            roles: vec![ROLE.into()],
            max_lifetime: "1d".into(),
        }],
        ..ExchangeConfig::default()
    };
    let mut options = Options {
        // The benchmark hammers one subject: lift the per-subject limit out of the way.
        rate_limit: RateLimit {
            per_second: 1e9,
            burst: 1e9,
        },
        ..Options::default()
    };
    options.jwks.allow_http_loopback = true;
    let store = SqliteStore::open_path(&dir.join("state.db")).await?;
    let state = build_state(
        &cfg,
        &options,
        &BaseUrl::parse(&url)?,
        None,
        Arc::new(store),
        Arc::new(AuditLog::file(&dir.join("audit.jsonl"))?),
    )?;
    let listener = snowpat_server::listen::bind("127.0.0.1:0".parse()?).await?;
    let addr = listener.local_addr()?;
    // The reuse path: subject 0 (minted once here, then handed out again).
    std::fs::write(dir.join("reuse.lua"), lua(&tokens[..1]))?;
    std::fs::write(dir.join("mint.lua"), lua(&tokens[1..]))?;
    std::fs::write(dir.join("control_url"), &url)?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::task::spawn_blocking(move || {
        let mut sink = Vec::new();
        let _ = std::io::stdin().read_to_end(&mut sink);
        let _ = stop.send(());
    });
    let service = tokio::spawn(snowpat_server::listen::serve(
        listener,
        router(state),
        None,
        async {
            let _ = stopped.await;
        },
    ));
    tokio::time::sleep(Duration::from_millis(100)).await;
    std::fs::write(dir.join("url"), format!("http://{addr}"))?;
    service.await??;
    running.shutdown().await;
    Ok(())
}
