//! Test-only: a relay that lies on command, to prove that browsers refuse its lies.
//!
//! Compiled only with the `hostile` feature (which tests turn on; normal builds never have it).
//! A test hands an [`Attack`] to [`crate::rooms::Rooms::attack`]; the room carries it out on
//! the next offer it sends to each victim, through the real signaling and real str0m sessions,
//! exactly as a relay operator who changed the code could. What the browsers then send on
//! any line, including lines that are not their upstream slots, is recorded by the payload tap
//! (`stray` lines), so the test can check that no frame that left a browser is plaintext.
//!
//! This module only describes attacks; `room.rs` applies them. It does nothing in a build
//! without the feature, and has no switch at run time: the binary that operators run cannot
//! be told to attack.

use veilig_protocol::{ParticipantId, Source};

/// One lie, told in the next offer to every participant that receives `origin`'s tracks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Attack {
    /// The line that forwards `origin`'s `source` is relabelled as the victim's own upstream
    /// slot for `source`, and the relay turns it around to receive on it: a browser that
    /// believes the label sends its own camera (or microphone) there, on a sender that may have
    /// no encrypt transform.
    ForwardAsSlot {
        /// Whose forwarded line is relabelled.
        origin: ParticipantId,
        /// Which of their tracks, and which of the victim's slots it claims to be.
        source: Source,
    },
    /// The victim's own upstream slot for `source` is relabelled as `origin`'s track, and the
    /// relay turns it around to send on it: a browser that believes the label plays whatever
    /// arrives there in `origin`'s tile, on a receiver that may have no decrypt transform.
    SlotAsForward {
        /// Whose track the slot claims to carry.
        origin: ParticipantId,
        /// Which slot.
        source: Source,
    },
    /// Every participant who joins from now on is told that `a`'s lines are `b`'s and `b`'s are
    /// `a`'s, consistently in every offer: a browser that believes the relay's `from` plays
    /// each one's picture and voice in the other's tile.
    SwapLines {
        /// One participant.
        a: ParticipantId,
        /// The other.
        b: ParticipantId,
    },
    /// From now on, every note (blob) from `a` is delivered as from `b`, and every note from
    /// `b` as from `a`: a browser that believes the relay's `from` shows each one's name, mute
    /// state and chat on the other's tile.
    SwapNotes {
        /// One participant.
        a: ParticipantId,
        /// The other.
        b: ParticipantId,
    },
    /// From now on, the relay keeps a recording of `origin`'s notes and of its frames (each
    /// video line's from its next keyframe on, up to [`RECORDED_FRAMES`] a line).
    Record {
        /// Whose.
        origin: ParticipantId,
    },
    /// Everyone but `origin` is made to reconnect (their connections closed with a retryable
    /// code), and everyone who joins from now on is played the recording of [`Attack::Record`]
    /// in place of `origin`'s live frames, one recorded frame for each live one, in a loop; and
    /// with `notes`, `origin`'s recorded notes in place of its live ones. A browser that
    /// believed the recording would show `origin`'s picture of before as live.
    Replay {
        /// Whose recording.
        origin: ParticipantId,
        /// Whether the notes are the recorded ones too (the live ones withheld).
        notes: bool,
    },
    /// From now on, MLS commits are not delivered to `victim` (everyone else gets them, in
    /// order): the victim stays in an old epoch while the others move on.
    WithholdCommits {
        /// Who misses them.
        victim: ParticipantId,
    },
    /// Every lie in force stops: notes, lines and frames are told as they are (a recording is
    /// kept for the next replay).
    Truce,
}

/// The most frames a recording keeps of one line.
pub const RECORDED_FRAMES: usize = 40;

impl Attack {
    /// Whom an attack is aimed at: everyone but this participant.
    pub fn spares(&self) -> Option<&ParticipantId> {
        match self {
            Attack::ForwardAsSlot { origin, .. } | Attack::SlotAsForward { origin, .. } => {
                Some(origin)
            }
            Attack::Replay { origin, .. } => Some(origin),
            Attack::SwapNotes { .. }
            | Attack::SwapLines { .. }
            | Attack::Record { .. }
            | Attack::WithholdCommits { .. }
            | Attack::Truce => None,
        }
    }
}

/// Why an attack could not be carried out now (the test tries again).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NotNow {
    /// No such room.
    #[error("no such room")]
    NoRoom,
    /// Nobody in the room receives the origin's line yet, or an offer is outstanding.
    #[error("no victim is ready: lines still negotiating")]
    NotReady,
    /// A replay before anything was recorded.
    #[error("nothing recorded yet")]
    NothingRecorded,
}
