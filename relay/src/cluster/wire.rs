//! What nodes say to each other over NATS: the subjects, a node's heartbeat, the frames of a
//! carried signaling session, and the placement key of a room.
//!
//! Pure: no IO. What crosses NATS is what one relay already sees, and less: a node's id (random
//! per process), its media address and counts; a session's frames are the browser's signaling
//! messages as they came (room id, access value, SDP, encrypted blobs), never its address. A
//! placement key is a hash of the room id, so NATS's store holds no room names.
//!
//! ```text
//!  veilig.heartbeat                 every node, every second: Heartbeat (JSON)
//!  veilig.node.<node>.open          request to the room's node: open a session (first frame)
//!  veilig.session.<id>.up           browser → room's node: frames, in order
//!  veilig.session.<id>.down         room's node → browser: frames, in order
//!  KV bucket veilig-rooms           placement key → node id
//! ```

use std::net::SocketAddr;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use veilig_protocol::RoomId;

/// Every heartbeat goes here.
pub const HEARTBEAT: &str = "veilig.heartbeat";
/// The JetStream key-value bucket of placements.
pub const BUCKET: &str = "veilig-rooms";
/// The header naming a session in an open request.
pub const SESSION_HEADER: &str = "Veilig-Session";

/// Where a node takes sessions for its rooms.
pub fn open_subject(node: &str) -> String {
    format!("veilig.node.{node}.open")
}

/// Browser → room's node.
pub fn up_subject(session: &str) -> String {
    format!("veilig.session.{session}.up")
}

/// Room's node → browser.
pub fn down_subject(session: &str) -> String {
    format!("veilig.session.{session}.down")
}

/// The placement key of `room`: 32 hex digits of SHA-256 over a label and the id. The same on
/// every node; tells NATS nothing of the room's name.
pub fn placement_key(room: &RoomId) -> String {
    let digest = Sha256::new()
        .chain_update(b"veilig/1 placement ")
        .chain_update(room.as_str().as_bytes())
        .finalize();
    digest[..16].iter().map(|b| format!("{b:02x}")).collect()
}

/// A random id: 16 hex digits (nodes and sessions).
pub fn random_id() -> String {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).expect("the OS random number generator works");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// What a node says of itself, every second.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Heartbeat {
    /// Its id, random per process.
    pub node: String,
    /// Where browsers send it media (its UDP ICE candidate).
    pub media: SocketAddr,
    /// Its `--max-rooms`.
    pub max_rooms: usize,
    /// Its `--max-participants` (per room).
    pub max_participants: usize,
    /// Rooms open on it now.
    pub rooms: usize,
    /// Participants in them now.
    pub participants: u64,
    /// It is stopping: place nothing on it.
    pub draining: bool,
}

/// One frame of a carried session: what a WebSocket carries, and a sequence number so the
/// other side notices a lost frame (core NATS delivers at most once) instead of going on out
/// of step.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Frame {
    /// A text message, as sent.
    Text(String),
    /// A binary message (not part of the protocol: the room's node refuses it, as it would).
    Binary(Vec<u8>),
    /// The end: a close code and reason, or none when the browser left.
    Close(Option<(u16, String)>),
}

/// Why a frame could not be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("a malformed session frame")]
pub struct BadFrame;

impl Frame {
    /// `seq` (8 bytes, big-endian), a kind byte, then the body.
    pub fn encode(&self, seq: u64) -> Vec<u8> {
        let mut out = seq.to_be_bytes().to_vec();
        match self {
            Frame::Text(text) => {
                out.push(b't');
                out.extend_from_slice(text.as_bytes());
            }
            Frame::Binary(bytes) => {
                out.push(b'b');
                out.extend_from_slice(bytes);
            }
            Frame::Close(None) => out.push(b'e'),
            Frame::Close(Some((code, reason))) => {
                out.push(b'c');
                out.extend_from_slice(&code.to_be_bytes());
                out.extend_from_slice(reason.as_bytes());
            }
        }
        out
    }

    /// The sequence number and the frame. Untrusted input: never panics.
    pub fn decode(bytes: &[u8]) -> Result<(u64, Frame), BadFrame> {
        let seq = u64::from_be_bytes(
            bytes
                .get(..8)
                .ok_or(BadFrame)?
                .try_into()
                .map_err(|_| BadFrame)?,
        );
        let kind = *bytes.get(8).ok_or(BadFrame)?;
        let body = &bytes[9..];
        let text = |body: &[u8]| String::from_utf8(body.to_vec()).map_err(|_| BadFrame);
        let frame = match kind {
            b't' => Frame::Text(text(body)?),
            b'b' => Frame::Binary(body.to_vec()),
            b'e' if body.is_empty() => Frame::Close(None),
            b'c' => {
                let code = u16::from_be_bytes(
                    body.get(..2)
                        .ok_or(BadFrame)?
                        .try_into()
                        .map_err(|_| BadFrame)?,
                );
                Frame::Close(Some((code, text(&body[2..])?)))
            }
            _ => return Err(BadFrame),
        };
        Ok((seq, frame))
    }
}

/// The answer to an open request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Opened {
    /// The session runs; frames may follow on the up subject.
    Yes,
    /// Not this node's room (any more): place it again.
    Elsewhere,
}

impl Opened {
    /// On the wire.
    pub fn as_bytes(self) -> &'static [u8] {
        match self {
            Opened::Yes => b"yes",
            Opened::Elsewhere => b"elsewhere",
        }
    }

    /// From the wire; anything unknown is [`Opened::Elsewhere`].
    pub fn from_bytes(bytes: &[u8]) -> Self {
        if bytes == b"yes" {
            Opened::Yes
        } else {
            Opened::Elsewhere
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_read_back_as_written() {
        let frames = [
            Frame::Text(r#"{"type":"ping"}"#.into()),
            Frame::Text(String::new()),
            Frame::Binary(vec![0, 1, 2]),
            Frame::Close(None),
            Frame::Close(Some((4012, "the relay is restarting".into()))),
            Frame::Close(Some((4401, String::new()))),
        ];
        for (seq, frame) in frames.into_iter().enumerate() {
            let bytes = frame.encode(seq as u64);
            assert_eq!(Frame::decode(&bytes), Ok((seq as u64, frame)));
        }
    }

    #[test]
    fn malformed_frames_are_errors_not_panics() {
        let good = Frame::Close(Some((4012, "x".into()))).encode(7);
        for cut in 0..good.len() - 1 {
            let _ = Frame::decode(&good[..cut]);
        }
        assert_eq!(Frame::decode(&[0; 8]), Err(BadFrame));
        let mut unknown = Frame::Text("x".into()).encode(1);
        unknown[8] = b'?';
        assert_eq!(Frame::decode(&unknown), Err(BadFrame));
        let mut not_utf8 = Frame::Text(String::new()).encode(1);
        not_utf8.push(0xff);
        assert_eq!(Frame::decode(&not_utf8), Err(BadFrame));
    }

    #[test]
    fn placement_keys_are_stable_and_hide_the_room() {
        let room = RoomId::new("weekly-sync").unwrap();
        let key = placement_key(&room);
        assert_eq!(key.len(), 32);
        assert_eq!(key, placement_key(&room));
        assert!(!key.contains("weekly"));
        assert_ne!(key, placement_key(&RoomId::new("weekly-sink").unwrap()));
    }
}
