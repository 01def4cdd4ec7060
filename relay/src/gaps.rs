//! Holding back a video line's frames after a gap, until its next keyframe.
//!
//! Why: the room forwards in frame mode, and str0m packetizes every forwarded frame afresh, with
//! sequence numbers of its own and no VP8 picture ids. A receiver therefore cannot see that a
//! frame went missing upstream (lost, and not recovered by retransmission): the delta frames
//! after the gap reach it as an unbroken stream, refer to a picture it never had, and decode to
//! blocks of wrong colours smeared over the video until the next keyframe. (The 25-person test
//! in `tests/meeting.rs` showed such tiles on a busy machine.) A browser that sees a gap itself
//! waits for a keyframe instead; this makes the relay do that for it: after a gap, the line's
//! delta frames are dropped until a keyframe comes (which the room asks the sender for at once),
//! so receivers see the picture pause rather than break.
//!
//! Audio frames stand alone and are never held back. What this does not do: ask for the
//! keyframe (the room does) or decide what a gap is (str0m's `contiguous` flag does).

use std::collections::HashSet;

use str0m::media::Mid;
use veilig_protocol::ParticipantId;

/// What the room knows about a frame it is about to forward.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Frame {
    /// Video (frames depend on earlier ones), not audio.
    pub video: bool,
    /// Nothing is missing between this frame and the line's previous one.
    pub contiguous: bool,
    /// Decodable on its own.
    pub keyframe: bool,
}

/// The upstream lines waiting for a keyframe after a gap.
#[derive(Debug, Default)]
pub struct Gaps {
    waiting: HashSet<(ParticipantId, Mid)>,
}

impl Gaps {
    /// Whether a frame of `origin`'s upstream line `mid` may be forwarded.
    pub fn admit(&mut self, origin: &ParticipantId, mid: Mid, frame: Frame) -> bool {
        if !frame.video {
            return true;
        }
        let line = (origin.clone(), mid);
        if frame.keyframe {
            self.waiting.remove(&line);
            return true;
        }
        if !frame.contiguous {
            self.waiting.insert(line);
            return false;
        }
        !self.waiting.contains(&line)
    }

    /// Forgets a participant who left.
    pub fn forget(&mut self, origin: &ParticipantId) {
        self.waiting.retain(|(who, _)| who != origin);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DELTA: Frame = Frame {
        video: true,
        contiguous: true,
        keyframe: false,
    };
    const AFTER_GAP: Frame = Frame {
        contiguous: false,
        ..DELTA
    };
    const KEY: Frame = Frame {
        keyframe: true,
        ..DELTA
    };

    fn id(s: &str) -> ParticipantId {
        ParticipantId::new(s).unwrap()
    }

    #[test]
    fn after_a_gap_deltas_wait_for_the_next_keyframe() {
        let mut gaps = Gaps::default();
        let (anna, camera) = (id("anna"), Mid::from("1"));
        let forwarded: Vec<bool> = [DELTA, AFTER_GAP, DELTA, DELTA, KEY, DELTA]
            .into_iter()
            .map(|frame| gaps.admit(&anna, camera, frame))
            .collect();
        assert_eq!(forwarded, [true, false, false, false, true, true]);
    }

    #[test]
    fn a_keyframe_after_a_gap_goes_through_at_once() {
        let mut gaps = Gaps::default();
        let anna = id("anna");
        let key_after_gap = Frame {
            contiguous: false,
            ..KEY
        };
        assert!(gaps.admit(&anna, Mid::from("1"), key_after_gap));
        assert!(gaps.admit(&anna, Mid::from("1"), DELTA));
    }

    #[test]
    fn only_the_broken_line_waits_and_audio_never_does() {
        let mut gaps = Gaps::default();
        let (anna, bram) = (id("anna"), id("bram"));
        assert!(!gaps.admit(&anna, Mid::from("1"), AFTER_GAP));
        assert!(gaps.admit(&anna, Mid::from("2"), DELTA), "another line");
        assert!(gaps.admit(&bram, Mid::from("1"), DELTA), "another sender");
        let audio_after_gap = Frame {
            video: false,
            ..AFTER_GAP
        };
        assert!(gaps.admit(&anna, Mid::from("0"), audio_after_gap));
        assert!(!gaps.admit(&anna, Mid::from("1"), DELTA), "still waiting");
    }

    #[test]
    fn a_participant_who_left_is_forgotten() {
        let mut gaps = Gaps::default();
        let anna = id("anna");
        gaps.admit(&anna, Mid::from("1"), AFTER_GAP);
        gaps.forget(&anna);
        assert!(gaps.waiting.is_empty());
    }
}
