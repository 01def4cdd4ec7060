//! HTTPS without a reverse proxy: the certificate rustls asks for at each handshake, and a
//! listener that hands axum finished TLS connections.
//!
//! ```text
//!  TCP accept ──► handshake task (time limit; at most MAX_HANDSHAKES at once, and the
//!                 per-address cap from one address) ──► channel ──► axum
//!                        │ asks for the certificate
//!                        ▼
//!                  Certificates (the current one, behind a lock) ◄── reload() (SIGHUP)
//! ```
//! Handshakes run in tasks of their own so that a slow or silent client cannot hold up the
//! others. A reload swaps the certificate for the *next* handshakes only: a connection keeps
//! the session it negotiated, so calls and their WebSockets carry on through a renewal. A reload
//! that fails (unreadable file, bad PEM, a key that does not fit) changes nothing.
//!
//! What this module does not do: obtain or renew certificates (ACME is certbot's or the
//! operator's job; they send SIGHUP afterwards), watch files, or speak HTTP/2 (ALPN offers
//! HTTP/1.1 only, what the relay's server speaks).

use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::ServerConfig;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, Semaphore};
use tokio::task::JoinHandle;
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

use crate::limits::{AddressLimits, Cap};

/// Longest a client may take to finish its TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Handshakes in progress at once; further connections wait in the kernel's accept queue.
const MAX_HANDSHAKES: usize = 256;

/// Why TLS could not be set up, or a certificate not (re)loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// Only one of the two files was given.
    #[error(
        "--tls-cert and --tls-key go together: give both for HTTPS, or neither for plain HTTP"
    )]
    Incomplete,
    /// The certificate file could not be read or holds no valid PEM.
    #[error("cannot read certificates from {path}: {source}")]
    Certificates {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        source: pem::Error,
    },
    /// The certificate file holds no certificate.
    #[error("no certificate in {0}")]
    NoCertificate(PathBuf),
    /// The key file could not be read or holds no private key.
    #[error("cannot read a private key from {path}: {source}")]
    Key {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        source: pem::Error,
    },
    /// rustls refused the key, or it does not belong to the certificate.
    #[error("the key in {key} cannot serve the certificate in {cert}: {source}")]
    Unusable {
        /// The certificate file.
        cert: PathBuf,
        /// The key file.
        key: PathBuf,
        /// rustls' reason.
        source: rustls::Error,
    },
    /// rustls refused the server settings (a bug rather than bad input).
    #[error("TLS settings refused: {0}")]
    Settings(rustls::Error),
    /// A reload was asked of a relay serving plain HTTP.
    #[error("this relay serves plain HTTP: there is no certificate to reload")]
    NotServingTls,
}

/// Where the certificate chain and its private key are, both PEM.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsFiles {
    /// The certificate chain, leaf first (as certbot's `fullchain.pem`).
    pub cert: PathBuf,
    /// The private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
}

/// The certificate handed to every new handshake, reloadable from its files.
pub struct Certificates {
    files: TlsFiles,
    provider: Arc<CryptoProvider>,
    current: RwLock<Arc<CertifiedKey>>,
}

impl std::fmt::Debug for Certificates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the key: only where it came from.
        f.debug_struct("Certificates")
            .field("files", &self.files)
            .finish_non_exhaustive()
    }
}

impl Certificates {
    /// Reads `files`; fails if they do not hold a usable certificate and key.
    pub fn load(files: TlsFiles) -> Result<Self, TlsError> {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let current = read(&files, &provider)?;
        Ok(Certificates {
            files,
            provider,
            current: RwLock::new(Arc::new(current)),
        })
    }

    /// Reads the files again and, if they hold a usable certificate and key, hands those to
    /// every handshake from now on. On error the current certificate stays.
    pub fn reload(&self) -> Result<(), TlsError> {
        let fresh = Arc::new(read(&self.files, &self.provider)?);
        *self
            .current
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = fresh;
        Ok(())
    }

    fn current(&self) -> Arc<CertifiedKey> {
        // The lock guards one pointer swap; a poisoned lock still holds a whole certificate.
        self.current
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// Server settings that ask `self` for the certificate at each handshake.
    pub fn server_config(self: &Arc<Self>) -> Result<Arc<ServerConfig>, TlsError> {
        let mut config = ServerConfig::builder_with_provider(self.provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(TlsError::Settings)?
            .with_no_client_auth()
            .with_cert_resolver(self.clone());
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }
}

impl ResolvesServerCert for Certificates {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current())
    }
}

/// Reads and checks one certificate chain and key.
fn read(files: &TlsFiles, provider: &CryptoProvider) -> Result<CertifiedKey, TlsError> {
    let certificates = |source| TlsError::Certificates {
        path: files.cert.clone(),
        source,
    };
    let chain = CertificateDer::pem_file_iter(&files.cert)
        .map_err(certificates)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(certificates)?;
    if chain.is_empty() {
        return Err(TlsError::NoCertificate(files.cert.clone()));
    }
    let key = PrivateKeyDer::from_pem_file(&files.key).map_err(|source| TlsError::Key {
        path: files.key.clone(),
        source,
    })?;
    CertifiedKey::from_der(chain, key, provider).map_err(|source| TlsError::Unusable {
        cert: files.cert.clone(),
        key: files.key.clone(),
        source,
    })
}

/// A listener whose connections have finished their TLS handshake, for `axum::serve`.
pub struct TlsListener {
    ready: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    local: SocketAddr,
    acceptor: JoinHandle<()>,
}

impl TlsListener {
    /// Accepts on `listener` and shakes hands with `config`; a connection from an address with
    /// its cap of handshakes in progress is closed at once.
    pub fn new(
        listener: TcpListener,
        config: Arc<ServerConfig>,
        limits: Arc<AddressLimits>,
    ) -> io::Result<Self> {
        let local = listener.local_addr()?;
        let (handshaken, ready) = mpsc::channel(MAX_HANDSHAKES);
        let acceptor = tokio::spawn(accept(
            listener,
            TlsAcceptor::from(config),
            handshaken,
            limits,
        ));
        Ok(TlsListener {
            ready,
            local,
            acceptor,
        })
    }
}

impl Drop for TlsListener {
    /// The server stopped accepting: close the port.
    fn drop(&mut self) {
        self.acceptor.abort();
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(connection) => connection,
            // Only if the accepting task ended, which it does only when aborted.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        Ok(self.local)
    }
}

/// Accepts TCP connections and passes on those that complete a handshake in time.
async fn accept(
    listener: TcpListener,
    acceptor: TlsAcceptor,
    handshaken: mpsc::Sender<(TlsStream<TcpStream>, SocketAddr)>,
    limits: Arc<AddressLimits>,
) {
    let handshakes = Arc::new(Semaphore::new(MAX_HANDSHAKES));
    loop {
        let Ok(permit) = handshakes.clone().acquire_owned().await else {
            return;
        };
        let (tcp, peer) = crate::net::accept(&listener).await;
        let Some(own) = limits.hold(Cap::TlsHandshakes, peer.ip()) else {
            // Dropped: the connection closes, and the slot is free for the next.
            continue;
        };
        let acceptor = acceptor.clone();
        let handshaken = handshaken.clone();
        tokio::spawn(async move {
            let _permits = (permit, own);
            match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                Ok(Ok(tls)) => {
                    let _ = handshaken.send((tls, peer)).await;
                }
                Ok(Err(error)) => tracing::debug!(%error, "TLS handshake failed"),
                Err(_) => tracing::debug!("TLS handshake timed out"),
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_files_are_named_in_the_error() {
        let files = TlsFiles {
            cert: PathBuf::from("/nonexistent/veilig/cert.pem"),
            key: PathBuf::from("/nonexistent/veilig/key.pem"),
        };
        let error = Certificates::load(files).unwrap_err();
        assert!(matches!(error, TlsError::Certificates { .. }), "{error:?}");
        assert!(error.to_string().contains("/nonexistent/veilig/cert.pem"));
    }

    #[test]
    fn a_file_without_a_certificate_is_refused() {
        let dir = std::env::temp_dir().join(format!("veilig-tls-unit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let cert = dir.join("cert.pem");
        std::fs::write(&cert, "not a certificate\n").unwrap();
        let files = TlsFiles {
            key: cert.clone(),
            cert,
        };
        let error = Certificates::load(files).unwrap_err();
        assert!(matches!(error, TlsError::NoCertificate(_)), "{error:?}");
    }
}
