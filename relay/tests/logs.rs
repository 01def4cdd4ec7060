//! The relay's logs never name a room: a whole room's life (open, joins, media, a refused join,
//! leaves, close) logged at every level, and the room id is nowhere in it; the salted tag that
//! stands in for it is. One test in this file: it owns the process's log subscriber.

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};

use common::{settle, warm_up, Participant};
use veilig_protocol::RoomAccess;

/// Everything logged, for the test to read.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_room_id_in_the_logs_at_any_level() {
    let captured = Captured::default();
    let writer = captured.clone();
    tracing_subscriber::fmt()
        .with_env_filter("veilig_relay=trace,warn")
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .init();
    let relay = common::relay(|_| {}).await;
    let room = "quarterly-figures-7q2x";
    let mut people = vec![
        Participant::join(&relay, room).await,
        Participant::join(&relay, room).await,
    ];
    settle(&mut people).await;
    warm_up(&mut people).await;
    // A refused join is logged too (at debug).
    let stranger = RoomAccess::new(&"0".repeat(64)).unwrap();
    let (mut ws, _) = tokio_tungstenite::connect_async(common::ws_url(&relay))
        .await
        .unwrap();
    use futures_util::{SinkExt, StreamExt};
    let join = veilig_protocol::ClientMessage::Join {
        version: veilig_protocol::PROTOCOL_VERSION,
        room: veilig_protocol::RoomId::new(room).unwrap(),
        access: stranger,
    };
    ws.send(join.encode().into()).await.unwrap();
    while ws.next().await.is_some_and(|message| message.is_ok()) {}
    for person in &people {
        person.close();
    }
    let deadline = tokio::time::Instant::now() + common::PATIENCE;
    while !captured.text().contains("room closed") {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the room never closed"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    relay.shut_down().await;

    let logs = captured.text();
    assert!(
        logs.contains("room opened") && logs.contains("joined"),
        "{logs}"
    );
    assert!(
        logs.contains("closing a signaling connection"),
        "the refusal was logged: {logs}"
    );
    for needle in [room, "quarterly", "7q2x"] {
        assert!(
            !logs.contains(needle),
            "the logs name the room ({needle}):\n{logs}"
        );
    }
    // The same short tag stands in for the room on each of its lines.
    let tags: std::collections::HashSet<&str> = logs
        .lines()
        .filter(|line| line.contains("room opened") || line.contains("room closed"))
        .filter_map(|line| line.split("room=").nth(1))
        .filter_map(|rest| rest.split_whitespace().next())
        .collect();
    assert_eq!(tags.len(), 1, "{tags:?}");
    let tag = tags.into_iter().next().unwrap();
    assert!(
        tag.len() == 8 && tag.bytes().all(|b| b.is_ascii_hexdigit()),
        "{tag}"
    );
}
