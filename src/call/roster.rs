//! Who is in the meeting, what they said about themselves, and what we say: the notes of one
//! call (names, mute states, chat, and the KIDs each track is sent under), as messages for the
//! relay and facts for the UI.
//!
//! The session feeds it what the relay says (welcome, joined, left, blobs) and what the user
//! does (a name, mute, chat); it answers with the [`ClientMessage`]s to send and what was
//! [`Heard`]. It carries out the greeting and answers of [`super::metadata`]: our greeting goes
//! to everyone on each welcome, and every participant who greets us (or answers us first) gets
//! one answer per session, with our KIDs and floors as they are at that moment.
//!
//! Chat goes out once everyone in the room has had our answer (a note sent before it would be
//! refused by whoever has not believed us yet), or after [`CHAT_HOLD_MS`] if someone never
//! greets us; chat typed while nobody could receive it is kept across reconnects.
//!
//! Pure: no browser, no socket, no clock (the caller passes `now`, and calls [`Roster::tick`]
//! now and then). What it does not do: send anything itself, or touch the worker;
//! [`Roster::to_tell`] says what the worker must hear.

use veilig_e2ee::BaseKey;
use veilig_protocol::{ClientMessage, ParticipantId, Source};

use super::announcements::Announcements;
use super::metadata::{MediaKids, Note, NoteError, Notes};

/// Longest chat waits for a participant who has not greeted us (a relay withholding one
/// greeting must not hold everyone's chat back), in milliseconds.
pub const CHAT_HOLD_MS: u64 = 3_000;

/// What we say about ourselves in every presence note.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Me {
    /// Display name (may be empty).
    pub name: String,
    /// Microphone on.
    pub mic: bool,
    /// Camera on.
    pub camera: bool,
    /// Sharing the screen.
    pub screen: bool,
}

/// What a blob told us.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Heard {
    /// A participant's believed presence: show it, and tell the worker their KIDs
    /// ([`Roster::to_tell`]).
    Presence {
        /// Who.
        who: ParticipantId,
        /// What they say about themselves.
        me: Me,
    },
    /// A chat message from a believed participant.
    Chat {
        /// Who.
        from: ParticipantId,
        /// The text.
        text: String,
    },
    /// Nothing to show: a greeting (answered), a note under another key, or one refused for
    /// the reason given.
    Nothing(Option<NoteError>),
}

/// The notes of a call. One per call; [`Roster::connect`] starts each connection afresh.
#[derive(Default)]
pub struct Roster {
    /// This connection's notes; `None` before the first connect.
    notes: Option<Notes>,
    announcements: Announcements,
    /// Everyone else in the room, as the relay says.
    participants: Vec<ParticipantId>,
    /// Chat not sent yet, with when it was typed.
    outbox: Vec<(u64, Note)>,
    /// Chat waited [`CHAT_HOLD_MS`] for someone who never greeted: later chat goes at once,
    /// until someone new arrives.
    waited_out: bool,
    joined: bool,
}

impl Roster {
    /// A new connection: notes for `room` under the metadata key with a fresh `kid` and
    /// `session`, our tracks under `kids`. Everything heard before is forgotten (the relay gives
    /// everyone new ids); chat not yet sent is kept.
    pub fn connect(&mut self, room: &str, key: &BaseKey, kid: u64, session: u64, kids: MediaKids) {
        self.notes = Some(Notes::new(room, key, kid, session));
        self.announcements = Announcements::new(kids);
        self.participants.clear();
        self.joined = false;
        self.waited_out = false;
    }

    /// The connection is gone; notes wait for the next one.
    pub fn disconnect(&mut self) {
        self.joined = false;
    }

    /// Everyone else in the room.
    pub fn participants(&self) -> &[ParticipantId] {
        &self.participants
    }

    /// The relay welcomed us as `you`, with `participants` already there: our greeting to
    /// everyone, then any chat that waited.
    pub fn welcome(
        &mut self,
        you: ParticipantId,
        participants: Vec<ParticipantId>,
        me: &Me,
        now: u64,
    ) -> Vec<ClientMessage> {
        if let Some(notes) = self.notes.as_mut() {
            notes.set_you(you);
        }
        self.joined = true;
        self.participants = participants;
        let mut out: Vec<ClientMessage> = self.presence(me, now).into_iter().collect();
        out.extend(self.flush(now));
        out
    }

    /// `who` joined, at `now`: they greet us, and we answer then. Chat that waited for
    /// somebody goes now.
    pub fn arrived(&mut self, who: ParticipantId, now: u64) -> Vec<ClientMessage> {
        self.participants.push(who);
        self.waited_out = false;
        self.flush(now)
    }

    /// `who` left: forgotten for good (their notes' KID is retired).
    pub fn left(&mut self, who: &ParticipantId) {
        self.participants.retain(|p| p != who);
        if let Some(notes) = self.notes.as_mut() {
            notes.forget(who);
        }
        self.announcements.forget(who);
    }

    /// Our presence as it is now, to everyone (after a change); `None` before we are in.
    pub fn presence(&mut self, me: &Me, now: u64) -> Option<ClientMessage> {
        let note = self.presence_note(me);
        let data = self.notes.as_mut()?.seal(&note, now)?;
        self.joined
            .then_some(ClientMessage::Blob { to: None, data })
    }

    /// Queues a chat message and sends what can be sent, at `now`.
    pub fn chat(&mut self, text: String, now: u64) -> Vec<ClientMessage> {
        self.outbox.push((now, Note::Chat { text }));
        self.flush(now)
    }

    /// Opens a blob the relay says is from `from`, at `now`. Returns what it told us, and our
    /// answers: to `from`, if it greeted us from a session we have not answered.
    pub fn blob(
        &mut self,
        from: &ParticipantId,
        data: &str,
        me: &Me,
        now: u64,
    ) -> (Heard, Vec<ClientMessage>) {
        let Some(notes) = self.notes.as_mut() else {
            return (Heard::Nothing(None), Vec::new());
        };
        let heard = match notes.open(from, data, now) {
            Ok(Note::Presence {
                name,
                mic,
                camera,
                screen,
                kids,
                floors,
            }) => {
                self.announcements.heard(from.clone(), kids, floors);
                Heard::Presence {
                    who: from.clone(),
                    me: Me {
                        name,
                        mic,
                        camera,
                        screen,
                    },
                }
            }
            Ok(Note::Chat { text }) => Heard::Chat {
                from: from.clone(),
                text,
            },
            Err(NoteError::Unreadable | NoteError::Unanswered) => Heard::Nothing(None),
            Err(refused) => Heard::Nothing(Some(refused)),
        };
        let mut out = self.answers(me, now);
        out.extend(self.flush(now));
        (heard, out)
    }

    /// Time passed: chat held for someone who never greeted us goes now, if it waited
    /// [`CHAT_HOLD_MS`].
    pub fn tick(&mut self, now: u64) -> Vec<ClientMessage> {
        self.flush(now)
    }

    /// Our tracks' encrypted frame counts, at the worker's last report (for our floors).
    pub fn sent(&mut self, source: Source, encrypted: u64) {
        self.announcements.sent(source, encrypted);
    }

    /// What the worker must be told about remote `lines` (see [`Announcements::to_tell`]).
    pub fn to_tell(&mut self, lines: &[(u32, ParticipantId, Source)]) -> Vec<(u32, (u64, u64))> {
        self.announcements.to_tell(lines)
    }

    /// Our presence, sealed as the answer to each participant owed one.
    fn answers(&mut self, me: &Me, now: u64) -> Vec<ClientMessage> {
        let note = self.presence_note(me);
        let Some(notes) = self.notes.as_mut() else {
            return Vec::new();
        };
        notes
            .answers_due()
            .into_iter()
            .filter_map(|to| {
                let data = notes.answer(&to, &note, now)?;
                Some(ClientMessage::Blob { to: Some(to), data })
            })
            .collect()
    }

    /// Chat that waited, once in the room with somebody to receive it, and everyone answered
    /// (or the oldest waited long enough).
    fn flush(&mut self, now: u64) -> Vec<ClientMessage> {
        let Some(notes) = self.notes.as_mut() else {
            return Vec::new();
        };
        let Some((oldest, _)) = self.outbox.first() else {
            return Vec::new();
        };
        if !self.joined || self.participants.is_empty() {
            return Vec::new();
        }
        let everyone_answered = self.participants.iter().all(|p| notes.answered(p));
        if !everyone_answered && !self.waited_out {
            if now < oldest.saturating_add(CHAT_HOLD_MS) {
                return Vec::new();
            }
            self.waited_out = true;
        }
        self.outbox
            .drain(..)
            .filter_map(|(_, note)| notes.seal(&note, now))
            .map(|data| ClientMessage::Blob { to: None, data })
            .collect()
    }

    fn presence_note(&self, me: &Me) -> Note {
        let (kids, floors) = self.announcements.ours();
        Note::Presence {
            name: me.name.clone(),
            mic: me.mic,
            camera: me.camera,
            screen: me.screen,
            kids,
            floors,
        }
    }
}

#[cfg(test)]
mod tests;
