//! Binding and serving: 127.0.0.1 by default; a non-loopback address needs TLS (rustls, PEM
//! certificate chain and key files) or an explicit `--danger-plaintext`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::Router;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::TcpListener;
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::TlsAcceptor;

/// TLS material.
#[derive(Clone, Debug)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// Listener failures.
#[derive(Debug, thiserror::Error)]
pub enum ListenError {
    #[error("refusing to serve tokens in plaintext on the non-loopback address {0}: give --tls-cert and --tls-key, or --danger-plaintext behind a TLS-terminating proxy you trust")]
    PlaintextNonLoopback(SocketAddr),
    #[error("listen address {0:?}: expected IP:PORT, e.g. 127.0.0.1:8650")]
    Address(String),
    #[error("TLS {path}: {problem}")]
    Tls { path: String, problem: String },
    #[error("cannot bind {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("server failed: {0}")]
    Serve(#[source] std::io::Error),
}

impl ListenError {
    /// Bad usage (exit 2): nothing was served.
    #[must_use]
    pub fn is_usage(&self) -> bool {
        !matches!(self, Self::Serve(_))
    }
}

/// Parses `IP:PORT` and applies the plaintext rule.
pub fn check_bind(
    listen: &str,
    tls: bool,
    danger_plaintext: bool,
) -> Result<SocketAddr, ListenError> {
    let addr: SocketAddr = listen
        .parse()
        .map_err(|_| ListenError::Address(listen.to_owned()))?;
    if !addr.ip().is_loopback() && !tls && !danger_plaintext {
        return Err(ListenError::PlaintextNonLoopback(addr));
    }
    Ok(addr)
}

/// Loads a rustls server configuration.
pub fn tls_config(files: &TlsFiles) -> Result<Arc<ServerConfig>, ListenError> {
    let err = |path: &Path, problem: String| ListenError::Tls {
        path: path.display().to_string(),
        problem,
    };
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&files.cert)
        .map_err(|e| err(&files.cert, e.to_string()))?
        .collect::<Result<_, _>>()
        .map_err(|e| err(&files.cert, e.to_string()))?;
    if certs.is_empty() {
        return Err(err(&files.cert, "no CERTIFICATE block".into()));
    }
    let key =
        PrivateKeyDer::from_pem_file(&files.key).map_err(|e| err(&files.key, e.to_string()))?;
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| err(&files.cert, e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| err(&files.key, e.to_string()))?;
    Ok(Arc::new(config))
}

/// Binds `addr`.
pub async fn bind(addr: SocketAddr) -> Result<TcpListener, ListenError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| ListenError::Bind { addr, source })
}

/// Serves `router` until `shutdown` resolves, over TLS when `tls` is given.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    tls: Option<Arc<ServerConfig>>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), ListenError> {
    let Some(tls) = tls else {
        return axum::serve(
            listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(shutdown)
        .await
        .map_err(ListenError::Serve);
    };
    let acceptor = TlsAcceptor::from(tls);
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            () = &mut shutdown => return Ok(()),
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    tracing::warn!("accept failed: {e}");
                    continue;
                }
            },
        };
        let acceptor = acceptor.clone();
        let router = router.clone();
        tokio::spawn(async move {
            let Ok(Ok(stream)) =
                tokio::time::timeout(std::time::Duration::from_secs(10), acceptor.accept(stream))
                    .await
            else {
                return;
            };
            let service = TowerToHyperService::new(
                router.layer(axum::Extension(axum::extract::ConnectInfo(peer))),
            );
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_by_default_and_plaintext_elsewhere_needs_the_danger_flag() {
        assert!(check_bind("127.0.0.1:8650", false, false).is_ok());
        assert!(check_bind("[::1]:8650", false, false).is_ok());
        assert!(matches!(
            check_bind("0.0.0.0:8650", false, false),
            Err(ListenError::PlaintextNonLoopback(_))
        ));
        assert!(check_bind("0.0.0.0:8650", true, false).is_ok());
        assert!(check_bind("0.0.0.0:8650", false, true).is_ok());
        assert!(matches!(
            check_bind("localhost", false, false),
            Err(ListenError::Address(_))
        ));
    }
}
