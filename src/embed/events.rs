//! Turns what the call reports (participant lists, our device state, decryption health) into
//! the host's [`Event`]s: each change once, no repeats.
//!
//! The call reports whole states (every participant, every second's decryption health); the
//! host wants changes ("Bram joined", "Bram's media stopped decrypting"). This does the
//! difference, purely: no browser, no call, so it is tested natively. It does not decide who
//! may hear the events; `embed::bridge` posts them to the embed origin only.

use std::collections::HashSet;

use veilig_protocol::ParticipantId;

use super::messages::Event;

/// What the host has been told so far, for one call.
#[derive(Debug, Default)]
pub struct Reporter {
    joined: bool,
    left: bool,
    participants: Vec<ParticipantId>,
    local: Option<(bool, bool)>,
    failing: HashSet<ParticipantId>,
}

impl Reporter {
    /// We are in the room (again, after a reconnect): `joined` the first time only.
    pub fn joined(&mut self) -> Option<Event> {
        (!std::mem::replace(&mut self.joined, true)).then_some(Event::Joined)
    }

    /// We left: `left` once, and only if we had joined.
    pub fn left(&mut self) -> Option<Event> {
        (self.joined && !std::mem::replace(&mut self.left, true)).then_some(Event::Left)
    }

    /// The participants now: who joined and who left since the last list.
    pub fn participants(&mut self, now: &[ParticipantId]) -> Vec<Event> {
        let gone = self
            .participants
            .iter()
            .filter(|p| !now.contains(p))
            .map(|p| Event::ParticipantLeft {
                participant: p.clone(),
            });
        let new = now
            .iter()
            .filter(|p| !self.participants.contains(p))
            .map(|p| Event::ParticipantJoined {
                participant: p.clone(),
            });
        let events: Vec<Event> = gone.chain(new).collect();
        self.failing.retain(|p| now.contains(p));
        self.participants = now.to_vec();
        events
    }

    /// Our microphone and camera now (`true`: on): `muteChanged` if either changed.
    pub fn local(&mut self, microphone: bool, camera: bool) -> Option<Event> {
        (self.local.replace((microphone, camera)) != Some((microphone, camera)))
            .then_some(Event::MuteChanged { microphone, camera })
    }

    /// Whether `who`'s media fails to decrypt now: `decryptionFailure` when it starts failing,
    /// again only after it has decrypted in between.
    pub fn decryption(&mut self, who: &ParticipantId, failing: bool) -> Option<Event> {
        if !failing {
            self.failing.remove(who);
            return None;
        }
        self.failing
            .insert(who.clone())
            .then(|| Event::DecryptionFailure {
                participant: who.clone(),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(text: &str) -> ParticipantId {
        serde_json::from_value(serde_json::json!(text)).unwrap()
    }

    #[test]
    fn joined_and_left_once_each() {
        let mut reporter = Reporter::default();
        assert_eq!(reporter.left(), None, "never joined");
        assert_eq!(reporter.joined(), Some(Event::Joined));
        assert_eq!(reporter.joined(), None, "a reconnect is not a new join");
        assert_eq!(reporter.left(), Some(Event::Left));
        assert_eq!(reporter.left(), None);
    }

    #[test]
    fn participant_lists_become_joins_and_leaves() {
        let mut reporter = Reporter::default();
        let (a, b, c) = (id("a"), id("b"), id("c"));
        assert_eq!(
            reporter.participants(&[a.clone(), b.clone()]),
            [
                Event::ParticipantJoined {
                    participant: a.clone()
                },
                Event::ParticipantJoined {
                    participant: b.clone()
                }
            ]
        );
        assert_eq!(reporter.participants(&[a.clone(), b.clone()]), []);
        assert_eq!(
            reporter.participants(&[b.clone(), c.clone()]),
            [
                Event::ParticipantLeft { participant: a },
                Event::ParticipantJoined { participant: c }
            ]
        );
    }

    #[test]
    fn mute_changes_only_when_something_changed() {
        let mut reporter = Reporter::default();
        let changed = |microphone, camera| Some(Event::MuteChanged { microphone, camera });
        assert_eq!(reporter.local(true, true), changed(true, true));
        assert_eq!(reporter.local(true, true), None);
        assert_eq!(reporter.local(false, true), changed(false, true));
        assert_eq!(reporter.local(false, false), changed(false, false));
    }

    #[test]
    fn a_decryption_failure_is_reported_when_it_starts() {
        let mut reporter = Reporter::default();
        let eve = id("eve");
        reporter.participants(std::slice::from_ref(&eve));
        let failure = Some(Event::DecryptionFailure {
            participant: eve.clone(),
        });
        assert_eq!(reporter.decryption(&eve, true), failure);
        assert_eq!(reporter.decryption(&eve, true), None, "still failing");
        assert_eq!(reporter.decryption(&eve, false), None);
        assert_eq!(reporter.decryption(&eve, true), failure, "failing again");
        // Gone and back (a reconnect with the same id is not possible, but a list may repeat).
        reporter.participants(&[]);
        reporter.participants(std::slice::from_ref(&eve));
        assert_eq!(reporter.decryption(&eve, true), failure);
    }
}
