//! Hostile and malformed signaling: each breach closes that one connection with its error code,
//! and the relay and every other connection carry on. Also blobs, limits and graceful shutdown.

mod common;

use std::time::Duration;

use common::{Participant, Seen};
use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;
use veilig_protocol::{ClientMessage, ErrorCode, ServerMessage, MAX_MESSAGE_BYTES};
use veilig_relay::Relay;

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn connect(relay: &Relay) -> Ws {
    tokio_tungstenite::connect_async(common::ws_url(relay))
        .await
        .expect("connects")
        .0
}

/// Reads until the relay closes; returns the error message it sent and the close code.
async fn closing(ws: &mut Ws) -> (Option<ErrorCode>, Option<u16>) {
    let mut error = None;
    loop {
        match tokio::time::timeout(common::PATIENCE, ws.next())
            .await
            .expect("relay closes in time")
        {
            Some(Ok(Message::Text(text))) => {
                if let Ok(ServerMessage::Error { code, .. }) = ServerMessage::decode(text.as_str())
                {
                    error = Some(code);
                }
            }
            Some(Ok(Message::Close(frame))) => return (error, frame.map(|f| u16::from(f.code))),
            Some(Ok(_)) => {}
            None | Some(Err(_)) => return (error, None),
        }
    }
}

async fn send_text(ws: &mut Ws, text: impl Into<String>) {
    ws.send(Message::Text(text.into().into())).await.unwrap();
}

/// The access value of [`common::test_access`], as the relay's test participants present it.
const ACCESS: &str = "7e577e577e577e577e577e577e577e577e577e577e577e577e577e577e577e57";
const JOIN: &str = r#"{"type":"join","version":1,"room":"calm","access":"7e577e577e577e577e577e577e577e577e577e577e577e577e577e577e577e57"}"#;

/// A join of `room` with `version` and [`ACCESS`].
fn join(version: u32, room: &str) -> String {
    format!(r#"{{"type":"join","version":{version},"room":"{room}","access":"{ACCESS}"}}"#)
}

/// A participant in another room must notice nothing.
async fn bystander_is_fine(bystander: &mut Participant) {
    bystander.signal(ClientMessage::Ping);
    let pongs = bystander
        .history
        .iter()
        .filter(|s| matches!(s, Seen::Signal(ServerMessage::Pong)))
        .count();
    let deadline = tokio::time::Instant::now() + common::PATIENCE;
    loop {
        bystander.drain();
        if bystander
            .history
            .iter()
            .filter(|s| matches!(s, Seen::Signal(ServerMessage::Pong)))
            .count()
            > pongs
        {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "bystander got no pong"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(
        !bystander
            .history
            .iter()
            .any(|s| matches!(s, Seen::Closed(_))),
        "bystander was disconnected"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_kind_of_bad_input_closes_only_its_connection_with_its_code() {
    let relay = common::relay(|config| config.message_burst = 30).await;
    let mut bystander = Participant::join(&relay, "elsewhere").await;

    let mut cases: Vec<(&str, Vec<Message>, ErrorCode)> = vec![
        (
            "not JSON",
            vec![Message::Text("{{{".into())],
            ErrorCode::BadMessage,
        ),
        (
            "unknown type",
            vec![Message::Text(r#"{"type":"teleport"}"#.into())],
            ErrorCode::BadMessage,
        ),
        (
            "binary",
            vec![Message::Binary(vec![1, 2, 3].into())],
            ErrorCode::BadMessage,
        ),
        (
            "bad room",
            vec![Message::Text(join(1, "../x").into())],
            ErrorCode::BadMessage,
        ),
        (
            "malformed access value",
            vec![Message::Text(
                join(1, "calm")
                    .replace(ACCESS, &ACCESS.to_uppercase())
                    .into(),
            )],
            ErrorCode::BadMessage,
        ),
        (
            "no access value",
            vec![Message::Text(
                r#"{"type":"join","version":1,"room":"calm"}"#.into(),
            )],
            ErrorCode::BadMessage,
        ),
        (
            "old version",
            vec![Message::Text(join(0, "calm").into())],
            ErrorCode::UnsupportedVersion,
        ),
        (
            "before join",
            vec![Message::Text(r#"{"type":"ping"}"#.into())],
            ErrorCode::WrongState,
        ),
        (
            "second join",
            vec![Message::Text(JOIN.into()), Message::Text(JOIN.into())],
            ErrorCode::WrongState,
        ),
        (
            "oversized",
            vec![Message::Text(
                format!(
                    r#"{{"type":"blob","data":"{}"}}"#,
                    "A".repeat(MAX_MESSAGE_BYTES)
                )
                .into(),
            )],
            ErrorCode::TooLarge,
        ),
        (
            "flood",
            std::iter::once(Message::Text(JOIN.into()))
                .chain((0..100).map(|_| Message::Text(r#"{"type":"ping"}"#.into())))
                .collect(),
            ErrorCode::RateLimited,
        ),
    ];
    let garbage_answer = vec![
        Message::Text(JOIN.into()),
        Message::Text(r#"{"type":"answer","sdp":"v=0 garbage"}"#.into()),
    ];
    cases.push(("SDP garbage", garbage_answer, ErrorCode::BadSdp));
    for (what, messages, expected) in cases {
        let mut ws = connect(&relay).await;
        for message in messages {
            if ws.send(message).await.is_err() {
                break;
            }
        }
        let (error, code) = closing(&mut ws).await;
        assert_eq!(error, Some(expected), "{what}: error message");
        assert_eq!(code, Some(expected.close_code()), "{what}: close code");
        bystander_is_fine(&mut bystander).await;
    }
    relay.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silence_is_closed_by_the_join_and_idle_timeouts() {
    let relay = common::relay(|config| {
        config.join_timeout_secs = 1;
        config.idle_timeout_secs = 2;
    })
    .await;
    let mut never_joins = connect(&relay).await;
    assert_eq!(
        closing(&mut never_joins).await,
        (Some(ErrorCode::IdleTimeout), Some(4408))
    );
    let mut goes_quiet = connect(&relay).await;
    send_text(&mut goes_quiet, JOIN).await;
    assert_eq!(
        closing(&mut goes_quiet).await,
        (Some(ErrorCode::IdleTimeout), Some(4408))
    );
    relay.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rooms_and_participants_are_limited() {
    let relay = common::relay(|config| {
        config.max_participants = 2;
        config.max_rooms = 1;
    })
    .await;
    let _first = Participant::join(&relay, "small").await;
    let _second = Participant::join(&relay, "small").await;
    let mut third = connect(&relay).await;
    send_text(&mut third, join(1, "small")).await;
    assert_eq!(
        closing(&mut third).await,
        (Some(ErrorCode::RoomFull), Some(4403))
    );
    let mut other_room = connect(&relay).await;
    send_text(&mut other_room, join(1, "another")).await;
    assert_eq!(
        closing(&mut other_room).await,
        (Some(ErrorCode::ServerFull), Some(4503))
    );
    relay.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blobs_reach_everyone_else_or_only_their_addressee() {
    let relay = common::relay(|_| {}).await;
    let mut alice = Participant::join(&relay, "chat").await;
    let mut bob = Participant::join(&relay, "chat").await;
    let mut carol = Participant::join(&relay, "chat").await;
    alice.signal(ClientMessage::Blob {
        to: None,
        data: "aGFsbG8=".into(),
    });
    alice.signal(ClientMessage::Blob {
        to: Some(carol.id.clone()),
        data: "Y2Fyb2w=".into(),
    });
    let from_alice = alice.id.clone();
    for person in [&mut bob, &mut carol] {
        person
            .wait_for(|s| matches!(s, Seen::Signal(ServerMessage::Blob { from, data }) if *from == from_alice && data == "aGFsbG8="))
            .await;
    }
    carol
        .wait_for(
            |s| matches!(s, Seen::Signal(ServerMessage::Blob { data, .. }) if data == "Y2Fyb2w="),
        )
        .await;
    // Ping round trips order the relay's work: by the pong, any blob for them has arrived.
    for person in [&mut alice, &mut bob] {
        person.signal(ClientMessage::Ping);
        person
            .wait_for(|s| matches!(s, Seen::Signal(ServerMessage::Pong)))
            .await;
        tokio::time::sleep(Duration::from_millis(200)).await;
        person.drain();
    }
    assert!(
        !alice
            .history
            .iter()
            .any(|s| matches!(s, Seen::Signal(ServerMessage::Blob { .. }))),
        "no echo to the sender"
    );
    assert!(
        !bob.history.iter().any(
            |s| matches!(s, Seen::Signal(ServerMessage::Blob { data, .. }) if data == "Y2Fyb2w=")
        ),
        "no leak to others"
    );
    relay.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_tells_everyone_to_come_back() {
    let relay = common::relay(|_| {}).await;
    let mut people = [
        Participant::join(&relay, "bye").await,
        Participant::join(&relay, "other").await,
    ];
    relay.shut_down().await;
    for person in people.iter_mut() {
        person
            .wait_for(|s| {
                matches!(
                    s,
                    Seen::Signal(ServerMessage::Error {
                        code: ErrorCode::ShuttingDown,
                        ..
                    })
                )
            })
            .await;
        person
            .wait_for(|s| matches!(s, Seen::Closed(Some(4012))))
            .await;
    }
    assert!(ErrorCode::ShuttingDown.is_retryable());
}
