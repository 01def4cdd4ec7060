//! Test-only: how a room tells the lies of [`crate::hostile`], through its real signaling and
//! str0m sessions. Compiled only with the `hostile` feature.
//!
//! The lies in force live in [`Lies`], one per room; `mod.rs` asks it at the few places a lie
//! changes what the room does (a note's sender, a newcomer's labels, a frame's payload).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use str0m::media::{Direction, MediaData, Mid};
use veilig_protocol::{ErrorCode, MediaLine, ParticipantId, ServerMessage, Source};

use super::{ForwardState, Peer, Room};
use crate::hostile::{Attack, NotNow, RECORDED_FRAMES};

/// The lies a room is telling now.
#[derive(Default)]
pub(super) struct Lies {
    /// Two participants whose notes are delivered as each other's.
    swapped_notes: Option<(ParticipantId, ParticipantId)>,
    /// Two participants whose lines newcomers are told are each other's.
    swapped_lines: Option<(ParticipantId, ParticipantId)>,
    /// A participant's recorded notes and frames.
    recording: Option<Recording>,
    /// Playing the recording to newcomers: whose, and whether notes too.
    replay: Option<(ParticipantId, bool)>,
    /// Who is not sent commits.
    commits_withheld_from: HashSet<ParticipantId>,
    /// The newcomers played the recording, each with its place in every line's loop.
    victims: HashMap<ParticipantId, HashMap<Mid, usize>>,
}

/// What the relay kept of one participant.
struct Recording {
    origin: ParticipantId,
    /// Their notes, in order, with whom each was addressed to.
    notes: Vec<(Option<ParticipantId>, String)>,
    /// Their frames per upstream line (video from a keyframe on).
    frames: HashMap<Mid, Vec<Arc<[u8]>>>,
    /// Lines full, or (video) waiting for a keyframe to start.
    started: HashSet<Mid>,
}

impl Lies {
    /// Who `from`'s note is delivered as.
    pub(super) fn note_sender(&self, from: &ParticipantId) -> ParticipantId {
        match &self.swapped_notes {
            Some((a, b)) if a == from => b.clone(),
            Some((a, b)) if b == from => a.clone(),
            _ => from.clone(),
        }
    }

    /// Keeps `from`'s note (addressed `to`) if `from` is being recorded.
    pub(super) fn note(&mut self, from: &ParticipantId, to: Option<&ParticipantId>, data: &str) {
        if let Some(recording) = self.recording.as_mut().filter(|r| &r.origin == from) {
            if recording.notes.len() < RECORDED_FRAMES {
                recording.notes.push((to.cloned(), data.to_owned()));
            }
        }
    }

    /// Whether `from`'s live note to `to` is withheld (`to` is played the recorded ones).
    pub(super) fn withholds(&self, from: &ParticipantId, to: &ParticipantId) -> bool {
        matches!(&self.replay, Some((origin, true)) if origin == from)
            && self.victims.contains_key(to)
    }

    /// Whether commits are withheld from `to`.
    pub(super) fn withholds_commits(&self, to: &ParticipantId) -> bool {
        self.commits_withheld_from.contains(to)
    }

    /// Keeps `origin`'s frame if it is being recorded (video lines from a keyframe on).
    pub(super) fn frame(&mut self, origin: &ParticipantId, data: &MediaData) {
        let Some(recording) = self.recording.as_mut().filter(|r| &r.origin == origin) else {
            return;
        };
        let video = !data.params.spec().codec.is_audio();
        if !recording.started.contains(&data.mid) {
            if video && !data.is_keyframe() {
                return;
            }
            recording.started.insert(data.mid);
        }
        let frames = recording.frames.entry(data.mid).or_default();
        if frames.len() < RECORDED_FRAMES {
            frames.push(data.data.clone());
        }
    }

    /// What `to` is sent in place of `origin`'s live frame on `origin`'s line `mid`: the next
    /// recorded one, if `to` is a victim of the replay.
    pub(super) fn replace(
        &mut self,
        to: &ParticipantId,
        origin: &ParticipantId,
        mid: Mid,
    ) -> Option<Arc<[u8]>> {
        let (whose, _) = self.replay.as_ref()?;
        if whose != origin {
            return None;
        }
        let frames = self.recording.as_ref()?.frames.get(&mid)?;
        let place = self.victims.get_mut(to)?.entry(mid).or_default();
        let frame = frames.get(*place % frames.len())?.clone();
        *place += 1;
        Some(frame)
    }

    /// A newcomer joins while a replay is on: it becomes a victim, and with notes replayed it
    /// is sent every recorded note now, as from their sender.
    fn newcomer(&mut self, peer: &mut Peer) {
        let Some((origin, notes)) = &self.replay else {
            return;
        };
        self.victims.insert(peer.id.clone(), HashMap::new());
        if !notes {
            return;
        }
        for (_, data) in self.recording.iter().flat_map(|r| &r.notes) {
            peer.send(ServerMessage::Blob {
                from: origin.clone(),
                data: data.clone(),
            });
        }
    }
}

impl Room {
    /// Test-only: puts `attack` in force, telling its lie to every peer it is aimed at now (a
    /// relabelling) or from now on (the rest). Returns how many peers it touched.
    pub(super) fn attack(&mut self, attack: &Attack) -> Result<usize, NotNow> {
        tracing::warn!(room = %self.tag, ?attack, "attacked");
        match attack {
            Attack::ForwardAsSlot { origin, source } => self.relabel(origin, *source, true),
            Attack::SlotAsForward { origin, source } => self.relabel(origin, *source, false),
            Attack::SwapNotes { a, b } => {
                self.lies.swapped_notes = Some((a.clone(), b.clone()));
                Ok(self.peers.len())
            }
            Attack::SwapLines { a, b } => {
                self.lies.swapped_lines = Some((a.clone(), b.clone()));
                Ok(self.peers.len())
            }
            Attack::Record { origin } => {
                self.lies.recording = Some(Recording {
                    origin: origin.clone(),
                    notes: Vec::new(),
                    frames: HashMap::new(),
                    started: HashSet::new(),
                });
                Ok(1)
            }
            Attack::Replay { origin, notes } => {
                let recorded =
                    self.lies.recording.as_ref().filter(|r| {
                        &r.origin == origin && r.frames.values().any(|f| !f.is_empty())
                    });
                if recorded.is_none() {
                    return Err(NotNow::NothingRecorded);
                }
                self.lies.replay = Some((origin.clone(), *notes));
                self.lies.victims.clear();
                let mut dropped = 0;
                for peer in self.peers.iter().filter(|p| &p.id != origin) {
                    peer.close(ErrorCode::ConnectionLost, "media connection lost");
                    dropped += 1;
                }
                Ok(dropped)
            }
            Attack::WithholdCommits { victim } => {
                self.lies.commits_withheld_from.insert(victim.clone());
                Ok(1)
            }
            Attack::Truce => {
                // The recording is kept (it is no lie), for the next replay.
                self.lies = Lies {
                    recording: self.lies.recording.take(),
                    ..Lies::default()
                };
                Ok(self.peers.len())
            }
        }
    }

    /// Relabels, for every peer but `origin`, `origin`'s forwarded line of `source` as the
    /// peer's own slot (`forward_as_slot`), or the peer's own slot as `origin`'s line, in a new
    /// offer.
    fn relabel(
        &mut self,
        origin: &ParticipantId,
        source: Source,
        forward_as_slot: bool,
    ) -> Result<usize, NotNow> {
        let mut victims = 0;
        for peer in self.peers.iter_mut().filter(|p| &p.id != origin) {
            let (mid, direction, line) = if forward_as_slot {
                let Some(mid) = peer.forwards.iter().find_map(|f| match f.state {
                    ForwardState::Open(mid) if &f.origin == origin && f.source == source => {
                        Some(mid)
                    }
                    _ => None,
                }) else {
                    continue;
                };
                let line = MediaLine {
                    mid: mid.to_string(),
                    source,
                    from: None,
                };
                (mid, Direction::RecvOnly, line)
            } else {
                let Some(slot) = peer.upstream.iter().find(|s| s.source == source) else {
                    continue;
                };
                let line = MediaLine {
                    mid: slot.mid.to_string(),
                    source,
                    from: Some(origin.clone()),
                };
                (slot.mid, Direction::SendOnly, line)
            };
            if peer.pending.is_some() {
                return Err(NotNow::NotReady);
            }
            peer.relabels.insert(mid.to_string(), line);
            let mut api = peer.rtc.sdp_api();
            api.set_direction(mid, direction);
            let Some((offer, pending)) = api.apply() else {
                continue;
            };
            peer.offer(offer, pending);
            tracing::warn!(room = %self.tag, victim = %peer.id, "lied to");
            victims += 1;
        }
        if victims == 0 {
            return Err(NotNow::NotReady);
        }
        Ok(victims)
    }

    /// A newcomer, before its first offer: with [`Attack::SwapLines`] in force, its lines of `a`
    /// are labelled as `b`'s and back, in this and every later offer (the roles stay as they
    /// are: only the owners lie); with a replay on, it is played the recording.
    pub(super) fn lie_to_newcomer(&mut self, peer: &mut Peer) {
        self.lies.newcomer(peer);
        let Some((a, b)) = &self.lies.swapped_lines else {
            return;
        };
        for forward in &peer.forwards {
            let ForwardState::Negotiating(mid) = forward.state else {
                continue;
            };
            let liar = if forward.origin == *a {
                b
            } else if forward.origin == *b {
                a
            } else {
                continue;
            };
            peer.relabels.insert(
                mid.to_string(),
                MediaLine {
                    mid: mid.to_string(),
                    source: forward.source,
                    from: Some(liar.clone()),
                },
            );
        }
    }
}
