//! HTTPS built in, over real sockets with a certificate made for the test: the app, the health
//! check and `wss://` signaling work over TLS with HSTS; a reload (what SIGHUP does) hands new
//! connections the new certificate while open ones carry on; a bad reload changes nothing;
//! half a TLS configuration is refused at start.

mod common;

use common::tls::{CertFiles, TestCert};
use common::{Participant, Seen};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use veilig_protocol::{ClientMessage, ServerMessage};
use veilig_relay::tls::TlsError;
use veilig_relay::{Config, StartError};

const HSTS: &str = "max-age=63072000";

#[tokio::test]
async fn https_serves_the_app_and_health_with_hsts() {
    let cert = TestCert::new();
    let (relay, _files) = common::tls::relay(&cert, |_| {}).await;
    assert!(relay.serves_https());
    for (path, status) in [("/", 200), ("/healthz", 200), ("/no/such.js", 404)] {
        let tls = cert.connect(relay.http_addr).await.expect("TLS connects");
        let response = common::http_get(tls, path).await;
        assert_eq!(response.status, status, "{path}");
        assert_eq!(
            response.header("strict-transport-security"),
            Some(HSTS),
            "{path}"
        );
        assert!(
            response.header("content-security-policy").is_some(),
            "{path}: security headers still there"
        );
    }
    let tls = cert.connect(relay.http_addr).await.unwrap();
    let health = common::http_get(tls, "/healthz").await;
    assert_eq!(health.body, r#"{"rooms":0,"status":"ok"}"#);
    relay.shut_down().await;
}

#[tokio::test]
async fn plain_http_is_refused_on_the_https_listener() {
    let cert = TestCert::new();
    let (relay, _files) = common::tls::relay(&cert, |_| {}).await;
    let mut plain = tokio::net::TcpStream::connect(relay.http_addr)
        .await
        .unwrap();
    let mut raw = Vec::new();
    plain
        .write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .unwrap();
    let _ = plain.read_to_end(&mut raw).await;
    assert!(
        !String::from_utf8_lossy(&raw).contains("Veilig"),
        "the app was served without TLS"
    );
    relay.shut_down().await;
}

#[tokio::test]
async fn a_silent_client_does_not_hold_up_other_handshakes() {
    let cert = TestCert::new();
    let (relay, _files) = common::tls::relay(&cert, |_| {}).await;
    // Connects and never says hello: its handshake waits in a task of its own.
    let _silent = tokio::net::TcpStream::connect(relay.http_addr)
        .await
        .unwrap();
    let tls = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        cert.connect(relay.http_addr),
    )
    .await
    .expect("not held up by the silent client")
    .unwrap();
    assert_eq!(common::http_get(tls, "/healthz").await.status, 200);
    relay.shut_down().await;
}

/// Also the test of `wss://` signaling: participants join over TLS before and after the reload.
#[tokio::test]
async fn reload_gives_new_connections_the_new_certificate_and_keeps_open_ones() {
    let old = TestCert::new();
    let (relay, files) = common::tls::relay(&old, |_| {}).await;
    let mut before = Participant::join_ws(old.websocket(&relay).await, "renewal").await;

    let new = TestCert::new();
    new.write(&files);
    // Until the reload, handshakes still get the old certificate.
    assert!(old.connect(relay.http_addr).await.is_ok());
    relay.reload_tls().expect("the new files load");

    let tls = new
        .connect(relay.http_addr)
        .await
        .expect("trusts the new certificate");
    assert_eq!(
        tls.get_ref().1.peer_certificates().unwrap()[0],
        new.der,
        "the new certificate is served"
    );
    assert!(
        old.connect(relay.http_addr).await.is_err(),
        "the old certificate is no longer served"
    );
    let after = Participant::join_ws(new.websocket(&relay).await, "renewal").await;

    // The WebSocket opened before the reload still carries signaling both ways.
    before.wait_for_joined(&after.id).await;
    before.signal(ClientMessage::Ping);
    before
        .wait_for(|seen| matches!(seen, Seen::Signal(ServerMessage::Pong)))
        .await;
    assert!(!before
        .history
        .iter()
        .any(|seen| matches!(seen, Seen::Closed(_))));
    relay.shut_down().await;
}

#[tokio::test]
async fn a_bad_reload_keeps_the_current_certificate() {
    let cert = TestCert::new();
    let (relay, files) = common::tls::relay(&cert, |_| {}).await;

    files.overwrite_cert("-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA\n");
    let error = relay.reload_tls().unwrap_err();
    assert!(matches!(error, TlsError::Certificates { .. }), "{error:?}");
    files.overwrite_cert("no PEM at all\n");
    let error = relay.reload_tls().unwrap_err();
    assert!(matches!(error, TlsError::NoCertificate(_)), "{error:?}");
    // A valid certificate whose key is not in the key file.
    files.overwrite_cert(&TestCert::new().cert_pem);
    let error = relay.reload_tls().unwrap_err();
    assert!(matches!(error, TlsError::Unusable { .. }), "{error:?}");

    let tls = cert
        .connect(relay.http_addr)
        .await
        .expect("old certificate still served");
    assert_eq!(tls.get_ref().1.peer_certificates().unwrap()[0], cert.der);
    assert_eq!(common::http_get(tls, "/healthz").await.status, 200);
    relay.shut_down().await;
}

#[tokio::test]
async fn plain_http_never_sends_hsts_and_has_nothing_to_reload() {
    let relay = common::relay(|_| {}).await;
    assert!(!relay.serves_https());
    for path in ["/", "/healthz", "/nope.js"] {
        let response = common::get(relay.http_addr, path).await;
        assert!(
            response.header("strict-transport-security").is_none(),
            "{path}"
        );
    }
    assert!(matches!(relay.reload_tls(), Err(TlsError::NotServingTls)));
    relay.shut_down().await;
}

#[tokio::test]
async fn half_a_tls_configuration_is_refused() {
    let cert = TestCert::new();
    let files = CertFiles::new();
    cert.write(&files);
    for only in [
        |config: &mut Config, files: &CertFiles| config.tls_cert = Some(files.cert.clone()),
        |config: &mut Config, files: &CertFiles| config.tls_key = Some(files.key.clone()),
    ] {
        let mut config = Config::defaults();
        config.listen = "127.0.0.1:0".parse().unwrap();
        config.udp = "127.0.0.1:0".parse().unwrap();
        only(&mut config, &files);
        let error = veilig_relay::start(config).await.err().expect("refused");
        assert!(
            matches!(error, StartError::Tls(TlsError::Incomplete)),
            "{error:?}"
        );
        assert!(error.to_string().contains("--tls-key"), "{error}");
    }
}

#[tokio::test]
async fn an_unusable_certificate_is_refused_at_start() {
    let files = CertFiles::new();
    TestCert::new().write(&files);
    files.overwrite_cert(&TestCert::new().cert_pem);
    let mut config = Config::defaults();
    config.listen = "127.0.0.1:0".parse().unwrap();
    config.udp = "127.0.0.1:0".parse().unwrap();
    files.configure(&mut config);
    let error = veilig_relay::start(config).await.err().expect("refused");
    assert!(
        matches!(error, StartError::Tls(TlsError::Unusable { .. })),
        "{error:?}"
    );
}
