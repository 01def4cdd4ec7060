//! TURN credentials in the welcome (TURN REST API convention), checked the way coturn checks
//! them with `use-auth-secret`, by a second HMAC-SHA1 implementation: they verify with the
//! shared secret, expire when they say, name no room or participant, differ on every join, and
//! are absent from the wire when TURN is not configured. Half a configuration fails the start.

mod common;

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use futures_util::{SinkExt, StreamExt};
use hmac::{KeyInit, Mac};
use tokio_tungstenite::tungstenite::Message;
use veilig_protocol::{ClientMessage, IceServer, RoomId, ServerMessage, PROTOCOL_VERSION};
use veilig_relay::{Config, Relay, StartError};

const SECRET: &str = "shared-with-coturn";
const URIS: [&str; 2] = [
    "turn:turn.example.org:3478?transport=udp",
    "turns:turn.example.org:443?transport=tcp",
];

fn with_turn(config: &mut Config) {
    config.turn_uri = URIS.map(str::to_owned).to_vec();
    config.turn_secret = Some(SECRET.parse().unwrap());
    config.turn_ttl_secs = 600;
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// What coturn does with `use-auth-secret`: the username's timestamp (before the first `:`) must
/// lie in the future, and the password must be base64(HMAC-SHA1(static-auth-secret, username)).
fn coturn_accepts(secret: &str, server: &IceServer, now: u64) -> bool {
    let Some(Ok(expiry)) = server.username.split(':').next().map(str::parse::<u64>) else {
        return false;
    };
    let mut mac = hmac::Hmac::<sha1::Sha1>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(server.username.as_bytes());
    let expected = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    expiry > now && expected == server.credential
}

/// Joins `room` over a raw WebSocket; returns the welcome's JSON text as sent.
async fn welcome_text(relay: &Relay, room: &str) -> String {
    let (mut ws, _) = tokio_tungstenite::connect_async(common::ws_url(relay))
        .await
        .unwrap();
    let join = ClientMessage::Join {
        version: PROTOCOL_VERSION,
        room: RoomId::new(room).unwrap(),
        access: common::test_access(),
    };
    ws.send(Message::Text(join.encode().into())).await.unwrap();
    loop {
        if let Some(Ok(Message::Text(text))) = ws.next().await {
            if text.contains(r#""type":"welcome""#) {
                return text.to_string();
            }
        }
    }
}

fn ice_servers(text: &str) -> Vec<IceServer> {
    match ServerMessage::decode(text).unwrap() {
        ServerMessage::Welcome { ice_servers, .. } => ice_servers,
        other => panic!("not a welcome: {other:?}"),
    }
}

#[tokio::test]
async fn each_join_gets_credentials_coturn_accepts_until_they_expire() {
    let relay = common::relay(with_turn).await;
    let room = "turn-room";
    let before = unix_now();
    let first = welcome_text(&relay, room).await;
    let second = welcome_text(&relay, room).await;
    let after = unix_now();
    let [first_server] = &ice_servers(&first)[..] else {
        panic!("one ICE server: {first}")
    };
    let [second_server] = &ice_servers(&second)[..] else {
        panic!("one ICE server: {second}")
    };
    for (server, text) in [(first_server, &first), (second_server, &second)] {
        assert_eq!(server.urls, URIS);
        let (expiry, id) = server.username.split_once(':').unwrap();
        let expiry: u64 = expiry.parse().unwrap();
        assert!((before + 600..=after + 600).contains(&expiry), "{expiry}");
        assert!(
            id.len() == 16 && id.chars().all(|c| c.is_ascii_hexdigit()),
            "{id}"
        );
        // Nothing in the username ties it to the meeting or the participant.
        let ServerMessage::Welcome { you, .. } = ServerMessage::decode(text).unwrap() else {
            unreachable!()
        };
        assert!(!server.username.contains(you.as_str()) && !server.username.contains(room));
        assert!(coturn_accepts(SECRET, server, after));
        assert!(
            !coturn_accepts(SECRET, server, expiry),
            "expired at its expiry"
        );
        assert!(!coturn_accepts("another-secret", server, after));
    }
    assert_ne!(first_server.username, second_server.username);
    relay.shut_down().await;
}

#[tokio::test]
async fn without_turn_the_welcome_has_no_ice_servers() {
    let relay = common::relay(|_| {}).await;
    let text = welcome_text(&relay, "plain").await;
    assert!(!text.contains("ice_servers"), "{text}");
    assert!(ice_servers(&text).is_empty());
    relay.shut_down().await;
}

#[tokio::test]
async fn the_secret_can_come_from_a_file() {
    let file = std::env::temp_dir().join(format!("veilig-turn-secret-{}", std::process::id()));
    std::fs::write(&file, format!("{SECRET}\n")).unwrap();
    let relay = common::relay(|config| {
        with_turn(config);
        config.turn_secret = None;
        config.turn_secret_file = Some(file.clone());
    })
    .await;
    let servers = ice_servers(&welcome_text(&relay, "from-file").await);
    assert!(coturn_accepts(SECRET, &servers[0], unix_now()));
    relay.shut_down().await;
    std::fs::remove_file(file).unwrap();
}

#[tokio::test]
async fn half_a_turn_configuration_is_refused_at_start() {
    let halves: [fn(&mut Config); 3] = [
        |config| config.turn_uri = vec![URIS[0].into()],
        |config| config.turn_secret = Some(SECRET.parse().unwrap()),
        |config| {
            with_turn(config);
            config.turn_secret_file = Some("/nonexistent/secret".into());
        },
    ];
    for half in halves {
        let mut config = Config::defaults();
        config.listen = "127.0.0.1:0".parse().unwrap();
        config.udp = "127.0.0.1:0".parse().unwrap();
        half(&mut config);
        let error = veilig_relay::start(config).await.err().expect("refused");
        assert!(matches!(error, StartError::Turn(_)), "{error}");
        assert!(!error.to_string().contains(SECRET), "{error}");
    }
}
