//! A non-loopback deployment serves over TLS (rustls, PEM files). The certificate and key in
//! `tests/fixtures/` are a test pair for 127.0.0.1 only, signed by a throwaway test CA whose key
//! was discarded, made for this test.

use std::sync::Arc;

use snowpat_server::listen::{self, TlsFiles};

#[tokio::test]
async fn serves_over_tls_with_pem_files() {
    let fixtures = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");
    let files = TlsFiles {
        cert: format!("{fixtures}/tls-cert.pem").into(),
        key: format!("{fixtures}/tls-key.pem").into(),
    };
    let tls = listen::tls_config(&files).expect("TLS config");
    let listener = listen::bind("127.0.0.1:0".parse().unwrap())
        .await
        .expect("bind");
    let addr = listener.local_addr().unwrap();
    let app = axum::Router::new().route("/healthz", axum::routing::get(|| async { "ok\n" }));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(listen::serve(
        listener,
        app,
        Some(Arc::clone(&tls)),
        async {
            let _ = stopped.await;
        },
    ));
    let cert = std::fs::read(format!("{fixtures}/ca-cert.pem")).unwrap();
    let client = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&cert).unwrap())
        .build()
        .unwrap();
    let answer = client
        .get(format!("https://{addr}/healthz"))
        .send()
        .await
        .expect("TLS request");
    assert_eq!(answer.status().as_u16(), 200);
    assert_eq!(answer.text().await.unwrap(), "ok\n");
    // Plain HTTP to the TLS port gets no answer.
    let plain = reqwest::Client::new()
        .get(format!("http://{addr}/healthz"))
        .send()
        .await;
    assert!(plain.map(|r| !r.status().is_success()).unwrap_or(true));
    // A key file that is no key is refused by name.
    let bad = TlsFiles {
        cert: files.cert.clone(),
        key: files.cert.clone(),
    };
    let err = listen::tls_config(&bad).expect_err("refused");
    assert!(err.to_string().contains("tls-cert.pem"), "{err}");
    let _ = stop.send(());
}
