//! The signaling protocol between a Veilig browser and the relay: JSON text messages over one
//! WebSocket per participant (`/ws`).
//!
//! What the relay learns from it is deliberately little: a room id, opaque participant ids it
//! makes up itself, SDP (codecs, ICE candidates, fingerprints) and opaque blobs. Display names,
//! chat and everything else personal travel inside [`ClientMessage::Blob`], encrypted by the
//! browsers with the room's metadata key; the relay forwards the base64 text and stores nothing.
//!
//! The flow, in order:
//! ```text
//! browser                                   relay
//!   ── join {version, room, access} ──────►  access: see [`RoomAccess`]
//!   ◄────────────── welcome {you, participants}   the first thing the relay ever sends
//!   ◄────────────── offer {sdp, lines}       the relay always offers; the browser only answers,
//!   ── answer {sdp} ──────────────────────►  so offers never collide ("glare")
//!   ◄────────────── joined / left / offer    as people and tracks come and go
//!   ── blob {to?, data} ──────────────────►  ◄── blob {from, data}
//!   ── ping ──────────────────────────────►  ◄── pong    (keeps the idle timeout away)
//!   ── key_package {data} ────────────────►  ◄── key_package {from, data}   (to everyone else)
//!   ── commit {commit, welcome?, link_tag?} ►  ◄── commit {seq, from, ...}  (to everyone, sender too)
//!   ── leave ─────────────────────────────►  or just close the socket
//! ```
//! Every media line of an offer is described in `lines`: the browser's own upstream slots
//! (`from: null`: microphone, camera, screen share — always present, so muting or starting a
//! screen share needs no renegotiation) and one line per track forwarded from another participant.
//!
//! MLS (RFC 9420) handshake messages: the relay is the group's delivery service and nothing
//! more. Key packages, commits, Welcomes and link tags are opaque bytes to it (base64 here); it
//! forwards key packages to everyone else, and gives every commit the room's next sequence
//! number ([`ServerMessage::Commit`]'s `seq`) and forwards it to everyone, its sender included,
//! so all members see one order of commits and a committer learns where its own landed. The
//! counter lives in the room's task and is gone with the room. A handshake message that breaks
//! the grammar (not base64, empty, over [`MAX_HANDSHAKE_BYTES`], a Welcome without its link
//! tag) closes that one connection with [`ErrorCode::BadMessage`] or [`ErrorCode::TooLarge`].
//!
//! After a relay restart or a lost connection the browser simply joins again with the same room
//! id and a new peer connection; it gets a new participant id and everyone sees it leave and join.
//!
//! Room access: a room id is not secret (it is the link's path, seen by proxies and logs), so it
//! alone gets nobody in. Every `join` carries an access value derived from the link's secret
//! (and passphrase) under a label of its own; the first joiner of a room registers it, and a later
//! join with another value is refused with [`ErrorCode::AccessDenied`] before it learns anything
//! of the room (not even whether it exists): nothing is sent before `welcome` but that error.
//!
//! Errors: the relay sends [`ServerMessage::Error`] and closes the socket with the code's
//! [`ErrorCode::close_code`] (4000–4999, the application range). Bad input only ever closes
//! that one connection.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

use serde::{Deserialize, Serialize};

/// The protocol version this crate speaks; `join` carries it.
pub const PROTOCOL_VERSION: u32 = 1;
/// Largest message either side sends or accepts, in bytes of JSON text.
pub const MAX_MESSAGE_BYTES: usize = 256 * 1024;
/// Largest SDP accepted from a browser. A full room of 25 has 75 media lines (3 per
/// participant), about 1 KiB each in a browser's answer.
pub const MAX_SDP_BYTES: usize = 192 * 1024;
/// Largest blob (base64 text) accepted from a browser: ample for a chat message or a name.
pub const MAX_BLOB_BYTES: usize = 16 * 1024;
/// Largest MLS handshake field (a key package, commit or Welcome, as base64 text). A Welcome
/// with the ratchet tree of 25 members is about 5.5 KB of bytes (docs/mls.md); this leaves room
/// for a larger meeting and stays well under [`MAX_MESSAGE_BYTES`] with all three fields.
pub const MAX_HANDSHAKE_BYTES: usize = 64 * 1024;
/// Longest link tag, as base64 text (32 bytes are 44 characters with padding).
pub const MAX_LINK_TAG_BYTES: usize = 64;
/// Longest room id.
pub const MAX_ROOM_LEN: usize = 64;
/// Longest participant id.
pub const MAX_PARTICIPANT_LEN: usize = 32;
/// Length of a [`RoomAccess`] in text: 32 bytes as lowercase hex.
pub const ACCESS_LEN: usize = 64;

/// A room id: the invite link's path segment, `[A-Za-z0-9_-]{1,64}`. Not secret.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RoomId(String);

/// An opaque participant id, made up by the relay for each join: `[A-Za-z0-9]{1,32}`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ParticipantId(String);

/// The access value a `join` presents: 32 bytes derived from the invite link by the browsers'
/// key schedule (`veilig/1 room access`), as exactly [`ACCESS_LEN`] lowercase hex digits, so that
/// equal values are equal strings. It grants entry to the room while the room lasts and reveals
/// nothing of the room's keys; `Debug` redacts it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RoomAccess(String);

impl RoomAccess {
    /// An access value, if `text` is [`ACCESS_LEN`] lowercase hex digits.
    pub fn new(text: &str) -> Result<Self, ProtocolError> {
        if text.len() != ACCESS_LEN || !text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        {
            return Err(ProtocolError::InvalidAccess);
        }
        Ok(RoomAccess(text.to_owned()))
    }

    /// The value as text (secret: never log it).
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for RoomAccess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RoomAccess(<redacted>)")
    }
}

fn is_id_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '-' || c == '_'
}

impl RoomId {
    /// A room id, if `id` is valid.
    pub fn new(id: &str) -> Result<Self, ProtocolError> {
        if id.is_empty() || id.len() > MAX_ROOM_LEN || !id.chars().all(is_id_char) {
            return Err(ProtocolError::InvalidRoom);
        }
        Ok(RoomId(id.to_owned()))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl ParticipantId {
    /// A participant id, if `id` is valid.
    pub fn new(id: &str) -> Result<Self, ProtocolError> {
        if id.is_empty()
            || id.len() > MAX_PARTICIPANT_LEN
            || !id.chars().all(|c| c.is_ascii_alphanumeric())
        {
            return Err(ProtocolError::InvalidParticipant);
        }
        Ok(ParticipantId(id.to_owned()))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for ParticipantId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::fmt::Display for RoomId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a media line carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// Audio from a microphone.
    Microphone,
    /// Video from a camera.
    Camera,
    /// Video of a shared screen or window.
    Screen,
}

/// One media line (m-line) of an offer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MediaLine {
    /// The m-line's `mid`, as in the SDP.
    pub mid: String,
    /// What it carries.
    pub source: Source,
    /// Whose track the relay forwards on it; `None` for the browser's own upstream slot.
    pub from: Option<ParticipantId>,
}

/// A message from a browser to the relay.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientMessage {
    /// Enter a room (first message; once per connection).
    Join {
        /// Must be [`PROTOCOL_VERSION`].
        version: u32,
        /// The room.
        room: RoomId,
        /// Shows the relay this participant holds the room's link; see [`RoomAccess`].
        access: RoomAccess,
    },
    /// The answer to the relay's latest offer.
    Answer {
        /// SDP answer.
        sdp: String,
    },
    /// An opaque, end-to-end encrypted blob for everyone else in the room, or for one.
    Blob {
        /// Only this participant, or everyone else when absent.
        #[serde(default)]
        to: Option<ParticipantId>,
        /// Base64 (standard or URL-safe alphabet) of the ciphertext.
        data: String,
    },
    /// An MLS key package for the room's group: asks its committer to add us (opaque to the
    /// relay; forwarded to everyone else).
    KeyPackage {
        /// Base64 of the key package (MlsMessage) bytes.
        data: String,
    },
    /// An MLS commit, with the Welcome and link tag for its newcomers if it adds any (opaque to
    /// the relay; numbered and forwarded to everyone, the sender included).
    Commit {
        /// Base64 of the commit (MlsMessage) bytes.
        commit: String,
        /// Base64 of the Welcome, if the commit adds someone.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        welcome: Option<String>,
        /// Base64 of the link tag that goes with the Welcome (and only with one).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        link_tag: Option<String>,
    },
    /// Keeps the connection from the idle timeout.
    Ping,
    /// Leave the room and close.
    Leave,
}

/// A TURN server and the credentials to use it, shaped like WebRTC's `RTCIceServer`.
///
/// The credentials follow the TURN REST API convention (draft-uberti-behave-turn-rest): the
/// username is `<expiry, Unix seconds>:<random id>`, the credential base64(HMAC-SHA1(secret,
/// username)), which the TURN server (coturn's `use-auth-secret`) checks with the same secret.
/// Nothing in them names a room or a person.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IceServer {
    /// `turn:` / `turns:` URIs, e.g. `turns:turn.example.org:443?transport=tcp`.
    pub urls: Vec<String>,
    /// `<expiry>:<random id>`.
    pub username: String,
    /// base64(HMAC-SHA1(secret, username)).
    pub credential: String,
}

impl std::fmt::Debug for IceServer {
    /// Without the credential: it grants use of the TURN server until it expires.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IceServer")
            .field("urls", &self.urls)
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

/// A message from the relay to a browser.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMessage {
    /// You are in: your id and who is already there.
    Welcome {
        /// [`PROTOCOL_VERSION`].
        version: u32,
        /// Your participant id in this room.
        you: ParticipantId,
        /// Everyone else, in order of arrival.
        participants: Vec<ParticipantId>,
        /// TURN servers with time-limited credentials for this connection, to use as
        /// `RTCConfiguration.iceServers`; absent (never empty) when the relay offers none, so older
        /// browsers and relays understand each other either way.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        ice_servers: Vec<IceServer>,
    },
    /// An SDP offer to answer with [`ClientMessage::Answer`].
    Offer {
        /// SDP offer.
        sdp: String,
        /// Every media line of the offer.
        lines: Vec<MediaLine>,
    },
    /// Somebody joined.
    Joined {
        /// Who.
        participant: ParticipantId,
    },
    /// Somebody left.
    Left {
        /// Who.
        participant: ParticipantId,
    },
    /// A blob from another participant, unchanged.
    Blob {
        /// Who sent it.
        from: ParticipantId,
        /// As sent.
        data: String,
    },
    /// Another participant's MLS key package, unchanged.
    KeyPackage {
        /// Who sent it (as the relay says: unauthenticated).
        from: ParticipantId,
        /// As sent.
        data: String,
    },
    /// An MLS commit in the room's order, unchanged but for its number.
    Commit {
        /// The room's sequence number for this commit: 0, 1, 2, ... in the order the relay
        /// received them, the same for every recipient.
        seq: u64,
        /// Who sent it (as the relay says: the commit's signature says who really did).
        from: ParticipantId,
        /// As sent.
        commit: String,
        /// As sent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        welcome: Option<String>,
        /// As sent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        link_tag: Option<String>,
    },
    /// Answer to [`ClientMessage::Ping`].
    Pong,
    /// Why the relay is about to close the connection.
    Error {
        /// Machine-readable reason.
        code: ErrorCode,
        /// Human-readable detail (English, for logs; the UI words it from `code`).
        message: String,
    },
}

/// Why the relay closes a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The message is not valid JSON of this protocol, or breaks its rules.
    BadMessage,
    /// The message exceeds [`MAX_MESSAGE_BYTES`] or a field's limit.
    TooLarge,
    /// `join` with another protocol version.
    UnsupportedVersion,
    /// A message that needs a joined room before `join`, or a second `join`.
    WrongState,
    /// The room has its maximum number of participants.
    RoomFull,
    /// The relay has its maximum number of rooms.
    ServerFull,
    /// Too many messages too fast.
    RateLimited,
    /// Nothing received for too long.
    IdleTimeout,
    /// The answer's SDP was refused.
    BadSdp,
    /// The media connection failed or never came up; join again.
    ConnectionLost,
    /// The relay is shutting down; join again shortly.
    ShuttingDown,
    /// The relay failed; join again.
    Internal,
    /// `join` with another access value than the room's first joiner registered: the link (or
    /// passphrase) does not match the room.
    AccessDenied,
}

impl ErrorCode {
    /// The WebSocket close code that goes with this error.
    pub fn close_code(self) -> u16 {
        match self {
            ErrorCode::BadMessage => 4400,
            ErrorCode::TooLarge => 4413,
            ErrorCode::UnsupportedVersion => 4426,
            ErrorCode::WrongState => 4409,
            ErrorCode::RoomFull => 4403,
            ErrorCode::ServerFull => 4503,
            ErrorCode::RateLimited => 4429,
            ErrorCode::IdleTimeout => 4408,
            ErrorCode::BadSdp => 4422,
            ErrorCode::ConnectionLost => 4410,
            ErrorCode::ShuttingDown => 4012,
            ErrorCode::Internal => 4500,
            ErrorCode::AccessDenied => 4401,
        }
    }

    /// Whether a browser should join again on its own after this error.
    pub fn is_retryable(self) -> bool {
        matches!(
            self,
            ErrorCode::ShuttingDown
                | ErrorCode::Internal
                | ErrorCode::IdleTimeout
                | ErrorCode::ServerFull
                | ErrorCode::ConnectionLost
        )
    }
}

/// Why a browser's message was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ProtocolError {
    /// Over [`MAX_MESSAGE_BYTES`].
    #[error("message of {0} bytes exceeds the limit")]
    MessageTooLarge(usize),
    /// Not JSON, or not one of the messages.
    #[error("not a protocol message")]
    Malformed,
    /// A room id outside `[A-Za-z0-9_-]{1,64}`.
    #[error("invalid room id")]
    InvalidRoom,
    /// A participant id outside `[A-Za-z0-9]{1,32}`.
    #[error("invalid participant id")]
    InvalidParticipant,
    /// An access value that is not 64 lowercase hex digits.
    #[error("invalid access value: expected 64 lowercase hex digits")]
    InvalidAccess,
    /// SDP over [`MAX_SDP_BYTES`].
    #[error("SDP exceeds the limit")]
    SdpTooLarge,
    /// Blob over [`MAX_BLOB_BYTES`].
    #[error("blob exceeds the limit")]
    BlobTooLarge,
    /// Blob data that is not base64 text.
    #[error("blob is not base64")]
    BlobEncoding,
    /// A handshake field over [`MAX_HANDSHAKE_BYTES`] (a link tag over [`MAX_LINK_TAG_BYTES`]).
    #[error("MLS handshake message exceeds the limit")]
    HandshakeTooLarge,
    /// A handshake field that is empty or not base64 text.
    #[error("MLS handshake message is not base64")]
    HandshakeEncoding,
    /// A Welcome without its link tag, or a link tag without a Welcome.
    #[error("a Welcome goes with its link tag, and a link tag with a Welcome")]
    WelcomeWithoutTag,
}

impl ProtocolError {
    /// The error code a connection is closed with for this error.
    pub fn code(self) -> ErrorCode {
        match self {
            ProtocolError::MessageTooLarge(_)
            | ProtocolError::SdpTooLarge
            | ProtocolError::BlobTooLarge
            | ProtocolError::HandshakeTooLarge => ErrorCode::TooLarge,
            _ => ErrorCode::BadMessage,
        }
    }
}

/// Non-empty base64 text, standard or URL-safe alphabet.
fn is_base64(text: &str) -> bool {
    let base64 = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'-' | b'_' | b'=');
    !text.is_empty() && text.bytes().all(base64)
}

/// An opaque MLS handshake field: base64, at most `limit` characters.
fn handshake_field(text: &str, limit: usize) -> Result<(), ProtocolError> {
    if text.len() > limit {
        return Err(ProtocolError::HandshakeTooLarge);
    }
    if !is_base64(text) {
        return Err(ProtocolError::HandshakeEncoding);
    }
    Ok(())
}

impl ClientMessage {
    /// Parses and validates one message from a browser: untrusted input, so every field is
    /// checked against its limit and grammar here, once.
    pub fn decode(text: &str) -> Result<Self, ProtocolError> {
        if text.len() > MAX_MESSAGE_BYTES {
            return Err(ProtocolError::MessageTooLarge(text.len()));
        }
        let message: ClientMessage =
            serde_json::from_str(text).map_err(|_| ProtocolError::Malformed)?;
        message.validate()?;
        Ok(message)
    }

    fn validate(&self) -> Result<(), ProtocolError> {
        match self {
            ClientMessage::Join { room, access, .. } => {
                RoomId::new(room.as_str())?;
                RoomAccess::new(access.as_str()).map(drop)
            }
            ClientMessage::Answer { sdp } if sdp.len() > MAX_SDP_BYTES => {
                Err(ProtocolError::SdpTooLarge)
            }
            ClientMessage::Blob { to, data } => {
                if let Some(to) = to {
                    ParticipantId::new(to.as_str())?;
                }
                if data.len() > MAX_BLOB_BYTES {
                    return Err(ProtocolError::BlobTooLarge);
                }
                if !is_base64(data) {
                    return Err(ProtocolError::BlobEncoding);
                }
                Ok(())
            }
            ClientMessage::KeyPackage { data } => handshake_field(data, MAX_HANDSHAKE_BYTES),
            ClientMessage::Commit {
                commit,
                welcome,
                link_tag,
            } => {
                handshake_field(commit, MAX_HANDSHAKE_BYTES)?;
                match (welcome, link_tag) {
                    (Some(welcome), Some(tag)) => {
                        handshake_field(welcome, MAX_HANDSHAKE_BYTES)?;
                        handshake_field(tag, MAX_LINK_TAG_BYTES)
                    }
                    (None, None) => Ok(()),
                    _ => Err(ProtocolError::WelcomeWithoutTag),
                }
            }
            _ => Ok(()),
        }
    }

    /// The message as JSON text.
    pub fn encode(&self) -> String {
        serde_json::to_string(self).expect("protocol messages always serialize")
    }
}

impl ServerMessage {
    /// The message as JSON text.
    pub fn encode(&self) -> String {
        serde_json::to_string(self).expect("protocol messages always serialize")
    }

    /// Parses a message from the relay (for clients and tests).
    pub fn decode(text: &str) -> Result<Self, ProtocolError> {
        if text.len() > MAX_MESSAGE_BYTES {
            return Err(ProtocolError::MessageTooLarge(text.len()));
        }
        serde_json::from_str(text).map_err(|_| ProtocolError::Malformed)
    }
}

#[cfg(test)]
mod tests;
