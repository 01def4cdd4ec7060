//! Test-only: how a room tells the lies of [`crate::hostile`], through its real signaling and
//! str0m sessions. Compiled only with the `hostile` feature.

use str0m::media::Direction;
use veilig_protocol::{MediaLine, ParticipantId, Source};

use super::{ForwardState, Peer, Room};

impl Room {
    /// Test-only: tells `attack`'s lie in a new offer to every peer it is aimed at.
    pub(super) fn attack(
        &mut self,
        attack: &crate::hostile::Attack,
    ) -> Result<usize, crate::hostile::NotNow> {
        use crate::hostile::{Attack, NotNow};
        match attack {
            Attack::SwapNotes { a, b } => {
                self.swapped_notes = Some((a.clone(), b.clone()));
                tracing::warn!(room = %self.tag, ?attack, "attacked");
                return Ok(self.peers.len());
            }
            Attack::SwapLines { a, b } => {
                self.swapped_lines = Some((a.clone(), b.clone()));
                tracing::warn!(room = %self.tag, ?attack, "attacked");
                return Ok(self.peers.len());
            }
            _ => {}
        }
        let mut victims = 0;
        for peer in self
            .peers
            .iter_mut()
            .filter(|p| Some(&p.id) != attack.spares())
        {
            let forward_of = |origin: &ParticipantId, source: Source| {
                peer.forwards.iter().find_map(|f| match f.state {
                    ForwardState::Open(mid) if &f.origin == origin && f.source == source => {
                        Some(mid)
                    }
                    _ => None,
                })
            };
            let (mid, direction, line) = match attack {
                Attack::ForwardAsSlot { origin, source } => {
                    let Some(mid) = forward_of(origin, *source) else {
                        continue;
                    };
                    let line = MediaLine {
                        mid: mid.to_string(),
                        source: *source,
                        from: None,
                    };
                    (mid, Direction::RecvOnly, line)
                }
                Attack::SlotAsForward { origin, source } => {
                    let Some(slot) = peer.upstream.iter().find(|s| s.source == *source) else {
                        continue;
                    };
                    let line = MediaLine {
                        mid: slot.mid.to_string(),
                        source: *source,
                        from: Some(origin.clone()),
                    };
                    (slot.mid, Direction::SendOnly, line)
                }
                Attack::SwapNotes { .. } | Attack::SwapLines { .. } => {
                    unreachable!("handled above")
                }
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
            tracing::warn!(room = %self.tag, victim = %peer.id, ?attack, "attacked");
            victims += 1;
        }
        if victims == 0 {
            return Err(NotNow::NotReady);
        }
        Ok(victims)
    }

    /// With [`Attack::SwapLines`] in force, labels a newcomer's lines of `a` as `b`'s and back,
    /// in this and every later offer (the roles stay as they are: only the owners lie).
    pub(super) fn lie_about_lines(&self, peer: &mut Peer) {
        let Some((a, b)) = &self.swapped_lines else {
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
