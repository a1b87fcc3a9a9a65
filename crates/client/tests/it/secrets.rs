//! A workload at trace level, client and emulator logs captured, leaks no secret.

use std::io::Write;
use std::sync::{Arc, Mutex};

use secrecy::{ExposeSecret, SecretString};
use snowpat_client::{Client, Credential, KeyPair, Statement};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::EnvFilter;

use crate::harness::{test_retry, Emu};

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Capture {
    type Writer = Capture;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

/// The base64url of `{"alg":"RS256","typ":"JWT"}`: every JWT the client signs starts with it.
const JWT_HEADER: &str = "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9";

// The subscriber is the process-wide default, so it also sees the emulator's blocking threads
// and reqwest's `log` records (through LogTracer); other tests running meanwhile are captured too,
// which only widens the search.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_in_trace_logs() {
    let capture = Capture::default();
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::new("trace"))
        .with_writer(capture.clone())
        .with_ansi(false)
        .finish();
    tracing::subscriber::set_global_default(subscriber).expect("only this test installs one");
    let _ = tracing_log::LogTracer::init();
    tracing::trace!("capture works");

    let emu = Emu::start_with(|c| {
        c.admin_key_file = Some(
            c.admin_token_file
                .clone()
                .unwrap()
                .with_file_name("admin.pem"),
        );
        c.fault_rate = 0.3;
        c.drop_rate = 0.2;
        c.seed = 9;
    })
    .await;
    let admin_pat = emu.admin_secret();
    let pem = std::fs::read_to_string(emu.config.admin_key_file.as_ref().unwrap()).unwrap();
    let admin = emu.admin().build().unwrap();
    let by_key = Client::builder(
        emu.base(),
        Credential::KeyPair(
            KeyPair::from_pem(
                &emu.config.account,
                "ADMIN",
                &SecretString::from(pem.clone()),
            )
            .unwrap(),
        ),
    )
    .retry(test_retry())
    .build()
    .unwrap();

    let secret_literal = "s3cr3t-literal-in-a-statement-QWERTY";
    let mut minted: Vec<SecretString> = Vec::new();
    for statement in [
        "CREATE ROLE LEAK_ROLE".to_owned(),
        "CREATE USER LEAK_USER TYPE = SERVICE".to_owned(),
        "GRANT ROLE LEAK_ROLE TO USER LEAK_USER".to_owned(),
        "CREATE DATABASE LEAK_DB".to_owned(),
        format!("CREATE SECRET LEAK_DB.PUBLIC.S TYPE = GENERIC_STRING SECRET_STRING = '{secret_literal}'"),
    ] {
        by_key.execute(&Statement::new(statement)).await.unwrap();
    }
    for i in 0..10 {
        let result = admin
            .execute(&Statement::new(format!(
                "ALTER USER LEAK_USER ADD PAT T{i} ROLE_RESTRICTION = 'LEAK_ROLE'"
            )))
            .await
            .unwrap();
        minted.push(result.rows()[0].secret("token_secret").unwrap());
    }
    let rotated = admin
        .execute(&Statement::new("ALTER USER LEAK_USER ROTATE PAT T0"))
        .await
        .unwrap();
    minted.push(rotated.rows()[0].secret("token_secret").unwrap());
    for secret in &minted[1..] {
        let user = admin.with_credential(Credential::pat(secret.clone()));
        let result = user
            .execute(&Statement::new("SELECT CURRENT_USER()"))
            .await
            .unwrap();
        assert_eq!(
            result.rows()[0].get::<String>("CURRENT_USER()").unwrap(),
            "LEAK_USER"
        );
        // Errors and Debug output are checked too.
        let error = user
            .execute(&Statement::new("DROP ROLE NOPE"))
            .await
            .unwrap_err();
        tracing::error!(error = %error, debug = ?error, result = ?result, "checked");
    }
    tracing::debug!(client = ?admin, key_client = ?by_key, "clients");
    drop(emu);

    let text = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
    assert!(
        text.contains("capture works") && text.len() > 10_000,
        "the capture works: {} bytes",
        text.len()
    );
    assert!(text.contains("TRACE"), "trace level was on");
    assert!(
        text.contains("request_id"),
        "the client logged its requests"
    );
    let mut needles: Vec<(String, String)> = minted
        .iter()
        .enumerate()
        .map(|(i, s)| (format!("minted secret {i}"), s.expose_secret().to_owned()))
        .collect();
    needles.push(("admin PAT".into(), admin_pat.expose_secret().to_owned()));
    needles.push(("statement literal".into(), secret_literal.into()));
    needles.push(("JWT".into(), JWT_HEADER.into()));
    for line in pem.lines().filter(|l| !l.starts_with("-----")) {
        needles.push(("private key".into(), line.to_owned()));
    }
    for (what, needle) in needles {
        assert!(needle.len() >= 16, "{what} is a meaningful needle");
        assert!(!text.contains(&needle), "{what} leaked into the logs");
    }
}
