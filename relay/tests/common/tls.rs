//! TLS for tests: self-signed certificates made on the spot (rcgen), written as PEM files the
//! relay reads, and clients that trust exactly one such certificate and nothing else.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use base64::Engine as _;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, RootCertStore};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;
use tokio_tungstenite::WebSocketStream;
use veilig_relay::{Config, Relay};

/// A certificate for `localhost` and its key, as PEM text.
pub struct TestCert {
    pub der: CertificateDer<'static>,
    pub cert_pem: String,
    pub key_pem: String,
}

impl TestCert {
    /// A fresh self-signed certificate for `localhost`.
    pub fn new() -> TestCert {
        let made = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()])
            .expect("rcgen makes a certificate");
        let der = made.cert.der().clone();
        TestCert {
            cert_pem: pem("CERTIFICATE", &der),
            key_pem: pem("PRIVATE KEY", &made.signing_key.serialize_der()),
            der,
        }
    }

    /// Writes (or replaces) the certificate and key where a relay reads them.
    pub fn write(&self, files: &CertFiles) {
        write_atomically(&files.cert, &self.cert_pem);
        write_atomically(&files.key, &self.key_pem);
    }

    /// A client that trusts this certificate only.
    pub fn client(&self) -> TlsConnector {
        let mut roots = RootCertStore::empty();
        roots.add(self.der.clone()).unwrap();
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        TlsConnector::from(Arc::new(config))
    }

    /// A TLS connection to `addr` as `localhost`, trusting this certificate only.
    pub async fn connect(&self, addr: SocketAddr) -> std::io::Result<TlsStream<TcpStream>> {
        let tcp = TcpStream::connect(addr).await?;
        let name = ServerName::try_from("localhost").unwrap();
        self.client().connect(name, tcp).await
    }

    /// A `wss://` signaling connection to `relay`, trusting this certificate only.
    pub async fn websocket(&self, relay: &Relay) -> WebSocketStream<TlsStream<TcpStream>> {
        let tls = self.connect(relay.http_addr).await.expect("TLS connects");
        let url = format!("wss://localhost:{}/ws", relay.http_addr.port());
        let (ws, _) = tokio_tungstenite::client_async(url, tls)
            .await
            .expect("WebSocket upgrade over TLS");
        ws
    }
}

/// PEM armour: base64 in 64-column lines between BEGIN and END.
fn pem(label: &str, der: &[u8]) -> String {
    let body = base64::engine::general_purpose::STANDARD.encode(der);
    let mut text = format!("-----BEGIN {label}-----\n");
    for line in body.as_bytes().chunks(64) {
        text.push_str(std::str::from_utf8(line).unwrap());
        text.push('\n');
    }
    text.push_str(&format!("-----END {label}-----\n"));
    text
}

/// Where one relay's certificate and key live (a directory of their own).
pub struct CertFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl CertFiles {
    /// Fresh paths in a directory no other test uses.
    pub fn new() -> CertFiles {
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("veilig-tls-test-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        CertFiles {
            cert: dir.join("cert.pem"),
            key: dir.join("key.pem"),
        }
    }

    /// Points `config` at these files.
    pub fn configure(&self, config: &mut Config) {
        config.tls_cert = Some(self.cert.clone());
        config.tls_key = Some(self.key.clone());
    }

    /// Replaces the certificate file's contents with `text`.
    pub fn overwrite_cert(&self, text: &str) {
        write_atomically(&self.cert, text);
    }
}

/// Renames a finished file into place, as certbot does, so the relay never reads half a file.
fn write_atomically(path: &Path, text: &str) {
    let fresh = path.with_extension("new");
    std::fs::write(&fresh, text).unwrap();
    std::fs::rename(fresh, path).unwrap();
}

/// A relay serving HTTPS with `cert` (see [`super::relay`]); the files stay for reloads.
pub async fn relay(cert: &TestCert, tweak: impl FnOnce(&mut Config)) -> (Relay, CertFiles) {
    let files = CertFiles::new();
    cert.write(&files);
    let relay = super::relay(|config| {
        files.configure(config);
        tweak(config);
    })
    .await;
    (relay, files)
}
