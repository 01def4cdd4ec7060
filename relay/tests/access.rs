//! Room access: a room id alone gets nobody in. The first joiner registers its access value;
//! a later join with another value is refused with `access_denied` (close code 4401) and gets
//! nothing else: not the participants, not their count, not TURN credentials. The people in the
//! room notice nothing. Once the room has emptied, the next first joiner registers afresh.

mod common;

use std::time::Duration;

use common::{Participant, Seen};
use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;
use veilig_protocol::{ClientMessage, ErrorCode, RoomAccess, RoomId, ServerMessage};
use veilig_relay::Relay;

fn access(digit: char) -> RoomAccess {
    RoomAccess::new(&digit.to_string().repeat(64)).unwrap()
}

/// Everything the relay sends a raw connection that joins `room` with `access`, until it closes
/// (or stays quiet for a second after a welcome), and the close code.
async fn join_raw(
    relay: &Relay,
    room: &str,
    access: &RoomAccess,
) -> (Vec<ServerMessage>, Option<u16>) {
    let (mut ws, _) = tokio_tungstenite::connect_async(common::ws_url(relay))
        .await
        .unwrap();
    let join = ClientMessage::Join {
        version: veilig_protocol::PROTOCOL_VERSION,
        room: RoomId::new(room).unwrap(),
        access: access.clone(),
    };
    ws.send(Message::Text(join.encode().into())).await.unwrap();
    let mut received = Vec::new();
    loop {
        let patience = if received.is_empty() {
            common::PATIENCE
        } else {
            Duration::from_secs(1)
        };
        match tokio::time::timeout(patience, ws.next()).await {
            Err(_) => return (received, None),
            Ok(Some(Ok(Message::Text(text)))) => {
                received.push(ServerMessage::decode(text.as_str()).unwrap())
            }
            Ok(Some(Ok(Message::Close(frame)))) => {
                return (received, frame.map(|f| u16::from(f.code)))
            }
            Ok(Some(Ok(_))) => {}
            Ok(None) | Ok(Some(Err(_))) => return (received, None),
        }
    }
}

fn with_turn(config: &mut veilig_relay::Config) {
    config.turn_uri = vec!["turn:turn.example.org:3478?transport=udp".into()];
    config.turn_secret = Some("shared-with-coturn".parse().unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_access_value_is_refused_and_learns_nothing() {
    let relay = common::relay(with_turn).await;
    let room = "board-meeting";
    let mut first = Participant::join_with(&relay, room, &access('a')).await;
    let mut second = Participant::join_with(&relay, room, &access('a')).await;
    first.wait_for_joined(&second.id).await;

    let (received, code) = join_raw(&relay, room, &access('b')).await;
    assert_eq!(code, Some(4401), "{received:?}");
    assert_eq!(ErrorCode::AccessDenied.close_code(), 4401);
    // The error and nothing else: no welcome, no participant list, no TURN credentials.
    assert!(
        matches!(
            received[..],
            [ServerMessage::Error {
                code: ErrorCode::AccessDenied,
                ..
            }]
        ),
        "{received:?}"
    );

    // The room carries on, unaware: nobody else joined, nobody left, both still answered.
    for person in [&mut first, &mut second] {
        person.signal(ClientMessage::Ping);
        person
            .wait_for(|s| matches!(s, Seen::Signal(ServerMessage::Pong)))
            .await;
        person.drain();
        assert!(
            !person.history.iter().any(|s| matches!(
                s,
                Seen::Signal(ServerMessage::Left { .. }) | Seen::Closed(_)
            )),
            "{} saw the refused join",
            person.id
        );
    }
    let joined = |p: &Participant| {
        p.history
            .iter()
            .filter(|s| matches!(s, Seen::Signal(ServerMessage::Joined { .. })))
            .count()
    };
    assert_eq!(joined(&first), 1, "only the second participant joined");
    assert_eq!(joined(&second), 0);
    assert_eq!(relay.rooms.count(), 1);

    // The right value still gets in, with the TURN credentials, after the refusal.
    let (received, _) = join_raw(&relay, room, &access('a')).await;
    match &received[..] {
        [ServerMessage::Welcome {
            participants,
            ice_servers,
            ..
        }, ..] => {
            assert_eq!(participants, &[first.id.clone(), second.id.clone()]);
            assert_eq!(ice_servers.len(), 1);
        }
        other => panic!("the welcome comes first: {other:?}"),
    }
    relay.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_joiner_registers_until_the_room_empties() {
    let relay = common::relay(|_| {}).await;
    let room = "weekly-sync";
    let first = Participant::join_with(&relay, room, &access('1')).await;
    let (_, code) = join_raw(&relay, room, &access('2')).await;
    assert_eq!(code, Some(4401), "registered by the first joiner");
    // Another room is another registration.
    let _elsewhere = Participant::join_with(&relay, "another-room", &access('2')).await;

    first.close();
    let deadline = tokio::time::Instant::now() + common::PATIENCE;
    while relay.rooms.count() > 1 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the room never closed"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Forgotten with the room: the next first joiner registers its own value.
    let _next = Participant::join_with(&relay, room, &access('2')).await;
    let (_, code) = join_raw(&relay, room, &access('1')).await;
    assert_eq!(code, Some(4401));
    relay.shut_down().await;
}
