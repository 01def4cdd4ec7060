//! The relay's signaling decoder on untrusted text: `ClientMessage::decode` never panics, and
//! whatever it accepts obeys every limit and grammar and survives a round trip unchanged.
#![no_main]

use libfuzzer_sys::fuzz_target;
use veilig_protocol::{
    ClientMessage, ParticipantId, RoomAccess, RoomId, MAX_BLOB_BYTES, MAX_MESSAGE_BYTES, MAX_SDP_BYTES,
};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let Ok(message) = ClientMessage::decode(&text) else { return };
    assert!(text.len() <= MAX_MESSAGE_BYTES);
    match &message {
        ClientMessage::Join { room, access, .. } => {
            assert!(RoomId::new(room.as_str()).is_ok());
            assert!(RoomAccess::new(access.as_str()).is_ok());
        }
        ClientMessage::Answer { sdp } => assert!(sdp.len() <= MAX_SDP_BYTES),
        ClientMessage::Blob { to, data } => {
            assert!(!data.is_empty() && data.len() <= MAX_BLOB_BYTES);
            assert!(to.as_ref().is_none_or(|to| ParticipantId::new(to.as_str()).is_ok()));
        }
        ClientMessage::Ping | ClientMessage::Leave => {}
    }
    assert_eq!(ClientMessage::decode(&message.encode()), Ok(message));
});
