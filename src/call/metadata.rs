//! Everything personal that travels through the relay, end-to-end encrypted: display names,
//! mute states and chat, as "notes" sealed with the room's metadata key.
//!
//! A note is JSON in an envelope that names the sender's session (a random id, new on every
//! connection), the time it was sealed and, for an answer, the session it answers; padded with
//! spaces to one of a few fixed sizes ([`PADDED_SIZES`]), sealed with
//! `FrameEncryptor::seal_message` under this connection's own random KID, then base64 for the
//! relay's `blob` message. The associated data names the room and the sender's participant id
//! in this room, so a note cannot be replayed into another room, nor passed off by the relay as
//! someone else's: it opens only under the `from` it was sealed for. The relay forwards the text
//! and learns nothing but its padded size and timing.
//!
//! ## Believing a participant: greeting and answer
//! A presence note could be a recording: of this meeting, played to someone who just
//! reconnected, or of a participant who left, played under the id the relay gives a "new" one.
//! So a participant's presence is believed only once it **answers our session**, which is new on
//! every connection and so cannot be in any recording:
//!
//! ```text
//!  newcomer N                      relay                      member M
//!  presence (greeting) ─────────────────────────────────────► not believed: answer it
//!  believes M ◄──────────── presence answering N's session ── (M's KIDs and floors, now)
//!  answers M ───────────── presence answering M's session ──► believes N
//! ```
//!
//! Each side answers each session it hears once ([`Notes::answers_due`], [`Notes::answer`]).
//! Who may say what (checked in [`Notes::open`], each refusal a [`NoteError`]):
//! - a participant's first believed note is a presence note answering our session: it binds
//!   their session and KID; every later note must come from that session under that KID, and be
//!   sealed after it (by its counter);
//! - a presence note announces the KIDs of its sender's tracks ([`MediaKids`]) and the floors
//!   below which their frames are replays: their frames are accepted only under those, on the
//!   lines the relay says are theirs, so recorded frames are refused too;
//! - a note sealed more than [`MAX_NOTE_AGE_MS`] from our clock is refused as stale;
//! - a participant who left is forgotten for good: their notes' KID is retired.
//!
//! What this does not stop: anyone holding the link can seal notes, so a link holder who runs
//! the relay can still make up a participant of their own, or speak as another one. One key for
//! the whole link allows no better; per-member keys (MLS) are the answer. The relay can withhold
//! notes, which leaves a participant unnamed and their frames refused: shown, never hidden.

use std::collections::HashMap;

use base64ct::{Base64, Encoding};
use serde::{Deserialize, Serialize};
use veilig_e2ee::{BaseKey, CipherSuite, FrameDecryptor, FrameEncryptor, Kid, SourceId};
use veilig_protocol::{ParticipantId, Source};

/// Longest chat message, in characters: well inside the relay's blob limit once sealed.
pub const MAX_CHAT_CHARS: usize = 2000;
/// Longest display name, in characters.
pub const MAX_NAME_CHARS: usize = 64;
/// The sizes, in bytes of JSON, that notes are padded to, so that a note's size says nothing
/// about a name's length, a message's length or a mute state: every presence note and every
/// short message fills the first, and only messages of hundreds of characters reach the
/// others. A (pathological) note longer than the last is sent as it is.
pub const PADDED_SIZES: [usize; 3] = [512, 2048, 8192];
/// How far a note's time may be from our clock, either way, in milliseconds. Notes travel in
/// well under a second; the bound is for clocks that are a few minutes off (devices without
/// time sync). It limits a replay to this meeting's last minutes: a note recorded in an
/// earlier meeting on the same link, or earlier today, is refused.
pub const MAX_NOTE_AGE_MS: u64 = 5 * 60 * 1000;

/// One value per track of a participant: the KIDs of its three tracks in this session, as its
/// presence note announces them (a receiver opens a remote line's frames only under the KID its
/// owner announced for that source, so the relay cannot pass one participant's media off as
/// another's), or the counters below which their frames are replays.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MediaKids {
    /// The microphone's KID.
    pub microphone: u64,
    /// The camera's KID.
    pub camera: u64,
    /// The screen share's KID.
    pub screen: u64,
}

impl MediaKids {
    /// The KID of `source`.
    pub fn of(&self, source: Source) -> u64 {
        match source {
            Source::Microphone => self.microphone,
            Source::Camera => self.camera,
            Source::Screen => self.screen,
        }
    }
}

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
        /// The KIDs our tracks are encrypted under, this session.
        kids: MediaKids,
        /// Per track, the lowest counter to accept now: frames sealed before it (recorded by
        /// the relay, say) are replays to someone who just (re)joined.
        #[serde(default)]
        floors: MediaKids,
    },
    /// A chat message.
    Chat {
        /// The text.
        text: String,
    },
}

/// What is sealed: the note, and who said it when.
#[derive(Debug, Serialize, Deserialize)]
struct Envelope {
    /// The sender's session: random, new on every connection.
    session: String,
    /// When it was sealed, milliseconds since the Unix epoch, by the sender's clock.
    at: u64,
    /// For an answer: the session of the participant it is addressed to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    answers: Option<String>,
    note: Note,
}

/// Why a blob was not accepted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NoteError {
    /// Not base64.
    #[error("not base64")]
    Encoding,
    /// Failed authentication (another key, another room, or sealed for another sender), or
    /// replayed.
    #[error("does not open")]
    Unreadable,
    /// Authentic but not a note we understand.
    #[error("not a note")]
    Unknown,
    /// Sealed too long ago (or ahead), or before the presence note that announced its sender.
    #[error("stale")]
    Stale,
    /// From another session than the one this participant announced.
    #[error("from another session")]
    OtherSession,
    /// Not announced: a chat note before any presence note, or under another KID than the
    /// announced one.
    #[error("unannounced")]
    Unannounced,
    /// A presence note that does not answer our session yet: it may be a recording, so nothing
    /// in it is believed; it is answered ([`Notes::answers_due`]), and the answer to our answer
    /// is believed.
    #[error("not an answer to this session yet")]
    Unanswered,
}

/// What we know of one remote participant's notes.
#[derive(Debug)]
struct Sender {
    /// Their decryptor source.
    source: SourceId,
    /// Their session, KID and the counter of the presence note that announced them.
    announced: Option<(String, Kid, u64)>,
    /// The latest session they greeted us from, and the one we last answered.
    greeted: Option<String>,
    answered: Option<String>,
}

/// Seals our notes and opens everyone else's.
pub struct Notes {
    /// `"veilig/1 note " ‖ room ‖ 0`: the sender's id follows, per note.
    prefix: Vec<u8>,
    /// Our participant id in this connection; nothing is sealed before it is known.
    you: Option<ParticipantId>,
    session: String,
    sealer: FrameEncryptor,
    opener: FrameDecryptor,
    senders: HashMap<ParticipantId, Sender>,
    next_source: u64,
    scratch: Vec<u8>,
}

impl Notes {
    /// Notes for `room` under its metadata key; `kid` and `session` are fresh random values.
    pub fn new(room: &str, metadata_key: &BaseKey, kid: u64, session: u64) -> Notes {
        let suite = CipherSuite::default();
        let mut opener = FrameDecryptor::new(suite, metadata_key);
        let _ = opener.claim_local(Kid(kid));
        Notes {
            prefix: [b"veilig/1 note ".as_slice(), room.as_bytes(), &[0]].concat(),
            you: None,
            session: format!("{session:016x}"),
            sealer: FrameEncryptor::new(suite, metadata_key, Kid(kid)),
            opener,
            senders: HashMap::new(),
            next_source: 1,
            scratch: Vec::new(),
        }
    }

    /// Our participant id, from the relay's welcome: notes are sealed for it.
    pub fn set_you(&mut self, you: ParticipantId) {
        self.you = Some(you);
    }

    fn context(&self, sender: &ParticipantId) -> Vec<u8> {
        [self.prefix.as_slice(), sender.as_str().as_bytes()].concat()
    }

    /// The blob text for `note`, sealed at `now` (milliseconds since the Unix epoch); `None`
    /// before we know our participant id.
    pub fn seal(&mut self, note: &Note, now: u64) -> Option<String> {
        self.seal_envelope(note, None, now)
    }

    /// Who is owed an answer: participants whose presence we heard from a session we have not
    /// answered yet.
    pub fn answers_due(&self) -> Vec<ParticipantId> {
        let mut due: Vec<ParticipantId> = self
            .senders
            .iter()
            .filter(|(_, sender)| sender.greeted.is_some() && sender.greeted != sender.answered)
            .map(|(id, _)| id.clone())
            .collect();
        due.sort();
        due
    }

    /// Whether we answered `who`'s latest session: from then on they believe what we send
    /// (our answer reaches them before anything we send after it).
    pub fn answered(&self, who: &ParticipantId) -> bool {
        self.senders
            .get(who)
            .is_some_and(|sender| sender.answered.is_some() && sender.answered == sender.greeted)
    }

    /// Our presence `note`, sealed at `now` as the answer to `to`'s latest session, to be sent
    /// to `to` alone; `None` if `to` owes us nothing to answer (or before we know our id).
    pub fn answer(&mut self, to: &ParticipantId, note: &Note, now: u64) -> Option<String> {
        let session = self.senders.get(to)?.greeted.clone()?;
        let blob = self.seal_envelope(note, Some(session.clone()), now)?;
        if let Some(sender) = self.senders.get_mut(to) {
            sender.answered = Some(session);
        }
        Some(blob)
    }

    fn seal_envelope(&mut self, note: &Note, answers: Option<String>, now: u64) -> Option<String> {
        let context = self.context(self.you.as_ref()?);
        let envelope = Envelope {
            session: self.session.clone(),
            at: now,
            answers,
            note: note.clone(),
        };
        let mut json = serde_json::to_vec(&envelope).ok()?;
        pad(&mut json);
        self.sealer
            .seal_message(&context, &json, &mut self.scratch)
            .ok()?;
        Some(Base64::encode_string(&self.scratch))
    }

    /// Opens a blob the relay says is from `from`, at `now` (milliseconds since the Unix
    /// epoch), under the rules of the module docs.
    pub fn open(&mut self, from: &ParticipantId, data: &str, now: u64) -> Result<Note, NoteError> {
        let sealed = Base64::decode_vec(data).map_err(|_| NoteError::Encoding)?;
        let context = self.context(from);
        let next = &mut self.next_source;
        let sender = self.senders.entry(from.clone()).or_insert_with(|| {
            *next += 1;
            Sender {
                source: SourceId(*next),
                announced: None,
                greeted: None,
                answered: None,
            }
        });
        let header = self
            .opener
            .open_message(sender.source, &context, &sealed, &mut self.scratch)
            .map_err(|_| NoteError::Unreadable)?;
        let envelope: Envelope =
            serde_json::from_slice(&self.scratch).map_err(|_| NoteError::Unknown)?;
        if envelope.at.abs_diff(now) > MAX_NOTE_AGE_MS {
            return Err(NoteError::Stale);
        }
        let presence = matches!(envelope.note, Note::Presence { .. });
        match &sender.announced {
            None if presence && envelope.answers.as_ref() == Some(&self.session) => {
                sender.greeted = Some(envelope.session.clone());
                sender.announced = Some((envelope.session, header.kid, header.ctr.0));
            }
            None if presence => {
                sender.greeted = Some(envelope.session);
                return Err(NoteError::Unanswered);
            }
            None => return Err(NoteError::Unannounced),
            Some((session, _, _)) if *session != envelope.session => {
                return Err(NoteError::OtherSession)
            }
            Some((_, kid, _)) if *kid != header.kid => return Err(NoteError::Unannounced),
            Some((_, _, first)) if header.ctr.0 < *first => return Err(NoteError::Stale),
            Some(_) => {}
        }
        Ok(envelope.note)
    }

    /// Forgets a participant who left.
    pub fn forget(&mut self, who: &ParticipantId) {
        if let Some(sender) = self.senders.remove(who) {
            self.opener.forget_source(sender.source);
        }
    }
}

/// Pads JSON with spaces (which JSON ignores) to the first of [`PADDED_SIZES`] it fits.
fn pad(json: &mut Vec<u8>) {
    if let Some(size) = PADDED_SIZES.iter().find(|size| **size >= json.len()) {
        json.resize(*size, b' ');
    }
}

#[cfg(test)]
mod tests;
