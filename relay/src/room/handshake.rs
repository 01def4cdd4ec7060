//! The room as the MLS delivery service (the "DS" of RFC 9750, the MLS architecture):
//! key packages go to everyone else; commits are numbered in the order the room receives them
//! and go to everyone, their sender included.
//!
//! ```text
//!  A ── key_package ──► room ──► key_package {from: A} ──► B, C        (not back to A)
//!  B ── commit ───────► room ──► commit {seq: n, from: B} ──► A, B, C   (n = 0, 1, 2, ...)
//! ```
//! What this does *not* do: read MLS. Every field is opaque bytes (base64, checked for grammar
//! and size by the protocol crate before it gets here); the room cannot tell a commit for an old
//! epoch from a new one, or a Welcome from noise, and holds no key. The order is all it adds:
//! with one number per commit, the same for every recipient, every member agrees which commit
//! came first for an epoch (docs/mls.md, *Who commits*), and a committer learns where its own
//! landed by receiving it back. The counter lives in the room's task and goes with the room:
//! nothing is stored after the room ends.

use veilig_protocol::{ParticipantId, ServerMessage};

use super::Room;

/// An MLS handshake message from a participant, opaque to the relay.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Handshake {
    /// A key package: asks to be added.
    KeyPackage {
        /// Base64, as received.
        data: String,
    },
    /// A commit, with the Welcome and link tag for its newcomers if it adds any.
    Commit {
        /// Base64, as received.
        commit: String,
        /// Base64, as received.
        welcome: Option<String>,
        /// Base64, as received.
        link_tag: Option<String>,
    },
}

/// The room's commit counter.
#[derive(Debug, Default)]
pub(super) struct Sequence(u64);

impl Sequence {
    /// The next number.
    fn next(&mut self) -> u64 {
        let n = self.0;
        self.0 += 1;
        n
    }
}

impl Room {
    /// Delivers `message` from `from`: a key package to everyone else, a commit, numbered, to
    /// everyone.
    pub(super) fn handshake(&mut self, from: ParticipantId, message: Handshake) {
        if !self.peers.iter().any(|peer| peer.id == from) {
            // Its connection is gone: nobody is waiting for what it sent last.
            return;
        }
        match message {
            Handshake::KeyPackage { data } => {
                let message = ServerMessage::KeyPackage {
                    from: from.clone(),
                    data,
                };
                for peer in self.peers.iter_mut().filter(|peer| peer.id != from) {
                    peer.send(message.clone());
                }
            }
            Handshake::Commit {
                commit,
                welcome,
                link_tag,
            } => {
                let message = ServerMessage::Commit {
                    seq: self.commits.next(),
                    from,
                    commit,
                    welcome,
                    link_tag,
                };
                for peer in &mut self.peers {
                    #[cfg(feature = "hostile")]
                    if self.lies.withholds_commits(&peer.id) {
                        continue;
                    }
                    peer.send(message.clone());
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Sequence;

    #[test]
    fn commits_are_numbered_from_zero_without_gaps() {
        let mut sequence = Sequence::default();
        assert_eq!(
            (0..4).map(|_| sequence.next()).collect::<Vec<_>>(),
            [0, 1, 2, 3]
        );
    }
}
