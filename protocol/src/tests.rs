//! The protocol's round trips, limits and refusals.

use super::*;

const ACCESS: &str = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

#[test]
fn client_messages_round_trip_in_documented_json() {
    let join = ClientMessage::decode(&format!(
        r#"{{"type":"join","version":1,"room":"weekly-sync","access":"{ACCESS}"}}"#
    ))
    .unwrap();
    assert_eq!(
        join,
        ClientMessage::Join {
            version: 1,
            room: RoomId::new("weekly-sync").unwrap(),
            access: RoomAccess::new(ACCESS).unwrap(),
        }
    );
    assert!(!format!("{join:?}").contains(ACCESS));
    let blob = ClientMessage::decode(r#"{"type":"blob","data":"AAEC+/=="}"#).unwrap();
    assert_eq!(
        blob,
        ClientMessage::Blob {
            to: None,
            data: "AAEC+/==".into()
        }
    );
    for message in [
        join,
        blob,
        ClientMessage::Ping,
        ClientMessage::Leave,
        ClientMessage::Answer { sdp: "v=0".into() },
    ] {
        assert_eq!(ClientMessage::decode(&message.encode()), Ok(message));
    }
}

#[test]
fn server_messages_round_trip() {
    let offer = ServerMessage::Offer {
        sdp: "v=0".into(),
        lines: vec![MediaLine {
            mid: "0".into(),
            source: Source::Camera,
            from: Some(ParticipantId::new("abc").unwrap()),
        }],
    };
    assert_eq!(
        offer.encode(),
        r#"{"type":"offer","sdp":"v=0","lines":[{"mid":"0","source":"camera","from":"abc"}]}"#
    );
    assert_eq!(ServerMessage::decode(&offer.encode()), Ok(offer));
    let error = ServerMessage::Error {
        code: ErrorCode::RoomFull,
        message: "full".into(),
    };
    assert_eq!(
        error.encode(),
        r#"{"type":"error","code":"room_full","message":"full"}"#
    );
}

#[test]
fn welcome_carries_ice_servers_only_when_there_are_some() {
    let you = ParticipantId::new("abc").unwrap();
    let plain = ServerMessage::Welcome {
        version: 1,
        you: you.clone(),
        participants: vec![],
        ice_servers: vec![],
    };
    let old = r#"{"type":"welcome","version":1,"you":"abc","participants":[]}"#;
    assert_eq!(plain.encode(), old);
    assert_eq!(ServerMessage::decode(old), Ok(plain));
    let turn = ServerMessage::Welcome {
        version: 1,
        you,
        participants: vec![],
        ice_servers: vec![IceServer {
            urls: vec!["turns:turn.example.org:443?transport=tcp".into()],
            username: "1700000000:9f2c41d07a3b5e18".into(),
            credential: "c2VjcmV0".into(),
        }],
    };
    assert_eq!(
        turn.encode(),
        r#"{"type":"welcome","version":1,"you":"abc","participants":[],"ice_servers":[{"urls":["turns:turn.example.org:443?transport=tcp"],"username":"1700000000:9f2c41d07a3b5e18","credential":"c2VjcmV0"}]}"#
    );
    assert_eq!(ServerMessage::decode(&turn.encode()), Ok(turn.clone()));
    assert!(!format!("{turn:?}").contains("c2VjcmV0"));
}

#[test]
fn bad_input_is_refused_with_its_reason() {
    let join = |room: &str, access: &str| {
        format!(r#"{{"type":"join","version":1,"room":"{room}","access":"{access}"}}"#)
    };
    let cases: [(String, ProtocolError); 14] = [
        ("".into(), ProtocolError::Malformed),
        ("{".into(), ProtocolError::Malformed),
        (r#"{"type":"teleport"}"#.into(), ProtocolError::Malformed),
        (
            r#"{"type":"join","version":1}"#.into(),
            ProtocolError::Malformed,
        ),
        (
            r#"{"type":"join","version":1,"room":"calm"}"#.into(),
            ProtocolError::Malformed,
        ),
        (join("../etc", ACCESS), ProtocolError::InvalidRoom),
        (join("calm", ""), ProtocolError::InvalidAccess),
        (join("calm", &ACCESS[1..]), ProtocolError::InvalidAccess),
        (
            join("calm", &format!("{ACCESS}0")),
            ProtocolError::InvalidAccess,
        ),
        (
            join("calm", &ACCESS.to_uppercase()),
            ProtocolError::InvalidAccess,
        ),
        (
            join("calm", &format!("{}g", &ACCESS[1..])),
            ProtocolError::InvalidAccess,
        ),
        (
            r#"{"type":"blob","to":"a b","data":"AA"}"#.into(),
            ProtocolError::InvalidParticipant,
        ),
        (
            r#"{"type":"blob","data":"not base64!"}"#.into(),
            ProtocolError::BlobEncoding,
        ),
        (
            r#"{"type":"blob","data":""}"#.into(),
            ProtocolError::BlobEncoding,
        ),
    ];
    for (text, expected) in cases {
        assert_eq!(ClientMessage::decode(&text), Err(expected), "{text}");
    }
    assert_eq!(
        ProtocolError::InvalidAccess.code(),
        ErrorCode::BadMessage,
        "a malformed access value is bad input, not a refusal"
    );
    let big_blob = format!(
        r#"{{"type":"blob","data":"{}"}}"#,
        "A".repeat(MAX_BLOB_BYTES + 1)
    );
    assert_eq!(
        ClientMessage::decode(&big_blob),
        Err(ProtocolError::BlobTooLarge)
    );
    let big_sdp = format!(
        r#"{{"type":"answer","sdp":"{}"}}"#,
        "a".repeat(MAX_SDP_BYTES + 1)
    );
    assert_eq!(
        ClientMessage::decode(&big_sdp).map_err(ProtocolError::code),
        Err(ErrorCode::TooLarge)
    );
    let huge = "x".repeat(MAX_MESSAGE_BYTES + 1);
    assert_eq!(
        ClientMessage::decode(&huge),
        Err(ProtocolError::MessageTooLarge(MAX_MESSAGE_BYTES + 1))
    );
}

#[test]
fn close_codes_are_distinct_and_in_the_application_range() {
    let codes = [
        ErrorCode::BadMessage,
        ErrorCode::TooLarge,
        ErrorCode::UnsupportedVersion,
        ErrorCode::WrongState,
        ErrorCode::RoomFull,
        ErrorCode::ServerFull,
        ErrorCode::RateLimited,
        ErrorCode::IdleTimeout,
        ErrorCode::BadSdp,
        ErrorCode::ConnectionLost,
        ErrorCode::ShuttingDown,
        ErrorCode::Internal,
        ErrorCode::AccessDenied,
    ];
    assert_eq!(ErrorCode::AccessDenied.close_code(), 4401);
    assert!(!ErrorCode::AccessDenied.is_retryable());
    let mut seen = std::collections::HashSet::new();
    for code in codes {
        assert!((4000..5000).contains(&code.close_code()));
        assert!(seen.insert(code.close_code()), "{code:?}");
    }
}

#[test]
fn handshake_messages_round_trip_in_documented_json() {
    let key_package = ClientMessage::decode(r#"{"type":"key_package","data":"AAEC"}"#).unwrap();
    assert_eq!(
        key_package,
        ClientMessage::KeyPackage {
            data: "AAEC".into()
        }
    );
    let commit = ClientMessage::decode(
        r#"{"type":"commit","commit":"AAEC","welcome":"BBB=","link_tag":"q83vEjRWeJA="}"#,
    )
    .unwrap();
    let remove = ClientMessage::Commit {
        commit: "AAEC".into(),
        welcome: None,
        link_tag: None,
    };
    assert_eq!(remove.encode(), r#"{"type":"commit","commit":"AAEC"}"#);
    for message in [key_package, commit, remove] {
        assert_eq!(ClientMessage::decode(&message.encode()), Ok(message));
    }
    let ordered = ServerMessage::Commit {
        seq: 7,
        from: ParticipantId::new("abc").unwrap(),
        commit: "AAEC".into(),
        welcome: Some("BBB=".into()),
        link_tag: Some("q83vEjRWeJA=".into()),
    };
    assert_eq!(
        ordered.encode(),
        r#"{"type":"commit","seq":7,"from":"abc","commit":"AAEC","welcome":"BBB=","link_tag":"q83vEjRWeJA="}"#
    );
    assert_eq!(ServerMessage::decode(&ordered.encode()), Ok(ordered));
}

#[test]
fn malformed_handshake_messages_are_refused_with_their_reason() {
    let big = "A".repeat(MAX_HANDSHAKE_BYTES + 1);
    let cases: [(String, ProtocolError); 8] = [
        (
            r#"{"type":"key_package","data":""}"#.into(),
            ProtocolError::HandshakeEncoding,
        ),
        (
            r#"{"type":"key_package","data":"not base64!"}"#.into(),
            ProtocolError::HandshakeEncoding,
        ),
        (
            format!(r#"{{"type":"key_package","data":"{big}"}}"#),
            ProtocolError::HandshakeTooLarge,
        ),
        (
            r#"{"type":"commit","commit":"%%"}"#.into(),
            ProtocolError::HandshakeEncoding,
        ),
        (
            r#"{"type":"commit","commit":"AA","welcome":"BB"}"#.into(),
            ProtocolError::WelcomeWithoutTag,
        ),
        (
            r#"{"type":"commit","commit":"AA","link_tag":"BB"}"#.into(),
            ProtocolError::WelcomeWithoutTag,
        ),
        (
            format!(
                r#"{{"type":"commit","commit":"AA","welcome":"BB","link_tag":"{}"}}"#,
                "C".repeat(MAX_LINK_TAG_BYTES + 1)
            ),
            ProtocolError::HandshakeTooLarge,
        ),
        (
            r#"{"type":"commit","welcome":"BB","link_tag":"CC"}"#.into(),
            ProtocolError::Malformed,
        ),
    ];
    for (text, expected) in cases {
        assert_eq!(ClientMessage::decode(&text), Err(expected), "{text}");
    }
    assert_eq!(ProtocolError::HandshakeTooLarge.code(), ErrorCode::TooLarge);
    assert_eq!(
        ProtocolError::WelcomeWithoutTag.code(),
        ErrorCode::BadMessage
    );
}
