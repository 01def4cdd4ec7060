//! Operator metrics over real sockets: off unless asked for, never on the public listener,
//! Prometheus text on their own address; the counts follow rooms, participants, media and
//! signaling closes, and the output names no room, participant or address.

mod common;

use std::collections::HashMap;
use std::net::SocketAddr;

use common::{settle, warm_up, Participant, Seen};
use veilig_protocol::{ClientMessage, RoomId, PROTOCOL_VERSION};
use veilig_relay::Relay;

/// A relay with metrics on an ephemeral loopback port.
async fn relay_with_metrics() -> (Relay, SocketAddr) {
    let relay = common::relay(|config| {
        config.metrics_listen = Some("127.0.0.1:0".parse().unwrap());
    })
    .await;
    let addr = relay.metrics_addr.expect("metrics are served");
    (relay, addr)
}

/// Scrapes `/metrics` and checks every line is a comment or `name{labels} value`.
async fn scrape(addr: SocketAddr) -> (String, HashMap<String, u64>) {
    let response = common::get(addr, "/metrics").await;
    assert_eq!(response.status, 200);
    assert!(response
        .header("content-type")
        .unwrap()
        .starts_with("text/plain; version=0.0.4"));
    let mut samples = HashMap::new();
    for line in response.body.lines().filter(|l| !l.starts_with('#')) {
        let (name, value) = line.rsplit_once(' ').expect("name value");
        let value = value
            .parse()
            .unwrap_or_else(|_| panic!("not a count: {line}"));
        samples.insert(name.to_owned(), value);
    }
    (response.body, samples)
}

/// Scrapes until `done` holds for the samples (counts settle a moment after the event).
async fn scrape_until(
    addr: SocketAddr,
    done: impl Fn(&HashMap<String, u64>) -> bool,
) -> (String, HashMap<String, u64>) {
    let deadline = tokio::time::Instant::now() + common::PATIENCE;
    loop {
        let scraped = scrape(addr).await;
        if done(&scraped.1) {
            return scraped;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "metrics never got there: {}",
            scraped.0
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn metrics_are_off_by_default_and_never_on_the_public_listener() {
    let plain = common::relay(|_| {}).await;
    assert_eq!(plain.metrics_addr, None);
    assert_eq!(common::get(plain.http_addr, "/metrics").await.status, 404);
    plain.shut_down().await;

    let (relay, metrics) = relay_with_metrics().await;
    assert_ne!(metrics, relay.http_addr);
    let public = common::get(relay.http_addr, "/metrics").await;
    assert_eq!(public.status, 404);
    assert!(!public.body.contains("veilig_"));
    // The metrics listener serves metrics and nothing else: not the app, not signaling.
    for path in ["/", "/healthz", "/ws", "/weekly-sync"] {
        assert_eq!(common::get(metrics, path).await.status, 404, "{path}");
    }
    let (_, samples) = scrape(metrics).await;
    assert_eq!(samples["veilig_rooms"], 0);
    assert_eq!(samples["veilig_participants"], 0);
    relay.shut_down().await;
}

/// The media socket's buffers as the kernel granted them (`--udp-buffer`): what an operator
/// checks when the relay drops datagrams. More than the kernel's default even without
/// CAP_NET_ADMIN, capped by net.core.rmem_max (and doubled, as Linux reports it).
#[tokio::test]
async fn the_udp_buffers_granted_are_served() {
    let relay = common::relay(|config| {
        config.metrics_listen = Some("127.0.0.1:0".parse().unwrap());
        config.udp_buffer = 3 << 20;
    })
    .await;
    let (text, samples) = scrape(relay.metrics_addr.unwrap()).await;
    let (receive, send) = (
        samples["veilig_udp_receive_buffer_bytes"],
        samples["veilig_udp_send_buffer_bytes"],
    );
    assert_eq!(receive, relay.udp_stats.receive_buffer, "{text}");
    assert_eq!(send, relay.udp_stats.send_buffer, "{text}");
    let default = |name: &str| -> u64 {
        std::fs::read_to_string(format!("/proc/sys/net/core/{name}"))
            .map_or(0, |text| text.trim().parse().unwrap_or(0))
    };
    assert!(receive > default("rmem_default"), "{text}");
    assert!(send > default("wmem_default"), "{text}");
    relay.shut_down().await;
}

#[tokio::test]
async fn counts_follow_the_call_and_name_no_one() {
    let (relay, metrics) = relay_with_metrics().await;
    let room = "private-board-meeting";
    let mut people = vec![
        Participant::join(&relay, room).await,
        Participant::join(&relay, room).await,
    ];
    settle(&mut people).await;
    warm_up(&mut people).await;

    let (text, samples) = scrape_until(metrics, |s| s["veilig_forwarded_frames_total"] > 0).await;
    assert_eq!(samples["veilig_rooms"], 1);
    assert_eq!(samples["veilig_participants"], 2);
    assert_eq!(samples["veilig_signaling_connections"], 2);
    assert_eq!(samples["veilig_signaling_connections_total"], 2);
    for counter in [
        "veilig_forwarded_bytes_total",
        "veilig_udp_received_datagrams_total",
        "veilig_udp_received_bytes_total",
        "veilig_udp_sent_datagrams_total",
        "veilig_udp_sent_bytes_total",
    ] {
        assert!(samples[counter] > 0, "{counter} did not move: {text}");
    }
    // Bytes sent cover at least the forwarded payloads (plus RTP headers, SRTP tags, RTCP).
    assert!(samples["veilig_udp_sent_bytes_total"] > samples["veilig_forwarded_bytes_total"]);
    for secret in [
        room.to_owned(),
        people[0].id.to_string(),
        people[1].id.to_string(),
        "127.0.0.1".to_owned(),
    ] {
        assert!(!text.contains(&secret), "metrics mention {secret}: {text}");
    }
    // Values are plain counts (checked by `scrape`); the only labels are protocol reasons.
    for name in samples.keys().filter(|name| name.contains('{')) {
        assert!(
            name.chars()
                .all(|c| c.is_ascii_lowercase() || "_{}=\"".contains(c)),
            "unexpected label: {name}"
        );
    }

    // A second join on the same connection breaks the protocol: the relay closes it, and
    // counts why.
    people[1].signal(ClientMessage::Join {
        version: PROTOCOL_VERSION,
        room: RoomId::new(room).unwrap(),
        access: common::test_access(),
    });
    people[1]
        .wait_for(|seen| matches!(seen, Seen::Closed(_)))
        .await;
    let (text, samples) = scrape_until(metrics, |s| {
        s["veilig_participants"] == 1 && s["veilig_signaling_connections"] == 1
    })
    .await;
    assert_eq!(
        samples[r#"veilig_signaling_closed_total{reason="wrong_state"}"#], 1,
        "{text}"
    );
    assert_eq!(samples["veilig_rooms"], 1);

    people[0].close();
    scrape_until(metrics, |s| {
        s["veilig_rooms"] == 0 && s["veilig_participants"] == 0
    })
    .await;
    relay.shut_down().await;
}
