//! Everything personal that travels through the relay, end-to-end encrypted: display names,
//! mute states and chat, as "notes" sealed with the room's metadata key.
//!
//! A note is JSON, sealed with `FrameEncryptor::seal_message` under this browser's own random
//! KID, bound to the room (the associated data names it, so a note cannot be replayed into
//! another room), then base64 for the relay's `blob` message. The relay forwards the text and
//! learns nothing but its size and timing. Each remote participant is its own decryptor
//! source, so one participant cannot pass off another's notes as their own.

use std::collections::HashMap;

use base64ct::{Base64, Encoding};
use serde::{Deserialize, Serialize};
use veilig_e2ee::{BaseKey, CipherSuite, FrameDecryptor, FrameEncryptor, Kid, SourceId};
use veilig_protocol::ParticipantId;

/// Longest chat message, in characters: well inside the relay's blob limit once sealed.
pub const MAX_CHAT_CHARS: usize = 2000;
/// Longest display name, in characters.
pub const MAX_NAME_CHARS: usize = 64;

/// One note.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Note {
    /// Who I am and what I send; sent on joining, on every change, and to each newcomer.
    Presence {
        /// Display name (may be empty).
        name: String,
        /// Microphone on.
        mic: bool,
        /// Camera on.
        camera: bool,
        /// Sharing the screen.
        screen: bool,
    },
    /// A chat message.
    Chat {
        /// The text.
        text: String,
    },
}

/// Why a blob was not accepted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NoteError {
    /// Not base64.
    Encoding,
    /// Failed authentication (another key: a different link or passphrase), or replayed.
    Unreadable,
    /// Authentic but not a note we understand.
    Unknown,
}

/// Seals our notes and opens everyone else's.
pub struct Notes {
    context: Vec<u8>,
    sealer: FrameEncryptor,
    opener: FrameDecryptor,
    sources: HashMap<ParticipantId, SourceId>,
    next_source: u64,
    scratch: Vec<u8>,
}

impl Notes {
    /// Notes for `room` under its metadata key; `kid` is a fresh random value.
    pub fn new(room: &str, metadata_key: &BaseKey, kid: u64) -> Notes {
        let suite = CipherSuite::default();
        let mut opener = FrameDecryptor::new(suite, metadata_key);
        let _ = opener.claim_local(Kid(kid));
        Notes {
            context: [b"veilig/1 note ".as_slice(), room.as_bytes()].concat(),
            sealer: FrameEncryptor::new(suite, metadata_key, Kid(kid)),
            opener,
            sources: HashMap::new(),
            next_source: 1,
            scratch: Vec::new(),
        }
    }

    /// The blob text for `note`.
    pub fn seal(&mut self, note: &Note) -> Option<String> {
        let json = serde_json::to_vec(note).ok()?;
        self.sealer
            .seal_message(&self.context, &json, &mut self.scratch)
            .ok()?;
        Some(Base64::encode_string(&self.scratch))
    }

    /// Opens a blob from `from`.
    pub fn open(&mut self, from: &ParticipantId, data: &str) -> Result<Note, NoteError> {
        let sealed = Base64::decode_vec(data).map_err(|_| NoteError::Encoding)?;
        let next = &mut self.next_source;
        let source = *self.sources.entry(from.clone()).or_insert_with(|| {
            *next += 1;
            SourceId(*next)
        });
        self.opener
            .open_message(source, &self.context, &sealed, &mut self.scratch)
            .map_err(|_| NoteError::Unreadable)?;
        serde_json::from_slice(&self.scratch).map_err(|_| NoteError::Unknown)
    }

    /// Forgets a participant who left.
    pub fn forget(&mut self, who: &ParticipantId) {
        if let Some(source) = self.sources.remove(who) {
            self.opener.forget_source(source);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(s: &str) -> ParticipantId {
        ParticipantId::new(s).unwrap()
    }

    #[test]
    fn notes_round_trip_between_two_browsers() {
        let key = BaseKey::new(&[7; 32]);
        let mut alice = Notes::new("room", &key, 1);
        let mut bob = Notes::new("room", &key, 2);
        let note = Note::Chat {
            text: "hallo".into(),
        };
        let blob = alice.seal(&note).unwrap();
        assert!(!blob.contains("hallo"));
        assert_eq!(bob.open(&id("alice"), &blob), Ok(note));
        assert_eq!(
            bob.open(&id("alice"), &blob),
            Err(NoteError::Unreadable),
            "a replay is refused"
        );
    }

    #[test]
    fn another_key_or_room_cannot_read_notes() {
        let mut alice = Notes::new("room", &BaseKey::new(&[7; 32]), 1);
        let mut stranger = Notes::new("room", &BaseKey::new(&[8; 32]), 2);
        let mut elsewhere = Notes::new("other", &BaseKey::new(&[7; 32]), 3);
        let blob = alice
            .seal(&Note::Chat {
                text: "geheim".into(),
            })
            .unwrap();
        assert_eq!(stranger.open(&id("a"), &blob), Err(NoteError::Unreadable));
        assert_eq!(elsewhere.open(&id("a"), &blob), Err(NoteError::Unreadable));
        assert_eq!(stranger.open(&id("a"), "***"), Err(NoteError::Encoding));
    }
}
