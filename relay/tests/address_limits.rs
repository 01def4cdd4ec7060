//! Per-address caps over real loopback sockets: signaling connections open at once, joins per
//! minute, ICE-TCP connections waiting for their first packet, TLS handshakes in progress. The
//! one over the cap is refused (HTTP 429, or the TCP connection closed at once), the others are
//! untouched, a freed slot can be taken again, and `/metrics` counts each refusal by cap. Every
//! test opens a handful of connections and waits at most a few seconds for any of them.

mod common;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;
use veilig_relay::{Config, Relay};

/// How long a connection the relay keeps must stay open to count as kept.
const KEPT: Duration = Duration::from_millis(500);
/// How long the relay may take to close a refused connection.
const CLOSED: Duration = Duration::from_secs(5);

/// A relay with metrics and every cap off but those `caps` sets.
async fn relay(caps: impl FnOnce(&mut Config)) -> Relay {
    common::relay(|config| {
        config.metrics_listen = Some("127.0.0.1:0".parse().unwrap());
        config.max_websockets_per_address = 0;
        config.joins_per_minute_per_address = 0;
        config.max_waiting_ice_tcp_per_address = 0;
        config.max_tls_handshakes_per_address = 0;
        caps(config);
    })
    .await
}

async fn limited(relay: &Relay) -> HashMap<String, u64> {
    let body = common::get(relay.metrics_addr.unwrap(), "/metrics")
        .await
        .body;
    body.lines()
        .filter_map(|line| line.strip_prefix("veilig_address_limited_total{limit=\""))
        .filter_map(|rest| rest.split_once("\"} "))
        .map(|(limit, count)| (limit.to_owned(), count.parse().unwrap()))
        .collect()
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A signaling connection, or the HTTP status it was refused with.
async fn websocket(relay: &Relay) -> Result<Ws, u16> {
    match tokio_tungstenite::connect_async(common::ws_url(relay)).await {
        Ok((ws, _)) => Ok(ws),
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            Err(response.status().as_u16())
        }
        Err(error) => panic!("{error}"),
    }
}

/// Whether the relay closes `stream` (end of stream or reset) within [`CLOSED`], rather than
/// keeping it open for [`KEPT`]. Sends nothing.
async fn closed_by_relay(stream: &mut TcpStream, wait: Duration) -> bool {
    let mut byte = [0u8; 1];
    match tokio::time::timeout(wait, stream.read(&mut byte)).await {
        Err(_) => false,
        Ok(Ok(0)) | Ok(Err(_)) => true,
        Ok(Ok(_)) => panic!("the relay sent something unasked"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websockets_per_address_are_capped() {
    let relay = relay(|config| config.max_websockets_per_address = 2).await;
    let first = websocket(&relay).await.expect("first");
    let _second = websocket(&relay).await.expect("second");
    assert_eq!(websocket(&relay).await.err(), Some(429));
    // A participant needs nothing but its one connection: closing one frees a slot.
    drop(first);
    let deadline = tokio::time::Instant::now() + CLOSED;
    loop {
        match websocket(&relay).await {
            Ok(_third) => break,
            Err(429) if tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(20)).await
            }
            Err(status) => panic!("the freed slot was not given back: {status}"),
        }
    }
    assert!(limited(&relay).await["websockets"] >= 1);
    relay.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn joins_per_minute_per_address_are_capped() {
    let relay = relay(|config| config.joins_per_minute_per_address = 3).await;
    for n in 0..3 {
        // Each connection closes at once; the count of joins stays.
        drop(
            websocket(&relay)
                .await
                .unwrap_or_else(|s| panic!("join {n}: {s}")),
        );
    }
    assert_eq!(websocket(&relay).await.err(), Some(429));
    assert_eq!(limited(&relay).await["joins"], 1);
    assert_eq!(limited(&relay).await["websockets"], 0);
    relay.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waiting_ice_tcp_connections_per_address_are_capped() {
    let relay = relay(|config| config.max_waiting_ice_tcp_per_address = 2).await;
    let tcp: SocketAddr = relay.tcp_addr.expect("ICE-TCP is on");
    // Two connect and say nothing, as an attacker holding slots would.
    let mut waiting = Vec::new();
    for _ in 0..2 {
        waiting.push(TcpStream::connect(tcp).await.unwrap());
    }
    let mut third = TcpStream::connect(tcp).await.unwrap();
    assert!(closed_by_relay(&mut third, CLOSED).await, "over the cap");
    for stream in &mut waiting {
        assert!(!closed_by_relay(stream, KEPT).await, "within the cap");
    }
    assert_eq!(limited(&relay).await["ice_tcp_waiting"], 1);
    assert_eq!(
        relay
            .tcp_stats
            .refused
            .load(std::sync::atomic::Ordering::Relaxed),
        1
    );
    // A waiting one that goes away frees its slot.
    drop(waiting.pop());
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut again = TcpStream::connect(tcp).await.unwrap();
    assert!(
        !closed_by_relay(&mut again, KEPT).await,
        "the slot came back"
    );
    relay.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_handshakes_per_address_are_capped() {
    let cert = common::tls::TestCert::new();
    let (relay, _files) = common::tls::relay(&cert, |config| {
        config.metrics_listen = Some("127.0.0.1:0".parse().unwrap());
        config.max_tls_handshakes_per_address = 2;
    })
    .await;
    // Two start a handshake and never finish it.
    let mut silent = Vec::new();
    for _ in 0..2 {
        silent.push(TcpStream::connect(relay.http_addr).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut third = TcpStream::connect(relay.http_addr).await.unwrap();
    assert!(closed_by_relay(&mut third, CLOSED).await, "over the cap");
    for stream in &mut silent {
        assert!(!closed_by_relay(stream, KEPT).await, "within the cap");
    }
    assert_eq!(limited(&relay).await["tls_handshakes"], 1);
    // Once they go, a real client gets through.
    drop(silent);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let tls = cert.connect(relay.http_addr).await.expect("handshake");
    assert_eq!(common::http_get(tls, "/healthz").await.status, 200);
    relay.shut_down().await;
}

#[tokio::test]
async fn the_defaults_are_the_documented_ones() {
    let defaults = Config::defaults();
    assert_eq!(defaults.max_websockets_per_address, 64);
    assert_eq!(defaults.joins_per_minute_per_address, 120);
    assert_eq!(defaults.max_waiting_ice_tcp_per_address, 16);
    assert_eq!(defaults.max_tls_handshakes_per_address, 32);
}
